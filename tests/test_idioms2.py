"""Idioms of tensor creation, dtype promotion, indexing, shapes, statistics and sorting,
compared with torch: the cases where tapegrad once answered differently."""
import math
import warnings

import numpy as np

import tapegrad as tg


def test_searchsorted_places_nan_and_unsorted_rows_as_torch(torch_ref):
    nan, inf = math.nan, math.inf
    cases = [([1.0, 2.0, nan], [nan, 3.0, 1.5, -inf]),
             ([nan, 1.0, 2.0], [0.0, 1.0, 2.0, nan]),
             ([1.0, nan, nan, 3.0], [2.0, 3.0, 4.0]),
             ([3.0, 1.0, 2.0, 0.0], [0.5, 1.0, 2.5]),
             ([], [1.0])]
    for bounds, values in cases:
        for right in (False, True):
            got = tg.searchsorted(tg.tensor(bounds), tg.tensor(values), right=right)
            want = torch_ref.searchsorted(torch_ref.tensor(bounds), torch_ref.tensor(values),
                                          right=right)
            assert got.tolist() == want.tolist(), (bounds, values, right)
    rows = [[1.0, nan, 5.0], [2.0, 4.0, nan]]
    got = tg.searchsorted(tg.tensor(rows), tg.tensor([[nan, 5.0], [4.0, 9.0]]), side="right")
    want = torch_ref.searchsorted(torch_ref.tensor(rows), torch_ref.tensor([[nan, 5.0], [4.0, 9.0]]),
                                  side="right")
    assert got.tolist() == want.tolist()


def _outcome(f):
    try:
        r = f()
    except Exception as e:   # noqa: BLE001 - the error is the outcome compared
        return type(e).__name__, str(e).replace("tapegrad", "torch")
    return str(r.dtype).replace("tapegrad", "torch"), r.tolist(), tuple(r.shape), r.stride()


def _view_dtype_cases(m):
    return [lambda: m.tensor([1.0, 2.0]).view(m.int32),
            lambda: m.tensor([1.5]).view(m.int32),
            lambda: m.arange(4, dtype=m.int32).view(m.int64),
            lambda: m.arange(4, dtype=m.int32).reshape(2, 2).view(m.uint8),
            lambda: m.arange(6.0).reshape(2, 3)[:, :2].view(m.int32),
            lambda: m.tensor([True, False]).view(m.uint8),
            lambda: m.tensor([-1], dtype=m.int8).view(m.uint8),
            lambda: m.arange(6.0).reshape(2, 3).t().view(m.float64),
            lambda: m.arange(3.0).view(m.float64),
            lambda: m.tensor(1.0).view(m.float64),
            lambda: m.arange(8, dtype=m.int32).reshape(2, 4)[:, 1:3].view(m.int64),
            lambda: m.arange(6, dtype=m.int32).reshape(2, 3)[:, :2].view(m.int64),
            lambda: (m.ones(2, requires_grad=True) * 2).view(m.float64)]


def test_view_as_another_dtype_reinterprets_memory_as_torch(torch_ref):
    for got, want in zip(_view_dtype_cases(tg), _view_dtype_cases(torch_ref)):
        assert _outcome(got) == _outcome(want)
    a = tg.zeros(2)
    b = a.view(tg.int32)
    b[0] = 1065353216      # float32 1.0's bits
    b.add_(1)
    assert a.tolist()[0] == np.float32(1.0000001) and a._version == b._version == 2
    w = tg.ones(2, requires_grad=True)
    assert not w.view(tg.int32).requires_grad and not w.view(tg.float32).requires_grad


def _norm_cases(m):
    x = m.tensor([[1.0, 4.0, 2.0, 8.0], [3.0, 3.0, 9.0, 0.5], [7.0, 1.0, 2.0, 6.0]])
    return [lambda: x.norm("nuc"),
            lambda: x.norm(p="nuc", dim=(0, 1), keepdim=True),
            lambda: m.norm(m.ones(2, 3, 3), "nuc", dim=(2, 0), keepdim=True),
            lambda: m.norm(x, "nuc", dtype=m.float64),
            lambda: m.ones(2, 3, 4).norm("nuc"),
            lambda: m.ones(2, 3, 3).norm("fro", dim=(0, 1, 2)),
            lambda: m.ones(2, 3, 3).norm("nuc", dim=1),
            lambda: m.ones(3, 3).norm("abc")]


