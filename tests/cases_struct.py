"""Cases of the structural / indexing / sort rows of the op table (issue #11, tapegrad/
structops.py), in tests/test_ops.py's table style: op name -> list of
(id, fn(module, *tensors), input shapes, domain[, options]).  `fn` runs with `tapegrad` or
`torch` as `m`; test_ops.py merges this table into its CASES (gradcheck, gradgradcheck, third
derivative, torch's grad_fn name, differential float32/float64), and test_structops.py
replays every case and checks the special points."""
ANY = "any"
POS = "pos"


def _i(m, v):
    return m.tensor(v)


def _eye(m, a, n, c=4.0):
    """c * I in a's dtype: keeps random matrices well conditioned."""
    return m.eye(n, dtype=a.dtype) * c


def _mask(m, v):
    return m.tensor(v, dtype=m.bool)


STRUCT_CASES = {
    "flip": [("d0", lambda m, a: a.flip(0), [(3, 2)], ANY),
             ("dims", lambda m, a: m.flip(a, (0, 2)), [(2, 2, 3)], ANY),
             ("lr", lambda m, a: a.fliplr() * a, [(2, 3)], ANY)],
    "roll": [("d1", lambda m, a: a.roll(1, 1), [(2, 3)], ANY),
             ("flat", lambda m, a: m.roll(a, -2), [(2, 3)], ANY),
             ("dims", lambda m, a: a.roll((1, -1), (0, 1)), [(3, 2)], ANY)],
    "repeat": [("r", lambda m, a: a.repeat(2, 1), [(2, 3)], ANY),
               ("newdim", lambda m, a: a.repeat(2, 1, 2), [(3,)], ANY),
               ("tile", lambda m, a: m.tile(a, (2,)), [(2, 2)], ANY)],
    "index_select": [("dup", lambda m, a: a.index_select(0, _i(m, [2, 0, 2])), [(3, 2)], ANY),
                     ("d1", lambda m, a: m.index_select(a, 1, _i(m, [1])), [(2, 3)], ANY),
                     ("ri", lambda m, a: a.repeat_interleave(_i(m, [1, 0, 2]), dim=0),
                      [(3, 2)], ANY, dict(names=False))],
    "gather": [("d1", lambda m, a: a.gather(1, _i(m, [[0, 0], [2, 1]])), [(2, 3)], ANY),
               ("d0", lambda m, a: m.gather(a, 0, _i(m, [[1, 0, 1]])), [(2, 3)], ANY)],
    "take": [("t", lambda m, a: a.take(_i(m, [[0, 5], [5, -1]])), [(2, 3)], ANY)],
    "masked_select": [("m", lambda m, a: a.masked_select(_mask(m, [[True, False, True],
                                                                   [False, False, True]])),
                       [(2, 3)], ANY),
                      ("bcast", lambda m, a: m.masked_select(a, _mask(m, [True, False])),
                       [(3, 2)], ANY)],
    "diag": [("mat", lambda m, a: m.diag(a), [(3, 3)], ANY),
             ("off", lambda m, a: a.diag(-1), [(3, 2)], ANY)],
    "sort": [("d1", lambda m, a: a.sort(1).values, [(2, 4)], ANY),
             ("desc", lambda m, a: m.sort(a, 0, descending=True)[0], [(3, 2)], ANY),
             ("msort", lambda m, a: m.msort(a), [(3, 2)], ANY)],
    "sort_stable": [("d1", lambda m, a: a.sort(stable=True, dim=1).values, [(2, 4)], ANY),
                    ("desc", lambda m, a: m.sort(a, stable=False, dim=0, descending=True)[0],
                     [(3, 2)], ANY)],
    "topk": [("k2", lambda m, a: a.topk(2).values, [(2, 4)], ANY),
             ("small", lambda m, a: m.topk(a, 2, 0, largest=False)[0], [(3, 2)], ANY)],
    "kthvalue": [("k", lambda m, a: a.kthvalue(2, 1).values, [(2, 3)], ANY),
                 ("keep", lambda m, a: m.kthvalue(a, 1, 0, keepdim=True)[0], [(3, 2)], ANY)],
    "median": [("all", lambda m, a: a.median(), [(2, 3)], ANY),
               ("fn", lambda m, a: m.median(a) * a, [(4,)], ANY)],
    "median_dim": [("d1", lambda m, a: a.median(1).values, [(2, 4)], ANY),
                   ("keep", lambda m, a: m.median(a, 0, keepdim=True)[0], [(3, 2)], ANY)],
    "diagonal": [("main", lambda m, a: a.diagonal(), [(3, 3)], ANY),
                 ("off", lambda m, a: m.diagonal(a, 1, 0, 2) * 2.0, [(2, 3, 3)], ANY)],
    "diag_embed": [("diag", lambda m, a: m.diag(a), [(3,)], ANY),
                   ("off", lambda m, a: a.diag(1), [(2,)], ANY),
                   ("embed", lambda m, a: m.diag_embed(a), [(2, 3)], ANY),
                   ("flat", lambda m, a: m.diagflat(a), [(2, 2)], ANY, dict(names=False))],
    "tril": [("t", lambda m, a: a.tril(), [(3, 3)], ANY),
             ("k", lambda m, a: m.tril(a, -1), [(2, 3, 4)], ANY)],
    "triu": [("t", lambda m, a: a.triu(1), [(3, 4)], ANY),
             ("fn", lambda m, a: m.triu(a), [(3, 2)], ANY)],
    "masked_fill": [("s", lambda m, a: a.masked_fill(_mask(m, [True, False, True]), 0.5),
                     [(2, 3)], ANY),
                    ("traced", lambda m, a: m.masked_fill(a, a > 0, -1.0), [(2, 3)], ANY)],
    "masked_fill_tensor": [("t", lambda m, a, b: a.masked_fill(_mask(m, [[True], [False]]), b),
                            [(2, 3), ()], ANY)],
    "scatter_value": [("v", lambda m, a: a.scatter(1, _i(m, [[0], [2]]), 1.5), [(2, 3)], ANY)],
    "index_fill": [("f", lambda m, a: a.index_fill(1, _i(m, [0, 2]), -2.0), [(2, 3)], ANY)],
    "trace": [("t", lambda m, a: a.trace(), [(3, 3)], ANY),
              ("rect", lambda m, a: m.trace(a * a), [(2, 3)], ANY)],
    # the running extremes (tapegrad/scans.py): gather rows as sort's
    "cummax": [("d1", lambda m, a: m.cummax(a, 1).values, [(2, 4)], ANY),
               ("ties", lambda m, a: m.cat([a, a[:1], a], 0).cummax(0)[0], [(3,)], ANY),
               ("0d", lambda m, a: a.cummax(0)[0], [()], ANY)],
    "cummin": [("d0", lambda m, a: a.cummin(0).values, [(4, 2)], ANY),
               ("ties", lambda m, a: m.cummin(m.cat([a, a]), -1)[0], [(3,)], ANY)],
    "addmm": [("mat", lambda m, a, b, c: m.addmm(a, b, c), [(2, 4), (2, 3), (3, 4)], ANY),
              ("vec", lambda m, a, b, c: a.addmm(b, c, beta=0.5, alpha=2.0), [(4,), (2, 3),
                                                                               (3, 4)], ANY)],
    "cross": [("lin", lambda m, a, b: m.linalg.cross(a, b), [(2, 3), (2, 3)], ANY),
              ("dim0", lambda m, a, b: m.cross(a, b, dim=0), [(3, 2), (3, 2)], ANY)],
    "scatter": [("src", lambda m, a, b: a.scatter(1, _i(m, [[2, 0], [1, 2]]), b),
                 [(2, 3), (2, 2)], ANY)],
    "scatter_add": [("dup", lambda m, a, b: a.scatter_add(0, _i(m, [[1, 0, 1], [1, 1, 0]]), b),
                     [(2, 3), (2, 3)], ANY),
                    ("fn", lambda m, a, b: m.scatter_add(a, 1, _i(m, [[0, 0], [2, 0]]), b),
                     [(2, 3), (2, 2)], ANY)],
    "index_add": [("dup", lambda m, a, b: a.index_add(0, _i(m, [1, 1]), b), [(2, 3), (2, 3)],
                   ANY),
                  ("alpha", lambda m, a, b: m.index_add(a, 1, _i(m, [2, 0]), b, alpha=-1.5),
                   [(2, 3), (2, 2)], ANY)],
    "index_copy": [("c", lambda m, a, b: a.index_copy(0, _i(m, [2, 0]), b), [(3, 2), (2, 2)],
                    ANY)],
    # torch.linalg (tapegrad/linalg.py)
    "det": [("3x3", lambda m, a: m.linalg.det(a), [(3, 3)], ANY),
            ("batch", lambda m, a: m.det(a + _eye(m, a, 2, 1.0)), [(2, 2, 2)], ANY),
            ("method", lambda m, a: a.det() * a, [(1, 1)], ANY)],
    "inv": [("inv", lambda m, a: m.linalg.inv(a + _eye(m, a, 3)), [(3, 3)], ANY),
            ("method", lambda m, a: a.inverse(), [(2, 2)], ANY),
            ("batch", lambda m, a: m.inverse(a + _eye(m, a, 2)), [(2, 2, 2)], ANY)],
    "solve": [("mat", lambda m, a, b: m.linalg.solve(a + _eye(m, a, 3), b), [(3, 3), (3, 2)],
               ANY),
              ("vec", lambda m, a, b: m.linalg.solve(a + _eye(m, a, 2), b), [(2, 2), (2,)], ANY)],
    "cholesky": [("spd", lambda m, a: m.linalg.cholesky(a @ a.mT + _eye(m, a, 3, 1.0)),
                  [(3, 3)], ANY),
                 ("upper", lambda m, a: m.linalg.cholesky(a @ a.mT + _eye(m, a, 2, 1.0),
                                                          upper=True), [(2, 2)], ANY),
                 ("sym", lambda m, a: m.linalg.cholesky(a + a.mT + _eye(m, a, 2, 6.0)),
                  [(2, 2)], ANY),
                 ("batch", lambda m, a: m.linalg.cholesky(a @ a.mT + _eye(m, a, 2, 1.0)),
                  [(2, 2, 2)], ANY)],
    # engineer "linalg": LAPACK host entries (tapegrad/kinds/linalg.py)
    "slogdet": [("logabs", lambda m, a: m.linalg.slogdet(a + _eye(m, a, 3)).logabsdet,
                 [(3, 3)], ANY),
                ("batch", lambda m, a: m.slogdet(a)[1], [(2, 2, 2)], ANY)],
    "slogdet_sign": [("times_logabs", lambda m, a: (lambda r: r.sign * r.logabsdet)(
                          m.linalg.slogdet(a + _eye(m, a, 3))), [(3, 3)], ANY),
                     ("batch", lambda m, a: m.slogdet(a)[0] * a.sum((1, 2)), [(2, 2, 2)], ANY)],
    # (svdvals' create_graph VJP goes through linalg.svd's node)
    "svdvals": [("wide", lambda m, a: m.linalg.svdvals(a), [(2, 3)], ANY),
                ("batch", lambda m, a: m.linalg.svdvals(a), [(2, 3, 2)], ANY)],
}
STRUCT_CASES["solve"] += [
    ("right", lambda m, a, b: m.linalg.solve(a + _eye(m, a, 3), b, left=False),
     [(3, 3), (2, 3)], ANY),
    ("bcast", lambda m, a, b: m.linalg.solve(a + _eye(m, a, 2), b), [(2, 2, 2), (2, 1)], ANY),
    ("vecbatch", lambda m, a, b: m.linalg.solve(a + _eye(m, a, 2), b), [(2, 2, 2), (2, 2)],
     ANY)]
