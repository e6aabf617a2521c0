/*
 * The lab integration tests' runner. Runs inside the lab's LAN namespace
 * (see tests/lab/run-lab-tests.sh) against a real miniupnpd in the router
 * namespace; each test checks what the router really did: the DNAT rule
 * in nft, and a WAN host reaching a service on this host through it.
 *
 * One suite per feature (test_lab_<feature>.c), in one runner so that the
 * profile's run ends with one summary. CK_RUN_SUITE=lab_pinhole (or any
 * other suite's name) runs one feature alone.
 *
 * Environment: LAB (path of lab.sh), LAB_PROBE (lab-probe), PORTMAP_CLI,
 * GAME_SERVER and EVENT_PIPE (the examples), LAB_SPOOF (lab-spoof),
 * LAB_PROFILE (full, upnp-only, igdv1; pmp-only and none run lab_cli, lab_check
 * and lab_thirdparty alone).
 */
#include <check.h>
#include <stdlib.h>

#include "lab_support.h"

/* Every suite on a router with UPnP-IGD; without it (pmp-only, none),
 * the command line and the outside check, which must do without the
 * router's table, or without the router. */
static SRunner *runner(int upnp_only)
{
    SRunner *sr;

    if (lab_router() == LAB_PMP || lab_router() == LAB_NONE) {
        sr = srunner_create(lab_cli_suite(upnp_only));
        srunner_add_suite(sr, lab_check_suite(upnp_only));
        srunner_add_suite(sr, lab_thirdparty_suite(upnp_only));
        return sr;
    }
    sr = srunner_create(lab_map_suite(upnp_only));
    srunner_add_suite(sr, lab_cli_suite(upnp_only));
    srunner_add_suite(sr, lab_release_suite(upnp_only));
    srunner_add_suite(sr, lab_reboot_suite(upnp_only));
    srunner_add_suite(sr, lab_examples_suite(upnp_only));
    srunner_add_suite(sr, lab_spoof_suite(upnp_only));
    srunner_add_suite(sr, lab_roam_suite(upnp_only));
    srunner_add_suite(sr, lab_pinhole_suite(upnp_only));
    srunner_add_suite(sr, lab_signals_suite(upnp_only));
    srunner_add_suite(sr, lab_check_suite(upnp_only));
    srunner_add_suite(sr, lab_thirdparty_suite(upnp_only));
    return sr;
}

int main(void)
{
    SRunner *sr;
    int failed;

    if (lab_setup() != 0)
        return 2;
    sr = runner(lab_upnp_only());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    lab_teardown();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
