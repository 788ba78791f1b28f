"""Ops across dtypes as torch computes them: the dtype a mixed pair is computed in (0-d
tensors and numbers promote only by a higher kind), integer wraparound in that dtype,
and torch's errors for dtypes without a kernel.  Each expression runs with torch and with
tapegrad; results compare by dtype and values (integers exactly, floats to round-off),
errors by type and message."""
import warnings

import numpy as np
import pytest

import tapegrad as tg


def _env(T):
    return dict(
        T=T,
        b=T.tensor([True, False, True, True]),
        u=T.tensor([0, 3, 200, 255], dtype=T.uint8),
        c=T.tensor([-128, -7, 5, 127], dtype=T.int8),
        s=T.tensor([-32768, -7, 5, 32767], dtype=T.int16),
        i=T.tensor([-2**31, -7, 5, 2**31 - 1], dtype=T.int32),
        l=T.tensor([-7, -1, 3, 2**62], dtype=T.int64),
        f=T.tensor([-2.5, 0.3, 1.5, 3.25]),
        d=T.tensor([1.5, -0.75, 2.0, 0.4], dtype=T.float64),
        d0=T.tensor(0.4, dtype=T.float64), f0=T.tensor(0.7), s0=T.tensor(-32768, dtype=T.int16),
        c0=T.tensor(-128, dtype=T.int8), b0=T.tensor(True))


def _run(T, expr):
    try:
        r = eval(expr, _env(T))
    except Exception as e:  # noqa: BLE001  (compared with torch's)
        return "E", type(e).__name__, str(e).replace("tapegrad", "torch")
    return "V", str(r.dtype).split(".")[-1], r.detach().numpy()


def _differs(torch, expr):
    a, b = _run(torch, expr), _run(tg, expr)
    if a[0] != b[0] or a[1] != b[1]:
        return a, b
    if a[0] == "E":
        return (a, b) if a[2] != b[2] else None
    x, y = a[2], b[2]
    if x.shape != y.shape:
        return a, b
    if x.dtype.kind in "biu":
        return None if np.array_equal(x, y) else (a, b)
    tol = 1e-6 if x.dtype == np.float32 else 1e-14
    return None if np.allclose(x, y, rtol=tol, atol=0, equal_nan=True) else (a, b)


def _same(torch, exprs):
    bad = [(e, d) for e in exprs for d in [_differs(torch, e)] if d]
    assert not bad, "\n".join(f"{e}\n  torch: {a}\n  tapegrad: {b}" for e, (a, b) in bad[:10])


def test_float_valued_pairs_promote_before_the_float_cast(torch_ref):
    # an integer operand goes to the pair's float dtype (float64 with a float64 operand, 0-d
    # included), not to float32 first; logaddexp has no integer kernel
    exprs = []
    for fn in ("T.xlogy", "T.special.xlogy", "T.special.xlog1py", "T.logaddexp",
               "T.logaddexp2"):
        exprs += [f"{fn}(i, d)", f"{fn}(d, i)", f"{fn}(b, d0)", f"{fn}(d0, b)", f"{fn}(l, d)",
                  f"{fn}(u, f0)", f"{fn}(i, i)", f"{fn}(b, b)", f"{fn}(i, 2.5)", f"{fn}(c0, f)",
                  f"{fn}(f, d0)"]
    exprs += ["i.xlogy(d)", "i.logaddexp(d)", "b.logaddexp2(d0)", "i.logaddexp(i)"]
    _same(torch_ref, exprs)


def test_float_valued_pair_gradient_through_the_promotion(torch_ref):
    grads = []
    for T in (torch_ref, tg):
        x = T.tensor([0.5, 1.5, 2.0], dtype=T.float64, requires_grad=True)
        y = T.tensor(0.25, requires_grad=True)
        n = T.tensor([1, 2**31 - 1, 3], dtype=T.int32)
        (T.xlogy(n, x) + T.logaddexp(n, x) + T.logaddexp(x, y)).sum().backward()
        grads.append((x.grad.dtype, x.grad.tolist(), y.grad.dtype, y.grad.item()))
    (d1, g1, e1, h1), (d2, g2, e2, h2) = grads
    assert str(d1)[-7:] == str(d2)[-7:] and str(e1)[-7:] == str(e2)[-7:]
    assert np.allclose(g1, g2, rtol=1e-12) and np.isclose(h1, h2, rtol=1e-6)


