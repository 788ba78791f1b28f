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
are `tape`'s import entries and the live grad_fn nodes of it that `tape`'s edges name (no
tensor of it is alive, no grad_fn of it is held otherwise, no other tape imports from it), a
backward can reach its entries only through the nodes `tape` imports (and those its edges
name).  The entries those depend on are marked (walks.mark_live), and the older tape's import
links and grad_fn data (graph.record_fn) outside them are dropped: the tapes behind them are
freed when nothing else holds them.  Anything else that refers to the older tape keeps it whole
(it is checked again at the next replacement of the open tape).
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


def _edge_counts(tape):
    """{id(node): how many (node, output_nr) edges `tape` keeps (Tape.fn_data) name it as an
    object: nodes of other tapes (its own are kept as numbers)}."""
    counts = {}
    for _, data in tape.fn_data.values():
        if type(data) is tuple:
            for f, _ in data:
                if isinstance(f, Node):
                    counts[id(f)] = counts.get(id(f), 0) + 1
    return counts


def _live_nodes(tape):
    """tape's grad_fn objects that are alive (its cache holds them weakly)."""
    return [fn for fn in [ref() for ref in tape.grad_fns.values()] if fn is not None]


def _node_refs(nodes):
    """The reference count of each object in the list `nodes` (the list's own reference, the
    loop's and the call's included: _NODE_BASE for one nothing else refers to)."""
    return [sys.getrefcount(fn) for fn in nodes]


def _held_nodes(src, newer):
    """None when something other than `newer`'s edges refers to one of src's grad_fn objects
    (a user's `y.grad_fn`, whose next_functions can walk the import links; an edge of a tape
    other than `newer`) or when one is not a plain graph node; else (how many of them are
    alive, each referring to src, the nodes `newer`'s edges lead to: roots as its imports
    are).  src's cache holds its nodes weakly and its own edges name them by number, so a
    node is alive only while something refers to it."""
    nodes = _live_nodes(src)
    if not all(isinstance(fn, Node) and fn._tape is src for fn in nodes):
        return None
    from_newer = _edge_counts(newer) if nodes else {}
    for fn, refs in zip(nodes, _node_refs(nodes)):
        if refs != _NODE_BASE + from_newer.get(id(fn), 0):
            return None
    return len(nodes), [fn._node for fn in nodes if id(fn) in from_newer]


class _Probe:
    """An object nothing else refers to (calibration)."""


def _calibrate():
    """(_BASE, _NODE_BASE): what the two counts above give for objects nothing else refers to
    (a live node held by the list of live nodes alone), measured through the same calls (the
    interpreter's own references to locals and arguments are measured, not assumed)."""
    held = (_Probe(), 0)
    base = _outside_refs([held[0], [0]])
    (node_base,) = _node_refs([_Probe()])
    return base, node_base


_BASE, _NODE_BASE = _calibrate()


def release_dead_imports(tape):
    """Drop the import links of the tapes `tape` imports from that no live graph can reach
    (see the module's docstring)."""
    for group in _sources(tape):
        held = _held_nodes(group[0], tape)
        if held is None or _outside_refs(group) - _BASE != held[0]:
            continue
        _prune(group[0], group[1] + held[1])


def _prune(src, roots):
    """Drop src's import links, and its cached grad_fn objects, outside the entries its nodes
    `roots` depend on (a dropped node's edges no longer hold the tapes it names either)."""
    if src.recording or not (src.imports or src.fn_data):
        return
    n = src.n
    live = np.zeros(n, np.uint8)
    live[roots] = 1
    K.mark_live(*src.dependencies(n), live)
    for node in [node for node in src.imports if not live[node]]:
        older, snode = src.imports.pop(node)
        src.import_of.pop((older.serial, snode), None)
    for node in [node for node in src.fn_data if not live[node]]:
        del src.fn_data[node]
    for node in [node for node in src.grad_fns if not live[node]]:
        del src.grad_fns[node]
