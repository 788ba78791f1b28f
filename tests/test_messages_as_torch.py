"""Errors and warnings of ordinary mistakes, as torch gives them (found by running ordinary
programs under both): module registration, cross products, moments of integer tensors,
randint's bounds, the repr of a custom Function's node."""
import warnings

import pytest

import tapegrad as tg

CALLS = {
    "module_list_of_a_tensor": lambda m: m.nn.ModuleList([m.ones(1)]),
    "module_dict_of_a_tensor": lambda m: m.nn.ModuleDict({"a": m.ones(1)}),
    "add_module_int": lambda m: m.nn.Module().add_module("x", 3),
    "add_module_dotted": lambda m: m.nn.Module().add_module("a.b", m.nn.Linear(1, 1)),
    "register_buffer_dotted": lambda m: m.nn.Module().register_buffer("a.b", None),
    "linalg_cross_length": lambda m: m.linalg.cross(m.ones(4, 3), m.ones(4, 2)),
    "linalg_cross_broadcast": lambda m: m.linalg.cross(m.ones(4, 3), m.ones(5, 3)),
    "cross_dim_length": lambda m: m.cross(m.ones(4, 3), m.ones(3, 5), dim=1),
    "std_of_ints": lambda m: m.tensor([1, 2]).std(),
    "var_of_ints": lambda m: m.tensor([1, 2]).var(),
    "std_mean_of_ints": lambda m: m.std_mean(m.tensor([1, 2])),
    "randint_float_high": lambda m: m.randint(0, 3.5, (2,)),
    "randint_float_only_bound": lambda m: m.randint(3.0, (2,)),
    "randint_bool_bound": lambda m: m.randint(True, (2,)),
    "grad_assigned_itself": lambda m: _own_grad(m.ones(2, requires_grad=True)),
    "volatile_read_and_set": lambda m: _volatile(m.ones(2)),
    "grad_of_a_number_output": lambda m: m.autograd.grad(
        [m.ones(2, requires_grad=True).sum(), 3], m.ones(1, requires_grad=True)),
    "backward_of_a_none_output": lambda m: m.autograd.backward(
        [m.ones(2, requires_grad=True).sum(), None]),
    "embedding_weight_of_another_shape": lambda m: m.nn.Embedding(5, 3, _weight=m.ones(4, 3)),
    "bilinear_without_in1_features": lambda m: m.nn.Bilinear(0, 2, 3),
    # equal batch shapes whose matrices do not fit: torch's one bmm over the flat batch
    "matmul_3d_inner_size": lambda m: m.ones(3, 4, 8) @ m.ones(3, 7, 5),
    "matmul_4d_inner_size": lambda m: m.matmul(m.ones(2, 3, 4, 8), m.ones(2, 3, 7, 5)),
    "sdpa_of_vectors": lambda m: m.nn.functional.scaled_dot_product_attention(
        m.ones(2, 3), m.ones(3), m.ones(2, 3)),
    "sdpa_gqa_heads_not_dividing": lambda m: m.nn.functional.scaled_dot_product_attention(
        m.ones(1, 3, 4, 2), m.ones(1, 2, 4, 2), m.ones(1, 2, 4, 2), enable_gqa=True),
    "sdpa_scale_positionally": lambda m: m.nn.functional.scaled_dot_product_attention(
        m.ones(2, 3), m.ones(2, 3), m.ones(2, 3), None, 0.0, False, 0.5),
    "gelu_approximate_positionally": lambda m: m.nn.functional.gelu(m.ones(2), "tanh"),
    "one_hot_input_by_keyword": lambda m: m.nn.functional.one_hot(input=m.tensor([1, 2]),
                                                                   num_classes=3),
    "unflatten_size_with_a_float": lambda m: m.nn.Unflatten(1, [2, 2.0]),
    "unflatten_size_an_int": lambda m: m.nn.Unflatten(1, 4),
    "unflatten_size_a_tensor": lambda m: m.nn.Unflatten(1, m.tensor([2, 2])),
    "bilinear_weight_of_another_dtype": lambda m: m.nn.functional.bilinear(
        m.ones(2, 3, dtype=m.float64), m.ones(2, 3, dtype=m.float64), m.ones(2, 3, 3)),
    "bilinear_bias_of_another_dtype": lambda m: m.nn.functional.bilinear(
        m.ones(2, 4), m.ones(2, 3), m.ones(2, 3, 3), m.ones(2, dtype=m.float64)),
    "sdpa_key_of_another_dtype": lambda m: m.nn.functional.scaled_dot_product_attention(
        m.ones(2, 3, dtype=m.float64), m.ones(2, 3), m.ones(2, 3, dtype=m.float64)),
    "embedding_bag_weights_of_another_dtype": lambda m: m.nn.functional.embedding_bag(
        m.tensor([[0, 1]]), m.ones(3, 2, dtype=m.float64), per_sample_weights=m.ones(1, 2),
        mode="sum"),
    "embedding_bag_float32_weight_float64_weights": lambda m: m.nn.functional.embedding_bag(
        m.tensor([[0, 1]]), m.ones(3, 2), per_sample_weights=m.ones(1, 2, dtype=m.float64),
        mode="sum"),
    "sdpa_inner_size": lambda m: m.nn.functional.scaled_dot_product_attention(
        m.ones(2, 3, 4, 8), m.ones(2, 3, 5, 7), m.ones(2, 3, 5, 6)),
}


