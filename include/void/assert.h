/*
 * Assertions that stay on in release builds.
 *
 * VOID_ASSERT checks invariants, preconditions and postconditions: a failure
 * is a bug in Void, never a reaction to bad input (Byzantine or malformed
 * input is validated and rejected with an error code instead). VOID_ASSERT_SLOW
 * is for costly checks and compiles only under VOID_DEBUG.
 */
#ifndef VOID_ASSERT_H
#define VOID_ASSERT_H

#include <stdnoreturn.h>

/* Prints "file:line: func: assertion failed: expr" to stderr and aborts. */
noreturn void void__assert_fail(const char *expr, const char *file, int line, const char *func);

#define VOID_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            void__assert_fail(#cond, __FILE__, __LINE__, __func__);                                \
        }                                                                                          \
    } while (0)

#if defined(VOID_DEBUG) && VOID_DEBUG
#define VOID_ASSERT_SLOW(cond) VOID_ASSERT(cond)
#else
#define VOID_ASSERT_SLOW(cond)                                                                     \
    do {                                                                                           \
        (void)sizeof(cond);                                                                        \
    } while (0)
#endif

#define VOID_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
