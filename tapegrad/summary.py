"""`tapegrad.tape_summary()`: what the live tapes hold, for when memory grows.

A tape lives as long as a tensor it produced (or a newer tape importing from it) does, so a
loop that keeps one loss tensor per step keeps one graph per step.  The summary lists each
live tape: entries by opcode, leaves, n-d nodes, entries whose saved buffers are alive or
freed, and the bytes held (streams, saved n-d arrays, params).
"""
import gc

from .graph import tape_of, tape_stats
from .tape import Tape

__all__ = ["tape_summary", "TapeSummary"]


class TapeSummary:
    """The facts of `tape_summary()`: `.tapes` (one dict per tape, see
    `tapegrad.graph.tape_stats`) and totals; `str()` gives a table."""

    def __init__(self, tapes):
        self.tapes = tapes
        self.entries = sum(t["entries"] for t in tapes)
        self.bytes = sum(t["stream_bytes"] + t["saved_bytes"] + t["param_bytes"] for t in tapes)
        self.by_op = {}
        for t in tapes:
            for name, k in t["by_op"].items():
                self.by_op[name] = self.by_op.get(name, 0) + k

    def __str__(self):
        lines = [f"{len(self.tapes)} live tape(s), {self.entries} entries, "
                 f"{self.bytes:,} bytes held"]
        for t in self.tapes:
            state = "frozen" if t["frozen"] else "sealed" if t["sealed"] else "open"
            lines.append(
                f"  tape {t['serial']} ({state}): {t['entries']} entries "
                f"(capacity {t['capacity']}), {t['leaves']} leaves, {t['nd_nodes']} n-d nodes, "
                f"saved buffers {t['saving_entries_alive']} alive / "
                f"{t['saving_entries_freed']} freed, {t['saved_arrays']} n-d arrays "
                f"{t['saved_bytes']:,} B, streams {t['stream_bytes']:,} B")
            lines.append("    " + ", ".join(f"{name} {k}" for name, k in
                                            sorted(t["by_op"].items(), key=lambda kv: -kv[1])))
        return "\n".join(lines)

    __repr__ = __str__


def tape_summary(tensors=None):
    """Summarize the tapes alive in this process, or (given a tensor or a sequence of them)
    only the tapes those tensors were recorded on."""
    if tensors is None:
        tapes = live_tapes()
    else:
        tensors = [tensors] if hasattr(tensors, "grad_fn") else list(tensors)
        seen = {}
        for t in tensors:
            tape = tape_of(t)
            if tape is not None:
                seen[id(tape)] = tape
        tapes = sorted(seen.values(), key=lambda tp: tp.serial)
    return TapeSummary([tape_stats(tp) for tp in tapes])


def live_tapes():
    """Every tape still alive in this process (found through the garbage collector, since
    tapes are referenced only by the tensors they made)."""
    return sorted((o for o in gc.get_objects() if type(o) is Tape), key=lambda t: t.serial)
