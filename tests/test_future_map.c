/*
 * test_future_map.c - pool_map_async and pool_for_async: right results; the
 * blocking calls' error contract once done (compared with pool_map_ex and
 * pool_for_ex on the same input); progress while running and at the end;
 * the POOL_ASYNC_CHUNKS stream read with pool_future_next (chunks disjoint,
 * in bounds, covering exactly the items that ran, results written before a
 * chunk is handed out, failures at a chunk's end, ENOENT, ETIMEDOUT, EINVAL,
 * several consumers); and the argument errors of pool_map_async.
 */
#include "test_util.h"

#define N_ITEMS 5000
#define MAX_PLANTED 4

static const size_t pool_specs[] = { TU_NULL_POOL, 1, 2, 4 };

/* A pointer no call may write into *future on an error. */
static char untouched_obj;
#define UNTOUCHED ((pool_future_t *)(void *)&untouched_obj)

static int fail_status(size_t i)
{
    return 1000 + (int)i;
}

static uint64_t map_value(uint32_t x)
{
    return (uint64_t)x * 5 + 1;
}

enum api { API_MAP, API_FOR };

static const char *api_name(enum api a)
{
    return a == API_MAP ? "pool_map_async" : "pool_for_async";
}

/* One call's input, planted failures and what the callbacks saw. */
typedef struct run {
    size_t n;
    unsigned char *fails;
    atomic_uint *count;
    uint32_t *in;
    uint64_t *out;
    atomic_uint stray;
    tu_gate *gate;   /* item gate_at passes it first, when not NULL */
    size_t gate_at;
    int64_t spin_ns; /* cost of each item */
} run;

static void run_init(run *r)
{
    size_t i;

    memset(r, 0, sizeof *r);
    r->fails = tu_calloc(N_ITEMS, 1);
    r->count = tu_counts_new(N_ITEMS);
    r->in = tu_malloc(N_ITEMS * sizeof *r->in);
    r->out = tu_malloc(N_ITEMS * sizeof *r->out);
    for (i = 0; i < N_ITEMS; i++)
        r->in[i] = (uint32_t)(i * 7 + 3);
    atomic_init(&r->stray, 0);
}

static void run_free(run *r)
{
    tu_free(r->fails);
    tu_free(r->count);
    tu_free(r->in);
    tu_free(r->out);
}

/* Between calls only: n items, fresh counters, outputs zero (map_value is
 * never 0, so 0 means "not written"). */
static void run_reset(run *r, size_t n)
{
    r->n = n;
    tu_counts_reset(r->count, n ? n : 1);
    memset(r->out, 0, (n ? n : 1) * sizeof *r->out);
    atomic_store(&r->stray, 0);
}

static int item(run *r, size_t i)
{
    tu_bump(&r->count[i]);
    if (r->gate && i == r->gate_at)
        tu_gate_pass(r->gate);
    if (r->spin_ns)
        tu_spin_ns(r->spin_ns);
    if (r->fails[i])
        return fail_status(i);
    r->out[i] = map_value(r->in[i]);
    return 0;
}

static int map_item(void *ctx, const void *in, void *out)
{
    run *r = ctx;
    size_t i = tu_index_of(r->in, sizeof *r->in, r->n, in);

    if (i == SIZE_MAX || tu_index_of(r->out, sizeof *r->out, r->n, out) != i) {
        tu_bump(&r->stray);
        return 0;
    }
    return item(r, i);
}

static int for_item(void *ctx, size_t i)
{
    run *r = ctx;

    if (i >= r->n) {
        tu_bump(&r->stray);
        return 0;
    }
    return item(r, i);
}

static int start_async(run *r, enum api api, pool_t *pool, size_t n,
                       const pool_async_opts *opts, pool_future_t **f)
{
    run_reset(r, n);
    if (api == API_MAP)
        return pool_map_async(pool, map_item, r, r->in, sizeof *r->in, r->out,
                              sizeof *r->out, n, opts, f);
    return pool_for_async(pool, n, for_item, r, opts, f);
}

static int run_blocking(run *r, enum api api, pool_t *pool, size_t n, pool_opts *o)
{
    run_reset(r, n);
    if (api == API_MAP)
        return pool_map_ex(pool, map_item, r, r->in, sizeof *r->in, r->out,
                           sizeof *r->out, n, o);
    return pool_for_ex(pool, n, for_item, r, o);
}

static size_t lowest_failing(const run *r)
{
    const unsigned char *p = memchr(r->fails, 1, r->n);

    return p ? (size_t)(p - r->fails) : SIZE_MAX;
}

/* Items that ran and succeeded: what progress must count at the end. */
static size_t ran_ok(run *r)
{
    size_t i, k = 0;

    for (i = 0; i < r->n; i++)
        k += tu_count(r->count, i) == 1 && !r->fails[i];
    return k;
}

