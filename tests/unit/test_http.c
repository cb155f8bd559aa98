/*
 * Unit tests for origin/http.c: byte ranges (every form and edge of RFC
 * 9110 14), HTTP-dates in the three forms of RFC 9110 5.6.7, entity-tag
 * lists, and the precondition order of RFC 9110 13.2.2.  Expected values
 * are written out by hand (dates checked against `date -u -d @T`).
 */
#include <criterion/criterion.h>

#include "http.h"

#include <string.h>

/* ----------------------------------------------------------------- ranges */

static struct pc_range rg;

static void expect_partial(const char *v, uint64_t size, uint64_t start, uint64_t len)
{
    memset(&rg, 0xaa, sizeof rg);
    enum pc_range_result r = pc_http_range_parse(v, size, &rg);
    cr_assert_eq(r, PC_RANGE_PARTIAL, "%s (size %llu): result %d", v, (unsigned long long)size, r);
    cr_assert_eq(rg.start, start, "%s: start %llu", v, (unsigned long long)rg.start);
    cr_assert_eq(rg.length, len, "%s: length %llu", v, (unsigned long long)rg.length);
}

static void expect_range(const char *v, uint64_t size, enum pc_range_result want)
{
    enum pc_range_result r = pc_http_range_parse(v, size, &rg);
    cr_assert_eq(r, want, "%s (size %llu): result %d, expected %d", v ? v : "(null)",
                 (unsigned long long)size, r, want);
}

Test(range, closed_range)
{
    expect_partial("bytes=0-499", 1000, 0, 500);
    expect_partial("bytes=500-999", 1000, 500, 500);
}

Test(range, first_byte_only)
{
    expect_partial("bytes=0-0", 1000, 0, 1);
    expect_partial("bytes=999-999", 1000, 999, 1);
}

Test(range, open_ended)
{
    expect_partial("bytes=9500-", 10000, 9500, 500);
    expect_partial("bytes=0-", 10000, 0, 10000);
    expect_partial("bytes=9999-", 10000, 9999, 1);
}

Test(range, suffix)
{
    expect_partial("bytes=-500", 10000, 9500, 500);
    expect_partial("bytes=-1", 10000, 9999, 1);
}

Test(range, suffix_larger_than_object_is_whole_object)
{
    expect_partial("bytes=-20000", 10000, 0, 10000);
    expect_partial("bytes=-10000", 10000, 0, 10000);
}

Test(range, last_past_end_is_clamped)
{
    expect_partial("bytes=500-5000", 1000, 500, 500);
    expect_partial("bytes=0-1000", 1000, 0, 1000);
}

Test(range, start_at_or_past_end_is_unsatisfiable)
{
    expect_range("bytes=1000-", 1000, PC_RANGE_UNSATISFIABLE);
    expect_range("bytes=1000-2000", 1000, PC_RANGE_UNSATISFIABLE);
    expect_range("bytes=5000-", 1000, PC_RANGE_UNSATISFIABLE);
}

Test(range, zero_suffix_is_unsatisfiable)
{
    expect_range("bytes=-0", 1000, PC_RANGE_UNSATISFIABLE);
}

Test(range, empty_object_is_unsatisfiable)
{
    expect_range("bytes=0-", 0, PC_RANGE_UNSATISFIABLE);
    expect_range("bytes=-5", 0, PC_RANGE_UNSATISFIABLE);
}

Test(range, last_before_first_is_ignored)
{
    expect_range("bytes=500-499", 1000, PC_RANGE_NONE);
    expect_range("bytes=5-1", 1000, PC_RANGE_NONE);
}

