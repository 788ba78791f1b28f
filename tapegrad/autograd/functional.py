"""`tapegrad.autograd.functional`: vjp, jvp, jacobian, hessian, hvp, vhp with torch's
signatures, built on `autograd.grad` (create_graph=True where a second derivative is needed).

The checks, their order and their messages follow torch 2.13's `torch.autograd.functional`
(the helpers keep torch's names), so strict mode, argument errors, the tuple-ness of results
and their requires_grad/grad_fn are torch's.  Where torch uses forward-mode AD or vmap
(`strategy="forward-mode"`, `vectorize=True`), the same values come from reverse mode,
assembled so that the results' layout, dtype and graph flags are those torch returns."""
from ..grad_mode import is_grad_enabled, switched_grad
from ..tape import INFERENCE_TENSOR, TRANSFORM_LEAF
from ..tensor import Tensor, _new
from ..creation import zeros, zeros_like
from .api import grad
from ..engine import jacobian_rows
from ..views import stack, cat

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _as_tuple(inp, arg_name, fn_name):
    """(whether `inp` was a tuple, `inp` as a tuple of Tensors); a list is not a tuple."""
    is_tuple = isinstance(inp, tuple)
    if not is_tuple:
        inp = (inp,)
    for i, el in enumerate(inp):
        if not isinstance(el, Tensor):
            what = f"value at index {i}" if is_tuple else f"given {arg_name}"
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a "
                            f"tuple of Tensors but the {what} has type {type(el)}.")
    return is_tuple, inp


def _tuple_postprocess(res, to_unpack):
    """Undo _as_tuple on a result: `to_unpack` is one flag, or (outputs, inputs) flags for
    the nested blocks of a Jacobian."""
    if isinstance(to_unpack, tuple):
        if not to_unpack[1]:
            res = tuple(el[0] for el in res)
        if not to_unpack[0]:
            res = res[0]
    elif not to_unpack:
        res = res[0]
    return res


def _grad_preprocess(inputs, create_graph, need_graph, internal=False):
    """Always new tensor objects, so that a function differentiating the tensors it captured
    rather than its arguments sees them as independent (pytorch#32576); a view keeps the
    link to an input that requires grad when the result is to be differentiable.  A detached
    one goes through requires_grad_, which refuses inside a torch.func transform as torch's
    (`internal`: tapegrad.func's own use, allowed; a view of its stand-in for a leaf is one
    too, tape.TRANSFORM_LEAF)."""
    return tuple(_stand_in(x.view_as(x), x) if create_graph and x.requires_grad
                 else transform_leaf(x, need_graph) if internal
                 else x.detach().requires_grad_(need_graph) for x in inputs)


def _stand_in(view, x):
    """`view` of x, marked as x is if x stands in for a transform's leaf."""
    if getattr(x, "_flags", 0) & TRANSFORM_LEAF:
        view._flags = getattr(view, "_flags", 0) | TRANSFORM_LEAF
    return view


def transform_leaf(x, flag=True):
    """tapegrad.func's leaf for input x: x.detach() (its memory), requires_grad `flag`.  An
    inference tensor's is an ordinary tensor, as torch.func's wrapper of one (the function
    sees `is_inference()` False, the gradients are ordinary tensors), where requires_grad on
    the inference tensor's own alias is refused outside inference mode (a transform's
    function runs with it off)."""
    t = x.detach()
    if getattr(t, "_flags", 0) & INFERENCE_TENSOR:
        t = Tensor._share(x, t._v)
        t._flags &= ~INFERENCE_TENSOR   # (no counter shared: an inference tensor has none)
    return t._requires_grad(flag)


def _grad_postprocess(inputs, create_graph):
    """Results without history unless create_graph (tuples of tuples for Jacobians)."""
    if isinstance(inputs[0], Tensor):
        return inputs if create_graph else tuple(x.detach() for x in inputs)
    return tuple(_grad_postprocess(x, create_graph) for x in inputs)


