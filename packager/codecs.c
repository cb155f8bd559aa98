/*
 * RFC 6381 codec strings from the bytes of an fMP4 init segment.
 *
 * The manifest writers need a CODECS attribute per rendition; this file
 * derives it from the configuration record the init segment carries, so the
 * string always describes exactly what a player is fed.  It is pure C over a
 * byte buffer: no libav, no I/O, no allocation, no recursion.
 *
 * The input is untrusted.  Every box, descriptor and OBU length is read in
 * 64-bit arithmetic and checked against the bytes its parent has left before
 * anything inside it is touched; the walk follows one fixed path
 * (moov/trak/mdia/minf/stbl/stsd), so nesting depth is bounded by the code,
 * and every loop consumes at least one byte per iteration.
 */
#include "pagecast/codecs.h"
#include "pagecast/status.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Longest string produced is "hev1.C31.FFFFFFFF.H255.FF.FF.FF.FF.FF.FF" (40
 * characters); leave room so a formatting slip is caught, not truncated. */
#define CODEC_STR_MAX 64

#define FOURCC(a, b, c, d)                                                    \
    ((uint32_t)(uint8_t)(a) << 24 | (uint32_t)(uint8_t)(b) << 16 |            \
     (uint32_t)(uint8_t)(c) << 8 | (uint32_t)(uint8_t)(d))

/* ------------------------------------------------------------------------ */
/* Bytes and bits                                                            */

/** A read-only window; @c p is never dereferenced at or beyond @c len. */
struct span {
    const uint8_t *p;
    size_t len;
};

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) << 32 | rd32(p + 4);
}

/** MSB-first bit reader.  Reading past the end yields zeros and sets @c err,
 *  so a parser can read a whole structure and check once at the end. */
struct bits {
    const uint8_t *p;
    size_t len;   /* bytes */
    uint64_t pos; /* bits consumed */
    bool err;
};

static uint32_t bits_get(struct bits *b, unsigned n)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        if (b->pos >= (uint64_t)b->len * 8) {
            b->err = true;
            return 0;
        }
        v = v << 1 | ((b->p[b->pos >> 3] >> (7 - (b->pos & 7))) & 1u);
        b->pos++;
    }
    return v;
}

/* ------------------------------------------------------------------------ */
/* ISO BMFF boxes (ISO/IEC 14496-12 4.2)                                      */

struct box {
    uint32_t type;
    struct span body; /* after the header (and the uuid extended type) */
};

/** Iterates the child boxes of one container body. */
struct box_iter {
    struct span parent;
    size_t off;
};

/**
 * Parse the next child box.
 * @return 1 with @p b filled, 0 at the clean end of the parent, PC_EINVAL if
 *         the remaining bytes do not hold a whole box.
 */
static int box_next(struct box_iter *it, struct box *b)
{
    size_t avail = it->parent.len - it->off;
    const uint8_t *p = it->parent.p + it->off;
    if (avail == 0)
        return 0;
    if (avail < 8)
        return PC_EINVAL;

    uint64_t size = rd32(p);
    size_t hdr = 8;
    if (size == 1) { /* 64-bit largesize follows the type */
        if (avail < 16)
            return PC_EINVAL;
        size = rd64(p + 8);
        hdr = 16;
    } else if (size == 0) { /* box extends to the end of its container */
        size = avail;
    }
    b->type = rd32(p + 4);
    if (b->type == FOURCC('u', 'u', 'i', 'd'))
        hdr += 16; /* extended_type */
    if (size < hdr || size > avail)
        return PC_EINVAL;

    b->body.p = p + hdr;
    b->body.len = (size_t)size - hdr;
    it->off += (size_t)size;
    return 1;
}

/**
 * Find the first child of @p type in container body @p parent.  The framing
 * of every child is checked, before and after the one found, so a box that
 * overruns into its sibling is caught however early the match comes.
 * @return 1 with @p body set, 0 if absent, PC_EINVAL if malformed.
 */
static int box_find(struct span parent, uint32_t type, struct span *body)
{
    struct box_iter it = { parent, 0 };
    struct box b;
    int r, found = 0;
    while ((r = box_next(&it, &b)) > 0) {
        if (!found && b.type == type) {
            *body = b.body;
            found = 1;
        }
    }
    return r < 0 ? r : found;
}

/* ------------------------------------------------------------------------ */
/* Output                                                                    */

/** A fixed local buffer; formatting never writes into the caller's @p out
 *  until the whole string is known to fit. */
