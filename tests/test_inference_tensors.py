"""Inference tensors as torch's: a tensor made in an inference_mode block (or a view of one)
reports is_inference(); outside inference mode torch refuses to save one for backward, to
change one in place (after the change, as torch's) or to make one require grad, and it
keeps no version counter.  Each case runs on tapegrad and on torch, whose outcomes (value,
flags, or error type and message) must be the same."""
import pytest

import tapegrad

CASES = [
    "a.is_inference()", "torch.is_inference(b)", "v.is_inference()", "g.is_inference()",
    "c.is_inference()", "c.requires_grad", "f.is_inference()", "h.is_inference()",
    "n.is_inference()", "(a * 2).is_inference()", "a.clone().is_inference()",
    "a.detach().is_inference()", "a.view(3).is_inference()", "a[:1].is_inference()",
    "a.data.is_inference()", "(a + w).requires_grad", "a * w", "w * a", "w.exp() * a",
    "w / a", "a @ w", "F.linear(x, lw)", "F.linear(x, lw, lb)", "F.mse_loss(p, t)",
    "F.layer_norm(x, (3,), lw[0], lw[1])", "F.cross_entropy(p, cls)", "p[cls]",
    "p.gather(1, cls[:, None])", "torch.where(p > 0, p, t).requires_grad",
    "torch.cat([p, t]).requires_grad", "F.l1_loss(p, t).requires_grad", "a._version",
    "a.requires_grad_()", "a.requires_grad_(False).requires_grad", "torch.is_inference(3)",
    "set_grad(a)", "a.add_(1)", "a[0] = 5.0", "a.zero_()", "nograd_add(a)", "a.tolist()",
    "v.add_(1).tolist()", "s.add_(1)", "s.tolist()",
    # an inference tensor that requires grad (r) and its views: changing a view in place is
    # refused as an inference tensor's change (before any view's or leaf's error), r itself
    # as a leaf's
    "r.add_(1)", "rv.mul_(2)", "rv.split(1)[0].mul_(2)", "rv.unbind(0)[1].add_(1)",
    "r[1:].mul_(2)", "rv[0] = 5.0", "r[0] = 5.0", "rv.zero_()", "rv[[0]] = 1.0",
    "r[1:].copy_(n[:2])",
]


def _run(lib, case):
    lib.manual_seed(0)
    F = lib.nn.functional
    w = lib.ones(3, requires_grad=True)
    n = lib.ones(3)
    lw = lib.randn(4, 3, requires_grad=True)
    lb = lib.randn(4, requires_grad=True)
    p = lib.randn(5, 4, requires_grad=True)
    with lib.inference_mode():
        a = lib.ones(3)
        b = n * 2
        v = n[:2]             # a view of a normal tensor: a normal tensor
        g = n.view(3)
        c = w * 2
        x = lib.randn(5, 3)
        t = lib.randn(5, 4)
        cls = lib.tensor([0, 1, 2, 3, 0])
        s = lib.tensor(2.0)
        r = lib.ones(3, requires_grad=True)
        rv = r[1:]
        with lib.inference_mode(False):
            f = lib.ones(3)
    with lib.no_grad():
        h = n * 2

    def set_grad(t):
        t.requires_grad = True

    def nograd_add(t):
        with lib.no_grad():
            t.add_(1)
    env = dict(locals(), torch=lib)
    try:
        if "=" in case and "(" not in case.split("=")[0]:
            exec(case, env)
            out = None
        else:
            out = eval(case, env)
        if isinstance(out, lib.Tensor):
            out = (out.detach().tolist(), out.requires_grad)
        return "ok", out
    except Exception as e:   # (the error is the outcome compared)
        return type(e).__name__, str(e)


@pytest.mark.parametrize("case", CASES)
def test_inference_tensors_as_torch(torch_ref, case):
    ours = _run(tapegrad, case)
    theirs = _run(torch_ref, case)
    if ours[0] == "ok" and theirs[0] == "ok" and isinstance(theirs[1], tuple):
        assert ours[1][1] == theirs[1][1]
        assert ours[1][0] == pytest.approx(theirs[1][0], rel=1e-6)
    else:
        assert ours == theirs


def test_inplace_refusal_changes_nothing(torch_ref):
    """torch changes the inference tensor, then refuses (its version bump comes after the
    kernel); tapegrad raises torch's error and leaves it as it was (a failing call changes
    nothing: docs/semantics.md)."""
    out = []
    for lib in (torch_ref, tapegrad):
        with lib.inference_mode():
            a = lib.ones(3)
        for op in (lambda: a.add_(1), lambda: a.mul_(3), lambda: a.__setitem__(1, 0.5)):
            with pytest.raises(RuntimeError, match="Inplace update to inference tensor"):
                op()
        out.append(a.tolist())
    assert out == [[6.0, 0.5, 6.0], [1.0, 1.0, 1.0]]


def test_no_marking_cost_outside_inference_blocks():
    """Out of every inference_mode block Tensor has no __init__ of its own (making a tensor
    costs what it did); inside one it marks the tensors this thread makes."""
    assert "__init__" not in tapegrad.Tensor.__dict__
    with tapegrad.inference_mode():
        assert "__init__" in tapegrad.Tensor.__dict__
        with tapegrad.inference_mode():
            pass
        assert "__init__" in tapegrad.Tensor.__dict__
        assert tapegrad.ones(2).is_inference()
    assert "__init__" not in tapegrad.Tensor.__dict__
    assert not tapegrad.ones(2).is_inference()
