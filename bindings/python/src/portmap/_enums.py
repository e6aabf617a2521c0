"""The C enums of include/portmap/portmap.h, with the same names and numbers.

Each member prints as the library's own name for it (``str(Method.PCP)`` is
``"pcp"``, as ``portmap_method_name()`` says), and ``parse()`` accepts a
member, its number or that name, so every API taking one of these also
takes a plain string.
"""

from __future__ import annotations

import enum
from typing import Any, Tuple, Type, TypeVar

__all__ = [
    "ErrorCode",
    "Method",
    "Family",
    "AddressKind",
    "Transport",
    "LogLevel",
    "State",
    "EventKind",
]

_E = TypeVar("_E", bound="_CEnum")


class _CEnum(enum.IntEnum):
    """An IntEnum mirroring a C enum; prints as its lowercase C name."""

    def __str__(self) -> str:
        return self.name.lower()

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def _aliases(self) -> Tuple[str, ...]:
        """Other lowercase names ``parse()`` accepts for this member."""
        return ()

    @classmethod
    def parse(cls: Type[_E], value: Any) -> _E:
        """Return the member for ``value``: a member, its number or its name.

        Names are matched case-insensitively (``"udp"``, ``"UDP"``): the
        printed name, the member's name, or an alias some enums have.
        Raises :class:`ValueError` for anything else and :class:`TypeError`
        for a value of the wrong type (``bool`` is refused as a number).
        """
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            key = value.strip().lower()
            for member in cls:
                if key and (key in (member.name.lower(), str(member)) or key in member._aliases()):
                    return member
            names = ", ".join(str(m) or m.name.lower() for m in cls)
            raise ValueError(f"unknown {cls.__name__} {value!r} (expected one of: {names})")
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                return cls(value)
            except ValueError:
                raise ValueError(f"unknown {cls.__name__} number {value}") from None
        raise TypeError(f"{cls.__name__} must be a str or {cls.__name__}, not {type(value).__name__}")


class ErrorCode(_CEnum):
    """``enum portmap_error``. The numbers are the library's ABI."""

    OK = 0
    INVALID_ARGUMENT = 1
    NO_MEMORY = 2
    NO_GATEWAY = 3
    TIMEOUT = 4
    CANCELLED = 5
    REFUSED = 6
    NOT_AUTHORIZED = 7
    NO_RESOURCES = 8
    UNSUPPORTED = 9
    NETWORK = 10
    SYSTEM = 11
    BAD_STATE = 12
    PROTOCOL = 13
    WOULD_DEADLOCK = 14
    NOT_FOUND = 15
    PORT_IN_USE = 16


class Method(_CEnum):
    """``enum portmap_method``: the wire protocol of a mapping."""

    AUTO = 0
    PCP = 1
    NATPMP = 2
    UPNP = 3


class Family(_CEnum):
    """``enum portmap_family``: the address families of a request (API 0.3).

    IPV4 makes a NAT port mapping, IPV6 opens a pinhole in the router's
    firewall for one of this host's IPv6 addresses (no translation: the
    outside reaches that address on the same port), IPV4_IPV6 does each
    where the network has it. DEFAULT, in a request, means IPv4. Prints as
    ``"ipv4"``, ``"ipv6"``, ``"both"`` (IPV4_IPV6) and ``"default"``;
    ``parse()`` also takes ``"ipv4_ipv6"``.
    """

    DEFAULT = 0
    IPV4 = 1
    IPV6 = 2
    IPV4_IPV6 = 3

    def __str__(self) -> str:
        return "both" if self is Family.IPV4_IPV6 else self.name.lower()

    def _aliases(self) -> Tuple[str, ...]:
        return ("ipv4_ipv6", "ipv4+ipv6") if self is Family.IPV4_IPV6 else ()


_ADDRESS_KIND_NAMES = {
    0: "",
    1: "stable",
    2: "stable unique-local",
    3: "temporary",
    4: "temporary unique-local",
}


class AddressKind(_CEnum):
    """``enum portmap_address_kind``: what kind of IPv6 address a pinhole
    was opened for (API 0.3).

    The library prefers a stable address to a temporary (privacy) one,
    which the system replaces within a day, and a global address to a
    unique-local one (fc00::/7). NA is IPv4, or not known yet. Prints as
    ``portmap_address_kind_name()`` says (``"stable"``,
    ``"stable unique-local"``, ..., ``""`` for NA); ``parse()`` also takes
    the member names (``"stable_ula"``, ``"na"``).
    """

    NA = 0
    STABLE = 1
    STABLE_ULA = 2
    TEMPORARY = 3
    TEMPORARY_ULA = 4

    def __str__(self) -> str:
        return _ADDRESS_KIND_NAMES[int(self)]

    def _aliases(self) -> Tuple[str, ...]:
        return ("na",) if self is AddressKind.NA else ()


class Transport(_CEnum):
    """``enum portmap_transport``: TCP or UDP, with their IANA numbers."""

    TCP = 6
    UDP = 17


class LogLevel(_CEnum):
    """``enum portmap_log_level``."""

    ERROR = 0
    WARNING = 1
    INFO = 2
    DEBUG = 3


class State(_CEnum):
    """``enum portmap_state``: where a mapping is in its life."""

    PENDING = 0
    MAPPED = 1
    LOST = 2
    FAILED = 3
    RELEASING = 4
    RELEASED = 5


class EventKind(_CEnum):
    """``enum portmap_event``: what happened to a mapping."""

    MAPPED = 1
    CHANGED = 2
    LOST = 3
    RESTORED = 4
    FAILED = 5
    RELEASED = 6
