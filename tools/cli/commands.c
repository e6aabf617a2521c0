/*
 * portmap-cli: the commands, and the usage and help text made from them.
 * A new command is one entry here, one handler, one section in
 * portmap-cli(1) and one word in the bash completion (doc/).
 */
#include <string.h>

#include "cli.h"

static const cli_command cli_commands[] = {
    {
        .name = "request",
        .synopsis = "request PORT PROTO [PORT PROTO ...]",
        .summary = "map, keep alive until SIGINT/SIGTERM, release",
        .help = "usage: portmap-cli request PORT tcp|udp [PORT tcp|udp ...] [options]\n"
                "Map the ports on the router and keep them mapped (renewing the leases)\n"
                "until SIGINT or SIGTERM, then release them. Events (mapped, changed, lost,\n"
                "restored, released) are printed as they happen. With --once, map, print\n"
                "and exit: the leases then run out by themselves.\n"
                "With --allow ADDR[/PREFIX] only that host or network may connect (PCP,\n"
                "or UPnP-IGD for one host; never falls back to open-to-all).\n"
                "With --internal-address ADDR the ports are mapped for another host of\n"
                "this LAN (PCP THIRD_PARTY or UPnP-IGD; NAT-PMP cannot, and the port is\n"
                "never mapped for this host instead).\n"
                "Options: --protocol, --lifetime, --external-port (one port only),\n"
                "--description, --allow, --internal-address, --gateway, --timeout,\n"
                "--once, --json, -v.\n",
        .max_pairs = CLI_MAX_PAIRS,
        .bad_args = "usage: portmap-cli request PORT tcp|udp [PORT tcp|udp ...] [options]",
        .options = CLI_O_ROUTER | CLI_O_LIFETIME | CLI_O_EXTERNAL_PORT | CLI_O_DESCRIPTION | CLI_O_ALLOW |
                   CLI_O_ONCE | CLI_O_INTERNAL,
        .run = cli_cmd_request,
    },
    {
        .name = "release",
        .synopsis = "release PORT PROTO",
        .summary = "release this host's mapping of PORT",
        .help = "usage: portmap-cli release PORT tcp|udp [--protocol P] [options]\n"
                "Release this host's mapping of PORT, e.g. one left by request --once;\n"
                "with --internal-address ADDR the one made for that other host.\n",
        .max_pairs = 1,
        .bad_args = "usage: portmap-cli release PORT tcp|udp [options]",
        .options = CLI_O_ROUTER | CLI_O_INTERNAL,
        .run = cli_cmd_release,
    },
    {
        .name = "discover",
        .synopsis = "discover",
        .summary = "gateway, protocols, external address, NAT verdict",
        .help = "usage: portmap-cli discover [--json] [options]\n"
                "Show the gateway, the local address, which protocols answered, the\n"
                "external address and a verdict: direct, behind NAT, or behind double\n"
                "NAT / carrier-grade NAT.\n",
        .options = CLI_O_ROUTER,
        .run = cli_cmd_discover,
    },
    {
        .name = "external-ip",
        .synopsis = "external-ip",
        .summary = "print the router's external address",
        .help = "usage: portmap-cli external-ip [options]\n"
                "Print the router's external address, one line, for scripts.\n",
        .options = CLI_O_ROUTER,
        .run = cli_cmd_external_ip,
    },
    {
        .name = "list",
        .synopsis = "list",
        .summary = "the router's mapping table (UPnP-IGD), ours marked",
        .help = "usage: portmap-cli list [-4|-6] [--ports LOW[-HIGH]] [--json] [options]\n"
                "Print the router's mapping table (UPnP-IGD); this host's entries are marked.\n"
                "This host's IPv6 pinholes follow (from the journal: no protocol lists them).\n"
                "-4 the table only, -6 the pinholes only; --ports LOW[-HIGH] those external\n"
                "ports only. A router that speaks only PCP or NAT-PMP has no table to read:\n"
                "then this host's own mappings are shown, from the journal, with a note\n"
                "saying so (exit 0).\n",
        .options = CLI_O_ROUTER | CLI_O_PORTS,
        .run = cli_cmd_list,
    },
    {
        .name = "audit",
        .synopsis = "audit [--prune]",
        .summary = "flag stale, permanent, risky and foreign mappings",
        .help = "usage: portmap-cli audit [--prune] [--ports LOW[-HIGH]] [--json] [options]\n"
                "Read the router's mapping table and flag, one line each with the reason:\n"
                "mappings to this host that no running process holds (stale), permanent\n"
                "leases, risky services exposed (telnet, SMB, RDP, VNC, databases, ...),\n"
                "mappings to other hosts. Exit 0 when nothing is flagged, 1 otherwise.\n"
                "--prune deletes the stale mappings and IPv6 pinholes of this host.\n"
                "--ports LOW[-HIGH] looks at those external ports only; with --prune it\n"
                "deletes every entry of this host there that no running process holds\n"
                "(a listener alone does not keep it). A router that speaks only PCP or\n"
                "NAT-PMP has no table to read: then this host's own mappings, from the\n"
                "journal, are audited, with a note saying so.\n",
        .options = CLI_O_ROUTER | CLI_O_PRUNE | CLI_O_PORTS,
        .run = cli_cmd_audit,
    },
    {
        .name = "cleanup",
        .synopsis = "cleanup",
        .summary = "release what dead processes left on the router",
        .help = "usage: portmap-cli cleanup [--json] [options]\n"
                "Release the mappings that processes which have died (SIGKILL, crash)\n"
                "left on the router, as recorded in the journal. Any libportmap client\n"
                "does this by itself when it starts; this does it now and reports.\n",
        .options = CLI_O_ROUTER,
        .run = cli_cmd_cleanup,
    },
    {
        .name = "check",
        .synopsis = "check PORT PROTO",
        .summary = "is the port open: from outside (--via), or what this host sees",
        .help = "usage: portmap-cli check PORT tcp|udp [--via CHECKER [--cacert FILE]]\n"
                "                         [--external-port N] [options]\n"
                "Is PORT really open? With --via CHECKER, a host outside the NAT connects\n"
                "back to this network's address and reports what it saw, as port scanners\n"
                "do: tcp open, closed (reset) or filtered (no answer); udp open (an answer)\n"
                "or open|filtered. CHECKER is HOST[:PORT] running portmap-cli serve-check\n"
                "(default port 8490), or http(s)://HOST[:PORT] of an echoip service\n"
                "(GET /port/N; TCP only). An https:// checker's certificate is verified\n"
                "against the system's CAs, or with --cacert FILE against the CAs in FILE\n"
                "(PEM) instead. When nothing on this host uses the port,\n"
                "portmap-cli holds it during the check, so a mapping can be checked before\n"
                "its service runs. A double NAT (the checker sees another address than the\n"
                "router's external one) is reported.\n"
                "Without --via: what this host can see, each on its own line: the router's\n"
                "mapping (UPnP-IGD table), a local listener, and for TCP a connection to\n"
                "the external address that comes back through the router (NAT loopback).\n"
                "Open only with that proof, closed only when nothing here listens,\n"
                "otherwise unknown: only a check from outside can tell.\n"
                "Exit 0 when open, 1 otherwise.\n",
        .max_pairs = 1,
        .bad_args = "usage: portmap-cli check PORT tcp|udp [--via CHECKER] [options]",
        .options = CLI_O_ROUTER | CLI_O_EXTERNAL_PORT | CLI_O_VIA | CLI_O_CACERT,
        .run = cli_cmd_check,
    },
    {
        .name = "serve-check",
        .synopsis = "serve-check",
        .summary = "be the outside checker for check --via (on a public host)",
        .help = "usage: portmap-cli serve-check [--listen ADDR[:PORT]]\n"
                "Answer portmap-cli check --via requests (and echoip's GET /port/N) until\n"
                "SIGINT or SIGTERM, on ADDR:PORT (default 0.0.0.0:8490). It only ever probes\n"
                "the address a request comes from, a burst of 20 then one a second per\n"
                "address, one at a time; each probe waits 3 s at most. The protocol is in\n"
                "doc/checker-protocol.md.\n",
        .options = CLI_O_LISTEN,
        .run = cli_cmd_serve_check,
    },
};

