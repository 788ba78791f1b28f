"""Misuse table: each case does something wrong; tapegrad must raise what torch 2.13 raises
(exception type and message, with "tapegrad" read as "torch") and leave every value and
`.grad` of the common tensors as they were (issue #9, item 5)."""
import math
import re
import warnings

import numpy as np
import pytest

import tapegrad

torch = pytest.importorskip("torch")

COMMON = """
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
s = torch.tensor(2.0, requires_grad=True)
m = torch.ones(2, 3, requires_grad=True)
i = torch.tensor([1, 2, 3])
c = torch.tensor([4.0, 5.0, 6.0])
y = (x * 2.0).sum()
z = x * s
"""

# name -> code (after COMMON).  The last line is the misuse; earlier lines set it up.
CASES = {
    # -- creation -----------------------------------------------------------------------------
    "tensor_none": "torch.tensor(None)",
    "tensor_str": "torch.tensor('a')",
    "tensor_ragged": "torch.tensor([[1.0, 2.0], [3.0]])",
    "tensor_mixed_nesting": "torch.tensor([1.0, [2.0]])",
    "tensor_dict": "torch.tensor({'a': 1})",
    "tensor_object": "torch.tensor(object())",
    "tensor_list_of_none": "torch.tensor([None, 1.0])",
    "tensor_int_requires_grad": "torch.tensor(1, requires_grad=True)",
    "tensor_bool_requires_grad": "torch.tensor([True], requires_grad=True)",
    "tensor_bad_dtype": "torch.tensor(1.0, dtype='float32')",
    "zeros_negative": "torch.zeros(-1)",
    "ones_negative": "torch.ones(2, -3)",
    "empty_negative": "torch.empty(-2)",
    "full_negative": "torch.full((-1,), 1.0)",
    "zeros_float_size": "torch.zeros(2.5)",
    "zeros_str_size": "torch.zeros('a')",
    "arange_zero_step": "torch.arange(0, 10, 0)",
    "arange_wrong_sign": "torch.arange(10, 0, 1)",
    "linspace_negative_steps": "torch.linspace(0, 1, -1)",
    "eye_negative": "torch.eye(-1)",
    "randn_negative": "torch.randn(-1)",
    "int_ones_requires_grad": "torch.ones(2, dtype=torch.int64, requires_grad=True)",
    "zeros_like_not_tensor": "torch.zeros_like([1.0])",
    "full_like_not_tensor": "torch.full_like(3.0, 1.0)",
    # -- requires_grad / leaves ---------------------------------------------------------------------
    "nonleaf_requires_grad_false": "z.requires_grad_(False)",
    "nonleaf_set_requires_grad": "z.requires_grad = False",
    "int_requires_grad_": "i.requires_grad_()",
    "int_set_requires_grad": "i.requires_grad = True",
    "retain_grad_no_grad": "c.retain_grad()",
    "numpy_requires_grad": "x.numpy()",
    "set_grad_wrong_shape": "x.grad = torch.ones(4)",
    "set_grad_not_tensor": "x.grad = [1.0, 2.0, 3.0]",
    "set_grad_wrong_dtype": "x.grad = torch.ones(3, dtype=torch.int64)",
    "set_data_not_tensor": "x.data = [1.0]",
    # -- backward ---------------------------------------------------------------------------------
    "backward_non_scalar": "(x * 2.0).backward()",
    "backward_no_grad": "c.sum().backward()",
    "backward_int": "i.sum().backward()",
    "backward_twice": "w = (x * x).sum()\nw.backward()\nw.backward()",
    "backward_twice_exp": "w = x.exp().sum()\nw.backward()\nw.backward()",
    "backward_gradient_shape": "(x * 2.0).backward(torch.ones(2))",
    "backward_gradient_shape_scalar": "y.backward(torch.ones(3))",
    "backward_inputs_empty": "y.backward(inputs=[])",
    "backward_gradient_not_tensor": "(x * 2.0).backward('a')",
    "backward_under_no_grad_built": "with torch.no_grad():\n    w = x * 2.0\nw.sum().backward()",
    "autograd_backward_wrong_count": "torch.autograd.backward([y, z.sum()], [torch.tensor(1.0)])",
    "leaf_backward_no_grad": "c.backward()",
    # -- autograd.grad ----------------------------------------------------------------------------
    "grad_unused": "torch.autograd.grad(y, [x, s])",
    "grad_input_no_grad": "torch.autograd.grad(y, [c])",
    "grad_inputs_none": "torch.autograd.grad(y, None)",
    "grad_inputs_empty": "torch.autograd.grad(y, [])",
    "grad_non_scalar": "torch.autograd.grad(x * 2.0, x)",
    "grad_outputs_shape": "torch.autograd.grad(x * 2.0, x, grad_outputs=torch.ones(2))",
    "grad_output_no_grad": "torch.autograd.grad(c.sum(), x)",
    "grad_twice": "w = (x * x).sum()\ntorch.autograd.grad(w, x)\ntorch.autograd.grad(w, x)",
    "grad_input_not_tensor": "torch.autograd.grad(y, [1.0])",
    "grad_outputs_empty": "torch.autograd.grad([], x)",
    # -- in-place --------------------------------------------------------------------------------
    "leaf_add_": "x.add_(1.0)",
    "leaf_mul_": "x.mul_(2.0)",
    "leaf_zero_": "x.zero_()",
    "leaf_fill_": "x.fill_(1.0)",
    "leaf_setitem": "x[0] = 5.0",
    "leaf_iadd": "x += 1.0",
    "leaf_copy_": "x.copy_(c)",
    "leaf_sub_": "s.sub_(1.0)",
    "leaf_div_": "m.div_(2.0)",
    "inplace_broadcast_out": "c.add_(torch.ones(2, 3))",
    "inplace_shape_mismatch": "c.mul_(torch.ones(4))",
    "int_add_float_": "i.add_(0.5)",
    "int_mul_float_": "i.mul_(1.5)",
    "int_div_": "i.div_(2)",
    "modified_saved": "w = x * 1.0\nv = (w * w).sum()\nwith torch.no_grad():\n    w.add_(1.0)\nv.backward()",
    "modified_saved_exp": "w = x * 1.0\nv = w.exp()\nv.add_(1.0)\nv.sum().backward()",
    "copy_shape_mismatch": "c.copy_(torch.ones(4))",
    "setitem_shape_mismatch": "c[:] = torch.ones(4)",
    "setitem_out_of_range": "c[5] = 1.0",
    "fill_tensor_not_scalar": "c.fill_(torch.ones(2))",
    # -- binary ops and shapes ------------------------------------------------------------------------
    "add_shape": "x + torch.ones(4)",
    "sub_shape": "m - torch.ones(4)",
    "mul_shape": "x * torch.ones(2)",
    "div_shape": "m / torch.ones(2, 2)",
    "pow_shape": "x ** torch.ones(2)",
    "where_shape": "torch.where(c > 4.0, x, torch.ones(2))",
    "lt_shape": "x < torch.ones(2)",
    "add_str": "x + 'a'",
    "iadd_str": "c += 'a'",
    # -- an index tensor out of range: torch names its place among the index tensors ------------
    "getitem_index_tensor_oob": "m[:, torch.tensor([0, 3])]",
    "getitem_index_after_mask_oob": "m[torch.ones(2, dtype=torch.bool), torch.tensor([7])]",
    "setitem_index_tensors_oob": "c2 = torch.ones(2, 3, 4)\nc2[torch.tensor([0]), :, torch.tensor([7])] = 2.0",
    "setitem_0d_int": "t0 = torch.tensor(1.0)\nt0[7] = 1.0",
    "setitem_0d_zero": "t0 = torch.tensor(1.0)\nt0[0] = 1.0",
    # -- F.linear with a 1-d weight: matmul's vector, or with a bias an addmm's refusal ---------
    "linear_vector_weight_size": "torch.nn.functional.linear(m, torch.ones(12))",
    "linear_vector_weight_bias": "torch.nn.functional.linear(m, c, torch.ones(1))",
    # -- save to what cannot be written -------------------------------------------------------
    "save_to_int": "torch.save({'x': x}, 3)",
    "save_to_bytes": "torch.save({'x': x}, b'x.pt')",
    # -- values of the wrong kind -------------------------------------------------------------
    "masked_fill__str": "c.masked_fill_(c > 4.0, 'x')",
    "masked_fill__none": "c.masked_fill_(c > 4.0, None)",
    "masked_fill_list": "c.masked_fill(c > 4.0, [1.0, 2])",
    "torch_masked_fill_none": "torch.masked_fill(c, c > 4.0, None)",
    "map__shape": "c.map_(torch.ones(2), lambda u, v: u)",
    "sgd_state_shape": "o = torch.optim.SGD([m], lr=0.1, momentum=0.9)\nm.grad = torch.ones(2, 3)\n"
                       "o.step()\no.state[m]['momentum_buffer'] = torch.ones(9)\no.step()",
    "adam_state_shape": "o = torch.optim.Adam([x], lr=0.1)\nx.grad = torch.ones(3)\no.step()\n"
                        "o.state[x]['exp_avg'] = torch.ones(7)\no.step()",
    "rprop_state_shape": "o = torch.optim.Rprop([m])\nm.grad = torch.ones(2, 3)\no.step()\n"
                         "o.state[m]['prev'] = torch.ones(9)\no.step()",
    "to_dtype_str": "c.to(dtype='float64')",
    "to_non_blocking_int": "c.to(torch.float64, non_blocking=3)",
    "module_to_dtype_str": "net = torch.nn.Linear(2, 2)\nnet.to(dtype='float64')",
    "module_to_non_blocking_int": "net = torch.nn.Linear(2, 2)\nnet.to(torch.float64, non_blocking=3)",
    # -- nn.Module lookups ---------------------------------------------------------------------
    "get_parameter_missing": "net = torch.nn.Linear(2, 2)\nnet.get_parameter('foo')",
    "get_parameter_not_one": "net = torch.nn.Linear(2, 2)\nnet.get_parameter('training')",
    # -- optimizers: a gradient of another shape than its parameter (set through .data) ----------
    "sgd_grad_shape": "o = torch.optim.SGD([x], lr=0.1, momentum=0.9)\nx.grad = torch.ones(3)\n"
                      "x.grad.data = torch.ones(5)\no.step()",
    "adam_grad_2d_shape": "o = torch.optim.Adam([m], lr=0.1)\nm.grad = torch.ones(2, 3)\n"
                          "m.grad.data = torch.ones(4, 3)\no.step()",
    "rprop_grad_shape": "o = torch.optim.Rprop([x])\nx.grad = torch.ones(3)\n"
                        "x.grad.data = torch.ones(5)\no.step()",
    "adagrad_grad_broadcast_shape": "o = torch.optim.Adagrad([x])\nx.grad = torch.ones(3)\n"
                                    "x.grad.data = torch.ones(2, 3)\no.step()",
    "isub_list": "c -= [1.0, 2.0, 3.0]",
    "imul_none": "c *= None",
    "itruediv_tuple": "c /= (1, 2, 3)",
    "mul_none": "x * None",
    "radd_str": "'a' + x",
    "pow_str": "x ** 'a'",
    "add_list": "x + [1.0, 2.0]",
    "matmul_shape": "m @ torch.ones(2)",
    "matmul_scalar": "s @ x",
    "mm_1d": "torch.mm(x, x)",
    "mm_shape": "m.mm(m)",
    "mv_shape": "m.mv(torch.ones(2))",
    "mv_2d_vec": "m.mv(m)",
    "dot_2d": "m.dot(m)",
    "dot_shape": "x.dot(torch.ones(4))",
    "dot_dtype": "c.dot(torch.ones(3, dtype=torch.float64))",
    "bmm_2d": "torch.bmm(m, m)",
    "bmm_shape": "torch.bmm(torch.ones(2, 2, 3), torch.ones(2, 2, 3))",
    "mm_dtype": "m.mm(torch.ones(3, 2, dtype=torch.float64))",
    # -- views, reductions, indexing -----------------------------------------------------------------------
    "reshape_numel": "x.reshape(4)",
    "reshape_two_infer": "m.reshape(-1, -1)",
    "reshape_infer_bad": "m.reshape(-1, 4)",
    "view_numel": "m.view(5)",
    "view_bad_arg": "m.view('a')",
    "view_float_arg": "m.view(1.5)",
    "view_none_arg": "m.view(None)",
    "transpose_dim": "m.transpose(0, 2)",
    "transpose_neg_dim": "m.transpose(-3, 0)",
    "t_3d": "torch.ones(2, 2, 2).t()",
    "permute_count": "m.permute(0)",
    "permute_repeat": "m.permute(0, 0)",
    "squeeze_dim": "m.squeeze(2)",
    "unsqueeze_dim": "m.unsqueeze(4)",
    "sum_dim": "m.sum(2)",
    "sum_dim_neg": "m.sum(-3)",
    "mean_dim": "m.mean(5)",
    "mean_int": "i.mean()",
    "sum_dim_str": "m.sum('a')",
    "sum_dim_float": "m.sum(1.5)",
    "sum_repeat_dims": "m.sum((0, 0))",
    "expand_bad": "x.expand(2, 4)",
    "expand_fewer_dims": "m.expand(3)",
    "expand_negative_new": "x.expand(-1, 3)",
    "flatten_dims": "m.flatten(1, 0)",
    "flatten_dim_range": "m.flatten(0, 5)",
    "index_out_of_range": "x[5]",
    "index_neg_out_of_range": "x[-4]",
    "index_float": "x[1.5]",
    "index_str": "x['a']",
    "index_too_many": "x[0, 0]",
    "index_0d": "s[0]",
    "index_list_out_of_range": "x[[0, 7]]",
    "index_bool_mask_shape": "x[torch.tensor([True, False])]",
    "index_float_tensor": "x[torch.tensor([0.0])]",
    "cat_empty": "torch.cat([])",
    "cat_shape": "torch.cat([m, x])",
    "cat_dim": "torch.cat([x, x], dim=1)",
    "cat_0d": "torch.cat([s, s])",
    "stack_empty": "torch.stack([])",
    "stack_shape": "torch.stack([x, torch.ones(2)])",
    "stack_dim": "torch.stack([x, x], dim=3)",
    # -- conversions --------------------------------------------------------------------------------
    "item_many": "x.item()",
    "float_many": "float(x)",
    "int_many": "int(m)",
    "bool_many": "bool(x)",
    "len_0d": "len(s)",
    "iter_0d": "iter(s)",
    "index_many": "[1, 2][torch.tensor([0, 1])]",
    "index_float_scalar": "[1, 2][torch.tensor(1.0)]",
    "tolist_bad_arg": "x.tolist(1)",
    "tolist_two_args": "x.tolist(1, 2)",
    "to_bad_dtype": "x.to('foo')",
    "type_bad": "x.type('foo')",
    "size_dim": "m.size(2)",
    "size_str": "m.size('a')",
    "hash_ok_but_in_set_eq": "{x: 1}[torch.tensor([1.0, 2.0, 3.0])]",
    # -- grad mode ----------------------------------------------------------------------------------
    "set_grad_enabled_str": "torch.set_grad_enabled('yes')",
    # -- functions -----------------------------------------------------------------------------------
    "exp_str": "torch.exp('a')",
    "exp_list": "torch.exp([1.0])",
    "sum_not_tensor": "torch.sum([1.0, 2.0])",
    "where_not_bool": "torch.where(c, x, x)",
    "relu_int_grad": "torch.relu(i).sum().backward()",
    "sqrt_int_requires": "i.float().requires_grad_().long().requires_grad_()",
    "detach_then_backward": "x.detach().sum().backward()",
    "clone_backward_twice": "w = (x.clone() * x).sum()\nw.backward()\nw.backward()",
    "sigmoid_str": "torch.sigmoid('a')",
}

