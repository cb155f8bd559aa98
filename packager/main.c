/*
 * pagecast-pack: package media files into a bundle, check or dump a bundle.
 * A thin CLI over the packager library (include/pagecast/packager.h) and the
 * bundle reader (include/pagecast/bundle.h).
 *
 * Exit status: 0 success, 1 bad input or failure (one line on stderr:
 * "pagecast-pack: <path>: <reason>"), 2 usage error.
 */
#include "pagecast/bundle.h"
#include "pagecast/packager.h"
#include "pagecast/status.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: pagecast-pack [options] -o OUT INPUT...\n"
    "       pagecast-pack --check BUNDLE\n"
    "       pagecast-pack --dump BUNDLE\n"
    "\n"
    "Package one title (one or more INPUT files: renditions, audio languages)\n"
    "into the bundle OUT: CMAF fMP4 segments, page-aligned, with an index.\n"
    "\n"
    "  -o, --output OUT            bundle to write (atomically replaced)\n"
    "  -s, --segment-duration S    target segment duration in seconds (default 6)\n"
    "      --page-size N           blob alignment, a power of two >= 4096 (default 4096)\n"
    "  -q, --quiet                 no progress, no warnings\n"
    "  -v, --verbose               more detail (twice: libav's own messages)\n"
    "      --copy-samples          diagnostic: read every sample through libavformat,\n"
    "                              even where it is written straight from the source\n"
    "      --check BUNDLE          validate a bundle: exit 0 if valid, else say why\n"
    "      --dump BUNDLE           print a bundle's index as JSON\n"
    "  -h, --help                  this text\n"
    "  -V, --version               print the version\n";

struct cli {
    int verbosity;          /* -1 quiet, 0 default, 1 verbose, 2 debug */
    bool progress_shown;
    double last_progress;
    char **warnings;        /* held back: printed only if packaging succeeds */
    size_t n_warnings;
};

static int usage_error(const char *msg)
{
    fprintf(stderr, "pagecast-pack: %s\n%s", msg, "Try 'pagecast-pack --help'.\n");
    return 2;
}

static void clear_progress(struct cli *c)
{
    if (c->progress_shown) {
        fputs("\r\033[K", stderr);
        c->progress_shown = false;
    }
}

static void on_log(void *ud, enum pc_log_level level, const char *msg)
{
    struct cli *c = ud;
    if (level == PC_LOG_WARN && c->verbosity >= 0) {
        char **nw = realloc(c->warnings, (c->n_warnings + 1) * sizeof *nw);
        if (nw && (nw[c->n_warnings] = strdup(msg))) {
            c->warnings = nw;
            c->n_warnings++;
        } else if (nw) {
            c->warnings = nw;
        }
    } else if ((level == PC_LOG_INFO && c->verbosity >= 1) ||
               (level == PC_LOG_DEBUG && c->verbosity >= 2)) {
        clear_progress(c);
        fprintf(stderr, "pagecast-pack: %s\n", msg);
    }
}

static void on_progress(void *ud, double f)
{
    struct cli *c = ud;
    if (f - c->last_progress < 0.01 && f < 1.0)
        return;
    c->last_progress = f;
    fprintf(stderr, "\rpackaging %3d%%", (int)(f * 100.0 + 0.5));
    c->progress_shown = true;
}

static int check(const char *path)
{
    struct pc_bundle b;
    char err[512];
    int r = pc_bundle_open(&b, path, err, sizeof err);
    if (r < 0) {
        fprintf(stderr, "pagecast-pack: %s\n", err);   /* err names the path */
        return 1;
    }
    uint64_t segs = 0;
    for (unsigned t = 0; t < b.hdr->track_count; t++)
        segs += b.tracks[t].segment_count;
    printf("%s: valid pagecast bundle v%u, %u tracks, %llu segments, page size %u\n", path,
           b.hdr->version, b.hdr->track_count, (unsigned long long)segs, b.hdr->page_size);
    pc_bundle_close(&b);
    return 0;
}

static int dump(const char *path)
{
    struct pc_bundle b;
    char err[512];
    int r = pc_bundle_open(&b, path, err, sizeof err);
    if (r < 0) {
        fprintf(stderr, "pagecast-pack: %s\n", err);
        return 1;
    }
    r = pc_bundle_dump_json(&b, stdout);
    pc_bundle_close(&b);
    if (r < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "pagecast-pack: %s: cannot write JSON: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    enum { OPT_PAGE = 256, OPT_CHECK, OPT_DUMP, OPT_COPY };
    static const struct option longopts[] = {
        { "output", required_argument, NULL, 'o' },
        { "segment-duration", required_argument, NULL, 's' },
        { "page-size", required_argument, NULL, OPT_PAGE },
        { "quiet", no_argument, NULL, 'q' },
        { "verbose", no_argument, NULL, 'v' },
        { "copy-samples", no_argument, NULL, OPT_COPY },
        { "check", required_argument, NULL, OPT_CHECK },
        { "dump", required_argument, NULL, OPT_DUMP },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    struct cli c = {0};
    struct pc_pack_opts opts = { .log = on_log, .ud = &c };
    const char *out = NULL, *check_path = NULL, *dump_path = NULL;
    int ch;
    while ((ch = getopt_long(argc, argv, "o:s:qvhV", longopts, NULL)) != -1) {
        char *end;
        switch (ch) {
        case 'o': out = optarg; break;
        case 's': {
            errno = 0;
            double s = strtod(optarg, &end);
            if (errno || *end || !(s >= 0.5 && s <= 600.0))
                return usage_error("--segment-duration takes seconds between 0.5 and 600");
            opts.segment_ms = (uint32_t)llround(s * 1000.0);
            break;
        }
        case OPT_PAGE: {
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno || *end || v < 4096 || v > PC_BUNDLE_PAGE_SIZE_MAX || (v & (v - 1)))
                return usage_error("--page-size takes a power of two from 4096 to 1048576");
            opts.page_size = (uint32_t)v;
            break;
        }
        case 'q': c.verbosity = -1; break;
        case 'v': if (c.verbosity >= 0) c.verbosity++; break;
        case OPT_COPY: opts.copy_samples = true; break;
        case OPT_CHECK: check_path = optarg; break;
        case OPT_DUMP: dump_path = optarg; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'V': printf("pagecast-pack %s\n", PC_VERSION); return 0;
        default: return usage_error("unknown option");
        }
    }
    if (check_path || dump_path) {
        if ((check_path && dump_path) || out || optind != argc)
            return usage_error("--check and --dump take one bundle and nothing else");
        return check_path ? check(check_path) : dump(dump_path);
    }
    if (!out)
        return usage_error("no output bundle given (-o OUT)");
    if (optind >= argc)
        return usage_error("no input files given");
    if (c.verbosity >= 0 && isatty(STDERR_FILENO))
        opts.progress = on_progress;

    char err[1024];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int r = pc_pack(out, (const char *const *)&argv[optind], (unsigned)(argc - optind), &opts,
                    err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    clear_progress(&c);
    if (r == 0) {
        for (size_t i = 0; i < c.n_warnings; i++)
            fprintf(stderr, "pagecast-pack: warning: %s\n", c.warnings[i]);
        if (c.verbosity >= 1)
            fprintf(stderr, "pagecast-pack: wrote %s in %.3f s\n", out,
                    (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    } else {
        fprintf(stderr, "pagecast-pack: %s\n", err);
    }
    for (size_t i = 0; i < c.n_warnings; i++)
        free(c.warnings[i]);
    free(c.warnings);
    return r == 0 ? 0 : 1;
}
