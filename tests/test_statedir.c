/*
 * Suite: the state directory against another local user (core/journal.c,
 * issue 18). Without XDG_RUNTIME_DIR a user's journal is in
 * /tmp/portmap-<uid>, a name anyone can take first. The test runs as
 * root and plays both users in children that drop to unprivileged uids:
 * an attacker plants directories, symlinks and FIFOs, the victim uses
 * the journal API, which must refuse (PM_JOURNAL_UNSAFE) without
 * writing through what was planted and without hanging.
 *
 * The uids are made up from the runner's pid (no account is needed to
 * setuid to one), so that runs side by side use different directories.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "core/core.h"

/* a child's check: the parent reports the line */
#define EXPECT(cond)                                                        \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: in the child: %s\n", __FILE__, __LINE__, #cond); \
            _exit(1);                                                       \
        }                                                                   \
    } while (0)

/* Longest a journal call may take; the lock's own wait is 1 s. */
#define BOUND_S 2

static uid_t victim, attacker;
static mode_t child_umask; /* 0: the library's own modes are seen */
static char victim_dir[64], victim_file[64], attacker_dir[64], attacker_parent[80];

static void sh(const char *fmt, ...)
{
    char cmd[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

static void clean(void)
{
    sh("rm -rf -- '%s' '%s' '%s' '%s'", victim_dir, victim_file, attacker_dir, attacker_parent);
}

/* The names, from the runner's pid: the same for every test of a run
 * (each cleans them before and after), another run's differ. Run in the
 * runner, so that its teardown cleans up after a test that failed
 * (Check skips a failed test's checked teardown). */
static void names(void)
{
    uid_t base = 2000000000u + (uid_t)(getpid() % 1000000) * 2;

    victim = base;
    attacker = base + 1;
    snprintf(victim_dir, sizeof(victim_dir), "/tmp/portmap-%u", (unsigned)victim);
    snprintf(victim_file, sizeof(victim_file), "/tmp/pm-statedir-victim-%u", (unsigned)victim);
    snprintf(attacker_dir, sizeof(attacker_dir), "/tmp/pm-statedir-attacker-%u",
             (unsigned)attacker);
    snprintf(attacker_parent, sizeof(attacker_parent), "/tmp/pm-statedir-parent-%u",
             (unsigned)attacker);
}

static void setup(void)
{
    child_umask = 0;
    clean();
}

static void teardown(void)
{
    clean();
}

static int is_root(void)
{
    if (geteuid() == 0)
        return 1;
    fprintf(stderr, "test_statedir: not root, the users cannot be played: skipped\n");
    return 0;
}

/* The user uid's session: no runtime directory, the default state
 * directory unless state_dir, the umask child_umask. */
static void become(uid_t uid, const char *state_dir)
{
    EXPECT(setgroups(0, NULL) == 0);
    EXPECT(setgid(uid) == 0);
    EXPECT(setuid(uid) == 0);
    EXPECT(getuid() == uid && geteuid() == uid);
    unsetenv("XDG_RUNTIME_DIR");
    if (state_dir)
        setenv("PORTMAP_STATE_DIR", state_dir, 1);
    else
        unsetenv("PORTMAP_STATE_DIR");
    umask(child_umask);
    /* a hang is a failure (SIGALRM), not a stuck suite; Check's runner
     * has a handler of its own for it, inherited by fork */
    signal(SIGALRM, SIG_DFL);
    alarm(BOUND_S);
}

/* fn run as uid in a child (state_dir: its PORTMAP_STATE_DIR), which
 * must exit 0. */
static void as_user(uid_t uid, const char *state_dir, void (*fn)(void), const char *what)
{
    pid_t pid = fork();
    int status;

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        become(uid, state_dir);
        fn();
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(!WIFSIGNALED(status), "%s: killed by signal %d%s", what, WTERMSIG(status),
                  WTERMSIG(status) == SIGALRM ? " (it hung)" : "");
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: failed (see above)", what);
}

static pm_journal_entry entry(uint16_t port)
{
    pm_journal_entry e = { .method = PORTMAP_METHOD_PCP, .proto = PORTMAP_UDP,
                           .internal_port = port, .external_port = port, .pid = getpid() };

    EXPECT(pm_addr_parse("10.77.0.1", &e.gateway) == 0);
    EXPECT(pm_addr_parse("10.77.0.2", &e.local) == 0);
    for (int i = 0; i < PM_JOURNAL_NONCE_LEN; i++)
        e.nonce[i] = (uint8_t)(port + i);
    return e;
}

/* The entries of a directory, . and .. aside; -1 when it cannot be read */
static int entries_in(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    int n = 0;

    if (!d)
        return -1;
    while ((de = readdir(d)))
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    return n;
}

static double elapsed_s(const struct timespec *since)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - since->tv_sec) + (now.tv_nsec - since->tv_nsec) / 1e9;
}

