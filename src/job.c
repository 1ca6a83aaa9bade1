/*
 * job.c - the shared queue, how a call's items are claimed, and how a call
 * waits for its helpers.
 *
 * Protocol (pool->lock guards the queue and each job's link fields):
 *   caller  : put a blocking call with slots on pool->offer when that is
 *             free, else link the job at the tail of its lane; wake
 *             sleepers, run chunks itself, withdraw the offer (or leave
 *             it full) or unlink, wait until the helpers attached, those
 *             counted in job->attached and those that took the offer
 *             (job->offer_count), have all left, return.
 *   worker  : take the offer by fetch-and-add, without the lock; or under the lock
 *             pick a job from the queue (attached++) and rotate it to the
 *             tail so concurrent calls share the workers. Run chunks
 *             without the lock, then detach (attached--): from a blocking
 *             call without the lock when it has nothing to report, else
 *             under the lock after reporting its failure. A worker that
 *             leaves an offered call for async work queues it, and its
 *             caller takes it off once its helpers are gone.
 *   async   : nobody waits inside the call; the thread whose detach leaves
 *             an exhausted job with no helper attached completes its future.
 * No lock per chunk or item. A blocking call with automatic chunks splits
 * its items into per-thread slots: each thread claims shrinking chunks from
 * the front of its own slot (a CAS on a line that others write only to
 * steal), and once that is empty takes the back half of another slot.
 * Other jobs (fixed chunks, async calls, 2^32 items or more) claim guided
 * chunks by CAS on job->next, in one deterministic sequence.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "account.h"
#include "internal.h"

_Thread_local struct pool__frame *pool__frames;
_Thread_local char pool__self;

bool pool__running_on(const pool_t *pool)
{
    /* The owner's in-place calls push no frame (see map.c): its owner_busy
     * is set only while it is in a call on this pool, whose callbacks are
     * then all this thread runs. */
    if (pool__is_owner(pool) && pool__load_relaxed(&pool->owner_busy))
        return true;
    for (const struct pool__frame *f = pool__frames; f; f = f->up)
        if (f->pool == pool)
            return true;
    return false;
}

void pool__call_done_fn(pool_t *pool, struct pool_future *f)
{
    /* on_done counts as a callback of the pool: pool_destroy() from it
     * would wait for this very future, so it must be refused likewise. */
    struct pool__frame frame = { pool, pool__frames, NULL };
    pool__frames = &frame;
    f->on_done(f->on_done_arg, f);
    pool__frames = frame.up;
}

/* pool->lock on a blocking call's path. The accounting build (account.h)
 * charges the wait for it and the time holding it; returns the category
 * unlock_pool goes back to. Otherwise the plain lock and unlock. */
static unsigned lock_pool(pool_t *pool)
{
    unsigned was = pool__acct_switch(POOL__ACCT_LOCK);
    pthread_mutex_lock(&pool->lock);
    pool__acct_switch(POOL__ACCT_LOCKED);
    pool__acct_event(POOL__EV_LOCKS);
    return was;
}

static void unlock_pool(pool_t *pool, unsigned was)
{
    pthread_mutex_unlock(&pool->lock);
    pool__acct_switch(was);
}

/* What one thread's turn at a job came to. */
struct pool__turn {
    int rc;         /* status of the failing item, or 0 */
    size_t failed;  /* its index */
    size_t skipped; /* lowest item claimed but skipped, or POOL_NO_INDEX */
    bool left;      /* left for the other lane, maybe with items in its slot */
    /* One of its timed spans took longer than the tiny-call budget: a
     * helper tells the caller so as it leaves (see turn_end). */
    bool long_chunk;
    size_t ran;     /* items it ran */
    /* Ticks spent in its timed chunks (see job_run_parallel's tiny
     * estimate). */
    unsigned long long busy;
};

/* ---- queue (pool->lock held) ------------------------------------------ */

static void queue_link(pool_t *pool, struct pool__job *job)
{
    struct pool__job **head = &pool->lanes[job->lane].head;
    struct pool__job **tail = &pool->lanes[job->lane].tail;
    job->qnext = NULL;
    job->qprev = *tail;
    if (*tail)
        (*tail)->qnext = job;
    else
        *head = job;
    *tail = job;
    job->linked = true;
    /* Sequentially consistent: a sleeping worker's last look (see
     * wake_workers). */
    atomic_store(&pool->nqueued, pool__load_relaxed(&pool->nqueued) + 1);
    pool__store_relaxed(&pool->lane_queued[job->lane],
                        pool__load_relaxed(&pool->lane_queued[job->lane]) + 1);
}

static void queue_unlink(pool_t *pool, struct pool__job *job)
{
    if (!job->linked)
        return;
    if (job->qprev)
        job->qprev->qnext = job->qnext;
    else
        pool->lanes[job->lane].head = job->qnext;
    if (job->qnext)
        job->qnext->qprev = job->qprev;
    else
        pool->lanes[job->lane].tail = job->qprev;
    job->qprev = job->qnext = NULL;
    job->linked = false;
    pool__store_relaxed(&pool->nqueued, pool__load_relaxed(&pool->nqueued) - 1);
    pool__store_relaxed(&pool->lane_queued[job->lane],
                        pool__load_relaxed(&pool->lane_queued[job->lane]) - 1);
}

/* ---- the offer ----------------------------------------------------------- */

/*
 * A blocking call with slots goes on pool->offer instead of the queue when
 * that is free: a word on its own line that idle workers poll, holding the
 * job's address (64-byte aligned) with, in the low bits, how many helpers
 * took it. The caller sets it (CAS), each worker takes it with one
 * fetch-and-add and the caller withdraws it (CAS), with no lock; the
 * count each helper's add returns gives it its slot (count + 1, the
 * caller's being 0). The count takes 5 bits; the sixth alternates from one
 * offer of a thread to its next, so a worker that found an offer spent
 * tells it from the next call's at the same address. Pools of more than 32
 * threads, and calls made while another is on offer that not every worker
 * has taken, use the queue.
 *
 * Why: through the queue a W5 call (64 items of ~1 us, 2 threads) moved
 * the pool lock, the queue's lines, the job's and the slot's between the
 * cores one after another. In the machine's slow spells (a cache line's
 * round trip between the two CPUs 0.42 us instead of 0.08) the helper's
 * first item began 0.68 us into the call, pthreadpool's 0.24-0.40 (see
 * bench_probe timeline, docs/bench-log.md).
 *
 * Why an add and not a CAS: when a call comes, every idle worker sees it at
 * once. With a CAS all but one fail, and each failure moved the line too,
 * so 15 helpers made about 15 * 16 / 2 transfers one after another; an add
 * always succeeds, one transfer each (bench_probe arrivals, docs/bench-log.md).
 * The add is blind: the word may have changed since the worker looked.
 * What it returns says what it took: any job there was taken (a live offer
 * counts whoever adds to it, whichever call the worker saw), and the empty
 * value (offer_none, plus such stray adds, at most one per worker between
 * two offers) takes nothing; the next publish clears it. Every offered job
 * is thus taken at most once by each worker and the count stays below 32.
 *
 * The caller withdraws its offer so that no worker attaches later, and
 * counts the helpers that took it: once its own share is all claimed if
 * every worker has taken it, else once its own work is done. An offer
 * every worker took is full: no worker adds to it any more, so its caller
 * leaves it where it is, and the next publish, by any caller, puts its
 * call over it. A caller that finds another call there knows its own was
 * full: only its caller empties an offer, and a publish replaces only an
 * empty or a full one. The caller used to end every W5 call's share with
 * an exchange to offer_none and an add to attached, two read-modify-writes
 * of lines the helper had written, one after the other on its last claim;
 * left full, the caller spends about 0.1 us less between its items
 * (bench_probe timeline) and six runs of bench/ab_small.sh (20-40 pairs
 * each, 2-core Xeon VM) read 0.9964-1.0010 of the time, lower in 112 of
 * 190 pairs: about 0.2 %.
 * The caller adds the count to job->attached only before it sleeps
 * (job_join) or takes a requeued call off the queue (job_requeue_end),
 * and otherwise waits for attached to come to minus the count; helpers
 * lower attached as they leave, so it can wrap below 0 meanwhile, while
 * only the caller reads it (helpers that attach from the queue to a
 * requeued call add to it, an RMW; a leave's test for the last helper of
 * a sleeping caller never matches a wrapped count, which is near 2^64).
 * Sleeping workers do not poll: after its CAS the caller reads nsleeping,
 * which a worker raises before it looks at the offer a last time and
 * sleeps, all sequentially consistent, so one of them sees the other
 * (wake_workers, worker_sleep).
 */
