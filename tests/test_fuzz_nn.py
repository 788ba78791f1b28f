"""Differential fuzzer against torch for tapegrad.nn.functional and the stateful nn modules.

Each seed grows a short program (Python source over the module name `m`, with
`F = m.nn.functional`) from a seeded `random.Random`: 1-4 steps, each drawing one functional
family with random shapes (float32/float64), random options and fresh leaves: convolutions
(1d/2d/3d, transposed, stride/padding incl. 'same'/'valid'/dilation/groups/bias None, and
nn.ConvNd's padding_mode), max/avg/lp/adaptive pools (ceil_mode, count_include_pad,
divisor_override, return_indices), interpolate (every mode, align_corners, scale_factor,
antialias), pad (every mode), batch/layer/group/instance norm (training/eval, weight/bias None,
momentum, running stats, and the BatchNorm/InstanceNorm modules' buffers over several calls),
dropout with p in {0, 1} and seeded dropout (both libraries draw the same stream), the losses
with every reduction, activations (applied to a fresh leaf or an earlier result),
linear/bilinear, embedding (padding_idx, max_norm renormalising the weight in place), one_hot,
normalize, cosine_similarity, pairwise_distance, pdist, unfold/fold, pixel_(un)shuffle,
grid_sample/affine_grid and scaled_dot_product_attention.  Options are sometimes drawn outside
their valid range, so torch's errors are exercised too.

While a program is generated each line runs on torch (the oracle): a line that raises is kept
now and then (its error must match) and its result is not used further.  The program ends with
a loss `sum(o.sin().sum())` over its float results that require grad (sin so that every
element gets a different incoming gradient) and `backward()`.

Compared per line: result dtype, shape and values (allclose with dtype-aware tolerances, nan
and inf positions equal) or exception type and message (`torch.` read as `tapegrad.`); at the
end every leaf's `.grad` (module parameters included) the same way.  A failing seed prints its
program, ready to run after `import tapegrad as m` (or `import torch as m`).
"""
import math
import random
import re
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from fuzz_seeds import check, survey  # noqa: E402
import tapegrad  # noqa: E402

FLOATS = ["float32", "float64"]
REDUCTIONS = ["'mean'", "'sum'", "'none'"]


