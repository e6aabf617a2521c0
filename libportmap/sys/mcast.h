/*
 * Listening sockets for the router's multicast announcements. Each
 * returns a non-blocking descriptor, or -1.
 */
#ifndef PM_SYS_MCAST_H
#define PM_SYS_MCAST_H

#include <stdint.h>

/* 224.0.0.1:5350: PCP ANNOUNCE and NAT-PMP address announcements */
int pm_mcast_open_announce4(void);
/* [ff02::1%ifindex]:5350: PCP ANNOUNCE on the IPv6 router's link */
int pm_mcast_open_announce6(uint32_t ifindex);
/* 239.255.255.250:1900: SSDP NOTIFY */
int pm_mcast_open_ssdp4(void);

#endif
