/*
 * lab-spoof: a hostile second host on the lab's LAN (<P>-lan2, see
 * `lab.sh spoofer up`), for the spoofing tests of tests/lab/test_lab_spoof.c.
 *
 *   lab-spoof --victim ADDR --gateway ADDR --stats FILE
 *             [--iface IF] [--http-port P] [--timeout S]
 *
 * The LAN is a hub, so every frame the victim sends to the router reaches
 * this host too. For each request it sees, it answers at once, all with the
 * external address 6.6.6.6 and the external port 6666:
 *
 *   PCP MAP       from its own address, with the request's nonce;
 *                 from the gateway's address but port 5350, same nonce;
 *                 from the gateway's address and port 5351, a wrong nonce
 *   PCP ANNOUNCE  from its own address
 *   NAT-PMP       from its own address, answering the request;
 *                 from the gateway's address, answering another request
 *                 (the wrong opcode or internal port)
 *   M-SEARCH      from its own address and from the gateway's address,
 *                 both with a LOCATION on this host
 *
 * and every 250 ms it announces, from its own address, a router restart:
 * PCP and NAT-PMP (epoch 0) on 224.0.0.1:5350, SSDP NOTIFY with a new
 * BOOTID and a LOCATION on this host. With --as-gateway yes the
 * announcements come from the gateway's address and port (5351; 1900),
 * every --announce-ms ms (default 250): only a prompt, to a client that
 * takes nothing from them. Replies with the gateway's source
 * address are sent through a raw socket. An HTTP server on this host
 * serves a gateway description and SOAP answers to whoever comes; a
 * client that took any of the bait would come.
 *
 * FILE is rewritten (atomically) on every change with the counts
 *   pcp N / natpmp N / ssdp N / announce N / http N
 * (datagrams sent per kind, HTTP connections accepted); it first appears
 * once every socket is ready. Exits after the timeout (default 60 s) or on
 * SIGTERM/SIGINT. Only the victim's traffic is answered, and only on IF.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FAKE_ADDR "6.6.6.6"
#define FAKE_PORT 6666
#define FORGED_EPOCH 2000000000u /* far ahead of any real router's */
#define ANNOUNCE_EVERY_MS 250

enum { K_PCP, K_NATPMP, K_SSDP, K_ANNOUNCE, K_HTTP, K_COUNT };
static const char *const kind_name[K_COUNT] = { "pcp", "natpmp", "ssdp", "announce", "http" };
static unsigned long counts[K_COUNT];

