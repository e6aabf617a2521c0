/*
 * The PCP exchanges under way: found by their nonce when a reply comes
 * (a hash table, not a look through every exchange), and their resends
 * kept in a timer heap, so that a round with a thousand renewals under
 * way costs what is due in it. Both in the backend's state (pcp_states);
 * a mapping is in them from start to stop of its exchange.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pcp/pcp_int.h"

#define INDEX_MIN 64

static pcp_states *states(portmap_client *c)
{
    return pm_backend_state_if_any(c, PORTMAP_METHOD_PCP);
}

/* The nonce is random: its first bytes, mixed, spread the table. */
static size_t nonce_hash(const uint8_t *nonce)
{
    uint64_t h;

    memcpy(&h, nonce, sizeof(h));
    h ^= h >> 31;
    h *= 0x9e3779b97f4a7c15ull;
    return (size_t)(h ^ (h >> 29));
}

static void index_put(pcp_index *ix, portmap_mapping *m)
{
    size_t mask = ix->cap - 1, i = nonce_hash(m->nonce) & mask;

    while (ix->slot[i]) {
        if (ix->slot[i] == m)
            return;
        i = (i + 1) & mask;
    }
    ix->slot[i] = m;
    ix->n++;
}

/* Room for one more, the table kept at most half full. */
static int index_room(pcp_index *ix)
{
    size_t cap = ix->cap ? ix->cap * 2 : INDEX_MIN;
    pcp_index bigger;

    if ((ix->n + 1) * 2 <= ix->cap)
        return 0;
    bigger = (pcp_index){ calloc(cap, sizeof(*ix->slot)), cap, 0 };
    if (!bigger.slot)
        return -1;
    for (size_t i = 0; i < ix->cap; i++)
        if (ix->slot[i])
            index_put(&bigger, ix->slot[i]);
    free(ix->slot);
    *ix = bigger;
    return 0;
}

/* The slot holding m, or cap. Looked for from its nonce's slot, then
 * everywhere (a nonce changed under way would leave it elsewhere). */
static size_t index_slot(const pcp_index *ix, const portmap_mapping *m)
{
    size_t mask = ix->cap - 1, i;

    if (!ix->cap)
        return 0;
    for (i = nonce_hash(m->nonce) & mask; ix->slot[i]; i = (i + 1) & mask)
        if (ix->slot[i] == m)
            return i;
    for (i = 0; i < ix->cap; i++)
        if (ix->slot[i] == m)
            return i;
    return ix->cap;
}

/* Take m out and close the gap: the entries after it that could sit in
 * its slot move back, so a lookup never stops at a hole short of them. */
static void index_del(pcp_index *ix, const portmap_mapping *m)
{
    size_t mask = ix->cap - 1, i = index_slot(ix, m), j;

    if (i >= ix->cap)
        return;
    ix->slot[i] = NULL;
    ix->n--;
    for (j = (i + 1) & mask; ix->slot[j]; j = (j + 1) & mask) {
        size_t home = nonce_hash(ix->slot[j]->nonce) & mask;
        /* leave it when its home lies cyclically in (i, j] */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays)
            continue;
        ix->slot[i] = ix->slot[j];
        ix->slot[j] = NULL;
        i = j;
    }
}

static int is_exchange(const portmap_mapping *m, int fam, const uint8_t *nonce,
                       uint8_t protocol, uint16_t internal_port)
{
    return m->op != PM_OP_NONE && m->op_method == PORTMAP_METHOD_PCP && m->fam == fam &&
           memcmp(m->nonce, nonce, PM_NONCE_LEN) == 0 && protocol == (uint8_t)m->proto &&
           internal_port == m->internal_port;
}

/* m's node is in the heap (its place there says so): a state dropped and
 * made again meanwhile holds none of the old exchanges. */
static int in_heap(const pm_heap *h, const pm_heap_node *x)
{
    return x->pos && x->pos <= h->n && h->v[x->pos - 1] == x;
}

int pm_pcp_xchg_add(portmap_client *c, portmap_mapping *m)
{
    pcp_states *all = states(c);

    if (!all || index_room(&all->index) != 0 ||
        pm_heap_reserve(&all->resends, all->resends.n + 1) != 0)
        return -1;
    index_put(&all->index, m);
    pm_pcp_xchg_rearm(c, m);
    return 0;
}

void pm_pcp_xchg_remove(portmap_client *c, portmap_mapping *m)
{
    pcp_states *all = states(c);

    if (all && in_heap(&all->resends, &m->op_timer))
        pm_heap_remove(&all->resends, &m->op_timer);
    m->op_timer.pos = 0;
    if (all)
        index_del(&all->index, m);
}

void pm_pcp_xchg_rearm(portmap_client *c, portmap_mapping *m)
{
    pcp_states *all = states(c);

    if (!all)
        return;
    if (!in_heap(&all->resends, &m->op_timer))
        m->op_timer.pos = 0;
    /* room was made when it was added */
    pm_heap_set(&all->resends, &m->op_timer, m->retx.next_ms);
}

portmap_mapping *pm_pcp_xchg_find(portmap_client *c, int fam, const uint8_t *nonce,
                                  uint8_t protocol, uint16_t internal_port)
{
    pcp_states *all = states(c);
    const pcp_index *ix = all ? &all->index : NULL;
    size_t mask;

    if (!ix || !ix->cap)
        return NULL;
    mask = ix->cap - 1;
    for (size_t i = nonce_hash(nonce) & mask; ix->slot[i]; i = (i + 1) & mask)
        if (is_exchange(ix->slot[i], fam, nonce, protocol, internal_port))
            return ix->slot[i];
    return NULL;
}

int64_t pm_pcp_xchg_due(portmap_client *c)
{
    pcp_states *all = states(c);
    pm_heap_node *x = all ? pm_heap_top(&all->resends) : NULL;

    return x ? x->key : PM_NEVER;
}

portmap_mapping *pm_pcp_xchg_next(portmap_client *c, int64_t now)
{
    pcp_states *all = states(c);
    pm_heap_node *x = all ? pm_heap_top(&all->resends) : NULL;

    if (!x || x->key > now)
        return NULL;
    pm_heap_remove(&all->resends, x);
    return (portmap_mapping *)((char *)x - offsetof(portmap_mapping, op_timer));
}

void pm_pcp_xchg_free(pcp_states *all)
{
    free(all->index.slot);
    all->index = (pcp_index){ 0 };
    pm_heap_free(&all->resends);
}
