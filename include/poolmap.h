/*
 * poolmap.h - parallel map, for and unzip over a fixed pool of pthreads.
 *
 * This header is the whole public API and its manual.
 *
 *   Python                                   poolmap
 *   ---------------------------------------  ---------------------------------
 *   pool = multiprocessing.Pool(4)           pool_t *pool = pool_create(4);
 *   results = pool.map(calc_stuff, xs)       pool_map(pool, calc_stuff, ctx,
 *                                                     xs, sizeof *xs,
 *                                                     results, sizeof *results, n);
 *   out1, out2, out3 = zip(*results)         pool_unzip(pool, results, sizeof *results,
 *                                                       n, columns, 3);
 *   pool.close(); pool.join()                pool_destroy(pool);
 *
 * ---------------------------------------------------------------------------
 * Model
 * ---------------------------------------------------------------------------
 * A pool of N threads is N-1 worker pthreads started by pool_create() plus
 * the thread that makes a call: the caller always works on its own call's
 * items, as in OpenMP and pthreadpool. Workers live until pool_destroy().
 * Every shared call puts one job descriptor on the pool's one queue (a
 * blocking call, when no other is, on the queue's lock-free front: a word
 * idle workers poll); items are claimed in chunks with atomic operations,
 * so a blocking call allocates nothing and takes no lock per item or per
 * chunk (an async call allocates its handle once). Idle workers spin briefly (half a millisecond
 * in all at most, or 8 microseconds each where that is more: pools of 64
 * threads and up), then sleep and use no CPU; a worker whose last four
 * idle spells each lasted over 2 ms (calls made now and then) spins only
 * 8 microseconds before it sleeps.
 *
 * A call runs on its caller alone when sharing it cannot pay: on a pool of
 * one thread, for one item or one chunk, and, after a call on the pool that
 * took well under a microsecond (or whose items would have, on one thread),
 * until the next call proves bigger (it is then shared from where it got
 * to, about a microsecond later). So callbacks must never wait for one
 * another: nothing promises that two items of a call run at the same time.
 *
 * A NULL pool is valid wherever a pool_t * is taken by a loop call: the loop
 * then runs serially on the calling thread with exactly the same semantics
 * and error contract.
 *
 * ---------------------------------------------------------------------------
 * Errors: the serial-loop contract
 * ---------------------------------------------------------------------------
 * Functions return 0 on success or a positive errno value. A callback returns
 * 0 for success and anything else for failure. When items fail, a loop call
 * returns the status of the LOWEST-INDEXED failing item; every item below
 * that index has run; no new item above it starts once the failure is seen
 * (items above it may or may not have run). That is what the serial loop
 *
 *     for (i = 0; i < n; i++) if ((rc = fn(..., i)) != 0) return rc;
 *
 * returns, so the result never depends on thread count or timing. The _ex
 * variants also report that index through pool_opts.failed_index.
 *
 * Argument errors are detected before any item runs, and then no callback is
 * called:
 *   EINVAL     a NULL callback; a NULL array with n > 0 and a non-zero
 *              element size; in pool_unzip a NULL column array, a NULL
 *              column destination, or a column that ends past tuple_size.
 *   EOVERFLOW  n * element size does not fit in size_t.
 * n == 0 is valid, returns 0 and calls nothing.
 *
 * ---------------------------------------------------------------------------
 * Thread safety
 * ---------------------------------------------------------------------------
 * - Any number of threads may call the loop functions on one pool at the
 *   same time; each call gets exactly its own results.
 * - A callback may call a loop function on the same pool (nesting). This
 *   never deadlocks, even on a pool of 1 or 2 threads: a thread waiting for
 *   its call first runs that call's unclaimed items itself, and only waits
 *   for items already running on other threads. While it waits it helps
 *   with the calls those items made on the same pool (never with another
 *   caller's calls, which could outlast its own).
 * - pool_destroy() must not race with a call that starts after it; calls
 *   already in flight (whose start the destroying thread has learned of,
 *   through any synchronization) are waited for. Calling it from inside a callback
 *   running on that pool is a programming error: it prints a message to
 *   stderr and aborts, instead of deadlocking.
 * - Callbacks run on arbitrary pool threads, concurrently with each other;
 *   they must only write their own outputs (or synchronize themselves).
 * - fork(): in the child, a pool created before the fork has no workers.
 *   It stays usable: every call on it runs serially on the calling thread,
 *   as with a NULL pool (async calls complete before they return), and
 *   pool_destroy() only frees its memory (from a callback of that pool it
 *   is refused, as anywhere). Futures of the parent's pool that
 *   were not done at the fork never complete in the child. The child
 *   may create new pools as usual. (Fork while this thread is inside a call
 *   on the pool is not supported.)
 */
