/*
 * test_contract.c - the serial-loop error contract: with failing items
 * planted at random, every call returns the status of the lowest failing
 * item, reports its index, and has run every item below it exactly once,
 * whatever the pool size or chunk.
 */
#include <errno.h>
#include <time.h>

#include "test_util.h"

#define N_ITEMS 10000
#define MAX_PLANTED 4

static const size_t pool_specs[] = { TU_NULL_POOL, 1, 2, 4 };
static const size_t chunks[] = { 0, 1 };

/* A failing item i returns 1000 + i, so the status names the item. */
static int fail_status(size_t i)
{
    return 1000 + (int)i;
}

enum api { API_MAP, API_FOR, API_RANGE, API_MAP_UNZIP };

static const char *api_name(enum api a)
{
    switch (a) {
    case API_MAP: return "pool_map";
    case API_FOR: return "pool_for";
    case API_RANGE: return "pool_for_range";
    default: return "pool_map_unzip";
    }
}

typedef struct triple {
    uint64_t x2, x3, x4;
} triple;

/* State of one call: which items fail, and what each callback saw. */
typedef struct run {
    enum api api;
    size_t n;
    unsigned char *fails;    /* fails[i]: item i fails */
    atomic_uint *count;      /* times item i ran (range: was covered) */
    atomic_size_t *rbegin;   /* pool_for_range: range that covered i */
    atomic_size_t *rend;
    uint32_t *in;
    uint64_t *out;
    uint64_t *col[3];        /* pool_map_unzip: x2, x3, x4 columns */
    atomic_int active;       /* callbacks running right now */
    atomic_uint stray;       /* pointers or indices out of bounds */
    unsigned spin;           /* busy work per item */
} run;

static uint64_t map_value(uint32_t x)
{
    return (uint64_t)x * 5 + 1;
}

static void run_init(run *r, enum api api)
{
    size_t i;

    memset(r, 0, sizeof *r);
    r->api = api;
    r->fails = tu_calloc(N_ITEMS, 1);
    r->count = tu_counts_new(N_ITEMS);
    r->rbegin = tu_malloc(N_ITEMS * sizeof *r->rbegin);
    r->rend = tu_malloc(N_ITEMS * sizeof *r->rend);
    r->in = tu_malloc(N_ITEMS * sizeof *r->in);
    r->out = tu_malloc(N_ITEMS * sizeof *r->out);
    for (i = 0; i < 3; i++) {
        r->col[i] = tu_malloc(N_ITEMS * sizeof *r->col[i]);
        assert_non_null(r->col[i]);
    }
    assert_non_null(r->fails);
    assert_non_null(r->rbegin);
    assert_non_null(r->rend);
    assert_non_null(r->in);
    assert_non_null(r->out);
    for (i = 0; i < N_ITEMS; i++) {
        r->in[i] = (uint32_t)(i * 7 + 3);
        atomic_init(&r->rbegin[i], SIZE_MAX);
        atomic_init(&r->rend[i], SIZE_MAX);
    }
    atomic_init(&r->active, 0);
    atomic_init(&r->stray, 0);
}

static void run_free(run *r)
{
    size_t i;

    tu_free(r->fails);
    tu_free(r->count);
    tu_free((void *)r->rbegin);
    tu_free((void *)r->rend);
    tu_free(r->in);
    tu_free(r->out);
    for (i = 0; i < 3; i++)
        tu_free(r->col[i]);
}

/* ------------------------------------------------------------------------ */
/* Callbacks                                                                */
/* ------------------------------------------------------------------------ */

/* Common body of one item: count it, spin, report its status. */
static int item(run *r, size_t i)
{
    tu_bump(&r->count[i]);
    if (r->spin)
        tu_busy(r->spin);
    return r->fails[i] ? fail_status(i) : 0;
}

static int map_item(void *ctx, const void *in, void *out)
{
    run *r = ctx;
    size_t i = tu_index_of(r->in, sizeof *r->in, r->n, in);
    int rc;

    if (i == SIZE_MAX || tu_index_of(r->out, sizeof *r->out, r->n, out) != i) {
        tu_bump(&r->stray);
        return 0;
    }
    atomic_fetch_add_explicit(&r->active, 1, memory_order_relaxed);
    rc = item(r, i);
    if (rc == 0)
        *(uint64_t *)out = map_value(*(const uint32_t *)in);
    atomic_fetch_sub_explicit(&r->active, 1, memory_order_relaxed);
    return rc;
}

