"""Client, Mapping and the value objects of the Python binding.

Threading, in short: every Client owns the library's engine thread, which
calls back into Python (events, log lines) with the GIL taken by ctypes.
Every public method is thread-safe. Inside an event callback the blocking
calls raise WouldDeadlockError (as in C), except close() and
Mapping.release(), which do not wait there: close() hands the work to a
helper thread, release() only starts the release.

A Client's C handle is only used between _Gate.use() and its end; close()
first stops new uses, waits for the ones in progress (each bounded by its
timeout), and only then calls portmap_close(), so no call can ever reach a
freed handle.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import itertools
import logging
import math
import os
import threading
import weakref
from contextlib import contextmanager
from ctypes import POINTER, byref, c_size_t, c_uint, c_void_p, create_string_buffer
from dataclasses import dataclass
from typing import (
    Any,
    NamedTuple,
    Callable,
    Dict,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
)

from . import _native
from ._enums import AddressKind, ErrorCode, EventKind, Family, LogLevel, Method, State, Transport
from .errors import (
    BadStateError,
    ClientClosedError,
    GatewayTimeoutError,
    InvalidArgumentError,
    NotFoundError,
    PortmapError,
    WouldDeadlockError,
)

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

TransportLike = Union[Transport, str]
MethodLike = Union[Method, str]
FamilyLike = Union[Family, str]
# PM_REASON_LEN: the library's reasons fit in this many bytes
_REASON_LEN = 384
LogLevelLike = Union[LogLevel, str, int]
EventCallback = Callable[["Event"], Any]
_F = TypeVar("_F", bound=Callable[..., Any])

_lib = _native.lib
_INT_MAX = 2**31 - 1
_U32_MAX = 2**32 - 1
# How long past a request's own timeout we wait for the engine to report
# the failure before we give up on it ourselves.
_GRACE_S = 2.0

# ---------------------------------------------------------------- callbacks

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
            mapping._client._dispatch(mapping, ev, MappingInfo._from_c(info.contents))
        except BaseException:  # noqa: B036 - nothing may unwind into C
            try:
                log.exception("portmap: error while delivering an event")
            except BaseException:  # noqa: B036
                pass


# Module-level, so they outlive every client (the library may call them
# until portmap_close() returns).
_LOG_TRAMPOLINE = _native.LOG_CALLBACK(_on_log)
_EVENT_TRAMPOLINE = _native.MAPPING_CALLBACK(_on_mapping_event)

# ---------------------------------------------------------------- helpers


def _raise_for(rc: int, context: Optional[str]) -> None:
    if rc != ErrorCode.OK:
        raise PortmapError.from_code(rc, context)


def _invalid(what: str) -> InvalidArgumentError:
    return InvalidArgumentError(ErrorCode.INVALID_ARGUMENT, what)


def _parse_enum(cls: Any, value: Any, name: str) -> Any:
    try:
        return cls.parse(value)
    except ValueError as e:
        raise _invalid(f"{name}: {e}") from None
    except TypeError as e:
        raise TypeError(f"{name}: {e}") from None


def _int_arg(value: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not lo <= value <= hi:
        raise _invalid(f"{name} must be {lo}-{hi}, not {value}")
    return int(value)


def _ms(value: Any, name: str, *, allow_zero: bool = False) -> int:
    """Seconds (int or float) to the library's milliseconds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if math.isnan(value) or value < 0 or (value == 0 and not allow_zero):
        raise _invalid(f"{name} must be {'>= 0' if allow_zero else '> 0'} seconds, not {value}")
    ms = math.ceil(value * 1000)
    if ms > _INT_MAX:
        raise _invalid(f"{name} is too long ({value} s)")
    return max(ms, 1) if value > 0 else 0


def _text_arg(value: Any, name: str, limit: Optional[int] = None) -> Optional[bytes]:
    if value is None:
        return None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str):
        raw = value.encode("utf-8")
    elif isinstance(value, bytes):
        raw = value
    else:
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if b"\0" in raw:
        raise _invalid(f"{name} must not contain NUL characters")
    if limit is not None and len(raw) > limit:
        # The library keeps limit bytes; cut on a character boundary.
        raw = raw[:limit].decode("utf-8", "ignore").encode("utf-8")
    return raw


def _allow_arg(value: Any) -> bytes:
    """An IPv4 host or network, as the C library takes it ("A.B.C.D[/N]")."""
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv4Network)):
        net = ipaddress.IPv4Network(value)
    elif isinstance(value, str):
        try:
            net = ipaddress.IPv4Network(value, strict=True)
        except ValueError as e:
            raise _invalid(f"allow must be an IPv4 address or network: {e}") from None
    else:
        raise TypeError(f"allow must be a str or an ipaddress IPv4 object, not {type(value).__name__}")
    if net.prefixlen == 0:
        raise _invalid("allow=0.0.0.0/0 restricts nothing: use allow=None")
    text = str(net.network_address) if net.prefixlen == 32 else str(net)
    return text.encode("ascii")


