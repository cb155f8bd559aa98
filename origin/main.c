/*
 * pagecast-origin: the command line over the catalog (catalog.h) and the
 * HTTP server (server.h).  It parses options, opens the catalog, starts the
 * server, prints the address it listens on, and turns signals into calls:
 * SIGTERM/SIGINT stop gracefully (exit 0), SIGHUP rescans the media
 * directory and reopens the access log.
 *
 * Signals: blocked in this thread before any other thread exists (so every
 * thread inherits the mask) and received here with sigwait(), which makes
 * the handling ordinary code instead of async-signal-safe code.
 *
 * Exit status: 0 after a graceful stop, 1 when it cannot start (one line on
 * stderr says why), 2 for a usage error.
 */
#include "catalog.h"
#include "demo.h"
#include "server.h"
#include "sign_io.h"

#include "pagecast/status.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: pagecast-origin --media DIR [options]\n"
    "\n"
    "Serve every media file under DIR as HLS and DASH, packaging titles in the\n"
    "background into a store of bundles.\n"
    "\n"
    "  -m, --media DIR             media directory (required)\n"
    "  -s, --store DIR             bundle store (default: DIR/.pagecast-store)\n"
    "  -l, --listen HOST:PORT      address to serve (default 127.0.0.1:8080);\n"
    "                              [::1]:PORT for IPv6, :PORT for all IPv4\n"
    "                              interfaces, port 0 picks a free port\n"
    "  -t, --threads N             serving threads (default: number of CPUs)\n"
    "  -w, --workers N             packaging threads (default: half the CPUs, >= 1)\n"
    "      --segment-duration S    target segment duration in seconds (default 6)\n"
    "      --manifest-max-age S    Cache-Control max-age of manifests (default 2)\n"
    "      --connection-timeout S  close connections idle for S seconds (default 30)\n"
    "      --max-connections N     open connections over all threads (default 10000)\n"
    "      --max-connections-per-address N\n"
    "                              open connections per client address (default 0:\n"
    "                              no limit; behind a CDN its nodes carry many each)\n"
    "      --header-timeout S      close a connection whose request has not arrived\n"
    "                              in full S seconds after it could start (default 10)\n"
    "      --drain-timeout S       on SIGTERM, time to finish requests (default 10)\n"
    "      --tcp-notsent-lowat BYTES\n"
    "                              TCP_NOTSENT_LOWAT of each connection (default\n"
    "                              131072; 0: the kernel's; docs/serving.md)\n"
    "      --access-log FILE       append the access log to FILE (default: stdout)\n"
    "      --no-access-log         no access log\n"
    "      --no-watch              do not follow DIR with inotify (SIGHUP rescans)\n"
    "      --demo NODE_MODULES     serve a demo page at / that lists every title and\n"
    "                              plays it with Shaka Player from NODE_MODULES (where\n"
    "                              npm installed it); off by default: not in production\n"
    "      --sign-secret-file FILE serve only signed URLs: requests need a token\n"
    "                              made with a key in FILE (docs/security.md)\n"
    "  -h, --help                  this text\n"
    "  -V, --version               print the version\n"
    "\n"
    "Signals: SIGTERM/SIGINT finish requests in flight and exit 0; SIGHUP\n"
    "rescans DIR and reopens the access log file.\n"
    "\n"
    "usage: pagecast-origin --make-token --sign-secret-file FILE --acl PATH\n"
    "                       [--ttl S | --expires UNIXTIME]\n"
    "\n"
    "Print a token (\"token=...\") that opens PATH (\"/TITLE/*\": every URL of\n"
    "a title) for S seconds (default 3600) or until UNIXTIME; append it to a\n"
    "URL as its query string.\n";

static int usage_error(const char *msg, const char *arg)
{
    if (arg)
        fprintf(stderr, "pagecast-origin: %s: %s\n", msg, arg);
    else
        fprintf(stderr, "pagecast-origin: %s\n", msg);
    fputs("Try 'pagecast-origin --help'.\n", stderr);
    return 2;
}

/* A decimal in [lo, hi]: no sign, no trailing garbage. */
static int parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned *out)
{
    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* HOST:PORT, [V6]:PORT or :PORT.  @p host receives a copy (owned). */
static int parse_listen(const char *s, char **host, uint16_t *port)
{
    const char *colon;
    const char *h = s;
    size_t hl;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -1;
        h = s + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return -1;
        hl = (size_t)(colon - s);
    }
    unsigned p;
    if (parse_uint(colon + 1, 0, 65535, &p) < 0)
        return -1;
    *host = hl ? strndup(h, hl) : strdup("0.0.0.0");
    if (!*host)
        return -1;
    *port = (uint16_t)p;
    return 0;
}

