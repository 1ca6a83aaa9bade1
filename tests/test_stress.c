/*
 * test_stress.c - four caller threads mix every call on one shared pool at
 * random, for a few seconds, and every call is checked item by item:
 *   pool_map / pool_for / pool_for_range / pool_unzip / pool_map_unzip of
 *   random sizes (0..20000) and chunks, plain and _ex, on the shared pool and
 *   on NULL, with failing items planted at random (the serial-loop contract:
 *   status of the lowest failing item, its index, every item below it ran
 *   exactly once, no item ever twice, every result right, nothing written
 *   for an item that did not run);
 *   nested calls (a callback calling pool_map, or pool_map_async and a wait,
 *   on the same pool);
 *   batches of async tasks, maps and fors with waits that time out, cancels,
 *   chunk streams, completion fds, on_done callbacks (some freeing their own
 *   future), detached futures, pool_wait_any and pool_wait_all: after the
 *   final wait the status, failed_index, progress and every item are right,
 *   per the cancel contract when a cancel took effect;
 *   private pools created, used, maybe cancelled, destroyed in between.
 *
 * Knobs (environment, or the command line before the test-name filter):
 *   POOLMAP_STRESS_SECONDS=N  / --seconds N   run time (default: a few s)
 *   POOLMAP_STRESS_SEED=S     / --seed S      seed (printed at the start)
 *   POOLMAP_STRESS_ROUNDS=R   / --rounds R    stop each caller after R ops
 *   POOLMAP_STRESS_THREADS=N  / --threads N   threads of the shared pool (4);
 *     32 lets every blocking call's offer fill its 5-bit count, 33 sends
 *     them all through the locked queue (src/job.c)
 * The seed fixes each caller's sequence of operations; with --rounds the
 * length is fixed too (only the threads' interleaving varies).
 * A long run: build/tests/test_stress --seconds 600 (outside ctest's timeout).
 *
 * Callbacks never assert; neither do the caller threads: the first wrong
 * result is described in the caller's message, all callers stop, and the
 * test thread fails with that message.
 */
#include <poll.h>
#include <unistd.h>

#include "test_util.h"

#ifdef TU_TSAN
#define DEFAULT_SECONDS 2.0
#define MAX_N 4000 /* TSan is 5-15x slower and tracks every access */
#else
#define DEFAULT_SECONDS 3.0
#define MAX_N 20000
#endif

#define NCALLERS 4
#define SHARED_THREADS 4
#define MAX_FUTS 6
#define MAX_OUTER 32
#define MAX_INNER 200
#define DEFAULT_SEED 0x5EEDC0FFEE15600Dull

#define SENT64 0xA5A5A5A5A5A5A5A5ull

/* ------------------------------------------------------------------------ */
/* Tuples for unzip                                                         */
/* ------------------------------------------------------------------------ */

typedef struct tup {
    uint8_t a;
    uint16_t b;
    uint32_t c;
    uint64_t d;
    unsigned char e[24];
    uint64_t f[2];
} tup;

#define NMEMBERS 6
static const struct {
    size_t offset, size;
} members[NMEMBERS] = {
    { offsetof(tup, a), sizeof(((tup *)0)->a) },
    { offsetof(tup, b), sizeof(((tup *)0)->b) },
    { offsetof(tup, c), sizeof(((tup *)0)->c) },
    { offsetof(tup, d), sizeof(((tup *)0)->d) },
    { offsetof(tup, e), sizeof(((tup *)0)->e) },
    { offsetof(tup, f), sizeof(((tup *)0)->f) },
};

/* The item's result: depends on the input and on the call (salt). */
static uint64_t val(uint32_t x, uint64_t salt)
{
    return ((uint64_t)x * 0x9E3779B97F4A7C15ull) ^ salt;
}

static void tup_make(uint64_t v, tup *t)
{
    size_t k;

    memset(t, 0, sizeof *t);
    t->a = (uint8_t)v;
    t->b = (uint16_t)(v >> 8);
    t->c = (uint32_t)(v >> 16);
    t->d = v;
    for (k = 0; k < sizeof t->e; k++)
        t->e[k] = (unsigned char)((v >> (k % 8 * 8)) ^ k);
    t->f[0] = ~v;
    t->f[1] = v * 3;
}

/* A failing item i returns 1000 + i: the status names the item, and never
 * collides with ECANCELED or EBUSY. */
static int fail_status(size_t i)
{
    return 1000 + (int)i;
}

/* ------------------------------------------------------------------------ */
/* Callers and slices                                                       */
/* ------------------------------------------------------------------------ */

typedef struct caller caller;

/* One call's items: a window [base, base+n) of the caller's arrays. */
typedef struct slice {
    size_t n;
    uint64_t salt;
    uint32_t *in;
    uint64_t *out;
    atomic_uint *count;
    unsigned char *fails;
    atomic_size_t *rbegin, *rend; /* pool_for_range: the range that ran i */
    unsigned *rec;                /* chunk records that named item i */
    atomic_uint stray;            /* callbacks with out-of-range arguments */
} slice;

enum fkind { F_TASK, F_MAP, F_FOR };
enum fpool { FP_SHARED, FP_NULL, FP_PRIVATE };

/* One future of an async batch. */
typedef struct afut {
    enum fkind kind;
    enum fpool where;
    slice s;
    pool_async_opts opts;
    pool_future_t *f;   /* NULL once freed by us or by on_done */
    int cancel_rc;      /* -1: no cancel tried */
    int pending_cancel; /* pool_cancel_pending() ran on its pool */
    int fire_and_forget;/* on_done frees it; the handle is never touched */
    int detached;       /* freed by us before it was done */
    int fd;
    /* Seen by on_done. */
    atomic_int d_calls, d_status, d_done;
    atomic_size_t d_fi, d_progress;
} afut;

/* State of a nested call: the outer pool_for's items each run an inner map. */
typedef struct nest {
    pool_t *pool;
    size_t m, k;                 /* outer items, inner items each */
    slice inner[MAX_OUTER];
    size_t chunk[MAX_OUTER];
    int use_async[MAX_OUTER];
    int rc[MAX_OUTER];
    size_t fi[MAX_OUTER];
    atomic_uint outer_count[MAX_OUTER];
    atomic_uint stray;
} nest;

struct caller {
    int id;
    tu_rng rng;
    pool_t *shared;
    size_t max_n;
    /* The arrays, MAX_N + 1 elements each (one past n to catch overruns). */
    uint32_t *in;
    uint64_t *out;
    atomic_uint *count;
    unsigned char *fails;
    atomic_size_t *rbegin, *rend;
    unsigned *rec;
    tup *tuples;
    unsigned char *col[NMEMBERS];
    afut futs[MAX_FUTS];
    nest nst;
    /* Outcome. */
    unsigned long long calls, items, rounds;
    unsigned long long n_map, n_for, n_range, n_unzip, n_map_unzip, n_nested,
        n_futures, n_cancelled, n_timeouts, n_private;
    char where[256];
    char msg[768];
    int failed;
};

static atomic_int stop_all;

static size_t rnd(caller *cl, size_t bound)
{
    return tu_rng_below(&cl->rng, bound);
}