#define OFFER_BITS ((uintptr_t)63)  /* below the job's 64-byte alignment */
#define OFFER_COUNT ((uintptr_t)31) /* helpers that took it; full at 31 */
#define OFFER_PHASE ((uintptr_t)32) /* alternates between offers */
_Static_assert(_Alignof(struct pool__job) > OFFER_BITS, "offer bits need aligned jobs");

/* The offer's value when no call is on it: an address no job has, so that
 * a stray add (see above) is arithmetic inside this object. */
static POOL__ALIGNED char offer_none[POOL__CACHELINE];
_Static_assert(POOL__CACHELINE > OFFER_BITS, "stray adds stay inside offer_none");

void pool__offer_init(pool_t *pool)
{
    atomic_init(&pool->offer, offer_none);
}

/* An offer value is a char pointer into the job (or offer_none), so that
 * tagging and untagging are pointer arithmetic, never integer-to-pointer
 * casts. */
static uintptr_t offer_tag(const char *v)
{
    return (uintptr_t)v & OFFER_BITS;
}

/* The value without its count: the job's address and phase. */
static const char *offer_call(const char *v)
{
    return v - (offer_tag(v) & OFFER_COUNT);
}

static bool offer_empty(const char *v)
{
    return v - offer_tag(v) == offer_none;
}

static struct pool__job *offer_job(char *v)
{
    return (struct pool__job *)(void *)(v - offer_tag(v));
}

static _Thread_local unsigned char offer_phase POOL__TLS_FAST;

/* True when every worker of the pool has taken the offer value `v`: none
 * adds to it any more (each takes an offer once), so it holds as well as
 * a withdrawn one, and the next publish may put its call over it. */
static bool offer_full(const pool_t *pool, const char *v)
{
    return (offer_tag(v) & OFFER_COUNT) >= pool->nthreads - 1;
}

/* Put a blocking call with slots on the offer if it is free. */
static bool offer_publish(pool_t *pool, struct pool__job *job)
{
    char *cur = pool__load_relaxed(&pool->offer);
    if (job->slots == NULL || job->parent != NULL || pool->nthreads > OFFER_COUNT + 1 ||
        !(offer_empty(cur) || offer_full(pool, cur)))
        return false;
    job->offered = true; /* before it can be seen */
    offer_phase ^= OFFER_PHASE;
    pool__store_relaxed(&pool->offer_slots, job->slots);
    do { /* a failure on a stray add or another full offer: again */
        if (atomic_compare_exchange_strong(&pool->offer, &cur, (char *)job + offer_phase))
            return true;
    } while (offer_empty(cur) || offer_full(pool, cur));
    job->offered = false;
    return false;
}

/* Withdraw the caller's offer, once: count the helpers that took it. A
 * full offer stays where it is (no worker adds to it), and one that is no
 * longer there was full: only its caller empties an offer, and a publish
 * replaces only a full one. */
static void offer_withdraw(pool_t *pool, struct pool__job *job)
{
    if (!job->offered || job->withdrawn)
        return;
    job->withdrawn = true;
    char *cur = pool__load_relaxed(&pool->offer);
    while (offer_job(cur) == job && !offer_full(pool, cur) &&
           !pool__cas_weak_relaxed(&pool->offer, &cur, offer_none)) {
    }
    job->offer_count = offer_job(cur) == job ? (size_t)(offer_tag(cur) & OFFER_COUNT)
                                             : pool->nthreads - 1;
}

/* Withdraw it early, while the caller's last chunk runs, when every worker
 * of the pool has taken it: no helper can come any more. */
static void offer_withdraw_if_all_in(pool_t *pool, struct pool__job *job)
{
    if (job->offered && !job->withdrawn) {
        char *cur = pool__load_relaxed(&pool->offer);
        if (offer_job(cur) != job || offer_full(pool, cur))
            offer_withdraw(pool, job);
    }
}

/*
 * True when the offer value `cur` names a call this worker may take: not
 * the one it took last (*stale, the value its add left, or NULL) again.
 * That call's count stays above the one the worker left until it is
 * withdrawn, and a worker that sees the offer empty forgets it: a later
 * value with the same address and phase (the same caller's call after
 * next) is a new call. A worker that misses the empty offer and meets the
 * same value with a count above its own skips that call: one worker's help
 * is lost, never an item.
 */
static bool offer_seen(const char *cur, const char **stale)
{
    if (offer_empty(cur)) {
        *stale = NULL;
        return false;
    }
    return *stale == NULL || offer_call(cur) != offer_call(*stale) ||
           offer_tag(cur) < offer_tag(*stale);
}

/* Take the job on offer unless it is *stale. Returns the job, its slot
 * and the value its add left (*taken, the next *stale), or NULL. */
static struct pool__job *offer_take(pool_t *pool, const char **stale, unsigned *slot,
                                    const char **taken)
{
    char *cur = pool__load_relaxed(&pool->offer);
    if (!offer_seen(cur, stale))
        return NULL;
    /* Ask for what comes next, the job's lines and (a guess) the slot's,
     * while the add waits for the offer's line: a prefetch never faults. */
    const char *job = (const char *)offer_job(cur);
    const char *slots = (const char *)pool__load_relaxed(&pool->offer_slots);
    unsigned k = (unsigned)(offer_tag(cur) & OFFER_COUNT) + 1;
    pool__prefetch(job + offsetof(struct pool__job, body));
    pool__prefetch(job + offsetof(struct pool__job, n));
    pool__prefetch(job + offsetof(struct pool__job, slots));
    pool__prefetch(job + offsetof(struct pool__job, stop_at));
    pool__prefetch_write(job + offsetof(struct pool__job, attached));
    if (slots != NULL && k < POOL__MAX_SLOTS)
        pool__prefetch_write(slots + k * sizeof(struct pool__slot));
    /* Acquire: the publishing CAS heads a release sequence that every add
     * continues. */
    char *was = atomic_fetch_add_explicit(&pool->offer, 1, memory_order_acquire);
    if (offer_empty(was))
        return NULL; /* withdrawn meanwhile: a stray add */
    struct pool__job *j = offer_job(was);
    k = (unsigned)(offer_tag(was) & OFFER_COUNT) + 1;
    *slot = k < j->nslots ? k : j->nslots;
    *taken = was + 1;
    return j;
}

/* ---- per-thread slots -------------------------------------------------- */

#define SLOT_PACK(b, e) (((uint64_t)(e) << 32) | (uint64_t)(b))
#define SLOT_BEGIN(r) ((size_t)((r)&0xffffffffu))
#define SLOT_END(r) ((size_t)((r) >> 32))

/* The items of slot word r that may still start, [*lo, *hi): those below
 * stop_at. False when there are none. */
static bool slot_live(const struct pool__job *job, uint64_t r, size_t *lo, size_t *hi)
{
    size_t stop = pool__load_relaxed(&job->stop_at);
    *lo = SLOT_BEGIN(r);
    *hi = SLOT_END(r) < stop ? SLOT_END(r) : stop;
    return *lo < *hi;
}

/* True when the slot holds items that may still start. */
static bool slot_open(const struct pool__job *job, const struct pool__slot *s)
{
    size_t lo, hi;
    return slot_live(job, pool__load_relaxed(&s->range), &lo, &hi);
}

/* Deal items [from, n) out to the first `ndeal` of the slots in
 * contiguous shares, the lowest to the caller's slot 0; the others start
 * empty (see job_deal). Before the job is published. */
static void job_split(struct pool__job *job, struct pool__slot *slots, unsigned nslots,
                      unsigned ndeal, size_t from)
{
    size_t rem = job->n - from, base = rem / ndeal, extra = rem % ndeal;
    for (unsigned k = 0; k < nslots; k++) {
        size_t len = k < ndeal ? base + (k < extra) : 0;
        atomic_init(&slots[k].range, SLOT_PACK(from, from + len));
        atomic_init(&slots[k].owned, k == 0);
        from += len;
    }
    job->slots = slots;
    job->nslots = nslots;
    /* A claim from one's own slot is a CAS on a line others write only to
     * steal: cheap enough for a floor 8 times lower than shared claims have, so
     * the last claims of costly items leave less to wait for. */
    job->min_chunk /= 8;
    if (job->min_chunk == 0)
        job->min_chunk = 1;
}

/*
 * How many of a call's slots get a share. All of them, but for a call
 * made from an item of another call on the pool: that call's other items
 * likely run at the same time on other threads, each perhaps making a
 * call like this one, so about nthreads / min(parent's items, nthreads)
 * threads come to each. Shares dealt to threads that never come are
 * taken whole by thieves, each then claimed over from an eighth down to
 * single items: on 16 threads of the Xeon VM, W6's 8 inner calls of 16
 * shares each ran about 7050 chunks a call and stole 580 times, 2500 and
 * 210 dealt so (bench_probe_account nested, docs/bench-log.md). The slots past
 * the shares start empty: a helper given one steals half of a share into
 * it, where others can steal from it in turn.
 */
