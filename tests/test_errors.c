/*
 * test_errors.c - argument errors: each bad input returns its code before
 * any item runs, leaves every destination untouched and reports no failed
 * index; on a NULL pool and on a 2-thread pool alike.
 */
#include <errno.h>

#include "test_util.h"

#define N 64
#define HUGE_N (SIZE_MAX / 2 + 1) /* HUGE_N * 2 overflows size_t */

static const size_t pool_specs[] = { TU_NULL_POOL, 2 };

/* Everything a bad call might wrongly touch. */
typedef struct victim {
    atomic_uint calls;  /* callbacks run */
    uint32_t in[N];
    unsigned char out[N * 8];
    unsigned char col_a[N * 8];
    unsigned char col_b[N * 8];
    pool_opts opts;
} victim;

/* Returns a failure so that a call that should never have started stops
 * at its first item instead of looping over 2^63 of them. */
#define CALLED_ANYWAY 999

static int count_map(void *ctx, const void *in, void *out)
{
    (void)in;
    (void)out;
    tu_bump(&((victim *)ctx)->calls);
    return CALLED_ANYWAY;
}

/* opts_init: what failed_index starts as (POOL_NO_INDEX or a poison). */
static void victim_reset(victim *v, size_t opts_init)
{
    size_t i;

    atomic_init(&v->calls, 0);
    for (i = 0; i < N; i++)
        v->in[i] = (uint32_t)i;
    memset(v->out, TU_SENTINEL, sizeof v->out);
    memset(v->col_a, TU_SENTINEL, sizeof v->col_a);
    memset(v->col_b, TU_SENTINEL, sizeof v->col_b);
    v->opts.chunk = 0;
    v->opts.failed_index = opts_init;
}

/* Asserts nothing ran, nothing was written and no failure index was set. */
static void assert_untouched(victim *v)
{
    TU_ASSERT_EQ(atomic_load(&v->calls), 0);
    tu_assert_untouched(v->out, sizeof v->out, "out");
    tu_assert_untouched(v->col_a, sizeof v->col_a, "column a");
    tu_assert_untouched(v->col_b, sizeof v->col_b, "column b");
    TU_ASSERT_EQ(v->opts.failed_index, POOL_NO_INDEX);
}

/* One bad call: returns its status given the pool and the victim. */
typedef int (*bad_call)(pool_t *pool, victim *v);

/*
 * Runs `call` on every pool spec and asserts it returns `want` and touches
 * nothing. A call that passes opts (with_opts) runs twice: with failed_index
 * starting as POOL_NO_INDEX (it must stay so) and starting poisoned (an
 * argument error must still report POOL_NO_INDEX).
 */
static void expect_arg_error(const char *what, bad_call call, int want,
                             int with_opts)
{
    static const size_t starts[] = { POOL_NO_INDEX, 12345 };
    size_t p, s;

    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);

        for (s = 0; s < (with_opts ? TU_ARRAY_LEN(starts) : 1); s++) {
            victim v;

            tu_where("%s on %s, failed_index starting at %zu", what,
                     tu_pool_name(pool_specs[p]), starts[s]);
            victim_reset(&v, starts[s]);
            TU_ASSERT_EQ(call(pool, &v), want);
            assert_untouched(&v);
        }
        pool_destroy(pool);
    }
}

/* For calls without opts, and for calls that pass &v->opts. */
#define EXPECT_ARG_ERROR(call, want) expect_arg_error(#call, call, want, 0)
#define EXPECT_ARG_ERROR_EX(call, want) expect_arg_error(#call, call, want, 1)

/* ------------------------------------------------------------------------ */
/* pool_map                                                                 */
/* ------------------------------------------------------------------------ */

static int map_null_fn(pool_t *pool, victim *v)
{
    return pool_map(pool, NULL, v, v->in, 4, v->out, 4, N);
}

static int map_ex_null_fn(pool_t *pool, victim *v)
{
    return pool_map_ex(pool, NULL, v, v->in, 4, v->out, 4, N, &v->opts);
}

static int map_null_in(pool_t *pool, victim *v)
{
    return pool_map(pool, count_map, v, NULL, 4, v->out, 4, N);
}

static int map_ex_null_in(pool_t *pool, victim *v)
{
    return pool_map_ex(pool, count_map, v, NULL, 4, v->out, 4, N, &v->opts);
}

