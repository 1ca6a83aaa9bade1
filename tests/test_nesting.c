/*
 * test_nesting.c - callbacks that call loop functions on the same pool
 * complete (ctest's timeout catches a deadlock), get correct inner results,
 * an inner failure becomes the outer item's status, a caller waiting
 * for its helpers helps with the calls they made, and with no other, and
 * calls nested in a few items, dealt to some of their slots, run each
 * item once.
 */
#include <stdbool.h>

#include "test_util.h"

/* NULL included: nesting must also just work serially. */
static const size_t pool_specs[] = { TU_NULL_POOL, 1, 2, 4 };

static size_t reps(void)
{
    return 5 * tu_scale();
}

/* ------------------------------------------------------------------------ */
/* Two levels of pool_map                                                   */
/* ------------------------------------------------------------------------ */

#define MAP_OUTER 24
#define MAP_INNER 301

typedef struct map_nest {
    pool_t *pool;
    uint32_t in[MAP_OUTER];
    uint64_t out[MAP_OUTER];
    atomic_uint inner_bad;  /* inner calls with a wrong element */
} map_nest;

static uint64_t sq(uint32_t x)
{
    return (uint64_t)x * x;
}

static int inner_square(void *ctx, const void *in, void *out)
{
    (void)ctx;
    *(uint64_t *)out = sq(*(const uint32_t *)in);
    return 0;
}

/* out = sum over j < MAP_INNER of (x + j)^2, computed by a nested pool_map. */
static int outer_sum_of_squares(void *ctx, const void *in, void *out)
{
    map_nest *m = ctx;
    uint32_t x = *(const uint32_t *)in, inner_in[MAP_INNER];
    uint64_t inner_out[MAP_INNER], sum = 0;
    size_t j;
    int rc;

    for (j = 0; j < MAP_INNER; j++)
        inner_in[j] = x + (uint32_t)j;
    rc = pool_map(m->pool, inner_square, NULL, inner_in, sizeof *inner_in,
                  inner_out, sizeof *inner_out, MAP_INNER);
    if (rc != 0)
        return rc;
    for (j = 0; j < MAP_INNER; j++) {
        if (inner_out[j] != sq(inner_in[j]))
            tu_bump(&m->inner_bad);
        sum += inner_out[j];
    }
    *(uint64_t *)out = sum;
    return 0;
}

static void nested_map_two_levels_on_same_pool(void **state)
{
    size_t p, rep, i, j;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++)
        for (rep = 0; rep < reps(); rep++) {
            map_nest m;

            m.pool = tu_pool_open(pool_specs[p]);
            atomic_init(&m.inner_bad, 0);
            for (i = 0; i < MAP_OUTER; i++) {
                m.in[i] = (uint32_t)(i * 1000 + rep);
                m.out[i] = 0;
            }
            tu_where("nested pool_map on %s, rep %zu", tu_pool_name(pool_specs[p]),
                     rep);
            TU_ASSERT_EQ(pool_map(m.pool, outer_sum_of_squares, &m, m.in,
                                  sizeof *m.in, m.out, sizeof *m.out,
                                  MAP_OUTER), 0);
            TU_ASSERT_EQ(atomic_load(&m.inner_bad), 0);
            for (i = 0; i < MAP_OUTER; i++) {
                uint64_t want = 0;
                for (j = 0; j < MAP_INNER; j++)
                    want += sq(m.in[i] + (uint32_t)j);
                TU_ASSERT_EQ(m.out[i], want);
            }
            pool_destroy(m.pool);
        }
}

/* ------------------------------------------------------------------------ */
/* Three levels of pool_for                                                 */
/* ------------------------------------------------------------------------ */

#define L1 5
#define L2 6
#define L3 70

typedef struct for_nest {
    pool_t *pool;
    atomic_uint count[L1][L2][L3];
    atomic_uint stray;
} for_nest;

/* ctx of one level: the shared state plus the indices above it. */
typedef struct level {
    for_nest *f;
    size_t i, j;
} level;

static int for_level3(void *ctx, size_t k)
{
    level *l = ctx;

    if (l->i >= L1 || l->j >= L2 || k >= L3)
        tu_bump(&l->f->stray);
    else
        tu_bump(&l->f->count[l->i][l->j][k]);
    return 0;
}

static int for_level2(void *ctx, size_t j)
{
    const level *up = ctx;
    level l = { up->f, up->i, j };

    return pool_for(l.f->pool, L3, for_level3, &l);
}