static unsigned job_deal(const pool_t *pool, const struct pool__job *job, unsigned nslots)
{
    if (job->parent == NULL)
        return nslots;
    size_t busy = job->parent->n < pool->nthreads ? job->parent->n : pool->nthreads;
    size_t deal = (pool->nthreads + busy - 1) / busy;
    return deal < nslots ? (unsigned)deal : nslots;
}

/* Claim the front of the thread's own slot: an eighth of what is left, or
 * up to a quarter to reach `least` (POOL__CLAIM_FLOOR_NS of items at the
 * last span's rate, POOL__CLAIM_MIN_NS in a nested call), at least
 * min_chunk, at most `cap` items (see claim_cap). A claim cannot be
 * stolen once made: halves left a Mandelbrot call waiting up to 10 ms on
 * one thread's first claim of the costly middle rows (2 threads); eighths
 * kept the wait under about 1 ms, and an uncontended claim costs little
 * more than a load. */
#define POOL__OWN_DIV 8
static bool slot_claim(const struct pool__job *job, struct pool__slot *s, size_t least,
                       size_t cap, size_t *b, size_t *e, bool *last)
{
    uint64_t cur = pool__load_relaxed(&s->range);
    size_t lo, hi;
    *last = false;
    while (slot_live(job, cur, &lo, &hi)) {
        size_t c = (hi - lo) / POOL__OWN_DIV;
        if (c < least) {
            /* Never more than a quarter of what is left for it: the
             * floor's rate may come from cheaper items than those ahead. */
            size_t quarter = (hi - lo) / 4;
            c = least < quarter ? least : quarter > c ? quarter : c;
        }
        if (c < job->min_chunk)
            c = job->min_chunk;
        if (c > cap)
            c = cap;
        if (c > hi - lo)
            c = hi - lo;
        if (pool__cas_weak_relaxed(&s->range, &cur, SLOT_PACK(lo + c, SLOT_END(cur)))) {
            /* The last claim: the next look is at the other slots. Ask
             * for their lines now, while this chunk runs, not after. */
            *last = c == hi - lo;
            if (*last)
                for (unsigned k = 0; k < job->nslots; k++)
                    pool__prefetch(&job->slots[k]);
            *b = lo;
            *e = lo + c;
            return true;
        }
    }
    return false;
}

/* Take items from the back of another open slot, looking from the slot
 * after `self` on: for a thread that republishes them in its own slot,
 * half of them, or all when the slot's owner has not come to it: a call
 * nested in an item while the other threads are busy with theirs, or a
 * helper held up between taking the call and its first claim. Halves, each
 * restarting the eighths, made 227 claims of a 2^16-item call nested on 2
 * threads, 90 so (test_sched, a_call_nested_in_a_busy_pool_...); a guided
 * share (remaining / divisor) for a thread without a slot. An owner that
 * comes later steals back in turn.
 * Items at or above stop_at are dropped from the victim on the way. */
static bool slot_steal(const struct pool__job *job, unsigned self, bool has_slot, size_t *b,
                       size_t *e)
{
    for (unsigned k = 1; k <= job->nslots; k++) {
        unsigned v = (self + k) % job->nslots;
        if (has_slot && v == self)
            continue;
        struct pool__slot *s = &job->slots[v];
        uint64_t cur = pool__load_relaxed(&s->range);
        size_t lo, hi;
        while (slot_live(job, cur, &lo, &hi)) {
            size_t take = !has_slot ? (hi - lo) / job->divisor
                          : pool__load_relaxed(&s->owned) ? (hi - lo + 1) / 2
                                                          : hi - lo;
            if (take < 1)
                take = 1;
            if (pool__cas_weak_relaxed(&s->range, &cur, SLOT_PACK(lo, hi - take))) {
                *b = hi - take;
                *e = hi;
                return true;
            }
        }
    }
    return false;
}

/* True when some slot holds items that may still start. */
static bool job_slots_open(const struct pool__job *job)
{
    for (unsigned k = 0; k < job->nslots; k++)
        if (slot_open(job, &job->slots[k]))
            return true;
    return false;
}

/* True when no further claim can yield an item that may start. With slots
 * a hint: `next` is set to n by the first thread that found nothing left to
 * steal, and items stolen but not yet republished stay with their thief,
 * which runs them itself; the hint spares the queue the slots' lines. */
static bool job_exhausted(struct pool__job *job)
{
    size_t next = pool__load_relaxed(&job->next);
    return next >= job->n || next >= pool__load_relaxed(&job->stop_at);
}

/* Bit of job->attached: the caller sleeps on pool->join_cv until the count
 * is 0; the helper that takes it there wakes it. */
#define POOL__JOIN_WAITING ((size_t)1 << (sizeof(size_t) * 8 - 1))

/* A helper leaves a blocking job: its last access to it, with or without
 * the lock (the caller waits for the count without it). True when it took
 * the count to 0 under a sleeping caller, which it must then wake (under
 * the lock, so after the caller waits). */
static bool job_leave(struct pool__job *job)
{
    return atomic_fetch_sub_explicit(&job->attached, 1, memory_order_release) ==
           (POOL__JOIN_WAITING | 1);
}

/* True when a turn has something for job_report. */
static bool turn_has_news(struct pool__turn turn)
{
    return turn.rc != 0 || turn.skipped != POOL_NO_INDEX || turn.left;
}

/* Report a thread's turn (lock held); keeps the lowest indices. */
static void job_report(struct pool__job *job, struct pool__turn turn)
{
    if (turn.rc != 0 && turn.failed < job->fail_index) {
        job->fail_index = turn.failed;
        job->fail_status = turn.rc;
    }
    if (turn.skipped < job->skipped_at)
        job->skipped_at = turn.skipped;
    if (turn.left)
        job->helper_left = true;
}

/* ---- claiming and running --------------------------------------------- */

/* Size of the claim that starts at `cur`. Guided: remaining / divisor, never
 * below min_chunk, so claims shrink as the call nears its end. */
static size_t job_chunk_at(const struct pool__job *job, size_t cur)
{
    size_t rem = job->n - cur;
    size_t c = job->chunk ? job->chunk : rem / job->divisor;
    if (job->chunk == 0 && c < job->min_chunk)
        c = job->min_chunk;
    return c > rem ? rem : c;
}

/* Claim the next chunk [*b, *e). */
static bool job_claim(struct pool__job *job, size_t *b, size_t *e)
{
    size_t cur = pool__load_relaxed(&job->next);
    size_t end;
    do {
        if (cur >= job->n)
            return false;
        end = cur + job_chunk_at(job, cur);
    } while (!pool__cas_weak_relaxed(&job->next, &cur, end));
    *b = cur;
    *e = end;
    return true;
}

/* The claims follow one deterministic sequence of sizes, whoever makes
 * them: count it, to size the chunk records of a streamed future. */
size_t pool__job_count_chunks(const struct pool__job *job)
{
    size_t count = 0;
    for (size_t cur = 0; cur < job->n; cur += job_chunk_at(job, cur))
        count++;
    return count;
}

/* Lower job->stop_at to at most `index`. */
static void job_stop_at(struct pool__job *job, size_t index)
{
    size_t cur = pool__load_relaxed(&job->stop_at);
    while (index < cur && !pool__cas_weak_relaxed(&job->stop_at, &cur, index)) {
    }
}

/* Run one chunk; returns its status. Items [b, *stop) ran; on failure item
 * *stop failed; with 0 and *stop < e the rest was skipped (stop_at). */
static int job_chunk(struct pool__job *job, size_t b, size_t e, size_t *stop)
{
    *stop = b;
    unsigned acct = pool__acct_switch(POOL__ACCT_BODY);
    int rc = job->body(job, b, e, stop);
    pool__acct_switch(acct);
    pool__acct_event(POOL__EV_CHUNKS);
    if (job->future)
        pool__future_chunk_done(job->future, b, *stop, rc);
    return rc;
}

/* job_chunk for a turn of a call without slots: counts the items that
 * ran. `exact` (the caller's chunks, a helper's first, its largest) reads
 * the tick counter before and after: adds the time to the turn (the
 * caller's estimate of a tiny call, see job_run_parallel) and flags a
 * chunk longer than the tiny-call budget. */
