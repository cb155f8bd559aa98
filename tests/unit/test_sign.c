/*
 * Unit tests for signed URLs: SHA-256 against the FIPS 180-4 examples,
 * HMAC-SHA256 against RFC 4231, and the token check (origin/sign.c) with
 * tokens computed outside pagecast (Python's hmac module; the command is in
 * docs/security.md), then each way a token can be wrong.  Each refusal
 * names the reason it must get, so a check that was dropped, or that now
 * fires for the wrong reason, fails here.
 */
#include <criterion/criterion.h>

#include "sign.h"

#include "pagecast/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- SHA-256 */

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static void expect_sha256(const void *data, size_t len, const char *want)
{
    uint8_t d[PC_SHA256_LEN];
    char got[2 * PC_SHA256_LEN + 1];
    pc_sha256(data, len, d);
    hex(d, sizeof d, got);
    cr_assert_str_eq(got, want, "SHA-256 of %zu bytes", len);
}

Test(sha256, fips_180_4_examples)
{
    expect_sha256("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect_sha256("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* 448 bits: the padding needs a second block */
    const char *m2 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    expect_sha256(m2, strlen(m2),
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m3 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                     "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    expect_sha256(m3, strlen(m3),
                  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

Test(sha256, million_a_fed_in_uneven_pieces)
{
    /* One million 'a' in pieces of 1 to 130 bytes: every buffering path. */
    char chunk[130];
    memset(chunk, 'a', sizeof chunk);
    struct pc_sha256 c;
    pc_sha256_init(&c);
    size_t left = 1000000, k = 1;
    while (left) {
        size_t n = k < left ? k : left;
        pc_sha256_update(&c, chunk, n);
        left -= n;
        k = k % sizeof chunk + 1;
    }
    uint8_t d[PC_SHA256_LEN];
    char got[2 * PC_SHA256_LEN + 1];
    pc_sha256_final(&c, d);
    hex(d, sizeof d, got);
    cr_assert_str_eq(got, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void expect_hmac(const void *key, size_t klen, const void *msg, size_t mlen,
                        const char *want)
{
    struct pc_hmac_sha256_key k;
    uint8_t d[PC_SHA256_LEN];
    char got[2 * PC_SHA256_LEN + 1];
    pc_hmac_sha256_key(&k, key, klen);
    pc_hmac_sha256(&k, msg, mlen, d);
    hex(d, sizeof d, got);
    /* test case 5 gives only the first 128 bits */
    cr_assert_eq(strncmp(got, want, strlen(want)), 0, "HMAC: got %s, want %s", got, want);
}

Test(hmac_sha256, rfc_4231_test_cases)
{
    uint8_t k[131], d[50];
    memset(k, 0x0b, 20);
    expect_hmac(k, 20, "Hi There", 8,
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    expect_hmac("Jefe", 4, "what do ya want for nothing?", 28,
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    memset(k, 0xaa, 20);
    memset(d, 0xdd, 50);
    expect_hmac(k, 20, d, 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    for (int i = 0; i < 25; i++)
        k[i] = (uint8_t)(i + 1);
    memset(d, 0xcd, 50);
    expect_hmac(k, 25, d, 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
    memset(k, 0x0c, 20);
    expect_hmac(k, 20, "Test With Truncation", 20, "a3b6167473100ee06e0c796c2955552b");
    /* keys longer than a block are hashed first */
    memset(k, 0xaa, 131);
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    expect_hmac(k, 131, m6, strlen(m6),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    const char *m7 = "This is a test using a larger than block-size key and a larger than "
                     "block-size data. The key needs to be hashed before being used by the "
                     "HMAC algorithm.";
    expect_hmac(k, 131, m7, strlen(m7),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

/* ------------------------------------------------------------------ keys */

#define KEY "0123456789abcdef0123456789abcdef"
#define KEY2 "second-key-second-key"
#define EXP 2000000000

/* Computed with Python: hmac.new(KEY, b"exp=2000000000~acl=" + acl,
 * hashlib.sha256).hexdigest(). */
#define TOK_A "exp=2000000000~acl=/a.mp4/*~hmac=5e1057d35a1da05c8d4ac3cbbc1aec864f191632017f801ef7439607a3fccf47"
#define TOK_MOVIE "exp=2000000000~acl=/sub/My%20Movie%20%C3%A9.mp4/*~hmac=6eca9c5f4b08d06af01f7090dc357e8c40af6b6dd2a5ca3f511e6fcff48cae90"
#define TOK_EXACT "exp=2000000000~acl=/a.mp4/master.m3u8~hmac=f03c016a0e1a4884e0912199fc02e54ba71c821d2dd8e44842872871d31e427c"
#define TOK_A_KEY2 "exp=2000000000~acl=/a.mp4/*~hmac=f4bbfa9e0af98eff308e94af9c37d83e0ee86dadcd5d9acc3fd5e077d4ba71c7"

static struct pc_sign_keys keys;

static void load_keys(const char *text)
{
    char err[256];
    int r = pc_sign_keys_parse(&keys, text, strlen(text), err, sizeof err);
    cr_assert_eq(r, 0, "keys %s: %s", text, err);
}

static void expect_keys_refused(const char *text, size_t len, const char *reason_part)
{
    char err[256] = "";
    struct pc_sign_keys k;
    cr_assert_eq(pc_sign_keys_parse(&k, text, len, err, sizeof err), PC_EINVAL,
                 "keys %.*s accepted", (int)len, text);
    cr_assert_neq(strstr(err, reason_part), NULL, "reason %s lacks %s", err, reason_part);
    cr_assert_eq(k.n, 0);
}

Test(sign_keys, one_key_per_line_trailing_newline_and_cr_dropped)
{
    load_keys(KEY "\n");
    cr_assert_eq(keys.n, 1);
    load_keys(KEY "\r\n\n" KEY2 "\n");
    cr_assert_eq(keys.n, 2);
    load_keys(KEY);
    cr_assert_eq(keys.n, 1);
}

Test(sign_keys, refuses_empty_short_nul_and_too_many)
{
    expect_keys_refused("", 0, "no key");
    expect_keys_refused("\n\r\n", 3, "no key");
    expect_keys_refused("short\n", 6, "line 1 is 5 bytes");
    expect_keys_refused(KEY "\n0123456789abcde\n", strlen(KEY) + 17, "line 2 is 15 bytes");
    expect_keys_refused(KEY "\0" KEY, 2 * strlen(KEY) + 1, "NUL");
    char many[9 * 33 + 1] = "";
    for (int i = 0; i < 9; i++)
        strcat(many, KEY "\n");
    expect_keys_refused(many, strlen(many), "more than 8");
}

/* ----------------------------------------------------------------- check */

static struct pc_sign_token tok;

static enum pc_sign_result check_at(const char *target, int64_t now)
{
    return pc_sign_check(&keys, target, strlen(target), now, &tok);
}

static void expect(const char *target, int64_t now, enum pc_sign_result want)
{
    enum pc_sign_result r = check_at(target, now);
    cr_assert_eq(r, want, "%s at %lld: %s, expected %s", target, (long long)now,
                 pc_sign_result_str(r), pc_sign_result_str(want));
}

#define NOW (EXP - 100)

Test(sign_check, valid_token_opens_every_url_of_its_title)
{
    load_keys(KEY);
    static const char *const paths[] = {
        "/a.mp4/master.m3u8", "/a.mp4/0.m3u8", "/a.mp4/manifest.mpd",
        "/a.mp4/00c0ffee00c0ffee/0/init.mp4", "/a.mp4/00c0ffee00c0ffee/1/17.m4s",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char target[512];
        snprintf(target, sizeof target, "%s?token=" TOK_A, paths[i]);
        expect(target, NOW, PC_SIGN_OK);
        cr_assert_eq(tok.len, strlen(TOK_A));
        cr_assert_eq(memcmp(tok.value, TOK_A, tok.len), 0);
        cr_assert_eq(tok.exp, EXP);
    }
    /* absolute form, as a proxy may send it */
    expect("http://origin.example/a.mp4/master.m3u8?token=" TOK_A, NOW, PC_SIGN_OK);
}

Test(sign_check, expired_at_and_after_exp)
{
    load_keys(KEY);
    expect("/a.mp4/master.m3u8?token=" TOK_A, EXP - 1, PC_SIGN_OK);
    expect("/a.mp4/master.m3u8?token=" TOK_A, EXP, PC_SIGN_EXPIRED);
    expect("/a.mp4/master.m3u8?token=" TOK_A, EXP + 86400, PC_SIGN_EXPIRED);
}

Test(sign_check, token_of_one_title_refused_on_another)
{
    load_keys(KEY);
    expect("/b.mp4/master.m3u8?token=" TOK_A, NOW, PC_SIGN_PATH_MISMATCH);
    /* the prefix is "/a.mp4/", not "/a.mp4": a longer title is another title */
    expect("/a.mp4x/master.m3u8?token=" TOK_A, NOW, PC_SIGN_PATH_MISMATCH);
    expect("/x/a.mp4/master.m3u8?token=" TOK_A, NOW, PC_SIGN_PATH_MISMATCH);
    expect("/a.mp4?token=" TOK_A, NOW, PC_SIGN_PATH_MISMATCH);
}

Test(sign_check, exact_acl_opens_one_path_only)
{
    load_keys(KEY);
    expect("/a.mp4/master.m3u8?token=" TOK_EXACT, NOW, PC_SIGN_OK);
    expect("/a.mp4/0.m3u8?token=" TOK_EXACT, NOW, PC_SIGN_PATH_MISMATCH);
    expect("/a.mp4/master.m3u8x?token=" TOK_EXACT, NOW, PC_SIGN_PATH_MISMATCH);
}

Test(sign_check, paths_compare_decoded)
{
    load_keys(KEY);
    /* the acl says %20 and %C3%A9; the path may spell them any way the
     * router reads as the same title */
    expect("/sub/My%20Movie%20%C3%A9.mp4/master.m3u8?token=" TOK_MOVIE, NOW, PC_SIGN_OK);
    expect("/sub/My%20Movie%20%c3%a9.mp4/master.m3u8?token=" TOK_MOVIE, NOW, PC_SIGN_OK);
    expect("/%73ub/My%20Movie%20%C3%A9.mp4/master.m3u8?token=" TOK_MOVIE, NOW, PC_SIGN_OK);
    expect("/sub/My%20Movie%20e.mp4/master.m3u8?token=" TOK_MOVIE, NOW, PC_SIGN_PATH_MISMATCH);
    /* an encoded '/' is never the acl's '/' */
    expect("/sub%2FMy%20Movie%20%C3%A9.mp4/master.m3u8?token=" TOK_MOVIE, NOW,
           PC_SIGN_PATH_MISMATCH);
    expect("/a.mp4%2Fmaster.m3u8?token=" TOK_EXACT, NOW, PC_SIGN_PATH_MISMATCH);
}

/* Flip one character of TOK_A at @p pos (to another one of the same
 * class, so the token stays well formed) and check at "/a.mp4/...". */
static enum pc_sign_result tampered(size_t pos, char c)
{
    char t[256], target[300];
    snprintf(t, sizeof t, "%s", TOK_A);
    t[pos] = c;
    snprintf(target, sizeof target, "/a.mp4/master.m3u8?token=%s", t);
    return check_at(target, NOW);
}

Test(sign_check, any_changed_byte_is_a_bad_signature)
{
    load_keys(KEY);
    const char *h = strstr(TOK_A, "hmac=") + 5;
    size_t h0 = (size_t)(h - TOK_A);
    /* every hex digit of the HMAC */
    for (size_t i = h0; i < strlen(TOK_A); i++) {
        char c = TOK_A[i] == '0' ? '1' : '0';
        cr_assert_eq(tampered(i, c), PC_SIGN_BAD_SIGNATURE, "hmac digit %zu", i - h0);
    }
    /* the expiry pushed later: exp=3000000000 */
    cr_assert_eq(tampered(4, '3'), PC_SIGN_BAD_SIGNATURE, "exp changed");
    /* the acl moved to another title, a.mp4 -> b.mp4 (used on /b.mp4) */
    char target[300];
    snprintf(target, sizeof target, "/b.mp4/master.m3u8?token=%s", TOK_A);
    target[strlen("/b.mp4/master.m3u8?token=exp=2000000000~acl=/")] = 'b';
    expect(target, NOW, PC_SIGN_BAD_SIGNATURE);
    /* and widened to everything */
    expect("/b.mp4/master.m3u8?token=exp=2000000000~acl=/*~hmac="
           "5e1057d35a1da05c8d4ac3cbbc1aec864f191632017f801ef7439607a3fccf47", NOW,
           PC_SIGN_BAD_SIGNATURE);
}

Test(sign_check, another_secret_is_a_bad_signature)
{
    load_keys(KEY2);
    expect("/a.mp4/master.m3u8?token=" TOK_A, NOW, PC_SIGN_BAD_SIGNATURE);
    load_keys(KEY);
    expect("/a.mp4/master.m3u8?token=" TOK_A_KEY2, NOW, PC_SIGN_BAD_SIGNATURE);
}

Test(sign_check, every_key_of_the_file_verifies)
{
    load_keys(KEY2 "\n" KEY "\n");
    expect("/a.mp4/master.m3u8?token=" TOK_A, NOW, PC_SIGN_OK);
    expect("/a.mp4/master.m3u8?token=" TOK_A_KEY2, NOW, PC_SIGN_OK);
}

Test(sign_check, an_unsigned_check_is_never_authentic)
{
    /* no keys at all: nothing verifies */
    memset(&keys, 0, sizeof keys);
    expect("/a.mp4/master.m3u8?token=" TOK_A, NOW, PC_SIGN_BAD_SIGNATURE);
}

Test(sign_check, missing_token)
{
    load_keys(KEY);
    expect("/a.mp4/master.m3u8", NOW, PC_SIGN_MISSING);
    expect("/a.mp4/master.m3u8?", NOW, PC_SIGN_MISSING);
    expect("/a.mp4/master.m3u8?x=1&tokens=" TOK_A, NOW, PC_SIGN_MISSING);
    expect("/a.mp4/master.m3u8?xtoken=" TOK_A, NOW, PC_SIGN_MISSING);
    /* "token" in the path is not a query */
    expect("/token=" TOK_A "/master.m3u8", NOW, PC_SIGN_MISSING);
}

Test(sign_check, other_query_parameters_are_ignored)
{
    load_keys(KEY);
    expect("/a.mp4/master.m3u8?cdn=1&token=" TOK_A "&t=2", NOW, PC_SIGN_OK);
    expect("/a.mp4/master.m3u8?token=" TOK_A "&", NOW, PC_SIGN_OK);
}

Test(sign_check, malformed_tokens)
{
    load_keys(KEY);
    static const char *const bad[] = {
        "",                                                     /* empty */
        "exp=2000000000~acl=/a.mp4/*",                          /* no hmac */
        "acl=/a.mp4/*~exp=2000000000~hmac=5e1057d35a1da05c8d4ac3cbbc1aec864f191632017f801ef7439607a3fccf47",
        "exp=~acl=/a.mp4/*~hmac=5e1057d35a1da05c8d4ac3cbbc1aec864f191632017f801ef7439607a3fccf47",
        "exp=02000000000~acl=/a.mp4/*~hmac=5e1057d35a1da05c8d4ac3cbbc1aec864f191632017f801ef7439607a3fccf47",
        "exp=-1~acl=/a.mp4/*~hmac=5e1057d35a1da05c8d4ac3cbbc1aec864f191632017f801ef7439607a3fccf47",
        "exp=99999999999999999999~acl=/a.mp4/*~hmac=5e1057d35a1da05c8d4ac3cbbc1aec864f191632017f801ef7439607a3fccf47",
        "exp=2000000000~acl=a.mp4/*~hmac=5e1057d35a1da05c8d4ac3cbbc1aec864f191632017f801ef7439607a3fccf47",
        "exp=2000000000~acl=~hmac=5e1057d35a1da05c8d4ac3cbbc1aec864f191632017f801ef7439607a3fccf47",
        "exp=2000000000~acl=/*/a.mp4~hmac=5e1057d35a1da05c8d4ac3cbbc1aec864f191632017f801ef7439607a3fccf47",
        "exp=2000000000~acl=/a%2Fb/*~hmac=5e1057d35a1da05c8d4ac3cbbc1aec864f191632017f801ef7439607a3fccf47",
        "exp=2000000000~acl=/a%00/*~hmac=5e1057d35a1da05c8d4ac3cbbc1aec864f191632017f801ef7439607a3fccf47",
        "exp=2000000000~acl=/a%2/*~hmac=5e1057d35a1da05c8d4ac3cbbc1aec864f191632017f801ef7439607a3fccf47",
        "exp=2000000000~acl=/a$b/*~hmac=5e1057d35a1da05c8d4ac3cbbc1aec864f191632017f801ef7439607a3fccf47",
        "exp=2000000000~acl=/a\"b/*~hmac=5e1057d35a1da05c8d4ac3cbbc1aec864f191632017f801ef7439607a3fccf47",
        "exp=2000000000~acl=/a.mp4/*~hmac=5E1057D35A1DA05C8D4AC3CBBC1AEC864F191632017F801EF7439607A3FCCF47",
        "exp=2000000000~acl=/a.mp4/*~hmac=5e1057d35a1da05c8d4ac3cbbc1aec864f191632017f801ef7439607a3fccf4",
        "exp=2000000000~acl=/a.mp4/*~hmac=5e1057d35a1da05c8d4ac3cbbc1aec864f191632017f801ef7439607a3fccf477",
        "exp=2000000000~acl=/a.mp4/*~hmac=5e1057d35a1da05c8d4ac3cbbc1aec864f191632017f801ef7439607a3fccf47~x=1",
        "exp=2000000000~st=1~acl=/a.mp4/*~hmac=5e1057d35a1da05c8d4ac3cbbc1aec864f191632017f801ef7439607a3fccf47",
        /* a client that re-encoded the query */
        "exp%3D2000000000%7Eacl%3D%2Fa.mp4%2F%2A%7Ehmac%3D5e1057d35a1da05c8d4ac3cbbc1aec864f191632017f801ef7439607a3fccf47",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char target[512];
        snprintf(target, sizeof target, "/a.mp4/master.m3u8?token=%s", bad[i]);
        expect(target, NOW, PC_SIGN_MALFORMED);
    }
    expect("/a.mp4/master.m3u8?token", NOW, PC_SIGN_MALFORMED);
    /* two tokens, even the same one twice */
    expect("/a.mp4/master.m3u8?token=" TOK_A "&token=" TOK_A, NOW, PC_SIGN_MALFORMED);
}

/* ------------------------------------------------------------------ make */

Test(sign_make, makes_the_token_python_makes)
{
    load_keys(KEY "\n" KEY2 "\n");     /* the first key signs */
    char out[512];
    const char *why;
    long n = pc_sign_make(&keys, "/a.mp4/*", EXP, out, sizeof out, &why);
    cr_assert_eq(n, (long)strlen(TOK_A), "%s", why);
    cr_assert_str_eq(out, TOK_A);
}

Test(sign_make, encodes_what_a_token_cannot_hold_and_keeps_escapes)
{
    load_keys(KEY);
    char out[512];
    const char *why;
    cr_assert_gt(pc_sign_make(&keys, "/sub/My Movie \xc3\xa9.mp4/*", EXP, out, sizeof out, &why), 0);
    cr_assert_str_eq(out, TOK_MOVIE);
    cr_assert_gt(pc_sign_make(&keys, "/sub/My%20Movie%20%C3%A9.mp4/*", EXP, out, sizeof out, &why), 0);
    cr_assert_str_eq(out, TOK_MOVIE);
    /* '~', '$', '&', a '*' before the end and a lone '%' are escaped */
    cr_assert_gt(pc_sign_make(&keys, "/a~b$c&d*e%zz/*", EXP, out, sizeof out, &why), 0);
    cr_assert_neq(strstr(out, "acl=/a%7Eb%24c%26d%2Ae%25zz/*~"), NULL, "%s", out);
    char target[600];
    snprintf(target, sizeof target, "/a~b$c&d*e%%25zz/x.m4s?token=%s", out);
    /* '&' in the path is fine: the path ends at '?' */
    expect(target, NOW, PC_SIGN_OK);
}

Test(sign_make, refuses_what_is_not_a_path)
{
    load_keys(KEY);
    char out[512];
    const char *why;
    cr_assert_eq(pc_sign_make(&keys, "a.mp4/*", EXP, out, sizeof out, &why), PC_EINVAL);
    cr_assert_eq(pc_sign_make(&keys, "/a%2Fb/*", EXP, out, sizeof out, &why), PC_EINVAL);
    cr_assert_eq(pc_sign_make(&keys, "/a\nb/*", EXP, out, sizeof out, &why), PC_EINVAL);
    cr_assert_eq(pc_sign_make(&keys, "/a.mp4/*", EXP, out, 20, &why), PC_ETOOBIG);
    struct pc_sign_keys none = {0};
    cr_assert_eq(pc_sign_make(&none, "/a.mp4/*", EXP, out, sizeof out, &why), PC_EINVAL);
}

/* ----------------------------------------------------------- propagation */

static char *signed_text(const char *text, enum pc_sign_manifest_kind kind)
{
    size_t len = 0;
    char *s = pc_sign_manifest(text, strlen(text), kind, "T", 1, &len);
    cr_assert_not_null(s);
    cr_assert_eq(len, strlen(s));
    return s;
}

Test(sign_manifest, hls_master_every_uri_gets_the_token)
{
    const char *in =
        "#EXTM3U\n"
        "#EXT-X-VERSION:7\n"
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud-aac\",NAME=\"x,URI=\",LANGUAGE=\"en\",URI=\"3.m3u8\"\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.64001e,mp4a.40.2\",AUDIO=\"aud-aac\"\n"
        "0.m3u8\n"
        "# a comment URI=\"x\"\n"
        "\n"
        "1.m3u8?a=b\r\n";
    char *s = signed_text(in, PC_SIGN_HLS);
    cr_assert_str_eq(s,
        "#EXTM3U\n"
        "#EXT-X-VERSION:7\n"
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud-aac\",NAME=\"x,URI=\",LANGUAGE=\"en\",URI=\"3.m3u8?token=T\"\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.64001e,mp4a.40.2\",AUDIO=\"aud-aac\"\n"
        "0.m3u8?token=T\n"
        "# a comment URI=\"x\"\n"
        "\n"
        "1.m3u8?a=b&token=T\r\n");
    free(s);
}

Test(sign_manifest, hls_media_map_and_segments_get_the_token)
{
    const char *in =
        "#EXTM3U\n"
        "#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-MAP:URI=\"00c0ffee00c0ffee/3/init.mp4\"\n"
        "#EXTINF:2.026667,\n"
        "00c0ffee00c0ffee/3/1.m4s\n"
        "#EXTINF:2.005333,\n"
        "00c0ffee00c0ffee/3/2.m4s\n"
        "#EXT-X-ENDLIST\n";
    char *s = signed_text(in, PC_SIGN_HLS);
    cr_assert_str_eq(s,
        "#EXTM3U\n"
        "#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-MAP:URI=\"00c0ffee00c0ffee/3/init.mp4?token=T\"\n"
        "#EXTINF:2.026667,\n"
        "00c0ffee00c0ffee/3/1.m4s?token=T\n"
        "#EXTINF:2.005333,\n"
        "00c0ffee00c0ffee/3/2.m4s?token=T\n"
        "#EXT-X-ENDLIST\n");
    free(s);
}

Test(sign_manifest, mpd_templates_get_the_token_and_nothing_else_changes)
{
    const char *in =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" media=\"any-element.m4s\">\n"
        "  <!-- media=\"x\" in a comment -->\n"
        "  <Label>a media=\"b\" &amp; c</Label>\n"
        "  <Representation id=\"0\" codecs='avc1.64001e' label=\"q media=\">\n"
        "    <SegmentTemplate timescale=\"90000\" initialization=\"00c0ffee00c0ffee/$RepresentationID$/init.mp4\""
        " media = '00c0ffee00c0ffee/$RepresentationID$/$Number$.m4s' startNumber=\"1\"/>\n"
        "  </Representation>\n"
        "</MPD>\n";
    char *s = signed_text(in, PC_SIGN_MPD);
    cr_assert_str_eq(s,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" media=\"any-element.m4s?token=T\">\n"
        "  <!-- media=\"x\" in a comment -->\n"
        "  <Label>a media=\"b\" &amp; c</Label>\n"
        "  <Representation id=\"0\" codecs='avc1.64001e' label=\"q media=\">\n"
        "    <SegmentTemplate timescale=\"90000\" initialization=\"00c0ffee00c0ffee/$RepresentationID$/init.mp4?token=T\""
        " media = '00c0ffee00c0ffee/$RepresentationID$/$Number$.m4s?token=T' startNumber=\"1\"/>\n"
        "  </Representation>\n"
        "</MPD>\n");
    free(s);
}

Test(sign_manifest, reads_nothing_past_the_text)
{
    /* No NUL after the text: under ASan a read past it is an error.  An
     * attribute list whose last value is empty ends the text. */
    static const char *const ends[] = { "#EXT-X-MAP:URI=", "#EXT-X-MAP:URI=\"a", "x.m4s\r",
                                        "<A media=", "<A media=\"x", "<!-- x" };
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        size_t n = strlen(ends[i]);
        char *in = malloc(n);
        memcpy(in, ends[i], n);
        size_t len;
        char *out = pc_sign_manifest(in, n, ends[i][0] == '<' ? PC_SIGN_MPD : PC_SIGN_HLS,
                                     "T", 1, &len);
        cr_assert_not_null(out);
        free(out);
        free(in);
    }
}

Test(sign_manifest, a_real_token_goes_in_unchanged)
{
    char *s = pc_sign_manifest("0.m3u8\n", 7, PC_SIGN_HLS, TOK_MOVIE, strlen(TOK_MOVIE), NULL);
    cr_assert_str_eq(s, "0.m3u8?token=" TOK_MOVIE "\n");
    free(s);
}
