/*
 * The DASH MPD (ISO/IEC 23009-1, DASH-IF Interoperability Points) of a
 * bundle: a pure function from the index and the tracks' run-length
 * timelines (timeline.c) to a static MPD in the ISO BMFF live profile —
 * SegmentTemplate with $Number$ and a SegmentTimeline in each track's own
 * integer timescale, so every segment's time is exact.  docs/manifests.md
 * explains each choice; the URL scheme is in manifest.h.
 *
 * Layout: one Period; one AdaptationSet per video codec (the ladder) and one
 * per audio language and codec; a Representation per track, whose id is the
 * track index (so $RepresentationID$ expands to the track in the URL).
 */
#include "manifest.h"

#include "pagecast/status.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* An AdaptationSet: tracks of one kind that a player may switch between. */
struct aset {
    unsigned kind;
    unsigned codec;
    char lang[16];                  /* BCP 47, "" if undetermined (audio) */
    unsigned tracks[PC_BUNDLE_MAX_TRACKS];
    unsigned n;
    bool main_role;                 /* holds the title's default audio track */
    bool shared_template;           /* all tracks have the same timeline */
};

struct mpd {
    const struct pc_bundle *b;
    const struct pc_timeline *tls;
    struct aset sets[PC_BUNDLE_MAX_TRACKS];
    unsigned n_sets;
};

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}

/* ceil(@p ticks / @p timescale) in milliseconds, as xs:duration "PTs.mmmS". */
static void put_duration(struct pc__text *o, uint64_t ticks, uint32_t timescale)
{
    unsigned __int128 ms = ((unsigned __int128)ticks * 1000u + timescale - 1) / timescale;
    uint64_t m = ms > UINT64_MAX ? UINT64_MAX : (uint64_t)ms;
    pc__text_printf(o, "PT%" PRIu64 ".%03uS", m / 1000u, (unsigned)(m % 1000u));
}

/* Is @p a's duration in seconds larger than @p b's?  (Cross-multiplied in
 * 128 bits: the tracks have different timescales.) */
static bool longer(uint64_t a, uint32_t ts_a, uint64_t b, uint32_t ts_b)
{
    return (unsigned __int128)a * ts_b > (unsigned __int128)b * ts_a;
}

static bool same_timeline(const struct pc_timeline *x, const struct pc_timeline *y)
{
    if (x->timescale != y->timescale || x->n_runs != y->n_runs)
        return false;
    for (size_t i = 0; i < x->n_runs; i++)
        if (x->runs[i].start != y->runs[i].start || x->runs[i].duration != y->runs[i].duration ||
            x->runs[i].count != y->runs[i].count)
            return false;
    return true;
}

static void plan(struct mpd *m)
{
    const struct pc_bundle *b = m->b;
    unsigned n = b->hdr->track_count;
    unsigned dflt = UINT32_MAX;     /* the title's default audio track */

    for (unsigned t = 0; t < n; t++)
        if (b->tracks[t].kind == PC_KIND_AUDIO &&
            (dflt == UINT32_MAX || ((b->tracks[t].flags & PC_TRACK_DEFAULT) &&
                                    !(b->tracks[dflt].flags & PC_TRACK_DEFAULT))))
            dflt = t;

    /* Video sets first, then audio, each in order of first appearance. */
    for (unsigned kind = PC_KIND_VIDEO; kind <= PC_KIND_AUDIO; kind++) {
        for (unsigned t = 0; t < n; t++) {
            const struct pc_track_record *tr = &b->tracks[t];
            if (tr->kind != kind)
                continue;
            char lang[16] = "";
            if (kind == PC_KIND_AUDIO)
                pc__lang_bcp47(tr->language, sizeof tr->language, lang, sizeof lang);
            struct aset *s = NULL;
            for (unsigned i = 0; i < m->n_sets && !s; i++)
                if (m->sets[i].kind == kind && m->sets[i].codec == tr->codec &&
                    strcmp(m->sets[i].lang, lang) == 0)
                    s = &m->sets[i];
            if (!s) {
                s = &m->sets[m->n_sets++];
                s->kind = kind;
                s->codec = tr->codec;
                memcpy(s->lang, lang, sizeof lang);
            }
            s->tracks[s->n++] = t;
            if (t == dflt)
                s->main_role = true;
        }
    }
    for (unsigned i = 0; i < m->n_sets; i++) {
        struct aset *s = &m->sets[i];
        s->shared_template = true;
        for (unsigned k = 1; k < s->n; k++)
            if (!same_timeline(&m->tls[s->tracks[0]], &m->tls[s->tracks[k]]))
                s->shared_template = false;
    }
}

/* SegmentTemplate with SegmentTimeline (ISO/IEC 23009-1 5.3.9.4, 5.3.9.6)
 * for timeline @p tl.  Each run is one S; S@t is written on the first S and
 * wherever a run does not start where the previous one ended.  With no
 * presentationTimeOffset, S@t is the segment's earliest presentation time,
 * so a track that starts late (audio delayed by 0.5 s) keeps its offset. */