def test_tensor_norm_takes_torchs_matrix_norms(torch_ref):
    for got, want in zip(_norm_cases(tg), _norm_cases(torch_ref)):
        a, b = _outcome(got), _outcome(want)
        assert a[0] == b[0] and a[2:] == b[2:]
        assert np.allclose(a[1], b[1], rtol=1e-5) if a[0] != "RuntimeError" else a == b
    grads = []
    for m in (tg, torch_ref):
        x = m.tensor([[1.0, 4.0, 2.0], [3.0, 3.0, 9.0]], requires_grad=True)
        x.norm("nuc").backward()
        grads.append(x.grad.tolist())
    assert np.allclose(grads[0], grads[1], rtol=1e-4, atol=1e-6)


def _numpy_memory_cases(m):
    reversed_ = np.arange(4.0)[::-1]
    big_endian = np.arange(3, dtype=">f4")
    packed = np.zeros(3, dtype=[("a", "f4"), ("b", "u1")])["a"]
    return [lambda: m.tensor(reversed_), lambda: m.as_tensor(reversed_),
            lambda: m.from_numpy(reversed_), lambda: m.tensor(big_endian),
            lambda: m.tensor(big_endian, dtype=m.float64), lambda: m.as_tensor(big_endian),
            lambda: m.from_numpy(big_endian), lambda: m.asarray(big_endian),
            lambda: m.from_numpy(packed), lambda: m.tensor(packed),
            lambda: m.from_numpy(np.array(["a"])), lambda: m.from_numpy(np.array([None]))]


def test_numpy_memory_torch_cannot_read_raises_as_torch(torch_ref):
    for got, want in zip(_numpy_memory_cases(tg), _numpy_memory_cases(torch_ref)):
        a, b = _outcome(got), _outcome(want)
        if a[0] == "TypeError":   # (the supported dtypes torch lists are more than tapegrad's)
            assert a[1].split(". The only")[0] == b[1].split(". The only")[0]
        else:
            assert a == b


def _shape_error_cases(m):
    x = m.arange(12.0)
    return [lambda: x.unflatten(0, (5, -1)), lambda: x.unflatten(0, (0, -1)),
            lambda: x.unflatten(0, ()), lambda: m.zeros(2, 12).unflatten(-1, (5, 2)),
            lambda: m.zeros(0).unflatten(0, (2, -1)), lambda: x.unflatten(0, (-1, 2, 2)),
            lambda: m.zeros(2, 3, 4).movedim((0, -3), (0, 1)),
            lambda: m.zeros(2, 3, 4).movedim((0, 1), (-2, 1)),
            lambda: m.zeros(2, 3, 4).movedim((0, 0), (0, 7)),
            lambda: m.repeat_interleave(m.tensor([1, 2]), m.tensor([1, 2, 3]), dim=0),
            lambda: m.repeat_interleave(m.tensor([1, 2]), m.tensor([[1]]), dim=0),
            lambda: m.diff(m.ones(2, 3), prepend=m.ones(3, 1)),
            lambda: m.diff(m.ones(2, 3), dim=0, append=m.ones(1, 4)),
            lambda: m.diff(m.ones(2, 3), prepend=m.tensor(0.0)),
            lambda: m.diff(m.ones(2, 3), n=0, append=m.ones(2, 1, 1)),
            lambda: m.gradient(m.tensor([1.0, 4.0, 9.0]), spacing=(m.tensor(2.0),))]


def test_shape_ops_raise_torchs_errors(torch_ref):
    for got, want in zip(_shape_error_cases(tg), _shape_error_cases(torch_ref)):
        assert _outcome(got) == _outcome(want)
    # torch's 'unexpected' unflatten errors go on with its C++ stack: the same first lines
    for sizes in [(-1, -1), (3, -2)]:
        a, b = (_outcome(lambda: m.arange(12.0).unflatten(0, sizes)) for m in (tg, torch_ref))
        assert a[0] == b[0] and b[1].startswith(a[1] + "\nException raised")
    a, b = (_outcome(lambda: m.zeros(0).unflatten(0, (0, -1))) for m in (tg, torch_ref))
    assert a[0] == b[0] and b[1].startswith(a[1] + "\nException raised")


