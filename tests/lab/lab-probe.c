/*
 * lab-probe: a tiny, bounded echo server/client for the libportmap test lab.
 *
 *   lab-probe serve tcp|udp PORT [--count N] [--timeout S]
 *       Listen on PORT of every IPv4 and IPv6 address (one AF_INET6 socket
 *       on [::] with IPV6_V6ONLY off; 0.0.0.0 where there is no IPv6) and
 *       echo back what is received (tcp: accept, read one line, write it
 *       back, close; udp: the echo leaves from the address the datagram
 *       was sent to).  Exit 0 after N exchanges (default 1), exit 1 if the
 *       timeout (default 10 s, counted from start) expires first.
 *
 *   lab-probe send tcp|udp ADDR PORT MESSAGE [--timeout S] [--from SRC]
 *       Send MESSAGE (tcp: MESSAGE plus '\n') to ADDR (an IPv4 or IPv6
 *       literal, [brackets] and %zone allowed), wait for the echo, print it.
 *       Exit 0 if the echo equals MESSAGE, 1 otherwise (refused, timeout...,
 *       with the reason on stderr).  Every wait is bounded (default 3 s).
 *       --from binds the socket to the local address SRC first.
 *
 * Every wait uses poll().  Build: gcc -O2 -Wall -o lab-probe lab-probe.c
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ 2048

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining_ms(long long deadline)
{
	long long r = deadline - now_ms();
	if (r < 0)
		return 0;
	if (r > 0x7fffffff)
		return 0x7fffffff;
	return (int)r;
}

/* Wait for EVENTS on FD until DEADLINE; 1 = ready, 0 = timeout, -1 = error. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int ms = remaining_ms(deadline);
		int r = poll(&p, 1, ms);
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: lab-probe serve tcp|udp PORT [--count N] [--timeout S]\n"
		"       lab-probe send tcp|udp ADDR PORT MESSAGE [--timeout S] [--from SRC]\n");
	exit(2);
}

static long parse_num(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "lab-probe: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

static double parse_secs(const char *s)
{
	char *end;
	double v;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0) || v > 86400) {
		fprintf(stderr, "lab-probe: bad timeout '%s'\n", s);
		exit(2);
	}
	return v;
}

static int parse_proto(const char *s)
{
	if (!strcmp(s, "tcp"))
		return SOCK_STREAM;
	if (!strcmp(s, "udp"))
		return SOCK_DGRAM;
	fprintf(stderr, "lab-probe: protocol must be tcp or udp, not '%s'\n", s);
	exit(2);
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Write all of BUF on a non-blocking stream socket before DEADLINE. */
static int write_all(int fd, const char *buf, size_t len, long long deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		if (wait_fd(fd, POLLOUT, deadline) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
	return 0;
}

/*
 * Read one line (up to and including '\n', or until EOF) from a non-blocking
 * stream socket before DEADLINE.  Returns its length (without '\n'), -1 on
 * error/timeout (errno set).
 */
static ssize_t read_line(int fd, char *buf, size_t size, long long deadline)
{
	size_t len = 0;
	while (len < size - 1) {
		ssize_t n = recv(fd, buf + len, size - 1 - len, 0);
		if (n > 0) {
			char *nl = memchr(buf + len, '\n', (size_t)n);
			len += (size_t)n;
			if (nl) {
				len = (size_t)(nl - buf);
				break;
			}
			continue;
		}
		if (n == 0)
			break;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		int r = wait_fd(fd, POLLIN, deadline);
		if (r <= 0) {
			if (r == 0)
				errno = ETIMEDOUT;
			return -1;
		}
	}
	buf[len] = '\0';
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	return (ssize_t)len;
}

/*
 * Receive a datagram on FD and send it back to where it came from, from the
 * address it was sent to (IPV6_PKTINFO): a host with several IPv6 addresses
 * would otherwise answer from the one it prefers (a temporary address), and
 * a connected client would never see the echo.
 */
static int echo_datagram(int fd, char *buf, size_t size)
{
	struct sockaddr_storage from;
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} cin, cout;
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof(from),
			    .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cin.buf, .msg_controllen = sizeof(cin.buf) };
	struct in6_pktinfo *dst = NULL;
	struct cmsghdr *c;
	ssize_t n = recvmsg(fd, &m, 0);

	if (n < 0)
		return -1;
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)
			dst = (struct in6_pktinfo *)CMSG_DATA(c);
	iov.iov_len = (size_t)n;
	m.msg_control = NULL;
	m.msg_controllen = 0;
	m.msg_flags = 0;
	if (dst && from.ss_family == AF_INET6 &&
	    !IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&from)->sin6_addr)) {
		memset(&cout, 0, sizeof(cout));
		m.msg_control = cout.buf;
		m.msg_controllen = sizeof(cout.buf);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
		memcpy(CMSG_DATA(c), dst, sizeof(*dst));
	}
	if (sendmsg(fd, &m, 0) < 0)
		perror("lab-probe: sendmsg");
	return 0;
}

