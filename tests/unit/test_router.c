/*
 * Unit tests for the URL router (origin/router.c): every route form of the
 * URL scheme in origin/manifest.h, and every way a target could try to
 * leave the media directory or break the parser.  Each refusal names the
 * status it must get, so a refusal that silently became a route (or the
 * other way round) fails here.
 */
#include <criterion/criterion.h>

#include "router.h"
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct pc_route route;

static int parse(const char *target)
{
    return pc_route_parse(target, strlen(target), &route);
}

/* The target must parse to @p kind (with a title of @p title if not NULL). */
static void expect_route(const char *target, enum pc_route_kind kind, const char *title)
{
    int r = parse(target);
    cr_assert_eq(r, 0, "%s: status %d", target, r);
    cr_assert_eq(route.kind, kind, "%s: kind %d (%s), expected %d", target, route.kind,
                 pc_route_kind_name(route.kind), kind);
    if (title) {
        cr_assert_str_eq(route.title, title, "%s", target);
        cr_assert_eq(route.title_len, strlen(title), "%s", target);
    }
}

static void expect_status(const char *target, int status)
{
    int r = parse(target);
    cr_assert_eq(r, status, "%s: got %d (kind %s), expected status %d", target, r,
                 pc_route_kind_name(route.kind), status);
}

static void expect_not_found(const char *target)
{
    expect_route(target, PC_ROUTE_NOT_FOUND, "");
}

/* ------------------------------------------------------------ route forms */

Test(router, master_playlist)
{
    expect_route("/a.mp4/master.m3u8", PC_ROUTE_MASTER, "a.mp4");
}

Test(router, dash_manifest)
{
    expect_route("/a.mp4/manifest.mpd", PC_ROUTE_MPD, "a.mp4");
}

Test(router, media_playlist_names_track)
{
    expect_route("/a.mp4/0.m3u8", PC_ROUTE_MEDIA_PLAYLIST, "a.mp4");
    cr_assert_eq(route.track, 0);
    expect_route("/a.mp4/12.m3u8", PC_ROUTE_MEDIA_PLAYLIST, "a.mp4");
    cr_assert_eq(route.track, 12);
}

Test(router, init_segment)
{
    expect_route("/movies/a.mp4/0123456789abcdef/1/init.mp4", PC_ROUTE_INIT, "movies/a.mp4");
    cr_assert_eq(route.generation, 0x0123456789abcdefull);
    cr_assert_eq(route.track, 1);
}

Test(router, media_segment)
{
    expect_route("/movies/a.mp4/fedcba9876543210/0/17.m4s", PC_ROUTE_SEGMENT, "movies/a.mp4");
    cr_assert_eq(route.generation, 0xfedcba9876543210ull);
    cr_assert_eq(route.track, 0);
    cr_assert_eq(route.segment, 17);
}

Test(router, largest_numbers)
{
    expect_route("/t/ffffffffffffffff/4294967295/18446744073709551615.m4s", PC_ROUTE_SEGMENT, "t");
    cr_assert_eq(route.generation, UINT64_MAX);
    cr_assert_eq(route.track, 4294967295u);
    cr_assert_eq(route.segment, UINT64_MAX);
}

Test(router, healthz_and_metrics)
{
    expect_route("/healthz", PC_ROUTE_HEALTHZ, "");
    expect_route("/metrics", PC_ROUTE_METRICS, "");
    expect_route("/metrics?name[]=x", PC_ROUTE_METRICS, "");
}

Test(router, title_called_like_an_endpoint_is_still_a_title)
{
    expect_route("/healthz/master.m3u8", PC_ROUTE_MASTER, "healthz");
    expect_route("/metrics/manifest.mpd", PC_ROUTE_MPD, "metrics");
}

Test(router, title_with_nested_directories)
{
    expect_route("/a/b/c/d.mkv/master.m3u8", PC_ROUTE_MASTER, "a/b/c/d.mkv");
    expect_route("/a/b/c/d.mkv/0123456789abcdef/2/3.m4s", PC_ROUTE_SEGMENT, "a/b/c/d.mkv");
}

Test(router, title_that_looks_like_a_segment_path)
{
    /* The last segment names the resource; everything before is the title. */
    expect_route("/x/0123456789abcdef/1/master.m3u8", PC_ROUTE_MASTER,
                 "x/0123456789abcdef/1");
    expect_route("/x/0123456789abcdef/1/init.mp4/manifest.mpd", PC_ROUTE_MPD,
                 "x/0123456789abcdef/1/init.mp4");
}

