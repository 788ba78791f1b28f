"""Tape files are untrusted input: each check of `load_tape` refuses what it should, with a
message naming the problem, and a valid file still round-trips."""
import hashlib
import io
import json
import os
import sys

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import tapefile
from tapegrad.ops import BY_CODE, OPS

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tapefile_corpus  # noqa: E402
from tapefile_fuzz_worker import members, write  # noqa: E402


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("tapes")
    out = {}
    for name, rec, inputs in tapefile_corpus.tapes():
        path = str(d / f"{name}.tape")
        rec.save(path)
        out[name] = (rec, inputs, path)
    return out


def crafted(corpus, name, edit, reseal=True):
    """Load tape `name` after `edit(header, arrays)` (digest recomputed unless reseal=False)."""
    header, arrays = members(corpus[name][2])
    arrays = {k: v.copy() for k, v in arrays.items()}
    edit(header, arrays)
    return tg.load_tape(io.BytesIO(write(header, arrays, reseal=reseal)))


def first(arrays, kind=None, name=None):
    codes = [op.code for op in BY_CODE if op.kind == kind or op.name == name]
    return int(np.flatnonzero(np.isin(arrays["op"], codes))[0])


def test_round_trip_of_every_kind(corpus):
    for rec, inputs, path in corpus.values():
        loaded = tg.load_tape(path)
        v0, g0 = rec.value_and_grad(*inputs)
        v1, g1 = loaded.value_and_grad(*inputs)
        assert v0 == v1 and all(np.array_equal(a, b) for a, b in zip(g0, g1))
        with open(path, "rb") as f:                         # a binary file works as well
            assert tg.load_tape(f).value_and_grad(*inputs)[0] == v0


def test_error_type_is_exported_and_a_value_error():
    assert tg.TapeFormatError is tapefile.TapeFormatError
    assert issubclass(tg.TapeFormatError, ValueError)


def test_missing_file_is_not_a_format_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        tg.load_tape(str(tmp_path / "nope.tape"))


def test_header_has_version_fingerprint_and_digest(corpus):
    header, arrays = members(corpus["nd_float64"][2])
    assert header["format"] == "tapegrad-tape" and header["version"] == tapefile.VERSION
    assert header["op_table"] == tapefile.OP_TABLE
    assert header["digest"] == tapefile.digest(header, arrays)


@pytest.mark.parametrize("edit, message", [
    (lambda h, a: h.update(version=1), "format version 1"),
    (lambda h, a: h.pop("version"), "format version None"),
    (lambda h, a: h.update(format="npz"), "not a tapegrad tape"),
    (lambda h, a: h.update(op_table="0" * 64), "different op table"),
])
def test_format_fields(corpus, edit, message):
    with pytest.raises(tg.TapeFormatError, match=message):
        crafted(corpus, "scalar64", edit)


def test_tape_from_a_renumbered_op_table_is_refused(corpus):
    """A table with two opcodes swapped has another fingerprint: its tapes are refused."""
    table = [[op.name, op.kind, op.fwd, list(op.grads), list(op.saves)] for op in BY_CODE]
    i, j = OPS["sin"].code, OPS["cos"].code
    table[i], table[j] = table[j], table[i]
    other = hashlib.sha256(json.dumps(table).encode()).hexdigest()

    def edit(h, a):
        h["op_table"] = other
        sin = a["op"] == i
        a["op"][a["op"] == j], a["op"][sin] = i, j
    with pytest.raises(tg.TapeFormatError, match="different op table"):
        crafted(corpus, "scalar64", edit)


def test_a_file_written_before_format_versions_is_refused(corpus, tmp_path):
    header, arrays = members(corpus["scalar64"][2])
    old = {k: header[k] for k in tapefile.META_KEYS}
    path = tmp_path / "old.tape"
    with open(path, "wb") as f:
        np.savez(f, meta=np.array(json.dumps(old)), **arrays)
    with pytest.raises(tg.TapeFormatError, match="not a tapegrad tape"):
        tg.load_tape(str(path))


def test_changed_content_without_a_new_digest_is_refused(corpus):
    def edit(h, a):
        a["imm"][a["imm"] != 0] *= 2
    with pytest.raises(tg.TapeFormatError, match="does not match the digest"):
        crafted(corpus, "scalar64", edit, reseal=False)


