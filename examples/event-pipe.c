/*
 * event-pipe: libportmap inside an application's own poll() loop.
 *
 *     event-pipe [--protocol auto|pcp|natpmp|upnp] [--lifetime SECONDS]
 *                [PORT/tcp|PORT/udp ...]          (default 27016/tcp)
 *
 * Maps the ports, then serves commands on stdin until "quit", SIGINT or
 * SIGTERM (end of input only stops reading stdin):
 *     info    the state of each mapping (portmap_mapping_get_info)
 *     renew   renew every lease now (portmap_mapping_renew)
 *     quit    release the mappings and exit
 *
 * libportmap has no file descriptor to poll: each client runs its own engine
 * thread, which does the network I/O and calls the callbacks. The rules that
 * follow (include/portmap/portmap.h, at the top):
 *
 *  - A callback runs on the engine thread, with no library lock held. While
 *    it runs, that client renews nothing: it must return quickly.
 *  - Inside a callback, the blocking calls (portmap_mapping_wait,
 *    portmap_mapping_release with a timeout, portmap_discover,
 *    portmap_external_ip, portmap_release_port, portmap_cleanup,
 *    portmap_router_mappings, portmap_router_delete) and portmap_close()
 *    return PORTMAP_ERR_WOULD_DEADLOCK. The others (get_info, renew,
 *    request_mapping, release with timeout 0, ...) are allowed.
 *  - The application's data is not the library's business: if the callback
 *    touches it, the application must lock it.
 *
 * So this program keeps all its state on its main thread. The callback only
 * copies the event into a pipe (the "self-pipe" trick; a write of less than
 * PIPE_BUF bytes is atomic, and the write end is non-blocking so the engine
 * never waits on us), and main's poll() loop reads the pipe next to its other
 * file descriptors and does the real work, blocking calls included.
 *
 * Build, out of tree:
 *     cc event-pipe.c $(pkg-config --cflags --libs portmap) -o event-pipe
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2 */
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <portmap/portmap.h>

#define MAX_PORTS 16

/* One record through the pipe. slot -1: a signal arrived. */
typedef struct message {
    int slot;
    portmap_event event;
    portmap_mapping_info info;
} message;

_Static_assert(sizeof(message) <= PIPE_BUF, "pipe writes of a message must be atomic");

typedef struct slot {
    portmap_transport protocol;
    uint16_t port;
    portmap_mapping *mapping; /* main thread only */
} slot;

static slot slots[MAX_PORTS];
static int nslots;
static int pipe_fds[2] = { -1, -1 };
static atomic_uint dropped; /* events the full pipe could not take */

/* Engine thread: copy, hand over, return. Nothing here blocks. */
static void on_event(portmap_mapping *m, portmap_event ev, const portmap_mapping_info *info,
                     void *user)
{
    message msg = { .slot = (int)((slot *)user - slots), .event = ev, .info = *info };

    (void)m;
    if (write(pipe_fds[1], &msg, sizeof(msg)) != (ssize_t)sizeof(msg))
        atomic_fetch_add(&dropped, 1);
}

/* Any thread, any time: write(2) is async-signal-safe. */
static void on_signal(int sig)
{
    message msg = { .slot = -1, .event = (portmap_event)sig };
    int saved = errno;

    if (write(pipe_fds[1], &msg, sizeof(msg)) < 0) {
        /* full pipe: main is busy and will see the events first; the signal
         * is lost, the next one will do */
    }
    errno = saved;
}

static const char *proto_name(portmap_transport t)
{
    return t == PORTMAP_TCP ? "tcp" : "udp";
}

static void print_info(const slot *s, const char *what, const portmap_mapping_info *info)
{
    printf("%u/%s %s: %s", s->port, proto_name(s->protocol), what,
           portmap_state_name(info->state));
    if (info->state == PORTMAP_STATE_MAPPED)
        printf(" %s:%u via %s, lease %u s, renewal in %lld s", info->external_address,
               info->external_port, portmap_method_name(info->method), (unsigned)info->lifetime,
               (long long)(info->refresh_in_ms / 1000));
    if (info->last_error != PORTMAP_OK)
        printf(" (%s)", portmap_strerror(info->last_error));
    printf("\n");
}

/* Main thread: act on one event. Returns 1 when the program should stop. */
static int handle(const message *msg)
{
    slot *s;

    if (msg->slot < 0) {
        printf("signal %d: stopping\n", (int)msg->event);
        return 1;
    }
    if (msg->slot >= nslots)
        return 0;
    s = &slots[msg->slot];
    print_info(s, portmap_event_name(msg->event), &msg->info);
    if (msg->event == PORTMAP_EVENT_FAILED && s->mapping) {
        /* The library has given up on it. A blocking release is allowed
         * here, on main's thread; in the callback it would deadlock. */
        portmap_mapping_release(&s->mapping, 2000);
    }
    return 0;
}

/* Read and handle what the pipe holds; returns 1 when asked to stop. */
static int drain(void)
{
    message msg;
    int stop = 0;

    while (read(pipe_fds[0], &msg, sizeof(msg)) == (ssize_t)sizeof(msg))
        stop |= handle(&msg);
    if (atomic_exchange(&dropped, 0) > 0)
        printf("some events were dropped (pipe full); the state is in \"info\"\n");
    return stop;
}