Test(router, percent_encoded_spaces_and_utf8)
{
    expect_route("/My%20Movie%20%C3%A9t%C3%A9.mp4/master.m3u8", PC_ROUTE_MASTER,
                 "My Movie \xc3\xa9t\xc3\xa9.mp4");
    expect_route("/%E6%98%A0%E7%94%BB/%F0%9F%8E%AC.mp4/manifest.mpd", PC_ROUTE_MPD,
                 "\xe6\x98\xa0\xe7\x94\xbb/\xf0\x9f\x8e\xac.mp4");
}

Test(router, lowercase_and_uppercase_escapes)
{
    expect_route("/a%2e%2Emp4/master.m3u8", PC_ROUTE_MASTER, "a..mp4");
}

Test(router, plus_is_a_plus_in_a_path)
{
    expect_route("/a+b.mp4/master.m3u8", PC_ROUTE_MASTER, "a+b.mp4");
}

Test(router, raw_utf8_bytes_are_accepted)
{
    expect_route("/caf\xc3\xa9.mp4/master.m3u8", PC_ROUTE_MASTER, "caf\xc3\xa9.mp4");
}

Test(router, encoded_resource_names_are_equivalent)
{
    expect_route("/a/%6Daster.m3u8", PC_ROUTE_MASTER, "a");
}

Test(router, query_is_ignored)
{
    expect_route("/a.mp4/master.m3u8?token=abc&x=/../..", PC_ROUTE_MASTER, "a.mp4");
    expect_route("/a.mp4/master.m3u8?", PC_ROUTE_MASTER, "a.mp4");
}

Test(router, absolute_form)
{
    expect_route("http://cdn.example:8080/a.mp4/master.m3u8", PC_ROUTE_MASTER, "a.mp4");
    expect_route("HTTPS://h/a.mp4/manifest.mpd?q", PC_ROUTE_MPD, "a.mp4");
    expect_status("http://", PC_EINVAL);
    expect_status("http:///a.mp4/master.m3u8", PC_EINVAL);
    expect_status("http://host", PC_EINVAL);
    expect_status("http://host/../etc/passwd", PC_EINVAL);
}

Test(router, kind_names)
{
    cr_assert_str_eq(pc_route_kind_name(PC_ROUTE_SEGMENT), "segment");
    cr_assert_str_eq(pc_route_kind_name(PC_ROUTE_INIT), "init");
    cr_assert_str_eq(pc_route_kind_name(PC_ROUTE_MASTER), "master");
    cr_assert_str_eq(pc_route_kind_name(PC_ROUTE_MEDIA_PLAYLIST), "media_playlist");
    cr_assert_str_eq(pc_route_kind_name(PC_ROUTE_MPD), "mpd");
    cr_assert_str_eq(pc_route_kind_name(PC_ROUTE_HEALTHZ), "healthz");
    cr_assert_str_eq(pc_route_kind_name(PC_ROUTE_METRICS), "metrics");
    cr_assert_str_eq(pc_route_kind_name(PC_ROUTE_NOT_FOUND), "other");
}

/* ------------------------------------------------------------- not found */

Test(router, root_and_unknown_paths_are_not_found)
{
    expect_not_found("/");
    expect_not_found("/a.mp4");
    expect_not_found("/master.m3u8");          /* no title */
    expect_not_found("/a.mp4/index.html");
    expect_not_found("/a.mp4/master.M3U8");
    expect_not_found("/healthz2");
}

Test(router, malformed_track_numbers_are_not_found)
{
    expect_not_found("/a/+1.m3u8");
    expect_not_found("/a/-1.m3u8");
    expect_not_found("/a/01.m3u8");             /* one URL per object */
    expect_not_found("/a/.m3u8");
    expect_not_found("/a/1x.m3u8");
    expect_not_found("/a/%201.m3u8");
    expect_not_found("/a/4294967296.m3u8");     /* > UINT32_MAX */
    expect_not_found("/a/99999999999999999999999.m3u8");
}

Test(router, malformed_segment_numbers_are_not_found)
{
    const char *base = "/a/0123456789abcdef/0/";
    const char *bad[] = { "0.m4s", "+1.m4s", "-1.m4s", "01.m4s", ".m4s", "1.M4S", "1.m4s.m4s",
                          "18446744073709551616.m4s", "1e3.m4s", "0x10.m4s", "1 .m4s" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char t[256];
        snprintf(t, sizeof t, "%s%s", base, bad[i]);
        int r = parse(t);
        /* "1 .m4s" has a raw space: a malformed target, not a route */
        cr_assert(r == PC_EINVAL || (r == 0 && route.kind == PC_ROUTE_NOT_FOUND),
                  "%s: %d kind %d", t, r, route.kind);
    }
}

