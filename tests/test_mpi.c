/*
 * test_mpi.c - pool_map_mpi, run by every rank under mpiexec (ctest runs it
 * with 2 and with 3 ranks).
 *
 * A plain C program rather than cmocka: a failed check must not leave its
 * rank early (the other ranks would wait for it in the next collective), so
 * checks count failures and go on, and each test ends by summing them over
 * the ranks. Exits 1 when any check failed on any rank.
 *
 * Run one test by name:  mpiexec -n 3 build/tests/test_mpi failures_lowest_index_wins
 *
 * Faults: this file defines MPI_Comm_dup and MPI_Allreduce, which pass
 * through to MPI's profiling entry points (PMPI_) unless a test arms a
 * failure: the static library's calls reach them (the MPI profiling
 * interface). Where the linker has --wrap, malloc, calloc and free are
 * wrapped likewise (POOLMAP_TEST_MPI_ALLOC, tests/CMakeLists.txt): only
 * this executable's and the static library's calls, not MPI's own.
 */
#include <poolmap_mpi.h>

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------------ */
/* Harness                                                                  */
/* ------------------------------------------------------------------------ */

static int g_rank, g_size;
static unsigned g_failures; /* this rank's, in the current test */
static char g_where[256];   /* the sub-case being run */

static void where(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void where(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(g_where, sizeof g_where, fmt, ap);
    va_end(ap);
}

/* Prints the first few failures of a test on each rank, counts them all. */
static void fail_at(int line, const char *what)
{
    if (g_failures++ < 10)
        fprintf(stderr, "rank %d: line %d: %s\n  in: %s\n", g_rank, line, what, g_where);
}

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond))                                                       \
            fail_at(__LINE__, #cond);                                      \
    } while (0)

/* Prints both values on a mismatch. */
#define CHECK_EQ(a, b)                                                     \
    do {                                                                   \
        uintmax_t a_ = (uintmax_t)(a), b_ = (uintmax_t)(b);                \
        if (a_ != b_) {                                                    \
            char m_[200];                                                  \
            snprintf(m_, sizeof m_, "%s == %s: %ju != %ju", #a, #b, a_, b_); \
            fail_at(__LINE__, m_);                                         \
        }                                                                  \
    } while (0)

/* Aborts the job on an MPI or allocation failure of the test itself. */
static void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (p == NULL) {
        fprintf(stderr, "rank %d: out of memory\n", g_rank);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    return p;
}

/* ---- faults ------------------------------------------------------------ */

/* Which MPI call fails (on this rank) while armed: MPI_ERR_OTHER, without
 * calling MPI. Collective calls must fail on every rank alike, or the
 * others would wait for this one. */
enum { FAIL_NONE, FAIL_COMM_DUP, FAIL_ALLREDUCE };
static int g_fail_mpi;

int MPI_Comm_dup(MPI_Comm comm, MPI_Comm *newcomm)
{
    if (g_fail_mpi == FAIL_COMM_DUP)
        return MPI_ERR_OTHER;
    return PMPI_Comm_dup(comm, newcomm);
}

int MPI_Allreduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype,
                  MPI_Op op, MPI_Comm comm)
{
    if (g_fail_mpi == FAIL_ALLREDUCE)
        return MPI_ERR_OTHER;
    return PMPI_Allreduce(sendbuf, recvbuf, count, datatype, op, comm);
}

#ifdef POOLMAP_TEST_MPI_ALLOC
void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void __real_free(void *p);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void __wrap_free(void *p);

static _Atomic int g_fail_alloc; /* while set, every malloc and calloc fails */
/* Allocations made minus frees (this rank): compared across one call only,
 * since what the library allocates otherwise (aligned_alloc) is not
 * counted, while its free is. */
static _Atomic long g_live_alloc;

void *__wrap_malloc(size_t size)
{
    void *p = g_fail_alloc ? NULL : __real_malloc(size);
    g_live_alloc += p != NULL;
    return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
    void *p = g_fail_alloc ? NULL : __real_calloc(n, size);
    g_live_alloc += p != NULL;
    return p;
}

void __wrap_free(void *p)
{
    g_live_alloc -= p != NULL;
    __real_free(p);
}
#endif

