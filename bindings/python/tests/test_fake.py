"""Tests against a fake NAT-PMP gateway on loopback (tests/support.py).

Real exchanges with the library, without root or the lab: mappings and
their events, callbacks and their threading rules, asyncio, errors.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import ipaddress
import json
import logging
import signal
import subprocess
import sys
import threading
import time
import unittest
from typing import List

from support import FAKE_EXTERNAL, FAKE_GW, FakeGatewayTest, wait_until

import portmap
from portmap import EventKind, State

UDP, TCP = 1, 2  # NAT-PMP opcodes


class Mappings(FakeGatewayTest):
    def test_discover_and_external_ip(self) -> None:
        c = self.client()
        d = c.discover(fresh=True)
        self.assertEqual(d.gateway, FAKE_GW)
        self.assertEqual(d.local_address, "127.0.0.1")
        self.assertEqual(d.external_address, FAKE_EXTERNAL)
        self.assertEqual(d.protocols, (portmap.Method.NATPMP,))
        self.assertIs(d.preferred, portmap.Method.NATPMP)
        self.assertEqual(d.nat, "nat")
        self.assertFalse(d.double_nat)
        self.assertEqual(c.external_ip(), FAKE_EXTERNAL)

    def test_double_nat_and_direct_verdicts(self) -> None:
        self.fake.external = "100.64.1.2"  # carrier-grade NAT space
        d = self.client().discover(fresh=True)
        self.assertTrue(d.double_nat)
        self.assertEqual(d.nat, "double_nat")
        self.fake.external = "127.0.0.1"  # the local address itself
        self.assertEqual(self.client().discover(fresh=True).nat, "direct")

    def test_request_renew_release(self) -> None:
        c = self.client()
        m = c.request(40100, "tcp", external_port=40101, lifetime=120, description="unit test")
        self.assertEqual(m.external_address, FAKE_EXTERNAL)
        self.assertEqual(m.external_port, 40101)
        self.assertEqual(m.internal_port, 40100)
        self.assertEqual(m.internal_address, "127.0.0.1")
        self.assertIs(m.protocol, portmap.Transport.TCP)
        self.assertIs(m.method, portmap.Method.NATPMP)
        self.assertEqual(m.lifetime, 120)
        self.assertIs(m.state, State.MAPPED)
        self.assertEqual(m.address, (FAKE_EXTERNAL, 40101))
        self.assertIn("40100 -> 198.51.100.7:40101 via natpmp, mapped", repr(m))
        self.assertEqual(self.fake.mappings[(TCP, 40100)], (40101, 120))
        self.assertEqual(c.mappings, [m])
        before = self.fake.requests
        m.renew()
        self.assertTrue(wait_until(lambda: m.info().renewals == 1, 3), "renew() sent nothing")
        self.assertGreater(self.fake.requests, before)
        m.release()
        self.assertEqual(self.fake.deletes, [(TCP, 40100)])
        self.assertIs(m.state, State.RELEASED)
        self.assertEqual(c.mappings, [])
        m.release()  # twice: nothing happens
        with self.assertRaises(portmap.BadStateError):
            m.renew()

    def test_context_managers_release(self) -> None:
        with self.client() as c:
            with c.request(40110, "udp") as m:
                self.assertTrue(self.fake.has(UDP, 40110))
            self.assertFalse(self.fake.has(UDP, 40110))
            self.assertIs(m.state, State.RELEASED)
            c.request(40111, "udp")
            c.request(40112, "tcp")
            self.assertTrue(self.fake.has(TCP, 40112))
        self.assertTrue(c.closed)
        self.assertEqual(self.fake.mappings, {})
        self.assertEqual(sorted(self.fake.deletes), [(UDP, 40110), (UDP, 40111), (TCP, 40112)])

    def test_release_on_close_false_leaves_the_mapping(self) -> None:
        c = self.client(release_on_close=False)
        c.request(40115, "udp", lifetime=60)
        c.close()
        self.assertTrue(self.fake.has(UDP, 40115))

    def test_second_request_for_the_same_port_is_refused(self) -> None:
        c = self.client()
        c.request(40120, "udp")
        with self.assertRaises(portmap.BadStateError) as cm:
            c.request(40120, "udp")
        self.assertIn("already holds it", str(cm.exception))

    def test_wait_false_then_wait(self) -> None:
        c = self.client()
        m = c.request(40125, "udp", wait=False)
        self.assertIs(m.wait(), m)
        self.assertIs(m.state, State.MAPPED)

    def test_counters(self) -> None:
        c = self.client()
        c.request(40127, "udp")
        n = c.counters()
        self.assertGreaterEqual(n.requests_sent, 1)
        self.assertGreaterEqual(n.responses, 1)
        self.assertEqual(n.errors, {})

    def test_abandoned_client_releases_its_mappings(self) -> None:
        import portmap as pm

        c = pm.Client(gateway=FAKE_GW, methods=["natpmp"], timeout=3, state_dir=self.state_dir)
        c.request(40128, "udp")
        gate = c._gate
        del c
        gc.collect()
        self.assertTrue(gate.closed.wait(5))
        self.assertEqual(self.fake.deletes, [(UDP, 40128)])

    def test_router_table_needs_upnp(self) -> None:
        with self.assertRaises(portmap.UnsupportedError) as cm:
            self.client().router_mappings(timeout=1)
        self.assertEqual(cm.exception.code, portmap.ErrorCode.UNSUPPORTED)

    def test_router_table_without_a_router(self) -> None:
        # nothing listens at that address: every protocol refused, which is
        # no gateway (as discover() says), not a router without UPnP
        c = self.client(gateway="127.0.0.99", methods=None, timeout=10)
        t0 = time.monotonic()
        with self.assertRaises(portmap.NoGatewayError) as cm:
            c.router_mappings()
        self.assertLess(time.monotonic() - t0, 5)  # known at once, not at the timeout
        self.assertIsInstance(cm.exception, ConnectionError)
        self.assertIn("the router at 127.0.0.99: PCP: refused", str(cm.exception))


class Families(FakeGatewayTest):
    """IPv6 pinholes (API 0.3) where the network has no IPv6: the fake
    gateway is IPv4 only and the client's IPv4 gateway setting rules IPv6
    out, so every IPv6 part fails with NO_GATEWAY, at once."""

    def test_ipv4_request_has_no_ipv6_part(self) -> None:
        m = self.client().request(40300, "udp")
        self.assertIs(m.family, portmap.Family.IPV4)
        self.assertIs(m.info().family, portmap.Family.IPV4)
        self.assertIs(m.address_kind, portmap.AddressKind.NA)
        # the same part (its timers aside: each read is at its own ms)
        untimed = lambda i: dataclasses.replace(i, refresh_in=None, expires_in=None)  # noqa: E731
        self.assertEqual(untimed(m.info(family="ipv4")), untimed(m.info()))
        with self.assertRaises(portmap.NotFoundError):
            m.info(family="ipv6")

    def test_both_families_map_the_ipv4_part(self) -> None:
        events: List[portmap.Event] = []
        c = self.client(on_event=events.append)
        m = c.request(40310, "tcp", family="both")
        self.assertIs(m.family, portmap.Family.IPV4_IPV6)
        # the IPv4 part is the mapping's own state
        self.assertIs(m.state, State.MAPPED)
        self.assertIs(m.info().family, portmap.Family.IPV4)
        self.assertEqual(m.address, (FAKE_EXTERNAL, 40310))
        self.assertTrue(self.fake.has(TCP, 40310))
        # the IPv6 part failed on its own, which does not fail the request
        v6 = m.info(family="ipv6")
        self.assertIs(v6.family, portmap.Family.IPV6)
        self.assertIs(v6.state, State.FAILED)
        self.assertIs(v6.last_error, portmap.ErrorCode.NO_GATEWAY)
        self.assertIs(m.address_kind, portmap.AddressKind.NA)
        self.assertIn("ipv6 ? via auto, failed", repr(m))
        self.assertEqual(sorted((str(e.kind), str(e.info.family)) for e in events),
                         [("failed", "ipv6"), ("mapped", "ipv4")])
        self.assertIn("(ipv6)", str([e for e in events if e.info.family == portmap.Family.IPV6][0]))
        m.release()
        # one RELEASED per part, the handle dropped only after both
        self.assertEqual(self.fake.deletes, [(TCP, 40310)])
        self.assertTrue(wait_until(lambda: len(events) == 4, 2))
        self.assertEqual(sorted(str(e.info.family) for e in events[2:] if e.kind == EventKind.RELEASED),
                         ["ipv4", "ipv6"])
        self.assertIs(m.state, State.RELEASED)
        self.assertIs(m.info(family="ipv6").state, State.RELEASED)
        self.assertEqual(c.mappings, [])

    def test_ipv6_only_fails_without_ipv6(self) -> None:
        c = self.client(methods=None)
        with self.assertRaises(portmap.NoGatewayError) as cm:
            c.request(40320, "udp", family="ipv6")
        self.assertIn("ipv6 pinhole", str(cm.exception))
        self.assertIn("rules IPv6 out", str(cm.exception))
        self.assertEqual(self.fake.mappings, {})
        self.assertTrue(wait_until(lambda: c.mappings == [], 2))

    def test_both_families_fail_with_the_ipv4_error(self) -> None:
        self.fake.result = 2  # Not Authorized/Refused
        with self.assertRaises(portmap.NotAuthorizedError) as cm:
            self.client().request(40330, "udp", family="both")
        self.assertIn("and no ipv6 pinhole", str(cm.exception))

    def test_request_async_both(self) -> None:
        async def main() -> None:
            m = await self.client().request_async(40340, "udp", family=portmap.Family.IPV4_IPV6)
            self.assertIs(m.state, State.MAPPED)
            self.assertIs(m.info(family=portmap.Family.IPV6).state, State.FAILED)

        asyncio.run(main())

    def test_discover_dual(self) -> None:
        c = self.client()
        v4, v6 = c.discover_dual(fresh=True)
        self.assertEqual(v4, c.discover())
        self.assertIs(v4.family, portmap.Family.IPV4)
        self.assertEqual(v4.gateway, FAKE_GW)
        self.assertEqual(v4.protocols, (portmap.Method.NATPMP,))
        self.assertIs(v6.family, portmap.Family.IPV6)
        self.assertIsNone(v6.gateway)
        self.assertEqual(v6.protocols, ())
        self.assertIsNone(v6.preferred)
        self.assertEqual(v6.nat, "unknown")  # no router to judge
        with self.assertRaises(portmap.NoGatewayError) as cm:
            c.discover(family="ipv6")
        d = cm.exception.discovery
        assert isinstance(d, portmap.Discovery)
        self.assertIs(d.family, portmap.Family.IPV6)


class Errors(FakeGatewayTest):
    def test_refusal_is_a_refused_error(self) -> None:
        self.fake.result = 2  # Not Authorized/Refused
        c = self.client()
        with self.assertRaises(portmap.NotAuthorizedError) as cm:
            c.request(40130, "udp")
        e = cm.exception
        self.assertIsInstance(e, portmap.RefusedError)
        self.assertEqual(e.code, portmap.ErrorCode.NOT_AUTHORIZED)
        # the kind of failure, then the router's own words
        self.assertTrue(e.message.startswith(portmap.strerror(7)), e.message)
        self.assertIn("NAT-PMP: result 2", e.message)
        self.assertIn("request 40130/udp", str(e))
        # the failed request does not linger
        self.assertTrue(wait_until(lambda: c.mappings == [], 2))

    def test_out_of_resources(self) -> None:
        self.fake.result = 4
        with self.assertRaises(portmap.NoResourcesError):
            self.client(timeout=1.5).request(40131, "udp")

    def test_silent_gateway(self) -> None:
        self.fake.silent = True
        c = self.client(timeout=0.6)
        t0 = time.monotonic()
        with self.assertRaises(portmap.NoGatewayError) as cm:
            c.request(40132, "udp")
        self.assertLess(time.monotonic() - t0, 0.6 + 2)
        self.assertIn(f"the router at {FAKE_GW}: NAT-PMP: no answer within 0.6 s", str(cm.exception))
        self.assertNotIn("success", str(cm.exception))
        with self.assertRaises(portmap.NoGatewayError) as cm2:
            c.discover(fresh=True)
        self.assertEqual(cm2.exception.discovery.gateway, FAKE_GW)  # type: ignore[union-attr]
        self.assertEqual(cm2.exception.discovery.protocols, ())  # type: ignore[union-attr]
        self.assertEqual(cm2.exception.discovery.nat, "unknown")  # type: ignore[union-attr]

    def test_gateway_that_stops_answering_times_out(self) -> None:
        c = self.client(timeout=0.8)
        c.discover()
        self.fake.silent = True  # it answered the probe, then nothing
        with self.assertRaises(portmap.GatewayTimeoutError) as cm:
            c.request(40133, "udp")
        self.assertIsInstance(cm.exception, TimeoutError)

    def test_unsupported_protocol(self) -> None:
        c = self.client()
        with self.assertRaises(portmap.UnsupportedError):
            c.request(40134, "udp", protocol="pcp", timeout=1)

    def test_allow_is_never_dropped_for_natpmp(self) -> None:
        # NAT-PMP cannot restrict who connects: no mapping rather than one
        # open to everyone
        c = self.client(timeout=1)
        with self.assertRaises(portmap.UnsupportedError):
            c.request(40135, "udp", allow="198.51.100.0/24")
        with self.assertRaises(portmap.UnsupportedError):
            c.request(40136, "udp", allow=ipaddress.ip_address("198.51.100.9"), protocol="natpmp")
        self.assertNotIn((UDP, 40135), self.fake.mappings)
        self.assertNotIn((UDP, 40136), self.fake.mappings)
        for bad in ("198.51.100.9/24", "0.0.0.0/0", "2001:db8::1", "host.example"):
            with self.assertRaises(portmap.InvalidArgumentError):
                c.request(40137, "udp", allow=bad)
        with self.assertRaises(TypeError):
            c.request(40137, "udp", allow=42)


class Callbacks(FakeGatewayTest):
    def test_events_in_order_on_the_engine_thread(self) -> None:
        seen: List[portmap.Event] = []
        threads = set()

        def on_event(ev: portmap.Event) -> None:
            seen.append(ev)
            threads.add(threading.get_ident())

        c = self.client(on_event=on_event)
        m = c.request(40140, "udp", lifetime=60)
        m2 = c.request(40141, "udp", lifetime=60)
        self.fake.reboot()
        m.renew()  # its reply shows the new epoch: both were lost; each is redone
        self.assertTrue(wait_until(lambda: sum(e.kind == EventKind.RESTORED for e in seen) >= 2, 8))
        self.assertTrue(self.fake.has(UDP, 40141))
        m.release()
        m2.release()  # returns once RELEASED was delivered
        kinds = [(e.mapping.internal_port, e.kind) for e in seen]
        self.assertEqual([k for p, k in kinds if p == 40141],
                         [EventKind.MAPPED, EventKind.LOST, EventKind.RESTORED, EventKind.RELEASED])
        # the renewed one was made again by its own renewal
        self.assertEqual([k for p, k in kinds if p == 40140],
                         [EventKind.MAPPED, EventKind.LOST, EventKind.RESTORED, EventKind.RELEASED])
        self.assertNotIn(threading.get_ident(), threads)
        self.assertEqual(len(threads), 1)
        self.assertIs(seen[0].mapping, m)
        self.assertEqual(seen[0].info.external_port, 40140)
        self.assertEqual(str(seen[0]), "mapped 40140/udp")

    def test_exception_in_callback_is_logged(self) -> None:
        delivered = []

        def bad(ev: portmap.Event) -> None:
            raise RuntimeError("boom from the callback")

        c = self.client(on_event=bad)
        c.on_event(delivered.append)
        with self.assertLogs("portmap", level="ERROR") as logs:
            m = c.request(40142, "udp")
            self.assertTrue(wait_until(lambda: delivered, 2))
        text = "\n".join(logs.output)
        self.assertIn("exception in on_event callback", text)
        self.assertIn("RuntimeError: boom from the callback", text)
        self.assertEqual(delivered[0].kind, EventKind.MAPPED)
        self.assertIs(m.state, State.MAPPED)  # the client goes on
        c.remove_event_handler(bad)
        with self.assertLogs("portmap", level="DEBUG") as logs:
            m.release()
            logging.getLogger("portmap").debug("marker")  # assertLogs needs one record
        self.assertNotIn("exception in on_event callback", "\n".join(logs.output))

    def test_blocking_calls_from_a_callback_are_refused(self) -> None:
        results = {}
        done = threading.Event()

        def on_event(ev: portmap.Event) -> None:
            if ev.kind != EventKind.MAPPED or ev.mapping.internal_port != 40150:
                return
            for name, call in (("discover", c.discover), ("external_ip", c.external_ip),
                               ("request", lambda: c.request(40151)),
                               ("wait", ev.mapping.wait),
                               ("release", lambda: ev.mapping.release(timeout=1))):
                try:
                    call()
                    results[name] = None
                except portmap.PortmapError as e:
                    results[name] = e.code
            # allowed there: non-blocking calls
            ev.mapping.renew()
            results["info"] = ev.mapping.info().state
            results["async request"] = c.request(40152, wait=False).internal_port
            done.set()

        c = self.client(on_event=on_event)
        m = c.request(40150, "udp")
        self.assertTrue(done.wait(3))
        deadlock = portmap.ErrorCode.WOULD_DEADLOCK
        self.assertEqual(results, {"discover": deadlock, "external_ip": deadlock, "request": deadlock,
                                   "wait": deadlock, "release": deadlock, "info": State.MAPPED,
                                   "async request": 40152})
        self.assertIs(m.state, State.MAPPED)  # the refused release left it alone
        self.assertTrue(wait_until(lambda: self.fake.has(UDP, 40152), 3))

    def test_release_from_a_callback(self) -> None:
        def on_event(ev: portmap.Event) -> None:
            if ev.kind == EventKind.MAPPED:
                ev.mapping.release()  # default: do not wait

        c = self.client(on_event=on_event)
        m = c.request(40155, "udp")
        self.assertTrue(wait_until(lambda: m.info().state == State.RELEASED, 3))
        self.assertIn((UDP, 40155), self.fake.deletes)

    def test_close_from_a_callback_is_deferred(self) -> None:
        returned = threading.Event()

        def on_event(ev: portmap.Event) -> None:
            if ev.kind == EventKind.MAPPED:
                c.close()  # portmap_close() is forbidden here: deferred
                returned.set()

        c = self.client(on_event=on_event)
        m = c.request(40160, "udp")
        self.assertTrue(returned.wait(3), "close() blocked inside the callback")
        self.assertTrue(c.closed)
        self.assertTrue(c._gate.closed.wait(5))
        self.assertIsNone(c._gate.ptr.value)
        self.assertEqual(self.fake.deletes, [(UDP, 40160)])
        self.assertIs(m.state, State.RELEASED)
        c.close()  # and again, from here

    def test_close_wakes_a_waiting_request(self) -> None:
        self.fake.silent = True
        c = self.client(timeout=20)
        errors = []

        def requester() -> None:
            try:
                c.request(40165, "udp")
            except portmap.PortmapError as e:
                errors.append(e)

        t = threading.Thread(target=requester)
        t.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        c.close()
        t.join(5)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(len(errors), 1)
        self.assertIsInstance(errors[0], portmap.ClientClosedError)

    def test_close_waits_for_a_blocking_call(self) -> None:
        self.fake.silent = True
        c = self.client(timeout=1)
        errors = []
        started = threading.Event()

        def discoverer() -> None:
            started.set()
            try:
                c.discover(fresh=True)
            except portmap.PortmapError as e:
                errors.append(e)

        t = threading.Thread(target=discoverer)
        t.start()
        started.wait()
        time.sleep(0.1)
        c.close()
        t.join(5)
        self.assertFalse(t.is_alive())
        self.assertEqual(len(errors), 1)
        self.assertIsInstance(errors[0], (portmap.NoGatewayError, portmap.ClientClosedError))

    def test_library_log_goes_to_logging(self) -> None:
        with self.assertLogs("portmap", level="INFO") as logs:
            c = self.client(log_level=logging.INFO)
            c.request(40170, "udp").release()
        self.assertTrue(any("mapped udp/40170 -> external port 40170 via natpmp" in line
                            for line in logs.output), logs.output)

    def test_log_level_follows_the_logger(self) -> None:
        logger = logging.getLogger("portmap")
        old = logger.level
        logger.setLevel(logging.ERROR)
        try:
            c = self.client()  # log_level from the logger: ERROR only
            with self.assertLogs("portmap", level="DEBUG") as logs:
                c.request(40171, "udp").release()
                logger.error("marker")
            self.assertEqual([r.getMessage() for r in logs.records], ["marker"])
        finally:
            logger.setLevel(old)

    def test_logging_handler_cannot_call_into_the_library(self) -> None:
        outcome = []

        class Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                if "mapped" in record.getMessage() and not outcome:
                    try:
                        c.counters()
                        outcome.append("called")
                    except portmap.WouldDeadlockError:
                        outcome.append("refused")

        h = Handler(logging.INFO)
        logger = logging.getLogger("portmap")
        logger.addHandler(h)
        self.addCleanup(logger.removeHandler, h)
        self.addCleanup(logger.setLevel, logger.level)
        logger.setLevel(logging.INFO)
        c = self.client(log_level="info")
        c.request(40172, "udp")
        self.assertEqual(outcome, ["refused"])


class Asyncio(FakeGatewayTest):
    def test_request_async_and_event_stream(self) -> None:
        async def main() -> List[str]:
            c = self.client()
            got: List[str] = []
            stream = c.events()

            async def consume() -> None:
                async for ev in stream:
                    got.append(f"{ev.kind} {ev.mapping.internal_port}")

            task = asyncio.ensure_future(consume())
            m = await c.request_async(40180, "udp")
            self.assertEqual(m.external_port, 40180)
            await m.release_async()
            d = await c.discover_async()
            self.assertEqual(d.gateway, FAKE_GW)
            self.assertEqual(await c.external_ip_async(), FAKE_EXTERNAL)
            await asyncio.get_running_loop().run_in_executor(None, c.close)
            await asyncio.wait_for(task, 5)  # the stream ends with the client
            return got

        self.assertEqual(asyncio.run(main()), ["mapped 40180", "released 40180"])

    def test_request_async_failure(self) -> None:
        self.fake.result = 2

        async def main() -> None:
            with self.assertRaises(portmap.NotAuthorizedError):
                await self.client().request_async(40181, "udp")

        asyncio.run(main())

    def test_cancelled_request_is_dropped(self) -> None:
        self.fake.silent = True
        c = self.client(timeout=20)

        async def main() -> None:
            task = asyncio.ensure_future(c.request_async(40182, "udp"))
            await asyncio.sleep(0.2)
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task

        asyncio.run(main())
        self.assertTrue(wait_until(lambda: c.mappings == [], 3))

    def test_async_with_client_and_mapping(self) -> None:
        async def main() -> portmap.Client:
            async with self.client() as c:
                async with await c.request_async(40190, "udp") as m:
                    self.assertTrue(self.fake.has(UDP, 40190))
                self.assertIs(m.state, State.RELEASED)
                self.assertEqual(self.fake.deletes, [(UDP, 40190)])
                c.request(40191, "tcp")  # left to the close
                self.assertFalse(c.closed)
            return c

        c = asyncio.run(main())
        self.assertTrue(c.closed)
        self.assertEqual(self.fake.deletes, [(UDP, 40190), (TCP, 40191)])

    def test_async_close_does_not_block_the_loop(self) -> None:
        from portmap._gate import _CLOSING

        c = self.client(close_timeout=1)
        seen: List[int] = []

        async def main() -> None:
            async with c:
                await c.request_async(40192, "udp")
                self.fake.silent = True  # the release waits for close_timeout

                async def watch() -> None:
                    while True:
                        seen.append(c._gate.state)
                        await asyncio.sleep(0.01)

                task = asyncio.ensure_future(watch())
            task.cancel()

        asyncio.run(main())
        self.assertIn(_CLOSING, seen, "the loop stood still while the client closed")
        self.assertTrue(c.closed)

    def test_cancelled_inside_async_with_releases_and_closes(self) -> None:
        c = self.client()

        async def main() -> None:
            mapped = asyncio.Event()

            async def hold() -> None:
                async with c:
                    async with await c.request_async(40193, "udp"):
                        mapped.set()
                        await asyncio.sleep(3600)

            task = asyncio.ensure_future(hold())
            await asyncio.wait_for(mapped.wait(), 10)
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task

        asyncio.run(main())
        self.assertTrue(c.closed)
        self.assertEqual(self.fake.deletes, [(UDP, 40193)])
        self.assertEqual(self.fake.mappings, {})

    def test_cancelled_while_closing_still_closes(self) -> None:
        c = self.client(close_timeout=1)

        async def main() -> None:
            closing = asyncio.Event()

            async def hold() -> None:
                async with c:
                    await c.request_async(40194, "udp")
                    self.fake.silent = True
                    closing.set()

            task = asyncio.ensure_future(hold())
            await asyncio.wait_for(closing.wait(), 10)
            await asyncio.sleep(0)  # into __aexit__
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task

        asyncio.run(main())
        self.assertTrue(c._gate.closed.wait(5))
        self.assertTrue(c.closed)

    def test_loop_does_not_block(self) -> None:
        self.fake.silent = True
        c = self.client(timeout=1)

        async def main() -> int:
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.05)
                    ticks += 1

            t = asyncio.ensure_future(ticker())
            with self.assertRaises(portmap.NoGatewayError):
                await c.request_async(40183, "udp")
            t.cancel()
            return ticks

        self.assertGreater(asyncio.run(main()), 5)



class Cli(FakeGatewayTest):
    """python -m portmap, the C tool's everyday commands."""

    def cli(self, *args: str) -> List[str]:
        return [sys.executable, "-m", "portmap", *args, "--gateway", FAKE_GW, "--protocol", "natpmp",
                "--timeout", "3", "--state-dir", self.state_dir]

    def run_cli(self, *args: str) -> "subprocess.CompletedProcess[str]":
        return subprocess.run(self.cli(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=60)

    def test_discover(self) -> None:
        r = self.run_cli("discover", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        d = json.loads(r.stdout)
        self.assertEqual((d["gateway"], d["external_address"], d["protocols"], d["nat"]),
                         (FAKE_GW, FAKE_EXTERNAL, ["natpmp"], "nat"))

    def test_request_once_then_release(self) -> None:
        r = self.run_cli("request", "40200", "tcp", "--once", "--json", "--lifetime", "300")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = json.loads(r.stdout)
        self.assertEqual((got["event"], got["protocol"], got["external_address"], got["external_port"]),
                         ("mapped", "tcp", FAKE_EXTERNAL, 40200))
        self.assertTrue(self.fake.has(TCP, 40200))  # left mapped: --once
        r = self.run_cli("release", "40200", "tcp")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "released tcp 40200\n")
        self.assertEqual(self.fake.deletes, [(TCP, 40200)])

    def test_request_holds_until_sigterm(self) -> None:
        p = subprocess.Popen(self.cli("request", "40201", "udp"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, universal_newlines=True)
        try:
            assert p.stdout is not None
            line = p.stdout.readline()
            self.assertTrue(line.startswith(f"mapped udp 40201 -> {FAKE_EXTERNAL}:40201 via natpmp"), line)
            self.assertTrue(self.fake.has(UDP, 40201))
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(30), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            for f in (p.stdout, p.stderr):
                if f is not None:
                    f.close()
        self.assertEqual(self.fake.deletes, [(UDP, 40201)])

    def test_failures_exit_as_portmap_cli(self) -> None:
        r = self.run_cli("request", "40202", "tpc")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown Transport 'tpc'", r.stderr)
        r = self.run_cli("request", "40202", "udp", "--description", "x" * 64)
        self.assertEqual(r.returncode, 2)
        self.assertIn("description is 64 bytes", r.stderr)
        self.fake.result = 2
        r = self.run_cli("request", "40202", "udp")
        self.assertEqual(r.returncode, 4, r.stderr)
        self.fake.silent = True
        r = self.run_cli("discover")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("no answer", r.stderr)
        self.assertEqual(self.fake.mappings, {})

if __name__ == "__main__":
    unittest.main()
