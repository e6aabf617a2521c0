/*
 * portmap-cli serve-check [--listen ADDR:PORT]: the outside checker. Run
 * on a host with a public address, it tells a portmap-cli behind a NAT
 * whether its port is reachable from the Internet (doc/checker-protocol.md).
 *
 * It is no open relay: it only ever probes the address the request came
 * from, so it cannot be turned on a third party. A source gets a burst of
 * CHECK_BURST requests, then one every CHECK_REFILL_MS, one at a time; at
 * most CHECK_MAX_CLIENTS are served at once and CHECK_MAX_CONNS
 * connections kept open; every read, connect and wait has a deadline.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_wire.h"
#include "cli.h"

#define CHECK_READ_MS 5000       /* for the request line */
#define CHECK_BURST 20
#define CHECK_REFILL_MS 1000
#define CHECK_MAX_CLIENTS 32
#define CHECK_MAX_CONNS 128      /* connections open at once, a request line read or not */
#define CHECK_SOURCES 256        /* sources remembered for the rate limit */

typedef struct source {
    struct sockaddr_storage addr;  /* port zeroed */
    int64_t stamp;                 /* when tokens was last brought up to date */
    int tokens;
    int busy;
} source;

static pthread_mutex_t check_lock = PTHREAD_MUTEX_INITIALIZER;
static source check_sources[CHECK_SOURCES];
static int check_clients;
static int check_conns;          /* threads serving a connection */

typedef struct conn {
    int fd;
    struct sockaddr_storage peer;
    socklen_t peer_len;
} conn;

static int same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                   &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr));
}

/* Take a token of the source's bucket and mark it busy: 0, or the reason
 * it must wait. The oldest idle entry makes room for a new source. */
static const char *admit(const struct sockaddr_storage *peer)
{
    int64_t now = cli_mono_ms();
    source *s = NULL, *oldest = NULL;
    const char *why = NULL;

    pthread_mutex_lock(&check_lock);
    for (int i = 0; i < CHECK_SOURCES && !s; i++) {
        source *e = &check_sources[i];
        if (e->stamp && same_host(&e->addr, peer))
            s = e;
        else if (!e->busy && (!oldest || e->stamp < oldest->stamp))
            oldest = e;
    }
    if (!s && oldest) {
        s = oldest;
        memset(s, 0, sizeof(*s));
        s->addr = *peer;
        s->tokens = CHECK_BURST;
        s->stamp = now;
    }
    if (!s || check_clients >= CHECK_MAX_CLIENTS) {
        why = "busy too many checks at once; try again in a minute";
        goto out;
    }
    s->tokens += (int)((now - s->stamp) / CHECK_REFILL_MS);
    s->stamp += (now - s->stamp) / CHECK_REFILL_MS * CHECK_REFILL_MS;
    if (s->tokens > CHECK_BURST) {
        s->tokens = CHECK_BURST;
        s->stamp = now;
    }
    if (s->busy)
        why = "rate-limited one check at a time per address";
    else if (s->tokens <= 0)
        why = "rate-limited too many checks from this address; try again in a few seconds";
    else {
        s->tokens--;
        s->busy = 1;
        check_clients++;
    }
out:
    pthread_mutex_unlock(&check_lock);
    return why;
}

static void release_source(const struct sockaddr_storage *peer)
{
    pthread_mutex_lock(&check_lock);
    for (int i = 0; i < CHECK_SOURCES; i++)
        if (check_sources[i].busy && same_host(&check_sources[i].addr, peer)) {
            check_sources[i].busy = 0;
            break;
        }
    check_clients--;
    pthread_mutex_unlock(&check_lock);
}

/* One line from fd by the deadline, at most size-1 bytes: its length, or -1. */
static int read_line(int fd, char *buf, size_t size, int64_t deadline)
{
    size_t n = 0;

    while (n < size - 1) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int64_t left = deadline - cli_mono_ms();
        ssize_t r;
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return -1;
        r = recv(fd, buf + n, size - 1 - n, MSG_PEEK);
        if (r <= 0)
            return -1;
        /* take the bytes up to the newline only: an HTTP request's headers stay unread */
        char *nl = memchr(buf + n, '\n', (size_t)r);
        size_t take = nl ? (size_t)(nl - (buf + n)) + 1 : (size_t)r;
        if (recv(fd, buf + n, take, 0) != (ssize_t)take)
            return -1;
        n += take;
        buf[n] = '\0';
        if (nl)
            return (int)n;
    }
    return -1;
}

static void send_all(int fd, const char *s, size_t len)
{
    /* small and once: a full send buffer means a peer not reading, whose loss */
    while (len) {
        ssize_t w = send(fd, s, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w <= 0)
            return;
        s += w;
        len -= (size_t)w;
    }
}

