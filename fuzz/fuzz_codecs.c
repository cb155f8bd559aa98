/*
 * Fuzz target: codec strings from an untrusted init segment.
 */
#include "pagecast/codecs.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[64];
    if (pc_codecs_from_init(data, size, out, sizeof out) == 0 && !memchr(out, 0, sizeof out))
        __builtin_trap();
    if (size >= 4) {
        char small[8];
        (void)pc_codecs_from_config((const char *)data, data + 4, size - 4, small, sizeof small);
    }
    return 0;
}
