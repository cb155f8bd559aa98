/*
 * The packager: source files -> one bundle of CMAF fMP4 segments.
 *
 * This is the one part of pagecast that includes libav* headers.  The flow:
 *
 *   1. Open every input through an mmap (mmap_io.c), probe its streams and
 *      pick the usable ones: each becomes a bundle track.
 *   2. Choose the reference track (the first video track, else the first
 *      audio track).  Its input is read first; the reference decides the cut
 *      times: video at the first keyframe at or after each multiple of the
 *      target duration, audio-only at the frame boundary nearest it.
 *   3. Every other track follows the cut list: video must have a keyframe at
 *      each cut (else the renditions do not align, an error), audio is cut
 *      at the frame boundary nearest each cut.  Tracks that share the
 *      reference's input wait in a short queue until the reference has read
 *      far enough to decide.
 *   4. A finished segment is formatted by fmp4.c (moof + mdat header) with
 *      the samples copied behind it and appended to the bundle writer.  The
 *      init segment of each track comes from libavformat's mp4 muxer, which
 *      knows every codec's sample entry; its codecs string is then read back
 *      from that init segment (codecs.c), so the manifest says what the
 *      player will be fed.
 *
 * Time: each track has an integer timescale.  All tracks are shifted by the
 * same title start (the earliest decode or presentation time of any used
 * stream, found by reading ahead a little before anything is written), so
 * the source's audio/video offsets survive exactly.  Decode times become
 * tfdt; composition offsets stay as the source has them (non-negative in
 * practice: trun version 0), with no edit list, so every player, ffmpeg's
 * demuxer included, presents each frame at the source's own relative time.
 * A segment's start in the index is its earliest presentation time.
 */
#include "pagecast/packager.h"

#include "pagecast/bundle.h"
#include "pagecast/codecs.h"
#include "pagecast/status.h"

#include "fmp4.h"
#include "mmap_io.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/mathematics.h>

#define ERRLEN 512

/* ------------------------------------------------------------ structures */

struct sample {
    const uint8_t *data;    /* bytes to write: in conv, buf or the source map */
    AVBufferRef *buf;       /* owned: the packet's data, unless direct or conv */
    uint8_t *conv;          /* owned: Annex B converted to length-prefixed */
    uint32_t size;          /* bytes to write */
    int64_t dts;            /* decode time, track ticks, shifted */
    int64_t pts;            /* presentation time, track ticks, shifted */
    int64_t dur;            /* source duration hint, ticks (0: unknown) */
    bool key;
};

struct sample_vec {
    struct sample *v;
    size_t n, cap;
};

struct input;

struct track {
    struct input *in;
    AVStream *st;
    unsigned index;                 /* bundle track index */
    enum pc_track_kind kind;
    enum pc_codec codec;
    AVRational tb;                  /* 1/timescale */
    bool annexb;                    /* H.264/HEVC as start codes (TS) */
    AVBSFContext *adts;             /* ADTS -> raw AAC */
    uint8_t *asc;                   /* owned: ADTS in, the AudioSpecificConfig */
    size_t asc_size;
    AVCodecParameters *par;         /* parameters the init segment uses */
    int64_t offset;                 /* title start, in this track's ticks */
    int64_t first_us;               /* first decode/presentation time seen
                                     * while reading ahead, microseconds */
    bool started;
    int64_t last_dts;
    int64_t last_dur;
    int64_t frame_dur;              /* nominal frame/packet duration, ticks */
    struct sample_vec cur;          /* samples of the open segment */
    struct sample_vec pend;         /* waiting for the reference to decide */
    size_t pend_head;
    uint64_t seg;                   /* index of the open segment (cut number) */
    int64_t next_start;             /* where the next segment must start */
    uint64_t segments_written;
    uint64_t samples;
    bool init_done;
    uint64_t dropped_leading;
};

struct input {
    const char *path;
    unsigned index;
    const struct pc_pack_buffer *buf;   /* in memory (pc__pack_buffers), or NULL */
    struct pc_input_map map;
    AVIOContext *pb;
    AVFormatContext *fmt;
    struct track **by_stream;       /* stream index -> track or NULL */
    bool indexed;                   /* mp4/mov: samples are known up front */
    bool noparse;                   /* opened with AVFMT_FLAG_NOPARSE */
    bool direct;                    /* samples come from map.data by position */
    uint64_t corrupt;
    AVPacket **ahead;               /* read ahead to find the title start */
    size_t ahead_n, ahead_head;
    int ahead_status;               /* av_read_frame's result that ended it */
};

/*
 * A segment on its way to the bundle: its header, the samples its iovec
 * points into (and so keeps alive) and its index record.  The packer fills
 * them in turn, up to WJOBS - 1 ahead of the writer thread: a video segment
 * and the audio segments cut right after it must not wait for each other.
 */
#define WJOBS 4
/* ... and while the queued jobs hold at most this many bytes of packets
 * (a direct input's samples are the source's mapping: they hold none). */
#define WJOBS_HELD_MAX (64u << 20)

struct wjob {
    struct track *t;
    struct pc_segment_record rec;
    struct sample_vec samples;
    uint8_t *hdr;                   /* moof + mdat header */
    size_t hdr_cap;
    struct iovec *iov;              /* header, then each sample's bytes */
    size_t iov_cap;
    int iovcnt;
    uint64_t held;                  /* bytes of packets its samples keep */
    size_t span_lo, span_hi;        /* a direct input: the source bytes it reads */
};

/*
 * The writer thread: appends one segment at a time to the bundle writer
 * while the packer reads and cuts the next, so reading overlaps writing
 * (which, with samples written straight from the source, is most of the
 * work).  It owns the bundle writer while jobs are queued; the packer
 * touches the writer only when none is (stage_sync()).  Measured: 9 % off
 * the packaging time (docs/benchmarks.md); with one job in flight instead
 * of a ring, nothing, as each audio segment waited for the video before it.
 */
struct wstage {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool started;
    bool quit;
    unsigned head, queued;          /* jobs[head] is written next */
    uint64_t held;                  /* sum of the queued jobs' held */
    struct wjob *failed;            /* the first job that failed, and how */
    int status;
};

struct packer {
    const struct pc_pack_opts *opts;
    const char *out;
    struct input *inputs;
    unsigned n_inputs;
    struct track *tracks;
    unsigned n_tracks;
    struct track *ref;
    int64_t title_start_us;
    int64_t target_ticks;           /* target duration in ref ticks */
    int64_t next_boundary;          /* ref ticks */
    int64_t *cuts;                  /* ref ticks; cuts[0] is the title start */
    size_t n_cuts, cap_cuts;
    bool ref_done;
    int64_t ref_max_pts;
    struct pc_bundle_writer *w;
    struct wjob jobs[WJOBS];        /* a ring: filled in turn, written in order */
    unsigned next_job;
    struct wstage ws;
    struct pc_fmp4_sample *fs;
    size_t fs_cap;
    double progress_base;
    char err[ERRLEN];
    char averr[256];                /* last error libav logged for this job */
};

/* ------------------------------------------------------------ logging */

static _Thread_local struct packer *tls_packer;

static void plog(struct packer *p, enum pc_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void plog(struct packer *p, enum pc_log_level lvl, const char *fmt, ...)
{
    if (!p->opts->log)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    p->opts->log(p->opts->ud, lvl, line);
}

/* libav logs through one global callback; route it to the job running on
 * this thread, keep its last error as the reason for a failure, and never
 * print: the library's caller decides what reaches a terminal. */
static void av_log_cb(void *avcl, int level, const char *fmt, va_list vl)
{
    struct packer *p = tls_packer;
    if (!p || level > AV_LOG_WARNING)
        return;
    char line[256];
    int print_prefix = 0;
    av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &print_prefix);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    if (!n)
        return;
    if (level <= AV_LOG_ERROR)
        av_strlcpy(p->averr, line, sizeof p->averr);
    plog(p, PC_LOG_DEBUG, "libav: %s", line);
}

static pthread_once_t av_once = PTHREAD_ONCE_INIT;
static void av_setup(void) { av_log_set_callback(av_log_cb); }

/* Record a failure "<path>: <reason>" (the first one wins). */
static int fail(struct packer *p, int status, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct packer *p, int status, const char *path, const char *fmt, ...)
{
    if (p->err[0])
        return status;
    char reason[ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    int n = snprintf(p->err, sizeof p->err, "%s: ", path);
    if (n > 0 && (size_t)n < sizeof p->err)
        av_strlcpy(p->err + n, reason, sizeof p->err - (size_t)n);
    return status;
}

/* A source that lost bytes while it was read (truncated or rewritten). */
static int fail_shrank(struct packer *p, const char *path)
{
    return fail(p, PC_EMEDIA, path, "the file shrank while it was being read");
}

static const char *averr_str(int e, char *buf, size_t len)
{
    av_strerror(e, buf, len);
    return buf;
}

/* The single translation of AVERROR values into pagecast statuses. */
static int status_from_av(int e)
{
    if (e == AVERROR(ENOMEM))
        return PC_ENOMEM;
    if (e < 0 && e > -4096)
        return pc_status_from_errno(-e);
    return PC_EMEDIA;
}

/* ------------------------------------------------------------ helpers */

static int vec_push(struct sample_vec *v, const struct sample *s)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        struct sample *nv = realloc(v->v, cap * sizeof *nv);
        if (!nv)
            return PC_ENOMEM;
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = *s;
    return 0;
}

static void sample_free(struct sample *s)
{
    av_buffer_unref(&s->buf);
    free(s->conv);
    s->conv = NULL;
}

