"""Every op in the table: forward and gradient against finite differences (float64), and
against torch when it is installed.  CASES is keyed by op name; a test fails when an op of the
table has no case, so a new op cannot land untested."""
import re

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.ops import OPS
from tapegrad.autograd import gradcheck, gradgradcheck

import cases_math



POS = "pos"     # inputs drawn from (0.5, 2): log, sqrt, pow bases
ANY = "any"     # inputs drawn from (-2, 2), kept away from kinks at 0

# op name -> list of (id, fn(module, *tensors), input shapes, domain).  `fn` is written once
# and run with `tapegrad` or `torch` as `m`, which makes it the differential test as well.
CASES = {
    "add": [("tt", lambda m, a, b: a + b, [(2, 3), (2, 3)], ANY),
            ("bcast", lambda m, a, b: a + b, [(2, 3), (3,)], ANY),
            ("scalar", lambda m, a: a + 2.5, [(3,)], ANY),
            ("rscalar", lambda m, a: 2.5 + a, [()], ANY),
            ("fn", lambda m, a, b: m.add(a, b), [(2, 1), (1, 3)], ANY)],
    "sub": [("tt", lambda m, a, b: a - b, [(2, 3), (2, 3)], ANY),
            ("bcast", lambda m, a, b: a - b, [(4, 1), (3,)], ANY),
            ("rsub", lambda m, a: 1.5 - a, [(3,)], ANY)],
    "mul": [("tt", lambda m, a, b: a * b, [(2, 3), (2, 3)], ANY),
            ("bcast", lambda m, a, b: a * b, [(2, 3), (2, 1)], ANY),
            ("scalar", lambda m, a: a * 3.0, [()], ANY),
            ("rscalar", lambda m, a: 3.0 * a, [(2,)], ANY),
            ("same", lambda m, a: a * a, [(3,)], ANY),
            ("0d", lambda m, a, b: a * b, [(), ()], ANY)],
    "div": [("tt", lambda m, a, b: a / b, [(2, 3), (2, 3)], POS),
            ("bcast", lambda m, a, b: a / b, [(2, 3), (3,)], POS),
            ("scalar", lambda m, a: a / 4.0, [(3,)], ANY)],
    "pow": [("tt", lambda m, a, b: a ** b, [(2, 3), (2, 3)], POS),
            ("rpow", lambda m, a: 2.0 ** a, [(3,)], ANY),
            ("0d", lambda m, a, b: a ** b, [(), ()], POS)],
    "pow_scalar": [("sq", lambda m, a: a ** 2, [(3,)], ANY),
                   ("frac", lambda m, a: a.pow(2.5), [(2, 2)], POS),
                   ("neg", lambda m, a: a ** -1.5, [()], POS),
                   ("zero", lambda m, a: a ** 0, [(3,)], ANY),
                   ("square", lambda m, a: a.square(), [(3,)], ANY)],
    "neg": [("op", lambda m, a: -a, [(2, 3)], ANY), ("0d", lambda m, a: a.neg(), [()], ANY)],
    "exp": [("nd", lambda m, a: a.exp(), [(2, 3)], ANY), ("0d", lambda m, a: m.exp(a), [()], ANY)],
    "log": [("nd", lambda m, a: a.log(), [(2, 3)], POS), ("0d", lambda m, a: m.log(a), [()], POS)],
    "sqrt": [("nd", lambda m, a: a.sqrt(), [(4,)], POS), ("0d", lambda m, a: a.sqrt(), [()], POS)],
    "sin": [("nd", lambda m, a: a.sin(), [(2, 3)], ANY), ("0d", lambda m, a: a.sin(), [()], ANY)],
    "cos": [("nd", lambda m, a: a.cos(), [(2, 3)], ANY), ("0d", lambda m, a: a.cos(), [()], ANY)],
    "tanh": [("nd", lambda m, a: a.tanh(), [(2, 3)], ANY), ("0d", lambda m, a: a.tanh(), [()], ANY)],
    "sigmoid": [("nd", lambda m, a: a.sigmoid(), [(5,)], ANY),
                ("0d", lambda m, a: m.sigmoid(a), [()], ANY)],
    "relu": [("nd", lambda m, a: a.relu(), [(2, 3)], ANY), ("0d", lambda m, a: a.relu(), [()], ANY)],
    "abs": [("nd", lambda m, a: a.abs(), [(2, 3)], ANY), ("0d", lambda m, a: abs(a), [()], ANY)],
    "reciprocal": [("nd", lambda m, a: a.reciprocal(), [(3,)], POS),
                   ("rdiv", lambda m, a: 2.0 / a, [()], POS)],
    "sum": [("all", lambda m, a: a.sum(), [(2, 3)], ANY), ("0d", lambda m, a: a.sum(), [()], ANY)],
    "sum_dim": [("d0", lambda m, a: a.sum(0), [(2, 3)], ANY),
                ("keep", lambda m, a: a.sum(dim=1, keepdim=True), [(2, 3)], ANY),
                ("multi", lambda m, a: a.sum((0, 2)), [(2, 3, 2)], ANY),
                ("neg", lambda m, a: a.sum(-1), [(2, 3)], ANY)],
    "mean": [("all", lambda m, a: a.mean(), [(2, 3)], ANY)],
    "mean_dim": [("d1", lambda m, a: a.mean(1), [(2, 3)], ANY),
                 ("keep", lambda m, a: a.mean(0, keepdim=True), [(4, 3)], ANY)],
    "view": [("view", lambda m, a: a.view(3, 2) * 1.0, [(2, 3)], ANY),
             ("reshape", lambda m, a: a.reshape(-1), [(2, 3)], ANY),
             ("flatten", lambda m, a: a.flatten(), [(2, 3, 2)], ANY)],
    "unsqueeze": [("u", lambda m, a: a.unsqueeze(1), [(2, 3)], ANY),
                  ("none", lambda m, a: a[None], [(3,)], ANY),
                  # basic indexing that adds dims only: full slices apply no op
                  ("full_none", lambda m, a: a[None, :, :, None], [(2, 3)], ANY),
                  ("col_none", lambda m, a: a[:, None], [(2, 3)], ANY)],
    "squeeze": [("all", lambda m, a: a.squeeze(), [(2, 1, 3)], ANY)],
    "squeeze_dim": [("d", lambda m, a: a.squeeze(1), [(2, 1, 3)], ANY)],
    "squeeze_dims": [("ds", lambda m, a: a.squeeze((0, 2)), [(1, 3, 1)], ANY)],
    "squeeze_mm": [("vm", lambda m, a, b: a @ b, [(3,), (3, 2)], ANY)],
    "clone": [("c", lambda m, a: a.clone(), [(2, 3)], ANY)],
    # float64 -> float32 -> float64 rounds: finite differences need a coarse step
    # float64 -> float32 -> float64 rounds: finite differences need a coarse step, and torch
    # rounds the gradient through the float32 node, where the sweep keeps float64
    "to_copy": [("double", lambda m, a: a.float().double(), [(3,)], ANY,
                 dict(eps=1e-3, atol=1e-3, torch_rtol=1e-7))],
    "select": [("int", lambda m, a: a[1], [(3, 2)], ANY),
               ("int2", lambda m, a: a[0, 1], [(3, 2)], ANY),
               ("col", lambda m, a: a[:, 1], [(3, 2)], ANY),
               ("neg", lambda m, a: a[-1], [(4,)], ANY),
               ("none_int", lambda m, a: a[None, 1:, 0], [(3, 2)], ANY)],
    "slice": [("range", lambda m, a: a[1:3], [(4, 2)], ANY),
              ("step", lambda m, a: a[::2], [(5,)], ANY),
              ("2d", lambda m, a: a[:, 1:], [(2, 3)], ANY),
              ("bare_full", lambda m, a: a[:], [(2, 3)], ANY),   # torch records a bare slice
              ("int_slice", lambda m, a: a[0, None, 1:], [(2, 3)], ANY)],
    # basic indexing whose last op is None after a slice or int: a strided UnsqueezeBackward0
    "unsqueeze_strided": [("slice", lambda m, a: a[1:, None], [(3, 2)], ANY),
                          ("int", lambda m, a: a[0, None], [(3, 2)], ANY),
                          ("step", lambda m, a: a[:, ::2, None], [(2, 3)], ANY),
                          ("ellipsis", lambda m, a: a[..., 1, None], [(2, 3, 2)], ANY)],
    "transpose": [("t01", lambda m, a: a.transpose(0, 1), [(2, 3)], ANY),
                  ("3d", lambda m, a: a.transpose(0, 2) * 2.0, [(2, 3, 2)], ANY)],
    "t": [("t", lambda m, a: a.t(), [(2, 3)], ANY), ("1d", lambda m, a: a.t(), [(3,)], ANY)],
    "permute": [("p", lambda m, a: a.permute(2, 0, 1), [(2, 3, 2)], ANY),
                ("T", lambda m, a: a.T, [(2, 3)], ANY)],
    "expand": [("e", lambda m, a: a.expand(3, 2), [(2,)], ANY),
               ("e2", lambda m, a: a.expand(2, -1, 3), [(4, 1)], ANY)],
    "index": [("list", lambda m, a: a[[0, 2, 0]], [(3, 2)], ANY),
              ("mask", lambda m, a: a[a > 0], [(2, 3)], ANY)],
    "unsafe_view": [("tr", lambda m, a: a.t().reshape(6), [(2, 3)], ANY)],
    "reshape_alias": [("split", lambda m, a: a.t().reshape(3, 1, 2), [(2, 3)], ANY),
                      ("unit", lambda m, a: a[:, 1:].reshape(2, 2, 1), [(2, 3)], ANY)],
    "dot": [("d", lambda m, a, b: a @ b, [(3,), (3,)], ANY),
            ("meth", lambda m, a, b: a.dot(b), [(4,), (4,)], ANY)],
    "mv": [("mv", lambda m, a, b: a @ b, [(2, 3), (3,)], ANY),
           ("meth", lambda m, a, b: a.mv(b), [(2, 3), (3,)], ANY),
           # vector @ batch, the vector requiring grad: the batch folded into one mv (torch's)
           ("vec_batch", lambda m, a, b: a @ b, [(3,), (2, 3, 4)], ANY)],
    "mm": [("mm", lambda m, a, b: a @ b, [(2, 3), (3, 4)], ANY),
           ("meth", lambda m, a, b: a.mm(b), [(1, 3), (3, 1)], ANY),
           ("same", lambda m, a: a @ a.t(), [(2, 3)], ANY),
           # matrix @ batch, the matrix requiring grad: the batch folded into one mm (torch's)
           ("mat_batch", lambda m, a, b: a @ b, [(2, 3), (4, 3, 2)], ANY)],
    "where": [("tt", lambda m, a, b: m.where(a > 0, a, b), [(2, 3), (2, 3)], ANY),
              ("bcast", lambda m, a, b: m.where(b > 0, a, b * 2.0), [(2, 3), (3,)], ANY),
              ("scalar", lambda m, a: m.where(a > 0, a, 0.0), [(4,)], ANY),
              ("method", lambda m, a, b: a.where(a < b, b), [(), ()], ANY)],
    "sign": [("s", lambda m, a: a.sign() * a, [(3,)], ANY)],
    "alias": [("ellipsis", lambda m, a: a[...] * 2.0, [(2, 3)], ANY),
              ("full", lambda m, a: a[:, 0:3], [(2, 3)], ANY)],   # slices that keep all
    # in-place overwrites of a tensor that needs history (recorded as new entries)
    "zero": [("nd", lambda m, a: (a * 2.0).zero_() + a * a, [(2, 3)], ANY),
             ("0d", lambda m, a: (a * 2.0).zero_(), [()], ANY)],
    "fill": [("nd", lambda m, a: (a * 2.0).fill_(1.5) * a, [(3,)], ANY),
             ("0d", lambda m, a: (a + 1.0).fill_(-2.0), [()], ANY)],
    "copy_slices": [("row", lambda m, a, b: _put(a * 1.0, 0, b), [(2, 3), (3,)], ANY),
                    ("block", lambda m, a, b: _put(a * 2.0, (slice(None), slice(1, None)), b * b),
                     [(2, 3), (2, 2)], ANY)],
    "index_put": [("idx", lambda m, a, b: _put(a * 1.0, m.tensor([2, 0]), b), [(3,), (2,)], ANY),
                  ("mask", lambda m, a, b: _put(a * 1.0, m.tensor([True, False, True]), b.sum()),
                   [(3,), (2,)], ANY)],
    "copy": [("same", lambda m, a, b: (a * 2.0).copy_(b) * a, [(3,), (3,)], ANY),
             ("bcast", lambda m, a, b: (a + 1.0).copy_(b), [(2, 3), (3,)], ANY),
             ("into_plain", lambda m, a: m.zeros(2, 2, dtype=m.float64).copy_(a), [(2,)], ANY)],
    "fill_tensor": [("f", lambda m, a, b: (a * 2.0).fill_(b) * a, [(3,), ()], ANY)],
    # a view after an in-place op through it (its base is rebased: CopySlices)
    "as_strided": [("row", lambda m, a, b: _through_view(a * 1.0, 0, b), [(2, 3), (3,)], ANY),
                   ("col_of_t", lambda m, a, b: _through_view((a * 2.0).t(), 1, b * b),
                    [(3, 2), (3,)], ANY)],
    # what an in-place op through a view reads (a gather of the view's positions) and writes
    # back into its base (inside CopySlices' group: copyslices.py)
    "view_gather": [("mul_", lambda m, a, b: _through_view(a * 1.0, 0, b), [(2, 3), (3,)], ANY),
                    ("of_t", lambda m, a, b: _through_view((a * 2.0).t(), 1, b), [(3, 2), (3,)],
                     ANY)],
    "view_scatter": [("add_", lambda m, a, b: _add_through_view(a * 2.0, b), [(2, 3), (3,)],
                      ANY),
                     ("of_t", lambda m, a, b: _add_through_view((a * 2.0).t(), b * b),
                      [(2, 3), (2,)], ANY)],
    # copysign: |a| with the signs of b (its gradient reaches a only), or of a number
    "copysign": [("tt", lambda m, a, b: m.copysign(a, b), [(2, 3), (2, 3)], ANY),
                 ("bcast", lambda m, a, b: a.copysign(b), [(2, 3), (3,)], ANY),
                 ("neg", lambda m, a: m.copysign(a, -1.5), [(2, 3)], ANY),
                 ("pos", lambda m, a: a.copysign(2.0) * a, [(3,)], ANY)],
    # adjoints of views, recorded by create_graph=True: exercised through a first derivative
    "strided_scatter": [("slice", lambda m, a: m.autograd.grad(
        (a[1:, ::2] ** 3).sum(), a, create_graph=True)[0], [(3, 4)], ANY, dict(names=False))],
    "index_scatter": [("idx", lambda m, a: m.autograd.grad(
        (a[[0, 2, 0]] ** 3).sum(), a, create_graph=True)[0], [(3,)], ANY, dict(names=False))],
    # relu's gradient as create_graph records it, exercised through a first derivative
    "threshold_backward": [("relu", lambda m, a: m.autograd.grad(
        (a.relu() * a).sum(), a, create_graph=True)[0], [(2, 3)], ANY, dict(names=False))],
    # prelu's gradient at its kink, likewise (the same formulas elsewhere)
    "straight_through": [("prelu", lambda m, a, w: m.autograd.grad(
        (F_(m).prelu(a, w) * a).sum(), (a, w), create_graph=True)[0], [(2, 3), (3,)], ANY,
        dict(names=False))],
    # leaky_relu's and hardtanh's gradients, likewise
    "depends_on": [("leaky_relu", lambda m, a: m.autograd.grad(
        (F_(m).leaky_relu(a, 0.2) * a).sum(), a, create_graph=True)[0], [(2, 3)], ANY,
        dict(names=False)),
        ("hardtanh", lambda m, a: m.autograd.grad(
            (F_(m).hardtanh(a, -0.5, 1.5) * a).sum(), a, create_graph=True)[0], [(2, 3)], ANY,
            dict(names=False))],
    # remainder's and fmod's gradients in the divisor under create_graph, likewise
    "div_floor": [("remainder", lambda m, a, b: m.autograd.grad(
        (m.remainder(a * 3.0, b) * a).sum(), b, create_graph=True)[0], [(2, 3), (2, 3)], POS,
        dict(names=False))],
    "div_trunc": [("fmod", lambda m, a, b: m.autograd.grad(
        (m.fmod(a * 3.0, b) * a).sum(), b, create_graph=True)[0], [(2, 3), (2, 3)], ANY,
        dict(names=False))],
    # float32 fmod (its own row: the gradient's quotient rounded to float32) and its
    # create_graph form; float64 -> float32 -> float64 rounds: a coarse step, as to_copy's
    "fmod_float32": [("tt", lambda m, a, b: m.fmod((a * 3.0).float(), b.float()).double(),
                      [(2, 3), (2, 3)], ANY, dict(eps=1e-3, atol=1e-3, torch_rtol=1e-6)),
                     ("scalar", lambda m, a: (a * 3.0).float().fmod(-1.5).double(), [(3,)],
                      ANY, dict(eps=1e-3, atol=1e-3, torch_rtol=1e-6))],
    "div_trunc_float32": [("fmod", lambda m, a, b: m.autograd.grad(
        (m.fmod((a * 3.0).float(), b.float()) * a.float()).sum(), b, create_graph=True)[0],
        [(2, 3), (2, 3)], ANY, dict(names=False, eps=1e-3, atol=1e-3, torch_rtol=1e-6))],
    # a pooling's gradient under create_graph (engine._reading_inputs), likewise
    "input_edge": [("avg_pool", lambda m, a: m.autograd.grad(
        (F_(m).avg_pool1d(a, 2) * a[..., 1::2]).sum(), a, create_graph=True)[0], [(1, 2, 4)],
        ANY, dict(names=False))],
    "bmm": [("bmm", lambda m, a, b: a.bmm(b), [(2, 2, 3), (2, 3, 4)], ANY),
            ("fn", lambda m, a, b: m.bmm(a, b), [(1, 3, 3), (1, 3, 1)], ANY),
            # matmul of batches that broadcast, or of a constant matrix or vector and a batch:
            # both sides expanded to the broadcast batch, one bmm (torch's composition)
            ("bcast", lambda m, a, b: a @ b, [(2, 1, 2, 3), (4, 3, 2)], ANY),
            ("bcast_lead", lambda m, a, b: m.matmul(a, b), [(1, 2, 3), (2, 1, 3, 2)], ANY),
            ("const_mat", lambda m, b: m.full((2, 3), 0.5, dtype=b.dtype) @ b, [(4, 3, 2)],
             ANY),
            ("const_vec", lambda m, b: m.full((3,), 0.5, dtype=b.dtype) @ b, [(2, 3, 4)],
             ANY)],
    "matmul": [("nd2d", lambda m, a, b: a @ b, [(2, 2, 3), (3, 4)], ANY),
               ("batched", lambda m, a, b: a @ b, [(2, 2, 3), (2, 3, 4)], ANY),
               ("nd1d", lambda m, a, b: m.matmul(a, b), [(2, 2, 3), (3,)], ANY)],
    # N operands: ia, ib and the entry's operand list (more than two inputs, one repeated)
    "cat": [("dim0", lambda m, a, b, c: m.cat([a, b * b, c, a], 0), [(2, 3), (1, 3), (4, 3)], ANY),
            ("dim1", lambda m, a, b: m.cat([a.sin(), b], -1), [(2, 3, 2), (2, 3, 1)], ANY),
            ("one", lambda m, a: m.cat([a * a]), [(3,)], ANY)],
    "stack": [("dim1", lambda m, a, b: m.stack([a, b.exp(), a * b], 1), [(2, 3), (2, 3)], ANY),
              ("scalars", lambda m, a, b: m.stack([a, b[0], a * a]), [(), (2,)], ANY)],
    "max_dim": [("dim1", lambda m, a: a.max(1).values, [(3, 4)], ANY),
                ("keep", lambda m, a: m.max(a, -1, keepdim=True)[0], [(2, 3, 2)], ANY)],
    "min_dim": [("dim0", lambda m, a: a.min(0).values, [(3, 4)], ANY),
                ("vec", lambda m, a: m.min(a, 0)[0], [(5,)], ANY)],
    # several outputs: one split entry, an `output` entry per piece
    "split": [("dim1", lambda m, a: a.split(2, 1)[1], [(3, 5)], ANY),
              ("chunk", lambda m, a: m.cat(a.chunk(3, 0)[::-1]), [(5, 2)], ANY)],
    "split_with_sizes": [("sizes", lambda m, a: a.split([1, 3], -1)[1] * 2.0, [(2, 4)], ANY)],
    "unsafe_split": [("dim1", lambda m, a: a.unsafe_split(2, 1)[1] * a.unsafe_chunk(2, 1)[0][:, :1],
                      [(3, 5)], ANY)],
    "unsafe_split_with_sizes": [("sizes", lambda m, a: a.unsafe_split_with_sizes([1, 3], -1)[1]
                                 * 2.0, [(2, 4)], ANY)],
    "unbind": [("dim1", lambda m, a: m.stack(a.unbind(1)[::-1], 0), [(2, 3)], ANY),
               ("scalars", lambda m, a: a.unbind()[2] * a.unbind()[0], [(3,)], ANY)],
    "output": [("pieces", lambda m, a: a.split(1)[0] + a.split(1)[1], [(2, 3)], ANY)],
    # two-argument vocabulary functions
    "atan2": [("tt", lambda m, a, b: m.atan2(a, b), [(2, 3), (2, 3)], ANY),
              ("bcast", lambda m, a, b: a.atan2(b), [(2, 3), (3,)], ANY),
              ("0d", lambda m, a, b: a.atan2(b), [(), ()], ANY),
              ("const", lambda m, a: m.atan2(m.tensor(1.5, dtype=a.dtype), a), [(3,)], ANY)],
    "hypot": [("tt", lambda m, a, b: m.hypot(a, b), [(2, 3), (2, 3)], ANY),
              ("bcast", lambda m, a, b: a.hypot(b), [(2, 1), (1, 3)], ANY),
              ("0d", lambda m, a, b: a.hypot(b), [(), ()], ANY)],
    # decomposition rows: primitives shown as torch's one node
    "logsumexp": [("d1", lambda m, a: a.logsumexp(1), [(2, 3)], ANY),
                  ("keep", lambda m, a: m.logsumexp(a, (0, 2), keepdim=True), [(2, 3, 2)], ANY),
                  ("0d", lambda m, a: a.logsumexp(0) * a, [()], ANY)],
    "softmax": [("d1", lambda m, a: a.softmax(1), [(2, 3)], ANY),
                ("d0", lambda m, a: m.softmax(a, 0), [(3, 2)], ANY)],
    "log_softmax": [("last", lambda m, a: a.log_softmax(-1), [(2, 3)], ANY),
                    ("fn", lambda m, a: m.log_softmax(a, 0), [(4,)], ANY)],
    # a custom autograd.Function (tests/test_function.py has the rest): two outputs, a
    # broadcast operand, a Python-number argument; its backward written with ops
    "pyfunc": [("out0", lambda m, a, b: _custom(m).apply(a, b, 1.5)[0], [(2, 3), (3,)], ANY),
               ("both", lambda m, a, b: _custom(m).apply(a, b, -0.5)[1] * _custom(m).apply(
                   a, b, 2.0)[0], [(2, 3), (3,)], ANY),
               ("0d", lambda m, a: _custom(m).apply(a, a, 1.0)[1] * a, [()], ANY)],
}


