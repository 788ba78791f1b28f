"""PyTorch's "Learn the Basics" tutorials (Quickstart, Tensors, Datasets & DataLoaders,
Transforms, Build the Model, Optimizing Model Parameters, Save and Load the Model), as source
run with `torch` = tapegrad and with real torch from the same seed.  FashionMNIST and the few
torchvision pieces they use are stood in for by PRELUDE (a synthetic dataset built with torch
calls).  What a program prints must be the same text, numbers within float32 round-off; each
program is cut in sections at `# --` lines, an error in one printed as 'Type: message'."""
import contextlib
import functools
import io
import re
import sys
import types

import numpy as np
import pytest

import tapegrad
from test_func_tutorials import _IMPORTED, _imported_as_torch

# whole programs, each run with tapegrad and with torch: slow (-m "not slow" leaves them out)
pytestmark = pytest.mark.slow

PRELUDE = """
# -- torchvision stand-ins: a synthetic FashionMNIST (a class's pattern plus noise), ToTensor, Lambda
import torch
from torch.utils.data import Dataset

class FashionMNIST(Dataset):
    def __init__(self, root, train=True, download=False, transform=None, target_transform=None):
        g = torch.Generator().manual_seed(0)
        patterns = torch.rand(10, 28, 28, generator=g)
        g.manual_seed(1 if train else 2)
        n = 192 if train else 64
        self.targets = torch.randint(0, 10, (n,), generator=g)
        noise = torch.rand(n, 28, 28, generator=g)
        self.data = ((0.5 * patterns[self.targets] + 0.5 * noise) * 255).to(torch.uint8)
        self.transform, self.target_transform = transform, target_transform

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        img, target = self.data[index], int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

datasets = types.SimpleNamespace(FashionMNIST=FashionMNIST)

class ToTensor:
    def __call__(self, pic):
        return pic.unsqueeze(0).to(torch.float).div(255)

class Lambda:
    def __init__(self, lambd):
        self.lambd = lambd

    def __call__(self, x):
        return self.lambd(x)
"""

NETWORK = """
class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28*28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits
"""

QUICKSTART = """
# -- working with data
import torch
from torch import nn
from torch.utils.data import DataLoader
torch.manual_seed(0)
training_data = datasets.FashionMNIST(root="data", train=True, download=True, transform=ToTensor())
test_data = datasets.FashionMNIST(root="data", train=False, download=True, transform=ToTensor())
batch_size = 64
train_dataloader = DataLoader(training_data, batch_size=batch_size)
test_dataloader = DataLoader(test_data, batch_size=batch_size)
for X, y in test_dataloader:
    print(f"Shape of X [N, C, H, W]: {X.shape}")
    print(f"Shape of y: {y.shape} {y.dtype}")
    break
# -- creating models
device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
print(f"Using {device} device")
""" + NETWORK + """
model = NeuralNetwork().to(device)
print(model)
# -- optimizing the model parameters
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)

def train(dataloader, model, loss_fn, optimizer):
    size = len(dataloader.dataset)
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(device), y.to(device)
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if batch % 2 == 0:
            loss, current = loss.item(), (batch + 1) * len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")

def test(dataloader, model, loss_fn):
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            X, y = X.to(device), y.to(device)
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    test_loss /= num_batches
    correct /= size
    print(f"Test Error: \\n Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f} \\n")

epochs = 5
for t in range(epochs):
    print(f"Epoch {t+1}\\n-------------------------------")
    train(train_dataloader, model, loss_fn, optimizer)
    test(test_dataloader, model, loss_fn)
print("Done!")
# -- saving models
torch.save(model.state_dict(), "model.pth")
print("Saved PyTorch Model State to model.pth")
# -- loading models
model = NeuralNetwork().to(device)
print(model.load_state_dict(torch.load("model.pth", weights_only=True)))
classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
model.eval()
x, y = test_data[0][0], test_data[0][1]
with torch.no_grad():
    x = x.to(device)
    pred = model(x)
    predicted, actual = classes[pred[0].argmax(0)], classes[y]
    print(f'Predicted: "{predicted}", Actual: "{actual}"')
"""

