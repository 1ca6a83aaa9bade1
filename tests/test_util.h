/*
 * test_util.h - helpers shared by the poolmap tests (all static inline).
 *
 * Callbacks run on pool threads, and cmocka's asserts longjmp out of the
 * test, so callbacks never assert: they count what they saw in atomics and
 * the test thread asserts on those counts after the call returns.
 */
#ifndef POOLMAP_TEST_UTIL_H
#define POOLMAP_TEST_UTIL_H

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "poolmap.h"

/* Pool "spec" meaning "pass a NULL pool". */
#define TU_NULL_POOL SIZE_MAX

#define TU_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* TU_TSAN: defined in a ThreadSanitizer build (gcc or clang), for tests
 * that scale their sizes or budgets to its slowdown. */
#if defined(__SANITIZE_THREAD__)
#define TU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TU_TSAN 1
#endif
#endif

/* True under valgrind (its preload libraries are in LD_PRELOAD). Threads
 * then run one at a time on valgrind's own scheduler: a test whose set-up
 * needs two threads to meet in a narrow window may find they never do, and
 * skips rather than fails (it still runs under valgrind for its memory). */
static inline int tu_under_valgrind(void)
{
    const char *preload = getenv("LD_PRELOAD");
    return preload != NULL && strstr(preload, "vgpreload") != NULL;
}

/* ------------------------------------------------------------------------ */
/* Sizes                                                                    */
/* ------------------------------------------------------------------------ */

/* POOLMAP_TEST_SCALE=k multiplies repetition counts by k (default 1). */
static inline size_t tu_scale(void)
{
    const char *s = getenv("POOLMAP_TEST_SCALE");
    char *end;
    unsigned long v;

    if (s == NULL || *s == '\0')
        return 1;
    v = strtoul(s, &end, 10);
    return (*end == '\0' && v > 0) ? (size_t)v : 1;
}

/* ------------------------------------------------------------------------ */
/* Deterministic randomness (xorshift64*)                                   */
/* ------------------------------------------------------------------------ */

typedef struct tu_rng {
    uint64_t s;
} tu_rng;

static inline tu_rng tu_rng_seed(uint64_t seed)
{
    tu_rng r = { seed ? seed : 0x9E3779B97F4A7C15u };
    return r;
}

static inline uint64_t tu_rng_next(tu_rng *r)
{
    uint64_t x = r->s;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 2685821657736338717u;
}

/* Uniform enough in [0, bound), bound > 0. */
static inline size_t tu_rng_below(tu_rng *r, size_t bound)
{
    return (size_t)(tu_rng_next(r) % bound);
}

/* ------------------------------------------------------------------------ */
/* Failure context                                                          */
/* ------------------------------------------------------------------------ */

/* Describes the sub-case being run, printed when an assertion fails. */
static inline char *tu_where_buf(void)
{
    static char buf[256];
    return buf;
}

static inline void tu_where(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(tu_where_buf(), 256, fmt, ap);
    va_end(ap);
}

/* assert_int_equal that first prints the current sub-case on mismatch. */
#define TU_ASSERT_EQ(a, b)                                                 \
    do {                                                                   \
        uintmax_t tu_a_ = (uintmax_t)(a), tu_b_ = (uintmax_t)(b);          \
        if (tu_a_ != tu_b_)                                                \
            print_error("in: %s\n", tu_where_buf());                       \
        assert_int_equal(tu_a_, tu_b_);                                    \
    } while (0)

