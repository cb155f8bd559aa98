/*
 * The moof/mdat formatter: box sizes, field positions and the rules that
 * players depend on (data offset, trun version, sample flags).
 */
#include "fmp4.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Find the box of @p type inside [p, p+len) (one level), or NULL. */
static const uint8_t *box(const uint8_t *p, size_t len, const char *type, uint32_t *size)
{
    size_t pos = 0;
    while (pos + 8 <= len) {
        uint32_t s = rd32(p + pos);
        cr_assert_geq(s, 8);
        cr_assert_leq(pos + s, len, "box %.4s overruns its parent", (const char *)p + pos + 4);
        if (!memcmp(p + pos + 4, type, 4)) {
            *size = s;
            return p + pos;
        }
        pos += s;
    }
    return NULL;
}

static uint8_t *make(const struct pc_fmp4_sample *s, size_t n, int video, uint64_t base, size_t *len)
{
    uint64_t payload = 0;
    for (size_t i = 0; i < n; i++)
        payload += s[i].size;
    size_t hs = pc_fmp4_header_size(n, video);
    uint8_t *buf = calloc(1, hs);
    *len = pc_fmp4_write_header(buf, 7, 1, base, s, n, video, payload);
    cr_assert_eq(*len, hs, "written size equals the computed size");
    return buf;
}

Test(fmp4, video_segment_has_moof_then_mdat_with_data_offset_past_mdat_header)
{
    struct pc_fmp4_sample s[3] = {
        { 1000, 512, 1024, PC_FMP4_FLAGS_SYNC },
        { 200, 512, 2048, PC_FMP4_FLAGS_NONSYNC },
        { 300, 512, 0, PC_FMP4_FLAGS_NONSYNC },
    };
    size_t len;
    uint8_t *b = make(s, 3, 1, 90000, &len);
    uint32_t moof_size, mdat_size, traf_size, sz;
    const uint8_t *moof = box(b, len, "moof", &moof_size);
    cr_assert(moof == b);
    cr_assert_eq(len, moof_size + 8, "the header ends with the mdat header");
    const uint8_t *mdat = b + moof_size;
    mdat_size = rd32(mdat);
    cr_assert(!memcmp(mdat + 4, "mdat", 4), "mdat follows moof");
    cr_assert_eq(mdat_size, 8 + 1500, "mdat covers all sample bytes");
    const uint8_t *mfhd = box(moof + 8, moof_size - 8, "mfhd", &sz);
    cr_assert(mfhd);
    cr_assert_eq(rd32(mfhd + 12), 7, "sequence number");
    const uint8_t *traf = box(moof + 8, moof_size - 8, "traf", &traf_size);
    cr_assert(traf);
    const uint8_t *tfhd = box(traf + 8, traf_size - 8, "tfhd", &sz);
    cr_assert(tfhd);
    cr_assert_eq(rd32(tfhd + 8) & 0xffffff, 0x020000, "default-base-is-moof only, for video");
    const uint8_t *tfdt = box(traf + 8, traf_size - 8, "tfdt", &sz);
    cr_assert(tfdt);
    cr_assert_eq(tfdt[8], 1, "64-bit tfdt");
    cr_assert_eq(((uint64_t)rd32(tfdt + 12) << 32) | rd32(tfdt + 16), 90000);
    const uint8_t *trun = box(traf + 8, traf_size - 8, "trun", &sz);
    cr_assert(trun);
    cr_assert_eq(trun[8], 0, "no negative offsets: trun version 0");
    cr_assert_eq(rd32(trun + 8) & 0xffffff, 0x000f01);
    cr_assert_eq(rd32(trun + 12), 3);
    cr_assert_eq(rd32(trun + 16), moof_size + 8, "data offset counts from the moof start");
    const uint8_t *e = trun + 20;
    for (int i = 0; i < 3; i++, e += 16) {
        cr_assert_eq(rd32(e), s[i].duration);
        cr_assert_eq(rd32(e + 4), s[i].size);
        cr_assert_eq(rd32(e + 8), s[i].flags);
        cr_assert_eq((int32_t)rd32(e + 12), s[i].cto);
    }
    free(b);
}