STRUCT_CASES["inv"] += [("ex", lambda m, a: m.linalg.inv_ex(a + _eye(m, a, 2)).inverse,
                         [(2, 2)], ANY)]
# linalg.solve_triangular: a LAPACK host entry (tapegrad/kinds/linalg.py)
STRUCT_CASES["solve_triangular"] = [
    ("upper", lambda m, a, b: m.linalg.solve_triangular(a + _eye(m, a, 3), b, upper=True),
     [(3, 3), (3, 2)], ANY),
    ("lower-right", lambda m, a, b: m.linalg.solve_triangular(a + _eye(m, a, 3), b, upper=False,
                                                              left=False), [(3, 3), (2, 3)], ANY),
    ("unit-batch", lambda m, a, b: m.linalg.solve_triangular(a, b, upper=False,
                                                             unitriangular=True),
     [(2, 2, 2), (2, 2, 3)], ANY)]
# linalg.matrix_exp: a LAPACK host entry (scaling and squaring)
STRUCT_CASES["matrix_exp"] = [
    ("small", lambda m, a: m.linalg.matrix_exp(a), [(2, 2)], ANY),
    ("batch-squared", lambda m, a: m.matrix_exp(a * 3.0), [(2, 3, 3)], ANY),
    ("method", lambda m, a: a.matrix_exp() * a, [(1, 1)], ANY)]
