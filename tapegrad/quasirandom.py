"""torch.quasirandom: `SobolEngine`, (scrambled) Sobol sequences equal to torch's bit for bit.

torch's engine (torch/quasirandom.py over ATen's SobolEngineOps.cpp) keeps int64 state: the
direction numbers `sobolstate` (dimension x 30, from Joe & Kuo's new-joe-kuo-6.21201 table,
vendored here as _sobol_directions.npz, see tools/make_sobol_directions.py) and the current
point `quasi`; each draw XORs one column of the state into `quasi` (Gray-code order) and
converts it to float with one rounding, then scales by 2**-30.  Here the same integers are
computed with numpy, vectorised over the dimensions and over blocks of points."""
import functools
import os

import numpy as np

from . import dtypes as D
from .creation import from_numpy
from .errors import arg_type_name
from .random import Generator, randint

__all__ = ["SobolEngine"]

_MAXBIT = 30
_BLOCK = 1 << 18      # elements per block of a draw (1 MB of int32 scratch, whatever n)


@functools.lru_cache(maxsize=1)
def _table():
    """(poly, degree, starts, m): the polynomials, their degrees s, where each dimension's
    initial direction numbers m_1..m_s begin in `m`, and `m` itself (int64)."""
    with np.load(os.path.join(os.path.dirname(__file__), "_sobol_directions.npz")) as f:
        poly, packed = f["poly"].astype(np.int64), f["mbits"]
    degree = np.frexp(poly.astype(np.float64))[1] - 1     # bit_length - 1 (exact below 2**53)
    degree[0] = 0
    starts = np.cumsum(degree) - degree
    width = np.arange(degree.sum()) - np.repeat(starts, degree)   # m_i is stored in i-1 bits
    offsets = np.cumsum(width) - width
    bits = np.unpackbits(packed, count=int(width.sum()), bitorder="little").astype(np.int64)
    owner = np.repeat(np.arange(width.size), width)
    shift = np.arange(bits.size) - np.repeat(offsets, width)
    half = np.bincount(owner, weights=bits << shift, minlength=width.size).astype(np.int64)
    return poly, degree, starts, 2 * half + 1


def _direction_numbers(dimension):
    """torch's _sobol_engine_initialize_state_: the (dimension, 30) int64 state (Bratley & Fox's
    recurrence), vectorised over the dimensions: one pass per bit position j."""
    poly, degree, starts, m = _table()
    p, s = poly[:dimension], degree[:dimension]
    v = np.zeros((dimension, _MAXBIT), np.int64)
    v[0] = 1
    rows = np.repeat(np.arange(dimension), s)
    v[rows, np.arange(rows.size) - np.repeat(starts[:dimension], s)] = m[:rows.size]
    for j in range(1, _MAXBIT):
        r = np.flatnonzero((s >= 1) & (s <= j))
        if r.size == 0:
            continue
        rs, rp = s[r], p[r]
        newv = v[r, j - rs]
        for k in range(int(rs.max())):
            take = (k < rs) & (((rp >> np.maximum(rs - 1 - k, 0)) & 1) == 1)
            newv ^= np.where(take, v[r, max(j - k - 1, 0)] << (k + 1), 0)
        v[r, j] = newv
    return v << np.arange(_MAXBIT - 1, -1, -1)


