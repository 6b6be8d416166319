/*
 * The one place an assertion failure ends up. It prints where and what, then
 * aborts so that a core dump or the sanitizer's report shows the stack.
 */
#include "void/assert.h"

#include <stdio.h>
#include <stdlib.h>

noreturn void void__assert_fail(const char *expr, const char *file, int line, const char *func)
{
    fprintf(stderr, "%s:%d: %s: assertion failed: %s\n", file, line, func, expr);
    fflush(stderr);
    abort();
}
