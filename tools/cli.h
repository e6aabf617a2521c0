/*
 * portmap-cli: what the command files share.
 */
#ifndef PORTMAP_CLI_H
#define PORTMAP_CLI_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include <portmap/portmap.h>

enum { EX_OK = 0, EX_NEGATIVE = 1, EX_USAGE_ = 2, EX_NOGW = 3, EX_REFUSED = 4, EX_TIMEOUT = 5,
       EX_OTHER = 6 };

typedef struct options {
    portmap_method method;
    uint32_t lifetime;
    uint16_t external_port;
    const char *gateway;
    const char *description;
    const char *allow;
    int timeout_s;
    int once;
    int prune;
    int json;
    int verbose;
    int keep_orphans;
    portmap_family family;   /* -4, -6, both; DEFAULT: both where available */
} options;

extern pthread_mutex_t out_lock; /* stdout and stderr lines, shared with the engine thread */
extern int json_mode;
extern int status_shown;

void json_string(FILE *f, const char *s);
const char *proto_name(portmap_transport p);
int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int exit_code_for(int err);
int explain(portmap_client *c, const options *o, int err);
int open_client(const options *o, portmap_client **c, int release_on_close);
void status(const char *text);
int locally_bound(portmap_transport proto, uint16_t port);

int cmd_check(const options *o, uint16_t port, portmap_transport proto);

#endif
