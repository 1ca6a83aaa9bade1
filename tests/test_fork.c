/*
 * test_fork.c - what a forked child can do with pools: the inherited pool
 * (whose workers do not exist in the child) still computes every call
 * correctly, serially, and never hangs, also when the fork happened while
 * another thread was in the middle of a call; the child can create, use and
 * destroy new pools; pool_destroy of the inherited pool returns, but from
 * a callback of that pool it aborts, as in the parent; a future of it
 * not done at the fork never completes in the child.
 *
 * Also here: the run-time version matches the header.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

#define N 20011 /* prime */

/* The sanitizer runtimes are not fork-safe when the parent has threads:
 * ThreadSanitizer cannot start threads in the child of a multi-threaded
 * fork (it dies, or mistakes the new threads for old ones), and gcc 12's
 * AddressSanitizer allocator can leave one of its internal locks held in
 * the child (seen here: both new threads of the child's new pool blocked in
 * __sanitizer::SizeClassAllocator64::GetFromAllocator, never returning). So
 * the fork tests run in the plain gcc and clang builds only. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#ifdef UNDER_SANITIZER
#define SKIP_UNDER_SANITIZER()                                                \
    do {                                                                      \
        fprintf(stderr, "skipped: the sanitizer runtime is not fork-safe "    \
                        "in a multi-threaded process\n");                    \
        skip();                                                               \
    } while (0)
#else
#define SKIP_UNDER_SANITIZER() ((void)0)
#endif

static int square(void *ctx, const void *in, void *out)
{
    (void)ctx;
    uint64_t x = *(const uint32_t *)in;
    *(uint64_t *)out = x * x;
    return 0;
}

static int async_task(void *ctx)
{
    (void)ctx;
    return 42;
}

/* Child exit codes: 0 all right, 10+k check k failed. */
static int check_map(pool_t *pool)
{
    static uint32_t in[N];
    static uint64_t out[N];
    for (size_t i = 0; i < N; i++) {
        in[i] = (uint32_t)i;
        out[i] = 0;
    }
    if (pool_map(pool, square, NULL, in, sizeof *in, out, sizeof *out, N) != 0)
        return 1;
    for (size_t i = 0; i < N; i++)
        if (out[i] != (uint64_t)i * i)
            return 2;
    return 0;
}

/*
 * AddressSanitizer's allocator (gcc 12, clang 14) is not fork-safe: a fork
 * while another thread holds one of its locks leaves that lock held in the
 * child, and the child's next threads hang in malloc. A worker that has just
 * been created holds them while ASan sets the thread up, so under ASan the
 * tests wait until every thread of a new pool runs before they fork (glibc's
 * malloc needs no such care, so the plain builds fork at once).
 */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#ifdef UNDER_ASAN
/* nthreads items that each wait (at most 10 s) until all have started can
 * only be run by nthreads distinct threads: every worker is running. */
static atomic_int threads_in;

static int wait_for_all(void *ctx, size_t i)
{
    int n = *(const int *)ctx;
    struct timespec ts = { 0, 100000 };
    (void)i;
    atomic_fetch_add(&threads_in, 1);
    for (int k = 0; k < 100000 && atomic_load(&threads_in) < n; k++)
        nanosleep(&ts, NULL);
    return 0;
}

static void settle_before_fork(pool_t *pool)
{
    int n = (int)pool_size(pool);
    pool_opts o = { 1, POOL_NO_INDEX };
    atomic_store(&threads_in, 0);
    pool_for_ex(pool, (size_t)n, wait_for_all, &n, &o);
}
#else
static void settle_before_fork(pool_t *pool)
{
    (void)pool;
}
#endif

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* The child's program: use the inherited pool, then a new one. */
static void child_main(pool_t *inherited)
{
    if (check_map(inherited) != 0)
        _exit(10);
    if (check_map(inherited) != 0) /* and again: nothing was left behind */
        _exit(11);
    /* Async work on the inherited pool runs at once, on this thread. */
    pool_future_t *f = NULL;
    if (pool_submit(inherited, async_task, NULL, NULL, &f) != 0 || !pool_future_done(f) ||
        pool_future_status(f) != 42)
        _exit(14);
    pool_future_free(f);
    pool_t *fresh = pool_create(3);
    if (fresh == NULL)
        _exit(12);
    if (check_map(fresh) != 0)
        _exit(13);
    pool_destroy(fresh);
    pool_destroy(inherited);
    _exit(0);
}

