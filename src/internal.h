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
 * A job body runs items [begin, end) of one call. On return items
 * [begin, *stop) have run successfully. It returns 0 when it ran them all or
 * stopped early because a lower item already failed; otherwise item *stop
 * failed with the returned status.
 */
typedef int (*pool__body_fn)(struct pool__job *job, size_t begin, size_t end,
                             size_t *stop);

/* Queue lanes: blocking calls and async work alternate, so neither starves. */
enum { POOL__LANE_CALL, POOL__LANE_ASYNC, POOL__NLANES };

/*
 * A thread's share of a blocking call with automatic chunks: its unclaimed
 * items [begin, end), packed in one word (end << 32 | begin) so that the
 * owner claiming from the front and thieves taking from the back agree by
 * CAS. Own line: the owner writes it per claim. `owned` is set once the
 * thread the share was dealt to has come to it (the caller's from the
 * start): thieves take half of an owned share, all of one that nobody
 * works on yet (see slot_steal).
 */
struct pool__slot {
    POOL__ALIGNED _Atomic uint64_t range;
    _Atomic bool owned;
};

/* Slots per call: the caller and up to 15 helpers own one; further helpers
 * only steal. A shared call keeps them on its caller's stack (1 KiB). */
#define POOL__MAX_SLOTS 16u

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
        pool_task_fn task;
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
    struct pool_future *future; /* the async handle, or NULL for a blocking call */
    /* A blocking call made from an item of a call on the same pool: that
     * call's job (alive while this one is, its item waiting for it), else
     * NULL. Nested calls are queued, never offered, so that a caller
     * waiting for its helpers finds them there (job.c, job_help_nested). */
    struct pool__job *parent;
    unsigned lane;
    bool offered; /* on pool->offer instead of the queue (until requeued) */
    /* Per-thread shares (see job.c), or NULL: items are then claimed from
     * `next`. Slot 0 is the caller's. */
    struct pool__slot *slots;
    unsigned nslots;

    /* Guarded by pool->lock. */
    struct pool__job *qprev, *qnext;
    bool linked;          /* on the pool's queue */
    size_t fail_index;    /* lowest failure reported so far */
    int fail_status;
    size_t skipped_at;    /* lowest item claimed but never started */
    bool cancelled;       /* pool_future_cancel() took effect */
    /* Slots handed to queued helpers so far (the caller's: 0); nslots
     * once a requeued offered call's queued helpers may only steal. */
    unsigned slots_given;
    bool helper_left;     /* a helper left for the other lane mid-call */
    /* An offered call a helper left for the async lane with items to
     * steal: put on the queue, where workers find it again (the offer
     * they took once is spent for them). Written once, under the lock;
     * read by the caller once its helpers are gone, and by a helper that
     * finds nothing left to steal (job.c, job_requeue). */
    _Atomic bool requeued;
    bool requeue_closed; /* the caller took it off for good */

    /* The caller's own, on a line helpers do not read. */
    bool withdrawn;     /* off the offer, its helpers counted */
    size_t offer_count; /* helpers counted from the offer, not yet in attached */

    /* Claim counter: next unclaimed item (without slots; with them, where
     * the caller's run alone stopped, then n once nothing is left to
     * steal). Own line: written per claim. */
    POOL__ALIGNED _Atomic size_t next;
    /* Helpers attached, plus POOL__JOIN_WAITING while the caller sleeps
     * until they are gone. Raised under pool->lock; lowered by a helper's
     * release RMW, without the lock when it has nothing to report (see
     * job.c), its last access to the job. On next's line: a helper ends
     * by storing next's hint and leaving, one line moved, not two. */
    _Atomic size_t attached;
    /* A helper's chunk took longer than the tiny-call budget: the call is
     * not tiny, however cheap the caller's own items were. Stored by such
     * a helper just before it detaches (on attached's line, which the
     * detach moves anyway); read by the caller once its helpers are gone,
     * and only when its own estimate finds the call tiny. */
    _Atomic bool long_chunk;
    /* Lowest failing index seen; items at or above it are not started.
     * Own line: read per item, written only on failure. */
    POOL__ALIGNED _Atomic size_t stop_at;
};

