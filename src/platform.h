/*
 * platform.h - the one place for atomics, cache-line size, CPU pause, CPU
 * count, what the CPU is, and streaming stores. Everything
 * platform-specific in poolmap lives here.
 */
#ifndef POOLMAP_PLATFORM_H
#define POOLMAP_PLATFORM_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__) && !defined(POOL_PORTABLE_PARKING)
#define POOL__HAVE_FUTEX 1
#endif
#if defined(__linux__)
#include <sys/eventfd.h>
#endif

/* Hot shared words sit on their own line so that writers do not slow down
 * readers of neighbouring fields (false sharing). */
#define POOL__CACHELINE 64
#define POOL__ALIGNED _Alignas(POOL__CACHELINE)

/* Atomics with the memory order in the name, so each use site says why. */
#define pool__load_relaxed(p)     atomic_load_explicit((p), memory_order_relaxed)
#define pool__load_acquire(p)     atomic_load_explicit((p), memory_order_acquire)
#define pool__store_relaxed(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#define pool__store_release(p, v) atomic_store_explicit((p), (v), memory_order_release)
#define pool__fetch_add_relaxed(p, v) \
    atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
#define pool__cas_weak_relaxed(p, expected, desired)                          \
    atomic_compare_exchange_weak_explicit((p), (expected), (desired),         \
                                          memory_order_relaxed, memory_order_relaxed)

/* Word types that may alias anything and sit at any address: a copy through
 * them is one load and one store that the compiler can vectorize, where a
 * memcpy per element often stays a call-shaped loop. */
#if defined(__GNUC__)
#define POOL__HAVE_ALIAS_WORDS 1
typedef uint16_t pool__u16 __attribute__((may_alias, aligned(1)));
typedef uint32_t pool__u32 __attribute__((may_alias, aligned(1)));
typedef uint64_t pool__u64 __attribute__((may_alias, aligned(1)));
#endif

/*
 * POOL__INLINE: inline even where the compiler would not, for the serial
 * path of a call, so its body becomes a direct call. POOL__NOINLINE keeps a
 * cold part out of a hot function's frame.
 * POOL__TLS_FAST: thread-locals read on every call use the initial-exec
 * model, a load at a fixed offset from the thread pointer, instead of a
 * __tls_get_addr() call in the shared library (costs a few bytes of the
 * static TLS reserve when the library is dlopen()ed).
 * POOL__CODE_ALIGNED: a function whose loops run per item starts on a
 * cache line, so where its loops fall in the instruction fetch windows is
 * fixed by its own code, not by the size of whatever the linker put
 * before it. On the 2-core EPYC VM, W2's map_unzip took 1.44-1.60 ns an
 * item instead of 1.11-1.17 after a change in job.c moved map.c's
 * functions by 144 bytes (bench_poolmap --workload W2 --threads 2, six
 * processes each way). Alignment makes the place stable, not good: that
 * loop then needed a rewrite (see scatter_column).
 */
#if defined(__GNUC__)
#define POOL__INLINE inline __attribute__((always_inline))
#define POOL__NOINLINE __attribute__((noinline))
#define POOL__TLS_FAST __attribute__((tls_model("initial-exec")))
#define POOL__CODE_ALIGNED __attribute__((aligned(64)))
#else
#define POOL__INLINE inline
#define POOL__NOINLINE
#define POOL__TLS_FAST
#define POOL__CODE_ALIGNED
#endif

/* The pool lock is held for a few dozen instructions at a time. Where
 * glibc offers it, an adaptive mutex spins briefly before it sleeps, so a
 * contended acquire does not cost a futex sleep and wake-up. */
static inline int pool__mutex_init_adaptive(pthread_mutex_t *m)
{
#if defined(PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP)
    pthread_mutexattr_t attr;
    int rc = pthread_mutexattr_init(&attr);
    if (rc != 0)
        return rc;
    rc = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    if (rc == 0)
        rc = pthread_mutex_init(m, &attr);
    pthread_mutexattr_destroy(&attr);
    return rc;
#else
    return pthread_mutex_init(m, NULL);
#endif
}

/* What the CPU is, as POOL__CPU_* bits: pool__cpu_read() (pool.c) reads
 * it, out of line so that a test linked with --wrap can stand for another
 * CPU there; 0 where it is not read (only x86-64 has a use for it). */
#define POOL__CPU_READ 1u  /* set in every value pool__cpu() has cached */
#define POOL__CPU_INTEL 2u /* GenuineIntel */
#define POOL__CPU_AVX 4u   /* AVX, its registers saved by the OS */
unsigned pool__cpu_read(void);

/*
 * Stores that bypass the caches (x86-64 movnti), for outputs far bigger
 * than the caches: a normal store first reads the destination line, so a
 * copy moves its bytes three times; memcpy itself streams above a similar
 * size. pool__stream_fence() orders them before whatever publishes the
 * results.
 */