static int for_item(void *ctx, size_t i)
{
    run *r = ctx;
    int rc;

    if (i >= r->n) {
        tu_bump(&r->stray);
        return 0;
    }
    atomic_fetch_add_explicit(&r->active, 1, memory_order_relaxed);
    rc = item(r, i);
    atomic_fetch_sub_explicit(&r->active, 1, memory_order_relaxed);
    return rc;
}

/* A range fails with the status of its first failing index. */
static int range_item(void *ctx, size_t begin, size_t end)
{
    run *r = ctx;
    int rc = 0;
    size_t i;

    if (begin >= end || end > r->n) {
        tu_bump(&r->stray);
        return 0;
    }
    atomic_fetch_add_explicit(&r->active, 1, memory_order_relaxed);
    for (i = begin; i < end; i++) {
        atomic_store_explicit(&r->rbegin[i], begin, memory_order_relaxed);
        atomic_store_explicit(&r->rend[i], end, memory_order_relaxed);
        tu_bump(&r->count[i]);
        if (rc == 0 && r->fails[i])
            rc = fail_status(i);
    }
    if (r->spin)
        tu_busy(r->spin);
    atomic_fetch_sub_explicit(&r->active, 1, memory_order_relaxed);
    return rc;
}

/* x -> {2x, 3x, 4x} into the scratch tuple. */
static int map_unzip_item(void *ctx, const void *in, void *out)
{
    run *r = ctx;
    size_t i = tu_index_of(r->in, sizeof *r->in, r->n, in);
    triple *t = out;
    uint64_t x;
    int rc;

    if (i == SIZE_MAX) {
        tu_bump(&r->stray);
        return 0;
    }
    atomic_fetch_add_explicit(&r->active, 1, memory_order_relaxed);
    rc = item(r, i);
    x = *(const uint32_t *)in;
    t->x2 = 2 * x;
    t->x3 = 3 * x;
    t->x4 = 4 * x;
    atomic_fetch_sub_explicit(&r->active, 1, memory_order_relaxed);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* One call and its checks                                                  */
/* ------------------------------------------------------------------------ */

/* Makes the call; opts NULL means the plain (non-_ex) call. */
static int run_call(run *r, pool_t *pool, size_t n, pool_opts *opts)
{
    pool_column cols[3] = { POOL_COLUMN(triple, x2, r->col[0]),
                            POOL_COLUMN(triple, x3, r->col[1]),
                            POOL_COLUMN(triple, x4, r->col[2]) };
    size_t k;

    r->n = n;
    tu_counts_reset(r->count, n);
    if (r->api == API_MAP)
        memset(r->out, 0, n * sizeof *r->out);
    for (k = 0; k < 3 && r->api == API_MAP_UNZIP; k++)
        memset(r->col[k], 0, n * sizeof *r->col[k]);
    atomic_store(&r->stray, 0);
    if (r->api == API_RANGE)
        for (k = 0; k < n; k++) {
            atomic_store_explicit(&r->rbegin[k], SIZE_MAX, memory_order_relaxed);
            atomic_store_explicit(&r->rend[k], SIZE_MAX, memory_order_relaxed);
        }

    switch (r->api) {
    case API_MAP:
        return opts ? pool_map_ex(pool, map_item, r, r->in, sizeof *r->in,
                                  r->out, sizeof *r->out, n, opts)
                    : pool_map(pool, map_item, r, r->in, sizeof *r->in,
                               r->out, sizeof *r->out, n);
    case API_FOR:
        return opts ? pool_for_ex(pool, n, for_item, r, opts)
                    : pool_for(pool, n, for_item, r);
    case API_RANGE:
        return opts ? pool_for_range_ex(pool, n, range_item, r, opts)
                    : pool_for_range(pool, n, range_item, r);
    default:
        return pool_map_unzip(pool, map_unzip_item, r, r->in, sizeof *r->in,
                              sizeof(triple), n, cols, 3, opts);
    }
}

/* Lowest planted index in [0, n), or SIZE_MAX. */
static size_t lowest_failing(const unsigned char *fails, size_t n)
{
    const unsigned char *p = memchr(fails, 1, n);

    return p ? (size_t)(p - fails) : SIZE_MAX;
}

/*
 * Asserts the serial-loop contract for the call just made. serial: the pool
 * runs items on one thread, so nothing past the failure may have started.
 */
static void run_verify(run *r, int rc, const pool_opts *opts, int serial)
{
    size_t lo = lowest_failing(r->fails, r->n), n = r->n, fi, i, done;

    TU_ASSERT_EQ(atomic_load(&r->stray), 0);
    TU_ASSERT_EQ(atomic_load(&r->active), 0);
    tu_assert_counts_at_most(r->count, 0, n, 1, "item");

    if (lo == SIZE_MAX) {
        TU_ASSERT_EQ(rc, 0);
        if (opts)
            TU_ASSERT_EQ(opts->failed_index, POOL_NO_INDEX);
        tu_assert_counts(r->count, 0, n, 1, "item");
        return;
    }

    TU_ASSERT_EQ(rc, fail_status(lo));
    if (r->api == API_RANGE) {
        /* The failing range is the one that covered lo. */
        fi = atomic_load(&r->rbegin[lo]);
        done = atomic_load(&r->rend[lo]);
        TU_ASSERT_TRUE(fi <= lo && lo < done);
        if (opts && opts->chunk)
            TU_ASSERT_EQ(fi, lo - lo % opts->chunk);
    } else {
        fi = lo;
        done = lo + 1;
    }
    if (opts)
        TU_ASSERT_EQ(opts->failed_index, fi);

    /* Every item below the failure ran once, and so did the failure. */
    tu_assert_counts(r->count, 0, done, 1, "item");
    if (serial)
        tu_assert_counts(r->count, done, n, 0, "item past the failure");

    for (i = 0; i < fi; i++) {
        uint64_t x = r->in[i];

        if (r->api == API_MAP && r->out[i] != map_value((uint32_t)x))
            fail_msg("%s: out[%zu] wrong below the failure at %zu",
                     tu_where_buf(), i, lo);
        if (r->api == API_MAP_UNZIP &&
            (r->col[0][i] != 2 * x || r->col[1][i] != 3 * x ||
             r->col[2][i] != 4 * x))
            fail_msg("%s: column element %zu wrong below the failure at %zu",
                     tu_where_buf(), i, lo);
    }
}

/* ------------------------------------------------------------------------ */
/* Plans                                                                    */
/* ------------------------------------------------------------------------ */

static void plan_clear(run *r)
{
    memset(r->fails, 0, N_ITEMS);
}

/* 1..MAX_PLANTED failing items at random positions. */
static void plan_random(run *r, tu_rng *rng, size_t n)
{
    size_t k, nplant = 1 + tu_rng_below(rng, MAX_PLANTED);

    plan_clear(r);
    for (k = 0; k < nplant; k++)
        r->fails[tu_rng_below(rng, n)] = 1;
}

/*
 * The random contract sweep for one API: pools NULL/1/2/4, chunk automatic
 * and 1, `reps` random plans each, alternating _ex and plain calls.
 */
static void sweep_random(enum api api, uint64_t seed)
{
    size_t reps = 300 * tu_scale(), p, c, rep;
    tu_rng rng = tu_rng_seed(seed);
    run r;

    run_init(&r, api);
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);
        int serial = pool_size(pool) == 1;

        for (c = 0; c < TU_ARRAY_LEN(chunks); c++)
            for (rep = 0; rep < reps; rep++) {
                pool_opts o = { chunks[c], 4242 };
                pool_opts *opts = (rep % 2 == 0 || chunks[c] != 0) ? &o : NULL;
                int rc;

                plan_random(&r, &rng, N_ITEMS);
                tu_where("%s, %s, chunk %zu, rep %zu, %s, first failure %zu",
                         api_name(api), tu_pool_name(pool_specs[p]), chunks[c],
                         rep, opts ? "_ex" : "plain",
                         lowest_failing(r.fails, N_ITEMS));
                rc = run_call(&r, pool, N_ITEMS, opts);
                run_verify(&r, rc, opts, serial);
            }
        pool_destroy(pool);
    }
    run_free(&r);
}