#define TU_ASSERT_TRUE(c)                                                  \
    do {                                                                   \
        int tu_c_ = !!(c);                                                 \
        if (!tu_c_)                                                        \
            print_error("in: %s\n", tu_where_buf());                       \
        assert_true(tu_c_);                                                \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Test-owned heap blocks                                                   */
/* ------------------------------------------------------------------------ */

/*
 * A failing assertion longjmps out of the test and skips its free() calls;
 * blocks from tu_malloc are freed by tu_teardown instead, so that a failure
 * is not followed by a LeakSanitizer report that buries it.
 */
#define TU_MAX_OWNED 256

static inline void **tu_owned(void)
{
    static void *owned[TU_MAX_OWNED];
    return owned;
}

static inline void *tu_malloc(size_t size)
{
    void **owned = tu_owned();
    void *p = malloc(size ? size : 1);
    size_t k;

    assert_non_null(p);
    for (k = 0; k < TU_MAX_OWNED && owned[k] != NULL; k++)
        ;
    if (k == TU_MAX_OWNED) {
        free(p);
        fail_msg("%s", "test_util.h: more than TU_MAX_OWNED live blocks");
        return NULL; /* not reached (fail_msg longjmps); tells gcc p is dead */
    }
    owned[k] = p;
    return p;
}

static inline void *tu_calloc(size_t n, size_t size)
{
    size_t bytes = n * size;
    void *p = tu_malloc(bytes);

    memset(p, 0, bytes > 0 ? bytes : 1);
    return p;
}

static inline void tu_free(void *p)
{
    void **owned = tu_owned();
    size_t k;

    if (p == NULL)
        return;
    for (k = 0; k < TU_MAX_OWNED; k++)
        if (owned[k] == p)
            owned[k] = NULL;
    free(p);
}

static inline int tu_teardown(void **state)
{
    void **owned = tu_owned();
    size_t k;

    (void)state;
    for (k = 0; k < TU_MAX_OWNED; k++) {
        free(owned[k]);
        owned[k] = NULL;
    }
    return 0;
}

/* Every test runs with tu_teardown. */
#define TU_TEST(f) cmocka_unit_test_teardown(f, tu_teardown)

/* ------------------------------------------------------------------------ */
/* Pools                                                                    */
/* ------------------------------------------------------------------------ */

/* Opens the pool for a spec: TU_NULL_POOL gives NULL, else pool_create(spec). */
static inline pool_t *tu_pool_open(size_t spec)
{
    pool_t *pool;

    if (spec == TU_NULL_POOL)
        return NULL;
    pool = pool_create(spec);
    assert_non_null(pool);
    return pool;
}

static inline const char *tu_pool_name(size_t spec)
{
    static char buf[48];

    if (spec == TU_NULL_POOL)
        return "NULL pool";
    snprintf(buf, sizeof buf, "pool_create(%zu)", spec);
    return buf;
}

/* ------------------------------------------------------------------------ */
/* Per-item counters                                                        */
/* ------------------------------------------------------------------------ */

static inline atomic_uint *tu_counts_new(size_t n)
{
    atomic_uint *c = tu_malloc((n ? n : 1) * sizeof *c);
    size_t i;

    for (i = 0; i < (n ? n : 1); i++)
        atomic_init(&c[i], 0);
    return c;
}

/* Only between calls, when no callback can touch the counters: memset is
 * one range write for TSan instead of n atomic stores. A lock-free
 * atomic_uint has the representation of an unsigned. */
static inline void tu_counts_reset(atomic_uint *c, size_t n)
{
    memset((void *)c, 0, n * sizeof *c);
}

static inline unsigned tu_count(atomic_uint *c, size_t i)
{
    return atomic_load_explicit(&c[i], memory_order_relaxed);
}

static inline void tu_bump(atomic_uint *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* A pool_range_fn that counts its calls (the ranges) in the atomic_uint at
 * ctx. */
static inline int tu_count_ranges(void *ctx, size_t begin, size_t end)
{
    (void)begin;
    (void)end;
    tu_bump(ctx);
    return 0;
}

/* Asserts c[i] == want for every i in [from, to). */
static inline void tu_assert_counts(atomic_uint *c, size_t from, size_t to,
                                    unsigned want, const char *what)
{
    size_t i;

    for (i = from; i < to; i++) {
        unsigned v = tu_count(c, i);
        if (v != want)
            fail_msg("%s: %s %zu ran %u times, want %u", tu_where_buf(),
                     what, i, v, want);
    }
}

/* Asserts c[i] <= max for every i in [from, to). */
static inline void tu_assert_counts_at_most(atomic_uint *c, size_t from,
                                            size_t to, unsigned max,
                                            const char *what)
{
    size_t i;

    for (i = from; i < to; i++) {
        unsigned v = tu_count(c, i);
        if (v > max)
            fail_msg("%s: %s %zu ran %u times, want at most %u",
                     tu_where_buf(), what, i, v, max);
    }
}

/*
 * Index of element `p` in the array [base, base + n*size), or SIZE_MAX when p
 * is outside it or not on an element boundary. Works on addresses, so a
 * stray pointer is reported instead of being undefined behaviour.
 */
static inline size_t tu_index_of(const void *base, size_t size, size_t n,
                                 const void *p)
{
    uintptr_t b = (uintptr_t)base, q = (uintptr_t)p;

    if (q < b || size == 0)
        return SIZE_MAX;
    if ((q - b) % size != 0 || (q - b) / size >= n)
        return SIZE_MAX;
    return (size_t)((q - b) / size);
}

/* ------------------------------------------------------------------------ */
/* Sentinel-filled buffers                                                  */
/* ------------------------------------------------------------------------ */

#define TU_SENTINEL 0xA5

/* Asserts every byte of [p, p+len) is still TU_SENTINEL. */
static inline void tu_assert_untouched(const void *p, size_t len,
                                       const char *what)
{
    const unsigned char *b = p;
    size_t i;

    for (i = 0; i < len; i++)
        if (b[i] != TU_SENTINEL)
            fail_msg("%s: %s byte %zu was overwritten (0x%02x)",
                     tu_where_buf(), what, i, b[i]);
}

/* malloc(len + guard) filled with TU_SENTINEL. */
static inline void *tu_sentinel_alloc(size_t len)
{
    void *p = tu_malloc(len);

    memset(p, TU_SENTINEL, len ? len : 1);
    return p;
}

/* Spins for roughly `iters` steps; makes items uneven without sleeping. */
static inline unsigned tu_busy(unsigned iters)
{
    volatile unsigned x = 0;
    unsigned k;

    for (k = 0; k < iters; k++)
        x += k;
    return x;
}

/* ------------------------------------------------------------------------ */
/* Time                                                                     */
/* ------------------------------------------------------------------------ */

#define TU_MS(x) ((int64_t)(x) * 1000000)

/*
 * Bound on every wait of a test for another thread (a gate, a latch): a
 * missing wake-up becomes a counted timeout and a failed assertion instead
 * of a hang. Long enough that no correct run comes near it under TSan.
 */
#define TU_WAIT_NS TU_MS(20000)

/* CLOCK_MONOTONIC in nanoseconds: the clock poolmap's timeouts use. */
static inline int64_t tu_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sleeps `ns`; only ever used to give a thread time to do something wrong
 * (start an item it must not start), never for correctness. */
static inline void tu_sleep_ns(int64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Busy for about `ns`: an item of a known cost without giving up the CPU. */
static inline void tu_spin_ns(int64_t ns)
{
    int64_t end = tu_now_ns() + ns;

    while (tu_now_ns() < end)
        ;
}

/* Absolute CLOCK_MONOTONIC time `ns` from now, for pthread_cond_timedwait
 * on a condition variable made with tu_cond_init. */
static inline struct timespec tu_deadline(int64_t ns)
{
    int64_t t = tu_now_ns() + ns;
    struct timespec ts = { (time_t)(t / 1000000000), (long)(t % 1000000000) };

    return ts;
}

static inline void tu_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t attr;

    assert_int_equal(pthread_condattr_init(&attr), 0);
    assert_int_equal(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC), 0);
    assert_int_equal(pthread_cond_init(cv, &attr), 0);
    pthread_condattr_destroy(&attr);
}

/* ------------------------------------------------------------------------ */
/* Latches and gates (for tests with threads of their own or async work)    */
/* ------------------------------------------------------------------------ */

/*
 * A counter that threads (callbacks included: it never asserts) add to, and
 * that the test thread waits on until it reaches a target.
 */
typedef struct tu_latch {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    size_t count;
} tu_latch;

static inline void tu_latch_init(tu_latch *l)
{
    assert_int_equal(pthread_mutex_init(&l->lock, NULL), 0);
    tu_cond_init(&l->cv);
    l->count = 0;
}

static inline void tu_latch_destroy(tu_latch *l)
{
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->lock);
}

