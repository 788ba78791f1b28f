"""The error a call raises with torch and with tapegrad, for tests that compare them: type
and message, `torch.` read as `tapegrad.` (messages that name the module)."""
import tapegrad


def error_of(call, m):
    """(type name, message) of what call(m) raises, or None."""
    try:
        call(m)
    except Exception as e:   # noqa: BLE001  (the error is the behaviour compared)
        return type(e).__name__, str(e).replace("torch.", "tapegrad.")
    return None


def assert_same_error(call, torch):
    """call(torch) raises, and call(tapegrad) raises the same."""
    theirs = error_of(call, torch)
    assert theirs is not None, "torch raised nothing"
    assert error_of(call, tapegrad) == theirs
