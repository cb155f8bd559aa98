/*
 * The pagecast bundle, format version 1: one file per title, written by the
 * packager and served by the origin.  This header is the contract between the
 * two; docs/bundle-format.md specifies the same layout in prose.
 *
 * Byte order: little-endian everywhere.  Offsets and sizes are bytes from the
 * start of the file; times are unsigned integers in the track's timescale.
 *
 *   offset 0                header (struct pc_bundle_header, 128 bytes)
 *   track_table_offset      track_count  x struct pc_track_record (256 bytes)
 *   segment_table_offset    segment_capacity x struct pc_segment_record (48)
 *   ...                     zero padding up to data_offset
 *   data_offset             blobs: init segments and media segments, each
 *                           starting at a multiple of page_size; the gap after
 *                           a blob is padding (an ISO BMFF 'free' box for
 *                           fMP4) that is never served
 *
 * Invariants of a valid bundle (all checked by pc_bundle_open* in 64-bit
 * arithmetic against the real file size, so a hostile file cannot make a
 * reader touch memory outside its mapping):
 *   - magic, version == 1, header_size == 128, record sizes as declared here;
 *   - page_size is a power of two in [4096, 1 MiB];
 *   - the tables lie inside [header_size, data_offset); data_offset is a
 *     multiple of page_size and <= file size;
 *   - checksum == pc_bundle_checksum() of header and tables;
 *   - every track's [segment_first, segment_first + segment_capacity) lies
 *     inside the segment table, tracks' ranges do not overlap, and
 *     segment_count <= segment_capacity;
 *   - every blob (init and segment) has size > 0, starts at a multiple of
 *     page_size at or after data_offset, and ends at or before the file size;
 *     a track's blobs are in increasing offset order and do not overlap;
 *   - a track's segments are contiguous in time: start[k+1] == start[k] +
 *     duration[k], every duration > 0.
 *
 * Live titles (later): the writer appends segment records inside a track's
 * capacity and blobs at the end of the file, then advances segment_count and
 * the checksum; flags has PC_BUNDLE_LIVE until the title ends.  A reader only
 * ever looks at committed records.
 */
#ifndef PAGECAST_BUNDLE_H
#define PAGECAST_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "pagecast reads bundle records in place and needs a little-endian host"
#endif

#define PC_BUNDLE_MAGIC "\x89PCBNDL\n"  /* 8 bytes; 0x89 catches 7-bit damage */
#define PC_BUNDLE_VERSION 1u
#define PC_BUNDLE_PAGE_SIZE_DEFAULT 4096u
#define PC_BUNDLE_PAGE_SIZE_MAX (1u << 20)
#define PC_BUNDLE_MAX_TRACKS 64u
#define PC_BUNDLE_MAX_SEGMENTS (1u << 24)   /* per bundle, all tracks */

/* header.flags */
#define PC_BUNDLE_LIVE 0x1u               /* committed counts may still grow */

enum pc_track_kind {
    PC_KIND_VIDEO = 1,
    PC_KIND_AUDIO = 2,
    PC_KIND_TEXT = 3,
};

/* Values are part of the format: never renumber. */
enum pc_codec {
    PC_CODEC_H264 = 1,
    PC_CODEC_HEVC = 2,
    PC_CODEC_AV1 = 3,
    PC_CODEC_VP9 = 4,
    PC_CODEC_AAC = 16,
    PC_CODEC_MP3 = 17,
    PC_CODEC_AC3 = 18,
    PC_CODEC_EAC3 = 19,
    PC_CODEC_OPUS = 20,
    PC_CODEC_FLAC = 21,
    PC_CODEC_WEBVTT = 32,
};

/* track.flags */
#define PC_TRACK_DEFAULT 0x1u             /* default track of its kind */

/* segment.flags */
#define PC_SEGMENT_KEY 0x1u               /* starts with a sync sample (SAP 1/2) */

