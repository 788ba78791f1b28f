"""nn.Module's full backward hooks, as torch's (torch.utils.hooks.BackwardHook and
torch.nn.modules._functions.BackwardHookFunction): the module's tensor inputs and outputs pass
through an identity custom Function (`BackwardHookFunctionBackward`); the outputs' node sees
the gradients of the outputs (grad_output, which backward pre hooks may replace), the inputs'
node those of the inputs (grad_input), and there the user's hooks run with both and may replace
grad_input.  torch registers hooks on those nodes; here the Function's backward calls them."""
import warnings

from ...autograd.function import Function
from ...errors import user_stacklevel
from ...grad_mode import is_grad_enabled
from ...hooks import checked_result
from ...tensor import Tensor


class BackwardHookFunction(Function):
    """Identity on the tensors given; its backward hands their gradients to `on_grads`, whose
    result (one gradient per tensor) it passes on.  `materialize`: whether a gradient that
    did not reach a tensor comes as zeros (the inputs' node: torch's Function backward
    materializes them) or as None (the outputs' node: torch's pre hook on it sees the raw
    gradients, None for an output the loss does not use)."""

    @staticmethod
    def forward(ctx, on_grads, materialize, *args):
        ctx.on_grads = on_grads
        ctx.set_materialize_grads(materialize)
        ctx.mark_non_differentiable(*[arg for arg in args if not arg.requires_grad])
        return args

    @staticmethod
    def backward(ctx, *grads):
        return (None, None) + tuple(ctx.on_grads(grads))


class BackwardHook:
    """One call of a module with full backward (pre-)hooks: links the gradients captured at
    its outputs with those captured at its inputs and calls the user's hooks once both are
    known (torch's BackwardHook)."""

    def __init__(self, module, user_hooks, user_pre_hooks):
        self.user_hooks = user_hooks
        self.user_pre_hooks = user_pre_hooks
        self.module = module
        self.grad_outputs = None
        self.n_outputs = -1
        self.output_tensors_index = None
        self.n_inputs = -1
        self.input_tensors_index = None

    @staticmethod
    def _pack_with_none(indices, values, size):
        res = [None] * size
        for idx, val in zip(indices, values):
            res[idx] = val
        return tuple(res)

    def _input_grads(self, grad_input):
        if self.grad_outputs is None:
            # the gradient reached the inputs without passing the outputs (double backward)
            return grad_input
        res = self._pack_with_none(self.input_tensors_index, grad_input, self.n_inputs)
        for hook in self.user_hooks:
            out = hook(self.module, res, self.grad_outputs)
            if out is None:
                continue
            if len(out) != len(res):
                raise RuntimeError(f"Backward hook returned an invalid number of grad_input, got "
                                   f"{len(out)}, but expected {len(res)}")
            res = out
        self.grad_outputs = None
        # (torch runs the user's hooks in a post hook of the inputs' node, named `hook`, whose
        # results its engine checks against the gradients it was given)
        return tuple(None if res[idx] is None else checked_result("hook", res[idx], old)
                     if old is not None else res[idx]
                     for idx, old in zip(self.input_tensors_index, grad_input))

    def _output_grads(self, grad_output):
        self.grad_outputs = self._pack_with_none(self.output_tensors_index, grad_output,
                                                 self.n_outputs)
        expected_len = len(self.grad_outputs)
        for user_pre_hook in self.user_pre_hooks:
            hook_grad_outputs = user_pre_hook(self.module, self.grad_outputs)
            if hook_grad_outputs is None:
                continue
            if len(hook_grad_outputs) != expected_len:
                raise RuntimeError(f"Backward pre hook returned an invalid number of grad_output, "
                                   f"got {len(hook_grad_outputs)}, but expected {expected_len}")
            self.grad_outputs = hook_grad_outputs
        local_grad_outputs = self.grad_outputs
        if self.input_tensors_index is None:   # no input requires grad: the hooks run here
            warnings.warn("Full backward hook is firing when gradients are computed with respect "
                          "to module outputs since no inputs require gradients. See "
                          "https://docs.pytorch.org/docs/main/generated/torch.nn.Module.html#torch"
                          ".nn.Module.register_full_backward_hook for more details.",
                          stacklevel=user_stacklevel())   # (torch's: the backward() call)
            grad_inputs = self._pack_with_none([], [], self.n_inputs)
            for user_hook in self.user_hooks:
                res = user_hook(self.module, grad_inputs, self.grad_outputs)
                if res is not None and not (isinstance(res, tuple)
                                            and all(el is None for el in res)):
                    raise RuntimeError("Backward hook for Modules where no input requires "
                                       "gradient should always return None or None for all "
                                       "gradients.")
            self.grad_outputs = None
        return tuple(local_grad_outputs[i] for i in self.output_tensors_index)

    def _apply_on_tensors(self, on_grads, args, materialize):
        tensors_idx, tensors = [], []
        requires_grad = False
        for i, arg in enumerate(args):
            if isinstance(arg, Tensor):
                tensors_idx.append(i)
                tensors.append(arg)
                requires_grad |= arg.requires_grad
        if not (requires_grad and is_grad_enabled()):
            return args, None
        new_tensors = BackwardHookFunction.apply(on_grads, materialize, *tensors)
        if len(new_tensors) == 0:
            raise RuntimeError("Cannot set Module backward hook for a Module with no input "
                               "Tensors.")
        arg_list = list(args)
        for idx, val in zip(tensors_idx, new_tensors):
            arg_list[idx] = val
        return (tuple(arg_list) if type(args) is tuple else type(args)(*arg_list)), tensors_idx

    def setup_input_hook(self, args):
        res, input_idx = self._apply_on_tensors(self._input_grads, args, True)
        self.n_inputs = len(args)
        self.input_tensors_index = input_idx
        return res

    def setup_output_hook(self, args):
        is_tuple = isinstance(args, tuple)
        if not is_tuple:
            args = (args,)
        res, output_idx = self._apply_on_tensors(self._output_grads, args, False)
        self.n_outputs = len(args)
        self.output_tensors_index = output_idx
        return res if is_tuple else res[0]
