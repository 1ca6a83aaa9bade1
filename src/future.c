/*
 * future.c - async handles: submit, wait, cancel, progress, chunk stream,
 * completion fd, gather and wait-any.
 *
 * Lifetime: a future holds two references, the user's handle and the pool's
 * (dropped by the completing thread after on_done returned). Waiters block
 * on the future's own lock and condition variable. Threads that need the
 * pool (helping, cancelling) enter it as a call while the future is not done,
 * under the future's lock: completion sets `done` under that lock before the
 * async call leaves the pool, so the pool outlives them.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- time ---------------------------------------------------------------- */

/* Absolute CLOCK_MONOTONIC deadline for a relative timeout >= 0. */
static struct timespec deadline_after(int64_t timeout_ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t sec = timeout_ns / 1000000000;
    int64_t nsec = ts.tv_nsec + timeout_ns % 1000000000;
    if (nsec >= 1000000000) {
        nsec -= 1000000000;
        sec++;
    }
    ts.tv_sec += (time_t)sec;
    ts.tv_nsec = (long)nsec;
    return ts;
}

static int64_t ns_left(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t left = (int64_t)(deadline->tv_sec - now.tv_sec) * 1000000000 +
                   (deadline->tv_nsec - now.tv_nsec);
    return left > 0 ? left : 0;
}

/* Wait on cv until signalled or past *deadline (NULL: forever). */
static int cv_wait(pthread_cond_t *cv, pthread_mutex_t *lock, const struct timespec *deadline)
{
    if (deadline == NULL)
        return pthread_cond_wait(cv, lock);
    return pthread_cond_timedwait(cv, lock, deadline);
}

static int cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t attr;
    int rc = pthread_condattr_init(&attr);
    if (rc != 0)
        return rc;
    rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
    return rc;
}

/* ---- lifetime ------------------------------------------------------------ */

static void future_release(struct pool_future *f)
{
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
        return;
    pool__event_close(f->fd_read, f->fd_write);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->lock);
    free(f->records);
    free(f);
}

static int future_new(pool_t *pool, const pool_async_opts *opts, struct pool_future **out)
{
    size_t size = (sizeof(struct pool_future) + POOL__CACHELINE - 1) / POOL__CACHELINE *
                  POOL__CACHELINE;
    struct pool_future *f = aligned_alloc(POOL__CACHELINE, size);
    if (f == NULL)
        return ENOMEM;
    memset(f, 0, sizeof *f);
    if (pthread_mutex_init(&f->lock, NULL) != 0) {
        free(f);
        return ENOMEM;
    }
    if (cond_init_monotonic(&f->cv) != 0) {
        pthread_mutex_destroy(&f->lock);
        free(f);
        return ENOMEM;
    }
    f->pool = pool;
    f->fd_read = f->fd_write = -1;
    f->failed_index = POOL_NO_INDEX;
    atomic_init(&f->done, false);
    atomic_init(&f->stream_waiting, false);
    atomic_init(&f->has_fd, false);
    atomic_init(&f->refs, 2);
    atomic_init(&f->nrecords, 0);
    atomic_init(&f->items_done, 0);
    if (opts) {
        f->on_done = opts->on_done;
        f->on_done_arg = opts->on_done_arg;
        f->flags = opts->flags;
        f->job.chunk = opts->chunk;
    }
    f->job.future = f;
    *out = f;
    return 0;
}

/* Discard a future that never started (submission failed). */
static void future_discard(struct pool_future *f)
{
    atomic_store(&f->refs, 1);
    future_release(f);
}

/* ---- completion (called from job.c) -------------------------------------- */

