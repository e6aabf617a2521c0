#!/usr/bin/env python3
"""The lab's HTTPS port checker: echoip's GET /port/N over TLS.

Run on the lab's WAN host (tests/lab/test_lab_check.c). Like echoip's
port test, it really connects back to the address the request came from,
on port N (TCP, at most 2 s), and answers 200 with
{"ip":ADDRESS,"port":N,"reachable":BOOL}. It probes no other address.

--mode makes it a bad checker, for the CLI's error paths: junk (200 with
a body that is no JSON), http500 (500 Internal Server Error), silent
(the TLS handshake completes, then no answer at all).

Prints "listening on ADDR:PORT" once it accepts connections.
"""
import argparse
import http.server
import json
import re
import socket
import ssl
import sys
import threading

PROBE_S = 2.0


def reachable(addr, port):
    try:
        with socket.create_connection((addr, port), timeout=PROBE_S):
            return True
    except OSError:
        return False


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    mode = "normal"

    def log_message(self, fmt, *args):  # quiet: the test's output is the CLI's
        pass

    def answer(self, code, body, ctype="application/json"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        m = re.fullmatch(r"/port/([0-9]{1,5})", self.path)
        if not m or not 1 <= int(m.group(1)) <= 65535:
            self.answer(404, '{"error":"404 page not found"}')
            return
        if self.mode == "http500":
            self.answer(500, "internal error\n", "text/plain")
            return
        if self.mode == "junk":
            self.answer(200, "<html>not a port test</html>\n", "text/html")
            return
        if self.mode == "silent":
            threading.Event().wait(60)  # the client gives up first
            return
        addr, port = self.client_address[0], int(m.group(1))
        self.answer(200, json.dumps({"ip": addr, "port": port,
                                     "reachable": reachable(addr, port)}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True, help="ADDR:PORT")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--mode", default="normal",
                    choices=["normal", "junk", "http500", "silent"])
    a = ap.parse_args()
    host, port = a.listen.rsplit(":", 1)
    Handler.mode = a.mode
    srv = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("listening on %s" % a.listen, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