static void put_template(struct pc__text *o, const struct mpd *m, const struct pc_timeline *tl,
                         const char *indent)
{
    uint64_t gen = m->b->hdr->generation;
    pc__text_printf(o, "%s<SegmentTemplate timescale=\"%" PRIu32 "\""
                    " initialization=\"%016" PRIx64 "/$RepresentationID$/init.mp4\""
                    " media=\"%016" PRIx64 "/$RepresentationID$/$Number$.m4s\""
                    " startNumber=\"1\">\n", indent, tl->timescale, gen, gen);
    pc__text_printf(o, "%s  <SegmentTimeline>\n", indent);
    uint64_t next = 0;
    for (size_t i = 0; i < tl->n_runs; i++) {
        const struct pc_run *r = &tl->runs[i];
        pc__text_printf(o, "%s    <S", indent);
        if (i == 0 || r->start != next)
            pc__text_printf(o, " t=\"%" PRIu64 "\"", r->start);
        pc__text_printf(o, " d=\"%" PRIu32 "\"", r->duration);
        if (r->count > 1)
            pc__text_printf(o, " r=\"%" PRIu32 "\"", r->count - 1);
        pc__text_puts(o, "/>\n");
        next = r->start + (uint64_t)r->duration * r->count;
    }
    pc__text_printf(o, "%s  </SegmentTimeline>\n%s</SegmentTemplate>\n", indent, indent);
}

/* FrameRateType: "num/den" reduced, or an integer. */
static void put_rate(struct pc__text *o, uint64_t num, uint64_t den)
{
    uint64_t g = gcd(num, den);
    num /= g;
    den /= g;
    if (den == 1)
        pc__text_printf(o, "%" PRIu64, num);
    else
        pc__text_printf(o, "%" PRIu64 "/%" PRIu64, num, den);
}

/* The display aspect ratio of a video track, reduced: width x sar : height. */
static void aspect(const struct pc_track_record *tr, uint64_t *w, uint64_t *h)
{
    uint64_t sn = tr->sar_num && tr->sar_den ? tr->sar_num : 1;
    uint64_t sd = tr->sar_num && tr->sar_den ? tr->sar_den : 1;
    uint64_t x = (uint64_t)tr->width * sn, y = (uint64_t)tr->height * sd;
    uint64_t g = gcd(x, y);
    *w = g ? x / g : 0;
    *h = g ? y / g : 0;
}

static void put_video_set_attrs(struct pc__text *o, const struct mpd *m, const struct aset *s)
{
    const struct pc_track_record *tr = m->b->tracks;
    uint32_t mw = 0, mh = 0, fn = 0, fd = 1;
    uint64_t pw = 0, ph = 0;
    bool par_same = true;

    for (unsigned k = 0; k < s->n; k++) {
        const struct pc_track_record *v = &tr[s->tracks[k]];
        if (v->width > mw)
            mw = v->width;
        if (v->height > mh)
            mh = v->height;
        if (v->frame_rate_num && v->frame_rate_den &&
            (uint64_t)v->frame_rate_num * fd > (uint64_t)fn * v->frame_rate_den) {
            fn = v->frame_rate_num;
            fd = v->frame_rate_den;
        }
        uint64_t w, h;
        aspect(v, &w, &h);
        if (k == 0) {
            pw = w;
            ph = h;
        } else if (w != pw || h != ph) {
            par_same = false;
        }
    }
    if (mw && mh)
        pc__text_printf(o, " maxWidth=\"%" PRIu32 "\" maxHeight=\"%" PRIu32 "\"", mw, mh);
    if (fn) {
        pc__text_puts(o, " maxFrameRate=\"");
        put_rate(o, fn, fd);
        pc__text_puts(o, "\"");
    }
    /* @par is the set's picture aspect ratio (5.3.3.2): only when all agree. */
    if (par_same && pw && ph)
        pc__text_printf(o, " par=\"%" PRIu64 ":%" PRIu64 "\"", pw, ph);
}

