/*
 * The HTTP server (server.h): libmicrohttpd in the pattern measured in
 * MEASUREMENTS.md, the request handler, metrics and the access log.  This
 * is the only file that includes <microhttpd.h>; what a request means is
 * decided by the pure parts (router.c, http.c) and the catalog.
 *
 * Three libmicrohttpd traps shape this file (all reproduced on 0.9.75):
 *   1. a response queued on the first access-handler call turns keep-alive
 *      off, so every handler queues on the second call;
 *   2. the internal epoll thread stalls at 128 ready events, so each of our
 *      threads runs its own daemon from an external poll() loop;
 *   3. in that mode libmicrohttpd uses sendfile only when told SIGPIPE is
 *      handled (MHD_OPTION_SIGPIPE_HANDLED_BY_APP, and SIGPIPE ignored).
 *
 * Per request: the URI log callback (called once the request line is read,
 * before anything is decoded) allocates a struct req holding the raw
 * request target, which is what the router parses; the completed callback
 * counts it, logs it, releases the bundle it held and frees it.
 */
#include "server.h"

#include "catalog.h"
#include "connguard.h"
#include "demo.h"
#include "fields.h"
#include "http.h"
#include "manifest.h"
#include "router.h"
#include "sign_io.h"

#include "pagecast/bundle.h"
#include "pagecast/status.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* libmicrohttpd's per-connection memory pool holds the request line and
 * headers: a request bigger than this is refused by libmicrohttpd itself
 * with 414 (request line) or 431 (headers).  libmicrohttpd zeroes the
 * whole pool between keep-alive requests and keeps it for the life of the
 * connection, so its size is CPU per request and memory per idle
 * connection: 16 KiB instead of libmicrohttpd's 32 KiB took 11 % off the
 * CPU per manifest request and halves what 10,000 idle connections hold
 * (docs/serving.md).  PAGECAST_CONN_MEMORY overrides it (benchmarking). */
#define CONNECTION_MEMORY (16 * 1024)
#define RETRY_AFTER_BUSY "5"        /* packaging: seconds until worth retrying */
#define RETRY_AFTER_LOAD "1"        /* out of fds / memory: back-pressure */

/* Blobs up to MEM_MAX bytes are sent from the bundle's mapping as a memory
 * response (libmicrohttpd writes header and body with one sendmsg), as
 * long as open connections x blob size stays under MEM_INFLIGHT; other
 * blobs go by sendfile from the fd.  The memory response saves the
 * header's own packet and the per-response dup/close, but the kernel then
 * copies the body into the socket, where sendfile only references the
 * page-cache pages: with many connections that copy costs more than it
 * saves (docs/serving.md has the measurements).  PAGECAST_MEM_MAX and
 * PAGECAST_MEM_INFLIGHT in the environment override them (benchmarking). */
#define MEM_MAX_DEFAULT (256 * 1024)
#define MEM_INFLIGHT_DEFAULT (8u << 20)
/* When segment n of a track is sent, ask the kernel to read segment n+1
 * (posix_fadvise WILLNEED).  docs/serving.md; PAGECAST_READAHEAD=0/1
 * overrides it (benchmarking only). */
#define READAHEAD_DEFAULT 1

#define CACHE_IMMUTABLE "public, max-age=31536000, immutable"
#define CACHE_NONE "no-store"

#define ALLOW_METHODS "GET, HEAD, OPTIONS"
#define ALLOW_HEADERS "Range, If-None-Match, If-Modified-Since, If-Range"
#define EXPOSE_HEADERS "Content-Length, Content-Range, ETag"

/* ---------------------------------------------------------------- metrics */

/* Status codes the metrics count one by one; anything else is "other". */
static const unsigned metric_codes[] = {
    200, 204, 206, 304, 400, 403, 404, 405, 412, 413, 414, 416, 422, 431, 500, 501, 503, 507,
};
#define N_CODES (sizeof metric_codes / sizeof metric_codes[0] + 1)
#define N_KINDS PC_ROUTE__COUNT     /* PC_ROUTE_NOT_FOUND is "other" */

/* Relaxed atomics throughout: each counter is independent and monotonic,
 * and a scrape that is a few requests behind is fine. */
struct metrics {
    atomic_uint_fast64_t requests[N_KINDS][N_CODES];
    atomic_uint_fast64_t bytes_sent;
    atomic_uint_fast64_t connections_total;
    atomic_int_fast64_t connections;
    atomic_uint_fast64_t refused_max;           /* past --max-connections */
    atomic_uint_fast64_t refused_per_address;   /* past --max-connections-per-address */
    atomic_uint_fast64_t header_timeouts;       /* closed by --header-timeout */
};

static size_t code_index(unsigned code)
{
    for (size_t i = 0; i < N_CODES - 1; i++)
        if (metric_codes[i] == code)
            return i;
    return N_CODES - 1;
}

/* ----------------------------------------------------------------- types */

/*
 * A memory response makes the kernel read the bundle's pages through our
 * mapping, which maps them into the process: they stay in the page cache
 * either way, but RSS (and the OOM killer's score) would count every small
 * segment ever served.  Each thread gives those pages back (MADV_DONTNEED)
 * once a second, after MAPPED_BYTES of such responses, or when it has
 * used MAPPED_MAX bundles; a page still being sent is simply mapped again.
 * Giving back every 32 MiB cost 10 % of audio requests/s at 64
 * connections (the pages fault back in); every 256 MiB is within noise.
 */
#define MAPPED_MAX 16
#define MAPPED_BYTES (256u << 20)

struct worker {
    struct pc_server *srv;
    struct MHD_Daemon *daemon;
    pthread_t thread;
    bool started;
    int wake_fd;                    /* eventfd: pc_server_stop wakes the loop */
    unsigned inflight;              /* requests begun, not completed (own thread only) */
    uint32_t now;                   /* monotonic seconds, read once per loop turn */
    struct pc_conn_list conns;      /* this daemon's connections (connguard.h) */
    /* Bundles this thread has sent memory responses from since it last gave
     * their mapped pages back (release_mapped), a reference held on each. */
    struct pc_served *mapped[MAPPED_MAX];
    unsigned n_mapped;
    uint64_t mapped_bytes;
};

struct pc_server {
    struct pc_catalog *catalog;
    struct pc_server_opts opts;
    char address[INET6_ADDRSTRLEN + 16];
    uint16_t port;
    atomic_bool stopping;
    time_t started_at;
    unsigned n_workers;
    struct worker *workers;
    struct metrics m;
    unsigned max_connections;       /* over all daemons (on_accept) */
    struct pc_addr_limit *per_address;  /* NULL: no per-address limit */
    uint64_t mem_max;               /* blobs up to this size: memory response */
    uint64_t mem_inflight;          /* ... while connections x size is below this */
    bool readahead;                 /* WILLNEED the next segment */
    int notsent_lowat;              /* TCP_NOTSENT_LOWAT; 0: the kernel's */
};

enum req_state { REQ_NEW, REQ_HEADERS_DONE, REQ_QUEUED };

