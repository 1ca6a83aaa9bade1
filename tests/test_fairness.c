/*
 * test_fairness.c - async work and blocking calls share the workers: a long
 * queue of tasks does not starve a blocking pool_map, and blocking calls
 * running back to back do not starve submitted tasks.
 *
 * No assertion is on a duration. Each test is built so that it can only
 * finish early through the property it checks: a blocking map whose items
 * wait until a worker has joined it, a blocking call that ends only once
 * enough tasks have completed. Without the property the test still ends,
 * after the queue drains or at a deadline of several seconds, and the
 * counts seen at that moment fail it.
 */
#include <limits.h>

#include "test_util.h"

static const size_t specs[] = { 2, 4 };

/* ------------------------------------------------------------------------ */
/* A long task queue and a blocking map                                     */
/* ------------------------------------------------------------------------ */

#define QUEUE_TASKS 2000
#define TASK_NS 50000 /* 50 us: the queue takes QUEUE_TASKS * 50 us / workers */
#define MAP_N 64

typedef struct starve {
    pool_t *pool;
    atomic_uint tasks_started;
    atomic_uint *task_runs;
    pthread_t caller;     /* the thread that calls pool_map */
    tu_latch map_started; /* the caller runs the map's items: it is queued */
    tu_latch joined;      /* map items run by another thread than the caller */
    /* tasks_started when a worker first ran a map item, or UINT_MAX */
    atomic_uint started_at_join;
    atomic_uint wait_timeouts;
    atomic_uint *item_runs;
    uint32_t in[MAP_N];
    uint64_t out[MAP_N];
    int map_rc;
} starve;

typedef struct qtask {
    starve *s;
    size_t i;
} qtask;

/* A task holds its worker until the map is queued (its caller runs its
 * items), so the queue is still long when the map comes, however late the
 * test thread gets to it. */
static int queue_task(void *ctx)
{
    qtask *t = ctx;

    atomic_fetch_add(&t->s->tasks_started, 1);
    if (tu_latch_wait(&t->s->map_started, 1, TU_WAIT_NS) != 0)
        tu_bump(&t->s->wait_timeouts);
    tu_spin_ns(TASK_NS);
    tu_bump(&t->s->task_runs[t->i]);
    return 0;
}

/*
 * A map item: the caller works on its own call anyway; items wait (up to
 * TU_WAIT_NS) until some item has run on a pool worker, so the map cannot
 * complete before a worker has left the task queue for it. The first item
 * a worker runs notes how many tasks had started by then.
 */
static int map_item(void *ctx, const void *in, void *out)
{
    starve *s = ctx;
    size_t i = tu_index_of(s->in, sizeof *s->in, MAP_N, in);

    if (i == SIZE_MAX)
        return 1;
    tu_bump(&s->item_runs[i]);
    if (!pthread_equal(pthread_self(), s->caller)) {
        unsigned none = UINT_MAX;
        atomic_compare_exchange_strong(&s->started_at_join, &none,
                                       atomic_load(&s->tasks_started));
        tu_latch_add(&s->joined, 1);
    } else {
        tu_latch_add(&s->map_started, 1);
        if (tu_latch_wait(&s->joined, 1, TU_WAIT_NS) != 0)
            tu_bump(&s->wait_timeouts);
    }
    *(uint64_t *)out = *(const uint32_t *)in * 3u;
    return 0;
}

static void *mapper_main(void *arg)
{
    starve *s = arg;
    pool_opts o = { 1, POOL_NO_INDEX };

    s->caller = pthread_self();
    s->map_rc = pool_map_ex(s->pool, map_item, s, s->in, sizeof *s->in, s->out,
                            sizeof *s->out, MAP_N, &o);
    return NULL;
}

