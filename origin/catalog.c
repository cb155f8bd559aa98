/*
 * The catalog (see catalog.h): titles found in the media directory, their
 * bundles in the store, background packaging and the inotify watcher.
 *
 * Concurrency: one mutex guards the title table and job queue.  Request
 * threads hold it only for a hash lookup and a reference count; opening a
 * bundle (open + mmap of its index + manifests) happens outside it, and
 * packaging runs on worker threads with the lock released.
 */
#include "catalog.h"

#include "manifest.h"
#include "pagecast/status.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TITLE_DIR_SUFFIX ".title"
#define MAX_SOURCES 64

enum job_state { JOB_NONE, JOB_QUEUED, JOB_RUNNING };

struct served_impl {
    struct pc_served pub;
    atomic_int refs;
};

struct title {
    struct title *next;             /* hash chain */
    char *name;                     /* "movies/a.mp4" */
    uint64_t id;                    /* unique for the catalog's lifetime */
    char **sources;                 /* absolute paths, name order */
    unsigned n_sources;
    uint64_t stat_hash;             /* of the sources as last scanned */
    char *bundle_path;              /* bundle served now (may be stale), or NULL */
    struct served_impl *served;     /* open bundle_path, or NULL until used */
    enum job_state job;
    uint64_t failed_hash;           /* stat hash whose packaging failed */
    int failed_status;
    bool seen;                      /* mark for the current scan */
    bool retry;                     /* failed for a transient reason */
    struct title *qnext;            /* job queue link */
};

struct pc_catalog {
    struct pc_catalog_opts opts;
    char *media;                    /* realpath of the media directory */
    char *store;                    /* realpath of the store */
    dev_t store_dev;
    ino_t store_ino;
    pthread_mutex_t lock;
    pthread_cond_t work;
    struct title **buckets;
    size_t n_buckets;
    size_t n_titles;
    struct title *qhead, *qtail;
    uint64_t next_id;
    bool stopping;
    pthread_t *workers;
    unsigned n_workers;
    /* watcher */
    int ino_fd;
    int stop_pipe[2];
    pthread_t watcher;
    bool watching;
    bool watch_warned;
    pthread_mutex_t scan_lock;      /* one scan at a time */
    /* stats */
    atomic_uint_fast64_t jobs_done, jobs_failed, jobs_queued, ready;
    atomic_int cancel;              /* set at close: running jobs give up */
};

/* ------------------------------------------------------------ helpers */

static void clog_(struct pc_catalog *c, enum pc_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void clog_(struct pc_catalog *c, enum pc_log_level lvl, const char *fmt, ...)
{
    if (!c->opts.log)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    c->opts.log(c->opts.ud, lvl, line);
}

static uint64_t name_hash(const char *s)
{
    return pc_fnv1a(PC_FNV_INIT, s, strlen(s));
}

static struct title *find(struct pc_catalog *c, const char *name)
{
    struct title *t = c->buckets[name_hash(name) & (c->n_buckets - 1)];
    while (t && strcmp(t->name, name))
        t = t->next;
    return t;
}

static int grow(struct pc_catalog *c)
{
    size_t nb = c->n_buckets * 2;
    struct title **b = calloc(nb, sizeof *b);
    if (!b)
        return PC_ENOMEM;
    for (size_t i = 0; i < c->n_buckets; i++) {
        struct title *t = c->buckets[i];
        while (t) {
            struct title *next = t->next;
            size_t k = name_hash(t->name) & (nb - 1);
            t->next = b[k];
            b[k] = t;
            t = next;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->n_buckets = nb;
    return 0;
}

static void served_unref(struct served_impl *s)
{
    if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
        pc_manifest_cache_free(s->pub.manifests);
        if (s->pub.data)
            munmap((void *)s->pub.data, (size_t)s->pub.bundle.file_size);
        pc_bundle_close(&s->pub.bundle);
        free(s);
    }
}

void pc_served_release(struct pc_served *s)
{
    served_unref((struct served_impl *)s);
}

void pc_served_retain(struct pc_served *s)
{
    atomic_fetch_add_explicit(&((struct served_impl *)s)->refs, 1, memory_order_relaxed);
}

static void free_sources(struct title *t)
{
    for (unsigned i = 0; i < t->n_sources; i++)
        free(t->sources[i]);
    free(t->sources);
    t->sources = NULL;
    t->n_sources = 0;
}

static void title_free(struct title *t)
{
    served_unref(t->served);
    free_sources(t);
    free(t->bundle_path);
    free(t->name);
    free(t);
}

static bool is_media_name(const char *name)
{
    static const char *const ext[] = {
        "mp4", "m4v", "m4a", "mov", "mkv", "mka", "webm", "ts", "m2ts", "mts",
        "mp3", "aac", "ac3", "ec3", "eac3", "flac", "opus", "ogg", "oga",
    };
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name)
        return false;
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
        if (!strcasecmp(dot + 1, ext[i]))
            return true;
    return false;
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n > m && !strcmp(s + n - m, suf);
}

/* The store file for @p name with sources of @p stat_hash. */
static char *bundle_path_for(const struct pc_catalog *c, const char *name, uint64_t stat_hash)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s.%016" PRIx64 ".pcb", c->store, name, stat_hash) < 0)
        return NULL;
    return p;
}

