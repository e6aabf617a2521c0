/*
 * A small non-blocking HTTP/1.1 client driven by the engine's poll loop.
 * Every exchange has a total deadline and a response size cap, so a
 * router that drips bytes or sends megabytes holds nothing for long.
 */
#ifndef PM_HTTP_H
#define PM_HTTP_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "sys/addr.h"
#include "proto/upnp/upnp_wire.h"

typedef enum pm_http_state {
    PM_HTTPC_IDLE = 0,
    PM_HTTPC_CONNECTING,
    PM_HTTPC_SENDING,
    PM_HTTPC_RECEIVING,
    PM_HTTPC_DONE,
    PM_HTTPC_FAILED,
} pm_http_state;

typedef struct pm_http {
    int fd;
    pm_http_state state;
    char *out;
    size_t out_len, out_off;
    char *in;
    size_t in_len, in_cap, max_body;
    int64_t deadline;
    pm_http_response resp;   /* valid when DONE */
    const char *why;         /* static text when FAILED */
} pm_http;

/* Start an exchange with addr:port, IPv4 or IPv6 (a link-local address
 * through its zone, addr->scope); request (len bytes) is copied. */
int pm_http_start(pm_http *h, const pm_addr *addr, uint16_t port, const char *request, size_t len,
                  size_t max_body, int64_t deadline);
/* The same from the local address src (NULL: the kernel's choice). A
 * router that lets only the host itself open a pinhole for an address
 * checks the connection's source (UPnP secure mode), and the kernel
 * would pick a temporary IPv6 address. */
int pm_http_start_from(pm_http *h, const pm_addr *src, const pm_addr *addr, uint16_t port,
                       const char *request, size_t len, size_t max_body, int64_t deadline);
/* The poll events wanted now, or 0 when not active. */
short pm_http_events(const pm_http *h);
/* Progress on readiness or time. Returns 1 when finished (DONE or
 * FAILED), 0 while in progress. */
int pm_http_step(pm_http *h, short revents, int64_t now);
int pm_http_active(const pm_http *h);
void pm_http_reset(pm_http *h);

#endif