def _index_error_cases(m):
    x = m.zeros(5)
    return [lambda: x[::0], lambda: x.__setitem__(slice(None, None, 0), 1.0),
            lambda: x[::-1], lambda: x.__setitem__(slice(None, None, -2), 1.0),
            lambda: m.take_along_dim(m.ones(2, 3), m.tensor([[0]]).float(), dim=1),
            lambda: m.take_along_dim(m.ones(2, 3), m.tensor([[0]], dtype=m.int32), dim=1),
            lambda: m.take_along_dim(m.ones(2, 3), m.tensor([0], dtype=m.int32)),
            lambda: m.ones(2, 2) @ m.ones(2, 2, dtype=m.int64),
            lambda: m.ones(2, 2, dtype=m.int16) @ m.ones(2, 2),
            lambda: m.baddbmm(m.ones(1, 2, 2), m.ones(1, 2, 2, dtype=m.int64), m.ones(1, 2, 2))]


def test_indexing_and_products_raise_torchs_errors(torch_ref):
    for got, want in zip(_index_error_cases(tg), _index_error_cases(torch_ref)):
        assert _outcome(got) == _outcome(want)


def test_index_reduce_warns_it_is_beta_as_torch(torch_ref):
    messages = [_warnings_of(m, lambda m: m.ones(3).index_reduce(0, m.tensor([0]),
                                                                m.tensor([2.0]), "prod"))
                for m in (tg, torch_ref)]
    assert messages[0] == messages[1] == ["index_reduce() is in beta and the API may change "
                                          "at any time."]


def _int_float_comparisons(m):
    out = []
    for x in (m.tensor([1, 2, 16777217]), m.tensor([1, 2], dtype=m.int8),
              m.tensor([True, False])):
        for y in (2.0000001, 16777216.0, 0.5, 1e39, math.nan):
            out.append([(x == y).tolist(), (x < y).tolist(), x.ge(y).tolist(),
                        (y > x).tolist()])
    return out


def test_int_tensor_against_a_float_compares_in_the_default_dtype(torch_ref):
    assert _int_float_comparisons(tg) == _int_float_comparisons(torch_ref)

    def f(x):
        return tg.where(x.long() == 2.0000001, x, x * 3).sum()
    tape = tg.record(f, tg.tensor([2.0, 3.0]))
    value, (grad,) = tape.value_and_grad(np.array([2.0, 5.0], np.float32))
    assert value == 17.0 and grad.tolist() == [1.0, 3.0]


def _factory_option_cases(m):
    return [lambda: m.empty(2, layout=m.strided), lambda: m.zeros(2, layout=m.strided),
            lambda: m.ones(2, pin_memory=False), lambda: m.full((2,), 1.0, layout=m.strided),
            lambda: m.arange(3, layout=m.strided), lambda: m.eye(2, layout=m.strided),
            lambda: m.linspace(0, 1, 3, layout=m.strided),
            lambda: m.empty(2, 3, 4, 5, memory_format=m.channels_last),
            lambda: m.empty(2, memory_format=m.contiguous_format),
            lambda: m.empty(2, memory_format=m.channels_last),
            lambda: m.empty((2, 3), memory_format=m.preserve_format),
            lambda: m.ones(2, pin_memory=True), lambda: m.zeros(2, layout="strided"),
            lambda: m.ones(2, 3).t().clone(memory_format=m.contiguous_format),
            lambda: m.ones(2, 3).t().clone(memory_format=m.preserve_format),
            lambda: m.ones(2, 3).t().clone()]


def test_factory_functions_take_torchs_layout_options(torch_ref):
    for got, want in zip(_factory_option_cases(tg), _factory_option_cases(torch_ref)):
        a, b = _outcome(got), _outcome(want)
        if len(b) == 4:   # (empty's values are torch's garbage; channels_last is C order here)
            a, b = (a[0], a[2], a[3] if len(b[2]) < 4 else None), \
                (b[0], b[2], b[3] if len(b[2]) < 4 else None)
        assert a == b


