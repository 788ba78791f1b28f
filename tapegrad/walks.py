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


def mark_leads(order, ia, ib, arg_ptr, arg, leads):
    """Mark (in place, oldest first) every entry that depends on an entry already marked:
    every entry, or (`order` not empty) those listed there, oldest first and closed under
    their operands (a walk's reached entries, reached.walk): autograd.grad's inputs behind a
    long prefix then cost what the roots reach, not the prefix."""
    lists = arg.shape[0] > 0
    every = order.shape[0] == 0
    for i in range(ia.shape[0] if every else order.shape[0]):
        e = i if every else order[i]
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


def operand_leads(order, ia, ib, arg_ptr, arg, leads, runs):
    """runs[e] = 1 where an operand of entry e is marked in `leads`: at every entry, or (`order`
    not empty) at those listed there (runs elsewhere untouched)."""
    every = order.shape[0] == 0
    for i in range(ia.shape[0] if every else order.shape[0]):
        e = i if every else order[i]
        a = ia[e]
        b = ib[e]
        r = (a >= 0 and leads[a] != 0) or (b >= 0 and leads[b] != 0)
        for j in range(arg_ptr[e], arg_ptr[e + 1]):
            if leads[arg[j]] != 0:
                r = True
        runs[e] = 1 if r else 0


