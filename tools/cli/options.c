/*
 * portmap-cli: the options, wherever they stand on the command line. Each
 * value is checked here, so that a typo is a usage error naming the
 * option, not a confusing answer from a router; which options a command
 * takes is checked once the command is known (cli_check_options()).
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <net/if.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "check_wire.h"
#include "cli.h"

/* The one way the tool reads a number: digits of base (10, or 16 for
 * /proc/net), nothing else, in [min, max]. strtol() would take " 42",
 * "+42", "-0", "0x2a" (base 0) and report overflow only through errno. */
int cli_parse_number(const char *s, int base, unsigned long min, unsigned long max,
                     unsigned long *out)
{
    unsigned long v = 0;

    if (!*s)
        return -1;
    for (; *s; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (base == 16 && ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'f'))
            d = (unsigned)((*s | 0x20) - 'a' + 10);
        else
            return -1;
        if (d > max || v > (max - d) / (unsigned)base)
            return -1; /* past max, before it can overflow */
        v = v * (unsigned)base + d;
    }
    if (v < min)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_port(const char *s, uint16_t *out)
{
    unsigned long v;

    if (cli_parse_number(s, 10, 1, 65535, &v))
        return -1;
    *out = (uint16_t)v;
    return 0;
}

int cli_parse_proto(const char *s, portmap_transport *out)
{
    if (!strcmp(s, "udp"))
        *out = PORTMAP_UDP;
    else if (!strcmp(s, "tcp"))
        *out = PORTMAP_TCP;
    else
        return -1;
    return 0;
}

static int parse_method(const char *s, portmap_method *m)
{
    if (!strcmp(s, "auto"))
        *m = PORTMAP_METHOD_AUTO;
    else if (!strcmp(s, "pcp"))
        *m = PORTMAP_METHOD_PCP;
    else if (!strcmp(s, "natpmp") || !strcmp(s, "nat-pmp"))
        *m = PORTMAP_METHOD_NATPMP;
    else if (!strcmp(s, "upnp"))
        *m = PORTMAP_METHOD_UPNP;
    else
        return -1;
    return 0;
}

/* The library checks it again; this is for a message that names
 * --gateway: an IPv4 address, or an IPv6 one, a link-local one with its
 * zone if any (an interface's index or name). */
static int valid_gateway(const char *s)
{
    char host[INET6_ADDRSTRLEN];
    const char *zone = strchr(s, '%');
    size_t n = zone ? (size_t)(zone - s) : strlen(s);
    unsigned char v6[16];
    unsigned long idx;

    if (n == 0 || n >= sizeof(host))
        return 0;
    memcpy(host, s, n);
    host[n] = '\0';
    if (!zone && inet_pton(AF_INET, host, v6) == 1)
        return 1;
    if (inet_pton(AF_INET6, host, v6) != 1)
        return 0;
    if (!zone)
        return 1;
    if (!(v6[0] == 0xfe && (v6[1] & 0xc0) == 0x80)) /* a zone is for fe80::/10 only */
        return 0;
    return !cli_parse_number(zone + 1, 10, 1, 0xffffffffUL, &idx) || if_nametoindex(zone + 1);
}

