/*
 * test_async_nesting.c - callbacks that submit async work to their own
 * pool and wait for it forever: from a blocking map's items, from an async
 * loop's items, from tasks several levels deep, with pool_future_wait,
 * pool_wait_all and pool_wait_any. Waiting forever runs the awaited items
 * on the waiting thread, so none of this may deadlock, even on a pool of 1
 * or 2 (ctest's timeout catches a deadlock). Inner results are checked.
 */
#include "test_util.h"

static const size_t pool_specs[] = { TU_NULL_POOL, 1, 2, 4 };

static uint64_t sq(uint64_t x)
{
    return x * x + 1;
}

/* ------------------------------------------------------------------------ */
/* Items that submit and wait                                               */
/* ------------------------------------------------------------------------ */

enum how { HOW_WAIT, HOW_WAIT_ALL, HOW_WAIT_ANY, NHOW };

static const char *how_name(enum how h)
{
    return h == HOW_WAIT ? "pool_future_wait" : h == HOW_WAIT_ALL ? "pool_wait_all"
                                                                  : "pool_wait_any";
}

typedef struct nest {
    pool_t *pool;
    enum how how;
    atomic_uint bad;   /* a submit or wait that failed, a wrong inner result */
    atomic_uint inner; /* inner tasks run */
} nest;

typedef struct inner {
    nest *n;
    uint64_t x, y;
} inner;

static int inner_task(void *ctx)
{
    inner *t = ctx;

    tu_bump(&t->n->inner);
    t->y = sq(t->x);
    return 0;
}

/* Submits two inner tasks on the same pool, waits forever in the chosen
 * way, returns their sum (or counts a failure). */
static uint64_t submit_and_wait(nest *n, uint64_t x)
{
    inner t[2] = { { n, x, 0 }, { n, x + 1, 0 } };
    pool_future_t *f[2] = { NULL, NULL };
    size_t idx = SIZE_MAX, k;
    int ok = 1;

    for (k = 0; k < 2; k++)
        if (pool_submit(n->pool, inner_task, &t[k], NULL, &f[k]) != 0)
            ok = 0;
    if (!ok) {
        tu_bump(&n->bad);
        for (k = 0; k < 2; k++)
            if (f[k]) {
                pool_future_wait(f[k], POOL_FOREVER);
                pool_future_free(f[k]);
            }
        return 0;
    }
    switch (n->how) {
    case HOW_WAIT:
        ok = pool_future_wait(f[1], POOL_FOREVER) == 0 &&
             pool_future_wait(f[0], POOL_FOREVER) == 0;
        break;
    case HOW_WAIT_ALL:
        ok = pool_wait_all(f, 2, POOL_FOREVER) == 0;
        break;
    default:
        /* One of them, then the other. */
        ok = pool_wait_any(f, 2, POOL_FOREVER, &idx) == 0 && idx < 2 &&
             pool_future_done(f[idx]) &&
             pool_wait_any(&f[1 - idx], 1, POOL_FOREVER, &k) == 0 && k == 0;
        break;
    }
    for (k = 0; k < 2; k++) {
        if (!ok || !pool_future_done(f[k]) || pool_future_status(f[k]) != 0 ||
            t[k].y != sq(t[k].x))
            ok = 0;
    }
    if (!ok)
        tu_bump(&n->bad);
    for (k = 0; k < 2; k++)
        pool_future_free(f[k]);
    return t[0].y + t[1].y;
}

static int nest_map_item(void *ctx, const void *in, void *out)
{
    *(uint64_t *)out = submit_and_wait(ctx, *(const uint32_t *)in);
    return 0;
}

#define NEST_N 24

static int held_task(void *ctx)
{
    tu_gate_pass(ctx);
    return 0;
}

#define MAX_HELD 8

/*
 * A blocking pool_map whose items each submit two tasks to the same pool
 * and wait forever for them: on pools of 1 and 2 every thread may be
 * inside such an item, and must run the inner tasks itself. In the first
 * repetitions every async worker is held by a blocked task for the whole
 * map, so only the waiting threads can run the inner tasks.
 */