/*
 * Asserts the serial-loop contract on a done future: status and
 * failed_index name the lowest planted failure, every item below it ran
 * once with its result written, nothing ran twice, progress counts the
 * items that ran successfully. serial: only one thread ran items, so
 * nothing past the failure started.
 */
static void verify_done(run *r, pool_future_t *f, int serial)
{
    size_t lo = lowest_failing(r), n = r->n, total = 0, i;

    TU_ASSERT_EQ(pool_future_done(f), 1);
    TU_ASSERT_EQ(atomic_load(&r->stray), 0);
    tu_assert_counts_at_most(r->count, 0, n, 1, "item");
    TU_ASSERT_EQ(pool_future_progress(f, &total), ran_ok(r));
    TU_ASSERT_EQ(total, n);
    if (lo == SIZE_MAX) {
        TU_ASSERT_EQ(pool_future_status(f), 0);
        TU_ASSERT_EQ(pool_future_failed_index(f), POOL_NO_INDEX);
        tu_assert_counts(r->count, 0, n, 1, "item");
        TU_ASSERT_EQ(pool_future_progress(f, NULL), n);
    } else {
        TU_ASSERT_EQ(pool_future_status(f), fail_status(lo));
        TU_ASSERT_EQ(pool_future_failed_index(f), lo);
        tu_assert_counts(r->count, 0, lo + 1, 1, "item");
        if (serial)
            tu_assert_counts(r->count, lo + 1, n, 0, "item past the failure");
    }
    for (i = 0; i < (lo == SIZE_MAX ? n : lo); i++)
        if (r->out[i] != map_value(r->in[i]))
            fail_msg("%s: out[%zu] is %llu, want %llu", tu_where_buf(), i,
                     (unsigned long long)r->out[i],
                     (unsigned long long)map_value(r->in[i]));
}

static void plan_random(run *r, tu_rng *rng, size_t n)
{
    size_t k, nplant = 1 + tu_rng_below(rng, MAX_PLANTED);

    memset(r->fails, 0, N_ITEMS);
    for (k = 0; k < nplant; k++)
        r->fails[tu_rng_below(rng, n)] = 1;
}

/* ------------------------------------------------------------------------ */
/* Results and the error contract                                           */
/* ------------------------------------------------------------------------ */

/* Without failures every item runs once and every result is right, for
 * any pool, chunk and n; a NULL pool hands back a done future. */
static void map_and_for_async_give_the_serial_loop_results(void **state)
{
    static const size_t chunks[] = { 0, 1, 7 };
    static const size_t ns[] = { 0, 1, 97, N_ITEMS };
    size_t p, c, k, a;
    run r;

    (void)state;
    run_init(&r);
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);

        for (a = 0; a < 2; a++)
            for (c = 0; c < TU_ARRAY_LEN(chunks); c++)
                for (k = 0; k < TU_ARRAY_LEN(ns); k++) {
                    pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
                    pool_future_t *f = NULL;

                    tu_where("%s on %s, chunk %zu, n %zu", api_name((enum api)a),
                             tu_pool_name(pool_specs[p]), chunks[c], ns[k]);
                    opts.chunk = chunks[c];
                    TU_ASSERT_EQ(start_async(&r, (enum api)a, pool, ns[k], &opts, &f), 0);
                    if (pool == NULL || ns[k] == 0)
                        TU_ASSERT_EQ(pool_future_done(f), 1);
                    TU_ASSERT_EQ(pool_future_wait(f, k % 2 ? POOL_FOREVER : TU_WAIT_NS), 0);
                    verify_done(&r, f, 0);
                    pool_future_free(f);
                }
        pool_destroy(pool);
    }
    run_free(&r);
}

/*
 * Failures planted at random: once done, the async call reports what the
 * blocking call returns on the same input (status and failed_index), and
 * keeps the serial contract. Waiting with a timeout never runs items, so on
 * a pool of 1 only its one worker runs them: nothing past the failure
 * starts there (nor with a NULL pool).
 */
static void async_failure_matches_blocking_call_on_same_input(void **state)
{
    static const size_t chunks[] = { 0, 1 };
    size_t reps = 25 * tu_scale(), p, c, a, rep;
    tu_rng rng = tu_rng_seed(0xA5F00D5EEDu);
    run r;

    (void)state;
    run_init(&r);
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);

        for (a = 0; a < 2; a++)
            for (c = 0; c < TU_ARRAY_LEN(chunks); c++)
                for (rep = 0; rep < reps; rep++) {
                    pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
                    pool_opts o = { chunks[c], 4242 };
                    pool_future_t *f = NULL;
                    int rc_blocking, forever = rep % 2;

                    plan_random(&r, &rng, N_ITEMS);
                    /* Some plans at the edges: first item, last item. */
                    if (rep == 0)
                        r.fails[0] = 1;
                    if (rep == 1) {
                        memset(r.fails, 0, N_ITEMS);
                        r.fails[N_ITEMS - 1] = 1;
                    }
                    r.n = N_ITEMS;
                    tu_where("%s on %s, chunk %zu, rep %zu, first failure %zu, %s",
                             api_name((enum api)a), tu_pool_name(pool_specs[p]),
                             chunks[c], rep, lowest_failing(&r),
                             forever ? "wait forever" : "timed wait");
                    rc_blocking = run_blocking(&r, (enum api)a, pool, N_ITEMS, &o);

                    opts.chunk = chunks[c];
                    TU_ASSERT_EQ(start_async(&r, (enum api)a, pool, N_ITEMS, &opts, &f), 0);
                    TU_ASSERT_EQ(pool_future_wait(f, forever ? POOL_FOREVER : TU_WAIT_NS), 0);
                    TU_ASSERT_EQ(pool_future_status(f), rc_blocking);
                    TU_ASSERT_EQ(pool_future_failed_index(f), o.failed_index);
                    verify_done(&r, f, pool == NULL || (pool_size(pool) == 1 && !forever));
                    pool_future_free(f);
                }
        pool_destroy(pool);
    }
    run_free(&r);
}

