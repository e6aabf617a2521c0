/*
 * What the lab tests (tests/lab/test_lab_*.c) share: the lab's commands
 * (lab.sh, lab-probe), what the router really did (its nft rules), a
 * service on this host for the WAN host to reach, the CLI, and one suite
 * per feature, all run by test_lab.c inside the lab's LAN namespace (see
 * run-lab-tests.sh).
 */
#ifndef PM_LAB_SUPPORT_H
#define PM_LAB_SUPPORT_H

#include <check.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include <portmap/portmap.h>

#include "wait.h"

#define WAN_ADDR "11.77.0.1"
#define WAN2_ADDR "12.77.0.1" /* the second router's (lab.sh router2) */
#define CGNAT_RTR_ADDR "14.77.0.1" /* lab.sh cgnat on: the router's WAN address */
#define CGNAT_OUT_ADDR "11.77.0.9" /* and the carrier's NAT's, which the Internet sees */
#define LAN6_ADDR "2001:db8:77:1::2" /* the LAN host's stable IPv6 address */

/* From the environment: LAB (lab.sh), LAB_PROBE, PORTMAP_CLI, LAB_SPOOF,
 * GAME_SERVER and EVENT_PIPE (the examples). */
extern const char *lab, *probe, *cli, *game_server, *event_pipe, *spoof;
/* The journal's directory (the library's and the CLI's), and ours. */
extern char lab_state_dir[];

/* Read the environment and make the state directory; 0 when all is set. */
int lab_setup(void);
void lab_teardown(void);
/* Profiles upnp-only and igdv1: a router that speaks UPnP-IGD alone. */
int lab_upnp_only(void);
/* What the profile's router speaks: full (all), upnp (upnp-only, igdv1),
 * pmp (pmp-only: PCP and NAT-PMP), none (no miniupnpd: a NAT alone). */
typedef enum lab_router_kind { LAB_FULL, LAB_UPNP, LAB_PMP, LAB_NONE } lab_router_kind;
lab_router_kind lab_router(void);

/* A test case of suite s for the profile, tidying up after a test that
 * could not (see lab_changed). */
TCase *lab_tcase(Suite *s, int upnp_only);

/* A test that changes the lab (second host, second router, packet loss)
 * says so until it has put everything back: a failed assertion ends it at
 * once, and the next test's fixture puts the lab back instead. */
void lab_changed(void);
void lab_restored(void);
/* The router restarted with other settings (LAB_SECURE_MODE,
 * LAB_PCP_THIRDPARTY) until restored: the next test's fixture restarts
 * it with the lab's own otherwise. */
void lab_router_knobs_changed(void);
void lab_router_knobs_restored(void);

/* system() of a printf-formatted command; its exit code, -1 if killed */
int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The router's table: a DNAT rule, a pinhole, the second router's rule. */
int has_rule(const char *proto, unsigned port);
/* The router's DNAT rules of proto for external ports first..first+count-1 */
int count_rules(const char *proto, unsigned first, unsigned count);
int has_rule2(const char *proto, unsigned port);
int has_pinhole(const char *proto, const char *addr, unsigned port);
/* Until the rule is there (present) or gone (!present): 1 if in time. */
int wait_rule(const char *proto, unsigned port, int present, int timeout_ms);
int wait_rule2(const char *proto, unsigned port, int present, int timeout_ms);
int wait_pinhole(const char *proto, const char *addr, unsigned port, int present, int timeout_ms);
/* Gone within 5 s: miniupnpd 2.3.1 will not delete a renewed PCP pinhole,
 * so the library cuts its lease to the router's minimum (the lab's is
 * 1 s) and the router lets it run out. */
int pinhole_gone(const char *proto, const char *addr, unsigned port);

/* A client of one method (0: all), logging to stderr. */
portmap_client *open_client(portmap_method only, int timeout_ms);

/* The events of the mappings made by map_counted(), reset by each call. */
extern wait_events lab_events;
portmap_mapping *map_counted(portmap_client *c, unsigned port, uint32_t lifetime);
int events(portmap_event ev);

/* An echo service on this (LAN) host for the WAN host to reach. */
typedef struct echo {
    int fd;
    int tcp;
    pthread_t th;
} echo;

/* Dual stack: reached over IPv4 through a mapping, over IPv6 through a
 * pinhole. */
void echo_start(echo *e, int tcp, unsigned port);
/* IPv6 only, on one address of ours */
void echo_start_on(echo *e, int tcp, unsigned port, const char *addr6);
void echo_stop(echo *e);

/* The WAN host gets an answer from the service at addr:ext_port. */
int wan_reaches_at(const char *addr, const char *proto, unsigned ext_port);
int wan_reaches(const char *proto, unsigned ext_port);

/* Run the CLI with printf-style arguments; its exit code, and its output:
 * the first line (cli_run) or every line up to len (cli_all). */
int cli_run(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The CLI started with argv (argv[0] is ignored: the CLI's path), its
 * standard output readable from *out; its pid. */
pid_t cli_start(char **argv, FILE **out);
int cli_all(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* One suite per feature (test_lab_<feature>.c), with the tests that the
 * profile's router can pass. */
Suite *lab_map_suite(int upnp_only);
Suite *lab_cli_suite(int upnp_only);
Suite *lab_release_suite(int upnp_only);
Suite *lab_reboot_suite(int upnp_only);
Suite *lab_examples_suite(int upnp_only);
Suite *lab_spoof_suite(int upnp_only);
Suite *lab_roam_suite(int upnp_only);
Suite *lab_pinhole_suite(int upnp_only);
Suite *lab_signals_suite(int upnp_only);
Suite *lab_check_suite(int upnp_only);
Suite *lab_thirdparty_suite(int upnp_only);

#endif
