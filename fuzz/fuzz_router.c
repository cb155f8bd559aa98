/*
 * Fuzz target: the URL router and path normaliser on raw request targets.
 * Whatever comes in, a parsed title must be relative, NUL-terminated and
 * free of "." / ".." segments, empty segments and hidden names.
 */
#include "router.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pc_route r;
    if (pc_route_parse((const char *)data, size, &r) != 0 || r.kind > PC_ROUTE_SEGMENT ||
        r.kind == PC_ROUTE_NOT_FOUND)
        return 0;
    if (r.title_len != strlen(r.title) || r.title_len == 0)
        __builtin_trap();
    const char *seg = r.title;
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n == 0 || seg[0] == '.')
            __builtin_trap();           /* empty, ".", ".." or hidden */
        if (!end)
            break;
        seg = end + 1;
    }
    return 0;
}
