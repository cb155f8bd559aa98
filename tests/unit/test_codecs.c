/*
 * Unit tests for packager/codecs.c: RFC 6381 codec strings from init
 * segments and configuration records.
 *
 * Three kinds of input: hand-made configuration records whose expected
 * strings were worked out from the specs; init segments built here box by
 * box to exercise the box walk and its failure paths; and real ffmpeg init
 * segments under tests/fixtures/codecs (see README.md there for where each
 * expected string comes from).  Fixtures are found through PC_SOURCE_ROOT,
 * else ../tests/fixtures or tests/fixtures relative to the working directory.
 *
 * Every buffer handed to the parser is a heap copy of exactly the length
 * passed, so a read past the end shows up under AddressSanitizer.
 */
#include "pagecast/codecs.h"
#include "pagecast/status.h"

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

/** Run from_config on an exact-size heap copy. */
static int from_config(const char *fourcc, const uint8_t *cfg, size_t len, char *out,
                       size_t cap)
{
    uint8_t *copy = malloc(len ? len : 1);
    cr_assert_not_null(copy);
    memcpy(copy, cfg, len);
    int r = pc_codecs_from_config(fourcc, len ? copy : NULL, len, out, cap);
    free(copy);
    return r;
}

/** Run from_init on an exact-size heap copy. */
static int from_init(const uint8_t *init, size_t len, char *out, size_t cap)
{
    uint8_t *copy = malloc(len ? len : 1);
    cr_assert_not_null(copy);
    memcpy(copy, init, len);
    int r = pc_codecs_from_init(len ? copy : NULL, len, out, cap);
    free(copy);
    return r;
}

static void expect_config(const char *fourcc, const uint8_t *cfg, size_t len,
                          const char *want)
{
    char out[128];
    int r = from_config(fourcc, cfg, len, out, sizeof out);
    cr_assert_eq(r, 0, "%.4s config: status %d (%s)", fourcc, r, pc_status_str(r));
    cr_assert_str_eq(out, want);
}

static void expect_config_invalid(const char *fourcc, const uint8_t *cfg, size_t len)
{
    char out[128];
    int r = from_config(fourcc, cfg, len, out, sizeof out);
    cr_assert_eq(r, PC_EINVAL, "%.4s config of %zu bytes: status %d, out \"%s\"",
                 fourcc, len, r, out);
}

/* Byte writer with a stack of open boxes. */
struct wbuf {
    uint8_t d[4096];
    size_t n;
    size_t open[16];
    int depth;
};

static void w8(struct wbuf *w, unsigned v)
{
    cr_assert_lt(w->n, sizeof w->d);
    w->d[w->n++] = (uint8_t)v;
}
static void w16(struct wbuf *w, unsigned v) { w8(w, v >> 8); w8(w, v); }
static void w32(struct wbuf *w, uint32_t v) { w16(w, v >> 16); w16(w, v & 0xffff); }
static void wbytes(struct wbuf *w, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        w8(w, ((const uint8_t *)p)[i]);
}
static void wzero(struct wbuf *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        w8(w, 0);
}
static void box_open(struct wbuf *w, const char *type)
{
    w->open[w->depth++] = w->n;
    w32(w, 0);
    wbytes(w, type, 4);
}
static void box_close(struct wbuf *w)
{
    size_t at = w->open[--w->depth], size = w->n - at;
    w->d[at] = (uint8_t)(size >> 24);
    w->d[at + 1] = (uint8_t)(size >> 16);
    w->d[at + 2] = (uint8_t)(size >> 8);
    w->d[at + 3] = (uint8_t)size;
}
/** A box with @p n zero bytes of body. */
static void box_leaf(struct wbuf *w, const char *type, size_t n)
{
    box_open(w, type);
    wzero(w, n);
    box_close(w);
}

/* MSB-first bit writer for AV1 sequence headers and ASCs. */
struct bw {
    uint8_t d[64];
    size_t bit;
};
static void put(struct bw *b, unsigned n, uint32_t v)
{
    for (unsigned i = n; i-- > 0;) {
        cr_assert_lt(b->bit / 8, sizeof b->d);
        if ((v >> i) & 1)
            b->d[b->bit / 8] |= (uint8_t)(0x80 >> (b->bit % 8));
        b->bit++;
    }
}
/** trailing_bits(): a one, then zeros to the byte boundary; @return bytes */
static size_t put_trailing(struct bw *b)
{
    put(b, 1, 1);
    while (b->bit % 8)
        put(b, 1, 0);
    return b->bit / 8;
}

enum entry_kind { VISUAL, AUDIO };

struct init_opts {
    const char *entry;     /* sample entry fourcc */
    enum entry_kind kind;
    unsigned audio_version; /* AudioSampleEntry sound version */
    const char *cfg_type;  /* NULL: no configuration box */
    const uint8_t *cfg;
    size_t cfg_len;
    bool empty_first_trak; /* a trak without stsd before the real one */
};

/**
 * A plausible fMP4 init segment: ftyp, moov { mvhd, trak { tkhd, mdia { mdhd,
 * hdlr, minf { vmhd, dinf, stbl { stsd { entry { fields, cfg, btrt } },
 * stts } } } }, mvex }, so the walk has siblings to skip at every level.
 */
static void make_init(struct wbuf *w, const struct init_opts *o)
{
    memset(w, 0, sizeof *w);
    box_open(w, "ftyp");
    wbytes(w, "iso5", 4);
    w32(w, 512);
    wbytes(w, "iso5iso6mp41", 12);
    box_close(w);
    box_open(w, "moov");
    box_leaf(w, "mvhd", 100);
    if (o->empty_first_trak) {
        box_open(w, "trak");
        box_leaf(w, "tkhd", 84);
        box_close(w);
    }
    box_open(w, "trak");
    box_leaf(w, "tkhd", 84);
    box_open(w, "mdia");
    box_leaf(w, "mdhd", 24);
    box_leaf(w, "hdlr", 25);
    box_open(w, "minf");
    box_leaf(w, "vmhd", 12);
    box_leaf(w, "dinf", 28);
    box_open(w, "stbl");
    box_open(w, "stsd");
    w32(w, 0); /* version, flags */
    w32(w, 1); /* entry_count */
    box_open(w, o->entry);
    wzero(w, 6);
    w16(w, 1); /* data_reference_index */
    if (o->kind == VISUAL) {
        wzero(w, 16);
        w16(w, 320);
        w16(w, 240);
        w32(w, 0x00480000);
        w32(w, 0x00480000);
        w32(w, 0);
        w16(w, 1);
        wzero(w, 32);
        w16(w, 0x0018);
        w16(w, 0xffff);
    } else {
        w16(w, o->audio_version);
        wzero(w, 6);
        w16(w, 2);  /* channelcount */
        w16(w, 16); /* samplesize */
        w32(w, 0);
        w32(w, 48000u << 16);
        if (o->audio_version == 1)
            wzero(w, 16);
        else if (o->audio_version == 2)
            wzero(w, 36);
    }
    if (o->cfg_type) {
        box_open(w, o->cfg_type);
        wbytes(w, o->cfg, o->cfg_len);
        box_close(w);
    }
    box_leaf(w, "btrt", 12);
    box_close(w); /* entry */
    box_close(w); /* stsd */
    box_leaf(w, "stts", 8);
    box_close(w); /* stbl */
    box_close(w); /* minf */
    box_close(w); /* mdia */
    box_close(w); /* trak */
    box_open(w, "mvex");
    box_leaf(w, "trex", 24);
    box_close(w);
    box_close(w); /* moov */
    cr_assert_eq(w->depth, 0);
}

