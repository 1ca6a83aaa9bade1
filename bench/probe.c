/*
 * probe.c - the measurements behind the explanations in BENCHMARKS.md and
 * docs/bench-log.md: where the time of a call goes, rather than how long
 * it takes. Not run by bench/run.sh; each mode prints what it measured,
 * medians of --reps runs.
 *
 *   bench_probe shares [--reps R]
 *     W4's Mandelbrot rows on a pool of 2. (1) How long each thread idles
 *     at the end of a call: automatic chunks against one row per claim.
 *     (2) Which rows run at the same time: two static halves, both run
 *     top to bottom, against the lower half run bottom to top (so that both
 *     threads are on rows of equal cost at the same time), against one row
 *     per claim, in turns in one process.
 *   bench_probe claims [--reps R] [--iters K]
 *     W5's small call (64 items of about 1 us) on a pool of 2: per call,
 *     the time between one thread's items (claims, bookkeeping), when the
 *     helper starts, and what the call costs beyond the items' own time;
 *     automatic chunks against one claim per thread. K: bench_work()
 *     iterations of a 10 us item (bench_serial --calibrate), as in run.sh.
 *   bench_probe pair [--reps R]
 *     W4's Mandelbrot rows at 2 threads, poolmap and pthreadpool in turns in
 *     one process (built only where pthreadpool is found), so that what
 *     differs from one process to another drops out of the comparison.
 *   bench_probe timeline [--system poolmap|pthreadpool|openmp] [--reps R] [--iters K]
 *                        [--spike D [--at I]]
 *     W5's small call on a pool of 2 of the one system (pthreadpool and
 *     OpenMP only where they are found; OpenMP's is bench_openmp's loop,
 *     `parallel for schedule(static)` on a team of 2), per call from its
 *     start: when the caller's and the helper's (the team's master's and
 *     worker's) first items begin, how long the call goes on after
 *     each one's last item ends, and each thread's time between its first
 *     item's start and its last item's end spent outside items (claims,
 *     bookkeeping, a withdrawn offer). First, the machine's moment: a cache
 *     line's round trip between two threads (it ranges from about 0.08 to
 *     0.45 us on the development VM). Run each system as its own process,
 *     in turns, as bench/run.sh does. Last, how many items the caller ran.
 *     With --spike D, item I (default 32, the helper's first) costs D
 *     items more in every call (as in small).
 *   bench_probe arrivals [--threads N] [--system poolmap|pthreadpool|openmp] [--reps R]
 *                        [--iters K]
 *     W5's small call on a pool of N threads (default 16): per call, when
 *     the first, second, ... thread to run an item starts it (a thread
 *     that ran none counts as starting at the call's end), how long the
 *     call takes, how long it goes on after its last item ends, and how
 *     many threads ran items, and the workers' sleeps and preemptions per
 *     call (context switches, /proc/self/task). Shows a start that grows
 *     with each thread (a line they all take in turn), an end that waits
 *     for them, or workers that fall asleep between calls.
 *   bench_probe nested [--threads N] [--outer K] [--reps R] [--iters K] [--sample 1]
 *     W6 on a pool of N (default 16): K outer items (default 8), each a
 *     pool_for_range of 10^4 items of K/100 iterations, 50 calls a run. Per
 *     run: the median call, the threads' time inside inner chunks over N
 *     times the run's (what the rest of the time lost is scheduling, not
 *     slower items), how many threads ran chunks, and the workers' sleeps
 *     and preemptions per call (context switches, /proc/self/task): a
 *     worker that slept during a call, or between two, had to be woken.
 *     Then, medians over the calls, when the k-th thread to run an inner
 *     chunk started its first and when the k-th to run out ended its last:
 *     a late start, an uneven end, or (neither) idle time in between; and
 *     when the k-th outer item began (a late one queues its inner call late).
 *     With --sample 1, where the threads blocked (see sample_report).
 *   bench_probe callers [--threads N] [--callers M] [--reps R] [--iters K]
 *     M threads of the program's own (default 8) each make 1000 W5-sized
 *     calls (64 items of about 1 us) at once on one pool of N: a caller's
 *     time per call, and the run's wall time over all the callers' calls
 *     (the pool's throughput; the ideal is 64 us of items over N threads).
 *   bench_probe idle [--threads N] [--reps R] [--iters K]
 *     bench/run.sh's idle row, per thread (Linux: /proc/self/task): a call
 *     of 64 items of 10 us per thread on a pool of N, then 1 s asleep. The
 *     threads' CPU time (schedstat) is read before the call and after the
 *     second, both while the workers sleep, when the kernel's count is up
 *     to date (a running thread's lags until it next stops or a tick
 *     comes). Per run: the workers' CPU in all, the part spent in items,
 *     the rest per worker (waking, spinning, falling asleep), each
 *     worker's CPU (least, median, most), how many workers ran an item,
 *     and their context switches,
 *     voluntary (it slept) and not. The caller's figure includes the
 *     probe's own reads of /proc.
 *   bench_probe tails [--threads N] [--reps R] [--iters K] [--items M]
 *     W4 on a pool of N (default 16): the triangular items (item i costs
 *     i + 1 units of K/10 iterations, as bench/run.sh's W4; with M items
 *     instead of 700, units grow so that the call's work stays the same:
 *     M = 700 * 2 / 16 gives a pool of 2 the items per thread of 16) and the
 *     Mandelbrot rows, automatic chunks against one item per claim (as
 *     OpenMP dynamic). Per call: its time; the threads' efficiency (their
 *     time in items over N times the call's) and where the rest of that
 *     time went (before each thread's first item, between its items, after
 *     its last; a thread that ran none counts as before); when the last thread began
 *     its first item; the spread between the first and the last thread to
 *     run out of items; how long the call went on after the last item
 *     ended; how many threads ran items. Tells a late start from an uneven
 *     end from a slow join.
 *   bench_probe small [--threads N] [--reps R] [--iters K] [--spike D [--at I]]
 *     W5's call (64 items of about 1 us, no clock reads in the items) on
 *     N threads (default 16): a serial loop, poolmap and pthreadpool (where
 *     it is found) in turns in one process, blocks of 1000 calls, medians
 *     of R blocks. At N = 1 the in-place call against the loop it stands
 *     for; what differs from one process to another (code placement, the
 *     CPU it ran on) drops out of the comparison. Each block begins with
 *     100 calls that are not timed: the system before it leaves its
 *     workers spinning for a while (poolmap's up to 0.5 ms, pthreadpool's
 *     about 15 ms on the 2-core VM), and on 2 CPUs they took the first
 *     calls' CPU. bench/ab_small.sh compares two builds with it. With
 *     fewer CPUs allowed than N, blocks of 50 calls after 5 (pthreadpool's
 *     calls then wait out time slices: milliseconds each).
 *     With --spike D, item I (default 64 / N, the first of the second
 *     thread's share; 32 at N = 1) costs D items more, in every call:
 *     how well each system balances a call one thread of which falls
 *     behind (a costly item, a late start) against the uniform call's.
 *   bench_probe startup [--system poolmap|pthreadpool] [--threads N] [--iters K]
 *     A fresh pool's first calls: the process's first pool of N threads,
 *     timed as it is created and then given 2000 W5 calls at once: how
 *     long the first 500 took, and in how many calls (and up to which) no
 *     thread but the caller ran an item. Linux may start a thread on its
 *     creator's CPU, where it waits while the creator runs (a pool made
 *     later in the same process rarely does); run it as many processes.
 *     Then (where pthreadpool is found, and N CPUs are allowed) a poolmap
 *     pool and a pthreadpool called in turns, one call each: whose workers
 *     keep the CPUs.
 *   bench_probe ceiling [--threads N] [--reps R] [--iters K] [--items M]
 *     W3's uniform items (M, default 20000, of K iterations: about 10 us
 *     at bench/run.sh's K) three ways in turns in one process: a serial
 *     loop, N raw threads that share nothing (a contiguous static share
 *     each, started by one barrier, the calling thread one of them) and
 *     poolmap's pool_for on a pool of N (default 16). The raw threads'
 *     speedup is what the machine allows any scheduler with items of
 *     equal cost: the ceiling for W3's `>= 0.97 x threads`. Also the rate
 *     their items ran at against the serial loop's (below 1: the machine
 *     runs N busy threads slower than one, a lower all-core clock, shared
 *     caches, the host) and how far apart their shares ended.
 *   bench_probe costs
 *     The machine's prices: the clock source, CPU 0's hyperthread siblings,
 *     ns per clock_gettime, rdtsc, pause, uncontended compare-exchange and
 *     sched_yield, and a cache line's round trip between two threads,
 *     unpinned and pinned to CPU 0 and CPU 1, N/2, N-1 (Linux).
 *   bench_probe unzip [--reps R]
 *     10^7 tuples of three doubles into three columns on one thread, the
 *     ways a column can be written, as multiples of memcpy of the same bytes,
 *     that copy made in 16-byte streaming stores, and pool_unzip itself on
 *     a pool of 1 (x86-64 only).
 */
#define _GNU_SOURCE /* pthread_setaffinity_np (costs) */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "bench.h"
#include "poolmap.h"
#ifdef POOL_ACCOUNT
#include "account.h" /* bench_probe_account: the library's time by category */
#endif
#ifdef BENCH_PROBE_PTHREADPOOL
#include <pthreadpool.h>
#endif
#ifdef BENCH_PROBE_OPENMP
#include <omp.h>
#endif

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void *must_alloc(size_t bytes)
{
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (p == NULL) {
        fprintf(stderr, "bench_probe: out of memory\n");
        exit(1);
    }
    return p;
}

/* Which of the pool's threads runs an item, numbered as they first run
 * one: the caller is 0. */
enum { PROBE_MAXT = 64 };
static _Thread_local int thread_no = -1;
static atomic_int threads_seen;

static int this_thread(void)
{
    if (thread_no < 0) {
        int k = atomic_fetch_add(&threads_seen, 1);
        thread_no = k < PROBE_MAXT ? k : PROBE_MAXT - 1;
    }
    return thread_no;
}

/* Per call and thread: time spent in items, first start, last end. One
 * cache line each: shared, they cost a miss per item. */
typedef struct probe_turn {
    _Alignas(64) double busy, first, last;
    unsigned items;
} probe_turn;

static probe_turn turns[PROBE_MAXT];

static void turn_item(double t0, double t1)
{
    probe_turn *p = &turns[this_thread()];
    if (p->items++ == 0)
        p->first = t0;
    p->last = t1;
    p->busy += t1 - t0;
}

/* ---- shares: the Mandelbrot rows ----------------------------------------- */

static bench_data mandel;
static int lower_half_backwards;

static int mandel_row(void *ctx, size_t r)
{
    (void)ctx;
    double t0 = now_s();
    bench_mandel_row(&mandel, r);
    turn_item(t0, now_s());
    return 0;
}

static int mandel_half(void *ctx, size_t b, size_t e)
{
    (void)ctx;
    if (lower_half_backwards && b >= mandel.height / 2)
        for (size_t r = e; r-- > b;)
            bench_mandel_row(&mandel, r);
    else
        for (size_t r = b; r < e; r++)
            bench_mandel_row(&mandel, r);
    return 0;
}

