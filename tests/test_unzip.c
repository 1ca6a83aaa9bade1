/*
 * test_unzip.c - pool_unzip copies every member into its column and nothing
 * else; pool_map_unzip gives the same columns as pool_map + pool_unzip.
 */
#include <stdbool.h>

#include "test_util.h"

#ifdef POOLMAP_TEST_CPU
#include "platform.h" /* POOL__CPU_*: what pool__cpu_read() says */

/* Linked with --wrap=pool__cpu_read (tests/CMakeLists.txt): with
 * POOLMAP_TEST_CPU=intel-avx, intel or other in the environment the library
 * takes this CPU for such a one, so that every way of streaming columns
 * runs on any machine. AVX is claimed only where the CPU has it. */
unsigned __real_pool__cpu_read(void);
unsigned __wrap_pool__cpu_read(void);
unsigned __wrap_pool__cpu_read(void)
{
    unsigned real = __real_pool__cpu_read();
    const char *cpu = getenv("POOLMAP_TEST_CPU");
    if (cpu == NULL)
        return real;
    if (strcmp(cpu, "intel-avx") == 0) {
        if ((real & POOL__CPU_AVX) == 0)
            fprintf(stderr, "test_unzip: no AVX here; the 32-byte stores are not run\n");
        return POOL__CPU_INTEL | (real & POOL__CPU_AVX);
    }
    if (strcmp(cpu, "intel") == 0)
        return POOL__CPU_INTEL;
    if (strcmp(cpu, "other") == 0)
        return 0;
    fprintf(stderr, "test_unzip: POOLMAP_TEST_CPU=%s: not intel-avx, intel or other\n", cpu);
    abort();
}
#endif

#define GUARD_BYTES 64 /* sentinel bytes before and after every column */

static const size_t pool_specs[] = { TU_NULL_POOL, 1, 2, 4 };
static const size_t item_counts[] = { 0, 1, 2, 97, 100003 };

/* ------------------------------------------------------------------------ */
/* Guarded columns                                                          */
/* ------------------------------------------------------------------------ */

/* n*size bytes for a column, with GUARD_BYTES of sentinel on each side. */
static void *guarded_new(size_t n, size_t size)
{
    unsigned char *p = tu_sentinel_alloc(n * size + 2 * GUARD_BYTES);

    return p + GUARD_BYTES;
}

static void guarded_free(void *dst)
{
    if (dst != NULL)
        tu_free((unsigned char *)dst - GUARD_BYTES);
}

/* Gives each column a fresh guarded dst. */
static void columns_alloc(pool_column *cols, size_t ncols, size_t n)
{
    size_t k;

    for (k = 0; k < ncols; k++)
        cols[k].dst = guarded_new(n, cols[k].size);
}

static void columns_free(pool_column *cols, size_t ncols)
{
    size_t k;

    for (k = 0; k < ncols; k++) {
        guarded_free(cols[k].dst);
        cols[k].dst = NULL;
    }
}

/* Asserts column k holds member (offset, size) of every tuple, and that
 * the guards on both sides are intact. */
static void assert_column(const void *tuples, size_t tuple_size, size_t n,
                          const pool_column *col, size_t k)
{
    const unsigned char *t = tuples, *d = col->dst;
    size_t i;

    for (i = 0; i < n; i++)
        if (memcmp(d + i * col->size, t + i * tuple_size + col->offset,
                   col->size) != 0)
            fail_msg("%s: column %zu (offset %zu, size %zu) element %zu differs",
                     tu_where_buf(), k, col->offset, col->size, i);
    tu_assert_untouched(d - GUARD_BYTES, GUARD_BYTES, "guard before column");
    tu_assert_untouched(d + n * col->size, GUARD_BYTES, "guard after column");
}

static void assert_columns(const void *tuples, size_t tuple_size, size_t n,
                           const pool_column *cols, size_t ncols)
{
    size_t k;

    for (k = 0; k < ncols; k++)
        assert_column(tuples, tuple_size, n, &cols[k], k);
}

/*
 * For every pool and n: fills n tuples with fill(), unzips them into fresh
 * guarded columns laid out as `layout` and checks every column.
 */
static void sweep_unzip(const char *what, size_t tuple_size,
                        void (*fill)(void *tuple, size_t i),
                        const pool_column *layout, size_t ncols,
                        const size_t *ns, size_t nns)
{
    pool_column *cols = tu_malloc(ncols * sizeof *cols);
    size_t p, k, i;

    assert_non_null(cols);
    for (k = 0; k < nns; k++) {
        unsigned char *tuples = tu_malloc(ns[k] * tuple_size + 1);

        assert_non_null(tuples);
        memset(tuples, 0, ns[k] * tuple_size);
        for (i = 0; i < ns[k]; i++)
            fill(tuples + i * tuple_size, i);
        for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
            pool_t *pool = tu_pool_open(pool_specs[p]);

            tu_where("%s, %s, n=%zu", what, tu_pool_name(pool_specs[p]), ns[k]);
            memcpy(cols, layout, ncols * sizeof *cols);
            columns_alloc(cols, ncols, ns[k]);
            TU_ASSERT_EQ(pool_unzip(pool, tuples, tuple_size, ns[k], cols,
                                    ncols), 0);
            assert_columns(tuples, tuple_size, ns[k], cols, ncols);
            columns_free(cols, ncols);
            pool_destroy(pool);
        }
        tu_free(tuples);
    }
    tu_free(cols);
}

/* ------------------------------------------------------------------------ */
/* Members of 1, 2, 3, 8 and 24 bytes                                       */
/* ------------------------------------------------------------------------ */

typedef struct mixed {
    uint8_t u8;
    char c3[3];
    uint16_t u16;
    double d;
    char c24[24];
} mixed;

static void fill_mixed(void *tuple, size_t i)
{
    mixed *m = tuple;
    size_t k;

    m->u8 = (uint8_t)(i * 7);
    for (k = 0; k < 3; k++)
        m->c3[k] = (char)('a' + (i + k) % 26);
    m->u16 = (uint16_t)(i * 31 + 1);
    m->d = (double)i * 1.25 - 3.0;
    for (k = 0; k < 24; k++)
        m->c24[k] = (char)(i * 13 + k);
}

