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
#pragma omp parallel for num_threads(nthreads) schedule(static)
        for (size_t i = 0; i < d->n; i++)
            bench_small_item(d, i);
    }
    return 0;
}

static int run_w6(bench_data *d)
{
    for (size_t c = 0; c < d->calls; c++) {
#pragma omp parallel for num_threads(nthreads) schedule(static)
        for (size_t o = 0; o < d->outer; o++) {
#pragma omp parallel for num_threads(nthreads) schedule(static)
            for (size_t i = 0; i < d->n; i++)
                bench_nested_item(d, o, i);
        }
    }
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
    return bench_case(d, "tri-static", BENCH_OUT_VALUES, run_tri_static) ||
           bench_case(d, "tri-dynamic", BENCH_OUT_VALUES, run_tri_dynamic) ||
           bench_case(d, "tri-guided", BENCH_OUT_VALUES, run_tri_guided) ||
           bench_case(d, "mandel-static", BENCH_OUT_IMAGE, run_mandel_static) ||
           bench_case(d, "mandel-dynamic", BENCH_OUT_IMAGE, run_mandel_dynamic) ||
           bench_case(d, "mandel-guided", BENCH_OUT_IMAGE, run_mandel_guided);
}

static int w5(bench_data *d)
{
    return bench_case(d, "small", BENCH_OUT_VALUES, run_w5);
}

static int w6(bench_data *d)
{
    return bench_case(d, "nested", BENCH_OUT_VALUES, run_w6);
}

/* A parallel region first (run_w3 over --threads items), then the sleep. */
static int idle(bench_data *d)
{
    return bench_case(d, "sleep", BENCH_OUT_VALUES, run_w3);
}

int main(int argc, char **argv)
{
    static const bench_workload_fn table[BENCH_NWORKLOADS] = { w1, w2, w3, w4, w5, w6, idle };
    bench_args args;

    bench_parse(argc, argv, "openmp", &args);
    nthreads = (int)args.threads;
    omp_set_dynamic(0);
    return bench_run(&args, table);
}
