/*
 * test_future.c - async tasks: pool_submit returns at once with a handle;
 * waiting (forever, with a timeout that fires or not, polling), status,
 * failed_index, cancel of a queued and of a running task, freeing before
 * and after completion, on_done (once, after the status is final, chaining,
 * freeing its own future), thousands of submits from several threads, and
 * the argument errors of pool_submit and pool_for_async.
 *
 * Tasks that must stay "running" block on a tu_gate the test opens; sleeps
 * only ever give the library time to do something wrong.
 */
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "test_util.h"

static const size_t pool_specs[] = { TU_NULL_POOL, 1, 2, 4 };
static const size_t threaded_specs[] = { 1, 2, 4 };

/* A pointer no call may write into *future on an error. */
static char untouched_obj;
#define UNTOUCHED ((pool_future_t *)(void *)&untouched_obj)

/* ------------------------------------------------------------------------ */
/* Tasks and completion records                                             */
/* ------------------------------------------------------------------------ */

typedef struct task {
    tu_gate *gate; /* NULL: do not block */
    int ret;       /* the task's status */
    atomic_uint runs;
    pthread_t thread; /* who ran it (read once the future is done) */
} task;

static void task_init(task *t, tu_gate *gate, int ret)
{
    t->gate = gate;
    t->ret = ret;
    atomic_init(&t->runs, 0);
    t->thread = pthread_self();
}

static int task_fn(void *ctx)
{
    task *t = ctx;

    t->thread = pthread_self();
    tu_bump(&t->runs);
    if (t->gate)
        tu_gate_pass(t->gate);
    return t->ret;
}

/* What on_done saw, recorded from inside the callback. */
typedef struct done_rec {
    atomic_uint calls;
    atomic_int status;         /* pool_future_status() inside on_done */
    atomic_int done;           /* pool_future_done() inside on_done */
    atomic_size_t failed_index;
    tu_latch *latch;           /* bumped once the record is written */
} done_rec;

static void done_rec_init(done_rec *r, tu_latch *latch)
{
    atomic_init(&r->calls, 0);
    atomic_init(&r->status, -12345);
    atomic_init(&r->done, -1);
    atomic_init(&r->failed_index, 4242);
    r->latch = latch;
}

static void record_done(void *arg, pool_future_t *f)
{
    done_rec *r = arg;

    atomic_store(&r->status, pool_future_status(f));
    atomic_store(&r->done, pool_future_done(f));
    atomic_store(&r->failed_index, pool_future_failed_index(f));
    tu_bump(&r->calls);
    if (r->latch)
        tu_latch_add(r->latch, 1);
}

static int fd_is_closed(int fd)
{
    errno = 0;
    return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

/* ------------------------------------------------------------------------ */
/* Submit and wait                                                          */
/* ------------------------------------------------------------------------ */

/*
 * The task blocks on a closed gate: had pool_submit run it on the calling
 * thread, it could not have returned before the gate's timeout (counted).
 * The task then starts with nobody waiting, and a wait returns its status.
 */
static void submit_returns_at_once_and_task_runs_on_a_pool_thread(void **state)
{
    size_t p;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(threaded_specs); p++) {
        pool_t *pool = tu_pool_open(threaded_specs[p]);
        pool_future_t *f = NULL;
        size_t total = 0;
        tu_gate gate;
        task t;

        tu_where("%s", tu_pool_name(threaded_specs[p]));
        tu_gate_init(&gate);
        task_init(&t, &gate, 0);
        TU_ASSERT_EQ(pool_submit(pool, task_fn, &t, NULL, &f), 0);
        TU_ASSERT_TRUE(f != NULL);
        TU_ASSERT_EQ(tu_gate_timeouts(&gate), 0);
        TU_ASSERT_EQ(pool_future_done(f), 0);
        TU_ASSERT_EQ(pool_future_status(f), EBUSY);
        TU_ASSERT_EQ(pool_future_failed_index(f), POOL_NO_INDEX);
        TU_ASSERT_EQ(pool_future_progress(f, &total), 0);
        TU_ASSERT_EQ(total, 1);

        /* It starts although nobody waits for it, and stays running. */
        TU_ASSERT_EQ(tu_gate_await(&gate, 1), 0);
        tu_sleep_ns(TU_MS(5));
        TU_ASSERT_EQ(pool_future_done(f), 0);
        TU_ASSERT_EQ(pool_future_status(f), EBUSY);

        tu_gate_open(&gate);
        TU_ASSERT_EQ(pool_future_wait(f, POOL_FOREVER), 0);
        TU_ASSERT_EQ(pool_future_done(f), 1);
        TU_ASSERT_EQ(pool_future_status(f), 0);
        TU_ASSERT_EQ(pool_future_failed_index(f), POOL_NO_INDEX);
        TU_ASSERT_EQ(pool_future_progress(f, &total), 1);
        TU_ASSERT_EQ(total, 1);
        TU_ASSERT_EQ(atomic_load(&t.runs), 1);
        TU_ASSERT_TRUE(!pthread_equal(t.thread, pthread_self()));
        TU_ASSERT_EQ(tu_gate_timeouts(&gate), 0);
        pool_future_free(f);
        pool_destroy(pool);
        tu_gate_destroy(&gate);
    }
}

/* The status is the task's own return value; failed_index is 0 (the task
 * is item 0) when it failed. A NULL pool runs the task inside pool_submit
 * on the caller: the handle comes back done. */
static void wait_forever_gives_the_task_status_and_failed_index(void **state)
{
    static const int rets[] = { 0, 1, 42, EIO, -7, ECANCELED };
    size_t p, k;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);

        for (k = 0; k < TU_ARRAY_LEN(rets); k++) {
            pool_future_t *f = NULL;
            task t;

            tu_where("%s, task returns %d", tu_pool_name(pool_specs[p]), rets[k]);
            task_init(&t, NULL, rets[k]);
            TU_ASSERT_EQ(pool_submit(pool, task_fn, &t, NULL, &f), 0);
            if (pool == NULL) {
                TU_ASSERT_EQ(pool_future_done(f), 1);
                TU_ASSERT_EQ(atomic_load(&t.runs), 1);
                TU_ASSERT_TRUE(pthread_equal(t.thread, pthread_self()));
            }
            TU_ASSERT_EQ(pool_future_wait(f, POOL_FOREVER), 0);
            TU_ASSERT_EQ(pool_future_done(f), 1);
            TU_ASSERT_EQ(pool_future_status(f), rets[k]);
            TU_ASSERT_EQ(pool_future_failed_index(f),
                         rets[k] ? 0 : POOL_NO_INDEX);
            TU_ASSERT_EQ(pool_future_progress(f, NULL), rets[k] ? 0 : 1);
            TU_ASSERT_EQ(atomic_load(&t.runs), 1);
            /* Waiting again on a done future returns at once. */
            TU_ASSERT_EQ(pool_future_wait(f, 0), 0);
            TU_ASSERT_EQ(pool_future_wait(f, POOL_FOREVER), 0);
            pool_future_free(f);
        }
        pool_destroy(pool);
    }
}

