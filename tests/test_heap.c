/* Suite: the timer heap (libportmap/sys/heap.c): ordering, removal from
 * anywhere, re-arming up and down, and the heap's own invariants after
 * every step. */
#include <check.h>
#include <stdlib.h>

#include "check_main.h"
#include "sys/heap.h"

#define N 500

static pm_heap h;
static pm_heap_node nodes[N];

static void setup(void)
{
    h = (pm_heap){ 0 };
    for (int i = 0; i < N; i++)
        nodes[i] = (pm_heap_node){ 0 };
}

static void teardown(void)
{
    pm_heap_free(&h);
}

/* Every parent's key at most its children's, and every node knows where
 * it is. */
static void check_invariants(void)
{
    for (size_t i = 0; i < h.n; i++) {
        ck_assert_uint_eq(h.v[i]->pos, i + 1);
        if (i > 0)
            ck_assert_int_le(h.v[(i - 1) / 2]->key, h.v[i]->key);
    }
}

/* Take the top out until empty: keys come in order. */
static int drain_in_order(void)
{
    int64_t last = INT64_MIN;
    int count = 0;
    pm_heap_node *x;

    while ((x = pm_heap_top(&h))) {
        ck_assert_int_ge(x->key, last);
        last = x->key;
        pm_heap_remove(&h, x);
        ck_assert(!pm_heap_armed(x));
        check_invariants();
        count++;
    }
    return count;
}

START_TEST(top_is_the_smallest_key)
{
    srand(7);
    ck_assert_ptr_null(pm_heap_top(&h));
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(pm_heap_set(&h, &nodes[i], rand() % 1000), 0);
        ck_assert(pm_heap_armed(&nodes[i]));
        check_invariants();
    }
    ck_assert_uint_eq(h.n, N);
    ck_assert_int_eq(drain_in_order(), N);
}
END_TEST

START_TEST(equal_keys_and_sorted_input)
{
    for (int i = 0; i < N; i++)
        pm_heap_set(&h, &nodes[i], i < N / 2 ? 5 : N - i);
    check_invariants();
    ck_assert_int_eq(pm_heap_top(&h)->key, 1);
    ck_assert_int_eq(drain_in_order(), N);
}
END_TEST

START_TEST(remove_from_anywhere)
{
    srand(11);
    for (int i = 0; i < N; i++)
        pm_heap_set(&h, &nodes[i], rand() % 10000);
    /* every third node, from the middle and the ends of the array */
    for (int i = 0; i < N; i += 3) {
        pm_heap_remove(&h, &nodes[i]);
        ck_assert(!pm_heap_armed(&nodes[i]));
        check_invariants();
    }
    /* removing one not armed changes nothing */
    pm_heap_remove(&h, &nodes[0]);
    check_invariants();
    /* the last node of the array, then the top */
    pm_heap_remove(&h, h.v[h.n - 1]);
    pm_heap_remove(&h, pm_heap_top(&h));
    check_invariants();
    ck_assert_int_eq(drain_in_order(), N - (N + 2) / 3 - 2);
}
END_TEST

START_TEST(rearm_moves_up_and_down)
{
    for (int i = 0; i < 10; i++)
        pm_heap_set(&h, &nodes[i], 100 + i * 10);
    /* later: no longer the top */
    pm_heap_set(&h, &nodes[0], 1000);
    check_invariants();
    ck_assert_ptr_eq(pm_heap_top(&h), &nodes[1]);
    /* sooner: the top */
    pm_heap_set(&h, &nodes[9], 1);
    check_invariants();
    ck_assert_ptr_eq(pm_heap_top(&h), &nodes[9]);
    /* re-armed at its own key: still armed once */
    pm_heap_set(&h, &nodes[9], 1);
    ck_assert_uint_eq(h.n, 10);
    /* the order after the moves */
    static const int expect[] = { 9, 1, 2, 3, 4, 5, 6, 7, 8, 0 };
    for (int i = 0; i < 10; i++) {
        pm_heap_node *x = pm_heap_top(&h);
        ck_assert_ptr_eq(x, &nodes[expect[i]]);
        pm_heap_remove(&h, x);
    }
    /* a node taken out is armed again */
    pm_heap_set(&h, &nodes[3], 42);
    ck_assert_ptr_eq(pm_heap_top(&h), &nodes[3]);
    ck_assert_int_eq(nodes[3].key, 42);
}
END_TEST

START_TEST(random_operations_keep_order)
{
    srand(3);
    for (int step = 0; step < 20000; step++) {
        pm_heap_node *x = &nodes[rand() % N];
        if (rand() % 4 == 0)
            pm_heap_remove(&h, x);
        else
            pm_heap_set(&h, x, rand() % 5000);
        if (step % 97 == 0)
            check_invariants();
    }
    check_invariants();
    for (int i = 0; i < N; i++)
        if (pm_heap_armed(&nodes[i]))
            ck_assert_ptr_eq(h.v[nodes[i].pos - 1], &nodes[i]);
    drain_in_order();
}
END_TEST

START_TEST(reserve_then_no_allocation)
{
    ck_assert_int_eq(pm_heap_reserve(&h, N), 0);
    ck_assert_uint_ge(h.cap, N);
    pm_heap_node **v = h.v;
    for (int i = 0; i < N; i++)
        pm_heap_set(&h, &nodes[i], i);
    ck_assert_ptr_eq(h.v, v);
}
END_TEST

static Suite *heap_suite(void)
{
    Suite *s = suite_create("heap");
    TCase *tc = tcase_create("timers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, top_is_the_smallest_key);
    tcase_add_test(tc, equal_keys_and_sorted_input);
    tcase_add_test(tc, remove_from_anywhere);
    tcase_add_test(tc, rearm_moves_up_and_down);
    tcase_add_test(tc, random_operations_keep_order);
    tcase_add_test(tc, reserve_then_no_allocation);
    suite_add_tcase(s, tc);
    return s;
}

PM_CHECK_MAIN(heap_suite)
