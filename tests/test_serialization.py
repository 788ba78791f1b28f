"""tapegrad.save / tapegrad.load against torch.save / torch.load: files written by either are
read by the other (tensors of each dtype, views sharing memory, parameters, nn state dicts,
optimizer state dicts, Python containers), unsafe pickles are refused, and the archive is laid
out as torch's."""
import io
import os
import pickle
import re
import struct
import warnings
import zipfile

import numpy as np
import pytest

import tapegrad
from tapegrad import serialization

torch = pytest.importorskip("torch")

DTYPES = ["float32", "float64", "int64", "int32", "bool"]


def values(m, name):
    """A few tensors of dtype `name` made with module m (same values in torch and tapegrad)."""
    dt = getattr(m, name)
    base = m.tensor(np.arange(-5, 7).reshape(3, 4).tolist()).to(dt)
    return {"mat": base, "scalar": m.tensor(3).to(dt), "empty": m.zeros(0, 3, dtype=dt),
            "one": m.ones(1, dtype=dt), "col": base[:, 1]}


def plain(x):
    """Tensors (of either library) as (dtype name, shape, values, requires_grad) for
    comparison; containers recursively."""
    if isinstance(x, (torch.Tensor, tapegrad.Tensor)):
        return (type(x).__name__ == "Parameter", str(x.dtype).split(".")[-1], tuple(x.shape),
                x.detach().tolist(), x.requires_grad)
    if isinstance(x, dict):
        return (type(x).__name__, {k: plain(v) for k, v in x.items()})
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [plain(v) for v in x])
    if isinstance(x, (torch.dtype, tapegrad.dtype, torch.Size, tapegrad.Size, torch.device,
                      tapegrad.device)):
        return repr(x).replace("torch.", "").replace("tapegrad.", "")
    return x


def to_torch(path, obj):
    tapegrad.save(obj, path)
    return torch.load(path)


def to_tapegrad(path, obj):
    torch.save(obj, path)
    return tapegrad.load(path)


@pytest.mark.parametrize("name", DTYPES)
def test_tensors_of_each_dtype_both_ways(tmp_path, name):
    got = to_torch(tmp_path / "a.pt", values(tapegrad, name))
    assert plain(got) == plain(values(torch, name))
    got = to_tapegrad(tmp_path / "b.pt", values(torch, name))
    assert plain(got) == plain(values(tapegrad, name))
    got = tapegrad.load(tmp_path / "a.pt")          # tapegrad's own round trip
    assert plain(got) == plain(values(tapegrad, name))


def _views(m):
    x = m.arange(24.).reshape(4, 6)
    return {"x": x, "rows": x[1:3], "t": x.t(), "col": x[:, 2], "elem": x[2, 3],
            "sub": x[1:, ::2], "flat": x.reshape(-1)}


@pytest.mark.parametrize("direction", ["tapegrad->torch", "torch->tapegrad",
                                       "tapegrad->tapegrad"])
def test_views_keep_sharing(tmp_path, direction):
    src, dst = {"tapegrad->torch": (tapegrad, torch), "torch->tapegrad": (torch, tapegrad),
                "tapegrad->tapegrad": (tapegrad, tapegrad)}[direction]
    src.save(_views(src), tmp_path / "v.pt")
    got = dst.load(tmp_path / "v.pt")
    assert plain(got) == plain(_views(dst))
    assert tuple(got["t"].stride()) == (1, 6) and tuple(got["sub"].stride()) == (6, 2)
    got["x"].mul_(-1)                  # one storage: every view sees the write
    assert plain(got) == plain({k: -v for k, v in _views(dst).items()})


def test_one_storage_is_written_once_and_torch_sees_it_shared(tmp_path):
    x = tapegrad.arange(10.)
    tapegrad.save([x, x[2:5], x[::3]], tmp_path / "s.pt")
    names = zipfile.ZipFile(tmp_path / "s.pt").namelist()
    assert [n for n in names if "/data/" in n] == ["s/data/0"]
    a, b, c = torch.load(tmp_path / "s.pt")
    assert b.untyped_storage().data_ptr() == a.untyped_storage().data_ptr()
    assert (b.storage_offset(), c.stride()) == (2, (3,))


