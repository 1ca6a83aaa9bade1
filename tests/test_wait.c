/*
 * test_wait.c - gather and wait-any (pool_wait_all, pool_wait_any), also
 * over futures of two pools, and the completion fd: readable exactly when
 * the future is done, readable at once when asked for afterwards, closed
 * by pool_future_free.
 *
 * Each task blocks on its own gate, so the test decides which one is done.
 */
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "test_util.h"

#define MAXF 4

typedef struct gtask {
    tu_gate gate;
    int ret;
    atomic_uint runs;
} gtask;

static int gtask_fn(void *ctx)
{
    gtask *t = ctx;

    tu_bump(&t->runs);
    tu_gate_pass(&t->gate);
    return t->ret;
}

static void gtask_init(gtask *t, int ret)
{
    tu_gate_init(&t->gate);
    t->ret = ret;
    atomic_init(&t->runs, 0);
}

static void gtask_destroy(gtask *t)
{
    TU_ASSERT_EQ(tu_gate_timeouts(&t->gate), 0);
    tu_gate_destroy(&t->gate);
}

/* Submits n gated tasks and waits until each one is running. */
static void start_gated(pool_t *pool, gtask *tasks, pool_future_t **futs, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        gtask_init(&tasks[i], 10 + (int)i);
        TU_ASSERT_EQ(pool_submit(pool, gtask_fn, &tasks[i], NULL, &futs[i]), 0);
    }
    for (i = 0; i < n; i++)
        TU_ASSERT_EQ(tu_gate_await(&tasks[i].gate, 1), 0);
}

/* A random order of 0..n-1. */
static void shuffle(tu_rng *rng, size_t *order, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        order[i] = i;
    for (i = n; i > 1; i--) {
        size_t j = tu_rng_below(rng, i), t = order[i - 1];

        order[i - 1] = order[j];
        order[j] = t;
    }
}

