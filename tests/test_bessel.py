"""torch.special's Bessel and Airy functions (tapegrad/_bessel.py): known values, the special
points, dtypes and shapes without torch; against torch on dense grids over each function's
regimes, and bit for bit against torch's kernels built without fused multiply-adds."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import tapegrad as tg

NAMES = ("bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_i0",
         "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1",
         "scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "spherical_bessel_j0",
         "airy_ai")

# (the functions' values to double precision; NOTE: above 5, torch's J and Y lose digits:
# its kernels evaluate Cephes' denominators with implicit leading 1 (p1evl) without that 1,
# an error of ~1e-10 at x = 10, 1e-5 just above 5, and so does Ai below -2.09: 7e-7 at its
# first zero, -2.338107410459767 -- tapegrad keeps torch's values)
KNOWN = [
    ("bessel_j0", 2.404825557695773, 0.0),            # J0's first zero
    ("bessel_j0", 1.0, 0.7651976865579666),
    ("bessel_j0", 100.0, 0.019985850304223122),
    ("bessel_j1", 1.0, 0.4400505857449335),
    ("bessel_j1", 3.831705970207512, 0.0),            # J1's first zero
    ("bessel_j1", -2.0, -0.5767248077568734),
    ("bessel_y0", 1.0, 0.08825696421567696),
    ("bessel_y0", 0.8935769662791675, 0.0),           # Y0's first zero
    ("bessel_y0", 100.0, -0.07724431336508315),
    ("bessel_y1", 1.0, -0.7812128213002887),
    ("bessel_y1", 100.0, -0.020372312002759793),
    ("modified_bessel_i0", 1.0, 1.2660658777520082),
    ("modified_bessel_i1", -1.0, -0.5651591039924851),
    ("modified_bessel_k0", 1.0, 0.42102443824070834),
    ("modified_bessel_k0", 3.0, 0.03473950438627925),
    ("modified_bessel_k1", 1.0, 0.6019072301972346),
    ("modified_bessel_k1", 0.1, 9.853844780870606),
    ("scaled_modified_bessel_k0", 1.0, 0.42102443824070834 * math.e),
    ("scaled_modified_bessel_k1", 5.0, 0.004044613445452164 * math.exp(5.0)),
    ("spherical_bessel_j0", math.pi, 0.0),
    ("airy_ai", 0.0, 0.3550280538878172),
    ("airy_ai", 1.0, 0.1352924163128814),
    ("airy_ai", 5.0, 1.083444281360744e-4),
    ("airy_ai", -10.0, 0.04024123848644319),
]


@pytest.mark.parametrize("name, x, value", KNOWN)
def test_known_values(name, x, value):
    got = getattr(tg.special, name)(tg.tensor(x, dtype=tg.float64)).item()
    assert got == pytest.approx(value, rel=5e-14, abs=1e-15)
    got32 = getattr(tg.special, name)(tg.tensor(x)).item()    # (a phase of ~20 in float32)
    assert got32 == pytest.approx(value, rel=2e-6, abs=1e-6)


def _bits(t):
    return [(v, math.copysign(1.0, v)) if v == v else "nan" for v in t.tolist()]


@pytest.mark.parametrize("name, points, expected", [
    ("bessel_j0", [0.0, -0.0, math.inf, -math.inf, math.nan], [1.0, 1.0, "nan", "nan", "nan"]),
    ("bessel_j1", [0.0, -0.0, math.inf, math.nan], [0.0, -0.0, "nan", "nan"]),
    ("bessel_y0", [0.0, -0.0, -1.0, -math.inf, math.inf], [-math.inf, -math.inf, "nan", "nan",
                                                           "nan"]),
    ("bessel_y1", [0.0, -1e-30, -math.inf], [-math.inf, "nan", "nan"]),
    ("modified_bessel_k0", [0.0, -0.0, -2.0, math.inf, math.nan], [math.inf, math.inf, "nan",
                                                                   0.0, "nan"]),
    ("modified_bessel_k1", [0.0, -3.0, math.inf, 800.0], [math.inf, "nan", 0.0, 0.0]),
    ("scaled_modified_bessel_k0", [0.0, -1.0, math.inf], [math.inf, "nan", 0.0]),
    ("scaled_modified_bessel_k1", [0.0, -1.0, math.inf], [math.inf, "nan", 0.0]),
    ("modified_bessel_i0", [0.0, 800.0, -800.0, math.inf], [1.0, math.inf, math.inf, "nan"]),
    ("spherical_bessel_j0", [0.0, math.inf, -math.inf, math.nan], [1.0, 0.0, 0.0, "nan"]),
    ("airy_ai", [math.inf, -math.inf, 104.0, 1e30, math.nan], ["nan", "nan", 0.0, 0.0, "nan"]),
])
def test_special_points(name, points, expected):
    want = [(v, math.copysign(1.0, v)) if v != "nan" else "nan" for v in expected]
    assert _bits(getattr(tg.special, name)(tg.tensor(points, dtype=tg.float64))) == want
    # (float32: torch's float series gives I0(0) = 1 - 2^-24)
    got = _bits(getattr(tg.special, name)(tg.tensor(points)))
    assert got == [pytest.approx(w, rel=1e-7) if w != "nan" else w for w in want]


@pytest.mark.parametrize("name", NAMES)
def test_dtypes_shapes_and_no_graph(name):
    f = getattr(tg.special, name)
    x = tg.tensor([[0.5, 1.5, 2.5], [3.5, 6.0, 9.0]], dtype=tg.float64, requires_grad=True)
    y = f(x)
    assert y.dtype is tg.float64 and y.shape == (2, 3)
    assert not y.requires_grad and y.grad_fn is None       # (torch records no node)
    assert f(tg.tensor(2.5)).shape == () and f(tg.tensor(2.5)).dtype is tg.float32
    assert f(tg.zeros(0, 3)).shape == (0, 3)
    for ints in (tg.tensor([1, 2, 3]), tg.tensor([1, 2, 3], dtype=tg.int32)):
        assert f(ints).dtype is tg.float32
        assert f(ints).tolist() == f(tg.tensor([1.0, 2.0, 3.0])).tolist()
    assert f(tg.tensor([True, False])).tolist() == f(tg.tensor([1.0, 0.0])).tolist()
    # (float32 is computed in float32, as torch's kernel: close to float64's value rounded)
    x64 = tg.linspace(0.1, 20.0, 200, dtype=tg.float64)
    np.testing.assert_allclose(f(x64.float()).numpy(), f(x64).numpy(), rtol=1e-4, atol=1e-5)


def test_series_and_asymptotic_forms_meet():
    """Each function is continuous across the algorithm's branch points (float64)."""
    for name, edge in (("bessel_j0", 5.0), ("bessel_j1", 5.0), ("bessel_y0", 5.0),
                       ("bessel_y1", 5.0), ("modified_bessel_k0", 2.0),
                       ("modified_bessel_k1", 2.0), ("scaled_modified_bessel_k0", 2.0),
                       ("scaled_modified_bessel_k1", 2.0), ("modified_bessel_i0", 8.0),
                       ("modified_bessel_i1", 8.0), ("spherical_bessel_j0", 0.5),
                       ("airy_ai", 2.09), ("airy_ai", 8.3203353)):
        # (not Ai at -2.09: torch's asymptotic form below it is off by 2e-5 there)
        below = np.nextafter(edge, -math.inf)
        v = getattr(tg.special, name)(tg.tensor([below, edge], dtype=tg.float64)).tolist()
        assert v[0] == pytest.approx(v[1], rel=1e-13), (name, edge)