/* Deterministic randomness, the same sequence on every rank (xorshift64*). */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 2685821657736338717u;
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void spin_ns(int64_t ns)
{
    int64_t end = now_ns() + ns;

    while (now_ns() < end)
        ;
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The pools a test runs on. "mixed" gives each rank a different kind: a pool
 * of 2, a NULL pool (serial), a pool of 1, in turn. */
enum pools { ALL_NULL, ALL_TWO, MIXED, NPOOLS };
static const char *const pools_name[] = { "NULL pools", "pools of 2", "mixed pools" };

static pool_t *pool_for_rank(enum pools kind)
{
    static const size_t mixed[] = { 2, 0, 1 };
    size_t threads = kind == ALL_NULL ? 0 : kind == ALL_TWO ? 2 : mixed[g_rank % 3];
    pool_t *pool = threads ? pool_create(threads) : NULL;

    if (threads && pool == NULL) {
        perror("pool_create");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    return pool;
}

static const char *flags_name(unsigned flags)
{
    static char buf[64];

    snprintf(buf, sizeof buf, "%s,%s,%s", flags & POOL_MPI_IN_ALL ? "in-all" : "in-root",
             flags & POOL_MPI_OUT_ALL ? "out-all" : "out-root",
             flags & POOL_MPI_STATIC ? "static" : "dynamic");
    return buf;
}

/* ------------------------------------------------------------------------ */
/* The map under test                                                       */
/* ------------------------------------------------------------------------ */

/* Input element: its index, recoverable from the value. */
static uint64_t input_of(size_t i)
{
    return (uint64_t)i * 7 + 3;
}

typedef struct result {
    uint64_t square; /* input * input + 1 */
    uint32_t index;
    int32_t rank; /* the rank that ran the item */
} result;

typedef struct tctx {
    atomic_uint *counts;  /* per item, runs on this rank */
    size_t n;
    const size_t *fail;   /* items that fail with status 1000 + index */
    size_t nfail;
    int64_t spin_ns;      /* every item spins this long */
    int slow_rank;        /* items on this rank sleep slow_ns first */
    int64_t slow_ns;
    const uint64_t *in_base; /* with POOL_MPI_IN_ALL: where `in` must point */
    atomic_uint bad;      /* items with an input out of range */
} tctx;

static int map_fn(void *arg, const void *in, void *out)
{
    tctx *t = arg;
    uint64_t v;
    size_t i;

    memcpy(&v, in, sizeof v);
    i = (size_t)((v - 3) / 7);
    if (v < 3 || (v - 3) % 7 != 0 || i >= t->n ||
        (t->in_base && (const uint64_t *)in != t->in_base + i)) {
        atomic_fetch_add(&t->bad, 1);
        return 0;
    }
    atomic_fetch_add_explicit(&t->counts[i], 1, memory_order_relaxed);
    if (t->spin_ns)
        spin_ns(t->spin_ns);
    if (t->slow_rank == g_rank)
        sleep_ns(t->slow_ns);
    for (size_t k = 0; k < t->nfail; k++)
        if (t->fail[k] == i)
            return 1000 + (int)i;
    result r = { v * v + 1, (uint32_t)i, g_rank };
    memcpy(out, &r, sizeof r);
    return 0;
}

static void tctx_init(tctx *t, size_t n)
{
    memset(t, 0, sizeof *t);
    t->n = n;
    t->counts = xmalloc((n ? n : 1) * sizeof *t->counts);
    for (size_t i = 0; i < (n ? n : 1); i++)
        atomic_init(&t->counts[i], 0);
    t->slow_rank = -1;
    atomic_init(&t->bad, 0);
}

/* Runs of each item summed over the ranks, on every rank. */
static unsigned *global_counts(tctx *t)
{
    size_t n = t->n ? t->n : 1;
    unsigned *c = xmalloc(n * sizeof *c);

    for (size_t i = 0; i < n; i++)
        c[i] = atomic_load(&t->counts[i]);
    MPI_Allreduce(MPI_IN_PLACE, c, (int)n, MPI_UNSIGNED, MPI_SUM, MPI_COMM_WORLD);
    return c;
}

static uint64_t *inputs_new(size_t n)
{
    uint64_t *in = xmalloc((n ? n : 1) * sizeof *in);

    for (size_t i = 0; i < n; i++)
        in[i] = input_of(i);
    return in;
}

#define SENTINEL 0xA5

static result *outputs_new(size_t n)
{
    result *out = xmalloc((n ? n : 1) * sizeof *out);

    memset(out, SENTINEL, (n ? n : 1) * sizeof *out);
    return out;
}

static int untouched(const void *p, size_t len)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < len; i++)
        if (b[i] != SENTINEL)
            return 0;
    return 1;
}

static int result_right(const result *r, size_t i)
{
    uint64_t v = input_of(i);

    return r->square == v * v + 1 && r->index == i && r->rank >= 0 && r->rank < g_size;
}

/* Does this rank get the results? */
static int gets_results(unsigned flags, int root, int rank)
{
    return (flags & POOL_MPI_OUT_ALL) || rank == root;
}

/* One call on MPI_COMM_WORLD with the given failing items; checks the whole
 * contract on every rank. */
