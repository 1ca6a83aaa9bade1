/*
 * poolmap_mpi.h - pool_map over the ranks of an MPI communicator.
 *
 * An optional module: the target poolmap_mpi (CMake alias
 * poolmap::poolmap_mpi) is built only when CMake finds MPI, and links
 * poolmap and MPI::MPI_C. The core library does not depend on it.
 *
 *   mpi4py / multiprocessing                 poolmap_mpi
 *   ---------------------------------------  ---------------------------------
 *   with MPIPoolExecutor() as ex:            on every rank:
 *       results = list(ex.map(f, xs))        pool_map_mpi(pool, f, ctx, xs, sizeof *xs,
 *                                                         results, sizeof *results, n,
 *                                                         MPI_COMM_WORLD, &opts);
 *   out1, out2 = zip(*results)               pool_unzip(pool, results, sizeof *results,
 *                                                       n, columns, 2);  (where results are)
 *
 * ---------------------------------------------------------------------------
 * Model
 * ---------------------------------------------------------------------------
 * SPMD: every rank of the communicator calls pool_map_mpi() with the same
 * fn, n, element sizes and options (one collective call, like MPI_Bcast).
 * Each rank maps its share of the items on its own pool (pool_map_ex on
 * sub-ranges, so its pool's threads, or the calling thread alone for a NULL
 * pool, run them); the pools may differ in size from rank to rank.
 *
 * Where the input is (pool_mpi_opts.flags):
 *   default           `in` is read on the root rank only and each chunk's
 *                     elements are sent to the rank that maps it ("scatter");
 *                     `in` is ignored on the other ranks.
 *   POOL_MPI_IN_ALL   `in` holds the same n elements on every rank; no input
 *                     is sent, each rank reads the elements of its chunks.
 * Where the results go:
 *   default           `out` on the root receives all n results; `out` is
 *                     ignored (not touched) on the other ranks.
 *   POOL_MPI_OUT_ALL  `out` on every rank receives all n results.
 *
 * How the items are shared out:
 *   default (dynamic) the root deals chunks of consecutive items on request,
 *                     large first and smaller towards the end (guided), so
 *                     uneven item costs do not leave ranks idle. A rank's
 *                     report of a finished chunk is its request for another,
 *                     and it holds its next chunk while it runs the current
 *                     one, so dealing overlaps with work. The root maps
 *                     chunks too: its calling thread answers reports between
 *                     the items it runs itself (MPI_Improbe about every 50
 *                     microseconds), so there is no dealer thread and the
 *                     root's pool works at full width.
 *   POOL_MPI_STATIC   rank r (r-th in the communicator) maps the fixed block
 *                     [r*n/P, (r+1)*n/P) of the P ranks' items, dealt in
 *                     pieces of `chunk` items (default: as many as one
 *                     message holds); cheapest when costs are even.
 * Results return to the root chunk by chunk, as chunks finish. A
 * communicator of one rank maps everything with one local pool_map_ex.
 *
 * Results stay in tuple form in `out`; to split them into columns, call the
 * ordinary pool_unzip() afterwards where the results are: on the root, or
 * on every rank with POOL_MPI_OUT_ALL:
 *
 *     if (rank == root || (opts.flags & POOL_MPI_OUT_ALL))
 *         pool_unzip(pool, results, sizeof *results, n, columns, ncolumns);
 *
 * ---------------------------------------------------------------------------
 * Errors: the serial-loop contract, across ranks
 * ---------------------------------------------------------------------------
 * When items fail, every rank returns the status of the LOWEST-INDEXED
 * failing item of the whole map, and opts->failed_index is that index on
 * every rank; every item below it ran exactly once (on some rank) and its
 * result is in `out` where results go; the root deals no new chunk that
 * starts at or above a failure it knows of (chunks already dealt run to
 * completion, so items above it may or may not have run, and their results
 * may or may not be in `out`). That is what the serial loop
 *
 *     for (i = 0; i < n; i++) if ((rc = fn(ctx, in_i, out_i)) != 0) return rc;
 *
 * returns, whatever the number of ranks, threads or the timing.
 *
 * Argument errors are found before any item runs, on every rank at once:
 * one MPI_Allreduce compares n, in_size, out_size, flags, root and chunk
 * across the ranks and collects each rank's own checks, so every rank
 * returns the same code and no callback is called:
 *   EINVAL     a NULL fn on any rank; in NULL with n > 0 and in_size > 0 on
 *              the root (on every rank with POOL_MPI_IN_ALL); out NULL with
 *              n > 0 and out_size > 0 on the root (on every rank with
 *              POOL_MPI_OUT_ALL); an unknown flag; root not a rank of comm;
 *              n, in_size, out_size, flags, root or chunk not the same on
 *              every rank; comm MPI_COMM_NULL or an intercommunicator (then
 *              nothing is communicated: every rank passing it gets EINVAL);
 *              MPI not initialized or already finalized.
 *   EOVERFLOW  n * in_size or n * out_size does not fit in size_t, or
 *              in_size or out_size above POOL_MPI_ELEMENT_MAX (an element
 *              must fit in one MPI message).
 *   ENOMEM     a rank could not allocate its chunk buffers (reported on
 *              every rank, before any item runs).
 * When ranks find different argument errors, every rank returns the
 * numerically largest of them.
 * During the map:
 *   EIO        an MPI call failed. Only seen when the communicator's error
 *              handler returns errors (the default, MPI_ERRORS_ARE_FATAL,
 *              aborts the job instead); the other ranks' state is then
 *              unknown and the communicator should not be used again.
 * n == 0 is valid (when every rank passes 0): returns 0, calls nothing.
 *
 * ---------------------------------------------------------------------------
 * Threads and MPI
 * ---------------------------------------------------------------------------
 * Only the calling thread makes MPI calls; pool threads never do. So the
 * calling thread must be one that may call MPI: the main thread under
 * MPI_THREAD_FUNNELED (what MPI_Init_thread should ask for: the pool's
 * threads exist beside it), any one thread at a time under
 * MPI_THREAD_SERIALIZED. Concurrent calls from several threads need
 * MPI_THREAD_MULTIPLE and a communicator each (as concurrent MPI
 * collectives do). Each call works on its own duplicate of comm
 * (MPI_Comm_dup), so its messages never match the application's.
 * The root deals only from its calling thread, between the items that
 * thread runs (or while it waits for the last reports): an item that runs
 * for long on it delays the other ranks' next chunks by as much. Ranks
 * hold their next chunk in advance, which hides delays shorter than a
 * chunk; where single items run for seconds, make the root a rank whose
 * items are short, or give its pool more threads so that its calling
 * thread runs fewer of them.
 * Callbacks run on the rank that maps the item, on any of its pool's
 * threads, exactly as in pool_map; ctx is each rank's own.
 */
