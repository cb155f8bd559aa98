/*
 * Unit tests for the status table (packager/status.c): each status's message
 * and HTTP code, written out here by hand rather than re-expanded from
 * PC_STATUS_MAP, so a change to the table is a visible change to a test; and
 * the one errno -> status mapping.
 */
#include <criterion/criterion.h>

#include "pagecast/status.h"

#include <errno.h>
#include <string.h>

static const struct {
    int status;
    int http;
    const char *msg;
} expected[] = {
    { PC_ENOMEM,     503, "out of memory" },
    { PC_EIO,        500, "input/output error" },
    { PC_ENOENT,     404, "not found" },
    { PC_EACCES,     403, "permission denied" },
    { PC_ENOSPC,     507, "no space left on device" },
    { PC_EMFILE,     503, "too many open files" },
    { PC_EINVAL,     400, "invalid argument" },
    { PC_EFORMAT,    422, "not a valid bundle" },
    { PC_EVERSION,   422, "unsupported bundle version" },
    { PC_ECORRUPT,   422, "bundle is corrupt" },
    { PC_ETRUNCATED, 422, "bundle is truncated" },
    { PC_EMEDIA,     422, "not a readable media file" },
    { PC_ENOSTREAM,  422, "no usable audio or video stream" },
    { PC_EUNALIGNED, 422, "renditions' keyframes do not align" },
    { PC_ETOOBIG,    413, "too large" },
    { PC_EBUSY,      503, "busy, try again later" },
    { PC_ERANGE,     416, "range not satisfiable" },
    { PC_ECANCELED,  503, "cancelled" },
    { PC_EMETHOD,    405, "method not allowed" },
    { PC_EPRECONDITION, 412, "precondition failed" },
    { PC_EURITOOLONG, 414, "URI too long" },
    { PC_EHEADERTOOBIG, 431, "request header fields too large" },
    { PC_EBADREQUEST, 400, "bad request" },
    { PC_ENOTIMPL,   501, "not implemented" },
    { PC_EFORBIDDEN, 403, "forbidden" },
};
#define NEXPECTED (sizeof expected / sizeof expected[0])

Test(status, every_status_has_its_message_and_http_code)
{
    for (size_t i = 0; i < NEXPECTED; i++) {
        cr_assert_str_eq(pc_status_str(expected[i].status), expected[i].msg,
                         "status %d", expected[i].status);
        cr_assert_eq(pc_status_http(expected[i].status), expected[i].http,
                     "status %d (%s)", expected[i].status, expected[i].msg);
    }
}

Test(status, table_lists_every_status_once)
{
    /* The enum runs contiguously between its sentinels: nothing is missing
     * from the table above and nothing is listed twice. */
    cr_assert_eq(PC__STATUS_LAST - PC__STATUS_FIRST - 1, (int)NEXPECTED);
    for (size_t i = 0; i < NEXPECTED; i++) {
        cr_assert_lt(expected[i].status, 0, "statuses are negative");
        for (size_t j = i + 1; j < NEXPECTED; j++) {
            cr_assert_neq(expected[i].status, expected[j].status);
            cr_assert_str_neq(expected[i].msg, expected[j].msg);
        }
    }
}

Test(status, ok_is_zero_and_200)
{
    cr_assert_eq(PC_OK, 0);
    cr_assert_str_eq(pc_status_str(PC_OK), "ok");
    cr_assert_eq(pc_status_http(PC_OK), 200);
}

Test(status, unknown_status_is_500)
{
    int unknown[] = { PC__STATUS_FIRST, PC__STATUS_LAST, -1, 1, 404, -100000 };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        cr_assert_str_eq(pc_status_str(unknown[i]), "unknown error", "%d", unknown[i]);
        cr_assert_eq(pc_status_http(unknown[i]), 500, "%d", unknown[i]);
    }
}

Test(status, errno_maps_to_status_and_http)
{
    static const struct {
        int err, status, http;
    } map[] = {
        { 0,       PC_OK,      200 },
        { ENOSPC,  PC_ENOSPC,  507 },
        { EDQUOT,  PC_ENOSPC,  507 },
        { EMFILE,  PC_EMFILE,  503 },    /* out of fds is back-pressure */
        { ENFILE,  PC_EMFILE,  503 },
        { ENOENT,  PC_ENOENT,  404 },
        { ENOTDIR, PC_ENOENT,  404 },
        { EACCES,  PC_EACCES,  403 },
        { EPERM,   PC_EACCES,  403 },
        { EROFS,   PC_EACCES,  403 },
        { ENOMEM,  PC_ENOMEM,  503 },
        { EFBIG,   PC_ETOOBIG, 413 },
        { EINVAL,  PC_EINVAL,  400 },
        { EIO,     PC_EIO,     500 },
        { EBADF,   PC_EIO,     500 },    /* anything else is an I/O error */
        { EXDEV,   PC_EIO,     500 },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        int s = pc_status_from_errno(map[i].err);
        cr_assert_eq(s, map[i].status, "%s -> %d, want %d", strerror(map[i].err), s,
                     map[i].status);
        cr_assert_eq(pc_status_http(s), map[i].http, "%s", strerror(map[i].err));
    }
}