static int mkdir_parents(const char *path)
{
    char buf[PATH_MAX];
    if (strlen(path) >= sizeof buf)
        return PC_ETOOBIG;
    strcpy(buf, path);
    for (char *s = buf + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return pc_status_from_errno(errno);
        *s = '/';
    }
    return 0;
}

/*
 * An existing bundle of @p name made from other sources ("<name>.<hash>.pcb"),
 * to serve while the current one is packaged.  NULL if none.
 */
static char *find_old_bundle(const struct pc_catalog *c, const char *name)
{
    char *dir = NULL;
    if (asprintf(&dir, "%s/%s", c->store, name) < 0)
        return NULL;
    char *slash = strrchr(dir, '/');
    const char *base = slash + 1;
    size_t bl = strlen(base);
    *slash = 0;
    DIR *d = opendir(dir);
    char *best = NULL;
    time_t best_mtime = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        /* "<base>." + 16 hex + ".pcb" */
        size_t n = strlen(e->d_name);
        if (n != bl + 1 + 16 + 4 || strncmp(e->d_name, base, bl) || e->d_name[bl] != '.' ||
            strcmp(e->d_name + n - 4, ".pcb"))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (!best || st.st_mtime > best_mtime) {
            free(best);
            if (asprintf(&best, "%s/%s", dir, e->d_name) < 0)
                best = NULL;
            best_mtime = st.st_mtime;
        }
    }
    if (d)
        closedir(d);
    free(dir);
    return best;
}

/* ------------------------------------------------------------ jobs */

static void enqueue(struct pc_catalog *c, struct title *t)
{
    if (t->job != JOB_NONE)
        return;
    t->job = JOB_QUEUED;
    t->qnext = NULL;
    if (c->qtail)
        c->qtail->qnext = t;
    else
        c->qhead = t;
    c->qtail = t;
    atomic_fetch_add(&c->jobs_queued, 1);
    pthread_cond_signal(&c->work);
}

static void unqueue(struct pc_catalog *c, struct title *t)
{
    struct title **pp = &c->qhead, *prev = NULL;
    while (*pp && *pp != t) {
        prev = *pp;
        pp = &(*pp)->qnext;
    }
    if (*pp) {
        *pp = t->qnext;
        if (c->qtail == t)
            c->qtail = prev;
        atomic_fetch_sub(&c->jobs_queued, 1);
    }
    t->job = JOB_NONE;
}

static void pack_log(void *ud, enum pc_log_level level, const char *msg)
{
    struct pc_catalog *c = ud;
    if (level <= PC_LOG_WARN)
        clog_(c, level, "%s", msg);
}

/* Failures that say nothing about the source: worth retrying as they are. */
static bool is_transient(int status)
{
    return status == PC_ENOSPC || status == PC_EMFILE || status == PC_ENOMEM ||
           status == PC_EIO || status == PC_EACCES;
}

static int pack_cancel(void *ud)
{
    struct pc_catalog *c = ud;
    return atomic_load_explicit(&c->cancel, memory_order_relaxed);
}

