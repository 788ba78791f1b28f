"""docs/ops.md, the op table as users see it: generated from tapegrad/ops.py (one line per
row: its torch name(s), grad_fn, kind and what its backward saves) and checked current by
tests/test_optable.py.  Run `python -m tapegrad.optable` after changing the table."""
import os
import types

import tapegrad
import tapegrad.linalg
import tapegrad.nn.functional
import tapegrad.special
from .ops import BY_CODE
from .tensor import Tensor

TARGET = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                      "ops.md")

# How torch spells the rows whose name is not a function or method of that name (one source:
# every other row's torch name is its own, looked up in tapegrad's namespace).
TORCH_NAMES = {
    "add": "`+`, `torch.add`", "sub": "`-`, `torch.sub`, `torch.subtract`",
    "mul": "`*`, `torch.mul`, `torch.multiply`",
    "div": "`/`, `torch.div`, `torch.divide`, `torch.true_divide`",
    "pow": "`**` (tensor exponent), `torch.pow`", "pow_scalar": "`x ** c`, `Tensor.pow(c)`, `torch.square`",
    "neg": "unary `-`, `torch.neg`, `torch.negative`", "abs": "`abs()`, `torch.abs`",
    "reciprocal": "`torch.reciprocal`, `c / x`", "sum": "`torch.sum(x)`",
    "sum_dim": "`torch.sum(x, dim)`", "mean": "`torch.mean(x)`", "mean_dim": "`torch.mean(x, dim)`",
    "view": "`view`, `reshape`, `flatten`", "squeeze_dim": "`squeeze(dim)`",
    "squeeze_dims": "`squeeze(dims)`", "squeeze_mm": "`vector @ matrix`",
    "to_copy": "`to(dtype)`, `float()`, `double()`", "select": "`x[i]`",
    "slice": "`x[a:b]`", "index": "`x[int tensor]`, `x[mask]`",
    "unsqueeze_strided": "`x[a:b, None]`, `x[i, None]` (a None after a slice or int)",
    "unsafe_view": "`reshape` of a non-contiguous tensor (a copy)",
    "reshape_alias": "`reshape` of a non-contiguous tensor that a view can give",
    "threshold_backward": "`relu`'s gradient under `create_graph=True`",
    "straight_through": "`prelu`'s gradient at 0 under `create_graph=True`",
    "depends_on": "piecewise-linear activations' gradients under `create_graph=True`",
    "input_edge": "pooling, padding and nll_loss gradients under `create_graph=True`",
    "div_floor": "`remainder`'s gradient under `create_graph=True`",
    "div_trunc": "`fmod`'s gradient under `create_graph=True`",
    "fmod_float32": "`torch.fmod`, `Tensor.fmod` of a float32 result",
    "div_trunc_float32": "float32 `fmod`'s gradient under `create_graph=True`",
    "leaky_relu_result": "`F.leaky_relu_`, `F.rrelu_` (eval): its entry inside the group",
    "lt": "`<`, `torch.lt`", "le": "`<=`, `torch.le`", "gt": "`>`, `torch.gt`",
    "ge": "`>=`, `torch.ge`",
    "eq": "`==`, `torch.eq`", "ne": "`!=`, `torch.ne`", "where": "`torch.where(c, x, y)`",
    "guard_bool": "`bool()` of a traced value (replay guard)",
    "guard_value": "`item()`/`float()` of a traced value (replay guard)",
    "stopgrad": "`detach()` while tracing", "logical_and": "`&`, `torch.logical_and`",
    "strided_scatter": "backward of views (create_graph)",
    "index_scatter": "backward of indexing (create_graph)", "alias": "`x[...]`",
    "dot": "`torch.dot`, `1-d @ 1-d`", "mv": "`torch.mv`, `2-d @ 1-d`", "mm": "`torch.mm`, `2-d @ 2-d`",
    "matmul": "`@`, `torch.matmul` (batched)", "zero": "`zero_()`", "fill": "`fill_(number)`",
    "copy": "`copy_()`", "fill_tensor": "`fill_(0-d tensor)`", "copy_slices": "`x[key] = v`",
    "index_put": "`x[index] = v`", "max_dim": "`torch.max(x, dim)`", "min_dim": "`torch.min(x, dim)`",
    "split": "`split(int)`, `chunk`", "split_with_sizes": "`split(list)`",
    "unsafe_split": "`unsafe_split`, `unsafe_chunk`",
    "unsafe_split_with_sizes": "`unsafe_split_with_sizes`",
    "output": "one output of a multi-output op", "max_shift": "the shift of softmax/logsumexp",
    "round": "`torch.round(x)`", "round_decimals": "`torch.round(x, decimals=d)`",
    "remainder": "`%`, `torch.remainder`", "clamp_min": "`torch.clamp_min`",
    "clamp_max": "`torch.clamp_max`", "maximum": "`torch.maximum`, `torch.max(x, other)`",
    "minimum": "`torch.minimum`, `torch.min(x, other)`",
    "logical_or": "`|`, `torch.logical_or`", "logical_xor": "`^`, `torch.logical_xor`",
    "clamp": "`torch.clamp`, `torch.clip` (number bounds)",
    "clamp_tensor": "`torch.clamp`, `torch.clip` (tensor bounds)",
    "max_all": "`torch.max(x)`", "min_all": "`torch.min(x)`", "prod": "`torch.prod(x)`",
    "prod_dim": "`torch.prod(x, dim)`",
    "vector_norm": "`torch.linalg.vector_norm`, `torch.linalg.norm`, `torch.norm`, `Tensor.norm`",
    "lerp": "`torch.lerp` (number weight)", "lerp_tensor": "`torch.lerp` (tensor weight)",
    "asin": "`torch.asin`, `torch.arcsin`", "acos": "`torch.acos`, `torch.arccos`",
    "atan": "`torch.atan`, `torch.arctan`", "asinh": "`torch.asinh`, `torch.arcsinh`",
    "acosh": "`torch.acosh`, `torch.arccosh`", "atanh": "`torch.atanh`, `torch.arctanh`",
    "atan2": "`torch.atan2`, `torch.arctan2`", "trunc": "`torch.trunc`, `torch.fix`",
    "as_strided": "`torch.as_strided`, `Tensor.as_strided`; a view read after an in-place op "
                  "through another view of its base",
    "pyfunc": "`autograd.Function.apply`", "median_dim": "`torch.median(x, dim)`",
    "sort_stable": "`torch.sort(x, stable=...)`, `Tensor.sort(stable=...)`",
    "view_gather": "what an in-place op through a view reads (inside `CopySlices`)",
    "view_scatter": "what an in-place op through a view writes (inside `CopySlices`)",
    "masked_fill_tensor": "`masked_fill(mask, 0-d tensor)`",
    "scatter_value": "`scatter(dim, index, number)`",
    "nll_loss2d": "`F.nll_loss`, `F.cross_entropy` on (N, C, d1, ...) input",
    "avg_pool2d_windows": "`F.avg_pool2d` of a contiguous float (N, C, H, W) input without "
                          "padding, `nn.AvgPool2d`",
    "adaptive_avg_pool2d_windows": "`F.adaptive_avg_pool1d`, `F.adaptive_avg_pool2d` of a "
                                   "float32/float64 tensor (eager)",
    "adaptive_avg_pool3d_windows": "`F.adaptive_avg_pool3d` of a float32/float64 tensor (eager)",
    "amax_slices": "`torch.amax`, `Tensor.amax` of a float32/float64 tensor (eager)",
    "amin_slices": "`torch.amin`, `Tensor.amin` of a float32/float64 tensor (eager)",
    "max_all_even": "`torch.max(x)`, `Tensor.max()` of a float32/float64 tensor (eager)",
    "min_all_even": "`torch.min(x)`, `Tensor.min()` of a float32/float64 tensor (eager)",
    "lerp_by_number": "`torch.lerp` (number weight) of two float32/float64 tensors of one shape "
                      "(eager)",
    "cumprod_running": "`torch.cumprod`, `Tensor.cumprod` of a float32/float64 tensor (eager)",
    "layer_norm_rows": "inside `F.layer_norm`'s group (`nn.LayerNorm` in training): the "
                       "normalization",
    "batch_norm_rows": "inside `F.batch_norm`'s group in training (`nn.BatchNorm*d`): the "
                       "normalization",
    "nll": "`F.nll_loss`, `F.cross_entropy` on (N, C) input, class indices, no weight, none "
           "ignored, mean or sum",
    "div_by_number": "`x / number` in nn.functional's losses and `torch.trapezoid` (`DivBackward1`)",
    "euclidean_dist": "`torch.cdist` for p = 2 over more than 25 rows, or with "
                      "compute_mode='use_mm_for_euclid_dist'",
    "mul_by_number": "`x * number` in `torch.trapezoid`, `trapz`, `cumulative_trapezoid` "
                     "(`MulBackward1`)",
    "constant_pad_nd": "`F.pad(mode='constant')`", "circular_pad": "`F.pad(mode='circular')`",
    **{f"{m}_pad{k}d": f"`F.pad(mode='{m}')` over {k} dims"
       for m in ("reflect", "replicate") for k in (1, 2, 3)},
    "convolution": "`F.conv1d`/`2d`/`3d`, `F.conv_transpose1d`/`2d`/`3d` (`nn.Conv1d`, ...)",
    "max_pool2d": "`F.max_pool1d`, `F.max_pool2d`", "avg_pool2d": "`F.avg_pool1d`, `F.avg_pool2d`",
    "adaptive_avg_pool2d": "`F.adaptive_avg_pool1d`, `F.adaptive_avg_pool2d`",
    "im2col": "`F.unfold` (`nn.Unfold`)", "col2im": "`F.fold` (`nn.Fold`)",
    "adaptive_max_pool2d": "`F.adaptive_max_pool1d`, `F.adaptive_max_pool2d`",
    "max_unpool2d": "`F.max_unpool1d`, `F.max_unpool2d` (`nn.MaxUnpool1d`, `nn.MaxUnpool2d`)",
    "max_unpool3d": "`F.max_unpool3d` (`nn.MaxUnpool3d`)",
    "ctc_loss": "`F.ctc_loss` (`nn.CTCLoss`)",
    "nanmedian_dim": "`torch.nanmedian(x, dim)`",
    "norm_dim": "`torch.pairwise_distance`, `F.pairwise_distance`, `torch.frobenius_norm`, "
                "`torch.norm_except_dim` (at::norm, `NormBackward1`)",
    "norm_all": "`torch.norm_except_dim(v, p, -1)` (at::norm, `NormBackward0`)",
    "squeeze_copy_dim": "`torch.squeeze_copy(x, dim)`",
    "squeeze_copy_dims": "`torch.squeeze_copy(x, dims)`",
    "fill_out": "`torch.fill(x, number)`", "fill_out_tensor": "`torch.fill(x, 0-d tensor)`",
    "add_number": "the `+ eps` of `torch.pairwise_distance` (at::add of a number, "
                  "`AddBackward1`)",
    **{f"upsample_{m}{k}d": f"`F.interpolate(mode='{w}')` on {k + 2}-d input (`nn.Upsample`)"
       for m, w in (("nearest", "nearest"), ("nearest_exact", "nearest-exact"))
       for k in (1, 2, 3)},
    "upsample_linear1d": "`F.interpolate(mode='linear')`",
    "upsample_bilinear2d": "`F.interpolate(mode='bilinear')`, `F.upsample_bilinear`, "
                           "`nn.UpsamplingBilinear2d`",
    "upsample_bicubic2d": "`F.interpolate(mode='bicubic')`",
    "upsample_bilinear2d_aa": "`F.interpolate(mode='bilinear', antialias=True)`",
    "upsample_bicubic2d_aa": "`F.interpolate(mode='bicubic', antialias=True)`",
    "upsample_lanczos2d_aa": "`F.interpolate(mode='lanczos', antialias=True)`",
    "upsample_trilinear3d": "`F.interpolate(mode='trilinear')`",
    "embedding_bag": "`F.embedding_bag` (`nn.EmbeddingBag`)",
    "affine_grid_generator": "`F.affine_grid`",
    "grid_sampler_2d": "`F.grid_sample` on 4-d input",
    "grid_sampler_3d": "`F.grid_sample` on 5-d input",
    "sub_number": "the `cos - margin` of `F.cosine_embedding_loss` (at::sub of a number, "
                  "`SubBackward1`)",
    "rrelu_with_noise": "`F.rrelu` (`nn.RReLU`)",
    "rrelu_with_noise_": "`F.rrelu_`, `F.rrelu(inplace=True)`",
    "solve": "`torch.linalg.solve`",   # (torch.solve is the removed function that raises)
    "softplus": "`F.softplus` with beta 1 (`nn.Softplus`)",
    "softplus_beta": "`F.softplus` with another beta",
    "bce_with_logits": "`F.binary_cross_entropy_with_logits` without weights, before the "
                       "reduction",
    "bce": "`F.binary_cross_entropy` (`nn.BCELoss`), before the weight and the reduction",
    "sqrt0": "the square root of `std`, `cdist` (gradient 0 at 0)",
    "addcmul_term": "the term `value * tensor1 * tensor2` of an eager `addcmul` (one entry of "
                    "the addc kind: torch's gradient formulas)",
    "addcdiv_term": "the term `value * tensor1 / tensor2` of an eager `addcdiv` (one entry of "
                    "the addc kind: torch's gradient formulas)",
    "sq_deviation": "the squared deviations of `var`, `std` (no gradient through the mean, "
                    "as torch's `var_backward`)",
    "norm_sqrt": "the square root of a 2-norm (gradient 0 at 0)",
    "selu": "`F.selu` (`nn.SELU`)",
    "hardtanh_min": "the lower clip of `F.hardtanh`, `F.relu6`",
    "hardtanh_max": "the upper clip of `F.hardtanh`, `F.relu6`",
    "smooth_l1": "the elementwise loss of `F.smooth_l1_loss` (beta > 0)",
    "huber": "the elementwise loss of `F.huber_loss`",
    "draw": "`torch.normal`, `torch.bernoulli`, `torch.poisson` with tensor parameters and "
            "the in-place fills (`normal_`, `uniform_`, `bernoulli_`, ...): zero gradients, "
            "shown as torch's NormalBackward0-3, BernoulliBackward0-2, PoissonBackward0, ...",
    "slogdet_sign": "the sign of `torch.linalg.slogdet`, `torch.slogdet` (no gradient)",
    "to_int": "`.int()`, `.long()`, `.to(torch.int32 / int64)` of a float while "
              "`tapegrad.record` traces (no gradient)",
    "to_int_wrap": "`.to(torch.int8 / int16)` of a float while `tapegrad.record` traces "
                   "(wraps around, as torch's; no gradient)",
    "to_uint8": "`.to(torch.uint8)` of a float while `tapegrad.record` traces (wraps around, "
                "as torch's; no gradient)",
    "int_wrap": "a cast of integers into a narrower signed type while `tapegrad.record` "
                "traces (the low bits; no gradient)",
    "int_to_uint8": "a cast of integers into uint8 while `tapegrad.record` traces (the low "
                    "bits; no gradient)",
}
INTERNAL = {"leaf": "a leaf tensor", "import": "a tensor of an older tape",
            "const": "a constant operand"}