static void lowest_failing_index_wins_map(void **state)
{
    (void)state;
    sweep_random(API_MAP, 0x1234567887654321u);
}

static void lowest_failing_index_wins_for(void **state)
{
    (void)state;
    sweep_random(API_FOR, 0xDEADBEEFCAFEF00Du);
}

static void lowest_failing_range_wins_for_range(void **state)
{
    (void)state;
    sweep_random(API_RANGE, 0x0123456789ABCDEFu);
}

static void map_unzip_failure_keeps_columns_below_failing_item(void **state)
{
    (void)state;
    sweep_random(API_MAP_UNZIP, 0xFEEDFACE0BADC0DEu);
}

/* ------------------------------------------------------------------------ */
/* Edge plans on every API                                                  */
/* ------------------------------------------------------------------------ */

enum edge { EDGE_FIRST, EDGE_LAST, EDGE_ALL, EDGE_NONE, EDGE_SECOND_HALF };

static void plan_edge(run *r, enum edge e, size_t n)
{
    size_t i;

    plan_clear(r);
    switch (e) {
    case EDGE_FIRST: r->fails[0] = 1; break;
    case EDGE_LAST: r->fails[n - 1] = 1; break;
    case EDGE_ALL: memset(r->fails, 1, n); break;
    case EDGE_NONE: break;
    case EDGE_SECOND_HALF:
        for (i = n / 2; i < n; i++)
            r->fails[i] = 1;
        break;
    }
}