static void *worker_main(void *arg)
{
    struct pc_catalog *c = arg;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->stopping && !c->qhead)
            pthread_cond_wait(&c->work, &c->lock);
        if (c->stopping)
            break;
        struct title *t = c->qhead;
        c->qhead = t->qnext;
        if (!c->qhead)
            c->qtail = NULL;
        t->job = JOB_RUNNING;
        /* Copy what the job needs: the title may be rescanned or removed
         * meanwhile, so afterwards it is found again by name and id. */
        uint64_t id = t->id;
        char *name = strdup(t->name);
        unsigned n = t->n_sources;
        char **src = calloc(n ? n : 1, sizeof *src);
        for (unsigned i = 0; src && i < n; i++)
            src[i] = strdup(t->sources[i]);
        pthread_mutex_unlock(&c->lock);

        char err[1024] = "";
        int r = PC_ENOMEM;
        struct pc_fingerprint before = {0}, after = {0};
        char *out = NULL;
        bool ok_alloc = name && src;
        for (unsigned i = 0; ok_alloc && i < n; i++)
            ok_alloc = src[i] != NULL;
        if (ok_alloc)
            r = pc_fingerprint_files((const char *const *)src, n, 0, &before, err, sizeof err);
        if (r == 0 && !(out = bundle_path_for(c, name, before.stat_hash)))
            r = PC_ENOMEM;
        if (r == 0 && (r = mkdir_parents(out)) < 0)
            snprintf(err, sizeof err, "%s: cannot create the store directory: %s", out, pc_status_str(r));
        if (r == 0) {
            struct pc_pack_opts po = { .segment_ms = c->opts.segment_ms, .log = pack_log,
                                       .cancel = pack_cancel, .ud = c };
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            r = pc_pack(out, (const char *const *)src, n, &po, err, sizeof err);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            if (r == 0)
                clog_(c, PC_LOG_INFO, "packaged %s in %.2f s", name,
                      (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
        }
        /* A source that changed while it was read makes a bundle of neither
         * version (or fails, e.g. it shrank): drop the result and package the
         * source as it is now. */
        bool changed = r != PC_ECANCELED && before.stat_hash &&
                       (pc_fingerprint_files((const char *const *)src, n, 0, &after, NULL, 0) < 0 ||
                        after.stat_hash != before.stat_hash);
        if (changed) {
            if (r == 0)
                unlink(out);
            else
                clog_(c, PC_LOG_INFO, "%s changed while it was packaged (%s); packaging it again",
                      name, err[0] ? err : pc_status_str(r));
            r = PC_EBUSY;
        }

        pthread_mutex_lock(&c->lock);
        atomic_fetch_sub(&c->jobs_queued, 1);
        struct title *t2 = name ? find(c, name) : NULL;
        if (t2 && t2->id != id)
            t2 = NULL;
        if (t2)
            t2->job = JOB_NONE;
        if (r == 0) {
            atomic_fetch_add(&c->jobs_done, 1);
            if (t2) {
                char *old = t2->bundle_path;
                struct served_impl *old_served = t2->served;
                t2->bundle_path = out;
                t2->served = NULL;
                out = NULL;
                if (!old)
                    atomic_fetch_add(&c->ready, 1);
                /* Requests in flight keep the old inode open; unlinking the
                 * name only stops new ones finding it. */
                if (old && strcmp(old, t2->bundle_path))
                    unlink(old);
                free(old);
                served_unref(old_served);
                if (t2->stat_hash != before.stat_hash)
                    enqueue(c, t2);     /* it changed again since */
            } else {
                unlink(out);            /* the title went away meanwhile */
            }
        } else if (r == PC_EBUSY || r == PC_ECANCELED) {
            if (t2 && r == PC_EBUSY)
                enqueue(c, t2);
        } else {
            atomic_fetch_add(&c->jobs_failed, 1);
            clog_(c, PC_LOG_ERROR, "cannot package %s: %s", name, err[0] ? err : pc_status_str(r));
            if (t2 && before.stat_hash && t2->stat_hash != before.stat_hash) {
                enqueue(c, t2);         /* the source changed meanwhile: try the new one */
            } else if (t2 && is_transient(r)) {
                /* Not the source's fault (a full or unwritable store, out of
                 * fds or memory): the next scan (SIGHUP, any change) retries. */
                t2->retry = true;
                t2->failed_status = r;
            } else if (t2) {
                /* Logged once: not retried until the source changes. */
                t2->failed_hash = before.stat_hash ? before.stat_hash : t2->stat_hash;
                t2->failed_status = r;
            }
        }
        free(out);
        for (unsigned i = 0; src && i < n; i++)
            free(src[i]);
        free(src);
        free(name);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* ------------------------------------------------------------ scanning */

struct scan {
    struct pc_catalog *c;
    int watch;
    int status;
};

static int add_or_update(struct pc_catalog *c, const char *name, char **sources, unsigned n)
{
    struct pc_fingerprint fp;
    char err[512];
    int r = pc_fingerprint_files((const char *const *)sources, n, 0, &fp, err, sizeof err);
    if (r < 0) {
        clog_(c, PC_LOG_WARN, "skipping %s: %s", name, err);
        return 0;
    }
    struct title *t = find(c, name);
    if (!t) {
        if (c->n_titles >= c->n_buckets && grow(c) < 0)
            return PC_ENOMEM;
        t = calloc(1, sizeof *t);
        if (!t || !(t->name = strdup(name))) {
            free(t);
            return PC_ENOMEM;
        }
        size_t k = name_hash(name) & (c->n_buckets - 1);
        t->id = ++c->next_id;
        t->next = c->buckets[k];
        c->buckets[k] = t;
        c->n_titles++;
        t->stat_hash = ~fp.stat_hash;   /* force the checks below */
    }
    t->seen = true;
    free_sources(t);
    t->sources = sources;
    t->n_sources = n;
    if (t->stat_hash == fp.stat_hash) {
        if (t->retry && t->job == JOB_NONE) {
            t->retry = false;
            enqueue(c, t);
        }
        return 0;
    }
    t->stat_hash = fp.stat_hash;
    t->retry = false;
    char *want = bundle_path_for(c, name, fp.stat_hash);
    if (!want)
        return PC_ENOMEM;
    struct stat st;
    if (stat(want, &st) == 0 && S_ISREG(st.st_mode)) {
        if (!t->bundle_path)
            atomic_fetch_add(&c->ready, 1);
        if (!t->bundle_path || strcmp(t->bundle_path, want)) {
            free(t->bundle_path);
            t->bundle_path = want;
            served_unref(t->served);
            t->served = NULL;
        } else {
            free(want);
        }
        if (t->job == JOB_QUEUED)
            unqueue(c, t);
        return 0;
    }
    free(want);
    if (!t->bundle_path) {
        t->bundle_path = find_old_bundle(c, name);     /* serve it meanwhile */
        if (t->bundle_path)
            atomic_fetch_add(&c->ready, 1);
    }
    if (t->failed_hash != fp.stat_hash)
        enqueue(c, t);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Is @p path (already resolved) inside the media directory? */
static bool inside_media(const struct pc_catalog *c, const char *real)
{
    size_t n = strlen(c->media);
    return !strncmp(real, c->media, n) && (real[n] == '/' || real[n] == 0);
}

/*
 * Classify directory entry @p ent of @p dirpath: 1 regular media file,
 * 2 directory, 0 skip.  Symlinks are followed only when they resolve inside
 * the media directory, so no title can read outside it.
 */
static int classify(const struct pc_catalog *c, const char *path, struct stat *st)
{
    if (lstat(path, st) < 0)
        return 0;
    if (S_ISLNK(st->st_mode)) {
        char real[PATH_MAX];
        if (!realpath(path, real) || !inside_media(c, real) || stat(real, st) < 0)
            return 0;
    }
    if (S_ISDIR(st->st_mode))
        return (st->st_dev == c->store_dev && st->st_ino == c->store_ino) ? 0 : 2;
    return S_ISREG(st->st_mode) ? 1 : 0;
}

static void watch_dir(struct scan *s, const char *path)
{
    if (!s->watch || s->c->ino_fd < 0)
        return;
    if (inotify_add_watch(s->c->ino_fd, path,
                          IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE |
                          IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_ONLYDIR) < 0 &&
        !s->c->watch_warned) {
        /* ENOSPC: fs.inotify.max_user_watches is too small for this tree. */
        s->c->watch_warned = true;
        clog_(s->c, PC_LOG_WARN, "cannot watch %s (%s): changes there need SIGHUP; "
              "raise fs.inotify.max_user_watches", path, strerror(errno));
    }
}

static int list_dir(const char *path, char ***names, size_t *n)
{
    DIR *d = opendir(path);
    if (!d)
        return pc_status_from_errno(errno);
    size_t cap = 0;
    *names = NULL;
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')        /* hidden, ".", "..", temp files */
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nn = realloc(*names, cap * sizeof *nn);
            if (!nn)
                break;
            *names = nn;
        }
        if (!((*names)[*n] = strdup(e->d_name)))
            break;
        (*n)++;
    }
    closedir(d);
    if (*n)
        qsort(*names, *n, sizeof **names, cmp_str);
    return 0;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* A ".title" directory: every media file directly inside, in name order. */
static int scan_title_dir(struct scan *s, const char *path, const char *name)
{
    char **names;
    size_t n;
    if (list_dir(path, &names, &n) < 0)
        return 0;
    watch_dir(s, path);
    char **src = calloc(n ? n : 1, sizeof *src);
    unsigned k = 0;
    int r = src ? 0 : PC_ENOMEM;
    for (size_t i = 0; r == 0 && i < n && k < MAX_SOURCES; i++) {
        char *p = NULL;
        struct stat st;
        if (!is_media_name(names[i]) || asprintf(&p, "%s/%s", path, names[i]) < 0)
            continue;
        if (classify(s->c, p, &st) == 1)
            src[k++] = p;
        else
            free(p);
    }
    free_names(names, n);
    if (r == 0 && k)
        return add_or_update(s->c, name, src, k);
    for (unsigned i = 0; src && i < k; i++)
        free(src[i]);
    free(src);
    return r;
}

static int scan_dir(struct scan *s, const char *path, const char *rel, int depth)
{
    if (depth > 32)
        return 0;
    char **names;
    size_t n;
    int r = list_dir(path, &names, &n);
    if (r < 0)
        return depth == 0 ? r : 0;
    watch_dir(s, path);
    for (size_t i = 0; r == 0 && i < n; i++) {
        char *p = NULL, *name = NULL;
        struct stat st;
        if (asprintf(&p, "%s/%s", path, names[i]) < 0 ||
            asprintf(&name, "%s%s%s", rel, rel[0] ? "/" : "", names[i]) < 0) {
            free(p);
            r = PC_ENOMEM;
            break;
        }
        int kind = classify(s->c, p, &st);
        if (kind == 2 && has_suffix(names[i], TITLE_DIR_SUFFIX)) {
            r = scan_title_dir(s, p, name);
        } else if (kind == 2) {
            r = scan_dir(s, p, name, depth + 1);
        } else if (kind == 1 && is_media_name(names[i])) {
            char **src = malloc(sizeof *src);
            if (!src) {
                r = PC_ENOMEM;
            } else {
                src[0] = p;
                p = NULL;
                r = add_or_update(s->c, name, src, 1);
            }
        }
        free(p);
        free(name);
    }
    free_names(names, n);
    return r;
}

int pc_catalog_rescan(struct pc_catalog *c)
{
    pthread_mutex_lock(&c->scan_lock);
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n_buckets; i++)
        for (struct title *t = c->buckets[i]; t; t = t->next)
            t->seen = false;
    struct scan s = { .c = c, .watch = c->watching };
    int r = scan_dir(&s, c->media, "", 0);
    if (r == 0) {
        /* Titles whose sources are gone stop being served. */
        for (size_t i = 0; i < c->n_buckets; i++) {
            struct title **pp = &c->buckets[i];
            while (*pp) {
                struct title *t = *pp;
                if (t->seen) {
                    pp = &t->next;
                    continue;
                }
                *pp = t->next;
                c->n_titles--;
                if (t->job == JOB_QUEUED)
                    unqueue(c, t);
                if (t->bundle_path) {
                    atomic_fetch_sub(&c->ready, 1);
                    unlink(t->bundle_path);
                }
                clog_(c, PC_LOG_INFO, "removed %s", t->name);
                /* a running job finds it gone (by id) and discards its result */
                title_free(t);
            }
        }
    }
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&c->scan_lock);
    return r;
}

