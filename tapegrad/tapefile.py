"""Tape files: how a recorded tape is written (`Recorded.save`) and read back (`load_tape`).

A tape file is untrusted input.  Its streams go to Numba kernels that do no bounds checks, so
`load` checks everything a kernel will index with before a `Recorded` is built, and raises
`TapeFormatError` naming the first problem:

* the container: a zip of .npy members with exactly the expected names, dtypes (native, so no
  new Numba specialisation is compiled) and lengths, each size checked before it is read;
* the header: format name, format version, the op-table fingerprint (a tape recorded against
  another op table is refused, not replayed with the wrong ops) and a sha256 digest of the
  content (a damaged file is refused rather than replayed with changed numbers);
* the program: opcodes, operands (-1 or an earlier entry; the CSR operand lists `arg_ptr` /
  `arg` likewise, with the count each kind takes), params slices (laid out one after
  the other, as recorded) and what they index, node shapes and every kind's size rules,
  inputs and outputs;
* sizes: entries, arena elements and the work of one replay against limits the caller can
  raise.

The checks are numpy passes over the whole tape (one mask per rule), not a loop per entry.
"""
import hashlib
import io
import json
import math
import os
import zipfile
from itertools import chain
from typing import NamedTuple

import numpy as np

from .kinds import HOST_FORWARD, linalg as linalg_kind, scan as scan_kind, \
    softmax as softmax_kind
from .ops import BY_CODE, KIND_CODE, OPS
from .tape import OPCODE

FORMAT = "tapegrad-tape"
VERSION = 3   # 2: operands beyond ia/ib in `arg_ptr`/`arg` (where's condition left params);
              # 3: the stream `cst` renamed `imm` (the entry's immediate)
MAX_ENTRIES = 1_000_000     # default limits of load_tape (the caller can raise them)
MAX_ELEMENTS = 10_000_000
MAX_WORK = 1_000_000_000    # element operations of one forward replay (about a second)
MAX_NDIM = 8                # the kernels' shape rows (Recorded.shp) have 8 columns

# name -> dtype of every array member besides the JSON header ("meta")
STREAMS = {"op": OPCODE, "ia": np.int64, "ib": np.int64, "imm": np.float64, "val": np.float64,
           "par": np.int64, "host": np.uint8, "params": np.int64, "saved_nodes": np.int64,
           "saved_data": np.float64, "arg_ptr": np.int64, "arg": np.int64}
PER_ENTRY = ("ia", "ib", "imm", "val", "par", "host")
META_KEYS = ("inputs", "outputs", "single", "dtype", "guards", "shapes")
FORMAT_KEYS = ("format", "version", "op_table", "digest")
INPUT_DTYPES = ("float32", "float64")
OUTPUT_DTYPES = ("float32", "float64", "int64", "int32", "bool")
_K = KIND_CODE
_KIND_OF = np.array([_K[op.kind] for op in BY_CODE], np.int64)


class TapeFormatError(ValueError):
    """A tape file that cannot be replayed safely: damaged, written by another tapegrad (format
    version or op table), inconsistent, or larger than the limits given to `load_tape`."""


def _fingerprint():
    table = [[op.name, op.kind, op.fwd, list(op.grads), list(op.saves)] for op in BY_CODE]
    return hashlib.sha256(json.dumps(table).encode()).hexdigest()


# sha256 of the ordered op table (names, kinds, formulas, saved buffers): a tape stores opcodes,
# which mean something only against the table they were recorded with.
OP_TABLE = _fingerprint()


def params_needed(kind, size_in, nd_in, size_out, nd_out, lead_in=0):
    """How many params an entry of kind code `kind` reads (numbers or arrays), given the sizes
    and ranks of its first input and of its output (and the first input's leading dim: an nll
    entry's targets): the layouts the kernels read."""
    return np.select(
        [(kind == _K["reduce"]) | (kind == _K["shift"]), kind == _K["strided"],
         kind == _K["gather"], kind == _K["matmul"], kind == _K["scatter"],
         kind == _K["scatter_idx"], kind == _K["linalg"], kind == _K["scan"],
         kind == _K["softmax"], kind == _K["nll"]],
        [nd_in, 1 + nd_out, size_out, 5, 1 + nd_in, size_in, linalg_kind.NPARAMS,
         np.where(size_in == 1, 0, scan_kind.NPARAMS),
         np.where(size_in == 1, 0, softmax_kind.NPARAMS), lead_in], 0)


def layout(n, shapes):
    """Per-node element counts, ranks and shape rows (left-aligned, padded with 1) of a tape
    with n nodes whose n-d nodes have `shapes` ({node: shape}); other nodes have one element."""
    size = np.ones(n, np.int64)
    nd = np.zeros(n, np.int64)
    shp = np.ones((n, MAX_NDIM), np.int64)
    if shapes:
        nodes = np.fromiter(shapes.keys(), np.int64, len(shapes))
        lens = np.fromiter(map(len, shapes.values()), np.int64, len(shapes))
        flat = np.fromiter(chain.from_iterable(shapes.values()), np.int64, int(lens.sum()))
        first = np.repeat(np.cumsum(lens) - lens, lens)
        shp[np.repeat(nodes, lens), np.arange(len(flat)) - first] = flat
        nd[nodes] = lens
        size[nodes] = shp[nodes].prod(1)
    return size, nd, shp


