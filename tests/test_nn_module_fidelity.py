"""nn.Module and container behaviour compared with torch: attribute re-assignment keeping the
entry's position, Sequential's operators and pop, state_dict metadata and hooks, extra state,
_load_from_state_dict overrides, BatchNorm's old checkpoints, and the class-index target and
embedding index checks of the losses and lookups."""
from collections import OrderedDict

import pytest

import tapegrad
import tapegrad.nn as tnn

torch = pytest.importorskip("torch")

LIBS = [torch, tapegrad]


def _err(f):
    try:
        f()
    except Exception as e:      # noqa: BLE001 (the error itself is compared)
        return type(e).__name__, str(e).replace("tapegrad", "torch")
    return None


# ---- __setattr__ keeps the position of a re-assigned name ---------------------------------
def _reassign(lib):
    nn = lib.nn
    s = nn.Sequential(nn.ReLU(), nn.Tanh())
    s[0] = nn.Sigmoid()
    seq = [type(c).__name__ for c in s], round(s(lib.tensor([-2.0])).item(), 5)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Linear(2, 2)
            self.fc = nn.Linear(2, 1)
            self.register_buffer("a", lib.zeros(1))
            self.register_buffer("b", lib.zeros(1))
    n = Net()
    n.conv = nn.Linear(2, 2)
    n.a = lib.ones(1)
    lin = nn.Linear(2, 2)
    lin.weight = nn.Parameter(lib.ones(2, 2))
    # a name moving to another table leaves the old one (and goes to the new one's end)
    m = nn.Module()
    m.register_buffer("x", lib.ones(1), persistent=False)
    m.register_buffer("y", lib.ones(1))
    m.z = nn.Tanh()
    m.x = nn.ReLU()
    m.z = nn.Parameter(lib.ones(1))
    return (seq, list(n.state_dict()), [k for k, _ in lin.named_parameters()],
            list(m._buffers), list(m._modules), list(m._parameters),
            sorted(m._non_persistent_buffers_set))


def test_reassignment_keeps_position_as_torch():
    assert _reassign(tapegrad) == _reassign(torch)
    assert _reassign(tapegrad)[0] == (["Sigmoid", "Tanh"], 0.11864)


def test_sequential_setitem_after_del_as_torch():
    def run(lib):
        nn = lib.nn
        s = nn.Sequential(nn.Identity(), nn.ReLU(), nn.Tanh())
        del s[0]
        s[0] = nn.Sigmoid()
        return list(s._modules), [type(c).__name__ for c in s], \
            round(s(lib.tensor([-2.0])).item(), 5)
    assert run(tapegrad) == run(torch)


# ---- Sequential / ModuleList operators and pop --------------------------------------------
def _containers(lib):
    nn = lib.nn
    r, t = nn.ReLU(), nn.Tanh()
    out = []
    s = nn.Sequential(r) + nn.Sequential(t)
    out.append([type(c).__name__ for c in s])
    s = nn.Sequential(r)
    s2 = s.__iadd__(nn.Sequential(t, r))
    out.append((s2 is s, list(s._modules), [type(c).__name__ for c in s]))
    for f in (lambda: nn.Sequential(r, t) * 2, lambda: 3 * nn.Sequential(r)):
        s = f()
        out.append((list(s._modules), [type(c).__name__ for c in s], s[0] is r))
    s = nn.Sequential(r, t)
    s3 = s.__imul__(2)
    out.append((s3 is s, [type(c).__name__ for c in s], s[2] is r))
    s = nn.Sequential(r, t, nn.Sigmoid())
    out.append((type(s.pop(1)).__name__, list(s._modules), [type(c).__name__ for c in s]))
    popped = s.pop(slice(0, 1))
    out.append((type(popped).__name__, len(popped), [type(c).__name__ for c in s]))
    ml = nn.ModuleList([r, t, nn.Sigmoid()])
    out.append((ml.pop(-1) is not None, list(ml._modules), type(ml.pop(0)).__name__, len(ml)))
    for bad in (lambda: nn.Sequential(r) + nn.ModuleList([t]),
                lambda: nn.Sequential(r).__iadd__([t]),
                lambda: nn.Sequential(r) * 2.0, lambda: nn.Sequential(r) * 0,
                lambda: nn.Sequential(r).__imul__(-1), lambda: nn.Sequential(r).pop(3),
                lambda: nn.ModuleList([r]).pop(2)):
        out.append(_err(bad))
    return out


