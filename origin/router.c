/*
 * The URL router (router.h): from the raw request target to a route.
 *
 * The target is split into '/'-separated segments *before* any
 * percent-decoding, and each segment is decoded and checked on its own, so
 * an encoded "/" (%2F), "." or ".." can never turn into structure.  The
 * title is then re-joined from the decoded segments with '/', which is the
 * only '/' it can contain.  Everything is bounded by PC_ROUTE_TARGET_MAX;
 * decoding never lengthens, so the title fits in struct pc_route.
 */
#include "router.h"
#include "http.h"

#include "pagecast/status.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* A decoded path segment inside the route's title buffer. */
struct seg {
    size_t off;                 /* in r->title */
    size_t len;
};

int pc_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, <= U+10FFFF.
 * Refusing overlong forms matters: %C0%AE is the classic encoded '.'. */
static bool valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned min, cp;
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1; min = 0x80; cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2; min = 0x800; cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3; min = 0x10000; cp = c & 0x07;
        } else {
            return false;       /* continuation byte, C0/C1, F5..FF */
        }
        if (n - i <= need)
            return false;
        for (size_t k = 1; k <= need; k++) {
            unsigned cc = s[i + k];
            if ((cc & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (cc & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += need + 1;
    }
    return true;
}

/*
 * Decode raw segment [p, p+n) into @p out (room for n bytes).
 * @return decoded length, or -1 if the segment must be refused (400).
 */
static long decode_segment(const char *p, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '%') {
            int hi, lo;
            if (n - i < 3 || (hi = pc_hexval((unsigned char)p[i + 1])) < 0 ||
                (lo = pc_hexval((unsigned char)p[i + 2])) < 0)
                return -1;      /* invalid escape */
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        /* NUL would cut the title short, '/' would add structure, '\\' is a
         * separator to some tools, control characters end up in logs. */
        if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
            return -1;
        out[o++] = (char)c;
    }
    if (!valid_utf8((const unsigned char *)out, o))
        return -1;
    return (long)o;
}

/* Canonical decimal: digits only, no leading zero (one URL per object),
 * value <= @p max.  @return true and *@p v. */
static bool parse_decimal(const char *s, size_t n, uint64_t max, uint64_t *v)
{
    if (n == 0 || n > 20 || (s[0] == '0' && n > 1))
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (x > (max - d) / 10)
            return false;       /* overflow */
        x = x * 10 + d;
    }
    *v = x;
    return true;
}

/* Exactly 16 lowercase hex digits (the form manifest.h writes). */
static bool parse_generation(const char *s, size_t n, uint64_t *v)
{
    if (n != 16)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < 16; i++) {
        unsigned char c = (unsigned char)s[i];
        int h = (c >= 'A' && c <= 'F') ? -1 : pc_hexval(c);
        if (h < 0)
            return false;
        x = x << 4 | (unsigned)h;
    }
    *v = x;
    return true;
}

/* "<decimal><suffix>" such as "3.m3u8" or "17.m4s". */
static bool parse_numbered(const char *s, size_t n, const char *suffix, uint64_t max,
                           uint64_t *v)
{
    size_t sl = strlen(suffix);
    if (n <= sl || memcmp(s + n - sl, suffix, sl) != 0)
        return false;
    return parse_decimal(s, n - sl, max, v);
}

static bool seg_is(const char *title, const struct seg *s, const char *lit)
{
    size_t n = strlen(lit);
    return s->len == n && memcmp(title + s->off, lit, n) == 0;
}

/* End the title after decoded segment @p s: the segments before it are
 * already separated by '/' in r->title (see pc_route_parse). */
static void end_title(struct pc_route *r, const struct seg *s)
{
    r->title_len = s->off + s->len;
    r->title[r->title_len] = '\0';
}

long pc_target_path_start(const char *t, size_t len)
{
    static const char *const schemes[] = { "http://", "https://" };
    for (size_t k = 0; k < 2; k++) {
        size_t sl = strlen(schemes[k]);
        if (len < sl || strncasecmp(t, schemes[k], sl) != 0)
            continue;
        size_t i = sl;
        while (i < len && t[i] != '/' && t[i] != '?' && t[i] != '#')
            i++;
        if (i == sl)
            return -1;          /* empty authority */
        if (i == len)
            return -1;          /* "http://host": no path to route */
        return (long)i;
    }
    return 0;
}

const char *pc_route_kind_name(enum pc_route_kind kind)
{
    switch (kind) {
    case PC_ROUTE_MASTER:         return "master";
    case PC_ROUTE_MEDIA_PLAYLIST: return "media_playlist";
    case PC_ROUTE_MPD:            return "mpd";
    case PC_ROUTE_INIT:           return "init";
    case PC_ROUTE_SEGMENT:        return "segment";
    case PC_ROUTE_HEALTHZ:        return "healthz";
    case PC_ROUTE_METRICS:        return "metrics";
    case PC_ROUTE_NOT_FOUND:
    case PC_ROUTE__COUNT:         break;
    }
    return "other";
}

/* Name the route from the decoded segments: @p segs holds the last
 * min(@p nseg, 4) of them, the last one naming the resource. */
