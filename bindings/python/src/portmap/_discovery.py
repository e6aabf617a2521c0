"""The calls of a Client that ask the router about itself rather than
hold a mapping: discovery, the external address and the router's table.

Client takes these functions as its methods (``discover =
_discovery.discover``), so they are still found in its own namespace:
its bases, vars() and help() stay what they were, while neither file
grows past reading size. They use only the client's gate.
"""

from __future__ import annotations

import asyncio
from ctypes import POINTER, byref, c_size_t, create_string_buffer
from typing import List, Optional

from . import _native
# The module, not the class: client.py imports this one before it
# defines Client, and annotations through the module still resolve at run
# time (typing.get_type_hints), which a TYPE_CHECKING import would not.
from . import client as _client
from ._checks import FamilyLike, _family_arg, _invalid, _ms, _raise_for
from ._enums import ErrorCode, Family
from ._values import _REASON_LEN, Discovery, DualDiscovery, RouterEntry
from .errors import PortmapError

_lib = _native.lib


# ---------------------------------------------------------------- discovery


def discover(
    self: _client.Client,
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

def discover_dual(
    self: _client.Client, *, fresh: bool = False, timeout: Optional[float] = None
) -> DualDiscovery:
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

def discover_reason(self: _client.Client, family: FamilyLike = "ipv4") -> str:
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

def external_ip(self: _client.Client, *, timeout: Optional[float] = None) -> str:
    """Ask the gateway for its external IPv4 address now."""
    ms = 0 if timeout is None else _ms(timeout, "timeout")
    buf = create_string_buffer(_native.ADDRSTRLEN)
    with self._gate.use("external-ip") as ptr:
        rc = _lib.portmap_external_ip(ptr, buf, len(buf), ms)
    _raise_for(rc, "external-ip")
    return _native.decode(buf.raw)

async def discover_async(
    self: _client.Client,
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
    self: _client.Client, *, fresh: bool = False, timeout: Optional[float] = None
) -> DualDiscovery:
    """``discover_dual()`` in the default executor."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: self.discover_dual(fresh=fresh, timeout=timeout))

async def external_ip_async(self: _client.Client, *, timeout: Optional[float] = None) -> str:
    """``external_ip()`` in the default executor."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: self.external_ip(timeout=timeout))

# ---------------------------------------------------------------- the router's table


def router_mappings(self: _client.Client, *, timeout: Optional[float] = None) -> List[RouterEntry]:
    """The router's whole mapping table (UPnP-IGD), for audits.

    Raises NoGatewayError when there is no gateway or no protocol
    answered at all, UnsupportedError when the router answered but
    offers no UPnP-IGD (or the client's ``methods`` leave it out),
    GatewayTimeoutError when UPnP-IGD did not answer in time.
    """
    ms = 0 if timeout is None else _ms(timeout, "timeout")
    arr = POINTER(_native.RouterEntry)()
    count = c_size_t(0)
    with self._gate.use("router mappings") as ptr:
        rc = _lib.portmap_router_mappings(ptr, byref(arr), byref(count), ms)
    if rc == ErrorCode.NO_GATEWAY:
        why = self.discover_reason(Family.IPV4)
        message = _native.strerror(rc) + (f": {why}" if why else "")
        raise PortmapError.from_code(rc, "router mappings", message)
    _raise_for(rc, "router mappings")
    try:
        return [RouterEntry._from_c(arr[i]) for i in range(count.value)]
    finally:
        _lib.portmap_router_entries_free(arr)

def _journal_listing(self: _client.Client, name: str, context: str) -> List[RouterEntry]:
    arr = POINTER(_native.RouterEntry)()
    count = c_size_t(0)
    with self._gate.use(context) as ptr:
        rc = getattr(_lib, name)(ptr, byref(arr), byref(count))
    _raise_for(rc, context)
    try:
        return [RouterEntry._from_c(arr[i]) for i in range(count.value)]
    finally:
        _lib.portmap_router_entries_free(arr)

def router_pinholes(self: _client.Client) -> List[RouterEntry]:
    """This host's IPv6 firewall pinholes, as the journal of libportmap
    clients records them (no protocol lists a router's pinholes); each has
    ``ipv6`` set. Reads the journal only. Delete one with release_port()."""
    return _journal_listing(self, "portmap_router_pinholes", "router pinholes")

def journal_mappings(self: _client.Client) -> List[RouterEntry]:
    """This host's IPv4 mappings on its router, as the journal of libportmap
    clients records them: also those made through PCP or NAT-PMP, whose
    router's table cannot be read. Reads the journal only. Delete one with
    release_port()."""
    return _journal_listing(self, "portmap_journal_mappings", "journal mappings")

def router_delete(self: _client.Client, entry: RouterEntry, *, timeout: Optional[float] = None) -> None:
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