void pool__future_chunk_done(struct pool_future *f, size_t begin, size_t stop, int rc)
{
    if (stop > begin)
        atomic_fetch_add_explicit(&f->items_done, stop - begin, memory_order_relaxed);
    if (f->records == NULL || (stop == begin && rc == 0))
        return;
    size_t slot = atomic_fetch_add(&f->nrecords, 1);
    struct pool__record *r = &f->records[slot];
    r->begin = begin;
    r->end = stop;
    r->status = rc;
    atomic_store(&r->ready, 1);
    /* seq_cst store above and load here pair with pool_future_next's store
     * of stream_waiting and load of ready: one side sees the other. */
    if (atomic_load(&f->stream_waiting)) {
        pthread_mutex_lock(&f->lock);
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->lock);
    }
}

void pool__future_publish(struct pool_future *f)
{
    pthread_mutex_lock(&f->lock);
    f->pool = NULL;
    /* The fd first, in the same critical section as `done`: whoever sees
     * done finds the fd readable, and whoever saw the fd readable and then
     * asks is_done_sync() gets the answer under this lock. */
    pool__event_signal(f->fd_write);
    atomic_store_explicit(&f->done, true, memory_order_release);
    pthread_cond_broadcast(&f->cv);
    for (struct pool__wnode *w = f->waiters; w; w = w->next) {
        pthread_mutex_lock(&w->waiter->lock);
        w->waiter->fired = true;
        pthread_cond_signal(&w->waiter->cv);
        pthread_mutex_unlock(&w->waiter->lock);
    }
    pthread_mutex_unlock(&f->lock);
}

void pool__future_settle(pool_t *pool, struct pool_future *f)
{
    if (f->on_done && pool)
        pool__call_done_fn(pool, f);
    else if (f->on_done)
        f->on_done(f->on_done_arg, f);
    future_release(f);
    if (pool)
        pool__call_end(pool);
}

void pool__future_finish(struct pool_future *f)
{
    pool_t *pool = f->pool;
    pool__future_publish(f);
    pool__future_settle(pool, f);
}

/* Settle a future whose job ran inline (NULL pool) or never ran. */
static void future_finish_inline(struct pool_future *f, int rc)
{
    f->status = rc;
    f->failed_index = rc ? f->job.fail_index : POOL_NO_INDEX;
    pool__future_finish(f);
}

/* ---- submission ---------------------------------------------------------- */

/* Prepare and queue f's job (its body and fields already set). */
static int future_start(pool_t *pool, struct pool_future *f, pool_future_t **out)
{
    struct pool__job *job = &f->job;
    if (pool && pool__forked(pool))
        pool = f->pool = NULL; /* inherited through fork(): run it here, now */
    pool__job_prepare(pool, job);
    if (f->flags & POOL_ASYNC_CHUNKS) {
        size_t cap = pool__job_count_chunks(job);
        f->records = calloc(cap ? cap : 1, sizeof *f->records);
        if (f->records == NULL) {
            future_discard(f);
            return ENOMEM;
        }
        f->nrecords_cap = cap;
    }
    if (pool == NULL || job->n == 0) {
        /* Nothing to queue: done here, and on_done runs on this thread
         * before the call returns; with a pool (no items), as a callback
         * of that pool, like any on_done. */
        int rc = job->n ? pool__submit(NULL, job) : 0;
        f->pool = pool;
        if (pool)
            pool__call_begin(pool);
        *out = f;
        future_finish_inline(f, rc);
        return 0;
    }
    pool__call_begin(pool);
    int rc = pool__submit(pool, job);
    if (rc != 0) {
        pool__call_end(pool);
        future_discard(f);
        return rc;
    }
    *out = f;
    return 0;
}

static int task_body(struct pool__job *job, size_t b, size_t e, size_t *stop)
{
    (void)e;
    int rc = job->fn.task(job->ctx);
    *stop = rc ? b : b + 1;
    return rc;
}

int pool_submit(pool_t *pool, pool_task_fn fn, void *ctx, const pool_async_opts *opts,
                pool_future_t **future)
{
    if (fn == NULL || future == NULL)
        return EINVAL;
    struct pool_future *f;
    int rc = future_new(pool, opts, &f);
    if (rc != 0)
        return rc;
    f->job.chunk = 0;
    f->job.n = 1;
    f->job.body = task_body;
    f->job.fn.task = fn;
    f->job.ctx = ctx;
    return future_start(pool, f, future);
}

