/*
 * Signed URLs (sign.h): parse and check a token, make one, and pass one on
 * to the URLs of a manifest.  Every function here is pure; the time comes
 * in as an argument.
 */
#include "sign.h"

#include "pagecast/status.h"
#include "router.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char PARAM[] = "token";

const char *pc_sign_result_str(enum pc_sign_result r)
{
    switch (r) {
    case PC_SIGN_OK:            return "valid token";
    case PC_SIGN_MISSING:       return "no token";
    case PC_SIGN_MALFORMED:     return "malformed token";
    case PC_SIGN_BAD_SIGNATURE: return "bad signature";
    case PC_SIGN_EXPIRED:       return "expired token";
    case PC_SIGN_PATH_MISMATCH: return "path outside the token's acl";
    }
    return "unknown";
}

/* ------------------------------------------------------------------ keys */

int pc_sign_keys_parse(struct pc_sign_keys *keys, const char *text, size_t len, char *err,
                       size_t errlen)
{
    memset(keys, 0, sizeof *keys);
    if (memchr(text, '\0', len)) {
        snprintf(err, errlen, "a NUL byte (a key is a line of text, e.g. from "
                 "'openssl rand -hex 32')");
        return PC_EINVAL;
    }
    unsigned line = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t n = end - i;
        line++;
        if (n && text[i + n - 1] == '\r')
            n--;
        if (n) {
            if (n < PC_SIGN_KEY_MIN || n > PC_SIGN_KEY_MAX) {
                snprintf(err, errlen, "the key on line %u is %zu bytes: a key has %d to %d "
                         "(e.g. 'openssl rand -hex 32' makes 64)", line, n, PC_SIGN_KEY_MIN,
                         PC_SIGN_KEY_MAX);
                memset(keys, 0, sizeof *keys);
                return PC_EINVAL;
            }
            if (keys->n == PC_SIGN_KEYS_MAX) {
                snprintf(err, errlen, "more than %d keys", PC_SIGN_KEYS_MAX);
                memset(keys, 0, sizeof *keys);
                return PC_EINVAL;
            }
            pc_hmac_sha256_key(&keys->key[keys->n++], text + i, n);
        }
        i = end + 1;
    }
    if (keys->n == 0) {
        snprintf(err, errlen, "no key (one key per line, e.g. from 'openssl rand -hex 32')");
        return PC_EINVAL;
    }
    return 0;
}

/* ----------------------------------------------------------------- parse */

/* Bytes an acl may hold as they are: RFC 3986 pchar and '/', less '~'
 * (our separator), '$' (a DASH template's escape), '&' (ends a query
 * parameter) and '*' (the wildcard, handled apart). */
static bool acl_byte(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("-._/!'()+,;=:@", c) != NULL;
}

/* The byte an escape %XY stands for may be in an acl (and in a path the
 * router lets through): not '/', which would add structure, nor NUL or a
 * control character. */
static bool escaped_byte_ok(unsigned v)
{
    return v != '/' && v >= 0x20 && v != 0x7f;
}

static bool acl_valid(const char *a, size_t n)
{
    if (n == 0 || a[0] != '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c == '%') {
            int hi, lo;
            if (n - i < 3 || (hi = pc_hexval((unsigned char)a[i + 1])) < 0 ||
                (lo = pc_hexval((unsigned char)a[i + 2])) < 0 ||
                !escaped_byte_ok((unsigned)(hi << 4 | lo)))
                return false;
            i += 2;
        } else if (c == '*') {
            if (i != n - 1)
                return false;
        } else if (!acl_byte(c)) {
            return false;
        }
    }
    return true;
}

static bool has_prefix(const char *s, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    return n >= k && memcmp(s, lit, k) == 0;
}

enum pc_sign_result pc_sign_parse(const char *v, size_t len, struct pc_sign_token *t)
{
    memset(t, 0, sizeof *t);
    if (len > PC_SIGN_TOKEN_MAX || !has_prefix(v, len, "exp="))
        return PC_SIGN_MALFORMED;
    size_t i = 4;