static void log_line(void *ud, enum pc_log_level level, const char *msg)
{
    (void)ud;
    static const char *const prefix[] = { "error: ", "warning: ", "", "" };
    if (level > PC_LOG_INFO)
        return;
    fprintf(stderr, "pagecast-origin: %s%s\n", prefix[level], msg);
}

static int open_log(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

/* Serving many connections and bundles needs many fds: use what we may. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Everything the command line says. */
struct config {
    const char *media, *store, *access_log;
    const char *demo;               /* --demo NODE_MODULES, or NULL */
    int no_access_log, watch;
    unsigned workers, threads, max_age, conn_timeout, max_conn, drain;
    unsigned max_per_address, header_timeout, notsent_lowat;
    uint32_t segment_ms;
    char *host;                     /* owned */
    uint16_t port;
    /* signed URLs */
    const char *sign_file, *acl, *expires;
    const struct pc_sign_keys *sign;    /* NULL: signing off */
    int make_token;
    unsigned ttl;
};

enum {
    OPT_SEGMENT = 256, OPT_MAX_AGE, OPT_CONN_TIMEOUT, OPT_MAX_CONN, OPT_DRAIN,
    OPT_ACCESS_LOG, OPT_NO_ACCESS_LOG, OPT_NO_WATCH, OPT_DEMO,
    OPT_MAX_PER_ADDRESS, OPT_HEADER_TIMEOUT, OPT_NOTSENT_LOWAT,
    OPT_SIGN_FILE, OPT_MAKE_TOKEN, OPT_ACL, OPT_TTL, OPT_EXPIRES,
};

/*
 * Signed URLs: check the options, load the keys (before anything starts,
 * so a bad secret file is a one-line startup error) and, for --make-token,
 * print a token.
 * @return -1 to go on serving, else the exit status.
 */
static int signing(const struct config *cfg, struct pc_sign_keys *keys)
{
    if (!cfg->make_token && (cfg->acl || cfg->ttl || cfg->expires))
        return usage_error("--acl, --ttl and --expires go with --make-token", NULL);
    if (cfg->make_token && !cfg->sign_file)
        return usage_error("--make-token needs --sign-secret-file FILE", NULL);
    if (cfg->make_token && !cfg->acl)
        return usage_error("--make-token needs --acl PATH (e.g. '/title.mp4/*')", NULL);
    if (cfg->ttl && cfg->expires)
        return usage_error("--ttl and --expires contradict each other", NULL);
    /* The demo page plays manifests by URLs it cannot sign, and is not for
     * production, where signing is: one or the other. */
    if (cfg->sign_file && cfg->demo && !cfg->make_token)
        return usage_error("--demo and --sign-secret-file do not go together "
                           "(the demo page is not for production)", NULL);
    if (!cfg->sign_file)
        return -1;
    char err[PATH_MAX + 256], warn[PATH_MAX + 128];
    if (pc_sign_load(cfg->sign_file, keys, err, sizeof err, warn, sizeof warn) < 0) {
        fprintf(stderr, "pagecast-origin: %s\n", err);
        return 1;
    }
    if (warn[0])
        fprintf(stderr, "pagecast-origin: warning: %s\n", warn);
    if (!cfg->make_token)
        return -1;
    uint64_t exp;
    if (cfg->expires) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(cfg->expires, &end, 10);
        if (cfg->expires[0] < '0' || cfg->expires[0] > '9' || errno || *end)
            return usage_error("--expires takes a Unix time in seconds", cfg->expires);
        exp = v;
    } else {
        exp = (uint64_t)time(NULL) + (cfg->ttl ? cfg->ttl : 3600);
    }
    char token[PC_SIGN_TOKEN_MAX + 1];
    const char *why;
    if (pc_sign_make(keys, cfg->acl, exp, token, sizeof token, &why) < 0)
        return usage_error(why, cfg->acl);
    printf("token=%s\n", token);
    return 0;
}

/* Everything after option parsing: run until a stop signal.
 * @return the exit status. */
