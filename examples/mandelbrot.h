/*
 * mandelbrot.h - what mandelbrot.c and mandelbrot_mpi.c share: the pixel
 * math (so both render byte-identical images), argument parsing and the
 * PGM writer.
 */
#ifndef POOLMAP_EXAMPLE_MANDELBROT_H
#define POOLMAP_EXAMPLE_MANDELBROT_H

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Escape-time iteration for one point: 0 (black) inside the set, brighter
 * the longer the point takes to escape, on a curve that saturates quickly
 * so the slow-escaping boundary glows. */
static inline unsigned char mandelbrot_shade(double cr, double ci, unsigned maxiter)
{
    double zr = 0.0, zi = 0.0;
    unsigned n = 0;

    while (n < maxiter && zr * zr + zi * zi <= 4.0) {
        double t = zr * zr - zi * zi + cr;
        zi = 2.0 * zr * zi + ci;
        zr = t;
        n++;
    }
    if (n == maxiter)
        return 0;
    return (unsigned char)(255u * n / (n + 8));
}

/* Renders row y of a width x height image into row[0, width). The view:
 * real part in [-2.5, 1.0], imaginary part in [-1.25, 1.25], each pixel
 * sampled at its centre. */
static inline void mandelbrot_row(size_t width, size_t height, unsigned maxiter, size_t y,
                                  unsigned char *row)
{
    double dx = 3.5 / (double)width;
    double dy = 2.5 / (double)height;
    double ci = -1.25 + ((double)y + 0.5) * dy;

    for (size_t x = 0; x < width; x++)
        row[x] = mandelbrot_shade(-2.5 + ((double)x + 0.5) * dx, ci, maxiter);
}

/* Parses argv[i] as an integer in [1, max] into *out; keeps the default when
 * argv has no such argument. Returns 0, or -1 after printing why. */
static inline int mandelbrot_parse_arg(const char *prog, int argc, char **argv, int i,
                                       const char *name, unsigned long max,
                                       unsigned long *out)
{
    char *end;
    unsigned long v;

    if (i >= argc)
        return 0;
    errno = 0;
    v = strtoul(argv[i], &end, 10);
    if (errno != 0 || end == argv[i] || *end != '\0' || argv[i][0] == '-' ||
        v < 1 || v > max) {
        fprintf(stderr, "%s: %s must be an integer from 1 to %lu, not '%s'\n",
                prog, name, max, argv[i]);
        return -1;
    }
    *out = v;
    return 0;
}

/* Writes width x height grey levels as a binary PGM; 0, or -1 after printing
 * why. */
static inline int mandelbrot_write_pgm(const char *path, size_t width, size_t height,
                                       const unsigned char *pixels)
{
    FILE *f = fopen(path, "wb");
    size_t n = width * height;

    if (f == NULL) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    /* Binary greymap: a text header, then one byte per pixel. */
    int ok = fprintf(f, "P5\n%zu %zu\n255\n", width, height) > 0 &&
             fwrite(pixels, 1, n, f) == n;
    if (fclose(f) != 0 || !ok) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

#endif /* POOLMAP_EXAMPLE_MANDELBROT_H */