static void run_and_check(pool_t *pool, unsigned flags, int root, size_t chunk, size_t n,
                          const size_t *fail, size_t nfail)
{
    int in_here = (flags & POOL_MPI_IN_ALL) || g_rank == root;
    uint64_t *in = in_here ? inputs_new(n) : NULL;
    result *out = outputs_new(n);
    pool_mpi_opts opts = POOL_MPI_OPTS_INIT;
    tctx t;
    size_t lowest = SIZE_MAX;

    tctx_init(&t, n);
    t.fail = fail;
    t.nfail = nfail;
    if (flags & POOL_MPI_IN_ALL)
        t.in_base = in;
    for (size_t k = 0; k < nfail; k++)
        if (fail[k] < lowest)
            lowest = fail[k];
    opts.root = root;
    opts.flags = flags;
    opts.chunk = chunk;
    opts.failed_index = 12345; /* must be overwritten */

    int rc = pool_map_mpi(pool, map_fn, &t, in, sizeof *in, out, sizeof *out, n,
                          MPI_COMM_WORLD, &opts);
    unsigned *c = global_counts(&t);
    size_t limit = lowest < n ? lowest : n;

    CHECK_EQ(atomic_load(&t.bad), 0);
    if (lowest < n) {
        CHECK_EQ(rc, 1000 + (int)lowest);
        CHECK_EQ(opts.failed_index, lowest);
        CHECK_EQ(c[lowest], 1);
    } else {
        CHECK_EQ(rc, 0);
        CHECK_EQ(opts.failed_index, POOL_NO_INDEX);
    }
    /* Every item below the failure ran exactly once; none ran twice. */
    for (size_t i = 0; i < n; i++) {
        if (i < limit && c[i] != 1) {
            char m[80];
            snprintf(m, sizeof m, "item %zu ran %u times, want 1", i, c[i]);
            fail_at(__LINE__, m);
        } else if (c[i] > 1) {
            char m[80];
            snprintf(m, sizeof m, "item %zu ran %u times", i, c[i]);
            fail_at(__LINE__, m);
        }
    }
    if (gets_results(flags, root, g_rank)) {
        for (size_t i = 0; i < limit; i++)
            if (!result_right(&out[i], i)) {
                char m[80];
                snprintf(m, sizeof m, "result %zu is wrong", i);
                fail_at(__LINE__, m);
                break;
            }
    } else {
        CHECK(untouched(out, n * sizeof *out));
    }
    free(c);
    free(t.counts);
    free(in);
    free(out);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */
/* ------------------------------------------------------------------------ */

static const unsigned all_flags[] = {
    0,
    POOL_MPI_IN_ALL,
    POOL_MPI_OUT_ALL,
    POOL_MPI_IN_ALL | POOL_MPI_OUT_ALL,
    POOL_MPI_STATIC,
    POOL_MPI_STATIC | POOL_MPI_IN_ALL,
    POOL_MPI_STATIC | POOL_MPI_OUT_ALL,
    POOL_MPI_STATIC | POOL_MPI_IN_ALL | POOL_MPI_OUT_ALL,
};
#define NFLAGS (sizeof all_flags / sizeof all_flags[0])

/* POOLMAP_TEST_SCALE=k runs the sweeps k times, each time pairing the
 * modes with other pools, chunks and roots (default 1). Every collective
 * costs a scheduler time slice when there are more ranks than cores, so a
 * sweep pairs its dimensions in rotation rather than in full product. */
static unsigned scale(void)
{
    const char *s = getenv("POOLMAP_TEST_SCALE");
    unsigned long v = s ? strtoul(s, NULL, 10) : 1;

    return v > 0 && v < 1000 ? (unsigned)v : 1;
}

/* Scatter from the root or replicated input, gather to the root or to all,
 * static or dynamic, on prime and tiny sizes (n = 0, and n below the number
 * of ranks), every kind of pool, root first or last, automatic and fixed
 * chunks: every result right where it goes, each item run exactly once. */
static void results_right_every_mode_each_item_once(void)
{
    static const size_t sizes[] = { 0, 1, 2, 3, 5, 97, 1000, 4099 };
    static const size_t chunks[] = { 0, 1, 7 };
    pool_t *pools[NPOOLS];
    unsigned turn = 0;

    for (int kind = 0; kind < NPOOLS; kind++)
        pools[kind] = pool_for_rank((enum pools)kind);
    for (unsigned rep = 0; rep < scale(); rep++)
        for (size_t f = 0; f < NFLAGS; f++)
            for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
                for (int root = 0; root < g_size; root += g_size - 1, turn++) {
                    int kind = (int)(turn % NPOOLS);
                    size_t chunk = chunks[turn / NPOOLS % 3];
                    where("%s, %s, n=%zu, chunk=%zu, root=%d", pools_name[kind],
                          flags_name(all_flags[f]), sizes[s], chunk, root);
                    run_and_check(pools[kind], all_flags[f], root, chunk, sizes[s], NULL, 0);
                }
    for (int kind = 0; kind < NPOOLS; kind++)
        pool_destroy(pools[kind]);
}

/* Planted failures anywhere (first item, last item, on the root's chunks or
 * another rank's, several at once): every rank returns the lowest one's
 * status and index; everything below it ran once and its result is there. */
static void failures_lowest_index_wins(void)
{
    static const size_t sizes[] = { 1, 50, 401 };
    static const size_t chunks[] = { 0, 1, 5 };
    static const size_t counts[6] = { 1, 1, 1, 2, 3, 3 };
    uint64_t seed = 42;
    pool_t *pools[NPOOLS];
    unsigned turn = 0;

    for (int kind = 0; kind < NPOOLS; kind++)
        pools[kind] = pool_for_rank((enum pools)kind);
    for (unsigned rep = 0; rep < scale(); rep++)
        for (size_t f = 0; f < NFLAGS; f++)
            for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
                size_t n = sizes[s];
                size_t sets[6][3] = {
                    { 0 }, { n - 1 }, { n / 2 }, { n / 3, 2 * n / 3 },
                    { (size_t)(rng_next(&seed) % n), (size_t)(rng_next(&seed) % n),
                      (size_t)(rng_next(&seed) % n) },
                    { n - 1, n / 2, n / 4 },
                };
                for (int set = 0; set < 6; set++, turn++) {
                    int kind = (int)(turn % NPOOLS), root = (int)(turn % (unsigned)g_size);
                    size_t chunk = chunks[turn / NPOOLS % 3];
                    where("%s, %s, n=%zu, chunk=%zu, root=%d, failures {%zu,%zu,%zu}[:%zu]",
                          pools_name[kind], flags_name(all_flags[f]), n, chunk, root,
                          sets[set][0], sets[set][1], sets[set][2], counts[set]);
                    run_and_check(pools[kind], all_flags[f], root, chunk, n, sets[set],
                                  counts[set]);
                }
            }
    for (int kind = 0; kind < NPOOLS; kind++)
        pool_destroy(pools[kind]);
}

/* Once item 0 has failed, no new chunk is dealt above it: of 2000 items of
 * 200 microseconds, dealt one or four at a time, only a handful run. */
static void no_chunk_dealt_above_a_known_failure(void)
{
    const size_t n = 2000, fail = 0;

    for (size_t f = 0; f < NFLAGS; f += 2) { /* in-root and in-all alike */
        for (size_t chunk = 1; chunk <= 4; chunk += 3) {
            uint64_t *in = inputs_new(n);
            result *out = outputs_new(n);
            pool_mpi_opts opts = POOL_MPI_OPTS_INIT;
            tctx t;

            where("%s, chunk=%zu", flags_name(all_flags[f]), chunk);
            tctx_init(&t, n);
            t.fail = &fail;
            t.nfail = 1;
            t.spin_ns = 200000;
            opts.flags = all_flags[f];
            opts.chunk = chunk;
            int rc = pool_map_mpi(NULL, map_fn, &t, in, sizeof *in, out, sizeof *out, n,
                                  MPI_COMM_WORLD, &opts);
            unsigned *c = global_counts(&t);
            size_t ran = 0;
            for (size_t i = 0; i < n; i++)
                ran += c[i];
            CHECK_EQ(rc, 1000);
            CHECK_EQ(opts.failed_index, 0);
            CHECK(ran < n / 10);
            if (g_rank == 0 && ran >= n / 10)
                fprintf(stderr, "  %zu of %zu items ran\n", ran, n);
            free(c);
            free(t.counts);
            free(in);
            free(out);
        }
    }
}

/* Arguments that differ between ranks: EINVAL on every rank, at once (no
 * hang: ctest's timeout would fail the test), nothing called. */