# ---- writing ------------------------------------------------------------------------------------
def digest(header, prog):
    """sha256 of a header (without its digest) and the streams, as written."""
    h = hashlib.sha256()
    head = {k: v for k, v in header.items() if k != "digest"}
    h.update(json.dumps(head, sort_keys=True, separators=(",", ":")).encode())
    for name in sorted(prog):
        a = np.ascontiguousarray(prog[name])
        h.update(f"\0{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def header_of(meta, prog):
    """The JSON header written for a tape: its meta, the format fields and the digest."""
    header = dict(meta, format=FORMAT, version=VERSION, op_table=OP_TABLE)
    header["digest"] = digest(header, prog)
    return header


def arrays(prog, meta):
    """What a tape file holds, as {name: array}: the streams and `meta`, the JSON header as a
    0-d string array (written by `save`; pickled tapes are this too)."""
    prog = {k: np.ascontiguousarray(prog[k], STREAMS[k]) for k in STREAMS}
    return {"meta": np.array(json.dumps(header_of(meta, prog))), **prog}


def save(path, prog, meta):
    """Write a tape (streams `prog`, header `meta`) to `path` (numpy .npz; a path or a binary
    file)."""
    if hasattr(path, "write"):
        np.savez(path, **arrays(prog, meta))
        return
    with open(path, "wb") as f:
        np.savez(f, **arrays(prog, meta))


# ---- reading ------------------------------------------------------------------------------------
def _fail(msg):
    raise TapeFormatError(f"invalid tape file: {msg}")


class Limits(NamedTuple):
    """What a tape file may demand; load_tape's max_entries, max_elements, max_work."""
    entries: int
    elements: int
    work: int

    @property
    def note(self):
        return (f"(limits max_entries={self.entries}, max_elements={self.elements}, "
                f"max_work={self.work}; pass larger ones to load_tape if the file is trusted)")

    def file_bytes(self):
        """The largest file a tape within the limits can be (plus zip and .npy headers)."""
        streams = 49 * self.entries + 8 * self.entries + 8 * self.elements + 8
        return (streams + 8 * self.params(self.entries) + 8 * self.args(self.entries)
                + 4 * _header_chars(self.entries) + (1 << 20))

    def args(self, n):
        """Most operands past ia/ib an n-entry tape may list (cat's inputs)."""
        return self.elements + 16 * n + 1

    def params(self, n):
        """Most params an n-entry tape can need (gather indices, then at most 9 per entry,
        and cat's two plus one per operand)."""
        return self.elements + 16 * n + 1 + self.args(n)


def _header_chars(n):
    return (1 << 20) + 64 * n


def _read_bytes(source, limit):
    if hasattr(source, "read"):
        data = source.read(limit + 1)
    else:
        with open(source, "rb") as f:
            data = f.read(limit + 1)
    if not isinstance(data, bytes):
        raise TypeError(f"load_tape: expected a path or a binary file, got {type(data).__name__}")
    return data


def _read_member(zf, name, dtype, max_count, note, exact=None):
    """Member `name`.npy as an array of `dtype` (1-d; 0-d for the header), its declared size
    checked before anything is read or allocated."""
    info = zf.getinfo(name + ".npy")
    itemsize = np.dtype(dtype).itemsize if dtype is not None else 4
    if info.file_size > max_count * itemsize + 65536:
        raise TapeFormatError(f"tape too large: member {name!r} declares {info.file_size} "
                              f"bytes {note}")
    with zf.open(info) as f:
        raw = f.read(info.file_size + 1)   # to the end: zipfile checks the CRC there
    fp = io.BytesIO(raw)
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        shape, _, dt = np.lib.format.read_array_header_1_0(fp)
    elif version == (2, 0):
        shape, _, dt = np.lib.format.read_array_header_2_0(fp)
    else:
        _fail(f"member {name!r}: unsupported .npy version {version}")
    if dtype is None:                      # the JSON header: a 0-d unicode string
        if dt.kind != "U" or dt.str[0] not in "<|=" or shape != ():
            _fail(f"member 'meta' is {dt.str} {shape}, not a 0-d string")
        count = 1
    else:
        if dt != np.dtype(dtype) or not dt.isnative:
            _fail(f"stream {name!r} has dtype {dt.str}, expected {np.dtype(dtype).str}")
        if len(shape) != 1:
            _fail(f"stream {name!r} has shape {shape}, expected one dimension")
        count = shape[0]
        if exact is not None and count != exact:
            _fail(f"stream {name!r} has {count} elements, expected {exact} (one per entry)")
        if count > max_count:
            what = f"{count} entries" if name == "op" else f"stream {name!r} of {count} elements"
            raise TapeFormatError(f"tape too large: {what} {note}")
    body = raw[fp.tell():]
    if len(body) != count * dt.itemsize:
        _fail(f"member {name!r} holds {len(body)} data bytes, expected {count * dt.itemsize}")
    return np.frombuffer(body, dt).copy()   # owned, aligned, writable: what the kernels take


def _read_npz(data, limits):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return _read_members(zf, limits)


def _read_members(zf, limits):
    names = zf.namelist()
    expected = {k + ".npy" for k in ("meta", *STREAMS)}
    if len(names) != len(set(names)) or set(names) != expected:
        _fail(f"members {sorted(names)}, expected {sorted(expected)}")
    note = limits.note
    op = _read_member(zf, "op", OPCODE, limits.entries, note)
    n = len(op)
    prog = {"op": op}
    for name in PER_ENTRY:
        prog[name] = _read_member(zf, name, STREAMS[name], n, note, exact=n)
    prog["params"] = _read_member(zf, "params", np.int64, limits.params(n), note)
    prog["arg_ptr"] = _read_member(zf, "arg_ptr", np.int64, n + 1, note, exact=n + 1)
    prog["arg"] = _read_member(zf, "arg", np.int64, limits.args(n), note)
    prog["saved_nodes"] = _read_member(zf, "saved_nodes", np.int64, n, note)
    prog["saved_data"] = _read_member(zf, "saved_data", np.float64, limits.elements, note)
    text = _read_member(zf, "meta", None, _header_chars(n), note)
    if text.dtype.itemsize // 4 > _header_chars(n):
        _fail(f"header of {text.dtype.itemsize // 4} characters for {n} entries")
    return prog, str(text.reshape(())[()])


def load(source, max_entries=MAX_ENTRIES, max_elements=MAX_ELEMENTS, max_work=MAX_WORK):
    """(prog, meta) of the tape file `source` (a path or a binary file), checked as described
    in the module doc; raises TapeFormatError."""
    for name, v in (("max_entries", max_entries), ("max_elements", max_elements),
                    ("max_work", max_work)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"load_tape: {name} must be a non-negative integer, got {v!r}")
    limits = Limits(int(max_entries), int(max_elements), int(max_work))
    limit = limits.file_bytes()
    data = _read_bytes(os.fspath(source) if not hasattr(source, "read") else source, limit)
    if len(data) > limit:
        raise TapeFormatError(f"tape too large: the file is over {limit} bytes {limits.note}")
    try:
        prog, text = _read_npz(data, limits)
        meta = check_header(json.loads(text), prog)
    except TapeFormatError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, EOFError, OSError, ValueError,
            TypeError, RuntimeError, NotImplementedError, OverflowError, RecursionError,
            UnicodeError, SyntaxError) as e:
        # zip, .npy or JSON structure broken (CRC, truncation, bad header literal, nesting...)
        raise TapeFormatError(f"invalid tape file: cannot read it ({type(e).__name__}: {e})") from None
    check_program(prog, meta, limits)
    return prog, meta


