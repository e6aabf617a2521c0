"""Lab tests: the binding against a real miniupnpd in the lab router.

Run inside the lab's LAN namespace by run-lab-tests.sh (root). Each test
checks what the router really did (its DNAT rules, via lab.sh) and leaves
nothing mapped behind. Environment: LAB (path of lab.sh), LAB_PREFIX.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from typing import Dict, List, Tuple

import support
from support import wait_until

import portmap
from portmap import EventKind, Method, State

LAB = os.environ.get("LAB", os.path.join(support.SOURCE_ROOT, "tests", "lab", "lab.sh"))
LAN_ADDR, GATEWAY, WAN_ADDR = "10.77.0.2", "10.77.0.1", "11.77.0.1"
# Ports of this suite only (the C lab suite uses 27xxx).
BASE = 41000


def lab(*args: str, check: bool = True) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    return subprocess.run([LAB, *args], check=check, stdout=subprocess.PIPE, universal_newlines=True)


def has_rule(proto: str, port: int) -> bool:
    return lab("has-rule", proto, str(port), check=False).returncode == 0


def rules() -> List[Tuple[str, int]]:
    out = []
    for line in lab("rules").stdout.splitlines():
        proto, eport, *_ = line.split()
        out.append((proto, int(eport)))
    return out


class LabTest(unittest.TestCase):
    def setUp(self) -> None:
        if not os.environ.get("LAB_PREFIX") or not os.path.exists(LAB):
            self.fail("run through run-lab-tests.sh (LAB and LAB_PREFIX unset)")
        tmp = tempfile.TemporaryDirectory(prefix="portmap-lab-")
        self.addCleanup(tmp.cleanup)
        self.state_dir = tmp.name
        self.addCleanup(self.assert_nothing_left)

    def assert_nothing_left(self) -> None:
        left = [r for r in rules() if BASE <= r[1] < BASE + 1000]
        self.assertEqual(left, [], "mappings left on the router")

    def client(self, **kw: object) -> portmap.Client:
        kw.setdefault("timeout", 5)
        kw.setdefault("state_dir", self.state_dir)
        c = portmap.Client(**kw)  # type: ignore[arg-type]
        self.addCleanup(c.close)
        return c


class Discovery(LabTest):
    def test_discover(self) -> None:
        d = self.client().discover(fresh=True)
        self.assertEqual(d.gateway, GATEWAY)
        self.assertEqual(d.local_address, LAN_ADDR)
        self.assertEqual(d.external_address, WAN_ADDR)
        self.assertEqual(d.protocols, (Method.PCP, Method.NATPMP, Method.UPNP))
        self.assertIs(d.preferred, Method.PCP)
        self.assertEqual(d.pcp_version, 2)
        self.assertEqual(d.upnp_version, 2)
        self.assertEqual(d.upnp_service, "WANIPConnection:2")
        self.assertFalse(d.double_nat)
        self.assertEqual(d.nat, "nat")

    def test_external_ip(self) -> None:
        self.assertEqual(self.client().external_ip(), WAN_ADDR)
        self.assertEqual(self.client(methods=["pcp"]).external_ip(), WAN_ADDR)


class Mappings(LabTest):
    def test_map_check_the_rule_release(self) -> None:
        port = BASE
        for method in (Method.PCP, Method.NATPMP, Method.UPNP):
            for transport in ("udp", "tcp"):
                port += 1
                with self.subTest(method=str(method), transport=transport):
                    c = self.client()
                    m = c.request(port, transport, protocol=method, lifetime=600,
                                  description=f"py {method} {transport}")
                    self.assertIs(m.method, method)
                    self.assertIs(m.state, State.MAPPED)
                    self.assertEqual(str(m.protocol), transport)
                    self.assertEqual(m.internal_port, port)
                    self.assertEqual(m.internal_address, LAN_ADDR)
                    self.assertEqual(m.external_address, WAN_ADDR)
                    self.assertGreater(m.lifetime, 0)
                    self.assertTrue(has_rule(transport, m.external_port), "no DNAT rule on the router")
                    m.release()
                    self.assertIs(m.state, State.RELEASED)
                    self.assertFalse(has_rule(transport, m.external_port), "rule left after release")

    def test_external_port_suggestion(self) -> None:
        with self.client() as c:
            with c.request(BASE + 20, "udp", external_port=BASE + 21, protocol="upnp") as m:
                self.assertEqual(m.external_port, BASE + 21)
                self.assertTrue(has_rule("udp", BASE + 21))
            self.assertFalse(has_rule("udp", BASE + 21))

    def test_client_exit_releases_everything(self) -> None:
        with self.client() as c:
            ms = [c.request(BASE + 30, "udp"), c.request(BASE + 31, "tcp"),
                  c.request(BASE + 32, "udp", protocol="upnp")]
            for m in ms:
                self.assertTrue(has_rule(str(m.protocol), m.external_port))
        for m in ms:
            self.assertIs(m.state, State.RELEASED)
            self.assertFalse(has_rule(str(m.protocol), m.external_port))

    def test_router_table_and_delete(self) -> None:
        c = self.client()
        with c.request(BASE + 40, "tcp", protocol="upnp", description="py-audit") as m:
            table = c.router_mappings()
            mine = [e for e in table if e.external_port == m.external_port and e.protocol == portmap.Transport.TCP]
            self.assertEqual(len(mine), 1, table)
            e = mine[0]
            self.assertEqual((e.internal_client, e.internal_port, e.description), (LAN_ADDR, BASE + 40, "py-audit"))
            self.assertTrue(e.ours)
            self.assertTrue(e.held)
            self.assertTrue(e.enabled)
        self.assertFalse(any(e.external_port == BASE + 40 for e in c.router_mappings()))
        # an entry nobody holds any more, deleted from the table
        other = self.client(release_on_close=False)
        other.request(BASE + 41, "udp", protocol="upnp", lifetime=600)
        other.close()
        self.assertTrue(has_rule("udp", BASE + 41))
        entry = [e for e in c.router_mappings() if e.external_port == BASE + 41][0]
        self.assertTrue(entry.ours)
        c.router_delete(entry)
        self.assertFalse(has_rule("udp", BASE + 41))

    def test_release_port_left_by_another_client(self) -> None:
        other = self.client(release_on_close=False)
        other.request(BASE + 45, "udp", protocol="pcp", lifetime=600)
        other.close()
        self.assertTrue(has_rule("udp", BASE + 45))
        self.client().release_port(BASE + 45, "udp")
        self.assertFalse(has_rule("udp", BASE + 45))


class Events(LabTest):
    def test_router_restart(self) -> None:
        for i, method in enumerate((Method.PCP, Method.NATPMP)):
            with self.subTest(method=str(method)):
                events: Dict[int, List[EventKind]] = {}
                lock = threading.Lock()

                def on_event(ev: portmap.Event) -> None:
                    with lock:
                        events.setdefault(ev.mapping.internal_port, []).append(ev.kind)

                c = self.client(methods=[method], on_event=on_event)
                ports = (BASE + 50 + 2 * i, BASE + 51 + 2 * i)
                ms = [c.request(p, "udp", lifetime=120) for p in ports]
                for m in ms:
                    self.assertTrue(has_rule("udp", m.external_port))
                # An epoch that goes back by a second or so is taken for
                # reordering (RFC 6887 8.5): let the router's grow first, in
                # case an earlier test had just restarted it.
                time.sleep(3)
                lab("router-restart")  # flushes the rules; the library may see its announcement
                # Any exchange shows the router's new epoch; a fresh probe is one.
                c.discover(fresh=True)
                lost_restored = [EventKind.MAPPED, EventKind.LOST, EventKind.RESTORED]
                if method == Method.PCP:
                    # Nothing of ours is in flight when the PCP epoch is
                    # seen to go back: both are reported lost, then restored.
                    expected = [lost_restored, lost_restored]
                else:
                    # The PCP announcement has the library refresh every
                    # mapping early; one whose refresh is under way when the
                    # NAT-PMP epoch is seen is re-made without events.
                    expected = [lost_restored, [EventKind.MAPPED]]
                self.assertTrue(wait_until(lambda: all(
                    has_rule("udp", m.external_port) for m in ms), 15), "not mapped again")

                def settled() -> bool:
                    with lock:
                        return all(events[p][-1] != EventKind.LOST for p in ports)

                self.assertTrue(wait_until(settled, 10), events)
                time.sleep(0.5)  # events still under way, if any
                for m in ms:
                    self.assertIs(m.state, State.MAPPED)
                    m.release()
                    self.assertFalse(has_rule("udp", m.external_port))
                got = [events[p] for p in ports]
                for seq in got:
                    self.assertEqual(seq[-1], EventKind.RELEASED, got)
                    self.assertIn(seq[:-1], expected, got)
                if method == Method.PCP:
                    self.assertEqual(got, [lost_restored + [EventKind.RELEASED]] * 2)

    def test_asyncio(self) -> None:
        async def main() -> List[str]:
            c = self.client()
            got: List[str] = []
            stream = c.events()

            async def consume() -> None:
                async for ev in stream:
                    got.append(f"{ev.kind} {ev.info.internal_port} {ev.info.method}")

            task = asyncio.ensure_future(consume())
            m = await c.request_async(BASE + 60, "tcp", protocol="natpmp")
            self.assertTrue(has_rule("tcp", m.external_port))
            await m.release_async()
            self.assertFalse(has_rule("tcp", m.external_port))
            await asyncio.get_running_loop().run_in_executor(None, c.close)
            await asyncio.wait_for(task, 10)
            return got

        self.assertEqual(asyncio.run(main()), [f"mapped {BASE + 60} natpmp", f"released {BASE + 60} natpmp"])


class Errors(LabTest):
    def test_dead_gateway(self) -> None:
        lab("router-stop")
        try:
            c = self.client(timeout=2)
            t0 = time.monotonic()
            with self.assertRaises(portmap.NoGatewayError) as cm:
                c.request(BASE + 70, "udp")
            self.assertLess(time.monotonic() - t0, 2 + 2.5)
            self.assertEqual(cm.exception.code, portmap.ErrorCode.NO_GATEWAY)
            self.assertIn(GATEWAY, str(cm.exception))
            with self.assertRaises(portmap.NoGatewayError) as cm2:
                c.discover(fresh=True)
            found = cm2.exception.discovery
            assert found is not None
            self.assertEqual((found.gateway, found.local_address, found.protocols), (GATEWAY, LAN_ADDR, ()))
            with self.assertRaises(portmap.NoGatewayError):
                c.external_ip()
        finally:
            lab("router-start")
        self.assertFalse(has_rule("udp", BASE + 70))

    def test_gateway_that_does_not_exist(self) -> None:
        c = self.client(gateway="10.77.0.99", timeout=1.5)
        with self.assertRaises(portmap.NoGatewayError) as cm:
            c.request(BASE + 71, "tcp")
        self.assertIn("10.77.0.99", str(cm.exception))

    def test_unsupported_protocol(self) -> None:
        lab("router-stop")
        try:
            lab("router-start", "--profile", "upnp-only")
            c = self.client(timeout=3)
            with self.assertRaises(portmap.UnsupportedError):
                c.request(BASE + 72, "udp", protocol="natpmp")
            # and the same client still maps through what the router offers
            with c.request(BASE + 73, "udp") as m:
                self.assertIs(m.method, Method.UPNP)
        finally:
            lab("router-stop")
            lab("router-start", "--profile", "full")


# The everyday flows of issue 11 in a child interpreter: several requests
# of both families, then close() (which once crashed the interpreter).
# Prints one line per mapping: "PROTO EXTPORT V6ADDR V6PORT".
_DUAL_FLOW = """
import sys, portmap
keep = sys.argv[2] == "keep"
c = portmap.Client(timeout=5, state_dir=sys.argv[1], release_on_close=not keep)
for port, proto in ((%d, "udp"), (%d, "tcp"), (%d, "udp")):
    m = c.request(port, proto, family="both")
    v6 = m.info(family="ipv6")
    print(m.protocol, m.external_port, v6.external_address, v6.external_port, flush=True)
