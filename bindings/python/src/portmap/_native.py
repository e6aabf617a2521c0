"""ctypes declarations of include/portmap/portmap.h and the loaded library.

The structs below copy the header field by field, reserved bytes included;
tests/test_unit.py compiles a C program that prints the header's sizes and
offsets and compares them with these. Importing this module loads the
library and refuses (ImportError) a library of another API generation, so
that a mismatch can never reach a struct or a call.

Library lookup: $PORTMAP_LIBRARY (a path; nothing else is tried when it is
set), else libportmap.so.<API_MAJOR> through the dynamic loader, else
ctypes.util.find_library("portmap").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_int,
    c_int64,
    c_size_t,
    c_uint,
    c_uint8,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)
from typing import Any, List, Optional, Tuple

from ._version import API_MAJOR, API_MINOR, __version__

ADDRSTRLEN = 46  # PORTMAP_ADDRSTRLEN
METHOD_COUNT = 4  # PORTMAP_METHOD_COUNT
DISCOVER_FRESH = 1  # PORTMAP_DISCOVER_FRESH

# C enums are int-sized with GCC and Clang on the platforms libportmap
# supports; the layout test checks it.
c_enum = c_int

LOG_CALLBACK = CFUNCTYPE(None, c_void_p, c_enum, c_char_p)


class Settings(Structure):
    """struct portmap_settings"""

    _fields_ = [
        ("methods", c_enum * METHOD_COUNT),
        ("default_lifetime", c_uint32),
        ("timeout_ms", c_int),
        ("gateway", c_char_p),
        ("release_on_close", c_int),
        ("close_timeout_ms", c_int),
        ("state_dir", c_char_p),
        ("log_callback", LOG_CALLBACK),
        ("log_user", c_void_p),
        ("log_level", c_enum),
        ("keep_orphans", c_int),
        ("reserved", c_uint8 * 60),
    ]


class Discovery(Structure):
    """struct portmap_discovery"""

    _fields_ = [
        ("gateway", c_char * ADDRSTRLEN),
        ("local_address", c_char * ADDRSTRLEN),
        ("external_address", c_char * ADDRSTRLEN),
        ("methods", c_uint),
        ("preferred", c_enum),
        ("pcp_version", c_int),
        ("upnp_version", c_int),
        ("upnp_service", c_char * 48),
        ("double_nat", c_int),
        ("family", c_enum),
        ("address_kind", c_enum),
        ("reserved", c_uint8 * 56),
    ]


class MappingInfo(Structure):
    """struct portmap_mapping_info"""

    _fields_ = [
        ("state", c_enum),
        ("method", c_enum),
        ("protocol", c_enum),
        ("internal_port", c_uint16),
        ("external_port", c_uint16),
        ("internal_address", c_char * ADDRSTRLEN),
        ("external_address", c_char * ADDRSTRLEN),
        ("lifetime", c_uint32),
        ("refresh_in_ms", c_int64),
        ("expires_in_ms", c_int64),
        ("last_error", c_enum),
        ("renewals", c_uint32),
        ("permanent", c_int),
        ("double_nat", c_int),
        ("family", c_enum),
        ("address_kind", c_enum),
        ("no_route", c_int),
        ("reserved", c_uint8 * 52),
    ]


MAPPING_CALLBACK = CFUNCTYPE(None, c_void_p, c_enum, POINTER(MappingInfo), c_void_p)


class Request(Structure):
    """struct portmap_request"""

    _fields_ = [
        ("protocol", c_enum),
        ("internal_port", c_uint16),
        ("external_port", c_uint16),
        ("lifetime", c_uint32),
        ("description", c_char_p),
        ("method", c_enum),
        ("timeout_ms", c_int),
        ("callback", MAPPING_CALLBACK),
        ("user", c_void_p),
        ("allow", c_char_p),
        ("family", c_enum),
        ("internal_address", c_char * ADDRSTRLEN),
        ("reserved", c_uint8 * 6),
    ]


class Counters(Structure):
    """struct portmap_counters"""

    _fields_ = [
        ("requests_sent", c_uint64),
        ("retransmissions", c_uint64),
        ("responses", c_uint64),
        ("dropped_wrong_source", c_uint64),
        ("dropped_unmatched", c_uint64),
        ("dropped_malformed", c_uint64),
        ("renewals", c_uint64),
        ("remaps_after_reset", c_uint64),
        ("announcements", c_uint64),
        ("errors", c_uint64 * 32),
        ("reserved", c_uint8 * 64),
    ]


class RouterEntry(Structure):
    """struct portmap_router_entry"""

    _fields_ = [
        ("protocol", c_enum),
        ("external_port", c_uint16),
        ("internal_port", c_uint16),
        ("internal_client", c_char * ADDRSTRLEN),
        ("remote_host", c_char * ADDRSTRLEN),
        ("description", c_char * 64),
        ("lease", c_uint32),
        ("enabled", c_int),
        ("ours", c_int),
        ("held", c_int),
        ("ipv6", c_uint8),
        ("reserved", c_uint8 * 31),
    ]


# Every function of portmap.h: name -> (restype, argtypes). Opaque handles
# (portmap_client *, portmap_mapping *) are c_void_p.
PROTOTYPES = {
    "portmap_strerror": (c_char_p, [c_int]),
    "portmap_method_name": (c_char_p, [c_enum]),
    "portmap_address_kind_name": (c_char_p, [c_enum]),
    "portmap_default_settings": (None, [POINTER(Settings)]),
    "portmap_version": (c_char_p, []),
    "portmap_version_api": (c_uint, []),
    "portmap_open": (c_int, [POINTER(c_void_p), POINTER(Settings)]),
    "portmap_close": (c_int, [POINTER(c_void_p)]),
    "portmap_discover": (c_int, [c_void_p, POINTER(Discovery), c_uint, c_int]),
    "portmap_discover_dual": (
        c_int,
        [c_void_p, POINTER(Discovery), POINTER(Discovery), c_uint, c_int],
    ),
    "portmap_external_ip": (c_int, [c_void_p, c_char_p, c_size_t, c_int]),
    "portmap_state_name": (c_char_p, [c_enum]),
    "portmap_event_name": (c_char_p, [c_enum]),
    "portmap_request_init": (None, [POINTER(Request)]),
    "portmap_request_mapping": (c_int, [c_void_p, POINTER(Request), POINTER(c_void_p)]),
    "portmap_mapping_wait": (c_int, [c_void_p, c_int, POINTER(MappingInfo)]),
    "portmap_mapping_get_info": (c_int, [c_void_p, POINTER(MappingInfo)]),
    "portmap_mapping_get_family_info": (c_int, [c_void_p, c_enum, POINTER(MappingInfo)]),
    "portmap_mapping_get_reason": (c_int, [c_void_p, c_enum, c_char_p, c_size_t]),
    "portmap_discover_reason": (c_int, [c_void_p, c_enum, c_char_p, c_size_t]),
    "portmap_mapping_renew": (c_int, [c_void_p]),
    "portmap_mapping_release": (c_int, [POINTER(c_void_p), c_int]),
    "portmap_release_port": (c_int, [c_void_p, c_enum, c_uint16, c_enum, c_int]),
    "portmap_release_port_for": (c_int, [c_void_p, c_char_p, c_enum, c_uint16, c_enum, c_int]),
    "portmap_cleanup": (c_int, [c_void_p, c_int, POINTER(c_uint)]),
    "portmap_sync_journal": (c_int, [c_void_p, c_int]),
    "portmap_get_counters": (c_int, [c_void_p, POINTER(Counters)]),
    "portmap_router_mappings": (
        c_int,
        [c_void_p, POINTER(POINTER(RouterEntry)), POINTER(c_size_t), c_int],
    ),
    "portmap_router_pinholes": (
        c_int,
        [c_void_p, POINTER(POINTER(RouterEntry)), POINTER(c_size_t)],
    ),
    "portmap_journal_mappings": (
        c_int,
        [c_void_p, POINTER(POINTER(RouterEntry)), POINTER(c_size_t)],
    ),
    "portmap_router_entries_free": (None, [POINTER(RouterEntry)]),
    "portmap_router_delete": (c_int, [c_void_p, POINTER(RouterEntry), c_int]),
}


def _candidates() -> Tuple[List[str], bool]:
    explicit = os.environ.get("PORTMAP_LIBRARY")
    if explicit:
        return [explicit], True
    names = [f"libportmap.so.{API_MAJOR}"]
    return names, False


def _open_library() -> Tuple[ctypes.CDLL, str]:
    names, explicit = _candidates()
    errors = []
    for name in names:
        try:
            return ctypes.CDLL(name), name
        except OSError as e:
            errors.append(f"{name}: {e}")
    if not explicit:
        # Slower (it runs ldconfig): only when the soname was not found.
        found = ctypes.util.find_library("portmap")
        if found:
            try:
                return ctypes.CDLL(found), found
            except OSError as e:
                errors.append(f"{found}: {e}")
    hint = (
        "PORTMAP_LIBRARY is set but does not name a loadable libportmap"
        if explicit
        else "install libportmap (meson install -C build; ldconfig) or set PORTMAP_LIBRARY "
        "to the full path of libportmap.so.0 (e.g. build/libportmap/libportmap.so.0)"
    )
    raise ImportError(f"portmap: cannot load libportmap: {hint} ({'; '.join(errors)})")


def _bind(lib: ctypes.CDLL, path: str) -> None:
    missing = []
    for name, (restype, argtypes) in PROTOTYPES.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            missing.append(name)
            continue
        fn.restype = restype
        fn.argtypes = argtypes
    if missing:
        raise ImportError(f"portmap: {path} lacks {', '.join(missing)}: not a libportmap {API_MAJOR}.{API_MINOR}")


def _check_version(lib: ctypes.CDLL, path: str) -> Tuple[int, int, int]:
    try:
        fn = lib.portmap_version_api
    except AttributeError:
        raise ImportError(f"portmap: {path} has no portmap_version_api(): not a libportmap") from None
    fn.restype = c_uint
    fn.argtypes = []
    api = fn()
    major, minor, patch = (api >> 16) & 0xFFFF, (api >> 8) & 0xFF, api & 0xFF
    if (major, minor) != (API_MAJOR, API_MINOR):
        raise ImportError(
            f"portmap: the binding {__version__} was written for the libportmap API "
            f"{API_MAJOR}.{API_MINOR}, but {path} has API {major}.{minor}.{patch}; "
            f"install the binding that comes with that library, or point PORTMAP_LIBRARY "
            f"to a libportmap {API_MAJOR}.{API_MINOR}.x"
        )
    return major, minor, patch


lib, library_path = _open_library()
# The version is checked before any other symbol is looked up or any struct
# is passed: a library of another generation is never called otherwise.
library_api = _check_version(lib, library_path)
_bind(lib, library_path)


def _text(b: Optional[bytes]) -> str:
    return b.decode("utf-8", "replace") if b else ""


def strerror(code: int) -> str:
    """The library's text for an error code (never empty)."""
    return _text(lib.portmap_strerror(int(code)))


def library_version() -> str:
    """The library's version string, e.g. "0.1.0"."""
    return _text(lib.portmap_version())


def decode(buf: Any) -> str:
    """A NUL-terminated char array of a struct as str."""
    return _text(bytes(buf).split(b"\0", 1)[0])
