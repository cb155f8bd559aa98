/*
 * fail(): the one way pagecast_core's libc-only files (bundle.c,
 * fingerprint.c) report an error: a one-line reason into the caller's
 * err/errlen buffer and a negative status back, in one statement:
 *
 *     return fail(err, errlen, PC_ECORRUPT, "track %u: timescale 0", t);
 *
 * Internal to the packager directory; not a public header.
 */
#ifndef PC_FAIL_H
#define PC_FAIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Format a one-line reason into @p err (if any) and return @p status. */
__attribute__((format(printf, 4, 5)))
static inline int fail(char *err, size_t errlen, int status, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return status;
}

#endif