static void reply_line(int fd, const cli_check_reply *r)
{
    char line[CLI_CHECK_LINE_MAX + 64];
    int n = cli_check_format_reply(r, line, sizeof(line));

    if (n > 0)
        send_all(fd, line, (size_t)n);
}

static void http_reply(int fd, int status, const char *text, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, text, status == 200 ? "application/json" : "text/plain",
                     strlen(body));
    send_all(fd, head, (size_t)n);
    send_all(fd, body, strlen(body));
}

/* The address in text, an IPv4-mapped one as IPv4. */
static void addr_text(const struct sockaddr_storage *sa, char *buf, size_t size)
{
    char host[NI_MAXHOST] = "?";

    getnameinfo((const struct sockaddr *)sa, sizeof(*sa), host, sizeof(host), NULL, 0,
                NI_NUMERICHOST);
    if (!strncmp(host, "::ffff:", 7) && strchr(host, '.'))
        memmove(host, host + 7, strlen(host + 7) + 1);
    snprintf(buf, size, "%s", host);
}

/* The probes' answers, mapped to a verdict. */
static cli_verdict tcp_probe(struct sockaddr_storage *to, socklen_t len)
{
    int fd = socket(to->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err = 0;
    struct pollfd p = { .events = POLLOUT };
    socklen_t el = sizeof(err);
    int64_t deadline = cli_mono_ms() + CLI_CHECK_PROBE_MS;

    if (fd < 0)
        return CLI_V_FILTERED;
    p.fd = fd;
    if (connect(fd, (struct sockaddr *)to, len) == 0)
        goto out;
    if (errno != EINPROGRESS) {
        err = errno;
        goto out;
    }
    err = ETIMEDOUT;
    for (int64_t left; (left = deadline - cli_mono_ms()) > 0;) {
        if (poll(&p, 1, (int)left) == 1) {
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
            break;
        }
    }
out:
    close(fd);
    return err == 0 ? CLI_V_OPEN : err == ECONNREFUSED ? CLI_V_CLOSED : CLI_V_FILTERED;
}

static cli_verdict udp_probe(struct sockaddr_storage *to, socklen_t len, const char *token)
{
    int fd = socket(to->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int64_t deadline = cli_mono_ms() + CLI_CHECK_PROBE_MS, next = 0;
    cli_verdict v = CLI_V_OPEN_FILTERED;

    if (fd < 0)
        return CLI_V_OPEN_FILTERED;
    if (connect(fd, (struct sockaddr *)to, len))
        goto out;
    for (int64_t now; (now = cli_mono_ms()) < deadline;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        char buf[128];
        int64_t wait;
        /* again now and then: the datagram, its answer or the ICMP error may be lost */
        if (now >= next) {
            if (send(fd, token, strlen(token), 0) < 0 && errno == ECONNREFUSED) {
                v = CLI_V_CLOSED;
                break;
            }
            next = now + CLI_CHECK_RESEND_MS;
        }
        wait = (next < deadline ? next : deadline) - now;
        if (poll(&p, 1, (int)wait) != 1)
            continue;
        if (recv(fd, buf, sizeof(buf), 0) >= 0) {
            v = CLI_V_OPEN;
            break;
        }
        if (errno == ECONNREFUSED) {
            v = CLI_V_CLOSED;
            break;
        }
    }
out:
    close(fd);
    return v;
}

/* The peer itself, on another port: the only address ever probed. */
static socklen_t target(const conn *c, uint16_t port, struct sockaddr_storage *to)
{
    *to = c->peer;
    if (to->ss_family == AF_INET)
        ((struct sockaddr_in *)to)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)to)->sin6_port = htons(port);
    return c->peer_len;
}

/* The request's headers, unread, would make close() reset the connection
 * before the client has read the answer: read up to the blank line. */
static void skip_headers(int fd)
{
    int64_t deadline = cli_mono_ms() + CHECK_READ_MS;
    unsigned state = 1; /* newlines in a row, '\r' aside; the request line ended with one */

    for (size_t total = 0; total < 8192;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int64_t left = deadline - cli_mono_ms();
        char ch;
        if (left <= 0 || poll(&p, 1, (int)left) <= 0 || recv(fd, &ch, 1, 0) != 1)
            return;
        total++;
        if (ch == '\n' && ++state == 2)
            return;
        if (ch != '\n' && ch != '\r')
            state = 0;
    }
}

