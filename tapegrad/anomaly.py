"""Anomaly mode: `detect_anomaly`, `set_detect_anomaly`, `is_anomaly_enabled` (torch's names).

While it is on:

* every entry recorded gets the Python stack of the call that recorded it, in a typed side
  stream per tape (`lines`: an int32 id per entry into a table of formatted stacks).  The ids
  are written by a profile hook (`sys.setprofile`) when a tapegrad function returns to code
  outside tapegrad, for the entries appended since the last such return, so the op functions
  (and the scalar fast path) carry no check at all: with the mode off nothing runs;
* a backward (the sweep of `Tensor.backward` / `autograd.grad` without create_graph) checks
  the adjoints for nan; if one is nan it finds the entry the sweep met first whose own VJP
  turned finite gradients into nan (re-running the sweep kernel on that entry alone, for the
  few candidate entries, in Python: a debugging mode), warns with the stack recorded for it
  (torch's "Error detected in ...") and raises torch's "Function '...' returned nan values in
  its ...th output.";
* the in-place version error names the operation's forward stack the same way, with torch's
  anomaly-mode hint.

The mode is global, as torch's; the profile hook is set in the thread that turns the mode on
and in threads started later (`threading.setprofile`).
"""
import os
import sys
import threading
import traceback
import warnings
import weakref

import numpy as np

from . import tiers
from .graph import node_for
from .kinds import HOST_VJP
from .ops import BY_CODE
from .tape import _DIFFERENTIABLE, _SAVES, _serials, STATE, VERSION_ERROR

# per opcode: whether a nan in an entry's adjoint is a gradient torch computes (not a
# constant's, a comparison's, ...; a decomposition row's output entry passes its gradient on)
_WATCHED = _DIFFERENTIABLE | np.array([op.kind == "decomp" for op in BY_CODE])

# [enabled, check_nan]: read once per backward call by the engine
MODE = [False, True]

ENABLED_WARNING = ("Anomaly Detection has been enabled. This mode will increase the runtime "
                   "and should only be enabled for debugging.")
NAN_ERROR = "Function '{name}' returned nan values in its {k}th output."
VERSION_HINT = ("Hint: the backtrace further above shows the operation that failed to compute "
                "its gradient. The variable in question was changed in there or anywhere "
                "later. Good luck!")
_PLAIN_HINT = VERSION_ERROR[VERSION_ERROR.index("Hint:"):]

_PKG = os.path.dirname(os.path.abspath(__file__)) + os.sep
_LINES = weakref.WeakKeyDictionary()   # tape -> [int32 ids per entry, entries filled]
_TABLE = []                            # id -> formatted stack
_IDS = {}                              # formatted stack -> id
_HOOK = {"prev": None, "installed": False, "since": 0}


def is_anomaly_enabled():
    """Whether anomaly mode is on."""
    return MODE[0]


def is_anomaly_check_nan_enabled():
    """Whether anomaly mode checks backward results for nan."""
    return MODE[1]


def set_anomaly_enabled(enabled, check_nan=True):
    """Turn anomaly mode on or off (torch.set_anomaly_enabled: no warning, no context),
    with torch's argument checks."""
    for pos, (name, v) in enumerate((("enabled", enabled), ("check_nan", check_nan)), 1):
        if not isinstance(v, bool):
            raise TypeError(f"set_anomaly_enabled(): argument '{name}' (position {pos}) must be "
                            f"bool, not {type(v).__name__}")
    _set(enabled, check_nan)


def _set(enabled, check_nan):
    MODE[0], MODE[1] = bool(enabled), bool(check_nan)
    if MODE[0] and not _HOOK["installed"]:
        # entries recorded before the mode was on have no stack: tapes made before now start
        # labelled at their current length (the open tape is noted now)
        _HOOK["since"] = next(_serials)
        for tp in (STATE.tape, STATE.parked):
            if getattr(tp, "n", 0):
                _start(tp)
        _HOOK["prev"] = sys.getprofile()
        _HOOK["installed"] = True
        sys.setprofile(_profile)
        threading.setprofile(_profile)
    elif not MODE[0] and _HOOK["installed"]:
        _HOOK["installed"] = False
        sys.setprofile(_HOOK["prev"])
        threading.setprofile(None)