class Gen:
    """Grows a program step by step, running each line on torch to learn shapes/dtypes."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.lines = ["F = m.nn.functional"]
        self.env = {"m": torch, "inf": math.inf, "nan": math.nan}
        exec(self.lines[0], self.env)
        self.outs = []        # names of float results (candidates for activations and the loss)
        self.leaves = []      # expressions whose .grad is compared
        self.n = 0
        self.dtype = self.rng.choice(FLOATS)

    # ---- lines
    def emit(self, expr, keep_error=0.3, result=True):
        """Runs `vN = expr` on torch; keeps it if it runs (or, now and then, if it raises)."""
        name = f"v{self.n}"
        line = f"{name} = {expr}"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(line, self.env)
        except Exception:
            if self.rng.random() < keep_error:
                self.lines.append(line)
                self.n += 1
            return None
        v = self.env[name]
        if isinstance(v, torch.Tensor) and (v.numel() > 400 or v.dim() > 5):
            self.env.pop(name, None)
            return None
        self.lines.append(line)
        self.n += 1
        if result and isinstance(v, torch.Tensor) and v.is_floating_point() and v.numel():
            self.outs.append(name)
        return name

    def stmt(self, line):
        """A statement (module construction, parameter setting): must run on torch."""
        exec(line, self.env)
        self.lines.append(line)

    def vals(self, shape, lo=-2.0, hi=2.0, odd=False):
        n = int(np.prod(shape)) if shape else 1
        r = self.rng.random() if odd else 1.0
        if r < 0.1:    # ties (max pooling's argmax, piecewise ops at their kinks)
            ties = [lo, hi, 0.5 * (lo + hi), round(lo + 0.25 * (hi - lo), 3)]
            v = [self.rng.choice(ties) for _ in range(n)]
        else:
            v = [round(self.rng.uniform(lo, hi), 3) for _ in range(n)]
        if r < 0.13 and n:   # a non-finite value
            v[self.rng.randrange(n)] = self.rng.choice([math.inf, -math.inf, math.nan])
        arr = repr(np.array(v).reshape(shape).tolist()) if shape else repr(v[0])
        return arr

    def leaf(self, shape, lo=-2.0, hi=2.0, grad=True, dtype=None, odd=True):
        name = f"x{self.n}"
        self.n += 1
        dt = dtype or (self.dtype if self.rng.random() > 0.03 else
                       {"float32": "float64", "float64": "float32"}[self.dtype])
        rg = ".requires_grad_()" if grad else ""
        if len(shape) >= 2 and self.rng.random() < 0.1:   # a non-contiguous leaf
            tshape = list(shape[:-2]) + [shape[-1], shape[-2]]
            self.stmt(f"{name} = m.tensor({self.vals(tshape, lo, hi, odd)}, dtype=m.{dt})"
                      f".transpose(-1, -2){rg}")
        else:
            self.stmt(f"{name} = m.tensor({self.vals(shape, lo, hi, odd)}, dtype=m.{dt}){rg}")
        if grad:
            self.leaves.append(name)
        return name

    def reuse(self, dims, channels=None):
        """Now and then an earlier result of `dims` dims (chains steps) instead of a leaf."""
        cands = [n for n in self.outs if self.env[n].dim() in dims and self.env[n].requires_grad
                 and (channels is None or self.env[n].shape[1] == channels)]
        return self.rng.choice(cands) if cands and self.rng.random() < 0.35 else None

    def ints(self, shape, lo, hi):
        n = int(np.prod(shape)) if shape else 1
        v = [self.rng.randint(lo, hi) for _ in range(n)]
        return repr(np.array(v).reshape(shape).tolist()) if shape else repr(v[0])

    def idx(self, shape, lo, hi):
        name = f"t{self.n}"
        self.n += 1
        self.stmt(f"{name} = m.tensor({self.ints(shape, lo, hi)}, dtype=m.int64)")
        return name

    def set_param(self, mod, attr, shape):
        """Gives a module parameter fixed values (modules initialise randomly) and grads."""
        self.stmt(f"with m.no_grad(): {mod}.{attr}.copy_(m.tensor({self.vals(shape, -1, 1)}))")
        self.leaves.append(f"{mod}.{attr}")

    def ch(self, *opts):
        return self.rng.choice(opts)

    # ---- steps
    def step(self):
        kind = self.ch(*(["conv"] * 3 + ["conv_t", "conv_module"] + ["pool"] * 3 +
                         ["adaptive", "interp", "interp", "pad", "norm", "norm", "norm_module",
                          "dropout"] + ["loss"] * 4 + ["act"] * 3 +
                         ["linear", "embedding", "misc", "misc", "distance", "fold", "grid",
                          "attention"]))
        getattr(self, "s_" + kind)()

    def _spatial(self, d, lo=1, hi=6):
        return [self.rng.randint(lo, hi) for _ in range(d)]

    def _tuple_or_int(self, vals):
        return repr(vals[0]) if len(set(vals)) == 1 and self.rng.random() < 0.5 else repr(tuple(vals))

    def s_conv(self):
        d = self.ch(1, 2, 2, 3)
        g = self.ch(1, 1, 2)
        cin, cout = g * self.ch(1, 2), g * self.ch(1, 2)
        sp = self._spatial(d, 1, 6 if d < 3 else 4)
        k = self._spatial(d, 1, 3)
        batched = self.rng.random() < 0.8
        x = self.reuse((d + 2,), cin) or self.leaf(([self.ch(1, 2)] if batched else []) + [cin] + sp)
        w = self.leaf([cout, cin // g] + k)
        b = self.leaf([cout]) if self.rng.random() < 0.6 else "None"
        opts = []
        r = self.rng.random()
        if r < 0.15:
            opts.append(f"padding={self.ch('same', 'valid')!r}")
        elif r < 0.6:
            opts.append(f"padding={self._tuple_or_int(self._spatial(d, 0, 2))}")
        if self.rng.random() < 0.5:
            opts.append(f"stride={self._tuple_or_int(self._spatial(d, 1, 3))}")
        if self.rng.random() < 0.4:
            opts.append(f"dilation={self._tuple_or_int(self._spatial(d, 1, 2))}")
        if g > 1 or self.rng.random() < 0.1:
            opts.append(f"groups={g}")
        self.emit(f"F.conv{d}d({x}, {w}, {b}{''.join(', ' + o for o in opts)})")

    def s_conv_t(self):
        d = self.ch(1, 2, 3)
        g = self.ch(1, 1, 2)
        cin, cout = g * self.ch(1, 2), g * self.ch(1, 2)
        sp = self._spatial(d, 1, 4)
        k = self._spatial(d, 1, 3)
        batched = self.rng.random() < 0.8
        x = self.leaf(([self.ch(1, 2)] if batched else []) + [cin] + sp)
        w = self.leaf([cin, cout // g] + k)
        b = self.leaf([cout]) if self.rng.random() < 0.6 else "None"
        stride = self._spatial(d, 1, 3)
        dil = self._spatial(d, 1, 2)
        opts = [f"stride={self._tuple_or_int(stride)}"]
        if self.rng.random() < 0.5:
            opts.append(f"padding={self._tuple_or_int(self._spatial(d, 0, 2))}")
        if self.rng.random() < 0.5:
            op = [self.rng.randint(0, max(s, dl) - 1 + (self.rng.random() < 0.1))
                  for s, dl in zip(stride, dil)]
            opts.append(f"output_padding={self._tuple_or_int(op)}")
        if self.rng.random() < 0.5:
            opts.append(f"dilation={self._tuple_or_int(dil)}")
        if g > 1:
            opts.append(f"groups={g}")
        self.emit(f"F.conv_transpose{d}d({x}, {w}, {b}, {', '.join(opts)})")

    def s_conv_module(self):
        d = self.ch(1, 2, 3)
        g = self.ch(1, 1, 2)
        cin, cout = g * self.ch(1, 2), g * self.ch(1, 2)
        sp = self._spatial(d, 2, 6 if d < 3 else 4)
        k = self._spatial(d, 1, 3)
        mode = self.ch("'zeros'", "'reflect'", "'replicate'", "'circular'")
        pad = self.ch("'same'", "'valid'", self._tuple_or_int(self._spatial(d, 0, 2)))
        stride = 1 if pad == "'same'" else self._tuple_or_int(self._spatial(d, 1, 2))
        dil = self._tuple_or_int(self._spatial(d, 1, 2))
        bias = self.rng.random() < 0.5
        c = f"c{self.n}"
        self.n += 1
        try:
            self.stmt(f"{c} = m.nn.Conv{d}d({cin}, {cout}, {tuple(k)!r}, stride={stride}, "
                      f"padding={pad}, dilation={dil}, groups={g}, bias={bias}, "
                      f"padding_mode={mode}, dtype=m.{self.dtype})")
        except Exception:
            return
        self.set_param(c, "weight", [cout, cin // g] + k)
        if bias:
            self.set_param(c, "bias", [cout])
        x = self.leaf(([self.ch(1, 2)] if self.rng.random() < 0.8 else []) + [cin] + sp)
        self.emit(f"{c}({x})")

    def s_pool(self):
        fam = self.ch("max", "max", "avg", "avg", "lp")
        d = self.ch(1, 2) if fam == "lp" else self.ch(1, 2, 2, 3)
        c = self.ch(1, 2)
        sp = self._spatial(d, 2, 7 if d < 3 else 4)
        batched = self.rng.random() < 0.7
        lo = 0.05 if fam == "lp" and self.rng.random() < 0.7 else -2.0
        x = self.reuse((d + 2,)) or self.leaf(([self.ch(1, 2)] if batched else []) + [c] + sp,
                                              lo=lo)
        k = self._spatial(d, 1, 3)
        opts = [self._tuple_or_int(k)]
        if self.rng.random() < 0.6:
            opts.append(f"stride={self._tuple_or_int(self._spatial(d, 1, 3))}")
        if fam != "lp" and self.rng.random() < 0.6:
            opts.append(f"padding={self._tuple_or_int([self.rng.randint(0, kk // 2 + (self.rng.random() < 0.1)) for kk in k])}")
        if self.rng.random() < 0.4:
            opts.append("ceil_mode=True")
        if fam == "max":
            if self.rng.random() < 0.3:
                # (no padding then: a dilated window can lie wholly in the padding, whose
                # index is out of range in both libraries; torch 2.13's backward then
                # writes outside the gradient, corrupting the heap)
                opts = [o for o in opts if not o.startswith("padding")]
                opts.append(f"dilation={self._tuple_or_int(self._spatial(d, 1, 2))}")
            ri = self.rng.random() < 0.4
            if ri:
                opts.append("return_indices=True")
            r = self.emit(f"F.max_pool{d}d({x}, {', '.join(opts)})", result=False)
            if r is not None and ri:
                self.emit(f"{r}[0]")
                self.emit(f"{r}[1]")
            elif r is not None:
                self.outs.append(r)
        elif fam == "avg":
            if self.rng.random() < 0.4:
                opts.append("count_include_pad=False")
            if d > 1 and self.rng.random() < 0.3:
                opts.append(f"divisor_override={self.ch(1, 2, 3, 0)}")
            self.emit(f"F.avg_pool{d}d({x}, {', '.join(opts)})")
        else:
            p = self.ch(1, 2, 3, 1.5)
            self.emit(f"F.lp_pool{d}d({x}, {p}, {', '.join(opts)})")

    def s_adaptive(self):
        fam = self.ch("avg", "max")
        d = self.ch(1, 2, 3)
        c = self.ch(1, 2)
        sp = self._spatial(d, 1, 7 if d < 3 else 4)
        batched = self.rng.random() < 0.7
        x = self.reuse((d + 1, d + 2)) or self.leaf(([self.ch(1, 2)] if batched else []) + [c] + sp)
        out = [self.rng.randint(1, 5) for _ in range(d)]
        if d > 1 and self.rng.random() < 0.3:
            out[self.rng.randrange(d)] = None
        osz = repr(out[0]) if d == 1 or (len(set(out)) == 1 and self.rng.random() < 0.5) \
            else repr(tuple(out))
        if fam == "max" and self.rng.random() < 0.4:
            r = self.emit(f"F.adaptive_max_pool{d}d({x}, {osz}, return_indices=True)",
                          result=False)
            if r is not None:
                self.emit(f"{r}[0]")
                self.emit(f"{r}[1]")
        else:
            self.emit(f"F.adaptive_{fam}_pool{d}d({x}, {osz})")

    def s_interp(self):
        mode = self.ch("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear",
                       "area")
        d = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}.get(mode) or self.ch(1, 2, 3)
        if self.rng.random() < 0.05:
            d = self.ch(1, 2, 3)   # a mode/dim mismatch: torch's error
        sp = self._spatial(d, 1, 5 if d < 3 else 3)
        x = self.reuse((d + 2,)) or self.leaf([self.ch(1, 2), self.ch(1, 2)] + sp)
        opts = [f"mode={mode!r}"]
        if self.rng.random() < 0.5:
            sz = [self.rng.randint(1, 7 if d < 3 else 4) for _ in range(d)]
            opts.append(f"size={self._tuple_or_int(sz)}")
        else:
            sf = [self.ch(0.5, 0.7, 1.0, 1.5, 2.0, 2.5, 3.0) for _ in range(d)]
            opts.append(f"scale_factor={self._tuple_or_int(sf)}")
            if self.rng.random() < 0.4:
                opts.append(f"recompute_scale_factor={self.ch(True, False)}")
        if mode in ("linear", "bilinear", "bicubic", "trilinear") and self.rng.random() < 0.6:
            opts.append(f"align_corners={self.ch(True, False)}")
        if mode in ("bilinear", "bicubic") and self.rng.random() < 0.3:
            opts.append("antialias=True")
        self.emit(f"F.interpolate({x}, {', '.join(opts)})")

    def s_pad(self):
        mode = self.ch("constant", "reflect", "replicate", "circular")
        nd = self.ch(1, 2, 3, 4, 5)
        shape = [self.rng.randint(1, 4) for _ in range(nd)]
        x = self.reuse((nd,)) or self.leaf(shape)
        shape = list(self.env[x].shape)
        npad = self.rng.randint(1, min(nd, 3))
        lo = -1 if mode == "constant" else 0
        pads = [self.rng.randint(lo, 3) for _ in range(2 * npad)]
        extra = f", value={self.ch(0.0, 1.5, -2.0)}" if mode == "constant" and \
            self.rng.random() < 0.5 else ""
        self.emit(f"F.pad({x}, {tuple(pads)!r}, mode={mode!r}{extra})")

    def s_norm(self):
        fam = self.ch("batch", "batch", "layer", "group", "instance", "rms", "lrn")
        c = self.ch(1, 2, 3, 4)
        nd = self.ch(0, 1, 2)
        shape = [self.ch(1, 2, 3), c] + self._spatial(nd, 1, 3)
        x = self.reuse((2 + nd,)) or self.leaf(shape)
        shape = list(self.env[x].shape)
        c = shape[1]
        eps = self.ch("", "", ", eps=0.1")
        wb = []
        if fam in ("batch", "group", "instance"):
            for name in ("weight", "bias"):
                if self.rng.random() < 0.6:
                    wb.append(f"{name}={self.leaf([c], -1, 1)}")
            if fam == "group" and len(wb) == 1 and wb[0].startswith("bias"):
                # torch's group_norm backward with a bias but no weight raises "tensor does
                # not have a device" (its bug): give it a weight
                wb.insert(0, f"weight={self.leaf([c], -1, 1)}")
        if fam == "batch":
            training = self.rng.random() < 0.6
            if not training or self.rng.random() < 0.7:
                rm = self.leaf([c], -0.5, 0.5, grad=False)
                rv = self.leaf([c], 0.5, 1.5, grad=False)
            else:
                rm = rv = "None"
            mom = f", momentum={self.ch(0.1, 0.5, 1.0, 0.0)}" if self.rng.random() < 0.5 else ""
            self.emit(f"F.batch_norm({x}, {rm}, {rv}{''.join(', ' + o for o in wb)}, "
                      f"training={training}{mom}{eps})")
            if rm != "None":
                self.emit(f"{rm}.clone()", result=False)
                self.emit(f"{rv}.clone()", result=False)
        elif fam == "layer":
            k = self.rng.randint(1, len(shape))
            ns = shape[-k:]
            if self.rng.random() < 0.05:
                ns = [s + 1 for s in ns]
            opts = ""
            if self.rng.random() < 0.6:
                opts += f", weight={self.leaf(ns, -1, 1)}"
            if self.rng.random() < 0.6:
                opts += f", bias={self.leaf(ns, -1, 1)}"
            self.emit(f"F.layer_norm({x}, {tuple(ns)!r}{opts}{eps})")
        elif fam == "rms":
            k = self.rng.randint(1, len(shape))
            ns = shape[-k:]
            w = f", weight={self.leaf(ns, -1, 1)}" if self.rng.random() < 0.6 else ""
            ep = f", eps={self.ch(None, 1e-6, 0.1)}" if self.rng.random() < 0.5 else ""
            self.emit(f"F.rms_norm({x}, {tuple(ns)!r}{w}{ep})")
        elif fam == "lrn":
            self.emit(f"F.local_response_norm({x}, {self.ch(1, 2, 3)}, alpha={self.ch(1e-4, 0.5)}, "
                      f"beta={self.ch(0.75, 1.5)}, k={self.ch(1.0, 2.0)})")
        elif fam == "group":
            gs = [g for g in (1, 2, 3, 4) if c % g == 0]
            g = self.ch(*gs) if self.rng.random() < 0.95 else 3
            self.emit(f"F.group_norm({x}, {g}{''.join(', ' + o for o in wb)}{eps})")
        else:
            stats = self.rng.random() < 0.4
            rs = ""
            if stats:
                rm = self.leaf([c], -0.5, 0.5, grad=False)
                rv = self.leaf([c], 0.5, 1.5, grad=False)
                rs = f", running_mean={rm}, running_var={rv}"
            uis = self.ch(True, True, False) if stats else True
            mom = f", momentum={self.ch(0.1, 0.5)}" if self.rng.random() < 0.3 else ""
            self.emit(f"F.instance_norm({x}{rs}{''.join(', ' + o for o in wb)}, "
                      f"use_input_stats={uis}{mom}{eps})")
            if stats:
                self.emit(f"{rm}.clone()", result=False)
                self.emit(f"{rv}.clone()", result=False)

    def s_norm_module(self):
        fam = self.ch("BatchNorm", "BatchNorm", "InstanceNorm")
        d = self.ch(1, 2, 3)
        c = self.ch(1, 2, 3)
        mom = self.ch("0.1", "0.5", "None")
        affine = self.ch(True, False)
        trs = self.ch(True, False) if fam == "BatchNorm" else self.ch(True, False, True)
        mod = f"n{self.n}"
        self.n += 1
        self.stmt(f"{mod} = m.nn.{fam}{d}d({c}, momentum={mom}, affine={affine}, "
                  f"track_running_stats={trs}, dtype=m.{self.dtype})")
        if affine:
            self.set_param(mod, "weight", [c])
            self.set_param(mod, "bias", [c])
        for i in range(self.rng.randint(1, 3)):
            if fam == "BatchNorm" and d == 1 and self.rng.random() < 0.4:
                shape = [self.ch(1, 2, 3), c]                      # (N, C)
            elif fam == "InstanceNorm" and self.rng.random() < 0.2:
                shape = [c] + self._spatial(d, 1, 3)               # unbatched
            else:
                shape = [self.ch(1, 2, 3), c] + self._spatial(d, 1, 3)
            if self.rng.random() < 0.3:
                self.stmt(f"{mod}.{self.ch('eval', 'train')}()")
            x = self.leaf(shape)
            self.emit(f"{mod}({x})")
        if trs:
            self.emit(f"{mod}.running_mean.clone()", result=False)
            self.emit(f"{mod}.running_var.clone()", result=False)
            self.emit(f"{mod}.num_batches_tracked.clone()", result=False)

    def s_dropout(self):
        fn = self.ch("dropout", "dropout", "dropout1d", "dropout2d", "dropout3d",
                     "alpha_dropout", "feature_alpha_dropout")
        nd = {"dropout1d": self.ch(2, 3), "dropout2d": self.ch(3, 4),
              "dropout3d": self.ch(4, 5)}.get(fn, self.ch(1, 2, 3, 4))
        x = self.leaf([self.rng.randint(1, 3) for _ in range(nd)])
        p = self.ch(0.0, 1.0, 0.0, 1.0, 0.3, 0.5, 1.5)
        training = self.ch(True, True, False)
        if p in (0.0, 1.0) or p > 1 or not training:
            self.emit(f"F.{fn}({x}, {p}, training={training})")
        else:   # seeded: tapegrad draws torch's CPU stream
            self.emit(f"(m.manual_seed({self.rng.randint(0, 99)}), F.{fn}({x}, {p}, "
                      f"training={training}))[1]")

    def s_loss(self):
        fam = self.ch("mse", "l1", "smooth_l1", "huber", "ce", "ce", "ce_prob", "nll", "bce",
                      "bce_logits", "kl", "cosine_emb", "margin_rank", "triplet", "poisson",
                      "gaussian", "ctc", "soft_margin", "multilabel_soft", "hinge_emb",
                      "multi_margin")
        red = self.ch(*REDUCTIONS)
        n = self.ch(1, 2, 3)
        if fam in ("mse", "l1", "smooth_l1", "huber", "soft_margin"):
            shape = [n] + self._spatial(self.ch(0, 1, 2), 1, 3)
            x = self.reuse((1, 2, 3, 4)) or self.leaf(shape)
            shape = list(self.env[x].shape)
            y = self.leaf(shape if self.rng.random() < 0.9 else shape[1:] or [2],
                          grad=self.rng.random() < 0.5)
            extra = {"smooth_l1": f", beta={self.ch(1.0, 0.5, 0.0, 2.0)}",
                     "huber": f", delta={self.ch(1.0, 0.7, 2.0)}"}.get(fam, "")
            if fam == "soft_margin":
                y = self.leaf(shape, grad=False)
                self.stmt(f"{y} = {y}.sign()")
            self.emit(f"F.{fam}_loss({x}, {y}{extra}, reduction={red})")
        elif fam in ("ce", "nll"):
            c = self.ch(2, 3, 4)
            sp = self._spatial(self.ch(0, 0, 1, 2), 1, 3)
            batched = self.rng.random() < 0.85
            x = self.leaf(([n] if batched else []) + [c] + sp)
            ign = self.rng.random() < 0.3
            t = self.idx(([n] if batched else []) + sp, -1 if ign else 0, c - 1)
            opts = [f"reduction={red}"]
            if self.rng.random() < 0.4:
                opts.append(f"weight={self.leaf([c], 0.1, 2.0, grad=False)}")
            if ign:
                opts.append("ignore_index=-1")
            if fam == "ce" and self.rng.random() < 0.4:
                opts.append(f"label_smoothing={self.ch(0.1, 0.3, 1.0)}")
            inp = x if fam == "ce" or self.rng.random() < 0.3 else f"F.log_softmax({x}, {1 if batched else 0})"
            self.emit(f"F.{'cross_entropy' if fam == 'ce' else 'nll_loss'}({inp}, {t}, "
                      f"{', '.join(opts)})")
        elif fam == "ce_prob":
            c = self.ch(2, 3, 4)
            sp = self._spatial(self.ch(0, 1), 1, 3)
            x = self.leaf([n, c] + sp)
            t = self.leaf([n, c] + sp, 0.0, 1.0, grad=self.rng.random() < 0.4)
            opts = [f"reduction={red}"]
            if self.rng.random() < 0.4:
                opts.append(f"weight={self.leaf([c], 0.1, 2.0, grad=False)}")
            if self.rng.random() < 0.4:
                opts.append(f"label_smoothing={self.ch(0.1, 0.3)}")
            self.emit(f"F.cross_entropy({x}, {t}.softmax(1), {', '.join(opts)})")
        elif fam in ("bce", "bce_logits"):
            shape = [n] + self._spatial(self.ch(0, 1, 2), 1, 3)
            x = self.leaf(shape, 0.02, 0.98) if fam == "bce" else self.leaf(shape, -3, 3)
            y = self.leaf(shape, 0.0, 1.0, grad=self.rng.random() < 0.4)
            opts = [f"reduction={red}"]
            if self.rng.random() < 0.4:
                opts.append(f"weight={self.leaf(shape[-1:], 0.1, 2.0, grad=self.rng.random() < 0.5)}")
            if fam == "bce_logits" and self.rng.random() < 0.5:
                opts.append(f"pos_weight={self.leaf(shape[-1:], 0.1, 3.0, grad=self.rng.random() < 0.5)}")
            name = "binary_cross_entropy" + ("_with_logits" if fam == "bce_logits" else "")
            self.emit(f"F.{name}({x}, {y}, {', '.join(opts)})")
        elif fam == "kl":
            shape = [n, self.ch(2, 3)]
            x = self.leaf(shape)
            y = self.leaf(shape, grad=self.rng.random() < 0.5)
            lt = self.ch(True, False)
            tgt = f"F.log_softmax({y}, 1)" if lt else f"F.softmax({y}, 1)"
            r = self.ch(*REDUCTIONS, "'batchmean'")
            self.emit(f"F.kl_div(F.log_softmax({x}, 1), {tgt}, reduction={r}, log_target={lt})")
        elif fam == "cosine_emb":
            x1, x2 = self.leaf([n, 3]), self.leaf([n, 3])
            y = self.idx([n], -1, 1)
            self.stmt(f"{y} = {y}.sign() + ({y} == 0).long()")
            self.emit(f"F.cosine_embedding_loss({x1}, {x2}, {y}, margin={self.ch(0.0, 0.3, -0.2)}, "
                      f"reduction={red})")
        elif fam == "hinge_emb":
            x = self.leaf([n, 3])
            y = self.idx([n, 3], -1, 1)
            self.stmt(f"{y} = {y}.sign() + ({y} == 0).long()")
            self.emit(f"F.hinge_embedding_loss({x}, {y}, margin={self.ch(1.0, 0.5)}, reduction={red})")
        elif fam == "margin_rank":
            x1, x2 = self.leaf([n]), self.leaf([n])
            y = self.idx([n], -1, 1)
            self.stmt(f"{y} = {y}.sign() + ({y} == 0).long()")
            self.emit(f"F.margin_ranking_loss({x1}, {x2}, {y}, margin={self.ch(0.0, 0.5)}, "
                      f"reduction={red})")
        elif fam == "triplet":
            a, p, q = self.leaf([n, 3]), self.leaf([n, 3]), self.leaf([n, 3])
            self.emit(f"F.triplet_margin_loss({a}, {p}, {q}, margin={self.ch(1.0, 0.5)}, "
                      f"p={self.ch(2, 1, 3)}, swap={self.ch(True, False)}, reduction={red})")
        elif fam == "poisson":
            li = self.ch(True, False)
            x = self.leaf([n, 3], -1, 1) if li else self.leaf([n, 3], 0.1, 2)
            y = self.leaf([n, 3], 0, 3, grad=self.rng.random() < 0.4)
            self.emit(f"F.poisson_nll_loss({x}, {y}, log_input={li}, full={self.ch(True, False)}, "
                      f"reduction={red})")
        elif fam == "gaussian":
            shape = [n, 3]
            x, y = self.leaf(shape), self.leaf(shape, grad=self.rng.random() < 0.4)
            vs = self.ch(shape, [n, 1], [n], [3])
            v = self.leaf(vs, 0.1, 2.0)
            self.emit(f"F.gaussian_nll_loss({x}, {y}, {v}, full={self.ch(True, False)}, "
                      f"eps={self.ch(1e-6, 0.5)}, reduction={red})")
        elif fam == "soft_margin":
            pass
        elif fam == "multilabel_soft":
            x = self.leaf([n, 3])
            y = self.idx([n, 3], 0, 1)
            self.emit(f"F.multilabel_soft_margin_loss({x}, {y}, reduction={red})")
        elif fam == "multi_margin":
            c = self.ch(2, 3)
            x = self.leaf([n, c])
            t = self.idx([n], 0, c - 1)
            self.emit(f"F.multi_margin_loss({x}, {t}, p={self.ch(1, 2)}, margin={self.ch(1.0, 0.5)}, "
                      f"reduction={red})")
        elif fam == "ctc":
            T, C, S = self.ch(3, 4, 5), self.ch(2, 3, 4), self.ch(1, 2)
            x = self.leaf([T, n, C])
            tg = self.idx([n, S], 1, C - 1)
            il = self.idx([n], max(1, T - 1), T)
            tl = self.idx([n], 0, S)
            self.emit(f"F.ctc_loss(F.log_softmax({x}, 2), {tg}, {il}, {tl}, blank=0, "
                      f"reduction={red}, zero_infinity={self.ch(True, False)})")

    ACTS = ["relu", "relu6", "elu", "selu", "celu", "gelu", "gelu_tanh", "softplus", "hardtanh",
            "leaky_relu", "prelu", "glu", "mish", "silu", "hardswish", "hardsigmoid",
            "logsigmoid", "softsign", "tanhshrink", "softshrink", "hardshrink", "threshold",
            "rrelu", "softmax", "log_softmax", "softmin", "sigmoid", "tanh", "softmax_dtype",
            "log_softmax_dtype"]
    INPLACE = ["relu", "relu6", "elu", "selu", "celu", "hardtanh", "leaky_relu", "silu",
               "mish", "hardswish", "hardsigmoid", "threshold", "rrelu"]

    def s_act(self):
        if self.outs and self.rng.random() < 0.5:
            x = self.rng.choice(self.outs)
        else:
            x = self.leaf([self.rng.randint(1, 3) for _ in range(self.ch(1, 2, 3))], -3, 3)
        xv = self.env[x]
        a = self.ch(*self.ACTS)
        dim = self.rng.randint(-xv.dim(), xv.dim() - 1) if xv.dim() else 0
        if self.rng.random() < 0.2 and a in self.INPLACE:
            # in place on a fresh non-leaf (torch's in-place forms and their backward)
            y = self.emit(f"{x} * 1.5", result=False)
            if y is None:
                return
            args = {"elu": ", alpha=0.5", "celu": ", alpha=2.0", "hardtanh": ", -0.5, 0.75",
                    "leaky_relu": ", 0.2", "threshold": ", 0.1, -1.0",
                    "rrelu": ", training=False"}.get(a, "")
            self.emit(f"F.{a}({y}{args}, inplace=True)")
            self.emit(f"{y}.clone()")
            return
        e = {
            "elu": f"F.elu({x}, alpha={self.ch(1.0, 0.5, 2.0)})",
            "celu": f"F.celu({x}, alpha={self.ch(1.0, 0.5, 2.0)})",
            "gelu": f"F.gelu({x})",
            "gelu_tanh": f"F.gelu({x}, approximate='tanh')",
            "softplus": f"F.softplus({x}, beta={self.ch(1.0, 2.0, 0.5)}, "
                        f"threshold={self.ch(20.0, 1.0, 0.5)})",
            "hardtanh": f"F.hardtanh({x}, {self.ch(-1.0, -0.5)}, {self.ch(1.0, 0.75)})",
            "leaky_relu": f"F.leaky_relu({x}, {self.ch(0.01, 0.2, -0.5, 1.5)})",
            "glu": f"F.glu({x}, {dim})",
            "softshrink": f"F.softshrink({x}, {self.ch(0.5, 1.0)})",
            "hardshrink": f"F.hardshrink({x}, {self.ch(0.5, 1.0)})",
            "threshold": f"F.threshold({x}, {self.ch(0.1, -0.5)}, {self.ch(20.0, 0.0, -1.0)})",
            "rrelu": f"F.rrelu({x}, {self.ch(0.125, 0.1)}, {self.ch(0.3333, 0.5)}, training=False)",
            "softmax": f"F.softmax({x}, {dim})",
            "log_softmax": f"F.log_softmax({x}, {dim})",
            "softmin": f"F.softmin({x}, {dim})",
            "softmax_dtype": f"F.softmax({x}, {dim}, dtype=m.{self.ch('float64', 'float32')})",
            "log_softmax_dtype": f"F.log_softmax({x}, {dim}, "
                                 f"dtype=m.{self.ch('float64', 'float32')})",
        }.get(a)
        if a == "prelu":
            c = xv.shape[1] if xv.dim() >= 2 and self.rng.random() < 0.6 else 1
            e = f"F.prelu({x}, {self.leaf([c], -0.5, 0.5)})"
        self.emit(e or f"F.{a}({x})")

    def s_linear(self):
        if self.rng.random() < 0.65:
            lead = [self.ch(1, 2, 3) for _ in range(self.ch(0, 1, 2))]
            i, o = self.ch(1, 2, 3), self.ch(1, 2, 3)
            x = self.leaf(lead + [i])
            w = self.leaf([o, i] if self.rng.random() < 0.9 else [i])
            b = self.leaf([o]) if self.rng.random() < 0.6 else "None"
            self.emit(f"F.linear({x}, {w}, {b})")
        else:
            n, i1, i2, o = self.ch(1, 2), self.ch(1, 2, 3), self.ch(1, 2), self.ch(1, 2)
            x1, x2 = self.leaf([n, i1]), self.leaf([n, i2])
            w = self.leaf([o, i1, i2])
            b = self.leaf([o]) if self.rng.random() < 0.6 else "None"
            self.emit(f"F.bilinear({x1}, {x2}, {w}, {b})")

    def s_embedding(self):
        num, dim = self.ch(3, 4, 5), self.ch(1, 2, 3)
        w = self.leaf([num, dim])
        ishape = [self.ch(1, 2, 3) for _ in range(self.ch(1, 2))]
        t = self.idx(ishape, 0, num - 1 + (self.rng.random() < 0.05))
        opts = ""
        if self.rng.random() < 0.4:
            opts += f", padding_idx={self.rng.randint(-num, num - 1)}"
        mn = self.rng.random() < 0.4
        if mn:
            opts += f", max_norm={self.ch(0.5, 1.0, 1.5)}, norm_type={self.ch(2.0, 1.0, 3.0)}"
        if self.rng.random() < 0.2:
            opts += ", scale_grad_by_freq=True"
        self.emit(f"F.embedding({t}, {w}{opts})")
        if mn:
            self.emit(f"{w}.detach().clone()", result=False)

    def s_misc(self):
        fam = self.ch("one_hot", "normalize", "pixel_shuffle", "pixel_unshuffle", "cos_sim",
                      "normalize", "channel_shuffle", "embedding_bag", "unpool",
                      "multilabel_margin")
        if fam == "channel_shuffle":
            g = self.ch(1, 2, 3)
            x = self.leaf([self.ch(1, 2), g * self.ch(1, 2)] + self._spatial(self.ch(0, 1, 2), 1, 3))
            self.emit(f"F.channel_shuffle({x}, {g})")
            return
        if fam == "embedding_bag":
            num, dim = self.ch(3, 4), self.ch(1, 2, 3)
            w = self.leaf([num, dim])
            mode = self.ch("sum", "mean", "max")
            if self.rng.random() < 0.5:
                t = self.idx([self.ch(1, 2), self.ch(1, 2, 3)], 0, num - 1)
                off = ""
            else:
                t = self.idx([self.ch(2, 3, 4, 5)], 0, num - 1)
                offs = self.ch([0], [0, 1], [0, 2], [0, 0, 1])
                last = len(offs) > 1 and self.rng.random() < 0.3
                if last:
                    # (not with one offset: torch 2.13 crashes, a segmentation fault; the last
                    # one the number of indices, as torch's docs ask: else its kernels differ
                    # by mode on where the last bag ends, its gradient reads unset memory)
                    offs = offs[:-1] + [len(self.env[t])]
                off = f", offsets=m.tensor({offs})" + (", include_last_offset=True" if last else "")
            psw = ""
            if mode == "sum" and self.rng.random() < 0.4:
                psw = f", per_sample_weights={self.leaf(list(self.env[t].shape), 0, 2)}"
            pi = f", padding_idx={self.rng.randint(0, num - 1)}" if self.rng.random() < 0.3 else ""
            self.emit(f"F.embedding_bag({t}, {w}{off}, mode={mode!r}{psw}{pi})")
            return
        if fam == "unpool":
            d = self.ch(1, 2)
            x = self.leaf([self.ch(1, 2), self.ch(1, 2)] + self._spatial(d, 2, 5))
            k = self.ch(2, 3)
            r = self.emit(f"F.max_pool{d}d({x}, {k}, return_indices=True)", result=False)
            if r is not None:
                osz = ""
                if self.rng.random() < 0.4:
                    osz = f", output_size={list(self.env[x].shape[-d:])!r}"
                self.emit(f"F.max_unpool{d}d({r}[0], {r}[1], {k}{osz})")
            return
        if fam == "multilabel_margin":
            n, c = self.ch(1, 2, 3), self.ch(2, 3, 4)
            x = self.leaf([n, c])
            t = self.idx([n, c], -1, c - 1)
            self.emit(f"F.multilabel_margin_loss({x}, {t}, reduction={self.ch(*REDUCTIONS)})")
            return
        if fam == "one_hot":
            t = self.idx([self.ch(1, 2, 3) for _ in range(self.ch(0, 1, 2))], 0, 3)
            nc = self.ch(-1, 4, 5, 3)
            self.emit(f"F.one_hot({t}, {nc})", result=False)
        elif fam == "normalize":
            shape = [self.ch(1, 2, 3) for _ in range(self.ch(1, 2, 3))]
            x = self.leaf(shape)
            if self.rng.random() < 0.2:
                self.stmt(f"{x}.data[0] = 0.0")
            self.emit(f"F.normalize({x}, p={self.ch(2.0, 1.0, 3.0, 'inf')}, "
                      f"dim={self.rng.randint(-len(shape), len(shape) - 1)}, eps={self.ch(1e-12, 0.5)})")
        elif fam == "pixel_shuffle":
            r = self.ch(1, 2)
            x = self.leaf([self.ch(1, 2), r * r * self.ch(1, 2), self.ch(1, 2), self.ch(1, 2)])
            self.emit(f"F.pixel_shuffle({x}, {r})")
        elif fam == "pixel_unshuffle":
            r = self.ch(1, 2)
            x = self.leaf([self.ch(1, 2), self.ch(1, 2), r * self.ch(1, 2), r * self.ch(1, 2)])
            self.emit(f"F.pixel_unshuffle({x}, {r})")
        else:
            shape = [self.ch(1, 2, 3), self.ch(1, 2, 3)]
            x1 = self.leaf(shape)
            x2 = self.leaf(shape if self.rng.random() < 0.8 else shape[-1:])
            self.emit(f"F.cosine_similarity({x1}, {x2}, dim={self.ch(-1, 0, 1)}, "
                      f"eps={self.ch(1e-8, 0.5)})")

    def s_distance(self):
        if self.rng.random() < 0.5:
            n, d = self.ch(1, 2, 3), self.ch(1, 2, 3)
            x1 = self.leaf([n, d])
            x2 = self.leaf([n, d] if self.rng.random() < 0.8 else [d])
            self.emit(f"F.pairwise_distance({x1}, {x2}, p={self.ch(2.0, 1.0, 3.0, 0.5)}, "
                      f"eps={self.ch(1e-6, 0.1)}, keepdim={self.ch(True, False)})")
        else:
            x = self.leaf([self.ch(1, 2, 3, 4), self.ch(1, 2, 3)])
            self.emit(f"F.pdist({x}, p={self.ch(2.0, 1.0, 3.0, 0.5)})")

    def s_fold(self):
        c = self.ch(1, 2)
        k = self._spatial(2, 1, 3)
        dil = self._spatial(2, 1, 2)
        pad = self._spatial(2, 0, 1)
        st = self._spatial(2, 1, 2)
        opts = f"dilation={tuple(dil)!r}, padding={tuple(pad)!r}, stride={tuple(st)!r}"
        if self.rng.random() < 0.5:
            x = self.leaf([self.ch(1, 2), c] + self._spatial(2, 2, 5))
            self.emit(f"F.unfold({x}, {tuple(k)!r}, {opts})")
        else:
            out = self._spatial(2, 2, 5)
            L = 1
            for o, kk, dd, pp, ss in zip(out, k, dil, pad, st):
                L *= max((o + 2 * pp - dd * (kk - 1) - 1) // ss + 1, 0)
            if self.rng.random() < 0.05:
                L += 1
            x = self.leaf([self.ch(1, 2), c * k[0] * k[1], L])
            self.emit(f"F.fold({x}, {tuple(out)!r}, {tuple(k)!r}, {opts})")

    def s_grid(self):
        n = self.ch(1, 2)
        ac = self.ch(True, False)
        if self.rng.random() < 0.8:
            hw = self._spatial(2, 1, 4)
            # (grids hold no nan/inf: torch 2.13's grid_sample backward with a nan
            # coordinate and padding_mode='reflection' crashes, a segmentation fault)
            th = self.leaf([n, 2, 3], -1, 1, odd=False)
            g = self.emit(f"F.affine_grid({th}, {[n, 1] + hw!r}, align_corners={ac})")
            if g is None or self.rng.random() < 0.3:
                return
        else:
            g = self.leaf([n] + self._spatial(2, 1, 3) + [2], -1.2, 1.2, odd=False)
        x = self.leaf([n, self.ch(1, 2)] + self._spatial(2, 1, 4))
        mode = self.ch("bilinear", "nearest", "bicubic")
        pm = self.ch("zeros", "border", "reflection")
        self.emit(f"F.grid_sample({x}, {g}, mode={mode!r}, padding_mode={pm!r}, "
                  f"align_corners={ac})")

    def s_attention(self):
        lead = [self.ch(1, 2) for _ in range(self.ch(1, 2))]
        L, S, E, Ev = self.ch(1, 2, 3), self.ch(1, 2, 3), self.ch(1, 2, 4), self.ch(1, 2, 3)
        q, k, v = self.leaf(lead + [L, E]), self.leaf(lead + [S, E]), self.leaf(lead + [S, Ev])
        opts = []
        r = self.rng.random()
        if r < 0.3:
            mt = self.idx([L, S], 0, 1)
            opts.append(f"attn_mask={mt}.bool()")
        elif r < 0.5:
            opts.append(f"attn_mask={self.leaf([L, S], -1, 1)}")
        elif r < 0.7:
            opts.append("is_causal=True")
        if self.rng.random() < 0.3:
            opts.append(f"scale={self.ch(0.5, 2.0)}")
        opts.append("dropout_p=0.0")
        self.emit(f"F.scaled_dot_product_attention({q}, {k}, {v}, {', '.join(opts)})")


def make_program(seed):
    g = Gen(seed)
    for _ in range(g.rng.randint(2, 5)):
        g.step()
    outs = [n for n in g.outs if g.env[n].requires_grad]
    terms = " + ".join(f"{n}.sin().sum()" for n in outs) or "0"
    g.lines.append(f"loss = {terms}")
    g.lines.append("loss.backward() if isinstance(loss, m.Tensor) else None")
    return g.lines, g.leaves


def run(lines, mod):
    """Executes the program line by line; returns each line's outcome and the final env."""
    env = {"m": mod, "inf": math.inf, "nan": math.nan}
    outcomes = []
    for line in lines:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # warnings are test_differential's concern
                exec(line, env)
        except Exception as e:  # noqa: BLE001 - any exception is an outcome to compare
            outcomes.append(("raise", type(e).__name__, _msg(e)))
            continue
        name = line.split(" = ")[0] if re.match(r"v\d+ = ", line) else None
        outcomes.append(("ok", env.get(name)) if name else ("ok", None))
    return outcomes, env