static int for_level1(void *ctx, size_t i)
{
    level l = { ctx, i, 0 };

    return pool_for(l.f->pool, L2, for_level2, &l);
}

static void nested_for_three_levels_on_same_pool(void **state)
{
    size_t p, rep;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++)
        for (rep = 0; rep < reps(); rep++) {
            for_nest *f = tu_calloc(1, sizeof *f);
            size_t i, j;

            assert_non_null(f);
            f->pool = tu_pool_open(pool_specs[p]);
            for (i = 0; i < L1; i++)
                for (j = 0; j < L2; j++)
                    tu_counts_reset(f->count[i][j], L3);
            atomic_init(&f->stray, 0);
            tu_where("3-level pool_for on %s, rep %zu",
                     tu_pool_name(pool_specs[p]), rep);
            TU_ASSERT_EQ(pool_for(f->pool, L1, for_level1, f), 0);
            TU_ASSERT_EQ(atomic_load(&f->stray), 0);
            for (i = 0; i < L1; i++)
                for (j = 0; j < L2; j++)
                    tu_assert_counts(f->count[i][j], 0, L3, 1, "leaf");
            pool_destroy(f->pool);
            tu_free(f);
        }
}

/* ------------------------------------------------------------------------ */
/* Every API nested inside pool_for_range                                   */
/* ------------------------------------------------------------------------ */

#define MIX_OUTER 40
#define MIX_INNER 129

typedef struct pair {
    uint32_t a;
    uint16_t b;
} pair;

typedef struct mix_nest {
    pool_t *pool;
    atomic_uint bad;   /* inner results that were wrong */
    atomic_uint calls; /* outer indices handled */
} mix_nest;

static int make_pair(void *ctx, const void *in, void *out)
{
    uint32_t x = *(const uint32_t *)in;
    pair *t = out;

    (void)ctx;
    t->a = x * 3;
    t->b = (uint16_t)(x ^ 0x5A5A);
    return 0;
}

static int count_range(void *ctx, size_t begin, size_t end)
{
    atomic_uint *covered = ctx;
    size_t i;

    for (i = begin; i < end; i++)
        tu_bump(&covered[i]);
    return 0;
}

/* For one outer index x: map_unzip, map + unzip and a range loop, nested. */
static int mix_one(mix_nest *m, uint32_t x)
{
    uint32_t in[MIX_INNER], a1[MIX_INNER], a2[MIX_INNER];
    uint16_t b1[MIX_INNER], b2[MIX_INNER];
    pair tuples[MIX_INNER];
    atomic_uint covered[MIX_INNER];
    pool_column c1[2] = { POOL_COLUMN(pair, a, a1), POOL_COLUMN(pair, b, b1) };
    pool_column c2[2] = { POOL_COLUMN(pair, a, a2), POOL_COLUMN(pair, b, b2) };
    size_t j;
    int rc;

    for (j = 0; j < MIX_INNER; j++) {
        in[j] = x * 1000 + (uint32_t)j;
        atomic_init(&covered[j], 0);
    }
    if ((rc = pool_map_unzip(m->pool, make_pair, NULL, in, sizeof *in,
                             sizeof(pair), MIX_INNER, c1, 2, NULL)) != 0)
        return rc;
    if ((rc = pool_map(m->pool, make_pair, NULL, in, sizeof *in, tuples,
                       sizeof *tuples, MIX_INNER)) != 0)
        return rc;
    if ((rc = pool_unzip(m->pool, tuples, sizeof *tuples, MIX_INNER, c2, 2)) != 0)
        return rc;
    if ((rc = pool_for_range(m->pool, MIX_INNER, count_range, covered)) != 0)
        return rc;
    for (j = 0; j < MIX_INNER; j++)
        if (a1[j] != in[j] * 3 || b1[j] != (uint16_t)(in[j] ^ 0x5A5A) ||
            a2[j] != a1[j] || b2[j] != b1[j] || atomic_load(&covered[j]) != 1)
            tu_bump(&m->bad);
    return 0;
}

static int mix_range(void *ctx, size_t begin, size_t end)
{
    mix_nest *m = ctx;
    size_t i;
    int rc;

    for (i = begin; i < end; i++) {
        if ((rc = mix_one(m, (uint32_t)i)) != 0)
            return rc;
        tu_bump(&m->calls);
    }
    return 0;
}

