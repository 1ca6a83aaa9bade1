/*
 * fuzz_api.c - libFuzzer harness for the whole poolmap API.
 *
 * The input is a program: a sequence of operations, each an opcode byte
 * followed by the bytes its arguments need (reading past the end gives 0).
 * Arguments are drawn from valid and invalid values alike: NULL callbacks,
 * arrays and futures; n = 0, small, or large enough that n * size overflows;
 * element sizes 0..16 or near SIZE_MAX; columns past the tuple or wrapping;
 * chunks 0, 1, small, huge; NULL pool, pools of 1, 2, 3 (made once per
 * process) and a private pool made and destroyed within the input; failing
 * items with any status; nested calls from callbacks; async submits,
 * cancels, waits with timeouts, chunk streams, completion fds, detaching,
 * wait_any / wait_all, pool_cancel_pending.
 *
 * A model of the header's contract predicts each result: the argument error
 * (then no callback may run and nothing may be written), or the serial-loop
 * outcome (status and index of the lowest failing item, every item below it
 * exactly once, no item twice, every result right, nothing written for an
 * item that did not run), or for a future the cancel contract. Any
 * difference aborts, which libFuzzer reports as a crash with the input.
 * Calls the model calls valid but too big for the small buffers are skipped.
 *
 * Build: cmake -DPOOLMAP_FUZZ=ON with clang (fuzz/CMakeLists.txt).
 * Run:   build/fuzz/fuzz_api -max_total_time=60 fuzz/corpus
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "poolmap.h"

#define MAXN 256     /* items of a call that runs */
#define ESZ_MAX 16   /* largest element size of a call that runs */
#define TUP_MAX 64   /* largest tuple of a pool_unzip that runs */
#define NCOLS 4
#define NSLOTS 4
#define MAX_OPS 48
#define SENT 0xA5
#define GUARD 64

