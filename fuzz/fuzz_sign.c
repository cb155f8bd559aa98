/*
 * Fuzz target: signed URLs (origin/sign.c).  The first byte picks what the
 * rest is:
 *   0  a request target, checked against a fixed key: a token accepted must
 *      lie inside the target, parse again, and have a real signature;
 *   1  an HLS and 2 an MPD manifest, given a token: the copy must be the
 *      original plus whole "?token=..." / "&token=..." insertions;
 *   3  an acl for pc_sign_make: a token made must open that path at once;
 *   4  the text of a secret file.
 */
#include "sign.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY "0123456789abcdef0123456789abcdef"
#define NOW 1900000000
#define TOKEN "exp=2000000000~acl=/a.mp4/*~hmac=5e1057d35a1da05c8d4ac3cbbc1aec864f191632017f801ef7439607a3fccf47"

static struct pc_sign_keys keys;

static void check_target(const char *s, size_t n)
{
    struct pc_sign_token t;
    enum pc_sign_result r = pc_sign_check(&keys, s, n, NOW, &t);
    if (r > PC_SIGN_PATH_MISMATCH)
        __builtin_trap();
    if (r == PC_SIGN_OK || r == PC_SIGN_EXPIRED || r == PC_SIGN_PATH_MISMATCH) {
        if (t.value < s || t.value + t.len > s + n || t.len > PC_SIGN_TOKEN_MAX)
            __builtin_trap();
        struct pc_sign_token again;
        if (pc_sign_parse(t.value, t.len, &again) != PC_SIGN_OK || again.exp != t.exp)
            __builtin_trap();
        /* Only a token signed with KEY gets this far: the seed's. */
        if (t.len != strlen(TOKEN) || memcmp(t.value, TOKEN, t.len) != 0)
            __builtin_trap();
    }
}

static void check_manifest(const char *s, size_t n, enum pc_sign_manifest_kind kind)
{
    size_t len = 0;
    char *out = pc_sign_manifest(s, n, kind, TOKEN, strlen(TOKEN), &len);
    if (!out)
        return;
    /* Walk both: the copy is the input with whole insertions added.  An
     * input that holds the insertion itself is skipped (it would be
     * ambiguous); then a match at o is always an insertion, as '?' and '&'
     * occur in it only first, so it cannot straddle input bytes. */
    size_t ins = strlen("?token=" TOKEN), i = 0, o = 0;
    if (memmem(s, n, "token=" TOKEN, ins - 1)) {
        free(out);
        return;
    }
    while (o < len) {
        if ((out[o] == '?' || out[o] == '&') && len - o >= ins &&
            memcmp(out + o + 1, "token=" TOKEN, ins - 1) == 0) {
            o += ins;
            continue;
        }
        if (i >= n || out[o] != s[i])
            __builtin_trap();
        o++;
        i++;
    }
    if (i != n || o != len || out[len] != '\0')
        __builtin_trap();
    free(out);
}

static void check_make(const char *acl)
{
    char tok[PC_SIGN_TOKEN_MAX + 1];
    const char *why;
    long n = pc_sign_make(&keys, acl, 2000000000, tok, sizeof tok, &why);
    if (n < 0)
        return;
    const char *a = strstr(tok, "~acl=") + 5;
    size_t an = (size_t)(strstr(a, "~hmac=") - a);
    if (an && a[an - 1] == '*')
        an--;
    char *target = malloc(an + 8 + (size_t)n + 1);
    if (!target)
        return;
    memcpy(target, a, an);
    memcpy(target + an, "?token=", 7);
    memcpy(target + an + 7, tok, (size_t)n + 1);
    struct pc_sign_token t;
    if (pc_sign_check(&keys, target, an + 7 + (size_t)n, NOW, &t) != PC_SIGN_OK)
        __builtin_trap();
    free(target);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (keys.n == 0) {
        char err[160];
        if (pc_sign_keys_parse(&keys, KEY, strlen(KEY), err, sizeof err) != 0)
            __builtin_trap();
    }
    if (size < 1)
        return 0;
    /* Exactly the input's bytes, no NUL after them (but for the maker,
     * which takes a string), so ASan sees any read past the end. */
    size_t n = size - 1;
    char *s = malloc(n ? n : 1);
    if (!s)
        return 0;
    memcpy(s, data + 1, n);
    switch (data[0] % 5) {
    case 0: check_target(s, n); break;
    case 1: check_manifest(s, n, PC_SIGN_HLS); break;
    case 2: check_manifest(s, n, PC_SIGN_MPD); break;
    case 3: {
        char *z = malloc(n + 1);
        if (z) {
            memcpy(z, s, n);
            z[n] = '\0';
            check_make(z);
            free(z);
        }
        break;
    }
    case 4: {
        struct pc_sign_keys k;
        char err[160];
        (void)pc_sign_keys_parse(&k, s, n, err, sizeof err);
        break;
    }
    }
    free(s);
    return 0;
}