static int turn_chunk(const pool_t *pool, struct pool__job *job, size_t b, size_t e,
                      size_t *stop, struct pool__turn *turn, bool exact)
{
    unsigned long long t0 = exact ? pool__ticks() : 0;
    int rc = job_chunk(job, b, e, stop);
    if (exact) {
        unsigned long long t = pool__ticks() - t0;
        turn->busy += t;
        if (t > pool->tiny_ticks)
            turn->long_chunk = true;
    }
    turn->ran += *stop - b;
    return rc;
}

/* Items a claim of the thread's own slot may hold, from its last chunk:
 * `ran` items in `ticks`. As many as that rate runs in pool->claim_ticks
 * (POOL__CLAIM_NS), at least one. */
static size_t claim_cap(const pool_t *pool, size_t ran, unsigned long long ticks)
{
    if (ticks == 0)
        return SIZE_MAX;
    unsigned long long cap = (unsigned long long)ran * pool->claim_ticks / ticks;
    return cap == 0 ? 1 : cap < SIZE_MAX ? (size_t)cap : SIZE_MAX;
}

/*
 * The clock of a turn with slots. Reading it costs 10-25 ns (rdtsc: 9 ns
 * on the 2-core VM, 25 on the 16-core Xeon VM, bench_probe costs), and a
 * W5 call (64 items of 1 us on 2 threads) makes about 21 claims a thread,
 * a W6 inner call's chunks of tiny items a few hundred ns each: timed one
 * by one (the caller's twice), the reads were a good part of a claim's
 * cost. So a span of chunks is timed as one. The clock is read before a
 * turn's first chunk and the first after each steal (its items' cost is
 * unknown) and after that chunk; when the thread's share runs out; and
 * otherwise once the items since the last read would have taken an
 * eighth of the claim cap at the last span's rate, or after
 * POOL__PACE_CHUNKS untimed chunks of more than one item: items that turn
 * costly are seen within a few claims, as they were within one when every
 * chunk was timed. Single items are not counted: no rate can make a claim
 * smaller than one, and W5's tail of them (then about 14 a thread) read the
 * clock 3 times more a thread a call; counted, W5 at 2 threads took 0.8 %
 * longer (bench/ab.sh, 7 rounds, 2-core Xeon VM).
 */
struct pool__pace {
    unsigned long long clock; /* the last read */
    size_t cap;               /* claims hold at most this many items */
    size_t least;             /* ... and at least this many */
    size_t unread;            /* items run since the last read */
    unsigned chunks;          /* chunks of 2 or more items since the last read */
    bool fresh; /* the next chunk starts a span: read before it and after */
    unsigned long long floor_div; /* least = cap / floor_div (the floor's) */
};

/* True when the chunks since the last read are to be timed now: the
 * items since then would take an eighth of the cap at the last rate. */
static bool pace_due(const struct pool__pace *pace)
{
    size_t eighth = pace->cap / 8 > 0 ? pace->cap / 8 : 1;
    return pace->fresh || pace->unread >= eighth || pace->chunks >= POOL__PACE_CHUNKS;
}

/* Read the clock: the span since the last read goes to the turn's busy
 * time (the caller's tiny estimate) and flags a long chunk, and its rate,
 * when anything ran since the last read, sets the claims' cap and floor. */
static void pace_read(const pool_t *pool, struct pool__pace *pace,
                      struct pool__turn *turn)
{
    unsigned long long now = pool__ticks(), t = now - pace->clock;
    pace->clock = now;
    pace->fresh = false;
    pace->chunks = 0;
    turn->busy += t;
    if (t > pool->tiny_ticks)
        turn->long_chunk = true;
    if (pace->unread == 0)
        return;
    pace->cap = claim_cap(pool, pace->unread, t);
    pace->unread = 0;
    pace->least = pace->cap == SIZE_MAX ? 0 : pace->cap / pace->floor_div;
}

/* job_work with slots: the thread's own slot first, then steals. A failure
 * lowers stop_at but the thread goes on: items below it may still sit in
 * other slots, and the error contract needs them run. */
static struct pool__turn job_work_slots(pool_t *pool, struct pool__job *job, unsigned slot,
                                        bool may_leave)
{
    unsigned other = (job->lane + 1) % POOL__NLANES;
    struct pool__slot *mine = slot < job->nslots ? &job->slots[slot] : NULL;
    struct pool__turn turn = { 0, POOL_NO_INDEX, POOL_NO_INDEX, false, false, 0, 0 };
    size_t b, e, stop;
    struct pool__pace pace = { 0, SIZE_MAX, 0, 0, 0, true, /* no chunk timed yet */
                               POOL__CLAIM_NS / (job->parent ? POOL__CLAIM_MIN_NS
                                                             : POOL__CLAIM_FLOOR_NS) };

    if (mine != NULL && slot != 0)
        pool__store_relaxed(&mine->owned, true);

    for (;;) {
        bool last;
        unsigned acct = pool__acct_switch(POOL__ACCT_CLAIM);
        bool own = mine != NULL && slot_claim(job, mine, pace.least, pace.cap, &b, &e, &last);
        pool__acct_switch(acct);
        pool__acct_event(POOL__EV_CLAIMS);
        if (slot == 0 && (!own || last)) /* the caller's share is all claimed */
            offer_withdraw_if_all_in(pool, job);
        if (!own) {
            /* Time the share's last chunks, and not the search below. */
            if (pace.unread > 0)
                pace_read(pool, &pace, &turn);
            pace.fresh = true;
            pace.least = 0; /* stolen items may cost more than these did */
            acct = pool__acct_switch(POOL__ACCT_STEAL);
            bool stolen = slot_steal(job, slot, mine != NULL, &b, &e);
            pool__acct_switch(acct);
            pool__acct_event(POOL__EV_STEALS);
            if (stolen)
                pool__acct_event(POOL__EV_STOLEN);
            if (!stolen) {
                /* The hint for queue_pick (see job_exhausted); an offered
                 * call is on the queue only once requeued, and then only
                 * threads without a slot store it (those that came
                 * through the queue, and on pools of over 16 threads the
                 * offer's later takers): the store moves a line its
                 * caller waits on. */
                if ((!job->offered || (mine == NULL && pool__load_relaxed(&job->requeued))) &&
                    pool__load_relaxed(&job->next) != job->n)
                    pool__store_relaxed(&job->next, job->n);
                break;
            }
            if (mine) {
                /* Until the store below, nobody else sees these items: a
                 * caller that looks now finds nothing to steal and ends
                 * its loop (see helper_left). A plain store: the slot
                 * holds nothing below stop_at, so a thief's update that it
                 * overwrites (one that read an older stop_at) drops no item
                 * that may start. And the word is the slot's whole state
                 * (an unclaimed item sits in one slot at most): a CAS that
                 * finds the value it expects is right whatever happened in
                 * between. */
                pool__steal_gap();
                pool__store_relaxed(&mine->range, SLOT_PACK(b, e));
                continue;
            }
        }
        if (pace.fresh)
            pace.clock = pool__ticks();
        int rc = job_chunk(job, b, e, &stop);
        turn.ran += stop - b;
        pace.unread += stop - b;
        pace.chunks += e - b > 1;
        if (pace_due(&pace))
            pace_read(pool, &pace, &turn);
        if (rc != 0) {
            /* Lower than any earlier failure of this thread: claims stay
             * below stop_at. */
            turn.rc = rc;
            turn.failed = stop;
            job_stop_at(job, stop);
        }
        /* A worker that leaves for the other lane may leave items in its
         * slot: thieves, or the caller after its join, run them. */
        if (may_leave && pool__load_relaxed(&pool->lane_queued[other]) != 0) {
            if (pace.unread > 0)
                pace_read(pool, &pace, &turn);
            turn.left = true;
            break;
        }
    }
    return turn;
}

/* True when the offer holds a call the worker whose last offer was
 * `stale` may take (offer_seen, on a copy). */
static bool offer_open(pool_t *pool, const char *stale)
{
    return offer_seen(pool__load_relaxed(&pool->offer), &stale);
}

/* Run claimed chunks until none is left or one fails; then the job is
 * exhausted: every claim from now on is at or past n or stop_at. A worker
 * (`stale`, its last offer, see offer_seen; NULL for other threads) also
 * leaves between chunks when the other lane has work waiting, so one long
 * call cannot keep the pool from the other lane; in an async job, also
 * when a blocking call it may take is on the offer, which no lane counts.
 * Leaving an async job keeps it queued for the others; leaving an offered
 * call with items left queues it (job_requeue). */
