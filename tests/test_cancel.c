/*
 * test_cancel.c - pool_future_cancel on running async loops and
 * pool_cancel_pending before pool_destroy.
 *
 * The cancel contract checked after every cancel: the call returns 0 or
 * EBUSY, consistently with the final status (ECANCELED only after a 0;
 * EBUSY only for a future that then ends as if never cancelled); with
 * ECANCELED, every item below failed_index ran exactly once and that item
 * never started; no item ever runs twice; progress counts the items that
 * ran; and no item starts after pool_future_cancel has returned.
 *
 * "Starts" is seen from inside the callback, which cannot see the moment
 * the library decided to start it: a thread preempted between the
 * library's last check and the callback's first instruction enters the
 * callback after cancel returned although the item had started before. So
 * where threads run freely at the cancel, each thread may have at most one
 * such item, the first it enters after the cancel; a chunk that goes on
 * running items, or a new claim, makes a second one and fails. Where every
 * thread is held inside an item when the cancel comes, none is allowed.
 */
#include "test_util.h"

static int fail_status(size_t i)
{
    return 1000 + (int)i;
}

/* One cancelled loop: planted failures and what its items saw. */
typedef struct crun {
    size_t n;
    unsigned char *fails;
    atomic_uint *count;
    atomic_size_t started;     /* items started so far */
    atomic_int cancel_returned; /* set right after pool_future_cancel returns */
    unsigned gen;              /* which call this is: set before it starts */
    atomic_uint late;          /* items started after that */
    atomic_uint late_twice;    /* a second such item on the same thread */
    int64_t spin_ns;
    tu_gate *gate; /* items with gate_every | i (or i >= gate_from) pass it */
    size_t gate_every, gate_from;
} crun;

/* Numbers every call, so a thread's late-item count never carries over. */
static atomic_uint calls_made;

static void crun_init(crun *r, size_t cap)
{
    memset(r, 0, sizeof *r);
    r->fails = tu_calloc(cap, 1);
    r->count = tu_counts_new(cap);
    atomic_init(&r->started, 0);
    atomic_init(&r->cancel_returned, 0);
    atomic_init(&r->late, 0);
    atomic_init(&r->late_twice, 0);
    r->gen = 0;
    r->gate_from = SIZE_MAX;
}

static void crun_reset(crun *r, size_t n)
{
    r->n = n;
    tu_counts_reset(r->count, n);
    atomic_store(&r->started, 0);
    atomic_store(&r->cancel_returned, 0);
    atomic_store(&r->late, 0);
    atomic_store(&r->late_twice, 0);
    r->gen = atomic_fetch_add(&calls_made, 1) + 1;
}

static void crun_free(crun *r)
{
    tu_free(r->fails);
    tu_free(r->count);
}

/* The call for which this thread counted a late item, and how many. */
static _Thread_local const crun *tl_run;
static _Thread_local unsigned tl_gen, tl_late;

static int citem(void *ctx, size_t i)
{
    crun *r = ctx;

    if (atomic_load(&r->cancel_returned)) {
        if (tl_run != r || tl_gen != r->gen) {
            tl_run = r;
            tl_gen = r->gen;
            tl_late = 0;
        }
        if (++tl_late > 1)
            tu_bump(&r->late_twice);
        tu_bump(&r->late);
    }
    tu_bump(&r->count[i]);
    atomic_fetch_add(&r->started, 1);
    if (r->gate && ((r->gate_every && i % r->gate_every == 0) || i >= r->gate_from))
        tu_gate_pass(r->gate);
    if (r->spin_ns)
        tu_spin_ns(r->spin_ns);
    return r->fails[i] ? fail_status(i) : 0;
}

/* Cancels f and marks the moment cancel returned; returns cancel's rc. */
static int cancel_now(crun *r, pool_future_t *f)
{
    int rc = pool_future_cancel(f);

    atomic_store(&r->cancel_returned, 1);
    return rc;
}

static size_t lowest_failing(const crun *r)
{
    const unsigned char *p = memchr(r->fails, 1, r->n);

    return p ? (size_t)(p - r->fails) : SIZE_MAX;
}

/*
 * The cancel contract on a done future; cancel_rc is what cancel returned,
 * threads how many threads ran items freely when the cancel came (0: all
 * of them were held inside items), each allowed one late item.
 */
