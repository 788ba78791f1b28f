"""Every ```python block of the docs (docs/*.md) runs, and prints what the page says.

A page's blocks run in order in one namespace (like a notebook), in a temporary directory.
A ```python block followed directly (blank lines only between) by a ```text block must print
exactly that text; one not followed by a ```text block must print nothing.  Warnings are
shown as `UserWarning: message`.  In expected text, `...` matches anything and object
addresses (0x...) match any address.  Other fences (```sh, ```dot) are not run.

Also: `mkdocs build --strict` of the site, when mkdocs is installed.
"""
import io
import os
import re
import shutil
import subprocess
import sys
import warnings
from contextlib import redirect_stdout
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
PAGES = sorted(p.name for p in DOCS.glob("*.md"))


def blocks(text):
    """[(code, expected text or None, line number)] of the page's python blocks."""
    found = list(FENCE.finditer(text))
    out = []
    for i, m in enumerate(found):
        if m.group(1) != "python":
            continue
        expected = None
        if i + 1 < len(found) and found[i + 1].group(1) == "text" \
                and not text[m.end():found[i + 1].start()].strip():
            expected = found[i + 1].group(2)
        out.append((m.group(2), expected, text.count("\n", 0, m.start()) + 1))
    return out


def run(code, ns, where):
    buf = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, redirect_stdout(buf):
        warnings.simplefilter("always")
        exec(compile(code, where, "exec"), ns)
    out = buf.getvalue()
    for w in caught:
        out += f"{w.category.__name__}: {str(w.message).split(' (Triggered internally')[0]}\n"
    return out


def matches(expected, actual):
    addr = re.compile(r"0x[0-9a-fA-F]+")
    expected, actual = addr.sub("0xADDR", expected), addr.sub("0xADDR", actual)
    pattern = ".*?".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, actual, re.S) is not None


@pytest.mark.parametrize("page", PAGES)
def test_page_examples(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    import tapegrad
    tapegrad.manual_seed(0)
    ns = {"__name__": "__docs__"}
    for code, expected, line in blocks((DOCS / page).read_text(encoding="utf-8")):
        out = run(code, ns, f"docs/{page}:{line}")
        want = expected if expected is not None else ""
        assert matches(want, out), (f"docs/{page}, block at line {line} printed:\n{out}\n"
                                    f"expected:\n{want}")


def test_harness_finds_blocks_and_pairs_output():
    page = ("x\n```python\nprint(1)\n```\n\n```text\n1\n```\n```python\na = 2\n```\n"
            "text between\n```text\nnot paired\n```\n```sh\nls\n```\n")
    assert blocks(page) == [("print(1)\n", "1\n", 2), ("a = 2\n", None, 9)]
    assert matches("tensor(...)\n<X object at 0x1>\n", "tensor([1.])\n<X object at 0xff>\n")
    assert not matches("tensor(1.)\n", "tensor(2.)\n")


def test_every_page_has_examples_and_is_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in PAGES:
        assert page in nav, f"{page} is not in mkdocs.yml's nav"
    for page in ("index.md", "tutorial.md", "tutorial.zh.md", "semantics.md", "replay.md"):
        assert blocks((DOCS / page).read_text(encoding="utf-8")), page


def test_semantics_lists_every_known_difference():
    """Each strict xfail of the differential tests is a known difference: the Semantics page
    names it (and drops it once the test passes and its mark goes)."""
    src = (ROOT / "tests" / "test_differential.py").read_text()
    known = re.findall(r"^@xfail\((?:.|\n)*?\)\ndef (test_\w+)", src, re.M)
    page = (DOCS / "semantics.md").read_text(encoding="utf-8")
    assert known and [name for name in known if name not in page] == []


def test_mkdocs_build_strict(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    pytest.importorskip("mkdocstrings_handlers.python")
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q",
                        "-f", str(ROOT / "mkdocs.yml"), "-d", str(tmp_path / "site")],
                       capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr[-4000:]
    assert (tmp_path / "site" / "index.html").exists()
    assert (tmp_path / "site" / "api" / "index.html").exists()