_CUSTOM = {}


def _custom(m):
    """SinMul on module m's autograd.Function: (sin(x) * y * k, cos(x))."""
    got = _CUSTOM.get(m.__name__)
    if got is None:
        class SinMul(m.autograd.Function):
            @staticmethod
            def forward(ctx, x, y, k):
                ctx.save_for_backward(x, y)
                ctx.k = k
                return x.sin() * y * k, x.cos()

            @staticmethod
            def backward(ctx, g, h):
                x, y = ctx.saved_tensors
                gy = g * x.sin() * ctx.k
                return g * x.cos() * y * ctx.k - h * x.sin(), (gy.sum(0) if gy.dim() > y.dim()
                                                               else gy), None
        got = _CUSTOM[m.__name__] = SinMul
    return got

CASES.update(cases_math.CASES)   # issue #11's elementwise/reduction rows (opsmath)
# the structural / indexing / sort rows (opsstruct, #11): their own table, merged here
from cases_struct import STRUCT_CASES  # noqa: E402
CASES.update(STRUCT_CASES)
# the rows of engineer "opsgaps" (#11)
from cases_gaps import GAP_CASES  # noqa: E402
CASES.update(GAP_CASES)
# --- engineer "nn": nn.functional's decomposition rows (tests/test_nn_functional.py has more
# cases per functional, incl. float32, edge inputs and errors) ------------------------------
F_ = lambda m: m.nn.functional  # noqa: E731
CASES.update({
    "linear": [("2d", lambda m, x, w, b: F_(m).linear(x, w, b), [(3, 4), (2, 4), (2,)], ANY)],
    "leaky_relu": [("d", lambda m, a: F_(m).leaky_relu(a, 0.1), [(2, 3)], ANY)],
    "elu": [("d", lambda m, a: F_(m).elu(a, 1.3), [(2, 3)], ANY)],
    "gelu": [("erf", lambda m, a: F_(m).gelu(a), [(2, 3)], ANY),
             ("tanh", lambda m, a: F_(m).gelu(a, approximate="tanh"), [(3,)], ANY)],
    "silu": [("d", lambda m, a: F_(m).silu(a), [(2, 3)], ANY)],
    "softplus": [("d", lambda m, a: F_(m).softplus(a * 3), [(2, 3)], ANY),
                 ("threshold", lambda m, a: F_(m).softplus(a, threshold=0.5), [(2, 3)], ANY)],
    "softplus_beta": [("beta", lambda m, a: F_(m).softplus(a, beta=1.5), [(2, 3)], ANY)],
    "mse_loss": [("mean", lambda m, a, b: F_(m).mse_loss(a, b), [(2, 3), (2, 3)], ANY)],
    "smooth_l1_loss": [("beta", lambda m, a, b: F_(m).smooth_l1_loss(a, b, beta=0.5),
                        [(2, 3), (2, 3)], ANY)],
    "huber_loss": [("delta", lambda m, a, b: F_(m).huber_loss(a, b, delta=0.8),
                    [(2, 3), (2, 3)], ANY)],
    "nll_loss": [("weight", lambda m, a: F_(m).nll_loss(
        a, m.tensor([0, 2]), weight=m.tensor([1.0, 0.5, 2.0], dtype=a.dtype)), [(2, 3)], ANY)],
    "nll_loss2d": [("3d", lambda m, a: F_(m).nll_loss(a, m.tensor([[0, 2], [1, 1]])),
                    [(2, 3, 2)], ANY)],
    # nll_loss's one-pass case (no weight, none ignored, mean or sum): one nll entry
    "nll": [("mean", lambda m, a: F_(m).nll_loss(a, m.tensor([0, 2])), [(2, 3)], ANY),
            ("ce_sum", lambda m, a: F_(m).cross_entropy(a * a, m.tensor([1, 1, 0]),
                                                       reduction="sum"), [(3, 2)], ANY)],
    "div_by_number": [("ce_prob", lambda m, a, b: F_(m).cross_entropy(a, b.softmax(1)),
                       [(2, 3), (2, 3)], ANY)],
    "binary_cross_entropy": [("d", lambda m, a, b: F_(m).binary_cross_entropy(
        a.sigmoid(), b.sigmoid()), [(2, 3), (2, 3)], ANY)],
    "bce": [("none", lambda m, a, b: F_(m).binary_cross_entropy(
        a.sigmoid(), b.sigmoid(), reduction="none"), [(2, 3), (2, 3)], ANY),
            ("weight", lambda m, a, b: F_(m).binary_cross_entropy(
                a.sigmoid(), b.sigmoid(), weight=m.tensor([0.5, 2.0, 1.0], dtype=a.dtype),
                reduction="sum"), [(2, 3), (2, 3)], ANY)],
    "bce_with_logits": [("mean", lambda m, a, b: F_(m).binary_cross_entropy_with_logits(
        a * 4, b.sigmoid()), [(2, 3), (2, 3)], ANY),
                        ("none", lambda m, a, b: F_(m).binary_cross_entropy_with_logits(
                            a, b.sigmoid(), reduction="none"), [(2, 3), (2, 3)], ANY)],
    "sqrt0": [("std", lambda m, a: (a * 2).std(), [(2, 3)], ANY),
              ("std_dim", lambda m, a: a.std(1), [(2, 3)], ANY)],
    "sq_deviation": [("var", lambda m, a: (a * 2).var(), [(2, 3)], ANY),
                     ("var_dim", lambda m, a: a.var(1, correction=0), [(2, 3)], ANY),
                     ("std_dim", lambda m, a: a.std(0, keepdim=True), [(2, 3)], ANY)],
    "norm_sqrt": [("norm", lambda m, a: a.norm(dim=1), [(2, 3)], ANY),
                  ("all", lambda m, a: m.linalg.vector_norm(a), [(2, 3)], ANY)],
    "binary_cross_entropy_with_logits": [("pos_weight", lambda m, a, b: F_(
        m).binary_cross_entropy_with_logits(a, b.sigmoid(), pos_weight=m.tensor(
            [1.0, 2.0, 0.5], dtype=a.dtype)), [(2, 3), (2, 3)], ANY)],
    "layer_norm": [("affine", lambda m, a, w, b: F_(m).layer_norm(a, (3,), w, b),
                    [(2, 3), (3,), (3,)], ANY)],
    # layer_norm's one-pass case: the norm entry (then * w, + b) inside the row's group
    "layer_norm_rows": [("plain", lambda m, a: F_(m).layer_norm(a * 1.0, (3,)), [(2, 3)], ANY),
                        ("2d", lambda m, a: F_(m).layer_norm(a * a, (3, 4), eps=0.1),
                         [(2, 3, 4)], ANY),
                        ("affine", lambda m, a, w, b: F_(m).layer_norm(a * 2.0, (4,), w, b),
                         [(3, 4), (4,), (4,)], ANY)],
    # (padding_idx's zero gradient is not the derivative: tests/test_nn_functional.py)
    "embedding": [("repeats", lambda m, w: F_(m).embedding(m.tensor([[0, 2], [2, 1]]), w),
                   [(3, 2)], ANY)],
    "constant_pad_nd": [("crop", lambda m, a: F_(m).pad(a, (1, -1, 2, 0), value=0.5),
                         [(2, 3)], ANY)],
    "reflect_pad1d": [("d", lambda m, a: F_(m).pad(a, (2, 1), mode="reflect"), [(1, 2, 3)],
                       ANY)],
    "reflect_pad2d": [("d", lambda m, a: F_(m).pad(a, (1, 1, 1, 0), mode="reflect"),
                       [(1, 2, 3)], ANY)],
    "reflect_pad3d": [("d", lambda m, a: F_(m).pad(a, (1, 0, 0, 1, 1, 0), mode="reflect"),
                       [(1, 2, 2, 3)], ANY)],
    "replicate_pad1d": [("d", lambda m, a: F_(m).pad(a, (2, 1), mode="replicate"),
                         [(1, 2, 3)], ANY)],
    "replicate_pad2d": [("d", lambda m, a: F_(m).pad(a, (1, 2, 1, 0), mode="replicate"),
                         [(1, 2, 3)], ANY)],
    "replicate_pad3d": [("d", lambda m, a: F_(m).pad(a, (1, 0, 0, 1, 1, 0),
                                                     mode="replicate"), [(1, 2, 2, 3)], ANY)],
    "circular_pad": [("d", lambda m, a: F_(m).pad(a, (1, 2), mode="circular"), [(1, 2, 3)],
                      ANY)],
})
# --- engineer "surface12": more activations (in place: torch's ...Backward1 rows, on a
# non-leaf), batch / group norm (tests/test_nn_surface.py has modules, edges and errors) -----
CASES.update({
    "leaky_relu_": [("d", lambda m, a: F_(m).leaky_relu_(a * 1.0, 0.2), [(2, 3)], ANY)],
    # (the in-place leaky_relu's entry, inside its group: the same calls)
    "leaky_relu_result": [("d", lambda m, a: F_(m).leaky_relu_(a * 1.0, 0.2), [(2, 3)], ANY),
                          ("rrelu", lambda m, a: F_(m).rrelu_(a * 1.0, 0.1, 0.3), [(2, 3)],
                           ANY)],
    "elu_": [("elu", lambda m, a: F_(m).elu_(a * 1.0, 1.3), [(2, 3)], ANY),
             ("selu", lambda m, a: F_(m).selu(a * 1.0, inplace=True), [(3,)], ANY)],
    # (torch's CeluBackward1 rounds 1 / alpha to float32: ~1e-8 from the exact gradient)
    "celu_": [("d", lambda m, a: F_(m).celu_(a * 1.0, 0.7), [(2, 3)], ANY,
               {"torch_rtol": 1e-7})],
    "hardtanh": [("d", lambda m, a: F_(m).hardtanh(a, -0.5, 1.0), [(2, 3)], ANY),
                 ("relu6", lambda m, a: F_(m).relu6(a * 4.0), [(2, 3)], ANY)],
    # (hardtanh's two entries, each a bound that clips)
    "hardtanh_min": [("d", lambda m, a: F_(m).hardtanh(a, -0.5, 9.0), [(2, 3)], ANY)],
    "hardtanh_max": [("d", lambda m, a: F_(m).hardtanh(a, -9.0, 0.5), [(2, 3)], ANY)],
    # (the losses' elementwise rows, both sides of the kinks)
    "smooth_l1": [("d", lambda m, a, b: F_(m).smooth_l1_loss(a * 2.0, b, reduction="none",
                                                             beta=0.7), [(2, 3), (2, 3)], ANY)],
    "huber": [("d", lambda m, a, b: F_(m).huber_loss(a * 2.0, b, reduction="none", delta=0.7),
               [(2, 3), (2, 3)], ANY)],
    "hardswish": [("d", lambda m, a: F_(m).hardswish(a * 2.5), [(2, 3)], ANY),
                  ("inplace", lambda m, a: F_(m).hardswish(a * 2.5, inplace=True), [(2, 3)],
                   ANY)],
    # (torch: a float32 1/6 in the gradient, and no double backward)
    "hardsigmoid": [("d", lambda m, a: F_(m).hardsigmoid(a * 2.5), [(2, 3)], ANY,
                     {"torch_rtol": 1e-7, "torch_hvp": False}),
                    ("inplace", lambda m, a: F_(m).hardsigmoid(a * 2.5, inplace=True), [(2, 3)],
                     ANY, {"torch_rtol": 1e-7, "torch_hvp": False})],
    "mish": [("d", lambda m, a: F_(m).mish(a), [(2, 3)], ANY),
             ("inplace", lambda m, a: F_(m).mish(a * 1.0, inplace=True), [(2, 3)], ANY)],
    "selu": [("d", lambda m, a: F_(m).selu(a), [(2, 3)], ANY)],
    "celu": [("d", lambda m, a: F_(m).celu(a, 0.7), [(2, 3)], ANY, {"torch_rtol": 1e-7})],
    "logsigmoid": [("d", lambda m, a: F_(m).logsigmoid(a * 3.0), [(2, 3)], ANY)],
    "batch_norm": [("train", lambda m, a, w, b: F_(m).batch_norm(
        a, None, None, w, b, training=True), [(4, 3), (3,), (3,)], ANY),
        ("eval", lambda m, a, w: F_(m).batch_norm(
            a, m.ones(3, dtype=a.dtype) * 0.1, m.ones(3, dtype=a.dtype) * 2.0, w),
         [(2, 3, 2), (3,)], ANY)],
    # batch_norm's one-pass case in training: the norm entry (then * w, + b) in its group
    "batch_norm_rows": [("2d", lambda m, a: F_(m).batch_norm(a * 1.0, None, None,
                                                             training=True), [(4, 3)], ANY),
                        ("images", lambda m, a, w, b: F_(m).batch_norm(
                            a * 2.0, None, None, w, b, training=True, eps=0.1),
                         [(2, 3, 2, 2), (3,), (3,)], ANY)],
    "group_norm": [("d", lambda m, a, w, b: F_(m).group_norm(a, 2, w, b),
                    [(2, 4, 3), (4,), (4,)], ANY)],
    "prelu": [("channels", lambda m, a, w: F_(m).prelu(a, w), [(2, 3, 2), (3,)], ANY),
              ("one", lambda m, a, w: F_(m).prelu(a, w), [(4,), (1,)], ANY)],
    "threshold": [("d", lambda m, a: F_(m).threshold(a, 0.5, -2.0), [(2, 3)], ANY)],
    "threshold_": [("d", lambda m, a: F_(m).threshold_(a * 1.0, 0.5, -2.0), [(2, 3)], ANY)],
    "glu": [("d", lambda m, a: F_(m).glu(a, 0), [(4, 3)], ANY)],
    "softshrink": [("d", lambda m, a: F_(m).softshrink(a, 0.7), [(2, 3)], ANY)],
    "hardshrink": [("d", lambda m, a: F_(m).hardshrink(a, 0.7), [(2, 3)], ANY)],
})
# --- engineer "conv": Tensor.unfold, convolution and pooling (tests/test_nn_conv.py has the
# grid of options, float32, ties, modules and errors) ----------------------------------------
CASES.update({
    "unfold": [("d1", lambda m, a: a.unfold(1, 2, 1), [(2, 4)], ANY),
               ("overlap", lambda m, a: a.unfold(-1, 3, 2) * a.unfold(-1, 3, 2), [(2, 7)], ANY)],
    "convolution": [("2d", lambda m, x, w, b: F_(m).conv2d(x, w, b, stride=2, padding=1),
                     [(2, 2, 4, 4), (3, 2, 2, 2), (3,)], ANY),
                    ("1d_groups", lambda m, x, w: F_(m).conv1d(x, w, groups=2, dilation=2),
                     [(1, 4, 6), (2, 2, 2)], ANY),
                    # (groups: the row's body; "2d" is nn/_conv_node.py's one node)
                    ("2d_groups", lambda m, x, w, b: F_(m).conv2d(x, w, b, padding=1,
                                                                  groups=2),
                     [(2, 4, 3, 3), (2, 2, 2, 2), (2,)], ANY),
                    ("transposed", lambda m, x, w, b: F_(m).conv_transpose2d(
                        x, w, b, stride=2, padding=1, output_padding=1),
                     [(1, 2, 2, 3), (2, 3, 2, 2), (3,)], ANY)],
    "max_pool2d": [("pad", lambda m, a: F_(m).max_pool2d(a, 2, 1, 1), [(1, 2, 3, 4)], ANY),
                   ("1d", lambda m, a: F_(m).max_pool1d(a, 3, 2, ceil_mode=True), [(2, 2, 6)],
                    ANY)],
    "max_pool3d": [("d", lambda m, a: F_(m).max_pool3d(a, 2, 1), [(1, 1, 3, 3, 3)], ANY)],
    "avg_pool2d": [("pad", lambda m, a: F_(m).avg_pool2d(a, 3, 2, 1, count_include_pad=False),
                    [(1, 2, 4, 5)], ANY),
                   ("1d", lambda m, a: F_(m).avg_pool1d(a, 2, 1, 1), [(2, 2, 4)], ANY)],
    # avg_pool2d's one-pass case (contiguous (N, C, H, W), no padding): one avg_pool entry
    "avg_pool2d_windows": [("overlap", lambda m, a: F_(m).avg_pool2d(a * 1.0, (2, 3), (1, 2)),
                            [(2, 2, 4, 5)], ANY),
                           ("divisor", lambda m, a: F_(m).avg_pool2d(
                               a * a, 2, divisor_override=3), [(1, 2, 4, 4)], ANY),
                           ("1d", lambda m, a: F_(m).avg_pool1d(a * 1.0, 3, 2), [(2, 2, 7)],
                            ANY)],
    "avg_pool3d": [("d", lambda m, a: F_(m).avg_pool3d(a, 2, ceil_mode=True),
                    [(1, 1, 3, 3, 3)], ANY)],
    # (the rows: a non-contiguous input; a contiguous one is an adaptive_avg_pool entry)
    "adaptive_avg_pool2d": [("d", lambda m, a: F_(m).adaptive_avg_pool2d(a.transpose(2, 3),
                                                                          (2, 3)),
                             [(1, 2, 5, 3)], ANY),
                            ("1d", lambda m, a: F_(m).adaptive_avg_pool1d(a.t(), 2), [(4, 2)],
                             ANY)],
    "adaptive_avg_pool3d": [("d", lambda m, a: F_(m).adaptive_avg_pool3d(a.transpose(3, 4),
                                                                          (2, 1, 3)),
                             [(1, 1, 3, 4, 2)], ANY)],
    "adaptive_avg_pool2d_windows": [
        ("d", lambda m, a: F_(m).adaptive_avg_pool2d(a, (2, 3)), [(1, 2, 3, 5)], ANY),
        ("up", lambda m, a: F_(m).adaptive_avg_pool2d(a * a, (4, 3)), [(2, 3, 2)], ANY),
        ("1d", lambda m, a: F_(m).adaptive_avg_pool1d(a, 3), [(2, 7)], ANY)],
    "adaptive_avg_pool3d_windows": [
        ("d", lambda m, a: F_(m).adaptive_avg_pool3d(a, (2, 1, 3)), [(1, 1, 3, 2, 4)], ANY),
        ("even", lambda m, a: F_(m).adaptive_avg_pool3d(a * 1.0, (1, 2, 2)), [(2, 2, 4, 4)],
         ANY)],
    "adaptive_max_pool2d": [("d", lambda m, a: F_(m).adaptive_max_pool2d(a, (2, 3)),
                             [(1, 2, 3, 5)], ANY),
                            ("1d", lambda m, a: F_(m).adaptive_max_pool1d(a, 2), [(2, 5)], ANY)],
    "adaptive_max_pool3d": [("d", lambda m, a: F_(m).adaptive_max_pool3d(a, (2, 1, 3)),
                             [(1, 1, 3, 2, 4)], ANY)],
    "pixel_shuffle": [("d", lambda m, a: F_(m).pixel_shuffle(a, 2), [(1, 4, 2, 3)], ANY)],
    "pixel_unshuffle": [("d", lambda m, a: F_(m).pixel_unshuffle(a, 2), [(2, 2, 4)], ANY)],
    "im2col": [("pad", lambda m, a: F_(m).unfold(a, 2, padding=1, stride=2), [(1, 2, 3, 4)],
                ANY),
               ("3d", lambda m, a: F_(m).unfold(a, (2, 1), dilation=(1, 2)), [(2, 3, 4)], ANY)],
    "col2im": [("overlap", lambda m, a: F_(m).fold(a, (3, 4), 2, padding=1, stride=1),
                [(1, 8, 20)], ANY),
               ("2d", lambda m, a: F_(m).fold(a, (3, 3), (2, 1), stride=(1, 2)), [(4, 4)],
                ANY)],
})

