/*
 * common.c - the benchmark harness shared by every driver: command line,
 * expensive item kernels, workload set-up with the serial answer, the
 * result check, timing, median and CSV output. See bench.h.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep, getrusage */

#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* bench_work() iterations of a 10 us item when --iters is not given (measured
 * on the development machine; bench/run.sh measures it with --calibrate and
 * passes the same value to every driver, so all systems do the same work). */
#define BENCH_DEFAULT_ITERS 7000ul

static const char *const workload_names[BENCH_NWORKLOADS] = {
    "W1", "W2", "W3", "W4", "W5", "W6", "idle"
};

/* ======================================================================== */
/* Kernels                                                                  */
/* ======================================================================== */

double bench_work(size_t seed, unsigned long iters)
{
    /* A chain of dependent multiply-adds: no instruction-level parallelism
     * to exploit, no vectorization, the same latency on every thread. It
     * converges towards 1, so it never overflows or goes subnormal. */
    double x = 0.5 + (double)(seed & 1023) * 0.001;
    for (unsigned long k = 0; k < iters; k++)
        x = x * 0.999 + 0.001;
    return x;
}

double bench_work_summed(size_t seed, unsigned long iters, size_t calls)
{
    double v = bench_work(seed, iters), acc = 0;
    for (size_t c = 0; c < calls; c++)
        acc += v;
    return acc;
}

double bench_work_called(size_t seed, unsigned long iters, size_t calls)
{
    /* As bench_small_item() and bench_nested_item() add, call after call. */
    double v = bench_work(seed, iters), acc = 0;
    for (size_t c = 0; c < calls; c++)
        acc += v + (double)c;
    return acc;
}

void bench_mandel_row(const bench_data *d, size_t row)
{
    /* The view [-2.2, 1.0] x [-1.2, 1.2]; rows through the set cost maxit
     * per pixel, rows far from it a few iterations. */
    double ci = 1.2 - 2.4 * ((double)row + 0.5) / (double)d->height;
    uint32_t *px = d->img + row * d->width;

    for (size_t x = 0; x < d->width; x++) {
        double cr = -2.2 + 3.2 * ((double)x + 0.5) / (double)d->width;
        double zr = 0, zi = 0, zr2 = 0, zi2 = 0;
        uint32_t it = 0;
        while (it < d->maxit && zr2 + zi2 <= 4.0) {
            zi = 2 * zr * zi + ci;
            zr = zr2 - zi2 + cr;
            zr2 = zr * zr;
            zi2 = zi * zi;
            it++;
        }
        px[x] = it;
    }
}

int bench_calc_cb(void *ctx, const void *in, void *out)
{
    (void)ctx;
    bench_calc(in, out);
    return 0;
}

/* ======================================================================== */
/* Command line                                                             */
/* ======================================================================== */

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
        "usage: %s [--workload LIST] [--n N] [--reps R] [--threads T]\n"
        "          [--calls C] [--outer K] [--iters K] [--smoke] [--corrupt]\n"
        "       %s --calibrate\n"
        "\n"
        "  --workload LIST  comma-separated W1,W2,W3,W4,W5,W6,idle or all (default)\n"
        "  --n N            items (W1: threads; W2: 10^7; W3: 10^5; W4: 700 triangular\n"
        "                   items and Mandelbrot rows; W5: 64; W6: 10^4 inner items;\n"
        "                   idle: 64 per thread)\n"
        "  --reps R         timed runs after one warm-up (default 7); figure = median\n"
        "  --threads T      threads per call, caller included (default: online CPUs)\n"
        "  --calls C        calls per run (W1: 100000; W5: 10000; W6: 20)\n"
        "  --outer K        W6's outer items (default 8; e.g. 3 on 2 threads: one\n"
        "                   thread's last outer item is the other's wait)\n"
        "  --iters K        work-loop iterations of a 10 us item (default %lu)\n"
        "  --smoke          tiny sizes, for a quick functional check\n"
        "  --corrupt        damage one result of the last run: the check must fail\n"
        "  --calibrate      print the --iters value for 10 us on this machine\n"
        "\n"
        "Prints CSV lines: system,workload,variant,threads,metric,median,min,max,unit\n"
        "Exits 0, 1 when a run fails or a result differs from the serial answer,\n"
        "2 on a bad argument.\n",
        prog, prog, BENCH_DEFAULT_ITERS);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* --calibrate: iterations of bench_work() that take 10 us (best of 15). */