/* avcC: version 1, High (100), compat 0, level 3.1, one SPS, one PPS. */
static const uint8_t avcc_high_l31[] = {
    0x01, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0x00, 0x04, 0x67, 0x64, 0x00, 0x1f,
    0x01, 0x00, 0x02, 0x68, 0xeb,
};

static const struct init_opts avc_init = {
    "avc1", VISUAL, 0, "avcC", avcc_high_l31, sizeof avcc_high_l31, false,
};

/** Locate and read a fixture; fails the test if it cannot be found. */
static uint8_t *load_fixture(const char *name, size_t *len)
{
    const char *root = getenv("PC_SOURCE_ROOT");
    char path[4096];
    const char *dirs[] = { root, "..", "." };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (!dirs[i])
            continue;
        snprintf(path, sizeof path, "%s/tests/fixtures/codecs/%s", dirs[i], name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        uint8_t *buf = malloc(1 << 16);
        cr_assert_not_null(buf);
        *len = fread(buf, 1, 1 << 16, f);
        cr_assert(feof(f), "%s: larger than expected", path);
        fclose(f);
        cr_assert_gt(*len, 0);
        return buf;
    }
    cr_assert_fail("fixture %s not found (set PC_SOURCE_ROOT to the source tree)", name);
    return NULL;
}

/** Every proper prefix of @p init must be rejected, the whole accepted. */
static void expect_prefixes_rejected(const uint8_t *init, size_t len, const char *want)
{
    char out[128];
    for (size_t n = 0; n < len; n++) {
        int r = from_init(init, n, out, sizeof out);
        cr_assert_lt(r, 0, "prefix of %zu/%zu bytes accepted as \"%s\"", n, len, out);
    }
    cr_assert_eq(from_init(init, len, out, sizeof out), 0);
    cr_assert_str_eq(out, want);
}

/* ------------------------------------------------------------------------ */
/* H.264                                                                     */

Test(codecs, avc_high_level_31)
{
    expect_config("avc1", avcc_high_l31, sizeof avcc_high_l31, "avc1.64001f");
}

Test(codecs, avc_constrained_baseline)
{
    const uint8_t cfg[] = { 0x01, 0x42, 0xc0, 0x1e, 0xff, 0xe0, 0x00 };
    expect_config("avc1", cfg, sizeof cfg, "avc1.42c01e");
}

Test(codecs, avc3_keeps_its_sample_entry_name)
{
    /* Main (77), constraint_set1 (0x40), level 4.0; no in-record SPS/PPS,
     * as avc3 allows. */
    const uint8_t cfg[] = { 0x01, 0x4d, 0x40, 0x28, 0xff, 0xe0, 0x00 };
    expect_config("avc3", cfg, sizeof cfg, "avc3.4d4028");
}

Test(codecs, avc_rejects_bad_records)
{
    uint8_t cfg[sizeof avcc_high_l31];
    memcpy(cfg, avcc_high_l31, sizeof cfg);
    cfg[0] = 0; /* configurationVersion */
    expect_config_invalid("avc1", cfg, sizeof cfg);
    /* every truncation cuts into the SPS/PPS arrays */
    for (size_t n = 0; n < sizeof avcc_high_l31; n++)
        expect_config_invalid("avc1", avcc_high_l31, n);
}

/* ------------------------------------------------------------------------ */
/* H.265                                                                     */

/** hvcC with the given profile byte, compatibility flags, constraint bytes and
 *  level, and one array holding one 2-byte VPS. */
static size_t make_hvcc(uint8_t *o, uint8_t ptl, uint32_t compat, const uint8_t con[6],
                        uint8_t level)
{
    size_t n = 0;
    o[n++] = 1;
    o[n++] = ptl;
    o[n++] = (uint8_t)(compat >> 24);
    o[n++] = (uint8_t)(compat >> 16);
    o[n++] = (uint8_t)(compat >> 8);
    o[n++] = (uint8_t)compat;
    memcpy(o + n, con, 6);
    n += 6;
    o[n++] = level;
    const uint8_t rest[] = { 0xf0, 0x00, 0xfc, 0xfd, 0xf8, 0xf8, 0x00, 0x00, 0x0f,
                             0x01,                         /* numOfArrays */
                             0x20, 0x00, 0x01, 0x00, 0x02, /* VPS x1, 2 bytes */
                             0x40, 0x01 };
    memcpy(o + n, rest, sizeof rest);
    return n + sizeof rest;
}

Test(codecs, hevc_main)
{
    /* Main: profile_idc 1, compatibility flags 1 and 2 (0x60000000, reversed
     * 0x6), progressive + non-packed + frame-only (0xB0), level 3.1 (93). */
    const uint8_t con[6] = { 0xb0 };
    uint8_t cfg[64];
    size_t n = make_hvcc(cfg, 0x01, 0x60000000, con, 93);
    expect_config("hvc1", cfg, n, "hvc1.1.6.L93.B0");
}

Test(codecs, hevc_main10)
{
    /* Main 10: profile_idc 2, compatibility flag 2 (0x20000000 -> 0x4),
     * level 4.0 (120). */
    const uint8_t con[6] = { 0xb0 };
    uint8_t cfg[64];
    size_t n = make_hvcc(cfg, 0x02, 0x20000000, con, 120);
    expect_config("hvc1", cfg, n, "hvc1.2.4.L120.B0");
}

Test(codecs, hevc_profile_space_high_tier_and_inner_zero_bytes)
{
    /* profile_space 1 ("A"), high tier, profile_idc 4 (0x64); compatibility
     * flag 4 (0x08000000 -> 0x10); level 5.1 (153); constraint bytes keep
     * their inner zeros, only trailing ones are dropped. */
    const uint8_t con[6] = { 0x98, 0x00, 0x00, 0x00, 0x23, 0x00 };
    uint8_t cfg[64];
    size_t n = make_hvcc(cfg, 0x64, 0x08000000, con, 153);
    expect_config("hev1", cfg, n, "hev1.A4.10.H153.98.00.00.00.23");
}

