/*
 * run_in_executor.c - keep a single-threaded event loop responsive while a
 * pool does the blocking and CPU-heavy work, as asyncio does with
 *
 *     loop = asyncio.get_running_loop()
 *     io = loop.run_in_executor(pool, read_slow_device)   # blocks ~200 ms
 *     cpu = loop.run_in_executor(pool, crunch, items)     # CPU work
 *     # ...the loop keeps running its timers meanwhile...
 *     value, results = await io, await cpu
 *
 * The loop here is plain poll(): a periodic 20 ms timer (the poll timeout)
 * and one file descriptor per future, from pool_future_fd(), which becomes
 * readable when the future is done. The loop never blocks on the pool, so
 * the timer keeps ticking while the work runs; when a future's fd is
 * readable, its status and results are ready to read.
 *
 * Exits 0 when the results are right and the timer ticked while the work
 * ran, 1 otherwise.
 */
#define _POSIX_C_SOURCE 200809L /* poll, clock_gettime, nanosleep */

#include <poolmap.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define TICK_MS 20   /* the loop's timer period */
#define NITEMS 96    /* items of CPU work */
#define POWER 200000 /* multiplications per item: about 1 ms each */
#define PRIME UINT64_C(1000000007)

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the work handed to the pool ----------------------------------------- */

/* Stands for a blocking read from a slow device: 200 ms, then a value. */
static int read_slow_device(void *ctx)
{
    struct timespec ts = { 0, 200 * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    *(int *)ctx = 42;
    return 0;
}

/* Map callback, the CPU work: base^POWER mod PRIME the slow way, one
 * multiplication at a time. */
static int crunch(void *ctx, const void *in, void *out)
{
    uint64_t base = *(const uint64_t *)in, r = 1;

    (void)ctx;
    for (unsigned k = 0; k < POWER; k++)
        r = r * base % PRIME;
    *(uint64_t *)out = r;
    return 0;
}

/* The same power by squaring, to check the results in microseconds. */
static uint64_t pow_mod(uint64_t base, uint64_t e)
{
    uint64_t r = 1;
    base %= PRIME;
    for (; e; e >>= 1) {
        if (e & 1)
            r = r * base % PRIME;
        base = base * base % PRIME;
    }
    return r;
}

/* ---- the event loop ------------------------------------------------------- */

int main(void)
{
    static uint64_t in[NITEMS], out[NITEMS];
    int device_value = 0;
    int rc, bad = 0;

    for (size_t i = 0; i < NITEMS; i++)
        in[i] = i + 2;

    /* A blocking task holds a pool thread while it sleeps, so this pool has
     * one thread more than the CPU work needs. This thread (the loop) never
     * runs pool work: it only submits and polls. */
    pool_t *pool = pool_create(4);
    if (pool == NULL) {
        perror("pool_create");
        return 1;
    }

    /* run_in_executor: both calls return at once with a future. */
    pool_future_t *io = NULL, *cpu = NULL;
    rc = pool_submit(pool, read_slow_device, &device_value, NULL, &io);
    if (rc == 0)
        rc = pool_map_async(pool, crunch, NULL, in, sizeof in[0], out, sizeof out[0],
                            NITEMS, NULL, &cpu);
    if (rc != 0) {
        fprintf(stderr, "submit: %s\n", strerror(rc));
        pool_destroy(pool); /* finishes what was submitted */
        pool_future_free(io);
        return 1;
    }

    /* One pollfd per future. The fds belong to the futures: poll them, but
     * never read or close them. A negative fd is skipped by poll(), which
     * is how a finished future leaves the set. */
    struct pollfd fds[2] = {
        { pool_future_fd(io), POLLIN, 0 },
        { pool_future_fd(cpu), POLLIN, 0 },
    };
    if (fds[0].fd < 0 || fds[1].fd < 0) {
        perror("pool_future_fd");
        pool_destroy(pool);
        pool_future_free(io);
        pool_future_free(cpu);
        return 1;
    }

    int64_t start = now_ms(), next_tick = start + TICK_MS;
    unsigned ticks = 0, pending = 2;
    unsigned ticks_at_io = 0, ticks_at_cpu = 0;

    while (pending > 0) {
        /* Sleep until the next tick or an fd becomes readable. */
        int64_t wait = next_tick - now_ms();
        if (poll(fds, 2, wait > 0 ? (int)wait : 0) < 0) {
            if (errno == EINTR)
                continue;
            perror("poll");
            break;
        }

        /* The timer: count every period that has passed. */
        int64_t now = now_ms();
        while (now >= next_tick) {
            ticks++;
            if (ticks <= 3 || ticks % 5 == 0)
                printf("[%3" PRId64 " ms] tick %u\n", now - start, ticks);
            next_tick += TICK_MS;
        }

        /* The futures: readable means done, so the status is final. */
        if (fds[0].revents & POLLIN) {
            fds[0].fd = -1;
            pending--;
            ticks_at_io = ticks;
            rc = pool_future_status(io);
            printf("[%3" PRId64 " ms] device read done after %u ticks: status %d, value %d\n",
                   now - start, ticks, rc, device_value);
            if (rc != 0 || device_value != 42) {
                fprintf(stderr, "FAILED: device read: status %d, value %d\n", rc,
                        device_value);
                bad++;
            }
        }
        if (fds[1].revents & POLLIN) {
            fds[1].fd = -1;
            pending--;
            ticks_at_cpu = ticks;
            rc = pool_future_status(cpu);
            printf("[%3" PRId64 " ms] %d items crunched after %u ticks: status %d, "
                   "out[0] = %" PRIu64 ", out[%d] = %" PRIu64 "\n",
                   now - start, NITEMS, ticks, rc, out[0], NITEMS - 1, out[NITEMS - 1]);
            if (rc != 0) {
                fprintf(stderr, "FAILED: map status %d (%s)\n", rc, strerror(rc));
                bad++;
            }
            for (size_t i = 0; i < NITEMS; i++) {
                if (out[i] != pow_mod(in[i], POWER)) {
                    fprintf(stderr, "FAILED: item %zu: got %" PRIu64 ", want %" PRIu64 "\n",
                            i, out[i], pow_mod(in[i], POWER));
                    bad++;
                }
            }
        }
    }
    printf("loop ended after %u ticks\n", ticks);

    /* The device read alone takes 200 ms, about 10 periods, and the loop
     * was free all along: it must have ticked several times before the
     * last future was done. */
    unsigned ticks_before_end = ticks_at_io > ticks_at_cpu ? ticks_at_io : ticks_at_cpu;
    if (pending != 0 || ticks_before_end < 3) {
        fprintf(stderr, "FAILED: %u ticks while the work ran (want >= 3)\n",
                ticks_before_end);
        bad++;
    }

    /* Both futures are done, so nothing is left to wait for. */
    pool_future_free(io);
    pool_future_free(cpu);
    pool_destroy(pool);

    if (bad != 0) {
        fprintf(stderr, "FAILED: %d check(s)\n", bad);
        return 1;
    }
    printf("OK\n");
    return 0;
}
