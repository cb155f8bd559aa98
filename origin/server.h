/*
 * The HTTP server: libmicrohttpd glue between requests and the catalog.
 * server.c is the only file that includes <microhttpd.h>.
 *
 * Threads.  One libmicrohttpd daemon per thread, all listening on the same
 * address (SO_REUSEPORT, so the kernel spreads connections), each in epoll
 * mode without an internal thread: the thread polls the daemon's epoll fd
 * and calls MHD_run() itself (docs/MEASUREMENTS: libmicrohttpd's internal
 * epoll thread stalls at 128 ready events).  Handlers never block: a title
 * being packaged is a 503, not a wait.
 *
 * Bytes.  Manifests and small segments go out as memory responses (header
 * and body in one sendmsg; segments point into the bundle's mapping), other
 * segments by sendfile; after a segment, the track's next one is read
 * ahead.  Nothing is copied in user space.  docs/serving.md has why.
 *
 * Signals are not handled here: the caller blocks them in every thread
 * before pc_server_start (so the threads it starts inherit the mask) and
 * turns them into calls to pc_server_stop.  pc_server_start ignores
 * SIGPIPE process-wide, which libmicrohttpd needs to use sendfile.
 */
#ifndef PC_SERVER_H
#define PC_SERVER_H

#include <stddef.h>
#include <stdint.h>

struct pc_catalog;
struct pc_demo;
struct pc_server;
struct pc_sign_keys;

/* The default TCP_NOTSENT_LOWAT of every connection (--tcp-notsent-lowat): the socket reads as writable
 * only while less than this is queued and not yet sent, so each sendfile
 * adds to a short queue and its bytes go out in that call, on this
 * thread, instead of sitting in the socket until the client's ACKs push
 * them out (on loopback, in the client's own context), and the kernel
 * holds less per connection.  Not lower: with TCP_CORK, which
 * libmicrohttpd sets around sendfile, the partial segment the cork holds
 * back keeps a socket with a small mark unwritable until the cork's 200 ms
 * timer fires, and on loopback (MSS 65483) 16 KiB and 64 KiB marks stalled
 * fresh connections that way where 128 KiB did not.
 * docs/serving.md section 7 has the measurements, and the cost: the
 * slowest video requests wait longer when the CPUs are saturated.
 * PAGECAST_NOTSENT_LOWAT in the environment overrides the option
 * (benchmarking). */
#define PC_NOTSENT_LOWAT_DEFAULT (128 * 1024)

struct pc_server_opts {
    const char *host;               /* numeric address or name to bind */
    uint16_t port;                  /* 0: pick a free port */
    unsigned threads;               /* serving threads (daemons); 0: 1 */
    unsigned manifest_max_age;      /* Cache-Control max-age of manifests, s */
    unsigned connection_timeout;    /* idle seconds before a connection is closed */
    unsigned max_connections;       /* over all threads; 0: 10000 */
    unsigned max_per_address;       /* open connections per client address; 0: no limit */
    unsigned header_timeout;        /* seconds a request may take to arrive; 0: no limit */
    unsigned drain_timeout;         /* graceful stop: seconds to finish requests */
    unsigned notsent_lowat;         /* TCP_NOTSENT_LOWAT of each connection, bytes;
                                     * 0: the kernel's; PC_NOTSENT_LOWAT_DEFAULT */
    int access_log_fd;              /* one line per request; -1: no log */
    const struct pc_demo *demo;     /* the demo page (demo.h), or NULL: off;
                                     * must outlive the server */
    /* Signed URLs (origin/sign.h): NULL serves everyone; else every request
     * but /healthz, /metrics and OPTIONS needs a valid token (403), and
     * manifests pass it on.  Must outlive the server. */
    const struct pc_sign_keys *sign;
};

/**
 * Bind @p opts->host:@p opts->port and start serving titles of @p catalog
 * (which must outlive the server).
 * @param err  on failure one line such as "cannot listen on 127.0.0.1:8080:
 *             Address already in use"
 * @return 0 and *@p out (the caller owns it: pc_server_stop then
 *         pc_server_free), or a negative PC_E* status.
 */
int pc_server_start(struct pc_server **out, struct pc_catalog *catalog,
                    const struct pc_server_opts *opts, char *err, size_t errlen);

/** The address actually bound, as "HOST:PORT" ("[::1]:8080" for IPv6). */
const char *pc_server_address(const struct pc_server *s);

/** The port actually bound (the real one when opts->port was 0). */
uint16_t pc_server_port(const struct pc_server *s);

/**
 * Graceful stop: stop accepting connections, let requests in flight finish
 * (at most opts->drain_timeout seconds), close idle keep-alive connections,
 * and join the threads.  Responses sent while draining carry
 * "Connection: close".  Safe to call once, from any one thread.
 */
void pc_server_stop(struct pc_server *s);

/** Free a stopped server.  Safe with NULL. */
void pc_server_free(struct pc_server *s);

#endif
