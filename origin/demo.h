/*
 * The demo page (pagecast-origin --demo NODE_MODULES; docs/players.md,
 * docs/operations.md): for people trying pagecast, a page at "/" that lists
 * every title with its state and its master.m3u8 / manifest.mpd URLs, and
 * plays a title in the browser with Shaka Player.  Off unless asked for:
 * without --demo these URLs are 404 like any other unknown URL, so a
 * production origin lists nothing.
 *
 * What is served, and from where:
 *   /                                   the page: origin/demo/index.html,
 *                                       embedded in the binary at build time
 *                                       (origin/demo/embed.py), with the
 *                                       list of titles filled in per request
 *   /demo/demo.js, /demo/demo.css       embedded likewise
 *   /demo/shaka-player.compiled.js      NODE_MODULES/shaka-player/dist/
 *                                       shaka-player.compiled.js, read once
 *                                       at start (npm's copy, not the repo's)
 * That is the whole allow-list: a request target matches one of these
 * exact paths (an optional query is ignored) or is not the demo's.  No part
 * of a request is ever joined to a directory, and NODE_MODULES is read only
 * at pc_demo_open.
 *
 * Titles are escaped for HTML (& < > " ') in text and percent-encoded
 * (everything but A-Z a-z 0-9 - . _ ~ /) in URLs; the page is sent with a
 * Content-Security-Policy that allows scripts from the origin itself only,
 * so even a title that slipped through escaping could not run script.
 */
#ifndef PC_DEMO_H
#define PC_DEMO_H

#include "catalog.h"

#include <stddef.h>

struct pc_demo;

/* The page's Content-Security-Policy: its own scripts, styles and fetches;
 * media from blob: (Media Source Extensions); nothing inline, no plugins,
 * not framed. */
#define PC_DEMO_CSP                                                                    \
    "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "              \
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/**
 * Read the player library from @p node_modules, the directory npm
 * installed package.json's packages into (the checkout's node_modules/,
 * made by scripts/setup-players).
 * @param err  on failure one line naming the file and the reason, such as
 *             "--demo node_modules: cannot read shaka-player/dist/...: No
 *             such file or directory (scripts/setup-players installs it)"
 * @return 0 and *@p out (the caller owns it: pc_demo_free; it must outlive
 *         the server), or a negative PC_E* status.
 */
int pc_demo_open(struct pc_demo **out, const char *node_modules, char *err, size_t errlen);

/** Free @p d.  Safe with NULL. */
void pc_demo_free(struct pc_demo *d);

/* One answer of the demo. */
struct pc_demo_reply {
    const char *type;               /* Content-Type */
    const char *csp;                /* Content-Security-Policy, or NULL */
    char *body;
    size_t len;
    int owned;                      /* body is malloc'd and the caller's to
                                     * free(); else it lives as long as the
                                     * struct pc_demo */
};

/**
 * The demo's answer to a GET or HEAD of the raw request target @p target
 * (@p len bytes; origin-form or absolute-form, as the router takes it).
 * @return 0 and *@p reply; PC_ENOENT if @p target is not one of the
 *         demo's URLs (the caller answers 404, as without the demo);
 *         PC_ENOMEM.
 */
int pc_demo_get(const struct pc_demo *d, struct pc_catalog *catalog, const char *target,
                size_t len, struct pc_demo_reply *reply);

/* ------------------------------------------------ pure parts (unit-tested) */

enum pc_demo_resource {
    PC_DEMO_NONE = -1,
    PC_DEMO_PAGE,                   /* / */
    PC_DEMO_SCRIPT,                 /* /demo/demo.js */
    PC_DEMO_STYLE,                  /* /demo/demo.css */
    PC_DEMO_SHAKA,                  /* /demo/shaka-player.compiled.js */
};

/** Which demo resource @p target (@p len bytes) names: the path must equal
 *  one exactly, byte for byte; a query is ignored.  Pure. */
enum pc_demo_resource pc_demo_match(const char *target, size_t len);

/**
 * Render the page listing @p n titles @p e (in that order).  Pure.
 * @return 0 and *@p out (malloc'd, NUL-terminated, the caller frees) of
 *         *@p outlen bytes, or PC_ENOMEM.
 */
int pc_demo_render(const struct pc_catalog_entry *e, size_t n, char **out, size_t *outlen);

#endif
