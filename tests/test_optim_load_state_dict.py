"""Optimizer.load_state_dict shares the loaded state tensors, as torch's: each is cast with
`.to` (the same tensor when nothing changes) to its parameter's floating dtype, `step` kept as
it is (to float32 in a fused or capturable group), non-floating parameters' state kept, and
any other iterable rebuilt as its type from its cast items."""
import numpy as np
import pytest

import tapegrad as tg

KEYS = ("step", "exp_avg", "exp_avg_sq")


def _adam(mod, dtype, steps):
    p = mod.nn.Parameter(mod.tensor([1.0, -2.0], dtype=dtype))
    opt = mod.optim.Adam([p], lr=0.1)
    for _ in range(steps):
        opt.zero_grad()
        (p ** 2).sum().backward()
        opt.step()
    return p, opt


def _sharing(mod, dtype, capturable=False):
    """Which loaded state tensors are the state dict's own, and the source optimizer's step
    count after the loading optimizer's step (the shared tensors are updated in place)."""
    a, o1 = _adam(mod, mod.float32, 1)
    sd = o1.state_dict()
    sd["param_groups"][0]["capturable"] = capturable
    b, o2 = _adam(mod, dtype, 0)
    o2.load_state_dict(sd)
    same = [o2.state[b][k] is sd["state"][0][k] for k in KEYS]
    dtypes = [str(o2.state[b][k].dtype).split(".")[-1] for k in KEYS]
    fresh_dict = o2.state[b] is not sd["state"][0]
    if capturable:      # (a capturable step on the CPU raises)
        return same, dtypes, fresh_dict, None, None
    b.grad = mod.ones(2, dtype=dtype)
    o2.step()
    return same, dtypes, fresh_dict, float(o1.state[a]["step"]), o1.state[a]["exp_avg"].tolist()


def test_loaded_state_is_shared_not_copied():
    same, dtypes, fresh_dict, step, exp_avg = _sharing(tg, tg.float32)
    assert same == [True, True, True] and dtypes == ["float32"] * 3 and fresh_dict
    # (o2's step went to o1's tensors: exp_avg 0.9 * 0.2 + 0.1 * 1 for grad 2 then 1)
    assert step == 2.0
    np.testing.assert_allclose(exp_avg, [0.9 * 0.2 + 0.1, 0.9 * -0.4 + 0.1], rtol=1e-6)


def test_loaded_state_cast_to_the_parameter_dtype_step_kept():
    same, dtypes, _, step, _ = _sharing(tg, tg.float64)
    assert same == [True, False, False] and dtypes == ["float32", "float64", "float64"]
    assert step == 2.0      # (the shared step tensor)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("capturable", [False, True])
def test_load_state_dict_sharing_as_torch(dtype, capturable):
    torch = pytest.importorskip("torch")
    mine = _sharing(tg, getattr(tg, dtype), capturable)
    theirs = _sharing(torch, getattr(torch, dtype), capturable)
    assert mine[:4] == theirs[:4]
    if not capturable:
        np.testing.assert_allclose(mine[4], theirs[4], rtol=1e-6)


def test_step_cast_to_float32_in_a_capturable_group():
    p = tg.nn.Parameter(tg.tensor([1.0, -2.0]))
    opt = tg.optim.Adam([p], lr=0.1)
    step = tg.tensor(3.0, dtype=tg.float64)
    sd = {"state": {0: {"step": step}},
          "param_groups": [dict(opt.state_dict()["param_groups"][0], capturable=True)]}
    opt.load_state_dict(sd)
    assert opt.state[p]["step"] is not step and opt.state[p]["step"].dtype == tg.float32
    sd["param_groups"][0]["capturable"] = False
    opt.load_state_dict(sd)
    assert opt.state[p]["step"] is step


def _custom(mod, param):
    """Load a state of several kinds for `param` into an optimizer keeping whatever state it
    is given: (what was loaded, the loaded state)."""
    class Keep(mod.optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, {})
    opt = Keep([param])
    loaded = {"ints": mod.tensor([1, 2]), "doubles": mod.tensor([0.5], dtype=mod.float64),
              "items": [mod.tensor(1.0), (mod.tensor(2.0, dtype=mod.float64),)],
              "n": 3, "name": "ab", "set": {1, 2}}
    opt.load_state_dict({"state": {0: loaded},
                         "param_groups": [{"params": [0]}]})
    return loaded, opt.state[param]


def test_state_of_other_kinds_as_torch_casts_it():
    loaded, st = _custom(tg, tg.nn.Parameter(tg.tensor([1.0, 2.0])))
    assert st["ints"].dtype == tg.float32 and st["doubles"].dtype == tg.float32
    assert st["items"][0] is loaded["items"][0] and st["items"] is not loaded["items"]
    assert type(st["items"][1]) is tuple and st["items"][1][0].dtype == tg.float32
    assert st["n"] == 3 and st["set"] == {1, 2}
    # (torch's _cast rebuilds any iterable with type(value)(generator): a str too)
    assert st["name"].startswith("<generator object Optimizer.load_state_dict.<locals>._cast")
    # a parameter not floating point: its state is not cast (torch's .to(device) only)
    loaded, st = _custom(tg, tg.tensor([1, 2]))
    assert st["ints"] is loaded["ints"] and st["doubles"] is loaded["doubles"]


