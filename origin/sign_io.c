/*
 * Signed URLs, the I/O side (sign_io.h): the secret file and the request
 * hook with its refusal log.
 */
#include "sign_io.h"

#include "pagecast/status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A secret file is a few lines of text: anything bigger is a wrong path. */
#define SECRET_FILE_MAX (64 * 1024)

int pc_sign_load(const char *path, struct pc_sign_keys *keys, char *err, size_t errlen,
                 char *warn, size_t warnlen)
{
    static char buf[SECRET_FILE_MAX + 1];
    warn[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot read the secret file %s: %s", path, strerror(e));
        if (fd >= 0)
            close(fd);
        return pc_status_from_errno(e);
    }
    if (!S_ISREG(st.st_mode) || st.st_size > SECRET_FILE_MAX) {
        snprintf(err, errlen, "the secret file %s: not a regular file of at most 64 KiB", path);
        close(fd);
        return PC_EINVAL;
    }
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            snprintf(err, errlen, "cannot read the secret file %s: %s", path, strerror(e));
            close(fd);
            explicit_bzero(buf, len);
            return pc_status_from_errno(e);
        }
        if (n == 0 || (len += (size_t)n) == sizeof buf)
            break;
    }
    close(fd);
    char why[160];
    int r = len > SECRET_FILE_MAX ? PC_EINVAL : pc_sign_keys_parse(keys, buf, len, why, sizeof why);
    explicit_bzero(buf, len);
    if (r < 0) {
        snprintf(err, errlen, "the secret file %s: %s", path,
                 len > SECRET_FILE_MAX ? "not a regular file of at most 64 KiB" : why);
        return r;
    }
    if (st.st_mode & 077)
        snprintf(warn, warnlen, "the secret file %s can be read by other users (mode %04o): "
                 "chmod 600 it", path, (unsigned)(st.st_mode & 07777));
    return 0;
}

/* The refusal log's budget: lines logged in the current second, and
 * refusals left out since the last line about them. */
static atomic_llong log_second;
static atomic_uint log_count;
static atomic_ulong log_dropped;

static void log_refusal(enum pc_sign_result why, const char *method, const char *target,
                        size_t len)
{
    long long now = (long long)time(NULL);
    long long was = atomic_load_explicit(&log_second, memory_order_relaxed);
    if (was != now &&
        atomic_compare_exchange_strong_explicit(&log_second, &was, now, memory_order_relaxed,
                                                memory_order_relaxed)) {
        atomic_store_explicit(&log_count, 0, memory_order_relaxed);
        unsigned long dropped = atomic_exchange_explicit(&log_dropped, 0, memory_order_relaxed);
        if (dropped)
            fprintf(stderr, "pagecast-origin: 403: %lu more signed-URL refusals not logged\n",
                    dropped);
    }
    if (atomic_fetch_add_explicit(&log_count, 1, memory_order_relaxed) >= PC_SIGN_LOG_PER_SECOND) {
        atomic_fetch_add_explicit(&log_dropped, 1, memory_order_relaxed);
        return;
    }
    /* The path only: the query holds the token, which is not for logs
     * (the access log has the whole target for whoever needs it). */
    char path[300];
    size_t o = 0;
    for (size_t i = 0; i < len && target[i] != '?' && o + 5 < sizeof path; i++) {
        unsigned char c = (unsigned char)target[i];
        if (c < 0x20 || c >= 0x7f || c == '\\')
            o += (size_t)snprintf(path + o, sizeof path - o, "\\x%02x", c);
        else
            path[o++] = (char)c;
    }
    path[o] = '\0';
    fprintf(stderr, "pagecast-origin: 403 for %s %s: %s\n", method, path,
            pc_sign_result_str(why));
}

int pc_sign_request(const struct pc_sign_keys *keys, const char *method, const char *target,
                    size_t len, struct pc_sign_token *t)
{
    enum pc_sign_result r = pc_sign_check(keys, target, len, (int64_t)time(NULL), t);
    if (r == PC_SIGN_OK)
        return 0;
    log_refusal(r, method, target, len);
    return PC_EFORBIDDEN;
}