static void nested_every_api_inside_for_range(void **state)
{
    size_t p, rep;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++)
        for (rep = 0; rep < reps(); rep++) {
            mix_nest m;

            m.pool = tu_pool_open(pool_specs[p]);
            atomic_init(&m.bad, 0);
            atomic_init(&m.calls, 0);
            tu_where("APIs nested in pool_for_range on %s, rep %zu",
                     tu_pool_name(pool_specs[p]), rep);
            TU_ASSERT_EQ(pool_for_range(m.pool, MIX_OUTER, mix_range, &m), 0);
            TU_ASSERT_EQ(atomic_load(&m.calls), MIX_OUTER);
            TU_ASSERT_EQ(atomic_load(&m.bad), 0);
            pool_destroy(m.pool);
        }
}

/* ------------------------------------------------------------------------ */
/* Inner failures                                                           */
/* ------------------------------------------------------------------------ */

#define FAIL_OUTER 40
#define FAIL_INNER 200

typedef struct fail_nest {
    pool_t *pool;
    unsigned char fails[FAIL_OUTER]; /* outer item i has a failing inner item */
    size_t inner_at[FAIL_OUTER];     /* ... at this inner index */
    size_t inner_reported[FAIL_OUTER];
    int three_levels;
} fail_nest;

typedef struct fail_item {
    const fail_nest *fn;
    size_t i, j;
} fail_item;

static int inner_status(size_t i, size_t j)
{
    return 1000 * (int)(i + 1) + (int)j;
}

static int fails_at(const fail_item *it, size_t j)
{
    return it->fn->fails[it->i] && j == it->fn->inner_at[it->i];
}

/* 2 levels: inner item j of outer item i fails directly. */
static int fail_leaf(void *ctx, size_t j)
{
    const fail_item *it = ctx;

    return fails_at(it, j) ? inner_status(it->i, j) : 0;
}

/* 3 levels: item k == 1 of the innermost call under (i, j) fails. */
static int fail_leaf3(void *ctx, size_t k)
{
    const fail_item *it = ctx;

    return k == 1 && fails_at(it, it->j) ? inner_status(it->i, it->j) : 0;
}

/* Middle level of the 3-level variant: passes the leaf call's status up. */
static int fail_middle(void *ctx, size_t j)
{
    const fail_item *up = ctx;
    fail_item it = { up->fn, up->i, j };

    return pool_for(it.fn->pool, 3, fail_leaf3, &it);
}

static int fail_outer(void *ctx, size_t i)
{
    fail_nest *fn = ctx;
    fail_item it = { fn, i, 0 };
    pool_opts o = POOL_OPTS_INIT;
    int rc;

    o.chunk = i % 3; /* mix automatic and fixed chunks */
    rc = pool_for_ex(fn->pool, FAIL_INNER,
                     fn->three_levels ? fail_middle : fail_leaf, &it, &o);
    fn->inner_reported[i] = o.failed_index; /* only item i writes slot i */
    return rc;
}

static void inner_failure_becomes_outer_status(void **state)
{
    size_t p, rep, nreps = 40 * tu_scale();
    tu_rng rng = tu_rng_seed(42);

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);

        for (rep = 0; rep < nreps; rep++) {
            fail_nest fn;
            pool_opts o = POOL_OPTS_INIT;
            size_t i, lowest = SIZE_MAX, k, nplant = 1 + tu_rng_below(&rng, 3);
            int rc;

            memset(&fn, 0, sizeof fn);
            fn.pool = pool;
            fn.three_levels = (int)(rep % 2);
            for (k = 0; k < nplant; k++) {
                i = tu_rng_below(&rng, FAIL_OUTER - 1); /* last is kept clean */
                fn.fails[i] = 1;
                fn.inner_at[i] = tu_rng_below(&rng, FAIL_INNER);
                if (i < lowest)
                    lowest = i;
            }
            for (i = 0; i < FAIL_OUTER; i++)
                fn.inner_reported[i] = 777;
            tu_where("nested failure on %s, rep %zu, %s, lowest outer %zu",
                     tu_pool_name(pool_specs[p]), rep,
                     fn.three_levels ? "3 levels" : "2 levels", lowest);
            rc = pool_for_ex(pool, FAIL_OUTER, fail_outer, &fn, &o);
            TU_ASSERT_EQ(rc, inner_status(lowest, fn.inner_at[lowest]));
            TU_ASSERT_EQ(o.failed_index, lowest);
            /* The inner call reported its own failing index. */
            TU_ASSERT_EQ(fn.inner_reported[lowest], fn.inner_at[lowest]);
            /* Outer items below it ran and succeeded. */
            for (i = 0; i < lowest; i++)
                TU_ASSERT_EQ(fn.inner_reported[i], POOL_NO_INDEX);
        }
        pool_destroy(pool);
    }
}

