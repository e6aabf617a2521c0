/*
 * portmap-cli: HTTPS for check --via https://, through libcurl, in the
 * CLI only (the library stays free of it). Built without libcurl, the
 * CLI says so instead.
 */
#include <string.h>

#include "check_cmd.h"

#ifdef HAVE_LIBCURL
#include <curl/curl.h>

typedef struct sink {
    char *buf;
    size_t size, len;
} sink;

/* Keep what fits; a longer answer is no echoip answer and fails to parse. */
static size_t take(char *data, size_t one, size_t n, void *user)
{
    sink *s = user;
    size_t room = s->size - 1 - s->len, k = one * n < room ? one * n : room;

    memcpy(s->buf + s->len, data, k);
    s->len += k;
    s->buf[s->len] = '\0';
    return one * n;
}

int cli_https_get(const char *url, int timeout_ms, char *buf, size_t size, char *why,
                  size_t why_size)
{
    sink s = { .buf = buf, .size = size };
    char err[CURL_ERROR_SIZE] = "";
    long status = 0;
    CURLcode rc;
    CURL *h;

    buf[0] = '\0';
    if (curl_global_init(CURL_GLOBAL_DEFAULT) || !(h = curl_easy_init())) {
        snprintf(why, why_size, "libcurl could not start");
        return -1;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, take);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "portmap-cli");
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    curl_global_cleanup();
    if (rc != CURLE_OK) {
        snprintf(why, why_size, "%s", err[0] ? err : curl_easy_strerror(rc));
        return -1;
    }
    if (status != 200) {
        snprintf(why, why_size, "the checker answered HTTP %ld", status);
        return -1;
    }
    return 0;
}

#else

int cli_https_get(const char *url, int timeout_ms, char *buf, size_t size, char *why,
                  size_t why_size)
{
    (void)url;
    (void)timeout_ms;
    (void)buf;
    (void)size;
    snprintf(why, why_size, "this portmap-cli was built without libcurl, which HTTPS needs "
             "(install libcurl's development files and rebuild); use an http:// or a "
             "serve-check checker");
    return -1;
}

#endif
