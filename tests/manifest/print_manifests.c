/*
 * print-manifests: write one manifest of a bundle to stdout, through the
 * same cache the origin serves from.  A tool for the Python tests beside it.
 *
 *   print-manifests BUNDLE master        HLS multivariant playlist
 *   print-manifests BUNDLE media N       HLS media playlist of track N
 *   print-manifests BUNDLE mpd           DASH MPD
 *
 * Exit status: 0, 1 on failure (a line on stderr), 2 on usage error.
 */
#include "manifest.h"

#include "pagecast/bundle.h"
#include "pagecast/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fputs("usage: print-manifests BUNDLE master|mpd|media N\n", stderr);
    return 2;
}

int main(int argc, char **argv)
{
    enum pc_manifest_kind kind;
    unsigned track = 0;

    if (argc == 3 && strcmp(argv[2], "master") == 0) {
        kind = PC_MANIFEST_HLS_MASTER;
    } else if (argc == 3 && strcmp(argv[2], "mpd") == 0) {
        kind = PC_MANIFEST_DASH;
    } else if (argc == 4 && strcmp(argv[2], "media") == 0) {
        char *end;
        unsigned long v = strtoul(argv[3], &end, 10);
        if (!*argv[3] || *end || v > 0xffffffffu)
            return usage();
        kind = PC_MANIFEST_HLS_MEDIA;
        track = (unsigned)v;
    } else {
        return usage();
    }

    struct pc_bundle b;
    char err[256];
    int r = pc_bundle_open(&b, argv[1], err, sizeof err);
    if (r < 0) {
        fprintf(stderr, "print-manifests: %s: %s\n", argv[1], err);
        return 1;
    }
    struct pc_manifest_cache *mc = pc_manifest_cache_new(&b);
    if (!mc) {
        fprintf(stderr, "print-manifests: %s: cannot make the manifests\n", argv[1]);
        pc_bundle_close(&b);
        return 1;
    }
    size_t len;
    const char *text = pc_manifest_get(mc, kind, track, &len);
    int rc = 0;
    if (!text) {
        fprintf(stderr, "print-manifests: %s: no such manifest\n", argv[1]);
        rc = 1;
    } else if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
        fprintf(stderr, "print-manifests: write error\n");
        rc = 1;
    }
    pc_manifest_cache_free(mc);
    pc_bundle_close(&b);
    return rc;
}