/* ------------------------------------------------------------------------ */
/* Deep recursion and two pools                                             */
/* ------------------------------------------------------------------------ */

typedef struct deep {
    pool_t *pools[2]; /* level d calls on pools[d % 2] */
    unsigned depth;
    atomic_uint leaves;
} deep;

typedef struct deep_level {
    deep *d;
    unsigned level;
} deep_level;

static int deep_item(void *ctx, size_t i)
{
    const deep_level *up = ctx;
    deep_level next = { up->d, up->level + 1 };

    (void)i;
    if (next.level == up->d->depth) {
        tu_bump(&up->d->leaves);
        return 0;
    }
    return pool_for(up->d->pools[next.level % 2], 2, deep_item, &next);
}

static void run_deep(pool_t *a, pool_t *b, unsigned depth)
{
    deep d = { { a, b }, depth, 0 };
    deep_level top = { &d, 0 };

    atomic_init(&d.leaves, 0);
    TU_ASSERT_EQ(pool_for(a, 2, deep_item, &top), 0);
    TU_ASSERT_EQ(atomic_load(&d.leaves), 1u << depth);
}

static void deep_recursive_nesting_completes(void **state)
{
    size_t p, rep;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);

        for (rep = 0; rep < reps(); rep++) {
            tu_where("depth 10 on %s, rep %zu", tu_pool_name(pool_specs[p]), rep);
            run_deep(pool, pool, 10);
        }
        pool_destroy(pool);
    }
}

/* Pool A's items call pool B, whose items call pool A, and so on. */
static void nesting_across_two_pools_completes(void **state)
{
    static const size_t sizes[][2] = { { 1, 1 }, { 1, 2 }, { 2, 2 }, { 4, 2 } };
    size_t s, rep;

    (void)state;
    for (s = 0; s < TU_ARRAY_LEN(sizes); s++) {
        pool_t *a = tu_pool_open(sizes[s][0]);
        pool_t *b = tu_pool_open(sizes[s][1]);

        for (rep = 0; rep < reps(); rep++) {
            tu_where("A(%zu) <-> B(%zu), rep %zu", sizes[s][0], sizes[s][1], rep);
            run_deep(a, b, 8);
        }
        pool_destroy(a);
        pool_destroy(b);
    }
}

/* ------------------------------------------------------------------------ */
/* A caller waiting for its helpers                                         */
/* ------------------------------------------------------------------------ */

/*
 * A caller whose own items are done waits for its helpers; while one of
 * them is in an item that made a call of its own, the caller runs items of
 * that inner call (src/job.c, job_help_nested). Here the inner call's items
 * on every other thread wait until the outer caller has run one of them:
 * they go on only because it helps (else they give up after 10 s).
 */
#define HELP_INNER 64

typedef struct join_help {
    pool_t *pool;
    pthread_t caller;        /* the outer call's caller */
    tu_latch outer_started;  /* outer items begun on other threads */
    tu_latch caller_ran;     /* inner items the outer caller ran */
    atomic_bool nested_made; /* one outer item makes the inner call */
    atomic_bool gave_up;     /* an inner item waited in vain */
    atomic_uint inner_ran;
    int inner_rc;
    bool via_in_place;       /* ... from inside an in-place call of one item */
    int mid_rc;
} join_help;

static int help_inner(void *ctx, size_t j)
{
    join_help *h = ctx;

    (void)j;
    atomic_fetch_add(&h->inner_ran, 1);
    if (pthread_equal(pthread_self(), h->caller)) {
        tu_latch_add(&h->caller_ran, 1);
        return 0;
    }
    if (!atomic_load(&h->gave_up) && tu_latch_wait(&h->caller_ran, 1, TU_MS(10000)) != 0)
        atomic_store(&h->gave_up, true);
    return 0;
}

/* The one item of an in-place call, itself inside an outer item. */
static int help_mid(void *ctx, size_t i)
{
    join_help *h = ctx;

    (void)i;
    h->inner_rc = pool_for(h->pool, HELP_INNER, help_inner, h);
    return 0;
}

static int help_outer(void *ctx, size_t i)
{
    join_help *h = ctx;

    (void)i;
    if (pthread_equal(pthread_self(), h->caller)) /* until another thread has an item */
        return tu_latch_wait(&h->outer_started, 1, TU_MS(10000));
    tu_latch_add(&h->outer_started, 1);
    if (!atomic_exchange(&h->nested_made, true)) {
        if (h->via_in_place)
            h->mid_rc = pool_for(h->pool, 1, help_mid, h);
        else
            h->inner_rc = pool_for(h->pool, HELP_INNER, help_inner, h);
    }
    return 0;
}