struct req {
    struct worker *w;
    struct pc_conn *conn;           /* its connection's guard, or NULL */
    enum req_state state;
    struct timespec t0;             /* CLOCK_MONOTONIC at the request line */
    struct timespec wall;           /* CLOCK_REALTIME, for the log */
    unsigned status;                /* HTTP status queued (0: none) */
    uint64_t body_len;              /* body bytes the response sends */
    enum pc_route_kind kind;
    struct pc_served *served;       /* reference held while the response
                                     * points into its manifests or mapping */
    uint64_t next_offset, next_size;    /* segment to read ahead when done, or 0 */
    unsigned repeated;              /* pc_fields_repeated: fields sent twice */
    struct pc_sign_token token;     /* signed URLs: the request's token (into target) */
    char *signed_text;              /* owned: a manifest with the token passed on */
    char method[16];
    char version[16];
    char client[INET6_ADDRSTRLEN];
    char referer[256];
    char agent[256];
    size_t target_len;
    char target[];                  /* raw request target, NUL-terminated */
};

/* ------------------------------------------------------------ small tools */

static void copy_trunc(char *dst, size_t cap, const char *src)
{
    if (!src)
        src = "";
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static const char *header(struct MHD_Connection *con, const char *name)
{
    return MHD_lookup_connection_value(con, MHD_HEADER_KIND, name);
}

static void add_header(struct MHD_Response *r, const char *name, const char *value)
{
    /* Fails only without memory, or for values with CR/LF, which we
     * never build; the response then just lacks the field. */
    (void)MHD_add_response_header(r, name, value);
}

/* Headers on every response of ours: CORS for browser players (the
 * content is public, so "*"), and "Connection: close" while draining. */
static void add_common(struct req *rq, struct MHD_Response *r)
{
    add_header(r, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    add_header(r, "Access-Control-Expose-Headers", EXPOSE_HEADERS);
    if (atomic_load_explicit(&rq->w->srv->stopping, memory_order_relaxed))
        add_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
}

static enum MHD_Result queue(struct req *rq, struct MHD_Connection *con, unsigned code,
                             struct MHD_Response *r, uint64_t body_len)
{
    rq->status = code;
    rq->body_len = body_len;
    rq->state = REQ_QUEUED;
    enum MHD_Result ok = MHD_queue_response(con, code, r);
    MHD_destroy_response(r);        /* the connection keeps its own reference */
    return ok;
}

static bool is_head(const struct req *rq)
{
    return strcmp(rq->method, MHD_HTTP_METHOD_HEAD) == 0;
}

/*
 * An error answer for status @p status (a PC_E* or PC_E* value): its
 * HTTP code and message come from the status lists, the body is that
 * message and never names a path.  Errors are not cached (a title being
 * packaged or a 404 for a title about to appear must not stick in a CDN).
 */
static enum MHD_Result error_response(struct req *rq, struct MHD_Connection *con, int status)
{
    unsigned code = (unsigned)pc_status_http(status);
    char body[128];
    int n = snprintf(body, sizeof body, "%u %s\n", code, pc_status_str(status));
    if (n < 0 || (size_t)n >= sizeof body)
        n = 0;
    struct MHD_Response *r =
        MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;              /* out of memory: drop the connection */
    add_common(rq, r);
    add_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, CACHE_NONE);
    if (status == PC_EBUSY)
        add_header(r, MHD_HTTP_HEADER_RETRY_AFTER, RETRY_AFTER_BUSY);
    else if (code == 503)
        add_header(r, MHD_HTTP_HEADER_RETRY_AFTER, RETRY_AFTER_LOAD);
    if (status == PC_EMETHOD)
        add_header(r, MHD_HTTP_HEADER_ALLOW, ALLOW_METHODS);
    return queue(rq, con, code, r, is_head(rq) ? 0 : (uint64_t)n);
}

static enum MHD_Result text_response(struct req *rq, struct MHD_Connection *con,
                                     unsigned code, const char *type, char *body,
                                     size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return error_response(rq, con, PC_ENOMEM);
    }
    add_common(rq, r);
    add_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, CACHE_NONE);
    return queue(rq, con, code, r, is_head(rq) ? 0 : len);
}

/* ------------------------------------------------------------- /metrics */

static enum MHD_Result metrics_response(struct req *rq, struct MHD_Connection *con)
{
    struct pc_server *s = rq->w->srv;
    struct pc_catalog_stats cs;
    pc_catalog_stats(s->catalog, &cs);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return error_response(rq, con, PC_ENOMEM);
    fputs("# HELP pagecast_requests_total HTTP requests answered, by route kind and status code.\n"
          "# TYPE pagecast_requests_total counter\n", f);
    for (size_t k = 0; k < N_KINDS; k++)
        for (size_t c = 0; c < N_CODES; c++) {
            uint64_t v = atomic_load_explicit(&s->m.requests[k][c], memory_order_relaxed);
            if (!v)
                continue;
            char code[8];
            if (c < N_CODES - 1)
                snprintf(code, sizeof code, "%u", metric_codes[c]);
            else
                snprintf(code, sizeof code, "other");
            fprintf(f, "pagecast_requests_total{kind=\"%s\",code=\"%s\"} %" PRIu64 "\n",
                    pc_route_kind_name((enum pc_route_kind)k), code, v);
        }
    fprintf(f,
            "# HELP pagecast_bytes_sent_total Response body bytes sent (complete responses).\n"
            "# TYPE pagecast_bytes_sent_total counter\n"
            "pagecast_bytes_sent_total %" PRIu64 "\n"
            "# HELP pagecast_connections Client connections open now.\n"
            "# TYPE pagecast_connections gauge\n"
            "pagecast_connections %" PRIdFAST64 "\n"
            "# HELP pagecast_connections_total Client connections accepted.\n"
            "# TYPE pagecast_connections_total counter\n"
            "pagecast_connections_total %" PRIu64 "\n"
            "# HELP pagecast_connections_refused_total Connections closed at once, by the limit they met.\n"
            "# TYPE pagecast_connections_refused_total counter\n"
            "pagecast_connections_refused_total{limit=\"max_connections\"} %" PRIu64 "\n"
            "pagecast_connections_refused_total{limit=\"max_connections_per_address\"} %" PRIu64 "\n"
            "# HELP pagecast_header_timeouts_total Connections closed because a request did not arrive in full within --header-timeout.\n"
            "# TYPE pagecast_header_timeouts_total counter\n"
            "pagecast_header_timeouts_total %" PRIu64 "\n"
            "# HELP pagecast_titles Titles found in the media directory.\n"
            "# TYPE pagecast_titles gauge\n"
            "pagecast_titles %" PRIu64 "\n"
            "# HELP pagecast_titles_ready Titles with a current bundle.\n"
            "# TYPE pagecast_titles_ready gauge\n"
            "pagecast_titles_ready %" PRIu64 "\n"
            "# HELP pagecast_packaging_jobs_total Packaging jobs finished, by result.\n"
            "# TYPE pagecast_packaging_jobs_total counter\n"
            "pagecast_packaging_jobs_total{result=\"done\"} %" PRIu64 "\n"
            "pagecast_packaging_jobs_total{result=\"failed\"} %" PRIu64 "\n"
            "# HELP pagecast_packaging_jobs_queued Packaging jobs waiting or running.\n"
            "# TYPE pagecast_packaging_jobs_queued gauge\n"
            "pagecast_packaging_jobs_queued %" PRIu64 "\n"
            "# HELP pagecast_start_time_seconds When the origin started, Unix time.\n"
            "# TYPE pagecast_start_time_seconds gauge\n"
            "pagecast_start_time_seconds %lld\n"
            "# HELP pagecast_build_info The running version.\n"
            "# TYPE pagecast_build_info gauge\n"
            "pagecast_build_info{version=\"%s\"} 1\n",
            (uint64_t)atomic_load_explicit(&s->m.bytes_sent, memory_order_relaxed),
            (int_fast64_t)atomic_load_explicit(&s->m.connections, memory_order_relaxed),
            (uint64_t)atomic_load_explicit(&s->m.connections_total, memory_order_relaxed),
            (uint64_t)atomic_load_explicit(&s->m.refused_max, memory_order_relaxed),
            (uint64_t)atomic_load_explicit(&s->m.refused_per_address, memory_order_relaxed),
            (uint64_t)atomic_load_explicit(&s->m.header_timeouts, memory_order_relaxed),
            cs.titles, cs.ready, cs.jobs_done, cs.jobs_failed, cs.jobs_queued,
            (long long)s->started_at, PC_VERSION);
    if (fclose(f) != 0 || !buf) {
        free(buf);
        return error_response(rq, con, PC_ENOMEM);
    }
    return text_response(rq, con, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", buf,
                         len, MHD_RESPMEM_MUST_FREE);
}

