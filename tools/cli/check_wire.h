/*
 * portmap-cli: the outside check's wire formats, pure functions (no I/O,
 * no state) shared by the checker (serve-check) and the client (check
 * --via). The protocol is documented in doc/checker-protocol.md.
 */
#ifndef PORTMAP_CLI_CHECK_WIRE_H
#define PORTMAP_CLI_CHECK_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define CLI_CHECK_MAGIC "PORTMAP-CHECK/1"
#define CLI_CHECK_DEFAULT_PORT 8490
#define CLI_CHECK_LINE_MAX 160    /* a request or a reply line, '\n' included */
#define CLI_CHECK_TOKEN_MAX 64
#define CLI_CHECK_PROBE_MS 3000   /* the checker's wait for an answer to its probe */
#define CLI_CHECK_RESEND_MS 700   /* and how often it sends a UDP probe again */

/* What the checker saw, in the words port scanners use. */
typedef enum cli_verdict {
    CLI_V_OPEN,
    CLI_V_CLOSED,          /* TCP RST or ICMP port unreachable */
    CLI_V_FILTERED,        /* TCP: no answer, or an ICMP error other than port unreachable */
    CLI_V_OPEN_FILTERED,   /* UDP: neither an answer nor an error */
    CLI_V_ERROR,           /* the checker refused the request */
} cli_verdict;

typedef struct cli_check_request {
    int udp;
    uint16_t port;
    char token[CLI_CHECK_TOKEN_MAX + 1];  /* "" : none (UDP probe datagram empty) */
} cli_check_request;

typedef struct cli_check_reply {
    cli_verdict verdict;
    char address[64];   /* the address the checker probed: ours as it sees it */
    uint16_t port;
    char error[96];     /* CLI_V_ERROR: the reason word and text */
} cli_check_reply;

/* A checker: HOST[:PORT] (the native protocol), http:// or https://HOST[:PORT][/PREFIX]. */
typedef enum cli_checker_kind { CLI_CHECKER_NATIVE, CLI_CHECKER_HTTP, CLI_CHECKER_HTTPS } cli_checker_kind;

typedef struct cli_checker {
    cli_checker_kind kind;
    char host[256];     /* brackets of an IPv6 literal removed */
    uint16_t port;
    char prefix[128];   /* HTTP: path before /port/N, "" or "/..." without the final '/' */
} cli_checker;

const char *cli_verdict_name(cli_verdict v);
int cli_verdict_parse(const char *s, cli_verdict *v);

/* Each returns the line's length (without a terminating NUL), or -1 when
 * it does not fit in size. */
int cli_check_format_request(const cli_check_request *r, char *buf, size_t size);
int cli_check_format_reply(const cli_check_reply *r, char *buf, size_t size);

/* 0, or -1 with the reason in why (a short text for the error reply). */
int cli_check_parse_request(const char *line, cli_check_request *r, const char **why);
int cli_check_parse_reply(const char *line, cli_check_reply *r);

/* A token is 8 to CLI_CHECK_TOKEN_MAX letters and digits. */
int cli_check_token_ok(const char *s);

int cli_checker_parse(const char *spec, cli_checker *c);

/* echoip's GET /port/N answer, {"ip":"..","port":N,"reachable":true}: 0 or -1. */
int cli_echoip_parse(const char *body, char *ip, size_t iplen, unsigned *port, int *reachable);
int cli_echoip_format(char *buf, size_t size, const char *ip, unsigned port, int reachable);

/* "GET /port/N HTTP/1.x": the port, or -1 (another path: 404) or -2 (not a GET). */
int cli_http_port_request(const char *line);

#endif