static void vec_clear(struct sample_vec *v)
{
    for (size_t i = 0; i < v->n; i++)
        sample_free(&v->v[i]);
    v->n = 0;
}

static void vec_free(struct sample_vec *v)
{
    vec_clear(v);
    free(v->v);
    v->v = NULL;
    v->cap = 0;
}

static double ticks_s(int64_t t, AVRational tb) { return (double)t * av_q2d(tb); }

static bool is_annexb(const AVCodecParameters *par)
{
    /* avcC/hvcC start with configurationVersion 1; Annex B extradata (or
     * none, as in a raw or TS stream) starts with a start code. */
    return !(par->extradata_size >= 1 && par->extradata[0] == 1);
}

/* Annex B (start codes) to 4-byte length-prefixed NAL units, as the avc1 and
 * hvc1 sample entries require (ISO/IEC 14496-15 5.3.2). */
static int annexb_to_lp(const uint8_t *in, size_t n, uint8_t **out, uint32_t *outn)
{
    uint8_t *o = malloc(n + 64);
    if (!o)
        return PC_ENOMEM;
    size_t on = 0, i = 0;
    /* find the first start code */
    while (i + 3 <= n && !(in[i] == 0 && in[i + 1] == 0 && in[i + 2] == 1))
        i++;
    while (i + 3 <= n) {
        size_t start = i + 3, j = start;
        while (j + 3 <= n && !(in[j] == 0 && in[j + 1] == 0 && (in[j + 2] == 1 || (in[j + 2] == 0 && j + 3 < n && in[j + 3] == 1))))
            j++;
        size_t end = j + 3 <= n ? j : n;
        size_t next = end;
        while (end > start && in[end - 1] == 0)   /* trailing_zero_8bits */
            end--;
        if (end > start) {
            if (on + 4 + (end - start) > n + 64) {
                size_t cap = on + 4 + (end - start) + 64;
                uint8_t *no = realloc(o, cap);
                if (!no) {
                    free(o);
                    return PC_ENOMEM;
                }
                o = no;
            }
            AV_WB32(o + on, (uint32_t)(end - start));
            memcpy(o + on + 4, in + start, end - start);
            on += 4 + (end - start);
        }
        i = next;
        while (i + 3 <= n && !(in[i] == 0 && in[i + 1] == 0 && in[i + 2] == 1))
            i++;
    }
    *out = o;
    *outn = (uint32_t)on;
    return 0;
}

/* ------------------------------------------------------------ track setup */

static bool map_codec(enum AVCodecID id, enum pc_track_kind *kind, enum pc_codec *codec)
{
    switch (id) {
    case AV_CODEC_ID_H264: *kind = PC_KIND_VIDEO; *codec = PC_CODEC_H264; return true;
    case AV_CODEC_ID_HEVC: *kind = PC_KIND_VIDEO; *codec = PC_CODEC_HEVC; return true;
    case AV_CODEC_ID_AV1:  *kind = PC_KIND_VIDEO; *codec = PC_CODEC_AV1; return true;
    case AV_CODEC_ID_VP9:  *kind = PC_KIND_VIDEO; *codec = PC_CODEC_VP9; return true;
    case AV_CODEC_ID_AAC:  *kind = PC_KIND_AUDIO; *codec = PC_CODEC_AAC; return true;
    case AV_CODEC_ID_MP3:  *kind = PC_KIND_AUDIO; *codec = PC_CODEC_MP3; return true;
    case AV_CODEC_ID_AC3:  *kind = PC_KIND_AUDIO; *codec = PC_CODEC_AC3; return true;
    case AV_CODEC_ID_EAC3: *kind = PC_KIND_AUDIO; *codec = PC_CODEC_EAC3; return true;
    case AV_CODEC_ID_OPUS: *kind = PC_KIND_AUDIO; *codec = PC_CODEC_OPUS; return true;
    case AV_CODEC_ID_FLAC: *kind = PC_KIND_AUDIO; *codec = PC_CODEC_FLAC; return true;
    default: return false;
    }
}

/*
 * Whether @p m is a plain (unfragmented) MP4: top-level boxes that tile the
 * whole file, a moov, and no sign of movie fragments (a moof, or an mvex in
 * the moov, which announces them: ISO/IEC 14496-12 8.8.1).  Its demuxer
 * reads every sample table up front and then nothing but sample bytes.
 */
static bool plain_mp4(struct pc_input_map *m)
{
    uint64_t off = 0, end = m->size, moov_end = 0;
    bool moov = false;
    while (off < end) {
        uint8_t h[16];
        if (end - off < 8 || pc_input_copy(m, h, (size_t)off, 8) < 0)
            return false;
        uint64_t size = AV_RB32(h), hdr = 8;
        if (size == 1) {
            if (end - off < 16 || pc_input_copy(m, h + 8, (size_t)off + 8, 8) < 0)
                return false;
            size = AV_RB64(h + 8);
            hdr = 16;
        } else if (size == 0) {
            size = end - off;
        }
        if (size < hdr || size > end - off || !memcmp(h + 4, "moof", 4) || !memcmp(h + 4, "mvex", 4))
            return false;
        if (!memcmp(h + 4, "moov", 4) && !moov) {
            moov = true;                /* walk its children, then go on */
            moov_end = off + size;
            end = moov_end;
            off += hdr;
        } else {
            off += size;
        }
        if (moov_end && off == moov_end) {
            end = m->size;
            moov_end = 0;
        }
    }
    return moov;
}

/* Whether packaging makes a track of @p st (a supported codec, not cover
 * art), and which; the streams it does not use are never read. */
static bool used_stream(const AVStream *st, enum pc_track_kind *kind, enum pc_codec *codec)
{
    return !(st->disposition & AV_DISPOSITION_ATTACHED_PIC) && map_codec(st->codecpar->codec_id, kind, codec);
}

/*
 * Whether every stream of @p in that packaging would use passes through
 * libavformat unchanged without a parser: H.264 and HEVC in their MP4 form
 * and AAC with its AudioSpecificConfig.  (The mov demuxer asks for a parser
 * for AC-3, E-AC-3, MP3, VP9 and AV1; those inputs keep it.)
 */
static bool parser_free(const struct input *in)
{
    for (unsigned s = 0; s < in->fmt->nb_streams; s++) {
        const AVStream *st = in->fmt->streams[s];
        enum pc_track_kind kind;
        enum pc_codec codec;
        if (!used_stream(st, &kind, &codec))
            continue;                   /* discarded, never read */
        bool ok = codec == PC_CODEC_H264 || codec == PC_CODEC_HEVC
                      ? !is_annexb(st->codecpar)
                      : codec == PC_CODEC_AAC && st->codecpar->extradata_size > 0;
        if (!ok)
            return false;
    }
    return true;
}

/*
 * Whether @par is plain AAC-LC as its AudioSpecificConfig says it: object
 * type 2, a table sample rate, channels 1-7, 1024-sample frames, and either
 * nothing more or the sync extension that says "no SBR" (FFmpeg's encoder
 * writes it).  That is all libavformat's probe would learn by decoding.
 */
static bool aac_lc_1024(const AVCodecParameters *par)
{
    const uint8_t *asc = par->extradata;
    if (par->codec_id != AV_CODEC_ID_AAC || (par->extradata_size != 2 && par->extradata_size != 5))
        return false;
    unsigned aot = asc[0] >> 3, rate_index = (asc[0] & 7) << 1 | asc[1] >> 7;
    unsigned channels = asc[1] >> 3 & 15, ga_flags = asc[1] & 7;   /* 960 frames, core coder, ext */
    if (aot != 2 || rate_index >= 13 || channels < 1 || channels > 7 || ga_flags)
        return false;
    if (par->extradata_size == 2)
        return true;
    unsigned sync = (unsigned)asc[2] << 3 | asc[3] >> 5, ext_aot = asc[3] & 31, sbr = asc[4] >> 7;
    return sync == 0x2b7 && ext_aot == 5 && !sbr;
}

/*
 * Whether the sample descriptions of @p in already say everything packaging
 * takes from its streams, so that avformat_find_stream_info() can be left
 * out.  It would decode the first video frames to learn the pixel aspect
 * ratio (which the pasp box says too, and the mov demuxer reads), the pixel
 * format and the reorder depth (which packaging does not use), and an AAC
 * frame for its length (which aac_lc_1024() reads from the config).  Asked
 * only of a plain MP4 that needs no parser; anything less is probed.
 */
static bool described(const struct input *in)
{
    for (unsigned s = 0; s < in->fmt->nb_streams; s++) {
        const AVStream *st = in->fmt->streams[s];
        const AVCodecParameters *par = st->codecpar;
        enum pc_track_kind kind;
        enum pc_codec codec;
        if (!used_stream(st, &kind, &codec))
            continue;
        if (par->extradata_size <= 0 || st->time_base.num <= 0 || st->time_base.den <= 0)
            return false;
        if (kind == PC_KIND_VIDEO ? par->width <= 0 || par->height <= 0 || st->sample_aspect_ratio.num <= 0 ||
                                        st->sample_aspect_ratio.den <= 0
                                  : !aac_lc_1024(par) || par->sample_rate <= 0 ||
                                        par->ch_layout.nb_channels <= 0)
            return false;
    }
    return true;
}

/*
 * Settle the stream parameters packaging reads.  A video stream's pixel
 * aspect ratio is the container's when it has one (the pasp box, Matroska's
 * display size), else the bitstream's, as av_guess_sample_aspect_ratio() and
 * players rank them.  A described() input was not probed: its AAC frame
 * length comes from the config aac_lc_1024() read.
 */
