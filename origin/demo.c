/*
 * The demo page (demo.h): the allow-list of its URLs, the page rendered
 * from the embedded template (origin/demo/index.html) and a snapshot of the
 * catalog, and the player library read once from node_modules.
 *
 * The page is rendered in two passes over the same code: the first counts
 * the bytes, the second writes them into one allocation of that size.
 */
#include "demo.h"

#include "pagecast/status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Embedded by origin/demo/embed.py (origin/meson.build): each file's bytes
 * plus a NUL, and its length without the NUL. */
extern const unsigned char pc_demo_index_html[], pc_demo_demo_js[], pc_demo_demo_css[];
extern const size_t pc_demo_index_html_len, pc_demo_demo_js_len, pc_demo_demo_css_len;

/* Where index.html wants the rows of the title list. */
#define TITLES_MARKER "<!--pagecast:titles-->\n"

/* The player library: read whole at start, so bounded. */
#define SHAKA_FILE "shaka-player/dist/shaka-player.compiled.js"
#define LIB_MAX (64u << 20)

#define TYPE_HTML "text/html; charset=utf-8"
#define TYPE_JS "text/javascript; charset=utf-8"
#define TYPE_CSS "text/css; charset=utf-8"

struct pc_demo {
    char *shaka;                    /* SHAKA_FILE's bytes */
    size_t shaka_len;
};

/* --------------------------------------------------------------- matching */

/* The exact paths of the allow-list, by enum pc_demo_resource. */
static const char *const paths[] = {
    [PC_DEMO_PAGE] = "/",
    [PC_DEMO_SCRIPT] = "/demo/demo.js",
    [PC_DEMO_STYLE] = "/demo/demo.css",
    [PC_DEMO_SHAKA] = "/demo/shaka-player.compiled.js",
};

enum pc_demo_resource pc_demo_match(const char *target, size_t len)
{
    /* absolute-form "http://authority/path" (RFC 9112 3.2.2), as the
     * router takes it: the authority is ignored */
    static const char *const schemes[] = { "http://", "https://" };
    for (size_t k = 0; k < 2; k++) {
        size_t sl = strlen(schemes[k]);
        if (len >= sl && strncasecmp(target, schemes[k], sl) == 0) {
            size_t i = sl;
            while (i < len && target[i] != '/' && target[i] != '?' && target[i] != '#')
                i++;
            target += i;
            len -= i;
            break;
        }
    }
    size_t plen = 0;
    while (plen < len && target[plen] != '?')
        plen++;
    for (size_t r = 0; r < sizeof paths / sizeof paths[0]; r++)
        if (strlen(paths[r]) == plen && memcmp(paths[r], target, plen) == 0)
            return (enum pc_demo_resource)r;
    return PC_DEMO_NONE;
}

/* -------------------------------------------------------------- rendering */

/* A writer that only counts while p is NULL (the first pass). */
struct out {
    char *p;
    size_t len;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->p)
        memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* @p s as HTML text or attribute value: the five characters that can end
 * a text run or an attribute, or start markup, become references. */
static void put_html(struct out *o, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': puts_(o, "&amp;"); break;
        case '<': puts_(o, "&lt;"); break;
        case '>': puts_(o, "&gt;"); break;
        case '"': puts_(o, "&quot;"); break;
        case '\'': puts_(o, "&#39;"); break;
        default: put(o, s, 1);
        }
    }
}

/* @p s as a relative URL path: RFC 3986 unreserved bytes and '/' as they
 * are, every other byte %XX.  ':' is encoded too, so a first segment such
 * as "a:b.mp4" can never read as a scheme; the result needs no further
 * escaping in HTML. */
static void put_url(struct out *o, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
            put(o, s, 1);
        } else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            put(o, e, 3);
        }
    }
}

static const char *state_name(enum pc_title_state s)
{
    switch (s) {
    case PC_TITLE_READY:     return "ready";
    case PC_TITLE_PACKAGING: return "packaging";
    case PC_TITLE_FAILED:    return "failed";
    }
    return "unknown";
}

static void put_row(struct out *o, const struct pc_catalog_entry *e)
{
    const char *st = state_name(e->state);
    puts_(o, "        <tr data-state=\"");
    puts_(o, st);
    puts_(o, "\"><td><button type=\"button\" data-hls=\"");
    put_url(o, e->name);
    puts_(o, "/master.m3u8\" data-dash=\"");
    put_url(o, e->name);
    puts_(o, "/manifest.mpd\"");
    if (e->state != PC_TITLE_READY)
        puts_(o, " disabled");
    puts_(o, ">");
    put_html(o, e->name);
    puts_(o, "</button></td><td class=\"state\">");
    puts_(o, e->state == PC_TITLE_FAILED ? "failed (see the origin's log)" : st);
    puts_(o, "</td><td class=\"urls\">");
    static const char *const manifests[] = { "master.m3u8", "manifest.mpd" };
    for (size_t m = 0; m < 2; m++) {
        puts_(o, "<a href=\"");
        put_url(o, e->name);
        puts_(o, "/");
        puts_(o, manifests[m]);
        puts_(o, "\">");
        put_url(o, e->name);
        puts_(o, "/");
        puts_(o, manifests[m]);
        puts_(o, "</a>");
    }
    puts_(o, "</td></tr>\n");
}