# linalg.eigvalsh: a LAPACK host entry (its create_graph VJP through linalg.eigh's node)
STRUCT_CASES["eigvalsh"] = [
    ("sym", lambda m, a: m.linalg.eigvalsh(a + a.mT), [(3, 3)], ANY),
    ("upper-batch", lambda m, a: m.linalg.eigvalsh(a + a.mT, UPLO="U"), [(2, 3, 3)], ANY)]

# tapegrad/orderstats.py: nanmedian and mode (gathers at the index torch picks), rot90, pdist;
# pairwise_distance's rows (at::norm's NormBackward1, at::add's AddBackward1)
STRUCT_CASES["nanmedian"] = [
    ("all", lambda m, a: a.nanmedian(), [(2, 3)], ANY),
    ("fn", lambda m, a: m.nanmedian(a) * a, [(4,)], ANY)]
STRUCT_CASES["nanmedian_dim"] = [
    ("d1", lambda m, a: a.nanmedian(1).values, [(2, 4)], ANY),
    ("keep", lambda m, a: m.nanmedian(a, 0, keepdim=True)[0], [(3, 2)], ANY)]
STRUCT_CASES["mode"] = [
    ("d1", lambda m, a: a.mode(1).values, [(2, 4)], ANY),
    ("keep", lambda m, a: m.mode(a, 0, keepdim=True)[0] * a, [(3, 2)], ANY)]