#ifndef POOLMAP_H
#define POOLMAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the exported API; everything else in the library is hidden. */
#if defined(__GNUC__) && __GNUC__ >= 4
#define POOL_API __attribute__((visibility("default")))
#else
#define POOL_API
#endif

/* ======================================================================== */
/* Version                                                                  */
/* ======================================================================== */

/* The one place the version is kept; CMakeLists.txt reads it from here. */
#define POOLMAP_VERSION_MAJOR 0
#define POOLMAP_VERSION_MINOR 1
#define POOLMAP_VERSION_PATCH 0

/* The version as one number, 0xMMmmpp, comparable with < and >. */
#define POOLMAP_VERSION \
    ((POOLMAP_VERSION_MAJOR << 16) | (POOLMAP_VERSION_MINOR << 8) | POOLMAP_VERSION_PATCH)

/* The version of the library linked at run time, as POOLMAP_VERSION, and as
 * "MAJOR.MINOR.PATCH". Compare with the macros to detect a header/library
 * mismatch. Thread safety: any thread. */
POOL_API unsigned pool_version(void);
POOL_API const char *pool_version_string(void);

/* ======================================================================== */
/* Pool lifecycle                                                           */
/* ======================================================================== */

/* Opaque pool handle. */
typedef struct pool pool_t;

/* Largest thread count pool_create() accepts. */
#define POOL_MAX_THREADS 1024

/*
 * pool_create - start a pool in which `nthreads` threads work on each call.
 *
 * nthreads counts the calling thread, so N-1 workers are started; 0 means the
 * number of online CPUs. Threads start here and live until pool_destroy();
 * no thread is created per call. Workers block all signals, so signals go to
 * the application's own threads. A pool of more than one thread also times
 * its workers' start against the monotonic clock (at least 20 us, spinning
 * the rest), to size "too small to share" in its own cycle counter.
 *
 * Returns the pool, or NULL with errno set and nothing leaked (workers that
 * did start are joined):
 *   EINVAL   nthreads > POOL_MAX_THREADS
 *   ENOMEM   out of memory, or the fork handler could not be registered:
 *            it is registered once per process, at the first pool_create,
 *            and if that fails every later pool_create fails likewise (a
 *            NULL pool still runs loops serially)
 *   EAGAIN   a worker thread could not be created, or a lock or condition
 *            variable for want of a resource other than memory
 * Thread safety: may be called from any thread.
 */
POOL_API pool_t *pool_create(size_t nthreads);

/*
 * pool_destroy - wait for calls in flight, join every worker, free the pool.
 *
 * Calls in flight include async work not yet done: it is finished first
 * (call pool_cancel_pending() before to drop what has not started). Futures
 * remain valid after their pool is destroyed. pool_destroy(NULL) does nothing. Must not be called from a callback that
 * runs on `pool` (that would wait for itself): doing so prints a message and
 * aborts. No call may start on the pool once pool_destroy() has begun.
 */
POOL_API void pool_destroy(pool_t *pool);

/*
 * pool_size - threads that work on one call (the caller counted): the
 * nthreads given to pool_create(), or the CPU count it chose for 0.
 * pool_size(NULL) is 1.
 */
POOL_API size_t pool_size(const pool_t *pool);

/* ======================================================================== */
/* Options for the _ex calls                                                */
/* ======================================================================== */

/* failed_index value meaning "no item failed". */
#define POOL_NO_INDEX SIZE_MAX

typedef struct pool_opts {
    /* In: items per claim. 0 picks automatically: each thread starts on its
     * own contiguous share of the items, claims shrinking chunks from it
     * (an eighth of what is left, and once it has timed a chunk, no more
     * items than that rate runs in about 0.25 ms, at least one), and once it
     * is done takes half of what another thread has left (work stealing),
     * so 10^7 cheap items cost few claims, threads rarely touch the same
     * cache line, uneven items still balance, and costly items near the end
     * of a call come one per claim. A fixed chunk > 0 hands out exactly
     * that many items per claim, in index order from one shared counter
     * (the last may be short). */
    size_t chunk;
    /* Out: index of the lowest failing item (for pool_for_range_ex: the
     * `begin` of the lowest failing range), or POOL_NO_INDEX when the call
     * returned 0 or failed on its arguments. */
    size_t failed_index;
} pool_opts;