def _msg(e):
    return re.sub(r" at 0x[0-9a-fA-F]+", "", str(e).replace("torch.", "tapegrad."))


def _tol(lowp):
    return (2e-4, 2e-5) if lowp else (1e-8, 1e-10)


def _same_tensor(a, b, what, lowp):
    """Returns a description of the first difference between tensors a (tapegrad), b (torch)."""
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            d = _same_tensor(x, y, f"{what}[{i}]", lowp)
            if d:
                return d
        return None
    if a is None or b is None:
        return None if a is None and b is None else f"{what}: {a!r} vs {b!r}"
    if not isinstance(a, tapegrad.Tensor) or not isinstance(b, torch.Tensor):
        return None if type(a).__name__ == type(b).__name__ else f"{what}: type {a!r} vs {b!r}"
    da, db = str(a.dtype).split(".")[-1], str(b.dtype).split(".")[-1]
    if da != db:
        return f"{what}: dtype {da} vs {db}"
    if tuple(a.shape) != tuple(b.shape):
        return f"{what}: shape {tuple(a.shape)} vs {tuple(b.shape)}"
    x = np.asarray(a.detach().tolist(), dtype=np.float64)
    y = np.asarray(b.detach().tolist(), dtype=np.float64)
    if not np.array_equal(np.isnan(x), np.isnan(y)):
        return f"{what}: nan positions {x} vs {y}"
    if not np.array_equal(np.isposinf(x), np.isposinf(y)) or \
            not np.array_equal(np.isneginf(x), np.isneginf(y)):
        return f"{what}: inf positions {x} vs {y}"
    fin = np.isfinite(y)
    rtol, atol = _tol(lowp or da == "float32")
    scale = max(1.0, float(np.abs(y[fin]).max())) if fin.any() else 1.0
    if not np.allclose(x[fin], y[fin], rtol=rtol, atol=atol * scale):
        return f"{what}: values {x} vs {y}"
    return None


