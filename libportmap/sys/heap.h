/*
 * An intrusive binary min-heap of timers: each element embeds a
 * pm_heap_node (its key, a deadline in monotonic ms, and its place in the
 * heap), so arming, re-arming and removing one is O(log n) and needs no
 * allocation once the heap has room (pm_heap_reserve). The engine keeps
 * its mappings' deadlines in one, so a round touches what is due and not
 * every mapping held.
 */
#ifndef PM_SYS_HEAP_H
#define PM_SYS_HEAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct pm_heap_node {
    int64_t key;
    size_t pos;   /* 1 + its index in the heap; 0 when not in one */
} pm_heap_node;

typedef struct pm_heap {
    pm_heap_node **v;
    size_t n, cap;
} pm_heap;

/* Room for at least n nodes; 0, or -1 when out of memory. */
int pm_heap_reserve(pm_heap *h, size_t n);
/* Arm x at key, or move it there if armed; -1 (x left as it was) when
 * it was not armed and there is no room and none to be had. */
int pm_heap_set(pm_heap *h, pm_heap_node *x, int64_t key);
/* Disarm x; nothing when it is not armed. */
void pm_heap_remove(pm_heap *h, pm_heap_node *x);
void pm_heap_free(pm_heap *h);

static inline int pm_heap_armed(const pm_heap_node *x)
{
    return x->pos != 0;
}

/* The node with the smallest key, NULL when empty. */
static inline pm_heap_node *pm_heap_top(const pm_heap *h)
{
    return h->n ? h->v[0] : NULL;
}

#endif /* PM_SYS_HEAP_H */