int pool_map_async(pool_t *pool, pool_map_fn fn, void *ctx, const void *in, size_t in_size,
                   void *out, size_t out_size, size_t n, const pool_async_opts *opts,
                   pool_future_t **future)
{
    if (future == NULL)
        return EINVAL;
    int rc = pool__check_map(fn, in, in_size, out, out_size, n);
    if (rc != 0)
        return rc;
    struct pool_future *f;
    if ((rc = future_new(pool, opts, &f)) != 0)
        return rc;
    pool__init_map_job(&f->job, fn, ctx, in, in_size, out, out_size, n);
    return future_start(pool, f, future);
}

int pool_for_async(pool_t *pool, size_t n, pool_for_fn fn, void *ctx,
                   const pool_async_opts *opts, pool_future_t **future)
{
    if (fn == NULL || future == NULL)
        return EINVAL;
    struct pool_future *f;
    int rc = future_new(pool, opts, &f);
    if (rc != 0)
        return rc;
    pool__init_for_job(&f->job, fn, ctx, n);
    return future_start(pool, f, future);
}

/* ---- queries --------------------------------------------------------------- */

static bool is_done(const struct pool_future *f)
{
    return atomic_load_explicit(&((struct pool_future *)f)->done, memory_order_acquire);
}

/* is_done, except that the not-done answer of a future whose fd was made is
 * confirmed under its lock: the fd is signalled just before `done` is
 * stored, so a caller that saw the fd readable must not read "not done". */
static bool is_done_sync(const struct pool_future *cf)
{
    struct pool_future *f = (struct pool_future *)cf;
    if (is_done(f) || !atomic_load_explicit(&f->has_fd, memory_order_acquire))
        return is_done(f);
    pthread_mutex_lock(&f->lock);
    bool done = is_done(f);
    pthread_mutex_unlock(&f->lock);
    return done;
}

int pool_future_done(const pool_future_t *future)
{
    return future && is_done_sync(future);
}

int pool_future_status(const pool_future_t *future)
{
    if (future == NULL)
        return EINVAL;
    return is_done_sync(future) ? future->status : EBUSY;
}

size_t pool_future_failed_index(const pool_future_t *future)
{
    return future && is_done_sync(future) ? future->failed_index : POOL_NO_INDEX;
}

size_t pool_future_progress(const pool_future_t *future, size_t *total)
{
    if (future == NULL) {
        if (total)
            *total = 0;
        return 0;
    }
    if (total)
        *total = future->job.n;
    return atomic_load_explicit(&((struct pool_future *)future)->items_done,
                                memory_order_relaxed);
}

/* Enter f's pool as a call if f is not done; returns the pool or NULL. */
static pool_t *future_enter_pool(struct pool_future *f)
{
    pool_t *pool = NULL;
    pthread_mutex_lock(&f->lock);
    if (!is_done(f) && f->pool) {
        pool = f->pool;
        pool__call_begin(pool);
    }
    pthread_mutex_unlock(&f->lock);
    return pool;
}

/* ---- waiting ----------------------------------------------------------------- */

int pool_future_wait(pool_future_t *f, int64_t timeout_ns)
{
    if (f == NULL)
        return EINVAL;
    if (is_done_sync(f))
        return 0;
    if (timeout_ns == 0)
        return ETIMEDOUT;

    struct timespec deadline;
    const struct timespec *dl = NULL;
    if (timeout_ns > 0) {
        deadline = deadline_after(timeout_ns);
        dl = &deadline;
    } else {
        /* Waiting forever: run what nobody has claimed yet ourselves. */
        pool_t *pool = future_enter_pool(f);
        if (pool) {
            pool__help(pool, &f->job);
            pool__call_end(pool);
        }
    }

    int rc = 0;
    pthread_mutex_lock(&f->lock);
    while (!is_done(f) && rc != ETIMEDOUT)
        rc = cv_wait(&f->cv, &f->lock, dl);
    int done = is_done(f);
    pthread_mutex_unlock(&f->lock);
    return done ? 0 : ETIMEDOUT;
}