def torch_name(op):
    if op.name in TORCH_NAMES:
        return TORCH_NAMES[op.name]
    if op.name in INTERNAL:
        return "(" + INTERNAL[op.name] + ")"
    names = []
    for prefix, space in (("torch", tapegrad), ("torch.linalg", tapegrad.linalg),
                          ("torch.special", tapegrad.special),
                          ("F", tapegrad.nn.functional), ("Tensor", Tensor)):
        fn = getattr(space, op.name, None)
        if fn is not None and not isinstance(fn, types.ModuleType):
            names.append("`%s.%s`" % (prefix, op.name))
    return ", ".join(names) or "(internal)"


def render():
    lines = [
        "# Op table",
        "",
        "Generated from `tapegrad/ops.py` by `python -m tapegrad.optable` (a test checks it is",
        "current).  One row per op of the tape: what torch calls it, the `grad_fn` it shows",
        "(a second name when an operand is a Python number), its kind (how the kernels treat",
        "it: docs/design.md) and what its backward saves.  Rows of kind `decomp` are recorded",
        "as primitives and shown as one node (`tapegrad/decomps.py`, `decomps_math.py`).",
        "In-place variants (`exp_`, `clamp_`, ...) record the same row.",
        "",
        "| # | op | torch | grad_fn | kind | saves |",
        "|---|---|---|---|---|---|",
    ]
    for op in BY_CODE:
        fn = op.grad_fn or "-"
        extra = [n for n in (op.grad_fn_scalar_b, op.grad_fn_scalar_a) if n and n != op.grad_fn]
        if extra:
            fn += " / " + " / ".join(dict.fromkeys(extra))
        lines.append("| %d | `%s` | %s | %s | %s | %s |" % (
            op.code, op.name, torch_name(op), fn, op.kind, ", ".join(op.saves) or "-"))
    return "\n".join(lines) + "\n"


def write():
    with open(TARGET, "w") as f:
        f.write(render())
    print("wrote", TARGET)


if __name__ == "__main__":
    write()
