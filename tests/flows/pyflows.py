"""The everyday flows through the Python binding (run by flows.py in the
lab's LAN namespace): a Client holding several requests of both families
closed with and without release_on_close, and the message of a failure.
Exit 0 when all held; LAB_PROFILE, LAB, FLOWS_PORT from flows.py."""

import os
import subprocess
import sys
import time

import portmap

profile = os.environ["LAB_PROFILE"]
base = int(os.environ["FLOWS_PORT"])
LAB = os.environ["LAB"]
routed = profile != "none"


def has_rule(proto: str, port: int) -> bool:
    return subprocess.run([LAB, "has-rule", proto, str(port)], capture_output=True).returncode == 0


def check(cond: bool, what: str) -> None:
    if not cond:
        print(f"FAIL ({profile}): {what}", file=sys.stderr)
        sys.exit(1)


for keep in (False, True):
    ports = [base + (3 if keep else 0) + i for i in range(2)]
    c = portmap.Client(release_on_close=not keep, timeout=5)
    held = []
    for p in ports:
        t0 = time.monotonic()
        try:
            held.append(c.request(p, "udp", family="both"))
        except portmap.PortmapError as e:
            check(not routed, f"request {p}: {e}")
            check("success" not in str(e) and "router at" in str(e), f"message: {e}")
            check(time.monotonic() - t0 < 3, f"known failure took {time.monotonic() - t0:.1f} s")
    check(len(held) == (2 if routed else 0), f"held {held}")
    for p in ports:
        check(has_rule("udp", p) == routed, f"rule for {p}")
    c.close()  # crashed the interpreter with two dual-family mappings
    for p in ports:
        check(has_rule("udp", p) == (routed and keep), f"after close, rule for {p}")
    if keep and routed:
        with portmap.Client() as c2:
            for p in ports:
                c2.release_port(p, "udp")
        for p in ports:
            check(not has_rule("udp", p), f"rule for {p} after release_port")
print(f"python flows on {profile}: ok")