static void mismatched_arguments_einval_on_every_rank(void)
{
    enum { N = 10 };
    uint64_t in[N + 1];
    result out[N + 1];
    tctx t;
    int last = g_rank == g_size - 1;

    for (size_t i = 0; i <= N; i++)
        in[i] = input_of(i);
    tctx_init(&t, N + 1);
    for (int what = 0; what < 6; what++) {
        pool_mpi_opts opts = POOL_MPI_OPTS_INIT;
        size_t n = N, in_size = sizeof *in, out_size = sizeof *out;
        static const char *const names[] = { "n", "in_size", "out_size", "flags", "root",
                                             "chunk" };
        where("%s differs on the last rank", names[what]);
        if (last) {
            switch (what) {
            case 0: n = N + 1; break;
            case 1: in_size = sizeof *in - 1; break;
            case 2: out_size = sizeof *out + 1; break;
            case 3: opts.flags = POOL_MPI_STATIC; break;
            case 4: opts.root = 1; break;
            default: opts.chunk = 3; break;
            }
        }
        opts.failed_index = 7;
        int rc = pool_map_mpi(NULL, map_fn, &t, in, in_size, out, out_size, n,
                              MPI_COMM_WORLD, &opts);
        CHECK_EQ(rc, EINVAL);
        CHECK_EQ(opts.failed_index, POOL_NO_INDEX);
    }
    unsigned *c = global_counts(&t);
    for (size_t i = 0; i <= N; i++)
        CHECK_EQ(c[i], 0);
    free(c);
    free(t.counts);
}

/* One rank's bad argument fails the call on every rank, with one code. */
static void bad_argument_on_one_rank_fails_every_rank(void)
{
    enum { N = 10 };
    uint64_t in[N];
    result out[N];
    tctx t;
    int last = g_rank == g_size - 1, root = g_rank == 0;
    int rc;

    for (size_t i = 0; i < N; i++)
        in[i] = input_of(i);
    tctx_init(&t, N);
    pool_mpi_opts opts = POOL_MPI_OPTS_INIT;

    where("NULL fn on the last rank");
    rc = pool_map_mpi(NULL, last ? NULL : map_fn, &t, in, sizeof *in, out, sizeof *out, N,
                      MPI_COMM_WORLD, NULL);
    CHECK_EQ(rc, EINVAL);

    where("NULL in on the root");
    rc = pool_map_mpi(NULL, map_fn, &t, root ? NULL : in, sizeof *in, out, sizeof *out, N,
                      MPI_COMM_WORLD, NULL);
    CHECK_EQ(rc, EINVAL);

    where("NULL in on the last rank, with POOL_MPI_IN_ALL");
    opts.flags = POOL_MPI_IN_ALL;
    rc = pool_map_mpi(NULL, map_fn, &t, last ? NULL : in, sizeof *in, out, sizeof *out, N,
                      MPI_COMM_WORLD, &opts);
    CHECK_EQ(rc, EINVAL);

    where("NULL out on the root");
    rc = pool_map_mpi(NULL, map_fn, &t, in, sizeof *in, root ? NULL : out, sizeof *out, N,
                      MPI_COMM_WORLD, NULL);
    CHECK_EQ(rc, EINVAL);

    where("NULL out on the last rank, with POOL_MPI_OUT_ALL");
    opts.flags = POOL_MPI_OUT_ALL;
    rc = pool_map_mpi(NULL, map_fn, &t, in, sizeof *in, last ? NULL : out, sizeof *out, N,
                      MPI_COMM_WORLD, &opts);
    CHECK_EQ(rc, EINVAL);

    where("an unknown flag on every rank");
    opts.flags = 1u << 7;
    rc = pool_map_mpi(NULL, map_fn, &t, in, sizeof *in, out, sizeof *out, N,
                      MPI_COMM_WORLD, &opts);
    CHECK_EQ(rc, EINVAL);

    opts.flags = 0;
    for (int r = -1; r <= g_size; r += g_size + 1) {
        where("root %d on every rank", r);
        opts.root = r;
        rc = pool_map_mpi(NULL, map_fn, &t, in, sizeof *in, out, sizeof *out, N,
                          MPI_COMM_WORLD, &opts);
        CHECK_EQ(rc, EINVAL);
    }

    where("n * in_size overflows");
    rc = pool_map_mpi(NULL, map_fn, &t, in, sizeof *in, out, 0, SIZE_MAX / 4,
                      MPI_COMM_WORLD, NULL);
    CHECK_EQ(rc, EOVERFLOW);

    where("an element larger than POOL_MPI_ELEMENT_MAX");
    rc = pool_map_mpi(NULL, map_fn, &t, in, POOL_MPI_ELEMENT_MAX + 1, out, sizeof *out, 1,
                      MPI_COMM_WORLD, NULL);
    CHECK_EQ(rc, EOVERFLOW);

    where("n * out_size overflows");
    rc = pool_map_mpi(NULL, map_fn, &t, in, 0, out, sizeof *out, SIZE_MAX / 4,
                      MPI_COMM_WORLD, NULL);
    CHECK_EQ(rc, EOVERFLOW);

    where("a result larger than POOL_MPI_ELEMENT_MAX");
    rc = pool_map_mpi(NULL, map_fn, &t, in, sizeof *in, out, POOL_MPI_ELEMENT_MAX + 1, 1,
                      MPI_COMM_WORLD, NULL);
    CHECK_EQ(rc, EOVERFLOW);

    where("EINVAL on the last rank, EOVERFLOW on the others: the larger everywhere");
    rc = pool_map_mpi(NULL, last ? NULL : map_fn, &t, in, sizeof *in, out, sizeof *out,
                      SIZE_MAX / 4, MPI_COMM_WORLD, NULL);
    CHECK_EQ(rc, EINVAL > EOVERFLOW ? EINVAL : EOVERFLOW);

    where("MPI_COMM_NULL");
    rc = pool_map_mpi(NULL, map_fn, &t, in, sizeof *in, out, sizeof *out, N,
                      MPI_COMM_NULL, NULL);
    CHECK_EQ(rc, EINVAL);

    /* An intercommunicator between the even and the odd ranks. */
    where("an intercommunicator");
    MPI_Comm half, inter;
    MPI_Comm_split(MPI_COMM_WORLD, g_rank % 2, g_rank, &half);
    MPI_Intercomm_create(half, 0, MPI_COMM_WORLD, g_rank % 2 ? 0 : 1, 77, &inter);
    rc = pool_map_mpi(NULL, map_fn, &t, in, sizeof *in, out, sizeof *out, N, inter, NULL);
    CHECK_EQ(rc, EINVAL);
    MPI_Comm_free(&inter);
    MPI_Comm_free(&half);

    where("NULL in and out where they are not read: fine");
    memset(out, 0, sizeof out);
    rc = pool_map_mpi(NULL, map_fn, &t, root ? in : NULL, sizeof *in, root ? out : NULL,
                      sizeof *out, N, MPI_COMM_WORLD, NULL);
    CHECK_EQ(rc, 0);
    if (root)
        for (size_t i = 0; i < N; i++)
            CHECK(result_right(&out[i], i));

    unsigned *c = global_counts(&t);
    for (size_t i = 0; i < N; i++)
        CHECK_EQ(c[i], 1); /* only the last call ran anything */
    free(c);
    free(t.counts);
}