def test_one_element_as_in_an_array():
    """One element is computed on numpy scalars (not arrays): the same bits as in an array,
    float32 and float64, special points included."""
    from tapegrad import _bessel
    pts = np.concatenate([np.linspace(-30, 30, 241), np.geomspace(1e-310, 1e300, 40),
                          -np.geomspace(1e-310, 1e300, 40),
                          [0.0, -0.0, math.inf, -math.inf, math.nan, 1e-5, 2.0, 2.09, -2.09,
                           5.0, 8.0, 8.3203353, 103.892, 0.5, -0.5, 110.0, -110.0]])
    for dt in (np.float64, np.float32):
        with np.errstate(over="ignore"):
            xs = pts.astype(dt)
        for name in NAMES:
            f = getattr(_bessel, name)
            arr = f(xs)
            one = np.array([f(np.asarray(v)) for v in xs])
            assert one.dtype == dt
            same = ((arr == one) & (np.signbit(arr) == np.signbit(one))
                    | np.isnan(arr) & np.isnan(one))
            assert same.all(), (name, dt, xs[~same][:4], arr[~same][:4], one[~same][:4])


# ---- against torch -------------------------------------------------------------------------
def _grid():
    return np.concatenate([
        np.linspace(-30, 30, 60001), np.linspace(-1e-3, 1e-3, 201),
        np.geomspace(1e-310, 1e300, 3000), -np.geomspace(1e-310, 1e300, 3000),
        np.linspace(-120, 120, 4001),
        [0.0, -0.0, math.inf, -math.inf, math.nan, 1e-5, 2.0, 2.09, -2.09, 5.0, 8.0,
         8.3203353, 103.892, 709.0, 710.0]])