static int chance(caller *cl, unsigned num, unsigned den)
{
    return rnd(cl, den) < num;
}

/* Records the first wrong result of this caller and stops everyone. */
static void bad(caller *cl, const char *fmt, ...)
{
    va_list ap;
    int len;

    if (cl->failed)
        return;
    len = snprintf(cl->msg, sizeof cl->msg, "caller %d, op %llu (%s): ", cl->id,
                   cl->rounds, cl->where);
    va_start(ap, fmt);
    vsnprintf(cl->msg + len, sizeof cl->msg - (size_t)len, fmt, ap);
    va_end(ap);
    cl->failed = 1;
    atomic_store(&stop_all, 1);
}

#define CHECK(cl, cond, ...)                                               \
    do {                                                                   \
        if (!(cond)) {                                                     \
            bad((cl), __VA_ARGS__);                                        \
            return;                                                        \
        }                                                                  \
    } while (0)

static size_t pick_n(caller *cl)
{
    switch (rnd(cl, 10)) {
    case 0:
    case 1:
    case 2: return rnd(cl, 17);
    case 3:
    case 4:
    case 5:
    case 6: return rnd(cl, 1001);
    default: return rnd(cl, cl->max_n + 1);
    }
}

/* 0 automatic, 1, small, about a third of n, or huge (clamped to n). */
static size_t pick_chunk(caller *cl, size_t n)
{
    switch (rnd(cl, 20)) {
    case 0:
    case 1:
    case 2: return 1;
    case 3:
    case 4:
    case 5:
    case 6: return 2 + rnd(cl, 255);
    case 7:
    case 8: return n / 3 + 1;
    case 9: return SIZE_MAX;
    default: return 0;
    }
}

/* Sets up s over [base, base + n): fresh inputs, sentinel outputs, zero
 * counts, and failing items planted with probability fail_pct %. */
static void slice_init(caller *cl, slice *s, size_t base, size_t n, unsigned fail_pct)
{
    size_t i, k, nplant;

    s->n = n;
    s->salt = tu_rng_next(&cl->rng);
    s->in = cl->in + base;
    s->out = cl->out + base;
    s->count = cl->count + base;
    s->fails = cl->fails + base;
    s->rbegin = cl->rbegin + base;
    s->rend = cl->rend + base;
    s->rec = cl->rec + base;
    atomic_init(&s->stray, 0);
    for (i = 0; i < n; i++) {
        s->in[i] = (uint32_t)(s->salt >> 20) + (uint32_t)i * 2654435761u;
        s->out[i] = SENT64;
    }
    tu_counts_reset(s->count, n);
    memset(s->fails, 0, n);
    memset(s->rec, 0, n * sizeof *s->rec);
    if (n > 0 && rnd(cl, 100) < fail_pct) {
        nplant = 1 + rnd(cl, 3);
        for (k = 0; k < nplant; k++) {
            /* Half of the time near the start, where it stops the most. */
            size_t bound = chance(cl, 1, 2) && n > 64 ? 64 : n;
            s->fails[rnd(cl, bound)] = 1;
        }
    }
}

static size_t lowest_failing(const slice *s)
{
    const unsigned char *p = memchr(s->fails, 1, s->n);

    return p ? (size_t)(p - s->fails) : POOL_NO_INDEX;
}

/* ------------------------------------------------------------------------ */
/* Callbacks (never assert: count what is wrong)                            */
/* ------------------------------------------------------------------------ */

static int map_cb(void *ctx, const void *in, void *out)
{
    slice *s = ctx;
    size_t i = tu_index_of(s->in, sizeof *s->in, s->n, in);

    if (i == SIZE_MAX || tu_index_of(s->out, sizeof *s->out, s->n, out) != i) {
        tu_bump(&s->stray);
        return 0;
    }
    tu_bump(&s->count[i]);
    if (s->fails[i])
        return fail_status(i);
    *(uint64_t *)out = val(*(const uint32_t *)in, s->salt);
    return 0;
}

static int for_cb(void *ctx, size_t i)
{
    slice *s = ctx;

    if (i >= s->n) {
        tu_bump(&s->stray);
        return 0;
    }
    tu_bump(&s->count[i]);
    if (s->fails[i])
        return fail_status(i);
    s->out[i] = val(s->in[i], s->salt);
    return 0;
}

/* A range fails with the status of its first failing item. */
static int range_cb(void *ctx, size_t b, size_t e)
{
    slice *s = ctx;
    size_t i;
    int rc = 0;

    if (b >= e || e > s->n) {
        tu_bump(&s->stray);
        return 0;
    }
    for (i = b; i < e; i++) {
        atomic_store_explicit(&s->rbegin[i], b, memory_order_relaxed);
        atomic_store_explicit(&s->rend[i], e, memory_order_relaxed);
        tu_bump(&s->count[i]);
        if (rc == 0 && s->fails[i])
            rc = fail_status(i);
    }
    return rc;
}

static int task_cb(void *ctx)
{
    slice *s = ctx;

    tu_bump(&s->count[0]);
    if (s->fails[0])
        return fail_status(0);
    s->out[0] = val(s->in[0], s->salt);
    return 0;
}