def test_container_operators_and_pop_as_torch():
    assert _containers(tapegrad) == _containers(torch)


def test_sequential_multiplied_shares_parameters():
    lin = tnn.Linear(2, 2)
    s = tnn.Sequential(lin) * 3
    assert len(s) == 3 and len(list(s.parameters())) == 2


# ---- state_dict metadata, hooks, extra state, _load_from_state_dict -----------------------
def test_state_dict_metadata_as_torch():
    def run(lib):
        nn = lib.nn
        sd = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)).state_dict()
        return dict(sd._metadata)
    assert run(tapegrad) == run(torch) == {"": {"version": 1}, "0": {"version": 1},
                                           "1": {"version": 2}}


def _extra_state(lib):
    nn = lib.nn
    calls = []

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)
            self.v = 5

        def get_extra_state(self):
            return {"v": self.v}

        def set_extra_state(self, state):
            self.v = state["v"]

    class N(nn.Module):
        def __init__(self):
            super().__init__()
            self.m = M()

        def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
            calls.append(prefix)
            super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    outer = nn.Sequential(N())
    sd = outer.state_dict()
    keys = list(sd)
    sd["0.m._extra_state"] = {"v": 7}
    res = str(outer.load_state_dict(sd))
    v = outer[0].m.v
    del sd["0.m._extra_state"]
    missing = _err(lambda: outer.load_state_dict(sd))
    plain = nn.Linear(2, 2).state_dict()
    plain["_extra_state"] = 1
    unexpected = _err(lambda: nn.Linear(2, 2).load_state_dict(plain))
    return keys, res, v, calls, missing, unexpected


def test_extra_state_and_load_from_state_dict_override_as_torch():
    got = _extra_state(tapegrad)
    assert got == _extra_state(torch)
    assert got[0][0] == "0.m._extra_state" and got[2] == 7 and got[3][0] == "0."


def _hooks(lib):
    nn = lib.nn
    log = []
    m = nn.Sequential(nn.Linear(2, 2))
    child = m[0]
    h1 = child.register_state_dict_pre_hook(
        lambda mod, prefix, keep_vars: log.append(("pre", prefix, keep_vars)))

    def post(mod, sd, prefix, meta):
        log.append(("post", prefix, sorted(sd), dict(meta)))
        sd[prefix + "extra"] = 1
    child.register_state_dict_post_hook(post)
    sd = m.state_dict(keep_vars=True)
    out = [list(sd)]
    h1.remove()
    m.state_dict()

    def load_pre(mod, sd, prefix, meta, strict, missing, unexpected, errors):
        log.append(("load_pre", type(mod).__name__, prefix, sorted(sd), strict))
        sd.pop(prefix + "extra", None)

    def load_post(mod, keys):
        log.append(("load_post", type(mod).__name__, list(keys.missing_keys),
                    list(keys.unexpected_keys)))
        keys.missing_keys.clear()
    child.register_load_state_dict_pre_hook(load_pre)
    h = child.register_load_state_dict_post_hook(load_post)
    sd = m.state_dict()
    del sd["0.bias"]
    out.append(str(m.load_state_dict(sd)))      # the post hook clears the missing key
    h.remove()
    child.register_load_state_dict_post_hook(lambda mod, keys: 1)
    out.append(_err(lambda: m.load_state_dict(m.state_dict())))
    bad = nn.Linear(2, 2)
    bad.register_state_dict_post_hook(lambda mod, sd, prefix, meta: {})
    out.append(_err(bad.state_dict))

    def again(mod, sd, prefix, meta):
        return None
    lin = nn.Linear(2, 2)
    lin.register_state_dict_post_hook(again)
    out.append(_err(lambda: lin._register_state_dict_hook(again)))
    return out, log


def test_state_dict_hooks_as_torch():
    assert _hooks(tapegrad) == _hooks(torch)


