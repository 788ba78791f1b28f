"""Cases of the op rows added by engineer "opsgaps" (#11), in tests/test_ops.py's table style:
op name -> list of (id, fn(module, *tensors), input shapes, domain[, options])."""
import sys

ANY = "any"
POS = "pos"


def _both(r):
    """Both outputs of var_mean/std_mean/aminmax into one result (weights tell them apart)."""
    return r[0] * 2.0 + r[1]


GAP_CASES = {
    "var_mean": [("d1", lambda m, a: _both(m.var_mean(a, 1)), [(2, 3)], ANY),
                 ("mean", lambda m, a: m.var_mean(a, 0, keepdim=True)[1], [(2, 3)], ANY),
                 ("all", lambda m, a: m.var_mean(a, correction=0)[0], [(2, 3)], ANY)],
    "std_mean": [("d1", lambda m, a: _both(m.std_mean(a, 1, unbiased=False)), [(2, 3)], ANY),
                 ("std", lambda m, a: m.std_mean(a)[0], [(4,)], ANY)],
    "block_diag": [("mixed", lambda m, a, b, c: m.block_diag(a, b, c), [(2, 3), (), (2,)], ANY),
                   ("one", lambda m, a: m.block_diag(a), [(2, 2)], ANY),
                   ("const", lambda m, a: m.block_diag(m.ones(1, 2), a * 2.0), [(3, 1)], ANY)],
    "i0": [("nd", lambda m, a: m.i0(a * 3.0), [(2, 3)], ANY),
           ("method", lambda m, a: (a * 6.0).i0(), [(4,)], ANY)],
    "i0e": [("nd", lambda m, a: m.special.i0e(a * 6.0), [(2, 3)], ANY),
            ("0d", lambda m, a: m.special.i0e(a + 9.0), [()], ANY)],
    # erfcx on both sides of 0 and past its asymptotic switch (26)
    "erfcx": [("nd", lambda m, a: m.special.erfcx(a * 3.0), [(2, 3)], ANY),
              ("big", lambda m, a: m.special.erfcx(a + 27.0), [(3,)], ANY),
              ("0d", lambda m, a: m.special.erfcx(a), [()], ANY)],
    "i1": [("nd", lambda m, a: m.special.i1(a * 3.0), [(2, 3)], ANY),
           ("big", lambda m, a: m.special.i1(a + 9.0), [(3,)], ANY)],
    # torch's out-of-place copies of views, fill, norm_except_dim over every dim (the
    # top-level forms, tapegrad/namespace.py and nn_toplevel.py)
    "alias_copy": [("nd", lambda m, a: m.alias_copy(a) * a, [(2, 3)], ANY)],
    "diagonal_copy": [("off", lambda m, a: m.diagonal_copy(a, 1), [(3, 4)], ANY),
                      ("dims", lambda m, a: m.diagonal_copy(a, 0, 0, 2), [(2, 3, 2)], ANY)],
    "expand_copy": [("nd", lambda m, a: m.expand_copy(a, (2, 3)), [(3,)], ANY)],
    "permute_copy": [("nd", lambda m, a: m.permute_copy(a, (2, 0, 1)), [(2, 3, 2)], ANY)],
    "select_copy": [("nd", lambda m, a: m.select_copy(a, 1, 2), [(2, 3)], ANY)],
    "slice_copy": [("step", lambda m, a: m.slice_copy(a, 1, 0, 3, 2), [(2, 4)], ANY)],
    "squeeze_copy": [("all", lambda m, a: m.squeeze_copy(a), [(2, 1, 3)], ANY)],
    "squeeze_copy_dim": [("dim", lambda m, a: m.squeeze_copy(a, 1), [(2, 1, 3)], ANY)],
    "squeeze_copy_dims": [("dims", lambda m, a: m.squeeze_copy(a, (0, 2)), [(1, 3, 1)], ANY)],
    "t_copy": [("nd", lambda m, a: m.t_copy(a) * 2.0, [(2, 3)], ANY)],
    "transpose_copy": [("nd", lambda m, a: m.transpose_copy(a, 0, 2), [(2, 3, 2)], ANY)],
    "unfold_copy": [("nd", lambda m, a: m.unfold_copy(a, 1, 2, 1), [(2, 4)], ANY)],
    "unsqueeze_copy": [("nd", lambda m, a: m.unsqueeze_copy(a, 1), [(2, 3)], ANY)],
    "view_copy": [("nd", lambda m, a: m.view_copy(a, (3, 2)), [(2, 3)], ANY)],
    "fill_out": [("num", lambda m, a: m.fill(a, 2.0) * a, [(2, 3)], ANY)],
    "fill_out_tensor": [("0d", lambda m, a, b: m.fill(a, b) * a, [(2, 3), ()], ANY)],
    "norm_all": [("p2", lambda m, a: m.norm_except_dim(a, 2, -1), [(2, 3)], ANY),
                 ("p3", lambda m, a: m.norm_except_dim(a, 3, -1), [(4,)], ANY)],
    "i1e": [("nd", lambda m, a: m.special.i1e(a * 6.0), [(2, 3)], ANY),
            ("0d", lambda m, a: m.special.i1e(a), [()], ANY)],
    "fractional_max_pool2d": [
        ("size", lambda m, a: m.nn.functional.fractional_max_pool2d(
            a, 2, output_size=2, _random_samples=m.full((1, 2, 2), 0.3, dtype=a.dtype)),
         [(1, 2, 4, 5)], ANY),
        ("ratio", lambda m, a: m.nn.functional.fractional_max_pool2d(
            a, (2, 1), output_ratio=(0.5, 0.7), _random_samples=m.full((3, 2), 0.6,
                                                                       dtype=a.dtype)[None]),
         [(3, 4, 3)], ANY)],
    "fractional_max_pool3d": [
        ("size", lambda m, a: m.nn.functional.fractional_max_pool3d(
            a, 2, output_size=(2, 1, 2), _random_samples=m.full((1, 1, 3), 0.4, dtype=a.dtype)),
         [(1, 1, 4, 3, 4)], ANY)],
    "householder_product": [("tall", lambda m, a, t: m.linalg.householder_product(a, t * 0.5),
                             [(4, 3), (2,)], ANY)],
    "ormqr": [("left", lambda m, a, t, c: m.ormqr(a, t * 0.5, c), [(4, 3), (3,), (4, 2)], ANY),
              ("right_t", lambda m, a, t, c: a.ormqr(t * 0.5, c, left=False, transpose=True),
               [(3, 2), (2,), (2, 3)], ANY)],
    "narrow_copy": [("d1", lambda m, a: a.narrow_copy(1, 1, 2), [(2, 3)], ANY),
                    ("fn", lambda m, a: m.narrow_copy(a, 0, 0, 1) * a[:1], [(2, 3)], ANY)],
    "angle": [("nd", lambda m, a: a.angle() + a, [(2, 3)], ANY),
              ("fn", lambda m, a: m.angle(a) * a, [(4,)], ANY)],
    "aminmax": [("all", lambda m, a: _both(m.aminmax(a)), [(2, 3)], ANY),
                ("dim", lambda m, a: _both(a.aminmax(dim=1)), [(2, 3)], ANY),
                ("keep", lambda m, a: m.aminmax(a, dim=-2, keepdim=True).max, [(3, 2)], ANY),
                ("0d", lambda m, a: _both(m.aminmax(a, dim=0)), [()], ANY)],
    # torch.special's rows (tapegrad/special.py)
    "xlogy": [("tt", lambda m, a, b: m.xlogy(a, b), [(2, 3), (2, 3)], POS),
              ("bcast", lambda m, a, b: a.xlogy(b), [(2, 3), (3,)], POS),
              ("scalar_a", lambda m, a: m.special.xlogy(2.0, a), [(3,)], POS),
              ("scalar_b", lambda m, a: m.special.xlogy(a, 1.5), [()], POS)],
    "xlog1py": [("tt", lambda m, a, b: m.special.xlog1py(a, b), [(2, 3), (3,)], POS),
                ("scalar_b", lambda m, a: m.special.xlog1py(a, 0.5), [(3,)], ANY)],
    "entr": [("nd", lambda m, a: m.special.entr(a), [(2, 3)], POS),
             ("0d", lambda m, a: m.special.entr(a * 0.3), [()], POS)],
    "sinc": [("nd", lambda m, a: a.sinc(), [(2, 3)], ANY),
             ("0d", lambda m, a: m.sinc(a), [()], ANY)],
    "ndtri": [("nd", lambda m, a: m.special.ndtri(a * 0.2 + 0.5), [(2, 3)], ANY)],
    "log_ndtr": [("nd", lambda m, a: m.special.log_ndtr(a * 3.0), [(2, 3)], ANY),
                 ("0d", lambda m, a: m.special.log_ndtr(a), [()], ANY)],
    "logit": [("nd", lambda m, a: (a * 0.2 + 0.5).logit(), [(2, 3)], ANY),
              ("eps", lambda m, a: m.logit(a * 0.3 + 0.5, eps=0.2), [(3,)], ANY),
              ("0d", lambda m, a: m.special.logit(a * 0.2 + 0.5), [()], ANY)],
    "mvlgamma": [("p3", lambda m, a: m.special.multigammaln(a + 1.5, 3), [(2, 3)], POS),
                 ("method", lambda m, a: (a + 1.0).mvlgamma(2), [(3,)], POS)],
    # scatter_reduce / index_reduce (tapegrad/scatter_reduce.py)
    "scatter_reduce": [
        ("sum", lambda m, a, b: a.scatter_reduce(1, m.tensor([[0, 0], [2, 1]]), b, "sum"),
         [(2, 3), (2, 2)], ANY),
        ("prod", lambda m, a, b: a.scatter_reduce(0, m.tensor([[1, 0, 1], [1, 1, 0]]), b, "prod",
                                                  include_self=False), [(2, 3), (2, 3)], ANY),
        ("mean", lambda m, a, b: m.scatter_reduce(a, 0, m.tensor([1, 1, 3]), b, "mean"),
         [(4,), (3,)], ANY),
        ("amax", lambda m, a, b: a.scatter_reduce(1, m.tensor([[1, 1], [0, 2]]), b, "amax",
                                                  include_self=False), [(2, 3), (2, 2)], ANY),
        ("amin", lambda m, a, b: a.scatter_reduce(1, m.tensor([[1, 1], [0, 2]]), b, "amin"),
         [(2, 3), (2, 2)], ANY)],
    "index_reduce": [
        ("prod", lambda m, a, b: a.index_reduce(0, m.tensor([0, 2, 0]), b, "prod"),
         [(3, 2), (3, 2)], ANY),
        ("amax", lambda m, a, b: a.index_reduce(1, m.tensor([1, 1]), b, "amax",
                                                include_self=False), [(2, 3), (2, 2)], ANY)],
}


def _sp(x):
    """x's module's torch.special (tapegrad.special or torch.special)."""
    return sys.modules[type(x).__module__.split(".")[0]].special


# one use of each elementwise row above, for tests/test_tape.py's table (values near 1.5)
ELEMENTWISE = {
    "xlogy": lambda x: x.xlogy(x * 0.5), "xlog1py": lambda x: _sp(x).xlog1py(x, x * 0.5),
    "entr": lambda x: _sp(x).entr(x), "sinc": lambda x: x.sinc(),
    "ndtri": lambda x: _sp(x).ndtri(x * 0.5), "log_ndtr": lambda x: _sp(x).log_ndtr(x),
    "logit": lambda x: (x * 0.5).logit(),
    "i0": lambda x: x.i0(), "i0e": lambda x: _sp(x).i0e(x), "i1": lambda x: _sp(x).i1(x),
    "i1e": lambda x: _sp(x).i1e(x), "erfcx": lambda x: _sp(x).erfcx(x),
}
