/*
 * Unit tests for origin/connguard.c: client address keys, the per-address
 * connection table (limits, cleanup, collisions checked against a plain
 * model) and the request deadlines of a thread's connection list.
 */
#include <criterion/criterion.h>

#include "connguard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

static struct pc_addr_key v4(const char *s)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };
    cr_assert_eq(inet_pton(AF_INET, s, &sin.sin_addr), 1);
    struct pc_addr_key k;
    cr_assert(pc_addr_key_from(&k, (struct sockaddr *)&sin));
    return k;
}

static struct pc_addr_key v6(const char *s)
{
    struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
    cr_assert_eq(inet_pton(AF_INET6, s, &sin6.sin6_addr), 1);
    struct pc_addr_key k;
    cr_assert(pc_addr_key_from(&k, (struct sockaddr *)&sin6));
    return k;
}

static struct pc_addr_key nth(unsigned i)
{
    struct pc_addr_key k;
    memset(&k, 0, sizeof k);
    memcpy(k.b + 12, &i, sizeof i);
    return k;
}

/* ------------------------------------------------------- client address */

Test(addr_key, ipv4_is_kept_as_mapped_ipv6)
{
    struct pc_addr_key a = v4("192.0.2.7"), b = v6("::ffff:192.0.2.7");
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0, "the same client over both families");
    static const uint8_t want[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7 };
    cr_assert_eq(memcmp(a.b, want, 16), 0);
    struct pc_addr_key c = v6("2001:db8::1");
    cr_assert_eq(c.b[0], 0x20);
    cr_assert_eq(c.b[15], 1);
}

Test(addr_key, other_families_have_no_key)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    struct pc_addr_key k;
    cr_assert_not(pc_addr_key_from(&k, (struct sockaddr *)&sun));
    cr_assert_not(pc_addr_key_from(&k, NULL));
}

/* --------------------------------------------------- per-address limit */

Test(addr_limit, an_address_at_its_limit_is_refused_until_one_closes)
{
    struct pc_addr_limit *l = pc_addr_limit_new(3, 100, 1);
    cr_assert(l);
    struct pc_addr_key a = v4("10.0.0.1"), b = v4("10.0.0.2");
    for (int i = 0; i < 3; i++) {
        cr_assert(pc_addr_limit_admits(l, &a), "connection %d of 3", i + 1);
        cr_assert(pc_addr_limit_add(l, &a));
    }
    cr_assert_not(pc_addr_limit_admits(l, &a), "a fourth connection");
    cr_assert(pc_addr_limit_admits(l, &b), "another address is not affected");
    cr_assert_eq(pc_addr_limit_count(l, &a), 3);
    pc_addr_limit_remove(l, &a);
    cr_assert(pc_addr_limit_admits(l, &a), "one closed: room again");
    cr_assert_eq(pc_addr_limit_count(l, &a), 2);
    pc_addr_limit_free(l);
}

Test(addr_limit, closed_connections_leave_nothing_behind)
{
    struct pc_addr_limit *l = pc_addr_limit_new(5, 1000, 2);
    for (unsigned i = 0; i < 1000; i++) {
        struct pc_addr_key k = nth(i);
        cr_assert(pc_addr_limit_add(l, &k));
        cr_assert(pc_addr_limit_add(l, &k));
    }
    cr_assert_eq(pc_addr_limit_addresses(l), 1000);
    for (unsigned i = 0; i < 1000; i++) {
        struct pc_addr_key k = nth(i);
        pc_addr_limit_remove(l, &k);
        pc_addr_limit_remove(l, &k);
    }
    cr_assert_eq(pc_addr_limit_addresses(l), 0);
    for (unsigned i = 0; i < 1000; i++) {
        struct pc_addr_key k = nth(i);
        cr_assert_eq(pc_addr_limit_count(l, &k), 0);
    }
    pc_addr_limit_free(l);
}

Test(addr_limit, the_table_never_holds_more_addresses_than_its_bound)
{
    struct pc_addr_limit *l = pc_addr_limit_new(1, 10, 3);
    for (unsigned i = 0; i < 10; i++) {
        struct pc_addr_key k = nth(i);
        cr_assert(pc_addr_limit_add(l, &k));
    }
    struct pc_addr_key k = nth(10);
    cr_assert_not(pc_addr_limit_add(l, &k), "an 11th address is not counted");
    cr_assert_eq(pc_addr_limit_addresses(l), 10);
    struct pc_addr_key k0 = nth(0);
    pc_addr_limit_remove(l, &k0);
    cr_assert(pc_addr_limit_add(l, &k), "room after one address left");
    pc_addr_limit_free(l);
}

/* Random adds and removes against a plain array of counts.  Any mistake
 * in the backward-shift deletion loses or misplaces an entry; the small
 * table (32 addresses in 64 slots, half full) has probe runs that wrap
 * around its end under most seeds. */
static void model_check(unsigned keys, uint64_t seeds, int ops, int check_every)
{
    for (uint64_t seed = 0; seed < seeds; seed++) {
        struct pc_addr_limit *l = pc_addr_limit_new(1000, keys, seed);
        unsigned model[300] = { 0 };
        uint64_t x = 88172645463325252u + seed;
        for (int op = 0; op < ops; op++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            unsigned i = (unsigned)(x % keys);
            struct pc_addr_key k = nth(i * 2654435761u);
            if ((x >> 32) % 2 == 0 || model[i] == 0) {
                cr_assert(pc_addr_limit_add(l, &k));
                model[i]++;
            } else {
                pc_addr_limit_remove(l, &k);
                model[i]--;
            }
            if (op % check_every == 0)
                for (unsigned j = 0; j < keys; j++) {
                    struct pc_addr_key kj = nth(j * 2654435761u);
                    cr_assert_eq(pc_addr_limit_count(l, &kj), model[j], "seed %llu op %d key %u",
                                 (unsigned long long)seed, op, j);
                }
        }
        size_t held = 0;
        for (unsigned j = 0; j < keys; j++)
            held += model[j] > 0;
        cr_assert_eq(pc_addr_limit_addresses(l), held);
        pc_addr_limit_free(l);
    }
}