    /* E: canonical decimal, so one expiry has one spelling. */
    uint64_t exp = 0;
    size_t d0 = i;
    while (i < len && v[i] >= '0' && v[i] <= '9') {
        unsigned d = (unsigned)(v[i] - '0');
        if (exp > (UINT64_MAX - d) / 10)
            return PC_SIGN_MALFORMED;
        exp = exp * 10 + d;
        i++;
    }
    if (i == d0 || (v[d0] == '0' && i - d0 > 1))
        return PC_SIGN_MALFORMED;
    if (!has_prefix(v + i, len - i, "~acl="))
        return PC_SIGN_MALFORMED;
    i += 5;

    /* A: up to the next '~', which an acl cannot hold. */
    size_t a0 = i;
    while (i < len && v[i] != '~')
        i++;
    if (!acl_valid(v + a0, i - a0))
        return PC_SIGN_MALFORMED;
    size_t a1 = i;
    if (!has_prefix(v + i, len - i, "~hmac="))
        return PC_SIGN_MALFORMED;
    i += 6;

    /* H: exactly 64 lowercase hex digits, then the end. */
    if (len - i != 2 * PC_SHA256_LEN)
        return PC_SIGN_MALFORMED;
    for (size_t k = i; k < len; k++)
        if (!((v[k] >= '0' && v[k] <= '9') || (v[k] >= 'a' && v[k] <= 'f')))
            return PC_SIGN_MALFORMED;

    *t = (struct pc_sign_token){
        .value = v, .len = len, .exp = exp,
        .acl = v + a0, .acl_len = a1 - a0, .hmac = v + i,
    };
    return PC_SIGN_OK;
}

/* ----------------------------------------------------------------- check */

/* The next byte of the percent-decoded form of s[*i..n), advancing *i.
 * @return the byte, -1 at the end, or -2 for a bad escape or one standing
 * for a byte a path may not hold (escaped_byte_ok). */
static int next_decoded(const char *s, size_t n, size_t *i)
{
    if (*i >= n)
        return -1;
    unsigned char c = (unsigned char)s[*i];
    if (c != '%') {
        (*i)++;
        return c;
    }
    int hi, lo;
    if (n - *i < 3 || (hi = pc_hexval((unsigned char)s[*i + 1])) < 0 ||
        (lo = pc_hexval((unsigned char)s[*i + 2])) < 0)
        return -2;
    unsigned v = (unsigned)(hi << 4 | lo);
    if (!escaped_byte_ok(v))
        return -2;
    *i += 3;
    return (int)v;
}

/* Is the path [p, p+pn) inside the acl [a, a+an) (see sign.h)? */
static bool path_in_acl(const char *p, size_t pn, const char *a, size_t an)
{
    bool prefix = an && a[an - 1] == '*';
    if (prefix)
        an--;
    size_t i = 0, j = 0;
    for (;;) {
        int ca = next_decoded(a, an, &i);
        if (ca == -1)
            break;
        int cp = next_decoded(p, pn, &j);
        if (ca < 0 || cp < 0 || ca != cp)
            return false;
    }
    return prefix || j == pn;
}

/* Find the one "token" parameter of the query [q, q+n).  @return
 * PC_SIGN_OK with its value in *v / *vn, MISSING or MALFORMED (twice). */
static enum pc_sign_result find_token(const char *q, size_t n, const char **v, size_t *vn)
{
    unsigned found = 0;
    size_t plen = sizeof PARAM - 1;
    for (size_t i = 0; i <= n;) {
        const char *amp = memchr(q + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - q) : n;
        size_t k = end - i;
        /* "token" or "token=...": the parameter's name is exactly ours. */
        if (k >= plen && memcmp(q + i, PARAM, plen) == 0 && (k == plen || q[i + plen] == '=')) {
            found++;
            *v = k == plen ? q + end : q + i + plen + 1;
            *vn = k == plen ? 0 : k - plen - 1;
        }
        i = end + 1;
    }
    /* Two tokens are refused: a CDN that reads the first and an origin
     * that reads the last would each pass a different one. */
    return found == 0 ? PC_SIGN_MISSING : found == 1 ? PC_SIGN_OK : PC_SIGN_MALFORMED;
}