Test(range, garbage_is_ignored)
{
    const char *bad[] = {
        "", "bytes", "bytes=", "bytes=-", "bytes=a-b", "bytes=1", "bytes=1-2-3",
        "bytes=+1-2", "bytes=1-+2", "bytes=-1-2", "bytes=--1", "bytes=0x10-",
        "bytes=1 2-3", "bytes =0-1", "bytes= 0-1 x", "items=0-1", "bits=0-1",
        "bytes=1.5-2", "0-1", "=0-1", "bytes=,", "bytes= , ,",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_range(bad[i], 1000, PC_RANGE_NONE);
    expect_range(NULL, 1000, PC_RANGE_NONE);
}

Test(range, unit_is_case_insensitive_and_ows_is_allowed)
{
    expect_partial("Bytes=0-9", 100, 0, 10);
    expect_partial("BYTES=0-9", 100, 0, 10);
    expect_partial(" bytes= 0-9 ", 100, 0, 10);
    expect_partial("bytes=0-9,", 100, 0, 10);           /* empty list element */
    expect_partial("bytes=, 10-19", 100, 10, 10);
}

Test(range, several_ranges_send_the_whole_object)
{
    expect_range("bytes=0-1,5-6", 1000, PC_RANGE_NONE);
    expect_range("bytes=0-1, -1", 1000, PC_RANGE_NONE);
    expect_range("bytes=5000-,6000-", 1000, PC_RANGE_NONE);
}

Test(range, overflowing_numbers_saturate)
{
    /* a first-pos beyond 64 bits is past any end */
    expect_range("bytes=184467440737095516160-", 1000, PC_RANGE_UNSATISFIABLE);
    expect_range("bytes=18446744073709551615-", 1000, PC_RANGE_UNSATISFIABLE);
    /* a last-pos beyond 64 bits is clamped to the end */
    expect_partial("bytes=10-99999999999999999999999999", 1000, 10, 990);
    /* a suffix beyond 64 bits is the whole object */
    expect_partial("bytes=-99999999999999999999999999", 1000, 0, 1000);
    /* the largest object the format allows */
    expect_partial("bytes=18446744073709551614-", UINT64_MAX, UINT64_MAX - 1, 1);
    expect_partial("bytes=0-", UINT64_MAX, 0, UINT64_MAX);
}

/* --------------------------------------------------------------- HTTP-dates */

#define T_1994 784111777            /* Sun, 06 Nov 1994 08:49:37 GMT */
#define NOW 1764000000              /* Mon, 24 Nov 2025 16:00:00 GMT */

static int64_t parse_date(const char *s)
{
    int64_t t = -1;
    int r = pc_http_date_parse(s, strlen(s), NOW, &t);
    cr_assert_eq(r, 0, "'%s' refused", s);
    return t;
}

static void expect_bad_date(const char *s)
{
    int64_t t = 12345;
    cr_assert_eq(pc_http_date_parse(s, strlen(s), NOW, &t), PC_EINVAL, "'%s' accepted", s);
    cr_assert_eq(t, 12345, "'%s': output written on failure", s);
}

Test(date, imf_fixdate)
{
    cr_assert_eq(parse_date("Sun, 06 Nov 1994 08:49:37 GMT"), T_1994);
    cr_assert_eq(parse_date("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
    cr_assert_eq(parse_date("Mon, 24 Nov 2025 16:00:00 GMT"), NOW);
    cr_assert_eq(parse_date("Thu, 29 Feb 2024 12:00:00 GMT"), 1709208000);
    cr_assert_eq(parse_date("  Sun, 06 Nov 1994 08:49:37 GMT\t"), T_1994);
}

Test(date, rfc850)
{
    cr_assert_eq(parse_date("Sunday, 06-Nov-94 08:49:37 GMT"), T_1994);
    /* two-digit years: more than 50 years ahead of NOW (2025) means the
     * century before (RFC 9110 5.6.7) */
    cr_assert_eq(parse_date("Wednesday, 01-Jan-70 00:00:00 GMT"), 3155760000);    /* 2070 */
    cr_assert_eq(parse_date("Saturday, 01-Jan-00 00:00:00 GMT"), 946684800);      /* 2000 */
    cr_assert_eq(parse_date("Tuesday, 01-Jan-75 00:00:00 GMT"), 3313526400);      /* 2075 */
    cr_assert_eq(parse_date("Wednesday, 01-Jan-76 00:00:00 GMT"), 189302400);     /* 1976 */
}

Test(date, asctime)
{
    cr_assert_eq(parse_date("Sun Nov  6 08:49:37 1994"), T_1994);
    cr_assert_eq(parse_date("Sun Nov 06 08:49:37 1994"), T_1994);
    cr_assert_eq(parse_date("Thu Jan  1 00:00:00 1970"), 0);
}

Test(date, leap_second_is_accepted)
{
    cr_assert_eq(parse_date("Sat, 31 Dec 2016 23:59:60 GMT"), 1483228800);
}

Test(date, malformed_dates_are_refused)
{
    const char *bad[] = {
        "", "GMT", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 +0000", "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT", "sun, 06 Nov 1994 08:49:37 GMT",
        "Sun,06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT", "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT", "Fri, 29 Feb 2019 00:00:00 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT x", "Sun, 06 Nov 1994 8:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT", "Sunday, 06 Nov 94 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994", "Sun Nov  6 08:49:37 94", "Sun Nov  6 08:49:37 1994 GMT",
        "Funday, 06-Nov-94 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",
        "1994-11-06T08:49:37Z", "784111777",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_bad_date(bad[i]);
}

Test(date, format_imf_fixdate)
{
    char buf[PC_HTTP_DATE_LEN];
    cr_assert_eq(pc_http_date_format(T_1994, buf), 29);
    cr_assert_str_eq(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
    pc_http_date_format(0, buf);
    cr_assert_str_eq(buf, "Thu, 01 Jan 1970 00:00:00 GMT");
    pc_http_date_format(1709208000, buf);
    cr_assert_str_eq(buf, "Thu, 29 Feb 2024 12:00:00 GMT");
    pc_http_date_format(-1, buf);
    cr_assert_str_eq(buf, "Wed, 31 Dec 1969 23:59:59 GMT");
    pc_http_date_format(INT64_MAX, buf);
    cr_assert_str_eq(buf, "Fri, 31 Dec 9999 23:59:59 GMT");
    pc_http_date_format(INT64_MIN, buf);
    cr_assert_str_eq(buf, "Sat, 01 Jan 0000 00:00:00 GMT");
}

Test(date, format_then_parse_round_trips)
{
    char buf[PC_HTTP_DATE_LEN];
    for (int64_t t = -86400 * 366 * 3; t < 4102444800; t += 86400 * 17 + 3607) {
        pc_http_date_format(t, buf);
        int64_t back;
        cr_assert_eq(pc_http_date_parse(buf, strlen(buf), NOW, &back), 0, "%s", buf);
        cr_assert_eq(back, t, "%s", buf);
    }
}

/* ---------------------------------------------------------------- ETags */

Test(etag, forms)
{
    char e[PC_ETAG_MAX];
    uint64_t g = 0x00c0ffee00c0ffeeull;
    cr_assert_eq(pc_http_etag(e, g, PC_HTTP_OBJ_SEGMENT, 1, 17), strlen("\"00c0ffee00c0ffee-1-17\""));
    cr_assert_str_eq(e, "\"00c0ffee00c0ffee-1-17\"");
    pc_http_etag(e, g, PC_HTTP_OBJ_INIT, 0, 0);
    cr_assert_str_eq(e, "\"00c0ffee00c0ffee-0-init\"");
    pc_http_etag(e, g, PC_HTTP_OBJ_MASTER, 0, 0);
    cr_assert_str_eq(e, "\"00c0ffee00c0ffee-master\"");
    pc_http_etag(e, g, PC_HTTP_OBJ_MPD, 0, 0);
    cr_assert_str_eq(e, "\"00c0ffee00c0ffee-mpd\"");
    pc_http_etag(e, g, PC_HTTP_OBJ_MEDIA_PLAYLIST, 3, 0);
    cr_assert_str_eq(e, "\"00c0ffee00c0ffee-3-m3u8\"");
    size_t n = pc_http_etag(e, UINT64_MAX, PC_HTTP_OBJ_SEGMENT, UINT32_MAX, UINT64_MAX);
    cr_assert_lt(n, PC_ETAG_MAX);
    cr_assert_str_eq(e, "\"ffffffffffffffff-4294967295-18446744073709551615\"");
}

Test(etag, weak_comparison_for_if_none_match)
{
    const char *e = "\"g-1-2\"";
    cr_assert_eq(pc_http_etag_match("\"g-1-2\"", e, 1), 1);
    cr_assert_eq(pc_http_etag_match("W/\"g-1-2\"", e, 1), 1);
    cr_assert_eq(pc_http_etag_match("\"x\", W/\"g-1-2\"", e, 1), 1);
    cr_assert_eq(pc_http_etag_match("\"x\",\"y\"", e, 1), 0);
    cr_assert_eq(pc_http_etag_match("*", e, 1), 1);
    cr_assert_eq(pc_http_etag_match("  *  ", e, 1), 1);
    cr_assert_eq(pc_http_etag_match(" , \"g-1-2\" ,", e, 1), 1);
    cr_assert_eq(pc_http_etag_match("\"g-1-2 \"", e, 1), PC_EINVAL);
    cr_assert_eq(pc_http_etag_match("g-1-2", e, 1), PC_EINVAL);
    cr_assert_eq(pc_http_etag_match("\"g-1-2", e, 1), PC_EINVAL);
    cr_assert_eq(pc_http_etag_match("\"a\" \"g-1-2\"", e, 1), PC_EINVAL);
    cr_assert_eq(pc_http_etag_match("*, \"g-1-2\"", e, 1), PC_EINVAL);
    cr_assert_eq(pc_http_etag_match("w/\"g-1-2\"", e, 1), PC_EINVAL);
    cr_assert_eq(pc_http_etag_match("", e, 1), 0);
}

Test(etag, strong_comparison_for_if_match)
{
    const char *e = "\"g-1-2\"";
    cr_assert_eq(pc_http_etag_match("\"g-1-2\"", e, 0), 1);
    cr_assert_eq(pc_http_etag_match("W/\"g-1-2\"", e, 0), 0);
    cr_assert_eq(pc_http_etag_match("*", e, 0), 1);
}

/* ---------------------------------------------------------- preconditions */

#define LM 1700000000               /* Tue, 14 Nov 2023 22:13:20 GMT */
static const char *etag = "\"0000000000000001-0-5\"";

static enum pc_http_outcome eval(struct pc_http_request req)
{
    struct pc_http_object_info obj = { etag, LM, 1000 };
    memset(&rg, 0, sizeof rg);
    return pc_http_evaluate(&req, &obj, NOW, &rg);
}

Test(conditional, plain_get_sends_everything)
{
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1 }), PC_HTTP_SEND_FULL);
}

Test(conditional, if_none_match_gives_304)
{
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1, .if_none_match = etag }),
                 PC_HTTP_NOT_MODIFIED);
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1, .if_none_match = "*" }),
                 PC_HTTP_NOT_MODIFIED);
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 0, .if_none_match = "W/\"0000000000000001-0-5\"" }),
                 PC_HTTP_NOT_MODIFIED);
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1, .if_none_match = "\"other\"" }),
                 PC_HTTP_SEND_FULL);
}

