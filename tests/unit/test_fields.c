/*
 * Unit tests for origin/fields.c: the RFC 9112 framing and Host checks made
 * before a request is answered.  Each request is written out as its field
 * lines ("Name: value"), split at the first colon the way libmicrohttpd
 * splits them (the name keeps whatever precedes the colon, the value loses
 * its leading whitespace).
 */
#include <criterion/criterion.h>

#include "fields.h"

#include <stdio.h>
#include <string.h>

/* Feed the NULL-terminated field lines @p lines; @return the verdict. */
static int check(int minor, const char *const *lines, struct pc_fields *out)
{
    struct pc_fields f;
    pc_fields_init(&f);
    for (size_t i = 0; lines[i]; i++) {
        const char *l = lines[i];
        const char *colon = strchr(l, ':');
        cr_assert(colon, "test line without a colon: %s", l);
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        pc_fields_add(&f, l, (size_t)(colon - l), v, strlen(v));
    }
    int r = pc_fields_finish(&f, minor);
    if (out)
        *out = f;
    return r;
}

#define LINES(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void expect_ok(int minor, const char *const *lines)
{
    struct pc_fields f;
    int r = check(minor, lines, &f);
    cr_assert_eq(r, 0, "refused (%s): first line %s", f.reason ? f.reason : "?", lines[0]);
}

static void expect(int minor, const char *const *lines, int status, const char *reason_part)
{
    struct pc_fields f;
    int r = check(minor, lines, &f);
    cr_assert_eq(r, status, "status %d, expected %d (%s)", r, status, f.reason ? f.reason : "-");
    cr_assert(f.reason && strstr(f.reason, reason_part), "reason \"%s\" lacks \"%s\"",
              f.reason ? f.reason : "(null)", reason_part);
}

/* ------------------------------------------------------------ accepted */

Test(fields, ordinary_requests_pass)
{
    expect_ok(1, LINES("Host: example.com", "User-Agent: hls.js", "Accept: */*"));
    expect_ok(1, LINES("host: 127.0.0.1:8080", "Range: bytes=0-99", "If-None-Match: \"a\""));
    expect_ok(1, LINES("Host: [::1]:8080"));
    expect_ok(1, LINES("Host: xn--bcher-kva.example", "X-Forwarded-For: 1.2.3.4, 5.6.7.8"));
    /* RFC 9112 3.2: an empty Host is what a client sends without an authority */
    expect_ok(1, LINES("Host: "));
    /* HTAB and obs-text are allowed in values */
    expect_ok(1, LINES("Host: x", "User-Agent: a\tb \xc3\xa9"));
}

Test(fields, http10_needs_no_host)
{
    expect_ok(0, LINES("User-Agent: curl"));
}

Test(fields, one_valid_content_length_passes)
{
    expect_ok(1, LINES("Host: x", "Content-Length: 0"));
    expect_ok(1, LINES("Host: x", "Content-Length: 123456789012345678"));
    expect_ok(0, LINES("Content-Length: 5"));
    /* trailing whitespace is not part of the value (RFC 9112 5.1) */
    expect_ok(1, LINES("Host: x", "Content-Length: 7  "));
}

Test(fields, exactly_chunked_passes)
{
    expect_ok(1, LINES("Host: x", "Transfer-Encoding: chunked"));
    expect_ok(1, LINES("Host: x", "Transfer-Encoding: Chunked"));
}

/* ------------------------------------------------------------------ Host */

Test(fields, http11_without_host_is_400)
{
    expect(1, LINES("User-Agent: x"), PC_EBADREQUEST, "without Host");
}

Test(fields, two_host_fields_are_400_in_either_version)
{
    expect(1, LINES("Host: a", "Host: b"), PC_EBADREQUEST, "more than one Host");
    expect(1, LINES("Host: a", "host: a"), PC_EBADREQUEST, "more than one Host");
    expect(0, LINES("Host: a", "HOST: b"), PC_EBADREQUEST, "more than one Host");
}

Test(fields, invalid_host_values_are_400)
{
    expect(1, LINES("Host: a b"), PC_EBADREQUEST, "invalid Host");
    expect(1, LINES("Host: user@evil"), PC_EBADREQUEST, "invalid Host");
    expect(1, LINES("Host: a/b"), PC_EBADREQUEST, "invalid Host");
    expect(1, LINES("Host: a\"b"), PC_EBADREQUEST, "invalid Host");
}