static unsigned long calibrate(void)
{
    const unsigned long probe = 1000000;
    double best = 1e30;
    volatile double sink = 0;

    for (int r = 0; r < 15; r++) {
        double t0 = now_s();
        sink += bench_work((size_t)r, probe);
        double t = now_s() - t0;
        if (t < best)
            best = t;
    }
    (void)sink;
    double per_iter = best / (double)probe;
    unsigned long k = (unsigned long)(10e-6 / per_iter + 0.5);
    return k > 0 ? k : 1;
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end); /* accepts 1e7 */
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 1e15 || v != floor(v))
        return -1;
    *out = (size_t)v;
    return 0;
}

static int parse_workloads(const char *s, unsigned *mask)
{
    *mask = 0;
    while (*s) {
        size_t len = strcspn(s, ",");
        int found = 0;
        if (len == 3 && strncmp(s, "all", 3) == 0) {
            *mask |= (1u << BENCH_NWORKLOADS) - 1;
            found = 1;
        }
        for (int w = 0; w < BENCH_NWORKLOADS && !found; w++) {
            const char *name = workload_names[w];
            if (strlen(name) == len &&
                (strncmp(s, name, len) == 0 ||
                 (len == 2 && s[0] == 'w' && s[1] == name[1]))) {
                *mask |= 1u << w;
                found = 1;
            }
        }
        if (!found)
            return -1;
        s += len;
        if (*s == ',')
            s++;
    }
    return *mask ? 0 : -1;
}

void bench_parse(int argc, char **argv, const char *system, bench_args *args)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    memset(args, 0, sizeof *args);
    args->system = system;
    args->workloads = (1u << BENCH_NWORKLOADS) - 1;
    args->threads = ncpu > 0 ? (size_t)ncpu : 1;
    args->iters = BENCH_DEFAULT_ITERS;
    args->reps = 7;

    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        size_t v = 0;
        int bad = 0;

        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            usage(stdout, argv[0]);
            exit(0);
        } else if (strcmp(opt, "--calibrate") == 0) {
            printf("%lu\n", calibrate());
            exit(0);
        } else if (strcmp(opt, "--smoke") == 0) {
            args->smoke = 1;
            continue;
        } else if (strcmp(opt, "--corrupt") == 0) {
            args->corrupt = 1;
            continue;
        }
        /* The rest take a value. */
        if (val == NULL) {
            fprintf(stderr, "%s: %s needs a value\n", argv[0], opt);
            usage(stderr, argv[0]);
            exit(2);
        }
        i++;
        if (strcmp(opt, "--workload") == 0) {
            bad = parse_workloads(val, &args->workloads) != 0;
        } else if (strcmp(opt, "--n") == 0) {
            bad = parse_size(val, &args->n) != 0 || args->n == 0;
        } else if (strcmp(opt, "--calls") == 0) {
            bad = parse_size(val, &args->calls) != 0 || args->calls == 0;
        } else if (strcmp(opt, "--outer") == 0) {
            bad = parse_size(val, &args->outer) != 0 || args->outer == 0 ||
                  args->outer > 1024;
        } else if (strcmp(opt, "--threads") == 0) {
            bad = parse_size(val, &args->threads) != 0 || args->threads == 0 ||
                  args->threads > 1024;
        } else if (strcmp(opt, "--reps") == 0) {
            bad = parse_size(val, &v) != 0 || v == 0 || v > 100000;
            args->reps = (int)v;
        } else if (strcmp(opt, "--iters") == 0) {
            bad = parse_size(val, &v) != 0 || v == 0 || v > 1000000000;
            args->iters = (unsigned long)v;
        } else {
            fprintf(stderr, "%s: unknown option %s\n", argv[0], opt);
            usage(stderr, argv[0]);
            exit(2);
        }
        if (bad) {
            fprintf(stderr, "%s: bad value for %s: %s\n", argv[0], opt, val);
            exit(2);
        }
    }
}

/* ======================================================================== */
/* Set-up and the serial answer                                             */
/* ======================================================================== */

/* Zeroed, cache-line aligned, and touched now so page faults stay out of the
 * timed runs. */
static void *alloc(size_t count, size_t size)
{
    size_t bytes = (count * size + 63) / 64 * 64;
    void *p = aligned_alloc(64, bytes ? bytes : 64);
    if (p)
        memset(p, 0, bytes ? bytes : 64);
    return p;
}

static void data_free(bench_data *d)
{
    free(d->slots);
    free(d->in);
    free(d->tuples);
    free(d->cols);
    free(d->out);
    free(d->ref);
    free(d->img);
    free(d->img_ref);
}