static void put_representation(struct pc__text *o, const struct mpd *m, const struct aset *s,
                               unsigned t)
{
    const struct pc_track_record *tr = &m->b->tracks[t];
    /* @bandwidth is an xs:unsignedInt.  The peak segment rate with
     * minBufferTime >= the longest segment satisfies 5.3.5.2's bucket model. */
    uint64_t bw = tr->bitrate_peak > UINT32_MAX ? UINT32_MAX : tr->bitrate_peak;
    bool children = s->kind == PC_KIND_AUDIO || !s->shared_template;

    pc__text_printf(o, "      <Representation id=\"%u\" bandwidth=\"%" PRIu64 "\" codecs=\"",
                    t, bw);
    pc__text_label(o, tr->codecs, sizeof tr->codecs, PC__LABEL_XML);
    pc__text_puts(o, "\"");
    if (s->kind == PC_KIND_VIDEO) {
        if (tr->width && tr->height)
            pc__text_printf(o, " width=\"%" PRIu32 "\" height=\"%" PRIu32 "\"",
                            tr->width, tr->height);
        if (tr->frame_rate_num && tr->frame_rate_den) {
            pc__text_puts(o, " frameRate=\"");
            put_rate(o, tr->frame_rate_num, tr->frame_rate_den);
            pc__text_puts(o, "\"");
        }
        if (tr->sar_num && tr->sar_den) {
            uint64_t g = gcd(tr->sar_num, tr->sar_den);
            pc__text_printf(o, " sar=\"%" PRIu64 ":%" PRIu64 "\"",
                            tr->sar_num / g, tr->sar_den / g);
        }
    } else if (tr->sample_rate) {
        pc__text_printf(o, " audioSamplingRate=\"%" PRIu32 "\"", tr->sample_rate);
    }
    pc__text_puts(o, children ? ">\n" : "/>\n");
    if (!children)
        return;
    if (s->kind == PC_KIND_AUDIO && tr->channels)
        /* DASH-IF IOP: with this scheme the value is the channel count. */
        pc__text_printf(o, "        <AudioChannelConfiguration"
                        " schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\""
                        " value=\"%u\"/>\n", (unsigned)tr->channels);
    if (!s->shared_template)
        put_template(o, m, &m->tls[t], "        ");
    pc__text_puts(o, "      </Representation>\n");
}

static void put_set(struct pc__text *o, const struct mpd *m, unsigned id, const struct aset *s)
{
    const struct pc_track_record *tr = m->b->tracks;
    bool video = s->kind == PC_KIND_VIDEO;

    pc__text_printf(o, "    <AdaptationSet id=\"%u\" contentType=\"%s\"", id,
                    video ? "video" : "audio");
    if (s->lang[0]) {
        pc__text_puts(o, " lang=\"");
        pc__text_label(o, s->lang, sizeof s->lang, PC__LABEL_XML);
        pc__text_puts(o, "\"");
    }
    pc__text_printf(o, " mimeType=\"%s\" segmentAlignment=\"true\" startWithSAP=\"1\"",
                    video ? "video/mp4" : "audio/mp4");
    if (video)
        put_video_set_attrs(o, m, s);
    pc__text_puts(o, ">\n");

    /* Element order is the schema's: Label (RepresentationBaseType), Role,
     * SegmentTemplate, Representation (AdaptationSetType). */
    for (unsigned k = 0; k < s->n; k++) {
        const char *name = tr[s->tracks[k]].name;
        if (name[0]) {
            pc__text_puts(o, "      <Label>");
            pc__text_label(o, name, sizeof tr->name, PC__LABEL_XML);
            pc__text_puts(o, "</Label>\n");
            break;
        }
    }
    if (s->main_role)
        pc__text_puts(o, "      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"main\"/>\n");
    if (s->shared_template)
        put_template(o, m, &m->tls[s->tracks[0]], "      ");
    for (unsigned k = 0; k < s->n; k++)
        put_representation(o, m, s, s->tracks[k]);
    pc__text_puts(o, "    </AdaptationSet>\n");
}

static void write_mpd(struct pc__text *o, const void *ctx)
{
    const struct mpd *m = ctx;
    const struct pc_bundle *b = m->b;

    /* mediaPresentationDuration: to the end of the track that ends last
     * (the Period starts at 0, and S@t times are presentation times);
     * minBufferTime: the longest segment, which with @bandwidth = the peak
     * segment rate guarantees continuous play (5.3.5.2). */
    uint64_t end = 0, maxd = 0;
    uint32_t end_ts = 1, maxd_ts = 1;
    for (unsigned t = 0; t < b->hdr->track_count; t++) {
        const struct pc_timeline *tl = &m->tls[t];
        if (b->tracks[t].kind == PC_KIND_TEXT || !tl->timescale)
            continue;
        if (longer(tl->end, tl->timescale, end, end_ts))
            end = tl->end, end_ts = tl->timescale;
        if (longer(tl->max_duration, tl->timescale, maxd, maxd_ts))
            maxd = tl->max_duration, maxd_ts = tl->timescale;
    }

    pc__text_puts(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                  "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\""
                  " profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" type=\"static\""
                  " mediaPresentationDuration=\"");
    put_duration(o, end, end_ts);
    pc__text_puts(o, "\" minBufferTime=\"");
    put_duration(o, maxd, maxd_ts);
    pc__text_puts(o, "\">\n  <Period id=\"0\" start=\"PT0S\">\n");
    for (unsigned i = 0; i < m->n_sets; i++)
        put_set(o, m, i, &m->sets[i]);
    pc__text_puts(o, "  </Period>\n</MPD>\n");
}

char *pc_dash_mpd(const struct pc_bundle *b, const struct pc_timeline *tls, size_t *len)
{
    if (!b || !b->hdr || !tls || b->hdr->track_count > PC_BUNDLE_MAX_TRACKS)
        return NULL;
    struct mpd *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->b = b;
    m->tls = tls;
    plan(m);
    char *s = pc__text_make(write_mpd, m, len);
    free(m);
    return s;
}
