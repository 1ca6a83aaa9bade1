/*
 * gather.c - asyncio.gather in C, the tutorial example step for step:
 *
 *     async def factorial(name, number):
 *         f = 1
 *         for i in range(2, number + 1):
 *             print(f"Task {name}: Compute factorial({number}), currently i={i}...")
 *             await asyncio.sleep(1)
 *             f *= i
 *         print(f"Task {name}: factorial({number}) = {f}")
 *         return f
 *
 *     results = await asyncio.gather(factorial("A", 2), factorial("B", 3),
 *                                    factorial("C", 4))
 *     print(results)
 *
 * then the rest of the futures toolbox on the same pool:
 *   - pool_wait_any: which of several tasks finished first (FIRST_COMPLETED);
 *   - pool_future_wait with a timeout that fires (ETIMEDOUT) and one that
 *     does not;
 *   - a task that fails: its status is what pool_future_status() reports.
 *
 * The progress lines come from pool threads running side by side, so their
 * order varies from run to run (as in Python); the results never do.
 * Exits 0 when every check passes, 1 otherwise.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <poolmap.h>

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Milliseconds to nanoseconds, for the timeouts. */
#define MS(x) ((int64_t)(x) * 1000000)

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/*
 * One task's arguments and result. A task returns only a status, so the
 * result goes back through ctx: each task gets its own struct, which must
 * stay valid until the task's future is done.
 */
typedef struct factorial_task {
    const char *name;
    unsigned number;
    uint64_t result;
} factorial_task;

/* The task: Python's factorial(name, number). Returns 0, or ERANGE when the
 * result would not fit in 64 bits (20! is the largest that does). */
static int factorial(void *ctx)
{
    factorial_task *t = ctx;
    uint64_t f = 1;

    if (t->number > 20) {
        printf("Task %s: factorial(%u) does not fit in 64 bits\n", t->name, t->number);
        return ERANGE;
    }
    for (unsigned i = 2; i <= t->number; i++) {
        printf("Task %s: Compute factorial(%u), currently i=%u...\n", t->name, t->number, i);
        sleep_ms(10); /* asyncio.sleep(1), shortened */
        f *= i;
    }
    printf("Task %s: factorial(%u) = %" PRIu64 "\n", t->name, t->number, f);
    t->result = f;
    return 0;
}

/* A task that stands for slow I/O: sleeps for *ctx milliseconds. */
static int sleeper(void *ctx)
{
    sleep_ms(*(const long *)ctx);
    return 0;
}

/* Prints a failed check and counts it. */
static int check(int ok, const char *what)
{
    if (!ok)
        fprintf(stderr, "FAILED: %s\n", what);
    return ok ? 0 : 1;
}

