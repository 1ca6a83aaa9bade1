/*
 * test_concurrency.c - several application threads call loop functions on
 * one shared pool at once; each call gets exactly its own results and its
 * own error status.
 */
#include <pthread.h>

#include "test_util.h"

#define NCALLERS 4
#define MAX_ITEMS 700

static const size_t pool_sizes[] = { 1, 2, 4 };

typedef struct rec {
    uint8_t u8;
    char c3[3];
    uint16_t u16;
    double d;
} rec;

/* One application thread and everything its calls write. */
typedef struct caller {
    pool_t *pool;
    unsigned id;
    size_t ncalls;
    int (*scenario)(struct caller *c, tu_rng *rng, size_t call);
    pthread_barrier_t *start;
    unsigned errors;       /* wrong results seen by this thread */
    atomic_uint cb_errors; /* wrong things seen inside callbacks */
    size_t done;           /* calls completed */

    size_t n;
    uint32_t in[MAX_ITEMS];
    uint64_t out[MAX_ITEMS];
    atomic_uint count[MAX_ITEMS];
    rec tuples[MAX_ITEMS];
    uint8_t col_u8[MAX_ITEMS];
    char col_c3[MAX_ITEMS][3];
    uint16_t col_u16[MAX_ITEMS];
    double col_d[MAX_ITEMS];
} caller;

/* A value unique to (caller, call, item). */
static uint32_t tag(const caller *c, size_t call, size_t i)
{
    return (uint32_t)c->id << 28 | (uint32_t)(call & 0xFFF) << 16 | (uint32_t)i;
}

static uint64_t map_value(uint32_t x)
{
    return (uint64_t)x * 11 + 7;
}

static rec make_rec(uint32_t x)
{
    rec r;

    r.u8 = (uint8_t)x;
    r.c3[0] = (char)(x >> 3);
    r.c3[1] = (char)(x >> 11);
    r.c3[2] = (char)(x >> 19);
    r.u16 = (uint16_t)(x * 3);
    r.d = (double)x * 0.5;
    return r;
}

/* Sets up items [0, n) of this call: tagged inputs, zeroed outputs. */
static void prepare(caller *c, size_t call, size_t n)
{
    size_t i;

    c->n = n;
    for (i = 0; i < n; i++) {
        c->in[i] = tag(c, call, i);
        c->out[i] = 0;
        atomic_store_explicit(&c->count[i], 0, memory_order_relaxed);
    }
}

/* Counts items that did not run exactly once. */
static unsigned not_once(caller *c)
{
    unsigned bad = 0;
    size_t i;

    for (i = 0; i < c->n; i++)
        bad += tu_count(c->count, i) != 1;
    return bad;
}

/* ------------------------------------------------------------------------ */
/* Callbacks (ctx is the calling thread's caller)                           */
/* ------------------------------------------------------------------------ */

static int map_item(void *ctx, const void *in, void *out)
{
    caller *c = ctx;
    size_t i = tu_index_of(c->in, sizeof *c->in, c->n, in);

    if (i == SIZE_MAX || tu_index_of(c->out, sizeof *c->out, c->n, out) != i) {
        atomic_fetch_add(&c->cb_errors, 1);
        return 0;
    }
    tu_bump(&c->count[i]);
    *(uint64_t *)out = map_value(*(const uint32_t *)in);
    return 0;
}

static int for_item(void *ctx, size_t i)
{
    caller *c = ctx;

    if (i >= c->n) {
        atomic_fetch_add(&c->cb_errors, 1);
        return 0;
    }
    tu_bump(&c->count[i]);
    c->out[i] = map_value(c->in[i]);
    return 0;
}

static int range_item(void *ctx, size_t begin, size_t end)
{
    size_t i;
    int rc;

    for (i = begin; i < end; i++)
        if ((rc = for_item(ctx, i)) != 0)
            return rc;
    return 0;
}

static int rec_item(void *ctx, const void *in, void *out)
{
    caller *c = ctx;
    size_t i = tu_index_of(c->in, sizeof *c->in, c->n, in);

    if (i == SIZE_MAX) {
        atomic_fetch_add(&c->cb_errors, 1);
        return 0;
    }
    tu_bump(&c->count[i]);
    *(rec *)out = make_rec(*(const uint32_t *)in);
    return 0;
}

/* A nested pool_for over 16 sub-items on the same pool, then the map. */
static int sub_item(void *ctx, size_t k)
{
    atomic_uint *seen = ctx;

    tu_bump(&seen[k]);
    return 0;
}

