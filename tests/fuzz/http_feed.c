#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http_feed.h"

/* http.c's check_complete() without the socket. */
static pm_http_status parse(fuzz_http *h, int eof, size_t max_body)
{
    pm_http_status s;

    h->in[h->in_len] = '\0';
    h->eof = eof;
    s = pm_http_parse(h->in, h->in_len, eof, max_body, &h->resp);
    if (s == PM_HTTP_COMPLETE) {
        FUZZ_CHECK(h->resp.body >= h->in && h->resp.body <= h->in + h->in_len);
        FUZZ_CHECK(h->resp.body_len <= (size_t)(h->in + h->in_len - h->resp.body));
        h->resp.body[h->resp.body_len] = '\0';
    }
    return s;
}

pm_http_status fuzz_http_feed(fuzz_http *h, const uint8_t *data, size_t size, size_t max_body,
                              size_t step)
{
    memset(h, 0, sizeof(*h));
    h->in = malloc(size + 1);
    if (!h->in)
        abort();
    if (!step)
        step = size ? size : 1;
    for (size_t off = 0; off < size;) {
        size_t n = size - off < step ? size - off : step;
        memcpy(h->in + h->in_len, data + off, n);
        h->in_len += n;
        off += n;
        h->status = parse(h, 0, max_body);
        /* the next recv() finds nothing yet: http.c parses the same
         * bytes again */
        if (h->status == PM_HTTP_INCOMPLETE)
            h->status = parse(h, 0, max_body);
        if (h->status != PM_HTTP_INCOMPLETE)
            return h->status;
    }
    h->status = parse(h, 1, max_body);
    return h->status;
}

void fuzz_http_free(fuzz_http *h)
{
    free(h->in);
    h->in = NULL;
}

int fuzz_upnp_body(fuzz_http *h, const uint8_t *data, size_t size, size_t max_body,
                   const char **body, size_t *len, int *status)
{
    if (size >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        if (fuzz_http_feed(h, data, size, max_body, 0) != PM_HTTP_COMPLETE)
            return -1;
        *body = h->resp.body;
        *len = h->resp.body_len;
        *status = h->resp.status;
        return 0;
    }
    memset(h, 0, sizeof(*h));
    h->in = malloc(size + 1);
    if (!h->in)
        abort();
    memcpy(h->in, data, size);
    h->in[size] = '\0';
    *body = h->in;
    *len = size;
    *status = 0;
    return 0;
}

void fuzz_soap_reply(const uint8_t *data, size_t size, size_t max_body,
                     void (*check)(const char *body, size_t len, int status))
{
    fuzz_http h;
    const char *body;
    size_t len;
    int status;

    if (fuzz_upnp_body(&h, data, size, max_body, &body, &len, &status) == 0) {
        if (status) {
            check(body, len, status);
        } else {
            check(body, len, 200);
            check(body, len, 500);
        }
    }
    fuzz_http_free(&h);
}
