"""Tests that need neither the lab nor any network traffic.

The binding against the header: enums, struct layouts (through a C program
compiled with cc), prototypes, versions; the error mapping; argument
validation; the client's life cycle; import-time refusal of a wrong
library.
"""

from __future__ import annotations

import ctypes
import dataclasses
import gc
import inspect
import logging
import os
import pickle
import pydoc
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import unittest
from typing import Dict, List, Optional, Tuple

import support  # noqa: F401 - sets sys.path

import portmap
from portmap import _native
from portmap.errors import PortmapError

ON_CI = os.environ.get("CI") == "true"


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def header_text() -> str:
    with open(support.HEADER, encoding="utf-8") as f:
        return _strip_comments(f.read())


def header_enums() -> Dict[str, Dict[str, int]]:
    enums: Dict[str, Dict[str, int]] = {}
    for name, body in re.findall(r"typedef\s+enum\s+(\w+)\s*\{(.*?)\}\s*\1\s*;", header_text(), re.S):
        members: Dict[str, int] = {}
        for item in body.split(","):
            item = item.strip()
            if not item:
                continue
            m = re.fullmatch(r"(\w+)\s*=\s*(\d+)", item)
            assert m, f"enum {name}: cannot parse {item!r}"
            members[m.group(1)] = int(m.group(2))
        enums[name] = members
    return enums


def header_structs() -> Dict[str, List[str]]:
    structs: Dict[str, List[str]] = {}
    for name, body in re.findall(r"typedef\s+struct\s+(\w+)\s*\{(.*?)\}\s*\1\s*;", header_text(), re.S):
        fields = []
        for decl in body.split(";"):
            decl = decl.strip()
            if not decl:
                continue
            m = re.search(r"(\w+)\s*(\[[^\]]*\])?\s*$", decl)
            assert m, f"struct {name}: cannot parse {decl!r}"
            fields.append(m.group(1))
        structs[name] = fields
    return structs


def header_functions() -> Dict[str, int]:
    """Function name -> number of parameters."""
    funcs = {}
    for name, params in re.findall(r"PORTMAP_API\s+[^;(]*?\b(portmap_\w+)\s*\(([^)]*)\)\s*;", header_text(), re.S):
        params = params.strip()
        funcs[name] = 0 if params in ("", "void") else params.count(",") + 1
    return funcs


def version_h() -> Tuple[int, int, int]:
    with open(support.VERSION_H, encoding="utf-8") as f:
        text = f.read()
    parts = [int(re.search(rf"#define PORTMAP_API_VERSION_{p} (\d+)", text).group(1))  # type: ignore[union-attr]
             for p in ("MAJOR", "MINOR", "PATCH")]
    return parts[0], parts[1], parts[2]


STRUCTS = {
    "portmap_settings": _native.Settings,
    "portmap_discovery": _native.Discovery,
    "portmap_mapping_info": _native.MappingInfo,
    "portmap_request": _native.Request,
    "portmap_router_entry": _native.RouterEntry,
    "portmap_counters": _native.Counters,
}

ENUMS = {
    "portmap_error": (portmap.ErrorCode, lambda n: "PORTMAP_OK" if n == "OK" else "PORTMAP_ERR_" + n),
    "portmap_method": (portmap.Method, lambda n: "PORTMAP_METHOD_" + n),
    "portmap_transport": (portmap.Transport, lambda n: "PORTMAP_" + n),
    "portmap_log_level": (portmap.LogLevel, lambda n: "PORTMAP_LOG_" + n),
    "portmap_state": (portmap.State, lambda n: "PORTMAP_STATE_" + n),
    "portmap_event": (portmap.EventKind, lambda n: "PORTMAP_EVENT_" + n),
    "portmap_family": (portmap.Family, lambda n: "PORTMAP_FAMILY_DEFAULT" if n == "DEFAULT" else "PORTMAP_" + n),
    "portmap_address_kind": (portmap.AddressKind, lambda n: "PORTMAP_ADDRESS_" + n),
}


def compiler() -> str:
    cc = shutil.which(os.environ.get("CC", "cc"))
    if cc is None:
        if ON_CI:
            raise AssertionError("no C compiler: the layout tests need cc (build-essential)")
        raise unittest.SkipTest("no C compiler")
    return cc


