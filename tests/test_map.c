/*
 * test_map.c - pool_map, pool_for and pool_for_range give the serial loop's
 * results: every item exactly once, in bounds, on every pool size.
 */
#include <pthread.h>

#include "test_util.h"

#define MAX_N 100003u /* a large prime */
#define GUARD 16      /* sentinel elements after each output array */

/* Pools: NULL, 1..4 threads and 0 (= CPU count). */
static const size_t pool_specs[] = { TU_NULL_POOL, 1, 2, 3, 4, 0 };

/* Item counts for a pool of nt threads: edges around nt, then primes. */
static size_t item_counts(size_t nt, size_t ns[9])
{
    ns[0] = 0;
    ns[1] = 1;
    ns[2] = 2;
    ns[3] = nt - 1;
    ns[4] = nt;
    ns[5] = nt + 1;
    ns[6] = 97;
    ns[7] = 1009;
    ns[8] = MAX_N;
    return 9;
}

/* ------------------------------------------------------------------------ */
/* How a call is made                                                       */
/* ------------------------------------------------------------------------ */

enum mode {
    MODE_PLAIN,      /* pool_map / pool_for / pool_for_range */
    MODE_NULL_OPTS,  /* the _ex call with opts == NULL */
    MODE_AUTO,       /* the _ex call with chunk 0 */
    MODE_CHUNK_1,
    MODE_CHUNK_7,
    MODE_CHUNK_N,
    MODE_CHUNK_N_PLUS_5
};

static const enum mode default_modes[] = { MODE_PLAIN, MODE_NULL_OPTS,
                                           MODE_AUTO };
static const enum mode chunk_modes[] = { MODE_CHUNK_1, MODE_CHUNK_7,
                                         MODE_CHUNK_N, MODE_CHUNK_N_PLUS_5 };

/* The fixed chunk of a mode (0 = scheduler's choice). */
static size_t mode_chunk(enum mode m, size_t n)
{
    switch (m) {
    case MODE_CHUNK_1: return 1;
    case MODE_CHUNK_7: return 7;
    case MODE_CHUNK_N: return n;
    case MODE_CHUNK_N_PLUS_5: return n + 5;
    default: return 0;
    }
}

static const char *mode_name(enum mode m)
{
    switch (m) {
    case MODE_PLAIN: return "plain call";
    case MODE_NULL_OPTS: return "_ex, opts NULL";
    case MODE_AUTO: return "_ex, chunk 0";
    case MODE_CHUNK_1: return "_ex, chunk 1";
    case MODE_CHUNK_7: return "_ex, chunk 7";
    case MODE_CHUNK_N: return "_ex, chunk n";
    default: return "_ex, chunk n+5";
    }
}

/* The opts to pass for a mode: NULL, or `o` set up with a poisoned
 * failed_index that a successful call must reset to POOL_NO_INDEX. */
static pool_opts *mode_opts(enum mode m, size_t n, pool_opts *o)
{
    if (m == MODE_PLAIN || m == MODE_NULL_OPTS)
        return NULL;
    o->chunk = mode_chunk(m, n);
    o->failed_index = 777;
    return o;
}

static void assert_success_opts(const pool_opts *o)
{
    if (o != NULL)
        TU_ASSERT_EQ(o->failed_index, POOL_NO_INDEX);
}

/* ------------------------------------------------------------------------ */
/* pool_map                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct map_run {
    uint32_t *in;
    uint64_t *out;
    size_t n;
    atomic_uint *count;
    atomic_uint stray; /* calls whose in/out pointers are not item i's */
} map_run;

static uint64_t map_value(uint32_t x)
{
    return (uint64_t)x * x + 0x12345u;
}

static int map_item(void *ctx, const void *in, void *out)
{
    map_run *r = ctx;
    size_t i = tu_index_of(r->in, sizeof *r->in, r->n, in);

    if (i == SIZE_MAX || tu_index_of(r->out, sizeof *r->out, r->n, out) != i) {
        tu_bump(&r->stray);
        return 0;
    }
    tu_bump(&r->count[i]);
    *(uint64_t *)out = map_value(*(const uint32_t *)in);
    return 0;
}

static void map_run_init(map_run *r)
{
    r->in = tu_malloc(MAX_N * sizeof *r->in);
    r->out = tu_malloc((MAX_N + GUARD) * sizeof *r->out);
    assert_non_null(r->in);
    assert_non_null(r->out);
    r->count = tu_counts_new(MAX_N);
}