Test(codecs, hevc_all_zero_constraints_are_omitted)
{
    const uint8_t con[6] = { 0 };
    uint8_t cfg[64];
    size_t n = make_hvcc(cfg, 0x01, 0x60000000, con, 93);
    expect_config("hvc1", cfg, n, "hvc1.1.6.L93");
}

Test(codecs, hevc_rejects_truncated_and_bad_version)
{
    const uint8_t con[6] = { 0xb0 };
    uint8_t cfg[64];
    size_t len = make_hvcc(cfg, 0x01, 0x60000000, con, 93);
    for (size_t n = 0; n < len; n++)
        expect_config_invalid("hvc1", cfg, n);
    cfg[0] = 2;
    expect_config_invalid("hvc1", cfg, len);
}

/* ------------------------------------------------------------------------ */
/* AV1                                                                       */

Test(codecs, av1_short_form_without_sequence_header)
{
    /* profile 0, level 8 (4.0), main tier, 8 bit, 4:2:0 */
    const uint8_t a[] = { 0x81, 0x08, 0x0c, 0x00 };
    expect_config("av01", a, sizeof a, "av01.0.08M.08");
    /* profile 2, level 13, high tier, high_bitdepth + twelve_bit */
    const uint8_t b[] = { 0x81, 0x4d, 0xec, 0x00 };
    expect_config("av01", b, sizeof b, "av01.2.13H.12");
}

Test(codecs, av1_rejects_bad_marker_and_short_record)
{
    const uint8_t bad[] = { 0x01, 0x08, 0x0c, 0x00 };
    expect_config_invalid("av01", bad, sizeof bad);
    const uint8_t ok[] = { 0x81, 0x08, 0x0c, 0x00 };
    for (size_t n = 0; n < sizeof ok; n++)
        expect_config_invalid("av01", ok, n);
}

/** Sequence header: profile 0, level 4, 10 bit 4:2:0, BT.2020 / PQ /
 *  BT.2020 NCL, limited range, chroma_sample_position 2 (colocated).
 *  @p color_end receives the bit just after color_config(). */
static size_t seq_hdr_10bit_pq(struct bw *b, size_t *color_end)
{
    memset(b, 0, sizeof *b);
    put(b, 3, 0);    /* seq_profile */
    put(b, 1, 0);    /* still_picture */
    put(b, 1, 0);    /* reduced_still_picture_header */
    put(b, 1, 0);    /* timing_info_present_flag */
    put(b, 1, 0);    /* initial_display_delay_present_flag */
    put(b, 5, 0);    /* operating_points_cnt_minus_1 */
    put(b, 12, 0);   /* operating_point_idc[0] */
    put(b, 5, 4);    /* seq_level_idx[0] (<= 7: no tier bit) */
    put(b, 4, 8);    /* frame_width_bits_minus_1 */
    put(b, 4, 7);    /* frame_height_bits_minus_1 */
    put(b, 9, 319);  /* max_frame_width_minus_1 */
    put(b, 8, 239);  /* max_frame_height_minus_1 */
    put(b, 1, 0);    /* frame_id_numbers_present_flag */
    put(b, 3, 3);    /* 128x128 sb = 0, filter_intra = 1, intra_edge = 1 */
    put(b, 4, 0);    /* interintra, masked, warped, dual_filter */
    put(b, 1, 1);    /* enable_order_hint */
    put(b, 2, 3);    /* enable_jnt_comp, enable_ref_frame_mvs */
    put(b, 1, 1);    /* seq_choose_screen_content_tools */
    put(b, 1, 1);    /* seq_choose_integer_mv */
    put(b, 3, 6);    /* order_hint_bits_minus_1 */
    put(b, 3, 3);    /* superres 0, cdef 1, restoration 1 */
    put(b, 1, 1);    /* high_bitdepth */
    put(b, 1, 0);    /* mono_chrome */
    put(b, 1, 1);    /* color_description_present_flag */
    put(b, 8, 9);    /* color_primaries: BT.2020 */
    put(b, 8, 16);   /* transfer_characteristics: PQ */
    put(b, 8, 9);    /* matrix_coefficients: BT.2020 NCL */
    put(b, 1, 0);    /* color_range */
    put(b, 2, 2);    /* chroma_sample_position: colocated */
    put(b, 1, 0);    /* separate_uv_delta_q */
    *color_end = b->bit;
    put(b, 1, 0);    /* film_grain_params_present */
    return put_trailing(b);
}

/** av1C header + one sequence header OBU with a 2-byte (non-minimal)
 *  leb128 obu_size. */
static size_t av1c_with_seq(uint8_t *o, uint8_t b1, uint8_t b2, const struct bw *seq,
                            size_t seq_len)
{
    size_t n = 0;
    o[n++] = 0x81;
    o[n++] = b1;
    o[n++] = b2;
    o[n++] = 0x00;
    o[n++] = 0x0a; /* obu_type 1, obu_has_size_field */
    o[n++] = (uint8_t)(0x80 | (seq_len & 0x7f));
    o[n++] = (uint8_t)(seq_len >> 7);
    memcpy(o + n, seq->d, seq_len);
    return n + seq_len;
}

Test(codecs, av1_full_form_from_sequence_header)
{
    /* The example of AV1-ISOBMFF's codecs section, built bit by bit. */
    struct bw seq;
    size_t color_end, len = seq_hdr_10bit_pq(&seq, &color_end);
    uint8_t cfg[96];
    /* av1C: profile 0 level 4; tier 0, high_bitdepth, 4:2:0, csp 2 */
    size_t n = av1c_with_seq(cfg, 0x04, 0x4e, &seq, len);
    expect_config("av01", cfg, n, "av01.0.04M.10.0.112.09.16.09.0");
}

Test(codecs, av1_rejects_record_disagreeing_with_sequence_header)
{
    struct bw seq;
    size_t color_end, len = seq_hdr_10bit_pq(&seq, &color_end);
    uint8_t cfg[96];
    expect_config_invalid("av01", cfg, av1c_with_seq(cfg, 0x05, 0x4e, &seq, len));
    expect_config_invalid("av01", cfg, av1c_with_seq(cfg, 0x04, 0x0e, &seq, len));
}

Test(codecs, av1_rejects_truncated_sequence_header)
{
    struct bw seq;
    size_t color_end, len = seq_hdr_10bit_pq(&seq, &color_end);
    uint8_t cfg[96];
    /* obu_size consistent with the shortened payload: the sequence header
     * itself runs out before color_config() ends. */
    for (size_t k = 0; k * 8 < color_end; k++)
        expect_config_invalid("av01", cfg, av1c_with_seq(cfg, 0x04, 0x4e, &seq, k));
    /* obu_size claiming more than the record holds */
    size_t n = av1c_with_seq(cfg, 0x04, 0x4e, &seq, len);
    expect_config_invalid("av01", cfg, n - 1);
}