/* ------------------------------------------------------------------------ */
/* Progress                                                                 */
/* ------------------------------------------------------------------------ */

#define PROG_N 200
#define PROG_GATE 100

/*
 * chunk 1, item PROG_GATE held at a gate: while it is, progress is read
 * (lock-free) and never goes back, stays below n, and with one async
 * worker is exactly PROG_GATE (every item before it is done, none after it
 * started). Once released, progress is n.
 */
static void progress_is_readable_while_running_and_n_at_the_end(void **state)
{
    size_t p, a, k;
    run r;

    (void)state;
    run_init(&r);
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);

        for (a = 0; a < 2; a++) {
            pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
            pool_future_t *f = NULL;
            size_t total = 0, last = 0, now;
            tu_gate gate;

            tu_where("%s on %s", api_name((enum api)a), tu_pool_name(pool_specs[p]));
            tu_gate_init(&gate);
            if (pool == NULL)
                tu_gate_open(&gate);
            r.gate = &gate;
            r.gate_at = PROG_GATE;
            opts.chunk = 1;
            TU_ASSERT_EQ(start_async(&r, (enum api)a, pool, PROG_N, &opts, &f), 0);
            if (pool != NULL) {
                TU_ASSERT_EQ(tu_gate_await(&gate, 1), 0);
                for (k = 0; k < 50; k++) {
                    now = pool_future_progress(f, &total);
                    TU_ASSERT_EQ(total, PROG_N);
                    TU_ASSERT_TRUE(now >= last);
                    TU_ASSERT_TRUE(now < PROG_N);
                    if (tu_async_workers(pool) == 1)
                        TU_ASSERT_EQ(now, PROG_GATE);
                    last = now;
                    TU_ASSERT_EQ(pool_future_done(f), 0);
                    TU_ASSERT_EQ(pool_future_status(f), EBUSY);
                    tu_sleep_ns(100000);
                }
                tu_gate_open(&gate);
                /* Watch it finish: progress only grows, up to n. */
                while (!pool_future_done(f)) {
                    now = pool_future_progress(f, NULL);
                    TU_ASSERT_TRUE(now >= last && now <= PROG_N);
                    last = now;
                }
            }
            TU_ASSERT_EQ(pool_future_wait(f, TU_WAIT_NS), 0);
            TU_ASSERT_EQ(pool_future_progress(f, &total), PROG_N);
            TU_ASSERT_EQ(total, PROG_N);
            verify_done(&r, f, 0);
            TU_ASSERT_EQ(tu_gate_timeouts(&gate), 0);
            r.gate = NULL;
            pool_future_free(f);
            tu_gate_destroy(&gate);
        }
        pool_destroy(pool);
    }
    run_free(&r);
}

/* ------------------------------------------------------------------------ */
/* The chunk stream                                                         */
/* ------------------------------------------------------------------------ */

/* What the consumers of one stream saw (atomics: several threads add). */
typedef struct seen {
    atomic_uint *covered;    /* times item i was inside a returned chunk */
    atomic_uint *failed_end; /* times item i ended a chunk with a status */
    atomic_uint chunks;
    atomic_uint bad_bounds;  /* begin > end, or end past n */
    atomic_uint bad_result;  /* an item of a returned chunk had no result */
    atomic_uint bad_failure; /* a status that does not name item `end` */
    atomic_uint bad_rc;      /* pool_future_next gave neither 0 nor ENOENT */
    atomic_uint not_done_at_enoent;
} seen;

static void seen_init(seen *s, size_t n)
{
    s->covered = tu_counts_new(n);
    s->failed_end = tu_counts_new(n);
    atomic_init(&s->chunks, 0);
    atomic_init(&s->bad_bounds, 0);
    atomic_init(&s->bad_result, 0);
    atomic_init(&s->bad_failure, 0);
    atomic_init(&s->bad_rc, 0);
    atomic_init(&s->not_done_at_enoent, 0);
}