static void settle_streams(struct input *in)
{
    for (unsigned s = 0; s < in->fmt->nb_streams; s++) {
        AVStream *st = in->fmt->streams[s];
        AVCodecParameters *par = st->codecpar;
        if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
            AVRational sar = av_guess_sample_aspect_ratio(in->fmt, st, NULL);
            if (sar.num > 0 && sar.den > 0)
                par->sample_aspect_ratio = sar;
        } else if (par->codec_id == AV_CODEC_ID_AAC && par->frame_size == 0 && aac_lc_1024(par)) {
            par->frame_size = 1024;
        }
    }
}

static int open_demuxer(struct packer *p, struct input *in, bool noparse)
{
    char reason[256];
    in->pb = pc_avio_open(&in->map);
    in->fmt = avformat_alloc_context();
    if (!in->pb || !in->fmt)
        return fail(p, PC_ENOMEM, in->path, "out of memory");
    in->fmt->pb = in->pb;
    in->fmt->flags |= AVFMT_FLAG_CUSTOM_IO | (noparse ? AVFMT_FLAG_NOPARSE : 0);
    p->averr[0] = 0;
    int e = avformat_open_input(&in->fmt, in->path, NULL, NULL);
    if (e < 0) {
        in->fmt = NULL;     /* freed by avformat_open_input on failure */
        if (e == AVERROR_INVALIDDATA)
            return fail(p, PC_EMEDIA, in->path, "not a media file libavformat can read%s%s",
                        p->averr[0] ? ": " : "", p->averr);
        return fail(p, status_from_av(e), in->path, "cannot open: %s",
                    p->averr[0] ? p->averr : averr_str(e, reason, sizeof reason));
    }
    in->indexed = strstr(in->fmt->iformat->name, "mp4") != NULL ||
                  strstr(in->fmt->iformat->name, "mov") != NULL;
    in->noparse = noparse && in->indexed && parser_free(in);
    if (noparse && !in->noparse)
        return 0;                       /* the caller opens it again, with parsers */
    if (in->noparse && described(in)) {
        plog(p, PC_LOG_INFO, "%s: stream parameters from the sample descriptions, no probe", in->path);
    } else if ((e = avformat_find_stream_info(in->fmt, NULL)) < 0) {
        return fail(p, PC_EMEDIA, in->path, "cannot read stream information: %s",
                    p->averr[0] ? p->averr : averr_str(e, reason, sizeof reason));
    }
    settle_streams(in);
    return 0;
}

static void close_demuxer(struct input *in)
{
    if (in->fmt)
        avformat_close_input(&in->fmt);
    pc_avio_free(&in->pb);
}

/*
 * Open @p in.  A plain MP4 whose used streams need no parser is opened with
 * none (AVFMT_FLAG_NOPARSE: libavformat would otherwise run its H.264 parser
 * over every packet, only to find what the sample tables already say), which
 * lets its samples be written straight from the mapping (choose_direct()).
 * Anything else, including a file that only looked like a plain MP4, is
 * opened again the ordinary way.
 */
static int open_input(struct packer *p, struct input *in)
{
    char reason[256];
    int r = 0;
    if (in->buf)
        pc_input_map_mem(&in->map, in->buf->data, in->buf->size);
    else
        r = pc_input_map_file(&in->map, in->path, reason, sizeof reason);
    if (r < 0)
        return fail(p, r, in->path, "%s", reason);
    bool noparse = !p->opts->copy_samples && plain_mp4(&in->map);
    if ((r = open_demuxer(p, in, noparse)) < 0)
        return r;
    if (noparse && !in->noparse) {
        close_demuxer(in);
        if ((r = open_demuxer(p, in, false)) < 0)
            return r;
    }
    in->by_stream = calloc(in->fmt->nb_streams, sizeof *in->by_stream);
    return in->by_stream ? 0 : fail(p, PC_ENOMEM, in->path, "out of memory");
}

static uint32_t pick_timescale(const AVStream *st, enum pc_track_kind kind)
{
    const AVCodecParameters *par = st->codecpar;
    if (kind == PC_KIND_AUDIO && par->sample_rate > 0)
        return (uint32_t)par->sample_rate;
    /* Keep the source's own clock when it is fine-grained (no rounding at
     * all); coarse clocks such as Matroska's milliseconds go to 90 kHz,
     * which they divide exactly. */
    if (st->time_base.num == 1 && st->time_base.den >= 10000)
        return (uint32_t)st->time_base.den;
    return 90000;
}

static void copy_tag(char *dst, size_t cap, AVDictionary *md, const char *key, const char *dflt)
{
    AVDictionaryEntry *e = av_dict_get(md, key, NULL, 0);
    av_strlcpy(dst, e && e->value[0] ? e->value : dflt, cap);
}

/* Count usable streams of all inputs (pass 0) or fill the track array. */
static int select_tracks(struct packer *p, bool fill)
{
    unsigned n = 0;
    for (unsigned i = 0; i < p->n_inputs; i++) {
        struct input *in = &p->inputs[i];
        unsigned used = 0;
        for (unsigned s = 0; s < in->fmt->nb_streams; s++) {
            AVStream *st = in->fmt->streams[s];
            enum pc_track_kind kind;
            enum pc_codec codec;
            const char *cname = avcodec_get_name(st->codecpar->codec_id);
            const char *tname = av_get_media_type_string(st->codecpar->codec_type);
            if (st->disposition & AV_DISPOSITION_ATTACHED_PIC) {
                if (!fill)
                    plog(p, PC_LOG_WARN, "%s: skipping stream #%u (%s cover art)", in->path, s, cname);
                continue;
            }
            if (!map_codec(st->codecpar->codec_id, &kind, &codec)) {
                if (!fill)
                    plog(p, PC_LOG_WARN, "%s: skipping stream #%u (%s %s: not supported)",
                         in->path, s, tname ? tname : "data", cname);
                continue;
            }
            if (n >= PC_BUNDLE_MAX_TRACKS)
                return fail(p, PC_ETOOBIG, in->path, "more than %u usable streams", PC_BUNDLE_MAX_TRACKS);
            used++;
            if (fill) {
                struct track *t = &p->tracks[n];
                t->in = in;
                t->st = st;
                t->index = n;
                t->kind = kind;
                t->codec = codec;
                t->tb = (AVRational){1, (int)pick_timescale(st, kind)};
                t->par = st->codecpar;
                in->by_stream[s] = t;
                if (kind == PC_KIND_VIDEO) {
                    AVRational fr = av_guess_frame_rate(in->fmt, st, NULL);
                    t->frame_dur = fr.num > 0 ? av_rescale_q(1, av_inv_q(fr), t->tb) : 0;
                    t->annexb = (codec == PC_CODEC_H264 || codec == PC_CODEC_HEVC) &&
                                is_annexb(st->codecpar);
                } else if (st->codecpar->frame_size > 0 && st->codecpar->sample_rate > 0) {
                    t->frame_dur = av_rescale_q(st->codecpar->frame_size,
                                                (AVRational){1, st->codecpar->sample_rate}, t->tb);
                }
                if (codec == PC_CODEC_AAC && st->codecpar->extradata_size == 0) {
                    /* ADTS (MPEG-TS, raw .aac): strip headers, make an ASC. */
                    const AVBitStreamFilter *f = av_bsf_get_by_name("aac_adtstoasc");
                    if (!f || av_bsf_alloc(f, &t->adts) < 0 ||
                        avcodec_parameters_copy(t->adts->par_in, st->codecpar) < 0 ||
                        av_bsf_init(t->adts) < 0)
                        return fail(p, PC_ENOMEM, in->path, "cannot set up the ADTS filter");
                    t->par = t->adts->par_out;
                }
            }
            n++;
        }
        if (!used && !fill)
            return fail(p, PC_ENOSTREAM, in->path,
                        "no usable audio or video stream (pagecast packages H.264, HEVC, AV1, VP9, "
                        "AAC, MP3, AC-3, E-AC-3, Opus and FLAC)");
    }
    if (!fill)
        p->n_tracks = n;
    return 0;
}

/* ------------------------------------------------------------ init segments */

static int dynbuf_take(AVIOContext **pb, uint8_t **buf)
{
    int n = avio_close_dyn_buf(*pb, buf);
    *pb = NULL;
    return n;
}

/*
 * The init segment from libavformat's mp4 muxer: feed it the first samples
 * (AC-3 and E-AC-3 sample entries are built from frame headers), flush one
 * fragment, keep what precedes it.  Timestamps fed are 0, 1, 2... so the
 * moov carries no edit list: presentation timing lives in tfdt/trun.
 */
static int write_init(struct packer *p, struct track *t, const struct sample_vec *first,
                      struct pc_track_record *rec)
{
    AVFormatContext *oc = NULL;
    AVDictionary *mo = NULL;
    uint8_t *buf = NULL;
    AVPacket *pkt = av_packet_alloc();
    int r = 0, e;
    char eb[128];