static void classify(struct pc_route *r, const struct seg *segs, size_t nseg)
{
    const char *t = r->title;
    size_t kept = nseg < 4 ? nseg : 4;  /* segs[kept - 1] is the last */
    const struct seg *last = &segs[kept - 1];
    const char *lp = t + last->off;
    uint64_t v;

    if (nseg == 1) {
        if (seg_is(t, last, "healthz"))
            r->kind = PC_ROUTE_HEALTHZ;
        else if (seg_is(t, last, "metrics"))
            r->kind = PC_ROUTE_METRICS;
        return;
    }
    if (seg_is(t, last, "master.m3u8")) {
        end_title(r, &segs[kept - 2]);
        r->kind = PC_ROUTE_MASTER;
        return;
    }
    if (seg_is(t, last, "manifest.mpd")) {
        end_title(r, &segs[kept - 2]);
        r->kind = PC_ROUTE_MPD;
        return;
    }
    if (parse_numbered(lp, last->len, ".m3u8", UINT32_MAX, &v)) {
        r->track = (unsigned)v;
        end_title(r, &segs[kept - 2]);
        r->kind = PC_ROUTE_MEDIA_PLAYLIST;
        return;
    }
    /* <title>/<gen>/<track>/(init.mp4|<n>.m4s): at least 4 segments. */
    if (nseg < 4)
        return;
    bool is_init = seg_is(t, last, "init.mp4");
    uint64_t n_seg = 0;
    if (!is_init && !(parse_numbered(lp, last->len, ".m4s", UINT64_MAX, &n_seg) && n_seg >= 1))
        return;
    uint64_t gen, track;
    const struct seg *sg = &segs[1], *st = &segs[2];
    if (!parse_generation(t + sg->off, sg->len, &gen) ||
        !parse_decimal(t + st->off, st->len, UINT32_MAX, &track))
        return;
    r->generation = gen;
    r->track = (unsigned)track;
    r->segment = n_seg;
    end_title(r, &segs[0]);
    r->kind = is_init ? PC_ROUTE_INIT : PC_ROUTE_SEGMENT;
}

int pc_route_parse(const char *target, size_t len, struct pc_route *r)
{
    r->kind = PC_ROUTE_NOT_FOUND;
    r->track = 0;
    r->segment = 0;
    r->generation = 0;
    r->title_len = 0;
    r->title[0] = '\0';

    if (len > PC_ROUTE_TARGET_MAX)
        return PC_EURITOOLONG;
    /* No whitespace, control bytes or NUL anywhere in a request target
     * (RFC 9112 3.2; RFC 3986 has no place for them). */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)target[i];
        if (c <= 0x20 || c == 0x7f)
            return PC_EINVAL;
    }
    long skip = pc_target_path_start(target, len);
    if (skip < 0)
        return PC_EINVAL;
    const char *p = target + skip;
    size_t n = len - (size_t)skip;

    /* The path ends at '?' (the query is not ours to read).  A fragment is
     * never sent by a conforming client (RFC 9110 7.1): refuse it. */
    size_t plen = 0;
    while (plen < n && p[plen] != '?') {
        if (p[plen] == '#')
            return PC_EINVAL;
        plen++;
    }
    if (plen == 0 || p[0] != '/')
        return PC_EINVAL;       /* "*" or a relative path */
    if (plen == 1)
        return 0;               /* "/": nothing there */

    /* Split and decode.  Each decoded segment is written to r->title at
     * the running offset and followed by a '/', so the title made of the
     * first k segments is already in place.  Every raw segment is preceded
     * by a '/' in the target and decoding never lengthens, so the decoded
     * bytes plus separators never exceed plen <= PC_ROUTE_TARGET_MAX.
     * Only the last four segments are remembered: the resource, track,
     * generation, and the end of the title before them. */
    struct seg segs[4];
    size_t nseg = 0, o = 0;
    size_t i = 1;
    bool hidden = false;
    for (;;) {
        size_t start = i;
        while (i < plen && p[i] != '/')
            i++;
        size_t rawlen = i - start;
        if (rawlen == 0)
            return PC_EINVAL;   /* "//", or a trailing '/' */
        long d = decode_segment(p + start, rawlen, r->title + o);
        if (d < 0)
            return PC_EINVAL;
        struct seg s = { o, (size_t)d };
        if (seg_is(r->title, &s, ".") || seg_is(r->title, &s, ".."))
            return PC_EINVAL;   /* dot-segments, in any encoding */
        if (r->title[o] == '.')
            hidden = true;      /* hidden files are never titles */
        if (nseg < 4) {
            segs[nseg] = s;
        } else {
            memmove(segs, segs + 1, 3 * sizeof segs[0]);
            segs[3] = s;
        }
        nseg++;
        o += (size_t)d;
        r->title[o++] = '/';
        if (i >= plen)
            break;
        i++;                    /* past '/' */
    }
    r->title[o - 1] = '\0';
    if (!hidden)
        classify(r, segs, nseg);
    if (r->kind == PC_ROUTE_NOT_FOUND || r->kind == PC_ROUTE_HEALTHZ ||
        r->kind == PC_ROUTE_METRICS) {
        r->title[0] = '\0';    /* no title: nothing half-decoded leaks */
        r->title_len = 0;
    }
    return 0;
}
