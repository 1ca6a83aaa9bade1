/*
 * map.c - pool_map, pool_for, pool_for_range, pool_unzip, pool_map_unzip:
 * argument checks, then one job body per call kind, run serially in place or
 * by pool__run().
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

/* ---- helpers ----------------------------------------------------------- */

_Static_assert(POOL_TUPLE_MAX % _Alignof(max_align_t) == 0,
               "a scratch tuple of POOL_TUPLE_MAX bytes must fit aligned");

/* p + off, except that a NULL p stays NULL (NULL + 0 is undefined in C). */
static inline const char *at(const void *p, size_t off)
{
    return p ? (const char *)p + off : NULL;
}

static bool mul_overflows(size_t n, size_t size)
{
    return size != 0 && n > SIZE_MAX / size;
}

/* The common argument check of an array argument. */
static int check_array(const void *p, size_t size, size_t n)
{
    if (p == NULL && n > 0 && size > 0)
        return EINVAL;
    if (mul_overflows(n, size))
        return EOVERFLOW;
    return 0;
}

static int check_columns(size_t tuple_size, size_t n, const pool_column *columns,
                         size_t ncolumns)
{
    if (columns == NULL)
        return ncolumns > 0 && n > 0 ? EINVAL : 0;
    for (size_t k = 0; k < ncolumns; k++) {
        const pool_column *c = &columns[k];
        if (c->offset > tuple_size || c->size > tuple_size - c->offset)
            return EINVAL;
        int rc = check_array(c->dst, c->size, n);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/*
 * A call runs in place, on the caller and without other threads, when the
 * pool is NULL or inherited through fork() (DETACHED: nothing of it is
 * touched), has one thread, or the call has one item or one chunk. It is
 * then counted for pool_destroy() (unless detached) and, unless the owner's
 * owner_busy stands for it, pushed on this thread's frame stack, so that
 * pool_destroy() from a callback is refused as for a shared call.
 */
enum placement { PARALLEL, IN_PLACE, DETACHED };

static POOL__INLINE enum placement placement(const pool_t *pool, size_t n, size_t chunk)
{
    if (pool == NULL || pool__forked(pool))
        return DETACHED;
    return pool->nthreads == 1 || n == 1 || (chunk != 0 && chunk >= n) ? IN_PLACE : PARALLEL;
}

/* The loop of an in-place call: runs the items in order, and on a failure
 * returns its status with *failed its index. */
typedef int (*in_place_loop)(void *args, size_t *failed);

static POOL__INLINE int in_place(pool_t *pool, enum placement how, in_place_loop loop,
                                 void *args, pool_opts *opts)
{
    size_t failed = POOL_NO_INDEX;
    int rc;
    enum pool__held held = how == IN_PLACE ? pool__call_enter(pool) : POOL__HELD_SHARED;
    if (how == IN_PLACE && held != POOL__HELD_SHARED) {
        /* The owner's owner_busy stands for a frame (see pool__running_on):
         * a frame would chain each call to the one before through memory,
         * its push loading what the last pop stored. */
        rc = loop(args, &failed);
    } else {
        struct pool__frame frame = { pool, pool__frames, NULL };
        pool__frames = &frame;
        rc = loop(args, &failed);
        pool__frames = frame.up;
    }
    if (how == IN_PLACE)
        pool__call_leave(pool, held);
    if (opts && rc != 0)
        opts->failed_index = failed;
    return rc;
}

/* In-place loop of a prepared job, chunk by chunk. */
struct job_loop {
    struct pool__job *job;
    pool__body_fn body;
};

static POOL__INLINE int job_loop(void *args, size_t *failed)
{
    const struct job_loop *l = args;
    struct pool__job *job = l->job;
    int rc = 0;
    atomic_init(&job->stop_at, SIZE_MAX);
    for (size_t b = 0, e; b < job->n && rc == 0; b = e) {
        e = job->chunk && job->chunk < job->n - b ? b + job->chunk : job->n;
        rc = l->body(job, b, e, failed);
    }
    return rc;
}

/* Share a prepared job (placement PARALLEL) and copy the outcome into opts. */
static int run_shared(pool_t *pool, struct pool__job *job, pool_opts *opts)
{
    int rc = pool__run(pool, job);
    if (opts && rc != 0)
        opts->failed_index = job->fail_index;
    return rc;
}

/* Run a prepared job, in place or shared. Inlined into each public call,
 * so that in place its body is a direct call. */
static POOL__INLINE int run(pool_t *pool, struct pool__job *job, pool__body_fn body,
                            pool_opts *opts)
{
    job->body = body;
    enum placement how = placement(pool, job->n, job->chunk);
    if (how == PARALLEL)
        return run_shared(pool, job, opts);
    struct job_loop l = { job, body };
    return in_place(pool, how, job_loop, &l, opts);
}

/* Set what every blocking call shares; pool__run() sets the rest, so the
 * descriptor (three cache lines) is not cleared on every call. */
static void job_init(struct pool__job *job, size_t n, const pool_opts *opts)
{
    job->n = n;
    job->chunk = opts ? opts->chunk : 0;
    job->future = NULL;
    job->in = NULL;
    job->out = NULL;
    job->in_size = job->out_size = job->tuple_size = 0;
    job->columns = NULL;
    job->ncolumns = 0;
}

/* ---- bodies ------------------------------------------------------------ */

/* The loop of map_body for both arrays given. Everything but the cursors
 * is read through `job` after each call: six values then live across the
 * callback, as many as the x86-64 ABI keeps in callee-saved registers.
 * With fn, ctx, the sizes and stop_at's address kept in locals as well,
 * gcc 12 kept `out` on the stack, and each item waited on a store and its
 * reload: W2's map_fnptr on 2 threads took 1.866 ns an item, 1.772 so,
 * where OpenMP's function-pointer loop took 1.732 (bench/ab.sh, 5 rounds,
 * 2-core Xeon VM). */
static int map_pairs(struct pool__job *job, size_t i, size_t e, size_t *stop)
{
    const char *in = (const char *)job->in + i * job->in_size;
    char *out = (char *)job->out + i * job->out_size;
    int rc = 0;
    for (; i < e; i++) {
        if (i >= pool__load_relaxed(&job->stop_at) ||
            (rc = job->fn.map(job->ctx, in, out)) != 0)
            break;
        in += job->in_size;
        out += job->out_size;
    }
    *stop = i;
    return rc;
}

POOL__CODE_ALIGNED
static int map_body(struct pool__job *job, size_t b, size_t e, size_t *stop)
{
    if (job->in && job->out)
        return map_pairs(job, b, e, stop); /* kept free of the NULL checks below */
    pool_map_fn fn = job->fn.map;
    void *ctx = job->ctx;
    const _Atomic size_t *stop_at = &job->stop_at;
    size_t isz = job->in_size, osz = job->out_size;
    const char *in = at(job->in, b * isz);
    char *out = (char *)at(job->out, b * osz);
    size_t i = b;
    int rc = 0;
    for (; i < e; i++) {
        if (i >= pool__load_relaxed(stop_at) || (rc = fn(ctx, in, out)) != 0)
            break;
        in = at(in, isz);
        out = (char *)at(out, osz);
    }
    *stop = i;
    return rc;
}

POOL__CODE_ALIGNED
static int for_body(struct pool__job *job, size_t b, size_t e, size_t *stop)
{
    pool_for_fn fn = job->fn.each;
    void *ctx = job->ctx;
    size_t i;
    int rc = 0;
    for (i = b; i < e; i++) {
        if (i >= pool__load_relaxed(&job->stop_at))
            break;
        if ((rc = fn(ctx, i)) != 0)
            break;
    }
    *stop = i;
    return rc;
}

POOL__CODE_ALIGNED
static int range_body(struct pool__job *job, size_t b, size_t e, size_t *stop)
{
    int rc = job->fn.range(job->ctx, b, e);
    *stop = rc ? b : e;
    return rc;
}

#if defined(POOL__HAVE_STREAM) && defined(POOL__HAVE_ALIAS_WORDS)
/* True when every column with members holds 8-byte ones at 8-byte aligned
 * addresses (empty ones, whose dst may be NULL, are skipped). */
static bool columns_of_words(const pool_column *cols, size_t nc)
{
    for (size_t k = 0; k < nc; k++)
        if (cols[k].size != 0 && (cols[k].size != 8 || (uintptr_t)cols[k].dst % 8 != 0))
            return false;
    return true;
}
#endif

/* Streamed columns all of 8-byte members (the usual tuple of doubles or
 * 64-bit integers): one pass over the tuples writes every column, two items
 * per 16-byte store where the column allows. One pass keeps all the
 * write streams going at once: `bench_probe unzip` (one thread, 10^7
 * tuples of three doubles) took 0.80-0.83x the time of memcpy of the same
 * bytes this way, 1.19-1.20x one column at a time, 1.19-1.23x with cached
 * stores. That was on the 2-core EPYC VM; Intel's CPUs take stream_blocks
 * instead (see pool__stream_by_block). Returns false, having written
 * nothing, when the columns are not all such (empty ones, whose dst may be
 * NULL, are skipped). */
POOL__CODE_ALIGNED
static bool scatter_fused(const pool_column *cols, size_t nc, const char *tuples,
                          size_t stride, size_t count, size_t first)
{
#if defined(POOL__HAVE_STREAM) && defined(POOL__HAVE_ALIAS_WORDS)
    size_t i = 0, lead = 0;
    if (!columns_of_words(cols, nc))
        return false;
    while (lead < nc && cols[lead].size == 0)
        lead++;
#define POOL__AT(t, k) (*(const pool__u64 *)(const void *)((t) + cols[k].offset))
#define POOL__DST(k, i) ((char *)cols[k].dst + ((first) + (i)) * 8)
    /* Columns from one allocator share their alignment: peel one item so
     * that the first non-empty one's pairs are 16-byte aligned. */
    if (count > 0 && lead < nc && (uintptr_t)POOL__DST(lead, 0) % 16 != 0) {
        for (size_t k = 0; k < nc; k++)
            if (cols[k].size != 0)
                pool__stream_u64(POOL__DST(k, 0), POOL__AT(tuples, k));
        i = 1;
    }
    for (; i + 1 < count; i += 2) {
        const char *t0 = tuples + i * stride, *t1 = t0 + stride;
        for (size_t k = 0; k < nc; k++) {
            if (cols[k].size == 0)
                continue;
            char *d = POOL__DST(k, i);
            if ((uintptr_t)d % 16 == 0) {
                pool__stream_2u64(d, POOL__AT(t0, k), POOL__AT(t1, k));
            } else {
                pool__stream_u64(d, POOL__AT(t0, k));
                pool__stream_u64(d + 8, POOL__AT(t1, k));
            }
        }
    }
    if (i < count)
        for (size_t k = 0; k < nc; k++)
            if (cols[k].size != 0)
                pool__stream_u64(POOL__DST(k, i), POOL__AT(tuples + i * stride, k));
#undef POOL__DST
#undef POOL__AT
    return true;
#else
    (void)cols, (void)nc, (void)tuples, (void)stride, (void)count, (void)first;
    return false;
#endif
}

/* Tuples per block: a block's tuples stay in L1 while every column reads it. */
#define POOL__UNZIP_BLOCK_BYTES 8192

#if defined(POOL__HAVE_STREAM) && defined(POOL__HAVE_ALIAS_WORDS)
/* stream_blocks' loop, in 32-byte stores (`wide`) or 16-byte ones. The
 * next block's lines are asked for in shares, one after each column but
 * the last, so that its reads go on while this block's columns are
 * written. */
static POOL__INLINE void stream_blocks_n(const pool_column *cols, size_t nc, const char *tuples,
                                         size_t stride, size_t count, size_t first,
                                         const bool wide)
{
    size_t block = POOL__UNZIP_BLOCK_BYTES / stride;
    if (block == 0)
        block = 1;
    for (size_t i = 0; i < count; i += block) {
        size_t n = count - i < block ? count - i : block;
        const char *at = tuples + i * stride;
        /* Lines of the next block, when it is a whole one. */
        size_t lines = count - i - n >= block ? (block * stride + POOL__CACHELINE - 1) /
                                                    POOL__CACHELINE
                                              : 0;
        size_t share = nc > 1 ? (lines + nc - 2) / (nc - 1) : 0, asked = 0;
        for (size_t k = 0; k < nc; k++) {
            if (cols[k].size != 0) {
                char *dst = (char *)cols[k].dst + (first + i) * 8;
                if (wide)
                    pool__stream_words32(dst, at + cols[k].offset, stride, n);
                else
                    pool__stream_words16(dst, at + cols[k].offset, stride, n);
            }
            for (size_t o = 0; o < share && asked < lines; o++, asked++)
                pool__prefetch(at + n * stride + asked * POOL__CACHELINE);
        }
    }
}

/* The shapes of a tuple of two, three or four words cut into as many
 * columns get the stride and the column count as constants: W2's unzip at
 * 1 thread took 1.13-1.17x memcpy so, 1.17-1.18x without
 * (bench_poolmap --workload W2, four processes each way in turns). */
POOL__CODE_ALIGNED __attribute__((target("avx")))
static void stream_blocks32(const pool_column *cols, size_t nc, const char *tuples,
                            size_t stride, size_t count, size_t first)
{
    if (stride == 16 && nc == 2)
        stream_blocks_n(cols, 2, tuples, 16, count, first, true);
    else if (stride == 24 && nc == 3)
        stream_blocks_n(cols, 3, tuples, 24, count, first, true);
    else if (stride == 32 && nc == 4)
        stream_blocks_n(cols, 4, tuples, 32, count, first, true);
    else
        stream_blocks_n(cols, nc, tuples, stride, count, first, true);
}

POOL__CODE_ALIGNED
static void stream_blocks16(const pool_column *cols, size_t nc, const char *tuples,
                            size_t stride, size_t count, size_t first)
{
    stream_blocks_n(cols, nc, tuples, stride, count, first, false);
}
#endif

/* Streamed columns of 8-byte members, as scatter_fused takes them, in
 * blocks of tuples one column after the other: the way on Intel's CPUs
 * (pool__stream_by_block), in 32-byte stores where the CPU has AVX.
 * Returns false, having written nothing, for other columns. */
static bool stream_blocks(const pool_column *cols, size_t nc, const char *tuples,
                          size_t stride, size_t count, size_t first)
{
#if defined(POOL__HAVE_STREAM) && defined(POOL__HAVE_ALIAS_WORDS)
    if (!columns_of_words(cols, nc))
        return false;
    if (pool__stream_wide())
        stream_blocks32(cols, nc, tuples, stride, count, first);
    else
        stream_blocks16(cols, nc, tuples, stride, count, first);
    return true;
#else
    (void)cols, (void)nc, (void)tuples, (void)stride, (void)count, (void)first;
    return false;
#endif
}

/* Copy one column of `count` tuples starting at `tuples` into dst. The
 * common member sizes get word copies (see pool__u64) or a constant-size
 * memcpy, both one load and one store per element. */
POOL__CODE_ALIGNED
static void scatter_column(const pool_column *c, const char *tuples, size_t tuple_size,
                           size_t count, size_t first, bool stream)
{
    if (c->size == 0)
        return; /* dst may be NULL: no arithmetic on it */
    const char *src = tuples + c->offset;
    char *dst = (char *)c->dst + first * c->size;
#if !defined(POOL__HAVE_STREAM) || !defined(POOL__HAVE_ALIAS_WORDS)
    (void)stream;
#else
    if (stream && c->size == 8 && (uintptr_t)dst % 8 == 0) {
        /* No test in the loop: when it tested each pair's alignment
         * (scatter_fused's loop, for any columns), W2's map_unzip went from
         * 1.11-1.17 ns an item to 1.44-1.60 as its place in the code moved
         * (docs/bench-log.md, "Code that stays where it is"). */
        pool__stream_words16(dst, src, tuple_size, count);
        return;
    }
    if (stream && c->size == 4 && (uintptr_t)dst % 4 == 0) {
        for (size_t i = 0; i < count; i++)
            pool__stream_u32(dst + 4 * i, *(const pool__u32 *)(const void *)(src + i * tuple_size));
        return;
    }
#endif
    switch (c->size) {
#define POOL__COPY(sz)                                                        \
    case sz:                                                                  \
        for (size_t i = 0; i < count; i++)                                    \
            memcpy(dst + i * (sz), src + i * tuple_size, (sz));               \
        return;
#ifdef POOL__HAVE_ALIAS_WORDS
    /* With the stride a constant, the compiler turns the strided loads into
     * vector loads and shuffles: for the usual small structs it is worth an
     * instance each. */
#define POOL__WORD_LOOP(type, stride)                                         \
    for (size_t i = 0; i < count; i++)                                        \
        ((type *)(void *)dst)[i] = *(const type *)(const void *)(src + i * (stride))
#define POOL__COPY_WORD(sz, type, s1, s2, s3, s4)                             \
    case sz:                                                                  \
        switch (tuple_size) {                                                 \
        case s1: POOL__WORD_LOOP(type, s1); return;                           \
        case s2: POOL__WORD_LOOP(type, s2); return;                           \
        case s3: POOL__WORD_LOOP(type, s3); return;                           \
        case s4: POOL__WORD_LOOP(type, s4); return;                           \
        default: POOL__WORD_LOOP(type, tuple_size); return;                   \
        }
    POOL__COPY_WORD(2, pool__u16, 4, 6, 8, 16)
    POOL__COPY_WORD(4, pool__u32, 8, 12, 16, 32)
    POOL__COPY_WORD(8, pool__u64, 16, 24, 32, 64)
#undef POOL__COPY_WORD
#undef POOL__WORD_LOOP
#else
    POOL__COPY(2)
    POOL__COPY(4)
    POOL__COPY(8)
#endif
    POOL__COPY(1)
    POOL__COPY(16)
#undef POOL__COPY
    default:
        for (size_t i = 0; i < count; i++)
            memcpy(dst + i * c->size, src + i * tuple_size, c->size);
    }
}

/* Columns of this many bytes in all are written with streaming stores: far
 * more than any cache keeps, so nothing is lost by not caching them, and
 * the copy is bound by memory traffic, which streaming cuts by a third (no
 * read for ownership of the destination lines). See scatter_fused. */
#define POOL__STREAM_BYTES ((size_t)64 << 20)

/* The bytes of one item in all the columns. n times this fits in size_t:
 * each column's n * size was checked up front, and the columns' arrays
 * exist side by side without overlapping (columns may read one member
 * twice, so the sum may exceed tuple_size). */
static size_t columns_width(const struct pool__job *job)
{
    size_t bytes = 0;
    for (size_t k = 0; k < job->ncolumns; k++)
        bytes += job->columns[k].size;
    return bytes;
}

/* Whether the job's columns are to be streamed (fenced by the body). */
static bool scatter_streams(const struct pool__job *job)
{
#ifdef POOL__HAVE_STREAM
    size_t width = columns_width(job);
    return width != 0 && job->n > (POOL__STREAM_BYTES - 1) / width;
#else
    (void)job;
    return false;
#endif
}

/* Whether streamed columns of tuples `stride` bytes apart go in blocks
 * (stream_blocks) rather than in one pass (scatter_fused) on this CPU.
 * Only tuples no wider than a line: the blocks prefetch every line of the
 * next block, which wider tuples' few words would not all need (and no
 * wider tuple was measured). */
static bool scatter_by_block(size_t stride)
{
#ifdef POOL__HAVE_STREAM
    return stride <= POOL__CACHELINE && pool__stream_by_block();
#else
    (void)stride;
    return false;
#endif
}

static void scatter_fence(bool stream)
{
#ifdef POOL__HAVE_STREAM
    if (stream)
        pool__stream_fence();
#else
    (void)stream;
#endif
}

/* Columns of 8-byte members written in one pass (scatter_words,
 * map_unzip_words), at most. */
#define POOL__WORD_COLUMNS 8

/* Columns of less than this many bytes in all, all of 8-byte members or
 * all of 4-byte ones, are written in one pass over the tuples
 * (scatter_words): the
 * caches keep them, and one pass is as fast as a plain loop (W2's unzip
 * at 10^5 tuples, 1 thread: 0.72 ns an item in blocks, 0.50 so; a plain
 * loop 0.47; bench/ab.sh, docs/bench-log.md, "map_unzip: the pair loop").
 * Beyond, the blocks written column by column did better in trial builds
 * (a throwaway program, 4 * 10^5 tuples: 0.75 against 0.88). */
#define POOL__ONE_PASS_BYTES ((size_t)8 << 20)

#if defined(POOL__HAVE_ALIAS_WORDS)
/* scatter_words' loop, inlined with nc and width constants for the usual
 * column counts. */
static POOL__INLINE void scatter_words_n(char *const *dstp, const size_t *offp, const size_t nc,
                                         const size_t width, const char *tuples, size_t stride,
                                         size_t count, size_t first)
{
    char *dst[POOL__WORD_COLUMNS];
    size_t off[POOL__WORD_COLUMNS];
    for (size_t k = 0; k < nc; k++) {
        dst[k] = dstp[k] + width * first;
        off[k] = offp[k];
    }
    for (size_t i = 0; i < count; i++, tuples += stride) {
        for (size_t k = 0; k < nc; k++) {
            if (width == 8)
                ((pool__u64 *)(void *)dst[k])[i] =
                    *(const pool__u64 *)(const void *)(tuples + off[k]);
            else
                ((pool__u32 *)(void *)dst[k])[i] =
                    *(const pool__u32 *)(const void *)(tuples + off[k]);
        }
    }
}

/* scatter_words_n for 1 to 4 columns of one width, or more. */
#define POOL__WORDS(width)                                                                 \
    switch (nc) {                                                                          \
    case 1: scatter_words_n(dst, off, 1, width, tuples, stride, count, first); break;      \
    case 2: scatter_words_n(dst, off, 2, width, tuples, stride, count, first); break;      \
    case 3: scatter_words_n(dst, off, 3, width, tuples, stride, count, first); break;      \
    case 4: scatter_words_n(dst, off, 4, width, tuples, stride, count, first); break;      \
    default: scatter_words_n(dst, off, nc, width, tuples, stride, count, first); break;    \
    }
#endif

/* Write `count` tuples laid out `stride` bytes apart into the columns, at
 * column index `first`, in one pass with cached stores, when every column
 * with members holds 8-byte ones, or every one 4-byte ones, at addresses
 * aligned to that size, at most POOL__WORD_COLUMNS of them. Returns false,
 * having written nothing, otherwise. */
static bool scatter_words(const struct pool__job *job, const char *tuples, size_t stride,
                          size_t count, size_t first)
{
#if defined(POOL__HAVE_ALIAS_WORDS)
    char *dst[POOL__WORD_COLUMNS];
    size_t off[POOL__WORD_COLUMNS], nc = 0, width = 0;
    for (size_t k = 0; k < job->ncolumns; k++) {
        const pool_column *c = &job->columns[k];
        if (c->size == 0)
            continue; /* dst may be NULL: no arithmetic on it */
        if (width == 0)
            width = c->size;
        if (c->size != width || (width != 8 && width != 4) ||
            (uintptr_t)c->dst % width != 0 || nc == POOL__WORD_COLUMNS)
            return false;
        dst[nc] = (char *)c->dst;
        off[nc++] = c->offset;
    }
    if (width == 4) {
        POOL__WORDS(4)
    } else {
        POOL__WORDS(8)
    }
    return true;
#else
    (void)job, (void)tuples, (void)stride, (void)count, (void)first;
    return false;
#endif
}
#undef POOL__WORDS

/* Scatter `count` tuples laid out `stride` bytes apart into the columns,
 * at column index `first`. */
static void scatter(const struct pool__job *job, const char *tuples, size_t stride,
                    size_t count, size_t first, bool stream)
{
    for (size_t k = 0; k < job->ncolumns; k++)
        scatter_column(&job->columns[k], tuples, stride, count, first, stream);
}

POOL__CODE_ALIGNED
static int unzip_body(struct pool__job *job, size_t b, size_t e, size_t *stop)
{
    *stop = e;
    bool stream = scatter_streams(job);
    const char *in = (const char *)job->in + b * job->tuple_size;
    if (stream && (scatter_by_block(job->tuple_size)
                       ? stream_blocks(job->columns, job->ncolumns, in, job->tuple_size, e - b, b)
                       : scatter_fused(job->columns, job->ncolumns, in, job->tuple_size, e - b,
                                       b))) {
        scatter_fence(stream);
        return 0;
    }
    if (!stream && job->n * columns_width(job) < POOL__ONE_PASS_BYTES &&
        scatter_words(job, in, job->tuple_size, e - b, b))
        return 0;
    size_t block = POOL__UNZIP_BLOCK_BYTES / job->tuple_size;
    if (block == 0)
        block = 1;
    for (size_t i = b; i < e; i += block) {
        size_t count = e - i < block ? e - i : block;
        scatter(job, (const char *)job->in + i * job->tuple_size, job->tuple_size, count, i,
                stream);
    }
    scatter_fence(stream);
    return 0;
}


#if defined(POOL__HAVE_ALIAS_WORDS)
/* What map_unzip_words needs of a job, gathered once a chunk. */
struct pool__words {
    pool_map_fn fn;
    void *ctx;
    size_t width;                   /* every member's bytes: 8, or 4 (not streamed) */
    size_t nc;                      /* columns with members */
    char *dst[POOL__WORD_COLUMNS];  /* their arrays */
    size_t off[POOL__WORD_COLUMNS]; /* their members' offsets in a tuple */
};

static pool__u64 word_at(const char *tuple, size_t off)
{
    return *(const pool__u64 *)(const void *)(tuple + off);
}

/* Store one member: streamed (8-aligned dst) or cached. */
static POOL__INLINE void word_put(char *dst, pool__u64 v, const bool stream)
{
#if defined(POOL__HAVE_STREAM)
    if (stream) {
        pool__stream_u64(dst, v);
        return;
    }
#else
    (void)stream;
#endif
    *(pool__u64 *)(void *)dst = v;
}

/* Store two members side by side: streamed (16-aligned dst) or cached. */
static POOL__INLINE void word_put2(char *dst, pool__u64 lo, pool__u64 hi, const bool stream)
{
#if defined(POOL__HAVE_STREAM)
    if (stream) {
        pool__stream_2u64(dst, lo, hi);
        return;
    }
#else
    (void)stream;
#endif
    ((pool__u64 *)(void *)dst)[0] = lo;
    ((pool__u64 *)(void *)dst)[1] = hi;
}

/* Copy a 4-byte member, cached. */
static POOL__INLINE void half_put(char *dst, const char *src)
{
    *(pool__u32 *)(void *)dst = *(const pool__u32 *)(const void *)src;
}

/* Store item i's tuple in the columns, one store a member. */
static POOL__INLINE void words_put(const struct pool__words *w, const char *tuple, size_t i,
                                   const bool stream)
{
    for (size_t k = 0; k < w->nc; k++) {
        if (w->width == 8)
            word_put(w->dst[k] + 8 * i, word_at(tuple, w->off[k]), stream);
        else
            half_put(w->dst[k] + 4 * i, tuple + w->off[k]);
    }
}

/* Run item i into `tuple` and store it in the columns. False, having
 * stored nothing, when i is past stop_at or fails. */
static POOL__INLINE bool words_one(struct pool__job *job, const struct pool__words *w,
                                   const char *in, size_t i, char *tuple, int *rc,
                                   const bool stream)
{
    if (i >= pool__load_relaxed(&job->stop_at) || (*rc = w->fn(w->ctx, in, tuple)) != 0)
        return false;
    words_put(w, tuple, i, stream);
    return true;
}

/* The pair loop of map_unzip_words over [i, e) for `nc` columns of
 * `width`-byte members: items two by two while both are below stop_at,
 * each column taking the pair's two members in one 16-byte streaming
 * store, or two cached ones. Inlined with nc, width and stream constants
 * for the usual column counts, so that the loop over the columns unrolls
 * and the function pointer, context and sizes stay in registers across
 * the calls: W2's map_unzip (3 columns) went from 1.74 to
 * 1.67 ns an item at 1 thread and from 0.92 to 0.79 at 2 (bench/ab.sh, 5
 * rounds, ahead in all; docs/bench-log.md). A pair that reaches stop_at is
 * left to the caller's item-by-item loop. Returns the first item not run;
 * on a failure *rc is its status and, when the pair's second item failed,
 * the first is stored (it ran). *inp follows i. */
static POOL__INLINE size_t words_pairs(struct pool__job *job, const struct pool__words *w,
                                       const size_t nc, const size_t width, const bool stream,
                                       const char **inp, size_t i, size_t e, char *b0,
                                       char *b1, int *rc)
{
    pool_map_fn fn = w->fn;
    void *ctx = w->ctx;
    const _Atomic size_t *stop_at = &job->stop_at;
    const size_t in_size = job->in_size;
    char *dst[POOL__WORD_COLUMNS];
    size_t off[POOL__WORD_COLUMNS];
    const char *in = *inp;
    int r = 0;
    for (size_t k = 0; k < nc; k++) {
        dst[k] = w->dst[k];
        off[k] = w->off[k];
    }
    while (e - i >= 2 && i + 1 < pool__load_relaxed(stop_at)) {
        const char *in1 = at(in, in_size);
        if ((r = fn(ctx, in, b0)) != 0)
            break;
        if ((r = fn(ctx, in1, b1)) != 0) {
            words_put(w, b0, i++, stream); /* keep the first */
            break;
        }
        for (size_t k = 0; k < nc; k++) {
            if (width == 8) {
                word_put2(dst[k] + 8 * i, word_at(b0, off[k]), word_at(b1, off[k]), stream);
            } else {
                half_put(dst[k] + 4 * i, b0 + off[k]);
                half_put(dst[k] + 4 * i + 4, b1 + off[k]);
            }
        }
        i += 2;
        in = at(in1, in_size);
    }
    *rc = r;
    *inp = in;
    return i;
}

/* words_pairs with nc, width and stream constants for 1 to 4 columns. */
#define POOL__PAIRS(width, stream)                                                         \
    switch (w->nc) {                                                                       \
    case 1: return words_pairs(job, w, 1, width, stream, inp, i, e, b0, b1, rc);           \
    case 2: return words_pairs(job, w, 2, width, stream, inp, i, e, b0, b1, rc);           \
    case 3: return words_pairs(job, w, 3, width, stream, inp, i, e, b0, b1, rc);           \
    case 4: return words_pairs(job, w, 4, width, stream, inp, i, e, b0, b1, rc);           \
    default: return words_pairs(job, w, w->nc, width, stream, inp, i, e, b0, b1, rc);      \
    }

/* The pair loops of 8-byte members, streamed or cached, inlined into
 * map_unzip_words. */
static POOL__INLINE size_t pairs_8(struct pool__job *job, const struct pool__words *w,
                                   const bool stream, const char **inp, size_t i, size_t e,
                                   char *b0, char *b1, int *rc)
{
    if (stream) {
        POOL__PAIRS(8, true)
    }
    POOL__PAIRS(8, false)
}

/* The pair loop of 4-byte members (never streamed), a function of its own:
 * inlined beside the others it made the 8-byte loops 5-10 % slower (10^5
 * tuples of three doubles, 1 thread, a throwaway program timing trial
 * builds), however placed. */
POOL__CODE_ALIGNED POOL__NOINLINE static size_t pairs_4(struct pool__job *job,
                                                          const struct pool__words *w,
                                                          const char **inp, size_t i,
                                                          size_t e, char *b0, char *b1,
                                                          int *rc)
{
    POOL__PAIRS(4, false)
}
#undef POOL__PAIRS
#endif

/*
 * map_unzip_body for columns all of 8-byte members (the usual tuple of
 * doubles or 64-bit integers), or, not streamed, all of 4-byte ones
 * (floats, 32-bit integers), at most POOL__WORD_COLUMNS of them: tuples
 * go to their columns as soon as fn returns, so that the stores flow out
 * with the calls rather than in bursts between blocks. W2's map_unzip at 2
 * threads (10^7 tuples of three doubles, streamed) went from 1.17 ns an
 * item with blocks of 128 tuples, scattered column by column, to 1.00
 * (`bench/ab.sh`, 20 rounds, ahead in all; docs/bench-log.md); columns that
 * fit the caches (not streamed), from 2.2-2.4 to 1.4 (docs/bench-log.md,
 * "map_unzip: the pair loop").
 *
 * Items run two by two, and each column takes a pair's two members at once:
 * streamed, in one 16-byte store, where every column's next two members
 * share 16 aligned bytes (arrays of the same alignment mod 16: any
 * malloc'd ones); half the store instructions of one 8-byte store a
 * member, which bounded the loop at 1 thread (1.95 ns an item there, the
 * serial loop 1.39). Returns false, having run nothing, when the columns
 * are not such.
 */
POOL__CODE_ALIGNED
static bool map_unzip_words(struct pool__job *job, size_t b, size_t e, size_t *stop, int *rc,
                            bool stream)
{
#if defined(POOL__HAVE_ALIAS_WORDS)
    /* Two scratch tuples, each aligned for any type. */
    _Alignas(max_align_t) char buf[POOL_TUPLE_MAX];
    const size_t half = POOL_TUPLE_MAX / 2;
    _Static_assert(POOL_TUPLE_MAX / 2 % _Alignof(max_align_t) == 0, "aligned halves");
    struct pool__words w = { job->fn.map, job->ctx, 0, 0, { NULL }, { 0 } };
    unsigned parity = 0; /* bit 0: a column's member b is 16-aligned, bit 1: one is not */
#if !defined(POOL__HAVE_STREAM)
    stream = false;
#endif
    for (size_t k = 0; k < job->ncolumns; k++) {
        const pool_column *c = &job->columns[k];
        if (c->size == 0)
            continue; /* dst may be NULL: no arithmetic on it */
        if (w.width == 0)
            w.width = c->size;
        /* Streamed 4-byte columns go by blocks (scatter_column). */
        if (c->size != w.width || (c->size != 8 && (c->size != 4 || stream)) ||
            (uintptr_t)c->dst % c->size != 0 || w.nc == POOL__WORD_COLUMNS)
            return false;
        w.dst[w.nc] = (char *)c->dst;
        w.off[w.nc++] = c->offset;
        parity |= ((uintptr_t)c->dst + 8 * (uintptr_t)b) % 16 == 0 ? 1u : 2u;
    }
    if (w.width == 0)
        w.width = 8; /* no column has members: nothing is stored */
    const char *in = at(job->in, b * job->in_size);
    char *b1 = buf + half;
    size_t i = b;
    bool go = true;
    *rc = 0;
    if ((!stream || parity != 3) && job->tuple_size <= half) {
        if (stream && parity == 2 && i < e) { /* one item to reach 16 bytes */
            go = words_one(job, &w, in, i, buf, rc, true);
            if (go)
                i++, in = at(in, job->in_size);
        }
        if (go) {
            /* The usual widths, each its own unrolled loop. */
            if (w.width == 8)
                i = pairs_8(job, &w, stream, &in, i, e, buf, b1, rc);
            else
                i = pairs_4(job, &w, &in, i, e, buf, b1, rc);
            go = *rc == 0;
        }
    }
    while (go && i < e && words_one(job, &w, in, i, buf, rc, stream))
        i++, in = at(in, job->in_size);
    scatter_fence(stream);
    *stop = i;
    return true;
#else
    (void)job, (void)b, (void)e, (void)stop, (void)rc, (void)stream;
    return false;
#endif
}

/* map_unzip_body for any other columns: a block of tuples mapped into
 * scratch tuples on the stack, then scattered column by column. */
POOL__CODE_ALIGNED
static int map_unzip_blocks(struct pool__job *job, size_t b, size_t e, size_t *stop,
                            bool stream)
{
    /* Scratch tuples `stride` apart, each aligned for any type. */
    _Alignas(max_align_t) char buf[POOL_TUPLE_MAX];
    size_t align = _Alignof(max_align_t);
    size_t stride = (job->tuple_size + align - 1) / align * align;
    size_t block = sizeof buf / stride;
    pool_map_fn fn = job->fn.map;
    const char *in = at(job->in, b * job->in_size);
    int rc = 0;

    for (size_t i = b; i < e; i += block) {
        size_t count = e - i < block ? e - i : block;
        size_t k;
        for (k = 0; k < count; k++) {
            /* Past a lower failure, or at a failure: keep what ran, stop. */
            if (i + k >= pool__load_relaxed(&job->stop_at) ||
                (rc = fn(job->ctx, in, buf + k * stride)) != 0)
                break;
            in = at(in, job->in_size);
        }
        scatter(job, buf, stride, k, i, stream);
        if (k < count) {
            scatter_fence(stream);
            *stop = i + k;
            return rc;
        }
    }
    scatter_fence(stream);
    *stop = e;
    return 0;
}

/* The two ways each keep their own scratch tuples (POOL_TUPLE_MAX bytes on
 * the stack): one such buffer in a thread's frames per call level. */
POOL__CODE_ALIGNED
static int map_unzip_body(struct pool__job *job, size_t b, size_t e, size_t *stop)
{
    bool stream = scatter_streams(job);
    int rc;

    if (map_unzip_words(job, b, e, stop, &rc, stream))
        return rc;
    return map_unzip_blocks(job, b, e, stop, stream);
}

/* ---- job set-up shared with future.c ------------------------------------ */

int pool__check_map(pool_map_fn fn, const void *in, size_t in_size, const void *out,
                    size_t out_size, size_t n)
{
    int rc;
    if (fn == NULL)
        return EINVAL;
    if ((rc = check_array(in, in_size, n)) != 0 || (rc = check_array(out, out_size, n)) != 0)
        return rc;
    return 0;
}

void pool__init_map_job(struct pool__job *job, pool_map_fn fn, void *ctx, const void *in,
                        size_t in_size, void *out, size_t out_size, size_t n)
{
    job->body = map_body;
    job->fn.map = fn;
    job->ctx = ctx;
    job->in = in;
    job->in_size = in_size;
    job->out = out;
    job->out_size = out_size;
    job->n = n;
}

void pool__init_for_job(struct pool__job *job, pool_for_fn fn, void *ctx, size_t n)
{
    job->body = for_body;
    job->fn.each = fn;
    job->ctx = ctx;
    job->n = n;
}

/* ---- public calls ------------------------------------------------------ */

/* In-place loops of pool_map_ex and pool_for_ex: the serial loop itself. */
struct map_loop {
    pool_map_fn fn;
    void *ctx;
    const char *in;
    size_t in_size;
    char *out;
    size_t out_size;
    size_t n;
};

/* Out of line, on a line's start: inlined into pool_map its loop sat
 * wherever the code before it left it, and a change elsewhere in that
 * function (a frame grew by a word) moved it from 32 bytes into a line to
 * a line's start and W2's map_fnptr at 1 thread from 1.26 to 1.56 ns an
 * item (bench/ab.sh, 8 rounds, behind in 7). Here, its fields in
 * registers, 1.29 against 1.30 (10 rounds). */
POOL__CODE_ALIGNED
static POOL__NOINLINE int map_loop(void *args, size_t *failed)
{
    const struct map_loop *l = args;
    pool_map_fn fn = l->fn;
    void *ctx = l->ctx;
    const char *in = l->in;
    char *out = l->out;
    size_t isz = l->in_size, osz = l->out_size, n = l->n;
    for (size_t i = 0; i < n; i++) {
        int rc = fn(ctx, in, out);
        if (rc != 0) {
            *failed = i;
            return rc;
        }
        in = at(in, isz);
        out = (char *)at(out, osz);
    }
    return 0;
}

struct for_loop {
    pool_for_fn fn;
    void *ctx;
    size_t n;
};

static POOL__INLINE int for_loop(void *args, size_t *failed)
{
    const struct for_loop *l = args;
    for (size_t i = 0; i < l->n; i++) {
        int rc = l->fn(l->ctx, i);
        if (rc != 0) {
            *failed = i;
            return rc;
        }
    }
    return 0;
}

/* The shared halves of pool_map_ex and pool_for_ex (their placement already
 * PARALLEL), kept out of line: the job descriptor (three aligned cache
 * lines) then costs the in-place path no stack realignment. */
static POOL__NOINLINE int map_parallel(pool_t *pool, pool_map_fn fn, void *ctx,
                                       const void *in, size_t in_size, void *out,
                                       size_t out_size, size_t n, pool_opts *opts)
{
    struct pool__job job;
    job_init(&job, n, opts);
    pool__init_map_job(&job, fn, ctx, in, in_size, out, out_size, n);
    return run_shared(pool, &job, opts);
}

static POOL__NOINLINE int for_parallel(pool_t *pool, size_t n, pool_for_fn fn, void *ctx,
                                       pool_opts *opts)
{
    struct pool__job job;
    job_init(&job, n, opts);
    pool__init_for_job(&job, fn, ctx, n);
    return run_shared(pool, &job, opts);
}

/* pool_map_ex and pool_for_ex, inlined into their plain forms too: with
 * opts a constant NULL there, the smallest calls skip its tests. The four
 * public functions hold the in-place loops (pool_map's now calls map_loop),
 * hence POOL__CODE_ALIGNED: when the bodies above were aligned, pool_map
 * moved from a line's start to 48 bytes into one, and W2's map_fnptr at 1
 * thread went from 1.20-1.24 ns an item (11 of 12 processes) to 1.20-1.67
 * (6 of 12 above 1.29; bench/ab.sh, 12 rounds). */
static POOL__INLINE int map_ex(pool_t *pool, pool_map_fn fn, void *ctx, const void *in,
                               size_t in_size, void *out, size_t out_size, size_t n,
                               pool_opts *opts)
{
    if (opts)
        opts->failed_index = POOL_NO_INDEX;
    int rc = pool__check_map(fn, in, in_size, out, out_size, n);
    if (rc != 0 || n == 0)
        return rc;

    enum placement how = placement(pool, n, opts ? opts->chunk : 0);
    if (how == PARALLEL)
        return map_parallel(pool, fn, ctx, in, in_size, out, out_size, n, opts);
    /* In place: the serial loop itself, no job to set up. */
    struct map_loop l = { fn, ctx, in, in_size, out, out_size, n };
    return in_place(pool, how, map_loop, &l, opts);
}

POOL__CODE_ALIGNED
int pool_map_ex(pool_t *pool, pool_map_fn fn, void *ctx, const void *in, size_t in_size,
                void *out, size_t out_size, size_t n, pool_opts *opts)
{
    return map_ex(pool, fn, ctx, in, in_size, out, out_size, n, opts);
}

POOL__CODE_ALIGNED
int pool_map(pool_t *pool, pool_map_fn fn, void *ctx, const void *in, size_t in_size,
             void *out, size_t out_size, size_t n)
{
    return map_ex(pool, fn, ctx, in, in_size, out, out_size, n, NULL);
}

static POOL__INLINE int for_ex(pool_t *pool, size_t n, pool_for_fn fn, void *ctx,
                               pool_opts *opts)
{
    if (opts)
        opts->failed_index = POOL_NO_INDEX;
    if (fn == NULL)
        return EINVAL;
    if (n == 0)
        return 0;

    enum placement how = placement(pool, n, opts ? opts->chunk : 0);
    if (how == PARALLEL)
        return for_parallel(pool, n, fn, ctx, opts);
    /* In place: the serial loop itself, no job to set up. */
    struct for_loop l = { fn, ctx, n };
    return in_place(pool, how, for_loop, &l, opts);
}

POOL__CODE_ALIGNED
int pool_for_ex(pool_t *pool, size_t n, pool_for_fn fn, void *ctx, pool_opts *opts)
{
    return for_ex(pool, n, fn, ctx, opts);
}

POOL__CODE_ALIGNED
int pool_for(pool_t *pool, size_t n, pool_for_fn fn, void *ctx)
{
    return for_ex(pool, n, fn, ctx, NULL);
}

int pool_for_range_ex(pool_t *pool, size_t n, pool_range_fn fn, void *ctx,
                      pool_opts *opts)
{
    if (opts)
        opts->failed_index = POOL_NO_INDEX;
    if (fn == NULL)
        return EINVAL;
    if (n == 0)
        return 0;

    struct pool__job job;
    job_init(&job, n, opts);
    job.fn.range = fn;
    job.ctx = ctx;
    return run(pool, &job, range_body, opts);
}

int pool_for_range(pool_t *pool, size_t n, pool_range_fn fn, void *ctx)
{
    return pool_for_range_ex(pool, n, fn, ctx, NULL);
}

int pool_unzip(pool_t *pool, const void *tuples, size_t tuple_size, size_t n,
               const pool_column *columns, size_t ncolumns)
{
    int rc;
    /* As every array: NULL only where nothing is read (tuple_size 0 makes
     * every column empty, see check_columns). */
    if (tuples == NULL && n > 0 && tuple_size > 0)
        return EINVAL;
    if ((rc = check_columns(tuple_size, n, columns, ncolumns)) != 0)
        return rc;
    if (mul_overflows(n, tuple_size))
        return EOVERFLOW;
    if (n == 0 || ncolumns == 0 || tuple_size == 0)
        return 0;

    struct pool__job job;
    job_init(&job, n, NULL);
    job.in = tuples;
    job.tuple_size = tuple_size;
    job.columns = columns;
    job.ncolumns = ncolumns;
    return run(pool, &job, unzip_body, NULL);
}

int pool_map_unzip(pool_t *pool, pool_map_fn fn, void *ctx, const void *in, size_t in_size,
                   size_t tuple_size, size_t n, const pool_column *columns,
                   size_t ncolumns, pool_opts *opts)
{
    int rc;
    if (opts)
        opts->failed_index = POOL_NO_INDEX;
    if (fn == NULL || tuple_size == 0 || tuple_size > POOL_TUPLE_MAX)
        return EINVAL;
    if ((rc = check_array(in, in_size, n)) != 0 ||
        (rc = check_columns(tuple_size, n, columns, ncolumns)) != 0)
        return rc;
    if (mul_overflows(n, tuple_size)) /* as pool_unzip: no column need say so */
        return EOVERFLOW;
    if (n == 0)
        return 0;

    struct pool__job job;
    job_init(&job, n, opts);
    job.fn.map = fn;
    job.ctx = ctx;
    job.in = in;
    job.in_size = in_size;
    job.tuple_size = tuple_size;
    job.columns = columns;
    job.ncolumns = ncolumns;
    return run(pool, &job, map_unzip_body, opts);
}
