/*
 * Run a shell command line and keep what it printed (capture.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "capture.h"

int capture_run(char *out, size_t len, const char *fmt, ...)
{
    char cmd[2048];
    size_t n = 0;
    va_list ap;
    FILE *p;
    int st;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd) - 8, fmt, ap);
    va_end(ap);
    strcat(cmd, " 2>&1");
    out[0] = '\0';
    if (!(p = popen(cmd, "r")))
        return -1;
    while (n < len - 1 && fgets(out + n, (int)(len - n), p))
        n = strlen(out);
    while (fgets(cmd, sizeof(cmd), p))
        ;
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