Test(codecs, av1_mono_high_tier_with_timing_and_decoder_model)
{
    /* A metadata OBU first, then a sequence header with an extension byte
     * and no obu_size (it runs to the end of the record). */
    struct bw b;
    memset(&b, 0, sizeof b);
    put(&b, 3, 0);        /* seq_profile */
    put(&b, 1, 0);        /* still_picture */
    put(&b, 1, 0);        /* reduced_still_picture_header */
    put(&b, 1, 1);        /* timing_info_present_flag */
    put(&b, 32, 1001);    /* num_units_in_display_tick */
    put(&b, 32, 60000);   /* time_scale */
    put(&b, 1, 1);        /* equal_picture_interval */
    put(&b, 5, 0x05);     /* uvlc 00101: num_ticks_per_picture_minus_1 = 4 */
    put(&b, 1, 1);        /* decoder_model_info_present_flag */
    put(&b, 5, 9);        /* buffer_delay_length_minus_1 */
    put(&b, 32, 1001);    /* num_units_in_decoding_tick */
    put(&b, 5, 31);       /* buffer_removal_time_length_minus_1 */
    put(&b, 5, 31);       /* frame_presentation_time_length_minus_1 */
    put(&b, 1, 1);        /* initial_display_delay_present_flag */
    put(&b, 5, 1);        /* operating_points_cnt_minus_1: two points */
    put(&b, 12, 0x103);   /* operating_point_idc[0] */
    put(&b, 5, 9);        /* seq_level_idx[0] = 9 (4.1) */
    put(&b, 1, 1);        /* seq_tier[0]: high */
    put(&b, 1, 1);        /* decoder_model_present_for_this_op[0] */
    put(&b, 10, 500);     /* decoder_buffer_delay */
    put(&b, 10, 300);     /* encoder_buffer_delay */
    put(&b, 1, 0);        /* low_delay_mode_flag */
    put(&b, 1, 1);        /* initial_display_delay_present_for_this_op[0] */
    put(&b, 4, 9);        /* initial_display_delay_minus_1[0] */
    put(&b, 12, 0x101);   /* operating_point_idc[1] */
    put(&b, 5, 3);        /* seq_level_idx[1] */
    put(&b, 1, 0);        /* decoder_model_present_for_this_op[1] */
    put(&b, 1, 0);        /* initial_display_delay_present_for_this_op[1] */
    put(&b, 4, 15);       /* frame_width_bits_minus_1 */
    put(&b, 4, 15);       /* frame_height_bits_minus_1 */
    put(&b, 16, 1919);    /* max_frame_width_minus_1 */
    put(&b, 16, 1079);    /* max_frame_height_minus_1 */
    put(&b, 1, 1);        /* frame_id_numbers_present_flag */
    put(&b, 4, 12);       /* delta_frame_id_length_minus_2 */
    put(&b, 3, 2);        /* additional_frame_id_length_minus_1 */
    put(&b, 3, 4);        /* 128x128 sb = 1, filter_intra 0, intra_edge 0 */
    put(&b, 4, 0);        /* interintra, masked, warped, dual_filter */
    put(&b, 1, 0);        /* enable_order_hint */
    put(&b, 1, 0);        /* seq_choose_screen_content_tools */
    put(&b, 1, 0);        /* seq_force_screen_content_tools: no integer mv bits */
    put(&b, 3, 0);        /* superres, cdef, restoration */
    put(&b, 1, 0);        /* high_bitdepth */
    put(&b, 1, 1);        /* mono_chrome */
    put(&b, 1, 0);        /* color_description_present_flag: unspecified */
    put(&b, 1, 1);        /* color_range: full */
    put(&b, 1, 0);        /* film_grain_params_present */
    size_t len = put_trailing(&b);

    uint8_t cfg[128];
    size_t n = 0;
    cfg[n++] = 0x81;
    cfg[n++] = 0x09; /* profile 0, level 9 */
    cfg[n++] = 0x9c; /* high tier, 8 bit, mono, 4:2:0, csp 0 */
    cfg[n++] = 0x00;
    cfg[n++] = 0x2a; /* OBU_METADATA with obu_size */
    cfg[n++] = 0x02;
    cfg[n++] = 0x01;
    cfg[n++] = 0x00;
    cfg[n++] = 0x0c; /* OBU_SEQUENCE_HEADER, extension, no obu_size */
    cfg[n++] = 0x00; /* temporal_id, spatial_id */
    memcpy(cfg + n, b.d, len);
    n += len;
    expect_config("av01", cfg, n, "av01.0.09H.08.1.110.02.02.02.1");
}

Test(codecs, av1_srgb_444_from_reduced_still_picture_header)
{
    struct bw b;
    memset(&b, 0, sizeof b);
    put(&b, 3, 1);  /* seq_profile 1 (4:4:4) */
    put(&b, 1, 1);  /* still_picture */
    put(&b, 1, 1);  /* reduced_still_picture_header */
    put(&b, 5, 8);  /* seq_level_idx[0]; tier implied 0 */
    put(&b, 4, 7);  /* frame_width_bits_minus_1 */
    put(&b, 4, 7);  /* frame_height_bits_minus_1 */
    put(&b, 8, 63); /* max_frame_width_minus_1 */
    put(&b, 8, 63); /* max_frame_height_minus_1 */
    put(&b, 3, 0);  /* 128x128 sb, filter_intra, intra_edge */
    put(&b, 3, 0);  /* superres, cdef, restoration */
    put(&b, 1, 0);  /* high_bitdepth; profile 1 has no mono_chrome bit */
    put(&b, 1, 1);  /* color_description_present_flag */
    put(&b, 8, 1);  /* BT.709 primaries */
    put(&b, 8, 13); /* sRGB transfer */
    put(&b, 8, 0);  /* identity matrix: no range/subsampling bits follow */
    put(&b, 1, 0);  /* separate_uv_delta_q */
    put(&b, 1, 0);  /* film_grain_params_present */
    size_t len = put_trailing(&b);
    uint8_t cfg[96];
    /* av1C: profile 1, level 8; 8 bit, 4:4:4 */
    size_t n = av1c_with_seq(cfg, 0x28, 0x00, &b, len);
    expect_config("av01", cfg, n, "av01.1.08M.08.0.000.01.13.00.1");
}

/* ------------------------------------------------------------------------ */
/* VP9                                                                       */

Test(codecs, vp9_profile0_and_profile2)
{
    /* version 1; profile 0, level 3.1, 8 bit, 4:2:0 colocated, limited,
     * BT.709 x3, no init data */
    const uint8_t p0[] = { 0x01, 0, 0, 0, 0x00, 31, 0x82, 1, 1, 1, 0x00, 0x00 };
    expect_config("vp09", p0, sizeof p0, "vp09.00.31.08.01.01.01.01.00");
    /* profile 2, level 4, 10 bit, 4:2:0 vertical, full range, BT.2020/PQ */
    const uint8_t p2[] = { 0x01, 0, 0, 0, 0x02, 40, 0xa1, 9, 16, 9, 0x00, 0x00 };
    expect_config("vp09", p2, sizeof p2, "vp09.02.40.10.00.09.16.09.01");
}