/*
 * A timed wait on a blocked task returns ETIMEDOUT, not before its timeout;
 * once the task is released a long timeout returns 0 as soon as it is done,
 * and a done future answers 0 to any timeout.
 */
static void wait_with_timeout_fires_while_blocked_and_not_once_done(void **state)
{
    size_t p;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(threaded_specs); p++) {
        pool_t *pool = tu_pool_open(threaded_specs[p]);
        pool_future_t *f = NULL;
        int64_t t0, elapsed;
        tu_gate gate;
        task t;

        tu_where("%s", tu_pool_name(threaded_specs[p]));
        tu_gate_init(&gate);
        task_init(&t, &gate, 5);
        TU_ASSERT_EQ(pool_submit(pool, task_fn, &t, NULL, &f), 0);
        TU_ASSERT_EQ(tu_gate_await(&gate, 1), 0);

        t0 = tu_now_ns();
        TU_ASSERT_EQ(pool_future_wait(f, TU_MS(30)), ETIMEDOUT);
        elapsed = tu_now_ns() - t0;
        TU_ASSERT_TRUE(elapsed >= TU_MS(30));
        TU_ASSERT_EQ(pool_future_wait(f, 0), ETIMEDOUT);
        TU_ASSERT_EQ(pool_future_wait(f, 1), ETIMEDOUT);
        TU_ASSERT_EQ(pool_future_done(f), 0);
        TU_ASSERT_EQ(pool_future_status(f), EBUSY);
        TU_ASSERT_EQ(pool_future_failed_index(f), POOL_NO_INDEX);

        tu_gate_open(&gate);
        t0 = tu_now_ns();
        TU_ASSERT_EQ(pool_future_wait(f, TU_WAIT_NS), 0);
        elapsed = tu_now_ns() - t0;
        TU_ASSERT_TRUE(elapsed < TU_WAIT_NS / 2);
        TU_ASSERT_EQ(pool_future_done(f), 1);
        TU_ASSERT_EQ(pool_future_status(f), 5);
        TU_ASSERT_EQ(pool_future_failed_index(f), 0);

        t0 = tu_now_ns();
        TU_ASSERT_EQ(pool_future_wait(f, 0), 0);
        TU_ASSERT_EQ(pool_future_wait(f, TU_WAIT_NS), 0);
        TU_ASSERT_TRUE(tu_now_ns() - t0 < TU_WAIT_NS / 2);
        TU_ASSERT_EQ(tu_gate_timeouts(&gate), 0);
        pool_future_free(f);
        pool_destroy(pool);
        tu_gate_destroy(&gate);
    }
}

/* Polling (timeout 0) and pool_future_done agree, and only report done
 * once the task has returned. */
static void poll_and_done_report_completion_only_once_task_returned(void **state)
{
    size_t p, k;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(threaded_specs); p++) {
        pool_t *pool = tu_pool_open(threaded_specs[p]);
        pool_future_t *f = NULL;
        int64_t deadline;
        int rc;
        tu_gate gate;
        task t;

        tu_where("%s", tu_pool_name(threaded_specs[p]));
        tu_gate_init(&gate);
        task_init(&t, &gate, 9);
        TU_ASSERT_EQ(pool_submit(pool, task_fn, &t, NULL, &f), 0);
        for (k = 0; k < 20; k++) {
            TU_ASSERT_EQ(pool_future_wait(f, 0), ETIMEDOUT);
            TU_ASSERT_EQ(pool_future_done(f), 0);
            if (k == 10)
                TU_ASSERT_EQ(tu_gate_await(&gate, 1), 0);
            tu_sleep_ns(TU_MS(1));
        }
        tu_gate_open(&gate);
        deadline = tu_now_ns() + TU_WAIT_NS;
        while ((rc = pool_future_wait(f, 0)) == ETIMEDOUT && tu_now_ns() < deadline)
            tu_sleep_ns(100000);
        TU_ASSERT_EQ(rc, 0);
        TU_ASSERT_EQ(pool_future_done(f), 1);
        TU_ASSERT_EQ(pool_future_status(f), 9);
        TU_ASSERT_EQ(atomic_load(&t.runs), 1);
        pool_future_free(f);
        pool_destroy(pool);
        tu_gate_destroy(&gate);
    }
}

/* Submits one gated blocker per async worker and waits until every worker
 * is parked in one: whatever is submitted next stays queued. */
static void occupy_workers(pool_t *pool, tu_gate *gate, task *blockers,
                           pool_future_t **futs, size_t nblockers)
{
    size_t b;

    for (b = 0; b < nblockers; b++) {
        task_init(&blockers[b], gate, 0);
        TU_ASSERT_EQ(pool_submit(pool, task_fn, &blockers[b], NULL, &futs[b]), 0);
    }
    TU_ASSERT_EQ(tu_gate_await(gate, nblockers), 0);
}

#define MAX_BLOCKERS 8

/* A finite timeout only waits: it never runs the queued task itself. */
static void timed_wait_never_runs_a_queued_task(void **state)
{
    size_t p, b;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(threaded_specs); p++) {
        pool_t *pool = tu_pool_open(threaded_specs[p]);
        size_t nb = tu_async_workers(pool);
        pool_future_t *bf[MAX_BLOCKERS], *f = NULL;
        task blockers[MAX_BLOCKERS], victim;
        tu_gate gate;

        tu_where("%s", tu_pool_name(threaded_specs[p]));
        tu_gate_init(&gate);
        occupy_workers(pool, &gate, blockers, bf, nb);
        task_init(&victim, NULL, 3);
        TU_ASSERT_EQ(pool_submit(pool, task_fn, &victim, NULL, &f), 0);
        TU_ASSERT_EQ(pool_future_wait(f, TU_MS(30)), ETIMEDOUT);
        TU_ASSERT_EQ(atomic_load(&victim.runs), 0);
        TU_ASSERT_EQ(pool_future_done(f), 0);

        tu_gate_open(&gate);
        TU_ASSERT_EQ(pool_future_wait(f, TU_WAIT_NS), 0);
        TU_ASSERT_EQ(pool_future_status(f), 3);
        TU_ASSERT_EQ(atomic_load(&victim.runs), 1);
        TU_ASSERT_TRUE(!pthread_equal(victim.thread, pthread_self()));
        TU_ASSERT_EQ(pool_wait_all(bf, nb, POOL_FOREVER), 0);
        for (b = 0; b < nb; b++)
            pool_future_free(bf[b]);
        pool_future_free(f);
        pool_destroy(pool);
        TU_ASSERT_EQ(tu_gate_timeouts(&gate), 0);
        tu_gate_destroy(&gate);
    }
}

