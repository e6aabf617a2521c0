/*
 * game-server: a small UDP echo "game server" that opens its own port on the
 * router with libportmap.
 *
 *     game-server [--port N] [--protocol auto|pcp|natpmp|upnp]
 *                 [--lifetime SECONDS] [--allow ADDR[/PREFIX]]
 *
 * It binds UDP port 27015 (or --port), asks the router to forward it, prints
 * the address players should connect to, echoes every datagram back to its
 * sender, prints the mapping's events as they happen (external address
 * changed, mapping lost, restored) and releases the mapping on Ctrl-C or
 * SIGTERM. The library renews the lease in the background: the program
 * itself never has to.
 *
 * Build, out of tree:
 *     cc game-server.c $(pkg-config --cflags --libs portmap) -o game-server
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ppoll */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <portmap/portmap.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/*
 * Runs on the library's engine thread, never on main's. Printing is fine
 * (stdio locks its streams); anything that blocks is not: the engine cannot
 * renew leases while we hold it. event-pipe.c shows how to hand events over
 * to the application's own thread instead.
 */
static void on_event(portmap_mapping *m, portmap_event ev, const portmap_mapping_info *info,
                     void *user)
{
    (void)m;
    (void)user;
    switch (ev) {
    case PORTMAP_EVENT_MAPPED:
        printf("players connect to %s:%u (udp, via %s, lease %u s)\n", info->external_address,
               info->external_port, portmap_method_name(info->method), (unsigned)info->lifetime);
        if (info->double_nat)
            printf("warning: the router is itself behind NAT (double NAT): this address is "
                   "not reachable from the Internet\n");
        break;
    case PORTMAP_EVENT_CHANGED:
        printf("event: changed: players now connect to %s:%u\n", info->external_address,
               info->external_port);
        break;
    case PORTMAP_EVENT_LOST:
        printf("event: lost (%s); the library keeps trying\n", portmap_strerror(info->last_error));
        break;
    case PORTMAP_EVENT_RESTORED:
        printf("event: restored: %s:%u\n", info->external_address, info->external_port);
        break;
    case PORTMAP_EVENT_FAILED:
        printf("event: failed (%s); players outside the LAN cannot connect\n",
               portmap_strerror(info->last_error));
        break;
    case PORTMAP_EVENT_RELEASED:
        printf("event: released (%s)\n", info->last_error == PORTMAP_OK
                                              ? "the router confirmed"
                                              : portmap_strerror(info->last_error));
        break;
    }
}

static int parse_method(const char *s, portmap_method *out)
{
    for (int m = 0; m < PORTMAP_METHOD_COUNT; m++) {
        if (strcmp(s, portmap_method_name((portmap_method)m)) == 0) {
            *out = (portmap_method)m;
            return 0;
        }
    }
    return -1;
}

static void usage(FILE *f)
{
    fputs("usage: game-server [--port N] [--protocol auto|pcp|natpmp|upnp]\n"
          "                   [--lifetime SECONDS] [--allow ADDR[/PREFIX]] [--version]\n"
          "A UDP echo server that maps its port on the router until Ctrl-C.\n",
          f);
}

static int open_socket(unsigned port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        fprintf(stderr, "game-server: UDP port %u: %s\n", port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Echo datagrams until SIGINT or SIGTERM. */
static void serve(int fd, const sigset_t *unblocked)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    char buf[1500];

    while (!stop) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        ssize_t n;

        /* ppoll unblocks the signals only while it waits: no lost wake-up */
        if (ppoll(&p, 1, NULL, unblocked) <= 0)
            continue;
        n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        if (n >= 0)
            sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "port", required_argument, NULL, 'p' },     { "protocol", required_argument, NULL, 'P' },
        { "lifetime", required_argument, NULL, 'l' }, { "allow", required_argument, NULL, 'a' },
        { "version", no_argument, NULL, 'V' },        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    portmap_client *client = NULL;
    portmap_mapping *mapping = NULL;
    portmap_request req;
    struct sigaction sa = { .sa_handler = on_signal };
    sigset_t block, unblocked;
    unsigned port = 27015;
    int fd, rc, opt;

    portmap_request_init(&req);
    req.protocol = PORTMAP_UDP;
    req.description = "game-server example";
    req.callback = on_event;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            port = (unsigned)strtoul(optarg, NULL, 10);
            if (port < 1 || port > 65535) {
                usage(stderr);
                return 2;
            }
            break;
        case 'P':
            if (parse_method(optarg, &req.method) != 0) {
                usage(stderr);
                return 2;
            }
            break;
        case 'l':
            req.lifetime = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'a':
            req.allow = optarg; /* copied by portmap_request_mapping() */
            break;
        case 'V':
            printf("game-server with libportmap %s\n", portmap_version());
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    req.internal_port = (uint16_t)port;
    setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, even into a pipe */

    /* Blocked everywhere, the engine thread included (it inherits the mask
     * from portmap_open), so that only ppoll() in serve() takes them. */
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &unblocked);
    sigdelset(&unblocked, SIGINT);
    sigdelset(&unblocked, SIGTERM);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    fd = open_socket(port);
    if (fd < 0)
        return 1;
    rc = portmap_open(&client, NULL);
    if (rc != PORTMAP_OK) {
        fprintf(stderr, "game-server: %s\n", portmap_strerror(rc));
        return 1;
    }
    rc = portmap_request_mapping(client, &req, &mapping);
    if (rc == PORTMAP_OK)
        rc = portmap_mapping_wait(mapping, 0, NULL); /* the request's timeout, 10 s */
    /* The callback prints the address when it is mapped; main only says
     * why not. The server is still useful on the LAN meanwhile, and the
     * library keeps trying unless the mapping FAILED. */
    if (rc != PORTMAP_OK)
        printf("no mapping yet (%s); serving the LAN on port %u\n", portmap_strerror(rc), port);

    serve(fd, &unblocked);

    /* A blocking release is fine here: this is main's thread, not a callback. */
    if (mapping) {
        rc = portmap_mapping_release(&mapping, 2000);
        if (rc != PORTMAP_OK)
            printf("release: %s\n", portmap_strerror(rc));
    }
    portmap_close(&client);
    close(fd);
    return 0;
}