static int probe_shares(pool_t *pool, int reps)
{
    mandel.height = 700;
    mandel.width = 1050;
    mandel.maxit = 1000;
    mandel.img = must_alloc(mandel.width * mandel.height * sizeof *mandel.img);
    double *idle0 = must_alloc((size_t)reps * sizeof(double));
    double *idle1 = must_alloc((size_t)reps * sizeof(double));
    double *ms = must_alloc(3 * (size_t)reps * sizeof(double));

    printf("# Mandelbrot %zux%zu, maxit %u, pool of 2, %d calls each\n", mandel.width,
           mandel.height, mandel.maxit, reps);
    for (size_t chunk = 0; chunk <= 1; chunk++) {
        for (int r = 0; r < reps; r++) {
            pool_opts o = POOL_OPTS_INIT;
            o.chunk = chunk;
            memset(turns, 0, 2 * sizeof turns[0]);
            double t0 = now_s();
            if (pool_for_ex(pool, mandel.height, mandel_row, NULL, &o) != 0)
                return 1;
            double t = now_s() - t0;
            ms[r] = t * 1e3;
            idle0[r] = (t - turns[0].busy) * 1e3;
            idle1[r] = (t - turns[1].busy) * 1e3;
        }
        printf("%-22s call %8.2f ms   idle: caller %6.3f ms, helper %6.3f ms\n",
               chunk ? "one row per claim" : "automatic chunks", median(ms, reps),
               median(idle0, reps), median(idle1, reps));
    }

    /* The same rows in three orders, in turns. */
    static const char *const order[3] = { "halves, both downwards", "halves, mirrored",
                                          "one row per claim" };
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < 3; k++) {
            pool_opts o = POOL_OPTS_INIT;
            double t0 = now_s();
            int rc;
            if (k == 2) {
                o.chunk = 1;
                rc = pool_for_ex(pool, mandel.height, mandel_row, NULL, &o);
            } else {
                lower_half_backwards = k;
                o.chunk = mandel.height / 2;
                rc = pool_for_range_ex(pool, mandel.height, mandel_half, NULL, &o);
            }
            if (rc != 0)
                return 1;
            ms[k * reps + r] = (now_s() - t0) * 1e3;
        }
    for (int k = 0; k < 3; k++)
        printf("%-22s call %8.2f ms\n", order[k], median(ms + k * reps, reps));
    free(ms);
    free(idle1);
    free(idle0);
    free(mandel.img);
    return 0;
}

/* ---- tails: how a W4 call's threads start and end, on a pool of N ------------ */

static unsigned long tri_unit;
static double *tri_out;

static int tri_item(void *ctx, size_t i)
{
    (void)ctx;
    double t0 = now_s();
    tri_out[i] = bench_work(i, (unsigned long)(i + 1) * tri_unit);
    turn_item(t0, now_s());
    return 0;
}

enum { TAILS_STATS = 9 };

/* One call's figures (see the mode's comment), into v[0..TAILS_STATS). */
static int tails_call(pool_t *pool, int nthreads, pool_for_fn fn, size_t n, size_t chunk,
                      double *v)
{
    pool_opts o = POOL_OPTS_INIT;
    o.chunk = chunk;
    memset(turns, 0, sizeof turns);
    double t0 = now_s();
    if (pool_for_ex(pool, n, fn, NULL, &o) != 0)
        return 1;
    double t1 = now_s(), busy = 0, first_out = t1, last_out = t0, last_in = t0;
    double start = 0, end = 0; /* thread-seconds before first items, after last ones */
    int ran = 0;
    for (int k = 0; k < PROBE_MAXT; k++) {
        if (turns[k].items == 0)
            continue;
        ran++;
        busy += turns[k].busy;
        start += turns[k].first - t0;
        end += t1 - turns[k].last;
        first_out = turns[k].last < first_out ? turns[k].last : first_out;
        last_out = turns[k].last > last_out ? turns[k].last : last_out;
        last_in = turns[k].first > last_in ? turns[k].first : last_in;
    }
    double all = (double)nthreads * (t1 - t0);
    start += (double)(nthreads - ran) * (t1 - t0); /* threads that ran nothing */
    v[0] = (t1 - t0) * 1e3;
    v[1] = busy / all;
    v[2] = start / all;
    v[3] = (all - busy - start - end) / all;
    v[4] = end / all;
    v[5] = (last_in - t0) * 1e6;
    v[6] = (last_out - first_out) * 1e3;
    v[7] = (t1 - last_out) * 1e6;
    v[8] = ran;
    return 0;
}

static int probe_tails(int nthreads, int reps, unsigned long iters, size_t tri_n)
{
    pool_t *pool = pool_create((size_t)nthreads);
    if (pool == NULL)
        return 1;
    /* Fewer items cost more each: the same work in all. */
    tri_unit = iters / 10 * 700 * 701 / (tri_n * (tri_n + 1));
    if (tri_unit == 0)
        tri_unit = 1;
    tri_out = must_alloc(tri_n * sizeof *tri_out);
    mandel.height = 700;
    mandel.width = 1050;
    mandel.maxit = 1000;
    mandel.img = must_alloc(mandel.width * mandel.height * sizeof *mandel.img);
    double *v = must_alloc((size_t)reps * TAILS_STATS * sizeof *v), stat[TAILS_STATS];
    double *col = must_alloc((size_t)reps * sizeof *col); /* one statistic's runs */

    printf("# W4 on a pool of %d, %d calls each; %zu triangular items, a unit %lu "
           "bench_work iterations\n",
           nthreads, reps, tri_n, tri_unit);
    printf("# eff: the threads' time in items over N x the call's; then the rest of that\n"
           "# time: before each thread's first item, between its items, after its last\n");
    printf("# %-20s %9s %6s %6s %6s %6s %14s %14s %12s %4s\n", "", "call-ms", "eff", "start",
           "gaps", "end", "last-start-us", "end-spread-ms", "join-tail-us", "ran");
    for (int w = 0; w < 2; w++)
        for (size_t chunk = 0; chunk <= 1; chunk++) {
            for (int r = 0; r < reps; r++)
                if (tails_call(pool, nthreads, w ? mandel_row : tri_item, w ? 700 : tri_n, chunk,
                               v + (size_t)r * TAILS_STATS) != 0)
                    return 1;
            for (int s = 0; s < TAILS_STATS; s++) {
                for (int r = 0; r < reps; r++)
                    col[r] = v[(size_t)r * TAILS_STATS + (size_t)s];
                stat[s] = median(col, reps);
            }
            printf("%-22s %9.3f %6.3f %6.3f %6.3f %6.3f %14.1f %14.3f %12.1f %4.0f\n",
                   w ? (chunk ? "mandel, 1 per claim" : "mandel, automatic")
                     : (chunk ? "tri, 1 per claim" : "tri, automatic"),
                   stat[0], stat[1], stat[2], stat[3], stat[4], stat[5], stat[6], stat[7],
                   stat[8]);
        }
    free(col);
    free(v);
    free(mandel.img);
    free(tri_out);
    pool_destroy(pool);
    return 0;
}

/* ---- pair: poolmap and pthreadpool in one process ------------------------ */

#ifdef BENCH_PROBE_PTHREADPOOL
/* The same row for both, without the timing of mandel_row. */
static int mandel_item(void *ctx, size_t r)
{
    (void)ctx;
    bench_mandel_row(&mandel, r);
    return 0;
}

static void mandel_task(void *ctx, size_t r)
{
    (void)mandel_item(ctx, r);
}

static int probe_pair(pool_t *pool, int reps)
{
    pthreadpool_t tp = pthreadpool_create(2);
    double *ms = must_alloc(2 * (size_t)reps * sizeof(double));
    if (tp == NULL)
        return 1;
    mandel.height = 700;
    mandel.width = 1050;
    mandel.maxit = 1000;
    mandel.img = must_alloc(mandel.width * mandel.height * sizeof *mandel.img);
    printf("# Mandelbrot %zux%zu, maxit %u, 2 threads, %d calls each, in turns\n", mandel.width,
           mandel.height, mandel.maxit, reps);
    /* pthreadpool's workers spin for about 20 ms after a call (see the
     * table's idle row), which would slow whatever runs next: a pause
     * after every call lets each start from idle workers. */
    const struct timespec pause = { 0, 100 * 1000 * 1000 };
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        if (pool_for(pool, mandel.height, mandel_item, NULL) != 0)
            return 1;
        ms[r] = (now_s() - t0) * 1e3;
        nanosleep(&pause, NULL);
        t0 = now_s();
        pthreadpool_parallelize_1d(tp, mandel_task, NULL, mandel.height, 0);
        ms[reps + r] = (now_s() - t0) * 1e3;
        nanosleep(&pause, NULL);
    }
    double a = median(ms, reps), b = median(ms + reps, reps);
    printf("poolmap      call %8.2f ms\npthreadpool  call %8.2f ms\npoolmap / pthreadpool %.3f\n",
           a, b, a / b);
    pthreadpool_destroy(tp);
    free(mandel.img);
    free(ms);
    return 0;
}
#else
static int probe_pair(pool_t *pool, int reps)
{
    (void)pool, (void)reps;
    printf("# pair: built without pthreadpool\n");
    return 0;
}
#endif

/* ---- claims: the small call ---------------------------------------------- */

static unsigned long small_iters;
static volatile double small_sink[64];
/* small and timeline --spike: item spike_at costs spike_items items more. */
static unsigned long spike_items;
static size_t spike_at = SIZE_MAX;

/* --spike D [--at I] for a call of n items on nthreads: item I, by
 * default the first of the second thread's share (n / 2 on one thread),
 * costs D items more; no item without D. */
static void spike_set(unsigned long spike, size_t at, size_t n, int nthreads)
{
    spike_items = spike;
    spike_at = spike == 0       ? SIZE_MAX
               : at != SIZE_MAX ? at
               : nthreads > 1   ? n / (size_t)nthreads
                                : n / 2;
}

/* bench_work iterations of small item i. */
static unsigned long small_item_iters(size_t i)
{
    return small_iters * (i == spike_at ? 1 + spike_items : 1);
}

static int small_item(void *ctx, size_t i)
{
    (void)ctx;
    double t0 = now_s();
    small_sink[i] = bench_work(i, small_item_iters(i));
    turn_item(t0, now_s());
    return 0;
}

static int probe_claims(pool_t *pool, int reps, unsigned long iters)
{
    enum { N = 64, CALLS = 2000 };
    small_iters = iters / 10 ? iters / 10 : 1;
    double *gap0 = must_alloc(CALLS * sizeof(double)), *gap1 = must_alloc(CALLS * sizeof(double));
    double *start = must_alloc(CALLS * sizeof(double)), *over = must_alloc(CALLS * sizeof(double));
    double *med = must_alloc(4 * (size_t)reps * sizeof(double));

    printf("# %d items of %lu bench_work iterations, pool of 2, %d calls a run, medians of "
           "%d runs (us per call)\n", N, small_iters, CALLS, reps);
    for (size_t chunk = 0; chunk <= N / 2; chunk += N / 2) {
        for (int r = 0; r < reps; r++) {
            int calls = 0;
            for (int c = 0; c < CALLS; c++) {
                pool_opts o = POOL_OPTS_INIT;
                o.chunk = chunk;
                memset(turns, 0, 2 * sizeof turns[0]);
                double t0 = now_s();
                if (pool_for_ex(pool, N, small_item, NULL, &o) != 0)
                    return 1;
                double t = now_s() - t0;
                if (turns[1].items == 0)
                    continue; /* the helper came too late for any item */
                gap0[calls] = (turns[0].last - turns[0].first - turns[0].busy) * 1e6;
                gap1[calls] = (turns[1].last - turns[1].first - turns[1].busy) * 1e6;
                start[calls] = (turns[1].first - t0) * 1e6;
                over[calls] = (t - (turns[0].busy + turns[1].busy) / 2) * 1e6;
                calls++;
            }
            if (calls == 0)
                return 1;
            med[r] = median(gap0, calls);
            med[reps + r] = median(gap1, calls);
            med[2 * reps + r] = median(start, calls);
            med[3 * reps + r] = median(over, calls);
        }
        printf("%-24s between items: caller %.3f, helper %.3f; helper's first item at %.3f; "
               "call beyond half the items' time %.3f\n",
               chunk ? "one claim per thread" : "automatic chunks", median(med, reps),
               median(med + reps, reps), median(med + 2 * reps, reps),
               median(med + 3 * reps, reps));
    }
    free(med);
    free(over);
    free(start);
    free(gap1);
    free(gap0);
    return 0;
}

