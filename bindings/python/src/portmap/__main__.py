"""``python -m portmap``: the everyday commands of portmap-cli, for scripts
on a machine with the binding but without the C tool.

    python -m portmap discover [--family ipv4|ipv6] [--json]
    python -m portmap request PORT [udp|tcp] [--once] [--external-port N]
                              [--lifetime S] [--description TEXT] [--family F]
    python -m portmap release PORT [udp|tcp]

``request`` keeps the mapping (renewed) until SIGINT or SIGTERM, then
releases it; with ``--once`` it maps, prints and exits, leaving the lease
to run out (or to ``release``). Common options: ``--protocol``,
``--gateway``, ``--timeout``, ``--state-dir``, ``--json``, ``-v``. Exit
status as portmap-cli's: 0 done, 2 usage, 3 no gateway, 4 refused,
5 timeout, 6 other failure.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import json
import logging
import signal
import sys
import threading
from typing import Any, Dict, List, Optional, Sequence

from ._enums import Family, Method, Transport
from .client import Client, Mapping
from .errors import GatewayTimeoutError, InvalidArgumentError, NoGatewayError, PortmapError, RefusedError

EX_OK, EX_USAGE, EX_NOGW, EX_REFUSED, EX_TIMEOUT, EX_OTHER = 0, 2, 3, 4, 5, 6


def _enum_arg(cls: Any) -> Any:
    def parse(text: str) -> Any:
        try:
            return cls.parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return parse


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--protocol", type=_enum_arg(Method), default=Method.AUTO,
                        help="auto (default), pcp, natpmp or upnp")
    common.add_argument("--gateway", help="the router's address instead of the default route's")
    common.add_argument("--timeout", type=float, help="seconds for discovery and the first reply")
    common.add_argument("--state-dir", help="directory of the journal of held mappings")
    common.add_argument("--json", action="store_true", help="one JSON object per line")
    common.add_argument("-v", "--verbose", action="count", default=0, help="log to stderr (-vv: debug)")
    p = argparse.ArgumentParser(prog="python -m portmap", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("discover", parents=[common], help="describe the router")
    d.add_argument("--family", type=_enum_arg(Family), default=Family.IPV4, help="ipv4 (default) or ipv6")
    for name, text in (("request", "map a port, keep it until SIGINT/SIGTERM"),
                       ("release", "release this host's mapping of a port")):
        s = sub.add_parser(name, parents=[common], help=text)
        s.add_argument("port", type=int)
        s.add_argument("transport", type=_enum_arg(Transport), nargs="?", default=Transport.UDP,
                       help="udp (default) or tcp")
    r = sub.choices["request"]
    r.add_argument("--once", action="store_true", help="map, print and exit; the lease runs out")
    r.add_argument("--external-port", type=int)
    r.add_argument("--lifetime", type=int, help="lease in seconds")
    r.add_argument("--description", help="shown in the router's table, at most 63 bytes")
    r.add_argument("--family", type=_enum_arg(Family), default=Family.IPV4, help="ipv4, ipv6 or both")
    return p


def _out(args: argparse.Namespace, record: Dict[str, Any], text: str) -> None:
    print(json.dumps(record) if args.json else text, flush=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return str(value)
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def _mapped(args: argparse.Namespace, m: Mapping) -> None:
    parts: List[Optional[Family]] = [Family.IPV4, Family.IPV6] if m.family == Family.IPV4_IPV6 else [None]
    for fam in parts:
        i = m.info(family=fam)
        if i.external_port == 0:
            continue  # this part of a request of both families failed
        host = f"[{i.external_address}]" if i.family == Family.IPV6 else i.external_address
        _out(args, {"event": "mapped", "family": str(i.family), "protocol": str(i.protocol),
                    "internal_port": i.internal_port, "external_address": i.external_address,
                    "external_port": i.external_port, "method": str(i.method), "lifetime": i.lifetime},
             f"mapped {i.protocol} {i.internal_port} -> {host}:{i.external_port} via {i.method}, "
             f"lifetime {i.lifetime} s")


def _discover(args: argparse.Namespace, client: Client) -> int:
    d = client.discover(fresh=True, family=args.family)
    record = {f.name: _jsonable(getattr(d, f.name)) for f in dataclasses.fields(d)}
    text = "\n".join(f"{k}: {', '.join(v) if isinstance(v, list) else '' if v is None else v}"
                     for k, v in record.items())
    _out(args, record, text)
    return EX_OK


def _request(args: argparse.Namespace, client: Client) -> int:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    m = client.request(args.port, args.transport, external_port=args.external_port, lifetime=args.lifetime,
                       description=args.description, protocol=args.protocol, family=args.family)
    _mapped(args, m)
    if args.once:
        return EX_OK
    client.on_event(lambda ev: _out(args, {"event": str(ev.kind), "family": str(ev.info.family),
                                           "external_port": ev.info.external_port}, str(ev)))
    while not stop.wait(3600):
        pass
    m.release()
    return EX_OK


def _release(args: argparse.Namespace, client: Client) -> int:
    client.release_port(args.port, args.transport, protocol=args.protocol, timeout=args.timeout)
    _out(args, {"event": "released", "protocol": str(args.transport), "internal_port": args.port},
         f"released {args.transport} {args.port}")
    return EX_OK


def _status(e: PortmapError) -> int:
    if isinstance(e, InvalidArgumentError):
        return EX_USAGE
    if isinstance(e, NoGatewayError):
        return EX_NOGW
    if isinstance(e, RefusedError):
        return EX_REFUSED
    if isinstance(e, GatewayTimeoutError):
        return EX_TIMEOUT
    return EX_OTHER


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one command; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG if args.verbose > 1 else logging.INFO,
                            format="portmap: %(message)s")
    methods: Optional[List[Method]] = None if args.protocol == Method.AUTO else [args.protocol]
    try:
        with Client(methods=methods, gateway=args.gateway, timeout=args.timeout, state_dir=args.state_dir,
                    release_on_close=not getattr(args, "once", False)) as client:
            run = {"discover": _discover, "request": _request, "release": _release}[args.command]
            return run(args, client)
    except PortmapError as e:
        print(f"python -m portmap: {e}", file=sys.stderr)
        return _status(e)
    except (TypeError, ValueError) as e:  # a bad argument the parser let through
        print(f"python -m portmap: {e}", file=sys.stderr)
        return EX_USAGE


if __name__ == "__main__":
    sys.exit(main())
