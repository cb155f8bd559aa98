/*
 * The packager library: source media files in, one bundle out.
 *
 * Reads inputs with libavformat through an mmap, cuts all tracks at the same
 * presentation times, muxes CMAF fMP4 without transcoding and writes a bundle
 * (include/pagecast/bundle.h) atomically.  Never prints: messages go through
 * the log callback, and a failure comes back as a status plus one line.
 */
#ifndef PAGECAST_PACKAGER_H
#define PAGECAST_PACKAGER_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

enum pc_log_level { PC_LOG_ERROR = 0, PC_LOG_WARN = 1, PC_LOG_INFO = 2, PC_LOG_DEBUG = 3 };

struct pc_pack_opts {
    uint32_t segment_ms;        /* target segment duration; 0: 6000 */
    uint32_t page_size;         /* 0: 4096 */
    /* optional: called for warnings and information (never for the final
     * error, which is returned); @p msg is one line without a newline */
    void (*log)(void *ud, enum pc_log_level level, const char *msg);
    /* optional: called now and then with the fraction of input read */
    void (*progress)(void *ud, double fraction);
    /* optional: polled now and then; non-zero abandons the job (PC_ECANCELED) */
    int (*cancel)(void *ud);
    void *ud;
    /* diagnostic: read every sample through the demuxer, even from an
     * unfragmented MP4 whose samples are otherwise written straight from
     * the source's mapping; the bundle is the same either way */
    bool copy_samples;
};

/**
 * Package @p n inputs (renditions of one title) into the bundle @p out.
 * @param err  on failure, one line "<input path>: <reason>" (or "<out>: ...")
 * @return 0, or a negative PC_E* status.  On failure nothing is left at @p out
 *         that was not there before, and no temporary file remains.
 */
int pc_pack(const char *out, const char *const *inputs, unsigned n,
            const struct pc_pack_opts *opts, char *err, size_t errlen);

/* An input already in memory. */
struct pc_pack_buffer {
    const char *name;           /* names it in messages; NULL: "(memory)" */
    const uint8_t *data;        /* not owned; read during the call only */
    size_t size;
};

/**
 * pc_pack over @p n inputs in memory instead of files: the same packaging
 * into the same bundle at @p out, fingerprinted by the bytes (size and
 * content hash; no stat).  Internal: the fuzz target (fuzz/fuzz_pack.c)
 * feeds mutated media through it.  @p n is at most PC_BUNDLE_MAX_TRACKS.
 */
int pc__pack_buffers(const char *out, const struct pc_pack_buffer *inputs, unsigned n,
                     const struct pc_pack_opts *opts, char *err, size_t errlen);

#endif
