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
    for (size_t c = 0; c < d->calls; c++)
        for (size_t i = 0; i < d->n; i++)
            bench_w1_item(d, i);
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
    for (size_t c = 0; c < d->calls; c++)
        for (size_t i = 0; i < d->n; i++)
            bench_small_item(d, i);
    return 0;
}

static int run_w6(bench_data *d)
{
    for (size_t c = 0; c < d->calls; c++)
        for (size_t o = 0; o < d->outer; o++)
            for (size_t i = 0; i < d->n; i++)
                bench_nested_item(d, o, i);
    return 0;
}

static int w1(bench_data *d)
{
    return bench_case(d, "empty", BENCH_OUT_SLOTS, run_w1);
}

static int w2(bench_data *d)
{
    return bench_case(d, "map_inline", BENCH_OUT_TUPLES, run_map_inline) ||
           bench_case(d, "map_fnptr", BENCH_OUT_TUPLES, run_map_fnptr) ||
           bench_case(d, "unzip", BENCH_OUT_COLUMNS, run_unzip) ||
           bench_case(d, "memcpy", BENCH_OUT_BYTES, run_memcpy) ||
           bench_case(d, "map_unzip", BENCH_OUT_COLUMNS, run_map_unzip);
}

static int w3(bench_data *d)
{
    return bench_case(d, "uniform", BENCH_OUT_VALUES, run_w3);
}

static int w4(bench_data *d)
{
    return bench_case(d, "tri", BENCH_OUT_VALUES, run_tri) ||
           bench_case(d, "mandel", BENCH_OUT_IMAGE, run_mandel);
}

static int w5(bench_data *d)
{
    return bench_case(d, "small", BENCH_OUT_VALUES, run_w5);
}

static int w6(bench_data *d)
{
    return bench_case(d, "nested", BENCH_OUT_VALUES, run_w6);
}

static int idle(bench_data *d)
{
    return bench_case(d, "sleep", BENCH_OUT_VALUES, run_w3);
}

int main(int argc, char **argv)
{
    static const bench_workload_fn table[BENCH_NWORKLOADS] = { w1, w2, w3, w4, w5, w6, idle };
    bench_args args;

    bench_parse(argc, argv, "serial", &args);
    args.threads = 1;
    return bench_run(&args, table);
}
