/*
 * The bundle file: reader, validator and atomic writer (format version 1).
 *
 * The layout and its invariants are declared in include/pagecast/bundle.h and
 * specified byte by byte in docs/bundle-format.md; this file is the one place
 * that turns bytes into a trusted view and a view into bytes.
 *
 * Reader: fstat, pread the 128-byte header, work out how much of the file
 * holds the header and tables, mmap only that prefix read-only, and check
 * every invariant in 64-bit arithmetic against the real file size before a
 * single record is handed out.  Blobs are never mapped: the origin serves
 * them by (fd, offset, size).
 *
 * Writer: blobs are appended to a temporary file in the target's directory,
 * each at a page boundary, behind an index region reserved from the caller's
 * segments_hint.  Commit lays out the tables (relocating the blobs to a new
 * temporary file if the index outgrew its reservation), writes them, fsyncs,
 * renames over the target and fsyncs the directory, so a reader sees either
 * the old bundle or the new one.  The writer's first failure is sticky: every
 * later call returns the same status and commit reports its reason, so a
 * caller that misses one return code still cannot commit a damaged bundle.
 *
 * Pure libc: no HTTP, no libav (see the split in docs/DESIGN.md).
 */
#include "pagecast/bundle.h"
#include "pagecast/status.h"
#include "fail.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HDR_SIZE   ((uint64_t)sizeof(struct pc_bundle_header))
#define TRACK_SIZE ((uint64_t)sizeof(struct pc_track_record))
#define SEG_SIZE   ((uint64_t)sizeof(struct pc_segment_record))
#define CHECKSUMMED_HEADER ((size_t)offsetof(struct pc_bundle_header, checksum))
#define PAGE_SIZE_MIN 4096u
#define FNV_PRIME 0x100000001b3ull
#define DEFAULT_SEGMENTS_PER_TRACK 64u
#define FREE_BOX_HEADER 8u          /* u32 size + 'free' (ISO/IEC 14496-12 4.2) */

_Static_assert(offsetof(struct pc_bundle_header, checksum) == 120, "checksum at 120");
_Static_assert(offsetof(struct pc_bundle_header, track_table_offset) == 40, "header layout");
_Static_assert(offsetof(struct pc_track_record, codecs) == 104, "track layout");
_Static_assert(offsetof(struct pc_track_record, max_segment_duration) == 240, "track layout");
_Static_assert(offsetof(struct pc_segment_record, key_size) == 36, "segment layout");