Test(addr_limit, counts_match_a_model_through_collisions_and_deletions)
{
    model_check(300, 4, 200000, 997);
    model_check(32, 64, 20000, 1);
}

/* -------------------------------------------------- request deadlines */

struct expired {
    int fds[16];
    size_t n;
};

static void on_expire(void *ud, struct pc_conn *c)
{
    struct expired *e = ud;
    e->fds[e->n++] = c->fd;
}

/* @p n zeroed connections with fds fd0, fd0 + 1, ..., all in @p l. */
static void conns_in_list(struct pc_conn_list *l, struct pc_conn *c, int n, int fd0)
{
    pc_conn_list_init(l);
    memset(c, 0, (size_t)n * sizeof *c);
    for (int i = 0; i < n; i++) {
        c[i].fd = fd0 + i;
        pc_conn_list_add(l, &c[i]);
    }
}

Test(deadlines, a_connection_expires_once_at_its_deadline)
{
    struct pc_conn_list l;
    struct pc_conn c[3];
    conns_in_list(&l, c, 3, 10);
    pc_conn_arm(&c[0], 100, 10);       /* due at 110 */
    pc_conn_arm(&c[1], 100, 20);       /* due at 120 */
    pc_conn_arm(&c[2], 100, 10);
    pc_conn_arm(&c[2], 100, 0);        /* cleared: the request arrived */
    struct expired e = { .n = 0 };
    cr_assert_eq(pc_conn_list_sweep(&l, 109, on_expire, &e), 0);
    cr_assert_eq(pc_conn_list_sweep(&l, 110, on_expire, &e), 1);
    cr_assert_eq(e.fds[0], 10);
    cr_assert_eq(pc_conn_list_sweep(&l, 115, on_expire, &e), 0, "expires once");
    cr_assert_eq(pc_conn_list_sweep(&l, 500, on_expire, &e), 1);
    cr_assert_eq(e.fds[1], 11);
    cr_assert_eq(pc_conn_list_sweep(&l, 10000, on_expire, &e), 0, "a cleared one never");
    cr_assert_eq(l.n, 3);
}

Test(deadlines, removed_connections_are_not_swept)
{
    struct pc_conn_list l;
    pc_conn_list_init(&l);
    struct pc_conn a = { .fd = 1 }, b = { .fd = 2 }, c = { .fd = 3 };
    pc_conn_list_add(&l, &a);
    pc_conn_list_add(&l, &b);
    pc_conn_list_add(&l, &c);
    pc_conn_arm(&a, 0, 1);
    pc_conn_arm(&b, 0, 1);
    pc_conn_arm(&c, 0, 1);
    pc_conn_list_remove(&l, &b);
    cr_assert_eq(l.n, 2);
    struct expired e = { .n = 0 };
    cr_assert_eq(pc_conn_list_sweep(&l, 1, on_expire, &e), 2);
    cr_assert((e.fds[0] == 1 && e.fds[1] == 3) || (e.fds[0] == 3 && e.fds[1] == 1));
}

Test(deadlines, the_clock_may_wrap)
{
    struct pc_conn_list l;
    pc_conn_list_init(&l);
    struct pc_conn c = { .fd = 7 };
    pc_conn_list_add(&l, &c);
    pc_conn_arm(&c, UINT32_MAX - 2, 5);    /* due at 2, after the wrap */
    cr_assert_neq(c.deadline, 0u);
    struct expired e = { .n = 0 };
    cr_assert_eq(pc_conn_list_sweep(&l, UINT32_MAX, on_expire, &e), 0);
    cr_assert_eq(pc_conn_list_sweep(&l, 1, on_expire, &e), 0);
    cr_assert_eq(pc_conn_list_sweep(&l, 2, on_expire, &e), 1);
    pc_conn_arm(&c, UINT32_MAX, 1);        /* would be 0, which means none */
    cr_assert_neq(c.deadline, 0u);
}

/* ------------------------------------------------------------ draining */

Test(draining, only_connections_without_a_request_in_are_idle)
{
    struct pc_conn_list l;
    struct pc_conn c[4];
    conns_in_list(&l, c, 4, 20);
    c[1].busy = true;                   /* answering a request */
    c[3].busy = true;
    pc_conn_arm(&c[2], 0, 5);           /* waiting for its first request */
    struct expired e = { .n = 0 };
    cr_assert_eq(pc_conn_list_each_idle(&l, on_expire, &e), 2);
    cr_assert_eq(e.n, 2);
    cr_assert((e.fds[0] == 20 && e.fds[1] == 22) || (e.fds[0] == 22 && e.fds[1] == 20));
    c[1].busy = false;                  /* its response completed */
    e.n = 0;
    cr_assert_eq(pc_conn_list_each_idle(&l, on_expire, &e), 3);
    pc_conn_list_remove(&l, &c[0]);
    e.n = 0;
    cr_assert_eq(pc_conn_list_each_idle(&l, on_expire, &e), 2, "a removed one is not visited");
    cr_assert_eq(l.n, 3, "visiting removes nothing");
}
