"""#11 section 2: the namespace around the ops (devices, legacy types, constants, generators,
new_* constructors, torch.func), each snippet run with torch and with tapegrad and compared
(reprs with `torch.` read as `tapegrad.`)."""
import math
import pickle

import numpy as np
import pytest

import tapegrad
import fresh

torch = pytest.importorskip("torch")


def _run(src, m):
    """Run `src` with module `m` as `torch`; the printed lines, errors as 'Type: message'."""
    out = []
    env = {"torch": m, "p": lambda *a: out.append(" ".join(map(str, a)))}
    for line in src.strip().splitlines():
        try:
            exec(line, env)
        except Exception as e:  # noqa: BLE001  (compared with torch's)
            out.append(f"{type(e).__name__}: {e}")
    return [s.replace("torch.", "tapegrad.").replace("'torch.", "'tapegrad.") for s in out]


SNIPPETS = {
    "device": """
d = torch.device('cpu'); p(repr(d), d, d.type, d.index)
p(repr(torch.device('cuda', 1)), torch.device('cuda:0'), torch.device('cpu') == torch.device('cpu'))
p(torch.device('cpu') == torch.device('cuda'), hash(torch.device('cpu')) == hash(torch.device('cpu')))
torch.device('foo')
torch.device('cuda:x')
torch.device('cuda', -1)
torch.device('cuda:0', 1)
x = torch.ones(2); p(repr(x.device), x.device == torch.device('cpu'), x.device.type)
p(x.to('cpu') is x, x.to(torch.device('cpu')) is x, x.cpu() is x, x.to('cpu', torch.float64).dtype)
p(x.to(device='cpu', dtype=torch.float64).dtype, x.to(x.double()).dtype, x.to('cpu', copy=True) is x)
x.to('cuda')
x.cuda()
torch.zeros(2, device='cuda')
torch.ones(2, device=torch.device('cuda', 0))
p(torch.zeros(2, device='cpu'), torch.tensor([1.0], device=torch.device('cpu')))
p(torch.cuda.is_available(), torch.cuda.device_count(), torch.backends.mps.is_available())
p(torch.cuda.empty_cache(), torch.cuda.memory_allocated(), torch.cuda.max_memory_allocated())
p(torch.cuda.memory_reserved(), torch.version.cuda, torch.backends.cuda.matmul.allow_tf32)
torch.backends.cuda.matmul.allow_tf32 = True; p(torch.backends.cuda.matmul.allow_tf32)
torch.backends.cuda.matmul.allow_tf32 = False
torch.cuda.get_device_name()
torch.set_default_device('cpu'); p(torch.get_default_device())
torch.set_default_device(device='cpu'); p(torch.get_default_device())
with torch.device('cpu') as d: p(d, torch.zeros(1).device, torch.get_default_device())
""",
    "legacy": """
p(torch.FloatTensor([1, 2]), torch.DoubleTensor([1]), torch.LongTensor([1.5, 2]), torch.BoolTensor([1, 0]))
p(torch.LongTensor(2, 3).shape, torch.FloatTensor().shape, torch.IntTensor([3]).dtype)
p(torch.FloatTensor(torch.ones(2)))
x = torch.ones(2); p(x.type(torch.DoubleTensor), x.type(torch.LongTensor).dtype, x.type('torch.DoubleTensor').dtype)
p(isinstance(x, torch.FloatTensor), isinstance(x.double(), torch.FloatTensor), isinstance(x.long(), torch.LongTensor))
p(torch.pi, torch.e, torch.inf, torch.nan)
""",
    "new": """
x = torch.ones(2, dtype=torch.float64)
p(x.new_zeros(2, 3), x.new_ones((2,)), x.new_full((2,), 7), x.new_empty(3).shape, x.new_empty(3).dtype)
p(x.new_tensor([1, 2]), x.new_zeros(2, dtype=torch.int64), x.new_tensor(3.5, requires_grad=True))
p(x.new_ones(2, requires_grad=True).is_leaf, x.new_tensor([1.0]).requires_grad)
p(torch.ones(2).type_as(x), x.ndimension(), x.nelement(), x.element_size(), torch.ones(1, dtype=torch.bool).element_size())
p(x.is_floating_point(), x.long().is_floating_point(), torch.ones(3).int().element_size())
p(torch.allclose(torch.ones(2), torch.ones(2) + 1e-9), torch.allclose(torch.ones(2), torch.ones(1)))
p(torch.allclose(torch.tensor([float('nan')]), torch.tensor([float('nan')]), equal_nan=True))
torch.allclose(torch.ones(2), torch.ones(2, dtype=torch.float64))
torch.allclose(torch.ones(2), torch.ones(3))
""",
    "random": """
p(torch.randn(size=(2, 3)).shape, torch.rand(size=[2]).shape, torch.randn(2, 3, dtype=torch.float64).dtype)
p(torch.randint(5, (3,)).dtype, torch.randint(2, 5, (4,)).shape, torch.randint(5, size=(2,)).shape)
p(torch.randint(0, 10, (2,), dtype=torch.float32).dtype, torch.randperm(4).dtype, torch.randperm(4).shape)
p(torch.normal(0., 1., (2,)).dtype, torch.normal(torch.zeros(2), 1.).shape, torch.normal(torch.zeros(2), torch.ones(3, 2)).shape)
torch.randint(5, 2, (2,))
torch.normal(0., -1., (2,))
torch.randperm(-1)
x = torch.zeros(3, requires_grad=True); x.uniform_()
y = torch.zeros(2, 3); p(y.uniform_(-1, 1) is y, y.normal_(0, 2).shape, sorted(set(torch.zeros(40).bernoulli_(0.5).tolist())))
torch.zeros(2).uniform_(2, 1)
torch.zeros(2).normal_(0, -1)
torch.zeros(2, dtype=torch.int64).uniform_()
g = torch.Generator(); p(g.manual_seed(3) is g, g.initial_seed(), g.device)
p(type(torch.manual_seed(0)).__name__, torch.initial_seed())
""",
}


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_namespace_as_torch(name):
    try:
        assert _run(SNIPPETS[name], tapegrad) == _run(SNIPPETS[name], torch)
    finally:
        # torch.set_default_device leaves a function mode on every later torch call (its
        # frames then show in tracebacks other tests compare): take it off again
        torch.set_default_device(None)
        tapegrad.set_default_device(None)