static void seen_free(seen *s)
{
    tu_free(s->covered);
    tu_free(s->failed_end);
}

/* Checks one chunk at the moment it is handed out: its results must
 * already be written. */
static void take_chunk(run *r, seen *s, size_t b, size_t e, int status)
{
    size_t i;

    tu_bump(&s->chunks);
    if (b > e || e > r->n) {
        tu_bump(&s->bad_bounds);
        return;
    }
    for (i = b; i < e; i++) {
        tu_bump(&s->covered[i]);
        if (r->fails[i] || r->out[i] != map_value(r->in[i]))
            tu_bump(&s->bad_result);
    }
    if (status != 0) {
        if (e >= r->n || !r->fails[e] || status != fail_status(e))
            tu_bump(&s->bad_failure);
        else
            tu_bump(&s->failed_end[e]);
    }
}

/* Reads the stream to its end; timeout_ns per call (ETIMEDOUT retried). */
static void consume(run *r, seen *s, pool_future_t *f, int64_t timeout_ns)
{
    int64_t deadline = tu_now_ns() + TU_WAIT_NS;

    for (;;) {
        size_t b = SIZE_MAX, e = SIZE_MAX;
        int status = -1;
        int rc = pool_future_next(f, timeout_ns, &b, &e, &status);

        if (rc == 0) {
            take_chunk(r, s, b, e, status);
        } else if (rc == ETIMEDOUT && timeout_ns >= 0 && tu_now_ns() < deadline) {
            if (timeout_ns == 0)
                tu_sleep_ns(20000);
        } else {
            if (rc == ENOENT && !pool_future_done(f))
                tu_bump(&s->not_done_at_enoent);
            if (rc != ENOENT)
                tu_bump(&s->bad_rc);
            return;
        }
    }
}

/*
 * After the stream ended: chunks covered exactly the items that ran and
 * succeeded, once each; every item that ran and failed ended exactly one
 * chunk with its status; progress agrees.
 */
static void verify_stream(run *r, seen *s, pool_future_t *f)
{
    size_t i, ok = 0;

    TU_ASSERT_EQ(atomic_load(&s->bad_bounds), 0);
    TU_ASSERT_EQ(atomic_load(&s->bad_result), 0);
    TU_ASSERT_EQ(atomic_load(&s->bad_failure), 0);
    TU_ASSERT_EQ(atomic_load(&s->bad_rc), 0);
    TU_ASSERT_EQ(atomic_load(&s->not_done_at_enoent), 0);
    for (i = 0; i < r->n; i++) {
        unsigned ran = tu_count(r->count, i);
        unsigned want_cov = ran == 1 && !r->fails[i];
        unsigned want_fail = ran == 1 && r->fails[i];

        if (tu_count(s->covered, i) != want_cov)
            fail_msg("%s: item %zu (ran %u times, %s) is in %u chunks, want %u",
                     tu_where_buf(), i, ran, r->fails[i] ? "fails" : "succeeds",
                     tu_count(s->covered, i), want_cov);
        if (tu_count(s->failed_end, i) != want_fail)
            fail_msg("%s: item %zu (ran %u times, %s) ends %u failed chunks, want %u",
                     tu_where_buf(), i, ran, r->fails[i] ? "fails" : "succeeds",
                     tu_count(s->failed_end, i), want_fail);
        ok += want_cov;
    }
    TU_ASSERT_EQ(pool_future_progress(f, NULL), ok);
}

/*
 * pool_future_next from right after the call: every chunk in bounds, its
 * results already written, disjoint from the others; together they cover
 * exactly the items that ran; a failing chunk ends at its failing item;
 * ENOENT only once the future is done, and again after that.
 */
static void next_hands_out_disjoint_chunks_covering_exactly_what_ran(void **state)
{
    static const size_t chunks[] = { 0, 1, 7 };
    size_t reps = 6 * tu_scale(), p, c, a, rep;
    tu_rng rng = tu_rng_seed(0x5EEDC0FFEEu);
    run r;

    (void)state;
    run_init(&r);
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);

        for (a = 0; a < 2; a++)
            for (c = 0; c < TU_ARRAY_LEN(chunks); c++)
                for (rep = 0; rep < reps; rep++) {
                    pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
                    pool_future_t *f = NULL;
                    size_t b, e;
                    int status;
                    seen s;

                    if (rep % 3 == 0)
                        memset(r.fails, 0, N_ITEMS);
                    else
                        plan_random(&r, &rng, N_ITEMS);
                    r.n = N_ITEMS;
                    r.spin_ns = rep % 2 ? 2000 : 0;
                    tu_where("%s on %s, chunk %zu, rep %zu, first failure %zu",
                             api_name((enum api)a), tu_pool_name(pool_specs[p]),
                             chunks[c], rep, lowest_failing(&r));
                    seen_init(&s, N_ITEMS);
                    opts.chunk = chunks[c];
                    opts.flags = POOL_ASYNC_CHUNKS;
                    TU_ASSERT_EQ(start_async(&r, (enum api)a, pool, N_ITEMS, &opts, &f), 0);
                    consume(&r, &s, f, rep % 3 == 2 ? 0 : POOL_FOREVER);
                    TU_ASSERT_EQ(pool_future_wait(f, TU_WAIT_NS), 0);
                    verify_done(&r, f, 0);
                    verify_stream(&r, &s, f);
                    TU_ASSERT_EQ(pool_future_next(f, 0, &b, &e, &status), ENOENT);
                    TU_ASSERT_EQ(pool_future_next(f, POOL_FOREVER, &b, &e, &status), ENOENT);
                    pool_future_free(f);
                    seen_free(&s);
                    r.spin_ns = 0;
                }
        pool_destroy(pool);
    }
    run_free(&r);
}

