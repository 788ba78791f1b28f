"""What the differential fuzzers share (test_fuzz_ops.py, test_fuzz_views_inplace.py,
test_fuzz_nn.py): the check of one seed and the command-line survey of a seed range.  Each
fuzzer's `compare(seed)` returns (the program's lines, its differences from torch)."""
import sys


def check(compare, seed):
    """Fail with the program and its differences where seed's program differs from torch."""
    lines, diffs = compare(seed)
    assert not diffs, "seed %d\n%s\n--\n%s" % (seed, "\n".join(lines), "\n".join(diffs))


def survey(compare, argv=None):
    """`python tests/test_fuzz_X.py START STOP`: one line per seed that differs (or whose
    harness crashes), then the count."""
    start, stop = (int(a) for a in (argv or sys.argv)[1:3])
    bad = 0
    for s in range(start, stop):
        try:
            _, diffs = compare(s)
        except Exception as e:  # noqa: BLE001 - report a crash of the harness too
            diffs = [f"harness crash {type(e).__name__}: {e}"]
        if diffs:
            bad += 1
            print("SEED", s, "|", diffs[0].replace("\n", " | ")[:400])
    print(f"{bad} of {stop - start} seeds differ")
