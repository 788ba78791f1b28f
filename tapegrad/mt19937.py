"""torch's CPU random engine: a 32-bit Mersenne Twister (mt19937) seeded as torch seeds it,
with torch's 64-bit draws and its cached normal samples, and torch's state format (the 5056
bytes of `torch.get_rng_state()`), so that the same seed gives the same numbers as torch.

The words come from CPython's `random.Random`, which is the same mt19937 (same twist and
tempering) implemented in C: its state is set to the one torch's seeding makes (torch uses
`init_genrand`, CPython's `seed()` another scheme), and `getrandbits(32 * k)` returns k words
in draw order, least significant first, at C speed.  Loops that draw an unknown number of
words (tapegrad/_draw_loops.py) run the same twister in Numba on the state taken out with
`loop_state()` and put back with `set_loop_state()`; so do the other draws once the state
is there (`_bulk`): getrandbits builds a Python int of all the words, ~7.7 ns a word, against
~1.9 in the Numba loop.  The state stays in the loops' array until a state read, a copy or
a reseed takes it back (the move costs ~18 us out, ~11 back).
"""
import random as _pyrandom
import struct

import numpy as np

from ._jit import kernel_module, loaded as jit_loaded

N = 624                       # words of state
STATE_BYTES = 5056            # sizeof(CPUGeneratorImplState) in torch
# the legacy THGeneratorState pod, then the float normal cache (torch's layout, x86-64)
_POD = struct.Struct("<QiiQ624Qdddi4x")
_TAIL = struct.Struct("<f?3x")
assert _POD.size + _TAIL.size == STATE_BYTES
_U64_MAX = (1 << 64) - 1


def _init_genrand(seed32):
    """The 624 state words torch's mt19937(seed) starts from (init_genrand)."""
    state = [0] * N
    state[0] = x = seed32
    for j in range(1, N):
        x = (1812433253 * (x ^ (x >> 30)) + j) & 0xFFFFFFFF
        state[j] = x
    return state


# words per getrandbits call: its bit count is a C int (rand(7e7) overflowed it at once)
_CHUNK = 1 << 24
# The state moves to the Numba loops for a draw of _BULK_LOAD words or more (measured: 10^5
# words 769 -> 222 us), or for any draw once numba's kernels are loaded (a backward loads
# them; the loops then load in ~5 ms): a short program's few draws do not pay numba's import
# (normal_draws' rule for its fill).  There, a small draw costs less than getrandbits and
# numpy's conversions too (rand(1) 6.3 -> 4.2 us).
_BULK_LOAD = 1 << 16
_STAYS = object()   # (_in_loops: the state stays in CPython's engine, nothing drawn)
# words u32_list splits out of one getrandbits in Python (more: u32's array, then tolist)
_LIST_MAX = 64
_STATE = struct.Struct(f"<{N + 1}q")     # the N words and the position, as loop_state holds them
_MASK24 = np.uint32((1 << 24) - 1)
_MASK53 = np.uint64((1 << 53) - 1)


def loops():
    """tapegrad._draw_loops (the twister and the samplers' loops in Numba), imported on first
    use through _jit.kernel_module (numba's import and the cache placed as for the other
    kernel modules)."""
    return kernel_module("tapegrad._draw_loops", "_draw_loops.py", _import_loops)


def _import_loops():
    # late: the module imports numba, which `import tapegrad` must not
    from . import _draw_loops
    return _draw_loops


def _bulk(k):
    """Whether a draw of k words, the state in CPython's engine, moves it to the Numba loops."""
    return k >= _BULK_LOAD or jit_loaded()