@pytest.mark.parametrize("data, message", [
    (b"", "cannot read it"), (b"PK\x03\x04" + bytes(40), "cannot read it"),
    (b"\x93NUMPY" + bytes(100), "cannot read it"),
])
def test_not_a_tape(data, message):
    with pytest.raises(tg.TapeFormatError, match=message):
        tg.load_tape(io.BytesIO(data))


def test_every_truncation_is_refused(corpus):
    with open(corpus["grad_graph"][2], "rb") as f:
        data = f.read()
    for k in range(0, len(data), max(1, len(data) // 150)):
        with pytest.raises(tg.TapeFormatError):
            tg.load_tape(io.BytesIO(data[:k]))


def _set(name, value, at=lambda a: -1):
    def edit(h, a):
        a[name][at(a)] = value(a) if callable(value) else value
    return edit


OPERAND_CASES = [
    ("op", 32000, "opcode out of the op table"),
    ("op", -1, "opcode out of the op table"),
    ("ia", lambda a: len(a["op"]) - 1, "first operand is neither -1 nor an earlier entry"),
    ("ia", -2, "first operand is neither -1 nor an earlier entry"),
    ("ib", 2 ** 40, "second operand is neither -1 nor an earlier entry"),
]


@pytest.mark.parametrize("name, value, message", OPERAND_CASES)
def test_opcodes_and_operands(corpus, name, value, message):
    with pytest.raises(tg.TapeFormatError, match=message):
        crafted(corpus, "nd_float64", _set(name, value))


def test_leaf_entry_with_an_operand(corpus):
    with pytest.raises(tg.TapeFormatError, match="leaf or const entry with operands"):
        crafted(corpus, "nd_float64", _set("ia", 0, lambda a: first(a, "const")))


def test_unary_without_operand(corpus):
    # what crashed the old loader: mark_live wrote live[ia[e]] with ia from the file
    with pytest.raises(tg.TapeFormatError, match="one-operand op without exactly one operand"):
        crafted(corpus, "nd_float64", _set("ia", -1, lambda a: first(a, "unary")))


@pytest.mark.parametrize("kind, value, message", [
    ("gather", lambda p: 10 ** 6, "gather index outside the a buffer"),
    ("gather", lambda p: -1, "gather index outside the a buffer"),
    ("strided", lambda p: 10 ** 6, "strided params index outside the a buffer"),
    ("scatter_idx", lambda p: 10 ** 6, "scatter_idx index outside the out buffer"),
    ("scatter", lambda p: 50, "scatter params index outside the out buffer"),
    ("matmul", lambda p: 7, "matmul params do not match"),
    ("reduce", lambda p: 5, "reduce's kept shape does not match its input"),
])
def test_params_values(corpus, kind, value, message):
    name = "grad_graph" if kind in ("scatter", "scatter_idx") else "nd_float64"

    def edit(h, a):
        e = first(a, kind)
        a["params"][a["par"][e]] = value(a["params"][a["par"][e]])
    with pytest.raises(tg.TapeFormatError, match=message):
        crafted(corpus, name, edit)


def test_strided_stride_out_of_range(corpus):
    def edit(h, a):
        e = first(a, "strided")
        a["params"][a["par"][e] + 1] = 2 ** 61     # idx * stride would wrap in int64
    with pytest.raises(tg.TapeFormatError, match="strided params index outside"):
        crafted(corpus, "nd_float64", edit)


def test_params_slice_outside_params(corpus):
    def edit(h, a):
        a["par"][first(a, "matmul")] = len(a["params"]) - 2
    with pytest.raises(tg.TapeFormatError, match="params slice does not start where"):
        crafted(corpus, "nd_float64", edit)


def test_params_slices_do_not_overlap(corpus):
    """Two entries reading the same params (a small file whose replay work multiplies) are
    refused: slices follow each other in entry order and fill params."""
    def edit(h, a):
        g = np.flatnonzero(a["op"] == OPS["index"].code)
        a["par"][g[1]] = a["par"][g[0]]
    with pytest.raises(tg.TapeFormatError, match="params slice does not start where"):
        crafted(corpus, "nd_float64", edit)

    def grow(h, a):
        a["params"] = np.append(a["params"], 0)
    with pytest.raises(tg.TapeFormatError, match="params holds .* values, its entries read"):
        crafted(corpus, "nd_float64", grow)


def test_where_condition_must_be_an_earlier_entry(corpus):
    def edit(h, a):
        e = first(a, "where")
        a["arg"][a["arg_ptr"][e]] = e
    with pytest.raises(tg.TapeFormatError, match="listed operand is not an earlier entry"):
        crafted(corpus, "scalar64", edit)


def _shift_operand_list(a, e, k):
    """Give entry e k more listed operands (node 0), keeping the CSR offsets consistent."""
    p = a["arg_ptr"][e + 1]
    a["arg"] = np.insert(a["arg"], p, np.zeros(k, np.int64))
    a["arg_ptr"][e + 1:] += k


@pytest.mark.parametrize("edit, message", [
    # the CSR offsets themselves
    (lambda a: a.update(arg_ptr=a["arg_ptr"][:-1]), "arg_ptr"),
    (lambda a: a["arg_ptr"].__setitem__(-1, a["arg_ptr"][-1] + 1), "arg_ptr is not"),
    (lambda a: a.update(arg_ptr=np.where(np.arange(len(a["arg_ptr"])) == 1, 5, a["arg_ptr"])),
     "negative length|arg_ptr is not|operand list on an op"),
    # counts per kind: where takes one, others none
    (lambda a: _shift_operand_list(a, first(a, "where"), 1), "exactly one condition"),
    (lambda a: _shift_operand_list(a, first(a, "unary"), 1), "operand list on an op that takes none"),
    (lambda a: a["arg"].__setitem__(0, -3), "listed operand is not an earlier entry"),
])
def test_operand_lists_are_checked(corpus, edit, message):
    with pytest.raises(tg.TapeFormatError, match=message):
        crafted(corpus, "nd_float64", lambda h, a: edit(a))


@pytest.mark.parametrize("edit, message", [
    (lambda a, e: a["params"].__setitem__(a["par"][e] + 2, 7), "cat params do not match"),
    (lambda a, e: a["params"].__setitem__(a["par"][e], -1), "cat params are negative"),
    (lambda a, e: a["params"].__setitem__(a["par"][e] + 1, 10 ** 12), "cat params do not match"),
    (lambda a, e: a["ib"].__setitem__(e, -1), "cat's operands are not a list"),
    (lambda a, e: a["ia"].__setitem__(e, -1), "cat's operands are not a list"),
    (lambda a, e: _shift_operand_list(a, e, 1), "params slice|params holds|cat params"),
])
def test_cat_entries_are_checked(corpus, edit, message):
    def go(h, a):
        edit(a, first(a, "cat"))
    with pytest.raises(tg.TapeFormatError, match=message):
        crafted(corpus, "nd_float64", go)


@pytest.mark.parametrize("edit, message", [
    (lambda h, a: h["shapes"].update({"5": [7, 7]}), "sizes differ|broadcast|kept shape"),
    (lambda h, a: h["shapes"].update({"-1": [2]}), "key '-1' is not a node number"),
    (lambda h, a: h["shapes"].update({"3": [2] * 9}), "at most 8 dims"),
    (lambda h, a: h["inputs"][0].__setitem__(2, "__class__"), "dtype '__class__'"),
    (lambda h, a: h["outputs"][0].__setitem__(0, 10 ** 9), "not a node"),
    (lambda h, a: h["inputs"][0].__setitem__(1, [6]), "has shape \\[6\\]"),
    (lambda h, a: h["inputs"].pop(), "are not the tape's leaf entries"),
    (lambda h, a: h.update(dtype="int8"), "tape dtype 'int8'"),
    (lambda h, a: h.update(single=1), "'single' is not a boolean"),
    (lambda h, a: h["guards"].update({"0": "x"}), "not a guard entry"),
    (lambda h, a: h.update(extra=1), "unknown \\['extra'\\]"),
])
def test_header_fields(corpus, edit, message):
    with pytest.raises(tg.TapeFormatError, match=message):
        crafted(corpus, "nd_float64", edit)


@pytest.mark.parametrize("edit, message", [
    (lambda h, a: a.update(ia=a["ia"].astype(np.int32)), "stream 'ia' has dtype <i4"),
    (lambda h, a: a.update(imm=a["imm"].astype(">f8")), "stream 'imm' has dtype >f8"),
    (lambda h, a: a.update(val=a["val"][:-1]), "stream 'val' has .* elements, expected"),
    (lambda h, a: a.update(op=a["op"].reshape(-1, 1)), "expected one dimension"),
    (lambda h, a: a.pop("par"), "members"),
    (lambda h, a: a.update(saved_data=a["saved_data"][:-1]), "saved_data holds"),
    (lambda h, a: a["saved_nodes"].__setitem__(0, -1), "saved_nodes are not"),
])
def test_streams(corpus, edit, message):
    with pytest.raises(tg.TapeFormatError, match=message):
        crafted(corpus, "nd_float64", edit)


def test_pickled_member_is_refused_without_unpickling(corpus):
    def edit(h, a):
        a["params"] = np.array([object()], dtype=object)
    with pytest.raises(tg.TapeFormatError, match="stream 'params' has dtype \\|O"):
        crafted(corpus, "nd_float64", edit)


def test_a_tiny_file_cannot_demand_a_huge_arena(corpus):
    """An expand (stride 0) of one element to 2**15 x 2**15 (8 GiB of float64) fits in a 4 KB
    file; it is refused by the element limit, and the message says how to raise it."""
    rec = tg.record(lambda x: x.expand(2, 2).sum(), tg.tensor([1.0]))
    buf = io.BytesIO()
    rec.save(buf)
    header, arrays = members(io.BytesIO(buf.getvalue()))
    e = first(arrays, name="expand")
    header["shapes"][str(e)] = [2 ** 15, 2 ** 15]
    data = write(header, arrays)
    assert len(data) < 5000
    with pytest.raises(tg.TapeFormatError, match="max_elements=10000000.*pass larger ones"):
        tg.load_tape(io.BytesIO(data))
    # the same tape at 40 x 40 is a valid program (the sum of 1600 ones): refused below the
    # limit, replayed once the caller raises it
    header["shapes"][str(e)] = [40, 40]
    data = write(header, arrays)
    with pytest.raises(tg.TapeFormatError, match="max_elements=1000"):
        tg.load_tape(io.BytesIO(data), max_elements=1000)
    assert tg.load_tape(io.BytesIO(data), max_elements=2000)(np.ones(1, np.float32)) == 1600.0


def test_entry_and_element_limits(corpus):
    path = corpus["hvp"][2]
    rec = tg.load_tape(path)
    with pytest.raises(tg.TapeFormatError, match=f"{len(rec)} entries.*max_entries=100"):
        tg.load_tape(path, max_entries=100)
    with pytest.raises(tg.TapeFormatError, match="max_elements=50"):
        tg.load_tape(path, max_elements=50)
    assert len(tg.load_tape(path, max_entries=len(rec))) == len(rec)
    with pytest.raises(tg.TapeFormatError, match="one replay takes about .* max_work=300"):
        tg.load_tape(path, max_work=300)
    assert len(tg.load_tape(path, max_work=10 ** 5)) == len(rec)
    with pytest.raises(ValueError, match="max_entries must be a non-negative integer"):
        tg.load_tape(path, max_entries=-1)


def test_deeply_nested_header_is_refused(corpus):
    _, arrays = members(corpus["scalar64"][2])
    with pytest.raises(tg.TapeFormatError, match="cannot read it"):
        tg.load_tape(io.BytesIO(write({}, arrays, reseal=False, raw_header="[" * 200000)))


@pytest.mark.parametrize("edit, message", [
    (lambda a, e: a["imm"].__setitem__(e, 2.5), "split's piece count is not a whole number"),
    (lambda a, e: a["imm"].__setitem__(e, 1e18), "split's piece count is not a whole number"),
    (lambda a, e: a["imm"].__setitem__(e, np.nan), "split's piece count is not a whole number"),
    (lambda a, e: a["params"].__setitem__(a["par"][e] + 2, 3), "split params do not match"),
    (lambda a, e: a["params"].__setitem__(a["par"][e], -2), "split params are negative"),
    (lambda a, e: a["imm"].__setitem__(e, 1.0), "params slice|params holds"),
])
def test_split_entries_are_checked(corpus, edit, message):
    def go(h, a):
        edit(a, first(a, "split"))
    with pytest.raises(tg.TapeFormatError, match=message):
        crafted(corpus, "nd_float64", go)