def test_tensor_of_a_list_of_ndarrays_warns_as_torch(torch_ref):
    arr = np.ones(2)
    for data in ([arr, arr], [[1.0, 2.0], arr], [np.float64(1.0), 2.0]):
        assert _warnings_of(tg, lambda m: m.tensor(data)) == \
            _warnings_of(torch_ref, lambda m: m.tensor(data))


def _warnings_of(m, f):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m.set_warn_always(True)
        try:
            f(m)
        finally:
            m.set_warn_always(False)
    return [str(w.message).split(" (Triggered")[0] for w in caught]


def test_scatter_with_reduce_and_a_tensor_src_warns_as_torch(torch_ref):
    cases = [lambda m: m.ones(3).scatter(0, m.tensor([0]), m.tensor([2.0]), reduce="add"),
             lambda m: m.ones(3).scatter_(0, m.tensor([0, 0]), m.tensor([2.0, 3.0]),
                                          reduce="multiply"),
             lambda m: m.ones(3).scatter_(0, m.tensor([0]), 2.0, reduce="multiply")]
    for f in cases:
        assert _warnings_of(tg, f) == _warnings_of(torch_ref, f)


def test_float64_logspace_is_torchs_bit_for_bit(torch_ref):
    rng = np.random.default_rng(0)
    for _ in range(60):
        start, end = rng.uniform(-10, 10, 2).tolist()
        steps = int(rng.integers(2, 30))
        base = float(rng.choice([10.0, 2.0, 3.0, 2.718281828, 0.5]))
        got = tg.logspace(start, end, steps, base=base, dtype=tg.float64).numpy()
        want = torch_ref.logspace(start, end, steps, base=base, dtype=torch_ref.float64).numpy()
        assert np.array_equal(got, want)
    for args in [(0, 400, 3, 10.0), (0, 401, 2, -10.0), (0, 1, 3, -2.0), (-3, 3, 7, 0.0)]:
        got = tg.logspace(*args[:3], base=args[3], dtype=tg.float64).tolist()
        want = torch_ref.logspace(*args[:3], base=args[3], dtype=torch_ref.float64).tolist()
        assert str(got) == str(want)


def _nested_tensor_data(m):
    return [lambda: m.tensor([[m.tensor([7.5])]]),
            lambda: m.tensor([[m.tensor([7.5])]], dtype=m.float64),
            lambda: m.tensor([[1.0, 2.0], m.tensor([3.0, 4.0])]),
            lambda: m.tensor([[22.5], [m.tensor([8])]], dtype=m.int64),
            lambda: m.tensor([[31, m.tensor([-23])]]),
            lambda: m.tensor([[m.tensor([8])], [22.5]]),
            lambda: m.tensor([m.tensor([1.0, 2.0]), [3.0, 4.0]]),
            lambda: m.tensor([m.tensor([[7.5]])]),
            lambda: m.tensor([[1, 2], [3]], dtype=m.int64)]


def test_tensors_nested_in_data_are_items_where_the_shape_ends(torch_ref):
    for got, want in zip(_nested_tensor_data(tg), _nested_tensor_data(torch_ref)):
        assert _outcome(got) == _outcome(want)


def _expand_narrow_cases(m):
    return [lambda: m.zeros(1, 3, 2).expand(1, 1, 3), lambda: m.zeros(3, 2).expand(1, 3),
            lambda: m.zeros(2).expand(-1, -2), lambda: m.zeros(2).expand(-1, -1, 2),
            lambda: m.zeros(1, 3).expand(-2, 3), lambda: m.zeros(2).expand(),
            lambda: m.tensor(1.0).expand(()), lambda: m.tensor(1.0).expand(-1, 2),
            lambda: m.tensor(1.0).expand(3), lambda: m.zeros(3, 4).narrow(0, 5, -1),
            lambda: m.zeros(3, 4).narrow(5, 0, -1), lambda: m.zeros(3, 4).narrow(0, 2, 5),
            lambda: m.zeros(3, 4).narrow(0, -4, 2)]


def test_expand_and_narrow_check_as_torch_does(torch_ref):
    for got, want in zip(_expand_narrow_cases(tg), _expand_narrow_cases(torch_ref)):
        assert _outcome(got) == _outcome(want)


