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
};

/**
 * Map @p path.  @return 0, or a negative PC_E* status with "<reason>" in
 * @p err (the caller prefixes the path).
 */
int pc_input_map_file(struct pc_input_map *m, const char *path, char *err, size_t errlen);

/** Serve @p len bytes at @p data (not owned, must outlive the AVIOContext). */
void pc_input_map_mem(struct pc_input_map *m, const uint8_t *data, size_t len);

void pc_input_unmap(struct pc_input_map *m);

/** A read-only, seekable AVIOContext over @p m; free with pc_avio_free. */
struct AVIOContext *pc_avio_open(struct pc_input_map *m);
void pc_avio_free(struct AVIOContext **pb);

#endif
