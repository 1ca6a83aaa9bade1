/*
 * test_lifecycle.c - pool_create, pool_size, pool_destroy.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* out[i] = in[i] * 3 + 1 and counts the call. */
static int triple_plus_one(void *ctx, const void *in, void *out)
{
    tu_bump(ctx);
    *(uint32_t *)out = *(const uint32_t *)in * 3 + 1;
    return 0;
}

/* Runs a small pool_map on `pool` and asserts its results. */
static void assert_small_map_works(pool_t *pool, size_t n)
{
    uint32_t in[64], out[64];
    atomic_uint calls;
    size_t i;

    assert_true(n <= 64);
    atomic_init(&calls, 0);
    for (i = 0; i < n; i++) {
        in[i] = (uint32_t)i * 7;
        out[i] = 0;
    }
    TU_ASSERT_EQ(pool_map(pool, triple_plus_one, &calls, in, sizeof *in, out,
                          sizeof *out, n), 0);
    TU_ASSERT_EQ(atomic_load(&calls), n);
    for (i = 0; i < n; i++)
        TU_ASSERT_EQ(out[i], in[i] * 3 + 1);
}

/* ------------------------------------------------------------------------ */

static void create_reports_requested_size(void **state)
{
    static const size_t sizes[] = { 1, 2, 3, 4, 16 };
    size_t k;

    (void)state;
    for (k = 0; k < TU_ARRAY_LEN(sizes); k++) {
        pool_t *pool = pool_create(sizes[k]);

        tu_where("pool_create(%zu)", sizes[k]);
        TU_ASSERT_TRUE(pool != NULL);
        TU_ASSERT_EQ(pool_size(pool), sizes[k]);
        assert_small_map_works(pool, 64);
        pool_destroy(pool);
    }
}

static void create_zero_uses_online_cpu_count(void **state)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    pool_t *pool;

    (void)state;
    tu_where("pool_create(0), sysconf says %ld", ncpu);
    assert_true(ncpu >= 1);
    pool = pool_create(0);
    assert_non_null(pool);
    assert_true(pool_size(pool) >= 1);
    TU_ASSERT_EQ(pool_size(pool), (size_t)ncpu);
    assert_small_map_works(pool, 64);
    pool_destroy(pool);
}

static void size_of_null_pool_is_one(void **state)
{
    (void)state;
    assert_int_equal(pool_size(NULL), 1);
}

static void destroy_null_is_noop(void **state)
{
    (void)state;
    pool_destroy(NULL);
    pool_destroy(NULL);
    /* Still alive and the API still works afterwards. */
    assert_small_map_works(NULL, 10);
}

static void create_above_max_threads_fails_with_einval(void **state)
{
    static const size_t bad[] = { POOL_MAX_THREADS + 1, POOL_MAX_THREADS * 4,
                                  SIZE_MAX };
    size_t k;

    (void)state;
    for (k = 0; k < TU_ARRAY_LEN(bad); k++) {
        pool_t *pool;

        tu_where("pool_create(%zu)", bad[k]);
        errno = 0;
        pool = pool_create(bad[k]);
        TU_ASSERT_TRUE(pool == NULL);
        TU_ASSERT_EQ(errno, EINVAL);
    }
}

static void create_destroy_loop_with_map_each_time(void **state)
{
    size_t rounds = 200 * tu_scale(), r;

    (void)state;
    for (r = 0; r < rounds; r++) {
        size_t nthreads = 1 + r % 4;
        pool_t *pool = pool_create(nthreads);

        tu_where("round %zu, pool_create(%zu)", r, nthreads);
        TU_ASSERT_TRUE(pool != NULL);
        TU_ASSERT_EQ(pool_size(pool), nthreads);
        assert_small_map_works(pool, 1 + r % 64);
        pool_destroy(pool);
    }
}

static void destroy_without_any_call(void **state)
{
    size_t rounds = 50 * tu_scale(), r;

    (void)state;
    for (r = 0; r < rounds; r++) {
        size_t nthreads = r % 9; /* includes 0 = CPU count */
        pool_t *pool = pool_create(nthreads);

        tu_where("round %zu, pool_create(%zu)", r, nthreads);
        TU_ASSERT_TRUE(pool != NULL);
        pool_destroy(pool);
    }
}

/* ------------------------------------------------------------------------ */
/* pool_destroy waits for a call already in flight                          */
/* ------------------------------------------------------------------------ */

typedef struct inflight {
    pool_t *pool;
    size_t n;
    atomic_uint started;
    atomic_uint finished;
    int rc;
} inflight;