def arena_layout(op, ia, ib, arg_ptr, arg, size, slot, host, direct_ok, wants, reads, runs,
                 reach, used, off, saved, counts, plain):
    """The layout of a sweep's arenas from the entries marked 1 in `reach` (the roots): marks
    what they reach (2), gives each reached node its offset `off` and writes counts = [start
    of the saved block, arena size, number of saved nodes, the lowest reached entry with
    operands (n: none), the prefix block's offset (below)]: below that entry a sweep has nothing left to do (input entries
    only).  Reached saved n-d nodes whose value a kernel entry reads (`used` bit 1; `used`
    is zeros on entry) make one block at the end, listed in `saved` in that order, so their
    arrays fill it with one concatenate; those only host entries use (flagged in `host`: BLAS
    reads the saved arrays themselves) are not copied.  What a kernel entry reads follows
    from which of its operands want a gradient (`wants` per opcode: not a constant,
    comparison, ...; `reads[op, m]` for the wanting operands m, bit 1 a, 2 b: ops.vjp_reads):
    an operand whose value it reads gets bit 1; one whose gradient it writes without reading
    its value bit 2 (arena space, no copy); one that wants no gradient, whose value it does
    not read, where its kind's piece computes none (`reads` bit 4, kinds.SKIPS) nothing.
    A reached input entry (leaf, constant, import: no operands) whose every reached consumer
    is a host entry of an opcode flagged in `direct_ok` (bit 4, never bits 1 or 2: an entry
    writing into the adjoint arena) gets no arena space and off = -1: such host VJPs hand it its
    gradient as a fresh array in its own dtype (engine._Side), so a float32 weight's gradient
    never goes through the float64 arena.  Where a consumer reads its value as saved
    (direct_ok 1: bit 8), the node must be held by reference (slot >= 0).
    A reached host entry whose opcode has direct_ok bit 4 (its host VJP reads its own
    gradient from the side when its offset is -1: cat) gets off = -1 on the same terms, when
    it is not a root (bit 16 of `used`): a large sum hands a cat its gradient as a
    broadcast, never written out in the float64 arena.
    One pass, newest entry first: an entry's consumers all come after it, so when the pass
    gets to it, its reach flag and `used` bits are final and it is laid out there.  (It was
    five passes over the prefix: 137 us of a 40k-entry scalar graph's backward with one n-d
    op.)  (Numbers out, no array: a kernel returning a new array can be cut by a signal
    while it is boxed.)
    `runs` (uint8 per entry, or empty: every entry) flags the entries whose VJP the sweep
    runs (engine._sweep_tape: with autograd.grad's inputs, those that lead to them): an
    entry not flagged is laid out where reached, as an input entry would be, but reaches no
    operand and reads no value, so what only it leads to gets no space and no copy.
    `saved` has two rows: the saved block's nodes, and each one's slot as this pass read it
    (`slot` may be the tape's live stream: another thread's release may clear a slot after
    this pass, and the caller's objs lookup must agree with the layout).  `off` is written
    for every entry (0 where unreached), so the caller need not clear it.
    Entries below `plain` (NdStreams.plain: recorded before the tape's first n-d fact) have
    size 1, no slot, no host flag and no operand list.  Where a gradient reaches any of them
    and no host entry reads one (the direct rule needs their consumers' bits), they are one
    block: entry e at offset counts[4] + e, every one of them whether reached or not, as on a
    tape without n-d streams; the caller copies their values (the `val` stream's first
    `plain` cells) in one piece and the prefix is not walked here (a 40k-entry scalar graph
    behind one n-d op: 115 -> 23 us, and no value-by-value fill).  Else counts[4] = -1 and
    the prefix is laid out entry by entry, in a branch of its own that reads none of the
    n-d streams."""
    n = reach.shape[0]
    plain = min(plain, n)   # (its callers pass at most n: every index below stays in bounds)
    t = 0       # the unsaved nodes' block, from offset 0
    k = 0
    low = n
    lists = arg.shape[0] > 0   # (no operand lists, as on a scalar tape: no arg_ptr reads)
    every = runs.shape[0] == 0
    hosted = False   # a host entry reads a prefix entry
    for e in range(n - 1, plain - 1, -1):
        r = reach[e]
        if r == 0:
            off[e] = 0
            continue
        u = used[e]
        if r == 1 and u != 1:
            u |= 16   # a root: its seed goes into the arena
        a = ia[e]
        b = ib[e]
        p0 = 0
        p1 = 0
        if lists:
            p0 = arg_ptr[e]
            p1 = arg_ptr[e + 1]
        operands = a >= 0 or b >= 0 or p1 > p0
        if every or runs[e] != 0:
            if operands:
                low = e
        else:   # its VJP does not run: it reads and reaches nothing (`operands` still holds
            a = -1   # for the direct rule below: it keeps its arena space)
            b = -1
            p1 = p0
        if host[e] == 0:
            # an entry reads its own value only if it has operands (an input entry, leaf,
            # constant or import, reads nothing: a weight only a BLAS product uses is not
            # copied).  (Plain stores of bit 1 here, the common case: bit 1 also means the
            # operand's adjoint is in the arena, whatever bits a host consumer set.)
            if operands and (every or runs[e] != 0):
                u = 1
            # an operand gets space where its VJP piece reads its value (bit 1: copied) or
            # writes its gradient (bit 2: its adjoint only), by which operands want one
            # (`wants` per opcode, `reads` per opcode and wanting pair: ops.vjp_reads): `x @ W`
            # with x a constant copies x, not W, and x gets no gradient
            w = 0
            if a >= 0 and wants[op[a]] != 0:
                w = 1
            if b >= 0 and wants[op[b]] != 0:
                w |= 2
            rd = reads[op[e], w]
            if a >= 0:
                if rd & 1:
                    used[a] = 1
                elif (w & 1) != 0 or (rd & 4) == 0:
                    if used[a] != 1:
                        used[a] |= 2
                if used[a] != 0 and reach[a] == 0:
                    reach[a] = 2
            if b >= 0:
                if rd & 2:
                    used[b] = 1
                elif (w & 2) != 0 or (rd & 4) == 0:
                    if used[b] != 1:
                        used[b] |= 2
                if used[b] != 0 and reach[b] == 0:
                    reach[b] = 2
            for j in range(p0, p1):
                x = arg[j]
                used[x] = 1
                if reach[x] == 0:
                    reach[x] = 2
        else:   # a host entry: bit 2 (adds into the arena) or 4 (+8) (direct)
            d = direct_ok[op[e]] & 3
            h = 2 if d == 0 else (12 if d == 1 else 4)
            if h != 2 and ((0 <= a < plain) or (0 <= b < plain)):
                hosted = True   # (and below, for the operand list's)
            if a >= 0:
                if used[a] != 1:
                    used[a] |= h
                if reach[a] == 0:
                    reach[a] = 2
            if b >= 0:
                if used[b] != 1:
                    used[b] |= h
                if reach[b] == 0:
                    reach[b] = 2
            for j in range(p0, p1):
                x = arg[j]
                if used[x] != 1:
                    used[x] |= h
                if reach[x] == 0:
                    reach[x] = 2
                if x < plain and h != 2:
                    hosted = True
        used[e] = u
        sl = slot[e]   # (read once: see `saved`)
        if sl >= 0 and (u & 1) != 0:
            saved[0, k] = e
            saved[1, k] = sl
            k += 1
        elif u >= 4 and (u & 7) == 4 and (sl >= 0 or (u & 8) == 0) \
                and (not operands or (host[e] != 0 and (direct_ok[op[e]] & 4) != 0
                                      and (u & 16) == 0)):
            off[e] = -1
        else:
            off[e] = t
            t += size[e]
    prefix = -1
    if hosted:
        t, low = layout_prefix(ia, ib, runs, reach, used, off, plain, t, low, every)
    else:
        for e in range(plain - 1, -1, -1):
            if reach[e] != 0:
                prefix = t
                break
        if prefix < 0:   # no gradient gets there
            off[:plain] = 0
        else:
            for e in range(plain):
                off[e] = prefix + e
            t += plain
            for e in range(plain):   # (the sweep runs down to the first entry with operands)
                if ia[e] >= 0 or ib[e] >= 0:
                    low = min(low, e)
                    break
    counts[0] = t
    for j in range(k):
        e = saved[0, j]
        off[e] = t
        t += size[e]
    counts[1] = t + 1   # +1: an empty last node's slot
    counts[2] = k
    counts[3] = low
    counts[4] = prefix


