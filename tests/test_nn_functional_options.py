"""nn.functional's option combinations against torch: the cases a sweep over their keywords
(modes, value=, dilation, sizes) found differing."""
import numpy as np
import pytest

import tapegrad


def _raises_as(torch_ref, fn):
    """fn(lib) raises the same error type and message in tapegrad as in torch."""
    with pytest.raises(Exception) as ref:
        fn(torch_ref)
    with pytest.raises(type(ref.value)) as got:
        fn(tapegrad)
    assert str(got.value) == str(ref.value)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_value_only_with_constant_mode(torch_ref, mode):
    """A non-zero value with a non-constant mode is torch's error; value=0 is accepted."""
    x = np.arange(6.0).reshape(1, 2, 3)
    _raises_as(torch_ref, lambda lib: lib.nn.functional.pad(lib.tensor(x), (1, 1), mode=mode,
                                                             value=1.5))
    res = [lib.nn.functional.pad(lib.tensor(x), (1, 1), mode=mode, value=0).numpy()
           for lib in (torch_ref, tapegrad)]
    np.testing.assert_array_equal(res[1], res[0])