static void blocking_map_items_submit_and_wait_forever_on_same_pool(void **state)
{
    size_t p, h, i, rep, reps = 4 * tu_scale();

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++)
        for (h = 0; h < NHOW; h++)
            for (rep = 0; rep < reps; rep++) {
                uint32_t in[NEST_N];
                uint64_t out[NEST_N];
                pool_opts o = { rep % 2 ? 1 : 0, POOL_NO_INDEX };
                pool_future_t *held[MAX_HELD];
                size_t nheld = 0;
                tu_gate gate;
                nest n;

                tu_where("%s, %s, chunk %zu, %s", tu_pool_name(pool_specs[p]),
                         how_name((enum how)h), o.chunk,
                         rep < 2 ? "workers held" : "workers free");
                n.pool = tu_pool_open(pool_specs[p]);
                tu_gate_init(&gate);
                if (rep < 2 && n.pool != NULL) {
                    nheld = tu_async_workers(n.pool);
                    for (i = 0; i < nheld; i++)
                        TU_ASSERT_EQ(pool_submit(n.pool, held_task, &gate, NULL,
                                                 &held[i]), 0);
                    TU_ASSERT_EQ(tu_gate_await(&gate, nheld), 0);
                }
                n.how = (enum how)h;
                atomic_init(&n.bad, 0);
                atomic_init(&n.inner, 0);
                for (i = 0; i < NEST_N; i++) {
                    in[i] = (uint32_t)(i * 13 + rep);
                    out[i] = 0;
                }
                TU_ASSERT_EQ(pool_map_ex(n.pool, nest_map_item, &n, in, sizeof *in, out,
                                         sizeof *out, NEST_N, &o), 0);
                TU_ASSERT_EQ(atomic_load(&n.bad), 0);
                TU_ASSERT_EQ(atomic_load(&n.inner), 2 * NEST_N);
                for (i = 0; i < NEST_N; i++)
                    TU_ASSERT_EQ(out[i], sq(in[i]) + sq((uint64_t)in[i] + 1));
                /* The held workers took no part: still blocked. */
                for (i = 0; i < nheld; i++)
                    TU_ASSERT_EQ(pool_future_done(held[i]), 0);
                tu_gate_open(&gate);
                for (i = 0; i < nheld; i++) {
                    TU_ASSERT_EQ(pool_future_wait(held[i], POOL_FOREVER), 0);
                    pool_future_free(held[i]);
                }
                pool_destroy(n.pool);
                TU_ASSERT_EQ(tu_gate_timeouts(&gate), 0);
                tu_gate_destroy(&gate);
            }
}

/* The same from the items of a pool_map_async, which run on the async
 * workers (the one background worker of a pool of 1). The test waits with
 * a timeout, so it never runs items itself. */
static void async_map_items_submit_and_wait_forever_on_same_pool(void **state)
{
    size_t p, h, i;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++)
        for (h = 0; h < NHOW; h++) {
            pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
            uint32_t in[NEST_N];
            uint64_t out[NEST_N];
            pool_future_t *f = NULL;
            nest n;

            tu_where("%s, %s", tu_pool_name(pool_specs[p]), how_name((enum how)h));
            n.pool = tu_pool_open(pool_specs[p]);
            n.how = (enum how)h;
            atomic_init(&n.bad, 0);
            atomic_init(&n.inner, 0);
            for (i = 0; i < NEST_N; i++) {
                in[i] = (uint32_t)(i * 31 + h);
                out[i] = 0;
            }
            opts.chunk = 1;
            TU_ASSERT_EQ(pool_map_async(n.pool, nest_map_item, &n, in, sizeof *in, out,
                                        sizeof *out, NEST_N, &opts, &f), 0);
            TU_ASSERT_EQ(pool_future_wait(f, TU_WAIT_NS), 0);
            TU_ASSERT_EQ(pool_future_status(f), 0);
            TU_ASSERT_EQ(atomic_load(&n.bad), 0);
            TU_ASSERT_EQ(atomic_load(&n.inner), 2 * NEST_N);
            for (i = 0; i < NEST_N; i++)
                TU_ASSERT_EQ(out[i], sq(in[i]) + sq((uint64_t)in[i] + 1));
            pool_future_free(f);
            pool_destroy(n.pool);
        }
}

/* ------------------------------------------------------------------------ */
/* Tasks several levels deep                                                */
/* ------------------------------------------------------------------------ */

#define DEPTH 8
#define TREE_DEPTH 5

typedef struct level {
    pool_t *pool;
    unsigned depth; /* levels below this one */
    int fanout;     /* 1: a chain; 2: a binary tree waited with wait_all */
    atomic_uint *ran;
    atomic_uint *bad;
    uint64_t result; /* nodes in this subtree */
} level;