/* -------------------------------------------------------------- OPTIONS */

/* A header list that is safe to echo: tokens, commas and spaces only. */
static bool safe_header_list(const char *v)
{
    if (!v || !*v || strlen(v) > 512)
        return false;
    for (const char *p = v; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == ',' || c == ' '))
            return false;
    }
    return true;
}

/* OPTIONS: a CORS preflight (Fetch standard, "CORS-preflight request")
 * when Access-Control-Request-Method is present, else plain OPTIONS
 * (RFC 9110 9.3.7).  Both are 204 and say which methods we allow. */
static enum MHD_Result options_response(struct req *rq, struct MHD_Connection *con)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    add_common(rq, r);
    add_header(r, MHD_HTTP_HEADER_ALLOW, ALLOW_METHODS);
    if (header(con, "Access-Control-Request-Method")) {
        const char *want = header(con, "Access-Control-Request-Headers");
        add_header(r, "Access-Control-Allow-Methods", ALLOW_METHODS);
        /* Echo what the player asks for (it may send headers of its own);
         * the answer then depends on that header, hence Vary. */
        add_header(r, "Access-Control-Allow-Headers", safe_header_list(want) ? want : ALLOW_HEADERS);
        add_header(r, "Access-Control-Max-Age", "86400");
        add_header(r, MHD_HTTP_HEADER_VARY, "Access-Control-Request-Headers");
    }
    add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, CACHE_NONE);
    return queue(rq, con, MHD_HTTP_NO_CONTENT, r, 0);
}

/* ------------------------------------------------------- titles' objects */

/*
 * What one GET/HEAD of a title's object resolved to: either manifest text
 * (which lives as long as rq->served) or a blob of the bundle file.
 */
struct object {
    uint64_t next_offset, next_size;    /* the next segment of the track, or 0 */
    const char *text;               /* manifest, or NULL for a blob */
    uint64_t offset;                /* blob: offset in the bundle file */
    uint64_t size;
    const char *type;
    const char *cache_control;
    char etag[PC_ETAG_MAX];
};

static const char *blob_type(const struct pc_track_record *tr)
{
    switch (tr->kind) {
    case PC_KIND_VIDEO: return "video/mp4";
    case PC_KIND_AUDIO: return "audio/mp4";
    default:            return "application/mp4";     /* RFC 4337: e.g. WebVTT in ISO BMFF */
    }
}

/* Resolve @p route in the open bundle @p s.  @return 0 or PC_ENOENT. */
static int resolve(const struct pc_served *s, const struct pc_route *route,
                   const char *manifest_cache_control, struct object *o)
{
    const struct pc_bundle *b = &s->bundle;
    uint64_t gen = b->hdr->generation;
    memset(o, 0, sizeof *o);

    if (route->kind == PC_ROUTE_MASTER || route->kind == PC_ROUTE_MPD ||
        route->kind == PC_ROUTE_MEDIA_PLAYLIST) {
        enum pc_manifest_kind mk = route->kind == PC_ROUTE_MASTER ? PC_MANIFEST_HLS_MASTER
                                   : route->kind == PC_ROUTE_MPD  ? PC_MANIFEST_DASH
                                                                  : PC_MANIFEST_HLS_MEDIA;
        enum pc_http_object obj = route->kind == PC_ROUTE_MASTER ? PC_HTTP_OBJ_MASTER
                                  : route->kind == PC_ROUTE_MPD  ? PC_HTTP_OBJ_MPD
                                                                 : PC_HTTP_OBJ_MEDIA_PLAYLIST;
        if (route->kind == PC_ROUTE_MEDIA_PLAYLIST && route->track >= b->hdr->track_count)
            return PC_ENOENT;
        size_t len = 0;
        o->text = pc_manifest_get(s->manifests, mk, route->track, &len);
        if (!o->text)
            return PC_ENOENT;
        o->size = len;
        o->type = route->kind == PC_ROUTE_MPD ? "application/dash+xml"
                                              : "application/vnd.apple.mpegurl";
        o->cache_control = manifest_cache_control;
        pc_http_etag(o->etag, gen, obj, route->track, 0);
        return 0;
    }

    /* init.mp4 / <n>.m4s: the URL's generation must be the bundle's.  An
     * old generation is a 404 (its bytes are gone with the old bundle); a
     * CDN that gets one re-fetches the manifest, which names the new URLs. */
    if (route->generation != gen || route->track >= b->hdr->track_count)
        return PC_ENOENT;
    const struct pc_track_record *tr = &b->tracks[route->track];
    if (route->kind == PC_ROUTE_INIT) {
        o->offset = tr->init_offset;
        o->size = tr->init_size;
        pc_http_etag(o->etag, gen, PC_HTTP_OBJ_INIT, route->track, 0);
    } else {
        uint64_t count;
        const struct pc_segment_record *segs = pc_bundle_track_segments(b, route->track, &count);
        if (route->segment < 1 || route->segment > count)
            return PC_ENOENT;
        o->offset = segs[route->segment - 1].offset;
        o->size = segs[route->segment - 1].size;
        if (route->segment < count) {
            o->next_offset = segs[route->segment].offset;
            o->next_size = segs[route->segment].size;
        }
        pc_http_etag(o->etag, gen, PC_HTTP_OBJ_SEGMENT, route->track, route->segment);
    }
    if (o->size == 0)
        return PC_ENOENT;           /* a validated bundle has none; be safe */
    o->type = blob_type(tr);
    o->cache_control = CACHE_IMMUTABLE;
    return 0;
}

/*
 * libmicrohttpd closes the fd of an fd response when the response is
 * destroyed, so every response gets its own dup() of the bundle's fd (the
 * catalog keeps the original open as long as the bundle is served).
 * Offsets and lengths come from a validated index, so they lie inside the
 * file; libmicrohttpd sends them with sendfile (trap 3 above).
 */
static struct MHD_Response *blob_response(const struct pc_served *s, uint64_t offset,
                                          uint64_t len, int *status)
{
    int fd = fcntl(s->bundle.fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        *status = pc_status_from_errno(errno);   /* EMFILE: 503, back-pressure */
        return NULL;
    }
    struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(len, fd, offset);
    if (!r) {
        close(fd);                  /* not taken over on failure */
        *status = PC_ENOMEM;
    }
    return r;
}