Test(conditional, if_modified_since_gives_304)
{
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1,
                      .if_modified_since = "Tue, 14 Nov 2023 22:13:20 GMT" }),
                 PC_HTTP_NOT_MODIFIED);
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1,
                      .if_modified_since = "Wed, 15 Nov 2023 00:00:00 GMT" }),
                 PC_HTTP_NOT_MODIFIED);
    /* modified after the date */
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1,
                      .if_modified_since = "Tue, 14 Nov 2023 22:13:19 GMT" }),
                 PC_HTTP_SEND_FULL);
    /* obsolete forms count too */
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1,
                      .if_modified_since = "Tuesday, 14-Nov-23 22:13:20 GMT" }),
                 PC_HTTP_NOT_MODIFIED);
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1,
                      .if_modified_since = "Tue Nov 14 22:13:20 2023" }),
                 PC_HTTP_NOT_MODIFIED);
}

Test(conditional, invalid_or_future_if_modified_since_is_ignored)
{
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1, .if_modified_since = "yesterday" }),
                 PC_HTTP_SEND_FULL);
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1,
                      .if_modified_since = "Fri, 01 Jan 2100 00:00:00 GMT" }),
                 PC_HTTP_SEND_FULL);
}

Test(conditional, if_none_match_takes_precedence_over_if_modified_since)
{
    /* RFC 9110 13.2.2 step 4 runs only without If-None-Match: a
     * non-matching tag sends the object even with a later date ... */
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1, .if_none_match = "\"old\"",
                      .if_modified_since = "Wed, 15 Nov 2023 00:00:00 GMT" }),
                 PC_HTTP_SEND_FULL);
    /* ... and a matching tag answers 304 whatever the date says */
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1, .if_none_match = etag,
                      .if_modified_since = "Mon, 01 Jan 2001 00:00:00 GMT" }),
                 PC_HTTP_NOT_MODIFIED);
    /* an unparseable If-None-Match still suppresses If-Modified-Since */
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1, .if_none_match = "garbage",
                      .if_modified_since = "Wed, 15 Nov 2023 00:00:00 GMT" }),
                 PC_HTTP_SEND_FULL);
}