    e = avformat_alloc_output_context2(&oc, NULL, "mp4", NULL);
    if (e < 0 || !pkt) {
        r = fail(p, PC_ENOMEM, t->in->path, "cannot allocate the mp4 muxer");
        goto out;
    }
    oc->flags |= AVFMT_FLAG_BITEXACT;   /* same input, same bytes */
    oc->strict_std_compliance = FF_COMPLIANCE_EXPERIMENTAL;
    AVStream *os = avformat_new_stream(oc, NULL);
    if (!os || avcodec_parameters_copy(os->codecpar, t->par) < 0) {
        r = fail(p, PC_ENOMEM, t->in->path, "out of memory");
        goto out;
    }
    os->codecpar->codec_tag = 0;
    if (t->codec == PC_CODEC_HEVC)      /* parameter sets in the sample entry, as Apple requires */
        os->codecpar->codec_tag = MKTAG('h', 'v', 'c', '1');
    os->time_base = t->tb;
    /* ADTS in: the first filtered packet carried the AudioSpecificConfig. */
    if (t->asc_size) {
        av_freep(&os->codecpar->extradata);
        os->codecpar->extradata = av_mallocz(t->asc_size + AV_INPUT_BUFFER_PADDING_SIZE);
        if (!os->codecpar->extradata) {
            r = fail(p, PC_ENOMEM, t->in->path, "out of memory");
            goto out;
        }
        memcpy(os->codecpar->extradata, t->asc, t->asc_size);
        os->codecpar->extradata_size = (int)t->asc_size;
    }
    if ((e = avio_open_dyn_buf(&oc->pb)) < 0) {
        r = fail(p, PC_ENOMEM, t->in->path, "out of memory");
        goto out;
    }
    av_dict_set(&mo, "movflags", "+frag_custom+empty_moov+delay_moov+default_base_moof", 0);
    p->averr[0] = 0;
    if ((e = avformat_write_header(oc, &mo)) < 0) {
        r = fail(p, PC_EMEDIA, t->in->path, "stream #%d: cannot build an init segment: %s",
                 t->st->index, p->averr[0] ? p->averr : averr_str(e, eb, sizeof eb));
        goto out;
    }
    size_t feed = first->n < 32 ? first->n : 32;
    for (size_t i = 0; i < feed; i++) {
        const struct sample *s = &first->v[i];
        if ((e = av_new_packet(pkt, (int)s->size)) < 0) {
            r = fail(p, PC_ENOMEM, t->in->path, "out of memory");
            goto out;
        }
        /* Direct samples are still in the mapping: copy them the guarded
         * way (a truncated source must fail the job, not raise SIGBUS). */
        if (!t->in->direct || s->conv)
            memcpy(pkt->data, s->data, s->size);
        else if (pc_input_copy(&t->in->map, pkt->data, (size_t)(s->data - t->in->map.data), s->size) < 0) {
            av_packet_unref(pkt);
            r = fail_shrank(p, t->in->path);
            goto out;
        }
        pkt->stream_index = 0;
        pkt->pts = pkt->dts = (int64_t)i;
        pkt->duration = 1;
        pkt->pos = -1;
        e = av_write_frame(oc, pkt);
        av_packet_unref(pkt);
        if (e < 0) {
            r = fail(p, PC_EMEDIA, t->in->path, "stream #%d: cannot build an init segment: %s",
                     t->st->index, p->averr[0] ? p->averr : averr_str(e, eb, sizeof eb));
            goto out;
        }
    }
    if ((e = av_write_frame(oc, NULL)) < 0) {
        r = fail(p, PC_EMEDIA, t->in->path, "stream #%d: cannot build an init segment: %s",
                 t->st->index, p->averr[0] ? p->averr : averr_str(e, eb, sizeof eb));
        goto out;
    }
    int n = dynbuf_take(&oc->pb, &buf);
    size_t init_len = n > 0 ? pc_fmp4_init_length(buf, (size_t)n) : 0;
    if (!init_len) {
        r = fail(p, PC_EMEDIA, t->in->path, "stream #%d: the mp4 muxer produced no init segment",
                 t->st->index);
        goto out;
    }
    if (pc_codecs_from_init(buf, init_len, rec->codecs, sizeof rec->codecs) < 0) {
        r = fail(p, PC_EMEDIA, t->in->path, "stream #%d (%s): cannot derive a codecs string from its "
                 "parameter sets", t->st->index, avcodec_get_name(t->par->codec_id));
        goto out;
    }
    struct iovec iov = { buf, init_len };
    r = pc_bundle_writer_add_init(p->w, t->index, &iov, 1);
    if (r < 0)
        r = fail(p, r, p->out, "%s", pc_bundle_writer_error(p->w));
    t->init_done = true;
out:
    if (oc && oc->pb) {
        uint8_t *junk;
        dynbuf_take(&oc->pb, &junk);
        av_free(junk);
    }
    av_free(buf);
    av_dict_free(&mo);
    avformat_free_context(oc);
    av_packet_free(&pkt);
    return r;
}

/* ------------------------------------------------------------ segments */

static void describe_track(const struct track *t, struct pc_track_record *rec)
{
    const AVCodecParameters *par = t->par;
    const AVStream *st = t->st;
    rec->kind = (uint8_t)t->kind;
    rec->codec = (uint8_t)t->codec;
    rec->timescale = (uint32_t)t->tb.den;
    rec->source_index = t->in->index;
    rec->source_stream = (uint32_t)st->index;
    if (st->disposition & AV_DISPOSITION_DEFAULT)
        rec->flags |= PC_TRACK_DEFAULT;
    copy_tag(rec->language, sizeof rec->language, st->metadata, "language", "und");
    copy_tag(rec->name, sizeof rec->name, st->metadata, "title", "");
    if (t->kind == PC_KIND_VIDEO) {
        rec->width = (uint32_t)par->width;
        rec->height = (uint32_t)par->height;
        AVRational fr = av_guess_frame_rate(t->in->fmt, (AVStream *)st, NULL);
        if (fr.num > 0 && fr.den > 0) {
            rec->frame_rate_num = (uint32_t)fr.num;
            rec->frame_rate_den = (uint32_t)fr.den;
        }
        AVRational sar = par->sample_aspect_ratio;
        rec->sar_num = sar.num > 0 ? (uint32_t)sar.num : 1;
        rec->sar_den = sar.den > 0 && sar.num > 0 ? (uint32_t)sar.den : 1;
    } else {
        rec->sample_rate = (uint32_t)par->sample_rate;
        rec->channels = (uint16_t)par->ch_layout.nb_channels;
    }
}

/* ------------------------------------------------------------ writer thread */

/* Append @p j to the bundle.  A direct input's source pages it read are
 * then done with (pc_input_consumed gives them back in time); only the
 * thread that writes its jobs keeps that account. */
static int job_write(struct packer *p, struct wjob *j)
{
    int r = pc_bundle_writer_add_segment(p->w, j->t->index, &j->rec, j->iov, j->iovcnt);
    if (r == 0 && j->t->in->direct)
        pc_input_consumed(&j->t->in->map, j->span_lo, j->span_hi);
    return r;
}

static void *stage_main(void *arg)
{
    struct packer *p = arg;
    struct wstage *ws = &p->ws;
    pthread_mutex_lock(&ws->mu);
    for (;;) {
        while (!ws->queued && !ws->quit)
            pthread_cond_wait(&ws->cv, &ws->mu);
        if (!ws->queued)
            break;
        struct wjob *j = &p->jobs[ws->head];
        bool skip = ws->status || ws->quit;     /* failed, or given up */
        pthread_mutex_unlock(&ws->mu);
        int r = skip ? 0 : job_write(p, j);
        pthread_mutex_lock(&ws->mu);
        if (r < 0 && !ws->status) {
            ws->status = r;
            ws->failed = j;
        }
        ws->head = (ws->head + 1) % WJOBS;
        ws->queued--;
        ws->held -= j->held;
        pthread_cond_broadcast(&ws->cv);
    }
    pthread_mutex_unlock(&ws->mu);
    return NULL;
}

/* Start the writer thread; without one, segments are written inline. */
static void stage_start(struct packer *p)
{
    struct wstage *ws = &p->ws;
    if (pthread_mutex_init(&ws->mu, NULL) != 0)
        return;
    if (pthread_cond_init(&ws->cv, NULL) != 0) {
        pthread_mutex_destroy(&ws->mu);
        return;
    }
    ws->started = pthread_create(&ws->thread, NULL, stage_main, p) == 0;
    if (!ws->started) {
        pthread_cond_destroy(&ws->cv);
        pthread_mutex_destroy(&ws->mu);
        plog(p, PC_LOG_DEBUG, "no writer thread: segments are written as they are cut");
    }
}

static void stage_stop(struct packer *p)
{
    struct wstage *ws = &p->ws;
    if (!ws->started)
        return;
    pthread_mutex_lock(&ws->mu);
    ws->quit = true;
    pthread_cond_broadcast(&ws->cv);
    pthread_mutex_unlock(&ws->mu);
    pthread_join(ws->thread, NULL);
    pthread_cond_destroy(&ws->cv);
    pthread_mutex_destroy(&ws->mu);
    ws->started = false;
}

/* A failed write, as the packer's error: a source that lost the pages a
 * direct segment came from is the source's fault, anything else the
 * bundle's (the writer says what). */
static int write_failed(struct packer *p, const struct wjob *j, int status)
{
    if (j->t->in->direct && pc_input_map_shrank(&j->t->in->map))
        return fail_shrank(p, j->t->in->path);
    return fail(p, status, p->out, "%s", pc_bundle_writer_error(p->w));
}

/* Wait until the writer thread has emptied the queue (@p drain), or until
 * the next job of the ring is free and the queue holds little enough memory
 * to add to it; then report a write that failed meanwhile. */