static size_t pick(size_t given, size_t full, size_t smoke, int is_smoke)
{
    return given ? given : is_smoke ? smoke : full;
}

/* Sizes, buffers and the serial answer of workload w. 0, or -1 when out of
 * memory. */
static int data_setup(bench_data *d, const bench_args *a, enum bench_workload w)
{
    int s = a->smoke;

    memset(d, 0, sizeof *d);
    d->args = a;
    d->workload = w;
    d->calls = 1;
    d->iters = a->iters;

    switch (w) {
    case BENCH_W1:
        d->n = pick(a->n, a->threads, a->threads, s);
        d->calls = pick(a->calls, 100000, 200, s);
        d->slots = alloc(d->n, sizeof *d->slots);
        return d->slots ? 0 : -1;

    case BENCH_W2:
        d->n = pick(a->n, 10000000, 10000, s);
        d->in = alloc(d->n, sizeof *d->in);
        d->tuples = alloc(d->n, sizeof *d->tuples);
        d->cols = alloc(3 * d->n, sizeof *d->cols);
        if (!d->in || !d->tuples || !d->cols)
            return -1;
        for (size_t i = 0; i < d->n; i++) {
            d->in[i] = (double)i * 0.25 + 1.0;
            /* The serial answer; also unzip's input when run on its own. */
            bench_calc(&d->in[i], &d->tuples[i]);
        }
        return 0;

    case BENCH_W3:
    case BENCH_IDLE:
        /* idle: 64 items of 10 us per thread, a call large enough that
         * every system shares it with all its threads (poolmap runs a call
         * of a few items on its caller alone), so that every thread has
         * just worked. */
        d->n = w == BENCH_W3 ? pick(a->n, 100000, 200, s)
                             : pick(a->n, 64 * a->threads, 64 * a->threads, s);
        d->nout = d->n;
        d->out = alloc(d->nout, sizeof *d->out);
        d->ref = alloc(d->nout, sizeof *d->ref);
        if (!d->out || !d->ref)
            return -1;
        for (size_t i = 0; i < d->n; i++)
            d->ref[i] = bench_work(i, d->iters);
        return 0;

    case BENCH_W4:
        /* Triangular: item i costs (i + 1) us, 0.25 s in all for n = 700.
         * Mandelbrot: n rows of 3n/2 pixels, about as long. */
        d->n = pick(a->n, 700, 64, s);
        d->iters = a->iters / 10 ? a->iters / 10 : 1;
        d->height = d->n;
        d->width = d->n * 3 / 2;
        d->maxit = 1000;
        d->nout = d->n;
        d->out = alloc(d->nout, sizeof *d->out);
        d->ref = alloc(d->nout, sizeof *d->ref);
        d->img = alloc(d->width * d->height, sizeof *d->img);
        d->img_ref = alloc(d->width * d->height, sizeof *d->img_ref);
        if (!d->out || !d->ref || !d->img || !d->img_ref)
            return -1;
        for (size_t i = 0; i < d->n; i++)
            d->ref[i] = bench_work(i, (unsigned long)(i + 1) * d->iters);
        for (size_t r = 0; r < d->height; r++)
            bench_mandel_row(d, r);
        memcpy(d->img_ref, d->img, d->width * d->height * sizeof *d->img);
        return 0;

    case BENCH_W5:
    case BENCH_W6:
        if (w == BENCH_W5) {
            d->n = pick(a->n, 64, 64, s);
            d->outer = 1;
            d->calls = pick(a->calls, 10000, 100, s);
            d->iters = a->iters / 10 ? a->iters / 10 : 1;    /* about 1 us */
        } else {
            d->n = pick(a->n, 10000, 500, s);
            d->outer = a->outer ? a->outer : 8;
            d->calls = pick(a->calls, 20, 2, s);
            d->iters = a->iters / 100 ? a->iters / 100 : 1;  /* about 0.1 us */
        }
        d->nout = d->outer * d->n;
        d->out = alloc(d->nout, sizeof *d->out);
        d->ref = alloc(d->nout, sizeof *d->ref);
        if (!d->out || !d->ref)
            return -1;
        /* The items accumulate over the calls of a run, in call order, a
         * term of their own (the call index) each call. */
        for (size_t k = 0; k < d->nout; k++)
            d->ref[k] = bench_work_called(k, d->iters, d->calls);
        return 0;

    case BENCH_NWORKLOADS:
        break;
    }
    return -1;
}

/* ======================================================================== */
/* Reset, check, corrupt                                                    */
/* ======================================================================== */