static int map_unzip_cb(void *ctx, const void *in, void *out)
{
    slice *s = ctx;
    size_t i = tu_index_of(s->in, sizeof *s->in, s->n, in);

    if (i == SIZE_MAX) {
        tu_bump(&s->stray);
        return 0;
    }
    tu_bump(&s->count[i]);
    if (s->fails[i])
        return fail_status(i);
    tup_make(val(s->in[i], s->salt), out);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The item checks                                                          */
/* ------------------------------------------------------------------------ */

/*
 * Items of a map or for (outputs in s->out) after a call that settled on
 * `status` / `fi`:
 *   0          every item ran once, every result right;
 *   ECANCELED  (only if may_cancel) every item below fi ran once, fi did
 *              not run, no failing item below fi;
 *   otherwise  the lowest failing item's status and index, every item up to
 *              it ran once.
 * Always: no item twice, every item that ran and succeeded has the right
 * result, every other output untouched; serial: nothing past the failure
 * ran. Returns the number of items that ran and succeeded.
 */
static size_t check_items(caller *cl, slice *s, int status, size_t fi, int have_fi,
                          int may_cancel, int serial)
{
    size_t n = s->n, lo = lowest_failing(s), limit, i, ok = 0;

    if (atomic_load(&s->stray) != 0) {
        bad(cl, "%u callbacks got arguments outside the call", atomic_load(&s->stray));
        return 0;
    }
    if (status == 0) {
        if (lo != POOL_NO_INDEX) {
            bad(cl, "status 0 but item %zu fails", lo);
            return 0;
        }
        if (have_fi && fi != POOL_NO_INDEX) {
            bad(cl, "status 0 but failed_index %zu", fi);
            return 0;
        }
        limit = n;
    } else if (status == ECANCELED && may_cancel) {
        if (fi >= n || (lo != POOL_NO_INDEX && fi > lo)) {
            bad(cl, "ECANCELED with failed_index %zu (n %zu, lowest failing %zu)", fi,
                n, lo);
            return 0;
        }
        if (tu_count(s->count, fi) != 0) {
            bad(cl, "ECANCELED at %zu, but item %zu ran", fi, fi);
            return 0;
        }
        limit = fi;
    } else {
        if (lo == POOL_NO_INDEX || status != fail_status(lo)) {
            bad(cl, "status %d, want %d (lowest failing item %zu of %zu)", status,
                lo == POOL_NO_INDEX ? 0 : fail_status(lo), lo, n);
            return 0;
        }
        if (have_fi && fi != lo) {
            bad(cl, "failed_index %zu, want %zu", fi, lo);
            return 0;
        }
        limit = lo + 1;
    }
    for (i = 0; i < n; i++) {
        unsigned c = tu_count(s->count, i);

        if (c > 1 || (i < limit && c != 1) || (serial && i >= limit && c != 0)) {
            bad(cl, "item %zu of %zu ran %u times (status %d, failed_index %zu)", i,
                n, c, status, fi);
            return 0;
        }
        if (c == 1 && !s->fails[i]) {
            ok++;
            if (s->out[i] != val(s->in[i], s->salt)) {
                bad(cl, "item %zu of %zu: wrong result", i, n);
                return 0;
            }
        } else if (s->out[i] != SENT64) {
            bad(cl, "item %zu of %zu did not run or failed, yet its output was written",
                i, n);
            return 0;
        }
    }
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Blocking calls                                                           */
/* ------------------------------------------------------------------------ */

static pool_t *pick_pool(caller *cl)
{
    return chance(cl, 1, 16) ? NULL : cl->shared;
}

static void op_map_or_for(caller *cl, int is_map)
{
    pool_t *pool = pick_pool(cl);
    size_t n = pick_n(cl);
    pool_opts o = { pick_chunk(cl, n), 4242 };
    int ex = chance(cl, 2, 3);
    slice *s = &cl->futs[0].s;
    int rc;

    slice_init(cl, s, 0, n, 50);
    snprintf(cl->where, sizeof cl->where, "%s%s, %s, n %zu, chunk %zu, lowest failing %zu",
             is_map ? "pool_map" : "pool_for", ex ? "_ex" : "",
             pool ? "shared pool" : "NULL pool", n, o.chunk, lowest_failing(s));
    if (is_map)
        rc = ex ? pool_map_ex(pool, map_cb, s, s->in, sizeof *s->in, s->out,
                              sizeof *s->out, n, &o)
                : pool_map(pool, map_cb, s, s->in, sizeof *s->in, s->out,
                           sizeof *s->out, n);
    else
        rc = ex ? pool_for_ex(pool, n, for_cb, s, &o) : pool_for(pool, n, for_cb, s);
    check_items(cl, s, rc, o.failed_index, ex, 0, pool == NULL);
    cl->calls++;
    cl->items += n;
    if (is_map)
        cl->n_map++;
    else
        cl->n_for++;
}

static void op_range(caller *cl)
{
    pool_t *pool = pick_pool(cl);
    size_t n = pick_n(cl);
    pool_opts o = { pick_chunk(cl, n), 4242 };
    int ex = chance(cl, 2, 3);
    size_t chunk = ex && o.chunk ? (o.chunk < n ? o.chunk : n) : 0;
    slice *s = &cl->futs[0].s;
    size_t i, lo, fb = 0, fe = 0, limit;
    int rc;

    slice_init(cl, s, 0, n, 50);
    for (i = 0; i < n; i++) {
        atomic_store_explicit(&s->rbegin[i], SIZE_MAX, memory_order_relaxed);
        atomic_store_explicit(&s->rend[i], SIZE_MAX, memory_order_relaxed);
    }
    lo = lowest_failing(s);
    snprintf(cl->where, sizeof cl->where,
             "pool_for_range%s, %s, n %zu, chunk %zu, lowest failing %zu", ex ? "_ex" : "",
             pool ? "shared pool" : "NULL pool", n, o.chunk, lo);
    rc = ex ? pool_for_range_ex(pool, n, range_cb, s, &o)
            : pool_for_range(pool, n, range_cb, s);
    cl->calls++;
    cl->items += n;
    cl->n_range++;

    CHECK(cl, atomic_load(&s->stray) == 0, "%u ranges outside [0, n) or empty",
          atomic_load(&s->stray));
    if (lo == POOL_NO_INDEX) {
        CHECK(cl, rc == 0, "returned %d, no item fails", rc);
        CHECK(cl, !ex || o.failed_index == POOL_NO_INDEX, "failed_index %zu on success",
              o.failed_index);
        limit = n;
    } else {
        fb = atomic_load(&s->rbegin[lo]);
        fe = atomic_load(&s->rend[lo]);
        CHECK(cl, rc == fail_status(lo), "returned %d, want %d", rc, fail_status(lo));
        CHECK(cl, fb <= lo && lo < fe, "item %zu not covered by its range [%zu, %zu)", lo,
              fb, fe);
        CHECK(cl, !ex || o.failed_index == fb, "failed_index %zu, want range begin %zu",
              o.failed_index, fb);
        limit = fe;
    }
    for (i = 0; i < n; i++) {
        unsigned c = tu_count(s->count, i);
        size_t b = atomic_load(&s->rbegin[i]), e = atomic_load(&s->rend[i]);

        CHECK(cl, c <= 1 && (i >= limit || c == 1), "item %zu covered %u times", i, c);
        CHECK(cl, pool || i < limit || c == 0, "NULL pool: item %zu past the failure ran", i);
        if (c == 1 && chunk)
            CHECK(cl, b % chunk == 0 && e == (b + chunk < n ? b + chunk : n),
                  "range [%zu, %zu) with fixed chunk %zu", b, e, chunk);
    }
}

/* Random columns: `ncols` distinct members in random order. */
static size_t pick_columns(caller *cl, pool_column *cols, size_t *which)
{
    size_t perm[NMEMBERS], k, ncols = rnd(cl, NMEMBERS + 1);

    for (k = 0; k < NMEMBERS; k++)
        perm[k] = k;
    for (k = NMEMBERS - 1; k > 0; k--) {
        size_t j = rnd(cl, k + 1), t = perm[k];
        perm[k] = perm[j];
        perm[j] = t;
    }
    for (k = 0; k < ncols; k++) {
        which[k] = perm[k];
        cols[k].offset = members[perm[k]].offset;
        cols[k].size = members[perm[k]].size;
        cols[k].dst = cl->col[perm[k]];
    }
    return ncols;
}

/* Columns [0, n + 1) set to the sentinel before a call. */
static void columns_reset(caller *cl, const size_t *which, size_t ncols, size_t n)
{
    size_t k;

    for (k = 0; k < ncols; k++)
        memset(cl->col[which[k]], TU_SENTINEL, (n + 1) * members[which[k]].size);
}

/* Column element i of member m holds the member of *want. */
static int col_matches(caller *cl, size_t m, size_t i, const tup *want)
{
    return memcmp(cl->col[m] + i * members[m].size,
                  (const char *)want + members[m].offset, members[m].size) == 0;
}

/* Column element i of member m is still the sentinel. (A result may equal
 * the sentinel, 1 in 256 for a 1-byte member: then both are true.) */
static int col_untouched(caller *cl, size_t m, size_t i)
{
    const unsigned char *got = cl->col[m] + i * members[m].size;
    size_t b;

    for (b = 0; b < members[m].size; b++)
        if (got[b] != TU_SENTINEL)
            return 0;
    return 1;
}

static void op_unzip(caller *cl)
{
    pool_t *pool = pick_pool(cl);
    size_t n = pick_n(cl), which[NMEMBERS], ncols, i, k;
    pool_column cols[NMEMBERS];
    slice *s = &cl->futs[0].s;
    int rc;

    slice_init(cl, s, 0, n, 0);
    ncols = pick_columns(cl, cols, which);
    columns_reset(cl, which, ncols, n);
    for (i = 0; i < n; i++)
        tup_make(val(s->in[i], s->salt), &cl->tuples[i]);
    snprintf(cl->where, sizeof cl->where, "pool_unzip, %s, n %zu, %zu columns",
             pool ? "shared pool" : "NULL pool", n, ncols);
    rc = pool_unzip(pool, cl->tuples, sizeof(tup), n, cols, ncols);
    cl->calls++;
    cl->items += n;
    cl->n_unzip++;
    CHECK(cl, rc == 0, "returned %d", rc);
    for (k = 0; k < ncols; k++) {
        for (i = 0; i < n; i++)
            CHECK(cl, col_matches(cl, which[k], i, &cl->tuples[i]),
                  "column of member %zu, element %zu wrong", which[k], i);
        CHECK(cl, col_untouched(cl, which[k], n), "column of member %zu written past n",
              which[k]);
    }
}

static void op_map_unzip(caller *cl)
{
    pool_t *pool = pick_pool(cl);
    size_t n = pick_n(cl), which[NMEMBERS], ncols, i, k, lo;
    pool_opts o = { pick_chunk(cl, n), 4242 };
    int ex = chance(cl, 2, 3);
    pool_column cols[NMEMBERS];
    slice *s = &cl->futs[0].s;
    int rc;

    slice_init(cl, s, 0, n, 50);
    lo = lowest_failing(s);
    ncols = pick_columns(cl, cols, which);
    columns_reset(cl, which, ncols, n);
    snprintf(cl->where, sizeof cl->where,
             "pool_map_unzip%s, %s, n %zu, chunk %zu, %zu columns, lowest failing %zu",
             ex ? " with opts" : "", pool ? "shared pool" : "NULL pool", n, o.chunk,
             ncols, lo);
    rc = pool_map_unzip(pool, map_unzip_cb, s, s->in, sizeof *s->in, sizeof(tup), n,
                        cols, ncols, ex ? &o : NULL);
    cl->calls++;
    cl->items += n;
    cl->n_map_unzip++;
    CHECK(cl, atomic_load(&s->stray) == 0, "%u stray callbacks", atomic_load(&s->stray));
    CHECK(cl, rc == (lo == POOL_NO_INDEX ? 0 : fail_status(lo)), "returned %d, lowest failing %zu",
          rc, lo);
    CHECK(cl, !ex || o.failed_index == lo, "failed_index %zu, want %zu", o.failed_index, lo);
    for (i = 0; i < n; i++) {
        unsigned c = tu_count(s->count, i);
        tup t;

        CHECK(cl, c <= 1, "item %zu ran %u times", i, c);
        CHECK(cl, i > lo || c == 1, "item %zu below the failure at %zu ran %u times", i, lo, c);
        CHECK(cl, pool || i <= lo || c == 0, "NULL pool: item %zu past the failure ran", i);
        tup_make(val(s->in[i], s->salt), &t);
        for (k = 0; k < ncols; k++) {
            int match = col_matches(cl, which[k], i, &t);
            int untouched = col_untouched(cl, which[k], i);

            /* Below the failure: the result. Not run (or failed): untouched.
             * Ran above the failure: either. */
            if (i < lo)
                CHECK(cl, match, "column of member %zu, element %zu wrong below the "
                      "failure at %zu", which[k], i, lo);
            else if (c == 0 || s->fails[i])
                CHECK(cl, untouched, "column of member %zu, element %zu written, but "
                      "item did not run or failed", which[k], i);
            else
                CHECK(cl, match || untouched, "column of member %zu, element %zu garbage",
                      which[k], i);
        }
    }
    for (k = 0; k < ncols; k++)
        CHECK(cl, col_untouched(cl, which[k], n), "column of member %zu written past n",
              which[k]);
}

/* ------------------------------------------------------------------------ */
/* Nested calls                                                             */
/* ------------------------------------------------------------------------ */

static int nest_outer(void *ctx, size_t j)
{
    nest *ns = ctx;
    slice *s;

    if (j >= ns->m) {
        tu_bump(&ns->stray);
        return 0;
    }
    tu_bump(&ns->outer_count[j]);
    s = &ns->inner[j];
    if (ns->use_async[j]) {
        /* Waiting forever on a future of the same pool from a callback runs
         * its items here if need be: no deadlock even on a busy pool. */
        pool_async_opts ao = POOL_ASYNC_OPTS_INIT;
        pool_future_t *f = NULL;

        ao.chunk = ns->chunk[j];
        ns->rc[j] = pool_map_async(ns->pool, map_cb, s, s->in, sizeof *s->in, s->out,
                                   sizeof *s->out, s->n, &ao, &f);
        if (ns->rc[j] == 0) {
            if (pool_future_wait(f, POOL_FOREVER) != 0)
                tu_bump(&ns->stray);
            ns->rc[j] = pool_future_status(f);
            ns->fi[j] = pool_future_failed_index(f);
            pool_future_free(f);
        } else {
            ns->rc[j] = -999999; /* submission failed: reported below */
        }
    } else {
        pool_opts o = { ns->chunk[j], 4242 };

        ns->rc[j] = pool_map_ex(ns->pool, map_cb, s, s->in, sizeof *s->in, s->out,
                                sizeof *s->out, s->n, &o);
        ns->fi[j] = o.failed_index;
    }
    return 0;
}

static void op_nested(caller *cl)
{
    nest *ns = &cl->nst;
    size_t j, total = 0;
    pool_opts o = { 0, 4242 };
    int rc;

    ns->pool = cl->shared;
    ns->m = 1 + rnd(cl, MAX_OUTER);
    ns->k = rnd(cl, (cl->max_n / MAX_OUTER < MAX_INNER ? cl->max_n / MAX_OUTER : MAX_INNER) + 1);
    o.chunk = chance(cl, 1, 2) ? 1 : 0;
    atomic_init(&ns->stray, 0);
    for (j = 0; j < ns->m; j++) {
        slice_init(cl, &ns->inner[j], j * ns->k, ns->k, 30);
        ns->chunk[j] = pick_chunk(cl, ns->k);
        ns->use_async[j] = chance(cl, 1, 4);
        ns->rc[j] = -12345;
        ns->fi[j] = 4242;
        atomic_init(&ns->outer_count[j], 0);
    }
    snprintf(cl->where, sizeof cl->where,
             "nested: pool_for_ex of %zu items (chunk %zu), each a pool_map of %zu items",
             ns->m, o.chunk, ns->k);
    rc = pool_for_ex(ns->pool, ns->m, nest_outer, ns, &o);
    cl->calls++;
    cl->n_nested++;
    CHECK(cl, rc == 0, "outer call returned %d", rc);
    CHECK(cl, atomic_load(&ns->stray) == 0, "outer: stray index, or a wait failed");
    for (j = 0; j < ns->m; j++) {
        CHECK(cl, tu_count(ns->outer_count, j) == 1, "outer item %zu ran %u times", j,
              tu_count(ns->outer_count, j));
        snprintf(cl->where, sizeof cl->where,
                 "nested: inner %s %zu of %zu, %zu items, chunk %zu",
                 ns->use_async[j] ? "pool_map_async + wait" : "pool_map_ex", j, ns->m,
                 ns->k, ns->chunk[j]);
        check_items(cl, &ns->inner[j], ns->rc[j], ns->fi[j], 1, 0, 0);
        if (cl->failed)
            return;
        total += ns->k;
    }
    cl->calls += ns->m;
    cl->items += total + ns->m;
}

/* ------------------------------------------------------------------------ */
/* Async batches                                                            */
/* ------------------------------------------------------------------------ */

static void on_done_cb(void *arg, pool_future_t *f)
{
    afut *a = arg;

    atomic_store(&a->d_status, pool_future_status(f));
    atomic_store(&a->d_fi, pool_future_failed_index(f));
    atomic_store(&a->d_done, pool_future_done(f));
    atomic_store(&a->d_progress, pool_future_progress(f, NULL));
    if (a->fire_and_forget)
        pool_future_free(f);
    atomic_fetch_add(&a->d_calls, 1); /* last: the caller may reuse a now */
}

/* Waits (bounded) until on_done has run for a. */
static int await_on_done(afut *a)
{
    int64_t end = tu_now_ns() + TU_WAIT_NS;

    while (atomic_load(&a->d_calls) == 0) {
        if (tu_now_ns() > end)
            return ETIMEDOUT;
        tu_sleep_ns(20000);
    }
    return 0;
}

static const char *fkind_name(enum fkind k)
{
    return k == F_TASK ? "pool_submit" : k == F_MAP ? "pool_map_async" : "pool_for_async";
}

/* Submits future a on `pool`; 0 or the error (already reported). */
static int fut_submit(caller *cl, afut *a, pool_t *pool, size_t base, size_t n)
{
    int rc, st;

    memset(&a->opts, 0, sizeof a->opts);
    a->f = NULL;
    a->cancel_rc = -1;
    a->pending_cancel = 0;
    a->detached = 0;
    a->fd = -1;
    atomic_init(&a->d_calls, 0);
    atomic_init(&a->d_status, -12345);
    atomic_init(&a->d_done, -1);
    atomic_init(&a->d_fi, 4242);
    atomic_init(&a->d_progress, 4242);
    slice_init(cl, &a->s, base, a->kind == F_TASK ? 1 : n, 40);
    a->opts.chunk = pick_chunk(cl, a->s.n);
    if (a->kind != F_TASK && chance(cl, 1, 3))
        a->opts.flags = POOL_ASYNC_CHUNKS;
    a->fire_and_forget = chance(cl, 1, 8);
    if (a->fire_and_forget || chance(cl, 1, 3)) {
        a->opts.on_done = on_done_cb;
        a->opts.on_done_arg = a;
    }
    switch (a->kind) {
    case F_TASK:
        rc = pool_submit(pool, task_cb, &a->s, chance(cl, 1, 4) && !a->opts.on_done ? NULL
                                                                                : &a->opts,
                         &a->f);
        break;
    case F_MAP:
        rc = pool_map_async(pool, map_cb, &a->s, a->s.in, sizeof *a->s.in, a->s.out,
                            sizeof *a->s.out, a->s.n, &a->opts, &a->f);
        break;
    default:
        rc = pool_for_async(pool, a->s.n, for_cb, &a->s, &a->opts, &a->f);
        break;
    }
    cl->n_futures++;
    if (rc != 0) {
        bad(cl, "%s returned %d", fkind_name(a->kind), rc);
        return rc;
    }
    if (a->fire_and_forget) {
        a->f = NULL; /* on_done frees it: not ours to touch any more */
        return 0;
    }
    if (a->f == NULL) {
        bad(cl, "%s gave a NULL future", fkind_name(a->kind));
        return EINVAL;
    }
    /* With a NULL pool the handle comes back done. */
    if (pool == NULL && !pool_future_done(a->f)) {
        bad(cl, "%s on a NULL pool: future not done on return", fkind_name(a->kind));
        return EINVAL;
    }
    st = pool_future_status(a->f);
    if (st != EBUSY && !pool_future_done(a->f)) {
        bad(cl, "status %d while not done", st);
        return EINVAL;
    }
    if (chance(cl, 1, 8)) {
        a->fd = pool_future_fd(a->f);
        if (a->fd < 0) {
            bad(cl, "pool_future_fd failed: errno %d", errno);
            return EINVAL;
        }
    }
    return 0;
}

/* Chunk records: [b, e) ran; if st != 0, item e failed with st. */
static void take_record(caller *cl, afut *a, size_t b, size_t e, int st)
{
    size_t i;

    CHECK(cl, b <= e && e <= a->s.n && (st == 0 ? b < e : e < a->s.n),
          "chunk record [%zu, %zu) status %d out of range (n %zu)", b, e, st, a->s.n);
    CHECK(cl, st == 0 || (a->s.fails[e] && st == fail_status(e)),
          "chunk record says item %zu failed with %d", e, st);
    for (i = b; i < e; i++)
        a->s.rec[i]++;
}

/* Reads chunk records while the future runs, with a short timeout. */
static void poke_next(caller *cl, afut *a)
{
    size_t b, e;
    int st, rc, k;

    for (k = 0; k < 4 && !cl->failed; k++) {
        rc = pool_future_next(a->f, chance(cl, 1, 2) ? 0 : 20000, &b, &e, &st);
        if (rc == 0)
            take_record(cl, a, b, e, st);
        else if (rc == ENOENT)
            CHECK(cl, pool_future_done(a->f), "pool_future_next: ENOENT before done");
        else
            CHECK(cl, rc == ETIMEDOUT, "pool_future_next returned %d", rc);
    }
}

static int64_t pick_timeout(caller *cl)
{
    static const int64_t t[] = { 0, 1000, 50000, 300000 };

    return t[rnd(cl, TU_ARRAY_LEN(t))];
}

/* Random waits with timeouts, cancels, record reads, wait_any/wait_all. */
static void batch_poke(caller *cl, afut *futs, size_t k, int allow_forever)
{
    pool_future_t *live[MAX_FUTS];
    size_t i, m, idx, steps;
    int rc;

    for (i = 0; i < k && !cl->failed; i++) {
        afut *a = &futs[i];

        if (a->f == NULL)
            continue;
        if (chance(cl, 1, 3)) {
            rc = pool_future_wait(a->f, pick_timeout(cl));
            CHECK(cl, rc == 0 || rc == ETIMEDOUT, "timed wait returned %d", rc);
            CHECK(cl, rc != 0 || pool_future_done(a->f), "timed wait 0 but not done");
            if (rc == ETIMEDOUT)
                cl->n_timeouts++;
        }
        if (a->fd >= 0) {
            /* Readable means done, status final (what a poll loop relies on). */
            struct pollfd pfd = { a->fd, POLLIN, 0 };

            if (poll(&pfd, 1, 0) == 1)
                CHECK(cl, pool_future_done(a->f) && pool_future_status(a->f) != EBUSY,
                      "completion fd readable, but the future is not done");
        }
        if (a->opts.flags & POOL_ASYNC_CHUNKS && chance(cl, 1, 2))
            poke_next(cl, a);
        if (chance(cl, 1, 4)) {
            if (chance(cl, 1, 2))
                tu_spin_ns((int64_t)rnd(cl, 30000));
            a->cancel_rc = pool_future_cancel(a->f);
            CHECK(cl, a->cancel_rc == 0 || a->cancel_rc == EBUSY, "cancel returned %d",
                  a->cancel_rc);
            if (a->cancel_rc == 0)
                cl->n_cancelled++;
        }
        /* Detach: free before done; on_done reports the outcome. */
        if (a->opts.on_done && chance(cl, 1, 4)) {
            a->detached = !pool_future_done(a->f);
            pool_future_free(a->f);
            a->f = NULL;
        }
    }
    if (cl->failed)
        return;

    for (i = m = 0; i < k; i++)
        if (futs[i].f)
            live[m++] = futs[i].f;
    if (m == 0)
        return;
    switch (rnd(cl, 3)) {
    case 0: /* as_completed, by wait_any */
        for (steps = 1 + rnd(cl, m); steps > 0 && m > 0; steps--) {
            int64_t t = allow_forever && chance(cl, 1, 2) ? POOL_FOREVER : pick_timeout(cl);

            rc = pool_wait_any(live, m, t, &idx);
            if (rc == ETIMEDOUT && t >= 0) {
                cl->n_timeouts++;
                continue;
            }
            CHECK(cl, rc == 0, "pool_wait_any(%zu futures, timeout %lld) returned %d", m,
                  (long long)t, rc);
            CHECK(cl, idx < m && pool_future_done(live[idx]),
                  "pool_wait_any: index %zu of %zu not done", idx, m);
            live[idx] = live[--m];
        }
        break;
    case 1: /* gather */
        rc = pool_wait_all(live, m, pick_timeout(cl));
        CHECK(cl, rc == 0 || rc == ETIMEDOUT, "pool_wait_all returned %d", rc);
        if (rc == ETIMEDOUT)
            cl->n_timeouts++;
        for (i = 0; rc == 0 && i < m; i++)
            CHECK(cl, pool_future_done(live[i]), "pool_wait_all 0, future %zu not done", i);
        if (allow_forever && chance(cl, 1, 2)) {
            CHECK(cl, pool_wait_all(live, m, POOL_FOREVER) == 0, "pool_wait_all forever");
            for (i = 0; i < m; i++)
                CHECK(cl, pool_future_done(live[i]), "after wait_all, %zu not done", i);
        }
        break;
    default:
        break;
    }
}

/* The outcome of future a, once done, against the contract. */
static void fut_verify(caller *cl, afut *a)
{
    int status, may_cancel = a->cancel_rc == 0 || a->pending_cancel;
    size_t fi, progress, ok, i;

    if (a->f) {
        size_t total = 0;

        status = pool_future_status(a->f);
        fi = pool_future_failed_index(a->f);
        progress = pool_future_progress(a->f, &total);
        CHECK(cl, total == a->s.n, "progress total %zu, want %zu", total, a->s.n);
    } else {
        status = atomic_load(&a->d_status);
        fi = atomic_load(&a->d_fi);
        progress = atomic_load(&a->d_progress);
    }
    if (a->opts.on_done) {
        CHECK(cl, await_on_done(a) == 0, "on_done never ran");
        CHECK(cl, atomic_load(&a->d_calls) == 1, "on_done ran %d times",
              atomic_load(&a->d_calls));
        CHECK(cl, atomic_load(&a->d_done) == 1, "not done inside on_done");
        CHECK(cl, atomic_load(&a->d_status) == status && atomic_load(&a->d_fi) == fi,
              "on_done saw status %d index %zu, final %d %zu", atomic_load(&a->d_status),
              atomic_load(&a->d_fi), status, fi);
    }
    if (a->kind == F_TASK) {
        int want = a->s.fails[0] ? fail_status(0) : 0;
        unsigned c = tu_count(a->s.count, 0);

        if (a->cancel_rc == 0)
            CHECK(cl, status == ECANCELED, "task cancelled (cancel returned 0), status %d",
                  status);
        if (status == ECANCELED && may_cancel) {
            CHECK(cl, c == 0 && fi == 0 && progress == 0 && a->s.out[0] == SENT64,
                  "cancelled task: ran %u, failed_index %zu, progress %zu", c, fi, progress);
        } else {
            CHECK(cl, c == 1, "task ran %u times (status %d)", c, status);
            CHECK(cl, status == want, "task status %d, want %d", status, want);
            CHECK(cl, fi == (want ? 0 : POOL_NO_INDEX), "task failed_index %zu", fi);
            CHECK(cl, progress == (want ? 0u : 1u), "task progress %zu", progress);
            CHECK(cl, want || a->s.out[0] == val(a->s.in[0], a->s.salt), "task result wrong");
        }
        return;
    }
    ok = check_items(cl, &a->s, status, fi, 1, may_cancel, 0);
    if (cl->failed)
        return;
    CHECK(cl, progress == ok, "progress %zu, but %zu items ran and succeeded", progress, ok);
    if (a->opts.flags & POOL_ASYNC_CHUNKS && a->f) {
        size_t b, e;
        int st, rc;

        while ((rc = pool_future_next(a->f, POOL_FOREVER, &b, &e, &st)) == 0) {
            take_record(cl, a, b, e, st);
            if (cl->failed)
                return;
        }
        CHECK(cl, rc == ENOENT, "pool_future_next after done returned %d", rc);
        CHECK(cl, pool_future_next(a->f, 0, &b, &e, &st) == ENOENT, "ENOENT not sticky");
        for (i = 0; i < a->s.n; i++)
            CHECK(cl, a->s.rec[i] == (tu_count(a->s.count, i) == 1 && !a->s.fails[i]),
                  "chunk records name item %zu %u times (ran %u)", i, a->s.rec[i],
                  tu_count(a->s.count, i));
    } else if (a->f && a->s.n > 0) {
        size_t b, e;
        int st;

        CHECK(cl, pool_future_next(a->f, 0, &b, &e, &st) == EINVAL,
              "pool_future_next without POOL_ASYNC_CHUNKS is not EINVAL");
    }
}

/* Final wait, checks, free. */
static void fut_finish(caller *cl, afut *a)
{
    if (a->f) {
        CHECK(cl, pool_future_wait(a->f, POOL_FOREVER) == 0, "wait forever failed");
        CHECK(cl, pool_future_done(a->f), "not done after wait forever");
        if (a->fd >= 0) {
            struct pollfd pfd = { a->fd, POLLIN, 0 };

            CHECK(cl, poll(&pfd, 1, 0) == 1, "completion fd not readable once done");
        }
    } else {
        CHECK(cl, await_on_done(a) == 0, "detached future: on_done never ran");
    }
    fut_verify(cl, a);
    if (a->f) {
        pool_future_free(a->f);
        a->f = NULL;
    }
    cl->calls++;
    cl->items += a->s.n;
}

static const char *fpool_name(enum fpool p)
{
    return p == FP_SHARED ? "shared pool" : p == FP_NULL ? "NULL pool" : "private pool";
}

/* Submits k futures on `pool` (some on NULL) over disjoint slices: maps
 * share max_n + 1 - MAX_FUTS items, a task takes one of the reserve.
 * Returns how many futures exist (all k unless one failed). */
static size_t batch_submit(caller *cl, pool_t *pool, enum fpool where)
{
    size_t k = 1 + rnd(cl, MAX_FUTS), i, base = 0, room = cl->max_n + 1 - MAX_FUTS;

    for (i = 0; i < k; i++) {
        afut *a = &cl->futs[i];
        size_t n = pick_n(cl) / k;
        int on_null = chance(cl, 1, 12);

        a->kind = (enum fkind)rnd(cl, 3);
        a->where = on_null ? FP_NULL : where;
        if (n > room)
            n = room;
        snprintf(cl->where, sizeof cl->where, "async batch of %zu, #%zu: %s on %s, n %zu",
                 k, i, fkind_name(a->kind), fpool_name(a->where), n);
        if (fut_submit(cl, a, on_null ? NULL : pool, base, n) != 0)
            return a->f ? i + 1 : i;
        base += a->s.n;
        if (a->kind != F_TASK)
            room -= a->s.n;
    }
    return k;
}

static void describe_batch(caller *cl, size_t k, const char *what)
{
    size_t i, len;

    len = (size_t)snprintf(cl->where, sizeof cl->where, "%s of %zu:", what, k);
    for (i = 0; i < k && len < sizeof cl->where; i++)
        len += (size_t)snprintf(cl->where + len, sizeof cl->where - len,
                                " [%s n %zu%s%s%s]", fkind_name(cl->futs[i].kind),
                                cl->futs[i].s.n,
                                cl->futs[i].opts.flags ? " chunks" : "",
                                cl->futs[i].cancel_rc == 0 ? " cancelled" : "",
                                cl->futs[i].fire_and_forget ? " fire-and-forget" : "");
}

static void batch_finish(caller *cl, size_t k)
{
    size_t i;

    for (i = 0; i < k && !cl->failed; i++) {
        describe_batch(cl, k, "async batch");
        snprintf(cl->where + strlen(cl->where), sizeof cl->where - strlen(cl->where),
                 ", checking #%zu", i);
        fut_finish(cl, &cl->futs[i]);
    }
}

/* Releases what a failed batch left, so that nothing runs on freed state:
 * waits for every future still attached. */
static void batch_abandon(caller *cl, size_t k)
{
    size_t i;

    for (i = 0; i < k; i++) {
        afut *a = &cl->futs[i];

        if (a->f) {
            pool_future_wait(a->f, POOL_FOREVER);
            pool_future_free(a->f);
            a->f = NULL;
        } else if (a->opts.on_done) {
            await_on_done(a);
        }
    }
}

static void op_async(caller *cl)
{
    size_t k = batch_submit(cl, cl->shared, FP_SHARED);

    if (!cl->failed)
        batch_poke(cl, cl->futs, k, 1);
    if (!cl->failed)
        batch_finish(cl, k);
    if (cl->failed)
        batch_abandon(cl, k);
}

/*
 * A private pool: made, used by blocking and async calls, maybe cancelled
 * with pool_cancel_pending, destroyed with futures in flight. After
 * pool_destroy every one of its futures is done and every on_done has run.
 */
static void op_private_pool(caller *cl)
{
    size_t nthreads = 1 + rnd(cl, 4), k, i;
    pool_t *pool;
    int cancel_all;

    snprintf(cl->where, sizeof cl->where, "pool_create(%zu)", nthreads);
    pool = pool_create(nthreads);
    cl->n_private++;
    CHECK(cl, pool != NULL, "pool_create(%zu) failed: errno %d", nthreads, errno);
    if (pool_size(pool) != nthreads) {
        bad(cl, "pool_size %zu", pool_size(pool));
        pool_destroy(pool);
        return;
    }
    k = batch_submit(cl, pool, FP_PRIVATE);
    if (!cl->failed)
        batch_poke(cl, cl->futs, k, 0);
    cancel_all = chance(cl, 1, 3);
    describe_batch(cl, k, cancel_all ? "private pool, cancel_pending + destroy, batch"
                                     : "private pool, destroy, batch");
    if (cancel_all) {
        pool_cancel_pending(pool);
        for (i = 0; i < k; i++)
            cl->futs[i].pending_cancel = cl->futs[i].where == FP_PRIVATE;
    }
    pool_destroy(pool);
    for (i = 0; i < k && !cl->failed; i++) {
        afut *a = &cl->futs[i];

        if (a->f)
            CHECK(cl, pool_future_done(a->f), "future #%zu not done after pool_destroy", i);
        if (a->opts.on_done && a->where == FP_PRIVATE)
            CHECK(cl, atomic_load(&a->d_calls) == 1,
                  "on_done of #%zu has not run when pool_destroy returned", i);
    }
    if (!cl->failed)
        batch_finish(cl, k);
    if (cl->failed)
        batch_abandon(cl, k);
}

/* ------------------------------------------------------------------------ */
/* The callers                                                              */
/* ------------------------------------------------------------------------ */

static struct {
    double seconds;
    uint64_t seed;
    unsigned long long rounds;
    unsigned long long threads;
} cfg;

static tu_latch callers_done;

static void *caller_main(void *arg)
{
    caller *cl = arg;
    int64_t end = tu_now_ns() + (int64_t)(cfg.seconds * 1e9);

    while (!atomic_load(&stop_all) && !cl->failed && tu_now_ns() < end &&
           (cfg.rounds == 0 || cl->rounds < cfg.rounds)) {
        size_t r = rnd(cl, 100);

        cl->rounds++;
        if (r < 18)
            op_map_or_for(cl, 1);
        else if (r < 30)
            op_map_or_for(cl, 0);
        else if (r < 40)
            op_range(cl);
        else if (r < 47)
            op_unzip(cl);
        else if (r < 56)
            op_map_unzip(cl);
        else if (r < 64)
            op_nested(cl);
        else if (r < 97)
            op_async(cl);
        else
            op_private_pool(cl);
    }
    tu_latch_add(&callers_done, 1);
    return NULL;
}

/* 64-byte aligned carving of one block per caller. */
static void *carve(char **p, size_t bytes)
{
    void *r = *p;

    *p += (bytes + 63) / 64 * 64;
    return r;
}

static void caller_init(caller *cl, int id, pool_t *shared)
{
    size_t n = MAX_N + 1, bytes = 0, k;
    char *p;

    memset(cl, 0, sizeof *cl);
    cl->id = id;
    cl->rng = tu_rng_seed(cfg.seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(id + 1)));
    cl->shared = shared;
    cl->max_n = MAX_N;
    bytes += n * (sizeof *cl->in + sizeof *cl->out + sizeof *cl->count + 1 +
                  2 * sizeof(atomic_size_t) + sizeof *cl->rec + sizeof(tup));
    for (k = 0; k < NMEMBERS; k++)
        bytes += n * members[k].size;
    bytes += 64 * (16 + NMEMBERS);
    p = tu_malloc(bytes);
    cl->in = carve(&p, n * sizeof *cl->in);
    cl->out = carve(&p, n * sizeof *cl->out);
    cl->count = carve(&p, n * sizeof *cl->count);
    cl->fails = carve(&p, n);
    cl->rbegin = carve(&p, n * sizeof(atomic_size_t));
    cl->rend = carve(&p, n * sizeof(atomic_size_t));
    cl->rec = carve(&p, n * sizeof *cl->rec);
    cl->tuples = carve(&p, n * sizeof(tup));
    for (k = 0; k < NMEMBERS; k++)
        cl->col[k] = carve(&p, n * members[k].size);
    for (k = 0; k < n; k++) {
        atomic_init(&cl->count[k], 0);
        atomic_init(&cl->rbegin[k], 0);
        atomic_init(&cl->rend[k], 0);
    }
}

static void mixed_calls_from_four_threads_check_every_item(void **state)
{
    static caller callers[NCALLERS];
    pthread_t threads[NCALLERS];
    unsigned long long calls = 0, items = 0, rounds = 0, sum[10] = { 0 };
    pool_t *shared = tu_pool_open((size_t)cfg.threads);
    int64_t t0 = tu_now_ns();
    int i, failed = 0;

    (void)state;
    print_message("stress: seed 0x%016llx (POOLMAP_STRESS_SEED), %d callers on a pool of "
                  "%d, %.1f s%s, n up to %d\n",
                  (unsigned long long)cfg.seed, NCALLERS, (int)cfg.threads, cfg.seconds,
                  cfg.rounds ? " or the round limit" : "", MAX_N);
    atomic_store(&stop_all, 0);
    tu_latch_init(&callers_done);
    for (i = 0; i < NCALLERS; i++)
        caller_init(&callers[i], i, shared);
    for (i = 0; i < NCALLERS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, caller_main, &callers[i]), 0);

    /* A deadlock becomes a report of what each caller was doing. */
    if (tu_latch_wait(&callers_done, NCALLERS,
                      (int64_t)(cfg.seconds * 1e9) + TU_MS(60000)) != 0) {
        for (i = 0; i < NCALLERS; i++)
            print_error("stress: caller %d still in op %llu: %s\n", i, callers[i].rounds,
                        callers[i].where);
        print_error("stress: callers hang (seed 0x%016llx); aborting\n",
                    (unsigned long long)cfg.seed);
        abort();
    }
    for (i = 0; i < NCALLERS; i++)
        pthread_join(threads[i], NULL);
    pool_destroy(shared);
    tu_latch_destroy(&callers_done);

    for (i = 0; i < NCALLERS; i++) {
        caller *cl = &callers[i];

        calls += cl->calls;
        items += cl->items;
        rounds += cl->rounds;
        sum[0] += cl->n_map;
        sum[1] += cl->n_for;
        sum[2] += cl->n_range;
        sum[3] += cl->n_unzip;
        sum[4] += cl->n_map_unzip;
        sum[5] += cl->n_nested;
        sum[6] += cl->n_futures;
        sum[7] += cl->n_cancelled;
        sum[8] += cl->n_timeouts;
        sum[9] += cl->n_private;
        if (cl->failed) {
            print_error("stress: %s\n", cl->msg);
            failed = 1;
        }
    }
    print_message("stress: %llu calls, %llu items checked in %.1f s (%llu ops: map %llu, "
                  "for %llu, for_range %llu, unzip %llu, map_unzip %llu, nested %llu, "
                  "futures %llu with %llu cancels taking effect and %llu timed-out waits, "
                  "private pools %llu)\n",
                  calls, items, (double)(tu_now_ns() - t0) / 1e9, rounds, sum[0], sum[1],
                  sum[2], sum[3], sum[4], sum[5], sum[6], sum[7], sum[8], sum[9]);
    if (failed)
        fail_msg("stress: wrong result (replay with POOLMAP_STRESS_SEED=0x%016llx)",
                 (unsigned long long)cfg.seed);
    TU_ASSERT_TRUE(calls > 0);
    /* Every kind of operation ran: each is picked in 3 % of the rounds or
     * more (caller_main), so in 1000 rounds missing one is a 1e-13 chance.
     * (Cancels that take effect and timed-out waits depend on timing.) */
    if (rounds >= 1000) {
        static const int kinds[] = { 0, 1, 2, 3, 4, 5, 6, 9 };
        for (size_t k = 0; k < TU_ARRAY_LEN(kinds); k++)
            TU_ASSERT_TRUE(sum[kinds[k]] > 0);
    }
}

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */
/* ------------------------------------------------------------------------ */