static int serve(int type, int port, long count, double timeout)
{
	long long deadline = now_ms() + (long long)(timeout * 1000);
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
				     .sin6_port = htons((uint16_t)port),
				     .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_ANY) };
	struct sockaddr *sa = (struct sockaddr *)&sin6;
	socklen_t salen = sizeof(sin6);
	int one = 1, zero = 0, fd = socket(AF_INET6, type, 0);
	long done = 0;
	char buf[BUFSZ];

	if (fd >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0) {
		close(fd);
		fd = -1;
	}
	if (fd < 0) { /* no IPv6 here: IPv4 only, as before */
		fd = socket(AF_INET, type, 0);
		sa = (struct sockaddr *)&sin;
		salen = sizeof(sin);
	} else if (type == SOCK_DGRAM) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
	}
	if (fd < 0) {
		perror("lab-probe: socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, sa, salen) < 0) {
		fprintf(stderr, "lab-probe: bind port %d: %s\n", port, strerror(errno));
		return 1;
	}
	if (type == SOCK_STREAM && listen(fd, 16) < 0) {
		perror("lab-probe: listen");
		return 1;
	}
	set_nonblock(fd);

	while (done < count) {
		int r = wait_fd(fd, POLLIN, deadline);
		if (r < 0) {
			perror("lab-probe: poll");
			return 1;
		}
		if (r == 0) {
			fprintf(stderr, "lab-probe: timeout after %ld of %ld exchanges\n",
				done, count);
			return 1;
		}
		if (type == SOCK_DGRAM) {
			if (echo_datagram(fd, buf, sizeof(buf)) < 0)
				continue;
			done++;
		} else {
			int c = accept(fd, NULL, NULL);
			if (c < 0)
				continue;
			set_nonblock(c);
			/* per-connection bound: at most 3 s, never past the deadline */
			long long cdl = now_ms() + 3000;
			if (cdl > deadline)
				cdl = deadline;
			ssize_t n = read_line(c, buf, sizeof(buf) - 1, cdl);
			if (n >= 0) {
				buf[n] = '\n';
				if (write_all(c, buf, (size_t)n + 1, cdl) == 0)
					done++;
			}
			close(c);
		}
	}
	close(fd);
	return 0;
}

/*
 * Parse an IPv4 or IPv6 literal (IPv6 maybe in [brackets], maybe with a
 * %zone) with PORT into SS; 0 on success.
 */
