/*
 * progress.c - watch a long async loop, stop one halfway, and consume one
 * chunk by chunk as it completes.
 *
 *   1. pool_for_async() over 2,000 items of about 0.3 ms each, while this
 *      thread draws a progress bar on stderr from pool_future_progress().
 *      pool_future_wait() with a 50 ms timeout is the pause between redraws:
 *      it returns early, with 0, the moment the loop is done.
 *   2. The same loop, cancelled with pool_future_cancel() once half the items
 *      have run. Items that had not started never start; the status is
 *      ECANCELED and pool_future_failed_index() the lowest item that never
 *      started: every item below it ran, as in a serial loop stopped there.
 *   3. pool_map_async() with POOL_ASYNC_CHUNKS: pool_future_next() hands out
 *      each finished chunk while the rest still runs (Python's
 *      imap_unordered), and each chunk's results are checked on arrival.
 *
 * Exits 0 when every result and every status is right, 1 otherwise.
 */
#include <poolmap.h>

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define N 2000       /* items in runs 1 and 2 */
#define N_STREAM 600 /* items in run 3 */
#define POWER 60000  /* multiplications per item: about 0.3 ms */
#define PRIME UINT64_C(1000000007)
#define MS(x) ((int64_t)(x) * 1000000)

/* ---- the work ----------------------------------------------------------------- */

/* base^POWER mod PRIME one multiplication at a time: the slow item. */
static uint64_t slow_pow(uint64_t base)
{
    uint64_t r = 1;
    for (unsigned k = 0; k < POWER; k++)
        r = r * base % PRIME;
    return r;
}

/* The same by squaring: the check, in microseconds. Never 0 for
 * 0 < base < PRIME, so 0 in an output slot means "did not run". */
static uint64_t fast_pow(uint64_t base)
{
    uint64_t r = 1;
    for (uint64_t e = POWER; e; e >>= 1) {
        if (e & 1)
            r = r * base % PRIME;
        base = base * base % PRIME;
    }
    return r;
}

/* pool_for callback: item i writes only its own slot of the array in ctx. */
static int for_item(void *ctx, size_t i)
{
    uint64_t *out = ctx;
    out[i] = slow_pow(i + 2);
    return 0;
}

/* pool_map callback: one base in, its power out. */
static int map_item(void *ctx, const void *in, void *out)
{
    (void)ctx;
    *(uint64_t *)out = slow_pow(*(const uint64_t *)in);
    return 0;
}

/* ---- the progress bar ----------------------------------------------------------- */

/* Redraws the bar in place: \r returns to the start of the line. */
static void draw_bar(const char *label, size_t done, size_t total)
{
    enum { WIDTH = 40 };
    char bar[WIDTH + 1];
    size_t fill = total ? done * WIDTH / total : WIDTH;

    memset(bar, '#', fill);
    memset(bar + fill, '-', WIDTH - fill);
    bar[WIDTH] = '\0';
    fprintf(stderr, "\r%s [%s] %3zu%% %4zu/%zu", label, bar,
            total ? done * 100 / total : 100, done, total);
}

/*
 * Draws the bar every `period_ms` until `future` is done. If cancel_at > 0,
 * cancels the future once that many items have run. Returns the number of
 * checks that failed (progress must never go back).
 */
static int watch(const char *label, pool_future_t *future, int period_ms, size_t cancel_at)
{
    size_t total, last = 0, redraws = 0;
    int bad = 0, cancelled = 0;

    /* Returns 0 as soon as the future is done, ETIMEDOUT after the period.
     * A finite timeout only waits: this thread never runs items itself. */
    while (pool_future_wait(future, MS(period_ms)) == ETIMEDOUT) {
        size_t done = pool_future_progress(future, &total);
        if (done < last) {
            fprintf(stderr, "\nFAILED: progress went back from %zu to %zu\n", last, done);
            bad++;
        }
        last = done;
        draw_bar(label, done, total);
        redraws++;
        if (cancel_at > 0 && !cancelled && done >= cancel_at) {
            int rc = pool_future_cancel(future);
            fprintf(stderr, "\n%s: pool_future_cancel at %zu items: %s\n", label, done,
                    rc ? strerror(rc) : "ok");
            if (rc != 0) {
                fprintf(stderr, "FAILED: the cancel did not take effect\n");
                bad++;
            }
            cancelled = 1;
        }
    }
    draw_bar(label, pool_future_progress(future, &total), total);
    fprintf(stderr, "\n");
    printf("%s: %zu redraws, status %d (%s)\n", label, redraws, pool_future_status(future),
           strerror(pool_future_status(future)));
    return bad;
}

/* ---- the three runs ------------------------------------------------------------- */