#define STREAM_N 10
#define STREAM_GATE 3

/*
 * With one async worker and chunk 1, items run in order: after the chunks
 * of the items before the gated one have been read, there is nothing new,
 * and next answers ETIMEDOUT to a timeout of 0 at once and to a finite
 * timeout not before it. Released, the rest follows, then ENOENT.
 */
static void next_times_out_while_nothing_new_and_ends_with_enoent(void **state)
{
    static const size_t specs[] = { 1, 2 };
    size_t p, k;
    run r;

    (void)state;
    run_init(&r);
    for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
        pool_t *pool = tu_pool_open(specs[p]);
        pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
        pool_future_t *f = NULL;
        size_t b, e;
        int status;
        int64_t t0;
        tu_gate gate;

        tu_where("%s", tu_pool_name(specs[p]));
        tu_gate_init(&gate);
        memset(r.fails, 0, N_ITEMS);
        r.gate = &gate;
        r.gate_at = STREAM_GATE;
        opts.chunk = 1;
        opts.flags = POOL_ASYNC_CHUNKS;
        TU_ASSERT_EQ(start_async(&r, API_MAP, pool, STREAM_N, &opts, &f), 0);
        for (k = 0; k < STREAM_GATE; k++) {
            status = -1;
            TU_ASSERT_EQ(pool_future_next(f, TU_WAIT_NS, &b, &e, &status), 0);
            TU_ASSERT_EQ(b, k);
            TU_ASSERT_EQ(e, k + 1);
            TU_ASSERT_EQ(status, 0);
            TU_ASSERT_EQ(r.out[k], map_value(r.in[k]));
        }
        TU_ASSERT_EQ(tu_gate_await(&gate, 1), 0);
        TU_ASSERT_EQ(pool_future_next(f, 0, &b, &e, &status), ETIMEDOUT);
        t0 = tu_now_ns();
        TU_ASSERT_EQ(pool_future_next(f, TU_MS(30), &b, &e, &status), ETIMEDOUT);
        TU_ASSERT_TRUE(tu_now_ns() - t0 >= TU_MS(30));
        TU_ASSERT_EQ(pool_future_next(f, 0, &b, &e, &status), ETIMEDOUT);
        TU_ASSERT_EQ(pool_future_done(f), 0);

        tu_gate_open(&gate);
        for (k = STREAM_GATE; k < STREAM_N; k++) {
            status = -1;
            TU_ASSERT_EQ(pool_future_next(f, POOL_FOREVER, &b, &e, &status), 0);
            TU_ASSERT_EQ(b, k);
            TU_ASSERT_EQ(e, k + 1);
            TU_ASSERT_EQ(status, 0);
            TU_ASSERT_EQ(r.out[k], map_value(r.in[k]));
        }
        TU_ASSERT_EQ(pool_future_next(f, POOL_FOREVER, &b, &e, &status), ENOENT);
        TU_ASSERT_EQ(pool_future_done(f), 1);
        TU_ASSERT_EQ(pool_future_next(f, 0, &b, &e, &status), ENOENT);
        TU_ASSERT_EQ(pool_future_status(f), 0);
        pool_future_free(f);
        r.gate = NULL;
        TU_ASSERT_EQ(tu_gate_timeouts(&gate), 0);
        tu_gate_destroy(&gate);
        pool_destroy(pool);
    }
    run_free(&r);
}

static int noop_task(void *ctx)
{
    (void)ctx;
    return 0;
}

/* EINVAL for a future made without POOL_ASYNC_CHUNKS (running or done, map
 * or task) and for any NULL argument. */