def test_failed_load_reports_all_errors_as_torch():
    def run(lib):
        nn = lib.nn
        m = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
        sd = m.state_dict()
        sd["0.weight"] = lib.zeros(3, 2)
        sd["1.weight"] = lib.ones(2, 2)
        sd["2.x"] = lib.ones(1)
        del sd["1.bias"]
        before = [p.detach().clone() for p in m.parameters()]
        versions = [p._version for p in m.parameters()]
        err = _err(lambda: m.load_state_dict(sd))
        unchanged = all(lib.equal(a, p) for a, p in zip(before, m.parameters()))
        return err, unchanged, versions == [p._version for p in m.parameters()]
    err, unchanged, same_versions = run(tapegrad)
    # the same error; torch copies what it can before raising, a failing call here changes
    # nothing (docs/semantics.md)
    assert (err, unchanged, same_versions) == (run(torch)[0], True, True)


def test_failed_load_changes_nothing_even_when_interrupted():
    nn = tapegrad.nn
    m = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    before = {k: v.clone() for k, v in m.state_dict().items()}
    sd = {k: v + 1 for k, v in before.items()}
    bias = m[0].bias

    def interrupt(module, keys):
        raise KeyboardInterrupt
    m[1].register_load_state_dict_post_hook(interrupt)
    with pytest.raises(KeyboardInterrupt):
        m.load_state_dict(sd, assign=True)
    assert m[0].bias is bias
    assert all(tapegrad.equal(before[k], v) for k, v in m.state_dict().items())



def test_load_of_a_longer_vector_into_a_0d_entry_as_torch():
    """torch takes a [1] tensor for a 0-d parameter or buffer (0.3's scalars), a longer one
    is a size mismatch; tapegrad took its first element."""
    def run(lib):
        bn = lib.nn.BatchNorm1d(2)
        out = []
        for n in (1, 3):
            sd = bn.state_dict()
            sd["num_batches_tracked"] = lib.arange(5, 5 + n)
            out.append((_err(lambda: bn.load_state_dict(sd)), bn.num_batches_tracked.tolist()))
        return out
    assert run(tapegrad) == run(torch)

# ---- BatchNorm / InstanceNorm checkpoints without version metadata ------------------------
def _old_checkpoints(lib):
    nn = lib.nn
    out = []
    bn = nn.BatchNorm2d(3)
    with lib.no_grad():
        bn.num_batches_tracked.fill_(7)
    sd = {k: v for k, v in bn.state_dict().items() if k != "num_batches_tracked"}
    out.append((str(bn.load_state_dict(sd)), bn.num_batches_tracked.item()))
    fresh = nn.Sequential(nn.BatchNorm1d(2))
    sd = {k: v for k, v in fresh.state_dict().items() if "num_batches" not in k}
    out.append((str(fresh.load_state_dict(sd)), fresh[0].num_batches_tracked.item()))
    sd = fresh.state_dict()     # has version 2 metadata: the key is missing
    del sd["0.num_batches_tracked"]
    out.append(_err(lambda: fresh.load_state_dict(sd)))
    old = OrderedDict(sd)
    old._metadata = OrderedDict({"0": {"version": 1}})
    out.append(str(fresh.load_state_dict(old)))
    inorm = nn.InstanceNorm1d(3)
    out.append(_err(lambda: inorm.load_state_dict({"running_mean": lib.zeros(3),
                                                  "running_var": lib.ones(3)})))
    return out


def test_norm_old_checkpoints_as_torch():
    assert _old_checkpoints(tapegrad) == _old_checkpoints(torch)


# ---- get_buffer, set_submodule ------------------------------------------------------------
def _lookups(lib):
    nn = lib.nn
    m = nn.Sequential(OrderedDict(block=nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))))
    m.block.register_buffer("nb", None)
    out = [m.get_buffer("block.1.running_mean").tolist(), m.get_buffer("block.nb")]
    for t in ("block.1.weight", "block.1.nothing", "block.9.running_mean"):
        out.append(_err(lambda: m.get_buffer(t)))
    m.set_submodule("block.0", nn.Tanh())
    m.set_submodule("block.extra", nn.ReLU())
    out.append([(k, type(c).__name__) for k, c in m.block.named_children()])
    m.block.plain = 3
    for args, kw in ((("block.new", nn.ReLU()), {"strict": True}), (("", nn.ReLU()), {}),
                     (("block.0", 3), {}), (("block.plain", nn.ReLU()), {}),
                     (("nope.x", nn.ReLU()), {})):
        out.append(_err(lambda: m.set_submodule(*args, **kw)))
    return out


