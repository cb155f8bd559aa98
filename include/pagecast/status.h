/*
 * pagecast status codes: one list, written once, expanded everywhere.
 *
 * Every fallible function in pagecast returns 0 on success or a negative
 * PC_E* status.  Each status carries its HTTP meaning and a short message,
 * so no handler invents a bare 404 and no caller maps errors twice.  The
 * list is an X-macro (as libuv's UV_ERRNO_MAP): XX(NAME, http, "message").
 */
#ifndef PAGECAST_STATUS_H
#define PAGECAST_STATUS_H

#define PC_STATUS_MAP(XX)                                                     \
    XX(NOMEM,       503, "out of memory")                                     \
    XX(IO,          500, "input/output error")                                \
    XX(NOENT,       404, "not found")                                         \
    XX(ACCES,       403, "permission denied")                                 \
    XX(NOSPC,       507, "no space left on device")                           \
    XX(MFILE,       503, "too many open files")                               \
    XX(INVAL,       400, "invalid argument")                                  \
    XX(FORMAT,      422, "not a valid bundle")                                \
    XX(VERSION,     422, "unsupported bundle version")                        \
    XX(CORRUPT,     422, "bundle is corrupt")                                 \
    XX(TRUNCATED,   422, "bundle is truncated")                               \
    XX(MEDIA,       422, "not a readable media file")                         \
    XX(NOSTREAM,    422, "no usable audio or video stream")                   \
    XX(UNALIGNED,   422, "renditions' keyframes do not align")                \
    XX(TOOBIG,      413, "too large")                                         \
    XX(BUSY,        503, "busy, try again later")                             \
    XX(RANGE,       416, "range not satisfiable")                             \
    XX(CANCELED,    503, "cancelled")                                         \
    XX(METHOD,      405, "method not allowed")                                \
    XX(PRECONDITION, 412, "precondition failed")                              \
    XX(URITOOLONG,  414, "URI too long")                                      \
    XX(HEADERTOOBIG, 431, "request header fields too large")                  \
    XX(BADREQUEST,  400, "bad request")                                       \
    XX(NOTIMPL,     501, "not implemented")                                   \
    XX(FORBIDDEN,   403, "forbidden")

enum pc_status {
    PC_OK = 0,
#define PC__STATUS_ENUM(name, http, msg) PC_E##name,
    PC__STATUS_FIRST = -1000,
    PC_STATUS_MAP(PC__STATUS_ENUM)
#undef PC__STATUS_ENUM
    PC__STATUS_LAST
};

/** @return a static, human-readable message for @p status (never NULL). */
const char *pc_status_str(int status);

/** @return the HTTP status code that @p status maps to (500 if unknown). */
int pc_status_http(int status);

/** @return the PC_E* status for a positive errno value. */
int pc_status_from_errno(int err);

#endif
