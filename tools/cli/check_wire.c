/*
 * portmap-cli: the outside check's wire formats (see check_wire.h and
 * doc/checker-protocol.md). Every parser here reads untrusted input: a
 * line from anyone on the Internet (the checker) or from a checker we do
 * not control (the client), so each one bounds every field it copies.
 */
#include <stdio.h>
#include <string.h>

#include "check_wire.h"

static const char *const verdict_names[] = {
    [CLI_V_OPEN] = "open",
    [CLI_V_CLOSED] = "closed",
    [CLI_V_FILTERED] = "filtered",
    [CLI_V_OPEN_FILTERED] = "open|filtered",
    [CLI_V_ERROR] = "error",
};

const char *cli_verdict_name(cli_verdict v)
{
    return (unsigned)v <= CLI_V_ERROR ? verdict_names[v] : "error";
}

int cli_verdict_parse(const char *s, cli_verdict *v)
{
    for (unsigned i = 0; i <= CLI_V_ERROR; i++)
        if (!strcmp(s, verdict_names[i])) {
            *v = (cli_verdict)i;
            return 0;
        }
    return -1;
}

/* Digits only, in [1, 65535]. */
static int parse_port(const char *s, uint16_t *out)
{
    unsigned long v = 0;

    if (!*s || strlen(s) > 5)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (unsigned long)(*s - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

int cli_check_token_ok(const char *s)
{
    size_t n = strlen(s);

    if (n < 8 || n > CLI_CHECK_TOKEN_MAX)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
            return 0;
    return 1;
}

static int fitted(int n, size_t size)
{
    return n < 0 || (size_t)n >= size ? -1 : n;
}

int cli_check_format_request(const cli_check_request *r, char *buf, size_t size)
{
    return fitted(snprintf(buf, size, CLI_CHECK_MAGIC " %s %u%s%s\n", r->udp ? "udp" : "tcp",
                           r->port, r->token[0] ? " " : "", r->token), size);
}

int cli_check_format_reply(const cli_check_reply *r, char *buf, size_t size)
{
    if (r->verdict == CLI_V_ERROR)
        return fitted(snprintf(buf, size, CLI_CHECK_MAGIC " error %s\n", r->error), size);
    return fitted(snprintf(buf, size, CLI_CHECK_MAGIC " %s %s %u\n", cli_verdict_name(r->verdict),
                           r->address, r->port), size);
}

/* Split a line (its '\n' or "\r\n" dropped) into at most max words of at
 * most wlen-1 characters, separated by single spaces: the word count, or
 * -1 on anything else (a control character, an over-long word). */
static int split(const char *line, char words[][CLI_CHECK_LINE_MAX], int max)
{
    size_t len = strlen(line);
    int n = 0;

    if (len && line[len - 1] == '\n')
        len--;
    if (len && line[len - 1] == '\r')
        len--;
    if (len == 0 || len >= CLI_CHECK_LINE_MAX)
        return -1;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && line[j] != ' ') {
            if ((unsigned char)line[j] < 0x20 || line[j] == 0x7f)
                return -1;
            j++;
        }
        if (j == i || n == max)
            return -1; /* two spaces in a row, a leading one, or too many words */
        memcpy(words[n], line + i, j - i);
        words[n++][j - i] = '\0';
        i = j + 1;
        if (j + 1 == len)
            return -1; /* a trailing space */
    }
    return n;
}

int cli_check_parse_request(const char *line, cli_check_request *r, const char **why)
{
    char w[4][CLI_CHECK_LINE_MAX];
    int n = split(line, w, 4);

    memset(r, 0, sizeof(*r));
    *why = "bad-request expected: " CLI_CHECK_MAGIC " tcp|udp PORT [TOKEN]";
    if (n < 3 || strcmp(w[0], CLI_CHECK_MAGIC))
        return -1;
    if (!strcmp(w[1], "udp"))
        r->udp = 1;
    else if (strcmp(w[1], "tcp"))
        return -1;
    if (parse_port(w[2], &r->port)) {
        *why = "bad-request PORT must be 1-65535";
        return -1;
    }
    if (n == 4) {
        if (!r->udp || !cli_check_token_ok(w[3])) {
            *why = "bad-request a TOKEN (UDP only) is 8-64 letters and digits";
            return -1;
        }
        strcpy(r->token, w[3]);
    }
    return 0;
}

int cli_check_parse_reply(const char *line, cli_check_reply *r)
{
    char w[4][CLI_CHECK_LINE_MAX];
    const char *nl;
    int n;

    memset(r, 0, sizeof(*r));
    if (!strncmp(line, CLI_CHECK_MAGIC " error ", sizeof(CLI_CHECK_MAGIC " error ") - 1)) {
        const char *text = line + sizeof(CLI_CHECK_MAGIC " error ") - 1;
        size_t len = (nl = strchr(text, '\n')) ? (size_t)(nl - text) : strlen(text);
        r->verdict = CLI_V_ERROR;
        if (len >= sizeof(r->error))
            len = sizeof(r->error) - 1;
        for (size_t i = 0; i < len; i++) /* shown to the user: printable only */
            r->error[i] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? '?' : text[i];
        return len ? 0 : -1;
    }
    n = split(line, w, 4);
    if (n != 4 || strcmp(w[0], CLI_CHECK_MAGIC) || cli_verdict_parse(w[1], &r->verdict) ||
        r->verdict == CLI_V_ERROR || strlen(w[2]) >= sizeof(r->address) || parse_port(w[3], &r->port))
        return -1;
    strcpy(r->address, w[2]);
    return 0;
}

