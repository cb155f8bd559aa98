/*
 * Fuzz target: bundle validation on raw bytes.  The input is a bundle's
 * first bytes; its "file size" is the input's own size, so every offset and
 * length check runs against a hostile header and tables.
 */
#include "pagecast/bundle.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    (void)pc_bundle_index_size(data, size);
    if (pc_bundle_validate(data, size, size, err, sizeof err) == 0) {
        /* A valid index must be safe to walk with the public accessors. */
        const struct pc_bundle_header *h = (const void *)data;
        const struct pc_track_record *tr = (const void *)(data + h->track_table_offset);
        const struct pc_segment_record *seg = (const void *)(data + h->segment_table_offset);
        uint64_t sum = 0;
        for (uint32_t t = 0; t < h->track_count; t++)
            for (uint64_t k = 0; k < tr[t].segment_count; k++)
                sum += seg[tr[t].segment_first + k].size;
        (void)sum;
    } else if (!memchr(err, 0, sizeof err)) {
        __builtin_trap();   /* the reason must be a terminated string */
    }
    return 0;
}
