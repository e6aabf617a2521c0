#!/usr/bin/env python3
"""Serve a directory over HTTP and open its port on the router.

    python3 serve_http.py --port 8000 --directory ~/public

Prints the public URL, serves until Ctrl-C, then releases the mapping.
"""

import argparse
import functools
import http.server

import portmap

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--port", type=int, default=8000)
parser.add_argument("--directory", default=".")
parser.add_argument("--protocol", default="auto", help="auto, pcp, natpmp or upnp")
args = parser.parse_args()

handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=args.directory)
with http.server.ThreadingHTTPServer(("", args.port), handler) as httpd:
    with portmap.Client() as client:
        with client.request(args.port, "tcp", protocol=args.protocol, description="serve_http.py") as m:
            print(f"http://{m.external_address}:{m.external_port}/ (via {m.method}; Ctrl-C to stop)",
                  flush=True)
            try:
                httpd.serve_forever()
            except KeyboardInterrupt:
                pass