static void long_task_queue_does_not_starve_a_blocking_map(void **state)
{
    size_t p, i;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
        starve *s = tu_malloc(sizeof *s);
        qtask *tasks = tu_malloc(QUEUE_TASKS * sizeof *tasks);

        tu_where("%s", tu_pool_name(specs[p]));
        s->pool = tu_pool_open(specs[p]);
        atomic_init(&s->tasks_started, 0);
        atomic_init(&s->started_at_join, UINT_MAX);
        atomic_init(&s->wait_timeouts, 0);
        tu_latch_init(&s->map_started);
        s->task_runs = tu_counts_new(QUEUE_TASKS);
        s->item_runs = tu_counts_new(MAP_N);
        tu_latch_init(&s->joined);
        for (i = 0; i < MAP_N; i++) {
            s->in[i] = (uint32_t)i + 1;
            s->out[i] = 0;
        }
        for (i = 0; i < QUEUE_TASKS; i++) {
            pool_future_t *f = NULL;

            tasks[i].s = s;
            tasks[i].i = i;
            TU_ASSERT_EQ(pool_submit(s->pool, queue_task, &tasks[i], NULL, &f), 0);
            pool_future_free(f);
        }
        (void)mapper_main(s);
        /* The queue still drains completely (and nothing runs while the
         * assertions below may fail). */
        pool_destroy(s->pool);

        TU_ASSERT_EQ(s->map_rc, 0);
        TU_ASSERT_EQ(atomic_load(&s->wait_timeouts), 0);
        TU_ASSERT_TRUE(tu_latch_get(&s->joined) > 0);
        /* The map was served as soon as the workers' tasks at the gate
         * ended: each worker started one task there, and one more at most
         * if it raced the map's queueing (FIFO across lanes would start
         * every task first). */
        tu_where("%s, %u of %u tasks started when a worker joined the map",
                 tu_pool_name(specs[p]), atomic_load(&s->started_at_join), QUEUE_TASKS);
        TU_ASSERT_TRUE(atomic_load(&s->started_at_join) <= 2 * (specs[p] - 1));
        tu_assert_counts(s->item_runs, 0, MAP_N, 1, "map item");
        for (i = 0; i < MAP_N; i++)
            TU_ASSERT_EQ(s->out[i], s->in[i] * 3u);
        tu_assert_counts(s->task_runs, 0, QUEUE_TASKS, 1, "queued task");
        tu_latch_destroy(&s->joined);
        tu_latch_destroy(&s->map_started);
        tu_free(s->task_runs);
        tu_free(s->item_runs);
        tu_free(tasks);
        tu_free(s);
    }
}

/* ------------------------------------------------------------------------ */
/* Blocking calls and submitted tasks                                       */
/* ------------------------------------------------------------------------ */

#define SUBMITTED 200
#define NEEDED 20           /* tasks that must complete during the calls */
#define DEADLINE TU_MS(10000)
#define FOR_N 300

typedef struct busy {
    pool_t *pool;
    tu_latch tasks_done;
    atomic_uint *task_runs;
    atomic_int stop;        /* set by the test once NEEDED tasks are done */
    int64_t deadline;
    atomic_size_t calls;    /* blocking calls completed */
    unsigned call_errors;
    int hit_deadline;
    tu_latch first_call;    /* one blocking call has completed */
    atomic_uint *item_runs; /* per item of the current call */
} busy;

typedef struct btask {
    busy *b;
    size_t i;
} btask;

static int busy_task(void *ctx)
{
    btask *t = ctx;

    tu_spin_ns(20000);
    tu_bump(&t->b->task_runs[t->i]);
    tu_latch_add(&t->b->tasks_done, 1);
    return 0;
}

static int busy_item(void *ctx, size_t i)
{
    busy *b = ctx;

    tu_bump(&b->item_runs[i]);
    tu_spin_ns(5000);
    return 0;
}

/* Back-to-back blocking pool_for calls until told to stop (or until the
 * deadline: then the tasks were starved). */
static void *looper_main(void *arg)
{
    busy *b = arg;
    pool_opts o = { 1, POOL_NO_INDEX };
    size_t i;

    while (!atomic_load(&b->stop)) {
        if (tu_now_ns() > b->deadline) {
            b->hit_deadline = 1;
            break;
        }
        tu_counts_reset(b->item_runs, FOR_N);
        if (pool_for_ex(b->pool, FOR_N, busy_item, b, &o) != 0)
            b->call_errors++;
        for (i = 0; i < FOR_N; i++)
            b->call_errors += tu_count(b->item_runs, i) != 1;
        if (atomic_fetch_add(&b->calls, 1) == 0)
            tu_latch_add(&b->first_call, 1);
    }
    return NULL;
}

/*
 * While a thread runs blocking pool_for calls back to back (claims of one
 * item, so the call always has unclaimed items for a worker to take),
 * tasks submitted meanwhile complete: NEEDED of them before the loop is
 * told to stop, long before its deadline.
 */
