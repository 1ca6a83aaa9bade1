/*
 * mandelbrot_mpi.c - mandelbrot.c's image, rendered by every rank of an MPI
 * job: pool_map_mpi() maps rows to pixel rows. The row indices live on
 * rank 0 and are dealt out in chunks on request, so ranks (and hosts) that
 * get the slow rows near the set do not hold the others up; each rank
 * renders its chunks on its own pool, and the rows come back to rank 0.
 *
 * Usage: mpiexec -n RANKS mandelbrot_mpi [width [height [maxiter [output.pgm]]]]
 *        defaults: 1200 900 1000 mandelbrot_mpi.pgm, as mandelbrot.c
 *
 *        mpiexec -n 2 ./build/examples/mandelbrot_mpi
 *        mpiexec -hosts h1,h2 -n 4 ./build/examples/mandelbrot_mpi   (mpich)
 *
 * Each rank's pool gets the host's CPUs divided among the ranks on that
 * host. Rank 0 also renders the image alone (a plain loop, one thread),
 * checks the two are byte for byte equal, prints both times and how many
 * rows each rank rendered, and writes the PGM (the same bytes as
 * mandelbrot.c writes for the same arguments). Every rank exits 0 on
 * success, 1 on a mismatch or an error, 2 on bad arguments.
 */
#define _POSIX_C_SOURCE 200809L /* sysconf(_SC_NPROCESSORS_ONLN) */

#include <poolmap_mpi.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mandelbrot.h" /* the pixel math, shared with mandelbrot.c */

/* Read-only parameters for every row, and this rank's row count. */
typedef struct view {
    size_t width, height;
    unsigned maxiter;
    atomic_size_t rows; /* rendered on this rank */
} view;

/* pool_map_mpi callback: in is a row index, out that row's width pixels. */
static int render_row(void *ctx, const void *in, void *out)
{
    view *v = ctx;
    uint64_t y;

    memcpy(&y, in, sizeof y);
    mandelbrot_row(v->width, v->height, v->maxiter, (size_t)y, out);
    atomic_fetch_add_explicit(&v->rows, 1, memory_order_relaxed);
    return 0;
}

/* Threads for this rank's pool: the host's CPUs shared among the ranks
 * placed on it. */
static size_t threads_per_rank(void)
{
    MPI_Comm host;
    int on_host = 1;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL,
                            &host) == MPI_SUCCESS) {
        MPI_Comm_size(host, &on_host);
        MPI_Comm_free(&host);
    }
    if (cpus < 1)
        cpus = 1;
    return cpus / on_host > 1 ? (size_t)(cpus / on_host) : 1;
}

/* The whole job on every rank; returns the exit status rank 0 decided. */
static int run(int rank, int nranks, unsigned long width, unsigned long height,
               unsigned long maxiter, const char *path)
{
    view v = { width, height, (unsigned)maxiter, 0 };
    size_t n = width * height;
    unsigned char *image = NULL, *serial = NULL;
    uint64_t *rows = NULL;
    int status = 0;

    /* The input (row indices) and the image live on rank 0 only. */
    if (rank == 0) {
        image = malloc(n);
        serial = malloc(n);
        rows = malloc(height * sizeof *rows);
        if (image == NULL || serial == NULL || rows == NULL) {
            fprintf(stderr, "mandelbrot_mpi: out of memory\n");
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        for (size_t y = 0; y < height; y++)
            rows[y] = y;
    }

    pool_t *pool = pool_create(threads_per_rank());
    if (pool == NULL) {
        perror("pool_create");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    size_t nthreads = pool_size(pool);

    /* Rank 0 alone on one thread: the reference image and time. */
    double t1 = 0.0;
    if (rank == 0) {
        double t0 = MPI_Wtime();
        for (size_t y = 0; y < height; y++)
            mandelbrot_row(width, height, (unsigned)maxiter, y, serial + y * width);
        t1 = MPI_Wtime() - t0;
    }

    /* Every rank: rows dealt from rank 0, pixels gathered back to it. */
    pool_mpi_opts opts = POOL_MPI_OPTS_INIT; /* root 0, in and out on it, dynamic */
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    int rc = pool_map_mpi(pool, render_row, &v, rows, sizeof *rows, image, width, height,
                          MPI_COMM_WORLD, &opts);
    double tn = MPI_Wtime() - t0;
    pool_destroy(pool);

    /* Who rendered how much: one count per rank, on rank 0. */
    unsigned long mine = (unsigned long)atomic_load(&v.rows);
    unsigned long *counts = rank == 0 ? calloc((size_t)nranks, sizeof *counts) : NULL;
    MPI_Gather(&mine, 1, MPI_UNSIGNED_LONG, counts, 1, MPI_UNSIGNED_LONG, 0, MPI_COMM_WORLD);

    if (rc != 0) {
        if (rank == 0)
            fprintf(stderr, "pool_map_mpi: %s\n", strerror(rc));
        status = 1;
    } else if (rank == 0) {
        printf("%lux%lu, %lu iterations\n", width, height, maxiter);
        printf("1 rank  x 1 thread:          %8.3f s\n", t1);
        printf("%d ranks x %zu threads (rank 0): %8.3f s\n", nranks, nthreads, tn);
        printf("speedup:                     %8.2fx\n", tn > 0 ? t1 / tn : 0.0);
        printf("rows per rank:");
        for (int r = 0; r < nranks && counts; r++)
            printf(" %lu", counts[r]);
        printf("\n");
        if (memcmp(serial, image, n) != 0) {
            fprintf(stderr, "FAILED: the MPI image differs from the serial one\n");
            status = 1;
        } else if (mandelbrot_write_pgm(path, width, height, image) != 0) {
            status = 1;
        } else {
            printf("images identical, wrote %s\n", path);
        }
    }
    free(counts);
    MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
    free(image);
    free(serial);
    free(rows);
    return status;
}

int main(int argc, char **argv)
{
    int provided, rank, nranks, status;

    /* FUNNELED: the pools' threads exist beside this one, which alone
     * calls MPI. */
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    if (provided < MPI_THREAD_FUNNELED) { /* what pool_map_mpi needs */
        if (rank == 0)
            fprintf(stderr, "mandelbrot_mpi: MPI gives thread level %d, below FUNNELED\n",
                    provided);
        MPI_Finalize();
        return 1;
    }

    /* Rank 0 reads the arguments (and says what is wrong); every rank gets
     * its reading: {status, width, height, maxiter}, defaults as mandelbrot.c. */
    unsigned long args[4] = { 0, 1200, 900, 1000 };
    const char *path = argc > 4 ? argv[4] : "mandelbrot_mpi.pgm";
    if (rank == 0) {
        if (argc > 5) {
            fprintf(stderr, "usage: %s [width [height [maxiter [output.pgm]]]]\n", argv[0]);
            args[0] = 2;
        } else if (mandelbrot_parse_arg("mandelbrot_mpi", argc, argv, 1, "width", 20000,
                                        &args[1]) != 0 ||
                   mandelbrot_parse_arg("mandelbrot_mpi", argc, argv, 2, "height", 20000,
                                        &args[2]) != 0 ||
                   mandelbrot_parse_arg("mandelbrot_mpi", argc, argv, 3, "maxiter", 1000000,
                                        &args[3]) != 0) {
            args[0] = 2;
        }
    }
    MPI_Bcast(args, 4, MPI_UNSIGNED_LONG, 0, MPI_COMM_WORLD);
    status = (int)args[0];
    if (status == 0)
        status = run(rank, nranks, args[1], args[2], args[3], path);
    MPI_Finalize();
    return status;
}