/* ---- timeline: where a small call's time goes ------------------------------ */

static _Alignas(64) atomic_long pp_flag;
enum { PP_ROUNDS = 100000, PP_SPINS = 4096 };
#define PP_STOP (-1L)
#define PP_SECONDS 0.25
#define PP_CUT_NOTE "; cut short: the two threads were not both on a CPU"

/* Waits for pp_flag to read want; false when the leader stopped instead.
 * Spins, and yields now and then: when the two threads share a CPU (a
 * one-CPU affinity, or a machine busy with other work) the one spinning must
 * give the CPU up, or each hand-over waits out a time slice. On two CPUs a
 * round trip is a few hundred ns, well inside PP_SPINS loads. */
static bool pp_wait(long want)
{
    for (unsigned spins = 1;; spins++) {
        long v = atomic_load_explicit(&pp_flag, memory_order_acquire);
        if (v == want)
            return true;
        if (v == PP_STOP)
            return false;
        if (spins % PP_SPINS == 0)
            sched_yield();
    }
}

static void *pingpong_other(void *arg)
{
    (void)arg;
    for (long i = 0; pp_wait(2 * i + 1); i++)
        atomic_store_explicit(&pp_flag, 2 * i + 2, memory_order_release);
    return NULL;
}

/* The leader's half: PP_ROUNDS round trips, or as many as PP_SECONDS allow,
 * then PP_STOP for the other thread. ns a round trip; *cut set when time ran
 * out first (the threads were not both on a CPU: the figure is the
 * scheduler's, not the cache's). */
static double pingpong_lead(bool *cut)
{
    double t0 = now_s(), t1 = t0;
    long i = 0;
    *cut = false;
    for (; i < PP_ROUNDS; i++) {
        atomic_store_explicit(&pp_flag, 2 * i + 1, memory_order_release);
        (void)pp_wait(2 * i + 2);
        if (i % 256 == 255 && (t1 = now_s()) - t0 > PP_SECONDS) {
            *cut = true;
            i++;
            break;
        }
    }
    if (!*cut)
        t1 = now_s();
    atomic_store_explicit(&pp_flag, PP_STOP, memory_order_release);
    return (t1 - t0) / (double)(i > 0 ? i : 1) * 1e9;
}

/* A cache line's round trip between this thread and another, in ns; -1 when
 * no thread could be started. *cut as for pingpong_lead. */
static double pingpong_ns(bool *cut)
{
    pthread_t t;
    *cut = false;
    atomic_store(&pp_flag, 0);
    if (pthread_create(&t, NULL, pingpong_other, NULL) != 0)
        return -1;
    double ns = pingpong_lead(cut);
    pthread_join(t, NULL);
    return ns;
}

/* The pthreadpool of --system pthreadpool (timeline, arrivals, startup);
 * peer_omp, the team's size for --system openmp (timeline, arrivals), else
 * 0. */
#ifdef BENCH_PROBE_PTHREADPOOL
typedef pthreadpool_t peer_pool;

static void small_task(void *ctx, size_t i)
{
    (void)small_item(ctx, i);
}
#else
typedef void *peer_pool;
#endif
static int peer_omp;

/* For --system pthreadpool, a pthreadpool of n threads in *tp (NULL for
 * poolmap and OpenMP); for --system openmp, peer_omp = n. Returns 0; 1
 * when it cannot be created; -1 when this probe was built without the
 * system (said on stdout: the mode has nothing to do). */
static int peer_open(const char *system, const char *mode, size_t n, peer_pool *tp)
{
    *tp = NULL;
    if (strcmp(system, "poolmap") == 0)
        return 0;
    if (strcmp(system, "openmp") == 0) {
#ifdef BENCH_PROBE_OPENMP
        omp_set_dynamic(0); /* a team of n every time, as bench_openmp's */
        peer_omp = (int)n;
        return 0;
#else
        printf("# %s: built without OpenMP\n", mode);
        return -1;
#endif
    }
#ifdef BENCH_PROBE_PTHREADPOOL
    (void)mode;
    *tp = pthreadpool_create(n);
    return *tp == NULL;
#else
    (void)n;
    printf("# %s: built without pthreadpool\n", mode);
    return -1;
#endif
}

static void peer_close(peer_pool tp)
{
#ifdef BENCH_PROBE_PTHREADPOOL
    if (tp != NULL)
        pthreadpool_destroy(tp);
#else
    (void)tp;
#endif
}

/* One W5 call of n small items: on the pool, on tp when it is set, or on
 * an OpenMP team of peer_omp. */
static int small_call(pool_t *pool, peer_pool tp, size_t n)
{
#ifdef BENCH_PROBE_OPENMP
    if (peer_omp > 0) {
#pragma omp parallel for num_threads(peer_omp) schedule(static)
        for (size_t i = 0; i < n; i++)
            (void)small_item(NULL, i);
        return 0;
    }
#endif
#ifdef BENCH_PROBE_PTHREADPOOL
    if (tp != NULL) {
        pthreadpool_parallelize_1d(tp, small_task, NULL, n, 0);
        return 0;
    }
#else
    (void)tp;
#endif
    return pool_for(pool, n, small_item, NULL);
}

static int probe_timeline(pool_t *pool, const char *system, int reps, unsigned long iters,
                          unsigned long spike, size_t at)
{
    enum { N = 64, CALLS = 5000, NQ = 8 };
    static const char *const what[NQ] = { "call",
                                          "caller's first item",
                                          "helper's first item",
                                          "after caller's last",
                                          "after helper's last",
                                          "caller between items",
                                          "helper between items",
                                          "caller's items (count)" };
    peer_pool tp;
    int opened = peer_open(system, "timeline", 2, &tp);
    if (opened != 0)
        return opened > 0;
    double rt[5];
    bool cut = false;
    for (int k = 0; k < 5; k++) {
        bool c;
        rt[k] = pingpong_ns(&c);
        cut = cut || c;
    }
    small_iters = iters / 10 ? iters / 10 : 1;
    spike_set(spike, at, N, 2);
    double *q = must_alloc(NQ * (size_t)CALLS * sizeof(double));
    double *med = must_alloc(NQ * (size_t)reps * sizeof(double));

    printf("# cache line round trip between two threads: %.0f ns (median of 5)%s\n",
           median(rt, 5), cut ? PP_CUT_NOTE : "");
    printf("# %s: %d items of %lu bench_work iterations, pool of 2, %d calls a run, medians of "
           "%d runs; us from the call's start, after an item's end, or in all between items\n",
           system, N, small_iters, CALLS, reps);
    if (spike)
        printf("# item %zu costs %lu items more\n", spike_at, spike);
    for (int r = 0; r < reps; r++) {
        int calls = 0;
        for (int c = 0; c < CALLS; c++) {
            memset(turns, 0, 2 * sizeof turns[0]);
            double t0 = now_s();
            if (small_call(pool, tp, N) != 0)
                return 1;
            double t1 = now_s();
            if (turns[0].items == 0 || turns[1].items == 0)
                continue; /* one thread ran every item */
            double *v = q + (size_t)calls;
            v[0] = (t1 - t0) * 1e6;
            v[1 * CALLS] = (turns[0].first - t0) * 1e6;
            v[2 * CALLS] = (turns[1].first - t0) * 1e6;
            v[3 * CALLS] = (t1 - turns[0].last) * 1e6;
            v[4 * CALLS] = (t1 - turns[1].last) * 1e6;
            v[5 * CALLS] = (turns[0].last - turns[0].first - turns[0].busy) * 1e6;
            v[6 * CALLS] = (turns[1].last - turns[1].first - turns[1].busy) * 1e6;
            v[7 * CALLS] = (double)turns[0].items;
            calls++;
        }
        if (calls == 0)
            return 1;
        for (int k = 0; k < NQ; k++)
            med[k * reps + r] = median(q + (size_t)k * CALLS, calls);
    }
    for (int k = 0; k < NQ; k++)
        printf("%-22s %7.3f%s\n", what[k], median(med + k * reps, reps),
               k == NQ - 1 ? "" : " us");
    peer_close(tp);
    free(med);
    free(q);
    return 0;
}

/* ---- /proc: the threads' counters (Linux) ---------------------------------- */

enum { IDLE_MAXT = 256 };

/* One thread's counters from /proc (Linux): ns on a CPU (schedstat) and
 * context switches, voluntary (it slept) and not (it was preempted). */
typedef struct idle_thread {
    long tid;
    unsigned long long run_ns, vol, invol;
} idle_thread;

static int idle_read(idle_thread *t, int max)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL && n < max) {
        char path[64], line[128];
        long tid = strtol(e->d_name, NULL, 10);
        if (tid <= 0)
            continue;
        idle_thread *x = &t[n];
        x->tid = tid;
        x->run_ns = x->vol = x->invol = 0;
        snprintf(path, sizeof path, "/proc/self/task/%ld/schedstat", tid);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        if (fscanf(f, "%llu", &x->run_ns) != 1)
            x->run_ns = 0;
        fclose(f);
        snprintf(path, sizeof path, "/proc/self/task/%ld/status", tid);
        f = fopen(path, "r");
        if (f == NULL)
            continue;
        while (fgets(line, sizeof line, f) != NULL) {
            sscanf(line, "voluntary_ctxt_switches: %llu", &x->vol);
            sscanf(line, "nonvoluntary_ctxt_switches: %llu", &x->invol);
        }
        fclose(f);
        n++;
    }
    closedir(d);
    return n;
}

static int cmp_ull(const void *a, const void *b)
{
    unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;
    return (x > y) - (x < y);
}

/* The workers' context switches between two idle_read()s: voluntary (a
 * sleep) and not (preempted); the caller (the main thread) left out. */
static void workers_switches(const idle_thread *before, int nb, const idle_thread *after,
                             int na, unsigned long long *vol, unsigned long long *invol)
{
    long self_tid = (long)getpid(); /* the main thread's id is the process's */
    *vol = *invol = 0;
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++)
            if (after[i].tid == before[j].tid && after[i].tid != self_tid) {
                *vol += after[i].vol - before[j].vol;
                *invol += after[i].invol - before[j].invol;
            }
}

/* ---- arrivals: when each thread of a bigger pool starts -------------------- */

