/*
 * portmap-cli --interface IFACE: the router behind one interface, for a
 * host with several. The library takes a gateway address, so the default
 * route through IFACE names it: IPv4 from /proc/net/route, or with -6
 * alone IPv6 from /proc/net/ipv6_route (its link-local gateway with the
 * interface as its zone). Read rather than asked over netlink: these
 * files are the routing table's plain view, readable by anyone.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* The IPv4 default route's gateway through iface into buf: 0, or -1. */
static int gateway4(const char *iface, char *buf, size_t size)
{
    char line[512], name[64];
    unsigned long dest, gw, flags, metric, mask, best_metric = (unsigned long)-1;
    FILE *f = fopen("/proc/net/route", "re");
    int found = -1;

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        struct in_addr a;
        if (sscanf(line, "%63s %lx %lx %lx %*s %*s %lu %lx", name, &dest, &gw, &flags, &metric,
                   &mask) != 6 || strcmp(name, iface) || dest || mask || !(flags & 0x2) ||
            metric >= best_metric)
            continue; /* 0x2: RTF_GATEWAY; the lowest metric wins, as the kernel's does */
        a.s_addr = (uint32_t)gw; /* the file has it in network order, as hex of the u32 */
        inet_ntop(AF_INET, &a, buf, (socklen_t)size);
        best_metric = metric;
        found = 0;
    }
    fclose(f);
    return found;
}

/* The IPv6 default route's gateway through iface, with its zone: 0, or -1. */
static int gateway6(const char *iface, char *buf, size_t size)
{
    char line[512], dest[40], gw[40], name[64];
    unsigned plen;
    unsigned long metric, best_metric = (unsigned long)-1;
    FILE *f = fopen("/proc/net/ipv6_route", "re");
    int found = -1;

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        unsigned char a[16];
        char text[INET6_ADDRSTRLEN];
        if (sscanf(line, "%32s %x %*s %*s %32s %lx %*s %*s %*s %63s", dest, &plen, gw, &metric,
                   name) != 5 || strcmp(name, iface) || plen != 0 ||
            strspn(dest, "0") != 32 || strspn(gw, "0") == 32 || metric >= best_metric)
            continue;
        for (int i = 0; i < 16; i++) {
            unsigned v;
            sscanf(gw + 2 * i, "%2x", &v);
            a[i] = (unsigned char)v;
        }
        inet_ntop(AF_INET6, a, text, sizeof(text));
        /* a link-local gateway is only an address on its link */
        snprintf(buf, size, "%s%s%s", text, a[0] == 0xfe && (a[1] & 0xc0) == 0x80 ? "%" : "",
                 a[0] == 0xfe && (a[1] & 0xc0) == 0x80 ? iface : "");
        best_metric = metric;
        found = 0;
    }
    fclose(f);
    return found;
}

int cli_interface_gateway(const cli_options *o, char *buf, size_t size)
{
    int v6 = o->family == PORTMAP_IPV6;

    if ((v6 ? gateway6 : gateway4)(o->interface, buf, size) == 0)
        return 0;
    return cli_fail(CLI_EX_NOGW, "--interface %s: no %s default route through it%s", o->interface,
                    v6 ? "IPv6" : "IPv4", v6 ? "" : " (-6 for its IPv6 router; --gateway ADDR "
                                                     "names a router)");
}
