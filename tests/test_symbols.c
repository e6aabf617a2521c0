/*
 * Suite: exported symbols. Every symbol the shared library exports must be
 * a public portmap_ function listed in libportmap.sym and declared in the
 * public header; nothing internal may leak.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"

static int file_contains_word(const char *path, const char *word)
{
    char line[512];
    size_t n = strlen(word);
    FILE *f = fopen(path, "r");
    int found = 0;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    while (!found && fgets(line, sizeof(line), f)) {
        for (char *p = strstr(line, word); p; p = strstr(p + 1, word)) {
            char after = p[n];
            char before = p == line ? ' ' : p[-1];
            if ((after == ';' || after == '(' || after == ' ' || after == '\n') &&
                (before == ' ' || before == '*' || before == '\t')) {
                found = 1;
                break;
            }
        }
    }
    fclose(f);
    return found;
}

START_TEST(only_public_symbols_are_exported)
{
    char cmd[1024], line[512];
    int count = 0;
    FILE *p;

    snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s'", LIBPORTMAP_SO);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    while (fgets(line, sizeof(line), p)) {
        char addr[64], type[8], name[256];
        char *at;
        if (sscanf(line, "%63s %7s %255s", addr, type, name) != 3)
            continue;
        if (type[0] == 'A') /* the version node itself */
            continue;
        at = strchr(name, '@');
        if (at)
            *at = '\0';
        ck_assert_msg(strncmp(name, "portmap_", 8) == 0, "leaked symbol: %s", name);
        ck_assert_msg(file_contains_word(SYMFILE, name), "%s not in libportmap.sym", name);
        ck_assert_msg(file_contains_word(PUBLIC_HEADER, name), "%s not in portmap.h", name);
        count++;
    }
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_int_ge(count, 15);
}
END_TEST

static Suite *symbols_suite(void)
{
    Suite *s = suite_create("symbols");
    TCase *tc = tcase_create("exports");
    tcase_add_test(tc, only_public_symbols_are_exported);
    suite_add_tcase(s, tc);
    return s;
}

PM_CHECK_MAIN(symbols_suite)
