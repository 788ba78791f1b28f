"""Fuzz loop for tape files, run in a subprocess by test_tapefile_fuzz.py (a crash there is a
failed test, not a dead test run).

    python tapefile_fuzz_worker.py SEED SECONDS DIR

Mutates saved tapes of every kind and loads and replays each mutant:

* damaged files (random bytes, truncation, cut/inserted spans; content digest not updated):
  each load raises TapeFormatError or replays exactly as the intact file;
* crafted files (one stream element, length or dtype, a params value, a header field changed,
  a member dropped or added, all with the content digest recomputed, as an attacker would):
  each load raises TapeFormatError, or the tape replays, raising at most BranchChanged or the
  replay API's own argument errors; canary arrays of this process and the intact tapes'
  results stay unchanged.

Prints one JSON line of outcome counts; exits 1 (with the case) on a wrong outcome.
"""
import io
import json
import os
import random
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tapefile_corpus  # noqa: E402
import tapegrad as tg  # noqa: E402
from tapegrad import tapefile  # noqa: E402
from tapegrad.ops import BY_CODE  # noqa: E402

# Errors the replay API raises for arguments that do not fit a (validly loaded) tape.
API_ERRORS = ("expected shape", "expected dtype", "this tape takes", "value_and_grad needs",
              "jacobian needs", "expected a real array")


def replays(rec, inputs):
    """Every replay path on `rec` at `inputs`: [(what, result or error text)]."""
    out = []
    calls = [("forward", lambda: rec(*inputs)),
             ("value_and_grad", lambda: rec.value_and_grad(*inputs)),
             ("jacobian", lambda: rec.jacobian(*inputs)),
             ("batch", lambda: rec.value_and_grad_batch(*(np.stack([x, x]) for x in inputs)))]
    for what, call in calls:
        try:
            out.append((what, call()))
        except tg.BranchChanged as e:
            out.append((what, f"BranchChanged: {e}"))
        except (TypeError, ValueError) as e:
            if isinstance(e, tg.TapeFormatError) or not any(s in str(e) for s in API_ERRORS):
                raise
            out.append((what, f"{type(e).__name__}: {e}"))
    return out


def same(x, y):
    if isinstance(x, (tuple, list)):
        return (isinstance(y, (tuple, list)) and len(x) == len(y)
                and all(same(a, b) for a, b in zip(x, y)))
    if isinstance(x, str) or isinstance(y, str):
        return x == y
    x, y = np.asarray(x), np.asarray(y)
    return x.shape == y.shape and x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True)


def members(path):
    """The intact file's header (dict) and arrays, as written."""
    with np.load(path, allow_pickle=False) as z:
        header = json.loads(str(z["meta"]))
        arrays = {k: z[k] for k in z.files if k != "meta"}
    return header, arrays


def write(header, arrays, reseal=True, raw_header=None):
    """An .npz file image; with `reseal` the digest is recomputed as an attacker would."""
    header = dict(header)
    if reseal:
        header["digest"] = tapefile.digest(header, arrays)
    buf = io.BytesIO()
    text = raw_header if raw_header is not None else json.dumps(header)
    np.savez(buf, meta=np.array(text), **arrays)
    return buf.getvalue()


# ---- mutations ---------------------------------------------------------------------------------
def int_values(rng, n, i, m):
    return [-2 ** 63, -2 ** 31, -2, -1, 0, 1, i - 1, i, i + 1, n - 1, n, n + 1, m - 1, m, m + 1,
            2 ** 31 - 1, 2 ** 31, 2 ** 40, 2 ** 62, 2 ** 63 - 1, rng.randint(-3, n + 3),
            rng.randint(0, 8), rng.randint(-2 ** 20, 2 ** 20)]


FLOATS = [float("nan"), float("inf"), -float("inf"), 0.0, -0.0, 1e300, -1e-300, 2.0, 0.5]


def mutate_stream(rng, header, arrays):
    arrays = dict(arrays)
    name = rng.choice(sorted(arrays))
    a = arrays[name].copy()
    n, m = (np.size(arrays.get(k, ())) for k in ("op", "params"))
    how = rng.random()
    if how < 0.75 and a.ndim == 1 and len(a):
        i = rng.randrange(len(a)) if rng.random() < 0.8 else rng.choice([0, len(a) - 1])
        if a.dtype == np.int8:
            a[i] = rng.choice([-128, -1, 0, 1, len(BY_CODE) - 1, len(BY_CODE), 127,
                               rng.randrange(len(BY_CODE))])
        elif a.dtype.kind == "i":
            a[i] = rng.choice(int_values(rng, n, i, m))
        else:
            a[i] = rng.choice(FLOATS + [rng.uniform(-5, 5)])
        desc = f"{name}[{i}] = {a[i]!r}"
    elif how < 0.85:
        a = a.reshape(-1)
        a = a[:-1] if len(a) and rng.random() < 0.5 else np.append(a, a[:1] if len(a) else 0)
        a = a.astype(arrays[name].dtype)
        desc = f"{name} length {len(a)}"
    elif how < 0.95:
        dt = rng.choice([np.int8, np.int16, np.int32, np.int64, np.uint8, np.float32,
                         np.float64, ">i8", ">f8", np.bool_])
        a = a.astype(dt)
        desc = f"{name} dtype {np.dtype(dt).str}"
    else:
        a = a.reshape(-1, 1) if rng.random() < 0.5 else np.array(a[:1].sum())
        desc = f"{name} shape {a.shape}"
    arrays[name] = a
    return header, arrays, desc


