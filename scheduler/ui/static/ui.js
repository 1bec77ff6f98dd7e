// Aurora scheduler UI: reload the page's content every few seconds (server-rendered and escaped: the new
// content is parsed as a document and its <main> moved in), keeping open event lists open. Plain JavaScript.
"use strict";

(function () {
  var content = document.getElementById("content");
  var toggle = document.getElementById("auto-refresh");
  if (!content || !toggle) return;
  var seconds = parseInt(content.dataset.refresh, 10) || 10;
  var busy = false;

  function reload() {
    if (!toggle.checked || busy || document.hidden) return;
    busy = true;
    fetch(location.href, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("content");
        if (!fresh) return;
        var open = {};
        content.querySelectorAll("details[open][id]").forEach(function (d) { open[d.id] = true; });
        fresh.querySelectorAll("details[id]").forEach(function (d) { if (open[d.id]) d.open = true; });
        content.replaceChildren.apply(content, Array.prototype.slice.call(fresh.childNodes).map(function (n) {
          return document.adoptNode(n);
        }));
      })
      .catch(function () {})
      .then(function () { busy = false; });
  }
  setInterval(reload, seconds * 1000);
})();