static int destroy_own_pool(void *ctx, size_t i)
{
    (void)i;
    pool_destroy(ctx);
    return 0;
}

/* Another child: destroys the inherited pool from a callback of it, which
 * must abort (message, SIGABRT) rather than free the pool under the call. */
static void child_destroys_from_callback(pool_t *inherited)
{
    struct rlimit no_core = { 0, 0 };
    FILE *quiet = freopen("/dev/null", "w", stderr);

    (void)quiet;
    signal(SIGABRT, SIG_DFL); /* cmocka's handler would longjmp instead */
    setrlimit(RLIMIT_CORE, &no_core);
    pool_for(inherited, 1, destroy_own_pool, inherited); /* one: no second destroy */
    _exit(4); /* reached only if pool_destroy returned */
}

/* Fork, run `child` there, and return its wait status; a child still
 * running after 20 s is killed and fails the test (a hang). */
static int fork_and_wait(pool_t *pool, void (*child)(pool_t *))
{
    int status = 0;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        child(pool);
    for (long ms = 0; ms < 20000; ms += 5) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return status;
        sleep_ms(5);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    fail_msg("forked child still running after 20 s (hang)");
    return status;
}

static void assert_child_ok(int status)
{
    if (!WIFEXITED(status))
        fail_msg("child died of signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : -1);
    TU_ASSERT_EQ(WEXITSTATUS(status), 0);
}

/* A pool of n, every worker running (see settle_before_fork). */
static pool_t *pool_to_fork(size_t n)
{
    tu_where("pool_create(%zu)", n);
    pool_t *pool = pool_create(n);
    assert_non_null(pool);
    settle_before_fork(pool);
    return pool;
}

static void child_uses_inherited_and_new_pools(void **state)
{
    static const size_t sizes[] = { 1, 2, 4 };
    (void)state;
    SKIP_UNDER_SANITIZER();
    for (size_t k = 0; k < TU_ARRAY_LEN(sizes); k++) {
        pool_t *pool = pool_to_fork(sizes[k]);
        TU_ASSERT_EQ(check_map(pool), 0); /* workers have run before the fork */
        assert_child_ok(fork_and_wait(pool, child_main));
        TU_ASSERT_EQ(check_map(pool), 0); /* the parent's pool is unaffected */
        pool_destroy(pool);
    }
}

/* Another thread keeps calling pool_map while the main thread forks: the
 * fork can catch workers and the queue lock in any state. */
struct busy {
    pool_t *pool;
    atomic_int stop;
    atomic_int calls;
    atomic_int errors;
};

static void *busy_caller(void *arg)
{
    struct busy *b = arg;
    while (!atomic_load(&b->stop)) {
        if (check_map(b->pool) != 0)
            atomic_fetch_add(&b->errors, 1);
        atomic_fetch_add(&b->calls, 1);
    }
    return NULL;
}

static void fork_during_calls_never_hangs_child(void **state)
{
    (void)state;
    SKIP_UNDER_SANITIZER();
    struct busy b = { pool_create(2), 0, 0, 0 };
    assert_non_null(b.pool);
    settle_before_fork(b.pool);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, busy_caller, &b), 0);
    for (int rep = 0; rep < 10; rep++) {
        while (atomic_load(&b.calls) < rep + 1)
            sleep_ms(1);
        tu_where("fork %d during calls", rep);
        assert_child_ok(fork_and_wait(b.pool, child_main));
    }
    atomic_store(&b.stop, 1);
    pthread_join(t, NULL);
    TU_ASSERT_EQ(atomic_load(&b.errors), 0);
    pool_destroy(b.pool);
}