# --- engineer "resample": F.interpolate's rows and F.embedding_bag (tests/test_nn_resample.py
# and tests/test_nn_more_layers.py have the grids, float32 bit for bit, uint8, errors) -------
_I = lambda m, a, mode, size, **kw: F_(m).interpolate(a, size=size, mode=mode, **kw)  # noqa: E731
CASES.update({
    "upsample_nearest1d": [("d", lambda m, a: _I(m, a, "nearest", 5), [(1, 2, 3)], ANY)],
    "upsample_nearest2d": [("d", lambda m, a: _I(m, a, "nearest", (3, 5)), [(1, 2, 2, 3)],
                            ANY)],
    "upsample_nearest3d": [("d", lambda m, a: _I(m, a, "nearest", (3, 2, 3)),
                            [(1, 1, 2, 3, 2)], ANY)],
    "upsample_nearest_exact1d": [("d", lambda m, a: _I(m, a, "nearest-exact", 5), [(1, 2, 3)],
                                  ANY)],
    "upsample_nearest_exact2d": [("d", lambda m, a: _I(m, a, "nearest-exact", (3, 2)),
                                  [(1, 2, 2, 3)], ANY)],
    "upsample_nearest_exact3d": [("d", lambda m, a: _I(m, a, "nearest-exact", (3, 2, 4)),
                                  [(1, 1, 2, 3, 2)], ANY)],
    "upsample_linear1d": [("d", lambda m, a: _I(m, a, "linear", 5), [(1, 2, 3)], ANY),
                          ("corners", lambda m, a: _I(m, a, "linear", 2, align_corners=True),
                           [(2, 1, 4)], ANY)],
    "upsample_bilinear2d": [("d", lambda m, a: _I(m, a, "bilinear", (3, 5)), [(1, 2, 2, 3)],
                             ANY),
                            # out_h + out_w > 128: torch's general kernel (not the small
                            # one), at a size the second and third derivative checks afford
                            ("large", lambda m, a: _I(m, a, "bilinear", (127, 2)),
                             [(1, 1, 2, 3)], ANY)],
    "upsample_bicubic2d": [("d", lambda m, a: _I(m, a, "bicubic", (4, 2), align_corners=True),
                            [(1, 2, 3, 3)], ANY)],
    "upsample_trilinear3d": [("d", lambda m, a: _I(m, a, "trilinear", (3, 2, 4)),
                              [(1, 1, 2, 3, 2)], ANY)],
    "upsample_bilinear2d_aa": [("d", lambda m, a: _I(m, a, "bilinear", (2, 5), antialias=True),
                                [(1, 2, 5, 3)], ANY)],
    "upsample_bicubic2d_aa": [("d", lambda m, a: _I(m, a, "bicubic", (4, 2), antialias=True,
                                                   align_corners=True), [(1, 2, 3, 5)], ANY)],
    "upsample_lanczos2d_aa": [("d", lambda m, a: _I(m, a, "lanczos", (2, 4), antialias=True),
                               [(1, 2, 5, 3)], ANY)],
    "embedding_bag": [("sum", lambda m, w, p: F_(m).embedding_bag(
        m.tensor([0, 2, 2, 1, 3]), w, m.tensor([0, 2]), mode="sum", per_sample_weights=p),
        [(4, 2), (5,)], ANY, {"torch_hvp": False}),   # (torch: no double backward here)
        ("mean", lambda m, w: F_(m).embedding_bag(m.tensor([[0, 2], [3, 3]]), w), [(4, 2)],
         ANY)],
})
# --- engineer "nnloss": the margin losses' rows (tests/test_nn_losses_more.py has more cases
# per loss, incl. float32, every reduction and the errors) -----------------------------------
CASES.update({
    "soft_margin_loss": [("d", lambda m, a: F_(m).soft_margin_loss(
        a, m.tensor([[1.0, -1.0, 1.0], [-1.0, 1.0, 1.0]], dtype=a.dtype)), [(2, 3)], ANY)],
    # (torch has no double backward for these two: its hvp is not compared)
    "multi_margin_loss": [("p2w", lambda m, a: F_(m).multi_margin_loss(
        a, m.tensor([0, 2]), p=2, margin=0.5, weight=m.tensor([1.0, 0.5, 2.0], dtype=a.dtype)),
        [(2, 3)], ANY, {"torch_hvp": False}),
        ("p1", lambda m, a: F_(m).multi_margin_loss(a, m.tensor([1, 1]), reduction="sum"),
         [(2, 3)], ANY, {"torch_hvp": False})],
    "multilabel_margin_loss": [("d", lambda m, a: F_(m).multilabel_margin_loss(
        a, m.tensor([[2, 0, -1], [1, -1, 0]])), [(2, 3)], ANY, {"torch_hvp": False})],
    "sub_number": [("cos_emb", lambda m, a, b: F_(m).cosine_embedding_loss(
        a, b, m.tensor([1.0, -1.0], dtype=a.dtype), margin=-0.9), [(2, 3), (2, 3)], ANY)],
    # (training: the seed set first, so that each evaluation draws the same slopes)
    "rrelu_with_noise": [("eval", lambda m, a: F_(m).rrelu(a, 0.1, 0.3), [(2, 3)], ANY),
                         ("train", lambda m, a: (m.manual_seed(0), F_(m).rrelu(
                             a, training=True))[1], [(2, 3)], ANY)],
    "rrelu_with_noise_": [("eval", lambda m, a: F_(m).rrelu_(a * 1.0, 0.2, 0.5), [(2, 3)], ANY),
                          ("train", lambda m, a: (m.manual_seed(0), F_(m).rrelu(
                              a * 1.0, training=True, inplace=True))[1], [(2, 3)], ANY)],
    "channel_shuffle": [("d", lambda m, a: F_(m).channel_shuffle(a, 2), [(2, 4, 3)], ANY)],
})

