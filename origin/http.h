/*
 * HTTP semantics the origin needs and libmicrohttpd does not give: byte
 * ranges (RFC 9110 14), conditional requests (RFC 9110 13), HTTP-dates
 * (RFC 9110 5.6.7) and entity tags (RFC 9110 8.8.3).  Pure: strings and
 * integers in, decisions out; no I/O, no allocation, no clock (the caller
 * passes "now"), so every edge is unit-tested and the parsers are fuzzed.
 *
 * Statuses come from include/pagecast/status.h's one list (PC_EMETHOD,
 * PC_ERANGE, PC_EPRECONDITION, ...), so no handler writes a bare code.
 */
#ifndef PC_HTTP_H
#define PC_HTTP_H

#include "pagecast/status.h"

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ HTTP-dates */

/* "Sun, 06 Nov 1994 08:49:37 GMT" is 29 bytes; the buffer holds the NUL. */
#define PC_HTTP_DATE_LEN 30

/**
 * Format @p t (seconds since the epoch, UTC) as an IMF-fixdate.
 * Years outside 0..9999 are clamped to that range.
 * @return the length written (29), not counting the NUL.
 */
size_t pc_http_date_format(int64_t t, char out[PC_HTTP_DATE_LEN]);

/**
 * Parse an HTTP-date: IMF-fixdate, or the obsolete RFC 850 and asctime
 * forms that recipients must accept (RFC 9110 5.6.7).  Leading and
 * trailing whitespace is allowed; anything else that does not match
 * exactly (a wrong field, day 31 of a 30-day month, hour 24) is refused.
 * @param now  the current time; an RFC 850 two-digit year that would be
 *             more than 50 years after it is taken in the century before
 * @return 0 and *@p out, or PC_EINVAL.
 */
int pc_http_date_parse(const char *s, size_t len, int64_t now, int64_t *out);

/* ------------------------------------------------------------ entity tags */

/* The longest ETag pc_http_etag writes, with quotes and NUL. */
#define PC_ETAG_MAX 64

enum pc_http_object {
    PC_HTTP_OBJ_MASTER,
    PC_HTTP_OBJ_MPD,
    PC_HTTP_OBJ_MEDIA_PLAYLIST,
    PC_HTTP_OBJ_INIT,
    PC_HTTP_OBJ_SEGMENT,
};

/**
 * Make the strong ETag of one object of a bundle: a quoted string built
 * from the bundle's generation (which changes with every write) and the
 * object's id, e.g. "\"00c0ffee00c0ffee-1-17\"" for segment 17 of track 1.
 * @param track    used by MEDIA_PLAYLIST, INIT, SEGMENT
 * @param segment  used by SEGMENT
 * @return the length written (without NUL).
 */
size_t pc_http_etag(char out[PC_ETAG_MAX], uint64_t generation,
                    enum pc_http_object obj, unsigned track, uint64_t segment);

/**
 * Does the If-None-Match / If-Match style field value @p list (a
 * comma-separated list of entity-tags, or "*") match @p etag (one quoted
 * strong tag)?  @p weak selects the weak comparison (If-None-Match) or the
 * strong one (If-Match, where a W/ tag never matches).
 * @return 1 match, 0 no match, PC_EINVAL if @p list is not a valid list.
 */
int pc_http_etag_match(const char *list, const char *etag, int weak);

/* ----------------------------------------------------------------- ranges */

struct pc_range {
    uint64_t start;             /* first byte */
    uint64_t length;            /* > 0 */
};

enum pc_range_result {
    PC_RANGE_NONE = 0,          /* no usable Range: send the whole object (200) */
    PC_RANGE_PARTIAL,           /* one satisfiable range: 206 */
    PC_RANGE_UNSATISFIABLE,     /* 416 with Content-Range: bytes * / size */
};

/**
 * Interpret the Range field value @p value for an object of @p size bytes
 * (RFC 9110 14.1.2, 14.2).  One range is served: "bytes=a-b" (b past the
 * end is clamped), "bytes=a-" and "bytes=-n" (n larger than the object
 * means all of it).  Numbers too large for 64 bits saturate, which is what
 * their meaning asks for.  Policy, documented in docs/http.md:
 *   - a syntactically invalid value (unknown unit, b < a, garbage, sign,
 *     empty) is ignored: PC_RANGE_NONE;
 *   - several ranges are ignored too (RFC 9110 14.2 lets a server ignore
 *     Range; segments are small, so the whole object is the cheap answer);
 *   - a single range that starts at or after the end, "bytes=-0", or any
 *     range of an empty object is PC_RANGE_UNSATISFIABLE.
 * @param value  NULL (no Range field) is PC_RANGE_NONE
 * @return an enum pc_range_result; *@p out is set for PC_RANGE_PARTIAL.
 */
enum pc_range_result pc_http_range_parse(const char *value, uint64_t size,
                                         struct pc_range *out);

/* ---------------------------------------------------- request evaluation */

/* The request's fields that take part in the decision (NULL: absent). */
struct pc_http_request {
    int is_get;                 /* GET: Range applies; HEAD: it does not */
    const char *if_match;
    const char *if_none_match;
    const char *if_modified_since;
    const char *if_unmodified_since;
    const char *if_range;
    const char *range;
};

/* The selected representation's validators and size. */
struct pc_http_object_info {
    const char *etag;           /* strong, quoted */
    int64_t last_modified;      /* seconds since the epoch */
    uint64_t size;
};

enum pc_http_outcome {
    PC_HTTP_SEND_FULL,          /* 200 */
    PC_HTTP_SEND_PARTIAL,       /* 206, the range in *range */
    PC_HTTP_NOT_MODIFIED,       /* 304 */
    PC_HTTP_PRECONDITION_FAILED,/* 412 */
    PC_HTTP_RANGE_NOT_SATISFIABLE, /* 416 */
};

/**
 * Decide how to answer a GET or HEAD for an existing object, evaluating
 * the preconditions in the order of RFC 9110 13.2.2:
 *   1. If-Match (strong comparison) false -> 412;
 *   2. else if no If-Match, If-Unmodified-Since (valid date) and
 *      last_modified later than it -> 412;
 *   3. If-None-Match (weak comparison, "*" matches) true -> 304;
 *   4. else if no If-None-Match, If-Modified-Since (valid date, not later
 *      than @p now) and last_modified not later than it -> 304;
 *   5. Range on a GET, when If-Range is absent or matches (a strong ETag
 *      compared strongly, or an HTTP-date equal to last_modified) -> 206 or
 *      416; otherwise the whole object.
 * Invalid dates make their field ignored, as RFC 9110 13.1.3/13.1.4 ask.
 * @param range  set for PC_HTTP_SEND_PARTIAL
 */
enum pc_http_outcome pc_http_evaluate(const struct pc_http_request *req,
                                      const struct pc_http_object_info *obj,
                                      int64_t now, struct pc_range *range);

#endif