def test_composites_compute_in_the_promoted_dtype(torch_ref):
    # addcmul/addcdiv and add/sub/rsub with alpha: every operand in the common dtype first
    # (uint8 * int8 products wrap in int16, not uint8; a bool other of a uint8 add stays
    # uint8; float64 + alpha * float32 is computed in float64)
    exprs = []
    for x, y in (("u", "c"), ("c", "u"), ("b", "u"), ("u", "b"), ("c0", "s"), ("s", "c0"),
                 ("u", "f"), ("u", "f0"), ("c0", "f"), ("d", "f"), ("f", "d0"), ("b", "b"),
                 ("i", "l"), ("l", "i"),
                 # one dtype across categories (dtypes.promoted's shortcut)
                 ("d", "d0"), ("d0", "d"), ("f0", "f0"), ("s", "s0"), ("b0", "b"), ("c0", "c0")):
        exprs += [f"T.addcmul({x}, {x}, {y}, value=2)", f"T.addcmul({y}, {x}, {y})",
                  f"T.addcdiv({x}, {x}, {y}, value=2)", f"T.add({x}, {y}, alpha=2)",
                  f"T.sub({x}, {y}, alpha=3)", f"T.rsub({x}, {y}, alpha=2)",
                  f"{x}.addcmul({x}, {y}, value=3)"]
    exprs += ["T.add(d, f, alpha=1.5)", "T.add(f, d0, alpha=1.5)", "f.addcmul(f, 2)",
              "f.addcdiv(f, 2.0)"]
    _same(torch_ref, exprs)


def test_bitwise_operands_converted_to_the_result_dtype(torch_ref):
    # a number or 0-d tensor out of the result dtype's range wraps around into it (torch
    # converts both operands first); shifts have no bool kernel
    exprs = []
    for op in ("&", "|", "^", "<<", ">>"):
        exprs += [f"u {op} -3", f"u {op} 300", f"-3 {op} u", f"c {op} 300", f"c {op} -200",
                  f"u {op} s0", f"s0 {op} u", f"u {op} c0", f"c0 {op} u", f"b {op} b0",
                  f"b {op} True", f"s {op} s0"]
    exprs += ["u.bitwise_and(-3)", "u.bitwise_xor(300)", "u.bitwise_left_shift(s0)",
              "T.bitwise_right_shift(u, s0)", "u.clone().bitwise_or_(-3)",
              "T.bitwise_left_shift(b, b)", "b.bitwise_right_shift(True)"]
    _same(torch_ref, exprs)


def test_two_tensors_compare_in_their_promoted_dtype(torch_ref):
    # the 0-d operand converted into the dimensioned one's dtype (int16 -32768 as uint8 is 0,
    # float64 1e-300 as float32 is 0) before logical ops and comparisons; logical ops take
    # tensors only
    exprs = []
    for fn in ("T.logical_and", "T.logical_or", "T.logical_xor", "T.eq", "T.ne", "T.lt"):
        exprs += [f"{fn}(u, s0)", f"{fn}(s0, u)", f"{fn}(u, c0)", f"{fn}(c0, u)",
                  f"{fn}(f, T.tensor(1e-300, dtype=T.float64))", f"{fn}(b, s0)",
                  f"{fn}(i, T.tensor(2.0**31, dtype=T.float32))", f"{fn}(u, b0)"]
    for fn in ("logical_and", "logical_or", "logical_xor"):
        exprs += [f"T.{fn}(u, 2)", f"u.{fn}(0.5)", f"b.{fn}(True)", f"b.clone().{fn}_(2)",
                  f"u.{fn}(s0)", f"b.clone().{fn}_(s0)"]
    _same(torch_ref, exprs)


def test_integer_relu_exact(torch_ref):
    # computed in the integer dtype: int64's max is not rounded through float64 (to the
    # minimum); bool has no relu
    _same(torch_ref, ["T.relu(l)", "l.relu()", "T.relu(i)", "T.nn.functional.relu(c)",
                      "T.relu(T.tensor([2**63 - 1, -2**63]))", "T.relu(u)", "T.relu(b)",
                      "b.relu()", "T.relu(s0)"])