uint64_t pc_fnv1a(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

static bool is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

static bool valid_page_size(uint64_t p)
{
    return is_pow2(p) && p >= PAGE_SIZE_MIN && p <= PC_BUNDLE_PAGE_SIZE_MAX;
}

/* ------------------------------------------------------------------ layout */

/* Where the tables lie, derived from a header whose counts are bounded. */
struct layout {
    uint64_t track_off, track_end;
    uint64_t seg_off, seg_end;
    uint64_t index_end;            /* max(track_end, seg_end) */
};

/*
 * Check everything the header alone can tell (no file size, no tables) and
 * compute the table extents.  Shared by validate and index_size so the two
 * can never disagree about what is plausible.  Magic is checked by callers.
 */
static int check_header(const struct pc_bundle_header *h, struct layout *x,
                        char *err, size_t errlen)
{
    if (h->version != PC_BUNDLE_VERSION)
        return fail(err, errlen, PC_EVERSION,
                    "unsupported bundle version %" PRIu32 " (this reader knows %u)",
                    h->version, PC_BUNDLE_VERSION);
    if (h->header_size != HDR_SIZE)
        return fail(err, errlen, PC_ECORRUPT, "header size %" PRIu32 ", expected %" PRIu64,
                    h->header_size, HDR_SIZE);
    if (h->track_record_size != TRACK_SIZE)
        return fail(err, errlen, PC_ECORRUPT,
                    "track record size %" PRIu32 ", expected %" PRIu64,
                    h->track_record_size, TRACK_SIZE);
    if (h->segment_record_size != SEG_SIZE)
        return fail(err, errlen, PC_ECORRUPT,
                    "segment record size %" PRIu32 ", expected %" PRIu64,
                    h->segment_record_size, SEG_SIZE);
    if (!valid_page_size(h->page_size))
        return fail(err, errlen, PC_ECORRUPT,
                    "page size %" PRIu32 " is not a power of two in [%u, %u]",
                    h->page_size, PAGE_SIZE_MIN, PC_BUNDLE_PAGE_SIZE_MAX);
    if (h->track_count < 1 || h->track_count > PC_BUNDLE_MAX_TRACKS)
        return fail(err, errlen, PC_ECORRUPT, "track count %" PRIu32 " is not in [1, %u]",
                    h->track_count, PC_BUNDLE_MAX_TRACKS);
    /* Bound the count before multiplying: capacity * 48 cannot overflow. */
    if (h->segment_capacity > PC_BUNDLE_MAX_SEGMENTS)
        return fail(err, errlen, PC_ECORRUPT,
                    "segment capacity %" PRIu64 " exceeds the limit of %u records",
                    h->segment_capacity, PC_BUNDLE_MAX_SEGMENTS);

    /* Records are read in place through the mapping: keep u64 fields aligned. */
    if (h->track_table_offset < HDR_SIZE || h->track_table_offset % 8)
        return fail(err, errlen, PC_ECORRUPT,
                    "track table offset %" PRIu64 " is inside the header or not 8-byte aligned",
                    h->track_table_offset);
    if (h->segment_table_offset < HDR_SIZE || h->segment_table_offset % 8)
        return fail(err, errlen, PC_ECORRUPT,
                    "segment table offset %" PRIu64 " is inside the header or not 8-byte aligned",
                    h->segment_table_offset);

    uint64_t tlen = (uint64_t)h->track_count * TRACK_SIZE;     /* <= 16 KiB */
    uint64_t slen = h->segment_capacity * SEG_SIZE;            /* <= 768 MiB */
    if (h->track_table_offset > UINT64_MAX - tlen)
        return fail(err, errlen, PC_ECORRUPT, "track table offset %" PRIu64 " overflows",
                    h->track_table_offset);
    if (h->segment_table_offset > UINT64_MAX - slen)
        return fail(err, errlen, PC_ECORRUPT, "segment table offset %" PRIu64 " overflows",
                    h->segment_table_offset);
    x->track_off = h->track_table_offset;
    x->track_end = x->track_off + tlen;
    x->seg_off = h->segment_table_offset;
    x->seg_end = x->seg_off + slen;
    x->index_end = x->track_end > x->seg_end ? x->track_end : x->seg_end;

    if (slen && x->track_off < x->seg_end && x->seg_off < x->track_end)
        return fail(err, errlen, PC_ECORRUPT,
                    "track table [%" PRIu64 ", %" PRIu64 ") and segment table [%" PRIu64
                    ", %" PRIu64 ") overlap",
                    x->track_off, x->track_end, x->seg_off, x->seg_end);
    if (h->data_offset % h->page_size)
        return fail(err, errlen, PC_ECORRUPT,
                    "data offset %" PRIu64 " is not a multiple of the page size %" PRIu32,
                    h->data_offset, h->page_size);
    if (x->index_end > h->data_offset)
        return fail(err, errlen, PC_ECORRUPT,
                    "tables end at byte %" PRIu64 ", past the data offset %" PRIu64,
                    x->index_end, h->data_offset);
    if (h->data_end < h->data_offset || h->data_end % h->page_size)
        return fail(err, errlen, PC_ECORRUPT,
                    "data end %" PRIu64 " is before the data offset %" PRIu64
                    " or not a multiple of the page size %" PRIu32,
                    h->data_end, h->data_offset, h->page_size);
    return 0;
}

uint64_t pc_bundle_index_size(const uint8_t *buf, size_t len)
{
    struct pc_bundle_header h;
    struct layout x;

    if (!buf || len < HDR_SIZE)
        return 0;
    memcpy(&h, buf, sizeof h);
    if (memcmp(h.magic, PC_BUNDLE_MAGIC, sizeof h.magic) != 0)
        return 0;
    if (check_header(&h, &x, NULL, 0) != 0)
        return 0;
    return x.index_end;
}

uint64_t pc_bundle_checksum(const uint8_t *buf, size_t len)
{
    struct pc_bundle_header h;

    if (!buf || len < HDR_SIZE)
        return 0;
    memcpy(&h, buf, sizeof h);
    /* Only bounds are needed here, but every product and sum is checked:
     * this runs on untrusted bytes too (tests reseal mutated files). */
    if (h.track_count > PC_BUNDLE_MAX_TRACKS || h.segment_capacity > PC_BUNDLE_MAX_SEGMENTS)
        return 0;
    uint64_t tlen = (uint64_t)h.track_count * TRACK_SIZE;
    uint64_t slen = h.segment_capacity * SEG_SIZE;
    if (h.track_table_offset > len || tlen > len - h.track_table_offset ||
        h.segment_table_offset > len || slen > len - h.segment_table_offset)
        return 0;

    uint64_t c = pc_fnv1a(PC_FNV_INIT, buf, CHECKSUMMED_HEADER);
    c = pc_fnv1a(c, buf + h.track_table_offset, (size_t)tlen);
    c = pc_fnv1a(c, buf + h.segment_table_offset, (size_t)slen);
    return c;
}

/* ---------------------------------------------------------------- validate */

static bool has_nul(const char *s, size_t n)
{
    return memchr(s, '\0', n) != NULL;
}

static bool codec_matches_kind(unsigned codec, unsigned kind)
{
    switch (codec) {
    case PC_CODEC_H264: case PC_CODEC_HEVC: case PC_CODEC_AV1: case PC_CODEC_VP9:
        return kind == PC_KIND_VIDEO;
    case PC_CODEC_AAC: case PC_CODEC_MP3: case PC_CODEC_AC3: case PC_CODEC_EAC3:
    case PC_CODEC_OPUS: case PC_CODEC_FLAC:
        return kind == PC_KIND_AUDIO;
    case PC_CODEC_WEBVTT:
        return kind == PC_KIND_TEXT;
    default:
        return false;
    }
}

/* The caller-described part of a track record: used by reader and writer. */
static int check_descriptor(const struct pc_track_record *tr, unsigned t,
                            char *err, size_t errlen, int status)
{
    if (tr->kind < PC_KIND_VIDEO || tr->kind > PC_KIND_TEXT)
        return fail(err, errlen, status, "track %u: unknown kind %u", t, tr->kind);
    if (!codec_matches_kind(tr->codec, tr->kind))
        return fail(err, errlen, status, "track %u: codec %u is unknown or not a codec of kind %u",
                    t, tr->codec, tr->kind);
    if (tr->timescale == 0)
        return fail(err, errlen, status, "track %u: timescale 0", t);
    /* Strings are NUL-padded and must hold a NUL, so strlen stays inside. */
    if (!has_nul(tr->codecs, sizeof tr->codecs))
        return fail(err, errlen, status, "track %u: codecs string is not NUL-terminated", t);
    if (!has_nul(tr->language, sizeof tr->language))
        return fail(err, errlen, status, "track %u: language is not NUL-terminated", t);
    if (!has_nul(tr->name, sizeof tr->name))
        return fail(err, errlen, status, "track %u: name is not NUL-terminated", t);
    return 0;
}

/* What is being checked, for messages: "init segment of track 1" or
 * "segment 12 of track 1". */
struct blob_name {
    char s[64];
};

static struct blob_name name_init(unsigned t)
{
    struct blob_name n;
    snprintf(n.s, sizeof n.s, "init segment of track %u", t);
    return n;
}

static struct blob_name name_seg(uint64_t k, unsigned t)
{
    struct blob_name n;
    snprintf(n.s, sizeof n.s, "segment %" PRIu64 " of track %u", k, t);
    return n;
}

static int check_blob(const struct pc_bundle_header *h, uint64_t file_size,
                      const char *what, uint64_t off, uint64_t size,
                      char *err, size_t errlen)
{
    if (size == 0)
        return fail(err, errlen, PC_ECORRUPT, "%s is empty", what);
    if (off % h->page_size)
        return fail(err, errlen, PC_ECORRUPT,
                    "%s starts at byte %" PRIu64 ", not a multiple of the page size %" PRIu32,
                    what, off, h->page_size);
    if (off < h->data_offset)
        return fail(err, errlen, PC_ECORRUPT,
                    "%s starts at byte %" PRIu64 ", before the data area (byte %" PRIu64 ")",
                    what, off, h->data_offset);
    if (size > UINT64_MAX - off)
        return fail(err, errlen, PC_ECORRUPT,
                    "%s: offset %" PRIu64 " + size %" PRIu64 " overflows", what, off, size);
    if (off + size > file_size)
        return fail(err, errlen, PC_ETRUNCATED,
                    "%s ends at byte %" PRIu64 ", past the end of the file (%" PRIu64 " bytes)",
                    what, off + size, file_size);
    if (off + size > h->data_end)
        return fail(err, errlen, PC_ECORRUPT,
                    "%s ends at byte %" PRIu64 ", past the end of the data area (byte %" PRIu64 ")",
                    what, off + size, h->data_end);
    return 0;
}

static int check_track(const uint8_t *buf, const struct pc_bundle_header *h,
                       const struct layout *x, uint64_t file_size, unsigned t,
                       const struct pc_track_record *tr, char *err, size_t errlen)
{
    struct blob_name n = name_init(t);
    int rc = check_blob(h, file_size, n.s, tr->init_offset, tr->init_size, err, errlen);
    if (rc)
        return rc;

    uint64_t prev_end = tr->init_offset + tr->init_size;
    uint64_t expect_start = 0, total = 0;
    uint32_t max_dur = 0;
    const uint8_t *recs = buf + x->seg_off + tr->segment_first * SEG_SIZE;

    for (uint64_t k = 0; k < tr->segment_count; k++) {
        struct pc_segment_record s;
        memcpy(&s, recs + k * SEG_SIZE, sizeof s);
        n = name_seg(k, t);
        rc = check_blob(h, file_size, n.s, s.offset, s.size, err, errlen);
        if (rc)
            return rc;
        if (s.offset < prev_end)
            return fail(err, errlen, PC_ECORRUPT,
                        "%s starts at byte %" PRIu64 ", before the end of the track's"
                        " previous blob (byte %" PRIu64 ")", n.s, s.offset, prev_end);
        prev_end = s.offset + s.size;
        if (s.key_size > s.size)
            return fail(err, errlen, PC_ECORRUPT,
                        "%s: key frame size %" PRIu32 " exceeds the segment size %" PRIu64,
                        n.s, s.key_size, s.size);
        if (s.duration == 0)
            return fail(err, errlen, PC_ECORRUPT, "%s has duration 0", n.s);
        if (k > 0 && s.start != expect_start)
            return fail(err, errlen, PC_ECORRUPT,
                        "%s starts at %" PRIu64 ", expected %" PRIu64
                        " (previous start + duration): discontinuous",
                        n.s, s.start, expect_start);
        if (s.start > UINT64_MAX - s.duration || total > UINT64_MAX - s.duration)
            return fail(err, errlen, PC_ECORRUPT, "%s: start %" PRIu64 " + duration %" PRIu32
                        " overflows", n.s, s.start, s.duration);
        expect_start = s.start + s.duration;
        total += s.duration;
        if (s.duration > max_dur)
            max_dur = s.duration;
    }
    if (tr->duration != total)
        return fail(err, errlen, PC_ECORRUPT,
                    "track %u: duration %" PRIu64 " is not the sum of its segments' durations (%"
                    PRIu64 ")", t, tr->duration, total);
    if (tr->max_segment_duration != max_dur)
        return fail(err, errlen, PC_ECORRUPT,
                    "track %u: max segment duration %" PRIu32 " is not the largest segment"
                    " duration (%" PRIu32 ")", t, tr->max_segment_duration, max_dur);
    return 0;
}

int pc_bundle_validate(const uint8_t *buf, size_t len, uint64_t file_size,
                       char *err, size_t errlen)
{
    struct pc_bundle_header h;
    struct layout x;
    int rc;

    if (err && errlen)
        err[0] = '\0';
    if (len && !buf)
        return fail(err, errlen, PC_EINVAL, "no buffer");
    if ((uint64_t)len > file_size)
        return fail(err, errlen, PC_EINVAL,
                    "buffer of %zu bytes is longer than the file (%" PRIu64 " bytes)",
                    len, file_size);

    /* A foreign file is PC_EFORMAT even when it is shorter than a header. */
    size_t m = len < sizeof h.magic ? len : sizeof h.magic;
    if (m && memcmp(buf, PC_BUNDLE_MAGIC, m) != 0)
        return fail(err, errlen, PC_EFORMAT, "bad magic: not a pagecast bundle");
    if (file_size < HDR_SIZE)
        return fail(err, errlen, PC_ETRUNCATED,
                    "truncated: file is %" PRIu64 " bytes, header needs %" PRIu64,
                    file_size, HDR_SIZE);
    if (len < HDR_SIZE)
        return fail(err, errlen, PC_ETRUNCATED,
                    "truncated: only %zu of the %" PRIu64 " header bytes were read", len, HDR_SIZE);
    memcpy(&h, buf, sizeof h);

    rc = check_header(&h, &x, err, errlen);
    if (rc)
        return rc;
    if (x.track_end > file_size)
        return fail(err, errlen, PC_ETRUNCATED,
                    "truncated: file is %" PRIu64 " bytes, track table ends at byte %" PRIu64,
                    file_size, x.track_end);
    if (x.seg_end > file_size)
        return fail(err, errlen, PC_ETRUNCATED,
                    "truncated: file is %" PRIu64 " bytes, segment table ends at byte %" PRIu64,
                    file_size, x.seg_end);
    if (h.data_offset > file_size)
        return fail(err, errlen, PC_ETRUNCATED,
                    "truncated: file is %" PRIu64 " bytes, data area starts at byte %" PRIu64,
                    file_size, h.data_offset);
    if (x.index_end > len)
        return fail(err, errlen, PC_ETRUNCATED,
                    "truncated: only %zu of the %" PRIu64 " index bytes were read",
                    len, x.index_end);

    uint64_t sum = pc_bundle_checksum(buf, len);
    if (sum != h.checksum)
        return fail(err, errlen, PC_ECORRUPT,
                    "checksum mismatch: header has %016" PRIx64 ", contents hash to %016" PRIx64,
                    h.checksum, sum);

    /* Tracks: descriptors, then their ranges in the segment table. */
    struct pc_track_record tr[PC_BUNDLE_MAX_TRACKS];
    for (unsigned t = 0; t < h.track_count; t++) {
        memcpy(&tr[t], buf + x.track_off + t * TRACK_SIZE, sizeof tr[t]);
        rc = check_descriptor(&tr[t], t, err, errlen, PC_ECORRUPT);
        if (rc)
            return rc;
        if (tr[t].segment_capacity > h.segment_capacity ||
            tr[t].segment_first > h.segment_capacity - tr[t].segment_capacity)
            return fail(err, errlen, PC_ECORRUPT,
                        "track %u: segment records [%" PRIu64 ", +%" PRIu64
                        ") lie outside the segment table (%" PRIu64 " records)",
                        t, tr[t].segment_first, tr[t].segment_capacity, h.segment_capacity);
        if (tr[t].segment_count > tr[t].segment_capacity)
            return fail(err, errlen, PC_ECORRUPT,
                        "track %u: segment count %" PRIu64 " exceeds its capacity %" PRIu64,
                        t, tr[t].segment_count, tr[t].segment_capacity);
        if (tr[t].segment_count == 0 && !(h.flags & PC_BUNDLE_LIVE))
            return fail(err, errlen, PC_ECORRUPT, "track %u has no segments", t);
    }
    for (unsigned i = 0; i < h.track_count; i++) {
        for (unsigned j = i + 1; j < h.track_count; j++) {
            /* Both ranges are inside the table, so the sums cannot overflow. */
            if (tr[i].segment_capacity && tr[j].segment_capacity &&
                tr[i].segment_first < tr[j].segment_first + tr[j].segment_capacity &&
                tr[j].segment_first < tr[i].segment_first + tr[i].segment_capacity)
                return fail(err, errlen, PC_ECORRUPT,
                            "tracks %u and %u overlap in the segment table", i, j);
        }
    }
    for (unsigned t = 0; t < h.track_count; t++) {
        rc = check_track(buf, &h, &x, file_size, t, &tr[t], err, errlen);
        if (rc)
            return rc;
    }
    /* After the blobs, so a cut file names the first blob it cut into. */
    if (h.data_end > file_size)
        return fail(err, errlen, PC_ETRUNCATED,
                    "truncated: file is %" PRIu64 " bytes, data area ends at byte %" PRIu64,
                    file_size, h.data_end);
    return 0;
}

/* ------------------------------------------------------------------ reader */

/* pread exactly @p len bytes unless EOF comes first; @return bytes or -errno. */
static ssize_t pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + got, len - got, (off_t)(off + got));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int pc_bundle_open_fd(struct pc_bundle *b, int fd, char *err, size_t errlen)
{
    struct stat st;
    uint8_t head[sizeof(struct pc_bundle_header)];
    int rc;

    if (err && errlen)
        err[0] = '\0';
    if (!b) {
        if (fd >= 0)
            close(fd);
        return fail(err, errlen, PC_EINVAL, "no bundle to fill");
    }
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fail(err, errlen, pc_status_from_errno(e), "fstat: %s", strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fail(err, errlen, PC_EFORMAT, "not a regular file: not a pagecast bundle");
    }
    uint64_t file_size = (uint64_t)st.st_size;

    size_t want = file_size < sizeof head ? (size_t)file_size : sizeof head;
    ssize_t got = pread_full(fd, head, want, 0);
    if (got < 0) {
        close(fd);
        return fail(err, errlen, pc_status_from_errno((int)-got), "read: %s", strerror((int)-got));
    }

    uint64_t idx = pc_bundle_index_size(head, (size_t)got);
    if (idx == 0 || idx > file_size || idx > SIZE_MAX) {
        /* The header alone is enough to say what is wrong. */
        rc = pc_bundle_validate(head, (size_t)got, file_size, err, errlen);
        if (rc == 0)
            rc = fail(err, errlen, PC_ECORRUPT, "index of %" PRIu64 " bytes cannot be mapped", idx);
        close(fd);
        return rc;
    }

    /* MAP_SHARED: a live writer's in-place updates become visible.  A VOD
     * bundle is never modified after its rename, so what was validated stays
     * what is read. */
    void *map = mmap(NULL, (size_t)idx, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        int e = errno;
        close(fd);
        return fail(err, errlen, pc_status_from_errno(e), "mmap of %" PRIu64 " bytes: %s",
                    idx, strerror(e));
    }
    rc = pc_bundle_validate(map, (size_t)idx, file_size, err, errlen);
    if (rc) {
        munmap(map, (size_t)idx);
        close(fd);
        return rc;
    }

    const struct pc_bundle_header *h = map;
    b->fd = fd;
    b->file_size = file_size;
    b->map = map;
    b->map_len = (size_t)idx;
    b->hdr = h;
    b->tracks = (const struct pc_track_record *)((const uint8_t *)map + h->track_table_offset);
    b->segments = (const struct pc_segment_record *)((const uint8_t *)map + h->segment_table_offset);
    return 0;
}

