"""End-to-end numeric programs in the spirit of the official tutorials (#11 section 3): a
polynomial fit with tensors and with autograd, a Newton solve with
`autograd.functional.hessian`, and a small physics model.  Each program runs with
`torch` = tapegrad and with real torch and must print the same text (numbers formatted to
fewer digits than float64 round-off could change)."""
import contextlib
import io
import math

import pytest

import tapegrad

torch = pytest.importorskip("torch")

POLYNOMIAL_TENSORS = """
# the tutorial's "Tensors" step: y = sin(x) fitted by a + b x + c x^2 + d x^3, gradients by hand
dtype = torch.float64
x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
y = torch.sin(x)
a, b, c, d = (torch.tensor(v, dtype=dtype) for v in (0.1, -0.2, 0.3, -0.05))
learning_rate = 1e-6
for t in range(2000):
    y_pred = a + b * x + c * x ** 2 + d * x ** 3
    loss = (y_pred - y).pow(2).sum().item()
    if t % 500 == 499:
        print(t, f"{loss:.6f}")
    grad_y_pred = 2.0 * (y_pred - y)
    grad_a = grad_y_pred.sum()
    grad_b = (grad_y_pred * x).sum()
    grad_c = (grad_y_pred * x ** 2).sum()
    grad_d = (grad_y_pred * x ** 3).sum()
    a -= learning_rate * grad_a
    b -= learning_rate * grad_b
    c -= learning_rate * grad_c
    d -= learning_rate * grad_d
print(f"Result: y = {a.item():.6f} + {b.item():.6f} x + {c.item():.6f} x^2 + {d.item():.6f} x^3")
"""

POLYNOMIAL_AUTOGRAD = """
# the tutorial's "Autograd" step: the same fit, gradients by backward()
dtype = torch.float64
x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
y = torch.sin(x)
a, b, c, d = (torch.tensor(v, dtype=dtype, requires_grad=True) for v in (0.1, -0.2, 0.3, -0.05))
learning_rate = 1e-6
for t in range(2000):
    y_pred = a + b * x + c * x ** 2 + d * x ** 3
    loss = (y_pred - y).pow(2).sum()
    if t % 500 == 499:
        print(t, f"{loss.item():.6f}", loss.grad_fn.name())
    loss.backward()
    with torch.no_grad():
        for p in (a, b, c, d):
            p -= learning_rate * p.grad
            p.grad = None
print(f"Result: y = {a.item():.6f} + {b.item():.6f} x + {c.item():.6f} x^2 + {d.item():.6f} x^3")
print(a.requires_grad, a.grad, y_pred.grad_fn.name(), [type(f[0]).__name__ for f in y_pred.grad_fn.next_functions])
"""

NEWTON = """
# Newton's method on the Rosenbrock function with autograd.functional.hessian and linalg.solve
def rosen(v):
    return (100 * (v[1:] - v[:-1] ** 2) ** 2 + (1 - v[:-1]) ** 2).sum()

v = torch.tensor([-1.2, 1.0, 0.8, 1.1], dtype=torch.float64)
for it in range(8):
    v = v.detach().requires_grad_(True)
    f = rosen(v)
    (g,) = torch.autograd.grad(f, v)
    H = torch.autograd.functional.hessian(rosen, v)
    step = torch.linalg.solve(H, g)
    print(it, f"{f.item():.8e}", f"{g.norm().item():.6e}", tuple(H.shape), f"{torch.linalg.det(H).item():.6e}")
    v = v.detach() - step
print([f"{t:.6f}" for t in v.tolist()])
J = torch.autograd.functional.jacobian(lambda u: torch.stack([rosen(u), (u ** 2).sum()]), v)
print(tuple(J.shape), f"{J.abs().max().item():.6f}")
H = torch.autograd.functional.hessian(rosen, v, create_graph=True)
print(H.requires_grad, f"{H.sum().item():.4f}")
"""

PHYSICS = """
# a projectile with quadratic drag, Euler steps on 0-d tensors: the range and its gradient
# with respect to the launch angle and the drag coefficient, then gradient ascent on the angle
def flight(angle, k, v0=30.0, g=9.81, dt=0.01):
    vx, vy = v0 * torch.cos(angle), v0 * torch.sin(angle)
    x = torch.zeros((), dtype=torch.float64)
    y = torch.zeros((), dtype=torch.float64)
    steps = 0
    while True:
        speed = torch.sqrt(vx * vx + vy * vy)
        ax, ay = -k * speed * vx, -g - k * speed * vy
        x_new, y_new = x + dt * vx, y + dt * vy
        vx, vy = vx + dt * ax, vy + dt * ay
        steps += 1
        if y_new.item() < 0.0:
            # interpolate the landing point between the last two positions
            frac = y / (y - y_new)
            return x + frac * (x_new - x), steps
        x, y = x_new, y_new

angle = torch.tensor(0.6, dtype=torch.float64, requires_grad=True)
k = torch.tensor(0.002, dtype=torch.float64, requires_grad=True)
rng, steps = flight(angle, k)
rng.backward()
print(steps, f"{rng.item():.6f}", f"{angle.grad.item():.6f}", f"{k.grad.item():.4f}", rng.grad_fn.name())
for it in range(5):
    angle.grad = None
    rng, steps = flight(angle, k.detach())
    rng.backward()
    with torch.no_grad():
        angle += 0.002 * angle.grad
    print(it, steps, f"{rng.item():.6f}", f"{angle.item():.6f}")
# a spring: the force is minus the gradient of the potential, and energy is conserved
q = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
p = torch.tensor(0.0, dtype=torch.float64)
def energy(q, p, kspring=4.0, m=1.0):
    return 0.5 * kspring * q * q + p * p / (2 * m)
e0 = energy(q, p).item()
for n in range(1000):   # symplectic Euler
    (dV,) = torch.autograd.grad(0.5 * 4.0 * q * q, q)
    p = p - 0.001 * dV
    q = (q + 0.001 * p).detach().requires_grad_(True)
print(f"{q.item():.6f}", f"{p.item():.6f}", f"{abs(energy(q, p).item() - e0):.2e}")
"""

PROGRAMS = {"polynomial_tensors": POLYNOMIAL_TENSORS, "polynomial_autograd": POLYNOMIAL_AUTOGRAD,
            "newton_hessian": NEWTON, "physics": PHYSICS}


def _run(src, module):
    """exec `src` with `module` as torch; its stdout, an error as 'Type: message'."""
    buf = io.StringIO()
    env = {"torch": module, "math": math}
    with contextlib.redirect_stdout(buf):
        try:
            exec(src, env)
        except Exception as e:  # noqa: BLE001  (compared with torch's)
            print(f"{type(e).__name__}: {e}")
    return buf.getvalue().replace("torch.", "tapegrad.")


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_prints_what_torch_prints(name):
    ours = _run(PROGRAMS[name], tapegrad)
    assert "Error" not in ours, ours
    assert ours.count("\n") >= 4, ours
    assert ours == _run(PROGRAMS[name], torch)