static int parse_u64(const char *s, unsigned long long *v)
{
    char *end;

    if (s == NULL || *s == '\0')
        return 0;
    errno = 0;
    *v = strtoull(s, &end, 0);
    return errno == 0 && *end == '\0';
}

static int parse_seconds(const char *s, double *v)
{
    char *end;

    if (s == NULL || *s == '\0')
        return 0;
    *v = strtod(s, &end);
    return *end == '\0' && *v > 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: test_stress [--seconds N] [--seed S] [--rounds R] [--threads N] "
                    "[test-name filter]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(mixed_calls_from_four_threads_check_every_item),
    };
    unsigned long long v;
    char *rest[2] = { argv[0], NULL };
    int i, nrest = 1;

    cfg.seconds = DEFAULT_SECONDS;
    cfg.seed = DEFAULT_SEED;
    cfg.threads = SHARED_THREADS;
    if (getenv("POOLMAP_STRESS_THREADS") &&
        (!parse_u64(getenv("POOLMAP_STRESS_THREADS"), &cfg.threads) || cfg.threads == 0 ||
         cfg.threads > 256))
        usage();
    if (getenv("POOLMAP_STRESS_SECONDS") &&
        !parse_seconds(getenv("POOLMAP_STRESS_SECONDS"), &cfg.seconds))
        usage();
    if (getenv("POOLMAP_STRESS_SEED")) {
        if (!parse_u64(getenv("POOLMAP_STRESS_SEED"), &v))
            usage();
        cfg.seed = v;
    }
    if (getenv("POOLMAP_STRESS_ROUNDS")) {
        if (!parse_u64(getenv("POOLMAP_STRESS_ROUNDS"), &cfg.rounds))
            usage();
    }
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            if (!parse_seconds(argv[++i], &cfg.seconds))
                usage();
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            if (!parse_u64(argv[++i], &v))
                usage();
            cfg.seed = v;
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            if (!parse_u64(argv[++i], &cfg.rounds))
                usage();
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            if (!parse_u64(argv[++i], &cfg.threads) || cfg.threads == 0 || cfg.threads > 256)
                usage();
        } else if (argv[i][0] == '-' || nrest > 1) {
            usage();
        } else {
            rest[nrest++] = argv[i];
        }
    }
    return TU_RUN(tests, nrest, rest);
}
