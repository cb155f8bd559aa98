/*
 * Fuzz target: request header field checks (origin/fields.c).  The first
 * byte picks HTTP/1.0 or 1.1; the rest is split into lines at '\n' and each
 * line at its first ':' into a name and a value.  Whatever the fields, an
 * accepted request must have one unambiguous framing (at most one Host and,
 * for 1.1, exactly one; at most one Content-Length of digits; chunked only
 * alone, exactly, on 1.1, without Content-Length), every name a token, and
 * a refusal must fit its buffer.
 */
#include "fields.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int minor = data[0] & 1;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    struct pc_fields f;
    pc_fields_init(&f);
    int names_ok = 1;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && s[j] != '\n')
            j++;
        size_t c = i;
        while (c < j && s[c] != ':')
            c++;
        const char *name = s + i;
        size_t nl = c - i;
        const char *value = c < j ? s + c + 1 : s + j;
        size_t vl = c < j ? j - c - 1 : 0;
        pc_fields_add(&f, name, nl, value, vl);
        for (size_t k = 0; k < nl; k++)
            names_ok &= tchar((unsigned char)name[k]) != 0;
        names_ok &= nl > 0;
        i = j + 1;
    }
    int r = pc_fields_finish(&f, minor);
    if (r != 0 && r != PC_EBADREQUEST && r != PC_ENOTIMPL)
        __builtin_trap();
    if (r != 0 && !f.reason)
        __builtin_trap();
    if (r == 0) {
        const unsigned *k = f.count;
        if (!names_ok || k[PC_FIELD_HOST] > 1 || (minor && k[PC_FIELD_HOST] != 1) ||
            k[PC_FIELD_CONTENT_LENGTH] > 1)
            __builtin_trap();
        if (k[PC_FIELD_TRANSFER_ENCODING] &&
            (k[PC_FIELD_TRANSFER_ENCODING] != 1 || k[PC_FIELD_CONTENT_LENGTH] || !minor ||
             !f.te.exact))
            __builtin_trap();
    } else {
        char buf[640];
        if (pc_fields_refusal(buf, sizeof buf, r, f.reason, 1700000000, 1) == 0)
            __builtin_trap();
    }
    return 0;
}
