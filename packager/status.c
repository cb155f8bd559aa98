/*
 * The one table of pagecast statuses: messages, HTTP codes, errno mapping.
 */
#include "pagecast/status.h"

#include <errno.h>
#include <stddef.h>

struct pc_status_info {
    int http;
    const char *msg;
};

static const struct pc_status_info status_info[] = {
#define PC__STATUS_INFO(name, http, msg) { http, msg },
    PC_STATUS_MAP(PC__STATUS_INFO)
#undef PC__STATUS_INFO
};

static const struct pc_status_info *lookup(int status)
{
    int i = status - (PC__STATUS_FIRST + 1);
    if (status >= 0 || i < 0 || i >= (int)(sizeof status_info / sizeof status_info[0]))
        return NULL;
    return &status_info[i];
}

const char *pc_status_str(int status)
{
    if (status == PC_OK)
        return "ok";
    const struct pc_status_info *s = lookup(status);
    return s ? s->msg : "unknown error";
}

int pc_status_http(int status)
{
    if (status == PC_OK)
        return 200;
    const struct pc_status_info *s = lookup(status);
    return s ? s->http : 500;
}

int pc_status_from_errno(int err)
{
    switch (err) {
    case 0:       return PC_OK;
    case ENOMEM:  return PC_ENOMEM;
    case ENOENT:
    case ENOTDIR: return PC_ENOENT;
    case EACCES:
    case EPERM:
    case EROFS:   return PC_EACCES;
    case ENOSPC:
    case EDQUOT:  return PC_ENOSPC;
    case EMFILE:
    case ENFILE:  return PC_EMFILE;   /* back-pressure, not a bug */
    case EFBIG:   return PC_ETOOBIG;
    case EINVAL:  return PC_EINVAL;
    default:      return PC_EIO;
    }
}