/* ------------------------------------------------------------ lookups */

static struct served_impl *open_served(const char *path, int *status)
{
    struct served_impl *s = calloc(1, sizeof *s);
    if (!s) {
        *status = PC_ENOMEM;
        return NULL;
    }
    char err[256];
    int r = pc_bundle_open(&s->pub.bundle, path, err, sizeof err);
    if (r < 0) {
        free(s);
        *status = r;
        return NULL;
    }
    struct stat st;
    s->pub.mtime = fstat(s->pub.bundle.fd, &st) == 0 ? (int64_t)st.st_mtime : 0;
    snprintf(s->pub.etag_base, sizeof s->pub.etag_base, "%016" PRIx64, s->pub.bundle.hdr->generation);
    s->pub.manifests = pc_manifest_cache_new(&s->pub.bundle);
    if (!s->pub.manifests) {
        pc_bundle_close(&s->pub.bundle);
        free(s);
        *status = PC_ENOMEM;
        return NULL;
    }
    /* The whole bundle, for the server to send small blobs from memory
     * (header and body in one write).  Bundles are renamed in, never
     * rewritten, so the mapping cannot be truncated under a reader; a
     * failure (address space) only means blobs go by fd. */
    void *m = s->pub.bundle.file_size
                  ? mmap(NULL, (size_t)s->pub.bundle.file_size, PROT_READ, MAP_SHARED,
                         s->pub.bundle.fd, 0)
                  : MAP_FAILED;
    s->pub.data = m == MAP_FAILED ? NULL : m;
    atomic_init(&s->refs, 1);
    return s;
}