def layout_prefix(ia, ib, runs, reach, used, off, plain, t, low, every):
    """arena_layout's rules for its entries below `plain` (one-element kernel or input
    entries), one by one, newest first, from arena offset t: for a prefix a host entry reads,
    whose direct rule needs each entry's `used` bits.  Returns (t, low) after them."""
    for e in range(plain - 1, -1, -1):
        r = reach[e]
        if r == 0:
            off[e] = 0
            continue
        u = used[e]
        if r == 1 and u != 1:
            u |= 16   # a root: its seed goes into the arena
        a = ia[e]
        b = ib[e]
        if a >= 0 or b >= 0:
            if every or runs[e] != 0:
                low = e
                u = 1
                if a >= 0:
                    used[a] = 1
                    if reach[a] == 0:
                        reach[a] = 2
                if b >= 0:
                    used[b] = 1
                    if reach[b] == 0:
                        reach[b] = 2
            used[e] = u
            off[e] = t
            t += 1
        else:
            used[e] = u
            if (u & 15) == 4:   # the direct rule (bits 4, not 1, 2 or 8)
                off[e] = -1
            else:
                off[e] = t
                t += 1
    return t, low


def fill_values(reach, nd, off, val, vals):
    """Copy the reached 0-d nodes' values (the `val` stream) into the value arena.  A 0-d
    node held by reference gets its `val` cell here too: in the saved block the concatenate
    after this overwrites it, elsewhere nothing reads it."""
    for e in range(reach.shape[0]):
        if reach[e] != 0 and nd[e] == 0:
            o = off[e]
            if o >= 0:
                vals[o] = val[e]


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


# ---- a backward's walks over the reached entries only (engine._sweep_tape) ------------------
# A backward gathers the entries its roots reach into short local streams (local index i ->
# entry order[i], oldest first, so operands still come before their users) and sweeps those:
# its work follows the reached graph, not the tape prefix (graphs dropped on the same tape
# without backward cost nothing).


