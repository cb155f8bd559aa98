/*
 * Fuzz target: Range, conditional headers and HTTP-dates.  The input is
 * split at NUL bytes into the header values of one request; the decision
 * must be one of the outcomes and a range must lie inside the object.
 */
#include "http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    const char *field[6] = {0};
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= size && k < 6; i++)
        if (buf[i] == 0) {
            field[k++] = buf + start;
            start = i + 1;
        }
    uint64_t sizes[] = { 0, 1, 1000, UINT64_MAX };
    int64_t t;
    (void)pc_http_date_parse(buf, strlen(buf), 1800000000, &t);
    (void)pc_http_etag_match(buf, "\"0123456789abcdef-1-2\"", 1);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        struct pc_range rg;
        if (pc_http_range_parse(field[0], sizes[s], &rg) == PC_RANGE_PARTIAL &&
            (rg.length == 0 || rg.start >= sizes[s] || rg.length > sizes[s] - rg.start))
            __builtin_trap();
        struct pc_http_request rq = {
            .is_get = 1, .range = field[0], .if_range = field[1], .if_none_match = field[2],
            .if_modified_since = field[3], .if_match = field[4], .if_unmodified_since = field[5],
        };
        struct pc_http_object_info obj = { "\"0123456789abcdef-1-2\"", 1700000000, sizes[s] };
        enum pc_http_outcome o = pc_http_evaluate(&rq, &obj, 1800000000, &rg);
        if (o == PC_HTTP_SEND_PARTIAL &&
            (rg.length == 0 || rg.start >= sizes[s] || rg.length > sizes[s] - rg.start))
            __builtin_trap();
    }
    free(buf);
    return 0;
}