def test_ldexp_power_in_the_exponents_dtype(torch_ref):
    # a float32 exponent of a float64 input: 2 ** e rounded to float32 (a 0-d one's in
    # float64), as torch's kernel; a bool exponent works unless the input is floating
    _same(torch_ref, ["T.ldexp(d, f)", "T.ldexp(d, f0)", "T.ldexp(f, d)", "T.ldexp(f, d0)",
                      "d.ldexp(f)", "T.ldexp(b, b)", "T.ldexp(b, b0)", "T.ldexp(l, b)",
                      "T.ldexp(f, b)", "T.ldexp(u, f)", "T.ldexp(f, u)"])


def _inplace_bound_run(T, op, bdt, self_grad):
    x = T.tensor([1.0, 2.0, 3.0], requires_grad=self_grad)
    b = T.tensor([1.5, 1.5, 1.5], dtype=getattr(T, bdt), requires_grad=True)
    y = x.clone() if self_grad else x
    r = {"clamp_": lambda: y.clamp_(b), "clamp_kw": lambda: y.clamp_(min=b),
         "clamp_both": lambda: y.clamp_(b, b + 1), "clamp_min_": lambda: y.clamp_min_(b),
         "clamp_max_": lambda: y.clamp_max_(b), "copysign_": lambda: y.copysign_(-b),
         "addcmul_": lambda: y.addcmul_(b, b)}[op]()
    names = [None if f is None else type(f).__name__ for f, _ in r.grad_fn.next_functions]
    (r * T.tensor([1.0, 2.0, 3.0])).sum().backward()
    return (str(r.dtype)[-7:], r.tolist(), type(r.grad_fn).__name__, names[0],
            str(b.grad.dtype)[-7:], b.grad.tolist(), x.grad.tolist() if self_grad else None)


def test_inplace_with_tensor_arguments_records_their_history(torch_ref):
    # x.clamp_(b) with b requiring grad records the op even when x needs none (the gradient
    # reached no one), and a float64 argument of a float32 tensor is cast into it (was
    # torch's cast error)
    for op in ("clamp_", "clamp_kw", "clamp_both", "clamp_min_", "clamp_max_", "copysign_",
               "addcmul_"):
        for bdt in ("float32", "float64"):
            for self_grad in (False, True):
                want = _inplace_bound_run(torch_ref, op, bdt, self_grad)
                assert _inplace_bound_run(tg, op, bdt, self_grad) == want, (op, bdt, self_grad)


def test_reductions_with_a_dtype(torch_ref):
    # nansum of an integer tensor keeps dtype= (was int64 always); an integer dtype of a
    # tensor that requires grad is torch's error, not a result without gradient
    exprs = []
    for fn in ("sum", "nansum", "prod", "mean"):
        for dt in ("int32", "int64", "uint8", "bool", "float64"):
            exprs += [f"b.{fn}(dtype=T.{dt})", f"u.{fn}(0, dtype=T.{dt})",
                      f"f.requires_grad_().{fn}(dtype=T.{dt})",
                      f"T.{fn}(d.requires_grad_(), 0, dtype=T.{dt})"]
    for fn in ("cumsum", "cumprod"):
        for dt in ("int32", "bool", "float64"):
            exprs += [f"f.requires_grad_().{fn}(0, dtype=T.{dt})", f"c.{fn}(0, dtype=T.{dt})"]
    _same(torch_ref, exprs + ["T.nansum(c, dtype=T.int8)", "T.nansum(b)"])


def test_integer_kernels_torch_lacks(torch_ref):
    # frac of an integer tensor and torch.special.round of one (torch.round returns it) are
    # NotImplementedError, as torch's dispatch
    exprs = [f"{e.format(v)}" for v in ("l", "u", "b", "c0")
             for e in ("{}.frac()", "T.frac({})", "T.special.round({})", "T.round({})",
                       "T.special.round({}, decimals=1)", "T.round({}, decimals=2)")]
    _same(torch_ref, exprs + ["T.special.round(f)", "T.special.round(d, decimals=1)"])


