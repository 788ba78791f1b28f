"""Walks over a tape's streams: liveness, arena layout and release.  Plain Python that codegen
copies into tapegrad/_kernels.py (compiled there by Numba, so the kernel module's cache sees
every change); called through `_jit.K`.  An entry's operands are ia[e], ib[e] (-1: none) and
arg[arg_ptr[e]:arg_ptr[e + 1]] (the CSR operand list: where's condition, cat's inputs).  Each is one pass (or three) over the streams in a
kernel: a backward's Python work stays a constant number of calls whatever the tape holds.
"""


def mark_live(ia, ib, arg_ptr, arg, live):
    """Mark (in place) every entry that the entries already marked depend on."""
    lists = arg.shape[0] > 0   # (no operand lists, as on a scalar tape: no per-entry read)
    for e in range(ia.shape[0] - 1, -1, -1):
        if live[e]:
            if ia[e] >= 0:
                live[ia[e]] = 1
            if ib[e] >= 0:
                live[ib[e]] = 1
            if lists:
                for j in range(arg_ptr[e], arg_ptr[e + 1]):
                    live[arg[j]] = 1


def mark_leads(ia, ib, arg_ptr, arg, leads):
    """Mark (in place, oldest first) every entry that depends on an entry already marked."""
    lists = arg.shape[0] > 0
    for e in range(ia.shape[0]):
        if leads[e] == 0:
            a = ia[e]
            b = ib[e]
            if (a >= 0 and leads[a] != 0) or (b >= 0 and leads[b] != 0):
                leads[e] = 1
            elif lists:
                for j in range(arg_ptr[e], arg_ptr[e + 1]):
                    if leads[arg[j]] != 0:
                        leads[e] = 1
                        break


def operand_leads(ia, ib, arg_ptr, arg, leads, runs):
    """runs[e] = 1 where an operand of entry e is marked in `leads`."""
    for e in range(ia.shape[0]):
        a = ia[e]
        b = ib[e]
        r = (a >= 0 and leads[a] != 0) or (b >= 0 and leads[b] != 0)
        for j in range(arg_ptr[e], arg_ptr[e + 1]):
            if leads[arg[j]] != 0:
                r = True
        runs[e] = 1 if r else 0


def arena_layout(ia, ib, arg_ptr, arg, size, slot, host, reach, used, off, saved, counts):
    """The layout of a sweep's arenas from the entries marked in `reach`: marks what they
    reach, gives each reached node its offset `off` and writes counts = [end of the saved
    block, arena size, number of saved nodes].  Reached saved n-d nodes that a kernel entry
    uses (`used`, zeros on entry) come first, listed in `saved` in that order, so their
    arrays fill the arena's start with one concatenate; those only host entries use (flagged
    in `host`: BLAS reads the saved arrays themselves) are not copied.  (Numbers out, no
    array: a kernel returning a new array can be cut by a signal while it is boxed.)"""
    n = reach.shape[0]
    mark_live(ia, ib, arg_ptr, arg, reach)
    for e in range(n):
        if reach[e] != 0 and host[e] == 0:
            used[e] = 1
            if ia[e] >= 0:
                used[ia[e]] = 1
            if ib[e] >= 0:
                used[ib[e]] = 1
            for j in range(arg_ptr[e], arg_ptr[e + 1]):
                used[arg[j]] = 1
    k = 0
    t = 0
    for e in range(n):
        if reach[e] != 0 and slot[e] >= 0 and used[e] != 0:
            off[e] = t
            t += size[e]
            saved[k] = e
            k += 1
    counts[0] = t
    for e in range(n):
        if reach[e] != 0 and (slot[e] < 0 or used[e] == 0):
            off[e] = t
            t += size[e]
    counts[1] = t + 1   # +1: an empty last node's slot
    counts[2] = k


def fill_values(reach, slot, nd, off, val, vals):
    """Copy the reached one-element nodes' values (the `val` stream) into the value arena."""
    for e in range(reach.shape[0]):
        if reach[e] != 0 and slot[e] < 0 and nd[e] == 0:
            vals[off[e]] = val[e]


def release_saved(ran, op, ia, ib, arg_ptr, arg, op_saves, freed, slot, nsaved, dead):
    """Release what the entries marked in `ran` saved (a backward without retain_graph): mark
    them freed, take one saver off each node they saved (mask bit 8: the operands beyond
    ia/ib), and list in `dead` the slots of n-d arrays no unfreed entry needs any more.
    Returns how many."""
    k = 0
    for e in range(ran.shape[0]):
        if ran[e] == 0:
            continue
        m = op_saves[op[e]]
        if m == 0:
            continue
        freed[e] = 1
        for j in range(3):
            node = ia[e] if j == 0 else (ib[e] if j == 1 else e)
            if (m >> j) & 1 and node >= 0 and slot[node] >= 0:
                nsaved[node] -= 1
                if nsaved[node] <= 0:
                    dead[k] = slot[node]
                    k += 1
                    slot[node] = -1
                    nsaved[node] = 0
        if m & 8:   # the listed operands (where's condition)
            for q in range(arg_ptr[e], arg_ptr[e + 1]):
                node = arg[q]
                if slot[node] >= 0:
                    nsaved[node] -= 1
                    if nsaved[node] <= 0:
                        dead[k] = slot[node]
                        k += 1
                        slot[node] = -1
                        nsaved[node] = 0
    return k


def any_freed(ran, op, op_saves, freed):
    """Whether an entry marked in `ran` that saves something has been freed."""
    for e in range(ran.shape[0]):
        if ran[e] != 0 and freed[e] != 0 and op_saves[op[e]] != 0:
            return True
    return False