static void render(struct out *o, const struct pc_catalog_entry *e, size_t n)
{
    const char *page = (const char *)pc_demo_index_html;
    const char *mark = strstr(page, TITLES_MARKER);
    size_t head = mark ? (size_t)(mark - page) : pc_demo_index_html_len;
    put(o, page, head);
    if (!mark)
        return;                     /* a template without the marker: no list */
    for (size_t i = 0; i < n; i++)
        put_row(o, &e[i]);
    if (n == 0)
        puts_(o, "        <tr><td colspan=\"3\">No titles: the media directory holds no media "
                 "files (yet).</td></tr>\n");
    const char *tail = mark + strlen(TITLES_MARKER);
    put(o, tail, pc_demo_index_html_len - (size_t)(tail - page));
}

int pc_demo_render(const struct pc_catalog_entry *e, size_t n, char **out, size_t *outlen)
{
    struct out o = { NULL, 0 };
    render(&o, e, n);
    size_t need = o.len;
    o.p = malloc(need + 1);
    if (!o.p)
        return PC_ENOMEM;
    o.len = 0;
    render(&o, e, n);
    o.p[o.len] = '\0';              /* o.len == need: the same code ran twice */
    *out = o.p;
    *outlen = o.len;
    return 0;
}

/* ---------------------------------------------------------------- serving */

int pc_demo_get(const struct pc_demo *d, struct pc_catalog *catalog, const char *target,
                size_t len, struct pc_demo_reply *reply)
{
    memset(reply, 0, sizeof *reply);
    switch (pc_demo_match(target, len)) {
    case PC_DEMO_PAGE: {
        struct pc_catalog_entry *e;
        size_t n;
        int r = pc_catalog_list(catalog, &e, &n);
        if (r < 0)
            return r;
        r = pc_demo_render(e, n, &reply->body, &reply->len);
        free(e);
        if (r < 0)
            return r;
        reply->owned = 1;
        reply->type = TYPE_HTML;
        reply->csp = PC_DEMO_CSP;
        return 0;
    }
    case PC_DEMO_SCRIPT:
        reply->body = (char *)pc_demo_demo_js;
        reply->len = pc_demo_demo_js_len;
        reply->type = TYPE_JS;
        return 0;
    case PC_DEMO_STYLE:
        reply->body = (char *)pc_demo_demo_css;
        reply->len = pc_demo_demo_css_len;
        reply->type = TYPE_CSS;
        return 0;
    case PC_DEMO_SHAKA:
        reply->body = d->shaka;
        reply->len = d->shaka_len;
        reply->type = TYPE_JS;
        return 0;
    case PC_DEMO_NONE:
        break;
    }
    return PC_ENOENT;
}

/* ---------------------------------------------------------------- opening */

/* Read all of @p dir/@p rel into *@p buf.  @return 0 or a status, with
 * one line in @p err. */
static int read_file(const char *dir, const char *rel, char **buf, size_t *len, char *err,
                     size_t errlen)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, rel) >= (int)sizeof path) {
        snprintf(err, errlen, "--demo %s: path too long", dir);
        return PC_EINVAL;
    }
    const char *why = NULL;
    int e = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        e = errno;
    } else if (!S_ISREG(st.st_mode)) {
        why = "not a regular file";
    } else if ((unsigned long long)st.st_size > LIB_MAX) {
        why = "larger than 64 MiB";
    } else if (!(*buf = malloc((size_t)st.st_size + 1))) {
        e = ENOMEM;
    } else {
        size_t got = 0;
        while (got < (size_t)st.st_size) {
            ssize_t r = read(fd, *buf + got, (size_t)st.st_size - got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                e = r < 0 ? errno : EIO;   /* shrank while read */
                break;
            }
            got += (size_t)r;
        }
        if (!e) {
            (*buf)[got] = '\0';
            *len = got;
        } else {
            free(*buf);
            *buf = NULL;
        }
    }
    if (fd >= 0)
        close(fd);
    if (!e && !why)
        return 0;
    snprintf(err, errlen, "--demo %s: cannot read %s: %s (scripts/setup-players installs it "
             "with npm)", dir, rel, why ? why : strerror(e));
    return why ? PC_EINVAL : pc_status_from_errno(e);
}

int pc_demo_open(struct pc_demo **out, const char *node_modules, char *err, size_t errlen)
{
    struct pc_demo *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return PC_ENOMEM;
    }
    int r = read_file(node_modules, SHAKA_FILE, &d->shaka, &d->shaka_len, err, errlen);
    if (r < 0) {
        free(d);
        return r;
    }
    *out = d;
    return 0;
}

void pc_demo_free(struct pc_demo *d)
{
    if (!d)
        return;
    free(d->shaka);
    free(d);
}
