/*
 * pool.c - pool lifecycle: create, destroy, size, and the worker threads.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

_Atomic unsigned pool__fork_generation;
static pthread_once_t pool__atfork_once = PTHREAD_ONCE_INIT;

static void pool__atfork_child(void)
{
    atomic_fetch_add(&pool__fork_generation, 1);
}

static int pool__atfork_error; /* written once, under pool__atfork_once */

static void pool__atfork_register(void)
{
    pool__atfork_error = pthread_atfork(NULL, NULL, pool__atfork_child);
}

static void *worker_main(void *arg)
{
    pool__worker_loop(arg);
    return NULL;
}

/* Stop and join the first pool->nworkers workers, then free the pool. */
static void pool_teardown(pool_t *pool)
{
    atomic_store(&pool->stop, true);
    pool__parking_wake(&pool->parking, INT_MAX);
    for (size_t i = 0; i < pool->nworkers; i++)
        pthread_join(pool->workers[i], NULL);
    pthread_cond_destroy(&pool->drain_cv);
    pthread_cond_destroy(&pool->join_cv);
    pool__parking_destroy(&pool->parking);
    pthread_mutex_destroy(&pool->lock);
    free(pool->workers);
    free(pool);
}

/* Start workers until pool->nworkers == count. Workers inherit a full
 * signal mask: signals belong to the application's threads. */
