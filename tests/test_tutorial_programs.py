"""Whole programs as people copy them from PyTorch's official tutorials and docs (the seq2seq
translation tutorial's data preparation and training, ...), on small synthetic data made by
torch calls.  Each is a function of the `torch` module run with tapegrad and with real torch
from the same seed (tapegrad's generator reproduces torch's CPU stream, so the initial
weights and the data are the same), compared by what it returns: numbers (losses,
gradients) within float32 round-off, text (reprs, `grad_fn` chains, error messages)
exactly."""
import numpy as np
import pytest

import tapegrad

# whole programs, each run with tapegrad and with torch: slow (-m "not slow" leaves them out)
pytestmark = pytest.mark.slow


def _err(f):
    try:
        return "ok " + repr(f())
    except Exception as e:  # noqa: BLE001  (compared with torch's)
        return f"{type(e).__name__}: {e}"


def _chain(fn, depth=5):
    """A grad_fn and the nodes under it down to `depth` levels, one name a line, indented
    (leaves' nodes left out)."""
    if fn is None or "AccumulateGrad" in fn.name() or depth < 0:
        return ""
    return "  " * (5 - depth) + fn.name() + "\n" + "".join(
        _chain(f, depth - 1) for f, _ in fn.next_functions)


def seq2seq_translation(torch):
    """The seq2seq translation tutorial's data preparation (index arrays as numpy int32,
    turned into `torch.LongTensor`) and an encoder-decoder step trained with a label-smoothed
    cross entropy; the common slip of giving `LongTensor` an int32 tensor."""
    nn = torch.nn
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    n, max_len, n_words, hidden = 6, 5, 9, 8
    input_ids = np.zeros((n, max_len), dtype=np.int32)
    target_ids = np.zeros((n, max_len), dtype=np.int32)
    for i in range(n):
        k = int(rng.integers(2, max_len))
        input_ids[i, :k] = rng.integers(2, n_words, k)
        target_ids[i, :k] = rng.integers(2, n_words, k)
    inputs, targets = torch.LongTensor(input_ids), torch.LongTensor(target_ids)
    out = {"dtype": str(inputs.dtype),
           "wrong_dtype": _err(lambda: torch.LongTensor(torch.from_numpy(input_ids))),
           "float_into_int": _err(lambda: torch.IntTensor(torch.zeros(2)))}

    emb, gru, proj = nn.Embedding(n_words, hidden), nn.GRU(hidden, hidden), nn.Linear(hidden, n_words)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1, ignore_index=0)
    params = [*emb.parameters(), *gru.parameters(), *proj.parameters()]
    opt = torch.optim.Adam(params, lr=0.01)
    losses = []
    for _ in range(4):
        opt.zero_grad()
        states, _ = gru(emb(inputs.t()))
        loss = criterion(proj(states).reshape(-1, n_words), targets.t().reshape(-1))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    out["losses"] = losses
    out["chain"] = _chain(loss.grad_fn)
    logits = torch.randn(4, 5, requires_grad=True)
    for kw in ({"reduction": "sum"}, {"reduction": "none", "weight": torch.rand(5)}):
        loss = nn.functional.cross_entropy(logits, torch.tensor([1, 0, 4, 2]),
                                           label_smoothing=0.2, **kw)
        loss.sum().backward()
        out[f"chain {kw['reduction']}"] = _chain(loss.grad_fn)
        out[f"grad {kw['reduction']}"] = logits.grad.flatten().tolist()
        logits.grad = None
    return out


# a layer's function defined at module level as a lambda (pickle cannot find it by name)
_flatten = lambda x: x.view(x.size(0), -1)  # noqa: E731


