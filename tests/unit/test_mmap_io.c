/*
 * The mmapped input: reads, seeks, and a source that shrinks while mapped
 * (which would raise SIGBUS) failing the read instead of the process.
 */
#include "mmap_io.h"

#include "pagecast/status.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <libavformat/avio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *temp_file(size_t size)
{
    char *path = strdup("/tmp/pc-mmap-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    uint8_t *buf = malloc(size);
    for (size_t i = 0; i < size; i++)
        buf[i] = (uint8_t)(i * 7);
    cr_assert_eq(write(fd, buf, size), (ssize_t)size);
    free(buf);
    close(fd);
    return path;
}

/* A mapped temporary file of @p size patterned bytes; @return its path. */
static char *map_temp(struct pc_input_map *m, size_t size)
{
    char *path = temp_file(size);
    char err[128];
    cr_assert_eq(pc_input_map_file(m, path, err, sizeof err), 0, "%s", err);
    return path;
}

static void unmap_temp(struct pc_input_map *m, char *path)
{
    pc_input_unmap(m);
    unlink(path);
    free(path);
}

Test(mmap_io, reads_and_seeks_like_a_file)
{
    struct pc_input_map m;
    char *path = map_temp(&m, 300000);
    AVIOContext *pb = pc_avio_open(&m);
    cr_assert_not_null(pb);
    cr_assert_eq(avio_size(pb), 300000);
    uint8_t b[16];
    cr_assert_eq(avio_seek(pb, 250001, SEEK_SET), 250001);
    cr_assert_eq(avio_read(pb, b, 16), 16);
    for (int i = 0; i < 16; i++)
        cr_assert_eq(b[i], (uint8_t)((250001 + i) * 7));
    cr_assert_eq(avio_seek(pb, 299990, SEEK_SET), 299990);
    cr_assert_eq(avio_read(pb, b, 16), 10, "a read at the end is short");
    pc_avio_free(&pb);
    unmap_temp(&m, path);
}

Test(mmap_io, refuses_empty_files_and_directories)
{
    char *path = temp_file(0);
    struct pc_input_map m;
    char err[128];
    cr_assert_eq(pc_input_map_file(&m, path, err, sizeof err), PC_EMEDIA);
    cr_assert_str_eq(err, "empty file");
    cr_assert_eq(pc_input_map_file(&m, "/tmp", err, sizeof err), PC_EMEDIA);
    cr_assert_eq(pc_input_map_file(&m, "/nonexistent/x.mp4", err, sizeof err), PC_ENOENT);
    unlink(path);
    free(path);
}

Test(mmap_io, a_file_truncated_while_mapped_fails_the_read_not_the_process)
{
    /* Twice: the first recovery must leave SIGBUS deliverable (not
     * blocked) for the next one, or the second fault kills the process. */
    for (int round = 0; round < 2; round++) {
        struct pc_input_map m;
        char *path = map_temp(&m, 1 << 20);
        AVIOContext *pb = pc_avio_open(&m);
        cr_assert_eq(truncate(path, 0), 0);
        uint8_t *b = malloc(1 << 20);
        int n = avio_read(pb, b, 1 << 20);
        cr_assert_lt(n, 1 << 20, "round %d: the lost pages are not returned", round);
        cr_assert_eq(m.shrank, 1, "round %d: the shrink is reported", round);
        free(b);
        pc_avio_free(&pb);
        unmap_temp(&m, path);
    }
}

Test(mmap_io, direct_reads_move_the_position_and_copy_nothing)
{
    struct pc_input_map m;
    char *path = map_temp(&m, 300000);
    AVIOContext *pb = pc_avio_open(&m);
    uint8_t b[100000];
    cr_assert_eq(avio_read(pb, b, 10), 10);
    cr_assert_eq(b[9], (uint8_t)(9 * 7), "an ordinary read copies");
    pc_avio_set_direct(&m, pb);
    /* Small and large reads alike: the buffer stays as it was. */
    memset(b, 0xEE, sizeof b);
    cr_assert_eq(avio_seek(pb, 1000, SEEK_SET), 1000);
    cr_assert_eq(avio_read(pb, b, 500), 500);
    cr_assert_eq(avio_read(pb, b + 500, 90000), 90000);
    for (size_t i = 0; i < 90500; i++)
        cr_assert_eq(b[i], 0xEE, "byte %zu was written by a direct read", i);
    cr_assert_eq(avio_tell(pb), 91500);
    cr_assert_eq(m.pos, 91500, "the position moved as far as the reads asked");
    cr_assert_eq(avio_seek(pb, 299000, SEEK_SET), 299000);
    cr_assert_eq(avio_read(pb, b, 5000), 1000, "a direct read still stops at the end");
    pc_avio_free(&pb);
    unmap_temp(&m, path);
}

Test(mmap_io, guarded_copy_and_shrink_check_see_a_truncation)
{
    struct pc_input_map m;
    char *path = map_temp(&m, 1 << 20);
    uint8_t b[64];
    cr_assert_eq(pc_input_copy(&m, b, 5000, sizeof b), 0);
    cr_assert_eq(b[63], (uint8_t)((5000 + 63) * 7));
    cr_assert_eq(pc_input_copy(&m, b, (1 << 20) - 10, sizeof b), -1, "past the end: refused");
    cr_assert_eq(m.shrank, 0, "a range past the end is not a truncation");
    cr_assert_eq(pc_input_map_shrank(&m), 0);
    pc_input_prefault(&m, 0, 1 << 20);      /* a hint: must be harmless */
    cr_assert_eq(truncate(path, 4096), 0);
    cr_assert_eq(pc_input_map_shrank(&m), 1, "the file is shorter than its mapping now");
    cr_assert_eq(pc_input_copy(&m, b, 4096, sizeof b), -1, "a lost page is not copied (no SIGBUS)");
    cr_assert_eq(pc_input_copy(&m, b, 0, sizeof b), 0, "the bytes still there are");
    pc_input_prefault(&m, 0, 1 << 20);      /* and harmless after the truncation too */
    unmap_temp(&m, path);
}

/* Resident KiB of the mapping that starts at @p addr (/proc/self/smaps). */
static long mapping_rss_kib(const void *addr)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    cr_assert_not_null(f);
    char line[512];
    bool ours = false;
    long kib = -1;
    while (kib < 0 && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
            ours = lo == (unsigned long)addr;
        else if (ours && sscanf(line, "Rss: %ld kB", &kib) == 1)
            break;
    }
    fclose(f);
    cr_assert_geq(kib, 0, "no mapping at %p in /proc/self/smaps", addr);
    return kib;
}

Test(mmap_io, consumed_pages_leave_the_resident_set_and_read_back_intact)
{
    struct pc_input_map m;
    const size_t size = 48u << 20, step = 1u << 20;
    char *path = map_temp(&m, size);
    uint8_t *buf = malloc(step);
    for (size_t off = 0; off < size; off += step) {
        cr_assert_eq(pc_input_copy(&m, buf, off, step), 0);
        pc_input_consumed(&m, off, off + step);
    }
    /* All 48 MiB were read; what stays mapped in is at most the 8 MiB kept
     * below the last reads and the 8 MiB read since the last release. */
    long kib = mapping_rss_kib(m.data);
    cr_assert_leq(kib, 16 << 10, "%ld KiB of the 48 MiB mapping still resident", kib);
    /* A page given back reads the same when it is read again. */
    cr_assert_eq(pc_input_copy(&m, buf, 4096, step), 0);
    for (size_t i = 0; i < step; i++)
        cr_assert_eq(buf[i], (uint8_t)((4096 + i) * 7));
    free(buf);
    unmap_temp(&m, path);
}