static void verify_cancelled(crun *r, pool_future_t *f, int cancel_rc, size_t threads)
{
    int st = pool_future_status(f);
    size_t fi = pool_future_failed_index(f), n = r->n, i, ok = 0, total = 0;

    TU_ASSERT_EQ(pool_future_done(f), 1);
    TU_ASSERT_TRUE(cancel_rc == 0 || cancel_rc == EBUSY);
    TU_ASSERT_EQ(atomic_load(&r->late_twice), 0);
    TU_ASSERT_TRUE(atomic_load(&r->late) <= threads);
    tu_assert_counts_at_most(r->count, 0, n, 1, "item");
    for (i = 0; i < n; i++)
        ok += tu_count(r->count, i) == 1 && !r->fails[i];
    TU_ASSERT_EQ(pool_future_progress(f, &total), ok);
    TU_ASSERT_EQ(total, n);

    if (st == ECANCELED) {
        /* Only a cancel that took effect ends in ECANCELED. */
        TU_ASSERT_EQ(cancel_rc, 0);
        TU_ASSERT_TRUE(fi < n);
        TU_ASSERT_EQ(tu_count(r->count, fi), 0);
    } else if (st == 0) {
        TU_ASSERT_EQ(fi, POOL_NO_INDEX);
        TU_ASSERT_EQ(lowest_failing(r), SIZE_MAX);
        tu_assert_counts(r->count, 0, n, 1, "item");
        TU_ASSERT_EQ(ok, n);
        return;
    } else {
        /* The lowest failure: every item below it ran, none of them failed. */
        TU_ASSERT_EQ(fi, lowest_failing(r));
        TU_ASSERT_EQ(st, fail_status(fi));
        TU_ASSERT_EQ(tu_count(r->count, fi), 1);
    }
    tu_assert_counts(r->count, 0, fi, 1, "item below failed_index");
    for (i = 0; i < fi; i++)
        if (r->fails[i])
            fail_msg("%s: item %zu failed below failed_index %zu (status %d)",
                     tu_where_buf(), i, fi, st);
}

static void count_done(void *arg, pool_future_t *f)
{
    (void)f;
    tu_latch_add(arg, 1);
}

/* Waits (spinning, bounded) until k items started or f is done. */
static void await_started(crun *r, pool_future_t *f, size_t k)
{
    int64_t deadline = tu_now_ns() + TU_WAIT_NS;

    while (atomic_load(&r->started) < k && !pool_future_done(f) &&
           tu_now_ns() < deadline)
        ;
}

/* ------------------------------------------------------------------------ */
/* Cancel at random moments                                                 */
/* ------------------------------------------------------------------------ */

#define RACE_N 1000

/*
 * Many repetitions of: start a pool_for_async (failures planted in half of
 * them), cancel it at a random moment (at once, after k items started,
 * after progress reached k, or once done), wait, check the contract. A NULL
 * pool's future is done before cancel can run: EBUSY.
 */
static void cancel_at_random_moments_keeps_the_serial_contract(void **state)
{
    static const size_t specs[] = { TU_NULL_POOL, 1, 2, 4 };
    static const size_t chunks[] = { 0, 1, 3 };
    size_t reps = 30 * tu_scale(), p, c, rep;
    tu_rng rng = tu_rng_seed(0xCA9CE1u);
    unsigned outcomes[3] = { 0, 0, 0 }; /* ECANCELED, 0, a failure */
    crun r;

    (void)state;
    crun_init(&r, RACE_N);
    r.spin_ns = 2000;
    for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
        pool_t *pool = tu_pool_open(specs[p]);

        for (c = 0; c < TU_ARRAY_LEN(chunks); c++)
            for (rep = 0; rep < reps; rep++) {
                pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
                unsigned mode = (unsigned)tu_rng_below(&rng, 4);
                size_t k = 1 + tu_rng_below(&rng, RACE_N - 1);
                pool_future_t *f = NULL;
                tu_latch ondone;
                int rc, st;

                memset(r.fails, 0, RACE_N);
                if (rep % 2)
                    r.fails[tu_rng_below(&rng, RACE_N)] = 1;
                r.n = RACE_N;
                tu_where("%s, chunk %zu, rep %zu, mode %u, k %zu, failure at %zu",
                         tu_pool_name(specs[p]), chunks[c], rep, mode, k,
                         lowest_failing(&r));
                tu_latch_init(&ondone);
                crun_reset(&r, RACE_N);
                opts.chunk = chunks[c];
                opts.on_done = count_done;
                opts.on_done_arg = &ondone;
                TU_ASSERT_EQ(pool_for_async(pool, RACE_N, citem, &r, &opts, &f), 0);
                if (mode == 1)
                    await_started(&r, f, k);
                else if (mode == 2)
                    while (pool_future_progress(f, NULL) < k && !pool_future_done(f))
                        ;
                else if (mode == 3)
                    TU_ASSERT_EQ(pool_future_wait(f, TU_WAIT_NS), 0);
                rc = cancel_now(&r, f);
                if (mode == 3 || pool == NULL)
                    TU_ASSERT_EQ(rc, EBUSY);
                TU_ASSERT_EQ(pool_future_wait(f, rep % 3 ? POOL_FOREVER : TU_WAIT_NS), 0);
                verify_cancelled(&r, f, rc, tu_async_workers(pool));
                TU_ASSERT_EQ(tu_latch_wait(&ondone, 1, TU_WAIT_NS), 0);
                st = pool_future_status(f);
                outcomes[st == ECANCELED ? 0 : st == 0 ? 1 : 2]++;
                pool_future_free(f);
                tu_latch_destroy(&ondone);
            }
        pool_destroy(pool);
    }
    crun_free(&r);
    /* The sweep must have exercised the interesting outcome. */
    tu_where("outcomes: %u cancelled, %u ok, %u failed", outcomes[0], outcomes[1],
             outcomes[2]);
    TU_ASSERT_TRUE(outcomes[0] > 0);
    TU_ASSERT_TRUE(outcomes[1] > 0);
}

