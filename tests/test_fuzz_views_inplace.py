"""Differential fuzzer against torch for views, in-place ops and aliasing.

Each seed grows a small program (Python source over the module name `m`) from a seeded
`random.Random`: 1-3 leaves (float32/float64, some requiring grad), a few plain tensors, then
4-12 steps mixing views (slices, select, view/reshape, t/transpose/permute, unsqueeze/squeeze,
expand, narrow, diagonal, unbind/split/chunk pieces, detach, .data), out-of-place ops and
in-place ops on non-leaves or views (sometimes under no_grad), retain_grad, and finally a
scalar loss with backward / a retained double backward / autograd.grad(inputs=).

While a program is generated every line runs on torch (the oracle), so the generator knows
shapes and keeps only lines whose results exist; lines that raise without defining anything
(in-place errors, backward errors) are kept, since their errors are compared too.  The same
lines then run once with `m = tapegrad` and once with `m = torch`, each line in its own
try/except, and the outcomes are compared: per line the exception type and message (`torch.`
read as `tapegrad.`); at the end every tensor's values, requires_grad, type(grad_fn).__name__,
retained grads, the leaves' .grad and autograd.grad's results.  A failing seed prints its
program, ready to run after `import tapegrad as m` (or `import torch as m`).
"""
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from fuzz_seeds import check, survey  # noqa: E402
import tapegrad  # noqa: E402


# ---------------------------------------------------------------- generation

class _Gen:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.lines = []
        self.env = {"m": torch}
        self.names = []          # tensor variables defined so far, in order
        self.leaves = []         # leaves that require grad
        self.read_only = set()   # expand results: read only
        self.n = 0

    # run a candidate line on the oracle; keep it if it defines `new` (or defines nothing)
    def _try(self, line, new=None):
        env = dict(self.env)
        try:
            exec(line, env)
        except Exception:
            if new is not None:
                return False
            self.lines.append(line)
            return True
        if new is not None:
            v = env[new]
            if not isinstance(v, torch.Tensor) or v.numel() > 64 or v.dim() > 4:
                return False
            if v.is_floating_point() and not torch.isfinite(v.detach()).all():
                return False
            self.names.append(new)
        self.env = env
        self.lines.append(line)
        return True

    def fresh(self):
        self.n += 1
        return f"v{self.n}"

    def lit(self, shape, dtype):
        vals = np.round(np.array([self.rng.uniform(-1.5, 1.5) for _ in range(int(np.prod(shape)))]), 2)
        data = vals.reshape(shape).tolist()
        return f"m.tensor({data!r}, dtype=m.{dtype})"

    def t(self, name):
        return self.env[name]

    def pick(self, pred=lambda v: True, writable=False):
        cands = [n for n in self.names if _safe(pred, self.t(n))
                 and not (writable and n in self.read_only)]
        return self.rng.choice(cands) if cands else None

    def partner(self, shape, dtype):
        """A source expression of the given shape: an existing tensor or a fresh plain one."""
        same = [n for n in self.names if tuple(self.t(n).shape) == tuple(shape)]
        r = self.rng.random()
        if same and r < 0.6:
            return self.rng.choice(same)
        if r < 0.75:
            return repr(round(self.rng.uniform(-1, 1), 2))
        return self.lit(tuple(shape), dtype)

    # ---- setup
    def setup(self):
        rng = self.rng
        shapes = [(3,), (2, 3), (3, 3), (2, 2, 2), (4, 2), ()]
        for i in range(rng.randint(1, 3)):
            shape = rng.choice(shapes)
            dtype = rng.choice(["float32", "float64"])
            rg = rng.random() < 0.75
            name = f"x{i}"
            self._try(f"{name} = {self.lit(shape, dtype)}" + (".requires_grad_()" if rg else ""), name)
            if rg:
                self.leaves.append(name)
        for i in range(rng.randint(0, 2)):
            shape = rng.choice(shapes)
            name = f"c{i}"
            self._try(f"{name} = {self.lit(shape, rng.choice(['float32', 'float64']))}", name)

    # ---- steps
    def view_step(self):
        rng = self.rng
        src = self.pick()
        v = self.t(src)
        d = v.dim()
        new = self.fresh()
        opts = ["detach", "data", "view", "reshape", "unsqueeze"]
        if d >= 1:
            opts += ["slice", "select", "index", "narrow", "unbind", "split", "chunk", "expand", "squeeze"]
        if d >= 2:
            opts += ["t", "transpose", "permute", "diagonal", "slice2"]
        if d <= 2:
            opts.append("t")
        op = rng.choice(opts)
        dim = rng.randrange(d) if d else 0
        size = v.shape[dim] if d else 1
        if op == "detach":
            e = f"{src}.detach()"
        elif op == "data":
            e = f"{src}.data"
        elif op == "view":
            e = f"{src}.view(-1)" if rng.random() < 0.5 else f"{src}.view({tuple(v.shape)!r})"
        elif op == "reshape":
            e = rng.choice([f"{src}.reshape(-1)", f"{src}.reshape(1, -1)", f"{src}.t().reshape(-1)" if d <= 2 else f"{src}.reshape(-1, 2)"])
        elif op == "unsqueeze":
            e = f"{src}.unsqueeze({rng.randint(-d - 1, d)})"
        elif op == "squeeze":
            e = f"{src}.unsqueeze(0).squeeze(0)" if rng.random() < 0.5 else f"{src}.squeeze()"
        elif op == "slice":
            a = rng.randrange(size)
            b = rng.randint(a + 1, size)
            step = rng.choice([1, 1, 2])
            e = f"{src}[{a}:{b}:{step}]" if dim == 0 else f"{src}.narrow({dim}, {a}, {b - a})"
        elif op == "slice2":
            e = f"{src}[:, {rng.randrange(v.shape[1])}:]"
        elif op == "select":
            e = f"{src}.select({dim}, {rng.randrange(-size, size)})"
        elif op == "index":
            e = f"{src}[{rng.randrange(size)}]"
        elif op == "narrow":
            a = rng.randrange(size)
            e = f"{src}.narrow({dim}, {a}, {rng.randint(1, size - a)})"
        elif op == "unbind":
            e = f"{src}.unbind({dim})[{rng.randrange(size)}]"
        elif op == "split":
            k = rng.randint(1, max(1, size))
            e = f"{src}.split({k}, {dim})[{rng.randrange(-(-size // k))}]"
        elif op == "chunk":
            k = rng.randint(1, max(1, size))
            e = f"{src}.chunk({k}, {dim})[0]"
        elif op == "expand":
            e = f"{src}.unsqueeze(0).expand(2, *{src}.shape)"
        elif op == "t":
            e = f"{src}.t()"
        elif op == "transpose":
            e = f"{src}.transpose(0, {d - 1})"
        elif op == "permute":
            perm = list(range(d))
            rng.shuffle(perm)
            e = f"{src}.permute({', '.join(map(str, perm))})"
        elif op == "diagonal":
            e = f"{src}.diagonal()" if rng.random() < 0.5 else f"{src}.diagonal(0, {d - 2}, {d - 1})"
        if self._try(f"{new} = {e}", new) and op == "expand":
            self.read_only.add(new)

    def pure_step(self):
        rng = self.rng
        src = self.pick()
        v = self.t(src)
        new = self.fresh()
        op = rng.choice(["add", "mul", "sin", "exp", "sum", "matmul", "where", "clamp", "cat", "addsc"])
        d = v.dim()
        if op in ("add", "mul"):
            other = self.partner(v.shape, str(v.dtype).split(".")[1])
            e = f"{src} {'+' if op == 'add' else '*'} {other}"
        elif op == "addsc":
            e = f"{src} * {round(rng.uniform(-2, 2), 2)} + 0.5"
        elif op == "sin":
            e = f"{src}.sin()"
        elif op == "exp":
            e = f"({src} * 0.5).exp()"
        elif op == "sum":
            e = f"{src}.sum({rng.randrange(d)})" if d else f"{src}.sum()"
        elif op == "matmul":
            e = f"{src} @ {src}.t()" if d == 2 else (f"{src} @ {src}" if d == 1 else f"{src} * 2")
        elif op == "where":
            other = self.partner(v.shape, str(v.dtype).split(".")[1])
            e = f"m.where({src} > 0, {src}, {other})"
        elif op == "clamp":
            e = f"{src}.clamp({round(rng.uniform(-1, 0), 2)}, {round(rng.uniform(0, 1), 2)})"
        else:
            other = self.partner(v.shape, str(v.dtype).split(".")[1])
            if other[0] in "-0123456789":
                other = src
            e = f"m.cat([{src}, {other}], 0)" if d else f"m.stack([{src}, {other}])"
        self._try(f"{new} = {e}", new)

    def inplace_step(self):
        rng = self.rng
        # mostly non-leaves and views; sometimes a leaf (the error is compared)
        tgt = self.pick(lambda v: (not v.is_leaf) or not v.requires_grad or rng.random() < 0.1,
                        writable=rng.random() < 0.95)
        if tgt is None:
            return
        v = self.t(tgt)
        dt = str(v.dtype).split(".")[1]
        d = v.dim()
        op = rng.choice(["add_", "mul_", "copy_", "zero_", "clamp_", "setitem_t", "setitem_n",
                         "index_put_", "masked_fill_", "addcmul_", "sub_", "div_"])
        if op in ("add_", "mul_", "sub_"):
            line = f"{tgt}.{op}({self.partner(v.shape, dt)})"
        elif op == "div_":
            line = f"{tgt}.div_(2.0)"
        elif op == "copy_":
            p = self.partner(v.shape, dt)
            if p[0] in "-0123456789":
                p = f"m.full({tuple(v.shape)!r}, {p})"
            line = f"{tgt}.copy_({p})"
        elif op == "zero_":
            line = f"{tgt}.zero_()"
        elif op == "clamp_":
            line = f"{tgt}.clamp_(min={round(rng.uniform(-1, 0), 2)})"
        elif op in ("setitem_t", "setitem_n"):
            if d == 0:
                idx = "..."
                shape = ()
            else:
                i = rng.randrange(v.shape[0])
                idx, shape = str(i), tuple(v.shape[1:])
            val = self.partner(shape, dt) if op == "setitem_t" else repr(round(rng.uniform(-1, 1), 2))
            line = f"{tgt}[{idx}] = {val}"
        elif op == "index_put_":
            if d == 0:
                return
            i = rng.randrange(v.shape[0])
            val = self.partner(tuple(v.shape[1:]), dt)
            if val[0] in "-0123456789":
                val = f"m.tensor({val}, dtype=m.{dt})"
            line = f"{tgt}.index_put_((m.tensor([{i}]),), {val})"
        elif op == "masked_fill_":
            line = f"{tgt}.masked_fill_({tgt}.detach() > 0, {round(rng.uniform(-1, 1), 2)})"
        else:
            a = self.partner(v.shape, dt)
            b = self.partner(v.shape, dt)
            if a[0] in "-0123456789":
                a = tgt
            if b[0] in "-0123456789":
                b = tgt
            line = f"{tgt}.addcmul_({a}, {b}, value=0.5)"
        if rng.random() < 0.2:
            line = f"with m.no_grad(): {line}"
        self._try(line)

    def retain_step(self):
        src = self.pick(lambda v: v.requires_grad and not v.is_leaf)
        if src is not None:
            self._try(f"{src}.retain_grad()")

    def finish(self):
        rng = self.rng
        live = [n for n in self.names if self.t(n).requires_grad]
        if not live:
            return
        k = min(len(live), rng.randint(1, 3))
        terms = rng.sample(live[-4:] if rng.random() < 0.7 else live, min(k, len(live[-4:])))
        loss = " + ".join(f"({n} * {round(rng.uniform(0.5, 2), 2)}).sum()" for n in terms)
        self._try(f"loss = {loss}", "loss")
        if "loss" not in self.env:
            return
        r = rng.random()
        if r < 0.6 or not self.leaves:
            self._try("loss.backward()")
        elif r < 0.8:
            self._try("loss.backward(retain_graph=True)")
            self._try("loss.backward()")
        else:
            ins = rng.sample(self.leaves, rng.randint(1, len(self.leaves)))
            self._try(f"gs = m.autograd.grad(loss, [{', '.join(ins)}], allow_unused=True)")

    def build(self):
        self.setup()
        if not self.names:
            return self.lines
        for _ in range(self.rng.randint(4, 12)):
            r = self.rng.random()
            if r < 0.38:
                self.view_step()
            elif r < 0.63:
                self.pure_step()
            elif r < 0.93:
                self.inplace_step()
            else:
                self.retain_step()
        self.finish()
        return self.lines