/* Give back the mapped pages of the bundles @p w sent memory responses
 * from, and the references it kept on them. */
static void release_mapped(struct worker *w)
{
    for (unsigned i = 0; i < w->n_mapped; i++) {
        struct pc_served *s = w->mapped[i];
        (void)madvise((void *)s->data, (size_t)s->bundle.file_size, MADV_DONTNEED);
        pc_served_release(s);
    }
    w->n_mapped = 0;
    w->mapped_bytes = 0;
}

/* @p w is about to send @p len bytes of @p s from its mapping. */
static void note_mapped(struct worker *w, struct pc_served *s, uint64_t len)
{
    unsigned i = 0;
    while (i < w->n_mapped && w->mapped[i] != s)
        i++;
    if (i == w->n_mapped) {
        if (w->n_mapped == MAPPED_MAX)
            release_mapped(w);
        pc_served_retain(s);
        w->mapped[w->n_mapped++] = s;
    }
    w->mapped_bytes += len;
    if (w->mapped_bytes >= MAPPED_BYTES)
        release_mapped(w);
}

/* Whether a blob of @p len bytes goes as a memory response now (see
 * MEM_INFLIGHT_DEFAULT): the open connections, each assumed to be fetching
 * a blob this size, must keep the copied bytes under the budget. */
static bool mem_fits(const struct pc_server *srv, uint64_t len)
{
    int_fast64_t open = atomic_load_explicit(&srv->m.connections, memory_order_relaxed);
    if (open < 1)
        open = 1;
    return len <= srv->mem_inflight / (uint64_t)open;
}

/*
 * Cold cache: a player that fetched segment n fetches n+1 next, a segment
 * duration later.  Start reading it now.  WILLNEED on pages already cached
 * costs a page-cache lookup per page, so the mapping's residency is checked
 * first on its first page (one mincore, no I/O): a cached first page means
 * the segment was read before, and the call is skipped.
 */
static void readahead_next(const struct pc_served *s, uint64_t offset, uint64_t size)
{
    if (s->data) {
        unsigned char vec = 0;
        if (mincore((void *)(s->data + offset), 1, &vec) == 0 && (vec & 1))
            return;
    }
    (void)posix_fadvise(s->bundle.fd, (off_t)offset, (off_t)size, POSIX_FADV_WILLNEED);
}

/*
 * RFC 9110 5.3: the lines of a field sent more than once are one
 * comma-separated list.  For Range, If-Range and the HTTP-date fields such
 * a list is not a valid value, and an invalid value of these is ignored
 * (RFC 9110 13.1.3, 13.1.4, 14.2): NULL.  If-Match and If-None-Match are
 * lists: the lines are joined (into *@p owned, which the caller frees).
 */
static const char *single_header(const struct req *rq, struct MHD_Connection *con,
                                 enum pc_field f, const char *name)
{
    return rq->repeated & (1u << f) ? NULL : header(con, name);
}

struct join {
    const char *name;
    char *buf;                      /* NULL: only measure */
    size_t len;
};

static enum MHD_Result join_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                  size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    struct join *j = cls;
    if (strlen(j->name) != key_size || strncasecmp(key, j->name, key_size) != 0 || !value)
        return MHD_YES;
    if (j->buf) {
        if (j->len)
            memcpy(j->buf + j->len - 2, ", ", 2);
        memcpy(j->buf + j->len, value, value_size);
    }
    j->len += value_size + 2;
    return MHD_YES;
}

static const char *list_header(const struct req *rq, struct MHD_Connection *con,
                               enum pc_field f, const char *name, char **owned)
{
    if (!(rq->repeated & (1u << f)))
        return header(con, name);
    struct join j = { name, NULL, 0 };
    MHD_get_connection_values_n(con, MHD_HEADER_KIND, join_field, &j);
    if (!(j.buf = malloc(j.len + 1)))
        return NULL;                /* out of memory: as if absent, the whole object */
    size_t total = j.len;
    j.len = 0;
    MHD_get_connection_values_n(con, MHD_HEADER_KIND, join_field, &j);
    j.buf[total - 2] = '\0';
    *owned = j.buf;
    return j.buf;
}

/*
 * Signed URLs: the manifest with the request's token on every URL it names
 * (a copy per request; the cached text stays token-free), and an ETag that
 * names the token too, since the bytes differ with it.
 */
static int sign_manifest(struct req *rq, const struct pc_route *route, struct object *o)
{
    size_t len = 0;
    rq->signed_text = pc_sign_manifest(o->text, (size_t)o->size,
                                       route->kind == PC_ROUTE_MPD ? PC_SIGN_MPD : PC_SIGN_HLS,
                                       rq->token.value, rq->token.len, &len);
    if (!rq->signed_text)
        return PC_ENOMEM;
    o->text = rq->signed_text;
    o->size = len;
    size_t n = strlen(o->etag);     /* "\"<gen>-master\"" -> "\"<gen>-master-t<tag>\"" */
    snprintf(o->etag + n - 1, sizeof o->etag - (n - 1), "-t%.*s\"", PC_SIGN_TAG_LEN,
             rq->token.hmac);
    return 0;
}

