/*
 * HTTP semantics for the origin (http.h): statuses beyond the core list,
 * HTTP-dates, entity tags, byte ranges and the precondition order of
 * RFC 9110 13.2.2.  Pure functions over strings; the server glue in
 * server.c only fetches header values and maps outcomes to responses.
 *
 * Parsing style: a cursor over a NUL-terminated value, every token checked
 * exactly; whatever is not understood makes its field invalid, and the
 * callers apply RFC 9110's rule for an invalid field (usually: ignore it).
 */
#include "http.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------ HTTP-dates */

static const char *const day_short[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const day_long[7] = { "Sunday", "Monday", "Tuesday", "Wednesday",
                                         "Thursday", "Friday", "Saturday" };
static const char *const month_name[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil); exact for every year, no time zone, no libc. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(int64_t y, unsigned m)
{
    static const unsigned days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

size_t pc_http_date_format(int64_t t, char out[PC_HTTP_DATE_LEN])
{
    /* 0000-01-01T00:00:00 .. 9999-12-31T23:59:59 */
    const int64_t lo = -62167219200, hi = 253402300799;
    if (t < lo)
        t = lo;
    if (t > hi)
        t = hi;
    int64_t days = floor_div(t, 86400);
    int64_t secs = t - days * 86400;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    unsigned wday = (unsigned)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
    int n = snprintf(out, PC_HTTP_DATE_LEN, "%s, %02u %s %04d %02u:%02u:%02u GMT",
                     day_short[wday], d, month_name[m - 1], (int)y,
                     (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60),
                     (unsigned)(secs % 60));
    return n > 0 ? (size_t)n : 0;
}

struct cursor {
    const char *p, *end;
};

static bool lit(struct cursor *c, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0)
        return false;
    c->p += n;
    return true;
}

/* Exactly @p n digits. */
static bool digits(struct cursor *c, unsigned n, unsigned *v)
{
    if ((size_t)(c->end - c->p) < n)
        return false;
    unsigned x = 0;
    for (unsigned i = 0; i < n; i++) {
        if (c->p[i] < '0' || c->p[i] > '9')
            return false;
        x = x * 10 + (unsigned)(c->p[i] - '0');
    }
    c->p += n;
    *v = x;
    return true;
}

static int name_index(struct cursor *c, const char *const *names, int count)
{
    for (int i = 0; i < count; i++)
        if (lit(c, names[i]))
            return i;
    return -1;
}

static bool month(struct cursor *c, unsigned *m)
{
    int i = name_index(c, month_name, 12);
    if (i < 0)
        return false;
    *m = (unsigned)i + 1;
    return true;
}

/* time-of-day = hour ":" minute ":" second; second 60 is a leap second. */
static bool time_of_day(struct cursor *c, unsigned *h, unsigned *mi, unsigned *s)
{
    return digits(c, 2, h) && lit(c, ":") && digits(c, 2, mi) && lit(c, ":") &&
           digits(c, 2, s) && *h <= 23 && *mi <= 59 && *s <= 60;
}

static bool is_ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* The broken-down date the three forms share. */
struct date_fields {
    int64_t y;
    unsigned m, d, h, mi, s;
};

/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
static bool imf_fixdate(struct cursor c, struct date_fields *f)
{
    unsigned y;
    if (!(name_index(&c, day_short, 7) >= 0 && lit(&c, ", ") && digits(&c, 2, &f->d) &&
          lit(&c, " ") && month(&c, &f->m) && lit(&c, " ") && digits(&c, 4, &y) &&
          lit(&c, " ") && time_of_day(&c, &f->h, &f->mi, &f->s) && lit(&c, " GMT") &&
          c.p == c.end))
        return false;
    f->y = y;
    return true;
}

/* rfc850-date: Sunday, 06-Nov-94 08:49:37 GMT.  RFC 9110 5.6.7: a
 * two-digit year more than 50 years after @p now is the most recent past
 * year with the same last two digits. */
static bool rfc850_date(struct cursor c, int64_t now, struct date_fields *f)
{
    unsigned yy;
    if (!(name_index(&c, day_long, 7) >= 0 && lit(&c, ", ") && digits(&c, 2, &f->d) &&
          lit(&c, "-") && month(&c, &f->m) && lit(&c, "-") && digits(&c, 2, &yy) &&
          lit(&c, " ") && time_of_day(&c, &f->h, &f->mi, &f->s) && lit(&c, " GMT") &&
          c.p == c.end))
        return false;
    int64_t ny;
    unsigned nm, nd;
    civil_from_days(floor_div(now, 86400), &ny, &nm, &nd);
    f->y = ny - ((ny % 100) + 100) % 100 + yy;
    if (f->y > ny + 50)
        f->y -= 100;
    return true;
}

/* asctime-date: Sun Nov  6 08:49:37 1994 (day as 2DIGIT or SP DIGIT) */
static bool asctime_date(struct cursor c, struct date_fields *f)
{
    unsigned y;
    if (!(name_index(&c, day_short, 7) >= 0 && lit(&c, " ") && month(&c, &f->m) && lit(&c, " ")))
        return false;
    if (!(lit(&c, " ") ? digits(&c, 1, &f->d) : digits(&c, 2, &f->d)))
        return false;
    if (!(lit(&c, " ") && time_of_day(&c, &f->h, &f->mi, &f->s) && lit(&c, " ") &&
          digits(&c, 4, &y) && c.p == c.end))
        return false;
    f->y = y;
    return true;
}

int pc_http_date_parse(const char *s, size_t len, int64_t now, int64_t *out)
{
    struct cursor c = { s, s + len };
    while (c.p < c.end && is_ows(*c.p))
        c.p++;
    while (c.end > c.p && is_ows(c.end[-1]))
        c.end--;
    struct date_fields f;
    if (!imf_fixdate(c, &f) && !rfc850_date(c, now, &f) && !asctime_date(c, &f))
        return PC_EINVAL;
    if (f.d < 1 || f.d > month_days(f.y, f.m))
        return PC_EINVAL;
    *out = days_from_civil(f.y, f.m, f.d) * 86400 + (int64_t)f.h * 3600 + (int64_t)f.mi * 60 + f.s;
    return 0;
}

/* ------------------------------------------------------------ entity tags */

size_t pc_http_etag(char out[PC_ETAG_MAX], uint64_t generation,
                    enum pc_http_object obj, unsigned track, uint64_t segment)
{
    int n;
    switch (obj) {
    case PC_HTTP_OBJ_MASTER:
        n = snprintf(out, PC_ETAG_MAX, "\"%016" PRIx64 "-master\"", generation);
        break;
    case PC_HTTP_OBJ_MPD:
        n = snprintf(out, PC_ETAG_MAX, "\"%016" PRIx64 "-mpd\"", generation);
        break;
    case PC_HTTP_OBJ_MEDIA_PLAYLIST:
        n = snprintf(out, PC_ETAG_MAX, "\"%016" PRIx64 "-%u-m3u8\"", generation, track);
        break;
    case PC_HTTP_OBJ_INIT:
        n = snprintf(out, PC_ETAG_MAX, "\"%016" PRIx64 "-%u-init\"", generation, track);
        break;
    case PC_HTTP_OBJ_SEGMENT:
    default:
        n = snprintf(out, PC_ETAG_MAX, "\"%016" PRIx64 "-%u-%" PRIu64 "\"", generation,
                     track, segment);
        break;
    }
    return n > 0 ? (size_t)n : 0;
}

/* One entity-tag at the cursor: [W/] DQUOTE *etagc DQUOTE (RFC 9110
 * 8.8.3); etagc is %x21 / %x23-7E / obs-text.  On success the opaque tag
 * (with its quotes) is [*op, *op + *olen). */
static bool entity_tag(struct cursor *c, bool *weak, const char **op, size_t *olen)
{
    *weak = lit(c, "W/");
    const char *start = c->p;
    if (!lit(c, "\""))
        return false;
    while (c->p < c->end && *c->p != '"') {
        unsigned char ch = (unsigned char)*c->p;
        if (ch < 0x21 || ch == 0x7f)
            return false;
        c->p++;
    }
    if (!lit(c, "\""))
        return false;
    *op = start;
    *olen = (size_t)(c->p - start);
    return true;
}

int pc_http_etag_match(const char *list, const char *etag, int weak)
{
    struct cursor c = { list, list + strlen(list) };
    size_t elen = strlen(etag);
    while (c.p < c.end && is_ows(*c.p))
        c.p++;
    struct cursor star = c;
    if (lit(&star, "*")) {
        while (star.p < star.end && is_ows(*star.p))
            star.p++;
        return star.p == star.end ? 1 : PC_EINVAL;
    }
    int matched = 0;
    for (;;) {
        /* #rule: empty elements and OWS around commas are allowed
         * (RFC 9110 5.6.1.2). */
        while (c.p < c.end && (is_ows(*c.p) || *c.p == ','))
            c.p++;
        if (c.p == c.end)
            break;
        bool w;
        const char *op;
        size_t olen;
        if (!entity_tag(&c, &w, &op, &olen))
            return PC_EINVAL;
        if ((weak || !w) && olen == elen && memcmp(op, etag, elen) == 0)
            matched = 1;
        while (c.p < c.end && is_ows(*c.p))
            c.p++;
        if (c.p < c.end && *c.p != ',')
            return PC_EINVAL;
    }
    return matched;
}

/* ----------------------------------------------------------------- ranges */

/* 1*DIGIT, saturating at UINT64_MAX: a position past any object is what a
 * huge number means, so it needs no error of its own. */
static bool number(struct cursor *c, uint64_t *v)
{
    const char *start = c->p;
    uint64_t x = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        unsigned d = (unsigned)(*c->p - '0');
        x = x > (UINT64_MAX - d) / 10 ? UINT64_MAX : x * 10 + d;
        c->p++;
    }
    *v = x;
    return c->p != start;
}