static void serve_http(const conn *c, const char *line, const char *refused)
{
    struct sockaddr_storage to;
    char body[160], ip[64];
    int port = cli_http_port_request(line);
    socklen_t len;

    skip_headers(c->fd);
    if (port < 0) {
        http_reply(c->fd, port == -1 ? 404 : 400, port == -1 ? "Not Found" : "Bad Request",
                   "GET /port/N\n");
        return;
    }
    if (refused) {
        http_reply(c->fd, 429, "Too Many Requests", refused);
        return;
    }
    len = target(c, (uint16_t)port, &to);
    addr_text(&c->peer, ip, sizeof(ip));
    cli_echoip_format(body, sizeof(body), ip, (unsigned)port,
                      tcp_probe(&to, len) == CLI_V_OPEN);
    http_reply(c->fd, 200, "OK", body);
}

static void serve_native(const conn *c, const char *line, const char *refused)
{
    cli_check_request rq;
    cli_check_reply rp = { .verdict = CLI_V_ERROR };
    struct sockaddr_storage to;
    const char *why;
    socklen_t len;

    if (cli_check_parse_request(line, &rq, &why)) {
        snprintf(rp.error, sizeof(rp.error), "%s", why);
    } else if (refused) {
        snprintf(rp.error, sizeof(rp.error), "%s", refused);
    } else {
        len = target(c, rq.port, &to);
        rp.verdict = rq.udp ? udp_probe(&to, len, rq.token) : tcp_probe(&to, len);
        rp.port = rq.port;
        addr_text(&c->peer, rp.address, sizeof(rp.address));
    }
    reply_line(c->fd, &rp);
}

static void *serve_one(void *arg)
{
    conn *c = arg;
    char line[CLI_CHECK_LINE_MAX + 1];
    const char *refused;

    if (read_line(c->fd, line, sizeof(line), cli_mono_ms() + CHECK_READ_MS) > 0) {
        refused = admit(&c->peer);
        if (!strncmp(line, "GET ", 4))
            serve_http(c, line, refused);
        else
            serve_native(c, line, refused);
        if (!refused)
            release_source(&c->peer);
    }
    close(c->fd);
    free(c);
    pthread_mutex_lock(&check_lock);
    check_conns--;
    pthread_mutex_unlock(&check_lock);
    return NULL;
}

/* One more connection thread, unless as many as CHECK_MAX_CONNS run
 * (slow or idle peers): 1 when taken. */
static int take_conn(void)
{
    int ok;

    pthread_mutex_lock(&check_lock);
    ok = check_conns < CHECK_MAX_CONNS;
    check_conns += ok;
    pthread_mutex_unlock(&check_lock);
    return ok;
}

static void drop_conn(void)
{
    pthread_mutex_lock(&check_lock);
    check_conns--;
    pthread_mutex_unlock(&check_lock);
}

/* ADDR:PORT, [V6]:PORT or a bare port: the socket listening there, or -1. */
static int open_listener(const char *spec)
{
    cli_checker where;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_PASSIVE },
                    *ai = NULL;
    char port[8];
    int fd = -1, one = 1;

    if (cli_checker_parse(spec ? spec : "0.0.0.0", &where) || where.kind != CLI_CHECKER_NATIVE)
        return cli_fail(-1, "--listen takes ADDR[:PORT] or [V6ADDR][:PORT], not '%s'", spec);
    snprintf(port, sizeof(port), "%u", where.port);
    if (getaddrinfo(where.host, port, &hints, &ai))
        return cli_fail(-1, "--listen: '%s' is not a numeric address", where.host);
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
        cli_fail(-1, "cannot listen on %s port %s: %s", where.host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    } else {
        printf("serve-check: listening on %s port %s\n", where.host, port);
    }
    freeaddrinfo(ai);
    return fd;
}

int cli_cmd_serve_check(const cli_options *o, const cli_pair *pairs, int n)
{
    int fd = open_listener(o->listen);

    (void)pairs;
    (void)n;
    if (fd < 0)
        return CLI_EX_OTHER;
    /* until SIGINT or SIGTERM, looked at twice a second */
    while (!cli_signal_pending()) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        pthread_attr_t attr;
        pthread_t th;
        conn *c;
        if (poll(&p, 1, 500) != 1 || !(c = calloc(1, sizeof(*c))))
            continue;
        c->peer_len = sizeof(c->peer);
        c->fd = accept4(fd, (struct sockaddr *)&c->peer, &c->peer_len, SOCK_CLOEXEC);
        if (c->fd < 0 || !take_conn()) {
            if (c->fd >= 0)
                close(c->fd); /* too many at once: the peer sees the connection end */
            free(c);
            continue;
        }
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &attr, serve_one, c)) {
            close(c->fd);
            free(c);
            drop_conn();
        }
        pthread_attr_destroy(&attr);
    }
    close(fd);
    return CLI_EX_OK;
}