/* ----------------------------------------------------------- field names */

Test(fields, whitespace_before_the_colon_is_400)
{
    expect(1, LINES("Host : x"), PC_EBADREQUEST, "whitespace between a field name and its colon");
    expect(1, LINES("Host: x", "Content-Length\t: 5"), PC_EBADREQUEST, "whitespace");
}

Test(fields, names_that_are_not_tokens_are_400)
{
    expect(1, LINES("Host: x", "Bad Name: v"), PC_EBADREQUEST, "not a token");
    expect(1, LINES("Host: x", ": empty name"), PC_EBADREQUEST, "not a token");
    expect(1, LINES("Host: x", "X(y): v"), PC_EBADREQUEST, "not a token");
    expect(1, LINES("Host: x", "X\x01: v"), PC_EBADREQUEST, "not a token");
}

Test(fields, a_fold_joined_onto_a_framing_name_is_400)
{
    /* what libmicrohttpd 0.9.75 makes of "Transfer-Encoding:\r\n chunked" */
    expect(1, LINES("Host: x", "Transfer-Encodingchunked: ", "Content-Length: 5"), PC_EBADREQUEST,
           "obs-fold");
    expect(1, LINES("Host: x", "Content-Length5: "), PC_EBADREQUEST, "obs-fold");
    /* other names may start with a known one */
    expect_ok(1, LINES("Host: x", "Range-Unit: x", "Hostname: y"));
}

/* ---------------------------------------------------------- field values */

Test(fields, cr_lf_and_nul_in_values_are_400)
{
    expect(1, LINES("Host: x", "X-A: a\rb"), PC_EBADREQUEST, "CR, LF or NUL");
    expect(1, LINES("Host: x", "X-A: a\nb"), PC_EBADREQUEST, "CR, LF or NUL");
    struct pc_fields f;
    pc_fields_init(&f);
    pc_fields_add(&f, "Host", 4, "x", 1);
    pc_fields_add(&f, "X-A", 3, "a\0b", 3);
    cr_assert_eq(pc_fields_finish(&f, 1), PC_EBADREQUEST, "a NUL in a value");
}

Test(fields, other_control_characters_in_values_are_kept)
{
    /* RFC 9110 5.5 lets a recipient keep them; the access log escapes them */
    expect_ok(1, LINES("Host: x", "User-Agent: evil\x01agent\x7f", "X-A: \x1b[31m"));
}

/* -------------------------------------------------------- Content-Length */

Test(fields, invalid_content_length_is_400)
{
    const char *bad[] = { "", "-1", "+5", "abc", "1e3", "0x10", "5 5", "5,5",
                          "1234567890123456789", "99999999999999999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "Content-Length: %s", bad[i]);
        expect(1, LINES("Host: x", line), PC_EBADREQUEST, "invalid Content-Length");
    }
}

Test(fields, repeated_content_length_is_400_even_when_equal)
{
    expect(1, LINES("Host: x", "Content-Length: 0", "Content-Length: 44"), PC_EBADREQUEST,
           "more than one Content-Length");
    expect(1, LINES("Host: x", "Content-Length: 5", "content-length: 5"), PC_EBADREQUEST,
           "more than one Content-Length");
}

/* ----------------------------------------------------- Transfer-Encoding */

Test(fields, transfer_encoding_with_content_length_is_400)
{
    expect(1, LINES("Host: x", "Content-Length: 5", "Transfer-Encoding: chunked"), PC_EBADREQUEST,
           "both Transfer-Encoding and Content-Length");
    expect(1, LINES("Host: x", "Transfer-Encoding: chunked", "Content-Length: 4"), PC_EBADREQUEST,
           "both");
}

Test(fields, transfer_encoding_on_http10_is_400)
{
    expect(0, LINES("Transfer-Encoding: chunked"), PC_EBADREQUEST, "HTTP/1.0");
}