/* Waiting forever runs the queued task on the waiting thread, so it
 * completes while every worker is still blocked. */
static void wait_forever_runs_a_queued_task_on_the_waiting_thread(void **state)
{
    size_t p, b;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(threaded_specs); p++) {
        pool_t *pool = tu_pool_open(threaded_specs[p]);
        size_t nb = tu_async_workers(pool);
        pool_future_t *bf[MAX_BLOCKERS], *f = NULL;
        task blockers[MAX_BLOCKERS], victim;
        tu_gate gate;

        tu_where("%s", tu_pool_name(threaded_specs[p]));
        tu_gate_init(&gate);
        occupy_workers(pool, &gate, blockers, bf, nb);
        task_init(&victim, NULL, 11);
        TU_ASSERT_EQ(pool_submit(pool, task_fn, &victim, NULL, &f), 0);
        TU_ASSERT_EQ(pool_future_wait(f, POOL_FOREVER), 0);
        TU_ASSERT_EQ(pool_future_status(f), 11);
        TU_ASSERT_EQ(atomic_load(&victim.runs), 1);
        TU_ASSERT_TRUE(pthread_equal(victim.thread, pthread_self()));
        for (b = 0; b < nb; b++)
            TU_ASSERT_EQ(pool_future_done(bf[b]), 0);

        tu_gate_open(&gate);
        TU_ASSERT_EQ(pool_wait_all(bf, nb, POOL_FOREVER), 0);
        for (b = 0; b < nb; b++)
            pool_future_free(bf[b]);
        pool_future_free(f);
        pool_destroy(pool);
        TU_ASSERT_EQ(tu_gate_timeouts(&gate), 0);
        tu_gate_destroy(&gate);
    }
}

/* ------------------------------------------------------------------------ */
/* Cancel                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * A task queued behind blockers that hold every worker: cancel returns 0,
 * the future is done at once with ECANCELED and failed_index 0, on_done
 * fires once with that status, and the task never runs, not even after the
 * workers are free or the pool is destroyed.
 */
static void cancel_of_queued_task_returns_0_and_task_never_runs(void **state)
{
    size_t p, b;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(threaded_specs); p++) {
        pool_t *pool = tu_pool_open(threaded_specs[p]);
        size_t nb = tu_async_workers(pool), total = 7;
        pool_future_t *bf[MAX_BLOCKERS], *f = UNTOUCHED;
        pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
        task blockers[MAX_BLOCKERS], victim;
        tu_latch latch;
        tu_gate gate;
        done_rec rec;

        tu_where("%s", tu_pool_name(threaded_specs[p]));
        tu_gate_init(&gate);
        tu_latch_init(&latch);
        done_rec_init(&rec, &latch);
        occupy_workers(pool, &gate, blockers, bf, nb);
        task_init(&victim, NULL, 0);
        opts.on_done = record_done;
        opts.on_done_arg = &rec;
        TU_ASSERT_EQ(pool_submit(pool, task_fn, &victim, &opts, &f), 0);
        TU_ASSERT_EQ(pool_future_done(f), 0);

        TU_ASSERT_EQ(pool_future_cancel(f), 0);
        TU_ASSERT_EQ(pool_future_done(f), 1);
        TU_ASSERT_EQ(pool_future_wait(f, 0), 0);
        TU_ASSERT_EQ(pool_future_status(f), ECANCELED);
        TU_ASSERT_EQ(pool_future_failed_index(f), 0);
        TU_ASSERT_EQ(pool_future_progress(f, &total), 0);
        TU_ASSERT_EQ(total, 1);
        /* Done now: a second cancel has nothing to do. */
        TU_ASSERT_EQ(pool_future_cancel(f), EBUSY);
        TU_ASSERT_EQ(pool_future_status(f), ECANCELED);
        TU_ASSERT_EQ(tu_latch_wait(&latch, 1, TU_WAIT_NS), 0);
        TU_ASSERT_EQ(atomic_load(&rec.status), ECANCELED);
        TU_ASSERT_EQ(atomic_load(&rec.done), 1);
        TU_ASSERT_EQ(atomic_load(&rec.failed_index), 0);
        /* Waiting forever on it does not run it either. */
        TU_ASSERT_EQ(pool_future_wait(f, POOL_FOREVER), 0);
        TU_ASSERT_EQ(atomic_load(&victim.runs), 0);

        tu_gate_open(&gate);
        TU_ASSERT_EQ(pool_wait_all(bf, nb, POOL_FOREVER), 0);
        for (b = 0; b < nb; b++) {
            TU_ASSERT_EQ(pool_future_status(bf[b]), 0);
            pool_future_free(bf[b]);
        }
        pool_destroy(pool);
        TU_ASSERT_EQ(atomic_load(&victim.runs), 0);
        TU_ASSERT_EQ(atomic_load(&rec.calls), 1);
        TU_ASSERT_EQ(pool_future_status(f), ECANCELED);
        pool_future_free(f);
        TU_ASSERT_EQ(tu_gate_timeouts(&gate), 0);
        tu_latch_destroy(&latch);
        tu_gate_destroy(&gate);
    }
}

/* A running task cannot be cancelled: EBUSY, and it completes with its own
 * status. A done future (also one that a NULL pool ran inline) answers
 * EBUSY and keeps its status. */