# --- engineer "unpool": max unpooling (tests/test_nn_unpool.py has the grid of options, the
# modules and torch's errors); indices as max_pool's, or given ----------------------------
_UNPOOL2 = [[[[0, 3], [9, 14]], [[5, 2], [12, 15]]]]
_UNPOOL3 = [[[[[0, 3], [9, 14]], [[21, 30], [56, 63]]]]]
CASES.update({
    "max_unpool2d": [("idx", lambda m, a: F_(m).max_unpool2d(a, m.tensor(_UNPOOL2), 2),
                      [(1, 2, 2, 2)], ANY),
                     ("pool", lambda m, a: F_(m).max_unpool2d(
                         *F_(m).max_pool2d(a, 2, return_indices=True), 2, output_size=[5, 5]),
                      [(2, 5, 5)], ANY),
                     ("1d", lambda m, a: F_(m).max_unpool1d(
                         a, m.tensor([[1, 2, 6], [0, 3, 4]]), 3, 2, output_size=[7]),
                      [(2, 3)], ANY)],
    "max_unpool3d": [("idx", lambda m, a: F_(m).max_unpool3d(a, m.tensor(_UNPOOL3), 2),
                      [(1, 1, 2, 2, 2)], ANY),
                     ("stride", lambda m, a: F_(m).max_unpool3d(
                         a[0], m.tensor(_UNPOOL3[0]), 3, 2, (1, 0, 0)), [(1, 1, 2, 2, 2)],
                      ANY)],
})

