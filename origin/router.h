/*
 * The URL router: one request target (the raw, still percent-encoded bytes
 * of the request line) in, one route out.  Pure: no I/O, no allocation, no
 * global state, so it is unit-tested and fuzzed on its own.
 *
 * URL scheme (origin/manifest.h names the per-title part):
 *   /healthz                                  liveness
 *   /metrics                                  Prometheus text exposition
 *   /<title>/master.m3u8                      HLS multivariant playlist
 *   /<title>/manifest.mpd                     DASH MPD
 *   /<title>/<track>.m3u8                     HLS media playlist
 *   /<title>/<gen>/<track>/init.mp4           init segment
 *   /<title>/<gen>/<track>/<n>.m4s            media segment n (1-based)
 * <title> is one or more path segments (a file's path relative to the media
 * directory: it may contain '/', spaces and UTF-8, percent-encoded);
 * <track> and <n> are canonical decimal (no sign, no leading zero);
 * <gen> is exactly 16 lowercase hex digits.  The last segment names the
 * resource, so a title can never be confused with one.
 *
 * Safety.  The title that comes out is relative and can name nothing above
 * the media directory: every segment is decoded on its own and refused when
 * it is empty ("//"), "." or "..", or decodes to '/', '\\', NUL or another
 * control character, or is not valid UTF-8 (which also refuses overlong
 * forms such as %C0%AE for '.').  Segments that start with '.' (hidden
 * files, which the catalog never lists) are a plain "not found".
 */
#ifndef PC_ROUTER_H
#define PC_ROUTER_H

#include <stddef.h>
#include <stdint.h>

/* Longest request target the router accepts, in bytes (longer: 414). */
#define PC_ROUTE_TARGET_MAX 4096

enum pc_route_kind {
    PC_ROUTE_NOT_FOUND = 0,     /* well formed, but names nothing we serve */
    PC_ROUTE_MASTER,
    PC_ROUTE_MEDIA_PLAYLIST,
    PC_ROUTE_MPD,
    PC_ROUTE_INIT,
    PC_ROUTE_SEGMENT,
    PC_ROUTE_HEALTHZ,
    PC_ROUTE_METRICS,
    PC_ROUTE__COUNT
};

struct pc_route {
    enum pc_route_kind kind;
    unsigned track;             /* MEDIA_PLAYLIST, INIT, SEGMENT */
    uint64_t segment;           /* SEGMENT: 1-based */
    uint64_t generation;        /* INIT, SEGMENT */
    size_t title_len;
    /* MASTER .. SEGMENT: decoded, NUL-terminated, relative, no leading or
     * trailing '/'.  Decoding never lengthens, so the raw limit bounds it. */
    char title[PC_ROUTE_TARGET_MAX + 1];
};

/**
 * Parse the request target @p target (@p len bytes, need not be
 * NUL-terminated): origin-form "/path[?query]" or absolute-form
 * "http[s]://authority/path[?query]" (RFC 9112 3.2).  The query is ignored.
 * @param r  filled on return 0; unspecified otherwise
 * @return 0 with r->kind set (PC_ROUTE_NOT_FOUND is a decline, not an
 *         error); PC_EURITOOLONG (414) if @p len > PC_ROUTE_TARGET_MAX;
 *         PC_EINVAL (400) for a target that is malformed or tries to leave
 *         the media directory (see the file comment).
 */
int pc_route_parse(const char *target, size_t len, struct pc_route *r);

/**
 * Where the path of request target @p t (@p len bytes) starts: 0 for
 * origin-form, just after "http[s]://authority" for absolute-form (RFC 9112
 * 3.2.2).  @return the offset, or -1 if the authority is empty or no path
 * follows it.
 */
long pc_target_path_start(const char *t, size_t len);

/** @return the value of the hex digit @p c (either case), or -1. */
int pc_hexval(unsigned char c);

/** @return a short lower-case name for @p kind ("segment", "master", ...),
 *  used as a metrics label and in logs; never NULL. */
const char *pc_route_kind_name(enum pc_route_kind kind);

#endif
