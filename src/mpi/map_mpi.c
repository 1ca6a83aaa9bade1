/*
 * map_mpi.c - pool_map_mpi: argument agreement, then one dealing protocol
 * that serves both distributions (they differ only in which chunk take()
 * hands a rank), then the outcome broadcast.
 *
 * Messages, all on a private duplicate of the caller's communicator:
 *   root -> rank  TAG_DEAL    uint64 {begin, end}; begin == end means stop
 *                 TAG_INPUT   the chunk's input bytes, straight from `in`
 *                             (not sent with POOL_MPI_IN_ALL; empty for stop)
 *   rank -> root  TAG_REPORT  uint64 {begin, end, stop, status}: items
 *                             [begin, stop) ran; status != 0 means item
 *                             `stop` failed with it
 *                 TAG_RESULT  the results of [begin, stop), received by the
 *                             root straight into `out`
 * The root deals DEPTH chunks to every other rank up front and one more
 * for each report, so a rank always has its next chunk (or the stop) on
 * the way while it runs the current one. Only calling threads make MPI
 * calls: between items (see item()) they poll, the root to answer reports,
 * the others to drive their pending transfers.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "poolmap_mpi.h"

enum { TAG_DEAL = 1, TAG_INPUT, TAG_REPORT, TAG_RESULT };

/* Chunks a non-root rank holds: the one it runs and the next one. */
#define DEPTH 2
/* Bytes of input (or of results) per chunk message, unless one element is
 * larger. */
#define MSG_BYTES ((size_t)4 << 20)
/* Target time between two polls of a calling thread. */
#define POLL_NS 50000
/* Largest MPI_Bcast piece of the results, well below INT_MAX. */
#define BCAST_BYTES ((size_t)1 << 30)

_Static_assert(POOL_MPI_ELEMENT_MAX <= (size_t)INT_MAX,
               "a chunk message of one element must fit an int count");
_Static_assert(MSG_BYTES <= POOL_MPI_ELEMENT_MAX, "a message cap within an int count");

#define KNOWN_FLAGS (POOL_MPI_IN_ALL | POOL_MPI_OUT_ALL | POOL_MPI_STATIC)

/* The root's view of another rank (and, for the static split, of itself). */
struct peer {
    size_t next, end;       /* static: the part of its block not dealt yet */
    unsigned held;          /* chunks dealt and not reported */
    bool stopped;           /* the stop deal was sent */
    bool done;              /* stopped, and every chunk reported */
    unsigned slot;          /* next of the DEPTH + 1 send slots */
    uint64_t deal[DEPTH + 1][2];
    MPI_Request req[DEPTH + 1][2]; /* header, input */
};

typedef struct call {
    /* Read by every pool thread (item()); written before the map only. */
    pool_map_fn fn;
    void *ctx;
    pthread_t caller;

    /* The rest belongs to the calling thread. */
    pool_t *pool;
    const char *in;
    char *out;
    size_t in_size, out_size, n;
    unsigned flags;
    int root, rank, size;
    MPI_Comm comm;
    bool mpi_failed;

    size_t cap;           /* most items in one chunk (message size) */
    size_t chunk_fixed;   /* opts->chunk, capped; 0 = guided */
    size_t chunk_min;     /* guided floor */

    /* Its own cache line: written per item while pool threads read fn. */
    _Alignas(64) unsigned countdown; /* items until the next poll */
    unsigned period;      /* items between polls, adapted to POLL_NS */
    int64_t last_poll;

    /* Root only. */
    size_t next;          /* dynamic: first item not dealt */
    size_t fail;          /* lowest failing item known, or n */
    int fail_rc;
    struct peer *peers;   /* one per rank */
    int active;           /* other ranks not done */

    /* Other ranks: double buffers for the chunk being received and run. */
    char *inbuf, *outbuf; /* 2 * cap elements each, or NULL */
    uint64_t deal[2][2];
    uint64_t report[2][4];
    MPI_Request rreq[2][2]; /* deal, input */
    MPI_Request sreq[2][2]; /* report, results */
} call;

