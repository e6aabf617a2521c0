/*
 * portmap-cli: HTTPS for check --via https://, through libcurl, in the
 * CLI only (the library stays free of it). Built without libcurl's
 * headers, the CLI says so instead.
 *
 * libcurl is loaded (dlopen) when an HTTPS checker is asked, not linked:
 * it brings some 30 libraries (TLS, Kerberos, LDAP, SSH...) whose loading
 * took 12 of a `portmap-cli request --once`'s 16 ms on a KVM guest, on
 * every command, for the one that needs it.
 */
#include <string.h>

#include "check_cmd.h"

#ifdef HAVE_LIBCURL
#include <curl/curl.h>
#include <dlfcn.h>

/* The calls used, from the libcurl loaded at run time. */
typedef struct curl_api {
    CURLcode (*global_init)(long flags);
    void (*global_cleanup)(void);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
    CURLcode (*easy_perform)(CURL *h);
    CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
    void (*easy_cleanup)(CURL *h);
    const char *(*easy_strerror)(CURLcode rc);
} curl_api;

/* libcurl's ABI 4, as Debian's libcurl4 (and every libcurl since 7.16)
 * names it. 0, or -1 with why said. */
static int load_curl(curl_api *api, char *why, size_t why_size)
{
    void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);

    if (!h) {
        snprintf(why, why_size, "HTTPS checkers need libcurl, which cannot be loaded (%s); "
                 "install libcurl4, or use an http:// or a serve-check checker", dlerror());
        return -1;
    }
    *(void **)&api->global_init = dlsym(h, "curl_global_init");
    *(void **)&api->global_cleanup = dlsym(h, "curl_global_cleanup");
    *(void **)&api->easy_init = dlsym(h, "curl_easy_init");
    *(void **)&api->easy_setopt = dlsym(h, "curl_easy_setopt");
    *(void **)&api->easy_perform = dlsym(h, "curl_easy_perform");
    *(void **)&api->easy_getinfo = dlsym(h, "curl_easy_getinfo");
    *(void **)&api->easy_cleanup = dlsym(h, "curl_easy_cleanup");
    *(void **)&api->easy_strerror = dlsym(h, "curl_easy_strerror");
    if (!api->global_init || !api->global_cleanup || !api->easy_init || !api->easy_setopt ||
        !api->easy_perform || !api->easy_getinfo || !api->easy_cleanup || !api->easy_strerror) {
        snprintf(why, why_size, "the libcurl found lacks a call HTTPS checkers need");
        return -1; /* left loaded: the process ends soon */
    }
    return 0;
}

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
static void explain(const curl_api *api, CURLcode rc, const char *err, long os_errno,
                    const char *cacert, int timeout_ms, char *why, size_t why_size)
{
    const char *detail = err[0] ? err : api->easy_strerror(rc);

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
    curl_api api;
    CURLcode rc;
    CURL *h;

    buf[0] = '\0';
    if (load_curl(&api, why, why_size) != 0)
        return -1;
    if (api.global_init(CURL_GLOBAL_DEFAULT) || !(h = api.easy_init())) {
        snprintf(why, why_size, "libcurl could not start");
        return -1;
    }
    api.easy_setopt(h, CURLOPT_URL, url);
    api.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    /* libcurl's defaults, said out loud: the checker's word is only as
     * good as its certificate */
    api.easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    api.easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (cacert) {
        /* as curl --cacert: these CAs instead of the compiled-in bundle
         * (libcurl reads neither CURL_CA_BUNDLE nor SSL_CERT_FILE) */
        api.easy_setopt(h, CURLOPT_CAINFO, cacert);
        api.easy_setopt(h, CURLOPT_CAPATH, NULL);
    }
    api.easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    api.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    api.easy_setopt(h, CURLOPT_WRITEFUNCTION, take);
    api.easy_setopt(h, CURLOPT_WRITEDATA, &s);
    api.easy_setopt(h, CURLOPT_ERRORBUFFER, err);
    api.easy_setopt(h, CURLOPT_USERAGENT, "portmap-cli");
    rc = api.easy_perform(h);
    api.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    api.easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
    api.easy_cleanup(h);
    api.global_cleanup();
    if (rc != CURLE_OK) {
        explain(&api, rc, err, os_errno, cacert, timeout_ms, why, why_size);
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