static int slow_item(void *ctx, size_t i)
{
    inflight *f = ctx;

    (void)i;
    atomic_fetch_add(&f->started, 1);
    sleep_ms(2);
    atomic_fetch_add(&f->finished, 1);
    return 0;
}

static void *inflight_caller(void *arg)
{
    inflight *f = arg;

    f->rc = pool_for(f->pool, f->n, slow_item, f);
    return NULL;
}

static void destroy_waits_for_call_in_flight(void **state)
{
    static const size_t sizes[] = { 1, 2, 4 };
    size_t k;

    (void)state;
    for (k = 0; k < TU_ARRAY_LEN(sizes); k++) {
        inflight f;
        pthread_t t;
        unsigned done_at_destroy;

        tu_where("pool_create(%zu)", sizes[k]);
        f.pool = pool_create(sizes[k]);
        assert_non_null(f.pool);
        f.n = 40;
        f.rc = -1;
        atomic_init(&f.started, 0);
        atomic_init(&f.finished, 0);
        assert_int_equal(pthread_create(&t, NULL, inflight_caller, &f), 0);
        while (atomic_load(&f.started) == 0)
            sleep_ms(1);
        /* The call is now in flight: destroy must wait until it is over. */
        pool_destroy(f.pool);
        done_at_destroy = atomic_load(&f.finished);
        assert_int_equal(pthread_join(t, NULL), 0);
        TU_ASSERT_EQ(done_at_destroy, f.n);
        TU_ASSERT_EQ(f.rc, 0);
        TU_ASSERT_EQ(atomic_load(&f.started), f.n);
    }
}

/*
 * The same when the call in flight is made by the thread that created the
 * pool (counted apart from other callers: see src/internal.h), including a
 * nested call from its first item, which must not end the wait early.
 */
static int slow_item_nesting(void *ctx, size_t i)
{
    inflight *f = ctx;

    if (i == 0 && pool_for(f->pool, 1, slow_item, f) != 0)
        return 1;
    return slow_item(ctx, i);
}

static void *destroy_when_started(void *arg)
{
    inflight *f = arg;

    while (atomic_load(&f->started) == 0)
        sleep_ms(1);
    pool_destroy(f->pool);
    /* Read here: the owner's call must be over once pool_destroy returns. */
    f->rc = (int)atomic_load(&f->finished);
    return NULL;
}

static void destroy_waits_for_creators_call(void **state)
{
    static const size_t sizes[] = { 1, 2, 4 };
    size_t k;

    (void)state;
    for (k = 0; k < TU_ARRAY_LEN(sizes); k++) {
        inflight f;
        pthread_t t;
        int rc;

        tu_where("pool_create(%zu), the creating thread calls", sizes[k]);
        f.pool = pool_create(sizes[k]);
        assert_non_null(f.pool);
        f.n = 40;
        f.rc = -1;
        atomic_init(&f.started, 0);
        atomic_init(&f.finished, 0);
        assert_int_equal(pthread_create(&t, NULL, destroy_when_started, &f), 0);
        rc = pool_for(f.pool, f.n, slow_item_nesting, &f);
        assert_int_equal(pthread_join(t, NULL), 0);
        TU_ASSERT_EQ(rc, 0);
        /* n items plus the nested call's one */
        TU_ASSERT_EQ(f.rc, (int)f.n + 1);
    }
}

/* ------------------------------------------------------------------------ */
/* Workers block signals                                                    */
/* ------------------------------------------------------------------------ */

static _Thread_local int on_test_thread;
static volatile sig_atomic_t sig_on_test_thread;
static volatile sig_atomic_t sig_elsewhere;

static void note_signal(int sig)
{
    (void)sig;
    if (on_test_thread)
        sig_on_test_thread = 1;
    else
        sig_elsewhere = 1;
}

static void workers_block_signals(void **state)
{
    struct sigaction sa, old;
    sigset_t usr1, prev, pending;
    pool_t *pool;
    int k;

    (void)state;
    on_test_thread = 1;
    sig_on_test_thread = 0;
    sig_elsewhere = 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = note_signal;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);

    /* Workers start while SIGUSR1 is deliverable on this thread, so they
     * only block it if pool_create blocks it for them. */
    assert_int_equal(pthread_sigmask(SIG_UNBLOCK, &usr1, &prev), 0);
    pool = pool_create(4);
    assert_non_null(pool);
    assert_small_map_works(pool, 64);

    /* With this thread blocking it too, no thread may take the signal. */
    assert_int_equal(pthread_sigmask(SIG_BLOCK, &usr1, NULL), 0);
    assert_int_equal(kill(getpid(), SIGUSR1), 0);
    for (k = 0; k < 100 && !sig_elsewhere; k++)
        sleep_ms(1);
    assert_int_equal(sig_elsewhere, 0);
    assert_int_equal(sigpending(&pending), 0);
    assert_int_equal(sigismember(&pending, SIGUSR1), 1);

    /* Unblocking here delivers it here. */
    assert_int_equal(pthread_sigmask(SIG_UNBLOCK, &usr1, NULL), 0);
    for (k = 0; k < 1000 && !sig_on_test_thread; k++)
        sleep_ms(1);
    assert_int_equal(sig_on_test_thread, 1);
    assert_int_equal(sig_elsewhere, 0);

    pool_destroy(pool);
    assert_int_equal(pthread_sigmask(SIG_SETMASK, &prev, NULL), 0);
    assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
}