def _safe(f, *args):
    """f(*args), or False where reading graph state raises (e.g. grad_fn of a view of a
    multi-output op whose base was modified in place)."""
    try:
        return f(*args)
    except RuntimeError:
        return False


def program(seed):
    return _Gen(seed).build()


# ---------------------------------------------------------------- running and comparing

def _run(mod, lines):
    env = {"m": mod}
    outcomes = []
    for line in lines:
        try:
            exec(line, env)
            outcomes.append(None)
        except Exception as e:  # noqa: BLE001 - the outcome is the exception
            outcomes.append((type(e).__name__, str(e).replace("torch.", "tapegrad.")))
    return env, outcomes


def _grad_fn_name(t):
    try:
        return type(t.grad_fn).__name__ if t.grad_fn is not None else None
    except RuntimeError as e:  # reading grad_fn may raise; then the error must match
        return ("RuntimeError", str(e))


def _np(t):
    return None if t is None else np.asarray(t.detach().numpy() if hasattr(t, "detach") else t, dtype=np.float64)


def _close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and np.allclose(a, b, rtol=1e-4, atol=1e-5, equal_nan=True)


def differences(seed, lines=None):
    """The list of differences between tapegrad and torch on seed's program (empty: agree)."""
    lines = program(seed) if lines is None else lines
    tenv, tout = _run(tapegrad, lines)
    oenv, oout = _run(torch, lines)
    diffs = []
    for line, a, b in zip(lines, tout, oout):
        if a != b:
            diffs.append(f"line {line!r}: tapegrad {a} torch {b}")
    if diffs:
        return lines, diffs
    # A backward that raised: torch has already accumulated some .grad (its engine runs
    # until the failing node), while tapegrad's backward is atomic (docs/design.md, "Failure
    # atomicity"), so gradients are compared only when no backward failed.
    grads = not any(o is not None and ("backward(" in line or "autograd.grad(" in line)
                    for line, o in zip(lines, oout))
    for name, ov in oenv.items():
        if name == "gs" and ov is not None:
            tv = tenv.get("gs")
            for i, (g1, g2) in enumerate(zip(tv, ov)):
                if not _close(_np(g1), _np(g2)):
                    diffs.append(f"gs[{i}]: tapegrad {_np(g1)} torch {_np(g2)}")
            continue
        if not isinstance(ov, torch.Tensor):
            continue
        tv = tenv[name]
        if tv.requires_grad != ov.requires_grad:
            diffs.append(f"{name}.requires_grad: tapegrad {tv.requires_grad} torch {ov.requires_grad}")
        tg, og = _grad_fn_name(tv), _grad_fn_name(ov)
        if tg != og:
            diffs.append(f"{name}.grad_fn: tapegrad {tg} torch {og}")
        if not _close(_np(tv), _np(ov)):
            diffs.append(f"{name} values: tapegrad {_np(tv)} torch {_np(ov)}")
        if grads and _safe(lambda t: t.is_leaf or t.retains_grad, ov):
            tgr = tv.grad if _safe(lambda t: t.is_leaf or t.retains_grad, tv) else None
            if not _close(_np(tgr), _np(ov.grad)):
                diffs.append(f"{name}.grad: tapegrad {_np(tgr)} torch {_np(ov.grad)}")
    return lines, diffs


