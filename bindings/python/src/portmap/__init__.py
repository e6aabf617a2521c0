"""Open ports on the local router: PCP, NAT-PMP and UPnP-IGD through libportmap.

    import portmap

    with portmap.Client() as client:
        with client.request(8000, "tcp", description="my server") as m:
            print(f"reachable at {m.external_address}:{m.external_port}")
            ...  # the library renews the lease until the block ends

The binding loads the shared library libportmap (``$PORTMAP_LIBRARY``, else
``libportmap.so.0`` from the system) and refuses, at import, a library of
another API generation. The library's log goes to the ``portmap`` logger.
"""

from __future__ import annotations

from typing import Tuple

from . import _native
from ._enums import AddressKind, ErrorCode, EventKind, Family, LogLevel, Method, State, Transport
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
from . import errors as _errors
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
    "API_MAJOR",
    "API_MINOR",
]
# The exception classes, listed once in errors.py. Type checkers read
# "__all__ += module.__all__" (not "+"), and mypy only the "X as X"
# imports above, as exporting them.
__all__ += _errors.__all__


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