static void cancel_of_running_or_done_task_is_ebusy_and_changes_nothing(void **state)
{
    size_t p;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);
        pool_future_t *f = NULL;
        tu_gate gate;
        task t;

        tu_where("%s", tu_pool_name(pool_specs[p]));
        tu_gate_init(&gate);
        task_init(&t, pool ? &gate : NULL, 7);
        TU_ASSERT_EQ(pool_submit(pool, task_fn, &t, NULL, &f), 0);
        if (pool) {
            TU_ASSERT_EQ(tu_gate_await(&gate, 1), 0);
            TU_ASSERT_EQ(pool_future_cancel(f), EBUSY);
            TU_ASSERT_EQ(pool_future_done(f), 0);
            TU_ASSERT_EQ(pool_future_status(f), EBUSY);
            tu_gate_open(&gate);
        }
        TU_ASSERT_EQ(pool_future_wait(f, POOL_FOREVER), 0);
        TU_ASSERT_EQ(pool_future_status(f), 7);
        TU_ASSERT_EQ(pool_future_failed_index(f), 0);
        TU_ASSERT_EQ(atomic_load(&t.runs), 1);
        TU_ASSERT_EQ(pool_future_cancel(f), EBUSY);
        TU_ASSERT_EQ(pool_future_status(f), 7);
        TU_ASSERT_EQ(pool_future_failed_index(f), 0);
        pool_future_free(f);
        pool_destroy(pool);
        TU_ASSERT_EQ(tu_gate_timeouts(&gate), 0);
        tu_gate_destroy(&gate);
    }
}

/* ------------------------------------------------------------------------ */
/* Freeing                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * Freed while its task is blocked, a future is detached: the task still
 * runs to its end, on_done still fires with the final status, and its
 * memory and completion fd are released when it completes (ASan reports a
 * leak; the fd is checked closed once pool_destroy has waited for it).
 */
static void free_before_completion_detaches_work_still_runs_on_done_fires(void **state)
{
    size_t p, rep;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(threaded_specs); p++)
        for (rep = 0; rep < 2; rep++) {
            pool_t *pool = tu_pool_open(threaded_specs[p]);
            pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
            pool_future_t *f = NULL;
            tu_latch latch;
            tu_gate gate;
            done_rec rec;
            int fd = -1;
            task t;

            tu_where("%s, %s", tu_pool_name(threaded_specs[p]),
                     rep ? "with a completion fd" : "no fd");
            tu_gate_init(&gate);
            tu_latch_init(&latch);
            done_rec_init(&rec, &latch);
            task_init(&t, &gate, 21);
            opts.on_done = record_done;
            opts.on_done_arg = &rec;
            TU_ASSERT_EQ(pool_submit(pool, task_fn, &t, &opts, &f), 0);
            TU_ASSERT_EQ(tu_gate_await(&gate, 1), 0);
            if (rep) {
                fd = pool_future_fd(f);
                TU_ASSERT_TRUE(fd >= 0);
            }
            pool_future_free(f);
            TU_ASSERT_EQ(atomic_load(&rec.calls), 0);

            tu_gate_open(&gate);
            TU_ASSERT_EQ(tu_latch_wait(&latch, 1, TU_WAIT_NS), 0);
            TU_ASSERT_EQ(atomic_load(&rec.status), 21);
            TU_ASSERT_EQ(atomic_load(&rec.done), 1);
            TU_ASSERT_EQ(atomic_load(&t.runs), 1);
            pool_destroy(pool);
            TU_ASSERT_EQ(atomic_load(&rec.calls), 1);
            if (rep)
                TU_ASSERT_TRUE(fd_is_closed(fd));
            TU_ASSERT_EQ(tu_gate_timeouts(&gate), 0);
            tu_latch_destroy(&latch);
            tu_gate_destroy(&gate);
        }
}

#define DETACHED_N 200

/* Many futures freed right after submit: pool_destroy still runs all of
 * their work and every on_done. */
static void freed_futures_still_run_before_pool_destroy_returns(void **state)
{
    size_t p, i;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);
        task *tasks = tu_malloc(DETACHED_N * sizeof *tasks);
        done_rec *recs = tu_malloc(DETACHED_N * sizeof *recs);

        tu_where("%s", tu_pool_name(pool_specs[p]));
        for (i = 0; i < DETACHED_N; i++) {
            pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
            pool_future_t *f = NULL;

            task_init(&tasks[i], NULL, (int)(i % 3));
            done_rec_init(&recs[i], NULL);
            opts.on_done = record_done;
            opts.on_done_arg = &recs[i];
            TU_ASSERT_EQ(pool_submit(pool, task_fn, &tasks[i], &opts, &f), 0);
            pool_future_free(f);
        }
        pool_destroy(pool);
        for (i = 0; i < DETACHED_N; i++) {
            tu_where("%s, task %zu", tu_pool_name(pool_specs[p]), i);
            TU_ASSERT_EQ(atomic_load(&tasks[i].runs), 1);
            TU_ASSERT_EQ(atomic_load(&recs[i].calls), 1);
            TU_ASSERT_EQ(atomic_load(&recs[i].status), (int)(i % 3));
        }
        tu_free(tasks);
        tu_free(recs);
    }
}

/* After completion, and after its pool is gone, a future still answers
 * every query; freeing it then releases it and closes its fd. */
static void future_outlives_its_pool_and_free_after_completion_closes_fd(void **state)
{
    size_t p;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);
        pool_future_t *f = NULL, *g = NULL;
        struct pollfd pfd;
        size_t total = 0;
        task t, u;
        int fd;

        tu_where("%s", tu_pool_name(pool_specs[p]));
        task_init(&t, NULL, 4);
        task_init(&u, NULL, 0);
        TU_ASSERT_EQ(pool_submit(pool, task_fn, &t, NULL, &f), 0);
        TU_ASSERT_EQ(pool_submit(pool, task_fn, &u, NULL, &g), 0);
        TU_ASSERT_EQ(pool_future_wait(f, POOL_FOREVER), 0);
        /* g is never waited for: pool_destroy finishes it. */
        pool_destroy(pool);

        TU_ASSERT_EQ(atomic_load(&u.runs), 1);
        TU_ASSERT_EQ(pool_future_done(g), 1);
        TU_ASSERT_EQ(pool_future_status(g), 0);
        TU_ASSERT_EQ(pool_future_failed_index(g), POOL_NO_INDEX);
        TU_ASSERT_EQ(pool_future_done(f), 1);
        TU_ASSERT_EQ(pool_future_status(f), 4);
        TU_ASSERT_EQ(pool_future_failed_index(f), 0);
        TU_ASSERT_EQ(pool_future_progress(f, &total), 0);
        TU_ASSERT_EQ(total, 1);
        TU_ASSERT_EQ(pool_future_wait(f, POOL_FOREVER), 0);
        TU_ASSERT_EQ(pool_future_wait(f, TU_MS(10)), 0);
        TU_ASSERT_EQ(pool_future_cancel(f), EBUSY);
        TU_ASSERT_EQ(pool_wait_all(&f, 1, POOL_FOREVER), 0);

        fd = pool_future_fd(f);
        TU_ASSERT_TRUE(fd >= 0);
        pfd.fd = fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        TU_ASSERT_EQ(poll(&pfd, 1, 0), 1);
        TU_ASSERT_TRUE(pfd.revents & POLLIN);
        pool_future_free(f);
        TU_ASSERT_TRUE(fd_is_closed(fd));
        pool_future_free(g);
        pool_future_free(NULL); /* a no-op */
    }
}