/* The victim's calls on its default directory are all refused, each as
 * unsafe and with a reason, none hangs. */
static void victim_refused(void)
{
    pm_journal_entry e = entry(27015), out;
    char *dir = pm_journal_default_dir();
    struct timespec t0;

    EXPECT(dir && !strcmp(dir, victim_dir));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    EXPECT(pm_journal_put(dir, &e) == PM_JOURNAL_UNSAFE);
    EXPECT(pm_journal_refusal() != NULL);
    EXPECT(strstr(pm_journal_refusal(), victim_dir) != NULL);
    EXPECT(pm_journal_find(dir, PORTMAP_UDP, 27015, &e.local, &out) == PM_JOURNAL_UNSAFE);
    EXPECT(pm_journal_remove(dir, PORTMAP_UDP, 27015, &e.local) == PM_JOURNAL_UNSAFE);
    EXPECT(pm_journal_has_local(dir, &e.local) == 0);
    EXPECT(pm_journal_refusal() != NULL);
    EXPECT(pm_journal_claim_orphans(dir, &e.gateway, &e.local, PORTMAP_HAVE(PORTMAP_METHOD_PCP),
                                    getpid(), &out, 1) == 0);
    EXPECT(pm_journal_refusal() != NULL);
    EXPECT(elapsed_s(&t0) < BOUND_S);
    free(dir);
}

/* The victim's journal: a put and a find that work. */
static void victim_puts(void)
{
    pm_journal_entry e = entry(27015), out;
    char *dir = pm_journal_default_dir();

    EXPECT(dir && !strcmp(dir, victim_dir));
    EXPECT(pm_journal_put(dir, &e) == 0);
    EXPECT(pm_journal_refusal() == NULL);
    EXPECT(pm_journal_find(dir, PORTMAP_UDP, 27015, &e.local, &out) == 0);
    EXPECT(out.external_port == 27015 && !memcmp(out.nonce, e.nonce, sizeof(e.nonce)));
    free(dir);
}

/* ---- (a) a directory planted under the victim's name ---- */

static void attacker_plants_open_dir(void)
{
    EXPECT(mkdir(victim_dir, 0777) == 0);
    EXPECT(chmod(victim_dir, 0777) == 0);
}

START_TEST(planted_directory_is_refused)
{
    struct stat st;

    if (!is_root())
        return;
    as_user(attacker, NULL, attacker_plants_open_dir, "the attacker's mkdir");
    ck_assert_int_eq(lstat(victim_dir, &st), 0);
    ck_assert_uint_eq(st.st_uid, attacker);
    as_user(victim, NULL, victim_refused, "the victim in the attacker's directory");
    ck_assert_msg(entries_in(victim_dir) == 0, "the victim wrote into %s", victim_dir);
}
END_TEST

static void attacker_plants_closed_dir(void)
{
    EXPECT(mkdir(victim_dir, 0700) == 0);
}

/* One the victim cannot even enter: refused as unsafe, not a mere error */
START_TEST(planted_closed_directory_is_refused)
{
    if (!is_root())
        return;
    as_user(attacker, NULL, attacker_plants_closed_dir, "the attacker's mkdir");
    as_user(victim, NULL, victim_refused, "the victim before the attacker's directory");
    ck_assert_int_eq(entries_in(victim_dir), 0);
}
END_TEST

static void victim_makes_open_dir(void)
{
    EXPECT(mkdir(victim_dir, 0777) == 0);
}

