/*
 * checksum.c - checksum many files in parallel, and report the first
 * failure the way a serial loop would.
 *
 * Usage: checksum FILE...
 *
 * Prints "sum  bytes  path" for each file, in command-line order, where sum
 * is the 64-bit FNV-1a hash of the contents in hex. If a file cannot be read
 * the callback returns its errno; pool_map_ex() then returns the error of
 * the LOWEST-INDEXED failing file and stores that index in
 * opts.failed_index, whatever the thread count or timing. Every file before
 * it has been checksummed, so those lines are printed, then
 * "cannot read PATH: REASON", and the program exits 1. No arguments: usage
 * and exit 2.
 */
#include <poolmap.h>

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One output element per input path. */
typedef struct file_sum {
    uint64_t sum;   /* FNV-1a 64 of the contents */
    uint64_t bytes; /* file size in bytes */
    int err;        /* 0, or the errno that stopped the read */
} file_sum;

#define FNV64_OFFSET_BASIS UINT64_C(0xcbf29ce484222325)
#define FNV64_PRIME UINT64_C(0x100000001b3)

static uint64_t fnv1a64(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV64_PRIME;
    }
    return h;
}

/* The errno of the call that just failed; EIO if the C library left none. */
static int last_error(void)
{
    return errno != 0 ? errno : EIO;
}

/*
 * pool_map callback: `in` points to one const char * path, `out` to its
 * file_sum. Each call opens and reads its own file, so calls on different
 * threads share nothing. Returns 0, or the errno as the item's status.
 */
static int checksum_file(void *ctx, const void *in, void *out)
{
    const char *path = *(const char *const *)in;
    file_sum *r = out;
    /* Modest, since it lives on a pool thread's stack. */
    unsigned char buf[16384];
    size_t n;
    FILE *f;

    (void)ctx;
    r->sum = FNV64_OFFSET_BASIS;
    r->bytes = 0;
    r->err = 0;

    errno = 0; /* errno is per thread, so this is safe on any pool thread */
    f = fopen(path, "rb");
    if (f == NULL) {
        r->err = last_error();
        return r->err;
    }
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        r->sum = fnv1a64(r->sum, buf, n);
        r->bytes += n;
    }
    if (ferror(f))
        r->err = last_error(); /* e.g. EISDIR for a directory */
    fclose(f);
    return r->err;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE...\n", argv[0]);
        return 2;
    }

    /* The input array is argv itself: n elements of type const char *. */
    const char *const *paths = (const char *const *)(argv + 1);
    size_t n = (size_t)argc - 1;

    file_sum *sums = calloc(n, sizeof *sums);
    if (sums == NULL) {
        fprintf(stderr, "checksum: out of memory\n");
        return 1;
    }

    pool_t *pool = pool_create(0);
    if (pool == NULL) {
        perror("pool_create");
        free(sums);
        return 1;
    }

    /* pool_map with options, to learn WHICH item failed, not only how. */
    pool_opts opts = POOL_OPTS_INIT;
    int rc = pool_map_ex(pool, checksum_file, NULL, paths, sizeof *paths,
                         sums, sizeof *sums, n, &opts);
    pool_destroy(pool);

    /* On failure opts.failed_index is the first failing file; on success
     * POOL_NO_INDEX (SIZE_MAX). Items below it all ran, so print them. */
    size_t done = rc == 0 ? n : opts.failed_index;
    if (rc != 0 && done >= n) {
        /* An argument error: no callback ran, so no file is to blame. */
        fprintf(stderr, "pool_map_ex: %s\n", strerror(rc));
        free(sums);
        return 1;
    }
    for (size_t i = 0; i < done; i++)
        printf("%016" PRIx64 "  %" PRIu64 "  %s\n", sums[i].sum, sums[i].bytes, paths[i]);

    if (rc != 0) {
        /* rc is the failing item's own status, also kept in its err field.
         * Flush first so the good lines come out before the error. */
        fflush(stdout);
        fprintf(stderr, "cannot read %s: %s\n", paths[done], strerror(rc));
        free(sums);
        return 1;
    }
    free(sums);
    return 0;
}
