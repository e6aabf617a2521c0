#!/usr/bin/env python3
"""Capture real router replies from the test lab as fuzzing seeds.

Run inside the lab's LAN namespace while the lab router (miniupnpd, profile
full) is up, e.g.:

    LAB_PREFIX=fz LAB_SYSTEM_UPTIME=no tests/lab/lab.sh up --profile full
    ip netns exec fz-lan python3 tests/fuzz/capture_seeds.py tests/fuzz/corpus
    LAB_PREFIX=fz tests/lab/lab.sh down

The notify and announce captures listen while the router restarts: start
them in the background, then run `lab.sh router-stop` and `router-start`.

Every file written is the raw bytes the router sent, so the corpus starts
from what a real implementation produces; the hand-made edge cases come
from make_seeds.py. Traffic goes only to the lab router (10.77.0.1).
"""
import os
import re
import socket
import struct
import sys
import time

ROUTER = "10.77.0.1"
ME = "10.77.0.2"
HTTP_PORT = 5000


# fuzz_http reads a control byte first (body cap, read size): the seeds
# get one each, varied so that several read sizes are covered.
HTTP_CONTROL = {"rootDesc": 0x00, "not-found": 0x3d, "soap-extip": 0x05,
                "soap-add-other-client": 0xfd, "soap-generic-0": 0x1c}


def save(out, target, name, data):
    if target == "http":
        data = bytes([HTTP_CONTROL.get(name, 0)]) + data
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "lab-" + name), "wb") as f:
        f.write(data)
    print(f"{target}/lab-{name}: {len(data)} bytes")


def mapped(ipv4):
    return b"\0" * 10 + b"\xff\xff" + socket.inet_aton(ipv4)


def udp_exchange(port, msg, wait=1.0, many=False):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(wait)
    s.bind((ME, 0))
    s.sendto(msg, (ROUTER, port))
    got = []
    try:
        while True:
            data, _ = s.recvfrom(4096)
            got.append(data)
            if not many:
                break
    except socket.timeout:
        pass
    s.close()
    return got


# ---- PCP (RFC 6887) ----

def pcp_header(opcode, lifetime, version=2):
    return struct.pack("!BBHI", version, opcode, 0, lifetime) + mapped(ME)


def pcp_map(nonce, proto, iport, eport, lifetime, options=b"", ext=b"\0" * 16):
    payload = nonce + struct.pack("!B3xHH", proto, iport, eport) + ext
    return pcp_header(1, lifetime) + payload + options


def pcp_option(code, data):
    pad = (-len(data)) % 4
    return struct.pack("!BBH", code, 0, len(data)) + data + b"\0" * pad


def capture_pcp(out):
    nonce = bytes(range(1, 13))
    cases = {
        "announce": pcp_header(0, 0),
        "map-udp": pcp_map(nonce, 17, 27015, 27015, 120),
        "map-tcp-any-port": pcp_map(nonce, 6, 8080, 0, 3600),
        "map-prefer-failure": pcp_map(nonce, 6, 8081, 8081, 60, pcp_option(2, b"")),
        "map-filter": pcp_map(nonce, 17, 27016, 27016, 60,
                              pcp_option(3, b"\0\x78\0\0" + mapped("11.77.0.2"))),
        "map-third-party": pcp_map(nonce, 17, 27017, 27017, 60, pcp_option(1, mapped("10.77.0.9"))),
        "map-unknown-mandatory-option": pcp_map(nonce, 17, 27018, 27018, 60,
                                                pcp_option(0x70, b"abcd")),
        "map-delete": pcp_map(nonce, 17, 27015, 27015, 0),
        "map-all-protocols": pcp_map(nonce, 0, 0, 0, 60),
        "peer": pcp_header(2, 60) + nonce + struct.pack("!B3xHH", 17, 4000, 4000) + b"\0" * 16 +
        struct.pack("!HH", 5000, 0) + mapped("11.77.0.2"),
        "bad-version": pcp_header(0, 0, version=3),
        "bad-opcode": pcp_header(5, 0),
        "short-map": pcp_header(1, 60),
    }
    for name, msg in cases.items():
        for i, reply in enumerate(udp_exchange(5351, msg)):
            save(out, "pcp", f"{name}-{i}", reply)


# ---- NAT-PMP (RFC 6886) ----

