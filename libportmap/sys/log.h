/*
 * Logging through the caller's callback (portmap_settings.log_callback).
 * Every layer logs through a pm_logger it is given: the callback is the
 * client's, so two clients' messages never mix.
 */
#ifndef PM_SYS_LOG_H
#define PM_SYS_LOG_H

#include "portmap/portmap.h"

typedef struct pm_logger {
    portmap_log_callback cb;  /* NULL: silent */
    void *user;
    portmap_log_level level;  /* the most verbose level passed on */
} pm_logger;

/* lg may be NULL (silent). Messages are cut at 511 bytes. */
void pm_log(const pm_logger *lg, portmap_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* c: anything with a pm_logger member named log (a client). */
#define PM_ERR(c, ...) pm_log(&(c)->log, PORTMAP_LOG_ERROR, __VA_ARGS__)
#define PM_WARN(c, ...) pm_log(&(c)->log, PORTMAP_LOG_WARNING, __VA_ARGS__)
#define PM_INFO(c, ...) pm_log(&(c)->log, PORTMAP_LOG_INFO, __VA_ARGS__)
#define PM_DEBUG(c, ...) pm_log(&(c)->log, PORTMAP_LOG_DEBUG, __VA_ARGS__)

#endif
