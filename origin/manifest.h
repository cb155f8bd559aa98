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

/** Build track @p t's timeline.  @return 0 or PC_ENOMEM. */
int pc_timeline_build(const struct pc_bundle *b, unsigned t, struct pc_timeline *out);
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
 * returns a malloc'd NUL-terminated string and its length, or NULL. */
char *pc_hls_master(const struct pc_bundle *b, size_t *len);
char *pc_hls_media(const struct pc_bundle *b, unsigned track, const struct pc_timeline *tl,
                   size_t *len);
char *pc_dash_mpd(const struct pc_bundle *b, const struct pc_timeline *tls, size_t *len);

#endif