enum pc_sign_result pc_sign_check(const struct pc_sign_keys *keys, const char *target,
                                  size_t len, int64_t now, struct pc_sign_token *t)
{
    memset(t, 0, sizeof *t);
    long start = pc_target_path_start(target, len);
    size_t p0 = start < 0 ? len : (size_t)start;
    size_t p1 = p0;
    while (p1 < len && target[p1] != '?' && target[p1] != '#')
        p1++;
    if (p1 >= len || target[p1] != '?')
        return PC_SIGN_MISSING;
    size_t q0 = p1 + 1, q1 = q0;
    while (q1 < len && target[q1] != '#')
        q1++;

    const char *v = NULL;
    size_t vn = 0;
    enum pc_sign_result r = find_token(target + q0, q1 - q0, &v, &vn);
    if (r != PC_SIGN_OK)
        return r;
    if ((r = pc_sign_parse(v, vn, t)) != PC_SIGN_OK)
        return r;

    /* H as bytes; then compare against every key without an early exit,
     * so the time taken says nothing about where a forgery went wrong or
     * which key matched. */
    uint8_t want[PC_SHA256_LEN];
    for (size_t k = 0; k < PC_SHA256_LEN; k++)
        want[k] = (uint8_t)(pc_hexval((unsigned char)t->hmac[2 * k]) << 4 |
                            pc_hexval((unsigned char)t->hmac[2 * k + 1]));
    size_t signed_len = (size_t)(t->hmac - t->value) - (sizeof "~hmac=" - 1);
    unsigned ok = 0;
    for (unsigned k = 0; keys && k < keys->n; k++) {
        uint8_t got[PC_SHA256_LEN];
        pc_hmac_sha256(&keys->key[k], t->value, signed_len, got);
        unsigned diff = 0;
        for (size_t b = 0; b < PC_SHA256_LEN; b++)
            diff |= got[b] ^ want[b];
        ok |= diff == 0;
    }
    if (!ok)
        return PC_SIGN_BAD_SIGNATURE;
    if (t->exp <= (uint64_t)(now < 0 ? 0 : now))
        return PC_SIGN_EXPIRED;
    if (!path_in_acl(target + p0, p1 - p0, t->acl, t->acl_len))
        return PC_SIGN_PATH_MISMATCH;
    return PC_SIGN_OK;
}

/* ------------------------------------------------------------------ make */

long pc_sign_make(const struct pc_sign_keys *keys, const char *acl, uint64_t exp, char *out,
                  size_t cap, const char **why)
{
    static const char hex[] = "0123456789abcdef";
    static const char HEX[] = "0123456789ABCDEF";
    *why = "";
    if (!keys || keys->n == 0) {
        *why = "no key";
        return PC_EINVAL;
    }
    if (!acl || acl[0] != '/') {
        *why = "the acl must be a path starting with '/'";
        return PC_EINVAL;
    }
    int n = snprintf(out, cap, "exp=%" PRIu64 "~acl=", exp);
    if (n < 0 || (size_t)n >= cap) {
        *why = "too long";
        return PC_ETOOBIG;
    }
    size_t o = (size_t)n;
    size_t alen = strlen(acl);
    for (size_t i = 0; i < alen; i++) {
        unsigned char c = (unsigned char)acl[i];
        char esc[3];
        size_t k;
        if (c == '%' && alen - i >= 3 && pc_hexval((unsigned char)acl[i + 1]) >= 0 &&
            pc_hexval((unsigned char)acl[i + 2]) >= 0) {
            /* An escape already there: kept, but it must be one an acl
             * may hold. */
            if (!escaped_byte_ok((unsigned)(pc_hexval((unsigned char)acl[i + 1]) << 4 |
                                            pc_hexval((unsigned char)acl[i + 2])))) {
                *why = "the acl escapes '/' or a control character";
                return PC_EINVAL;
            }
            memcpy(esc, acl + i, 3);
            k = 3;
            i += 2;
        } else if ((c == '*' && i == alen - 1) || acl_byte(c)) {
            esc[0] = (char)c;
            k = 1;
        } else if (c < 0x20 || c == 0x7f) {
            *why = "the acl holds a control character";
            return PC_EINVAL;
        } else {
            esc[0] = '%';
            esc[1] = HEX[c >> 4];
            esc[2] = HEX[c & 15];
            k = 3;
        }
        if (cap - o <= k) {
            *why = "too long";
            return PC_ETOOBIG;
        }
        memcpy(out + o, esc, k);
        o += k;
    }
    uint8_t mac[PC_SHA256_LEN];
    pc_hmac_sha256(&keys->key[0], out, o, mac);
    if (cap - o <= 6 + 2 * PC_SHA256_LEN) {
        *why = "too long";
        return PC_ETOOBIG;
    }
    memcpy(out + o, "~hmac=", 6);
    o += 6;
    for (size_t b = 0; b < PC_SHA256_LEN; b++) {
        out[o++] = hex[mac[b] >> 4];
        out[o++] = hex[mac[b] & 15];
    }
    out[o] = '\0';
    /* What we make must be what we accept. */
    struct pc_sign_token t;
    if (pc_sign_parse(out, o, &t) != PC_SIGN_OK) {
        *why = "the acl does not make a valid token";
        return PC_EINVAL;
    }
    return (long)o;
}