def test_the_same_tensor_twice_loads_as_one_object(tmp_path):
    x = tapegrad.ones(3)
    for dst in (torch, tapegrad):
        tapegrad.save({"a": x, "b": [x]}, tmp_path / "same.pt")
        got = dst.load(tmp_path / "same.pt")
        assert got["a"] is got["b"][0]


def test_odd_layouts_save_their_values(tmp_path):
    x = tapegrad.arange(3.).reshape(3, 1)
    obj = {"expanded": x.expand(3, 4), "flipped": tapegrad.arange(5).flip(0),
           "scalar_float": tapegrad.tensor(2.5), "one_float": tapegrad.tensor([[1.5]]),
           "grad": tapegrad.ones(2, requires_grad=True) * 2}
    got = to_torch(tmp_path / "o.pt", obj)
    assert plain(got) == plain(tapegrad.load(tmp_path / "o.pt"))
    assert got["expanded"].tolist() == [[0.] * 4, [1.] * 4, [2.] * 4]
    assert got["flipped"].tolist() == [4, 3, 2, 1, 0]
    assert got["grad"].requires_grad and got["grad"].is_leaf


def test_python_containers_both_ways(tmp_path):
    def obj(m):
        return {"i": 3, "f": 2.5, "s": "text", "b": True, "n": None, "by": b"\x00\xff",
                "l": [1, [2, (3, 4.0)]], "t": (m.ones(1), "x"), "set": {1, 2},
                "ba": bytearray(b"xy"), "c": 1 + 2j, "nested": {"deep": {"t": m.zeros(2, dtype=m.int64)}},
                "dtype": m.float64, "size": m.Size([2, 3]), "dev": m.device("cpu"),
                "big": 2 ** 70, "neg": -1.5e300, 7: "int key"}
    assert plain(to_torch(tmp_path / "a.pt", obj(tapegrad))) == plain(obj(torch))
    assert plain(to_tapegrad(tmp_path / "b.pt", obj(torch))) == plain(obj(tapegrad))


def test_parameters_both_ways(tmp_path):
    got = to_torch(tmp_path / "p.pt", {"p": tapegrad.nn.Parameter(tapegrad.ones(2)),
                                       "q": tapegrad.nn.Parameter(tapegrad.ones(1), False)})
    assert type(got["p"]) is torch.nn.Parameter and got["p"].requires_grad
    assert type(got["q"]) is torch.nn.Parameter and not got["q"].requires_grad
    got = to_tapegrad(tmp_path / "q.pt", {"p": torch.nn.Parameter(torch.ones(2))})
    assert type(got["p"]) is tapegrad.nn.Parameter and got["p"].requires_grad


def _model(m):
    return m.nn.Sequential(m.nn.Linear(3, 4), m.nn.Tanh(), m.nn.Linear(4, 2))