static int serve(const struct config *cfg)
{
    const char *media = cfg->media, *store = cfg->store, *access_log = cfg->access_log;
    char default_store[PATH_MAX];
    if (!store) {
        if (snprintf(default_store, sizeof default_store, "%s/.pagecast-store", media) >=
            (int)sizeof default_store)
            return usage_error("media directory path too long", media);
        store = default_store;
    }

    int log_fd = -1;
    if (access_log) {
        if ((log_fd = open_log(access_log)) < 0) {
            fprintf(stderr, "pagecast-origin: cannot open the access log %s: %s\n", access_log,
                    strerror(errno));
            return 1;
        }
    } else if (!cfg->no_access_log) {
        log_fd = STDOUT_FILENO;
    }

    /* Before any thread exists: every thread inherits this mask, and only
     * sigwait() below ever sees these signals. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    raise_fd_limit();

    struct pc_catalog_opts copts = {
        .media_dir = media,
        .store_dir = store,
        .workers = cfg->workers,
        .segment_ms = cfg->segment_ms,
        .watch = cfg->watch,
        .log = log_line,
        .ud = NULL,
    };
    struct pc_server_opts sopts = {
        .host = cfg->host,
        .port = cfg->port,
        .threads = cfg->threads,
        .manifest_max_age = cfg->max_age,
        .connection_timeout = cfg->conn_timeout,
        .max_connections = cfg->max_conn,
        .max_per_address = cfg->max_per_address,
        .header_timeout = cfg->header_timeout,
        .drain_timeout = cfg->drain,
        .notsent_lowat = cfg->notsent_lowat,
        .access_log_fd = log_fd,
        .sign = cfg->sign,
    };
    char err[512];
    struct pc_catalog *catalog = NULL;
    struct pc_server *server = NULL;
    struct pc_demo *demo = NULL;
    if (cfg->demo && pc_demo_open(&demo, cfg->demo, err, sizeof err) < 0) {
        fprintf(stderr, "pagecast-origin: %s\n", err);
        if (access_log)
            close(log_fd);
        return 1;
    }
    sopts.demo = demo;
    /* The catalog's own first check is of the media directory; the server's
     * of the address.  Either fails with one line naming the reason. */
    if (pc_catalog_open(&catalog, &copts, err, sizeof err) < 0) {
        fprintf(stderr, "pagecast-origin: %s\n", err);
        pc_demo_free(demo);
        if (access_log)
            close(log_fd);
        return 1;
    }
    if (pc_server_start(&server, catalog, &sopts, err, sizeof err) < 0) {
        fprintf(stderr, "pagecast-origin: %s\n", err);
        pc_catalog_close(catalog);
        pc_demo_free(demo);
        if (access_log)
            close(log_fd);
        return 1;
    }
    printf("pagecast-origin: listening on http://%s/\n", pc_server_address(server));
    fflush(stdout);

    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            fprintf(stderr, "pagecast-origin: SIGHUP: rescanning %s\n", media);
            int r = pc_catalog_rescan(catalog);
            if (r < 0)
                fprintf(stderr, "pagecast-origin: rescan failed: %s\n", pc_status_str(r));
            if (access_log) {
                /* Log rotation: the new file takes the old descriptor's
                 * number atomically, so writers never see a closed fd. */
                int fd = open_log(access_log);
                if (fd < 0 || dup2(fd, log_fd) < 0)
                    fprintf(stderr, "pagecast-origin: cannot reopen the access log %s: %s\n",
                            access_log, strerror(errno));
                if (fd >= 0)
                    close(fd);
            }
            continue;
        }
        fprintf(stderr, "pagecast-origin: %s: finishing requests in flight\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
        break;
    }
    pc_server_stop(server);
    pc_server_free(server);
    pc_catalog_close(catalog);
    pc_demo_free(demo);
    if (access_log)
        close(log_fd);
    fprintf(stderr, "pagecast-origin: stopped\n");
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "media", required_argument, NULL, 'm' },
        { "store", required_argument, NULL, 's' },
        { "listen", required_argument, NULL, 'l' },
        { "threads", required_argument, NULL, 't' },
        { "workers", required_argument, NULL, 'w' },
        { "segment-duration", required_argument, NULL, OPT_SEGMENT },
        { "manifest-max-age", required_argument, NULL, OPT_MAX_AGE },
        { "connection-timeout", required_argument, NULL, OPT_CONN_TIMEOUT },
        { "max-connections", required_argument, NULL, OPT_MAX_CONN },
        { "max-connections-per-address", required_argument, NULL, OPT_MAX_PER_ADDRESS },
        { "header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT },
        { "drain-timeout", required_argument, NULL, OPT_DRAIN },
        { "tcp-notsent-lowat", required_argument, NULL, OPT_NOTSENT_LOWAT },
        { "access-log", required_argument, NULL, OPT_ACCESS_LOG },
        { "no-access-log", no_argument, NULL, OPT_NO_ACCESS_LOG },
        { "no-watch", no_argument, NULL, OPT_NO_WATCH },
        { "demo", required_argument, NULL, OPT_DEMO },
        { "sign-secret-file", required_argument, NULL, OPT_SIGN_FILE },
        { "make-token", no_argument, NULL, OPT_MAKE_TOKEN },
        { "acl", required_argument, NULL, OPT_ACL },
        { "ttl", required_argument, NULL, OPT_TTL },
        { "expires", required_argument, NULL, OPT_EXPIRES },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1)
        ncpu = 1;
    struct config cfg = {
        .threads = (unsigned)ncpu,
        .workers = (unsigned)(ncpu / 2 ? ncpu / 2 : 1),
        .max_age = 2,
        .conn_timeout = 30,
        .max_conn = 10000,
        .header_timeout = 10,
        .drain = 10,
        .notsent_lowat = PC_NOTSENT_LOWAT_DEFAULT,
        .watch = 1,
    };
    const char *listen_arg = "127.0.0.1:8080";

    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":m:s:l:t:w:hV", longopts, NULL)) != -1) {
        switch (ch) {
        case 'm': cfg.media = optarg; break;
        case 's': cfg.store = optarg; break;
        case 'l': listen_arg = optarg; break;
        case 't':
            if (parse_uint(optarg, 1, 1024, &cfg.threads) < 0)
                return usage_error("--threads takes a number from 1 to 1024", optarg);
            break;
        case 'w':
            if (parse_uint(optarg, 1, 256, &cfg.workers) < 0)
                return usage_error("--workers takes a number from 1 to 256", optarg);
            break;
        case OPT_SEGMENT: {
            char *end;
            errno = 0;
            double v = strtod(optarg, &end);
            if (errno || *end || !(v >= 0.5 && v <= 600))
                return usage_error("--segment-duration takes seconds between 0.5 and 600", optarg);
            cfg.segment_ms = (uint32_t)lround(v * 1000);
            break;
        }
        case OPT_MAX_AGE:
            if (parse_uint(optarg, 0, 31536000, &cfg.max_age) < 0)
                return usage_error("--manifest-max-age takes seconds (0 to 31536000)", optarg);
            break;
        case OPT_CONN_TIMEOUT:
            if (parse_uint(optarg, 0, 86400, &cfg.conn_timeout) < 0)
                return usage_error("--connection-timeout takes seconds (0 to 86400; 0: none)", optarg);
            break;
        case OPT_MAX_CONN:
            if (parse_uint(optarg, 1, 1000000, &cfg.max_conn) < 0)
                return usage_error("--max-connections takes a number from 1 to 1000000", optarg);
            break;
        case OPT_MAX_PER_ADDRESS:
            if (parse_uint(optarg, 0, 1000000, &cfg.max_per_address) < 0)
                return usage_error("--max-connections-per-address takes a number from 0 to 1000000",
                                   optarg);
            break;
        case OPT_HEADER_TIMEOUT:
            if (parse_uint(optarg, 0, 3600, &cfg.header_timeout) < 0)
                return usage_error("--header-timeout takes seconds (0 to 3600; 0: none)", optarg);
            break;
        case OPT_DRAIN:
            if (parse_uint(optarg, 0, 3600, &cfg.drain) < 0)
                return usage_error("--drain-timeout takes seconds (0 to 3600)", optarg);
            break;
        case OPT_NOTSENT_LOWAT:
            if (parse_uint(optarg, 0, 64u << 20, &cfg.notsent_lowat) < 0)
                return usage_error("--tcp-notsent-lowat takes bytes (0 to 67108864; 0: the "
                                   "kernel's)", optarg);
            break;
        case OPT_ACCESS_LOG: cfg.access_log = optarg; break;
        case OPT_NO_ACCESS_LOG: cfg.no_access_log = 1; break;
        case OPT_NO_WATCH: cfg.watch = 0; break;
        case OPT_DEMO: cfg.demo = optarg; break;
        case OPT_SIGN_FILE: cfg.sign_file = optarg; break;
        case OPT_MAKE_TOKEN: cfg.make_token = 1; break;
        case OPT_ACL: cfg.acl = optarg; break;
        case OPT_TTL:
            if (parse_uint(optarg, 1, 315360000, &cfg.ttl) < 0)
                return usage_error("--ttl takes seconds (1 to 315360000)", optarg);
            break;
        case OPT_EXPIRES: cfg.expires = optarg; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'V': printf("pagecast-origin %s\n", PC_VERSION); return 0;
        case ':': return usage_error("option needs a value", argv[optind - 1]);
        default: return usage_error("unknown option", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return usage_error("unexpected argument", argv[optind]);
    /* Read-only once loaded; the server uses it until exit. */
    static struct pc_sign_keys keys;
    int r = signing(&cfg, &keys);
    if (r >= 0)
        return r;
    if (cfg.sign_file)
        cfg.sign = &keys;
    if (!cfg.media)
        return usage_error("no media directory given (--media DIR)", NULL);
    if (cfg.access_log && cfg.no_access_log)
        return usage_error("--access-log and --no-access-log contradict each other", NULL);
    if (parse_listen(listen_arg, &cfg.host, &cfg.port) < 0)
        return usage_error("--listen takes HOST:PORT", listen_arg);

    r = serve(&cfg);
    free(cfg.host);
    return r;
}