static int nested_map_item(void *ctx, const void *in, void *out)
{
    caller *c = ctx;
    atomic_uint seen[16];
    size_t k;
    int rc;

    for (k = 0; k < 16; k++)
        atomic_init(&seen[k], 0);
    if ((rc = pool_for(c->pool, 16, sub_item, seen)) != 0)
        return rc;
    for (k = 0; k < 16; k++)
        if (atomic_load(&seen[k]) != 1)
            atomic_fetch_add(&c->cb_errors, 1);
    return map_item(ctx, in, out);
}

/* ------------------------------------------------------------------------ */
/* What each call checks                                                    */
/* ------------------------------------------------------------------------ */

static unsigned check_out(caller *c)
{
    unsigned bad = not_once(c);
    size_t i;

    for (i = 0; i < c->n; i++)
        bad += c->out[i] != map_value(c->in[i]);
    return bad;
}

static unsigned check_columns(caller *c)
{
    unsigned bad = 0;
    size_t i;

    for (i = 0; i < c->n; i++) {
        rec want = make_rec(c->in[i]);
        bad += c->col_u8[i] != want.u8 || memcmp(c->col_c3[i], want.c3, 3) != 0 ||
               c->col_u16[i] != want.u16 || c->col_d[i] != want.d;
    }
    return bad;
}

/* Zeroes the columns and returns their descriptors. */
static void columns_for(caller *c, pool_column cols[4])
{
    memset(c->col_u8, 0, sizeof c->col_u8);
    memset(c->col_c3, 0, sizeof c->col_c3);
    memset(c->col_u16, 0, sizeof c->col_u16);
    memset(c->col_d, 0, sizeof c->col_d);
    cols[0] = POOL_COLUMN(rec, u8, c->col_u8);
    cols[1] = POOL_COLUMN(rec, c3, c->col_c3);
    cols[2] = POOL_COLUMN(rec, u16, c->col_u16);
    cols[3] = POOL_COLUMN(rec, d, c->col_d);
}

static int do_map(caller *c, tu_rng *rng, size_t call)
{
    prepare(c, call, tu_rng_below(rng, MAX_ITEMS + 1));
    if (pool_map(c->pool, map_item, c, c->in, sizeof *c->in, c->out,
                 sizeof *c->out, c->n) != 0)
        return 1;
    return (int)check_out(c);
}

static int do_for(caller *c, tu_rng *rng, size_t call)
{
    pool_opts o = POOL_OPTS_INIT;

    prepare(c, call, tu_rng_below(rng, MAX_ITEMS + 1));
    o.chunk = call % 3 == 0 ? 0 : call % 17;
    if (pool_for_ex(c->pool, c->n, for_item, c, &o) != 0 ||
        o.failed_index != POOL_NO_INDEX)
        return 1;
    return (int)check_out(c);
}

static int do_unzip(caller *c, tu_rng *rng, size_t call)
{
    pool_column cols[4];
    size_t i;

    prepare(c, call, tu_rng_below(rng, MAX_ITEMS + 1));
    columns_for(c, cols);
    for (i = 0; i < c->n; i++)
        c->tuples[i] = make_rec(c->in[i]);
    if (pool_unzip(c->pool, c->tuples, sizeof *c->tuples, c->n, cols, 4) != 0)
        return 1;
    return (int)check_columns(c);
}

/* Cycles through every API, nested calls included. */
static int do_mixed(caller *c, tu_rng *rng, size_t call)
{
    pool_column cols[4];

    switch (call % 5) {
    case 0:
        return do_map(c, rng, call);
    case 1:
        return do_unzip(c, rng, call);
    case 2:
        prepare(c, call, tu_rng_below(rng, MAX_ITEMS + 1));
        if (pool_for_range(c->pool, c->n, range_item, c) != 0)
            return 1;
        return (int)check_out(c);
    case 3:
        prepare(c, call, tu_rng_below(rng, MAX_ITEMS + 1));
        columns_for(c, cols);
        if (pool_map_unzip(c->pool, rec_item, c, c->in, sizeof *c->in,
                           sizeof(rec), c->n, cols, 4, NULL) != 0)
            return 1;
        return (int)(not_once(c) + check_columns(c));
    default:
        prepare(c, call, tu_rng_below(rng, 64 + 1));
        if (pool_map(c->pool, nested_map_item, c, c->in, sizeof *c->in, c->out,
                     sizeof *c->out, c->n) != 0)
            return 1;
        return (int)check_out(c);
    }
}