def _validate_v(v, other, is_other_tuple):
    if len(other) != len(v):
        if is_other_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but "
                               f"got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for idx, (el_v, el_other) in enumerate(zip(v, other)):
        if el_v.size() != el_other.size():
            prepend = f"Entry {idx} in " if is_other_tuple else ""
            raise RuntimeError(f"{prepend}v has invalid size: should be {el_other.size()} but "
                               f"got {el_v.size()}.")


def _check_requires_grad(inputs, input_type, strict):
    """strict mode's checks on outputs, on the gradients of the double-backward trick and on
    the Jacobian (first derivatives) inside a Hessian."""
    if not strict:
        return
    for i, inp in enumerate(inputs):
        if inp is None:   # only gradients can be None
            raise RuntimeError(f"The output of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode.")
        if inp.requires_grad:
            continue
        if input_type == "jacobian":
            raise RuntimeError(
                f"While computing the hessian, found that the jacobian of the user-provided "
                f"function with respect to input {i} is independent of the input. This is not "
                f"allowed in strict mode. You should ensure that your function is twice "
                f"differentiable and that the jacobian depends on the inputs (this would be "
                f"violated by a linear function for example).")
        if input_type == "grad_inputs":
            raise RuntimeError(f"The gradient with respect to input {i} is independent of the "
                               f"inputs of the user-provided function. This is not allowed in "
                               f"strict mode.")
        raise RuntimeError(f"Output {i} of the user-provided function does not require "
                           f"gradients. The outputs must be computed in a differentiable manner "
                           f"from the input when running in strict mode.")


def _outputs(func, inputs, fn_name, strict):
    """(whether func's result was a tuple, its outputs as a tuple), checked as torch does."""
    is_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                  fn_name)
    _check_requires_grad(outputs, "outputs", strict)
    return is_tuple, outputs


