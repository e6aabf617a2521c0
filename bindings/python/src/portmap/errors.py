"""Exceptions: one class per common ``portmap_error``, all under PortmapError.

Each also derives from the stdlib exception that a caller not knowing
portmap would catch: InvalidArgumentError is a ValueError, NoGatewayError
a ConnectionError (an OSError), GatewayTimeoutError a TimeoutError (an
OSError), BadStateError and WouldDeadlockError RuntimeErrors,
NotFoundError a LookupError.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional, Type, Union

from ._enums import ErrorCode

if TYPE_CHECKING:  # pragma: no cover
    from .client import Discovery, DualDiscovery

__all__ = [
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


def _strerror(code: int) -> str:
    # Imported late: errors.py must be importable (and its classes usable
    # in tests) before the library is loaded.
    from . import _native

    return _native.strerror(code)


class PortmapError(Exception):
    """A libportmap call failed.

    Attributes:
        code: the :class:`ErrorCode` (a plain ``int`` if a newer library
            returned a code this binding does not know).
        message: the library's text for the code (``portmap_strerror()``).
        context: what was being done, e.g. ``"request 27015/udp"``, or None.
        discovery: for :class:`NoGatewayError` raised by ``discover()``, what
            was found before the failure (the gateway may be known even if
            it did not answer), a DualDiscovery from ``discover_dual()``;
            otherwise None.
    """

    code: Union[ErrorCode, int]
    message: str
    context: Optional[str]
    discovery: Optional[Union["Discovery", "DualDiscovery"]]

    def __init__(self, code: int, context: Optional[str] = None, message: Optional[str] = None):
        try:
            self.code = ErrorCode(code)
        except ValueError:
            self.code = int(code)
        self.message = message if message is not None else _strerror(int(code))
        self.context = context
        self.discovery = None
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.context}: {self.message}" if self.context else self.message

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), int(self.code), self.context, self.message))

    @staticmethod
    def from_code(code: int, context: Optional[str] = None, message: Optional[str] = None) -> "PortmapError":
        """Build the exception of the most specific class for ``code``."""
        cls = _BY_CODE.get(int(code), PortmapError)
        return cls(code, context, message)


def _rebuild(cls: Type[PortmapError], code: int, context: Optional[str], message: str) -> PortmapError:
    return cls(code, context, message)


class InvalidArgumentError(PortmapError, ValueError):
    """``INVALID_ARGUMENT``: a parameter is out of range (also a ValueError)."""


class NoGatewayError(PortmapError, ConnectionError):
    """``NO_GATEWAY``: no default gateway, or none answered any protocol
    (also a ConnectionError, so an OSError, as the stdlib's failures to
    reach a peer are)."""


class GatewayTimeoutError(PortmapError, TimeoutError):
    """``TIMEOUT``: the gateway did not answer in time (also a TimeoutError)."""


class ClientClosedError(PortmapError):
    """``CANCELLED``: the client was closed before or while the call ran
    (or a pending request was released before the router answered)."""


class RefusedError(PortmapError):
    """``REFUSED`` and the base of the other refusals by the gateway."""


class NotAuthorizedError(RefusedError):
    """``NOT_AUTHORIZED``: the gateway does not allow this mapping."""


class NoResourcesError(RefusedError):
    """``NO_RESOURCES``: the gateway has no port or table room left."""


class PortInUseError(RefusedError):
    """``PORT_IN_USE``: the external port is taken by another mapping."""


class UnsupportedError(PortmapError):
    """``UNSUPPORTED``: the gateway does not speak the requested protocol."""


class BadStateError(PortmapError, RuntimeError):
    """``BAD_STATE``: not allowed in the object's current state."""


class WouldDeadlockError(PortmapError, RuntimeError):
    """``WOULD_DEADLOCK``: a blocking call was made from inside a callback."""


class NotFoundError(PortmapError, LookupError):
    """``NOT_FOUND``: no such mapping."""


_BY_CODE: Dict[int, Type[PortmapError]] = {
    ErrorCode.INVALID_ARGUMENT: InvalidArgumentError,
    ErrorCode.NO_GATEWAY: NoGatewayError,
    ErrorCode.TIMEOUT: GatewayTimeoutError,
    ErrorCode.CANCELLED: ClientClosedError,
    ErrorCode.REFUSED: RefusedError,
    ErrorCode.NOT_AUTHORIZED: NotAuthorizedError,
    ErrorCode.NO_RESOURCES: NoResourcesError,
    ErrorCode.PORT_IN_USE: PortInUseError,
    ErrorCode.UNSUPPORTED: UnsupportedError,
    ErrorCode.BAD_STATE: BadStateError,
    ErrorCode.WOULD_DEADLOCK: WouldDeadlockError,
    ErrorCode.NOT_FOUND: NotFoundError,
}