static void map_run_free(map_run *r)
{
    tu_free(r->in);
    tu_free(r->out);
    tu_free(r->count);
}

static void check_map(pool_t *pool, map_run *r, size_t n, enum mode m)
{
    pool_opts o, *opts = mode_opts(m, n, &o);
    size_t i;
    int rc;

    r->n = n;
    for (i = 0; i < n; i++)
        r->in[i] = (uint32_t)(i * 2654435761u) ^ (uint32_t)n;
    memset(r->out, TU_SENTINEL, (n + GUARD) * sizeof *r->out);
    tu_counts_reset(r->count, n);
    atomic_store(&r->stray, 0);

    if (m == MODE_PLAIN)
        rc = pool_map(pool, map_item, r, r->in, sizeof *r->in, r->out,
                      sizeof *r->out, n);
    else
        rc = pool_map_ex(pool, map_item, r, r->in, sizeof *r->in, r->out,
                         sizeof *r->out, n, opts);

    TU_ASSERT_EQ(rc, 0);
    TU_ASSERT_EQ(atomic_load(&r->stray), 0);
    tu_assert_counts(r->count, 0, n, 1, "item");
    for (i = 0; i < n; i++)
        if (r->out[i] != map_value(r->in[i]))
            fail_msg("%s: out[%zu] wrong", tu_where_buf(), i);
    tu_assert_untouched(r->out + n, GUARD * sizeof *r->out, "guard after out");
    assert_success_opts(opts);
}

static void sweep_map(const enum mode *modes, size_t nmodes)
{
    map_run r;
    size_t p, k, j, ns[9], nn;

    map_run_init(&r);
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);

        nn = item_counts(pool_size(pool), ns);
        for (k = 0; k < nn; k++)
            for (j = 0; j < nmodes; j++) {
                tu_where("pool_map, %s, n=%zu, %s", tu_pool_name(pool_specs[p]),
                         ns[k], mode_name(modes[j]));
                check_map(pool, &r, ns[k], modes[j]);
            }
        pool_destroy(pool);
    }
    map_run_free(&r);
}

static void map_each_item_processed_once_in_bounds_with_right_output(void **state)
{
    (void)state;
    sweep_map(default_modes, TU_ARRAY_LEN(default_modes));
}

static void map_explicit_chunks_process_each_item_once(void **state)
{
    (void)state;
    sweep_map(chunk_modes, TU_ARRAY_LEN(chunk_modes));
}

/* x -> 3x + 1 on a 64-bit element, in place. */
static int triple_plus_one(void *ctx, const void *in, void *out)
{
    uint64_t x = *(const uint64_t *)in;

    (void)ctx;
    *(uint64_t *)out = 3 * x + 1;
    return 0;
}

/* The header allows in and out to be one array with in_size == out_size:
 * each item reads its element and rewrites it, whatever the order. */
static void map_in_place_over_one_array_rewrites_each_element_once(void **state)
{
    static const size_t specs[] = { TU_NULL_POOL, 1, 2, 4 };
    const size_t n = 10007;
    uint64_t *a = tu_malloc(n * sizeof *a);

    (void)state;
    for (size_t p = 0; p < TU_ARRAY_LEN(specs); p++) {
        pool_t *pool = tu_pool_open(specs[p]);

        tu_where("%s, %zu elements in place", tu_pool_name(specs[p]), n);
        for (size_t i = 0; i < n; i++)
            a[i] = i;
        TU_ASSERT_EQ(pool_map(pool, triple_plus_one, NULL, a, sizeof *a, a, sizeof *a, n), 0);
        for (size_t i = 0; i < n; i++)
            TU_ASSERT_EQ(a[i], 3 * (uint64_t)i + 1);
        pool_destroy(pool); /* NULL: a no-op */
    }
    tu_free(a);
}

/* ------------------------------------------------------------------------ */
/* pool_for                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct for_run {
    size_t n;
    atomic_uint *count;
    atomic_uint stray; /* indices >= n */
} for_run;

static int for_item(void *ctx, size_t i)
{
    for_run *r = ctx;

    if (i >= r->n)
        tu_bump(&r->stray);
    else
        tu_bump(&r->count[i]);
    return 0;
}