static struct pool__turn job_work(pool_t *pool, struct pool__job *job, unsigned slot,
                                  const char *const *stale)
{
    bool may_leave = stale != NULL;
    unsigned other = (job->lane + 1) % POOL__NLANES;
    struct pool__frame frame = { pool, pool__frames, job };
    struct pool__turn turn = { 0, POOL_NO_INDEX, POOL_NO_INDEX, false, false, 0, 0 };
    size_t b, e, stop;

    pool__frames = &frame;
    unsigned acct = pool__acct_switch(POOL__ACCT_LOOP);
    if (job->slots) {
        turn = job_work_slots(pool, job, slot, may_leave);
        pool__frames = frame.up;
        pool__acct_switch(acct);
        return turn;
    }
    while (job_claim(job, &b, &e)) {
        /* Claims only grow, so once one starts at or above stop_at (a
         * failure or a cancel), so does every later one. */
        if (b >= pool__load_relaxed(&job->stop_at)) {
            turn.skipped = b;
            break;
        }
        turn.rc = turn_chunk(pool, job, b, e, &stop, &turn, !may_leave || turn.ran == 0);
        if (turn.rc != 0) {
            turn.failed = stop;
            job_stop_at(job, stop);
            break;
        }
        if (stop < e) {
            turn.skipped = stop;
            break;
        }
        if (may_leave && (pool__load_relaxed(&pool->lane_queued[other]) != 0 ||
                          (job->lane == POOL__LANE_ASYNC && offer_open(pool, *stale))))
            break;
    }
    pool__frames = frame.up;
    pool__acct_switch(acct);
    return turn;
}

/* ---- completion of async jobs, and detaching (pool->lock held) -------- */

/* pool->live: from the async future's submission to the claim of its
 * completion. The queue alone does not do: a job leaves it once its items
 * are all claimed (or a failure lowered stop_at), while they still run. */
static void live_link(pool_t *pool, struct pool_future *f)
{
    f->live_prev = NULL;
    f->live_next = pool->live;
    if (pool->live)
        pool->live->live_prev = f;
    pool->live = f;
}

static void live_unlink(pool_t *pool, struct pool_future *f)
{
    if (f->live_prev)
        f->live_prev->live_next = f->live_next;
    else
        pool->live = f->live_next;
    if (f->live_next)
        f->live_next->live_prev = f->live_prev;
    f->live_prev = f->live_next = NULL;
}

/* If the async job is over (exhausted, nobody attached) and nobody has
 * claimed its completion, claim it: settle the future's status and return
 * it, to be finished with pool__future_finish() after the unlock. */
static struct pool_future *job_try_complete(pool_t *pool, struct pool__job *job)
{
    struct pool_future *f = job->future;
    if (f == NULL || f->completing || !job_exhausted(job) ||
        pool__load_relaxed(&job->attached) != 0)
        return NULL;
    queue_unlink(pool, job);
    live_unlink(pool, f);
    f->completing = true;
    /* The lowest item that did not complete decides, as in the serial
     * loop: a failure, or an item a cancel kept from starting. Without a
     * cancel, items are only skipped above a failure. */
    if (job->fail_status != 0 && job->fail_index < job->skipped_at) {
        f->status = job->fail_status;
        f->failed_index = job->fail_index;
    } else if (job->cancelled && job->skipped_at != POOL_NO_INDEX) {
        f->status = ECANCELED;
        f->failed_index = job->skipped_at;
    } else {
        f->status = job->fail_status;
        f->failed_index = job->fail_status ? job->fail_index : POOL_NO_INDEX;
    }
    return f;
}

/* Wake up to `want` sleeping workers, after work was made visible to them
 * by a sequentially consistent write (the offer's CAS, queue_link's count).
 * That write comes before this load, a sleeping worker's raise of
 * nsleeping before its last look (worker_sleep), all sequentially
 * consistent: either that look finds the work, or this load counts the
 * worker, and the wake-up makes its ticket stale. */
static void wake_workers(pool_t *pool, size_t want)
{
    size_t nsleeping = atomic_load(&pool->nsleeping);
    if (want > nsleeping)
        want = nsleeping;
    if (want > 0)
        pool__parking_wake(&pool->parking, want < INT_MAX ? (int)want : INT_MAX);
}

/*
 * A worker that leaves an offered call for the async lane has spent the
 * offer: it takes each offer once (see offer_seen), so it would not come
 * back, and each such leave would cost the call a helper for the rest of
 * its run. While items are left to steal, the call goes on the queue
 * instead, where that worker and others find it again as they alternate
 * between the lanes, as they do for a queued call (lock held, the leaving
 * helper still attached, so the caller has not returned). Whoever attaches
 * there gets no slot of its own: the offer's takers own theirs by their
 * count, and a slot has one owner (its republish is a plain store). The
 * caller takes it off once its helpers are gone (job_requeue_end).
 */
static void job_requeue(pool_t *pool, struct pool__job *job)
{
    if (job->linked || job->requeue_closed || !job_slots_open(job))
        return;
    job->slots_given = job->nslots; /* steal only */
    pool__store_relaxed(&job->requeued, true);
    queue_link(pool, job);
    wake_workers(pool, 1);
}

/* Detach a helper from `job` (lock held). Returns a future to finish. */
static struct pool_future *job_detach(pool_t *pool, struct pool__job *job,
                                      struct pool__turn turn)
{
    if (job_exhausted(job)) /* a worker may leave a job that still has work */
        queue_unlink(pool, job);
    else if (turn.left && job->offered)
        job_requeue(pool, job);
    job_report(job, turn);
    if (job->future) {
        atomic_fetch_sub_explicit(&job->attached, 1, memory_order_relaxed);
        return job_try_complete(pool, job);
    }
    if (job_leave(job))
        pthread_cond_broadcast(&pool->join_cv);
    return NULL;
}

/* ---- the caller's side ------------------------------------------------- */

/*
 * Sharing a call costs its caller about a microsecond or less: the pool
 * lock twice, a helper's attach and detach, the cache lines they move. A
 * call that takes less than POOL__TINY_NS in all (pool->tiny_ticks, that
 * time in pool__ticks) runs faster on its caller alone, as TBB's caller
 * runs a range no thief took in time. Each pool remembers whether its last
 * parallel call was that small (tiny_calls); while it was, the next call is
 * run alone first.
 */

static void set_tiny_calls(pool_t *pool, bool tiny)
{
    if (pool__load_relaxed(&pool->tiny_calls) != tiny)
        pool__store_relaxed(&pool->tiny_calls, tiny);
}

/*
 * Run the items of a job nobody else can see yet on its caller, in claims
 * of min_chunk items (or a fixed chunk no larger), until they are all done or
 * pool->tiny_ticks have passed. A call wrongly taken for tiny thus starts
 * on the other threads at most one such claim (1/128 of a thread's share)
 * and about the budget (750 ns) late. Returns true when the call is over: every
 * item ran, or one failed (turn says which).
 */
static bool job_work_alone(pool_t *pool, struct pool__job *job, struct pool__turn *turn)
{
    unsigned long long deadline = pool__ticks() + pool->tiny_ticks;
    size_t claim = job->chunk ? job->chunk : job->min_chunk;
    struct pool__frame frame = { pool, pool__frames, job };
    bool over = false;
    size_t b = 0;

    pool__frames = &frame;
    while (!over) {
        size_t e = job->n - b > claim ? b + claim : job->n, stop;
        pool__store_relaxed(&job->next, e); /* unpublished: no CAS needed */
        turn->rc = job_chunk(job, b, e, &stop);
        if (turn->rc != 0) {
            turn->failed = stop;
            job_stop_at(job, stop);
            over = true;
        } else if (e == job->n) {
            over = true;
        } else if (pool__ticks() > deadline) {
            break;
        }
        b = e;
    }
    pool__frames = frame.up;
    return over;
}

/* Attach a helper to a queued job (lock held): its slot, a share of its
 * own while any is left, else job->nslots (none). */
static unsigned job_attach(struct pool__job *job)
{
    /* An RMW: helpers detach without the lock. */
    atomic_fetch_add_explicit(&job->attached, 1, memory_order_relaxed);
    if (job->slots && job->slots_given < job->nslots)
        return job->slots_given++;
    return job->nslots;
}