struct strbuf {
    char s[CODEC_STR_MAX];
    size_t n;
    bool overflow;
};

__attribute__((format(printf, 2, 3)))
static void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    size_t room = sizeof sb->s - sb->n;
    va_start(ap, fmt);
    int w = vsnprintf(sb->s + sb->n, room, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= room) {
        sb->overflow = true;
        sb->n = sizeof sb->s - 1;
    } else {
        sb->n += (size_t)w;
    }
}

/* ------------------------------------------------------------------------ */
/* H.264: AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1)            */

/** Walk one array of length-prefixed parameter sets (avcC / hvcC). */
static int skip_nal_array(struct span cfg, size_t *off, unsigned count)
{
    for (unsigned i = 0; i < count; i++) {
        if (cfg.len - *off < 2)
            return PC_EINVAL;
        size_t n = rd16(cfg.p + *off);
        *off += 2;
        if (cfg.len - *off < n)
            return PC_EINVAL;
        *off += n;
    }
    return 0;
}

static int fmt_avc(const char fourcc[4], struct span cfg, struct strbuf *sb)
{
    /* configurationVersion, AVCProfileIndication, profile_compatibility,
     * AVCLevelIndication, lengthSizeMinusOne, numOfSequenceParameterSets */
    if (cfg.len < 7 || cfg.p[0] != 1)
        return PC_EINVAL;
    size_t off = 6;
    if (skip_nal_array(cfg, &off, cfg.p[5] & 0x1f) < 0 || off >= cfg.len)
        return PC_EINVAL;
    unsigned npps = cfg.p[off++];
    if (skip_nal_array(cfg, &off, npps) < 0)
        return PC_EINVAL;
    /* High-profile records may carry chroma/bit-depth fields after this;
     * nothing in the codecs string depends on them. */

    /* RFC 6381 3.3: the sample entry name (avc1 or avc3), then the three
     * bytes as hex. */
    sb_printf(sb, "%.4s.%02x%02x%02x", fourcc, cfg.p[1], cfg.p[2], cfg.p[3]);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* H.265: HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1)           */

static uint32_t reverse32(uint32_t v)
{
    uint32_t r = 0;
    for (int i = 0; i < 32; i++, v >>= 1)
        r = r << 1 | (v & 1);
    return r;
}

