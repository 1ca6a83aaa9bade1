/*
 * job.c - the shared queue, how a call's items are claimed, and how a call
 * waits for its helpers.
 *
 * Protocol (pool->lock guards the queue and each job's link fields):
 *   caller  : link job at the tail, wake sleepers, run chunks itself, unlink,
 *             wait until job->attached == 0, return.
 *   worker  : under the lock pick the head job (attached++), rotate it to the
 *             tail so concurrent calls share the workers, run chunks without
 *             the lock, then under the lock report its failure and detach.
 * Items are claimed by CAS on job->next; no lock per chunk or item.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

/* Stack of pools whose items this thread is running, innermost first; lets
 * pool_destroy() refuse to wait for the very call that invoked it. */
struct pool__frame {
    const pool_t *pool;
    struct pool__frame *up;
};
static _Thread_local struct pool__frame *pool__frames;

bool pool__running_on(const pool_t *pool)
{
    for (const struct pool__frame *f = pool__frames; f; f = f->up)
        if (f->pool == pool)
            return true;
    return false;
}

/* ---- queue (pool->lock held) ------------------------------------------ */

static void queue_link(pool_t *pool, struct pool__job *job)
{
    job->qnext = NULL;
    job->qprev = pool->tail;
    if (pool->tail)
        pool->tail->qnext = job;
    else
        pool->head = job;
    pool->tail = job;
    job->linked = true;
    pool__store_relaxed(&pool->nqueued, pool__load_relaxed(&pool->nqueued) + 1);
}

static void queue_unlink(pool_t *pool, struct pool__job *job)
{
    if (!job->linked)
        return;
    if (job->qprev)
        job->qprev->qnext = job->qnext;
    else
        pool->head = job->qnext;
    if (job->qnext)
        job->qnext->qprev = job->qprev;
    else
        pool->tail = job->qprev;
    job->qprev = job->qnext = NULL;
    job->linked = false;
    pool__store_relaxed(&pool->nqueued, pool__load_relaxed(&pool->nqueued) - 1);
}

/* True when no further claim can yield an item that may start. */
static bool job_exhausted(struct pool__job *job)
{
    size_t next = pool__load_relaxed(&job->next);
    return next >= job->n || next >= pool__load_relaxed(&job->stop_at);
}

/* Report a failure (lock held); keeps the lowest index. */
static void job_report(struct pool__job *job, size_t index, int status)
{
    if (status != 0 && index < job->fail_index) {
        job->fail_index = index;
        job->fail_status = status;
    }
}

/* ---- claiming and running --------------------------------------------- */

/* Claim the next chunk [*b, *e). Guided: remaining / divisor, never below
 * min_chunk, so claims shrink as the call nears its end. */
static bool job_claim(struct pool__job *job, size_t *b, size_t *e)
{
    size_t n = job->n;
    size_t cur = pool__load_relaxed(&job->next);
    size_t end;
    do {
        if (cur >= n)
            return false;
        size_t rem = n - cur;
        size_t c = job->chunk ? job->chunk : rem / job->divisor;
        if (job->chunk == 0 && c < job->min_chunk)
            c = job->min_chunk;
        if (c > rem)
            c = rem;
        end = cur + c;
    } while (!pool__cas_weak_relaxed(&job->next, &cur, end));
    *b = cur;
    *e = end;
    return true;
}

/* Lower job->stop_at to at most `index`. */
static void job_stop_at(struct pool__job *job, size_t index)
{
    size_t cur = pool__load_relaxed(&job->stop_at);
    while (index < cur && !pool__cas_weak_relaxed(&job->stop_at, &cur, index)) {
    }
}

/* Run claimed chunks until none is left or one fails. Returns the failure
 * status (0 if none) with its index in *failed. */
static int job_work(pool_t *pool, struct pool__job *job, size_t *failed)
{
    struct pool__frame frame = { pool, pool__frames };
    size_t b, e;
    int rc = 0;

    pool__frames = &frame;
    while (job_claim(job, &b, &e)) {
        /* Claims only grow, so once one starts at or above a failure, so
         * does every later one. */
        if (b >= pool__load_relaxed(&job->stop_at))
            break;
        rc = job->body(job, b, e, failed);
        if (rc != 0) {
            job_stop_at(job, *failed);
            break;
        }
    }
    pool__frames = frame.up;
    return rc;
}

/* The serial loop: NULL pool, one-thread pool, or a call of one chunk. */
static int job_run_inline(pool_t *pool, struct pool__job *job)
{
    struct pool__frame frame = { pool, pool__frames };
    size_t failed = POOL_NO_INDEX;
    int rc = 0;

    pool__frames = &frame;
    for (size_t b = 0, e; b < job->n && rc == 0; b = e) {
        e = job->chunk && job->chunk < job->n - b ? b + job->chunk : job->n;
        rc = job->body(job, b, e, &failed);
    }
    pool__frames = frame.up;
    if (rc != 0)
        job->fail_index = failed;
    job->fail_status = rc;
    return rc;
}

/* ---- the caller's side ------------------------------------------------- */