def from_arrays(members, limits=None):
    """(prog, meta) of a mapping written by `arrays` (an unpickled tape), checked as `load`
    checks a file (default limits); raises TapeFormatError."""
    limits = limits or Limits(MAX_ENTRIES, MAX_ELEMENTS, MAX_WORK)
    if set(members) != {"meta", *STREAMS}:
        _fail(f"members {sorted(members)}, expected {sorted({'meta', *STREAMS})}")
    try:
        prog = {k: np.array(members[k], STREAMS[k], copy=True, order="C") for k in STREAMS}
        meta = check_header(json.loads(str(np.asarray(members["meta"]).reshape(())[()])), prog)
    except TapeFormatError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError) as e:
        raise TapeFormatError(f"invalid tape: cannot read it ({type(e).__name__}: {e})") from None
    check_program(prog, meta, limits)
    return prog, meta


def check_header(header, prog):
    """The tape's meta, once the format fields and the digest check out."""
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        _fail("not a tapegrad tape (no 'format': 'tapegrad-tape' in its header)")
    version = header.get("version")
    if version != VERSION or isinstance(version, bool):
        _fail(f"format version {version!r}; this tapegrad reads version {VERSION}")
    if header.get("op_table") != OP_TABLE:
        _fail("recorded against a different op table (another tapegrad version): its opcodes "
              "would mean other ops here; record and save the tape again")
    if header.get("digest") != digest(header, prog):
        _fail("its content does not match the digest in its header (the file is damaged or "
              "was edited)")
    unknown = set(header) - set(META_KEYS) - set(FORMAT_KEYS)
    missing = set(META_KEYS) - set(header)
    if unknown or missing:
        _fail(f"header keys: unknown {sorted(unknown)}, missing {sorted(missing)}")
    return {k: header[k] for k in META_KEYS}


# ---- the program ----------------------------------------------------------------------------------
def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _key(k):
    """A JSON object key that is a node number written as json.dumps writes ints."""
    if not (k.isascii() and k.isdigit() and len(k) <= 18 and str(int(k)) == k):
        _fail(f"key {k!r} is not a node number")
    return int(k)