/* -------------------------------------------------------- propagation */

/* Output that is measured first (p NULL) and then written. */
struct out {
    char *p;
    size_t len;
    const char *tok;
    size_t tlen;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->p)
        memcpy(o->p + o->len, s, n);
    o->len += n;
}

/* Append the token to the URL [u, u+n) just copied: "?token=" or, after
 * a query, "&token=". */
static void put_token(struct out *o, const char *u, size_t n)
{
    put(o, memchr(u, '?', n) ? "&" : "?", 1);
    put(o, PARAM, sizeof PARAM - 1);
    put(o, "=", 1);
    put(o, o->tok, o->tlen);
}

/* An HLS tag line [s, s+n) "#EXT-X-...:<attribute-list>": copy it with the
 * token added to each quoted URI attribute (RFC 8216 4.2).  A line whose
 * value is not an attribute list (#EXTINF:6.0,) is copied as it is. */
static void hls_tag(struct out *o, const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n);
    if (!colon) {
        put(o, s, n);
        return;
    }
    size_t i = (size_t)(colon - s) + 1;
    /* First pass: is it an attribute list?  AttributeName is [A-Z0-9-]+,
     * a value is a quoted-string (no '"' inside) or runs to the next ','. */
    for (size_t k = i;;) {
        size_t n0 = k;
        while (k < n && ((s[k] >= 'A' && s[k] <= 'Z') || (s[k] >= '0' && s[k] <= '9') ||
                         s[k] == '-'))
            k++;
        if (k == n0 || k >= n || s[k] != '=') {
            put(o, s, n);
            return;
        }
        k++;
        if (k < n && s[k] == '"') {
            const char *q = memchr(s + k + 1, '"', n - k - 1);
            if (!q) {
                put(o, s, n);
                return;
            }
            k = (size_t)(q - s) + 1;
        } else {
            while (k < n && s[k] != ',')
                k++;
        }
        if (k == n)
            break;
        if (s[k] != ',') {
            put(o, s, n);
            return;
        }
        k++;
    }
    /* Second pass: copy, adding the token inside each URI="...". */
    size_t from = 0;
    for (size_t k = i; k < n;) {
        size_t n0 = k;
        while (s[k] != '=')
            k++;
        bool is_uri = k - n0 == 3 && memcmp(s + n0, "URI", 3) == 0;
        k++;
        if (k < n && s[k] == '"') {
            size_t v0 = k + 1;
            const char *q = memchr(s + v0, '"', n - v0);
            size_t v1 = (size_t)(q - s);
            if (is_uri) {
                put(o, s + from, v1 - from);
                put_token(o, s + v0, v1 - v0);
                from = v1;
            }
            k = v1 + 1;
        } else {
            while (k < n && s[k] != ',')
                k++;
        }
        k++;                        /* past ',' (or past the end) */
    }
    put(o, s + from, n - from);
}