enum pc_range_result pc_http_range_parse(const char *value, uint64_t size,
                                         struct pc_range *out)
{
    if (value == NULL)
        return PC_RANGE_NONE;
    struct cursor c = { value, value + strlen(value) };
    while (c.p < c.end && is_ows(*c.p))
        c.p++;
    /* range-unit is case-insensitive (RFC 9110 14.1); no OWS around '='. */
    if ((size_t)(c.end - c.p) < 6 || strncasecmp(c.p, "bytes=", 6) != 0)
        return PC_RANGE_NONE;
    c.p += 6;

    unsigned count = 0;
    bool has_first = false, has_last = false;
    uint64_t first = 0, last = 0;
    for (;;) {
        while (c.p < c.end && (is_ows(*c.p) || *c.p == ','))
            c.p++;
        if (c.p == c.end)
            break;
        uint64_t a = 0, b = 0;
        bool ha = number(&c, &a);
        if (!lit(&c, "-"))
            return PC_RANGE_NONE;
        bool hb = number(&c, &b);
        if ((!ha && !hb) || (ha && hb && b < a))
            return PC_RANGE_NONE;   /* invalid range-spec: ignore the field */
        while (c.p < c.end && is_ows(*c.p))
            c.p++;
        if (c.p < c.end && *c.p != ',')
            return PC_RANGE_NONE;
        if (++count == 1) {
            has_first = ha;
            has_last = hb;
            first = a;
            last = b;
        }
    }
    if (count != 1)
        return PC_RANGE_NONE;       /* empty, or several ranges: whole object */