def _gateway_arg(value: Any) -> bytes:
    """An IPv4 or IPv6 address; a link-local IPv6 one may carry its zone."""
    if not isinstance(value, str):
        raise TypeError(f"gateway must be a str, not {type(value).__name__}")
    host, sep, zone = value.partition("%")
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise _invalid(f"gateway must be an IPv4 or IPv6 address, not {value!r}") from None
    if sep and (addr.version != 6 or not addr.is_link_local or not zone):
        raise _invalid(f"gateway {value!r}: a %zone goes only with a link-local IPv6 address")
    return value.encode("ascii", "replace")


def _family_arg(value: Any, name: str = "family") -> Family:
    """A Family from a member, a number or "ipv4", "ipv6", "both"."""
    fam: Family = _parse_enum(Family, value, name)
    return Family.IPV4 if fam == Family.DEFAULT else fam


def _c_level(level: Any) -> LogLevel:
    if level is None:
        eff = log.getEffectiveLevel()
        if eff <= logging.DEBUG:
            return LogLevel.DEBUG
        if eff <= logging.INFO:
            return LogLevel.INFO
        if eff <= logging.WARNING:
            return LogLevel.WARNING
        return LogLevel.ERROR
    if isinstance(level, int) and not isinstance(level, (bool, LogLevel)) and level >= logging.DEBUG:
        # a logging module level: logging.INFO and the like
        return _c_level_from_logging(level)
    parsed: LogLevel = _parse_enum(LogLevel, level, "log_level")
    return parsed


def _c_level_from_logging(level: int) -> LogLevel:
    if level <= logging.DEBUG:
        return LogLevel.DEBUG
    if level <= logging.INFO:
        return LogLevel.INFO
    if level <= logging.WARNING:
        return LogLevel.WARNING
    return LogLevel.ERROR


def _opt_address(raw: Any) -> Optional[str]:
    text = _native.decode(raw)
    return text or None


# ---------------------------------------------------------------- values


@dataclass(frozen=True)
class MappingInfo:
    """A snapshot of a mapping (``struct portmap_mapping_info``).

    Times are in seconds; ``None`` where the C struct says -1 or "".
    ``family`` is IPV4 (a NAT mapping) or IPV6 (a firewall pinhole:
    ``external_address`` is ``internal_address``, reachable from outside
    on ``external_port``); ``address_kind`` says what kind of IPv6
    address that is (NA for IPv4). ``no_route`` (API 0.4): the request
    failed because this host has no route of that family at all, as
    opposed to a router that did not answer.
    """

    state: State
    method: Method
    protocol: Transport
    internal_port: int
    external_port: int
    internal_address: Optional[str]
    external_address: Optional[str]
    lifetime: int
    refresh_in: Optional[float]
    expires_in: Optional[float]
    last_error: ErrorCode
    renewals: int
    permanent: bool
    double_nat: bool
    family: Family = Family.IPV4
    address_kind: AddressKind = AddressKind.NA
    no_route: bool = False

    @classmethod
    def _from_c(cls, ci: _native.MappingInfo) -> "MappingInfo":
        def enum(kind: Any, value: int) -> Any:
            try:
                return kind(value)
            except ValueError:
                return value

        return cls(
            state=enum(State, ci.state),
            method=enum(Method, ci.method),
            protocol=enum(Transport, ci.protocol),
            internal_port=ci.internal_port,
            external_port=ci.external_port,
            internal_address=_opt_address(ci.internal_address),
            external_address=_opt_address(ci.external_address),
            lifetime=ci.lifetime,
            refresh_in=None if ci.refresh_in_ms < 0 else ci.refresh_in_ms / 1000.0,
            expires_in=None if ci.expires_in_ms < 0 else ci.expires_in_ms / 1000.0,
            last_error=enum(ErrorCode, ci.last_error),
            renewals=ci.renewals,
            permanent=bool(ci.permanent),
            double_nat=bool(ci.double_nat),
            family=Family.IPV6 if ci.family == Family.IPV6 else Family.IPV4,
            address_kind=enum(AddressKind, ci.address_kind),
            no_route=bool(ci.no_route),
        )