def test_generators_repeat_and_are_independent():
    g = tapegrad.Generator().manual_seed(1)
    draws = [f(generator=g) for f in (lambda **k: tapegrad.rand(3, **k),
                                      lambda **k: tapegrad.randn(2, 2, **k),
                                      lambda **k: tapegrad.randint(0, 9, (4,), **k),
                                      lambda **k: tapegrad.randperm(5, **k),
                                      lambda **k: tapegrad.normal(0.0, 2.0, (3,), **k))]
    g.manual_seed(1)
    tapegrad.manual_seed(123)     # the default generator does not disturb g
    tapegrad.rand(10)
    again = [tapegrad.rand(3, generator=g), tapegrad.randn(2, 2, generator=g),
             tapegrad.randint(0, 9, (4,), generator=g), tapegrad.randperm(5, generator=g),
             tapegrad.normal(0.0, 2.0, (3,), generator=g)]
    for a, b in zip(draws, again):
        assert np.array_equal(a.numpy(), b.numpy())
    state = g.get_state()
    a = tapegrad.rand(4, generator=g)
    g.set_state(state)
    assert np.array_equal(a.numpy(), tapegrad.rand(4, generator=g).numpy())
    assert sorted(tapegrad.randperm(6).tolist()) == list(range(6))
    w = tapegrad.empty(400, 100)
    v = w.uniform_(-2.0, 3.0, generator=g).numpy()
    assert v.min() >= -2.0 and v.max() < 3.0 and abs(v.mean() - 0.5) < 0.05
    v = w.normal_(1.0, 0.5).numpy()
    assert abs(v.mean() - 1.0) < 0.01 and abs(v.std() - 0.5) < 0.01
    assert abs(w.bernoulli_(0.25).numpy().mean() - 0.25) < 0.01
    ints = tapegrad.randint(3, 6, (200,)).numpy()
    assert ints.min() >= 3 and ints.max() <= 5
    with pytest.raises(TypeError, match=r"rand\(\) received an invalid combination"):
        tapegrad.rand(2, generator=3)     # (torch's parser: no form takes an int generator)


