"""torch.optim.LBFGS (closure, history_size, line_search_fn None or "strong_wolfe"): torch's
algorithm line for line on flat numpy vectors of the parameters' dtype.  The parameters are
read, moved and restored by the fused kernels (one call each over all parameters, as the
other optimizers' updates); the state keeps torch's keys and kinds (tensors, lists of
tensors, floats) under the first parameter."""
import numpy as np

from .. import dtypes as D
from .._signals import COMMIT
from ..steptrace import TRACE
from ..grad_mode import switched_grad
from ..tensor import Tensor
from .hooks import check_lr
from .optimizer import Optimizer, _dtype_named, _Pack, fused, state_tensor

__all__ = ["LBFGS"]


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    # ported from torch (itself from minFunc's polyinterp, two points)
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = np.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    # ported from torch (itself from minFunc's WolfeLineSearch)
    d_norm = np.abs(d).max()
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = g_new.dot(d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                               bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0],
                               bracket[1], bracket_f[1], bracket_gtd[1])
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos] = bracket[low_pos]
                bracket_f[high_pos] = bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new
    t = bracket[low_pos]
    return bracket_f[low_pos], bracket_g[low_pos], t, ls_func_evals


def _arr(x):
    """A state value as numpy (tensors in the state, numpy while stepping)."""
    if isinstance(x, Tensor):
        return x._v if type(x._v) is not float else np.array(x._v, x._dtype.np)
    if isinstance(x, list):
        return [_arr(v) for v in x]
    return x


def _tensor(x):
    if isinstance(x, np.ndarray):
        return state_tensor(x, _dtype_named(x.dtype))
    if isinstance(x, np.floating):
        return state_tensor(np.array(x), _dtype_named(np.dtype(type(x))))
    if isinstance(x, list):
        return [_tensor(v) for v in x]
    return x