static void check_for(pool_t *pool, for_run *r, size_t n, enum mode m)
{
    pool_opts o, *opts = mode_opts(m, n, &o);
    int rc;

    r->n = n;
    tu_counts_reset(r->count, n);
    atomic_store(&r->stray, 0);
    if (m == MODE_PLAIN)
        rc = pool_for(pool, n, for_item, r);
    else
        rc = pool_for_ex(pool, n, for_item, r, opts);
    TU_ASSERT_EQ(rc, 0);
    TU_ASSERT_EQ(atomic_load(&r->stray), 0);
    tu_assert_counts(r->count, 0, n, 1, "index");
    assert_success_opts(opts);
}

static void sweep_for(const enum mode *modes, size_t nmodes)
{
    for_run r;
    size_t p, k, j, ns[9], nn;

    r.count = tu_counts_new(MAX_N);
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);

        nn = item_counts(pool_size(pool), ns);
        for (k = 0; k < nn; k++)
            for (j = 0; j < nmodes; j++) {
                tu_where("pool_for, %s, n=%zu, %s", tu_pool_name(pool_specs[p]),
                         ns[k], mode_name(modes[j]));
                check_for(pool, &r, ns[k], modes[j]);
            }
        pool_destroy(pool);
    }
    tu_free(r.count);
}

static void for_visits_each_index_once_in_bounds(void **state)
{
    (void)state;
    sweep_for(default_modes, TU_ARRAY_LEN(default_modes));
}

static void for_explicit_chunks_visit_each_index_once(void **state)
{
    (void)state;
    sweep_for(chunk_modes, TU_ARRAY_LEN(chunk_modes));
}

/* ------------------------------------------------------------------------ */
/* pool_for_range                                                           */
/* ------------------------------------------------------------------------ */

typedef struct range_run {
    size_t n;
    size_t chunk;          /* fixed chunk in use, 0 for automatic */
    atomic_uint *count;    /* per index */
    atomic_uint bad;       /* empty or out-of-bounds ranges */
    atomic_uint misshaped; /* with a fixed chunk: not [k*chunk, +chunk) */
} range_run;

static int range_item(void *ctx, size_t begin, size_t end)
{
    range_run *r = ctx;
    size_t i;

    if (begin >= end || end > r->n) {
        tu_bump(&r->bad);
        return 0;
    }
    if (r->chunk != 0) {
        size_t want = r->n - begin < r->chunk ? r->n - begin : r->chunk;
        if (begin % r->chunk != 0 || end - begin != want)
            tu_bump(&r->misshaped);
    }
    for (i = begin; i < end; i++)
        tu_bump(&r->count[i]);
    return 0;
}

static void check_range(pool_t *pool, range_run *r, size_t n, enum mode m)
{
    pool_opts o, *opts = mode_opts(m, n, &o);
    int rc;

    r->n = n;
    r->chunk = opts != NULL ? opts->chunk : 0;
    tu_counts_reset(r->count, n);
    atomic_store(&r->bad, 0);
    atomic_store(&r->misshaped, 0);
    if (m == MODE_PLAIN)
        rc = pool_for_range(pool, n, range_item, r);
    else
        rc = pool_for_range_ex(pool, n, range_item, r, opts);
    TU_ASSERT_EQ(rc, 0);
    TU_ASSERT_EQ(atomic_load(&r->bad), 0);
    TU_ASSERT_EQ(atomic_load(&r->misshaped), 0);
    /* Each index in exactly one range: disjoint and covering. */
    tu_assert_counts(r->count, 0, n, 1, "index");
    assert_success_opts(opts);
}

static void sweep_range(const enum mode *modes, size_t nmodes)
{
    range_run r;
    size_t p, k, j, ns[9], nn;

    r.count = tu_counts_new(MAX_N);
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);

        nn = item_counts(pool_size(pool), ns);
        for (k = 0; k < nn; k++)
            for (j = 0; j < nmodes; j++) {
                tu_where("pool_for_range, %s, n=%zu, %s",
                         tu_pool_name(pool_specs[p]), ns[k], mode_name(modes[j]));
                check_range(pool, &r, ns[k], modes[j]);
            }
        pool_destroy(pool);
    }
    tu_free(r.count);
}

static void for_range_ranges_nonempty_disjoint_and_covering(void **state)
{
    (void)state;
    sweep_range(default_modes, TU_ARRAY_LEN(default_modes));
}

static void for_range_fixed_chunk_gives_chunk_sized_ranges(void **state)
{
    (void)state;
    sweep_range(chunk_modes, TU_ARRAY_LEN(chunk_modes));
}

