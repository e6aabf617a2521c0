/*
 * UPnP-IGD wire formats, pure functions: HTTP response framing (with
 * Content-Length and chunked bodies), http:// URLs, SSDP answers and SOAP
 * requests. Everything is bounded by the buffer it is given; nothing trusts
 * a length field.
 */
#ifndef PM_UPNP_WIRE_H
#define PM_UPNP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "sys/addr.h"

#define PM_HTTP_MAX_HEADER 8192

typedef enum pm_http_status {
    PM_HTTP_INCOMPLETE = 0,  /* need more bytes */
    PM_HTTP_COMPLETE,        /* body is whole */
    PM_HTTP_BAD,             /* not HTTP, or broken framing */
    PM_HTTP_TOO_BIG,         /* headers or body beyond the caps */
} pm_http_status;

typedef struct pm_http_response {
    int status;              /* e.g. 200 */
    size_t header_len;       /* up to and including the blank line */
    int chunked;
    long long content_length;/* -1 if absent */
    /* On COMPLETE: the body. For chunked bodies the caller's buffer is
     * rewritten in place so the body is contiguous at body. */
    char *body;
    size_t body_len;
} pm_http_response;

/* Examine buf[0..len) received so far; eof says the peer closed. Bodies
 * above max_body are TOO_BIG. On COMPLETE with a chunked body, buf is
 * modified. */
pm_http_status pm_http_parse(char *buf, size_t len, int eof, size_t max_body, pm_http_response *out);

/* Parse http://A.B.C.D[:port][/path] or http://[IPv6][:port][/path]
 * (literal hosts only: routers use them, and a name would need DNS we do
 * not want to do). The path defaults to "/", the port to 80. A zone in
 * the URL ("[fe80::1%25eth0]") is refused: the router cannot know our
 * interface names, so the zone is the caller's to set in host->scope from
 * the link it heard the router on. Returns 0, or -1 with *host unset. */
int pm_url_parse(const char *url, pm_addr *host, uint16_t *port, char *path, size_t path_len);

typedef struct pm_ssdp_answer {
    int igd_version;         /* 1 or 2 from the ST / NT, 0 for a root device */
    char location[256];
    char usn[128];
    long bootid;             /* BOOTID.UPNP.ORG, -1 if absent */
    int is_notify;           /* NOTIFY * HTTP/1.1 rather than a search reply */
    int byebye;              /* ssdp:byebye */
} pm_ssdp_answer;

/* Parse an M-SEARCH answer or a NOTIFY. Returns 0 when it is an IGD's
 * (igd_version 1 or 2) or a root device's (upnp:rootdevice, igd_version
 * 0: whether it is an IGD only its description says), with a usable
 * LOCATION (byebye needs none); 1 for one about another device or
 * service type (an answer to ssdp:all tells each); -1 when malformed. */
int pm_ssdp_parse(const char *buf, size_t len, pm_ssdp_answer *out);

/* Build an M-SEARCH for the IGD of the given version (1 or 2), or with
 * 0 for every root device (ST upnp:rootdevice), with -1 for everything
 * (ST ssdp:all): what older devices answer. */
size_t pm_ssdp_msearch(char *buf, size_t cap, const char *host, int igd_version);

typedef struct pm_soap_arg {
    const char *name;
    const char *value;
} pm_soap_arg;

/* Build a whole HTTP POST carrying a SOAP action. Values are XML-escaped.
 * Returns the length, or 0 if it does not fit in cap. */
size_t pm_soap_request(char *buf, size_t cap, const char *host, uint16_t port, const char *path,
                       const char *service, const char *action, const pm_soap_arg *args,
                       size_t n_args);

/* Build GET path. */
size_t pm_http_get(char *buf, size_t cap, const char *host, uint16_t port, const char *path);

#endif
