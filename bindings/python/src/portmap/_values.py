"""The value objects of the binding: frozen snapshots of the library's
structs, made from them (``_from_c``) and never tied to a live handle, so
that they stay valid after the client that returned them is closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Literal, NamedTuple, Optional, Tuple, Union

from . import _native
from ._enums import AddressKind, ErrorCode, Family, Method, State, Transport

# PM_REASON_LEN: the library's reasons fit in this many bytes
_REASON_LEN = 384

# Discovery.nat: "unknown" when no protocol answered (no router to judge)
NatVerdict = Literal["direct", "nat", "double_nat", "unknown"]


def _opt_address(raw: Any) -> Optional[str]:
    text = _native.decode(raw)
    return text or None


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
            external address is this host's), ``"double_nat"`` or
            ``"nat"``; ``"direct"`` for an IPv6 router (no translation);
            ``"unknown"`` when no protocol answered (the ``discovery`` of
            a NoGatewayError, the side of ``discover_dual()`` the network
            lacks): there was no router to judge.
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
    nat: NatVerdict
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
        nat: NatVerdict = "double_nat" if d.double_nat else "nat"
        if not protocols:
            nat = "unknown"
        elif v6 or (external and external == local):
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
        ipv6: an IPv6 firewall pinhole of this host (router_pinholes()):
            no translation, external_port is internal_port.
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
    ipv6: bool = False

    @property
    def permanent(self) -> bool:
        """The router holds this entry without a lease."""
        return self.lease == 0 and not self.ipv6

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
            ipv6=bool(e.ipv6),
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
        e.ipv6 = int(self.ipv6)
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