int pc_catalog_get(struct pc_catalog *c, const char *name, struct pc_served **out)
{
    pthread_mutex_lock(&c->lock);
    struct title *t = find(c, name);
    if (!t) {
        pthread_mutex_unlock(&c->lock);
        return PC_ENOENT;
    }
    if (t->served) {
        atomic_fetch_add_explicit(&t->served->refs, 1, memory_order_relaxed);
        *out = &t->served->pub;
        pthread_mutex_unlock(&c->lock);
        return 0;
    }
    if (!t->bundle_path) {
        int r = t->job != JOB_NONE ? PC_EBUSY
                : t->failed_status ? t->failed_status : PC_EBUSY;
        pthread_mutex_unlock(&c->lock);
        return r;
    }
    char *path = strdup(t->bundle_path);
    uint64_t id = t->id;
    pthread_mutex_unlock(&c->lock);
    if (!path)
        return PC_ENOMEM;

    /* Open outside the lock: one mmap and the manifests, once per bundle. */
    int status = 0;
    struct served_impl *s = open_served(path, &status);
    if (!s) {
        if (status != PC_EMFILE && status != PC_ENOMEM)
            clog_(c, PC_LOG_ERROR, "cannot open the bundle of %s: %s", name, pc_status_str(status));
        free(path);
        /* A bundle replaced between the lookup and the open: try once more. */
        return status == PC_ENOENT ? PC_EBUSY : status;
    }
    pthread_mutex_lock(&c->lock);
    t = find(c, name);
    if (t && t->id == id && t->bundle_path && !strcmp(t->bundle_path, path)) {
        if (t->served) {                /* another thread won the race */
            served_unref(s);
            s = t->served;
        } else {
            t->served = s;              /* the catalog's reference */
        }
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    }
    /* else: the title changed meanwhile; serve what was asked for once */
    pthread_mutex_unlock(&c->lock);
    free(path);
    *out = &s->pub;
    return 0;
}