Test(codecs, vp9_rejects_malformed)
{
    const uint8_t ok[] = { 0x01, 0, 0, 0, 0x00, 31, 0x82, 1, 1, 1, 0x00, 0x00 };
    for (size_t n = 0; n < sizeof ok; n++)
        expect_config_invalid("vp09", ok, n);
    uint8_t v[sizeof ok];
    memcpy(v, ok, sizeof v);
    v[0] = 0; /* version 0 has another layout */
    expect_config_invalid("vp09", v, sizeof v);
    memcpy(v, ok, sizeof v);
    v[11] = 1; /* codecInitializationDataSize past the end */
    expect_config_invalid("vp09", v, sizeof v);
    memcpy(v, ok, sizeof v);
    v[6] = 0x92; /* bitDepth 9 */
    expect_config_invalid("vp09", v, sizeof v);
}

/* ------------------------------------------------------------------------ */
/* MPEG-4 audio (esds)                                                       */

static size_t put_desc(uint8_t *o, uint8_t tag, const uint8_t *body, size_t len,
                       bool long_size)
{
    size_t n = 0;
    o[n++] = tag;
    if (long_size) { /* 4-byte expandable size, as ffmpeg writes */
        o[n++] = (uint8_t)(0x80 | ((len >> 21) & 0x7f));
        o[n++] = (uint8_t)(0x80 | ((len >> 14) & 0x7f));
        o[n++] = (uint8_t)(0x80 | ((len >> 7) & 0x7f));
    }
    o[n++] = (uint8_t)(len & 0x7f);
    memcpy(o + n, body, len);
    return n + len;
}

/** esds body: version/flags, ES_Descriptor { DecoderConfigDescriptor {
 *  [DecoderSpecificInfo] }, SLConfigDescriptor }. */
static size_t make_esds(uint8_t *o, uint8_t oti, const uint8_t *asc, size_t asc_len,
                        bool long_size)
{
    uint8_t dcd[64], es[128];
    size_t nd = 0, ne = 0;
    const uint8_t dcd_fixed[13] = { oti, 0x15, 0, 0x18, 0, 0, 1, 0xf4, 0, 0, 1, 0xf4, 0 };
    memcpy(dcd, dcd_fixed, 13);
    nd = 13;
    if (asc)
        nd += put_desc(dcd + nd, 0x05, asc, asc_len, long_size);
    es[ne++] = 0x00; /* ES_ID */
    es[ne++] = 0x01;
    es[ne++] = 0x00; /* no optional fields */
    ne += put_desc(es + ne, 0x04, dcd, nd, long_size);
    const uint8_t sl = 0x02;
    ne += put_desc(es + ne, 0x06, &sl, 1, long_size);
    memset(o, 0, 4);
    return 4 + put_desc(o + 4, 0x03, es, ne, long_size);
}

Test(codecs, aac_lc)
{
    const uint8_t asc[] = { 0x12, 0x10 }; /* AOT 2, 44.1 kHz, stereo */
    uint8_t cfg[128];
    expect_config("mp4a", cfg, make_esds(cfg, 0x40, asc, 2, false), "mp4a.40.2");
    expect_config("mp4a", cfg, make_esds(cfg, 0x40, asc, 2, true), "mp4a.40.2");
}

Test(codecs, he_aac_explicit_and_ps)
{
    /* AOT 5 (SBR), 24 kHz, stereo, extension 48 kHz, core AOT 2:
     * 00101 0110 0010 0011 00010 000 */
    const uint8_t sbr[] = { 0x2b, 0x11, 0x88 };
    uint8_t cfg[128];
    expect_config("mp4a", cfg, make_esds(cfg, 0x40, sbr, sizeof sbr, true), "mp4a.40.5");
    /* AOT 29 (PS): 11101 ... */
    const uint8_t ps[] = { 0xeb, 0x09, 0x88 };
    expect_config("mp4a", cfg, make_esds(cfg, 0x40, ps, sizeof ps, true), "mp4a.40.29");
}

Test(codecs, aac_escaped_object_type)
{
    /* 11111 then 6 bits 001010: 32 + 10 = 42 (USAC) */
    const uint8_t asc[] = { 0xf9, 0x40 };
    uint8_t cfg[128];
    expect_config("mp4a", cfg, make_esds(cfg, 0x40, asc, 2, false), "mp4a.40.42");
    /* the escape's 6 bits missing */
    const uint8_t cut[] = { 0xf8 };
    expect_config_invalid("mp4a", cfg, make_esds(cfg, 0x40, cut, 1, false));
}

Test(codecs, mp3_and_mpeg2_audio_object_types)
{
    uint8_t cfg[128];
    expect_config("mp4a", cfg, make_esds(cfg, 0x6b, NULL, 0, true), "mp4a.6B");
    expect_config("mp4a", cfg, make_esds(cfg, 0x69, NULL, 0, false), "mp4a.69");
}

Test(codecs, mpeg2_aac_object_types)
{
    const uint8_t asc[] = { 0x12, 0x10 };
    uint8_t cfg[128];
    expect_config("mp4a", cfg, make_esds(cfg, 0x67, asc, 2, false), "mp4a.40.2");
    /* without a DecoderSpecificInfo: 0x66/0x67/0x68 are Main/LC/SSR */
    expect_config("mp4a", cfg, make_esds(cfg, 0x66, NULL, 0, false), "mp4a.40.1");
    expect_config("mp4a", cfg, make_esds(cfg, 0x68, NULL, 0, false), "mp4a.40.3");
}

Test(codecs, es_descriptor_optional_fields_are_skipped)
{
    /* streamDependenceFlag + URL_Flag + OCRstreamFlag set */
    const uint8_t asc[] = { 0x12, 0x10 };
    uint8_t dcd[32], es[64], cfg[96];
    const uint8_t fixed[13] = { 0x40, 0x15 };
    memcpy(dcd, fixed, 13);
    size_t nd = 13 + put_desc(dcd + 13, 0x05, asc, 2, false);
    size_t ne = 0;
    const uint8_t head[] = { 0x00, 0x02, 0xe0, 0x00, 0x01, 3, 'a', 'b', 'c', 0x00, 0x07 };
    memcpy(es, head, sizeof head);
    ne = sizeof head;
    ne += put_desc(es + ne, 0x04, dcd, nd, false);
    memset(cfg, 0, 4);
    size_t n = 4 + put_desc(cfg + 4, 0x03, es, ne, false);
    expect_config("mp4a", cfg, n, "mp4a.40.2");
}