/* n == 0: 0, nothing called, NULL arrays fine everywhere. */
static void zero_items_call_nothing(void)
{
    tctx t;

    tctx_init(&t, 0);
    for (size_t f = 0; f < NFLAGS; f++) {
        pool_mpi_opts opts = POOL_MPI_OPTS_INIT;
        where("%s", flags_name(all_flags[f]));
        opts.flags = all_flags[f];
        opts.failed_index = 3;
        int rc = pool_map_mpi(NULL, map_fn, &t, NULL, sizeof(uint64_t), NULL, sizeof(result),
                              0, MPI_COMM_WORLD, &opts);
        CHECK_EQ(rc, 0);
        CHECK_EQ(opts.failed_index, POOL_NO_INDEX);
    }
    CHECK_EQ(atomic_load(&t.counts[0]), 0);
    free(t.counts);
}

/* With POOL_MPI_STATIC, rank r runs exactly the items of its block
 * [r*n/P, (r+1)*n/P), whatever the root and the chunk. */
static void static_split_runs_each_block_on_its_rank(void)
{
    static const size_t sizes[] = { 2, 10, 1001 };
    pool_t *pool = pool_for_rank(MIXED);

    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        for (size_t chunk = 0; chunk <= 3; chunk += 3) {
            size_t n = sizes[s];
            uint64_t *in = inputs_new(n);
            result *out = outputs_new(n);
            pool_mpi_opts opts = POOL_MPI_OPTS_INIT;
            tctx t;

            where("n=%zu, chunk=%zu", n, chunk);
            tctx_init(&t, n);
            opts.flags = POOL_MPI_STATIC | POOL_MPI_OUT_ALL;
            opts.root = g_size - 1;
            opts.chunk = chunk;
            CHECK_EQ(pool_map_mpi(pool, map_fn, &t, in, sizeof *in, out, sizeof *out, n,
                                  MPI_COMM_WORLD, &opts), 0);
            for (int r = 0; r < g_size; r++) {
                size_t b = (size_t)r * n / (size_t)g_size, e = (size_t)(r + 1) * n / (size_t)g_size;
                for (size_t i = b; i < e; i++)
                    if (out[i].rank != r) {
                        char m[80];
                        snprintf(m, sizeof m, "item %zu ran on rank %d, not %d", i,
                                 (int)out[i].rank, r);
                        fail_at(__LINE__, m);
                        break;
                    }
            }
            free(t.counts);
            free(in);
            free(out);
        }
    pool_destroy(pool);
}

/* Dynamic dealing feeds the fast ranks: when every item takes 2 ms on one
 * rank (not the root: see "Threads and MPI" in poolmap_mpi.h) and nothing
 * on the others, that rank runs few items; the static split gives it its
 * whole block. */
static void dynamic_gives_slow_rank_fewer_items(void)
{
    const size_t n = 600;
    const int slow = g_size - 1;

    {
        for (int st = 0; st < 2; st++) {
            uint64_t *in = inputs_new(n);
            result *out = outputs_new(n);
            pool_mpi_opts opts = POOL_MPI_OPTS_INIT;
            tctx t;
            size_t on_slow = 0;

            where("slow rank %d, %s", slow, st ? "static" : "dynamic");
            tctx_init(&t, n);
            t.slow_rank = slow;
            t.slow_ns = 2000000;
            t.spin_ns = 5000;
            opts.flags = POOL_MPI_OUT_ALL | (st ? POOL_MPI_STATIC : 0);
            opts.chunk = 1;
            CHECK_EQ(pool_map_mpi(NULL, map_fn, &t, in, sizeof *in, out, sizeof *out, n,
                                  MPI_COMM_WORLD, &opts), 0);
            for (size_t i = 0; i < n; i++)
                on_slow += out[i].rank == slow;
            if (st) {
                size_t b = (size_t)slow * n / (size_t)g_size;
                size_t e = (size_t)(slow + 1) * n / (size_t)g_size;
                CHECK_EQ(on_slow, e - b);
            } else {
                CHECK(on_slow < n / (4 * (size_t)g_size));
                if (g_rank == 0 && on_slow >= n / (4 * (size_t)g_size))
                    fprintf(stderr, "  slow rank ran %zu of %zu\n", on_slow, n);
            }
            free(t.counts);
            free(in);
            free(out);
        }
    }
}

/* A communicator other than MPI_COMM_WORLD (ranks in reverse order), its
 * last rank as root, and application messages on it with the same tags
 * pool_map_mpi might use: they are neither taken nor disturbed. */
