"""Writes tapegrad/_sobol_directions.npz, the direction numbers of tapegrad.quasirandom, from
scipy's copy of Joe & Kuo's new-joe-kuo-6.21201 table (the table torch's SobolEngine embeds;
tests/test_quasirandom.py compares the states at all 21201 dimensions).  Run once, by hand:

    python tools/make_sobol_directions.py

The file holds `poly` (21201 uint32: the primitive polynomial of each dimension, with its
leading and trailing 1 bits, as torch's `poly` table) and `mbits`, the initial direction numbers
m_1..m_s of every dimension (s = poly.bit_length() - 1 of them), bit-packed: m_i is odd and
below 2**i, so only (m_i >> 1) is stored, in i - 1 bits, least significant first, dimension after
dimension (`np.packbits(bitorder="little")`): 352 KB, where the zero-padded 21201 x 18 int64
array compresses to 590 KB.  tapegrad.quasirandom._table() decodes it.  Licence:
tapegrad/_sobol_directions.LICENSE."""
import os

import numpy as np
import scipy.stats

SRC = os.path.join(os.path.dirname(scipy.stats.__file__), "_sobol_direction_numbers.npz")
DST = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tapegrad",
                   "_sobol_directions.npz")

table = np.load(SRC)
poly, vinit = table["poly"], table["vinit"]
degree = np.array([int(p).bit_length() - 1 for p in poly])
degree[0] = 0                                   # dimension 1 has no polynomial (all ones)
assert np.all(vinit[np.arange(vinit.shape[1]) >= degree[:, None]][1:] == 0)
flat = np.concatenate([vinit[d, :degree[d]] for d in range(len(poly))]).astype(np.int64)
width = np.concatenate([np.arange(s) for s in degree])        # m_i (i = width + 1) has i bits
assert np.all(flat & 1) and np.all(flat < (2 << width))
bits = (np.repeat(flat >> 1, width) >> (np.arange(width.sum()) - np.repeat(np.cumsum(width) - width, width))) & 1
np.savez_compressed(DST, poly=poly.astype(np.uint32),
                    mbits=np.packbits(bits.astype(np.uint8), bitorder="little"))
print(DST, os.path.getsize(DST), "bytes")