def capture_natpmp(out):
    cases = {
        "public-address": b"\0\0",
        "map-udp": struct.pack("!BBHHHI", 0, 1, 0, 27020, 27020, 120),
        "map-tcp": struct.pack("!BBHHHI", 0, 2, 0, 8090, 0, 3600),
        "delete": struct.pack("!BBHHHI", 0, 1, 0, 27020, 0, 0),
        "bad-version": b"\x01\x00",
        "bad-opcode": b"\x00\x03",
    }
    for name, msg in cases.items():
        for i, reply in enumerate(udp_exchange(5351, msg)):
            save(out, "natpmp", f"{name}-{i}", reply)


# ---- SSDP ----

def msearch(st):
    return (f"M-SEARCH * HTTP/1.1\r\nHOST: {ROUTER}:1900\r\nMAN: \"ssdp:discover\"\r\n"
            f"MX: 1\r\nST: {st}\r\nUSER-AGENT: Linux UPnP/1.1 libportmap/1\r\n\r\n").encode()


def capture_ssdp(out):
    sts = {
        "igd2": "urn:schemas-upnp-org:device:InternetGatewayDevice:2",
        "igd1": "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
        "rootdevice": "upnp:rootdevice",
        "wanip2": "urn:schemas-upnp-org:service:WANIPConnection:2",
    }
    for name, st in sts.items():
        for i, reply in enumerate(udp_exchange(1900, msearch(st), wait=1.5, many=True)):
            save(out, "ssdp", f"{name}-{i}", reply)


def capture_notify(out, seconds):
    """NOTIFY alive/byebye sent on the LAN multicast group (the caller
    restarts the router meanwhile to make it announce itself)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("239.255.255.250", 1900))
    mreq = socket.inet_aton("239.255.255.250") + socket.inet_aton(ME)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    s.settimeout(0.5)
    seen = set()
    end = time.time() + seconds
    n = 0
    while time.time() < end:
        try:
            data, src = s.recvfrom(4096)
        except socket.timeout:
            continue
        if src[0] != ROUTER or not data.startswith(b"NOTIFY"):
            continue
        nts = re.search(rb"NTS: *(\S+)", data)
        nt = re.search(rb"\nNT: *(\S+)", data)
        key = (nts.group(1) if nts else b"", nt.group(1) if nt else b"")
        if key in seen:
            continue
        seen.add(key)
        save(out, "ssdp", f"notify-{n}", data)
        n += 1
    s.close()


def capture_announce(out, seconds):
    """Unsolicited PCP ANNOUNCE and NAT-PMP address announcements a router
    multicasts to 224.0.0.1:5350 when it starts (the caller restarts it)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("224.0.0.1", 5350))
    mreq = socket.inet_aton("224.0.0.1") + socket.inet_aton(ME)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    s.settimeout(0.5)
    end = time.time() + seconds
    n = 0
    while time.time() < end and n < 8:
        try:
            data, src = s.recvfrom(2048)
        except socket.timeout:
            continue
        if src[0] != ROUTER:
            continue
        save(out, "pcp" if data[:1] == b"\x02" else "natpmp", f"announce-{n}", data)
        n += 1
    s.close()


# ---- HTTP: description and SOAP ----

def http(raw):
    s = socket.create_connection((ROUTER, HTTP_PORT), timeout=3)
    s.sendall(raw)
    data = b""
    while True:
        x = s.recv(65536)
        if not x:
            break
        data += x
    s.close()
    return data


def get(path):
    return http((f"GET {path} HTTP/1.1\r\nHost: {ROUTER}:{HTTP_PORT}\r\nConnection: close\r\n"
                 "User-Agent: Linux UPnP/1.1 libportmap/1\r\n\r\n").encode())


SERVICE = "urn:schemas-upnp-org:service:WANIPConnection:2"


def soap(ctl, action, args, service=SERVICE):
    body = ('<?xml version="1.0"?>\r\n'
            '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">'
            f'<s:Body><u:{action} xmlns:u="{service}">' +
            "".join(f"<{k}>{v}</{k}>" for k, v in args) +
            f"</u:{action}></s:Body></s:Envelope>\r\n").encode()
    head = (f"POST {ctl} HTTP/1.1\r\nHost: {ROUTER}:{HTTP_PORT}\r\n"
            'Content-Type: text/xml; charset="utf-8"\r\n'
            f'SOAPAction: "{service}#{action}"\r\nContent-Length: {len(body)}\r\n'
            "Connection: close\r\n\r\n").encode()
    return http(head + body)


