/*
 * PCP (RFC 6887) wire format: pure encode/decode, no I/O, no state.
 * Addresses are carried as 16-byte IPv6 or IPv4-mapped IPv6 values.
 */
#ifndef PM_PCP_WIRE_H
#define PM_PCP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define PM_PCP_VERSION 2
#define PM_PCP_PORT 5351
#define PM_PCP_CLIENT_PORT 5350       /* announcements are multicast here */
#define PM_PCP_MAX_MSG 1100           /* RFC 6887 7: messages never exceed this */
#define PM_PCP_HDR_LEN 24
#define PM_PCP_MAP_LEN 36
#define PM_PCP_NONCE_LEN 12

enum pm_pcp_opcode {
    PM_PCP_OP_ANNOUNCE = 0,
    PM_PCP_OP_MAP = 1,
    PM_PCP_OP_PEER = 2,
};

enum pm_pcp_result {
    PM_PCP_SUCCESS = 0,
    PM_PCP_UNSUPP_VERSION = 1,
    PM_PCP_NOT_AUTHORIZED = 2,
    PM_PCP_MALFORMED_REQUEST = 3,
    PM_PCP_UNSUPP_OPCODE = 4,
    PM_PCP_UNSUPP_OPTION = 5,
    PM_PCP_MALFORMED_OPTION = 6,
    PM_PCP_NETWORK_FAILURE = 7,
    PM_PCP_NO_RESOURCES = 8,
    PM_PCP_UNSUPP_PROTOCOL = 9,
    PM_PCP_USER_EX_QUOTA = 10,
    PM_PCP_CANNOT_PROVIDE_EXTERNAL = 11,
    PM_PCP_ADDRESS_MISMATCH = 12,
    PM_PCP_EXCESSIVE_REMOTE_PEERS = 13,
};

enum pm_pcp_option {
    PM_PCP_OPT_THIRD_PARTY = 1,
    PM_PCP_OPT_PREFER_FAILURE = 2,
    PM_PCP_OPT_FILTER = 3,
};

typedef struct pm_pcp_filter {
    uint8_t prefix_len;        /* 0-128, on the IPv6 (or mapped) form */
    uint16_t remote_port;      /* 0 = any */
    uint8_t remote_addr[16];
} pm_pcp_filter;

#define PM_PCP_MAX_FILTERS 4

/* A MAP (or ANNOUNCE) request as the client means it. */
typedef struct pm_pcp_request {
    uint8_t opcode;
    uint32_t lifetime;
    uint8_t client_addr[16];
    /* MAP only: */
    uint8_t nonce[PM_PCP_NONCE_LEN];
    uint8_t protocol;          /* IANA number; 0 = all */
    uint16_t internal_port;
    uint16_t external_port;    /* suggestion */
    uint8_t external_addr[16]; /* suggestion; ::ffff:0.0.0.0 = none */
    int prefer_failure;
    unsigned n_filters;
    pm_pcp_filter filters[PM_PCP_MAX_FILTERS];
    /* THIRD_PARTY (RFC 6887 13.1): the mapping is for this other host's
     * address, not client_addr's */
    int third_party;
    uint8_t third_party_addr[16];
} pm_pcp_request;

/* A decoded response. */
typedef struct pm_pcp_response {
    uint8_t version;
    uint8_t opcode;            /* without the R bit */
    uint8_t result;
    uint32_t lifetime;
    uint32_t epoch;
    int has_map;               /* the MAP payload was present */
    uint8_t nonce[PM_PCP_NONCE_LEN];
    uint8_t protocol;
    uint16_t internal_port;
    uint16_t external_port;
    uint8_t external_addr[16];
    unsigned n_filters;        /* FILTER options seen (up to the max) */
    int third_party;           /* a THIRD_PARTY option was present */
    uint8_t third_party_addr[16]; /* its address (the first one's) */
} pm_pcp_response;

typedef enum pm_pcp_decode_status {
    PM_PCP_DECODE_OK = 0,
    PM_PCP_DECODE_SHORT,       /* shorter than a header, or a cut payload/option */
    PM_PCP_DECODE_LONG,        /* longer than PM_PCP_MAX_MSG */
    PM_PCP_DECODE_UNALIGNED,   /* not a multiple of 4 */
    PM_PCP_DECODE_NOT_RESPONSE,/* R bit clear: a request, e.g. our own echo */
    PM_PCP_DECODE_VERSION,     /* version is not 2; version field filled in */
    PM_PCP_DECODE_BAD_OPTION,  /* an option overruns or is malformed */
} pm_pcp_decode_status;

/* Encode req into buf (at least PM_PCP_MAX_MSG bytes). Returns the length,
 * or 0 when the request cannot be encoded (bad opcode, too many filters). */
size_t pm_pcp_encode_request(const pm_pcp_request *req, uint8_t *buf, size_t cap);

/* Decode a datagram received from a PCP server. On PM_PCP_DECODE_VERSION,
 * out->version holds the server's version (0 means a NAT-PMP-only server
 * answered, RFC 6887 9). */
pm_pcp_decode_status pm_pcp_decode_response(const uint8_t *buf, size_t len, pm_pcp_response *out);

/* Helpers for the 16-byte address form. */
void pm_pcp_addr_from_ipv4(uint8_t out[16], uint32_t ipv4_be);
int pm_pcp_addr_is_ipv4(const uint8_t addr[16]);
uint32_t pm_pcp_addr_to_ipv4(const uint8_t addr[16]); /* network byte order */

/* Name of a result code, e.g. "NOT_AUTHORIZED"; "UNKNOWN" otherwise. */
const char *pm_pcp_result_name(unsigned result);

#endif /* PM_PCP_WIRE_H */