/* ------------------------------------------------------------------------ */
/* pool_destroy from inside a callback aborts                               */
/* ------------------------------------------------------------------------ */

static int destroy_own_pool(void *ctx, size_t i)
{
    (void)i;
    pool_destroy(ctx);
    return 0;
}

static int noop_item(void *ctx, size_t i)
{
    (void)ctx;
    (void)i;
    return 0;
}

/* Child: a pool_for whose every item destroys the pool it runs on, made
 * by the creating thread or, with from_other_thread, by a second thread
 * (the creator's calls are tracked apart: see src/internal.h). With
 * from_empty_on_done, the destroy comes from the on_done of an async loop
 * of no items instead, which runs inside pool_for_async itself. */
static int from_other_thread, from_empty_on_done;

static void destroy_on_done(void *arg, pool_future_t *f)
{
    (void)f;
    pool_destroy(arg);
}

typedef struct destroy_call {
    pool_t *pool;
    size_t nthreads, n;
} destroy_call;

static void *destroying_caller(void *arg)
{
    destroy_call *d = arg;
    size_t k;

    /* Tiny calls first: the destroying call may then run on the caller
     * alone before it is shared (src/job.c); that must be caught too. */
    for (k = 0; k < 100; k++)
        pool_for(d->pool, d->nthreads, noop_item, NULL);
    if (from_empty_on_done) {
        pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
        pool_future_t *f;
        opts.on_done = destroy_on_done;
        opts.on_done_arg = d->pool;
        pool_for_async(d->pool, 0, noop_item, NULL, &opts, &f);
        return NULL;
    }
    pool_for(d->pool, d->n, destroy_own_pool, d->pool);
    return NULL;
}

static void child_destroys_from_callback(size_t nthreads, size_t n)
{
    static const int reset[] = { SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE };
    struct rlimit no_core = { 0, 0 };
    destroy_call d;
    pthread_t t;
    size_t k;

    /* cmocka catches crash signals and longjmps back into the test runner;
     * the child must die of them instead. */
    for (k = 0; k < TU_ARRAY_LEN(reset); k++)
        signal(reset[k], SIG_DFL);
    setrlimit(RLIMIT_CORE, &no_core);
    d.pool = pool_create(nthreads);
    if (d.pool == NULL)
        _exit(3);
    d.nthreads = nthreads;
    d.n = n;
    if (!from_other_thread)
        destroying_caller(&d);
    else if (pthread_create(&t, NULL, destroying_caller, &d) != 0 ||
             pthread_join(t, NULL) != 0)
        _exit(5);
    _exit(4); /* reached only if pool_destroy returned */
}

/*
 * Forks a child that calls pool_destroy from a callback; waits at most 10 s.
 * Returns the child's wait status (or kills it and fails); stores how many
 * bytes it wrote to stderr in *stderr_bytes.
 */
static int run_destroy_child(size_t nthreads, size_t n, size_t *stderr_bytes)
{
    int fds[2], status = 0, waited;
    pid_t pid;
    char buf[512];
    ssize_t got;
    long ms;

    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        if (dup2(fds[1], STDERR_FILENO) < 0)
            _exit(2);
        child_destroys_from_callback(nthreads, n);
    }
    close(fds[1]);
    assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);

    *stderr_bytes = 0;
    for (ms = 0, waited = 0; ms < 10000; ms += 5) {
        while ((got = read(fds[0], buf, sizeof buf)) > 0)
            *stderr_bytes += (size_t)got;
        waited = (int)waitpid(pid, &status, WNOHANG);
        if (waited == pid)
            break;
        sleep_ms(5);
    }
    if (waited != pid) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        close(fds[0]);
        fail_msg("%s: child still running after 10 s (deadlock?)",
                 tu_where_buf());
    }
    while ((got = read(fds[0], buf, sizeof buf)) > 0)
        *stderr_bytes += (size_t)got;
    close(fds[0]);
    return status;
}