static void split_communicator_and_foreign_messages(void)
{
    MPI_Comm rev;
    int rank, size;
    const size_t n = 333;

    MPI_Comm_split(MPI_COMM_WORLD, 0, g_size - g_rank, &rev);
    MPI_Comm_rank(rev, &rank);
    MPI_Comm_size(rev, &size);
    CHECK_EQ(rank, g_size - 1 - g_rank);

    for (size_t f = 0; f < NFLAGS; f++) {
        int sent[4] = { 11, 22, 33, 44 }, got[4] = { 0 };
        MPI_Request req[4];
        uint64_t *in = inputs_new(n);
        result *out = outputs_new(n);
        pool_mpi_opts opts = POOL_MPI_OPTS_INIT;
        tctx t;

        where("%s", flags_name(all_flags[f]));
        tctx_init(&t, n);
        /* Every rank sends one message per tag 1..4 to the next rank. */
        for (int tag = 1; tag <= 4; tag++)
            MPI_Isend(&sent[tag - 1], 1, MPI_INT, (rank + 1) % size, tag, rev, &req[tag - 1]);
        opts.flags = all_flags[f];
        opts.root = size - 1;
        CHECK_EQ(pool_map_mpi(NULL, map_fn, &t, in, sizeof *in, out, sizeof *out, n, rev,
                              &opts), 0);
        for (int tag = 1; tag <= 4; tag++)
            MPI_Recv(&got[tag - 1], 1, MPI_INT, (rank + size - 1) % size, tag, rev,
                     MPI_STATUS_IGNORE);
        MPI_Status st[4]; /* not MPI_STATUSES_IGNORE: see src/mpi/map_mpi.c */
        MPI_Waitall(4, req, st);
        for (int k = 0; k < 4; k++)
            CHECK_EQ(got[k], sent[k]);
        if (gets_results(all_flags[f], size - 1, rank))
            for (size_t i = 0; i < n; i++)
                CHECK(result_right(&out[i], i));
        unsigned *c = global_counts(&t);
        for (size_t i = 0; i < n; i++)
            CHECK_EQ(c[i], 1);
        free(c);
        free(t.counts);
        free(in);
        free(out);
    }
    MPI_Comm_free(&rev);
}

/* Results gathered to every rank, then the ordinary pool_unzip on each. */
typedef struct pair {
    double half;
    int32_t neg;
} pair;

static int pair_fn(void *ctx, const void *in, void *out)
{
    int32_t v = *(const int32_t *)in;
    pair p = { v / 2.0, -v };

    (void)ctx;
    *(pair *)out = p;
    return 0;
}

static void gather_then_pool_unzip(void)
{
    const size_t n = 777;
    int32_t *in = xmalloc(n * sizeof *in);
    pair *tuples = xmalloc(n * sizeof *tuples);
    double *halves = xmalloc(n * sizeof *halves);
    int32_t *negs = xmalloc(n * sizeof *negs);
    pool_t *pool = pool_for_rank(ALL_TWO);
    pool_mpi_opts opts = POOL_MPI_OPTS_INIT;

    where("in-root, out-all, dynamic");
    for (size_t i = 0; i < n; i++)
        in[i] = (int32_t)i;
    opts.flags = POOL_MPI_OUT_ALL;
    CHECK_EQ(pool_map_mpi(pool, pair_fn, NULL, in, sizeof *in, tuples, sizeof *tuples, n,
                          MPI_COMM_WORLD, &opts), 0);
    pool_column cols[] = { POOL_COLUMN(pair, half, halves), POOL_COLUMN(pair, neg, negs) };
    CHECK_EQ(pool_unzip(pool, tuples, sizeof *tuples, n, cols, 2), 0);
    for (size_t i = 0; i < n; i++) {
        CHECK(halves[i] == (double)i / 2.0);
        CHECK(negs[i] == -(int32_t)i);
    }
    pool_destroy(pool);
    free(in);
    free(tuples);
    free(halves);
    free(negs);
}

/* Elements of odd sizes, large enough that chunks are cut to the message
 * cap and transfers are big: 3001-byte inputs, 5-byte results. */
enum { BIG_IN = 3001, BIG_OUT = 5 };

static int big_fn(void *ctx, const void *in, void *out)
{
    const unsigned char *b = in;
    unsigned sum = 0;

    (void)ctx;
    for (size_t k = 0; k < BIG_IN; k++)
        sum = sum * 31 + b[k];
    memcpy(out, b, 1);
    memcpy((unsigned char *)out + 1, &sum, 4);
    return 0;
}

static void big_odd_sized_elements(void)
{
    const size_t n = 3000;
    unsigned char *in = xmalloc(n * BIG_IN), *out = xmalloc(n * BIG_OUT);
    pool_t *pool = pool_for_rank(MIXED);

    for (size_t i = 0; i < n * BIG_IN; i++)
        in[i] = (unsigned char)(i * 2654435761u >> 13);
    for (size_t f = 0; f < NFLAGS; f++) {
        pool_mpi_opts opts = POOL_MPI_OPTS_INIT;

        where("%s", flags_name(all_flags[f]));
        memset(out, 0, n * BIG_OUT);
        opts.flags = all_flags[f];
        CHECK_EQ(pool_map_mpi(pool, big_fn, NULL, in, BIG_IN, out, BIG_OUT, n,
                              MPI_COMM_WORLD, &opts), 0);
        if (!gets_results(all_flags[f], 0, g_rank))
            continue;
        for (size_t i = 0; i < n; i++) {
            unsigned char want[BIG_OUT];
            big_fn(NULL, in + i * BIG_IN, want);
            if (memcmp(want, out + i * BIG_OUT, BIG_OUT) != 0) {
                char m[80];
                snprintf(m, sizeof m, "result %zu is wrong", i);
                fail_at(__LINE__, m);
                break;
            }
        }
    }
    pool_destroy(pool);
    free(in);
    free(out);
}

/* in_size 0 and out_size 0: fn gets the rank's own pointers unchanged. */
typedef struct zctx {
    const void *in, *out;
    atomic_uint calls, wrong;
} zctx;

static int zero_size_fn(void *ctx, const void *in, void *out)
{
    zctx *z = ctx;

    atomic_fetch_add(&z->calls, 1);
    if (in != z->in || out != z->out)
        atomic_fetch_add(&z->wrong, 1);
    return 0;
}