# --- engineer "grid": F.affine_grid and F.grid_sample's rows (tests/test_nn_grid_sample.py has
# every mode, padding and align_corners, float32 bit for bit, non-finite grids, errors) -------
_GS = lambda m, x, g, **kw: F_(m).grid_sample(x, g, **kw)  # noqa: E731
CASES.update({
    "affine_grid_generator": [
        ("2d", lambda m, t: F_(m).affine_grid(t, (2, 1, 3, 4), align_corners=False),
         [(2, 2, 3)], ANY),
        ("3d", lambda m, t: F_(m).affine_grid(t, (1, 2, 2, 3, 2), align_corners=True),
         [(1, 3, 4)], ANY)],
    "grid_sampler_2d": [
        ("bilinear", lambda m, x, g: _GS(m, x, g, align_corners=False),
         [(1, 2, 3, 4), (1, 2, 3, 2)], ANY),
        ("border", lambda m, x, g: _GS(m, x, g, padding_mode="border", align_corners=True),
         [(2, 1, 3, 3), (2, 2, 2, 2)], ANY),
        ("bicubic", lambda m, x, g: _GS(m, x, g, mode="bicubic", padding_mode="reflection",
                                        align_corners=False), [(1, 1, 3, 4), (1, 2, 2, 2)], ANY),
        ("nearest", lambda m, x, g: _GS(m, x, g, mode="nearest", align_corners=False),
         [(1, 2, 3, 4), (1, 2, 3, 2)], ANY)],
    "grid_sampler_3d": [
        ("trilinear", lambda m, x, g: _GS(m, x, g, padding_mode="reflection", align_corners=False),
         [(1, 2, 2, 3, 2), (1, 2, 1, 2, 3)], ANY)],
})