static int fmt_hevc(const char fourcc[4], struct span cfg, struct strbuf *sb)
{
    /* 23 fixed bytes: version, profile_space/tier/profile_idc, 4 bytes
     * compatibility flags, 6 bytes constraint flags, level_idc, ...,
     * numOfArrays at byte 22. */
    if (cfg.len < 23 || cfg.p[0] != 1)
        return PC_EINVAL;
    size_t off = 23;
    for (unsigned a = 0, n = cfg.p[22]; a < n; a++) {
        if (cfg.len - off < 3) /* NAL_unit_type byte, numNalus u16 */
            return PC_EINVAL;
        unsigned nalus = rd16(cfg.p + off + 1);
        off += 3;
        if (skip_nal_array(cfg, &off, nalus) < 0)
            return PC_EINVAL;
    }

    unsigned space = cfg.p[1] >> 6, tier = (cfg.p[1] >> 5) & 1;
    unsigned profile_idc = cfg.p[1] & 0x1f, level_idc = cfg.p[12];
    const uint8_t *constraint = cfg.p + 6;

    /* ISO/IEC 14496-15 Annex E.3: sample entry name; profile space as "",
     * A, B or C with profile_idc in decimal; the 32 compatibility flags in
     * reverse bit order as hex without leading zeros; L/H tier with
     * level_idc in decimal; each constraint byte as hex, trailing zero
     * bytes omitted. */
    sb_printf(sb, "%.4s.", fourcc);
    if (space)
        sb_printf(sb, "%c", 'A' + (int)space - 1);
    sb_printf(sb, "%u.%X.%c%u", profile_idc, reverse32(rd32(cfg.p + 2)),
              tier ? 'H' : 'L', level_idc);
    int last = 5;
    while (last >= 0 && constraint[last] == 0)
        last--;
    for (int i = 0; i <= last; i++)
        sb_printf(sb, ".%02X", constraint[i]);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* AV1: AV1CodecConfigurationRecord (AV1-ISOBMFF 2.3) and the sequence header */

struct av1_seq {
    unsigned profile, level0, tier0, bitdepth;
    unsigned mono, ss_x, ss_y, csp;
    unsigned cp, tc, mc, full_range;
};

/* AV1 spec 4.10.5: leb128(), at most 8 bytes, value < 2^32. */
static int leb128(struct span s, size_t *off, uint64_t *v)
{
    *v = 0;
    for (unsigned i = 0; i < 8; i++) {
        if (*off >= s.len)
            return PC_EINVAL;
        uint8_t byte = s.p[(*off)++];
        *v |= (uint64_t)(byte & 0x7f) << (i * 7);
        if (!(byte & 0x80))
            return *v > UINT32_MAX ? PC_EINVAL : 0;
    }
    return PC_EINVAL;
}

/* AV1 spec 4.10.3 uvlc(): only skipped here. */
static void skip_uvlc(struct bits *b)
{
    unsigned zeros = 0;
    while (!b->err && !bits_get(b, 1))
        zeros++;
    if (!b->err && zeros < 32)
        bits_get(b, zeros);
}

/** Parse sequence_header_obu() (AV1 spec 5.5) as far as color_config(). */
static int av1_parse_seq(struct span payload, struct av1_seq *s)
{
    struct bits b = { payload.p, payload.len, 0, false };
    unsigned timing_info = 0, decoder_model_info = 0, buffer_delay_len = 0;

    *s = (struct av1_seq){ 0 };
    s->profile = bits_get(&b, 3);
    bits_get(&b, 1); /* still_picture */
    unsigned reduced = bits_get(&b, 1);
    if (s->profile > 2)
        return PC_EINVAL; /* reserved profiles */

    if (reduced) {
        s->level0 = bits_get(&b, 5);
        s->tier0 = 0;
    } else {
        timing_info = bits_get(&b, 1);
        if (timing_info) {
            bits_get(&b, 32); /* num_units_in_display_tick */
            bits_get(&b, 32); /* time_scale */
            if (bits_get(&b, 1)) /* equal_picture_interval */
                skip_uvlc(&b);   /* num_ticks_per_picture_minus_1 */
            decoder_model_info = bits_get(&b, 1);
            if (decoder_model_info) {
                buffer_delay_len = bits_get(&b, 5) + 1;
                bits_get(&b, 32); /* num_units_in_decoding_tick */
                bits_get(&b, 5);  /* buffer_removal_time_length_minus_1 */
                bits_get(&b, 5);  /* frame_presentation_time_length_minus_1 */
            }
        }
        unsigned initial_display_delay = bits_get(&b, 1);
        unsigned op_count = bits_get(&b, 5) + 1;
        for (unsigned i = 0; i < op_count && !b.err; i++) {
            bits_get(&b, 12); /* operating_point_idc[i] */
            unsigned level = bits_get(&b, 5);
            unsigned tier = level > 7 ? bits_get(&b, 1) : 0;
            if (i == 0) {
                s->level0 = level;
                s->tier0 = tier;
            }
            if (decoder_model_info && bits_get(&b, 1)) {
                /* operating_parameters_info(): two delays + low_delay */
                bits_get(&b, buffer_delay_len);
                bits_get(&b, buffer_delay_len);
                bits_get(&b, 1);
            }
            if (initial_display_delay && bits_get(&b, 1))
                bits_get(&b, 4); /* initial_display_delay_minus_1 */
        }
    }

    unsigned wbits = bits_get(&b, 4) + 1, hbits = bits_get(&b, 4) + 1;
    bits_get(&b, wbits); /* max_frame_width_minus_1 */
    bits_get(&b, hbits); /* max_frame_height_minus_1 */
    if (!reduced && bits_get(&b, 1)) { /* frame_id_numbers_present_flag */
        bits_get(&b, 4); /* delta_frame_id_length_minus_2 */
        bits_get(&b, 3); /* additional_frame_id_length_minus_1 */
    }
    bits_get(&b, 3); /* use_128x128_superblock, filter_intra, intra_edge */
    if (!reduced) {
        bits_get(&b, 4); /* interintra, masked, warped, dual_filter */
        unsigned order_hint = bits_get(&b, 1);
        if (order_hint)
            bits_get(&b, 2); /* jnt_comp, ref_frame_mvs */
        unsigned force_sct = 2; /* SELECT_SCREEN_CONTENT_TOOLS */
        if (!bits_get(&b, 1)) /* seq_choose_screen_content_tools */
            force_sct = bits_get(&b, 1);
        if (force_sct > 0 && !bits_get(&b, 1)) /* seq_choose_integer_mv */
            bits_get(&b, 1);                  /* seq_force_integer_mv */
        if (order_hint)
            bits_get(&b, 3); /* order_hint_bits_minus_1 */
    }
    bits_get(&b, 3); /* enable_superres, enable_cdef, enable_restoration */

    /* color_config() (AV1 spec 5.5.2) */
    unsigned high_bitdepth = bits_get(&b, 1);
    s->bitdepth = 8;
    if (s->profile == 2 && high_bitdepth)
        s->bitdepth = bits_get(&b, 1) ? 12 : 10; /* twelve_bit */
    else if (high_bitdepth)
        s->bitdepth = 10;
    s->mono = s->profile == 1 ? 0 : bits_get(&b, 1);
    s->cp = s->tc = s->mc = 2; /* CP/TC/MC_UNSPECIFIED */
    if (bits_get(&b, 1)) { /* color_description_present_flag */
        s->cp = bits_get(&b, 8);
        s->tc = bits_get(&b, 8);
        s->mc = bits_get(&b, 8);
    }
    s->csp = 0; /* CSP_UNKNOWN */
    if (s->mono) {
        s->full_range = bits_get(&b, 1);
        s->ss_x = s->ss_y = 1;
    } else if (s->cp == 1 && s->tc == 13 && s->mc == 0) {
        /* BT.709 primaries + sRGB transfer + identity matrix: 4:4:4 RGB,
         * full range implied. */
        s->full_range = 1;
        s->ss_x = s->ss_y = 0;
    } else {
        s->full_range = bits_get(&b, 1);
        if (s->profile == 0) {
            s->ss_x = s->ss_y = 1;
        } else if (s->profile == 1) {
            s->ss_x = s->ss_y = 0;
        } else if (s->bitdepth == 12) {
            s->ss_x = bits_get(&b, 1);
            s->ss_y = s->ss_x ? bits_get(&b, 1) : 0;
        } else {
            s->ss_x = 1;
            s->ss_y = 0;
        }
        if (s->ss_x && s->ss_y)
            s->csp = bits_get(&b, 2);
    }
    return b.err ? PC_EINVAL : 0;
}

/** Find the sequence header among configOBUs (AV1 spec 5.3 obu_header()).
 *  @return 1 with @p seq filled, 0 if there is none, PC_EINVAL if malformed. */
static int av1_find_seq(struct span obus, struct av1_seq *seq)
{
    size_t off = 0;
    while (off < obus.len) {
        uint8_t h = obus.p[off++];
        unsigned type = (h >> 3) & 0xf, ext = (h >> 2) & 1, has_size = (h >> 1) & 1;
        if (h & 0x80) /* obu_forbidden_bit */
            return PC_EINVAL;
        if (ext) { /* temporal_id, spatial_id, reserved */
            if (off >= obus.len)
                return PC_EINVAL;
            off++;
        }
        uint64_t size = obus.len - off; /* without obu_size: runs to the end */
        if (has_size && leb128(obus, &off, &size) < 0)
            return PC_EINVAL;
        if (size > obus.len - off)
            return PC_EINVAL;
        if (type == 1) /* OBU_SEQUENCE_HEADER */
            return av1_parse_seq((struct span){ obus.p + off, (size_t)size }, seq) < 0
                       ? PC_EINVAL : 1;
        off += (size_t)size;
    }
    return 0;
}

static int fmt_av1(const char fourcc[4], struct span cfg, struct strbuf *sb)
{
    (void)fourcc;
    /* marker(1)=1 version(7)=1; seq_profile(3) seq_level_idx_0(5);
     * seq_tier_0 high_bitdepth twelve_bit monochrome chroma_subsampling_x
     * chroma_subsampling_y chroma_sample_position(2); presentation delay. */
    if (cfg.len < 4 || cfg.p[0] != 0x81)
        return PC_EINVAL;
    struct av1_seq c = {
        .profile = cfg.p[1] >> 5,
        .level0 = cfg.p[1] & 0x1f,
        .tier0 = cfg.p[2] >> 7,
        .mono = (cfg.p[2] >> 4) & 1,
        .ss_x = (cfg.p[2] >> 3) & 1,
        .ss_y = (cfg.p[2] >> 2) & 1,
        .csp = cfg.p[2] & 3,
    };
    unsigned high_bitdepth = (cfg.p[2] >> 6) & 1, twelve_bit = (cfg.p[2] >> 5) & 1;
    c.bitdepth = !high_bitdepth ? 8 : (c.profile == 2 && twelve_bit) ? 12 : 10;
    if (c.profile > 2)
        return PC_EINVAL;

    struct av1_seq s = { 0 };
    int r = av1_find_seq((struct span){ cfg.p + 4, cfg.len - 4 }, &s);
    if (r < 0)
        return r;

    /* AV1-ISOBMFF 5: "av01.P.LLT.DD", and with colour information (which
     * only the sequence header carries) ".M.CCC.cp.tc.mc.F". */
    sb_printf(sb, "av01.%u.%02u%c.%02u", c.profile, c.level0, c.tier0 ? 'H' : 'M',
              c.bitdepth);
    if (r == 0)
        return 0;
    /* AV1-ISOBMFF 2.3.4: the record's fields shall match the sequence
     * header; a record that disagrees with its own stream is malformed. */
    if (s.profile != c.profile || s.level0 != c.level0 || s.tier0 != c.tier0 ||
        s.bitdepth != c.bitdepth || s.mono != c.mono || s.ss_x != c.ss_x ||
        s.ss_y != c.ss_y || s.csp != c.csp)
        return PC_EINVAL;
    /* The third chroma digit is chroma_sample_position only for 4:2:0. */
    sb_printf(sb, ".%u.%u%u%u.%02u.%02u.%02u.%u", s.mono, s.ss_x, s.ss_y,
              s.ss_x && s.ss_y ? s.csp : 0, s.cp, s.tc, s.mc, s.full_range);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* VP9: VPCodecConfigurationBox (VP Codec ISO Media File Format Binding)     */

static int fmt_vp9(const char fourcc[4], struct span cfg, struct strbuf *sb)
{
    (void)fourcc;
    /* FullBox version 1: version/flags, profile, level,
     * bitDepth(4) chromaSubsampling(3) videoFullRangeFlag(1), colourPrimaries,
     * transferCharacteristics, matrixCoefficients, codecInitializationDataSize
     * (u16, then that many bytes). */
    if (cfg.len < 12 || cfg.p[0] != 1)
        return PC_EINVAL;
    unsigned profile = cfg.p[4], level = cfg.p[5];
    unsigned depth = cfg.p[6] >> 4, chroma = (cfg.p[6] >> 1) & 7, full = cfg.p[6] & 1;
    if (cfg.len - 12 < rd16(cfg.p + 10))
        return PC_EINVAL;
    if (profile > 3 || (depth != 8 && depth != 10 && depth != 12) || chroma > 3)
        return PC_EINVAL;
    sb_printf(sb, "vp09.%02u.%02u.%02u.%02u.%02u.%02u.%02u.%02u", profile, level,
              depth, chroma, cfg.p[7], cfg.p[8], cfg.p[9], full);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* MPEG-4 audio: ES_Descriptor (ISO/IEC 14496-1 7.2.6.5)                     */

/**
 * Parse the descriptor at the start of @p rest: tag byte, then a size in
 * 1-4 bytes of 7 bits each, high bit meaning "more" (14496-1 8.3.3).
 * @return 1 with @p tag/@p body set and @p rest advanced past it, 0 if
 *         @p rest is empty, PC_EINVAL if it does not hold a whole descriptor.
 */
static int desc_next(struct span *rest, uint8_t *tag, struct span *body)
{
    if (rest->len == 0)
        return 0;
    size_t off = 1;
    uint32_t size = 0;
    for (unsigned i = 0;; i++) {
        if (i == 4 || off >= rest->len)
            return PC_EINVAL;
        uint8_t byte = rest->p[off++];
        size = size << 7 | (byte & 0x7f);
        if (!(byte & 0x80))
            break;
    }
    if (size > rest->len - off)
        return PC_EINVAL;
    *tag = rest->p[0];
    body->p = rest->p + off;
    body->len = size;
    rest->p += off + size;
    rest->len -= off + size;
    return 1;
}

/** Find the first descriptor with @p tag in @p list (1 / 0 / PC_EINVAL). */
static int desc_find(struct span list, uint8_t tag, struct span *body)
{
    uint8_t t;
    int r;
    while ((r = desc_next(&list, &t, body)) > 0)
        if (t == tag)
            return 1;
    return r;
}

static int fmt_mp4a(const char fourcc[4], struct span cfg, struct strbuf *sb)
{
    (void)fourcc;
    struct span es, dcd, dsi = { NULL, 0 };
    bool have_dsi = false;

    if (cfg.len < 4 || cfg.p[0] != 0) /* esds is a FullBox, version 0 */
        return PC_EINVAL;
    if (desc_find((struct span){ cfg.p + 4, cfg.len - 4 }, 0x03, &es) <= 0)
        return PC_EINVAL; /* ES_DescrTag */

    /* ES_ID(16), streamDependenceFlag, URL_Flag, OCRstreamFlag,
     * streamPriority(5), then the optional fields those flags announce. */
    if (es.len < 3)
        return PC_EINVAL;
    uint8_t flags = es.p[2];
    size_t off = 3;
    if (flags & 0x80) /* dependsOn_ES_ID */
        off += 2;
    if (flags & 0x40) { /* URLlength, URLstring */
        if (off >= es.len)
            return PC_EINVAL;
        off += 1 + (size_t)es.p[off];
    }
    if (flags & 0x20) /* OCR_ES_Id */
        off += 2;
    if (off > es.len)
        return PC_EINVAL;
    if (desc_find((struct span){ es.p + off, es.len - off }, 0x04, &dcd) <= 0)
        return PC_EINVAL; /* DecoderConfigDescrTag */

    /* objectTypeIndication, streamType/upStream, bufferSizeDB(24),
     * maxBitrate, avgBitrate: 13 bytes, then DecoderSpecificInfo (tag 5). */
    if (dcd.len < 13)
        return PC_EINVAL;
    int r = desc_find((struct span){ dcd.p + 13, dcd.len - 13 }, 0x05, &dsi);
    if (r < 0)
        return r;
    have_dsi = r > 0;

    unsigned oti = dcd.p[0], aot = 0;
    if (have_dsi) {
        /* AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1): audioObjectType is
         * 5 bits, 31 escaping to 32 + 6 more bits.  Explicit HE-AAC reports
         * 5 (or 29) here; implicit SBR signalling reports 2, as it should. */
        struct bits b = { dsi.p, dsi.len, 0, false };
        aot = bits_get(&b, 5);
        if (aot == 31)
            aot = 32 + bits_get(&b, 6);
        if (b.err)
            return PC_EINVAL;
    }

    switch (oti) {
    case 0x40: /* ISO/IEC 14496-3 Audio */
        if (!have_dsi || aot == 0)
            return PC_EINVAL;
        break;
    case 0x66: /* ISO/IEC 13818-7 AAC Main, LC, SSR: object types 1, 2, 3 */
    case 0x67:
    case 0x68:
        if (have_dsi && aot == 0)
            return PC_EINVAL;
        if (!have_dsi)
            aot = oti - 0x65;
        break;
    case 0x69: /* ISO/IEC 13818-3 (MPEG-2 audio, e.g. MP3 below 32 kHz) */
        sb_printf(sb, "mp4a.69");
        return 0;
    case 0x6B: /* ISO/IEC 11172-3 (MPEG-1 audio, MP3) */
        sb_printf(sb, "mp4a.6B");
        return 0;
    default:
        return PC_EINVAL;
    }
    /* RFC 6381 3.3: "mp4a.40." + audio object type in decimal */
    sb_printf(sb, "mp4a.40.%u", aot);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Codecs whose string is fixed; the record is still checked for shape.      */

static int fmt_ac3(const char fourcc[4], struct span cfg, struct strbuf *sb)
{
    (void)fourcc;
    /* ETSI TS 102 366 F.4 AC3SpecificBox: 24 bits of fields */
    if (cfg.len < 3)
        return PC_EINVAL;
    sb_printf(sb, "ac-3");
    return 0;
}

static int fmt_eac3(const char fourcc[4], struct span cfg, struct strbuf *sb)
{
    (void)fourcc;
    /* ETSI TS 102 366 F.6 EC3SpecificBox: data_rate(13) num_ind_sub(3), then
     * per independent substream 23 bits of fields, num_dep_sub(4) and either
     * chan_loc(9) or one reserved bit. */
    struct bits b = { cfg.p, cfg.len, 0, false };
    bits_get(&b, 13);
    unsigned n = bits_get(&b, 3) + 1;
    for (unsigned i = 0; i < n && !b.err; i++) {
        bits_get(&b, 19);
        bits_get(&b, bits_get(&b, 4) ? 9 : 1);
    }
    if (b.err)
        return PC_EINVAL;
    sb_printf(sb, "ec-3");
    return 0;
}

static int fmt_opus(const char fourcc[4], struct span cfg, struct strbuf *sb)
{
    (void)fourcc;
    /* Opus in ISOBMFF 4.3.2 OpusSpecificBox: Version(0), OutputChannelCount,
     * PreSkip(16), InputSampleRate(32), OutputGain(16), ChannelMappingFamily,
     * and for a family other than 0: StreamCount, CoupledCount and one
     * ChannelMapping byte per output channel. */
    if (cfg.len < 11 || cfg.p[0] != 0 || cfg.p[1] == 0)
        return PC_EINVAL;
    if (cfg.p[10] != 0 && cfg.len < 13 + (size_t)cfg.p[1])
        return PC_EINVAL;
    sb_printf(sb, "opus");
    return 0;
}

static int fmt_flac(const char fourcc[4], struct span cfg, struct strbuf *sb)
{
    (void)fourcc;
    /* FLAC in ISOBMFF 3.3.2 dfLa: FullBox version 0, then metadata blocks of
     * which the first is STREAMINFO (type 0, 34 bytes). */
    if (cfg.len < 4 + 4 + 34 || cfg.p[0] != 0)
        return PC_EINVAL;
    if ((cfg.p[4] & 0x7f) != 0 || (rd32(cfg.p + 4) & 0xffffff) != 34)
        return PC_EINVAL;
    sb_printf(sb, "fLaC");
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Sample entries                                                            */

enum entry_kind { VISUAL, AUDIO };

struct codec {
    char fourcc[4];
    uint32_t config; /* type of the configuration box */
    enum entry_kind kind;
    int (*fmt)(const char fourcc[4], struct span cfg, struct strbuf *sb);
};

static const struct codec codecs[] = {
    { "avc1", FOURCC('a', 'v', 'c', 'C'), VISUAL, fmt_avc },
    { "avc3", FOURCC('a', 'v', 'c', 'C'), VISUAL, fmt_avc },
    { "hvc1", FOURCC('h', 'v', 'c', 'C'), VISUAL, fmt_hevc },
    { "hev1", FOURCC('h', 'v', 'c', 'C'), VISUAL, fmt_hevc },
    { "av01", FOURCC('a', 'v', '1', 'C'), VISUAL, fmt_av1 },
    { "vp09", FOURCC('v', 'p', 'c', 'C'), VISUAL, fmt_vp9 },
    { "mp4a", FOURCC('e', 's', 'd', 's'), AUDIO, fmt_mp4a },
    { "ac-3", FOURCC('d', 'a', 'c', '3'), AUDIO, fmt_ac3 },
    { "ec-3", FOURCC('d', 'e', 'c', '3'), AUDIO, fmt_eac3 },
    { "Opus", FOURCC('d', 'O', 'p', 's'), AUDIO, fmt_opus },
    { "fLaC", FOURCC('d', 'f', 'L', 'a'), AUDIO, fmt_flac },
};

static const struct codec *codec_lookup(const char fourcc[4])
{
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++)
        if (memcmp(codecs[i].fourcc, fourcc, 4) == 0)
            return &codecs[i];
    return NULL;
}

/** Copy the finished string out, or say why not. */
static int finish(int r, const struct strbuf *sb, char *out, size_t cap)
{
    if (cap > 0)
        out[0] = '\0';
    if (r < 0)
        return r;
    if (sb->overflow)
        return PC_EINVAL; /* cannot happen for the formats above */
    if (sb->n >= cap)
        return PC_ETOOBIG;
    memcpy(out, sb->s, sb->n + 1);
    return 0;
}

int pc_codecs_from_config(const char fourcc[4], const uint8_t *cfg, size_t len,
                          char *out, size_t cap)
{
    struct strbuf sb = { .n = 0 };
    if (!out || !fourcc || (!cfg && len))
        return PC_EINVAL;
    const struct codec *c = codec_lookup(fourcc);
    int r = c ? c->fmt(fourcc, (struct span){ cfg, len }, &sb) : PC_EINVAL;
    return finish(r, &sb, out, cap);
}

/**
 * Locate the configuration box inside sample entry @p entry.
 * @param stsd_version  version of the enclosing stsd, which decides what an
 *        audio entry_version of 1 means
 */
static int entry_config(const struct codec *c, struct span entry,
                        unsigned stsd_version, struct span *cfg)
{
    /* ISO/IEC 14496-12 12.1.3 VisualSampleEntry: 8 bytes of SampleEntry,
     * then 70 bytes up to and including pre_defined = -1. */
    size_t fields = 78;
    if (c->kind == AUDIO) {
        /* 12.2.3 AudioSampleEntry: 8 + 20 bytes.  The first reserved u16
         * after data_reference_index is QuickTime's sound version: version 1
         * adds four u32 (samplesPerPacket, bytesPerPacket, bytesPerFrame,
         * bytesPerSample), version 2 a 36-byte block (QTFF "Sound Sample
         * Description Version 2").  In an ISO stsd of version 1, entry
         * version 1 is AudioSampleEntryV1, which has the 28-byte layout. */
        if (entry.len < 28)
            return PC_EINVAL;
        unsigned version = rd16(entry.p + 8);
        fields = 28;
        if (version == 1 && stsd_version == 0)
            fields += 16;
        else if (version == 2)
            fields += 36;
        else if (version > 2)
            return PC_EINVAL;
    }
    if (entry.len < fields)
        return PC_EINVAL;
    struct span children = { entry.p + fields, entry.len - fields };

    int r = box_find(children, c->config, cfg);
    if (r == 0 && c->kind == AUDIO) {
        /* QuickTime sound entries (versions 1, 2) nest the codec's atoms in
         * a 'wave' atom: frma, the codec atom, esds, a terminator. */
        struct span wave;
        r = box_find(children, FOURCC('w', 'a', 'v', 'e'), &wave);
        if (r > 0)
            r = box_find(wave, c->config, cfg);
    }
    return r > 0 ? 0 : PC_EINVAL; /* the configuration box is mandatory */
}

/**
 * Walk one trak to its stsd.
 * @return 1 with @p stsd set, 0 if this trak has no stsd, PC_EINVAL.
 */
static int trak_stsd(struct span trak, struct span *stsd)
{
    static const uint32_t path[] = {
        FOURCC('m', 'd', 'i', 'a'), FOURCC('m', 'i', 'n', 'f'),
        FOURCC('s', 't', 'b', 'l'), FOURCC('s', 't', 's', 'd'),
    };
    struct span cur = trak;
    for (size_t i = 0; i < sizeof path / sizeof path[0]; i++) {
        int r = box_find(cur, path[i], &cur);
        if (r <= 0)
            return r;
    }
    *stsd = cur;
    return 1;
}

int pc_codecs_from_init(const uint8_t *init, size_t len, char *out, size_t cap)
{
    struct strbuf sb = { .n = 0 };
    struct span moov, stsd = { NULL, 0 }, cfg;
    struct box b;
    int r;

    if (!out || (!init && len))
        return PC_EINVAL;
    if (cap > 0)
        out[0] = '\0';

    /* ftyp (and anything else) before moov is skipped but must be whole.
     * The walk stops at moov: what follows (moof, mdat) may legitimately
     * be cut off when a caller hands in the head of a file. */
    struct box_iter top = { { init, len }, 0 };
    do {
        if (box_next(&top, &b) <= 0)
            return PC_EINVAL;
    } while (b.type != FOURCC('m', 'o', 'o', 'v'));
    moov = b.body;

    /* The first trak that reaches an stsd describes the stream; the rest of
     * moov must still be well framed. */
    struct box_iter it = { moov, 0 };
    bool found = false;
    while ((r = box_next(&it, &b)) > 0) {
        if (found || b.type != FOURCC('t', 'r', 'a', 'k'))
            continue;
        r = trak_stsd(b.body, &stsd);
        if (r < 0)
            return r;
        found = r > 0;
    }
    if (r < 0 || !found)
        return PC_EINVAL;

    /* stsd is a FullBox: version/flags, entry_count, then the entries. */
    if (stsd.len < 8 || rd32(stsd.p + 4) == 0)
        return PC_EINVAL;
    struct box_iter entries = { { stsd.p + 8, stsd.len - 8 }, 0 };
    struct box rest;
    if (box_next(&entries, &b) <= 0)
        return PC_EINVAL;
    while ((r = box_next(&entries, &rest)) > 0)
        ;
    if (r < 0)
        return r;

    char fourcc[4] = { (char)(b.type >> 24), (char)(b.type >> 16),
                       (char)(b.type >> 8), (char)b.type };
    const struct codec *c = codec_lookup(fourcc);
    if (!c)
        return PC_EINVAL;
    r = entry_config(c, b.body, stsd.p[0], &cfg);
    if (r == 0)
        r = c->fmt(fourcc, cfg, &sb);
    return finish(r, &sb, out, cap);
}