SPECIAL_JSON = [None, True, False, -1, 0, 1, 2, 3, 7, 8, 9, 10 ** 12, 2 ** 63, -2 ** 63, 1.5,
                float("nan"), "", "x", "float64", "float32", "bool", "int8", "__class__", [],
                {}, [1] * 9, [2, 2], [0], [3], [2, 3], [10 ** 6, 10 ** 6], [[1]], {"0": [2]}]


def paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from paths(v, prefix + (i,))


def mutate_header(rng, header, arrays):
    header = json.loads(json.dumps(header))
    n = np.size(arrays.get("op", ()))
    choices = [p for p in paths(header) if p]
    if not choices:
        return header, arrays, "header unchanged"
    path = rng.choice(choices)
    parent = header
    for k in path[:-1]:
        parent = parent[k]
    key = path[-1]
    how = rng.random()
    if how < 0.15 and isinstance(parent, dict):
        del parent[key]
        desc = f"del header{list(path)}"
    elif how < 0.3 and isinstance(parent, dict):
        new = rng.choice([str(rng.randrange(n + 2)), "-1", "01", "1e3", str(n), "x", "²"])
        parent[new] = rng.choice(SPECIAL_JSON + [parent[key]])
        desc = f"header{list(path[:-1])}[{new!r}] added"
    elif how < 0.4 and isinstance(parent, list):
        parent.append(rng.choice(SPECIAL_JSON + [parent[key]]))
        desc = f"header{list(path[:-1])} appended"
    else:
        v = rng.choice(SPECIAL_JSON + [rng.randrange(-2, n + 2)])
        parent[key] = v
        desc = f"header{list(path)} = {v!r}"
    return header, arrays, desc


def mutate_members(rng, header, arrays):
    arrays = dict(arrays)
    how = rng.randrange(3)
    name = rng.choice(sorted(arrays))
    if how == 0:
        del arrays[name]
        return header, arrays, f"member {name} dropped"
    if how == 1:
        arrays["extra"] = arrays[name]
        return header, arrays, "extra member"
    arrays[name] = np.array([object()], dtype=object)  # needs pickle
    return header, arrays, f"member {name} as pickled objects"


def damage(rng, data):
    data = bytearray(data)
    how = rng.randrange(5)
    if how == 0:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data), "bytes flipped"
    if how == 1:
        k = rng.randrange(len(data))
        return bytes(data[:k]), f"truncated at {k}"
    if how == 2:
        k = rng.randrange(len(data))
        return bytes(data[:k] + data[k + rng.randint(1, 64):]), f"span cut at {k}"
    if how == 3:
        k = rng.randrange(len(data))
        return bytes(data[:k] + bytes(rng.randrange(256) for _ in range(8)) + data[k:]), \
            f"bytes inserted at {k}"
    k = rng.randrange(len(data))
    data[k:k + 16] = bytes(16)
    return bytes(data), f"zeroed at {k}"


# ---- the loop ----------------------------------------------------------------------------------
def main(seed, seconds, tmp):
    rng = random.Random(seed)
    corpus = []
    for name, rec, inputs in tapefile_corpus.tapes():
        path = os.path.join(tmp, name + ".tape")
        rec.save(path)
        intact = tg.load_tape(path)
        expect = replays(intact, inputs)
        assert same(expect, replays(rec, inputs)), name
        with open(path, "rb") as f:
            data = f.read()
        corpus.append((name, intact, inputs, expect, data, members(path)))
    canaries = [np.full(k, 7.0) for k in (1, 8, 64, 4096)] + [np.arange(100)]
    canary_copies = [c.copy() for c in canaries]
    counts = {"cases": 0, "refused": 0, "identical": 0, "replayed": 0, "api_error": 0}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        name, intact, inputs, expect, data, (header, arrays) = rng.choice(corpus)
        kind = rng.random()
        if kind < 0.3:
            blob, desc = damage(rng, data)
            crafted = False
        else:
            mut = (mutate_stream if kind < 0.65 else mutate_header if kind < 0.93
                   else mutate_members)
            try:
                h, a, desc = mut(rng, header, arrays)
                for _ in range(rng.choice([0, 0, 0, 1, 2])):   # sometimes several at once
                    h, a, more = rng.choice([mutate_stream, mutate_header])(rng, h, a)
                    desc += "; " + more
                blob = write(h, a)
            except (TypeError, ValueError, OverflowError):
                continue   # a value the mutated array or json cannot hold: no such file
            crafted = True
        case = f"{name}: {desc}"
        print(case, file=sys.stderr, flush=True)   # the last line names a crashing case
        counts["cases"] += 1
        try:
            rec = tg.load_tape(io.BytesIO(blob))
        except tg.TapeFormatError:
            counts["refused"] += 1
            continue
        got = replays(rec, inputs)
        if not crafted:
            if not same(got, expect):
                print(f"FAIL {case}: a damaged file loaded and replayed differently",
                      file=sys.stderr)
                return 1
            counts["identical"] += 1
        else:
            counts["api_error" if any(isinstance(r, str) for _, r in got) else "replayed"] += 1
        if not all(np.array_equal(c, d) for c, d in zip(canaries, canary_copies)):
            print(f"FAIL {case}: a replay wrote into another array", file=sys.stderr)
            return 1
        if not same(replays(intact, inputs), expect):
            print(f"FAIL {case}: the intact tape's results changed", file=sys.stderr)
            return 1
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    import faulthandler
    faulthandler.enable()
    sys.exit(main(int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]))