static void sweep_edges(const size_t *specs, size_t nspecs, size_t reps)
{
    static const enum api apis[] = { API_MAP, API_FOR, API_RANGE,
                                     API_MAP_UNZIP };
    static const enum edge edges[] = { EDGE_FIRST, EDGE_LAST, EDGE_ALL,
                                       EDGE_NONE, EDGE_SECOND_HALF };
    static const size_t ns[] = { 1, 2, 97, N_ITEMS };
    static const size_t edge_chunks[] = { 0, 1, 7, 5000 };
    size_t a, p, e, k, c, rep;

    for (a = 0; a < TU_ARRAY_LEN(apis); a++) {
        run r;

        run_init(&r, apis[a]);
        for (p = 0; p < nspecs; p++) {
            pool_t *pool = tu_pool_open(specs[p]);
            int serial = pool_size(pool) == 1;

            for (e = 0; e < TU_ARRAY_LEN(edges); e++)
                for (k = 0; k < TU_ARRAY_LEN(ns); k++)
                    for (c = 0; c < TU_ARRAY_LEN(edge_chunks); c++)
                        for (rep = 0; rep < reps; rep++) {
                            pool_opts o = { edge_chunks[c], 4242 };
                            int rc;

                            plan_edge(&r, edges[e], ns[k]);
                            tu_where("%s, %s, edge plan %d, n=%zu, chunk %zu",
                                     api_name(apis[a]), tu_pool_name(specs[p]),
                                     (int)edges[e], ns[k], edge_chunks[c]);
                            rc = run_call(&r, pool, ns[k], &o);
                            run_verify(&r, rc, &o, serial);
                        }
            pool_destroy(pool);
        }
        run_free(&r);
    }
}

static void first_last_all_and_no_failures_follow_serial_contract(void **state)
{
    static const size_t specs[] = { TU_NULL_POOL, 1, 2, 3, 4 };

    (void)state;
    sweep_edges(specs, TU_ARRAY_LEN(specs), 2);
}

/*
 * After calls too small to share, a pool runs the next call on its caller
 * alone until it proves bigger (src/job.c, job_work_alone); a failure met
 * there must give the same answer, and a call that outgrows it is shared
 * from where it got to.
 */
static int empty_item(void *ctx, size_t i)
{
    (void)ctx;
    (void)i;
    return 0;
}