int pc_bundle_open(struct pc_bundle *b, const char *path, char *err, size_t errlen)
{
    char why[256];

    if (err && errlen)
        err[0] = '\0';
    if (!b || !path)
        return fail(err, errlen, PC_EINVAL, "no bundle or path");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return fail(err, errlen, pc_status_from_errno(e), "%s: %s", path, strerror(e));
    }
    int rc = pc_bundle_open_fd(b, fd, why, sizeof why);
    if (rc)
        return fail(err, errlen, rc, "%s: %s", path, why);
    return 0;
}

void pc_bundle_close(struct pc_bundle *b)
{
    if (!b)
        return;
    /* A zeroed struct has fd 0 but no map: only an opened bundle owns its fd. */
    if (b->map) {
        munmap((void *)b->map, b->map_len);
        if (b->fd >= 0)
            close(b->fd);
    }
    b->map = NULL;
    b->map_len = 0;
    b->fd = -1;
    b->hdr = NULL;
    b->tracks = NULL;
    b->segments = NULL;
    b->file_size = 0;
}

/* ------------------------------------------------------------------ writer */

struct wtrack {
    struct pc_track_record rec;          /* caller's descriptor, writer fields zero */
    bool described;
    bool has_init;
    uint64_t init_offset, init_size;
    struct pc_segment_record *segs;      /* owned; in time order */
    uint64_t count, cap;
};

