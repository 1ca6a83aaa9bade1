/*
 * internal.h - the pool and job structures shared by pool.c, job.c, map.c.
 * Not installed; nothing here is part of the API.
 */
#ifndef POOLMAP_INTERNAL_H
#define POOLMAP_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "poolmap.h"
#include "platform.h"

struct pool__job;

/*
 * A job body runs items [begin, end) of one call. It returns 0 when every
 * item ran (or the rest were skipped because a lower item already failed),
 * else the failing item's status with *failed set to its index.
 */
typedef int (*pool__body_fn)(struct pool__job *job, size_t begin, size_t end,
                             size_t *failed);

/*
 * One call of pool_map/for/for_range/unzip: the single descriptor that is
 * queued, whatever n is. It lives on the caller's stack; the caller does not
 * return before every worker that attached to it has detached.
 */
struct pool__job {
    /* Set by the caller before the job is published, then read-only. */
    pool__body_fn body;
    union {
        pool_map_fn map;
        pool_for_fn each;
        pool_range_fn range;
    } fn;
    void *ctx;
    const void *in;
    size_t in_size;
    void *out;
    size_t out_size;
    size_t tuple_size;
    const pool_column *columns;
    size_t ncolumns;
    size_t n;
    size_t chunk;     /* fixed items per claim, or 0 for guided */
    size_t min_chunk; /* guided: smallest claim */
    size_t divisor;   /* guided: a claim takes remaining / divisor */

    /* Guarded by pool->lock. */
    struct pool__job *qprev, *qnext;
    bool linked;          /* on the pool's queue */
    bool caller_sleeping; /* caller waits on pool->join_cv */
    size_t fail_index;    /* lowest failure reported so far */
    int fail_status;

    /* Workers attached (written under pool->lock, read by the spinning
     * caller without it). The detaching worker's store is its last access
     * to the job. */
    _Atomic size_t attached;

    /* Claim counter: next unclaimed item. Own line: written per claim. */
    POOL__ALIGNED _Atomic size_t next;
    /* Lowest failing index seen; items at or above it are not started.
     * Own line: read per item, written only on failure. */
    POOL__ALIGNED _Atomic size_t stop_at;
};

/* Bit of pool->calls set once pool_destroy() waits for calls to drain. */
#define POOL__DESTROYING ((size_t)1 << (sizeof(size_t) * 8 - 1))

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t work_cv;  /* sleeping workers */
    pthread_cond_t join_cv;  /* callers waiting for attached workers */
    pthread_cond_t drain_cv; /* pool_destroy waiting for calls */

    /* Guarded by lock. */
    struct pool__job *head, *tail;
    size_t nsleeping;
    bool drained;

    unsigned fork_generation; /* pool__fork_generation when created */
    size_t nthreads; /* caller included */
    size_t nworkers; /* started */
    pthread_t *workers;

    /* Jobs on the queue, mirrored for workers that spin without the lock. */
    POOL__ALIGNED _Atomic size_t nqueued;
    _Atomic bool stop;
    /* Calls in flight, plus POOL__DESTROYING. Own line: every call touches it. */
    POOL__ALIGNED _Atomic size_t calls;
};

/* How long an idle thread spins before it sleeps. */
#define POOL__SPIN_NS 30000ull

/* Bumped in the child of every fork(). A pool created before the fork has
 * no threads in the child: it then runs calls serially (see pool__forked). */
extern _Atomic unsigned pool__fork_generation;

static inline bool pool__forked(const pool_t *pool)
{
    return pool->fork_generation != pool__load_relaxed(&pool__fork_generation);
}

/* job.c */
int pool__run(pool_t *pool, struct pool__job *job);
bool pool__running_on(const pool_t *pool);
void pool__worker_loop(pool_t *pool);

#endif /* POOLMAP_INTERNAL_H */
