/*
 * bench_mpi.c - pool_map_mpi on an irregular workload: 1 rank against all
 * the ranks of the job, with the static block split and with dynamic
 * dealing.
 *
 * Workload "tri": item i costs (i + 1) * unit steps of a xorshift chain, so
 * the costs form a triangle; the static split gives the last rank most of
 * the work (with 2 ranks, 3/4 of it), which dynamic dealing should not.
 *
 * Usage: mpiexec -n 2 build/bench/bench_mpi [--n N] [--unit U] [--reps R] [--threads T]
 *        defaults: --n 2000 --unit 150 --reps 7 --threads 1 (about 0.4 s per
 *        1-rank run on a current core)
 *
 * Every rank uses a pool of T threads. The 1-rank time is rank 0 alone
 * (MPI_COMM_SELF) while the other ranks wait without spinning; the N-rank
 * time is the slowest rank's, from a barrier to its return. Each time is the
 * median of R runs; the results of every run are checked against the first
 * 1-rank run. Prints, on rank 0, one CSV line per distribution and rank
 * count:
 *
 *   mpi,tri,<dist>,<ranks>,speedup,<x>,median_s,<t>,min_s,<t>,max_s,<t>,reps,<R>,n,<N>,threads,<T>
 *
 * where speedup is the 1-rank median over this median. Exits 1 when a
 * result is wrong or a call fails, 2 on bad arguments.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <poolmap_mpi.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct params {
    unsigned long n, unit, reps, threads;
} params;

/* Item i: (i + 1) * unit dependent steps. */
static int tri_item(void *ctx, const void *in, void *out)
{
    const params *p = ctx;
    uint64_t i, x;

    memcpy(&i, in, sizeof i);
    x = i + 0x9E3779B97F4A7C15u;
    for (uint64_t k = 0; k < (i + 1) * p->unit; k++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
    }
    memcpy(out, &x, sizeof x);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Ranks other than 0 wait here while rank 0 runs alone: an MPI_Ibarrier
 * polled every millisecond, so they leave the cores to it. */
static void wait_for_rank0(void)
{
    MPI_Request req;
    int done = 0;
    struct timespec ms = { 0, 1000000 };

    MPI_Ibarrier(MPI_COMM_WORLD, &req);
    while (!done) {
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (!done)
            nanosleep(&ms, NULL);
    }
}

static int parse(int argc, char **argv, params *p)
{
    for (int i = 1; i < argc; i++) {
        unsigned long *dst = !strcmp(argv[i], "--n")       ? &p->n
                             : !strcmp(argv[i], "--unit")    ? &p->unit
                             : !strcmp(argv[i], "--reps")    ? &p->reps
                             : !strcmp(argv[i], "--threads") ? &p->threads
                                                             : NULL;
        char *end;

        if (dst == NULL || i + 1 >= argc)
            return -1;
        errno = 0;
        *dst = strtoul(argv[++i], &end, 10);
        if (errno || *end || *dst == 0 || argv[i][0] == '-')
            return -1;
    }
    return p->threads <= POOL_MAX_THREADS ? 0 : -1;
}

int main(int argc, char **argv)
{
    params p = { 2000, 150, 7, 1 };
    int provided, rank, nranks, status = 0;

    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    if (parse(argc, argv, &p) != 0) {
        if (rank == 0)
            fprintf(stderr, "usage: mpiexec -n RANKS %s [--n N] [--unit U] [--reps R] "
                            "[--threads T]\n", argv[0]);
        MPI_Finalize();
        return 2;
    }

    uint64_t *in = malloc(p.n * sizeof *in);
    uint64_t *out = malloc(p.n * sizeof *out);
    uint64_t *want = malloc(p.n * sizeof *want);
    double *t1 = malloc(p.reps * sizeof *t1), *tn = malloc(p.reps * sizeof *tn);
    pool_t *pool = pool_create(p.threads);
    if (!in || !out || !want || !t1 || !tn || !pool) {
        fprintf(stderr, "bench_mpi: out of memory or no pool\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    for (size_t i = 0; i < p.n; i++)
        in[i] = i;

    /* 1 rank: rank 0 alone. */
    if (rank == 0) {
        for (unsigned long r = 0; r < p.reps && status == 0; r++) {
            double t = MPI_Wtime();
            int rc = pool_map_mpi(pool, tri_item, &p, in, sizeof *in, r ? out : want,
                                  sizeof *out, p.n, MPI_COMM_SELF, NULL);
            t1[r] = MPI_Wtime() - t;
            if (rc != 0 || (r && memcmp(out, want, p.n * sizeof *out) != 0))
                status = 1;
        }
    }
    wait_for_rank0();
    MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
    qsort(t1, p.reps, sizeof *t1, cmp_double);
    double base = t1[p.reps / 2];
    if (rank == 0 && status == 0) {
        printf("# mpi,workload,dist,ranks,speedup,x,median_s,t,min_s,t,max_s,t,reps,R,n,N,"
               "threads,T\n");
        for (int d = 0; d < 2; d++)
            printf("mpi,tri,%s,1,speedup,%.2f,median_s,%.4f,min_s,%.4f,max_s,%.4f,reps,%lu,"
                   "n,%lu,threads,%lu\n", d ? "dynamic" : "static", 1.0, base, t1[0],
                   t1[p.reps - 1], p.reps, p.n, p.threads);
    }

    /* All ranks, each distribution; results gathered to rank 0 and checked. */
    for (int d = 0; d < 2 && status == 0 && nranks > 1; d++) {
        for (unsigned long r = 0; r < p.reps && status == 0; r++) {
            pool_mpi_opts opts = POOL_MPI_OPTS_INIT;
            opts.flags = POOL_MPI_IN_ALL | (d ? POOL_MPI_DYNAMIC : POOL_MPI_STATIC);
            memset(out, 0, p.n * sizeof *out);
            MPI_Barrier(MPI_COMM_WORLD);
            double t = MPI_Wtime();
            int rc = pool_map_mpi(pool, tri_item, &p, in, sizeof *in, out, sizeof *out, p.n,
                                  MPI_COMM_WORLD, &opts);
            t = MPI_Wtime() - t;
            if (rc != 0 || (rank == 0 && memcmp(out, want, p.n * sizeof *out) != 0))
                status = 1;
            MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            MPI_Allreduce(MPI_IN_PLACE, &status, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
            tn[r] = t;
        }
        if (rank == 0 && status == 0) {
            qsort(tn, p.reps, sizeof *tn, cmp_double);
            double med = tn[p.reps / 2];
            printf("mpi,tri,%s,%d,speedup,%.2f,median_s,%.4f,min_s,%.4f,max_s,%.4f,reps,%lu,"
                   "n,%lu,threads,%lu\n", d ? "dynamic" : "static", nranks, base / med, med,
                   tn[0], tn[p.reps - 1], p.reps, p.n, p.threads);
        }
    }
    if (rank == 0 && status != 0)
        fprintf(stderr, "bench_mpi: a call failed or a result is wrong\n");

    pool_destroy(pool);
    free(in);
    free(out);
    free(want);
    free(t1);
    free(tn);
    MPI_Finalize();
    return status;
}
