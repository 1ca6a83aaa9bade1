/*
 * test_faults.c - fault injection: every allocation, thread start and event
 * fd the library makes can fail, and so (a separate test) can every mutex and
 * condition-variable initialisation. For each operation the test first
 * counts the fault sites K that a successful run passes through, then, for
 * every k < K, fails exactly the k-th and checks that
 *   - the call returns the documented error (NULL + errno for pool_create),
 *     ENOMEM for an allocation, EAGAIN for a thread start;
 *   - *future is untouched and no callback ran, then or later;
 *   - nothing leaked: live allocations, started-but-unjoined threads and
 *     open event fds are back where they were;
 *   - the pool still works (a map and an async task give the right results)
 *     and is destroyed cleanly.
 * Blocking calls are also checked to allocate nothing at all, as the header
 * promises; and a slowed-down write() checks that a future's completion fd
 * is readable as soon as the future is done, and that once it is readable
 * every query and zero-timeout wait says done.
 *
 * How: only this executable is linked with -Wl,--wrap=malloc,... (see
 * tests/CMakeLists.txt), so every reference to those functions from this file
 * and from the static library reaches the __wrap_ functions below, which call
 * the real ones through __real_ (libc's, or a sanitizer's or valgrind's
 * replacement: those intercept the symbol itself, so the wrap works in every
 * build). Faults are injected only while a window is armed around the one
 * library call under test; outside it the wrappers only keep the balances.
 * The ctest `fault_sites_wrapped` (fault_sites.cmake) fails if the library
 * starts calling an allocator or resource function not wrapped here.
 */
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/eventfd.h>
#endif

#include "test_util.h"

/* ------------------------------------------------------------------------ */
/* The wrappers                                                             */
/* ------------------------------------------------------------------------ */

enum site {
    S_MALLOC,
    S_CALLOC,
    S_REALLOC,
    S_ALIGNED_ALLOC,
    S_POSIX_MEMALIGN,
    S_PTHREAD_CREATE,
    S_EVENTFD,
    S_PIPE,
    S_MUTEX_INIT,
    S_COND_INIT,
    S_CONDATTR_INIT,
    S_CONDATTR_SETCLOCK,
    S_MUTEXATTR_INIT,
    S_COUNT
};

static const char *const site_names[S_COUNT] = {
    "malloc", "calloc", "realloc", "aligned_alloc", "posix_memalign",
    "pthread_create", "eventfd", "pipe", "pthread_mutex_init",
    "pthread_cond_init", "pthread_condattr_init", "pthread_condattr_setclock",
    "pthread_mutexattr_init",
};

#define BIT(s) (1u << (s))
/* Allocations, thread starts and fds: what a program runs out of. */
#define CLASS_RESOURCE                                                     \
    (BIT(S_MALLOC) | BIT(S_CALLOC) | BIT(S_REALLOC) | BIT(S_ALIGNED_ALLOC) | \
     BIT(S_POSIX_MEMALIGN) | BIT(S_PTHREAD_CREATE) | BIT(S_EVENTFD) |        \
     BIT(S_PIPE))
/* Initialisation of synchronisation objects: POSIX lets it fail (EAGAIN,
 * ENOMEM) although glibc's never does. */
#define CLASS_SYNC                                                         \
    (BIT(S_MUTEX_INIT) | BIT(S_COND_INIT) | BIT(S_CONDATTR_INIT) |          \
     BIT(S_CONDATTR_SETCLOCK) | BIT(S_MUTEXATTR_INIT))
#define CLASS_ALL (CLASS_RESOURCE | CLASS_SYNC)

#define NO_FAULT SIZE_MAX
#define LOG_MAX 64

/* The window: while armed, calls of the sites in `mask` are numbered from 0
 * (from any thread) and the one numbered fail_at fails. */
static struct {
    atomic_int armed;
    unsigned mask;
    size_t fail_at;
    atomic_size_t seen;
    atomic_size_t injected;
    atomic_int log[LOG_MAX]; /* site of each numbered call */
} win;

/* Balances, kept at all times. */
static atomic_long live_allocs;
static atomic_long live_threads;
static atomic_long live_fds;
#define FD_MAX 4096
static atomic_uchar fd_ours[FD_MAX]; /* opened through eventfd/pipe */

static void window_arm(unsigned mask, size_t fail_at)
{
    win.mask = mask;
    win.fail_at = fail_at;
    atomic_store(&win.seen, 0);
    atomic_store(&win.injected, 0);
    atomic_store(&win.armed, 1);
}

static void window_disarm(void)
{
    atomic_store(&win.armed, 0);
}

/* True when this call of site `s` is to fail. */
static int fault_hit(enum site s)
{
    size_t idx;

    if (!atomic_load(&win.armed) || !(win.mask & BIT(s)))
        return 0;
    idx = atomic_fetch_add(&win.seen, 1);
    if (idx < LOG_MAX)
        atomic_store(&win.log[idx], (int)s);
    if (idx != win.fail_at)
        return 0;
    atomic_fetch_add(&win.injected, 1);
    return 1;
}