def _node(x, n, what):
    if not _is_int(x) or not 0 <= x < n:
        _fail(f"{what} is {x!r}, not a node of this {n}-entry tape")
    return x


def _shape(s, limits, what):
    if (not isinstance(s, list) or len(s) > MAX_NDIM
            or not all(_is_int(d) and d >= 0 for d in s)):
        _fail(f"{what} {s!r} is not a shape of at most {MAX_NDIM} dims")
    if max(s, default=0) > limits.elements or math.prod(s) > limits.elements:
        raise TapeFormatError(f"tape too large: {what} {s} has {math.prod(s)} elements "
                              f"{limits.note}")
    return tuple(s)


def _shapes(shapes_in, n, limits):
    """{node: shape} of the header's shapes, checked in a few passes over all of them; the
    first bad one found by the per-item checks, which name it."""
    keys, vals = list(shapes_in), list(shapes_in.values())
    ok = (all(map(str.isdecimal, keys)) and all(map(str.isascii, keys))
          and max(map(len, keys), default=1) <= 18
          and not any(len(k) > 1 and k[0] == "0" for k in keys)
          and all(type(v) is list for v in vals) and max(map(len, vals), default=0) <= MAX_NDIM)
    if ok:
        nodes = list(map(int, keys))
        flat = list(chain.from_iterable(vals))
        ok = ((not nodes or max(nodes) < n) and set(map(type, flat)) <= {int}
              and (not flat or (min(flat) >= 0 and max(flat) <= limits.elements)))
    if ok and vals:
        lens = np.fromiter(map(len, vals), np.int64, len(vals))
        pad = np.ones((len(vals), MAX_NDIM), np.float64)
        first = np.repeat(np.cumsum(lens) - lens, lens)
        pad[np.repeat(np.arange(len(vals)), lens), np.arange(len(flat)) - first] = flat
        ok = bool((_exact_prod(*pad.T) <= limits.elements).all())
    if ok:
        return dict(zip(nodes, map(tuple, vals)))
    for k, v in shapes_in.items():     # name the first offender
        _node(_key(k), n, "shape key")
        _shape(v, limits, f"shape of node {k}")
    raise AssertionError("a shape failed the fast checks but none the per-item ones")


def _first(mask, what):
    """Fail naming the first entry where `mask` is set."""
    bad = np.flatnonzero(mask)
    if len(bad):
        _fail(f"entry {int(bad[0])}: {what}")


def _exact_prod(*cols):
    """Elementwise product in float64: exact below 2**53, and rounding is monotone, so a product
    that exceeds an int64 size is never mistaken for one that equals it."""
    out = np.ones(len(cols[0]), np.float64)
    for c in cols:
        out *= c.astype(np.float64)
    return out


def _aligned(shp, nd):
    """Shape rows right-aligned in MAX_NDIM columns (leading 1s), for broadcasting checks."""
    cols = np.arange(MAX_NDIM)
    src = cols[None, :] - (MAX_NDIM - nd[:, None])
    return np.where(src >= 0, np.take_along_axis(shp, np.maximum(src, 0), 1), 1)


def _index_range(params, p, shp, nd):
    """Lowest and highest flat index offset + sum(idx * stride) over a strided layout with
    params [offset, strides...] at p and the given shape rows (float64, see _exact_prod)."""
    cols = np.arange(MAX_NDIM)
    used = cols[None, :] < nd[:, None]
    strides = np.where(used, params[np.where(used, p[:, None] + 1 + cols, 0)], 0)
    span = np.where(used, (shp - 1).astype(np.float64) * strides.astype(np.float64), 0.0)
    base = params[p].astype(np.float64)
    return base + np.minimum(span, 0).sum(1), base + np.maximum(span, 0).sum(1)


def _ranges(starts, counts):
    """Flat positions start..start+count-1 of each row, and the row each belongs to."""
    owner = np.repeat(np.arange(len(starts)), counts)
    first = np.cumsum(counts) - counts
    return starts[owner] + np.arange(int(counts.sum())) - first[owner], owner