/* p + off, except that a NULL p stays NULL (NULL + 0 is undefined in C). */
static const char *at(const void *p, size_t off)
{
    return p ? (const char *)p + off : NULL;
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Records a failed MPI call; true while every call so far succeeded. */
static bool ok(call *c, int mpirc)
{
    if (mpirc != MPI_SUCCESS)
        c->mpi_failed = true;
    return !c->mpi_failed;
}

/*
 * Waiting, as the pool's idle workers do: poll for SPIN_NS, then sleep
 * between polls, NAP_MIN_NS at first and twice as long each time up to
 * NAP_MAX_NS, so that a rank with nothing to do leaves its core to the
 * ranks and threads that work (MPI's own blocking calls would spin).
 */
#define SPIN_NS 50000
#define NAP_MIN_NS 2000
#define NAP_MAX_NS 250000

typedef struct waiter {
    int64_t start;
    long nap;
} waiter;

#define WAITER_INIT { 0, NAP_MIN_NS }

static void pause_wait(waiter *w)
{
    int64_t t = now_ns();

    if (w->start == 0)
        w->start = t;
    if (t - w->start < SPIN_NS)
        return;
    struct timespec ts = { 0, w->nap };
    nanosleep(&ts, NULL);
    w->nap = w->nap * 2 < NAP_MAX_NS ? w->nap * 2 : NAP_MAX_NS;
}

/* MPI_Testall of up to 2 * (DEPTH + 1) requests, with a real status array:
 * gcc 11+ warns when it is MPICH's MPI_STATUSES_IGNORE, which is
 * (MPI_Status *)1 (pmodels/mpich#5687). */
#define MAX_REQS (2 * (DEPTH + 1))

static bool test_all(call *c, int count, MPI_Request *reqs)
{
    MPI_Status st[MAX_REQS];
    int done = 0;

    return ok(c, MPI_Testall(count, reqs, &done, st)) && done;
}

/* Waits until every request is complete; false when an MPI call failed. */
static bool wait_all(call *c, int count, MPI_Request *reqs)
{
    waiter w = WAITER_INIT;

    while (!test_all(c, count, reqs) && !c->mpi_failed)
        pause_wait(&w);
    return !c->mpi_failed;
}

/* An int count of bytes for `items` elements of `size`, a size that
 * travels: within the cap by construction (cap * size <= max(MSG_BYTES,
 * POOL_MPI_ELEMENT_MAX)). */
static int bytes(size_t items, size_t size)
{
    return (int)(items * size);
}

/* ---- choosing chunks (root) --------------------------------------------- */

/* First item of rank r's static block: floor(r * n / P) without overflow. */
static size_t block_begin(const call *c, int r)
{
    size_t p = (size_t)c->size, q = c->n / p, rem = c->n % p;

    return (size_t)r * q + (size_t)r * rem / p;
}

/* The next chunk for rank r: false when it gets none, because every item
 * (of its block, when static) is dealt or lies at or above a known failure. */
static bool take(call *c, int r, size_t *begin, size_t *end)
{
    size_t limit = c->fail, b, len;

    if (c->flags & POOL_MPI_STATIC) {
        struct peer *p = &c->peers[r];
        b = p->next;
        limit = min_size(limit, p->end);
        if (b >= limit)
            return false;
        len = c->chunk_fixed ? c->chunk_fixed : c->cap;
        len = min_size(len, limit - b);
        p->next = b + len;
    } else {
        b = c->next;
        if (b >= limit)
            return false;
        if (c->chunk_fixed) {
            len = c->chunk_fixed;
        } else {
            /* Guided: a share of what is left, counting every chunk that
             * can be held at once (DEPTH per other rank, one on the root)
             * four times over, so that the chunks still held when the
             * items run out are small even where the costs bunch up. */
            size_t share = 4 * ((size_t)DEPTH * ((size_t)c->size - 1) + 1);
            len = (c->n - b + share - 1) / share;
            if (len < c->chunk_min)
                len = c->chunk_min;
            len = min_size(len, c->cap);
        }
        len = min_size(len, limit - b);
        c->next = b + len;
    }
    *begin = b;
    *end = b + len;
    return true;
}

static void note_failure(call *c, size_t index, int rc)
{
    if (index < c->fail) {
        c->fail = index;
        c->fail_rc = rc;
    }
}

/* ---- the root's side ----------------------------------------------------- */

static void settle(call *c, int r)
{
    struct peer *p = &c->peers[r];

    if (p->stopped && p->held == 0 && !p->done) {
        p->done = true;
        c->active--;
    }
}

/* Sends rank r its next chunk, or the stop once there is none. */
static void deal(call *c, int r)
{
    struct peer *p = &c->peers[r];
    unsigned s = p->slot;
    size_t b = 0, e = 0;

    if (p->stopped || c->mpi_failed)
        return;
    /* The slot's last deal was DEPTH + 1 deals ago: the rank has reported
     * a later chunk since, so it has received that deal; this completes at
     * once. */
    if (!wait_all(c, 2, p->req[s]))
        return;
    p->slot = (s + 1) % (DEPTH + 1);
    if (take(c, r, &b, &e))
        p->held++;
    else
        p->stopped = true;
    p->deal[s][0] = b;
    p->deal[s][1] = e;
    if (!ok(c, MPI_Isend(p->deal[s], 2, MPI_UINT64_T, r, TAG_DEAL, c->comm, &p->req[s][0])))
        return;
    if (!(c->flags & POOL_MPI_IN_ALL))
        ok(c, MPI_Isend(at(c->in, b * c->in_size), bytes(e - b, c->in_size), MPI_BYTE, r,
                        TAG_INPUT, c->comm, &p->req[s][1]));
    settle(c, r);
}

/* Takes in one report (its results go straight into `out`) and answers it. */
static void receive_report(call *c, MPI_Message *msg, int src)
{
    uint64_t rep[4];

    if (!ok(c, MPI_Mrecv(rep, 4, MPI_UINT64_T, msg, MPI_STATUS_IGNORE)))
        return;
    size_t b = (size_t)rep[0], stop = (size_t)rep[2];
    int rc = (int)(int64_t)rep[3];
    MPI_Request req;
    if (!ok(c, MPI_Irecv((char *)at(c->out, b * c->out_size), bytes(stop - b, c->out_size),
                         MPI_BYTE, src, TAG_RESULT, c->comm, &req)) ||
        !wait_all(c, 1, &req))
        return;
    if (rc != 0)
        note_failure(c, stop, rc);
    c->peers[src].held--;
    deal(c, src);
    settle(c, src);
}

/* Answers the reports that have arrived; with `wait`, at least one. */
static void serve(call *c, bool wait)
{
    waiter w = WAITER_INIT;
    bool served = false;

    while (!c->mpi_failed) {
        MPI_Message msg;
        MPI_Status st;
        int flag = 0;
        if (!ok(c, MPI_Improbe(MPI_ANY_SOURCE, TAG_REPORT, c->comm, &flag, &msg, &st)))
            break;
        if (flag) {
            receive_report(c, &msg, st.MPI_SOURCE);
            served = true;
        } else if (wait && !served) {
            pause_wait(&w);
        } else {
            break;
        }
    }
}

/* ---- running a chunk on this rank's pool ---------------------------------- */

/* Between items, the calling thread polls MPI, about every POLL_NS: the
 * period in items doubles while polls come too soon and halves while they
 * come late, so cheap items cost a decrement and long ones poll each time. */
static void poll_mpi(call *c)
{
    int64_t t = now_ns(), dt = t - c->last_poll;

    if (dt < POLL_NS / 2 && c->period < (1u << 20))
        c->period *= 2;
    else if (dt > (int64_t)2 * POLL_NS && c->period > 1)
        c->period /= 2;
    c->countdown = c->period;
    c->last_poll = t;
    if (c->mpi_failed)
        return;
    if (c->rank == c->root) {
        serve(c, false);
    } else {
        /* testing drives the transfers of the other buffers */
        test_all(c, 4, &c->rreq[0][0]);
        test_all(c, 4, &c->sreq[0][0]);
    }
}

/* The map callback every chunk runs: the user's fn, plus the calling
 * thread's polls. */
static int item(void *arg, const void *in, void *out)
{
    call *c = arg;

    if (pthread_equal(pthread_self(), c->caller) && --c->countdown == 0)
        poll_mpi(c);
    return c->fn(c->ctx, in, out);
}

/* Maps items [b, e) with inputs at `in` and results to `out`; returns the
 * status and sets *stop to the failing item, or to e. */
static int run_chunk(call *c, size_t b, size_t e, const void *in, void *out, size_t *stop)
{
    pool_opts o = POOL_OPTS_INIT;
    int rc = pool_map_ex(c->pool, item, c, in, c->in_size, out, c->out_size, e - b, &o);

    if (rc == 0)
        *stop = e;
    else
        *stop = b + (o.failed_index == POOL_NO_INDEX ? 0 : o.failed_index);
    return rc;
}

static void run_root(call *c)
{
    size_t b, e, stop;

    c->active = c->size - 1;
    for (int r = 0; r < c->size; r++) {
        c->peers[r].next = block_begin(c, r);
        c->peers[r].end = r + 1 < c->size ? block_begin(c, r + 1) : c->n;
        for (unsigned s = 0; s <= DEPTH; s++)
            c->peers[r].req[s][0] = c->peers[r].req[s][1] = MPI_REQUEST_NULL;
    }
    for (unsigned k = 0; k < DEPTH; k++)
        for (int r = 0; r < c->size; r++)
            if (r != c->root)
                deal(c, r);

    while (!c->mpi_failed) {
        serve(c, false);
        if (!take(c, c->root, &b, &e))
            break;
        int rc = run_chunk(c, b, e, at(c->in, b * c->in_size),
                           (char *)at(c->out, b * c->out_size), &stop);
        if (rc != 0)
            note_failure(c, stop, rc);
    }
    while (c->active > 0 && !c->mpi_failed)
        serve(c, true);
    for (int r = 0; r < c->size && !c->mpi_failed; r++)
        wait_all(c, MAX_REQS, &c->peers[r].req[0][0]);
}

/* ---- the other ranks' side ------------------------------------------------ */

static void post_deal_recv(call *c, unsigned s)
{
    if (!ok(c, MPI_Irecv(c->deal[s], 2, MPI_UINT64_T, c->root, TAG_DEAL, c->comm,
                         &c->rreq[s][0])))
        return;
    if (!(c->flags & POOL_MPI_IN_ALL))
        ok(c, MPI_Irecv((char *)at(c->inbuf, s * c->cap * c->in_size), bytes(c->cap, c->in_size),
                        MPI_BYTE, c->root, TAG_INPUT, c->comm, &c->rreq[s][1]));
}

static void run_other(call *c)
{
    unsigned s = 0;
    size_t failed = SIZE_MAX; /* the lowest item that failed here */

    for (unsigned k = 0; k < 2; k++)
        c->rreq[k][0] = c->rreq[k][1] = c->sreq[k][0] = c->sreq[k][1] = MPI_REQUEST_NULL;
    post_deal_recv(c, 0);
    while (wait_all(c, 2, c->rreq[s])) {
        size_t b = (size_t)c->deal[s][0], e = (size_t)c->deal[s][1], stop;
        if (b == e)
            break; /* the stop: nothing follows it */
        /* The root answers every report until it stops us: the next deal. */
        post_deal_recv(c, 1 - s);
        /* This slot's previous report must be out before its buffer is reused. */
        if (!wait_all(c, 2, c->sreq[s]))
            break;
        const void *in = c->in_size == 0 ? c->in
                         : (c->flags & POOL_MPI_IN_ALL) ? at(c->in, b * c->in_size)
                                                        : c->inbuf + s * c->cap * c->in_size;
        void *out = c->out_size == 0 ? c->out : c->outbuf + s * c->cap * c->out_size;
        int rc = 0;
        /* Chunks come in increasing order: the one dealt before this rank
         * reported its failure lies above it, and need not run. */
        stop = b;
        if (b < failed && (rc = run_chunk(c, b, e, in, out, &stop)) != 0)
            failed = stop;
        uint64_t *rep = c->report[s];
        rep[0] = b;
        rep[1] = e;
        rep[2] = stop;
        rep[3] = (uint64_t)(int64_t)rc;
        if (!ok(c, MPI_Isend(rep, 4, MPI_UINT64_T, c->root, TAG_REPORT, c->comm,
                             &c->sreq[s][0])) ||
            !ok(c, MPI_Isend(out, bytes(stop - b, c->out_size), MPI_BYTE, c->root,
                             TAG_RESULT, c->comm, &c->sreq[s][1])))
            break;
        s = 1 - s;
    }
    if (!c->mpi_failed)
        wait_all(c, 4, &c->sreq[0][0]);
}

/* ---- the call ---------------------------------------------------------- */

/* This rank's own argument checks. */
static int check_local(const call *c, const pool_mpi_opts *o)
{
    bool root = c->rank == o->root, all_in = o->flags & POOL_MPI_IN_ALL,
         all_out = o->flags & POOL_MPI_OUT_ALL;

    if (c->fn == NULL || (o->flags & ~KNOWN_FLAGS) != 0 || o->root < 0 ||
        o->root >= c->size)
        return EINVAL;
    if ((root || all_in) && c->in == NULL && c->n > 0 && c->in_size > 0)
        return EINVAL;
    if ((root || all_out) && c->out == NULL && c->n > 0 && c->out_size > 0)
        return EINVAL;
    if (c->in_size > POOL_MPI_ELEMENT_MAX || c->out_size > POOL_MPI_ELEMENT_MAX ||
        (c->in_size != 0 && c->n > SIZE_MAX / c->in_size) ||
        (c->out_size != 0 && c->n > SIZE_MAX / c->out_size))
        return EOVERFLOW;
    return 0;
}

/* The buffers this rank needs, allocated before the ranks agree so that an
 * ENOMEM is agreed on too. */
static int allocate(call *c)
{
    /* The cap is on what travels: with POOL_MPI_IN_ALL no input is sent,
     * and elements of size 0 send nothing (a cap of one item there made
     * every chunk one pool_map_ex of one item, run alone). */
    size_t wire_in = (c->flags & POOL_MPI_IN_ALL) ? 0 : c->in_size;
    size_t widest = wire_in > c->out_size ? wire_in : c->out_size;

    c->cap = min_size(widest == 0 ? c->n : widest < MSG_BYTES ? MSG_BYTES / widest : 1, c->n);
    if (c->cap == 0)
        return 0; /* n == 0: nothing to hold */
    if (c->rank == c->root) {
        c->peers = calloc((size_t)c->size, sizeof *c->peers);
        return c->peers ? 0 : ENOMEM;
    }
    if (!(c->flags & POOL_MPI_IN_ALL) && c->in_size > 0 &&
        (c->inbuf = malloc(2 * c->cap * c->in_size)) == NULL)
        return ENOMEM;
    if (c->out_size > 0 && (c->outbuf = malloc(2 * c->cap * c->out_size)) == NULL)
        return ENOMEM;
    return 0;
}

/*
 * One MPI_Allreduce (MAX) of every value that must match, next to its
 * complement (whose max is the complement of the min), of each rank's
 * error, and of the pool sizes. Returns the code every rank returns.
 */
static int agree(call *c, const pool_mpi_opts *o, int err, size_t *max_threads)
{
    enum { NV = 6 };
    uint64_t v[2 * NV + 2] = {
        c->n, c->in_size, c->out_size, o->flags, (uint64_t)(int64_t)o->root, o->chunk,
    };

    for (int k = 0; k < NV; k++)
        v[NV + k] = ~v[k];
    v[(size_t)2 * NV] = (uint64_t)err;
    v[(size_t)2 * NV + 1] = pool_size(c->pool);
    if (!ok(c, MPI_Allreduce(MPI_IN_PLACE, v, 2 * NV + 2, MPI_UINT64_T, MPI_MAX, c->comm)))
        return EIO;
    err = (int)v[(size_t)2 * NV];
    for (int k = 0; k < NV; k++)
        if (v[k] != ~v[NV + k] && err < EINVAL)
            err = EINVAL;
    *max_threads = (size_t)v[(size_t)2 * NV + 1];
    return err;
}

/* The root tells every rank the outcome and, with POOL_MPI_OUT_ALL, the
 * results of every item below the failure. */
static void publish(call *c)
{
    uint64_t res[2] = { c->fail, (uint64_t)(int64_t)c->fail_rc };

    if (!ok(c, MPI_Bcast(res, 2, MPI_UINT64_T, c->root, c->comm)))
        return;
    c->fail = (size_t)res[0];
    c->fail_rc = (int)(int64_t)res[1];
    if (!(c->flags & POOL_MPI_OUT_ALL))
        return;
    size_t total = (c->fail_rc ? c->fail : c->n) * c->out_size;
    for (size_t off = 0; off < total && !c->mpi_failed; off += BCAST_BYTES) {
        size_t len = min_size(BCAST_BYTES, total - off);
        ok(c, MPI_Bcast(c->out + off, (int)len, MPI_BYTE, c->root, c->comm));
    }
}

int pool_map_mpi(pool_t *pool, pool_map_fn fn, void *ctx,
                 const void *in, size_t in_size,
                 void *out, size_t out_size, size_t n,
                 MPI_Comm comm, pool_mpi_opts *opts)
{
    static const pool_mpi_opts defaults = POOL_MPI_OPTS_INIT;
    const pool_mpi_opts *o = opts ? opts : &defaults;
    call c = { .fn = fn, .ctx = ctx, .caller = pthread_self(), .pool = pool,
               .in = in, .out = out, .in_size = in_size, .out_size = out_size, .n = n,
               .flags = o->flags, .root = o->root, .fail = n };
    int initialized = 0, finalized = 0, inter = 0, rc;
    size_t max_threads = 1;
    bool dealt = false; /* transfers into this call's buffers began */

    if (opts)
        opts->failed_index = POOL_NO_INDEX;
    if (MPI_Initialized(&initialized) != MPI_SUCCESS || !initialized ||
        MPI_Finalized(&finalized) != MPI_SUCCESS || finalized || comm == MPI_COMM_NULL)
        return EINVAL;
    if (MPI_Comm_test_inter(comm, &inter) != MPI_SUCCESS)
        return EIO;
    if (inter)
        return EINVAL;
    if (MPI_Comm_size(comm, &c.size) != MPI_SUCCESS || MPI_Comm_rank(comm, &c.rank) != MPI_SUCCESS)
        return EIO;

    rc = check_local(&c, o);
    if (c.size == 1) { /* nobody to agree with or to deal to */
        pool_opts po = POOL_OPTS_INIT;
        if (rc != 0)
            return rc;
        rc = pool_map_ex(pool, fn, ctx, in, in_size, out, out_size, n, &po);
        if (opts && rc != 0)
            opts->failed_index = po.failed_index;
        return rc;
    }

    if (MPI_Comm_dup(comm, &c.comm) != MPI_SUCCESS)
        return EIO;
    if (rc == 0)
        rc = allocate(&c);
    rc = agree(&c, o, rc, &max_threads);
    if (rc == 0 && n > 0) {
        size_t least = (n + 128 * (size_t)c.size - 1) / (128 * (size_t)c.size);
        c.chunk_min = least > max_threads ? least : max_threads;
        c.chunk_fixed = min_size(o->chunk, c.cap);
        c.period = c.countdown = 1;
        c.last_poll = now_ns();
        dealt = true;
        if (c.rank == c.root)
            run_root(&c);
        else
            run_other(&c);
        publish(&c);
        rc = c.mpi_failed ? EIO : c.fail_rc;
        if (opts && rc != 0 && !c.mpi_failed)
            opts->failed_index = c.fail;
    }
    if (c.mpi_failed && dealt) {
        /* Transfers may still be pending into these buffers: leak them
         * rather than let MPI write into freed memory. (A failed agreement
         * comes before any: its buffers are freed below.) */
        return EIO;
    }
    free(c.peers);
    free(c.inbuf);
    free(c.outbuf);
    MPI_Comm_free(&c.comm);
    return rc;
}