static void fd_opened(int fd)
{
    if (fd >= 0 && fd < FD_MAX) {
        atomic_store(&fd_ours[fd], 1);
        atomic_fetch_add(&live_fds, 1);
    }
}

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__real_aligned_alloc(size_t align, size_t size);
int __real_posix_memalign(void **p, size_t align, size_t size);
void __real_free(void *p);
int __real_pthread_create(pthread_t *t, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg);
int __real_pthread_join(pthread_t t, void **ret);
int __real_eventfd(unsigned int initval, int flags);
int __real_pipe(int fds[2]);
int __real_close(int fd);
ssize_t __real_write(int fd, const void *buf, size_t n);
int __real_pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a);
int __real_pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a);
int __real_pthread_condattr_init(pthread_condattr_t *a);
int __real_pthread_mutexattr_init(pthread_mutexattr_t *a);
int __real_pthread_condattr_setclock(pthread_condattr_t *a, clockid_t clock);

/* Declared here: only --wrap refers to them (-Wmissing-prototypes). */
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
void *__wrap_aligned_alloc(size_t align, size_t size);
int __wrap_posix_memalign(void **p, size_t align, size_t size);
void __wrap_free(void *p);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg);
int __wrap_pthread_join(pthread_t t, void **ret);
int __wrap_eventfd(unsigned int initval, int flags);
int __wrap_pipe(int fds[2]);
int __wrap_close(int fd);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
int __wrap_pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a);
int __wrap_pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a);
int __wrap_pthread_condattr_init(pthread_condattr_t *a);
int __wrap_pthread_mutexattr_init(pthread_mutexattr_t *a);
int __wrap_pthread_condattr_setclock(pthread_condattr_t *a, clockid_t clock);

static void *counted(void *p)
{
    if (p)
        atomic_fetch_add(&live_allocs, 1);
    return p;
}

