"""`tapegrad.compile` as torch.compile: a module comes back as an OptimizedModule that runs it
(same parameters, `_orig_mod.` state_dict keys, attributes read and written through), torch's
argument checks and errors, `disable`, the decorator form and `Module.compile`; a function
keeps tapegrad's compile (tests/test_replay.py, test_compile_step.py)."""
import json
import pickle
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.errors import InvalidBackend
import fresh

try:
    import torch
except ImportError:   # the differential cases skip
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")

# torch.compile imports torch._dynamo, which changes torch for the rest of the process (its
# distributions stop validating their arguments, say): torch's side runs in a fresh process
_TORCH_FACTS = """
import json, torch
def net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
errors = []
for kw in %r:
    try:
        torch.compile(net(), **kw)
        errors.append(None)
    except Exception as e:
        errors.append([type(e).__name__, str(e)])
print(json.dumps({"errors": errors, "repr": repr(torch.compile(net()))}))
"""


@pytest.fixture(scope="module")
def torch_facts():
    if torch is None:
        pytest.skip("torch not installed")
    out = fresh.run(_TORCH_FACTS % (CHECKS,)).stdout
    return json.loads(out.splitlines()[-1])


def _net(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 1))


def test_a_compiled_module_runs_the_module_and_shares_its_state():
    net = _net(tg)
    opt_net = tg.compile(net)
    assert type(opt_net).__name__ == "OptimizedModule" and opt_net._orig_mod is net
    assert isinstance(opt_net, tg.nn.Module)
    x = tg.tensor(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32))
    np.testing.assert_array_equal(opt_net(x).detach().numpy(), net(x).detach().numpy())
    assert [n for n, _ in opt_net.named_parameters()] == ["_orig_mod." + n for n, _ in
                                                          net.named_parameters()]
    assert list(opt_net.state_dict()) == ["_orig_mod." + k for k in net.state_dict()]
    assert all(a is b for a, b in zip(opt_net.parameters(), net.parameters()))
    assert len(opt_net) == 3 and opt_net._modules["_orig_mod"] is net   # (len: the original's)
    opt_net.note = "set through"
    assert net.note == "set through"
    opt_net.eval()
    assert not net.training and not opt_net.training and not net[0].training
    opt_net.train()
    assert net.training
    clone = pickle.loads(pickle.dumps(opt_net))
    assert type(clone) is type(opt_net) and list(clone.state_dict()) == list(opt_net.state_dict())


def test_training_through_a_compiled_module_matches_the_module():
    losses = []
    for compiled in (False, True):
        net = _net(tg)
        model = tg.compile(net) if compiled else net
        opt = tg.optim.Adam(model.parameters(), lr=0.01)
        x = tg.tensor(np.linspace(-1, 1, 24, dtype=np.float32).reshape(8, 3))
        y = x.sum(1, keepdim=True).sin()
        run = []
        for _ in range(5):
            opt.zero_grad()
            loss = tg.nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            run.append(loss.item())
        losses.append(run)
    assert losses[0] == losses[1]


def test_disable_and_the_decorator_form():
    net = _net(tg)
    assert tg.compile(net, disable=True) is net
    f = lambda x: (x * x).sum()                        # noqa: E731
    assert tg.compile(f, disable=True) is f
    compiled = tg.compile(mode="max-autotune", fullgraph=True)(net)
    assert compiled._orig_mod is net
    value, (grad,) = tg.compile(backend="eager")(f)(tg.ones(2))   # a function: value_and_grad
    assert value.item() == 2.0 and grad.tolist() == [2.0, 2.0]


CHECKS = [dict(mode="nope"), dict(mode="default", options={}), dict(backend="nope")]


@pytest.mark.parametrize("kw", CHECKS)
def test_argument_errors_are_torchs(kw):
    want_type = InvalidBackend if "backend" in kw else RuntimeError
    with pytest.raises(want_type):
        tg.compile(_net(tg), **kw)
    with pytest.raises(want_type):
        _net(tg).compile(**kw)


@needs_torch
def test_argument_errors_and_repr_against_torch(torch_facts):
    for kw, want in zip(CHECKS, torch_facts["errors"]):
        with pytest.raises(Exception) as got:
            tg.compile(_net(tg), **kw)
        assert [type(got.value).__name__, str(got.value)] == want
    assert repr(tg.compile(_net(tg))) == torch_facts["repr"]


def test_callable_backends_and_modes_are_accepted():
    net = _net(tg)
    assert tg.compile(net, backend=lambda gm, inputs: gm, mode=None)._orig_mod is net
    for mode in ("default", "reduce-overhead", "max-autotune"):
        assert tg.compile(net, mode=mode)._orig_mod is net
    assert tg.compile(net, backend="eager", mode="anything")._orig_mod is net   # (inductor's)


def test_module_compile_checks_its_arguments_and_keeps_the_module():
    net = _net(tg)
    x = tg.ones(2, 3)
    before = net(x).detach().numpy()
    assert net.compile(mode="reduce-overhead", dynamic=True) is None
    np.testing.assert_array_equal(net(x).detach().numpy(), before)
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        net.compile(bogus=1)
    with pytest.raises(TypeError, match="takes from 0 to 1 positional arguments but 2"):
        net.compile("inductor")



def test_a_module_argument_whose_weights_change_records_again():
    # value_and_grad semantics bake a module argument's weights in; the key is the module
    # itself, so a change of its weights (in place, or a new .data) must record again
    lin = tg.nn.Linear(3, 1)
    x = tg.ones(3)
    f = tg.compile(lambda x, m: m(x).sum())
    assert f(x, lin)[0].item() == pytest.approx(lin(x).sum().item())
    with tg.no_grad():
        lin.weight *= 10
    assert f(x, lin)[0].item() == pytest.approx(lin(x).sum().item()) and f.rerecords == 1
    f(x, lin)
    assert f.rerecords == 1                      # unchanged since: the tape is reused
    lin.bias.data = tg.full((1,), 5.0)
    assert f(x, lin)[0].item() == pytest.approx(lin(x).sum().item()) and f.rerecords == 2