Test(conditional, if_match_and_if_unmodified_since)
{
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1, .if_match = "\"other\"" }),
                 PC_HTTP_PRECONDITION_FAILED);
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1,
                      .if_match = "W/\"0000000000000001-0-5\"" }),
                 PC_HTTP_PRECONDITION_FAILED);      /* strong comparison */
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1, .if_match = etag }),
                 PC_HTTP_SEND_FULL);
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1,
                      .if_unmodified_since = "Mon, 01 Jan 2001 00:00:00 GMT" }),
                 PC_HTTP_PRECONDITION_FAILED);
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1,
                      .if_unmodified_since = "Tue, 14 Nov 2023 22:13:20 GMT" }),
                 PC_HTTP_SEND_FULL);
    /* If-Match present: If-Unmodified-Since is not evaluated */
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1, .if_match = "*",
                      .if_unmodified_since = "Mon, 01 Jan 2001 00:00:00 GMT" }),
                 PC_HTTP_SEND_FULL);
    /* 412 comes before 304 */
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1, .if_match = "\"other\"",
                      .if_none_match = etag }),
                 PC_HTTP_PRECONDITION_FAILED);
}

Test(conditional, range_gives_206_or_416)
{
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1, .range = "bytes=10-19" }),
                 PC_HTTP_SEND_PARTIAL);
    cr_assert_eq(rg.start, 10);
    cr_assert_eq(rg.length, 10);
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1, .range = "bytes=1000-" }),
                 PC_HTTP_RANGE_NOT_SATISFIABLE);
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1, .range = "bytes=x" }),
                 PC_HTTP_SEND_FULL);
}