static int probe_arrivals(const char *system, int nthreads, int reps, unsigned long iters)
{
    enum { N = 64, CALLS = 2000 };
    size_t nt = (size_t)nthreads;
    peer_pool tp;
    int opened = peer_open(system, "arrivals", nt, &tp);
    if (opened != 0)
        return opened > 0;
    bool own_pool = tp == NULL && peer_omp == 0;
    pool_t *pool = own_pool ? pool_create(nt) : NULL;
    if (own_pool && pool == NULL)
        return 1;
    small_iters = iters / 10 ? iters / 10 : 1;
    /* Per call: the threads' first starts in order (nt), the call, after
     * the last item, how many threads ran items, when the first thread to
     * run out of items ended its last. */
    size_t nq = nt + 4;
    double *q = must_alloc(nq * (size_t)CALLS * sizeof(double));
    double *med = must_alloc(nq * (size_t)reps * sizeof(double));
    double first[PROBE_MAXT];

    static idle_thread before[IDLE_MAXT], after[IDLE_MAXT];
    double *sleeps = must_alloc(2 * (size_t)reps * sizeof(double)); /* per run, per call */
    double *preempts = sleeps + reps;

    printf("# %s: %d items of %lu bench_work iterations, pool of %d, %d calls a run, medians "
           "of %d runs; us from the call's start\n",
           system, N, small_iters, nthreads, CALLS, reps);
    for (int r = 0; r < reps; r++) {
        int nb = idle_read(before, IDLE_MAXT);
        for (int c = 0; c < CALLS; c++) {
            memset(turns, 0, nt * sizeof turns[0]);
            double t0 = now_s();
            if (small_call(pool, tp, N) != 0)
                return 1;
            double t1 = now_s(), end = t0, out = t1;
            size_t ran = 0;
            for (size_t k = 0; k < nt; k++) {
                if (turns[k].items == 0)
                    continue;
                first[ran++] = turns[k].first;
                if (turns[k].last > end)
                    end = turns[k].last;
                if (turns[k].last < out)
                    out = turns[k].last;
            }
            qsort(first, ran, sizeof first[0], cmp_double);
            /* A thread that ran nothing starts at the call's end. */
            for (size_t k = 0; k < nt; k++)
                q[k * CALLS + (size_t)c] = ((k < ran ? first[k] : t1) - t0) * 1e6;
            q[nt * CALLS + (size_t)c] = (t1 - t0) * 1e6;
            q[(nt + 1) * CALLS + (size_t)c] = (t1 - end) * 1e6;
            q[(nt + 2) * CALLS + (size_t)c] = (double)ran;
            q[(nt + 3) * CALLS + (size_t)c] = (out - t0) * 1e6;
        }
        for (size_t k = 0; k < nq; k++)
            med[k * (size_t)reps + (size_t)r] = median(q + k * CALLS, CALLS);
        int na = idle_read(after, IDLE_MAXT);
        unsigned long long vol = 0, invol = 0;
        if (nb >= 0 && na >= 0)
            workers_switches(before, nb, after, na, &vol, &invol);
        sleeps[r] = (double)vol / CALLS;
        preempts[r] = (double)invol / CALLS;
    }
    for (size_t k = 0; k < nt; k++)
        printf("thread %2zu starts      %7.3f us\n", k + 1, median(med + k * (size_t)reps, reps));
    printf("first thread out      %7.3f us\n", median(med + (nt + 3) * (size_t)reps, reps));
    printf("call                  %7.3f us\n", median(med + nt * (size_t)reps, reps));
    printf("after the last item   %7.3f us\n", median(med + (nt + 1) * (size_t)reps, reps));
    printf("threads that ran      %7.1f\n", median(med + (nt + 2) * (size_t)reps, reps));
    /* A worker that ran out of work and slept between calls must be woken
     * for the next; with a sleep or more per call the start waits on it. */
    printf("workers' sleeps       %7.2f per call\n", median(sleeps, reps));
    printf("workers preempted     %7.2f per call\n", median(preempts, reps));
    peer_close(tp);
    if (pool != NULL)
        pool_destroy(pool);
    free(sleeps);
    free(med);
    free(q);
    return 0;
}

#ifdef POOL_ACCOUNT
/* The accounting build (bench_probe_account): the pool's threads' time
 * between two reads, by category, in thread-microseconds per call, and
 * the events per call. The switches cost a tick read each and some
 * stores (17-26 ns on the Xeon VM, 9 on the 2-core VM), several per
 * chunk: they slow the calls they measure. */
typedef struct acct_snap {
    unsigned long long ticks[POOL__ACCT_N], events[POOL__EV_N], now;
    unsigned long long mine[POOL__ACCT_N], mine_events[POOL__EV_N]; /* the caller's */
    double wall;
    unsigned threads; /* counted so far */
} acct_snap;

static void acct_take(acct_snap *a)
{
    pool__acct_read(a->ticks, a->events);
    pool__acct_read_mine(a->mine, a->mine_events);
    a->now = pool__acct_now();
    a->wall = now_s();
    a->threads = pool__acct_threads();
}

/* Adds the span from a to b to sum (its ticks, events, clock and wall). */
static void acct_add_span(acct_snap *sum, const acct_snap *a, const acct_snap *b)
{
    for (int c = 0; c < POOL__ACCT_N; c++) {
        sum->ticks[c] += b->ticks[c] - a->ticks[c];
        sum->mine[c] += b->mine[c] - a->mine[c];
    }
    for (int e = 0; e < POOL__EV_N; e++) {
        sum->events[e] += b->events[e] - a->events[e];
        sum->mine_events[e] += b->mine_events[e] - a->mine_events[e];
    }
    sum->now += b->now - a->now;
    sum->wall += b->wall - a->wall;
    sum->threads = b->threads;
}

/* Waits (up to a second) until the pool's workers have started and been
 * counted, so that the runs' figures cover every thread. */
static void acct_wait_workers(int nthreads)
{
    for (int k = 0; k < 1000 && pool__acct_threads() < (unsigned)(nthreads - 1); k++) {
        struct timespec ms = { 0, 1000000 };
        nanosleep(&ms, NULL);
    }
}

/* Prints the span from a to b; 1 when the workers' categories do not add
 * up to their time (each is always in one: within 5 %), else 0. Checked
 * only when every thread of the pool had been counted by a: a worker that
 * has not yet run (many threads on few CPUs) is charged nothing. */
static int acct_print(const acct_snap *a, const acct_snap *b, int calls, int nthreads)
{
    static const char *const cat[POOL__ACCT_N] = { "outside", "other", "setup", "loop",
                                                   "finish", "take", "leave", "body",
                                                   "claim", "steal", "lock-wait", "lock-held",
                                                   "join", "idle", "sleep" };
    static const char *const ev[POOL__EV_N] = { "chunks", "claims", "steals", "stolen",
                                                "locks", "picks", "idle-turns", "sleeps",
                                                "switches" };
    double us_per_tick = (b->wall - a->wall) * 1e6 / (double)(b->now - a->now);
    double span = (b->wall - a->wall) * 1e6 / calls;
    printf("# account: thread-us a call by category (the pool's %d threads' time is %.1f "
           "a call; the caller's time outside its calls not counted)\n",
           nthreads, span * nthreads);
    double sums[2] = { 0, 0 };
    for (int who = 0; who < 2; who++) { /* the caller, then the others */
        double sum = 0;
        printf("#   %-8s", who == 0 ? "caller" : "workers");
        for (int c = 1; c < POOL__ACCT_N; c++) {
            unsigned long long mine = b->mine[c] - a->mine[c];
            unsigned long long all = b->ticks[c] - a->ticks[c];
            double v = (double)(who == 0 ? mine : all - mine) * us_per_tick / calls;
            sum += v;
            if (v >= 0.05)
                printf(" %s %.1f", cat[c], v);
        }
        printf("  (sum %.1f)\n", sum);
        sums[who] = sum;
    }
    printf("#   events a call (the caller's):");
    for (int e = 0; e < POOL__EV_N; e++)
        printf(" %s %.1f (%.1f)", ev[e], (double)(b->events[e] - a->events[e]) / calls,
               (double)(b->mine_events[e] - a->mine_events[e]) / calls);
    /* What the accounting costs itself: switches back and forth between
     * two categories, timed here, spread over whatever they switch from
     * and to (mostly loop, claim and body). */
    enum { PAIRS = 100000 };
    double t0 = now_s();
    for (int k = 0; k < PAIRS; k++)
        pool__acct_switch(pool__acct_switch(POOL__ACCT_OTHER));
    double per = (now_s() - t0) / (2.0 * PAIRS) * 1e9;
    printf("\n#   a switch costs %.1f ns here: %.1f thread-us a call of the above are the "
           "accounting's own\n",
           per, (double)(b->events[POOL__EV_SWITCHES] - a->events[POOL__EV_SWITCHES]) * per /
                    1e3 / calls);
    if (nthreads < 2)
        return 0; /* a pool of 1 runs calls in place: nothing is charged */
    double workers = sums[1] / ((double)(nthreads - 1) * span);
    printf("#   accounted: %.1f %% of the workers' time\n", 100.0 * workers);
    if (a->threads != (unsigned)nthreads || b->threads != (unsigned)nthreads) {
        printf("#   (%u of %d threads counted: not checked)\n", a->threads, nthreads);
        return 0;
    }
    if (workers < 0.95 || workers > 1.05 || sums[0] > 1.05 * span) {
        fprintf(stderr, "bench_probe: accounting mismatch: workers %.3f of their time, "
                        "the caller %.1f us of %.1f\n", workers, sums[0], span);
        return 1;
    }
    return 0;
}
#endif

/* ---- nested: W6 on a pool of N -------------------------------------------- */

/* --sample: where the pool's threads block while a run's calls go on (not
 * between runs, when the pool idles), from /proc/self/task/T/syscall read
 * in a loop by a thread of the probe's own (Linux): per system call
 * (202 is futex on x86-64) and its first two arguments, the address as an
 * offset from the pool's (inside the pool: its lock, condition variables
 * and parking word; see `ptype /o pool_t` in gdb) and the futex operation.
 * The sampler takes about half a CPU: a diagnosis, not a timing. */
typedef struct wait_key {
    long nr;
    long long where; /* first argument minus the pool's address */
    unsigned long op;
    int caller; /* the main thread (the outer call's caller) */
    long count;
} wait_key;

enum { WAIT_KEYS = 48 };
static wait_key wait_keys[WAIT_KEYS];
static int nwait_keys;
static long wait_samples, wait_running, wait_other;
static atomic_bool sampling;
static atomic_bool sample_now; /* a run's calls are going on: record */
static uintptr_t sample_base;

static void sample_one(long tid, int caller)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%ld/syscall", tid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    if (fgets(line, sizeof line, f) != NULL) {
        long nr;
        unsigned long a0, a1;
        wait_samples++;
        if (sscanf(line, "%ld %lx %lx", &nr, &a0, &a1) != 3) {
            wait_running++;
        } else {
            long long where = (long long)(a0 - sample_base);
            int k = 0;
            while (k < nwait_keys && !(wait_keys[k].nr == nr && wait_keys[k].where == where &&
                                       wait_keys[k].op == a1 && wait_keys[k].caller == caller))
                k++;
            if (k == nwait_keys && nwait_keys < WAIT_KEYS)
                wait_keys[nwait_keys++] = (wait_key){ nr, where, a1, caller, 0 };
            if (k < nwait_keys)
                wait_keys[k].count++;
            else
                wait_other++;
        }
    }
    fclose(f);
}

static void *sampler_main(void *arg)
{
    (void)arg;
    char self[32];
    snprintf(self, sizeof self, "%ld", (long)syscall(SYS_gettid));
    long main_tid = (long)getpid();
    while (atomic_load(&sampling)) {
        DIR *d = opendir("/proc/self/task");
        struct dirent *e;
        if (d == NULL)
            return NULL;
        while ((e = readdir(d)) != NULL) {
            long tid = strtol(e->d_name, NULL, 10);
            if (tid > 0 && strcmp(e->d_name, self) != 0 && atomic_load(&sample_now))
                sample_one(tid, tid == main_tid);
        }
        closedir(d);
        struct timespec pause_ts = { 0, 200000 };
        nanosleep(&pause_ts, NULL);
    }
    return NULL;
}

static int cmp_wait_key(const void *a, const void *b)
{
    long x = ((const wait_key *)a)->count, y = ((const wait_key *)b)->count;
    return (x < y) - (x > y);
}

static void sample_report(void)
{
    qsort(wait_keys, (size_t)nwait_keys, sizeof wait_keys[0], cmp_wait_key);
    printf("# --sample: %ld samples of the threads' system calls; running (none): %.1f %%\n",
           wait_samples, wait_samples ? 100.0 * wait_running / wait_samples : 0.0);
    for (int k = 0; k < nwait_keys; k++)
        printf("#   %5.1f %%  %-6s syscall %3ld  arg0 pool%+lld  arg1 0x%lx\n",
               100.0 * wait_keys[k].count / (wait_samples ? wait_samples : 1),
               wait_keys[k].caller ? "caller" : "worker", wait_keys[k].nr, wait_keys[k].where,
               wait_keys[k].op);
    if (wait_other)
        printf("#   %5.1f %%  other\n", 100.0 * wait_other / wait_samples);
}

