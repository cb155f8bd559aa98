/*
 * Connection guards: the two limits on what one client connection may hold
 * that libmicrohttpd 0.9.75 does not give (docs/security.md).
 *
 *  - A bound on the time a request takes to arrive (--header-timeout).
 *    libmicrohttpd has only an idle timeout, which every byte restarts, so
 *    a client trickling its request a byte at a time holds its connection
 *    for ever.  Each connection has a deadline: from its accept for its
 *    first request, and from the end of each response for the next one,
 *    which may first idle (--connection-timeout) as keep-alive allows.  The
 *    deadline is cleared once a request has arrived in full.  The serving
 *    thread sweeps its own list once a second and closes what is past it.
 *    Arming and clearing are stores of an integer: no system call, no lock.
 *
 *  - A limit on the connections one client address holds
 *    (--max-connections-per-address).  One table for all serving threads:
 *    a mutex taken once when a connection opens and once when it closes,
 *    never per request; open addressing sized at start from the total
 *    connection limit, so it never allocates afterwards and cannot grow
 *    past it.  IPv4 addresses are kept as IPv4-mapped IPv6.
 *
 * Nothing here includes <microhttpd.h>: server.c calls in from its
 * callbacks, and the unit tests (tests/unit/test_connguard.c) drive the
 * same functions with a clock of their own.
 */
#ifndef PC_CONNGUARD_H
#define PC_CONNGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* ------------------------------------------------------- client address */

struct pc_addr_key {
    uint8_t b[16];              /* IPv6, or IPv4-mapped IPv6 (::ffff:a.b.c.d) */
};

/** @return true and *@p k for an AF_INET or AF_INET6 @p sa, else false. */
bool pc_addr_key_from(struct pc_addr_key *k, const struct sockaddr *sa);

/* --------------------------------------------------- per-address limit */

struct pc_addr_limit;

/**
 * A table allowing @p per_address connections per address, for at most
 * @p max_addresses addresses holding connections at once.
 * @param seed  mixed into the hash, so that no client can choose
 *              addresses that collide
 * @return the table (owned: pc_addr_limit_free), or NULL without memory.
 */
struct pc_addr_limit *pc_addr_limit_new(unsigned per_address, unsigned max_addresses,
                                        uint64_t seed);
void pc_addr_limit_free(struct pc_addr_limit *l);

/** May @p k open another connection (fewer than per_address open)? */
bool pc_addr_limit_admits(struct pc_addr_limit *l, const struct pc_addr_key *k);

/**
 * Count a connection of @p k.  @return false when the table is full
 * (more addresses than max_addresses): the connection is not counted, and
 * must not be removed.
 */
bool pc_addr_limit_add(struct pc_addr_limit *l, const struct pc_addr_key *k);

/** Uncount a connection counted by pc_addr_limit_add. */
void pc_addr_limit_remove(struct pc_addr_limit *l, const struct pc_addr_key *k);

/** Connections of @p k counted now. */
unsigned pc_addr_limit_count(struct pc_addr_limit *l, const struct pc_addr_key *k);

/** Addresses with at least one connection counted now. */
size_t pc_addr_limit_addresses(struct pc_addr_limit *l);

/* -------------------------------------------------- request deadlines */

/* One client connection, owned by the serving thread that accepted it. */
struct pc_conn {
    struct pc_conn *prev, *next;
    int fd;
    uint32_t deadline;          /* seconds on the thread's clock; 0: none */
    bool busy;                  /* a request is in (its line was read) and
                                 * its response not yet complete */
    bool counted;               /* counted in the per-address table */
    struct pc_addr_key addr;
};

/* A serving thread's connections (a circular list around @p head). */
struct pc_conn_list {
    struct pc_conn head;
    size_t n;
};

void pc_conn_list_init(struct pc_conn_list *l);
void pc_conn_list_add(struct pc_conn_list *l, struct pc_conn *c);
void pc_conn_list_remove(struct pc_conn_list *l, struct pc_conn *c);

/** Arm @p c's deadline @p secs from @p now; 0 @p secs clears it. */
static inline void pc_conn_arm(struct pc_conn *c, uint32_t now, uint32_t secs)
{
    uint32_t d = now + secs;
    c->deadline = !secs ? 0 : d ? d : 1;    /* 0 means none, even at the wrap */
}

/**
 * Call @p expire for every connection of @p l whose deadline is at or
 * before @p now, and clear those deadlines (each expires once).  @p expire
 * must not remove connections from the list.
 * @return how many expired.
 */
size_t pc_conn_list_sweep(struct pc_conn_list *l, uint32_t now,
                          void (*expire)(void *ud, struct pc_conn *c), void *ud);

/**
 * Call @p fn for every connection of @p l that is not busy: idle between
 * requests, or still sending its first request line.  @p fn must not
 * remove connections from the list.
 * @return how many.
 */
size_t pc_conn_list_each_idle(struct pc_conn_list *l, void (*fn)(void *ud, struct pc_conn *c),
                              void *ud);

#endif
