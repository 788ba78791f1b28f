"""The reliability tests' fixtures."""
import os
import signal
import threading

import pytest


@pytest.fixture
def alarm_sends_sigint():
    assert threading.current_thread() is threading.main_thread()
    old_alrm = signal.signal(signal.SIGALRM, lambda s, f: os.kill(os.getpid(), signal.SIGINT))
    old_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_alrm)
        signal.signal(signal.SIGINT, old_int)