static void unzip_members_of_1_2_3_8_24_bytes_copy_every_element(void **state)
{
    pool_column layout[5];

    (void)state;
    layout[0] = POOL_COLUMN(mixed, u8, NULL);
    layout[1] = POOL_COLUMN(mixed, c3, NULL);
    layout[2] = POOL_COLUMN(mixed, u16, NULL);
    layout[3] = POOL_COLUMN(mixed, d, NULL);
    layout[4] = POOL_COLUMN(mixed, c24, NULL);
    sweep_unzip("mixed members", sizeof(mixed), fill_mixed, layout, 5,
                item_counts, TU_ARRAY_LEN(item_counts));
}

/* The memcmp in assert_column is the contract; this checks the typed view. */
static void unzip_typed_columns_equal_struct_members(void **state)
{
    size_t n = 1009, p, i;
    mixed *t = tu_malloc(n * sizeof *t);
    uint8_t *u8 = tu_malloc(n);
    char (*c3)[3] = tu_malloc(n * 3);
    uint16_t *u16 = tu_malloc(n * sizeof *u16);
    double *d = tu_malloc(n * sizeof *d);
    char (*c24)[24] = tu_malloc(n * 24);

    (void)state;
    assert_true(t && u8 && c3 && u16 && d && c24);
    for (i = 0; i < n; i++)
        fill_mixed(&t[i], i);
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);
        pool_column cols[5] = {
            POOL_COLUMN(mixed, u8, u8), POOL_COLUMN(mixed, c3, c3),
            POOL_COLUMN(mixed, u16, u16), POOL_COLUMN(mixed, d, d),
            POOL_COLUMN(mixed, c24, c24)
        };

        tu_where("typed columns, %s", tu_pool_name(pool_specs[p]));
        memset(u8, 0, n);
        memset(c3, 0, n * 3);
        memset(u16, 0, n * sizeof *u16);
        memset(d, 0, n * sizeof *d);
        memset(c24, 0, n * 24);
        TU_ASSERT_EQ(pool_unzip(pool, t, sizeof *t, n, cols, 5), 0);
        for (i = 0; i < n; i++) {
            TU_ASSERT_EQ(u8[i], t[i].u8);
            TU_ASSERT_TRUE(memcmp(c3[i], t[i].c3, 3) == 0);
            TU_ASSERT_EQ(u16[i], t[i].u16);
            TU_ASSERT_TRUE(d[i] == t[i].d);
            TU_ASSERT_TRUE(memcmp(c24[i], t[i].c24, 24) == 0);
        }
        pool_destroy(pool);
    }
    tu_free(t);
    tu_free(u8);
    tu_free(c3);
    tu_free(u16);
    tu_free(d);
    tu_free(c24);
}

/* ------------------------------------------------------------------------ */
/* Many columns, odd sizes                                                  */
/* ------------------------------------------------------------------------ */

#define WIDE 64

static void fill_wide(void *tuple, size_t i)
{
    unsigned char *b = tuple;
    size_t k;

    for (k = 0; k < WIDE; k++)
        b[k] = (unsigned char)(i * 131 + k * 7 + (i >> 8));
}

static void unzip_64_single_byte_columns_of_64_byte_tuple(void **state)
{
    pool_column layout[WIDE];
    size_t k;

    (void)state;
    for (k = 0; k < WIDE; k++) {
        layout[k].offset = k;
        layout[k].size = 1;
        layout[k].dst = NULL;
    }
    sweep_unzip("64 one-byte columns", WIDE, fill_wide, layout, WIDE,
                item_counts, TU_ARRAY_LEN(item_counts));
}

/* A 29-byte tuple: columns at odd offsets, of odd sizes, the whole tuple,
 * its last byte, and the same bytes into two columns. */
static void fill_29(void *tuple, size_t i)
{
    unsigned char *b = tuple;
    size_t k;

    for (k = 0; k < 29; k++)
        b[k] = (unsigned char)(i * 17 + k * 29 + (i >> 7));
}

static void unzip_odd_sizes_odd_offsets_and_repeated_members(void **state)
{
    static const pool_column layout[] = {
        { 0, 29, NULL }, { 3, 5, NULL }, { 9, 7, NULL }, { 28, 1, NULL },
        { 1, 16, NULL }, { 3, 5, NULL }, { 12, 0, NULL }, { 16, 13, NULL },
    };

    (void)state;
    sweep_unzip("29-byte tuples", 29, fill_29, layout, TU_ARRAY_LEN(layout),
                item_counts, TU_ARRAY_LEN(item_counts));
}

static void pool_column_macro_gives_offset_size_and_dst(void **state)
{
    char buf[1];
    pool_column c;

    (void)state;
    c = POOL_COLUMN(mixed, u8, buf);
    assert_int_equal(c.offset, offsetof(mixed, u8));
    assert_int_equal(c.size, 1);
    assert_ptr_equal(c.dst, buf);
    c = POOL_COLUMN(mixed, c3, buf);
    assert_int_equal(c.offset, offsetof(mixed, c3));
    assert_int_equal(c.size, 3);
    c = POOL_COLUMN(mixed, u16, NULL);
    assert_int_equal(c.offset, offsetof(mixed, u16));
    assert_int_equal(c.size, 2);
    assert_null(c.dst);
    c = POOL_COLUMN(mixed, d, buf);
    assert_int_equal(c.offset, offsetof(mixed, d));
    assert_int_equal(c.size, 8);
    c = POOL_COLUMN(mixed, c24, buf);
    assert_int_equal(c.offset, offsetof(mixed, c24));
    assert_int_equal(c.size, 24);
}

/* ------------------------------------------------------------------------ */
/* pool_map_unzip                                                           */
/* ------------------------------------------------------------------------ */

/* The header's calc_stuff: x -> {2x, 3x, 4x}, here of three types. */
typedef struct stuff {
    int64_t x2;
    double x3;
    int32_t x4;
} stuff;

typedef struct stuff_run {
    const int32_t *in;
    size_t n;
    atomic_uint *count;
    atomic_uint stray;      /* in pointer not an element of in */
    atomic_uint misaligned; /* scratch tuple not aligned for a stuff */
    int check_align;        /* out is pool_map_unzip's scratch tuple */
} stuff_run;