/* Bit of pool->calls set once pool_destroy() waits for calls to drain. */
#define POOL__DESTROYING ((size_t)1 << (sizeof(size_t) * 8 - 1))

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t join_cv;  /* callers waiting for attached workers */
    pthread_cond_t drain_cv; /* pool_destroy waiting for calls */

    /* Guarded by lock. */
    struct {
        struct pool__job *head, *tail;
    } lanes[POOL__NLANES];
    /* Every async future queued on the pool whose completion nobody has
     * claimed yet, newest first: also those whose items are all claimed,
     * taken off the queue while their last chunks run (pool_cancel_pending
     * must reach them). */
    struct pool_future *live;
    bool drained;

    unsigned fork_generation; /* pool__fork_generation when created */
    size_t nthreads; /* caller included */
    const void *owner; /* &pool__self of the creating thread */
    /* The last parallel call was too small to share: run the next one on
     * its caller alone first (see job_run_parallel). A hint, written only
     * when it changes. */
    _Atomic bool tiny_calls;
    /* POOL__TINY_NS in pool__ticks, measured while the workers started:
     * the time-stamp counter's rate differs from machine to machine. */
    unsigned long long tiny_ticks;
    unsigned long long claim_ticks; /* POOL__CLAIM_NS, likewise */
    unsigned long long spin_ns; /* an idle worker's, see POOL__IDLE_SPIN_NS */
    size_t nworkers; /* started (a pool of 1 starts one for async work) */
    pthread_t *workers;

    /* Jobs on the queue, mirrored for workers that spin without the lock. */
    POOL__ALIGNED _Atomic size_t nqueued;
    _Atomic size_t lane_queued[POOL__NLANES]; /* the same, per lane */
    _Atomic bool stop;
    /* The blocking call on offer, outside the queue, or job.c's offer_none:
     * the job's address plus how many helpers took it (below its 64-byte
     * alignment; see job.c). Set and withdrawn by its caller (or, once
     * every worker took it, replaced by the next call), taken by
     * fetch-and-add, all without the lock. Own line: the queue's counters
     * are read per chunk. */
    POOL__ALIGNED _Atomic(char *) offer;
    /* The offered job's slots: only prefetched, never read through. */
    _Atomic(const struct pool__slot *) offer_slots;
    /* Workers about to sleep or asleep on `parking`, where they wait for
     * work without the lock. A worker raises the count before its last look
     * for work; whoever adds work reads it after, all sequentially
     * consistent, so one of them sees the other (see wake_workers in
     * job.c). */
    _Atomic size_t nsleeping;
    pool__parking parking;
    /* Calls in flight, plus POOL__DESTROYING. Own line: every call touches it. */
    POOL__ALIGNED _Atomic size_t calls;
    /* The thread that created the pool is inside a blocking call on it.
     * Only that thread writes it, with plain loads and stores (no RMW): the
     * common single-caller program pays no atomic read-modify-write per
     * call. pool_destroy() polls it (see pool__call_enter). A thread that
     * later gets the creator's thread-local block (after the creator ended,
     * the flag clear) simply continues as the owner. Own line: the owner
     * writes it per call, other callers write `calls`. */
    POOL__ALIGNED _Atomic bool owner_busy;
};

/* How long a caller spins for its helpers to detach before it sleeps; an
 * idle worker that spins longer yields the CPU now and then past it. */
#define POOL__SPIN_NS 30000ull

/* How long a pool's idle workers spin in all before they sleep (each
 * POOL__IDLE_SPIN_NS / workers; see POOL__IDLE_SPIN_WORKERS for big
 * pools): a call that comes sooner finds them awake. On the 2-core VM a
 * worker that had gone to sleep ran the next Mandelbrot call about 2 %
 * slower (bench_poolmap --workload W4 --threads 2, 8 processes: 158.1 ms
 * median with a 30 us spin, 155.5 with this one). The sum bounds the CPU
 * an idle pool burns after a call (bench/run.sh's idle row: 0.57 ms/s at
 * 2 threads). A worker whose last POOL__IDLE_MEMORY idle periods each
 * lasted over POOL__IDLE_FAR_NS (calls far apart) spins only
 * POOL__IDLE_SPIN_MIN_NS (job.c, struct pool__idle). */
#define POOL__IDLE_SPIN_NS 500000ull

/* Beyond this many workers the idle spins shrink faster, in all
 * POOL__IDLE_SPIN_NS * POOL__IDLE_SPIN_WORKERS / workers, each at least
 * POOL__IDLE_SPIN_MIN_NS: every worker of a big pool also pays for being
 * woken and for falling asleep, which the spin must leave room for. On a
 * 16-CPU Xeon VM (bench_probe idle --threads 16) each worker spent 60-68
 * us of CPU around a call besides its item with 33 us spins, 40-48 with
 * the 18 us spins this gives; the idle row went from 1.15 to 0.84-0.89
 * CPU-ms/s. A pool's idle spins in all: 500 us up to 9 threads, 444 at
 * 10, 267 at 16, 248 at 32, 504 at 64 (the floor). */
#define POOL__IDLE_SPIN_WORKERS 8u
#define POOL__IDLE_SPIN_MIN_NS 8000ull

/* A blocking call shorter than this runs faster on its caller alone than
 * shared (see job_run_parallel). */
#define POOL__TINY_NS 750ull