@dataclass(frozen=True)
class Discovery:
    """What ``Client.discover()`` found about the gateway.

    Attributes:
        gateway: the gateway's address (None if there is no route).
        local_address: this host's address towards the gateway.
        external_address: the router's external address, None if no
            protocol told it.
        protocols: the protocols that answered, in the order PCP, NAT-PMP,
            UPnP-IGD.
        preferred: what a request with ``protocol="auto"`` will use, None
            when nothing answered.
        pcp_version: 2 when PCP answered, else 0.
        upnp_version: the IGD service version (1 or 2), 0 without UPnP.
        upnp_service: e.g. ``"WANIPConnection:2"``, None without UPnP.
        double_nat: the router's own external address is private or CGN.
        nat: the verdict of ``portmap-cli discover``: ``"direct"`` (the
            external address is this host's), ``"double_nat"`` or ``"nat"``;
            always ``"direct"`` for IPv6 (no translation).
        family: IPV4, or IPV6 for the IPv6 side (``discover(family=
            "ipv6")``, ``discover_dual()``): then ``gateway`` is the IPv6
            default router (link-local, with ``%zone``), ``local_address``
            the address pinholes are opened for, ``address_kind`` its kind,
            ``external_address`` None and ``upnp_service``
            ``"WANIPv6FirewallControl:1"``.
        address_kind: IPv6: what kind of address ``local_address`` is.
    """

    gateway: Optional[str]
    local_address: Optional[str]
    external_address: Optional[str]
    protocols: Tuple[Method, ...]
    preferred: Optional[Method]
    pcp_version: int
    upnp_version: int
    upnp_service: Optional[str]
    double_nat: bool
    nat: str
    family: Family = Family.IPV4
    address_kind: AddressKind = AddressKind.NA

    @classmethod
    def _from_c(cls, d: _native.Discovery, ok: bool) -> "Discovery":
        protocols = tuple(
            m for m in (Method.PCP, Method.NATPMP, Method.UPNP) if d.methods & (1 << int(m))
        )
        local = _opt_address(d.local_address)
        external = _opt_address(d.external_address)
        v6 = d.family == Family.IPV6
        nat = "double_nat" if d.double_nat else "nat"
        if v6 or (external and external == local):
            nat = "direct"
        try:
            kind: Any = AddressKind(d.address_kind)
        except ValueError:
            kind = d.address_kind
        preferred: Optional[Method] = None
        if ok and d.methods and d.preferred:
            try:
                preferred = Method(d.preferred)
            except ValueError:
                preferred = None
        return cls(
            gateway=_opt_address(d.gateway),
            local_address=local,
            external_address=external,
            protocols=protocols,
            preferred=preferred,
            pcp_version=d.pcp_version,
            upnp_version=d.upnp_version,
            upnp_service=_native.decode(d.upnp_service) or None,
            double_nat=bool(d.double_nat),
            nat=nat,
            family=Family.IPV6 if v6 else Family.IPV4,
            address_kind=kind,
        )


class DualDiscovery(NamedTuple):
    """What ``Client.discover_dual()`` found: the IPv4 gateway and the IPv6
    default router, each a :class:`Discovery` (``gateway`` None where the
    network lacks that family). Unpacks as ``v4, v6 = ...``."""

    ipv4: Discovery
    ipv6: Discovery


@dataclass(frozen=True)
class RouterEntry:
    """One entry of the router's own mapping table (UPnP-IGD).

    Attributes:
        lease: seconds left; 0 means permanent.
        remote_host: None means any remote host.
        ours: the entry maps to this host's address.
        held: ours, and held by a running process on this host (per the
            journal of libportmap clients).
    """

    protocol: Transport
    external_port: int
    internal_port: int
    internal_client: str
    remote_host: Optional[str]
    description: str
    lease: int
    enabled: bool
    ours: bool
    held: bool

    @property
    def permanent(self) -> bool:
        """The router holds this entry without a lease."""
        return self.lease == 0

    @classmethod
    def _from_c(cls, e: _native.RouterEntry) -> "RouterEntry":
        try:
            proto: Any = Transport(e.protocol)
        except ValueError:
            proto = e.protocol
        return cls(
            protocol=proto,
            external_port=e.external_port,
            internal_port=e.internal_port,
            internal_client=_native.decode(e.internal_client),
            remote_host=_opt_address(e.remote_host),
            description=_native.decode(e.description),
            lease=e.lease,
            enabled=bool(e.enabled),
            ours=bool(e.ours),
            held=bool(e.held),
        )

    def _to_c(self) -> _native.RouterEntry:
        e = _native.RouterEntry()
        e.protocol = int(self.protocol)
        e.external_port = self.external_port
        e.internal_port = self.internal_port
        e.internal_client = (self.internal_client or "").encode()[: _native.ADDRSTRLEN - 1]
        e.remote_host = (self.remote_host or "").encode()[: _native.ADDRSTRLEN - 1]
        e.description = self.description.encode("utf-8")[:63]
        e.lease = self.lease
        e.enabled = int(self.enabled)
        e.ours = int(self.ours)
        e.held = int(self.held)
        return e


