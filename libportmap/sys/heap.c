/*
 * The timer heap (heap.h): an array of node pointers in heap order; each
 * node knows its index, so a timer is re-armed or removed where it is.
 */
#include <stdlib.h>

#include "sys/heap.h"

static void place(pm_heap *h, size_t i, pm_heap_node *x)
{
    h->v[i] = x;
    x->pos = i + 1;
}

static void sift_up(pm_heap *h, size_t i)
{
    pm_heap_node *x = h->v[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->v[parent]->key <= x->key)
            break;
        place(h, i, h->v[parent]);
        i = parent;
    }
    place(h, i, x);
}

static void sift_down(pm_heap *h, size_t i)
{
    pm_heap_node *x = h->v[i];

    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->n)
            break;
        if (child + 1 < h->n && h->v[child + 1]->key < h->v[child]->key)
            child++;
        if (x->key <= h->v[child]->key)
            break;
        place(h, i, h->v[child]);
        i = child;
    }
    place(h, i, x);
}

int pm_heap_reserve(pm_heap *h, size_t n)
{
    size_t cap = h->cap ? h->cap : 16;
    pm_heap_node **v;

    if (n <= h->cap)
        return 0;
    while (cap < n)
        cap *= 2;
    v = realloc(h->v, cap * sizeof(*v));
    if (!v)
        return -1;
    h->v = v;
    h->cap = cap;
    return 0;
}

int pm_heap_set(pm_heap *h, pm_heap_node *x, int64_t key)
{
    int64_t old = x->key;

    if (!x->pos) {
        if (pm_heap_reserve(h, h->n + 1) != 0)
            return -1;
        x->key = key;
        place(h, h->n++, x);
        sift_up(h, h->n - 1);
        return 0;
    }
    x->key = key;
    if (key < old)
        sift_up(h, x->pos - 1);
    else if (key > old)
        sift_down(h, x->pos - 1);
    return 0;
}

void pm_heap_remove(pm_heap *h, pm_heap_node *x)
{
    size_t i;
    pm_heap_node *last;

    if (!x->pos)
        return;
    i = x->pos - 1;
    x->pos = 0;
    last = h->v[--h->n];
    if (last == x)
        return;
    /* the last node fills the hole, then goes up or down from there */
    place(h, i, last);
    if (i > 0 && h->v[(i - 1) / 2]->key > last->key)
        sift_up(h, i);
    else
        sift_down(h, i);
}

void pm_heap_free(pm_heap *h)
{
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}
