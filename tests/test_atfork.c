/*
 * test_atfork.c - pool_create refuses to make pools when the library's fork
 * handler could not be registered, and what that costs the rest of the
 * process.
 *
 * The handler (pthread_atfork, once per process at the first pool_create)
 * is what keeps the documented fork() behaviour; without it, pools would
 * break silently in a forked child. pthread_atfork fails only with ENOMEM,
 * and its registration is once per process (pthread_once, which also stays
 * right across a fork in progress), so the failure is for good: every
 * pool_create of the process then returns NULL with ENOMEM, while the
 * calls that take a NULL pool still run their loops serially.
 *
 * How: this executable alone is linked with -Wl,--wrap=pthread_atfork
 * (tests/CMakeLists.txt), so the static library's call reaches the wrapper
 * below, which fails it. Its own executable: the registration happens once
 * per process, and test_faults' process has long made its first pool.
 */
#include "test_util.h"

int __wrap_pthread_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void));

static atomic_uint atfork_calls;

/* Fails every registration, registering nothing. */
int __wrap_pthread_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
    (void)prepare;
    (void)parent;
    (void)child;
    atomic_fetch_add(&atfork_calls, 1);
    return ENOMEM;
}

static int triple(void *ctx, const void *in, void *out)
{
    (void)ctx;
    *(int *)out = 3 * *(const int *)in;
    return 0;
}

static void a_failed_fork_handler_fails_every_pool_create_with_ENOMEM(void **state)
{
    static const size_t sizes[] = { 2, 1, 0, 4 };
    int in[16], out[16];

    (void)state;
    for (size_t k = 0; k < TU_ARRAY_LEN(sizes); k++) {
        tu_where("pool_create(%zu), call %zu of the process", sizes[k], k + 1);
        errno = 0;
        pool_t *pool = pool_create(sizes[k]);
        TU_ASSERT_TRUE(pool == NULL);
        TU_ASSERT_EQ(errno, ENOMEM);
        /* Registered (tried) once, at the first pool_create only. */
        TU_ASSERT_EQ(atomic_load(&atfork_calls), 1);
    }
    /* The argument check still comes first. */
    errno = 0;
    TU_ASSERT_TRUE(pool_create(POOL_MAX_THREADS + 1) == NULL);
    TU_ASSERT_EQ(errno, EINVAL);

    /* Loops without a pool run serially all the same. */
    for (int i = 0; i < 16; i++) {
        in[i] = i;
        out[i] = -1;
    }
    TU_ASSERT_EQ(pool_map(NULL, triple, NULL, in, sizeof *in, out, sizeof *out, 16), 0);
    for (int i = 0; i < 16; i++)
        TU_ASSERT_EQ(out[i], 3 * i);
    TU_ASSERT_EQ(atomic_load(&atfork_calls), 1);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(a_failed_fork_handler_fails_every_pool_create_with_ENOMEM),
    };

    return TU_RUN(tests, argc, argv);
}
