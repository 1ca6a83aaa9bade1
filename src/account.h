/*
 * account.h - where a pool's threads spend their time, by category, for the
 * accounting build of bench_probe (bench/CMakeLists.txt builds the library
 * a second time with POOL_ACCOUNT, with the counters of bench/account.c).
 * Without POOL_ACCOUNT every function here is an empty inline: the library
 * proper pays nothing.
 *
 * Each thread is in one category at a time; pool__acct_switch() charges
 * the ticks since its last switch to the category it leaves and returns
 * that category, to be switched back to: the time is exclusive, so an
 * outer item's body is charged only for what its nested call does not
 * charge elsewhere. Not installed; nothing here is part of the API.
 */
#ifndef POOLMAP_ACCOUNT_H
#define POOLMAP_ACCOUNT_H

enum pool__acct {
    POOL__ACCT_OUTSIDE, /* not in a call of the pool (a caller between calls) */
    POOL__ACCT_OTHER,   /* in the pool, none of the below */
    POOL__ACCT_SETUP,   /* a caller before its first claim: set-up, publishing, wake-ups */
    POOL__ACCT_LOOP,    /* in a turn, between claims, chunks and steals (the clock) */
    POOL__ACCT_FINISH,  /* a caller after its turn, but for the join: withdraw, unlink */
    POOL__ACCT_TAKE,    /* a worker coming to a job: the offer's add, the pick's outside */
    POOL__ACCT_LEAVE,   /* a helper leaving a job */
    POOL__ACCT_BODY,    /* in a job's body: the user's items */
    POOL__ACCT_CLAIM,   /* claiming from its own slot */
    POOL__ACCT_STEAL,   /* looking through the other slots, stealing */
    POOL__ACCT_LOCK,    /* waiting for pool->lock */
    POOL__ACCT_LOCKED,  /* holding it */
    POOL__ACCT_JOIN,    /* a caller waiting for its helpers (spin or sleep) */
    POOL__ACCT_IDLE,    /* a worker spinning for work */
    POOL__ACCT_SLEEP,   /* a worker asleep */
    POOL__ACCT_N
};

enum pool__acct_event {
    POOL__EV_CHUNKS,    /* chunks run */
    POOL__EV_CLAIMS,    /* claims from one's own slot (failed ones too) */
    POOL__EV_STEALS,    /* looks through the other slots */
    POOL__EV_STOLEN,    /* ... that took items */
    POOL__EV_LOCKS,     /* pool->lock taken */
    POOL__EV_PICKS,     /* jobs picked from the queue */
    POOL__EV_IDLE_TURNS, /* a helper's turn at a job that ran no item */
    POOL__EV_SLEEPS,    /* a worker's sleeps */
    POOL__EV_SWITCHES,  /* pool__acct_switch calls: the accounting's own cost */
    POOL__EV_N
};

#ifdef POOL_ACCOUNT
unsigned pool__acct_switch(unsigned to);
void pool__acct_event(unsigned what);
/* The sums over every thread that ever switched: ticks (pool__ticks) per
 * category, and events. Relaxed reads of counters others update. */
void pool__acct_read(unsigned long long ticks[POOL__ACCT_N],
                     unsigned long long events[POOL__EV_N]);
/* The calling thread's alone. */
void pool__acct_read_mine(unsigned long long ticks[POOL__ACCT_N],
                          unsigned long long events[POOL__EV_N]);
/* The tick counter the sums are in (pool__ticks). */
unsigned long long pool__acct_now(void);
/* Threads counted so far: each from its first switch or read. */
unsigned pool__acct_threads(void);
#else
static inline unsigned pool__acct_switch(unsigned to)
{
    (void)to;
    return 0;
}
static inline void pool__acct_event(unsigned what)
{
    (void)what;
}
#endif

#endif /* POOLMAP_ACCOUNT_H */