struct pc_bundle_header {
    uint8_t magic[8];               /*   0 PC_BUNDLE_MAGIC */
    uint32_t version;               /*   8 PC_BUNDLE_VERSION */
    uint32_t header_size;           /*  12 sizeof(struct pc_bundle_header) */
    uint32_t page_size;             /*  16 blob alignment, power of two */
    uint32_t flags;                 /*  20 PC_BUNDLE_* */
    uint32_t track_count;           /*  24 1..PC_BUNDLE_MAX_TRACKS */
    uint32_t track_record_size;     /*  28 sizeof(struct pc_track_record) */
    uint32_t segment_record_size;   /*  32 sizeof(struct pc_segment_record) */
    uint32_t source_count;          /*  36 number of input files */
    uint64_t track_table_offset;    /*  40 */
    uint64_t segment_table_offset;  /*  48 */
    uint64_t segment_capacity;      /*  56 records in the segment table */
    uint64_t data_offset;           /*  64 first byte of the blob area */
    uint64_t data_end;              /*  72 end of the last blob's padding */
    uint64_t generation;            /*  80 unique per write; names URLs */
    uint64_t created_unix_ms;       /*  88 wall-clock time of the write */
    uint64_t source_size;           /*  96 sum of the inputs' sizes */
    uint64_t source_stat_hash;      /* 104 pc_fingerprint of sizes + mtimes */
    uint64_t source_content_hash;   /* 112 hash of each input's first/last 64 KiB */
    uint64_t checksum;              /* 120 pc_bundle_checksum() */
};

struct pc_track_record {
    uint8_t kind;                   /*   0 enum pc_track_kind */
    uint8_t codec;                  /*   1 enum pc_codec */
    uint16_t flags;                 /*   2 PC_TRACK_* */
    uint32_t timescale;             /*   4 ticks per second, > 0 */
    uint32_t width;                 /*   8 video: coded picture size */
    uint32_t height;                /*  12 */
    uint32_t frame_rate_num;        /*  16 video: frames per second as num/den */
    uint32_t frame_rate_den;        /*  20 */
    uint32_t sar_num;               /*  24 video: sample aspect ratio */
    uint32_t sar_den;               /*  28 */
    uint32_t sample_rate;           /*  32 audio: Hz */
    uint16_t channels;              /*  36 audio */
    uint16_t group;                 /*  38 rendition group (see docs) */
    uint64_t bitrate_peak;          /*  40 bits/s, max over segments */
    uint64_t bitrate_avg;           /*  48 bits/s, total bytes / duration */
    uint64_t init_offset;           /*  56 init segment blob */
    uint64_t init_size;             /*  64 */
    uint64_t segment_first;         /*  72 index of first record in segment table */
    uint64_t segment_count;         /*  80 committed records */
    uint64_t segment_capacity;      /*  88 reserved records (>= count) */
    uint64_t duration;              /*  96 sum of segment durations, timescale */
    char codecs[48];                /* 104 RFC 6381 string, NUL-padded */
    char language[16];              /* 152 BCP 47 / ISO 639-2 tag, "und" */
    char name[64];                  /* 168 UTF-8 label, NUL-padded */
    uint32_t source_index;          /* 232 which input file (0-based) */
    uint32_t source_stream;         /* 236 stream index inside that input */
    uint32_t max_segment_duration;  /* 240 timescale units */
    uint8_t reserved[12];           /* 244 zero */
};

struct pc_segment_record {
    uint64_t offset;                /*   0 blob start, multiple of page_size */
    uint64_t size;                  /*   8 blob length in bytes, > 0 */
    uint64_t start;                 /*  16 tfdt = earliest presentation, timescale */
    uint32_t duration;              /*  24 timescale units, > 0 */
    uint32_t sample_count;          /*  28 */
    uint32_t flags;                 /*  32 PC_SEGMENT_* */
    uint32_t key_size;              /*  36 bytes from blob start through the
                                     *     end of the first sync sample, for
                                     *     I-frame playlists; 0 if none */
    uint64_t reserved;              /*  40 zero */
};