/*
 * Deterministic: chunks of 10, the first item of every chunk held at a
 * gate, so each async worker holds one chunk at its first item when the
 * cancel comes. Cancel returns 0; released, each running chunk stops before
 * its next item and nothing else starts: the items that ran are exactly the
 * held ones, the status is ECANCELED with failed_index 1 (item 1 never
 * started), and the chunk records say the same. With item 0 failing, the
 * failure (below the cancel) wins instead.
 */
static void running_chunks_stop_before_their_next_item_once_cancelled(void **state)
{
    static const size_t specs[] = { 1, 2, 4 };
    size_t p, v, i;
    crun r;

    (void)state;
    crun_init(&r, 100);
    for (p = 0; p < TU_ARRAY_LEN(specs); p++)
        for (v = 0; v < 3; v++) {
            pool_t *pool = tu_pool_open(specs[p]);
            size_t nw = tu_async_workers(pool), b, e, chunks_read = 0;
            pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
            pool_future_t *f = NULL;
            int status, rc;
            tu_gate gate;

            /* v 0: no failure; 1: item 0 fails; 2: the last held item fails
             * (above item 1, which the cancel kept from starting: ECANCELED
             * still wins, unless that item is item 0). */
            tu_where("%s, variant %zu", tu_pool_name(specs[p]), v);
            tu_gate_init(&gate);
            memset(r.fails, 0, 100);
            if (v == 1)
                r.fails[0] = 1;
            if (v == 2)
                r.fails[10 * (nw - 1)] = 1;
            crun_reset(&r, 100);
            r.gate = &gate;
            r.gate_every = 10;
            opts.chunk = 10;
            opts.flags = POOL_ASYNC_CHUNKS;
            TU_ASSERT_EQ(pool_for_async(pool, 100, citem, &r, &opts, &f), 0);
            TU_ASSERT_EQ(tu_gate_await(&gate, nw), 0);
            rc = cancel_now(&r, f);
            TU_ASSERT_EQ(rc, 0);
            /* Held items are still running: not done. */
            TU_ASSERT_EQ(pool_future_done(f), 0);
            tu_sleep_ns(TU_MS(2));
            tu_gate_open(&gate);
            TU_ASSERT_EQ(pool_future_wait(f, POOL_FOREVER), 0);
            verify_cancelled(&r, f, rc, 0);
            for (i = 0; i < 100; i++)
                TU_ASSERT_EQ(tu_count(r.count, i), i % 10 == 0 && i / 10 < nw);
            if (r.fails[0]) { /* v 1, or v 2 with one worker */
                TU_ASSERT_EQ(pool_future_status(f), fail_status(0));
                TU_ASSERT_EQ(pool_future_failed_index(f), 0);
            } else {
                TU_ASSERT_EQ(pool_future_status(f), ECANCELED);
                TU_ASSERT_EQ(pool_future_failed_index(f), 1);
            }
            /* One record per held item: [10k, 10k+1) with 0, or the
             * failing one as [10k, 10k) with its status. */
            while ((rc = pool_future_next(f, 0, &b, &e, &status)) == 0) {
                chunks_read++;
                TU_ASSERT_TRUE(b % 10 == 0 && b / 10 < nw);
                if (r.fails[b]) {
                    TU_ASSERT_EQ(e, b);
                    TU_ASSERT_EQ(status, fail_status(b));
                } else {
                    TU_ASSERT_EQ(e, b + 1);
                    TU_ASSERT_EQ(status, 0);
                }
            }
            TU_ASSERT_EQ(rc, ENOENT);
            TU_ASSERT_EQ(chunks_read, nw);
            TU_ASSERT_EQ(tu_gate_timeouts(&gate), 0);
            pool_future_free(f);
            pool_destroy(pool);
            r.gate = NULL;
            r.gate_every = 0;
            tu_gate_destroy(&gate);
        }
    crun_free(&r);
}