static enum MHD_Result title_response(struct req *rq, struct MHD_Connection *con,
                                      const struct pc_route *route)
{
    struct pc_server *srv = rq->w->srv;
    struct pc_served *s = NULL;
    int r = pc_catalog_get(srv->catalog, route->title, &s);
    if (r < 0)
        return error_response(rq, con, r);
    rq->served = s;                 /* released when the request completes */
    if (!s->manifests)
        return error_response(rq, con, PC_ENOMEM);

    char manifest_cc[48];
    snprintf(manifest_cc, sizeof manifest_cc, "public, max-age=%u", srv->opts.manifest_max_age);
    struct object o;
    if ((r = resolve(s, route, manifest_cc, &o)) < 0)
        return error_response(rq, con, r);
    if (o.text && rq->token.len && (r = sign_manifest(rq, route, &o)) < 0)
        return error_response(rq, con, r);

    char last_modified[PC_HTTP_DATE_LEN];
    pc_http_date_format(s->mtime, last_modified);
    char *if_match = NULL, *if_none_match = NULL;   /* joined lists, rarely */
    struct pc_http_request hr = {
        .is_get = !is_head(rq),
        .if_match = list_header(rq, con, PC_FIELD_IF_MATCH, MHD_HTTP_HEADER_IF_MATCH, &if_match),
        .if_none_match = list_header(rq, con, PC_FIELD_IF_NONE_MATCH,
                                     MHD_HTTP_HEADER_IF_NONE_MATCH, &if_none_match),
        .if_modified_since = single_header(rq, con, PC_FIELD_IF_MODIFIED_SINCE,
                                           MHD_HTTP_HEADER_IF_MODIFIED_SINCE),
        .if_unmodified_since = single_header(rq, con, PC_FIELD_IF_UNMODIFIED_SINCE,
                                             MHD_HTTP_HEADER_IF_UNMODIFIED_SINCE),
        .if_range = single_header(rq, con, PC_FIELD_IF_RANGE, MHD_HTTP_HEADER_IF_RANGE),
        .range = single_header(rq, con, PC_FIELD_RANGE, MHD_HTTP_HEADER_RANGE),
    };
    if (hr.if_range == NULL && (rq->repeated & (1u << PC_FIELD_IF_RANGE)))
        hr.range = NULL;            /* an invalid If-Range: the whole object */
    struct pc_http_object_info info = { o.etag, s->mtime, o.size };
    struct pc_range range = { 0, o.size };
    enum pc_http_outcome out = pc_http_evaluate(&hr, &info, (int64_t)time(NULL), &range);
    free(if_match);
    free(if_none_match);

    if (out == PC_HTTP_PRECONDITION_FAILED)
        return error_response(rq, con, PC_EPRECONDITION);

    unsigned code;
    struct MHD_Response *resp;
    char content_range[96];
    content_range[0] = '\0';
    if (out == PC_HTTP_RANGE_NOT_SATISFIABLE) {
        /* RFC 9110 15.5.17: say how long the object is. */
        static const char body[] = "416 range not satisfiable\n";
        code = MHD_HTTP_RANGE_NOT_SATISFIABLE;
        resp = MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        snprintf(content_range, sizeof content_range, "bytes */%" PRIu64, o.size);
        add_common(rq, resp);
        add_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, content_range);
        add_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
        add_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, CACHE_NONE);
        return queue(rq, con, code, resp, sizeof body - 1);
    }
    if (out == PC_HTTP_NOT_MODIFIED) {
        /* RFC 9110 15.4.5: no content; the validators and Cache-Control a
         * 200 would carry. */
        code = MHD_HTTP_NOT_MODIFIED;
        /* libmicrohttpd 0.9.75 does not know that a 304 has no content: it
         * frames every response.  An empty buffer response makes that
         * "Content-Length: 0" with no bytes after the header, which keeps
         * the connection in step (RFC 9111 3.2: caches never take
         * Content-Length from a 304).  A response of unknown size would be
         * sent chunked, and the chunk terminator would be read as the start
         * of the next response. */
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        if (out == PC_HTTP_SEND_PARTIAL) {
            code = MHD_HTTP_PARTIAL_CONTENT;
            snprintf(content_range, sizeof content_range, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
                     range.start, range.start + range.length - 1, o.size);
        } else {
            code = MHD_HTTP_OK;
            range.start = 0;
            range.length = o.size;
        }
        if (o.text) {
            /* Manifest text lives in s->manifests, which our reference on
             * s keeps alive until the completed callback. */
            resp = MHD_create_response_from_buffer((size_t)range.length,
                                                   (void *)(o.text + range.start),
                                                   MHD_RESPMEM_PERSISTENT);
            if (!resp)
                r = PC_ENOMEM;
        } else if (s->data && range.length <= srv->mem_max && mem_fits(srv, range.length)) {
            /* Points into the bundle's mapping (MAP_SHARED: the page
             * cache itself), which our reference on s keeps mapped.  The
             * kernel copies it into the socket buffer; nothing is copied
             * in user space. */
            resp = MHD_create_response_from_buffer((size_t)range.length,
                                                   (void *)(s->data + o.offset + range.start),
                                                   MHD_RESPMEM_PERSISTENT);
            if (!resp)
                r = PC_ENOMEM;
            else if (!is_head(rq))
                note_mapped(rq->w, s, range.length);
        } else {
            resp = blob_response(s, o.offset + range.start, range.length, &r);
        }
        if (resp && o.next_size && srv->readahead && !is_head(rq)) {
            /* issued once this response is sent (on_completed), so it
             * never delays it */
            rq->next_offset = o.next_offset;
            rq->next_size = o.next_size;
        }
        if (!resp)
            return error_response(rq, con, r);
    }
    if (!resp)
        return MHD_NO;
    add_common(rq, resp);
    add_header(resp, MHD_HTTP_HEADER_ETAG, o.etag);
    add_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED, last_modified);
    add_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, o.cache_control);
    if (code != MHD_HTTP_NOT_MODIFIED) {
        add_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, o.type);
        add_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    }
    if (content_range[0])
        add_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, content_range);
    uint64_t body = (code == MHD_HTTP_NOT_MODIFIED || is_head(rq)) ? 0 : range.length;
    return queue(rq, con, code, resp, body);
}

/* ------------------------------------------------ the demo page (demo.h) */

/* Only with --demo, and only for targets the router found no route for;
 * pc_demo_get answers its allow-list and PC_ENOENT (404) for the rest. */
static enum MHD_Result demo_response(struct req *rq, struct MHD_Connection *con)
{
    struct pc_server *s = rq->w->srv;
    struct pc_demo_reply d;
    int r = pc_demo_get(s->opts.demo, s->catalog, rq->target, rq->target_len, &d);
    if (r < 0)
        return error_response(rq, con, r);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        d.len, d.body, d.owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        if (d.owned)
            free(d.body);
        return error_response(rq, con, PC_ENOMEM);
    }
    add_common(rq, resp);
    add_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, d.type);
    add_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, CACHE_NONE);
    add_header(resp, "X-Content-Type-Options", "nosniff");
    if (d.csp)
        add_header(resp, "Content-Security-Policy", d.csp);
    return queue(rq, con, MHD_HTTP_OK, resp, is_head(rq) ? 0 : d.len);
}

/* --------------------------------------------------------- the handler */

static enum MHD_Result dispatch(struct req *rq, struct MHD_Connection *con)
{
    if (strcmp(rq->method, MHD_HTTP_METHOD_OPTIONS) == 0)
        return options_response(rq, con);
    if (strcmp(rq->method, MHD_HTTP_METHOD_GET) != 0 && !is_head(rq))
        return error_response(rq, con, PC_EMETHOD);

    struct pc_route route;
    int r = pc_route_parse(rq->target, rq->target_len, &route);
    if (r < 0)
        return error_response(rq, con, r);
    rq->kind = route.kind;
    const struct pc_sign_keys *keys = rq->w->srv->opts.sign;
    if (keys && route.kind != PC_ROUTE_HEALTHZ && route.kind != PC_ROUTE_METRICS &&
        (r = pc_sign_request(keys, rq->method, rq->target, rq->target_len, &rq->token)) < 0)
        return error_response(rq, con, r);
    switch (route.kind) {
    case PC_ROUTE_HEALTHZ:
        return text_response(rq, con, MHD_HTTP_OK, "text/plain; charset=utf-8", (char *)"ok\n", 3,
                             MHD_RESPMEM_PERSISTENT);
    case PC_ROUTE_METRICS:
        return metrics_response(rq, con);
    case PC_ROUTE_MASTER:
    case PC_ROUTE_MEDIA_PLAYLIST:
    case PC_ROUTE_MPD:
    case PC_ROUTE_INIT:
    case PC_ROUTE_SEGMENT:
        return title_response(rq, con, &route);
    case PC_ROUTE_NOT_FOUND:
    case PC_ROUTE__COUNT:
        break;
    }
    if (rq->w->srv->opts.demo)
        return demo_response(rq, con);
    return error_response(rq, con, PC_ENOENT);
}

static enum MHD_Result feed_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                  size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    pc_fields_add(cls, key, key_size, value ? value : "", value ? value_size : 0);
    return MHD_YES;
}

/*
 * The header field checks libmicrohttpd does not make (fields.h: Host,
 * Content-Length with Transfer-Encoding, and the rest of RFC 9112's
 * framing rules).  A request that fails them is answered 400 (or 501)
 * here, written straight to the socket, and its connection is closed
 * (RFC 9112 6.3: a server MUST close after a framing error): queued the
 * usual way, the answer would wait until libmicrohttpd had read a body it
 * cannot frame, for an unknown Transfer-Encoding until the client gives
 * up.  Nothing else is in the socket's way: the previous response on the
 * connection is sent in full before the next request is parsed.
 * @return false when the request was refused.
 */