static pool_t *nested_pool;
static size_t nested_n;
static unsigned long nested_iters;
static double *nested_out;

static int nested_inner(void *ctx, size_t b, size_t e)
{
    size_t o = *(const size_t *)ctx;
    double t0 = now_s();
    for (size_t i = b; i < e; i++) {
        size_t k = o * nested_n + i;
        nested_out[k] += bench_work(k, nested_iters);
    }
    turn_item(t0, now_s());
    return 0;
}

static double nested_began[4096]; /* per outer item, this call */

static int nested_outer(void *ctx, size_t o)
{
    (void)ctx;
    nested_began[o] = now_s();
    return pool_for_range(nested_pool, nested_n, nested_inner, &o);
}

/* W6 on a pool of N (see the mode's comment); checks every item's sum. */
static int probe_nested(int nthreads, size_t outer, int reps, unsigned long iters, int sample)
{
    enum { CALLS = 50 };
    static idle_thread before[IDLE_MAXT], after[IDLE_MAXT];
    nested_pool = pool_create((size_t)nthreads);
    if (nested_pool == NULL)
        return 1;
#ifdef POOL_ACCOUNT
    acct_wait_workers(nthreads);
#endif
    pthread_t sampler;
    sample_base = (uintptr_t)nested_pool;
    atomic_store(&sampling, sample != 0);
    if (sample && pthread_create(&sampler, NULL, sampler_main, NULL) != 0)
        return 1;
    nested_n = 10000;
    nested_iters = iters / 100 ? iters / 100 : 1;
    nested_out = must_alloc(outer * nested_n * sizeof(double));
    memset(nested_out, 0, outer * nested_n * sizeof(double));
    double *t = must_alloc(CALLS * sizeof(double));
    size_t nt = (size_t)nthreads, nq = 2 * nt + outer;
    /* per call: the k-th thread's first chunk start and last chunk end,
     * the k-th outer item's start */
    double *q = must_alloc(nq * CALLS * sizeof(double));
    double *med = must_alloc(nq * (size_t)reps * sizeof(double));
    double *first = must_alloc(nt * sizeof(double)), *last = must_alloc(nt * sizeof(double));

    printf("# W6 on a pool of %d: %zu outer items, each a pool_for_range of %zu items of %lu "
           "bench_work iterations; %d calls a run\n",
           nthreads, outer, nested_n, nested_iters, CALLS);
    printf("# in-chunks: the threads' time in inner chunks over N x the run's; chunks: inner "
           "chunks (claims) per call; sleeps and preempted: the workers' context switches per "
           "call (a sleep, or a wait for a lock)\n");
    printf("# run  ms/call  in-chunks  chunks  ran  sleeps  preempted\n");
    for (int r = 0; r < reps; r++) {
        int nb = idle_read(before, IDLE_MAXT);
        double r0 = now_s(), busy = 0, chunks = 0;
        int ran = 0;
        atomic_store(&sample_now, true);
#ifdef POOL_ACCOUNT
        acct_snap acct_before, acct_after;
        acct_take(&acct_before);
#endif
        for (int c = 0; c < CALLS; c++) {
            memset(turns, 0, sizeof turns);
            double t0 = now_s();
            if (pool_for(nested_pool, outer, nested_outer, NULL) != 0)
                return 1;
            double t1 = now_s();
            t[c] = (t1 - t0) * 1e3;
            size_t n = 0;
            for (int k = 0; k < PROBE_MAXT; k++) {
                busy += turns[k].busy;
                chunks += turns[k].items; /* nested_inner counts chunks */
                if (turns[k].items > 0 && n < nt) {
                    first[n] = turns[k].first;
                    last[n++] = turns[k].last;
                }
            }
            ran = (int)n > ran ? (int)n : ran;
            qsort(first, n, sizeof first[0], cmp_double);
            qsort(last, n, sizeof last[0], cmp_double);
            /* A thread that ran no chunk starts at the call's end and runs
             * out at its start. */
            for (size_t k = 0; k < nt; k++) {
                q[k * CALLS + (size_t)c] = ((k < n ? first[k] : t1) - t0) * 1e6;
                q[(nt + k) * CALLS + (size_t)c] = ((k >= nt - n ? last[k - (nt - n)] : t0) - t0) * 1e6;
            }
            qsort(nested_began, outer, sizeof nested_began[0], cmp_double);
            for (size_t k = 0; k < outer; k++)
                q[(2 * nt + k) * CALLS + (size_t)c] = (nested_began[k] - t0) * 1e6;
        }
#ifdef POOL_ACCOUNT
        acct_take(&acct_after);
#endif
        for (size_t k = 0; k < nq; k++)
            med[k * (size_t)reps + (size_t)r] = median(q + k * CALLS, CALLS);
        atomic_store(&sample_now, false);
        double span = now_s() - r0;
        int na = idle_read(after, IDLE_MAXT);
        unsigned long long vol = 0, invol = 0;
        if (nb >= 0 && na >= 0)
            workers_switches(before, nb, after, na, &vol, &invol);
        printf("%5d %8.3f %10.3f %7.0f %4d %7.2f %10.2f\n", r, median(t, CALLS),
               busy / ((double)nthreads * span), chunks / CALLS, ran, (double)vol / CALLS,
               (double)invol / CALLS);
#ifdef POOL_ACCOUNT
        if (acct_print(&acct_before, &acct_after, CALLS, nthreads) != 0)
            return 1;
#endif
    }
    /* Each call added bench_work(k) to item k once, in call order. */
    for (size_t k = 0; k < outer * nested_n; k++) {
        double acc = bench_work_summed(k, nested_iters, (size_t)reps * CALLS);
        if (nested_out[k] != acc) {
            fprintf(stderr, "bench_probe: nested item %zu: %g, not %g\n", k, nested_out[k], acc);
            return 1;
        }
    }
    printf("# per call, medians: when the k-th thread to run a chunk started its first, "
           "and when the k-th to run out ended its last (us from the call's start)\n");
    for (size_t k = 0; k < nt; k++)
        printf("thread %2zu  starts %8.1f  runs out %8.1f\n", k + 1,
               median(med + k * (size_t)reps, reps), median(med + (nt + k) * (size_t)reps, reps));
    printf("# when the k-th outer item began (us from the call's start): a late one queues "
           "its inner call late, and wakes workers that slept\n");
    for (size_t k = 0; k < outer; k++)
        printf("outer %2zu  begins %8.1f\n", k + 1, median(med + (2 * nt + k) * (size_t)reps, reps));
    free(last);
    free(first);
    free(med);
    free(q);
    printf("# every item's sum checked\n");
    if (sample) {
        atomic_store(&sampling, false);
        pthread_join(sampler, NULL);
        sample_report();
    }
    pool_destroy(nested_pool);
    free(t);
    free(nested_out);
    return 0;
}

/* ---- callers: many threads calling one pool ------------------------------ */

enum { CALLERS_MAX = 64, CALLERS_ITEMS = 64 };

typedef struct callers_arg {
    pool_t *pool;
    int calls;
    double seconds; /* out: this caller's time for its calls */
    int rc;         /* out */
    _Alignas(64) double sink[CALLERS_ITEMS];
} callers_arg;

static int callers_item(void *ctx, size_t i)
{
    callers_arg *a = ctx;
    a->sink[i] += bench_work(i, small_iters);
    return 0;
}

static void *callers_main(void *p)
{
    callers_arg *a = p;
    double t0 = now_s();
    for (int c = 0; c < a->calls && a->rc == 0; c++)
        a->rc = pool_for(a->pool, CALLERS_ITEMS, callers_item, a);
    a->seconds = now_s() - t0;
    return NULL;
}

/* M threads (not the pool's) each make C small calls on one pool of N at
 * once: the pool's throughput, and what a caller waits, with callers
 * queued behind one another. Checks every item's sum. */
static int probe_callers(int nthreads, int ncallers, int reps, unsigned long iters)
{
    enum { CALLS = 1000 };
    pool_t *pool = pool_create((size_t)nthreads);
    if (pool == NULL)
        return 1;
    callers_arg *args = must_alloc((size_t)ncallers * sizeof *args);
    double *per_call = must_alloc((size_t)reps * sizeof(double));
    double *through = must_alloc((size_t)reps * sizeof(double));
    pthread_t th[CALLERS_MAX];
    small_iters = iters / 10 ? iters / 10 : 1;
    memset(args, 0, (size_t)ncallers * sizeof *args);
    printf("# %d callers, each %d calls of %d items of %lu bench_work iterations, on one pool of "
           "%d; medians of %d runs\n",
           ncallers, CALLS, CALLERS_ITEMS, small_iters, nthreads, reps);
    for (int r = 0; r < reps; r++) {
        double t0 = now_s(), sum = 0;
        int started = 0;
        for (int k = 0; k < ncallers; k++) {
            args[k].pool = pool;
            args[k].calls = CALLS;
            if (pthread_create(&th[k], NULL, callers_main, &args[k]) != 0)
                break;
            started++;
        }
        for (int k = 0; k < started; k++)
            pthread_join(th[k], NULL);
        double wall = now_s() - t0;
        if (started < ncallers) {
            fprintf(stderr, "bench_probe: pthread_create failed\n");
            return 1;
        }
        for (int k = 0; k < ncallers; k++) {
            if (args[k].rc != 0)
                return 1;
            sum += args[k].seconds;
        }
        per_call[r] = sum / ncallers / CALLS * 1e6;
        through[r] = wall / ((double)ncallers * CALLS) * 1e6;
    }
    for (int k = 0; k < ncallers; k++)
        for (size_t i = 0; i < CALLERS_ITEMS; i++) {
            double acc = bench_work_summed(i, small_iters, (size_t)reps * CALLS);
            if (args[k].sink[i] != acc) {
                fprintf(stderr, "bench_probe: caller %d item %zu: %g, not %g\n", k, i,
                        args[k].sink[i], acc);
                return 1;
            }
        }
    printf("a caller's call      %9.2f us\n", median(per_call, reps));
    printf("wall time per call   %9.2f us (all callers' calls over the run)\n",
           median(through, reps));
    printf("# every item's sum checked\n");
    pool_destroy(pool);
    free(through);
    free(per_call);
    free(args);
    return 0;
}

/* ---- ceiling: W3's items on threads that never meet ----------------------- */

/* One of the ceiling's raw threads: a contiguous share of the items, run
 * after a barrier; its own start and end. One line each. */
typedef struct ceiling_thread {
    _Alignas(64) size_t begin, end;
    double start, stop;
    pthread_t t;
} ceiling_thread;

static struct {
    pthread_barrier_t go, done;
    ceiling_thread th[PROBE_MAXT];
    bench_data d; /* out and iters: W3's item, bench_uniform_item */
    bool quit;
} ceil_;

static void ceiling_share(ceiling_thread *c)
{
    c->start = now_s();
    for (size_t i = c->begin; i < c->end; i++)
        bench_uniform_item(&ceil_.d, i);
    c->stop = now_s();
}

static void *ceiling_main(void *p)
{
    ceiling_thread *c = p;
    for (;;) {
        pthread_barrier_wait(&ceil_.go);
        if (ceil_.quit)
            return NULL;
        ceiling_share(c);
        pthread_barrier_wait(&ceil_.done);
    }
}

static int uniform_item(void *ctx, size_t i)
{
    (void)ctx;
    bench_uniform_item(&ceil_.d, i);
    return 0;
}

