"""Checking and converting the arguments of the public calls.

Arguments are checked before they reach ctypes, so that a wrong type
raises TypeError and a bad value InvalidArgumentError naming the
argument, where ctypes would raise its own errors or the library return
a bare error code.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
from typing import Any, Literal, Optional, Union

from ._enums import ErrorCode, Family, LogLevel, Method, Transport
from .errors import InvalidArgumentError, PortmapError

# The names the calls take besides the enum members: spelled as Literal so
# that a type checker refuses a typo ("tpc"); at run time parse() also
# takes other cases and the numbers, and refuses the rest with
# InvalidArgumentError (a ValueError). A str read at run time (argv, a
# file) goes through e.g. Transport.parse() first.
TransportName = Literal["udp", "tcp"]
MethodName = Literal["auto", "pcp", "natpmp", "upnp"]
FamilyName = Literal["ipv4", "ipv6", "both"]
LogLevelName = Literal["error", "warning", "info", "debug"]

TransportLike = Union[Transport, TransportName]
MethodLike = Union[Method, MethodName]
FamilyLike = Union[Family, FamilyName]
LogLevelLike = Union[LogLevel, LogLevelName, int]

_INT_MAX = 2**31 - 1
_U32_MAX = 2**32 - 1

log = logging.getLogger("portmap")

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
        # Never cut silently: the router would show another text.
        raise _invalid(f"{name} is {len(raw)} bytes in UTF-8, more than the {limit} a router keeps")
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


def _internal_address_arg(value: Any) -> "tuple[bytes, Family]":
    """Another host of the LAN (``internal_address=``): an IPv4 or IPv6
    address a host can have, and the family it makes the request of."""
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        addr: Union[ipaddress.IPv4Address, ipaddress.IPv6Address] = value
    elif isinstance(value, str):
        try:
            addr = ipaddress.ip_address(value)
        except ValueError as e:
            raise _invalid(f"internal_address must be an IPv4 or IPv6 address: {e}") from None
    else:
        raise TypeError(
            f"internal_address must be a str or an ipaddress address, not {type(value).__name__}"
        )
    if addr.is_loopback or addr.is_multicast or addr.is_link_local or addr.is_unspecified or (
        addr.version == 4 and (int(addr) >> 24 == 0 or addr.is_reserved)
    ):
        raise _invalid(f"internal_address={addr} names no host of a LAN")
    fam = Family.IPV6 if addr.version == 6 else Family.IPV4
    return str(addr).encode("ascii"), fam


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
        return _c_level_from_logging(log.getEffectiveLevel())
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