#if defined(__x86_64__) && defined(__SSE2__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define POOL__HAVE_STREAM 1
static inline void pool__stream_u64(void *dst, uint64_t v)
{
    _mm_stream_si64((long long *)dst, (long long)v);
}
/* Two 8-byte values at a 16-byte aligned dst. */
static inline void pool__stream_2u64(void *dst, uint64_t lo, uint64_t hi)
{
    _mm_stream_si128((__m128i *)dst, _mm_set_epi64x((long long)hi, (long long)lo));
}
static inline void pool__stream_u32(void *dst, uint32_t v)
{
    _mm_stream_si32((int *)dst, (int)v);
}
static inline void pool__stream_fence(void)
{
    _mm_sfence();
}

/* What the CPU is, from cpuid: POOL__CPU_* bits. */
static inline unsigned pool__cpu_probe(void)
{
    unsigned a, b, c, d, v = 0;
    /* "GenuineIntel", in ebx, edx, ecx */
    if (__get_cpuid(0, &a, &b, &c, &d) && b == 0x756e6547u && d == 0x49656e69u &&
        c == 0x6c65746eu)
        v |= POOL__CPU_INTEL;
    if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_OSXSAVE) && (c & bit_AVX)) {
        unsigned lo, hi;
        __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0)); /* XCR0 */
        (void)hi;
        if ((lo & 6u) == 6u) /* the SSE and AVX registers */
            v |= POOL__CPU_AVX;
    }
    return v;
}

/* pool__cpu_read(), once: cached, racing first readers store the same
 * value. */
static inline unsigned pool__cpu(void)
{
    static _Atomic unsigned cached;
    unsigned v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v == 0) {
        v = pool__cpu_read() | POOL__CPU_READ;
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return v;
}

/*
 * Whether streamed columns go faster written one after another in blocks
 * of tuples, the next block's lines asked for meanwhile, than all in one
 * pass: on Intel's CPUs. W2's unzip (bench_poolmap --workload W2, 10^7
 * tuples of three doubles) against memcpy of the same bytes, on the 2-core
 * Xeon VM: at 1 thread 1.51-1.53x in one pass, 1.20-1.21x in blocks with
 * 16-byte stores (a plain copy in such stores takes 1.15-1.25x: bench_probe
 * unzip), 1.13-1.17x with 32-byte ones (see stream_blocks32 in map.c); at 2
 * threads 0.97-1.03x in one pass, 0.69-0.74x in blocks. On the 2-core EPYC
 * VM one pass took 0.80-0.83x at 1 thread (bench_probe unzip) and by
 * column without the prefetch 1.19-1.20x, so other CPUs keep the one pass.
 */
static inline bool pool__stream_by_block(void)
{
    return (pool__cpu() & POOL__CPU_INTEL) != 0;
}

/* Whether pool__stream_words32 may run here. */
static inline bool pool__stream_wide(void)
{
    return (pool__cpu() & POOL__CPU_AVX) != 0;
}

/* One column of 8-byte members `stride` bytes apart from src, streamed to
 * dst (8-byte aligned): one item peeled to align dst, then pairs in 16-byte
 * stores, with no test in the loop. */
static inline void pool__stream_words16(char *dst, const char *src, size_t stride,
                                        size_t count)
{
#define POOL__SRC(i) (*(const pool__u64 *)(const void *)(src + (i)*stride))
    size_t i = 0;
    if (count > 0 && (uintptr_t)dst % 16 != 0)
        pool__stream_u64(dst, POOL__SRC(i++));
    for (; i + 1 < count; i += 2)
        pool__stream_2u64(dst + 8 * i, POOL__SRC(i), POOL__SRC(i + 1));
    if (i < count)
        pool__stream_u64(dst + 8 * i, POOL__SRC(i));
#undef POOL__SRC
}

/* The same in 32-byte stores (up to three items peeled), for code built
 * for AVX: call it only where pool__stream_wide(). */
__attribute__((target("avx"))) static inline void
pool__stream_words32(char *dst, const char *src, size_t stride, size_t count)
{
#define POOL__SRC(i) ((long long)*(const pool__u64 *)(const void *)(src + (i)*stride))
    size_t i = 0;
    for (; i < count && (uintptr_t)(dst + 8 * i) % 32 != 0; i++)
        _mm_stream_si64((long long *)(void *)(dst + 8 * i), POOL__SRC(i));
    for (; i + 3 < count; i += 4)
        _mm256_stream_si256((__m256i *)(void *)(dst + 8 * i),
                            _mm256_set_epi64x(POOL__SRC(i + 3), POOL__SRC(i + 2),
                                              POOL__SRC(i + 1), POOL__SRC(i)));
    for (; i < count; i++)
        _mm_stream_si64((long long *)(void *)(dst + 8 * i), POOL__SRC(i));
#undef POOL__SRC
}
#endif

/* Tell the CPU we are spinning (saves power, frees the sibling hyperthread). */
static inline void pool__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ __volatile__("pause" ::: "memory");
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