/* ------------------------------------------------------------------------ */
/* Cancel from one thread while another waits                               */
/* ------------------------------------------------------------------------ */

typedef struct waiter {
    pool_future_t *f;
    int64_t timeout_ns;
    int rc;
    int done_after; /* pool_future_done once the wait returned */
} waiter;

static void *waiter_main(void *arg)
{
    waiter *w = arg;

    w->rc = pool_future_wait(w->f, w->timeout_ns);
    w->done_after = pool_future_done(w->f);
    return NULL;
}

typedef struct canceller {
    crun *r;
    pool_future_t *f;
    size_t after; /* cancel once this many items started */
    int rc;
} canceller;

static void *canceller_main(void *arg)
{
    canceller *c = arg;

    await_started(c->r, c->f, c->after);
    c->rc = cancel_now(c->r, c->f);
    return NULL;
}

#define THIRD_N 2000

/* A third thread waits (forever, helping, or with a timeout) while another
 * cancels: the wait returns 0 once the future is done, and the contract
 * holds. */
static void cancel_from_another_thread_while_a_third_waits(void **state)
{
    static const size_t specs[] = { 1, 2, 4 };
    size_t reps = 8 * tu_scale(), p, rep;
    tu_rng rng = tu_rng_seed(0x7417D);
    crun r;

    (void)state;
    crun_init(&r, THIRD_N);
    r.spin_ns = 2000;
    for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
        pool_t *pool = tu_pool_open(specs[p]);

        for (rep = 0; rep < reps; rep++) {
            pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
            pthread_t wt, ct;
            waiter w;
            canceller c;

            memset(r.fails, 0, THIRD_N);
            if (rep % 3 == 2)
                r.fails[tu_rng_below(&rng, THIRD_N)] = 1;
            crun_reset(&r, THIRD_N);
            opts.chunk = rep % 2 ? 1 : 0;
            TU_ASSERT_EQ(pool_for_async(pool, THIRD_N, citem, &r, &opts, &w.f), 0);
            w.timeout_ns = rep % 2 ? POOL_FOREVER : TU_WAIT_NS;
            w.rc = -1;
            w.done_after = 0;
            c.r = &r;
            c.f = w.f;
            c.after = tu_rng_below(&rng, THIRD_N / 2);
            c.rc = -1;
            tu_where("%s, rep %zu, chunk %zu, cancel after %zu started, %s",
                     tu_pool_name(specs[p]), rep, opts.chunk, c.after,
                     rep % 2 ? "waiting forever" : "timed wait");
            assert_int_equal(pthread_create(&wt, NULL, waiter_main, &w), 0);
            assert_int_equal(pthread_create(&ct, NULL, canceller_main, &c), 0);
            pthread_join(ct, NULL);
            pthread_join(wt, NULL);
            TU_ASSERT_EQ(w.rc, 0);
            TU_ASSERT_EQ(w.done_after, 1);
            verify_cancelled(&r, w.f, c.rc, tu_async_workers(pool) + 1);
            pool_future_free(w.f);
        }
        pool_destroy(pool);
    }
    crun_free(&r);
}

/* ------------------------------------------------------------------------ */
/* pool_cancel_pending and pool_destroy                                     */
/* ------------------------------------------------------------------------ */

#define PENDING_TASKS 50
#define HELD_FROM 5

static int pending_task(void *ctx)
{
    tu_bump(ctx);
    return 0;
}