/* Initializer: automatic chunk, no failure. */
#define POOL_OPTS_INIT { 0, POOL_NO_INDEX }

/* ======================================================================== */
/* Map                                                                      */
/* ======================================================================== */

/* Map callback: read one input element, write one output element. */
typedef int (*pool_map_fn)(void *ctx, const void *in, void *out);

/*
 * pool_map - apply fn to every input element, writing each result in place.
 *
 * Equivalent to
 *     for (i = 0; i < n; i++)
 *         if ((rc = fn(ctx, (char *)in + i*in_size, (char *)out + i*out_size)))
 *             return rc;
 *     return 0;
 * with the items spread over the pool; each runs exactly once (until the
 * first failure, see the error contract above). in_size or out_size may be 0
 * (then in or out may be NULL and fn gets that pointer unchanged). in and
 * out may be one array with in_size == out_size (each item rewrites its own
 * element), but must not otherwise overlap: items run in no fixed order.
 *
 * Errors: EINVAL (fn NULL; in NULL with n > 0 and in_size > 0; same for out),
 * EOVERFLOW (n * in_size or n * out_size overflows), or the status of the
 * lowest failing item.
 * Thread safety: see the header comment; safe to nest.
 */
POOL_API int pool_map(pool_t *pool, pool_map_fn fn, void *ctx,
             const void *in, size_t in_size,
             void *out, size_t out_size, size_t n);

/* pool_map with options; opts may be NULL. */
POOL_API int pool_map_ex(pool_t *pool, pool_map_fn fn, void *ctx,
                const void *in, size_t in_size,
                void *out, size_t out_size, size_t n, pool_opts *opts);

/* ======================================================================== */
/* For                                                                      */
/* ======================================================================== */

/* Loop body for one index. */
typedef int (*pool_for_fn)(void *ctx, size_t i);

/*
 * pool_for - run fn(ctx, i) for every i in [0, n).
 *
 * Equivalent to
 *     for (i = 0; i < n; i++) if ((rc = fn(ctx, i))) return rc;
 *     return 0;
 * Errors: EINVAL (fn NULL) or the status of the lowest failing index.
 */
POOL_API int pool_for(pool_t *pool, size_t n, pool_for_fn fn, void *ctx);

/* pool_for with options; opts may be NULL. */
POOL_API int pool_for_ex(pool_t *pool, size_t n, pool_for_fn fn, void *ctx,
                pool_opts *opts);

/* Loop body for a contiguous range [begin, end), begin < end. */
typedef int (*pool_range_fn)(void *ctx, size_t begin, size_t end);

/*
 * pool_for_range - hand fn contiguous sub-ranges that cover [0, n) exactly
 * once, so the body's inner loop can be inlined and vectorized.
 *
 * Equivalent to calling fn(ctx, b, e) on consecutive ranges
 * 0 = b0 < e0 = b1 < e1 = ... = n, stopping at the first failure. The error
 * contract works per range: the call returns the status of the lowest
 * failing range, every range below it ran, and failed_index (with _ex) is
 * that range's begin. Range sizes are chosen by the scheduler (or are
 * opts->chunk, the last one short) and may differ between runs.
 * Errors: EINVAL (fn NULL) or the status of the lowest failing range.
 */
POOL_API int pool_for_range(pool_t *pool, size_t n, pool_range_fn fn, void *ctx);

/* pool_for_range with options; opts may be NULL. */
POOL_API int pool_for_range_ex(pool_t *pool, size_t n, pool_range_fn fn, void *ctx,
                      pool_opts *opts);

/* ======================================================================== */
/* Unzip                                                                    */
/* ======================================================================== */

/* One output column: the tuple member at `offset`, `size` bytes long, is
 * copied for every tuple i to dst + i*size. */
typedef struct pool_column {
    size_t offset;
    size_t size;
    void *dst;
} pool_column;

/* Column for member `member` of struct `type`, written densely into `dst`. */
#define POOL_COLUMN(type, member, dst) \
    ((pool_column){ offsetof(type, member), sizeof(((type *)0)->member), (dst) })

