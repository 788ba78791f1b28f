"""tapegrad.viz.to_dot and tapegrad.tape_summary: the dot source is checked structurally
(nodes, labels, colours, edges), and rendered where the graphviz package and `dot` exist."""
import re
import shutil

import pytest

import tapegrad as tg
from tapegrad.viz import to_dot


def parse(source):
    """{id: attrs} and [(tail, head, attrs)] of a dot source written by viz.Dot."""
    nodes, edges = {}, []
    attr = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
    for line in source.splitlines():
        line = line.strip()
        m = re.fullmatch(r"(\w+) -> (\w+)(?: \[(.*)\])?", line)
        if m:
            edges.append((m[1], m[2], dict(attr.findall(m[3] or ""))))
            continue
        m = re.fullmatch(r"(\w+) \[(.*)\]", line)
        if m and m[1] not in ("graph", "node"):
            nodes[m[1]] = dict(attr.findall(m[2]))
    return nodes, edges


def by_label(nodes, text):
    return [k for k, a in nodes.items() if a["label"].split("\\n")[0] == text]


def test_graph_names_nodes_as_torch_and_links_inputs_to_consumers():
    x = tg.ones(2, 3, requires_grad=True)
    w = tg.tensor(2.0, requires_grad=True)
    y = ((x * w).exp() + 1.0).sum()
    nodes, edges = parse(to_dot(y, params={"x": x, "w": w}).source)
    names = sorted(a["label"].split("\\n")[0] for k, a in nodes.items() if k.startswith("fn") and "_saved" not in k)
    assert names == ["AccumulateGrad", "AccumulateGrad", "AddBackward0", "ExpBackward0",
                     "MulBackward0", "SumBackward0"]
    (leaf_x,) = by_label(nodes, "x")
    assert nodes[leaf_x]["fillcolor"] == "lightblue"
    assert nodes[leaf_x]["label"] == "x\\n (2, 3) float32"
    (leaf_w,) = by_label(nodes, "w")
    assert nodes[leaf_w]["label"] == "w\\n () float32"
    (out,) = [k for k, a in nodes.items() if a.get("fillcolor") == "darkolivegreen1"]
    plain = {(t, h) for t, h, a in edges if not a}
    (mul,) = by_label(nodes, "MulBackward0")
    (exp,) = by_label(nodes, "ExpBackward0")
    (add,) = by_label(nodes, "AddBackward0")
    (sum_,) = by_label(nodes, "SumBackward0")
    assert {(mul, exp), (exp, add), (add, sum_), (sum_, out)} <= plain
    accs = {t for t, h in plain if h == mul}
    assert len(accs) == 2 and all(nodes[a]["label"] == "AccumulateGrad" for a in accs)
    assert {(leaf_x, a) for a in accs} & plain and {(leaf_w, a) for a in accs} & plain


def test_saved_buffers_alive_then_freed_by_backward():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x.pow(2).sum()
    nodes, edges = parse(to_dot(y).source)
    (pow_,) = by_label(nodes, "PowBackward0")
    assert "exponent: 2" in nodes[pow_]["label"]          # saved Python number, as torch's
    saved = [t for t, h, a in edges if h == pow_ and a.get("dir") == "none"]
    assert [nodes[s]["label"] for s in saved] == ["self\\n (2)"]
    assert nodes[saved[0]]["fillcolor"] == "orange"
    y.backward()
    nodes, edges = parse(to_dot(y).source)
    (s,) = [t for t, h, a in edges if h == pow_ and a.get("dir") == "none"]
    assert nodes[s]["label"].endswith("(freed)") and "dashed" in nodes[s]["style"]
    # retain_graph keeps them alive
    y = x.pow(2).sum()
    y.backward(retain_graph=True)
    nodes, _ = parse(to_dot(y).source)
    assert not any(a["label"].endswith("(freed)") for a in nodes.values())


