/*
 * A stand-in for libFuzzer's main: runs one target over the files and
 * directories named on the command line, once each. With it the targets
 * build with any compiler and the corpus (crashers included) is replayed
 * by the ordinary test suite.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* libFuzzer options (-runs=0 ...) may be passed by habit; they mean
 * nothing here. */
static int is_option(const char *arg)
{
    return arg[0] == '-';
}

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long len;

    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "%s: cannot size the file\n", path);
        fclose(f);
        return -1;
    }
    /* Exactly len bytes (at least one for malloc): a sanitizer build then
     * catches a read past the input like libFuzzer would. */
    buf = malloc(len ? (size_t)len : 1);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "%s: read failed\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)len);
    free(buf);
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file under path; returns how many, -1 on error. */
static long run_path(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    long total = 0;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path) == 0 ? 1 : -1;
    d = opendir(path);
    if (!d) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **p = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*p));
            if (!p)
                abort();
            names = p;
        }
        if (asprintf(&names[n], "%s/%s", path, e->d_name) < 0)
            abort();
        n++;
    }
    closedir(d);
    /* A fixed order, so a failure reproduces the same way every run. */
    qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n; i++) {
        long r = total >= 0 ? run_path(names[i]) : 0;
        total = r < 0 ? -1 : total + r;
        free(names[i]);
    }
    free(names);
    return total;
}

int main(int argc, char **argv)
{
    long total = 0;

    for (int i = 1; i < argc; i++) {
        long r;
        if (is_option(argv[i]))
            continue;
        r = run_path(argv[i]);
        if (r < 0)
            return EXIT_FAILURE;
        total += r;
    }
    printf("%s: %ld inputs run\n", argv[0], total);
    /* An empty corpus would make the test pass without testing anything. */
    return total > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
