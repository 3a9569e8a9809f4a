"""A tiny launcher that makes sure a supervised command never outlives brainjar.

Run as a script, not as ``-m brainjar.process._reaper``, so that it starts fast and
imports nothing but the standard library::

    python -I -S .../brainjar/_reaper.py --ppid PID --grace 5 --lifeline -- CMD ARGS...

It leads a process group (the supervisor starts it with ``start_new_session``),
runs CMD as its child in that group, and stops the whole group (SIGTERM, a
grace period, then SIGKILL) when any of these happens:

- it gets SIGTERM, SIGINT or SIGHUP (the supervisor stops it);
- its parent dies: ``PR_SET_PDEATHSIG`` delivers SIGTERM at once, even after
  SIGKILL; with ``--lifeline``, stdin reaching end-of-file says the same
  (the death signal follows the thread that forked us, which is the event
  loop's and so outlives every ``supervise()``; the pipe follows the process,
  and works where prctl does not). ``--ppid`` closes the race of a parent
  that died before the death signal was armed;
- CMD exits: whatever CMD left behind in the group is stopped too.

It is also a child subreaper, so grandchildren orphaned by CMD are reparented
to it and reaped. Its exit status is CMD's: the code, or 128 + the signal.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import selectors
import signal
import sys
import time

# prctl(2) options (linux/prctl.h).
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
# Without prctl (not Linux), how often to ask whether the parent is still there.
PARENT_POLL_INTERVAL = 1.0
# While stopping, how often to look whether the group is empty.
GROUP_POLL_INTERVAL = 0.05
DEFAULT_GRACE = 5.0
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _prctl(option: int, value: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(option, value, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _group_members(pgid: int) -> list[int] | None:
    """Live processes of group ``pgid`` other than this one; None without /proc."""
    me = os.getpid()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    found = []
    for name in entries:
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
        fields = stat.rsplit(b")", 1)[-1].split()
        if len(fields) > 2 and fields[0] != b"Z" and int(fields[2]) == pgid:
            found.append(int(name))
    return found


def _status_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


class _Reaper:
    def __init__(self, *, ppid: int, grace: float, lifeline: bool) -> None:
        self.ppid = ppid
        self.grace = grace
        self.pgid = os.getpgrp()
        self.child = 0
        self.child_status: int | None = None
        self.selector = selectors.DefaultSelector()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.selector.register(self.wake_r, selectors.EVENT_READ)
        if lifeline:
            self.selector.register(0, selectors.EVENT_READ)
        for sig in (*_STOP_SIGNALS, signal.SIGCHLD):
            signal.signal(sig, lambda _sig, _frame: None)
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)

    def parent_gone(self) -> bool:
        return os.getppid() != self.ppid

    def spawn(self, command: list[str]) -> None:
        self.child = os.posix_spawnp(
            command[0],
            command,
            os.environ,
            # CMD must not hold the lifeline: only brainjar's death may close it.
            file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)],
            # Python ignores SIGPIPE and SIGXFSZ; CMD gets the defaults back.
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ, *_STOP_SIGNALS, signal.SIGCHLD),
        )

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.child:
                self.child_status = status

    def wait_event(self, timeout: float | None) -> bool:
        """Waits for a signal or the lifeline; True when asked to stop."""
        stop = False
        for key, _ in self.selector.select(timeout):
            if key.fd == self.wake_r:
                with contextlib.suppress(BlockingIOError):
                    signums = os.read(self.wake_r, 512)
                    stop = stop or any(s in _STOP_SIGNALS for s in signums)
            else:
                try:
                    data = os.read(0, 4096)
                except OSError:
                    data = b""
                if not data:  # end of file: the parent is gone or asked us to stop
                    self.selector.unregister(0)
                    stop = True
        self.reap()
        return stop or self.parent_gone()

    def run(self) -> int:
        """Waits until CMD exits or a stop is asked, then empties the group."""
        while self.child_status is None:
            if self.wait_event(PARENT_POLL_INTERVAL):
                break
        self.stop_group()
        return _status_code(self.child_status) if self.child_status is not None else 0

    def stop_group(self) -> None:
        members = _group_members(self.pgid)
        if self.child_status is not None and members == []:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGTERM)  # our own handler just wakes us
        deadline = time.monotonic() + self.grace
        while time.monotonic() < deadline:
            self.wait_event(GROUP_POLL_INTERVAL)
            members = _group_members(self.pgid)
            if self.child_status is not None and members == []:
                return
        members = _group_members(self.pgid)
        if members is None:  # cannot list the group: take ourselves down with it
            os.killpg(self.pgid, signal.SIGKILL)
            members = []
        for pid in members:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.child_status is None and self.child:
            with contextlib.suppress(ChildProcessError):
                _, status = os.waitpid(self.child, 0)
                self.child_status = status
        self.reap()


def main(argv: list[str]) -> int:
    """Parses ``[--ppid N] [--grace S] [--lifeline] -- CMD...`` and runs CMD."""
    ppid, grace, lifeline = os.getppid(), DEFAULT_GRACE, False
    args = list(argv)
    while args and args[0] != "--":
        option = args.pop(0)
        if option == "--lifeline":
            lifeline = True
        elif option in ("--ppid", "--grace") and args:
            value = args.pop(0)
            if option == "--ppid":
                ppid = int(value)
            else:
                grace = float(value)
        else:
            print(f"brainjar reaper: unknown option {option!r}", file=sys.stderr)
            return 2
    command = args[1:]
    if not command:
        print("usage: _reaper.py [--ppid N] [--grace S] [--lifeline] -- CMD...", file=sys.stderr)
        return 2
    with contextlib.suppress(OSError):
        os.setsid()  # fails when already a session leader, which is what we want
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    reaper = _Reaper(ppid=ppid, grace=grace, lifeline=lifeline)
    if reaper.parent_gone():  # died before the death signal was armed
        return 0
    try:
        reaper.spawn(command)
    except OSError as exc:
        print(f"brainjar reaper: cannot start {command[0]!r}: {exc.strerror}", file=sys.stderr)
        return 127
    return reaper.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