static int calc_stuff(void *ctx, const void *in, void *out)
{
    stuff_run *r = ctx;
    size_t i = tu_index_of(r->in, sizeof *r->in, r->n, in);
    int32_t x = *(const int32_t *)in;
    stuff *s = out;

    if (i == SIZE_MAX) {
        tu_bump(&r->stray);
        return 0;
    }
    if (r->check_align && (uintptr_t)out % _Alignof(stuff) != 0)
        tu_bump(&r->misaligned);
    tu_bump(&r->count[i]);
    s->x2 = 2 * (int64_t)x;
    s->x3 = 3.0 * x;
    s->x4 = 4 * x;
    return 0;
}

static void stuff_layout(pool_column cols[3])
{
    cols[0] = POOL_COLUMN(stuff, x2, NULL);
    cols[1] = POOL_COLUMN(stuff, x3, NULL);
    cols[2] = POOL_COLUMN(stuff, x4, NULL);
}

/* One pool_map_unzip against pool_map + pool_unzip on the same input. */
static void check_map_unzip(pool_t *pool, stuff_run *r, size_t n,
                            pool_opts *opts)
{
    pool_column fused[3], split[3];
    stuff *tuples = tu_malloc((n ? n : 1) * sizeof *tuples);
    size_t k, i;

    assert_non_null(tuples);
    r->n = n;
    stuff_layout(fused);
    stuff_layout(split);
    columns_alloc(fused, 3, n);
    columns_alloc(split, 3, n);
    tu_counts_reset(r->count, n);
    atomic_store(&r->stray, 0);
    atomic_store(&r->misaligned, 0);
    if (opts)
        opts->failed_index = 99;

    r->check_align = 1;
    TU_ASSERT_EQ(pool_map_unzip(pool, calc_stuff, r, r->in, sizeof *r->in,
                                sizeof(stuff), n, fused, 3, opts), 0);
    TU_ASSERT_EQ(atomic_load(&r->stray), 0);
    TU_ASSERT_EQ(atomic_load(&r->misaligned), 0);
    tu_assert_counts(r->count, 0, n, 1, "item");
    if (opts)
        TU_ASSERT_EQ(opts->failed_index, POOL_NO_INDEX);

    memset(tuples, 0, n * sizeof *tuples);
    r->check_align = 0;
    TU_ASSERT_EQ(pool_map(pool, calc_stuff, r, r->in, sizeof *r->in, tuples,
                          sizeof *tuples, n), 0);
    TU_ASSERT_EQ(pool_unzip(pool, tuples, sizeof *tuples, n, split, 3), 0);

    for (k = 0; k < 3; k++) {
        tu_assert_untouched((char *)fused[k].dst - GUARD_BYTES, GUARD_BYTES,
                            "guard before fused column");
        tu_assert_untouched((char *)fused[k].dst + n * fused[k].size,
                            GUARD_BYTES, "guard after fused column");
        if (n > 0 && memcmp(fused[k].dst, split[k].dst, n * fused[k].size) != 0)
            fail_msg("%s: fused column %zu differs from map + unzip",
                     tu_where_buf(), k);
    }
    for (i = 0; i < n; i++) {
        int32_t x = r->in[i];

        if (((int64_t *)fused[0].dst)[i] != 2 * (int64_t)x ||
            ((double *)fused[1].dst)[i] != 3.0 * x ||
            ((int32_t *)fused[2].dst)[i] != 4 * x)
            fail_msg("%s: item %zu has wrong columns", tu_where_buf(), i);
    }
    columns_free(fused, 3);
    columns_free(split, 3);
    tu_free(tuples);
}

static void map_unzip_matches_map_then_unzip(void **state)
{
    static const size_t chunks[] = { SIZE_MAX /* opts NULL */, 0, 1, 7 };
    size_t nmax = 100003, p, k, c;
    int32_t *in = tu_malloc(nmax * sizeof *in);
    stuff_run r;

    (void)state;
    assert_non_null(in);
    for (k = 0; k < nmax; k++)
        in[k] = (int32_t)(k * 2654435761u) / 4; /* no overflow at 4x */
    r.in = in;
    r.count = tu_counts_new(nmax);
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);

        for (k = 0; k < TU_ARRAY_LEN(item_counts); k++)
            for (c = 0; c < TU_ARRAY_LEN(chunks); c++) {
                pool_opts o = { chunks[c], POOL_NO_INDEX };

                tu_where("pool_map_unzip, %s, n=%zu, chunk %zu",
                         tu_pool_name(pool_specs[p]), item_counts[k], chunks[c]);
                check_map_unzip(pool, &r, item_counts[k],
                                chunks[c] == SIZE_MAX ? NULL : &o);
            }
        pool_destroy(pool);
    }
    tu_free(r.count);
    tu_free(in);
}

/* The header promises a scratch tuple "suitably aligned for any type". */
typedef struct align_run {
    atomic_uint calls;
    atomic_uint misaligned;
} align_run;

static int note_alignment(void *ctx, const void *in, void *out)
{
    align_run *r = ctx;

    (void)in;
    tu_bump(&r->calls);
    if ((uintptr_t)out % _Alignof(max_align_t) != 0)
        tu_bump(&r->misaligned);
    memset(out, 0x3C, 1);
    return 0;
}

static void map_unzip_scratch_tuple_is_aligned_for_any_type(void **state)
{
    static const size_t tuple_sizes[] = { 1, 3, 8, 12, 24, 40, 100,
                                          POOL_TUPLE_MAX };
    size_t n = 300, p, k;
    unsigned char dst[300];

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);

        for (k = 0; k < TU_ARRAY_LEN(tuple_sizes); k++) {
            pool_column col = { 0, 1, dst };
            align_run r;

            atomic_init(&r.calls, 0);
            atomic_init(&r.misaligned, 0);
            tu_where("scratch alignment, tuple_size %zu, %s", tuple_sizes[k],
                     tu_pool_name(pool_specs[p]));
            TU_ASSERT_EQ(pool_map_unzip(pool, note_alignment, &r, NULL, 0,
                                        tuple_sizes[k], n, &col, 1, NULL), 0);
            TU_ASSERT_EQ(atomic_load(&r.calls), n);
            TU_ASSERT_EQ(atomic_load(&r.misaligned), 0);
        }
        pool_destroy(pool);
    }
}

/* A tuple of POOL_TUPLE_MAX bytes: fn fills all of it, columns sample it. */
typedef struct big_run {
    size_t n;
    atomic_uint calls;
} big_run;