Test(codecs, esds_rejects_malformed)
{
    const uint8_t asc[] = { 0x12, 0x10 };
    uint8_t cfg[128];
    size_t len = make_esds(cfg, 0x40, asc, 2, true);
    /* Cutting the esds short leaves the ES_Descriptor longer than the box. */
    for (size_t n = 0; n < len; n++)
        expect_config_invalid("mp4a", cfg, n);

    /* AAC without an AudioSpecificConfig */
    expect_config_invalid("mp4a", cfg, make_esds(cfg, 0x40, NULL, 0, false));
    /* audioObjectType 0 (null) */
    const uint8_t null_aot[] = { 0x00, 0x10 };
    expect_config_invalid("mp4a", cfg, make_esds(cfg, 0x40, null_aot, 2, false));
    /* not an audio objectTypeIndication */
    expect_config_invalid("mp4a", cfg, make_esds(cfg, 0x20, asc, 2, false));
    /* esds version 1 */
    len = make_esds(cfg, 0x40, asc, 2, false);
    cfg[0] = 1;
    expect_config_invalid("mp4a", cfg, len);
    /* a size field of five bytes */
    const uint8_t five[] = { 0, 0, 0, 0, 0x03, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00 };
    expect_config_invalid("mp4a", five, sizeof five);
    /* ES_Descriptor size larger than the esds */
    len = make_esds(cfg, 0x40, asc, 2, false);
    cfg[5]++;
    expect_config_invalid("mp4a", cfg, len);
}

/* ------------------------------------------------------------------------ */
/* Fixed strings: AC-3, E-AC-3, Opus, FLAC                                   */

Test(codecs, ac3_eac3_opus_flac)
{
    const uint8_t dac3[] = { 0x10, 0x3d, 0xc0 };
    expect_config("ac-3", dac3, sizeof dac3, "ac-3");
    expect_config_invalid("ac-3", dac3, 2);

    /* data_rate 96, one independent substream, no dependents */
    const uint8_t dec3[] = { 0x03, 0x00, 0x60, 0x02, 0x00 };
    expect_config("ec-3", dec3, sizeof dec3, "ec-3");
    expect_config_invalid("ec-3", dec3, 4);
    /* num_dep_sub 1 makes chan_loc 9 bits: 4 bytes for the substream */
    const uint8_t dec3_dep[] = { 0x03, 0x00, 0x60, 0x02, 0x02, 0x00 };
    expect_config("ec-3", dec3_dep, sizeof dec3_dep, "ec-3");
    expect_config_invalid("ec-3", dec3_dep, 5);

    const uint8_t dops[] = { 0x00, 0x02, 0x01, 0x38, 0x00, 0x00, 0xbb, 0x80, 0x00, 0x00, 0x00 };
    expect_config("Opus", dops, sizeof dops, "opus");
    expect_config_invalid("Opus", dops, 10);
    /* mapping family 1 needs StreamCount, CoupledCount and 2 mapping bytes */
    uint8_t dops1[15];
    memcpy(dops1, dops, sizeof dops);
    dops1[10] = 1;
    dops1[11] = 1;
    dops1[12] = 1;
    dops1[13] = 0;
    dops1[14] = 1;
    expect_config("Opus", dops1, sizeof dops1, "opus");
    expect_config_invalid("Opus", dops1, 14);

    uint8_t dfla[4 + 4 + 34] = { 0, 0, 0, 0, 0x80, 0x00, 0x00, 0x22 };
    expect_config("fLaC", dfla, sizeof dfla, "fLaC");
    expect_config_invalid("fLaC", dfla, sizeof dfla - 1);
    dfla[4] = 0x84; /* first block not STREAMINFO */
    expect_config_invalid("fLaC", dfla, sizeof dfla);
}

Test(codecs, config_rejects_unknown_fourcc_and_bad_args)
{
    char out[64];
    expect_config_invalid("mp4v", avcc_high_l31, sizeof avcc_high_l31);
    expect_config_invalid("AVC1", avcc_high_l31, sizeof avcc_high_l31);
    cr_assert_eq(pc_codecs_from_config(NULL, avcc_high_l31, sizeof avcc_high_l31, out,
                                       sizeof out), PC_EINVAL);
    cr_assert_eq(pc_codecs_from_config("avc1", NULL, 7, out, sizeof out), PC_EINVAL);
    cr_assert_eq(pc_codecs_from_config("avc1", avcc_high_l31, sizeof avcc_high_l31,
                                       NULL, 64), PC_EINVAL);
}

/* ------------------------------------------------------------------------ */
/* Output buffer                                                             */

Test(codecs, output_buffer_too_small)
{
    char out[16];
    /* "avc1.64001f" is 11 characters + NUL */
    memset(out, 'x', sizeof out);
    cr_assert_eq(from_config("avc1", avcc_high_l31, sizeof avcc_high_l31, out, 11),
                 PC_ETOOBIG);
    cr_assert_eq(out[0], '\0');
    cr_assert_eq(out[11], 'x', "wrote past cap");
    cr_assert_eq(from_config("avc1", avcc_high_l31, sizeof avcc_high_l31, out, 0),
                 PC_ETOOBIG);
    cr_assert_eq(from_config("avc1", avcc_high_l31, sizeof avcc_high_l31, out, 12), 0);
    cr_assert_str_eq(out, "avc1.64001f");

    struct wbuf w;
    make_init(&w, &avc_init);
    cr_assert_eq(from_init(w.d, w.n, out, 11), PC_ETOOBIG);
    cr_assert_eq(from_init(w.d, w.n, out, 12), 0);
    cr_assert_str_eq(out, "avc1.64001f");
}

Test(codecs, malformed_input_wins_over_small_buffer)
{
    char out[4];
    cr_assert_eq(from_config("avc1", avcc_high_l31, 3, out, sizeof out), PC_EINVAL);
}

/* ------------------------------------------------------------------------ */
/* The box walk                                                              */

Test(codecs, init_walks_to_first_sample_entry)
{
    struct wbuf w;
    make_init(&w, &avc_init);
    char out[64];
    cr_assert_eq(from_init(w.d, w.n, out, sizeof out), 0);
    cr_assert_str_eq(out, "avc1.64001f");
}

Test(codecs, init_skips_trak_without_stsd)
{
    struct init_opts o = avc_init;
    o.empty_first_trak = true;
    struct wbuf w;
    make_init(&w, &o);
    char out[64];
    cr_assert_eq(from_init(w.d, w.n, out, sizeof out), 0);
    cr_assert_str_eq(out, "avc1.64001f");
}

Test(codecs, init_rejects_every_truncation)
{
    struct wbuf w;
    make_init(&w, &avc_init);
    expect_prefixes_rejected(w.d, w.n, "avc1.64001f");
}

Test(codecs, init_rejects_empty_and_null)
{
    char out[64];
    cr_assert_eq(pc_codecs_from_init(NULL, 0, out, sizeof out), PC_EINVAL);
    cr_assert_eq(pc_codecs_from_init(NULL, 100, out, sizeof out), PC_EINVAL);
    const uint8_t one = 0;
    cr_assert_eq(pc_codecs_from_init(&one, 0, out, sizeof out), PC_EINVAL);
    struct wbuf w;
    make_init(&w, &avc_init);
    cr_assert_eq(pc_codecs_from_init(w.d, w.n, NULL, 64), PC_EINVAL);
}