class LBFGS(Optimizer):
    """L-BFGS, as torch.optim.LBFGS (one parameter group; step(closure) is required)."""

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        check_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = {"lr": lr, "max_iter": max_iter, "max_eval": max_eval,
                    "tolerance_grad": tolerance_grad, "tolerance_change": tolerance_change,
                    "history_size": history_size, "line_search_fn": line_search_fn}
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]
        self._lpack = None

    def __setstate__(self, state):
        super().__setstate__(state)
        self._params = self.param_groups[0]["params"]
        self._lpack = None

    # ---- the parameters as one flat vector (fused kernels) -----------------------------------
    def _pack(self):
        pack = self._lpack
        if pack is None or not pack.valid(self._params):
            dts = {p._dtype for p in self._params}
            for dt in dts:
                # torch's first op that fails on such parameters: flat_grad.abs() for bool,
                # p.add_(update, alpha=step_size) (a float) for integers
                if dt is D.bool_:
                    raise NotImplementedError("\"abs_cpu\" not implemented for 'Bool'")
                if not dt.is_floating_point:
                    raise RuntimeError("For integral input tensors, argument alpha must not be "
                                       "a floating point number.")
            if len(dts) != 1:
                raise NotImplementedError("LBFGS over parameters of several dtypes is not "
                                          "implemented (torch concatenates them)")
            pack = self._lpack = _Pack(self._params, dts.pop(), (), self.state)
        return pack

    def _flat_grad(self):
        for p in self._params:
            g = getattr(p, "_grad", None)
            if g is not None and type(g._v) is np.ndarray and not g._v.flags.c_contiguous:
                # torch gathers p.grad.view(-1): the .grad of a transposed parameter (which
                # keeps its parameter's strides) refuses it with view's RuntimeError
                g.view(-1)
        pack = self._pack()
        if all(getattr(p, "_grad", None) is not None for p in self._params):
            pack.load_grads()
            return pack.G.copy()
        out = np.zeros(int(pack.off[-1]), pack.dt.np)
        for j, p in enumerate(self._params):
            g = getattr(p, "_grad", None)
            if g is not None:
                out[pack.off[j]:pack.off[j + 1]] = np.ravel(g._array())
        return out

    def _write(self, D, alpha=None):
        """p += alpha * D (alpha given) or p = D, over all parameters in one kernel call."""
        pack = self._pack()
        K = fused()
        with COMMIT:
            if pack.staged:
                pack.stage_in()
            if alpha is None:
                K.copy_flat(pack.P, D, pack.off, pack.like, True)
            else:
                K.add_flat(pack.P, D, pack.off, pack.like, float(alpha))
            if pack.staged:
                pack.stage_out()
            pack.bump(1)

    def _add_grad(self, step_size, update):
        self._write(update, step_size)

    def _clone_param(self):
        pack = self._pack()
        out = np.empty(int(pack.off[-1]), pack.dt.np)
        if pack.staged:
            pack.stage_in()
        fused().copy_flat(pack.P, out, pack.off, pack.like, False)
        return out

    def _set_param(self, params_data):
        self._write(params_data)

    def _directional_evaluate(self, closure, x, t, d):
        self._add_grad(t, d)
        loss = float(closure())
        flat_grad = self._flat_grad()
        self._set_param(x)
        return loss, flat_grad

    def step(self, closure):
        """Up to max_iter L-BFGS iterations; `closure` re-evaluates the loss (with backward)."""
        if TRACE.current is not None:
            TRACE.current.unsupported("LBFGS.step() (its closure runs a data-dependent number "
                                      "of times)")
        outer = np.geterr()
        # (the user's closure runs under the caller's numpy error settings; the step's own
        # arithmetic is silent, as torch's tensor ops are, when a diverging search overflows)
        with switched_grad(False), np.errstate(all="ignore"):
            # a closure that raises (or a Ctrl-C) mid-step: parameters and state as before
            # (torch keeps the moved parameters and half-updated state, and its next step
            # then fails on a missing prev_flat_grad)
            p0 = self._params[0]
            state = dict(self.state.get(p0, {}))
            versions = [p._version for p in self._params]
            x0 = self._clone_param()
            try:
                return self._step(closure, outer)
            except BaseException:
                if [p._version for p in self._params] != versions:
                    self._set_param(x0)
                if state:
                    self.state[p0] = state
                else:
                    self.state.pop(p0, None)
                raise

    def _step(self, closure, errors):
        def closure_grad():
            with switched_grad(True), np.errstate(**errors):
                return closure()

        group = self.param_groups[0]
        lr = group["lr"]
        max_iter = group["max_iter"]
        max_eval = group["max_eval"]
        tolerance_grad = group["tolerance_grad"]
        tolerance_change = group["tolerance_change"]
        line_search_fn = group["line_search_fn"]
        history_size = group["history_size"]

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = closure_grad()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1

        flat_grad = self._flat_grad()
        opt_cond = np.abs(flat_grad).max() <= tolerance_grad
        if opt_cond:
            return orig_loss

        d = _arr(state.get("d"))
        t = _arr(state.get("t"))
        old_dirs = _arr(state.get("old_dirs"))
        old_stps = _arr(state.get("old_stps"))
        ro = _arr(state.get("ro"))
        H_diag = _arr(state.get("H_diag"))
        prev_flat_grad = _arr(state.get("prev_flat_grad"))
        prev_loss = state.get("prev_loss")
        dt = flat_grad.dtype.type

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * dt(t)
                ys = y.dot(s)
                if ys > 1e-10:
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(dt(1.0) / ys)
                    H_diag = ys / y.dot(y)
                num_old = len(old_dirs)
                if "al" not in state:
                    state["al"] = [None] * history_size
                al = _arr(state["al"])
                # (q.add_ and r.add_ with alpha: one fused multiply-add per element, as torch)
                K = fused()
                q = -flat_grad
                for i in range(num_old - 1, -1, -1):
                    al[i] = old_stps[i].dot(q) * ro[i]
                    K.axpy(q, old_dirs[i], float(-al[i]))
                d = r = q * dt(H_diag)
                for i in range(num_old):
                    be_i = old_dirs[i].dot(r) * ro[i]
                    K.axpy(r, old_stps[i], float(dt(al[i] - be_i)))
                state["al"] = _tensor(al)
            prev_flat_grad = flat_grad.copy()   # (not into the state's array: see step)
            prev_loss = loss
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr
            else:
                t = lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:
                break
            ls_func_evals = 0
            if line_search_fn is not None:
                if line_search_fn != "strong_wolfe":
                    raise RuntimeError("only 'strong_wolfe' is supported")
                x_init = self._clone_param()

                def obj_func(x, t, d):
                    return self._directional_evaluate(closure_grad, x, t, d)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    obj_func, x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = np.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_grad(t, d)
                if n_iter != max_iter:
                    loss = float(closure_grad())
                    flat_grad = self._flat_grad()
                    opt_cond = np.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals
            if n_iter == max_iter:
                break
            if current_evals >= max_eval:
                break
            if opt_cond:
                break
            if np.abs(d * dt(t)).max() <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state["d"] = _tensor(d)
        state["t"] = _tensor(t)     # (torch's t: lr as given, or a 0-d tensor it computed)
        state["old_dirs"] = _tensor(old_dirs)
        state["old_stps"] = _tensor(old_stps)
        state["ro"] = _tensor(ro)
        state["H_diag"] = _tensor(H_diag)
        kept = state.get("prev_flat_grad")
        if isinstance(kept, Tensor) and kept.numel() == prev_flat_grad.size:
            # torch copies each iteration's gradient into the state's tensor in place
            # (prev_flat_grad.copy_): whoever shares it sees the new one (an optimizer that
            # load_state_dict'ed this state: same-dtype tensors are not copied); written
            # once here, after the step succeeded (a failed step leaves it as it was)
            kept.copy_(_tensor(prev_flat_grad))
        else:
            state["prev_flat_grad"] = _tensor(prev_flat_grad)
        state["prev_loss"] = prev_loss
        return orig_loss
