"""The fork server: a quiet copy of the runner that forks the task's coordinators.

A forked child shares its parent's pages until one of them writes to a page; the writer then gets a copy of
its own and the other keeps the old one. The runner writes all the time (its loop, records, log lines), so a
coordinator it forks itself keeps a copy of every page the runner writes afterwards, for as long as the
coordinator lives: ~2.5 MB each for coordinators of runs restarted one at a time (bench/memory.py). The fork
server is forked from the runner once, before its loop starts, and then only waits for a request, forks and
answers; the coordinators it forks share its pages, which hardly change.

Protocol, over a SOCK_SEQPACKET pair: the runner sends a pickled (stream path, Launch) with the descriptor of
the process's checkpoint stream, which it has opened and locked; the server forks the coordinator, which
keeps that descriptor and so the lock (see coordinator.py), and answers with the coordinator's pid and a
pidfd for it, or with the error that stopped the fork. The server reaps its children, ignores the signals
meant for the task (a ^C at the terminal reaches the whole process group), and exits when the runner closes
its end, stops it, or dies (PR_SET_PDEATHSIG).
"""
from __future__ import annotations

import _signal
import gc
import os
import pickle
import select
import signal
import socket

from thermos_executor.runner import ckpt, coordinator, process_tree

# A server that takes longer than this to fork is taken for dead (stopped, or stuck): the runner kills it.
REPLY_TIMEOUT = 10.0
MAX_REQUEST = 1 << 20


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

    def start(self, path: str, launch: coordinator.Launch, fd: int) -> tuple[int, int]:
        """Fork a coordinator for `launch` holding `fd` (the locked stream at `path`); its pid and a pidfd.

        OSError: the fork failed (nothing was started). ForkServerGone: the server is dead or stuck and has
        been stopped; the coordinator may or may not have been forked.
        """
        try:
            socket.send_fds(self._sock, [pickle.dumps((path, launch))], [fd])
            reply, fds, _, _ = socket.recv_fds(self._sock, 4096, 1)
        except OSError as e:  # socket.timeout included
            self.close()
            raise ForkServerGone(f"fork server pid {self.pid}: {e}") from None
        if not reply:
            self.close()
            raise ForkServerGone(f"fork server pid {self.pid} has exited")
        if reply.startswith(b"!"):
            raise OSError(reply[1:].decode())
        return int(reply), fds[0]

    def close(self) -> None:
        """Stop the server and reap it. SIGKILL: it holds nothing (the coordinators it forked live on), and
        a stopped or stuck one must not hold up the runner."""
        if self._pidfd < 0:
            return
        self._sock.close()
        try:
            signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            os.waitid(os.P_PIDFD, self._pidfd, os.WEXITED)
        except (ProcessLookupError, ChildProcessError):   # already reaped by the runner's own reaping
            pass
        os.close(self._pidfd)
        self._pidfd = -1


def _serve(sock: socket.socket, runner: int) -> None:
    process_tree.set_name("thermos_forker")
    process_tree.set_parent_death_signal(signal.SIGKILL)
    if os.getppid() != runner:      # the runner died before we asked to die with it
        return
    for sig in coordinator.IGNORED_SIGNALS:
        _signal.signal(sig, _signal.SIG_IGN)
    keep = sock.fileno()
    os.closerange(3, keep)          # the runner's files are not ours to hold open (stdio stays, for console)
    os.closerange(keep + 1, 1 << 20)
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


def _fork_one(sock: socket.socket) -> bool:
    """Serve one request; False when the runner has gone."""
    try:
        request, fds, _, _ = socket.recv_fds(sock, MAX_REQUEST, 1)
    except OSError:
        return False
    if not request:
        return False
    path, launch = pickle.loads(request)
    writer = ckpt.Writer.inherit(path, fds[0])
    try:
        pid = coordinator.start(launch, writer)
        pidfd = os.pidfd_open(pid)  # before any reaping here, so it is this child's for sure
    except OSError as e:
        sock.send(b"!" + f"could not fork a coordinator for {launch.process!r}: {e}".encode())
        return True
    finally:
        writer.close()
    try:
        socket.send_fds(sock, [str(pid).encode()], [pidfd])
    except OSError:
        return False
    finally:
        os.close(pidfd)
    return True


def _ignore(signum, frame) -> None:
    """SIGCHLD only has to interrupt the poll (through the wake-up pipe); the loop reaps."""


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass

