"""A view made with grad mode off (no_grad, inference_mode) and changed in place with grad
mode on, as torch's: refused when the change needs autograd (the view's base requires grad,
or the other operand does), also through a view made of such a view, with torch's message;
allowed under no_grad again, on views of tensors that need no gradient, on `.detach()` and
`.data`.  Differential tests against torch skip without it; the rest runs on tapegrad alone."""
import pytest

import tapegrad
from tapegrad import errors


def _base(m, rg=True, leaf=False):
    x = m.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=rg)
    return x if leaf or not rg else x * 1


def _no_grad_view(m, rg=True, leaf=False, mode="no_grad"):
    y = _base(m, rg, leaf)
    with (m.no_grad() if mode == "no_grad" else m.inference_mode()):
        v = y[:2]
    return y, v


def _grad_other(m):
    return m.ones(2, 2, requires_grad=True)


# name -> f(m): what is done to a view made with grad mode off
CASES = {
    "mul_ non-leaf base": lambda m: _no_grad_view(m)[1].mul_(2),
    "mul_ leaf base": lambda m: _no_grad_view(m, leaf=True)[1].mul_(2),
    "add_ other needs grad": lambda m: _no_grad_view(m)[1].add_(_grad_other(m)),
    "base needs no grad": lambda m: _no_grad_view(m, rg=False)[1].mul_(2),
    "base needs no grad, other does": lambda m: _no_grad_view(m, rg=False)[1].add_(
        _grad_other(m)),
    "zero_": lambda m: _no_grad_view(m)[1].zero_(),
    "copy_": lambda m: _no_grad_view(m)[1].copy_(m.ones(2, 2)),
    "fill_": lambda m: _no_grad_view(m)[1].fill_(3.0),
    "clamp_": lambda m: _no_grad_view(m)[1].clamp_(0, 1),
    "exp_": lambda m: _no_grad_view(m)[1].exp_(),
    "t_": lambda m: _no_grad_view(m)[1].t_(),
    "unsqueeze_": lambda m: _no_grad_view(m)[1].unsqueeze_(0),
    "view of it, grad mode": lambda m: _no_grad_view(m)[1][:1].mul_(2),
    "t() of it, grad mode": lambda m: _no_grad_view(m)[1].t().mul_(2),
    "view() of it, grad mode": lambda m: _no_grad_view(m)[1].view(4).mul_(2),
    "squeeze(0) of it": lambda m: _no_grad_view(m)[1][:1].squeeze(0).mul_(2),
    "two views of it": lambda m: _no_grad_view(m)[1][0][1:].zero_(),
    "view of it, base needs no grad": lambda m: _no_grad_view(m, rg=False)[1][:1].add_(
        m.ones(1, 2, requires_grad=True)),
    "setitem int": lambda m: _no_grad_view(m)[1].__setitem__(0, 5.0),
    "setitem two ints": lambda m: _no_grad_view(m)[1].__setitem__((0, 1), 5.0),
    "setitem slice": lambda m: _no_grad_view(m)[1].__setitem__(slice(0, 1), 5.0),
    "setitem column": lambda m: _no_grad_view(m)[1].__setitem__((slice(None), 1), 5.0),
    "setitem full slice": lambda m: _no_grad_view(m)[1].__setitem__(slice(None), 5.0),
    "setitem ellipsis": lambda m: _no_grad_view(m)[1].__setitem__(Ellipsis, 5.0),
    "setitem None": lambda m: _no_grad_view(m)[1].__setitem__(None, 5.0),
    "setitem list": lambda m: _no_grad_view(m)[1].__setitem__([0], 5.0),
    "setitem mask": lambda m: _no_grad_view(m)[1].__setitem__(m.tensor([True, False]), 5.0),
    "setitem, base needs no grad": lambda m: _no_grad_view(m, rg=False)[1].__setitem__(
        0, m.ones(2, requires_grad=True)),
    "unbind under no_grad": lambda m: _unbound(m).mul_(2),
    "inference_mode": lambda m: _no_grad_view(m, mode="inference")[1].mul_(2),
    "inference_mode, view of it": lambda m: _no_grad_view(m, leaf=True,
                                                          mode="inference")[1][:1].mul_(2),
    # allowed
    "under no_grad again": lambda m: _again_under_no_grad(m),
    "int tensor": lambda m: _int_view(m).add_(1),
    "detach()": lambda m: _no_grad_view(m)[1].detach().mul_(2),
    ".data": lambda m: _no_grad_view(m)[1].data.mul_(2),
    "out of place": lambda m: _no_grad_view(m)[1] * 2,
    "view made in grad mode": lambda m: _base(m)[:2].mul_(2),
    "base changed in place": lambda m: _base_changed(m),
}


def _unbound(m):
    y = _base(m)
    with m.no_grad():
        return y.unbind(0)[0]


def _again_under_no_grad(m):
    y, v = _no_grad_view(m)
    with m.no_grad():
        v.mul_(2)
    return y


def _int_view(m):
    i = m.arange(6).view(3, 2)
    with m.no_grad():
        return i[:2]


def _base_changed(m):
    y, v = _no_grad_view(m)
    y.mul_(2)      # the base, in grad mode: allowed (torch refuses a later use of v only)
    return y


def _outcome(m, fn):
    try:
        r = fn(m)
    except RuntimeError as e:
        return "RuntimeError", str(e)
    return "ok", r.detach().numpy().tolist(), r.requires_grad


@pytest.mark.parametrize("name", sorted(CASES))
def test_views_made_without_grad_as_torch(name):
    torch = pytest.importorskip("torch")
    assert _outcome(tapegrad, CASES[name]) == _outcome(torch, CASES[name])


def _uses(m, mode):
    """What a view made with grad mode off of a tensor that requires grad is, as torch's: it
    requires grad (a leaf without grad_fn), what it is used in records, and the gradient
    that reaches it goes nowhere (not to its .grad nor its base; autograd.grad calls it
    unused); its hooks never run; a view of it made with grad mode on has a grad_fn."""
    import warnings
    x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    with (m.no_grad() if mode == "no_grad" else m.inference_mode()):
        v, first, piece = x[1:], y[0], y.unbind()[2]
        plain = m.ones(3)[1:]
    seen = []
    v.register_hook(lambda g: seen.append(g))
    w = v[1:]
    out = [[(t.requires_grad, t.is_leaf, t.grad_fn is None) for t in (v, first, piece, plain)],
           w.grad_fn.name(), (v * 2).grad_fn.name()]
    loss = (v * 2).sum() + first * 3 + (piece * w).sum()
    out.append(loss.requires_grad)
    try:
        m.autograd.grad(loss, v, retain_graph=True)
    except RuntimeError as e:
        out.append(str(e))
    loss.backward()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out += [x.grad, v.grad, seen, repr(v)]
    return out


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode"])
def test_uses_of_a_view_made_without_grad_as_torch(mode):
    # the view needed no gradient: loss did not require grad, backward raised
    torch = pytest.importorskip("torch")
    assert _uses(tapegrad, mode) == _uses(torch, mode)


# ---- without torch ----------------------------------------------------------------------------
NO_GRAD_TEXT = (
    "A view was created in no_grad mode and is being modified inplace with grad mode enabled. "
    "Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify "
    "your code by moving both the view and the inplace either both inside the no_grad block (if "
    "you don't want the inplace to be tracked) or both outside (if you want the inplace to be "
    "tracked).")


def test_torchs_message():
    _, v = _no_grad_view(tapegrad)
    with pytest.raises(RuntimeError) as e:
        v.mul_(2)
    assert str(e.value) == NO_GRAD_TEXT
    assert v.tolist() == [[1.0, 2.0], [3.0, 4.0]]      # nothing changed
    _, v = _no_grad_view(tapegrad, leaf=True)          # (before the leaf's own error)
    with pytest.raises(RuntimeError) as e:
        v.add_(1)
    assert str(e.value) == NO_GRAD_TEXT