def test_module_state_dicts_both_ways(tmp_path):
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    tmod, gmod = _model(torch), _model(tapegrad)
    # torch -> tapegrad
    torch.save(tmod.state_dict(), tmp_path / "t.pt")
    sd = tapegrad.load(tmp_path / "t.pt")
    assert list(sd) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    gmod.load_state_dict(sd)
    np.testing.assert_allclose(gmod(tapegrad.tensor(x)).detach().numpy(),
                               tmod(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    # tapegrad -> torch
    with tapegrad.no_grad():
        for p in gmod.parameters():
            p.mul_(0.5)
    tapegrad.save(gmod.state_dict(), tmp_path / "g.pt")
    tmod.load_state_dict(torch.load(tmp_path / "g.pt"))
    np.testing.assert_allclose(gmod(tapegrad.tensor(x)).detach().numpy(),
                               tmod(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    # tapegrad -> tapegrad, into a fresh model
    fresh = _model(tapegrad)
    fresh.load_state_dict(tapegrad.load(tmp_path / "g.pt"))
    np.testing.assert_array_equal(fresh(tapegrad.tensor(x)).detach().numpy(),
                                  gmod(tapegrad.tensor(x)).detach().numpy())


def test_a_whole_module_loads_with_weights_only_false(tmp_path):
    model = _model(tapegrad)
    tapegrad.save(model, tmp_path / "m.pt")
    with pytest.raises(pickle.UnpicklingError, match="Unsupported global"):
        tapegrad.load(tmp_path / "m.pt")
    again = tapegrad.load(tmp_path / "m.pt", weights_only=False)
    assert type(again[0].weight) is tapegrad.nn.Parameter
    x = tapegrad.ones(1, 3)
    assert again(x).tolist() == model(x).tolist()


def _train(m, model, opt, steps, x):
    for _ in range(steps):
        opt.zero_grad()
        model(m.tensor(x)).pow(2).mean().backward()
        opt.step()


@pytest.mark.parametrize("make", [
    lambda m, ps: m.optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda m, ps: m.optim.Adam(ps, lr=0.01, betas=(0.8, 0.95)),
])
def test_optimizer_state_dicts_both_ways(tmp_path, make):
    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    tmod, gmod = _model(torch), _model(tapegrad)
    gmod.load_state_dict({k: tapegrad.tensor(v.detach().numpy())
                          for k, v in tmod.state_dict().items()})
    topt, gopt = make(torch, tmod.parameters()), make(tapegrad, gmod.parameters())
    _train(torch, tmod, topt, 2, x)
    _train(tapegrad, gmod, gopt, 2, x)
    tapegrad.save(gopt.state_dict(), tmp_path / "g.pt")
    torch.save(topt.state_dict(), tmp_path / "t.pt")
    assert plain(torch.load(tmp_path / "g.pt")) == plain(gopt.state_dict())
    assert plain(tapegrad.load(tmp_path / "t.pt")) == plain(topt.state_dict())
    # each optimizer resumes from the other's state and both go on alike
    t2, g2 = _model(torch), _model(tapegrad)
    t2.load_state_dict(tmod.state_dict())
    tapegrad.save(gmod.state_dict(), tmp_path / "gm.pt")
    g2.load_state_dict(tapegrad.load(tmp_path / "gm.pt"))
    topt2, gopt2 = make(torch, t2.parameters()), make(tapegrad, g2.parameters())
    topt2.load_state_dict(torch.load(tmp_path / "g.pt"))
    gopt2.load_state_dict(tapegrad.load(tmp_path / "t.pt"))
    _train(torch, t2, topt2, 3, x)
    _train(tapegrad, g2, gopt2, 3, x)
    for a, b in zip(t2.parameters(), g2.parameters()):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-5, atol=1e-6)


CALLED = []


def _side_effect(msg):
    CALLED.append(msg)
    return msg


class Evil:
    def __reduce__(self):
        return (_side_effect, ("ran",))


def test_unsafe_pickles_are_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.ones(1), "e": Evil()}, path)
    CALLED.clear()
    for m in (torch, tapegrad):
        with pytest.raises(pickle.UnpicklingError) as err:
            m.load(path)
        assert "Weights only load failed" in str(err.value)
        assert "Unsupported global: GLOBAL test_serialization._side_effect" in str(err.value) \
            or "_side_effect" in str(err.value)
    assert CALLED == []
    # tapegrad writes Evil too (its reduce) and refuses it likewise
    tapegrad.save(Evil(), tmp_path / "evil2.pt")
    with pytest.raises(pickle.UnpicklingError, match="Unsupported global"):
        tapegrad.load(tmp_path / "evil2.pt")
    assert CALLED == []
    assert tapegrad.load(path, weights_only=False)["e"] == "ran" and CALLED == ["ran"]
    with serialization.safe_globals([_side_effect]):
        assert tapegrad.load(path)["e"] == "ran"
    with pytest.raises(pickle.UnpicklingError):
        tapegrad.load(path)
    serialization.add_safe_globals([_side_effect])
    assert serialization.get_safe_globals() == [_side_effect]
    assert tapegrad.load(path)["e"] == "ran"
    serialization.clear_safe_globals()
    assert serialization.get_safe_globals() == []


def test_the_archive_is_laid_out_as_torchs(tmp_path):
    obj = {"a": tapegrad.ones(3), "b": tapegrad.zeros(2, dtype=tapegrad.int64)}
    tapegrad.save(obj, tmp_path / "g.pt")
    torch.save({"a": torch.ones(3), "b": torch.zeros(2, dtype=torch.int64)}, tmp_path / "t.pt")
    zg, zt = zipfile.ZipFile(tmp_path / "g.pt"), zipfile.ZipFile(tmp_path / "t.pt")
    tnames = set(zt.namelist()) - {"t/.data/serialization_id"}
    assert {n.replace("g/", "t/", 1) for n in zg.namelist()} == tnames
    for n in ("data.pkl", "version", "byteorder", ".format_version", ".storage_alignment",
              "data/0", "data/1"):
        assert zg.read("g/" + n) == zt.read("t/" + n)
    with open(tmp_path / "g.pt", "rb") as f:       # each record's bytes 64-aligned
        for info in zg.infolist():
            f.seek(info.header_offset)
            head = f.read(30)
            n, e = struct.unpack("<HH", head[26:30])
            assert (info.header_offset + 30 + n + e) % 64 == 0
    assert all(i.compress_type == zipfile.ZIP_STORED for i in zg.infolist())
    buf = io.BytesIO()
    tapegrad.save(obj, buf)
    assert zipfile.ZipFile(io.BytesIO(buf.getvalue())).namelist()[0] == "archive/data.pkl"
    buf.seek(0)
    assert plain(torch.load(buf)) == plain({"a": torch.ones(3),
                                            "b": torch.zeros(2, dtype=torch.int64)})


def test_big_endian_files_load(tmp_path):
    path = tmp_path / "be.pt"
    torch.save(torch.arange(4.), path)
    src = zipfile.ZipFile(path)
    with zipfile.ZipFile(tmp_path / "be2.pt", "w") as out:
        for n in src.namelist():
            data = src.read(n)
            if n.endswith("byteorder"):
                data = b"big"
            elif "/data/" in n:
                data = np.frombuffer(data, "<f4").astype(">f4").tobytes()
            out.writestr(n, data)
    assert tapegrad.load(tmp_path / "be2.pt").tolist() == [0., 1., 2., 3.]


@pytest.mark.parametrize("src", [torch, tapegrad])
def test_mmap_maps_copy_on_write(tmp_path, src):
    path = tmp_path / "mm.pt"
    x = src.arange(12.).reshape(3, 4)
    src.save({"x": x, "row": x[1], "empty": src.zeros(0), "i": src.tensor([1, 2])}, path)
    got = tapegrad.load(path, mmap=True)
    assert plain(got) == plain(tapegrad.load(path))
    got["x"][1, 2] = -5.
    assert got["row"].tolist() == [4., 5., -5., 7.]          # views share the mapping
    assert tapegrad.load(path)["x"][1, 2].item() == 6.        # the file is unchanged
    assert (got["x"] * 2).sum().item() == 2 * (66 - 11)


def test_map_location(tmp_path):
    path = tmp_path / "m.pt"
    tapegrad.save({"a": tapegrad.ones(2)}, path)
    for loc in ("cpu", tapegrad.device("cpu"), {"cpu": "cpu"}, lambda s, loc: s,
                lambda s, loc: None):
        assert tapegrad.load(path, map_location=loc)["a"].tolist() == [1., 1.]
    with pytest.raises(RuntimeError, match="Attempting to deserialize object on a CUDA device"):
        tapegrad.load(path, map_location="cuda:0")
    with pytest.raises(NotImplementedError, match="map_location"):
        tapegrad.load(path, map_location=lambda s, loc: s.copy())


def _map_location_errors(m):
    b = io.BytesIO()
    m.save({"a": m.ones(2)}, b)
    out = []
    for loc in (3, "foo", "cpu:0", {"cpu": "foo"}, {"cpu": "cuda:1"}, "cuda",
                lambda s, loc: None):
        try:
            out.append(m.load(io.BytesIO(b.getvalue()), map_location=loc)["a"].tolist())
        except (RuntimeError, TypeError) as e:
            out.append((type(e).__name__, str(e)))
    return out


def test_map_location_errors_as_torch():
    """torch restores a storage by its tag ("cpu", "cuda..."): a tag nothing claims raises its
    "don't know how to restore", and a map_location that is no str, device or dict is called."""
    got = _map_location_errors(tapegrad)
    assert got == _map_location_errors(torch)
    assert got[0] == ("TypeError", "'int' object is not callable")


def test_refusals(tmp_path):
    torch.save(torch.ones(2, dtype=torch.float16), tmp_path / "h.pt")
    with pytest.raises(NotImplementedError, match="torch.float16"):
        tapegrad.load(tmp_path / "h.pt")
    torch.save(torch.ones(2), tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(RuntimeError, match="mmap can only be used with files saved with"):
        tapegrad.load(tmp_path / "legacy.pt", mmap=True)
    buf = io.BytesIO()
    tapegrad.save(1, buf)
    with pytest.raises(ValueError, match="f must be a file path in order to use the mmap"):
        tapegrad.load(buf, mmap=True)
    with pytest.raises(FileNotFoundError):
        tapegrad.load(tmp_path / "missing.pt")
    with pytest.raises(RuntimeError, match="Can not safely load weights when explicit "
                                           "pickle_module is specified"):
        tapegrad.load(tmp_path / "h.pt", pickle_module=pickle, weights_only=True)
    with zipfile.ZipFile(tmp_path / "nopkl.pt", "w") as z:
        z.writestr("a/other", b"x")
    with pytest.raises(RuntimeError, match="data.pkl"):
        tapegrad.load(tmp_path / "nopkl.pt")
    assert not os.path.exists(tmp_path / "x.pt")


def test_save_into_a_missing_directory_raises_as_torch(tmp_path):
    errs = []
    for m in (tapegrad, torch):
        for path in (tmp_path / "nodir" / "x.pt", str(tmp_path / "nodir2" / "y.pt")):
            with pytest.raises(RuntimeError) as e:
                m.save({"a": m.ones(2)}, path)
            errs.append(str(e.value))
    assert errs[:2] == errs[2:]
    assert errs[0] == f"Parent directory {tmp_path / 'nodir'} does not exist."


def test_dtypes_and_bool_tensors_pickle():
    """(Python's pickle, which DataLoader workers use to send batches.)"""
    for dt in (tapegrad.bool, tapegrad.int32, tapegrad.int64, tapegrad.float32,
               tapegrad.float64):
        assert pickle.loads(pickle.dumps(dt)) is dt
    assert pickle.loads(pickle.dumps(tapegrad.tensor([True, False]))).tolist() == [True, False]


def test_weights_only_refusal_names_the_global_as_torch(tmp_path):
    """The allowlist hint names the global by its qualified name, as torch's (builtins bare)."""
    msgs = {}
    for m in (torch, tapegrad):
        for what, obj in (("ndarray", np.zeros(3)), ("builtin", print)):
            f = io.BytesIO()
            torch.save(obj, f)
            f.seek(0)
            with pytest.raises(pickle.UnpicklingError) as err:
                m.load(f)
            text = str(err.value)
            start = text.index("Unsupported global")
            msgs[m.__name__, what] = text[start:text.index("if you trust", start)].replace(
                m.__name__ + ".", "LIB.")
    for what in ("ndarray", "builtin"):
        assert msgs["torch", what] == msgs["tapegrad", what]
    assert "add_safe_globals([numpy._core.multiarray._reconstruct])" in msgs["tapegrad", "ndarray"]
    assert "add_safe_globals([print])" in msgs["tapegrad", "builtin"]


@pytest.mark.parametrize("value", [3.0, [1.0, 2.0]], ids=["0-d", "1-d"])
def test_detached_tensors_pickle_and_copy(value):
    """detach() keeps a weak reference to its source (tape.share_counter); pickles and
    copies of the detached tensor share no memory with the source."""
    import copy
    src = tapegrad.tensor(value, requires_grad=True)
    d = src.detach()
    for dup in (pickle.loads(pickle.dumps(d)), copy.deepcopy(d)):
        np.testing.assert_array_equal(dup.numpy(), np.asarray(value))
        dup.add_(1.0)
        np.testing.assert_array_equal(src.detach().numpy(), np.asarray(value))
        assert src._version == 0


@pytest.mark.parametrize("keep", ["half", 4, "all_but_end_record"])
def test_cut_short_archive_raises_torchs_reader_error(tmp_path, keep):
    """A file torch.save wrote, cut short (a copy interrupted, a disk full): torch's zip
    reader's RuntimeError (tapegrad said the file was no zip archive, NotImplementedError)."""
    path = tmp_path / "m.pt"
    torch.save({"w": torch.ones(3)}, path)
    data = path.read_bytes()
    n = {"half": len(data) // 2, "all_but_end_record": len(data) - 22}.get(keep, keep)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[:n])
    errors = []
    for m in (torch, tapegrad):
        with pytest.raises(RuntimeError) as e:
            m.load(cut)
        errors.append(str(e.value))
    assert errors[0] == errors[1]


def _legacy_objects(lib):
    x = lib.arange(12.0).reshape(3, 4)
    lin = lib.nn.Linear(3, 2)
    return {"x": x, "row": x[1], "t": x.t(), "p": lib.nn.Parameter(lib.ones(2)),
            "ints": [lib.tensor([1, -2], dtype=d) for d in (lib.int64, lib.int8, lib.bool)],
            "scalar": lib.tensor(2.5, dtype=lib.float64), "empty": lib.zeros(0, 3),
            "sd": lin.state_dict(), "nested": ("a", 1, [2.5, None, {"k": lib.ones(1)}])}


@pytest.mark.parametrize("weights_only", [True, False])
def test_torchs_legacy_format_loads(torch_ref, tmp_path, weights_only):
    """torch.save(..., _use_new_zipfile_serialization=False) (torch's format before 1.6):
    the same objects as torch.load gives, views still sharing their storage."""
    path = tmp_path / "legacy.pt"
    torch_ref.save(_legacy_objects(torch_ref), path, _use_new_zipfile_serialization=False)
    want = torch_ref.load(path, weights_only=weights_only)
    for src in (path, io.BytesIO(path.read_bytes())):
        got = tapegrad.load(src, weights_only=weights_only)
        assert repr(got).replace("tapegrad", "torch") == repr(want)
        assert type(got["p"]) is tapegrad.nn.Parameter
    got["x"][1, 0] = -1.0
    assert got["row"][0].item() == -1.0 and got["t"][0, 1].item() == -1.0


@pytest.mark.parametrize("weights_only", [True, False])
def test_legacy_format_written_loads_in_torch(torch_ref, tmp_path, weights_only):
    """tapegrad.save(..., _use_new_zipfile_serialization=False) writes torch's legacy format
    (it raised NotImplementedError): torch.load gives the objects saved, views sharing their
    storage."""
    path = tmp_path / "legacy.pt"
    objects = _legacy_objects(tapegrad)
    tapegrad.save(objects, path, _use_new_zipfile_serialization=False)
    got = torch_ref.load(path, weights_only=weights_only)
    assert repr(got) == repr(objects).replace("tapegrad", "torch")
    got["x"][1, 0] = -1.0
    assert got["row"][0].item() == -1.0 and got["t"][0, 1].item() == -1.0


def test_legacy_files_one_after_another_in_a_stream(torch_ref):
    """Legacy saves written one after another into one stream load in turn, as torch's
    (tapegrad read each from the stream's start)."""
    for writer in (torch_ref, tapegrad):
        buf = io.BytesIO()
        writer.save(writer.ones(2), buf, _use_new_zipfile_serialization=False)
        writer.save({"a": writer.zeros(3)}, buf, _use_new_zipfile_serialization=False)
        loaded = []
        for reader in (torch_ref, tapegrad):
            buf.seek(0)
            loaded.append(repr([reader.load(buf), reader.load(buf)]).replace("tapegrad", "torch"))
        assert loaded[0] == loaded[1]


class _Unseekable:
    def read(self, n=-1):
        return b""


def test_legacy_file_cut_short_and_unreadable_sources_raise_torchs_errors(torch_ref):
    """A legacy file cut short in its storages' counts or bytes (torch's reader's "unexpected
    EOF"), in its keys' pickle, and sources load cannot read (bytes, a text stream, an
    object without seek): torch's errors."""
    buf = io.BytesIO()
    torch_ref.save(torch_ref.ones(2), buf, _use_new_zipfile_serialization=False)
    data = buf.getvalue()
    sources = [lambda cut=cut: io.BytesIO(data[:-cut]) for cut in (3, 8, 12, 20)] + [
        lambda: b"abc", lambda: io.StringIO("abc"), _Unseekable]
    for source in sources:
        errors = []
        for lib in (torch_ref, tapegrad):
            with pytest.raises(Exception) as e:
                lib.load(source())
            errors.append((type(e.value), str(e.value)))
        assert errors[0] == errors[1]


def _not_torch_files(tmp_path):
    files = {"empty": b"", "text": b"hello world\n", "garbage": bytes(range(256)) * 2,
             "pickle": pickle.dumps({"a": [1, 2]}), "pickle2": pickle.dumps({"a": 1}, protocol=2),
             "global": pickle.dumps(ValueError("x"), protocol=2), "zip_head": b"PK\x03\x04abc"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return list(files)


@pytest.mark.parametrize("weights_only", [None, True, False])
def test_load_of_a_file_torch_did_not_write_raises_torchs_error(torch_ref, tmp_path,
                                                                weights_only):
    """A file that is no zip archive is read as torch's legacy format, so a plain pickle, a
    text file, garbage or an empty file fail with torch's error: the pickle module's, its
    weights-only unpickler's (wrapped in torch's message), or "Invalid magic number"."""
    for name in _not_torch_files(tmp_path):
        errors = []
        for lib in (torch_ref, tapegrad):
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                with pytest.raises(Exception) as e:
                    lib.load(tmp_path / name, weights_only=weights_only)
            errors.append((type(e.value), str(e.value).replace("torch.serialization",
                                                               "tapegrad.serialization"),
                           [str(w.message) for w in seen]))
        assert errors[0] == errors[1], name


def test_save_to_a_directory_raises_torchs_writer_error(tmp_path):
    errors = []
    for m in (torch, tapegrad):
        with pytest.raises(RuntimeError) as e:
            m.save({"w": m.ones(2)}, tmp_path)
        errors.append(str(e.value))
    assert errors[0] == errors[1]


def _py2_archive():
    """A zip checkpoint whose pickle holds a Python 2 str (SHORT_BINSTRING b'\\xe9') as key."""
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00U\x01\xe9q\x01K\x01s.")
        z.writestr("archive/version", b"3\n")
        z.writestr("archive/byteorder", b"little")
    return b.getvalue()


def _load_with_pickle_args(m):
    raw = _py2_archive()
    legacy = io.BytesIO()
    m.save({"w": m.ones(2)}, legacy, _use_new_zipfile_serialization=False)
    out = []
    for kw in ({"encoding": "latin1"}, {"encoding": "latin1", "weights_only": False},
               {"encoding": "bytes", "weights_only": False}, {},
               {"foo": 1}, {"foo": 1, "weights_only": False}):
        with warnings.catch_warnings(record=True) as ws:
            warnings.simplefilter("always")
            try:
                got = repr(m.load(io.BytesIO(raw), **kw))
            except (TypeError, UnicodeDecodeError) as e:
                got = type(e).__name__, str(e)
        out.append((got, [str(w.message) for w in ws]))
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        for wo in (True, False):
            legacy.seek(0)
            out.append(m.load(legacy, encoding="latin1", weights_only=wo)["w"].tolist())
    return out


def test_load_takes_torchs_pickle_load_args():
    """torch.load(..., encoding="latin1") reads old (Python 2) checkpoints; with
    weights_only=True torch warns that pickle_load_args need weights_only=False, but its
    weights-only unpickler still takes the encoding."""
    got = _load_with_pickle_args(tapegrad)
    assert got == _load_with_pickle_args(torch)
    assert got[0] == ("{'é': 1}", ["pickle_load_args only works if `weights_only=False`."])


class _Unlisted:
    pass


def _unsafe_globals(m):
    nn = m.nn
    out = []
    for obj in (nn.Linear(1, 1).state_dict(), nn.Sequential(nn.Linear(1, 1)),
                {"a": _Unlisted(), "b": {1, 2}, "c": range(3), "e": slice(1), "f": 1j},
                np.ones(2), [m.float32, m.Size([1]), m.device("cpu"), nn.Parameter(m.ones(1))]):
        b = io.BytesIO()
        m.save(obj, b)
        b.seek(0)
        out.append(sorted(m.serialization.get_unsafe_globals_in_checkpoint(b)))
    with m.serialization.safe_globals([_Unlisted]):
        b = io.BytesIO()
        m.save(_Unlisted(), b)
        b.seek(0)
        out.append(m.serialization.get_unsafe_globals_in_checkpoint(b))
    for raw in (b"xx", b""):
        try:
            m.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(raw))
        except ValueError as e:
            out.append(str(e))
    out.append(m.serialization.DEFAULT_PROTOCOL)
    return [[s.replace("tapegrad", "torch") for s in o] if isinstance(o, list) else o
            for o in out]


def test_get_unsafe_globals_in_checkpoint_as_torch():
    """torch.serialization.get_unsafe_globals_in_checkpoint: what weights_only would refuse,
    read from the pickle's GLOBAL opcodes (the way torch's error message suggests finding
    what to pass to add_safe_globals)."""
    got = _unsafe_globals(tapegrad)
    assert got == _unsafe_globals(torch)
    assert got[0] == [] and "torch.nn.modules.linear.Linear" in got[1]
    assert got[2] == sorted([f"{__name__}._Unlisted", "builtins.range", "builtins.slice"])


def _hook_warnings(m):
    x = m.ones(2, requires_grad=True)
    x.register_hook(lambda g: g * 2)
    quiet = m.ones(2, requires_grad=True)
    quiet.register_hook(m.utils.hooks.unserializable_hook(lambda g: g))
    p = m.nn.Parameter(m.ones(2))
    p.register_hook(lambda g: g)
    out = []
    for obj in (x, quiet, p, {"nested": [x]}):
        with warnings.catch_warnings(record=True) as ws:
            warnings.simplefilter("always")
            m.save(obj, io.BytesIO())
        out.append([re.sub(" at 0x[0-9a-f]+", "", str(w.message)) for w in ws])
    return out


def test_save_warns_of_tensor_hooks_as_torch():
    """torch.save of a tensor with register_hook hooks warns that they are not saved (not
    for a hook marked unserializable_hook, nor for a Parameter's)."""
    got = _hook_warnings(tapegrad)
    assert got == _hook_warnings(torch)
    assert len(got[0]) == 1 and got[1] == got[2] == []