/** Offset of the first box of @p type (searching the bytes). */
static size_t find_type(const struct wbuf *w, const char *type)
{
    for (size_t i = 4; i + 4 <= w->n; i++)
        if (memcmp(w->d + i, type, 4) == 0)
            return i - 4;
    cr_assert_fail("no %s", type);
    return 0;
}

static void set32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

Test(codecs, init_rejects_child_larger_than_parent)
{
    /* Each box on the path, grown by one byte: the file still has bytes
     * after it (mvex), so only the parent's bounds can catch it. */
    const char *path[] = { "trak", "mdia", "minf", "stbl", "stsd", "avc1", "avcC" };
    char out[64];
    for (size_t i = 0; i < sizeof path / sizeof path[0]; i++) {
        struct wbuf w;
        make_init(&w, &avc_init);
        size_t at = find_type(&w, path[i]);
        set32(w.d + at, get32(w.d + at) + 1);
        cr_assert_eq(from_init(w.d, w.n, out, sizeof out), PC_EINVAL, "%s grown", path[i]);
    }
    /* the whole moov larger than the file */
    struct wbuf w;
    make_init(&w, &avc_init);
    size_t at = find_type(&w, "moov");
    set32(w.d + at, get32(w.d + at) + 1);
    cr_assert_eq(from_init(w.d, w.n, out, sizeof out), PC_EINVAL);
}

Test(codecs, init_rejects_box_smaller_than_its_header)
{
    const char *which[] = { "ftyp", "mvhd", "tkhd", "avcC" };
    char out[64];
    for (size_t i = 0; i < sizeof which / sizeof which[0]; i++) {
        struct wbuf w;
        make_init(&w, &avc_init);
        set32(w.d + find_type(&w, which[i]), 7);
        cr_assert_eq(from_init(w.d, w.n, out, sizeof out), PC_EINVAL, "%s", which[i]);
    }
}

/** Rewrite the box at @p at with a 64-bit largesize header. */
static void to_largesize(struct wbuf *w, size_t at, uint64_t delta)
{
    uint32_t size = get32(w->d + at);
    memmove(w->d + at + 16, w->d + at + 8, w->n - at - 8);
    w->n += 8;
    set32(w->d + at, 1);
    uint64_t large = (uint64_t)size + 8 + delta;
    set32(w->d + at + 8, (uint32_t)(large >> 32));
    set32(w->d + at + 12, (uint32_t)large);
}

Test(codecs, init_largesize_boxes)
{
    char out[64];
    struct wbuf w;
    make_init(&w, &avc_init);
    /* moov with a 64-bit size: its own size grows by 8, nothing else */
    to_largesize(&w, find_type(&w, "moov"), 0);
    cr_assert_eq(from_init(w.d, w.n, out, sizeof out), 0);
    cr_assert_str_eq(out, "avc1.64001f");

    /* a 64-bit size past the end of the file, and one below 16 */
    make_init(&w, &avc_init);
    to_largesize(&w, find_type(&w, "moov"), 1);
    cr_assert_eq(from_init(w.d, w.n, out, sizeof out), PC_EINVAL);
    make_init(&w, &avc_init);
    size_t at = find_type(&w, "moov");
    to_largesize(&w, at, 0);
    set32(w.d + at + 8, 0);
    set32(w.d + at + 12, 8);
    cr_assert_eq(from_init(w.d, w.n, out, sizeof out), PC_EINVAL);
    /* a 64-bit size with the high word set */
    make_init(&w, &avc_init);
    at = find_type(&w, "moov");
    to_largesize(&w, at, 0);
    set32(w.d + at + 8, 1);
    cr_assert_eq(from_init(w.d, w.n, out, sizeof out), PC_EINVAL);
}

Test(codecs, init_size_zero_runs_to_end_of_parent)
{
    char out[64];
    struct wbuf w;
    make_init(&w, &avc_init);
    /* moov is the last top-level box: size 0 means "to the end of file" */
    set32(w.d + find_type(&w, "moov"), 0);
    cr_assert_eq(from_init(w.d, w.n, out, sizeof out), 0);
    cr_assert_str_eq(out, "avc1.64001f");
    /* stsd size 0 would swallow its sibling stts, so the entry count still
     * parses; the first entry is unchanged */
    make_init(&w, &avc_init);
    set32(w.d + find_type(&w, "stsd"), 0);
    cr_assert_eq(from_init(w.d, w.n, out, sizeof out), 0);
    cr_assert_str_eq(out, "avc1.64001f");
    /* ftyp with size 0 swallows the moov: nothing to find */
    make_init(&w, &avc_init);
    set32(w.d + find_type(&w, "ftyp"), 0);
    cr_assert_eq(from_init(w.d, w.n, out, sizeof out), PC_EINVAL);
}

Test(codecs, init_rejects_missing_pieces)
{
    char out[64];
    struct wbuf w;

    /* no moov at all: just the ftyp */
    make_init(&w, &avc_init);
    cr_assert_eq(from_init(w.d, find_type(&w, "moov"), out, sizeof out), PC_EINVAL);

    /* stsd with entry_count 0 */
    make_init(&w, &avc_init);
    set32(w.d + find_type(&w, "stsd") + 12, 0);
    cr_assert_eq(from_init(w.d, w.n, out, sizeof out), PC_EINVAL);

    /* the path broken: mdia renamed */
    make_init(&w, &avc_init);
    memcpy(w.d + find_type(&w, "mdia") + 4, "mdix", 4);
    cr_assert_eq(from_init(w.d, w.n, out, sizeof out), PC_EINVAL);

    /* unknown and encrypted sample entries */
    struct init_opts o = avc_init;
    o.entry = "mp4v";
    make_init(&w, &o);
    cr_assert_eq(from_init(w.d, w.n, out, sizeof out), PC_EINVAL);
    o.entry = "encv";
    make_init(&w, &o);
    cr_assert_eq(from_init(w.d, w.n, out, sizeof out), PC_EINVAL);

    /* avc1 without avcC, mp4a without esds */
    o = avc_init;
    o.cfg_type = NULL;
    make_init(&w, &o);
    cr_assert_eq(from_init(w.d, w.n, out, sizeof out), PC_EINVAL);
    o = (struct init_opts){ "mp4a", AUDIO, 0, NULL, NULL, 0, false };
    make_init(&w, &o);
    cr_assert_eq(from_init(w.d, w.n, out, sizeof out), PC_EINVAL);
    o.cfg_type = "dac3"; /* the wrong box for mp4a */
    o.cfg = avcc_high_l31;
    o.cfg_len = 3;
    make_init(&w, &o);
    cr_assert_eq(from_init(w.d, w.n, out, sizeof out), PC_EINVAL);
}

