"""torch.return_types: the structseqs of ops with several outputs (`max(dim)`, `min(dim)`),
tuples whose items are also attributes, with torch's repr."""

__all__ = ["max", "min"]


class _StructSeq(tuple):
    """As torch's (Python structseqs): the field names in `__match_args__` and `n_fields`,
    no namedtuple `_fields` (code that tells namedtuples by it, as pytrees and default_collate
    do, treats these as plain tuples, rebuilt by `type(r)(items)`)."""
    __slots__ = ()
    __match_args__ = ()
    n_fields = n_sequence_fields = 0
    n_unnamed_fields = 0

    def __new__(cls, items):
        items = tuple(items)
        if len(items) != cls.n_fields:
            raise TypeError(f"tapegrad.return_types.{cls.__name__} takes a {cls.n_fields}-"
                            f"sequence ({len(items)}-sequence given)")
        return tuple.__new__(cls, items)

    def __repr__(self):
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(self.__match_args__, self))
        return f"tapegrad.return_types.{type(self).__name__}(\n{body})"

    def __reduce__(self):
        return type(self), (tuple(self),)


def _make(name, fields):
    ns = {"__slots__": (), "__match_args__": fields, "n_fields": len(fields),
          "n_sequence_fields": len(fields), "__module__": __name__}
    for i, f in enumerate(fields):
        ns[f] = property(lambda self, i=i: tuple.__getitem__(self, i))
    return type(name, (_StructSeq,), ns)


max = _make("max", ("values", "indices"))  # noqa: A001
min = _make("min", ("values", "indices"))  # noqa: A001

# sort & co (tapegrad/structops.py)
__all__ += ["sort", "topk", "kthvalue", "median"]
sort = _make("sort", ("values", "indices"))
topk = _make("topk", ("values", "indices"))
kthvalue = _make("kthvalue", ("values", "indices"))
median = _make("median", ("values", "indices"))

# cummax / cummin (tapegrad/scans.py)
__all__ += ["cummax", "cummin"]
cummax = _make("cummax", ("values", "indices"))
cummin = _make("cummin", ("values", "indices"))

# frexp (tapegrad/mathops.py)
__all__ += ["frexp"]
frexp = _make("frexp", ("mantissa", "exponent"))

# nanmedian(dim), mode (tapegrad/orderstats.py)
__all__ += ["nanmedian", "mode"]
nanmedian = _make("nanmedian", ("values", "indices"))
mode = _make("mode", ("values", "indices"))

# aminmax (tapegrad/paired.py)
__all__ += ["aminmax"]
aminmax = _make("aminmax", ("min", "max"))

# histogram (tapegrad/searching.py)
__all__ += ["histogram", "histogramdd"]
histogram = _make("histogram", ("hist", "bin_edges"))
histogramdd = _make("histogramdd", ("hist", "bin_edges"))

# geqrf and linalg's factorizations (tapegrad/linalg.py)
for _name, _fields in (
        ("geqrf", ("a", "tau")), ("linalg_slogdet", ("sign", "logabsdet")),
        ("slogdet", ("sign", "logabsdet")), ("linalg_inv_ex", ("inverse", "info")),
        ("linalg_solve_ex", ("result", "info")), ("linalg_cholesky_ex", ("L", "info")),
        ("linalg_svd", ("U", "S", "Vh")), ("linalg_eigh", ("eigenvalues", "eigenvectors")),
        ("linalg_qr", ("Q", "R")),
        ("linalg_lstsq", ("solution", "residuals", "rank", "singular_values")),
        ("svd", ("U", "S", "V")), ("qr", ("Q", "R")),
        ("triangular_solve", ("solution", "cloned_coefficient")),
        ("linalg_lu_factor", ("LU", "pivots")), ("linalg_lu_factor_ex", ("LU", "pivots", "info")),
        ("linalg_lu", ("P", "L", "U")), ("lu_unpack", ("P", "L", "U"))):
    globals()[_name] = _make(_name, _fields)
    __all__.append(_name)
del _fields

# what an op called with out=(...) returns: torch's max_out & co, the same fields
# (tapegrad/out_arg.py)
for _name in list(__all__):
    globals()[_name + "_out"] = _make(_name + "_out", globals()[_name].__match_args__)
    __all__.append(_name + "_out")
del _name