/* The victim's own, but others may write in it (and may have already) */
START_TEST(own_directory_open_to_others_is_refused)
{
    if (!is_root())
        return;
    as_user(victim, NULL, victim_makes_open_dir, "the victim's mkdir");
    as_user(victim, NULL, victim_refused, "the victim in its open directory");
    ck_assert_int_eq(entries_in(victim_dir), 0);
}
END_TEST

/* ---- (b) a symlink planted under the victim's name ---- */

static void attacker_plants_symlink(void)
{
    EXPECT(mkdir(attacker_dir, 0777) == 0);
    EXPECT(chmod(attacker_dir, 0777) == 0);
    EXPECT(symlink(attacker_dir, victim_dir) == 0);
}

START_TEST(planted_symlink_is_refused)
{
    struct stat st;

    if (!is_root())
        return;
    as_user(attacker, NULL, attacker_plants_symlink, "the attacker's symlink");
    ck_assert_int_eq(lstat(victim_dir, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    as_user(victim, NULL, victim_refused, "the victim through the attacker's symlink");
    ck_assert_msg(entries_in(attacker_dir) == 0, "the victim wrote into %s", attacker_dir);
}
END_TEST

/* PORTMAP_STATE_DIR names a directory in one the attacker can write (no
 * sticky bit there, unlike /tmp: the kernel's protected_symlinks does not
 * help): the attacker swaps in a symlink to its own. */
static char given_dir[128];

static void attacker_plants_given(void)
{
    char target[160];

    snprintf(target, sizeof(target), "%s/target", attacker_parent);
    EXPECT(mkdir(attacker_parent, 0777) == 0 && chmod(attacker_parent, 0777) == 0);
    EXPECT(mkdir(target, 0777) == 0 && chmod(target, 0777) == 0);
    EXPECT(symlink(target, given_dir) == 0);
}

static void victim_refused_given(void)
{
    pm_journal_entry e = entry(27015), out;
    char *dir = pm_journal_default_dir();

    EXPECT(dir && !strcmp(dir, given_dir));
    EXPECT(pm_journal_put(dir, &e) == PM_JOURNAL_UNSAFE);
    EXPECT(pm_journal_find(dir, PORTMAP_UDP, 27015, &e.local, &out) == PM_JOURNAL_UNSAFE);
    free(dir);
}

START_TEST(symlink_as_given_directory_is_refused)
{
    char target[160];

    if (!is_root())
        return;
    snprintf(given_dir, sizeof(given_dir), "%s/state", attacker_parent);
    snprintf(target, sizeof(target), "%s/target", attacker_parent);
    as_user(attacker, NULL, attacker_plants_given, "the attacker's symlink");
    as_user(victim, given_dir, victim_refused_given, "the victim's PORTMAP_STATE_DIR");
    ck_assert_msg(entries_in(target) == 0, "the victim wrote into %s", target);
}
END_TEST

/* ---- (c) journal.tmp a symlink to a file of the victim's ---- */

static void victim_plants_tmp_symlink(void)
{
    char tmp[128];
    FILE *f = fopen(victim_file, "w");

    EXPECT(f && fputs("precious\n", f) >= 0 && fclose(f) == 0);
    snprintf(tmp, sizeof(tmp), "%s/journal.tmp", victim_dir);
    EXPECT(symlink(victim_file, tmp) == 0);
}

START_TEST(temporary_file_symlink_is_not_followed)
{
    char buf[64] = "", path[128];
    struct stat st;
    FILE *f;

    if (!is_root())
        return;
    as_user(victim, NULL, victim_puts, "the victim's first put");
    as_user(victim, NULL, victim_plants_tmp_symlink, "the victim's symlink");
    as_user(victim, NULL, victim_puts, "the victim's put past the symlink");
    f = fopen(victim_file, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
    fclose(f);
    ck_assert_str_eq(buf, "precious\n");
    /* the journal is a file of its own, not the symlink renamed */
    snprintf(path, sizeof(path), "%s/journal", victim_dir);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_uint_eq(st.st_uid, victim);
}
END_TEST

/* ---- (d) a FIFO in place of the journal or its lock ---- */

static const char *fifo_name;

static void victim_plants_fifo(void)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/journal", victim_dir);
    EXPECT(unlink(path) == 0);
    snprintf(path, sizeof(path), "%s/%s", victim_dir, fifo_name);
    unlink(path);
    EXPECT(mkfifo(path, 0600) == 0);
}

START_TEST(fifo_does_not_hang)
{
    static const char *const names[] = { "journal", "journal.lock" };

    if (!is_root())
        return;
    fifo_name = names[_i];
    as_user(victim, NULL, victim_puts, "the victim's first put");
    as_user(victim, NULL, victim_plants_fifo, "the victim's FIFO");
    as_user(victim, NULL, victim_refused, "the victim's calls on a FIFO");
}
END_TEST

/* ---- (e) the victim's own directory ---- */

/* 0700 and 0600 whatever the umask: a usual one, and one that would
 * lock the owner out of what it made */
START_TEST(happy_path_makes_0700_and_0600)
{
    static const mode_t umasks[] = { 022, 0277 };
    char path[128];
    struct stat st;

    if (!is_root())
        return;
    child_umask = umasks[_i];
    as_user(victim, NULL, victim_puts, "the victim's put");
    ck_assert_int_eq(lstat(victim_dir, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_uint_eq(st.st_uid, victim);
    ck_assert_uint_eq(st.st_mode & 07777, 0700);
    snprintf(path, sizeof(path), "%s/journal", victim_dir);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_uint_eq(st.st_uid, victim);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    /* and again, in the directory made the first time */
    as_user(victim, NULL, victim_puts, "the victim's second put");
}
END_TEST

/* ---- a client on a refused directory: one warning, no journal ---- */

static int n_warnings;
static char last_warning[512];

static void count_warnings(void *user, portmap_log_level level, const char *msg)
{
    (void)user;
    if (level <= PORTMAP_LOG_WARNING) {
        n_warnings++;
        snprintf(last_warning, sizeof(last_warning), "%s", msg);
    }
}

START_TEST(client_warns_once_and_goes_on)
{
    portmap_settings set;
    portmap_client *c;
    pm_journal_entry e = entry(27015);

    if (!is_root())
        return;
    /* root's own state directory must be root's: this one is the victim's */
    ck_assert_int_eq(mkdir(victim_dir, 0700), 0);
    ck_assert_int_eq(chown(victim_dir, victim, victim), 0);
    portmap_default_settings(&set);
    set.state_dir = victim_dir;
    set.log_callback = count_warnings;
    set.log_level = PORTMAP_LOG_DEBUG;
    ck_assert_int_eq(pm_client_new(&c, &set, NULL, 1), PORTMAP_OK);
    pm_jq_put(c, &e, 0);
    e.internal_port = 27016;
    pm_jq_put(c, &e, 0);
    pm_jq_remove(c, PORTMAP_UDP, 27015, &e.local);
    pm_jq_run(c, 0);
    ck_assert_uint_eq(c->jops_done, 3);
    ck_assert_int_eq(n_warnings, 1);
    ck_assert_msg(strstr(last_warning, victim_dir) && strstr(last_warning, "another user"),
                  "the warning: %s", last_warning);
    ck_assert_int_eq(pm_journal_has_local(c->state_dir, &e.local), 0);
    pm_jq_check_refusal(c);
    ck_assert_int_eq(n_warnings, 1);
    pm_client_free(c);
    ck_assert_int_eq(entries_in(victim_dir), 0);
}
END_TEST

static Suite *statedir_suite(void)
{
    Suite *s = suite_create("statedir");
    TCase *tc = tcase_create("statedir");

    tcase_add_unchecked_fixture(tc, names, clean);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, planted_directory_is_refused);
    tcase_add_test(tc, planted_closed_directory_is_refused);
    tcase_add_test(tc, own_directory_open_to_others_is_refused);
    tcase_add_test(tc, planted_symlink_is_refused);
    tcase_add_test(tc, symlink_as_given_directory_is_refused);
    tcase_add_test(tc, temporary_file_symlink_is_not_followed);
    tcase_add_loop_test(tc, fifo_does_not_hang, 0, 2);
    tcase_add_loop_test(tc, happy_path_makes_0700_and_0600, 0, 2);
    tcase_add_test(tc, client_warns_once_and_goes_on);
    suite_add_tcase(s, tc);
    return s;
}

PM_CHECK_MAIN(statedir_suite)