TENSORS = """
# -- initializing a tensor
import torch
import numpy as np
torch.manual_seed(0)
data = [[1, 2],[3, 4]]
x_data = torch.tensor(data)
np_array = np.array(data)
x_np = torch.from_numpy(np_array)
print(x_data, x_np, x_np.dtype)
x_ones = torch.ones_like(x_data) # retains the properties of x_data
print(f"Ones Tensor: \\n {x_ones} \\n")
x_rand = torch.rand_like(x_data, dtype=torch.float) # overrides the datatype of x_data
print(f"Random Tensor: \\n {x_rand} \\n")
shape = (2,3,)
rand_tensor = torch.rand(shape)
ones_tensor = torch.ones(shape)
zeros_tensor = torch.zeros(shape)
print(f"Random Tensor: \\n {rand_tensor} \\n")
print(f"Ones Tensor: \\n {ones_tensor} \\n")
print(f"Zeros Tensor: \\n {zeros_tensor}")
# -- attributes of a tensor
tensor = torch.rand(3,4)
print(f"Shape of tensor: {tensor.shape}")
print(f"Datatype of tensor: {tensor.dtype}")
print(f"Device tensor is stored on: {tensor.device}")
# -- operations on tensors
if torch.accelerator.is_available():
    tensor = tensor.to(torch.accelerator.current_accelerator())
print(torch.accelerator.is_available(), tensor.device)
tensor = torch.ones(4, 4)
print(f"First row: {tensor[0]}")
print(f"First column: {tensor[:, 0]}")
print(f"Last column: {tensor[..., -1]}")
tensor[:,1] = 0
print(tensor)
t1 = torch.cat([tensor, tensor, tensor], dim=1)
print(t1)
# -- arithmetic operations
y1 = tensor @ tensor.T
y2 = tensor.matmul(tensor.T)
y3 = torch.rand_like(y1)  # (with `out=`: TENSORS_OUT)
print(y1, y2)
z1 = tensor * tensor
z2 = tensor.mul(tensor)
z3 = torch.rand_like(tensor)
print(z1, z2)
# -- single-element tensors
agg = tensor.sum()
agg_item = agg.item()
print(agg_item, type(agg_item))
# -- in-place operations
print(f"{tensor} \\n")
tensor.add_(5)
print(tensor)
# -- bridge with NumPy: tensor to NumPy array
t = torch.ones(5)
print(f"t: {t}")
n = t.numpy()
print(f"n: {n}")
t.add_(1)
print(f"t: {t}")
print(f"n: {n}")
# -- NumPy array to tensor
n = np.ones(5)
t = torch.from_numpy(n)
np.add(n, 1, out=n)
print(f"t: {t}")
print(f"n: {n}")
"""