static int fill_big_tuple(void *ctx, const void *in, void *out)
{
    big_run *r = ctx;
    uint32_t x = *(const uint32_t *)in;
    unsigned char *b = out;
    size_t k;

    tu_bump(&r->calls);
    for (k = 0; k < POOL_TUPLE_MAX; k++)
        b[k] = (unsigned char)(x + k * 3);
    return 0;
}

static void map_unzip_fills_tuples_of_pool_tuple_max_bytes(void **state)
{
    static const pool_column layout[] = {
        { 0, 1, NULL }, { 2048, 8, NULL }, { POOL_TUPLE_MAX - 8, 8, NULL },
        { POOL_TUPLE_MAX - 1, 1, NULL }, { 1, 300, NULL },
    };
    size_t n = 1000, p, k, i;
    uint32_t *in = tu_malloc(n * sizeof *in);

    (void)state;
    assert_non_null(in);
    for (i = 0; i < n; i++)
        in[i] = (uint32_t)(i * 5);
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);
        pool_column cols[TU_ARRAY_LEN(layout)];
        big_run r;

        tu_where("tuple of POOL_TUPLE_MAX bytes, %s", tu_pool_name(pool_specs[p]));
        r.n = n;
        atomic_init(&r.calls, 0);
        memcpy(cols, layout, sizeof cols);
        columns_alloc(cols, TU_ARRAY_LEN(cols), n);
        TU_ASSERT_EQ(pool_map_unzip(pool, fill_big_tuple, &r, in, sizeof *in,
                                    POOL_TUPLE_MAX, n, cols, TU_ARRAY_LEN(cols),
                                    NULL), 0);
        TU_ASSERT_EQ(atomic_load(&r.calls), n);
        for (k = 0; k < TU_ARRAY_LEN(cols); k++) {
            const unsigned char *d = cols[k].dst;
            for (i = 0; i < n; i++) {
                size_t b;
                for (b = 0; b < cols[k].size; b++)
                    if (d[i * cols[k].size + b] !=
                        (unsigned char)(in[i] + (cols[k].offset + b) * 3))
                        fail_msg("%s: column %zu item %zu byte %zu wrong",
                                 tu_where_buf(), k, i, b);
            }
            tu_assert_untouched(d + n * cols[k].size, GUARD_BYTES,
                                "guard after column");
        }
        columns_free(cols, TU_ARRAY_LEN(cols));
        pool_destroy(pool);
    }
    tu_free(in);
}

/*
 * Columns of 64 MiB and more are written with streaming stores (src/map.c,
 * POOL__STREAM_BYTES); an unzip whose columns are all 8 bytes wide writes
 * them in one pass (scatter_fused). The same answer as cached stores, from
 * any chunk boundary, for an 8-byte column that starts off a 16-byte
 * boundary next to one that starts on it, empty columns first and among them, a
 * 4-byte column, an odd count, and the map-and-unzip with a failing item
 * (columns right below it), also into 8-byte columns only, which it writes
 * a tuple at a time (map_unzip_words).
 */
typedef struct wide {
    uint64_t a, b;
    uint32_t c, d;
} wide;

#define WIDE_N ((size_t)(64u << 20) / 16 + 4099) /* a, b: 16 bytes an item */

static uint64_t wide_a(size_t i) { return i * 0x9E3779B97F4A7C15u; }
static uint64_t wide_b(size_t i) { return ~(uint64_t)i; }
static uint32_t wide_c(size_t i) { return (uint32_t)(i * 2654435761u); }

static int wide_item(void *ctx, const void *in, void *out)
{
    size_t i = *(const uint32_t *)in, fail_at = *(const size_t *)ctx;
    wide *w = out;

    if (i == fail_at)
        return 7;
    w->a = wide_a(i);
    w->b = wide_b(i);
    w->c = wide_c(i);
    w->d = 0;
    return 0;
}

static void check_wide_columns(const uint64_t *a, const uint64_t *b, const uint32_t *c,
                               size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != wide_a(i) || b[i] != wide_b(i) || c[i] != wide_c(i))
            fail_msg("%s: item %zu of %zu wrong", tu_where_buf(), i, n);
}

