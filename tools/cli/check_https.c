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

/* What went wrong, in the user's terms: a refused certificate is no
 * verdict on the port, and says how to trust a checker's own CA. */
static void explain(CURLcode rc, const char *err, long os_errno, const char *cacert,
                    int timeout_ms, char *why, size_t why_size)
{
    const char *detail = err[0] ? err : curl_easy_strerror(rc);

    switch (rc) {
    case CURLE_PEER_FAILED_VERIFICATION:
        snprintf(why, why_size, "the checker's TLS certificate was refused (%s): it is not "
                 "signed by a CA %s, or not for that host name; the port was not checked%s",
                 detail, cacert ? "in --cacert" : "this host trusts",
                 cacert ? "" : " (a checker with a CA of its own: --cacert FILE)");
        break;
    case CURLE_SSL_CACERT_BADFILE:
        snprintf(why, why_size, "cannot use the CA certificates %s%s: %s",
                 cacert ? "in " : "of this host", cacert ? cacert : "", detail);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(why, why_size, "the checker did not answer within %d s (%s)",
                 (timeout_ms + 999) / 1000, detail);
        break;
    case CURLE_SSL_CONNECT_ERROR:
        snprintf(why, why_size, "TLS with the checker failed: %s", detail);
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
        snprintf(why, why_size, "cannot reach the checker: %s", detail);
        break;
    case CURLE_COULDNT_CONNECT:
        /* libcurl's text hides why: no route, refused, ... */
        snprintf(why, why_size, "cannot reach the checker: %s%s%s", detail,
                 os_errno ? ": " : "", os_errno ? strerror((int)os_errno) : "");
        break;
    default:
        snprintf(why, why_size, "%s", detail);
        break;
    }
}

int cli_https_get(const char *url, const char *cacert, int timeout_ms, char *buf, size_t size,
                  char *why, size_t why_size)
{
    sink s = { .buf = buf, .size = size };
    char err[CURL_ERROR_SIZE] = "";
    long status = 0, os_errno = 0;
    CURLcode rc;
    CURL *h;

    buf[0] = '\0';
    if (curl_global_init(CURL_GLOBAL_DEFAULT) || !(h = curl_easy_init())) {
        snprintf(why, why_size, "libcurl could not start");
        return -1;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    /* libcurl's defaults, said out loud: the checker's word is only as
     * good as its certificate */
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (cacert) {
        /* as curl --cacert: these CAs instead of the compiled-in bundle
         * (libcurl reads neither CURL_CA_BUNDLE nor SSL_CERT_FILE) */
        curl_easy_setopt(h, CURLOPT_CAINFO, cacert);
        curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
    }
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, take);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "portmap-cli");
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
    curl_easy_cleanup(h);
    curl_global_cleanup();
    if (rc != CURLE_OK) {
        explain(rc, err, os_errno, cacert, timeout_ms, why, why_size);
        return -1;
    }
    if (status != 200) {
        snprintf(why, why_size, "the checker answered HTTP %ld, not an echoip port test's 200",
                 status);
        return -1;
    }
    return 0;
}

#else

int cli_https_get(const char *url, const char *cacert, int timeout_ms, char *buf, size_t size,
                  char *why, size_t why_size)
{
    (void)url;
    (void)cacert;
    (void)timeout_ms;
    (void)buf;
    (void)size;
    snprintf(why, why_size, "this portmap-cli was built without libcurl, which HTTPS needs "
             "(install libcurl's development files and rebuild); use an http:// or a "
             "serve-check checker");
    return -1;
}

#endif
