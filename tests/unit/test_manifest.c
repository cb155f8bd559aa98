/*
 * Unit tests for the manifest writers and their shared timeline
 * (origin/timeline.c, hls.c, dash.c, manifest_cache.c).
 *
 * Each test writes a small bundle with the real writer (fake blob bytes:
 * manifests only read the index) in a fresh mkdtemp directory, opens it with
 * pc_bundle_open, and checks the text.  Expected values are worked out in
 * the comments from the inputs (durations, timescales, blob sizes), never
 * copied from the program's output.  Bitrates follow the writer's rule
 * (bundle.h): peak = max over segments of ceil(size * 8 * timescale /
 * duration), average = ceil(total size * 8 * timescale / total duration).
 */
#include <criterion/criterion.h>

#include "manifest.h"

#include "pagecast/bundle.h"
#include "pagecast/status.h"

#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------- fixtures */

static char tmpdir[64];

static void setup(void)
{
    strcpy(tmpdir, "/tmp/pc-manifest-test-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

static void teardown(void)
{
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(manifest, .init = setup, .fini = teardown);

#define MAX_SEGS 64

/* One track of a test bundle: its description and its segments. */
struct tspec {
    struct pc_track_record rec;
    uint64_t start;                 /* first segment's start */
    unsigned n;
    uint32_t dur[MAX_SEGS];
    uint32_t size[MAX_SEGS];        /* 0: 1000 bytes */
};

static struct tspec video(const char *codecs, uint32_t w, uint32_t h,
                          uint32_t fps_num, uint32_t fps_den, uint32_t timescale)
{
    struct tspec s = {0};
    s.rec.kind = PC_KIND_VIDEO;
    s.rec.codec = strncmp(codecs, "vp09", 4) == 0 ? PC_CODEC_VP9 : PC_CODEC_H264;
    s.rec.timescale = timescale;
    s.rec.width = w;
    s.rec.height = h;
    s.rec.frame_rate_num = fps_num;
    s.rec.frame_rate_den = fps_den;
    s.rec.sar_num = 1;
    s.rec.sar_den = 1;
    snprintf(s.rec.codecs, sizeof s.rec.codecs, "%s", codecs);
    snprintf(s.rec.language, sizeof s.rec.language, "und");
    return s;
}

static struct tspec audio(enum pc_codec codec, const char *codecs, const char *lang,
                          const char *name, uint32_t rate, uint16_t channels)
{
    struct tspec s = {0};
    s.rec.kind = PC_KIND_AUDIO;
    s.rec.codec = (uint8_t)codec;
    s.rec.timescale = rate;
    s.rec.sample_rate = rate;
    s.rec.channels = channels;
    snprintf(s.rec.codecs, sizeof s.rec.codecs, "%s", codecs);
    snprintf(s.rec.language, sizeof s.rec.language, "%s", lang);
    snprintf(s.rec.name, sizeof s.rec.name, "%s", name);
    return s;
}

/* Append @p count segments of @p dur ticks and @p size bytes to @p s. */
static void segs(struct tspec *s, unsigned count, uint32_t dur, uint32_t size)
{
    cr_assert_leq(s->n + count, MAX_SEGS);
    for (unsigned i = 0; i < count; i++) {
        s->dur[s->n] = dur;
        s->size[s->n] = size;
        s->n++;
    }
}

struct fixture {
    struct pc_bundle b;
    char gen[17];                   /* the generation as the URLs spell it */
};

static uint8_t blob[1 << 16];

/* Write @p n tracks with the real writer, then open the bundle. */
static void make(struct fixture *f, const struct tspec *tracks, unsigned n)
{
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/t.pcb", tmpdir);
    struct pc_bundle_writer_opts o = { .track_count = n, .segments_hint = 64, .source_count = 1 };
    struct pc_bundle_writer *w;
    cr_assert_eq(pc_bundle_writer_open(&w, path, &o, err, sizeof err), 0, "%s", err);
    for (unsigned t = 0; t < n; t++) {
        cr_assert_eq(pc_bundle_writer_set_track(w, t, &tracks[t].rec), 0);
        struct iovec iov = { blob, 100 };
        cr_assert_eq(pc_bundle_writer_add_init(w, t, &iov, 1), 0);
        uint64_t start = tracks[t].start;
        for (unsigned k = 0; k < tracks[t].n; k++) {
            struct pc_segment_record seg = {
                .start = start, .duration = tracks[t].dur[k], .sample_count = 1,
                .flags = PC_SEGMENT_KEY, .key_size = 10 };
            uint32_t size = tracks[t].size[k] ? tracks[t].size[k] : 1000;
            cr_assert_leq(size, sizeof blob);
            struct iovec v = { blob, size };
            cr_assert_eq(pc_bundle_writer_add_segment(w, t, &seg, &v, 1), 0);
            start += tracks[t].dur[k];
        }
    }
    uint64_t gen;
    cr_assert_eq(pc_bundle_writer_commit(w, &gen, err, sizeof err), 0, "%s", err);
    cr_assert_eq(pc_bundle_open(&f->b, path, err, sizeof err), 0, "%s", err);
    cr_assert_eq(f->b.hdr->generation, gen);
    snprintf(f->gen, sizeof f->gen, "%016" PRIx64, gen);
}

static char *master(struct fixture *f)
{
    size_t len;
    char *s = pc_hls_master(&f->b, &len);
    cr_assert_not_null(s);
    cr_assert_eq(len, strlen(s));
    return s;
}

static char *media(struct fixture *f, unsigned t)
{
    size_t len;
    char *s = pc_hls_media(&f->b, t, NULL, &len);
    cr_assert_not_null(s);
    cr_assert_eq(len, strlen(s));
    return s;
}

static char *mpd(struct fixture *f)
{
    unsigned n = f->b.hdr->track_count;
    struct pc_timeline tls[PC_BUNDLE_MAX_TRACKS] = {0};
    for (unsigned t = 0; t < n; t++)
        cr_assert_eq(pc_timeline_build(&f->b, t, &tls[t]), 0);
    size_t len;
    char *s = pc_dash_mpd(&f->b, tls, &len);
    for (unsigned t = 0; t < n; t++)
        pc_timeline_free(&tls[t]);
    cr_assert_not_null(s);
    cr_assert_eq(len, strlen(s));
    return s;
}

static unsigned count(const char *hay, const char *needle)
{
    unsigned n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

#define assert_has(text, needle) \
    cr_assert(strstr((text), (needle)), "expected %s in:\n%s", (needle), (text))
#define assert_lacks(text, needle) \
    cr_assert(!strstr((text), (needle)), "did not expect %s in:\n%s", (needle), (text))

/* The line that follows the first line containing @p needle. */
static const char *line_after(const char *text, const char *needle)
{
    const char *p = strstr(text, needle);
    cr_assert_not_null(p, "no %s in:\n%s", needle, text);
    p = strchr(p, '\n');
    cr_assert_not_null(p);
    return p + 1;
}

/* ------------------------------------------------------------- timeline */

Test(manifest, timeline_merges_equal_consecutive_durations)
{
    struct fixture f;
    struct tspec v = video("avc1.640028", 1280, 720, 25, 1, 1000);
    segs(&v, 10, 2000, 0);
    segs(&v, 1, 1500, 0);
    make(&f, &v, 1);

    struct pc_timeline tl;
    cr_assert_eq(pc_timeline_build(&f.b, 0, &tl), 0);
    cr_assert_eq(tl.timescale, 1000);
    cr_assert_eq(tl.segments, 11);
    cr_assert_eq(tl.n_runs, 2);
    cr_assert_eq(tl.runs[0].first, 0);
    cr_assert_eq(tl.runs[0].start, 0);
    cr_assert_eq(tl.runs[0].duration, 2000);
    cr_assert_eq(tl.runs[0].count, 10);
    cr_assert_eq(tl.runs[1].first, 10);
    cr_assert_eq(tl.runs[1].start, 20000);         /* 10 x 2000 */
    cr_assert_eq(tl.runs[1].duration, 1500);
    cr_assert_eq(tl.runs[1].count, 1);
    cr_assert_eq(tl.start, 0);
    cr_assert_eq(tl.end, 21500);
    cr_assert_eq(tl.max_duration, 2000);
    pc_timeline_free(&tl);
    cr_assert_null(tl.runs);
    pc_bundle_close(&f.b);
}

Test(manifest, timeline_starts_a_run_at_each_change)
{
    struct fixture f;
    struct tspec a = audio(PC_CODEC_AAC, "mp4a.40.2", "eng", "", 48000, 2);
    a.start = 1024;
    segs(&a, 2, 96256, 0);
    segs(&a, 1, 95232, 0);
    segs(&a, 2, 96256, 0);
    make(&f, &a, 1);

    struct pc_timeline tl;
    cr_assert_eq(pc_timeline_build(&f.b, 0, &tl), 0);
    cr_assert_eq(tl.n_runs, 3);
    cr_assert_eq(tl.runs[1].first, 2);
    cr_assert_eq(tl.runs[1].start, 1024 + 2 * 96256);
    cr_assert_eq(tl.runs[2].first, 3);
    cr_assert_eq(tl.runs[2].start, 1024 + 2 * 96256 + 95232);
    cr_assert_eq(tl.runs[2].count, 2);
    cr_assert_eq(tl.start, 1024);
    cr_assert_eq(tl.end, 1024 + 4 * 96256 + 95232);
    pc_timeline_free(&tl);
    pc_bundle_close(&f.b);
}

Test(manifest, timeline_rejects_a_track_out_of_range)
{
    struct fixture f;
    struct tspec v = video("avc1.640028", 1280, 720, 25, 1, 1000);
    segs(&v, 1, 2000, 0);
    make(&f, &v, 1);
    struct pc_timeline tl;
    cr_assert_eq(pc_timeline_build(&f.b, 1, &tl), PC_EINVAL);
    cr_assert_null(tl.runs);
    pc_timeline_free(&tl);
    pc_timeline_free(NULL);
    pc_bundle_close(&f.b);
}

/* A validated bundle is contiguous; a hand-made view with a gap shows that
 * the timeline and the MPD still describe each segment's own time. */
Test(manifest, timeline_and_mpd_restate_time_after_a_gap)
{
    struct pc_bundle_header h = { .track_count = 1, .generation = 0xabc };
    struct pc_track_record tr = video("avc1.640028", 640, 360, 25, 1, 90000).rec;
    struct pc_segment_record s[3] = {
        { .start = 0, .duration = 180000 },
        { .start = 180000, .duration = 180000 },
        { .start = 450000, .duration = 180000 },   /* 90000 ticks missing */
    };
    tr.segment_count = 3;
    tr.max_segment_duration = 180000;
    struct pc_bundle b = { .hdr = &h, .tracks = &tr, .segments = s };

    struct pc_timeline tl;
    cr_assert_eq(pc_timeline_build(&b, 0, &tl), 0);
    cr_assert_eq(tl.n_runs, 2);
    cr_assert_eq(tl.runs[0].count, 2);
    cr_assert_eq(tl.runs[1].start, 450000);
    cr_assert_eq(tl.end, 630000);
    size_t len;
    char *x = pc_dash_mpd(&b, &tl, &len);
    cr_assert_not_null(x);
    assert_has(x, "<S t=\"0\" d=\"180000\" r=\"1\"/>\n");
    assert_has(x, "<S t=\"450000\" d=\"180000\"/>\n");
    free(x);
    pc_timeline_free(&tl);
}

/* ------------------------------------------------------- media playlists */

Test(manifest, media_playlist_is_exact)
{
    struct fixture f;
    struct tspec v = video("avc1.640028", 1280, 720, 25, 1, 1000);
    segs(&v, 2, 2000, 0);
    segs(&v, 1, 1500, 0);
    make(&f, &v, 1);

    char want[1024];
    const char *g = f.gen;
    snprintf(want, sizeof want,
             "#EXTM3U\n"
             "#EXT-X-VERSION:7\n"
             "#EXT-X-TARGETDURATION:2\n"          /* 2.0 and 1.5 round to 2 */
             "#EXT-X-PLAYLIST-TYPE:VOD\n"
             "#EXT-X-INDEPENDENT-SEGMENTS\n"
             "#EXT-X-MAP:URI=\"%s/0/init.mp4\"\n"
             "#EXTINF:2.000,\n%s/0/1.m4s\n"
             "#EXTINF:2.000,\n%s/0/2.m4s\n"
             "#EXTINF:1.500,\n%s/0/3.m4s\n"
             "#EXT-X-ENDLIST\n", g, g, g, g);
    char *s = media(&f, 0);
    cr_assert_str_eq(s, want);
    free(s);
    pc_bundle_close(&f.b);
}

Test(manifest, extinf_is_exact_to_the_microsecond)
{
    struct fixture f;
    struct tspec t[3];
    /* 97280 / 48000 = 2.0266666... s -> 2.026667 (rounded half up) */
    t[0] = audio(PC_CODEC_AAC, "mp4a.40.2", "eng", "", 48000, 2);
    segs(&t[0], 1, 97280, 0);
    segs(&t[0], 1, 95232, 0);           /* 1.984 exactly */
    /* 96096 / 30000 = 3.2032 exactly (96 frames at 30000/1001) */
    t[1] = video("avc1.640028", 640, 360, 30000, 1001, 30000);
    segs(&t[1], 1, 96096, 0);
    segs(&t[1], 1, 1001, 0);            /* 0.033366666... -> 0.033367 */
    /* 1 / 3 s -> 0.333333; 2 / 3 -> 0.666667 */
    t[2] = audio(PC_CODEC_OPUS, "opus", "eng", "", 3, 1);
    segs(&t[2], 1, 1, 0);
    segs(&t[2], 1, 2, 0);
    make(&f, t, 3);

    char *a = media(&f, 0), *v = media(&f, 1), *o = media(&f, 2);
    assert_has(a, "#EXTINF:2.026667,\n");
    assert_has(a, "#EXTINF:1.984,\n");
    assert_has(v, "#EXTINF:3.2032,\n");
    assert_has(v, "#EXTINF:0.033367,\n");
    assert_has(o, "#EXTINF:0.333333,\n");
    assert_has(o, "#EXTINF:0.666667,\n");
    free(a);
    free(v);
    free(o);
    pc_bundle_close(&f.b);
}

Test(manifest, target_duration_is_the_largest_rounded_extinf)
{
    struct fixture f;
    /* 6.006 rounds to 6, 5.5 rounds (half up) to 6: target 6. */
    struct tspec v = video("avc1.640028", 1280, 720, 25, 1, 1000);
    segs(&v, 1, 6006, 0);
    segs(&v, 1, 5500, 0);
    make(&f, &v, 1);
    char *s = media(&f, 0);
    assert_has(s, "#EXT-X-TARGETDURATION:6\n");
    free(s);
    pc_bundle_close(&f.b);
}

Test(manifest, target_duration_rounds_a_half_up)
{
    struct fixture f;
    /* 5.5 alone: nearest integer with the tie going up is 6 (5 would put
     * a rounded EXTINF above the target for a reader who rounds up). */
    struct tspec v = video("avc1.640028", 1280, 720, 25, 1, 1000);
    segs(&v, 1, 5500, 0);
    segs(&v, 1, 2000, 0);
    make(&f, &v, 1);
    char *s = media(&f, 0);
    assert_has(s, "#EXT-X-TARGETDURATION:6\n");
    free(s);
    pc_bundle_close(&f.b);
}

Test(manifest, target_duration_rounds_up_past_the_half)
{
    struct fixture f;
    /* 6.6 rounds to 7 (a target of 6 would break RFC 8216 4.3.3.1). */
    struct tspec v = video("avc1.640028", 1280, 720, 25, 1, 1000);
    segs(&v, 1, 6000, 0);
    segs(&v, 1, 6600, 0);
    make(&f, &v, 1);
    char *s = media(&f, 0);
    assert_has(s, "#EXT-X-TARGETDURATION:7\n");
    free(s);
    pc_bundle_close(&f.b);
}

Test(manifest, target_duration_rounds_down_below_the_half)
{
    struct fixture f;
    /* 6.4 and 6.499999 both round to 6. */
    struct tspec v = video("avc1.640028", 1280, 720, 25, 1, 1000000);
    segs(&v, 1, 6400000, 0);
    segs(&v, 1, 6499999, 0);
    make(&f, &v, 1);
    char *s = media(&f, 0);
    assert_has(s, "#EXT-X-TARGETDURATION:6\n");
    assert_has(s, "#EXTINF:6.499999,\n");
    free(s);
    pc_bundle_close(&f.b);
}

Test(manifest, target_duration_is_the_same_in_every_playlist)
{
    struct fixture f;
    /* Video at most 6.0 s, audio 6.6 s (rounds to 7): RFC 8216 6.2.4 wants
     * one target duration for all, so both say 7. */
    struct tspec t[2];
    t[0] = video("avc1.640028", 1280, 720, 25, 1, 1000);
    segs(&t[0], 2, 6000, 0);
    t[1] = audio(PC_CODEC_AAC, "mp4a.40.2", "eng", "", 1000, 2);
    segs(&t[1], 1, 6600, 0);
    segs(&t[1], 1, 5400, 0);
    make(&f, t, 2);
    char *v = media(&f, 0), *a = media(&f, 1);
    assert_has(v, "#EXT-X-TARGETDURATION:7\n");
    assert_has(a, "#EXT-X-TARGETDURATION:7\n");
    free(v);
    free(a);
    pc_bundle_close(&f.b);
}

Test(manifest, media_urls_carry_generation_track_and_1_based_number)
{
    struct fixture f;
    struct tspec t[2];
    t[0] = video("avc1.640028", 1280, 720, 25, 1, 1000);
    segs(&t[0], 3, 2000, 0);
    t[1] = audio(PC_CODEC_AAC, "mp4a.40.2", "eng", "", 1000, 2);
    segs(&t[1], 3, 2000, 0);
    make(&f, t, 2);
    char *s = media(&f, 1);
    char want[128];
    snprintf(want, sizeof want, "#EXT-X-MAP:URI=\"%s/1/init.mp4\"\n", f.gen);
    assert_has(s, want);
    for (int n = 1; n <= 3; n++) {
        snprintf(want, sizeof want, "\n%s/1/%d.m4s\n", f.gen, n);
        assert_has(s, want);
    }
    snprintf(want, sizeof want, "/1/0.m4s");
    assert_lacks(s, want);
    snprintf(want, sizeof want, "/1/4.m4s");
    assert_lacks(s, want);
    cr_assert_eq(strlen(f.gen), 16);
    free(s);
    pc_bundle_close(&f.b);
}

/* ----------------------------------------------------- multivariant playlist */

/* A ladder of two H.264 videos and two AAC tracks with known bitrates:
 *   video 0: segments 2 s (ts 1000), 5000 and 4000 bytes
 *            peak = 5000*8/2 = 20000, avg = 9000*8/4 = 18000
 *   video 1: 2500 and 2000 bytes: peak 10000, avg 9000
 *   audio 2: 1000 and 1000 bytes: peak 4000, avg 4000
 *   audio 3: 2000 and 500 bytes:  peak 8000, avg 2500*8/4 = 5000
 * so the audio group's peak is 8000 and its average 5000. */
static void ladder(struct fixture *f, const char *a2codecs, const char *a3codecs,
                   enum pc_codec a3codec)
{
    struct tspec t[4];
    t[0] = video("avc1.640028", 1280, 720, 30000, 1001, 1000);
    segs(&t[0], 1, 2000, 5000);
    segs(&t[0], 1, 2000, 4000);
    t[1] = video("avc1.64001f", 640, 360, 24, 1, 1000);
    segs(&t[1], 1, 2000, 2500);
    segs(&t[1], 1, 2000, 2000);
    t[2] = audio(PC_CODEC_AAC, a2codecs, "eng", "", 1000, 2);
    segs(&t[2], 2, 2000, 1000);
    t[3] = audio(a3codec, a3codecs, "fre", "", 1000, 6);
    segs(&t[3], 1, 2000, 2000);
    segs(&t[3], 1, 2000, 500);
    make(f, t, 4);
}

Test(manifest, master_sums_video_and_audio_group_bitrates)
{
    struct fixture f;
    ladder(&f, "mp4a.40.2", "mp4a.40.2", PC_CODEC_AAC);
    char *s = master(&f);
    /* 20000 + 8000, 18000 + 5000; 10000 + 8000, 9000 + 5000 */
    assert_has(s, "#EXT-X-STREAM-INF:BANDWIDTH=28000,AVERAGE-BANDWIDTH=23000,");
    assert_has(s, "#EXT-X-STREAM-INF:BANDWIDTH=18000,AVERAGE-BANDWIDTH=14000,");
    cr_assert_eq(count(s, "#EXT-X-STREAM-INF:"), 2);
    free(s);
    pc_bundle_close(&f.b);
}

Test(manifest, master_variant_lists_video_and_audio_codecs)
{
    struct fixture f;
    /* One AAC group holding LC and HE-AAC: both formats are listed. */
    ladder(&f, "mp4a.40.2", "mp4a.40.5", PC_CODEC_AAC);
    char *s = master(&f);
    assert_has(s, "CODECS=\"avc1.640028,mp4a.40.2,mp4a.40.5\",RESOLUTION=1280x720,"
               "FRAME-RATE=29.970,AUDIO=\"aud-aac\"\n0.m3u8\n");
    assert_has(s, "CODECS=\"avc1.64001f,mp4a.40.2,mp4a.40.5\",RESOLUTION=640x360,"
               "FRAME-RATE=24.000,AUDIO=\"aud-aac\"\n1.m3u8\n");
    cr_assert_eq(count(s, "GROUP-ID=\"aud-aac\""), 2);
    free(s);
    pc_bundle_close(&f.b);
}

Test(manifest, master_has_one_audio_group_per_codec)
{
    struct fixture f;
    /* AAC (track 2) and AC-3 (track 3): two groups, and each video is
     * listed with each: 4 variants.  AC-3 group peak 8000, avg 5000; AAC
     * group peak 4000, avg 4000. */
    ladder(&f, "mp4a.40.2", "ac-3", PC_CODEC_AC3);
    char *s = master(&f);
    assert_has(s, "GROUP-ID=\"aud-aac\",NAME=\"English\",LANGUAGE=\"en\",DEFAULT=YES,"
               "AUTOSELECT=YES,CHANNELS=\"2\",URI=\"2.m3u8\"\n");
    assert_has(s, "GROUP-ID=\"aud-ac3\",NAME=\"français\",LANGUAGE=\"fr\",DEFAULT=YES,"
               "AUTOSELECT=YES,CHANNELS=\"6\",URI=\"3.m3u8\"\n");
    cr_assert_eq(count(s, "#EXT-X-STREAM-INF:"), 4);
    assert_has(s, "BANDWIDTH=24000,AVERAGE-BANDWIDTH=22000,CODECS=\"avc1.640028,mp4a.40.2\"");
    assert_has(s, "BANDWIDTH=28000,AVERAGE-BANDWIDTH=23000,CODECS=\"avc1.640028,ac-3\"");
    assert_has(s, "BANDWIDTH=14000,AVERAGE-BANDWIDTH=13000,CODECS=\"avc1.64001f,mp4a.40.2\"");
    assert_has(s, "BANDWIDTH=18000,AVERAGE-BANDWIDTH=14000,CODECS=\"avc1.64001f,ac-3\"");
    cr_assert_eq(count(s, "ac-3\",RESOLUTION"), 2);
    cr_assert_eq(count(s, "AUDIO=\"aud-ac3\""), 2);
    free(s);
    pc_bundle_close(&f.b);
}

Test(manifest, master_lists_the_middle_variant_first)
{
    struct fixture f;
    /* Peaks 3 x 1000 x 8 / 2 = 12000, 2 x ... = 8000, 4 x ... = 16000:
     * ascending 8000, 12000, 16000, the middle (12000, track 0) first, then
     * 8000 (track 1), 16000 (track 2). */
    struct tspec t[3];
    t[0] = video("avc1.640028", 640, 360, 25, 1, 1000);
    segs(&t[0], 1, 2000, 3000);
    t[1] = video("avc1.640028", 480, 270, 25, 1, 1000);
    segs(&t[1], 1, 2000, 2000);
    t[2] = video("avc1.640028", 1280, 720, 25, 1, 1000);
    segs(&t[2], 1, 2000, 4000);
    make(&f, t, 3);
    char *s = master(&f);
    const char *a = strstr(s, "BANDWIDTH=12000"), *b = strstr(s, "BANDWIDTH=8000"),
               *c = strstr(s, "BANDWIDTH=16000");
    cr_assert(a && b && c && a < b && b < c, "order:\n%s", s);
    cr_assert_str_eq(line_after(s, "BANDWIDTH=12000"), "0.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=8000,"
                     "AVERAGE-BANDWIDTH=8000,CODECS=\"avc1.640028\",RESOLUTION=480x270,"
                     "FRAME-RATE=25.000\n1.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=16000,"
                     "AVERAGE-BANDWIDTH=16000,CODECS=\"avc1.640028\",RESOLUTION=1280x720,"
                     "FRAME-RATE=25.000\n2.m3u8\n");
    assert_lacks(s, "AUDIO=");
    assert_lacks(s, "#EXT-X-MEDIA");
    free(s);
    pc_bundle_close(&f.b);
}

Test(manifest, master_audio_only_lists_each_audio_track)
{
    struct fixture f;
    struct tspec t[2];
    /* Track 1 is flagged default: it is listed first.  Peaks: 1000 x 8 / 2
     * = 4000 and 3000 x 8 / 2 = 12000. */
    t[0] = audio(PC_CODEC_AAC, "mp4a.40.2", "eng", "", 1000, 2);
    segs(&t[0], 1, 2000, 1000);
    t[1] = audio(PC_CODEC_OPUS, "opus", "fra", "", 1000, 2);
    t[1].rec.flags = PC_TRACK_DEFAULT;
    segs(&t[1], 1, 2000, 3000);
    make(&f, t, 2);
    char *s = master(&f);
    cr_assert_str_eq(s, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\n"
                     "#EXT-X-STREAM-INF:BANDWIDTH=12000,AVERAGE-BANDWIDTH=12000,CODECS=\"opus\"\n"
                     "1.m3u8\n"
                     "#EXT-X-STREAM-INF:BANDWIDTH=4000,AVERAGE-BANDWIDTH=4000,CODECS=\"mp4a.40.2\"\n"
                     "0.m3u8\n");
    free(s);
    pc_bundle_close(&f.b);
}

Test(manifest, master_never_writes_removed_tags)
{
    struct fixture f;
    ladder(&f, "mp4a.40.2", "ac-3", PC_CODEC_AC3);
    char *s = master(&f);
    assert_lacks(s, "PROGRAM-ID");
    assert_lacks(s, "EXT-X-ALLOW-CACHE");
    cr_assert_eq(strncmp(s, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n", 53), 0);
    free(s);
    for (unsigned t = 0; t < 4; t++) {
        s = media(&f, t);
        assert_lacks(s, "EXT-X-ALLOW-CACHE");
        free(s);
    }
    pc_bundle_close(&f.b);
}

Test(manifest, master_names_and_tags_languages)
{
    struct fixture f;
    struct tspec t[6];
    t[0] = video("avc1.640028", 1280, 720, 25, 1, 1000);
    t[1] = audio(PC_CODEC_AAC, "mp4a.40.2", "eng", "", 1000, 2);
    t[2] = audio(PC_CODEC_AAC, "mp4a.40.2", "fre", "", 1000, 2);       /* 639-2/B */
    t[3] = audio(PC_CODEC_AAC, "mp4a.40.2", "und", "", 1000, 2);
    t[4] = audio(PC_CODEC_AAC, "mp4a.40.2", "pt-BR", "Director's \"cut\"", 1000, 2);
    t[4].rec.flags = PC_TRACK_DEFAULT;
    t[5] = audio(PC_CODEC_AAC, "mp4a.40.2", "xx1", "", 1000, 1);      /* malformed */
    for (int i = 0; i < 6; i++)
        segs(&t[i], 1, 2000, 0);
    make(&f, t, 6);
    char *s = master(&f);
    assert_has(s, "NAME=\"English\",LANGUAGE=\"en\",DEFAULT=NO,AUTOSELECT=YES,CHANNELS=\"2\","
               "URI=\"1.m3u8\"\n");
    assert_has(s, "NAME=\"français\",LANGUAGE=\"fr\",DEFAULT=NO,");
    /* "und" declares no language; the third audio track is "Audio 3". */
    assert_has(s, "NAME=\"Audio 3\",DEFAULT=NO,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"3.m3u8\"\n");
    /* The flagged track is the group's default; '"' cannot be in a
     * quoted-string (RFC 8216 4.2), so it becomes '\''. */
    assert_has(s, "NAME=\"Director's 'cut'\",LANGUAGE=\"pt-BR\",DEFAULT=YES,AUTOSELECT=YES,");
    assert_has(s, "NAME=\"Audio 5\",DEFAULT=NO,AUTOSELECT=YES,CHANNELS=\"1\",URI=\"5.m3u8\"\n");
    cr_assert_eq(count(s, "DEFAULT=YES"), 1);
    assert_lacks(s, "LANGUAGE=\"und\"");
    assert_lacks(s, "xx1");
    free(s);
    pc_bundle_close(&f.b);
}

Test(manifest, master_numbers_repeated_names_in_a_group)
{
    struct fixture f;
    struct tspec t[4];
    t[0] = video("avc1.640028", 1280, 720, 25, 1, 1000);
    t[1] = audio(PC_CODEC_AAC, "mp4a.40.2", "eng", "", 48000, 2);
    t[2] = audio(PC_CODEC_AAC, "mp4a.40.2", "eng", "", 44100, 2);
    t[3] = audio(PC_CODEC_OPUS, "opus", "eng", "", 48000, 2);    /* another group */
    segs(&t[0], 1, 2000, 0);
    segs(&t[1], 1, 96000, 0);
    segs(&t[2], 1, 88200, 0);
    segs(&t[3], 1, 96000, 0);
    make(&f, t, 4);
    char *s = master(&f);
    assert_has(s, "GROUP-ID=\"aud-aac\",NAME=\"English\",LANGUAGE=\"en\",DEFAULT=YES,");
    assert_has(s, "GROUP-ID=\"aud-aac\",NAME=\"English 2\",LANGUAGE=\"en\",DEFAULT=NO,");
    assert_has(s, "GROUP-ID=\"aud-opus\",NAME=\"English\",LANGUAGE=\"en\",DEFAULT=YES,");
    free(s);
    pc_bundle_close(&f.b);
}

Test(manifest, text_tracks_are_left_out_of_master_and_mpd)
{
    struct fixture f;
    /* Subtitles are not offered yet (docs/manifests.md): the master and the
     * MPD leave the WebVTT track out, and its 9 s segment neither raises
     * the title's target duration (RFC 8216 6.2.4 exempts subtitles) nor
     * breaks 4.3.3.1 in its own playlist. */
    struct tspec t[2];
    t[0] = video("avc1.640028", 1280, 720, 25, 1, 1000);
    segs(&t[0], 4, 2000, 0);
    t[1] = (struct tspec){0};
    t[1].rec.kind = PC_KIND_TEXT;
    t[1].rec.codec = PC_CODEC_WEBVTT;
    t[1].rec.timescale = 1000;
    snprintf(t[1].rec.codecs, sizeof t[1].rec.codecs, "wvtt");
    snprintf(t[1].rec.language, sizeof t[1].rec.language, "eng");
    segs(&t[1], 1, 9000, 0);
    make(&f, t, 2);
    char *m = master(&f), *d = mpd(&f), *v = media(&f, 0), *x = media(&f, 1);
    assert_lacks(m, "1.m3u8");
    assert_lacks(m, "wvtt");
    assert_lacks(d, "<Representation id=\"1\"");
    assert_has(d, "mediaPresentationDuration=\"PT8.000S\" minBufferTime=\"PT2.000S\"");
    assert_has(v, "#EXT-X-TARGETDURATION:2\n");
    assert_has(x, "#EXT-X-TARGETDURATION:9\n#EXT-X-PLAYLIST-TYPE:VOD\n");
    assert_has(x, "#EXTINF:9.000,\n");
    free(m);
    free(d);
    free(v);
    free(x);
    pc_bundle_close(&f.b);
}

/* ------------------------------------------------------------------ DASH */

Test(manifest, mpd_timeline_is_the_runs)
{
    struct fixture f;
    struct tspec v = video("avc1.640028", 1280, 720, 25, 1, 1000);
    segs(&v, 10, 2000, 0);
    segs(&v, 1, 1500, 0);
    make(&f, &v, 1);
    char *s = mpd(&f);
    /* 11 segments, two runs: r = count - 1 = 9, and no r on a single one. */
    assert_has(s, "<SegmentTimeline>\n          <S t=\"0\" d=\"2000\" r=\"9\"/>\n"
               "          <S d=\"1500\"/>\n        </SegmentTimeline>\n");
    cr_assert_eq(count(s, "<S "), 2);
    /* 10 x 2 + 1.5 = 21.5 s; the longest segment is 2 s. */
    assert_has(s, "mediaPresentationDuration=\"PT21.500S\" minBufferTime=\"PT2.000S\"");
    free(s);
    pc_bundle_close(&f.b);
}

Test(manifest, mpd_keeps_a_late_start)
{
    struct fixture f;
    struct tspec t[2];
    t[0] = video("avc1.640028", 1280, 720, 25, 1, 12800);
    segs(&t[0], 2, 25600, 0);                          /* 0 .. 4 s */
    t[1] = audio(PC_CODEC_AAC, "mp4a.40.2", "eng", "", 48000, 2);
    t[1].start = 24000;                                /* 0.5 s late */
    segs(&t[1], 2, 96000, 0);                          /* 0.5 .. 4.5 s */
    make(&f, t, 2);
    char *s = mpd(&f);
    assert_has(s, "<S t=\"0\" d=\"25600\" r=\"1\"/>");
    assert_has(s, "<S t=\"24000\" d=\"96000\" r=\"1\"/>");
    assert_lacks(s, "presentationTimeOffset");
    /* The title ends with the audio at 4.5 s. */
    assert_has(s, "mediaPresentationDuration=\"PT4.500S\"");
    free(s);
    pc_bundle_close(&f.b);
}

Test(manifest, mpd_describes_video_and_audio)
{
    struct fixture f;
    ladder(&f, "mp4a.40.2", "mp4a.40.2", PC_CODEC_AAC);
    char *s = mpd(&f);
    assert_has(s, "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\""
               " profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" type=\"static\""
               " mediaPresentationDuration=\"PT4.000S\" minBufferTime=\"PT2.000S\">");
    /* One video set: the larger size, the higher frame rate; 16:9 both. */
    assert_has(s, "<AdaptationSet id=\"0\" contentType=\"video\" mimeType=\"video/mp4\""
               " segmentAlignment=\"true\" startWithSAP=\"1\" maxWidth=\"1280\""
               " maxHeight=\"720\" maxFrameRate=\"30000/1001\" par=\"16:9\">");
    assert_has(s, "<Representation id=\"0\" bandwidth=\"20000\" codecs=\"avc1.640028\""
               " width=\"1280\" height=\"720\" frameRate=\"30000/1001\" sar=\"1:1\"/>");
    assert_has(s, "<Representation id=\"1\" bandwidth=\"10000\" codecs=\"avc1.64001f\""
               " width=\"640\" height=\"360\" frameRate=\"24\" sar=\"1:1\"/>");
    /* One set per language; the first audio track's is main. */
    assert_has(s, "<AdaptationSet id=\"1\" contentType=\"audio\" lang=\"en\""
               " mimeType=\"audio/mp4\" segmentAlignment=\"true\" startWithSAP=\"1\">\n"
               "      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"main\"/>\n");
    assert_has(s, "<AdaptationSet id=\"2\" contentType=\"audio\" lang=\"fr\"");
    cr_assert_eq(count(s, "value=\"main\""), 1);
    assert_has(s, "<Representation id=\"3\" bandwidth=\"8000\" codecs=\"mp4a.40.2\""
               " audioSamplingRate=\"1000\">\n        <AudioChannelConfiguration"
               " schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\""
               " value=\"6\"/>\n      </Representation>\n");
    cr_assert_eq(count(s, "<AdaptationSet "), 3);
    free(s);
    pc_bundle_close(&f.b);
}

Test(manifest, mpd_urls_carry_the_generation)
{
    struct fixture f;
    struct tspec v = video("avc1.640028", 1280, 720, 25, 1, 1000);
    segs(&v, 2, 2000, 0);
    make(&f, &v, 1);
    char *s = mpd(&f);
    char want[256];
    snprintf(want, sizeof want, "<SegmentTemplate timescale=\"1000\""
             " initialization=\"%s/$RepresentationID$/init.mp4\""
             " media=\"%s/$RepresentationID$/$Number$.m4s\" startNumber=\"1\">",
             f.gen, f.gen);
    assert_has(s, want);
    free(s);
    pc_bundle_close(&f.b);
}

Test(manifest, mpd_shares_a_template_only_when_timelines_agree)
{
    struct fixture f;
    struct tspec t[4];
    /* Two videos with one timeline: one template, in the set.  Two English
     * AAC tracks at 48 and 44.1 kHz: one set (same language and codec) but
     * two timescales, so a template in each Representation. */
    t[0] = video("avc1.640028", 1280, 720, 25, 1, 1000);
    t[1] = video("avc1.64001f", 640, 360, 25, 1, 1000);
    segs(&t[0], 2, 2000, 0);
    segs(&t[1], 2, 2000, 0);
    t[2] = audio(PC_CODEC_AAC, "mp4a.40.2", "eng", "", 48000, 2);
    t[3] = audio(PC_CODEC_AAC, "mp4a.40.2", "eng", "", 44100, 2);
    segs(&t[2], 2, 96000, 0);
    segs(&t[3], 2, 88200, 0);
    make(&f, t, 4);
    char *s = mpd(&f);
    cr_assert_eq(count(s, "<AdaptationSet "), 2);
    cr_assert_eq(count(s, "<SegmentTemplate "), 3);
    assert_has(s, "      <SegmentTemplate timescale=\"1000\"");
    assert_has(s, "        <SegmentTemplate timescale=\"48000\"");
    assert_has(s, "        <SegmentTemplate timescale=\"44100\"");
    assert_has(s, "<S t=\"0\" d=\"96000\" r=\"1\"/>");
    assert_has(s, "<S t=\"0\" d=\"88200\" r=\"1\"/>");
    free(s);
    pc_bundle_close(&f.b);
}

Test(manifest, mpd_escapes_labels)
{
    struct fixture f;
    struct tspec a = audio(PC_CODEC_AAC, "mp4a.40.2", "fra", "A&B <\"x'>", 1000, 2);
    segs(&a, 1, 2000, 0);
    make(&f, &a, 1);
    char *s = mpd(&f);
    assert_has(s, "<Label>A&amp;B &lt;&quot;x&apos;&gt;</Label>\n");
    assert_lacks(s, "A&B");
    free(s);
    pc_bundle_close(&f.b);
}

Test(manifest, mpd_par_and_sar_from_the_track)
{
    struct fixture f;
    /* 720x576 with SAR 16:15 displays as 768x576 = 4:3. */
    struct tspec v = video("avc1.4d401e", 720, 576, 25, 1, 1000);
    v.rec.sar_num = 16;
    v.rec.sar_den = 15;
    segs(&v, 1, 2000, 0);
    make(&f, &v, 1);
    char *s = mpd(&f);
    assert_has(s, " maxFrameRate=\"25\" par=\"4:3\">");
    assert_has(s, " sar=\"16:15\"");
    free(s);
    pc_bundle_close(&f.b);
}

/* ----------------------------------------------------------------- cache */

Test(manifest, cache_holds_every_manifest)
{
    struct fixture f;
    ladder(&f, "mp4a.40.2", "ac-3", PC_CODEC_AC3);
    struct pc_manifest_cache *mc = pc_manifest_cache_new(&f.b);
    cr_assert_not_null(mc);
    size_t len;

    const char *m = pc_manifest_get(mc, PC_MANIFEST_HLS_MASTER, 0, &len);
    char *want = master(&f);
    cr_assert_not_null(m);
    cr_assert_eq(len, strlen(want));
    cr_assert_str_eq(m, want);
    free(want);

    for (unsigned t = 0; t < 4; t++) {
        m = pc_manifest_get(mc, PC_MANIFEST_HLS_MEDIA, t, &len);
        want = media(&f, t);
        cr_assert_not_null(m);
        cr_assert_eq(len, strlen(want));
        cr_assert_str_eq(m, want);
        free(want);
    }
    cr_assert_null(pc_manifest_get(mc, PC_MANIFEST_HLS_MEDIA, 4, &len));

    m = pc_manifest_get(mc, PC_MANIFEST_DASH, 0, &len);
    want = mpd(&f);
    cr_assert_not_null(m);
    cr_assert_eq(len, strlen(want));
    cr_assert_str_eq(m, want);
    free(want);

    /* Made once: the same pointer every time. */
    cr_assert_eq(pc_manifest_get(mc, PC_MANIFEST_DASH, 0, NULL), m);
    cr_assert_null(pc_manifest_get(NULL, PC_MANIFEST_DASH, 0, &len));
    pc_manifest_cache_free(mc);
    pc_manifest_cache_free(NULL);
    pc_bundle_close(&f.b);
}

/* ------------------------------------------------------------- internals */

static void write_twice_differently(struct pc__text *t, const void *ctx)
{
    int *calls = (int *)ctx;
    pc__text_puts(t, ++*calls == 1 ? "short" : "longer text");
}

static void write_fixed(struct pc__text *t, const void *ctx)
{
    (void)ctx;
    pc__text_printf(t, "%s=%d;", "a", 42);
    pc__text_put(t, "xyz", 2);
}

Test(manifest, text_make_allocates_the_measured_size_and_verifies)
{
    size_t len = 0;
    char *s = pc__text_make(write_fixed, NULL, &len);
    cr_assert_str_eq(s, "a=42;xy");
    cr_assert_eq(len, 7);
    free(s);
    /* A writer whose two runs differ must not produce a truncated text. */
    int calls = 0;
    cr_assert_null(pc__text_make(write_twice_differently, &calls, &len));
    cr_assert_eq(calls, 2);
}

static void write_label(struct pc__text *t, const void *ctx)
{
    const char *const *args = ctx;
    pc__text_label(t, args[0], 64, args[1][0] == 'x' ? PC__LABEL_XML : PC__LABEL_HLS);
}

static void check_label(const char *in, const char *mode, const char *want)
{
    const char *args[2] = { in, mode };
    char *s = pc__text_make(write_label, args, NULL);
    cr_assert_not_null(s);
    cr_assert_str_eq(s, want, "label %s (%s)", in, mode);
    free(s);
}

Test(manifest, labels_are_sanitised)
{
    check_label("caf\xc3\xa9 \"x\"", "hls", "caf\xc3\xa9 'x'");
    check_label("a\tb\nc\x7f" "d", "hls", "a b c d");
    check_label("bad \xff\xc3 end", "hls", "bad ?? end");
    check_label("\xc0\xaf", "xml", "??");                  /* overlong '/' */
    check_label("\xed\xa0\x80", "xml", "???");             /* a surrogate */
    check_label("\xc2\x85", "xml", " ");                   /* C1 control NEL */
    check_label("<a href='x'>&</a>", "xml", "&lt;a href=&apos;x&apos;&gt;&amp;&lt;/a&gt;");
    check_label("\xf0\x9f\x8e\xac film", "xml", "\xf0\x9f\x8e\xac film");
}

static const char *bcp47(const char *tag)
{
    static char out[16];
    size_t n = pc__lang_bcp47(tag, 16, out, sizeof out);
    return n ? out : "";
}

Test(manifest, languages_become_bcp47)
{
    cr_assert_str_eq(bcp47("eng"), "en");
    cr_assert_str_eq(bcp47("fra"), "fr");
    cr_assert_str_eq(bcp47("fre"), "fr");
    cr_assert_str_eq(bcp47("ger"), "de");
    cr_assert_str_eq(bcp47("ENG"), "en");
    cr_assert_str_eq(bcp47("en"), "en");
    cr_assert_str_eq(bcp47("pt-BR"), "pt-BR");
    cr_assert_str_eq(bcp47("zh_Hant"), "zh-Hant");
    cr_assert_str_eq(bcp47("chi-Hant"), "zh-Hant");
    cr_assert_str_eq(bcp47("haw"), "haw");        /* no two-letter code: kept */
    cr_assert_str_eq(bcp47("und"), "");
    cr_assert_str_eq(bcp47(""), "");
    cr_assert_str_eq(bcp47("e"), "");
    cr_assert_str_eq(bcp47("en-"), "");
    cr_assert_str_eq(bcp47("en US"), "");
    cr_assert_str_eq(bcp47("a\"b"), "");
    cr_assert_str_eq(bcp47("en-abcdefghi"), "");   /* subtag longer than 8 */
    cr_assert_str_eq(pc__lang_name("en"), "English");
    cr_assert_str_eq(pc__lang_name("fr-CA"), "français");
    cr_assert_str_eq(pc__lang_name("de"), "Deutsch");
    cr_assert_null(pc__lang_name("haw"));
    cr_assert_null(pc__lang_name("xx"));
}