static void columns_beyond_the_caches_come_out_right(void **state)
{
    static const size_t specs[] = { TU_NULL_POOL, 2 };
    size_t n = WIDE_N, p, i;
    wide *t = tu_malloc(n * sizeof *t);
    uint32_t *in = tu_malloc(n * sizeof *in);
    uint64_t *a_mem = tu_malloc((n + 1) * sizeof *a_mem);
    uint64_t *b = tu_malloc(n * sizeof *b);
    uint32_t *c = tu_malloc(n * sizeof *c);
    uint64_t *a = a_mem + ((uintptr_t)a_mem % 16 == 0); /* 8 past a 16-byte boundary */

    (void)state;
    for (i = 0; i < n; i++) {
        in[i] = (uint32_t)i;
        t[i].a = wide_a(i);
        t[i].b = wide_b(i);
        t[i].c = wide_c(i);
        t[i].d = 0;
    }
    for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
        pool_t *pool = tu_pool_open(specs[p]);
        pool_column cols[3] = {
            POOL_COLUMN(wide, a, a),
            POOL_COLUMN(wide, b, b),
            POOL_COLUMN(wide, c, c),
        };
        pool_opts o = POOL_OPTS_INIT;
        size_t fail_at = n / 2 + 3, no_fail = SIZE_MAX;

        tu_where("pool_unzip of %zu tuples, %s", n, tu_pool_name(specs[p]));
        memset(a, 0, n * sizeof *a);
        memset(b, 0, n * sizeof *b);
        memset(c, 0, n * sizeof *c);
        TU_ASSERT_EQ(pool_unzip(pool, t, sizeof *t, n, cols, 3), 0);
        check_wide_columns(a, b, c, n);

        /* Only 8-byte columns (and an empty one): the one-pass scatter. */
        pool_column cols8[4] = { { 0, 0, NULL }, POOL_COLUMN(wide, a, a), { 0, 0, NULL },
                                 POOL_COLUMN(wide, b, b) };
        tu_where("pool_unzip of %zu tuples into 8-byte columns, %s", n - 1,
                 tu_pool_name(specs[p]));
        memset(a, 0, n * sizeof *a);
        memset(b, 0, n * sizeof *b);
        TU_ASSERT_EQ(pool_unzip(pool, t, sizeof *t, n - 1, cols8, 4), 0);
        for (i = 0; i < n - 1; i++)
            if (a[i] != wide_a(i) || b[i] != wide_b(i))
                fail_msg("%s: item %zu wrong", tu_where_buf(), i);
        TU_ASSERT_EQ(a[n - 1], 0);
        TU_ASSERT_EQ(b[n - 1], 0);

        tu_where("pool_map_unzip of %zu items, %s", n, tu_pool_name(specs[p]));
        memset(a, 0, n * sizeof *a);
        memset(b, 0, n * sizeof *b);
        memset(c, 0, n * sizeof *c);
        TU_ASSERT_EQ(pool_map_unzip(pool, wide_item, &no_fail, in, sizeof *in, sizeof(wide), n,
                                    cols, 3, NULL), 0);
        check_wide_columns(a, b, c, n);

        tu_where("pool_map_unzip of %zu items failing at %zu, %s", n, fail_at,
                 tu_pool_name(specs[p]));
        TU_ASSERT_EQ(pool_map_unzip(pool, wide_item, &fail_at, in, sizeof *in, sizeof(wide), n,
                                    cols, 3, &o), 7);
        TU_ASSERT_EQ(o.failed_index, fail_at);
        check_wide_columns(a, b, c, fail_at);

        tu_where("pool_map_unzip of %zu items into 8-byte columns, %s", n,
                 tu_pool_name(specs[p]));
        memset(a, 0, n * sizeof *a);
        memset(b, 0, n * sizeof *b);
        TU_ASSERT_EQ(pool_map_unzip(pool, wide_item, &no_fail, in, sizeof *in, sizeof(wide),
                                    n - 1, cols8, 4, NULL), 0);
        for (i = 0; i < n - 1; i++)
            if (a[i] != wide_a(i) || b[i] != wide_b(i))
                fail_msg("%s: item %zu wrong", tu_where_buf(), i);
        TU_ASSERT_EQ(a[n - 1], 0);
        TU_ASSERT_EQ(b[n - 1], 0);

        tu_where("pool_map_unzip of %zu items into 8-byte columns failing at %zu, %s", n,
                 fail_at, tu_pool_name(specs[p]));
        memset(a, 0, n * sizeof *a);
        memset(b, 0, n * sizeof *b);
        o.failed_index = 0;
        TU_ASSERT_EQ(pool_map_unzip(pool, wide_item, &fail_at, in, sizeof *in, sizeof(wide), n,
                                    cols8, 4, &o), 7);
        TU_ASSERT_EQ(o.failed_index, fail_at);
        for (i = 0; i < fail_at; i++)
            if (a[i] != wide_a(i) || b[i] != wide_b(i))
                fail_msg("%s: item %zu wrong", tu_where_buf(), i);
        TU_ASSERT_EQ(a[fail_at], 0); /* the failing item's tuple is not written */
        TU_ASSERT_EQ(b[fail_at], 0);
        pool_destroy(pool);
    }
    tu_free(c);
    tu_free(b);
    tu_free(a_mem);
    tu_free(in);
    tu_free(t);
}

/*
 * Streamed columns of 8-byte members are written in one pass, or on
 * Intel's CPUs in blocks of tuples, one column after the other, in 16-byte
 * stores or, with AVX, 32-byte ones, the usual tuples of two, three or four
 * words cut into as many columns by loops of their own (src/map.c,
 * stream_blocks). Whichever way this CPU takes, and under POOLMAP_TEST_CPU
 * each of the others (see above): the same columns, for tuples of 16, 24
 * and 32 bytes, columns starting at every 8-byte offset within 32 bytes,
 * empty columns among them, an odd count, from a pool of 1 (one call of the
 * whole range) and pools of 2 and 3 (chunks that start anywhere), and not
 * a byte written around a column.
 */
#define WORDS_N ((size_t)(64u << 20) / 16 + 4099) /* streamed with 2 columns */

static uint64_t word_v(size_t i, size_t j)
{
    return (uint64_t)i * 0x9E3779B97F4A7C15u + j;
}

/* A column of n words in `mem` (WORDS_BYTES(n) bytes), starting `misalign`
 * bytes past a 32-byte boundary with GUARD_BYTES of sentinel on each side
 * (as guarded_new's, checked by assert_column). */
#define WORDS_BYTES(n) ((n) * sizeof(uint64_t) + 2 * GUARD_BYTES + 32)
static void *guarded_at(unsigned char *mem, size_t n, size_t misalign)
{
    unsigned char *col = mem + GUARD_BYTES;
    memset(mem, TU_SENTINEL, WORDS_BYTES(n));
    while ((uintptr_t)col % 32 != misalign)
        col++;
    return col;
}

static void streamed_word_columns_come_out_right_at_every_alignment(void **state)
{
    static const size_t specs[] = { 1, 2, 3 };
    /* Per layout: words a tuple, the member each column takes (NONE: an
     * empty column) and where its first word sits past a 32-byte boundary. */
    enum { NONE = 9 };
    static const struct {
        size_t words, ncols, member[4], misalign[4];
    } layouts[] = {
        { 2, 2, { 0, 1 }, { 8, 24 } },
        { 2, 2, { 1, 0 }, { 16, 0 } },
        { 3, 3, { 0, 1, 2 }, { 8, 16, 24 } },
        { 3, 3, { 2, 0, 1 }, { 0, 24, 8 } },
        { 3, 4, { NONE, 2, NONE, 0 }, { 0, 16, 0, 8 } },
        { 4, 4, { 0, 1, 2, 3 }, { 24, 8, 16, 0 } },
        { 4, 3, { 3, NONE, 1 }, { 16, 0, 8 } },
    };
    size_t n = WORDS_N, filled = 0;
    uint64_t *t = tu_malloc(n * 4 * sizeof *t);
    unsigned char *mem[4];

    (void)state;
    for (size_t k = 0; k < 4; k++)
        mem[k] = tu_malloc(WORDS_BYTES(n));
    for (size_t l = 0; l < TU_ARRAY_LEN(layouts); l++) {
        size_t w = layouts[l].words;
        if (filled != w) {
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < w; j++)
                    t[i * w + j] = word_v(i, j);
            filled = w;
        }
        for (size_t p = 0; p < TU_ARRAY_LEN(specs); p++) {
            pool_t *pool = tu_pool_open(specs[p]);
            pool_column cols[4];
            for (size_t k = 0; k < layouts[l].ncols; k++) {
                size_t m = layouts[l].member[k];
                cols[k] = m == NONE ? (pool_column){ 0, 0, NULL }
                                    : (pool_column){ m * sizeof *t, sizeof *t,
                                                     guarded_at(mem[k], n,
                                                                layouts[l].misalign[k]) };
            }
            tu_where("pool_unzip of %zu tuples, layout %zu, %s", n, l, tu_pool_name(specs[p]));
            TU_ASSERT_EQ(pool_unzip(pool, t, w * sizeof *t, n, cols, layouts[l].ncols), 0);
            for (size_t k = 0; k < layouts[l].ncols; k++)
                if (cols[k].size != 0)
                    assert_column(t, w * sizeof *t, n, &cols[k], k);
            pool_destroy(pool);
        }
    }
    for (size_t k = 0; k < 4; k++)
        tu_free(mem[k]);
    tu_free(t);
}

