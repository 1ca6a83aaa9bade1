/*
 * bench_pthreadpool.c - the workloads on pthreadpool: one pool of --threads
 * threads (pthreadpool_create counts the caller, as poolmap does).
 *
 * W6 calls pthreadpool from inside one of its own tasks. pthreadpool
 * serializes compute calls on a pool with a mutex, so with 2 or more
 * threads that nested call never returns: this driver does it anyway and
 * bench/run.sh, which runs it under `timeout`, reports "hangs".
 */
#include "bench.h"

#include <pthreadpool.h>
#include <stdio.h>

static pthreadpool_t pool;

/* Items per tile of the W2 range loops: a few pages of each array, so
 * claims are rare and the inner loop runs long. */
#define TILE 4096

/* ---- tasks -------------------------------------------------------------- */

static void w1_task(void *ctx, size_t i)
{
    bench_w1_item(ctx, i);
}

static void map_tile(void *ctx, size_t start, size_t count)
{
    bench_map_range(ctx, start, start + count);
}

/* W2 (b): pthreadpool's task is itself the one indirect call per item. */
static void map_item(void *ctx, size_t i)
{
    bench_data *d = ctx;
    bench_calc(&d->in[i], &d->tuples[i]);
}

static void unzip_tile(void *ctx, size_t start, size_t count)
{
    bench_unzip_range(ctx, start, start + count);
}

static void copy_piece(void *ctx, size_t k)
{
    bench_data *d = ctx;
    bench_copy_piece(d, k, d->args->threads);
}

/* W2 (d): one indirect call (the task) per item, scattered into columns. */
static void fused_item(void *ctx, size_t i)
{
    bench_data *d = ctx;
    bench_triple t;
    bench_calc(&d->in[i], &t);
    d->cols[i] = t.a;
    d->cols[d->n + i] = t.b;
    d->cols[2 * d->n + i] = t.c;
}

static void uniform_task(void *ctx, size_t i)
{
    bench_uniform_item(ctx, i);
}

static void tri_task(void *ctx, size_t i)
{
    bench_tri_item(ctx, i);
}

static void mandel_task(void *ctx, size_t r)
{
    bench_mandel_row(ctx, r);
}

static void small_task(void *ctx, size_t i)
{
    bench_small_item(ctx, i);
}

typedef struct nested_ctx {
    bench_data *d;
    size_t o;
} nested_ctx;

static void nested_inner(void *ctx, size_t i)
{
    const nested_ctx *c = ctx;
    bench_nested_item(c->d, c->o, i);
}

static void nested_outer(void *ctx, size_t o)
{
    nested_ctx c = { ctx, o };
    pthreadpool_parallelize_1d(pool, nested_inner, &c, c.d->n, 0);
}

/* ---- runs --------------------------------------------------------------- */

static int run_w1(bench_data *d)
{
    for (size_t c = 0; c < d->calls; c++) {
        d->call = c;
        pthreadpool_parallelize_1d(pool, w1_task, d, d->n, 0);
    }
    return 0;
}

static int run_map_inline(bench_data *d)
{
    pthreadpool_parallelize_1d_tile_1d(pool, map_tile, d, d->n, TILE, 0);
    return 0;
}

static int run_map_fnptr(bench_data *d)
{
    pthreadpool_parallelize_1d(pool, map_item, d, d->n, 0);
    return 0;
}

static int run_unzip(bench_data *d)
{
    pthreadpool_parallelize_1d_tile_1d(pool, unzip_tile, d, d->n, TILE, 0);
    return 0;
}

static int run_memcpy(bench_data *d)
{
    pthreadpool_parallelize_1d(pool, copy_piece, d, d->args->threads, 0);
    return 0;
}

static int run_map_unzip(bench_data *d)
{
    pthreadpool_parallelize_1d(pool, fused_item, d, d->n, 0);
    return 0;
}

static int run_w3(bench_data *d)
{
    pthreadpool_parallelize_1d(pool, uniform_task, d, d->n, 0);
    return 0;
}

static int run_tri(bench_data *d)
{
    pthreadpool_parallelize_1d(pool, tri_task, d, d->n, 0);
    return 0;
}

static int run_mandel(bench_data *d)
{
    pthreadpool_parallelize_1d(pool, mandel_task, d, d->height, 0);
    return 0;
}

static int run_w5(bench_data *d)
{
    for (size_t c = 0; c < d->calls; c++) {
        d->call = c;
        pthreadpool_parallelize_1d(pool, small_task, d, d->n, 0);
    }
    return 0;
}

static int run_w6(bench_data *d)
{
    for (size_t c = 0; c < d->calls; c++) {
        d->call = c;
        pthreadpool_parallelize_1d(pool, nested_outer, d, d->outer, 0);
    }
    return 0;
}

/* ---- variants ----------------------------------------------------------- */

static const bench_variant variants[] = {
    { BENCH_W1,   "empty",      BENCH_OUT_SLOTS,   run_w1 },
    { BENCH_W2,   "map_inline", BENCH_OUT_TUPLES,  run_map_inline },
    { BENCH_W2,   "map_fnptr",  BENCH_OUT_TUPLES,  run_map_fnptr },
    { BENCH_W2,   "unzip",      BENCH_OUT_COLUMNS, run_unzip },
    { BENCH_W2,   "memcpy",     BENCH_OUT_BYTES,   run_memcpy },
    { BENCH_W2,   "map_unzip",  BENCH_OUT_COLUMNS, run_map_unzip },
    { BENCH_W3,   "uniform",    BENCH_OUT_VALUES,  run_w3 },
    { BENCH_W4,   "tri",        BENCH_OUT_VALUES,  run_tri },
    { BENCH_W4,   "mandel",     BENCH_OUT_IMAGE,   run_mandel },
    { BENCH_W5,   "small",      BENCH_OUT_VALUES,  run_w5 },
    { BENCH_W6,   "nested",     BENCH_OUT_VALUES,  run_w6 },
    /* A compute call first (run_w3 over 64 items per thread), then the sleep. */
    { BENCH_IDLE, "sleep",      BENCH_OUT_VALUES,  run_w3 },
};

int main(int argc, char **argv)
{
    bench_args args;

    bench_parse(argc, argv, "pthreadpool", &args);
    pool = pthreadpool_create(args.threads);
    if (pool == NULL) {
        fprintf(stderr, "bench_pthreadpool: pthreadpool_create(%zu) failed\n", args.threads);
        return 1;
    }
    int rc = bench_run(&args, variants, sizeof variants / sizeof variants[0]);
    pthreadpool_destroy(pool);
    return rc;
}
