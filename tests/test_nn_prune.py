"""nn.utils.prune against torch: the same seed and module give the same masks (the L1 and Ln
methods by their scores, the random ones by torch's draws), iterative pruning combines masks
as torch's PruningContainer does, training moves `weight_orig` only where the mask keeps it,
`remove` makes it permanent, and errors are torch's."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.nn.utils import prune as tg_prune

torch = pytest.importorskip("torch")
import torch.nn.utils.prune  # noqa: E402  (torch does not import it with torch.nn.utils)


def _model(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Conv2d(2, 4, 3), lib.nn.Tanh(), lib.nn.Flatten(),
                             lib.nn.Linear(16, 3))


def _same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        np.testing.assert_array_equal(sa[k].detach().numpy(), sb[k].detach().numpy(), err_msg=k)


def _both(prune_it):
    """The model pruned by `prune_it(lib, prune_module, model)` in tapegrad and in torch."""
    out = []
    for lib, pr in ((tg, tg_prune), (torch, torch.nn.utils.prune)):
        m = _model(lib)
        prune_it(lib, pr, m)
        out.append(m)
    return out


CASES = {
    "l1 fraction": lambda lib, pr, m: pr.l1_unstructured(m[3], "weight", amount=0.3),
    "l1 count, scores": lambda lib, pr, m: pr.l1_unstructured(
        m[3], "weight", amount=7, importance_scores=m[3].weight.detach().flip(0)),
    "random": lambda lib, pr, m: pr.random_unstructured(m[0], "weight", amount=0.45),
    "ln dim 0": lambda lib, pr, m: pr.ln_structured(m[0], "weight", amount=0.5, n=2, dim=0),
    "ln inf dim -1": lambda lib, pr, m: pr.ln_structured(m[0], "weight", amount=1,
                                                          n=float("inf"), dim=-1),
    "random structured": lambda lib, pr, m: pr.random_structured(m[0], "weight", amount=1,
                                                                 dim=1),
    "iterative": lambda lib, pr, m: (
        pr.l1_unstructured(m[3], "weight", amount=0.3),
        pr.ln_structured(m[3], "weight", amount=1, n=1, dim=0),
        pr.random_unstructured(m[3], "weight", amount=0.2),
        pr.random_structured(m[3], "weight", amount=2, dim=1)),
    "global": lambda lib, pr, m: pr.global_unstructured(
        [(m[0], "weight"), (m[3], "weight"), (m[3], "bias")], pruning_method=pr.L1Unstructured,
        amount=40),
    "custom, identity": lambda lib, pr, m: (
        pr.custom_from_mask(m[3], "bias", mask=lib.tensor([1.0, 0.0, 1.0])),
        pr.identity(m[0], "bias")),
    "remove": lambda lib, pr, m: (pr.l1_unstructured(m[3], "weight", amount=0.5),
                                  pr.remove(m[3], "weight")),
}


@pytest.mark.parametrize("case", CASES)
def test_masks_and_state_are_torchs(case):
    a, b = _both(CASES[case])
    _same_state(a, b)
    assert tg_prune.is_pruned(a) == torch.nn.utils.prune.is_pruned(b)
    x = np.random.default_rng(1).standard_normal((2, 2, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(a(tg.tensor(x)).detach().numpy(),
                               b(torch.tensor(x)).detach().numpy(), rtol=1e-6, atol=1e-6)


def test_training_moves_the_kept_weights_only():
    def train(lib, pr):
        m = _model(lib)
        pr.l1_unstructured(m[3], "weight", amount=0.5)
        opt = lib.optim.SGD(m.parameters(), lr=0.1)
        x = lib.tensor(np.linspace(-1, 1, 64, dtype=np.float32).reshape(2, 2, 4, 4))
        for _ in range(3):
            opt.zero_grad()
            m(x).pow(2).sum().backward()
            opt.step()
        return m
    a, b = train(tg, tg_prune), train(torch, torch.nn.utils.prune)
    sa, sb = a.state_dict(), b.state_dict()
    for k in sa:
        np.testing.assert_allclose(sa[k].numpy(), sb[k].numpy(), rtol=1e-5, atol=1e-6)
    mask = a[3].weight_mask.numpy()
    assert (a[3].weight_orig.grad.numpy()[mask == 0] == 0).all()
    assert (a[3].weight.detach().numpy()[mask == 0] == 0).all()
    assert [n for n, _ in a.named_parameters()] == [n for n, _ in b.named_parameters()]


ERRORS = {
    "amount type": lambda lib, pr, m: pr.l1_unstructured(m[3], "weight", amount="1"),
    "amount range": lambda lib, pr, m: pr.l1_unstructured(m[3], "weight", amount=1.5),
    "negative count": lambda lib, pr, m: pr.random_unstructured(m[3], "weight", amount=-1),
    "count too big": lambda lib, pr, m: pr.l1_unstructured(m[3], "bias", amount=4),
    "structured 1-d": lambda lib, pr, m: pr.ln_structured(m[3], "bias", amount=1, n=2, dim=0),
    "bad dim": lambda lib, pr, m: pr.random_structured(m[3], "weight", amount=1, dim=2),
    "remove unpruned": lambda lib, pr, m: pr.remove(m[3], "weight"),
    "global not iterable": lambda lib, pr, m: pr.global_unstructured(
        3, pruning_method=pr.L1Unstructured, amount=1),
    "global structured": lambda lib, pr, m: pr.global_unstructured(
        [(m[3], "weight")], pruning_method=pr.LnStructured, amount=1, n=2, dim=0),
}


@pytest.mark.parametrize("case", ERRORS)
def test_errors_are_torchs(case):
    got = want = None
    try:
        ERRORS[case](tg, tg_prune, _model(tg))
    except Exception as e:          # noqa: BLE001
        got = e
    try:
        ERRORS[case](torch, torch.nn.utils.prune, _model(torch))
    except Exception as e:          # noqa: BLE001
        want = e
    assert want is not None and got is not None
    assert type(got) is type(want)
    expected = str(want).replace("torch.", "tapegrad.").replace("<class 'tapegrad.nn.utils.prune",
                                                                 "<class 'tapegrad.nn.utils.prune")
    assert str(got) == expected or str(got) == str(want)


def test_a_failed_prune_leaves_the_module_as_it_was():
    m = _model(tg)
    before = [n for n, _ in m.named_parameters()]
    with pytest.raises(ValueError):
        tg_prune.l1_unstructured(m[3], "bias", amount=4)
    assert [n for n, _ in m.named_parameters()] == before and not tg_prune.is_pruned(m)