@dataclass(frozen=True)
class Counters:
    """What a client has done so far (``struct portmap_counters``).

    Attributes:
        requests_sent: datagrams and SOAP calls to the router, resends
            included.
        retransmissions: of those, resends after no answer.
        responses: replies that completed a mapping exchange.
        dropped_wrong_source: replies or announcements not from the gateway.
        dropped_unmatched: well-formed, but answering no request of ours.
        dropped_malformed: truncated, oversized or undecodable.
        renewals: leases renewed.
        remaps_after_reset: mappings made again after the router lost them.
        announcements: unsolicited announcements accepted from the gateway.
        errors: failed exchanges by error code (only codes that occurred).
    """

    requests_sent: int
    retransmissions: int
    responses: int
    dropped_wrong_source: int
    dropped_unmatched: int
    dropped_malformed: int
    renewals: int
    remaps_after_reset: int
    announcements: int
    errors: Dict[Union[ErrorCode, int], int]

    @classmethod
    def _from_c(cls, c: _native.Counters) -> "Counters":
        errors: Dict[Union[ErrorCode, int], int] = {}
        for code, n in enumerate(c.errors):
            if n:
                try:
                    errors[ErrorCode(code)] = n
                except ValueError:
                    errors[code] = n
        names = [f[0] for f in _native.Counters._fields_ if f[0] not in ("errors", "reserved")]
        return cls(errors=errors, **{name: getattr(c, name) for name in names})


@dataclass(frozen=True)
class Event:
    """An event of a mapping, as given to ``on_event`` callbacks and streams.

    Attributes:
        kind: MAPPED, CHANGED, LOST, RESTORED, FAILED or RELEASED.
        mapping: the Mapping it happened to.
        info: the mapping's state when the event happened. For a request
            of both families each part has its own events: ``info.family``
            tells which (IPV4 or IPV6).
    """

    kind: EventKind
    mapping: "Mapping"
    info: MappingInfo

    def __str__(self) -> str:
        v6 = " (ipv6)" if self.info.family == Family.IPV6 else ""
        return f"{self.kind} {self.mapping._label()}{v6}"


# ---------------------------------------------------------------- the gate

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


# ---------------------------------------------------------------- Mapping