/* ------------------------------------------------------------------------ */
/* Zero element sizes                                                       */
/* ------------------------------------------------------------------------ */

typedef struct zero_run {
    const void *in_base;
    size_t in_size;
    void *out_base;
    size_t out_size;
    size_t n;
    atomic_uint *count; /* per item, when one side identifies the item */
    atomic_uint calls;
    atomic_uint stray;  /* a pointer that is not what the contract says */
} zero_run;

/* Identifies the item from whichever side has a size; a side with size 0
 * must receive its base pointer unchanged. */
static int zero_item(void *ctx, const void *in, void *out)
{
    zero_run *r = ctx;
    size_t i = SIZE_MAX, j;

    tu_bump(&r->calls);
    if (r->in_size == 0) {
        if (in != r->in_base)
            tu_bump(&r->stray);
    } else {
        i = tu_index_of(r->in_base, r->in_size, r->n, in);
        if (i == SIZE_MAX)
            tu_bump(&r->stray);
    }
    if (r->out_size == 0) {
        if (out != r->out_base)
            tu_bump(&r->stray);
    } else {
        j = tu_index_of(r->out_base, r->out_size, r->n, out);
        if (j == SIZE_MAX || (i != SIZE_MAX && i != j))
            tu_bump(&r->stray);
        i = j;
    }
    if (i != SIZE_MAX && i < r->n)
        tu_bump(&r->count[i]);
    return 0;
}

static void check_zero_sizes(const void *in, size_t in_size, void *out,
                             size_t out_size)
{
    static const size_t specs[] = { TU_NULL_POOL, 1, 2, 4 };
    static const size_t ns[] = { 1, 2, 5, 97, 1009 };
    size_t p, k;
    zero_run r;

    r.count = tu_counts_new(1009);
    r.in_base = in;
    r.in_size = in_size;
    r.out_base = out;
    r.out_size = out_size;
    for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
        pool_t *pool = tu_pool_open(specs[p]);

        for (k = 0; k < TU_ARRAY_LEN(ns); k++) {
            tu_where("pool_map, %s, n=%zu, in %s size %zu, out %s size %zu",
                     tu_pool_name(specs[p]), ns[k], in ? "set" : "NULL",
                     in_size, out ? "set" : "NULL", out_size);
            r.n = ns[k];
            tu_counts_reset(r.count, ns[k]);
            atomic_store(&r.calls, 0);
            atomic_store(&r.stray, 0);
            TU_ASSERT_EQ(pool_map(pool, zero_item, &r, in, in_size, out,
                                  out_size, ns[k]), 0);
            TU_ASSERT_EQ(atomic_load(&r.calls), ns[k]);
            TU_ASSERT_EQ(atomic_load(&r.stray), 0);
            if (in_size != 0 || out_size != 0)
                tu_assert_counts(r.count, 0, ns[k], 1, "item");
        }
        pool_destroy(pool);
    }
    tu_free(r.count);
}

static void map_zero_sizes_accept_null_arrays(void **state)
{
    (void)state;
    check_zero_sizes(NULL, 0, NULL, 0);
}

static void map_zero_in_size_passes_in_pointer_unchanged(void **state)
{
    static uint64_t out[1009];
    static const char token[1] = { 'x' };

    (void)state;
    check_zero_sizes(token, 0, out, sizeof *out);
    check_zero_sizes(NULL, 0, out, sizeof *out);
}

static void map_zero_out_size_passes_out_pointer_unchanged(void **state)
{
    static const uint32_t in[1009];
    static char token[1];

    (void)state;
    check_zero_sizes(in, sizeof *in, token, 0);
    check_zero_sizes(in, sizeof *in, NULL, 0);
}

/* ------------------------------------------------------------------------ */
/* n == 0                                                                   */
/* ------------------------------------------------------------------------ */

static int count_map(void *ctx, const void *in, void *out)
{
    (void)in;
    (void)out;
    tu_bump(ctx);
    return 0;
}

static int count_for(void *ctx, size_t i)
{
    (void)i;
    tu_bump(ctx);
    return 0;
}

