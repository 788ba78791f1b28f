"""Idioms of training scripts and model code around the math, compared with torch: what
eager code asks of torch.jit, ..."""
import pytest

import tapegrad as tg


def _jit_guarded_model(torch):
    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(2, 2)

        @torch.jit.ignore
        def debug(self, x):
            return x.sum()

        @torch.jit.unused
        def slow(self, x):
            return x * 3

        @torch.jit.export
        def twice(self, x):
            return self.fc(x) * 2

        def forward(self, x):
            if not torch.jit.is_scripting() and not torch.jit.is_tracing():
                x = self.slow(x)
            y = torch.jit.annotate(torch.Tensor, self.fc(x))
            return y + self.debug(x) + self.twice(x)
    return Block()


def test_jit_guards_and_markers_as_torch_eager(torch_ref):
    outs = []
    for m in (tg, torch_ref):
        m.manual_seed(0)
        block = _jit_guarded_model(m)
        outs.append(block(m.arange(4.0).reshape(2, 2)).reshape(-1).tolist())
        assert block.slow._torchscript_modifier == \
            torch_ref._jit_internal.FunctionModifiers.UNUSED
        assert block.debug._torchscript_modifier == \
            torch_ref._jit_internal.FunctionModifiers.IGNORE
    assert outs[0] == pytest.approx(outs[1])
    for m in (tg, torch_ref):
        with pytest.raises(RuntimeError, match="must be a bool or a function but got 3"):
            m.jit.ignore(3)
        with pytest.warns(FutureWarning, match=r"ignore\(True\) has been deprecated"):
            fn = m.jit.ignore(True)(lambda x: x)
        assert fn._torchscript_modifier == torch_ref._jit_internal.FunctionModifiers.UNUSED


def test_jit_script_and_trace_say_they_are_not_here():
    with pytest.raises(NotImplementedError, match="TorchScript"):
        tg.jit.script(tg.nn.Linear(1, 1))
    with pytest.raises(NotImplementedError, match="TorchScript"):
        tg.jit.trace(lambda x: x, (tg.ones(1),))
