/*
 * account.c - the accounting build's per-thread counters (see src/account.h).
 * Compiled only into bench's poolmap_account library, with POOL_ACCOUNT:
 * the library proper has none of it.
 */
#include <stdatomic.h>

#include "account.h"
#include "platform.h"

#ifndef POOL_ACCOUNT
#error "account.c belongs to the accounting build (POOL_ACCOUNT)"
#endif

/* Threads beyond this many are not counted. */
#define ACCT_THREADS 256u

/* One thread's counters: written by it alone (loads and stores, no RMW),
 * read by pool__acct_read, which also counts the interval the thread is in
 * now (a worker asleep through a whole span of calls is charged for it
 * in that span, not when it wakes). `seq` is odd while the owner updates
 * them: a reader that sees it change reads again. Own lines. */
struct acct_thread {
    POOL__ALIGNED _Atomic unsigned seq;
    _Atomic unsigned cur; /* the category it is in */
    _Atomic unsigned long long since; /* since this tick */
    _Atomic unsigned long long ticks[POOL__ACCT_N];
    _Atomic unsigned long long events[POOL__EV_N];
};

static struct acct_thread acct_table[ACCT_THREADS];
static _Atomic unsigned acct_threads;

static _Thread_local struct acct_thread *acct_me;
static _Thread_local unsigned acct_cur; /* POOL__ACCT_OUTSIDE */
static _Thread_local _Bool acct_full; /* the table was full when it came */

/* The thread's entry, its interval opened (outside) on first use. */
static struct acct_thread *acct_self(void)
{
    if (acct_me == NULL && !acct_full) {
        unsigned k = atomic_fetch_add_explicit(&acct_threads, 1, memory_order_relaxed);
        if (k >= ACCT_THREADS) {
            acct_full = 1;
            return NULL;
        }
        atomic_store_explicit(&acct_table[k].since, pool__ticks(), memory_order_relaxed);
        atomic_store_explicit(&acct_table[k].cur, POOL__ACCT_OUTSIDE, memory_order_relaxed);
        atomic_store_explicit(&acct_table[k].seq, 0, memory_order_release);
        acct_me = &acct_table[k];
    }
    return acct_me;
}

static unsigned long long acct_load(const _Atomic unsigned long long *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static void acct_add(_Atomic unsigned long long *c, unsigned long long v)
{
    atomic_store_explicit(c, acct_load(c) + v, memory_order_relaxed);
}

/* The owner's update, bracketed by `seq` (a seqlock: see acct_read_one). */
static void acct_begin(struct acct_thread *me)
{
    unsigned s = atomic_load_explicit(&me->seq, memory_order_relaxed);
    atomic_store_explicit(&me->seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

static void acct_end(struct acct_thread *me)
{
    unsigned s = atomic_load_explicit(&me->seq, memory_order_relaxed);
    atomic_store_explicit(&me->seq, s + 1, memory_order_release);
}

unsigned pool__acct_switch(unsigned to)
{
    struct acct_thread *me = acct_self();
    unsigned was = acct_cur;
    acct_cur = to;
    if (me != NULL) {
        unsigned long long now = pool__ticks();
        acct_begin(me);
        acct_add(&me->ticks[was], now - acct_load(&me->since));
        atomic_store_explicit(&me->since, now, memory_order_relaxed);
        atomic_store_explicit(&me->cur, to, memory_order_relaxed);
        acct_add(&me->events[POOL__EV_SWITCHES], 1);
        acct_end(me);
    }
    return was;
}

void pool__acct_event(unsigned what)
{
    struct acct_thread *me = acct_self();
    if (me != NULL) {
        acct_begin(me);
        acct_add(&me->events[what], 1);
        acct_end(me);
    }
}

/* Adds one thread's counters, with its open interval up to `now`, to the
 * sums: a consistent copy, read again while its owner was updating it. */
static void acct_read_one(const struct acct_thread *t, unsigned long long now,
                          unsigned long long ticks[POOL__ACCT_N],
                          unsigned long long events[POOL__EV_N])
{
    unsigned long long tk[POOL__ACCT_N], ev[POOL__EV_N], since;
    unsigned cur, s0, s1;
    do {
        s0 = atomic_load_explicit(&t->seq, memory_order_acquire);
        for (unsigned c = 0; c < POOL__ACCT_N; c++)
            tk[c] = acct_load(&t->ticks[c]);
        for (unsigned e = 0; e < POOL__EV_N; e++)
            ev[e] = acct_load(&t->events[e]);
        since = acct_load(&t->since);
        cur = atomic_load_explicit(&t->cur, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        s1 = atomic_load_explicit(&t->seq, memory_order_relaxed);
    } while (s0 != s1 || (s0 & 1u));
    if (cur < POOL__ACCT_N && now > since)
        tk[cur] += now - since;
    for (unsigned c = 0; c < POOL__ACCT_N; c++)
        ticks[c] += tk[c];
    for (unsigned e = 0; e < POOL__EV_N; e++)
        events[e] += ev[e];
}

static void acct_clear(unsigned long long ticks[POOL__ACCT_N],
                       unsigned long long events[POOL__EV_N])
{
    for (unsigned c = 0; c < POOL__ACCT_N; c++)
        ticks[c] = 0;
    for (unsigned e = 0; e < POOL__EV_N; e++)
        events[e] = 0;
}

void pool__acct_read(unsigned long long ticks[POOL__ACCT_N],
                     unsigned long long events[POOL__EV_N])
{
    unsigned n = pool__acct_threads();
    unsigned long long now = pool__ticks();
    acct_clear(ticks, events);
    for (unsigned k = 0; k < n; k++)
        acct_read_one(&acct_table[k], now, ticks, events);
}

unsigned long long pool__acct_now(void)
{
    return pool__ticks();
}

void pool__acct_read_mine(unsigned long long ticks[POOL__ACCT_N],
                          unsigned long long events[POOL__EV_N])
{
    acct_clear(ticks, events);
    struct acct_thread *me = acct_self();
    if (me != NULL)
        acct_read_one(me, pool__ticks(), ticks, events);
}

unsigned pool__acct_threads(void)
{
    unsigned n = atomic_load_explicit(&acct_threads, memory_order_relaxed);
    return n < ACCT_THREADS ? n : ACCT_THREADS;
}
