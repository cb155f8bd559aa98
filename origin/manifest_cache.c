/*
 * Every manifest of a bundle, made once per bundle generation: the HLS
 * multivariant playlist, one media playlist per track and the DASH MPD.  The
 * catalog keeps one cache with each open bundle (struct pc_served), so a
 * request for a manifest is a pointer and a length, never a formatting job.
 *
 * Also here, because both writers use them: the measure-then-fill text
 * buffer (compute the size, allocate once, append, verify — as
 * nginx-vod-module's m3u8_builder.c), the label sanitiser, and the small
 * ISO 639 table that turns a track's language into BCP 47 and a name.
 */
#include "manifest.h"

#include "pagecast/status.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ text */

void pc__text_put(struct pc__text *t, const char *s, size_t n)
{
    if (t->p) {
        if (n > t->cap - t->len) {
            t->bad = 1;
            return;
        }
        memcpy(t->p + t->len, s, n);
    }
    t->len += n;
}

void pc__text_puts(struct pc__text *t, const char *s)
{
    pc__text_put(t, s, strlen(s));
}

void pc__text_printf(struct pc__text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* Measuring: vsnprintf(NULL, 0) returns the length it would write.
     * Filling: the buffer has cap + 1 bytes, so room for the NUL that
     * vsnprintf always writes (the next append overwrites it). */
    int n = t->p ? vsnprintf(t->p + t->len, t->cap - t->len + 1, fmt, ap)
                 : vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || (t->p && (size_t)n > t->cap - t->len)) {
        t->bad = 1;
        return;
    }
    t->len += (size_t)n;
}

char *pc__text_make(pc__text_writer *fn, const void *ctx, size_t *len)
{
    struct pc__text t = {0};
    fn(&t, ctx);
    if (t.bad)
        return NULL;
    size_t need = t.len;
    char *p = malloc(need + 1);
    if (!p)
        return NULL;
    t = (struct pc__text){ .p = p, .cap = need };
    fn(&t, ctx);
    /* Both runs format the same immutable bundle: a different length is a
     * bug in a writer, and a truncated manifest must never be served. */
    if (t.bad || t.len != need) {
        free(p);
        return NULL;
    }
    p[need] = '\0';
    if (len)
        *len = need;
    return p;
}

/* Length of the valid UTF-8 sequence at @p s (at most @p n bytes), or 0 if
 * it is not one (overlong forms, surrogates and > U+10FFFF are invalid,
 * RFC 3629 section 4).  *@p cp receives the code point. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t v, min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        len = 2, v = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, v = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

void pc__text_label(struct pc__text *t, const char *s, size_t max, enum pc__label_mode mode)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strnlen(s, max);

    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = utf8_seq(u + i, n - i, &cp);
        if (k == 0) {
            pc__text_put(t, "?", 1);
            i++;
            continue;
        }
        /* C0 and C1 controls are forbidden in playlists (RFC 8216 4.1) and
         * mostly in XML 1.0 (2.2); a label has no use for them. */
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
            pc__text_put(t, " ", 1);
        } else if (mode == PC__LABEL_HLS && cp == '"') {
            pc__text_put(t, "'", 1);
        } else if (mode == PC__LABEL_XML && cp == '&') {
            pc__text_puts(t, "&amp;");
        } else if (mode == PC__LABEL_XML && cp == '<') {
            pc__text_puts(t, "&lt;");
        } else if (mode == PC__LABEL_XML && cp == '>') {
            pc__text_puts(t, "&gt;");
        } else if (mode == PC__LABEL_XML && cp == '"') {
            pc__text_puts(t, "&quot;");
        } else if (mode == PC__LABEL_XML && cp == '\'') {
            pc__text_puts(t, "&apos;");
        } else {
            pc__text_put(t, s + i, k);
        }
        i += k;
    }
}

/* ------------------------------------------------------------- languages */

/* Common languages: ISO 639-1, ISO 639-2/T, ISO 639-2/B (when it differs)
 * and the language's name for itself.  Anything else keeps its own tag and
 * gets no name (the writers then say "Audio N"). */