static int fd_is_closed(int fd)
{
    errno = 0;
    return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

/* poll() one fd: 1 readable, 0 not within timeout_ms. */
static int readable(int fd, int timeout_ms)
{
    struct pollfd pfd = { fd, POLLIN, 0 };
    int rc = poll(&pfd, 1, timeout_ms);

    return rc == 1 && (pfd.revents & POLLIN) ? 1 : rc;
}

/* ------------------------------------------------------------------------ */
/* pool_wait_all                                                            */
/* ------------------------------------------------------------------------ */

typedef struct all_waiter {
    pool_future_t **futs;
    size_t n;
    atomic_int returned;
    int rc;
    int all_done_at_return;
} all_waiter;

static void *all_waiter_main(void *arg)
{
    all_waiter *w = arg;
    size_t i;

    w->rc = pool_wait_all(w->futs, w->n, POOL_FOREVER);
    w->all_done_at_return = 1;
    for (i = 0; i < w->n; i++)
        w->all_done_at_return &= pool_future_done(w->futs[i]);
    atomic_store(&w->returned, 1);
    return NULL;
}

/*
 * Four running tasks released one by one in random order: until the last
 * is done, pool_wait_all answers ETIMEDOUT (polling, and after its timeout
 * at the earliest) and a thread waiting forever is still waiting; after
 * it, every form returns 0 and every future is done.
 */
static void wait_all_returns_when_all_are_done_and_times_out_before(void **state)
{
    size_t reps = 3 * tu_scale(), rep, k, i;
    tu_rng rng = tu_rng_seed(0xA11u);

    (void)state;
    for (rep = 0; rep < reps; rep++) {
        pool_t *pool = tu_pool_open(MAXF + 1);
        pool_future_t *futs[MAXF];
        gtask tasks[MAXF];
        size_t order[MAXF];
        all_waiter w;
        pthread_t t;

        start_gated(pool, tasks, futs, MAXF);
        shuffle(&rng, order, MAXF);
        w.futs = futs;
        w.n = MAXF;
        atomic_init(&w.returned, 0);
        w.rc = -1;
        assert_int_equal(pthread_create(&t, NULL, all_waiter_main, &w), 0);
        for (k = 0; k < MAXF; k++) {
            int64_t t0 = tu_now_ns();

            tu_where("rep %zu, %zu released so far", rep, k);
            TU_ASSERT_EQ(pool_wait_all(futs, MAXF, 0), ETIMEDOUT);
            TU_ASSERT_EQ(pool_wait_all(futs, MAXF, TU_MS(20)), ETIMEDOUT);
            TU_ASSERT_TRUE(tu_now_ns() - t0 >= TU_MS(20));
            TU_ASSERT_EQ(atomic_load(&w.returned), 0);
            tu_gate_open(&tasks[order[k]].gate);
            TU_ASSERT_EQ(pool_future_wait(futs[order[k]], TU_WAIT_NS), 0);
            /* The others are still running. */
            for (i = k + 1; i < MAXF; i++)
                TU_ASSERT_EQ(pool_future_done(futs[order[i]]), 0);
        }
        pthread_join(t, NULL);
        tu_where("rep %zu, all released", rep);
        TU_ASSERT_EQ(w.rc, 0);
        TU_ASSERT_EQ(w.all_done_at_return, 1);
        TU_ASSERT_EQ(pool_wait_all(futs, MAXF, 0), 0);
        TU_ASSERT_EQ(pool_wait_all(futs, MAXF, TU_MS(20)), 0);
        TU_ASSERT_EQ(pool_wait_all(futs, MAXF, POOL_FOREVER), 0);
        for (i = 0; i < MAXF; i++) {
            TU_ASSERT_EQ(pool_future_status(futs[i]), 10 + (int)i);
            TU_ASSERT_EQ(atomic_load(&tasks[i].runs), 1);
            pool_future_free(futs[i]);
            gtask_destroy(&tasks[i]);
        }
        pool_destroy(pool);
    }
    /* Nothing to wait for is done at once. */
    TU_ASSERT_EQ(pool_wait_all(NULL, 0, POOL_FOREVER), 0);
    TU_ASSERT_EQ(pool_wait_all(NULL, 0, 0), 0);
}

/* ------------------------------------------------------------------------ */
/* pool_wait_any                                                            */
/* ------------------------------------------------------------------------ */

typedef struct any_waiter {
    pool_future_t **futs;
    size_t n;
    atomic_int returned;
    int rc;
    size_t index;
} any_waiter;

static void *any_waiter_main(void *arg)
{
    any_waiter *w = arg;

    w->rc = pool_wait_any(w->futs, w->n, POOL_FOREVER, &w->index);
    atomic_store(&w->returned, 1);
    return NULL;
}

/*
 * Nothing done: ETIMEDOUT (polling, and not before the timeout) and a
 * thread waiting forever keeps waiting. Release one at random: that thread
 * wakes with its index, and so does every later call. Release a second:
 * the lowest index of the done ones is returned.
 */
static void wait_any_returns_index_of_the_one_released_first(void **state)
{
    size_t reps = 6 * tu_scale(), rep, i, idx;
    tu_rng rng = tu_rng_seed(0xA4Eu);

    (void)state;
    for (rep = 0; rep < reps; rep++) {
        pool_t *pool = tu_pool_open(MAXF + 1);
        pool_future_t *futs[MAXF];
        gtask tasks[MAXF];
        size_t order[MAXF];
        int64_t t0;
        any_waiter w;
        pthread_t t;

        start_gated(pool, tasks, futs, MAXF);
        shuffle(&rng, order, MAXF);
        tu_where("rep %zu, release %zu then %zu", rep, order[0], order[1]);
        w.futs = futs;
        w.n = MAXF;
        atomic_init(&w.returned, 0);
        w.rc = -1;
        w.index = SIZE_MAX;
        assert_int_equal(pthread_create(&t, NULL, any_waiter_main, &w), 0);

        idx = 77;
        TU_ASSERT_EQ(pool_wait_any(futs, MAXF, 0, &idx), ETIMEDOUT);
        t0 = tu_now_ns();
        TU_ASSERT_EQ(pool_wait_any(futs, MAXF, TU_MS(20), &idx), ETIMEDOUT);
        TU_ASSERT_TRUE(tu_now_ns() - t0 >= TU_MS(20));
        TU_ASSERT_EQ(atomic_load(&w.returned), 0);

        tu_gate_open(&tasks[order[0]].gate);
        pthread_join(t, NULL);
        TU_ASSERT_EQ(w.rc, 0);
        TU_ASSERT_EQ(w.index, order[0]);
        TU_ASSERT_EQ(pool_future_done(futs[order[0]]), 1);
        TU_ASSERT_EQ(pool_wait_any(futs, MAXF, POOL_FOREVER, &idx), 0);
        TU_ASSERT_EQ(idx, order[0]);
        TU_ASSERT_EQ(pool_wait_any(futs, MAXF, 0, &idx), 0);
        TU_ASSERT_EQ(idx, order[0]);
        for (i = 1; i < MAXF; i++)
            TU_ASSERT_EQ(pool_future_done(futs[order[i]]), 0);

        tu_gate_open(&tasks[order[1]].gate);
        TU_ASSERT_EQ(pool_future_wait(futs[order[1]], TU_WAIT_NS), 0);
        TU_ASSERT_EQ(pool_wait_any(futs, MAXF, TU_MS(20), &idx), 0);
        TU_ASSERT_EQ(idx, order[0] < order[1] ? order[0] : order[1]);

        /* Only the still-running ones: nothing done. */
        if (MAXF > 2) {
            pool_future_t *rest[MAXF];
            size_t nrest = 0;

            for (i = 2; i < MAXF; i++)
                rest[nrest++] = futs[order[i]];
            TU_ASSERT_EQ(pool_wait_any(rest, nrest, TU_MS(5), &idx), ETIMEDOUT);
        }
        for (i = 0; i < MAXF; i++)
            tu_gate_open(&tasks[i].gate);
        TU_ASSERT_EQ(pool_wait_all(futs, MAXF, TU_WAIT_NS), 0);
        for (i = 0; i < MAXF; i++) {
            TU_ASSERT_EQ(pool_future_status(futs[i]), 10 + (int)i);
            pool_future_free(futs[i]);
            gtask_destroy(&tasks[i]);
        }
        pool_destroy(pool);
    }
}

/* Futures of two pools in one wait: whichever pool completes first is the
 * one reported; a future whose pool is already destroyed still counts. */
static void wait_any_and_wait_all_mix_futures_of_two_pools(void **state)
{
    pool_t *a = tu_pool_open(2), *b = tu_pool_open(3);
    pool_future_t *futs[3], *rest[2];
    gtask tasks[3];
    size_t idx = 99, i;

    (void)state;
    /* futs[0] on a, futs[1] and futs[2] on b. */
    gtask_init(&tasks[0], 1);
    gtask_init(&tasks[1], 2);
    gtask_init(&tasks[2], 3);
    TU_ASSERT_EQ(pool_submit(a, gtask_fn, &tasks[0], NULL, &futs[0]), 0);
    TU_ASSERT_EQ(pool_submit(b, gtask_fn, &tasks[1], NULL, &futs[1]), 0);
    TU_ASSERT_EQ(pool_submit(b, gtask_fn, &tasks[2], NULL, &futs[2]), 0);
    for (i = 0; i < 3; i++)
        TU_ASSERT_EQ(tu_gate_await(&tasks[i].gate, 1), 0);

    tu_where("nothing released");
    TU_ASSERT_EQ(pool_wait_any(futs, 3, TU_MS(10), &idx), ETIMEDOUT);
    TU_ASSERT_EQ(pool_wait_all(futs, 3, TU_MS(10)), ETIMEDOUT);

    tu_where("pool b's task released");
    tu_gate_open(&tasks[1].gate);
    TU_ASSERT_EQ(pool_wait_any(futs, 3, POOL_FOREVER, &idx), 0);
    TU_ASSERT_EQ(idx, 1);
    TU_ASSERT_EQ(pool_future_done(futs[0]), 0);

    tu_where("pool a's task released, pool a destroyed");
    tu_gate_open(&tasks[0].gate);
    pool_destroy(a);
    TU_ASSERT_EQ(pool_wait_any(futs, 3, TU_WAIT_NS, &idx), 0);
    TU_ASSERT_EQ(idx, 0);
    rest[0] = futs[2];
    rest[1] = futs[0];
    TU_ASSERT_EQ(pool_wait_any(rest, 2, POOL_FOREVER, &idx), 0);
    TU_ASSERT_EQ(idx, 1);
    TU_ASSERT_EQ(pool_wait_all(futs, 3, TU_MS(10)), ETIMEDOUT);

    tu_where("all released");
    tu_gate_open(&tasks[2].gate);
    TU_ASSERT_EQ(pool_wait_all(futs, 3, POOL_FOREVER), 0);
    for (i = 0; i < 3; i++) {
        TU_ASSERT_EQ(pool_future_status(futs[i]), (int)i + 1);
        pool_future_free(futs[i]);
        gtask_destroy(&tasks[i]);
    }
    pool_destroy(b);
}

/*
 * EINVAL, at once and without waiting for anything: pool_wait_any with
 * n == 0, NULL futures, a NULL index or a NULL element; pool_wait_all with
 * NULL futures and n > 0 or a NULL element (also after a running one).
 */
static void wait_any_and_wait_all_reject_bad_arguments(void **state)
{
    pool_t *pool = tu_pool_open(2);
    pool_future_t *futs[3];
    gtask task;
    size_t idx = 5;
    int64_t t0;

    (void)state;
    gtask_init(&task, 0);
    TU_ASSERT_EQ(pool_submit(pool, gtask_fn, &task, NULL, &futs[0]), 0);
    futs[1] = NULL;
    futs[2] = futs[0];

    t0 = tu_now_ns();
    tu_where("pool_wait_any");
    TU_ASSERT_EQ(pool_wait_any(futs, 0, POOL_FOREVER, &idx), EINVAL);
    TU_ASSERT_EQ(pool_wait_any(NULL, 1, POOL_FOREVER, &idx), EINVAL);
    TU_ASSERT_EQ(pool_wait_any(NULL, 0, 0, &idx), EINVAL);
    TU_ASSERT_EQ(pool_wait_any(futs, 1, POOL_FOREVER, NULL), EINVAL);
    TU_ASSERT_EQ(pool_wait_any(futs, 2, POOL_FOREVER, &idx), EINVAL);
    TU_ASSERT_EQ(pool_wait_any(futs + 1, 2, TU_WAIT_NS, &idx), EINVAL);
    tu_where("pool_wait_all");
    TU_ASSERT_EQ(pool_wait_all(NULL, 1, POOL_FOREVER), EINVAL);
    TU_ASSERT_EQ(pool_wait_all(NULL, 3, 0), EINVAL);
    TU_ASSERT_EQ(pool_wait_all(futs, 2, POOL_FOREVER), EINVAL);
    TU_ASSERT_EQ(pool_wait_all(futs + 1, 2, TU_WAIT_NS), EINVAL);
    /* None of them waited for the running task. */
    TU_ASSERT_TRUE(tu_now_ns() - t0 < TU_WAIT_NS / 2);
    TU_ASSERT_EQ(pool_future_done(futs[0]), 0);

    tu_gate_open(&task.gate);
    TU_ASSERT_EQ(pool_future_wait(futs[0], POOL_FOREVER), 0);
    pool_future_free(futs[0]);
    gtask_destroy(&task);
    pool_destroy(pool);
}

/* ------------------------------------------------------------------------ */
/* The completion fd                                                        */
/* ------------------------------------------------------------------------ */

typedef struct fdmap {
    tu_gate gate;
    atomic_uint runs;
} fdmap;

static int fdmap_item(void *ctx, size_t i)
{
    fdmap *m = ctx;

    tu_bump(&m->runs);
    if (i == 0)
        tu_gate_pass(&m->gate);
    return 0;
}

/*
 * For a task and for a loop held at a gate: the fd (the same one each time
 * it is asked for) is not readable while the future runs, not even after a
 * poll() timeout; released, it becomes readable, and whenever it is
 * readable the future is already done. It stays readable; pool_future_free
 * closes it.
 */
static void future_fd_becomes_readable_exactly_when_done(void **state)
{
    static const size_t specs[] = { 1, 2, 4 };
    size_t p, kind;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(specs); p++)
        for (kind = 0; kind < 2; kind++) {
            pool_t *pool = tu_pool_open(specs[p]);
            pool_future_t *f = NULL;
            tu_gate *gate;
            gtask task;
            fdmap m;
            int fd, closed;

            tu_where("%s, %s", tu_pool_name(specs[p]), kind ? "pool_for_async" : "task");
            if (kind == 0) {
                gtask_init(&task, 0);
                gate = &task.gate;
                TU_ASSERT_EQ(pool_submit(pool, gtask_fn, &task, NULL, &f), 0);
            } else {
                tu_gate_init(&m.gate);
                atomic_init(&m.runs, 0);
                gate = &m.gate;
                TU_ASSERT_EQ(pool_for_async(pool, 200, fdmap_item, &m, NULL, &f), 0);
            }
            fd = pool_future_fd(f);
            TU_ASSERT_TRUE(fd >= 0);
            TU_ASSERT_EQ(pool_future_fd(f), fd);
            TU_ASSERT_EQ(tu_gate_await(gate, 1), 0);
            TU_ASSERT_EQ(readable(fd, 0), 0);
            TU_ASSERT_EQ(readable(fd, 20), 0);
            TU_ASSERT_EQ(pool_future_done(f), 0);

            tu_gate_open(gate);
            TU_ASSERT_EQ(readable(fd, (int)(TU_WAIT_NS / 1000000)), 1);
            TU_ASSERT_EQ(pool_future_done(f), 1);
            TU_ASSERT_EQ(pool_future_status(f), 0);
            TU_ASSERT_EQ(readable(fd, 0), 1);
            TU_ASSERT_EQ(readable(fd, 0), 1);
            TU_ASSERT_EQ(pool_future_fd(f), fd);
            if (kind)
                TU_ASSERT_EQ(atomic_load(&m.runs), 200);
            pool_future_free(f);
            closed = fd_is_closed(fd);
            pool_destroy(pool);
            TU_ASSERT_TRUE(closed);
            if (kind == 0)
                gtask_destroy(&task);
            else
                tu_gate_destroy(&m.gate);
        }
}

