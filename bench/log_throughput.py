"""Log throughput: 1 GiB of a process's stdout through the coordinator's pump into a rotating file (medians).

Every writer below runs as `/bin/bash -c 'printf %s $EPOCHREALTIME > stamp; <writer>'`: a pass starts when the
writer starts (the stamp) and ends at the mtime of the live log file (the pump's last write), or, with no
pump, at a second stamp after the pipeline. CPU is the pump's process only (our coordinator, supervisord),
never the writer's. MiB = 2**20 bytes, GiB = 2**30.

1. `dd if=/dev/zero bs=64K count=16384` (64 KiB writes) through `rotate` with log_size 10 MiB, backups 5.
   Floor: the machine's pipe-to-file speed, `dd ... | cat > file` on the same filesystem. Goal >= 50 % of it
   (stretch 80 %). Comparator: supervisord 4.x (pip-installed into a throwaway venv cached under
   /tmp/thermos-bench-cache) running the same program with stdout_logfile_maxbytes=10MB, backups=5: ours must
   be at least as fast.
2. CPU seconds per GiB of the coordinator, sampled with psutil every SAMPLE seconds until it exits (the fork
   server reaps it at once, so the last interval, at most SAMPLE seconds of CPU, is missed). Goal <= 1.5
   and <= supervisord's (its CPU after the program's exit and EOF, minus its CPU before `supervisorctl start`,
   so it includes serving that one request). Kernel work done elsewhere on the pump's behalf (writeback,
   discards in kworkers) is in neither.
3. 100-byte lines (`yes <99 x's> | head -c 1G`) through `rotate`. Goal >= 100 MiB/s. Floor: the same producer
   writing to /dev/null.
4. Zero loss: 1 GiB of AES-CTR keystream (deterministic, so it is hashed again here) through log_size 10 MiB
   with enough backups to keep everything: the files read oldest first hash like the input, none is larger
   than log_size. With backups=5: the kept files are exactly the input's last bytes.

The JSON keeps every pass, with the MiB that reached the block device during it (rotated-away files that
never reach the disk cost no I/O).
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import os
import shlex
import shutil
import subprocess
import tempfile
import time

import psutil

import benchlib
from benchlib import MB as MIB
from thermos_executor.logs.rotating import rotated_files
from thermos_executor.runner.paths import process_log_dir

TOTAL = 1 << 30
LOG_SIZE_MB = 10
LOG_SIZE = LOG_SIZE_MB * MIB
BACKUPS = 5
KEEP_ALL_BACKUPS = 110          # 1 GiB / 10 MiB = 102.4 files
SAMPLE = 0.01
GOAL_FLOOR_SHARE, STRETCH_FLOOR_SHARE, GOAL_CPU, GOAL_LINES = 0.5, 0.8, 1.5, 100.0

BLOCKS = "dd if=/dev/zero bs=64K count=16384 status=none"
LINES = "yes \"$(head -c 99 /dev/zero | tr '\\0' x)\" | head -c 1G"
KEYSTREAM = ("openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f"
             " -iv 00000000000000000000000000000000 -in /dev/zero 2>/dev/null | head -c 1073741824")

SUPERVISOR_CACHE = "/tmp/thermos-bench-cache"
SUPERVISOR_VENV = os.path.join(SUPERVISOR_CACHE, "supervisor-venv")
SUPERVISOR_CONF = """\
[supervisord]
nodaemon=true
logfile={d}/supervisord.log
pidfile={d}/supervisord.pid
childlogdir={d}
[unix_http_server]
file={d}/supervisor.sock
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://{d}/supervisor.sock
[program:w]
command=/bin/bash -c {command}
autostart=false
autorestart=false
startsecs=0
stdout_logfile={d}/logs/stdout
stdout_logfile_maxbytes={mb}MB
stdout_logfile_backups={backups}
stderr_logfile={d}/logs/stderr
"""


def stamped(writer: str, stamp: str, end_stamp: bool = False) -> str:
    script = f"printf %s $EPOCHREALTIME > {stamp}; {writer}"
    return script + (f"; printf ' %s' $EPOCHREALTIME >> {stamp}" if end_stamp else "")


def read_stamp(stamp: str) -> list[float]:
    with open(stamp) as f:
        return [float(x) for x in f.read().split()]


def rate(seconds: float) -> float:
    return TOTAL / MIB / seconds


def disk_writes(path: str) -> int | None:
    """MiB written so far to the block device holding `path` (None if it has none), to see what reaches disk."""
    device = os.stat(path).st_dev
    try:
        with open(f"/sys/dev/block/{os.major(device)}:{os.minor(device)}/stat") as f:
            return int(f.read().split()[6]) * 512 // MIB
    except (OSError, IndexError, ValueError):
        return None


def written_since(path: str, before: int | None) -> int | None:
    after = disk_writes(path)
    return None if before is None or after is None else after - before


# ---- thermos ------------------------------------------------------------------------------------------------

def sample_coordinator(task: benchlib.RunningTask) -> tuple[int, float]:
    """The coordinator's pid and user+system CPU seconds, sampled until it exits (or turns zombie)."""
    runner = psutil.Process(task.proc.pid)

    def children() -> list[psutil.Process]:
        found = [p for p in runner.children(recursive=True) if p.name() == "thermos_coord"]
        if not found and task.proc.poll() is not None:
            raise task.failure("no coordinator")
        return found

    coordinator, cpu = benchlib.wait_until(children, "no coordinator", 60, 0.002)[0], 0.0
    try:
        while True:
            cpu = benchlib.cpu_seconds(coordinator)
            if coordinator.status() == psutil.STATUS_ZOMBIE:
                break
            time.sleep(SAMPLE)
    except psutil.NoSuchProcess:
        pass
    return coordinator.pid, cpu


