#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strcasestr */
#endif
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/upnp/upnp_wire.h"

/* Find "\r\n\r\n" within the first max bytes. */
static const char *find_header_end(const char *buf, size_t len)
{
    for (size_t i = 0; i + 3 < len; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n')
            return buf + i + 4;
    return NULL;
}

/* Value of a named header (trimmed) into out: 0, -1 when absent, 1 when
 * it does not fit (out is then ""). A value cut to fit would be read as
 * something else: a shorter Content-Length, another URL. */
static int header_value(const char *hdr, size_t len, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    const char *p = hdr, *end = hdr + len;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;
        if ((size_t)(line_end - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            size_t n;
            while (v < line_end && (*v == ' ' || *v == '\t'))
                v++;
            n = (size_t)(line_end - v);
            while (n && (v[n - 1] == '\r' || v[n - 1] == ' ' || v[n - 1] == '\t'))
                n--;
            if (n >= cap) {
                out[0] = '\0';
                return 1;
            }
            memcpy(out, v, n);
            out[n] = '\0';
            return 0;
        }
        p = eol ? eol + 1 : end;
    }
    return -1;
}

/* Walk the chunked framing of body[0..avail): COMPLETE, INCOMPLETE or
 * BAD. With compact set, the chunk data is also moved together at body
 * (never ahead of what is still to be read). */
static pm_http_status walk_chunks(char *body, size_t avail, size_t max_body, int compact,
                                  size_t *out_len)
{
    size_t in = 0, out = 0;

    for (;;) {
        unsigned long long size = 0;
        int digits = 0;
        char *lf;

        while (in < avail && isxdigit((unsigned char)body[in])) {
            char ch = body[in++];
            if (++digits > 8)
                return PM_HTTP_BAD;
            size = size * 16 + (unsigned)(isdigit((unsigned char)ch) ? ch - '0' : (tolower(ch) - 'a' + 10));
        }
        if (in >= avail)
            return PM_HTTP_INCOMPLETE;
        if (!digits)
            return PM_HTTP_BAD;
        /* skip chunk extensions up to the line end */
        lf = memchr(body + in, '\n', avail - in);
        if (!lf)
            return avail - in > 256 ? PM_HTTP_BAD : PM_HTTP_INCOMPLETE;
        in = (size_t)(lf - body) + 1;
        if (size == 0) {
            *out_len = out; /* trailers are ignored */
            return PM_HTTP_COMPLETE;
        }
        if (out + size > max_body)
            return PM_HTTP_TOO_BIG;
        if (avail - in < size + 2)
            return PM_HTTP_INCOMPLETE;
        if (compact)
            memmove(body + out, body + in, (size_t)size);
        out += (size_t)size;
        in += (size_t)size;
        if (body[in] == '\r')
            in++;
        if (in >= avail)
            return PM_HTTP_INCOMPLETE;
        if (body[in] != '\n')
            return PM_HTTP_BAD;
        in++;
    }
}

/* Decode chunked framing. The buffer is only rewritten once the whole
 * body is there: http.c parses the same, growing buffer again after every
 * read, and a body compacted early would be read as chunk sizes. */
static pm_http_status dechunk(char *body, size_t avail, size_t max_body, size_t *out_len)
{
    pm_http_status s = walk_chunks(body, avail, max_body, 0, out_len);

    if (s != PM_HTTP_COMPLETE)
        return s;
    return walk_chunks(body, avail, max_body, 1, out_len);
}

pm_http_status pm_http_parse(char *buf, size_t len, int eof, size_t max_body, pm_http_response *out)
{
    const char *hend = find_header_end(buf, len < PM_HTTP_MAX_HEADER ? len : PM_HTTP_MAX_HEADER);
    char value[64];
    size_t avail;
    int found;

    memset(out, 0, sizeof(*out));
    out->content_length = -1;
    if (!hend) {
        if (len >= PM_HTTP_MAX_HEADER)
            return PM_HTTP_TOO_BIG;
        return eof ? PM_HTTP_BAD : PM_HTTP_INCOMPLETE;
    }
    if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ' ||
        !isdigit((unsigned char)buf[9]) || !isdigit((unsigned char)buf[10]) ||
        !isdigit((unsigned char)buf[11]))
        return PM_HTTP_BAD;
    out->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    out->header_len = (size_t)(hend - buf);
    found = header_value(buf, out->header_len, "Transfer-Encoding", value, sizeof(value));
    if (found > 0)
        return PM_HTTP_BAD; /* framing we cannot tell */
    if (found == 0 && strcasestr(value, "chunked"))
        out->chunked = 1;
    found = out->chunked ? -1 : header_value(buf, out->header_len, "Content-Length", value,
                                              sizeof(value));
    if (found > 0)
        return PM_HTTP_BAD;
    if (found == 0) {
        /* 1*DIGIT (RFC 9110 8.6): no sign, no blanks, no overflow */
        size_t digits = strspn(value, "0123456789");
        long long v;
        if (digits == 0 || value[digits] || digits > 18)
            return PM_HTTP_BAD;
        v = strtoll(value, NULL, 10);
        out->content_length = v;
        if ((unsigned long long)v > max_body)
            return PM_HTTP_TOO_BIG;
    }
    out->body = buf + out->header_len;
    avail = len - out->header_len;
    if (out->chunked) {
        pm_http_status s = dechunk(out->body, avail, max_body, &out->body_len);
        if (s == PM_HTTP_INCOMPLETE && eof)
            return PM_HTTP_BAD;
        return s;
    }
    if (out->content_length >= 0) {
        if (avail >= (size_t)out->content_length) {
            out->body_len = (size_t)out->content_length;
            return PM_HTTP_COMPLETE;
        }
        return eof ? PM_HTTP_BAD : PM_HTTP_INCOMPLETE;
    }
    if (avail > max_body)
        return PM_HTTP_TOO_BIG;
    out->body_len = avail;
    return eof ? PM_HTTP_COMPLETE : PM_HTTP_INCOMPLETE;
}

