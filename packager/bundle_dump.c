/*
 * pc_bundle_dump_json: the --dump format, one JSON object describing an open
 * (so already validated) bundle: header, source fingerprint, and every track
 * with its committed segments.  The format is specified in
 * docs/bundle-format.md ("The --dump JSON format").
 *
 * Times are integers in the track's timescale everywhere else in pagecast;
 * this is one of the places they become seconds, formatted from integers
 * (not doubles) so the output is exact and identical on every platform.
 */
#include "pagecast/bundle.h"
#include "pagecast/status.h"

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

static const char *kind_name(unsigned kind)
{
    switch (kind) {
    case PC_KIND_VIDEO: return "video";
    case PC_KIND_AUDIO: return "audio";
    case PC_KIND_TEXT:  return "text";
    default:            return "unknown";
    }
}

static const char *codec_name(unsigned codec)
{
    switch (codec) {
    case PC_CODEC_H264:   return "h264";
    case PC_CODEC_HEVC:   return "hevc";
    case PC_CODEC_AV1:    return "av1";
    case PC_CODEC_VP9:    return "vp9";
    case PC_CODEC_AAC:    return "aac";
    case PC_CODEC_MP3:    return "mp3";
    case PC_CODEC_AC3:    return "ac3";
    case PC_CODEC_EAC3:   return "eac3";
    case PC_CODEC_OPUS:   return "opus";
    case PC_CODEC_FLAC:   return "flac";
    case PC_CODEC_WEBVTT: return "webvtt";
    default:              return "unknown";
    }
}

/* A JSON string (RFC 8259 section 7) from a NUL-padded field of at most
 * @p cap bytes.  Bytes >= 0x80 pass through: the fields are UTF-8. */
static void put_string(FILE *out, const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':  fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\b': fputs("\\b", out); break;
        case '\f': fputs("\\f", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (c < 0x20 || c == 0x7f)
                fprintf(out, "\\u%04x", c);
            else
                fputc(c, out);
        }
    }
    fputc('"', out);
}

/* @p ticks / @p timescale as seconds with 6 decimals, rounded half up,
 * computed in integers (128-bit, so no tick count can overflow). */
static void put_seconds(FILE *out, uint64_t ticks, uint32_t timescale)
{
    if (timescale == 0) {           /* cannot happen in a validated bundle */
        fputs("0.000000", out);
        return;
    }
    unsigned __int128 us = ((unsigned __int128)ticks * 1000000u + timescale / 2) / timescale;
    uint64_t secs = (uint64_t)(us / 1000000u);
    unsigned frac = (unsigned)(us % 1000000u);
    fprintf(out, "%" PRIu64 ".%06u", secs, frac);
}

static void put_track(FILE *out, const struct pc_bundle *b, unsigned t)
{
    const struct pc_track_record *tr = &b->tracks[t];

    fprintf(out, "{\"index\":%u,\"kind\":\"%s\",\"codec\":\"%s\",\"codecs\":",
            t, kind_name(tr->kind), codec_name(tr->codec));
    put_string(out, tr->codecs, sizeof tr->codecs);
    fputs(",\"language\":", out);
    put_string(out, tr->language, sizeof tr->language);
    fputs(",\"name\":", out);
    put_string(out, tr->name, sizeof tr->name);
    fprintf(out, ",\"timescale\":%" PRIu32, tr->timescale);
    if (tr->kind == PC_KIND_VIDEO)
        fprintf(out, ",\"width\":%" PRIu32 ",\"height\":%" PRIu32
                ",\"frame_rate\":\"%" PRIu32 "/%" PRIu32 "\",\"sar\":\"%" PRIu32 ":%" PRIu32 "\"",
                tr->width, tr->height, tr->frame_rate_num, tr->frame_rate_den,
                tr->sar_num, tr->sar_den);
    if (tr->kind == PC_KIND_AUDIO)
        fprintf(out, ",\"sample_rate\":%" PRIu32 ",\"channels\":%u",
                tr->sample_rate, (unsigned)tr->channels);
    fprintf(out, ",\"group\":%u,\"default\":%s,\"bitrate_peak\":%" PRIu64
            ",\"bitrate_avg\":%" PRIu64 ",\"duration\":",
            (unsigned)tr->group, (tr->flags & PC_TRACK_DEFAULT) ? "true" : "false",
            tr->bitrate_peak, tr->bitrate_avg);
    put_seconds(out, tr->duration, tr->timescale);
    fprintf(out, ",\"init\":{\"offset\":%" PRIu64 ",\"size\":%" PRIu64 "},\"segments\":[",
            tr->init_offset, tr->init_size);

    uint64_t n;
    const struct pc_segment_record *s = pc_bundle_track_segments(b, t, &n);
    for (uint64_t k = 0; k < n; k++) {
        fprintf(out, "%s{\"offset\":%" PRIu64 ",\"size\":%" PRIu64 ",\"start\":",
                k ? "," : "", s[k].offset, s[k].size);
        put_seconds(out, s[k].start, tr->timescale);
        fputs(",\"duration\":", out);
        put_seconds(out, s[k].duration, tr->timescale);
        fprintf(out, ",\"start_ts\":%" PRIu64 ",\"duration_ts\":%" PRIu32
                ",\"samples\":%" PRIu32 ",\"key\":%s,\"key_size\":%" PRIu32 "}",
                s[k].start, s[k].duration, s[k].sample_count,
                (s[k].flags & PC_SEGMENT_KEY) ? "true" : "false", s[k].key_size);
    }
    fputs("]}", out);
}

int pc_bundle_dump_json(const struct pc_bundle *b, FILE *out)
{
    if (!b || !b->hdr || !out)
        return PC_EINVAL;
    const struct pc_bundle_header *h = b->hdr;

    fprintf(out, "{\"version\":%" PRIu32 ",\"page_size\":%" PRIu32
            ",\"generation\":\"%016" PRIx64 "\",\"created_unix_ms\":%" PRIu64
            ",\"live\":%s,\"file_size\":%" PRIu64 ",\"data_offset\":%" PRIu64
            ",\"data_end\":%" PRIu64,
            h->version, h->page_size, h->generation, h->created_unix_ms,
            (h->flags & PC_BUNDLE_LIVE) ? "true" : "false", b->file_size,
            h->data_offset, h->data_end);
    fprintf(out, ",\"source\":{\"count\":%" PRIu32 ",\"size\":%" PRIu64
            ",\"stat_hash\":\"%016" PRIx64 "\",\"content_hash\":\"%016" PRIx64 "\"}",
            h->source_count, h->source_size, h->source_stat_hash, h->source_content_hash);
    fputs(",\"tracks\":[", out);
    for (unsigned t = 0; t < h->track_count; t++) {
        if (t)
            fputc(',', out);
        put_track(out, b, t);
    }
    fputs("]}\n", out);
    if (fflush(out) != 0 || ferror(out))
        return PC_EIO;
    return 0;
}