def add_args(eport, proto, iport, client, lease, desc="fuzz seed"):
    return [("NewRemoteHost", ""), ("NewExternalPort", eport), ("NewProtocol", proto),
            ("NewInternalPort", iport), ("NewInternalClient", client), ("NewEnabled", "1"),
            ("NewPortMappingDescription", desc), ("NewLeaseDuration", lease)]


def spec_args(eport, proto):
    return [("NewRemoteHost", ""), ("NewExternalPort", eport), ("NewProtocol", proto)]


def capture_http(out):
    desc = get("/rootDesc.xml")
    for t in ("http", "desc"):
        save(out, t, "rootDesc", desc)
    save(out, "desc", "WANIPCn", get("/WANIPCn.xml"))
    save(out, "http", "not-found", get("/nonexistent.xml"))

    ctl = re.search(rb"WANIPConnection:2</serviceType>.*?<controlURL>([^<]*)</controlURL>",
                    desc, re.S).group(1).decode()
    soaps = [
        ("extip", "GetExternalIPAddress", []),
        ("add-ok", "AddPortMapping", add_args("27030", "UDP", "27030", ME, "3600")),
        ("add-tcp-ok", "AddPortMapping", add_args("8100", "TCP", "8100", ME, "600", "a <b> & 'c'")),
        ("add-other-client", "AddPortMapping",
         add_args("27031", "UDP", "27031", "10.77.0.9", "60")),
        ("add-lease0", "AddPortMapping", add_args("27032", "UDP", "27032", ME, "0")),
        ("add-bad-port", "AddPortMapping", add_args("0", "UDP", "27033", ME, "60")),
        ("add-bad-proto", "AddPortMapping", add_args("27034", "SCTP", "27034", ME, "60")),
        ("addany", "AddAnyPortMapping", add_args("27030", "UDP", "27035", ME, "60")),
        ("specific-ok", "GetSpecificPortMappingEntry", spec_args("27030", "UDP")),
        ("specific-none", "GetSpecificPortMappingEntry", spec_args("1", "TCP")),
        ("generic-0", "GetGenericPortMappingEntry", [("NewPortMappingIndex", "0")]),
        ("generic-1", "GetGenericPortMappingEntry", [("NewPortMappingIndex", "1")]),
        ("generic-end", "GetGenericPortMappingEntry", [("NewPortMappingIndex", "999")]),
        ("generic-bad-index", "GetGenericPortMappingEntry", [("NewPortMappingIndex", "x")]),
        ("delete-ok", "DeletePortMapping", spec_args("8100", "TCP")),
        ("delete-none", "DeletePortMapping", spec_args("8100", "TCP")),
        ("unknown-action", "NoSuchAction", []),
        ("status", "GetStatusInfo", []),
        ("conn-type", "GetConnectionTypeInfo", []),
        ("list", "GetListOfPortMappings",
         [("NewStartPort", "1"), ("NewEndPort", "65535"), ("NewProtocol", "UDP"),
          ("NewManage", "0"), ("NewNumberOfPorts", "10")]),
    ]
    for name, action, args in soaps:
        reply = soap(ctl, action, args)
        save(out, "soap", name, reply)
        if action == "GetGenericPortMappingEntry" or name == "specific-ok":
            save(out, "upnp_list", name, reply)
        if name in ("extip", "add-other-client", "generic-0"):
            save(out, "http", "soap-" + name, reply)
    # leave the router as we found it
    soap(ctl, "DeletePortMapping", spec_args("27030", "UDP"))
    soap(ctl, "DeletePortMapping", spec_args("27035", "UDP"))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus"
    what = sys.argv[2:] or ["pcp", "natpmp", "ssdp", "http"]
    if "pcp" in what:
        capture_pcp(out)
    if "natpmp" in what:
        capture_natpmp(out)
    if "ssdp" in what:
        capture_ssdp(out)
    if "http" in what:
        capture_http(out)
    if "notify" in what:
        capture_notify(out, float(os.environ.get("NOTIFY_SECONDS", "8")))
    if "announce" in what:
        capture_announce(out, float(os.environ.get("NOTIFY_SECONDS", "8")))


if __name__ == "__main__":
    main()