class MT19937:
    """One engine: `u32(k)` / `u64(k)` draw k words as torch's `random()` / `random64()` do;
    `next_double_normal` / `next_float_normal` are torch's cached second Box-Muller samples
    (None when empty); `seed` is what `initial_seed()` reports."""
    # _py: CPython's engine holding the state, unless _loop (the Numba loops' int64 array of
    # N + 2, loop_state's format) holds it: then _py is stale until _words() takes it back
    __slots__ = ("seed", "_py", "_loop", "_fresh", "next_double_normal", "next_float_normal")

    def __init__(self, seed=5489):
        self.reseed(seed)

    def reseed(self, seed):
        """torch's `mt19937(seed)`: the low 32 bits seed the words; `seed` is kept whole."""
        self.seed = seed & _U64_MAX
        self._py = _pyrandom.Random()
        self._py.setstate((3, tuple(_init_genrand(self.seed & 0xFFFFFFFF)) + (N,), None))
        self._loop = None
        self._fresh = True          # seeded, nothing drawn: torch's next_ is still 0
        self.next_double_normal = None
        self.next_float_normal = None

    def u32(self, k):
        """The next k words (uint32), as k calls of torch's `random()`."""
        if k <= 0:
            return np.zeros(0, np.uint32)
        if self._loop is not None or _bulk(k):
            return self._fill("fill_words", np.empty(k, np.uint32))
        self._fresh = False
        py = self._py
        if k <= _CHUNK:
            raw = py.getrandbits(32 * k).to_bytes(4 * k, "little")
            return np.frombuffer(raw, "<u4").astype(np.uint32)
        out = np.empty(k, np.uint32)
        for i in range(0, k, _CHUNK):   # (the same words: getrandbits draws them in order)
            m = min(_CHUNK, k - i)
            out[i:i + m] = np.frombuffer(
                py.getrandbits(32 * m).to_bytes(4 * m, "little"), "<u4")
        return out

    def u32_list(self, k):
        """The next k words as Python ints, as u32(k) draws them: a few words for a small draw
        made in Python (the CPython engine's bits split here, no array), else u32's."""
        if k > _LIST_MAX or self._loop is not None or _bulk(k):
            return self.u32(k).tolist()
        if k <= 0:
            return []
        self._fresh = False
        bits = self._py.getrandbits(32 * k)
        return [(bits >> (32 * i)) & 0xFFFFFFFF for i in range(k)]

    def u64(self, k):
        """k calls of torch's `random64()`: two words each, the first the high half."""
        w = self.u32(2 * k).astype(np.uint64)
        return (w[0::2] << np.uint64(32)) | w[1::2]

    def uniform_f32(self, k):
        """k of torch's uniform_real_distribution<float>(0, 1): 24 bits of random() times
        2^-24, float32 in [0, 1)."""
        state = self._loop
        if state is not None:   # (_fill's case of a state in the loops, in this frame: ~0.5 us)
            out = np.empty(k, np.float32)
            loops().fill_uniform_f32(state, out)
            if k:
                self._fresh = False
            return out
        if _bulk(k):
            return self._fill("fill_uniform_f32", np.empty(k, np.float32))
        return (self.u32(k) & _MASK24).astype(np.float32) * np.float32(2.0 ** -24)

    def uniform_f64(self, k):
        """k of torch's uniform_real_distribution<double>(0, 1): 53 bits of random64() times
        2^-53, float64 in [0, 1)."""
        if self._loop is not None or _bulk(2 * k):
            return self._fill("fill_uniform_f64", np.empty(k, np.float64))
        return (self.u64(k) & _MASK53).astype(np.float64) * 2.0 ** -53

    def from_to(self, k, rng, base):
        """k of torch's random_from_to for a range 0 < rng < 2^28, as int64: (random() % rng)
        + base, drawn by the Numba loops in one call; None when the state is in CPython's
        engine and a draw of k words does not move it (the caller then takes the words)."""
        out = np.empty(k, np.int64)
        return None if self._in_loops("fill_from_to", out, rng, base, words=k) is _STAYS \
            else out

    def exponential(self, k, lambd):
        """k of torch's exponential_(lambd) values in double (`(-1 / lambd) * log1p(-u)`, u a
        double uniform), by the Numba loops in one call; None when the state is in CPython's
        engine and a draw of 2k words does not move it (the caller then takes the uniforms)."""
        out = np.empty(k, np.float64)
        return None if self._in_loops("fill_exponential", out, float(lambd), words=2 * k) \
            is _STAYS else out

    def multinomial(self, rows, num_samples):
        """torch's multinomial with replacement from the rows of 2-d `rows` (float32 or
        float64, at least one category), by the Numba loops in one call: (int64 indices of
        shape (rows, num_samples), -1 or the first row whose total is not > 0); None when the
        state is in CPython's engine and the draw does not move it."""
        out = np.empty((rows.shape[0], num_samples), np.int64)
        bad = self._in_loops("fill_multinomial", out, rows, words=2 * out.size)
        return None if bad is _STAYS else (out, bad)

    def randperm(self, n):
        """torch's randperm(n) for 2 <= n < 2^32 // 20 as int64, by the Numba loops in one
        call; None when the state is in CPython's engine and n - 1 words do not move it."""
        out = np.empty(n, np.int64)
        return None if self._in_loops("fill_randperm", out, words=n - 1) is _STAYS else out

    def _fill(self, fill, out):
        """out filled by the loops' bulk draw named `fill` (fill_words, fill_uniform_f32/f64),
        the state moved there first if the Python engine holds it."""
        self._in_loops(fill, out)
        return out

    def _in_loops(self, fill, out, *args, words=None):
        """The loops' draw named `fill`, fill(state, *args, out), on the state's array in
        place, moved there first if the Python engine holds it: its return value.  With
        `words` (the draw's word count): _STAYS, nothing drawn, where the Python engine holds
        the state and a draw that size does not move it (_bulk; numba not imported).  The
        fills hold the GIL (no nogil), so a draw is atomic between threads, as torch's
        generator mutex makes it."""
        state = self._loop
        if state is None:
            if words is not None and not _bulk(words):
                return _STAYS
            state = self._loop = self._state_array()
        r = getattr(loops(), fill)(state, *args, out)
        if out.size:
            self._fresh = False
        return r

    def _state_array(self):
        """The Python engine's state as the loops' array (loop_state's format)."""
        state = np.empty(N + 2, np.int64)
        state[:N + 1] = np.frombuffer(_STATE.pack(*self._py.getstate()[1]), np.int64)
        state[N + 1] = 0
        return state

    def _words(self):
        """The Python engine, holding the state (taken back from the loops' array)."""
        loop = self._loop
        if loop is not None:
            self._py.setstate((3, _STATE.unpack(loop[:N + 1].tobytes()), None))
            self._loop = None
        return self._py

    def words_state(self):
        """The N words and the position, as a tuple (CPython's getstate()[1])."""
        return self._words().getstate()[1]

    def loop_state(self):
        """The words for a loop that draws them itself: an int64 array of N + 2, the N state
        words, the index of the next word (N: twist first) and a count of words drawn (0).
        The engine's own array (the state moved there if the Python engine held it): the loop
        advances it in place; set_loop_state() then takes note of what it drew."""
        state = self._loop
        if state is None:
            state = self._loop = self._state_array()
        state[N + 1] = 0
        return state

    def set_loop_state(self, state):
        """Continue from `state` (as `loop_state()` returned it, advanced by such a loop)."""
        self._loop = state
        if state[N + 1]:
            self._fresh = False

    # -- torch's state format ----------------------------------------------------------------
    def state_bytes(self):
        """The 5056 bytes of torch's `get_rng_state()` for this engine."""
        words = self.words_state()
        pos = words[N]
        left, nxt = (1, 0) if self._fresh else (N + 1 - pos, pos)
        dn, fn = self.next_double_normal, self.next_float_normal
        return (_POD.pack(self.seed, left, 1, nxt, *words[:N], 0.0,
                          0.0 if dn is None else dn, 0.0, dn is not None)
                + _TAIL.pack(0.0 if fn is None else fn, fn is not None))

    def set_state_bytes(self, raw):
        """Take the state of torch's `set_rng_state(raw)` (raw: 5056 bytes, checked by the
        caller for its size); raises torch's errors for an inconsistent one."""
        fields = _POD.unpack_from(raw)
        seed, left, seeded, nxt = fields[:4]
        words = fields[4:4 + N]
        normal_y, normal_valid = fields[4 + N + 1], fields[4 + N + 3]
        fn, f_valid = _TAIL.unpack_from(raw, _POD.size)
        nxt &= 0xFFFFFFFF               # (torch keeps it as uint32)
        if not (seeded and 1 <= left <= N and nxt <= N):
            raise RuntimeError("Invalid mt19937 state")
        pos = N if left == 1 else nxt
        self._py = _pyrandom.Random()
        self._py.setstate((3, tuple(w & 0xFFFFFFFF for w in words) + (pos,), None))
        self._loop = None
        self.seed = seed
        self._fresh = left == 1 and nxt == 0 and bool(seeded)
        self.next_double_normal = normal_y if normal_valid else None
        self.next_float_normal = fn if f_valid else None

    def copy(self):
        other = MT19937.__new__(MT19937)
        other.seed, other._fresh = self.seed, self._fresh
        other.next_double_normal, other.next_float_normal = \
            self.next_double_normal, self.next_float_normal
        other._py = _pyrandom.Random()
        other._py.setstate(self._words().getstate())
        other._loop = None
        return other