# --- engineer "ctc": F.ctc_loss (tests/test_nn_ctc.py has the grid of layouts, lengths,
# reductions, zero_infinity and torch's errors); through log_softmax, whose gradient torch's
# CtcLossBackward0 assumes (it adds exp(log_probs) to the loss's own gradient) -------------
CASES.update({
    "ctc_loss": [("pad", lambda m, a: F_(m).ctc_loss(
        a.log_softmax(2), m.tensor([[1, 2], [2, 2]]), [4, 4], [2, 2]), [(4, 2, 3)], ANY,
        {"torch_hvp": False}),
        ("cat_none", lambda m, a: F_(m).ctc_loss(
            a.log_softmax(1), m.tensor([2, 1, 1]), [4], [3], blank=0, reduction="none"),
         [(4, 3)], ANY, {"torch_hvp": False})],
})

# --- random draws whose parameters need a gradient: zero gradients (the `draw` row), the
# seed set first so that each evaluation draws the same values (whose finite differences are
# then zero: bernoulli's and poisson's piecewise constant, a fill's independent of a) -------
CASES.update({
    "draw": [("bernoulli", lambda m, a: (m.manual_seed(0), m.bernoulli(a.sigmoid()))[1],
              [(2, 3)], ANY),
             ("bernoulli_tensor", lambda m, a: (m.manual_seed(0), m.zeros(
                 2, 3, dtype=a.dtype).bernoulli_(a.sigmoid()))[1] * a, [(2, 3)], ANY),
             ("poisson", lambda m, a: (m.manual_seed(0), m.poisson(a * 3.0))[1], [(4,)], POS),
             ("uniform_", lambda m, a: (m.manual_seed(0), (a * 2.0).uniform_())[1] * a,
              [(3,)], ANY)],
})