def _edges(dt):
    pts = np.array([1e-5, 0.5, 2.0, 2.09, -2.09, 5.0, 8.0, 8.3203353, 103.892], dt)
    out = [pts]
    up, down = pts, pts
    for _ in range(3):
        up, down = np.nextafter(up, np.inf), np.nextafter(down, -np.inf)
        out += [up, down]
    return np.concatenate(out)


def _xs(dt):
    with np.errstate(over="ignore"):
        return np.concatenate([_grid().astype(dt), _edges(dt)])


@pytest.mark.parametrize("name", NAMES)
def test_against_torch(name):
    """Within what torch's kernels differ from themselves: its AVX2/AVX512 builds fuse
    products and sums (a few ulps, more relative to a value near a zero of J, Y or Ai)."""
    torch = pytest.importorskip("torch")
    for dt, rtol, atol in ((np.float64, 2e-14, 1e-15), (np.float32, 2e-6, 1e-6)):
        xs = _xs(dt)
        got = getattr(tg.special, name)(tg.tensor(xs)).numpy()
        want = getattr(torch.special, name)(torch.from_numpy(xs)).numpy()
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
        assert (np.signbit(got) == np.signbit(want))[want == 0].all()


_DEFAULT_TORCH = """
import json, sys
import numpy as np, torch
names, path = json.loads(sys.argv[1]), sys.argv[2]
xs = {dt: np.load(path + "_" + dt + ".npy") for dt in ("float64", "float32")}
np.savez(path + "_out.npz", **{n + "_" + dt: getattr(torch.special, n)(torch.from_numpy(x)).numpy()
                              for n in names for dt, x in xs.items()})
"""


def test_bits_of_torchs_kernels_without_fma(tmp_path):
    """Bit for bit what torch computes with ATEN_CPU_CAPABILITY=default (its kernels built
    without fused multiply-adds): the same steps in the same order, libm's functions."""
    pytest.importorskip("torch")
    path = str(tmp_path / "grid")
    xs = {dt: _xs(getattr(np, dt)) for dt in ("float64", "float32")}
    for dt, x in xs.items():
        np.save(path + "_" + dt + ".npy", x)
    env = dict(os.environ, ATEN_CPU_CAPABILITY="default")
    subprocess.run([sys.executable, "-c", _DEFAULT_TORCH, json.dumps(NAMES), path], env=env,
                   check=True, timeout=300)
    want = np.load(path + "_out.npz")
    for name in NAMES:
        for dt, x in xs.items():
            got = getattr(tg.special, name)(tg.tensor(x)).numpy()
            w = want[name + "_" + dt]
            same = (got == w) & (np.signbit(got) == np.signbit(w)) | np.isnan(got) & np.isnan(w)
            assert same.all(), (name, dt, x[~same][:5], got[~same][:5], w[~same][:5])


@pytest.mark.parametrize("name", NAMES)
def test_errors_as_torch(name):
    torch = pytest.importorskip("torch")
    from torch_errors import assert_same_error
    for call in (lambda m: getattr(m.special, name)(2.0),
                 lambda m: getattr(m.special, name)(m.ones(2), 3),
                 lambda m: getattr(m.special, name)(),
                 lambda m: getattr(m.special, name)([1.0])):
        assert_same_error(call, torch)
