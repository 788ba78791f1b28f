"""nn.init's sparse_, dirac_ and deprecated names, and nn.utils' get_total_norm,
clip_grads_with_norm_ and clip_grad_norm: values, warnings and errors as torch's."""
import warnings

import numpy as np
import pytest

import tapegrad


def _clip(m, fn):
    m.manual_seed(0)
    ps = [m.nn.Parameter(m.randn(3)), m.nn.Parameter(m.randn(2, 2))]
    for p in ps:
        p.grad = p.detach() * 3
    return fn(m, ps), [p.grad for p in ps]


CASES = {
    "clip_grad_norm_": lambda m: _clip(m, lambda m, ps: m.nn.utils.clip_grad_norm_(ps, 1.0)),
    "clip_grad_norm_inf": lambda m: _clip(m, lambda m, ps: m.nn.utils.clip_grad_norm_(
        ps, 1.0, norm_type=float("inf"))),
    "clip_grad_norm_deprecated": lambda m: _clip(m, lambda m, ps: m.nn.utils.clip_grad_norm(
        ps, 1.0)),
    "clip_grads_with_norm_": lambda m: _clip(m, lambda m, ps: m.nn.utils.clip_grads_with_norm_(
        ps, 1.0, m.tensor(5.0))),
    "empty_generator": lambda m: m.nn.utils.clip_grad_norm_((p for p in []), 1.0),
    "get_total_norm": lambda m: m.nn.utils.get_total_norm([m.ones(3), m.ones(2) * 2]),
    "get_total_norm_none": lambda m: m.nn.utils.get_total_norm([]),
    # ord 0 counts nonzeros, -inf is the smallest magnitude; torch stacks the per-tensor
    # norms, so mixed dtypes give a float64 total (and a float64 clip coefficient)
    "get_total_norm_0": lambda m: m.nn.utils.get_total_norm([m.tensor([0., 1, 2]),
                                                            m.tensor([3., 0])], 0),
    "get_total_norm_-inf": lambda m: m.nn.utils.get_total_norm([m.tensor([0., 1, 2]),
                                                               m.tensor([3., 0])], -float("inf")),
    "get_total_norm_-1": lambda m: m.nn.utils.get_total_norm([m.tensor([0., 1]), m.ones(2)], -1),
    "get_total_norm_empty_inf": lambda m: m.nn.utils.get_total_norm([m.ones(0)], float("inf")),
    "get_total_norm_mixed": lambda m: m.nn.utils.get_total_norm([m.ones(2),
                                                                 m.ones(2, dtype=m.float64)]),
    "clip_grad_norm_0": lambda m: _clip(m, lambda m, ps: m.nn.utils.clip_grad_norm_(ps, 0.5, 0)),
    "clip_grads_with_norm_f64": lambda m: _clip(m, lambda m, ps: m.nn.utils.clip_grads_with_norm_(
        ps, 1.0, m.tensor(3.0000001, dtype=m.float64))),
    "kaiming_bad_mode": lambda m: m.nn.init.kaiming_uniform_(m.empty(2, 2), mode="fan_avg"),
    # torch's private helpers, which custom layers' initializers import
    "_calculate_correct_fan": lambda m: m.nn.init._calculate_correct_fan(m.empty(3, 4, 5),
                                                                         "FAN_OUT"),
    "_no_grad_trunc_normal_": lambda m: (m.manual_seed(0), m.nn.init._no_grad_trunc_normal_(
        m.empty(5), 0.0, 1.0, -0.5, 0.5))[1],
    "_no_grad_uniform_": lambda m: (m.manual_seed(0), m.nn.init._no_grad_uniform_(
        m.empty(3), -1.0, 1.0))[1],
    "_no_grad_normal_": lambda m: (m.manual_seed(0), m.nn.init._no_grad_normal_(
        m.empty(3), 1.0, 2.0))[1],
    "_no_grad_fill_zero_": lambda m: (m.nn.init._no_grad_fill_(m.empty(2), 1.5),
                                     m.nn.init._no_grad_zero_(m.ones(2))),
    "sparse_": lambda m: (m.manual_seed(0), m.nn.init.sparse_(m.empty(6, 3), 0.5))[1],
    "sparse_3d": lambda m: m.nn.init.sparse_(m.empty(2, 3, 4), 0.1),
    "dirac_groups": lambda m: m.nn.init.dirac_(m.empty(4, 2, 3, 3), 2).sum(dim=(2, 3)),
    "dirac_1d": lambda m: m.nn.init.dirac_(m.empty(3, 2, 3)).nonzero().tolist(),
    "dirac_2d": lambda m: m.nn.init.dirac_(m.empty(3, 2)),
    "dirac_bad_groups": lambda m: m.nn.init.dirac_(m.empty(3, 2, 3), 2),
    "kaiming_uniform_empty": lambda m: m.nn.init.kaiming_uniform_(m.empty(0, 3)),
    "kaiming_normal_empty": lambda m: m.nn.init.kaiming_normal_(m.empty(2, 0)),
    "linear_zero_out_features": lambda m: m.nn.Linear(3, 0).weight.shape,
    "uniform_deprecated": lambda m: (m.manual_seed(0), m.nn.init.uniform(m.empty(2)))[1],
    "xavier_normal_deprecated": lambda m: (m.manual_seed(0),
                                           m.nn.init.xavier_normal(m.empty(2, 3)))[1],
}


def _outcome(m, name):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            text = repr(CASES[name](m))
        except Exception as e:     # noqa: BLE001 (the error is compared)
            text = f"{type(e).__name__}: {e}"
    return (text.replace(m.__name__, "M"),
            [(w.category.__name__, str(w.message).replace(m.__name__, "M")) for w in caught])


@pytest.mark.parametrize("name", sorted(CASES))
def test_as_torch(name):
    torch = pytest.importorskip("torch")
    assert _outcome(tapegrad, name) == _outcome(torch, name)


def test_without_torch():
    w = tapegrad.empty(10, 4)
    tapegrad.nn.init.sparse_(w, 0.3)
    assert ((w == 0).sum(0) >= 3).all()
    k = tapegrad.nn.init.dirac_(tapegrad.empty(2, 2, 3))
    assert k.sum().item() == 2 and k[0, 0, 1].item() == 1 and k[1, 1, 1].item() == 1
    total = tapegrad.nn.utils.get_total_norm([tapegrad.ones(4), tapegrad.ones(5) * 2])
    assert np.isclose(total.item(), np.sqrt(4 + 20))
    with pytest.warns(FutureWarning, match="nn.init.normal` is now deprecated"):
        tapegrad.nn.init.normal(tapegrad.empty(2))