def test_a_view_made_of_it_is_named():
    _, v = _no_grad_view(tapegrad)
    with pytest.raises(RuntimeError) as e:
        v[:1].squeeze(0).mul_(2)
    assert str(e.value) == NO_GRAD_TEXT.replace(
        "A view was created in", "Output 0 of Squeeze1 is a view of a view which was created in")
    with pytest.raises(RuntimeError, match="^Output 0 of Select is a view of a view"):
        v[1] = 0.0
    with pytest.raises(RuntimeError, match="^A view was created in no_grad mode"):
        v[[1]] = 0.0                                   # (index_put_ on v itself)


def test_inference_mode_has_its_own_text():
    _, v = _no_grad_view(tapegrad, mode="inference")
    with pytest.raises(RuntimeError) as e:
        v.mul_(2)
    assert str(e.value) == errors.INFERENCE_VIEW_INPLACE.format(prefix=errors.VIEW_MADE)
    assert "inference_mode block" in str(e.value)


def test_what_stays_allowed():
    y, v = _no_grad_view(tapegrad)
    with tapegrad.no_grad():
        v.mul_(2)                                      # under no_grad again
    assert y.tolist() == [[2.0, 4.0], [6.0, 8.0], [5.0, 6.0]]
    _, w = _no_grad_view(tapegrad, rg=False)
    w.mul_(2)                                          # nothing needs a gradient
    assert not w.requires_grad
    _, v = _no_grad_view(tapegrad)
    v.detach().mul_(2)
    u = _base(tapegrad)[:2]                            # made in grad mode
    u.mul_(2)
    assert u.grad_fn is not None
    i = tapegrad.arange(4)
    with tapegrad.no_grad():
        iv = i[:2]
    iv.add_(1)                                         # not a float view: torch's is plain
    assert i.tolist() == [1, 2, 2, 3]


def test_the_record_goes_with_the_view():
    from tapegrad.views import _WITHOUT_GRAD
    y = _base(tapegrad)
    with tapegrad.no_grad():
        for _ in range(5000):
            v = y[:2]
    assert len(_WITHOUT_GRAD) < 200                    # dead views' records are dropped
    del v
    for _ in range(50):                                # (some may reuse the dead view's id)
        u = (y * 1)[:2]
        u.mul_(2)


# ---- a piece of unbind / split used after its memory changed in place ------------------------
def _pieces(m, leaf=False, how="unbind"):
    x = m.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]], requires_grad=True)
    y = x if leaf else x * 1
    return x, y, {"unbind": lambda: y.unbind(0), "split": lambda: y.split(1),
                  "chunk": lambda: y.chunk(2), "unbind1": lambda: y.unbind(1)}[how]()


def _changed(m, what="piece", leaf=False, how="unbind"):
    """The pieces, after one of them (or their base, or another view of it) changed in
    place under no_grad (with grad mode on: "base", "row")."""
    x, y, p = _pieces(m, leaf, how)
    if what == "base":
        y.mul_(2)
    elif what == "row":
        y[0].mul_(2)
    else:
        with m.no_grad():
            (y if what == "base no_grad" else p[0]).mul_(2)
    return x, p


def _used_before(m):
    x, y, p = _pieces(m)
    z = (p[1] * 2).sum()
    with m.no_grad():
        p[0].mul_(2)
    z.backward()
    return x.grad


def _used_under_no_grad(m):
    _, p = _changed(m)
    with m.no_grad():
        return p[1] * 2


# name -> f(m): a use of a piece after the change: torch refuses it (its grad_fn cannot be
# made again) where grad mode is on and the piece requires grad
PIECE_USES = {
    "the changed piece": lambda m: _changed(m)[1][0] * 2,
    "another piece": lambda m: _changed(m)[1][1] * 2,
    "a method of it": lambda m: _changed(m)[1][0].sum(),
    "a view of it": lambda m: _changed(m)[1][0][1:],
    "stack of them": lambda m: m.stack(_changed(m)[1]),
    "base changed under no_grad": lambda m: _changed(m, "base no_grad")[1][1] * 2,
    "base changed, grad mode": lambda m: _changed(m, "base")[1][1] * 2,
    "a row changed, grad mode": lambda m: _changed(m, "row")[1][2] + 1,
    "pieces of a leaf": lambda m: _changed(m, leaf=True)[1][0] * 2,
    "split": lambda m: _changed(m, how="split")[1][1] * 2,
    "chunk": lambda m: _changed(m, how="chunk")[1][0] * 2,
    "unbind(1)": lambda m: _changed(m, how="unbind1")[1][1] * 2,
    "backward": lambda m: (_changed(m)[1][1] * 2).sum().backward(),
    # allowed
    "used before the change": _used_before,
    "detach()": lambda m: _changed(m)[1][0].detach() * 2,
    "under no_grad": _used_under_no_grad,
}


