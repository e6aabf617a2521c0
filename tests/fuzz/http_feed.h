/*
 * Receiving an HTTP reply the way libportmap/http.c does: bytes appended
 * to one buffer with room for a NUL, pm_http_parse() run after every read
 * and once more when the next read finds nothing, then at end of stream;
 * on success the body is NUL-terminated in place.
 */
#ifndef PM_FUZZ_HTTP_FEED_H
#define PM_FUZZ_HTTP_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "proto/upnp/upnp_wire.h"

typedef struct fuzz_http {
    char *in;                /* size + 1 bytes, owned */
    size_t in_len;           /* bytes received when the parse ended */
    int eof;                 /* the last parse was told the peer closed */
    pm_http_status status;
    pm_http_response resp;   /* valid when status is COMPLETE */
} fuzz_http;

/* Deliver data in reads of step bytes (0: all at once). Returns the status
 * http.c would act on. */
pm_http_status fuzz_http_feed(fuzz_http *h, const uint8_t *data, size_t size, size_t max_body,
                              size_t step);
void fuzz_http_free(fuzz_http *h);

/* The body a UPnP exchange hands to miniupnpc: an HTTP reply when data
 * starts like one, else data itself as the body (so the fuzzer can work on
 * the XML alone; *status is then 0). Returns 0 and sets *body, *len and
 * *status, or -1 when http.c would have failed the exchange. */
int fuzz_upnp_body(fuzz_http *h, const uint8_t *data, size_t size, size_t max_body,
                   const char **body, size_t *len, int *status);

/* Read a SOAP reply as upnp.c gets it: check(body, len, status) once with
 * the HTTP status, or, for a bare body, as a success (200) and as a fault
 * (500). */
void fuzz_soap_reply(const uint8_t *data, size_t size, size_t max_body,
                     void (*check)(const char *body, size_t len, int status));

#endif
