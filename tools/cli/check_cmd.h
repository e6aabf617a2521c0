/*
 * portmap-cli check: what the local check (cmd_check.c) and the outside
 * check (check_via.c) share: what this host and its router say about the
 * port, gathered once.
 */
#ifndef PORTMAP_CLI_CHECK_CMD_H
#define PORTMAP_CLI_CHECK_CMD_H

#include "check_wire.h"
#include "cli.h"

typedef struct check {
    uint16_t port;
    portmap_transport proto;
    char local[PORTMAP_ADDRSTRLEN];
    char external[PORTMAP_ADDRSTRLEN];   /* the router's external address; "" unknown */
    uint16_t external_port;
    int mapping;                 /* 1 present, 0 absent, -1 cannot tell */
    uint32_t lease;
    char mapping_note[384];
    int listening;               /* a service here listens (TCP) or is bound (UDP) */
    const char *state;
    int reached_us;              /* 1 the probe reached this host's port, 0 not, -1 cannot tell */
    char reason[1024];
} check;

/* The outside check, through the checker o->via: the exit code. */
int cli_check_via(const cli_options *o, check *k);

/* check_https.c: GET url with libcurl, the certificate verified against
 * the CAs in cacert (NULL: the system's), the body into buf (NUL-ended):
 * 0, or -1 with the reason in why. Without libcurl, always -1. */
int cli_https_get(const char *url, const char *cacert, int timeout_ms, char *buf, size_t size,
                  char *why, size_t why_size);

#endif