FUNC = """
x = torch.tensor([1., 2., 3.], dtype=torch.float64)
y = torch.tensor([0.5, -1., 2.], dtype=torch.float64)
f = lambda x, y: (x.sin() * y * x).sum()
p(torch.func.grad(f)(x, y), torch.func.grad(f, argnums=1)(x, y))
p(torch.func.grad(f, argnums=(0, 1))(x, y))
p(torch.func.grad_and_value(f)(x, y))
p(torch.func.grad_and_value(lambda x: (f(x, y), x * 2), has_aux=True)(x))
p(torch.func.grad(lambda d: (d['a'] * d['b'].exp()).sum())({'a': x, 'b': y}))
p(torch.func.grad(lambda x: (x.detach() * 2).sum())(x), x.requires_grad)
o, fn = torch.func.vjp(lambda x, y: x * y.exp(), x, y); p(o, fn(torch.ones(3, dtype=torch.float64)))
p(fn(y))
p(torch.func.vjp(lambda x: (x ** 2, x.sin()), x)[1]((torch.ones(3, dtype=torch.float64), y)))
p(torch.func.jacrev(lambda x: x.sin() * x.sum())(x))
p(torch.func.jacrev(lambda x, y: (x * y, x + y), argnums=(0, 1))(x, y))
p(torch.func.jacrev(lambda x, y: (x * y).sum(), argnums=1)(x, y))
p(torch.func.hessian(lambda x: (x.sin() * x * x).sum())(x))
p(torch.func.hessian(f, argnums=1)(x, y))
torch.func.grad(lambda x: x ** 3)(x)
torch.func.grad(lambda x: 3.0)(x)
torch.func.grad(lambda x: x.sum(), argnums=2)(x)
xr = x.clone().requires_grad_(); g = torch.func.grad(lambda x: (x ** 3).sum())(xr); p(g.requires_grad)
g.sum().backward(); p(xr.grad)
w = torch.tensor(2.0, requires_grad=True)   # closed over: the results keep a graph to it
g = torch.func.grad(lambda x: (w * x ** 2).sum())(x); p(g, g.requires_grad)
g.sum().backward(); p(w.grad)
o, fn = torch.func.vjp(lambda x: w * x ** 2, x); p(o.requires_grad, fn(torch.ones(3, dtype=torch.float64)))
p(torch.func.grad_and_value(lambda x: (w * x).sum())(x))
p(torch.func.grad(lambda x: (x ** 2).sum())(x).requires_grad)
ms = [torch.nn.Linear(3, 2) for _ in range(3)]
params, buffers = torch.func.stack_module_state(ms)
p({k: (tuple(v.shape), v.requires_grad, v.is_leaf) for k, v in params.items()}, buffers)
p(all(torch.equal(params["weight"][i], m.weight) for i, m in enumerate(ms)))
data = torch.ones(4, 3)
out = torch.func.vmap(lambda ps, d: torch.func.functional_call(ms[0], ps, (d,)), (0, None))(params, data)
p(out.shape, torch.allclose(out[1], ms[1](data)))
ms[0].eval()
torch.func.stack_module_state(ms)
"""


ACCELERATOR = """
a = torch.accelerator
p(a.is_available(), a.current_accelerator(), a.device_count())
device = a.current_accelerator().type if a.is_available() else "cpu"
p(device)
a.synchronize()
"""


def test_accelerator_as_torch_without_one():
    assert _run(ACCELERATOR, tapegrad) == _run(ACCELERATOR, torch)


def test_func_transforms_as_torch():
    import torch.func  # noqa: F401  (torch.func is a submodule)
    assert _run(FUNC, tapegrad) == _run(FUNC, torch)


def test_distributions_data_save_load_on_first_use():
    """tapegrad.distributions, testing, save/load and utils.data are not imported by `import
    tapegrad` (start-up time) but are there on first use, as attributes, in dir() and by import
    statements."""
    code = ("import sys, tapegrad\n"
            "lazy = ('distributions', 'testing', 'serialization', 'utils.data')\n"
            "print(any('tapegrad.' + m in sys.modules for m in lazy), "
            "'distributions' in dir(tapegrad))\n"
            "print(tapegrad.distributions.Normal(0.0, 1.0))\n"
            "from tapegrad import distributions\n"
            "import tapegrad.distributions.normal as n\n"
            "print(distributions is tapegrad.distributions, n.Normal is distributions.Normal)\n"
            "from tapegrad.utils.data import DataLoader\n"
            "print(tapegrad.save is tapegrad.serialization.save, 'data' in dir(tapegrad.utils), "
            "tapegrad.utils.data.DataLoader is DataLoader)\n"
            "try:\n    tapegrad.no_such_thing\nexcept AttributeError as e:\n    print(e)\n")
    out = fresh.run(code).stdout.splitlines()
    assert out == ["False True", "Normal(loc: 0.0, scale: 1.0)", "True True", "True True True",
                   "module 'tapegrad' has no attribute 'no_such_thing'"]