_Static_assert(sizeof(struct pc_bundle_header) == 128, "header layout");
_Static_assert(sizeof(struct pc_track_record) == 256, "track layout");
_Static_assert(sizeof(struct pc_segment_record) == 48, "segment layout");

/* ------------------------------------------------------------------ reader */

/*
 * An open, validated bundle.  The header and tables are mmapped read-only
 * (blobs are not: they are served by offset through fd).  After a successful
 * pc_bundle_open every accessor below is a bounds-checked array lookup.
 */
struct pc_bundle {
    int fd;                                  /* owned; read-only */
    uint64_t file_size;                      /* from fstat at open */
    const uint8_t *map;                      /* owned; header + tables */
    size_t map_len;
    const struct pc_bundle_header *hdr;      /* points into map */
    const struct pc_track_record *tracks;    /* hdr->track_count records */
    const struct pc_segment_record *segments;/* hdr->segment_capacity records */
};

/**
 * Open and validate the bundle at @p path.
 * @param b     filled on success; untouched on failure
 * @param err   receives a one-line reason on failure (may be NULL)
 * @return 0, or a negative PC_E* status (PC_ENOENT, PC_EFORMAT, PC_EVERSION,
 *         PC_ECORRUPT, PC_ETRUNCATED, PC_EIO, PC_ENOMEM, ...).
 * On success the caller owns @p b and must pc_bundle_close() it.
 */
int pc_bundle_open(struct pc_bundle *b, const char *path, char *err, size_t errlen);

/**
 * As pc_bundle_open, on an already open file descriptor.  Takes ownership of
 * @p fd on success and on failure (it is closed on failure).
 */
int pc_bundle_open_fd(struct pc_bundle *b, int fd, char *err, size_t errlen);

/** Release the mapping and the descriptor.  Safe on a zeroed struct. */
void pc_bundle_close(struct pc_bundle *b);

/**
 * Validate @p len bytes at @p buf as the start of a bundle whose real file
 * size is @p file_size (>= len).  Pure: no I/O; used by open and by the fuzzer.
 * Only bytes below the validated tables' end are read, and never past len.
 * @return 0 or PC_EFORMAT / PC_EVERSION / PC_ECORRUPT / PC_ETRUNCATED,
 *         with a one-line reason in @p err.
 */
int pc_bundle_validate(const uint8_t *buf, size_t len, uint64_t file_size,
                       char *err, size_t errlen);

/** @return bytes of the file that must be mapped to read header and tables,
 *  or 0 if @p buf (at least 128 bytes) is not a plausible header. */
uint64_t pc_bundle_index_size(const uint8_t *buf, size_t len);

/** Segments of track @p t: the committed records, @p *count of them. */
static inline const struct pc_segment_record *
pc_bundle_track_segments(const struct pc_bundle *b, unsigned t, uint64_t *count)
{
    const struct pc_track_record *tr = &b->tracks[t];
    *count = tr->segment_count;
    return b->segments + tr->segment_first;
}

/**
 * FNV-1a 64 over the header's first 120 bytes, the track table and the whole
 * segment table (capacity records): the value stored in header.checksum.
 */
uint64_t pc_bundle_checksum(const uint8_t *buf, size_t len);

/**
 * Write @p b as JSON (the --dump format, see docs/bundle-format.md) to @p out.
 * @return 0 or PC_EIO.
 */
int pc_bundle_dump_json(const struct pc_bundle *b, FILE *out);

/* ------------------------------------------------------------------ writer */

struct pc_bundle_writer;

struct pc_bundle_writer_opts {
    uint32_t page_size;             /* 0: PC_BUNDLE_PAGE_SIZE_DEFAULT */
    uint32_t track_count;
    uint64_t segments_hint;         /* expected records, all tracks; the
                                     * index region is sized for it and
                                     * relocated at commit if exceeded */
    uint32_t source_count;
    uint64_t source_size;
    uint64_t source_stat_hash;
    uint64_t source_content_hash;
    /* the caller starts writeback itself, with pc_bundle_writer_writeback()
     * from one thread while another appends; else appending does */
    bool caller_writeback;
};

