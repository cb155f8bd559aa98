/*
 * Signed URLs: the token format, its check, and passing a token on to the
 * URLs a manifest names.  Pure: no I/O, no clock (the time is an argument),
 * no global state; unit-tested (tests/unit/test_sign.c) and fuzzed
 * (fuzz/fuzz_sign.c).  sign_io.c is the I/O around it (the secret file, the
 * refusal log); docs/security.md says why the scheme is what it is.
 *
 * The token travels in the query string as one parameter:
 *
 *     ?token=exp=<E>~acl=<A>~hmac=<H>
 *
 *   E  expiry, Unix seconds, canonical decimal (no sign, no leading zero);
 *      the token is good while now < E.
 *   A  the path the token opens, percent-encoded as in a URL, starting with
 *      '/'.  Ending in '*', it is a prefix ("/movies/a.mp4/" and a '*'
 *      opens every URL of that title); otherwise the one path.  Bytes allowed: letters,
 *      digits, - . _ / ! ' ( ) + , ; = : @ and %XX escapes, '*' only last.
 *      So a token never holds '~', '&', '#', '$', '"', '<' or a space, and
 *      goes into an HLS quoted-string, an XML attribute or a DASH template
 *      as it is.  %2F, %00 and other control characters are refused.
 *   H  HMAC-SHA256(key, "exp=<E>~acl=<A>") in 64 lowercase hex digits: the
 *      bytes of the token before "~hmac=", exactly as they are in the URL.
 *
 * A path is inside A when, both percent-decoded, the path equals A or (A
 * ending in '*') starts with A without its '*'.  Comparing decoded bytes
 * makes "%C3%A9", "%c3%a9" and a raw "é" one path, as they are one title to
 * the router; the router refuses the encodings that could change a path's
 * structure (%2F, "..") before a token is looked at.
 */
#ifndef PC_SIGN_H
#define PC_SIGN_H

#include "sha256.h"

#include <stddef.h>
#include <stdint.h>

#define PC_SIGN_KEYS_MAX 8          /* keys in a secret file (rotation) */
#define PC_SIGN_KEY_MIN 16          /* bytes: shorter keys are refused */
#define PC_SIGN_KEY_MAX 1024        /* bytes per key */
#define PC_SIGN_TOKEN_MAX 4096      /* a token longer than this is malformed */
#define PC_SIGN_TAG_LEN 16          /* hex digits of H that name a token (ETag) */

/* The keys that verify tokens.  The first also signs (pc_sign_make); any
 * of them verifies, so a new key can be added before the old one's tokens
 * have expired.  Read-only once made: every thread may use it at once. */
struct pc_sign_keys {
    unsigned n;
    struct pc_hmac_sha256_key key[PC_SIGN_KEYS_MAX];
};

/* Why a request was refused, in the order the checks run: a token that is
 * not authentic is never reported as expired or misplaced. */
enum pc_sign_result {
    PC_SIGN_OK = 0,
    PC_SIGN_MISSING,                /* no token parameter in the query */
    PC_SIGN_MALFORMED,              /* not exp=E~acl=A~hmac=H, or two tokens */
    PC_SIGN_BAD_SIGNATURE,          /* H matches no key: forged, tampered, other secret */
    PC_SIGN_EXPIRED,                /* authentic, but now >= E */
    PC_SIGN_PATH_MISMATCH,          /* authentic and current, but the path is outside A */
};

/* A parsed token.  Pointers are into the string parsed. */
struct pc_sign_token {
    const char *value;              /* the whole token (what follows "token=") */
    size_t len;
    uint64_t exp;
    const char *acl;                /* A, as written (percent-encoded) */
    size_t acl_len;
    const char *hmac;               /* H: 64 lowercase hex digits */
};

/** A short phrase for @p r ("expired token", ...); never NULL. */
const char *pc_sign_result_str(enum pc_sign_result r);

/**
 * Make the keys from the text of a secret file: one key per line, the
 * line's bytes as they are (a trailing CR is dropped); empty lines are
 * skipped.
 * @param err  on failure, the reason ("the key on line 2 is 9 bytes: ..."),
 *             without the file's name
 * @return 0, or PC_EINVAL (no key, a key too short or too long, too many
 *         keys, a NUL byte).
 */
int pc_sign_keys_parse(struct pc_sign_keys *keys, const char *text, size_t len, char *err,
                       size_t errlen);

/**
 * Parse a token value (the bytes after "token=").  Syntax only: no key, no
 * clock, no path.
 * @return PC_SIGN_OK with *@p t filled, or PC_SIGN_MALFORMED.
 */
enum pc_sign_result pc_sign_parse(const char *value, size_t len, struct pc_sign_token *t);

/**
 * Check the raw request target @p target (@p len bytes, as the router
 * takes it: origin-form or absolute-form, query included) at Unix time
 * @p now against @p keys: its query must hold exactly one "token"
 * parameter, whose token is authentic under one of the keys, unexpired,
 * and opens the target's path.  Other query parameters are ignored.
 * @param t  on PC_SIGN_OK (and on EXPIRED / PATH_MISMATCH) the token;
 *           the caller passes it on to manifests (pc_sign_manifest)
 * @return PC_SIGN_OK or the first check that failed.  The HMAC compare
 *         takes the same time wherever the bytes differ.
 */
enum pc_sign_result pc_sign_check(const struct pc_sign_keys *keys, const char *target,
                                  size_t len, int64_t now, struct pc_sign_token *t);

/**
 * Make a token opening @p acl until Unix time @p exp, signed with the
 * first key.  @p acl is a path starting with '/', as in a URL, optionally
 * ending in '*'; bytes a token cannot hold are percent-encoded here (a
 * space, UTF-8, '~', '$', '&', a '*' not at the end), and %XX escapes
 * already there are kept, so "/My Movie.mp4/" and "/My%20Movie.mp4/",
 * each with a '*' after it, give the same token.
 * @param out  receives the NUL-terminated token value (without "token=")
 * @param why  on failure, the reason (static)
 * @return the token's length, or PC_EINVAL (no key, @p acl not a path,
 *         an escape of '/' or a control character) or PC_ETOOBIG
 *         (@p cap too small).
 */
long pc_sign_make(const struct pc_sign_keys *keys, const char *acl, uint64_t exp, char *out,
                  size_t cap, const char **why);

enum pc_sign_manifest_kind { PC_SIGN_HLS, PC_SIGN_MPD };

/**
 * Copy the manifest @p text (@p len bytes) with "?token=<token>" (or
 * "&token=" after a query) appended to every URL it names:
 *   HLS (RFC 8216)  every URI line and every quoted URI attribute of a tag
 *                   (EXT-X-MAP, EXT-X-MEDIA, ...);
 *   MPD             the media, initialization, index and sourceURL
 *                   attributes of any element, the ones that name URLs
 *                   (ISO/IEC 23009-1 5.3.9); our MPD has only
 *                   SegmentTemplate@media and @initialization.  A query on
 *                   a BaseURL would not reach URLs resolved against it
 *                   (RFC 3986 5.2.2), and our MPD has none.
 * Attributes are parsed, so a quote or an attribute name inside another
 * value (a track's name or codecs string) is never mistaken for one.
 * @p token must be a parsed token's bytes (pc_sign_parse: nothing in it
 * needs escaping in either format).
 * @return a malloc'd NUL-terminated copy (the caller frees it), length in
 *         *@p out_len; NULL if out of memory.
 */
char *pc_sign_manifest(const char *text, size_t len, enum pc_sign_manifest_kind kind,
                       const char *token, size_t token_len, size_t *out_len);

#endif