def order_marked(mark, out, r):
    """Sort the r entries listed in out[:r], all marked in `mark`, ascending in place.  When
    they span at most 64 bytes of `mark` per entry, a scan of that span lists them in order
    (a byte test per entry of the span beats a comparison sort's log r steps: 5x faster than
    ndarray.sort at r = 1e5); else insertion sort (r <= 16) or heapsort (O(r log r)).  One
    hand-written kernel because `ndarray.sort` makes Numba compile its quicksort in the first
    backward of every fresh process."""
    if r > 16:
        lo = out[0]
        hi = out[0]
        for i in range(1, r):
            lo = min(lo, out[i])
            hi = max(hi, out[i])
        if hi - lo < 64 * r:
            j = 0
            for x in range(lo, hi + 1):
                if mark[x] != 0:
                    out[j] = x
                    j += 1
            return
        n = r          # heapsort: build a max-heap over out[:r] (i > 0), then move its top
        i = r // 2     # behind the shrinking heap (n); each step sifts v down from position p
        while True:
            if i > 0:
                i -= 1
                v = out[i]
            else:
                n -= 1
                if n == 0:
                    return
                v = out[n]
                out[n] = out[0]
            p = i
            c = 2 * p + 1
            while c < n:
                if c + 1 < n and out[c + 1] > out[c]:
                    c += 1
                if out[c] <= v:
                    break
                out[p] = out[c]
                p = c
                c = 2 * p + 1
            out[p] = v
    for i in range(1, r):
        v = out[i]
        j = i - 1
        while j >= 0 and out[j] > v:
            out[j + 1] = out[j]
            j -= 1
        out[j + 1] = v


def reach_list(ia, ib, arg_ptr, arg, npar, roots, limit, mark, out, counts):
    """Mark in `mark` (zeros on entry) the `roots` and every entry they reach through their
    operands (ia, ib and the `arg` list), and list them in `out[:r]` oldest first, visiting
    reached entries only; writes counts = [r, their params' total length, their listed
    operands' total].  Past `limit` entries it stops, clears what it marked and writes
    r = -1: the caller then sweeps the whole prefix in place, which costs no more than
    `limit` times a constant."""
    lists = arg.shape[0] > 0   # (no operand lists, as on a scalar tape: no arg_ptr reads)
    r = 0
    for i in range(roots.shape[0]):
        x = roots[i]
        if mark[x] == 0:
            mark[x] = 1
            out[r] = x
            r += 1
    i = 0
    p = 0
    q = 0
    while i < r:
        if r > limit:
            for j in range(r):
                mark[out[j]] = 0
            counts[0] = -1
            counts[1] = 0
            counts[2] = 0
            return
        e = out[i]
        i += 1
        p += npar[e]
        x = ia[e]
        if x >= 0 and mark[x] == 0:
            mark[x] = 1
            out[r] = x
            r += 1
        x = ib[e]
        if x >= 0 and mark[x] == 0:
            mark[x] = 1
            out[r] = x
            r += 1
        if lists:
            q += arg_ptr[e + 1] - arg_ptr[e]
            for j in range(arg_ptr[e], arg_ptr[e + 1]):
                x = arg[j]
                if mark[x] == 0:
                    mark[x] = 1
                    out[r] = x
                    r += 1
    order_marked(mark, out, r)
    counts[0] = r
    counts[1] = p
    counts[2] = q


def gather_reached(order, loc, op, ia, ib, imm, arg_ptr, arg, size, nd, shp, par, npar, params,
                   slot, host, freed, val, l_op, l_ia, l_ib, l_imm, l_arg_ptr, l_arg, l_int,
                   l_shp, l_params, l_flags, l_val):
    """The local streams of the entries listed in `order` (see reach_list): operands (ia, ib
    and the operand lists, as local CSR l_arg_ptr/l_arg) renumbered to local indices (`loc`:
    entry -> local index, written for the listed entries only); l_int rows: size, nd, par,
    slot; l_flags rows: host, freed; params copied per entry (they hold no node index)."""
    p = 0
    q = 0
    for i in range(order.shape[0]):
        loc[order[i]] = i
    for i in range(order.shape[0]):
        e = order[i]
        l_op[i] = op[e]
        l_ia[i] = loc[ia[e]] if ia[e] >= 0 else -1
        l_ib[i] = loc[ib[e]] if ib[e] >= 0 else -1
        l_imm[i] = imm[e]
        l_val[i] = val[e]
        l_arg_ptr[i] = q
        for j in range(arg_ptr[e], arg_ptr[e + 1]):
            l_arg[q] = loc[arg[j]]
            q += 1
        l_int[0, i] = size[e]
        l_int[1, i] = nd[e]
        for d in range(8):
            l_shp[i, d] = shp[e, d]
        k = npar[e]
        if par[e] >= 0:
            l_int[2, i] = p
            s = par[e]
            for j in range(k):
                l_params[p + j] = params[s + j]
            p += k
        else:
            l_int[2, i] = -1
        l_int[3, i] = slot[e]
        l_flags[0, i] = host[e]
        l_flags[1, i] = freed[e]
    l_arg_ptr[order.shape[0]] = q


