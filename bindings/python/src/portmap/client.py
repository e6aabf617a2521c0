"""Client, and the names of the Python binding that portmap.client has
always exported (the value objects, Mapping, Event, EventStream).

Threading, in short: every Client owns the library's engine thread, which
calls back into Python (events, log lines) with the GIL taken by ctypes.
Every public method is thread-safe. Inside an event callback the blocking
calls raise WouldDeadlockError (as in C), except close() and
Mapping.release(), which do not wait there: close() hands the work to a
helper thread, release() only starts the release.

The code is split by concern: _checks (arguments), _values (value
objects), _gate (the handle's lifetime, callback marks), _mapping
(Mapping, Event), _callbacks (trampolines, event delivery, EventStream),
_discovery (Client's discovery and router-table methods).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import weakref
from ctypes import byref, c_uint, c_void_p
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar, Union

from . import _discovery

# The names below were all defined or imported here before this module was
# split, and code outside may import them from it: "X as X" re-exports
# each for type checkers too (py.typed; mypy --strict has no implicit
# re-export).
from . import _native as _native
from ._enums import AddressKind as AddressKind, ErrorCode as ErrorCode, EventKind as EventKind
from ._enums import Family as Family, LogLevel as LogLevel, Method as Method, State as State
from ._enums import Transport as Transport
from .errors import BadStateError as BadStateError, ClientClosedError as ClientClosedError
from .errors import GatewayTimeoutError as GatewayTimeoutError
from .errors import InvalidArgumentError as InvalidArgumentError, NotFoundError as NotFoundError
from .errors import PortmapError as PortmapError, WouldDeadlockError as WouldDeadlockError
from ._callbacks import _C_TO_LOGGING as _C_TO_LOGGING, _END as _END
from ._callbacks import _EVENT_TRAMPOLINE as _EVENT_TRAMPOLINE, _LOG_TRAMPOLINE as _LOG_TRAMPOLINE
from ._callbacks import EventStream as EventStream, _keys as _keys, _on_log as _on_log
from ._callbacks import _on_mapping_event as _on_mapping_event, _routes as _routes
from ._checks import _INT_MAX as _INT_MAX, _U32_MAX as _U32_MAX, FamilyLike as FamilyLike
from ._checks import LogLevelLike as LogLevelLike, MethodLike as MethodLike
from ._checks import TransportLike as TransportLike, _allow_arg as _allow_arg, _c_level as _c_level
from ._checks import _internal_address_arg as _internal_address_arg
from ._checks import _c_level_from_logging as _c_level_from_logging, _family_arg as _family_arg
from ._checks import _gateway_arg as _gateway_arg, _int_arg as _int_arg, _invalid as _invalid
from ._checks import _ms as _ms, _parse_enum as _parse_enum, _raise_for as _raise_for
from ._checks import _text_arg as _text_arg
from ._gate import _CLOSED as _CLOSED, _CLOSING as _CLOSING, _OPEN as _OPEN, _depth as _depth
from ._gate import _entered as _entered, _finalize_gate as _finalize_gate, _Gate as _Gate
from ._gate import _in_callback as _in_callback, _tls as _tls
from ._mapping import _GRACE_S as _GRACE_S, Event as Event, Mapping as Mapping
from ._mapping import _host_port as _host_port, _set_done as _set_done
from ._values import _REASON_LEN as _REASON_LEN, Counters as Counters, Discovery as Discovery
from ._values import DualDiscovery as DualDiscovery, MappingInfo as MappingInfo
from ._values import RouterEntry as RouterEntry, _opt_address as _opt_address

__all__ = [
    "Client",
    "Mapping",
    "MappingInfo",
    "Discovery",
    "DualDiscovery",
    "Event",
    "EventStream",
    "RouterEntry",
    "Counters",
    "EventCallback",
]

log = logging.getLogger("portmap")

EventCallback = Callable[[Event], Any]
_F = TypeVar("_F", bound=Callable[..., Any])

# Looked up at each call, so a test can stand in for a library function
# by replacing portmap.client._lib (it reaches Client's own calls only).
_lib = _native.lib


class Client:
    """A libportmap client (``portmap_client *``) and its engine thread.

    All options are keyword-only and mirror ``struct portmap_settings``;
    None keeps the library's default. Times are in seconds.

    Args:
        methods: protocols to use, most preferred first, e.g.
            ``("pcp", "upnp")``; default PCP, NAT-PMP, then UPnP-IGD.
        default_lifetime: lease asked for by requests without one (7200).
        timeout: bound for discovery and for a request's first reply (10).
        gateway: address of the gateway instead of the default route's: an
            IPv4 one rules IPv6 out and the other way round; a link-local
            IPv6 one may carry its zone (``"fe80::1%eth0"``).
        release_on_close: close() releases what is still mapped (True).
        close_timeout: how long close() waits for the router (2).
        state_dir: directory of the journal of held mappings.
        log_level: what the library logs to the ``portmap`` logger: a
            LogLevel, its name, or a ``logging`` level; default from that
            logger's effective level when the client is made.
        keep_orphans: False (the default): once the router is found, release
            the mappings that dead processes left there (per the journal);
            True leaves them, e.g. for ``cleanup()``.
        on_event: a callback registered with ``on_event()``.

    Use it as a context manager (``with``, or ``async with``, which closes
    without blocking the event loop), or call ``close()``; a client that is
    garbage-collected or still open at interpreter exit is closed then.
    """

    def __init__(
        self,
        *,
        methods: Optional[Union[MethodLike, Sequence[MethodLike]]] = None,
        default_lifetime: Optional[int] = None,
        timeout: Optional[float] = None,
        gateway: Optional[str] = None,
        release_on_close: bool = True,
        close_timeout: Optional[float] = None,
        state_dir: Optional[Union[str, "os.PathLike[str]"]] = None,
        log_level: Optional[LogLevelLike] = None,
        keep_orphans: bool = False,
        on_event: Optional[EventCallback] = None,
    ) -> None:
        s = _native.Settings()
        _lib.portmap_default_settings(byref(s))
        if methods is not None:
            listed: Sequence[Any] = [methods] if isinstance(methods, (str, bytes, Method)) else methods
            parsed = [_parse_enum(Method, m, "methods") for m in listed]
            if not parsed or Method.AUTO in parsed or len(set(parsed)) != len(parsed):
                raise _invalid("methods must list pcp, natpmp or upnp, each at most once")
            for i, m in enumerate(parsed):
                s.methods[i] = int(m)
        if default_lifetime is not None:
            s.default_lifetime = _int_arg(default_lifetime, "default_lifetime", 1, _U32_MAX)
        if timeout is not None:
            s.timeout_ms = _ms(timeout, "timeout")
        if gateway is not None:
            s.gateway = _gateway_arg(gateway)
        s.release_on_close = 1 if release_on_close else 0
        if close_timeout is not None:
            s.close_timeout_ms = _ms(close_timeout, "close_timeout", allow_zero=True)
        if state_dir is not None:
            s.state_dir = _text_arg(state_dir, "state_dir")
        s.log_level = int(_c_level(log_level))
        s.keep_orphans = 1 if keep_orphans else 0
        s.log_callback = _LOG_TRAMPOLINE
        if on_event is not None and not callable(on_event):
            raise TypeError("on_event must be callable")

        self._timeout_s: float = s.timeout_ms / 1000.0
        self._close_timeout_ms: int = s.close_timeout_ms
        self._gateway_setting = gateway
        self._handlers: Tuple[EventCallback, ...] = (on_event,) if on_event else ()
        self._streams: List[EventStream] = []
        self._mappings: Dict[int, Mapping] = {}

        ptr = c_void_p()
        rc = _lib.portmap_open(byref(ptr), byref(s))
        _raise_for(rc, "open")
        self._gate = _Gate(ptr)
        self._finalizer = weakref.finalize(self, _finalize_gate, self._gate)

    # -- life

    @property
    def closed(self) -> bool:
        """True once close() has begun."""
        return self._gate.state != _OPEN

    @property
    def timeout(self) -> float:
        """The default timeout in seconds."""
        return self._timeout_s

    def close(self) -> None:
        """Release the mappings (if ``release_on_close``) and stop the engine.

        Safe to call twice and from any thread. Waits for calls under way
        in other threads (each bounded by its timeout). Inside an event
        callback it returns at once and the close finishes on a helper
        thread as soon as the callback has returned.
        """
        self._gate.close(self._on_closing, self._on_closed)

    def _on_closing(self) -> None:
        gate = self._gate
        with gate.cond:
            for m in list(self._mappings.values()):
                m._wake_waiters()

    def _on_closed(self) -> None:
        with self._gate.cond:
            streams, self._streams = self._streams, []
            self._mappings.clear()
        for st in streams:
            st._push(_END)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def aclose(self) -> None:
        """``close()`` for asyncio: runs in the default executor, so the
        event loop goes on while the router confirms the releases.

        Cancelling the awaiting task does not stop the close: it finishes
        on the executor's thread (which ``asyncio.run()`` waits for from
        Python 3.9 on).
        """
        if self._gate.state == _CLOSED:
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.close)

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        gw = self._gateway_setting or "default route"
        return f"<portmap.Client {'closed' if self.closed else 'open'}, gateway {gw}>"

    # -- events

    def on_event(self, callback: _F) -> _F:
        """Register ``callback(event)`` for every event of every mapping.

        Called on the library's engine thread with the GIL held; an
        exception is logged to the ``portmap`` logger. Returns the
        callback, so it also works as a decorator.
        """
        if not callable(callback):
            raise TypeError("callback must be callable")
        with self._gate.cond:
            self._handlers = self._handlers + (callback,)
        return callback

    def remove_event_handler(self, callback: EventCallback) -> None:
        """Unregister a callback given to ``on_event()``."""
        with self._gate.cond:
            handlers = list(self._handlers)
            if callback in handlers:
                handlers.remove(callback)
            self._handlers = tuple(handlers)

    def events(self) -> EventStream:
        """An async iterator of events, for ``async for``; call it inside a
        running event loop. Ends when the client is closed."""
        stream = EventStream(self, asyncio.get_running_loop())
        with self._gate.cond:
            if self._gate.state == _CLOSED:
                stream._push(_END)
            else:
                self._streams.append(stream)
        return stream

    def _unsubscribe(self, stream: EventStream) -> None:
        with self._gate.cond:
            if stream in self._streams:
                self._streams.remove(stream)

    # -- requests

    def request(
        self,
        port: int,
        transport: TransportLike = "udp",
        *,
        external_port: Optional[int] = None,
        lifetime: Optional[int] = None,
        description: Optional[str] = None,
        protocol: MethodLike = "auto",
        timeout: Optional[float] = None,
        wait: bool = True,
        allow: Any = None,
        family: Optional[FamilyLike] = None,
        internal_address: Optional[Union[str, ipaddress.IPv4Address, ipaddress.IPv6Address]] = None,
    ) -> Mapping:
        """Map ``port`` (on this host, or on ``internal_address``) through
        the router.

        Args:
            port: the internal port, 1-65535.
            transport: ``"udp"`` or ``"tcp"``.
            external_port: the external port to suggest (the router may
                choose another); None for any.
            lifetime: lease in seconds; None for the client's default. The
                library renews it until release.
            description: shown in the router's table (UPnP), at most 63
                bytes in UTF-8 (a longer one raises InvalidArgumentError,
                a ValueError, rather than being cut); None for
                "libportmap".
            protocol: ``"auto"``, ``"pcp"``, ``"natpmp"`` or ``"upnp"``
                (as ``portmap-cli --protocol``).
            timeout: bound on the first success in seconds; None for the
                client's timeout.
            wait: False returns the pending Mapping at once (see
                ``Mapping.wait()``); True waits, which is not allowed
                inside a callback.
            allow: only this remote host or IPv4 network may connect:
                ``"198.51.100.7"``, ``"198.51.100.0/24"`` or an
                ``ipaddress`` address or network; None for anyone. PCP
                and UPnP (one host) can restrict, NAT-PMP cannot: when no
                protocol the router speaks can, UnsupportedError is raised
                and nothing is mapped. IPv4 only: must be None when
                ``family`` includes IPv6.
            family: ``"ipv4"`` (a NAT mapping; also what None, the
                default, means), ``"ipv6"`` (a pinhole in the router's IPv6
                firewall, through PCP or UPnP-IGD v2; NAT-PMP has no IPv6)
                or ``"both"``: one Mapping holding both, each where the
                network has it, whose ``info(family=...)`` tells each
                part's state; it is returned when either part is mapped,
                once neither is pending. A Family member works too.
            internal_address: map the port for another host of the LAN
                instead of this one (API 0.6): its IPv4 address (a NAT
                mapping) or IPv6 address (a pinhole; family then defaults
                to ``"ipv6"``), a str or an ``ipaddress`` address. It must
                be on this host's subnet towards the router and not the
                router (else InvalidArgumentError, with the reason). PCP
                (THIRD_PARTY) and UPnP-IGD can; NAT-PMP cannot and is not
                used, never mapping this host instead (UnsupportedError
                when nothing else can). A protocol the router refuses
                it in (PCP NOT_AUTHORIZED, UPnP secure mode) gives way to
                the next; when none can, NotAuthorizedError (or
                UnsupportedError) says why.

        Returns the Mapping once the router holds it. Raises a PortmapError
        subclass when it failed: NoGatewayError, GatewayTimeoutError,
        RefusedError and its subclasses, UnsupportedError, ...
        """
        if wait and _in_callback():
            raise WouldDeadlockError(
                ErrorCode.WOULD_DEADLOCK, "request(wait=True) inside a callback: use wait=False"
            )
        mapping = self._start_request(
            port, transport, external_port, lifetime, description, protocol, timeout, allow, family,
            internal_address,
        )
        if not wait:
            return mapping
        try:
            return mapping.wait()
        except BaseException:
            mapping._abandon()
            raise

    async def request_async(
        self,
        port: int,
        transport: TransportLike = "udp",
        *,
        external_port: Optional[int] = None,
        lifetime: Optional[int] = None,
        description: Optional[str] = None,
        protocol: MethodLike = "auto",
        timeout: Optional[float] = None,
        allow: Any = None,
        family: Optional[FamilyLike] = None,
        internal_address: Optional[Union[str, ipaddress.IPv4Address, ipaddress.IPv6Address]] = None,
    ) -> Mapping:
        """``request()`` for asyncio: the same arguments, awaited without
        blocking the event loop. Cancelling the task drops the request."""
        loop = asyncio.get_running_loop()
        mapping = self._start_request(
            port, transport, external_port, lifetime, description, protocol, timeout, allow, family,
            internal_address,
        )
        fut: "asyncio.Future[None]" = loop.create_future()
        mapping._add_waiter(loop, fut)
        try:
            try:
                await asyncio.wait_for(fut, mapping._timeout + _GRACE_S)
            except asyncio.TimeoutError:
                pass  # _result() reports it
            return mapping._result()
        except BaseException:
            mapping._abandon()
            raise

    def _start_request(
        self,
        port: Any,
        transport: Any,
        external_port: Any,
        lifetime: Any,
        description: Any,
        protocol: Any,
        timeout: Any,
        allow: Any,
        family: Any = None,
        internal_address: Any = None,
    ) -> Mapping:
        port = _int_arg(port, "port", 1, 65535)
        proto = _parse_enum(Transport, transport, "transport")
        method = _parse_enum(Method, protocol, "protocol")
        fam = Family.IPV4 if family is None else _family_arg(family)
        host = None
        if internal_address is not None:
            host, host_fam = _internal_address_arg(internal_address)
            if family is not None and fam != host_fam:
                raise _invalid(
                    f"internal_address={internal_address} is an {host_fam.name} address: "
                    f"family={fam.name.lower()} cannot name it (one host, one family)"
                )
            fam = host_fam
            if family is None and fam == Family.IPV6:
                family = fam  # the address decides
        if allow is not None and fam & Family.IPV6:
            raise _invalid(f"allow names IPv4 peers: with family={fam} it must be None (use family='ipv4')")
        r = _native.Request()
        _lib.portmap_request_init(byref(r))
        r.protocol = int(proto)
        r.internal_port = port
        if external_port is not None:
            r.external_port = _int_arg(external_port, "external_port", 0, 65535)
        if lifetime is not None:
            r.lifetime = _int_arg(lifetime, "lifetime", 1, _U32_MAX)
        desc = _text_arg(description, "description", limit=63)
        if desc is not None:
            r.description = desc
        r.method = int(method)
        if family is not None:
            r.family = int(fam)
        if allow is not None:
            r.allow = _allow_arg(allow)
        if host is not None:
            r.internal_address = host
        timeout_s = self._timeout_s
        if timeout is not None:
            r.timeout_ms = _ms(timeout, "timeout")
            timeout_s = r.timeout_ms / 1000.0
        key = next(_keys)
        r.callback = _EVENT_TRAMPOLINE
        r.user = key
        mapping = Mapping(self, key, proto, port, timeout_s, fam)
        context = f"request {port}/{proto}"
        # Registered first: the engine may report before the call returns.
        _routes[key] = mapping
        try:
            with self._gate.use(context) as ptr:
                with self._gate.cond:
                    self._mappings[key] = mapping
                with mapping._hlock:
                    rc = _lib.portmap_request_mapping(ptr, byref(r), byref(mapping._handle))
        except BaseException:
            self._forget(key)
            raise
        if rc != ErrorCode.OK:
            self._forget(key)
            if rc == ErrorCode.BAD_STATE:
                context += ": this client already holds it"
            elif rc == ErrorCode.UNSUPPORTED and host is not None:
                context += ": NAT-PMP cannot map a port for another host (use pcp, upnp or auto)"
            elif rc == ErrorCode.UNSUPPORTED and fam == Family.IPV6:
                context += ": NAT-PMP has no IPv6 (use pcp, upnp or auto)"
            _raise_for(rc, context)
        return mapping

    def _forget(self, key: int) -> None:
        _routes.pop(key, None)
        with self._gate.cond:
            self._mappings.pop(key, None)

    @property
    def mappings(self) -> List[Mapping]:
        """The mappings this client holds (not yet released)."""
        with self._gate.cond:
            return [m for m in self._mappings.values() if m._handle.value]

    def release_port(
        self,
        port: int,
        transport: TransportLike = "udp",
        *,
        protocol: MethodLike = "auto",
        timeout: Optional[float] = None,
        internal_address: Optional[Union[str, ipaddress.IPv4Address, ipaddress.IPv6Address]] = None,
    ) -> None:
        """Release a mapping of this host that this client does not hold,
        e.g. one left by ``portmap-cli request --once``
        (``portmap_release_port``); with ``internal_address``, the one
        made for that other host of the LAN (``portmap_release_port_for``).
        Blocks up to ``timeout`` seconds."""
        port = _int_arg(port, "port", 1, 65535)
        proto = _parse_enum(Transport, transport, "transport")
        method = _parse_enum(Method, protocol, "protocol")
        ms = 0 if timeout is None else _ms(timeout, "timeout")
        host = None if internal_address is None else _internal_address_arg(internal_address)[0]
        context = f"release {port}/{proto}" + (f" of {host.decode()}" if host else "")
        with self._gate.use(context) as ptr:
            rc = _lib.portmap_release_port_for(ptr, host, int(proto), port, int(method), ms)
        _raise_for(rc, context)

    def cleanup(self, *, timeout: Optional[float] = None) -> int:
        """Release now the mappings on the current router that dead
        processes left behind (``portmap_cleanup``); returns how many went.
        Blocks up to ``timeout`` seconds."""
        ms = 0 if timeout is None else _ms(timeout, "timeout")
        released = c_uint(0)
        with self._gate.use("cleanup") as ptr:
            rc = _lib.portmap_cleanup(ptr, ms, byref(released))
        _raise_for(rc, "cleanup")
        return released.value

    def sync_journal(self, *, timeout: Optional[float] = None) -> None:
        """Wait until the journal names every mapping this client reported
        mapped so far (``portmap_sync_journal``, API 0.5): the journal is
        written just after ``wait()`` returns, and a process killed in
        between leaves a mapping that only its lease ends. Blocks up to
        ``timeout`` seconds."""
        ms = 0 if timeout is None else _ms(timeout, "timeout")
        with self._gate.use("sync_journal") as ptr:
            rc = _lib.portmap_sync_journal(ptr, ms)
        _raise_for(rc, "sync_journal")

    def counters(self) -> Counters:
        """What this client has done so far (``portmap_get_counters``)."""
        c = _native.Counters()
        with self._gate.use("counters") as ptr:
            rc = _lib.portmap_get_counters(ptr, byref(c))
        _raise_for(rc, "counters")
        return Counters._from_c(c)

    # -- discovery and the router's table, written in _discovery

    discover = _discovery.discover
    discover_dual = _discovery.discover_dual
    discover_reason = _discovery.discover_reason
    external_ip = _discovery.external_ip
    discover_async = _discovery.discover_async
    discover_dual_async = _discovery.discover_dual_async
    external_ip_async = _discovery.external_ip_async
    router_mappings = _discovery.router_mappings
    router_pinholes = _discovery.router_pinholes
    journal_mappings = _discovery.journal_mappings
    router_delete = _discovery.router_delete
