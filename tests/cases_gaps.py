"""Cases of the op rows added by engineer "opsgaps" (#11), in tests/test_ops.py's table style:
op name -> list of (id, fn(module, *tensors), input shapes, domain[, options])."""
ANY = "any"
POS = "pos"


def _both(r):
    """Both outputs of var_mean/std_mean into one result (weights tell them apart)."""
    return r[0] * 2.0 + r[1]


GAP_CASES = {
    "var_mean": [("d1", lambda m, a: _both(m.var_mean(a, 1)), [(2, 3)], ANY),
                 ("mean", lambda m, a: m.var_mean(a, 0, keepdim=True)[1], [(2, 3)], ANY),
                 ("all", lambda m, a: m.var_mean(a, correction=0)[0], [(2, 3)], ANY)],
    "std_mean": [("d1", lambda m, a: _both(m.std_mean(a, 1, unbiased=False)), [(2, 3)], ANY),
                 ("std", lambda m, a: m.std_mean(a)[0], [(4,)], ANY)],
}