def test_lcm_of_small_integers_wraps_after_the_abs(torch_ref):
    # torch computes |a / gcd * b| in C++'s int for uint8/int8/int16, wrapping into the
    # dtype only at the end (lcm(int8 127, -4) is -4, not 4)
    _same(torch_ref, ["T.lcm(c, T.tensor([-4, 3, -6, -4], dtype=T.int8))",
                      "T.lcm(s, T.tensor([3, -5, 7, -4], dtype=T.int16))",
                      "u.lcm(T.tensor([3, 5, 7, 9], dtype=T.uint8))", "T.lcm(c, s0)",
                      "T.lcm(l, T.tensor([4, 6, -9, 3]))", "T.lcm(c, u)"])


def _floor_divide_inplace_run(T, other):
    x = T.tensor([1.5, 2.5, -3.5], requires_grad=True)
    y = x * 1
    y //= other(T)
    out = (y.tolist(), str(y.dtype)[-7:], type(y.grad_fn).__name__, y._version)
    try:
        y.sum().backward()
    except RuntimeError as e:
        return out + (str(e),)
    return out


def test_floor_divide_inplace_on_a_tensor_with_history(torch_ref):
    # torch rebases it on floor_divide's NotImplemented node (its backward raises); tapegrad
    # raised NotImplementedError at the op
    for other in (lambda T: 2, lambda T: T.tensor(-1.5, dtype=T.float64),
                  lambda T: T.tensor([2.0, 1.0, 3.0], requires_grad=True), lambda T: True):
        assert _floor_divide_inplace_run(tg, other) == _floor_divide_inplace_run(torch_ref, other)


def test_inplace_checks_the_output_first(torch_ref):
    # torch's in-place ops check the output: its shape (a 0-d tensor cannot take an n-d
    # result), then whether the result dtype casts into it (gcd_ of a bool tensor with int8)
    exprs = []
    for op in ("add_", "mul_", "sub_", "div_", "remainder_", "fmod_", "pow_", "gcd_", "lcm_",
               "bitwise_and_", "bitwise_left_shift_", "floor_divide_"):
        exprs += [f"b0.clone().{op}(u)", f"c0.clone().{op}(f)", f"f0.clone().{op}(b)",
                  f"b.clone().{op}(c)", f"b.clone().{op}(s0)", f"s0.clone().{op}(u)"]
    exprs += ["b.clone().gcd_(2)", "u.clone().lcm_(3)", "c0.clone().__iand__(u)",
              "b0.clone().__ior__(b)", "u.clone().__ixor__(f)"]
    _same(torch_ref, exprs)


def test_inplace_integer_operand_in_the_result_dtype(torch_ref):
    # torch converts the other integer operand into the result dtype before computing: a
    # 0-d int8 -128 with a uint8 tensor is 128 (numpy's int16 gave u % -128)
    exprs = []
    for op in ("remainder_", "fmod_", "floor_divide_", "add_", "mul_", "bitwise_xor_",
               "__imod__"):
        exprs += [f"u.clone().{op}(c0)", f"u.clone().{op}(s0)", f"c.clone().{op}(s0)",
                  f"s.clone().{op}(T.tensor(-100000, dtype=T.int32))"]
    _same(torch_ref, exprs)


def test_clamp_number_bounds_checked_as_torch(torch_ref):
    # clamp_min/clamp_max take a number bound by torch's checked conversion into the
    # tensor's dtype (uint8 with 300 raises; it wrapped to 44), and a bool tensor has no
    # kernel for bool bounds
    exprs = ["u.clamp_min(300)", "u.clamp_max(-1)", "T.clamp_min(u, 300)", "c.clamp_max(128)",
             "c.clamp_min(-200)", "u.clone().clamp_min_(300)", "f.clamp_min(1e40)",
             "T.clamp_max(f, -1e40)", "d.clamp_min(1e300)", "b.clamp(True)",
             "b.clamp(max=True)", "b.clamp(True, True)", "b.clamp_min(True)", "b.clamp_min(1)",
             "T.clamp_max(b, False)", "b.clone().clamp_max_(True)", "b.clamp(0.5)",
             "u.clamp_min(2.5)", "c.clamp(-200, 5)", "u.clamp(max=300)", "l.clamp_max(2**62)",
             "T.clamp(b, True, 2)", "T.clamp(b, 0, True)", "b.clamp(0.5, True)",
             "b.clamp(max=2)"]
    _same(torch_ref, exprs)