/* on_done that holds its future for a while after it is done. */
static void slow_done(void *arg, pool_future_t *f)
{
    (void)f;
    tu_latch_add(arg, 1);
    tu_sleep_ns(TU_MS(50));
}

static int quick_task(void *ctx)
{
    (void)ctx;
    return 0;
}

/*
 * pool_future_free closes the fd when it returns, even if the thread that
 * completed the future is still inside its on_done (the future is done and
 * its fd readable before on_done runs).
 */
static void free_closes_the_fd_even_while_on_done_still_runs(void **state)
{
    static const size_t specs[] = { 1, 2 };
    size_t p;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
        pool_t *pool = tu_pool_open(specs[p]);
        pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
        pool_future_t *f = NULL;
        tu_latch in_done;
        gtask hold;
        pool_future_t *hf = NULL;
        int fd, closed;

        tu_where("%s", tu_pool_name(specs[p]));
        tu_latch_init(&in_done);
        /* Hold the worker until the fd exists, so the fd is signalled by
         * the completion itself. */
        gtask_init(&hold, 0);
        TU_ASSERT_EQ(pool_submit(pool, gtask_fn, &hold, NULL, &hf), 0);
        TU_ASSERT_EQ(tu_gate_await(&hold.gate, 1), 0);
        opts.on_done = slow_done;
        opts.on_done_arg = &in_done;
        TU_ASSERT_EQ(pool_submit(pool, quick_task, NULL, &opts, &f), 0);
        fd = pool_future_fd(f);
        TU_ASSERT_TRUE(fd >= 0);
        tu_gate_open(&hold.gate);
        TU_ASSERT_EQ(readable(fd, (int)(TU_WAIT_NS / 1000000)), 1);
        TU_ASSERT_EQ(tu_latch_wait(&in_done, 1, TU_WAIT_NS), 0);
        /* on_done is asleep now, holding the future. */
        pool_future_free(f);
        closed = fd_is_closed(fd);
        pool_destroy(pool);
        pool_future_free(hf);
        TU_ASSERT_TRUE(closed);
        gtask_destroy(&hold);
        tu_latch_destroy(&in_done);
    }
}