static int stage_wait(struct packer *p, bool drain)
{
    struct wstage *ws = &p->ws;
    if (!ws->started)
        return 0;
    pthread_mutex_lock(&ws->mu);
    while (drain ? ws->queued != 0
                 : ws->queued == WJOBS || (ws->queued && ws->held > WJOBS_HELD_MAX))
        pthread_cond_wait(&ws->cv, &ws->mu);
    int status = ws->status;
    pthread_mutex_unlock(&ws->mu);
    return status ? write_failed(p, ws->failed, status) : 0;
}

/* Wait until the writer thread is idle; then the bundle writer is ours. */
static int stage_sync(struct packer *p)
{
    return stage_wait(p, true);
}

/* Wait for room for one more job. */
static int stage_reclaim(struct packer *p)
{
    int r = stage_wait(p, false);
    /* This thread waits on the writer most of the time: it starts the
     * writeback of what was written, while the writer goes on. */
    if (r == 0 && p->ws.started)
        pc_bundle_writer_writeback(p->w);
    return r;
}

/* Queue @p j, the job after the last one queued, for the writer thread. */
static int stage_submit(struct packer *p, struct wjob *j)
{
    struct wstage *ws = &p->ws;
    if (!ws->started) {
        int r = job_write(p, j);
        return r < 0 ? write_failed(p, j, r) : 0;
    }
    pthread_mutex_lock(&ws->mu);
    ws->queued++;
    ws->held += j->held;
    pthread_cond_broadcast(&ws->cv);
    pthread_mutex_unlock(&ws->mu);
    return 0;
}

static void job_free(struct wjob *j)
{
    vec_free(&j->samples);
    free(j->hdr);
    free(j->iov);
    memset(j, 0, sizeof *j);
}

/* Write the open segment of @p t.  @p next is the sample that starts the
 * next segment, or NULL at the end. */
static int flush_segment(struct packer *p, struct track *t, const struct sample *next)
{
    int64_t next_dts = next ? next->dts : INT64_MIN;
    struct sample_vec *c = &t->cur;
    if (!c->n)
        return 0;
    int r;
    if (!t->init_done) {
        struct pc_track_record rec = {0};
        describe_track(t, &rec);
        if ((r = stage_sync(p)) < 0 || (r = write_init(p, t, c, &rec)) < 0)
            return r;
        if ((r = pc_bundle_writer_set_track(p->w, t->index, &rec)) < 0)
            return fail(p, r, p->out, "%s", pc_bundle_writer_error(p->w));
    }
    bool video = t->kind == PC_KIND_VIDEO;
    if (c->n > p->fs_cap) {
        size_t cap = c->n * 2;
        struct pc_fmp4_sample *nf = realloc(p->fs, cap * sizeof *nf);
        if (!nf)
            return fail(p, PC_ENOMEM, t->in->path, "out of memory");
        p->fs = nf;
        p->fs_cap = cap;
    }
    uint64_t payload = 0;
    for (size_t i = 0; i < c->n; i++) {
        const struct sample *s = &c->v[i];
        int64_t dur;
        if (i + 1 < c->n)
            dur = c->v[i + 1].dts - s->dts;
        else if (next_dts != INT64_MIN)
            dur = next_dts - s->dts;
        else
            dur = s->dur > 0 ? s->dur : t->last_dur > 0 ? t->last_dur : t->frame_dur > 0 ? t->frame_dur : 1;
        if (dur <= 0)
            dur = 1;
        if (dur > UINT32_MAX)
            return fail(p, PC_EMEDIA, t->in->path, "stream #%d: a sample lasts %.1f s",
                        t->st->index, ticks_s(dur, t->tb));
        t->last_dur = dur;
        int64_t cto = s->pts - s->dts;
        if (cto < INT32_MIN || cto > INT32_MAX)
            return fail(p, PC_EMEDIA, t->in->path, "stream #%d: composition offset out of range",
                        t->st->index);
        p->fs[i] = (struct pc_fmp4_sample){
            .size = s->size, .duration = (uint32_t)dur, .cto = (int32_t)cto,
            .flags = s->key ? PC_FMP4_FLAGS_SYNC : PC_FMP4_FLAGS_NONSYNC,
        };
        payload += s->size;
    }
    /* The next job of the ring, once the writer is done with it. */
    if ((r = stage_reclaim(p)) < 0)
        return r;
    struct wjob *j = &p->jobs[p->next_job];
    vec_clear(&j->samples);
    size_t hdr = pc_fmp4_header_size(c->n, video);
    if (hdr > j->hdr_cap || c->n + 1 > j->iov_cap) {
        size_t cap = hdr + hdr / 4, icap = c->n * 2 + 1;
        uint8_t *nb = realloc(j->hdr, cap);
        if (nb) {
            j->hdr = nb;
            j->hdr_cap = cap;
        }
        struct iovec *ni = realloc(j->iov, icap * sizeof *ni);
        if (ni) {
            j->iov = ni;
            j->iov_cap = icap;
        }
        if (!nb || !ni)
            return fail(p, PC_ENOMEM, t->in->path, "out of memory");
    }
    if (!pc_fmp4_write_header(j->hdr, (uint32_t)(t->segments_written + 1), 1,
                              (uint64_t)c->v[0].dts, p->fs, c->n, video, payload))
        return fail(p, PC_ETOOBIG, t->in->path, "segment larger than 4 GiB");
    /* The samples go to the file straight from the demuxer's packets, or
     * for a direct input from the source's mapping. */
    j->iov[0] = (struct iovec){ j->hdr, hdr };
    int64_t decode_span = 0;
    const uint8_t *lo = c->v[0].data, *hi = lo;     /* a direct input: the bytes' span */
    for (size_t i = 0; i < c->n; i++) {
        const struct sample *s = &c->v[i];
        j->iov[i + 1] = (struct iovec){ (void *)s->data, s->size };
        decode_span += p->fs[i].duration;
        if (t->in->direct) {    /* only then are all samples in one object */
            lo = s->data < lo ? s->data : lo;
            hi = s->data + s->size > hi ? s->data + s->size : hi;
        }
    }
    /* The index keeps presentation times: a segment starts at its first
     * (key) frame's presentation and lasts until the next segment's, so the
     * timeline is gapless by construction and equals what players buffer. */
    int64_t start = t->segments_written ? t->next_start : c->v[0].pts;
    int64_t end = next ? next->pts : c->v[0].pts + decode_span;
    int64_t duration = end - start > 0 ? end - start : 1;
    if (duration > UINT32_MAX)
        return fail(p, PC_EMEDIA, t->in->path, "stream #%d: a segment lasts %.1f s",
                    t->st->index, ticks_s(duration, t->tb));
    t->next_start = start + duration;
    j->t = t;
    j->iovcnt = (int)c->n + 1;
    j->held = t->in->direct ? 0 : payload;
    j->rec = (struct pc_segment_record){
        .start = (uint64_t)start,
        .duration = (uint32_t)duration,
        .sample_count = (uint32_t)c->n,
        .flags = c->v[0].key ? PC_SEGMENT_KEY : 0,
        .key_size = video && c->v[0].key ? (uint32_t)(hdr + c->v[0].size) : 0,
    };
    j->span_lo = j->span_hi = 0;
    if (t->in->direct) {
        j->span_lo = (size_t)(lo - t->in->map.data);
        j->span_hi = (size_t)(hi - t->in->map.data);
        pc_input_prefault(&t->in->map, j->span_lo, j->span_hi);
    }
    /* The job keeps the samples until it is reused; the track goes on
     * with the job's emptied vector. */
    struct sample_vec done = j->samples;
    j->samples = *c;
    *c = done;
    if ((r = stage_submit(p, j)) < 0)
        return r;
    p->next_job = (p->next_job + 1) % WJOBS;
    t->segments_written++;
    return 0;
}

/* The cut index a sample at time @p t (with decision threshold @p thr ticks)
 * belongs to: the number of cuts c_1.. with c_j - thr <= t. */
static uint64_t cut_index(const struct packer *p, const struct track *t, int64_t ts, int64_t thr,
                          uint64_t from)
{
    uint64_t j = from;
    while (j + 1 < p->n_cuts && av_compare_ts(ts + thr, t->tb, p->cuts[j + 1], p->ref->tb) >= 0)
        j++;
    return j;
}