def _put(t, key, value):
    t[key] = value
    return t


def _through_view(t, key, value):
    v = t[key]
    v.mul_(value)
    return v


def _add_through_view(t, value):
    t[:1].add_(value)
    return t


# tape-structure entries and ops without a gradient (tested in test_replay.py)
# (max_shift: the no-gradient shift of softmax/logsumexp, tested in test_decomp.py)
NOT_DIFFERENTIABLE = {n for n, op in OPS.items()
                      if op.kind in ("leaf", "import", "const", "compare", "guard", "stopgrad",
                                     "shift")}
# (only a traced integer cast records these: test_replay.py)
NOT_DIFFERENTIABLE |= {"to_int", "to_int_wrap", "to_uint8", "int_wrap", "int_to_uint8"}


def test_every_op_has_cases():
    missing = sorted(set(OPS) - NOT_DIFFERENTIABLE - set(CASES))
    assert not missing, f"ops without tests: {missing}"
    assert not set(CASES) - set(OPS)


def _inputs(shapes, domain, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    out = []
    for s in shapes:
        if domain == POS:
            v = rng.uniform(0.5, 2.0, s)
        else:
            v = rng.uniform(0.2, 2.0, s) * rng.choice([-1.0, 1.0], s)
        out.append(np.asarray(v, dtype=dtype))
    return out


ALL = [(name, cid, fn, shapes, dom, *opts) for name, cases in CASES.items()
       for cid, fn, shapes, dom, *opts in cases]
ALL = [case if len(case) == 6 else case + ({},) for case in ALL]
IDS = [f"{a}-{b}" for a, b, *_ in ALL]


def _scalarize(out):
    """Reduce any output to a scalar with distinct weights, so every element is checked."""
    w = np.arange(1, out.numel() + 1, dtype=np.float64).reshape(tuple(out.shape)) / out.numel()
    mod = tg if isinstance(out, tg.Tensor) else __import__("torch")
    return (out * mod.tensor(w, dtype=out.dtype)).sum()


@pytest.mark.parametrize("name,cid,fn,shapes,dom,opts", ALL, ids=IDS)
def test_gradcheck_float64(name, cid, fn, shapes, dom, opts):
    xs = [tg.tensor(v, requires_grad=True) for v in _inputs(shapes, dom, 1)]
    opts = {k: v for k, v in opts.items() if k in ("eps", "atol", "rtol")}
    assert gradcheck(lambda *a: fn(tg, *a), xs, **opts)


@pytest.mark.parametrize("name,cid,fn,shapes,dom,opts", ALL, ids=IDS)
def test_records_the_declared_op(name, cid, fn, shapes, dom, opts):
    """The case really exercises op `name`: its grad_fn name appears in the graph (a
    decomposition row as the group it shows as), or its entry is recorded inside a group (a
    primitive only a decomposition records, bce_with_logits)."""
    from tapegrad import groups
    xs = [tg.tensor(v, requires_grad=True) for v in _inputs(shapes, dom, 2)]
    out = fn(tg, *xs)
    tape = out._tape
    assert tape is not None
    cls = type(out.grad_fn)
    if getattr(cls, "_native", False) and cls.__name__ == OPS[name].grad_fn:
        return   # (one custom-Function node standing for the row: a 2-d convolution's)
    codes = set(groups.shown_opcodes(tape, tape.n).tolist())
    if OPS[name].kind != "decomp":
        codes |= set(np.asarray(tape.op[:tape.n]).tolist())
    assert OPS[name].code in codes


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,cid,fn,shapes,dom,opts", ALL, ids=IDS)
def test_against_torch(name, cid, fn, shapes, dom, opts, dtype):
    torch = pytest.importorskip("torch")
    vals = _inputs(shapes, dom, 3, getattr(np, dtype))
    xs = [tg.tensor(v, requires_grad=True) for v in vals]
    ts = [torch.tensor(v, requires_grad=True) for v in vals]
    out, tout = fn(tg, *xs), fn(torch, *ts)
    assert tuple(out.shape) == tuple(tout.shape)
    assert out.dtype.name == str(tout.dtype).replace("torch.", "")
    if opts.get("names", True):
        assert type(out.grad_fn).__name__ == type(tout.grad_fn).__name__
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    if "torch_rtol" in opts:
        tol["rtol"] = max(tol["rtol"], opts["torch_rtol"])
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), **tol)
    _scalarize(out).backward()
    _scalarize(tout).backward()
    # (torch_grads: the inputs whose gradients torch gets right, where not all; gradcheck
    # checks every input's)
    for i, (x, t) in enumerate(zip(xs, ts)):
        if i not in opts.get("torch_grads", range(len(xs))):
            continue
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **tol)
        assert x.grad.dtype.name == str(t.grad.dtype).replace("torch.", "")