Test(fmp4, negative_composition_offset_selects_trun_version_1)
{
    struct pc_fmp4_sample s[2] = {
        { 10, 1, 0, PC_FMP4_FLAGS_SYNC },
        { 10, 1, -1, PC_FMP4_FLAGS_NONSYNC },
    };
    size_t len;
    uint8_t *b = make(s, 2, 1, 0, &len);
    uint32_t moof_size, traf_size, sz;
    const uint8_t *moof = box(b, len, "moof", &moof_size);
    const uint8_t *traf = box(moof + 8, moof_size - 8, "traf", &traf_size);
    const uint8_t *trun = box(traf + 8, traf_size - 8, "trun", &sz);
    cr_assert_eq(trun[8], 1);
    cr_assert_eq((int32_t)rd32(trun + 20 + 16 + 12), -1);
    free(b);
}

Test(fmp4, audio_samples_are_sync_by_default_and_carry_no_flags_or_offsets)
{
    struct pc_fmp4_sample s[2] = { { 300, 1024, 0, 0 }, { 310, 1024, 0, 0 } };
    size_t len;
    uint8_t *b = make(s, 2, 0, 48000, &len);
    uint32_t moof_size, traf_size, sz;
    const uint8_t *moof = box(b, len, "moof", &moof_size);
    const uint8_t *traf = box(moof + 8, moof_size - 8, "traf", &traf_size);
    const uint8_t *tfhd = box(traf + 8, traf_size - 8, "tfhd", &sz);
    cr_assert_eq(rd32(tfhd + 8) & 0xffffff, 0x020020);
    cr_assert_eq(rd32(tfhd + 16), PC_FMP4_FLAGS_SYNC);
    const uint8_t *trun = box(traf + 8, traf_size - 8, "trun", &sz);
    cr_assert_eq(rd32(trun + 8) & 0xffffff, 0x000301);
    cr_assert_eq(sz, 20 + 2 * 8);
    cr_assert_eq(rd32(trun + 24), 300);
    free(b);
}

Test(fmp4, oversized_payload_is_refused)
{
    struct pc_fmp4_sample s = { 1, 1, 0, 0 };
    uint8_t buf[256];
    cr_assert_eq(pc_fmp4_write_header(buf, 1, 1, 0, &s, 1, 0, (uint64_t)UINT32_MAX), 0);
}

static size_t put_box(uint8_t *p, uint32_t size, const char *type)
{
    memset(p, 0, size);
    p[0] = (uint8_t)(size >> 24); p[1] = (uint8_t)(size >> 16);
    p[2] = (uint8_t)(size >> 8); p[3] = (uint8_t)size;
    memcpy(p + 4, type, 4);
    return size;
}

Test(fmp4, init_length_stops_at_the_first_fragment)
{
    uint8_t b[200];
    size_t n = 0;
    n += put_box(b + n, 24, "ftyp");
    n += put_box(b + n, 40, "moov");
    size_t init = n;
    n += put_box(b + n, 30, "moof");
    n += put_box(b + n, 16, "mdat");
    cr_assert_eq(pc_fmp4_init_length(b, n), init);
    cr_assert_eq(pc_fmp4_init_length(b, init), init, "init alone");
}

Test(fmp4, init_length_is_zero_without_a_whole_moov)
{
    uint8_t b[200];
    size_t n = put_box(b, 24, "ftyp");
    n += put_box(b + n, 40, "moov");
    cr_assert_eq(pc_fmp4_init_length(b, n - 1), 0, "truncated moov");
    cr_assert_eq(pc_fmp4_init_length(b, 24), 0, "no moov at all");
    b[24 + 3] = 4;   /* moov size 4 < 8 */
    cr_assert_eq(pc_fmp4_init_length(b, n), 0, "impossible box size");
}
