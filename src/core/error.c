/*
 * Strings for the error codes of include/void/error.h, generated from the same
 * X-macro as the enum so that they cannot drift.
 */
#include "void/error.h"

static const char *const messages[] = {
#define VOID__X(name, msg) msg,
    VOID_ERRNO_MAP(VOID__X)
#undef VOID__X
};

static const char *const names[] = {
#define VOID__X(name, msg) "VOID_E" #name,
    VOID_ERRNO_MAP(VOID__X)
#undef VOID__X
};

_Static_assert(sizeof(messages) / sizeof(messages[0]) == VOID__ERR_ORD_COUNT,
               "one message per error code");

static int ordinal(int err)
{
    if (err >= 0 || err < -(int)VOID__ERR_ORD_COUNT) {
        return -1;
    }
    return -err - 1;
}

const char *void_strerror(int err)
{
    if (err == 0) {
        return "success";
    }
    int ord = ordinal(err);
    return ord < 0 ? "unknown error" : messages[ord];
}

const char *void_err_name(int err)
{
    if (err == 0) {
        return "VOID_OK";
    }
    int ord = ordinal(err);
    return ord < 0 ? "VOID_EUNKNOWN" : names[ord];
}