/*
 * Where every streamed 8-byte column's next two members share 16 aligned
 * bytes, map_unzip_words runs items two by two and writes each column a
 * pair at a time; a chunk that starts off such a pair runs one item first.
 * From any chunk start, with the columns on 16 bytes and 8 past, whichever
 * item of a pair fails: the columns below it are right and its own member
 * is not written. A tuple of more than half POOL_TUPLE_MAX bytes (two
 * scratch tuples do not fit) is written a member at a time, as right.
 */
typedef struct big_pair {
    uint64_t a, b;
    char pad[POOL_TUPLE_MAX / 2];
} big_pair;

#define BIG_N ((size_t)(64u << 20) / 16 + 1) /* a, b: 16 bytes an item */

static int big_item(void *ctx, const void *in, void *out)
{
    size_t i = *(const uint32_t *)in, fail_at = *(const size_t *)ctx;
    big_pair *t = out;

    if (i == fail_at)
        return 9;
    t->a = wide_a(i);
    t->b = wide_b(i);
    return 0;
}

/* Checks a and b against wide_a/wide_b below `upto`, and that a[zero_at] and
 * b[zero_at] are 0 unless zero_at is SIZE_MAX. */
static void check_pair_columns(const uint64_t *a, const uint64_t *b, size_t upto, size_t zero_at)
{
    for (size_t i = 0; i < upto; i++)
        if (a[i] != wide_a(i) || b[i] != wide_b(i))
            fail_msg("%s: item %zu wrong", tu_where_buf(), i);
    if (zero_at != SIZE_MAX && (a[zero_at] != 0 || b[zero_at] != 0))
        fail_msg("%s: the failing item %zu was written", tu_where_buf(), zero_at);
}

static void map_unzip_streams_pairs_from_any_start_and_stops_at_either_item(void **state)
{
    size_t n = WIDE_N, p, shift;
    uint32_t *in = tu_malloc(n * sizeof *in);
    uint64_t *a_mem = tu_malloc((n + 2) * sizeof *a_mem);
    uint64_t *b_mem = tu_malloc((n + 2) * sizeof *b_mem);

    (void)state;
    for (size_t i = 0; i < n; i++)
        in[i] = (uint32_t)i;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);
        for (shift = 0; shift < 2; shift++) {
            /* Both columns on 16 bytes (shift 0), or both 8 past (shift 1). */
            uint64_t *a = a_mem + ((uintptr_t)a_mem % 16 != 0) + shift;
            uint64_t *b = b_mem + ((uintptr_t)b_mem % 16 != 0) + shift;
            pool_column cols[2] = { POOL_COLUMN(wide, a, a), POOL_COLUMN(wide, b, b) };
            size_t fails[] = { SIZE_MAX, n / 2 + 4, n / 2 + 7, n - 1 };
            for (size_t f = 0; f < TU_ARRAY_LEN(fails); f++) {
                pool_opts o = POOL_OPTS_INIT;
                size_t fail_at = fails[f];
                tu_where("pool_map_unzip of %zu items, columns %zu bytes past 16, failing at "
                         "%zu, %s",
                         n, 8 * shift, fail_at, tu_pool_name(pool_specs[p]));
                memset(a, 0, n * sizeof *a);
                memset(b, 0, n * sizeof *b);
                int rc = pool_map_unzip(pool, wide_item, &fail_at, in, sizeof *in, sizeof(wide),
                                        n, cols, 2, &o);
                if (fail_at == SIZE_MAX) {
                    TU_ASSERT_EQ(rc, 0);
                    check_pair_columns(a, b, n, SIZE_MAX);
                } else {
                    TU_ASSERT_EQ(rc, 7);
                    TU_ASSERT_EQ(o.failed_index, fail_at);
                    check_pair_columns(a, b, fail_at, fail_at);
                }
            }
        }
        pool_destroy(pool);
    }

    /* Tuples too big for two scratch tuples: one member at a time. */
    size_t big_n = BIG_N, fail_at = BIG_N / 2 + 1, no_fail = SIZE_MAX;
    uint64_t *a = a_mem + ((uintptr_t)a_mem % 16 != 0);
    uint64_t *b = b_mem + ((uintptr_t)b_mem % 16 != 0);
    pool_column cols[2] = { POOL_COLUMN(big_pair, a, a), POOL_COLUMN(big_pair, b, b) };
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);
        pool_opts o = POOL_OPTS_INIT;
        tu_where("pool_map_unzip of %zu tuples of %zu bytes, %s", big_n, sizeof(big_pair),
                 tu_pool_name(pool_specs[p]));
        memset(a, 0, big_n * sizeof *a);
        memset(b, 0, big_n * sizeof *b);
        TU_ASSERT_EQ(pool_map_unzip(pool, big_item, &no_fail, in, sizeof *in, sizeof(big_pair),
                                    big_n, cols, 2, NULL), 0);
        check_pair_columns(a, b, big_n, SIZE_MAX);
        tu_where("pool_map_unzip of %zu tuples of %zu bytes failing at %zu, %s", big_n,
                 sizeof(big_pair), fail_at, tu_pool_name(pool_specs[p]));
        memset(a, 0, big_n * sizeof *a);
        memset(b, 0, big_n * sizeof *b);
        TU_ASSERT_EQ(pool_map_unzip(pool, big_item, &fail_at, in, sizeof *in, sizeof(big_pair),
                                    big_n, cols, 2, &o), 9);
        TU_ASSERT_EQ(o.failed_index, fail_at);
        check_pair_columns(a, b, fail_at, fail_at);
        pool_destroy(pool);
    }
    tu_free(b_mem);
    tu_free(a_mem);
    tu_free(in);
}