/* One command line. Returns 1 on "quit". */
static int command(const char *line)
{
    if (strcmp(line, "quit") == 0)
        return 1;
    for (int i = 0; i < nslots; i++) {
        portmap_mapping_info info;

        if (!slots[i].mapping) {
            printf("%u/%s: not held\n", slots[i].port, proto_name(slots[i].protocol));
        } else if (strcmp(line, "info") == 0) {
            if (portmap_mapping_get_info(slots[i].mapping, &info) == PORTMAP_OK)
                print_info(&slots[i], "info", &info);
        } else if (strcmp(line, "renew") == 0) {
            portmap_mapping_renew(slots[i].mapping);
        } else if (line[0]) {
            printf("commands: info, renew, quit\n");
            break;
        }
    }
    return 0;
}

/* Read what stdin has (read(2), not stdio, whose buffer poll() cannot see)
 * and run the complete lines. Returns 1 on "quit", -1 on EOF. */
static int read_commands(void)
{
    static char buf[256];
    static size_t len;
    ssize_t n = read(STDIN_FILENO, buf + len, sizeof(buf) - 1 - len);
    char *start = buf, *nl;

    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -1;
    if (n == 0)
        return -1;
    len += (size_t)n;
    buf[len] = '\0';
    while ((nl = strchr(start, '\n'))) {
        *nl = '\0';
        if (nl > start && nl[-1] == '\r')
            nl[-1] = '\0';
        if (command(start))
            return 1;
        start = nl + 1;
    }
    len -= (size_t)(start - buf);
    memmove(buf, start, len);
    if (len == sizeof(buf) - 1)
        len = 0; /* a line too long for any command */
    return 0;
}

static int parse_port(const char *arg, slot *s)
{
    char proto[8];
    unsigned port;

    if (sscanf(arg, "%u/%7s", &port, proto) != 2 || port < 1 || port > 65535)
        return -1;
    if (strcmp(proto, "tcp") == 0)
        s->protocol = PORTMAP_TCP;
    else if (strcmp(proto, "udp") == 0)
        s->protocol = PORTMAP_UDP;
    else
        return -1;
    s->port = (uint16_t)port;
    return 0;
}

static void usage(FILE *f)
{
    fputs("usage: event-pipe [--protocol auto|pcp|natpmp|upnp] [--lifetime SECONDS]\n"
          "                  [--version] [PORT/tcp|PORT/udp ...]\n"
          "Map the ports and hold them; stdin commands: info, renew, quit.\n",
          f);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "protocol", required_argument, NULL, 'P' }, { "lifetime", required_argument, NULL, 'l' },
        { "version", no_argument, NULL, 'V' },        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    portmap_method method = PORTMAP_METHOD_AUTO;
    portmap_client *client = NULL;
    struct sigaction sa = { .sa_handler = on_signal };
    uint32_t lifetime = 0;
    int opt, rc, stop = 0, stdin_open = 1;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'P':
            for (method = 0; method < PORTMAP_METHOD_COUNT; method++)
                if (strcmp(optarg, portmap_method_name(method)) == 0)
                    break;
            if (method == PORTMAP_METHOD_COUNT) {
                usage(stderr);
                return 2;
            }
            break;
        case 'l':
            lifetime = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'V':
            printf("event-pipe with libportmap %s\n", portmap_version());
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    for (; optind < argc; optind++) {
        if (nslots == MAX_PORTS || parse_port(argv[optind], &slots[nslots]) != 0) {
            usage(stderr);
            return 2;
        }
        nslots++;
    }
    if (nslots == 0)
        parse_port("27016/tcp", &slots[nslots++]);
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        perror("event-pipe: pipe");
        return 1;
    }
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    rc = portmap_open(&client, NULL);
    if (rc != PORTMAP_OK) {
        fprintf(stderr, "event-pipe: %s\n", portmap_strerror(rc));
        return 1;
    }
    for (int i = 0; i < nslots; i++) {
        portmap_request req;

        portmap_request_init(&req);
        req.protocol = slots[i].protocol;
        req.internal_port = slots[i].port;
        req.lifetime = lifetime;
        req.method = method;
        req.description = "event-pipe example";
        req.callback = on_event;
        req.user = &slots[i]; /* read-only for the callback */
        /* Returns at once: the outcome comes through the pipe. */
        rc = portmap_request_mapping(client, &req, &slots[i].mapping);
        if (rc != PORTMAP_OK)
            printf("%u/%s: %s\n", slots[i].port, proto_name(slots[i].protocol),
                   portmap_strerror(rc));
    }

    while (!stop) {
        struct pollfd p[2] = {
            { .fd = pipe_fds[0], .events = POLLIN },
            { .fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN },
        };

        /* ... an application would add its sockets, timers, ... here */
        if (poll(p, 2, -1) < 0)
            continue; /* EINTR: the handler has written to the pipe */
        if (p[0].revents & POLLIN)
            stop = drain();
        if (!stop && p[1].revents & (POLLIN | POLLHUP)) {
            rc = read_commands();
            if (rc == 1)
                stop = 1;
            else if (rc < 0)
                stdin_open = 0; /* e.g. </dev/null: signals still stop us */
        }
    }

    /* Main's thread: blocking releases are allowed. RELEASED events arrive
     * through the pipe meanwhile; portmap_close() waits for the engine
     * thread, after which no callback runs and the pipe holds the rest. */
    for (int i = 0; i < nslots; i++)
        if (slots[i].mapping)
            portmap_mapping_release(&slots[i].mapping, 2000);
    portmap_close(&client);
    drain();
    return 0;
}
