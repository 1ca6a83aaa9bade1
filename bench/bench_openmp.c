/*
 * bench_openmp.c - the workloads as OpenMP loops (gcc -fopenmp), every
 * region with num_threads(--threads) and dynamic adjustment off. Nesting
 * (W6) is left as the runtime has it by default.
 */
#include "bench.h"

#include <omp.h>
#include <stdio.h>

static int nthreads;

/* The W2 (b) function-pointer body: a volatile pointer, so every item makes
 * an indirect call, as pool_map does. */
static int (*volatile calc_ptr)(void *, const void *, void *) = bench_calc_cb;

static int run_w1(bench_data *d)
{
    for (size_t c = 0; c < d->calls; c++) {
        d->call = c;
#pragma omp parallel for num_threads(nthreads) schedule(static)
        for (size_t i = 0; i < d->n; i++)
            bench_w1_item(d, i);
    }
    return 0;
}

static int run_map_inline(bench_data *d)
{
    const double *in = d->in;
    bench_triple *t = d->tuples;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (size_t i = 0; i < d->n; i++)
        bench_calc(&in[i], &t[i]);
    return 0;
}

static int run_map_fnptr(bench_data *d)
{
    const double *in = d->in;
    bench_triple *t = d->tuples;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (size_t i = 0; i < d->n; i++)
        calc_ptr(NULL, &in[i], &t[i]);
    return 0;
}

static int run_unzip(bench_data *d)
{
    const bench_triple *t = d->tuples;
    double *ca = d->cols, *cb = d->cols + d->n, *cc = d->cols + 2 * d->n;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (size_t i = 0; i < d->n; i++)
        bench_unzip_item(t, ca, cb, cc, i);
    return 0;
}

static int run_memcpy(bench_data *d)
{
#pragma omp parallel num_threads(nthreads)
    bench_copy_piece(d, (size_t)omp_get_thread_num(), (size_t)omp_get_num_threads());
    return 0;
}

static int run_map_unzip(bench_data *d)
{
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (size_t i = 0; i < d->n; i++)
        bench_fused_item(d, i, calc_ptr);
    return 0;
}

static int run_w3(bench_data *d)
{
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (size_t i = 0; i < d->n; i++)
        bench_uniform_item(d, i);
    return 0;
}

static int run_tri_static(bench_data *d)
{
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (size_t i = 0; i < d->n; i++)
        bench_tri_item(d, i);
    return 0;
}

static int run_tri_dynamic(bench_data *d)
{
#pragma omp parallel for num_threads(nthreads) schedule(dynamic)
    for (size_t i = 0; i < d->n; i++)
        bench_tri_item(d, i);
    return 0;
}

static int run_tri_guided(bench_data *d)
{
#pragma omp parallel for num_threads(nthreads) schedule(guided)
    for (size_t i = 0; i < d->n; i++)
        bench_tri_item(d, i);
    return 0;
}

static int run_mandel_static(bench_data *d)
{
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (size_t r = 0; r < d->height; r++)
        bench_mandel_row(d, r);
    return 0;
}

static int run_mandel_dynamic(bench_data *d)
{
#pragma omp parallel for num_threads(nthreads) schedule(dynamic)
    for (size_t r = 0; r < d->height; r++)
        bench_mandel_row(d, r);
    return 0;
}

static int run_mandel_guided(bench_data *d)
{
#pragma omp parallel for num_threads(nthreads) schedule(guided)
    for (size_t r = 0; r < d->height; r++)
        bench_mandel_row(d, r);
    return 0;
}

static int run_w5(bench_data *d)
{
    for (size_t c = 0; c < d->calls; c++) {
        d->call = c;
#pragma omp parallel for num_threads(nthreads) schedule(static)
        for (size_t i = 0; i < d->n; i++)
            bench_small_item(d, i);
    }
    return 0;
}

static int run_w6(bench_data *d)
{
    for (size_t c = 0; c < d->calls; c++) {
        d->call = c;
#pragma omp parallel for num_threads(nthreads) schedule(static)
        for (size_t o = 0; o < d->outer; o++) {
#pragma omp parallel for num_threads(nthreads) schedule(static)
            for (size_t i = 0; i < d->n; i++)
                bench_nested_item(d, o, i);
        }
    }
    return 0;
}

static const bench_variant variants[] = {
    { BENCH_W1,   "empty",          BENCH_OUT_SLOTS,   run_w1 },
    { BENCH_W2,   "map_inline",     BENCH_OUT_TUPLES,  run_map_inline },
    { BENCH_W2,   "map_fnptr",      BENCH_OUT_TUPLES,  run_map_fnptr },
    { BENCH_W2,   "unzip",          BENCH_OUT_COLUMNS, run_unzip },
    { BENCH_W2,   "memcpy",         BENCH_OUT_BYTES,   run_memcpy },
    { BENCH_W2,   "map_unzip",      BENCH_OUT_COLUMNS, run_map_unzip },
    { BENCH_W3,   "uniform",        BENCH_OUT_VALUES,  run_w3 },
    { BENCH_W4,   "tri-static",     BENCH_OUT_VALUES,  run_tri_static },
    { BENCH_W4,   "tri-dynamic",    BENCH_OUT_VALUES,  run_tri_dynamic },
    { BENCH_W4,   "tri-guided",     BENCH_OUT_VALUES,  run_tri_guided },
    { BENCH_W4,   "mandel-static",  BENCH_OUT_IMAGE,   run_mandel_static },
    { BENCH_W4,   "mandel-dynamic", BENCH_OUT_IMAGE,   run_mandel_dynamic },
    { BENCH_W4,   "mandel-guided",  BENCH_OUT_IMAGE,   run_mandel_guided },
    { BENCH_W5,   "small",          BENCH_OUT_VALUES,  run_w5 },
    { BENCH_W6,   "nested",         BENCH_OUT_VALUES,  run_w6 },
    /* A parallel region first (run_w3 over 64 items per thread), then the sleep. */
    { BENCH_IDLE, "sleep",          BENCH_OUT_VALUES,  run_w3 },
};

int main(int argc, char **argv)
{
    bench_args args;

    bench_parse(argc, argv, "openmp", &args);
    nthreads = (int)args.threads;
    omp_set_dynamic(0);
    return bench_run(&args, variants, sizeof variants / sizeof variants[0]);
}