static int plain_task(void *ctx)
{
    tu_bump(ctx);
    return 3;
}

/* Asked for after completion (also of a NULL pool's future, done before
 * pool_submit returned), the fd is readable at once. */
static void future_fd_asked_after_completion_is_readable_at_once(void **state)
{
    static const size_t specs[] = { TU_NULL_POOL, 1, 2, 4 };
    size_t p;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
        pool_t *pool = tu_pool_open(specs[p]);
        pool_future_t *f = NULL;
        atomic_uint runs;
        int fd, closed;

        tu_where("%s", tu_pool_name(specs[p]));
        atomic_init(&runs, 0);
        TU_ASSERT_EQ(pool_submit(pool, plain_task, &runs, NULL, &f), 0);
        TU_ASSERT_EQ(pool_future_wait(f, POOL_FOREVER), 0);
        fd = pool_future_fd(f);
        TU_ASSERT_TRUE(fd >= 0);
        TU_ASSERT_EQ(readable(fd, 0), 1);
        TU_ASSERT_EQ(pool_future_status(f), 3);
        pool_future_free(f);
        closed = fd_is_closed(fd);
        pool_destroy(pool);
        TU_ASSERT_TRUE(closed);
        TU_ASSERT_EQ(atomic_load(&runs), 1);
    }
}