/* Host and port of "HOST[:PORT]" or "[V6]:PORT" up to the end or a '/'. */
static int parse_hostport(const char *s, cli_checker *c, const char **rest)
{
    const char *end = s + strcspn(s, "/"), *colon = NULL, *hs = s, *he;
    char port[8];

    if (*s == '[') {
        he = memchr(s, ']', (size_t)(end - s));
        if (!he)
            return -1;
        hs = s + 1;
        if (he + 1 < end && he[1] != ':')
            return -1;
        colon = he + 1 < end ? he + 1 : NULL;
    } else {
        colon = memchr(s, ':', (size_t)(end - s));
        he = colon ? colon : end;
        if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
            return -1; /* an IPv6 address without brackets */
    }
    if (he == hs || (size_t)(he - hs) >= sizeof(c->host))
        return -1;
    memcpy(c->host, hs, (size_t)(he - hs));
    c->host[he - hs] = '\0';
    if (colon) {
        size_t pl = (size_t)(end - colon - 1);
        if (pl == 0 || pl >= sizeof(port))
            return -1;
        memcpy(port, colon + 1, pl);
        port[pl] = '\0';
        if (parse_port(port, &c->port))
            return -1;
    }
    *rest = end;
    return 0;
}

int cli_checker_parse(const char *spec, cli_checker *c)
{
    const char *rest;
    size_t plen;

    memset(c, 0, sizeof(*c));
    c->kind = CLI_CHECKER_NATIVE;
    c->port = CLI_CHECK_DEFAULT_PORT;
    if (!strncmp(spec, "http://", 7)) {
        c->kind = CLI_CHECKER_HTTP;
        c->port = 80;
        spec += 7;
    } else if (!strncmp(spec, "https://", 8)) {
        c->kind = CLI_CHECKER_HTTPS;
        c->port = 443;
        spec += 8;
    }
    if (parse_hostport(spec, c, &rest))
        return -1;
    for (const char *h = c->host; *h; h++)
        if ((unsigned char)*h <= ' ' || *h == '@' || *h == '?' || *h == '#')
            return -1;
    if (c->kind == CLI_CHECKER_NATIVE)
        return *rest ? -1 : 0;
    plen = strlen(rest);
    while (plen && rest[plen - 1] == '/')
        plen--;
    if (plen >= sizeof(c->prefix))
        return -1;
    for (size_t i = 0; i < plen; i++)
        if ((unsigned char)rest[i] <= ' ' || rest[i] == 0x7f || rest[i] == '?' || rest[i] == '#')
            return -1;
    memcpy(c->prefix, rest, plen);
    c->prefix[plen] = '\0';
    return 0;
}

/* The value after "key": in a flat JSON object, or NULL. Good enough for
 * echoip's three-member answer; anything nested is refused by the
 * callers' checks on what follows. */
static const char *json_value(const char *body, const char *key)
{
    char pat[32];
    const char *p;

    snprintf(pat, sizeof(pat), "\"%s\"", key);
    if (!(p = strstr(body, pat)))
        return NULL;
    p += strlen(pat);
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    if (*p++ != ':')
        return NULL;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    return p;
}

int cli_echoip_parse(const char *body, char *ip, size_t iplen, unsigned *port, int *reachable)
{
    const char *v;
    size_t n = 0;
    unsigned long p = 0;

    if (!(v = json_value(body, "reachable")))
        return -1;
    if (!strncmp(v, "true", 4))
        *reachable = 1;
    else if (!strncmp(v, "false", 5))
        *reachable = 0;
    else
        return -1;
    if (!(v = json_value(body, "port")) || *v < '0' || *v > '9')
        return -1;
    for (; *v >= '0' && *v <= '9' && p <= 65535; v++)
        p = p * 10 + (unsigned long)(*v - '0');
    if (p < 1 || p > 65535)
        return -1;
    *port = (unsigned)p;
    if (!(v = json_value(body, "ip")) || *v++ != '"')
        return -1;
    for (; v[n] && v[n] != '"'; n++)
        if (n + 1 >= iplen || !(v[n] == ':' || v[n] == '.' || (v[n] >= '0' && v[n] <= '9') ||
                                ((v[n] | 0x20) >= 'a' && (v[n] | 0x20) <= 'f')))
            return -1; /* an address, nothing else, is shown to the user */
    if (v[n] != '"' || n == 0)
        return -1;
    memcpy(ip, v, n);
    ip[n] = '\0';
    return 0;
}

int cli_echoip_format(char *buf, size_t size, const char *ip, unsigned port, int reachable)
{
    return fitted(snprintf(buf, size, "{\"ip\":\"%s\",\"port\":%u,\"reachable\":%s}\n", ip, port,
                           reachable ? "true" : "false"), size);
}

int cli_http_port_request(const char *line)
{
    const char *p, *sp;
    char num[8];
    uint16_t port;
    size_t n;

    if (strncmp(line, "GET ", 4))
        return -2;
    p = line + 4;
    if (strncmp(p, "/port/", 6))
        return -1;
    p += 6;
    if (!(sp = strchr(p, ' ')) || strncmp(sp, " HTTP/1.", 8))
        return -1;
    n = (size_t)(sp - p);
    if (n == 0 || n >= sizeof(num))
        return -1;
    memcpy(num, p, n);
    num[n] = '\0';
    return parse_port(num, &port) ? -1 : port;
}
