"""Idioms of tensor creation, dtype promotion, indexing, shapes, statistics and sorting,
compared with torch: the cases where tapegrad once answered differently."""
import math

import numpy as np
import pytest

import tapegrad as tg


def test_searchsorted_places_nan_and_unsorted_rows_as_torch(torch_ref):
    nan, inf = math.nan, math.inf
    cases = [([1.0, 2.0, nan], [nan, 3.0, 1.5, -inf]),
             ([nan, 1.0, 2.0], [0.0, 1.0, 2.0, nan]),
             ([1.0, nan, nan, 3.0], [2.0, 3.0, 4.0]),
             ([3.0, 1.0, 2.0, 0.0], [0.5, 1.0, 2.5]),
             ([], [1.0])]
    for bounds, values in cases:
        for right in (False, True):
            got = tg.searchsorted(tg.tensor(bounds), tg.tensor(values), right=right)
            want = torch_ref.searchsorted(torch_ref.tensor(bounds), torch_ref.tensor(values),
                                          right=right)
            assert got.tolist() == want.tolist(), (bounds, values, right)
    rows = [[1.0, nan, 5.0], [2.0, 4.0, nan]]
    got = tg.searchsorted(tg.tensor(rows), tg.tensor([[nan, 5.0], [4.0, 9.0]]), side="right")
    want = torch_ref.searchsorted(torch_ref.tensor(rows), torch_ref.tensor([[nan, 5.0], [4.0, 9.0]]),
                                  side="right")
    assert got.tolist() == want.tolist()