_ATTRIBUTE_CASES = {
    "flags": lambda m: tuple(getattr(m.ones(2, 3), a) for a in (
        "is_cpu", "is_cuda", "is_sparse", "is_quantized", "is_meta", "is_nested", "nbytes",
        "itemsize", "layout")) + (m.ones(2, 3).get_device(), m.ones(2).is_same_size(m.ones(2))),
    "strided": lambda m: m.strided,
    "memory_formats": lambda m: (m.contiguous_format, m.preserve_format, m.channels_last,
                                 m.channels_last_3d),
    "clone_contiguous_format": lambda m: m.arange(3.0).clone(memory_format=m.contiguous_format),
    "H": lambda m: m.ones(2, 3, requires_grad=True).H,
    "H_1d": lambda m: m.ones(3).H,
    "H_3d": lambda m: m.ones(2, 3, 4).H,
    "mH": lambda m: m.arange(24.0).reshape(2, 3, 4).mH,
    "mH_1d": lambda m: m.ones(3).mH,
    "adjoint_1d": lambda m: m.ones(3).adjoint(),
    "sum_to_size": lambda m: m.arange(6.0, requires_grad=True).reshape(2, 3).sum_to_size(3),
    "sum_to_size_keep": lambda m: m.arange(6.0).reshape(2, 3).sum_to_size(2, 1),
    "sum_to_size_bad": lambda m: m.ones(2, 3).sum_to_size(4),
    "split_with_sizes": lambda m: m.arange(3.0, requires_grad=True).split_with_sizes([1, 2]),
    "split_with_sizes_bad": lambda m: m.ones(3).split_with_sizes([1, 1]),
    "new_sizes": lambda m: m.ones(2).new(2, 3).shape,
    "new_tuple_is_data": lambda m: m.ones(2).new((2, 3)),
    "new_list": lambda m: m.ones(2, dtype=m.float64).new([[1, 2]]),
    "new_empty": lambda m: m.ones(2).new().shape,
    "new_other_dtype": lambda m: m.ones(2).new(m.arange(3)),
    "new_number": lambda m: m.ones(2).new(2.5),
    "pin_memory": lambda m: m.ones(2).pin_memory(),
    "diagflat": lambda m: m.arange(3.0).diagflat(1),
    "storage_offset": lambda m: (m.ones(2, 3).t().storage_offset(),
                                 m.ones(4, 3)[1:, 2:].storage_offset()),
    "data_ptr": lambda m: (lambda a: a[1:].data_ptr() - a.data_ptr())(m.ones(4, 3)),
}


@pytest.mark.parametrize("name", sorted(_ATTRIBUTE_CASES))
def test_tensor_attributes_as_torch(name):
    torch = pytest.importorskip("torch")
    out = []
    for m in (tapegrad, torch):
        try:
            out.append(repr(_ATTRIBUTE_CASES[name](m)).replace(m.__name__, "M"))
        except Exception as e:     # noqa: BLE001 (the error is compared)
            out.append(f"{type(e).__name__}: {e}".replace(m.__name__, "M"))
    assert out[0] == out[1]


def test_tensor_attributes_without_torch():
    x = tapegrad.ones(2, 3)
    assert x.is_cpu and not x.is_cuda and x.nbytes == 24 and x.layout is tapegrad.strided
    assert repr(tapegrad.strided) == "tapegrad.strided"
    assert pickle.loads(pickle.dumps(tapegrad.channels_last)) is tapegrad.channels_last
    assert isinstance(tapegrad.preserve_format, tapegrad.memory_format)
    assert x.new(4).shape == (4,) and x.new([1, 2]).tolist() == [1.0, 2.0]
    assert x.sum_to_size(1, 3).tolist() == [[2.0, 2.0, 2.0]]
    with pytest.raises(RuntimeError, match="Cannot access accelerator device"):
        x.pin_memory()