def test_get_buffer_and_set_submodule_as_torch():
    assert _lookups(tapegrad) == _lookups(torch)


# ---- class-index targets of nll_loss / cross_entropy --------------------------------------
SHAPES = [((4, 3), (4, 1)), ((4, 3), (4, 2)), ((4, 3), ()), ((3,), ()), ((3,), (1,)),
          ((3,), (2,)), ((3,), (1, 1)), ((2, 3, 5), (2, 5)), ((2, 3, 5), (2, 4)),
          ((2, 3, 5), (2, 5, 1)), ((2, 3, 5), (2,)), ((2, 3, 4, 5), (2, 4, 5)),
          ((2, 3, 4, 5), (2, 4, 6)), ((2, 3, 4, 5), (2, 20)), ((2, 3, 4, 5), (2, 4, 5, 1)),
          ((2, 3, 4, 5, 6), (2, 4, 5, 6)), ((2, 3, 4, 5, 6), (2, 4, 5, 7)),
          ((2, 3, 4, 5, 6), (2, 4, 30)), ((2, 3, 5), (3, 5))]


@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("name", ["nll_loss", "cross_entropy"])
@pytest.mark.parametrize("x_shape,t_shape", SHAPES)
def test_class_index_target_shapes_as_torch(name, reduction, x_shape, t_shape):
    def run(lib):
        f = getattr(lib.nn.functional, name)
        out = []

        def call():
            out.append(tuple(f(lib.zeros(x_shape), lib.zeros(t_shape, dtype=lib.long),
                               reduction=reduction).shape))
        return _err(call) or out
    assert run(tapegrad) == run(torch)


def test_class_index_target_dtype_order_as_torch():
    def run(lib):
        F = lib.nn.functional
        return [_err(lambda: F.nll_loss(lib.zeros(*x), lib.zeros(*t)))
                for x, t in (((2, 3, 4, 5), (2, 4, 6)), ((2, 3), (2, 1)), ((2, 3, 5), (2, 4)))]
    assert run(tapegrad) == run(torch)


# ---- embedding indices ---------------------------------------------------------------------
@pytest.mark.parametrize("idx", [[-1], [5], [1, -5], [7, 5], [-7, 1], [-1, 6], [6, -1], [-1, 0],
                                 [1, 2], []])
@pytest.mark.parametrize("max_norm", [None, 1.0])
def test_embedding_index_range_as_torch(idx, max_norm):
    def run(lib):
        w = lib.ones(5, 2) * 3
        e = _err(lambda: lib.nn.functional.embedding(lib.tensor(idx, dtype=lib.long), w,
                                                     max_norm=max_norm))
        return e, w[:, 0].tolist()
    assert run(tapegrad) == run(torch)


def test_embedding_max_norm_of_nonfinite_rows_is_silent():
    """max_norm's renorm of rows holding inf (scaled by 0: nan and zeros) or nan (left as they
    are): torch's values, without numpy's RuntimeWarning."""
    import warnings

    def run(lib):
        w = lib.full((4, 3), 0.5)
        w[1, 0] = float("inf")
        w[2, 1] = float("nan")
        w[3] = 4.0
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            y = lib.nn.functional.embedding(lib.tensor([0, 1, 2, 3]), w, max_norm=1.0)
        return repr(y.tolist()), repr(w.tolist())
    assert run(tapegrad) == run(torch)


def test_embedding_module_negative_index_raises():
    e = tnn.Embedding(5, 2)
    with pytest.raises(IndexError, match="index out of range in self"):
        e(tapegrad.tensor([-1]))
    with pytest.raises(IndexError, match="index out of range in self"):
        tapegrad.embedding(e.weight, tapegrad.tensor([[0, -2]]))


@pytest.mark.parametrize("idx", [[6, -1], [5, 0], [-1, 0]])
def test_embedding_bag_max_norm_bad_index_as_torch(idx):
    def run(lib):
        w = lib.ones(5, 2) * 3
        e = _err(lambda: lib.nn.functional.embedding_bag(lib.tensor(idx), w, lib.tensor([0]),
                                                         max_norm=1.0))
        return e and e[0], w[:, 0].tolist()
    assert run(tapegrad) == run(torch)