void pc_catalog_stats(struct pc_catalog *c, struct pc_catalog_stats *st)
{
    pthread_mutex_lock(&c->lock);
    st->titles = c->n_titles;
    pthread_mutex_unlock(&c->lock);
    st->ready = atomic_load(&c->ready);
    st->jobs_done = atomic_load(&c->jobs_done);
    st->jobs_failed = atomic_load(&c->jobs_failed);
    st->jobs_queued = atomic_load(&c->jobs_queued);
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct pc_catalog_entry *)a)->name,
                  ((const struct pc_catalog_entry *)b)->name);
}

int pc_catalog_list(struct pc_catalog *c, struct pc_catalog_entry **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&c->lock);
    size_t count = 0, bytes = 0;
    for (size_t i = 0; i < c->n_buckets; i++)
        for (const struct title *t = c->buckets[i]; t; t = t->next) {
            count++;
            bytes += strlen(t->name) + 1;
        }
    if (!count) {
        pthread_mutex_unlock(&c->lock);
        return 0;
    }
    struct pc_catalog_entry *e = malloc(count * sizeof *e + bytes);
    if (!e) {
        pthread_mutex_unlock(&c->lock);
        return PC_ENOMEM;
    }
    char *names = (char *)(e + count);
    size_t k = 0;
    for (size_t i = 0; i < c->n_buckets; i++)
        for (const struct title *t = c->buckets[i]; t; t = t->next) {
            size_t len = strlen(t->name) + 1;
            memcpy(names, t->name, len);
            e[k].name = names;
            /* the order of pc_catalog_get's answers */
            e[k].state = t->served || t->bundle_path ? PC_TITLE_READY
                         : t->job == JOB_NONE && t->failed_status ? PC_TITLE_FAILED
                                                                  : PC_TITLE_PACKAGING;
            names += len;
            k++;
        }
    pthread_mutex_unlock(&c->lock);
    qsort(e, count, sizeof *e, cmp_entry);
    *out = e;
    *n = count;
    return 0;
}