/* Compare out[0..n) with the serial answer in ref; 0 when equal. */
static int ceiling_check(const char *what, const double *out, const double *ref, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (out[i] != ref[i]) {
            fprintf(stderr, "bench_probe: %s: item %zu is %g, not %g\n", what, i, out[i],
                    ref[i]);
            return 1;
        }
    return 0;
}

/*
 * What the machine gives N threads that share nothing: W3's uniform items
 * (bench_work, K iterations each) split into N contiguous shares, one per
 * raw thread, started by one barrier (the calling thread runs share 0) and
 * timed from the release to the last share's end. No scheduler can do
 * better with items of equal cost, so its speedup is the ceiling for
 * `>= 0.97 x threads`: what it misses is the machine's (the threads' items
 * run slower with N busy: a lower all-core clock, shared caches, the
 * host), not a scheduler's. Then poolmap's pool_for of the same items.
 * The three in turns in one process, medians of R runs; every run's
 * results checked against the serial loop's.
 */
static int probe_ceiling(int nthreads, int reps, unsigned long iters, size_t n)
{
    enum { SERIAL, STATIC, POOLMAP, NSYS };
    double *ref = must_alloc(n * sizeof *ref);
    ceil_.d.out = must_alloc(n * sizeof *ceil_.d.out);
    ceil_.d.iters = iters;
    double *t = must_alloc((size_t)NSYS * (size_t)reps * sizeof(double));
    double *rate = must_alloc((size_t)reps * sizeof(double));
    double *spread = must_alloc((size_t)reps * sizeof(double));
    int rc = 1, started = 0;
    pool_t *pool = NULL;

    for (size_t i = 0; i < n; i++)
        ref[i] = bench_work(i, iters);
    if (pthread_barrier_init(&ceil_.go, NULL, (unsigned)nthreads) != 0 ||
        pthread_barrier_init(&ceil_.done, NULL, (unsigned)nthreads) != 0) {
        fprintf(stderr, "bench_probe: pthread_barrier_init failed\n");
        return 1;
    }
    for (int k = 0; k < nthreads; k++) {
        ceil_.th[k].begin = n * (size_t)k / (size_t)nthreads;
        ceil_.th[k].end = n * (size_t)(k + 1) / (size_t)nthreads;
    }
    for (int k = 1; k < nthreads; k++) {
        if (pthread_create(&ceil_.th[k].t, NULL, ceiling_main, &ceil_.th[k]) != 0) {
            /* The barriers count every thread: those started wait forever. */
            fprintf(stderr, "bench_probe: pthread_create failed\n");
            exit(1);
        }
        started++;
    }
    pool = pool_create((size_t)nthreads);
    if (pool == NULL) {
        fprintf(stderr, "bench_probe: pool_create failed\n");
        goto out;
    }
    printf("# %zu items of %lu bench_work iterations, %d threads; a serial loop, %d raw "
           "threads with a static share each, poolmap's pool_for, in turns; medians of %d "
           "runs after one untimed\n",
           n, iters, nthreads, nthreads, reps);
    for (int r = -1; r < reps; r++) { /* run -1: warm-up */
        for (int s = 0; s < NSYS; s++) {
            memset(ceil_.d.out, 0, n * sizeof *ceil_.d.out);
            double t0 = now_s();
            if (s == SERIAL) {
                for (size_t i = 0; i < n; i++)
                    (void)uniform_item(NULL, i);
            } else if (s == STATIC) {
                if (nthreads > 1)
                    pthread_barrier_wait(&ceil_.go);
                ceiling_share(&ceil_.th[0]);
                if (nthreads > 1)
                    pthread_barrier_wait(&ceil_.done);
            } else if (pool_for(pool, n, uniform_item, NULL) != 0) {
                fprintf(stderr, "bench_probe: pool_for failed\n");
                goto out;
            }
            double wall = now_s() - t0;
            static const char *const what[NSYS] = { "serial loop", "static threads", "poolmap" };
            if (ceiling_check(what[s], ceil_.d.out, ref, n) != 0)
                goto out;
            if (r < 0)
                continue;
            t[s * reps + r] = wall * 1e3;
            if (s == STATIC) {
                /* The threads' items against the lone thread's, and how far
                 * apart the shares ended. */
                double busy = 0, first = ceil_.th[0].stop, last = first;
                for (int k = 0; k < nthreads; k++) {
                    busy += ceil_.th[k].stop - ceil_.th[k].start;
                    first = ceil_.th[k].stop < first ? ceil_.th[k].stop : first;
                    last = ceil_.th[k].stop > last ? ceil_.th[k].stop : last;
                }
                rate[r] = t[SERIAL * reps + r] * 1e-3 / busy;
                spread[r] = (last - first) * 1e3;
            }
        }
    }
    double serial = median(t + SERIAL * reps, reps);
    double stat = median(t + STATIC * reps, reps);
    double pm = median(t + POOLMAP * reps, reps);
    printf("serial loop      %9.2f ms\n", serial);
    printf("static threads   %9.2f ms  speedup %6.2f = %.3f x threads\n", stat, serial / stat,
           serial / stat / nthreads);
    printf("poolmap          %9.2f ms  speedup %6.2f = %.3f x threads, %.3f of the static "
           "threads'\n",
           pm, serial / pm, serial / pm / nthreads, stat / pm);
    printf("# static threads: their items ran at %.3f of the serial loop's rate; the shares "
           "ended within %.2f ms of each other\n",
           median(rate, reps), median(spread, reps));
    printf("# every run's items checked against the serial loop's\n");
    rc = 0;
out:
    ceil_.quit = true;
    if (started > 0)
        pthread_barrier_wait(&ceil_.go);
    for (int k = 1; k <= started; k++)
        pthread_join(ceil_.th[k].t, NULL);
    pthread_barrier_destroy(&ceil_.done);
    pthread_barrier_destroy(&ceil_.go);
    if (pool != NULL)
        pool_destroy(pool);
    free(spread);
    free(rate);
    free(t);
    free(ceil_.d.out);
    free(ref);
    return rc;
}

/* ---- costs: the machine's prices for what a scheduler does ------------------ */

/* The first line of a small text file, or "?" (its newline dropped). */
static void read_line(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (f == NULL || fgets(buf, (int)size, f) == NULL)
        snprintf(buf, size, "?");
    else
        buf[strcspn(buf, "\n")] = '\0';
    if (f != NULL)
        fclose(f);
}

static volatile unsigned long long costs_sink;

/* Prints ns per `op`, timed over `n` of them: the best of 5 runs. */
#define COSTS_TIME(label, n, op)                                                          \
    do {                                                                                  \
        double best = 1e30;                                                               \
        for (int run = 0; run < 5; run++) {                                               \
            double t0 = now_s();                                                          \
            for (long k = 0; k < (n); k++) {                                              \
                op;                                                                       \
            }                                                                             \
            double t = (now_s() - t0) / (double)(n)*1e9;                                  \
            best = t < best ? t : best;                                                   \
        }                                                                                 \
        printf("%-34s %8.1f ns\n", label, best);                                          \
    } while (0)

#if defined(__linux__)
/* A cache line's round trip between CPU 0 and CPU `cpu`, both pinned, in ns
 * (-1 when either cannot be pinned). */
static int pp_cpu;

static int pin_to(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static atomic_int pp_pinned; /* the other thread: 1 pinned, -1 could not be */

static void *pinned_other(void *arg)
{
    (void)arg;
    if (pin_to(pp_cpu) != 0) {
        atomic_store(&pp_pinned, -1);
        return NULL;
    }
    atomic_store(&pp_pinned, 1);
    return pingpong_other(NULL);
}

static double pingpong_pinned(int cpu, bool *cut)
{
    cpu_set_t old;
    pthread_t t;
    *cut = false;
    if (pthread_getaffinity_np(pthread_self(), sizeof old, &old) != 0 || pin_to(0) != 0)
        return -1;
    pp_cpu = cpu;
    atomic_store(&pp_flag, 0);
    atomic_store(&pp_pinned, 0);
    double ns = -1;
    if (pthread_create(&t, NULL, pinned_other, NULL) == 0) {
        while (atomic_load(&pp_pinned) == 0)
            sched_yield(); /* it may have started on this CPU */
        if (atomic_load(&pp_pinned) < 0) { /* that CPU is not ours to use */
            pthread_join(t, NULL);
            pthread_setaffinity_np(pthread_self(), sizeof old, &old);
            return -1;
        }
        ns = pingpong_lead(cut);
        pthread_join(t, NULL);
    }
    pthread_setaffinity_np(pthread_self(), sizeof old, &old);
    return ns;
}
#endif

/* The CPUs this process may run on (its affinity mask on Linux), at least 1. */
static int cpus_allowed(void)
{
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 1 ? (int)n : 1;
}

static int probe_costs(void)
{
    char buf[256];
    read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource", buf,
              sizeof buf);
    printf("# clocksource: %s\n", buf);
    read_line("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list", buf, sizeof buf);
    printf("# CPU 0's hyperthread siblings: %s\n", buf);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    printf("# online CPUs: %ld; each figure the best of 5 runs\n", ncpu);

    struct timespec ts;
    COSTS_TIME("clock_gettime(CLOCK_MONOTONIC)", 1000000,
               clock_gettime(CLOCK_MONOTONIC, &ts);
               costs_sink += (unsigned long long)ts.tv_nsec);
#if defined(__x86_64__)
    COSTS_TIME("rdtsc", 1000000, costs_sink += __builtin_ia32_rdtsc());
    COSTS_TIME("pause", 1000000, _mm_pause());
#endif
    _Alignas(64) atomic_ulong word = 0;
    COSTS_TIME("compare-exchange, uncontended", 1000000, {
        unsigned long v = atomic_load_explicit(&word, memory_order_relaxed);
        atomic_compare_exchange_strong(&word, &v, v + 1);
    });
    COSTS_TIME("sched_yield", 100000, sched_yield());
    if (cpus_allowed() < 2) {
        /* Two threads on one CPU hand the line over by switching: the
         * figure would be the scheduler's, not the cache's. */
        printf("# one CPU allowed: no line round trips\n");
        return 0;
    }
    bool cut;
    double rt = pingpong_ns(&cut);
    printf("%-34s %8.1f ns%s\n", "line round trip, unpinned threads", rt, cut ? PP_CUT_NOTE : "");
#if defined(__linux__)
    int cpus[3] = { 1, (int)(ncpu / 2), (int)(ncpu - 1) };
    for (int k = 0; k < 3; k++) {
        if (cpus[k] < 1 || cpus[k] >= ncpu || (k > 0 && cpus[k] == cpus[k - 1]))
            continue;
        snprintf(buf, sizeof buf, "line round trip, CPUs 0 and %d", cpus[k]);
        double ns = pingpong_pinned(cpus[k], &cut);
        if (ns < 0)
            printf("%-34s %8s (cannot pin there)\n", buf, "-");
        else
            printf("%-34s %8.1f ns%s\n", buf, ns, cut ? PP_CUT_NOTE : "");
    }
#endif
    return 0;
}

/* ---- small: W5's call, the systems in turns in one process ------------------ */

static volatile double plain_sink[64];

/* The serial driver's item, without the probe's clock reads. */
static int plain_item(void *ctx, size_t i)
{
    (void)ctx;
    plain_sink[i] += bench_work(i, small_iters);
    return 0;
}

/* small's item with --spike (plain_item has no test for it). */
static int spike_item(void *ctx, size_t i)
{
    (void)ctx;
    plain_sink[i] += bench_work(i, small_item_iters(i));
    return 0;
}

#ifdef BENCH_PROBE_PTHREADPOOL
static void plain_task(void *ctx, size_t i)
{
    (void)plain_item(ctx, i);
}

static void spike_task(void *ctx, size_t i)
{
    (void)spike_item(ctx, i);
}
#endif

