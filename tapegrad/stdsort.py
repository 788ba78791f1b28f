"""The orders torch's CPU kernels leave ties in, in Python: libstdc++'s std::sort,
std::nth_element and std::partial_sort (sort with stable=False, topk, mode, nanmedian sort
(value, index) pairs with them) and ATen's quick_select_template (kthvalue's).  Where values
tie, the index these leave first is the one whose element gets the gradient.  `topk_ties`:
topk's picks among ties (topk, and multinomial's draws without replacement, a topk)."""
import math

import numpy as np


def _lg(n):
    return n.bit_length() - 1


def _move_median_to_first(a, result, x, y, z, less):
    if less(a[x], a[y]):
        if less(a[y], a[z]):
            a[result], a[y] = a[y], a[result]
        elif less(a[x], a[z]):
            a[result], a[z] = a[z], a[result]
        else:
            a[result], a[x] = a[x], a[result]
    elif less(a[x], a[z]):
        a[result], a[x] = a[x], a[result]
    elif less(a[y], a[z]):
        a[result], a[z] = a[z], a[result]
    else:
        a[result], a[y] = a[y], a[result]


def _unguarded_partition(a, first, last, pivot, less):
    while True:
        while less(a[first], a[pivot]):
            first += 1
        last -= 1
        while less(a[pivot], a[last]):
            last -= 1
        if not first < last:
            return first
        a[first], a[last] = a[last], a[first]
        first += 1


def _partition_pivot(a, first, last, less):
    mid = first + (last - first) // 2
    _move_median_to_first(a, first, first + 1, mid, last - 1, less)
    return _unguarded_partition(a, first + 1, last, first, less)


def _unguarded_linear_insert(a, last, less):
    val = a[last]
    nxt = last - 1
    while less(val, a[nxt]):
        a[last] = a[nxt]
        last = nxt
        nxt -= 1
    a[last] = val


def _insertion_sort(a, first, last, less):
    if first == last:
        return
    for i in range(first + 1, last):
        if less(a[i], a[first]):
            val = a[i]
            a[first + 1:i + 1] = a[first:i]
            a[first] = val
        else:
            _unguarded_linear_insert(a, i, less)


