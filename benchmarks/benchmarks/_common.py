"""Base class of the per-library benchmark classes: `lib` names the module to benchmark."""
import workloads as W


class LibBench:
    lib = "tapegrad"
    timeout = 300                    # torch at n=1e5 takes seconds per call

    def setup(self, *params):
        self.mod = W.load(self.lib)
        if self.mod is None:         # asv reports the benchmark as skipped
            raise NotImplementedError(f"{self.lib} is not importable")
        W.warm_up(self.mod)          # tapegrad: the Numba kernel is loaded before any timing
        W.quiesce()                  # earlier graphs (and tapegrad's last tape) are released