/* Failing calls: the status names the caller, so a leak shows. */
static int fail_item(void *ctx, size_t i)
{
    caller *c = ctx;

    if (i >= c->n) {
        atomic_fetch_add(&c->cb_errors, 1);
        return 0;
    }
    tu_bump(&c->count[i]);
    /* in[i] != 0 marks item i as failing. */
    return c->in[i] ? (int)(c->id + 1) * 100000 + (int)i : 0;
}

static int do_failing(caller *c, tu_rng *rng, size_t call)
{
    size_t n = 1 + tu_rng_below(rng, MAX_ITEMS), i, lowest = SIZE_MAX, k;
    pool_opts o = POOL_OPTS_INIT;
    int rc, bad = 0;

    c->n = n;
    (void)call;
    for (i = 0; i < n; i++) {
        c->in[i] = 0;
        atomic_store_explicit(&c->count[i], 0, memory_order_relaxed);
    }
    for (k = tu_rng_below(rng, 4); k > 0; k--) { /* 0..3 failing items */
        i = tu_rng_below(rng, n);
        c->in[i] = 1;
        if (i < lowest)
            lowest = i;
    }
    o.chunk = call % 2;
    rc = pool_for_ex(c->pool, n, fail_item, c, &o);
    if (lowest == SIZE_MAX)
        return rc != 0 || o.failed_index != POOL_NO_INDEX || not_once(c) != 0;
    bad += rc != (int)(c->id + 1) * 100000 + (int)lowest;
    bad += o.failed_index != lowest;
    for (i = 0; i <= lowest; i++)
        bad += tu_count(c->count, i) != 1;
    return bad;
}

/* ------------------------------------------------------------------------ */
/* Driver                                                                   */
/* ------------------------------------------------------------------------ */

static void *caller_main(void *arg)
{
    caller *c = arg;
    tu_rng rng = tu_rng_seed(0xC0FFEE + c->id);
    size_t call;

    pthread_barrier_wait(c->start);
    for (call = 0; call < c->ncalls; call++) {
        c->errors += (unsigned)c->scenario(c, &rng, call);
        c->done++;
    }
    return NULL;
}

/* NCALLERS threads run `scenario` on one shared pool of each size. */
static void run_callers(const char *what,
                        int (*scenario)(caller *c, tu_rng *rng, size_t call))
{
    size_t s, k, ncalls = 200 * tu_scale();

    for (s = 0; s < TU_ARRAY_LEN(pool_sizes); s++) {
        pool_t *pool = tu_pool_open(pool_sizes[s]);
        caller *callers = tu_calloc(NCALLERS, sizeof *callers);
        pthread_t threads[NCALLERS];
        pthread_barrier_t start;

        assert_non_null(callers);
        assert_int_equal(pthread_barrier_init(&start, NULL, NCALLERS), 0);
        for (k = 0; k < NCALLERS; k++) {
            callers[k].pool = pool;
            callers[k].id = (unsigned)k;
            callers[k].ncalls = ncalls;
            callers[k].scenario = scenario;
            callers[k].start = &start;
            atomic_init(&callers[k].cb_errors, 0);
            assert_int_equal(pthread_create(&threads[k], NULL, caller_main,
                                            &callers[k]), 0);
        }
        for (k = 0; k < NCALLERS; k++)
            assert_int_equal(pthread_join(threads[k], NULL), 0);
        for (k = 0; k < NCALLERS; k++) {
            tu_where("%s, %zu callers on pool_create(%zu), caller %zu", what,
                     (size_t)NCALLERS, pool_sizes[s], k);
            TU_ASSERT_EQ(callers[k].done, ncalls);
            TU_ASSERT_EQ(callers[k].errors, 0);
            TU_ASSERT_EQ(atomic_load(&callers[k].cb_errors), 0);
        }
        pthread_barrier_destroy(&start);
        tu_free(callers);
        pool_destroy(pool);
    }
}

static void concurrent_maps_each_get_own_results(void **state)
{
    (void)state;
    run_callers("pool_map", do_map);
}

static void concurrent_fors_each_get_own_results(void **state)
{
    (void)state;
    run_callers("pool_for", do_for);
}

static void concurrent_unzips_each_get_own_columns(void **state)
{
    (void)state;
    run_callers("pool_unzip", do_unzip);
}