def _as_close_as_torch(a, b, exact):
    """A float32 difference is tapegrad's only if tapegrad is further than torch from the
    float64 result: normalisations divide float32 round-off by a small deviation (a group of
    one element, eps 1e-5), which amplifies torch's own error, not tapegrad's."""
    if not (isinstance(a, tapegrad.Tensor) and isinstance(b, torch.Tensor) and
            isinstance(exact, torch.Tensor) and tuple(a.shape) == tuple(exact.shape)):
        return False
    x, y, z = (np.asarray(t.detach().tolist(), dtype=np.float64) for t in (a, b, exact))
    fin = np.isfinite(z) & np.isfinite(x)
    scale = max(1.0, float(np.abs(z[fin]).max())) if fin.any() else 1.0
    return bool(np.all(np.abs(x - z)[fin] <= 2 * np.abs(y - z)[fin] + 2e-5 * scale))


def compare(seed):
    """Returns (program, list of differences) for one seed."""
    lines, leaves = make_program(seed)
    ours, env_a = run(lines, tapegrad)
    theirs, env_b = run(lines, torch)
    lowp = any("float32" in line for line in lines)
    exact = []    # torch's float64 run of a float32 program, made when first needed

    def oracle64():
        if not exact:
            exact.append(run([line.replace("float32", "float64") for line in lines], torch))
        return exact[0]

    diffs = []
    for i, (line, a, b) in enumerate(zip(lines, ours, theirs)):
        if a[0] != b[0] or (a[0] == "raise" and a[1:] != b[1:]):
            diffs.append(f"{line}\n    tapegrad {a[:3] if a[0] == 'raise' else 'ok'}"
                         f" / torch {b[:3] if b[0] == 'raise' else 'ok'}")
            break  # later lines depend on this one
        if a[0] == "ok":
            d = _same_tensor(a[1], b[1], line, lowp)
            if d and lowp and "values" in d and oracle64()[0][i][0] == "ok" and \
                    _as_close_as_torch(a[1], b[1], oracle64()[0][i][1]):
                d = None
            if d:
                diffs.append(d)
                break
    else:
        for leaf in leaves:
            ga, gb = (eval(f"{leaf}.grad", env) for env in (env_a, env_b))
            d = _same_tensor(ga, gb, f"{leaf}.grad", lowp)
            if d and lowp and "values" in d and \
                    _as_close_as_torch(ga, gb, eval(f"{leaf}.grad", oracle64()[1])):
                d = None
            if d:
                diffs.append(d)
    return lines, diffs