/* Once a thread has timed a span of chunks of a call, its claims from its
 * own share hold at most this much work at that span's rate (at least one
 * item). Nobody can steal a claim, so it bounds how long the others wait
 * at the end of a call for the last claims of costly items: on 16 threads of a
 * Xeon VM, with claims of an eighth of a share, W4's triangular calls ended
 * the threads 1.4 ms apart, with one item per claim 0.76 ms (bench_probe
 * tails; the last claims likely held two or three items of 0.7 ms, an
 * inference from the spread). The cap at 16 threads is unmeasured: 250 us
 * makes those claims single items as well. Cheap items still come
 * in claims of this much time, a few dozen more per thread than an eighth
 * at a time gives to W2's 10^7 items on 2 threads: a claim costs a CAS on
 * the thread's own line, now and then a tick read (see struct pool__pace
 * in job.c) and the body's set-up (for a streamed unzip, a store fence),
 * well under a thousandth of it. A smaller cap would only add claims to
 * calls of cheap items. */
#define POOL__CLAIM_NS 250000ull

/* A thread times its chunks a span at a time (struct pool__pace in
 * job.c); a span ends at the latest after this many chunks of more than
 * one item, so that items that turn costly within a share are seen within
 * a few claims. */
#define POOL__PACE_CHUNKS 4u

/* Once a thread has timed a span, its claims from its own share of a
 * call nested in another's items hold at least this much work at the
 * span's rate where up to a quarter of what is left allows (the cap
 * permitting), so that a claim's own cost stays a small part of it: a W6
 * call on 16 threads (8 inner calls of 10^4 items of 0.04-0.07 us) made
 * about 5900 claims of 13 items, well under 1 us each (bench_probe
 * nested, counted on the 2-core VM), where a claim costs about 0.1 us on
 * the Xeon VM. The last claims of such a call hold at most about this
 * long beyond one item. Other calls: POOL__CLAIM_FLOOR_NS. */
#define POOL__CLAIM_MIN_NS 1000ull

/* The floor for a call not nested in another call's items, whose helpers
 * come at once: there a claim's cost weighs more than a long last claim,
 * which the quarter's bound keeps short anyway (with either floor a
 * share's last seven claims are single items). W5 (64 items of ~1 us) on
 * 2 threads made about 21 claims a thread with the 1 us floor, 13 with
 * this one, and took 0.9948-0.9996 of the time in seven runs of
 * bench/ab_small.sh, all below 1 (2-core Xeon VM, docs/bench-log.md): a
 * small gain, but a steady one. Nested calls keep POOL__CLAIM_MIN_NS:
 * their shares are dealt to threads that may come late or never, and are
 * taken whole and claimed over. */
#define POOL__CLAIM_FLOOR_NS 8000ull

/* One finished chunk, kept for pool_future_next() (POOL_ASYNC_CHUNKS). */
struct pool__record {
    size_t begin, end;
    int status;
    _Atomic int ready;
};

/* A waiter blocked in pool_wait_any(), registered with each future. */
struct pool__waiter {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    bool fired;
};
struct pool__wnode {
    struct pool__waiter *waiter;
    struct pool__wnode *next, *prev;
};

/*
 * An async call: the job plus what its handle needs. Waiters use the
 * future's own lock and condition variable, never the pool's, so a future
 * stays usable after its pool is destroyed.
 */
struct pool_future {
    struct pool__job job; /* first: a job pointer converts back */
    pool_t *pool;         /* NULL once done */
    pool_done_fn on_done;
    void *on_done_arg;
    unsigned flags;

    /* Set when done, before `done` is stored with release. */
    int status;
    size_t failed_index;
    _Atomic bool done;
    bool completing; /* guarded by pool->lock: completion claimed */
    struct pool_future *finish_next; /* pool__cancel_live's list */

    pthread_mutex_t lock; /* guards the fields below */
    pthread_cond_t cv;
    int fd_read, fd_write; /* completion fd, -1 until pool_future_fd() */
    struct pool__wnode *waiters;
    size_t read_pos; /* next record for pool_future_next() */
    _Atomic bool stream_waiting;
    _Atomic bool has_fd; /* pool_future_fd() made the fd: see is_done_sync */

    _Atomic unsigned refs; /* the user's handle + the pool until completion */

    /* Records of finished chunks, when POOL_ASYNC_CHUNKS. */
    struct pool__record *records;
    size_t nrecords_cap;
    POOL__ALIGNED _Atomic size_t nrecords;
    /* pool->live, under pool->lock: written at submission and completion
     * only, so they share this line rather than grow the struct by one
     * (704 bytes on x86-64 glibc; at 768, 2000 pool_submit calls took
     * 22-35 ms instead of 2-11 under AddressSanitizer on the 2-core VM, and
     * test_fairness's queue drained before its map began). */
    struct pool_future *live_prev, *live_next;
    /* Items that ran successfully: progress. Own line: added per chunk. */
    POOL__ALIGNED _Atomic size_t items_done;
};