def _volatile(x):
    x.volatile = True
    return x if x.volatile is False else None


def _own_grad(x):
    x.grad = x
    return x.grad


def _outcome(m, fn):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            r = fn(m)
            out = ("ok", tuple(r.shape) if hasattr(r, "shape") else None)
        except Exception as e:   # noqa: BLE001 (compared with torch's)
            out = (type(e).__name__, str(e).replace("torch.", "tapegrad."))
    return out, [str(w.message).split(" (Triggered internally")[0].replace("torch.", "tapegrad.")
                 for w in seen]


@pytest.mark.parametrize("name", sorted(CALLS))
def test_errors_as_torch(name):
    torch = pytest.importorskip("torch")
    assert _outcome(tg, CALLS[name]) == _outcome(torch, CALLS[name])


def test_cross_without_dim_warns_as_torch(monkeypatch):
    from tapegrad import errors
    monkeypatch.setattr(errors, "_WARNED", set())
    with pytest.warns(UserWarning, match="Using torch.cross without specifying the dim arg"):
        r = tg.cross(tg.ones(4, 3), tg.ones(4, 3))
    assert r.shape == (4, 3)


def test_custom_function_node_repr_names_its_module():
    class Sq(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, g):
            return g

    y = Sq.apply(tg.ones(2, requires_grad=True))
    assert repr(y.grad_fn).startswith("<tapegrad.autograd.function.SqBackward object at 0x")
    assert "grad_fn=<SqBackward>" in repr(y)


def _module_classes(torch):
    return sorted(n for n in dir(torch.nn) if isinstance(getattr(torch.nn, n), type)
                  and issubclass(getattr(torch.nn, n), torch.nn.Module) and hasattr(tg.nn, n))


@pytest.mark.parametrize("args, kwargs", [((), {}), (tuple(range(1, 30)), {}),
                                          ((), {"foo_bar": 1})])
def test_module_constructor_argument_errors_name_torchs_init(args, kwargs):
    """Python's errors for missing, extra or unknown constructor arguments name the __init__
    torch's class runs (its own, or _BatchNorm's, _DropoutNd's), not a shared base's."""
    torch = pytest.importorskip("torch")
    differ = []
    for name in _module_classes(torch):
        got = _outcome(tg, lambda m: getattr(m.nn, name)(*args, **kwargs))[0]
        ref = _outcome(torch, lambda m: getattr(m.nn, name)(*args, **kwargs))[0]
        if ref[0] == "TypeError" and got != ref:
            differ.append((name, got, ref))
    assert differ == []