    if (size == 0)
        return PC_RANGE_UNSATISFIABLE;
    if (!has_first) {               /* suffix-range: the last `last` bytes */
        if (last == 0)
            return PC_RANGE_UNSATISFIABLE;
        uint64_t n = last < size ? last : size;
        out->start = size - n;
        out->length = n;
        return PC_RANGE_PARTIAL;
    }
    if (first >= size)
        return PC_RANGE_UNSATISFIABLE;
    if (!has_last || last >= size)
        last = size - 1;            /* clamp to the end (RFC 9110 14.1.2) */
    out->start = first;
    out->length = last - first + 1;
    return PC_RANGE_PARTIAL;
}

/* ---------------------------------------------------- request evaluation */

/* If-Range (RFC 9110 13.1.5): a strong entity-tag compared strongly, or an
 * HTTP-date equal to Last-Modified.  A weak tag or anything unparseable
 * never matches, so the whole object is sent. */
static bool if_range_matches(const char *v, const struct pc_http_object_info *obj, int64_t now)
{
    struct cursor c = { v, v + strlen(v) };
    while (c.p < c.end && is_ows(*c.p))
        c.p++;
    while (c.end > c.p && is_ows(c.end[-1]))
        c.end--;
    if (c.p < c.end && (*c.p == '"' || (c.end - c.p >= 2 && c.p[0] == 'W' && c.p[1] == '/'))) {
        bool w;
        const char *op;
        size_t olen;
        if (!entity_tag(&c, &w, &op, &olen) || c.p != c.end || w)
            return false;
        return olen == strlen(obj->etag) && memcmp(op, obj->etag, olen) == 0;
    }
    int64_t t;
    if (pc_http_date_parse(c.p, (size_t)(c.end - c.p), now, &t) != 0)
        return false;
    return t == obj->last_modified;
}

