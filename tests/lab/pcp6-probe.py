#!/usr/bin/env python3
"""pcp6-probe: send one PCP request (RFC 6887) over IPv6 and print the answer.

Used to establish tests/lab/IPV6-FACTS.md; run it in the LAN namespace:

  pcp6-probe.py DEST [--bind ADDR] [--connect] [--op map|announce]
                [--client ADDR] [--proto N] [--port N] [--ext-port N]
                [--ext-addr ADDR] [--lifetime S] [--nonce HEX] [--timeout S]

DEST is an IPv6 literal, with %IFNAME for a link-local one (fe80::1%lan0).
--bind binds the socket to ADDR first (port 0). --connect connect()s the
socket to DEST:5351, as libportmap does (the kernel then drops answers from
any other source); without it the answer's source address is printed from
recvfrom(). --client is the PCP client address in the request (default:
the bound address, else the source the kernel picks for DEST).
--listen-announce instead waits for unsolicited ANNOUNCEs on [::]:5350.
Exit 0 when an answer came, 1 on timeout.
"""
import argparse
import ipaddress
import os
import socket
import struct
import sys

RESULTS = {0: "SUCCESS", 1: "UNSUPP_VERSION", 2: "NOT_AUTHORIZED",
           3: "MALFORMED_REQUEST", 4: "UNSUPP_OPCODE", 5: "UNSUPP_OPTION",
           6: "MALFORMED_OPTION", 7: "NETWORK_FAILURE", 8: "NO_RESOURCES",
           9: "UNSUPP_PROTOCOL", 10: "USER_EX_QUOTA",
           11: "CANNOT_PROVIDE_EXTERNAL", 12: "ADDRESS_MISMATCH",
           13: "EXCESSIVE_REMOTE_PEERS"}


def sockaddr(text, port):
    host, _, scope = text.partition("%")
    sid = socket.if_nametoindex(scope) if scope else 0
    return (host, port, 0, sid)


def decode(data):
    out = []
    if len(data) < 24:
        return "short answer (%d bytes): %s" % (len(data), data.hex())
    ver, rop, _, res, life, epoch = struct.unpack("!BBBBII", data[:12])
    out.append("version=%d opcode=%d R=%d result=%d(%s) lifetime=%d epoch=%d len=%d"
               % (ver, rop & 0x7f, rop >> 7, res, RESULTS.get(res, "?"), life,
                  epoch, len(data)))
    if (rop & 0x7f) == 1 and len(data) >= 60:
        nonce = data[24:36]
        proto, iport, eport = data[36], *struct.unpack("!HH", data[40:44])
        eaddr = ipaddress.IPv6Address(data[44:60])
        ext = str(eaddr.ipv4_mapped) if eaddr.ipv4_mapped else str(eaddr)
        out.append("map nonce=%s proto=%d internal_port=%d external_port=%d "
                   "external_addr=%s" % (nonce.hex(), proto, iport, eport, ext))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dest", nargs="?")
    ap.add_argument("--bind")
    ap.add_argument("--connect", action="store_true")
    ap.add_argument("--op", choices=["map", "announce"], default="map")
    ap.add_argument("--client")
    ap.add_argument("--proto", type=int, default=6)
    ap.add_argument("--port", type=int, default=27015)
    ap.add_argument("--ext-port", type=int)
    ap.add_argument("--ext-addr", default="::")
    ap.add_argument("--lifetime", type=int, default=120)
    ap.add_argument("--nonce")
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--listen-announce", action="store_true")
    a = ap.parse_args()

    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.settimeout(a.timeout)
    if a.listen_announce:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::", 5350))
        try:
            while True:
                data, src = s.recvfrom(1100)
                print("from [%s%s]:%d" % (src[0], "" if "%" in src[0] or not src[3]
                                          else "%" + socket.if_indextoname(src[3]),
                                          src[1]))
                print(decode(data))
                sys.stdout.flush()
        except socket.timeout:
            return 0
    if not a.dest:
        ap.error("DEST is needed")
    dst = sockaddr(a.dest, 5351)
    if a.bind:
        s.bind(sockaddr(a.bind, 0))
    if a.connect:
        s.connect(dst)
    client = a.client
    if client is None:
        if a.bind:
            client = a.bind.partition("%")[0]
        else:
            t = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            t.connect(dst)
            client = t.getsockname()[0].partition("%")[0]
            t.close()
    req = struct.pack("!BBHI", 2, 0 if a.op == "announce" else 1, 0,
                      a.lifetime) + ipaddress.IPv6Address(client).packed
    if a.op == "map":
        nonce = bytes.fromhex(a.nonce) if a.nonce else os.urandom(12)
        ext_port = a.port if a.ext_port is None else a.ext_port
        req += nonce + struct.pack("!B3xHH", a.proto, a.port, ext_port)
        req += ipaddress.IPv6Address(a.ext_addr).packed
    local = s.getsockname() if a.bind or a.connect else None
    print("request op=%s client=%s local=%s dest=%s len=%d"
          % (a.op, client, local and local[0], a.dest, len(req)))
    if a.connect:
        s.send(req)
    else:
        s.sendto(req, dst)
    try:
        data, src = s.recvfrom(1100)
    except socket.timeout:
        print("no answer within %.1f s" % a.timeout)
        return 1
    except ConnectionRefusedError:
        print("ICMP port unreachable (ECONNREFUSED)")
        return 1
    print("answer from [%s]:%d%s" % (src[0], src[1],
          " scope=%s" % socket.if_indextoname(src[3]) if src[3] else ""))
    print(decode(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
