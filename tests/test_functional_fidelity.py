"""`tapegrad.autograd.functional` (vjp, jvp, jacobian, hessian, vhp, hvp) against torch 2.13's
`torch.autograd.functional`: values, shapes, dtypes, tuple layout, requires_grad/grad_fn of
results with and without create_graph, strict mode's checks and argument checking (error
type and message), vectorize and the forward-mode strategies; and a few hand-computed
Jacobians/Hessians that need no torch."""
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd import functional as F


class Values:
    """An array's values, equal to another's within float32 rounding (torch's float32
    kernels and ours may differ in the last bits)."""
    def __init__(self, a):
        self.a = a

    def __eq__(self, other):
        return (isinstance(other, Values) and self.a.shape == other.a.shape
                and np.allclose(self.a, other.a, rtol=1e-6, atol=1e-7, equal_nan=True))

    def __repr__(self):
        return repr(self.a.tolist())


def _rec(v):
    """A result as plain data: shape, dtype, values, requires_grad, whether it has a grad_fn."""
    if hasattr(v, "grad_fn"):
        vals = np.asarray(v.detach().double().tolist(), dtype=float).reshape(-1)
        return (tuple(v.shape), str(v.dtype).split(".")[-1], Values(vals),
                v.requires_grad, v.grad_fn is not None)
    if isinstance(v, (tuple, list)):
        return (type(v).__name__, tuple(_rec(x) for x in v))
    return v


PRELUDE = """
F = m.autograd.functional
f64 = m.float64
x = m.tensor([0.5, -1.0, 2.0], dtype=f64)
y = m.tensor([1.5, 0.25, -0.75], dtype=f64)
v = m.tensor([1.0, -2.0, 0.5], dtype=f64)
w = m.tensor([0.3, 0.7, -1.1], dtype=f64)
s = m.tensor(0.8, dtype=f64)
A = m.tensor([[0.5, -1.0], [2.0, 0.25]], dtype=f64)
z4 = m.tensor([0.1, 0.2, -0.3, 0.4], dtype=f64)
xr = m.tensor([0.5, -1.0, 2.0], dtype=f64, requires_grad=True)
c = m.tensor([2.0, 1.0, 3.0], dtype=f64, requires_grad=True)
cube = lambda a: (a ** 3).sum()
mixed = lambda a, b: (a.sin() * b).sum() + (a ** 2 * b ** 3).sum()
"""


def run(src, m):
    """Run snippet `src` with module `m`: the records of its show(...) calls and the warnings,
    then the error (type and message, `torch.` read as `tapegrad.`) if it raised."""
    out = []
    ns = {"m": m, "show": lambda *r: out.append(_rec(r))}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            exec(PRELUDE + src, ns)
        except Exception as ex:   # noqa: BLE001  (the error is part of the behaviour compared)
            out.append((type(ex).__name__, str(ex).replace("torch.", "tapegrad.")))
    # (not torch's own DeprecationWarnings, given once, on its first use of vmap)
    out.append(sorted({(w.category.__name__, str(w.message).replace("torch.", "tapegrad."))
                       for w in caught if w.category is not DeprecationWarning}))
    return out


