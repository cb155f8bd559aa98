/*
 * Source fingerprints: what a bundle remembers of the files it was made from,
 * so the origin notices a changed source with stat() alone (size + stat_hash)
 * and the packager can confirm with a cheap content hash of each file's ends.
 * The definition is in include/pagecast/bundle.h and docs/bundle-format.md.
 */
#include "pagecast/bundle.h"
#include "pagecast/status.h"
#include "fail.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define END_BYTES 65536u            /* hashed from each end of each input */

static uint64_t hash_u64(uint64_t h, uint64_t v)
{
    uint8_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)(v >> (8 * i));
    return pc_fnv1a(h, le, sizeof le);
}

/* Hash exactly @p len bytes at @p off; a short read means the file changed. */
static int hash_range(int fd, uint64_t off, size_t len, uint8_t *buf, uint64_t *h,
                      const char *path, char *err, size_t errlen)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            return fail(err, errlen, pc_status_from_errno(e), "%s: %s", path, strerror(e));
        }
        if (n == 0)
            return fail(err, errlen, PC_EIO, "%s: file shrank while being read", path);
        got += (size_t)n;
    }
    *h = pc_fnv1a(*h, buf, len);
    return 0;
}

int pc_fingerprint_files(const char *const *paths, unsigned n, int with_content,
                         struct pc_fingerprint *fp, char *err, size_t errlen)
{
    uint64_t size = 0, stat_hash = PC_FNV_INIT, content_hash = PC_FNV_INIT;
    uint8_t *buf = NULL;
    int rc = 0;

    if (err && errlen)
        err[0] = '\0';
    if (!fp || (n && !paths))
        return fail(err, errlen, PC_EINVAL, "no paths or fingerprint");
    if (with_content && !(buf = malloc(END_BYTES)))
        return fail(err, errlen, PC_ENOMEM, "out of memory");

    for (unsigned i = 0; i < n; i++) {
        const char *path = paths[i];
        struct stat st;
        int fd = -1;

        if (with_content) {
            /* fstat the descriptor that is read: one file, one identity. */
            fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0 || fstat(fd, &st) != 0) {
                int e = errno;
                rc = fail(err, errlen, pc_status_from_errno(e), "%s: %s", path, strerror(e));
                if (fd >= 0)
                    close(fd);
                goto out;
            }
        } else if (stat(path, &st) != 0) {
            int e = errno;
            rc = fail(err, errlen, pc_status_from_errno(e), "%s: %s", path, strerror(e));
            goto out;
        }
        if (!S_ISREG(st.st_mode)) {
            rc = fail(err, errlen, PC_EMEDIA, "%s: not a regular file", path);
            if (fd >= 0)
                close(fd);
            goto out;
        }

        uint64_t fsize = (uint64_t)st.st_size;
        size += fsize;
        stat_hash = hash_u64(stat_hash, fsize);
        stat_hash = hash_u64(stat_hash, (uint64_t)(int64_t)st.st_mtim.tv_sec);
        stat_hash = hash_u64(stat_hash, (uint64_t)(int64_t)st.st_mtim.tv_nsec);

        if (with_content) {
            /* First then last min(64 KiB, size) bytes: for a small file the
             * same bytes twice, exactly as the definition says. */
            size_t m = fsize < END_BYTES ? (size_t)fsize : END_BYTES;
            rc = hash_range(fd, 0, m, buf, &content_hash, path, err, errlen);
            if (!rc)
                rc = hash_range(fd, fsize - m, m, buf, &content_hash, path, err, errlen);
            close(fd);
            if (rc)
                goto out;
        }
    }
    fp->count = n;
    fp->size = size;
    fp->stat_hash = stat_hash;
    fp->content_hash = with_content ? content_hash : 0;
out:
    free(buf);
    return rc;
}