def _adjust_heap(a, first, hole, length, value, less):
    top = hole
    child = hole
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if less(a[first + child], a[first + child - 1]):
            child -= 1
        a[first + hole] = a[first + child]
        hole = child
    if length & 1 == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        a[first + hole] = a[first + child - 1]
        hole = child - 1
    parent = (hole - 1) // 2
    while hole > top and less(a[first + parent], value):
        a[first + hole] = a[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    a[first + hole] = value


def _make_heap(a, first, last, less):
    n = last - first
    if n < 2:
        return
    parent = (n - 2) // 2
    while True:
        _adjust_heap(a, first, parent, n, a[first + parent], less)
        if parent == 0:
            return
        parent -= 1


def _heap_select(a, first, middle, last, less):
    _make_heap(a, first, middle, less)
    for i in range(middle, last):
        if less(a[i], a[first]):
            value = a[i]
            a[i] = a[first]
            _adjust_heap(a, first, 0, middle - first, value, less)


def _sort_heap(a, first, last, less):
    while last - first > 1:
        last -= 1
        value = a[last]
        a[last] = a[first]
        _adjust_heap(a, first, 0, last - first, value, less)


def _introsort_loop(a, first, last, depth, less):
    while last - first > 16:
        if depth == 0:
            _heap_select(a, first, last, last, less)
            _sort_heap(a, first, last, less)
            return
        depth -= 1
        cut = _partition_pivot(a, first, last, less)
        _introsort_loop(a, cut, last, depth, less)
        last = cut


def std_sort(a, less):
    """libstdc++'s std::sort of list a in place (introsort, then insertion sort)."""
    n = len(a)
    if n < 2:
        return
    _introsort_loop(a, 0, n, _lg(n) * 2, less)
    if n > 16:
        _insertion_sort(a, 0, 16, less)
        for i in range(16, n):
            _unguarded_linear_insert(a, i, less)
    else:
        _insertion_sort(a, 0, n, less)


def std_nth_element(a, nth, less):
    """libstdc++'s std::nth_element of list a in place."""
    first, last = 0, len(a)
    if first == last or nth == last:
        return
    depth = _lg(last) * 2
    while last - first > 3:
        if depth == 0:
            _heap_select(a, first, nth + 1, last, less)
            a[first], a[nth] = a[nth], a[first]
            return
        depth -= 1
        cut = _partition_pivot(a, first, last, less)
        if cut <= nth:
            first = cut
        else:
            last = cut
    _insertion_sort(a, first, last, less)


def std_partial_sort(a, middle, less):
    """libstdc++'s std::partial_sort of list a in place: the `middle` least first, sorted."""
    _heap_select(a, 0, middle, len(a), less)
    _sort_heap(a, 0, middle, less)


def quick_select(values, k):
    """The index torch's quick_select_template (Sorting.cpp: Sedgewick's partition with a
    median-of-three pivot, NaN largest) leaves at position k of a row `values` (a list, which
    it reorders)."""
    arr, pos = values, list(range(len(values)))

    def gt(x, y):
        return x > y or x != x and y == y

    def swap(i, j):
        arr[i], arr[j] = arr[j], arr[i]
        pos[i], pos[j] = pos[j], pos[i]
    lo, hi = 0, len(arr) - 1
    while hi > lo:
        if hi == lo + 1:
            if gt(arr[lo], arr[hi]):
                swap(lo, hi)
            break
        swap((lo + hi) >> 1, lo + 1)
        if gt(arr[lo + 1], arr[hi]):
            swap(lo + 1, hi)
        if gt(arr[lo], arr[hi]):
            swap(lo, hi)
        if gt(arr[lo + 1], arr[lo]):
            swap(lo + 1, lo)
        i, j, pivot = lo + 1, hi, arr[lo]
        while True:
            i += 1
            while gt(pivot, arr[i]):
                i += 1
            j -= 1
            while gt(arr[j], pivot):
                j -= 1
            if j < i:
                break
            swap(i, j)
        swap(lo, j)
        if j <= k:
            lo = i
        if j >= k:
            hi = j - 1
    return pos[k]


def by_value_less(x, y):
    """torch's KeyValueCompAsc on (value, index) pairs: by value, NaN the largest."""
    return x[0] < y[0] or x[0] == x[0] and y[0] != y[0]


def by_value_greater(x, y):
    """torch's KeyValueCompDesc: by value, largest first, NaN before all."""
    return x[0] > y[0] or x[0] != x[0] and y[0] == y[0]


def dim_last(a, d):
    """a's dim d moved last (a itself when it is the last)."""
    return a if d == a.ndim - 1 else np.moveaxis(a, d, -1)


def take_last(a, idx):
    """np.take_along_axis(a, idx, -1): for rows (2-d), its one fancy index without its Python
    layer."""
    if a.ndim == 2:
        return a[np.arange(a.shape[0])[:, None], idx]
    return np.take_along_axis(a, idx, -1)


def topk_ties(arr, idx, k, d, largest, sorted_):
    """idx (topk's k indices along d, from a stable argsort) with each row where ties decide
    them (equal values among the k, or the k-th value also beyond them; with sorted=False
    every row) picked as torch's CPU kernel picks them: (value, index) pairs by std::partial_sort when k * 64 <= n, else
    std::nth_element at k - 1 and, when sorted, std::sort of the k - 1 before it."""
    rows = dim_last(arr, d)
    top = take_last(rows, dim_last(idx, d))
    nan = rows.dtype.kind == "f" and np.isnan(rows).any()   # (no nan: == alone)

    def equal(a, b):
        return (a == b) | (np.isnan(a) & np.isnan(b)) if nan else a == b
    n = rows.shape[-1]
    if sorted_ or k * 64 <= n:
        last = top[..., -1:]
        tied = (equal(top[..., 1:], top[..., :-1]).any(-1) | (
            equal(rows, last).sum(-1) > equal(top, last).sum(-1))).reshape(-1).nonzero()[0]
        if not tied.size:
            return idx
    else:   # (unsorted: nth_element's order, every row)
        tied = range(math.prod(rows.shape[:-1]))
    less = by_value_greater if largest else by_value_less
    flat_rows = rows.reshape(-1, n)
    out = np.moveaxis(idx, d, -1).copy()
    flat_out = out.reshape(-1, k)
    for r in list(tied):
        queue = list(zip(flat_rows[r].tolist(), range(n)))
        if k * 64 <= n:
            std_partial_sort(queue, k, less)
        else:
            std_nth_element(queue, k - 1, less)
            if sorted_:
                head = queue[:k - 1]
                std_sort(head, less)
                queue[:k - 1] = head
        flat_out[r] = [j for _, j in queue[:k]]
    return np.moveaxis(out, -1, d)