static void next_without_chunks_flag_or_with_null_argument_is_einval(void **state)
{
    size_t p;
    run r;

    (void)state;
    run_init(&r);
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);
        pool_async_opts flagged = POOL_ASYNC_OPTS_INIT;
        pool_future_t *plain = NULL, *task = NULL, *streamed = NULL;
        size_t b, e;
        int status;
        tu_gate gate;

        tu_where("%s", tu_pool_name(pool_specs[p]));
        tu_gate_init(&gate);
        if (pool == NULL)
            tu_gate_open(&gate);
        memset(r.fails, 0, N_ITEMS);
        r.gate = &gate;
        r.gate_at = 0;
        TU_ASSERT_EQ(start_async(&r, API_MAP, pool, 100, NULL, &plain), 0);
        TU_ASSERT_EQ(pool_future_next(plain, 0, &b, &e, &status), EINVAL);
        TU_ASSERT_EQ(pool_future_next(plain, TU_MS(1), &b, &e, &status), EINVAL);
        TU_ASSERT_EQ(pool_submit(pool, noop_task, NULL, NULL, &task), 0);
        TU_ASSERT_EQ(pool_future_next(task, POOL_FOREVER, &b, &e, &status), EINVAL);
        tu_gate_open(&gate);
        TU_ASSERT_EQ(pool_future_wait(plain, POOL_FOREVER), 0);
        TU_ASSERT_EQ(pool_future_wait(task, POOL_FOREVER), 0);
        TU_ASSERT_EQ(pool_future_next(plain, POOL_FOREVER, &b, &e, &status), EINVAL);
        TU_ASSERT_EQ(pool_future_next(task, 0, &b, &e, &status), EINVAL);

        flagged.flags = POOL_ASYNC_CHUNKS;
        r.gate = NULL;
        TU_ASSERT_EQ(start_async(&r, API_MAP, pool, 100, &flagged, &streamed), 0);
        TU_ASSERT_EQ(pool_future_next(NULL, 0, &b, &e, &status), EINVAL);
        TU_ASSERT_EQ(pool_future_next(streamed, 0, NULL, &e, &status), EINVAL);
        TU_ASSERT_EQ(pool_future_next(streamed, 0, &b, NULL, &status), EINVAL);
        TU_ASSERT_EQ(pool_future_next(streamed, 0, &b, &e, NULL), EINVAL);
        TU_ASSERT_EQ(pool_future_wait(streamed, POOL_FOREVER), 0);
        pool_future_free(plain);
        pool_future_free(task);
        pool_future_free(streamed);
        pool_destroy(pool);
        tu_gate_destroy(&gate);
    }
    run_free(&r);
}

/* A zero-item map with POOL_ASYNC_CHUNKS: done at once, no chunk, ENOENT. */
static void next_on_empty_map_is_enoent_at_once(void **state)
{
    size_t p;
    run r;

    (void)state;
    run_init(&r);
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);
        pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
        pool_future_t *f = NULL;
        size_t b, e;
        int status;

        tu_where("%s", tu_pool_name(pool_specs[p]));
        opts.flags = POOL_ASYNC_CHUNKS;
        TU_ASSERT_EQ(start_async(&r, API_MAP, pool, 0, &opts, &f), 0);
        TU_ASSERT_EQ(pool_future_next(f, POOL_FOREVER, &b, &e, &status), ENOENT);
        TU_ASSERT_EQ(pool_future_done(f), 1);
        TU_ASSERT_EQ(pool_future_status(f), 0);
        TU_ASSERT_EQ(tu_count(r.count, 0), 0);
        pool_future_free(f);
        pool_destroy(pool);
    }
    run_free(&r);
}

/* An async task that starts a streamed loop on its own pool and reads it
 * to the end, waiting forever: what each read returned, for the test. */
typedef struct own_reader {
    run *r;
    pool_t *pool;
    size_t n, chunk;
    int start_rc, last_rc, bad_status;
    size_t chunks, items;
} own_reader;

static int read_own_stream(void *ctx)
{
    own_reader *o = ctx;
    pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
    pool_future_t *f = NULL;
    size_t b, e;
    int status, rc;

    opts.chunk = o->chunk;
    opts.flags = POOL_ASYNC_CHUNKS;
    o->start_rc = start_async(o->r, API_FOR, o->pool, o->n, &opts, &f);
    if (o->start_rc != 0)
        return o->start_rc;
    while ((rc = pool_future_next(f, POOL_FOREVER, &b, &e, &status)) == 0) {
        o->chunks++;
        o->items += e - b;
        o->bad_status += status != 0;
    }
    o->last_rc = rc;
    pool_future_free(f);
    return 0;
}

/*
 * pool_future_next waiting forever from inside a callback of the future's
 * pool runs the future's unclaimed items itself, as pool_future_wait does:
 * here the reader is an async task on the pool's only async worker, so
 * nobody else could run them. Every item runs once and comes back in the
 * stream, which then ends with ENOENT. 10 s without the task's end fails
 * the test (a hang).
 */
