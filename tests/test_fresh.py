"""tests/fresh.py: a script run by fresh.run behaves as under `python -c code args`."""
import signal
import subprocess
import threading
import time

import pytest

import fresh


def test_each_run_starts_from_the_imports_only():
    """warn_once's record, the kernels and argv start fresh in every run: what one run did
    is not seen by the next."""
    code = ("import sys, tapegrad\nfrom tapegrad import _jit, errors\n"
            "print(len(errors._WARNED), _jit.loaded(), sys.argv[1:])\n"
            "errors.warn_once('given once')\n"
            "tapegrad.ones(2, requires_grad=True).sum().backward()\n")
    first = fresh.run(code, "1", "two")
    assert first.stdout == "0 False ['1', 'two']\n"
    assert "UserWarning: given once" in first.stderr
    assert fresh.run(code).stdout == "0 False []\n"


def test_exit_codes_streams_and_exit_handlers():
    assert fresh.run("import sys; sys.exit(3)", check=False).returncode == 3
    failed = fresh.run("raise ValueError('boom')", check=False)
    assert failed.returncode == 1 and "ValueError: boom" in failed.stderr
    with pytest.raises(subprocess.CalledProcessError):
        fresh.run("raise SystemExit(2)")
    done = fresh.run("import atexit, os, sys\natexit.register(print, 'at exit')\n"
                     "os.write(1, b'fd 1\\n')\nos.write(2, b'fd 2\\n')\nprint('printed')")
    assert done.stdout == "fd 1\nprinted\nat exit\n" and done.stderr == "fd 2\n"


def test_an_interrupted_run_leaves_no_answer_for_the_next():
    """A run interrupted while it waits (Ctrl-C) ends the server and its child: the next run
    starts another and gets its own answer, not the interrupted script's."""
    fresh.run("pass")
    server, main = fresh._server, threading.main_thread().ident
    assert threading.current_thread().ident == main
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.5, signal.pthread_kill, (main, signal.SIGINT))
    started = time.monotonic()
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            fresh.run("import time; time.sleep(30); print('late')")
    finally:
        timer.join()
        signal.signal(signal.SIGINT, old)
    assert time.monotonic() - started < 20 and server.poll() is not None
    assert fresh.run("print('next')").stdout == "next\n"