def test_gradient_refuses_uint8_as_torch(torch_ref):
    cases = [lambda m: m.gradient(m.tensor([1, 5, 2], dtype=m.uint8)),
             lambda m: m.gradient(m.tensor([[1, 5], [2, 0]], dtype=m.uint8), dim=7),
             lambda m: m.gradient(m.tensor([1, 5, 2], dtype=m.int8))]
    for f in cases:
        got, want = _outcome(lambda: f(tg)[0]), _outcome(lambda: f(torch_ref)[0])
        assert got == want


def _out_of_range_cases(m):
    x = m.zeros(3, 4, 5)
    ix = m.tensor
    return [lambda: x[:, :, ix([7])], lambda: x[ix([0]), :, ix([7])], lambda: x[..., ix([5])],
            lambda: x[1, :, ix([5])], lambda: x[None, :, ix([4])], lambda: x[:, :, [0, 9]],
            lambda: x[:, ix([True, False, True])][:, ix([4])],
            lambda: x.__setitem__((slice(None), ix([4])), 1.0),
            lambda: m.zeros(3, 2).index_add(0, ix([3]), m.ones(1, 2)),
            lambda: m.zeros(3, 2).index_add(0, ix([3]), m.ones(1, 2), alpha=2),
            lambda: m.zeros(3, 2, dtype=m.int64).index_add(0, ix([3]), m.ones(1, 2).long()),
            lambda: m.zeros(3).index_add(0, ix([3]), m.ones(1)),
            lambda: m.zeros(3, 3).index_add(2, ix([[0]]).bool(), m.ones(3, 3)),
            lambda: m.zeros(3, 3).scatter(2, ix([[0]]).float(), 1.0),
            lambda: m.zeros(2).index_select(1, ix([0]).float()),
            lambda: m.zeros(2).index_fill(1, ix([0]).float(), 1.0),
            lambda: x[:, m.ones(4, 4, dtype=m.bool)], lambda: x[None, m.ones(4, dtype=m.bool)],
            lambda: x[1, :, m.ones(4, dtype=m.bool)], lambda: x[..., [True] * 4],
            lambda: x.__setitem__((m.ones(3, dtype=m.bool), m.ones(3, dtype=m.bool)), 1.0)]


def test_index_errors_name_dims_as_torch(torch_ref):
    for got, want in zip(_out_of_range_cases(tg), _out_of_range_cases(torch_ref)):
        assert _outcome(got) == _outcome(want)


def _repeat_interleave_cases(m):
    x = m.tensor([1, 2, 3])
    return [lambda: m.repeat_interleave(x, m.tensor([1, 0, 2]), output_size=2),
            lambda: x.repeat_interleave(2, output_size=5),
            lambda: x.repeat_interleave(2, output_size=6),
            lambda: m.repeat_interleave(m.tensor([2, 1]), output_size=2),
            lambda: x.repeat_interleave(m.tensor([2.0, 1.0, 1.0])),
            lambda: x.repeat_interleave(m.tensor([2, 1, 1], dtype=m.int32)),
            lambda: x.repeat_interleave(m.tensor(2, dtype=m.int16)),
            lambda: x.repeat_interleave(-1), lambda: x.repeat_interleave(m.tensor(-1)),
            lambda: x.repeat_interleave(m.tensor(2), output_size=5)]


def test_repeat_interleave_checks_counts_as_torch(torch_ref):
    for got, want in zip(_repeat_interleave_cases(tg), _repeat_interleave_cases(torch_ref)):
        assert _outcome(got) == _outcome(want)
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert x.repeat_interleave(tg.tensor(2)).grad_fn.name() == "IndexSelectBackward0"


def test_quantile_names_a_bad_q_as_torch_prints_it(torch_ref):
    for q in [1.0421134125509355, -0.011528682713703567, 1.0000001, -1e-7, 1e10, math.nan]:
        got = _outcome(lambda: tg.quantile(tg.arange(3.0), q))
        want = _outcome(lambda: torch_ref.quantile(torch_ref.arange(3.0), q))
        assert got == want