DATASETS = """
# -- loading a dataset
import torch
from torch.utils.data import Dataset
torch.manual_seed(0)
training_data = datasets.FashionMNIST(root="data", train=True, download=True, transform=ToTensor())
test_data = datasets.FashionMNIST(root="data", train=False, download=True, transform=ToTensor())
# -- iterating and visualizing the dataset (the figure's titles and images' shapes printed)
labels_map = {0: "T-Shirt", 1: "Trouser", 2: "Pullover", 3: "Dress", 4: "Coat",
              5: "Sandal", 6: "Shirt", 7: "Sneaker", 8: "Bag", 9: "Ankle Boot"}
cols, rows = 3, 3
for i in range(1, cols * rows + 1):
    sample_idx = torch.randint(len(training_data), size=(1,)).item()
    img, label = training_data[sample_idx]
    print(i, sample_idx, labels_map[label], img.shape, img.squeeze().shape, img.dtype)
# -- creating a custom dataset for your files (csv annotations, images saved as tensors)
import csv
import os
os.makedirs("img_dir", exist_ok=True)
with open("annotations.csv", "w", newline="") as f:
    for i in range(10):
        torch.save(training_data.data[i].unsqueeze(0).clone(), os.path.join("img_dir", f"img_{i}.pt"))
        csv.writer(f).writerow([f"img_{i}.pt", int(training_data.targets[i])])

def read_image(path):  # stands in for torchvision.io.read_image: a uint8 (C, H, W) tensor
    return torch.load(path)

class CustomImageDataset(Dataset):
    def __init__(self, annotations_file, img_dir, transform=None, target_transform=None):
        with open(annotations_file) as f:
            self.img_labels = [(name, int(label)) for name, label in csv.reader(f)]
        self.img_dir = img_dir
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self.img_labels)

    def __getitem__(self, idx):
        img_path = os.path.join(self.img_dir, self.img_labels[idx][0])
        image = read_image(img_path)
        label = self.img_labels[idx][1]
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label

custom = CustomImageDataset("annotations.csv", "img_dir",
                            transform=lambda image: image.to(torch.float) / 255)
image, label = custom[3]
print(len(custom), image.shape, image.dtype, label, torch.equal(image, training_data[3][0]))
# -- preparing your data for training with DataLoaders
from torch.utils.data import DataLoader
train_dataloader = DataLoader(training_data, batch_size=64, shuffle=True)
test_dataloader = DataLoader(test_data, batch_size=64, shuffle=True)
# -- iterate through the DataLoader
train_features, train_labels = next(iter(train_dataloader))
print(f"Feature batch shape: {train_features.size()}")
print(f"Labels batch shape: {train_labels.size()}")
img = train_features[0].squeeze()
label = train_labels[0]
print(img.shape, img.sum())
print(f"Label: {label}")
print(train_labels)
epoch_labels = [y for _, y in train_dataloader]
print(len(train_dataloader), [len(y) for y in epoch_labels], epoch_labels[-1])
custom_loader = DataLoader(custom, batch_size=4, shuffle=True)
print([y.tolist() for _, y in custom_loader])
"""

TRANSFORMS = """
# -- ToTensor and a Lambda one-hot target transform
import torch
torch.manual_seed(0)
ds = datasets.FashionMNIST(
    root="data",
    train=True,
    download=True,
    transform=ToTensor(),
    target_transform=Lambda(lambda y: torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y), value=1))
)
img, target = ds[0]
print(img.shape, img.dtype, img.min(), img.max())
print(target, ds.targets[0])
# -- through a DataLoader
from torch.utils.data import DataLoader
X, Y = next(iter(DataLoader(ds, batch_size=5, shuffle=True)))
print(X.shape, Y)
print(Y.argmax(1), Y.sum(1))
"""

BUILD_MODEL = """
# -- get device for training
import torch
from torch import nn
torch.manual_seed(0)
device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
print(f"Using {device} device")
# -- define the class
""" + NETWORK + """
model = NeuralNetwork().to(device)
print(model)
X = torch.rand(1, 28, 28, device=device)
logits = model(X)
pred_probab = nn.Softmax(dim=1)(logits)
y_pred = pred_probab.argmax(1)
print(f"Predicted class: {y_pred}")
print(logits, pred_probab)
# -- model layers
input_image = torch.rand(3,28,28)
print(input_image.size())
flatten = nn.Flatten()
flat_image = flatten(input_image)
print(flat_image.size())
layer1 = nn.Linear(in_features=28*28, out_features=20)
hidden1 = layer1(flat_image)
print(hidden1.size())
print(f"Before ReLU: {hidden1}\\n\\n")
hidden1 = nn.ReLU()(hidden1)
print(f"After ReLU: {hidden1}")
seq_modules = nn.Sequential(
    flatten,
    layer1,
    nn.ReLU(),
    nn.Linear(20, 10)
)
input_image = torch.rand(3,28,28)
logits = seq_modules(input_image)
softmax = nn.Softmax(dim=1)
pred_probab = softmax(logits)
print(seq_modules, logits, pred_probab)
# -- model parameters
print(f"Model structure: {model}\\n\\n")
for name, param in model.named_parameters():
    print(f"Layer: {name} | Size: {param.size()} | Values : {param[:2]} \\n")
print(sum(p.numel() for p in model.parameters()), [p.requires_grad for p in model.parameters()])
"""

