"""Shared helpers of the Python binding's tests.

FakeNatPmp is a NAT-PMP gateway (RFC 6886) on a loopback address, so the
no-lab tests exercise real exchanges, events and callbacks without root
and without sending anything beyond loopback. 127.0.0.77 is used because
the C suites' fake gateways live on 127.0.0.1 and 127.0.0.2.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
import tempfile
import threading
import time
import unittest
from typing import Callable, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
BINDING = os.path.dirname(HERE)
SOURCE_ROOT = os.environ.get("PORTMAP_SOURCE_ROOT") or os.path.dirname(os.path.dirname(BINDING))
HEADER = os.path.join(SOURCE_ROOT, "include", "portmap", "portmap.h")
VERSION_H = os.path.join(SOURCE_ROOT, "include", "portmap", "version.h")

if os.path.join(BINDING, "src") not in sys.path and not os.environ.get("PORTMAP_TEST_INSTALLED"):
    sys.path.insert(0, os.path.join(BINDING, "src"))

FAKE_GW = "127.0.0.77"
FAKE_EXTERNAL = "198.51.100.7"


def wait_until(pred: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    """Poll pred until it is true or timeout seconds passed."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


class FakeNatPmp:
    """A NAT-PMP gateway on FAKE_GW:5351, run on a thread.

    Attributes the tests set: ``result`` (non-zero: refuse every mapping
    request with that result code), ``silent`` (answer nothing),
    ``external`` (the public address). ``mappings`` maps (opcode,
    internal_port) to (external_port, lifetime); ``deletes`` lists the
    released (opcode, internal_port).
    """

    def __init__(self, address: str = FAKE_GW) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, 5351))
        self.sock.settimeout(0.05)
        self.lock = threading.Lock()
        self.result = 0
        self.silent = False
        self.external = FAKE_EXTERNAL
        self.mappings: Dict[Tuple[int, int], Tuple[int, int]] = {}
        self.deletes: List[Tuple[int, int]] = []
        self.requests = 0
        self._started = time.monotonic()
        self._epoch_base = 5000
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-natpmp", daemon=True)
        self._thread.start()

    def epoch(self) -> int:
        return self._epoch_base + int(time.monotonic() - self._started)

    def reboot(self) -> None:
        """Forget every mapping and restart the epoch, as a power cycle."""
        with self.lock:
            self.mappings.clear()
            self._epoch_base = 0
            self._started = time.monotonic()

    def has(self, opcode: int, port: int) -> bool:
        with self.lock:
            return (opcode, port) in self.mappings

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(1100)
            except socket.timeout:
                continue
            except OSError:
                return
            reply = self._answer(data)
            if reply is not None:
                try:
                    self.sock.sendto(reply, peer)
                except OSError:
                    pass

    def _answer(self, data: bytes) -> Optional[bytes]:
        with self.lock:
            self.requests += 1
            if self.silent or len(data) < 2:
                return None
            op = data[1] & 0x7F
            epoch = self.epoch()
            if data[0] != 0:  # e.g. PCP: RFC 6887 9, Unsupported Version
                return struct.pack("!BBHI", 0, 128 + op, 1, epoch)
            if op == 0:
                return struct.pack("!BBHI4s", 0, 128, 0, epoch, socket.inet_aton(self.external))
            if op not in (1, 2) or len(data) < 12:
                return struct.pack("!BBHI", 0, 128 + (op & 0x7F), 5, epoch)
            _, _, _, iport, eport, life = struct.unpack("!BBHHHI", data[:12])
            if life == 0:
                self.mappings.pop((op, iport), None)
                self.deletes.append((op, iport))
                return struct.pack("!BBHIHHI", 0, 128 + op, 0, epoch, iport, 0, 0)
            if self.result:
                return struct.pack("!BBHI", 0, 128 + op, self.result, epoch)
            eport = eport or iport
            life = min(life, 3600)
            self.mappings[(op, iport)] = (eport, life)
            return struct.pack("!BBHIHHI", 0, 128 + op, 0, epoch, iport, eport, life)


class FakeGatewayTest(unittest.TestCase):
    """A test case with a fresh fake gateway and journal directory."""

    fake: FakeNatPmp

    def setUp(self) -> None:
        self.fake = FakeNatPmp()
        self.addCleanup(self.fake.close)
        tmp = tempfile.TemporaryDirectory(prefix="portmap-test-")
        self.addCleanup(tmp.cleanup)
        self.state_dir = tmp.name

    def client(self, **kw: object):  # type: ignore[no-untyped-def]
        import portmap

        kw.setdefault("gateway", FAKE_GW)
        kw.setdefault("methods", ["natpmp"])
        kw.setdefault("timeout", 3)
        kw.setdefault("state_dir", self.state_dir)
        c = portmap.Client(**kw)  # type: ignore[arg-type]
        self.addCleanup(c.close)
        return c
