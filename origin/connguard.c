/*
 * Connection guards (connguard.h): the per-address connection table and
 * the per-thread request deadlines.
 */
#include "connguard.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------- client address */

bool pc_addr_key_from(struct pc_addr_key *k, const struct sockaddr *sa)
{
    memset(k, 0, sizeof *k);
    if (!sa)
        return false;
    if (sa->sa_family == AF_INET6) {
        memcpy(k->b, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
        return true;
    }
    if (sa->sa_family == AF_INET) {
        k->b[10] = 0xff;
        k->b[11] = 0xff;
        memcpy(k->b + 12, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return true;
    }
    return false;
}

/* --------------------------------------------------- per-address limit */

struct slot {
    struct pc_addr_key key;
    uint32_t count;             /* 0: empty */
    uint32_t hash;
};

struct pc_addr_limit {
    pthread_mutex_t lock;
    unsigned per_address;
    size_t mask;                /* slots - 1; slots is a power of two */
    size_t used, max_used;
    uint64_t seed;
    struct slot *slots;
};

static uint64_t mix(uint64_t x)
{
    /* splitmix64's finaliser */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9u;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

static uint32_t hash_key(const struct pc_addr_limit *l, const struct pc_addr_key *k)
{
    uint64_t a, b;
    memcpy(&a, k->b, 8);
    memcpy(&b, k->b + 8, 8);
    return (uint32_t)mix(mix(a ^ l->seed) ^ b ^ (l->seed >> 7));
}

struct pc_addr_limit *pc_addr_limit_new(unsigned per_address, unsigned max_addresses,
                                        uint64_t seed)
{
    struct pc_addr_limit *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    /* at most half full: probes stay short */
    size_t slots = 64;
    while (slots < 2 * (size_t)max_addresses)
        slots *= 2;
    l->slots = calloc(slots, sizeof *l->slots);
    if (!l->slots) {
        free(l);
        return NULL;
    }
    pthread_mutex_init(&l->lock, NULL);
    l->per_address = per_address;
    l->mask = slots - 1;
    l->max_used = max_addresses ? max_addresses : 1;
    l->seed = mix(seed + 0x9e3779b97f4a7c15u);
    return l;
}

void pc_addr_limit_free(struct pc_addr_limit *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->lock);
    free(l->slots);
    free(l);
}

/* The slot holding @p k, or the empty slot where it would go.  Always
 * ends: the table is never full (used <= max_used < slots). */
static size_t find(const struct pc_addr_limit *l, const struct pc_addr_key *k, uint32_t h)
{
    size_t i = h & l->mask;
    while (l->slots[i].count &&
           (l->slots[i].hash != h || memcmp(&l->slots[i].key, k, sizeof *k) != 0))
        i = (i + 1) & l->mask;
    return i;
}

bool pc_addr_limit_admits(struct pc_addr_limit *l, const struct pc_addr_key *k)
{
    uint32_t h = hash_key(l, k);
    pthread_mutex_lock(&l->lock);
    bool ok = l->slots[find(l, k, h)].count < l->per_address;
    pthread_mutex_unlock(&l->lock);
    return ok;
}

bool pc_addr_limit_add(struct pc_addr_limit *l, const struct pc_addr_key *k)
{
    uint32_t h = hash_key(l, k);
    bool ok = true;
    pthread_mutex_lock(&l->lock);
    struct slot *s = &l->slots[find(l, k, h)];
    if (s->count) {
        s->count++;
    } else if (l->used < l->max_used) {
        s->key = *k;
        s->hash = h;
        s->count = 1;
        l->used++;
    } else {
        ok = false;
    }
    pthread_mutex_unlock(&l->lock);
    return ok;
}

void pc_addr_limit_remove(struct pc_addr_limit *l, const struct pc_addr_key *k)
{
    uint32_t h = hash_key(l, k);
    pthread_mutex_lock(&l->lock);
    size_t i = find(l, k, h);
    if (l->slots[i].count && --l->slots[i].count == 0) {
        /* Backward-shift deletion: move later entries of the probe run
         * into the hole unless their home slot lies cyclically in
         * (hole, their slot]; no tombstones, so probes never lengthen. */
        l->used--;
        size_t j = i;
        for (;;) {
            j = (j + 1) & l->mask;
            if (!l->slots[j].count)
                break;
            size_t home = l->slots[j].hash & l->mask;
            bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
            if (!stays) {
                l->slots[i] = l->slots[j];
                i = j;
            }
        }
        l->slots[i].count = 0;
    }
    pthread_mutex_unlock(&l->lock);
}

unsigned pc_addr_limit_count(struct pc_addr_limit *l, const struct pc_addr_key *k)
{
    uint32_t h = hash_key(l, k);
    pthread_mutex_lock(&l->lock);
    unsigned n = l->slots[find(l, k, h)].count;
    pthread_mutex_unlock(&l->lock);
    return n;
}

size_t pc_addr_limit_addresses(struct pc_addr_limit *l)
{
    pthread_mutex_lock(&l->lock);
    size_t n = l->used;
    pthread_mutex_unlock(&l->lock);
    return n;
}

/* -------------------------------------------------- request deadlines */

void pc_conn_list_init(struct pc_conn_list *l)
{
    l->head.prev = l->head.next = &l->head;
    l->n = 0;
}

void pc_conn_list_add(struct pc_conn_list *l, struct pc_conn *c)
{
    c->next = l->head.next;
    c->prev = &l->head;
    l->head.next->prev = c;
    l->head.next = c;
    l->n++;
}

void pc_conn_list_remove(struct pc_conn_list *l, struct pc_conn *c)
{
    c->prev->next = c->next;
    c->next->prev = c->prev;
    c->prev = c->next = NULL;
    l->n--;
}

size_t pc_conn_list_sweep(struct pc_conn_list *l, uint32_t now,
                          void (*expire)(void *ud, struct pc_conn *c), void *ud)
{
    size_t n = 0;
    for (struct pc_conn *c = l->head.next; c != &l->head; c = c->next)
        /* signed difference: correct across the clock's wrap */
        if (c->deadline && (int32_t)(now - c->deadline) >= 0) {
            c->deadline = 0;
            expire(ud, c);
            n++;
        }
    return n;
}

size_t pc_conn_list_each_idle(struct pc_conn_list *l, void (*fn)(void *ud, struct pc_conn *c),
                              void *ud)
{
    size_t n = 0;
    for (struct pc_conn *c = l->head.next; c != &l->head; c = c->next)
        if (!c->busy) {
            fn(ud, c);
            n++;
        }
    return n;
}