OPTIMIZATION = """
# -- prerequisite code
import torch
from torch import nn
from torch.utils.data import DataLoader
torch.manual_seed(0)
training_data = datasets.FashionMNIST(root="data", train=True, download=True, transform=ToTensor())
test_data = datasets.FashionMNIST(root="data", train=False, download=True, transform=ToTensor())
train_dataloader = DataLoader(training_data, batch_size=64)
test_dataloader = DataLoader(test_data, batch_size=64)
""" + NETWORK + """
model = NeuralNetwork()
# -- hyperparameters, loss function, optimizer
learning_rate = 1e-3
batch_size = 64
epochs = 10
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
print(loss_fn, optimizer)
# -- full implementation
def train_loop(dataloader, model, loss_fn, optimizer):
    size = len(dataloader.dataset)
    # Set the model to training mode - important for batch normalization and dropout layers
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        # Compute prediction and loss
        pred = model(X)
        loss = loss_fn(pred, y)

        # Backpropagation
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

        if batch % 2 == 0:
            loss, current = loss.item(), batch * batch_size + len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")


def test_loop(dataloader, model, loss_fn):
    # Set the model to evaluation mode - important for batch normalization and dropout layers
    model.eval()
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    test_loss, correct = 0, 0

    # Evaluating the model with torch.no_grad() ensures that no gradients are computed during test mode
    with torch.no_grad():
        for X, y in dataloader:
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()

    test_loss /= num_batches
    correct /= size
    print(f"Test Error: \\n Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f} \\n")

for t in range(epochs):
    print(f"Epoch {t+1}\\n-------------------------------")
    train_loop(train_dataloader, model, loss_fn, optimizer)
    test_loop(test_dataloader, model, loss_fn)
print("Done!")
"""

SAVE_LOAD = """
# -- saving and loading model weights
import torch
from torch import nn
torch.manual_seed(0)
""" + NETWORK + """
model = NeuralNetwork()
torch.save(model.state_dict(), 'model_weights.pth')
saved = {k: v.clone() for k, v in model.state_dict().items()}
model = NeuralNetwork() # we do not specify ``weights``, i.e. create untrained model
print(model.load_state_dict(torch.load('model_weights.pth', weights_only=True)))
print(model.eval())
print(all(torch.equal(v, saved[k]) for k, v in model.state_dict().items()), list(saved))
X = torch.rand(2, 28, 28)
with torch.no_grad():
    print(model(X))
# -- saving and loading models with shapes
torch.save(model, 'model.pth')
model = torch.load('model.pth', weights_only=False)
print(type(model).__name__, model.training, model)
with torch.no_grad():
    print(model(X))
print(type(torch.load('model_weights.pth', weights_only=True)).__name__)
"""

# the tutorial's `out=` forms, apart: tapegrad takes no `out=` but in a few functions
TENSORS_OUT = """
import torch
torch.manual_seed(0)
tensor = torch.ones(4, 4)
tensor[:,1] = 0
y3 = torch.rand_like(tensor)
print(torch.matmul(tensor, tensor.T, out=y3) is y3, y3)
z3 = torch.rand_like(tensor)
print(torch.mul(tensor, tensor, out=z3) is z3, z3)
"""

PROGRAMS = {"quickstart": QUICKSTART, "tensors": TENSORS, "datasets": DATASETS,
            "transforms": TRANSFORMS, "build_model": BUILD_MODEL,
            "optimization": OPTIMIZATION, "save_load": SAVE_LOAD}
IMPORTED = _IMPORTED + ("utils", "utils.data", "optim")
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*(?:e[-+]?\d+)?|\d+e[-+]?\d+|nan|inf)")