static int map_null_out(pool_t *pool, victim *v)
{
    return pool_map(pool, count_map, v, v->in, 4, NULL, 4, N);
}

static int map_ex_null_out(pool_t *pool, victim *v)
{
    return pool_map_ex(pool, count_map, v, v->in, 4, NULL, 4, N, &v->opts);
}

static int map_in_overflow(pool_t *pool, victim *v)
{
    return pool_map(pool, count_map, v, v->in, 2, v->out, 0, HUGE_N);
}

static int map_ex_in_overflow(pool_t *pool, victim *v)
{
    return pool_map_ex(pool, count_map, v, v->in, 2, v->out, 0, HUGE_N,
                       &v->opts);
}

static int map_out_overflow(pool_t *pool, victim *v)
{
    return pool_map(pool, count_map, v, v->in, 0, v->out, 2, HUGE_N);
}

static int map_ex_out_overflow(pool_t *pool, victim *v)
{
    return pool_map_ex(pool, count_map, v, v->in, 0, v->out, 2, HUGE_N,
                       &v->opts);
}

static int map_ex_big_overflow(pool_t *pool, victim *v)
{
    return pool_map_ex(pool, count_map, v, v->in, SIZE_MAX / 3, v->out, 1, 4,
                       &v->opts);
}

static void map_null_fn_is_einval(void **state)
{
    (void)state;
    EXPECT_ARG_ERROR(map_null_fn, EINVAL);
    EXPECT_ARG_ERROR_EX(map_ex_null_fn, EINVAL);
}

static void map_null_in_with_items_is_einval(void **state)
{
    (void)state;
    EXPECT_ARG_ERROR(map_null_in, EINVAL);
    EXPECT_ARG_ERROR_EX(map_ex_null_in, EINVAL);
}

static void map_null_out_with_items_is_einval(void **state)
{
    (void)state;
    EXPECT_ARG_ERROR(map_null_out, EINVAL);
    EXPECT_ARG_ERROR_EX(map_ex_null_out, EINVAL);
}

static void map_size_overflow_is_eoverflow(void **state)
{
    (void)state;
    EXPECT_ARG_ERROR(map_in_overflow, EOVERFLOW);
    EXPECT_ARG_ERROR_EX(map_ex_in_overflow, EOVERFLOW);
    EXPECT_ARG_ERROR(map_out_overflow, EOVERFLOW);
    EXPECT_ARG_ERROR_EX(map_ex_out_overflow, EOVERFLOW);
    EXPECT_ARG_ERROR_EX(map_ex_big_overflow, EOVERFLOW);
}

/* ------------------------------------------------------------------------ */
/* pool_for, pool_for_range                                                 */
/* ------------------------------------------------------------------------ */

static int for_null_fn(pool_t *pool, victim *v)
{
    return pool_for(pool, N, NULL, v);
}

static int for_ex_null_fn(pool_t *pool, victim *v)
{
    return pool_for_ex(pool, N, NULL, v, &v->opts);
}

static int range_null_fn(pool_t *pool, victim *v)
{
    return pool_for_range(pool, N, NULL, v);
}

static int range_ex_null_fn(pool_t *pool, victim *v)
{
    return pool_for_range_ex(pool, N, NULL, v, &v->opts);
}

static void for_null_fn_is_einval(void **state)
{
    (void)state;
    EXPECT_ARG_ERROR(for_null_fn, EINVAL);
    EXPECT_ARG_ERROR_EX(for_ex_null_fn, EINVAL);
}

static void for_range_null_fn_is_einval(void **state)
{
    (void)state;
    EXPECT_ARG_ERROR(range_null_fn, EINVAL);
    EXPECT_ARG_ERROR_EX(range_ex_null_fn, EINVAL);
}

/* ------------------------------------------------------------------------ */
/* pool_unzip                                                               */
/* ------------------------------------------------------------------------ */

/* Tuples of 8 bytes: column a = bytes 0..3, column b = bytes 4..7. */
static int unzip_with(pool_t *pool, victim *v, const void *tuples, size_t n,
                      pool_column b)
{
    pool_column cols[2] = { { 0, 4, v->col_a }, b };

    return pool_unzip(pool, tuples, 8, n, cols, 2);
}

static int unzip_null_tuples(pool_t *pool, victim *v)
{
    pool_column b = { 4, 4, v->col_b };

    return unzip_with(pool, v, NULL, N / 2, b);
}

