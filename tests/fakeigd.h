/*
 * A scriptable UPnP IGD for tests: SSDP on 127.0.0.1:1900 and HTTP on
 * 127.0.0.1:5000, answering from a scenario. It records the SOAP actions
 * it receives so tests can check what the library asked for.
 */
#ifndef FAKEIGD_H
#define FAKEIGD_H

#include <pthread.h>

enum fakeigd_scenario {
    IGD_OK_V2, IGD_OK_V1, IGD_725, IGD_402, IGD_718, IGD_724, IGD_SSDP_NOT_GATEWAY,
    IGD_LOCATION_ELSEWHERE, IGD_CONTROL_ELSEWHERE, IGD_HUGE_DESC, IGD_DRIP, IGD_BAD_XML,
    IGD_BAD_SOAP, IGD_PPP_ONLY, IGD_CGN,
};

#define FAKEIGD_LOG 64

typedef struct fakeigd_call {
    char action[40];
    unsigned ext_port;
    unsigned lease;
    char client[32];
} fakeigd_call;

typedef struct fakeigd {
    int scenario;
    int udp_fd, spoof_fd, tcp_fd, tcp2_fd, stop_fd;
    pthread_t th;
    pthread_mutex_t lock;
    fakeigd_call calls[FAKEIGD_LOG];
    int n_calls;
    int http_requests;
    int drip_threads;
    unsigned taken_port;   /* IGD_718: this external port is in use */
} fakeigd;

int fakeigd_start(fakeigd *g, int scenario);
void fakeigd_stop(fakeigd *g);
int fakeigd_count(fakeigd *g, const char *action);
int fakeigd_http_requests(fakeigd *g);

#endif