/* ------------------------------------------------------------------------ */
/* on_done                                                                  */
/* ------------------------------------------------------------------------ */

#define ONDONE_N 300
#define ONDONE_FOR_N 50

typedef struct for_fail {
    size_t fail_at; /* item that fails, or SIZE_MAX */
    atomic_uint runs;
} for_fail;

static int for_fail_item(void *ctx, size_t i)
{
    for_fail *ff = ctx;

    tu_bump(&ff->runs);
    return i == ff->fail_at ? 500 + (int)i : 0;
}

/*
 * Every future's on_done runs exactly once, and what it reads from its own
 * future is already final: done, the status the waiter later sees (never
 * EBUSY), and the failed_index. Tasks and pool_for_async calls, with and
 * without failures.
 */
static void on_done_runs_once_after_status_is_final(void **state)
{
    size_t p, i;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);
        pool_future_t **futs = tu_calloc(ONDONE_N, sizeof *futs);
        task *tasks = tu_malloc(ONDONE_N * sizeof *tasks);
        for_fail *fors = tu_malloc(ONDONE_N * sizeof *fors);
        done_rec *recs = tu_malloc(ONDONE_N * sizeof *recs);
        tu_latch latch;

        tu_latch_init(&latch);
        for (i = 0; i < ONDONE_N; i++) {
            pool_async_opts opts = POOL_ASYNC_OPTS_INIT;

            tu_where("%s, future %zu", tu_pool_name(pool_specs[p]), i);
            done_rec_init(&recs[i], &latch);
            opts.on_done = record_done;
            opts.on_done_arg = &recs[i];
            if (i % 10 == 9) {
                fors[i].fail_at = i % 20 == 9 ? i % ONDONE_FOR_N : SIZE_MAX;
                atomic_init(&fors[i].runs, 0);
                opts.chunk = i % 3;
                TU_ASSERT_EQ(pool_for_async(pool, ONDONE_FOR_N, for_fail_item,
                                            &fors[i], &opts, &futs[i]), 0);
            } else {
                task_init(&tasks[i], NULL, i % 4 == 0 ? 100 + (int)i : 0);
                TU_ASSERT_EQ(pool_submit(pool, task_fn, &tasks[i], &opts,
                                         &futs[i]), 0);
            }
        }
        tu_where("%s", tu_pool_name(pool_specs[p]));
        TU_ASSERT_EQ(tu_latch_wait(&latch, ONDONE_N, TU_WAIT_NS), 0);
        TU_ASSERT_EQ(pool_wait_all(futs, ONDONE_N, POOL_FOREVER), 0);
        pool_destroy(pool);
        for (i = 0; i < ONDONE_N; i++) {
            int want;

            tu_where("%s, future %zu", tu_pool_name(pool_specs[p]), i);
            if (i % 10 == 9)
                want = fors[i].fail_at == SIZE_MAX ? 0 : 500 + (int)fors[i].fail_at;
            else
                want = tasks[i].ret;
            TU_ASSERT_EQ(atomic_load(&recs[i].calls), 1);
            TU_ASSERT_EQ(atomic_load(&recs[i].done), 1);
            TU_ASSERT_EQ(pool_future_status(futs[i]), want);
            TU_ASSERT_EQ(atomic_load(&recs[i].status), want);
            TU_ASSERT_EQ(atomic_load(&recs[i].failed_index),
                         pool_future_failed_index(futs[i]));
            pool_future_free(futs[i]);
        }
        TU_ASSERT_EQ(tu_latch_get(&latch), ONDONE_N);
        tu_latch_destroy(&latch);
        tu_free(futs);
        tu_free(tasks);
        tu_free(fors);
        tu_free(recs);
    }
}

#define CHAIN_LEN 40

/* A chain of tasks, each submitted by the on_done of the one before, which
 * then frees its own future: the test never holds a handle. */
typedef struct chain {
    pool_t *pool;
    struct link {
        struct chain *c;
        size_t k;
    } links[CHAIN_LEN];
    atomic_uint ran[CHAIN_LEN];
    atomic_uint done_calls[CHAIN_LEN];
    atomic_uint bad_status;  /* on_done saw a status other than 0 */
    atomic_uint out_of_order; /* link k ran before link k-1 completed */
    atomic_uint submit_failed;
    tu_latch end;
} chain;

static int chain_task(void *ctx)
{
    struct link *l = ctx;

    if (l->k > 0 && atomic_load(&l->c->done_calls[l->k - 1]) != 1)
        tu_bump(&l->c->out_of_order);
    tu_bump(&l->c->ran[l->k]);
    return 0;
}

static void chain_done(void *arg, pool_future_t *f)
{
    struct link *l = arg;
    chain *c = l->c;

    if (pool_future_status(f) != 0 || !pool_future_done(f))
        tu_bump(&c->bad_status);
    tu_bump(&c->done_calls[l->k]);
    if (l->k + 1 < CHAIN_LEN) {
        pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
        pool_future_t *next = NULL;

        opts.on_done = chain_done;
        opts.on_done_arg = &c->links[l->k + 1];
        if (pool_submit(c->pool, chain_task, &c->links[l->k + 1], &opts, &next) != 0)
            tu_bump(&c->submit_failed);
    } else {
        tu_latch_add(&c->end, 1);
    }
    pool_future_free(f);
}

static void on_done_can_submit_more_work_and_free_its_future(void **state)
{
    size_t p, k;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        chain *c = tu_malloc(sizeof *c);
        pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
        pool_future_t *first = NULL;

        tu_where("%s", tu_pool_name(pool_specs[p]));
        c->pool = tu_pool_open(pool_specs[p]);
        for (k = 0; k < CHAIN_LEN; k++) {
            c->links[k].c = c;
            c->links[k].k = k;
            atomic_init(&c->ran[k], 0);
            atomic_init(&c->done_calls[k], 0);
        }
        atomic_init(&c->bad_status, 0);
        atomic_init(&c->out_of_order, 0);
        atomic_init(&c->submit_failed, 0);
        tu_latch_init(&c->end);
        opts.on_done = chain_done;
        opts.on_done_arg = &c->links[0];
        TU_ASSERT_EQ(pool_submit(c->pool, chain_task, &c->links[0], &opts, &first), 0);
        TU_ASSERT_EQ(tu_latch_wait(&c->end, 1, TU_WAIT_NS), 0);
        pool_destroy(c->pool);
        tu_assert_counts(c->ran, 0, CHAIN_LEN, 1, "chain link");
        tu_assert_counts(c->done_calls, 0, CHAIN_LEN, 1, "on_done of link");
        TU_ASSERT_EQ(atomic_load(&c->bad_status), 0);
        TU_ASSERT_EQ(atomic_load(&c->out_of_order), 0);
        TU_ASSERT_EQ(atomic_load(&c->submit_failed), 0);
        tu_latch_destroy(&c->end);
        tu_free(c);
    }
}