static inline void tu_latch_add(tu_latch *l, size_t k)
{
    pthread_mutex_lock(&l->lock);
    l->count += k;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->lock);
}

static inline size_t tu_latch_get(tu_latch *l)
{
    size_t v;

    pthread_mutex_lock(&l->lock);
    v = l->count;
    pthread_mutex_unlock(&l->lock);
    return v;
}

/* Waits until count >= target, at most timeout_ns; 0 or ETIMEDOUT. */
static inline int tu_latch_wait(tu_latch *l, size_t target, int64_t timeout_ns)
{
    struct timespec dl = tu_deadline(timeout_ns);
    int rc = 0;

    pthread_mutex_lock(&l->lock);
    while (l->count < target && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&l->cv, &l->lock, &dl);
    rc = l->count >= target ? 0 : ETIMEDOUT;
    pthread_mutex_unlock(&l->lock);
    return rc;
}

/*
 * A call of n items that each wait (2 s at most) until all n have started:
 * on a pool of n threads they all start only if every worker joins the
 * call. Each item first spins 5 us, so that no call looks too small to
 * share (a call after one that did runs on its caller alone first, as the
 * header allows, and items waiting for each other would then wait the full
 * 2 s). Returns pool_for's status; *late counts the items that gave up.
 */
typedef struct tu_meet {
    tu_latch started;
    size_t n;
    atomic_uint late;
} tu_meet;

