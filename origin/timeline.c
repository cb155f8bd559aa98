/*
 * The one timing model both manifest writers format: a track's segments as
 * runs of equal consecutive durations, computed once from the mmapped index
 * (as nginx-vod-module's segment_durations_t).  A run is exactly a DASH
 * SegmentTimeline S element (ISO/IEC 23009-1 5.3.9.6: t, d, r = count - 1)
 * and a stretch of identical EXTINF lines in HLS, so neither writer looks at
 * segment records again and both agree by construction.
 */
#include "manifest.h"

#include "pagecast/status.h"

#include <stdlib.h>
#include <string.h>

/* Does segment @p s continue the run @p r (same duration, starts where the
 * run ends, and the run's count has room)? */
static int continues(const struct pc_run *r, const struct pc_segment_record *s)
{
    return s->duration == r->duration && r->count < UINT32_MAX &&
           s->start == r->start + (uint64_t)r->duration * r->count;
}

/* One pass over @p segs that counts runs and, when @p runs is not NULL,
 * fills them.  The same function measures and fills, so the count that sized
 * the array is the count that fills it. */
static size_t scan(const struct pc_segment_record *segs, uint64_t n, struct pc_run *runs)
{
    struct pc_run cur = {0};
    size_t n_runs = 0;

    for (uint64_t k = 0; k < n; k++) {
        if (k && continues(&cur, &segs[k])) {
            cur.count++;
            continue;
        }
        if (k && runs)
            runs[n_runs - 1] = cur;
        cur = (struct pc_run){ .first = k, .start = segs[k].start,
                               .duration = segs[k].duration, .count = 1 };
        n_runs++;
    }
    if (n_runs && runs)
        runs[n_runs - 1] = cur;
    return n_runs;
}

int pc_timeline_build(const struct pc_bundle *b, unsigned t, struct pc_timeline *out)
{
    memset(out, 0, sizeof *out);
    if (!b || !b->hdr || t >= b->hdr->track_count)
        return PC_EINVAL;

    uint64_t n;
    const struct pc_segment_record *segs = pc_bundle_track_segments(b, t, &n);
    out->timescale = b->tracks[t].timescale;
    out->segments = n;
    if (n == 0)
        return 0;

    size_t n_runs = scan(segs, n, NULL);
    struct pc_run *runs = calloc(n_runs, sizeof *runs);
    if (!runs)
        return PC_ENOMEM;
    scan(segs, n, runs);

    uint32_t max = 0;
    for (size_t i = 0; i < n_runs; i++)
        if (runs[i].duration > max)
            max = runs[i].duration;

    const struct pc_run *last = &runs[n_runs - 1];
    out->start = runs[0].start;
    /* The validator checked that start + duration cannot overflow. */
    out->end = last->start + (uint64_t)last->duration * last->count;
    out->max_duration = max;
    out->n_runs = n_runs;
    out->runs = runs;
    return 0;
}

void pc_timeline_free(struct pc_timeline *tl)
{
    if (!tl)
        return;
    free(tl->runs);
    memset(tl, 0, sizeof *tl);
}