struct pc_bundle_writer {
    char *path;                          /* owned: the target */
    char *dir;                           /* owned: its directory, for fsync */
    char *prefix;                        /* owned: path up to the last '/' */
    char *base;                          /* owned: the target's file name */
    char *tmp;                           /* owned: current temporary file */
    int fd;                              /* the temporary file */
    uint32_t page_size;
    uint32_t track_count;
    uint64_t data_offset;                /* reserved index region ends here */
    uint64_t data_end;                   /* next blob goes here */
    uint64_t written_back;               /* writeback started up to here */
    bool caller_writeback;               /* pc_bundle_writer_writeback starts it */
    _Atomic uint64_t appended_end;       /* data_end, for that other thread */
    uint64_t total_segments;
    uint32_t source_count;
    uint64_t source_size, source_stat_hash, source_content_hash;
    uint8_t *pad;                        /* page_size + 8 bytes: free box + zeros */
    int status;                          /* first failure; sticky */
    char msg[320];
    struct wtrack tracks[];
};

/* Record the writer's first failure: after it, only commit (which reports
 * it) or abort make sense. */
__attribute__((format(printf, 3, 4)))
static int poison(struct pc_bundle_writer *w, int status, const char *fmt, ...)
{
    if (w->status == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->msg, sizeof w->msg, fmt, ap);
        va_end(ap);
        w->status = status;
    }
    return w->status;
}