/* ------------------------------------------------------------ watcher */

/* Any change under the media directory triggers a rescan once things have
 * been quiet for a moment (a copy in progress makes many events). */
#define SETTLE_MS 300

static void *watcher_main(void *arg)
{
    struct pc_catalog *c = arg;
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool dirty = false;
    for (;;) {
        struct pollfd fds[2] = { { c->ino_fd, POLLIN, 0 }, { c->stop_pipe[0], POLLIN, 0 } };
        int n = poll(fds, 2, dirty ? SETTLE_MS : -1);
        if (n < 0 && errno != EINTR)
            break;
        if (fds[1].revents)
            break;
        if (n > 0 && (fds[0].revents & POLLIN)) {
            while (read(c->ino_fd, buf, sizeof buf) > 0)
                ;
            dirty = true;
            continue;
        }
        if (n == 0 && dirty) {
            dirty = false;
            pc_catalog_rescan(c);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------ lifecycle */

/*
 * Temporaries of killed packagers (".<bundle>.XXXXXX.tmp", each as large as
 * the bundle it would have been) are removed at start.  Only old ones: a
 * store may be shared by several origins, and another one's temporary is
 * being written to (its mtime moves) while it packages.
 */
#define STALE_TEMP_AGE_S 3600

static unsigned sweep_temps(int dirfd_, time_t older_than, int depth)
{
    DIR *d = fdopendir(dirfd_);
    if (!d) {
        close(dirfd_);
        return 0;
    }
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISDIR(st.st_mode) && depth < 32) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                n += sweep_temps(sub, older_than, depth + 1);
        } else if (S_ISREG(st.st_mode) && e->d_name[0] == '.' && has_suffix(e->d_name, ".tmp") &&
                   st.st_mtime < older_than && unlinkat(dirfd(d), e->d_name, 0) == 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

int pc_catalog_open(struct pc_catalog **out, const struct pc_catalog_opts *opts,
                    char *err, size_t errlen)
{
    struct pc_catalog *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return PC_ENOMEM;
    }
    c->opts = *opts;
    c->ino_fd = -1;
    c->stop_pipe[0] = c->stop_pipe[1] = -1;
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->scan_lock, NULL);
    pthread_cond_init(&c->work, NULL);
    int r;
    struct stat st;
    if (!(c->media = realpath(opts->media_dir, NULL)) || stat(c->media, &st) < 0 || !S_ISDIR(st.st_mode)) {
        int e = c->media ? ENOTDIR : errno;
        snprintf(err, errlen, "%s: cannot use as the media directory: %s", opts->media_dir, strerror(e));
        r = pc_status_from_errno(e);
        goto fail;
    }
    if (access(c->media, R_OK | X_OK) < 0) {
        snprintf(err, errlen, "%s: cannot read the media directory: %s", opts->media_dir, strerror(errno));
        r = pc_status_from_errno(errno);
        goto fail;
    }
    if (mkdir(opts->store_dir, 0755) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create the store: %s", opts->store_dir, strerror(errno));
        r = pc_status_from_errno(errno);
        goto fail;
    }
    int e = 0;
    if (!(c->store = realpath(opts->store_dir, NULL)) || stat(c->store, &st) < 0)
        e = errno;
    else if (!S_ISDIR(st.st_mode))
        e = ENOTDIR;
    else if (access(c->store, W_OK | X_OK) < 0)
        e = errno;
    if (e) {
        snprintf(err, errlen, "%s: the store is not a writable directory: %s", opts->store_dir, strerror(e));
        r = pc_status_from_errno(e);
        goto fail;
    }
    c->store_dev = st.st_dev;
    c->store_ino = st.st_ino;
    int sfd = open(c->store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    unsigned swept = sfd >= 0 ? sweep_temps(sfd, time(NULL) - STALE_TEMP_AGE_S, 0) : 0;
    if (swept)
        clog_(c, PC_LOG_INFO, "removed %u stale packaging temporaries from the store", swept);
    c->n_buckets = 1024;
    if (!(c->buckets = calloc(c->n_buckets, sizeof *c->buckets))) {
        snprintf(err, errlen, "out of memory");
        r = PC_ENOMEM;
        goto fail;
    }
    if (opts->watch) {
        c->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (c->ino_fd < 0 || pipe2(c->stop_pipe, O_CLOEXEC) < 0) {
            snprintf(err, errlen, "cannot watch %s: %s", opts->media_dir, strerror(errno));
            r = pc_status_from_errno(errno);
            goto fail;
        }
        c->watching = true;
    }
    if ((r = pc_catalog_rescan(c)) < 0) {
        snprintf(err, errlen, "%s: cannot scan: %s", opts->media_dir, pc_status_str(r));
        goto fail;
    }
    c->n_workers = opts->workers ? opts->workers : 1;
    c->workers = calloc(c->n_workers, sizeof *c->workers);
    for (unsigned i = 0; c->workers && i < c->n_workers; i++)
        if (pthread_create(&c->workers[i], NULL, worker_main, c) != 0) {
            c->n_workers = i;
            break;
        }
    if (!c->workers || !c->n_workers) {
        snprintf(err, errlen, "cannot start packaging threads");
        r = PC_ENOMEM;
        goto fail;
    }
    if (c->watching && pthread_create(&c->watcher, NULL, watcher_main, c) != 0) {
        c->watching = false;
        snprintf(err, errlen, "cannot start the watcher thread");
        r = PC_ENOMEM;
        goto fail;
    }
    *out = c;
    return 0;
fail:
    pc_catalog_close(c);
    return r;
}

void pc_catalog_close(struct pc_catalog *c)
{
    if (!c)
        return;
    if (c->watching) {
        if (write(c->stop_pipe[1], "x", 1) < 0) { /* the thread then never wakes; join anyway */ }
        pthread_join(c->watcher, NULL);
    }
    atomic_store(&c->cancel, 1);
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_broadcast(&c->work);
    pthread_mutex_unlock(&c->lock);
    for (unsigned i = 0; c->workers && i < c->n_workers; i++)
        pthread_join(c->workers[i], NULL);
    free(c->workers);
    for (size_t i = 0; c->buckets && i < c->n_buckets; i++) {
        struct title *t = c->buckets[i];
        while (t) {
            struct title *next = t->next;
            title_free(t);
            t = next;
        }
    }
    free(c->buckets);
    if (c->ino_fd >= 0)
        close(c->ino_fd);
    for (int i = 0; i < 2; i++)
        if (c->stop_pipe[i] >= 0)
            close(c->stop_pipe[i]);
    pthread_cond_destroy(&c->work);
    pthread_mutex_destroy(&c->scan_lock);
    pthread_mutex_destroy(&c->lock);
    free(c->media);
    free(c->store);
    free(c);
}