def test_saved_follow_what_torch_saves():
    # x * 2.0 and x / 2.0 save the number only (torch's _saved_other, _saved_self None);
    # x.exp() saves its result
    x = tg.ones(3, requires_grad=True)
    nodes, edges = parse(to_dot([x * 2.0, x / 2.0, x.exp()]).source)
    (mul,) = by_label(nodes, "MulBackward0")
    assert nodes[mul]["label"].endswith("other: 2")
    (div,) = by_label(nodes, "DivBackward0")
    assert nodes[div]["label"] == "DivBackward0\\n------------\\nother: 2"
    assert not [t for t, h, a in edges if h in (mul, div) and a.get("dir")]
    (exp,) = by_label(nodes, "ExpBackward0")
    assert [nodes[t]["label"] for t, h, a in edges if h == exp and a.get("dir")] == [
        "result\\n (3)"]
    # x * x saves one tensor in two roles; x * y two tensors
    y = tg.ones(3, requires_grad=True)
    for expr, labels in ((x * x, ["self, other\\n (3)"]),
                         (x * y, ["self\\n (3)", "other\\n (3)"])):
        n2, e2 = parse(to_dot(expr).source)
        (m2,) = by_label(n2, "MulBackward0")
        assert [n2[t]["label"] for t, h, a in e2 if h == m2 and a.get("dir")] == labels
    assert len([k for k, a in nodes.items() if a.get("fillcolor") == "darkolivegreen1"]) == 3
    assert len(by_label(nodes, "AccumulateGrad")) == 1     # one leaf node, shared


def test_retained_grad_and_multiple_tapes():
    a = tg.tensor(3.0, requires_grad=True)
    h = a * a
    h.retain_grad()
    (h * 2.0).backward()                 # frees and freezes the first tape
    with tg.no_grad():
        pass
    z = h.detach() + a.sin()             # a new tape
    nodes, edges = parse(to_dot([h * 3.0, z]).source)
    (kept,) = [k for k, a in nodes.items() if a.get("fillcolor") == "lightyellow"]
    assert nodes[kept]["label"] == "retain_grad\\n ()\\n grad"
    assert by_label(nodes, "SinBackward0") and by_label(nodes, "MulBackward0")


def test_leaf_and_no_grad_roots_and_type_errors():
    x = tg.ones(2, requires_grad=True)
    nodes, edges = parse(to_dot(x).source)
    assert list(nodes.values()) == [{"label": "\\n (2) float32", "fillcolor": "lightblue"}]
    assert edges == []
    with pytest.raises(TypeError):
        to_dot([x, 3.0])


def test_labels_are_escaped():
    x = tg.ones(1, requires_grad=True)
    src = to_dot(x * 1.0, params={'a "quoted" name': x}).source
    assert r'a \"quoted\" name' in src


def test_drawing_changes_nothing():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    to_dot(y).source
    tg.tape_summary()
    y.backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_render_svg_and_png(tmp_path):
    pytest.importorskip("graphviz")
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot program is not installed")
    x = tg.ones(2, requires_grad=True)
    dot = to_dot((x * x).sum(), params={"x": x})
    path = dot.render(str(tmp_path / "g"), format="svg")
    svg = open(path).read()
    assert path.endswith("g.svg") and "<svg" in svg and "MulBackward0" in svg
    assert dot._repr_svg_().lstrip().startswith("<?xml") or "<svg" in dot._repr_svg_()
    png = open(dot.render(str(tmp_path / "g"), format="png"), "rb").read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError):
        dot.pipe("pdf")


def test_render_without_dot_names_the_install_command(monkeypatch):
    pytest.importorskip("graphviz")
    monkeypatch.setattr("shutil.which", lambda name: None)
    x = tg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        to_dot(x * 2.0).render("unused")


def test_tape_summary_counts_entries_and_buffers():
    x = tg.ones(4, requires_grad=True)
    y = (x.exp() * x).sum()
    s = tg.tape_summary(y)
    (t,) = s.tapes
    assert t["by_op"] == {"leaf": 1, "exp": 1, "mul": 1, "sum": 1}
    assert t["entries"] == s.entries == 4 and t["leaves"] == 1
    assert t["saving_entries_alive"] == 2 and t["saving_entries_freed"] == 0
    assert t["saved_arrays"] == 2 and t["saved_bytes"] == 2 * 4 * 4   # x and exp(x), float32
    assert "exp 1" in str(s) and "2 alive / 0 freed" in str(s)
    y.backward()
    (t,) = tg.tape_summary(y).tapes
    assert t["saving_entries_alive"] == 0 and t["saving_entries_freed"] == 2
    assert t["saved_arrays"] == 0 and t["saved_bytes"] == 0 and t["frozen"]
    assert any(d["serial"] == t["serial"] for d in tg.tape_summary().tapes)
    assert tg.tape_summary(x).tapes == []       # a leaf is on no tape