/* The host of an http:// URL from p up to end (the first '/', or the
 * URL's end): an IPv4 literal, or an IPv6 literal in brackets. Returns
 * where the port part starts (a ':' or end), NULL when it is neither. */
static const char *url_host(const char *p, const char *end, pm_addr *out)
{
    static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    char host[INET6_ADDRSTRLEN];
    int bracket = *p == '[';
    const char *stop;
    size_t n;
    uint8_t v6[16];
    struct in_addr v4;

    if (bracket) {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close)
            return NULL;
        p++;
        n = (size_t)(close - p);
        stop = close + 1;
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        stop = colon ? colon : end;
        n = (size_t)(stop - p);
    }
    if (n == 0 || n >= sizeof(host) || (stop != end && *stop != ':'))
        return NULL;
    memcpy(host, p, n);
    host[n] = '\0';
    if (!bracket) {
        if (inet_pton(AF_INET, host, &v4) != 1)
            return NULL;
        *out = pm_addr_from_v4(v4.s_addr);
        return stop;
    }
    /* No zone (see pm_url_parse), and no IPv4 address dressed as IPv6:
     * the caller compares hosts with the gateway family and all. */
    if (memchr(host, '%', n) || inet_pton(AF_INET6, host, v6) != 1 ||
        memcmp(v6, v4_mapped, sizeof(v4_mapped)) == 0)
        return NULL;
    *out = pm_addr_from_v6(v6, 0);
    return stop;
}

/* ":port" from p to end, or nothing (p == end) for 80. 1..65535 in
 * decimal digits only: no sign, no blanks, no empty port. */
