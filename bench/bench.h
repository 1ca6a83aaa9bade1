/*
 * bench.h - what every benchmark driver shares: the command line, the
 * workloads' data and item kernels, the serial reference, the result check,
 * the timing harness and the CSV output.
 *
 * A driver (bench_<system>.c/.cpp) only writes its parallel loops: one run
 * function per variant, listed in a table of bench_variant rows handed to
 * bench_run(), which for each variant resets the outputs, runs a warm-up and
 * --reps timed runs (CLOCK_MONOTONIC), checks every run against the serial
 * answer, and prints one CSV line on stdout:
 *
 *     system,workload,variant,threads,metric,median,min,max,unit
 *
 * The item kernels are the same code for every system: the cheap ones
 * (W1, W2) are static inline here so each system can inline them into its
 * loop; the expensive ones (bench_work, bench_mandel_row) live in common.c,
 * one object linked into every driver, so all systems run identical machine
 * code. This header compiles as C11 and as C++17.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================== */
/* Command line                                                             */
/* ======================================================================== */

enum bench_workload {
    BENCH_W1,   /* fork-join: empty body over nthreads items */
    BENCH_W2,   /* fine-grained map, unzip, memcpy yardstick, fused */
    BENCH_W3,   /* uniform CPU-bound items of about 10 us */
    BENCH_W4,   /* irregular: triangular costs, Mandelbrot rows */
    BENCH_W5,   /* small calls: 64 items of about 1 us */
    BENCH_W6,   /* nested: an inner loop inside each outer item */
    BENCH_IDLE, /* CPU burnt by an idle pool */
    BENCH_NWORKLOADS
};

typedef struct bench_args {
    const char *system;    /* CSV "system" column */
    unsigned workloads;    /* bit (1u << enum bench_workload) per workload */
    size_t n;              /* items; 0: the workload's default */
    size_t calls;          /* calls per timed run; 0: the workload's default */
    size_t outer;          /* W6: outer items; 0: 8 */
    size_t threads;        /* threads per call, caller included */
    unsigned long iters;   /* bench_work() iterations of a 10 us item */
    int reps;              /* timed runs after the warm-up */
    int smoke;             /* tiny sizes: a quick functional check */
    int corrupt;           /* damage one output of the last run (tests the check) */
} bench_args;

/* Parses argv; prints usage and exits 2 on a bad argument, exits 0 after
 * --help or --calibrate. `system` names the driver in the CSV. */
void bench_parse(int argc, char **argv, const char *system, bench_args *args);

/* ======================================================================== */
/* Workload data                                                            */
/* ======================================================================== */

/* W2's tuple: calc_stuff(x) = (2x, 3x, 4x). */
typedef struct bench_triple {
    double a, b, c;
} bench_triple;

/* W1's per-item counter, one cache line each so items do not false-share. */
typedef struct bench_slot {
    size_t count;
    char pad[64 - sizeof(size_t)];
} bench_slot;

/* Everything one workload needs. Set up (and its serial answer computed) by
 * bench_run() before the workload's variants are run. Item i of a
 * call writes only its own outputs. */
typedef struct bench_data {
    const bench_args *args;
    enum bench_workload workload;
    size_t n;             /* items per call (W6: inner items per outer item) */
    size_t calls;         /* calls per timed run */
    size_t call;          /* W1, W5, W6: this call's index in the run, 0 to
                           * calls - 1, set by the driver before each call */
    size_t outer;         /* W6: outer items */
    unsigned long iters;  /* bench_work() iterations per item (W4: per unit) */
    /* W1 */
    bench_slot *slots;
    /* W2: n inputs, n tuples, and the three columns back to back in cols
     * (cols, cols + n, cols + 2n), so that the memcpy yardstick writes the
     * very same 24n bytes that unzip writes. */
    double *in;
    bench_triple *tuples;
    double *cols;
    /* W3, W4 triangular, W5, W6, idle: one double per item, nout in all. */
    size_t nout;
    double *out;
    double *ref;
    /* W4 Mandelbrot: one iteration count per pixel, one item per row. */
    size_t width, height;
    unsigned maxit;
    uint32_t *img;
    uint32_t *img_ref;
} bench_data;

/* ======================================================================== */
/* Item kernels                                                             */
/* ======================================================================== */

/* About 10 us (W3) or a fraction of it: `iters` dependent multiply-adds
 * seeded by `seed`. In common.c so every driver runs the same code. */
double bench_work(size_t seed, unsigned long iters);
/* What an item that adds bench_work(seed, iters) to its output once a call
 * holds after `calls` calls: the sum in call order, as the probes' checks
 * need it. */
double bench_work_summed(size_t seed, unsigned long iters, size_t calls);
/* What a W5 or W6 item (bench_small_item, bench_nested_item) holds after
 * `calls` calls: bench_work(seed, iters) + c added in call c, summed in call
 * order (c = 0, 1, ..., calls - 1), so the sum of every call is bit-identical
 * to the drivers' and an item skipped in one call and run twice in another
 * is told from one run once a call. */
double bench_work_called(size_t seed, unsigned long iters, size_t calls);

/* One Mandelbrot row of d->img (W4). In common.c. */
void bench_mandel_row(const bench_data *d, size_t row);

/* calc_stuff, as a pool_map-style callback (W2 function-pointer variants).
 * In common.c, so no system can inline it. ctx is unused. */
int bench_calc_cb(void *ctx, const void *in, void *out);

/* W1: the "empty" body: add (call index + 1) to this item's own counter,
 * so that after C calls it holds 1 + 2 + ... + C only when the item ran
 * once in every call (a mere count would pass an item skipped in one call
 * and run twice in another). */