static void run_join_help(bool via_in_place)
{
    static const size_t sizes[] = { 2, 4 };

    for (size_t p = 0; p < TU_ARRAY_LEN(sizes); p++) {
        for (size_t rep = 0; rep < 3; rep++) {
            join_help h;

            /* A fresh pool: its first call is shared at once (never tiny). */
            h.pool = tu_pool_open(sizes[p]);
            h.caller = pthread_self();
            tu_latch_init(&h.outer_started);
            tu_latch_init(&h.caller_ran);
            atomic_init(&h.nested_made, false);
            atomic_init(&h.gave_up, false);
            atomic_init(&h.inner_ran, 0);
            h.inner_rc = -1;
            h.via_in_place = via_in_place;
            h.mid_rc = via_in_place ? -1 : 0;
            tu_where("pool_create(%zu), rep %zu: an outer item's inner call%s", sizes[p], rep,
                     via_in_place ? " inside an in-place call" : "");
            TU_ASSERT_EQ(pool_for(h.pool, sizes[p], help_outer, &h), 0);
            TU_ASSERT_EQ(h.mid_rc, 0);
            TU_ASSERT_EQ(h.inner_rc, 0);
            TU_ASSERT_EQ(atomic_load(&h.inner_ran), HELP_INNER);
            TU_ASSERT_TRUE(tu_latch_get(&h.caller_ran) > 0);
            TU_ASSERT_TRUE(!atomic_load(&h.gave_up));
            tu_latch_destroy(&h.caller_ran);
            tu_latch_destroy(&h.outer_started);
            pool_destroy(h.pool);
        }
    }
}

static void a_waiting_caller_runs_items_of_calls_nested_in_its_own(void **state)
{
    (void)state;
    run_join_help(false);
}

/*
 * The same when the inner call is made from inside an in-place call (one
 * item) that the outer item made: the in-place call's items run on the
 * outer item's thread, inside it, so the inner call is nested in the outer
 * call all the same. (It used to count as a top-level call: offered rather
 * than queued, so the waiting caller never saw it and the inner items ran
 * on one thread.)
 */
static void calls_nested_through_an_in_place_call_are_still_nested(void **state)
{
    (void)state;
    run_join_help(true);
}

/*
 * It helps only there: a call another thread makes meanwhile, nested in
 * an item of that thread's own call and so queued, runs none of its items
 * on the waiting caller (whose call could otherwise end only after them).
 */
#define OTHER_INNER 16

typedef struct other_call {
    pool_t *pool;
    pthread_t caller;        /* the waiting caller */
    tu_latch outer_started;  /* the worker began its outer item */
    tu_latch other_done;     /* the other thread's call returned */
    atomic_bool nested_made;
    atomic_uint on_caller;   /* items of the other call run by the caller */
    atomic_uint inner_ran;
    int other_rc, inner_rc;
} other_call;

static int other_inner(void *ctx, size_t j)
{
    other_call *c = ctx;

    (void)j;
    if (pthread_equal(pthread_self(), c->caller))
        atomic_fetch_add(&c->on_caller, 1);
    atomic_fetch_add(&c->inner_ran, 1);
    tu_spin_ns(100000); /* long enough for a waiting caller to find it */
    return 0;
}

static int other_outer(void *ctx, size_t i)
{
    other_call *c = ctx;

    (void)i;
    if (!atomic_exchange(&c->nested_made, true))
        c->inner_rc = pool_for(c->pool, OTHER_INNER, other_inner, c);
    return 0;
}

static void *other_thread(void *arg)
{
    other_call *c = arg;

    if (tu_latch_wait(&c->outer_started, 1, TU_MS(10000)) == 0)
        c->other_rc = pool_for(c->pool, 2, other_outer, c);
    tu_latch_add(&c->other_done, 1);
    return NULL;
}

static int waiting_outer(void *ctx, size_t i)
{
    other_call *c = ctx;

    (void)i;
    if (pthread_equal(pthread_self(), c->caller))
        return tu_latch_wait(&c->outer_started, 1, TU_MS(10000));
    tu_latch_add(&c->outer_started, 1);
    return tu_latch_wait(&c->other_done, 1, TU_MS(10000));
}