# Seeds excluded for a known, not yet fixed difference (see each comment); the survey of seeds
# 0-999 (python tests/test_fuzz_nn.py 0 1000) counts each cause in its comment.
KNOWN = {
    # torch's norm kernels compute x * (w * invstd) + (b - mean * w * invstd): an infinite
    # weight gives inf - inf = nan where tapegrad's (x - mean) * invstd * w + b is +-inf
    # (batch_norm(x, rm, rv, weight=[0, inf, 1, -1], training=False)); 0-999: 3 seeds
    42: "norm_inf_weight", 208: "norm_inf_weight", 255: "norm_inf_weight",
    # torch's float32 gelu(+inf) is nan (its vectorized erf), tapegrad's inf; 0-999: 1 seed
    46: "gelu_f32_inf",
    # torch's BatchNorm module adds 1 to num_batches_tracked before F.batch_norm raises (a
    # batch of one value per channel in training, a weight of another dtype): tapegrad's
    # failing call changes nothing; 0-999: 3 seeds
    64: "bn_failed_call_counts", 591: "bn_failed_call_counts",
    # torch's batch_norm kernel updates the running statistics, then raises on a bias of
    # another dtype ("expected scalar type Float but found Double"); 0-999: 1 seed
    168: "bn_failed_call_updates_stats",
    # float32 conv through oneDNN skips the padded taps: a nan/inf weight gives no nan at
    # outputs whose window holds padding, tapegrad's 0 * nan does; 0-999: 2 seeds
    149: "onednn_padding_skips_nan_weight",
    # (antialias_zero_weight_times_inf, 205 and 7 later seeds: fixed, the forward sums each
    # position's used terms alone: tapegrad/nn/_resample.py's NOTE)
    # torch bug: antialiased bilinear/bicubic to an output width of 1 with the height resized
    # repeats the first output row (x (1, 1, 4, 4) -> size=(5, 1)); 0-999: 1 seed
    269: "torch_antialias_width_1",
    # torch's eval-mode batch_norm backward reads the running statistics at backward time, after
    # a later training-mode call of the same module updated them in place (its buffers are
    # not version-counted); tapegrad's uses them as they were at the call; 0-999: 3 seeds
    357: "bn_eval_backward_reads_updated_stats",
    # torch's grid_sample backward spreads an inf/nan of the image over its batch item's grid
    # gradient (0 * nan in its vectorized corner weights); tapegrad's only to the samples
    # that read it; 0-999: 3 seeds
    371: "grid_sample_nonfinite_image", 414: "grid_sample_nonfinite_image",
    # torch's gradient of relu6/hardtanh/elu/hardswish/shrinks at nan depends on the element's
    # position: its SIMD body gives 0 (or nan), its scalar tail passes g; tapegrad's is the
    # body's everywhere; 0-999: 1 seed
    410: "simd_tail_grad_at_nan",
    # huber_loss of a float64 input and a float32 target: both raise in backward ("Found
    # dtype Float but expected Double"), torch after accumulating other leaves' gradients,
    # tapegrad before any; 0-999: 1 seed
    598: "partial_backward_before_raise",
    # ---- seen in the survey of 10000-15999 (outside the tested ranges: listed for the
    # cause) ----
    # torch's CPU flash attention takes a query row's maximum score past a nan (a scalar
    # max), so a row whose scores are nan (a nan query, or a nan key it attends to first)
    # counts as fully masked: zeros; tapegrad's softmax gives nan; 3 seeds
    10385: "sdpa_flash_nan_scores", 11617: "sdpa_flash_nan_scores",
    13473: "sdpa_flash_nan_scores",
    # ---- seen in the survey of 16000-21999 (outside the tested ranges: listed for the
    # cause) ----
    # torch bug: nll_loss of a non-contiguous 4-d input raises in backward ("grad_input must
    # be contiguous": its nll_loss2d kernel makes grad_input in the input's strides, then
    # checks it is contiguous); tapegrad's backward runs; 1 seed
    18193: "torch_nll_loss2d_noncontiguous_input",
    # ---- seen in the survey of 22000-25999 (outside the tested ranges: listed for the
    # cause; of its 71 differing seeds 70 had the causes above: norm_inf_weight 19,
    # onednn_padding_skips_nan_weight 13, bn_failed_call_counts 10 (24351: with
    # momentum=None the extra count halves the next update), antialias_zero_weight_times_inf
    # 8, grid_sample_nonfinite_image 6, partial_backward_before_raise 6,
    # torch_antialias_width_1 5, simd_tail_grad_at_nan 1, bn_eval_backward_reads_updated_stats
    # 1, and 24447 below) ----
    # torch's antialiased backward reads the filter's window along a dim of unchanged size
    # too (weight 1 at the position, 0 beside it), which its forward skips, as tapegrad's
    # forward and backward do: a nan gradient reaches the neighbours in torch alone (x (1, 1,
    # 5, 1) -> size=(5, 3), bilinear: a nan at the output's row 0 makes x.grad's rows 0 and 1
    # nan, tapegrad's row 0); a gradient-only step of that window measured 1.7x the time of
    # such a call with grad (tapegrad/nn/_resample.py's NOTE)
    22154: "antialias_kept_dim_backward_window", 23257: "antialias_kept_dim_backward_window",
    28534: "antialias_kept_dim_backward_window", 29369: "antialias_kept_dim_backward_window",
    31232: "antialias_kept_dim_backward_window",
    # (the backward's face of onednn_padding_skips_nan_weight: conv_transpose of a nan input
    # whose taps all fall in the padding, torch's weight gradient 0, tapegrad's 0 * nan)
    23605: "onednn_padding_skips_nan_weight", 24106: "onednn_padding_skips_nan_weight",
    # float32 group_norm backward of groups of two nearly equal values: torch's float32 sums
    # cancel (-0.8776855 for the float64 -0.8774363, tapegrad's -0.8773956); 1 seed
    24447: "float32_cancellation",
    # ---- seen in the survey of 26000-29999: 51 seeds, each of a cause above (outside the
    # tested ranges: listed for the cause) ----
    # (norm_inf_weight in batch_norm, group_norm and instance_norm; onednn_padding_skips_nan_
    # weight also as a weight gradient: conv2d(padding='same') of a 1-row input holding -inf,
    # whose padded taps torch skips; simd_tail_grad_at_nan of relu6 and hardtanh)
    26815: "norm_inf_weight", 26896: "norm_inf_weight", 27086: "norm_inf_weight",
    27130: "norm_inf_weight", 27151: "norm_inf_weight", 27281: "norm_inf_weight",
    27642: "norm_inf_weight", 27833: "norm_inf_weight", 28252: "norm_inf_weight",
    28617: "norm_inf_weight", 28797: "norm_inf_weight", 28834: "norm_inf_weight",
    28873: "norm_inf_weight", 28954: "norm_inf_weight",
    26474: "torch_antialias_width_1", 26655: "torch_antialias_width_1",
    27850: "torch_antialias_width_1", 28812: "torch_antialias_width_1",
    29351: "torch_antialias_width_1", 29469: "torch_antialias_width_1",
    29715: "torch_antialias_width_1",
    27036: "onednn_padding_skips_nan_weight", 27222: "onednn_padding_skips_nan_weight",
    27318: "onednn_padding_skips_nan_weight", 27950: "onednn_padding_skips_nan_weight",
    28754: "onednn_padding_skips_nan_weight", 29417: "onednn_padding_skips_nan_weight",
    28424: "bn_eval_backward_reads_updated_stats", 28535: "bn_eval_backward_reads_updated_stats",
    28677: "bn_eval_backward_reads_updated_stats", 29091: "bn_eval_backward_reads_updated_stats",
    29922: "bn_eval_backward_reads_updated_stats",
    27263: "grid_sample_nonfinite_image", 27430: "grid_sample_nonfinite_image",
    28248: "grid_sample_nonfinite_image", 29745: "grid_sample_nonfinite_image",
    27578: "bn_failed_call_counts", 28361: "bn_failed_call_counts", 28895: "bn_failed_call_counts",
    26160: "simd_tail_grad_at_nan", 26978: "simd_tail_grad_at_nan", 27484: "simd_tail_grad_at_nan",
    26831: "partial_backward_before_raise", 28748: "torch_nll_loss2d_noncontiguous_input",
    # ---- seen in the survey of 30000-33999: 66 seeds, 64 of a cause above (outside the
    # tested ranges: listed for the cause): norm_inf_weight 19, bn_failed_call_counts 10
    # (33699: momentum=None, the extra count halves the next update of running_mean),
    # antialias_zero_weight_times_inf 2 (fixed since), antialias_kept_dim_backward_window 1
    # (31232), torch_antialias_width_1 6, onednn_padding_skips_nan_weight 6 (31047: conv_transpose3d's input gradient),
    # bn_eval_backward_reads_updated_stats 5, grid_sample_nonfinite_image 5,
    # partial_backward_before_raise 6, simd_tail_grad_at_nan 2 (hardtanh at nan),
    # sdpa_flash_nan_scores 2; and two below ----
    30263: "norm_inf_weight", 30268: "norm_inf_weight", 30636: "norm_inf_weight",
    30985: "norm_inf_weight", 31077: "norm_inf_weight", 31394: "norm_inf_weight",
    31404: "norm_inf_weight", 31635: "norm_inf_weight", 31686: "norm_inf_weight",
    31688: "norm_inf_weight", 31991: "norm_inf_weight", 32122: "norm_inf_weight",
    32251: "norm_inf_weight", 32667: "norm_inf_weight", 32921: "norm_inf_weight",
    32980: "norm_inf_weight", 33075: "norm_inf_weight", 33464: "norm_inf_weight",
    33581: "norm_inf_weight",
    30087: "bn_failed_call_counts", 30161: "bn_failed_call_counts", 31803: "bn_failed_call_counts",
    32172: "bn_failed_call_counts", 32298: "bn_failed_call_counts", 32471: "bn_failed_call_counts",
    32901: "bn_failed_call_counts", 33472: "bn_failed_call_counts", 33699: "bn_failed_call_counts",
    33907: "bn_failed_call_counts",
    30076: "torch_antialias_width_1", 32611: "torch_antialias_width_1",
    31540: "torch_antialias_width_1", 32388: "torch_antialias_width_1",
    33373: "torch_antialias_width_1", 33722: "torch_antialias_width_1",
    30164: "onednn_padding_skips_nan_weight", 30340: "onednn_padding_skips_nan_weight",
    31047: "onednn_padding_skips_nan_weight", 31147: "onednn_padding_skips_nan_weight",
    31914: "onednn_padding_skips_nan_weight", 33705: "onednn_padding_skips_nan_weight",
    31858: "bn_eval_backward_reads_updated_stats", 32012: "bn_eval_backward_reads_updated_stats",
    32313: "bn_eval_backward_reads_updated_stats", 33684: "bn_eval_backward_reads_updated_stats",
    33950: "bn_eval_backward_reads_updated_stats",
    30258: "grid_sample_nonfinite_image", 30303: "grid_sample_nonfinite_image",
    31438: "grid_sample_nonfinite_image", 32431: "grid_sample_nonfinite_image",
    32676: "grid_sample_nonfinite_image",
    30446: "partial_backward_before_raise", 30574: "partial_backward_before_raise",
    30910: "partial_backward_before_raise", 31554: "partial_backward_before_raise",
    32686: "partial_backward_before_raise", 32859: "partial_backward_before_raise",
    30073: "simd_tail_grad_at_nan", 31189: "simd_tail_grad_at_nan",
    31243: "sdpa_flash_nan_scores", 33068: "sdpa_flash_nan_scores",
    # torch's float32 conv2d backward through oneDNN (a batch of two or more; float64 and a
    # batch of one take another kernel) multiplies the zero gradient of positions past the
    # output by the weight: an input element no window covers gets 0 * inf = nan, tapegrad's
    # (no tap reaches it) 0.  x (2, 1, 4, 3) of ones, w (1, 1, 3, 2) zeros with w[0, 0, 0, 0]
    # = inf, stride=2: grad of x[0, 0, 0, 2] nan in torch, 0 in tapegrad
    31776: "onednn_uncovered_input_times_inf",
    # a float32 sum of nine equal terms (gaussian_nll_loss(reduction='sum')) in torch's
    # summation order: 64.39485 against tapegrad's 64.394844 (an ulp), which sin's gradient
    # cos(64.39) ~ 0.008 near its zero magnifies to 1e-3 relative
    32679: "float32_sum_order",
}

