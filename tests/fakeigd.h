/*
 * A scriptable UPnP IGD for tests: SSDP on 127.0.0.1:1900 and HTTP on
 * 127.0.0.1:5000, answering from a scenario. It records the SOAP actions
 * it receives so tests can check what the library asked for.
 *
 * fakeigd_start6() serves the IPv6 form instead: SSDP (unicast) on
 * [::1]:1900, HTTP on [::1]:5000, a description with
 * WANIPv6FirewallControl:1 (the IGD6_* scenarios) whose pinholes get
 * UniqueIDs counting from 1, the same one for a repeated AddPinhole.
 */
#ifndef FAKEIGD_H
#define FAKEIGD_H

#include <pthread.h>

enum fakeigd_scenario {
    IGD_OK_V2, IGD_OK_V1, IGD_725, IGD_402, IGD_718, IGD_724, IGD_SSDP_NOT_GATEWAY,
    IGD_LOCATION_ELSEWHERE, IGD_CONTROL_ELSEWHERE, IGD_HUGE_DESC, IGD_DRIP, IGD_BAD_XML,
    IGD_BAD_SOAP, IGD_PPP_ONLY, IGD_CGN,
    /* issue 20: deployed routers' behaviours */
    IGD_501,            /* a taken port (taken_port) is answered 501, not 718 */
    IGD_501_ALWAYS,     /* every AddPortMapping is answered 501 with a text */
    IGD_EXT_JUNK,       /* GetExternalIPAddress answers ext_addr (e.g. 127.0.0.1) */
    IGD_ROOTDEVICE_ONLY,/* answers only upnp:rootdevice and ssdp:all searches */
    IGD_DSLFORUM_ONLY,  /* TR-064 services only (urn:dslforum-org), no WAN connection */
    IGD_TR064,          /* WANIPConnection under urn:dslforum-org, rootdevice searches */
    IGD_TR064_AUTH,     /* the same, AddPortMapping wants HTTP authentication (401) */
    IGD_PPP_URLBASE,    /* WANPPPConnection:1 behind a URLBase on port 5001 */
    IGD_ABSOLUTE_CTL,   /* absolute control URLs */
    IGD_NO_DECL,        /* no XML declaration, no namespace */
    IGD_TWO_WAN,        /* two WAN devices: the first without a connection service */
    IGD_V2_FW,          /* IGD v2 with WANIPv6FirewallControl beside WANIPConnection:2 */
    IGD_LOCATION_LATE,  /* the first rounds' answers point elsewhere (as a forger's
                         * would while the router is slow), then the right one */
    /* IPv6 (fakeigd_start6) */
    IGD6_OK,
    IGD6_FW_DISABLED,   /* GetFirewallStatus: FirewallEnabled 0 */
    IGD6_NO_INBOUND,    /* GetFirewallStatus: InboundPinholeAllowed 0 */
    IGD6_606,           /* AddPinhole: Action not authorized */
    IGD6_UPDATE_704,    /* UpdatePinhole: the router lost every pinhole, NoSuchEntry */
    IGD6_UPDATE_402,    /* the same, answered as miniupnpd does: InvalidArgs */
    IGD6_NO_FW,         /* an IGDv1 description: no WANIPv6FirewallControl */
};

#define FAKEIGD_LOG 64

typedef struct fakeigd_call {
    char action[40];
    char path[40];         /* the control URL's path it was POSTed to */
    char host[40];         /* its Host header: address and port */
    unsigned ext_port;     /* pinholes: InternalPort */
    unsigned lease;        /* pinholes: LeaseTime, NewLeaseTime */
    char client[48];       /* NewInternalClient, InternalClient */
    unsigned unique_id;    /* the UniqueID sent, or AddPinhole's answer */
    int error;             /* the UPnP error answered, 0 for success */
} fakeigd_call;

#define FAKEIGD_PINHOLES 16

typedef struct fakeigd_pinhole {
    char client[48];
    unsigned port, proto, id;
} fakeigd_pinhole;

typedef struct fakeigd {
    int scenario;
    int udp_fd, spoof_fd, tcp_fd, tcp2_fd, tcp3_fd, stop_fd; /* tcp3: 127.0.0.1:5001 */
    pthread_t th;
    pthread_mutex_t lock;
    fakeigd_call calls[FAKEIGD_LOG];
    int n_calls;
    int http_requests;
    int drip_threads;
    unsigned taken_port;   /* IGD_718: this external port is in use */
    volatile int lost;     /* GetSpecificPortMappingEntry answers 714: entries lost */
    volatile int add_silent; /* AddPortMapping gets no answer (the connection closes) */
    char owner[48];        /* GetSpecificPortMappingEntry's NewInternalClient; "": ours */
    int v6;                /* serving on ::1 */
    char ext_addr[48];     /* IGD_EXT_JUNK: GetExternalIPAddress's answer */
    int searches;          /* M-SEARCHes received */
    int desc_fetches;      /* GETs of a description */
    fakeigd_pinhole pinholes[FAKEIGD_PINHOLES]; /* id 0: free */
    unsigned next_id;
} fakeigd;

int fakeigd_start(fakeigd *g, int scenario);
int fakeigd_start6(fakeigd *g, int scenario);
void fakeigd_stop(fakeigd *g);
int fakeigd_count(fakeigd *g, const char *action);
int fakeigd_http_requests(fakeigd *g);
/* GETs of a description */
int fakeigd_desc_fetches(fakeigd *g);
/* The n-th call (from 0) of action into *out, copied under the lock;
 * 0 when there is one, -1 when not. */
int fakeigd_call_get(fakeigd *g, const char *action, int n, fakeigd_call *out);

#endif