static void zero_items_call_nothing_and_return_zero(void **state)
{
    static const size_t specs[] = { TU_NULL_POOL, 1, 2, 4 };
    size_t p;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
        pool_t *pool = tu_pool_open(specs[p]);
        pool_column col = { 0, 4, NULL };
        pool_opts o = POOL_OPTS_INIT;
        atomic_uint calls;

        atomic_init(&calls, 0);
        tu_where("n=0 on %s", tu_pool_name(specs[p]));
        TU_ASSERT_EQ(pool_map(pool, count_map, &calls, NULL, 4, NULL, 8, 0), 0);
        TU_ASSERT_EQ(pool_map_ex(pool, count_map, &calls, NULL, 4, NULL, 8, 0,
                                 &o), 0);
        TU_ASSERT_EQ(o.failed_index, POOL_NO_INDEX);
        TU_ASSERT_EQ(pool_for(pool, 0, count_for, &calls), 0);
        TU_ASSERT_EQ(pool_for_ex(pool, 0, count_for, &calls, &o), 0);
        TU_ASSERT_EQ(o.failed_index, POOL_NO_INDEX);
        TU_ASSERT_EQ(pool_for_range(pool, 0, tu_count_ranges, &calls), 0);
        TU_ASSERT_EQ(pool_for_range_ex(pool, 0, tu_count_ranges, &calls, &o), 0);
        TU_ASSERT_EQ(o.failed_index, POOL_NO_INDEX);
        TU_ASSERT_EQ(pool_unzip(pool, NULL, 4, 0, &col, 1), 0);
        TU_ASSERT_EQ(pool_unzip(pool, NULL, 4, 0, NULL, 0), 0);
        TU_ASSERT_EQ(pool_map_unzip(pool, count_map, &calls, NULL, 4, 4, 0,
                                    &col, 1, &o), 0);
        TU_ASSERT_EQ(o.failed_index, POOL_NO_INDEX);
        TU_ASSERT_EQ(atomic_load(&calls), 0);
        pool_destroy(pool);
    }
}

/* ------------------------------------------------------------------------ */
/* Where items run                                                          */
/* ------------------------------------------------------------------------ */

typedef struct where_run {
    pthread_t caller;
    size_t n;
    atomic_size_t next;     /* next index a serial loop would run */
    atomic_uint off_caller; /* items run on another thread */
    atomic_uint out_of_order;
    atomic_uint *count;
} where_run;

static int where_item(void *ctx, size_t i)
{
    where_run *r = ctx;

    if (!pthread_equal(pthread_self(), r->caller))
        tu_bump(&r->off_caller);
    if (atomic_fetch_add(&r->next, 1) != i)
        tu_bump(&r->out_of_order);
    if (i < r->n)
        tu_bump(&r->count[i]);
    return 0;
}

static void where_run_call(pool_t *pool, where_run *r, size_t n)
{
    r->caller = pthread_self();
    r->n = n;
    atomic_store(&r->next, 0);
    atomic_store(&r->off_caller, 0);
    atomic_store(&r->out_of_order, 0);
    tu_counts_reset(r->count, n);
    TU_ASSERT_EQ(pool_for(pool, n, where_item, r), 0);
    TU_ASSERT_EQ(atomic_load(&r->off_caller), 0);
    tu_assert_counts(r->count, 0, n, 1, "index");
}

static void null_pool_runs_serially_in_order_on_caller(void **state)
{
    where_run r;

    (void)state;
    r.count = tu_counts_new(1009);
    tu_where("pool_for on NULL pool, n=1009");
    where_run_call(NULL, &r, 1009);
    TU_ASSERT_EQ(atomic_load(&r.out_of_order), 0);
    tu_free(r.count);
}

static void one_thread_pool_runs_every_item_on_caller(void **state)
{
    pool_t *pool = pool_create(1);
    where_run r;

    (void)state;
    assert_non_null(pool);
    r.count = tu_counts_new(MAX_N);
    tu_where("pool_for on pool_create(1), n=%u", MAX_N);
    where_run_call(pool, &r, MAX_N);
    tu_free(r.count);
    pool_destroy(pool);
}

/* ------------------------------------------------------------------------ */
/* Uneven and contended work                                                */
/* ------------------------------------------------------------------------ */

static int uneven_item(void *ctx, size_t i)
{
    for_run *r = ctx;

    /* A few items are 100x dearer than the rest. */
    tu_busy(i % 97 == 0 ? 20000 : 200);
    return for_item(r, i);
}