void *__wrap_malloc(size_t size)
{
    if (fault_hit(S_MALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return counted(__real_malloc(size));
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (fault_hit(S_CALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return counted(__real_calloc(n, size));
}

void *__wrap_realloc(void *p, size_t size)
{
    void *q;

    if (fault_hit(S_REALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    q = __real_realloc(p, size);
    if (p == NULL && q != NULL)
        atomic_fetch_add(&live_allocs, 1);
    else if (p != NULL && q == NULL && size == 0)
        atomic_fetch_sub(&live_allocs, 1); /* realloc(p, 0) freed p */
    return q;
}

void *__wrap_aligned_alloc(size_t align, size_t size)
{
    if (fault_hit(S_ALIGNED_ALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return counted(__real_aligned_alloc(align, size));
}

int __wrap_posix_memalign(void **p, size_t align, size_t size)
{
    int rc;

    if (fault_hit(S_POSIX_MEMALIGN))
        return ENOMEM;
    rc = __real_posix_memalign(p, align, size);
    if (rc == 0)
        counted(*p);
    return rc;
}

void __wrap_free(void *p)
{
    if (p)
        atomic_fetch_sub(&live_allocs, 1);
    __real_free(p);
}

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg)
{
    int rc;

    if (fault_hit(S_PTHREAD_CREATE))
        return EAGAIN;
    rc = __real_pthread_create(t, attr, fn, arg);
    if (rc == 0)
        atomic_fetch_add(&live_threads, 1);
    return rc;
}

int __wrap_pthread_join(pthread_t t, void **ret)
{
    int rc = __real_pthread_join(t, ret);

    if (rc == 0)
        atomic_fetch_sub(&live_threads, 1);
    return rc;
}

int __wrap_eventfd(unsigned int initval, int flags)
{
    int fd;

    if (fault_hit(S_EVENTFD)) {
        errno = EMFILE;
        return -1;
    }
    fd = __real_eventfd(initval, flags);
    fd_opened(fd);
    return fd;
}

int __wrap_pipe(int fds[2])
{
    if (fault_hit(S_PIPE)) {
        errno = EMFILE;
        return -1;
    }
    if (__real_pipe(fds) != 0)
        return -1;
    fd_opened(fds[0]);
    fd_opened(fds[1]);
    return 0;
}

int __wrap_close(int fd)
{
    if (fd >= 0 && fd < FD_MAX && atomic_exchange(&fd_ours[fd], 0))
        atomic_fetch_sub(&live_fds, 1);
    return __real_close(fd);
}

/* While set, writes to the library's event fds are slowed down: before
 * the write (DELAY_BEFORE) widens the window between a future's completion
 * and its fd becoming readable; after it (DELAY_AFTER), the window between
 * the fd becoming readable and the completing thread's next step. */
enum { DELAY_NONE, DELAY_BEFORE, DELAY_AFTER };
static atomic_int delay_event_writes;

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
    int delay = atomic_load(&delay_event_writes);
    int ours = fd >= 0 && fd < FD_MAX && atomic_load(&fd_ours[fd]);
    if (delay == DELAY_BEFORE && ours)
        tu_sleep_ns(TU_MS(50));
    ssize_t rc = __real_write(fd, buf, n);
    if (delay == DELAY_AFTER && ours)
        tu_sleep_ns(TU_MS(50));
    return rc;
}

/*
 * A failed init leaves the object zeroed (on glibc, the static initializer)
 * rather than garbage: should the library ignore the error and use it, the
 * test then reports the wrong return value instead of hanging on a lock.
 */
int __wrap_pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a)
{
    if (fault_hit(S_MUTEX_INIT)) {
        memset((void *)m, 0, sizeof *m);
        return EAGAIN;
    }
    return __real_pthread_mutex_init(m, a);
}

int __wrap_pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a)
{
    if (fault_hit(S_COND_INIT)) {
        memset((void *)c, 0, sizeof *c);
        return ENOMEM;
    }
    return __real_pthread_cond_init(c, a);
}

int __wrap_pthread_condattr_init(pthread_condattr_t *a)
{
    if (fault_hit(S_CONDATTR_INIT))
        return ENOMEM;
    return __real_pthread_condattr_init(a);
}

int __wrap_pthread_mutexattr_init(pthread_mutexattr_t *a)
{
    if (fault_hit(S_MUTEXATTR_INIT))
        return ENOMEM;
    return __real_pthread_mutexattr_init(a);
}

int __wrap_pthread_condattr_setclock(pthread_condattr_t *a, clockid_t clock)
{
    if (fault_hit(S_CONDATTR_SETCLOCK))
        return EINVAL;
    return __real_pthread_condattr_setclock(a, clock);
}

/* ------------------------------------------------------------------------ */
/* Balances                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct balance {
    long allocs, threads, fds;
} balance;

static balance balance_now(void)
{
    balance b = { atomic_load(&live_allocs), atomic_load(&live_threads),
                  atomic_load(&live_fds) };
    return b;
}

/* Problems found by a sweep: reported as they are found, asserted at the
 * end of the test, so that one bad site does not hide the others. */
static size_t problems;

static void problem(const char *fmt, ...)
{
    va_list ap;
    char msg[512];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    print_error("%s: %s\n", tu_where_buf(), msg);
    problems++;
}

static void check_balance(balance want, const char *when)
{
    balance b = balance_now();

    if (b.allocs != want.allocs)
        problem("%s: %ld allocations live, want %ld (leak or double free)", when,
                b.allocs, want.allocs);
    if (b.threads != want.threads)
        problem("%s: %ld threads started and not joined, want %ld", when,
                b.threads, want.threads);
    if (b.fds != want.fds)
        problem("%s: %ld event fds open, want %ld", when, b.fds, want.fds);
}

/* ------------------------------------------------------------------------ */
/* The operations                                                           */
/* ------------------------------------------------------------------------ */

#define OP_N 100

/* A pointer no call may write into *future on an error. */
static char untouched_obj;
#define UNTOUCHED ((pool_future_t *)(void *)&untouched_obj)

typedef struct fx {
    pool_t *pool;          /* set up before the window */
    unsigned flags;        /* pool_async_opts.flags */
    pool_future_t *future; /* out-parameter of the call */
    pool_future_t *held;   /* wait_any, future_fd: a future set up before */
    pool_t *created;       /* pool_create's result */
    tu_gate gate;          /* holds `held` running (wait_any) */
    atomic_uint runs;      /* callbacks of the call under test */
    uint32_t in[OP_N];
    uint64_t out[OP_N];
    int fd;
    int raw_rc;            /* pool_wait_any's own return value */
} fx;

static uint64_t op_value(uint32_t x)
{
    return (uint64_t)x * 3 + 7;
}

static int op_map(void *ctx, const void *in, void *out)
{
    fx *f = ctx;

    tu_bump(&f->runs);
    *(uint64_t *)out = op_value(*(const uint32_t *)in);
    return 0;
}

static int op_for(void *ctx, size_t i)
{
    fx *f = ctx;

    tu_bump(&f->runs);
    f->out[i] = op_value(f->in[i]);
    return 0;
}

static int op_task(void *ctx)
{
    fx *f = ctx;

    tu_bump(&f->runs);
    f->out[0] = 42;
    return 0;
}

static int gated_task(void *ctx)
{
    tu_gate_pass(ctx);
    return 0;
}

static int store_task(void *ctx)
{
    *(int *)ctx = 4242;
    return 0;
}

enum kind {
    K_CREATE,
    K_SUBMIT,
    K_MAP_ASYNC,
    K_FOR_ASYNC,
    K_WAIT_ANY,
    K_FUTURE_FD
};

typedef struct op {
    enum kind kind;
    size_t nthreads; /* the pool: created by the call (K_CREATE) or set up */
    int null_pool;   /* set up no pool: a NULL pool */
    int warm;        /* pool of 1: start its async worker before the window */
    unsigned flags;  /* pool_async_opts.flags */
} op;

static const char *op_name(const op *o)
{
    static char buf[128];
    static const char *const kinds[] = { "pool_create", "pool_submit",
                                         "pool_map_async", "pool_for_async",
                                         "pool_wait_any", "pool_future_fd" };
    char pool[48];

    if (o->null_pool)
        snprintf(pool, sizeof pool, "NULL pool");
    else
        snprintf(pool, sizeof pool, "pool of %zu%s", o->nthreads,
                 o->nthreads == 1 ? (o->warm ? ", worker started" : ", no worker yet")
                                  : "");
    if (o->kind == K_CREATE)
        snprintf(buf, sizeof buf, "pool_create(%zu)", o->nthreads);
    else
        snprintf(buf, sizeof buf, "%s on a %s%s", kinds[o->kind], pool,
                 o->flags & POOL_ASYNC_CHUNKS ? ", POOL_ASYNC_CHUNKS" : "");
    return buf;
}

/* Items a successful call runs. */
static unsigned op_items(const op *o)
{
    switch (o->kind) {
    case K_SUBMIT: return 1;
    case K_MAP_ASYNC:
    case K_FOR_ASYNC: return OP_N;
    default: return 0;
    }
}

static void fx_setup(fx *f, const op *o)
{
    size_t i;

    memset(f, 0, sizeof *f);
    atomic_init(&f->runs, 0);
    f->future = UNTOUCHED;
    f->flags = o->flags;
    f->fd = -1;
    for (i = 0; i < OP_N; i++)
        f->in[i] = (uint32_t)(i * 13 + 1);
    if (o->kind == K_CREATE || o->null_pool)
        return;
    f->pool = tu_pool_open(o->nthreads);
    if (o->warm) {
        long before = atomic_load(&live_allocs);
        int64_t end = tu_now_ns() + TU_WAIT_NS;
        int value = 0;
        pool_future_t *w = NULL;

        assert_int_equal(pool_submit(f->pool, store_task, &value, NULL, &w), 0);
        assert_int_equal(pool_future_wait(w, POOL_FOREVER), 0);
        pool_future_free(w);
        /* The worker lets go of the future a moment after it is done: wait
         * for that, or it would be counted against the call under test. */
        while (atomic_load(&live_allocs) != before && tu_now_ns() < end)
            tu_sleep_ns(TU_MS(1) / 10);
    }
    tu_gate_init(&f->gate);
    if (o->kind == K_WAIT_ANY) {
        /* A future that stays running until the test opens the gate. */
        assert_int_equal(pool_submit(f->pool, gated_task, &f->gate, NULL, &f->held), 0);
        assert_int_equal(tu_gate_await(&f->gate, 1), 0);
    } else if (o->kind == K_FUTURE_FD) {
        tu_gate_open(&f->gate);
        assert_int_equal(pool_submit(f->pool, gated_task, &f->gate, NULL, &f->held), 0);
        assert_int_equal(pool_future_wait(f->held, POOL_FOREVER), 0);
    }
}

/* The call under test, inside the window. Returns 0, or the error it
 * reports (errno for the calls that return NULL or -1). For pool_wait_any
 * a clean run times out on the held future: ETIMEDOUT counts as success. */
static int op_call(fx *f, const op *o)
{
    pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
    size_t index;
    int rc;

    opts.flags = f->flags;
    switch (o->kind) {
    case K_CREATE:
        f->created = pool_create(o->nthreads);
        return f->created ? 0 : errno;
    case K_SUBMIT:
        return pool_submit(f->pool, op_task, f, f->flags ? &opts : NULL, &f->future);
    case K_MAP_ASYNC:
        return pool_map_async(f->pool, op_map, f, f->in, sizeof *f->in, f->out,
                              sizeof *f->out, OP_N, &opts, &f->future);
    case K_FOR_ASYNC:
        return pool_for_async(f->pool, OP_N, op_for, f, &opts, &f->future);
    case K_WAIT_ANY:
        rc = pool_wait_any(&f->held, 1, TU_MS(1), &index);
        f->raw_rc = rc;
        return rc == ETIMEDOUT ? 0 : rc == 0 ? -1 : rc;
    case K_FUTURE_FD:
        f->fd = pool_future_fd(f->held);
        return f->fd >= 0 ? 0 : errno;
    }
    return -1;
}

/* Results of a successful call, then everything released but the pool. */
static void op_finish_ok(fx *f, const op *o)
{
    size_t i;
    struct pollfd pfd;

    switch (o->kind) {
    case K_CREATE:
        pool_destroy(f->created);
        f->created = NULL;
        break;
    case K_SUBMIT:
    case K_MAP_ASYNC:
    case K_FOR_ASYNC:
        if (f->future == UNTOUCHED || f->future == NULL) {
            problem("success, but no future");
            break;
        }
        if (pool_future_wait(f->future, POOL_FOREVER) != 0 ||
            pool_future_status(f->future) != 0)
            problem("future status %d", pool_future_status(f->future));
        if (o->flags & POOL_ASYNC_CHUNKS && o->kind != K_SUBMIT) {
            size_t b, e, covered = 0;
            int st;

            while (pool_future_next(f->future, 0, &b, &e, &st) == 0)
                covered += e - b;
            if (covered != OP_N)
                problem("chunk records cover %zu items, want %d", covered, OP_N);
        }
        pool_future_free(f->future);
        if (o->kind == K_SUBMIT ? f->out[0] != 42 : 0)
            problem("task result wrong");
        for (i = 0; o->kind != K_SUBMIT && i < OP_N; i++)
            if (f->out[i] != op_value(f->in[i])) {
                problem("out[%zu] wrong", i);
                break;
            }
        break;
    case K_WAIT_ANY:
        break;
    case K_FUTURE_FD:
        pfd.fd = f->fd;
        pfd.events = POLLIN;
        if (poll(&pfd, 1, 0) != 1)
            problem("completion fd of a done future not readable");
        break;
    }
    if (atomic_load(&f->runs) != op_items(o))
        problem("%u callbacks ran, want %u", atomic_load(&f->runs), op_items(o));
}

/* Releases what the set-up made, the pool last. */
static void fx_teardown(fx *f, const op *o)
{
    if (o->kind == K_WAIT_ANY || o->kind == K_FUTURE_FD) {
        tu_gate_open(&f->gate);
        if (pool_future_wait(f->held, POOL_FOREVER) != 0)
            problem("held future never completed");
        pool_future_free(f->held);
    }
    pool_destroy(f->pool);
    if (o->kind != K_CREATE && !o->null_pool)
        tu_gate_destroy(&f->gate);
}

static int map_value_fn(void *ctx, const void *in, void *out)
{
    (void)ctx;
    *(uint64_t *)out = op_value(*(const uint32_t *)in);
    return 0;
}

/* The pool works: a map and an async task give the right results. */
static void check_pool_works(pool_t *pool, const char *when)
{
    uint32_t in[OP_N];
    uint64_t out[OP_N];
    pool_future_t *f = NULL;
    int value = 0, rc;
    size_t i;

    for (i = 0; i < OP_N; i++)
        in[i] = (uint32_t)(i + 5);
    memset(out, 0, sizeof out);
    rc = pool_map(pool, map_value_fn, NULL, in, sizeof *in, out, sizeof *out, OP_N);
    if (rc != 0)
        problem("%s: pool_map returned %d", when, rc);
    for (i = 0; rc == 0 && i < OP_N; i++)
        if (out[i] != op_value(in[i])) {
            problem("%s: pool_map out[%zu] wrong", when, i);
            break;
        }
    rc = pool_submit(pool, store_task, &value, NULL, &f);
    if (rc != 0) {
        problem("%s: pool_submit returned %d", when, rc);
        return;
    }
    if (pool_future_wait(f, POOL_FOREVER) != 0 || pool_future_status(f) != 0 ||
        value != 4242)
        problem("%s: async task wrong (status %d)", when, pool_future_status(f));
    pool_future_free(f);
}

/* The error a fault at `s` must make operation `k` return, exactly: a
 * thread that cannot start is EAGAIN, an fd EMFILE (the wrappers' codes);
 * a lock or condition variable that cannot be made is ENOMEM for the
 * futures, and for pool_create ENOMEM when the init said so, else EAGAIN
 * (the mutex wrapper says EAGAIN, setclock EINVAL; see the header). */
static int error_ok(enum kind k, enum site s, int rc)
{
    switch (s) {
    case S_PTHREAD_CREATE: return rc == EAGAIN;
    case S_EVENTFD:
    case S_PIPE: return rc == EMFILE;
    case S_MUTEX_INIT:
    case S_CONDATTR_SETCLOCK: return rc == (k == K_CREATE ? EAGAIN : ENOMEM);
    default: return rc == ENOMEM;
    }
}

static size_t total_sites, total_injected;

/* The whole check for one operation and one class of fault sites. */
static void sweep(const op *o, unsigned mask)
{
    balance base0 = balance_now(), base;
    char sites[LOG_MAX * 28] = "";
    size_t K, k, len = 0;
    fx f;
    int rc;

    /* A clean run: counts the sites and checks the results. */
    tu_where("%s, clean run", op_name(o));
    fx_setup(&f, o);
    window_arm(mask, NO_FAULT);
    rc = op_call(&f, o);
    window_disarm();
    K = atomic_load(&win.seen);
    if (rc != 0)
        problem("returned %d without a fault", rc);
    else
        op_finish_ok(&f, o);
    fx_teardown(&f, o);
    check_balance(base0, "after the clean run");
    for (k = 0; k < K && k < LOG_MAX; k++)
        len += (size_t)snprintf(sites + len, sizeof sites - len, " %s",
                                site_names[atomic_load(&win.log[k])]);
    print_message("faults: %s: %zu site%s:%s\n", op_name(o), K, K == 1 ? "" : "s",
                  K ? sites : " (none)");
    total_sites += K;

    for (k = 0; k < K; k++) {
        enum site s = k < LOG_MAX ? (enum site)atomic_load(&win.log[k]) : S_COUNT;
        int out_untouched;

        tu_where("%s, fault at site %zu of %zu (%s)", op_name(o), k, K,
                 s < S_COUNT ? site_names[s] : "?");
        fx_setup(&f, o);
        base = balance_now();
        window_arm(mask, k);
        rc = op_call(&f, o);
        window_disarm();
        out_untouched = f.future == UNTOUCHED;
        total_injected++;

        if (atomic_load(&win.injected) != 1)
            problem("the fault was not injected (%zu sites this time)",
                    atomic_load(&win.seen));
        if (o->kind == K_WAIT_ANY)
            rc = f.raw_rc;
        if (s < S_COUNT && !error_ok(o->kind, s, rc))
            problem("returned %d (%s)", rc, rc > 0 ? strerror(rc) : "no error");
        if (!out_untouched)
            problem("*future was written on an error");
        if (atomic_load(&f.runs) != 0)
            problem("%u callbacks ran", atomic_load(&f.runs));
        check_balance(base, "right after the failed call");

        if (o->kind == K_CREATE) {
            if (f.created) {
                pool_destroy(f.created);
            } else {
                /* Nothing global is broken: the same pool starts now. */
                pool_t *p = pool_create(o->nthreads);

                if (p == NULL)
                    problem("pool_create fails after the fault is gone");
                check_pool_works(p, "a pool created after the fault");
                pool_destroy(p);
            }
        } else if (o->kind == K_FUTURE_FD) {
            struct pollfd pfd;

            pfd.fd = pool_future_fd(f.held);
            pfd.events = POLLIN;
            if (pfd.fd < 0 || poll(&pfd, 1, 0) != 1)
                problem("pool_future_fd does not work after the fault");
            check_pool_works(f.pool, "the pool after the fault");
        } else {
            check_pool_works(f.pool, "the pool after the fault");
        }
        fx_teardown(&f, o);
        /* pool_destroy finished every queued async job: had the failed call
         * queued one, it would have run by now. */
        if (atomic_load(&f.runs) != 0)
            problem("%u callbacks ran after the failed call", atomic_load(&f.runs));
        check_balance(base0, "after the pool was destroyed");
    }
}

static const op ops[] = {
    { K_CREATE, 1, 0, 0, 0 },
    { K_CREATE, 2, 0, 0, 0 },
    { K_CREATE, 4, 0, 0, 0 },
    /* The first async call on a pool of 1 starts its background worker. */
    { K_SUBMIT, 1, 0, 0, 0 },
    { K_MAP_ASYNC, 1, 0, 0, 0 },
    { K_MAP_ASYNC, 1, 0, 0, POOL_ASYNC_CHUNKS },
    { K_FOR_ASYNC, 1, 0, 0, 0 },
    { K_FOR_ASYNC, 1, 0, 0, POOL_ASYNC_CHUNKS },
    { K_SUBMIT, 1, 0, 1, 0 },
    { K_SUBMIT, 2, 0, 0, 0 },
    { K_SUBMIT, 0, 1, 0, 0 },
    { K_MAP_ASYNC, 1, 0, 1, 0 },
    { K_MAP_ASYNC, 2, 0, 0, 0 },
    { K_MAP_ASYNC, 2, 0, 0, POOL_ASYNC_CHUNKS },
    { K_MAP_ASYNC, 0, 1, 0, POOL_ASYNC_CHUNKS },
    { K_FOR_ASYNC, 1, 0, 1, 0 },
    { K_FOR_ASYNC, 2, 0, 0, 0 },
    { K_FOR_ASYNC, 2, 0, 0, POOL_ASYNC_CHUNKS },
    { K_FOR_ASYNC, 0, 1, 0, POOL_ASYNC_CHUNKS },
    { K_WAIT_ANY, 2, 0, 0, 0 },
    { K_FUTURE_FD, 2, 0, 0, 0 },
};

static void sweep_all(unsigned mask, const char *what)
{
    size_t i;

    problems = 0;
    total_sites = total_injected = 0;
    for (i = 0; i < TU_ARRAY_LEN(ops); i++)
        sweep(&ops[i], mask);
    print_message("faults: %s: %zu operations, %zu sites, %zu injected failures "
                  "checked, %zu problems\n",
                  what, TU_ARRAY_LEN(ops), total_sites, total_injected, problems);
    if (problems != 0)
        fail_msg("%zu problems with injected faults, listed above", problems);
}

static void every_allocation_thread_start_and_fd_failure_is_clean(void **state)
{
    (void)state;
    sweep_all(CLASS_RESOURCE, "allocations, thread starts, fds");
    /* Every one of these operations allocates or starts something. */
    TU_ASSERT_TRUE(total_sites >= TU_ARRAY_LEN(ops));
}

static void every_mutex_and_condvar_init_failure_is_clean(void **state)
{
    (void)state;
    sweep_all(CLASS_SYNC, "mutex and condition variable inits");
}

/* ------------------------------------------------------------------------ */
/* Blocking calls allocate nothing                                          */
/* ------------------------------------------------------------------------ */

typedef struct pair {
    uint32_t a;
    uint64_t b;
} pair;

static int pair_fn(void *ctx, const void *in, void *out)
{
    pair *p = out;

    (void)ctx;
    p->a = *(const uint32_t *)in;
    p->b = op_value(p->a);
    return 0;
}

static int range_fn(void *ctx, size_t b, size_t e)
{
    (void)ctx;
    (void)b;
    (void)e;
    return 0;
}

static int for_fn(void *ctx, size_t i)
{
    (void)ctx;
    (void)i;
    return 0;
}

static void blocking_calls_and_future_queries_allocate_nothing(void **state)
{
    static const size_t specs[] = { TU_NULL_POOL, 1, 2, 4 };
    static const size_t chunks[] = { 0, 1, 7 };
    size_t p, c, k, n = 1000, b, e;
    uint32_t *in = tu_malloc(n * sizeof *in);
    uint64_t *out = tu_malloc(n * sizeof *out);
    pair *tuples = tu_malloc(n * sizeof *tuples);
    uint32_t *ca = tu_malloc(n * sizeof *ca);
    uint64_t *cb = tu_malloc(n * sizeof *cb);
    pool_column cols[2] = { POOL_COLUMN(pair, a, ca), POOL_COLUMN(pair, b, cb) };
    int st;

    (void)state;
    for (k = 0; k < n; k++)
        in[k] = (uint32_t)k;
    for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
        pool_t *pool = tu_pool_open(specs[p]);
        pool_future_t *f = NULL;
        pool_async_opts ao = POOL_ASYNC_OPTS_INIT;

        for (c = 0; c < TU_ARRAY_LEN(chunks); c++) {
            pool_opts o = { chunks[c], 0 };

            tu_where("%s, chunk %zu", tu_pool_name(specs[p]), chunks[c]);
            window_arm(CLASS_ALL, NO_FAULT);
            TU_ASSERT_EQ(pool_map_ex(pool, map_value_fn, NULL, in, sizeof *in, out,
                                     sizeof *out, n, &o), 0);
            TU_ASSERT_EQ(pool_for_ex(pool, n, for_fn, NULL, &o), 0);
            TU_ASSERT_EQ(pool_for_range_ex(pool, n, range_fn, NULL, &o), 0);
            TU_ASSERT_EQ(pool_map_unzip(pool, pair_fn, NULL, in, sizeof *in,
                                        sizeof(pair), n, cols, 2, &o), 0);
            TU_ASSERT_EQ(pool_unzip(pool, tuples, sizeof *tuples, n, cols, 2), 0);
            window_disarm();
            TU_ASSERT_EQ(atomic_load(&win.seen), 0);
        }

        /* Waiting on, querying, streaming and cancelling a future allocate
         * nothing either: none of these calls documents ENOMEM (submitting
         * does, and pool_wait_any, which is left out). */
        tu_where("%s, future calls", tu_pool_name(specs[p]));
        ao.flags = POOL_ASYNC_CHUNKS;
        ao.chunk = 10;
        TU_ASSERT_EQ(pool_map_async(pool, map_value_fn, NULL, in, sizeof *in, out,
                                    sizeof *out, n, &ao, &f), 0);
        window_arm(CLASS_ALL, NO_FAULT);
        (void)pool_future_cancel(f);
        TU_ASSERT_EQ(pool_future_wait(f, POOL_FOREVER), 0);
        (void)pool_future_done(f);
        (void)pool_future_status(f);
        (void)pool_future_failed_index(f);
        (void)pool_future_progress(f, NULL);
        while (pool_future_next(f, 0, &b, &e, &st) == 0)
            ;
        TU_ASSERT_EQ(pool_wait_all(&f, 1, POOL_FOREVER), 0);
        window_disarm();
        TU_ASSERT_EQ(atomic_load(&win.seen), 0);
        pool_future_free(f);
        pool_destroy(pool);
    }
    tu_free(in);
    tu_free(out);
    tu_free(tuples);
    tu_free(ca);
    tu_free(cb);
}

/* ------------------------------------------------------------------------ */
/* The completion fd is readable once the future is done                    */
/* ------------------------------------------------------------------------ */

static int spin_task(void *ctx)
{
    atomic_int *go = ctx;
    int64_t end = tu_now_ns() + TU_WAIT_NS;

    while (!atomic_load(go) && tu_now_ns() < end)
        ;
    return 0;
}

/*
 * pool_future_fd: "becomes readable (and stays so) once the future is done".
 * The fd is made while the task runs; the completing thread's write to it is
 * slowed down (the wrapper above) to make the window the stress test hits by
 * chance wide: as soon as pool_future_done() says done, the fd must poll
 * readable.
 */
static void completion_fd_is_readable_as_soon_as_done(void **state)
{
    static const size_t specs[] = { 1, 2 };
    size_t p;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
        pool_t *pool = tu_pool_open(specs[p]);
        pool_future_t *f = NULL;
        struct pollfd pfd;
        atomic_int go;
        int readable;

        tu_where("%s", tu_pool_name(specs[p]));
        atomic_init(&go, 0);
        TU_ASSERT_EQ(pool_submit(pool, spin_task, &go, NULL, &f), 0);
        pfd.fd = pool_future_fd(f);
        pfd.events = POLLIN;
        TU_ASSERT_TRUE(pfd.fd >= 0);
        atomic_store(&delay_event_writes, DELAY_BEFORE);
        atomic_store(&go, 1);
        while (!pool_future_done(f))
            ;
        readable = poll(&pfd, 1, 0);
        atomic_store(&delay_event_writes, DELAY_NONE);
        TU_ASSERT_EQ(pool_future_wait(f, POOL_FOREVER), 0);
        pool_future_free(f);
        pool_destroy(pool);
        if (readable != 1)
            fail_msg("%s: pool_future_done() is true, but the completion fd does not "
                     "poll readable", tu_where_buf());
    }
}

/*
 * The other way round, as an event loop sees it: poll() says the fd is
 * readable, and then every question about the future says done, the
 * zero-timeout waits (pool_future_wait, pool_wait_all, pool_wait_any)
 * included. The completing thread's write is slowed down after it is made,
 * which holds it between the fd's signal and the rest of the completion.
 */
static void every_query_says_done_once_the_fd_is_readable(void **state)
{
    static const size_t specs[] = { 1, 2 };
    size_t p;

    (void)state;
    for (p = 0; p < TU_ARRAY_LEN(specs); p++) {
        pool_t *pool = tu_pool_open(specs[p]);
        pool_future_t *f = NULL;
        struct pollfd pfd;
        size_t index = SIZE_MAX;
        atomic_int go;
        int wait0, all0, any0, done, status;

        tu_where("%s", tu_pool_name(specs[p]));
        atomic_init(&go, 0);
        TU_ASSERT_EQ(pool_submit(pool, spin_task, &go, NULL, &f), 0);
        pfd.fd = pool_future_fd(f);
        pfd.events = POLLIN;
        TU_ASSERT_TRUE(pfd.fd >= 0);
        atomic_store(&delay_event_writes, DELAY_AFTER);
        atomic_store(&go, 1);
        TU_ASSERT_EQ(poll(&pfd, 1, 10000), 1);
        wait0 = pool_future_wait(f, 0);
        all0 = pool_wait_all(&f, 1, 0);
        any0 = pool_wait_any(&f, 1, 0, &index);
        done = pool_future_done(f);
        status = pool_future_status(f);
        atomic_store(&delay_event_writes, DELAY_NONE);
        TU_ASSERT_EQ(pool_future_wait(f, POOL_FOREVER), 0);
        pool_future_free(f);
        pool_destroy(pool);
        TU_ASSERT_EQ(wait0, 0);
        TU_ASSERT_EQ(all0, 0);
        TU_ASSERT_EQ(any0, 0);
        TU_ASSERT_EQ(index, 0);
        TU_ASSERT_EQ(done, 1);
        TU_ASSERT_EQ(status, 0);
    }
}

/* The wrappers are in the link, for this file's calls and the library's:
 * without --wrap the sweeps would prove nothing. */
static void wrappers_are_linked_in(void **state)
{
    /* volatile: the pointer escapes, so the compiler keeps the malloc. */
    void *volatile p;

    (void)state;
    window_arm(CLASS_ALL, 0);
    p = malloc(16);
    window_disarm();
    TU_ASSERT_TRUE(p == NULL);
    TU_ASSERT_EQ(atomic_load(&win.injected), 1);

    errno = 0;
    window_arm(CLASS_ALL, 0);
    p = pool_create(2);
    window_disarm();
    TU_ASSERT_TRUE(p == NULL);
    TU_ASSERT_EQ(errno, ENOMEM);
    TU_ASSERT_EQ(atomic_load(&win.injected), 1);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(wrappers_are_linked_in),
        TU_TEST(blocking_calls_and_future_queries_allocate_nothing),
        TU_TEST(every_allocation_thread_start_and_fd_failure_is_clean),
        TU_TEST(every_mutex_and_condvar_init_failure_is_clean),
        TU_TEST(completion_fd_is_readable_as_soon_as_done),
        TU_TEST(every_query_says_done_once_the_fd_is_readable),
    };

    return TU_RUN(tests, argc, argv);
}
