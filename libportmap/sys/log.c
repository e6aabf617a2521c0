/*
 * Logging through the caller's callback.
 */
#include <stdarg.h>
#include <stdio.h>

#include "sys/log.h"

void pm_log(const pm_logger *lg, portmap_log_level lvl, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (!lg || !lg->cb || lvl > lg->level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    lg->cb(lg->user, lvl, msg);
}
