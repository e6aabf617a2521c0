/*
 * portmap-cli: the library client every command opens, and how its
 * errors become exit codes and sentences.
 */
#include <string.h>

#include "cli.h"

static void on_log(void *user, portmap_log_level level, const char *msg)
{
    static const char *const names[] = { "error", "warning", "info", "debug" };
    (void)user;
    pthread_mutex_lock(&cli_out_lock);
    fprintf(stderr, "portmap: %s: %s\n", names[level], msg);
    pthread_mutex_unlock(&cli_out_lock);
}

int cli_open_client(const cli_options *o, portmap_client **c, int release_on_close)
{
    char gw[PORTMAP_ADDRSTRLEN + 20];
    portmap_settings s;
    int rc;

    portmap_default_settings(&s);
    s.timeout_ms = o->timeout_s * 1000;
    s.gateway = o->gateway;
    if (o->interface && !o->gateway) {
        if ((rc = cli_interface_gateway(o, gw, sizeof(gw))) != 0)
            return rc;
        s.gateway = gw;
    }
    s.release_on_close = release_on_close;
    s.close_timeout_ms = 3000;
    if (o->method != PORTMAP_METHOD_AUTO)
        s.methods[0] = o->method;
    if (o->lifetime)
        s.default_lifetime = o->lifetime;
    s.log_callback = on_log;
    s.log_level = o->verbose ? PORTMAP_LOG_DEBUG : PORTMAP_LOG_ERROR;
    s.keep_orphans = o->keep_orphans;
    rc = portmap_open(c, &s);
    if (rc)
        return cli_fail(cli_exit_code_for(rc), "cannot start: %s", portmap_strerror(rc));
    return 0;
}

int cli_exit_code_for(int err)
{
    switch (err) {
    case PORTMAP_OK: return CLI_EX_OK;
    case PORTMAP_ERR_NO_GATEWAY:
    case PORTMAP_ERR_UNSUPPORTED: return CLI_EX_NOGW;
    case PORTMAP_ERR_REFUSED:
    case PORTMAP_ERR_NOT_AUTHORIZED:
    case PORTMAP_ERR_NO_RESOURCES:
    case PORTMAP_ERR_PORT_IN_USE: return CLI_EX_REFUSED;
    case PORTMAP_ERR_TIMEOUT: return CLI_EX_TIMEOUT;
    case PORTMAP_ERR_NOT_FOUND: return CLI_EX_NEGATIVE;
    default: return CLI_EX_OTHER;
    }
}

const char *cli_methods_tried(portmap_method m)
{
    switch (m) {
    case PORTMAP_METHOD_PCP: return "PCP";
    case PORTMAP_METHOD_NATPMP: return "NAT-PMP";
    case PORTMAP_METHOD_UPNP: return "UPnP-IGD";
    default: return "PCP, NAT-PMP or UPnP";
    }
}

/* Explain a failure of a command that asked the router something: the
 * library's reason (what each protocol said), and a hint. */
int cli_explain(portmap_client *c, const cli_options *o, int err)
{
    portmap_family fam = o->family == PORTMAP_IPV6 ? PORTMAP_IPV6 : PORTMAP_IPV4;
    char why[512] = "";

    portmap_discover_reason(c, fam, why, sizeof(why));
    if (err == PORTMAP_ERR_UNSUPPORTED && o->allow)
        return cli_fail(cli_exit_code_for(err), "%s cannot restrict who connects to %s: --allow "
                        "needs PCP (any ADDR/PREFIX) or UPnP-IGD (one host). Nothing was mapped; "
                        "without --allow the port is open to everyone", why, o->allow);
    if (!strncmp(why, "no IPv", 6))
        return cli_fail(CLI_EX_NOGW, "%s%s", why, fam == PORTMAP_IPV4 && !o->gateway
                                                      ? "; --gateway ADDR names a router" : "");
    if (err == PORTMAP_ERR_NO_GATEWAY || err == PORTMAP_ERR_TIMEOUT ||
        err == PORTMAP_ERR_UNSUPPORTED)
        return cli_fail(cli_exit_code_for(err), "%s: %s; is %s enabled on the router?",
                        portmap_strerror(err), why, cli_methods_tried(o->method));
    return cli_fail(cli_exit_code_for(err), "%s: %s", portmap_strerror(err), why);
}