/*
 * pool_unzip - split an array of n tuples into separate column arrays.
 *
 * Equivalent to
 *     for (i = 0; i < n; i++)
 *         for (k = 0; k < ncolumns; k++)
 *             memcpy((char *)columns[k].dst + i*columns[k].size,
 *                    (const char *)tuples + i*tuple_size + columns[k].offset,
 *                    columns[k].size);
 * in parallel with a pool, serially with NULL. Any member size, any number
 * of columns; columns must not overlap the tuples or each other.
 * Columns of 64 MiB or more in all are written with non-temporal stores on
 * x86-64 (they bypass the caches, which could not hold them anyway; the
 * call returns only once they are globally visible): about a third less
 * memory traffic than cached stores; columns all of 8-byte members in one
 * pass over the tuples, except on Intel CPUs with tuples of up to 64 bytes,
 * which take them block by block, column by column (faster there).
 * Columns of less than 8 MiB in all, all of 8-byte or all of 4-byte
 * members, each dst aligned to its member size, 8 columns at most, are
 * also written in one pass (with cached stores: the caches keep them);
 * others block by block, column by column.
 * Errors (nothing is copied): EINVAL (tuples NULL with a non-zero
 * tuple_size, or columns NULL with ncolumns > 0, or a dst NULL with a
 * non-zero size, when n > 0; a column
 * with offset + size > tuple_size), EOVERFLOW (n * tuple_size or
 * n * columns[k].size overflows).
 */
POOL_API int pool_unzip(pool_t *pool, const void *tuples, size_t tuple_size, size_t n,
               const pool_column *columns, size_t ncolumns);

/* Largest tuple_size pool_map_unzip() accepts. */
#define POOL_TUPLE_MAX 4096

/*
 * pool_map_unzip - pool_map then pool_unzip in one pass, without the
 * intermediate tuple array: each thread maps items into scratch tuples on
 * its stack (at most POOL_TUPLE_MAX bytes of them) and copies their members
 * into the columns.
 *
 * Equivalent to pool_map(fn, in -> tuples) followed by pool_unzip(tuples ->
 * columns), except that no n-element tuple array exists: fn's `out` points
 * to a scratch tuple of tuple_size bytes (suitably aligned for any type).
 * Error contract as pool_map: on failure at item j, every column holds the
 * results of all items below j. opts may be NULL.
 * Errors: those of pool_map and pool_unzip, and EINVAL for tuple_size == 0
 * or tuple_size > POOL_TUPLE_MAX.
 */
POOL_API int pool_map_unzip(pool_t *pool, pool_map_fn fn, void *ctx,
                   const void *in, size_t in_size,
                   size_t tuple_size, size_t n,
                   const pool_column *columns, size_t ncolumns,
                   pool_opts *opts);

/* ======================================================================== */
/* Futures: async tasks and maps on the same pool                           */
/* ======================================================================== */
/*
 * The concurrent.futures / asyncio half. Async work goes on the same queue
 * as the blocking calls, in its own lane: workers alternate between the two
 * lanes, so a long queue of tasks does not starve a pool_map caller, nor the
 * reverse. Nobody's thread runs async work inside the submitting call; a
 * pool of 1 (no workers) starts one background worker the first time async
 * work is submitted. With a NULL pool, async calls run to completion before
 * they return (the handle is already done).
 *
 *   Python                                   poolmap
 *   ---------------------------------------  ---------------------------------
 *   fut = executor.submit(fn, arg)           pool_submit(pool, fn, ctx, NULL, &fut)
 *   fut.result() / wait(timeout=t)           pool_future_wait(fut, t_ns); pool_future_status(fut)
 *   fut.done()                               pool_future_done(fut)
 *   fut.cancel()                             pool_future_cancel(fut)
 *   fut.add_done_callback(cb)                pool_async_opts.on_done
 *   pool.map_async(fn, xs, callback=cb)      pool_map_async(..., &opts, &fut)
 *   imap_unordered / as_completed            pool_future_next(fut, t_ns, &begin, &end, &status)
 *   asyncio.gather(*futs)                    pool_wait_all(futs, n, t_ns)
 *   wait(futs, FIRST_COMPLETED)              pool_wait_any(futs, n, t_ns, &index)
 *   loop.run_in_executor(None, fn)           pool_submit + poll() on pool_future_fd(fut)
 *   shutdown(cancel_futures=True)            pool_cancel_pending(pool); pool_destroy(pool)
 *
 * Timeouts are relative, in nanoseconds, measured on CLOCK_MONOTONIC:
 * POOL_FOREVER (< 0) waits without limit, 0 only polls.
 *
 * A NULL future: pool_future_wait, pool_future_status, pool_future_cancel
 * and pool_future_next return EINVAL, pool_future_fd -1 with errno EINVAL;
 * pool_future_done says 0, pool_future_failed_index POOL_NO_INDEX,
 * pool_future_progress 0 (and *total 0); pool_future_free does nothing.
 *
 * pool_future_wait and pool_wait_all, waiting forever, run unclaimed items of
 * the future they wait for on the waiting thread (as a blocking caller
 * does), so waiting on a future from inside a callback of the same pool
 * cannot deadlock, even on a pool of 1 or 2. pool_wait_any and
 * pool_future_next do so only when called from a callback of that pool
 * (elsewhere they would hold up "first completed", or the first chunk);
 * there pool_wait_any runs its futures' unclaimed items one future after
 * another, in array order, looking between two futures whether one is
 * done. A finite timeout never runs items,
 * so it is honoured.
 */