/* Bumped in the child of every fork(). A pool created before the fork has
 * no threads in the child: it then runs calls serially (see pool__forked). */
extern _Atomic unsigned pool__fork_generation;

static inline bool pool__forked(const pool_t *pool)
{
    return pool->fork_generation != pool__load_relaxed(&pool__fork_generation);
}

/* Stack of pools whose items this thread is running, innermost first; lets
 * pool_destroy() refuse to wait for the very call that invoked it. The
 * owner's in-place calls push none (see pool__running_on). */
struct pool__frame {
    const pool_t *pool;
    struct pool__frame *up;
    struct pool__job *job; /* whose items, or NULL (in place, on_done) */
};
extern _Thread_local struct pool__frame *pool__frames POOL__TLS_FAST;
/* Its address names the thread (pool->owner): cheaper than pthread_self(). */
extern _Thread_local char pool__self POOL__TLS_FAST;

/* future.c */
void pool__future_chunk_done(struct pool_future *f, size_t begin, size_t stop, int rc);
void pool__future_finish(struct pool_future *f);
/* pool__future_finish in two steps, for a batch: every future of it is
 * published (done, fd, waiters) before any on_done runs, since an on_done
 * may wait for another future of the batch. `pool` is f->pool before the
 * publish (which clears it). */
void pool__future_publish(struct pool_future *f);
void pool__future_settle(pool_t *pool, struct pool_future *f);

/* job.c */
void pool__call_begin(pool_t *pool);
void pool__call_end(pool_t *pool);

/*
 * A blocking call begins and ends on one thread. When that thread created
 * the pool, the call is marked in pool->owner_busy, which no other thread
 * writes: a relaxed load, and for the outermost call a store each way, of
 * constants, instead of two atomic read-modify-writes on a shared line (most
 * of the cost of a small call); nothing chains one call to the next.
 * pool_destroy() from another thread still sees every call that started
 * before it: the start happens before whatever told the destroying thread
 * that the call is in flight, so its load reads the flag set; it then polls
 * until the release store of the outermost call's end.
 */
enum pool__held {
    POOL__HELD_SHARED, /* counted in pool->calls */
    POOL__HELD_OWNER,  /* the owner's outermost call: set owner_busy */
    POOL__HELD_NESTED  /* the owner's call inside its own: owner_busy already set */
};

static inline bool pool__is_owner(const pool_t *pool)
{
    return pool->owner == &pool__self;
}

static inline enum pool__held pool__call_enter(pool_t *pool)
{
    if (!pool__is_owner(pool)) {
        pool__call_begin(pool);
        return POOL__HELD_SHARED;
    }
    if (pool__load_relaxed(&pool->owner_busy))
        return POOL__HELD_NESTED;
    pool__store_relaxed(&pool->owner_busy, true);
    return POOL__HELD_OWNER;
}

static inline void pool__call_leave(pool_t *pool, enum pool__held held)
{
    if (held == POOL__HELD_OWNER)
        pool__store_release(&pool->owner_busy, false);
    else if (held == POOL__HELD_SHARED)
        pool__call_end(pool);
}

/* A blocking call of more than one chunk on a live pool of more than one
 * thread (map.c runs every other call in place). */
int pool__run(pool_t *pool, struct pool__job *job);
bool pool__running_on(const pool_t *pool);
void pool__worker_loop(pool_t *pool);
void pool__job_prepare(pool_t *pool, struct pool__job *job);
void pool__offer_init(pool_t *pool);
size_t pool__job_count_chunks(const struct pool__job *job);
int pool__submit(pool_t *pool, struct pool__job *job);
void pool__help(pool_t *pool, struct pool__job *job);
bool pool__cancel(pool_t *pool, struct pool__job *job);
void pool__cancel_live(pool_t *pool);
void pool__call_done_fn(pool_t *pool, struct pool_future *f);

/* map.c */
int pool__check_map(pool_map_fn fn, const void *in, size_t in_size, const void *out,
                    size_t out_size, size_t n);
void pool__init_map_job(struct pool__job *job, pool_map_fn fn, void *ctx, const void *in,
                        size_t in_size, void *out, size_t out_size, size_t n);
void pool__init_for_job(struct pool__job *job, pool_for_fn fn, void *ctx, size_t n);

/* pool.c */
int pool__ensure_worker(pool_t *pool);
/* Called between a steal and its republishing (see job.c). Does nothing;
 * out of line, in another file than its caller, so that a test linked with
 * --wrap can widen that window at will. */
void pool__steal_gap(void);
/* Called as a caller starts to take its requeued call off the queue (see
 * job.c, job_requeue_end), likewise: a test can hold it there while a
 * helper attaches from the queue. */
void pool__requeue_gap(void);

#endif /* POOLMAP_INTERNAL_H */