static uint64_t round_up(uint64_t v, uint64_t page)
{
    return (v + page - 1) & ~(page - 1);
}

/* Bytes of padding after a blob of @p size: to the next page boundary, and
 * one page more when the gap is 1..7 bytes, too small for a 'free' box. */
static uint64_t pad_len(uint64_t size, uint32_t page)
{
    uint64_t gap = (page - (size & (page - 1))) & (page - 1);
    if (gap > 0 && gap < FREE_BOX_HEADER)
        gap += page;
    return gap;
}

static int random_bytes(void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom((uint8_t *)buf + got, len - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        got += (size_t)n;
    }
    return 0;
}

/* Create "<prefix>.<base>.XXXXXX.tmp" with O_EXCL (mkstemp's guarantee, but
 * with mode 0666 & ~umask: the origin may run as another user). */
static int create_temp(struct pc_bundle_writer *w, char **tmp_out, int *fd_out,
                       char *err, size_t errlen)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t n = strlen(w->prefix) + 1 + strlen(w->base) + sizeof ".XXXXXX.tmp";
    char *tmp = malloc(n);
    if (!tmp)
        return fail(err, errlen, PC_ENOMEM, "%s: out of memory", w->path);

    for (int attempt = 0; attempt < 100; attempt++) {
        uint8_t r[6];
        int e = random_bytes(r, sizeof r);
        if (e) {
            free(tmp);
            return fail(err, errlen, pc_status_from_errno(e), "%s: getrandom: %s",
                        w->path, strerror(e));
        }
        char x[7];
        for (int i = 0; i < 6; i++)
            x[i] = alphabet[r[i] % (sizeof alphabet - 1)];
        x[6] = '\0';
        snprintf(tmp, n, "%s.%s.%s.tmp", w->prefix, w->base, x);
        int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            *tmp_out = tmp;
            *fd_out = fd;
            return 0;
        }
        if (errno != EEXIST) {
            e = errno;
            int rc = fail(err, errlen, pc_status_from_errno(e), "%s: creating %s: %s",
                          w->path, tmp, strerror(e));
            free(tmp);
            return rc;
        }
    }
    int rc = fail(err, errlen, PC_EIO, "%s: no unused temporary name after 100 tries", w->path);
    free(tmp);
    return rc;
}

static void free_writer(struct pc_bundle_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp)
        unlink(w->tmp);
    for (unsigned t = 0; t < w->track_count; t++)
        free(w->tracks[t].segs);
    free(w->tmp);
    free(w->pad);
    free(w->path);
    free(w->dir);
    free(w->prefix);
    free(w->base);
    free(w);
}

/* Split @p path into the directory prefix (through the last '/'), the
 * directory to fsync, and the file name. */
static int split_path(struct pc_bundle_writer *w, const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t plen = slash ? (size_t)(slash - path) + 1 : 0;

    w->path = strdup(path);
    w->prefix = strndup(path, plen);
    w->base = strdup(path + plen);
    if (plen == 0)
        w->dir = strdup(".");
    else if (plen == 1)
        w->dir = strdup("/");
    else
        w->dir = strndup(path, plen - 1);
    return w->path && w->prefix && w->base && w->dir ? 0 : PC_ENOMEM;
}

int pc_bundle_writer_open(struct pc_bundle_writer **out, const char *path,
                          const struct pc_bundle_writer_opts *opts,
                          char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out || !path || !opts)
        return fail(err, errlen, PC_EINVAL, "no writer, path or options");
    *out = NULL;

    uint32_t page = opts->page_size ? opts->page_size : PC_BUNDLE_PAGE_SIZE_DEFAULT;
    if (!valid_page_size(page))
        return fail(err, errlen, PC_EINVAL, "%s: page size %" PRIu32
                    " is not a power of two in [%u, %u]", path, page, PAGE_SIZE_MIN,
                    PC_BUNDLE_PAGE_SIZE_MAX);
    if (opts->track_count < 1 || opts->track_count > PC_BUNDLE_MAX_TRACKS)
        return fail(err, errlen, PC_EINVAL, "%s: track count %" PRIu32 " is not in [1, %u]",
                    path, opts->track_count, PC_BUNDLE_MAX_TRACKS);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
        return fail(err, errlen, PC_EINVAL, "%s: not a file name", path);

    struct pc_bundle_writer *w =
        calloc(1, sizeof *w + opts->track_count * sizeof w->tracks[0]);
    if (!w)
        return fail(err, errlen, PC_ENOMEM, "%s: out of memory", path);
    w->fd = -1;
    w->page_size = page;
    w->track_count = opts->track_count;
    w->source_count = opts->source_count;
    w->source_size = opts->source_size;
    w->source_stat_hash = opts->source_stat_hash;
    w->source_content_hash = opts->source_content_hash;

    /* A hint is only a hint: clamp it rather than refuse it. */
    uint64_t hint = opts->segments_hint ? opts->segments_hint
                                        : (uint64_t)DEFAULT_SEGMENTS_PER_TRACK * w->track_count;
    if (hint > PC_BUNDLE_MAX_SEGMENTS)
        hint = PC_BUNDLE_MAX_SEGMENTS;
    w->data_offset = round_up(HDR_SIZE + w->track_count * TRACK_SIZE + hint * SEG_SIZE, page);
    w->data_end = w->data_offset;
    w->written_back = w->data_offset;
    w->caller_writeback = opts->caller_writeback;
    atomic_init(&w->appended_end, w->data_offset);

    w->pad = calloc(1, (size_t)page + FREE_BOX_HEADER);
    if (!w->pad || split_path(w, path) != 0) {
        free_writer(w);
        return fail(err, errlen, PC_ENOMEM, "%s: out of memory", path);
    }
    int rc = create_temp(w, &w->tmp, &w->fd, err, errlen);
    if (rc) {
        free_writer(w);
        return rc;
    }
    *out = w;
    return 0;
}

