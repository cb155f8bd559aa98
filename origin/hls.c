/*
 * HLS playlists (RFC 8216, protocol version 7, and Apple's HLS Authoring
 * Specification) from an open bundle: a pure function from the index to
 * text.  The multivariant playlist lists every video track as a variant
 * with the title's audio as EXT-X-MEDIA groups; a media playlist formats one
 * track's run-length timeline (timeline.c).  docs/manifests.md explains each
 * choice; the URL scheme is in manifest.h.
 *
 * Every number is an integer in the track's timescale until it is printed:
 * EXTINF is the segment duration rounded to the microsecond, exactly as
 * `pagecast-pack --dump` prints it, so a test can compare the two.
 */
#include "manifest.h"

#include "pagecast/status.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ----------------------------------------------------------------- numbers */

/* @p ticks / @p timescale in microseconds, rounded half up (128-bit, so no
 * tick count overflows). */
static uint64_t ticks_us(uint64_t ticks, uint32_t timescale)
{
    unsigned __int128 us = ((unsigned __int128)ticks * 1000000u + timescale / 2) / timescale;
    return us > UINT64_MAX ? UINT64_MAX : (uint64_t)us;
}

/* A duration in microseconds as a decimal-floating-point (RFC 8216 4.2)
 * with 3 to 6 decimals: trailing zeros past the third are dropped
 * ("6.000", "1.5" -> "1.500", "0.033367"). */
static void put_seconds_us(struct pc__text *t, uint64_t us)
{
    unsigned frac = (unsigned)(us % 1000000u);
    int digits = 6;
    while (digits > 3 && frac % 10 == 0) {
        frac /= 10;
        digits--;
    }
    pc__text_printf(t, "%" PRIu64 ".%0*u", us / 1000000u, digits, frac);
}

/*
 * EXT-X-TARGETDURATION for the title.  RFC 8216 4.3.3.1: the EXTINF
 * duration of each segment, rounded to the nearest integer, MUST be <= the
 * target duration; so the target is the largest EXTINF as printed (in whole
 * microseconds) rounded half up.  RFC 8216 6.2.4: every media playlist of
 * every variant stream MUST have the same target duration, so it is the
 * maximum over all audio and video tracks, not just this one (subtitle
 * renditions are the exception the same clause allows).  Never 0.
 */
static uint64_t target_duration(const struct pc_bundle *b)
{
    uint64_t target = 1;
    for (unsigned t = 0; t < b->hdr->track_count; t++) {
        const struct pc_track_record *tr = &b->tracks[t];
        if (tr->kind == PC_KIND_TEXT)
            continue;
        /* Validated at open: the largest of the track's segment durations. */
        uint64_t s = (ticks_us(tr->max_segment_duration, tr->timescale) + 500000u) / 1000000u;
        if (s > target)
            target = s;
    }
    return target;
}

/* Do all of track @p t's segments start with a sync sample?  Audio frames
 * all are; video segments carry PC_SEGMENT_KEY from the packager. */
static bool independent(const struct pc_bundle *b, unsigned t)
{
    if (b->tracks[t].kind != PC_KIND_VIDEO)
        return true;
    uint64_t n;
    const struct pc_segment_record *s = pc_bundle_track_segments(b, t, &n);
    for (uint64_t k = 0; k < n; k++)
        if (!(s[k].flags & PC_SEGMENT_KEY))
            return false;
    return true;
}

/* ------------------------------------------------------------ media playlist */

struct media_ctx {
    const struct pc_bundle *b;
    unsigned track;
    const struct pc_timeline *tl;
};