# Mismatches that need more than a small local change, with the reason.
# every case matches torch; a known mismatch would be listed here as a strict xfail
XFAIL = {}


def _run(lib, code):
    ns = {"torch": lib, "np": np, "math": math}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(COMMON, ns)
        before = _snapshot(ns)
        try:
            exec(code, ns)
        except Exception as e:  # noqa: BLE001 - what we compare
            return e, before, _snapshot(ns)
    return None, before, _snapshot(ns)


def _snapshot(ns):
    out = {}
    for k in ("x", "s", "m", "c", "i"):
        t = ns[k]
        g = t.grad if k in ("x", "s", "m") else None
        out[k] = (t.detach().tolist(), None if g is None else g.tolist())
    return out


def _norm(msg):
    return re.sub(r"\btapegrad\b", "torch", msg).strip()


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=XFAIL[n])) if n in XFAIL else n
    for n in CASES])
def test_misuse_matches_torch(name):
    code = CASES[name]
    te, _, _ = _run(torch, code)
    assert te is not None, f"torch accepts {name}: not a misuse case"
    ge, before, after = _run(tapegrad, code)
    assert ge is not None, f"tapegrad accepts what torch refuses: {type(te).__name__}: {te}"
    assert (type(ge).__name__, _norm(str(ge))) == (type(te).__name__, _norm(str(te)))


@pytest.mark.parametrize("name", list(CASES))
def test_misuse_leaves_state_unchanged(name):
    """Whatever is raised, the failing line changed no value and no `.grad`."""
    code = CASES[name]
    lines = code.split("\n")
    ns = {"torch": tapegrad, "np": np, "math": math}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(COMMON, ns)
        if len(lines) > 1:   # the set-up lines may legitimately change things
            try:
                exec("\n".join(lines[:-1]), ns)
            except Exception:  # noqa: BLE001 - set-up that already fails: nothing to check
                return
        before = _snapshot(ns)
        try:
            exec(lines[-1], ns)
        except Exception:  # noqa: BLE001
            pass
        assert _snapshot(ns) == before


def test_table_is_large_enough():
    assert len(CASES) >= 100