/*
 * Streamed 8-byte columns are written a tuple at a time for up to 8
 * columns (map_unzip_words, src/map.c) and in blocks beyond: 8 and 9
 * columns of 64 MiB and more in all give the same answer.
 */
#define NINE 9
typedef struct nine {
    uint64_t v[NINE];
} nine;

#define NINE_N ((size_t)(64u << 20) / 64 + 3) /* 8 columns: 64 bytes an item */

static uint64_t nine_value(size_t i, size_t k) { return i * 0x9E3779B97F4A7C15u + k; }

static int nine_item(void *ctx, const void *in, void *out)
{
    size_t i = *(const uint32_t *)in;
    nine *t = out;
    (void)ctx;
    for (size_t k = 0; k < NINE; k++)
        t->v[k] = nine_value(i, k);
    return 0;
}

static void map_unzip_into_eight_and_nine_streamed_columns(void **state)
{
    size_t n = NINE_N, i, k, p;
    uint32_t *in = tu_malloc(n * sizeof *in);
    uint64_t *mem = tu_malloc(NINE * n * sizeof *mem);

    (void)state;
    for (i = 0; i < n; i++)
        in[i] = (uint32_t)i;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);
        for (size_t nc = NINE - 1; nc <= NINE; nc++) {
            pool_column cols[NINE];
            for (k = 0; k < nc; k++) {
                cols[k].offset = offsetof(nine, v) + k * sizeof(uint64_t);
                cols[k].size = sizeof(uint64_t);
                cols[k].dst = mem + k * n;
            }
            tu_where("pool_map_unzip of %zu items into %zu 8-byte columns, %s", n, nc,
                     tu_pool_name(pool_specs[p]));
            memset(mem, 0, NINE * n * sizeof *mem);
            TU_ASSERT_EQ(pool_map_unzip(pool, nine_item, NULL, in, sizeof *in, sizeof(nine), n,
                                        cols, nc, NULL), 0);
            for (k = 0; k < NINE; k++)
                for (i = 0; i < n; i++)
                    if (mem[k * n + i] != (k < nc ? nine_value(i, k) : 0))
                        fail_msg("%s: column %zu item %zu wrong", tu_where_buf(), k, i);
        }
        pool_destroy(pool);
    }
    tu_free(mem);
    tu_free(in);
}

/*
 * The pair loop of map_unzip_words has its own unrolled form for 1, 2, 3
 * and 4 columns and one for any other count up to 8, for 8-byte members
 * streamed (64 MiB and more in all) or cached and for 4-byte ones cached:
 * 1 to 5 columns of either member size come out right, 16-byte aligned or
 * one member past, and a failure at either item of a pair keeps every
 * member below it and writes none of its own.
 */
#define FIVE 5

/* Member i of a column of `width`-byte members (4 or 8), and what the
 * five tuples put there for column k: nine_value, cut to the width. */
static uint64_t member_at(const char *col, size_t width, size_t i)
{
    if (width == 8) {
        uint64_t v;
        memcpy(&v, col + 8 * i, 8);
        return v;
    }
    uint32_t v;
    memcpy(&v, col + 4 * i, 4);
    return v;
}

static uint64_t five_value(size_t i, size_t k, size_t width)
{
    return width == 8 ? nine_value(i, k) : (uint32_t)nine_value(i, k);
}

typedef struct five {
    uint64_t v[FIVE];
} five;

static int five_item(void *ctx, const void *in, void *out)
{
    size_t i = *(const uint32_t *)in, fail_at = *(const size_t *)ctx;
    five *t = out;
    if (i == fail_at)
        return 5;
    for (size_t k = 0; k < FIVE; k++)
        t->v[k] = five_value(i, k, 8);
    return 0;
}

/* The same with 4-byte members (floats, 32-bit integers): cached only;
 * streamed ones go by blocks. */
typedef struct five32 {
    uint32_t v[FIVE];
} five32;

static int five32_item(void *ctx, const void *in, void *out)
{
    size_t i = *(const uint32_t *)in, fail_at = *(const size_t *)ctx;
    five32 *t = out;
    if (i == fail_at)
        return 5;
    for (size_t k = 0; k < FIVE; k++)
        t->v[k] = (uint32_t)five_value(i, k, 4);
    return 0;
}

/* pool_map_unzip of n five_items (width 8) or five32_items (width 4) into
 * the first nc members, columns `shift` members past 16-byte alignment in
 * mem, from every pool, not failing, and unless `once`, failing at an even
 * and an odd index. */
static void check_five_columns(const uint32_t *in, uint64_t *mem, size_t n, size_t nc,
                               size_t shift, size_t width, bool once)
{
    char *base = (char *)(mem + ((uintptr_t)mem % 16 != 0)) + width * shift;
    size_t stride = n + 1 + (n + 1) % 2; /* members; keeps every column's alignment */
    size_t fails[] = { SIZE_MAX, n / 2 & ~(size_t)1, (n / 2 & ~(size_t)1) + 3 };
    size_t nfails = once ? 1 : TU_ARRAY_LEN(fails);
    pool_column cols[FIVE];
    for (size_t k = 0; k < nc; k++) {
        cols[k].offset = k * width;
        cols[k].size = width;
        cols[k].dst = base + k * stride * width;
    }
    for (size_t p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);
        for (size_t f = 0; f < nfails; f++) {
            pool_opts o = POOL_OPTS_INIT;
            size_t fail_at = fails[f], upto = fail_at == SIZE_MAX ? n : fail_at;
            tu_where("pool_map_unzip of %zu items into %zu %zu-byte columns %zu bytes past 16, "
                     "failing at %zu, %s",
                     n, nc, width, width * shift, fail_at, tu_pool_name(pool_specs[p]));
            memset(base, 0, nc * stride * width);
            int rc = width == 8 ? pool_map_unzip(pool, five_item, &fail_at, in, sizeof *in,
                                                 sizeof(five), n, cols, nc, &o)
                                : pool_map_unzip(pool, five32_item, &fail_at, in, sizeof *in,
                                                 sizeof(five32), n, cols, nc, &o);
            TU_ASSERT_EQ(rc, fail_at == SIZE_MAX ? 0 : 5);
            if (fail_at != SIZE_MAX)
                TU_ASSERT_EQ(o.failed_index, fail_at);
            for (size_t k = 0; k < nc; k++) {
                const char *col = base + k * stride * width;
                for (size_t i = 0; i <= upto && i < n; i++) {
                    uint64_t want = i < upto ? five_value(i, k, width) : 0;
                    if (member_at(col, width, i) != want)
                        fail_msg("%s: column %zu item %zu %s", tu_where_buf(), k, i,
                                 i < upto ? "wrong" : "(the failing item's) written");
                }
            }
        }
        pool_destroy(pool);
    }
}

