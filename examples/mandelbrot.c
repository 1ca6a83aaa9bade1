/*
 * mandelbrot.c - an irregular workload: rows near the set take many more
 * iterations than rows far from it, so a static split of the rows would
 * leave threads idle. pool_for_range() hands out rows in chunks that shrink
 * towards the end, so the threads finish together.
 *
 * Usage: mandelbrot [width [height [maxiter [output.pgm]]]]
 *        defaults: 1200 900 1000 mandelbrot.pgm (about 0.4 s on one core)
 *
 * Renders the image once on 1 thread (a NULL pool) and once on every CPU
 * (pool_create(0)), prints both wall times and the speedup, checks the two
 * images are byte for byte equal and writes the parallel one as a binary PGM.
 * Exits 0 on success, 1 on a mismatch or an I/O error, 2 on bad arguments.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, CLOCK_MONOTONIC */

#include <poolmap.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mandelbrot.h" /* the pixel math, shared with mandelbrot_mpi.c */

/* Everything a row needs, shared read-only by all threads through ctx;
 * each row writes only its own bytes of pixels. */
typedef struct image {
    size_t width, height;
    unsigned maxiter;
    unsigned char *pixels; /* width * height grey levels, row after row */
} image;

/* pool_for_range callback: render rows [begin, end) of the image. */
static int render_rows(void *ctx, size_t begin, size_t end)
{
    const image *img = ctx;

    for (size_t y = begin; y < end; y++)
        mandelbrot_row(img->width, img->height, img->maxiter, y,
                       img->pixels + y * img->width);
    return 0;
}

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Renders img on pool (NULL: serially on this thread); returns the wall time
 * in seconds, or a negative value when the call failed. */
static double render(pool_t *pool, image *img)
{
    double t0 = now_seconds();
    int rc = pool_for_range(pool, img->height, render_rows, img);
    double t1 = now_seconds();

    if (rc != 0) {
        fprintf(stderr, "pool_for_range: %s\n", strerror(rc));
        return -1.0;
    }
    return t1 - t0;
}

int main(int argc, char **argv)
{
    unsigned long width = 1200, height = 900, maxiter = 1000;
    const char *path = argc > 4 ? argv[4] : "mandelbrot.pgm";

    if (argc > 5) {
        fprintf(stderr, "usage: %s [width [height [maxiter [output.pgm]]]]\n", argv[0]);
        return 2;
    }
    if (mandelbrot_parse_arg("mandelbrot", argc, argv, 1, "width", 20000, &width) != 0 ||
        mandelbrot_parse_arg("mandelbrot", argc, argv, 2, "height", 20000, &height) != 0 ||
        mandelbrot_parse_arg("mandelbrot", argc, argv, 3, "maxiter", 1000000, &maxiter) != 0)
        return 2;

    image serial = { width, height, (unsigned)maxiter, malloc(width * height) };
    image parallel = { width, height, (unsigned)maxiter, malloc(width * height) };
    if (serial.pixels == NULL || parallel.pixels == NULL) {
        fprintf(stderr, "mandelbrot: out of memory\n");
        free(serial.pixels);
        free(parallel.pixels);
        return 1;
    }

    /* pool_create(0): one thread per online CPU, the caller included. */
    pool_t *pool = pool_create(0);
    if (pool == NULL) {
        perror("pool_create");
        free(serial.pixels);
        free(parallel.pixels);
        return 1;
    }

    /* A NULL pool runs the very same loop on this thread alone. */
    double t1 = render(NULL, &serial);
    double tn = render(pool, &parallel);
    size_t nthreads = pool_size(pool);
    pool_destroy(pool);

    int status = 0;
    if (t1 < 0 || tn < 0) {
        status = 1;
    } else {
        printf("%lux%lu, %lu iterations\n", width, height, maxiter);
        printf("threads %4d: %8.3f s\n", 1, t1);
        printf("threads %4zu: %8.3f s\n", nthreads, tn);
        printf("speedup:      %8.2fx\n", tn > 0 ? t1 / tn : 0.0);

        if (memcmp(serial.pixels, parallel.pixels, width * height) != 0) {
            fprintf(stderr, "FAILED: the parallel image differs from the serial one\n");
            status = 1;
        } else if (mandelbrot_write_pgm(path, width, height, parallel.pixels) != 0) {
            status = 1;
        } else {
            printf("images identical, wrote %s\n", path);
        }
    }

    free(serial.pixels);
    free(parallel.pixels);
    return status;
}