static inline void bench_w1_item(bench_data *d, size_t i)
{
    d->slots[i].count += d->call + 1;
}

/* W2: calc_stuff inline. */
static inline void bench_calc(const double *in, bench_triple *out)
{
    double p = *in;
    out->a = p * 2;
    out->b = p * 3;
    out->c = p * 4;
}

/* W2 (a): the inline map of items [b, e): the loop every system runs. */
static inline void bench_map_range(bench_data *d, size_t b, size_t e)
{
    const double *in = d->in;
    bench_triple *t = d->tuples;
    for (size_t i = b; i < e; i++)
        bench_calc(&in[i], &t[i]);
}

/* W2 (c): unzip of one tuple into the three columns. */
static inline void bench_unzip_item(const bench_triple *t, double *a, double *b,
                                    double *c, size_t i)
{
    a[i] = t[i].a;
    b[i] = t[i].b;
    c[i] = t[i].c;
}

static inline void bench_unzip_range(bench_data *d, size_t b, size_t e)
{
    const bench_triple *t = d->tuples;
    double *ca = d->cols, *cb = d->cols + d->n, *cc = d->cols + 2 * d->n;
    for (size_t i = b; i < e; i++)
        bench_unzip_item(t, ca, cb, cc, i);
}

/* W2 (c) yardstick: memcpy of tuples [b, e) (24 bytes each) to the same
 * bytes of cols, so all pieces together copy exactly 3 * 8 * n bytes. */
static inline void bench_copy_range(bench_data *d, size_t b, size_t e)
{
    memcpy((char *)d->cols + b * sizeof(bench_triple), d->tuples + b,
           (e - b) * sizeof(bench_triple));
}

/* Piece `k` of `pieces` equal, cache-line aligned pieces of the copy. */
static inline void bench_copy_piece(bench_data *d, size_t k, size_t pieces)
{
    size_t bytes = d->n * sizeof(bench_triple);
    size_t per = (bytes / pieces + 63) / 64 * 64;
    size_t b = k * per < bytes ? k * per : bytes;
    size_t e = b + per < bytes && k + 1 < pieces ? b + per : bytes;
    memcpy((char *)d->cols + b, (const char *)d->tuples + b, e - b);
}

/* W2 (d) for systems without a fused call: one call through `fn` per item
 * into a tuple on the stack, scattered straight into the columns. */
static inline void bench_fused_item(bench_data *d, size_t i,
                                    int (*fn)(void *, const void *, void *))
{
    bench_triple t;
    fn(NULL, &d->in[i], &t);
    d->cols[i] = t.a;
    d->cols[d->n + i] = t.b;
    d->cols[2 * d->n + i] = t.c;
}

/* W3 and idle: one uniform item. */
static inline void bench_uniform_item(bench_data *d, size_t i)
{
    d->out[i] = bench_work(i, d->iters);
}

/* W4: item i costs (i + 1) units. */
static inline void bench_tri_item(bench_data *d, size_t i)
{
    d->out[i] = bench_work(i, (unsigned long)(i + 1) * d->iters);
}

/* W5: one small item, accumulated over the calls of a run; the call index
 * (exact in a double) makes each call's term its own, so the check tells an
 * item run once a call from one skipped in a call and run twice in another
 * (bench_work_called). Adds only, no multiply: no contraction to undo. */
static inline void bench_small_item(bench_data *d, size_t i)
{
    d->out[i] += bench_work(i, d->iters) + (double)d->call;
}

/* W6: inner item i of outer item o, accumulated over the calls of a run as
 * W5's items are. */
static inline void bench_nested_item(bench_data *d, size_t o, size_t i)
{
    size_t k = o * d->n + i;
    d->out[k] += bench_work(k, d->iters) + (double)d->call;
}

/* ======================================================================== */
/* Harness                                                                  */
/* ======================================================================== */

/* Which output a variant writes, so the harness can reset and check it. */
enum bench_output {
    BENCH_OUT_SLOTS,   /* W1: every slot bumped once per call (by call + 1) */
    BENCH_OUT_TUPLES,  /* W2 map: tuples == calc_stuff(in) */
    BENCH_OUT_COLUMNS, /* W2 unzip, fused: columns == unzip(calc_stuff(in)) */
    BENCH_OUT_BYTES,   /* W2 memcpy: cols bytes == tuples bytes */
    BENCH_OUT_VALUES,  /* W3, W4 triangular, W5, W6, idle: out == ref */
    BENCH_OUT_IMAGE    /* W4 Mandelbrot: img == img_ref */
};

/* One timed run of a variant: a whole run (all d->calls calls). Returns 0,
 * or the system's error status. */
typedef int (*bench_run_fn)(bench_data *d);

/* One row of a driver's table: a variant of a workload and how to check it.
 * Drivers fill it positionally, as C++17 has no designated initializers. */
typedef struct bench_variant {
    enum bench_workload workload;
    const char *name;       /* CSV "variant" column */
    enum bench_output out;
    bench_run_fn run;
} bench_variant;

/*
 * bench_run - for each workload selected on the command line, in enum order:
 * set up its data and serial answer once, then measure, in table order, every
 * row of variants[0, count) of that workload: reset the output, warm up, then
 * args->reps timed runs, each checked against the serial answer, and print
 * the CSV line. For BENCH_IDLE the figure is instead the CPU time the process
 * burns while sleeping right after each run. The first variant that fails (a
 * run returned nonzero or a result was wrong) ends the whole run, after
 * printing why. Returns the process exit status: 0, or 1 when anything failed.
 */
int bench_run(const bench_args *args, const bench_variant *variants, size_t count);

#ifdef __cplusplus
}
#endif

#endif /* BENCH_H */