class detect_anomaly:
    """Context manager that turns anomaly mode on (and restores the previous mode on exit),
    warning that it slows things down, as torch's."""

    def __init__(self, check_nan=True):
        self.prev = MODE[0]
        self.check_nan = check_nan
        self.prev_check_nan = MODE[1]
        warnings.warn(ENABLED_WARNING, UserWarning, stacklevel=2)

    def __enter__(self):
        set_anomaly_enabled(True, self.check_nan)

    def __exit__(self, *exc):
        _set(self.prev, self.prev_check_nan)
        return False


class set_detect_anomaly:
    """Turns anomaly mode on or off on construction; as a context manager, restores the
    previous mode on exit."""

    def __init__(self, mode, check_nan=True):
        self.prev = MODE[0]
        self.prev_check_nan = MODE[1]
        set_anomaly_enabled(mode, check_nan)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _set(self.prev, self.prev_check_nan)
        return False


# -- the side stream --------------------------------------------------------------------------
def _profile(frame, event, arg):
    prev = _HOOK["prev"]
    if prev is not None:
        prev(frame, event, arg)
    if event != "return" or not frame.f_code.co_filename.startswith(_PKG):
        return
    back = frame.f_back
    if back is None or back.f_code.co_filename.startswith(_PKG):
        return
    _note(back, arg)


def _note(frame, result):
    """Entries appended since the last note, on the tapes `result` lives on and on the open
    tape, were recorded by the call in `frame`."""
    tapes = {id(STATE.tape): STATE.tape}
    for t in (result if isinstance(result, (tuple, list)) else (result,)):
        tp = getattr(t, "_tape", None)
        if tp is not None:
            tapes[id(tp)] = tp
    stack = None
    for tp in tapes.values():
        n = getattr(tp, "n", 0)
        if not n:
            continue
        rec = _LINES.get(tp)
        if rec is None:
            rec = _start(tp)
        if n <= rec[1]:
            continue
        if len(rec[0]) < n:
            grown = np.full(max(n, 2 * len(rec[0])), -1, np.int32)
            grown[:len(rec[0])] = rec[0]
            rec[0] = grown
        if stack is None:
            stack = _intern("".join(traceback.format_stack(frame)))
        rec[0][rec[1]:n] = stack
        rec[1] = n


def _start(tp):
    """The side stream of a tape seen for the first time: a tape made while the mode is on is
    labelled from its first entry, an older one from its current length."""
    rec = _LINES[tp] = [np.full(max(tp.n, 64), -1, np.int32),
                        0 if tp.serial > _HOOK["since"] else tp.n]
    return rec


def _intern(text):
    k = _IDS.get(text)
    if k is None:
        k = _IDS[text] = len(_TABLE)
        _TABLE.append(text)
    return k


def forward_stack(tape, e):
    """The formatted stack that recorded entry e of tape, or None."""
    rec = _LINES.get(tape)
    if rec is None or e >= rec[1] or rec[0][e] < 0:
        return None
    return _TABLE[rec[0][e]]


def _warn(tape, e):
    name = node_for(tape, e).name()
    stack = forward_stack(tape, e)
    if stack is None:
        msg = (f"Error detected in {name}. No forward pass information available. Enable "
               f"detect anomaly during forward pass for more information.")
    else:
        msg = f"Error detected in {name}. Traceback of forward call that caused the error:\n{stack}"
    warnings.warn(msg, UserWarning, stacklevel=4)
    return name


# -- the backward checks ----------------------------------------------------------------------
def nan_error(tape, e, k):
    """torch's anomaly-mode error (after its warning) for entry e's VJP, whose k-th output
    holds a nan: for a VJP that runs in Python (a custom Function's backward)."""
    return RuntimeError(NAN_ERROR.format(name=_warn(tape, e), k=k))


def check_versions(tape, n, ran):
    """tape.check_versions, reported as torch's anomaly mode does."""
    try:
        tape.check_versions(n, ran=ran)
    except RuntimeError as err:
        raise reported(tape, err) from None


def reported(tape, err):
    """Error `err` of a backward, raised at the tape entry `err.entry`, as torch's anomaly
    mode reports it: a warning with the entry's forward stack, its hint for version errors."""
    e = getattr(err, "entry", None)
    if e is None:
        return err
    _warn(tape, e)
    return RuntimeError(str(err).replace(_PLAIN_HINT, VERSION_HINT))