static int job_run_parallel(pool_t *pool, struct pool__job *job)
{
    size_t failed = POOL_NO_INDEX;
    int rc;

    pthread_mutex_lock(&pool->lock);
    queue_link(pool, job);
    /* Wake only as many sleepers as could get an item; spinning workers
     * find the job without a wake-up. */
    size_t wake = pool->nthreads - 1;
    if (wake > job->n - 1)
        wake = job->n - 1;
    if (wake > pool->nsleeping)
        wake = pool->nsleeping;
    if (wake == pool->nsleeping && wake > 1)
        pthread_cond_broadcast(&pool->work_cv);
    else
        for (size_t i = 0; i < wake; i++)
            pthread_cond_signal(&pool->work_cv);
    pthread_mutex_unlock(&pool->lock);

    rc = job_work(pool, job, &failed);

    pthread_mutex_lock(&pool->lock);
    queue_unlink(pool, job);
    job_report(job, failed, rc);
    size_t attached = pool__load_relaxed(&job->attached);
    pthread_mutex_unlock(&pool->lock);

    if (attached != 0) {
        /* Helpers are finishing their last chunks: spin briefly, then sleep. */
        unsigned long long deadline = pool__now_ns() + POOL__SPIN_NS;
        unsigned spins = 0;
        while (pool__load_acquire(&job->attached) != 0) {
            pool__cpu_relax();
            if ((++spins & 63u) == 0 && pool__now_ns() > deadline)
                break;
        }
        if (pool__load_acquire(&job->attached) != 0) {
            pthread_mutex_lock(&pool->lock);
            while (pool__load_relaxed(&job->attached) != 0) {
                job->caller_sleeping = true;
                pthread_cond_wait(&pool->join_cv, &pool->lock);
            }
            pthread_mutex_unlock(&pool->lock);
        }
    }
    return job->fail_status;
}

int pool__run(pool_t *pool, struct pool__job *job)
{
    int rc;

    job->qprev = job->qnext = NULL;
    job->linked = false;
    job->caller_sleeping = false;
    job->fail_index = POOL_NO_INDEX;
    job->fail_status = 0;
    atomic_init(&job->attached, 0);
    atomic_init(&job->next, 0);
    atomic_init(&job->stop_at, SIZE_MAX);
    if (job->chunk > job->n)
        job->chunk = job->n;

    /* In a forked child the pool's workers and lock state are gone: run
     * serially, touching nothing of the pool. */
    if (pool == NULL || pool__forked(pool))
        return job_run_inline(NULL, job);

    atomic_fetch_add_explicit(&pool->calls, 1, memory_order_relaxed);
    if (pool->nthreads == 1 || job->n == 1 || job->chunk == job->n) {
        rc = job_run_inline(pool, job);
    } else {
        size_t p = pool->nthreads;
        job->divisor = 2 * p;
        /* Floor for guided claims: about 128 claims per thread at most, so
         * tiny items do not drown in claims. */
        job->min_chunk = job->n / (128 * p);
        if (job->min_chunk == 0)
            job->min_chunk = 1;
        rc = job_run_parallel(pool, job);
    }
    /* Last call out while pool_destroy() waits: let it go on. After the
     * unlock this thread does not touch the pool again. */
    if (atomic_fetch_sub_explicit(&pool->calls, 1, memory_order_acq_rel) ==
        (POOL__DESTROYING | 1)) {
        pthread_mutex_lock(&pool->lock);
        pool->drained = true;
        pthread_cond_broadcast(&pool->drain_cv);
        pthread_mutex_unlock(&pool->lock);
    }
    return rc;
}

/* ---- the worker's side ------------------------------------------------- */

/* Pick a job to help (lock held): the head, rotated to the tail so the next
 * worker helps the next call. Exhausted jobs are dropped from the queue. */
static struct pool__job *queue_pick(pool_t *pool)
{
    struct pool__job *job;
    while ((job = pool->head) != NULL) {
        if (!job_exhausted(job)) {
            pool__store_relaxed(&job->attached, pool__load_relaxed(&job->attached) + 1);
            if (job->qnext) {
                queue_unlink(pool, job);
                queue_link(pool, job);
            }
            return job;
        }
        queue_unlink(pool, job);
    }
    return NULL;
}

void pool__worker_loop(pool_t *pool)
{
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        struct pool__job *job = queue_pick(pool);
        if (job) {
            pthread_mutex_unlock(&pool->lock);
            size_t failed = POOL_NO_INDEX;
            int rc = job_work(pool, job, &failed);
            pthread_mutex_lock(&pool->lock);
            queue_unlink(pool, job);
            job_report(job, failed, rc);
            bool wake_caller = job->caller_sleeping;
            /* Last access to the job: the caller may return right after. */
            pool__store_release(&job->attached, pool__load_relaxed(&job->attached) - 1);
            if (wake_caller)
                pthread_cond_broadcast(&pool->join_cv);
            continue;
        }
        if (atomic_load(&pool->stop))
            break;

        /* Nothing queued: spin a little without the lock (a new call is
         * often just about to come), then sleep. */
        pthread_mutex_unlock(&pool->lock);
        unsigned long long deadline = pool__now_ns() + POOL__SPIN_NS;
        unsigned spins = 0;
        while (pool__load_relaxed(&pool->nqueued) == 0 && !atomic_load(&pool->stop)) {
            pool__cpu_relax();
            if ((++spins & 63u) == 0 && pool__now_ns() > deadline)
                break;
        }
        pthread_mutex_lock(&pool->lock);
        if (pool->head == NULL && !atomic_load(&pool->stop)) {
            pool->nsleeping++;
            pthread_cond_wait(&pool->work_cv, &pool->lock);
            pool->nsleeping--;
        }
    }
    pthread_mutex_unlock(&pool->lock);
}