static void next_waiting_forever_inside_a_callback_runs_the_items_itself(void **state)
{
    static const size_t specs[] = { 1, 2 };
    static const size_t chunks[] = { 0, 1 };
    size_t p, c;
    run r;

    (void)state;
    run_init(&r);
    for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
        for (c = 0; c < TU_ARRAY_LEN(chunks); c++) {
            pool_t *pool = tu_pool_open(specs[p]);
            own_reader o = { &r, pool, 200, chunks[c], -1, -1, 0, 0, 0 };
            pool_future_t *t = NULL;

            tu_where("%s, chunk %zu", tu_pool_name(specs[p]), chunks[c]);
            TU_ASSERT_EQ(pool_submit(pool, read_own_stream, &o, NULL, &t), 0);
            if (pool_future_wait(t, TU_MS(10000)) != 0)
                fail_msg("%s: the task reading its own stream has not ended after 10 s",
                         tu_where_buf());
            TU_ASSERT_EQ(pool_future_status(t), 0);
            pool_future_free(t);
            pool_destroy(pool);
            TU_ASSERT_EQ(o.start_rc, 0);
            TU_ASSERT_EQ(o.last_rc, ENOENT);
            TU_ASSERT_EQ(o.bad_status, 0);
            TU_ASSERT_EQ(o.items, 200);
            TU_ASSERT_TRUE(o.chunks >= 1);
            if (chunks[c] == 1)
                TU_ASSERT_EQ(o.chunks, 200);
            tu_assert_counts(r.count, 0, 200, 1, "item");
        }
    }
    run_free(&r);
}

#define CONSUMERS 3

typedef struct consumer {
    run *r;
    seen *s;
    pool_future_t *f;
    int64_t timeout_ns;
    pthread_barrier_t *start;
} consumer;

static void *consumer_main(void *arg)
{
    consumer *c = arg;

    pthread_barrier_wait(c->start);
    consume(c->r, c->s, c->f, c->timeout_ns);
    return NULL;
}

/* Three threads read one stream at once (waiting forever, with a 1 ms
 * timeout, polling): each chunk goes to exactly one of them. */
static void several_consumers_of_one_future_get_each_chunk_once(void **state)
{
    static const size_t specs[] = { 1, 2, 4 };
    static const size_t chunks[] = { 0, 1, 5 };
    static const int64_t timeouts[CONSUMERS] = { POOL_FOREVER, TU_MS(1), 0 };
    size_t p, c, t, rep, reps = 2 * tu_scale();
    tu_rng rng = tu_rng_seed(0xC0C0A);
    run r;

    (void)state;
    run_init(&r);
    for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
        pool_t *pool = tu_pool_open(specs[p]);

        for (c = 0; c < TU_ARRAY_LEN(chunks); c++)
            for (rep = 0; rep < reps; rep++) {
                pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
                pthread_t threads[CONSUMERS];
                consumer cons[CONSUMERS];
                pthread_barrier_t start;
                pool_future_t *f = NULL;
                seen s;

                if (rep % 2)
                    plan_random(&r, &rng, 3000);
                else
                    memset(r.fails, 0, N_ITEMS);
                r.n = 3000;
                r.spin_ns = 1000;
                tu_where("%s, chunk %zu, rep %zu, first failure %zu",
                         tu_pool_name(specs[p]), chunks[c], rep, lowest_failing(&r));
                seen_init(&s, 3000);
                opts.chunk = chunks[c];
                opts.flags = POOL_ASYNC_CHUNKS;
                assert_int_equal(pthread_barrier_init(&start, NULL, CONSUMERS + 1), 0);
                TU_ASSERT_EQ(start_async(&r, API_MAP, pool, 3000, &opts, &f), 0);
                for (t = 0; t < CONSUMERS; t++) {
                    cons[t].r = &r;
                    cons[t].s = &s;
                    cons[t].f = f;
                    cons[t].timeout_ns = timeouts[t];
                    cons[t].start = &start;
                    assert_int_equal(pthread_create(&threads[t], NULL, consumer_main,
                                                    &cons[t]), 0);
                }
                pthread_barrier_wait(&start);
                for (t = 0; t < CONSUMERS; t++)
                    pthread_join(threads[t], NULL);
                pthread_barrier_destroy(&start);
                TU_ASSERT_EQ(pool_future_wait(f, TU_WAIT_NS), 0);
                verify_done(&r, f, 0);
                verify_stream(&r, &s, f);
                pool_future_free(f);
                seen_free(&s);
                r.spin_ns = 0;
            }
        pool_destroy(pool);
    }
    run_free(&r);
}

/* ------------------------------------------------------------------------ */
/* Argument errors                                                          */
/* ------------------------------------------------------------------------ */

static int count_map(void *ctx, const void *in, void *out)
{
    (void)in;
    (void)out;
    tu_bump(ctx);
    return 0;
}

static void count_done(void *arg, pool_future_t *f)
{
    (void)f;
    tu_bump(arg);
}

/* Records whether fn got NULL pointers for zero-size elements. */
typedef struct nulls {
    atomic_uint calls, non_null_in, non_null_out;
} nulls;

static int null_map(void *ctx, const void *in, void *out)
{
    nulls *z = ctx;

    tu_bump(&z->calls);
    if (in != NULL)
        tu_bump(&z->non_null_in);
    if (out != NULL)
        tu_bump(&z->non_null_out);
    return 0;
}