def test_unique_along_a_dim_orders_nan_rows_as_torch(torch_ref):
    nan = math.nan
    cases = [([nan, 1.0], 0), ([[1.0, 2.0], [nan, 0.0], [1.0, 2.0]], 0),
             ([[nan, 1.0, 2.0], [2.0, nan, nan]], 0), ([[1.0, 1.0, nan], [nan, 1.0, 2.0]], 1),
             ([[[0.0, 2.0, nan]], [[nan, 2.0, 1.0]], [[0.0, 2.0, 0.0]]], 2)]
    for data, dim in cases:
        got = tg.unique(tg.tensor(data), dim=dim, return_inverse=True, return_counts=True)
        want = torch_ref.unique(torch_ref.tensor(data), dim=dim, return_inverse=True,
                                return_counts=True)
        assert str([t.tolist() for t in got]) == str([t.tolist() for t in want])
    a, b = (_outcome(lambda: m.unique(m.zeros(0, 0, 3), dim=1)) for m in (tg, torch_ref))
    assert a == b


def _fill_overflow_cases(m):
    big = m.tensor(1e40, dtype=m.float64)
    cases = []
    for dt in (m.uint8, m.int8, m.int32, m.int64, m.float32):
        x = m.tensor([0, 1, 2], dtype=dt)
        for v in (m.tensor(300.0), m.tensor(-0.5), m.tensor(math.nan), big):
            cases.append(lambda x=x, v=v: x.masked_fill(x > 0, v))
            cases.append(lambda x=x, v=v: x.index_fill(0, m.tensor([0]), v))
        cases.append(lambda x=x: x.clamp(min=1e40))
        cases.append(lambda x=x: x.clamp(max=2.5))
    cases.append(lambda: m.tensor([0.0, 1.0], dtype=m.float64).clamp(min=1e40))
    cases.append(lambda: m.zeros(2).lerp(m.ones(2), 1e40))
    cases.append(lambda: m.zeros(2).lerp(m.ones(2), math.inf))
    cases.append(lambda: m.zeros(2, dtype=m.float64).lerp(m.ones(2, dtype=m.float64), 1e40))
    return cases


def test_fills_and_bounds_convert_their_values_as_torch(torch_ref):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)   # (no numpy cast of a value past range)
        for got, want in zip(_fill_overflow_cases(tg), _fill_overflow_cases(torch_ref)):
            assert str(_outcome(got)) == str(_outcome(want))


def _alpha_cases(m):
    cases = []
    for dt in (m.float32, m.int8, m.uint8, m.bool):
        for alpha in (1e40, 300, -1, 2 ** 70, 2):
            cases.append(lambda dt=dt, a=alpha: m.ones(2, dtype=dt).add(m.ones(2, dtype=dt), alpha=a))
            if dt is not m.bool:
                cases.append(lambda dt=dt, a=alpha: m.ones(2, dtype=dt).sub(
                    m.ones(2, dtype=dt).int(), alpha=a))
    return cases


def test_add_converts_alpha_into_the_result_dtype_as_torch(torch_ref):
    for got, want in zip(_alpha_cases(tg), _alpha_cases(torch_ref)):
        assert _outcome(got) == _outcome(want)


def _addc_cases(m):
    cases = []
    for dt in (m.float32, m.int64, m.uint8):
        for value in (1e40, 300, 2.5, -1):
            cases.append(lambda dt=dt, v=value: m.ones(2, dtype=dt).addcmul(
                m.ones(2, dtype=dt), m.ones(2, dtype=dt), value=v))
            cases.append(lambda dt=dt, v=value: m.ones(2, dtype=dt).clone().addcmul_(
                m.ones(2, dtype=dt), m.ones(2, dtype=dt), value=v))
            cases.append(lambda dt=dt, v=value: m.ones(2, dtype=dt).float().addcdiv(
                m.ones(2), m.ones(2) * 2, value=v))
    return cases


def test_addcmul_value_converts_into_the_result_dtype_as_torch(torch_ref):
    for got, want in zip(_addc_cases(tg), _addc_cases(torch_ref)):
        assert _outcome(got) == _outcome(want)


def test_fill_diagonal_converts_its_value_as_torch(torch_ref):
    for name in ("uint8", "int8", "float32", "int64", "bool"):
        for v in (300, -1, 1e40, 2.7, math.nan):
            got = _outcome(lambda: tg.zeros(2, 2, dtype=getattr(tg, name)).fill_diagonal_(v))
            want = _outcome(lambda: torch_ref.zeros(2, 2, dtype=getattr(torch_ref, name))
                            .fill_diagonal_(v))
            assert str(got) == str(want)
