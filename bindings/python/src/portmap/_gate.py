"""The rule for using a client's C handle, and the thread marks it reads.

A Client's C handle is only used between _Gate.use() and its end; close()
first stops new uses, waits for the ones in progress (each bounded by its
timeout), and only then calls portmap_close(), so no call can ever reach a
freed handle.

The marks say whether this thread is inside a library callback: there a
blocking call would wait for the engine thread it runs on (as in C, it
raises WouldDeadlockError instead), and inside the log callback the
client's C lock may be held, so no call may reach the library at all.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from ctypes import byref, c_void_p
from typing import Callable, Iterator, Optional

from . import _native
from ._enums import ErrorCode
from .errors import ClientClosedError, WouldDeadlockError

_lib = _native.lib

_tls = threading.local()


def _depth(name: str) -> int:
    return getattr(_tls, name, 0)


def _in_callback() -> bool:
    """True on a thread that is running a library callback right now."""
    return _depth("event_depth") > 0 or _depth("log_depth") > 0


@contextmanager
def _entered(name: str) -> Iterator[None]:
    setattr(_tls, name, _depth(name) + 1)
    try:
        yield
    finally:
        setattr(_tls, name, _depth(name) - 1)


_OPEN, _CLOSING, _CLOSED = 0, 1, 2


class _Gate:
    """A client's C handle and the rule for using it.

    Shared by the Client and its finalizer, never referring back to the
    Client, so that an abandoned Client can be collected and closed.
    """

    def __init__(self, ptr: c_void_p) -> None:
        self.ptr = ptr
        self.cond = threading.Condition(threading.Lock())
        self.state = _OPEN
        self.busy = 0
        self.closed = threading.Event()

    @contextmanager
    def use(self, what: str) -> Iterator[c_void_p]:
        if _depth("log_depth"):
            # The log callback may run with the client's C lock held.
            raise WouldDeadlockError(ErrorCode.WOULD_DEADLOCK, f"{what} from a logging handler")
        with self.cond:
            if self.state != _OPEN:
                raise ClientClosedError(ErrorCode.CANCELLED, f"{what}: the client is closed")
            self.busy += 1
        try:
            yield self.ptr
        finally:
            with self.cond:
                self.busy -= 1
                if self.busy == 0:
                    self.cond.notify_all()

    def close(
        self,
        on_closing: Optional[Callable[[], None]] = None,
        on_closed: Optional[Callable[[], None]] = None,
    ) -> None:
        with self.cond:
            first = self.state == _OPEN
            if first:
                self.state = _CLOSING
                self.cond.notify_all()
        if not first:
            if not _in_callback():
                self.closed.wait()
            return
        if on_closing is not None:
            on_closing()

        def finish() -> None:
            try:
                with self.cond:
                    while self.busy:
                        self.cond.wait()
                _lib.portmap_close(byref(self.ptr))
            finally:
                with self.cond:
                    self.state = _CLOSED
                    self.cond.notify_all()
                self.closed.set()
                if on_closed is not None:
                    on_closed()

        if _in_callback():
            # portmap_close() would wait for the very thread we are on.
            threading.Thread(target=finish, name="portmap-close").start()
        else:
            finish()


def _finalize_gate(gate: _Gate) -> None:
    gate.close()
