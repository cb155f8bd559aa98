/*
 * A request's header fields checked before it is answered (RFC 9112,
 * RFC 9110 5): the checks libmicrohttpd 0.9.75 does not make, each of which
 * lets two HTTP parsers disagree about where a request ends (request
 * smuggling against a cache in front) or what it asks for.  Pure: field
 * names and values in, one verdict out; no I/O, no allocation, so every
 * rule is unit-tested (tests/unit/test_fields.c) and fuzzed
 * (fuzz/fuzz_fields.c).
 *
 * Refused with 400 (PC_EBADREQUEST), and the connection closed after it:
 *   - HTTP/1.1 without Host, more than one Host, or a Host value that is
 *     not uri-host [":" port]                              (RFC 9112 3.2)
 *   - a field name that is not a token: whitespace before the colon, an
 *     empty name, spaces or separators inside it          (RFC 9112 5.1)
 *   - a field value with a CR, LF or NUL (libmicrohttpd keeps a bare CR
 *     inside a value)                                     (RFC 9110 5.5)
 *   - Content-Length that is not 1*DIGIT, longer than 18 digits, or sent
 *     more than once (even twice the same)       (RFC 9112 6.3, 9110 8.6)
 *   - Transfer-Encoding together with Content-Length      (RFC 9112 6.1)
 *   - Transfer-Encoding in an HTTP/1.0 request            (RFC 9112 6.1)
 *   - Transfer-Encoding whose final coding is not chunked, or with chunked
 *     twice                                               (RFC 9112 6.3)
 *   - a field name that starts with "Content-Length" or
 *     "Transfer-Encoding" and goes on: libmicrohttpd 0.9.75 appends an
 *     obs-fold continuation line to the previous field's *name*, so
 *     "Transfer-Encoding:\r\n chunked" reaches us as a field named
 *     "Transfer-Encodingchunked"; a front end that unfolds it (RFC 9112 5.2
 *     lets it) frames the request differently from us.
 * Refused with 501 (PC_ENOTIMPL), and closed: a Transfer-Encoding that is
 * valid but is not exactly "chunked" (other codings such as "gzip,
 * chunked", parameters, whitespace): libmicrohttpd recognises only the
 * exact value "chunked" and would read any other as a body without end
 * (RFC 9112 6.1: SHOULD 501).
 *
 * Fields the origin reads that are sent more than once are reported
 * (pc_fields_repeated), so the caller can treat them as RFC 9110 5.3 says:
 * repeated lines form one comma-separated list, which for Range, If-Range
 * and the HTTP-date fields is not a valid value.
 */
#ifndef PC_FIELDS_H
#define PC_FIELDS_H

#include "pagecast/status.h"

#include <stddef.h>
#include <stdint.h>

/* The fields the checker knows by name. */
enum pc_field {
    PC_FIELD_HOST,
    PC_FIELD_CONTENT_LENGTH,
    PC_FIELD_TRANSFER_ENCODING,
    PC_FIELD_RANGE,
    PC_FIELD_IF_RANGE,
    PC_FIELD_IF_MATCH,
    PC_FIELD_IF_NONE_MATCH,
    PC_FIELD_IF_MODIFIED_SINCE,
    PC_FIELD_IF_UNMODIFIED_SINCE,
    PC_FIELD__COUNT
};

/* Transfer-Encoding, as far as the field lines so far go. */
struct pc_fields_te {
    unsigned codings;           /* non-empty list elements */
    unsigned chunked;           /* of which "chunked" */
    int last_is_chunked;        /* the final coding so far is chunked */
    int exact;                  /* one line, value exactly "chunked" (any case) */
    int invalid;                /* a list element that is not a coding */
};

/* The checker's state: initialise with pc_fields_init, feed every field
 * line in order, then pc_fields_finish.  Plain data; no cleanup. */
struct pc_fields {
    unsigned count[PC_FIELD__COUNT];    /* field lines seen, by name */
    struct pc_fields_te te;
    int status;                 /* first refusal found (0: none yet) */
    const char *reason;         /* static text naming it, or NULL */
};

void pc_fields_init(struct pc_fields *f);

/**
 * Feed one field line: @p name (@p nlen bytes, as received, without the
 * colon) and @p value (@p vlen bytes; leading and trailing whitespace is
 * not part of the value and is ignored).  Neither needs a NUL.  After the
 * first refusal further lines are only counted.
 */
void pc_fields_add(struct pc_fields *f, const char *name, size_t nlen, const char *value,
                   size_t vlen);

/**
 * The verdict once every line is fed.
 * @param http_minor  the request's HTTP/1.x minor version (0 or 1)
 * @return 0; PC_EBADREQUEST (400) or PC_ENOTIMPL (501) with f->reason set
 *         to a short static sentence (it never quotes the request).
 */
int pc_fields_finish(struct pc_fields *f, int http_minor);

/** A bit (1u << field) for each known field sent on more than one line. */
unsigned pc_fields_repeated(const struct pc_fields *f);

/**
 * Write the whole refusal for @p status (PC_EBADREQUEST or PC_ENOTIMPL):
 * status line, Date (@p now, seconds since the epoch), "Connection: close",
 * no-store, Content-Length, and the body "<code> <message>: <reason>\n"
 * (left out, Content-Length still saying its size, when @p with_body is 0:
 * the answer to HEAD).
 * @return the length written, or 0 if @p cap is too small.
 */
size_t pc_fields_refusal(char *out, size_t cap, int status, const char *reason, int64_t now,
                         int with_body);

#endif