static inline int tu_meet_item(void *ctx, size_t i)
{
    tu_meet *m = ctx;

    (void)i;
    tu_spin_ns(5000);
    tu_latch_add(&m->started, 1);
    if (tu_latch_wait(&m->started, m->n, TU_MS(2000)) != 0)
        atomic_fetch_add(&m->late, 1);
    return 0;
}

static inline int tu_meet_call(pool_t *pool, size_t n, unsigned *late)
{
    tu_meet m;
    int rc;

    tu_latch_init(&m.started);
    m.n = n;
    atomic_init(&m.late, 0);
    rc = pool_for(pool, n, tu_meet_item, &m);
    *late = atomic_load(&m.late);
    tu_latch_destroy(&m.started);
    return rc;
}

/*
 * A gate callbacks block on until the test opens it: the way to hold an
 * item "running" for as long as a test needs, without sleeps. It counts the
 * threads that reached it, so the test can wait until k items are parked
 * there; a pass that gives up after TU_WAIT_NS is counted in `timeouts`.
 */
typedef struct tu_gate {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    int open;
    size_t entered;
    size_t timeouts;
} tu_gate;

static inline void tu_gate_init(tu_gate *g)
{
    assert_int_equal(pthread_mutex_init(&g->lock, NULL), 0);
    tu_cond_init(&g->cv);
    g->open = 0;
    g->entered = 0;
    g->timeouts = 0;
}

static inline void tu_gate_destroy(tu_gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->lock);
}

/* Called by a callback: announce arrival, then block until opened. */
static inline void tu_gate_pass(tu_gate *g)
{
    struct timespec dl = tu_deadline(TU_WAIT_NS);
    int rc = 0;

    pthread_mutex_lock(&g->lock);
    g->entered++;
    pthread_cond_broadcast(&g->cv);
    while (!g->open && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&g->cv, &g->lock, &dl);
    if (!g->open)
        g->timeouts++;
    pthread_mutex_unlock(&g->lock);
}

static inline void tu_gate_open(tu_gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->lock);
}

/* Waits until at least k threads reached the gate; 0 or ETIMEDOUT. */
static inline int tu_gate_await(tu_gate *g, size_t k)
{
    struct timespec dl = tu_deadline(TU_WAIT_NS);
    int rc = 0;

    pthread_mutex_lock(&g->lock);
    while (g->entered < k && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&g->cv, &g->lock, &dl);
    rc = g->entered >= k ? 0 : ETIMEDOUT;
    pthread_mutex_unlock(&g->lock);
    return rc;
}

static inline size_t tu_gate_entered(tu_gate *g)
{
    size_t v;

    pthread_mutex_lock(&g->lock);
    v = g->entered;
    pthread_mutex_unlock(&g->lock);
    return v;
}

static inline size_t tu_gate_timeouts(tu_gate *g)
{
    size_t v;

    pthread_mutex_lock(&g->lock);
    v = g->timeouts;
    pthread_mutex_unlock(&g->lock);
    return v;
}

/* Workers a pool has for async work: a pool of 1 starts one of its own. */
static inline size_t tu_async_workers(const pool_t *pool)
{
    return pool_size(pool) > 1 ? pool_size(pool) - 1 : 1;
}

/* Runs the group, honouring an optional test-name filter in argv[1]. */
#define TU_RUN(tests, argc, argv)                                          \
    ((argc) > 1 ? cmocka_set_test_filter((argv)[1]) : (void)0,             \
     cmocka_run_group_tests(tests, NULL, NULL))

#endif /* POOLMAP_TEST_UTIL_H */