/*
 * One poll() over the fds of several running futures, as an event loop
 * does: a queued future that is cancelled makes exactly its fd readable,
 * and so does releasing one running task.
 */
static void poll_over_several_fds_reports_exactly_the_done_futures(void **state)
{
    size_t reps = 4 * tu_scale(), rep, i;
    tu_rng rng = tu_rng_seed(0xFD5u);

    (void)state;
    for (rep = 0; rep < reps; rep++) {
        pool_t *pool = tu_pool_open(MAXF + 1);
        pool_future_t *futs[MAXF + 1];
        struct pollfd pfd[MAXF + 1];
        gtask tasks[MAXF];
        atomic_uint qruns;
        size_t order[MAXF];
        unsigned open_after_free = 0;
        int rc;

        start_gated(pool, tasks, futs, MAXF);
        shuffle(&rng, order, MAXF);
        /* Every worker is held: this one is queued. */
        atomic_init(&qruns, 0);
        TU_ASSERT_EQ(pool_submit(pool, plain_task, &qruns, NULL, &futs[MAXF]), 0);
        for (i = 0; i <= MAXF; i++) {
            pfd[i].fd = pool_future_fd(futs[i]);
            pfd[i].events = POLLIN;
            TU_ASSERT_TRUE(pfd[i].fd >= 0);
        }
        tu_where("rep %zu, nothing done", rep);
        for (i = 0; i <= MAXF; i++)
            pfd[i].revents = 0;
        TU_ASSERT_EQ(poll(pfd, MAXF + 1, 10), 0);

        tu_where("rep %zu, queued future cancelled", rep);
        TU_ASSERT_EQ(pool_future_cancel(futs[MAXF]), 0);
        for (i = 0; i <= MAXF; i++)
            pfd[i].revents = 0;
        rc = poll(pfd, MAXF + 1, (int)(TU_WAIT_NS / 1000000));
        TU_ASSERT_EQ(rc, 1);
        for (i = 0; i <= MAXF; i++)
            TU_ASSERT_EQ(!!(pfd[i].revents & POLLIN), i == MAXF);
        TU_ASSERT_EQ(pool_future_status(futs[MAXF]), ECANCELED);

        /* Over the running ones only: the released one alone. */
        tu_where("rep %zu, release %zu", rep, order[0]);
        tu_gate_open(&tasks[order[0]].gate);
        for (i = 0; i < MAXF; i++)
            pfd[i].revents = 0;
        rc = poll(pfd, MAXF, (int)(TU_WAIT_NS / 1000000));
        TU_ASSERT_EQ(rc, 1);
        for (i = 0; i < MAXF; i++) {
            TU_ASSERT_EQ(!!(pfd[i].revents & POLLIN), i == order[0]);
            TU_ASSERT_EQ(pool_future_done(futs[i]), i == order[0]);
        }

        for (i = 0; i < MAXF; i++)
            tu_gate_open(&tasks[i].gate);
        TU_ASSERT_EQ(pool_wait_all(futs, MAXF + 1, POOL_FOREVER), 0);
        for (i = 0; i <= MAXF; i++)
            TU_ASSERT_EQ(readable(pfd[i].fd, 0), 1);
        for (i = 0; i <= MAXF; i++) {
            pool_future_free(futs[i]);
            open_after_free += !fd_is_closed(pfd[i].fd);
        }
        pool_destroy(pool);
        TU_ASSERT_EQ(open_after_free, 0);
        for (i = 0; i < MAXF; i++)
            gtask_destroy(&tasks[i]);
        TU_ASSERT_EQ(atomic_load(&qruns), 0);
    }
}