/* The common entry check of set_track/add_init/add_segment: a writer that
 * has not failed yet, a track in range and its argument present.  Returns
 * 0, or the (sticky) status to return. */
static int writer_entry(struct pc_bundle_writer *w, unsigned t, const void *arg, const char *what)
{
    if (!w)
        return PC_EINVAL;
    if (w->status)
        return w->status;
    if (t >= w->track_count || !arg)
        return poison(w, PC_EINVAL, "%s: %s: track %u out of range (%" PRIu32 " tracks)",
                      w->path, what, t, w->track_count);
    return 0;
}

int pc_bundle_writer_set_track(struct pc_bundle_writer *w, unsigned t,
                               const struct pc_track_record *rec)
{
    char why[160];

    int status = writer_entry(w, t, rec, "set_track");
    if (status)
        return status;
    if (check_descriptor(rec, t, why, sizeof why, PC_EINVAL))
        return poison(w, PC_EINVAL, "%s: %s", w->path, why);

    /* Keep the description; everything about offsets, segments, durations
     * and bitrates is the writer's and is computed at commit. */
    struct pc_track_record r = *rec;
    r.bitrate_peak = 0;
    r.bitrate_avg = 0;
    r.init_offset = 0;
    r.init_size = 0;
    r.segment_first = 0;
    r.segment_count = 0;
    r.segment_capacity = 0;
    r.duration = 0;
    r.max_segment_duration = 0;
    memset(r.reserved, 0, sizeof r.reserved);
    w->tracks[t].rec = r;
    w->tracks[t].described = true;
    return 0;
}

/* pwritev all of @p iov at @p off, across short writes and IOV_MAX.
 * @return 0 or an errno value. */
static int pwritev_all(int fd, uint64_t off, struct iovec *v, int cnt)
{
    int i = 0;
    while (i < cnt && v[i].iov_len == 0)
        i++;
    while (i < cnt) {
        int batch = cnt - i < IOV_MAX ? cnt - i : IOV_MAX;
        ssize_t n = pwritev(fd, v + i, batch, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (n == 0)
            return EIO;
        off += (uint64_t)n;
        size_t left = (size_t)n;
        while (i < cnt && left >= v[i].iov_len) {
            left -= v[i].iov_len;
            i++;
        }
        if (left) {
            v[i].iov_base = (uint8_t *)v[i].iov_base + left;
            v[i].iov_len -= left;
        }
        while (i < cnt && v[i].iov_len == 0)
            i++;
    }
    return 0;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
    struct iovec v = { .iov_base = (void *)buf, .iov_len = len };
    return pwritev_all(fd, off, &v, 1);
}

#define WRITEBACK_CHUNK (8u << 20)

/* Append one blob at data_end, followed by its 'free' box padding, so that
 * data_end stays a multiple of the page size. */
static int append_blob(struct pc_bundle_writer *w, const char *what,
                       const struct iovec *iov, int iovcnt,
                       uint64_t *off_out, uint64_t *size_out)
{
    if (iovcnt < 0 || (iovcnt > 0 && !iov))
        return poison(w, PC_EINVAL, "%s: %s: bad iovec", w->path, what);
    uint64_t size = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len && !iov[i].iov_base)
            return poison(w, PC_EINVAL, "%s: %s: NULL iov_base", w->path, what);
        if (iov[i].iov_len > UINT64_MAX - size)
            return poison(w, PC_ETOOBIG, "%s: %s is too large", w->path, what);
        size += iov[i].iov_len;
    }
    if (size == 0)
        return poison(w, PC_EINVAL, "%s: %s is empty", w->path, what);
    uint64_t gap = pad_len(size, w->page_size);
    if (size > (uint64_t)INT64_MAX - gap || size + gap > (uint64_t)INT64_MAX - w->data_end)
        return poison(w, PC_ETOOBIG, "%s: %s does not fit in a file", w->path, what);

    struct iovec *v = malloc(((size_t)iovcnt + 1) * sizeof *v);
    if (!v)
        return poison(w, PC_ENOMEM, "%s: out of memory", w->path);
    memcpy(v, iov, (size_t)iovcnt * sizeof *v);
    if (gap) {
        /* ISO/IEC 14496-12 4.2: a box is u32 big-endian size, then type;
         * the free box's payload is ignored by every parser. */
        w->pad[0] = (uint8_t)(gap >> 24);
        w->pad[1] = (uint8_t)(gap >> 16);
        w->pad[2] = (uint8_t)(gap >> 8);
        w->pad[3] = (uint8_t)gap;
        memcpy(w->pad + 4, "free", 4);
    }
    v[iovcnt].iov_base = w->pad;
    v[iovcnt].iov_len = (size_t)gap;
    int e = pwritev_all(w->fd, w->data_end, v, iovcnt + 1);
    free(v);
    if (e)
        return poison(w, pc_status_from_errno(e), "%s: writing %s to %s: %s",
                      w->path, what, w->tmp, strerror(e));
    *off_out = w->data_end;
    *size_out = size;
    w->data_end += size + gap;
    atomic_store_explicit(&w->appended_end, w->data_end, memory_order_release);
    if (!w->caller_writeback)
        pc_bundle_writer_writeback(w);
    return 0;
}

/* Start writeback as we go, so the fsync at commit waits for the last few
 * megabytes instead of the whole title (a hint only: errors are reported by
 * that fsync).  The system call submits the pages' I/O in the caller's
 * time, which is why a caller with a thread to spare may make it. */
void pc_bundle_writer_writeback(struct pc_bundle_writer *w)
{
    uint64_t end = atomic_load_explicit(&w->appended_end, memory_order_acquire);
    if (end - w->written_back >= WRITEBACK_CHUNK) {
        (void)sync_file_range(w->fd, (off_t)w->written_back, (off_t)(end - w->written_back),
                              SYNC_FILE_RANGE_WRITE);
        w->written_back = end;
    }
}

int pc_bundle_writer_add_init(struct pc_bundle_writer *w, unsigned t,
                              const struct iovec *iov, int iovcnt)
{
    int status = writer_entry(w, t, w, "add_init");   /* no argument to check */
    if (status)
        return status;
    struct wtrack *tr = &w->tracks[t];
    if (tr->has_init)
        return poison(w, PC_EINVAL, "%s: track %u already has an init segment", w->path, t);
    struct blob_name n = name_init(t);
    int rc = append_blob(w, n.s, iov, iovcnt, &tr->init_offset, &tr->init_size);
    if (rc)
        return rc;
    tr->has_init = true;
    return 0;
}

