/*
 * portmap-cli: map a port on the local router from a shell.
 *
 * Exit codes: 0 ok, 1 negative answer, 2 usage, 3 no gateway, 4 the router
 * refused, 5 timeout, 6 other error.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/*
 * The command's PORT PROTO pairs into pairs[]: CLI_EX_OK, or the usage
 * error. A command that takes several pairs names the one that is wrong;
 * one that takes a single pair repeats its usage line.
 */
static int parse_args(const cli_command *cmd, char **args, int nargs, cli_pair *pairs, int *n)
{
    *n = nargs / 2;
    if (!cmd->max_pairs) {
        if (nargs == 0)
            return CLI_EX_OK;
        return cli_fail(CLI_EX_USAGE, "%s takes no arguments, not '%s' (portmap-cli help %s)",
                        cmd->name, args[0], cmd->name);
    }
    if (nargs < 2 || nargs % 2 || *n > cmd->max_pairs)
        return cli_fail(CLI_EX_USAGE, "%s", cmd->bad_args);
    for (int i = 0; i < *n; i++) {
        const char *port = args[2 * i], *proto = args[2 * i + 1];
        if (!cli_parse_port(port, &pairs[i].port) && !cli_parse_proto(proto, &pairs[i].proto)) {
            /* one port twice in a request would be one mapping, released twice */
            for (int j = 0; j < i; j++)
                if (pairs[j].port == pairs[i].port && pairs[j].proto == pairs[i].proto)
                    return cli_fail(CLI_EX_USAGE, "'%s %s' is given twice", port, proto);
            continue;
        }
        if (cmd->max_pairs > 1)
            return cli_fail(CLI_EX_USAGE, "'%s %s' is not PORT tcp|udp", port, proto);
        return cli_fail(CLI_EX_USAGE, "%s", cmd->bad_args);
    }
    return CLI_EX_OK;
}

int main(int argc, char **argv)
{
    cli_options o = { .timeout_s = 10 };
    cli_pair pairs[CLI_MAX_PAIRS];
    const cli_command *cmd;
    int want_help = 0, n, rc;

    /* A line as soon as it is known: a script reading a held request
     * through a pipe sees "mapped" when it happens, not at exit. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if ((rc = cli_parse_options(argc, argv, &o, &want_help)) != CLI_CONTINUE)
        return rc;
    cli_json_mode = o.json;
    if (want_help)
        return cli_help_for(optind < argc ? argv[optind] : NULL);
    if (optind < argc && !strcmp(argv[optind], "help"))
        return cli_help_for(optind + 1 < argc ? argv[optind + 1] : NULL);
    if (optind >= argc) {
        cli_usage(stderr);
        return CLI_EX_USAGE;
    }
    if (!(cmd = cli_find_command(argv[optind])))
        return cli_unknown_command(argv[optind]);
    if ((rc = cli_check_options(cmd, o.given)) != CLI_EX_OK)
        return rc;
    if (o.interface && o.gateway)
        return cli_fail(CLI_EX_USAGE, "--interface and --gateway both name the router: give one");
    if ((rc = parse_args(cmd, argv + optind + 1, argc - optind - 1, pairs, &n)) != CLI_EX_OK)
        return rc;
    cli_block_signals();
    return cmd->run(&o, pairs, n);
}
