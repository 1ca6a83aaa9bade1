/*
 * platform.h - the one place for atomics, cache-line size, CPU pause and
 * CPU count. Everything platform-specific in poolmap lives here.
 */
#ifndef POOLMAP_PLATFORM_H
#define POOLMAP_PLATFORM_H

#include <stdatomic.h>
#include <stddef.h>
#include <time.h>
#include <unistd.h>

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

/* Monotonic time in nanoseconds, for bounding spins. */
static inline unsigned long long pool__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

/* Online CPUs, at least 1. */
static inline size_t pool__cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (size_t)n : 1;
}

#endif /* POOLMAP_PLATFORM_H */
