/*
 * Suite: the library's layers (CODING_STYLE.md), checked so they do not
 * erode:
 *
 *   sys/    includes only sys/ (and the public header for its types);
 *   proto/  a backend includes only proto/backend.h, its own folder and
 *           sys/; backend.{c,h} only sys/;
 *   core/   reaches a backend only through proto/backend.h (the vtable);
 *   and a backend touches neither the engine's own part of the client
 *   nor writes the network state (core/net.c's alone);
 *
 * and the same for calls, read from the symbols of the library's objects
 * (nm on the internal archive): no object refers to a symbol defined in a
 * higher layer, nor a backend to another backend's, nor core/ to a
 * backend's own; within core/, each module only to those before it in
 * core/core.h's order.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"

#ifndef LIBDIR
#error "LIBDIR: the library's source directory"
#endif
#ifndef ARCHIVE
#error "ARCHIVE: the library's internal static archive"
#endif

/* ---- include rules ---- */

/* The folder of a source path under libportmap/: "sys", "proto/pcp",
 * "proto" (backend.{c,h}), "core" */
static void folder_of(const char *rel, char *out, size_t len)
{
    const char *slash = strrchr(rel, '/');
    size_t n = slash ? (size_t)(slash - rel) : 0;

    snprintf(out, len, "%.*s", (int)n, rel);
}

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* NULL when file (in folder) may include "inc", else why not */
static const char *include_breaks(const char *folder, const char *inc)
{
    char own[64];

    if (starts(inc, "portmap/"))
        return NULL; /* the public header's types, for everyone */
    if (starts(folder, "sys"))
        return starts(inc, "sys/") ? NULL : "sys/ includes only sys/";
    if (!strcmp(folder, "proto"))
        return starts(inc, "sys/") || !strcmp(inc, "proto/backend.h")
                   ? NULL
                   : "proto/backend.{c,h} include only sys/";
    if (starts(folder, "proto/")) {
        snprintf(own, sizeof(own), "%s/", folder);
        return starts(inc, "sys/") || starts(inc, own) || !strcmp(inc, "proto/backend.h")
                   ? NULL
                   : "a backend includes only proto/backend.h, its own folder and sys/";
    }
    if (starts(folder, "core"))
        return starts(inc, "proto/") && strcmp(inc, "proto/backend.h") != 0
                   ? "core/ reaches a backend only through proto/backend.h"
                   : NULL;
    return "a file outside sys/, proto/ and core/";
}

/* What a backend must not touch of the client (proto/backend.h splits
 * the struct: the engine's own part, and the network state that only
 * core/net.c writes). NULL when line is fine. */
static const char *field_breaks(const char *folder, const char *line)
{
    static const char *const engine_own[] = {
        "->lock", "->cond", "->thread", "->wake_fd", "->nl_fd", "->stopping", "->closed",
        "->waiters", "->gateway_override", "->state_dir", "->route_dirty", "->fams_used",
        "->events", "->n_events", "->jops", "->n_jops", "->journal_busy", "->journal_warned",
        "->pfds",
    };
    static const char *const net_writes[] = {
        "->ext_addr =", "->ext_addr_at =", "->double_nat =", "->ext_pending =", "->avail[",
    };

    if (!starts(folder, "proto"))
        return NULL;
    for (size_t i = 0; i < sizeof(engine_own) / sizeof(engine_own[0]); i++) {
        const char *p = strstr(line, engine_own[i]);
        size_t n = strlen(engine_own[i]);
        if (p && !(p[n] == '_' || (p[n] >= 'a' && p[n] <= 'z')))
            return "a backend touches the engine's own part of the client";
    }
    for (size_t i = 0; i < sizeof(net_writes) / sizeof(net_writes[0]); i++) {
        const char *p = strstr(line, net_writes[i]);
        /* avail[] is read freely; written, it ends in "] =" */
        if (p && (i < 4 || (strstr(p, "] =") && !strstr(p, "] ==") && strstr(p, "] =") < strchr(p, ';'))))
            return "a backend writes the network state (core/net.c's, through pm_host)";
    }
    return NULL;
}

/* Every quoted #include of path that breaks a rule, counted and told. */
static int check_file(const char *path, const char *rel)
{
    char folder[64], line[512];
    FILE *f = fopen(path, "r");
    int bad = 0, n = 0;

    ck_assert_msg(f != NULL, "cannot read %s", path);
    folder_of(rel, folder, sizeof(folder));
    while (fgets(line, sizeof(line), f)) {
        char inc[256];
        const char *why;
        n++;
        if ((why = field_breaks(folder, line))) {
            fprintf(stderr, "%s:%d: %s", rel, n, line);
            fprintf(stderr, "    %s\n", why);
            bad++;
        }
        if (sscanf(line, " #include \"%255[^\"]\"", inc) != 1)
            continue;
        if ((why = include_breaks(folder, inc))) {
            fprintf(stderr, "%s:%d: #include \"%s\": %s\n", rel, n, inc, why);
            bad++;
        }
    }
    fclose(f);
    return bad;
}