static void child_destroying_inherited_pool_from_its_callback_aborts(void **state)
{
    static const size_t sizes[] = { 1, 2, 4 };
    (void)state;
    SKIP_UNDER_SANITIZER();
    for (size_t k = 0; k < TU_ARRAY_LEN(sizes); k++) {
        pool_t *pool = pool_to_fork(sizes[k]);
        int status = fork_and_wait(pool, child_destroys_from_callback);
        if (!WIFSIGNALED(status))
            fail_msg("%s: child exited with status %d instead of aborting", tu_where_buf(),
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        TU_ASSERT_EQ(WTERMSIG(status), SIGABRT);
        TU_ASSERT_EQ(check_map(pool), 0);
        pool_destroy(pool);
    }
}

/* A task the parent holds at a gate while it forks. */
static tu_gate held_gate;
static pool_future_t *held_future;

static int held_task(void *ctx)
{
    (void)ctx;
    tu_gate_pass(&held_gate);
    return 7;
}

/* A child whose inherited pool has a future not done at the fork: it never
 * completes there (its task runs in the parent only), a wait for it times
 * out, and the pool still computes and is destroyed. */
static void child_with_a_pending_future(pool_t *inherited)
{
    if (pool_future_done(held_future) != 0)
        _exit(20);
    if (pool_future_wait(held_future, 20000000) != ETIMEDOUT)
        _exit(21);
    if (pool_future_done(held_future) != 0 || pool_future_progress(held_future, NULL) != 0)
        _exit(22);
    if (check_map(inherited) != 0)
        _exit(23);
    pool_destroy(inherited);
    _exit(0);
}

static void parents_pending_future_never_completes_in_the_child(void **state)
{
    static const size_t sizes[] = { 1, 2, 4 };
    (void)state;
    SKIP_UNDER_SANITIZER();
    for (size_t k = 0; k < TU_ARRAY_LEN(sizes); k++) {
        pool_t *pool = pool_to_fork(sizes[k]);
        tu_gate_init(&held_gate);
        TU_ASSERT_EQ(pool_submit(pool, held_task, NULL, NULL, &held_future), 0);
        TU_ASSERT_EQ(tu_gate_await(&held_gate, 1), 0);
        assert_child_ok(fork_and_wait(pool, child_with_a_pending_future));
        /* In the parent it completes as usual. */
        tu_gate_open(&held_gate);
        TU_ASSERT_EQ(pool_future_wait(held_future, POOL_FOREVER), 0);
        TU_ASSERT_EQ(pool_future_status(held_future), 7);
        pool_future_free(held_future);
        TU_ASSERT_EQ(tu_gate_timeouts(&held_gate), 0);
        tu_gate_destroy(&held_gate);
        pool_destroy(pool);
    }
}

static void runtime_version_matches_header(void **state)
{
    (void)state;
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", POOLMAP_VERSION_MAJOR, POOLMAP_VERSION_MINOR,
             POOLMAP_VERSION_PATCH);
    TU_ASSERT_EQ(pool_version(), (unsigned)POOLMAP_VERSION);
    assert_string_equal(pool_version_string(), want);
    TU_ASSERT_TRUE(POOLMAP_VERSION == ((POOLMAP_VERSION_MAJOR << 16) |
                                       (POOLMAP_VERSION_MINOR << 8) | POOLMAP_VERSION_PATCH));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(runtime_version_matches_header),
        TU_TEST(child_uses_inherited_and_new_pools),
        TU_TEST(fork_during_calls_never_hangs_child),
        TU_TEST(child_destroying_inherited_pool_from_its_callback_aborts),
        TU_TEST(parents_pending_future_never_completes_in_the_child),
    };
    return TU_RUN(tests, argc, argv);
}