static void rewrite_hls(struct out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - s) : n;
        size_t le = e > i && s[e - 1] == '\r' ? e - 1 : e;
        if (le > i && s[i] == '#') {
            if (has_prefix(s + i, le - i, "#EXT"))
                hls_tag(o, s + i, le - i);
            else
                put(o, s + i, le - i);        /* a comment */
        } else if (le > i) {
            put(o, s + i, le - i);            /* a URI line */
            put_token(o, s + i, le - i);
        }
        put(o, s + le, (nl ? e + 1 : e) - le);
        i = nl ? e + 1 : n;
    }
}

static bool xml_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool url_attribute(const char *name, size_t n)
{
    static const char *const names[] = { "media", "initialization", "index", "sourceURL" };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (strlen(names[k]) == n && memcmp(names[k], name, n) == 0)
            return true;
    return false;
}

/* Copy the XML document [s, s+n) with the token added to the URL
 * attributes of every start tag.  Comments, processing instructions,
 * CDATA and text are copied untouched; the scan follows quoted attribute
 * values, so a '"' or '>' or a name inside a value is never taken for
 * markup (our writers escape them anyway). */
static void rewrite_mpd(struct out *o, const char *s, size_t n)
{
    size_t from = 0, i = 0;
    while (i < n) {
        const char *lt = memchr(s + i, '<', n - i);
        if (!lt)
            break;
        i = (size_t)(lt - s);
        const char *close = NULL;
        if (has_prefix(s + i, n - i, "<!--"))
            close = "-->";
        else if (has_prefix(s + i, n - i, "<![CDATA["))
            close = "]]>";
        else if (has_prefix(s + i, n - i, "<?") || has_prefix(s + i, n - i, "<!"))
            close = ">";
        if (close) {
            const char *e = memmem(s + i, n - i, close, strlen(close));
            i = e ? (size_t)(e - s) + strlen(close) : n;
            continue;
        }
        /* A start or end tag: its name, then attributes name="value" or
         * name='value' until '>' or "/>". */
        i++;
        while (i < n && !xml_space(s[i]) && s[i] != '>' && s[i] != '/')
            i++;
        for (;;) {
            while (i < n && xml_space(s[i]))
                i++;
            if (i >= n || s[i] == '>' || s[i] == '/') {
                i++;
                break;
            }
            size_t a0 = i;
            while (i < n && s[i] != '=' && !xml_space(s[i]) && s[i] != '>')
                i++;
            size_t a1 = i;
            while (i < n && xml_space(s[i]))
                i++;
            if (i >= n || s[i] != '=')
                continue;           /* not well formed: copy on */
            i++;
            while (i < n && xml_space(s[i]))
                i++;
            if (i >= n || (s[i] != '"' && s[i] != '\''))
                continue;
            char q = s[i];
            size_t v0 = i + 1;
            const char *e = memchr(s + v0, q, n - v0);
            if (!e) {
                i = n;
                break;
            }
            size_t v1 = (size_t)(e - s);
            if (url_attribute(s + a0, a1 - a0)) {
                put(o, s + from, v1 - from);
                put_token(o, s + v0, v1 - v0);
                from = v1;
            }
            i = v1 + 1;
        }
    }
    put(o, s + from, n - from);
}

char *pc_sign_manifest(const char *text, size_t len, enum pc_sign_manifest_kind kind,
                       const char *token, size_t token_len, size_t *out_len)
{
    struct out o = { NULL, 0, token, token_len };
    if (kind == PC_SIGN_MPD)
        rewrite_mpd(&o, text, len);
    else
        rewrite_hls(&o, text, len);
    size_t need = o.len;
    char *p = malloc(need + 1);
    if (!p)
        return NULL;
    o = (struct out){ p, 0, token, token_len };
    if (kind == PC_SIGN_MPD)
        rewrite_mpd(&o, text, len);
    else
        rewrite_hls(&o, text, len);
    /* Both passes read the same text: the lengths agree by construction. */
    p[o.len] = '\0';
    if (out_len)
        *out_len = o.len;
    return p;
}