static const struct lang {
    char iso1[3];
    char iso2t[4];
    char iso2b[4];
    const char *name;
} langs[] = {
    { "ar", "ara", "",    "العربية" },
    { "bg", "bul", "",    "български" },
    { "ca", "cat", "",    "català" },
    { "cs", "ces", "cze", "čeština" },
    { "cy", "cym", "wel", "Cymraeg" },
    { "da", "dan", "",    "dansk" },
    { "de", "deu", "ger", "Deutsch" },
    { "el", "ell", "gre", "Ελληνικά" },
    { "en", "eng", "",    "English" },
    { "es", "spa", "",    "español" },
    { "et", "est", "",    "eesti" },
    { "eu", "eus", "baq", "euskara" },
    { "fa", "fas", "per", "فارسی" },
    { "fi", "fin", "",    "suomi" },
    { "fr", "fra", "fre", "français" },
    { "ga", "gle", "",    "Gaeilge" },
    { "gl", "glg", "",    "galego" },
    { "he", "heb", "",    "עברית" },
    { "hi", "hin", "",    "हिन्दी" },
    { "hr", "hrv", "",    "hrvatski" },
    { "hu", "hun", "",    "magyar" },
    { "id", "ind", "",    "Bahasa Indonesia" },
    { "is", "isl", "ice", "íslenska" },
    { "it", "ita", "",    "italiano" },
    { "ja", "jpn", "",    "日本語" },
    { "ko", "kor", "",    "한국어" },
    { "lt", "lit", "",    "lietuvių" },
    { "lv", "lav", "",    "latviešu" },
    { "ms", "msa", "may", "Bahasa Melayu" },
    { "nb", "nob", "",    "norsk bokmål" },
    { "nl", "nld", "dut", "Nederlands" },
    { "nn", "nno", "",    "norsk nynorsk" },
    { "no", "nor", "",    "norsk" },
    { "pl", "pol", "",    "polski" },
    { "pt", "por", "",    "português" },
    { "ro", "ron", "rum", "română" },
    { "ru", "rus", "",    "русский" },
    { "sk", "slk", "slo", "slovenčina" },
    { "sl", "slv", "",    "slovenščina" },
    { "sr", "srp", "",    "српски" },
    { "sv", "swe", "",    "svenska" },
    { "th", "tha", "",    "ไทย" },
    { "tr", "tur", "",    "Türkçe" },
    { "uk", "ukr", "",    "українська" },
    { "vi", "vie", "",    "Tiếng Việt" },
    { "zh", "zho", "chi", "中文" },
};

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(char c)
{
    return is_alpha(c) || (c >= '0' && c <= '9');
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

size_t pc__lang_bcp47(const char *tag, size_t max, char *out, size_t cap)
{
    size_t n = strnlen(tag, max);
    char prim[9];
    size_t np = 0;

    if (cap < 16 || n == 0 || n >= cap)
        return 0;
    /* RFC 5646 2.1, the shape we accept: a primary subtag of 2-8 letters,
     * then subtags of 1-8 letters or digits, separated by '-' ('_' as
     * written by some tools is read as '-'). */
    while (np < n && is_alpha(tag[np])) {
        if (np == 8)
            return 0;
        prim[np] = lower(tag[np]);
        np++;
    }
    prim[np] = '\0';
    if (np < 2)
        return 0;
    size_t i = np;
    while (i < n) {
        if (tag[i] != '-' && tag[i] != '_')
            return 0;
        size_t k = ++i;
        while (i < n && is_alnum(tag[i]))
            i++;
        if (i == k || i - k > 8)
            return 0;
    }
    /* "und" (undetermined, ISO 639-2) says nothing: declare no language. */
    if (strcmp(prim, "und") == 0)
        return 0;
    const char *p = prim;
    if (np == 3)
        for (size_t k = 0; k < sizeof langs / sizeof langs[0]; k++)
            if (strcmp(prim, langs[k].iso2t) == 0 || strcmp(prim, langs[k].iso2b) == 0) {
                p = langs[k].iso1;     /* RFC 5646 2.2.1: the shortest code */
                break;
            }
    size_t len = strlen(p);
    memcpy(out, p, len);
    for (i = np; i < n; i++)
        out[len++] = tag[i] == '_' ? '-' : tag[i];
    out[len] = '\0';
    return len;
}

const char *pc__lang_name(const char *bcp47)
{
    size_t np = strcspn(bcp47, "-");
    if (np != 2)
        return NULL;
    for (size_t k = 0; k < sizeof langs / sizeof langs[0]; k++)
        if (memcmp(bcp47, langs[k].iso1, 2) == 0)
            return langs[k].name;
    return NULL;
}

/* ----------------------------------------------------------------- cache */

struct text {
    char *p;                        /* owned */
    size_t len;
};

struct pc_manifest_cache {
    struct text master;
    struct text mpd;
    unsigned n_tracks;
    struct text media[];            /* one per track */
};

struct pc_manifest_cache *pc_manifest_cache_new(const struct pc_bundle *b)
{
    if (!b || !b->hdr)
        return NULL;
    unsigned n = b->hdr->track_count;
    struct pc_manifest_cache *mc = calloc(1, sizeof *mc + n * sizeof mc->media[0]);
    struct pc_timeline *tls = calloc(n ? n : 1, sizeof *tls);
    bool ok = mc && tls;

    if (ok)
        mc->n_tracks = n;
    /* One timeline per track feeds every manifest (STYLE: one timing model). */
    for (unsigned t = 0; ok && t < n; t++)
        ok = pc_timeline_build(b, t, &tls[t]) == 0;
    for (unsigned t = 0; ok && t < n; t++)
        ok = (mc->media[t].p = pc_hls_media(b, t, &tls[t], &mc->media[t].len)) != NULL;
    if (ok)
        ok = (mc->master.p = pc_hls_master(b, &mc->master.len)) != NULL;
    if (ok)
        ok = (mc->mpd.p = pc_dash_mpd(b, tls, &mc->mpd.len)) != NULL;

    if (tls)
        for (unsigned t = 0; t < n; t++)
            pc_timeline_free(&tls[t]);
    free(tls);
    if (!ok) {
        pc_manifest_cache_free(mc);
        return NULL;
    }
    return mc;
}

void pc_manifest_cache_free(struct pc_manifest_cache *mc)
{
    if (!mc)
        return;
    free(mc->master.p);
    free(mc->mpd.p);
    for (unsigned t = 0; t < mc->n_tracks; t++)
        free(mc->media[t].p);
    free(mc);
}

const char *pc_manifest_get(const struct pc_manifest_cache *mc, enum pc_manifest_kind kind,
                            unsigned track, size_t *len)
{
    const struct text *x = NULL;

    if (!mc)
        return NULL;
    switch (kind) {
    case PC_MANIFEST_HLS_MASTER:
        x = &mc->master;
        break;
    case PC_MANIFEST_DASH:
        x = &mc->mpd;
        break;
    case PC_MANIFEST_HLS_MEDIA:
        if (track >= mc->n_tracks)
            return NULL;
        x = &mc->media[track];
        break;
    }
    if (!x || !x->p)
        return NULL;
    if (len)
        *len = x->len;
    return x->p;
}