def compile_and_run(source: str, *, shared: bool = False) -> str:
    """Compile source against the public headers; run it (or return the .so path)."""
    cc = compiler()
    tmp = tempfile.mkdtemp(prefix="portmap-cc-")
    src = os.path.join(tmp, "prog.c")
    out = os.path.join(tmp, "libfake.so" if shared else "prog")
    with open(src, "w", encoding="utf-8") as f:
        f.write(source)
    cmd = [cc, "-std=gnu11", "-Wall", "-I", os.path.join(support.SOURCE_ROOT, "include"), src, "-o", out]
    if shared:
        cmd[1:1] = ["-shared", "-fPIC"]
    subprocess.run(cmd, check=True)
    if shared:
        return out
    return subprocess.run([out], check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout


class HeaderMirror(unittest.TestCase):
    """The ctypes declarations are the header's, field by field."""

    def test_struct_fields_are_the_headers(self) -> None:
        structs = header_structs()
        self.assertEqual(set(structs), set(STRUCTS), "public structs added or removed")
        for cname, cls in STRUCTS.items():
            with self.subTest(struct=cname):
                self.assertEqual([f[0] for f in cls._fields_], structs[cname])

    def test_struct_layouts_match_the_compiler(self) -> None:
        lines = ["#include <stddef.h>", "#include <stdio.h>", "#include <portmap/portmap.h>",
                 "int main(void)", "{"]
        for cname, cls in STRUCTS.items():
            lines.append(f'    printf("{cname} %zu %zu\\n", sizeof({cname}), _Alignof({cname}));')
            for field, *_ in cls._fields_:
                lines.append(f'    printf("{cname}.{field} %zu %zu\\n", offsetof({cname}, {field}), '
                             f"sizeof((({cname} *)0)->{field}));")
        lines += ["    return 0;", "}"]
        got = {}
        for line in compile_and_run("\n".join(lines) + "\n").splitlines():
            key, a, b = line.split()
            got[key] = (int(a), int(b))
        for cname, cls in STRUCTS.items():
            with self.subTest(struct=cname):
                self.assertEqual(got[cname], (ctypes.sizeof(cls), ctypes.alignment(cls)), "size, alignment")
                for field, *_ in cls._fields_:
                    desc = getattr(cls, field)
                    self.assertEqual(got[f"{cname}.{field}"], (desc.offset, desc.size), f"{cname}.{field}")

    def test_enums_and_constants_match_the_compiler(self) -> None:
        names = []
        for _, (pyenum, cname_of) in ENUMS.items():
            names += [(cname_of(m.name), int(m)) for m in pyenum]
        names += [("PORTMAP_ADDRSTRLEN", _native.ADDRSTRLEN), ("PORTMAP_METHOD_COUNT", _native.METHOD_COUNT),
                  ("PORTMAP_DISCOVER_FRESH", _native.DISCOVER_FRESH),
                  ("PORTMAP_API_VERSION", (portmap.API_MAJOR << 16) | (portmap.API_MINOR << 8) | version_h()[2])]
        body = "\n".join(f'    printf("{n} %lld\\n", (long long){n});' for n, _ in names)
        enum_sizes = "\n".join(f'    printf("sizeof {e} %zu\\n", sizeof({e}));' for e in ENUMS)
        out = compile_and_run(
            "#include <stdio.h>\n#include <portmap/portmap.h>\nint main(void)\n{\n"
            f"{body}\n{enum_sizes}\n    return 0;\n}}\n")
        values = {}
        for line in out.splitlines():
            *key, value = line.split()
            values[" ".join(key)] = int(value)
        for n, v in names:
            self.assertEqual(values[n], v, n)
        for e in ENUMS:
            self.assertEqual(values[f"sizeof {e}"], ctypes.sizeof(_native.c_enum), f"sizeof {e}")

    def test_enums_have_exactly_the_headers_members(self) -> None:
        enums = header_enums()
        self.assertEqual(set(enums), set(ENUMS), "public enums added or removed")
        for cname, (pyenum, cname_of) in ENUMS.items():
            with self.subTest(enum=cname):
                self.assertEqual({cname_of(m.name): int(m) for m in pyenum}, enums[cname])

    def test_every_function_is_declared_with_its_arity(self) -> None:
        funcs = header_functions()
        self.assertEqual(set(funcs), set(_native.PROTOTYPES), "functions added or removed")
        for name, n in funcs.items():
            with self.subTest(function=name):
                self.assertEqual(len(_native.PROTOTYPES[name][1]), n)
                self.assertEqual(getattr(_native.lib, name).argtypes, _native.PROTOTYPES[name][1])

    def test_names_are_the_librarys(self) -> None:
        lib = _native.lib
        for m in portmap.Method:
            self.assertEqual(str(m), lib.portmap_method_name(m).decode())
        for s in portmap.State:
            self.assertEqual(str(s), lib.portmap_state_name(s).decode())
        for e in portmap.EventKind:
            self.assertEqual(str(e), lib.portmap_event_name(e).decode())
        for k in portmap.AddressKind:
            self.assertEqual(str(k), lib.portmap_address_kind_name(k).decode())
        self.assertEqual(lib.portmap_address_kind_name(99), b"")
        self.assertEqual(f"{portmap.Transport.UDP}", "udp")
        self.assertEqual(f"{portmap.Method.NATPMP:>8}", "  natpmp")


class Versions(unittest.TestCase):
    def test_binding_version_is_version_h(self) -> None:
        major, minor, patch = version_h()
        self.assertEqual(portmap.__version__, f"{major}.{minor}.{patch}")
        self.assertEqual((portmap.API_MAJOR, portmap.API_MINOR), (major, minor))

    def test_library_reports_its_version(self) -> None:
        self.assertEqual(portmap.library_api(), version_h())
        self.assertEqual(portmap.library_version(), portmap.__version__)
        self.assertEqual(_native.lib.portmap_version_api(),
                         (version_h()[0] << 16) | (version_h()[1] << 8) | version_h()[2])


class Errors(unittest.TestCase):
    EXPECTED = {
        "INVALID_ARGUMENT": (portmap.InvalidArgumentError, ValueError),
        "NO_GATEWAY": (portmap.NoGatewayError, ConnectionError),
        "TIMEOUT": (portmap.GatewayTimeoutError, TimeoutError),
        "CANCELLED": (portmap.ClientClosedError, PortmapError),
        "REFUSED": (portmap.RefusedError, PortmapError),
        "NOT_AUTHORIZED": (portmap.NotAuthorizedError, portmap.RefusedError),
        "NO_RESOURCES": (portmap.NoResourcesError, portmap.RefusedError),
        "PORT_IN_USE": (portmap.PortInUseError, portmap.RefusedError),
        "UNSUPPORTED": (portmap.UnsupportedError, PortmapError),
        "BAD_STATE": (portmap.BadStateError, RuntimeError),
        "WOULD_DEADLOCK": (portmap.WouldDeadlockError, RuntimeError),
        "NOT_FOUND": (portmap.NotFoundError, LookupError),
    }

    def test_every_code_maps_to_its_class_and_the_c_message(self) -> None:
        for code in portmap.ErrorCode:
            if code == portmap.ErrorCode.OK:
                continue
            with self.subTest(code=code.name):
                err = PortmapError.from_code(int(code), "doing it")
                cls, base = self.EXPECTED.get(code.name, (PortmapError, Exception))
                self.assertIs(type(err), cls)
                self.assertIsInstance(err, base)
                self.assertIsInstance(err, PortmapError)
                self.assertIs(err.code, code)
                expected_msg = _native.lib.portmap_strerror(int(code)).decode()
                self.assertEqual(err.message, expected_msg)
                self.assertEqual(str(err), f"doing it: {expected_msg}")
                again = pickle.loads(pickle.dumps(err))
                self.assertIs(type(again), cls)
                self.assertEqual((again.code, str(again)), (err.code, str(err)))

    def test_stdlib_hierarchy(self) -> None:
        # code that knows only the stdlib catches what it would catch from
        # socket calls: a peer that cannot be reached, a timeout
        self.assertTrue(issubclass(portmap.NoGatewayError, ConnectionError))
        self.assertTrue(issubclass(portmap.NoGatewayError, OSError))
        self.assertTrue(issubclass(portmap.GatewayTimeoutError, TimeoutError))
        self.assertTrue(issubclass(portmap.InvalidArgumentError, ValueError))
        err = PortmapError.from_code(portmap.ErrorCode.NO_GATEWAY, "request 80/udp")
        try:
            raise err
        except OSError as e:
            self.assertIsNone(e.errno)
            self.assertEqual(str(e), f"request 80/udp: {portmap.strerror(3)}")

    def test_unknown_code_keeps_its_number(self) -> None:
        err = PortmapError.from_code(99)
        self.assertIs(type(err), PortmapError)
        self.assertEqual(err.code, 99)
        self.assertEqual(err.message, portmap.strerror(99))
        self.assertTrue(err.message)

    def test_family_and_address_kind(self) -> None:
        F, K = portmap.Family, portmap.AddressKind
        self.assertEqual([int(f) for f in F], [0, 1, 2, 3])
        self.assertEqual(F.IPV4 | F.IPV6, F.IPV4_IPV6)  # as in the header
        self.assertEqual([str(f) for f in F], ["default", "ipv4", "ipv6", "both"])
        for text, member in (("ipv4", F.IPV4), ("IPv6", F.IPV6), ("both", F.IPV4_IPV6),
                             ("ipv4_ipv6", F.IPV4_IPV6), (" Both ", F.IPV4_IPV6), (2, F.IPV6)):
            with self.subTest(text=text):
                self.assertIs(F.parse(text), member)
        for bad in ("ipv5", "4", "", "inet6"):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                F.parse(bad)
        with self.assertRaises(ValueError):
            F.parse(4)
        with self.assertRaises(TypeError):
            F.parse(True)
        self.assertEqual([int(k) for k in K], [0, 1, 2, 3, 4])
        self.assertIs(K.parse("stable unique-local"), K.STABLE_ULA)
        self.assertIs(K.parse("temporary_ula"), K.TEMPORARY_ULA)
        self.assertIs(K.parse("na"), K.NA)
        self.assertEqual(f"{K.STABLE:>8}", "  stable")
        with self.assertRaises(ValueError):
            K.parse("")

    def test_enum_parse(self) -> None:
        self.assertIs(portmap.Transport.parse("TCP"), portmap.Transport.TCP)
        self.assertIs(portmap.Method.parse(3), portmap.Method.UPNP)
        with self.assertRaises(ValueError):
            portmap.Method.parse("igd")
        with self.assertRaises(TypeError):
            portmap.Method.parse(True)


class Validation(unittest.TestCase):
    """Bad arguments are refused before anything reaches the library."""

    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory(prefix="portmap-test-")
        self.addCleanup(tmp.cleanup)
        # Never used for traffic: every request below is refused first.
        self.c = portmap.Client(gateway=support.FAKE_GW, state_dir=tmp.name)
        self.addCleanup(self.c.close)

    def test_client_options(self) -> None:
        bad = [
            ({"methods": ["pcp", "pcp"]}, portmap.InvalidArgumentError),
            ({"methods": ["auto"]}, portmap.InvalidArgumentError),
            ({"methods": []}, portmap.InvalidArgumentError),
            ({"methods": ["igd"]}, portmap.InvalidArgumentError),
            ({"methods": [1.5]}, TypeError),
            ({"timeout": 0}, portmap.InvalidArgumentError),
            ({"timeout": -1}, portmap.InvalidArgumentError),
            ({"timeout": float("nan")}, portmap.InvalidArgumentError),
            ({"timeout": 1e10}, portmap.InvalidArgumentError),
            ({"timeout": "10"}, TypeError),
            ({"timeout": True}, TypeError),
            ({"gateway": "10.0.0"}, portmap.InvalidArgumentError),
            ({"gateway": "fe80::g"}, portmap.InvalidArgumentError),
            ({"gateway": "fe80::1%"}, portmap.InvalidArgumentError),
            ({"gateway": "2001:db8::1%lo"}, portmap.InvalidArgumentError),  # zone on a global address
            ({"gateway": "10.0.0.1%lo"}, portmap.InvalidArgumentError),
            ({"gateway": "fe80::1%no-such-link0"}, portmap.InvalidArgumentError),  # refused by the library
            ({"gateway": 167772161}, TypeError),
            ({"default_lifetime": 0}, portmap.InvalidArgumentError),
            ({"default_lifetime": 2**32}, portmap.InvalidArgumentError),
            ({"close_timeout": -0.5}, portmap.InvalidArgumentError),
            ({"state_dir": "a\0b"}, portmap.InvalidArgumentError),
            ({"log_level": "verbose"}, portmap.InvalidArgumentError),
            ({"on_event": 42}, TypeError),
        ]
        for kw, exc in bad:
            with self.subTest(**{k: repr(v) for k, v in kw.items()}):
                with self.assertRaises(exc) as cm:
                    portmap.Client(**kw)  # type: ignore[arg-type]
                if isinstance(cm.exception, PortmapError):
                    self.assertEqual(cm.exception.code, portmap.ErrorCode.INVALID_ARGUMENT)

    def test_client_options_accepted(self) -> None:
        with portmap.Client(methods=("upnp", portmap.Method.PCP), timeout=0.25, close_timeout=0,
                            default_lifetime=60, log_level="debug", release_on_close=False,
                            gateway="127.0.0.77", state_dir=self.c_state()) as c:
            self.assertEqual(c.timeout, 0.25)
        self.assertTrue(c.closed)

    def test_ipv6_gateways_accepted(self) -> None:
        for gw in ("fe80::1", "fe80::1%lo", "2001:db8::1"):
            with self.subTest(gateway=gw):
                with portmap.Client(gateway=gw, state_dir=self.c_state()) as c:
                    self.assertFalse(c.closed)

    def c_state(self) -> str:
        tmp = tempfile.TemporaryDirectory(prefix="portmap-test-")
        self.addCleanup(tmp.cleanup)
        return tmp.name

    def test_request_arguments(self) -> None:
        bad = [
            ((0,), {}, portmap.InvalidArgumentError),
            ((65536,), {}, portmap.InvalidArgumentError),
            ((-1,), {}, portmap.InvalidArgumentError),
            (("80",), {}, TypeError),
            ((80.0,), {}, TypeError),
            ((True,), {}, TypeError),
            ((80, "sctp"), {}, portmap.InvalidArgumentError),
            ((80, 7), {}, portmap.InvalidArgumentError),
            ((80, None), {}, TypeError),
            ((80,), {"protocol": "igd"}, portmap.InvalidArgumentError),
            ((80,), {"external_port": 65536}, portmap.InvalidArgumentError),
            ((80,), {"lifetime": 0}, portmap.InvalidArgumentError),
            ((80,), {"lifetime": 2**32}, portmap.InvalidArgumentError),
            ((80,), {"description": "a\0b"}, portmap.InvalidArgumentError),
            ((80,), {"description": 5}, TypeError),
            ((80,), {"timeout": 0}, portmap.InvalidArgumentError),
            ((80,), {"timeout": -3}, portmap.InvalidArgumentError),
            ((80,), {"family": "ipv5"}, portmap.InvalidArgumentError),
            ((80,), {"family": 7}, portmap.InvalidArgumentError),
            ((80,), {"family": 6.0}, TypeError),
            ((80,), {"family": True}, TypeError),
            # allow names IPv4 peers: refused with any IPv6 in the family
            ((80,), {"family": "ipv6", "allow": "198.51.100.7"}, portmap.InvalidArgumentError),
            ((80,), {"family": "both", "allow": "198.51.100.0/24"}, portmap.InvalidArgumentError),
            ((80,), {"family": portmap.Family.IPV4_IPV6, "allow": "198.51.100.7"},
             portmap.InvalidArgumentError),
            # NAT-PMP has no IPv6 (the library's own verdict)
            ((80,), {"family": "ipv6", "protocol": "natpmp"}, portmap.UnsupportedError),
        ]
        for args, kw, exc in bad:
            with self.subTest(args=args, kw=kw):
                with self.assertRaises(exc):
                    self.c.request(*args, **kw)  # type: ignore[arg-type]
        self.assertEqual(self.c.mappings, [])
        from portmap.client import _routes

        self.assertEqual([m for m in _routes.values() if m._client is self.c], [])

    def test_other_arguments(self) -> None:
        with self.assertRaises(portmap.InvalidArgumentError):
            self.c.discover(timeout=0)
        with self.assertRaises(portmap.InvalidArgumentError):
            self.c.discover(family="both")  # discover_dual() does both
        with self.assertRaises(portmap.InvalidArgumentError):
            self.c.discover(family="ipx")
        with self.assertRaises(portmap.InvalidArgumentError):
            self.c.discover_dual(timeout=-1)
        with self.assertRaises(TypeError):
            self.c.external_ip(timeout="1")
        with self.assertRaises(portmap.InvalidArgumentError):
            self.c.release_port(0)
        with self.assertRaises(TypeError):
            self.c.router_delete("27015/udp")  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            self.c.on_event(None)  # type: ignore[arg-type]

    def test_description_over_63_bytes_is_refused(self) -> None:
        # never cut silently: the router would show another text
        from portmap._checks import _text_arg

        self.assertEqual(_text_arg("é" * 31 + "x", "description", limit=63), ("é" * 31 + "x").encode())
        for text in ("é" * 32, "x" * 64):
            with self.subTest(n=len(text.encode())), self.assertRaises(portmap.InvalidArgumentError) as cm:
                self.c.request(40001, "udp", description=text)
            self.assertIsInstance(cm.exception, ValueError)
            self.assertIn(f"description is {len(text.encode())} bytes", str(cm.exception))
        self.assertEqual(self.c.mappings, [])

    def test_misspelt_names_are_value_errors(self) -> None:
        # the type checker refuses them (Literal); at run time a clear ValueError
        for kw, text in (({"transport": "tpc"}, "transport: unknown Transport 'tpc' (expected one of: tcp, udp)"),
                         ({"protocol": "nat-pmp"}, "protocol: unknown Method 'nat-pmp'"),
                         ({"family": "ipv5"}, "family: unknown Family 'ipv5'")):
            with self.subTest(kw=kw), self.assertRaises(ValueError) as cm:
                self.c.request(40002, **kw)  # type: ignore[arg-type]
            self.assertIn(text, str(cm.exception))


class RequestStruct(unittest.TestCase):
    """What request() puts into struct portmap_request, seen by a stand-in
    for portmap_request_mapping() that records it and refuses."""

    def setUp(self) -> None:
        from portmap import client as client_mod

        tmp = tempfile.TemporaryDirectory(prefix="portmap-test-")
        self.addCleanup(tmp.cleanup)
        self.c = portmap.Client(gateway=support.FAKE_GW, state_dir=tmp.name)
        self.addCleanup(self.c.close)
        self.seen: List[Tuple[int, int, bytes, Optional[bytes]]] = []
        self.hosts: List[bytes] = []

        def fake(ptr: object, r: object, out: object) -> int:
            req = ctypes.cast(r, ctypes.POINTER(_native.Request)).contents
            self.seen.append((req.family, req.internal_port, bytes(req.reserved), req.allow))
            self.hosts.append(req.internal_address)
            return int(portmap.ErrorCode.NO_MEMORY)

        class Lib:
            def __getattr__(self, name: str) -> object:
                return fake if name == "portmap_request_mapping" else getattr(_native.lib, name)

        orig = client_mod._lib
        client_mod._lib = Lib()
        self.addCleanup(setattr, client_mod, "_lib", orig)

    def family_sent(self, **kw: object) -> int:
        with self.assertRaises(PortmapError):
            self.c.request(40000 + len(self.seen), **kw)  # type: ignore[arg-type]
        family, _, reserved, _ = self.seen[-1]
        self.assertEqual(reserved, bytes(6), "reserved bytes must stay zero")
        return family

    def test_family_in_the_request(self) -> None:
        self.assertEqual(self.family_sent(), 0)  # the library's default: IPv4
        self.assertEqual(self.family_sent(family="ipv4"), 1)
        self.assertEqual(self.family_sent(family="ipv6"), 2)
        self.assertEqual(self.family_sent(family="both"), 3)
        self.assertEqual(self.family_sent(family=portmap.Family.IPV4_IPV6), 3)
        self.assertEqual(self.family_sent(family=portmap.Family.DEFAULT), 1)
        self.assertEqual(self.family_sent(family="ipv4", allow="198.51.100.7"), 1)
        self.assertEqual(self.seen[-1][3], b"198.51.100.7")

    def test_internal_address_in_the_request(self) -> None:
        import ipaddress

        self.assertEqual(self.family_sent(), 0)
        self.assertEqual(self.hosts[-1], b"")  # this host
        self.assertEqual(self.family_sent(internal_address="192.168.1.23"), 0)
        self.assertEqual(self.hosts[-1], b"192.168.1.23")
        self.assertEqual(self.family_sent(internal_address=ipaddress.ip_address("192.168.1.24")), 0)
        self.assertEqual(self.hosts[-1], b"192.168.1.24")
        # an IPv6 host makes the request a pinhole of its address
        self.assertEqual(self.family_sent(internal_address="2001:db8::23"), 2)
        self.assertEqual(self.hosts[-1], b"2001:db8::23")
        self.assertEqual(self.family_sent(internal_address="2001:db8::23", family="ipv6"), 2)
        n = len(self.seen)
        for bad in ("not-an-address", "127.0.0.1", "224.0.0.1", "fe80::1", "0.0.0.0", "::1"):
            with self.assertRaises(portmap.InvalidArgumentError, msg=bad):
                self.c.request(40100, internal_address=bad)
        with self.assertRaisesRegex(portmap.InvalidArgumentError, "one host, one family"):
            self.c.request(40100, internal_address="192.168.1.23", family="both")
        with self.assertRaises(TypeError):
            self.c.request(40100, internal_address=1234)  # type: ignore[arg-type]
        self.assertEqual(len(self.seen), n, "a bad internal_address never reaches the library")


class Lifecycle(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory(prefix="portmap-test-")
        self.addCleanup(tmp.cleanup)
        self.state_dir = tmp.name

    def client(self) -> portmap.Client:
        return portmap.Client(gateway=support.FAKE_GW, state_dir=self.state_dir)

    def test_close_twice(self) -> None:
        c = self.client()
        self.assertFalse(c.closed)
        c.close()
        self.assertTrue(c.closed)
        self.assertIsNone(c._gate.ptr.value, "portmap_close() did not run")
        c.close()
        self.assertIn("closed", repr(c))

    def test_close_from_many_threads(self) -> None:
        c = self.client()
        barrier = threading.Barrier(8)
        errors: List[BaseException] = []

        def closer() -> None:
            try:
                barrier.wait()
                c.close()
                # every caller returns only once the client is closed
                self.assertIsNone(c._gate.ptr.value)
            except BaseException as e:  # noqa: B036
                errors.append(e)

        threads = [threading.Thread(target=closer) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        self.assertEqual(errors, [])
        self.assertTrue(c.closed)

    def test_context_manager_closes(self) -> None:
        with self.client() as c:
            self.assertFalse(c.closed)
        self.assertTrue(c.closed)

    def test_calls_after_close_raise(self) -> None:
        c = self.client()
        c.close()
        for call in (c.discover, c.external_ip, c.router_mappings, lambda: c.request(40000),
                     lambda: c.release_port(40000)):
            with self.assertRaises(portmap.ClientClosedError) as cm:
                call()
            self.assertEqual(cm.exception.code, portmap.ErrorCode.CANCELLED)

    def test_garbage_collected_client_is_closed(self) -> None:
        c = self.client()
        gate = c._gate
        del c
        gc.collect()
        self.assertTrue(gate.closed.wait(5))
        self.assertIsNone(gate.ptr.value)

    def test_open_client_is_closed_at_exit(self) -> None:
        code = textwrap.dedent(f"""
            import atexit, sys
            import portmap
            gates = []
            @atexit.register  # registered first, so it runs last
            def check():
                sys.stdout.write("closed=%s ptr=%s" % (gates[0].closed.is_set(), gates[0].ptr.value))
            c = portmap.Client(gateway="127.0.0.77", state_dir={self.state_dir!r})
            gates.append(c._gate)
            """)
        out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, universal_newlines=True,
                             env=child_env(), timeout=30)
        self.assertEqual(out.returncode, 0)
        self.assertEqual(out.stdout, "closed=True ptr=None")


def child_env(**extra: str) -> Dict[str, str]:
    env = dict(os.environ)
    paths = [os.path.join(support.BINDING, "src"), support.HERE]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(extra)
    return env


class ImportChecks(unittest.TestCase):
    """A library that is missing or of another generation is refused."""

    def import_with(self, library: str) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
        return subprocess.run([sys.executable, "-c", "import portmap"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True,
                              env=child_env(PORTMAP_LIBRARY=library), timeout=30)

    def test_missing_library(self) -> None:
        r = self.import_with("/nonexistent/libportmap.so.0")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("ImportError: portmap: cannot load libportmap: PORTMAP_LIBRARY", r.stderr)

    def test_other_api_generation_is_refused(self) -> None:
        for api, shown in (((portmap.API_MAJOR + 1) << 16, f"{portmap.API_MAJOR + 1}.0.0"),
                           ((portmap.API_MAJOR << 16) | ((portmap.API_MINOR + 1) << 8) | 4,
                            f"{portmap.API_MAJOR}.{portmap.API_MINOR + 1}.4")):
            with self.subTest(api=shown):
                so = compile_and_run(
                    f"unsigned portmap_version_api(void) {{ return {api}u; }}\n"
                    # a symbol the binding would misuse if it went on
                    "int portmap_open(void **c, const void *s) { (void)s; *c = (void *)1; return 0; }\n",
                    shared=True)
                r = self.import_with(so)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn(f"was written for the libportmap API {portmap.API_MAJOR}.{portmap.API_MINOR}, "
                              f"but {so} has API {shown}", r.stderr)
                self.assertIn("ImportError", r.stderr)

    def test_library_without_the_symbols_is_refused(self) -> None:
        api = (portmap.API_MAJOR << 16) | (portmap.API_MINOR << 8)
        so = compile_and_run(f"unsigned portmap_version_api(void) {{ return {api}u; }}\n", shared=True)
        r = self.import_with(so)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("lacks portmap_strerror", r.stderr)

    def test_not_a_libportmap(self) -> None:
        so = compile_and_run("int unrelated(void) { return 0; }\n", shared=True)
        r = self.import_with(so)
        self.assertIn("has no portmap_version_api()", r.stderr)


class MappingAttributes(unittest.TestCase):
    """The attributes of Mapping that each read one field of info()."""

    FIELDS = ("external_address", "external_port", "internal_port", "internal_address",
              "protocol", "method", "lifetime", "state", "last_error")

    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory(prefix="portmap-test-")
        self.addCleanup(tmp.cleanup)
        # Never used for traffic: the Mapping below has no C handle, so
        # info() returns the state stored last.
        self.c = portmap.Client(gateway=support.FAKE_GW, state_dir=tmp.name)
        self.addCleanup(self.c.close)
        self.m = portmap.Mapping(self.c, 0, portmap.Transport.TCP, 8080, 1.0)

    def test_each_returns_its_field_of_info_now(self) -> None:
        first = self.m.info()
        for name in self.FIELDS:
            self.assertEqual(getattr(self.m, name), getattr(first, name), name)
        later = dataclasses.replace(
            first, state=portmap.State.MAPPED, method=portmap.Method.PCP, external_port=40000,
            external_address="198.51.100.1", internal_address="10.0.0.2", lifetime=7200,
            last_error=portmap.ErrorCode.TIMEOUT)
        self.m._store(later)
        for name in self.FIELDS:
            with self.subTest(name=name):
                self.assertEqual(getattr(self.m, name), getattr(later, name))
        self.assertEqual(self.m.address, ("198.51.100.1", 40000))
        self.assertEqual(self.m.internal_port, 8080)
        self.assertIs(self.m.protocol, portmap.Transport.TCP)

    def test_read_only(self) -> None:
        for name in self.FIELDS + ("address", "family", "address_kind"):
            with self.subTest(name=name):
                with self.assertRaises(AttributeError):
                    setattr(self.m, name, 1)
                self.assertNotIn(name, vars(self.m))

    def test_help_shows_their_docstrings(self) -> None:
        text = pydoc.render_doc(portmap.Mapping, renderer=pydoc.plaintext)
        for name in self.FIELDS:
            with self.subTest(name=name):
                doc = inspect.getdoc(getattr(portmap.Mapping, name))
                self.assertTrue(doc and doc.strip(), "no docstring")
                self.assertIn(f"{name}\n |      {doc}", text)


class Logging(unittest.TestCase):
    """The library's log is silent until the application configures
    logging (a NullHandler on "portmap", as the logging HOWTO asks of
    libraries); then it goes where the application said."""

    # a library warning through the real path: the C log trampoline
    CODE = ("import logging, sys, portmap\n"
            "from portmap import _callbacks\n"
            "if sys.argv[1] == 'configured': logging.basicConfig(format='%(name)s %(levelname)s %(message)s')\n"
            "_callbacks._LOG_TRAMPOLINE(None, portmap.LogLevel.WARNING, b'the router said no')\n")

    def run_child(self, mode: str) -> str:
        r = subprocess.run([sys.executable, "-c", self.CODE, mode], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stderr

    def test_silent_until_configured(self) -> None:
        self.assertEqual(self.run_child("unconfigured"), "")

    def test_configured_logging_gets_it(self) -> None:
        self.assertEqual(self.run_child("configured"), "portmap WARNING the router said no\n")

    def test_null_handler(self) -> None:
        handlers = logging.getLogger("portmap").handlers
        self.assertTrue(any(isinstance(h, logging.NullHandler) for h in handlers), handlers)


class Typing(unittest.TestCase):
    def test_all_is_a_literal_list_of_every_public_name(self) -> None:
        # Type checkers read __all__ only as a literal list: no "+" of
        # another module's list, no name missing or extra.
        import ast

        path = os.path.join(os.path.dirname(portmap.__file__), "__init__.py")
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        assigned = [n for n in tree.body if isinstance(n, (ast.Assign, ast.AugAssign))
                    and any(isinstance(t, ast.Name) and t.id == "__all__"
                            for t in (n.targets if isinstance(n, ast.Assign) else [n.target]))]
        self.assertEqual(len(assigned), 1, "__all__ assigned more than once")
        value = assigned[0].value
        self.assertIsInstance(value, ast.List)
        assert isinstance(value, ast.List)
        names = [ast.literal_eval(e) for e in value.elts]
        self.assertEqual(names, list(portmap.__all__))
        self.assertEqual(len(set(names)), len(names), "listed twice")
        for name in portmap.errors.__all__:
            self.assertIn(name, names)
        public = {n for n, v in vars(portmap).items() if not n.startswith("_") and not inspect.ismodule(v)}
        public.discard("annotations")  # from __future__
        public.discard("Tuple")
        public.discard("logging")
        self.assertEqual(public - set(names), set(), "public but not in __all__")
        for name in names:
            self.assertTrue(hasattr(portmap, name), name)

    def test_py_typed_and_docstrings(self) -> None:
        pkg = os.path.dirname(portmap.__file__)
        self.assertTrue(os.path.isfile(os.path.join(pkg, "py.typed")))
        missing = []
        for name in portmap.__all__:
            obj = getattr(portmap, name)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue  # constants and type aliases
            if not (getattr(obj, "__doc__", None) or "").strip():
                missing.append(name)
            if isinstance(obj, type) and obj.__module__.startswith("portmap"):
                for attr, member in vars(obj).items():
                    if attr.startswith("_") or not (callable(member) or isinstance(member, property)):
                        continue
                    if not (member.__doc__ or "").strip():
                        missing.append(f"{name}.{attr}")
        self.assertEqual(missing, [])


if __name__ == "__main__":
    unittest.main()