int main(void)
{
    int rc, bad = 0;

    /* Four threads: three workers for the three tasks, plus this thread,
     * which only waits (async work never runs inside the submitting call). */
    pool_t *pool = pool_create(4);
    if (pool == NULL) {
        perror("pool_create");
        return 1;
    }

    /* ---- 1. gather: start three tasks, wait for all, read the results ---- */

    factorial_task tasks[3] = { { "A", 2, 0 }, { "B", 3, 0 }, { "C", 4, 0 } };
    pool_future_t *futs[3] = { NULL, NULL, NULL };
    const uint64_t want[3] = { 2, 6, 24 };

    for (size_t i = 0; i < 3; i++) {
        /* Returns at once; the task runs on a pool thread. */
        rc = pool_submit(pool, factorial, &tasks[i], NULL, &futs[i]);
        if (rc != 0) {
            fprintf(stderr, "pool_submit: %s\n", strerror(rc));
            goto fail;
        }
    }
    /* asyncio.gather: wait for every future (POOL_FOREVER: no time limit). */
    rc = pool_wait_all(futs, 3, POOL_FOREVER);
    bad += check(rc == 0, "pool_wait_all returned non-zero");

    /* Results come back in submission order, whatever order the tasks ran. */
    printf("results = [");
    for (size_t i = 0; i < 3; i++) {
        int status = pool_future_status(futs[i]);
        printf(i ? ", %" PRIu64 : "%" PRIu64, tasks[i].result);
        bad += check(status == 0, "a factorial task failed");
        bad += check(tasks[i].result == want[i], "a factorial is wrong");
    }
    printf("]\n");
    for (size_t i = 0; i < 3; i++) {
        pool_future_free(futs[i]);
        futs[i] = NULL;
    }

    /* ---- 2. wait(FIRST_COMPLETED), and timeouts ------------------------- */

    /* A slow, a fast and another slow task: the fast one finishes first. */
    long naps[3] = { 300, 10, 300 };
    for (size_t i = 0; i < 3; i++) {
        rc = pool_submit(pool, sleeper, &naps[i], NULL, &futs[i]);
        if (rc != 0) {
            fprintf(stderr, "pool_submit: %s\n", strerror(rc));
            goto fail;
        }
    }
    /* First completed: index receives the lowest index of a done future.
     * Give it a finite timeout: then this thread only waits. With
     * POOL_FOREVER it may run a task that no worker has picked up yet
     * itself (see poolmap.h), here possibly a 300 ms one, and it looks at
     * the other futures only once that task is over. */
    size_t first = SIZE_MAX;
    rc = pool_wait_any(futs, 3, MS(5000), &first);
    printf("pool_wait_any: %s, first done: task %zu (%ld ms)\n",
           rc ? strerror(rc) : "ok", first, first < 3 ? naps[first] : -1L);
    bad += check(rc == 0 && first == 1, "pool_wait_any did not report the fast task");

    /* A timeout that fires: 50 ms is not enough for a 300 ms task. The
     * future is unaffected; the task goes on running. */
    rc = pool_future_wait(futs[0], MS(50));
    printf("wait 50 ms for the 300 ms task: %s (done=%d, status=%s)\n",
           rc ? strerror(rc) : "ok", pool_future_done(futs[0]),
           strerror(pool_future_status(futs[0])));
    bad += check(rc == ETIMEDOUT, "a 50 ms wait for a 300 ms task did not time out");
    bad += check(pool_future_status(futs[0]) == EBUSY, "status is not EBUSY while running");

    /* A timeout that does not fire: both slow tasks end well within 5 s. */
    rc = pool_wait_all(futs, 3, MS(5000));
    printf("wait up to 5 s for all three: %s\n", rc ? strerror(rc) : "ok");
    bad += check(rc == 0, "a 5 s wait for 300 ms tasks timed out");
    for (size_t i = 0; i < 3; i++) {
        bad += check(pool_future_done(futs[i]), "a task is not done after pool_wait_all");
        bad += check(pool_future_status(futs[i]) == 0, "a sleeper failed");
        pool_future_free(futs[i]);
        futs[i] = NULL;
    }

    /* ---- 3. a task that fails ----------------------------------------- */

    /* 21! needs 66 bits: the task returns ERANGE, and that status is the
     * future's (Python would raise; here the caller checks the status). */
    factorial_task too_big = { "D", 21, 0 };
    pool_future_t *fut;
    rc = pool_submit(pool, factorial, &too_big, NULL, &fut);
    if (rc != 0) {
        fprintf(stderr, "pool_submit: %s\n", strerror(rc));
        goto fail;
    }
    pool_future_wait(fut, POOL_FOREVER);
    rc = pool_future_status(fut);
    printf("factorial(21): status %d (%s)\n", rc, strerror(rc));
    bad += check(rc == ERANGE, "the failing task's status is not ERANGE");
    pool_future_free(fut);

    pool_destroy(pool);
    if (bad != 0) {
        fprintf(stderr, "FAILED: %d check(s)\n", bad);
        return 1;
    }
    printf("OK\n");
    return 0;

fail:
    /* pool_destroy() finishes the work already submitted, so the tasks'
     * ctx (on this stack) stays valid until then; futures outlive it. */
    pool_destroy(pool);
    for (size_t i = 0; i < 3; i++)
        pool_future_free(futs[i]);
    return 1;
}