/* on_done that frees its own future, for tasks, for maps with a chunk
 * record and for futures whose fd was asked for: nothing leaks (ASan), and
 * the fd is closed once the pool has finished everything. */
typedef struct self_free {
    atomic_uint calls;
    tu_latch *latch;
} self_free;

static void free_self(void *arg, pool_future_t *f)
{
    self_free *s = arg;

    pool_future_free(f);
    tu_bump(&s->calls);
    tu_latch_add(s->latch, 1);
}

static int square_item(void *ctx, const void *in, void *out)
{
    (void)ctx;
    *(uint64_t *)out = (uint64_t)*(const uint32_t *)in * *(const uint32_t *)in;
    return 0;
}

#define SELF_FREE_N 120
#define SELF_FREE_ITEMS 64

static void on_done_that_frees_its_own_future_leaks_nothing(void **state)
{
    size_t p, i, j;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);
        self_free *recs = tu_malloc(SELF_FREE_N * sizeof *recs);
        task *tasks = tu_malloc(SELF_FREE_N * sizeof *tasks);
        uint32_t *in = tu_malloc(SELF_FREE_ITEMS * sizeof *in);
        uint64_t *out = tu_calloc(SELF_FREE_N * SELF_FREE_ITEMS, sizeof *out);
        int fds[SELF_FREE_N / 10];
        size_t nfds = 0;
        tu_gate gate;
        tu_latch latch;

        tu_where("%s", tu_pool_name(pool_specs[p]));
        tu_gate_init(&gate);
        tu_latch_init(&latch);
        for (j = 0; j < SELF_FREE_ITEMS; j++)
            in[j] = (uint32_t)j + 3;
        for (i = 0; i < SELF_FREE_N; i++) {
            pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
            pool_future_t *f = NULL;

            atomic_init(&recs[i].calls, 0);
            recs[i].latch = &latch;
            opts.on_done = free_self;
            opts.on_done_arg = &recs[i];
            if (i % 3 == 1) {
                opts.flags = POOL_ASYNC_CHUNKS;
                TU_ASSERT_EQ(pool_map_async(pool, square_item, NULL, in, sizeof *in,
                                            out + i * SELF_FREE_ITEMS, sizeof *out,
                                            SELF_FREE_ITEMS, &opts, &f), 0);
            } else if (i % 10 == 0 && pool != NULL) {
                /* Held at the gate until its fd has been asked for. */
                task_init(&tasks[i], &gate, 0);
                TU_ASSERT_EQ(pool_submit(pool, task_fn, &tasks[i], &opts, &f), 0);
                fds[nfds] = pool_future_fd(f);
                TU_ASSERT_TRUE(fds[nfds] >= 0);
                nfds++;
            } else {
                task_init(&tasks[i], NULL, (int)i);
                TU_ASSERT_EQ(pool_submit(pool, task_fn, &tasks[i], &opts, &f), 0);
            }
        }
        tu_gate_open(&gate);
        TU_ASSERT_EQ(tu_latch_wait(&latch, SELF_FREE_N, TU_WAIT_NS), 0);
        pool_destroy(pool);
        for (i = 0; i < SELF_FREE_N; i++) {
            tu_where("%s, future %zu", tu_pool_name(pool_specs[p]), i);
            TU_ASSERT_EQ(atomic_load(&recs[i].calls), 1);
            if (i % 3 == 1)
                for (j = 0; j < SELF_FREE_ITEMS; j++)
                    TU_ASSERT_EQ(out[i * SELF_FREE_ITEMS + j], (uint64_t)in[j] * in[j]);
            else
                TU_ASSERT_EQ(atomic_load(&tasks[i].runs), 1);
        }
        for (i = 0; i < nfds; i++)
            TU_ASSERT_TRUE(fd_is_closed(fds[i]));
        TU_ASSERT_EQ(tu_gate_timeouts(&gate), 0);
        tu_latch_destroy(&latch);
        tu_gate_destroy(&gate);
        tu_free(recs);
        tu_free(tasks);
        tu_free(in);
        tu_free(out);
    }
}

/* ------------------------------------------------------------------------ */
/* Many submitters                                                          */
/* ------------------------------------------------------------------------ */

#define SUBMITTERS 4
#define PER_SUBMITTER 1000

typedef struct slot {
    uint64_t in, out;
    atomic_uint runs;
} slot;

static int slot_status(uint64_t in)
{
    return in % 53 == 0 ? 1 + (int)(in % 1000) : 0;
}

static int slot_task(void *ctx)
{
    slot *s = ctx;

    tu_bump(&s->runs);
    s->out = s->in * 2654435761u + 1;
    return slot_status(s->in);
}

/* One application thread: submits its tasks, then waits in its own way and
 * checks every result. Never asserts; counts what was wrong. */
typedef struct submitter {
    pool_t *pool;
    unsigned id;
    size_t n;
    slot *slots;
    pool_future_t **futs;
    pthread_barrier_t *start;
    unsigned submit_failed, wait_failed, wrong_status, wrong_out, wrong_runs;
} submitter;