def check_program(prog, meta, limits):
    """Check the streams and header of a tape; everything a kernel indexes with is in range."""
    op, ia, ib, par, params = (prog[k] for k in ("op", "ia", "ib", "par", "params"))
    n = len(op)
    e = np.arange(n)

    # header: dtype, shapes of n-d nodes
    if meta["dtype"] not in INPUT_DTYPES:
        _fail(f"tape dtype {meta['dtype']!r}, expected one of {INPUT_DTYPES}")
    if not isinstance(meta["single"], bool):
        _fail("'single' is not a boolean")
    shapes_in = meta["shapes"]
    if not isinstance(shapes_in, dict):
        _fail("'shapes' is not a mapping")
    shapes = _shapes(shapes_in, n, limits)
    size, nd, shp = layout(n, shapes)
    total = int(size.sum())
    if total > limits.elements:
        raise TapeFormatError(f"tape too large: its nodes hold {total} elements {limits.note}")

    # opcodes and operands
    _first((op < 0) | (op >= len(BY_CODE)), "opcode out of the op table")
    kind = _KIND_OF[op.astype(np.int64)]
    _first((ia < -1) | (ia >= e), "first operand is neither -1 nor an earlier entry")
    _first((ib < -1) | (ib >= e), "second operand is neither -1 nor an earlier entry")
    _first(kind == _K["import"], "an import entry (a tape file holds no other tape's nodes)")
    _first(kind == _K["decomp"], "a decomposition row's opcode (its entries are primitives)")
    _first(kind == _K["pyfunc"], "a custom autograd.Function entry (its backward is Python)")
    _first(kind == _K["avg_pool"], "an avg_pool entry (eager only: a traced avg_pool2d records "
           "the row's primitives)")
    _first(kind == _K["norm"], "a norm entry (eager only: a traced layer_norm records the "
           "row's primitives)")
    _first(kind == _K["extreme"], "an extreme entry (eager only: a traced amax or max() "
           "records the row's primitives)")
    _first(kind == _K["lerp"], "a lerp entry (eager only: a traced lerp records the row's "
           "primitives)")
    _first(kind == _K["cumprod"], "a cumprod entry (eager only: a traced cumprod records the "
           "row's primitives)")
    _first(kind == _K["adaptive_avg_pool"], "an adaptive_avg_pool entry (eager only: a traced "
           "adaptive_avg_pool records the row's primitives)")
    _first(kind == _K["addc"], "an addc entry (eager only: a traced addcmul or addcdiv "
           "records the row's primitives)")
    none = np.isin(kind, [_K["leaf"], _K["const"]])
    _first(none & ((ia != -1) | (ib != -1)), "leaf or const entry with operands")
    one = np.isin(kind, [_K[k] for k in ("unary", "reduce", "reshape", "strided", "gather",
                                          "guard", "stopgrad", "scatter", "scatter_idx",
                                          "split", "shift", "scan", "softmax", "nll")])
    _first(one & ((ia < 0) | (ib != -1)), "one-operand op without exactly one operand")
    mm = kind == _K["matmul"]
    _first(mm & ((ia < 0) | (ib < 0)), "matmul without two operands")

    # operand lists past ia/ib (CSR): arg[arg_ptr[e]:arg_ptr[e + 1]], earlier entries only;
    # where takes exactly one (its condition), cat any number after ia and ib, others none
    arg_ptr, arg = prog["arg_ptr"], prog["arg"]
    if len(arg_ptr) != n + 1 or arg_ptr[0] != 0 or arg_ptr[-1] != len(arg):
        _fail(f"arg_ptr is not {n + 1} offsets from 0 to the {len(arg)} operands in arg")
    narg = np.diff(arg_ptr)
    _first(narg < 0, "operand list with a negative length")
    owner = np.repeat(e, narg)
    if len(arg) and ((arg < 0) | (arg >= owner)).any():
        _fail(f"entry {int(owner[np.argmax((arg < 0) | (arg >= owner))])}: listed operand is "
              f"not an earlier entry")
    cat = kind == _K["cat"]
    _first((kind == _K["where"]) & (narg != 1), "where without exactly one condition operand")
    _first(~cat & (kind != _K["where"]) & (narg != 0), "operand list on an op that takes none")
    _first(cat & ((ia < 0) | ((ib < 0) & (narg > 0))), "cat's operands are not a list of entries")
    on_host = np.isin(kind, [_K[k] for k in HOST_FORWARD])
    _first((prog["host"] > 1) | ((prog["host"] == 1) & ~on_host),
           "host flag on an entry whose kind does not run on the host")
    a, b = np.maximum(ia, 0), np.maximum(ib, 0)   # safe to index with; masks say which count

    # params: the slices of the entries that have one follow each other in entry order and
    # fill params, as Recorded's compaction writes them; so none lies outside params or
    # overlaps another (the checks below then read each params value once)
    nops = np.where(cat, (ia >= 0).astype(np.int64) + (ib >= 0) + narg, 0)
    # split: imm = its number of pieces K (params [outer, inner, d_0, ..., d_{K-1}])
    split = kind == _K["split"]
    imm = prog["imm"]
    pieces = np.where(split, imm, 0.0)
    _first(split & ~((pieces >= 0) & (pieces <= len(params)) & (pieces == np.floor(pieces))),
           "split's piece count is not a whole number of params")
    nops = np.where(split, pieces.astype(np.int64), nops)
    need = np.where(cat | split, 2 + nops, params_needed(kind, size[a], nd[a], size, nd,
                                                         shp[a, 0]))
    _first((need > 0) & (par == -1), "no params for an op that reads them")
    has = np.flatnonzero(par != -1)
    start = np.cumsum(need[has]) - need[has]
    _first(np.isin(e, has[par[has] != start]), "params slice does not start where the one "
           "before it ends")
    used = int(need[has].sum())
    if len(params) != used and not (used == 0 and len(params) == 1):   # ([0] when none)
        _fail(f"params holds {len(params)} values, its entries read {used}")
    p = np.maximum(par, 0)

    # elementwise kinds: same size, or broadcastable operands and the broadcast result
    same = np.isin(kind, [_K["unary"], _K["reshape"], _K["stopgrad"], _K["scan"],
                          _K["softmax"]])
    same |= op == OPS["guard_value"].code
    _first(same & (size[a] != size), "operand and result sizes differ")
    _first((op == OPS["guard_bool"].code) & (size[a] != 1), "bool() guard on a non-scalar")
    ew = np.flatnonzero(np.isin(kind, [_K["binary"], _K["compare"], _K["where"]]))
    cond = np.full(n, -1, np.int64)
    wh = ew[kind[ew] == _K["where"]]
    cond[wh] = arg[arg_ptr[wh]]
    _check_broadcast(ew, e, ia, ib, cond, shp, nd)

    # cat: params [outer, inner, d_0, ...]: operand k is (outer, d_k, inner), the output
    # (outer, sum d_k, inner), so every block the kernels copy lies inside its buffers
    # split: the same layout read the other way: x is (outer, sum d_k, inner), the packed
    # node as many elements
    def blocks(rows, what):
        """outer, inner, the block sizes d (flat), their row numbers `who` and positions in
        params, of the [outer, inner, d_0, ...] params of `rows`, checked non-negative."""
        k = nops[rows]
        outer, inner = params[p[rows]], params[p[rows] + 1]
        pos, who = _ranges(p[rows] + 2, k)
        d = params[pos]
        _first(np.isin(e, rows[(outer < 0) | (inner < 0)]), f"{what} params are negative")
        if (d < 0).any():
            _fail(f"entry {int(rows[who[np.argmax(d < 0)]])}: {what} params are negative")
        tot = np.bincount(who, weights=d.astype(np.float64), minlength=len(rows))
        return k, outer, inner, d, pos, who, tot

    rows = np.flatnonzero(split)
    if len(rows):
        k, outer, inner, d, pos, who, tot = blocks(rows, "split")
        whole = _exact_prod(outer, tot, inner)
        _first(np.isin(e, rows[(whole != size[a[rows]]) | (whole != size[rows])]),
               "split params do not match its operand and output sizes")

    rows = np.flatnonzero(cat)
    cat_reads = 0.0
    if len(rows):
        k, outer, inner, d, pos, who, tot = blocks(rows, "cat")
        # operand j of each row: ia, ib, then its arg list
        j = np.arange(len(pos)) - np.repeat(np.cumsum(k) - k, k)
        r = rows[who]
        node = np.where(j == 0, ia[r], np.where(j == 1, ib[r],
                        arg[np.clip(arg_ptr[r] + j - 2, 0, len(arg) - 1)] if len(arg)
                        else -1))
        good = _exact_prod(outer[who], d, inner[who]) == size[node]
        if not good.all():
            _fail(f"entry {int(r[np.argmax(~good)])}: cat params do not match operand sizes")
        _first(np.isin(e, rows[_exact_prod(outer, tot, inner) != size[rows]]),
               "cat params do not match its output size")
        cat_reads = float(size[node].sum())

    # reduce (and shift, a max): params = the keepdim shape of the output (nd[a] entries)
    rd = np.flatnonzero((kind == _K["reduce"]) | (kind == _K["shift"]))
    if len(rd):
        cols = np.arange(MAX_NDIM)
        used = cols[None, :] < nd[a[rd], None]
        keep = np.where(used, params[np.where(used, p[rd, None] + cols, 0)], 1)
        ok = ((keep == 1) | (keep == shp[a[rd]])).all(1)
        _first(np.isin(e, rd[~ok]), "reduce's kept shape does not match its input")
        kept = np.where(ok[:, None], keep, 1)
        _first(np.isin(e, rd[_exact_prod(*kept.T) != size[rd]]),
               "reduce's kept shape does not match its output size")

    # strided views read input[offset + sum(idx * stride)]; strided_scatter writes the output
    # there; the index range must lie inside the buffer indexed
    for kname, shape_of, buf in (("strided", "out", "a"), ("scatter", "a", "out")):
        rows = np.flatnonzero((kind == _K[kname]))
        if not len(rows):
            continue
        src = rows if shape_of == "out" else a[rows]
        dst = a[rows] if buf == "a" else rows
        lo, hi = _index_range(params, p[rows], shp[src], nd[src])
        bad = (size[src] > 0) & ((lo < 0) | (hi >= size[dst]))
        _first(np.isin(e, rows[bad]), f"{kname} params index outside the {buf} buffer")

    # gather reads input[params[i]]; index_scatter writes output[params[i]]
    for kname, count_of, bound_of in (("gather", "out", "a"), ("scatter_idx", "a", "out")):
        rows = np.flatnonzero(kind == _K[kname])
        if not len(rows):
            continue
        counts = size[rows] if count_of == "out" else size[a[rows]]
        bound = size[a[rows]] if bound_of == "a" else size[rows]
        pos, owner = _ranges(p[rows], counts)
        idx = params[pos]
        bad = (idx < 0) | (idx >= bound[owner])
        if bad.any():
            _fail(f"entry {int(rows[owner[np.argmax(bad)]])}: {kname} index outside the "
                  f"{bound_of} buffer")

    # matmul: params [batch, m, k, n, b_batched] consistent with the operand sizes
    rows = np.flatnonzero(mm)
    products = 0.0   # a matmul's output element sums k products
    if len(rows):
        nb, m_dim, k_dim, n_dim, b_batched = (params[p[rows] + j] for j in range(5))
        ok = ((nb >= 0) & (m_dim >= 0) & (k_dim >= 0) & (n_dim >= 0) & ((b_batched == 0) | (b_batched == 1)))
        ok &= _exact_prod(nb, m_dim, k_dim) == size[a[rows]]
        ok &= _exact_prod(np.where(b_batched == 1, nb, 1), k_dim, n_dim) == size[b[rows]]
        ok &= _exact_prod(nb, m_dim, n_dim) == size[rows]
        _first(np.isin(e, rows[~ok]), "matmul params do not match its operand sizes")
        products = float(_exact_prod(size[rows], k_dim).sum())

    # scan: params [outer, m, inner, reverse] cover its operand (one element: none)
    rows = np.flatnonzero((kind == _K["scan"]) & (size[a] != 1))
    if len(rows):
        outer, m_dim, inner, rev = (params[p[rows] + j] for j in range(scan_kind.NPARAMS))
        ok = (outer >= 0) & (m_dim >= 0) & (inner >= 0) & ((rev == 0) | (rev == 1))
        ok &= _exact_prod(outer, m_dim, inner) == size[a[rows]]
        _first(np.isin(e, rows[~ok]), "scan params do not match its operand size")

    # softmax: params [outer, m, inner] cover its operand (one element: none); imm says
    # log_softmax (1.0) or softmax (0.0), as the opcode does
    smx = kind == _K["softmax"]
    _first(smx & (prog["imm"] != (op == OPS["log_softmax"].code)),
           "softmax entry whose imm does not match its opcode")
    rows = np.flatnonzero(smx & (size[a] != 1))
    if len(rows):
        outer, m_dim, inner = (params[p[rows] + j] for j in range(softmax_kind.NPARAMS))
        ok = (outer >= 0) & (m_dim >= 0) & (inner >= 0)
        ok &= _exact_prod(outer, m_dim, inner) == size[a[rows]]
        _first(np.isin(e, rows[~ok]), "softmax params do not match its operand size")

    # nll: a 2-d operand (N, C) of two or more elements, one output; params its N targets,
    # each in [0, C); imm 1.0 (mean) or 0.0 (sum)
    nll = kind == _K["nll"]
    _first(nll & ((nd[a] != 2) | (size[a] < 2) | (size != 1)),
           "nll entry whose operand is not 2-d or whose result is not one element")
    _first(nll & (prog["imm"] != 0.0) & (prog["imm"] != 1.0), "nll entry whose imm is not 0 or 1")
    rows = np.flatnonzero(nll)
    if len(rows):
        pos, who = _ranges(p[rows], shp[a[rows], 0])
        t = params[pos]
        bad = (t < 0) | (t >= shp[a[rows], 1][who])
        if bad.any():
            _fail(f"entry {int(rows[who[np.argmax(bad)]])}: nll target out of its operand's "
                  f"classes")

    # linalg (LAPACK host entries): params [which, nb, n, k, flag] name the entry's own
    # opcode and match its operand and output sizes; the entry must pause (host flag), as
    # no kernel computes it
    rows = np.flatnonzero(kind == _K["linalg"])
    lapack_work = 0.0
    if len(rows):
        which, nb, n_dim, k_dim, flag = (params[p[rows] + j] for j in range(linalg_kind.NPARAMS))
        expect = np.array([OPS[name].code for name in linalg_kind.NAMES])
        ok = (which >= 0) & (which < len(expect))
        w = np.where(ok, which, 0)
        ok &= expect[w] == op[rows]
        tri = w == linalg_kind.SOLVE_TRIANGULAR   # flag bits: left=False, upper, unit
        ok &= (nb >= 0) & (n_dim >= 0) & (k_dim >= 0)
        ok &= np.where(tri, (flag >= 0) & (flag < 8), (flag == 0) | (flag == 1))
        ok &= (flag == 0) | tri | np.isin(w, [linalg_kind.SOLVE, linalg_kind.CHOLESKY,
                                              linalg_kind.EIGVALSH])
        solve = (w == linalg_kind.SOLVE) | tri
        ok &= (k_dim == n_dim) | solve | (w == linalg_kind.SVDVALS)
        ok &= (ia[rows] >= 0) & (solve == (ib[rows] >= 0))
        a_size = np.where(w == linalg_kind.SVDVALS, _exact_prod(nb, n_dim, k_dim), _exact_prod(nb, n_dim, n_dim))
        ok &= a_size == size[a[rows]]
        ok &= ~solve | (_exact_prod(nb, n_dim, k_dim) == size[b[rows]])
        out = np.select([np.isin(w, linalg_kind.DETS), solve,
                         w == linalg_kind.SVDVALS, w == linalg_kind.EIGVALSH],
                        [nb, _exact_prod(nb, n_dim, k_dim), _exact_prod(nb, np.minimum(n_dim, k_dim)),
                         _exact_prod(nb, n_dim)],
                        _exact_prod(nb, n_dim, n_dim))
        ok &= out == size[rows]
        _first(np.isin(e, rows[~ok]), "linalg params do not match its opcode or operand sizes")
        _first(np.isin(e, rows[prog["host"][rows] != 1]), "linalg entry without its host flag")
        lapack_work = float(_exact_prod(nb, n_dim, n_dim).astype(np.float64) @
                            np.maximum(n_dim, k_dim).astype(np.float64))

    # saved values prefilled into the arena
    sn, sd = prog["saved_nodes"], prog["saved_data"]
    if len(sn) and (sn.min() < 0 or sn.max() >= n or (np.diff(sn) <= 0).any()):
        _fail("saved_nodes are not increasing node numbers")
    if len(sd) != int(size[sn].sum()):
        _fail(f"saved_data holds {len(sd)} values, its nodes {int(size[sn].sum())}")

    # the work of one forward replay: every entry writes its elements and reads its operands'
    work = float(size.sum()) + float(np.where(ia >= 0, size[a], 0).sum())
    work += float(np.where(ib >= 0, size[b], 0).sum()) + products + cat_reads + lapack_work
    if work > limits.work:
        raise TapeFormatError(f"tape too large: one replay takes about {work:.3g} element "
                              f"operations {limits.note}")

    _check_io(meta, n, kind, shapes, size, limits)