def _autograd_grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """autograd.grad over the outputs that require grad (None for every input when none
    does); None for an input no output reaches."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return grad([o for o, _ in pairs], inputs, [g for _, g in pairs], allow_unused=True,
                create_graph=create_graph, retain_graph=retain_graph)


_NONE_MESSAGES = {
    "back": "The output of the user-provided function is independent of input {i}. This is not "
            "allowed in strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the "
                  "grad_outputs when using the double backward trick to compute forward mode "
                  "gradients. This is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. "
                   "This is not allowed in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry {i} "
                         "in the grad_jacobian. This is not allowed in strict mode as it prevents "
                         "from using the double backward trick to replace forward mode AD.",
}


def _fill_in_zeros(grads, refs, strict, create_graph, stage):
    """Zeros (shaped as `refs`) for the None gradients, or strict mode's error for the
    `stage` of the computation; with create_graph, strict also rejects a constant result."""
    res = []
    for i, g in enumerate(grads):
        if g is None:
            if strict:
                raise RuntimeError(_NONE_MESSAGES[stage].format(i=i))
            g = zeros_like(refs[i])
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError(f"The {what} of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode when "
                               f"create_graph=True.")
        res.append(g)
    return tuple(res)


def _v_tuple(v, inputs, is_inputs_tuple, create_graph, name, internal=False):
    """v as a tuple matching the inputs (jvp, vhp, hvp: checked before func is called)."""
    if v is not None:
        _, v = _as_tuple(v, "v", name)
        v = _grad_preprocess(v, create_graph, need_graph=False, internal=internal)
        _validate_v(v, inputs, is_inputs_tuple)
        return v
    if len(inputs) != 1 or inputs[0].nelement() != 1:
        raise RuntimeError("The vector v can only be None if the input to the user-provided "
                           "function is a single Tensor with a single element.")
    return None


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J)."""
    with switched_grad(True):
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
        is_outputs_tuple, outputs = _outputs(func, inputs, "vjp", strict)
        if v is not None:
            _, v = _as_tuple(v, "v", "vjp")
            v = _grad_preprocess(v, create_graph, need_graph=False)
            _validate_v(v, outputs, is_outputs_tuple)
        elif len(outputs) != 1 or outputs[0].nelement() != 1:
            raise RuntimeError("The vector v can only be None if the user-provided function "
                               "returns a single Tensor with a single element.")
    with switched_grad(bool(create_graph or is_grad_enabled())):
        res = _autograd_grad(outputs, inputs, v, create_graph=create_graph)
        res = _fill_in_zeros(res, inputs, strict, create_graph, "back")
    return (_tuple_postprocess(_grad_postprocess(outputs, create_graph), is_outputs_tuple),
            _tuple_postprocess(_grad_postprocess(res, create_graph), is_inputs_tuple))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v), by the double-vjp trick (differentiate u -> u^T J w.r.t. u)."""
    return _jvp(func, inputs, v, create_graph, strict)


def _jvp(func, inputs, v, create_graph, strict, internal=False):
    with switched_grad(True):
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True, internal=internal)
        v = _v_tuple(v, inputs, is_inputs_tuple, create_graph, "jvp", internal)
        is_outputs_tuple, outputs = _outputs(func, inputs, "jvp", strict)
        # the backward is linear in u: its value does not matter, zeros are finite
        us = tuple(zeros_like(o, requires_grad=True) for o in outputs)
        grad_inputs = _autograd_grad(outputs, inputs, us, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict)
    with switched_grad(bool(create_graph or is_grad_enabled())):
        res = _autograd_grad(grad_inputs, us, v, create_graph=create_graph)
        res = _fill_in_zeros(res, outputs, strict, create_graph, "back_trick")
    return (_tuple_postprocess(_grad_postprocess(outputs, create_graph), is_outputs_tuple),
            _tuple_postprocess(_grad_postprocess(res, create_graph), is_outputs_tuple))


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """Jacobian blocks `J[i][j]` of output i w.r.t. input j, shaped out_i.shape + in_j.shape.

    vectorize=True gives torch's values and graph flags from the same reverse sweeps (no
    batched grad); strategy="forward-mode" (which torch allows only with vectorize=True) is
    computed in reverse mode too, with torch's dtype (the output's) and list layout."""
    return _jacobian(func, inputs, create_graph, strict, vectorize, strategy, False)


def _jacobian(func, inputs, create_graph, strict, vectorize, strategy, forward_graph,
              internal=False):
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". '
                             'Hint: If your function has more outputs than inputs, '
                             '"forward-mode" tends to be more performant. Otherwise, prefer to '
                             'use "reverse-mode".')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError(
                'tapegrad.autograd.functional.jacobian: `create_graph=True` and `strategy='
                '"forward-mode"` are not supported together (yet). Please either set '
                '`create_graph=False` or `strategy="reverse-mode"`.')
        return _jacfwd(func, inputs, strict, vectorize, forward_graph)
    with switched_grad(True):
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True,
                                  internal=internal)
        is_outputs_tuple, outputs = _outputs(func, inputs, "jacobian", strict)
        if vectorize and strict:
            raise RuntimeError("tapegrad.autograd.functional.jacobian: `strict=True` and "
                               "`vectorized=True` are not supported together. Please either "
                               "set `strict=False` or `vectorize=False`.")
        # (the fast path's blocks have no graph: nothing to detach)
        blocks = None if create_graph or strict else _jacobian_fast(outputs, inputs)
        if blocks is None:
            rows = _jacobian_rows(outputs, inputs, create_graph, strict)
            blocks = _grad_postprocess(_by_input(rows, outputs, inputs) if vectorize
                                       else _by_output(rows, outputs, inputs), create_graph)
    return _tuple_postprocess(blocks, (is_outputs_tuple, is_inputs_tuple))


def _jacobian_rows(outputs, inputs, create_graph, strict):
    """rows[i][j]: the gradients of output i's elements w.r.t. input j (None: independent),
    one autograd.grad per output element, with torch's strict checks."""
    rows = []
    for i, out in enumerate(outputs):
        flat = out.reshape(-1)
        row = [[] for _ in inputs]
        for k in range(out.nelement()):
            vj = _autograd_grad((flat[k],), inputs, retain_graph=True, create_graph=create_graph)
            for j, g in enumerate(vj):
                if g is None and strict:
                    raise RuntimeError(f"Output {i} of the user-provided function is "
                                       f"independent of input {j}. This is not allowed in "
                                       f"strict mode.")
                if g is not None and strict and create_graph and not g.requires_grad:
                    # torch names the output's index here
                    raise RuntimeError(f"The jacobian of the user-provided function is "
                                       f"independent of input {i}. This is not allowed in "
                                       f"strict mode when create_graph=True.")
                row[j].append(g)
        rows.append(row)
    return rows