/*
 * Every async worker is held inside one loop M (chunk 1, items from
 * HELD_FROM on wait at a gate); behind it wait tasks and a second loop.
 * pool_cancel_pending: the queued futures are done at once with ECANCELED
 * (failed_index 0) and never run; M finishes its running items only:
 * ECANCELED at HELD_FROM + workers. pool_destroy then returns, and on_done
 * has fired once for every future. A task submitted after the cancel runs.
 */
static void cancel_pending_then_destroy_ends_queued_futures_and_fires_on_done(void **state)
{
    static const size_t specs[] = { 1, 2, 4 };
    size_t p, i;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
        pool_t *pool = tu_pool_open(specs[p]);
        size_t nw = tu_async_workers(pool);
        pool_future_t *tf[PENDING_TASKS], *m = NULL, *m2 = NULL, *later = NULL;
        pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
        atomic_uint truns[PENDING_TASKS], later_runs;
        tu_latch ondone;
        tu_gate gate;
        crun r, r2;

        tu_where("%s", tu_pool_name(specs[p]));
        tu_gate_init(&gate);
        tu_latch_init(&ondone);
        crun_init(&r, 100);
        crun_init(&r2, 100);
        crun_reset(&r, 100);
        crun_reset(&r2, 100);
        r.gate = &gate;
        r.gate_from = HELD_FROM;
        opts.on_done = count_done;
        opts.on_done_arg = &ondone;
        opts.chunk = 1;
        TU_ASSERT_EQ(pool_for_async(pool, 100, citem, &r, &opts, &m), 0);
        TU_ASSERT_EQ(tu_gate_await(&gate, nw), 0);
        for (i = 0; i < PENDING_TASKS; i++) {
            atomic_init(&truns[i], 0);
            TU_ASSERT_EQ(pool_submit(pool, pending_task, &truns[i], &opts, &tf[i]), 0);
        }
        TU_ASSERT_EQ(pool_for_async(pool, 100, citem, &r2, &opts, &m2), 0);

        pool_cancel_pending(pool);
        atomic_store(&r.cancel_returned, 1);
        atomic_store(&r2.cancel_returned, 1);
        for (i = 0; i < PENDING_TASKS; i++) {
            tu_where("%s, queued task %zu", tu_pool_name(specs[p]), i);
            TU_ASSERT_EQ(pool_future_done(tf[i]), 1);
            TU_ASSERT_EQ(pool_future_status(tf[i]), ECANCELED);
            TU_ASSERT_EQ(pool_future_failed_index(tf[i]), 0);
        }
        tu_where("%s, queued loop", tu_pool_name(specs[p]));
        TU_ASSERT_EQ(pool_future_done(m2), 1);
        TU_ASSERT_EQ(pool_future_status(m2), ECANCELED);
        TU_ASSERT_EQ(pool_future_failed_index(m2), 0);
        TU_ASSERT_EQ(pool_future_done(m), 0);
        /* A future submitted after it is not cancelled: it runs. */
        atomic_init(&later_runs, 0);
        TU_ASSERT_EQ(pool_submit(pool, pending_task, &later_runs, NULL, &later), 0);

        tu_gate_open(&gate);
        pool_destroy(pool);
        tu_where("%s, task submitted after pool_cancel_pending", tu_pool_name(specs[p]));
        TU_ASSERT_EQ(pool_future_wait(later, 0), 0);
        TU_ASSERT_EQ(pool_future_status(later), 0);
        TU_ASSERT_EQ(atomic_load(&later_runs), 1);
        pool_future_free(later);
        TU_ASSERT_EQ(tu_latch_get(&ondone), PENDING_TASKS + 2);
        tu_where("%s, held loop", tu_pool_name(specs[p]));
        TU_ASSERT_EQ(pool_future_wait(m, 0), 0);
        TU_ASSERT_EQ(pool_future_status(m), ECANCELED);
        TU_ASSERT_EQ(pool_future_failed_index(m), HELD_FROM + nw);
        TU_ASSERT_EQ(pool_future_progress(m, NULL), HELD_FROM + nw);
        verify_cancelled(&r, m, 0, 0);
        tu_assert_counts(r.count, HELD_FROM + nw, 100, 0, "item past the held ones");
        verify_cancelled(&r2, m2, 0, 0);
        tu_assert_counts(r2.count, 0, 100, 0, "item of the queued loop");
        for (i = 0; i < PENDING_TASKS; i++) {
            TU_ASSERT_EQ(atomic_load(&truns[i]), 0);
            pool_future_free(tf[i]);
        }
        pool_future_free(m);
        pool_future_free(m2);
        TU_ASSERT_EQ(tu_gate_timeouts(&gate), 0);
        crun_free(&r);
        crun_free(&r2);
        tu_latch_destroy(&ondone);
        tu_gate_destroy(&gate);
    }
}

