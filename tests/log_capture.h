/*
 * Warnings and errors a client logged, for tests that check what the
 * library told its user. The log callback runs on the engine thread.
 */
#ifndef LOG_CAPTURE_H
#define LOG_CAPTURE_H

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <portmap/portmap.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char warnings[2048];

static void log_capture_reset(void)
{
    pthread_mutex_lock(&log_lock);
    warnings[0] = '\0';
    pthread_mutex_unlock(&log_lock);
}

/* a portmap_log_callback */
static void on_log(void *user, portmap_log_level level, const char *msg)
{
    size_t n;

    (void)user;
    if (level > PORTMAP_LOG_WARNING)
        return;
    pthread_mutex_lock(&log_lock);
    n = strlen(warnings);
    snprintf(warnings + n, sizeof(warnings) - n, "%s\n", msg);
    pthread_mutex_unlock(&log_lock);
}

static int logged(const char *what)
{
    int found;

    pthread_mutex_lock(&log_lock);
    found = strstr(warnings, what) != NULL;
    pthread_mutex_unlock(&log_lock);
    return found;
}

#endif
