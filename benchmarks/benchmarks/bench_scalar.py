"""The scalar recurrence y = y * 0.999 + x.sin() * 0.001 on 0-d tensors (4 recorded ops/step).

Times are per whole graph of n steps (divide by 4n for per-op figures, as compare.py does).
Every timed call gets a fresh graph: number = 1, and asv re-runs setup between samples.
"""
import workloads as W

from ._common import LibBench


class TapegradRecurrence(LibBench):
    params = [list(W.SIZES)]
    param_names = ["n"]
    number = 1
    warmup_time = 0
    repeat = (3, 20, 10.0)

    def time_record(self, n):
        W.recurrence(self.mod, n)

    def track_bytes_per_op(self, n):
        """RSS growth while recording, per recorded op (min of 3; of 1 at n=1e5)."""
        return W.bytes_per_op(self.mod, n, repeats=3 if n < 100_000 else 1)
    track_bytes_per_op.unit = "bytes"


class TorchRecurrence(TapegradRecurrence):
    lib = "torch"


class TapegradBackward(LibBench):
    """y.backward() without retain_graph on a graph that setup recorded."""
    params = [list(W.SIZES)]
    param_names = ["n"]
    number = 1                       # a graph can be differentiated once
    warmup_time = 0
    repeat = (3, 20, 10.0)

    def setup(self, n):
        super().setup(n)
        self.x, self.y = W.recurrence(self.mod, n)

    def time_backward(self, n):
        self.y.backward()


class TorchBackward(TapegradBackward):
    lib = "torch"