/* A helper's detach after its turn at `job`, its last access to it. */
static void turn_end(pool_t *pool, struct pool__job *job, struct pool__turn turn)
{
    unsigned acct = pool__acct_switch(POOL__ACCT_LEAVE);
    /* Here, not as the chunk ends: long_chunk shares attached's line,
     * which the detach below moves to this thread anyway. Flagged from
     * each span, as it was, the line went back and forth a few more times
     * a call (each thread's load and store, then the caller's withdraw);
     * no faster on 2 threads (bench/ab.sh W5, 9 rounds: 0.998), but one
     * line fewer for the many helpers of a call on a large pool. */
    if (turn.long_chunk)
        pool__store_relaxed(&job->long_chunk, true);
    if (job->future == NULL && !turn_has_news(turn)) {
        /* A blocking call, nothing to report: detach without the lock. A
         * queued job stays queued until its caller, or queue_pick finding
         * it exhausted, unlinks it. */
        if (job_leave(job)) {
            unsigned was = lock_pool(pool);
            pthread_cond_broadcast(&pool->join_cv);
            unlock_pool(pool, was);
        }
        pool__acct_switch(acct);
        return;
    }
    unsigned was = lock_pool(pool);
    struct pool_future *done = job_detach(pool, job, turn);
    unlock_pool(pool, was);
    if (done)
        pool__future_finish(done);
    pool__acct_switch(acct);
}

/* True when `job` was called from an item of `anc`, or from an item of a
 * call itself so called (lock held, `job` queued: its caller waits in that
 * item, so every job up the chain is alive). */
static bool job_nested_in(const struct pool__job *job, const struct pool__job *anc)
{
    for (const struct pool__job *p = job->parent; p != NULL; p = p->parent)
        if (p == anc)
            return true;
    return false;
}

/*
 * A caller whose own items are all claimed waits for its helpers, and a
 * helper may be in an item that made a call of its own (W6: an outer map
 * whose items each run an inner map). Waiting idle, the caller would leave
 * that inner call a thread short; and it cannot return before the inner
 * call does, so it helps there like a worker: a turn at a queued call
 * nested in its own call's items (never another caller's call, which
 * could hold it past its own call's end). Nested calls are never offered
 * (offer_publish), so the queue holds them all.
 *
 * Find one that has items left and attach to it (lock held); NULL if none.
 */
static struct pool__job *queue_pick_nested(pool_t *pool, const struct pool__job *job,
                                           unsigned *slot)
{
    for (struct pool__job *j = pool->lanes[POOL__LANE_CALL].head; j != NULL; j = j->qnext)
        if (!job_exhausted(j) && job_nested_in(j, job)) {
            *slot = job_attach(j);
            return j;
        }
    return NULL;
}

/* True when a caller up `job`'s chain sleeps in job_join (lock held): a
 * nested call queued now must wake it to help (see queue_pick_nested). An
 * offered ancestor's count may read as wrapped below 0 (see the offer):
 * then a needless broadcast, which wakes waiters to look and sleep again. */
static bool job_ancestor_sleeps(const struct pool__job *job)
{
    for (const struct pool__job *p = job->parent; p != NULL; p = p->parent)
        if (pool__load_relaxed(&p->attached) & POOL__JOIN_WAITING)
            return true;
    return false;
}

/* A waiting caller's turn at nested call j it attached to, and its
 * detach (without the lock). */
static void help_turn(pool_t *pool, struct pool__job *j, unsigned slot)
{
    struct pool__turn turn = job_work(pool, j, slot, NULL);
    if (turn.ran == 0)
        pool__acct_event(POOL__EV_IDLE_TURNS);
    turn_end(pool, j, turn);
}

/* A turn at a nested call, if one is queued; true when it took one. */
static bool job_help_nested(pool_t *pool, struct pool__job *job)
{
    if (pool__load_relaxed(&pool->lane_queued[POOL__LANE_CALL]) == 0)
        return false;
    unsigned slot = 0;
    unsigned was = lock_pool(pool);
    struct pool__job *j = queue_pick_nested(pool, job, &slot);
    unlock_pool(pool, was);
    if (j == NULL)
        return false;
    help_turn(pool, j, slot);
    return true;
}

/* Wait until every helper has detached from the caller's job: help calls
 * nested in its items meanwhile, spin briefly (they are finishing their
 * last chunks), then sleep. */
static void job_join(pool_t *pool, struct pool__job *job)
{
    unsigned acct = pool__acct_switch(POOL__ACCT_JOIN);
    unsigned long long deadline = pool__now_ns() + POOL__SPIN_NS;
    unsigned spins = 0, look = 0; /* the spin at which to look for nested calls */
    while (pool__load_acquire(&job->attached) + job->offer_count != 0) {
        if (spins == look) {
            /* Found none: look again after twice as many spins, so that
             * other callers' queued calls cost a waiting caller a few
             * looks under the lock, not one every few spins. */
            if (job_help_nested(pool, job)) {
                deadline = pool__now_ns() + POOL__SPIN_NS;
                spins = look = 0;
                continue;
            }
            look = look ? 2 * look : 64;
        }
        pool__cpu_relax();
        if ((++spins & 63u) == 0 && pool__now_ns() > deadline)
            break;
    }
    if (pool__load_acquire(&job->attached) + job->offer_count != 0) {
        /* Flag the wait under the lock: a helper that then takes the count
         * to 0 takes the lock to wake us, so after we are waiting; so does
         * a nested call queued meanwhile (job_ancestor_sleeps), which we
         * then help. The count from the offer joins the helpers' leaves
         * first, so that one of them takes attached to 0. */
        atomic_fetch_add_explicit(&job->attached, job->offer_count, memory_order_relaxed);
        job->offer_count = 0;
        unsigned was = lock_pool(pool);
        size_t cur = atomic_fetch_or_explicit(&job->attached, POOL__JOIN_WAITING,
                                              memory_order_acquire);
        while ((cur & ~POOL__JOIN_WAITING) != 0) {
            unsigned slot = 0;
            struct pool__job *j = queue_pick_nested(pool, job, &slot);
            if (j != NULL) {
                unlock_pool(pool, was);
                help_turn(pool, j, slot);
                (void)lock_pool(pool); /* `was` stays what to go back to */
            } else {
                pool__acct_switch(POOL__ACCT_JOIN);
                pthread_cond_wait(&pool->join_cv, &pool->lock);
                pool__acct_switch(POOL__ACCT_LOCKED);
            }
            cur = pool__load_acquire(&job->attached);
        }
        unlock_pool(pool, was);
    }
    pool__acct_switch(acct);
}

/* Take a requeued offered call off the queue for good, once the helpers
 * counted so far are gone, and wait for any that attached there
 * meanwhile. Its helpers' leaves, each after any requeue of theirs, made
 * `requeued` visible to the caller's acquire of their count; a requeue
 * needs an attached helper, and once closed there is none. */
static void job_requeue_end(pool_t *pool, struct pool__job *job)
{
    pool__requeue_gap();
    unsigned was = lock_pool(pool);
    queue_unlink(pool, job);
    job->requeue_closed = true;
    /* The offer's helpers are gone: with their count folded in, attached
     * is the queue's attachers still there (it read below 0 before, its
     * top bit set by the wrap, not by a sleeping join). Then clear the
     * flag a join that slept left. */
    atomic_fetch_add_explicit(&job->attached, job->offer_count, memory_order_relaxed);
    job->offer_count = 0;
    size_t cur = atomic_fetch_and_explicit(&job->attached, ~POOL__JOIN_WAITING,
                                           memory_order_acquire);
    unlock_pool(pool, was);
    if ((cur & ~POOL__JOIN_WAITING) != 0)
        job_join(pool, job);
}