def _scramble(state, ltm):
    """torch's _sobol_engine_scramble_: bit 29-p of the new state[d, j] is the parity of
    row p of ltm[d] (unit diagonal) AND the bits of state[d, j] (bit 29-k against column k),
    i.e. a GF(2) matrix product, done as a float32 batched matmul (sums <= 30: exact)."""
    pos = np.arange(_MAXBIT - 1, -1, -1)
    eye = np.eye(_MAXBIT, dtype=bool)
    step = max(1, _BLOCK // (_MAXBIT * _MAXBIT))
    for a in range(0, state.shape[0], step):
        lower = ltm[a:a + step].astype(np.float32)
        lower[:, eye] = 1
        bits = ((state[a:a + step, :, None] >> pos) & 1).astype(np.float32)   # [d, j, k]
        parity = (bits @ lower.transpose(0, 2, 1)).astype(np.int64) & 1       # [d, j, p]
        state[a:a + step] = (parity << pos).sum(-1)


def _columns(start, n):
    """The state column each of the points start..start+n-1 XORs in: torch's rightmost_zero
    (the number of trailing 1 bits; 0 for a negative index, as C's % gives there)."""
    z = np.arange(start, start + n, dtype=np.int64)
    low = (z + 1) & -(z + 1)
    col = np.where(z < 0, 0, np.frexp(low.astype(np.float64))[1] - 1)
    if n and col.max() >= _MAXBIT:
        # (torch reads past its state there: 2**30 points is the sequence's length)
        raise RuntimeError(f"SobolEngine: point {int(z[col >= _MAXBIT][0]) + 1} is beyond the "
                           f"2**{_MAXBIT} points of the sequence")
    return col


def _column_counts(start, n):
    """How often each column is used by the points start..start+n-1 (fast_forward needs only
    their parities): O(30), whatever n."""
    counts = np.zeros(_MAXBIT + 1, np.int64)
    hi = start + n
    if start < 0:
        counts[0] += min(hi, 0) - start
        start = 0
    if hi > start:
        # column l: the w = z + 1 in (start, hi] with exactly l trailing zeros
        multiples = np.array([hi // (1 << q) - start // (1 << q) for q in range(_MAXBIT + 2)])
        counts += multiples[:-1] - multiples[1:]
    if counts[_MAXBIT:].any():
        raise RuntimeError(f"SobolEngine: fast_forward goes beyond the 2**{_MAXBIT} points of "
                           "the sequence")
    return counts[:_MAXBIT]


def _check_n(n, op):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{op}(): argument 'n' (position 2) must be int, not {arg_type_name(n)}")
    return int(n)


class SobolEngine:
    r"""An engine for (scrambled) Sobol sequences, as `torch.quasirandom.SobolEngine`: up to
    21201 dimensions, Joe & Kuo's direction numbers (search criterion D(6)); `scramble=True`
    applies Owen's linear matrix scrambling and a digital shift, drawn with a generator seeded
    with `seed` (the default generator if `seed` is None), exactly as torch draws them.

    >>> soboleng = SobolEngine(dimension=5)
    >>> soboleng.draw(3)
    tensor([[0.0000, 0.0000, 0.0000, 0.0000, 0.0000],
            [0.5000, 0.5000, 0.5000, 0.5000, 0.5000],
            [0.7500, 0.2500, 0.2500, 0.2500, 0.7500]])
    """
    MAXBIT = _MAXBIT
    MAXDIM = 21201

    def __init__(self, dimension, scramble=False, seed=None):
        if dimension > self.MAXDIM or dimension < 1:
            raise ValueError("Supported range of dimensionality "
                             f"for SobolEngine is [1, {self.MAXDIM}]")
        if isinstance(dimension, bool) or not isinstance(dimension, (int, np.integer)):
            # (torch's message: its torch.zeros(dimension, MAXBIT) call fails)
            raise TypeError("zeros() takes 1 positional argument but 2 were given")
        self.seed = seed
        self.scramble = scramble
        self.dimension = dimension
        self._state = _direction_numbers(int(dimension))
        self._steps = None
        if not self.scramble:
            self._shift = np.zeros(dimension, np.int64)
        else:
            self._scramble()
        self._quasi = self._shift.copy()
        # torch's `quasi / 2**MAXBIT`: in the default dtype of construction time (float32:
        # rounded once), whatever dtype draw() asks for later
        dt = D.get_default_dtype()
        self._first_point = from_numpy(
            (self._shift.astype(dt.np) * dt.np.type(2.0 ** -_MAXBIT)).reshape(1, -1))
        self.num_generated = 0

    # torch's tensors of the state (int64; they share memory with the engine)
    @property
    def sobolstate(self):
        return from_numpy(self._state)

    @property
    def shift(self):
        return from_numpy(self._shift)

    @property
    def quasi(self):
        return from_numpy(self._quasi)

    def _draw(self, n, start, dtype, first=None):
        """torch's _sobol_engine_draw: n points after `quasi` (the point of index start), after
        the row `first` if given (saves torch.cat's copy)."""
        n = _check_n(n, "_sobol_engine_draw")
        if n < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {n}: "
                               f"[{n}, {self.dimension}]")
        if not dtype.is_floating_point:
            raise NotImplementedError(f'"_sobol_engine_draw" not implemented for '
                                      f"'{dtype.legacy}'")
        d = self._state.shape[0]
        lead = 0 if first is None else 1
        result = np.empty((lead + n, d), dtype.np)
        result[:lead] = first
        out = result[lead:]
        steps = self._steps
        if steps is None:     # the state's columns as rows, int32 (values < 2**30): half the traffic
            steps = self._steps = self._state.T.astype(np.int32)
        quasi = self._quasi.astype(np.int32)
        block = max(1, _BLOCK // d)
        scale = dtype.np.type(2.0 ** -_MAXBIT)
        for a in range(0, n, block):
            b = min(block, n - a)
            acc = steps[_columns(start + a, b)]
            acc[0] ^= quasi
            np.bitwise_xor.accumulate(acc, axis=0, out=acc)
            quasi = acc[-1].copy()
            # torch: int64 -> float (one rounding), then * 2**-30 (exact)
            np.multiply(acc, scale, out=out[a:a + b], dtype=dtype.np, casting="unsafe")
        self._quasi = quasi.astype(np.int64)
        return from_numpy(result)

    def draw(self, n=1, out=None, dtype=None):
        """The next `n` points of the sequence, an (n, dimension) tensor of `dtype` (default:
        the default dtype); `out=` is resized and filled, as torch does."""
        if dtype is None:
            dtype = D.get_default_dtype()
        if self.num_generated == 0:
            if n == 1:
                result = self._first_point.to(dtype)
            else:
                result = self._draw(n - 1, 0, dtype, self._first_point.to(dtype)._array())
        else:
            result = self._draw(n, self.num_generated - 1, dtype)
        self.num_generated += n
        if out is not None:
            out.resize_as_(result).copy_(result)
            return out
        return result

    def draw_base2(self, m, out=None, dtype=None):
        """The next 2**m points; the total drawn must stay a power of 2 (the balance
        properties of the sequence)."""
        n = 2 ** m
        total_n = self.num_generated + n
        if not (total_n & (total_n - 1) == 0):
            raise ValueError(
                "The balance properties of Sobol' points require "
                f"n to be a power of 2. {self.num_generated} points have been "
                f"previously generated, then: n={self.num_generated}+2**{m}={total_n}. "
                "If you still want to do this, please use "
                "'SobolEngine.draw()' instead.")
        return self.draw(n=n, out=out, dtype=dtype)

    def reset(self):
        """Back to the first point."""
        self._quasi[...] = self._shift
        self.num_generated = 0
        return self

    def fast_forward(self, n):
        """Skip `n` points (as drawing them would)."""
        k = _check_n(n, "_sobol_engine_ff_")
        start = self.num_generated - 1
        if self.num_generated == 0:
            k, start = k - 1, 0
        if k > 0:
            odd = (_column_counts(start, k) & 1).astype(bool)
            self._quasi ^= np.bitwise_xor.reduce(self._state[:, odd], axis=1)
        self.num_generated += n
        return self

    def _scramble(self):
        g = None
        if self.seed is not None:
            g = Generator()
            g.manual_seed(self.seed)
        shift_ints = randint(2, (self.dimension, self.MAXBIT), generator=g)._array()
        self._shift = shift_ints @ (np.int64(1) << np.arange(self.MAXBIT, dtype=np.int64))
        ltm = randint(2, (self.dimension, self.MAXBIT, self.MAXBIT), generator=g)._array()
        _scramble(self._state, np.tril(ltm))

    def __repr__(self):
        fmt_string = [f"dimension={self.dimension}"]
        if self.scramble:
            fmt_string += ["scramble=True"]
        if self.seed is not None:
            fmt_string += [f"seed={self.seed}"]
        return self.__class__.__name__ + "(" + ", ".join(fmt_string) + ")"