/*
 * A loop whose items one chunk holds (chunk = n) is off the queue as soon
 * as a worker claims that chunk, while its items still run: the running
 * chunk must stop before its next item all the same. The worker is held in
 * item HELD_FROM at pool_cancel_pending: ECANCELED at HELD_FROM + 1, and
 * pool_destroy returns once that item is done, not after the other items.
 */
static void cancel_pending_stops_a_loop_whose_items_are_all_claimed(void **state)
{
    static const size_t specs[] = { 1, 2, 4 };
    size_t p;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
        pool_t *pool = tu_pool_open(specs[p]);
        pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
        pool_future_t *m = NULL;
        tu_latch ondone;
        tu_gate gate;
        crun r;

        tu_where("%s, one chunk of 100 items", tu_pool_name(specs[p]));
        tu_gate_init(&gate);
        tu_latch_init(&ondone);
        crun_init(&r, 100);
        crun_reset(&r, 100);
        r.gate = &gate;
        r.gate_from = HELD_FROM;
        opts.on_done = count_done;
        opts.on_done_arg = &ondone;
        opts.chunk = 100;
        TU_ASSERT_EQ(pool_for_async(pool, 100, citem, &r, &opts, &m), 0);
        TU_ASSERT_EQ(tu_gate_await(&gate, 1), 0);

        pool_cancel_pending(pool);
        atomic_store(&r.cancel_returned, 1);
        TU_ASSERT_EQ(pool_future_done(m), 0);
        tu_gate_open(&gate);
        pool_destroy(pool);

        TU_ASSERT_EQ(tu_latch_get(&ondone), 1);
        TU_ASSERT_EQ(pool_future_status(m), ECANCELED);
        TU_ASSERT_EQ(pool_future_failed_index(m), HELD_FROM + 1);
        TU_ASSERT_EQ(pool_future_progress(m, NULL), HELD_FROM + 1);
        verify_cancelled(&r, m, 0, 0);
        tu_assert_counts(r.count, HELD_FROM + 1, 100, 0, "item past the held one");
        pool_future_free(m);
        TU_ASSERT_EQ(tu_gate_timeouts(&gate), 0);
        crun_free(&r);
        tu_latch_destroy(&ondone);
        tu_gate_destroy(&gate);
    }
}

/* Two queued futures whose on_done each waits for the other. */
typedef struct pair_wait {
    pool_future_t *other; /* set before the cancel */
    int rc;               /* the wait's */
    int how;              /* 0: pool_future_wait, 1: pool_wait_all, 2: pool_wait_any */
} pair_wait;

static void wait_for_other(void *arg, pool_future_t *f)
{
    pair_wait *w = arg;
    size_t index = SIZE_MAX;

    (void)f;
    w->rc = w->how == 0   ? pool_future_wait(w->other, POOL_FOREVER)
            : w->how == 1 ? pool_wait_all(&w->other, 1, POOL_FOREVER)
                          : pool_wait_any(&w->other, 1, POOL_FOREVER, &index);
}

typedef struct pending_canceller {
    pool_t *pool;
    tu_latch returned;
} pending_canceller;

static void *pending_canceller_main(void *arg)
{
    pending_canceller *c = arg;

    pool_cancel_pending(c->pool);
    tu_latch_add(&c->returned, 1);
    return NULL;
}

/*
 * pool_cancel_pending completes the queued futures as one batch; an
 * on_done may wait for another future of it (forever, with each of the
 * three waits): every future of the batch is done before any on_done runs.
 * Both on_done wait for the other, so whichever runs first would wait for
 * one that only this same thread could complete. The cancel runs on a
 * second thread; 10 s without its return fails the test (a hang).
 */
