/*
 * NAT-PMP (RFC 6886) reply validation. libnatpmp does the exchange, but the
 * Debian version reads a reply into a 16-byte buffer without checking its
 * length or that it answers the pending request; we check the datagram
 * first (peeked from the socket) with this pure function.
 */
#ifndef PM_NATPMP_WIRE_H
#define PM_NATPMP_WIRE_H

#include <stddef.h>
#include <stdint.h>

typedef struct pm_natpmp_reply {
    uint8_t opcode;          /* without the 128 bit: 0, 1 (udp), 2 (tcp) */
    uint16_t result;
    uint32_t epoch;
    uint32_t public_addr;    /* opcode 0, network byte order */
    uint16_t internal_port;  /* opcodes 1/2 */
    uint16_t external_port;
    uint32_t lifetime;
} pm_natpmp_reply;

typedef enum pm_natpmp_status {
    PM_NATPMP_OK = 0,
    PM_NATPMP_SHORT,         /* too short for its opcode */
    PM_NATPMP_LONG,          /* longer than any reply */
    PM_NATPMP_VERSION,       /* version byte is not 0 */
    PM_NATPMP_NOT_REPLY,     /* opcode without the 128 bit, or unknown */
} pm_natpmp_status;

pm_natpmp_status pm_natpmp_decode(const uint8_t *buf, size_t len, pm_natpmp_reply *out);

/* Encode a request into buf (12 bytes for a mapping, 2 for opcode 0).
 * Returns the length. Used by the fake gateway and tests. */
size_t pm_natpmp_encode_map(uint8_t buf[12], uint8_t opcode, uint16_t internal_port,
                            uint16_t external_port, uint32_t lifetime);

#endif