static int add_cut(struct packer *p, int64_t at)
{
    if (p->n_cuts == p->cap_cuts) {
        size_t cap = p->cap_cuts ? p->cap_cuts * 2 : 256;
        int64_t *nc = realloc(p->cuts, cap * sizeof *nc);
        if (!nc)
            return fail(p, PC_ENOMEM, p->ref->in->path, "out of memory");
        p->cuts = nc;
        p->cap_cuts = cap;
    }
    p->cuts[p->n_cuts++] = at;
    return 0;
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

/* The reference track decides where segments begin. */
static int ref_sample(struct packer *p, struct track *t, struct sample *s)
{
    int r;
    int64_t half = s->dur > 0 ? s->dur / 2 : t->frame_dur / 2;
    bool cut;
    if (!p->n_cuts) {
        cut = true;
    } else if (t->kind == PC_KIND_VIDEO) {
        cut = s->key && s->pts >= p->next_boundary;
    } else {
        cut = s->pts + half >= p->next_boundary;
    }
    if (cut) {
        if (p->n_cuts) {
            if ((r = flush_segment(p, t, s)) < 0)
                return r;
            t->seg++;
        }
        if ((r = add_cut(p, s->pts)) < 0)
            return r;
        int64_t at = t->kind == PC_KIND_VIDEO ? s->pts : s->pts + half;
        p->next_boundary = (floor_div(at, p->target_ticks) + 1) * p->target_ticks;
    }
    if (s->pts > p->ref_max_pts)
        p->ref_max_pts = s->pts;
    if ((r = vec_push(&t->cur, s)) < 0)
        return fail(p, r, t->in->path, "out of memory");
    return 0;
}

/* Threshold for matching a sample to a cut: half a frame. */
static int64_t track_threshold(const struct track *t, const struct sample *s)
{
    int64_t d = s->dur > 0 ? s->dur : t->frame_dur;
    return d > 1 ? d / 2 : 0;
}

static bool decidable(const struct packer *p, const struct track *t, const struct sample *s)
{
    if (p->ref_done)
        return true;
    int64_t thr = track_threshold(t, s);
    return av_compare_ts(s->pts + thr, t->tb, p->ref_max_pts, p->ref->tb) < 0;
}

/* Place one sample of a following track into its segment. */
static int follow_sample(struct packer *p, struct track *t, struct sample *s)
{
    int r;
    int64_t thr = track_threshold(t, s);
    if (!t->cur.n && !t->segments_written) {
        t->seg = cut_index(p, t, s->pts, thr, 0);
    } else {
        uint64_t j = cut_index(p, t, s->pts, thr, t->seg);
        if (j > t->seg) {
            if (t->kind == PC_KIND_VIDEO) {
                /* The first sample at or after a cut must be a keyframe at
                 * that very time, and no cut may be skipped over. */
                int64_t c = p->cuts[t->seg + 1];
                bool at_cut = av_compare_ts(s->pts + thr, t->tb, c, p->ref->tb) >= 0 &&
                              av_compare_ts(s->pts - thr, t->tb, c, p->ref->tb) <= 0;
                if (!s->key || !at_cut || j > t->seg + 1)
                    return fail(p, PC_EUNALIGNED, t->in->path,
                                "stream #%d has no keyframe at %.3f s where %s (stream #%d) has one: "
                                "renditions must share keyframe times",
                                t->st->index, ticks_s(c, p->ref->tb), p->ref->in->path,
                                p->ref->st->index);
            }
            if ((r = flush_segment(p, t, s)) < 0)
                return r;
            t->seg = j;
        }
    }
    if ((r = vec_push(&t->cur, s)) < 0)
        return fail(p, r, t->in->path, "out of memory");
    return 0;
}

static int drain_pending(struct packer *p, struct track *t)
{
    struct sample_vec *q = &t->pend;
    while (t->pend_head < q->n && decidable(p, t, &q->v[t->pend_head])) {
        struct sample s = q->v[t->pend_head];
        memset(&q->v[t->pend_head], 0, sizeof s);
        t->pend_head++;
        int r = follow_sample(p, t, &s);
        if (r < 0) {
            sample_free(&s);
            return r;
        }
    }
    if (t->pend_head == q->n) {
        q->n = 0;
        t->pend_head = 0;
    } else if (t->pend_head > 1024) {
        memmove(q->v, q->v + t->pend_head, (q->n - t->pend_head) * sizeof *q->v);
        q->n -= t->pend_head;
        t->pend_head = 0;
    }
    return 0;
}

/* ------------------------------------------------------------ packets */

/*
 * One packet of @p t.  @p direct: its bytes in the source's mapping (a
 * direct input, see choose_direct()); NULL: they are the packet's own, and
 * the sample takes over its buffer.
 */
static int take_packet(struct packer *p, struct track *t, AVPacket *pkt, const uint8_t *direct)
{
    AVStream *st = t->st;
    if (pkt->pts == AV_NOPTS_VALUE && pkt->dts == AV_NOPTS_VALUE) {
        /* No time at all: continue from the previous sample. */
        if (!t->started)
            return 0;
    }
    int64_t src_pts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    int64_t src_dts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
    bool key = t->kind != PC_KIND_VIDEO || (pkt->flags & AV_PKT_FLAG_KEY);

    if (!t->started && !key) {
        t->dropped_leading++;       /* a video track must begin on a keyframe */
        return 0;
    }
    struct sample s = { .key = key };
    s.dur = pkt->duration > 0 ? av_rescale_q(pkt->duration, st->time_base, t->tb) : 0;
    if (t->kind == PC_KIND_AUDIO) {
        /* The codec's own frame length beats a container's rounded one
         * (Matroska keeps milliseconds: 21 ms for 1024 samples at 48 kHz). */
        int frame = av_get_audio_frame_duration2(st->codecpar, pkt->size);
        if (frame > 0 && st->codecpar->sample_rate > 0)
            s.dur = av_rescale_q(frame, (AVRational){1, st->codecpar->sample_rate}, t->tb);
    }
    if (src_pts == AV_NOPTS_VALUE) {
        s.dts = t->last_dts + (t->last_dur > 0 ? t->last_dur : t->frame_dur > 0 ? t->frame_dur : 1);
        s.pts = s.dts;
    } else {
        s.pts = av_rescale_q(src_pts, st->time_base, t->tb) - t->offset;
        s.dts = av_rescale_q(src_dts, st->time_base, t->tb) - t->offset;
        if (t->kind == PC_KIND_AUDIO && t->started) {
            /* Audio runs on sample counts: keep the exact cadence unless the
             * source really jumps (a gap or an overlap of half a frame). */
            int64_t expect = t->last_dts + t->last_dur;
            int64_t half = (t->last_dur > 0 ? t->last_dur : 2) / 2;
            if (llabs(s.dts - expect) <= half)
                s.dts = expect;
            s.pts = s.dts;
        }
    }
    if (t->started && s.dts <= t->last_dts) {
        /* Decode times must increase (ISO/IEC 14496-12 8.6.1.2). */
        s.dts = t->last_dts + 1;
        if (t->kind != PC_KIND_VIDEO)
            s.pts = s.dts;
    }
    if (!t->started && s.dts < 0) {
        plog(p, PC_LOG_WARN, "%s: stream #%d starts %.3f s before the title; shifted",
             t->in->path, st->index, ticks_s(-s.dts, t->tb));
        t->offset += s.dts;
        s.pts -= s.dts;
        s.dts = 0;
    }
    int64_t step = s.dur > 0 ? s.dur : t->frame_dur;
    t->last_dur = t->started && step <= 0 ? s.dts - t->last_dts : step;
    t->last_dts = s.dts;
    t->started = true;
    t->samples++;

    int r;
    if (t->adts && !t->asc_size) {
        size_t sd_size = 0;
        const uint8_t *sd = av_packet_get_side_data(pkt, AV_PKT_DATA_NEW_EXTRADATA, &sd_size);
        if (sd && sd_size) {
            if (!(t->asc = malloc(sd_size)))
                return fail(p, PC_ENOMEM, t->in->path, "out of memory");
            memcpy(t->asc, sd, sd_size);
            t->asc_size = sd_size;
        }
    }
    if (t->annexb) {
        if ((r = annexb_to_lp(pkt->data, (size_t)pkt->size, &s.conv, &s.size)) < 0)
            return fail(p, r, t->in->path, "out of memory");
        s.data = s.conv;
    } else if (direct) {
        s.data = direct;
        s.size = (uint32_t)pkt->size;
    } else {
        /* Keep the packet's bytes by taking over its buffer reference:
         * no copy, and no allocation for a new reference. */
        if ((r = av_packet_make_refcounted(pkt)) < 0)
            return fail(p, PC_ENOMEM, t->in->path, "out of memory");
        s.data = pkt->data;
        s.size = (uint32_t)pkt->size;
        s.buf = pkt->buf;
        pkt->buf = NULL;
    }
    if (t == p->ref) {
        r = ref_sample(p, t, &s);
    } else if (p->ref_done) {
        r = follow_sample(p, t, &s);
    } else {
        r = vec_push(&t->pend, &s);
        if (r < 0)
            r = fail(p, r, t->in->path, "out of memory");
        else
            return drain_pending(p, t);
        return r;
    }
    if (r < 0)
        sample_free(&s);
    /* The reference moved on: tracks waiting on it may now be decidable. */
    if (t == p->ref && r == 0) {
        for (unsigned i = 0; i < p->n_tracks && r == 0; i++) {
            struct track *o = &p->tracks[i];
            if (o != t && o->in == t->in && o->pend_head < o->pend.n)
                r = drain_pending(p, o);
        }
    }
    return r;
}

static int feed_packet(struct packer *p, struct track *t, AVPacket *pkt, const uint8_t *direct)
{
    if (!t->adts)
        return take_packet(p, t, pkt, direct);
    int e = av_bsf_send_packet(t->adts, pkt);
    if (e < 0)
        return 0;   /* a damaged ADTS frame: skipped, counted below */
    int r = 0;
    while (r == 0 && (e = av_bsf_receive_packet(t->adts, pkt)) == 0) {
        r = take_packet(p, t, pkt, NULL);
        av_packet_unref(pkt);
    }
    return r;
}

/*
 * Read ahead until every used stream of @p in has shown its first time (video:
 * its first keyframe, and a decode time), so the title start is known before
 * anything is cut.  The packets are kept and replayed by next_packet().
 */
#define AHEAD_MAX_PACKETS 8192

static struct track *packet_track(const struct input *in, const AVPacket *pkt)
{
    return pkt->stream_index >= 0 && pkt->stream_index < (int)in->fmt->nb_streams
               ? in->by_stream[pkt->stream_index] : NULL;
}

/*
 * Matroska and WebM store no decode times: libavformat infers them only once
 * its reorder buffer is full, so a B-frame stream's first packets come with
 * none.  Give them the decode times that lead, one frame apart, into the
 * first inferred one, as the encoder's own timeline had them.
 */
static void backfill_dts(struct input *in, const struct track *t)
{
    size_t first_known = SIZE_MAX, missing = 0;
    for (size_t i = 0; i < in->ahead_n && first_known == SIZE_MAX; i++) {
        const AVPacket *a = in->ahead[i];
        if (packet_track(in, a) != t)
            continue;
        if (a->dts != AV_NOPTS_VALUE)
            first_known = i;
        else
            missing++;
    }
    if (first_known == SIZE_MAX || !missing)
        return;
    int64_t dts = in->ahead[first_known]->dts;
    for (size_t i = first_known; i-- > 0;) {
        AVPacket *a = in->ahead[i];
        if (packet_track(in, a) != t)
            continue;
        int64_t d = a->duration > 0 ? a->duration
                    : t->frame_dur > 0 ? av_rescale_q(t->frame_dur, t->tb, t->st->time_base) : 1;
        dts -= d;
        a->dts = dts;
        if (a->pts != AV_NOPTS_VALUE && a->pts < a->dts)
            a->dts = a->pts;
    }
}

static int read_ahead(struct packer *p, struct input *in)
{
    unsigned waiting = 0;
    bool *seen_key = calloc(p->n_tracks, sizeof *seen_key);
    bool *seen_dts = calloc(p->n_tracks, sizeof *seen_dts);
    in->ahead = calloc(AHEAD_MAX_PACKETS, sizeof *in->ahead);
    if (!in->ahead || !seen_key || !seen_dts) {
        free(seen_key);
        free(seen_dts);
        return fail(p, PC_ENOMEM, in->path, "out of memory");
    }
    for (unsigned i = 0; i < p->n_tracks; i++) {
        if (p->tracks[i].in == in) {
            p->tracks[i].first_us = INT64_MAX;
            waiting++;
        }
    }
    int r = 0;
    while (waiting && in->ahead_n < AHEAD_MAX_PACKETS) {
        AVPacket *pkt = av_packet_alloc();
        if (!pkt) {
            r = fail(p, PC_ENOMEM, in->path, "out of memory");
            break;
        }
        int e = av_read_frame(in->fmt, pkt);
        if (e < 0) {
            av_packet_free(&pkt);
            in->ahead_status = e;
            break;
        }
        in->ahead[in->ahead_n++] = pkt;
        struct track *t = packet_track(in, pkt);
        if (!t)
            continue;
        bool was_done = seen_key[t->index] && seen_dts[t->index];
        if (t->kind != PC_KIND_VIDEO || (pkt->flags & AV_PKT_FLAG_KEY))
            seen_key[t->index] = true;
        if (pkt->dts != AV_NOPTS_VALUE || t->kind != PC_KIND_VIDEO)
            seen_dts[t->index] = true;
        if (!was_done && seen_key[t->index] && seen_dts[t->index])
            waiting--;
    }
    free(seen_key);
    free(seen_dts);
    if (r < 0)
        return r;
    for (unsigned i = 0; i < p->n_tracks; i++)
        if (p->tracks[i].in == in && p->tracks[i].kind == PC_KIND_VIDEO)
            backfill_dts(in, &p->tracks[i]);
    /* Each track's first time: its first usable packet's earliest time. */
    for (size_t i = 0; i < in->ahead_n; i++) {
        const AVPacket *a = in->ahead[i];
        struct track *t = packet_track(in, a);
        if (!t || t->first_us != INT64_MAX)
            continue;
        if (t->kind == PC_KIND_VIDEO && !(a->flags & AV_PKT_FLAG_KEY))
            continue;
        int64_t ts = a->dts != AV_NOPTS_VALUE ? a->dts : a->pts;
        if (a->pts != AV_NOPTS_VALUE && a->pts < ts)
            ts = a->pts;
        if (ts != AV_NOPTS_VALUE)
            t->first_us = av_rescale_q_rnd(ts, t->st->time_base, AV_TIME_BASE_Q, AV_ROUND_DOWN);
    }
    return 0;
}

/*
 * After the read-ahead: from here on, @p in's samples are written straight
 * from the source's mapping if it is a plain MP4 opened without parsers.
 * Then the demuxer reads them without copying (its packets' bytes are left
 * unspecified, and nothing looks at them) and each sample is the mapping's
 * (pkt->pos, pkt->size): exactly the bytes libavformat would have copied.
 */
static void choose_direct(struct packer *p, struct input *in)
{
    if (!in->noparse)
        return;
    for (unsigned i = 0; i < p->n_tracks; i++) {
        const struct track *t = &p->tracks[i];
        if (t->in == in && (t->annexb || t->adts || av_stream_get_parser(t->st)))
            return;     /* not expected after parser_free(); stay safe */
    }
    in->direct = true;
    pc_avio_set_direct(&in->map, in->pb);
    plog(p, PC_LOG_INFO, "%s: samples go to the bundle straight from the source file", in->path);
}

/* The next packet of @p in: read-ahead ones first, then the demuxer's. */
static int next_packet(struct input *in, AVPacket *pkt)
{
    if (in->ahead_head < in->ahead_n) {
        AVPacket *a = in->ahead[in->ahead_head];
        in->ahead[in->ahead_head++] = NULL;
        av_packet_move_ref(pkt, a);
        av_packet_free(&a);
        return 0;
    }
    if (in->ahead_status < 0)
        return in->ahead_status;
    return av_read_frame(in->fmt, pkt);
}

static void report_progress(struct packer *p, struct input *in)
{
    if (p->opts->progress && in->map.size)
        p->opts->progress(p->opts->ud, p->progress_base +
                          (double)in->map.pos / (double)in->map.size / p->n_inputs);
}

static int read_input(struct packer *p, struct input *in)
{
    AVPacket *pkt = av_packet_alloc();
    if (!pkt)
        return fail(p, PC_ENOMEM, in->path, "out of memory");
    int r = 0, e;
    unsigned long n = 0;
    char eb[128];
    while ((e = next_packet(in, pkt)) >= 0) {
        struct track *t = pkt->stream_index < (int)in->fmt->nb_streams ? in->by_stream[pkt->stream_index] : NULL;
        if (t) {
            bool corrupt = pkt->flags & AV_PKT_FLAG_CORRUPT;
            /* A direct input's samples are the source's bytes where the
             * demuxer found them: (pkt->pos, pkt->size) in the mapping. */
            if (in->direct && (pkt->pos < 0 || (uint64_t)pkt->pos > in->map.size ||
                               (size_t)pkt->size > in->map.size - (size_t)pkt->pos))
                corrupt = true;
            if (corrupt && in->indexed) {
                r = fail(p, PC_EMEDIA, in->path, "truncated or damaged: sample data at byte %" PRId64
                         " is missing", pkt->pos);
                break;
            }
            in->corrupt += corrupt;
            r = feed_packet(p, t, pkt, in->direct ? in->map.data + pkt->pos : NULL);
        }
        av_packet_unref(pkt);
        if (r < 0)
            break;
        if ((++n & 1023) == 0) {
            report_progress(p, in);
            if (p->opts->cancel && p->opts->cancel(p->opts->ud)) {
                r = fail(p, PC_ECANCELED, in->path, "cancelled");
                break;
            }
        }
    }
    av_packet_free(&pkt);
    if (r < 0)
        return r;
    if (in->map.shrank)
        return fail_shrank(p, in->path);
    if (e != AVERROR_EOF) {
        if (in->indexed || !n)
            return fail(p, PC_EMEDIA, in->path, "read error: %s",
                        p->averr[0] ? p->averr : averr_str(e, eb, sizeof eb));
        plog(p, PC_LOG_WARN, "%s: stopped reading at byte %zu: %s", in->path, in->map.pos,
             p->averr[0] ? p->averr : averr_str(e, eb, sizeof eb));
    }
    if (in->corrupt)
        plog(p, PC_LOG_WARN, "%s: %" PRIu64 " damaged packets (kept as read; players may show artefacts there)",
             in->path, in->corrupt);
    for (unsigned i = 0; i < p->n_tracks; i++) {
        struct track *t = &p->tracks[i];
        if (t->in != in)
            continue;
        if (in->indexed && t->st->nb_frames > 0 && (int64_t)(t->samples + t->dropped_leading) < t->st->nb_frames)
            return fail(p, PC_EMEDIA, in->path, "truncated: stream #%d has %" PRIu64 " of its %" PRId64
                        " samples", t->st->index, t->samples + t->dropped_leading, t->st->nb_frames);
        if (t->dropped_leading)
            plog(p, PC_LOG_WARN, "%s: stream #%d: dropped %" PRIu64 " frames before the first keyframe",
                 in->path, t->st->index, t->dropped_leading);
        if (!t->samples)
            return fail(p, PC_EMEDIA, in->path, "stream #%d (%s) has no %s", t->st->index,
                        avcodec_get_name(t->st->codecpar->codec_id),
                        t->kind == PC_KIND_VIDEO ? "keyframe" : "packets");
    }
    return 0;
}

/* End of an input: close the reference's last segment, let waiting tracks
 * decide, close theirs. */
static int finish_input(struct packer *p, struct input *in)
{
    int r;
    if (p->ref->in == in) {
        if ((r = flush_segment(p, p->ref, NULL)) < 0)
            return r;
        p->ref_done = true;
    }
    for (unsigned i = 0; i < p->n_tracks; i++) {
        struct track *t = &p->tracks[i];
        if (t->in != in || t == p->ref)
            continue;
        if ((r = drain_pending(p, t)) < 0 || (r = flush_segment(p, t, NULL)) < 0)
            return r;
    }
    return 0;
}

/* ------------------------------------------------------------ the job */

static void title_start(struct packer *p)
{
    int64_t start = INT64_MAX;
    for (unsigned i = 0; i < p->n_tracks; i++) {
        const AVStream *st = p->tracks[i].st;
        if (p->tracks[i].first_us != INT64_MAX) {
            if (p->tracks[i].first_us < start)
                start = p->tracks[i].first_us;
        } else if (st->start_time != AV_NOPTS_VALUE) {
            int64_t us = av_rescale_q_rnd(st->start_time, st->time_base, AV_TIME_BASE_Q,
                                          AV_ROUND_DOWN | AV_ROUND_PASS_MINMAX);
            if (us < start)
                start = us;
        }
    }
    p->title_start_us = start == INT64_MAX ? 0 : start;
    for (unsigned i = 0; i < p->n_tracks; i++) {
        struct track *t = &p->tracks[i];
        t->offset = av_rescale_q_rnd(p->title_start_us, AV_TIME_BASE_Q, t->tb, AV_ROUND_DOWN);
    }
}

static uint64_t segments_hint(const struct packer *p, uint32_t segment_ms)
{
    int64_t longest = 0;
    for (unsigned i = 0; i < p->n_inputs; i++)
        if (p->inputs[i].fmt->duration > longest)
            longest = p->inputs[i].fmt->duration;
    uint64_t per_track = (uint64_t)(longest / 1000 / (segment_ms ? segment_ms : 1)) + 2;
    return per_track * p->n_tracks + 16;
}

static void packer_free(struct packer *p)
{
    for (unsigned i = 0; i < p->n_tracks && p->tracks; i++) {
        struct track *t = &p->tracks[i];
        vec_free(&t->cur);
        for (size_t k = t->pend_head; k < t->pend.n; k++)
            sample_free(&t->pend.v[k]);
        t->pend.n = 0;
        vec_free(&t->pend);
        av_bsf_free(&t->adts);
        free(t->asc);
    }
    for (unsigned i = 0; i < p->n_inputs && p->inputs; i++) {
        struct input *in = &p->inputs[i];
        close_demuxer(in);
        pc_input_unmap(&in->map);
        free(in->by_stream);
        for (size_t k = 0; in->ahead && k < in->ahead_n; k++)
            av_packet_free(&in->ahead[k]);
        free(in->ahead);
    }
    free(p->tracks);
    free(p->inputs);
    free(p->cuts);
    for (unsigned i = 0; i < WJOBS; i++)
        job_free(&p->jobs[i]);
    free(p->fs);
}

/* What the bundle remembers of in-memory inputs: their bytes, no stat. */
static void fingerprint_buffers(const struct pc_pack_buffer *bufs, unsigned n,
                                struct pc_fingerprint *fp)
{
    memset(fp, 0, sizeof *fp);
    fp->count = n;
    fp->content_hash = PC_FNV_INIT;
    for (unsigned i = 0; i < n; i++) {
        fp->size += bufs[i].size;
        fp->content_hash = pc_fnv1a(fp->content_hash, bufs[i].data, bufs[i].size);
    }
}

static int run(struct packer *p, const char *const *paths, const struct pc_pack_buffer *bufs)
{
    int r;
    for (unsigned i = 0; i < p->n_inputs; i++) {
        p->inputs[i].path = paths[i];
        p->inputs[i].buf = bufs ? &bufs[i] : NULL;
        p->inputs[i].index = i;
        if ((r = open_input(p, &p->inputs[i])) < 0)
            return r;
    }
    if ((r = select_tracks(p, false)) < 0)
        return r;
    p->tracks = calloc(p->n_tracks, sizeof *p->tracks);
    if (!p->tracks)
        return fail(p, PC_ENOMEM, paths[0], "out of memory");
    if ((r = select_tracks(p, true)) < 0)
        return r;
    /* Streams no track uses are not read at all. */
    for (unsigned i = 0; i < p->n_inputs; i++)
        for (unsigned s = 0; s < p->inputs[i].fmt->nb_streams; s++)
            if (!p->inputs[i].by_stream[s])
                p->inputs[i].fmt->streams[s]->discard = AVDISCARD_ALL;
    for (unsigned i = 0; i < p->n_tracks && !p->ref; i++)
        if (p->tracks[i].kind == PC_KIND_VIDEO)
            p->ref = &p->tracks[i];
    if (!p->ref)
        p->ref = &p->tracks[0];
    for (unsigned i = 0; i < p->n_tracks; i++) {
        const struct track *t = &p->tracks[i];
        plog(p, PC_LOG_INFO, "track %u: %s stream #%d of %s (%s), timescale %d%s", i,
             t->kind == PC_KIND_VIDEO ? "video" : "audio", t->st->index, t->in->path,
             avcodec_get_name(t->st->codecpar->codec_id), t->tb.den,
             t == p->ref ? ", decides the cuts" : "");
    }
    for (unsigned i = 0; i < p->n_inputs; i++) {
        if ((r = read_ahead(p, &p->inputs[i])) < 0)
            return r;
        choose_direct(p, &p->inputs[i]);
    }
    title_start(p);

    uint32_t seg_ms = p->opts->segment_ms ? p->opts->segment_ms : 6000;
    p->target_ticks = av_rescale_q(seg_ms, (AVRational){1, 1000}, p->ref->tb);
    if (p->target_ticks <= 0)
        p->target_ticks = 1;

    struct pc_fingerprint fp;
    char reason[ERRLEN];
    if (bufs)
        fingerprint_buffers(bufs, p->n_inputs, &fp);
    else if ((r = pc_fingerprint_files(paths, p->n_inputs, 1, &fp, reason, sizeof reason)) < 0)
        return fail(p, r, paths[0], "%s", reason);
    struct pc_bundle_writer_opts wo = {
        .page_size = p->opts->page_size,
        .track_count = p->n_tracks,
        .segments_hint = segments_hint(p, seg_ms),
        .source_count = fp.count,
        .source_size = fp.size,
        .source_stat_hash = fp.stat_hash,
        .source_content_hash = fp.content_hash,
    };
    stage_start(p);
    wo.caller_writeback = p->ws.started;    /* see stage_reclaim() */
    if ((r = pc_bundle_writer_open(&p->w, p->out, &wo, reason, sizeof reason)) < 0) {
        snprintf(p->err, sizeof p->err, "%s", reason);
        return r;
    }
    /* The reference's input first: it decides the cuts the others follow. */
    struct input *order[p->n_inputs];
    unsigned k = 0;
    order[k++] = p->ref->in;
    for (unsigned i = 0; i < p->n_inputs; i++)
        if (&p->inputs[i] != p->ref->in)
            order[k++] = &p->inputs[i];
    for (unsigned i = 0; i < p->n_inputs; i++) {
        p->progress_base = (double)i / p->n_inputs;
        if ((r = read_input(p, order[i])) < 0 || (r = finish_input(p, order[i])) < 0)
            return r;
    }
    if (p->opts->progress)
        p->opts->progress(p->opts->ud, 1.0);
    for (unsigned i = 0; i < p->n_tracks; i++)
        plog(p, PC_LOG_INFO, "track %u: %" PRIu64 " samples in %" PRIu64 " segments", i,
             p->tracks[i].samples, p->tracks[i].segments_written);
    if ((r = stage_sync(p)) < 0)
        return r;
    stage_stop(p);
    struct pc_bundle_writer *w = p->w;
    p->w = NULL;
    if ((r = pc_bundle_writer_commit(w, NULL, reason, sizeof reason)) < 0) {
        snprintf(p->err, sizeof p->err, "%s", reason);
        return r;
    }
    return 0;
}

static int pack(const char *out, const char *const *inputs, const struct pc_pack_buffer *bufs,
                unsigned n, const struct pc_pack_opts *opts, char *err, size_t errlen)
{
    static const struct pc_pack_opts defaults = {0};
    if (!out || !inputs || !n) {
        snprintf(err, errlen, "nothing to package");
        return PC_EINVAL;
    }
    pthread_once(&av_once, av_setup);
    struct packer p = { .opts = opts ? opts : &defaults, .out = out, .n_inputs = n };
    p.inputs = calloc(n, sizeof *p.inputs);
    struct packer *saved = tls_packer;
    tls_packer = &p;
    int r = p.inputs ? run(&p, inputs, bufs) : fail(&p, PC_ENOMEM, out, "out of memory");
    tls_packer = saved;
    stage_stop(&p);     /* lets a handed-over write finish first */
    if (p.w)
        pc_bundle_writer_abort(p.w);
    packer_free(&p);
    if (r < 0)
        snprintf(err, errlen, "%s", p.err[0] ? p.err : pc_status_str(r));
    return r;
}

int pc_pack(const char *out, const char *const *inputs, unsigned n,
            const struct pc_pack_opts *opts, char *err, size_t errlen)
{
    return pack(out, inputs, NULL, n, opts, err, errlen);
}

int pc__pack_buffers(const char *out, const struct pc_pack_buffer *inputs, unsigned n,
                     const struct pc_pack_opts *opts, char *err, size_t errlen)
{
    if (!inputs || !n || n > PC_BUNDLE_MAX_TRACKS) {
        snprintf(err, errlen, "nothing to package");
        return PC_EINVAL;
    }
    const char *names[PC_BUNDLE_MAX_TRACKS];
    for (unsigned i = 0; i < n; i++)
        names[i] = inputs[i].name ? inputs[i].name : "(memory)";
    return pack(out, names, inputs, n, opts, err, errlen);
}