def _piece_outcome(m, fn):
    try:
        r = fn(m)
    except RuntimeError as e:
        return "RuntimeError", str(e)
    return "ok", r.detach().numpy().tolist(), r.requires_grad


@pytest.mark.parametrize("name", sorted(PIECE_USES))
def test_piece_used_after_a_change_as_torch(name):
    torch = pytest.importorskip("torch")
    assert _piece_outcome(tapegrad, PIECE_USES[name]) == _piece_outcome(torch,
                                                                        PIECE_USES[name])


# ---- iteration is unbind(0), as torch's Tensor.__iter__ --------------------------------------
def _iterated(m):
    out = []
    v = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
    pieces = list(v * 1)
    out.append([type(p.grad_fn).__name__ for p in pieces])
    out.append([p.grad_fn.next_functions[0][0] is pieces[0].grad_fn.next_functions[0][0]
                for p in pieces])
    try:
        pieces[0].mul_(2)
        out.append("changed")
    except RuntimeError as e:
        out.append(str(e).split(".")[0])
    s = sum(x * x for x in v)
    s.backward()
    out.append(v.grad.tolist())
    w = m.tensor([[1.0, 2.0], [3.0, 4.0]])
    rows = list(w)
    w.add_(1)    # the rows are views of w
    out.append([rows[1].tolist(), rows[1]._version, rows[0].shape == (2,)])
    out.append([p.tolist() for p in m.tensor([5.0, 6.0])])
    return out


def test_iteration_is_unbind():
    got = _iterated(tapegrad)
    assert got[0] == ["UnbindBackward0"] * 3 and all(got[1])
    assert got[2] == "Output 0 of Unbind is a view and is being modified inplace"
    assert got[3:] == [[2.0, 4.0, 6.0], [[4.0, 5.0], 1, True], [5.0, 6.0]]
    torch = pytest.importorskip("torch")
    assert got == _iterated(torch)


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 4), (5,), ()])
def test_permute_checks_in_torchs_order(torch_ref, shape):
    """permute checks the number of dims first, then each dim's range and whether an earlier
    one named the same dim, as torch: a wrong count is its sparse_coo message even with a dim
    out of range, a duplicate before an out-of-range dim is the duplicate's; no dims at all
    is its missing-argument TypeError."""
    import numpy as np
    spellings = [(1, 0), (0, 1), (-1, 0), (2, 0, 1), (-1, -2, -3), (0,), (-1,), (),
                 ((1, 0),), ([2, 1, 0],), (np.int64(1), 0), (0, 0), (0, 5), (1, 0, 2, 3),
                 (0, 0, 5), (0, 5, 0), (0, -3, 1), (5,)]

    def run(lib):
        x = lib.zeros(shape)
        out = []
        for dims in spellings:
            try:
                y = x.permute(*dims)
                out.append((tuple(y.shape), y.stride()))
            except (RuntimeError, IndexError, TypeError) as e:
                out.append((type(e).__name__, str(e)))
        return out
    assert run(tapegrad) == run(torch_ref)


def test_permute_kept_permutations_give_first_calls_results(torch_ref):
    """permute keeps each checked spelling of its dims (per number of dims): a repeated
    call, of the same tensor or of one with another number of dims, and a bool or numpy int
    equal to a kept int, give what a first call gives, as torch (errors included); .T too."""
    import numpy as np
    spellings = [(1, 0), (-1, 0), (2, 0, 1), (-1, -2, -3), (0,), (-1,), ((1, 0),),
                 ([2, 1, 0],), (np.int64(1), 0), (0, 0), (0, 5), (5,), (1, 0, 2, 3)]

    def run(lib):
        out = []
        for _ in range(2):
            for shape in [(2, 3), (2, 3, 4), (5,), (), (2, 3)]:
                x = lib.zeros(shape, requires_grad=True) * 1
                for dims in spellings:
                    try:
                        y = x.permute(*dims)
                        out.append((tuple(y.shape), y.stride(), type(y.grad_fn).__name__))
                    except (RuntimeError, IndexError, TypeError) as e:
                        out.append((type(e).__name__, str(e)))
                if len(shape) == 2:   # (torch warns for .T of other dims: not compared)
                    out.append((tuple(x.T.shape), x.T.stride()))
        return out
    assert run(tapegrad) == run(torch_ref)


