"""Tape v2 (issue #8): a regression benchmark for each cliff of the issue's table, the training
steps it targets, and the cold compiles of the first backward, replay and create_graph
backward.  compare_tape.py prints the same workloads beside torch with the issue's targets.

Benchmarks that time a backward get a fresh graph per sample: number = 1 and warmup_time = 0,
and asv re-runs setup (which builds the graph) before every sample.  Each setup first runs
its workload once, so that no sample pays a kernel load (the n-d kernels load on first use).
"""
import workloads as W

from ._common import LibBench


class _FreshGraph(LibBench):
    number = 1
    warmup_time = 0
    repeat = (5, 30, 10.0)


class TapegradDroppedGraphs(_FreshGraph):
    """MLP 2-16-16-1 backward after k evaluation graphs dropped after `.item()` on the same
    tape, or (`recorded` False) after k evaluations under no_grad, the control with the same
    work before the backward (issue #8: k = 1000 within 1.2x of k = 0; was 0.19 / 30 ms)."""
    params = [[0, W.DROPPED], [True, False]]
    param_names = ["k", "recorded"]

    def setup(self, k, recorded):
        super().setup(k, recorded)
        state = W.mlp(self.mod)
        W.mlp_step(self.mod, *state)
        self.loss = W.dropped_then_loss(self.mod, *state, k, recorded)

    def time_backward(self, k, recorded):
        self.loss.backward()


class TorchDroppedGraphs(TapegradDroppedGraphs):
    lib = "torch"


class TapegradEvalLoopMemory(LibBench):
    """Memory over 3000 evaluation steps without backward of an nn MLP (256x2 inputs, 64-64-1):
    its graphs go on across sealed tapes through imports, and each tape held the one before
    it until tapegrad.import_links (2.3 GB per 15k steps); flat since."""
    number = 1
    repeat = 1

    def track_rss_growth(self):
        return W.eval_loop_rss_growth(self.mod)
    track_rss_growth.unit = "MB"


class TorchEvalLoopMemory(TapegradEvalLoopMemory):
    lib = "torch"


class ScalarGraphWithNdOp(_FreshGraph):
    """Backward of the 40k-entry scalar recurrence graph, alone and plus one n-d op on the
    same tape (issue #8: within 1.5x; was 1.7 -> 109 ms)."""
    params = [[False, True]]
    param_names = ["nd_op"]

    def setup(self, nd_op):
        super().setup(nd_op)
        W.scalar_graph(self.mod, nd_op=nd_op)[1].backward()      # n-d kernels loaded
        self.x, self.y = W.scalar_graph(self.mod, nd_op=nd_op)

    def time_backward(self, nd_op):
        self.y.backward()


class NoGradBlocks(_FreshGraph):
    """Backward of the 2000-step recurrence with and without an empty `with no_grad(): pass`
    in each step (issue #8: within 1.5x; was 1.0 -> 280 ms, 2000 tapes)."""
    params = [[False, True]]
    param_names = ["block"]

    def setup(self, block):
        super().setup(block)
        W.recurrence_no_grad_blocks(self.mod, block=block)[1].backward()
        self.x, self.y = W.recurrence_no_grad_blocks(self.mod, block=block)

    def time_record(self, block):
        W.recurrence_no_grad_blocks(self.mod, block=block)

    def time_backward(self, block):
        self.y.backward()


class TapegradCat(_FreshGraph):
    """cat of two 1000x100 float32 leaves and .sum(): record, and backward (issue #8: record +
    backward <= 2x torch; was 111 / 37 ms)."""

    def setup(self):
        super().setup()
        self.a, self.b = W.cat_leaves(self.mod)
        W.cat_record(self.mod, self.a, self.b).backward()      # n-d kernels loaded
        W.clear_grads((self.a, self.b))
        self.loss = W.cat_record(self.mod, self.a, self.b)

    def time_record(self):
        W.cat_record(self.mod, self.a, self.b)

    def time_backward(self):
        self.loss.backward()


class TorchCat(TapegradCat):
    lib = "torch"


class TapegradMatmulBackward(_FreshGraph):
    """(A @ B).sum().backward() of square float64 leaves (issue #8: <= 1.5x torch; 256 was
    233 ms vs 1.55 ms)."""
    params = [[64, 256]]
    param_names = ["n"]

    def setup(self, n):
        super().setup(n)
        self.A, self.B = W.matmul_leaves(self.mod, n)
        W.matmul_loss(self.A, self.B).backward()      # host entry / BLAS warm
        W.clear_grads((self.A, self.B))
        self.loss = W.matmul_loss(self.A, self.B)

    def time_backward(self, n):
        self.loss.backward()


