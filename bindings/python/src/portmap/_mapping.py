"""Mapping, the _InfoField descriptor of its attributes, and Event.

A Mapping's state is written by the engine thread (_callbacks._deliver)
and read by any thread. Its C handle is used and taken (by release())
only under _hlock, so release() never frees it under a concurrent info(),
reason() or renew().
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from ctypes import byref, c_void_p, create_string_buffer
from dataclasses import dataclass
from typing import (
    Any,
    Dict,
    Generic,
    List,
    NoReturn,
    Optional,
    Set,
    Tuple,
    TypeVar,
    Union,
    overload,
)

from . import _native
# The module, not the class: client.py imports this one before it
# defines Client, and annotations through the module still resolve at run
# time (typing.get_type_hints), which a TYPE_CHECKING import would not.
from . import client as _client
from ._checks import FamilyLike, _family_arg, _invalid, _ms, _raise_for
from ._enums import AddressKind, ErrorCode, EventKind, Family, Method, State, Transport
from ._gate import _OPEN, _depth, _in_callback
from ._values import _REASON_LEN, MappingInfo
from .errors import (
    BadStateError,
    ClientClosedError,
    GatewayTimeoutError,
    NotFoundError,
    PortmapError,
    WouldDeadlockError,
)

log = logging.getLogger("portmap")

_lib = _native.lib
# How long past a request's own timeout we wait for the engine to report
# the failure before we give up on it ourselves.
_GRACE_S = 2.0

_T = TypeVar("_T")


class _InfoField(Generic[_T]):
    """A read-only attribute of Mapping: the field of the same name of
    ``info()``, read anew each time since the engine thread changes it.

    A data descriptor (it has __set__), as a property is: assigning raises
    AttributeError rather than hiding the live value, and help() lists it
    with its docstring.
    """

    def __init__(self, doc: str) -> None:
        self.__doc__ = doc
        self._field = ""

    def __set_name__(self, owner: type, name: str) -> None:
        # A typo would otherwise surface only when the attribute is read.
        if name not in {f.name for f in dataclasses.fields(MappingInfo)}:
            raise TypeError(f"{owner.__name__}.{name}: MappingInfo has no field {name!r}")
        self._field = name

    @overload
    def __get__(self, obj: None, owner: Optional[type] = None) -> "_InfoField[_T]": ...

    @overload
    def __get__(self, obj: "Mapping", owner: Optional[type] = None) -> _T: ...

    def __get__(
        self, obj: Optional["Mapping"], owner: Optional[type] = None
    ) -> Union["_InfoField[_T]", _T]:
        if obj is None:
            return self
        value: _T = getattr(obj.info(), self._field)
        return value

    def __set__(self, obj: "Mapping", value: NoReturn) -> NoReturn:
        raise AttributeError(f"{type(obj).__name__}.{self._field} is read-only: it reads info()")


class Mapping:
    """A port mapping held by a Client (``portmap_mapping *``).

    Made by ``Client.request()``. The library keeps it alive (renewals,
    router reboots) until ``release()``, the end of a ``with`` block
    (``async with await client.request_async(...)`` too), or the client's
    close. Attributes read the current state; ``info()``
    returns all of it at once.

    A request of both families (``family="both"``) holds an IPv4 mapping
    and an IPv6 pinhole in one Mapping: the attributes and ``info()``
    describe the IPv4 part, ``info(family="ipv6")`` the IPv6 one.
    """

    def __init__(
        self,
        client: _client.Client,
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
        self._mapped: Set[Family] = set()
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

    external_address = _InfoField[Optional[str]]("The router's external address (None until known).")
    external_port = _InfoField[int]("The external port the router assigned (0 until mapped).")
    internal_port = _InfoField[int]("The port on this host.")
    internal_address = _InfoField[Optional[str]]("This host's address the mapping points to.")
    protocol = _InfoField[Transport]("TCP or UDP.")
    method = _InfoField[Method]("The protocol that made the mapping: PCP, NAT-PMP or UPnP.")
    lifetime = _InfoField[int]("The lease the router granted, in seconds (0: permanent entry).")
    state = _InfoField[State]("PENDING, MAPPED, LOST, FAILED, RELEASING or RELEASED.")
    last_error = _InfoField[ErrorCode]("Why the last attempt failed, or OK.")

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

    async def __aenter__(self) -> "Mapping":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        """``release()`` in the default executor, as ``release_async()``.
        Cancelled while waiting, the release still goes on."""
        try:
            await self.release_async()
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