_FORMAT_CASES = [
    "m.zeros_like(x, memory_format=3)", "m.zeros_like(x, layout=3)",
    "x.contiguous(memory_format=3)", "m.zeros_like(x, memory_format=m.channels_last)",
    "x.clone(memory_format=3)", "x.is_contiguous(memory_format=m.channels_last)",
    "m.ones(1, 2, 3, 3).is_contiguous(memory_format=m.channels_last)",
    "m.rand_like(x, memory_format=m.preserve_format).shape",
    "x.to(memory_format=m.channels_last)", "m.zeros_like(x, layout=m.strided)",
    "x.contiguous(memory_format=m.preserve_format)",
    "x.is_contiguous(memory_format=m.preserve_format)", "x.is_contiguous(memory_format=3)",
    "m.ones(1, 2, 3, 3).permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)"
    ".is_contiguous(memory_format=m.channels_last)",
    "m.empty(0, 2, 3, 3).is_contiguous(memory_format=m.channels_last)",
    "m.ones(1, 2, 3, 3).clone(memory_format=m.channels_last_3d)",
    "m.ones(2, 1, 1, 1).is_contiguous(memory_format=m.channels_last)",
    "m.ones(2, 3, 1, 1).is_contiguous(memory_format=m.channels_last)",
    "m.ones(1, 1, 1, 2, 3).is_contiguous(memory_format=m.channels_last_3d)",
    "m.tensor(1.0).is_contiguous(memory_format=m.channels_last)",
    "m.full_like(x, 2, memory_format=m.contiguous_format)",
    "m.randint_like(x, 3, memory_format=m.channels_last)",
    "m.ones(2, 2).to(m.float64, memory_format=m.contiguous_format)",
]


@pytest.mark.parametrize("case", _FORMAT_CASES)
def test_memory_format_arguments_as_torch(case):
    out = []
    for m in (tapegrad, torch):
        x = m.ones(2, 3)
        try:
            text = repr(eval(case, {"m": m, "x": x}))
        except Exception as e:     # noqa: BLE001 (the error is compared)
            text = f"{type(e).__name__}: {e}"
        out.append(text.replace("tapegrad", "M").replace("torch", "M"))   # (messages name torch.)
    assert out[0] == out[1]


def test_backends_are_modules_programs_import():
    """pytorch/examples' `import torch.backends.cudnn as cudnn; cudnn.benchmark = True`."""
    import importlib
    for name in ("cuda", "cudnn", "mkldnn", "mps", "openmp"):
        mod = importlib.import_module(f"tapegrad.backends.{name}")
        assert getattr(tapegrad.backends, name) is mod
        assert mod.is_available() is False and mod.is_built() is False
    import tapegrad.backends.cudnn as cudnn
    saved = cudnn.benchmark
    try:
        cudnn.benchmark = True
        assert tapegrad.backends.cudnn.benchmark is True
    finally:
        cudnn.benchmark = saved
    assert cudnn.version() is None and cudnn.enabled is True and cudnn.deterministic is False


@pytest.mark.parametrize("space", ["linalg", "special", "nn.functional"])
def test_namespaces_hold_no_torch_name_torch_lacks_there(space):
    # (torch.ormqr, torch.geqrf, torch.pinverse, torch.mvlgamma, ... are top-level only:
    # hasattr(torch.linalg, "ormqr") is False; the modules name them torch_*, imports _*)
    ours, theirs = tapegrad, torch
    for part in space.split("."):
        ours, theirs = getattr(ours, part), getattr(theirs, part)
    extra = [n for n in dir(ours) if not n.startswith("_") and callable(getattr(ours, n))
             and not isinstance(getattr(ours, n), type) and not hasattr(theirs, n)
             and hasattr(torch, n)]
    assert extra == []
    for name in ("ormqr", "geqrf", "orgqr", "pinverse", "logdet", "cholesky_solve",
                 "triangular_solve", "lu_unpack", "chain_matmul", "cholesky_inverse"):
        assert getattr(tapegrad, name).__qualname__ == name


FLAG_CASES = [
    "mkldnn.flags()", "mkldnn.flags(enabled=True, deterministic=True)",
    "mkldnn.flags(fp32_precision='tf32')", "mkldnn.flags(fp32_precision='IEEE')",
    "mkldnn.flags(enabled=1)", "mkldnn.flags(deterministic=1.0)", "mkldnn.flags(allow_tf32=1)",
    "mkldnn.flags(1, 2, 3, 4, 5)",
    "cudnn.flags()", "cudnn.flags(enabled=True, benchmark=True, allow_tf32=False)",
    "cudnn.flags(benchmark=1)", "cudnn.flags(fp32_precision='bf16')",
    "cudnn.flags(depthwise_kernel='x')", "cudnn.flags(deterministic=True, benchmark_limit=3)",
]