static void uneven_items_each_processed_once(void **state)
{
    static const size_t specs[] = { 2, 3, 4, 8 };
    for_run r;
    size_t p, n = 3001;

    (void)state;
    r.count = tu_counts_new(n);
    for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
        pool_t *pool = tu_pool_open(specs[p]);

        tu_where("uneven pool_for, %s, n=%zu", tu_pool_name(specs[p]), n);
        r.n = n;
        tu_counts_reset(r.count, n);
        atomic_store(&r.stray, 0);
        TU_ASSERT_EQ(pool_for(pool, n, uneven_item, &r), 0);
        TU_ASSERT_EQ(atomic_load(&r.stray), 0);
        tu_assert_counts(r.count, 0, n, 1, "index");
        pool_destroy(pool);
    }
    tu_free(r.count);
}

static void many_small_calls_each_process_every_item(void **state)
{
    pool_t *pool = pool_create(4);
    size_t calls = 2000 * tu_scale(), c;
    for_run r;

    (void)state;
    assert_non_null(pool);
    r.count = tu_counts_new(64);
    for (c = 0; c < calls; c++) {
        size_t n = c % 64;

        tu_where("call %zu: pool_for on pool_create(4), n=%zu", c, n);
        r.n = n;
        tu_counts_reset(r.count, n);
        atomic_store(&r.stray, 0);
        TU_ASSERT_EQ(pool_for(pool, n, for_item, &r), 0);
        TU_ASSERT_EQ(atomic_load(&r.stray), 0);
        tu_assert_counts(r.count, 0, n, 1, "index");
    }
    tu_free(r.count);
    pool_destroy(pool);
}

/*
 * After calls too small to share, the next call starts on its caller alone
 * (src/job.c): one that turns out big must still be shared. Items of about
 * a millisecond: the other threads get some of them.
 */
static int slow_for_item(void *ctx, size_t i)
{
    where_run *r = ctx;

    if (!pthread_equal(pthread_self(), r->caller))
        tu_bump(&r->off_caller);
    tu_bump(&r->count[i]);
    struct timespec ts = { 0, 1000000 };
    nanosleep(&ts, NULL);
    return 0;
}

static void big_call_after_tiny_calls_is_shared(void **state)
{
    static const size_t specs[] = { 2, 4 };
    size_t p, n = 64, c;
    where_run r;

    (void)state;
    r.count = tu_counts_new(n);
    for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
        pool_t *pool = pool_create(specs[p]);

        assert_non_null(pool);
        tu_where("pool_create(%zu): 200 empty calls, then %zu items of 1 ms", specs[p], n);
        for (c = 0; c < 200; c++) {
            /* The order is not checked: the first of these calls may be
             * shared before the pool finds them tiny. */
            atomic_store(&r.next, 0);
            atomic_store(&r.out_of_order, 0);
            atomic_store(&r.off_caller, 0);
            r.caller = pthread_self();
            r.n = specs[p];
            tu_counts_reset(r.count, specs[p]);
            TU_ASSERT_EQ(pool_for(pool, specs[p], where_item, &r), 0);
            tu_assert_counts(r.count, 0, specs[p], 1, "index of an empty call");
        }
        r.caller = pthread_self();
        atomic_store(&r.off_caller, 0);
        tu_counts_reset(r.count, n);
        TU_ASSERT_EQ(pool_for(pool, n, slow_for_item, &r), 0);
        tu_assert_counts(r.count, 0, n, 1, "index");
        TU_ASSERT_TRUE(atomic_load(&r.off_caller) > 0);
        pool_destroy(pool);
    }
    tu_free(r.count);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(map_each_item_processed_once_in_bounds_with_right_output),
        TU_TEST(map_explicit_chunks_process_each_item_once),
        TU_TEST(map_in_place_over_one_array_rewrites_each_element_once),
        TU_TEST(for_visits_each_index_once_in_bounds),
        TU_TEST(for_explicit_chunks_visit_each_index_once),
        TU_TEST(for_range_ranges_nonempty_disjoint_and_covering),
        TU_TEST(for_range_fixed_chunk_gives_chunk_sized_ranges),
        TU_TEST(map_zero_sizes_accept_null_arrays),
        TU_TEST(map_zero_in_size_passes_in_pointer_unchanged),
        TU_TEST(map_zero_out_size_passes_out_pointer_unchanged),
        TU_TEST(zero_items_call_nothing_and_return_zero),
        TU_TEST(null_pool_runs_serially_in_order_on_caller),
        TU_TEST(one_thread_pool_runs_every_item_on_caller),
        TU_TEST(uneven_items_each_processed_once),
        TU_TEST(many_small_calls_each_process_every_item),
        TU_TEST(big_call_after_tiny_calls_is_shared),
    };

    return TU_RUN(tests, argc, argv);
}