Test(codecs, init_audio_sample_entry_versions)
{
    const uint8_t asc[] = { 0x12, 0x10 };
    uint8_t esds[128];
    size_t elen = make_esds(esds, 0x40, asc, 2, true);
    char out[64];
    struct wbuf w;
    for (unsigned v = 0; v <= 2; v++) {
        struct init_opts o = { "mp4a", AUDIO, v, "esds", esds, elen, false };
        make_init(&w, &o);
        int r = from_init(w.d, w.n, out, sizeof out);
        cr_assert_eq(r, 0, "sound version %u: %d", v, r);
        cr_assert_str_eq(out, "mp4a.40.2");
        expect_prefixes_rejected(w.d, w.n, "mp4a.40.2");
    }
    /* version 3 does not exist */
    struct init_opts o = { "mp4a", AUDIO, 3, "esds", esds, elen, false };
    make_init(&w, &o);
    cr_assert_eq(from_init(w.d, w.n, out, sizeof out), PC_EINVAL);
}

Test(codecs, init_other_audio_entries)
{
    const uint8_t dac3[] = { 0x10, 0x3d, 0xc0 };
    const uint8_t dops[] = { 0x00, 0x02, 0x01, 0x38, 0x00, 0x00, 0xbb, 0x80, 0x00, 0x00, 0x00 };
    char out[64];
    struct wbuf w;
    struct init_opts o = { "ac-3", AUDIO, 0, "dac3", dac3, sizeof dac3, false };
    make_init(&w, &o);
    cr_assert_eq(from_init(w.d, w.n, out, sizeof out), 0);
    cr_assert_str_eq(out, "ac-3");
    o = (struct init_opts){ "Opus", AUDIO, 0, "dOps", dops, sizeof dops, false };
    make_init(&w, &o);
    cr_assert_eq(from_init(w.d, w.n, out, sizeof out), 0);
    cr_assert_str_eq(out, "opus");
    o.cfg_type = NULL; /* dOps is mandatory */
    make_init(&w, &o);
    cr_assert_eq(from_init(w.d, w.n, out, sizeof out), PC_EINVAL);
}

Test(codecs, init_visual_entry_too_short_for_its_fields)
{
    /* An avc1 entry whose body ends inside the 78 bytes of fields. */
    struct wbuf w;
    memset(&w, 0, sizeof w);
    box_open(&w, "moov");
    box_open(&w, "trak");
    box_open(&w, "mdia");
    box_open(&w, "minf");
    box_open(&w, "stbl");
    box_open(&w, "stsd");
    w32(&w, 0);
    w32(&w, 1);
    box_open(&w, "avc1");
    wzero(&w, 77);
    for (int i = 0; i < 7; i++)
        box_close(&w);
    char out[64];
    cr_assert_eq(from_init(w.d, w.n, out, sizeof out), PC_EINVAL);
}

/* ------------------------------------------------------------------------ */
/* Real init segments written by ffmpeg                                      */

static void expect_fixture(const char *name, const char *want)
{
    size_t len;
    uint8_t *init = load_fixture(name, &len);
    char out[128];
    int r = from_init(init, len, out, sizeof out);
    cr_assert_eq(r, 0, "%s: status %d (%s)", name, r, pc_status_str(r));
    cr_assert_str_eq(out, want, "%s", name);
    expect_prefixes_rejected(init, len, want);
    free(init);
}

#define FIXTURE(test, file, want) \
    Test(codecs, fixture_##test) { expect_fixture(file, want); }

FIXTURE(h264_high_l31, "h264_high_l31.mp4", "avc1.64001f")
FIXTURE(h264_constrained_baseline_l30, "h264_cbaseline_l30.mp4", "avc1.42c01e")
FIXTURE(hevc_main, "hevc_main.mp4", "hvc1.1.6.L60.90")
FIXTURE(hevc_main_hev1, "hevc_main_hev1.mp4", "hev1.1.6.L60.90")
FIXTURE(hevc_main10, "hevc_main10.mp4", "hvc1.2.4.L60.90")
FIXTURE(av1_8bit_bt709, "av1_8bit_bt709.mp4", "av01.0.00M.08.0.110.01.01.01.0")
FIXTURE(av1_10bit_pq_full, "av1_10bit_pq_full.mp4", "av01.0.00M.10.0.110.09.16.09.1")
FIXTURE(vp9_profile0, "vp9_p0_8bit_bt709.mp4", "vp09.00.20.08.01.01.01.01.00")
FIXTURE(vp9_profile2, "vp9_p2_10bit_pq.mp4", "vp09.02.20.10.01.09.16.09.00")
FIXTURE(aac_lc, "aac_lc.mp4", "mp4a.40.2")
FIXTURE(mp3_44k, "mp3_44k.mp4", "mp4a.6B")
FIXTURE(mp3_22k, "mp3_22k.mp4", "mp4a.69")
FIXTURE(ac3, "ac3.mp4", "ac-3")
FIXTURE(eac3, "eac3.mp4", "ec-3")
FIXTURE(opus, "opus.mp4", "opus")
FIXTURE(flac, "flac.mp4", "fLaC")
FIXTURE(aac_quicktime_sound_v1, "aac_lc_qt_v1.mov", "mp4a.40.2")
FIXTURE(aac_quicktime_sound_v2, "aac_lc_qt_v2.mov", "mp4a.40.2")

/* Random corruption of every fixture: the parser must return 0 or a
 * negative status, never crash or read out of bounds (run under ASan), and
 * on success produce a NUL-terminated string within the buffer. */
Test(codecs, corrupted_fixtures_never_crash)
{
    static const char *const names[] = {
        "h264_high_l31.mp4", "hevc_main.mp4", "av1_10bit_pq_full.mp4",
        "vp9_p2_10bit_pq.mp4", "aac_lc.mp4", "mp3_44k.mp4", "eac3.mp4",
        "opus.mp4", "flac.mp4", "aac_lc_qt_v2.mov",
    };
    uint64_t state = 0x9e3779b97f4a7c15u;
    for (size_t f = 0; f < sizeof names / sizeof names[0]; f++) {
        size_t len;
        uint8_t *orig = load_fixture(names[f], &len);
        uint8_t *buf = malloc(len);
        cr_assert_not_null(buf);
        for (int round = 0; round < 3000; round++) {
            memcpy(buf, orig, len);
            int flips = 1 + round % 4;
            for (int k = 0; k < flips; k++) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                buf[state % len] ^= (uint8_t)(1u << ((state >> 32) % 8));
            }
            char out[32];
            int r = pc_codecs_from_init(buf, len, out, sizeof out);
            cr_assert(r == 0 || r == PC_EINVAL || r == PC_ETOOBIG,
                      "%s round %d: status %d", names[f], round, r);
            if (r == 0)
                cr_assert_lt(strnlen(out, sizeof out), sizeof out);
        }
        free(buf);
        free(orig);
    }
}