/* ------------------------------------------------------------------------ */
/* pool_wait_any from a callback                                            */
/* ------------------------------------------------------------------------ */

typedef struct anyhelp {
    pool_t *pool;
    tu_latch blocker_started;
    tu_latch second_done;    /* the second future's task has run */
    atomic_uint blocker_timed_out;
    pool_future_t *futs[2];
    int submit_rc, wait_rc;
    size_t index;
} anyhelp;

/* The first future: holds the pool's only worker until the second has run. */
static int anyhelp_blocker(void *ctx)
{
    anyhelp *a = ctx;

    tu_latch_add(&a->blocker_started, 1);
    if (tu_latch_wait(&a->second_done, 1, TU_WAIT_NS) != 0)
        tu_bump(&a->blocker_timed_out);
    return 0;
}

static int anyhelp_second(void *ctx)
{
    tu_latch_add(&((anyhelp *)ctx)->second_done, 1);
    return 0;
}

/* An item of a blocking call, on the caller: submit the second future and
 * wait for either. */
static int anyhelp_item(void *ctx, size_t i)
{
    anyhelp *a = ctx;

    (void)i;
    a->submit_rc = pool_submit(a->pool, anyhelp_second, a, NULL, &a->futs[1]);
    if (a->submit_rc == 0)
        a->wait_rc = pool_wait_any(a->futs, 2, POOL_FOREVER, &a->index);
    return 0;
}