c.close()
print("closed", flush=True)
"""


class EverydayFlows(LabTest):
    PORTS = (BASE + 70, BASE + 71, BASE + 72)

    def dual_flow(self, keep: bool) -> List[Tuple[str, int, str, int]]:
        code = _DUAL_FLOW % self.PORTS
        r = subprocess.run([sys.executable, "-c", code, self.state_dir, "keep" if keep else "release"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
        # a crash on close is a signal (-11), not an exception
        self.assertEqual(r.returncode, 0, f"child died ({r.returncode}):\n{r.stderr}")
        lines = r.stdout.splitlines()
        self.assertEqual(lines[-1], "closed")
        held = []
        for line in lines[:-1]:
            proto, eport, addr6, port6 = line.split()
            held.append((proto, int(eport), addr6, int(port6)))
        self.assertEqual(len(held), 3)
        return held

    def test_several_dual_family_mappings_then_close(self) -> None:
        held = self.dual_flow(keep=False)
        for proto, eport, addr6, port6 in held:
            self.assertNotEqual(addr6, "None", "no IPv6 pinhole")
            self.assertFalse(has_rule(proto, eport), f"{proto} {eport} left after close")
            self.assertNotEqual(lab("has-pinhole", proto, addr6, str(port6), check=False).returncode, 0,
                                f"pinhole {addr6} {port6} left after close")

    def test_dual_family_mappings_kept_on_close_then_released(self) -> None:
        held = self.dual_flow(keep=True)
        for proto, eport, addr6, port6 in held:
            self.assertTrue(has_rule(proto, eport), f"{proto} {eport} not kept on close")
            self.assertEqual(lab("has-pinhole", proto, addr6, str(port6), check=False).returncode, 0)
        # release_port() releases the IPv4 mappings; the pinholes' leases
        # run out (the lab goes down first)
        with self.client() as c:
            for port, (proto, _, _, _) in zip(self.PORTS, held):
                c.release_port(port, portmap.Transport.parse(proto))
        for proto, eport, _, _ in held:
            self.assertFalse(has_rule(proto, eport))

    def test_async_with_both_families(self) -> None:
        async def main() -> Tuple[str, int, str, int]:
            async with portmap.Client(timeout=5, state_dir=self.state_dir) as c:
                async with await c.request_async(BASE + 75, "tcp", family="both") as m:
                    v6 = m.info(family="ipv6")
                    assert v6.external_address is not None
                    self.assertTrue(has_rule("tcp", m.external_port))
                    self.assertEqual(lab("has-pinhole", "tcp", v6.external_address, str(v6.external_port),
                                         check=False).returncode, 0)
                    found = ("tcp", m.external_port, v6.external_address, v6.external_port)
                self.assertIs(m.state, State.RELEASED)
            self.assertTrue(c.closed)
            return found

        _, eport, addr6, port6 = asyncio.run(main())
        self.assertFalse(has_rule("tcp", eport))
        self.assertNotEqual(lab("has-pinhole", "tcp", addr6, str(port6), check=False).returncode, 0)


class Example(LabTest):
    def test_http_example_is_reachable_from_the_wan(self) -> None:
        example = os.path.join(support.BINDING, "..", "..", "examples", "serve_http.py")
        port = BASE + 80
        with tempfile.TemporaryDirectory() as site:
            with open(os.path.join(site, "index.html"), "w") as f:
                f.write("hello through the router\n")
            env = dict(os.environ, PORTMAP_STATE_DIR=self.state_dir)
            p = subprocess.Popen([sys.executable, example, "--port", str(port), "--directory", site],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                                 env=env)
            self.addCleanup(p.stderr.close)  # type: ignore[union-attr]
            self.addCleanup(p.stdout.close)  # type: ignore[union-attr]
            try:
                line = p.stdout.readline()  # type: ignore[union-attr]
                m = re.search(r"http://(\S+?):(\d+)/", line)
                self.assertIsNotNone(m, f"no URL in {line!r}; stderr: {p.stderr.read() if p.poll() is not None else ''}")
                assert m is not None
                self.assertEqual(m.group(1), WAN_ADDR)
                self.assertTrue(has_rule("tcp", int(m.group(2))))
                fetch = ("import sys, urllib.request; "
                         "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())")
                got = lab("exec", "wan", sys.executable, "-c", fetch, m.group(0) + "index.html")
                self.assertEqual(got.stdout, "hello through the router\n")
            finally:
                p.send_signal(signal.SIGINT)
                try:
                    p.wait(10)
                finally:
                    if p.poll() is None:
                        p.kill()
            self.assertEqual(p.returncode, 0, p.stderr.read())  # type: ignore[union-attr]
            self.assertFalse(has_rule("tcp", port), "the example left its mapping")


if __name__ == "__main__":
    unittest.main()