@pytest.mark.parametrize("case", FLAG_CASES)
def test_backend_flags_blocks_as_torch(case):
    """`with torch.backends.mkldnn.flags(...)` (torch's tests wrap a check in one, as
    `cudnn.flags`): the flags inside the block, restored after it, torch's errors and the
    warning torch's CPU build gives for oneDNN's tf32."""
    import warnings
    names = {"mkldnn": ("enabled", "deterministic", "allow_tf32", "fp32_precision"),
             "cudnn": ("enabled", "benchmark", "deterministic", "allow_tf32",
                       "fp32_precision")}[case.split(".")[0]]
    out = []
    for m in (tapegrad, torch):
        mod = getattr(m.backends, case.split(".")[0])
        before = [getattr(mod, n) for n in names]
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            try:
                with eval(case, {"mkldnn": m.backends.mkldnn, "cudnn": m.backends.cudnn}):
                    inside = [getattr(mod, n) for n in names]
                text = repr(inside)
            except Exception as e:  # noqa: BLE001 (the error is compared)
                text = f"{type(e).__name__}: {e}"
        after = [getattr(mod, n) for n in names]
        # (both libraries' flags back: a call that fails half-way leaves the flags it set
        # before failing in torch too, and a later test reads cudnn.enabled)
        mod.set_flags(*before[:2]) if mod is m.backends.mkldnn else \
            mod.set_flags(before[0], before[1], None, before[2])
        out.append((text, after == before,
                    [str(x.message).split(" (Triggered internally")[0] for x in w]))
    assert out[0] == out[1]


@pytest.mark.parametrize("case", [
    "g.device", "g.get_offset()", "g.set_offset(3)", "M.default_generator.get_offset()",
    "M.float32.to_real()", "M.int64.to_real()", "M.bool.to_real()", "M.int64.to_complex()",
    "M.bool.to_complex()"] + [f"M.{n}.abbr" for n in (
        "float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool")])
def test_generator_offsets_and_dtype_names_as_torch(case):
    """Generator.get_offset/set_offset (torch's CPU generator refuses: no Philox offset),
    dtype.abbr, to_real, to_complex (its error for a non-float dtype)."""
    out = []
    for m in (tapegrad, torch):
        try:
            text = repr(eval(case, {"M": m, "g": m.Generator()}))
        except Exception as e:     # noqa: BLE001 (the error is compared)
            text = f"{type(e).__name__}: {e}"
        out.append(text.replace("tapegrad.", "M.").replace("torch.", "M."))
    assert out[0] == out[1]


def test_dtype_to_complex_of_a_float_is_not_implemented():
    with pytest.raises(NotImplementedError, match="no complex dtypes"):
        tapegrad.float32.to_complex()


@pytest.mark.parametrize("dev", ["xpu", "mtia", "ipu", "mps", "xla", "hip", "cuda"])
def test_moves_to_absent_devices_raise_as_torch(dev):
    """`.to(dev)` of a tensor or module, and the `.xpu()` / `.ipu()` / `.mtia()` methods: torch's
    CPU build's errors (an assertion for CUDA, XPU, MTIA; "not linked" for the others)."""
    import warnings
    calls = [lambda m: m.ones(1).to(dev), lambda m: m.nn.Linear(1, 1).to(dev),
             lambda m: m.ones(1).to(dev, m.float64), lambda m: m.ones(1).to(device=dev)]
    if dev in ("xpu", "ipu", "mtia"):
        calls += [lambda m: getattr(m.ones(1), dev)(), lambda m: getattr(m.nn.Linear(1, 1), dev)()]
    for call in calls:
        out = []
        for m in (tapegrad, torch):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    call(m)
                out.append(None)
            except Exception as e:     # noqa: BLE001 (the error is compared)
                out.append((type(e).__name__, str(e)))
        assert out[0] == out[1] and out[0] is not None


@pytest.mark.parametrize("case", ["x.is_distributed()", "M.is_distributed(x)",
                                  "M.is_distributed(1)", "M.is_storage(x)", "M.is_storage(1)"])