static void concurrent_mixed_and_nested_calls_get_own_results(void **state)
{
    (void)state;
    run_callers("mixed and nested", do_mixed);
}

static void concurrent_failing_calls_each_get_own_status(void **state)
{
    (void)state;
    run_callers("failing pool_for", do_failing);
}

/*
 * A call that holds every worker (each in one of its items, parked at a
 * gate) and a second call made meanwhile from another thread: the second
 * runs all its items on its own thread, and the first, once the gate
 * opens, still returns only after every helper has left its items. (A
 * call on offer that every worker took is left there and the next call's
 * offer goes over it; the first call must count its helpers right
 * whether it finds its offer, another's, or none.)
 */
typedef struct held_call {
    pool_t *pool;
    size_t n;
    tu_gate gate;
    atomic_uint finished[4]; /* item i set its flag as its last act */
    unsigned unfinished;     /* flags still clear when the call returned */
    int rc;
    tu_latch returned; /* 1 once the call returned */
} held_call;

static int held_item(void *ctx, size_t i)
{
    held_call *h = ctx;

    tu_spin_ns(5000); /* too long for the call to look tiny */
    tu_gate_pass(&h->gate);
    tu_sleep_ns(TU_MS(20)); /* a helper the join missed is still here */
    atomic_store(&h->finished[i], 1);
    return 0;
}

static int count_item(void *ctx, size_t i)
{
    atomic_uint *counts = ctx;

    tu_bump(&counts[i]);
    return 0;
}

static void *held_caller(void *arg)
{
    held_call *h = arg;

    h->rc = pool_for(h->pool, h->n, held_item, h);
    for (size_t i = 0; i < h->n; i++)
        h->unfinished += atomic_load(&h->finished[i]) == 0;
    tu_latch_add(&h->returned, 1);
    return NULL;
}

static void a_call_made_while_another_holds_every_worker_leaves_its_count_alone(void **state)
{
    static const size_t sizes[] = { 2, 4 };
    enum { M = 1000 };

    (void)state;
    for (size_t s = 0; s < TU_ARRAY_LEN(sizes); s++) {
        for (unsigned round = 0; round < 5; round++) {
            pool_t *pool = tu_pool_open(sizes[s]);
            held_call h = { .pool = pool, .n = sizes[s], .unfinished = 0, .rc = -1 };
            atomic_uint *counts = tu_counts_new(M);
            pthread_t t;

            tu_where("pool_create(%zu), round %u", sizes[s], round);
            tu_gate_init(&h.gate);
            tu_latch_init(&h.returned);
            for (size_t i = 0; i < TU_ARRAY_LEN(h.finished); i++)
                atomic_init(&h.finished[i], 0);
            /* Workers asleep: the first call looks at its offer before
             * they take it, and finds another call's, or none, after. */
            tu_sleep_ns(TU_MS(10));
            assert_int_equal(pthread_create(&t, NULL, held_caller, &h), 0);
            /* Every thread of the pool is in the first call's items. */
            TU_ASSERT_EQ(tu_gate_await(&h.gate, sizes[s]), 0);
            TU_ASSERT_EQ(pool_for(pool, M, count_item, counts), 0);
            tu_assert_counts(counts, 0, M, 1, "the second call's item");
            tu_gate_open(&h.gate);
            /* A call that counts its helpers wrong waits for ever once
             * they have left, or returns before they do (unfinished). */
            if (tu_latch_wait(&h.returned, 1, TU_WAIT_NS) != 0)
                fail_msg("%s: the first call did not return", tu_where_buf());
            assert_int_equal(pthread_join(t, NULL), 0);
            TU_ASSERT_EQ(h.rc, 0);
            TU_ASSERT_EQ(h.unfinished, 0);
            TU_ASSERT_EQ(tu_gate_timeouts(&h.gate), 0);
            tu_gate_destroy(&h.gate);
            tu_latch_destroy(&h.returned);
            pool_destroy(pool);
        }
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(concurrent_maps_each_get_own_results),
        TU_TEST(concurrent_fors_each_get_own_results),
        TU_TEST(concurrent_unzips_each_get_own_columns),
        TU_TEST(concurrent_mixed_and_nested_calls_get_own_results),
        TU_TEST(concurrent_failing_calls_each_get_own_status),
        TU_TEST(a_call_made_while_another_holds_every_worker_leaves_its_count_alone),
    };

    return TU_RUN(tests, argc, argv);
}
