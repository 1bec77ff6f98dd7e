"""The fork server: a quiet copy of the runner that forks the task's coordinators.

A forked child shares its parent's pages until one of them writes to a page; the writer then gets a copy of
its own and the other keeps the old one. The runner writes all the time (its loop, records, log lines), so a
coordinator it forks itself keeps a copy of every page the runner writes afterwards, for as long as the
coordinator lives: ~2.5 MB each for coordinators of runs restarted one at a time (bench/memory.py). The fork
server is forked from the runner once, before its loop starts, and then only waits for a request, forks and
answers; the coordinators it forks share its pages, which hardly change.

Protocol, over a SOCK_SEQPACKET pair: the runner sends two descriptors, the process's checkpoint stream,
which it has opened and locked, and a memfd holding the pickled (stream path, Launch) (a memfd, so that no
environment is too large for a socket message); the server forks the coordinator, which keeps the stream
descriptor and so the lock (see coordinator.py), and answers with the coordinator's pid and fork time and
a pidfd for it, or with the errno and message of the error that stopped the fork. The server reaps its
children, ignores the signals meant for the task (a ^C at the terminal reaches the whole process group), and
exits when the runner closes its end, stops it, or dies (PR_SET_PDEATHSIG).
"""
from __future__ import annotations

import _signal
import gc
import os
import pickle
import select
import signal
import socket
import time

from thermos_executor.runner import ckpt, coordinator, process_tree

# A server that takes longer than this to fork is taken for dead (stopped, or stuck): the runner kills it.
REPLY_TIMEOUT = 10.0
# How long stopping a server may wait for it to die (SIGKILL is near instant; our own reaping gets it later).
CLOSE_WAIT = 1.0


class ForkServerGone(Exception):
    """The server died or did not answer; whether it forked the coordinator is unknown."""


class ForkServer:
    """Forks coordinators on the runner's behalf (start it before the runner's loop; one per runner)."""

    def __init__(self):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        runner = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                ours.close()
                _serve(theirs, runner)
            finally:
                os._exit(0)
        theirs.close()
        ours.settimeout(REPLY_TIMEOUT)
        # Signalled and waited for through a pidfd: the runner's own reaping may reap the server first,
        # and its pid must then never be taken for another process's.
        self.pid, self._pidfd, self._sock = pid, os.pidfd_open(pid), ours

    def start(self, path: str, launch: coordinator.Launch, fd: int) -> tuple[int, float, int | None]:
        """Fork a coordinator for `launch` holding `fd` (the locked stream at `path`): its pid, its fork time,
        and a pidfd for it (None if the server could not open one).

        OSError: the fork failed, nothing was started. ForkServerGone: the server is dead or stuck and has
        been stopped; the coordinator may or may not have been forked.
        """
        request = _memfd(pickle.dumps((path, launch)))
        try:
            socket.send_fds(self._sock, [b"L"], [fd, request])
            reply, fds, _, _ = socket.recv_fds(self._sock, 4096, 1)
        except OSError as e:  # socket.timeout included
            self.close()
            raise ForkServerGone(f"fork server pid {self.pid}: {e}") from None
        finally:
            os.close(request)
        for received in fds:       # recv_fds does not set close-on-exec: nothing we spawn may inherit them
            os.set_inheritable(received, False)
        if not reply:
            self.close()
            raise ForkServerGone(f"fork server pid {self.pid} has exited")
        if reply.startswith(b"!"):
            errno, _, message = reply[1:].decode().partition(" ")
            raise OSError(int(errno), message)
        pid, fork_time = reply.split()
        return int(pid), float(fork_time), (fds[0] if fds else None)

    def close(self) -> None:
        """Stop the server and reap it. SIGKILL: it holds nothing (the coordinators it forked live on), and
        a stopped or stuck one must not hold up the runner."""
        if self._pidfd < 0:
            return
        self._sock.close()
        try:
            signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            select.select([self._pidfd], [], [], CLOSE_WAIT)
            os.waitid(os.P_PIDFD, self._pidfd, os.WEXITED | os.WNOHANG)
        except (ProcessLookupError, ChildProcessError):   # already reaped by the runner's own reaping
            pass
        os.close(self._pidfd)
        self._pidfd = -1


def _serve(sock: socket.socket, runner: int) -> None:
    process_tree.set_name("thermos_forker")
    process_tree.set_parent_death_signal(signal.SIGKILL)
    if os.getppid() != runner:      # the runner died before we asked to die with it
        return
    coordinator.ignore_task_signals()
    coordinator.close_fds_except(sock.fileno())   # stdio stays: console-logged commands write to it
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    _signal.signal(signal.SIGCHLD, _ignore)
    gc.disable()                    # nothing cyclic is made here, and a collection would write every page
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    poller.register(wake_r, select.POLLIN)
    while True:
        for fd, _ in poller.poll():
            if fd == wake_r:
                _drain(wake_r)
                process_tree.reap_exited()
            elif not _fork_one(sock):
                return


def _memfd(data: bytes) -> int:
    fd = os.memfd_create("thermos-launch", os.MFD_CLOEXEC)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    return fd


def _fork_one(sock: socket.socket) -> bool:
    """Serve one request; False when the runner has gone."""
    try:
        _, fds, _, _ = socket.recv_fds(sock, 16, 2)
    except OSError:
        return False
    if len(fds) != 2:
        return False
    stream, request = fds
    # recv_fds does not set close-on-exec. The coordinator inherits the stream through fork, but the
    # command it spawns must not: it would hold the lock, and could write to the checkpoint as another user.
    os.set_inheritable(stream, False)
    try:
        path, launch = pickle.loads(os.pread(request, os.fstat(request).st_size, 0))
    finally:
        os.close(request)
    writer = ckpt.Writer.inherit(path, stream)
    try:
        pid = coordinator.start(launch, writer)
        fork_time = time.time()
    except OSError as e:
        sock.send(f"!{e.errno or 0} could not fork a coordinator for {launch.process!r}: {e}".encode())
        return True
    finally:
        writer.close()
    try:
        pidfd = [os.pidfd_open(pid)]  # before any reaping here, so it is this child's for sure
    except OSError:
        pidfd = []                    # the runner opens one itself
    try:
        socket.send_fds(sock, [f"{pid} {fork_time}".encode()], pidfd)
    except OSError:
        return False
    finally:
        for fd in pidfd:
            os.close(fd)
    return True


def _ignore(signum, frame) -> None:
    """SIGCHLD only has to interrupt the poll (through the wake-up pipe); the loop reaps."""


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass

