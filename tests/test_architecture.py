"""The import direction of docs/architecture.md: a lower layer never imports a higher one.

Every module under src/bliatlas is parsed (``ast``: module-level, function-level and
``TYPE_CHECKING`` imports alike) and each import of a ``bliatlas`` module is checked
against the layer order read from the doc's "Layers" table, so the doc and the test
cannot drift apart. A module may import its own unit (package or top-level module) and
any unit of a lower layer; not a unit of the same layer, not one above.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "bliatlas"
DOC = REPO / "docs" / "architecture.md"

# Known violations of the layer order, as exact (importing module, imported module)
# pairs. Empty since the shared rendering package (issue 16, item 2); the test fails when
# a listed pair is no longer there, so this list can only shrink.
ALLOWED: set[tuple[str, str]] = set()


def layers() -> dict[str, int]:
    """unit → layer number (0 = bottom), from the doc's table ``| n | `unit`, … | …``."""
    out: dict[str, int] = {}
    in_table = False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            in_table = line.strip() == "## Layers"
            continue
        m = re.match(r"\|\s*(\d+)\s*\|([^|]*)\|", line)
        if in_table and m:
            for unit in re.findall(r"`([a-z_]+)`", m.group(2)):
                assert unit not in out, f"{unit} appears twice in the layer table"
                out[unit] = int(m.group(1))
    assert out, "docs/architecture.md has no layer table under '## Layers'"
    return out


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def unit(module: str) -> str:
    """``bliatlas.sources.ssb`` → ``sources``; ``bliatlas.errors`` → ``errors``;
    ``bliatlas`` (the package itself) → ``bliatlas``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imports() -> list[tuple[str, str, int]]:
    """(importing module, imported bliatlas module, line) for every import in src."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        name = module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: resolve against the package
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                # `from bliatlas import serving` imports the module bliatlas.serving
                targets = [f"{mod}.{a.name}" if (SRC.parent / mod.replace(".", "/") / a.name)
                           .with_suffix(".py").exists()
                           or (SRC.parent / mod.replace(".", "/") / a.name).is_dir()
                           else mod for a in node.names]
            else:
                continue
            found.extend((name, t, node.lineno) for t in targets
                         if t == "bliatlas" or t.startswith("bliatlas."))
    return found


def test_layer_table_covers_every_unit():
    known = layers()
    units = {unit(module_name(p)) for p in SRC.rglob("*.py")}
    assert units - set(known) == set(), "units missing from docs/architecture.md's table"
    assert set(known) - units == set(), "the table names units that do not exist"


def test_no_lower_layer_imports_a_higher_one():
    known = layers()
    bad = []
    seen_allowed = set()
    for importer, imported, line in imports():
        a, b = unit(importer), unit(imported)
        if a == b or known[b] < known[a]:
            continue
        if (importer, imported) in ALLOWED:
            seen_allowed.add((importer, imported))
            continue
        where = "the same layer" if known[b] == known[a] else "a higher layer"
        bad.append(f"{importer}:{line} imports {imported} ({b}, {where} than {a})")
    assert bad == []
    assert ALLOWED - seen_allowed == set(), "fixed: remove these pairs from ALLOWED"


def test_the_check_sees_function_level_imports():
    # The check is only as good as what it parses: the function-level imports of
    # bliatlas.sync (none) and of bliatlas.web.planner (settlement.simulate inside a
    # function) must be among the imports it reads.
    found = {(a, b) for a, b, _ in imports()}
    assert ("bliatlas.web.planner", "bliatlas.settlement.simulate") in found
    assert ("bliatlas.api.app", "bliatlas.web.templating") in found
    assert ("bliatlas.cli", "bliatlas.sync") in found
