import warnings

import pytest


@pytest.fixture(autouse=True)
def _fresh_state():
    """Each test starts with grad mode on and no open tape."""
    from tapegrad.tape import STATE, CLOSED
    STATE.enabled = True
    STATE.tape = CLOSED
    yield
    STATE.enabled = True
    STATE.tape = CLOSED


@pytest.fixture
def torch_ref():
    """torch, on one thread (skips without it): its threads compete for the two cores on the
    small ops of the differential programs (seconds instead of milliseconds)."""
    torch = pytest.importorskip("torch")
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(saved)
