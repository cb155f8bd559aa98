/*
 * The catalog: which titles exist, where their bundles are, and keeping the
 * bundles up to date.  Knows nothing of HTTP.
 *
 * Titles.  Every media file under the media directory (recursively; hidden
 * entries and the store skipped) is a title named by its path relative to
 * that directory ("movies/a.mp4").  A directory whose name ends in ".title"
 * is one title made of all the media files inside it (a bitrate ladder,
 * audio in other languages), in name order.
 *
 * Bundles live in the store as "<title>.<stat-hash>.pcb": the name carries
 * the sources' stat fingerprint (include/pagecast/bundle.h), so deciding at
 * startup whether a bundle is current is one stat() per file, no reads.
 * Missing or stale bundles are packaged by background workers; a title is
 * served only from a complete, renamed bundle.
 */
#ifndef PC_CATALOG_H
#define PC_CATALOG_H

#include "pagecast/bundle.h"
#include "pagecast/packager.h"

#include <stdint.h>

struct pc_catalog;
struct pc_served;

struct pc_catalog_opts {
    const char *media_dir;
    const char *store_dir;
    unsigned workers;               /* packaging threads; 0: 1 */
    uint32_t segment_ms;            /* 0: 6000 */
    int watch;                      /* follow changes with inotify */
    /* optional log sink; one line per call, no newline */
    void (*log)(void *ud, enum pc_log_level level, const char *msg);
    void *ud;
};

/* Counters for /metrics; read without locks (relaxed), monotonic. */
struct pc_catalog_stats {
    uint64_t titles;                /* titles known now */
    uint64_t ready;                 /* titles with a current bundle */
    uint64_t jobs_done;             /* packaging jobs that succeeded */
    uint64_t jobs_failed;
    uint64_t jobs_queued;           /* waiting or running now */
};

/**
 * Scan the media directory (stat only) and start the workers.
 * @return 0, or a negative status with a one-line reason in @p err.
 * On success the caller owns *@p out and must pc_catalog_close() it.
 */
int pc_catalog_open(struct pc_catalog **out, const struct pc_catalog_opts *opts,
                    char *err, size_t errlen);

/** Stop workers (a job in progress is abandoned, its temp file removed). */
void pc_catalog_close(struct pc_catalog *c);

/** Rescan now (SIGHUP); also done by the inotify watcher. */
int pc_catalog_rescan(struct pc_catalog *c);

/**
 * Look up the title named @p name (decoded, normalised, relative: no leading
 * or trailing slash, no "." or ".." segments).
 * @return 0 and a reference in *@p out that the caller must release with
 *         pc_served_release(); PC_ENOENT (no such title), PC_EBUSY (being
 *         packaged: answer 503 with Retry-After), PC_EMEDIA/PC_ENOSTREAM/
 *         PC_EUNALIGNED (the source cannot be packaged), PC_EMFILE, PC_EIO.
 */
int pc_catalog_get(struct pc_catalog *c, const char *name, struct pc_served **out);

void pc_catalog_stats(struct pc_catalog *c, struct pc_catalog_stats *st);

/* What a title is doing, as pc_catalog_get would answer it now. */
enum pc_title_state {
    PC_TITLE_READY,                 /* served (maybe while a newer bundle is packaged) */
    PC_TITLE_PACKAGING,             /* no bundle yet: queued or being packaged (503) */
    PC_TITLE_FAILED,                /* no bundle: its source cannot be packaged (422) */
};

struct pc_catalog_entry {
    const char *name;               /* points into the same allocation */
    enum pc_title_state state;
};

/**
 * A snapshot of every title, sorted by name (byte order): for listings
 * such as the demo page (demo.h).  Takes the catalog lock once.
 * @return 0, *@p out (an array of *@p n entries and their names in one
 *         allocation, which the caller frees with free(); NULL when
 *         *@p n is 0), or PC_ENOMEM with *@p out NULL.
 */
int pc_catalog_list(struct pc_catalog *c, struct pc_catalog_entry **out, size_t *n);

/* An open bundle as served: shared, reference-counted, immutable. */
struct pc_served {
    struct pc_bundle bundle;        /* open and validated; fd for sendfile */
    const uint8_t *data;            /* the whole file mapped read-only
                                     * (MAP_SHARED), or NULL if mmap failed:
                                     * small blobs are sent from here */
    int64_t mtime;                  /* the bundle file's mtime, seconds */
    char etag_base[24];             /* generation as 16 hex digits */
    /* manifests, made once per bundle generation (see manifest.h) */
    struct pc_manifest_cache *manifests;
};

void pc_served_release(struct pc_served *s);
/** One more reference to @p s (which the caller already holds one of). */
void pc_served_retain(struct pc_served *s);

#endif