/* Walk LIBDIR/sub recursively; *files counts the sources seen. */
static int check_dir(const char *sub, int *files)
{
    char path[1024];
    struct dirent *d;
    DIR *dir;
    int bad = 0;

    snprintf(path, sizeof(path), "%s/%s", LIBDIR, sub);
    dir = opendir(path);
    ck_assert_msg(dir != NULL, "cannot open %s", path);
    while ((d = readdir(dir))) {
        char rel[512];
        size_t len = strlen(d->d_name);
        if (d->d_name[0] == '.')
            continue;
        snprintf(rel, sizeof(rel), "%s/%s", sub, d->d_name);
        snprintf(path, sizeof(path), "%s/%s", LIBDIR, rel);
        if (d->d_type == DT_DIR) {
            bad += check_dir(rel, files);
        } else if (len > 2 && (!strcmp(d->d_name + len - 2, ".c") ||
                               !strcmp(d->d_name + len - 2, ".h"))) {
            (*files)++;
            bad += check_file(path, rel);
        }
    }
    closedir(dir);
    return bad;
}

START_TEST(includes_follow_the_layers)
{
    int files = 0, bad = 0;

    bad += check_dir("sys", &files);
    bad += check_dir("proto", &files);
    bad += check_dir("core", &files);
    ck_assert_int_ge(files, 40); /* the walk found the tree */
    ck_assert_msg(bad == 0, "%d includes break the layer rules (listed above)", bad);
}
END_TEST

/* A rule must be able to fail: the checker on known breaches. */
START_TEST(include_rules_catch_breaches)
{
    ck_assert_ptr_nonnull(include_breaks("sys", "core/core.h"));
    ck_assert_ptr_nonnull(include_breaks("sys", "proto/backend.h"));
    ck_assert_ptr_nonnull(include_breaks("proto/pcp", "core/core.h"));
    ck_assert_ptr_nonnull(include_breaks("proto/pcp", "proto/upnp/upnp.h"));
    ck_assert_ptr_nonnull(include_breaks("proto", "proto/pcp/pcp.h"));
    ck_assert_ptr_nonnull(include_breaks("core", "proto/upnp/upnp.h"));
    ck_assert_ptr_null(include_breaks("core", "proto/backend.h"));
    ck_assert_ptr_null(include_breaks("proto/pcp", "proto/pcp/pcp_wire.h"));
    ck_assert_ptr_null(include_breaks("proto/upnp", "sys/addr.h"));
    ck_assert_ptr_null(include_breaks("sys", "portmap/portmap.h"));
    ck_assert_ptr_nonnull(field_breaks("proto/upnp", "    pthread_cond_broadcast(&c->cond);"));
    ck_assert_ptr_nonnull(field_breaks("proto/natpmp", "    c->ext_addr = a;"));
    ck_assert_ptr_nonnull(field_breaks("proto/pcp", "    net->avail[PORTMAP_METHOD_PCP] = PM_AVAIL_NO;"));
    ck_assert_ptr_null(field_breaks("proto/pcp", "    if (net->avail[m] == PM_AVAIL_YES)"));
    ck_assert_ptr_null(field_breaks("proto/pcp", "    r.ext = pm_addr_from_v4(c->ext_addr);"));
    ck_assert_ptr_null(field_breaks("core", "    pthread_cond_broadcast(&c->cond);"));
}
END_TEST

/* ---- call rules, from the objects' symbols ---- */

/* The layer of an archive member, from its name: meson names the object
 * of core/net.c "core_net.c.o". */
typedef struct layer {
    const char *prefix;
    int rank;                 /* calls go to lower or equal ranks only */
    const char *group;        /* members of one group may call each other */
} layer;

/* core/core.h's order, lowest first; the API files last, in the order
 * they build on each other. */
static const layer layers[] = {
    { "sys_", 0, "sys" },
    { "proto_backend.c", 10, "backend" },
    { "proto_pcp_", 20, "pcp" },
    { "proto_natpmp_", 20, "natpmp" },
    { "proto_upnp_", 20, "upnp" },
    { "core_names.c", 30, "names" },
    { "core_journal.c", 31, "journal" },
    { "core_jqueue.c", 32, "jqueue" },
    { "core_mappings.c", 33, "mappings" },
    { "core_events.c", 34, "events" },
    { "core_netinfo.c", 35, "netinfo" },
    { "core_mapping.c", 36, "mapping" },
    { "core_service.c", 37, "service" },
    { "core_net.c", 38, "net" },
    { "core_orphans.c", 39, "orphans" },
    { "core_engine.c", 40, "engine" },
    { "core_client.c", 41, "client" },
    { "core_reader.c", 42, "reader" },
    { "core_discover.c", 43, "discover" },
    { "core_request.c", 44, "request" },
    { "core_release.c", 45, "release" },
    { "core_table.c", 46, "table" },
};

static const layer *layer_of(const char *member)
{
    for (size_t i = 0; i < sizeof(layers) / sizeof(layers[0]); i++)
        if (starts(member, layers[i].prefix))
            return &layers[i];
    return NULL;
}