@pytest.mark.parametrize("param", ["float", "int"])
def test_state_of_other_kinds_as_torch(param):
    torch = pytest.importorskip("torch")
    out = []
    for mod in (tg, torch):
        p = mod.nn.Parameter(mod.tensor([1.0, 2.0])) if param == "float" else mod.tensor([1, 2])
        loaded, st = _custom(mod, p)
        items = {k: (v is loaded[k], str(v.dtype).split(".")[-1]) for k, v in st.items()
                 if isinstance(v, mod.Tensor)}
        out.append((items, st["items"][0] is loaded["items"][0],
                    str(st["items"][1][0].dtype).split(".")[-1], st["n"], st["set"],
                    st["name"].split(" at ")[0]))
    assert out[0] == out[1]


# ---- swap_in_optimizer_params_and_state ---------------------------------------------------
def _swapped_steps(mod, name, kw):
    """Two steps of an optimizer over 2 groups, then two inside a swap to cloned parameters
    and a copy of its state dict (group 1's lr changed), then one live step: what each saw."""
    import copy
    ws = [mod.nn.Parameter(mod.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=mod.float64)),
          mod.nn.Parameter(mod.tensor([0.25, -1.5], dtype=mod.float64))]
    opt = getattr(mod.optim, name)([{"params": [ws[0]]}, {"params": [ws[1]], "lr": 0.02}],
                                   **kw)
    for _ in range(2):
        opt.zero_grad()
        ((ws[0] ** 2).sum() + (ws[1] ** 3).sum()).backward()
        opt.step()
    osd = copy.deepcopy(opt.state_dict())
    osd["param_groups"][1]["lr"] = 0.5
    params = {f"w{i}": w.detach().clone().requires_grad_() for i, w in enumerate(ws)}
    for p, w in zip(params.values(), ws):
        p.grad = w.grad * 2
    lrs = []
    opt.register_step_pre_hook(lambda o, a, k: lrs.append([g["lr"] for g in o.param_groups]))
    live = [w.tolist() for w in ws]
    with mod.optim.swap_in_optimizer_params_and_state(opt, params, osd):
        inside = opt.param_groups[0]["params"][0] is params["w0"]
        opt.step()
        opt.step()
    back = (opt.param_groups[0]["params"][0] is ws[0]
            and [w.tolist() for w in ws] == live and opt.param_groups[1]["lr"] == 0.02)
    opt.step()
    state = {k: (v.tolist() if hasattr(v, "tolist") else v)
             for k, v in osd["state"][0].items()}
    return (inside, back, lrs, [p.tolist() for p in params.values()], state,
            [w.tolist() for w in ws])


@pytest.mark.parametrize("name, kw", [("Adam", {"lr": 0.1}), ("SGD", {"lr": 0.1, "momentum": 0.9}),
                                      ("AdamW", {"lr": 0.1, "amsgrad": True})])
def test_swap_in_optimizer_params_and_state_as_torch(torch_ref, name, kw):
    assert _swapped_steps(tg, name, kw) == _swapped_steps(torch_ref, name, kw)


def test_swap_in_optimizer_params_and_state_errors_as_torch(torch_ref):
    import copy

    def errors(mod):
        w = mod.nn.Parameter(mod.tensor([1.0, 2.0]))
        opt = mod.optim.SGD([w], lr=0.1, momentum=0.9)
        swap = mod.optim.swap_in_optimizer_params_and_state
        out = []

        def attempt(params, sd):
            try:
                with swap(opt, params, sd):
                    pass
            except RuntimeError as e:
                out.append(str(e))
        attempt({}, {})
        w.grad = mod.ones(2)
        opt.step()
        osd = copy.deepcopy(opt.state_dict())
        params = {"w": w.detach().clone()}
        extra = copy.deepcopy(osd)
        extra["param_groups"][0]["foo"] = 1
        del extra["param_groups"][0]["lr"]
        short = copy.deepcopy(osd)
        short["param_groups"][0]["params"] = []
        for sd in ([], {"state": [], "param_groups": []}, {"state": {}, "param_groups": {}},
                   {"state": {}, "param_groups": []}, {"state": {0: 1}, "param_groups": []},
                   {"state": {w: {}}, "param_groups": []},
                   {"state": {5: {}}, "param_groups": osd["param_groups"]},
                   {"state": {}, "param_groups": [3]}, extra, short):
            attempt(params, sd)
        attempt({}, osd)
        return out
    assert errors(tg) == errors(torch_ref)