CASES = {
    # ---- vjp -----------------------------------------------------------------------------
    "vjp": "show(*F.vjp(lambda a: (a * a).tanh(), x, v))",
    "vjp_default_v": "show(*F.vjp(cube, x))",
    "vjp_default_v_tuple_out": "show(*F.vjp(lambda a: (cube(a),), x))",
    "vjp_tuples": "show(*F.vjp(lambda a, b: (a * b, a.sum() * b), (x, y), (v, w)))",
    "vjp_tuple_of_one": "show(*F.vjp(lambda a: (a.exp(),), (x,), (v,)))",
    "vjp_tuple_out_tensor_v": "show(*F.vjp(lambda a: (a.exp(),), x, v))",
    "vjp_matrix": "show(*F.vjp(lambda a: a @ a, A, A))",
    "vjp_v_none_nonscalar": "F.vjp(lambda a: a * a, x)",
    "vjp_v_none_two_outputs": "F.vjp(lambda a: (a.sum(), a.sum()), x)",
    "vjp_v_bad_size": "F.vjp(lambda a: a * a, x, w[:2])",
    "vjp_v_bad_size_tuple": "F.vjp(lambda a: (a, a[:2]), x, (v, v))",
    "vjp_v_bad_length": "F.vjp(lambda a: (a, a), x, (v,))",
    "vjp_v_two_for_one": "F.vjp(lambda a: a * a, x, (v, v))",
    "vjp_v_list": "F.vjp(lambda a: a * a, x, [v])",
    "vjp_v_non_tensor": "F.vjp(lambda a: (a, a), x, (v, 1.0))",
    "vjp_inputs_list": "F.vjp(lambda a: a * a, [x], v)",
    "vjp_inputs_non_tensor": "F.vjp(lambda a, b: a * a, (x, 2.0), v)",
    "vjp_inputs_scalar": "F.vjp(lambda a: a * a, 3.0)",
    "vjp_returns_float": "F.vjp(lambda a: 1.0, x)",
    "vjp_returns_list": "F.vjp(lambda a: [a], x, v)",
    "vjp_returns_none_in_tuple": "F.vjp(lambda a: (a, None), x, (v, v))",
    "vjp_unused_input": "show(*F.vjp(lambda a, b: a * 2.0, (x, y), v))",
    "vjp_unused_input_strict": "F.vjp(lambda a, b: a * 2.0, (x, y), v, strict=True)",
    "vjp_const_output": "show(*F.vjp(lambda a: m.ones(3, dtype=f64), x, v))",
    "vjp_const_output_strict": "F.vjp(lambda a: (a * a, m.ones(3, dtype=f64)), x, (v, v), "
                               "strict=True)",
    "vjp_const_output_create_graph": "show(*F.vjp(lambda a: m.ones(3, dtype=f64), x, v, "
                                     "create_graph=True))",
    "vjp_linear_create_graph": "show(*F.vjp(lambda a: a * 2.0, x, v, create_graph=True))",
    "vjp_linear_strict_create_graph": "F.vjp(lambda a: a * 2.0, x, v, create_graph=True, "
                                      "strict=True)",
    "vjp_linear_strict": "show(*F.vjp(lambda a: a * 2.0, x, v, strict=True))",
    "vjp_create_graph": "show(*F.vjp(lambda a, b: (a * b).sin(), (x, y), v, create_graph=True))",
    "vjp_create_graph_strict": "show(*F.vjp(lambda a: (a * a).sin(), x, v, create_graph=True, "
                               "strict=True))",
    "vjp_create_graph_flows_back": """
o, g = F.vjp(lambda a: (a * a).sin(), xr, v, create_graph=True)
show(o, g, m.autograd.grad(g.sum(), xr))""",
    "vjp_v_requires_grad_create_graph": """
vr = v.clone().requires_grad_()
o, g = F.vjp(lambda a: a * 2.0, x, vr, create_graph=True)
show(o, g, m.autograd.grad(g.sum(), vr))""",
    "vjp_v_requires_grad": "show(*F.vjp(lambda a: a * a, x, v.clone().requires_grad_()))",
    "vjp_input_requires_grad": "show(*F.vjp(lambda a: a * a, xr, v))",
    # the function ignores its argument and uses the tensor given as input: a new tensor
    # object is differentiated, so the result is zeros, as in torch (pytorch#32576)
    "vjp_captured_input": "show(*F.vjp(lambda a: xr * xr, xr, v, create_graph=True))",
    "vjp_captured_input_strict": "F.vjp(lambda a: xr * xr, xr, v, create_graph=True, strict=True)",
    "vjp_no_grad": """
with m.no_grad():
    show(*F.vjp(lambda a: a * a, x, v))
    show(*F.vjp(lambda a: a * a, x, v, create_graph=True))""",
    "vjp_float32": "show(*F.vjp(lambda a: (a * a).exp(), x.float(), v.float()))",
    "vjp_v_other_dtype": "show(*F.vjp(lambda a: a * a, x, v.float()))",
    "vjp_int_input": "F.vjp(lambda a: a * 2, m.tensor([1, 2]), m.tensor([1, 1]))",
    "vjp_identity": "show(*F.vjp(lambda a: a, x, v))",
    "vjp_identity_create_graph": "show(*F.vjp(lambda a: a, xr, v, create_graph=True))",
    "vjp_one_by_one_output": "show(*F.vjp(lambda a: cube(a).reshape(1, 1), x))",
    "vjp_same_tensor_twice": "show(*F.vjp(lambda a, b: (a * b).sum(), (xr, xr), "
                             "create_graph=True))",
    "vjp_tuple_v_scalar_entry": "show(*F.vjp(lambda a: (a * a, a.sum()), x, (v, s), "
                                "create_graph=True))",
    "vjp_strict_create_graph_second": "F.vjp(lambda a, b: (a * a, b * 2.0), (x, y), (v, w), "
                                      "create_graph=True, strict=True)",
    "vjp_float32_output": "show(*F.vjp(lambda a: (a * a).float(), x, v.float()))",
    "vjp_v_none_strict": "F.vjp(lambda a: a, x, None, strict=True)",
    "vjp_v_one_for_tuple": "F.vjp(lambda a: (a * a, a), x, v)",
    "vjp_v_bad_size_scalar": "F.vjp(lambda a: a.sum(), x, m.tensor([1.0]))",
    "vjp_captured_output": "show(*F.vjp(lambda a: (c * c).sum(), x))",
    "vjp_captured_output_strict": "F.vjp(lambda a: (c * c).sum(), x, strict=True)",
    "vjp_empty_output": "show(*F.vjp(lambda a: a[:0], x, x[:0]))",
    # ---- jvp -----------------------------------------------------------------------------
    "jvp": "show(*F.jvp(lambda a: (a * a).tanh(), x, v))",
    "jvp_default_v": "show(*F.jvp(lambda a: (a * m.tensor([1., 2.], dtype=f64)).exp(), s))",
    "jvp_tuples": "show(*F.jvp(lambda a, b: (a * b, a.sum() * b), (x, y), (v, w)))",
    "jvp_tuple_of_one": "show(*F.jvp(lambda a: (a.exp(),), (x,), (v,)))",
    "jvp_tuple_in_single_out": "show(*F.jvp(lambda a, b: a * b, (x, y), (v, w)))",
    "jvp_matrix": "show(*F.jvp(lambda a: (a @ a).sum(0), A, A))",
    "jvp_v_none_nonscalar": "F.jvp(lambda a: a * a, x)",
    "jvp_v_bad_size": "F.jvp(lambda a: a * a, x, z4)",
    "jvp_v_bad_size_tuple": "F.jvp(lambda a, b: a * b, (x, y), (v, z4))",
    "jvp_v_bad_length": "F.jvp(lambda a, b: a * b, (x, y), (v,))",
    "jvp_v_two_for_one": "F.jvp(lambda a: a * a, x, (v, v))",
    "jvp_v_list": "F.jvp(lambda a: a * a, x, [v])",
    "jvp_v_checked_before_call": "F.jvp(lambda a: 1.0, x, z4)",
    "jvp_returns_float": "F.jvp(lambda a: 1.0, x, v)",
    "jvp_returns_none_in_tuple": "F.jvp(lambda a: (a, None), x, v)",
    "jvp_inputs_list": "F.jvp(lambda a: a * a, [x], v)",
    "jvp_unused_input": "show(*F.jvp(lambda a, b: a * 2.0, (x, y), (v, w)))",
    "jvp_unused_input_strict": "F.jvp(lambda a, b: (a * a).sum(), (x, y), (v, w), strict=True)",
    "jvp_const_output": "show(*F.jvp(lambda a: (a * a, m.ones(2, dtype=f64)), x, v))",
    "jvp_const_output_strict": "F.jvp(lambda a: (a * a, m.ones(2, dtype=f64)), x, v, strict=True)",
    "jvp_captured_output": "show(*F.jvp(lambda a: (a * a, c * 3.0), x, v))",
    "jvp_captured_output_strict": "F.jvp(lambda a: (a * a, c * 3.0), x, v, strict=True)",
    "jvp_linear_create_graph": "show(*F.jvp(lambda a: a * 2.0, x, v, create_graph=True))",
    "jvp_linear_strict": "show(*F.jvp(lambda a: a * 2.0, x, v, strict=True))",
    "jvp_linear_strict_create_graph": "F.jvp(lambda a: a * 2.0, x, v, strict=True, "
                                      "create_graph=True)",
    "jvp_create_graph": "show(*F.jvp(lambda a, b: (a * b).sin(), (x, y), (v, w), "
                        "create_graph=True))",
    "jvp_create_graph_strict": "show(*F.jvp(lambda a: (a * a).sin(), x, v, create_graph=True, "
                               "strict=True))",
    "jvp_create_graph_flows_back": """
o, g = F.jvp(lambda a: (a * a).sin(), xr, v, create_graph=True)
show(o, g, m.autograd.grad(g.sum(), xr))""",
    "jvp_float32": "show(*F.jvp(lambda a: (a * a).exp(), x.float(), v.float()))",
    "jvp_identity_create_graph": "show(*F.jvp(lambda a: a, xr, v, create_graph=True))",
    "jvp_same_tensor_twice": "show(*F.jvp(lambda a, b: a * b, (xr, xr), (v, w), "
                             "create_graph=True))",
    "jvp_captured_create_graph": "show(*F.jvp(lambda a: a * xr, x, v, create_graph=True))",
    "jvp_v_requires_grad_create_graph": "show(*F.jvp(lambda a: a * a, x, "
                                        "v.clone().requires_grad_(), create_graph=True))",
    "jvp_stacked": "show(*F.jvp(lambda a: m.stack([a.sum(), (a * a).sum()]), x, v))",
    "jvp_mixed_create_graph": "show(*F.jvp(lambda a, b: (a * 2.0, a * b), (x, y), (v, w), "
                              "create_graph=True))",
    "jvp_mixed_strict_create_graph": "F.jvp(lambda a, b: (a * 2.0, a * b), (x, y), (v, w), "
                                     "create_graph=True, strict=True)",
    "jvp_strict_create_graph_second": "F.jvp(lambda a, b: (a * a, a * b), (x, y), (v, w), "
                                      "create_graph=True, strict=True)",
    "jvp_strict": "show(*F.jvp(lambda a, b: (a * a, a * b), (x, y), (v, w), strict=True))",
    "jvp_float32_output": "show(*F.jvp(lambda a: (a * a).float(), x, v))",
    "jvp_v_other_dtype": "F.jvp(lambda a: (a * a).float(), x, v.float())",
    "jvp_v_non_tensor": "F.jvp(lambda a: a * a, x, (v, 2))",
    "jvp_v_float": "F.jvp(lambda a: a * a, x, 2.0)",
    "jvp_v_one_for_two": "F.jvp(lambda a, b: a * a, (x, y), v)",
    "jvp_v_none_strict": "F.jvp(lambda a: a * a, x, None, strict=True)",
    "jvp_no_grad": """
with m.no_grad():
    show(*F.jvp(cube, x, v))
    show(*F.jvp(cube, x, v, create_graph=True))""",
    # ---- jacobian ------------------------------------------------------------------------
    "jacobian": "show(F.jacobian(lambda a: (a * a).tanh(), x))",
    "jacobian_shape": "show(F.jacobian(lambda a: a[:3].reshape(3, 1) * a[1:] * 2.0, z4))",
    "jacobian_matrix_in": "show(F.jacobian(lambda a: (a @ a).exp(), A))",
    "jacobian_scalar_out": "show(F.jacobian(cube, x))",
    "jacobian_scalar_in": "show(F.jacobian(lambda a: a * m.tensor([1., 2.], dtype=f64), s))",
    "jacobian_tuples": "show(F.jacobian(lambda a, b: (a * b, a.sum() * b, (a * b).sum()), "
                       "(x, y)))",
    "jacobian_tuple_in": "show(F.jacobian(lambda a, b: a * b.sum(), (x, z4)))",
    "jacobian_tuple_out": "show(F.jacobian(lambda a: (a * a, a.sum()), x))",
    "jacobian_tuple_of_one": "show(F.jacobian(lambda a: (a.exp(),), (x,)))",
    "jacobian_float32": "show(F.jacobian(lambda a: (a * a).exp(), x.float()))",
    "jacobian_mixed_dtypes": "show(F.jacobian(lambda a, b: (a.float() * 2.0, a * b.double()), "
                             "(x, y.float())))",
    "jacobian_unused_input": "show(F.jacobian(lambda a, b: a * 2.0, (x, y)))",
    "jacobian_unused_input_strict": "F.jacobian(lambda a, b: a * a, (x, y), strict=True)",
    "jacobian_const_output": "show(F.jacobian(lambda a: (a * a, m.ones(2, dtype=f64)), x))",
    "jacobian_const_output_strict": "F.jacobian(lambda a: (a * a, m.ones(2, dtype=f64)), x, "
                                    "strict=True)",
    "jacobian_const_output_create_graph": "show(F.jacobian(lambda a: (a * a, m.ones(2, "
                                          "dtype=f64)), x, create_graph=True))",
    "jacobian_create_graph": "show(F.jacobian(lambda a, b: (a * b, a * 2.0), (x, y), "
                             "create_graph=True))",
    "jacobian_linear_strict": "show(F.jacobian(lambda a: a * 2.0, x, strict=True))",
    "jacobian_strict_create_graph": "show(F.jacobian(lambda a: (a * a).sin(), x, strict=True, "
                                    "create_graph=True))",
    # torch names the output's index where it means the input's: kept
    "jacobian_linear_strict_create_graph": "F.jacobian(lambda a, b: ((a * a) * b.sum(), b * 2.0 "
                                           "+ a.sum()), (x, y), strict=True, create_graph=True)",
    "jacobian_create_graph_flows_back": """
j = F.jacobian(lambda a: (a * a).sin(), xr, create_graph=True)
show(j, m.autograd.grad(j.sum(), xr))""",
    "jacobian_captured_output": "show(F.jacobian(lambda a: (a * a, c * 3.0), x))",
    "jacobian_captured_output_strict": "F.jacobian(lambda a: (a * a, c * 3.0), x, strict=True)",
    "jacobian_returns_float": "F.jacobian(lambda a: 1.0, x)",
    "jacobian_returns_none_in_tuple": "F.jacobian(lambda a: (a, None), x)",
    "jacobian_inputs_list": "F.jacobian(lambda a: a * a, [x])",
    "jacobian_inputs_non_tensor": "F.jacobian(lambda a, b: a * a, (x, 1))",
    "jacobian_int_input": "F.jacobian(lambda a: a * 2, m.tensor([1, 2]))",
    "jacobian_no_grad": """
with m.no_grad():
    show(F.jacobian(lambda a: a * a, x))
    show(F.jacobian(lambda a: a * a, x, create_graph=True))""",
    "jacobian_input_requires_grad": "show(F.jacobian(lambda a: a * a, xr))",
    "jacobian_vectorize": "show(F.jacobian(lambda a, b: (a * b, a.sum() * b), (x, y), "
                          "vectorize=True))",
    "jacobian_vectorize_single": "show(F.jacobian(lambda a: a[:3].reshape(3, 1) * a[1:], z4, "
                                 "vectorize=True))",
    "jacobian_vectorize_unused": "show(F.jacobian(lambda a, b: (a * 2.0, m.ones(2, dtype=f64)),"
                                 " (x, y), vectorize=True))",
    "jacobian_vectorize_create_graph": "show(F.jacobian(lambda a, b: (a * b, a * 2.0), (x, y), "
                                       "vectorize=True, create_graph=True))",
    "jacobian_vectorize_strict": "F.jacobian(lambda a: a * a, x, vectorize=True, strict=True)",
    "jacobian_vectorize_strict_const": "F.jacobian(lambda a: m.ones(2), x, vectorize=True, "
                                       "strict=True)",
    "jacobian_forward": "show(F.jacobian(lambda a, b: (a * b, a.sum() * b), (x, y), "
                        "vectorize=True, strategy='forward-mode'))",
    "jacobian_forward_single": "show(F.jacobian(lambda a: a[:3].reshape(3, 1) * a[1:], z4, "
                               "vectorize=True, strategy='forward-mode'))",
    "jacobian_forward_dtype": "show(F.jacobian(lambda a, b: (a.float() * 2.0, a * b), (x, y), "
                              "vectorize=True, strategy='forward-mode'))",
    "jacobian_forward_unused": "show(F.jacobian(lambda a, b: (a * 2.0, m.ones(2, dtype=f64)), "
                               "(x, y), vectorize=True, strategy='forward-mode'))",
    "jacobian_forward_input_requires_grad": "show(F.jacobian(lambda a: a * a, xr, "
                                            "vectorize=True, strategy='forward-mode'))",
    "jacobian_forward_no_vectorize": "F.jacobian(lambda a: a * a, x, strategy='forward-mode')",
    "jacobian_forward_strict": "F.jacobian(lambda a: a * a, x, strict=True, vectorize=True, "
                               "strategy='forward-mode')",
    "jacobian_forward_create_graph": "F.jacobian(lambda a: a * a, x, create_graph=True, "
                                     "strict=True, vectorize=True, strategy='forward-mode')",
    "jacobian_forward_bad_inputs": "F.jacobian(lambda a: a * a, [x], strategy='forward-mode')",
    "jacobian_bad_strategy": "F.jacobian(lambda a: a * a, [x], strategy='reverse')",
    "jacobian_index": "show(F.jacobian(lambda a: (a * a)[1], x))",
    "jacobian_slice_create_graph": "show(F.jacobian(lambda a: (a * a)[1:2], x, "
                                   "create_graph=True))",
    "jacobian_identity_create_graph": "show(F.jacobian(lambda a: a, xr, create_graph=True))",
    "jacobian_same_tensor_twice": "show(F.jacobian(lambda a, b: a * b, (xr, xr), "
                                  "create_graph=True))",
    "jacobian_captured_create_graph": "show(F.jacobian(lambda a: a * a * xr, xr, "
                                      "create_graph=True))",
    "jacobian_captured_only": "show(F.jacobian(lambda a: c * c, x))",
    "jacobian_captured_only_strict": "F.jacobian(lambda a: c * c, x, strict=True)",
    "jacobian_linear_captured_create_graph": "show(F.jacobian(lambda a: a * c, x, "
                                             "create_graph=True))",
    "jacobian_linear_captured_strict": "F.jacobian(lambda a: a * c, x, create_graph=True, "
                                       "strict=True)",
    "jacobian_matmul": "show(F.jacobian(lambda a: A @ a[:2], x))",
    "jacobian_const_first_create_graph": "show(F.jacobian(lambda a, b: (m.ones(2, dtype=f64), "
                                         "a * a), (x, y), create_graph=True))",
    "jacobian_strict_create_graph_first": "F.jacobian(lambda a, b: (b * 2.0, a * a), (x, y), "
                                          "create_graph=True, strict=True)",
    "jacobian_float32_outputs": "show(F.jacobian(lambda a, b: (a.float() * 2.0, "
                                "(a * b).float()), (x, y)))",
    "jacobian_empty_output": "F.jacobian(lambda a: a[:0], x)",
    "jacobian_empty_input": "F.jacobian(lambda a: a * 2.0, x[:0])",
    "jacobian_no_inputs": "F.jacobian(lambda: x.sum(), ())",
    "jacobian_no_outputs": "F.jacobian(lambda a: (), x)",
    "jacobian_vectorize_matrix": "show(F.jacobian(lambda a: (a @ A).sum(1), A, vectorize=True))",
    "jacobian_vectorize_shared_graph": "show(F.jacobian(lambda a, b: (b * 2.0, a * a), (x, y), "
                                       "vectorize=True, create_graph=True))",
    "jacobian_vectorize_const_create_graph": "show(F.jacobian(lambda a, b: (m.ones(2, dtype=f64),"
                                             " a * a), (x, y), vectorize=True, "
                                             "create_graph=True))",
    "jacobian_vectorize_outer": "show(F.jacobian(lambda a: a.reshape(3, 1) * a, x, "
                                "vectorize=True, create_graph=True))",
    "jacobian_vectorize_linear_create_graph": "show(F.jacobian(lambda a: a.reshape(3, 1) * 2.0, "
                                              "x, vectorize=True, create_graph=True))",
    "jacobian_forward_matrix": "show(F.jacobian(lambda a: (a @ A).sum(1), A, vectorize=True, "
                               "strategy='forward-mode'))",
    "jacobian_forward_float32": "show(F.jacobian(lambda a, b: (a.float() * 2.0, "
                                "(a * b).float()), (x, y), vectorize=True, "
                                "strategy='forward-mode'))",
    "jacobian_forward_float32_graph": "show(F.jacobian(lambda a: a.float() * a.float(), xr, "
                                      "vectorize=True, strategy='forward-mode'))",
    "jacobian_forward_tuple_out": "show(F.jacobian(lambda a: (a * 2.0, a), x, vectorize=True, "
                                  "strategy='forward-mode'))",
    "jacobian_forward_tuple_of_one": "show(F.jacobian(lambda a: (a * 2.0,), (x,), "
                                     "vectorize=True, strategy='forward-mode'))",
    "jacobian_forward_tuple_in": "show(F.jacobian(lambda a, b: (a * b).sum(), (x, y), "
                                 "vectorize=True, strategy='forward-mode'))",
    "jacobian_forward_shared_graph": "show(F.jacobian(lambda a, b: (a * b, b.sum() * 2.0, "
                                     "m.ones(2, dtype=f64)), (xr, y), vectorize=True, "
                                     "strategy='forward-mode'))",
    "jacobian_forward_no_grad": """
with m.no_grad():
    show(F.jacobian(cube, x, vectorize=True, strategy='forward-mode'))""",
    "jacobian_forward_returns_float": "F.jacobian(lambda a: 1.0, x, vectorize=True, "
                                      "strategy='forward-mode')",
    "jacobian_forward_returns_none_in_tuple": "F.jacobian(lambda a: (a, None), x, "
                                              "vectorize=True, strategy='forward-mode')",
    "jacobian_forward_returns_list": "F.jacobian(lambda a: [a], x, vectorize=True, "
                                     "strategy='forward-mode')",
    "jacobian_forward_create_graph_bad_inputs": "F.jacobian(cube, [x], create_graph=True, "
                                                "strategy='forward-mode')",
    "jacobian_forward_strict_bad_inputs": "F.jacobian(cube, [x], strict=True, "
                                          "strategy='forward-mode')",
    "jacobian_bad_strategy_strict": "F.jacobian(cube, x, strict=True, strategy='forward')",
    "jacobian_vectorize_returns_list": "F.jacobian(lambda a: [a], x, vectorize=True)",
    # ---- hessian -------------------------------------------------------------------------
    "hessian": "show(F.hessian(cube, x))",
    "hessian_matrix": "show(F.hessian(lambda a: (a @ a).sin().sum(), A))",
    "hessian_tuples": "show(F.hessian(mixed, (x, y)))",
    "hessian_tuple_of_one": "show(F.hessian(cube, (x,)))",
    "hessian_one_by_one_output": "show(F.hessian(lambda a: cube(a).reshape(1, 1), x))",
    "hessian_scalar_in": "show(F.hessian(lambda a: a.sin() * a, s))",
    "hessian_float32": "show(F.hessian(cube, x.float()))",
    "hessian_create_graph": "show(F.hessian(mixed, (x, y), create_graph=True))",
    "hessian_create_graph_flows_back": """
h = F.hessian(cube, xr, create_graph=True)
show(h, m.autograd.grad(h.sum(), xr))""",
    "hessian_linear": "show(F.hessian(lambda a: (a * 2.0).sum(), x))",
    "hessian_linear_create_graph": "show(F.hessian(lambda a: (a * 2.0).sum(), x, "
                                   "create_graph=True))",
    "hessian_linear_strict": "F.hessian(lambda a: (a * 2.0).sum(), x, strict=True)",
    "hessian_unused_input": "show(F.hessian(lambda a, b: cube(a), (x, y)))",
    "hessian_unused_input_strict": "F.hessian(lambda a, b: cube(a), (x, y), strict=True)",
    "hessian_separable_strict": "F.hessian(lambda a, b: cube(a) + cube(b), (x, y), strict=True)",
    "hessian_strict": "show(F.hessian(mixed, (x, y), strict=True))",
    "hessian_quadratic_strict_create_graph": "F.hessian(lambda a: (a * a).sum(), x, strict=True, "
                                             "create_graph=True)",
    "hessian_strict_create_graph": "show(F.hessian(cube, x, strict=True, create_graph=True))",
    "hessian_const_output": "show(F.hessian(lambda a: m.ones((), dtype=f64), x))",
    "hessian_const_output_strict": "F.hessian(lambda a: m.ones((), dtype=f64), x, strict=True)",
    "hessian_returns_tuple": "F.hessian(lambda a: (cube(a),), x)",
    "hessian_returns_vector": "F.hessian(lambda a: a * a, x)",
    "hessian_returns_float": "F.hessian(lambda a: 1.0, x)",
    "hessian_inputs_list": "F.hessian(cube, [x])",
    "hessian_vectorize": "show(F.hessian(mixed, (x, y), vectorize=True))",
    "hessian_vectorize_strict": "F.hessian(mixed, (x, y), vectorize=True, strict=True)",
    "hessian_forward": "show(F.hessian(mixed, (x, y), vectorize=True, "
                       "outer_jacobian_strategy='forward-mode'))",
    "hessian_forward_single": "show(F.hessian(cube, x, vectorize=True, "
                              "outer_jacobian_strategy='forward-mode'))",
    "hessian_forward_no_vectorize": "F.hessian(cube, x, outer_jacobian_strategy='forward-mode')",
    "hessian_forward_strict": "F.hessian(cube, x, strict=True, vectorize=True, "
                              "outer_jacobian_strategy='forward-mode')",
    "hessian_forward_create_graph": "F.hessian(cube, x, create_graph=True, vectorize=True, "
                                    "outer_jacobian_strategy='forward-mode')",
    "hessian_bad_strategy": "F.hessian(cube, x, outer_jacobian_strategy='reverse')",
    "hessian_bad_strategy_bad_inputs": "F.hessian(cube, [x], outer_jacobian_strategy='reverse')",
    "hessian_input_requires_grad": "show(F.hessian(cube, xr))",
    "hessian_create_graph_input_requires_grad": "show(F.hessian(mixed, (xr, y), "
                                                "create_graph=True))",
    "hessian_vectorize_create_graph": "show(F.hessian(mixed, (xr, y), vectorize=True, "
                                      "create_graph=True))",
    "hessian_vectorize_unused_create_graph": "show(F.hessian(lambda a, b: cube(a), (x, y), "
                                             "vectorize=True, create_graph=True))",
    "hessian_vectorize_quadratic_create_graph": "show(F.hessian(lambda a: (a * a).sum(), x, "
                                                "vectorize=True, create_graph=True))",
    "hessian_quadratic_create_graph": "show(F.hessian(lambda a: (a * a).sum(), x, "
                                      "create_graph=True))",
    "hessian_captured": "show(F.hessian(lambda a: cube(xr), xr))",
    "hessian_captured_create_graph": "show(F.hessian(lambda a: cube(xr), xr, create_graph=True))",
    "hessian_captured_strict": "F.hessian(lambda a: cube(xr), xr, strict=True)",
    "hessian_captured_const": "show(F.hessian(lambda a: (c * c).sum(), x))",
    "hessian_captured_const_strict": "F.hessian(lambda a: (c * c).sum(), x, strict=True)",
    "hessian_linear_captured": "show(F.hessian(lambda a: (a * xr).sum(), xr, "
                               "create_graph=True))",
    "hessian_third_order_captured": "show(F.hessian(lambda a: (a * a * xr).sum(), xr, "
                                    "create_graph=True))",
    "hessian_scalar_and_vector": "show(F.hessian(lambda a, b: (a * a * b).sum(), (x, s)))",
    "hessian_scalars": "show(F.hessian(lambda a, b: (a * b).sum(), (s, s)))",
    "hessian_mixed_dtypes": "show(F.hessian(lambda a, b: (a * a * b).sum(), (x.float(), s)))",
    "hessian_float32_output": "show(F.hessian(lambda a: cube(a.float()), x))",
    "hessian_vectorize_scalar_and_vector": "show(F.hessian(lambda a, b: (a * a * b).sum(), "
                                           "(x, s), vectorize=True))",
    "hessian_strict_create_graph_bilinear": "F.hessian(lambda a, b: (a * a * b).sum(), (x, y), "
                                            "create_graph=True, strict=True)",
    "hessian_strict_cross": "F.hessian(lambda a, b: (a * a * b).sum(), (x, y), strict=True)",
    "hessian_strict_create_graph_quartic": "show(F.hessian(lambda a, b: (a * a * b * b).sum(), "
                                           "(x, y), strict=True, create_graph=True))",
    "hessian_strict_returns_tuple": "F.hessian(lambda a: (cube(a), cube(a)), x, strict=True)",
    "hessian_strict_const_requires_grad": "F.hessian(lambda a: m.ones((), requires_grad=True), "
                                          "x, strict=True)",
    "hessian_inputs_non_tensor": "F.hessian(cube, (x, 1.0))",
    "hessian_no_grad": """
with m.no_grad():
    show(F.hessian(cube, x))
    show(F.hessian(cube, x, create_graph=True))""",
    "hessian_forward_unused": "show(F.hessian(lambda a, b: cube(a), (x, y), vectorize=True, "
                              "outer_jacobian_strategy='forward-mode'))",
    "hessian_forward_linear": "show(F.hessian(lambda a: (a * 2.0).sum(), x, vectorize=True, "
                              "outer_jacobian_strategy='forward-mode'))",
    "hessian_forward_scalar_and_vector": "show(F.hessian(lambda a, b: (a * a * b).sum(), "
                                         "(x, s), vectorize=True, "
                                         "outer_jacobian_strategy='forward-mode'))",
    "hessian_forward_float32_output": "show(F.hessian(lambda a: cube(a.float()), x, "
                                      "vectorize=True, outer_jacobian_strategy='forward-mode'))",
    "hessian_forward_strict_bad_strategy": "F.hessian(cube, x, strict=True, vectorize=True, "
                                           "outer_jacobian_strategy='forward')",
    "hessian_bad_strategy_non_tensor": "F.hessian(cube, 1.0, outer_jacobian_strategy='nope')",
    # ---- vhp and hvp (the same cases for both) -------------------------------------------
    **{f"{name}{key}": src.replace("HP", name) for name in ("vhp", "hvp") for key, src in {
        "": "show(*F.HP(cube, x, v))",
        "_tuples": "show(*F.HP(mixed, (x, y), (v, w)))",
        "_tuple_of_one": "show(*F.HP(cube, (x,), (v,)))",
        "_matrix": "show(*F.HP(lambda a: (a @ a).sin().sum(), A, A))",
        "_default_v": "show(*F.HP(lambda a: a.sin() * a, s))",
        "_one_by_one_output": "show(*F.HP(lambda a: cube(a).reshape(1, 1), x, v))",
        "_float32": "show(*F.HP(cube, x.float(), v.float()))",
        "_v_none_nonscalar": "F.HP(cube, x)",
        "_v_bad_size": "F.HP(cube, x, z4)",
        "_v_bad_size_tuple": "F.HP(mixed, (x, y), (v, z4))",
        "_v_bad_length": "F.HP(mixed, (x, y), (v,))",
        "_v_two_for_one": "F.HP(cube, x, (v, v))",
        "_v_list": "F.HP(cube, x, [v])",
        "_v_checked_before_call": "F.HP(lambda a: (a, a), x, z4)",
        "_returns_tuple": "F.HP(lambda a: (cube(a),), x, v)",
        "_returns_vector": "F.HP(lambda a: a * a, x, v)",
        "_returns_float": "F.HP(lambda a: 1.0, x, v)",
        "_inputs_list": "F.HP(cube, [x], v)",
        "_create_graph": "show(*F.HP(mixed, (x, y), (v, w), create_graph=True))",
        "_create_graph_flows_back": """
o, h = F.HP(cube, xr, v, create_graph=True)
show(o, h, m.autograd.grad(h.sum(), xr))""",
        "_linear": "show(*F.HP(lambda a: (a * 2.0).sum(), x, v))",
        "_linear_create_graph": "show(*F.HP(lambda a: (a * 2.0).sum(), x, v, create_graph=True))",
        "_linear_strict": "F.HP(lambda a: (a * 2.0).sum(), x, v, strict=True)",
        "_unused_input": "show(*F.HP(lambda a, b: cube(a), (x, y), (v, w)))",
        "_unused_input_strict": "F.HP(lambda a, b: cube(a), (x, y), (v, w), strict=True)",
        "_const_output": "show(*F.HP(lambda a: m.ones((), dtype=f64), x, v))",
        "_const_output_strict": "F.HP(lambda a: m.ones((), dtype=f64), x, v, strict=True)",
        "_strict": "show(*F.HP(mixed, (x, y), (v, w), strict=True))",
        "_quadratic_strict_create_graph": "F.HP(lambda a: (a * a).sum(), x, v, strict=True, "
                                          "create_graph=True)",
        "_strict_create_graph": "show(*F.HP(cube, x, v, strict=True, create_graph=True))",
        "_no_grad": """
with m.no_grad():
    show(*F.HP(cube, x, v))
    show(*F.HP(cube, x, v, create_graph=True))""",
        "_captured": "show(*F.HP(lambda a: (a * a * xr).sum(), xr, v, create_graph=True))",
        "_captured_const": "show(*F.HP(lambda a: (c * c).sum(), x, v))",
        "_captured_const_strict": "F.HP(lambda a: (c * c).sum(), x, v, strict=True)",
        "_linear_captured": "show(*F.HP(lambda a: (a * c).sum(), x, v, create_graph=True))",
        "_linear_captured_strict": "F.HP(lambda a: (a * c).sum(), x, v, strict=True)",
        "_third_order_captured": "show(*F.HP(lambda a: (a * a * c).sum(), x, v, "
                                 "create_graph=True))",
        "_quadratic_captured_strict": "F.HP(lambda a: (a * a * c).sum(), x, v, strict=True, "
                                      "create_graph=True)",
        "_quadratic_create_graph": "show(*F.HP(lambda a: (a * a).sum(), x, v, "
                                   "create_graph=True))",
        "_v_requires_grad_create_graph": "show(*F.HP(cube, x, v.clone().requires_grad_(), "
                                         "create_graph=True))",
        "_bilinear_strict": "show(*F.HP(lambda a, b: (a * a * b).sum(), (x, y), (v, w), "
                            "strict=True))",
        "_bilinear_strict_create_graph": "F.HP(lambda a, b: (a * a * b).sum(), (x, y), (v, w), "
                                         "create_graph=True, strict=True)",
        "_mixed_dtypes": "show(*F.HP(lambda a, b: (a * a * b).sum(), (x.float(), s), "
                         "(v.float(), s)))",
        "_v_one_for_two": "F.HP(mixed, (x, y), v)",
    }.items()},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_functional_matches_torch(name):
    torch = pytest.importorskip("torch")
    got, want = run(CASES[name], tg), run(CASES[name], torch)
    assert got == want


# ---- without torch: hand-computed Jacobians and Hessians, torch's layout and errors ----------
def _t(a, **kw):
    return tg.tensor(np.asarray(a, dtype=np.float64), dtype=tg.float64, **kw)


def test_jacobian_by_hand_shape_out_then_in():
    # f(a)[i, j] = a[i] * a[j + 1] for a of 4 elements: out (2, 3), J (2, 3, 4)
    a = np.array([0.5, -1.0, 2.0, 3.0])
    J = F.jacobian(lambda t: t[:2].reshape(2, 1) * t[1:], _t(a))
    want = np.zeros((2, 3, 4))
    for i in range(2):
        for j in range(3):
            want[i, j, i] += a[j + 1]
            want[i, j, j + 1] += a[i]
    assert tuple(J.shape) == (2, 3, 4) and J.dtype == tg.float64 and not J.requires_grad
    np.testing.assert_allclose(J.numpy(), want, rtol=1e-15)
    for kw in ({"vectorize": True}, {"vectorize": True, "strategy": "forward-mode"}):
        np.testing.assert_allclose(F.jacobian(lambda t: t[:2].reshape(2, 1) * t[1:], _t(a),
                                              **kw).numpy(), want, rtol=1e-15)


def test_jacobian_by_hand_tuple_of_tuples():
    x, y = np.array([0.5, -1.0, 2.0]), np.array(1.5)
    J = F.jacobian(lambda a, b: (a * b, (a * a).sum()), (_t(x), _t(y)))
    assert isinstance(J, tuple) and all(isinstance(r, tuple) and len(r) == 2 for r in J)
    assert [tuple(b.shape) for r in J for b in r] == [(3, 3), (3,), (3,), ()]
    np.testing.assert_allclose(J[0][0].numpy(), np.eye(3) * 1.5)
    np.testing.assert_allclose(J[0][1].numpy(), x)
    assert J[1][0].tolist() == (2 * x).tolist() and J[1][1].item() == 0.0
    # forward-mode: lists, as torch
    Jf = F.jacobian(lambda a, b: (a * b, (a * a).sum()), (_t(x), _t(y)), vectorize=True,
                    strategy="forward-mode")
    assert isinstance(Jf, list) and all(isinstance(r, list) for r in Jf)
    np.testing.assert_allclose(Jf[0][0].numpy(), np.eye(3) * 1.5)


def test_hessian_by_hand():
    # f = a0^2 a1 + a1^3:  H = [[2 a1, 2 a0], [2 a0, 6 a1]]
    a0, a1 = 0.7, -1.3
    H = F.hessian(lambda t: t[0] ** 2 * t[1] + t[1] ** 3, _t([a0, a1]))
    want = [[2 * a1, 2 * a0], [2 * a0, 6 * a1]]
    np.testing.assert_allclose(H.numpy(), want, rtol=1e-14)
    for kw in ({"vectorize": True}, {"vectorize": True, "outer_jacobian_strategy": "forward-mode"}):
        # (a forward-over-reverse Hessian has a graph, as torch's)
        np.testing.assert_allclose(F.hessian(lambda t: t[0] ** 2 * t[1] + t[1] ** 3,
                                             _t([a0, a1]), **kw).detach().numpy(), want,
                                   rtol=1e-14)
    v = np.array([0.25, -2.0])
    for fn in (F.vhp, F.hvp):
        out, hv = fn(lambda t: t[0] ** 2 * t[1] + t[1] ** 3, _t([a0, a1]), _t(v))
        assert out.item() == pytest.approx(a0 ** 2 * a1 + a1 ** 3, rel=1e-15)
        np.testing.assert_allclose(hv.numpy(), np.array(want) @ v, rtol=1e-14)


def test_hessian_by_hand_blocks():
    # f(a, b) = b * sum(a^2): H_aa = 2b I, H_ab = H_ba = 2a, H_bb = 0
    x, b = np.array([0.5, -1.0, 2.0]), 1.5
    (Haa, Hab), (Hba, Hbb) = F.hessian(lambda a, s: s * (a * a).sum(), (_t(x), _t(b)))
    np.testing.assert_allclose(Haa.numpy(), 2 * b * np.eye(3))
    np.testing.assert_allclose(Hab.numpy(), 2 * x)
    np.testing.assert_allclose(Hba.numpy(), 2 * x)
    assert tuple(Hbb.shape) == () and Hbb.item() == 0.0


def test_vjp_jvp_by_hand():
    # f(a) = (a0 a1, sin a2): J = [[a1, a0, 0], [0, 0, cos a2]]
    a = np.array([0.5, -1.0, 2.0])
    J = np.array([[a[1], a[0], 0.0], [0.0, 0.0, np.cos(a[2])]])

    def f(t):
        return tg.stack([t[0] * t[1], t[2].sin()])
    u, v = np.array([2.0, -3.0]), np.array([1.0, 0.5, -0.25])
    out, g = F.vjp(f, _t(a), _t(u))
    np.testing.assert_allclose(out.numpy(), [a[0] * a[1], np.sin(a[2])])
    np.testing.assert_allclose(g.numpy(), u @ J, rtol=1e-15)
    _, jv = F.jvp(f, _t(a), _t(v))
    np.testing.assert_allclose(jv.numpy(), J @ v, rtol=1e-15)
    assert not g.requires_grad and not jv.requires_grad
    _, g = F.vjp(f, _t(a), _t(u), create_graph=True)
    assert g.requires_grad and g.grad_fn is not None


def test_strict_and_argument_errors_without_torch():
    x = _t([0.5, -1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"^Output 0 of the user-provided function does not "
                                           r"require gradients\. The outputs must be computed"):
        F.vjp(lambda a: tg.ones(3), x, x, strict=True)
    with pytest.raises(RuntimeError, match=r"^Output 0 of the user-provided function is "
                                           r"independent of input 1\."):
        F.jacobian(lambda a, b: a * a, (x, x), strict=True)
    with pytest.raises(RuntimeError, match=r"^While computing the hessian, found that the "
                                           r"jacobian .* input 0 is independent"):
        F.hessian(lambda a: (a * 2.0).sum(), x, strict=True)
    with pytest.raises(RuntimeError, match=r"^The hessian of the user-provided function is "
                                           r"independent of input 0\. .* create_graph=True\.$"):
        F.vhp(lambda a: (a * a).sum(), x, x, strict=True, create_graph=True)
    with pytest.raises(RuntimeError, match=r"^v has invalid size: should be tapegrad\.Size\(\[3\]\)"
                                           r" but got tapegrad\.Size\(\[2\]\)\.$"):
        F.jvp(lambda a: a * a, x, x[:2])
    with pytest.raises(TypeError, match=r"but the given inputs has type <class 'list'>\.$"):
        F.hvp(lambda a: a.sum(), [x], x)
    with pytest.raises(NotImplementedError, match="only implemented for `vectorize=True`"):
        F.jacobian(lambda a: a * a, x, strategy="forward-mode")
    with pytest.raises(AssertionError, match="Expected strategy to be either"):
        F.hessian(lambda a: a.sum(), x, outer_jacobian_strategy="backward")
