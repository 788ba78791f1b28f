"""torch.compile's checks of its arguments (mode, mode with options, backend names), shared by
`tapegrad.compile` and `nn.Module.compile`.  Backends, modes and options change nothing else
here: tapegrad has one compiler (tapegrad/compiler.py)."""
from .errors import InvalidBackend

__all__ = ["check"]

MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")
# torch._dynamo.list_backends(exclude_tags=()) in torch 2.13
BACKENDS = ("aot_eager", "aot_eager_decomp_partition", "aot_eager_decomp_partition_crossref",
            "aot_eager_decomp_partition_with_mode", "aot_eager_default_partitioner", "aot_ts",
            "cudagraphs", "eager", "eager_debug", "eager_noexcept", "inductor",
            "invoke_subgraph", "openxla", "openxla_eval", "pre_dispatch_eager", "ts", "tvm")


def check(backend=None, mode=None, options=None):
    """Raise torch.compile's error for these arguments, if it raises one."""
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be "
                           "specified at the same time.")
    if isinstance(backend, str) and backend not in BACKENDS:
        raise InvalidBackend(f"Invalid backend: {backend!r}, see "
                             f"`torch._dynamo.list_backends()` for available backends.")
    if backend in (None, "inductor") and mode is not None and mode not in MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: {', '.join(MODES)}")