/* Before each run: outputs that cannot pass the check unless rewritten
 * (all-ones bytes are NaN for doubles). */
static void output_reset(bench_data *d, enum bench_output out)
{
    switch (out) {
    case BENCH_OUT_SLOTS:
        for (size_t i = 0; i < d->n; i++)
            d->slots[i].count = 0;
        break;
    case BENCH_OUT_TUPLES:
        memset(d->tuples, 0xff, d->n * sizeof *d->tuples);
        break;
    case BENCH_OUT_COLUMNS:
    case BENCH_OUT_BYTES:
        memset(d->cols, 0xff, 3 * d->n * sizeof *d->cols);
        break;
    case BENCH_OUT_VALUES:
        /* Zero: W5 and W6 accumulate into it. */
        memset(d->out, 0, d->nout * sizeof *d->out);
        break;
    case BENCH_OUT_IMAGE:
        memset(d->img, 0xff, d->width * d->height * sizeof *d->img);
        break;
    }
}

/* --corrupt: one wrong result, which the check must report. */
static void output_corrupt(bench_data *d, enum bench_output out)
{
    switch (out) {
    case BENCH_OUT_SLOTS:
        d->slots[d->n - 1].count++;
        break;
    case BENCH_OUT_TUPLES:
        d->tuples[d->n / 2].b += 1;
        break;
    case BENCH_OUT_COLUMNS:
    case BENCH_OUT_BYTES:
        d->cols[3 * d->n / 2] += 1;
        break;
    case BENCH_OUT_VALUES:
        d->out[d->n / 2] += 1;
        break;
    case BENCH_OUT_IMAGE:
        d->img[d->width * d->height / 2] ^= 1;
        break;
    }
}

static int mismatch(const bench_data *d, const char *variant, const char *what,
                    size_t i, double got, double want)
{
    fprintf(stderr,
            "bench: MISMATCH: %s %s %s threads=%zu: %s %zu is %.17g, serial answer %.17g\n",
            d->args->system, workload_names[d->workload], variant, d->args->threads,
            what, i, got, want);
    return 1;
}

/* Compare this run's output with the serial answer; 0 when equal. */
static int output_check(const bench_data *d, enum bench_output out, const char *variant)
{
    size_t n = d->n;

    switch (out) {
    case BENCH_OUT_SLOTS: {
        /* Call c added c + 1: 1 + 2 + ... + calls = calls (calls + 1) / 2,
         * the even factor halved first so the product does not overflow
         * (for a huge --calls both sides wrap alike, modulo SIZE_MAX + 1). */
        size_t want = d->calls % 2 == 0 ? d->calls / 2 * (d->calls + 1)
                                        : (d->calls + 1) / 2 * d->calls;
        for (size_t i = 0; i < n; i++)
            if (d->slots[i].count != want)
                return mismatch(d, variant, "count of item", i,
                                (double)d->slots[i].count, (double)want);
        return 0;
    }
    case BENCH_OUT_TUPLES:
        for (size_t i = 0; i < n; i++) {
            bench_triple want;
            bench_calc(&d->in[i], &want);
            if (memcmp(&d->tuples[i], &want, sizeof want) != 0)
                return mismatch(d, variant, "tuple (.b) of item", i, d->tuples[i].b, want.b);
        }
        return 0;
    case BENCH_OUT_COLUMNS:
        for (size_t i = 0; i < n; i++) {
            bench_triple want;
            bench_calc(&d->in[i], &want);
            const double got[3] = { d->cols[i], d->cols[n + i], d->cols[2 * n + i] };
            const double exp[3] = { want.a, want.b, want.c };
            for (int k = 0; k < 3; k++)
                if (memcmp(&got[k], &exp[k], sizeof got[k]) != 0)
                    return mismatch(d, variant, k == 0 ? "column 1 item" : k == 1
                                    ? "column 2 item" : "column 3 item", i, got[k], exp[k]);
        }
        return 0;
    case BENCH_OUT_BYTES: {
        const double *src = (const double *)d->tuples;
        for (size_t i = 0; i < 3 * n; i++)
            if (memcmp(&d->cols[i], &src[i], sizeof src[i]) != 0)
                return mismatch(d, variant, "copied double", i, d->cols[i], src[i]);
        return 0;
    }
    case BENCH_OUT_VALUES: {
        for (size_t i = 0; i < d->nout; i++)
            if (memcmp(&d->out[i], &d->ref[i], sizeof d->out[i]) != 0)
                return mismatch(d, variant, "result of item", i, d->out[i], d->ref[i]);
        return 0;
    }
    case BENCH_OUT_IMAGE:
        for (size_t i = 0; i < d->width * d->height; i++)
            if (d->img[i] != d->img_ref[i])
                return mismatch(d, variant, "pixel", i, d->img[i], d->img_ref[i]);
        return 0;
    }
    return 1;
}