int pool_wait_all(pool_future_t *const *futures, size_t n, int64_t timeout_ns)
{
    if (futures == NULL && n > 0)
        return EINVAL;
    for (size_t i = 0; i < n; i++)
        if (futures[i] == NULL)
            return EINVAL;
    struct timespec deadline;
    if (timeout_ns > 0)
        deadline = deadline_after(timeout_ns);
    for (size_t i = 0; i < n; i++) {
        int64_t t = timeout_ns > 0 ? ns_left(&deadline) : timeout_ns;
        if (timeout_ns > 0 && t == 0 && !is_done_sync(futures[i]))
            return ETIMEDOUT;
        if (pool_future_wait(futures[i], t) != 0)
            return ETIMEDOUT;
    }
    return 0;
}

/* The lowest index of a done future. `sync`: ask as pool_future_done does
 * (is_done_sync); not under the waiter's lock, which a completing thread
 * takes inside the future's. */
static bool any_done(pool_future_t *const *futures, size_t n, size_t *index, bool sync)
{
    for (size_t i = 0; i < n; i++) {
        if (sync ? is_done_sync(futures[i]) : is_done(futures[i])) {
            *index = i;
            return true;
        }
    }
    return false;
}

int pool_wait_any(pool_future_t *const *futures, size_t n, int64_t timeout_ns, size_t *index)
{
    if (futures == NULL || n == 0 || index == NULL)
        return EINVAL;
    for (size_t i = 0; i < n; i++)
        if (futures[i] == NULL)
            return EINVAL;
    if (any_done(futures, n, index, true))
        return 0;
    if (timeout_ns == 0)
        return ETIMEDOUT;

    struct pool__waiter w;
    struct pool__wnode *nodes = calloc(n, sizeof *nodes);
    if (nodes == NULL)
        return ENOMEM;
    int err = pthread_mutex_init(&w.lock, NULL);
    if (err != 0) {
        free(nodes);
        return ENOMEM;
    }
    if (cond_init_monotonic(&w.cv) != 0) {
        pthread_mutex_destroy(&w.lock);
        free(nodes);
        return ENOMEM;
    }
    w.fired = false;

    /* Register with every future, then check again: a future that completed
     * before registration would never fire us. */
    for (size_t i = 0; i < n; i++) {
        struct pool_future *f = futures[i];
        nodes[i].waiter = &w;
        pthread_mutex_lock(&f->lock);
        nodes[i].prev = NULL;
        nodes[i].next = f->waiters;
        if (f->waiters)
            f->waiters->prev = &nodes[i];
        f->waiters = &nodes[i];
        pthread_mutex_unlock(&f->lock);
    }

    struct timespec deadline;
    const struct timespec *dl = NULL;
    if (timeout_ns > 0) {
        deadline = deadline_after(timeout_ns);
        dl = &deadline;
    } else {
        /* Waiting forever from inside a callback: run the unclaimed items
         * of the futures of this thread's pools, one future after another
         * while none is done, or the wait could deadlock (a future all
         * claimed may be waiting for a later one that only this thread is
         * free to run). Anywhere else, only wait: helping would run one
         * future to its end and miss the first to complete. */
        for (size_t i = 0; i < n && !any_done(futures, n, index, false); i++) {
            pool_t *pool = future_enter_pool(futures[i]);
            if (pool == NULL)
                continue;
            if (pool__running_on(pool))
                pool__help(pool, &futures[i]->job);
            pool__call_end(pool);
        }
    }

    int rc = 0;
    pthread_mutex_lock(&w.lock);
    while (!w.fired && !any_done(futures, n, index, false) && rc != ETIMEDOUT)
        rc = cv_wait(&w.cv, &w.lock, dl);
    pthread_mutex_unlock(&w.lock);

    for (size_t i = 0; i < n; i++) {
        struct pool_future *f = futures[i];
        pthread_mutex_lock(&f->lock);
        if (nodes[i].prev)
            nodes[i].prev->next = nodes[i].next;
        else
            f->waiters = nodes[i].next;
        if (nodes[i].next)
            nodes[i].next->prev = nodes[i].prev;
        pthread_mutex_unlock(&f->lock);
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.lock);
    free(nodes);
    return any_done(futures, n, index, true) ? 0 : ETIMEDOUT;
}

