/*
 * Unit tests for the demo page's pure parts (origin/demo.c): which request
 * targets are the demo's (an exact allow-list: anything near it is not),
 * and the page rendered from a list of titles (names escaped for HTML,
 * URLs percent-encoded and relative, states shown).
 */
#include <criterion/criterion.h>

#include "demo.h"

#include <stdlib.h>
#include <string.h>

static enum pc_demo_resource match(const char *t)
{
    return pc_demo_match(t, strlen(t));
}

/* ------------------------------------------------------------- matching */

Test(demo, matches_its_four_paths)
{
    cr_assert_eq(match("/"), PC_DEMO_PAGE);
    cr_assert_eq(match("/demo/demo.js"), PC_DEMO_SCRIPT);
    cr_assert_eq(match("/demo/demo.css"), PC_DEMO_STYLE);
    cr_assert_eq(match("/demo/shaka-player.compiled.js"), PC_DEMO_SHAKA);
}

Test(demo, ignores_the_query_and_takes_absolute_form)
{
    cr_assert_eq(match("/?refresh=1"), PC_DEMO_PAGE);
    cr_assert_eq(match("/demo/demo.js?v=2&x=/../y"), PC_DEMO_SCRIPT);
    cr_assert_eq(match("http://example.com/"), PC_DEMO_PAGE);
    cr_assert_eq(match("HTTPS://example.com:8080/demo/demo.css"), PC_DEMO_STYLE);
    cr_assert_eq(match("http://example.com?x"), PC_DEMO_NONE);   /* no path */
}

Test(demo, matches_nothing_near_its_paths)
{
    static const char *const near[] = {
        "", "/demo", "/demo/", "//", "/index.html", "/demo/demo.jsx", "/demo/demo.js/",
        "/demo/DEMO.JS", "/Demo/demo.js", "/demo/%64emo.js", "/demo//demo.js",
        "/demo/./demo.js", "/demo/../demo/demo.js", "/x/../demo/demo.js",
        "/demo/shaka-player.compiled.js.map", "/demo/shaka-player.compiled.j",
        "/shaka-player/dist/shaka-player.compiled.js", "/demo/shaka-player/dist/shaka-player.compiled.js",
        "/node_modules/shaka-player/dist/shaka-player.compiled.js", "demo/demo.js", "/ ", "/#",
        "/a.mp4/master.m3u8", "/healthz",
    };
    for (size_t i = 0; i < sizeof near / sizeof near[0]; i++)
        cr_assert_eq(match(near[i]), PC_DEMO_NONE, "%s", near[i]);
}

Test(demo, reads_only_the_given_length)
{
    /* "/demo/demo.js" cut after "/": the page, not the script */
    cr_assert_eq(pc_demo_match("/demo/demo.js", 1), PC_DEMO_PAGE);
    cr_assert_eq(pc_demo_match("/demo/demo.js", 12), PC_DEMO_NONE);
}

/* ------------------------------------------------------------ rendering */

static char *render(const struct pc_catalog_entry *e, size_t n)
{
    char *out = NULL;
    size_t len = 0;
    cr_assert_eq(pc_demo_render(e, n, &out, &len), 0);
    cr_assert_eq(strlen(out), len, "length %zu, text of %zu bytes", len, strlen(out));
    cr_assert(!strncmp(out, "<!DOCTYPE html>", 15), "%.40s", out);
    cr_assert(len > 8 && !strcmp(out + len - 8, "</html>\n"), "ends %s", out + len - 20);
    return out;
}

Test(demo, escapes_names_and_encodes_urls)
{
    struct pc_catalog_entry e[] = {
        { "<script>alert(1)</script>&\"'.mp4", PC_TITLE_READY },
    };
    char *p = render(e, 1);
    cr_assert_null(strstr(p, "<script>alert"), "raw markup from a name:\n%s", p);
    cr_assert_not_null(strstr(p, ">&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;.mp4</button>"),
                       "%s", p);
    const char *url = "%3Cscript%3Ealert%281%29%3C/script%3E%26%22%27.mp4";
    char want[256];
    snprintf(want, sizeof want, "data-hls=\"%s/master.m3u8\" data-dash=\"%s/manifest.mpd\">", url, url);
    cr_assert_not_null(strstr(p, want), "no %s in\n%s", want, p);
    snprintf(want, sizeof want, "<a href=\"%s/manifest.mpd\">%s/manifest.mpd</a>", url, url);
    cr_assert_not_null(strstr(p, want), "no %s in\n%s", want, p);
    free(p);
}

Test(demo, keeps_paths_and_unreserved_bytes_and_encodes_the_rest)
{
    struct pc_catalog_entry e[] = {
        { "dir/sub dir/a:b~c_d-e.f \xc3\xa9%.mp4", PC_TITLE_READY },
    };
    char *p = render(e, 1);
    cr_assert_not_null(strstr(p, "href=\"dir/sub%20dir/a%3Ab~c_d-e.f%20%C3%A9%25.mp4/master.m3u8\""),
                       "%s", p);
    /* the name as shown keeps its UTF-8 */
    cr_assert_not_null(strstr(p, ">dir/sub dir/a:b~c_d-e.f \xc3\xa9%.mp4</button>"), "%s", p);
    free(p);
}

Test(demo, shows_each_state_and_disables_what_cannot_play)
{
    struct pc_catalog_entry e[] = {
        { "a.mp4", PC_TITLE_READY },
        { "b.mp4", PC_TITLE_PACKAGING },
        { "c.mp4", PC_TITLE_FAILED },
    };
    char *p = render(e, 3);
    const char *a = strstr(p, "<tr data-state=\"ready\"><td><button type=\"button\" data-hls=\"a.mp4/");
    const char *b = strstr(p, "<tr data-state=\"packaging\"><td><button type=\"button\" data-hls=\"b.mp4/");
    const char *c = strstr(p, "<tr data-state=\"failed\"><td><button type=\"button\" data-hls=\"c.mp4/");
    cr_assert(a && b && c && a < b && b < c, "rows missing or out of order:\n%s", p);
    cr_assert_null(strstr(a, " disabled>a.mp4"), "a ready title is disabled");
    cr_assert_not_null(strstr(b, "manifest.mpd\" disabled>b.mp4</button>"), "%s", b);
    cr_assert_not_null(strstr(c, "manifest.mpd\" disabled>c.mp4</button>"), "%s", c);
    /* the rows sit in the table body of the template */
    const char *body = strstr(p, "<tbody id=\"titles\">");
    cr_assert(body && body < a && strstr(c, "</tbody>"), "%s", p);
    cr_assert_null(strstr(p, "<!--pagecast:titles-->"), "the marker is left in the page");
    free(p);
}

Test(demo, says_so_when_there_are_no_titles)
{
    char *p = render(NULL, 0);
    cr_assert_not_null(strstr(p, "No titles"), "%s", p);
    cr_assert_null(strstr(p, "data-state"), "%s", p);
    free(p);
}
