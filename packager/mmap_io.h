/*
 * Source input for libavformat: the whole file mmapped read-only and served
 * to a custom AVIOContext, so the demuxer reads from the page cache with one
 * copy and no read() per probe or seek.  Also serves plain memory buffers
 * (the fuzzer feeds mutated media this way).
 */
#ifndef PC_MMAP_IO_H
#define PC_MMAP_IO_H

#include <stddef.h>
#include <stdint.h>

struct AVIOContext;

struct pc_input_map {
    const uint8_t *data;    /* the mapping or caller's buffer */
    size_t size;
    size_t pos;
    int mapped;             /* 1: data is our mmap and must be unmapped */
    int shrank;             /* the file lost mapped pages while read (SIGBUS) */
    int direct;             /* reads only move pos (see pc_avio_set_direct) */
    int fd;                 /* the mapped file, for pc_input_map_shrank; else -1 */
    /* pc_input_consumed's account, kept by one thread at a time */
    size_t released;        /* mapping below this has been given back */
    size_t recent_lo;       /* lowest offset consumed since the last release */
    size_t recent_bytes;    /* bytes consumed since then */
};

/**
 * Map @p path.  @return 0, or a negative PC_E* status with "<reason>" in
 * @p err (the caller prefixes the path).
 */
int pc_input_map_file(struct pc_input_map *m, const char *path, char *err, size_t errlen);

/** Serve @p len bytes at @p data (not owned, must outlive the AVIOContext). */
void pc_input_map_mem(struct pc_input_map *m, const uint8_t *data, size_t len);

void pc_input_unmap(struct pc_input_map *m);

/**
 * Copy @p n bytes at offset @p off of @p m to @p dst, safe against the file
 * shrinking meanwhile.  @return 0, or -1 if the bytes are not there (out of
 * range, or lost to truncation: then m->shrank is set).
 */
int pc_input_copy(struct pc_input_map *m, void *dst, size_t off, size_t n);

/**
 * Map in the pages of bytes [@p lo, @p hi) of a mapped file ahead of a
 * system call that reads them from the mapping: one madvise is much cheaper
 * than the page faults the kernel would otherwise take one by one (and
 * touching them itself first).  A hint: errors, including a range lost to
 * truncation, are left to the read itself.
 */
void pc_input_prefault(const struct pc_input_map *m, size_t lo, size_t hi);

/**
 * Note that bytes [@p lo, @p hi) of a mapped file have been read for good.
 * Every 8 MiB of such reads, the mapping's pages from the last release up
 * to 8 MiB below the lowest offset read since are given back (MADV_DONTNEED):
 * they stay in the page cache but no longer count in the process's resident
 * memory, which would otherwise grow by the whole source while a title is
 * packaged.  A page read again later is mapped again, so a guess that was
 * wrong (a file whose streams lie far apart) costs a refault, never data.
 * Called by whichever thread reads the mapping: the demuxer's reads, or the
 * writer thread for samples written straight from it.
 */
void pc_input_consumed(struct pc_input_map *m, size_t lo, size_t hi);

/** Whether the mapped file is now shorter than its mapping (it was truncated). */
int pc_input_map_shrank(struct pc_input_map *m);

/** A read-only, seekable AVIOContext over @p m; free with pc_avio_free. */
struct AVIOContext *pc_avio_open(struct pc_input_map *m);
void pc_avio_free(struct AVIOContext **pb);

/**
 * From now on, reads through @p pb move the position and copy nothing: what
 * lands in the caller's buffer is unspecified.  For a demuxer whose packets
 * are known to be the file's bytes at (pkt->pos, pkt->size), so the caller
 * takes them from m->data instead (packager/pack.c: unfragmented MP4).
 * Also makes every read skip the AVIOContext's own buffer (AVIOContext.direct),
 * so no copy of any kind is made.
 */
void pc_avio_set_direct(struct pc_input_map *m, struct AVIOContext *pb);

#endif