static int job_run_parallel(pool_t *pool, struct pool__job *job)
{
    struct pool__turn turn = { 0, POOL_NO_INDEX, POOL_NO_INDEX, false, false, 0, 0 };
    struct pool__slot slots[POOL__MAX_SLOTS];
    unsigned long long start = pool__ticks();
    /* A fixed chunk above min_chunk would be run whole before the check. */
    if (pool__load_relaxed(&pool->tiny_calls) && job->chunk <= job->min_chunk) {
        if (job_work_alone(pool, job, &turn)) {
            job_report(job, turn);
            return job->fail_status;
        }
        set_tiny_calls(pool, false); /* not tiny after all: share the rest */
    }
    /* Slots index items in 32 bits; a fixed chunk keeps its exact claims. */
    if (job->chunk == 0 && job->n <= UINT32_MAX) {
        size_t from = pool__load_relaxed(&job->next), rem = job->n - from;
        size_t nslots = pool->nthreads < POOL__MAX_SLOTS ? pool->nthreads : POOL__MAX_SLOTS;
        unsigned k = (unsigned)(nslots < rem ? nslots : rem);
        job_split(job, slots, k, job_deal(pool, job, k), from);
        job->slots_given = 1;
    }

    /* Wake only as many sleepers as could get an item; spinning workers
     * find the job without a wake-up. */
    size_t want = pool->nthreads - 1 < job->n - 1 ? pool->nthreads - 1 : job->n - 1;
    if (!offer_publish(pool, job)) {
        unsigned was = lock_pool(pool);
        queue_link(pool, job);
        if (job->parent != NULL && job_ancestor_sleeps(job))
            pthread_cond_broadcast(&pool->join_cv);
        unlock_pool(pool, was);
    }
    wake_workers(pool, want);

    turn = job_work(pool, job, 0, NULL);
    pool__acct_switch(POOL__ACCT_FINISH);

    size_t attached;
    if (job->offered) {
        offer_withdraw(pool, job);
        if (turn_has_news(turn)) { /* helpers report under the lock */
            unsigned was = lock_pool(pool);
            job_report(job, turn);
            unlock_pool(pool, was);
        }
        attached = pool__load_acquire(&job->attached) + job->offer_count;
    } else {
        unsigned was = lock_pool(pool);
        queue_unlink(pool, job);
        job_report(job, turn);
        /* Acquire: a helper may have detached without the lock. */
        attached = pool__load_acquire(&job->attached);
        unlock_pool(pool, was);
    }

    if (attached != 0)
        job_join(pool, job);
    if (pool__load_relaxed(&job->requeued))
        job_requeue_end(pool, job);
    /* A helper that left for the other lane may have left items in its
     * slot that the caller's last look missed (they were in flight, stolen
     * and not yet republished): every helper gone, run them here. */
    if (job->helper_left && job_slots_open(job)) {
        struct pool__turn rest = job_work(pool, job, 0, NULL);
        job_report(job, rest);
        turn.long_chunk |= rest.long_chunk;
    }
    /* Tiny: shared, it took under half the budget (alone it would have
     * taken less than the sharing did); or all n items, at the rate the
     * caller's own chunks ran, come to under the budget and no thread's
     * chunk took longer than that. The estimate leaves out the set-up, the
     * caller's look through the other slots and the helpers' comings and
     * goings, which grow with the threads (on 16 threads an estimate that
     * counted them found no W1 call tiny: 6.0 us a call where TBB took
     * 3.7); the long-chunk flag keeps a call whose caller happened to run
     * the cheap items from looking tiny (a test's call of two items, the
     * helper's taking milliseconds, did every third call). */
    if (pool__ticks() - start < pool->tiny_ticks / 2 ||
        (turn.ran > 0 && !turn.long_chunk &&
         (double)turn.busy * (double)job->n < (double)turn.ran * (double)pool->tiny_ticks &&
         !pool__load_relaxed(&job->long_chunk)))
        set_tiny_calls(pool, true);
    return job->fail_status;
}

void pool__job_prepare(pool_t *pool, struct pool__job *job)
{
    job->qprev = job->qnext = NULL;
    job->linked = false;
    job->fail_index = POOL_NO_INDEX;
    job->fail_status = 0;
    job->skipped_at = POOL_NO_INDEX;
    job->cancelled = false;
    job->slots = NULL;
    job->nslots = 0;
    job->slots_given = 0;
    job->offered = false;
    job->withdrawn = false;
    job->offer_count = 0;
    job->helper_left = false;
    atomic_init(&job->requeued, false);
    job->requeue_closed = false;
    job->parent = NULL;
    atomic_init(&job->attached, 0);
    atomic_init(&job->next, 0);
    atomic_init(&job->stop_at, SIZE_MAX);
    atomic_init(&job->long_chunk, false);
    if (job->chunk > job->n)
        job->chunk = job->n;
    size_t p = pool ? pool->nthreads : 1;
    job->divisor = 2 * p;
    /* Floor for guided claims: about 128 claims per thread at most, so tiny
     * items do not drown in claims. */
    job->min_chunk = job->n / (128 * p);
    if (job->min_chunk == 0)
        job->min_chunk = 1;
}

void pool__call_begin(pool_t *pool)
{
    atomic_fetch_add_explicit(&pool->calls, 1, memory_order_relaxed);
}

void pool__call_end(pool_t *pool)
{
    /* Last call out while pool_destroy() waits: let it go on. After the
     * unlock this thread does not touch the pool again. */
    if (atomic_fetch_sub_explicit(&pool->calls, 1, memory_order_acq_rel) ==
        (POOL__DESTROYING | 1)) {
        pthread_mutex_lock(&pool->lock);
        pool->drained = true;
        pthread_cond_broadcast(&pool->drain_cv);
        pthread_mutex_unlock(&pool->lock);
    }
}

/* The job whose items this thread runs on `pool`, innermost, or NULL.
 * Frames without a job (an in-place call, on_done) are passed over: an
 * in-place call's items run inside the item that made it, so a call made
 * from them is nested in that item's job all the same. */
static struct pool__job *frame_job(const pool_t *pool)
{
    for (const struct pool__frame *f = pool__frames; f; f = f->up)
        if (f->pool == pool && f->job != NULL)
            return f->job;
    return NULL;
}

int pool__run(pool_t *pool, struct pool__job *job)
{
    job->lane = POOL__LANE_CALL;
    pool__job_prepare(pool, job);
    job->parent = frame_job(pool);
    unsigned acct = pool__acct_switch(POOL__ACCT_SETUP);
    enum pool__held held = pool__call_enter(pool);
    int rc = job_run_parallel(pool, job);
    pool__call_leave(pool, held);
    pool__acct_switch(acct);
    return rc;
}

/* ---- async jobs -------------------------------------------------------- */

/* An async job without a pool runs to its end here, chunk by chunk (its
 * future's records and progress are per chunk). */
static int job_run_detached(struct pool__job *job)
{
    struct pool__frame frame = { NULL, pool__frames, job };
    size_t failed = POOL_NO_INDEX;
    int rc = 0;

    pool__frames = &frame;
    for (size_t b = 0, e; b < job->n && rc == 0; b = e) {
        e = job->chunk && job->chunk < job->n - b ? b + job->chunk : job->n;
        rc = job_chunk(job, b, e, &failed);
    }
    pool__frames = frame.up;
    job->fail_index = rc != 0 ? failed : POOL_NO_INDEX;
    job->fail_status = rc;
    return rc;
}

int pool__submit(pool_t *pool, struct pool__job *job)
{
    job->lane = POOL__LANE_ASYNC;
    if (pool == NULL)
        return job_run_detached(job);

    /* Under the lock: once queued the job may finish, and its future be
     * freed, at any moment. */
    pthread_mutex_lock(&pool->lock);
    int rc = pool__ensure_worker(pool);
    if (rc == 0) {
        live_link(pool, job->future);
        queue_link(pool, job);
        wake_workers(pool, job->n);
    }
    pthread_mutex_unlock(&pool->lock);
    return rc;
}

void pool__help(pool_t *pool, struct pool__job *job)
{
    pthread_mutex_lock(&pool->lock);
    if (job_exhausted(job)) {
        pthread_mutex_unlock(&pool->lock);
        return;
    }
    atomic_fetch_add_explicit(&job->attached, 1, memory_order_relaxed);
    pthread_mutex_unlock(&pool->lock);

    struct pool__turn turn = job_work(pool, job, 0, NULL); /* async: no slots */

    pthread_mutex_lock(&pool->lock);
    struct pool_future *done = job_detach(pool, job, turn);
    pthread_mutex_unlock(&pool->lock);
    if (done)
        pool__future_finish(done);
}

/* Keep every item of `job` that has not started from starting (lock held):
 * claim all unclaimed items, and lower stop_at to 0 so running chunks stop
 * before their next item. False when there is nothing left to stop: the
 * future is completing, or it is a task already running. */
static bool job_cancel_locked(struct pool__job *job)
{
    if (job->future->completing)
        return false;
    size_t cur = pool__load_relaxed(&job->next);
    while (cur < job->n && !pool__cas_weak_relaxed(&job->next, &cur, job->n)) {
    }
    if (cur >= job->n && job->n == 1)
        return false;
    if (cur < job->n && cur < job->skipped_at)
        job->skipped_at = cur;
    job->cancelled = true;
    pool__store_relaxed(&job->stop_at, 0);
    return true;
}

bool pool__cancel(pool_t *pool, struct pool__job *job)
{
    pthread_mutex_lock(&pool->lock);
    bool cancelled = job_cancel_locked(job);
    struct pool_future *done = job_try_complete(pool, job);
    pthread_mutex_unlock(&pool->lock);
    if (done)
        pool__future_finish(done);
    return cancelled;
}

/* Every live async future, queued or with its last chunks running: those
 * with no helper attached complete here, the others when their running
 * items end. The batch completed here is published whole before any of its
 * on_done runs: an on_done may wait for another future of it. */
