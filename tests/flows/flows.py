"""Everyday flows: what a new user types, on every kind of router.

For each lab profile (full, upnp-only, igdv1, pmp-only, none) and with no
network at all, in the default family and with -4 and -6, this runs the
commands of the README and of portmap-cli(1) the way a person at a shell
does, and checks what that person would: the exit code the man page
documents, an honest message (never "success" as a reason for a failure,
never a made-up line), the rule or pinhole on the router (or gone), the
journal entry (or gone), and that a command whose answer is known comes
back well before its timeout. The same flows run through the C API
(flows-capi, a Check program) and the Python binding.

Run by run-flows.sh, which brings up a lab of its own; environment:
LAB (lab.sh), LAB_PREFIX, PORTMAP_CLI, FLOWS_CAPI, FLOWS_STATE (the
journal directory the commands share), FLOWS_PYTHON=1 to include the
binding (PORTMAP_LIBRARY and PYTHONPATH set for it).
"""

import os
import signal
import subprocess
import threading
import time
import unittest
from typing import Dict, List, Optional, Tuple

LAB = os.environ.get("LAB", "")
PREFIX = os.environ.get("LAB_PREFIX", "pm")
CLI = os.environ.get("PORTMAP_CLI", "")
CAPI = os.environ.get("FLOWS_CAPI", "")
STATE = os.environ.get("FLOWS_STATE", "")
PYTHON = os.environ.get("FLOWS_PYTHON") == "1"

WAN_ADDR = "11.77.0.1"
LAN_ADDR = "10.77.0.2"
LAN6_ADDR = "2001:db8:77:1::2"
# A command whose answer is known comes back within this (the timeout is
# the default 10 s): generous for a loaded machine, far from the timeout.
QUICK = 3.0
TIMEOUT = 10
_next_port = 28000

PROFILES = ["full", "upnp-only", "igdv1", "pmp-only", "none"]
# Which families a router of the profile maps: (IPv4, IPv6).
MAPS = {
    "full": (True, True),  # PCP over both
    "upnp-only": (True, True),  # IGD v2: WANIPConnection + WANIPv6FirewallControl
    "igdv1": (True, False),  # IGD v1 has no pinholes
    "pmp-only": (True, True),  # NAT-PMP, and PCP (IPv4 and IPv6)
    "none": (False, False),  # the router's host is up, no daemon
}
UPNP = {"full": True, "upnp-only": True, "igdv1": True, "pmp-only": False, "none": False}

# portmap-cli(1) EXIT STATUS
EX_OK, EX_NEGATIVE, EX_USAGE, EX_NOGW, EX_REFUSED, EX_TIMEOUT, EX_OTHER = range(7)


def lab(*args: str, check: bool = True) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    return subprocess.run([LAB, *args], capture_output=True, text=True, check=check, timeout=120)


def has_rule(proto: str, port: int) -> bool:
    return lab("has-rule", proto, str(port), check=False).returncode == 0


def has_pinhole(proto: str, port: int) -> bool:
    return lab("has-pinhole", proto, LAN6_ADDR, str(port), check=False).returncode == 0