static int unzip_null_columns(pool_t *pool, victim *v)
{
    return pool_unzip(pool, v->in, 8, N / 2, NULL, 2);
}

static int unzip_null_dst(pool_t *pool, victim *v)
{
    pool_column b = { 4, 4, NULL };

    return unzip_with(pool, v, v->in, N / 2, b);
}

static int unzip_column_one_past_end(pool_t *pool, victim *v)
{
    pool_column b = { 5, 4, v->col_b };

    return unzip_with(pool, v, v->in, N / 2, b);
}

static int unzip_column_starts_at_end(pool_t *pool, victim *v)
{
    pool_column b = { 8, 1, v->col_b };

    return unzip_with(pool, v, v->in, N / 2, b);
}

static int unzip_column_larger_than_tuple(pool_t *pool, victim *v)
{
    pool_column b = { 0, 9, v->col_b };

    return unzip_with(pool, v, v->in, N / 2, b);
}

/* offset + size wraps around to 1, which a naive check would accept. */
static int unzip_column_offset_wraps(pool_t *pool, victim *v)
{
    pool_column b = { SIZE_MAX, 2, v->col_b };

    return unzip_with(pool, v, v->in, N / 2, b);
}

/* A bad column with n == 0 is still bad: the check is not about n. */
static int unzip_column_past_end_no_items(pool_t *pool, victim *v)
{
    pool_column b = { 6, 4, v->col_b };

    return unzip_with(pool, v, v->in, 0, b);
}

static int unzip_overflow(pool_t *pool, victim *v)
{
    pool_column cols[1] = { { 0, 1, v->col_a } };

    return pool_unzip(pool, v->in, 2, HUGE_N, cols, 1);
}

static void unzip_null_tuples_is_einval(void **state)
{
    (void)state;
    EXPECT_ARG_ERROR(unzip_null_tuples, EINVAL);
}

static void unzip_null_columns_is_einval(void **state)
{
    (void)state;
    EXPECT_ARG_ERROR(unzip_null_columns, EINVAL);
}

static void unzip_null_dst_is_einval(void **state)
{
    (void)state;
    EXPECT_ARG_ERROR(unzip_null_dst, EINVAL);
}

static void unzip_column_past_tuple_end_is_einval_and_copies_nothing(void **state)
{
    (void)state;
    EXPECT_ARG_ERROR(unzip_column_one_past_end, EINVAL);
    EXPECT_ARG_ERROR(unzip_column_starts_at_end, EINVAL);
    EXPECT_ARG_ERROR(unzip_column_larger_than_tuple, EINVAL);
    EXPECT_ARG_ERROR(unzip_column_past_end_no_items, EINVAL);
}

static void unzip_column_offset_wraparound_is_einval(void **state)
{
    (void)state;
    EXPECT_ARG_ERROR(unzip_column_offset_wraps, EINVAL);
}

static void unzip_size_overflow_is_eoverflow(void **state)
{
    (void)state;
    EXPECT_ARG_ERROR(unzip_overflow, EOVERFLOW);
}

/* ------------------------------------------------------------------------ */
/* pool_map_unzip                                                           */
/* ------------------------------------------------------------------------ */

static int map_unzip_with(pool_t *pool, victim *v, pool_map_fn fn,
                          const void *in, size_t tuple_size, size_t n,
                          pool_column b)
{
    pool_column cols[2] = { { 0, 4, v->col_a }, b };

    return pool_map_unzip(pool, fn, v, in, 4, tuple_size, n, cols, 2,
                          &v->opts);
}

static int map_unzip_tuple_size_zero(pool_t *pool, victim *v)
{
    pool_column cols[1] = { { 0, 0, v->col_a } };

    return pool_map_unzip(pool, count_map, v, v->in, 4, 0, N, cols, 1,
                          &v->opts);
}

static int map_unzip_tuple_size_zero_no_columns(pool_t *pool, victim *v)
{
    return pool_map_unzip(pool, count_map, v, v->in, 4, 0, N, NULL, 0,
                          &v->opts);
}

static int map_unzip_tuple_above_max(pool_t *pool, victim *v)
{
    pool_column b = { 4, 4, v->col_b };

    return map_unzip_with(pool, v, count_map, v->in, POOL_TUPLE_MAX + 1, N, b);
}

