"""A real SIGINT sent to this process in the middle of a call, for the tests of what a
Ctrl-C leaves behind (test_signals.py, test_atomicity.py; the fixture alarm_sends_sigint,
which turns the alarm into a SIGINT, is in conftest.py)."""
import signal
import time


def run_with_sigint(fn, delay):
    """Run fn() with a real SIGINT sent to this process after `delay` seconds (by SIGALRM's
    handler); True if a KeyboardInterrupt came.  Nothing of the signal outlives the call."""
    got = False
    try:
        signal.setitimer(signal.ITIMER_REAL, delay)
        fn()
    except KeyboardInterrupt:
        got = True
    while True:  # disarm, and let a SIGALRM/SIGINT already on its way arrive here
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
            for _ in range(10):
                time.sleep(0)
            return got
        except KeyboardInterrupt:
            got = True
