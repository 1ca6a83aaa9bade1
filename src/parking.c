/*
 * parking.c - where idle workers sleep: the wait and wake of platform.h's
 * pool__parking, a futex on Linux, a mutex and condition variable elsewhere.
 */
#if defined(__linux__) && !defined(POOL_PORTABLE_PARKING)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "platform.h"

void pool__parking_wait(pool__parking *p, uint32_t ticket)
{
#if defined(POOL__HAVE_FUTEX)
    /* The word's representation is a plain uint32_t (lock-free atomic). */
    syscall(SYS_futex, (uint32_t *)(void *)&p->seq, FUTEX_WAIT_PRIVATE, ticket, NULL, NULL,
            0);
#else
    pthread_mutex_lock(&p->lock);
    if (atomic_load_explicit(&p->seq, memory_order_acquire) == ticket)
        pthread_cond_wait(&p->cv, &p->lock);
    pthread_mutex_unlock(&p->lock);
#endif
}

void pool__parking_wake(pool__parking *p, int n)
{
#if defined(POOL__HAVE_FUTEX)
    atomic_fetch_add_explicit(&p->seq, 1, memory_order_release);
    syscall(SYS_futex, (uint32_t *)(void *)&p->seq, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
#else
    /* Under the lock: a sleeper checks the word and waits in one step. */
    pthread_mutex_lock(&p->lock);
    atomic_fetch_add_explicit(&p->seq, 1, memory_order_release);
    if (n == 1)
        pthread_cond_signal(&p->cv);
    else
        pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->lock);
#endif
}