static void back_to_back_blocking_calls_do_not_starve_submitted_tasks(void **state)
{
    size_t p, i;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
        busy *b = tu_malloc(sizeof *b);
        btask *tasks = tu_malloc(SUBMITTED * sizeof *tasks);
        pthread_t looper;
        int rc;

        tu_where("%s", tu_pool_name(specs[p]));
        b->pool = tu_pool_open(specs[p]);
        tu_latch_init(&b->tasks_done);
        tu_latch_init(&b->first_call);
        b->task_runs = tu_counts_new(SUBMITTED);
        b->item_runs = tu_counts_new(FOR_N);
        atomic_init(&b->stop, 0);
        b->deadline = tu_now_ns() + DEADLINE;
        atomic_init(&b->calls, 0);
        b->call_errors = 0;
        b->hit_deadline = 0;
        assert_int_equal(pthread_create(&looper, NULL, looper_main, b), 0);
        TU_ASSERT_EQ(tu_latch_wait(&b->first_call, 1, TU_WAIT_NS), 0);

        for (i = 0; i < SUBMITTED; i++) {
            pool_future_t *f = NULL;

            tasks[i].b = b;
            tasks[i].i = i;
            TU_ASSERT_EQ(pool_submit(b->pool, busy_task, &tasks[i], NULL, &f), 0);
            pool_future_free(f);
        }
        rc = tu_latch_wait(&b->tasks_done, NEEDED, DEADLINE);
        atomic_store(&b->stop, 1);
        pthread_join(looper, NULL);
        pool_destroy(b->pool);

        TU_ASSERT_EQ(rc, 0);
        TU_ASSERT_EQ(b->hit_deadline, 0);
        TU_ASSERT_EQ(b->call_errors, 0);
        TU_ASSERT_TRUE(atomic_load(&b->calls) >= 1);
        tu_assert_counts(b->task_runs, 0, SUBMITTED, 1, "submitted task");
        tu_latch_destroy(&b->tasks_done);
        tu_latch_destroy(&b->first_call);
        tu_free(b->task_runs);
        tu_free(b->item_runs);
        tu_free(tasks);
        tu_free(b);
    }
}

/*
 * One long blocking pool_for (claims of one item) that can only end once
 * NEEDED submitted tasks have completed: its items keep the blocking lane
 * full the whole time, so it ends early only if the workers keep taking
 * tasks between its items. Its last resort is a 5 s deadline, counted.
 */
/* Ample for NEEDED tasks of 20 us under TSan; a starved run ends here. */
#define LONG_CALL_DEADLINE TU_MS(5000)

typedef struct long_call {
    tu_latch *tasks_done;
    int64_t deadline;
    atomic_uint hit_deadline;
    atomic_uint items;
} long_call;

static int long_item(void *ctx, size_t i)
{
    long_call *c = ctx;

    (void)i;
    tu_bump(&c->items);
    if (tu_latch_get(c->tasks_done) >= NEEDED)
        return ECANCELED; /* ends the call: no item above starts */
    if (tu_now_ns() > c->deadline) {
        tu_bump(&c->hit_deadline);
        return ETIMEDOUT;
    }
    tu_spin_ns(5000);
    return 0;
}

typedef struct long_runner {
    pool_t *pool;
    long_call *c;
    int rc;
} long_runner;

static void *long_runner_main(void *arg)
{
    long_runner *r = arg;
    pool_opts o = { 1, POOL_NO_INDEX };

    r->rc = pool_for_ex(r->pool, (size_t)1 << 30, long_item, r->c, &o);
    return NULL;
}