def nn_really_lambda_layers(torch):
    """"What is torch.nn really?": the CNN as a Sequential with Lambda layers, trained a few
    steps; saving the whole model (`torch.save(model)`) fails on the lambdas, as pickle
    fails on them (the C pickler's errors: a local class is an AttributeError), while its
    state_dict round-trips through a BytesIO."""
    import io
    nn, F = torch.nn, torch.nn.functional
    torch.manual_seed(0)

    class Lambda(nn.Module):
        def __init__(self, func):
            super().__init__()
            self.func = func

        def forward(self, x):
            return self.func(x)

    def make(last):
        return nn.Sequential(
            Lambda(lambda x: x.view(-1, 1, 8, 8)),
            nn.Conv2d(1, 4, kernel_size=3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(4, 10, kernel_size=3, stride=2, padding=1), nn.ReLU(),
            nn.AvgPool2d(2), Lambda(last))

    model = make(_flatten)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    xb, yb = torch.rand(16, 64), torch.randint(0, 10, (16,))
    losses = []
    for _ in range(3):
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    out = {"losses": losses}
    # (the model fails on its class Lambda, local to this function; `_flatten` is found by
    # no name in its module)
    out["save local"] = _err(lambda: torch.save(model, io.BytesIO()))
    out["save global"] = _err(lambda: torch.save({"last": _flatten}, io.BytesIO()))
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    copy = make(_flatten)
    out["load"] = str(copy.load_state_dict(torch.load(buf)))
    out["same"] = (copy(xb) - model(xb)).abs().max().item()
    return out


def weight_init_loops(torch):
    """Initialising weights by walking the modules (`model.apply`, `for m in
    model.modules()`), of a model that reuses one layer (the "Learning PyTorch with Examples"
    dynamic net's shared middle layer): reached once by default, at every place with
    `remove_duplicate=False`, skipped when given in `memo`; a buffer registered beside them."""
    nn = torch.nn
    torch.manual_seed(0)

    class SharedNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.input_linear = nn.Linear(3, 8)
            self.middle_linear = nn.Linear(8, 8)
            self.blocks = nn.Sequential(self.middle_linear, nn.ReLU(), self.middle_linear)
            self.output_linear = nn.Linear(8, 1)
            self.register_buffer("steps", torch.zeros((), dtype=torch.long))

        def forward(self, x):
            self.steps += 1
            return self.output_linear(self.blocks(self.input_linear(x).clamp(min=0)))

    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            m.bias.data.fill_(0.01)

    model = SharedNet()
    model.apply(init_weights)
    for m in model.modules():
        if isinstance(m, nn.Linear) and m.out_features == 8:
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    out = {"names": " ".join(n for n, _ in model.named_modules()),
           "all names": " ".join(n for n, _ in model.named_modules(remove_duplicate=False)),
           "count": [len(list(model.modules())),
                     len(list(model.modules(remove_duplicate=False)))],
           "skipped": " ".join(n for n, _ in model.named_modules(memo={model.blocks})),
           "linears": [m.weight.abs().sum().item()
                       for m in model.modules(remove_duplicate=False) if isinstance(m, nn.Linear)]}
    opt = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    losses = []
    for _ in range(3):
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    out["losses"] = losses
    out["steps"] = repr(model.steps)
    return out


def general_checkpoint(torch):
    """"Saving and loading a general checkpoint": model and optimizer state dicts, the epoch
    and loss, and the epochs still to run as a `range` (pickled by protocol 2 as
    `__builtin__.xrange`): refused by the weights-only load under its Python 3 name, loaded
    once `safe_globals([range])` allows it; training then resumes where it stopped."""
    import io
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    x, y = torch.randn(32, 4), torch.randn(32, 1)

    def train(model, opt, epochs):
        losses = []
        for _ in epochs:
            loss = nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    out = {"before": train(model, opt, range(3))}
    buf = io.BytesIO()
    torch.save({"epoch": 3, "model_state_dict": model.state_dict(),
                "optimizer_state_dict": opt.state_dict(), "loss": out["before"][-1],
                "remaining": range(3, 6)}, buf)
    buf.seek(0)
    out["weights only"] = _err(lambda: torch.load(buf)).split("WeightsUnpickler error: ")[-1]
    buf.seek(0)
    with torch.serialization.safe_globals([range]):
        checkpoint = torch.load(buf)
    model2 = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    opt2 = torch.optim.Adam(model2.parameters(), lr=0.5)
    model2.load_state_dict(checkpoint["model_state_dict"])
    opt2.load_state_dict(checkpoint["optimizer_state_dict"])
    out["checkpoint"] = repr({k: v for k, v in checkpoint.items() if "state" not in k})
    out["after"] = train(model2, opt2, checkpoint["remaining"])
    out["continued"] = train(model, opt, range(3))
    return out


def spatial_transformer(torch):
    """The spatial transformer tutorial's network, small and in float64: a localization net
    whose last layer starts at the identity transform (zero weight, bias [1, 0, 0, 0, 1, 0]),
    so the first grid samples every pixel at its centre, where bilinear interpolation has a
    kink: the gradient that reaches theta is the one of the corners torch's kernel picks
    there (its unnormalizing multiply-add is fused, in float64 too)."""
    nn, F = torch.nn, torch.nn.functional
    torch.manual_seed(0)
    torch.set_default_dtype(torch.float64)
    try:
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.localization = nn.Sequential(nn.Conv2d(1, 4, kernel_size=5),
                                                  nn.MaxPool2d(2, stride=2), nn.ReLU(True))
                self.fc_loc = nn.Sequential(nn.Linear(4 * 4 * 4, 16), nn.ReLU(True),
                                            nn.Linear(16, 3 * 2))
                self.fc_loc[2].weight.data.zero_()
                self.fc_loc[2].bias.data.copy_(torch.tensor([1, 0, 0, 0, 1, 0],
                                                            dtype=torch.float))
                self.fc = nn.Linear(13 * 13, 10)

            def stn(self, x):
                xs = self.localization(x).view(-1, 4 * 4 * 4)
                theta = self.fc_loc(xs).view(-1, 2, 3)
                grid = F.affine_grid(theta, x.size(), align_corners=False)
                return F.grid_sample(x, grid, align_corners=False)

            def forward(self, x):
                return F.log_softmax(self.fc(self.stn(x).view(-1, 13 * 13)), dim=1)

        model = Net()
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        data, target = torch.randn(4, 1, 13, 13), torch.randint(0, 10, (4,))
        losses, thetas = [], []
        for _ in range(3):
            opt.zero_grad()
            loss = F.nll_loss(model(data), target)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            thetas.append(model.fc_loc[2].bias.tolist())
        return {"losses": losses, "theta": thetas,
                "weight grad": model.fc_loc[2].weight.grad.flatten().tolist()}
    finally:
        torch.set_default_dtype(torch.float32)


def tensors_out(torch):
    """"Introduction to PyTorch Tensors": the factories writing into an existing tensor
    (`torch.rand(2, 2, out=c)` keeps c, its id and its dtype: a float64 c gets float64 draws,
    an int64 one integer values), and the mistakes of a dtype other than out's and of random
    floats into an integer tensor; randperm into a dtype that cannot hold n - 1."""
    torch.manual_seed(1729)
    c = torch.zeros(2, 2)
    old_id = id(c)
    out = {"rand": torch.rand(2, 2, out=c).flatten().tolist(), "same": str(id(c) == old_id)}
    d = torch.zeros(3, dtype=torch.float64)
    out["rand64"] = torch.rand(3, out=d).tolist()
    out["randn64"] = torch.randn(3, out=d).tolist()
    i = torch.zeros(0, dtype=torch.int64)
    out["linspace"] = torch.linspace(0, 10, 4, out=i).tolist()
    out["arange"] = repr(torch.arange(0, 2, 0.5, out=torch.zeros(0, dtype=torch.float64)))
    out["randperm"] = repr(torch.randperm(6, out=torch.zeros(0)))
    out["dtype given"] = _err(lambda: torch.zeros(2, 2, out=torch.zeros(4), dtype=torch.int64))
    out["rand int"] = _err(lambda: torch.rand(2, out=torch.zeros(2, dtype=torch.int64)))
    out["randn int"] = _err(lambda: torch.randn(2, out=torch.zeros(2, dtype=torch.int32)))
    out["randperm bool"] = _err(lambda: torch.randperm(4, dtype=torch.bool))
    out["randperm uint8"] = " | ".join(_err(lambda: torch.randperm(n, dtype=torch.uint8).max())
                                       for n in (256, 257))
    out["randperm int8"] = _err(lambda: torch.randperm(300, out=torch.zeros(0, dtype=torch.int8)))
    return out


PROGRAMS = {f.__name__: f for f in (seq2seq_translation, nn_really_lambda_layers,
                                    weight_init_loops, general_checkpoint,
                                    spatial_transformer, tensors_out)}
RTOL = {"spatial_transformer": 1e-9}   # (float64: round-off only)


def _compare(name, got, want, rtol):
    assert got.keys() == want.keys()
    for key in want:
        if isinstance(want[key], str):
            assert got[key].replace("tapegrad.", "torch.") == want[key], f"{name}: {key}"
            continue
        np.testing.assert_allclose(np.asarray(got[key], dtype=np.float64),
                                   np.asarray(want[key], dtype=np.float64),
                                   rtol=rtol, atol=1e-12 if rtol < 1e-6 else 1e-5,
                                   err_msg=f"{name}: {key}")


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_matches_torch(name, torch_ref):
    _compare(name, PROGRAMS[name](tapegrad), PROGRAMS[name](torch_ref), RTOL.get(name, 2e-4))