/* Whether a member of layer from may refer to a symbol of layer to. The
 * backends are reached from core/ through proto/backend.c's table
 * (pm_backends_default) and helpers only; they reach core/ only through
 * pm_host's pointers, which leave no symbol. */
static int call_allowed(const layer *from, const layer *to)
{
    if (!strcmp(from->group, to->group))
        return 1;
    if (to->rank == 20)
        return !strcmp(from->group, "backend"); /* the table of backends */
    return to->rank < from->rank;
}

typedef struct sym {
    char name[128];
    char member[128];
} sym;

typedef struct syms {
    sym *v;
    size_t n, cap;
} syms;

static void push(syms *s, const char *name, const char *member)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = realloc(s->v, s->cap * sizeof(*s->v));
        ck_assert_ptr_nonnull(s->v);
    }
    snprintf(s->v[s->n].name, sizeof(s->v[s->n].name), "%s", name);
    snprintf(s->v[s->n].member, sizeof(s->v[s->n].member), "%s", member);
    s->n++;
}

/* "ARCHIVE:member.c.o:0000000000000000 T name" and "...:  U name" */
static void read_symbols(syms *defined, syms *used)
{
    char cmd[1200], line[1024];
    FILE *p;

    snprintf(cmd, sizeof(cmd), "nm -A '%s' 2>/dev/null", ARCHIVE);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    while (fgets(line, sizeof(line), p)) {
        char member[256], a[256], b[256], c[256];
        const char *rest = strstr(line, ".a:");
        int n;
        if (!rest)
            continue;
        rest += 3;
        n = sscanf(rest, "%255[^:]: %255s %255s %255s", member, a, b, c);
        if (n >= 3 && strrchr(member, '/')) /* a thin archive names the object's path */
            memmove(member, strrchr(member, '/') + 1, strlen(strrchr(member, '/')));
        if (n == 4 && strlen(b) == 1 && strchr("TDBRC", b[0]))
            push(defined, c, member); /* address, type, name */
        else if (n == 3 && !strcmp(a, "U"))
            push(used, b, member);
    }
    ck_assert_int_eq(pclose(p), 0);
}

static const char *defined_in(const syms *defined, const char *name)
{
    for (size_t i = 0; i < defined->n; i++)
        if (!strcmp(defined->v[i].name, name))
            return defined->v[i].member;
    return NULL;
}

/* The breaches among the references in used, told when tell. */
static int call_breaches(const syms *defined, const syms *used, int tell)
{
    int bad = 0;

    for (size_t i = 0; i < used->n; i++) {
        const char *where = defined_in(defined, used->v[i].name);
        const layer *from = layer_of(used->v[i].member), *to;
        if (!where)
            continue; /* libc, libnatpmp, miniupnpc */
        to = layer_of(where);
        ck_assert_msg(from && to, "an object outside the layers: %s or %s", used->v[i].member,
                      where);
        if (!call_allowed(from, to)) {
            if (tell)
                fprintf(stderr, "%s refers to %s of %s\n", used->v[i].member, used->v[i].name,
                    where);
            bad++;
        }
    }
    return bad;
}

START_TEST(calls_follow_the_layers)
{
    syms defined = { 0 }, used = { 0 };
    int bad;

    read_symbols(&defined, &used);
    ck_assert_msg(defined.n > 100 && used.n > 100, "nm found %zu definitions, %zu references",
                  defined.n, used.n);
    bad = call_breaches(&defined, &used, 1);
    free(defined.v);
    free(used.v);
    ck_assert_msg(bad == 0, "%d calls run against the layers (listed above)", bad);
}
END_TEST

START_TEST(call_rules_catch_breaches)
{
    syms defined = { 0 }, used = { 0 };

    /* made-up references of each kind that is forbidden */
    push(&defined, "pm_net_probe_done", "core_net.c.o");
    push(&defined, "pm_upnp_done", "proto_upnp_map.c.o");
    push(&defined, "pm_now_ms", "sys_clock.c.o");
    push(&defined, "pm_mapping_service", "core_service.c.o");
    push(&used, "pm_net_probe_done", "proto_pcp_pcp.c.o");      /* backend to core */
    push(&used, "pm_upnp_done", "proto_pcp_pcp.c.o");           /* backend to backend */
    push(&used, "pm_upnp_done", "core_table.c.o");              /* core past the vtable */
    push(&used, "pm_net_probe_done", "sys_route.c.o");          /* sys upwards */
    push(&used, "pm_mapping_service", "core_mapping.c.o");      /* core module upwards */
    push(&used, "pm_now_ms", "core_mapping.c.o");               /* allowed */
    ck_assert_int_eq(call_breaches(&defined, &used, 0), 5);
    free(defined.v);
    free(used.v);
}
END_TEST

static Suite *layers_suite(void)
{
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("layers");

    tcase_add_test(tc, includes_follow_the_layers);
    tcase_add_test(tc, include_rules_catch_breaches);
    tcase_add_test(tc, calls_follow_the_layers);
    tcase_add_test(tc, call_rules_catch_breaches);
    suite_add_tcase(s, tc);
    return s;
}

PM_CHECK_MAIN(layers_suite)
