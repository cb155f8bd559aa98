/*
 * Request header field checks (fields.h): the RFC 9112 framing and Host
 * rules libmicrohttpd 0.9.75 leaves to the application.
 */
#include "fields.h"

#include "http.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Lower-case names, indexed by enum pc_field; the length is compared
 * first, so an unknown field costs a few integer compares. */
#define NAME(s) { s, sizeof s - 1 }
static const struct {
    const char *lc;
    size_t len;
} field_names[PC_FIELD__COUNT] = {
    [PC_FIELD_HOST] = NAME("host"),
    [PC_FIELD_CONTENT_LENGTH] = NAME("content-length"),
    [PC_FIELD_TRANSFER_ENCODING] = NAME("transfer-encoding"),
    [PC_FIELD_RANGE] = NAME("range"),
    [PC_FIELD_IF_RANGE] = NAME("if-range"),
    [PC_FIELD_IF_MATCH] = NAME("if-match"),
    [PC_FIELD_IF_NONE_MATCH] = NAME("if-none-match"),
    [PC_FIELD_IF_MODIFIED_SINCE] = NAME("if-modified-since"),
    [PC_FIELD_IF_UNMODIFIED_SINCE] = NAME("if-unmodified-since"),
};
#undef NAME

/* A Content-Length of 18 digits is 10^18 - 1 bytes: beyond any object, and
 * it cannot overflow anyone's 64-bit arithmetic. */
#define CONTENT_LENGTH_DIGITS_MAX 18

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Does @p s (@p n bytes) equal the lower-case @p lc, ignoring ASCII case? */
static bool eq_caseless(const char *s, size_t n, const char *lc)
{
    size_t m = strlen(lc);
    if (n != m)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(s[i]) != lc[i])
            return false;
    return true;
}

/* ... or does @p s start with @p lc and go on? */
static bool longer_with_prefix(const char *s, size_t n, const char *lc)
{
    size_t m = strlen(lc);
    if (n <= m)
        return false;
    for (size_t i = 0; i < m; i++)
        if (lower(s[i]) != lc[i])
            return false;
    return true;
}

/* tchar (RFC 9110 5.6.2) */
static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)s[i]))
            return false;
    return true;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *n)
{
    while (*n && is_ows((*s)[0])) {
        (*s)++;
        (*n)--;
    }
    while (*n && is_ows((*s)[*n - 1]))
        (*n)--;
}

/* uri-host [":" port] (RFC 3986 3.2.2): reg-name, IPv4 and IP-literal
 * characters only.  Empty is valid (RFC 9112 3.2). */
static bool valid_host(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (c && strchr("-._~%!$&'()*+,;=:[]", c) != NULL);
        if (!ok)
            return false;
    }
    return true;
}

static void refuse(struct pc_fields *f, int status, const char *reason)
{
    if (!f->status) {
        f->status = status;
        f->reason = reason;
    }
}

/* One Transfer-Encoding line: a comma list of codings, each a token with
 * optional ";param" (RFC 9112 7; empty list elements are allowed, RFC 9110
 * 5.6.1). */
static void add_te(struct pc_fields_te *te, const char *v, size_t n, bool first_line)
{
    /* libmicrohttpd frames a body as chunked only for this exact value. */
    te->exact = first_line && eq_caseless(v, n, "chunked");
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && v[j] != ',')
            j++;
        const char *e = v + i;
        size_t el = j - i;
        trim(&e, &el);
        if (el) {
            size_t cl = 0;
            while (cl < el && e[cl] != ';')
                cl++;
            const char *c = e;
            size_t cn = cl;
            trim(&c, &cn);
            if (!is_token(c, cn))
                te->invalid = 1;
            te->codings++;
            te->last_is_chunked = eq_caseless(c, cn, "chunked");
            te->chunked += (unsigned)te->last_is_chunked;
        }
        i = j + 1;
    }
}

void pc_fields_init(struct pc_fields *f)
{
    memset(f, 0, sizeof *f);
}