/*
 * A pool of 2: its worker runs the first future's task, which waits for the
 * second future; an item on the caller submits the second and waits for
 * either, forever. Nothing but the waiting thread can run the second: the
 * wait must help it although the first, all claimed, is not done (it
 * helped only the first not-done future, and waited until the first task
 * gave up after TU_WAIT_NS).
 */
static void wait_any_in_a_callback_helps_a_later_future_when_the_first_is_all_claimed(
    void **state)
{
    anyhelp a;
    pool_t *pool = tu_pool_open(2);

    (void)state;
    tu_where("pool_create(2), pool_wait_any in an item of pool_for");
    a.pool = pool;
    tu_latch_init(&a.blocker_started);
    tu_latch_init(&a.second_done);
    atomic_init(&a.blocker_timed_out, 0);
    a.futs[1] = NULL;
    a.submit_rc = a.wait_rc = -1;
    a.index = SIZE_MAX;
    TU_ASSERT_EQ(pool_submit(pool, anyhelp_blocker, &a, NULL, &a.futs[0]), 0);
    TU_ASSERT_EQ(tu_latch_wait(&a.blocker_started, 1, TU_WAIT_NS), 0);
    TU_ASSERT_EQ(pool_for(pool, 1, anyhelp_item, &a), 0);
    TU_ASSERT_EQ(a.submit_rc, 0);
    TU_ASSERT_EQ(a.wait_rc, 0);
    /* Either may be the done one it reports: the first ends as soon as the
     * second has run. */
    TU_ASSERT_TRUE(a.index < 2);
    TU_ASSERT_EQ(pool_wait_all(a.futs, 2, POOL_FOREVER), 0);
    /* The second ran while the first still waited for it. */
    TU_ASSERT_EQ(atomic_load(&a.blocker_timed_out), 0);
    pool_future_free(a.futs[0]);
    pool_future_free(a.futs[1]);
    pool_destroy(pool);
    tu_latch_destroy(&a.second_done);
    tu_latch_destroy(&a.blocker_started);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(wait_all_returns_when_all_are_done_and_times_out_before),
        TU_TEST(wait_any_returns_index_of_the_one_released_first),
        TU_TEST(wait_any_and_wait_all_mix_futures_of_two_pools),
        TU_TEST(wait_any_and_wait_all_reject_bad_arguments),
        TU_TEST(wait_any_in_a_callback_helps_a_later_future_when_the_first_is_all_claimed),
        TU_TEST(future_fd_becomes_readable_exactly_when_done),
        TU_TEST(future_fd_asked_after_completion_is_readable_at_once),
        TU_TEST(free_closes_the_fd_even_while_on_done_still_runs),
        TU_TEST(poll_over_several_fds_reports_exactly_the_done_futures),
    };

    return TU_RUN(tests, argc, argv);
}