static void *submitter_main(void *arg)
{
    submitter *s = arg;
    size_t i;

    pthread_barrier_wait(s->start);
    for (i = 0; i < s->n; i++) {
        s->slots[i].in = (uint64_t)s->id * 1000003 + i;
        s->slots[i].out = 0;
        atomic_init(&s->slots[i].runs, 0);
        if (pool_submit(s->pool, slot_task, &s->slots[i], NULL, &s->futs[i]) != 0) {
            s->futs[i] = NULL;
            s->submit_failed++;
        }
    }
    if (s->submit_failed)
        return NULL;
    switch (s->id % 4) {
    case 0: /* gather, helping */
        s->wait_failed += pool_wait_all(s->futs, s->n, POOL_FOREVER) != 0;
        break;
    case 1: /* gather, only waiting */
        s->wait_failed += pool_wait_all(s->futs, s->n, TU_WAIT_NS) != 0;
        break;
    case 2: /* one by one, newest first, with a timeout */
        for (i = s->n; i-- > 0;)
            s->wait_failed += pool_future_wait(s->futs[i], TU_WAIT_NS) != 0;
        break;
    default: { /* polling pool_future_done */
        int64_t deadline = tu_now_ns() + TU_WAIT_NS;
        for (i = 0; i < s->n; i++)
            while (!pool_future_done(s->futs[i]) && tu_now_ns() < deadline)
                tu_sleep_ns(50000);
        break;
    }
    }
    for (i = 0; i < s->n; i++) {
        slot *sl = &s->slots[i];

        if (!pool_future_done(s->futs[i])) {
            s->wait_failed++;
            continue;
        }
        s->wrong_status += pool_future_status(s->futs[i]) != slot_status(sl->in);
        s->wrong_out += sl->out != sl->in * 2654435761u + 1;
        s->wrong_runs += atomic_load(&sl->runs) != 1;
        pool_future_free(s->futs[i]);
    }
    return NULL;
}

static void thousands_of_submits_from_several_threads_each_get_own_result(void **state)
{
    size_t p, t, n = PER_SUBMITTER * tu_scale();

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);
        submitter subs[SUBMITTERS];
        pthread_t threads[SUBMITTERS];
        pthread_barrier_t start;

        assert_int_equal(pthread_barrier_init(&start, NULL, SUBMITTERS), 0);
        for (t = 0; t < SUBMITTERS; t++) {
            memset(&subs[t], 0, sizeof subs[t]);
            subs[t].pool = pool;
            subs[t].id = (unsigned)t;
            subs[t].n = n;
            subs[t].slots = tu_malloc(n * sizeof *subs[t].slots);
            subs[t].futs = tu_calloc(n, sizeof *subs[t].futs);
            subs[t].start = &start;
            assert_int_equal(pthread_create(&threads[t], NULL, submitter_main, &subs[t]), 0);
        }
        for (t = 0; t < SUBMITTERS; t++)
            pthread_join(threads[t], NULL);
        pool_destroy(pool);
        pthread_barrier_destroy(&start);
        for (t = 0; t < SUBMITTERS; t++) {
            tu_where("%s, submitter %zu (wait mode %zu)", tu_pool_name(pool_specs[p]),
                     t, t % 4);
            TU_ASSERT_EQ(subs[t].submit_failed, 0);
            TU_ASSERT_EQ(subs[t].wait_failed, 0);
            TU_ASSERT_EQ(subs[t].wrong_status, 0);
            TU_ASSERT_EQ(subs[t].wrong_out, 0);
            TU_ASSERT_EQ(subs[t].wrong_runs, 0);
            tu_free(subs[t].slots);
            tu_free(subs[t].futs);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* A pool of 1 runs async work with nobody waiting                          */
/* ------------------------------------------------------------------------ */

#define NOWAIT_N 500

typedef struct nowait {
    atomic_uint runs[NOWAIT_N];
    atomic_uint on_test_thread;
    pthread_t test_thread;
    tu_latch latch;
} nowait;

typedef struct nowait_item {
    nowait *w;
    size_t i;
} nowait_item;

static int nowait_task(void *ctx)
{
    nowait_item *it = ctx;

    if (pthread_equal(pthread_self(), it->w->test_thread))
        tu_bump(&it->w->on_test_thread);
    tu_bump(&it->w->runs[it->i]);
    return 0;
}

static void nowait_done(void *arg, pool_future_t *f)
{
    nowait_item *it = arg;

    (void)f;
    tu_latch_add(&it->w->latch, 1);
}

/*
 * A pool of 1 has no worker of its own; async work must still run while the
 * submitter only sleeps on a condition variable (on_done counts) or in
 * poll() on a completion fd, never entering the library to wait.
 */
static void pool_of_one_runs_async_work_with_nobody_waiting(void **state)
{
    pool_t *pool = tu_pool_open(1);
    nowait *w = tu_malloc(sizeof *w);
    nowait_item *items = tu_malloc(NOWAIT_N * sizeof *items);
    pool_future_t *f = NULL;
    struct pollfd pfd;
    size_t i;
    task t;

    (void)state;
    tu_where("pool_create(1), on_done and a latch");
    for (i = 0; i < NOWAIT_N; i++)
        atomic_init(&w->runs[i], 0);
    atomic_init(&w->on_test_thread, 0);
    w->test_thread = pthread_self();
    tu_latch_init(&w->latch);
    for (i = 0; i < NOWAIT_N; i++) {
        pool_async_opts opts = POOL_ASYNC_OPTS_INIT;

        items[i].w = w;
        items[i].i = i;
        opts.on_done = nowait_done;
        opts.on_done_arg = &items[i];
        TU_ASSERT_EQ(pool_submit(pool, nowait_task, &items[i], &opts, &f), 0);
        pool_future_free(f);
    }
    TU_ASSERT_EQ(tu_latch_wait(&w->latch, NOWAIT_N, TU_WAIT_NS), 0);
    tu_assert_counts(w->runs, 0, NOWAIT_N, 1, "task");
    TU_ASSERT_EQ(atomic_load(&w->on_test_thread), 0);

    tu_where("pool_create(1), poll() on the completion fd");
    task_init(&t, NULL, 6);
    TU_ASSERT_EQ(pool_submit(pool, task_fn, &t, NULL, &f), 0);
    pfd.fd = pool_future_fd(f);
    pfd.events = POLLIN;
    pfd.revents = 0;
    TU_ASSERT_TRUE(pfd.fd >= 0);
    TU_ASSERT_EQ(poll(&pfd, 1, (int)(TU_WAIT_NS / 1000000)), 1);
    TU_ASSERT_TRUE(pfd.revents & POLLIN);
    TU_ASSERT_EQ(pool_future_done(f), 1);
    TU_ASSERT_EQ(pool_future_status(f), 6);
    TU_ASSERT_EQ(atomic_load(&t.runs), 1);
    TU_ASSERT_TRUE(!pthread_equal(t.thread, pthread_self()));
    pool_future_free(f);

    pool_destroy(pool);
    tu_latch_destroy(&w->latch);
    tu_free(items);
    tu_free(w);
}

/* ------------------------------------------------------------------------ */
/* Argument errors                                                          */
/* ------------------------------------------------------------------------ */

static int count_for(void *ctx, size_t i)
{
    (void)i;
    tu_bump(ctx);
    return 0;
}

static int count_task(void *ctx)
{
    tu_bump(ctx);
    return 0;
}

static void count_done(void *arg, pool_future_t *f)
{
    (void)f;
    tu_bump(arg);
}

/*
 * EINVAL before anything runs: a NULL fn or a NULL future out-pointer for
 * pool_submit and pool_for_async; *future is left untouched and neither the
 * callback nor on_done is ever called. Freeing NULL and cancelling the
 * pending work of a NULL pool are no-ops.
 */
static void submit_and_for_async_reject_null_fn_and_null_future(void **state)
{
    size_t p;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);
        pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
        pool_future_t *f = UNTOUCHED;
        atomic_uint calls, dones;

        tu_where("%s", tu_pool_name(pool_specs[p]));
        atomic_init(&calls, 0);
        atomic_init(&dones, 0);
        opts.on_done = count_done;
        opts.on_done_arg = &dones;

        TU_ASSERT_EQ(pool_submit(pool, NULL, &calls, &opts, &f), EINVAL);
        TU_ASSERT_TRUE(f == UNTOUCHED);
        TU_ASSERT_EQ(pool_submit(pool, NULL, &calls, NULL, &f), EINVAL);
        TU_ASSERT_TRUE(f == UNTOUCHED);
        TU_ASSERT_EQ(pool_submit(pool, count_task, &calls, &opts, NULL), EINVAL);
        TU_ASSERT_EQ(pool_submit(pool, count_task, &calls, NULL, NULL), EINVAL);
        TU_ASSERT_EQ(pool_submit(pool, NULL, &calls, NULL, NULL), EINVAL);

        TU_ASSERT_EQ(pool_for_async(pool, 10, NULL, &calls, &opts, &f), EINVAL);
        TU_ASSERT_TRUE(f == UNTOUCHED);
        TU_ASSERT_EQ(pool_for_async(pool, 0, NULL, &calls, NULL, &f), EINVAL);
        TU_ASSERT_TRUE(f == UNTOUCHED);
        TU_ASSERT_EQ(pool_for_async(pool, 10, count_for, &calls, &opts, NULL), EINVAL);
        TU_ASSERT_EQ(pool_for_async(pool, 0, count_for, &calls, NULL, NULL), EINVAL);

        pool_future_free(NULL);
        pool_cancel_pending(NULL);
        pool_destroy(pool);
        TU_ASSERT_EQ(atomic_load(&calls), 0);
        TU_ASSERT_EQ(atomic_load(&dones), 0);
    }
}

