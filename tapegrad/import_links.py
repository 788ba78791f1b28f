"""Dropping the import links no live graph can reach, so that a loop of graphs dropped without
backward keeps a bounded number of tapes.

A graph recorded across the moment its tape is sealed (tape.MAX_SAVED_BYTES, MAX_ENTRIES)
continues on a new tape through `import` entries, and the new tape holds the old one
(`Tape.imports`: node -> (older tape, node there)).  The new tape then stays open for the next
graphs, is sealed in the middle of one of them in turn, and so on: left alone, each tape holds
the one before it, and a loop that evaluates a model without backward (a validation loss
computed with grad mode on) keeps every tape it ever filled, with their saved arrays: memory
grows without bound.

`release_dead_imports(tape)` runs when the open tape `tape` is replaced.  For each older tape
it imports from, it counts the references to that tape (sys.getrefcount): when the only ones
are `tape`'s import entries and the tape's own cached grad_fn nodes (no tensor of it is alive,
no grad_fn of it is held, no other tape imports from it), a backward can reach its entries
only through the nodes `tape` imports.  The entries those depend on are marked
(walks.mark_live) and the older tape's import links outside them are dropped: the tapes behind
them are freed when nothing else holds them.  Anything else that refers to the older tape
keeps it whole (it is checked again at the next replacement of the open tape).
"""
import sys

import numpy as np

from ._jit import K
from .graph import Node


def _sources(tape):
    """[[older tape, [the nodes of it that `tape` imports]], ...].  (A function of its own: no
    loop variable of the caller refers to a tape while its references are counted.)"""
    groups = {}
    for src, node in tape.imports.values():
        group = groups.get(id(src))
        if group is None:
            groups[id(src)] = group = [src, []]
        group[1].append(node)
    return list(groups.values())


def _outside_refs(group):
    """The references to group[0] less this call's own, the group list's and one per import
    entry of the newer tape (group[1]): _BASE when nothing else refers to it."""
    src = group[0]
    return sys.getrefcount(src) - len(group[1])


def _cached_nodes(tape):
    """How many of `tape`'s cached grad_fn objects refer to it, when nothing but the cache
    refers to any of them; None when one is held elsewhere (a user's `y.grad_fn`, whose
    next_functions can walk the import links) or is not a plain graph node (a custom
    Function's ctx holds tensors)."""
    count = 0
    for fn in tape.grad_fns.values():
        if not isinstance(fn, Node) or fn._tape is not tape or sys.getrefcount(fn) != _NODE_BASE:
            return None
        count += 1
    return count


class _Probe:
    """An object nothing else refers to (calibration)."""


def _calibrate():
    """(_BASE, _NODE_BASE): what the two checks above count for objects nothing else refers
    to, measured through the same calls and loops (the interpreter's own references to locals
    and arguments are measured, not assumed)."""
    held = (_Probe(), 0)
    base = _outside_refs([held[0], [0]])
    fns = {0: _Probe()}
    for fn in fns.values():
        node_base = sys.getrefcount(fn)
    return base, node_base


_BASE, _NODE_BASE = _calibrate()


def release_dead_imports(tape):
    """Drop the import links of the tapes `tape` imports from that no live graph can reach
    (see the module's docstring)."""
    for group in _sources(tape):
        if _outside_refs(group) - _BASE != _cached_nodes(group[0]):
            continue
        _prune(group[0], group[1])


def _prune(src, roots):
    """Drop src's import links outside the entries its nodes `roots` depend on."""
    if not src.imports or src.recording:
        return
    n = src.n
    live = np.zeros(n, np.uint8)
    live[roots] = 1
    K.mark_live(*src.dependencies(n), live)
    for node in [node for node in src.imports if not live[node]]:
        older, snode = src.imports.pop(node)
        src.import_of.pop((older.serial, snode), None)