#ifndef POOLMAP_MPI_H
#define POOLMAP_MPI_H

#include <mpi.h>

#include "poolmap.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================== */
/* Options                                                                  */
/* ======================================================================== */

/* pool_mpi_opts.flags; the zero defaults are named for readability. */
#define POOL_MPI_IN_ROOT  0u /* in on the root, scattered chunk by chunk */
#define POOL_MPI_IN_ALL   1u /* in replicated on every rank */
#define POOL_MPI_OUT_ROOT 0u /* results gathered to the root */
#define POOL_MPI_OUT_ALL  2u /* results gathered to every rank */
#define POOL_MPI_DYNAMIC  0u /* chunks dealt on request (guided) */
#define POOL_MPI_STATIC   4u /* rank r maps block [r*n/P, (r+1)*n/P) */

/* Largest in_size or out_size: one element must fit in one MPI message. */
#define POOL_MPI_ELEMENT_MAX ((size_t)1 << 30)

typedef struct pool_mpi_opts {
    /* In: rank (in comm) that holds the input by default, receives the
     * results and deals the chunks. */
    int root;
    /* In: POOL_MPI_IN_ALL | POOL_MPI_OUT_ALL | POOL_MPI_STATIC, or 0. */
    unsigned flags;
    /* In: items per dealt chunk (static: per piece of a block). 0 picks
     * automatically: guided, each chunk the items not yet dealt divided by
     * 4 * (2 * ranks - 1), but never fewer than n / (128 * ranks) items nor
     * than the largest pool size; static: a block in as few pieces as the
     * cap allows. A chunk's data is capped at 4 MiB each way (at least one
     * element; only data that travels counts, so no input with
     * POOL_MPI_IN_ALL), so a large chunk is cut to fit. Each rank runs a chunk
     * with pool_map_ex and its automatic local chunking. */
    size_t chunk;
    /* Out: index of the lowest failing item on every rank, or POOL_NO_INDEX
     * when the call returned 0 or failed on its arguments. */
    size_t failed_index;
} pool_mpi_opts;

/* Initializer: root 0, input on the root, results to the root, dynamic,
 * automatic chunk. */
#define POOL_MPI_OPTS_INIT { 0, 0u, 0, POOL_NO_INDEX }

/* ======================================================================== */
/* Map                                                                      */
/* ======================================================================== */

/*
 * pool_map_mpi - pool_map over every rank of comm; collective.
 *
 * Equivalent, for the ranks together, to
 *     for (i = 0; i < n; i++)
 *         if ((rc = fn(ctx, (char *)in + i*in_size, (char *)out + i*out_size)))
 *             return rc;
 *     return 0;
 * with `in` read where the flags say and `out` written where they say (see
 * the header comment); each item runs exactly once, on one rank, until the
 * first failure. On a rank that maps an item whose input was scattered,
 * fn's `in` points into a buffer of that rank, valid during the call only.
 * With in_size 0 (or out_size 0) fn gets the calling rank's own `in` (or
 * `out`) pointer unchanged, as pool_map does. `in` and `out` must not
 * overlap (unlike pool_map's, not even item for item: the root sends a
 * chunk's input from `in` while its results may already come back).
 *
 * pool: this rank's pool, or NULL to map this rank's share serially on the
 * calling thread. opts: NULL means POOL_MPI_OPTS_INIT (then it must be NULL
 * or equivalent on every rank).
 * Errors: see the header comment; every rank returns the same value.
 */
POOL_API int pool_map_mpi(pool_t *pool, pool_map_fn fn, void *ctx,
                          const void *in, size_t in_size,
                          void *out, size_t out_size, size_t n,
                          MPI_Comm comm, pool_mpi_opts *opts);

#ifdef __cplusplus
}
#endif

#endif /* POOLMAP_MPI_H */