static int url_port(const char *p, const char *end, uint16_t *port)
{
    long v = 0;

    *port = 80;
    if (p == end)
        return 0;
    if (++p == end)
        return -1;
    for (; p < end; p++) {
        if (!isdigit((unsigned char)*p))
            return -1;
        v = v * 10 + (*p - '0');
        if (v > 65535)
            return -1;
    }
    if (v == 0)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

int pm_url_parse(const char *url, pm_addr *host, uint16_t *port, char *path, size_t path_len)
{
    const char *p, *slash, *port_at;
    pm_addr a;

    /* unset until the whole URL is good: never half a result the caller
     * could take for the gateway */
    memset(host, 0, sizeof(*host));
    if (strncasecmp(url, "http://", 7) != 0)
        return -1;
    p = url + 7;
    slash = strchr(p, '/');
    if (!slash)
        slash = p + strlen(p);
    port_at = url_host(p, slash, &a);
    if (!port_at || url_port(port_at, slash, port) != 0)
        return -1;
    if (snprintf(path, path_len, "%s", *slash ? slash : "/") >= (int)path_len)
        return -1;
    for (const char *c = path; *c; c++) /* no header injection through the path */
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return -1;
    *host = a;
    return 0;
}

int pm_ssdp_parse(const char *buf, size_t len, pm_ssdp_answer *out)
{
    char st[160], v[32];
    size_t hlen = len;
    const char *ver;

    memset(out, 0, sizeof(*out));
    out->bootid = -1;
    if (len > 4096)
        return -1;
    if (len >= 15 && strncmp(buf, "HTTP/1.1 200", 12) == 0)
        out->is_notify = 0;
    else if (len >= 17 && strncmp(buf, "NOTIFY * HTTP/1.1", 17) == 0)
        out->is_notify = 1;
    else
        return -1;
    if (header_value(buf, hlen, out->is_notify ? "NT" : "ST", st, sizeof(st)) != 0)
        return -1;
    ver = strstr(st, "urn:schemas-upnp-org:device:InternetGatewayDevice:");
    if (ver) {
        ver += strlen("urn:schemas-upnp-org:device:InternetGatewayDevice:");
        if (*ver != '1' && *ver != '2')
            return -1;
        out->igd_version = *ver - '0';
    } else if (strcmp(st, "upnp:rootdevice") != 0) {
        return 1; /* another device or service type (ssdp:all tells them all) */
    }
    header_value(buf, hlen, "USN", out->usn, sizeof(out->usn));
    if (header_value(buf, hlen, "BOOTID.UPNP.ORG", v, sizeof(v)) == 0)
        out->bootid = strtol(v, NULL, 10);
    if (out->is_notify && header_value(buf, hlen, "NTS", v, sizeof(v)) == 0 &&
        strcmp(v, "ssdp:byebye") == 0) {
        out->byebye = 1;
        return 0;
    }
    if (header_value(buf, hlen, "LOCATION", out->location, sizeof(out->location)) != 0 ||
        !out->location[0])
        return -1;
    return 0;
}

size_t pm_ssdp_msearch(char *buf, size_t cap, const char *host, int igd_version)
{
    char target[64];
    int n;

    if (igd_version > 0)
        snprintf(target, sizeof(target), "urn:schemas-upnp-org:device:InternetGatewayDevice:%d",
                 igd_version);
    else
        snprintf(target, sizeof(target), "%s", igd_version ? "ssdp:all" : "upnp:rootdevice");
    n = snprintf(buf, cap,
                     "M-SEARCH * HTTP/1.1\r\n"
                     "HOST: %s:1900\r\n"
                     "MAN: \"ssdp:discover\"\r\n"
                     "MX: 1\r\n"
                     "ST: %s\r\n"
                     "USER-AGENT: Linux UPnP/1.1 libportmap/1\r\n"
                     "\r\n",
                     host, target);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static size_t xml_escape(char *out, size_t cap, const char *in)
{
    size_t o = 0;
    for (; *in; in++) {
        const char *rep = NULL;
        char one[2] = { *in, 0 };
        switch (*in) {
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '&': rep = "&amp;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        default: rep = one; break;
        }
        size_t n = strlen(rep);
        if ((unsigned char)*in < 0x20) /* control characters have no place here */
            continue;
        if (o + n >= cap)
            return (size_t)-1;
        memcpy(out + o, rep, n);
        o += n;
    }
    out[o] = '\0';
    return o;
}

size_t pm_soap_request(char *buf, size_t cap, const char *host, uint16_t port, const char *path,
                       const char *service, const char *action, const pm_soap_arg *args,
                       size_t n_args)
{
    char body[4096], val[512];
    size_t b = 0;
    int n;

    n = snprintf(body, sizeof(body),
                 "<?xml version=\"1.0\"?>\r\n"
                 "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
                 "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\">"
                 "<s:Body><u:%s xmlns:u=\"%s\">",
                 action, service);
    if (n < 0 || (size_t)n >= sizeof(body))
        return 0;
    b = (size_t)n;
    for (size_t i = 0; i < n_args; i++) {
        if (xml_escape(val, sizeof(val), args[i].value) == (size_t)-1)
            return 0;
        n = snprintf(body + b, sizeof(body) - b, "<%s>%s</%s>", args[i].name, val, args[i].name);
        if (n < 0 || (size_t)n >= sizeof(body) - b)
            return 0;
        b += (size_t)n;
    }
    n = snprintf(body + b, sizeof(body) - b, "</u:%s></s:Body></s:Envelope>\r\n", action);
    if (n < 0 || (size_t)n >= sizeof(body) - b)
        return 0;
    b += (size_t)n;
    n = snprintf(buf, cap,
                 "POST %s HTTP/1.1\r\n"
                 "Host: %s:%u\r\n"
                 "Content-Type: text/xml; charset=\"utf-8\"\r\n"
                 "SOAPAction: \"%s#%s\"\r\n"
                 "Content-Length: %zu\r\n"
                 "Connection: close\r\n"
                 "\r\n"
                 "%s",
                 path, host, port, service, action, b, body);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

size_t pm_http_get(char *buf, size_t cap, const char *host, uint16_t port, const char *path)
{
    int n = snprintf(buf, cap,
                     "GET %s HTTP/1.1\r\nHost: %s:%u\r\nConnection: close\r\n"
                     "User-Agent: Linux UPnP/1.1 libportmap/1\r\n\r\n",
                     path, host, port);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}