def _by_output(rows, outputs, inputs):
    """torch's loop: one stack per block (a block of zeros has no graph)."""
    return tuple(tuple(stack([zeros_like(x) if g is None else g for g in gs])
                       .view(out.size() + x.size()) for gs, x in zip(row, inputs))
                 for row, out in zip(rows, outputs))


def _by_input(rows, outputs, inputs):
    """vectorize=True: torch's batched grad is one tensor per input, split by output, so the
    blocks of an input share their graph; zeros (expanded) where no output reaches it."""
    numels = [out.nelement() for out in outputs]
    cols = []
    for j, x in enumerate(inputs):
        gs = [g for row in rows for g in row[j]]
        if all(g is None for g in gs):
            big = zeros_like(x).expand((sum(numels),) + tuple(x.shape))
        else:
            big = stack([zeros_like(x) if g is None else g for g in gs])
        cols.append([b.view(out.size() + x.size()) for b, out in zip(big.split(numels, 0),
                                                                     outputs)])
    return tuple(zip(*cols))


def _jacfwd(func, inputs, strict, vectorize, forward_graph):
    """strategy="forward-mode", by reverse mode.  Forward AD's tangents carry a graph when
    the inputs require grad (forward_graph: always, as in a forward-over-reverse Hessian,
    whose inner Jacobian makes them require grad); the blocks of one output are then views of
    one tensor, as torch's, and have the output's dtype."""
    if strict:
        raise RuntimeError('tapegrad.autograd.functional.jacobian: `strict=True` and `strategy='
                           '"forward-mode"` are not supported together (yet). Please either set '
                           '`strict=False` or `strategy="reverse-mode"`.')
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    if not vectorize:
        # (torch's message, missing space included)
        raise NotImplementedError("Computing Jacobian using forward-AD or forward-over-reverse "
                                  "Hessian isonly implemented for `vectorize=True`.")
    graph = forward_graph or any(x.requires_grad for x in inputs)
    with switched_grad(True):
        inputs = _grad_preprocess(inputs, graph, need_graph=True)
        outputs = func(*inputs)
        # torch checks the outputs with no function name
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs", None)
        blocks = None if graph else _jacobian_fast(outputs, inputs)
        if blocks is None:
            rows = _jacobian_rows(outputs, inputs, graph, False)
            blocks = _by_output_forward(rows, outputs, inputs, graph)
        blocks = [[b.to(out.dtype) for b in row] for row, out in zip(blocks, outputs)]
    # torch returns lists here (tuples where one output's blocks are unpacked)
    return _tuple_postprocess(blocks, (is_outputs_tuple, is_inputs_tuple))


def _by_output_forward(rows, outputs, inputs, graph):
    """forward-mode blocks: one (out numel, sum of in numels) tensor per output, split."""
    if not graph:
        return _by_output(rows, outputs, inputs)
    res = []
    for row, out in zip(rows, outputs):
        if all(g is None for gs in row for g in gs):   # no tangent: zeros, no graph
            res.append([zeros(out.size() + x.size(), dtype=out.dtype) for x in inputs])
            continue
        numels = [x.nelement() for x in inputs]
        flat = stack([cat([(zeros_like(x) if g is None else g).reshape(-1).to(out.dtype)
                           for g, x in zip(gs, inputs)])
                      for gs in zip(*row)])
        res.append([b.reshape(out.size() + x.size())
                    for b, x in zip(flat.split(numels, 1), inputs)])
    return res


