/*
 * The I/O side of signed URLs (sign.h is the pure side): reading the
 * secret file at startup, and the per-request check the server calls,
 * which reads the clock and logs refusals.  docs/security.md describes
 * the scheme; docs/operations.md how to run it.
 */
#ifndef PC_SIGN_IO_H
#define PC_SIGN_IO_H

#include "sign.h"

#include <stddef.h>

/**
 * Read the keys from the secret file @p path (sign.h: one key per line).
 * @param err   on failure one line naming the file and the reason, e.g.
 *              "cannot read the secret file /etc/k: No such file or directory"
 * @param warn  on success, a warning to print ("" if none): the file can be
 *              read by other users
 * @return 0, or a negative PC_E* status.
 */
int pc_sign_load(const char *path, struct pc_sign_keys *keys, char *err, size_t errlen,
                 char *warn, size_t warnlen);

/**
 * The server's hook: check the raw request target @p target (@p len bytes)
 * against @p keys now.  A refusal is logged on stderr, one line naming the
 * method, the path (never the query, so never the token) and the reason;
 * at most PC_SIGN_LOG_PER_SECOND lines a second, and a count of the lines
 * left out, so a flood of bad tokens cannot flood the log.
 * @param t  on success the token, to pass on to manifests
 * @return 0, or PC_EFORBIDDEN (403).
 */
#define PC_SIGN_LOG_PER_SECOND 20
int pc_sign_request(const struct pc_sign_keys *keys, const char *method, const char *target,
                    size_t len, struct pc_sign_token *t);

#endif