void pc_fields_add(struct pc_fields *f, const char *name, size_t nlen, const char *value,
                   size_t vlen)
{
    int known = -1;
    for (int k = 0; k < PC_FIELD__COUNT; k++)
        if (nlen == field_names[k].len && eq_caseless(name, nlen, field_names[k].lc)) {
            known = k;
            break;
        }
    if (known >= 0)
        f->count[known]++;
    if (f->status)
        return;

    if (!is_token(name, nlen)) {
        refuse(f, PC_EBADREQUEST, nlen && is_ows(name[nlen - 1])
                                 ? "whitespace between a field name and its colon"
                                 : "a field name that is not a token");
        return;
    }
    if (known < 0 && (longer_with_prefix(name, nlen, "content-length") ||
                      longer_with_prefix(name, nlen, "transfer-encoding"))) {
        refuse(f, PC_EBADREQUEST, "a field name that continues Content-Length or Transfer-Encoding "
                             "(an obs-fold?)");
        return;
    }
    const char *raw = value;
    size_t raw_len = vlen;
    trim(&value, &vlen);
    /* RFC 9110 5.5: CR, LF and NUL are dangerous (a recipient MUST
     * refuse them or replace them); other control characters MAY be kept,
     * and are: a User-Agent with one is only ever logged, escaped. */
    for (size_t i = 0; i < vlen; i++) {
        char c = value[i];
        if (c == '\r' || c == '\n' || c == '\0') {
            refuse(f, PC_EBADREQUEST, "a CR, LF or NUL in a field value");
            return;
        }
    }
    switch (known) {
    case PC_FIELD_HOST:
        if (!valid_host(value, vlen))
            refuse(f, PC_EBADREQUEST, "an invalid Host");
        break;
    case PC_FIELD_CONTENT_LENGTH:
        if (vlen == 0 || vlen > CONTENT_LENGTH_DIGITS_MAX) {
            refuse(f, PC_EBADREQUEST, "an invalid Content-Length");
            break;
        }
        for (size_t i = 0; i < vlen; i++)
            if (value[i] < '0' || value[i] > '9') {
                refuse(f, PC_EBADREQUEST, "an invalid Content-Length");
                break;
            }
        break;
    case PC_FIELD_TRANSFER_ENCODING:
        add_te(&f->te, raw, raw_len, f->count[known] == 1);
        break;
    default:
        break;
    }
}

int pc_fields_finish(struct pc_fields *f, int http_minor)
{
    const unsigned *n = f->count;
    const struct pc_fields_te *te = &f->te;
    if (n[PC_FIELD_HOST] > 1)
        refuse(f, PC_EBADREQUEST, "more than one Host field");
    else if (http_minor >= 1 && n[PC_FIELD_HOST] == 0)
        refuse(f, PC_EBADREQUEST, "an HTTP/1.1 request without Host");
    if (n[PC_FIELD_CONTENT_LENGTH] > 1)
        refuse(f, PC_EBADREQUEST, "more than one Content-Length field");
    if (n[PC_FIELD_TRANSFER_ENCODING]) {
        if (http_minor < 1)
            refuse(f, PC_EBADREQUEST, "Transfer-Encoding in an HTTP/1.0 request");
        else if (n[PC_FIELD_CONTENT_LENGTH])
            refuse(f, PC_EBADREQUEST, "both Transfer-Encoding and Content-Length");
        else if (te->invalid || !te->last_is_chunked)
            refuse(f, PC_EBADREQUEST, "a Transfer-Encoding whose final coding is not chunked");
        else if (te->chunked > 1)
            refuse(f, PC_EBADREQUEST, "chunked applied more than once");
        else if (te->codings > 1 || !te->exact || n[PC_FIELD_TRANSFER_ENCODING] > 1)
            refuse(f, PC_ENOTIMPL, "a Transfer-Encoding other than exactly \"chunked\"");
    }
    return f->status;
}

unsigned pc_fields_repeated(const struct pc_fields *f)
{
    unsigned bits = 0;
    for (int k = 0; k < PC_FIELD__COUNT; k++)
        if (f->count[k] > 1)
            bits |= 1u << k;
    return bits;
}

size_t pc_fields_refusal(char *out, size_t cap, int status, const char *reason, int64_t now,
                         int with_body)
{
    int code = pc_status_http(status);
    const char *phrase = code == 501 ? "Not Implemented" : "Bad Request";
    char date[PC_HTTP_DATE_LEN];
    pc_http_date_format(now, date);
    char body[256];
    int bn = snprintf(body, sizeof body, "%d %s: %s\n", code, pc_status_str(status),
                      reason ? reason : "malformed request");
    if (bn < 0 || (size_t)bn >= sizeof body)
        return 0;
    int n = snprintf(out, cap,
                     "HTTP/1.1 %d %s\r\n"
                     "Date: %s\r\n"
                     "Connection: close\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "Cache-Control: no-store\r\n"
                     "Content-Length: %d\r\n"
                     "\r\n"
                     "%s",
                     code, phrase, date, bn, with_body ? body : "");
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}
