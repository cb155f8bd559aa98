/*
 * An AVIOContext over an mmapped file (see mmap_io.h).
 */
#include "mmap_io.h"

#include "pagecast/status.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avio.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#define AVIO_BUFFER_SIZE (64 * 1024)

static pthread_once_t bus_once;
static void install_bus_handler(void);

int pc_input_map_file(struct pc_input_map *m, const char *path, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    m->fd = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open: %s", strerror(e));
        return pc_status_from_errno(e);
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        snprintf(err, errlen, "cannot stat: %s", strerror(e));
        return pc_status_from_errno(e);
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        snprintf(err, errlen, "is a directory, not a media file");
        return PC_EMEDIA;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(err, errlen, "not a regular file");
        return PC_EMEDIA;
    }
    if (st.st_size == 0) {
        close(fd);
        snprintf(err, errlen, "empty file");
        return PC_EMEDIA;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        close(fd);
        snprintf(err, errlen, "cannot map: %s", strerror(e));
        return pc_status_from_errno(e);
    }
    /* The demuxer mostly reads forward; let the kernel read ahead widely. */
    (void)madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
    pthread_once(&bus_once, install_bus_handler);
    m->data = p;
    m->size = (size_t)st.st_size;
    m->mapped = 1;
    m->fd = fd;     /* kept to tell a truncation from other write errors */
    return 0;
}

void pc_input_map_mem(struct pc_input_map *m, const uint8_t *data, size_t len)
{
    memset(m, 0, sizeof *m);
    m->data = data;
    m->size = len;
    m->fd = -1;
}

void pc_input_unmap(struct pc_input_map *m)
{
    if (m->mapped && m->data)
        munmap((void *)m->data, m->size);
    if (m->mapped && m->fd >= 0)
        close(m->fd);
    memset(m, 0, sizeof *m);
    m->fd = -1;
}

void pc_input_prefault(const struct pc_input_map *m, size_t lo, size_t hi)
{
#ifdef MADV_POPULATE_READ
    if (!m->mapped || lo >= hi || hi > m->size)
        return;
    lo &= ~((size_t)sysconf(_SC_PAGESIZE) - 1);
    /* Linux 5.14 and later; elsewhere EINVAL, and the faults happen anyway. */
    (void)madvise((void *)(m->data + lo), hi - lo, MADV_POPULATE_READ);
#else
    (void)m;
    (void)lo;
    (void)hi;
#endif
}

#define RELEASE_EVERY (8u << 20)    /* bytes consumed between two releases */
#define RELEASE_BEHIND (8u << 20)   /* kept below the lowest recent read */

void pc_input_consumed(struct pc_input_map *m, size_t lo, size_t hi)
{
    if (!m->mapped || lo >= hi || hi > m->size)
        return;
    if (m->recent_bytes == 0 || lo < m->recent_lo)
        m->recent_lo = lo;
    m->recent_bytes += hi - lo;
    if (m->recent_bytes < RELEASE_EVERY)
        return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t upto = m->recent_lo > RELEASE_BEHIND ? (m->recent_lo - RELEASE_BEHIND) & ~(page - 1) : 0;
    if (upto > m->released) {
        (void)madvise((void *)(m->data + m->released), upto - m->released, MADV_DONTNEED);
        m->released = upto;
    }
    m->recent_bytes = 0;
}

int pc_input_map_shrank(struct pc_input_map *m)
{
    struct stat st;
    if (m->shrank)
        return 1;
    if (m->mapped && m->fd >= 0 && fstat(m->fd, &st) == 0 && (uint64_t)st.st_size < m->size)
        m->shrank = 1;
    return m->shrank;
}

/*
 * A mapped file that shrinks under us (a source truncated or rewritten while
 * it is packaged) raises SIGBUS on the next touch of a lost page.  That must
 * fail one job, not kill the origin: the only code that touches the mapping
 * is the copy below, so it runs under a per-thread recovery point and the
 * handler jumps back to it.  A SIGBUS anywhere else goes to the previous
 * handler as before.
 */
static _Thread_local sigjmp_buf *volatile tls_recover;
static struct sigaction prev_bus;
static pthread_once_t bus_once = PTHREAD_ONCE_INIT;

static void bus_handler(int sig, siginfo_t *si, void *uc)
{
    if (tls_recover)
        siglongjmp(*tls_recover, 1);
    /* Not ours: reinstate the previous disposition; the fault repeats. */
    sigaction(sig, &prev_bus, NULL);
    (void)si;
    (void)uc;
}

static void install_bus_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = bus_handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &prev_bus);
}

static int guarded_copy(void *dst, const void *src, size_t n)
{
    sigjmp_buf jb;
    /* No signal mask saved: that would cost a system call per read, and
     * with SA_NODEFER the handler never blocks SIGBUS, so there is no mask
     * to restore after the jump. */
    if (sigsetjmp(jb, 0)) {
        tls_recover = NULL;
        return -1;
    }
    tls_recover = &jb;
    memcpy(dst, src, n);
    tls_recover = NULL;
    return 0;
}

int pc_input_copy(struct pc_input_map *m, void *dst, size_t off, size_t n)
{
    if (off > m->size || n > m->size - off)
        return -1;
    if (!m->mapped) {
        memcpy(dst, m->data + off, n);
        return 0;
    }
    if (guarded_copy(dst, m->data + off, n) < 0) {
        m->shrank = 1;
        return -1;
    }
    return 0;
}

static int map_read(void *opaque, uint8_t *buf, int len)
{
    struct pc_input_map *m = opaque;
    if (m->pos >= m->size)
        return AVERROR_EOF;
    size_t n = m->size - m->pos;
    if (n > (size_t)len)
        n = (size_t)len;
    if (!m->direct) {
        if (pc_input_copy(m, buf, m->pos, n) < 0)
            return AVERROR(EIO);    /* lost to truncation: m->shrank is set */
        pc_input_consumed(m, m->pos, m->pos + n);
    }
    m->pos += n;
    return (int)n;
}

static int64_t map_seek(void *opaque, int64_t offset, int whence)
{
    struct pc_input_map *m = opaque;
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return (int64_t)m->size;
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)m->pos; break;
    case SEEK_END: base = (int64_t)m->size; break;
    default: return AVERROR(EINVAL);
    }
    if (offset > INT64_MAX - base)
        return AVERROR(EINVAL);
    int64_t np = base + offset;
    if (np < 0)
        return AVERROR(EINVAL);
    /* Seeking past the end is allowed (reads then hit EOF), as with a file. */
    m->pos = (uint64_t)np > m->size ? m->size : (size_t)np;
    return np;
}

AVIOContext *pc_avio_open(struct pc_input_map *m)
{
    uint8_t *buf = av_malloc(AVIO_BUFFER_SIZE);
    if (!buf)
        return NULL;
    m->pos = 0;
    AVIOContext *pb = avio_alloc_context(buf, AVIO_BUFFER_SIZE, 0, m, map_read, NULL, map_seek);
    if (!pb) {
        av_free(buf);
        return NULL;
    }
    pb->seekable = AVIO_SEEKABLE_NORMAL;
    return pb;
}

void pc_avio_set_direct(struct pc_input_map *m, AVIOContext *pb)
{
    m->direct = 1;
    pb->direct = 1;
}

void pc_avio_free(AVIOContext **pb)
{
    if (*pb) {
        av_freep(&(*pb)->buffer);
        avio_context_free(pb);
    }
}