static int level_task(void *ctx)
{
    level *l = ctx;
    level kids[2];
    pool_future_t *f[2] = { NULL, NULL };
    int k, rc = 0;

    tu_bump(l->ran);
    l->result = 1;
    if (l->depth == 0)
        return 0;
    for (k = 0; k < l->fanout; k++) {
        kids[k] = *l;
        kids[k].depth = l->depth - 1;
        kids[k].result = 0;
        if (pool_submit(l->pool, level_task, &kids[k], NULL, &f[k]) != 0) {
            tu_bump(l->bad);
            return 1;
        }
    }
    if (l->fanout == 1)
        rc = pool_future_wait(f[0], POOL_FOREVER);
    else
        rc = pool_wait_all(f, (size_t)l->fanout, POOL_FOREVER);
    for (k = 0; k < l->fanout; k++) {
        if (rc != 0 || pool_future_status(f[k]) != 0)
            tu_bump(l->bad);
        l->result += kids[k].result;
        pool_future_free(f[k]);
    }
    return 0;
}

/*
 * A task that submits a task and waits forever for it, DEPTH levels (and
 * a binary tree of such tasks waited for with pool_wait_all): on a pool of
 * 1 or 2 every async worker is soon inside a wait, yet all complete. The
 * test thread only waits with a timeout, so it never helps.
 */
static void tasks_waiting_on_subtasks_several_levels_complete(void **state)
{
    size_t p, shape;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++)
        for (shape = 0; shape < 2; shape++) {
            pool_future_t *f = NULL;
            atomic_uint ran, bad;
            level top;
            uint64_t nodes = shape ? (1u << (TREE_DEPTH + 1)) - 1 : DEPTH + 1;

            tu_where("%s, %s", tu_pool_name(pool_specs[p]),
                     shape ? "binary tree, pool_wait_all" : "chain, pool_future_wait");
            atomic_init(&ran, 0);
            atomic_init(&bad, 0);
            top.pool = tu_pool_open(pool_specs[p]);
            top.depth = shape ? TREE_DEPTH : DEPTH;
            top.fanout = shape ? 2 : 1;
            top.ran = &ran;
            top.bad = &bad;
            top.result = 0;
            TU_ASSERT_EQ(pool_submit(top.pool, level_task, &top, NULL, &f), 0);
            TU_ASSERT_EQ(pool_future_wait(f, TU_WAIT_NS), 0);
            TU_ASSERT_EQ(pool_future_status(f), 0);
            TU_ASSERT_EQ(atomic_load(&bad), 0);
            TU_ASSERT_EQ(atomic_load(&ran), nodes);
            TU_ASSERT_EQ(top.result, nodes);
            pool_future_free(f);
            pool_destroy(top.pool);
        }
}

/* A task that runs a blocking pool_map on its own pool. */
typedef struct map_in_task {
    pool_t *pool;
    uint32_t in[300];
    uint64_t out[300];
} map_in_task;

static int square_item(void *ctx, const void *in, void *out)
{
    (void)ctx;
    *(uint64_t *)out = sq(*(const uint32_t *)in);
    return 0;
}

static int map_task(void *ctx)
{
    map_in_task *m = ctx;

    return pool_map(m->pool, square_item, NULL, m->in, sizeof *m->in, m->out,
                    sizeof *m->out, 300);
}

static void task_running_a_blocking_map_on_its_pool_completes(void **state)
{
    size_t p, i, k;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);
        map_in_task *m = tu_malloc(4 * sizeof *m);
        pool_future_t *f[4];

        tu_where("%s", tu_pool_name(pool_specs[p]));
        for (k = 0; k < 4; k++) {
            m[k].pool = pool;
            for (i = 0; i < 300; i++) {
                m[k].in[i] = (uint32_t)(k * 1000 + i);
                m[k].out[i] = 0;
            }
            TU_ASSERT_EQ(pool_submit(pool, map_task, &m[k], NULL, &f[k]), 0);
        }
        TU_ASSERT_EQ(pool_wait_all(f, 4, TU_WAIT_NS), 0);
        for (k = 0; k < 4; k++) {
            TU_ASSERT_EQ(pool_future_status(f[k]), 0);
            for (i = 0; i < 300; i++)
                TU_ASSERT_EQ(m[k].out[i], sq(m[k].in[i]));
            pool_future_free(f[k]);
        }
        pool_destroy(pool);
        tu_free(m);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(blocking_map_items_submit_and_wait_forever_on_same_pool),
        TU_TEST(async_map_items_submit_and_wait_forever_on_same_pool),
        TU_TEST(tasks_waiting_on_subtasks_several_levels_complete),
        TU_TEST(task_running_a_blocking_map_on_its_pool_completes),
    };

    return TU_RUN(tests, argc, argv);
}