static void zero_sized_elements_get_own_pointers(void)
{
    zctx z;
    char mine;

    for (size_t f = 0; f < NFLAGS; f++) {
        where("%s", flags_name(all_flags[f]));
        z.in = g_rank % 2 ? &mine : NULL;
        z.out = g_rank % 2 ? NULL : &mine;
        atomic_init(&z.calls, 0);
        atomic_init(&z.wrong, 0);
        pool_mpi_opts opts = POOL_MPI_OPTS_INIT;
        opts.flags = all_flags[f];
        CHECK_EQ(pool_map_mpi(NULL, zero_size_fn, &z, z.in, 0, (void *)z.out, 0, 100,
                              MPI_COMM_WORLD, &opts), 0);
        unsigned calls = atomic_load(&z.calls);
        MPI_Allreduce(MPI_IN_PLACE, &calls, 1, MPI_UNSIGNED, MPI_SUM, MPI_COMM_WORLD);
        CHECK_EQ(calls, 100);
        CHECK_EQ(atomic_load(&z.wrong), 0);
    }
}

/*
 * A chunk's size is capped by the bytes that travel, and only by those:
 * elements of size 0, and with POOL_MPI_IN_ALL the input (never sent),
 * leave chunks of many items, which each rank's pool of 2 shares. An item
 * waits (up to 20 ms) for a second item of its rank to run beside it; on
 * the ranks other than the root, which run one chunk at a time, a chunk of
 * one item always runs alone. Some items there must meet: with chunks
 * capped at one item, none did.
 */
typedef struct meet {
    atomic_uint inside, met, calls;
} meet;

static int meet_fn(void *ctx, const void *in, void *out)
{
    meet *m = ctx;
    int64_t end = now_ns() + 20000000;

    (void)in;
    (void)out;
    atomic_fetch_add(&m->calls, 1);
    atomic_fetch_add(&m->inside, 1);
    while (atomic_load(&m->inside) < 2 && now_ns() < end)
        ;
    if (atomic_load(&m->inside) >= 2)
        atomic_fetch_add(&m->met, 1);
    atomic_fetch_sub(&m->inside, 1);
    return 0;
}

static void chunks_are_capped_by_the_bytes_that_travel_only(void)
{
    static const struct {
        const char *name;
        size_t in_size, out_size, n;
        unsigned flags;
    } cases[] = {
        { "in_size 0, out_size 0, dynamic", 0, 0, 64, 0 },
        { "in_size 0, out_size 0, static", 0, 0, 64, POOL_MPI_STATIC },
        { "in-all, in_size 4 MiB, out_size 0", (size_t)4 << 20, 0, 12, POOL_MPI_IN_ALL },
    };
    pool_t *pool = pool_for_rank(ALL_TWO);

    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char *in = cases[k].in_size ? xmalloc(cases[k].n * cases[k].in_size) : NULL;
        pool_mpi_opts opts = POOL_MPI_OPTS_INIT;
        meet m;

        where("%s", cases[k].name);
        atomic_init(&m.inside, 0);
        atomic_init(&m.met, 0);
        atomic_init(&m.calls, 0);
        opts.flags = cases[k].flags;
        CHECK_EQ(pool_map_mpi(pool, meet_fn, &m, in, cases[k].in_size, NULL, cases[k].out_size,
                              cases[k].n, MPI_COMM_WORLD, &opts),
                 0);
        unsigned sums[2] = { atomic_load(&m.calls), g_rank ? atomic_load(&m.met) : 0 };
        MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_UNSIGNED, MPI_SUM, MPI_COMM_WORLD);
        CHECK_EQ(sums[0], cases[k].n);
        CHECK(sums[1] > 0);
        free(in);
    }
    pool_destroy(pool);
}

/* A communicator of one rank: the local pool_map_ex, same contract. */
static void one_rank_communicator(void)
{
    pool_t *pool = pool_for_rank(ALL_TWO);
    const size_t n = 500, fail[2] = { 321, 123 };

    for (int nf = 0; nf <= 2; nf += 2) {
        uint64_t *in = inputs_new(n);
        result *out = outputs_new(n);
        pool_mpi_opts opts = POOL_MPI_OPTS_INIT;
        tctx t;

        where("MPI_COMM_SELF, %d failures", nf);
        tctx_init(&t, n);
        t.fail = fail;
        t.nfail = (size_t)nf;
        int rc = pool_map_mpi(pool, map_fn, &t, in, sizeof *in, out, sizeof *out, n,
                              MPI_COMM_SELF, &opts);
        CHECK_EQ(rc, nf ? 1123 : 0);
        CHECK_EQ(opts.failed_index, nf ? 123 : POOL_NO_INDEX);
        for (size_t i = 0; i < (nf ? 123 : n); i++) {
            CHECK_EQ(atomic_load(&t.counts[i]), 1);
            CHECK(result_right(&out[i], i));
        }
        opts.root = 1;
        CHECK_EQ(pool_map_mpi(pool, map_fn, &t, in, sizeof *in, out, sizeof *out, n,
                              MPI_COMM_SELF, &opts), EINVAL);
        free(t.counts);
        free(in);
        free(out);
    }
    pool_destroy(pool);
}

/* An MPI call that fails on every rank: EIO everywhere, no item called,
 * opts.failed_index POOL_NO_INDEX, nothing leaked (the buffers are freed:
 * no transfer had begun), and the next call works. */