# ---- the wrong kind of value for a parameter, buffer or child: torch.typename's name ------
class NotAModule:
    pass


@pytest.mark.parametrize("case", ["add_module", "add_module_user", "register_parameter",
                                  "register_buffer_user", "assign_parameter", "assign_child"])
def test_wrong_kind_names_the_type_as_torch_typename(case):
    def run(lib):
        nn = lib.nn
        m = nn.Linear(2, 2)
        m.child = nn.ReLU()
        return _err({
            "add_module": lambda: m.add_module("a", 3),
            "add_module_user": lambda: m.add_module("a", NotAModule()),
            "register_parameter": lambda: m.register_parameter("p", nn.ReLU()),
            "register_buffer_user": lambda: m.register_buffer("b", NotAModule()),
            "assign_parameter": lambda: setattr(m, "weight", nn.Tanh()),
            "assign_child": lambda: setattr(m, "child", NotAModule()),
        }[case])
    assert run(tapegrad) == run(torch)


# ---- the norms' class hierarchy (torch's _NormBase) and its import paths ------------------
def _norm_kinds(lib):
    nn = lib.nn
    from importlib import import_module
    bn = import_module(lib.__name__ + ".nn.modules.batchnorm")
    inn = import_module(lib.__name__ + ".nn.modules.instancenorm")
    mods = [nn.BatchNorm1d(2), nn.BatchNorm3d(2), nn.SyncBatchNorm(2), nn.LazyBatchNorm2d(),
            nn.InstanceNorm2d(2), nn.LazyInstanceNorm1d(), nn.GroupNorm(1, 2), nn.LayerNorm(2)]
    return [(isinstance(m, nn.modules.batchnorm._BatchNorm), isinstance(m, bn._NormBase),
             isinstance(m, inn._InstanceNorm), type(m).__mro__[1].__name__) for m in mods]


def test_instance_norms_are_not_batch_norms_as_torch():
    """`isinstance(m, nn.modules.batchnorm._BatchNorm)` (weight decay off for the batch norms,
    freezing their statistics) is False for the instance norms, whose base is _NormBase as in
    torch; the classes are reachable under torch's module paths."""
    assert _norm_kinds(tapegrad) == _norm_kinds(torch)


IMPORTS = [
    ("nn.modules.utils", ["_single", "_pair", "_triple", "_quadruple", "_ntuple",
                          "_reverse_repeat_tuple", "_list_with_default",
                          "consume_prefix_in_state_dict_if_present"]),
    ("nn.common_types", ["_size_1_t", "_size_2_t", "_size_3_t", "_size_any_t", "_ratio_2_t",
                         "_size_2_opt_t", "_maybe_indices_t"]),
    ("nn.modules.dropout", ["Dropout", "Dropout2d", "_DropoutNd", "AlphaDropout"]),
    ("nn.modules.sparse", ["Embedding", "EmbeddingBag"]),
    ("nn.modules.flatten", ["Flatten", "Unflatten"]),
    ("nn.modules.normalization", ["LayerNorm", "GroupNorm", "RMSNorm", "LocalResponseNorm"]),
    ("optim.adamw", ["AdamW"]),
    ("nn.modules.container", ["Sequential", "ModuleList", "ModuleDict", "ParameterList",
                              "ParameterDict"]),
    ("nn.modules.channelshuffle", ["ChannelShuffle"]),
]


@pytest.mark.parametrize("path,names", IMPORTS, ids=[p for p, _ in IMPORTS])
def test_torch_module_paths_import(path, names):
    """Custom layers and training scripts import these from torch's submodules: the same
    names resolve here, to the same kind of object (and the submodules are attributes after
    importing the library, as torch's)."""
    from importlib import import_module
    for lib in LIBS:
        mod = import_module(f"{lib.__name__}.{path}")
        for name in names:
            assert hasattr(mod, name), (lib.__name__, path, name)
    ours = import_module(f"tapegrad.{path}")
    theirs = import_module(f"torch.{path}")
    for name in names:
        assert type(getattr(ours, name)) is type(getattr(theirs, name)) or (
            isinstance(getattr(theirs, name), type) and isinstance(getattr(ours, name), type))