static void map_unzip_into_one_to_five_columns_of_4_or_8_bytes_stops_at_either_item(
    void **state)
{
    size_t most = (size_t)(64u << 20) / 4 + 5; /* one column of 4-byte members */
    uint32_t *in = tu_malloc(most * sizeof *in);
    /* nc columns of n + 2 members at most, 64 MiB and a few members in all,
     * and a word of shift. */
    uint64_t *mem = tu_malloc(((size_t)(64u << 20) / 8 + 8 * FIVE) * sizeof *mem);

    (void)state;
    for (size_t i = 0; i < most; i++)
        in[i] = (uint32_t)i;
    for (size_t nc = 1; nc <= FIVE; nc++) {
        /* Below the streaming size, cached, both alignments; just past it. */
        for (size_t width = 4; width <= 8; width += 4) {
            check_five_columns(in, mem, 10007, nc, 0, width, false);
            check_five_columns(in, mem, 10007, nc, 1, width, false);
            /* Streamed: every count's loop, failures through one of them
             * (the failure code is the same for all; the sizes are big).
             * 4-byte members take the blocks, the same for any count. */
            if (width == 8 || nc == 3)
                check_five_columns(in, mem, (size_t)(64u << 20) / (width * nc) + 5, nc, 0,
                                   width, width == 4 || nc != 3);
        }
    }
    tu_free(mem);
    tu_free(in);
}

/*
 * pool_unzip writes columns all of 8-byte members or all of 4-byte ones, 1
 * to 8 of them, in one pass over the tuples while they come to less than 8
 * MiB in all, and block by block, column by column beyond: 1 to 5 columns
 * of either member size, on either side of that size, 16-byte aligned or
 * one member past, come out right.
 */
static void unzip_one_to_five_4_or_8_byte_columns_either_side_of_the_one_pass_size(
    void **state)
{
    size_t most = (size_t)(8u << 20) / 4 + 3;
    five *t = tu_malloc(((size_t)(8u << 20) / 8 + 3) * sizeof *t);
    five32 *t32 = tu_malloc(most * sizeof *t32);
    /* nc columns of n + 2 members at most, 8 MiB and a few members in all,
     * and a word of shift. */
    uint64_t *mem = tu_malloc(((size_t)(8u << 20) / 8 + 8 * FIVE) * sizeof *mem);

    (void)state;
    for (size_t i = 0; i < most; i++)
        for (size_t k = 0; k < FIVE; k++) {
            if (i < (size_t)(8u << 20) / 8 + 3)
                t[i].v[k] = five_value(i, k, 8);
            t32[i].v[k] = (uint32_t)five_value(i, k, 4);
        }
    for (size_t width = 4; width <= 8; width += 4) {
        for (size_t nc = 1; nc <= FIVE; nc++) {
            size_t sizes[] = { 1001, (size_t)(8u << 20) / (width * nc) - 1,
                               (size_t)(8u << 20) / (width * nc) + 3 };
            for (size_t z = 0; z < TU_ARRAY_LEN(sizes); z++) {
                /* One member past alignment at the small size only: the
                 * big ones are there for the size, and slow under TSan. */
                for (size_t shift = 0; shift < (z == 0 ? 2u : 1u); shift++) {
                    size_t n = sizes[z], stride = n + 1 + (n + 1) % 2; /* members */
                    char *base = (char *)(mem + ((uintptr_t)mem % 16 != 0)) + width * shift;
                    pool_column cols[FIVE];
                    for (size_t k = 0; k < nc; k++) {
                        cols[k].offset = k * width;
                        cols[k].size = width;
                        cols[k].dst = base + k * stride * width;
                    }
                    for (size_t p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
                        pool_t *pool = tu_pool_open(pool_specs[p]);
                        tu_where("pool_unzip of %zu tuples into %zu %zu-byte columns %zu bytes "
                                 "past 16, %s",
                                 n, nc, width, width * shift, tu_pool_name(pool_specs[p]));
                        memset(base, 0, nc * stride * width);
                        TU_ASSERT_EQ(width == 8 ? pool_unzip(pool, t, sizeof *t, n, cols, nc)
                                                : pool_unzip(pool, t32, sizeof *t32, n, cols, nc),
                                     0);
                        for (size_t k = 0; k < nc; k++) {
                            const char *col = base + k * stride * width;
                            for (size_t i = 0; i < n; i++) {
                                if (member_at(col, width, i) != five_value(i, k, width))
                                    fail_msg("%s: column %zu item %zu wrong", tu_where_buf(), k,
                                             i);
                            }
                        }
                        pool_destroy(pool);
                    }
                }
            }
        }
    }
    tu_free(mem);
    tu_free(t32);
    tu_free(t);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(unzip_members_of_1_2_3_8_24_bytes_copy_every_element),
        TU_TEST(unzip_typed_columns_equal_struct_members),
        TU_TEST(unzip_64_single_byte_columns_of_64_byte_tuple),
        TU_TEST(unzip_odd_sizes_odd_offsets_and_repeated_members),
        TU_TEST(pool_column_macro_gives_offset_size_and_dst),
        TU_TEST(map_unzip_matches_map_then_unzip),
        TU_TEST(map_unzip_fills_tuples_of_pool_tuple_max_bytes),
        TU_TEST(columns_beyond_the_caches_come_out_right),
        TU_TEST(streamed_word_columns_come_out_right_at_every_alignment),
        TU_TEST(map_unzip_into_eight_and_nine_streamed_columns),
        TU_TEST(map_unzip_streams_pairs_from_any_start_and_stops_at_either_item),
        TU_TEST(map_unzip_into_one_to_five_columns_of_4_or_8_bytes_stops_at_either_item),
        TU_TEST(unzip_one_to_five_4_or_8_byte_columns_either_side_of_the_one_pass_size),
        TU_TEST(map_unzip_scratch_tuple_is_aligned_for_any_type),
    };

    return TU_RUN(tests, argc, argv);
}
