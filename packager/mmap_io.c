/*
 * An AVIOContext over an mmapped file (see mmap_io.h).
 */
#include "mmap_io.h"

#include "pagecast/status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avio.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#define AVIO_BUFFER_SIZE (64 * 1024)

int pc_input_map_file(struct pc_input_map *m, const char *path, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
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
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "cannot map: %s", strerror(e));
        return pc_status_from_errno(e);
    }
    /* The demuxer mostly reads forward; let the kernel read ahead widely. */
    (void)madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
    m->data = p;
    m->size = (size_t)st.st_size;
    m->mapped = 1;
    return 0;
}

void pc_input_map_mem(struct pc_input_map *m, const uint8_t *data, size_t len)
{
    m->data = data;
    m->size = len;
    m->pos = 0;
    m->mapped = 0;
}

void pc_input_unmap(struct pc_input_map *m)
{
    if (m->mapped && m->data)
        munmap((void *)m->data, m->size);
    memset(m, 0, sizeof *m);
}

static int map_read(void *opaque, uint8_t *buf, int len)
{
    struct pc_input_map *m = opaque;
    if (m->pos >= m->size)
        return AVERROR_EOF;
    size_t n = m->size - m->pos;
    if (n > (size_t)len)
        n = (size_t)len;
    memcpy(buf, m->data + m->pos, n);
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

void pc_avio_free(AVIOContext **pb)
{
    if (*pb) {
        av_freep(&(*pb)->buffer);
        avio_context_free(pb);
    }
}