int pc_bundle_writer_add_segment(struct pc_bundle_writer *w, unsigned t,
                                 const struct pc_segment_record *seg,
                                 const struct iovec *iov, int iovcnt)
{
    int status = writer_entry(w, t, seg, "add_segment");
    if (status)
        return status;
    struct wtrack *tr = &w->tracks[t];
    struct blob_name n = name_seg(tr->count, t);

    /* The reader requires the init blob to precede the track's segments. */
    if (!tr->has_init)
        return poison(w, PC_EINVAL, "%s: %s added before the track's init segment",
                      w->path, n.s);
    if (seg->duration == 0)
        return poison(w, PC_EINVAL, "%s: %s has duration 0", w->path, n.s);
    if (seg->start > UINT64_MAX - seg->duration)
        return poison(w, PC_EINVAL, "%s: %s: start %" PRIu64 " + duration overflows",
                      w->path, n.s, seg->start);
    if (tr->count) {
        const struct pc_segment_record *p = &tr->segs[tr->count - 1];
        if (seg->start != p->start + p->duration)
            return poison(w, PC_EINVAL, "%s: %s starts at %" PRIu64 ", expected %" PRIu64
                          " (previous start + duration): segments must be contiguous",
                          w->path, n.s, seg->start, p->start + p->duration);
    }
    if (w->total_segments >= PC_BUNDLE_MAX_SEGMENTS)
        return poison(w, PC_ETOOBIG, "%s: more than %u segments", w->path,
                      PC_BUNDLE_MAX_SEGMENTS);
    if (tr->count == tr->cap) {
        uint64_t cap = tr->cap ? tr->cap * 2 : 16;
        struct pc_segment_record *s = realloc(tr->segs, (size_t)cap * sizeof *s);
        if (!s)
            return poison(w, PC_ENOMEM, "%s: out of memory", w->path);
        tr->segs = s;
        tr->cap = cap;
    }

    struct pc_segment_record r = {
        .start = seg->start,
        .duration = seg->duration,
        .sample_count = seg->sample_count,
        .flags = seg->flags,
        .key_size = seg->key_size,
    };
    int rc = append_blob(w, n.s, iov, iovcnt, &r.offset, &r.size);
    if (rc)
        return rc;
    if (r.key_size > r.size)
        return poison(w, PC_EINVAL, "%s: %s: key frame size %" PRIu32
                      " exceeds the segment size %" PRIu64, w->path, n.s, r.key_size, r.size);
    tr->segs[tr->count++] = r;
    w->total_segments++;
    return 0;
}

/* Copy [off, off+len) of @p in to @p out at @p dst: copy_file_range (reflink
 * or in-kernel copy), falling back to read/write where it is unsupported. */
static int copy_range(int in, int out, uint64_t off, uint64_t dst, uint64_t len)
{
    loff_t ioff = (loff_t)off, ooff = (loff_t)dst;
    uint64_t left = len;
    bool fallback = false;

    while (left && !fallback) {
        size_t chunk = left > (1u << 30) ? (1u << 30) : (size_t)left;
        ssize_t n = copy_file_range(in, &ioff, out, &ooff, chunk, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP ||
                errno == EINVAL || errno == EBADF || errno == EPERM) {
                fallback = true;
                break;
            }
            return errno;
        }
        if (n == 0)
            return EIO;             /* the source shrank under us */
        left -= (uint64_t)n;
    }
    if (!left)
        return 0;

    size_t bufsz = 1u << 20;
    uint8_t *buf = malloc(bufsz);
    if (!buf)
        return ENOMEM;
    while (left) {
        size_t chunk = left > bufsz ? bufsz : (size_t)left;
        ssize_t n = pread_full(in, buf, chunk, (uint64_t)ioff);
        if (n < 0 || (size_t)n != chunk) {
            free(buf);
            return n < 0 ? (int)-n : EIO;
        }
        int e = pwrite_all(out, buf, chunk, (uint64_t)ooff);
        if (e) {
            free(buf);
            return e;
        }
        ioff += (loff_t)chunk;
        ooff += (loff_t)chunk;
        left -= chunk;
    }
    free(buf);
    return 0;
}

/* The index outgrew its reservation: move every blob @p shift bytes (a page
 * multiple) later, into a fresh temporary file, and shift all offsets. */
static int relocate(struct pc_bundle_writer *w, uint64_t shift, char *err, size_t errlen)
{
    char *ntmp;
    int nfd;

    if (w->data_end > (uint64_t)INT64_MAX - shift)
        return fail(err, errlen, PC_ETOOBIG, "%s: index does not fit in a file", w->path);
    int rc = create_temp(w, &ntmp, &nfd, err, errlen);
    if (rc)
        return rc;
    int e = copy_range(w->fd, nfd, w->data_offset, w->data_offset + shift,
                       w->data_end - w->data_offset);
    if (e) {
        rc = fail(err, errlen, pc_status_from_errno(e), "%s: moving blobs into %s: %s",
                  w->path, ntmp, strerror(e));
        close(nfd);
        unlink(ntmp);
        free(ntmp);
        return rc;
    }
    close(w->fd);
    unlink(w->tmp);
    free(w->tmp);
    w->fd = nfd;
    w->tmp = ntmp;

    w->data_offset += shift;
    w->data_end += shift;
    for (unsigned t = 0; t < w->track_count; t++) {
        struct wtrack *tr = &w->tracks[t];
        tr->init_offset += shift;
        for (uint64_t k = 0; k < tr->count; k++)
            tr->segs[k].offset += shift;
    }
    return 0;
}

/* ceil(num / den) for a 128-bit numerator, saturated to 64 bits. */
static uint64_t div_ceil_sat(unsigned __int128 num, uint64_t den)
{
    unsigned __int128 q = (num + den - 1) / den;
    return q > UINT64_MAX ? UINT64_MAX : (uint64_t)q;
}

/* Fill track @p t's writer-owned fields: place, totals and bitrates. */
static void finish_track(struct wtrack *tr, uint64_t first, struct pc_track_record *out)
{
    uint64_t total_dur = 0, total_size = 0, peak = 0;
    uint32_t max_dur = 0;

    *out = tr->rec;
    for (uint64_t k = 0; k < tr->count; k++) {
        const struct pc_segment_record *s = &tr->segs[k];
        uint64_t b = div_ceil_sat((unsigned __int128)s->size * 8 * tr->rec.timescale,
                                  s->duration);
        if (b > peak)
            peak = b;
        if (s->duration > max_dur)
            max_dur = s->duration;
        total_dur += s->duration;      /* contiguity checked: no overflow */
        total_size += s->size;         /* < INT64_MAX: they are in one file */
    }
    out->bitrate_peak = peak;
    out->bitrate_avg = div_ceil_sat((unsigned __int128)total_size * 8 * tr->rec.timescale,
                                    total_dur);
    out->init_offset = tr->init_offset;
    out->init_size = tr->init_size;
    out->segment_first = first;
    out->segment_count = tr->count;
    out->segment_capacity = tr->count;
    out->duration = total_dur;
    out->max_segment_duration = max_dur;
}

