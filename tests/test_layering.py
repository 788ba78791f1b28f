"""The package's imports flow one way (docs/design.md, "Where things live"): no import cycle
between tapegrad's modules, and no function-level import of a tapegrad module (a late import
that only dodges a cycle).  The imports are read with `ast`, so nothing here runs the code."""
import ast
import pathlib

import pytest

import tapegrad

PKG = pathlib.Path(tapegrad.__file__).parent

# Function-level imports of tapegrad modules that are there for a reason other than a cycle.
ALLOWED_LATE = {
    ("tapegrad._jit", "tapegrad._kernels"):
        "the kernels import numba (about a second): `import tapegrad` stays free of it until "
        "the first sweep, and _jit chooses the Numba cache directory before the import",
    ("tapegrad.optim.optimizer", "tapegrad.optim._fused"):
        "the optimizers' fused kernels import numba likewise: on the first step(), through "
        "_jit.kernel_module, which places the Numba cache first",
    ("tapegrad.ndops", "tapegrad._sums"):
        "the record-time sum kernel (and a float cumsum's eager loop) imports numba likewise: "
        "on the first large sum, or float cumsum of a tensor that records, through "
        "_jit.kernel_module",
    ("tapegrad.float_sums", "tapegrad._sums"):
        "torch's float sum kernel imports numba likewise: on the first sum through "
        "float_sums (dirichlet's), through _jit.kernel_module",
    ("tapegrad.ndops", "tapegrad._extremes"):
        "the eager extremes' loop (max/min(dim), amax's tie check, topk) imports numba "
        "likewise: on "
        "the first one of a tensor that records, through _jit.kernel_module",
    ("tapegrad.ndops", "tapegrad._welford"):
        "the var/std values' Welford loop imports numba likewise: on the first float var/std, "
        "through _jit.kernel_module",
    ("tapegrad.exact", "tapegrad._draw_kernels"):
        "the samplers' Numba loops (libm calls, float64 fmas, randperm's shuffles) import numba "
        "likewise: on the first draw that needs them, through _jit.kernel_module",
    ("tapegrad.vocab", "tapegrad._vecmath"):
        "the array faces of erf, erfc and lgamma (Numba loops over libm) likewise: on the first "
        "array erf, through _jit.kernel_module",
    ("tapegrad.vocab", "tapegrad._vecspecial"):
        "the array faces of erfinv, digamma & co (Numba loops over their kernel faces) "
        "likewise: on the first array erfinv, through _jit.kernel_module",
    ("tapegrad.nn._decomps_pool", "tapegrad.nn._pool_loops"):
        "max pooling's eager loop (the element torch's kernel picks per window) imports numba "
        "likewise: on the first max pooling of a float tensor, through _jit.kernel_module",
    ("tapegrad.nn._conv_node", "tapegrad.nn._conv_loops"):
        "the one-node conv2d's im2col and col2im loops import numba likewise: on the first "
        "such convolution, through _jit.kernel_module",
    ("tapegrad.batchrun", "tapegrad._handoff"):
        "the batch threads' compiled waits import numba likewise: on the first batch call on "
        "several threads, through _jit.kernel_module",
    ("tapegrad.mt19937", "tapegrad._draw_loops"):
        "the engine's twister in Numba (draws of many words) and the rejection samplers' loops "
        "(gamma, Poisson, binomial) likewise: on the first such draw, through "
        "_jit.kernel_module",
}


def module_name(path, root):
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def read_package(root):
    """{module: (is_package, ast)} for every .py file under the package directory `root`."""
    mods = {}
    for path in sorted(root.rglob("*.py")):
        mods[module_name(path, root)] = (path.name == "__init__.py", ast.parse(path.read_text()))
    return mods


def _targets(node, name, is_pkg, mods):
    """The package modules an import statement in module `name` loads."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name.split(".")[0] in {m.split(".")[0] for m in mods}}
    if node.level == 0:
        base = node.module or ""
    else:
        here = name.split(".") if is_pkg else name.split(".")[:-1]
        here = here[:len(here) - (node.level - 1)]
        base = ".".join(here + ([node.module] if node.module else []))
    if base not in mods:
        return set()
    out = set()
    for a in node.names:
        sub = f"{base}.{a.name}"
        out.add(sub if sub in mods else base)
    return out


def import_graph(mods):
    """(edges, late): module-level import edges (with the parent packages an import runs
    first), and [(module, target, line)] for imports inside functions."""
    root = min(mods, key=len)
    edges = {m: set() for m in mods}
    late = []

    def visit(node, name, is_pkg, in_function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for t in _targets(child, name, is_pkg, mods):
                    if in_function:
                        late.append((name, t, child.lineno))
                        continue
                    edges[name].add(t)
                    # importing a.b.c runs a.b's __init__ first (unless the importer is inside it)
                    parts = t.split(".")
                    for k in range(2, len(parts)):
                        parent = ".".join(parts[:k])
                        if parent != root and not (name + ".").startswith(parent + "."):
                            edges[name].add(parent)
            visit(child, name, is_pkg,
                  in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                    ast.Lambda)))

    for name, (is_pkg, tree) in mods.items():
        visit(tree, name, is_pkg, False)
    for name in edges:
        edges[name].discard(name)
    return edges, late


def find_cycle(edges):
    """One import cycle as a list of modules, or None."""
    state, stack = {}, []

    def dfs(m):
        state[m] = 1
        stack.append(m)
        for t in sorted(edges.get(m, ())):
            if state.get(t) == 1:
                return stack[stack.index(t):] + [t]
            if t not in state:
                found = dfs(t)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(edges):
        if m not in state:
            found = dfs(m)
            if found:
                return found
    return None


@pytest.fixture(scope="module")
def package_graph():
    """tapegrad's import graph, read once for the tests below (parsing the package's
    modules, the generated ones among them, takes seconds)."""
    return import_graph(read_package(PKG))


def test_no_import_cycle(package_graph):
    edges, _ = package_graph
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_function_level_import_of_a_tapegrad_module(package_graph):
    _, late = package_graph
    bad = [f"{m} line {line} imports {t}" for m, t, line in late if (m, t) not in ALLOWED_LATE]
    assert not bad, "late imports (import at the top instead):\n" + "\n".join(bad)


def test_the_allow_list_is_in_use(package_graph):
    _, late = package_graph
    assert set(ALLOWED_LATE) <= {(m, t) for m, t, _ in late}


def test_the_checks_find_cycles_and_late_imports(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import a\n")
    (pkg / "a.py").write_text("from .sub.c import f\n")
    (pkg / "b.py").write_text("def g():\n    from .a import f\n")
    (pkg / "sub" / "__init__.py").write_text("from ..a import f\n")
    (pkg / "sub" / "c.py").write_text("f = 1\n")
    edges, late = import_graph(read_package(pkg))
    # a imports sub.c, which runs sub/__init__ first, which imports a
    assert find_cycle(edges) in (["pkg.a", "pkg.sub", "pkg.a"], ["pkg.sub", "pkg.a", "pkg.sub"])
    assert late == [("pkg.b", "pkg.a", 2)]
    (pkg / "sub" / "__init__.py").write_text("")
    edges, _ = import_graph(read_package(pkg))
    assert find_cycle(edges) is None