/* A NULL handle, as the header says: EINVAL from the calls that return a
 * status (pool_future_fd: -1 with errno EINVAL), "not done", no index, no
 * progress (total 0), and nothing to free. */
static void a_null_future_gets_einval_or_an_empty_answer(void **state)
{
    size_t b = 0, e = 0, total = 7;
    int status = 0;

    (void)state;
    TU_ASSERT_EQ(pool_future_wait(NULL, 0), EINVAL);
    TU_ASSERT_EQ(pool_future_wait(NULL, POOL_FOREVER), EINVAL);
    TU_ASSERT_EQ(pool_future_status(NULL), EINVAL);
    TU_ASSERT_EQ(pool_future_cancel(NULL), EINVAL);
    TU_ASSERT_EQ(pool_future_next(NULL, 0, &b, &e, &status), EINVAL);
    TU_ASSERT_EQ(pool_future_done(NULL), 0);
    TU_ASSERT_EQ(pool_future_failed_index(NULL), POOL_NO_INDEX);
    TU_ASSERT_EQ(pool_future_progress(NULL, &total), 0);
    TU_ASSERT_EQ(total, 0);
    errno = 0;
    TU_ASSERT_EQ(pool_future_fd(NULL), -1);
    TU_ASSERT_EQ(errno, EINVAL);
    pool_future_free(NULL);
}

/* n == 0: a valid call that is done at once with status 0, calls nothing
 * but on_done (once), and reports a progress of 0 out of 0. */
static void for_async_of_zero_items_is_done_at_once_with_status_0(void **state)
{
    size_t p;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);
        pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
        pool_future_t *f = NULL;
        atomic_uint calls, dones;
        size_t total = 99;

        tu_where("%s", tu_pool_name(pool_specs[p]));
        atomic_init(&calls, 0);
        atomic_init(&dones, 0);
        opts.on_done = count_done;
        opts.on_done_arg = &dones;
        TU_ASSERT_EQ(pool_for_async(pool, 0, count_for, &calls, &opts, &f), 0);
        TU_ASSERT_TRUE(f != NULL);
        TU_ASSERT_EQ(pool_future_wait(f, TU_WAIT_NS), 0);
        TU_ASSERT_EQ(pool_future_status(f), 0);
        TU_ASSERT_EQ(pool_future_failed_index(f), POOL_NO_INDEX);
        TU_ASSERT_EQ(pool_future_progress(f, &total), 0);
        TU_ASSERT_EQ(total, 0);
        pool_destroy(pool);
        TU_ASSERT_EQ(atomic_load(&calls), 0);
        TU_ASSERT_EQ(atomic_load(&dones), 1);
        pool_future_free(f);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(submit_returns_at_once_and_task_runs_on_a_pool_thread),
        TU_TEST(wait_forever_gives_the_task_status_and_failed_index),
        TU_TEST(wait_with_timeout_fires_while_blocked_and_not_once_done),
        TU_TEST(poll_and_done_report_completion_only_once_task_returned),
        TU_TEST(timed_wait_never_runs_a_queued_task),
        TU_TEST(wait_forever_runs_a_queued_task_on_the_waiting_thread),
        TU_TEST(cancel_of_queued_task_returns_0_and_task_never_runs),
        TU_TEST(cancel_of_running_or_done_task_is_ebusy_and_changes_nothing),
        TU_TEST(free_before_completion_detaches_work_still_runs_on_done_fires),
        TU_TEST(freed_futures_still_run_before_pool_destroy_returns),
        TU_TEST(future_outlives_its_pool_and_free_after_completion_closes_fd),
        TU_TEST(on_done_runs_once_after_status_is_final),
        TU_TEST(on_done_can_submit_more_work_and_free_its_future),
        TU_TEST(on_done_that_frees_its_own_future_leaks_nothing),
        TU_TEST(thousands_of_submits_from_several_threads_each_get_own_result),
        TU_TEST(pool_of_one_runs_async_work_with_nobody_waiting),
        TU_TEST(submit_and_for_async_reject_null_fn_and_null_future),
        TU_TEST(a_null_future_gets_einval_or_an_empty_answer),
        TU_TEST(for_async_of_zero_items_is_done_at_once_with_status_0),
    };

    return TU_RUN(tests, argc, argv);
}
