/*
 * HLS and DASH manifests from a bundle: pure functions from an open bundle
 * and options to text.  No HTTP, no I/O.  Both writers format one run-length
 * timeline computed from the index (timeline.c).
 *
 * URL scheme (relative to the title, /<title>/):
 *   master.m3u8                       HLS multivariant playlist
 *   manifest.mpd                      DASH MPD (static)
 *   <track>.m3u8                      HLS media playlist of track <track>
 *   <gen>/<track>/init.mp4            init segment
 *   <gen>/<track>/<n>.m4s             media segment n (1-based)
 * where <track> is the track index in decimal and <gen> the bundle
 * generation as 16 lowercase hex digits: a re-packaged title gets new
 * segment URLs, so segments are immutable.
 */
#ifndef PC_MANIFEST_H
#define PC_MANIFEST_H

#include "pagecast/bundle.h"

#include <stddef.h>
#include <stdint.h>

/* One run of equal-duration consecutive segments (DASH S@r, ISO/IEC
 * 23009-1 5.3.9.6): segments first..first+count-1, the first starting at
 * start, each lasting duration (track timescale). */
struct pc_run {
    uint64_t first;
    uint64_t start;
    uint32_t duration;
    uint32_t count;
};

struct pc_timeline {
    uint32_t timescale;
    uint64_t segments;
    uint64_t start;                 /* first segment's start */
    uint64_t end;                   /* last segment's end */
    uint32_t max_duration;
    size_t n_runs;
    struct pc_run *runs;            /* owned */
};

/**
 * Build track @p t's timeline: consecutive segments of equal duration are one
 * run; a new run also starts wherever a segment does not start at the end of
 * the previous one (a discontinuity; a validated bundle has none).
 * @param out  filled on success (the caller owns it: pc_timeline_free);
 *             zeroed on failure.  A track with no committed segments gives a
 *             timeline with no runs.
 * @return 0, PC_EINVAL (@p t is not a track of @p b) or PC_ENOMEM.
 */
int pc_timeline_build(const struct pc_bundle *b, unsigned t, struct pc_timeline *out);
/** Free @p tl's runs and zero it.  Safe on a zeroed timeline and on NULL. */
void pc_timeline_free(struct pc_timeline *tl);

/* All of a bundle's manifests, made once and kept for its generation. */
struct pc_manifest_cache;

/**
 * Make every manifest of @p b.
 * @return a cache owned by the caller (pc_manifest_cache_free), or NULL on
 *         allocation failure.
 */
struct pc_manifest_cache *pc_manifest_cache_new(const struct pc_bundle *b);
void pc_manifest_cache_free(struct pc_manifest_cache *mc);

/** The text of a manifest, valid as long as the cache.  @p track is used
 *  for PC_MANIFEST_HLS_MEDIA.  @return NULL if there is no such manifest. */
enum pc_manifest_kind { PC_MANIFEST_HLS_MASTER, PC_MANIFEST_HLS_MEDIA, PC_MANIFEST_DASH };
const char *pc_manifest_get(const struct pc_manifest_cache *mc, enum pc_manifest_kind kind,
                            unsigned track, size_t *len);

/* The writers themselves (used by the cache; exposed for tests).  Each
 * returns a malloc'd NUL-terminated string (the caller frees it) and its
 * length in *@p len (may be NULL), or NULL on allocation failure or a bad
 * argument.  Each computes its size first and allocates once
 * (docs/manifests.md says what they write and why).
 *   pc_hls_master  the multivariant playlist
 *   pc_hls_media   the media playlist of @p track, formatted from @p tl (the
 *                  timeline of that track; NULL: built and freed here)
 *   pc_dash_mpd    the static MPD; @p tls holds hdr->track_count timelines,
 *                  indexed by track */
char *pc_hls_master(const struct pc_bundle *b, size_t *len);
char *pc_hls_media(const struct pc_bundle *b, unsigned track, const struct pc_timeline *tl,
                   size_t *len);
char *pc_dash_mpd(const struct pc_bundle *b, const struct pc_timeline *tls, size_t *len);

/* ------------------------------------------------------------ internals
 * Shared by hls.c and dash.c (defined in manifest_cache.c); not for callers.
 *
 * A measure-then-fill text buffer: a writer is a function that appends to a
 * struct pc__text.  pc__text_make runs it once with no storage (only len
 * advances), allocates len + 1 bytes, runs it again to fill them, and checks
 * that both runs produced the same length. */
struct pc__text {
    char *p;                        /* NULL while measuring */
    size_t len;                     /* bytes appended (measured or written) */
    size_t cap;                     /* bytes available at p, without the NUL */
    int bad;                        /* a fill overflowed or printf failed */
};

typedef void pc__text_writer(struct pc__text *t, const void *ctx);

/** Run @p fn twice as above.  @return the malloc'd text (length in *@p len,
 *  may be NULL), or NULL if allocation failed or the runs disagreed. */
char *pc__text_make(pc__text_writer *fn, const void *ctx, size_t *len);

void pc__text_printf(struct pc__text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void pc__text_put(struct pc__text *t, const char *s, size_t n);
void pc__text_puts(struct pc__text *t, const char *s);

/* How pc__text_label writes a label read from a bundle (an untrusted UTF-8
 * name of at most @p max bytes): invalid UTF-8 becomes '?', control
 * characters become ' ' (RFC 8216 4.1; XML 1.0 2.2), and then
 *   PC__LABEL_HLS  '"' becomes '\'' (an HLS quoted-string cannot hold '"',
 *                  RFC 8216 4.2);
 *   PC__LABEL_XML  & < > " ' are escaped as entities. */
enum pc__label_mode { PC__LABEL_HLS, PC__LABEL_XML };
void pc__text_label(struct pc__text *t, const char *s, size_t max, enum pc__label_mode mode);

/**
 * The BCP 47 form of a track's language field (ISO 639-2/B, 639-2/T or
 * already BCP 47): common three-letter codes become their two-letter ISO
 * 639-1 equivalents ("eng" -> "en", "fre"/"fra" -> "fr"), the primary subtag
 * is lower-cased, other subtags are kept.
 * @return the length written to @p out (NUL-terminated, @p cap >= 16), or 0
 *         if the tag is empty, "und", or not well-formed (then no language
 *         should be declared).
 */
size_t pc__lang_bcp47(const char *tag, size_t max, char *out, size_t cap);

/** The name of language @p bcp47 in that language ("English", "français"),
 *  for the common ones; NULL otherwise. */
const char *pc__lang_name(const char *bcp47);

#endif