# ---- a view without grad_fn whose memory changed since it was made -----------------------------
def _view_then_change(m, made, change):
    """A view made with grad mode off of a tensor that requires grad (or of one that does not
    and takes history later; or a piece of chunk made with grad mode on of a tensor that did
    not require grad then), after which its memory changes in place."""
    x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
    base = x * 1 if made.endswith("grad base") else m.ones(3)
    if made.startswith("no_grad"):
        with m.no_grad():
            v = base[0:2]
    else:
        v = base.chunk(3)[0]
    if change == "grad mode":
        base.mul_(x)
    elif change == "no_grad":
        with m.no_grad():
            base.mul_(2)
    elif change == "through the view, no_grad":
        with m.no_grad():
            v.mul_(2)
    return v


REBASED_READS = {
    "requires_grad": lambda v: v.requires_grad,
    "grad_fn": lambda v: type(v.grad_fn).__name__,
    "is_leaf": lambda v: v.is_leaf,
    "a use": lambda v: (v * 2).requires_grad,
}


@pytest.mark.parametrize("read", sorted(REBASED_READS))
@pytest.mark.parametrize("change", ["grad mode", "no_grad", "through the view, no_grad", "none"])
@pytest.mark.parametrize("made", ["no_grad, grad base", "no_grad, plain base",
                                  "chunk, plain base"])
def test_view_without_grad_fn_read_after_its_memory_changed(made, change, read):
    # fuzzer seeds 42, 473, 988 & co: torch's view requires grad as its base does, and its
    # grad_fn may not be made once its memory changed (handle_view_on_rebase, indirect): the
    # read raises; tapegrad's was a constant (requires_grad False, grad_fn None, usable)
    torch = pytest.importorskip("torch")

    def outcome(m):
        try:
            return "ok", REBASED_READS[read](_view_then_change(m, made, change))
        except RuntimeError as e:
            return "RuntimeError", str(e)
    assert outcome(tapegrad) == outcome(torch)


def _rebased_operand(m, kind):
    """An operand torch refuses to read the grad_fn of: a piece of split made with grad mode
    on, or a view made under no_grad, each changed in place under no_grad since."""
    x = m.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    if kind == "piece":
        v = (x * 1).split(1)[0][0]
    else:
        y = x * 1
        with m.no_grad():
            v = y[0]
    with m.no_grad():
        v.mul_(2)
    return v


OPERAND_USES = {
    "index_put_ of a value of the wrong shape": lambda m, v: m.ones(2, 2).index_put_(
        (m.tensor([0]),), v.unsqueeze(0).expand(3, 2)),
    "index_put_": lambda m, v: m.ones(2, 2).index_put_((m.tensor([0]),), v),
    "add_ of a shape that does not broadcast": lambda m, v: m.ones(3).add_(v),
    "copy_": lambda m, v: m.ones(2).copy_(v),
}


@pytest.mark.parametrize("use", sorted(OPERAND_USES))
@pytest.mark.parametrize("kind", ["piece", "no_grad view"])
def test_an_operand_whose_grad_fn_is_refused_raises_before_the_kernel(kind, use):
    # fuzzer seeds 11928, 19770, 22073: torch's node reads the operand's grad_fn before the
    # kernel's shape checks, so its refusal comes first; tapegrad gave the shape error
    torch = pytest.importorskip("torch")

    def outcome(m):
        try:
            OPERAND_USES[use](m, _rebased_operand(m, kind))
        except RuntimeError as e:
            return str(e)
    assert outcome(tapegrad) == outcome(torch) is not None
