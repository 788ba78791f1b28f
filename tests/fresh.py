"""Scripts run as in a fresh interpreter (`python -c code args`), without paying one.

Tests that need a process whose once-only state is untouched (torch's TORCH_WARN_ONCE,
tapegrad's warn_once, the kernels not loaded, settings that can be set once) each started
`python -c`: ~1 s of CPU to import torch and tapegrad again, ~20 interpreters a run.  Here
one server process per test process imports numpy, tapegrad and torch (where installed) and
runs nothing else; each script runs in a child forked from it, so it starts from that state:
what a fresh interpreter has after those imports, which a script's own imports then find.
The child's standard streams are captured at the file-descriptor level, its exit runs the
atexit handlers, as an interpreter's exit does.

Not for scripts that need another environment (variables read at import: pass those to
subprocess as before) or an interpreter where torch or tapegrad is not imported yet."""
import atexit
import json
import os
import signal
import subprocess
import sys
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The server: imports, then per request (a JSON line on stdin: code, args) forks a child that
# runs the code with its stdout and stderr in files, waits for it, answers with a JSON line.
_SERVER = r"""
import json, os, sys, tempfile, traceback, atexit
requests, answers = sys.stdin, os.fdopen(os.dup(1), "w")
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)   # (nothing else reaches the answers)
import numpy, tapegrad
try:
    import torch
except ImportError:
    pass
for line in requests:
    code, args = json.loads(line)
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    pid = os.fork()
    if pid == 0:
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        sys.argv = ["-c"] + args
        rc = 0
        try:
            exec(compile(code, "<string>", "exec"), {"__name__": "__main__",
                                                     "__builtins__": __builtins__})
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if not isinstance(e.code, (int, type(None))):
                print(e.code, file=sys.stderr)
        except BaseException:
            traceback.print_exc()
            rc = 1
        try:
            atexit._run_exitfuncs()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(rc)
    rc = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    texts = []
    for f in (out, err):
        f.seek(0)
        texts.append(f.read().decode(errors="replace"))
        f.close()
    answers.write(json.dumps([rc] + texts) + "\n")
    answers.flush()
"""

_server = None
_lock = threading.Lock()


def _start():
    global _server
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT,
                                                                    os.environ.get("PYTHONPATH")])))
    _server = subprocess.Popen([sys.executable, "-c", _SERVER], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, env=env, text=True,
                               start_new_session=True)   # (its children: its process group)


@atexit.register
def _stop():
    if _server is not None and _server.poll() is None:
        _server.stdin.close()      # (it ends at the end of its input)
        _server.wait()


def run(code, *args, check=True):
    """subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
    check=check), in a child of the server (see above)."""
    global _server
    with _lock:
        if _server is None or _server.poll() is not None:
            _start()
        try:
            _server.stdin.write(json.dumps([code, list(args)]) + "\n")
            _server.stdin.flush()
            answer = _server.stdout.readline()
        except BaseException:   # (interrupted: its answer must not be the next request's)
            os.killpg(_server.pid, signal.SIGKILL)   # (the server and the script's child)
            _server.wait()
            _server = None
            raise
        if not answer:
            raise RuntimeError(f"the fresh-process server ended (exit code {_server.wait()})")
        rc, out, err = json.loads(answer)
    done = subprocess.CompletedProcess([sys.executable, "-c", code, *args], rc, out, err)
    if check:
        done.check_returncode()
    return done


def run_module(name, *args, check=True):
    """`python -m name args` as run() runs `python -c` (argv[0] the module's file)."""
    return run(f"import runpy, sys\nsys.argv[1:] = {list(args)!r}\n"
               f"runpy.run_module({name!r}, run_name='__main__', alter_sys=True)\n", check=check)