def gather_layout(r, na, order, loc, op, ia, ib, imm, arg_ptr, arg, size, nd, shp, par, npar,
                  params, slot, host, freed, val, direct_ok, wants, reads, runs, roots, l_op,
                  l_ia, l_ib,
                  l_f64, l_arg_ptr, l_arg, l_int, l_shp, l_params, l_u8, off, saved, counts):
    """gather_reached and arena_layout for the r entries reach_list listed in `order` (na:
    their listed operands), into workspace arrays at least r long (l_arg_ptr r + 1, l_arg na):
    l_f64 rows imm, val; l_int rows size, nd, par, slot; l_u8 rows host, freed, the layout's
    marks, used (zeros), runs.  `runs` (uint8 per tape entry, or empty: every entry runs):
    arena_layout's, gathered; with it the layout starts from the `roots` (tape nodes) only,
    as the walk listed what every entry reaches, not only those that run; without it every
    listed entry is marked.  counts[3:8] = [start of the saved block, arena size, saved
    nodes, lowest entry with operands, -1 (no prefix block)]."""
    gather_reached(order[:r], loc, op, ia, ib, imm, arg_ptr, arg, size, nd, shp, par, npar,
                   params, slot, host, freed, val, l_op, l_ia, l_ib, l_f64[0], l_arg_ptr,
                   l_arg, l_int, l_shp, l_params, l_u8, l_f64[1])
    l_u8[3, :r] = 0
    every = runs.shape[0] == 0
    if every:
        l_u8[2, :r] = 1
    else:
        l_u8[2, :r] = 0
        for i in range(roots.shape[0]):
            l_u8[2, loc[roots[i]]] = 1
        for i in range(r):
            l_u8[4, i] = runs[order[i]]
    arena_layout(l_op[:r], l_ia[:r], l_ib[:r], l_arg_ptr[:r + 1], l_arg[:na], l_int[0, :r],
                 l_int[3, :r], l_u8[0, :r], direct_ok, wants, reads,
                 l_u8[4, :0] if every else l_u8[4, :r],
                 l_u8[2, :r], l_u8[3, :r], off[:r], saved[:, :r], counts[3:8], 0)


def fill_reached(r, l_int, l_u8, l_f64, off, vals):
    """fill_values over gather_layout's first r local entries."""
    fill_values(l_u8[2, :r], l_int[1, :r], off[:r], l_f64[1, :r], vals)


def release_listed(entries, op, ia, ib, arg_ptr, arg, op_saves, freed, slot, nsaved, dead):
    """release_saved for the entries listed in `entries` (a backward's reached entries), by
    the same saves-mask rules.  (Its loop body is release_saved's, written out again: as a
    shared callee it ran 70x slower in release_saved's loop over a 40k-entry scalar tape.)"""
    k = 0
    for i in range(entries.shape[0]):
        e = entries[i]
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


def any_freed_listed(entries, op, op_saves, freed):
    """any_freed for the entries listed in `entries`."""
    for i in range(entries.shape[0]):
        e = entries[i]
        if freed[e] != 0 and op_saves[op[e]] != 0:
            return True
    return False


def reset_streams(ib, imm, freed, n, ints, shp, nsaved, host, m):
    """A dead tape's pooled arrays back to a new tape's state, in one call (leaf20): cells
    [0, n) of ib, imm (protocol.DEFAULTS) and the freed flags; the first m rows of the n-d
    streams (NdStreams._INT_FILL: size 1, nd 0, par -1, npar 0, slot -1, arg_ptr 0; shape rows
    of ones; no savers; no host flag).  Eight numpy fills cost 2.5x this call."""
    for i in range(n):
        ib[i] = -1
        imm[i] = 0.0
        freed[i] = 0
    for i in range(m):
        ints[0, i] = 1
        ints[1, i] = 0
        ints[2, i] = -1
        ints[3, i] = 0
        ints[4, i] = -1
        ints[5, i] = 0
        for j in range(shp.shape[1]):
            shp[i, j] = 1
        nsaved[i] = 0
        host[i] = 0
    if m > 0:
        ints[5, m] = 0