/* ---- cancel ------------------------------------------------------------------ */

int pool_future_cancel(pool_future_t *f)
{
    if (f == NULL)
        return EINVAL;
    pool_t *pool = future_enter_pool(f);
    if (pool == NULL)
        return EBUSY;
    bool cancelled = pool__cancel(pool, &f->job);
    pool__call_end(pool);
    return cancelled ? 0 : EBUSY;
}

void pool_cancel_pending(pool_t *pool)
{
    if (pool && !pool__forked(pool))
        pool__cancel_live(pool);
}

/* ---- results as they complete ------------------------------------------------ */

int pool_future_next(pool_future_t *f, int64_t timeout_ns, size_t *begin, size_t *end,
                     int *status)
{
    if (f == NULL || begin == NULL || end == NULL || status == NULL || f->records == NULL)
        return EINVAL;

    struct timespec deadline;
    const struct timespec *dl = NULL;
    if (timeout_ns > 0) {
        deadline = deadline_after(timeout_ns);
        dl = &deadline;
    } else if (timeout_ns < 0) {
        /* Waiting forever from inside a callback of the future's pool: run
         * its unclaimed items first, or the wait could deadlock (as in
         * pool_wait_any). Anywhere else, only wait: chunks come as others
         * finish them. */
        pool_t *pool = future_enter_pool(f);
        if (pool) {
            if (pool__running_on(pool))
                pool__help(pool, &f->job);
            pool__call_end(pool);
        }
    }

    int rc = 0;
    pthread_mutex_lock(&f->lock);
    for (;;) {
        atomic_store(&f->stream_waiting, true);
        /* Done before the check: once done, every record is written. */
        bool done = is_done(f);
        if (f->read_pos < f->nrecords_cap && atomic_load(&f->records[f->read_pos].ready)) {
            struct pool__record *r = &f->records[f->read_pos++];
            *begin = r->begin;
            *end = r->end;
            *status = r->status;
            rc = 0;
            break;
        }
        if (done) {
            rc = ENOENT;
            break;
        }
        if (timeout_ns == 0 || rc == ETIMEDOUT) {
            rc = ETIMEDOUT;
            break;
        }
        rc = cv_wait(&f->cv, &f->lock, dl);
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

/* ---- event-loop integration ---------------------------------------------------- */

int pool_future_fd(pool_future_t *f)
{
    if (f == NULL) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&f->lock);
    if (f->fd_read < 0) {
        int err = pool__event_open(&f->fd_read, &f->fd_write);
        if (err != 0) {
            pthread_mutex_unlock(&f->lock);
            errno = err;
            return -1;
        }
        if (is_done(f))
            pool__event_signal(f->fd_write);
        atomic_store_explicit(&f->has_fd, true, memory_order_release);
    }
    int fd = f->fd_read;
    pthread_mutex_unlock(&f->lock);
    return fd;
}

void pool_future_free(pool_future_t *f)
{
    if (f == NULL)
        return;
    /* The fd is the user's to forget now: close it here, not when the
     * completing thread lets go (it may still be running on_done). Once
     * done, the completing thread no longer touches it. */
    pthread_mutex_lock(&f->lock);
    if (is_done(f)) {
        pool__event_close(f->fd_read, f->fd_write);
        f->fd_read = f->fd_write = -1;
    }
    pthread_mutex_unlock(&f->lock);
    future_release(f);
}