static int map_unzip_tuple_far_above_max(pool_t *pool, victim *v)
{
    pool_column b = { 4, 4, v->col_b };

    return map_unzip_with(pool, v, count_map, v->in, SIZE_MAX, N, b);
}

static int map_unzip_null_fn(pool_t *pool, victim *v)
{
    pool_column b = { 4, 4, v->col_b };

    return map_unzip_with(pool, v, NULL, v->in, 8, N, b);
}

static int map_unzip_null_in(pool_t *pool, victim *v)
{
    pool_column b = { 4, 4, v->col_b };

    return map_unzip_with(pool, v, count_map, NULL, 8, N, b);
}

static int map_unzip_null_columns(pool_t *pool, victim *v)
{
    return pool_map_unzip(pool, count_map, v, v->in, 4, 8, N, NULL, 2,
                          &v->opts);
}

static int map_unzip_null_dst(pool_t *pool, victim *v)
{
    pool_column b = { 4, 4, NULL };

    return map_unzip_with(pool, v, count_map, v->in, 8, N, b);
}

static int map_unzip_column_past_end(pool_t *pool, victim *v)
{
    pool_column b = { 6, 4, v->col_b };

    return map_unzip_with(pool, v, count_map, v->in, 8, N, b);
}

static int map_unzip_column_offset_wraps(pool_t *pool, victim *v)
{
    pool_column b = { SIZE_MAX - 1, 4, v->col_b };

    return map_unzip_with(pool, v, count_map, v->in, 8, N, b);
}

static int map_unzip_in_overflow(pool_t *pool, victim *v)
{
    pool_column cols[1] = { { 0, 1, v->col_a } };

    return pool_map_unzip(pool, count_map, v, v->in, 2, 8, HUGE_N, cols, 1,
                          &v->opts);
}

/* n * in_size overflows where n * tuple_size and the columns' bytes do not:
 * only the input array's check can say so. */
static int map_unzip_only_in_overflows(pool_t *pool, victim *v)
{
    return pool_map_unzip(pool, count_map, v, v->in, 16, 4, SIZE_MAX / 8, NULL, 0,
                          &v->opts);
}

static int map_unzip_column_overflow(pool_t *pool, victim *v)
{
    pool_column cols[1] = { { 0, 2, v->col_a } };

    return pool_map_unzip(pool, count_map, v, v->in, 0, 8, HUGE_N, cols, 1,
                          &v->opts);
}

/* No column can hold the n tuples' bytes either, but n * tuple_size still
 * overflows: the same error as pool_unzip's, before any item runs. */
static int map_unzip_tuple_overflow(pool_t *pool, victim *v)
{
    return pool_map_unzip(pool, count_map, v, v->in, 0, 8, HUGE_N, NULL, 0, &v->opts);
}

static void map_unzip_bad_tuple_size_is_einval(void **state)
{
    (void)state;
    EXPECT_ARG_ERROR_EX(map_unzip_tuple_size_zero, EINVAL);
    EXPECT_ARG_ERROR_EX(map_unzip_tuple_size_zero_no_columns, EINVAL);
    EXPECT_ARG_ERROR_EX(map_unzip_tuple_above_max, EINVAL);
    EXPECT_ARG_ERROR_EX(map_unzip_tuple_far_above_max, EINVAL);
}

static void map_unzip_null_arguments_are_einval(void **state)
{
    (void)state;
    EXPECT_ARG_ERROR_EX(map_unzip_null_fn, EINVAL);
    EXPECT_ARG_ERROR_EX(map_unzip_null_in, EINVAL);
    EXPECT_ARG_ERROR_EX(map_unzip_null_columns, EINVAL);
    EXPECT_ARG_ERROR_EX(map_unzip_null_dst, EINVAL);
}

static void map_unzip_column_past_tuple_end_is_einval(void **state)
{
    (void)state;
    EXPECT_ARG_ERROR_EX(map_unzip_column_past_end, EINVAL);
    EXPECT_ARG_ERROR_EX(map_unzip_column_offset_wraps, EINVAL);
}

static void map_unzip_size_overflow_is_eoverflow(void **state)
{
    (void)state;
    EXPECT_ARG_ERROR_EX(map_unzip_in_overflow, EOVERFLOW);
    EXPECT_ARG_ERROR_EX(map_unzip_column_overflow, EOVERFLOW);
    EXPECT_ARG_ERROR_EX(map_unzip_tuple_overflow, EOVERFLOW);
    EXPECT_ARG_ERROR_EX(map_unzip_only_in_overflows, EOVERFLOW);
}