def thermos_pass(tmp: str, writer: str, backups: int = BACKUPS, inspect=None) -> dict:
    """One `thermos run` of `writer` into a rotating log: MiB/s, coordinator CPU, and `inspect(log)` if given."""
    directory = tempfile.mkdtemp(dir=tmp)
    stamp = os.path.join(directory, "stamp")
    logger = f"Logger(mode='rotate', rotate=RotatePolicy(log_size={LOG_SIZE_MB}*MB, backups={backups}))"
    config = benchlib.task_file(directory, 1, stamped(writer, stamp), logger=logger)
    disk = disk_writes(tmp)
    with benchlib.RunningTask(config) as task:
        coordinator, cpu = sample_coordinator(task)
        task.wait()
        runs = task.state().processes["p000"]
        assert runs[-1].coordinator_pid == coordinator, (runs[-1].coordinator_pid, coordinator)
        log = os.path.join(process_log_dir(os.path.join(task.tmp.name, "sandbox", ".logs"), "p000", 0), "stdout")
        files = rotated_files(log)
        sizes = [os.path.getsize(f) for f in files]
        seconds = os.stat(log).st_mtime - read_stamp(stamp)[0]
        result = {"mibps": rate(seconds), "seconds": seconds, "cpu_per_gib": cpu * (1 << 30) / TOTAL,
                  "files": len(files), "kept_bytes": sum(sizes), "max_file": max(sizes),
                  "running_to_exit_s": runs[-1].stop_time - runs[-1].start_time,
                  "disk_written_mib": written_since(tmp, disk)}
        if inspect is not None:
            result["inspect"] = inspect(files)
    return result


# ---- floors -------------------------------------------------------------------------------------------------

def shell_pass(tmp: str, writer: str) -> float:
    """MiB/s of `writer` alone (it ends when its output is all written)."""
    stamp = os.path.join(tmp, "stamp")
    subprocess.run(["/bin/bash", "-c", stamped(writer, stamp, end_stamp=True)], check=True)
    start, end = read_stamp(stamp)
    return rate(end - start)


def pipe_to_file_pass(tmp: str) -> float:
    target = os.path.join(tmp, "raw")
    try:
        return shell_pass(tmp, f"{BLOCKS} | cat > {target}")
    finally:
        os.unlink(target)


# ---- supervisord --------------------------------------------------------------------------------------------

def supervisor_bin(name: str) -> str:
    """supervisord 4.x in a venv of its own, built once and kept under SUPERVISOR_CACHE."""
    done = os.path.join(SUPERVISOR_VENV, ".installed")
    if not os.path.exists(done):
        shutil.rmtree(SUPERVISOR_VENV, ignore_errors=True)
        os.makedirs(SUPERVISOR_CACHE, exist_ok=True)
        subprocess.run([benchlib.PYTHON, "-m", "venv", SUPERVISOR_VENV], check=True)
        subprocess.run([os.path.join(SUPERVISOR_VENV, "bin", "pip"), "install", "-q", "supervisor>=4,<5"],
                       check=True)
        open(done, "w").close()
    return os.path.join(SUPERVISOR_VENV, "bin", name)