static void cancel_pending_on_done_may_wait_for_another_cancelled_future(void **state)
{
    static const size_t specs[] = { 1, 2, 4 };
    size_t p;
    int how;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
        for (how = 0; how < 3; how++) {
            pool_t *pool = tu_pool_open(specs[p]);
            size_t nw = tu_async_workers(pool);
            pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
            pool_future_t *m = NULL, *a = NULL, *b = NULL;
            pair_wait wa = { NULL, -1, how }, wb = { NULL, -1, how };
            atomic_uint runs;
            pending_canceller c;
            pthread_t t;
            tu_gate gate;
            crun r;

            tu_where("%s, on_done waiting with wait #%d", tu_pool_name(specs[p]), how);
            tu_gate_init(&gate);
            tu_latch_init(&c.returned);
            atomic_init(&runs, 0);
            crun_init(&r, 100);
            crun_reset(&r, 100);
            r.gate = &gate;
            r.gate_from = 0;
            opts.chunk = 1;
            /* Every worker held in an item of m: a and b stay queued. */
            TU_ASSERT_EQ(pool_for_async(pool, 100, citem, &r, &opts, &m), 0);
            TU_ASSERT_EQ(tu_gate_await(&gate, nw), 0);
            opts.on_done = wait_for_other;
            opts.on_done_arg = &wa;
            TU_ASSERT_EQ(pool_submit(pool, pending_task, &runs, &opts, &a), 0);
            opts.on_done_arg = &wb;
            TU_ASSERT_EQ(pool_submit(pool, pending_task, &runs, &opts, &b), 0);
            wa.other = b;
            wb.other = a;

            c.pool = pool;
            TU_ASSERT_EQ(pthread_create(&t, NULL, pending_canceller_main, &c), 0);
            if (tu_latch_wait(&c.returned, 1, TU_MS(10000)) != 0)
                fail_msg("%s: pool_cancel_pending has not returned after 10 s: an "
                         "on_done waits for a future of its own batch",
                         tu_where_buf());
            pthread_join(t, NULL);
            TU_ASSERT_EQ(wa.rc, 0);
            TU_ASSERT_EQ(wb.rc, 0);
            TU_ASSERT_EQ(pool_future_status(a), ECANCELED);
            TU_ASSERT_EQ(pool_future_status(b), ECANCELED);
            TU_ASSERT_EQ(atomic_load(&runs), 0);

            atomic_store(&r.cancel_returned, 1);
            tu_gate_open(&gate);
            pool_destroy(pool);
            TU_ASSERT_EQ(pool_future_status(m), ECANCELED);
            verify_cancelled(&r, m, 0, 0);
            pool_future_free(m);
            pool_future_free(a);
            pool_future_free(b);
            TU_ASSERT_EQ(tu_gate_timeouts(&gate), 0);
            crun_free(&r);
            tu_latch_destroy(&c.returned);
            tu_gate_destroy(&gate);
        }
    }
}

/* pool_cancel_pending does not touch a blocking call running meanwhile. */
typedef struct blocking_call {
    pool_t *pool;
    crun *r;
    int rc;
} blocking_call;

static void *blocking_main(void *arg)
{
    blocking_call *b = arg;

    b->rc = pool_for(b->pool, b->r->n, citem, b->r);
    return NULL;
}

static void cancel_pending_leaves_blocking_calls_alone(void **state)
{
    static const size_t specs[] = { 1, 2, 4 };
    size_t p;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
        pool_t *pool = tu_pool_open(specs[p]);
        blocking_call b;
        pthread_t t;
        tu_gate gate;
        crun r;

        tu_where("%s", tu_pool_name(specs[p]));
        tu_gate_init(&gate);
        crun_init(&r, 300);
        crun_reset(&r, 300);
        r.gate = &gate;
        r.gate_every = 300; /* item 0 only */
        b.pool = pool;
        b.r = &r;
        b.rc = -1;
        assert_int_equal(pthread_create(&t, NULL, blocking_main, &b), 0);
        TU_ASSERT_EQ(tu_gate_await(&gate, 1), 0);
        pool_cancel_pending(pool);
        tu_gate_open(&gate);
        pthread_join(t, NULL);
        TU_ASSERT_EQ(b.rc, 0);
        tu_assert_counts(r.count, 0, 300, 1, "item of the blocking call");
        pool_destroy(pool);
        TU_ASSERT_EQ(tu_gate_timeouts(&gate), 0);
        crun_free(&r);
        tu_gate_destroy(&gate);
    }
}

#define DRAIN_TASKS 300
#define DRAIN_LOOPS 3
#define DRAIN_N 500

typedef struct opener {
    tu_gate *gate;
} opener;

static void *opener_main(void *arg)
{
    opener *o = arg;

    tu_sleep_ns(TU_MS(20)); /* let pool_destroy start with work queued */
    tu_gate_open(o->gate);
    return NULL;
}