def eventually(pred, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    """miniupnpd lets a cut PCP pinhole lease run out (1 s in the lab)."""
    end = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() > end:
            return False
        time.sleep(0.1)


def journal() -> List[Tuple[int, str, bool]]:
    """(internal port, protocol, ipv6) of each journal line."""
    out = []
    try:
        with open(os.path.join(STATE, "journal")) as f:
            for line in f:
                w = line.split()
                if len(w) > 6 and w[0] == "v1":
                    out.append((int(w[3]), "tcp" if w[2] == "6" else "udp", ":" in w[5]))
    except FileNotFoundError:
        pass
    return out


def in_journal(port: int, proto: str) -> bool:
    return any(p == port and pr == proto for p, pr, _ in journal())


class Run:
    """One finished command: exit code, stdout, stderr, seconds."""

    def __init__(self, argv: List[str], netns: Optional[str]):
        self.argv = argv
        t0 = time.monotonic()
        p = subprocess.run(wrap(argv, netns), capture_output=True, text=True, timeout=60)
        self.took = time.monotonic() - t0
        self.rc, self.out, self.err = p.returncode, p.stdout, p.stderr

    def __str__(self) -> str:
        return (f"`portmap-cli {' '.join(self.argv)}` exit {self.rc} in {self.took:.2f} s\n"
                f"stdout: {self.out}\nstderr: {self.err}")


def wrap(argv: List[str], netns: Optional[str]) -> List[str]:
    env = ["env", f"PORTMAP_STATE_DIR={STATE}"]
    if netns is None:  # no network at all
        return ["unshare", "-n", *env, CLI, *argv]
    return ["ip", "netns", "exec", f"{PREFIX}-{netns}", *env, CLI, *argv]


class FlowCase(unittest.TestCase):
    profile = "full"
    netns: Optional[str] = "lan"

    @classmethod
    def setUpClass(cls) -> None:
        if not LAB or not CLI or not STATE:
            raise unittest.SkipTest("run through run-flows.sh")
        if cls.netns is not None:
            lab("router-stop")
            lab("router-start", "--profile", cls.profile)

    def setUp(self) -> None:
        # A test's own ports: a failure leaves nothing that trips the next.
        global _next_port
        _next_port += 10
        self.port = _next_port

    def cli(self, *argv: str) -> Run:
        return Run(list(argv), self.netns)

    def honest(self, r: Run) -> None:
        text = r.out + r.err
        self.assertNotIn("success", text.replace("\"success\"", ""), str(r))
        self.assertNotIn("[?]", text, str(r))
        self.assertNotIn("Segmentation", text, str(r))
        self.assertGreaterEqual(r.rc, 0, f"killed by a signal: {r}")

    def quick(self, r: Run, bound: float = QUICK) -> None:
        self.assertLess(r.took, bound, f"the answer was known, yet: {r}")

    # -- what the profile makes of a request, per family
    def maps(self, fam: str) -> bool:
        v4, v6 = MAPS[self.profile] if self.netns else (False, False)
        return {"4": v4, "6": v6}[fam]

    def expect_mapped(self, r: Run, port: int, proto: str, fams: str) -> None:
        for fam in fams:
            if fam == "4":
                self.assertRegex(r.out, rf"mapped {proto} {port} -> {WAN_ADDR}:\d+ via", str(r))
                self.assertTrue(has_rule(proto, port), f"no rule for {proto} {port}: {r}")
            else:
                self.assertRegex(r.out, rf"mapped {proto} {port} -> \[{LAN6_ADDR}\]:{port} via", str(r))
                self.assertTrue(has_pinhole(proto, port), f"no pinhole for {proto} {port}: {r}")
            self.assertTrue(any(p == port and pr == proto and v6 == (fam == "6")
                                for p, pr, v6 in journal()), f"no journal entry: {journal()}")

    def expect_gone(self, port: int, proto: str, r: Optional[Run] = None) -> None:
        self.assertFalse(has_rule(proto, port), f"rule {proto} {port} left: {r}")
        self.assertTrue(eventually(lambda: not has_pinhole(proto, port)),
                        f"pinhole {proto} {port} left: {r}")
        self.assertFalse(in_journal(port, proto), f"journal entry left: {journal()} {r}")

    def release(self, port: int, proto: str) -> Run:
        r = self.cli("release", str(port), proto)
        self.honest(r)
        self.quick(r)
        self.expect_gone(port, proto, r)
        return r

    # -- request --once

    def request_once(self, flags: List[str], fams_asked: str, required: str) -> None:
        """fams_asked: families the command asks for; required: those it
        must get for exit 0 (the default family needs IPv4 where the host
        has IPv4, IPv6 only where that is all)."""
        p1, p2 = self.port, self.port + 1
        r = self.cli("request", str(p1), "udp", str(p2), "tcp", "--once", *flags)
        self.honest(r)
        self.quick(r)
        got = "".join(f for f in fams_asked if self.maps(f))
        if all(self.maps(f) for f in required):
            self.assertEqual(r.rc, EX_OK, str(r))
            self.expect_mapped(r, p1, "udp", got)
            self.expect_mapped(r, p2, "tcp", got)
            for f in fams_asked:
                if f not in got:  # asked, optional, not there: said so
                    self.assertIn("no IPv6 pinhole" if f == "6" else "no IPv4 mapping", r.err, str(r))
            rel = self.release(p1, "udp")
            self.assertIn("released udp", rel.out, str(rel))
            self.release(p2, "tcp")
            # nothing left to release: a negative answer, at once
            again = self.cli("release", str(p1), "udp")
            self.honest(again)
            self.quick(again)
            self.assertEqual(again.rc, EX_NEGATIVE, str(again))
        else:
            self.assertIn(r.rc, (EX_NOGW, EX_OTHER), str(r))
            self.assertRegex(r.err, r"no IPv[46] (mapping|pinhole), ", str(r))
            if self.netns is None and "-6" not in flags:
                # no route in either family: told of IPv4, with a hint that
                # can help (not "-4 asks for IPv4 only")
                self.assertIn("no IPv4 mapping, no route", r.err, str(r))
                self.assertNotIn("-4 asks for IPv4 only", r.err, str(r))
            # a failing command leaves nothing mapped, even with --once
            self.expect_gone(p1, "udp", r)
            self.expect_gone(p2, "tcp", r)

    def test_request_once_default(self) -> None:
        self.request_once([], "46", "4")

    def test_request_once_ipv4(self) -> None:
        self.request_once(["-4"], "4", "4")

    def test_request_once_ipv6(self) -> None:
        self.request_once(["-6"], "6", "6")

    # -- a held request, ended by a signal

    def held(self, sig: int, flags: List[str]) -> None:
        port = self.port
        argv = ["request", str(port), "udp", *flags]
        p = subprocess.Popen(wrap(argv, self.netns), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        fams = flags[0][1] if flags else "46"
        want = sum(1 for f in fams if self.maps(f))
        lines: List[str] = []
        # a hang is a failure, not a stuck suite
        watchdog = threading.Timer(TIMEOUT + 10, p.kill)
        watchdog.start()
        try:
            if not self.maps(fams[0]):
                out, err = p.communicate(timeout=QUICK + 1)
                self.assertIn(p.returncode, (EX_NOGW, EX_OTHER), out + err)
                self.expect_gone(port, "udp")
                return
            assert p.stdout is not None
            while len(lines) < want:
                line = p.stdout.readline()
                if not line:  # (stderr read only now: it blocks until the end)
                    self.fail(f"ended before mapping: {lines} {p.stderr.read() if p.stderr else ''}")
                if line.startswith("mapped"):
                    lines.append(line)
            t0 = time.monotonic()
            p.send_signal(sig)
            out, err = p.communicate(timeout=TIMEOUT + 5)
            took = time.monotonic() - t0
        finally:
            watchdog.cancel()
            if p.poll() is None:
                p.kill()
                p.wait()
        r = f"{argv} after {signal.Signals(sig).name}: exit {p.returncode} in {took:.2f} s\n{out}\n{err}"
        self.assertEqual(p.returncode, EX_OK, r)
        self.assertLess(took, QUICK, r)
        self.assertNotIn("success", out + err, r)
        self.assertIn("released udp", out, r)
        self.expect_gone(port, "udp", None)

    def test_held_request_sigint(self) -> None:
        self.held(signal.SIGINT, [])

    def test_held_request_sigterm(self) -> None:
        self.held(signal.SIGTERM, [])

    def test_held_request_sigint_ipv4(self) -> None:
        self.held(signal.SIGINT, ["-4"])

    # -- the other commands

    def test_discover(self) -> None:
        r = self.cli("discover")
        self.honest(r)
        self.quick(r)
        if self.maps("4"):
            self.assertEqual(r.rc, EX_OK, str(r))
            self.assertIn("10.77.0.1", r.out, str(r))
        else:
            self.assertEqual(r.rc, EX_NOGW, str(r))
            self.assertTrue(r.err.strip(), str(r))

    def test_external_ip(self) -> None:
        r = self.cli("external-ip")
        self.honest(r)
        self.quick(r)
        if self.maps("4"):
            self.assertEqual((r.rc, r.out), (EX_OK, WAN_ADDR + "\n"), str(r))
        else:
            self.assertEqual(r.rc, EX_NOGW, str(r))

    def test_list(self) -> None:
        port = self.port
        if self.maps("4"):
            m = self.cli("request", str(port), "tcp", "-4", "--once")
            self.assertEqual(m.rc, EX_OK, str(m))
        r = self.cli("list")
        self.honest(r)
        self.quick(r)
        if self.netns and UPNP[self.profile]:
            self.assertEqual(r.rc, EX_OK, str(r))
            self.assertIn(str(port), r.out, str(r))
        elif self.maps("4"):  # a router without UPnP-IGD: this host's own, from the journal
            self.assertEqual(r.rc, EX_OK, str(r))
            self.assertIn(str(port), r.out, str(r))
            self.assertIn("from the journal", r.out, str(r))
            self.assertIn("cannot be read over PCP or NAT-PMP", r.err, str(r))
        else:
            self.assertEqual(r.rc, EX_NOGW, str(r))
        if self.maps("4"):
            self.release(port, "tcp")

    def test_audit(self) -> None:
        r = self.cli("audit")
        self.honest(r)
        self.quick(r)
        if self.netns and UPNP[self.profile]:
            self.assertIn(r.rc, (EX_OK, EX_NEGATIVE), str(r))
        elif self.maps("4"):  # this host's own mappings, from the journal, said so
            self.assertIn(r.rc, (EX_OK, EX_NEGATIVE), str(r))
            self.assertIn("cannot be read over PCP or NAT-PMP", r.err, str(r))
        else:
            self.assertNotEqual(r.rc, EX_OK, str(r))
            self.assertTrue(r.err.strip(), str(r))

    def test_cleanup(self) -> None:
        r = self.cli("cleanup")
        self.honest(r)
        self.quick(r)
        self.assertEqual(r.rc, EX_OK if self.maps("4") else EX_NOGW, str(r))

    def test_usage_error(self) -> None:
        r = self.cli("request", "0", "udp")
        self.honest(r)
        self.quick(r, 1.0)
        self.assertEqual(r.rc, EX_USAGE, str(r))

    # -- the C API and the Python binding

    def program_flows(self, argv: List[str]) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
        """Run a flows program in the LAN namespace on this profile, with
        ports of this test's own (it inherits LAB from run-flows.sh)."""
        return subprocess.run(["ip", "netns", "exec", f"{PREFIX}-lan", "env", f"LAB_PROFILE={self.profile}",
                               f"PORTMAP_STATE_DIR={STATE}", f"FLOWS_PORT={self.port}", *argv],
                              capture_output=True, text=True, timeout=300)

    def test_capi_flows(self) -> None:
        if not CAPI or self.netns is None:
            self.skipTest("no C API flows program")
        p = self.program_flows([CAPI])
        print(p.stdout.strip().splitlines()[-1] if p.stdout.strip() else "", flush=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_python_flows(self) -> None:
        if not PYTHON or self.netns is None:
            self.skipTest("the Python binding is not part of this run")
        here = os.path.dirname(os.path.abspath(__file__))
        p = self.program_flows(["python3", os.path.join(here, "pyflows.py")])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


def _profile_case(profile: str, netns: Optional[str]) -> type:
    name = "NoNetwork" if netns is None else "Profile_" + profile.replace("-", "_")
    return type(name, (FlowCase,), {"profile": profile, "netns": netns})


for _p in PROFILES:
    _case = _profile_case(_p, "lan")
    globals()[_case.__name__] = _case
NoNetwork = _profile_case("none", None)
del FlowCase, _case, _p  # only the per-profile cases run, each once


class DefaultRoute6ViaGlobalGateway(unittest.TestCase):
    """Issue 16 item 7: `default via 2001:db8:77:1::1 dev lan0`, a static
    configuration with the router's global address, is a default route."""

    def test_pinhole_through_a_global_gateway(self) -> None:
        if not LAB or not CLI:
            self.skipTest("run through run-flows.sh")
        lab("router-stop")
        lab("router-start", "--profile", "full")
        ns = f"{PREFIX}-lan"
        gw = lab("addr6", "rtr").stdout.strip()
        old = subprocess.run(["ip", "netns", "exec", ns, "ip", "-6", "route", "show", "default"],
                             capture_output=True, text=True, check=True).stdout.split()
        subprocess.run(["ip", "netns", "exec", ns, "ip", "-6", "route", "replace", "default", "via", gw,
                        "dev", "lan0"], check=True)
        try:
            r = Run(["request", "28901", "udp", "-6", "--once"], "lan")
            self.assertEqual(r.rc, EX_OK, str(r))
            self.assertTrue(has_pinhole("udp", 28901), str(r))
            rel = Run(["release", "28901", "udp", "-6"], "lan")
            self.assertEqual(rel.rc, EX_OK, str(rel))
        finally:
            subprocess.run(["ip", "netns", "exec", ns, "ip", "-6", "route", "replace", *old[:5]], check=False)


if __name__ == "__main__":
    unittest.main()