Test(fields, final_coding_not_chunked_is_400)
{
    const char *bad[] = { "gzip", "identity", "xchunked", "chunked, gzip", "chunkedx", "",
                          ",", "chun ked", "\"chunked\"" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "Transfer-Encoding: %s", bad[i]);
        expect(1, LINES("Host: x", line), PC_EBADREQUEST, "final coding is not chunked");
    }
    /* the lines of a repeated field are one list: the last line decides */
    expect(1, LINES("Host: x", "Transfer-Encoding: chunked", "Transfer-Encoding: gzip"),
           PC_EBADREQUEST, "final coding is not chunked");
}

Test(fields, chunked_twice_is_400)
{
    expect(1, LINES("Host: x", "Transfer-Encoding: chunked, chunked"), PC_EBADREQUEST,
           "more than once");
    expect(1, LINES("Host: x", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"),
           PC_EBADREQUEST, "more than once");
}

Test(fields, valid_codings_other_than_exactly_chunked_are_501)
{
    const char *other[] = { "gzip, chunked", "chunked;x=1", " chunked", "chunked ",
                            "chunked,", ", chunked" };
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        struct pc_fields f;
        pc_fields_init(&f);
        pc_fields_add(&f, "Host", 4, "x", 1);
        /* as received: the value here keeps its whitespace */
        pc_fields_add(&f, "Transfer-Encoding", 17, other[i], strlen(other[i]));
        cr_assert_eq(pc_fields_finish(&f, 1), PC_ENOTIMPL, "\"%s\": %s", other[i],
                     f.reason ? f.reason : "accepted");
    }
    expect(1, LINES("Host: x", "Transfer-Encoding: gzip", "Transfer-Encoding: chunked"),
           PC_ENOTIMPL, "exactly");
}

/* ------------------------------------------------------------- verdicts */

Test(fields, the_first_refusal_is_the_one_reported)
{
    expect(1, LINES("Host : x", "Content-Length: 1", "Content-Length: 2"), PC_EBADREQUEST,
           "whitespace");
}

Test(fields, repeated_fields_are_reported)
{
    struct pc_fields f;
    cr_assert_eq(check(1, LINES("Host: x", "Range: bytes=0-9", "Range: bytes=100-199",
                                "If-None-Match: \"a\"", "if-none-match: \"b\"", "Accept: a",
                                "Accept: b", "If-Match: *"), &f), 0);
    cr_assert_eq(pc_fields_repeated(&f),
                 (1u << PC_FIELD_RANGE) | (1u << PC_FIELD_IF_NONE_MATCH));
    cr_assert_eq(check(1, LINES("Host: x"), &f), 0);
    cr_assert_eq(pc_fields_repeated(&f), 0u);
}

Test(fields, refusal_is_a_complete_closing_response)
{
    char buf[512];
    size_t n = pc_fields_refusal(buf, sizeof buf, PC_EBADREQUEST, "more than one Host field",
                                 784111777, 1);
    cr_assert_gt(n, 0);
    cr_assert_eq(strlen(buf), n);
    const char *want_body = "400 bad request: more than one Host field\n";
    cr_assert_str_eq(strstr(buf, "\r\n\r\n") + 4, want_body);
    cr_assert(strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26) == 0, "%s", buf);
    cr_assert(strstr(buf, "\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"), "%s", buf);
    cr_assert(strstr(buf, "\r\nConnection: close\r\n"), "%s", buf);
    cr_assert(strstr(buf, "\r\nCache-Control: no-store\r\n"), "%s", buf);
    char cl[64];
    snprintf(cl, sizeof cl, "\r\nContent-Length: %zu\r\n", strlen(want_body));
    cr_assert(strstr(buf, cl), "%s", buf);

    n = pc_fields_refusal(buf, sizeof buf, PC_ENOTIMPL, "x", 0, 0);
    cr_assert(strncmp(buf, "HTTP/1.1 501 Not Implemented\r\n", 30) == 0, "%s", buf);
    cr_assert_str_eq(strstr(buf, "\r\n\r\n"), "\r\n\r\n", "HEAD: no body");
    cr_assert(strstr(buf, "\r\nContent-Length: 23\r\n"), "HEAD: the GET body's length: %s", buf);

    cr_assert_eq(pc_fields_refusal(buf, 40, PC_EBADREQUEST, "x", 0, 1), 0u, "too small");
}