Test(router, malformed_generations_are_not_found)
{
    expect_not_found("/a/0123456789abcde/0/1.m4s");       /* 15 digits */
    expect_not_found("/a/0123456789abcdef0/0/1.m4s");     /* 17 */
    expect_not_found("/a/0123456789ABCDEF/0/1.m4s");      /* not the canonical case */
    expect_not_found("/a/0123456789abcdeg/0/init.mp4");
    expect_not_found("/a/+123456789abcdef/0/init.mp4");
    expect_not_found("/a/0123456789abcdef/01/init.mp4");
    expect_not_found("/a/0123456789abcdef/x/init.mp4");
}

Test(router, segment_paths_need_a_title)
{
    expect_not_found("/0123456789abcdef/0/1.m4s");
    expect_not_found("/0123456789abcdef/0/init.mp4");
}

Test(router, hidden_segments_are_not_found)
{
    expect_not_found("/.hidden.mp4/master.m3u8");
    expect_not_found("/a/.git/b.mp4/master.m3u8");
    expect_not_found("/%2Epagecast-store/x.pcb/master.m3u8");
    expect_not_found("/.pagecast-store/t/0123456789abcdef/0/1.m4s");
}

/* ------------------------------------------------------------- refusals */

Test(router, dot_segments_are_refused_in_every_encoding)
{
    const char *bad[] = {
        "/../etc/passwd", "/a/../../etc/passwd/master.m3u8", "/a/./b/master.m3u8",
        "/%2e%2e/etc/master.m3u8", "/%2E%2E/etc/master.m3u8", "/.%2e/etc/master.m3u8",
        "/%2e./x/master.m3u8", "/%2e/x/master.m3u8", "/a/..", "/..", "/.",
        "/a.mp4/0123456789abcdef/../../init.mp4",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_status(bad[i], PC_EINVAL);
}

Test(router, encoded_separators_are_refused)
{
    expect_status("/%2F/etc/passwd/master.m3u8", PC_EINVAL);
    expect_status("/%2fetc%2fpasswd/master.m3u8", PC_EINVAL);
    expect_status("/a%2F..%2F..%2Fetc/master.m3u8", PC_EINVAL);
    expect_status("/a%5C..%5Cb/master.m3u8", PC_EINVAL);    /* backslash */
    expect_status("/a\\..\\b/master.m3u8", PC_EINVAL);
    expect_status("/..%5C..%5Cetc/master.m3u8", PC_EINVAL);
}

Test(router, nul_and_control_characters_are_refused)
{
    expect_status("/a%00.mp4/master.m3u8", PC_EINVAL);
    expect_status("/a%0A.mp4/master.m3u8", PC_EINVAL);
    expect_status("/a%0d%0aSet-Cookie:%20x/master.m3u8", PC_EINVAL);
    expect_status("/a%7F/master.m3u8", PC_EINVAL);
    expect_status("/a%1b[31m/master.m3u8", PC_EINVAL);
    /* raw bytes, including an embedded NUL that a C string would hide */
    static const char nul[] = "/a\0/../x/master.m3u8";
    cr_assert_eq(pc_route_parse(nul, sizeof nul - 1, &route), PC_EINVAL);
    expect_status("/a\tb/master.m3u8", PC_EINVAL);
    expect_status("/a b/master.m3u8", PC_EINVAL);
    expect_status("/a\x7f/master.m3u8", PC_EINVAL);
    expect_status("/a/master.m3u8?x=\x01", PC_EINVAL);
}

Test(router, empty_segments_are_refused)
{
    expect_status("//etc/passwd", PC_EINVAL);
    expect_status("//a.mp4/master.m3u8", PC_EINVAL);
    expect_status("/a//b/master.m3u8", PC_EINVAL);
    expect_status("/a.mp4/", PC_EINVAL);
    expect_status("/a.mp4/master.m3u8/", PC_EINVAL);
    expect_status("///", PC_EINVAL);
}

Test(router, invalid_escapes_are_refused)
{
    const char *bad[] = { "/a%/master.m3u8", "/a%2/master.m3u8", "/a%zz/master.m3u8",
                          "/a%g0/master.m3u8", "/a/master.m3u8%", "/a/master.m3u8%4",
                          "/%%32%65/master.m3u8", "/a%-1/master.m3u8" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_status(bad[i], PC_EINVAL);
}

Test(router, double_encoding_is_not_decoded_twice)
{
    /* %252e decodes once to the three characters "%2e": a literal name. */
    expect_route("/%252e%252e/master.m3u8", PC_ROUTE_MASTER, "%2e%2e");
}

Test(router, invalid_utf8_is_refused)
{
    const char *bad[] = {
        "/%C0%AE%C0%AE/etc/master.m3u8",       /* overlong '.' */
        "/%C0%AF/master.m3u8",                 /* overlong '/' */
        "/%E0%80%AE/master.m3u8",              /* 3-byte overlong '.' */
        "/%ED%A0%80/master.m3u8",              /* surrogate */
        "/%F4%90%80%80/master.m3u8",           /* > U+10FFFF */
        "/%FF/master.m3u8", "/%80/master.m3u8", "/%C3/master.m3u8",
        "/%C3%28/master.m3u8", "/\xc3/master.m3u8",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_status(bad[i], PC_EINVAL);
}

Test(router, non_origin_forms_are_refused)
{
    expect_status("*", PC_EINVAL);
    expect_status("", PC_EINVAL);
    expect_status("a.mp4/master.m3u8", PC_EINVAL);
    expect_status("?x", PC_EINVAL);
    expect_status("ftp://h/a/master.m3u8", PC_EINVAL);
    expect_status("/a/master.m3u8#frag", PC_EINVAL);
    expect_status("C:\\windows\\win.ini", PC_EINVAL);
}

Test(router, overlong_targets_are_refused_with_414)
{
    size_t n = PC_ROUTE_TARGET_MAX + 1;
    char *t = malloc(n + 1);
    cr_assert_not_null(t);
    memset(t, 'a', n);
    t[0] = '/';
    memcpy(t + n - 12, "/master.m3u8", 12);
    t[n] = '\0';
    cr_assert_eq(pc_route_parse(t, n, &route), PC_EURITOOLONG);
    cr_assert_eq(pc_status_http(PC_EURITOOLONG), 414);
    /* exactly at the limit: a route, and its title fits */
    cr_assert_eq(pc_route_parse(t + 1, n - 1, &route), PC_EINVAL); /* no leading '/' */
    t[1] = '/';
    cr_assert_eq(pc_route_parse(t + 1, n - 1, &route), 0);
    cr_assert_eq(route.kind, PC_ROUTE_MASTER);
    cr_assert_eq(route.title_len, n - 1 - 1 - 12);
    free(t);
}

Test(router, worst_case_title_fills_the_buffer_exactly)
{
    /* 4096 bytes of "/a/a/a..." ending in a master playlist: the decoded
     * title plus separators uses the whole buffer and no more. */
    char t[PC_ROUTE_TARGET_MAX + 1];
    size_t n = 0;
    while (n + 2 <= PC_ROUTE_TARGET_MAX - 12) {
        t[n++] = '/';
        t[n++] = 'a';
    }
    memcpy(t + n, "/master.m3u8", 12);
    n += 12;
    cr_assert_eq(pc_route_parse(t, n, &route), 0);
    cr_assert_eq(route.kind, PC_ROUTE_MASTER);
    cr_assert_eq(route.title_len, n - 12 - 1);
    cr_assert_eq(strlen(route.title), route.title_len);
}

Test(router, every_title_is_relative_and_clean)
{
    /* Whatever comes out as a title starts and ends with a normal byte and
     * has no empty, "." or ".." segment (the property the catalog relies on). */
    const char *targets[] = {
        "/a/master.m3u8", "/a%20b/c/master.m3u8", "/x.y/z..w/master.m3u8",
        "/...a/master.m3u8", "/a./b../master.m3u8",
    };
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        if (parse(targets[i]) != 0 || route.kind == PC_ROUTE_NOT_FOUND)
            continue;
        const char *s = route.title;
        cr_assert_neq(s[0], '/', "%s", targets[i]);
        cr_assert_neq(s[route.title_len - 1], '/', "%s", targets[i]);
        cr_assert_null(strstr(s, "//"), "%s", targets[i]);
        char copy[PC_ROUTE_TARGET_MAX + 1];
        strcpy(copy, s);
        for (char *tok = strtok(copy, "/"); tok; tok = strtok(NULL, "/")) {
            cr_assert(strcmp(tok, ".") != 0 && strcmp(tok, "..") != 0, "%s", targets[i]);
        }
    }
}

Test(router, random_bytes_never_crash_and_never_escape)
{
    /* A small in-test fuzz: random targets over an alphabet rich in the
     * dangerous characters; whatever parses has a clean title. */
    static const char alphabet[] = "/.%2eEfF5cC0a./..mm4s3u8init.p:?#\\\x80\xc3\xa9 ";
    srand(1);
    for (int iter = 0; iter < 200000; iter++) {
        char t[40];
        size_t n = (size_t)(rand() % (int)sizeof t);
        for (size_t i = 0; i < n; i++)
            t[i] = alphabet[rand() % (int)(sizeof alphabet - 1)];
        if (pc_route_parse(t, n, &route) != 0 || route.title_len == 0)
            continue;
        const char *s = route.title;
        cr_assert_eq(strlen(s), route.title_len);
        cr_assert(s[0] != '/' && s[0] != '.', "%.*s -> %s", (int)n, t, s);
        cr_assert(strstr(s, "/.") == NULL && strstr(s, "//") == NULL &&
                  strchr(s, '\\') == NULL,
                  "%.*s -> %s", (int)n, t, s);
    }
}