typedef struct pool_future pool_future_t;

/* A task: one call. Returns 0 or a failure status; results go through ctx. */
typedef int (*pool_task_fn)(void *ctx);

/* Completion callback: runs exactly once, after the status is final, on the
 * thread that completed the future (a worker, or a thread inside
 * pool_future_wait/cancel/pool_cancel_pending, or the submitter, before the
 * submitting call returns, with a NULL pool or a call of no items). It may
 * submit more work and may call pool_future_free(future) (then nobody may
 * wait on that future, see pool_future_free). It counts as a
 * callback of the pool: pool_destroy() of that pool from it is refused
 * (message and abort), as from any callback. */
typedef void (*pool_done_fn)(void *arg, pool_future_t *future);

/* pool_async_opts.flags: keep a record of every finished chunk, to be
 * consumed with pool_future_next(). Costs one small record per chunk. */
#define POOL_ASYNC_CHUNKS 1u

typedef struct pool_async_opts {
    size_t chunk;          /* as pool_opts.chunk: 0 = automatic */
    pool_done_fn on_done;  /* optional completion callback */
    void *on_done_arg;
    unsigned flags;        /* POOL_ASYNC_CHUNKS */
} pool_async_opts;

#define POOL_ASYNC_OPTS_INIT { 0, NULL, NULL, 0 }

/* Wait without limit. */
#define POOL_FOREVER ((int64_t)-1)

/*
 * pool_submit - run fn(ctx) on the pool; return at once with a handle.
 *
 * *future receives the handle, to be released with pool_future_free().
 * opts may be NULL (chunk is ignored for a task).
 * Errors (nothing runs, *future untouched): EINVAL (fn or future NULL),
 * ENOMEM, EAGAIN (a pool of 1 could not start its background worker).
 * Thread safety: any thread, also from callbacks.
 */
POOL_API int pool_submit(pool_t *pool, pool_task_fn fn, void *ctx,
                         const pool_async_opts *opts, pool_future_t **future);

/*
 * pool_map_async / pool_for_async - pool_map / pool_for that return at once
 * with a handle. The same error contract applies once the handle is done:
 * pool_future_status() is the lowest failing item's status and
 * pool_future_failed_index() its index. The arrays must stay valid until the
 * handle is done.
 * Errors: those of pool_map / pool_for (checked before anything runs), and
 * EINVAL for a NULL future, ENOMEM, EAGAIN.
 */
POOL_API int pool_map_async(pool_t *pool, pool_map_fn fn, void *ctx,
                            const void *in, size_t in_size,
                            void *out, size_t out_size, size_t n,
                            const pool_async_opts *opts, pool_future_t **future);
POOL_API int pool_for_async(pool_t *pool, size_t n, pool_for_fn fn, void *ctx,
                            const pool_async_opts *opts, pool_future_t **future);

/*
 * pool_future_wait - wait until the future is done, at most timeout_ns.
 * Returns 0 when done (also if it already was), ETIMEDOUT otherwise.
 */
POOL_API int pool_future_wait(pool_future_t *future, int64_t timeout_ns);

/* pool_future_done - true once the status is final. Lock-free, except that
 * for a future whose completion fd was made it takes the future's lock
 * briefly while the answer is "not done" (so that it agrees with the fd). */
POOL_API int pool_future_done(const pool_future_t *future);

/*
 * pool_future_status - the final status: 0; the task's status or the map's
 * lowest failing item's status; ECANCELED when a cancel kept items from
 * starting and no item below them failed. EBUSY while not done.
 */
POOL_API int pool_future_status(const pool_future_t *future);

