"""torch's process-wide settings that programs set and read: the intra-op and inter-op thread
counts (`set_num_threads`, `get_num_threads`, `*_interop_threads`) and the deterministic-
algorithm flags (`use_deterministic_algorithms` and its queries, the debug mode).

The intra-op count is the one tapegrad's parallel work uses by default (batch replay's
threads, at most Numba's) and the one torch's range fills split over (`creation.linspace`
and `arange` follow torch's chunking to give its bits).  tapegrad has no inter-op pool, and
its kernels are deterministic whatever the flags say: those are kept and reported as torch
reports them."""
import os
import platform

import numpy as np

__all__ = ["set_num_threads", "get_num_threads", "set_num_interop_threads",
           "get_num_interop_threads", "use_deterministic_algorithms",
           "are_deterministic_algorithms_enabled", "is_deterministic_algorithms_warn_only_enabled",
           "set_deterministic_debug_mode", "get_deterministic_debug_mode", "set_flush_denormal"]

def _default_threads():
    """torch's default intra-op count: OMP_NUM_THREADS, else one per core, read once when
    tapegrad is imported (as torch reads it once: a later change of the environment, such as
    a Dask nanny setting OMP_NUM_THREADS=1 for its workers, changes nothing here)."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    return int(env) if env.isdigit() and int(env) > 0 else (os.cpu_count() or 1)


_state = {"threads": None, "interop": None, "deterministic": False, "warn_only": False}
_DEFAULT_THREADS = _default_threads()
_DEBUG_MODES = ("default", "warn", "error")


def _positive(fn, n):
    if isinstance(n, bool) or not isinstance(n, int):
        raise RuntimeError(f"{fn} expects an int, but got {type(n).__name__}")
    if n <= 0:
        raise RuntimeError(f"{fn} expects a positive integer")


def set_num_threads(int):  # noqa: A002  (torch's parameter name)
    """The number of threads for intra-op parallelism."""
    _positive("set_num_threads", int)
    _state["threads"] = int


def get_num_threads():
    """The number of threads for intra-op parallelism."""
    return _state["threads"] or _DEFAULT_THREADS


def set_num_interop_threads(int):  # noqa: A002
    """The number of inter-op threads: once per process, as in torch."""
    _positive("set_num_interop_threads", int)
    if _state["interop"] is not None:
        raise RuntimeError("Error: cannot set number of interop threads after parallel work has "
                           "started or set_num_interop_threads called")
    _state["interop"] = int


def get_num_interop_threads():
    """The number of inter-op threads (set_num_interop_threads, else one per core)."""
    return _state["interop"] or (os.cpu_count() or 1)


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Ask for deterministic algorithms (and errors, or with `warn_only` warnings, from ops
    that have none).  tapegrad's ops are all deterministic: the flags are kept and reported."""
    if not isinstance(mode, bool):
        raise TypeError(f"_set_deterministic_algorithms(): argument 'mode' (position 1) must be "
                        f"bool, not {type(mode).__name__}")
    if not isinstance(warn_only, bool):
        raise TypeError(f"_set_deterministic_algorithms(): argument 'warn_only' must be bool, "
                        f"not {type(warn_only).__name__}")
    _state["deterministic"], _state["warn_only"] = mode, warn_only


def are_deterministic_algorithms_enabled():
    """Whether use_deterministic_algorithms(True) is in force."""
    return _state["deterministic"]


def is_deterministic_algorithms_warn_only_enabled():
    """Whether use_deterministic_algorithms was given warn_only=True."""
    return _state["warn_only"]


def set_deterministic_debug_mode(debug_mode):
    """"default"/0: off; "warn"/1 and "error"/2: use_deterministic_algorithms(True), with
    warn_only True for "warn"."""
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError(f"invalid value of debug_mode, expected one of `default`, `warn`, "
                               f"`error`, but got {debug_mode}")
        debug_mode = _DEBUG_MODES.index(debug_mode)
    elif isinstance(debug_mode, int) and not isinstance(debug_mode, bool):
        if debug_mode not in (0, 1, 2):
            raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got "
                               f"{debug_mode}")
    else:
        raise TypeError(f"debug_mode must be str or int, but got {type(debug_mode)}")
    use_deterministic_algorithms(debug_mode != 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode():
    """0 (default), 1 (warn) or 2 (error), from the deterministic-algorithm flags."""
    if not _state["deterministic"]:
        return 0
    return 1 if _state["warn_only"] else 2


def set_flush_denormal(mode):
    """torch.set_flush_denormal(mode) -> bool: whether flushing denormals to zero is supported
    (and was set).  tapegrad cannot set the CPU's FTZ/DAZ bits from Python (numpy has no API
    for them), so it reports False and changes nothing, as torch does on a CPU without
    SSE3 (docs/semantics.md)."""
    if not isinstance(mode, bool):
        raise RuntimeError(f"flush_denormal expects a bool, but got {type(mode).__name__}")
    return False


# torch's CPU capability, the build of its kernels this process runs (normal_draws: the
# normal fill's arithmetic)
_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")
_capability = None


def cpu_capability():
    """torch's CPU capability for this process: "AVX512", "AVX2" or "DEFAULT" (as
    `torch.backends.cpu.get_cpu_capability()` reports it), decided once, as torch does."""
    global _capability
    if _capability is None:
        _capability = _compute_capability(os.environ.get("ATEN_CPU_CAPABILITY"))
    return _capability


def _compute_capability(env, features=None):
    """torch's compute_cpu_capability: the environment variable if valid, else the CPU."""
    if env is not None:
        if _X86 and env == "avx512":
            return "AVX512"
        if _X86 and env == "avx2":
            return "AVX2"
        if env == "default":
            return "DEFAULT"
        # torch warns "ignoring invalid value for ATEN_CPU_CAPABILITY" and looks at the CPU
    if not _X86:
        return "DEFAULT"
    if features is None:
        core = getattr(np, "_core", None) or np.core          # numpy 2 / numpy 1
        features = core._multiarray_umath.__cpu_features__
    if all(features.get(k) for k in ("AVX512VL", "AVX512BW", "AVX512DQ", "FMA3")):
        return "AVX512"
    if features.get("AVX2") and features.get("FMA3"):
        return "AVX2"
    return "DEFAULT"