/*
 * pool_map_async rejects exactly what pool_map rejects, with the same
 * error, plus a NULL future; *future stays untouched and neither fn nor
 * on_done runs. NULL arrays of zero-size elements are valid, as in pool_map.
 */
static void map_async_rejects_what_pool_map_rejects_and_runs_nothing(void **state)
{
    static const uint64_t arr[4] = { 1, 2, 3, 4 };
    static uint64_t dst[4];
    const size_t huge = SIZE_MAX / 8 + 1;
    struct {
        const char *what;
        int null_fn;
        const void *in;
        size_t in_size;
        void *out;
        size_t out_size;
        size_t n;
        int want;
    } cases[] = {
        { "NULL fn", 1, arr, 8, dst, 8, 4, EINVAL },
        { "NULL fn, n 0", 1, arr, 8, dst, 8, 0, EINVAL },
        { "NULL in", 0, NULL, 8, dst, 8, 4, EINVAL },
        { "NULL out", 0, arr, 8, NULL, 8, 4, EINVAL },
        { "n * in_size overflows", 0, arr, 8, dst, 1, huge, EOVERFLOW },
        { "n * out_size overflows", 0, arr, 1, dst, 8, huge, EOVERFLOW },
    };
    size_t p, k;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);
        pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
        atomic_uint calls, dones;
        pool_future_t *f;
        nulls z;

        atomic_init(&calls, 0);
        atomic_init(&dones, 0);
        opts.on_done = count_done;
        opts.on_done_arg = &dones;
        opts.flags = POOL_ASYNC_CHUNKS;
        for (k = 0; k < TU_ARRAY_LEN(cases); k++) {
            pool_map_fn fn = cases[k].null_fn ? NULL : count_map;

            tu_where("%s, %s", tu_pool_name(pool_specs[p]), cases[k].what);
            TU_ASSERT_EQ(pool_map(pool, fn, &calls, cases[k].in, cases[k].in_size,
                                  cases[k].out, cases[k].out_size, cases[k].n),
                         cases[k].want);
            f = UNTOUCHED;
            TU_ASSERT_EQ(pool_map_async(pool, fn, &calls, cases[k].in, cases[k].in_size,
                                        cases[k].out, cases[k].out_size, cases[k].n,
                                        &opts, &f),
                         cases[k].want);
            TU_ASSERT_TRUE(f == UNTOUCHED);
            TU_ASSERT_EQ(pool_map_async(pool, fn, &calls, cases[k].in, cases[k].in_size,
                                        cases[k].out, cases[k].out_size, cases[k].n,
                                        NULL, &f),
                         cases[k].want);
            TU_ASSERT_TRUE(f == UNTOUCHED);
        }
        tu_where("%s, NULL future", tu_pool_name(pool_specs[p]));
        TU_ASSERT_EQ(pool_map_async(pool, count_map, &calls, arr, 8, dst, 8, 4, &opts,
                                    NULL), EINVAL);
        TU_ASSERT_EQ(pool_map_async(pool, count_map, &calls, arr, 8, dst, 8, 0, NULL,
                                    NULL), EINVAL);

        tu_where("%s, NULL arrays of zero-size elements", tu_pool_name(pool_specs[p]));
        atomic_init(&z.calls, 0);
        atomic_init(&z.non_null_in, 0);
        atomic_init(&z.non_null_out, 0);
        f = NULL;
        TU_ASSERT_EQ(pool_map_async(pool, null_map, &z, NULL, 0, NULL, 0, 50, NULL, &f), 0);
        TU_ASSERT_EQ(pool_future_wait(f, POOL_FOREVER), 0);
        TU_ASSERT_EQ(pool_future_status(f), 0);
        pool_future_free(f);

        pool_destroy(pool);
        TU_ASSERT_EQ(atomic_load(&calls), 0);
        TU_ASSERT_EQ(atomic_load(&dones), 0);
        TU_ASSERT_EQ(atomic_load(&z.calls), 50);
        TU_ASSERT_EQ(atomic_load(&z.non_null_in), 0);
        TU_ASSERT_EQ(atomic_load(&z.non_null_out), 0);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(map_and_for_async_give_the_serial_loop_results),
        TU_TEST(async_failure_matches_blocking_call_on_same_input),
        TU_TEST(progress_is_readable_while_running_and_n_at_the_end),
        TU_TEST(next_hands_out_disjoint_chunks_covering_exactly_what_ran),
        TU_TEST(next_times_out_while_nothing_new_and_ends_with_enoent),
        TU_TEST(next_without_chunks_flag_or_with_null_argument_is_einval),
        TU_TEST(next_on_empty_map_is_enoent_at_once),
        TU_TEST(next_waiting_forever_inside_a_callback_runs_the_items_itself),
        TU_TEST(several_consumers_of_one_future_get_each_chunk_once),
        TU_TEST(map_async_rejects_what_pool_map_rejects_and_runs_nothing),
    };

    return TU_RUN(tests, argc, argv);
}
