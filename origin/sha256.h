/*
 * SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for signed URLs
 * (sign.h).  Pure: no I/O, no allocation, no global state.
 *
 * Written here rather than taken from libavutil (av_hmac) so that the token
 * check links nothing but libc: the origin's request-side libraries depend
 * on no libav library, the fuzz target stays self-contained, and an HMAC key
 * is prepared once (both pads hashed at startup) and then shared read-only
 * by every serving thread, which av_hmac's one-context-per-use API does not
 * allow without a context per thread or a lock.  Checked against the FIPS
 * 180-4 examples and the RFC 4231 vectors (tests/unit/test_sign.c), and
 * against Python's hmac module by the http suite.
 */
#ifndef PC_SHA256_H
#define PC_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define PC_SHA256_LEN 32            /* digest bytes */
#define PC_SHA256_BLOCK 64          /* block bytes */

struct pc_sha256 {
    uint32_t h[8];
    uint64_t bytes;                 /* message bytes so far */
    uint8_t buf[PC_SHA256_BLOCK];
    size_t n;                       /* bytes waiting in buf */
};

void pc_sha256_init(struct pc_sha256 *c);
void pc_sha256_update(struct pc_sha256 *c, const void *data, size_t len);
/** Finish and write the digest; @p c must be initialised again before reuse. */
void pc_sha256_final(struct pc_sha256 *c, uint8_t out[PC_SHA256_LEN]);
/** One call: the digest of @p len bytes at @p data. */
void pc_sha256(const void *data, size_t len, uint8_t out[PC_SHA256_LEN]);

/* An HMAC-SHA256 key with both pads already hashed: H(K ^ ipad) and
 * H(K ^ opad) as states after one block.  Read-only once made, so one key
 * serves any number of threads at once. */
struct pc_hmac_sha256_key {
    struct pc_sha256 inner, outer;
};

/** Prepare @p k from @p keylen bytes of @p key (any length; RFC 2104 hashes
 *  keys longer than a block).  The raw key is not kept. */
void pc_hmac_sha256_key(struct pc_hmac_sha256_key *k, const void *key, size_t keylen);

/** HMAC-SHA256 of @p len bytes at @p msg under @p k. */
void pc_hmac_sha256(const struct pc_hmac_sha256_key *k, const void *msg, size_t len,
                    uint8_t out[PC_SHA256_LEN]);

#endif