def _first_derivative(fn, shapes, seed):
    """x -> d/dx <fn(x), v> for a fixed random v, with create_graph: its derivatives are the
    second derivatives of fn."""
    def vjp(*xs):
        out = fn(tg, *xs)
        v = np.random.default_rng(seed).normal(size=tuple(out.shape))  # the same v every call
        if not out.requires_grad:
            return tuple(x.detach() * 0.0 for x in xs)
        return tg.autograd.grad(out, xs, grad_outputs=tg.tensor(v, dtype=out.dtype),
                                create_graph=True, allow_unused=True, materialize_grads=True)
    return vjp


def _no_double_backward(name):
    """(exception class, message) of the second derivative of row `name`, whose torch
    backward has no derivative (Op.double_backward), or None."""
    spec = OPS[name].double_backward if name in OPS else ()
    if not spec:
        return None
    specs = spec if isinstance(spec[0], tuple) else (spec,)   # (one per edge)
    return tuple({s[1] for s in specs}), "|".join(re.escape(s[2]) for s in specs)


@pytest.mark.parametrize("name,cid,fn,shapes,dom,opts", ALL, ids=IDS)
def test_second_derivative_gradgradcheck(name, cid, fn, shapes, dom, opts):
    xs = [tg.tensor(v, requires_grad=True) for v in _inputs(shapes, dom, 4)]
    opts = {k: v for k, v in opts.items() if k in ("eps", "atol", "rtol")}
    error = _no_double_backward(name)
    if error is not None:   # (torch's error, as torch's gradgradcheck meets it)
        with pytest.raises(error[0], match=error[1]):
            gradgradcheck(lambda *a: fn(tg, *a), xs, **opts)
        return
    assert gradgradcheck(lambda *a: fn(tg, *a), xs, **opts)


@pytest.mark.parametrize("name,cid,fn,shapes,dom,opts", ALL, ids=IDS)
def test_third_derivative(name, cid, fn, shapes, dom, opts):
    """gradgradcheck of the first derivative checks the third derivative, in gradcheck's fast
    mode (torch's random projections u^T J v: one directional difference per input instead of
    one per element; the full Jacobians of the second derivative are checked above)."""
    if _no_double_backward(name) is not None:
        pytest.skip("torch has no second derivative of this op (the error: above)")
    xs = [tg.tensor(v, requires_grad=True) for v in _inputs(shapes, dom, 5)]
    opts = {k: v for k, v in opts.items() if k in ("eps", "atol", "rtol")}
    first = _first_derivative(fn, shapes, 6)
    rng = np.random.default_rng(7)
    outs = first(*xs)
    # one grad_output per differentiable output, paired by position (as torch's gradgradcheck)
    vs = [tg.tensor(rng.normal(size=tuple(o.shape)), dtype=o.dtype, requires_grad=True)
          for o in outs if o.requires_grad]
    if not vs:   # a first derivative constant in xs (a linear op): nothing of third order
        return
    assert gradgradcheck(lambda *a: first(*a), xs, vs, fast_mode=True, **opts)


@pytest.mark.parametrize("name,cid,fn,shapes,dom,opts", ALL, ids=IDS)
def test_hessian_vector_products_against_torch(name, cid, fn, shapes, dom, opts):
    torch = pytest.importorskip("torch")
    if not opts.get("torch_hvp", True):
        pytest.skip("torch has no double backward for this op (gradgradcheck covers ours)")
    vals = _inputs(shapes, dom, 8)
    rng = np.random.default_rng(9)
    results = []
    for m in (tg, torch):
        xs = [m.tensor(v, requires_grad=True) for v in vals]
        out = fn(m, *xs)
        w = m.tensor(np.random.default_rng(10).normal(size=tuple(out.shape)), dtype=out.dtype)
        gs = m.autograd.grad((out * w).sum(), xs, create_graph=True, allow_unused=True)
        us = [m.tensor(np.random.default_rng(11 + i).normal(size=v.shape)) for i, v in enumerate(vals)]
        dot = sum((g * u).sum() for g, u in zip(gs, us) if g is not None)
        if not getattr(dot, "requires_grad", False):
            results.append(None)
            continue
        hv = m.autograd.grad(dot, xs, allow_unused=True)
        # torch answers some second derivatives (abs) with a ZeroTensor: numpy(force=True)
        results.append([None if h is None else
                        (h.detach().numpy(force=True) if m is not tg else h.numpy()) for h in hv])
    if results[0] is None or results[1] is None:
        assert results[0] is None or all(np.all(h == 0) for h in results[0] if h is not None)
        return
    for a, b in zip(*results):
        if a is None or b is None:
            assert (a is None or np.all(a == 0)) and (b is None or np.all(b == 0))
        else:
            np.testing.assert_allclose(a, b, rtol=max(1e-9, opts.get("torch_rtol", 0)),
                                       atol=1e-12)
