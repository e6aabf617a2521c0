/*
 * portmap-cli release PORT PROTO and cleanup: remove mappings that no
 * running portmap-cli holds any more (one left by request --once, or
 * whatever dead processes left behind).
 */
#include "cli.h"

/* Why a release found nothing to do it with, in words. */
static int explain_release(portmap_client *c, const cli_options *o, int rc, const cli_pair *pr)
{
    int v6 = o->internal_family == PORTMAP_IPV6;
    char why[512] = "";

    if (o->internal && rc == PORTMAP_ERR_UNSUPPORTED)
        return cli_fail(cli_exit_code_for(rc), "release of %s %s%s%s:%u: %s cannot map or "
                        "release ports of another host", cli_proto_name(pr->proto), v6 ? "[" : "",
                        o->internal, v6 ? "]" : "", pr->port, cli_methods_tried(o->method));
    if (o->internal && rc == PORTMAP_ERR_NOT_FOUND)
        return cli_fail(cli_exit_code_for(rc), "release of %s %s%s%s:%u: no mapping made from "
                        "this host for that host and port (the journal has none, and the router "
                        "did not name one)", cli_proto_name(pr->proto), v6 ? "[" : "", o->internal,
                        v6 ? "]" : "", pr->port);
    if (rc == PORTMAP_ERR_NO_GATEWAY || rc == PORTMAP_ERR_UNSUPPORTED || rc == PORTMAP_ERR_TIMEOUT)
        portmap_discover_reason(c, o->family == PORTMAP_IPV6 ? PORTMAP_IPV6 : PORTMAP_IPV4, why,
                                sizeof(why));
    return cli_fail(cli_exit_code_for(rc), "release of %s %u: %s%s%s", cli_proto_name(pr->proto),
                    pr->port, portmap_strerror(rc), why[0] ? ": " : "", why);
}

static void print_released(const cli_options *o, const cli_pair *pr)
{
    pthread_mutex_lock(&cli_out_lock);
    if (cli_json_mode) {
        printf("{\"event\":\"released\",\"protocol\":\"%s\",\"internal_port\":%u",
               cli_proto_name(pr->proto), pr->port);
        if (o->internal) {
            printf(",\"internal_address\":");
            cli_json_string(stdout, o->internal);
        }
        printf("}\n");
    } else if (o->internal) {
        printf("released %s %s%s%s:%u\n", cli_proto_name(pr->proto),
               o->internal_family == PORTMAP_IPV6 ? "[" : "", o->internal,
               o->internal_family == PORTMAP_IPV6 ? "]" : "", pr->port);
    } else {
        printf("released %s %u\n", cli_proto_name(pr->proto), pr->port);
    }
    pthread_mutex_unlock(&cli_out_lock);
}

int cli_cmd_release(const cli_options *o, const cli_pair *pairs, int n)
{
    portmap_client *c = NULL;
    int rc;

    (void)n;
    if ((rc = cli_open_client(o, &c, 1)) != 0)
        return rc;
    rc = portmap_release_port_for(c, o->internal, pairs[0].proto, pairs[0].port, o->method,
                                  o->timeout_s * 1000);
    if (rc == PORTMAP_OK)
        print_released(o, &pairs[0]);
    else
        rc = explain_release(c, o, rc, &pairs[0]);
    portmap_close(&c);
    return rc;
}

int cli_cmd_cleanup(const cli_options *o, const cli_pair *pairs, int n)
{
    cli_options mine = *o;
    portmap_client *c = NULL;
    unsigned released = 0;
    int rc;

    (void)pairs;
    (void)n;
    mine.keep_orphans = 1; /* this command does it itself, and counts */
    if ((rc = cli_open_client(&mine, &c, 1)) != 0)
        return rc;
    rc = portmap_cleanup(c, o->timeout_s * 1000, &released);
    /* a partial cleanup still reports what it did release */
    if (rc == PORTMAP_OK || released) {
        if (cli_json_mode)
            printf("{\"released\":%u}\n", released);
        else
            printf("released %u mapping%s left by dead processes\n", released,
                   released == 1 ? "" : "s");
    }
    if (rc != PORTMAP_OK)
        rc = rc == PORTMAP_ERR_NO_GATEWAY || rc == PORTMAP_ERR_TIMEOUT
                 ? cli_explain(c, o, rc)
                 : cli_fail(cli_exit_code_for(rc), "cleanup: %s", portmap_strerror(rc));
    portmap_close(&c);
    return rc;
}