static void failed_mpi_call_gives_EIO_on_every_rank(void)
{
    static const struct {
        const char *name;
        int which;
    } faults[] = {
        { "MPI_Comm_dup fails on every rank", FAIL_COMM_DUP },
        { "the agreement's MPI_Allreduce fails on every rank", FAIL_ALLREDUCE },
    };
    enum { N = 300 };
    uint64_t *in = inputs_new(N);
    result *out = outputs_new(N);
    tctx t;

    tctx_init(&t, N);
    for (size_t k = 0; k < sizeof faults / sizeof *faults; k++) {
        pool_mpi_opts opts = POOL_MPI_OPTS_INIT;
        where("%s", faults[k].name);
#ifdef POOLMAP_TEST_MPI_ALLOC
        long live = g_live_alloc;
#endif
        g_fail_mpi = faults[k].which;
        int rc = pool_map_mpi(NULL, map_fn, &t, in, sizeof *in, out, sizeof *out, N,
                              MPI_COMM_WORLD, &opts);
        g_fail_mpi = FAIL_NONE;
        CHECK_EQ(rc, EIO);
        CHECK_EQ(opts.failed_index, POOL_NO_INDEX);
#ifdef POOLMAP_TEST_MPI_ALLOC
        CHECK_EQ(g_live_alloc, live);
#endif
        CHECK(untouched(out, N * sizeof *out));
    }
    unsigned *c = global_counts(&t);
    for (size_t i = 0; i < N; i++)
        CHECK_EQ(c[i], 0);
    free(c);

    where("a call after the failures");
    int rc = pool_map_mpi(NULL, map_fn, &t, in, sizeof *in, out, sizeof *out, N,
                          MPI_COMM_WORLD, NULL);
    CHECK_EQ(rc, 0);
    if (g_rank == 0)
        for (size_t i = 0; i < N; i++)
            CHECK(result_right(&out[i], i));
    free(t.counts);
    free(out);
    free(in);
}

#ifdef POOLMAP_TEST_MPI_ALLOC
/* A rank that cannot allocate its chunk buffers (the root its peers'
 * table): ENOMEM on every rank, agreed before any item runs, nothing
 * leaked on any rank. */
static void allocation_failure_on_one_rank_gives_ENOMEM_on_every_rank(void)
{
    enum { N = 300 };
    uint64_t *in = inputs_new(N);
    result *out = outputs_new(N);
    pool_t *pool = pool_for_rank(MIXED);
    tctx t;

    tctx_init(&t, N);
    for (int bad = 0; bad < g_size; bad++) {
        pool_mpi_opts opts = POOL_MPI_OPTS_INIT;
        where("allocations fail on rank %d", bad);
        long live = g_live_alloc;
        g_fail_alloc = g_rank == bad;
        int rc = pool_map_mpi(pool, map_fn, &t, in, sizeof *in, out, sizeof *out, N,
                              MPI_COMM_WORLD, &opts);
        g_fail_alloc = 0;
        CHECK_EQ(rc, ENOMEM);
        CHECK_EQ(opts.failed_index, POOL_NO_INDEX);
        CHECK_EQ(g_live_alloc, live);
        CHECK(untouched(out, N * sizeof *out));
    }
    unsigned *c = global_counts(&t);
    for (size_t i = 0; i < N; i++)
        CHECK_EQ(c[i], 0);
    free(c);
    free(t.counts);
    pool_destroy(pool);
    free(out);
    free(in);
}
#endif

/* Counts its calls (for the call after MPI_Finalize in main). */
static int count_calls_fn(void *ctx, const void *in, void *out)
{
    (void)in;
    (void)out;
    ++*(unsigned *)ctx;
    return 0;
}

/* ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {
#define T(f) { #f, f }
    T(results_right_every_mode_each_item_once),
    T(failures_lowest_index_wins),
    T(no_chunk_dealt_above_a_known_failure),
    T(mismatched_arguments_einval_on_every_rank),
    T(bad_argument_on_one_rank_fails_every_rank),
    T(zero_items_call_nothing),
    T(static_split_runs_each_block_on_its_rank),
    T(dynamic_gives_slow_rank_fewer_items),
    T(split_communicator_and_foreign_messages),
    T(gather_then_pool_unzip),
    T(big_odd_sized_elements),
    T(zero_sized_elements_get_own_pointers),
    T(chunks_are_capped_by_the_bytes_that_travel_only),
    T(one_rank_communicator),
    T(failed_mpi_call_gives_EIO_on_every_rank),
#ifdef POOLMAP_TEST_MPI_ALLOC
    T(allocation_failure_on_one_rank_gives_ENOMEM_on_every_rank),
#endif
#undef T
};

int main(int argc, char **argv)
{
    int provided, failed_tests = 0, ran = 0;

    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "MPI_Init_thread failed\n");
        return 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    if (g_rank == 0)
        printf("test_mpi: %d ranks, thread level %d\n", g_size, provided);
    if (provided < MPI_THREAD_FUNNELED) { /* what pool_map_mpi needs */
        if (g_rank == 0)
            printf("MPI gives a thread level below MPI_THREAD_FUNNELED\n");
        MPI_Finalize();
        return 1;
    }

    for (size_t k = 0; k < sizeof tests / sizeof *tests; k++) {
        if (argc > 1 && strcmp(argv[1], tests[k].name) != 0)
            continue;
        unsigned total;
        double t0 = MPI_Wtime();
        g_failures = 0;
        g_where[0] = '\0';
        tests[k].fn();
        MPI_Allreduce(&g_failures, &total, 1, MPI_UNSIGNED, MPI_SUM, MPI_COMM_WORLD);
        if (g_rank == 0)
            printf("[%s] %s (%.2f s)\n", total ? "FAILED" : "  OK  ", tests[k].name,
                   MPI_Wtime() - t0);
        failed_tests += total != 0;
        ran++;
    }
    if (g_rank == 0) {
        if (ran == 0)
            printf("no test named %s\n", argv[1]);
        printf("%d of %d tests failed\n", failed_tests, ran);
    }
    fflush(stdout);
    MPI_Finalize();
    /* After MPI_Finalize: EINVAL, before any item runs. */
    unsigned calls = 0;
    uint64_t x = 1;
    result r;
    int late = pool_map_mpi(NULL, count_calls_fn, &calls, &x, sizeof x, &r, sizeof r, 1,
                            MPI_COMM_WORLD, NULL);
    if (late != EINVAL || calls != 0) {
        fprintf(stderr, "rank %d: pool_map_mpi after MPI_Finalize: %d, %u calls\n", g_rank,
                late, calls);
        return 1;
    }
    return failed_tests != 0 || ran == 0;
}