/* The library checks it again; this is for a message that names --allow. */
static int valid_allow(const char *s)
{
    char host[INET_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    struct in_addr a;
    unsigned long bits = 32;

    if (n == 0 || n >= sizeof(host))
        return 0;
    memcpy(host, s, n);
    host[n] = '\0';
    if (inet_pton(AF_INET, host, &a) != 1 ||
        (slash && cli_parse_number(slash + 1, 10, 1, 32, &bits)))
        return 0;
    return bits == 32 || (ntohl(a.s_addr) & (0xffffffffu >> bits)) == 0;
}

/* --internal-address: a host of the LAN, IPv4 or IPv6 without a zone
 * (the library checks that it is on our subnet and not the router once
 * it knows the network). Its family, or DEFAULT when it is none. */
static portmap_family internal_family(const char *s)
{
    unsigned char v6[16];
    struct in_addr a;

    if (inet_pton(AF_INET, s, &a) == 1) {
        uint32_t h = ntohl(a.s_addr);
        /* 0/8, loopback, multicast, 240/4, broadcast: no host of a LAN */
        if ((h >> 24) == 0 || (h >> 24) == 127 || (h >> 28) >= 0xe || (h >> 16) == 0xa9fe)
            return PORTMAP_FAMILY_DEFAULT;
        return PORTMAP_IPV4;
    }
    if (inet_pton(AF_INET6, s, v6) != 1 || v6[0] == 0xff ||
        (v6[0] == 0xfe && (v6[1] & 0xc0) == 0x80) ||
        IN6_IS_ADDR_UNSPECIFIED((struct in6_addr *)v6) ||
        IN6_IS_ADDR_LOOPBACK((struct in6_addr *)v6))
        return PORTMAP_FAMILY_DEFAULT;
    return PORTMAP_IPV6;
}

/* The options that take a value: CLI_CONTINUE, or the usage error. */
static int value_option(int ch, const char *arg, cli_options *o)
{
    unsigned long v;

    switch (ch) {
    case 'p':
        if (parse_method(arg, &o->method))
            return cli_fail(CLI_EX_USAGE, "--protocol takes pcp, natpmp, upnp or auto, not '%s'",
                            arg);
        break;
    case 'l':
        if (cli_parse_number(arg, 10, 1, 0x7fffffff, &v))
            return cli_fail(CLI_EX_USAGE, "--lifetime takes seconds > 0, not '%s'", arg);
        o->lifetime = (uint32_t)v;
        break;
    case 'e':
        if (cli_parse_port(arg, &o->external_port))
            return cli_fail(CLI_EX_USAGE, "--external-port takes 1-65535, not '%s'", arg);
        break;
    case 'g':
        if (!valid_gateway(arg))
            return cli_fail(CLI_EX_USAGE, "--gateway takes an IPv4 or IPv6 address (a link-local "
                            "one may carry its zone, e.g. fe80::1%%eth0), not '%s'", arg);
        o->gateway = arg;
        break;
    case 'd': o->description = arg; break;
    case 'a':
        if (!valid_allow(arg))
            return cli_fail(CLI_EX_USAGE, "--allow takes an IPv4 ADDR or ADDR/PREFIX with no "
                            "host bits set (e.g. 198.51.100.0/24), not '%s'", arg);
        o->allow = arg;
        break;
    case 'c': {
        cli_checker ck;
        if (cli_checker_parse(arg, &ck))
            return cli_fail(CLI_EX_USAGE, "--via takes HOST[:PORT] (a portmap-cli serve-check) or "
                            "http://HOST[:PORT] or https://HOST[:PORT] (an echoip service), "
                            "not '%s'", arg);
        o->via = arg;
        break;
    }
    case 'L': {
        cli_checker ck;
        if (cli_checker_parse(arg, &ck) || ck.kind != CLI_CHECKER_NATIVE)
            return cli_fail(CLI_EX_USAGE, "--listen takes ADDR[:PORT] or [V6ADDR][:PORT], "
                            "not '%s'", arg);
        o->listen = arg;
        break;
    }
    case 'A':
        /* read now: a typo is a usage error, not a TLS failure later */
        if (access(arg, R_OK))
            return cli_fail(CLI_EX_USAGE, "--cacert: cannot read '%s': %s", arg, strerror(errno));
        o->cacert = arg;
        break;
    case 'I':
        o->internal_family = internal_family(arg);
        if (!o->internal_family)
            return cli_fail(CLI_EX_USAGE, "--internal-address takes the IPv4 or IPv6 address of "
                            "another host of this LAN (not loopback, multicast, link-local or a "
                            "name), not '%s'", arg);
        o->internal = arg;
        break;
    case 'i':
        if (!if_nametoindex(arg))
            return cli_fail(CLI_EX_USAGE, "--interface: this host has no interface '%s'", arg);
        o->interface = arg;
        break;
    case 'r': {
        const char *dash = strchr(arg, '-');
        char lo[8];
        size_t n = dash ? (size_t)(dash - arg) : strlen(arg);
        if (n == 0 || n >= sizeof(lo))
            return cli_fail(CLI_EX_USAGE, "--ports takes PORT or LOW-HIGH (1-65535), not '%s'",
                            arg);
        memcpy(lo, arg, n);
        lo[n] = '\0';
        if (cli_parse_port(lo, &o->ports_lo) ||
            cli_parse_port(dash ? dash + 1 : lo, &o->ports_hi) || o->ports_hi < o->ports_lo)
            return cli_fail(CLI_EX_USAGE, "--ports takes PORT or LOW-HIGH (1-65535), not '%s'",
                            arg);
        break;
    }
    case 't':
        if (cli_parse_number(arg, 10, 1, 3600, &v))
            return cli_fail(CLI_EX_USAGE, "--timeout takes 1-3600 seconds, not '%s'", arg);
        o->timeout_s = (int)v;
        break;
    }
    return CLI_CONTINUE;
}

static const struct {
    int ch;
    unsigned bit;
    const char *name;
} cli_option_bits[] = {
    { 'p', CLI_O_PROTOCOL, "--protocol" },   { 'l', CLI_O_LIFETIME, "--lifetime" },
    { 'e', CLI_O_EXTERNAL_PORT, "--external-port" }, { 'g', CLI_O_GATEWAY, "--gateway" },
    { 't', CLI_O_TIMEOUT, "--timeout" },     { 'd', CLI_O_DESCRIPTION, "--description" },
    { 'a', CLI_O_ALLOW, "--allow" },         { 'c', CLI_O_VIA, "--via" },
    { 'L', CLI_O_LISTEN, "--listen" },       { 'o', CLI_O_ONCE, "--once" },
    { 'P', CLI_O_PRUNE, "--prune" },         { 'j', CLI_O_JSON, "--json" },
    { '4', CLI_O_FAMILY, "-4" },             { '6', CLI_O_FAMILY, "-6" },
    { 'i', CLI_O_INTERFACE, "--interface" }, { 'r', CLI_O_PORTS, "--ports" },
    { 'A', CLI_O_CACERT, "--cacert" },
    { 'I', CLI_O_INTERNAL, "--internal-address" },
};

#define CLI_NOPTION_BITS (sizeof(cli_option_bits) / sizeof(cli_option_bits[0]))

const char *cli_option_name(unsigned bit)
{
    for (size_t i = 0; i < CLI_NOPTION_BITS; i++)
        if (cli_option_bits[i].bit == bit)
            return cli_option_bits[i].name;
    return "?";
}

/* One option: CLI_CONTINUE, or the exit code to end with. */
static int one_option(int ch, const char *arg, cli_options *o, int *want_help)
{
    for (size_t i = 0; i < CLI_NOPTION_BITS; i++)
        if (cli_option_bits[i].ch == ch)
            o->given |= cli_option_bits[i].bit;
    switch (ch) {
    case 'o': o->once = 1; break;
    case 'P': o->prune = 1; break;
    case 'j': o->json = cli_json_mode = 1; break; /* errors from here on are JSON too */
    case 'v': o->verbose = 1; break;
    case '4': o->family |= PORTMAP_IPV4; break;
    case '6': o->family |= PORTMAP_IPV6; break;
    case 'h': *want_help = 1; break;
    case 'V': printf("portmap-cli %s\n", portmap_version()); return CLI_EX_OK;
    case 'p': case 'l': case 'e': case 'g': case 'd': case 'a': case 't': case 'c': case 'L':
    case 'i': case 'r': case 'A': case 'I':
        return value_option(ch, arg, o);
    default: cli_usage(stderr); return CLI_EX_USAGE;
    }
    return CLI_CONTINUE;
}

/*
 * Parse the options wherever they stand (getopt permutes argv, leaving
 * the command and its arguments from optind on). Returns CLI_CONTINUE
 * to go on with the command, else the exit code to end with.
 */
int cli_parse_options(int argc, char **argv, cli_options *o, int *want_help)
{
    static const struct option longopts[] = {
        { "protocol", required_argument, NULL, 'p' },
        { "lifetime", required_argument, NULL, 'l' },
        { "external-port", required_argument, NULL, 'e' },
        { "gateway", required_argument, NULL, 'g' },
        { "timeout", required_argument, NULL, 't' },
        { "description", required_argument, NULL, 'd' },
        { "allow", required_argument, NULL, 'a' },
        { "via", required_argument, NULL, 'c' },
        { "cacert", required_argument, NULL, 'A' },
        { "listen", required_argument, NULL, 'L' },
        { "interface", required_argument, NULL, 'i' },
        { "internal-address", required_argument, NULL, 'I' },
        { "ports", required_argument, NULL, 'r' },
        { "once", no_argument, NULL, 'o' },
        { "prune", no_argument, NULL, 'P' },
        { "json", no_argument, NULL, 'j' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "ipv4", no_argument, NULL, '4' },
        { "ipv6", no_argument, NULL, '6' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    int ch;

    opterr = 0; /* our own messages, JSON with --json */
    while ((ch = getopt_long(argc, argv, ":vh46", longopts, NULL)) != -1) {
        int rc;
        if (ch == '?' || ch == ':') {
            const char *bad = argv[optind - 1];
            char shortopt[3] = { '-', (char)optopt, '\0' };
            if (optopt && strncmp(bad, "--", 2))
                bad = shortopt; /* one of several letters in a word, e.g. -4x */
            if (ch == ':')
                return cli_fail(CLI_EX_USAGE, "%s needs a value (portmap-cli --help)", bad);
            /* with the usage, as an unknown command: "check -0 tcp" is more
             * likely a bad PORT than a wish for an option */
            cli_fail(CLI_EX_USAGE, "unknown option '%s'", bad);
            cli_usage(stderr);
            return CLI_EX_USAGE;
        }
        rc = one_option(ch, optarg, o, want_help);
        if (rc != CLI_CONTINUE)
            return rc;
    }
    return CLI_CONTINUE;
}