# Seeds whose programs hit a known, not yet fixed difference (each names it).
KNOWN = {
    # ---- seen in the survey of 50000-53999 (outside the tested ranges: listed for the
    # cause; docs/semantics.md lists both) ----
    # an in-place op whose operand overlaps the written tensor in a layout torch's check
    # cannot tell (not dense: a diagonal, a column of a transpose, two overlapping slices):
    # torch's kernel reads elements it already wrote, tapegrad reads the operand first
    # (test_unchecked_overlap_reads_as_torch)
    51154: "unchecked_overlap_reads_while_writing",
    52922: "unchecked_overlap_reads_while_writing",
    53618: "unchecked_overlap_reads_while_writing",
    53744: "unchecked_overlap_reads_while_writing",
    # (surveys of 54000-61999: a diagonal v times its own transpose in place, v.mul_(v.t()))
    60952: "unchecked_overlap_reads_while_writing",
    # where(t > 0, t, x) of a transpose t: torch's result follows its first operand's layout
    # (column-major), so reshape copies (UnsafeViewBackward0); tapegrad's is row-major and
    # reshape views it (ViewBackward0)
    50353: "elementwise_layout_of_mixed_operands",
    # ---- seen in the survey of 66000-77999 (outside the tested ranges: listed for the
    # cause; 67954 and 69423 are fixed: FOUND) ----
    # (as 51154: an operand overlapping the written tensor unchecked, a diagonal or an
    # expand of it: v.mul_(v2) of v2 an expand of v's own row)
    72762: "unchecked_overlap_reads_while_writing",
    74367: "unchecked_overlap_reads_while_writing",
    76745: "unchecked_overlap_reads_while_writing",
    # (survey of 78000-85999, 1 seed: as 60952, a diagonal v times its own transpose in
    # place, v.mul_(v.t()))
    81480: "unchecked_overlap_reads_while_writing",
}

SEEDS = [s for s in range(200) if s not in KNOWN]
SLOW_SEEDS = [s for s in range(200, 2200) if s not in KNOWN]
# Seeds past those that a survey found differing, fixed since (each a regression test)
FOUND = [4685, 7449, 7531, 11956, 12648, 13656, 16643, 18561, 19396, 20944, 22914, 27843, 31671,
         33646, 35945, 39602, 41217, 41226, 42591, 42850, 42931, 44319, 44554, 44644, 46749,
         47054, 48075, 48662, 49116, 50266, 67954, 69423]


@pytest.mark.parametrize("seed", SEEDS + FOUND)
def test_fuzz_views_inplace(seed):
    check(differences, seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SLOW_SEEDS)
def test_fuzz_views_inplace_soak(seed):
    check(differences, seed)


if __name__ == "__main__":  # survey: python tests/test_fuzz_views_inplace.py START STOP
    survey(differences)


# ---------------------------------------------------------------- regressions found by the fuzzer

def _outcome(f):
    try:
        f()
    except Exception as e:  # noqa: BLE001 - the outcome is the exception
        return type(e).__name__, str(e).replace("torch.", "tapegrad.")
    return None


@pytest.mark.parametrize("op", ["addcmul", "addcdiv"])
@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("dtypes", [("float32", "float64", "float32"), ("float64", "float32", "float32"),
                                    ("float32", "float32", "float64"), ("float64", "float64", "float64")])
@pytest.mark.parametrize("changed", [1, 2])
def test_addcmul_cast_operand_changed_in_place(op, inplace, dtypes, changed):
    # tensor1/tensor2 of another dtype than the result were cast to a copy the backward
    # read, so changing the original in place before backward went unnoticed (torch raises)
    def run(m):
        sd, d1, d2 = (getattr(m, d) for d in dtypes)
        t1 = m.tensor([1.0, 2.0, 3.0], dtype=d1, requires_grad=True)
        t2 = m.tensor([1.5, 2.5, 3.5], dtype=d2, requires_grad=True)
        c = m.ones(3, dtype=sd)
        y = getattr(c, op + "_" if inplace else op)(t1, t2, value=0.5)
        with m.no_grad():
            (t1 if changed == 1 else t2).mul_(2)
        return _outcome(lambda: y.sum().backward()), t1.grad, t2.grad

    (e1, *g1), (e2, *g2) = run(tapegrad), run(torch)
    assert e1 == e2
    if e2 is None:
        for a, b in zip(g1, g2):
            assert _close(_np(a), _np(b))


def _self_as_factor(m, op, value, args):
    x = m.tensor([0.5, -1.5, 2.0], requires_grad=True)
    w = m.tensor([1.5, 2.5, -0.5], requires_grad=True)
    v = x + x
    s = v[:] if args == "view_and_base" else v
    t1, t2 = {"self_t1": (v, w), "self_t2": (w, v), "self_both": (v, v),
              "view_and_base": (s, v)}[args]
    getattr(s, op)(t1, t2, value=value)
    return _outcome(lambda: (v * 1.5).sum().backward()), x.grad, w.grad


@pytest.mark.parametrize("op", ["addcmul_", "addcdiv_"])
@pytest.mark.parametrize("value", [1, 0.5])
@pytest.mark.parametrize("args", ["self_t1", "self_t2", "self_both"])
def test_addcmul_inplace_self_as_factor(op, value, args):
    # self given as tensor1/tensor2: torch's node saves self by reference, which the op
    # itself changes, so the backward raises (tapegrad read a scaled copy: a gradient)
    (e1, *g1), (e2, *g2) = (_self_as_factor(m, op, value, args) for m in (tapegrad, torch))
    assert e1 == e2
    for a, b in zip(g1, g2):
        assert _close(_np(a), _np(b))


@pytest.mark.parametrize("op", ["addcmul_", "addcdiv_"])
@pytest.mark.parametrize("value", [1, 0.5])
def test_addcmul_inplace_of_a_view_with_itself_and_its_base(op, value):
    # seeds 34297, 35996, 36466, 38426 (while addcmul_'s gradient was made to read its
    # factors at backward): both factors changed by the op, the error names tensor1 as torch
    # (with value 1 it named tensor2, the base, until the view given as tensor1 was read as
    # an alias of itself: seed 67954)
    (e1, *g1), (e2, *g2) = (_self_as_factor(m, op, value, "view_and_base")
                            for m in (tapegrad, torch))
    assert e1 == e2
    for a, b in zip(g1, g2):
        assert _close(_np(a), _np(b))


