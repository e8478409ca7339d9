"""Every library churnwhy imports is declared in pyproject.toml with a lower bound (issue 18)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imported_top_levels() -> set[str]:
    """Modules imported at run time (imports under `if TYPE_CHECKING:` are for the type checker only)."""
    names: set[str] = set()
    for path in (ROOT / "src" / "churnwhy").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        checking_only = {id(n) for block in ast.walk(tree)
                         if isinstance(block, ast.If) and ast.unparse(block.test).endswith("TYPE_CHECKING")
                         for stmt in block.body for n in ast.walk(stmt)}
        for node in ast.walk(tree):
            if id(node) in checking_only:
                continue
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("churnwhy", "__future__")}


def _declared() -> dict[str, str]:
    """Normalised distribution name -> its requirement string, from [project] dependencies and its extras (an
    optional engine's library is declared in its extra)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    out = {}
    extras = [req for reqs in project.get("optional-dependencies", {}).values() for req in reqs]
    for req in [*project["dependencies"], *extras]:
        name = re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0]
        out[re.sub(r"[-_.]+", "-", name).lower()] = req
    return out


def test_every_third_party_import_is_a_declared_dependency():
    dists = packages_distributions()
    declared = _declared()
    undeclared = {}
    for module in sorted(_imported_top_levels()):
        names = {re.sub(r"[-_.]+", "-", d).lower() for d in dists.get(module, [module])}
        if not names & declared.keys():
            undeclared[module] = sorted(names)
    assert undeclared == {}


def test_every_dependency_has_a_lower_bound():
    assert [req for req in _declared().values() if ">=" not in req] == []