static void write_media(struct pc__text *o, const void *ctx)
{
    const struct media_ctx *c = ctx;
    const struct pc_bundle *b = c->b;
    const struct pc_timeline *tl = c->tl;
    uint64_t gen = b->hdr->generation;

    pc__text_puts(o, "#EXTM3U\n#EXT-X-VERSION:7\n");
    uint64_t target = target_duration(b);
    if (b->tracks[c->track].kind == PC_KIND_TEXT) {
        /* A subtitle playlist may have its own target, but never one that
         * breaks 4.3.3.1 for its own segments. */
        uint64_t own = (ticks_us(tl->max_duration, tl->timescale) + 500000u) / 1000000u;
        if (own > target)
            target = own;
    }
    pc__text_printf(o, "#EXT-X-TARGETDURATION:%" PRIu64 "\n", target);
    /* No EXT-X-MEDIA-SEQUENCE: absent means 0 (RFC 8216 4.3.3.2). */
    pc__text_puts(o, "#EXT-X-PLAYLIST-TYPE:VOD\n");
    if (independent(b, c->track))
        pc__text_puts(o, "#EXT-X-INDEPENDENT-SEGMENTS\n");
    pc__text_printf(o, "#EXT-X-MAP:URI=\"%016" PRIx64 "/%u/init.mp4\"\n", gen, c->track);
    for (size_t r = 0; r < tl->n_runs; r++) {
        const struct pc_run *run = &tl->runs[r];
        /* A run is one EXTINF value repeated: format it once. */
        char extinf[40];
        struct pc__text x = { .p = extinf, .cap = sizeof extinf - 1 };
        put_seconds_us(&x, ticks_us(run->duration, tl->timescale));
        for (uint32_t k = 0; k < run->count; k++) {
            pc__text_puts(o, "#EXTINF:");
            pc__text_put(o, extinf, x.len);
            /* Segment numbers in URLs are 1-based, as DASH's startNumber. */
            pc__text_printf(o, ",\n%016" PRIx64 "/%u/%" PRIu64 ".m4s\n",
                            gen, c->track, run->first + k + 1);
        }
    }
    pc__text_puts(o, "#EXT-X-ENDLIST\n");
}

char *pc_hls_media(const struct pc_bundle *b, unsigned track, const struct pc_timeline *tl,
                   size_t *len)
{
    struct pc_timeline own = {0};
    if (!b || !b->hdr || track >= b->hdr->track_count)
        return NULL;
    if (!tl) {
        if (pc_timeline_build(b, track, &own) < 0)
            return NULL;
        tl = &own;
    }
    struct media_ctx c = { b, track, tl };
    char *s = pc__text_make(write_media, &c, len);
    pc_timeline_free(&own);
    return s;
}

/* ------------------------------------------------------ multivariant playlist */

/* One audio group per audio codec (enum pc_codec), so that a variant's
 * CODECS lists exactly the formats its renditions carry (RFC 8216 4.3.4.2). */
struct agroup {
    unsigned codec;
    unsigned tracks[PC_BUNDLE_MAX_TRACKS];
    unsigned n;
    unsigned dflt;                  /* the one DEFAULT=YES track */
    uint64_t peak, avg;             /* the largest of its tracks' */
};

struct variant {
    unsigned track;                 /* video track, or audio for audio-only */
    int group;                      /* index into groups, -1: none */
    uint64_t bandwidth, average;
};

struct master {
    const struct pc_bundle *b;
    struct agroup groups[PC_BUNDLE_MAX_TRACKS];
    unsigned n_groups;
    struct variant variants[PC_BUNDLE_MAX_TRACKS * PC_BUNDLE_MAX_TRACKS];
    unsigned n_variants;
    unsigned audio_ordinal[PC_BUNDLE_MAX_TRACKS];   /* 1-based among audio */
    unsigned default_audio;         /* the title's default audio track */
    bool independent;
};

