"""How the library calls back into Python: the ctypes trampolines, the
delivery of a mapping's events to the client's handlers and streams, and
EventStream.

The library calls these on its engine thread (events, log lines) or
inside a public call (log lines), with the GIL taken by ctypes. Nothing
may unwind into C, so every trampoline catches all; and each marks its
thread (_gate._entered) for as long as it runs, which is what makes the
blocking calls refuse to wait there.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import weakref
from typing import Any, Dict, Optional

from . import _native
# The module, not the class: client.py imports this one before it
# defines Client, and annotations through the module still resolve at run
# time (typing.get_type_hints), which a TYPE_CHECKING import would not.
from . import client as _client
from ._enums import EventKind, LogLevel
from ._gate import _entered
from ._mapping import Event, Mapping
from ._values import MappingInfo

log = logging.getLogger("portmap")

_C_TO_LOGGING: Dict[int, int] = {
    LogLevel.ERROR: logging.ERROR,
    LogLevel.WARNING: logging.WARNING,
    LogLevel.INFO: logging.INFO,
    LogLevel.DEBUG: logging.DEBUG,
}


def _on_log(user: Optional[int], level: int, msg: Optional[bytes]) -> None:
    # Runs on the engine thread or inside a public call, possibly with the
    # client's C lock held: nothing here may call into the library (the
    # gate refuses it while log_depth > 0).
    with _entered("log_depth"):
        try:
            log.log(_C_TO_LOGGING.get(level, logging.WARNING), "%s", _native._text(msg))
        except BaseException:  # noqa: B036 - nothing may unwind into C
            pass


# The mapping of user pointers to Mapping objects: weak, so that a Client
# and its Mappings dropped without close() can be collected (and closed by
# their finalizer).
_routes: "weakref.WeakValueDictionary[int, Mapping]" = weakref.WeakValueDictionary()
_keys = itertools.count(1)


def _on_mapping_event(m: Optional[int], ev: int, info: Any, user: Optional[int]) -> None:
    with _entered("event_depth"):
        try:
            mapping = _routes.get(user or 0)
            if mapping is None:
                return
            _deliver(mapping, ev, MappingInfo._from_c(info.contents))
        except BaseException:  # noqa: B036 - nothing may unwind into C
            try:
                log.exception("portmap: error while delivering an event")
            except BaseException:  # noqa: B036
                pass


# Module-level, so they outlive every client (the library may call them
# until portmap_close() returns).
_LOG_TRAMPOLINE = _native.LOG_CALLBACK(_on_log)
_EVENT_TRAMPOLINE = _native.MAPPING_CALLBACK(_on_mapping_event)


def _deliver(mapping: Mapping, ev: int, info: MappingInfo) -> None:
    """Engine thread: one event of one of our mappings."""
    try:
        kind: Any = EventKind(ev)
    except ValueError:
        kind = ev
    mapping._store(info)
    part = info.family if info.family in mapping._infos else mapping._primary
    all_released = False
    client = mapping._client
    gate = client._gate
    with gate.cond:
        if kind in (EventKind.MAPPED, EventKind.FAILED, EventKind.RELEASED):
            if kind == EventKind.MAPPED:
                mapping._mapped.add(part)
            mapping._unsettled.discard(part)
            # As portmap_mapping_wait(): done once no part is pending,
            # a success when any part was mapped.
            if mapping._outcome is None and not mapping._unsettled:
                if mapping._mapped:
                    mapping._outcome = (EventKind.MAPPED, mapping._infos[mapping._primary])
                else:
                    mapping._outcome = (kind, mapping._infos[mapping._primary])
                mapping._wake_waiters()
                gate.cond.notify_all()
        if kind == EventKind.RELEASED:
            mapping._unreleased.discard(part)
            all_released = not mapping._unreleased
            if all_released:
                client._mappings.pop(mapping._key, None)
                _routes.pop(mapping._key, None)
        handlers, streams = client._handlers, list(client._streams)
    event = Event(kind, mapping, info)
    try:
        for handler in handlers:
            try:
                handler(event)
            except BaseException:  # noqa: B036 - logged, never lost nor fatal
                log.exception("portmap: exception in on_event callback %r (%s)", handler, event)
        for st in streams:
            st._push(event)
    finally:
        if all_released:
            mapping._released.set()


# ---------------------------------------------------------------- streams

_END = object()


class EventStream:
    """An async iterator of a client's events, from ``Client.events()``.

    Ends when the client is closed (after the last RELEASED events) or
    when ``aclose()`` is called; usable as ``async with``.
    """

    def __init__(self, client: _client.Client, loop: asyncio.AbstractEventLoop) -> None:
        self._client: Optional[_client.Client] = client
        self._loop = loop
        self._queue: "asyncio.Queue[Any]" = asyncio.Queue()
        self._done = False

    def _push(self, item: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody listens
            self._detach()

    def _detach(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client._unsubscribe(self)

    def __aiter__(self) -> "EventStream":
        return self

    async def __anext__(self) -> Event:
        if self._done:
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is _END:
            self._done = True
            self._detach()
            raise StopAsyncIteration
        return item  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        """Stop receiving events."""
        self._done = True
        self._detach()

    async def __aenter__(self) -> "EventStream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