#define FZ_CHECK(c, ...)                                                   \
    do {                                                                   \
        if (!(c)) {                                                        \
            fprintf(stderr, "fuzz_api: line %d: %s: ", __LINE__, #c);      \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
            abort();                                                       \
        }                                                                  \
    } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ------------------------------------------------------------------------ */
/* Input reader                                                             */
/* ------------------------------------------------------------------------ */

typedef struct rd {
    const uint8_t *p;
    size_t n, pos;
} rd;

static unsigned u8(rd *r)
{
    return r->pos < r->n ? r->p[r->pos++] : 0;
}

static size_t pick(rd *r, size_t bound)
{
    return u8(r) % bound;
}

static size_t u16(rd *r)
{
    size_t hi = u8(r);

    return hi << 8 | u8(r);
}

static int ovf(size_t n, size_t size)
{
    return size != 0 && n > SIZE_MAX / size;
}

/* n: 0, 1, small, or one of the huge values that overflow with sizes > 1. */
static size_t pick_n(rd *r)
{
    switch (u8(r) % 16) {
    case 0: return 0;
    case 1: return 1;
    case 2: return SIZE_MAX;
    case 3: return SIZE_MAX / 2 + 1;
    case 4: return SIZE_MAX / 3 + 1;
    case 5: return ((size_t)1 << (sizeof(size_t) * 8 - 4)) + u8(r);
    default: return u16(r) % (MAXN + 1);
    }
}

static size_t pick_size(rd *r)
{
    static const size_t sizes[] = { 0, 1, 2, 4, 8, 16, 3, 4, 8, 12,
                                    SIZE_MAX, SIZE_MAX / 2 + 1, 5 };

    return sizes[pick(r, sizeof sizes / sizeof *sizes)];
}

static size_t pick_chunk(rd *r)
{
    switch (u8(r) % 8) {
    case 0: return 1;
    case 1: return 2 + u8(r);
    case 2: return SIZE_MAX;
    case 3: return (size_t)1 << 40;
    default: return 0;
    }
}

static int pick_status(rd *r)
{
    static const int odd[] = { -1, INT_MIN, INT_MAX, EINVAL, EOVERFLOW, ENOMEM, 1 };
    unsigned b = u8(r);

    if (b < 32)
        return odd[b % (sizeof odd / sizeof *odd)];
    return 1000 + (int)b; /* never ECANCELED or EBUSY: futures tell those apart */
}

static int64_t pick_timeout(rd *r)
{
    static const int64_t t[] = { 0, 1000, 100000, POOL_FOREVER, 0, 20000 };

    return t[pick(r, sizeof t / sizeof *t)];
}

/* ------------------------------------------------------------------------ */
/* Pools                                                                    */
/* ------------------------------------------------------------------------ */

static pool_t *pools[4];     /* NULL, and pools of 1, 2, 3: made once */
static pool_t *private_pool; /* made and destroyed within one input */
static size_t private_size;

enum { P_NULL, P_ONE, P_TWO, P_THREE, P_PRIVATE };

static int pick_pool(rd *r)
{
    int id = (int)pick(r, 5);

    return id == P_PRIVATE && private_pool == NULL ? P_NULL : id;
}

static pool_t *pool_of(int id)
{
    return id == P_PRIVATE ? private_pool : pools[id];
}

static int serial_pool(int id)
{
    return id == P_NULL || id == P_ONE || (id == P_PRIVATE && private_size == 1);
}

/* ------------------------------------------------------------------------ */
/* Calls and their items                                                    */
/* ------------------------------------------------------------------------ */

/* Byte b of item i's result; never the sentinel. */
static unsigned char pat(size_t i, size_t b, unsigned salt)
{
    unsigned char v = (unsigned char)(i * 37 + b * 11 + salt);

    return v == SENT ? 0x5A : v;
}

typedef struct call {
    /* Arguments as passed. */
    const unsigned char *in;
    size_t in_size;
    unsigned char *out;
    size_t out_size;
    size_t n;
    unsigned salt;
    int fail[MAXN];
    int nested;     /* items run a nested call on `pool` */
    pool_t *pool;
    /* What the callbacks saw. */
    atomic_uint count[MAXN];
    atomic_uint anon;  /* map items that cannot be told apart (sizes 0) */
    atomic_uint stray; /* arguments outside the call */
    atomic_size_t rb[MAXN], re[MAXN];
    _Alignas(16) unsigned char inbuf[MAXN * ESZ_MAX];
    _Alignas(16) unsigned char outbuf[MAXN * ESZ_MAX + GUARD];
} call;

static void call_reset(call *c, rd *r, size_t n_items, int plant)
{
    size_t i;

    c->salt = u8(r);
    c->nested = 0;
    atomic_store(&c->anon, 0);
    atomic_store(&c->stray, 0);
    for (i = 0; i < MAXN; i++) {
        atomic_store_explicit(&c->count[i], 0, memory_order_relaxed);
        atomic_store_explicit(&c->rb[i], SIZE_MAX, memory_order_relaxed);
        atomic_store_explicit(&c->re[i], SIZE_MAX, memory_order_relaxed);
        c->fail[i] = 0;
    }
    for (i = 0; i < sizeof c->inbuf; i++)
        c->inbuf[i] = (unsigned char)(i * 7 + c->salt);
    memset(c->outbuf, SENT, sizeof c->outbuf);
    /* Failing items: none, or up to three at input-chosen places. */
    if (plant && n_items > 0 && n_items <= MAXN) {
        size_t k, nplant = pick(r, 4);

        for (k = 0; k < nplant; k++)
            c->fail[u16(r) % n_items] = pick_status(r);
    }
}

static size_t lowest_failing(const call *c, size_t n)
{
    size_t i;

    for (i = 0; i < n && i < MAXN; i++)
        if (c->fail[i])
            return i;
    return POOL_NO_INDEX;
}

/* Index of a map item from its pointers; SIZE_MAX if they cannot say. */
static size_t map_index(call *c, const void *in, const void *out)
{
    size_t i = SIZE_MAX, j = SIZE_MAX;
    uintptr_t p;

    if (c->in_size == 0) {
        if (in != c->in)
            return SIZE_MAX - 1; /* must get the pointer unchanged */
    } else {
        p = (uintptr_t)in - (uintptr_t)c->in;
        if (in == NULL || (uintptr_t)in < (uintptr_t)c->in || p % c->in_size ||
            p / c->in_size >= c->n)
            return SIZE_MAX - 1;
        i = p / c->in_size;
    }
    if (c->out_size == 0) {
        if (out != c->out)
            return SIZE_MAX - 1;
    } else {
        p = (uintptr_t)out - (uintptr_t)c->out;
        if (out == NULL || (uintptr_t)out < (uintptr_t)c->out || p % c->out_size ||
            p / c->out_size >= c->n)
            return SIZE_MAX - 1;
        j = p / c->out_size;
    }
    if (i != SIZE_MAX && j != SIZE_MAX && i != j)
        return SIZE_MAX - 1;
    return i != SIZE_MAX ? i : j;
}

/* ---- nested calls, made from inside a callback ------------------------- */

typedef struct inner {
    uint32_t in[16];
    uint64_t out[16];
    size_t fail_at;
} inner;

static int inner_fn(void *ctx, const void *in, void *out)
{
    inner *x = ctx;
    size_t k = (size_t)((const uint32_t *)in - x->in);

    if (k == x->fail_at)
        return 77;
    *(uint64_t *)out = (uint64_t)*(const uint32_t *)in * 2 + 1;
    return 0;
}

/* A pool_map (or pool_map_async + wait forever) on the callback's own pool,
 * checked here: the contract holds for nested calls too. */
static void nested_call(pool_t *pool, size_t outer)
{
    inner x;
    size_t m = 1 + outer % 16, k;
    pool_opts o = { outer % 3, 4242 };
    int rc;
    size_t fi;

    x.fail_at = outer % 5 == 0 ? outer % m : SIZE_MAX;
    for (k = 0; k < m; k++) {
        x.in[k] = (uint32_t)(outer * 100 + k);
        x.out[k] = 0;
    }
    if (outer % 4 == 1) {
        pool_future_t *f = NULL;
        pool_async_opts ao = POOL_ASYNC_OPTS_INIT;

        ao.chunk = o.chunk;
        rc = pool_map_async(pool, inner_fn, &x, x.in, sizeof *x.in, x.out, sizeof *x.out,
                            m, &ao, &f);
        FZ_CHECK(rc == 0, "nested pool_map_async returned %d", rc);
        FZ_CHECK(pool_future_wait(f, POOL_FOREVER) == 0, "nested wait");
        rc = pool_future_status(f);
        fi = pool_future_failed_index(f);
        pool_future_free(f);
        if (rc == ECANCELED) {
            /* pool_cancel_pending() on this pool from the fuzzing thread
             * may cancel it: then every item below fi ran. */
            FZ_CHECK(fi < m && fi <= x.fail_at, "nested ECANCELED at %zu", fi);
            for (k = 0; k < fi; k++)
                FZ_CHECK(x.out[k] == (uint64_t)x.in[k] * 2 + 1, "nested result %zu", k);
            return;
        }
    } else {
        rc = pool_map_ex(pool, inner_fn, &x, x.in, sizeof *x.in, x.out, sizeof *x.out, m,
                         &o);
        fi = o.failed_index;
    }
    FZ_CHECK(rc == (x.fail_at < m ? 77 : 0), "nested call returned %d", rc);
    FZ_CHECK(fi == (x.fail_at < m ? x.fail_at : POOL_NO_INDEX), "nested index %zu", fi);
    for (k = 0; k < m && k < x.fail_at; k++)
        FZ_CHECK(x.out[k] == (uint64_t)x.in[k] * 2 + 1, "nested result %zu", k);
}

/* ---- callbacks ------------------------------------------------------------ */

static int map_cb(void *ctx, const void *in, void *out)
{
    call *c = ctx;
    size_t i = map_index(c, in, out), b;

    if (i == SIZE_MAX - 1) {
        atomic_fetch_add(&c->stray, 1);
        return 0;
    }
    if (i == SIZE_MAX) {
        atomic_fetch_add(&c->anon, 1);
        return 0;
    }
    atomic_fetch_add_explicit(&c->count[i], 1, memory_order_relaxed);
    if (c->nested)
        nested_call(c->pool, i);
    if (c->fail[i])
        return c->fail[i];
    for (b = 0; b < c->out_size; b++)
        ((unsigned char *)out)[b] = pat(i, b, c->salt);
    return 0;
}

static int for_cb(void *ctx, size_t i)
{
    call *c = ctx;
    size_t b;

    if (i >= c->n || i >= MAXN) {
        atomic_fetch_add(&c->stray, 1);
        return 0;
    }
    atomic_fetch_add_explicit(&c->count[i], 1, memory_order_relaxed);
    if (c->nested)
        nested_call(c->pool, i);
    if (c->fail[i])
        return c->fail[i];
    for (b = 0; b < 8; b++)
        c->outbuf[i * 8 + b] = pat(i, b, c->salt);
    return 0;
}

static int range_cb(void *ctx, size_t b, size_t e)
{
    call *c = ctx;
    size_t i;
    int rc = 0;

    if (b >= e || e > c->n || e > MAXN) {
        atomic_fetch_add(&c->stray, 1);
        return 0;
    }
    for (i = b; i < e; i++) {
        atomic_store_explicit(&c->rb[i], b, memory_order_relaxed);
        atomic_store_explicit(&c->re[i], e, memory_order_relaxed);
        atomic_fetch_add_explicit(&c->count[i], 1, memory_order_relaxed);
        if (rc == 0)
            rc = c->fail[i];
    }
    if (c->nested)
        nested_call(c->pool, b);
    return rc;
}

static int task_cb(void *ctx)
{
    call *c = ctx;
    size_t b;

    atomic_fetch_add_explicit(&c->count[0], 1, memory_order_relaxed);
    if (c->nested)
        nested_call(c->pool, 3);
    if (c->fail[0])
        return c->fail[0];
    for (b = 0; b < 8; b++)
        c->outbuf[b] = pat(0, b, c->salt);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The checks                                                               */
/* ------------------------------------------------------------------------ */

/* Bytes [from, sizeof outbuf) of the output buffer are untouched. */
static void check_untouched(const unsigned char *p, size_t from, size_t len, const char *what)
{
    size_t i;

    for (i = from; i < len; i++)
        FZ_CHECK(p[i] == SENT, "%s: byte %zu written", what, i);
}

/* No callback ran and nothing was written: after an argument error. */
static void check_nothing_ran(call *c)
{
    size_t i;

    FZ_CHECK(atomic_load(&c->stray) == 0 && atomic_load(&c->anon) == 0, "callbacks ran");
    for (i = 0; i < MAXN; i++)
        FZ_CHECK(atomic_load(&c->count[i]) == 0, "item %zu ran after an argument error", i);
    check_untouched(c->outbuf, 0, sizeof c->outbuf, "output after an argument error");
}

/* The error an invalid call must return: EINVAL if einval, EOVERFLOW if
 * eovf (either when both: the header does not order them). */
static void check_arg_error(int rc, int einval, int eovf)
{
    FZ_CHECK((einval && rc == EINVAL) || (eovf && rc == EOVERFLOW),
             "returned %d, want %s%s%s", rc, einval ? "EINVAL" : "",
             einval && eovf ? " or " : "", eovf ? "EOVERFLOW" : "");
}

/* Items of a map (out_size bytes each) or for (8 bytes each) that settled
 * on status / fi. may_cancel: ECANCELED is allowed. Returns the number of
 * items that ran and succeeded. */
static size_t check_items(call *c, size_t esize, int status, size_t fi, int have_fi,
                          int may_cancel, int serial)
{
    size_t n = c->n, lo = lowest_failing(c, n), limit, i, b, ok = 0;

    FZ_CHECK(atomic_load(&c->stray) == 0, "%u callbacks with stray arguments",
             atomic_load(&c->stray));
    if (status == 0) {
        FZ_CHECK(lo == POOL_NO_INDEX, "status 0, but item %zu fails", lo);
        FZ_CHECK(!have_fi || fi == POOL_NO_INDEX, "status 0, failed_index %zu", fi);
        limit = n;
    } else if (status == ECANCELED && may_cancel && (lo == POOL_NO_INDEX ||
                                                      c->fail[lo] != ECANCELED)) {
        FZ_CHECK(fi < n && (lo == POOL_NO_INDEX || fi <= lo),
                 "ECANCELED at %zu (n %zu, lowest failing %zu)", fi, n, lo);
        FZ_CHECK(atomic_load(&c->count[fi]) == 0, "ECANCELED at %zu, but it ran", fi);
        limit = fi;
    } else {
        FZ_CHECK(lo != POOL_NO_INDEX && status == c->fail[lo],
                 "status %d, lowest failing item %zu (status %d)", status, lo,
                 lo == POOL_NO_INDEX ? 0 : c->fail[lo]);
        FZ_CHECK(!have_fi || fi == lo, "failed_index %zu, want %zu", fi, lo);
        limit = lo + 1;
    }
    if (n > 0 && c->in_size == 0 && esize == 0) {
        /* Items cannot be told apart: count them. */
        unsigned a = atomic_load(&c->anon);

        FZ_CHECK(status != 0 || a == n, "%u calls for %zu items", a, n);
        FZ_CHECK(a <= n, "%u calls for %zu items", a, n);
        return status == 0 ? n : a;
    }
    for (i = 0; i < n; i++) {
        unsigned cnt = atomic_load(&c->count[i]);
        int good = cnt == 1 && c->fail[i] == 0;

        FZ_CHECK(cnt <= 1, "item %zu ran %u times", i, cnt);
        FZ_CHECK(i >= limit || cnt == 1, "item %zu below %zu ran %u times", i, limit, cnt);
        FZ_CHECK(!serial || i < limit || cnt == 0, "serial pool: item %zu past %zu ran", i,
                 limit);
        ok += good;
        for (b = 0; b < esize; b++)
            FZ_CHECK(c->outbuf[i * esize + b] == (good ? pat(i, b, c->salt) : SENT),
                     "item %zu (ran %u, fails %d) output byte %zu", i, cnt, c->fail[i], b);
    }
    check_untouched(c->outbuf, n * esize, sizeof c->outbuf, "output past n");
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Blocking calls                                                           */
/* ------------------------------------------------------------------------ */

static call blocking;

static void op_map(rd *r)
{
    call *c = &blocking;
    int pid = pick_pool(r), nullfn = pick(r, 16) == 0, in_null = pick(r, 8) == 0;
    int out_null = pick(r, 8) == 0, mode = (int)pick(r, 3);
    size_t n = pick_n(r), in_size = pick_size(r), out_size = pick_size(r);
    pool_opts o = { pick_chunk(r), 4242 };
    int nested = pick(r, 8) == 0;
    int einval = nullfn || (in_null && n > 0 && in_size > 0) ||
                 (out_null && n > 0 && out_size > 0);
    int eovf = ovf(n, in_size) || ovf(n, out_size);
    pool_t *pool = pool_of(pid);
    int rc;

    if (!einval && !eovf &&
        (n > MAXN || n * in_size > sizeof c->inbuf || n * out_size > MAXN * ESZ_MAX))
        return; /* valid, but too big to run */
    call_reset(c, r, in_size || out_size ? n : 0, !einval && !eovf);
    c->in = in_null ? NULL : c->inbuf;
    c->out = out_null ? NULL : c->outbuf;
    c->in_size = in_size;
    c->out_size = out_size;
    c->n = n;
    c->nested = nested;
    c->pool = pool;
    if (mode == 0)
        rc = pool_map(pool, nullfn ? NULL : map_cb, c, c->in, in_size, c->out, out_size, n);
    else
        rc = pool_map_ex(pool, nullfn ? NULL : map_cb, c, c->in, in_size, c->out, out_size,
                         n, mode == 1 ? &o : NULL);
    if (einval || eovf) {
        check_arg_error(rc, einval, eovf);
        FZ_CHECK(mode != 1 || o.failed_index == POOL_NO_INDEX, "failed_index %zu",
                 o.failed_index);
        check_nothing_ran(c);
        return;
    }
    check_items(c, out_size, rc, o.failed_index, mode == 1, 0, serial_pool(pid));
}

static void op_for(rd *r)
{
    call *c = &blocking;
    int pid = pick_pool(r), nullfn = pick(r, 16) == 0, mode = (int)pick(r, 3);
    size_t n = pick_n(r);
    pool_opts o = { pick_chunk(r), 4242 };
    int nested = pick(r, 8) == 0;
    pool_t *pool = pool_of(pid);
    int rc;

    if (!nullfn && n > MAXN)
        return;
    call_reset(c, r, n, !nullfn);
    c->in = NULL;
    c->in_size = 0;
    c->out = c->outbuf;
    c->out_size = 8;
    c->n = n;
    c->nested = nested;
    c->pool = pool;
    if (mode == 0)
        rc = pool_for(pool, n, nullfn ? NULL : for_cb, c);
    else
        rc = pool_for_ex(pool, n, nullfn ? NULL : for_cb, c, mode == 1 ? &o : NULL);
    if (nullfn) {
        check_arg_error(rc, 1, 0);
        FZ_CHECK(mode != 1 || o.failed_index == POOL_NO_INDEX, "failed_index %zu",
                 o.failed_index);
        check_nothing_ran(c);
        return;
    }
    check_items(c, 8, rc, o.failed_index, mode == 1, 0, serial_pool(pid));
}

static void op_range(rd *r)
{
    call *c = &blocking;
    int pid = pick_pool(r), nullfn = pick(r, 16) == 0, mode = (int)pick(r, 3);
    size_t n = pick_n(r), lo, limit, i, chunk;
    pool_opts o = { pick_chunk(r), 4242 };
    int nested = pick(r, 8) == 0;
    pool_t *pool = pool_of(pid);
    int rc;

    if (!nullfn && n > MAXN)
        return;
    call_reset(c, r, n, !nullfn);
    c->n = n;
    c->nested = nested;
    c->pool = pool;
    if (mode == 0)
        rc = pool_for_range(pool, n, nullfn ? NULL : range_cb, c);
    else
        rc = pool_for_range_ex(pool, n, nullfn ? NULL : range_cb, c, mode == 1 ? &o : NULL);
    if (nullfn) {
        check_arg_error(rc, 1, 0);
        check_nothing_ran(c);
        return;
    }
    FZ_CHECK(atomic_load(&c->stray) == 0, "empty or stray range");
    lo = lowest_failing(c, n);
    if (lo == POOL_NO_INDEX) {
        FZ_CHECK(rc == 0, "returned %d, nothing fails", rc);
        FZ_CHECK(mode != 1 || o.failed_index == POOL_NO_INDEX, "failed_index %zu",
                 o.failed_index);
        limit = n;
    } else {
        size_t fb = atomic_load(&c->rb[lo]), fe = atomic_load(&c->re[lo]);

        FZ_CHECK(rc == c->fail[lo], "returned %d, want %d (item %zu)", rc, c->fail[lo], lo);
        FZ_CHECK(fb <= lo && lo < fe, "failing item %zu not covered", lo);
        FZ_CHECK(mode != 1 || o.failed_index == fb, "failed_index %zu, want %zu",
                 o.failed_index, fb);
        limit = fe;
    }
    chunk = mode == 1 && o.chunk ? (o.chunk < n ? o.chunk : n) : 0;
    for (i = 0; i < n; i++) {
        unsigned cnt = atomic_load(&c->count[i]);
        size_t b = atomic_load(&c->rb[i]), e = atomic_load(&c->re[i]);

        FZ_CHECK(cnt <= 1 && (i >= limit || cnt == 1), "item %zu covered %u times", i, cnt);
        FZ_CHECK(!serial_pool(pid) || i < limit || cnt == 0, "serial: %zu past failure", i);
        FZ_CHECK(cnt == 0 || chunk == 0 ||
                     (b % chunk == 0 && e == (b + chunk < n ? b + chunk : n)),
                 "range [%zu, %zu) with chunk %zu", b, e, chunk);
    }
}

/* ---- unzip ------------------------------------------------------------ */

static _Alignas(16) unsigned char tuples[MAXN * TUP_MAX];
static _Alignas(16) unsigned char colbuf[NCOLS][MAXN * TUP_MAX + GUARD];

/* Columns from the input: mostly inside the tuple, sometimes past it or
 * wrapping; dst NULL sometimes. Returns the einval / eovf the model sees. */
static void pick_columns(rd *r, pool_column *cols, size_t ncols, size_t tuple_size, size_t n,
                         int *einval, int *eovf, int *toobig)
{
    size_t k;

    for (k = 0; k < ncols; k++) {
        unsigned mode = u8(r) % 16;
        size_t ts = tuple_size < 4096 ? tuple_size : 4096;

        cols[k].offset = ts ? pick(r, ts + 1) : 0;
        cols[k].size = ts ? pick(r, ts - cols[k].offset + 1) : 0;
        cols[k].dst = colbuf[k];
        if (mode == 0)
            cols[k].offset = tuple_size + 1 + pick(r, 4); /* past the tuple */
        else if (mode == 1)
            cols[k].size = SIZE_MAX - pick(r, 4); /* offset + size wraps */
        else if (mode == 2)
            cols[k].dst = NULL;
        else if (mode == 3)
            cols[k].size = tuple_size - cols[k].offset + 1; /* one past */
        if (cols[k].offset > tuple_size || cols[k].size > tuple_size - cols[k].offset ||
            (cols[k].dst == NULL && cols[k].size > 0 && n > 0))
            *einval = 1;
        if (ovf(n, cols[k].size))
            *eovf = 1;
        else if (n * cols[k].size > MAXN * TUP_MAX)
            *toobig = 1;
    }
}

static void op_unzip(rd *r)
{
    int pid = pick_pool(r), tnull = pick(r, 16) == 0, cnull = pick(r, 16) == 0;
    size_t n = pick_n(r), ncols = pick(r, NCOLS + 1), i, k, b;
    size_t tuple_size = pick(r, 8) == 0 ? pick_size(r) : pick(r, TUP_MAX + 1);
    pool_column cols[NCOLS];
    int einval = 0, eovf = 0, toobig = 0, rc, work;

    if (cnull && pick(r, 2))
        ncols = SIZE_MAX - pick(r, 3); /* with a NULL array: any count */
    if (!cnull)
        pick_columns(r, cols, ncols, tuple_size, n, &einval, &eovf, &toobig);
    if ((tnull && n > 0 && tuple_size > 0) || (cnull && ncols > 0 && n > 0))
        einval = 1;
    if (ovf(n, tuple_size))
        eovf = 1;
    work = n > 0 && ncols > 0 && tuple_size > 0;
    if (!einval && !eovf && work &&
        (toobig || n > MAXN || n * tuple_size > sizeof tuples))
        return;
    for (i = 0; i < sizeof tuples; i++)
        tuples[i] = (unsigned char)(i * 13 + 5);
    memset(colbuf, SENT, sizeof colbuf);
    rc = pool_unzip(pool_of(pid), tnull ? NULL : tuples, tuple_size, n, cnull ? NULL : cols,
                    ncols);
    if (einval || eovf) {
        check_arg_error(rc, einval, eovf);
        for (k = 0; k < NCOLS; k++)
            check_untouched(colbuf[k], 0, sizeof colbuf[k], "column after argument error");
        return;
    }
    FZ_CHECK(rc == 0, "pool_unzip returned %d", rc);
    for (k = 0; k < NCOLS; k++) {
        size_t written = 0;

        if (work && !cnull && k < ncols && cols[k].dst) {
            written = n * cols[k].size;
            for (i = 0; i < n; i++)
                for (b = 0; b < cols[k].size; b++)
                    FZ_CHECK(colbuf[k][i * cols[k].size + b] ==
                                 tuples[i * tuple_size + cols[k].offset + b],
                             "column %zu element %zu byte %zu", k, i, b);
        }
        check_untouched(colbuf[k], written, sizeof colbuf[k], "column past n");
    }
}

/* ---- map_unzip --------------------------------------------------------- */

typedef struct mu {
    call c;
    size_t tuple_size;
    atomic_uint misaligned;
} mu;

static mu mapunzip;

static int map_unzip_cb(void *ctx, const void *in, void *out)
{
    mu *m = ctx;
    call *c = &m->c;
    size_t i, b;

    if ((uintptr_t)out % _Alignof(max_align_t) != 0)
        atomic_fetch_add(&m->misaligned, 1);
    if (c->in_size == 0) {
        atomic_fetch_add(&c->anon, 1);
        if (in != c->in)
            atomic_fetch_add(&c->stray, 1);
        return 0;
    }
    i = map_index(c, in, c->out); /* out is the scratch tuple, not an array */
    if (i >= SIZE_MAX - 1) {
        atomic_fetch_add(&c->stray, 1);
        return 0;
    }
    atomic_fetch_add_explicit(&c->count[i], 1, memory_order_relaxed);
    if (c->fail[i])
        return c->fail[i];
    for (b = 0; b < m->tuple_size; b++)
        ((unsigned char *)out)[b] = pat(i, b, c->salt);
    return 0;
}

static void op_map_unzip(rd *r)
{
    mu *m = &mapunzip;
    call *c = &m->c;
    int pid = pick_pool(r), nullfn = pick(r, 16) == 0, in_null = pick(r, 8) == 0;
    int cnull = pick(r, 16) == 0, use_opts = (int)pick(r, 2);
    size_t n = pick_n(r), in_size = pick_size(r), ncols = pick(r, NCOLS + 1), i, k, b, lo;
    size_t tuple_size;
    pool_opts o = { pick_chunk(r), 4242 };
    pool_column cols[NCOLS];
    int einval = 0, eovf = 0, toobig = 0, rc;

    switch (u8(r) % 8) {
    case 0: tuple_size = 0; break;
    case 1: tuple_size = POOL_TUPLE_MAX; break;
    case 2: tuple_size = POOL_TUPLE_MAX + 1; break;
    case 3: tuple_size = SIZE_MAX; break;
    default: tuple_size = 1 + pick(r, TUP_MAX); break;
    }
    if (!cnull)
        pick_columns(r, cols, ncols, tuple_size, n, &einval, &eovf, &toobig);
    if (nullfn || tuple_size == 0 || tuple_size > POOL_TUPLE_MAX ||
        (in_null && n > 0 && in_size > 0) || (cnull && ncols > 0 && n > 0))
        einval = 1;
    if (ovf(n, in_size))
        eovf = 1;
    if (!einval && !eovf && (toobig || n > MAXN || n * in_size > sizeof c->inbuf))
        return;
    call_reset(c, r, in_size ? n : 0, !einval && !eovf);
    c->in = in_null ? NULL : c->inbuf;
    c->in_size = in_size;
    c->out = NULL;
    c->out_size = 0;
    c->n = n;
    m->tuple_size = tuple_size;
    atomic_store(&m->misaligned, 0);
    memset(colbuf, SENT, sizeof colbuf);
    rc = pool_map_unzip(pool_of(pid), nullfn ? NULL : map_unzip_cb, m, c->in, in_size,
                        tuple_size, n, cnull ? NULL : cols, ncols, use_opts ? &o : NULL);
    if (einval || eovf) {
        check_arg_error(rc, einval, eovf);
        FZ_CHECK(!use_opts || o.failed_index == POOL_NO_INDEX, "failed_index %zu",
                 o.failed_index);
        check_nothing_ran(c);
        for (k = 0; k < NCOLS; k++)
            check_untouched(colbuf[k], 0, sizeof colbuf[k], "column after argument error");
        return;
    }
    FZ_CHECK(atomic_load(&m->misaligned) == 0, "scratch tuple not aligned for any type");
    FZ_CHECK(atomic_load(&c->stray) == 0, "stray map_unzip callbacks");
    lo = lowest_failing(c, in_size ? n : 0);
    FZ_CHECK(rc == (lo == POOL_NO_INDEX ? 0 : c->fail[lo]), "returned %d, lowest failing %zu",
             rc, lo);
    FZ_CHECK(!use_opts || o.failed_index == lo, "failed_index %zu, want %zu", o.failed_index,
             lo);
    if (in_size == 0) {
        FZ_CHECK(atomic_load(&c->anon) == n, "%u calls for %zu items", atomic_load(&c->anon),
                 n);
        return; /* items cannot be told apart: columns unchecked */
    }
    for (i = 0; i < n; i++) {
        unsigned cnt = atomic_load(&c->count[i]);

        FZ_CHECK(cnt <= 1, "item %zu ran %u times", i, cnt);
        FZ_CHECK(i >= (lo == POOL_NO_INDEX ? n : lo + 1) || cnt == 1,
                 "item %zu below the failure ran %u times", i, cnt);
        FZ_CHECK(!serial_pool(pid) || lo == POOL_NO_INDEX || i <= lo || cnt == 0,
                 "serial: item %zu past the failure ran", i);
        for (k = 0; !cnull && k < ncols; k++) {
            int match = 1, untouched = 1;

            for (b = 0; b < cols[k].size; b++) {
                unsigned char v = colbuf[k][i * cols[k].size + b];

                match &= v == pat(i, cols[k].offset + b, c->salt);
                untouched &= v == SENT;
            }
            if (i < lo)
                FZ_CHECK(match, "column %zu element %zu wrong below the failure", k, i);
            else if (cnt == 0 || c->fail[i])
                FZ_CHECK(untouched, "column %zu element %zu written, item did not run", k, i);
            else
                FZ_CHECK(match || untouched, "column %zu element %zu garbage", k, i);
        }
    }
    for (k = 0; !cnull && k < ncols; k++)
        check_untouched(colbuf[k], n * cols[k].size, sizeof colbuf[k], "column past n");
}

/* ------------------------------------------------------------------------ */
/* Futures                                                                  */
/* ------------------------------------------------------------------------ */

enum { K_TASK, K_MAP, K_FOR };

typedef struct slot {
    int busy;        /* a future exists whose work may touch this slot */
    int kind;
    int pid;
    pool_future_t *f; /* NULL once detached or freed by on_done */
    pool_async_opts opts;
    int use_opts, fire_and_forget, cancel_took, pending_cancel, fd;
    call c;
    unsigned rec[MAXN];
    atomic_int d_calls, d_status, d_done;
    atomic_size_t d_fi, d_progress;
} slot;

static slot slots[NSLOTS];

static void on_done_cb(void *arg, pool_future_t *f)
{
    slot *s = arg;

    atomic_store(&s->d_status, pool_future_status(f));
    atomic_store(&s->d_fi, pool_future_failed_index(f));
    atomic_store(&s->d_done, pool_future_done(f));
    atomic_store(&s->d_progress, pool_future_progress(f, NULL));
    if (s->fire_and_forget)
        pool_future_free(f);
    atomic_fetch_add(&s->d_calls, 1); /* last touch of s */
}

static void await_on_done(slot *s)
{
    struct timespec ts = { 0, 100000 };
    long k;

    for (k = 0; atomic_load(&s->d_calls) == 0; k++) {
        FZ_CHECK(k < 300000, "on_done never ran (30 s)");
        nanosleep(&ts, NULL);
    }
}

static void op_submit(rd *r)
{
    slot *s = &slots[pick(r, NSLOTS)];
    int kind = (int)pick(r, 3), pid = pick_pool(r), nullfn = pick(r, 16) == 0;
    int nullfut = pick(r, 16) == 0, in_null = pick(r, 12) == 0, omode = (int)pick(r, 4);
    size_t n = kind == K_TASK ? 1 : pick_n(r), in_size = 4, out_size = 8;
    int einval, eovf = 0, rc;
    pool_future_t *untouched = (pool_future_t *)(void *)&s->rec[0];
    pool_future_t *f = untouched;
    pool_t *pool = pool_of(pid);

    if (s->busy)
        return;
    if (kind == K_MAP) {
        in_size = pick_size(r);
        out_size = pick_size(r);
        eovf = ovf(n, in_size) || ovf(n, out_size);
    }
    einval = nullfn || nullfut ||
             (kind == K_MAP && ((in_null && n > 0 && in_size > 0)));
    if (!einval && !eovf &&
        (n > MAXN || n * in_size > sizeof s->c.inbuf || n * out_size > MAXN * ESZ_MAX))
        return;
    call_reset(&s->c, r, kind == K_MAP && !in_size && !out_size ? 0 : n, !einval && !eovf);
    s->c.in = kind == K_MAP && in_null ? NULL : s->c.inbuf;
    s->c.in_size = kind == K_MAP ? in_size : 0;
    s->c.out = s->c.outbuf;
    s->c.out_size = out_size;
    s->c.n = n;
    /* Not on the private pool: a nested call could start while it is being
     * destroyed, which the header forbids. */
    s->c.nested = pid != P_PRIVATE && pick(r, 10) == 0;
    s->c.pool = pool;
    s->kind = kind;
    s->pid = pid;
    s->cancel_took = s->pending_cancel = 0;
    s->fd = -1;
    memset(s->rec, 0, sizeof s->rec);
    atomic_store(&s->d_calls, 0);
    atomic_store(&s->d_status, -12345);
    atomic_store(&s->d_done, -1);
    atomic_store(&s->d_fi, 4242);
    atomic_store(&s->d_progress, 4242);
    memset(&s->opts, 0, sizeof s->opts);
    s->use_opts = omode != 0;
    s->fire_and_forget = omode == 3;
    s->opts.chunk = pick_chunk(r);
    s->opts.flags = pick(r, 3) == 0 ? POOL_ASYNC_CHUNKS : 0;
    if (omode >= 2) {
        s->opts.on_done = on_done_cb;
        s->opts.on_done_arg = s;
    }
    switch (kind) {
    case K_TASK:
        rc = pool_submit(pool, nullfn ? NULL : task_cb, &s->c, s->use_opts ? &s->opts : NULL,
                         nullfut ? NULL : &f);
        break;
    case K_MAP:
        rc = pool_map_async(pool, nullfn ? NULL : map_cb, &s->c, s->c.in, in_size, s->c.out,
                            out_size, n, s->use_opts ? &s->opts : NULL, nullfut ? NULL : &f);
        break;
    default:
        rc = pool_for_async(pool, n, nullfn ? NULL : for_cb, &s->c,
                            s->use_opts ? &s->opts : NULL, nullfut ? NULL : &f);
        break;
    }
    if (einval || eovf) {
        check_arg_error(rc, einval, eovf);
        FZ_CHECK(f == untouched, "*future written on an error");
        check_nothing_ran(&s->c);
        return;
    }
    FZ_CHECK(rc == 0, "async submit (kind %d) returned %d", kind, rc);
    s->busy = 1;
    if (s->fire_and_forget) {
        s->f = NULL; /* on_done frees it: never touched again */
        return;
    }
    FZ_CHECK(f != NULL && f != untouched, "no future");
    s->f = f;
    FZ_CHECK(pool != NULL || pool_future_done(f), "NULL pool: not done on return");
    rc = pool_future_status(f);
    FZ_CHECK(rc == EBUSY || pool_future_done(f), "status %d while not done", rc);
}

/* A chunk record [b, e) with status st of slot s. */
static void take_record(slot *s, size_t b, size_t e, int st)
{
    size_t i;

    FZ_CHECK(b <= e && e <= s->c.n && (st == 0 ? b < e : e < s->c.n),
             "record [%zu, %zu) status %d, n %zu", b, e, st, s->c.n);
    FZ_CHECK(st == 0 || st == s->c.fail[e], "record: item %zu failed with %d, planted %d", e,
             st, s->c.fail[e]);
    for (i = b; i < e; i++)
        s->rec[i]++;
}

static slot *pick_live(rd *r)
{
    slot *s = &slots[pick(r, NSLOTS)];

    return s->busy && s->f ? s : NULL;
}

static void op_wait(rd *r)
{
    slot *s = pick_live(r);
    int64_t t = pick_timeout(r);
    int rc;

    if (!s)
        return;
    rc = pool_future_wait(s->f, t);
    FZ_CHECK(rc == 0 || (rc == ETIMEDOUT && t >= 0), "wait(%lld) returned %d", (long long)t,
             rc);
    FZ_CHECK(rc != 0 || pool_future_done(s->f), "wait 0 but not done");
}

static void op_cancel(rd *r)
{
    slot *s = pick_live(r);
    int rc;

    if (!s)
        return;
    rc = pool_future_cancel(s->f);
    FZ_CHECK(rc == 0 || rc == EBUSY, "cancel returned %d", rc);
    if (rc == 0)
        s->cancel_took = 1;
}

static void op_next(rd *r)
{
    slot *s = pick_live(r);
    size_t b = 4242, e = 4242;
    int st = 4242, nulls = (int)pick(r, 8), rc;

    if (!s)
        return;
    rc = pool_future_next(s->f, pick_timeout(r) == POOL_FOREVER ? 0 : 1000,
                          nulls == 1 ? NULL : &b, nulls == 2 ? NULL : &e,
                          nulls == 3 ? NULL : &st);
    if (nulls >= 1 && nulls <= 3) {
        FZ_CHECK(rc == EINVAL, "pool_future_next with a NULL argument returned %d", rc);
        return;
    }
    if (!(s->opts.flags & POOL_ASYNC_CHUNKS) || !s->use_opts) {
        FZ_CHECK(rc == EINVAL, "pool_future_next without POOL_ASYNC_CHUNKS returned %d", rc);
        return;
    }
    if (rc == 0)
        take_record(s, b, e, st);
    else if (rc == ENOENT)
        FZ_CHECK(pool_future_done(s->f), "ENOENT before done");
    else
        FZ_CHECK(rc == ETIMEDOUT, "pool_future_next returned %d", rc);
}

static void op_query(rd *r)
{
    slot *s = pick_live(r);
    size_t total = 0, p;
    int st, fd, want_fd = (int)pick(r, 2); /* read always: parsing must not
                                              depend on timing */

    /* NULL handles are refused or answered harmlessly. */
    FZ_CHECK(pool_future_wait(NULL, 0) == EINVAL, "wait(NULL)");
    FZ_CHECK(pool_future_status(NULL) == EINVAL, "status(NULL)");
    FZ_CHECK(pool_future_done(NULL) == 0, "done(NULL)");
    FZ_CHECK(pool_future_failed_index(NULL) == POOL_NO_INDEX, "failed_index(NULL)");
    FZ_CHECK(pool_future_progress(NULL, &total) == 0 && total == 0, "progress(NULL)");
    FZ_CHECK(pool_future_cancel(NULL) == EINVAL, "cancel(NULL)");
    errno = 0;
    fd = pool_future_fd(NULL);
    FZ_CHECK(fd == -1 && errno == EINVAL, "fd(NULL)");
    pool_future_free(NULL);
    pool_cancel_pending(NULL);
    pool_destroy(NULL);
    FZ_CHECK(pool_size(NULL) == 1, "pool_size(NULL)");
    FZ_CHECK(pool_version() == POOLMAP_VERSION, "version");
    if (!s)
        return;
    st = pool_future_status(s->f);
    FZ_CHECK(st == EBUSY || pool_future_done(s->f), "status %d while not done", st);
    p = pool_future_progress(s->f, &total);
    FZ_CHECK(total == s->c.n && p <= total, "progress %zu of %zu (n %zu)", p, total, s->c.n);
    if (!pool_future_done(s->f))
        return;
    FZ_CHECK(pool_future_status(s->f) != EBUSY, "done but EBUSY");
    if (want_fd && s->fd < 0) {
        s->fd = pool_future_fd(s->f);
        FZ_CHECK(s->fd >= 0, "pool_future_fd failed: %d", errno);
    }
}

static void op_fd(rd *r)
{
    slot *s = pick_live(r);

    if (!s || s->fd >= 0)
        return;
    s->fd = pool_future_fd(s->f);
    FZ_CHECK(s->fd >= 0, "pool_future_fd failed: %d", errno);
}

/* The outcome of slot s, once done. */
static void slot_verify(slot *s)
{
    int status, may_cancel = s->cancel_took || s->pending_cancel;
    size_t fi, progress, ok, i;

    if (s->f) {
        status = pool_future_status(s->f);
        fi = pool_future_failed_index(s->f);
        progress = pool_future_progress(s->f, NULL);
    } else {
        status = atomic_load(&s->d_status);
        fi = atomic_load(&s->d_fi);
        progress = atomic_load(&s->d_progress);
    }
    if (s->opts.on_done && s->use_opts) {
        await_on_done(s);
        FZ_CHECK(atomic_load(&s->d_calls) == 1, "on_done ran %d times",
                 atomic_load(&s->d_calls));
        FZ_CHECK(atomic_load(&s->d_done) == 1, "not done inside on_done");
        FZ_CHECK(atomic_load(&s->d_status) == status && atomic_load(&s->d_fi) == fi,
                 "on_done saw %d/%zu, final %d/%zu", atomic_load(&s->d_status),
                 atomic_load(&s->d_fi), status, fi);
    }
    if (s->kind == K_TASK) {
        unsigned cnt = atomic_load(&s->c.count[0]);
        int want = s->c.fail[0];

        /* A task's cancel takes effect only if it has not started. */
        if (s->cancel_took)
            FZ_CHECK(status == ECANCELED, "task cancel took effect, status %d", status);
        if (status == ECANCELED && may_cancel) {
            FZ_CHECK(cnt == 0 && fi == 0 && progress == 0,
                     "cancelled task: ran %u, index %zu, progress %zu", cnt, fi, progress);
            check_untouched(s->c.outbuf, 0, sizeof s->c.outbuf, "cancelled task output");
        } else {
            FZ_CHECK(cnt == 1, "task ran %u times, status %d", cnt, status);
            FZ_CHECK(status == want, "task status %d, want %d", status, want);
            FZ_CHECK(fi == (want ? 0 : POOL_NO_INDEX), "task index %zu", fi);
            FZ_CHECK(progress == (want ? 0u : 1u), "task progress %zu", progress);
        }
        return;
    }
    ok = check_items(&s->c, s->kind == K_FOR ? 8 : s->c.out_size, status, fi, 1, may_cancel,
                     0);
    FZ_CHECK(progress == ok, "progress %zu, %zu items succeeded", progress, ok);
    if (s->f && s->use_opts && (s->opts.flags & POOL_ASYNC_CHUNKS)) {
        size_t b, e;
        int st, rc;

        while ((rc = pool_future_next(s->f, POOL_FOREVER, &b, &e, &st)) == 0)
            take_record(s, b, e, st);
        FZ_CHECK(rc == ENOENT, "pool_future_next after done: %d", rc);
        if (s->kind == K_FOR || s->c.in_size || s->c.out_size)
            for (i = 0; i < s->c.n; i++)
                FZ_CHECK(s->rec[i] == (atomic_load(&s->c.count[i]) == 1 && !s->c.fail[i]),
                         "records name item %zu %u times", i, s->rec[i]);
    }
}

/* Final wait, checks, free; the slot is free again. */
static void slot_finish(slot *s)
{
    if (!s->busy)
        return;
    if (s->f) {
        FZ_CHECK(pool_future_wait(s->f, POOL_FOREVER) == 0, "wait forever");
        FZ_CHECK(pool_future_done(s->f), "not done after wait forever");
        if (s->fd >= 0) {
            struct pollfd p = { s->fd, POLLIN, 0 };

            /* Once done, the fd is readable: it is signalled before done. */
            FZ_CHECK(poll(&p, 1, 0) == 1, "completion fd not readable");
        }
    } else {
        await_on_done(s);
    }
    slot_verify(s);
    if (s->f)
        pool_future_free(s->f);
    s->f = NULL;
    s->busy = 0;
}

static void op_free(rd *r)
{
    slot *s = pick_live(r);

    if (!s)
        return;
    if (s->opts.on_done && s->use_opts && pick(r, 2)) {
        /* Detach: the work goes on, on_done reports it. */
        pool_future_free(s->f);
        s->f = NULL;
        return;
    }
    slot_finish(s);
}

static void op_wait_many(rd *r, int any)
{
    pool_future_t *fs[NSLOTS + 1];
    size_t m = 0, i, idx = 4242;
    int64_t t = pick_timeout(r);
    int bad = (int)pick(r, 10), rc;

    for (i = 0; i < NSLOTS; i++)
        if (slots[i].busy && slots[i].f && pick(r, 4))
            fs[m++] = slots[i].f;
    if (bad == 1)
        fs[m++] = NULL; /* a NULL element */
    if (any) {
        rc = pool_wait_any(bad == 2 ? NULL : fs, bad == 3 ? 0 : m, t, bad == 4 ? NULL : &idx);
        if (bad == 1 || bad == 2 || bad == 3 || bad == 4 || m == 0) {
            FZ_CHECK(rc == EINVAL, "pool_wait_any with bad arguments returned %d", rc);
            return;
        }
        FZ_CHECK(rc == 0 || (rc == ETIMEDOUT && t >= 0), "pool_wait_any returned %d", rc);
        FZ_CHECK(rc != 0 || (idx < m && pool_future_done(fs[idx])), "index %zu of %zu", idx,
                 m);
        return;
    }
    rc = pool_wait_all(bad == 2 ? NULL : fs, m, t);
    if (bad == 1 || (bad == 2 && m > 0)) {
        FZ_CHECK(rc == EINVAL, "pool_wait_all with bad arguments returned %d", rc);
        return;
    }
    FZ_CHECK(rc == 0 || (rc == ETIMEDOUT && t >= 0), "pool_wait_all returned %d", rc);
    for (i = 0; rc == 0 && bad != 2 && i < m; i++)
        FZ_CHECK(pool_future_done(fs[i]), "wait_all 0, %zu not done", i);
}

static void op_cancel_pending(rd *r)
{
    int pid = pick_pool(r);
    size_t i;

    pool_cancel_pending(pool_of(pid));
    if (pid == P_NULL)
        return;
    for (i = 0; i < NSLOTS; i++)
        if (slots[i].busy && slots[i].pid == pid)
            slots[i].pending_cancel = 1;
}

/* ------------------------------------------------------------------------ */
/* Private pool                                                             */
/* ------------------------------------------------------------------------ */

static void private_destroy(void)
{
    size_t i;

    if (!private_pool)
        return;
    pool_destroy(private_pool);
    private_pool = NULL;
    /* Its async work is finished, on_done included. */
    for (i = 0; i < NSLOTS; i++) {
        slot *s = &slots[i];

        if (!s->busy || s->pid != P_PRIVATE)
            continue;
        if (s->f)
            FZ_CHECK(pool_future_done(s->f), "future not done after pool_destroy");
        if (s->opts.on_done && s->use_opts)
            FZ_CHECK(atomic_load(&s->d_calls) == 1, "on_done not run by pool_destroy");
        s->pid = P_NULL; /* no pool to cancel any more */
    }
}

static void op_private(rd *r)
{
    size_t n;

    if (private_pool) {
        private_destroy();
        return;
    }
    switch (u8(r) % 8) {
    case 0: n = POOL_MAX_THREADS + 1 + u8(r); break;
    case 1: n = SIZE_MAX - u8(r); break;
    default: n = 1 + pick(r, 4); break;
    }
    errno = 0;
    private_pool = pool_create(n);
    if (n > POOL_MAX_THREADS) {
        FZ_CHECK(private_pool == NULL && errno == EINVAL, "pool_create(%zu)", n);
        return;
    }
    FZ_CHECK(private_pool != NULL, "pool_create(%zu) failed: %d", n, errno);
    FZ_CHECK(pool_size(private_pool) == n, "pool_size %zu", pool_size(private_pool));
    private_size = n;
}

/* ------------------------------------------------------------------------ */
/* Entry points                                                             */
/* ------------------------------------------------------------------------ */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    size_t k;

    (void)argc;
    (void)argv;
    pools[P_NULL] = NULL;
    for (k = 1; k < 4; k++) {
        pools[k] = pool_create(k);
        if (pools[k] == NULL || pool_size(pools[k]) != k)
            abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rd r = { data, size, 0 };
    size_t ops, i;

    for (ops = 0; ops < MAX_OPS && r.pos < r.n; ops++) {
        switch (u8(&r) % 16) {
        case 0:
        case 1: op_map(&r); break;
        case 2: op_for(&r); break;
        case 3: op_range(&r); break;
        case 4: op_unzip(&r); break;
        case 5: op_map_unzip(&r); break;
        case 6:
        case 7: op_submit(&r); break;
        case 8: op_wait(&r); break;
        case 9: op_cancel(&r); break;
        case 10: op_next(&r); break;
        case 11: op_query(&r); op_fd(&r); break;
        case 12: op_free(&r); break;
        case 13: op_wait_many(&r, (int)(u8(&r) & 1)); break;
        case 14: op_cancel_pending(&r); break;
        default: op_private(&r); break;
        }
    }
    /* Nothing may outlive the input: the next one reuses every buffer. */
    for (i = 0; i < NSLOTS; i++)
        slot_finish(&slots[i]);
    private_destroy();
    return 0;
}