static int start_workers(pool_t *pool, size_t count)
{
    sigset_t all, old;
    int rc = 0;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (pool->nworkers < count) {
        rc = pthread_create(&pool->workers[pool->nworkers], NULL, worker_main, pool);
        if (rc != 0)
            break;
        pool->nworkers++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* Both clocks at one moment: the tick count between two monotonic-clock
 * reads less than a microsecond apart (a few retries if the thread was
 * preempted in between, then whatever the last try gave). */
static void read_clocks(unsigned long long *ticks, unsigned long long *ns)
{
    for (int tries = 0;; tries++) {
        unsigned long long before = pool__now_ns();
        *ticks = pool__ticks();
        *ns = pool__now_ns();
        if (*ns - before < 1000 || tries == 8) {
            *ns = before + (*ns - before) / 2;
            return;
        }
    }
}

/* POOL__TINY_NS in ticks, from the clocks read at (t0, ns0) and now, at
 * least 20 us later: the workers' start usually covers that, or a spin
 * the rest. Each end is placed within half a bracket of two clock reads
 * (tens of ns): a few parts in a thousand of 20 us. */
static unsigned long long tiny_ticks_since(unsigned long long t0, unsigned long long ns0)
{
    unsigned long long t1, ns1;
    do
        read_clocks(&t1, &ns1);
    while (ns1 - ns0 < 20000);
    unsigned long long ticks = (t1 - t0) * POOL__TINY_NS / (ns1 - ns0);
    /* A counter that ran backwards (not kept in step across CPUs, and the
     * thread moved) or at a rate outside 0.1-10 GHz: assume 2.6 GHz. */
    if (t1 < t0 || ticks < POOL__TINY_NS / 10 || ticks > POOL__TINY_NS * 10)
        ticks = POOL__TINY_NS * 26 / 10;
    return ticks;
}

void pool__steal_gap(void)
{
}

void pool__requeue_gap(void)
{
}

unsigned pool__cpu_read(void)
{
#ifdef POOL__HAVE_STREAM
    return pool__cpu_probe();
#else
    return 0;
#endif
}

int pool__ensure_worker(pool_t *pool)
{
    return pool->nworkers > 0 || start_workers(pool, 1) == 0 ? 0 : EAGAIN;
}

/* Initialise the lock and condition variables; unwind on failure. */
static int pool_init_sync(pool_t *pool)
{
    int rc = pool__mutex_init_adaptive(&pool->lock);
    if (rc != 0)
        return rc;
    if ((rc = pool__parking_init(&pool->parking)) != 0)
        goto fail_parking;
    if ((rc = pthread_cond_init(&pool->join_cv, NULL)) != 0)
        goto fail_join;
    if ((rc = pthread_cond_init(&pool->drain_cv, NULL)) != 0)
        goto fail_drain;
    return 0;
fail_drain:
    pthread_cond_destroy(&pool->join_cv);
fail_join:
    pool__parking_destroy(&pool->parking);
fail_parking:
    pthread_mutex_destroy(&pool->lock);
    return rc;
}

pool_t *pool_create(size_t nthreads)
{
    if (nthreads > POOL_MAX_THREADS) {
        errno = EINVAL;
        return NULL;
    }
    /* Without the fork handler the documented fork() behaviour would not
     * hold: refuse to make pools rather than break it silently. */
    pthread_once(&pool__atfork_once, pool__atfork_register);
    if (pool__atfork_error != 0) {
        errno = ENOMEM;
        return NULL;
    }
    if (nthreads == 0)
        nthreads = pool__cpu_count();
    if (nthreads > POOL_MAX_THREADS)
        nthreads = POOL_MAX_THREADS;

    /* aligned_alloc: the struct has cache-line aligned members. */
    size_t size = (sizeof(pool_t) + POOL__CACHELINE - 1) / POOL__CACHELINE * POOL__CACHELINE;
    pool_t *pool = aligned_alloc(POOL__CACHELINE, size);
    if (pool == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    for (int lane = 0; lane < POOL__NLANES; lane++)
        pool->lanes[lane].head = pool->lanes[lane].tail = NULL;
    pool->live = NULL;
    pool->drained = false;
    pool->fork_generation = pool__load_relaxed(&pool__fork_generation);
    pool->nthreads = nthreads;
    pool->nworkers = 0;
    atomic_init(&pool->nqueued, 0);
    for (int lane = 0; lane < POOL__NLANES; lane++)
        atomic_init(&pool->lane_queued[lane], 0);
    atomic_init(&pool->stop, false);
    pool__offer_init(pool);
    atomic_init(&pool->offer_slots, NULL);
    atomic_init(&pool->nsleeping, 0);
    atomic_init(&pool->calls, 0);
    atomic_init(&pool->owner_busy, false);
    atomic_init(&pool->tiny_calls, false);
    pool->tiny_ticks = POOL__TINY_NS; /* a pool of 1 never shares a call */
    pool->claim_ticks = POOL__CLAIM_NS;
    /* A pool of 1 starts one worker for async work. */
    size_t idlers = nthreads > 1 ? nthreads - 1 : 1;
    pool->spin_ns = POOL__IDLE_SPIN_NS / idlers;
    if (idlers > POOL__IDLE_SPIN_WORKERS)
        pool->spin_ns = pool->spin_ns * POOL__IDLE_SPIN_WORKERS / idlers;
    if (pool->spin_ns < POOL__IDLE_SPIN_MIN_NS)
        pool->spin_ns = POOL__IDLE_SPIN_MIN_NS;
    pool->owner = &pool__self;

    /* Room for one worker even in a pool of 1: async work starts one. */
    pool->workers = calloc(nthreads > 1 ? nthreads - 1 : 1, sizeof *pool->workers);
    if (pool->workers == NULL) {
        free(pool);
        errno = ENOMEM;
        return NULL;
    }
    int rc = pool_init_sync(pool);
    if (rc != 0) {
        free(pool->workers);
        free(pool);
        errno = rc == ENOMEM ? ENOMEM : EAGAIN;
        return NULL;
    }

    unsigned long long t0 = 0, ns0 = 0;
    if (nthreads > 1) /* a pool of 1 keeps the budget it never uses */
        read_clocks(&t0, &ns0);
    rc = start_workers(pool, nthreads - 1);
    if (rc != 0) {
        pool_teardown(pool);
        errno = EAGAIN;
        return NULL;
    }
    if (nthreads > 1) {
        pool->tiny_ticks = tiny_ticks_since(t0, ns0);
        pool->claim_ticks = pool->tiny_ticks * POOL__CLAIM_NS / POOL__TINY_NS;
    }
    return pool;
}

/* Wait until the creating thread has no blocking call in flight. It marks
 * them without atomic read-modify-writes, so it cannot signal the last one
 * out; poll, backing off from 1 us to 1 ms. Clear at once in the usual case. */
static void wait_owner(pool_t *pool)
{
    long ns = 1000;
    while (pool__load_acquire(&pool->owner_busy)) {
        struct timespec ts = { 0, ns };
        nanosleep(&ts, NULL);
        if (ns < 1000000)
            ns *= 2;
    }
}

/* pool_destroy() from a callback of the pool it destroys. */
static _Noreturn void refuse_from_callback(void)
{
    fputs("poolmap: pool_destroy() called from a callback running on the "
          "same pool; it would wait for itself forever. Aborting.\n",
          stderr);
    abort();
}

void pool_destroy(pool_t *pool)
{
    if (pool == NULL)
        return;
    if (pool__forked(pool)) {
        /* Inherited through fork(): its threads do not exist here and its
         * locks may be held by them, so only the memory is released; but
         * not from under a callback of it, which would go on in freed
         * memory. Only this thread's frames tell (owner_busy may be the
         * parent's, left set by the fork). */
        for (const struct pool__frame *f = pool__frames; f; f = f->up)
            if (f->pool == pool)
                refuse_from_callback();
        free(pool->workers);
        free(pool);
        return;
    }
    if (pool__running_on(pool))
        refuse_from_callback();
    /* Wait for calls in flight. The last one out sets drained under the
     * lock (see pool__run), so no call touches the pool after we go on. */
    pthread_mutex_lock(&pool->lock);
    size_t before = atomic_fetch_or(&pool->calls, POOL__DESTROYING);
    if (before != 0)
        while (!pool->drained)
            pthread_cond_wait(&pool->drain_cv, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
    wait_owner(pool);
    pool_teardown(pool);
}

size_t pool_size(const pool_t *pool)
{
    return pool ? pool->nthreads : 1;
}

#define POOL__STR2(x) #x
#define POOL__STR(x) POOL__STR2(x)

unsigned pool_version(void)
{
    return POOLMAP_VERSION;
}

const char *pool_version_string(void)
{
    return POOL__STR(POOLMAP_VERSION_MAJOR) "." POOL__STR(POOLMAP_VERSION_MINOR) "."
           POOL__STR(POOLMAP_VERSION_PATCH);
}