def test_nan_to_num_replacements_past_float32_range(torch_ref):
    # torch casts the replacement values into float32 unchecked: 1e40 is inf (tapegrad
    # raised its checked conversion's overflow error)
    x = "T.tensor([float('nan'), float('inf'), -float('inf'), 1.0])"
    _same(torch_ref, [f"T.nan_to_num({x}, posinf=1e40)", f"T.nan_to_num({x}, nan=1e39)",
                      f"{x}.nan_to_num(nan=-1e40, posinf=-1e40, neginf=3e38)",
                      f"{x}.double().nan_to_num(posinf=1e300)",
                      f"{x}.requires_grad_().nan_to_num(nan=1e40)",
                      f"{x}.clone().nan_to_num_(neginf=-1e50)"])


def test_clamp_tensor_bounds_out_casts(torch_ref):
    # clamp's tensor-bound overloads cast their result into out= as other TensorIterator
    # ops (tapegrad applied the number-bound overloads' strict "Found dtype" check)
    exprs = []
    for dt in ("bool", "uint8", "int16", "int64", "float32", "float64"):
        exprs += [f"T.clamp_min(u, c, out=T.empty(4, dtype=T.{dt}))",
                  f"T.clamp_max(f, d, out=T.empty(4, dtype=T.{dt}))",
                  f"T.clamp(f, d, out=T.empty(4, dtype=T.{dt}))",
                  f"T.clip(l, max=f, out=T.empty(4, dtype=T.{dt}))",
                  f"T.clamp(f, 0.5, out=T.empty(4, dtype=T.{dt}))",
                  f"T.clamp_min(u, 3, out=T.empty(4, dtype=T.{dt}))"]
    _same(torch_ref, exprs)


def test_reduction_out_sets_the_computation_dtype(torch_ref):
    # sum/mean/prod/cumsum/cumprod/nansum with out= and no dtype compute in out's dtype
    # (float32 input, float64 out: accumulated in float64, not rounded to float32 first;
    # an int64 out of a float cumsum converts the input first); a dtype given must be out's
    g = "T.tensor([16777216.0, 0.1, 2.5, 1.0, -1.5])"
    exprs = []
    for fn in ("sum", "mean", "prod", "cumsum", "cumprod", "nansum"):
        exprs += [f"T.{fn}({g}, 0, out=T.empty(0, dtype=T.float64))",
                  f"T.{fn}(T.tensor([1.5, 2.5, -0.5, 3.5]), 0, out=T.empty(0, dtype=T.int64))",
                  f"T.{fn}(u, 0, out=T.empty(0, dtype=T.float64))",
                  f"T.{fn}(b, 0, out=T.empty(0, dtype=T.uint8))",
                  f"T.{fn}(f, 0, dtype=T.float32, out=T.empty(0, dtype=T.float64))"]
    _same(torch_ref, exprs)


def test_scatter_value_and_linspace_bounds_checked(torch_ref):
    # a number written by scatter, and linspace's bounds, take torch's checked conversion
    # into the dtype: 300 into uint8 raises (it wrapped to 44), -1 is 255
    _same(torch_ref, [
        "u.scatter(0, T.tensor([0]), 300)", "u.scatter(0, T.tensor([0]), -1)",
        "c.scatter(0, T.tensor([1]), -129)", "c.scatter(0, T.tensor([1]), 2.7)",
        "f.scatter(0, T.tensor([1]), 1e40)", "u.clone().scatter_(0, T.tensor([0]), 256)",
        "T.scatter(u, 0, T.tensor([2]), value=300)", "b.scatter(0, T.tensor([0]), 5)",
        "T.linspace(0, 300, 4, dtype=T.uint8)", "T.linspace(-1, 200, 4, dtype=T.uint8)",
        "T.linspace(-200, 100, 4, dtype=T.int8)", "T.linspace(0, 2**40, 3, dtype=T.int32)",
        "T.linspace(0.5, 250.5, 3, dtype=T.uint8)", "T.linspace(0, 1e40, 3)",
        "T.linspace(0, 1e40, 3, dtype=T.float64)", "T.linspace(0, 300.5, 3, dtype=T.uint8)"])


