/*
 * Shared by the fuzz targets. Each target is one libFuzzer entry point;
 * built without libFuzzer, main.c runs it over corpus files instead.
 */
#ifndef PM_FUZZ_H
#define PM_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Not assert(): the targets must check their properties in every build
 * type, NDEBUG included, and abort so that libFuzzer keeps the input. */
#define FUZZ_CHECK(cond)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                  \
        }                                                                             \
    } while (0)

/* A reader over the fuzzer's bytes that yields zeros once they run out,
 * so a target never has to special-case a short input. */
typedef struct fuzz_in {
    const uint8_t *p;
    size_t n;
} fuzz_in;

static inline int fuzz_left(const fuzz_in *in)
{
    return in->n > 0;
}

static inline uint8_t fuzz_u8(fuzz_in *in)
{
    uint8_t v = 0;
    if (in->n) {
        v = in->p[0];
        in->p++;
        in->n--;
    }
    return v;
}

static inline uint16_t fuzz_u16(fuzz_in *in)
{
    uint16_t hi = fuzz_u8(in);
    return (uint16_t)(hi << 8 | fuzz_u8(in));
}

static inline uint32_t fuzz_u32(fuzz_in *in)
{
    uint32_t hi = fuzz_u16(in);
    return hi << 16 | fuzz_u16(in);
}

/* Up to max bytes, fewer at the end of the input. */
static inline size_t fuzz_bytes(fuzz_in *in, const uint8_t **out, size_t max)
{
    size_t n = in->n < max ? in->n : max;
    *out = in->p;
    in->p += n;
    in->n -= n;
    return n;
}

/* The whole value of the first "name:" header line in buf[0..len)
 * (RFC 9112 5: name, colon, optional whitespace around the value), with
 * no length limit; malloc'd, NULL when absent. The targets compare what
 * the library kept of a header with it. */
static inline char *fuzz_header(const char *buf, size_t len, const char *name)
{
    size_t nlen = strlen(name);

    for (size_t at = 0; at < len;) {
        const char *line = buf + at, *nl = memchr(line, '\n', len - at);
        size_t llen = nl ? (size_t)(nl - line) : len - at;

        at += llen + 1;
        if (llen > nlen && strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            size_t b = nlen + 1, e = llen;
            char *v;
            while (b < e && (line[b] == ' ' || line[b] == '\t'))
                b++;
            while (e > b && (line[e - 1] == '\r' || line[e - 1] == ' ' || line[e - 1] == '\t'))
                e--;
            v = malloc(e - b + 1);
            if (!v)
                abort();
            memcpy(v, line + b, e - b);
            v[e - b] = '\0';
            return v;
        }
    }
    return NULL;
}

#endif