static int probe_small(int nthreads, int reps, unsigned long iters, unsigned long spike,
                       size_t at)
{
    enum { N = 64, NSYS = 3 };
    pool_for_fn item = spike ? spike_item : plain_item;
#ifdef BENCH_PROBE_PTHREADPOOL
    pthreadpool_task_1d_t task = spike ? spike_task : plain_task;
#endif
    spike_set(spike, at, N, nthreads);
    static const char *const name[NSYS] = { "serial loop", "poolmap", "pthreadpool" };
    int calls = 1000, settle = 100;
    small_iters = iters / 10 ? iters / 10 : 1;
    int ncpu = cpus_allowed();
    if (ncpu < nthreads) {
        /* pthreadpool's worker spins after a call on the CPU its caller
         * needs: each call can wait out a time slice (1000 calls: seconds). */
        calls = 50;
        settle = 5;
        printf("# %d CPU(s) for %d threads: fewer calls a block\n", ncpu, nthreads);
    }
    pool_t *pool = pool_create((size_t)nthreads);
    if (pool == NULL)
        return 1;
#ifdef POOL_ACCOUNT
    acct_wait_workers(nthreads);
#endif
    int nsys = 2;
    peer_pool tp = NULL;
#ifdef BENCH_PROBE_PTHREADPOOL
    tp = pthreadpool_create((size_t)nthreads);
    if (tp == NULL) {
        pool_destroy(pool);
        return 1;
    }
    nsys = 3;
#endif
    double *t = must_alloc((size_t)NSYS * (size_t)reps * sizeof(double));
    int rc = 0;
    printf("# %d items of %lu bench_work iterations, %d threads, %d calls a block after %d "
           "untimed, the systems in turns, medians of %d blocks (us per call)\n",
           N, small_iters, nthreads, calls, settle, reps);
    if (spike)
        printf("# item %zu costs %lu items more\n", spike_at, spike);
#ifdef POOL_ACCOUNT
    static acct_snap acct_sum, acct_zero; /* zero */
#endif
    for (int r = -1; r < reps; r++) { /* block -1: warm-up */
        for (int s = 0; s < nsys; s++) {
#ifdef POOL_ACCOUNT
            acct_snap acct_before, acct_after;
#endif
            double t0 = 0;
            for (int c = -settle; c < calls; c++) {
                if (c == 0) {
#ifdef POOL_ACCOUNT
                    acct_take(&acct_before);
#endif
                    t0 = now_s();
                }
                if (s == 0) {
                    for (size_t i = 0; i < N; i++)
                        item(NULL, i);
                } else if (s == 1) {
                    rc |= pool_for(pool, N, item, NULL);
                }
#ifdef BENCH_PROBE_PTHREADPOOL
                else {
                    pthreadpool_parallelize_1d(tp, task, NULL, N, 0);
                }
#endif
            }
            if (r >= 0)
                t[s * reps + r] = (now_s() - t0) / calls * 1e6;
#ifdef POOL_ACCOUNT
            acct_take(&acct_after);
            if (r >= 0 && s == 1) {
                acct_add_span(&acct_sum, &acct_before, &acct_after);
                /* the sum's start: as many threads as the fewest a block began with */
                if (acct_zero.threads == 0 || acct_before.threads < acct_zero.threads)
                    acct_zero.threads = acct_before.threads;
            }
#endif
        }
    }
    for (int s = 0; rc == 0 && s < nsys; s++)
        printf("%-12s %8.3f\n", name[s], median(t + s * reps, reps));
#ifdef POOL_ACCOUNT
    if (rc == 0) /* poolmap's blocks */
        rc |= acct_print(&acct_zero, &acct_sum, calls * reps, nthreads);
#endif
    free(t);
    peer_close(tp);
    pool_destroy(pool);
    return rc != 0;
}

/* ---- startup: a fresh pool's first calls ----------------------------------- */

static atomic_uint startup_helped; /* items of this call run off the caller */

static int startup_item(void *ctx, size_t i)
{
    (void)plain_item(ctx, i);
    if (this_thread() != 0)
        atomic_fetch_add_explicit(&startup_helped, 1, memory_order_relaxed);
    return 0;
}

#ifdef BENCH_PROBE_PTHREADPOOL
static void startup_task(void *ctx, size_t i)
{
    (void)startup_item(ctx, i);
}
#endif

/* One W5 call on pool or (set) tp; true when no other thread ran an item. */
static bool startup_call(pool_t *pool, peer_pool tp, int *rc)
{
    atomic_store(&startup_helped, 0);
#ifdef BENCH_PROBE_PTHREADPOOL
    if (tp != NULL)
        pthreadpool_parallelize_1d(tp, startup_task, NULL, 64, 0);
    else
#else
    (void)tp;
#endif
        *rc |= pool_for(pool, 64, startup_item, NULL);
    return atomic_load(&startup_helped) == 0;
}

static int probe_startup(const char *system, int nthreads, unsigned long iters)
{
    enum { CALLS = 2000, EARLY = 500, WARM = 100 };
    small_iters = iters / 10 ? iters / 10 : 1;
    pool_t *pool = NULL;
    peer_pool tp = NULL;
    int rc = 0;

    double t0 = now_s();
    int open = peer_open(system, "startup", (size_t)nthreads, &tp);
    if (open < 0)
        return 0;
    if (open == 0 && tp == NULL)
        pool = pool_create((size_t)nthreads);
    if (open != 0 || (tp == NULL && pool == NULL))
        return 1;
    double t1 = now_s(), t2 = t1;
    int alone = 0, last_alone = -1;
    for (int c = 0; c < CALLS; c++) {
        if (startup_call(pool, tp, &rc)) {
            alone++;
            last_alone = c;
        }
        if (c == EARLY - 1)
            t2 = now_s();
    }
    printf("%s, a fresh pool of %d: created in %.1f us; its first %d calls of 64 items of %lu "
           "bench_work iterations %.2f ms; %d of %d calls without a helper, the last call %d\n",
           system, nthreads, (t1 - t0) * 1e6, EARLY, small_iters, (t2 - t1) * 1e3, alone, CALLS,
           last_alone);
    peer_close(tp);
    pool_destroy(pool);

#ifdef BENCH_PROBE_PTHREADPOOL
    /* Both pools in one process, called in turns, one call each: whichever
     * pool's workers spin the longer after a call keeps the CPUs. With fewer
     * CPUs than threads pthreadpool's spinning makes each call wait out a
     * time slice (seconds in all), and nobody keeps a CPU: not run. */
    int ncpu = cpus_allowed();
    if (rc == 0 && ncpu < nthreads)
        printf("# %d CPU(s) for %d threads: the pools in turns not run\n", ncpu, nthreads);
    else if (rc == 0) {
        pool_t *pm = pool_create((size_t)nthreads);
        peer_pool pt = pthreadpool_create((size_t)nthreads);
        double *t[2] = { must_alloc(CALLS * sizeof(double)), must_alloc(CALLS * sizeof(double)) };
        int lone[2] = { 0, 0 };
        if (pm == NULL || pt == NULL)
            rc = 1;
        for (int c = -WARM; c < CALLS && rc == 0; c++) {
            for (int k = 0; k < 2; k++) {
                double c0 = now_s();
                bool a = startup_call(pm, k ? pt : NULL, &rc);
                if (c >= 0) {
                    t[k][c] = (now_s() - c0) * 1e6;
                    lone[k] += a;
                }
            }
        }
        if (rc == 0)
            printf("in turns with one call of pthreadpool's, %d calls each: poolmap %.2f us "
                   "a call, %d without a helper; pthreadpool %.2f us, %d without a helper\n",
                   CALLS, median(t[0], CALLS), lone[0], median(t[1], CALLS), lone[1]);
        free(t[1]);
        free(t[0]);
        peer_close(pt);
        pool_destroy(pm);
    }
#endif
    return rc != 0;
}

/* ---- idle: where a pool's CPU goes after a call ----------------------------- */

static int idle_item(void *ctx, size_t i)
{
    (void)ctx;
    double t0 = now_s();
    small_sink[i % 64] = bench_work(i, small_iters);
    turn_item(t0, now_s());
    return 0;
}

/* A call of 64 items of 10 us per thread on a pool of N (as the idle row
 * of bench/run.sh, common.c), then 1 s of sleep:
 * per thread, the CPU time and context switches from before the call to
 * the end of that second (see the mode's comment). */
static int probe_idle(int nthreads, int reps, unsigned long iters)
{
    static idle_thread before[IDLE_MAXT], after[IDLE_MAXT];
    unsigned long long cpu[IDLE_MAXT]; /* each worker's, sorted */
    pool_t *pool = pool_create((size_t)nthreads);
    if (pool == NULL)
        return 1;
    small_iters = iters;
    printf("# a call of %d items of %lu bench_work iterations on a pool of %d, then 1 s asleep; "
           "%d runs\n",
           64 * nthreads, iters, nthreads, reps);
    printf("# us of CPU from before the call to the end of the second\n");
    printf("# run  caller  workers  in-items  rest/worker  per-worker: min median max  ran  "
           "sleeps  preempted\n");
    struct timespec settle = { 0, 100000000 }; /* the workers' first spin ends */
    nanosleep(&settle, NULL);
    for (int r = 0; r < reps; r++) {
        int nb = idle_read(before, IDLE_MAXT);
        memset(turns, 0, sizeof turns);
        if (pool_for(pool, 64 * (size_t)nthreads, idle_item, NULL) != 0)
            return 1;
        double items = 0;
        int ran = 0;
        for (int k = 1; k < PROBE_MAXT; k++) { /* 0 is the caller */
            items += turns[k].busy;
            ran += turns[k].items > 0;
        }
        struct timespec ts = { 1, 0 };
        while (nanosleep(&ts, &ts) != 0) {
        }
        int na = idle_read(after, IDLE_MAXT);
        if (nb < 0 || na < 0)
            return 1;
        unsigned long long workers = 0, caller = 0, vol = 0, invol = 0;
        int nw = 0;
        long self_tid = (long)getpid(); /* the main thread's id is the process's */
        for (int i = 0; i < na; i++)
            for (int j = 0; j < nb; j++) {
                if (after[i].tid != before[j].tid)
                    continue;
                unsigned long long ns = after[i].run_ns - before[j].run_ns;
                if (after[i].tid == self_tid) {
                    caller = ns;
                    continue;
                }
                workers += ns;
                vol += after[i].vol - before[j].vol;
                invol += after[i].invol - before[j].invol;
                cpu[nw++] = ns;
            }
        qsort(cpu, (size_t)nw, sizeof cpu[0], cmp_ull);
        printf("%5d %7.1f %8.1f %9.1f %9.1f %16.1f %6.1f %6.1f %4d %7llu %10llu\n", r,
               (double)caller / 1e3, (double)workers / 1e3, items * 1e6,
               nw ? ((double)workers / 1e3 - items * 1e6) / nw : 0.0,
               nw ? (double)cpu[0] / 1e3 : 0.0, nw ? (double)cpu[nw / 2] / 1e3 : 0.0,
               nw ? (double)cpu[nw - 1] / 1e3 : 0.0, ran, vol, invol);
    }
    pool_destroy(pool);
    return 0;
}

/* ---- unzip: one thread, the ways to write a column ------------------------ */

#if defined(__x86_64__)
enum { UZ_N = 10000000 };

typedef void (*uz_fn)(const bench_triple *in, double *a, double *b, double *c);

static void uz_memcpy(const bench_triple *in, double *a, double *b, double *c)
{
    (void)b, (void)c;
    memcpy(a, in, (size_t)UZ_N * sizeof *in); /* a, b, c are back to back */
}