/*
 * Without a cancel, pool_destroy finishes every queued async call first
 * (the workers are held until pool_destroy has begun): every task and every
 * loop item ran once, every future is done with status 0, every on_done ran.
 */
static void destroy_without_cancel_finishes_all_pending_async_work(void **state)
{
    static const size_t specs[] = { 1, 2, 4 };
    size_t p, i, k;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
        pool_t *pool = tu_pool_open(specs[p]);
        size_t nw = tu_async_workers(pool);
        pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
        pool_future_t **tf = tu_calloc(DRAIN_TASKS, sizeof *tf);
        atomic_uint *truns = tu_counts_new(DRAIN_TASKS);
        pool_future_t *lf[DRAIN_LOOPS], *held[8];
        crun loops[DRAIN_LOOPS], hold;
        tu_latch ondone;
        tu_gate gate;
        opener o;
        pthread_t t;

        tu_where("%s", tu_pool_name(specs[p]));
        tu_gate_init(&gate);
        tu_latch_init(&ondone);
        opts.on_done = count_done;
        opts.on_done_arg = &ondone;
        crun_init(&hold, 8);
        crun_reset(&hold, 1);
        hold.gate = &gate;
        hold.gate_every = 1;
        for (i = 0; i < nw; i++)
            TU_ASSERT_EQ(pool_for_async(pool, 1, citem, &hold, &opts, &held[i]), 0);
        TU_ASSERT_EQ(tu_gate_await(&gate, nw), 0);
        for (i = 0; i < DRAIN_TASKS; i++) {
            TU_ASSERT_EQ(pool_submit(pool, pending_task, &truns[i], &opts, &tf[i]), 0);
            if (i % 2) { /* half of them detached */
                pool_future_free(tf[i]);
                tf[i] = NULL;
            }
        }
        for (k = 0; k < DRAIN_LOOPS; k++) {
            crun_init(&loops[k], DRAIN_N);
            crun_reset(&loops[k], DRAIN_N);
            opts.chunk = k;
            TU_ASSERT_EQ(pool_for_async(pool, DRAIN_N, citem, &loops[k], &opts, &lf[k]), 0);
        }
        o.gate = &gate;
        assert_int_equal(pthread_create(&t, NULL, opener_main, &o), 0);
        pool_destroy(pool);
        pthread_join(t, NULL);

        TU_ASSERT_EQ(tu_latch_get(&ondone), nw + DRAIN_TASKS + DRAIN_LOOPS);
        tu_assert_counts(truns, 0, DRAIN_TASKS, 1, "task");
        for (i = 0; i < DRAIN_TASKS; i++)
            if (tf[i]) {
                TU_ASSERT_EQ(pool_future_done(tf[i]), 1);
                TU_ASSERT_EQ(pool_future_status(tf[i]), 0);
                pool_future_free(tf[i]);
            }
        for (k = 0; k < DRAIN_LOOPS; k++) {
            tu_where("%s, loop %zu", tu_pool_name(specs[p]), k);
            TU_ASSERT_EQ(pool_future_done(lf[k]), 1);
            TU_ASSERT_EQ(pool_future_status(lf[k]), 0);
            TU_ASSERT_EQ(pool_future_progress(lf[k], NULL), DRAIN_N);
            tu_assert_counts(loops[k].count, 0, DRAIN_N, 1, "loop item");
            pool_future_free(lf[k]);
            crun_free(&loops[k]);
        }
        for (i = 0; i < nw; i++) {
            TU_ASSERT_EQ(pool_future_status(held[i]), 0);
            pool_future_free(held[i]);
        }
        TU_ASSERT_EQ(tu_gate_timeouts(&gate), 0);
        crun_free(&hold);
        tu_free(tf);
        tu_free(truns);
        tu_latch_destroy(&ondone);
        tu_gate_destroy(&gate);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(cancel_at_random_moments_keeps_the_serial_contract),
        TU_TEST(running_chunks_stop_before_their_next_item_once_cancelled),
        TU_TEST(cancel_from_another_thread_while_a_third_waits),
        TU_TEST(cancel_pending_then_destroy_ends_queued_futures_and_fires_on_done),
        TU_TEST(cancel_pending_stops_a_loop_whose_items_are_all_claimed),
        TU_TEST(cancel_pending_on_done_may_wait_for_another_cancelled_future),
        TU_TEST(cancel_pending_leaves_blocking_calls_alone),
        TU_TEST(destroy_without_cancel_finishes_all_pending_async_work),
    };

    return TU_RUN(tests, argc, argv);
}