static void one_long_blocking_call_does_not_starve_submitted_tasks(void **state)
{
    size_t p, i;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
        busy *b = tu_malloc(sizeof *b);
        btask *tasks = tu_malloc(SUBMITTED * sizeof *tasks);
        long_call c;
        long_runner r;
        pthread_t t;
        size_t done_at_end;

        tu_where("%s", tu_pool_name(specs[p]));
        b->pool = tu_pool_open(specs[p]);
        tu_latch_init(&b->tasks_done);
        b->task_runs = tu_counts_new(SUBMITTED);
        c.tasks_done = &b->tasks_done;
        c.deadline = tu_now_ns() + LONG_CALL_DEADLINE;
        atomic_init(&c.hit_deadline, 0);
        atomic_init(&c.items, 0);
        r.pool = b->pool;
        r.c = &c;
        r.rc = -1;
        assert_int_equal(pthread_create(&t, NULL, long_runner_main, &r), 0);
        /* Let the call be under way before the tasks come. */
        while (atomic_load(&c.items) < 10)
            tu_sleep_ns(100000);
        for (i = 0; i < SUBMITTED; i++) {
            pool_future_t *f = NULL;

            tasks[i].b = b;
            tasks[i].i = i;
            TU_ASSERT_EQ(pool_submit(b->pool, busy_task, &tasks[i], NULL, &f), 0);
            pool_future_free(f);
        }
        pthread_join(t, NULL);
        done_at_end = tu_latch_get(&b->tasks_done);
        pool_destroy(b->pool);
        tu_where("%s, %u items run, %zu tasks done when the call returned",
                 tu_pool_name(specs[p]), atomic_load(&c.items), done_at_end);
        TU_ASSERT_EQ(atomic_load(&c.hit_deadline), 0);
        TU_ASSERT_EQ(r.rc, ECANCELED);
        TU_ASSERT_TRUE(done_at_end >= NEEDED);
        tu_assert_counts(b->task_runs, 0, SUBMITTED, 1, "submitted task");
        tu_latch_destroy(&b->tasks_done);
        tu_free(b->task_runs);
        tu_free(tasks);
        tu_free(b);
    }
}

/* ------------------------------------------------------------------------ */
/* A long async loop and a blocking call on the offer                      */
/* ------------------------------------------------------------------------ */

typedef struct offered {
    pthread_t caller;
    tu_latch async_started; /* items of the async loop that began */
    tu_latch helped;        /* items of the blocking call run off its caller */
    atomic_uint waits_timed_out;
    atomic_uint *item_runs;
} offered;

static int long_async_item(void *ctx, size_t i)
{
    offered *o = ctx;

    (void)i;
    tu_latch_add(&o->async_started, 1);
    tu_sleep_ns(TU_MS(2));
    return 0;
}

/* The caller's first item waits for a worker to run one of the call's. */
static int offered_item(void *ctx, size_t i)
{
    offered *o = ctx;

    tu_bump(&o->item_runs[i]);
    if (!pthread_equal(pthread_self(), o->caller))
        tu_latch_add(&o->helped, 1);
    else if (i == 0 && tu_latch_wait(&o->helped, 1, TU_WAIT_NS) != 0)
        tu_bump(&o->waits_timed_out);
    return 0;
}

/*
 * Both workers of a pool of 3 run one async loop of 2 ms items (chunk 1)
 * when a blocking call comes; it goes on the offer, which no lane counts.
 * A worker leaves the async loop between its chunks for it all the same:
 * the caller's first item waits for a worker to run one of the call's
 * items (without the leave, none ever came: the call ran on its caller
 * alone while the async loop lasted). The async loop is then cancelled.
 */
static void a_long_async_loop_does_not_keep_workers_from_an_offered_call(void **state)
{
    offered o;
    pool_async_opts ao = POOL_ASYNC_OPTS_INIT;
    pool_future_t *f = NULL;
    pool_t *pool = tu_pool_open(3);

    (void)state;
    tu_where("pool_create(3): pool_for of 64 items beside an async loop of 2 ms items");
    tu_latch_init(&o.async_started);
    tu_latch_init(&o.helped);
    atomic_init(&o.waits_timed_out, 0);
    o.item_runs = tu_counts_new(64);
    ao.chunk = 1;
    TU_ASSERT_EQ(pool_for_async(pool, 100000, long_async_item, &o, &ao, &f), 0);
    TU_ASSERT_EQ(tu_latch_wait(&o.async_started, 2, TU_WAIT_NS), 0);
    o.caller = pthread_self();
    TU_ASSERT_EQ(pool_for(pool, 64, offered_item, &o), 0);
    pool_future_cancel(f);
    TU_ASSERT_EQ(pool_future_wait(f, POOL_FOREVER), 0);
    pool_future_free(f);
    pool_destroy(pool);
    TU_ASSERT_EQ(atomic_load(&o.waits_timed_out), 0);
    TU_ASSERT_TRUE(tu_latch_get(&o.helped) > 0);
    tu_assert_counts(o.item_runs, 0, 64, 1, "item of the blocking call");
    tu_free(o.item_runs);
    tu_latch_destroy(&o.helped);
    tu_latch_destroy(&o.async_started);
}