def test_is_distributed_and_is_storage_as_torch(case):
    """No tensor is distributed and no object a storage here; torch's answers for plain
    tensors, and its argument error."""
    out = []
    for m in (tapegrad, torch):
        try:
            out.append(repr(eval(case, {"M": m, "x": m.ones(2)})))
        except Exception as e:     # noqa: BLE001 (the error is compared)
            out.append(f"{type(e).__name__}: {e}")
    assert out[0] == out[1]


@pytest.mark.parametrize("name, args", [("solve", (1,)), ("lstsq", (1,)), ("eig", ()),
                                        ("symeig", (True,))])
def test_removed_tensor_methods_raise_as_torch(name, args):
    """torch still defines Tensor.solve / lstsq / eig / symeig (removed in 1.9): they raise its
    RuntimeError naming the replacement, not an AttributeError."""
    torch = pytest.importorskip("torch")
    msgs = []
    for m in (torch, tapegrad):
        x = m.eye(2)
        with pytest.raises(RuntimeError) as e:
            getattr(x, name)(*(x if a == 1 else a for a in args))
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]


def _functions(space):
    """(name, torch's function, tapegrad's) of the public functions of torch's namespace
    `space` that tapegrad has."""
    ours, theirs = tapegrad, torch
    for part in filter(None, space.split(".")):
        ours, theirs = getattr(ours, part), getattr(theirs, part)
    for name in dir(theirs):
        f, g = getattr(theirs, name), getattr(ours, name, None)
        if not name.startswith("_") and callable(f) and not isinstance(f, type) and g is not None:
            yield name, f, g


@pytest.mark.parametrize("space", ["", "special", "linalg", "fft"])
def test_function_names_as_torch(space):
    # scripts label their results by f.__name__ (torch.special.erf's is special_erf, not f;
    # torch.cholesky's cholesky, not torch_cholesky), and Python's binding errors print it;
    # at the top level only torch's names of their attribute (not torch's Python-internal
    # wrappers: boolean_dispatch's fn, _symeig)
    wrong = [(name, f.__name__, g.__name__) for name, f, g in _functions(space)
             if f.__name__ != g.__name__ and (space or f.__name__ == name)]
    assert wrong == []


@pytest.mark.parametrize("space", ["special", "linalg", "fft"])
def test_namespace_functions_pickle_by_their_torch_names(space):
    # (named special_erf, linalg_solve, fft_fftfreq: pickle finds them by that name, as
    # torch's in torch._C._special & co; a multiprocessing pool's map sends them so)
    for name, _, g in _functions(space):
        assert pickle.loads(pickle.dumps(g)) is g, name


@pytest.mark.parametrize("call", [
    "torch.special.erf(x, foo=1)", "torch.special.expit()", "torch.special.entr(x, 1)",
    "torch.special.i0(x, x, x)", "torch.special.logit(x, 1, 2, 3)", "torch.special.gammaln(x, 2)",
    "torch.special.psi(x, 1)", "torch.special.digamma(x, 1)", "torch.special.sinc(x, 1)",
    "torch.sinc(x, 1)", "torch.special.xlogy(2.0, 3.0)", "torch.xlogy(2.0, 3.0)",
    "torch.special.xlog1py(2, 3.0)", "torch.special.erfinv(foo=x)", "torch.fft.fftshift(x, foo=1)",
    "torch.special.expm1(x, out=torch.ones(2), foo=1)", "torch.special.exp2(x, 2)",
    # the binary ones' forms (native_args's): an argument missing, out= in "got (...)"
    "torch.xlogy(x)", "torch.special.xlogy(x)", "torch.special.xlog1py(x)",
    "torch.special.zeta(x)", "torch.special.xlogy(2.0, 3.0, out=x)",
    "torch.xlogy(2.0, 3.0, out=x)", "torch.special.zeta(2.0, 3.0, out=x)",
    "torch.special.xlog1py(2.0, 3.0, out=x)", "torch.special.xlogy(x, 'a', out=x)",
    "torch.xlogy(x, out=x)", "torch.special.chebyshev_polynomial_t(2.0, 3.0, out=x)",
    "torch.special.hermite_polynomial_h(x)", "torch.special.polygamma(x)",
    "torch.special.polygamma(1, 2.0, out=x)", "torch.polygamma(x)", "x.xlogy()",
    "x.xlogy('a')", "torch.special.zeta(x, 'a')"])
def test_namespace_binding_errors_name_torch_functions(call):
    src = f"x = torch.ones(2)\np({call})"
    assert _run(src, tapegrad) == _run(src, torch)
