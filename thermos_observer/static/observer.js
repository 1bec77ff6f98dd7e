// Thermos observer: the index refreshes its two tables; the file viewer tails a file and pages backwards.
// Plain JavaScript, no build step. Text from files is only ever put into the page with textContent.
"use strict";

(function () {
  function refreshTables() {
    document.querySelectorAll("section[data-refresh]").forEach(function (section) {
      fetch(section.dataset.refresh, {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) { section.innerHTML = html; })   // server-rendered, escaped fragment
        .catch(function () {});
    });
  }
  if (document.querySelector("section[data-refresh]")) {
    setInterval(refreshTables, 10000);
  }

  var viewer = document.getElementById("viewer");
  if (!viewer) return;

  var PAGE = 32768, MAX_CHARS = 2000000, POLL_MS = 1000, ENDED_CHECK_MS = 3000;
  var TERMINAL = ["SUCCESS", "FAILED", "KILLED", "LOST"];
  var text = document.getElementById("viewer-text");
  var top = document.getElementById("viewer-top");
  var status = document.getElementById("viewer-status");
  var base = "task_id=" + encodeURIComponent(viewer.dataset.taskId) + "&" +
             (viewer.dataset.kind === "log" ? "log=" : "path=") + encodeURIComponent(viewer.dataset.rel);
  var cursor = null;      // "<inode>:<offset>" of the next byte to follow
  var start = 0;          // byte offset in the file where the shown text begins
  var paging = false, rotated = false;
  var following = "FOLLOWING";  // what the status says between requests; "ENDED (...)" once we stopped
  var ended = null;             // the final state of the run (of the task, for a sandbox file) once seen
  var lastCheck = 0;

  function setStatus(s) { status.textContent = s; }

  // The run (a log) or the task (a sandbox file) has ended: nothing more will be written.
  function checkEnded() {
    lastCheck = Date.now();
    return getJSON(viewer.dataset.endedUrl).then(function (data) {
      var state = viewer.dataset.kind === "log" ? data.state : (data[viewer.dataset.taskId] || {}).state;
      if (TERMINAL.indexOf(state) >= 0) ended = state;
    }).catch(function () {});
  }
  function nearBottom() { return viewer.scrollHeight - viewer.scrollTop - viewer.clientHeight < 40; }

  function append(data) {
    if (!data) return;
    var stick = nearBottom();
    text.appendChild(document.createTextNode(data));
    if (text.textContent.length > MAX_CHARS) {
      text.textContent = text.textContent.slice(-MAX_CHARS);
      start = -1;   // we dropped the beginning: no more paging backwards from here
    }
    if (stick) viewer.scrollTop = viewer.scrollHeight;
  }

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin"}).then(function (r) {
      if (!r.ok) return r.json().then(function (e) { throw new Error(e.error || r.status); });
      return r.json();
    });
  }

  function follow() {
    var url = "/files/follow?" + base + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "&tail=" + PAGE);
    getJSON(url).then(function (chunk) {
      var first = cursor === null;
      cursor = chunk.cursor;
      var data = chunk.data;
      if (first) {
        var offset = parseInt(cursor.split(":")[1], 10);
        start = offset - chunk.length;
        if (start > 0) {                       // drop the partial first line
          var nl = data.indexOf("\n");
          if (nl >= 0) { start += new Blob([data.slice(0, nl + 1)]).size; data = data.slice(nl + 1); }
        }
        updateTop();
      }
      if (chunk.rotated) { rotated = true; top.textContent = "(the log rotated while open; older parts are in its numbered files)"; }
      if (chunk.gap) append("\n[... output dropped by log rotation ...]\n");
      append(data);
      if (chunk.more) { setStatus(following); setTimeout(follow, 0); return; }
      if (ended !== null && !chunk.length) {
        // It had ended before this read, and this read found nothing new: the end of the output.
        following = "ENDED (" + ended + ")";
        setStatus(following);
        return;                                  // no more polling
      }
      setStatus(following);
      if (ended !== null) { setTimeout(follow, 0); return; }   // read once more what it wrote last
      if (!chunk.length && Date.now() - lastCheck >= ENDED_CHECK_MS) {
        checkEnded().then(function () { setTimeout(follow, ended !== null ? 0 : POLL_MS); });
        return;
      }
      setTimeout(follow, POLL_MS);
    }).catch(function (e) {
      setStatus("FAILED: " + e.message + " ... RETRYING");
      setTimeout(follow, 5 * POLL_MS);
    });
  }

  function updateTop() {
    if (rotated) return;
    top.textContent = start > 0 ? "(scroll up for earlier output)" : start === 0 ? "(beginning of file)" : "";
  }

  function pageBack() {
    if (paging || start <= 0 || rotated) return;
    paging = true;
    setStatus("PAGING");
    var from = Math.max(0, start - PAGE);
    getJSON("/files/read?" + base + "&offset=" + from + "&length=" + (start - from)).then(function (chunk) {
      var height = viewer.scrollHeight;
      text.insertBefore(document.createTextNode(chunk.data), text.firstChild);
      start = from;
      viewer.scrollTop += viewer.scrollHeight - height;
      updateTop();
      setStatus(following);
      paging = false;
    }).catch(function (e) { setStatus("FAILED: " + e.message); paging = false; });
  }

  viewer.addEventListener("scroll", function () { if (viewer.scrollTop < 20) pageBack(); });
  follow();
})();