STRUCT_CASES["rot90"] = [
    ("k1", lambda m, a: a.rot90(), [(2, 3)], ANY),
    ("k3", lambda m, a: m.rot90(a, 3, [2, 0]) * 2.0, [(2, 3, 2)], ANY)]
# (torch's PdistBackward0 has no derivative of its own: its hvp is not compared, as cdist's)
STRUCT_CASES["pdist"] = [
    ("p2", lambda m, a: m.pdist(a), [(3, 2)], ANY, {"torch_hvp": False}),
    ("p3", lambda m, a: m.pdist(a, 3), [(4, 3)], ANY, {"torch_hvp": False}),
    ("p1", lambda m, a: m.pdist(a * 2.0, 1.5), [(3, 2)], ANY, {"torch_hvp": False})]
STRUCT_CASES["norm_dim"] = [
    ("p2", lambda m, a, b: m.pairwise_distance(a, b), [(2, 3), (2, 3)], ANY),
    ("p3", lambda m, a, b: m.nn.functional.pairwise_distance(a, b, 3.0, keepdim=True),
     [(3, 2), (2,)], ANY)]
STRUCT_CASES["add_number"] = [
    ("eps", lambda m, a, b: m.pairwise_distance(a, b, eps=0.5), [(2, 3), (2, 3)], ANY)]