class Mapping:
    """A port mapping held by a Client (``portmap_mapping *``).

    Made by ``Client.request()``. The library keeps it alive (renewals,
    router reboots) until ``release()``, the end of a ``with`` block, or
    the client's close. Attributes read the current state; ``info()``
    returns all of it at once.

    A request of both families (``family="both"``) holds an IPv4 mapping
    and an IPv6 pinhole in one Mapping: the attributes and ``info()``
    describe the IPv4 part, ``info(family="ipv6")`` the IPv6 one.
    """

    def __init__(
        self,
        client: "Client",
        key: int,
        protocol: Transport,
        port: int,
        timeout: float,
        family: Family = Family.IPV4,
    ) -> None:
        self._client = client
        self._key = key
        self._handle = c_void_p()
        self._hlock = threading.Lock()
        self._timeout = timeout
        self._outcome: Optional[Tuple[EventKind, MappingInfo]] = None
        self._released = threading.Event()
        self._waiters: List[Tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"]] = []
        self._family = family
        # the parts: IPv4 and/or IPv6, each with its last known state
        parts = (Family.IPV4, Family.IPV6) if family == Family.IPV4_IPV6 else (family,)
        self._primary = parts[0]
        # parts that have not reported their first outcome, or RELEASED yet
        self._unsettled = set(parts)
        self._unreleased = set(parts)
        self._mapped: set = set()
        self._info = MappingInfo(
            state=State.PENDING,
            method=Method.AUTO,
            protocol=protocol,
            internal_port=port,
            external_port=0,
            internal_address=None,
            external_address=None,
            lifetime=0,
            refresh_in=None,
            expires_in=None,
            last_error=ErrorCode.OK,
            renewals=0,
            permanent=False,
            double_nat=False,
            family=self._primary,
        )
        self._infos: Dict[Family, MappingInfo] = {
            f: dataclasses.replace(self._info, family=f) for f in parts
        }

    # -- state

    def info(self, family: Optional[FamilyLike] = None) -> MappingInfo:
        """The current state (``portmap_mapping_get_info``); never blocks on
        the network. After release or close: the last state known.

        ``family`` (``"ipv4"`` or ``"ipv6"``) picks one part of a request
        of both families (``portmap_mapping_get_family_info``); None is the
        IPv4 part of such a request, else its only part. Raises
        NotFoundError for a family the request did not ask for.
        """
        fam = self._primary if family is None else _family_arg(family)
        if fam not in self._infos:
            if fam not in (Family.IPV4, Family.IPV6):
                raise _invalid(f"family must be ipv4 or ipv6, not {fam}")
            raise NotFoundError(
                ErrorCode.NOT_FOUND, f"mapping {self._label()} has no {fam} part (asked for {self._family})"
            )
        if _depth("log_depth"):
            return self._infos[fam]
        with self._hlock:
            if self._handle.value:
                try:
                    with self._client._gate.use("mapping info"):
                        ci = _native.MappingInfo()
                        if family is None:
                            rc = _lib.portmap_mapping_get_info(self._handle, byref(ci))
                        else:
                            rc = _lib.portmap_mapping_get_family_info(self._handle, int(fam), byref(ci))
                        if rc == 0:
                            self._store(MappingInfo._from_c(ci))
                except ClientClosedError:
                    pass
        return self._infos[fam]

    def _store(self, info: MappingInfo) -> None:
        fam = info.family if info.family in self._infos else self._primary
        self._infos[fam] = info
        if fam == self._primary:
            self._info = info

    @property
    def family(self) -> Family:
        """What the request asked for: IPV4 (a NAT mapping), IPV6 (a
        firewall pinhole) or IPV4_IPV6 (both, each where the network has
        it)."""
        return self._family

    @property
    def address_kind(self) -> AddressKind:
        """What kind of IPv6 address the pinhole is for (of the IPv6 part
        of a request of both families); NA for IPv4 or until known."""
        if Family.IPV6 not in self._infos:
            return AddressKind.NA
        return self.info(Family.IPV6 if self._family == Family.IPV4_IPV6 else None).address_kind

    @property
    def external_address(self) -> Optional[str]:
        """The router's external address (None until known)."""
        return self.info().external_address

    @property
    def external_port(self) -> int:
        """The external port the router assigned (0 until mapped)."""
        return self.info().external_port

    @property
    def internal_port(self) -> int:
        """The port on this host."""
        return self.info().internal_port

    @property
    def internal_address(self) -> Optional[str]:
        """This host's address the mapping points to."""
        return self.info().internal_address

    @property
    def protocol(self) -> Transport:
        """TCP or UDP."""
        return self.info().protocol

    @property
    def method(self) -> Method:
        """The protocol that made the mapping: PCP, NAT-PMP or UPnP."""
        return self.info().method

    @property
    def lifetime(self) -> int:
        """The lease the router granted, in seconds (0: permanent entry)."""
        return self.info().lifetime

    @property
    def state(self) -> State:
        """PENDING, MAPPED, LOST, FAILED, RELEASING or RELEASED."""
        return self.info().state

    @property
    def last_error(self) -> ErrorCode:
        """Why the last attempt failed, or OK."""
        return self.info().last_error

    @property
    def address(self) -> Tuple[Optional[str], int]:
        """``(external_address, external_port)``: where peers connect."""
        i = self.info()
        return (i.external_address, i.external_port)

    # -- actions

    def renew(self) -> None:
        """Renew now instead of at the scheduled time (asynchronous)."""
        with self._client._gate.use("renew"):
            with self._hlock:
                if not self._handle.value:
                    raise BadStateError(ErrorCode.BAD_STATE, f"renew {self._label()}: released")
                rc = _lib.portmap_mapping_renew(self._handle)
        _raise_for(rc, f"renew {self._label()}")

    def release(self, timeout: Optional[float] = None) -> None:
        """Delete the mapping on the router and drop it.

        Waits up to ``timeout`` seconds (default: the client's
        ``close_timeout``) for the router to confirm; ``timeout=0`` only
        starts the release. Inside an event callback the default does not
        wait and an explicit timeout raises WouldDeadlockError. Releasing
        twice, or after the client closed, does nothing. Raises
        GatewayTimeoutError when the router did not confirm in time (the
        release goes on in the background).
        """
        if timeout is None:
            ms = 0 if _in_callback() else self._client._close_timeout_ms
        else:
            ms = _ms(timeout, "timeout", allow_zero=True)
        try:
            with self._client._gate.use("release"):
                with self._hlock:
                    if not self._handle.value:
                        return
                    handle = c_void_p(self._handle.value)
                    self._handle.value = None
                try:
                    rc = _lib.portmap_mapping_release(byref(handle), ms)
                finally:
                    if handle.value:  # refused (e.g. from a callback): still ours
                        with self._hlock:
                            self._handle.value = handle.value
        except ClientClosedError:
            return  # closing the client releases it
        if rc == ErrorCode.OK and ms > 0:
            # The engine reports RELEASED just after the router confirmed:
            # once release() returns, callbacks and state have seen it.
            self._released.wait(1.0)
        _raise_for(rc, f"release {self._label()}")

    def wait(self, timeout: Optional[float] = None) -> "Mapping":
        """Wait until the first request succeeded or failed.

        Returns self once mapped. Raises the library's error (e.g.
        NoGatewayError, RefusedError) when the request failed,
        ClientClosedError when the client closed, and GatewayTimeoutError
        when ``timeout`` passed first (default: the request's timeout plus
        a grace for the library to report); the request is not cancelled
        then. Not allowed inside a callback.
        """
        if _in_callback():
            raise WouldDeadlockError(ErrorCode.WOULD_DEADLOCK, f"wait for {self._label()}")
        bound = self._timeout + _GRACE_S if timeout is None else float(timeout)
        gate = self._client._gate
        with gate.cond:
            gate.cond.wait_for(lambda: self._outcome is not None or gate.state != _OPEN, bound)
        return self._result()

    def _result(self) -> "Mapping":
        outcome = self._outcome
        if outcome is None:
            if self._client._gate.state != _OPEN:
                raise ClientClosedError(ErrorCode.CANCELLED, f"request {self._label()}")
            raise GatewayTimeoutError(ErrorCode.TIMEOUT, f"request {self._label()}")
        kind, info = outcome
        if kind == EventKind.MAPPED:
            return self
        code = info.last_error if info.last_error != ErrorCode.OK else ErrorCode.CANCELLED
        context = f"request {self._label()}"
        if self._family == Family.IPV6:
            context += " (ipv6 pinhole)"
        message = _native.strerror(code)
        why = self.reason(self._primary)
        if why:
            message += f": {why}"
        if self._family == Family.IPV4_IPV6:
            other = self._infos[Family.IPV6].last_error
            why6 = self.reason(Family.IPV6) or _native.strerror(other or ErrorCode.CANCELLED)
            message += f" (and no ipv6 pinhole: {why6})"
        raise PortmapError.from_code(code, context, message)

    def reason(self, family: Optional[FamilyLike] = None) -> str:
        """Why the last attempt failed, in the router's or the network's
        words (``portmap_mapping_get_reason``, API 0.4): e.g. "the router
        at 10.77.0.1: PCP: refused (nothing listens on port 5351); ...".
        "" while nothing failed, or once the mapping was released.
        ``family`` picks a part of a request of both families."""
        fam = Family.DEFAULT if family is None else _family_arg(family)
        if fam == Family.IPV4_IPV6:
            raise _invalid("reason() takes one family: ipv4 or ipv6")
        buf = create_string_buffer(_REASON_LEN)
        with self._hlock:
            if not self._handle.value:
                return ""
            try:
                with self._client._gate.use("mapping reason"):
                    rc = _lib.portmap_mapping_get_reason(self._handle, int(fam), buf, _REASON_LEN)
            except ClientClosedError:
                return ""
        return _native.decode(buf.value) if rc == ErrorCode.OK else ""

    def _abandon(self) -> None:
        """Drop a request that failed or that nobody waits for any more."""
        try:
            self.release(0)
        except PortmapError:
            pass

    async def release_async(self, timeout: Optional[float] = None) -> None:
        """``release()`` in the default executor."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.release, timeout)

    # -- plumbing

    def _label(self) -> str:
        i = self._info
        return f"{i.internal_port}/{i.protocol}"

    def _add_waiter(self, loop: asyncio.AbstractEventLoop, fut: "asyncio.Future[None]") -> None:
        gate = self._client._gate
        with gate.cond:
            if self._outcome is None and gate.state == _OPEN:
                self._waiters.append((loop, fut))
                return
        fut.set_result(None)

    def _wake_waiters(self) -> None:
        """Called with the gate's lock held."""
        waiters, self._waiters = self._waiters, []
        for loop, fut in waiters:
            try:
                loop.call_soon_threadsafe(_set_done, fut)
            except RuntimeError:  # the loop is closed
                pass

    def __enter__(self) -> "Mapping":
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self.release()
        except PortmapError as e:
            log.warning("portmap: %s", e)

    def __repr__(self) -> str:
        i = self._info if _depth("log_depth") else self.info()
        v6 = i.family == Family.IPV6
        ext = _host_port(i.external_address, i.external_port, v6) if i.external_port else "?"
        both = ""
        if self._family == Family.IPV4_IPV6:
            j = self._infos[Family.IPV6] if _depth("log_depth") else self.info(Family.IPV6)
            ext6 = _host_port(j.external_address, j.external_port, True) if j.external_port else "?"
            both = f"; ipv6 {ext6} via {j.method}, {j.state}"
        elif v6:
            both = ", ipv6 pinhole"
        return (
            f"<portmap.Mapping {i.protocol} {_host_port(i.internal_address, i.internal_port, v6)} -> "
            f"{ext} via {i.method}, {i.state}{both}>"
        )


def _host_port(addr: Optional[str], port: int, v6: bool) -> str:
    host = addr or "?"
    return f"[{host}]:{port}" if v6 and addr else f"{host}:{port}"


def _set_done(fut: "asyncio.Future[None]") -> None:
    if not fut.done():
        fut.set_result(None)


# ---------------------------------------------------------------- streams

_END = object()


class EventStream:
    """An async iterator of a client's events, from ``Client.events()``.

    Ends when the client is closed (after the last RELEASED events) or
    when ``aclose()`` is called; usable as ``async with``.
    """

    def __init__(self, client: "Client", loop: asyncio.AbstractEventLoop) -> None:
        self._client: Optional["Client"] = client
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


# ---------------------------------------------------------------- Client


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

    Use it as a context manager, or call ``close()``; a client that is
    garbage-collected or still open at interpreter exit is closed then.
    """

    def __init__(
        self,
        *,
        methods: Optional[Sequence[MethodLike]] = None,
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
            if isinstance(methods, (str, bytes)):
                methods = [methods]
            parsed = [_parse_enum(Method, m, "methods") for m in methods]
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

    def _dispatch(self, mapping: Mapping, ev: int, info: MappingInfo) -> None:
        """Engine thread: one event of one of our mappings."""
        try:
            kind: Any = EventKind(ev)
        except ValueError:
            kind = ev
        mapping._store(info)
        part = info.family if info.family in mapping._infos else mapping._primary
        all_released = False
        gate = self._gate
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
                    self._mappings.pop(mapping._key, None)
                    _routes.pop(mapping._key, None)
            handlers, streams = self._handlers, list(self._streams)
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
    ) -> Mapping:
        """Map ``port`` (on this host) through the router.

        Args:
            port: the internal port, 1-65535.
            transport: ``"udp"`` or ``"tcp"``.
            external_port: the external port to suggest (the router may
                choose another); None for any.
            lifetime: lease in seconds; None for the client's default. The
                library renews it until release.
            description: shown in the router's table (UPnP), at most 63
                bytes are kept; None for "libportmap".
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

        Returns the Mapping once the router holds it. Raises a PortmapError
        subclass when it failed: NoGatewayError, GatewayTimeoutError,
        RefusedError and its subclasses, UnsupportedError, ...
        """
        if wait and _in_callback():
            raise WouldDeadlockError(
                ErrorCode.WOULD_DEADLOCK, "request(wait=True) inside a callback: use wait=False"
            )
        mapping = self._start_request(
            port, transport, external_port, lifetime, description, protocol, timeout, allow, family
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
    ) -> Mapping:
        """``request()`` for asyncio: the same arguments, awaited without
        blocking the event loop. Cancelling the task drops the request."""
        loop = asyncio.get_running_loop()
        mapping = self._start_request(
            port, transport, external_port, lifetime, description, protocol, timeout, allow, family
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
    ) -> Mapping:
        port = _int_arg(port, "port", 1, 65535)
        proto = _parse_enum(Transport, transport, "transport")
        method = _parse_enum(Method, protocol, "protocol")
        fam = Family.IPV4 if family is None else _family_arg(family)
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
    ) -> None:
        """Release a mapping of this host that this client does not hold,
        e.g. one left by ``portmap-cli request --once``
        (``portmap_release_port``). Blocks up to ``timeout`` seconds."""
        port = _int_arg(port, "port", 1, 65535)
        proto = _parse_enum(Transport, transport, "transport")
        method = _parse_enum(Method, protocol, "protocol")
        ms = 0 if timeout is None else _ms(timeout, "timeout")
        context = f"release {port}/{proto}"
        with self._gate.use(context) as ptr:
            rc = _lib.portmap_release_port(ptr, int(proto), port, int(method), ms)
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

    def counters(self) -> Counters:
        """What this client has done so far (``portmap_get_counters``)."""
        c = _native.Counters()
        with self._gate.use("counters") as ptr:
            rc = _lib.portmap_get_counters(ptr, byref(c))
        _raise_for(rc, "counters")
        return Counters._from_c(c)

    # -- discovery

    def discover(
        self,
        *,
        fresh: bool = False,
        timeout: Optional[float] = None,
        family: FamilyLike = "ipv4",
    ) -> Discovery:
        """Find the gateway and probe it for every allowed protocol.

        ``fresh=True`` ignores the cached result. Blocks up to ``timeout``
        seconds (default: the client's timeout). ``family="ipv6"``
        describes the IPv6 default router instead (PCP over IPv6, UPnP-IGD
        WANIPv6FirewallControl); for both at once use ``discover_dual()``.
        Raises NoGatewayError when nothing answered; its ``discovery``
        attribute holds what was found.
        """
        fam = _family_arg(family)
        if fam == Family.IPV4_IPV6:
            raise _invalid("discover() describes one family: use discover_dual() for both")
        ms = 0 if timeout is None else _ms(timeout, "timeout")
        d = _native.Discovery()
        flags = _native.DISCOVER_FRESH if fresh else 0
        with self._gate.use("discover") as ptr:
            if fam == Family.IPV6:
                rc = _lib.portmap_discover_dual(ptr, None, byref(d), flags, ms)
            else:
                rc = _lib.portmap_discover(ptr, byref(d), flags, ms)
        found = Discovery._from_c(d, rc == ErrorCode.OK)
        if rc != ErrorCode.OK:
            context = "discover" if fam == Family.IPV4 else "discover ipv6"
            message = _native.strerror(rc)
            why = self.discover_reason(fam) if rc == ErrorCode.NO_GATEWAY else ""
            if why:
                message += f": {why}"
            err = PortmapError.from_code(rc, context, message)
            err.discovery = found
            raise err
        return found

    def discover_dual(self, *, fresh: bool = False, timeout: Optional[float] = None) -> DualDiscovery:
        """Discover both families at once, within one timeout
        (``portmap_discover_dual``): the IPv4 gateway as ``discover()``
        and the IPv6 default router as ``discover(family="ipv6")``.

        Returns a DualDiscovery ``(ipv4, ipv6)``; a family the network
        lacks has ``gateway`` None and no protocols. Raises NoGatewayError
        when neither answered; its ``discovery`` attribute holds the
        DualDiscovery found.
        """
        ms = 0 if timeout is None else _ms(timeout, "timeout")
        d4, d6 = _native.Discovery(), _native.Discovery()
        flags = _native.DISCOVER_FRESH if fresh else 0
        with self._gate.use("discover") as ptr:
            rc = _lib.portmap_discover_dual(ptr, byref(d4), byref(d6), flags, ms)
        ok = rc == ErrorCode.OK
        found = DualDiscovery(Discovery._from_c(d4, ok), Discovery._from_c(d6, ok))
        if not ok:
            context = "discover ipv4 and ipv6"
            message = _native.strerror(rc)
            if rc == ErrorCode.NO_GATEWAY:
                message += f": {self.discover_reason(Family.IPV4)}; {self.discover_reason(Family.IPV6)}"
            err = PortmapError.from_code(rc, context, message)
            err.discovery = found
            raise err
        return found

    def discover_reason(self, family: FamilyLike = "ipv4") -> str:
        """What the last discovery of ``family`` found of each protocol, in
        words (``portmap_discover_reason``, API 0.4): "no IPv4 default
        route", or "the router at 10.77.0.1: PCP: answered; NAT-PMP:
        refused (nothing listens on port 5351); ...". Never waits."""
        fam = _family_arg(family)
        if fam == Family.IPV4_IPV6:
            raise _invalid("discover_reason() takes one family: ipv4 or ipv6")
        buf = create_string_buffer(_REASON_LEN)
        with self._gate.use("discover reason") as ptr:
            rc = _lib.portmap_discover_reason(ptr, int(fam), buf, _REASON_LEN)
        _raise_for(rc, "discover reason")
        return _native.decode(buf.value)

    def external_ip(self, *, timeout: Optional[float] = None) -> str:
        """Ask the gateway for its external IPv4 address now."""
        ms = 0 if timeout is None else _ms(timeout, "timeout")
        buf = create_string_buffer(_native.ADDRSTRLEN)
        with self._gate.use("external-ip") as ptr:
            rc = _lib.portmap_external_ip(ptr, buf, len(buf), ms)
        _raise_for(rc, "external-ip")
        return _native.decode(buf.raw)

    async def discover_async(
        self,
        *,
        fresh: bool = False,
        timeout: Optional[float] = None,
        family: FamilyLike = "ipv4",
    ) -> Discovery:
        """``discover()`` in the default executor."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None, lambda: self.discover(fresh=fresh, timeout=timeout, family=family)
        )

    async def discover_dual_async(
        self, *, fresh: bool = False, timeout: Optional[float] = None
    ) -> DualDiscovery:
        """``discover_dual()`` in the default executor."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: self.discover_dual(fresh=fresh, timeout=timeout))

    async def external_ip_async(self, *, timeout: Optional[float] = None) -> str:
        """``external_ip()`` in the default executor."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: self.external_ip(timeout=timeout))

    # -- the router's table

    def router_mappings(self, *, timeout: Optional[float] = None) -> List[RouterEntry]:
        """The router's whole mapping table (UPnP-IGD), for audits.

        Raises UnsupportedError when the router offers no UPnP-IGD.
        """
        ms = 0 if timeout is None else _ms(timeout, "timeout")
        arr = POINTER(_native.RouterEntry)()
        count = c_size_t(0)
        with self._gate.use("router mappings") as ptr:
            rc = _lib.portmap_router_mappings(ptr, byref(arr), byref(count), ms)
        _raise_for(rc, "router mappings")
        try:
            return [RouterEntry._from_c(arr[i]) for i in range(count.value)]
        finally:
            _lib.portmap_router_entries_free(arr)

    def router_delete(self, entry: RouterEntry, *, timeout: Optional[float] = None) -> None:
        """Delete an entry of the router's table that maps to this host
        (``portmap_router_delete``); entries of other hosts are refused
        with NotAuthorizedError."""
        if not isinstance(entry, RouterEntry):
            raise TypeError("entry must be a RouterEntry from router_mappings()")
        ms = 0 if timeout is None else _ms(timeout, "timeout")
        e = entry._to_c()
        context = f"delete {entry.external_port}/{entry.protocol}"
        with self._gate.use(context) as ptr:
            rc = _lib.portmap_router_delete(ptr, byref(e), ms)
        _raise_for(rc, context)