# (the Lazy convolutions and LazyLinear live in torch's conv.py / linear.py, here in lazy.py)
_ELSEWHERE = {"LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d",
              "LazyConvTranspose2d", "LazyConvTranspose3d", "DataParallel"}


def test_classes_name_torchs_modules():
    """print(type(p)) of a parameter prints <class 'torch.nn.parameter.Parameter'>, of a
    layer its torch.nn.modules submodule (dropout, batchnorm, sparse, ...), of a dtype
    torch.dtype; pickles of them name those modules and load."""
    import pickle
    differ = []
    for name in dir(torch.nn):
        ours, theirs = getattr(tnn, name, None), getattr(torch.nn, name)
        if isinstance(theirs, type) and isinstance(ours, type) and name not in _ELSEWHERE:
            if ours.__module__.replace("tapegrad", "torch", 1) != theirs.__module__:
                differ.append((name, ours.__module__, theirs.__module__))
    assert differ == []
    assert repr(type(tapegrad.float32)) == "<class 'tapegrad.dtype'>"
    m = tnn.Sequential(tnn.Linear(2, 2), tnn.BatchNorm1d(2), tnn.Dropout(), tnn.LayerNorm(2))
    m.extra = tnn.ParameterList([tnn.Parameter(tapegrad.ones(1))])
    back = pickle.loads(pickle.dumps((m, tapegrad.bool, tapegrad.float64)))
    assert [type(c) for c in back[0]] == [type(c) for c in m] and back[1:] == (
        tapegrad.bool, tapegrad.float64)
    assert type(back[0].extra[0]) is tnn.Parameter


def test_module_utils_parse_and_strip_as_torch():
    out = []
    for lib in LIBS:
        u = lib.nn.modules.utils
        sd = lib.nn.DataParallel(lib.nn.Sequential(lib.nn.Linear(2, 2))).state_dict()
        u.consume_prefix_in_state_dict_if_present(sd, "module.")
        out.append((u._pair(3), u._pair([1, 2]), u._triple((4, 5, 6)), u._single(7),
                    u._quadruple(0), u._reverse_repeat_tuple((1, 2), 2),
                    u._list_with_default([None, 3], [1, 2, 5, 6]), list(sd),
                    sorted(sd._metadata), str(lib.nn.common_types._size_2_t)))
    assert out[0] == out[1]


# ---- Module.to's arguments: positional non_blocking, copy=, unknown keywords ------------------
def _module_to(lib):
    nn = lib.nn
    out = [nn.Linear(1, 1).to(lib.float64, True).weight.dtype,
           nn.Linear(1, 1).to("cpu", lib.float64, False).weight.dtype]
    for args, kwargs in [((), {"copy": True}), ((lib.float64,), {"copy": False}),
                         ((lib.float64, False, False), {}), ((), {"foo": 1}),
                         ((lib.float64,), {"foo": 1}), (("cpu",), {"bar": None}),
                         ((1, 2, 3, 4), {})]:
        out.append(_err(lambda: nn.Linear(1, 1).to(*args, **kwargs)))
    return [str(o).replace("tapegrad", "torch") for o in out]


def test_module_to_arguments_as_torch():
    got = _module_to(tapegrad)
    assert got == _module_to(torch)
    assert got[0] == "torch.float64" and "does not accept copy" in got[2]


# ---- get_submodule through a parameter, the never-called extra state methods -----------------
def _submodule_errors(lib):
    nn = lib.nn
    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    return [_err(lambda: m.get_submodule("0.weight")), _err(lambda: m.get_submodule("1.5")),
            _err(lambda: m.get_parameter("0.weight.x")), _err(lambda: m.get_buffer("0.bias.y")),
            _err(lambda: nn.Linear(1, 1).get_extra_state()),
            _err(lambda: nn.Linear(1, 1).set_extra_state(1))]


def test_submodule_path_and_extra_state_errors_as_torch():
    got = _submodule_errors(tapegrad)
    assert got == _submodule_errors(torch)
    assert got[0] == ("AttributeError", "`weight` is not an nn.Module")


