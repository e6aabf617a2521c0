#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/upnp/http.h"

#define PM_HTTP_READ_CHUNK 4096

/* Acknowledge at once: routers' HTTP servers often write headers and body
 * separately with Nagle on, and would wait out our delayed ACK (~40 ms)
 * before sending the body. The flag is not sticky, so it is set again
 * after every read. */
static void quickack(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

void pm_http_reset(pm_http *h)
{
    if (h->fd > 0)
        close(h->fd);
    free(h->out);
    free(h->in);
    memset(h, 0, sizeof(*h));
    h->fd = -1;
}

int pm_http_active(const pm_http *h)
{
    return h->state == PM_HTTPC_CONNECTING || h->state == PM_HTTPC_SENDING ||
           h->state == PM_HTTPC_RECEIVING;
}

static int fail(pm_http *h, const char *why)
{
    if (h->fd > 0)
        close(h->fd);
    h->fd = -1;
    h->state = PM_HTTPC_FAILED;
    h->why = why;
    return 1;
}

int pm_http_start(pm_http *h, const pm_addr *addr, uint16_t port, const char *request, size_t len,
                  size_t max_body, int64_t deadline)
{
    return pm_http_start_from(h, NULL, addr, port, request, len, max_body, deadline);
}

int pm_http_start_from(pm_http *h, const pm_addr *src, const pm_addr *addr, uint16_t port,
                       const char *request, size_t len, size_t max_body, int64_t deadline)
{
    struct sockaddr_storage sa, from;
    socklen_t sa_len = pm_addr_sockaddr(addr, port, &sa);
    socklen_t from_len = src ? pm_addr_sockaddr(src, 0, &from) : 0;

    pm_http_reset(h);
    if (!sa_len) {
        fail(h, "no address to connect to");
        return -1;
    }
    if (pm_addr_is_link_local(addr) && !addr->scope) {
        fail(h, "a link-local address without its interface");
        return -1;
    }
    h->out = malloc(len);
    h->in_cap = PM_HTTP_READ_CHUNK;
    h->in = malloc(h->in_cap + 1);
    if (!h->out || !h->in) {
        fail(h, "out of memory");
        return -1;
    }
    memcpy(h->out, request, len);
    h->out_len = len;
    h->max_body = max_body;
    h->deadline = deadline;
    h->fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (h->fd < 0) {
        fail(h, "socket() failed");
        return -1;
    }
    if (from_len && bind(h->fd, (struct sockaddr *)&from, from_len) < 0) {
        fail(h, "cannot bind the source address");
        return -1;
    }
    if (connect(h->fd, (struct sockaddr *)&sa, sa_len) < 0 && errno != EINPROGRESS) {
        fail(h, errno == ECONNREFUSED ? "connection refused" : "connect() failed");
        return -1;
    }
    quickack(h->fd);
    h->state = PM_HTTPC_CONNECTING;
    return 0;
}

short pm_http_events(const pm_http *h)
{
    switch (h->state) {
    case PM_HTTPC_CONNECTING:
    case PM_HTTPC_SENDING: return POLLOUT;
    case PM_HTTPC_RECEIVING: return POLLIN;
    default: return 0;
    }
}

static int do_send(pm_http *h)
{
    while (h->out_off < h->out_len) {
        ssize_t n = send(h->fd, h->out + h->out_off, h->out_len - h->out_off, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN ? 0 : fail(h, "send() failed");
        h->out_off += (size_t)n;
    }
    h->state = PM_HTTPC_RECEIVING;
    return 0;
}

static int check_complete(pm_http *h, int eof)
{
    pm_http_status s;

    h->in[h->in_len] = '\0';
    s = pm_http_parse(h->in, h->in_len, eof, h->max_body, &h->resp);
    switch (s) {
    case PM_HTTP_COMPLETE:
        h->resp.body[h->resp.body_len] = '\0';
        close(h->fd);
        h->fd = -1;
        h->state = PM_HTTPC_DONE;
        return 1;
    case PM_HTTP_INCOMPLETE: return eof ? fail(h, "connection closed early") : 0;
    case PM_HTTP_TOO_BIG: return fail(h, "reply too large");
    default: return fail(h, "malformed HTTP reply");
    }
}

static int do_recv(pm_http *h)
{
    /* Bounded per call: a fast flood cannot pin the engine here. */
    for (int i = 0; i < 16; i++) {
        ssize_t n;
        if (h->in_cap - h->in_len < PM_HTTP_READ_CHUNK) {
            size_t cap = h->in_cap * 2;
            char *p;
            if (cap > h->max_body + PM_HTTP_MAX_HEADER + 64 * 1024)
                return fail(h, "reply too large");
            p = realloc(h->in, cap + 1);
            if (!p)
                return fail(h, "out of memory");
            h->in = p;
            h->in_cap = cap;
        }
        n = recv(h->fd, h->in + h->in_len, h->in_cap - h->in_len, 0);
        quickack(h->fd);
        if (n < 0)
            return errno == EAGAIN ? check_complete(h, 0) : fail(h, "recv() failed");
        if (n == 0)
            return check_complete(h, 1);
        h->in_len += (size_t)n;
        if (check_complete(h, 0))
            return 1;
    }
    return 0;
}

int pm_http_step(pm_http *h, short revents, int64_t now)
{
    int err = 0;
    socklen_t el = sizeof(err);

    if (!pm_http_active(h))
        return 1;
    if (now >= h->deadline)
        return fail(h, "timed out");
    if (!revents)
        return 0;
    if (h->state == PM_HTTPC_CONNECTING) {
        if (getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err)
            return fail(h, err == ECONNREFUSED ? "connection refused" : "connect failed");
        h->state = PM_HTTPC_SENDING;
    }
    if (h->state == PM_HTTPC_SENDING) {
        if (do_send(h))
            return 1;
        return 0;
    }
    return do_recv(h);
}
