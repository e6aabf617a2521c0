/*
 * A scriptable PCP / NAT-PMP gateway for tests and benchmarks: a UDP
 * server on 127.0.0.1:5351 (or another address, IPv4 or IPv6) that hands
 * every datagram to a supplied handler, which answers with fakegw_reply()
 * (or not at all). Also a second socket for replies that must come from
 * the wrong source: 127.0.0.2:5351, or for IPv6 the same address on port
 * 5352 (loopback has no second IPv6 address).
 */
#ifndef FAKEGW_H
#define FAKEGW_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fakegw fakegw;
typedef void (*fakegw_handler)(fakegw *g, const uint8_t *req, size_t len, void *user);

struct fakegw {
    int fd, spoof_fd, stop_fd;
    pthread_t th;
    fakegw_handler handler;
    void *user;
    int family;                /* AF_INET or AF_INET6, from the address served on */
    struct sockaddr_storage peer; /* the client of the datagram being handled */
    socklen_t peer_len;
    uint32_t epoch;
    atomic_int pcp_requests, natpmp_requests; /* read by the test thread */
};

int fakegw_start(fakegw *g, fakegw_handler h, void *user);
/* The same on addr:5351 instead of 127.0.0.1 (e.g. a lab router's address
 * from inside its namespace, or "::1"); the spoofing socket is on
 * 127.0.0.2 for an IPv4 addr, on [addr]:5352 for an IPv6 one. */
int fakegw_start_on(fakegw *g, fakegw_handler h, void *user, const char *addr);
void fakegw_stop(fakegw *g);
void fakegw_reply(fakegw *g, const uint8_t *buf, size_t len);
void fakegw_reply_spoofed(fakegw *g, const uint8_t *buf, size_t len);

/* Build a PCP MAP reply answering req (60 bytes); returns the length.
 * ext_addr is an IPv4 address (written IPv4-mapped) or an IPv6 one
 * (written as it is, so "::ffff:1.2.3.4" is the mapped form too). */
size_t fakegw_pcp_map_reply(uint8_t *out, const uint8_t *req, uint8_t result, uint32_t lifetime,
                            uint32_t epoch, uint16_t ext_port, const char *ext_addr);
/* NAT-PMP replies: public address (12 bytes) and mapping (16 bytes). */
size_t fakegw_pmp_addr_reply(uint8_t *out, uint16_t result, uint32_t epoch, const char *addr);
size_t fakegw_pmp_map_reply(uint8_t *out, const uint8_t *req, uint16_t result, uint32_t epoch,
                            uint16_t ext_port, uint32_t lifetime);

#endif
