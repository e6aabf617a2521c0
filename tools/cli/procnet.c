/*
 * portmap-cli: this host's sockets, as /proc/net lists them. Read rather
 * than probed with bind(), which would disturb the service being asked
 * about, and needs no privileges to see other users' sockets.
 */
#include <string.h>

#include "cli.h"

#define TCP_LISTEN 0x0A

/* The port of a /proc/net address column ("0100007F:1F90"). */
static int port_is(const char *addr, uint16_t port)
{
    const char *colon = strrchr(addr, ':');
    unsigned long v;

    return colon && !cli_parse_number(colon + 1, 16, 0, 65535, &v) && v == port;
}

/* Is something on this host listening on port (TCP) or bound to it (UDP)? */
int cli_locally_bound(portmap_transport proto, uint16_t port)
{
    const char *files[2] = { proto == PORTMAP_TCP ? "/proc/net/tcp" : "/proc/net/udp",
                             proto == PORTMAP_TCP ? "/proc/net/tcp6" : "/proc/net/udp6" };
    int found = 0;

    for (int i = 0; i < 2 && !found; i++) {
        char line[512];
        FILE *f = fopen(files[i], "re");
        if (!f)
            continue;
        while (!found && fgets(line, sizeof(line), f)) {
            char local[64];
            unsigned st;
            if (sscanf(line, " %*d: %63s %*s %x", local, &st) != 2 || !port_is(local, port))
                continue;
            found = proto == PORTMAP_UDP || st == TCP_LISTEN;
        }
        fclose(f);
    }
    return found;
}

/* Did a TCP connection from our port sport arrive at this host's port?
 * The listener's side of it shows up in /proc/net/tcp as soon as the
 * router has passed the SYN on, whatever the router rewrote the source
 * address to (masquerade keeps the source port). */
int cli_tcp_arrived(uint16_t port, uint16_t sport)
{
    const char *files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
    int found = 0;

    for (size_t i = 0; i < 2 && !found; i++) {
        char line[512];
        FILE *f = fopen(files[i], "re");
        if (!f)
            continue;
        while (!found && fgets(line, sizeof(line), f)) {
            char local[64], remote[64];
            unsigned st;
            if (sscanf(line, " %*d: %63s %63s %x", local, remote, &st) != 3 || st == TCP_LISTEN)
                continue;
            found = port_is(local, port) && port_is(remote, sport);
        }
        fclose(f);
    }
    return found;
}
