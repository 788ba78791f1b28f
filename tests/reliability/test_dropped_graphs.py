"""A graph built and dropped without backward must not break or slow later backwards on the
same tape (issue #9, item 5)."""
import tapegrad as tg


def test_dropped_huge_graph_does_not_break_later_backwards():
    x = tg.tensor(1.0, requires_grad=True)
    big = x.expand(100000, 100000).sum()   # 10^10 elements, never materialised
    del big
    y = x * 3.0                            # same open tape, after the dropped entries
    y.backward()
    assert x.grad.item() == 3.0


def test_dropped_huge_graph_costs_no_arena_later():
    # the arenas cover what a backward reaches, so the dropped 10^10-element node costs nothing
    x = tg.tensor(1.0, requires_grad=True)
    v = tg.ones(3, requires_grad=True)
    big = x.expand(100000, 100000).sum() * 2.0
    del big
    y = (v * v).sum() * x
    y.backward()
    assert x.grad.item() == 3.0 and v.grad.tolist() == [2.0, 2.0, 2.0]