int pc_bundle_writer_commit(struct pc_bundle_writer *w, uint64_t *generation_out,
                            char *err, size_t errlen)
{
    uint8_t *buf = NULL;
    int rc, e;

    if (err && errlen)
        err[0] = '\0';
    if (!w)
        return fail(err, errlen, PC_EINVAL, "no writer");
    if (w->status) {
        rc = fail(err, errlen, w->status, "%s", w->msg);
        goto out;
    }
    for (unsigned t = 0; t < w->track_count; t++) {
        const struct wtrack *tr = &w->tracks[t];
        if (!tr->described) {
            rc = fail(err, errlen, PC_EINVAL, "%s: track %u was never described", w->path, t);
            goto out;
        }
        if (!tr->has_init) {
            rc = fail(err, errlen, PC_EINVAL, "%s: track %u has no init segment", w->path, t);
            goto out;
        }
        if (tr->count == 0) {
            rc = fail(err, errlen, PC_EINVAL, "%s: track %u has no segments", w->path, t);
            goto out;
        }
    }

    /* Each track's records contiguous, in track order. */
    uint64_t index_len = HDR_SIZE + w->track_count * TRACK_SIZE + w->total_segments * SEG_SIZE;
    uint64_t need = round_up(index_len, w->page_size);
    if (need > w->data_offset) {
        rc = relocate(w, need - w->data_offset, err, errlen);
        if (rc)
            goto out;
    }

    buf = calloc(1, (size_t)index_len);
    if (!buf) {
        rc = fail(err, errlen, PC_ENOMEM, "%s: out of memory", w->path);
        goto out;
    }
    struct pc_bundle_header h = {
        .version = PC_BUNDLE_VERSION,
        .header_size = (uint32_t)HDR_SIZE,
        .page_size = w->page_size,
        .flags = 0,
        .track_count = w->track_count,
        .track_record_size = (uint32_t)TRACK_SIZE,
        .segment_record_size = (uint32_t)SEG_SIZE,
        .source_count = w->source_count,
        .track_table_offset = HDR_SIZE,
        .segment_table_offset = HDR_SIZE + w->track_count * TRACK_SIZE,
        .segment_capacity = w->total_segments,
        .data_offset = w->data_offset,
        .data_end = w->data_end,
        .source_size = w->source_size,
        .source_stat_hash = w->source_stat_hash,
        .source_content_hash = w->source_content_hash,
    };
    memcpy(h.magic, PC_BUNDLE_MAGIC, sizeof h.magic);
    do {
        e = random_bytes(&h.generation, sizeof h.generation);
        if (e) {
            rc = fail(err, errlen, pc_status_from_errno(e), "%s: getrandom: %s",
                      w->path, strerror(e));
            goto out;
        }
    } while (h.generation == 0);        /* 0 is never a generation */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    h.created_unix_ms = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;

    uint64_t first = 0;
    for (unsigned t = 0; t < w->track_count; t++) {
        struct wtrack *tr = &w->tracks[t];
        struct pc_track_record rec;
        finish_track(tr, first, &rec);
        memcpy(buf + h.track_table_offset + t * TRACK_SIZE, &rec, sizeof rec);
        memcpy(buf + h.segment_table_offset + first * SEG_SIZE, tr->segs,
               (size_t)tr->count * sizeof *tr->segs);
        first += tr->count;
    }
    memcpy(buf, &h, sizeof h);
    h.checksum = pc_bundle_checksum(buf, (size_t)index_len);
    memcpy(buf + offsetof(struct pc_bundle_header, checksum), &h.checksum, sizeof h.checksum);

    /* Belt and braces: never rename a bundle this very reader would refuse. */
    char why[256];
    rc = pc_bundle_validate(buf, (size_t)index_len, w->data_end, why, sizeof why);
    if (rc) {
        rc = fail(err, errlen, rc, "%s: writer produced an invalid index: %s", w->path, why);
        goto out;
    }

    e = pwrite_all(w->fd, buf, (size_t)index_len, 0);
    if (!e && ftruncate(w->fd, (off_t)w->data_end) != 0)
        e = errno;
    if (!e && fsync(w->fd) != 0)
        e = errno;
    if (e) {
        rc = fail(err, errlen, pc_status_from_errno(e), "%s: writing %s: %s",
                  w->path, w->tmp, strerror(e));
        goto out;
    }
    /* close() can report a deferred write error (NFS): check it. */
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0) {
        e = errno;
        rc = fail(err, errlen, pc_status_from_errno(e), "%s: closing %s: %s",
                  w->path, w->tmp, strerror(e));
        goto out;
    }
    if (rename(w->tmp, w->path) != 0) {
        e = errno;
        rc = fail(err, errlen, pc_status_from_errno(e), "%s: rename from %s: %s",
                  w->path, w->tmp, strerror(e));
        goto out;
    }
    free(w->tmp);
    w->tmp = NULL;                      /* it is the target now: keep it */

    /* Make the rename itself durable.  Some filesystems cannot fsync a
     * directory (EINVAL): nothing more can be done there. */
    int dfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || (fsync(dfd) != 0 && errno != EINVAL && errno != EROFS)) {
        e = errno;
        if (dfd >= 0)
            close(dfd);
        /* The new bundle is in place but might not survive a crash. */
        rc = fail(err, errlen, pc_status_from_errno(e),
                  "%s: renamed, but syncing directory %s failed: %s",
                  w->path, w->dir, strerror(e));
        goto out;
    }
    close(dfd);
    if (generation_out)
        *generation_out = h.generation;
    rc = 0;
out:
    free(buf);
    free_writer(w);
    return rc;
}

/* Declared in bundle.h: the first failure's reason, sticky. */
const char *pc_bundle_writer_error(const struct pc_bundle_writer *w)
{
    return w && w->status ? w->msg : "";
}

void pc_bundle_writer_abort(struct pc_bundle_writer *w)
{
    if (w)
        free_writer(w);
}