/* The same copy in 16-byte streaming stores, the widest a baseline x86-64
 * build has (src/map.c's streamed columns use them): what memcpy's own
 * wider stores and its loads from several pages at a time are worth. */
static void uz_stream_copy(const bench_triple *in, double *a, double *b, double *c)
{
    (void)b, (void)c;
    const __m128i *src = (const void *)in;
    __m128i *dst = (void *)a;
    for (size_t i = 0; i < (size_t)UZ_N * sizeof *in / 16; i++)
        _mm_stream_si128(dst + i, _mm_load_si128(src + i));
    _mm_sfence();
}

static void uz_cached_one_pass(const bench_triple *in, double *a, double *b, double *c)
{
    for (size_t i = 0; i < UZ_N; i++) {
        a[i] = in[i].a;
        b[i] = in[i].b;
        c[i] = in[i].c;
    }
}

/* Blocks of 341 tuples (8 KiB), one column after the other, as src/map.c
 * does below the streaming size. */
static void uz_cached_columns(const bench_triple *in, double *a, double *b, double *c)
{
    for (size_t i = 0; i < UZ_N; i += 341) {
        size_t e = i + 341 < UZ_N ? i + 341 : UZ_N;
        for (size_t j = i; j < e; j++)
            a[j] = in[j].a;
        for (size_t j = i; j < e; j++)
            b[j] = in[j].b;
        for (size_t j = i; j < e; j++)
            c[j] = in[j].c;
    }
}

static void uz_stream_columns(const bench_triple *in, double *a, double *b, double *c)
{
    for (size_t i = 0; i < UZ_N; i += 340) {
        size_t e = i + 340 < UZ_N ? i + 340 : UZ_N;
        for (size_t j = i; j < e; j += 2)
            _mm_stream_pd(a + j, _mm_set_pd(in[j + 1].a, in[j].a));
        for (size_t j = i; j < e; j += 2)
            _mm_stream_pd(b + j, _mm_set_pd(in[j + 1].b, in[j].b));
        for (size_t j = i; j < e; j += 2)
            _mm_stream_pd(c + j, _mm_set_pd(in[j + 1].c, in[j].c));
    }
    _mm_sfence();
}

/* By column in the same blocks, the next block's lines prefetched, half
 * after the first column and half after the second: src/map.c's way on
 * Intel's CPUs (stream_blocks), here in 16-byte stores. */
static void uz_stream_columns_prefetched(const bench_triple *in, double *a, double *b,
                                         double *c)
{
    enum { B = 340, LINES = (B * sizeof *in + 63) / 64 };
    for (size_t i = 0; i < UZ_N; i += B) {
        size_t e = i + B < UZ_N ? i + B : UZ_N;
        const char *next = (const char *)(in + e);
        bool ahead = e + B <= UZ_N;
        for (size_t j = i; j < e; j += 2)
            _mm_stream_pd(a + j, _mm_set_pd(in[j + 1].a, in[j].a));
        for (size_t l = 0; ahead && l < LINES / 2; l++)
            __builtin_prefetch(next + 64 * l);
        for (size_t j = i; j < e; j += 2)
            _mm_stream_pd(b + j, _mm_set_pd(in[j + 1].b, in[j].b));
        for (size_t l = LINES / 2; ahead && l < LINES; l++)
            __builtin_prefetch(next + 64 * l);
        for (size_t j = i; j < e; j += 2)
            _mm_stream_pd(c + j, _mm_set_pd(in[j + 1].c, in[j].c));
    }
    _mm_sfence();
}

/* The library itself, on a pool of 1 (the call runs in place). */
static pool_t *uz_pool;

static void uz_pool_unzip(const bench_triple *in, double *a, double *b, double *c)
{
    pool_column cols[3] = { POOL_COLUMN(bench_triple, a, a), POOL_COLUMN(bench_triple, b, b),
                            POOL_COLUMN(bench_triple, c, c) };
    if (pool_unzip(uz_pool, in, sizeof *in, UZ_N, cols, 3) != 0)
        abort();
}

static void uz_stream_one_pass(const bench_triple *in, double *a, double *b, double *c)
{
    for (size_t i = 0; i < UZ_N; i += 2) {
        _mm_stream_pd(a + i, _mm_set_pd(in[i + 1].a, in[i].a));
        _mm_stream_pd(b + i, _mm_set_pd(in[i + 1].b, in[i].b));
        _mm_stream_pd(c + i, _mm_set_pd(in[i + 1].c, in[i].c));
    }
    _mm_sfence();
}

static int probe_unzip(int reps)
{
    static const struct {
        const char *name;
        uz_fn fn;
    } ways[] = {
        { "memcpy", uz_memcpy },
        { "streamed copy", uz_stream_copy },
        { "cached, one pass", uz_cached_one_pass },
        { "cached, by column", uz_cached_columns },
        { "streamed, by column", uz_stream_columns },
        { "streamed, one pass", uz_stream_one_pass },
        { "streamed, by column, next block prefetched", uz_stream_columns_prefetched },
        { "pool_unzip, pool of 1", uz_pool_unzip },
    };
    enum { NWAYS = sizeof ways / sizeof ways[0] };
    bench_triple *in = must_alloc((size_t)UZ_N * sizeof *in);
    double *cols = must_alloc(3 * (size_t)UZ_N * sizeof *cols);
    double *t = must_alloc(NWAYS * (size_t)reps * sizeof *t);

    uz_pool = pool_create(1);
    if (uz_pool == NULL) {
        fprintf(stderr, "bench_probe: pool_create(1) failed\n");
        return 1;
    }
    for (size_t i = 0; i < UZ_N; i++)
        in[i] = (bench_triple){ (double)i, 2.0 * (double)i, 3.0 * (double)i };
    memset(cols, 0, 3 * (size_t)UZ_N * sizeof *cols);
    printf("# %d tuples of three doubles into three columns, this thread, %d runs in turns\n",
           UZ_N, reps);
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < NWAYS; k++) {
            cols[UZ_N - 1] = cols[2 * (size_t)UZ_N + 7] = -1; /* what each way must write */
            double t0 = now_s();
            ways[k].fn(in, cols, cols + UZ_N, cols + 2 * (size_t)UZ_N);
            t[k * reps + r] = (now_s() - t0) / UZ_N * 1e9;
            if (k <= 1 ? memcmp(cols, in, (size_t)UZ_N * sizeof *in) != 0
                       : cols[UZ_N - 1] != UZ_N - 1 || cols[2 * (size_t)UZ_N + 7] != 21) {
                fprintf(stderr, "bench_probe: %s wrote wrong columns\n", ways[k].name);
                return 1;
            }
        }
    double base = median(t, reps);
    for (int k = 0; k < NWAYS; k++) {
        double m = median(t + k * reps, reps);
        printf("%-44s %.3f ns/item  %.2fx memcpy\n", ways[k].name, m, m / base);
    }
    pool_destroy(uz_pool);
    free(t);
    free(cols);
    free(in);
    return 0;
}
#else
static int probe_unzip(int reps)
{
    (void)reps;
    printf("# unzip: streaming stores are probed on x86-64 only\n");
    return 0;
}
#endif

int main(int argc, char **argv)
{
    int reps = 9;
    unsigned long iters = 7000;
    const char *mode = argc > 1 ? argv[1] : "";
    const char *system = "poolmap";
    int nthreads = 16;
    size_t tri_n = 700, outer = 8;
    size_t items = 20000; /* ceiling's; tails' is tri_n */
    int ncallers = 8;
    int sample = 0;
    unsigned long spike = 0;
    size_t at = SIZE_MAX; /* --spike's item; by default the second share's first */

    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--reps") == 0)
            reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--iters") == 0)
            iters = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--system") == 0)
            system = argv[i + 1];
        else if (strcmp(argv[i], "--threads") == 0)
            nthreads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--items") == 0)
            tri_n = items = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--outer") == 0)
            outer = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--callers") == 0)
            ncallers = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--sample") == 0)
            sample = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--spike") == 0)
            spike = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--at") == 0)
            at = strtoul(argv[i + 1], NULL, 10);
    }
    if (reps < 1 || iters < 1 || nthreads < 1 || nthreads > PROBE_MAXT || tri_n < 1 ||
        outer < 1 || outer > 4096 || ncallers < 1 || ncallers > CALLERS_MAX ||
        spike > 1000 || (at != SIZE_MAX && (at >= 64 || spike == 0)) ||
        (spike != 0 && strcmp(mode, "small") != 0 && strcmp(mode, "timeline") != 0) ||
        (strcmp(system, "poolmap") != 0 && strcmp(system, "pthreadpool") != 0 &&
         strcmp(system, "openmp") != 0) ||
        (strcmp(system, "openmp") == 0 && strcmp(mode, "timeline") != 0 &&
         strcmp(mode, "arrivals") != 0) ||
        (strcmp(mode, "shares") != 0 && strcmp(mode, "claims") != 0 &&
         strcmp(mode, "pair") != 0 && strcmp(mode, "timeline") != 0 &&
         strcmp(mode, "unzip") != 0 && strcmp(mode, "arrivals") != 0 &&
         strcmp(mode, "idle") != 0 && strcmp(mode, "tails") != 0 &&
         strcmp(mode, "nested") != 0 && strcmp(mode, "callers") != 0 &&
         strcmp(mode, "costs") != 0 && strcmp(mode, "small") != 0 &&
         strcmp(mode, "startup") != 0 && strcmp(mode, "ceiling") != 0)) {
        fprintf(stderr, "usage: bench_probe shares|claims|pair|timeline|arrivals|idle|tails|"
                        "nested|callers|small|startup|ceiling|costs|unzip [--reps R] [--iters K] "
                        "[--system poolmap|pthreadpool|openmp] [--threads N] [--items M] "
                        "[--outer K] [--callers M] [--sample 1] [--spike D [--at I]]\n"
                        "(openmp: timeline and arrivals only; --spike, --at: small and "
                        "timeline only)\n");
        return 2;
    }
    if (strcmp(mode, "unzip") == 0)
        return probe_unzip(reps);
    if (strcmp(mode, "costs") == 0)
        return probe_costs();
    this_thread(); /* the caller is thread 0 */
    int rc;
    if (strcmp(mode, "idle") == 0) { /* the modes that make their own pool of N */
        rc = probe_idle(nthreads, reps, iters);
    } else if (strcmp(mode, "tails") == 0) {
        rc = probe_tails(nthreads, reps, iters, tri_n);
    } else if (strcmp(mode, "arrivals") == 0) {
        rc = probe_arrivals(system, nthreads, reps, iters);
    } else if (strcmp(mode, "nested") == 0) {
        rc = probe_nested(nthreads, outer, reps, iters, sample);
    } else if (strcmp(mode, "callers") == 0) {
        rc = probe_callers(nthreads, ncallers, reps, iters);
    } else if (strcmp(mode, "small") == 0) {
        rc = probe_small(nthreads, reps, iters, spike, at);
    } else if (strcmp(mode, "startup") == 0) {
        rc = probe_startup(system, nthreads, iters);
    } else if (strcmp(mode, "ceiling") == 0) {
        rc = probe_ceiling(nthreads, reps, iters, items);
    } else {
        pool_t *pool = pool_create(2);
        if (pool == NULL) {
            fprintf(stderr, "bench_probe: pool_create failed\n");
            return 1;
        }
        rc = strcmp(mode, "shares") == 0     ? probe_shares(pool, reps)
             : strcmp(mode, "pair") == 0     ? probe_pair(pool, reps)
             : strcmp(mode, "timeline") == 0 ? probe_timeline(pool, system, reps, iters, spike, at)
                                             : probe_claims(pool, reps, iters);
        pool_destroy(pool);
    }
    if (rc != 0)
        fprintf(stderr, "bench_probe: %s failed\n", mode);
    return rc;
}