/* ======================================================================== */
/* Harness                                                                  */
/* ======================================================================== */

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* Sleep `seconds`; return the process's CPU milliseconds per second slept
 * (every thread counted: what the pool burns while the program idles). */
static double idle_cost(double seconds)
{
    double c0 = cpu_s(), t0 = now_s(), t;
    while ((t = now_s() - t0) < seconds) {
        double left = seconds - t;
        struct timespec ts = { (time_t)left, (long)((left - floor(left)) * 1e9) };
        nanosleep(&ts, NULL); /* EINTR: loop */
    }
    double c1 = cpu_s();
    return (c1 - c0) * 1e3 / t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One variant of the workload set up in d: its CSV line, or 1 after printing
 * why it failed. See bench_run() in bench.h. */
static int bench_case(bench_data *d, const char *variant, enum bench_output out,
                      bench_run_fn run)
{
    const bench_args *a = d->args;
    const char *metric, *unit;
    double scale; /* run seconds -> unit */

    switch (d->workload) {
    case BENCH_W1:
    case BENCH_W5:
        metric = "time_per_call";
        unit = "us/call";
        scale = 1e6 / (double)d->calls;
        break;
    case BENCH_W2:
        metric = "time_per_item";
        unit = "ns/item";
        scale = 1e9 / (double)d->n;
        break;
    case BENCH_W6:
        metric = "time_per_call";
        unit = "ms/call";
        scale = 1e3 / (double)d->calls;
        break;
    case BENCH_IDLE:
        metric = "idle_cpu";
        unit = "ms/s";
        scale = 1;
        break;
    default:
        metric = "time";
        unit = "ms";
        scale = 1e3;
        break;
    }

    double *v = malloc((size_t)a->reps * sizeof *v);
    if (v == NULL) {
        fprintf(stderr, "bench: out of memory\n");
        return 1;
    }
    for (int r = -1; r < a->reps; r++) { /* r == -1: the warm-up */
        output_reset(d, out);
        double t0 = now_s();
        int rc = run(d);
        double t = now_s() - t0;
        double value = d->workload == BENCH_IDLE ? idle_cost(a->smoke ? 0.02 : 1.0)
                                                 : t * scale;
        if (rc != 0) {
            fprintf(stderr, "bench: FAILED: %s %s %s threads=%zu: the call returned %d (%s)\n",
                    a->system, workload_names[d->workload], variant, a->threads, rc,
                    strerror(rc));
            free(v);
            return 1;
        }
        if (a->corrupt && r == a->reps - 1)
            output_corrupt(d, out);
        if (output_check(d, out, variant) != 0) {
            free(v);
            return 1;
        }
        if (r >= 0)
            v[r] = value;
    }

    qsort(v, (size_t)a->reps, sizeof *v, cmp_double);
    double median = a->reps % 2 ? v[a->reps / 2]
                                : (v[a->reps / 2 - 1] + v[a->reps / 2]) / 2;
    printf("%s,%s,%s,%zu,%s,%.6g,%.6g,%.6g,%s\n", a->system, workload_names[d->workload],
           variant, a->threads, metric, median, v[0], v[a->reps - 1], unit);
    fflush(stdout);
    free(v);
    return 0;
}

int bench_run(const bench_args *args, const bench_variant *variants, size_t count)
{
    for (int w = 0; w < BENCH_NWORKLOADS; w++) {
        if (!(args->workloads & (1u << w)))
            continue;
        bench_data d;
        if (data_setup(&d, args, (enum bench_workload)w) != 0) {
            fprintf(stderr, "bench: %s %s: out of memory\n", args->system, workload_names[w]);
            data_free(&d);
            return 1;
        }
        int rc = 0;
        for (size_t k = 0; k < count && rc == 0; k++) {
            const bench_variant *v = &variants[k];
            if (v->workload == (enum bench_workload)w)
                rc = bench_case(&d, v->name, v->out, v->run);
        }
        data_free(&d);
        if (rc != 0) {
            fprintf(stderr, "bench: %s %s threads=%zu: FAILED\n", args->system,
                    workload_names[w], args->threads);
            return 1;
        }
    }
    return 0;
}