/* ------------------------------------------------------------------------ */
/* Accepted edge cases next to the errors                                   */
/* ------------------------------------------------------------------------ */

/* A column of size 0 may have a NULL dst; a column may end exactly at the
 * tuple's end; ncolumns 0 copies nothing; tuples of 0 bytes may be NULL.
 * All return 0. */
static void unzip_edge_columns_are_accepted(void **state)
{
    size_t p, i;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);
        pool_column cols[2] = { { 3, 0, NULL }, { 4, 4, NULL } };
        pool_column empty = { 0, 0, NULL };
        victim v;

        tu_where("unzip edge columns on %s", tu_pool_name(pool_specs[p]));
        victim_reset(&v, POOL_NO_INDEX);
        cols[1].dst = v.col_b;
        TU_ASSERT_EQ(pool_unzip(pool, v.in, 8, N / 2, cols, 2), 0);
        for (i = 0; i < N / 2; i++) {
            uint32_t got;
            memcpy(&got, v.col_b + 4 * i, 4);
            TU_ASSERT_EQ(got, v.in[2 * i + 1]);
        }
        tu_assert_untouched(v.col_b + 4 * (N / 2), sizeof v.col_b - 4 * (N / 2),
                            "column b past n");

        victim_reset(&v, POOL_NO_INDEX);
        TU_ASSERT_EQ(pool_unzip(pool, v.in, 8, N / 2, NULL, 0), 0);
        TU_ASSERT_EQ(pool_unzip(pool, v.in, 8, N / 2, cols, 0), 0);
        /* Tuples of 0 bytes: every column is empty and nothing is read,
         * so NULL tuples are fine, as any array of 0-byte elements. */
        TU_ASSERT_EQ(pool_unzip(pool, NULL, 0, N / 2, &empty, 1), 0);
        assert_untouched(&v);
        pool_destroy(pool);
    }
}

static int count_map_ok(void *ctx, const void *in, void *out)
{
    (void)in;
    (void)out;
    tu_bump(&((victim *)ctx)->calls);
    return 0;
}

static void map_unzip_tuple_of_max_size_is_accepted(void **state)
{
    size_t p;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(pool_specs); p++) {
        pool_t *pool = tu_pool_open(pool_specs[p]);
        pool_column cols[1] = { { POOL_TUPLE_MAX - 4, 4, NULL } };
        victim v;

        tu_where("map_unzip tuple_size POOL_TUPLE_MAX on %s",
                 tu_pool_name(pool_specs[p]));
        victim_reset(&v, 99);
        cols[0].dst = v.col_a;
        TU_ASSERT_EQ(pool_map_unzip(pool, count_map_ok, &v, v.in, 4,
                                    POOL_TUPLE_MAX, N, cols, 1, &v.opts), 0);
        TU_ASSERT_EQ(atomic_load(&v.calls), N);
        TU_ASSERT_EQ(v.opts.failed_index, POOL_NO_INDEX);
        pool_destroy(pool);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(map_null_fn_is_einval),
        TU_TEST(map_null_in_with_items_is_einval),
        TU_TEST(map_null_out_with_items_is_einval),
        TU_TEST(map_size_overflow_is_eoverflow),
        TU_TEST(for_null_fn_is_einval),
        TU_TEST(for_range_null_fn_is_einval),
        TU_TEST(unzip_null_tuples_is_einval),
        TU_TEST(unzip_null_columns_is_einval),
        TU_TEST(unzip_null_dst_is_einval),
        TU_TEST(unzip_column_past_tuple_end_is_einval_and_copies_nothing),
        TU_TEST(unzip_column_offset_wraparound_is_einval),
        TU_TEST(unzip_size_overflow_is_eoverflow),
        TU_TEST(map_unzip_bad_tuple_size_is_einval),
        TU_TEST(map_unzip_null_arguments_are_einval),
        TU_TEST(map_unzip_column_past_tuple_end_is_einval),
        TU_TEST(map_unzip_size_overflow_is_eoverflow),
        TU_TEST(unzip_edge_columns_are_accepted),
        TU_TEST(map_unzip_tuple_of_max_size_is_accepted),
    };

    return TU_RUN(tests, argc, argv);
}
