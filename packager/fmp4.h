/*
 * The CMAF media segment writer: one track's samples in, moof + mdat header
 * out.  Pure byte formatting (ISO/IEC 14496-12 8.8), no libavformat: the
 * packager hands it sample sizes and times, then writes the sample bytes
 * itself right after the returned header.
 *
 *   moof
 *     mfhd  sequence_number
 *     traf
 *       tfhd  default-base-is-moof (+ default sample flags for audio)
 *       tfdt  version 1: 64-bit baseMediaDecodeTime
 *       trun  data offset, per-sample duration and size, and for video
 *             per-sample flags and composition offsets (version 1, signed,
 *             only when an offset is negative)
 *   mdat  (header only; the caller appends the payload)
 */
#ifndef PC_FMP4_H
#define PC_FMP4_H

#include <stddef.h>
#include <stdint.h>

/* ISO/IEC 14496-12 8.8.3.1 sample flags */
#define PC_FMP4_FLAGS_SYNC 0x02000000u      /* depends on no other sample */
#define PC_FMP4_FLAGS_NONSYNC 0x01010000u   /* depends on others, not sync */

struct pc_fmp4_sample {
    uint32_t size;
    uint32_t duration;      /* track timescale */
    int32_t cto;            /* presentation - decode time */
    uint32_t flags;         /* PC_FMP4_FLAGS_* */
};

/** Bytes of moof + mdat header for @p n samples (@p video: flags + cto). */
size_t pc_fmp4_header_size(size_t n, int video);

/**
 * Format moof + mdat header into @p buf (pc_fmp4_header_size bytes).
 * @param payload  total bytes of sample data that will follow (sum of sizes)
 * @return bytes written, or 0 if the segment is too large for a 32-bit mdat.
 */
size_t pc_fmp4_write_header(uint8_t *buf, uint32_t sequence, uint32_t track_id,
                            uint64_t base_decode_time,
                            const struct pc_fmp4_sample *s, size_t n, int video,
                            uint64_t payload);

/**
 * Length of the leading ftyp/moov (and any boxes before the first moof, styp
 * or mdat) in @p buf: the init segment in a muxer's fragmented output.
 * @return that length, or 0 if no complete moov precedes the first fragment.
 */
size_t pc_fmp4_init_length(const uint8_t *buf, size_t len);

#endif
