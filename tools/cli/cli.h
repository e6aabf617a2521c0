/*
 * portmap-cli: what the command files share. Internal to the tool; every
 * name here starts with cli_ (CLI_ for constants) so that nothing in the
 * executable can be mistaken for, or collide with, the library's names.
 */
#ifndef PORTMAP_CLI_CLI_H
#define PORTMAP_CLI_CLI_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include <portmap/portmap.h>

/* The exit codes are documented in portmap-cli(1); scripts depend on them. */
enum {
    CLI_EX_OK = 0,
    CLI_EX_NEGATIVE = 1,
    CLI_EX_USAGE = 2,
    CLI_EX_NOGW = 3,
    CLI_EX_REFUSED = 4,
    CLI_EX_TIMEOUT = 5,
    CLI_EX_OTHER = 6,
};

/* The most PORT PROTO pairs one request takes. */
#define CLI_MAX_PAIRS 32

/* The options, as bits: which were given, and which a command takes. */
enum {
    CLI_O_PROTOCOL = 1u << 0,
    CLI_O_LIFETIME = 1u << 1,
    CLI_O_EXTERNAL_PORT = 1u << 2,
    CLI_O_GATEWAY = 1u << 3,
    CLI_O_TIMEOUT = 1u << 4,
    CLI_O_DESCRIPTION = 1u << 5,
    CLI_O_ALLOW = 1u << 6,
    CLI_O_VIA = 1u << 7,
    CLI_O_LISTEN = 1u << 8,
    CLI_O_ONCE = 1u << 9,
    CLI_O_PRUNE = 1u << 10,
    CLI_O_JSON = 1u << 11,
    CLI_O_FAMILY = 1u << 12,     /* -4, -6 */
    CLI_O_INTERFACE = 1u << 13,
    CLI_O_PORTS = 1u << 14,
    CLI_O_CACERT = 1u << 15,
    CLI_O_INTERNAL = 1u << 16,   /* --internal-address */
};
/* What every command that asks the router takes. -v, -h and --version go
 * with any command. */
#define CLI_O_ROUTER                                                                              \
    (CLI_O_PROTOCOL | CLI_O_GATEWAY | CLI_O_TIMEOUT | CLI_O_JSON | CLI_O_FAMILY | CLI_O_INTERFACE)

typedef struct cli_options {
    unsigned given;          /* CLI_O_* bits of the options on the command line */
    portmap_method method;
    uint32_t lifetime;
    uint16_t external_port;
    const char *gateway;
    const char *description;
    const char *allow;
    const char *via;         /* check: the checker, HOST[:PORT] or http(s)://HOST[:PORT] */
    const char *listen;      /* serve-check: ADDR[:PORT] */
    const char *cacert;      /* check --via https://: the CAs to trust instead of the system's */
    const char *interface;   /* the router behind this interface (its default route's gateway) */
    const char *internal;    /* request, release: the other LAN host mapped for; NULL this one */
    portmap_family internal_family; /* IPV4 or IPV6: internal's */
    uint16_t ports_lo, ports_hi; /* list, audit: only these external ports; 0: all */
    int timeout_s;
    int once;
    int prune;
    int json;
    int verbose;
    int keep_orphans;
    portmap_family family;   /* -4, -6, both; DEFAULT: both where available */
} cli_options;

typedef struct cli_pair {
    uint16_t port;
    portmap_transport proto;
} cli_pair;

/*
 * One command. main() checks the arguments against max_pairs before it
 * calls run(), so a handler only ever sees well-formed PORT PROTO pairs.
 */
typedef struct cli_command {
    const char *name;
    const char *synopsis;     /* its line in the usage's command list */
    const char *summary;      /* the rest of that line */
    const char *help;         /* COMMAND --help */
    int max_pairs;            /* PORT PROTO pairs: 0 none, else 1 up to this many */
    unsigned options;         /* the CLI_O_* options it takes; others are a usage error */
    const char *bad_args;     /* said on wrong arguments; NULL: the general usage */
    int (*run)(const cli_options *o, const cli_pair *pairs, int n);
} cli_command;

/* output.c */
extern pthread_mutex_t cli_out_lock; /* stdout and stderr lines, shared with the engine thread */
extern int cli_json_mode;