def _full_hook_flag(lib):
    nn = lib.nn
    a, b = nn.Linear(1, 1), nn.Linear(1, 1)
    flags = [a._is_full_backward_hook, "_is_full_backward_hook" in vars(a)]
    a.register_full_backward_hook(lambda *args: None)
    b.register_backward_hook(lambda *args: None)
    return flags + [a._is_full_backward_hook, b._is_full_backward_hook]


def test_is_full_backward_hook_flag_as_torch():
    assert _full_hook_flag(tapegrad) == _full_hook_flag(torch) == [None, True, True, False]


def _positional_state_dict(lib):
    import warnings
    m = lib.nn.Linear(1, 1)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        keys = list(m.state_dict(None, "p."))
        dest = {}
        same = m.state_dict(dest, "q.", True) is dest
        kv = type(dest["q.weight"]).__name__
    return keys, same, kv, [(x.category.__name__, str(x.message), x.filename) for x in w]


def test_state_dict_positional_args_warn_as_torch():
    got = _positional_state_dict(tapegrad)
    assert got == _positional_state_dict(torch)
    assert got[3][0][0] == "FutureWarning" and got[3][0][2] == __file__ and len(got[3]) == 2


# ---- ModuleList.extend / ModuleDict.update argument errors -------------------------------------
def _container_update_errors(lib):
    nn = lib.nn
    return [_err(lambda: nn.ModuleList().extend(3)), _err(lambda: nn.ModuleList(3)),
            _err(lambda: nn.ModuleDict([("b",)])), _err(lambda: nn.ModuleDict([3])),
            _err(lambda: nn.ModuleDict(3)),
            list(nn.ModuleDict(nn.ModuleDict({"b": nn.ReLU(), "a": nn.Tanh()}))),
            list(nn.ModuleDict((k, nn.ReLU()) for k in "yx"))]


def test_module_container_update_errors_as_torch():
    got = _container_update_errors(tapegrad)
    assert got == _container_update_errors(torch)
    assert got[2][0] == "ValueError" and got[5] == ["b", "a"]


def test_sequential_calling_a_none_entry_as_torch():
    """A Sequential entry set to None is called as torch's forward calls it."""
    got = []
    for lib in LIBS:
        s = lib.nn.Sequential(lib.nn.ReLU(), lib.nn.Tanh())
        s[1] = None
        got.append(_err(lambda: s(lib.ones(1))))
    assert got[0] == got[1] == ("TypeError", "'NoneType' object is not callable")


# ---- conversions (.double(), .float()): which objects stay, torch.__future__'s switches ------
def _conversions(lib):
    nn, future = lib.nn, lib.__future__
    out = [sorted(n for n in dir(future) if not n.startswith("_"))]
    for overwrite, swap in ((False, False), (True, False), (True, True)):
        for conv in ("double", "float"):
            future.set_overwrite_module_params_on_conversion(overwrite)
            future.set_swap_module_params_on_conversion(swap)
            try:
                lin = nn.Linear(2, 2)
                s = nn.Sequential(lin, lin)
                s(lib.ones(1, 2)).sum().backward()
                w, g = lin.weight, lin.weight.grad
                getattr(s, conv)()
                p = s[0].weight
                out.append((p is w, p is s[1].weight, p.grad is g, str(p.dtype),
                            str(p.grad.dtype), type(p).__name__, p.requires_grad, str(w.dtype),
                            future.get_overwrite_module_params_on_conversion(),
                            future.get_swap_module_params_on_conversion()))
            finally:
                future.set_overwrite_module_params_on_conversion(False)
                future.set_swap_module_params_on_conversion(False)
    return [str(o).replace("tapegrad", "torch") for o in out]


def test_conversions_keep_or_replace_parameters_as_torch():
    """By default a conversion keeps each Parameter and its gradient object (changed in
    place); torch.__future__.set_overwrite_module_params_on_conversion(True) gives new
    Parameters (a shared one stays shared), unless swapping is on."""
    got = _conversions(tapegrad)
    assert got == _conversions(torch)
    assert got[1].startswith("(True, True, True, 'torch.float64'")
    assert got[3].startswith("(False, True, False, 'torch.float64'")



