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