def _run(src, m, where):
    """exec PRELUDE + src with `m` as torch in directory `where`, in a module of its own (so
    that `torch.save` pickles its classes); what it printed (`torch.` read as `tapegrad.`)
    and its namespace."""
    mod = types.ModuleType("basics_tutorial")
    mod.__dict__["types"] = types
    buf = io.StringIO()
    sys.modules[mod.__name__] = mod
    try:
        with _imported_as_torch(m, IMPORTED), contextlib.chdir(where), \
                contextlib.redirect_stdout(buf):
            for section in (PRELUDE + src).strip().split("\n# --"):
                try:
                    exec("#" + section, mod.__dict__)
                except Exception as e:  # noqa: BLE001  (compared with torch's)
                    print(f"{type(e).__name__}: {e}")
    finally:
        del sys.modules[mod.__name__]
    return buf.getvalue().replace("torch.", "tapegrad."), mod.__dict__


def _assert_same_text(ours, theirs):
    """The same text; floats within float32 round-off accumulated over the training steps."""
    a, b = NUMBER.split(ours), NUMBER.split(theirs)
    assert a == b, "\n".join(f"{x!r} != {y!r}" for x, y in zip(a, b) if x != y)
    x, y = NUMBER.findall(ours), NUMBER.findall(theirs)
    np.testing.assert_allclose(np.array(x, float), np.array(y, float), rtol=2e-4, atol=2e-4)


def _failed(out):
    """The lines of sections that raised."""
    return re.findall(r"^[A-Z]\w*(?:Error|Exception): .*", out, re.M)


def _floats(out, after):
    return [float(v) for v in re.findall(after + r"\s*([-\d.]+)", out)]


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
    """tapegrad's run of a program (once per module): (printed, namespace, directory)."""
    @functools.cache
    def run(name):
        where = tmp_path_factory.mktemp(name)
        return (*_run(PROGRAMS[name], tapegrad, where), where)
    return run


@pytest.fixture
def torch(torch_ref):
    return torch_ref


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_tutorial_prints_what_torch_prints(name, ours, torch, tmp_path):
    theirs, _ = _run(PROGRAMS[name], torch, tmp_path)
    assert not _failed(theirs), theirs
    _assert_same_text(ours(name)[0], theirs)


def test_tensors_out_forms_as_torch(torch, tmp_path):
    theirs, _ = _run(TENSORS_OUT, torch, tmp_path)
    _assert_same_text(_run(TENSORS_OUT, tapegrad, tmp_path)[0], theirs)


def test_tensors_out_forms_run_without_torch(tmp_path):
    out, ns = _run(TENSORS_OUT, tapegrad, tmp_path)
    assert not _failed(out), out
    assert ns["y3"].tolist() == (ns["tensor"] @ ns["tensor"].T).tolist()


def _accuracy(model, dataset):
    """The share of the dataset the model gets right, by numpy."""
    x = np.stack([dataset[i][0].numpy() for i in range(len(dataset))])
    with tapegrad.no_grad():
        logits = model(tapegrad.from_numpy(x)).numpy()
    return float(np.mean(logits.argmax(1) == dataset.targets.numpy()))


@pytest.mark.parametrize("name", ["quickstart", "optimization"])
def test_training_runs_and_learns_without_torch(name, ours):
    out, ns, _ = ours(name)
    assert not _failed(out) and out.rstrip().endswith(("Done!", '"')), out
    avg = _floats(out, "Avg loss:")
    assert len(avg) == ns["epochs"] and avg[-1] < avg[0], avg
    # the printed accuracy is the share of right answers; the reloaded model gives the same
    acc = _floats(out, "Accuracy:")[-1]
    assert acc == pytest.approx(100 * _accuracy(ns["model"], ns["test_data"]), abs=0.05)