Test(conditional, head_ignores_range)
{
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 0, .range = "bytes=10-19" }),
                 PC_HTTP_SEND_FULL);
}

Test(conditional, if_range_with_etag)
{
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1, .range = "bytes=10-19",
                      .if_range = etag }),
                 PC_HTTP_SEND_PARTIAL);
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1, .range = "bytes=10-19",
                      .if_range = "\"0000000000000002-0-5\"" }),
                 PC_HTTP_SEND_FULL);
    /* a weak tag never matches If-Range (RFC 9110 13.1.5) */
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1, .range = "bytes=10-19",
                      .if_range = "W/\"0000000000000001-0-5\"" }),
                 PC_HTTP_SEND_FULL);
    /* a failed If-Range also saves a 416: the whole object is sent */
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1, .range = "bytes=5000-",
                      .if_range = "\"stale\"" }),
                 PC_HTTP_SEND_FULL);
}

Test(conditional, if_range_with_date)
{
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1, .range = "bytes=10-19",
                      .if_range = "Tue, 14 Nov 2023 22:13:20 GMT" }),
                 PC_HTTP_SEND_PARTIAL);
    /* a date that only is later than Last-Modified does not match: exact */
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1, .range = "bytes=10-19",
                      .if_range = "Tue, 14 Nov 2023 22:13:21 GMT" }),
                 PC_HTTP_SEND_FULL);
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1, .range = "bytes=10-19",
                      .if_range = "Wed, 15 Nov 2023 00:00:00 GMT" }),
                 PC_HTTP_SEND_FULL);
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1, .range = "bytes=10-19",
                      .if_range = "not a date" }),
                 PC_HTTP_SEND_FULL);
}

Test(conditional, if_range_without_range_is_ignored)
{
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1, .if_range = "\"stale\"" }),
                 PC_HTTP_SEND_FULL);
}

Test(conditional, not_modified_wins_over_range)
{
    cr_assert_eq(eval((struct pc_http_request){ .is_get = 1, .range = "bytes=0-0",
                      .if_none_match = etag }),
                 PC_HTTP_NOT_MODIFIED);
}

