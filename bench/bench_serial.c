/*
 * bench_serial.c - the workloads as plain loops on one thread: the baseline
 * that speedups are taken against. --threads is ignored (reported as 1).
 */
#include "bench.h"

/* The W2 (b) function-pointer body: a volatile pointer, so every item makes
 * an indirect call, as pool_map does. */
static int (*volatile calc_ptr)(void *, const void *, void *) = bench_calc_cb;

static int run_w1(bench_data *d)
{
    for (size_t c = 0; c < d->calls; c++) {
        d->call = c;
        for (size_t i = 0; i < d->n; i++)
            bench_w1_item(d, i);
    }
    return 0;
}

static int run_map_inline(bench_data *d)
{
    bench_map_range(d, 0, d->n);
    return 0;
}

static int run_map_fnptr(bench_data *d)
{
    const double *in = d->in;
    bench_triple *t = d->tuples;
    for (size_t i = 0; i < d->n; i++)
        calc_ptr(NULL, &in[i], &t[i]);
    return 0;
}

static int run_unzip(bench_data *d)
{
    bench_unzip_range(d, 0, d->n);
    return 0;
}

static int run_memcpy(bench_data *d)
{
    bench_copy_range(d, 0, d->n);
    return 0;
}

static int run_map_unzip(bench_data *d)
{
    for (size_t i = 0; i < d->n; i++)
        bench_fused_item(d, i, calc_ptr);
    return 0;
}

static int run_w3(bench_data *d)
{
    for (size_t i = 0; i < d->n; i++)
        bench_uniform_item(d, i);
    return 0;
}

static int run_tri(bench_data *d)
{
    for (size_t i = 0; i < d->n; i++)
        bench_tri_item(d, i);
    return 0;
}

static int run_mandel(bench_data *d)
{
    for (size_t r = 0; r < d->height; r++)
        bench_mandel_row(d, r);
    return 0;
}

static int run_w5(bench_data *d)
{
    for (size_t c = 0; c < d->calls; c++) {
        d->call = c;
        for (size_t i = 0; i < d->n; i++)
            bench_small_item(d, i);
    }
    return 0;
}

static int run_w6(bench_data *d)
{
    for (size_t c = 0; c < d->calls; c++) {
        d->call = c;
        for (size_t o = 0; o < d->outer; o++)
            for (size_t i = 0; i < d->n; i++)
                bench_nested_item(d, o, i);
    }
    return 0;
}

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

    bench_parse(argc, argv, "serial", &args);
    args.threads = 1;
    return bench_run(&args, variants, sizeof variants / sizeof variants[0]);
}
