/*
 * bench_poolmap.c - the workloads on poolmap: one pool of --threads threads,
 * created once, used by every call. See bench.h for the harness.
 */
#include "bench.h"

#include <poolmap.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

static pool_t *pool;

/* ---- item callbacks ----------------------------------------------------- */

static int w1_item(void *ctx, size_t i)
{
    bench_w1_item(ctx, i);
    return 0;
}

static int map_range(void *ctx, size_t b, size_t e)
{
    bench_map_range(ctx, b, e);
    return 0;
}

static int copy_range(void *ctx, size_t b, size_t e)
{
    bench_copy_range(ctx, b, e);
    return 0;
}

static int uniform_item(void *ctx, size_t i)
{
    bench_uniform_item(ctx, i);
    return 0;
}

static int tri_item(void *ctx, size_t i)
{
    bench_tri_item(ctx, i);
    return 0;
}

static int mandel_row(void *ctx, size_t r)
{
    bench_mandel_row(ctx, r);
    return 0;
}

/* W5: the items inline in the loop over a range, as OpenMP's and TBB's
 * drivers write them (as W6's inner loop; pthreadpool calls a function
 * per item). */
static int small_range(void *ctx, size_t b, size_t e)
{
    for (size_t i = b; i < e; i++)
        bench_small_item(ctx, i);
    return 0;
}

/* W6: the outer item index travels with the data in a small context. */
typedef struct nested_ctx {
    bench_data *d;
    size_t o;
} nested_ctx;

/* The inner map as OpenMP's and TBB's drivers write it: the item inline in
 * the loop over a range (W2 map_fnptr measures a callback per item). */
static int nested_inner(void *ctx, size_t b, size_t e)
{
    const nested_ctx *c = ctx;
    for (size_t i = b; i < e; i++)
        bench_nested_item(c->d, c->o, i);
    return 0;
}

static int nested_outer(void *ctx, size_t o)
{
    nested_ctx c = { ctx, o };
    bench_data *d = ctx;
    return pool_for_range(pool, d->n, nested_inner, &c);
}

/* ---- runs --------------------------------------------------------------- */

static int run_w1(bench_data *d)
{
    for (size_t c = 0; c < d->calls; c++) {
        d->call = c;
        int rc = pool_for(pool, d->n, w1_item, d);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int run_map_inline(bench_data *d)
{
    return pool_for_range(pool, d->n, map_range, d);
}

static int run_map_fnptr(bench_data *d)
{
    return pool_map(pool, bench_calc_cb, NULL, d->in, sizeof *d->in, d->tuples,
                    sizeof *d->tuples, d->n);
}

static int run_unzip(bench_data *d)
{
    pool_column cols[3] = {
        POOL_COLUMN(bench_triple, a, d->cols),
        POOL_COLUMN(bench_triple, b, d->cols + d->n),
        POOL_COLUMN(bench_triple, c, d->cols + 2 * d->n),
    };
    return pool_unzip(pool, d->tuples, sizeof *d->tuples, d->n, cols, 3);
}

static int run_memcpy(bench_data *d)
{
    return pool_for_range(pool, d->n, copy_range, d);
}

static int run_map_unzip(bench_data *d)
{
    pool_column cols[3] = {
        POOL_COLUMN(bench_triple, a, d->cols),
        POOL_COLUMN(bench_triple, b, d->cols + d->n),
        POOL_COLUMN(bench_triple, c, d->cols + 2 * d->n),
    };
    return pool_map_unzip(pool, bench_calc_cb, NULL, d->in, sizeof *d->in,
                          sizeof(bench_triple), d->n, cols, 3, NULL);
}

static int run_w3(bench_data *d)
{
    return pool_for(pool, d->n, uniform_item, d);
}

static int run_tri(bench_data *d)
{
    return pool_for(pool, d->n, tri_item, d);
}

static int run_mandel(bench_data *d)
{
    return pool_for(pool, d->height, mandel_row, d);
}

static int run_w5(bench_data *d)
{
    for (size_t c = 0; c < d->calls; c++) {
        d->call = c;
        int rc = pool_for_range(pool, d->n, small_range, d);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int run_w6(bench_data *d)
{
    for (size_t c = 0; c < d->calls; c++) {
        d->call = c;
        int rc = pool_for(pool, d->outer, nested_outer, d);
        if (rc != 0)
            return rc;
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
    { BENCH_IDLE, "sleep",      BENCH_OUT_VALUES,  run_w3 },
};

int main(int argc, char **argv)
{
    bench_args args;

    bench_parse(argc, argv, "poolmap", &args);
    pool = pool_create(args.threads);
    if (pool == NULL) {
        fprintf(stderr, "bench_poolmap: pool_create(%zu): %s\n", args.threads, strerror(errno));
        return 1;
    }
    int rc = bench_run(&args, variants, sizeof variants / sizeof variants[0]);
    pool_destroy(pool);
    return rc;
}