def test_einsum_without_a_sum_multiplies_with_promotion(torch_ref):
    # torch's einsum multiplies a pair that shares no summed label (mixed dtypes promote:
    # int8 x uint8 outer product is int16) and contracts the others with bmm, which takes
    # one dtype
    _same(torch_ref, ["T.einsum('i,j->ij', c, u)", "T.einsum('i,i->i', u, f)",
                      "T.einsum('i,j->ij', f, d)", "T.einsum('i,j->', c, f)",
                      "T.einsum('i,i,i->i', u, f, d)", "T.einsum('i,j->ji', b, b)",
                      "T.einsum('i,i->', u, f)", "T.einsum('i,i->', f, d)",
                      "T.einsum('ij,j->i', T.ones(2, 4, dtype=T.int8), u)",
                      "T.einsum('i,j->ij', f, f)", "T.einsum('bi,bj->bij', f[None], d[None])"])
    for T in (torch_ref, tg):   # (the product's node, as torch's)
        a = T.tensor([1.0, 2.0], requires_grad=True)
        r = T.einsum("i,j->ij", a, T.tensor([3.0, 4.0, 5.0], requires_grad=True))
        r.sum().backward()
        assert type(r.grad_fn).__name__ == "MulBackward0" and a.grad.tolist() == [12.0, 12.0]


def _nextafter_run(T):
    x = T.tensor([1.5, 2.5, float("inf"), 1.0], requires_grad=True)
    o = T.tensor([3.0, 0.0, 0.0, 1.0], dtype=T.float64, requires_grad=True)
    y = T.nextafter(x, o)
    (y * T.tensor([1.0, 2.0, 3.0, 4.0], dtype=T.float64)).sum().backward()
    z = (x * 1).nextafter_(T.ones(4))
    w = T.tensor([[1.0], [2.0]], requires_grad=True)
    T.nextafter(w, T.zeros(2, 3)).sum().backward()
    return (y.tolist(), str(y.dtype)[-7:], type(y.grad_fn).__name__, x.grad.tolist(),
            str(x.grad.dtype)[-7:], o.grad.tolist(), str(o.grad.dtype)[-7:], z.tolist(),
            type(z.grad_fn).__name__, w.grad.tolist())


def test_nextafter_of_a_tensor_that_requires_grad(torch_ref):
    # torch's NextafterBackward0: the gradient passes to input where input != other (0
    # where equal), other gets zeros (tapegrad raised NotImplementedError)
    assert _nextafter_run(tg) == _nextafter_run(torch_ref)


def test_order_statistics_of_bool_tensors(torch_ref):
    # torch has no bool kernel for median, kthvalue, topk, trace (sort and mode it has)
    _same(torch_ref, ["b.median()", "b.median(0)", "T.median(b, 0, keepdim=True)",
                      "b.nanmedian()", "b.nanmedian(0)", "b.kthvalue(1)", "T.kthvalue(b, 2, 0)",
                      "b.topk(1)", "T.topk(b, 2, largest=False)", "T.trace(b)",
                      "T.trace(b.reshape(2, 2))", "b.msort()", "b.sort()[0]", "b.mode()[0]",
                      "u.median()", "c.kthvalue(2)[0]", "T.trace(u.reshape(2, 2))",
                      "b0.topk(2)", "b0.kthvalue(2)", "b.topk(5)"])


def test_vector_norm_checks_the_input_before_dtype(torch_ref):
    # torch refuses a non-float input even with a float dtype= (tapegrad converted it
    # first), and an integer dtype= with its own message
    _same(torch_ref, ["T.linalg.vector_norm(b, dtype=T.float64)", "T.norm(u, dtype=T.float64)",
                      "u.norm(dtype=T.float32)", "T.linalg.norm(u, dtype=T.float64)",
                      "T.linalg.vector_norm(f, dtype=T.int64)", "T.linalg.norm(f, dtype=T.bool)",
                      "T.linalg.vector_norm(f, dtype=T.float64)", "T.norm(f, 1, dtype=T.float64)"])


def test_float_valued_inplace_ops_check_the_output_first(torch_ref):
    # atan2_, hypot_, xlogy_, nextafter_: a 0-d tensor given an n-d operand is torch's shape
    # error, then a result dtype that does not cast into the tensor (float into bool)
    exprs = []
    for op in ("atan2_", "hypot_", "xlogy_", "nextafter_"):
        exprs += [f"b0.clone().{op}(b)", f"f0.clone().{op}(f)", f"b.clone().{op}(u)",
                  f"b.clone().{op}(f)", f"u.clone().{op}(u)", f"f.clone().{op}(d0)",
                  f"f.clone().{op}(2)"]
    _same(torch_ref, exprs)