static const char *stats_path;
static struct in_addr self, victim, gateway;
static int http_port = 5000;
static int as_gateway;          /* announcements from the gateway's address */
static long announce_ms = ANNOUNCE_EVERY_MS;
static int raw_fd = -1, srv_fd = -1, ssdp_fd = -1;
static volatile sig_atomic_t stop;

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *what)
{
	fprintf(stderr, "lab-spoof: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void write_stats(void)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", stats_path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	for (int k = 0; k < K_COUNT; k++)
		fprintf(f, "%s %lu\n", kind_name[k], counts[k]);
	if (fclose(f) == 0)
		rename(tmp, stats_path);
}

static void count(int kind)
{
	counts[kind]++;
	write_stats();
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)(p[n - 1] << 8);
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* A UDP datagram that claims to come from src:sport, through the raw
 * socket (the kernel fills in the IP checksum; the UDP one is ours). */
static void send_forged(struct in_addr src, unsigned sport, struct in_addr dst, unsigned dport,
			const void *payload, size_t len)
{
	uint8_t pkt[1500], pseudo[12];
	size_t ulen = 8 + len, tot = 20 + ulen;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = dst };
	uint16_t id, ck;
	uint32_t s;

	if (tot > sizeof(pkt))
		return;
	getrandom(&id, sizeof(id), 0);
	memset(pkt, 0, 28);
	pkt[0] = 0x45;
	put16(pkt + 2, (unsigned)tot);
	put16(pkt + 4, id);
	pkt[8] = 64;
	pkt[9] = IPPROTO_UDP;
	memcpy(pkt + 12, &src, 4);
	memcpy(pkt + 16, &dst, 4);
	put16(pkt + 20, sport);
	put16(pkt + 22, dport);
	put16(pkt + 24, (unsigned)ulen);
	memcpy(pkt + 28, payload, len);
	memcpy(pseudo, &src, 4);
	memcpy(pseudo + 4, &dst, 4);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_UDP;
	put16(pseudo + 10, (unsigned)ulen);
	s = sum16(pseudo, sizeof(pseudo), 0);
	ck = fold(sum16(pkt + 20, ulen, s));
	put16(pkt + 26, ck ? ck : 0xffff);
	if (sendto(raw_fd, pkt, tot, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		fprintf(stderr, "lab-spoof: raw send: %s\n", strerror(errno));
}

/* A datagram from this host's own address and port sport. */
static void send_own(int fd, struct in_addr dst, unsigned dport, const void *payload, size_t len)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = dst,
				  .sin_port = htons((uint16_t)dport) };
	if (sendto(fd, payload, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		fprintf(stderr, "lab-spoof: send: %s\n", strerror(errno));
}

/* ---- PCP (RFC 6887) ---- */

static size_t pcp_reply(uint8_t *out, const uint8_t *req, size_t len, int wrong_nonce)
{
	struct in_addr fake;
	unsigned op = req[1] & 0x7f;

	memset(out, 0, 60);
	out[0] = 2;
	out[1] = (uint8_t)(0x80 | op);
	memcpy(out + 4, req + 4, 4); /* the lifetime asked for */
	put32(out + 8, FORGED_EPOCH);
	if (op != 1 || len < 60)
		return 24;
	memcpy(out + 24, req + 24, 12); /* nonce */
	if (wrong_nonce)
		out[24] ^= 0xff;
	out[36] = req[36];                        /* protocol */
	memcpy(out + 40, req + 40, 2);            /* internal port */
	put16(out + 42, FAKE_PORT);
	inet_pton(AF_INET, FAKE_ADDR, &fake);
	out[54] = out[55] = 0xff;                 /* IPv4-mapped */
	memcpy(out + 56, &fake, 4);
	return 60;
}

static void on_pcp(int own_fd, const uint8_t *req, size_t len, unsigned sport)
{
	uint8_t out[60];
	size_t n;

	if (len < 24 || (req[1] & 0x80))
		return;
	n = pcp_reply(out, req, len, 0);
	send_own(own_fd, victim, sport, out, n);
	count(K_PCP);
	if ((req[1] & 0x7f) != 1)
		return;
	send_forged(gateway, 5350, victim, sport, out, n);
	count(K_PCP);
	n = pcp_reply(out, req, len, 1);
	send_forged(gateway, 5351, victim, sport, out, n);
	count(K_PCP);
}

/* ---- NAT-PMP (RFC 6886) ---- */

static void on_natpmp(int own_fd, const uint8_t *req, size_t len, unsigned sport)
{
	uint8_t out[16] = { 0 };
	struct in_addr fake;
	unsigned op;

	if (len < 2 || req[1] > 2 || (req[1] && len < 12))
		return;
	op = req[1];
	inet_pton(AF_INET, FAKE_ADDR, &fake);
	out[1] = (uint8_t)(128 + op);
	/* epoch 0: "I have just restarted" */
	if (op == 0) {
		memcpy(out + 8, &fake, 4);
		send_own(own_fd, victim, sport, out, 12);
		/* from the gateway, a mapping reply to the address request */
		out[1] = 129;
		put16(out + 8, 1);
		put16(out + 10, FAKE_PORT);
		put32(out + 12, 600);
		send_forged(gateway, 5351, victim, sport, out, 16);
	} else {
		memcpy(out + 8, req + 4, 2); /* internal port */
		put16(out + 10, FAKE_PORT);
		memcpy(out + 12, req + 8, 4);
		send_own(own_fd, victim, sport, out, 16);
		/* from the gateway, the reply to a request for another port */
		put16(out + 8, (unsigned)(req[4] << 8 | req[5]) + 1);
		send_forged(gateway, 5351, victim, sport, out, 16);
	}
	count(K_NATPMP);
	count(K_NATPMP);
}

/* ---- SSDP ---- */

static size_t ssdp_answer(char *out, size_t cap, const char *st)
{
	char me[INET_ADDRSTRLEN];
	int n;

	inet_ntop(AF_INET, &self, me, sizeof(me));
	n = snprintf(out, cap,
		     "HTTP/1.1 200 OK\r\n"
		     "CACHE-CONTROL: max-age=120\r\n"
		     "ST: %s\r\n"
		     "USN: uuid:66666666-6666-6666-6666-666666666666::%s\r\n"
		     "EXT:\r\n"
		     "SERVER: Linux UPnP/1.1 lab-spoof/1\r\n"
		     "LOCATION: http://%s:%d/rootDesc.xml\r\n"
		     "BOOTID.UPNP.ORG: 6\r\n"
		     "CONFIGID.UPNP.ORG: 6\r\n"
		     "\r\n",
		     st, st, me, http_port);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static void on_msearch(const char *req, size_t len, unsigned sport)
{
	char st[160] = "urn:schemas-upnp-org:device:InternetGatewayDevice:1", msg[1024];
	const char *p = memmem(req, len, "\r\nST:", 5);
	size_t n;

	if (p) {
		size_t i = 0;
		p += 5;
		while (p < req + len && *p == ' ')
			p++;
		while (p < req + len && *p != '\r' && i < sizeof(st) - 1)
			st[i++] = *p++;
		st[i] = '\0';
	}
	n = ssdp_answer(msg, sizeof(msg), st);
	if (!n)
		return;
	send_own(ssdp_fd, victim, sport, msg, n);
	send_forged(gateway, 1900, victim, sport, msg, n);
	count(K_SSDP);
	count(K_SSDP);
}

/* ---- announcements ---- */

static void announce(int pcp_fd)
{
	uint8_t pcp[24] = { 2, 0x80 }, pmp[12] = { 0, 128 };
	struct in_addr all_hosts, ssdp_group, fake;
	char me[INET_ADDRSTRLEN], msg[1024];
	uint32_t bootid;
	int n;

	inet_pton(AF_INET, "224.0.0.1", &all_hosts);
	inet_pton(AF_INET, "239.255.255.250", &ssdp_group);
	inet_pton(AF_INET, FAKE_ADDR, &fake);
	memcpy(pmp + 8, &fake, 4);
	if (as_gateway) {
		send_forged(gateway, 5351, all_hosts, 5350, pcp, sizeof(pcp));
		send_forged(gateway, 5351, all_hosts, 5350, pmp, sizeof(pmp));
	} else {
		send_own(pcp_fd, all_hosts, 5350, pcp, sizeof(pcp));
		send_own(pcp_fd, all_hosts, 5350, pmp, sizeof(pmp));
	}
	inet_ntop(AF_INET, &self, me, sizeof(me));
	getrandom(&bootid, sizeof(bootid), 0);
	n = snprintf(msg, sizeof(msg),
		     "NOTIFY * HTTP/1.1\r\n"
		     "HOST: 239.255.255.250:1900\r\n"
		     "CACHE-CONTROL: max-age=120\r\n"
		     "LOCATION: http://%s:%d/rootDesc.xml\r\n"
		     "NT: urn:schemas-upnp-org:device:InternetGatewayDevice:%d\r\n"
		     "NTS: ssdp:alive\r\n"
		     "USN: uuid:66666666-6666-6666-6666-666666666666\r\n"
		     "BOOTID.UPNP.ORG: %u\r\n"
		     "\r\n",
		     me, http_port, 2, bootid & 0x7fffffff);
	if (as_gateway)
		send_forged(gateway, 1900, ssdp_group, 1900, msg, (size_t)n);
	else
		send_own(ssdp_fd, ssdp_group, 1900, msg, (size_t)n);
	counts[K_ANNOUNCE] += 2;
	count(K_ANNOUNCE);
}

/* ---- the bait: a gateway description and SOAP answers ---- */

static const char desc_xml[] =
	"<?xml version=\"1.0\"?>\r\n"
	"<root xmlns=\"urn:schemas-upnp-org:device-1-0\">"
	"<specVersion><major>1</major><minor>0</minor></specVersion>"
	"<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>"
	"<friendlyName>not your router</friendlyName>"
	"<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType>"
	"<deviceList><device>"
	"<deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>"
	"<serviceList><service>"
	"<serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>"
	"<serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>"
	"<controlURL>/ctl/IPConn</controlURL><eventSubURL>/evt/IPConn</eventSubURL>"
	"<SCPDURL>/WANIPCn.xml</SCPDURL>"
	"</service></serviceList></device></deviceList></device></deviceList></device></root>\r\n";

static const char soap_xml[] =
	"<?xml version=\"1.0\"?>\r\n"
	"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
	"s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>"
	"<u:Response xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:1\">"
	"<NewExternalIPAddress>" FAKE_ADDR "</NewExternalIPAddress>"
	"<NewReservedPort>6666</NewReservedPort>"
	"<NewInternalClient>10.77.0.2</NewInternalClient>"
	"</u:Response></s:Body></s:Envelope>\r\n";

static void on_http(int lfd)
{
	char req[2048], head[256];
	const char *body;
	struct pollfd p;
	size_t len = 0;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	count(K_HTTP);
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	/* the request line is all that matters; one second at most */
	while (len < sizeof(req) - 1 && poll(&p, 1, 1000) > 0) {
		ssize_t n = recv(fd, req + len, sizeof(req) - 1 - len, MSG_DONTWAIT);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memmem(req, len, "\r\n\r\n", 4))
			break;
	}
	req[len] = '\0';
	body = strncmp(req, "GET", 3) == 0 ? desc_xml : soap_xml;
	snprintf(head, sizeof(head),
		 "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=\"utf-8\"\r\n"
		 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		 strlen(body));
	if (send(fd, head, strlen(head), MSG_NOSIGNAL) > 0)
		send(fd, body, strlen(body), MSG_NOSIGNAL);
	close(fd);
}

/* ---- the sniffer ---- */

static void on_frame(int pcp_fd, const uint8_t *b, size_t n)
{
	size_t ihl;
	unsigned sport, dport;
	const uint8_t *u;
	size_t ulen;

	if (n < 28 || (b[0] >> 4) != 4 || b[9] != IPPROTO_UDP)
		return;
	ihl = (size_t)(b[0] & 15) * 4;
	if (ihl < 20 || n < ihl + 8 || memcmp(b + 12, &victim, 4) != 0)
		return;
	if ((b[6] & 0x3f) || b[7]) /* fragments: not ours to answer */
		return;
	u = b + ihl;
	sport = (unsigned)(u[0] << 8 | u[1]);
	dport = (unsigned)(u[2] << 8 | u[3]);
	ulen = (size_t)(u[4] << 8 | u[5]);
	if (ulen < 8 || ihl + ulen > n)
		return;
	u += 8;
	ulen -= 8;
	if (dport == 5351 && ulen >= 1 && u[0] == 2)
		on_pcp(pcp_fd, u, ulen, sport);
	else if (dport == 5351 && ulen >= 2 && u[0] == 0)
		on_natpmp(pcp_fd, u, ulen, sport);
	else if (dport == 1900 && ulen >= 8 && memcmp(u, "M-SEARCH", 8) == 0)
		on_msearch((const char *)u, ulen, sport);
}

static int udp_socket(unsigned port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = self,
				  .sin_port = htons((uint16_t)port) };
	unsigned char ttl = 1;
	int one = 1, fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &self, sizeof(self));
	setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl));
	return fd;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: lab-spoof --victim ADDR --gateway ADDR --stats FILE [--iface IF]\n"
			"                 [--http-port P] [--timeout S] [--as-gateway yes]\n"
			"                 [--announce-ms MS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *ifname = "lan0";
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP) };
	struct sockaddr_in hs;
	struct ifreq ifr;
	long long deadline, next_announce = 0;
	long timeout = 60;
	int sniff, pcp_fd, one = 1, have_victim = 0, have_gw = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			usage();
		if (!strcmp(a, "--victim"))
			have_victim = inet_pton(AF_INET, v, &victim) == 1;
		else if (!strcmp(a, "--gateway"))
			have_gw = inet_pton(AF_INET, v, &gateway) == 1;
		else if (!strcmp(a, "--stats"))
			stats_path = v;
		else if (!strcmp(a, "--iface"))
			ifname = v;
		else if (!strcmp(a, "--http-port"))
			http_port = atoi(v);
		else if (!strcmp(a, "--timeout"))
			timeout = atol(v);
		else if (!strcmp(a, "--as-gateway"))
			as_gateway = !strcmp(v, "yes");
		else if (!strcmp(a, "--announce-ms"))
			announce_ms = atol(v);
		else
			usage();
		i++;
	}
	if (!have_victim || !have_gw || !stats_path || http_port <= 0 || http_port > 65535 ||
	    timeout <= 0 || timeout > 600 || strlen(ifname) >= IFNAMSIZ || announce_ms < 10)
		usage();
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	sniff = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP));
	if (sniff < 0)
		die("packet socket");
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, ifname);
	if (ioctl(sniff, SIOCGIFINDEX, &ifr) < 0)
		die(ifname);
	ll.sll_ifindex = ifr.ifr_ifindex;
	if (bind(sniff, (struct sockaddr *)&ll, sizeof(ll)) < 0)
		die("bind packet socket");
	if (ioctl(sniff, SIOCGIFADDR, &ifr) < 0)
		die("no IPv4 address");
	self = ((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr;

	raw_fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (raw_fd < 0)
		die("raw socket");
	{
		/* forged multicast leaves by the LAN interface */
		struct ip_mreqn mr = { .imr_ifindex = ll.sll_ifindex };
		setsockopt(raw_fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr));
	}
	pcp_fd = udp_socket(5351);
	ssdp_fd = udp_socket(1900);
	srv_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (srv_fd < 0)
		die("socket");
	setsockopt(srv_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	hs = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr = self,
				   .sin_port = htons((uint16_t)http_port) };
	if (bind(srv_fd, (struct sockaddr *)&hs, sizeof(hs)) < 0 || listen(srv_fd, 8) < 0)
		die("http listen");
	write_stats(); /* ready */

	deadline = now_ms() + timeout * 1000;
	while (!stop && now_ms() < deadline) {
		struct pollfd p[2] = { { .fd = sniff, .events = POLLIN }, { .fd = srv_fd, .events = POLLIN } };
		long long t = now_ms();
		int wait;

		if (t >= next_announce) {
			announce(pcp_fd);
			next_announce = t + announce_ms;
		}
		wait = (int)(next_announce - t);
		if (poll(p, 2, wait) < 0 && errno != EINTR)
			die("poll");
		if (p[0].revents) {
			for (int i = 0; i < 64; i++) {
				uint8_t buf[2048];
				struct sockaddr_ll from;
				socklen_t fl = sizeof(from);
				ssize_t n = recvfrom(sniff, buf, sizeof(buf), MSG_DONTWAIT,
						     (struct sockaddr *)&from, &fl);
				if (n < 0)
					break;
				if (from.sll_pkttype == PACKET_OUTGOING)
					continue;
				on_frame(pcp_fd, buf, (size_t)n);
			}
		}
		if (p[1].revents)
			on_http(srv_fd);
	}
	write_stats();
	return 0;
}
