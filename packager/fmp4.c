/*
 * moof + mdat formatting for CMAF media segments (see fmp4.h).
 */
#include "fmp4.h"

#include <string.h>

static uint8_t *put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
    return put32(put32(p, (uint32_t)(v >> 32)), (uint32_t)v);
}

static uint8_t *put_box(uint8_t *p, uint32_t size, const char type[4])
{
    p = put32(p, size);
    memcpy(p, type, 4);
    return p + 4;
}

static uint8_t *put_fullbox(uint8_t *p, uint32_t size, const char type[4],
                            uint8_t version, uint32_t flags)
{
    p = put_box(p, size, type);
    return put32(p, (uint32_t)version << 24 | (flags & 0xffffff));
}

enum {
    MFHD_SIZE = 16,
    TFHD_SIZE = 16,         /* + 4 with default-sample-flags */
    TFDT_SIZE = 20,
    TRUN_FIXED = 20,        /* header, sample_count, data_offset */
    MDAT_HEADER = 8,
};

static size_t tfhd_size(int video) { return TFHD_SIZE + (video ? 0 : 4); }
static size_t trun_entry(int video) { return video ? 16 : 8; }

size_t pc_fmp4_header_size(size_t n, int video)
{
    return 8 + MFHD_SIZE + 8 + tfhd_size(video) + TFDT_SIZE + TRUN_FIXED +
           n * trun_entry(video) + MDAT_HEADER;
}

size_t pc_fmp4_write_header(uint8_t *buf, uint32_t sequence, uint32_t track_id,
                            uint64_t base_decode_time,
                            const struct pc_fmp4_sample *s, size_t n, int video,
                            uint64_t payload)
{
    size_t total = pc_fmp4_header_size(n, video);
    size_t moof = total - MDAT_HEADER;
    if (payload > UINT32_MAX - MDAT_HEADER || moof > UINT32_MAX)
        return 0;
    size_t traf = moof - 8 - MFHD_SIZE;
    size_t trun = TRUN_FIXED + n * trun_entry(video);

    uint8_t *p = buf;
    p = put_box(p, (uint32_t)moof, "moof");
    p = put_fullbox(p, MFHD_SIZE, "mfhd", 0, 0);
    p = put32(p, sequence);
    p = put_box(p, (uint32_t)traf, "traf");
    /* 0x020000 default-base-is-moof: data offsets count from this moof, so
     * a segment is self-contained wherever it is served from (CMAF 7.5.16).
     * Audio samples are all sync samples: say so once (0x000020). */
    p = put_fullbox(p, (uint32_t)tfhd_size(video), "tfhd", 0,
                    0x020000u | (video ? 0 : 0x000020u));
    p = put32(p, track_id);
    if (!video)
        p = put32(p, PC_FMP4_FLAGS_SYNC);
    p = put_fullbox(p, TFDT_SIZE, "tfdt", 1, 0);
    p = put64(p, base_decode_time);
    /* 0x001 data-offset, 0x100 duration, 0x200 size, 0x400 flags, 0x800
     * composition offset.  Version 0 (unsigned offsets) unless an offset is
     * negative: ffmpeg's demuxer, behind ffplay, mpv and many others, delays
     * a stream's presentation by its most negative offset, so version 1 is
     * only used where the source really needs it. */
    uint8_t version = 0;
    for (size_t i = 0; video && i < n; i++)
        if (s[i].cto < 0)
            version = 1;
    uint32_t tr_flags = 0x000001u | 0x000100u | 0x000200u | (video ? 0x000c00u : 0);
    p = put_fullbox(p, (uint32_t)trun, "trun", version, tr_flags);
    p = put32(p, (uint32_t)n);
    p = put32(p, (uint32_t)(moof + MDAT_HEADER));   /* first sample after mdat header */
    for (size_t i = 0; i < n; i++) {
        p = put32(p, s[i].duration);
        p = put32(p, s[i].size);
        if (video) {
            p = put32(p, s[i].flags);
            p = put32(p, (uint32_t)s[i].cto);
        }
    }
    p = put_box(p, (uint32_t)(payload + MDAT_HEADER), "mdat");
    return (size_t)(p - buf);
}

static uint64_t get32(const uint8_t *p)
{
    return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
}

size_t pc_fmp4_init_length(const uint8_t *buf, size_t len)
{
    size_t pos = 0;
    int have_moov = 0;
    while (len - pos >= 8) {
        uint64_t size = get32(buf + pos);
        const uint8_t *type = buf + pos + 4;
        if (size == 1) {
            if (len - pos < 16)
                return 0;
            size = get32(buf + pos + 8) << 32 | get32(buf + pos + 12);
        }
        if (size < 8 || size > len - pos)
            return 0;
        if (!memcmp(type, "moof", 4) || !memcmp(type, "styp", 4) ||
            !memcmp(type, "mdat", 4) || !memcmp(type, "sidx", 4))
            break;
        if (!memcmp(type, "moov", 4))
            have_moov = 1;
        pos += (size_t)size;
    }
    return have_moov ? pos : 0;
}