/* request: the other LAN host the mappings are for (--internal-address),
 * named in each event; NULL: this host */
extern const char *cli_internal_host;

void cli_json_string(FILE *f, const char *s);
const char *cli_json_bool(int b);
const char *cli_proto_name(portmap_transport p);
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_status(const char *text);
void cli_status_clear(void);
int64_t cli_mono_ms(void);

/* client.c */
int cli_open_client(const cli_options *o, portmap_client **c, int release_on_close);
int cli_exit_code_for(int err);
const char *cli_methods_tried(portmap_method m);
int cli_explain(portmap_client *c, const cli_options *o, int err);

/* options.c; cli_parse_options() returns CLI_CONTINUE or an exit code */
#define CLI_CONTINUE (-1)
int cli_parse_options(int argc, char **argv, cli_options *o, int *want_help);
/* digits of base only (no sign, space or prefix), in [min, max]: 0 or -1 */
int cli_parse_number(const char *s, int base, unsigned long min, unsigned long max,
                     unsigned long *out);
int cli_parse_port(const char *s, uint16_t *out);
int cli_parse_proto(const char *s, portmap_transport *out);

/* commands.c */
const cli_command *cli_find_command(const char *name);
void cli_usage(FILE *f);
/* 0, or a usage error: the command name is unknown (also for help NAME) */
int cli_help_for(const char *name);
int cli_unknown_command(const char *name);
/* CLI_EX_OK, or a usage error naming the first option cmd does not take */
int cli_check_options(const cli_command *cmd, unsigned given);
const char *cli_option_name(unsigned bit);

/* signals.c */
/* How long a request has, after SIGINT or SIGTERM, to release what it
 * holds (a router that does not answer must not hold the shell). */
#define CLI_SIGNAL_RELEASE_MS 1000
/* Block SIGINT and SIGTERM and start the thread that takes them: a
 * command ends at once on either, unless it holds mappings. */
void cli_block_signals(void);
/* From now on a signal is for the command to act on (it holds mappings
 * to release); a second one still ends it at once. */
void cli_hold_on_signal(void);
/* Until the first signal: it. */
int cli_wait_for_signal(void);
/* The signal that came, 0 none. */
int cli_signal_pending(void);

/* live.c: the status block of a held request on a terminal */
int cli_live_wanted(const cli_options *o);
/* Redraw it until a signal comes: the signal. */
int cli_live_hold(portmap_mapping *const *m, int n);
/* cli_out_lock held: take it off the terminal before another line */
void cli_live_erase(void);

/* iface.c: --interface's gateway into buf: 0, or an exit code (said) */
int cli_interface_gateway(const cli_options *o, char *buf, size_t size);

/* procnet.c */
int cli_locally_bound(portmap_transport proto, uint16_t port);
int cli_tcp_arrived(uint16_t port, uint16_t sport);

/* request_parts.c: each family part of one request, [0] IPv4, [1] IPv6 */
typedef struct cli_parts {
    int have[2];
    portmap_mapping_info info[2];
    char reason[2][256];
} cli_parts;

void cli_read_parts(portmap_mapping *m, cli_parts *p);
int cli_parts_pending(const cli_parts *p);
int cli_report_parts(const cli_options *o, const cli_parts *p);
void cli_print_event(const char *event, const portmap_mapping_info *i);

/* The handlers, one per command (see commands.c). */
int cli_cmd_request(const cli_options *o, const cli_pair *pairs, int n);
int cli_cmd_release(const cli_options *o, const cli_pair *pairs, int n);
int cli_cmd_cleanup(const cli_options *o, const cli_pair *pairs, int n);
int cli_cmd_discover(const cli_options *o, const cli_pair *pairs, int n);
int cli_cmd_external_ip(const cli_options *o, const cli_pair *pairs, int n);
int cli_cmd_list(const cli_options *o, const cli_pair *pairs, int n);
int cli_cmd_audit(const cli_options *o, const cli_pair *pairs, int n);
int cli_cmd_check(const cli_options *o, const cli_pair *pairs, int n);
int cli_cmd_serve_check(const cli_options *o, const cli_pair *pairs, int n);

#endif