static int parse_addr(const char *text, int port, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *res;
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 4], serv[8];
	size_t l = strlen(text);

	if (l >= sizeof(host))
		return -1;
	if (l >= 2 && text[0] == '[' && text[l - 1] == ']') {
		memcpy(host, text + 1, l - 2);
		host[l - 2] = '\0';
	} else {
		memcpy(host, text, l + 1);
	}
	snprintf(serv, sizeof(serv), "%d", port);
	if (getaddrinfo(host, serv, &hints, &res) != 0)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int send_probe(int type, const char *addr, int port, const char *msg,
		      double timeout, const char *from)
{
	long long deadline = now_ms() + (long long)(timeout * 1000);
	struct sockaddr_storage sin, src;
	socklen_t sinlen, srclen;
	char buf[BUFSZ];
	ssize_t n;
	int fd, r;
	size_t mlen = strlen(msg);

	if (parse_addr(addr, port, &sin, &sinlen) != 0) {
		fprintf(stderr, "lab-probe: bad IP address '%s'\n", addr);
		return 2;
	}
	if (from && (parse_addr(from, 0, &src, &srclen) != 0 ||
		     src.ss_family != sin.ss_family)) {
		fprintf(stderr, "lab-probe: bad source address '%s'\n", from);
		return 2;
	}
	if (mlen == 0 || mlen > BUFSZ - 2 || memchr(msg, '\n', mlen)) {
		fprintf(stderr, "lab-probe: message must be 1..%d bytes, no newline\n",
			BUFSZ - 2);
		return 2;
	}
	fd = socket(sin.ss_family, type, 0);
	if (fd < 0) {
		perror("lab-probe: socket");
		return 1;
	}
	if (from && bind(fd, (struct sockaddr *)&src, srclen) < 0) {
		fprintf(stderr, "lab-probe: bind %s: %s\n", from, strerror(errno));
		return 1;
	}
	set_nonblock(fd);

	if (type == SOCK_STREAM) {
		if (connect(fd, (struct sockaddr *)&sin, sinlen) < 0) {
			if (errno != EINPROGRESS) {
				fprintf(stderr, "lab-probe: connect: %s\n", strerror(errno));
				return 1;
			}
			r = wait_fd(fd, POLLOUT, deadline);
			if (r <= 0) {
				fprintf(stderr, "lab-probe: connect: %s\n",
					r == 0 ? "timeout" : strerror(errno));
				return 1;
			}
			int err = 0;
			socklen_t elen = sizeof(err);
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
			if (err) {
				fprintf(stderr, "lab-probe: connect: %s\n", strerror(err));
				return 1;
			}
		}
		memcpy(buf, msg, mlen);
		buf[mlen] = '\n';
		if (write_all(fd, buf, mlen + 1, deadline) < 0) {
			fprintf(stderr, "lab-probe: send: %s\n", strerror(errno));
			return 1;
		}
		n = read_line(fd, buf, sizeof(buf), deadline);
		if (n < 0) {
			fprintf(stderr, "lab-probe: recv: %s\n",
				errno == ETIMEDOUT ? "timeout" : strerror(errno));
			return 1;
		}
	} else {
		/* connected UDP socket: ICMP port unreachable shows as ECONNREFUSED */
		if (connect(fd, (struct sockaddr *)&sin, sinlen) < 0) {
			fprintf(stderr, "lab-probe: connect: %s\n", strerror(errno));
			return 1;
		}
		if (send(fd, msg, mlen, 0) < 0) {
			fprintf(stderr, "lab-probe: send: %s\n", strerror(errno));
			return 1;
		}
		for (;;) {
			r = wait_fd(fd, POLLIN, deadline);
			if (r <= 0) {
				fprintf(stderr, "lab-probe: recv: %s\n",
					r == 0 ? "timeout" : strerror(errno));
				return 1;
			}
			n = recv(fd, buf, sizeof(buf) - 1, 0);
			if (n >= 0)
				break;
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				fprintf(stderr, "lab-probe: recv: %s\n", strerror(errno));
				return 1;
			}
		}
		buf[n] = '\0';
	}
	close(fd);
	printf("%s\n", buf);
	fflush(stdout);
	if ((size_t)n != mlen || memcmp(buf, msg, mlen) != 0) {
		fprintf(stderr, "lab-probe: echo differs from message\n");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	double timeout;
	long count = 1;
	int i, type;

	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		usage();

	if (!strcmp(argv[1], "serve")) {
		if (argc < 4)
			usage();
		type = parse_proto(argv[2]);
		int port = (int)parse_num(argv[3], 1, 65535, "port");
		timeout = 10;
		for (i = 4; i < argc; i++) {
			if (!strcmp(argv[i], "--count") && i + 1 < argc)
				count = parse_num(argv[++i], 1, 1000000, "count");
			else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
				timeout = parse_secs(argv[++i]);
			else
				usage();
		}
		return serve(type, port, count, timeout);
	}
	if (!strcmp(argv[1], "send")) {
		const char *from = NULL;
		if (argc < 6)
			usage();
		type = parse_proto(argv[2]);
		int port = (int)parse_num(argv[4], 1, 65535, "port");
		timeout = 3;
		for (i = 6; i < argc; i++) {
			if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
				timeout = parse_secs(argv[++i]);
			else if (!strcmp(argv[i], "--from") && i + 1 < argc)
				from = argv[++i];
			else
				usage();
		}
		return send_probe(type, argv[3], port, argv[5], timeout, from);
	}
	usage();
	return 2;
}