/* Ask for a line ahead of use, to read or to write: a hint that never
 * faults, so any address will do, even a stale one. Lines a thread needs
 * one after another then cross between cores at once, not in turn.
 * pool__prefetch_write asks for the line to write only where the compiler
 * targets such an instruction (x86's prefetchw with -mprfchw, Arm's
 * PRFM PSTL1KEEP); a baseline x86-64 build emits the read prefetch for
 * both. A real prefetchw measured no faster for W5 (docs/bench-log.md). */
#if defined(__GNUC__)
#define pool__prefetch(p) __builtin_prefetch((p), 0)
#define pool__prefetch_write(p) __builtin_prefetch((p), 1)
#else
#define pool__prefetch(p) ((void)(p))
#define pool__prefetch_write(p) ((void)(p))
#endif

/* Let another runnable thread on this CPU go first (a no-op when none is):
 * a long spin must not keep a CPU from the thread it is waiting for. */
static inline void pool__yield(void)
{
    sched_yield();
}

/* Monotonic time in nanoseconds, for bounding spins. */
static inline unsigned long long pool__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

/* A cheap tick count for heuristics, never for timeouts: the x86 time-stamp
 * counter (constant rate, 1-4 GHz on current parts: about 0.25-1 ns a
 * tick), elsewhere nanoseconds. About 10 ns a read, half a clock_gettime(). */
static inline unsigned long long pool__ticks(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    return __builtin_ia32_rdtsc();
#else
    return pool__now_ns();
#endif
}

/*
 * A place where idle threads sleep until woken, without a lock: a sequence
 * word that every wake-up changes. A sleeper reads its ticket (the word),
 * then checks for work, then waits with the ticket: a wake-up that came
 * after the ticket was read makes the wait return at once, so none is lost
 * between the check and the wait. Waits may also return for no reason.
 * Linux: a futex on the word (no lock: idle threads that fall asleep
 * together do not queue on one, and woken ones go straight back to work).
 * Elsewhere, or built with POOL_PORTABLE_PARKING: a mutex and condition
 * variable of its own. Waiting and waking live in parking.c (the futex
 * system call needs _GNU_SOURCE, which files including this one may lack).
 */
typedef struct pool__parking {
    _Atomic uint32_t seq;
#if !defined(POOL__HAVE_FUTEX)
    pthread_mutex_t lock;
    pthread_cond_t cv;
#endif
} pool__parking;

/* Returns 0 or an errno value. */
static inline int pool__parking_init(pool__parking *p)
{
    atomic_init(&p->seq, 0);
#if defined(POOL__HAVE_FUTEX)
    return 0;
#else
    int rc = pthread_mutex_init(&p->lock, NULL);
    if (rc == 0 && (rc = pthread_cond_init(&p->cv, NULL)) != 0)
        pthread_mutex_destroy(&p->lock);
    return rc;
#endif
}

static inline void pool__parking_destroy(pool__parking *p)
{
#if defined(POOL__HAVE_FUTEX)
    (void)p;
#else
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->lock);
#endif
}

static inline uint32_t pool__parking_ticket(pool__parking *p)
{
    return atomic_load_explicit(&p->seq, memory_order_acquire);
}

/* Sleep unless a wake-up came since `ticket` was read. */
void pool__parking_wait(pool__parking *p, uint32_t ticket);

/* Wake up to n sleepers (n >= 1; INT_MAX: all), and make every ticket
 * read before this call stale. */
void pool__parking_wake(pool__parking *p, int n);

/* Online CPUs, at least 1. */
static inline size_t pool__cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (size_t)n : 1;
}

/* A completion event a poll loop can wait on: eventfd on Linux (one fd for
 * both ends), a non-blocking pipe elsewhere. Returns 0 or an errno value. */
static inline int pool__event_open(int *rfd, int *wfd)
{
#if defined(__linux__)
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0)
        return errno;
    *rfd = *wfd = fd;
#else
    int p[2];
    if (pipe(p) != 0)
        return errno;
    for (int i = 0; i < 2; i++) {
        fcntl(p[i], F_SETFD, FD_CLOEXEC);
        fcntl(p[i], F_SETFL, fcntl(p[i], F_GETFL) | O_NONBLOCK);
    }
    *rfd = p[0];
    *wfd = p[1];
#endif
    return 0;
}

/* Make the event readable; a no-op for fd < 0. Stays readable: nobody reads. */
static inline void pool__event_signal(int wfd)
{
    if (wfd < 0)
        return;
#if defined(__linux__)
    uint64_t one = 1;
    ssize_t w = write(wfd, &one, sizeof one);
#else
    char one = 1;
    ssize_t w = write(wfd, &one, 1);
#endif
    (void)w; /* cannot fail short of a closed fd: the counter or pipe is not full */
}

static inline void pool__event_close(int rfd, int wfd)
{
    if (rfd >= 0)
        close(rfd);
    if (wfd >= 0 && wfd != rfd)
        close(wfd);
}

#endif /* POOLMAP_PLATFORM_H */
