/*
 * bench_tbb.cpp - the workloads on oneTBB: everything runs inside one
 * tbb::task_arena whose concurrency is --threads (the caller included), with
 * tbb::parallel_for and its default (auto) partitioner. A tbb::global_control
 * lifts TBB's cap on its workers to match: by default TBB allows the CPUs
 * the process may use minus one, whatever the arena asks (pinned to one CPU,
 * --threads 2 ran on 1 thread; --threads 4 on 2 CPUs ran 2 threads).
 */
#include "bench.h"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <cstdio>

namespace {

using range = tbb::blocked_range<size_t>;

/* The W2 (b) function-pointer body: a volatile pointer, so every item makes
 * an indirect call, as pool_map does. */
int (*volatile calc_ptr)(void *, const void *, void *) = bench_calc_cb;

int run_w1(bench_data *d)
{
    for (size_t c = 0; c < d->calls; c++) {
        d->call = c;
        tbb::parallel_for(size_t(0), d->n, [d](size_t i) { bench_w1_item(d, i); });
    }
    return 0;
}

int run_map_inline(bench_data *d)
{
    tbb::parallel_for(range(0, d->n), [d](const range &r) {
        bench_map_range(d, r.begin(), r.end());
    });
    return 0;
}

int run_map_fnptr(bench_data *d)
{
    const double *in = d->in;
    bench_triple *t = d->tuples;
    tbb::parallel_for(size_t(0), d->n, [in, t](size_t i) { calc_ptr(nullptr, &in[i], &t[i]); });
    return 0;
}

int run_unzip(bench_data *d)
{
    tbb::parallel_for(range(0, d->n), [d](const range &r) {
        bench_unzip_range(d, r.begin(), r.end());
    });
    return 0;
}

/* One piece per thread, as the other systems split the copy. */
int run_memcpy(bench_data *d)
{
    size_t pieces = d->args->threads;
    tbb::parallel_for(
        range(0, pieces, 1),
        [d, pieces](const range &r) {
            for (size_t k = r.begin(); k < r.end(); k++)
                bench_copy_piece(d, k, pieces);
        },
        tbb::simple_partitioner());
    return 0;
}

int run_map_unzip(bench_data *d)
{
    tbb::parallel_for(size_t(0), d->n, [d](size_t i) { bench_fused_item(d, i, calc_ptr); });
    return 0;
}

int run_w3(bench_data *d)
{
    tbb::parallel_for(size_t(0), d->n, [d](size_t i) { bench_uniform_item(d, i); });
    return 0;
}

int run_tri(bench_data *d)
{
    tbb::parallel_for(size_t(0), d->n, [d](size_t i) { bench_tri_item(d, i); });
    return 0;
}

int run_mandel(bench_data *d)
{
    tbb::parallel_for(size_t(0), d->height, [d](size_t r) { bench_mandel_row(d, r); });
    return 0;
}

int run_w5(bench_data *d)
{
    for (size_t c = 0; c < d->calls; c++) {
        d->call = c;
        tbb::parallel_for(size_t(0), d->n, [d](size_t i) { bench_small_item(d, i); });
    }
    return 0;
}

int run_w6(bench_data *d)
{
    for (size_t c = 0; c < d->calls; c++) {
        d->call = c;
        tbb::parallel_for(size_t(0), d->outer, [d](size_t o) {
            tbb::parallel_for(size_t(0), d->n, [d, o](size_t i) { bench_nested_item(d, o, i); });
        });
    }
    return 0;
}

const bench_variant variants[] = {
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
    /* A parallel_for first (run_w3 over 64 items per thread), then the sleep. */
    { BENCH_IDLE, "sleep",      BENCH_OUT_VALUES,  run_w3 },
};

} // namespace

int main(int argc, char **argv)
{
    bench_args args;

    bench_parse(argc, argv, "tbb", &args);
    /* --threads threads in all, however many CPUs: alive for the whole run. */
    tbb::global_control allowed(tbb::global_control::max_allowed_parallelism,
                                args.threads);
    tbb::task_arena arena(static_cast<int>(args.threads));
    int rc = 1;
    arena.execute([&] { rc = bench_run(&args, variants, sizeof variants / sizeof variants[0]); });
    return rc;
}