def pipe_count(proc: psutil.Process) -> int:
    count = 0
    for fd in glob.glob(f"/proc/{proc.pid}/fd/*"):
        try:
            count += os.readlink(fd).startswith("pipe:")
        except FileNotFoundError:      # closed since the listing
            pass
    return count


def supervisord_pass(tmp: str, writer: str) -> dict:
    """The same program under supervisord: MiB/s, and supervisord's CPU from `start` to the program's EOF."""
    directory = tempfile.mkdtemp(dir=tmp)
    os.makedirs(os.path.join(directory, "logs"))
    stamp = os.path.join(directory, "stamp")
    conf = os.path.join(directory, "supervisord.conf")
    command = shlex.quote(stamped(writer, stamp)).replace("%", "%%")
    with open(conf, "w") as f:
        f.write(SUPERVISOR_CONF.format(d=directory, command=command, mb=LOG_SIZE_MB, backups=BACKUPS))
    daemon = subprocess.Popen([supervisor_bin("supervisord"), "-n", "-c", conf],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        socket = os.path.join(directory, "supervisor.sock")
        benchlib.wait_until(lambda: os.path.exists(socket), "supervisord socket", 60)
        proc = psutil.Process(daemon.pid)
        pipes, disk = pipe_count(proc), disk_writes(tmp)
        before, wrote_before = benchlib.cpu_seconds(proc), proc.io_counters().write_chars
        subprocess.run([supervisor_bin("supervisorctl"), "-c", conf, "start", "w"], check=True,
                       stdout=subprocess.DEVNULL)

        def ended() -> bool:
            with open(os.path.join(directory, "supervisord.log")) as f:
                exited = "exited: w" in f.read()
            return exited and pipe_count(proc) == pipes   # exited, and its pipes read to EOF and closed

        benchlib.wait_until(ended, "supervisord's program did not end", 300)
        cpu = benchlib.cpu_seconds(proc) - before
        written = proc.io_counters().write_chars - wrote_before
        log = os.path.join(directory, "logs", "stdout")
        seconds = os.stat(log).st_mtime - read_stamp(stamp)[0]
        sizes = [os.path.getsize(f) for f in rotated_files(log)]
        disk = written_since(tmp, disk)
    finally:
        daemon.terminate()
        daemon.wait(60)
    assert written >= TOTAL, written
    return {"mibps": rate(seconds), "seconds": seconds, "cpu_per_gib": cpu * (1 << 30) / TOTAL,
            "files": len(sizes), "max_file": max(sizes), "disk_written_mib": disk}


# ---- zero loss ----------------------------------------------------------------------------------------------

def hash_files(files: list[str]) -> dict:
    digest, total = hashlib.sha256(), 0
    for name in files:
        with open(name, "rb") as f:
            while chunk := f.read(MIB):
                digest.update(chunk)
                total += len(chunk)
    return {"sha256": digest.hexdigest(), "bytes": total, "max_file": max(os.path.getsize(f) for f in files),
            "files": len(files)}


def input_hashes(tail: int) -> tuple[str, str, int]:
    """sha256 of the whole keystream and of its last `tail` bytes, generated again here; and its length."""
    whole, last, seen = hashlib.sha256(), hashlib.sha256(), 0
    skip = TOTAL - tail
    with subprocess.Popen(["/bin/bash", "-c", KEYSTREAM], stdout=subprocess.PIPE) as gen:
        while chunk := gen.stdout.read(MIB):
            whole.update(chunk)
            if seen + len(chunk) > skip:
                last.update(chunk[max(0, skip - seen):])
            seen += len(chunk)
    return whole.hexdigest(), last.hexdigest(), seen


def zero_loss(tmp: str) -> tuple[list[dict], dict]:
    everything = thermos_pass(tmp, KEYSTREAM, KEEP_ALL_BACKUPS, inspect=hash_files)["inspect"]
    kept = thermos_pass(tmp, KEYSTREAM, BACKUPS, inspect=hash_files)["inspect"]
    whole, tail, length = input_hashes(kept["bytes"])
    all_equal, tail_equal = everything["sha256"] == whole, kept["sha256"] == tail
    checks = [
        ("log_zero_loss_all", f"backups={KEEP_ALL_BACKUPS}",
         length == TOTAL and everything["bytes"] == TOTAL and all_equal and everything["max_file"] <= LOG_SIZE,
         f"{everything['bytes']} of {length} bytes in {everything['files']} files, sha256 "
         f"{'equal' if all_equal else 'DIFFERENT'}, largest {everything['max_file']} <= {LOG_SIZE}"),
        ("log_zero_loss_tail", f"backups={BACKUPS}",
         tail_equal and kept["bytes"] == BACKUPS * LOG_SIZE + TOTAL % LOG_SIZE and kept["max_file"] <= LOG_SIZE,
         f"kept {kept['bytes']} bytes in {kept['files']} files, {'equal to' if tail_equal else 'DIFFERENT from'}"
         f" the input's last {kept['bytes']}, largest {kept['max_file']} <= {LOG_SIZE}"),
    ]
    figures = []
    for name, what, ok, text in checks:
        print(f"log_zero_loss {'ok' if ok else 'FAIL'} | {what}: {text}", flush=True)
        figures.append({"name": name, "value": 1.0 if ok else 0.0, "unit": "ok", "floor_name": what,
                        "floor": None, "ratio": None, "goal": "no byte lost or changed, no file > log_size",
                        "met": ok})
    return figures, {"input_sha256": whole, "input_bytes": length, "keep_all": everything, "keep_5": kept}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    supervisor_bin("supervisord")          # install before anything is measured
    runs = {k: [] for k in ("blocks", "raw", "supervisord", "lines", "producer")}
    with tempfile.TemporaryDirectory(prefix="thermos-bench-") as tmp:
        for _ in range(args.runs):         # interleaved, so noise hits ours, floors and comparator alike
            runs["raw"].append(pipe_to_file_pass(tmp))
            runs["blocks"].append(thermos_pass(tmp, BLOCKS))
            runs["supervisord"].append(supervisord_pass(tmp, BLOCKS))
            runs["producer"].append(shell_pass(tmp, f"{LINES} > /dev/null"))
            runs["lines"].append(thermos_pass(tmp, LINES))
        ours = benchlib.median([r["mibps"] for r in runs["blocks"]])
        ours_cpu = benchlib.median([r["cpu_per_gib"] for r in runs["blocks"]])
        raw = benchlib.median(runs["raw"])
        theirs = benchlib.median([r["mibps"] for r in runs["supervisord"]])
        theirs_cpu = benchlib.median([r["cpu_per_gib"] for r in runs["supervisord"]])
        lines = benchlib.median([r["mibps"] for r in runs["lines"]])
        lines_cpu = benchlib.median([r["cpu_per_gib"] for r in runs["lines"]])
        producer = benchlib.median(runs["producer"])
        figures = [
            benchlib.figure("log_rotate_64k", ours, "MiB/s", "pipe-to-file dd|cat", raw,
                            goal=f">= {GOAL_FLOOR_SHARE:.0%} of floor (stretch {STRETCH_FLOOR_SHARE:.0%})",
                            met=ours >= GOAL_FLOOR_SHARE * raw, fmt="{:.0f}", rate=True),
            benchlib.figure("log_rotate_64k", ours, "MiB/s", "supervisord", theirs, goal=">= supervisord",
                            met=ours >= theirs, fmt="{:.0f}", rate=True),
            benchlib.figure("log_pump_cpu_64k", ours_cpu, "CPU-s/GiB", "supervisord", theirs_cpu,
                            goal=f"<= {GOAL_CPU} and <= supervisord",
                            met=ours_cpu <= GOAL_CPU and ours_cpu <= theirs_cpu, fmt="{:.3f}"),
            benchlib.figure("log_rotate_lines100", lines, "MiB/s", "producer to /dev/null", producer,
                            goal=f">= {GOAL_LINES:.0f} MiB/s", met=lines >= GOAL_LINES, fmt="{:.0f}", rate=True),
        ]
        loss_figures, loss = zero_loss(tmp)
    benchlib.write_results("log_throughput", figures + loss_figures, runs=args.runs, bytes=TOTAL,
                           log_size=LOG_SIZE, backups=BACKUPS, lines_cpu_per_gib=lines_cpu, zero_loss=loss, **runs)


if __name__ == "__main__":
    main()