@pytest.mark.parametrize("call", ["clamp(-0.74, 0.18)", "clamp(max=0.18)", "clamp(min=-0.74)",
                                  "clamp_max(0.18)", "clamp_min(-0.74)", "clip(-0.74, 0.18)",
                                  "clone().clamp_(-0.74, 0.18)", "clamp(-0.74, 0.18)[1:]"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_clamp_gradient_at_a_bound_rounded_into_float32(call, dtype):
    # a float32 value equal to float32(0.18) is at the bound (torch's kernels take the bound
    # in float32): the gradient passes there; the backward compared with 0.18 in float64
    def run(m):
        x = m.tensor([0.18, -0.74, 0.5, 0.1, -1.0], dtype=getattr(m, dtype), requires_grad=True)
        y = eval("x." + call)
        y.sum().backward()
        saved = {k: getattr(y.grad_fn, k) for k in ("_saved_min", "_saved_max")
                 if hasattr(y.grad_fn, k)}
        return x.grad, saved

    (g1, s1), (g2, s2) = run(tapegrad), run(torch)
    assert _np(g1).tolist() == _np(g2).tolist()
    assert s1 == s2


@pytest.mark.parametrize("op", ["mul_", "div_", "atan2_", "pow_", "hypot_", "fmod_"])
@pytest.mark.parametrize("dtypes", [("float32", "float64"), ("float64", "float32")])
@pytest.mark.parametrize("through_view", [False, True])
def test_inplace_binary_other_of_another_dtype_changed(op, dtypes, through_view):
    # self.op_(other) with other of another float dtype read a cast copy of other, so
    # changing other in place before backward went unnoticed (torch's node saves other)
    def run(m):
        x = m.tensor([1.0, 2.0, 3.0], dtype=getattr(m, dtypes[0]), requires_grad=True)
        w = m.tensor([1.5, 2.5, 3.5], dtype=getattr(m, dtypes[1]), requires_grad=True)
        a, b = x * 1, w * 1
        getattr(a[1:] if through_view else a, op)(b[1:] if through_view else b)
        b.mul_(2)
        return _outcome(lambda: a.sum().backward()), x.grad, w.grad

    (e1, *g1), (e2, *g2) = run(tapegrad), run(torch)
    # (through a view: torch names the dead view b[1:] "output 0 of AsStrided", its grad_fn
    # made again; tapegrad's cast copy of it names that too)
    assert e1 == e2
    for u, v in zip(g1, g2):
        assert _close(_np(u), _np(v))


@pytest.mark.parametrize("op", ["mul_", "div_", "atan2_", "pow_", "hypot_", "fmod_"])
@pytest.mark.parametrize("dtypes", [("float32", "float64"), ("float64", "float32")])
@pytest.mark.parametrize("change", ["c.add_(1)", "c[1:].mul_(2)", "c.view(3).zero_()"])
def test_inplace_binary_constant_other_of_another_dtype_changed(op, dtypes, change):
    # seed 49116: the cast copy of a constant `other` read in its place is watched under
    # other's counter; the version error named the copy's type (FloatTensor), torch the
    # saved tensor's (DoubleTensor)
    def run(m):
        x = m.tensor([[1.32, -0.43, -1.15], [-0.32, 0.58, 0.76]], dtype=getattr(m, dtypes[0]),
                     requires_grad=True)
        c = m.tensor([0.98, -0.06, 0.18], dtype=getattr(m, dtypes[1]))
        v = x.sum(0)
        getattr(v, op)(c)
        exec(change, {"c": c})
        return _outcome(lambda: v.sum().backward()), x.grad

    (e1, g1), (e2, g2) = run(tapegrad), run(torch)
    assert e1 == e2
    assert _close(_np(g1), _np(g2))

@pytest.mark.parametrize("shape", [(), (3,)])
@pytest.mark.parametrize("stmt", ["v[...] = s", "v[...] = 2.0", "v[...] = x", "v.copy_(x)",
                                  "x[...] = s", "x[...] = 0.5"])
def test_setitem_whole_0d_is_copy(shape, stmt):
    # torch's setitem copies into a 0-d tensor itself (copy_: CopyBackwards; on a leaf "a leaf
    # Variable ..." error), where an n-d x[...] = 0-d value fills a view (FillBackward3)
    def run(m):
        x = m.ones(shape, dtype=m.float64).requires_grad_()
        s = m.tensor(0.5, dtype=m.float64, requires_grad=True)
        v = (x * 0.5).exp()
        env = {"x": x, "s": s, "v": v}
        err = _outcome(lambda: exec(stmt, env))
        assert err is None or "leaf" in err[1]   # (the program ran)
        return err, type(v.grad_fn).__name__

    assert run(tapegrad) == run(torch)


@pytest.mark.parametrize("target", ["x[1:]", "x", "x.detach()[1:]"])
def test_index_put_autograd_check_before_dtype_check(target):
    # torch's autograd check (a view of a leaf, a leaf) comes before index_put_'s dtype check
    def run(m):
        x = m.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True)
        v = eval(target)
        return _outcome(lambda: v.index_put_((m.tensor([0]),), m.tensor([1.0, 2.0], dtype=m.float64)))

    assert run(tapegrad) == run(torch)


_SELF_AGAIN = {
    "addcmul_t1": "v.addcmul_(v, w)", "addcmul_t2_scaled": "v.addcmul_(w, v, value=0.5)",
    "addcmul_t1_scaled": "v.addcmul_(v, w, value=0.5)", "addcdiv_t1": "v.addcdiv_(v, w + 3)",
    "addcdiv_t2": "v.addcdiv_(w, v)", "lerp_end": "v.lerp_(v, w * 0.1)",
    "lerp_weight": "v.lerp_(w, v * 0 + v)", "clamp_max_self": "v.clamp_(w + 3, v)",
    "clamp_min_self": "v.clamp_(v, w - 3)", "clamp_max_self_low": "v.clamp_(w - 3, v)",
    "nextafter_self": "v.nextafter_(v)", "mul_self": "v.mul_(v)", "pow_self": "v.pow_(v)",
}


@pytest.mark.parametrize("shape", [(), (3,)])
@pytest.mark.parametrize("self_kind", ["constant", "non-leaf"])
@pytest.mark.parametrize("stmt", list(_SELF_AGAIN))
def test_inplace_self_given_again_is_saved(shape, self_kind, stmt):
    # an in-place op given self again as an operand its node saves (lerp_'s end, clamp_'s
    # bound, nextafter_'s other, addcmul_'s scaled or folded tensor1): the op itself changes
    # it, so torch's backward raises; tapegrad read a copy (a gradient, or an error naming no
    # grad_fn for a constant self that the op gave one)
    def run(m):
        leaf = m.full(shape, 0.75, requires_grad=True)
        w = m.full(shape, 1.25, requires_grad=True)
        v = m.full(shape, 0.5) if self_kind == "constant" else leaf * 1
        err = _outcome(lambda: exec(_SELF_AGAIN[stmt], {"v": v, "w": w}))
        return err, _outcome(lambda: (v * 1.5).sum().backward()), leaf.grad, w.grad

    (f1, e1, *g1), (f2, e2, *g2) = run(tapegrad), run(torch)
    assert (f1, e1) == (f2, e2)
    for a, b in zip(g1, g2):
        assert _close(_np(a), _np(b))


@pytest.mark.parametrize("shape", [(), (3,)])
@pytest.mark.parametrize("closer", ["with m.no_grad(): v.zero_()", "v.detach().mul_(2)",
                                    "with m.no_grad(): u.add_(1)"])
@pytest.mark.parametrize("stmt", list(_SELF_AGAIN))
def test_inplace_self_given_again_after_its_tape_was_let_go(shape, closer, stmt):
    # seed 41217: an unrecorded change let self's tape go, so the op recorded on a new tape
    # reading self through an import; the clone and the alias its body read were left out of
    # the group (the error named the alias's AsStrided, not the op's node) and self's import,
    # which the op replaces, was checked inside the op's own entries
    def run(m):
        leaf = m.full(shape, 0.75, requires_grad=True)
        w = m.full(shape, 1.25, requires_grad=True)
        env = {"m": m, "v": leaf * 1, "w": w, "u": leaf * 2}
        exec(closer, env)
        err = _outcome(lambda: exec(_SELF_AGAIN[stmt], env))
        return err, _outcome(lambda: (env["v"] * 1.5).sum().backward()), leaf.grad, w.grad

    (f1, e1, *g1), (f2, e2, *g2) = run(tapegrad), run(torch)
    assert (f1, e1) == (f2, e2)
    for a, b in zip(g1, g2):
        assert _close(_np(a), _np(b))

@pytest.mark.parametrize("shape", [(), (3,)])
@pytest.mark.parametrize("stmt", ["c.mul_(x); c.mul_(m.full(shape, 0.2))", "c.mul_(x); c.add_(1)",
                                  "c.mul_(x); c.mul_(c)", "c.div_(x)", "c.pow_(x)", "c.atan2_(x)",
                                  "y = c * x; c.mul_(2); c = y"])
def test_inplace_on_constant_self_reads_its_own_copy(shape, stmt):
    # a one-element constant self folded into its in-place op's entry was version-checked
    # there, so the op's own change failed the backward (torch saves a clone of self)
    def run(m):
        x = m.full(shape, 2.0, requires_grad=True)
        env = {"m": m, "shape": shape, "x": x, "c": m.full(shape, 1.5)}
        exec(stmt, env)
        return _outcome(lambda: env["c"].sum().backward()), x.grad

    (e1, g1), (e2, g2) = run(tapegrad), run(torch)
    assert e1 == e2
    assert _close(_np(g1), _np(g2))


@pytest.mark.parametrize("stmt", ["y = a.lerp(e, w); e.add_(1)", "y = a.lerp(e * 1, w); e.add_(1)",
                                  "y = a.clamp(lo, hi); hi.add_(1)", "y = a.clamp(lo, hi); lo.add_(1)",
                                  "y = a.clamp(hi, lo); hi.add_(1)", "y = a.clamp(hi, lo); lo.add_(1)",
                                  "y = a.clamp(hi * 1, lo * 1); lo.add_(1)",
                                  "y = c.lerp(e, w); c.add_(1)", "y = c.lerp(e, w.detach()); c.add_(1)",
                                  "c.lerp_(e, w); c.add_(1); y = c * a"])
def test_saved_operand_the_decomposition_reads_as_values(stmt):
    # lerp's end (read through end - self) and clamp's crossed bounds (read by where) are
    # saved by torch's node: changing one in place fails the backward
    def run(m):
        leaf = m.ones(3, requires_grad=True)
        env = {"a": leaf * 1.5, "e": m.full((3,), 2.0), "w": m.full((3,), 0.3, requires_grad=True),
               "lo": m.full((3,), 0.5), "hi": m.full((3,), 2.0), "c": m.full((3,), 0.5)}
        exec(stmt, env)
        return _outcome(lambda: env["y"].sum().backward()), leaf.grad

    (e1, g1), (e2, g2) = run(tapegrad), run(torch)
    assert e1 == e2
    assert _close(_np(g1), _np(g2))


_SAVED_BY = {
    "sum": "a.sum()", "max": "a.max()", "amax": "a.amax(0)", "sort": "a.sort()[0]",
    "gather": "a.gather(0, m.tensor([0, 1]))", "index": "a[m.tensor([0, 2])]", "cat": "m.cat([a, a])",
    "where": "m.where(a > 0, a, a * 2)", "mm": "a.reshape(1, 3) @ a.reshape(3, 1)",
    "softmax": "a.softmax(0)", "layer_norm": "m.nn.functional.layer_norm(a, (3,))", "std": "a.std()",
    "norm": "a.norm()", "cumprod": "a.cumprod(0)", "exp": "a.exp()", "prod": "a.prod()",
    "cross_entropy": "m.nn.functional.cross_entropy(a.reshape(1, 3), m.tensor([1]))",
    "split": "a.split(2)[0]", "unbind": "a.unbind()[1]", "outer": "m.outer(a, a)", "dot": "a.dot(a)",
    "masked_select": "a.masked_select(a > 0)", "logsumexp": "a.logsumexp(0)", "erf": "a.erf()",
}


@pytest.mark.parametrize("changed", ["input", "output"])
@pytest.mark.parametrize("expr", list(_SAVED_BY))
def test_version_error_message_per_kind(expr, changed):
    # torch's text word for word: the type string, the grad_fn the changed tensor has now
    # (its view node made again, a multi-output piece's refusal), the versions
    def run(m):
        x = m.tensor([0.5, -1.0, 2.0], requires_grad=True)
        a = x * 1
        y = eval(_SAVED_BY[expr], {"m": m, "a": a})
        y2 = y * y
        err = _outcome(lambda: (a.add_(1) if changed == "input" else y.mul_(2)) and None)
        return err, _outcome(lambda: (y2.sum() + y.sum()).backward()), x.grad

    (f1, e1, g1), (f2, e2, g2) = run(tapegrad), run(torch)
    assert (f1, e1) == (f2, e2)
    assert _close(_np(g1), _np(g2))


_OVERLAPS = [
    # copy_ and the TensorIterator ops: a partly overlapping input is refused, the output
    # itself (same memory, same strides) is not; layouts that are not dense pass
    "a[1:].copy_(a[:5])", "a.copy_(a)", "a[:4].view(2, 2).t().copy_(a[:4].view(2, 2))",
    "a[::2].copy_(a[1::2])", "a[0:4:2].copy_(a[2:6:2])", "a[:3].copy_(a[3:])", "a[1:4].copy_(a[:1])",
    "a[None].copy_(a)", "a.view(6, 1).copy_(a.view(6, 1))", "a[1:].copy_(a.detach()[:5])",
    "a[1:].copy_(a.data[:5])", "a[1:].copy_(a[:5].double())", "a[1:].add_(a[:5])",
    "a[1:].add_(a[:5], alpha=2)", "a[1:].sub_(a[:5])", "a[1:].mul_(a[:5])", "a[1:] += a[:5]",
    "a[1:].pow_(a[:5])", "a[1:].atan2_(a[:5])", "a[1:].lt_(a[:5])", "a[1:].logical_and_(a[:5])",
    "a[1:].addcmul_(a[:5], m.ones(5))", "a[1:].lerp_(a[:5], 0.5)", "a[1:].clamp_(a[:5])",
    "a[1:2].add_(a[1])", "a[1].add_(a[1:2])", "a[1:].add_(a[1])", "a[1:].mul_(a[1:2])",
    "a.unsqueeze(0).add_(a)", "a.view(6, 1)[:, 0].add_(a)", "a.view(2, 3)[:, :2].add_(a.view(2, 3)[:, 1:])",
    "x = a.reshape(2, 3); x.t().mul_(x.t())", "x = a[:4].view(2, 2); x.add_(x.t())",
    "with m.no_grad(): a.view(2, 3).t().sub_(a.view(2, 3).t().t())",
    # setitem: a basic key copies into the view (a 0-d value fills it: unchecked)
    "a[1:] = a[:5]", "a[1:4] = a[0:3]", "a[:2] = a[1]", "a[...] = a", "a[:] = a.flip(0)",
    # fill_ / masked_fill_ / index_fill_ take their value as a number
    "a[1:].fill_(a[1])", "a.masked_fill_(a > 2, a[0])", "a.index_fill_(0, m.tensor([0]), a[1])",
    # index_put_ & co refuse any overlap of the written tensor with the source
    "a[m.tensor([0, 1])] = a[4:]", "a[m.tensor([0, 1])] = a[4]", "a[a > 3] = a[0]",
    "a[a > 3] = a[:2]", "a.index_put_((m.tensor([0, 1]),), a[4:], accumulate=True)",
    "a.index_copy_(0, m.tensor([0, 1]), a[4:])", "a[:3].index_copy_(0, m.tensor([0, 1]), a[4:])",
    "a.index_add_(0, m.tensor([0, 1]), a[4:])", "a[:2].index_add_(0, m.tensor([0, 1]), a[4:])",
    "a.scatter_add_(0, m.tensor([0, 1]), a[4:])", "a.scatter_(0, m.tensor([0, 1]), a[4:])",
    "a.scatter_reduce_(0, m.tensor([0, 1]), a[4:], 'sum')", "a.put_(m.tensor([0, 1]), a[4:])",
    "x = a[2]; x.index_add_(0, m.tensor([0]), x)",
    # with history: the same checks, after autograd's
    "c = a.requires_grad_() * 1; c[1:].copy_(c[:5])", "c = a.requires_grad_() * 1; c[1:].add_(c[:5])",
    "c = a.requires_grad_() * 1; c[1:] = c[:5]", "c = a.requires_grad_() * 1; c[m.tensor([0])] = c[5]",
    "c = a.requires_grad_() * 1; c[1:].lerp_(c[:5], 0.3)", "c = a.requires_grad_() * 1; c[1:].clamp_(c[:5])",
    "c = a.requires_grad_() * 1; c[1:].addcmul_(c[:5], c[:5])", "a.requires_grad_(); a[1:].add_(a[:5])",
    # one element in two layouts (strides of dims of size 1 differ: torch's check compares
    # them), seeds 4685, 7531, 19396, 27843, 35945, 42591; the value of x[key] = v without its
    # leading 1s, expanded (a 0-d one: strides 0)
    "a[:1].copy_(a[0:1:2])", "a[0:1] = a[0:1:2]", "x = a.view(2, 3)[:, :1]; x[0] = x.diagonal()",
    "x = a[0:1:2]; x.view(1, 1).copy_(x.unsqueeze(1))", "x = a[0:1:2]; x.view(-1).copy_(x)",
    "x = a[0:1:2]; x.view(-1).add_(a[:1])", "a[2:3].unsqueeze(0).copy_(a[2:3].view(1, 1))",
    "a[:3].view(1, 3)[0] = a[:3].view(3, 1).t()", "x = a[:1]; x[0:1] = x.view(1, 1)",
    "x = a[4:5]; x[0:1] = x.view(1, 1)[:, 0:1:2]", "x = a[4:5]; x.unsqueeze(0).squeeze(0).mul_(x[0:1:3])",
    "x = a.view(3, 2)[:1, :1]; x.copy_(x.reshape(1, 1))", "x = a.view(3, 2)[:1]; x.t().copy_(x.view(2, 1))",
    "x = a.view(2, 3).t()[:1, :1]; x.view(1).copy_(x[0])", "a.view(1, 6).t().copy_(a.view(6, 1))",
    "x = a.view(2, 3).t()[:, :1]; x.view(3).sub_(x.squeeze(1))",
]


@pytest.mark.parametrize("stmt", _OVERLAPS)
def test_inplace_overlapping_input(stmt):
    # torch's assert_no_partial_overlap (copy_, TensorIterator ops) and assert_no_overlap
    # (index_put_, index_copy_, index_add_, scatter_, put_): tapegrad wrote through the
    # overlap, reading elements it had already written
    def run(m):
        a = m.arange(6.0)
        err = _outcome(lambda: exec(stmt, {"m": m, "a": a}))
        return err, a.detach().tolist(), a._version

    assert run(tapegrad) == run(torch)


@pytest.mark.parametrize("expr", [
    "a[0:1:2].view(-1)", "a[0:1:2].view(1, 1)", "a[0:1:2].unsqueeze(1)", "a[0:1:2].unsqueeze(0)",
    "a.view(2, 3)[:, :1].t()", "a.view(2, 3)[:, :1].view(2)", "a.view(2, 3)[:, :1].reshape(1, 2, 1)",
    "a.view(2, 3)[:1].squeeze(0)", "a.view(3, 2).t()[:1].view(1, 3)", "a.view(3, 2)[:1, :1].unsqueeze(2)",
    "a.view(2, 3)[:, 1:2].unsqueeze(0).squeeze(0)", "a[4:5].view(1, 1, 1).squeeze(1)",
    "a.view(6, 1)[::2].view(3)", "a.view(6, 1)[::2].view(1, 3, 1)", "a.view(2, 3)[:, :1].squeeze()"])
def test_view_strides_of_dims_of_size_1(expr):
    # torch's view (computeStride), unsqueeze and squeeze place a dim of size 1 by its own
    # rules, which the overlap checks read; numpy's reshape placed it otherwise
    def run(m):
        return eval(expr, {"a": m.arange(6.0)}).stride()

    assert run(tapegrad) == run(torch)

@pytest.mark.parametrize("stmt", [
    "v = x.unsqueeze(0).expand(2, 3); v[0, 1] = 5.0",
    "v = x.unsqueeze(0).expand(2, 3); v[m.tensor([0]), m.tensor([1])] = 5.0",
    "v = x.unsqueeze(0).expand(2, 3); v[m.tensor([0])] = m.tensor([7., 8., 9.])",
    "v = x.unsqueeze(0).expand(2, 3); v[m.tensor([1, 0])] = m.tensor([[7., 8., 9.], [1., 2., 3.]])",
    "v = x.unsqueeze(0).expand(2, 3); v.index_put_((m.tensor([1]),), m.tensor([7., 8., 9.]))",
    "v = x.unsqueeze(0).expand(2, 3); v.index_put_((m.tensor([1]),), m.tensor([7., 8., 9.]), accumulate=True)",
    "v = x.unsqueeze(0).expand(2, 3); v[v > 0] = 0.0",
    "v = x.unsqueeze(0).expand(2, 3); v[v > 0] = m.tensor(0.0)",
    "v = x.expand(2, 3); v[:, m.tensor([1])] = 4.0",
    "v = x[:1].expand(3); v[m.tensor([2])] = 4.0",
    "v = x[:1].expand(3); v.masked_fill_(m.tensor([True, False, False]), 4.0)",
    "v = x.expand(2, 3); v.masked_fill_(m.tensor([False, True, False]), m.tensor(4.0))",
    "v = x[:1].expand(3); v.index_fill_(0, m.tensor([2]), 4.0)",
    "v = x.expand(2, 3); v.index_fill_(1, m.tensor([2]), -1.0)",
    "v = x[:1].expand(3); v.put_(m.tensor([2]), m.tensor([4.0]))",
    "v = x[:1].expand(3); v.index_copy_(0, m.tensor([2]), m.tensor([4.0]))",
    "v = x[:1].expand(3); v.scatter_(0, m.tensor([2]), 4.0)",
    "v = x[:1].expand(3); v[1:] = 4.0", "v = x[:1].expand(3); v.add_(1)",
])
def test_index_writes_into_an_expanded_view(stmt):
    # torch 2.13 warns ("Use of index_put_ on expanded tensors is deprecated ...") and writes
    # index_put_ / x[index] = v, masked_fill_ and index_fill_ through an expand's view (the
    # last write to a shared element stays); tapegrad raised the internal-overlap error
    import warnings

    def run(m):
        x = m.tensor([0.33, 1.08, -1.33])
        env = {"m": m, "x": x}
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            err = _outcome(lambda: exec(stmt, env))
        said = [(w.category.__name__, str(w.message).split(" (Triggered internally")[0])
                for w in got]
        return err, said, x.tolist(), x._version

    assert run(tapegrad) == run(torch)


@pytest.mark.parametrize("stmt", [
    "v[1] = y", "v[0] = y", "v[0] = y * 2", "v[1, 0] = y[0]", "v[:, 1] = y[1]", "v[0, :, 2] = y[:, 0]",
    "v[1] = y[0]", "v[0][1] = y[1]", "v[1] += y", "v[1, 0, 2] = y[0, 0]", "v[..., 2] = y[0, 0]",
    "v[1, 1] = 2.0"])
def test_setitem_with_history_into_the_data_of_an_expand(stmt):
    # seed 31671: x.expand(...).data is no view, its array numpy's read-only broadcast; a
    # value with history made the write recorded, which failed with numpy's "assignment
    # destination is read-only" (torch copies into v[key] where its own elements share no
    # memory, else its internal-overlap error)
    def run(m):
        x = m.tensor([[1.2, -0.94, 0.79], [-0.98, 0.46, 1.27]])
        y = m.tensor([[1., 2., 3.], [4., 5., 6.]], requires_grad=True) * 1
        v = x.unsqueeze(0).expand(2, 2, 3).data
        err = _outcome(lambda: exec(stmt, {"m": m, "v": v, "y": y}))
        return err, x.tolist(), v.tolist(), v.requires_grad, type(v.grad_fn).__name__

    assert run(tapegrad) == run(torch)

_PIECES = {"chunk": "b.chunk(2)", "split": "b.split(2)", "unbind": "b.unbind()",
           "slice": "(b[:2], b[2:])", "view": "(b.view(2, 2),)"}


@pytest.mark.parametrize("made", ["grad mode on", "no_grad", ".data", "detach()", "data changed"])
@pytest.mark.parametrize("piece", list(_PIECES))
def test_view_without_grad_of_a_base_changed_with_grad(piece, made):
    # a view made under no_grad (or a piece of chunk / split / unbind of a tensor without
    # grad), whose base a recorded in-place op then changes: torch's view requires grad, and
    # its grad_fn, is_leaf and every use raise "A view was created in no_grad mode and its
    # base ... has been modified inplace with grad mode enabled. ..."; tapegrad's stayed a
    # constant (requires_grad False)
    def run(m):
        base = m.zeros(4)
        b = base.data if made in (".data", "data changed") else \
            base.detach() if made == "detach()" else base
        if made == "no_grad":
            with m.no_grad():
                pieces = eval(_PIECES[piece], {"b": b})
        else:
            pieces = eval(_PIECES[piece], {"b": b})
        w = m.ones(4, requires_grad=True)
        (b if made == "data changed" else base).add_(w)
        out = []
        for p in pieces:
            out.append((p.requires_grad, _outcome(lambda: type(p.grad_fn).__name__),
                        _outcome(lambda: p.is_leaf), _outcome(lambda: (p * 2).sum()),
                        repr(p).replace("tensor", "")))
        return out

    assert run(tapegrad) == run(torch)


@pytest.mark.parametrize("later", ["", "u = v.sin()", "u = v * 2; w = v[1:]"])
def test_retain_grad_of_a_view_changed_under_no_grad(later):
    # a view whose memory changed under no_grad: torch makes its grad_fn again when
    # retain_grad asks for it (AsStridedBackward0 of its base), so only its uses from then on
    # reach .grad; tapegrad kept the view's old node, which its earlier uses had read
    def run(m):
        x = m.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
        v = x.reshape(-1)
        early = (v * 1.5).sum()
        with m.no_grad():
            v.mul_(2)
        v.retain_grad()
        env = {"v": v}
        exec(later, env)
        loss = early + sum(t.sum() * (k + 2) for k, t in enumerate(
            env[n] for n in ("u", "w") if n in env))
        loss.backward()
        return v.grad, x.grad, type(v.grad_fn).__name__

    (g1, x1, f1), (g2, x2, f2) = run(tapegrad), run(torch)
    assert f1 == f2
    assert _close(_np(g1), _np(g2)) and _close(_np(x1), _np(x2))


@pytest.mark.parametrize("second", ["with m.no_grad(): v1.zero_()", "with m.no_grad(): v1.mul_(3)",
                                    "with m.no_grad(): v1[0] = 2.0", "v1.detach().add_(1)",
                                    "with m.no_grad(): x.add_(1)"])
@pytest.mark.parametrize("use", ["m.cat([v, v], 0)", "v * 2", "v[1:]"])
def test_retain_grad_of_a_view_made_again_then_changed_again(use, second):
    # seed 50266: a view made again at retain_grad (its memory changed under no_grad, so it
    # moved to a newer tape), used there, then changed under no_grad once more through a
    # view of the older tape: torch moves the hook to the grad_fn it makes at the view's
    # next read, so .grad gets that use only; tapegrad's view kept its node on the open tape
    def run(m):
        x = m.tensor(0.47).requires_grad_()
        v1 = x.view(-1)
        v = v1.unsqueeze(0).expand(2, 1)
        with m.no_grad():
            v1[0] = x
        v.retain_grad()
        early = eval(use, {"m": m, "v": v})
        exec(second, {"m": m, "v1": v1, "x": x})
        ((v * 0.92).sum() + (early * 1.53).sum()).backward()
        return v.grad, x.grad, type(v.grad_fn).__name__

    (g1, x1, f1), (g2, x2, f2) = run(tapegrad), run(torch)
    assert f1 == f2
    assert _close(_np(g1), _np(g2)) and _close(_np(x1), _np(x2))


RETAINED_VIEW_THEN = {
    "nothing": "",
    "a use": "y = y + (v * 3).sum()",
    "grad_fn": "v.grad_fn",
    "is_leaf": "v.is_leaf",
    "retain_grad": "v.retain_grad()",
    "a view of it": "y = y + v[:2].sum() * 5",
    "an in-place op on it": "v.mul_(2); y = y + (v * 7).sum()",
    "a second change": "y = y + (v * 3).sum(); u.add_(1); y = y + (v * 5).sum()",
    "a second change, unread": "u.add_(1); y = y + (v * 5).sum()",
    "a no_grad use": "with m.no_grad(): z = v * 3",
}


@pytest.mark.parametrize("through", ["v[1] = ...", "u.mul_(2)"])
@pytest.mark.parametrize("then", sorted(RETAINED_VIEW_THEN))
def test_retain_grad_of_a_view_moves_at_its_next_read(through, then):
    # seed 7449: a retained view whose base changed (x[k] = v writes through a view of the
    # view; an in-place op on another view): torch makes its grad_fn again, and moves its
    # retains-grad hook there, at its next read, so until then its .grad is its old node's;
    # tapegrad moved the hook at the change
    def run(m):
        x = m.tensor([0.73, 0.5, 0.07, -0.3], dtype=m.float64, requires_grad=True)
        b = x.sin()
        v = b.view(2, 2).t()
        u = b[1:3]
        v.retain_grad()
        y = (v * 2).sum()
        if through == "v[1] = ...":
            v[1] = m.tensor(1.13, dtype=m.float64)
        else:
            u.mul_(2)
        env = {"m": m, "v": v, "u": u, "y": y}
        exec(RETAINED_VIEW_THEN[then], env)
        env["y"].backward()
        return v.grad, x.grad, type(v.grad_fn).__name__

    (g1, x1, f1), (g2, x2, f2) = run(tapegrad), run(torch)
    assert f1 == f2
    assert _close(_np(g1), _np(g2)) and _close(_np(x1), _np(x2))


def test_overlap_check_of_memory_owned_by_no_array():
    # frombuffer's array has a memoryview as its base: the overlap check read `.base` of it
    # (AttributeError) where two such tensors met
    import warnings

    def run(m):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = m.frombuffer(bytearray(24), dtype=m.float32)
            b = m.frombuffer(bytearray(24), dtype=m.float32)
        b += 1
        return (_outcome(lambda: a.copy_(b)), _outcome(lambda: a[1:].add_(b[:5])),
                _outcome(lambda: a[1:].copy_(a[:5])), a.tolist())

    assert run(tapegrad) == run(torch)



@pytest.mark.parametrize("write", ["with m.no_grad(): v.add_(2)", "v.detach().mul_(3)",
                                   "with m.no_grad(): v.fill_(1)", "v.data.zero_()",
                                   "with m.no_grad(): v[...] = 0.5"])
@pytest.mark.parametrize("view", ["y[0:1]", "y.view(-1)", "y.unbind()[0]", "y.split(1)[1]", "y[1]",
                                  "y.t()"])
@pytest.mark.parametrize("closer", ["with m.no_grad(): u[:1].div_(2.0)", "u.detach().mul_(2)",
                                    "with m.no_grad(): u.add_(1)"])
def test_view_on_a_newer_tape_changed_outside_the_graph(closer, view, write):
    # seed 33646: an unrecorded change of another result let the tape go, so a view of y made
    # next went on a new tape (reading y's node through an import); a change through that
    # view did not enter y's node on its own tape, so Exp's saved result passed the check
    def run(m):
        x = m.tensor([-0.88, 0.32], requires_grad=True)
        u = x * 1
        y = (x * 0.5).exp()
        env = {"m": m, "u": u, "y": y}
        exec(closer, env)
        env["v"] = eval(view, env)
        exec(write, env)
        return _outcome(lambda: (env["v"].sum() + y.sum()).backward()), x.grad

    (e1, g1), (e2, g2) = run(tapegrad), run(torch)
    assert e1 == e2
    assert _close(_np(g1), _np(g2))

# torch lets these write into an operand's memory: what it leaves there is what its BLAS read
# while writing (MKL on an AMD EPYC zeroes out first and reads the zeros; on a Xeon it did
# not), undefined, so only the outcome is compared
_OVERLAP_UNDEFINED = {"m.mm(a[:4].view(2, 2), a[4:8].view(2, 2), out=a[1:5].view(2, 2))"}


@pytest.mark.parametrize("stmt", [
    "m.abs(a[:5], out=a[1:6])", "m.add(a[:5], 1, out=a[1:6])", "m.add(a[6:11], a[:5], out=a[1:6])",
    "m.exp(a[:5], out=a[:5])", "m.sin(a[:5], out=a[5:10])", "m.cumsum(a[:5], 0, out=a[1:6])",
    "m.cat([a[:2], a[3:5]], out=a[1:5])", "m.stack([a[:2], a[3:5]], out=a[1:5].view(2, 2))",
    "m.sort(a[:5], out=(a[1:6], m.zeros(5, dtype=m.long)))",
    "m.index_select(a[:5], 0, m.tensor([0, 1]), out=a[1:3])",
    "m.where(a[:5] > 2, a[:5], a[6:11], out=a[1:6])", "m.lerp(a[:5], a[6:11], 0.5, out=a[1:6])",
    "m.clamp(a[:5], a[6:11], out=a[1:6])", "m.maximum(a[6:11], a[:5], out=a[1:6])",
    "m.mm(a[:4].view(2, 2), a[4:8].view(2, 2), out=a[1:5].view(2, 2))",
    "m.ldexp(a[6:11], a[:5], out=a[1:6])", "m.eq(a[:5], a[1:6], out=m.zeros(5, dtype=m.bool))"])
def test_out_overlapping_an_input(stmt):
    # torch's TensorIterator ops (and cat, sort, gather, ...) refuse an out= sharing memory
    # with an input in part; tapegrad computed the result, then wrote it into out
    def run(m):
        a = m.arange(12.0)
        return _outcome(lambda: eval(stmt, {"m": m, "a": a})), a

    (e1, a1), (e2, a2) = run(tapegrad), run(torch)
    assert e1 == e2
    if stmt not in _OVERLAP_UNDEFINED:
        assert _close(_np(a1), _np(a2))


def test_mm_out_overlapping_an_input_reads_the_inputs_first():
    # tapegrad's side of the undefined case above (docs/semantics.md): the product of the
    # inputs as they were, written into out
    a = tapegrad.arange(12.0)
    x = a.numpy().copy()
    tapegrad.mm(a[:4].view(2, 2), a[4:8].view(2, 2), out=a[1:5].view(2, 2))
    x[1:5] = (x[:4].reshape(2, 2) @ x[4:8].reshape(2, 2)).reshape(-1)
    assert a.tolist() == x.tolist()


# ---------------------------------------------------------------- known, not yet fixed
# (strict: each starts to fail once fixed; docs/semantics.md lists them)

@pytest.mark.xfail(strict=True, reason="torch's kernel reads the source while it writes (its "
                   "result follows the aliasing); tapegrad reads all the source first")
@pytest.mark.parametrize("stmt", ["a[1:].masked_scatter_(m.ones(5, dtype=m.bool), a[:5])",
                                  "a[::2].add_(a[:3])", "m.sum(a[:6].view(2, 3), 0, out=a[1:4])"])
def test_unchecked_overlap_reads_as_torch(stmt):
    def run(m):
        a = m.arange(6.0)
        exec(stmt, {"m": m, "a": a})
        return a.tolist()

    assert run(tapegrad) == run(torch)


def test_index_put_into_an_expanded_view_with_history():
    import warnings

    def run(m):
        z = m.tensor([0.33, 1.08, -1.33], requires_grad=True) * 1
        v = z.unsqueeze(0).expand(2, 3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            err = _outcome(lambda: v.__setitem__(m.tensor([0]), m.tensor([7.0, 8.0, 9.0])))
        return err, v.tolist()

    assert run(tapegrad) == run(torch)