static void calls_after_tiny_calls_follow_serial_contract(void **state)
{
    static const size_t specs[] = { 2, 4 };
    static const size_t ns[] = { 2, 3, 8, 97, N_ITEMS };
    static const enum api apis[] = { API_MAP, API_FOR, API_RANGE, API_MAP_UNZIP };
    size_t reps = 20 * tu_scale(), a, p, k, rep;
    tu_rng rng = tu_rng_seed(0x7171717171717171u);

    (void)state;
    for (a = 0; a < TU_ARRAY_LEN(apis); a++) {
        run r;

        run_init(&r, apis[a]);
        for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
            pool_t *pool = tu_pool_open(specs[p]);

            for (k = 0; k < TU_ARRAY_LEN(ns); k++)
                for (rep = 0; rep < reps; rep++) {
                    pool_opts o = { rep % 3 == 2 ? 1 : 0, 4242 };
                    int rc, w;

                    /* Tiny calls first: the next one is likely run alone. */
                    for (w = 0; w < 8; w++)
                        assert_int_equal(pool_for(pool, specs[p], empty_item, NULL), 0);
                    if (rep % 4 == 3)
                        plan_clear(&r);
                    else
                        plan_random(&r, &rng, ns[k]);
                    tu_where("%s, %s after tiny calls, n=%zu, chunk %zu, rep %zu",
                             api_name(apis[a]), tu_pool_name(specs[p]), ns[k], o.chunk, rep);
                    rc = run_call(&r, pool, ns[k], &o);
                    run_verify(&r, rc, &o, 0);
                }
            pool_destroy(pool);
        }
        run_free(&r);
    }
}

/* On a NULL or 1-thread pool the failure is seen at once by the only thread,
 * so (run_verify's serial check) nothing past the failing item starts. */
static void serial_pools_start_nothing_past_first_failure(void **state)
{
    static const size_t specs[] = { TU_NULL_POOL, 1 };

    (void)state;
    sweep_edges(specs, TU_ARRAY_LEN(specs), 1);
}

/* ------------------------------------------------------------------------ */
/* Returning means every callback is over                                   */
/* ------------------------------------------------------------------------ */

static unsigned total_count(run *r)
{
    unsigned sum = 0;
    size_t i;

    for (i = 0; i < r->n; i++)
        sum += tu_count(r->count, i);
    return sum;
}

static void call_returns_only_after_started_items_finish(void **state)
{
    static const size_t specs[] = { 2, 4 };
    static const enum api apis[] = { API_MAP, API_FOR, API_RANGE,
                                     API_MAP_UNZIP };
    size_t p, a, rep, reps = 10 * tu_scale();

    (void)state;
    for (a = 0; a < TU_ARRAY_LEN(apis); a++) {
        run r;

        run_init(&r, apis[a]);
        r.spin = 3000;
        for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
            pool_t *pool = tu_pool_open(specs[p]);

            for (rep = 0; rep < reps; rep++) {
                pool_opts o = { 1, POOL_NO_INDEX };
                struct timespec ts = { 0, 5000000 };
                unsigned before;
                int rc;

                /* Alternate a success with an early failure. */
                plan_clear(&r);
                if (rep % 2)
                    r.fails[10 + rep % 500] = 1;
                tu_where("%s on %s, rep %zu", api_name(apis[a]),
                         tu_pool_name(specs[p]), rep);
                rc = run_call(&r, pool, 1000, &o);
                TU_ASSERT_EQ(atomic_load(&r.active), 0);
                before = total_count(&r);
                nanosleep(&ts, NULL);
                /* Nothing started after the call returned. */
                TU_ASSERT_EQ(total_count(&r), before);
                TU_ASSERT_EQ(atomic_load(&r.active), 0);
                run_verify(&r, rc, &o, 0);
            }
            pool_destroy(pool);
        }
        run_free(&r);
    }
}

/* ------------------------------------------------------------------------ */
/* No new item starts once the failure is seen                              */
/* ------------------------------------------------------------------------ */

#define LATE_N 64

/*
 * Two chunks of LATE_N/2, so two threads. Item 0 fails once item LATE_N/2,
 * first of the other chunk, has started; that item waits until item 0 has
 * failed and then 50 ms more, so the library has long seen the failure when
 * it would start item LATE_N/2 + 1: that item, and every later one in the
 * chunk, must not start.
 */