static const char *family(unsigned codec)
{
    switch (codec) {
    case PC_CODEC_AAC:  return "aac";
    case PC_CODEC_MP3:  return "mp3";
    case PC_CODEC_AC3:  return "ac3";
    case PC_CODEC_EAC3: return "ec3";
    case PC_CODEC_OPUS: return "opus";
    case PC_CODEC_FLAC: return "flac";
    default:            return "audio";
    }
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* The distinct codecs strings of group @p g's tracks, comma-separated, in
 * track order (mp4a.40.2 and mp4a.40.5 in one AAC group are both listed). */
static void put_group_codecs(struct pc__text *o, const struct pc_bundle *b,
                             const struct agroup *g)
{
    bool any = false;
    for (unsigned i = 0; i < g->n; i++) {
        const char *c = b->tracks[g->tracks[i]].codecs;
        bool seen = false;
        for (unsigned j = 0; j < i && !seen; j++)
            seen = strcmp(b->tracks[g->tracks[j]].codecs, c) == 0;
        if (seen || !*c)
            continue;
        if (any)
            pc__text_puts(o, ",");
        pc__text_label(o, c, sizeof b->tracks[0].codecs, PC__LABEL_HLS);
        any = true;
    }
}

/*
 * NAME of audio track @p t: the track's own name, else its language's name,
 * else "Audio N".  RFC 8216 4.3.4.1.1: the members of a group MUST have
 * different NAMEs, so a name already used earlier in the group gets " 2",
 * " 3", ... appended.
 */
static void format_name(const struct master *m, unsigned t, char *out, size_t cap)
{
    const struct pc_track_record *tr = &m->b->tracks[t];
    char lang[16];
    const char *ln = pc__lang_bcp47(tr->language, sizeof tr->language, lang, sizeof lang)
                     ? pc__lang_name(lang) : NULL;
    struct pc__text x = { .p = out, .cap = cap - 1 };

    if (tr->name[0])
        pc__text_label(&x, tr->name, sizeof tr->name, PC__LABEL_HLS);
    else if (ln)
        pc__text_puts(&x, ln);
    else
        pc__text_printf(&x, "Audio %u", m->audio_ordinal[t]);
    out[x.bad ? 0 : x.len] = '\0';
}

static void put_name(struct pc__text *o, const struct master *m, const struct agroup *g,
                     unsigned i)
{
    char mine[256], other[256];
    unsigned same = 1;

    format_name(m, g->tracks[i], mine, sizeof mine);
    for (unsigned j = 0; j < i; j++) {
        format_name(m, g->tracks[j], other, sizeof other);
        same += strcmp(mine, other) == 0;
    }
    pc__text_puts(o, mine);
    if (same > 1)
        pc__text_printf(o, " %u", same);
}

static void put_media(struct pc__text *o, const struct master *m, const struct agroup *g)
{
    const struct pc_bundle *b = m->b;
    for (unsigned i = 0; i < g->n; i++) {
        unsigned t = g->tracks[i];
        const struct pc_track_record *tr = &b->tracks[t];
        char lang[16];

        pc__text_printf(o, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud-%s\",NAME=\"",
                        family(g->codec));
        put_name(o, m, g, i);
        pc__text_puts(o, "\"");
        if (pc__lang_bcp47(tr->language, sizeof tr->language, lang, sizeof lang))
            pc__text_printf(o, ",LANGUAGE=\"%s\"", lang);
        /* RFC 8216 4.3.4.1: at most one DEFAULT=YES per group, and
         * AUTOSELECT MUST be YES where DEFAULT is.  Every track may be
         * chosen by language preference, so all are AUTOSELECT. */
        pc__text_printf(o, ",DEFAULT=%s,AUTOSELECT=YES", t == g->dflt ? "YES" : "NO");
        if (tr->channels)
            pc__text_printf(o, ",CHANNELS=\"%u\"", (unsigned)tr->channels);
        pc__text_printf(o, ",URI=\"%u.m3u8\"\n", t);
    }
}

static void put_variant(struct pc__text *o, const struct master *m, const struct variant *v)
{
    const struct pc_track_record *tr = &m->b->tracks[v->track];
    const struct agroup *g = v->group >= 0 ? &m->groups[v->group] : NULL;

    pc__text_printf(o, "#EXT-X-STREAM-INF:BANDWIDTH=%" PRIu64 ",AVERAGE-BANDWIDTH=%" PRIu64
                    ",CODECS=\"", v->bandwidth, v->average);
    pc__text_label(o, tr->codecs, sizeof tr->codecs, PC__LABEL_HLS);
    if (g) {
        pc__text_puts(o, ",");
        put_group_codecs(o, m->b, g);
    }
    pc__text_puts(o, "\"");
    if (tr->kind == PC_KIND_VIDEO) {
        if (tr->width && tr->height)
            pc__text_printf(o, ",RESOLUTION=%ux%u", tr->width, tr->height);
        if (tr->frame_rate_num && tr->frame_rate_den) {
            /* RFC 8216 4.3.4.2: rounded to three decimal places. */
            uint64_t mfps = ((uint64_t)tr->frame_rate_num * 1000u + tr->frame_rate_den / 2) /
                            tr->frame_rate_den;
            pc__text_printf(o, ",FRAME-RATE=%" PRIu64 ".%03u", mfps / 1000u,
                            (unsigned)(mfps % 1000u));
        }
    }
    if (g)
        pc__text_printf(o, ",AUDIO=\"aud-%s\"", family(g->codec));
    pc__text_printf(o, "\n%u.m3u8\n", v->track);
}

static int by_bandwidth(const void *pa, const void *pb)
{
    const struct variant *a = pa, *b = pb;
    if (a->bandwidth != b->bandwidth)
        return a->bandwidth < b->bandwidth ? -1 : 1;
    if (a->track != b->track)
        return a->track < b->track ? -1 : 1;
    return a->group < b->group ? -1 : a->group > b->group;
}

static void plan(struct master *m)
{
    const struct pc_bundle *b = m->b;
    unsigned n = b->hdr->track_count, n_audio = 0, n_video = 0;

    m->independent = true;
    for (unsigned t = 0; t < n; t++) {
        const struct pc_track_record *tr = &b->tracks[t];
        if (tr->kind == PC_KIND_VIDEO)
            n_video++;
        if (tr->kind != PC_KIND_AUDIO)
            continue;
        m->audio_ordinal[t] = ++n_audio;
        struct agroup *g = NULL;
        for (unsigned i = 0; i < m->n_groups && !g; i++)
            if (m->groups[i].codec == tr->codec)
                g = &m->groups[i];
        if (!g) {
            g = &m->groups[m->n_groups++];
            g->codec = tr->codec;
            g->dflt = t;
        } else if ((tr->flags & PC_TRACK_DEFAULT) &&
                   !(b->tracks[g->dflt].flags & PC_TRACK_DEFAULT)) {
            g->dflt = t;            /* the first default-flagged track wins */
        }
        g->tracks[g->n++] = t;
        if (tr->bitrate_peak > g->peak)
            g->peak = tr->bitrate_peak;
        if (tr->bitrate_avg > g->avg)
            g->avg = tr->bitrate_avg;
    }
    for (unsigned t = 0; t < n; t++)
        if (b->tracks[t].kind != PC_KIND_TEXT && !independent(b, t))
            m->independent = false;

    /* The title's default audio track: the first flagged default, else the
     * first audio track. */
    unsigned first = UINT32_MAX;
    for (unsigned t = 0; t < n; t++)
        if (b->tracks[t].kind == PC_KIND_AUDIO &&
            (first == UINT32_MAX || ((b->tracks[t].flags & PC_TRACK_DEFAULT) &&
                                     !(b->tracks[first].flags & PC_TRACK_DEFAULT))))
            first = t;
    m->default_audio = first;

    if (n_video == 0) {
        /* Audio only: each audio track is a variant of its own (a client
         * needs an EXT-X-STREAM-INF to play anything), the default one
         * first (clients start with the first one listed), then the others
         * in track order. */
        for (unsigned i = 0; i < n && first != UINT32_MAX; i++) {
            /* i == 0 is the first; then every other track in order. */
            unsigned t = i == 0 ? first : i - (i <= first);
            const struct pc_track_record *tr = &b->tracks[t];
            if (tr->kind != PC_KIND_AUDIO)
                continue;
            m->variants[m->n_variants++] = (struct variant){
                .track = t, .group = -1,
                .bandwidth = tr->bitrate_peak, .average = tr->bitrate_avg };
        }
        return;
    }

    /* Each video track with each audio group (a variant names one AUDIO
     * group).  RFC 8216 4.3.4.2: BANDWIDTH is the largest sum of peak rates
     * of any playable combination of renditions, so video peak + the
     * group's largest audio peak; AVERAGE-BANDWIDTH likewise with averages. */
    for (unsigned t = 0; t < n; t++) {
        const struct pc_track_record *tr = &b->tracks[t];
        if (tr->kind != PC_KIND_VIDEO)
            continue;
        unsigned ng = m->n_groups ? m->n_groups : 1;
        for (unsigned gi = 0; gi < ng; gi++) {
            const struct agroup *g = m->n_groups ? &m->groups[gi] : NULL;
            m->variants[m->n_variants++] = (struct variant){
                .track = t, .group = g ? (int)gi : -1,
                .bandwidth = sat_add(tr->bitrate_peak, g ? g->peak : 0),
                .average = sat_add(tr->bitrate_avg, g ? g->avg : 0) };
        }
    }
    /* Ascending bandwidth; then the start variant (Apple's clients start
     * with the first one listed) is moved to the front: the middle of the
     * ladder, neither the most expensive nor the worst picture, among the
     * variants with the default audio (so a client that cannot play, say,
     * AC-3 does not start on it). */
    qsort(m->variants, m->n_variants, sizeof m->variants[0], by_bandwidth);
    int dgroup = -1;
    for (unsigned i = 0; i < m->n_groups; i++)
        for (unsigned k = 0; k < m->groups[i].n; k++)
            if (m->groups[i].tracks[k] == m->default_audio)
                dgroup = (int)i;
    unsigned n_start = 0, mid = 0;
    for (unsigned i = 0; i < m->n_variants; i++)
        n_start += m->variants[i].group == dgroup;
    for (unsigned i = 0, k = 0; i < m->n_variants; i++)
        if (m->variants[i].group == dgroup && k++ == (n_start - 1) / 2)
            mid = i;
    struct variant start = m->variants[mid];
    memmove(&m->variants[1], &m->variants[0], mid * sizeof m->variants[0]);
    m->variants[0] = start;
}

static void write_master(struct pc__text *o, const void *ctx)
{
    const struct master *m = ctx;
    bool audio_only = m->n_variants && m->b->tracks[m->variants[0].track].kind == PC_KIND_AUDIO;

    pc__text_puts(o, "#EXTM3U\n#EXT-X-VERSION:7\n");
    if (m->independent)
        pc__text_puts(o, "#EXT-X-INDEPENDENT-SEGMENTS\n");
    if (!audio_only && m->n_groups) {
        pc__text_puts(o, "\n");
        for (unsigned i = 0; i < m->n_groups; i++)
            put_media(o, m, &m->groups[i]);
    }
    pc__text_puts(o, "\n");
    for (unsigned i = 0; i < m->n_variants; i++)
        put_variant(o, m, &m->variants[i]);
}

char *pc_hls_master(const struct pc_bundle *b, size_t *len)
{
    if (!b || !b->hdr || b->hdr->track_count > PC_BUNDLE_MAX_TRACKS)
        return NULL;
    /* ~270 KiB at the 64-track maximum: on the heap, once per generation. */
    struct master *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->b = b;
    plan(m);
    char *s = pc__text_make(write_master, m, len);
    free(m);
    return s;
}