class TorchMatmulBackward(TapegradMatmulBackward):
    lib = "torch"


class TapegradTwoLayerStep(LibBench):
    """One training iteration of the N=64 1000->100->10 tanh net (forward, MSE, backward,
    no_grad SGD; issue #8: <= torch; was 26.7 / 33.3 ms float32 / float64)."""
    params = [["float32", "float64"]]
    param_names = ["dtype"]

    def setup(self, dtype):
        super().setup(dtype)
        self.state = W.wide_net(self.mod, dtype)
        W.mlp_step(self.mod, *self.state)

    def time_step(self, dtype):
        W.mlp_step(self.mod, *self.state)


class TorchTwoLayerStep(TapegradTwoLayerStep):
    lib = "torch"


class TwoLayerReplayStep(LibBench):
    """The same iteration by replay: value_and_grad of the recorded loss on numpy arrays,
    update in numpy (issue #8: <= torch eager)."""
    params = [["float32", "float64"]]
    param_names = ["dtype"]

    def setup(self, dtype):
        super().setup(dtype)
        self.tape, self.arrays = W.mlp_replay(self.mod, **W.TWO_LAYER, dtype=dtype)
        W.mlp_replay_step(self.tape, self.arrays)

    def time_step(self, dtype):
        W.mlp_replay_step(self.tape, self.arrays)


class TapegradSmallNetStep(LibBench):
    """One training iteration of the N=8 16->16->4 net (issue #8: <= torch; was 884 vs
    461 µs)."""

    def setup(self):
        super().setup()
        self.state = W.mlp(self.mod, **W.SMALL_NET)
        W.mlp_step(self.mod, *self.state)

    def time_step(self):
        W.mlp_step(self.mod, *self.state)


class TorchSmallNetStep(TapegradSmallNetStep):
    lib = "torch"


class TapegradSmallBackward(LibBench):
    """The fixed cost of a backward: `(x * 2).sum()` of a 4-element leaf, recorded and
    differentiated (time_step), recorded only (time_record, on the tape kept open); the
    difference is the backward's fixed cost, with the new tape it leaves the next step to
    open (tapegrad 46 µs, torch 20 µs at 4fc671c; 58 µs at c2e38e1)."""

    def setup(self):
        super().setup()
        self.x = self.mod.ones(4, requires_grad=True)
        self.time_step()

    def time_step(self):
        (self.x * 2).sum().backward()

    def time_record(self):
        (self.x * 2).sum()


class TorchSmallBackward(TapegradSmallBackward):
    lib = "torch"


class TapegradMicroMLP(LibBench):
    """A micrograd-style MLP 2-8-8-1 of 0-d tensors, one SGD step on 4 samples (issue #8:
    >= 15x faster than torch)."""

    def setup(self):
        super().setup()
        self.state = W.micro_mlp(self.mod)
        W.micro_step(self.mod, *self.state)

    def time_step(self):
        W.micro_step(self.mod, *self.state)


class TorchMicroMLP(TapegradMicroMLP):
    lib = "torch"


class ColdCompile:
    """Seconds of the first backward, the first replay (record + value_and_grad) and the first
    create_graph backward (grad + backward of it), each in a fresh interpreter with an empty
    Numba cache (workloads.cold_compile): a 0-d graph, then an n-d graph in the same process
    (issue #8: each <= 10 s; wall time, as the issue states it).  One process per case, once
    per asv run (setup_cache)."""

    def setup_cache(self):
        return {case: W.cold_compile(case) for case in W.COLD_CASES}
    setup_cache.timeout = 3 * 900

    def track_first_backward(self, cache):
        return cache["backward"][0]

    def track_first_replay(self, cache):
        return cache["replay"][0]

    def track_first_create_graph(self, cache):
        return cache["create_graph"][0]

    def track_then_nd_backward(self, cache):
        return cache["backward"][1]

    def track_then_nd_replay(self, cache):
        return cache["replay"][1]

    def track_then_nd_create_graph(self, cache):
        return cache["create_graph"][1]

    def track_cpu_backward(self, cache):
        """CPU seconds of both backward calls (steadier than wall time on a loaded machine)."""
        return cache["backward"][2]

    def track_cpu_replay(self, cache):
        return cache["replay"][2]

    def track_cpu_create_graph(self, cache):
        return cache["create_graph"][2]

    track_cpu_backward.unit = track_cpu_replay.unit = track_cpu_create_graph.unit = "seconds"
    track_first_backward.unit = track_first_replay.unit = track_first_create_graph.unit = "seconds"
    track_then_nd_backward.unit = track_then_nd_replay.unit = "seconds"
    track_then_nd_create_graph.unit = "seconds"