static bool check_fields(struct req *rq, struct MHD_Connection *con)
{
    struct pc_fields f;
    pc_fields_init(&f);
    MHD_get_connection_values_n(con, MHD_HEADER_KIND, feed_field, &f);
    int bad = pc_fields_finish(&f, strcmp(rq->version, MHD_HTTP_VERSION_1_0) == 0 ? 0 : 1);
    rq->repeated = pc_fields_repeated(&f);
    if (!bad)
        return true;
    char buf[640];
    size_t n = pc_fields_refusal(buf, sizeof buf, bad, f.reason, (int64_t)time(NULL),
                                 !is_head(rq));
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci && n) {
        /* A short write (a client that reads nothing) loses the answer,
         * never the close. */
        ssize_t wr = send(ci->connect_fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)wr;
        shutdown(ci->connect_fd, SHUT_WR);
    }
    rq->status = (unsigned)pc_status_http(bad);
    return false;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)cls;
    (void)url;                      /* decoded by libmicrohttpd: we route the raw target */
    (void)upload_data;
    struct req *rq = *con_cls;
    if (!rq)
        return MHD_NO;              /* the URI callback had no memory */
    if (rq->state == REQ_NEW) {
        /* Trap 1: answering on this first call would turn keep-alive off. */
        rq->state = REQ_HEADERS_DONE;
        copy_trunc(rq->method, sizeof rq->method, method);
        copy_trunc(rq->version, sizeof rq->version, version);
        if (!check_fields(rq, con))
            return MHD_NO;          /* refused: answered and closed */
        if (rq->w->srv->opts.access_log_fd >= 0) {
            copy_trunc(rq->referer, sizeof rq->referer, header(con, MHD_HTTP_HEADER_REFERER));
            copy_trunc(rq->agent, sizeof rq->agent, header(con, MHD_HTTP_HEADER_USER_AGENT));
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;      /* no method of ours takes a body: discard it */
        return MHD_YES;
    }
    if (rq->state == REQ_QUEUED)
        return MHD_YES;
    if (rq->conn)
        pc_conn_arm(rq->conn, 0, 0);    /* the request is in: no deadline while answering */
    return dispatch(rq, con);
}

/* ------------------------------------------------- request bookkeeping */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
    struct worker *w = cls;
    size_t n = strlen(uri);
    struct req *rq = malloc(sizeof *rq + n + 1);
    if (!rq)
        return NULL;
    memset(rq, 0, sizeof *rq);
    rq->w = w;
    rq->kind = PC_ROUTE_NOT_FOUND;
    memcpy(rq->target, uri, n + 1);
    rq->target_len = n;
    snprintf(rq->method, sizeof rq->method, "-");
    snprintf(rq->client, sizeof rq->client, "-");
    const union MHD_ConnectionInfo *gi =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if ((rq->conn = gi ? gi->socket_context : NULL))
        rq->conn->busy = true;
    w->inflight++;
    /* What only the access log uses is skipped without one. */
    if (w->srv->opts.access_log_fd < 0)
        return rq;
    clock_gettime(CLOCK_MONOTONIC, &rq->t0);
    clock_gettime(CLOCK_REALTIME, &rq->wall);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                      rq->client, sizeof rq->client);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                      rq->client, sizeof rq->client);
    }
    return rq;
}

/* A bounded line buffer: appends that do not fit are cut, never overrun. */
struct line {
    char *p;
    size_t len, cap;                /* cap excludes room kept for '\n' */
};

static void put(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct line *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->p + l->len, l->cap - l->len + 1, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->len = l->len + (size_t)n > l->cap ? l->cap : l->len + (size_t)n;
}

/* Append at most @p max bytes of @p s, escaping what could forge or break
 * a line (quotes, backslashes, control and non-ASCII bytes) as \xHH. */
static void put_escaped(struct line *l, const char *s, size_t max)
{
    for (size_t i = 0; s[i] && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
            put(l, "\\x%02x", c);
        else if (l->len < l->cap)
            l->p[l->len++] = (char)c;
    }
}

/* One line per request, Apache "combined" format plus the duration in
 * seconds:  client - - [time] "METHOD target VERSION" status bytes "referer"
 * "user-agent" duration.  One write(2) per line, so threads never
 * interleave within a line. */
static void access_log(struct req *rq, unsigned status, uint64_t bytes, double secs)
{
    int fd = rq->w->srv->opts.access_log_fd;
    if (fd < 0)
        return;
    /* room for every field escaped (4 bytes per byte) at its limit */
    char buf[8192];
    struct line l = { buf, 0, sizeof buf - 1 };
    struct tm tm;
    time_t t = rq->wall.tv_sec;
    gmtime_r(&t, &tm);
    char when[40];
    strftime(when, sizeof when, "%d/%b/%Y:%H:%M:%S +0000", &tm);
    put(&l, "%s - - [%s] \"", rq->client, when);
    put_escaped(&l, rq->method, sizeof rq->method);
    put(&l, " ");
    put_escaped(&l, rq->target, 1024);      /* the rest of a long target is cut */
    if (rq->version[0]) {
        put(&l, " ");
        put_escaped(&l, rq->version, sizeof rq->version);
    }
    if (status)
        put(&l, "\" %u %" PRIu64 " \"", status, bytes);
    else
        put(&l, "\" - - \"");
    put_escaped(&l, rq->referer[0] ? rq->referer : "-", sizeof rq->referer);
    put(&l, "\" \"");
    put_escaped(&l, rq->agent[0] ? rq->agent : "-", sizeof rq->agent);
    put(&l, "\" %.6f", secs);
    buf[l.len++] = '\n';
    /* A short write to a full disk or closed pipe loses a log line, never
     * a response. */
    ssize_t wr = write(fd, buf, l.len);
    (void)wr;
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct worker *w = cls;
    struct req *rq = *con_cls;
    if (!rq)
        return;
    *con_cls = NULL;
    struct pc_server *s = w->srv;
    unsigned status = rq->status;
    if (!status) {
        /* An answer libmicrohttpd made itself (e.g. 431 for headers too
         * large), or none at all (the client went away). */
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(con, MHD_CONNECTION_INFO_HTTP_STATUS);
        if (ci)
            status = ci->http_status;
    }
    uint64_t bytes = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? rq->body_len : 0;
    if (status) {
        atomic_fetch_add_explicit(&s->m.requests[rq->kind][code_index(status)], 1,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&s->m.bytes_sent, bytes, memory_order_relaxed);
    }
    if (s->opts.access_log_fd >= 0) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - rq->t0.tv_sec) +
                      (double)(t1.tv_nsec - rq->t0.tv_nsec) / 1e9;
        access_log(rq, status, bytes, secs);
    }
    if (rq->served && rq->next_size && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        readahead_next(rq->served, rq->next_offset, rq->next_size);
    if (rq->served)
        pc_served_release(rq->served);
    free(rq->signed_text);
    if (rq->conn)
        rq->conn->busy = false;
    if (rq->conn && s->opts.header_timeout) {
        /* The next request may first idle as long as keep-alive allows,
         * then has --header-timeout to arrive.  Without an idle timeout,
         * only first requests have a deadline. */
        unsigned idle = s->opts.connection_timeout;
        pc_conn_arm(rq->conn, w->now, idle ? idle + s->opts.header_timeout : 0);
    }
    w->inflight--;
    free(rq);
}