/*
 * pool_future_failed_index - once done, the index of the lowest item that
 * did not complete: the lowest failing item, or for ECANCELED the lowest
 * item the cancel kept from starting. Every item below it ran; items above
 * it may or may not have (pool_future_progress counts those that did, and
 * POOL_ASYNC_CHUNKS records say which). POOL_NO_INDEX when the status is 0
 * or the future is not done.
 */
POOL_API size_t pool_future_failed_index(const pool_future_t *future);

/*
 * pool_future_progress - items that have run successfully so far, without
 * locks; *total (if not NULL) receives n (1 for a task). Counted when a
 * chunk finishes: automatic chunks of a long map are large at first, so set
 * pool_async_opts.chunk for a finer-grained count.
 */
POOL_API size_t pool_future_progress(const pool_future_t *future, size_t *total);

/*
 * pool_future_cancel - keep the future's items that have not started from
 * starting: unclaimed items never start, and running chunks stop before
 * their next item; items already running finish. The future completes as
 * soon as they have. Its status is then ECANCELED, with failed_index the
 * lowest item that never started (every item below it ran), unless an item
 * below that failed (the lowest failure wins, as always), or every item had
 * already started (the status is then what it would have been).
 * Returns 0 when the cancel was made (also when every item had started),
 * EBUSY when the future is done, or has a single item (a task, or a map of
 * one) that has already started.
 */
POOL_API int pool_future_cancel(pool_future_t *future);

/*
 * pool_future_next - the next finished chunk, in completion order, of a
 * future made with POOL_ASYNC_CHUNKS, while the rest still runs: items
 * [*begin, *end) have run successfully; if *status != 0, item *end failed
 * with it. Results stay where the map wrote them; nothing is copied.
 * Returns 0 with a chunk, ENOENT once the future is done and every chunk has
 * been returned, ETIMEDOUT, or EINVAL (no POOL_ASYNC_CHUNKS, NULL argument).
 * Several threads may consume one future; each chunk goes to one of them.
 * Waiting forever from inside a callback of the future's pool, it first
 * runs the future's unclaimed items itself, as pool_wait_any does.
 */
POOL_API int pool_future_next(pool_future_t *future, int64_t timeout_ns,
                              size_t *begin, size_t *end, int *status);

/*
 * pool_future_fd - a file descriptor that becomes readable (and stays so)
 * once the future is done, for poll/epoll/libuv loops: eventfd on Linux, a
 * pipe elsewhere. Owned by the future (closed by pool_future_free, or for
 * a future freed before it is done, when it completes); do not read it or
 * close it. Returns -1 with errno (EMFILE, ENFILE, ENOMEM).
 */
POOL_API int pool_future_fd(pool_future_t *future);

/*
 * pool_future_free - release the handle. A future that is not done yet is
 * detached: its work goes on and its memory is released when it completes
 * (on_done still runs). NULL is a no-op. Must not be called twice, nor
 * while a thread waits on the same future: an on_done that frees its
 * future (which it may) rules out waiting on that future, also from the
 * thread the wait may run its on_done on.
 */
POOL_API void pool_future_free(pool_future_t *future);

/*
 * pool_wait_all - asyncio.gather: wait until every future is done, at most
 * timeout_ns in all. Returns 0 when all are done, ETIMEDOUT, or EINVAL
 * (futures NULL with n > 0, or a NULL element). Statuses stay on each future.
 */
POOL_API int pool_wait_all(pool_future_t *const *futures, size_t n, int64_t timeout_ns);

/*
 * pool_wait_any - wait until at least one future is done, at most
 * timeout_ns; *index receives the lowest index of a done future.
 * Returns 0, ETIMEDOUT, EINVAL (n == 0, NULL arguments), ENOMEM.
 * Futures may belong to different pools.
 */
POOL_API int pool_wait_any(pool_future_t *const *futures, size_t n, int64_t timeout_ns,
                           size_t *index);

/*
 * pool_cancel_pending - shutdown(cancel_futures=True): cancel every async
 * future of the pool, queued or running (items not started never start;
 * running ones finish). Blocking calls are not affected, nor are futures
 * submitted after it, also those its on_done callbacks submit. Then
 * pool_destroy() returns as soon as the running items are done. Without
 * it, pool_destroy() first finishes all queued async work
 * (shutdown(wait=True)). NULL is a no-op.
 */
POOL_API void pool_cancel_pending(pool_t *pool);

#ifdef __cplusplus
}
#endif

#endif /* POOLMAP_H */