enum pc_http_outcome pc_http_evaluate(const struct pc_http_request *req,
                                      const struct pc_http_object_info *obj,
                                      int64_t now, struct pc_range *range)
{
    int64_t t;

    /* 1, 2: If-Match, else If-Unmodified-Since. */
    if (req->if_match) {
        if (pc_http_etag_match(req->if_match, obj->etag, 0) != 1)
            return PC_HTTP_PRECONDITION_FAILED;
    } else if (req->if_unmodified_since &&
               pc_http_date_parse(req->if_unmodified_since, strlen(req->if_unmodified_since),
                                  now, &t) == 0 &&
               obj->last_modified > t) {
        return PC_HTTP_PRECONDITION_FAILED;
    }

    /* 3, 4: If-None-Match, else If-Modified-Since (GET and HEAD only,
     * which is all that reaches here).  An invalid If-None-Match still
     * counts as present: it just never matches. */
    if (req->if_none_match) {
        if (pc_http_etag_match(req->if_none_match, obj->etag, 1) == 1)
            return PC_HTTP_NOT_MODIFIED;
    } else if (req->if_modified_since &&
               pc_http_date_parse(req->if_modified_since, strlen(req->if_modified_since),
                                  now, &t) == 0 &&
               t <= now &&             /* a date in the future is invalid */
               obj->last_modified <= t) {
        return PC_HTTP_NOT_MODIFIED;
    }

    /* 5: Range, for GET only (RFC 9110 14.2), guarded by If-Range. */
    if (!req->is_get || !req->range)
        return PC_HTTP_SEND_FULL;
    if (req->if_range && !if_range_matches(req->if_range, obj, now))
        return PC_HTTP_SEND_FULL;
    switch (pc_http_range_parse(req->range, obj->size, range)) {
    case PC_RANGE_PARTIAL:
        return PC_HTTP_SEND_PARTIAL;
    case PC_RANGE_UNSATISFIABLE:
        return PC_HTTP_RANGE_NOT_SATISFIABLE;
    case PC_RANGE_NONE:
    default:
        return PC_HTTP_SEND_FULL;
    }
}