/**
 * Start writing a bundle that will become @p path.  Data goes to a temporary
 * file "<dir>/.<name>.XXXXXX.tmp" in the same directory; nothing is visible
 * at @p path until pc_bundle_writer_commit succeeds.
 * @return 0 and *@p out (owned by the caller until commit or abort), or a
 *         negative status with a reason in @p err.
 */
int pc_bundle_writer_open(struct pc_bundle_writer **out, const char *path,
                          const struct pc_bundle_writer_opts *opts,
                          char *err, size_t errlen);

/** Describe track @p t.  Offsets, counts and segment fields are ignored
 *  (the writer owns them); may be called again until commit. */
int pc_bundle_writer_set_track(struct pc_bundle_writer *w, unsigned t,
                               const struct pc_track_record *rec);

/** Append track @p t's init segment: the bytes of @p iov, page-aligned. */
int pc_bundle_writer_add_init(struct pc_bundle_writer *w, unsigned t,
                              const struct iovec *iov, int iovcnt);

/**
 * Append one media segment of track @p t, whose bytes are @p iov.  @p seg's
 * start, duration, sample_count, flags and key_size are recorded; offset and
 * size are the writer's.  Segments of a track must come in time order.
 */
int pc_bundle_writer_add_segment(struct pc_bundle_writer *w, unsigned t,
                                 const struct pc_segment_record *seg,
                                 const struct iovec *iov, int iovcnt);

/**
 * Start writeback of what has been appended since the last call, once that
 * is several megabytes, so the fsync at commit waits for the last few only.
 * For a writer opened with caller_writeback: may run in one thread while
 * another appends (it reads how far appending got, and nothing else that
 * appending changes); not concurrently with commit or abort.
 */
void pc_bundle_writer_writeback(struct pc_bundle_writer *w);

/**
 * Write the tables, fsync, rename over @p path, fsync the directory, and free
 * @p w (on success and on failure; on failure the temporary file is removed
 * and any previous file at @p path is untouched).
 * @param generation_out receives the new bundle's generation (may be NULL)
 */
int pc_bundle_writer_commit(struct pc_bundle_writer *w, uint64_t *generation_out,
                            char *err, size_t errlen);

/**
 * The one-line reason for the writer's first failure ("" if none).  Errors
 * are sticky: after a failed call every later call returns the same status.
 * Valid until commit or abort.
 */
const char *pc_bundle_writer_error(const struct pc_bundle_writer *w);

/** Remove the temporary file and free @p w.  Safe with NULL. */
void pc_bundle_writer_abort(struct pc_bundle_writer *w);

/* ------------------------------------------------------------ fingerprint */

/** FNV-1a 64 of @p len bytes, continuing from @p h (start with PC_FNV_INIT). */
#define PC_FNV_INIT 0xcbf29ce484222325ull
uint64_t pc_fnv1a(uint64_t h, const void *data, size_t len);

/*
 * What a bundle remembers of its sources, so that a changed source is noticed.
 *   size         sum of st_size
 *   stat_hash    FNV-1a 64 over, for each input in order, the little-endian
 *                u64 st_size, i64 st_mtim.tv_sec, i64 st_mtim.tv_nsec
 *   content_hash FNV-1a 64 over, for each input in order, its first
 *                min(65536, size) bytes then its last min(65536, size) bytes
 * The origin compares size + stat_hash (stat only, no reads) at startup.
 */
struct pc_fingerprint {
    uint32_t count;
    uint64_t size;
    uint64_t stat_hash;
    uint64_t content_hash;
};

/**
 * Fingerprint @p n input files.  With @p with_content == 0 only stat() is
 * used and content_hash is 0.
 * @return 0, or a negative status with "<path>: <reason>" in @p err.
 */
int pc_fingerprint_files(const char *const *paths, unsigned n, int with_content,
                         struct pc_fingerprint *fp, char *err, size_t errlen);

#endif