/* ------------------------------------------------------------------------ */
/* A worker that leaves an offered call comes back to it                    */
/* ------------------------------------------------------------------------ */

typedef struct comeback {
    pool_t *pool;
    pthread_t caller;
    tu_latch helped_before; /* items run off the caller before the task ran */
    tu_latch submitted;     /* the task is queued */
    tu_latch task_ran;
    tu_latch helped_after;  /* items run off the caller after the task ran */
    atomic_uint waits_timed_out;
    atomic_uint *item_runs;
    pool_future_t *task;
    int submit_rc;
} comeback;

static int comeback_task(void *ctx)
{
    tu_latch_add(&((comeback *)ctx)->task_ran, 1);
    return 0;
}

static void comeback_wait(comeback *c, tu_latch *l)
{
    if (tu_latch_wait(l, 1, TU_WAIT_NS) != 0)
        tu_bump(&c->waits_timed_out);
}

/*
 * The worker's items wait until the task is queued, so that it sees the
 * async lane busy after its chunk and leaves. The caller's first item
 * queues the task once the worker is in the call, then waits for the task
 * and for one more item run off the caller: only the worker, back from the
 * task, can run it.
 */
static int comeback_item(void *ctx, size_t i)
{
    comeback *c = ctx;

    tu_bump(&c->item_runs[i]);
    if (!pthread_equal(pthread_self(), c->caller)) {
        if (tu_latch_get(&c->task_ran) == 0) {
            tu_latch_add(&c->helped_before, 1);
            comeback_wait(c, &c->submitted);
        } else {
            tu_latch_add(&c->helped_after, 1);
        }
    } else if (i == 0) {
        comeback_wait(c, &c->helped_before);
        c->submit_rc = pool_submit(c->pool, comeback_task, c, NULL, &c->task);
        tu_latch_add(&c->submitted, 1);
        comeback_wait(c, &c->task_ran);
        comeback_wait(c, &c->helped_after);
    }
    return 0;
}

/*
 * A pool of 2: its one worker takes a blocking call from the offer, then
 * leaves it between chunks for a task queued meanwhile. A worker takes each
 * offer once, so the call is put on the queue for it to come back to: the
 * caller's first item waits until the worker has run one of its items after
 * the task (before, none came: the call ran on its caller alone from the
 * leave on, and that wait ran out).
 */
static void a_worker_that_leaves_an_offered_call_for_a_task_comes_back_to_it(void **state)
{
    comeback c;
    pool_t *pool = tu_pool_open(2);

    (void)state;
    tu_where("pool_create(2): pool_for of 256 items, a task submitted from its item 0");
    c.pool = pool;
    c.caller = pthread_self();
    tu_latch_init(&c.helped_before);
    tu_latch_init(&c.submitted);
    tu_latch_init(&c.task_ran);
    tu_latch_init(&c.helped_after);
    atomic_init(&c.waits_timed_out, 0);
    c.item_runs = tu_counts_new(256);
    c.task = NULL;
    c.submit_rc = -1;
    TU_ASSERT_EQ(pool_for(pool, 256, comeback_item, &c), 0);
    TU_ASSERT_EQ(c.submit_rc, 0);
    TU_ASSERT_EQ(pool_future_wait(c.task, POOL_FOREVER), 0);
    pool_future_free(c.task);
    pool_destroy(pool);
    TU_ASSERT_EQ(atomic_load(&c.waits_timed_out), 0);
    TU_ASSERT_TRUE(tu_latch_get(&c.helped_after) > 0);
    tu_assert_counts(c.item_runs, 0, 256, 1, "item of the blocking call");
    tu_free(c.item_runs);
    tu_latch_destroy(&c.helped_after);
    tu_latch_destroy(&c.task_ran);
    tu_latch_destroy(&c.submitted);
    tu_latch_destroy(&c.helped_before);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(long_task_queue_does_not_starve_a_blocking_map),
        TU_TEST(back_to_back_blocking_calls_do_not_starve_submitted_tasks),
        TU_TEST(one_long_blocking_call_does_not_starve_submitted_tasks),
        TU_TEST(a_long_async_loop_does_not_keep_workers_from_an_offered_call),
        TU_TEST(a_worker_that_leaves_an_offered_call_for_a_task_comes_back_to_it),
    };

    return TU_RUN(tests, argc, argv);
}