/* Spins for 100 us: long enough that the workers wake and take items. */
static int spin_item(void *ctx, size_t i)
{
    (void)ctx;
    (void)i;
    tu_spin_ns(100000);
    return 0;
}

static double cpu_seconds(void)
{
    struct rusage ru;

    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

/* After a call the workers spin for a moment (the next call often comes
 * at once), half a millisecond in all, then sleep: a pool left idle for
 * 300 ms burns a small part of that in CPU time, however many workers. */
static void idle_workers_sleep_after_a_short_spin(void **state)
{
    static const size_t sizes[] = { 2, 4, 8 };

    (void)state;
    for (size_t p = 0; p < TU_ARRAY_LEN(sizes); p++) {
        pool_t *pool = tu_pool_open(sizes[p]);

        tu_where("pool_create(%zu), idle for 300 ms after a call", sizes[p]);
        TU_ASSERT_EQ(pool_for(pool, 8 * sizes[p], spin_item, NULL), 0);
        double before = cpu_seconds();
        sleep_ms(300);
        double burnt = cpu_seconds() - before;
        TU_ASSERT_TRUE(burnt < 0.030);
        pool_destroy(pool);
    }
}

/* A call on a pool whose workers have gone to sleep wakes as many of them
 * as could get an item, whether it goes on the offer that spinning workers
 * poll (pools of up to 32 threads) or on the queue (40). Calls 2 ms and
 * more apart: after four of them the workers spin only briefly before
 * they sleep (src/job.c, struct pool__idle), and must still come. */
static void a_call_wakes_the_sleeping_workers_it_needs(void **state)
{
    static const size_t sizes[] = { 2, 4, 8, 40 };

    (void)state;
    for (size_t p = 0; p < TU_ARRAY_LEN(sizes); p++) {
        pool_t *pool = tu_pool_open(sizes[p]);

        for (int rep = 0; rep < 10; rep++) {
            unsigned late;
            tu_where("pool_create(%zu), call %d after the workers slept", sizes[p], rep);
            sleep_ms(rep % 2 ? 20 : 2); /* asleep (spin: 0.5 ms in all) */
            /* Every item waits for all to start (see tu_meet_call). */
            TU_ASSERT_EQ(tu_meet_call(pool, sizes[p], &late), 0);
            TU_ASSERT_EQ(late, 0);
        }
        pool_destroy(pool);
    }
}

static void destroy_inside_callback_aborts_with_message(void **state)
{
    /* 1 thread: the callback runs on the caller; 2 and 4: also on workers. */
    static const size_t sizes[] = { 1, 2, 4 };
    size_t k;

    (void)state;
    /* Runs under TSan too: this process has no other thread when it forks
     * (every earlier pool is destroyed), which TSan supports. */
    for (k = 0; k < 3 * TU_ARRAY_LEN(sizes); k++) {
        size_t err_bytes;
        int status;

        from_other_thread = k / TU_ARRAY_LEN(sizes) == 1;
        from_empty_on_done = k / TU_ARRAY_LEN(sizes) == 2;
        tu_where("child with pool_create(%zu), called from the %s",
                 sizes[k % TU_ARRAY_LEN(sizes)],
                 from_empty_on_done  ? "on_done of an async loop of 0 items"
                 : from_other_thread ? "second thread"
                                     : "creating thread");
        status = run_destroy_child(sizes[k % TU_ARRAY_LEN(sizes)], 64, &err_bytes);
        if (!WIFSIGNALED(status))
            fail_msg("%s: child exited with status %d instead of aborting",
                     tu_where_buf(), WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        TU_ASSERT_EQ(WTERMSIG(status), SIGABRT);
        TU_ASSERT_TRUE(err_bytes > 0);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(create_reports_requested_size),
        TU_TEST(create_zero_uses_online_cpu_count),
        TU_TEST(size_of_null_pool_is_one),
        TU_TEST(destroy_null_is_noop),
        TU_TEST(create_above_max_threads_fails_with_einval),
        TU_TEST(create_destroy_loop_with_map_each_time),
        TU_TEST(destroy_without_any_call),
        TU_TEST(destroy_waits_for_call_in_flight),
        TU_TEST(destroy_waits_for_creators_call),
        TU_TEST(workers_block_signals),
        TU_TEST(idle_workers_sleep_after_a_short_spin),
        TU_TEST(a_call_wakes_the_sleeping_workers_it_needs),
        TU_TEST(destroy_inside_callback_aborts_with_message),
    };

    return TU_RUN(tests, argc, argv);
}