def _setstate(lib):
    import copy
    import pickle
    nn = lib.nn
    lin = nn.Linear(1, 1)
    state = lin.__getstate__()
    for k in ("_forward_hooks_with_kwargs", "_forward_pre_hooks_with_kwargs",
              "_backward_pre_hooks", "_non_persistent_buffers_set", "_is_full_backward_hook"):
        state.pop(k)
    old = nn.Linear.__new__(nn.Linear)
    old.__setstate__(state)
    old.register_forward_hook(lambda *a: None, with_kwargs=True)
    class Stateful(nn.Linear):     # (older torch code extends __setstate__ so)
        def __setstate__(self, state):
            super().__setstate__(state)
            self.restored = True
    return (sorted(k for k in vars(old) if k.startswith("_")), list(old.state_dict()),
            old(lib.ones(1)).shape, old._is_full_backward_hook,
            copy.deepcopy(Stateful(1, 1)).restored,
            pickle.loads(pickle.dumps(nn.Linear(1, 1)))._is_full_backward_hook)


def test_setstate_fills_an_old_pickles_state_as_torch():
    """Module.__setstate__ (torch's): restores the state and makes empty the hook tables an
    older pickle lacks; a subclass's override can call super().__setstate__."""
    got = _setstate(tapegrad)
    assert got == _setstate(torch)
    assert "_is_full_backward_hook" in got[0] and got[4] is True


def _call_names(lib):
    import warnings
    lin = lib.nn.Linear(2, 1)
    seen = []
    lin.register_forward_hook(lambda m, a, o: seen.append("hook"))
    x = lib.ones(1, 2)
    out = [lin._call_impl(x).tolist(), lin._wrapped_call_impl(x).tolist(), seen]
    with warnings.catch_warnings():     # (what old scripts loading whole models write)
        warnings.filterwarnings("ignore", category=lib.serialization.SourceChangeWarning)
    out.append(issubclass(lib.serialization.SourceChangeWarning, Warning))
    return out


def test_module_call_impl_names_as_torch():
    """Module._call_impl / _wrapped_call_impl (torch's names of the call, hooks included),
    and serialization.SourceChangeWarning, which programs filter."""
    lib_out = []
    for lib in LIBS:
        lib.manual_seed(0)
        lib_out.append(_call_names(lib))
    assert lib_out[0][2:] == lib_out[1][2:] == [["hook", "hook"], True]
    assert lib_out[0][0] == lib_out[1][0]


def test_parameter_of_a_non_tensor_as_torch():
    """torch's Parameter (and Buffer) call data.detach(): a list, number or array raises its
    AttributeError."""
    import numpy as np
    for data in ([1.0, 2.0], 3.0, np.ones(2)):
        got = [_err(lambda: lib.nn.Parameter(data)) for lib in LIBS]
        got += [_err(lambda: lib.nn.Buffer(data)) for lib in LIBS]
        assert got[0] == got[1] == got[2] == got[3]
        assert got[0][0] == "AttributeError"


@pytest.mark.parametrize("key", ["'a'", "1.5", "None"])
def test_parameter_list_index_of_another_type(key):
    # torch reads the index by operator.index: a TypeError ("'str' object cannot be
    # interpreted as an integer"), not an AttributeError of __index__
    def bad(lib):
        pl = lib.nn.ParameterList([lib.nn.Parameter(lib.ones(1))])
        return [_err(lambda: pl[eval(key)]),
                _err(lambda: pl.__setitem__(eval(key), lib.nn.Parameter(lib.ones(1))))]
    ours, theirs = bad(tapegrad), bad(torch)
    assert ours == theirs and theirs[0][0] == "TypeError"


def test_parameter_iterators_are_torchs_generators():
    # print(model.parameters()) shows <generator object Module.parameters at 0x...> in
    # torch (a beginner's first look at it); tapegrad's was a list_iterator, and
    # named_parameters / named_buffers were named Module._named_members
    import re

    def shown(lib):
        m = lib.nn.Sequential(lib.nn.Linear(1, 1))
        m.register_buffer("b", lib.zeros(1))
        gens = [m.parameters(), m.named_parameters(), m.buffers(), m.named_buffers(),
                m.parameters(recurse=False)]
        return [re.sub("0x[0-9a-f]+", "X", repr(g)) for g in gens]
    assert shown(tapegrad) == shown(torch)
    m = tnn.Linear(2, 2)
    assert [p.shape for p in m.parameters()] == [(2, 2), (2,)]