def _check_broadcast(rows, e, ia, ib, cond, shp, nd):
    """Operands (and where's condition) of elementwise entries broadcast to the entry's shape."""
    ranked = nd[rows] > 0          # entries whose nodes all have one element are fine as they are
    for x in (ia[rows], ib[rows], cond[rows]):
        ranked |= (x >= 0) & (nd[np.maximum(x, 0)] > 0)
    rows = rows[ranked]
    if not len(rows):
        return
    out = _aligned(shp[rows], nd[rows])
    bc = np.ones_like(out)
    rank = np.zeros(len(rows), np.int64)
    for x in (ia[rows], ib[rows], cond[rows]):
        has = x >= 0
        xs = np.maximum(x, 0)
        sh = np.where(has[:, None], _aligned(shp[xs], nd[xs]), 1)
        r = np.where(has, nd[xs], 0)
        ok = (r <= nd[rows]) & ((sh == 1) | (sh == out)).all(1)
        _first(np.isin(e, rows[~ok]), "operand does not broadcast to the result's shape")
        bc = np.where(sh == 1, bc, sh)
        rank = np.maximum(rank, r)
    _first(np.isin(e, rows[(rank != nd[rows]) | (bc != out).any(1)]),
           "result shape is not the operands' broadcast shape")


def _check_io(meta, n, kind, shapes, size, limits):
    """Inputs are the tape's leaf entries, each once; inputs and outputs have their nodes' shapes."""
    for what, dtypes in (("inputs", INPUT_DTYPES), ("outputs", OUTPUT_DTYPES)):
        items = meta[what]
        if not isinstance(items, list):
            _fail(f"{what!r} is not a list")
        for i, item in enumerate(items):
            if not isinstance(item, list) or len(item) != 3:
                _fail(f"{what} {i} is not [node, shape, dtype]")
            node = _node(item[0], n, f"node of {what} {i}")
            shape = _shape(item[1], limits, f"shape of {what} {i}")
            if item[2] not in dtypes:
                _fail(f"{what} {i} has dtype {item[2]!r}, expected one of {dtypes}")
            if (shape != shapes[node]) if node in shapes else math.prod(shape) != 1:
                _fail(f"{what} {i} has shape {list(shape)}, its node {node} holds "
                      f"{list(shapes.get(node, ()))}")
    nodes = [item[0] for item in meta["inputs"]]
    leaves = np.flatnonzero(kind == _K["leaf"]).tolist()
    if sorted(nodes) != leaves:
        _fail(f"input nodes {nodes} are not the tape's leaf entries {leaves}")
    if meta["single"] and len(meta["outputs"]) != 1:
        _fail("'single' with other than one output")
    dtype = "float64" if any(it[2] == "float64" for it in meta["inputs"] + meta["outputs"]) \
        else "float32"
    if meta["dtype"] != dtype:
        _fail(f"tape dtype {meta['dtype']!r} does not follow from its inputs and outputs")
    guards = meta["guards"]
    if not isinstance(guards, dict):
        _fail("'guards' is not a mapping")
    for k, src in guards.items():
        if not isinstance(src, str):
            _fail(f"guard {k!r}: source {src!r} is not a string")
        if kind[_node(_key(k), n, "guard key")] != _K["guard"]:
            _fail(f"guard key {k} is not a guard entry")


__all__ = ["TapeFormatError", "Limits", "load", "save", "FORMAT", "VERSION", "OP_TABLE",
           "MAX_ENTRIES", "MAX_ELEMENTS", "MAX_WORK"]