def test_tensors_runs_and_shares_memory_with_numpy(ours):
    out, ns, _ = ours("tensors")
    assert not _failed(out), out
    assert "t: tensor([2., 2., 2., 2., 2.], dtype=tapegrad.float64)\nn: [2. 2. 2. 2. 2.]" in out
    t, n = ns["t"], ns["n"]
    n[0] = 7
    assert t[0].item() == 7
    t.mul_(2)
    assert n[0] == 14 and ns["agg_item"] == 12.0 and type(ns["agg_item"]) is float
    assert ns["y1"].tolist() == ns["y2"].tolist() == [[3.0] * 4] * 4
    assert ns["tensor"][:, 1].tolist() == [5.0] * 4 and ns["z1"].tolist() == ns["z2"].tolist()


def test_datasets_runs_and_batches_without_torch(ours):
    out, ns, _ = ours("datasets")
    assert not _failed(out), out
    assert "Feature batch shape: tapegrad.Size([64, 1, 28, 28])" in out
    # one epoch of a shuffled loader: every label once, the last batch the remainder
    labels = tapegrad.cat(ns["epoch_labels"])
    assert sorted(labels.tolist()) == sorted(ns["training_data"].targets.tolist())
    assert labels.tolist() != ns["training_data"].targets.tolist()
    # the custom dataset reads back the saved images
    assert re.search(r"^10 .* True$", out, re.M)


def test_transforms_one_hot_without_torch(ours):
    out, ns, _ = ours("transforms")
    assert not _failed(out), out
    y = ns["ds"].targets[:20].tolist()
    one_hot = tapegrad.stack([ns["ds"][i][1] for i in range(20)])
    assert one_hot.tolist() == np.eye(10, dtype=np.float32)[y].tolist()


def test_build_model_runs_without_torch(ours):
    out, ns, _ = ours("build_model")
    assert not _failed(out), out
    n = sum(p.numel() for p in ns["model"].parameters())
    assert n == 784 * 512 + 512 * 512 + 512 * 10 + 1034
    assert np.allclose(ns["pred_probab"].sum(1).detach().numpy(), 1)
    assert "grad_fn=<SliceBackward0>" in out and "grad_fn=<ReluBackward0>" in out


def test_save_load_round_trips_without_torch(ours):
    out, ns, _ = ours("save_load")
    assert not _failed(out), out
    assert out.count("<All keys matched successfully>") == 1 and "True [" in out
    outputs = re.findall(r"tensor\(\[\[.*?\]\]\)", out, re.S)
    assert len(outputs) == 2 and outputs[0] == outputs[1]


def test_weights_saved_by_tapegrad_load_in_torch(ours, torch):
    """The tutorial's files are torch's format: torch reads what tapegrad saved."""
    _, ns, where = ours("save_load")
    theirs = torch.load(where / "model_weights.pth", weights_only=True)
    assert list(theirs) == list(ns["saved"])
    for k, v in ns["saved"].items():
        assert np.array_equal(theirs[k].numpy(), v.numpy()), k


def test_scatter_and_gather_take_a_zero_dim_index(torch):
    """torch counts a 0-d index as 1-d (the tutorial's one-hot `scatter_(0, tensor(y), value=1)`)."""
    for m in (tapegrad, torch):
        v = m.zeros(10, requires_grad=True)
        r = (v * 1).scatter(0, m.tensor(3), m.tensor(5.0)) + m.zeros(10).scatter_add(
            0, m.tensor(2), m.tensor(1.0))
        (r * m.arange(10.0)).sum().backward()
        g = v.gather(0, m.tensor(4))
        got = [r.tolist(), v.grad.tolist(), g.shape, g.item(),
               m.zeros(()).scatter(0, m.tensor(0), 2.0).item()]
        if m is tapegrad:
            ours = got
    assert ours == got
    for m in (tapegrad, torch):
        with pytest.raises(RuntimeError, match="same number of dimensions"):
            m.zeros(2, 3).scatter(0, m.tensor(1), 1.0)
        with pytest.raises(RuntimeError, match="same number of dimensions"):
            m.zeros(2, 3).gather(1, m.tensor(1))