int main(void)
{
    static uint64_t out[N], in[N_STREAM], streamed[N_STREAM];
    pool_async_opts opts = POOL_ASYNC_OPTS_INIT;
    pool_future_t *fut;
    int rc, bad = 0;

    /* Two workers plus this thread, which only watches: async work never
     * runs on the thread that submitted it. The size is fixed rather than
     * one per CPU so that the runs take a visible while on any machine
     * (on 64 cores run 2 would be over before there is a half to cancel). */
    pool_t *pool = pool_create(3);
    if (pool == NULL) {
        perror("pool_create");
        return 1;
    }

    /* Progress is counted when a chunk finishes, so the chunk size is the
     * bar's resolution: 10 items (3 ms) per claim rather than the automatic
     * first chunks of several hundred. */
    opts.chunk = 10;

    /* ---- 1. run to the end with a progress bar ---- */
    rc = pool_for_async(pool, N, for_item, out, &opts, &fut);
    if (rc != 0) {
        fprintf(stderr, "pool_for_async: %s\n", strerror(rc));
        pool_destroy(pool);
        return 1;
    }
    bad += watch("full run", fut, 50, 0);
    if (pool_future_status(fut) != 0 || pool_future_progress(fut, NULL) != N) {
        fprintf(stderr, "FAILED: full run: status %d, progress %zu\n",
                pool_future_status(fut), pool_future_progress(fut, NULL));
        bad++;
    }
    for (size_t i = 0; i < N; i++) {
        if (out[i] != fast_pow(i + 2)) {
            fprintf(stderr, "FAILED: full run: item %zu wrong\n", i);
            bad++;
        }
    }
    pool_future_free(fut);

    /* ---- 2. cancel halfway ---- */
    memset(out, 0, sizeof out); /* 0 marks "did not run" */
    rc = pool_for_async(pool, N, for_item, out, &opts, &fut);
    if (rc != 0) {
        fprintf(stderr, "pool_for_async: %s\n", strerror(rc));
        pool_destroy(pool);
        return 1;
    }
    /* Looked at every 10 ms, so that the cancel lands close to halfway. */
    bad += watch("cancelled", fut, 10, N / 2);

    rc = pool_future_status(fut);
    size_t failed = pool_future_failed_index(fut);
    size_t progress = pool_future_progress(fut, NULL);
    printf("cancelled: status %s, failed_index %zu, progress %zu of %d\n",
           rc == ECANCELED ? "ECANCELED" : strerror(rc), failed, progress, N);
    if (rc != ECANCELED || failed >= N || progress < failed || progress >= N) {
        fprintf(stderr, "FAILED: cancelled run: status %d, failed_index %zu, progress %zu\n",
                rc, failed, progress);
        bad++;
    } else {
        /* Every item below failed_index ran and is right. Above it, some
         * items may have run (other threads' chunks): progress counts all
         * that ran, so exactly that many slots are filled. */
        size_t ran = 0;
        for (size_t i = 0; i < N; i++) {
            if (out[i] != 0)
                ran++;
            if ((i < failed || out[i] != 0) && out[i] != fast_pow(i + 2)) {
                fprintf(stderr, "FAILED: cancelled run: item %zu wrong\n", i);
                bad++;
            }
        }
        printf("cancelled: every item below %zu ran; %zu ran in all\n", failed, ran);
        if (ran != progress) {
            fprintf(stderr, "FAILED: %zu items ran but progress says %zu\n", ran, progress);
            bad++;
        }
    }
    pool_future_free(fut);

    /* ---- 3. consume chunks as they complete ---- */
    for (size_t i = 0; i < N_STREAM; i++)
        in[i] = i + 2;
    pool_async_opts stream_opts = POOL_ASYNC_OPTS_INIT;
    stream_opts.flags = POOL_ASYNC_CHUNKS; /* automatic chunk size: big first, small last */
    rc = pool_map_async(pool, map_item, NULL, in, sizeof in[0], streamed, sizeof streamed[0],
                        N_STREAM, &stream_opts, &fut);
    if (rc != 0) {
        fprintf(stderr, "pool_map_async: %s\n", strerror(rc));
        pool_destroy(pool);
        return 1;
    }
    size_t begin, end, nchunks = 0, nitems = 0;
    int status;
    /* Each call returns one finished chunk, in completion order; ENOENT
     * once the map is done and every chunk has been handed out. */
    while ((rc = pool_future_next(fut, POOL_FOREVER, &begin, &end, &status)) == 0) {
        int ok = status == 0;
        for (size_t i = begin; i < end; i++)
            if (streamed[i] != fast_pow(in[i]))
                ok = 0;
        printf("chunk [%3zu, %3zu): %s\n", begin, end, ok ? "ok" : "WRONG");
        if (!ok)
            bad++;
        nchunks++;
        nitems += end - begin;
    }
    printf("streamed: %zu chunks, %zu items, then %s; status %d\n", nchunks, nitems,
           rc == ENOENT ? "ENOENT" : strerror(rc), pool_future_status(fut));
    if (rc != ENOENT || nitems != N_STREAM || pool_future_status(fut) != 0) {
        fprintf(stderr, "FAILED: stream: rc %d, %zu items\n", rc, nitems);
        bad++;
    }
    pool_future_free(fut);

    pool_destroy(pool);
    if (bad != 0) {
        fprintf(stderr, "FAILED: %d check(s)\n", bad);
        return 1;
    }
    printf("OK\n");
    return 0;
}
