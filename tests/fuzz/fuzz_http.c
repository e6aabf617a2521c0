/*
 * HTTP replies (status line, headers, Content-Length, chunked, read to
 * EOF) through pm_http_parse, delivered in pieces as http.c receives them.
 *
 * Input: one control byte, then the bytes the router sends.
 *   bits 0-1: the body cap (proto/upnp's description and SOAP caps, 0, 200)
 *   bits 2-7: read size - 1 (1..64 bytes per read)
 *
 * Whatever way the bytes are cut, the outcome must be the one a single
 * parse of the same bytes gives: same status, same body.
 */
#include <string.h>

#include "fuzz.h"
#include "http_feed.h"

static const size_t caps[4] = { 128 * 1024, 64 * 1024, 0, 200 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_http h;
    pm_http_response once;
    pm_http_status s, s_once;
    size_t max_body, step;
    char *copy;

    if (size < 1)
        return 0;
    max_body = caps[data[0] & 3];
    step = (size_t)(data[0] >> 2) + 1;
    data++;
    size--;
    if (size / step > 256) /* bounded work per input: each read parses it all again */
        step = size / 256 + 1;

    s = fuzz_http_feed(&h, data, size, max_body, step);

    /* The same bytes, never parsed before, in one go. */
    copy = malloc(h.in_len + 1);
    if (!copy)
        abort();
    memcpy(copy, data, h.in_len);
    copy[h.in_len] = '\0';
    s_once = pm_http_parse(copy, h.in_len, h.eof, max_body, &once);
    FUZZ_CHECK(s == s_once);

    if (s == PM_HTTP_COMPLETE) {
        const pm_http_response *r = &h.resp;
        FUZZ_CHECK(r->status == once.status && r->status >= 0 && r->status <= 999);
        FUZZ_CHECK(r->header_len == once.header_len && r->header_len <= h.in_len);
        FUZZ_CHECK(r->body == h.in + r->header_len);
        FUZZ_CHECK(r->body_len <= max_body);
        FUZZ_CHECK(r->body_len == once.body_len &&
                   memcmp(r->body, once.body, r->body_len) == 0);
        if (!r->chunked && r->content_length >= 0)
            FUZZ_CHECK((long long)r->body_len == r->content_length);
        if (!r->chunked) {
            /* the length the router sent, all of it, not a cut copy */
            char *cl = fuzz_header(copy, r->header_len, "Content-Length");
            FUZZ_CHECK(cl ? r->content_length == strtoll(cl, NULL, 10) : r->content_length == -1);
            free(cl);
        }
        /* the header block ends with the blank line */
        FUZZ_CHECK(r->header_len >= 4 && memcmp(h.in + r->header_len - 4, "\r\n\r\n", 4) == 0);
    }
    free(copy);
    fuzz_http_free(&h);
    return 0;
}