#define CLI_NCOMMANDS (sizeof(cli_commands) / sizeof(cli_commands[0]))

const cli_command *cli_find_command(const char *name)
{
    for (size_t i = 0; name && i < CLI_NCOMMANDS; i++)
        if (!strcmp(name, cli_commands[i].name))
            return &cli_commands[i];
    return NULL;
}

void cli_usage(FILE *f)
{
    fputs("usage: portmap-cli [OPTIONS] COMMAND [ARGS]\n"
          "\n"
          "commands:\n", f);
    /* a synopsis too long for the column keeps two spaces before its summary */
    for (size_t i = 0; i < CLI_NCOMMANDS; i++)
        fprintf(f, "  %-19s  %s\n", cli_commands[i].synopsis, cli_commands[i].summary);
    fputs("\n"
          "options:\n"
          "  --protocol pcp|natpmp|upnp|auto  protocol to use (default auto)\n"
          "  --lifetime SECONDS           lease to ask for (default 7200)\n"
          "  --external-port N            external port to suggest\n"
          "  --description TEXT           description stored on the router\n"
          "  --allow ADDR[/PREFIX]        only this remote host or network may connect\n"
          "  --internal-address ADDR      request, release: for this other host of the LAN\n"
          "  -4, -6                       IPv4 mapping, IPv6 firewall pinhole; both if both\n"
          "                               given (default: both where the network has them)\n"
          "  --gateway ADDR               gateway to use instead of the default route's\n"
          "  --timeout SECONDS            give up after this long (default 10)\n"
          "  --interface IFACE            the router behind IFACE (its default route)\n"
          "  --ports LOW[-HIGH]           list, audit: only these external ports\n"
          "  --via CHECKER                check: ask this host outside the NAT\n"
          "  --cacert FILE                check --via https://: trust the CAs in FILE (PEM)\n"
          "                               instead of the system's\n"
          "  --listen ADDR[:PORT]         serve-check: where to listen (default 0.0.0.0:8490)\n"
          "  --once                       map, print and exit; the mapping expires by itself\n"
          "  --json                       one JSON object per line\n"
          "  -v, --verbose                show the library's log on stderr\n"
          "  -h, --help                   this text; help COMMAND (or COMMAND --help) for one\n"
          "                               command and the options it takes\n"
          "  --version                    print the version\n"
          "\n"
          "exit codes: 0 ok, 1 negative answer, 2 usage, 3 no gateway answered,\n"
          "4 the router refused, 5 timeout, 6 other error.\n",
          f);
}

int cli_unknown_command(const char *name)
{
    cli_fail(CLI_EX_USAGE, "unknown command '%s'", name);
    cli_usage(stderr);
    return CLI_EX_USAGE;
}

/* --help and help [COMMAND]: the command's own text when one is named,
 * else the usage; an unknown name is a usage error. */
int cli_help_for(const char *name)
{
    const cli_command *cmd = cli_find_command(name);

    if (name && !cmd)
        return cli_unknown_command(name);
    if (cmd)
        fputs(cmd->help, stdout);
    else
        cli_usage(stdout);
    return CLI_EX_OK;
}

int cli_check_options(const cli_command *cmd, unsigned given)
{
    unsigned extra = given & ~cmd->options;

    if (!extra)
        return CLI_EX_OK;
    return cli_fail(CLI_EX_USAGE, "%s is not an option of %s (portmap-cli help %s)",
                    cli_option_name(extra & -extra), cmd->name, cmd->name);
}