FAST_SEEDS = [s for s in range(60) if s not in KNOWN]
SLOW_SEEDS = [s for s in range(60, 600) if s not in KNOWN]


@pytest.mark.parametrize("seed", FAST_SEEDS)
def test_fuzz_nn(seed):
    check(compare, seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SLOW_SEEDS)
def test_fuzz_nn_soak(seed):
    check(compare, seed)


if __name__ == "__main__":  # python tests/test_fuzz_nn.py START STOP: print each failing seed
    survey(compare)


# ---- regressions the fuzzer found (each failed before its fix) ---------------------------------
@pytest.mark.parametrize("var", [[1.873, math.inf], [math.inf, math.inf], [1e-9, math.nan],
                                 [0.0, 2.0]])
@pytest.mark.parametrize("reduction", ["none", "sum"])
def test_gaussian_nll_loss_of_an_infinite_var(var, reduction):
    # seeds 10568, 11589, 15197, 15897: torch clamps var in place under no_grad, so an
    # infinite var stays inf; tapegrad's v + (clamped - v) was inf - inf = nan
    got = []
    for m in (tapegrad, torch):
        x = m.tensor([[-1.196, 0.958], [1.372, 0.643]], dtype=m.float64, requires_grad=True)
        t = m.tensor([[-1.0, -math.inf], [2.0, 0.0]], dtype=m.float64)
        v = m.tensor([[var[0]], [var[1]]], dtype=m.float64, requires_grad=True)
        loss = m.nn.functional.gaussian_nll_loss(x, t, v, full=True, reduction=reduction)
        loss.sum().backward()
        got.append(repr((loss.tolist(), x.grad.tolist(), v.grad.tolist(), v.tolist())))
    # (a zero gradient's sign is test_differential's known neg_zero_grad: -0.0 read as 0.0)
    assert got[0].replace("-0.0", "0.0") == got[1].replace("-0.0", "0.0")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_embedding_bag_max_keeps_a_nan_only_where_it_comes_first(dtype):
    # seed 18497: torch's max kernel takes a bag's first row, then a row only where it is
    # greater, so a nan after the first never wins; tapegrad's max over the bag gave nan
    got = []
    nan, inf = math.nan, math.inf
    for m in (tapegrad, torch):
        w = m.tensor([[-0.677, nan], [nan, 2.0], [1.942, -inf], [-inf, nan]],
                     dtype=getattr(m, dtype), requires_grad=True)
        i = m.tensor([[1, 1, 2], [0, 2, 1], [3, 1, 0], [2, 3, 3]])
        out = m.nn.functional.embedding_bag(i, w, mode="max")
        flat = m.nn.functional.embedding_bag(m.tensor([1, 0, 2, 3, 1]), w, m.tensor([0, 2]),
                                             mode="max")
        (out * m.tensor([[1.0, 2.0]], dtype=w.dtype)).sum().backward()
        flat.sum().backward()
        got.append(repr((out.tolist(), flat.tolist(), w.grad.tolist())))
    assert got[0] == got[1]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("loss", ["multi_margin_loss", "multilabel_margin_loss"])
def test_margin_loss_kernels_scale_every_gradient_by_grad_output(loss, reduction):
    # seeds 19826, 20994: torch's kernels fill a row's gradient for grad_output 1, then
    # multiply it by grad_output, so a nan or inf one gives nan also where no margin term
    # passes a gradient (an inf input made the loss inf, sin's gradient nan); tapegrad gave 0
    got = []
    nan, inf = math.nan, math.inf
    for m in (tapegrad, torch):
        x = m.tensor([[0.3, 2.0, -1.0], [1.0, 5.0, 0.2], [-inf, 0.5, 0.1]], requires_grad=True)
        t = m.tensor([1, 1, 0]) if loss == "multi_margin_loss" else \
            m.tensor([[1, -1, 0], [2, 0, -1], [1, 2, -1]])
        out = getattr(m.nn.functional, loss)(x, t, reduction=reduction)
        (out.sin().sum() if reduction != "none" else
         (out * m.tensor([1.0, nan, inf])).sum()).backward()
        got.append([np.array(out.tolist()), np.array(x.grad.tolist())])
    for a, b in zip(*got):   # (nan and inf where torch's; float32 rounding)
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
