/*
 * calc_stuff.c - the poolmap version, step for step, of this Python:
 *
 *     def calc_stuff(p):
 *         return p * 2, p * 3, p * 4
 *
 *     with multiprocessing.Pool(4) as pool:
 *         results = pool.map(calc_stuff, [i * offset for i in range(10)])
 *     output1, output2, output3 = zip(*results)
 *
 * and then the same three columns from pool_map_unzip(), which maps and
 * unzips in one pass without the intermediate results array.
 *
 * Exits 0 when every value is right, 1 otherwise.
 */
#include <poolmap.h>

#include <stdio.h>
#include <string.h>

#define N 10

/* The tuple calc_stuff returns: Python's (p*2, p*3, p*4). */
typedef struct triple {
    double a, b, c;
} triple;

/*
 * The callback: read one input element, write one output element, return 0.
 * It runs on any pool thread, so it writes only through `out`.
 */
static int calc_stuff(void *ctx, const void *in, void *out)
{
    (void)ctx; /* pool_map's ctx (NULL here): parameters shared by all items */
    double p = *(const double *)in;
    triple *t = out;

    t->a = p * 2;
    t->b = p * 3;
    t->c = p * 4;
    return 0;
}

static void print_column(const char *name, const double *col)
{
    printf("%s = (", name);
    for (size_t i = 0; i < N; i++)
        printf(i ? ", %g" : "%g", col[i]);
    printf(")\n");
}

/* Counts the values of the three columns that differ from the serial answer. */
static int check_columns(const char *what, const double *in,
                         const double *o1, const double *o2, const double *o3)
{
    int bad = 0;

    for (size_t i = 0; i < N; i++) {
        if (o1[i] != in[i] * 2 || o2[i] != in[i] * 3 || o3[i] != in[i] * 4) {
            fprintf(stderr, "%s: item %zu: got (%g, %g, %g), want (%g, %g, %g)\n",
                    what, i, o1[i], o2[i], o3[i], in[i] * 2, in[i] * 3, in[i] * 4);
            bad++;
        }
    }
    return bad;
}

int main(void)
{
    const double offset = 3.0;
    double inputs[N];
    triple results[N];
    double output1[N], output2[N], output3[N];
    int rc, bad = 0;

    /* [i * offset for i in range(10)] */
    for (size_t i = 0; i < N; i++)
        inputs[i] = (double)i * offset;

    /* with multiprocessing.Pool(4) as pool: */
    pool_t *pool = pool_create(4);
    if (pool == NULL) {
        perror("pool_create");
        return 1;
    }

    /* results = pool.map(calc_stuff, inputs) */
    rc = pool_map(pool, calc_stuff, NULL, inputs, sizeof inputs[0],
                  results, sizeof results[0], N);
    if (rc != 0) {
        fprintf(stderr, "pool_map: %s\n", strerror(rc));
        pool_destroy(pool);
        return 1;
    }

    /* output1, output2, output3 = zip(*results) */
    pool_column columns[] = {
        POOL_COLUMN(triple, a, output1),
        POOL_COLUMN(triple, b, output2),
        POOL_COLUMN(triple, c, output3),
    };
    rc = pool_unzip(pool, results, sizeof results[0], N,
                    columns, sizeof columns / sizeof columns[0]);
    if (rc != 0) {
        fprintf(stderr, "pool_unzip: %s\n", strerror(rc));
        pool_destroy(pool);
        return 1;
    }

    printf("pool_map + pool_unzip on %zu threads:\n", pool_size(pool));
    print_column("output1", output1);
    print_column("output2", output2);
    print_column("output3", output3);
    bad += check_columns("pool_map + pool_unzip", inputs, output1, output2, output3);

    /*
     * The same in one pass: each thread maps a block of items into a tuple
     * on its own stack and scatters it into the columns, so `results` is
     * never needed. The columns are cleared first to prove they are refilled.
     */
    memset(output1, 0, sizeof output1);
    memset(output2, 0, sizeof output2);
    memset(output3, 0, sizeof output3);
    rc = pool_map_unzip(pool, calc_stuff, NULL, inputs, sizeof inputs[0],
                        sizeof(triple), N,
                        columns, sizeof columns / sizeof columns[0], NULL);
    if (rc != 0) {
        fprintf(stderr, "pool_map_unzip: %s\n", strerror(rc));
        pool_destroy(pool);
        return 1;
    }

    printf("pool_map_unzip:\n");
    print_column("output1", output1);
    print_column("output2", output2);
    print_column("output3", output3);
    bad += check_columns("pool_map_unzip", inputs, output1, output2, output3);

    /* Leaving the `with` block: wait for the workers and free the pool. */
    pool_destroy(pool);

    if (bad != 0) {
        fprintf(stderr, "FAILED: %d wrong item(s)\n", bad);
        return 1;
    }
    printf("OK\n");
    return 0;
}