void pool__cancel_live(pool_t *pool)
{
    struct pool_future *done = NULL;

    pthread_mutex_lock(&pool->lock);
    struct pool_future *f = pool->live;
    while (f) {
        struct pool_future *next = f->live_next;
        job_cancel_locked(&f->job);
        if (job_try_complete(pool, &f->job)) {
            f->finish_next = done;
            done = f;
        }
        f = next;
    }
    pthread_mutex_unlock(&pool->lock);
    for (f = done; f; f = f->finish_next)
        pool__future_publish(f);
    while (done) {
        struct pool_future *next = done->finish_next;
        pool__future_settle(pool, done);
        done = next;
    }
}

/* ---- the worker's side ------------------------------------------------- */

/* Pick a job to help (lock held), from the lane after the one picked last
 * time when both have work: a queue of async tasks cannot starve blocking
 * calls, nor the reverse. Within a lane the head is rotated to the tail so
 * the next worker helps the next call. Exhausted jobs are dropped. */
static struct pool__job *queue_pick(pool_t *pool, unsigned *prefer, unsigned *slot)
{
    for (unsigned k = 0; k < POOL__NLANES; k++) {
        unsigned lane = (*prefer + k) % POOL__NLANES;
        struct pool__job *job;
        while ((job = pool->lanes[lane].head) != NULL) {
            if (!job_exhausted(job)) {
                *slot = job_attach(job);
                if (job->qnext) {
                    queue_unlink(pool, job);
                    queue_link(pool, job);
                }
                pool__acct_event(POOL__EV_PICKS);
                *prefer = (lane + 1) % POOL__NLANES;
                return job;
            }
            queue_unlink(pool, job);
        }
    }
    return NULL;
}

/* A worker's turn at a job it attached to, and its detach. Returns false
 * when it left a blocking call for the other lane (it then looks at the
 * queue first). `stale`: the worker's last offer (see job_work). */
static bool worker_turn(pool_t *pool, struct pool__job *job, unsigned slot,
                        const char *const *stale)
{
    struct pool__turn turn = job_work(pool, job, slot, stale);
    if (turn.ran == 0)
        pool__acct_event(POOL__EV_IDLE_TURNS);
    turn_end(pool, job, turn);
    return !turn.left;
}

/* True when nothing is queued, the offer (the value `offer`) holds nothing
 * this worker may take, and the pool is not stopping. */
static bool nothing_to_do(const pool_t *pool, const char *offer, const char **stale)
{
    return pool__load_relaxed(&pool->nqueued) == 0 && !offer_seen(offer, stale) &&
           !atomic_load(&pool->stop);
}

/*
 * A worker's idle periods, from the end of its last turn to the next
 * work it finds. Spinning through one pays only when work comes before
 * the spin runs out, so each worker remembers, for its last
 * POOL__IDLE_MEMORY periods, whether work came within POOL__IDLE_FAR_NS
 * (found while spinning, or, after a sleep, that soon by the clock on
 * waking). When none did (a program that makes a call now and then), it
 * spins only POOL__IDLE_SPIN_MIN_NS before it sleeps; one period that ends
 * sooner again restores the whole spin. Calls that come within 2 ms of
 * each other keep it. W4's triangular calls (bench/run.sh), whose
 * workers wait up to 0.7 ms for the caller's last item and then for the
 * harness's check, read 1.013 of the fixed spin's time at 2 threads when
 * a period counted as far once it outlasted the spin itself, 1.000 so
 * (bench/ab.sh, 5 rounds each, 2-core VM); bench_poolmap --workload idle
 * at 2 threads, 1 s asleep after each call, 0.57-0.58 CPU-ms/s -> 0.07-0.18
 * (medians of 7, three processes each way; the first periods still spin
 * in full).
 */
#define POOL__IDLE_MEMORY 4u
#define POOL__IDLE_FAR_NS 2000000ull
struct pool__idle {
    unsigned long long since; /* when the period began, or 0 while busy */
    unsigned soon; /* bit k: the period k ago ended within POOL__IDLE_FAR_NS */
};

/* The period ends: work came `soon` enough or not. */
static void idle_end(struct pool__idle *idle, bool soon)
{
    idle->soon = ((idle->soon << 1) | (soon ? 1u : 0u)) & ((1u << POOL__IDLE_MEMORY) - 1);
    idle->since = 0;
}

/* Work found outside a spin (the queue after it ran out), or a wake-up:
 * the period ends as the clock says. */
static void idle_busy(struct pool__idle *idle)
{
    if (idle->since != 0)
        idle_end(idle, pool__now_ns() - idle->since <= POOL__IDLE_FAR_NS);
}

/* Nothing to do: spin a little without the lock (a new call is often just
 * about to come). False when the spin ran out: then sleep until woken.
 * Past its first POOL__SPIN_NS the spin yields the CPU now and then: on a
 * machine with more runnable threads than CPUs, the caller whose next call
 * this worker waits for may be queued behind it on the same CPU. With
 * both threads of a 2-thread pool on one CPU (bench/run.sh's W5 one_cpu
 * row), a W5 call took 114 us without the yield, 61 with it: the serial
 * loop's time. */
static bool worker_idle(pool_t *pool, const char **stale, struct pool__idle *idle)
{
    unsigned acct = pool__acct_switch(POOL__ACCT_IDLE);
    unsigned long long now = pool__now_ns();
    unsigned long long spin = idle->soon != 0 ? pool->spin_ns : POOL__IDLE_SPIN_MIN_NS;
    unsigned long long deadline = now + spin, polite = now + POOL__SPIN_NS;
    unsigned spins = 0;
    bool found = true;
    if (idle->since == 0)
        idle->since = now;
    while (nothing_to_do(pool, pool__load_relaxed(&pool->offer), stale)) {
        pool__cpu_relax();
        if ((++spins & 63u) == 0) {
            now = pool__now_ns();
            if (now > deadline) {
                found = false;
                break;
            }
            if (now > polite)
                pool__yield();
        }
    }
    if (found)
        idle_end(idle, true);
    pool__acct_switch(acct);
    return found;
}

/* Sleep until woken, unless work came meanwhile: raise nsleeping, then
 * look a last time, all sequentially consistent (see wake_workers), then
 * wait with a ticket read before both, so that a wake-up in between is not
 * lost. */
static void worker_sleep(pool_t *pool, const char **stale, struct pool__idle *idle)
{
    uint32_t ticket = pool__parking_ticket(&pool->parking);
    atomic_fetch_add(&pool->nsleeping, 1);
    if (atomic_load(&pool->nqueued) == 0 && !offer_seen(atomic_load(&pool->offer), stale) &&
        !atomic_load(&pool->stop)) {
        unsigned acct = pool__acct_switch(POOL__ACCT_SLEEP);
        pool__acct_event(POOL__EV_SLEEPS);
        pool__parking_wait(&pool->parking, ticket);
        pool__acct_switch(acct);
    }
    atomic_fetch_sub_explicit(&pool->nsleeping, 1, memory_order_relaxed);
    /* Woken (or work came at the last look): the clock says whether the
     * period was a near one. A wake-up without work (pool_destroy, a call
     * another worker took) ends the period too. */
    idle_busy(idle);
}

void pool__worker_loop(pool_t *pool)
{
    unsigned prefer = POOL__LANE_CALL;
    const char *stale = NULL; /* the offer as this worker last left it (offer_seen) */
    bool may_offer = true;
    struct pool__idle idle = { 0, 1 }; /* the first period spins in full */
    pool__acct_switch(POOL__ACCT_TAKE);

    for (;;) {
        unsigned slot;
        const char *taken;
        struct pool__job *job = may_offer ? offer_take(pool, &stale, &slot, &taken) : NULL;
        if (job) {
            /* Spent for this worker, also when it leaves the call for the
             * async lane with items left (it comes back through the queue,
             * see job_requeue): a worker takes each offer once, so its
             * count stays below 32. */
            stale = taken;
            if (!worker_turn(pool, job, slot, &stale)) {
                may_offer = false; /* it left for the async lane: go there */
                prefer = POOL__LANE_ASYNC;
            }
            continue;
        }
        bool spun = false;
        if (may_offer && pool__load_relaxed(&pool->nqueued) == 0 &&
            !atomic_load(&pool->stop)) {
            /* Nothing queued, and no offer or one this worker is done
             * with: spin without taking the lock. */
            if (worker_idle(pool, &stale, &idle))
                continue;
            spun = true;
        }
        unsigned was = lock_pool(pool);
        job = queue_pick(pool, &prefer, &slot);
        unlock_pool(pool, was);
        if (job) {
            idle_busy(&idle);
            may_offer = worker_turn(pool, job, slot, &stale);
            continue;
        }
        may_offer = true;
        if (atomic_load(&pool->stop))
            break;
        if (spun || !worker_idle(pool, &stale, &idle))
            worker_sleep(pool, &stale, &idle);
    }
}