def test_arctan2_names_itself(torch_ref):
    _same(torch_ref, ["T.arctan2(f, 2)", "T.arctan2(2.0, f)", "T.arctan2(u, f)",
                      "T.arctan2(f, d0)", "f.arctan2(d)"])


def test_dot_takes_a_tensor(torch_ref):
    # a number or a list is torch's TypeError (tapegrad: AttributeError 'int' ... 'dim')
    _same(torch_ref, ["f.dot(2)", "f.dot([1.0, 2.0, 3.0, 4.0])", "f.dot(True)", "f.dot(f)",
                      "u.dot(c)", "d.dot(f)"])


def test_rounded_div_inplace_checks_the_output_first(torch_ref):
    # div_(rounding_mode=) refuses a 0-d tensor with an n-d operand (shape error) and an
    # integer result in a bool tensor (cast error); tapegrad wrote the integers as bools
    exprs = [f"{x}.clone().div_({y}, rounding_mode='{m}')" for m in ("floor", "trunc")
             for x, y in (("b", "u"), ("b", "c0"), ("b", "3"), ("b0", "u"), ("c0", "f"),
                          ("u", "c0"), ("c", "f"), ("f", "u"), ("b", "b"))]
    _same(torch_ref, exprs)


def test_clamp_inplace_result_must_cast_into_the_tensor(torch_ref):
    # clamp_ of an integer or bool tensor computes in the dtype promoted with its bounds and
    # refuses a result that does not cast back (bool_t.clamp_(2), u8_t.clamp_(1.5)); the
    # number-bound message names the C++ type
    exprs = [f"{x}.clone().{op}({bd})" for x in ("b", "u", "c", "l", "f")
             for op in ("clamp_", "clamp_min_", "clamp_max_", "clip_")
             for bd in ("2", "1.5", "True", "T.tensor([1.5])", "T.tensor([1])", "T.tensor(3)")]
    _same(torch_ref, exprs + ["b0.clone().clamp_(u)", "b0.clone().clamp_min_(c)",
                              "u.clone().clamp_max_(T.ones(2, 4))"])


def test_floor_divide_by_a_number_past_float32_range_is_silent_as_torch(torch_ref):
    # (1e40 is inf in float32: numpy's cast warned "overflow encountered in cast")
    for dtype in ("float32", "int64", "uint8", "bool"):
        for f in (lambda m, x: x // 1e40, lambda m, x: 1e40 // x,
                  lambda m, x: m.floor_divide(x, -1e40)):
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                got = f(tg, tg.tensor([1, 2], dtype=getattr(tg, dtype)))
            want = f(torch_ref, torch_ref.tensor([1, 2], dtype=getattr(torch_ref, dtype)))
            assert str(got.dtype).split(".")[1] == str(want.dtype).split(".")[1]
            assert np.array_equal(got.numpy(), want.numpy(), equal_nan=True)


@pytest.mark.parametrize("expr", ["x.copysign(y)", "y.copysign(x)", "y0.copysign(x)",
                                  "x.clone().copysign_(y)", "x.detach().copysign_(y)",
                                  "x.copysign(i)"])
def test_copysign_of_mixed_dtypes_lists_its_inputs(torch_ref, expr):
    # a float operand of another float dtype is read as it is (torch's node lists its
    # grad_fn), not through a ToCopyBackward0 of its cast
    def run(T):
        xl = T.tensor([1.0, -2.0, 0.5], requires_grad=True)
        yl = T.tensor([-1.0, 2.0, -0.25], dtype=T.float64, requires_grad=True)
        x, y, y0 = xl * 1, yl * 1, (yl * 1).sum()
        r = eval(expr, {"x": x, "y": y, "y0": y0, "i": T.tensor([1, -1, 1])})
        names = [None if f is None else type(f).__name__ for f, _ in r.grad_fn.next_functions]
        (r * T.tensor([1.0, 2.0, 3.0])).sum().backward()
        return (str(r.dtype)[-7:], r.tolist(), type(r.grad_fn).__name__, names,
                *(None if t.grad is None else t.grad.tolist() for t in (xl, yl)))
    assert run(tg) == run(torch_ref)