typedef struct late_run {
    uint32_t in[LATE_N];
    uint64_t out[LATE_N];
    atomic_int half_started;
    atomic_int failed;
    atomic_int waited;
    atomic_uint late;    /* items started after the wait */
    atomic_uint timeout; /* a 10 s wait for the other item ran out */
} late_run;

/* Waits up to 10 s for *flag; counts a timeout if it stays 0. */
static void late_wait(late_run *r, atomic_int *flag)
{
    struct timespec ms = { 0, 1000000 };
    int k;

    for (k = 0; k < 10000 && !atomic_load(flag); k++)
        nanosleep(&ms, NULL);
    if (!atomic_load(flag))
        tu_bump(&r->timeout);
}

static int late_item(late_run *r, size_t i)
{
    struct timespec grace = { 0, 50000000 };

    if (i == 0) {
        late_wait(r, &r->half_started);
        atomic_store(&r->failed, 1);
        return 77;
    }
    if (i == LATE_N / 2) {
        atomic_store(&r->half_started, 1);
        late_wait(r, &r->failed);
        nanosleep(&grace, NULL);
        atomic_store(&r->waited, 1);
        return 0;
    }
    if (i > LATE_N / 2 && atomic_load(&r->waited))
        tu_bump(&r->late);
    return 0;
}

static int late_map(void *ctx, const void *in, void *out)
{
    late_run *r = ctx;

    (void)out;
    return late_item(r, tu_index_of(r->in, sizeof *r->in, LATE_N, in));
}

static int late_for(void *ctx, size_t i)
{
    return late_item(ctx, i);
}

static void no_item_starts_after_failure_is_seen(void **state)
{
    static const size_t specs[] = { 2, 4 };
    static const enum api apis[] = { API_MAP, API_FOR, API_MAP_UNZIP };
    size_t p, a, rep, i;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
        pool_t *pool = tu_pool_open(specs[p]);

        for (a = 0; a < TU_ARRAY_LEN(apis); a++)
            for (rep = 0; rep < 2; rep++) {
                pool_opts o = { LATE_N / 2, POOL_NO_INDEX };
                pool_column col = { 0, 1, NULL };
                unsigned char dst[LATE_N];
                late_run r;
                int rc;

                memset(&r, 0, sizeof r);
                for (i = 0; i < LATE_N; i++)
                    r.in[i] = (uint32_t)i;
                atomic_init(&r.half_started, 0);
                atomic_init(&r.failed, 0);
                atomic_init(&r.waited, 0);
                atomic_init(&r.late, 0);
                atomic_init(&r.timeout, 0);
                col.dst = dst;
                tu_where("%s on %s, rep %zu", api_name(apis[a]),
                         tu_pool_name(specs[p]), rep);
                if (apis[a] == API_MAP)
                    rc = pool_map_ex(pool, late_map, &r, r.in, sizeof *r.in,
                                     r.out, sizeof *r.out, LATE_N, &o);
                else if (apis[a] == API_FOR)
                    rc = pool_for_ex(pool, LATE_N, late_for, &r, &o);
                else
                    rc = pool_map_unzip(pool, late_map, &r, r.in, sizeof *r.in,
                                        8, LATE_N, &col, 1, &o);
                TU_ASSERT_EQ(rc, 77);
                TU_ASSERT_EQ(o.failed_index, 0);
                TU_ASSERT_EQ(atomic_load(&r.timeout), 0);
                TU_ASSERT_EQ(atomic_load(&r.late), 0);
            }
        pool_destroy(pool);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(lowest_failing_index_wins_map),
        TU_TEST(lowest_failing_index_wins_for),
        TU_TEST(lowest_failing_range_wins_for_range),
        TU_TEST(map_unzip_failure_keeps_columns_below_failing_item),
        TU_TEST(first_last_all_and_no_failures_follow_serial_contract),
        TU_TEST(serial_pools_start_nothing_past_first_failure),
        TU_TEST(calls_after_tiny_calls_follow_serial_contract),
        TU_TEST(call_returns_only_after_started_items_finish),
        TU_TEST(no_item_starts_after_failure_is_seen),
    };

    return TU_RUN(tests, argc, argv);
}
