"""Open ports on the local router: PCP, NAT-PMP and UPnP-IGD through libportmap.

    import portmap

    with portmap.Client() as client:
        with client.request(8000, "tcp", description="my server") as m:
            print(f"reachable at {m.external_address}:{m.external_port}")
            ...  # the library renews the lease until the block ends

The binding loads the shared library libportmap (``$PORTMAP_LIBRARY``, else
``libportmap.so.0`` from the system) and refuses, at import, a library of
another API generation. The library's log goes to the ``portmap`` logger,
which has a NullHandler: it is silent until the application configures
logging (``logging.basicConfig()`` and the like).
"""

from __future__ import annotations

import logging
from typing import Tuple

from . import _native
from ._enums import AddressKind, ErrorCode, EventKind, Family, LogLevel, Method, State, Transport
from ._checks import FamilyName, MethodName, TransportName
from ._values import NatVerdict
from ._version import API_MAJOR, API_MINOR, __version__
from .client import (
    Client,
    Counters,
    Discovery,
    DualDiscovery,
    Event,
    EventCallback,
    EventStream,
    Mapping,
    MappingInfo,
    RouterEntry,
)
from .errors import (
    BadStateError as BadStateError,
    ClientClosedError as ClientClosedError,
    GatewayTimeoutError as GatewayTimeoutError,
    InvalidArgumentError as InvalidArgumentError,
    NoGatewayError as NoGatewayError,
    NotAuthorizedError as NotAuthorizedError,
    NotFoundError as NotFoundError,
    NoResourcesError as NoResourcesError,
    PortInUseError as PortInUseError,
    PortmapError as PortmapError,
    RefusedError as RefusedError,
    UnsupportedError as UnsupportedError,
    WouldDeadlockError as WouldDeadlockError,
)

# Every public name, listed literally: type checkers read __all__ only
# when it is a plain list (tests/test_unit.py checks it against errors.py
# and the names defined here).
__all__ = [
    "__version__",
    "library_version",
    "library_api",
    "library_path",
    "strerror",
    "Client",
    "Mapping",
    "MappingInfo",
    "Discovery",
    "DualDiscovery",
    "Event",
    "EventCallback",
    "EventStream",
    "RouterEntry",
    "Counters",
    "AddressKind",
    "ErrorCode",
    "EventKind",
    "Family",
    "LogLevel",
    "Method",
    "State",
    "Transport",
    "TransportName",
    "MethodName",
    "FamilyName",
    "NatVerdict",
    "API_MAJOR",
    "API_MINOR",
    "PortmapError",
    "InvalidArgumentError",
    "NoGatewayError",
    "GatewayTimeoutError",
    "ClientClosedError",
    "RefusedError",
    "NotAuthorizedError",
    "NoResourcesError",
    "PortInUseError",
    "UnsupportedError",
    "BadStateError",
    "WouldDeadlockError",
    "NotFoundError",
]

# The logging HOWTO's rule for libraries: nothing reaches stderr through
# logging's last resort until the application configures logging.
logging.getLogger("portmap").addHandler(logging.NullHandler())


def library_version() -> str:
    """The loaded library's version, e.g. ``"0.1.0"`` (``portmap_version()``)."""
    return _native.library_version()


def library_api() -> Tuple[int, int, int]:
    """The loaded library's API version as (major, minor, patch)."""
    return _native.library_api


def library_path() -> str:
    """The name or path the library was loaded from."""
    return _native.library_path


def strerror(code: int) -> str:
    """The library's text for an error code (``portmap_strerror()``)."""
    return _native.strerror(code)