def check_nan(tape, n, op, ia, ib, imm, par, params, arg_ptr, arg, off, size, shp, nd, vals,
              adj, reach, freed, placed, operand_grads=None):
    """After a sweep: raise torch's anomaly-mode error if a VJP produced nan (module text).
    `placed`: nonzero at the nodes given arena space (SweepArrays.marks), or None for all;
    the others' offsets mean nothing (an unreached graph on the same tape).
    `operand_grads(tape, e, g)`: entry e's VJP one array per operand slot (engine's), for an
    op given one tensor as both operands, whose two outputs the kernel sums."""
    got = np.arange(n) if placed is None else np.flatnonzero(placed[:n])
    isn = np.isnan(adj)
    if not got.size or not isn.any():
        return
    cs = np.concatenate(([0], np.cumsum(isn)))
    bad = np.zeros(n, bool)                             # nodes whose adjoint holds a nan
    bad[got] = cs[off[got] + size[got]] - cs[off[got]] > 0
    ops = np.asarray(op[:n]).astype(np.int64)
    # (a constant's adjoint is swept but is no gradient torch computes: its nan is no error)
    bad &= _WATCHED[ops]
    operands = [np.asarray(ia[:n]).astype(np.int64), np.asarray(ib[:n]).astype(np.int64)]
    into = np.zeros(n, bool)
    for src in operands:
        into |= (src >= 0) & bad[np.maximum(src, 0)]
    cand = np.flatnonzero((reach[:n] != 0) & ~bad & into & _DIFFERENTIABLE[ops])
    host = np.ones(n, np.uint8)
    for e in cand[::-1].tolist():                       # the sweep's order: newest first
        k = _own_nan(tape, e, op, ia, ib, imm, par, params, arg_ptr, arg, off, size, shp, nd,
                     vals, adj, freed, host)
        if k == 0 and ia[e] == ib[e] and operand_grads is not None:
            # (x / x: the nan may be in the second output only, which torch names)
            slots = operand_grads(tape, e, adj[off[e]:off[e] + size[e]])
            k = next((i for i, g in enumerate(slots) if np.isnan(g).any()), k)
        if k is not None:
            name = _warn(tape, e)
            raise RuntimeError(NAN_ERROR.format(name=name, k=k))


def _own_nan(tape, e, op, ia, ib, imm, par, params, arg_ptr, arg, off, size, shp, nd, vals,
             adj, freed, host):
    """Which output (operand position) of entry e's VJP alone, fed e's final adjoint, holds a
    nan; None if none does.  The sweep kernel runs from e and pauses at the next entry it
    reaches (every other entry is flagged as a host entry)."""
    n = e + 1
    adj2 = np.zeros_like(adj)
    o, s = off[e], size[e]
    adj2[o:o + s] = adj[o:o + s]
    reach2 = np.zeros(n, np.uint8)
    reach2[e] = 1
    own = tape.host_flags(n)[e]
    host[e] = own
    try:
        r = tiers.sweep(op, ia, ib, imm, par, params, arg_ptr, arg, off, size, shp, nd, vals, adj2,
                    e, reach2, freed, _SAVES, host[:n])
    finally:
        host[e] = 1
    if r == -2 - e:     # e's VJP runs in Python (a host entry)
        a, b = int(ia[e]), int(ib[e])
        needs = (a >= 0 and _DIFFERENTIABLE[op[a]], b >= 0 and _DIFFERENTIABLE[op[b]])
        kind = BY_CODE[op[e]].kind
        if kind == "linalg":   # no second operand but solve's; its output as saved, not in the arena
            HOST_VJP[kind](params, par[e], a, b, e, off, vals, adj2, needs, tape.saved_array(a),
                           tape.saved_array(b) if b >= 0 else None, tape.saved_array(e))
        else:
            HOST_VJP[kind](params, par[e], a, b, e, off, vals, adj2, needs,
                           tape.saved_array(a), tape.saved_array(b), c=float(imm[e]), size=size)
    k = 0
    for src in (int(ia[e]), int(ib[e])):
        if src < 0:
            continue
        if _WATCHED[op[src]] and np.isnan(adj2[off[src]:off[src] + size[src]]).any():
            return k
        k += 1
    return None