/*
 * The connection limit is over all daemons.  Split per daemon, it would
 * turn away connections that SO_REUSEPORT's hash happened to give to a
 * full daemon while another had room (and libmicrohttpd leaves them
 * waiting in that daemon's accept queue, unanswered).  Past the limit a
 * new connection is closed at once.  Two threads may both let one in at
 * the limit: the total can pass it by threads - 1.
 */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addrlen;
    struct pc_server *s = cls;
    if (atomic_load_explicit(&s->m.connections, memory_order_relaxed) >=
        (int_fast64_t)s->max_connections) {
        atomic_fetch_add_explicit(&s->m.refused_max, 1, memory_order_relaxed);
        return MHD_NO;
    }
    /* Counted when the connection starts (on_connection), so a connection
     * libmicrohttpd fails to set up is never counted; as above, threads
     * accepting from one address at once may pass the limit by threads - 1. */
    struct pc_addr_key k;
    if (s->per_address && pc_addr_key_from(&k, addr) && !pc_addr_limit_admits(s->per_address, &k)) {
        atomic_fetch_add_explicit(&s->m.refused_per_address, 1, memory_order_relaxed);
        return MHD_NO;
    }
    return MHD_YES;
}

/*
 * Each connection gets a guard (connguard.h): its fd, whether a request
 * is in (draining closes the others at once), its request deadline (armed
 * now for the first request, with a header timeout), and its place in the
 * per-address count.  Both notifications run on the daemon's own thread
 * (or, at shutdown, after it has stopped), so the thread's list needs no
 * lock.
 */
static void on_connection(void *cls, struct MHD_Connection *con, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct worker *w = cls;
    struct pc_server *s = w->srv;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add_explicit(&s->m.connections, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->m.connections_total, 1, memory_order_relaxed);
        const union MHD_ConnectionInfo *fi =
            MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (fi && s->notsent_lowat)
            setsockopt(fi->connect_fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &s->notsent_lowat,
                       sizeof s->notsent_lowat);
        struct pc_conn *c = calloc(1, sizeof *c);
        if (!c)
            return;                 /* out of memory: this one goes unguarded */
        const union MHD_ConnectionInfo *ai =
            MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        c->fd = fi ? fi->connect_fd : -1;
        if (s->per_address && ai && pc_addr_key_from(&c->addr, ai->client_addr))
            c->counted = pc_addr_limit_add(s->per_address, &c->addr);
        if (c->fd >= 0)
            pc_conn_arm(c, w->now, s->opts.header_timeout);
        pc_conn_list_add(&w->conns, c);
        *socket_context = c;
    } else {
        atomic_fetch_sub_explicit(&s->m.connections, 1, memory_order_relaxed);
        struct pc_conn *c = *socket_context;
        if (!c)
            return;
        *socket_context = NULL;
        pc_conn_list_remove(&w->conns, c);
        if (c->counted)
            pc_addr_limit_remove(s->per_address, &c->addr);
        free(c);
    }
}

/* A request past its deadline: shut the socket down, and libmicrohttpd,
 * woken by the hang-up, closes the connection in this thread's next
 * MHD_run (a sent 408 could land in the middle of a response
 * libmicrohttpd itself is writing, e.g. a 431; nginx also just closes). */
static void expire_conn(void *ud, struct pc_conn *c)
{
    struct worker *w = ud;
    shutdown(c->fd, SHUT_RDWR);
    atomic_fetch_add_explicit(&w->srv->m.header_timeouts, 1, memory_order_relaxed);
}

/* Draining: a connection between requests is shut down, and
 * libmicrohttpd, woken by the hang-up, closes it (as expire_conn). */
static void close_idle(void *ud, struct pc_conn *c)
{
    (void)ud;
    shutdown(c->fd, SHUT_RDWR);
}

static uint32_t monotonic_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &t);      /* vDSO: no system call */
    return (uint32_t)t.tv_sec;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    fprintf(stderr, "pagecast-origin: libmicrohttpd: %s\n", msg);
}

/* ------------------------------------------------------ serving threads */

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct pc_server *s = w->srv;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(w->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    int epfd = di ? di->epoll_fd : -1;
    bool quiesced = false;
    struct timespec deadline = { 0, 0 };

    for (;;) {
        if (!quiesced && atomic_load(&s->stopping)) {
            /* Stop accepting: the listening socket leaves the epoll set and
             * is ours to close (no other thread uses it in this mode). */
            MHD_socket ls = MHD_quiesce_daemon(w->daemon);
            if (ls != MHD_INVALID_SOCKET)
                close(ls);
            quiesced = true;
            /* Idle keep-alive connections are closed now; those with a
             * request in flight close after its response (Connection:
             * close). */
            pc_conn_list_each_idle(&w->conns, close_idle, w);
            clock_gettime(CLOCK_MONOTONIC, &deadline);
            deadline.tv_sec += s->opts.drain_timeout;
        }
        if (quiesced) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            /* Done when no request is in flight (idle keep-alive
             * connections are then closed by MHD_stop_daemon). */
            if (w->inflight == 0 || now.tv_sec > deadline.tv_sec ||
                (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec))
                break;
        }
        /* Trap 2: wait on the daemon's epoll fd ourselves, never longer
         * than libmicrohttpd's next timeout (and at most 1 s). */
        int timeout = 1000;
        MHD_UNSIGNED_LONG_LONG to;
        if (MHD_get_timeout(w->daemon, &to) == MHD_YES && to < (MHD_UNSIGNED_LONG_LONG)timeout)
            timeout = (int)to;
        struct pollfd pfd[2] = { { epfd, POLLIN, 0 }, { w->wake_fd, POLLIN, 0 } };
        int n = poll(pfd, 2, timeout);
        if (n < 0 && errno != EINTR)
            break;
        if (n > 0 && (pfd[1].revents & POLLIN)) {
            uint64_t v;
            ssize_t rd = read(w->wake_fd, &v, sizeof v);
            (void)rd;
        }
        uint32_t now = monotonic_seconds();
        if (now != w->now) {
            /* once a second: requests past --header-timeout, and the pages
             * memory responses mapped in */
            w->now = now;
            if (s->opts.header_timeout)
                pc_conn_list_sweep(&w->conns, now, expire_conn, w);
            release_mapped(w);
        }
        MHD_run(w->daemon);
    }
    release_mapped(w);
    return NULL;
}

/* ------------------------------------------------------------ lifecycle */

static int resolve_address(const struct pc_server_opts *o, struct sockaddr_storage *ss,
                           socklen_t *sl, char *err, size_t errlen)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *ai = NULL;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)o->port);
    int r = getaddrinfo(o->host && *o->host ? o->host : NULL, port, &hints, &ai);
    if (r != 0 || !ai) {
        snprintf(err, errlen, "cannot listen on %s:%u: %s", o->host ? o->host : "",
                 (unsigned)o->port, r ? gai_strerror(r) : "no address");
        return PC_EINVAL;
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *sl = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static void format_address(const struct sockaddr_storage *ss, uint16_t port, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr, host, sizeof host);
        snprintf(out, cap, "[%s]:%u", host, (unsigned)port);
    } else {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ss)->sin_addr, host, sizeof host);
        snprintf(out, cap, "%s:%u", host, (unsigned)port);
    }
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)(void *)ss)->sin6_port = htons(port);
    else
        ((struct sockaddr_in *)(void *)ss)->sin_port = htons(port);
}