static void a_waiting_caller_runs_no_other_callers_calls(void **state)
{
    (void)state;
    for (size_t rep = 0; rep < 3; rep++) {
        other_call c;
        pthread_t t;

        c.pool = tu_pool_open(2);
        c.caller = pthread_self();
        tu_latch_init(&c.outer_started);
        tu_latch_init(&c.other_done);
        atomic_init(&c.nested_made, false);
        atomic_init(&c.on_caller, 0);
        atomic_init(&c.inner_ran, 0);
        c.other_rc = c.inner_rc = -1;
        tu_where("pool_create(2), rep %zu: another thread's call while the caller waits", rep);
        TU_ASSERT_EQ(pthread_create(&t, NULL, other_thread, &c), 0);
        TU_ASSERT_EQ(pool_for(c.pool, 2, waiting_outer, &c), 0);
        TU_ASSERT_EQ(pthread_join(t, NULL), 0);
        TU_ASSERT_EQ(c.other_rc, 0);
        TU_ASSERT_EQ(c.inner_rc, 0);
        TU_ASSERT_EQ(atomic_load(&c.inner_ran), OTHER_INNER);
        TU_ASSERT_EQ(atomic_load(&c.on_caller), 0);
        tu_latch_destroy(&c.other_done);
        tu_latch_destroy(&c.outer_started);
        pool_destroy(c.pool);
    }
}

/* ------------------------------------------------------------------------ */
/* Calls nested in a few outer items                                        */
/* ------------------------------------------------------------------------ */

/*
 * A call made from an item deals its items to about nthreads / min(outer
 * items, nthreads) of its slots (src/job.c, job_deal); the other slots
 * start empty and the helpers given them steal into them. On pools of 4, 8
 * and 16 with 1, 2, 3 and 5 outer items (a lone item's call dealt to every
 * slot; the others to some, or to one) every inner item runs exactly once.
 */
#define FEW_OUTER_MAX 5
#define FEW_INNER 4099

typedef struct few_run {
    pool_t *pool;
    atomic_uint count[FEW_OUTER_MAX][FEW_INNER];
} few_run;

typedef struct few_item {
    few_run *run;
    size_t outer;
} few_item;

static int few_inner(void *ctx, size_t i)
{
    const few_item *f = ctx;
    tu_bump(&f->run->count[f->outer][i]);
    return 0;
}

static int few_outer(void *ctx, size_t o)
{
    few_item f = { ctx, o };
    return pool_for(f.run->pool, FEW_INNER, few_inner, &f);
}

static void calls_nested_in_a_few_items_run_each_inner_item_once(void **state)
{
    static const size_t sizes[] = { 4, 8, 16 };
    static const size_t outers[] = { 1, 2, 3, 5 };
    static few_run r; /* 80 KiB: off the stack */

    (void)state;
    for (size_t p = 0; p < TU_ARRAY_LEN(sizes); p++) {
        r.pool = tu_pool_open(sizes[p]);
        for (size_t k = 0; k < TU_ARRAY_LEN(outers); k++)
            for (size_t rep = 0; rep < reps(); rep++) {
                for (size_t o = 0; o < FEW_OUTER_MAX; o++)
                    for (size_t i = 0; i < FEW_INNER; i++)
                        atomic_init(&r.count[o][i], 0);
                tu_where("pool_create(%zu), %zu outer items, rep %zu", sizes[p], outers[k], rep);
                TU_ASSERT_EQ(pool_for(r.pool, outers[k], few_outer, &r), 0);
                for (size_t o = 0; o < FEW_OUTER_MAX; o++)
                    for (size_t i = 0; i < FEW_INNER; i++)
                        TU_ASSERT_EQ(atomic_load(&r.count[o][i]), o < outers[k] ? 1u : 0u);
            }
        pool_destroy(r.pool);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(nested_map_two_levels_on_same_pool),
        TU_TEST(nested_for_three_levels_on_same_pool),
        TU_TEST(nested_every_api_inside_for_range),
        TU_TEST(inner_failure_becomes_outer_status),
        TU_TEST(deep_recursive_nesting_completes),
        TU_TEST(nesting_across_two_pools_completes),
        TU_TEST(a_waiting_caller_runs_items_of_calls_nested_in_its_own),
        TU_TEST(calls_nested_through_an_in_place_call_are_still_nested),
        TU_TEST(a_waiting_caller_runs_no_other_callers_calls),
        TU_TEST(calls_nested_in_a_few_items_run_each_inner_item_once),
    };

    return TU_RUN(tests, argc, argv);
}