def _jacobian_fast(outs, xs):
    """All rows from one Numba call (engine.jacobian_rows), split into torch's blocks."""
    if not all(o.requires_grad and o.numel() for o in outs) or not xs:
        return None   # (torch's errors for an empty output come from the general path)
    J = jacobian_rows(outs, xs)
    if J is None:
        return None
    xinfo = [(x.numel(), tuple(x.shape), x.dtype) for x in xs]
    rows = J.tolist()  # Python floats: one-element blocks are made without numpy
    blocks, r = [], 0
    for o in outs:
        on, oshape = o.numel(), tuple(o.shape)
        row, c = [], 0
        for xn, xshape, xdt in xinfo:
            if on == 1 and xn == 1 and xdt.is_floating_point:
                t = _new()
                t._v, t._dtype, t._shape, t._tape, t._recorded = rows[r][c], xdt, oshape + xshape, None, False
            else:
                block = J[r:r + on, c:c + xn].astype(xdt.np)
                t = Tensor._wrap(block.reshape(oshape + xshape), xdt)
            row.append(t)
            c += xn
        blocks.append(tuple(row))
        r += on
    return tuple(blocks)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """Hessian of a scalar function: blocks `H[i][j]` shaped in_i.shape + in_j.shape, the
    Jacobian (outer_jacobian_strategy) of the reverse-mode Jacobian."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def ensure_single_output_function(*inp):
        out = func(*inp)
        is_out_tuple, t_out = _as_tuple(out, "outputs of the user-provided function", "hessian")
        _check_requires_grad(t_out, "outputs", strict)
        if is_out_tuple:
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out.nelement() != 1:
            raise RuntimeError("The Tensor returned by the function given to hessian should "
                               "contain a single element")
        return out.squeeze()

    def jac_func(*inp):
        # torch's inner jacobian(..., create_graph=True, strict=False) of this one-element
        # output: its gradient, zeros where None (its fresh views of `inp` and the one-row
        # stacks change nothing a function can observe, and cost a node per input)
        out = ensure_single_output_function(*inp)
        jac = _fill_in_zeros(_autograd_grad((out,), inp, create_graph=True), inp, False, True,
                             "back")
        _check_requires_grad(jac, "jacobian", strict)
        return jac

    res = _jacobian(jac_func, inputs, create_graph, strict, vectorize, outer_jacobian_strategy,
                    True)
    return _tuple_postprocess(res, (is_inputs_tuple, is_inputs_tuple))


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H)."""
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v).  torch computes it with a double-backward trick (three sweeps);
    this is v^T H, reverse over reverse (two), which is H v for the symmetric Hessians of
    twice continuously differentiable functions, with hvp's messages."""
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp")


def _hessian_product(func, inputs, v, create_graph, strict, name):
    with switched_grad(True):
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", name)
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
        v = _v_tuple(v, inputs, is_inputs_tuple, create_graph, name)
        is_outputs_tuple, outputs = _outputs(func, inputs, name, strict)
        if is_outputs_tuple:
            raise RuntimeError(f"The function given to {name} should return a single Tensor")
        if outputs[0].nelement() != 1:
            raise RuntimeError(f"The Tensor returned by the function given to {name} should "
                               f"contain a single element")
        jac = _autograd_grad(outputs, inputs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
    with switched_grad(bool(create_graph or is_grad_enabled())):
        res = _autograd_grad(jac, inputs, v, create_graph=create_graph)
        res = _fill_in_zeros(res, inputs, strict, create_graph,
                             "double_back" if name == "vhp" else "double_back_trick")
    return (_tuple_postprocess(_grad_postprocess(outputs, create_graph), is_outputs_tuple),
            _tuple_postprocess(_grad_postprocess(res, create_graph), is_inputs_tuple))