/*
 * Check that the address is free, and learn the port when 0 was asked
 * for.  The daemons share the port through SO_REUSEPORT, which would also
 * let a second origin of the same user share it silently; a probe bound
 * without SO_REUSEPORT fails with EADDRINUSE against any listener, and
 * gives the one-line reason libmicrohttpd would not.
 */
static int probe_address(struct sockaddr_storage *ss, socklen_t sl, uint16_t *port, int *err_no)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err_no = errno;
        return -1;
    }
    int one = 1;
    /* as libmicrohttpd does: a port in TIME_WAIT is not "in use" */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)ss, sl) < 0) {
        *err_no = errno;
        close(fd);
        return -1;
    }
    struct sockaddr_storage got;
    socklen_t gl = sizeof got;
    if (getsockname(fd, (struct sockaddr *)&got, &gl) < 0) {
        *err_no = errno;
        close(fd);
        return -1;
    }
    *port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)(void *)&got)->sin6_port
                                            : ((struct sockaddr_in *)(void *)&got)->sin_port);
    close(fd);
    return 0;
}

int pc_server_start(struct pc_server **out, struct pc_catalog *catalog,
                    const struct pc_server_opts *opts, char *err, size_t errlen)
{
    /* Trap 3: with SIGPIPE ignored, a write to a closed connection is
     * EPIPE, and libmicrohttpd may then use sendfile. */
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_storage ss;
    socklen_t sl;
    int r = resolve_address(opts, &ss, &sl, err, errlen);
    if (r < 0)
        return r;
    const char *shown_host = opts->host && *opts->host ? opts->host : "*";
    uint16_t port = 0;
    int e = 0;
    if (probe_address(&ss, sl, &port, &e) < 0) {
        snprintf(err, errlen, "cannot listen on %s:%u: %s", shown_host, (unsigned)opts->port,
                 strerror(e));
        return pc_status_from_errno(e);
    }
    set_port(&ss, port);

    struct pc_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return PC_ENOMEM;
    }
    s->catalog = catalog;
    s->opts = *opts;
    s->port = port;
    s->started_at = time(NULL);
    atomic_init(&s->stopping, false);
    format_address(&ss, port, s->address, sizeof s->address);
    s->n_workers = opts->threads ? opts->threads : 1;
    s->mem_max = MEM_MAX_DEFAULT;
    s->mem_inflight = MEM_INFLIGHT_DEFAULT;
    s->readahead = READAHEAD_DEFAULT;
    size_t conn_memory = CONNECTION_MEMORY;
    const char *env = getenv("PAGECAST_CONN_MEMORY");
    if (env && *env)
        conn_memory = strtoull(env, NULL, 10);
    env = getenv("PAGECAST_MEM_MAX");
    if (env && *env)
        s->mem_max = strtoull(env, NULL, 10);
    if ((env = getenv("PAGECAST_MEM_INFLIGHT")) && *env)
        s->mem_inflight = strtoull(env, NULL, 10);
    if ((env = getenv("PAGECAST_READAHEAD")) && *env)
        s->readahead = env[0] != '0';
    s->notsent_lowat = (int)opts->notsent_lowat;
    if ((env = getenv("PAGECAST_NOTSENT_LOWAT")) && *env)
        s->notsent_lowat = atoi(env);
    unsigned total = opts->max_connections ? opts->max_connections : 10000;
    s->max_connections = total;
    if (opts->max_per_address) {
        /* room for every connection from its own address, and for the
         * threads that may each let one more in at the limit */
        uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
        ssize_t got = getrandom(&seed, sizeof seed, GRND_NONBLOCK);
        (void)got;                  /* no entropy yet: time and pid will do */
        s->per_address = pc_addr_limit_new(opts->max_per_address, total + s->n_workers, seed);
        if (!s->per_address) {
            free(s);
            snprintf(err, errlen, "out of memory");
            return PC_ENOMEM;
        }
    }
    s->workers = calloc(s->n_workers, sizeof *s->workers);
    if (!s->workers) {
        pc_addr_limit_free(s->per_address);
        free(s);
        snprintf(err, errlen, "out of memory");
        return PC_ENOMEM;
    }

    for (unsigned i = 0; i < s->n_workers; i++) {
        s->workers[i].wake_fd = -1;
        s->workers[i].now = monotonic_seconds();
        pc_conn_list_init(&s->workers[i].conns);
    }
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    for (unsigned i = 0; i < s->n_workers; i++) {
        struct worker *w = &s->workers[i];
        w->srv = s;
        w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->wake_fd < 0) {
            e = errno;
            snprintf(err, errlen, "cannot start: %s", strerror(e));
            r = pc_status_from_errno(e);
            goto fail;
        }
        w->daemon = MHD_start_daemon(
            flags, port, on_accept, s, on_request, w,
            /* first, or libmicrohttpd logs the other options' errors itself */
            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
            MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
            MHD_OPTION_SIGPIPE_HANDLED_BY_APP, (int)1,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)opts->connection_timeout,
            /* each daemon may take them all: on_accept keeps the total */
            MHD_OPTION_CONNECTION_LIMIT, total,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, conn_memory,
            MHD_OPTION_URI_LOG_CALLBACK, on_uri, w,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, w,
            MHD_OPTION_NOTIFY_CONNECTION, on_connection, w,
            MHD_OPTION_END);
        if (!w->daemon) {
            snprintf(err, errlen, "cannot listen on %s: libmicrohttpd could not start (see above)",
                     s->address);
            r = PC_EIO;
            goto fail;
        }
    }
    for (unsigned i = 0; i < s->n_workers; i++) {
        struct worker *w = &s->workers[i];
        if ((e = pthread_create(&w->thread, NULL, worker_main, w)) != 0) {
            snprintf(err, errlen, "cannot start serving threads: %s", strerror(e));
            r = pc_status_from_errno(e);
            goto fail;
        }
        w->started = true;
    }
    *out = s;
    return 0;
fail:
    pc_server_stop(s);
    pc_server_free(s);
    return r;
}

const char *pc_server_address(const struct pc_server *s)
{
    return s->address;
}

uint16_t pc_server_port(const struct pc_server *s)
{
    return s->port;
}

void pc_server_stop(struct pc_server *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, true);
    for (unsigned i = 0; i < s->n_workers; i++) {
        uint64_t one = 1;
        if (s->workers[i].wake_fd >= 0) {
            ssize_t wr = write(s->workers[i].wake_fd, &one, sizeof one);
            (void)wr;
        }
    }
    for (unsigned i = 0; i < s->n_workers; i++) {
        struct worker *w = &s->workers[i];
        if (w->started) {
            pthread_join(w->thread, NULL);
            w->started = false;
        }
        if (w->daemon) {
            /* Closes what is left (idle keep-alive connections, or
             * requests past the drain deadline), calling on_completed. */
            MHD_stop_daemon(w->daemon);
            w->daemon = NULL;
        }
    }
}

void pc_server_free(struct pc_server *s)
{
    if (!s)
        return;
    for (unsigned i = 0; i < s->n_workers; i++)
        if (s->workers[i].wake_fd >= 0)
            close(s->workers[i].wake_fd);
    free(s->workers);
    pc_addr_limit_free(s->per_address);
    free(s);
}
