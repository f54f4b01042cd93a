"""The plugin boundary: bundled plugins import only curator.api and curator.engines, the engines
only curator.api (and each other), so a third-party plugin can do whatever a bundled one does;
and curator.core, the domain everything stands on, imports nothing of curator but itself.

Imports are read from the syntax tree of every module (imports inside functions included,
relative imports resolved, ``importlib.import_module("...")`` with a literal name too), never
by running the code.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CURATOR_PACKAGES = ("curator", "curator_plugins")


@dataclass(frozen=True)
class Area:
    folder: str  # relative to the repository
    package: str  # the dotted name the folder is installed as
    allowed: tuple[str, ...]  # curator packages its modules may import
    own_subpackages: bool = False  # True: each subfolder is one plugin, which may import itself only


PLUGINS = Area("plugins", "curator_plugins", ("curator.api", "curator.engines"), own_subpackages=True)
ENGINES = Area("curator/engines", "curator.engines", ("curator.api", "curator.engines"))
# The torch-free domain at the bottom: nothing of curator above it (its rules that need plugins are
# passed in by the host, see curator.verify.claim_checks).
CORE = Area("curator/core", "curator.core", ("curator.core",))


@dataclass(frozen=True)
class Violation:
    file: str
    line: int
    statement: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.statement}  ({self.reason})"


def module_name(path: Path, root: Path, package: str) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    # ``from . import x`` in a package's __init__ is relative to the package itself.
    base = module.split(".")
    drop = node.level - 1 if is_package else node.level
    base = base[: len(base) - drop] if drop else base
    return ".".join(base + ([node.module] if node.module else []))


def _dynamic_name(node: ast.Call) -> str | None:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
        value = node.args[0].value
        return value if isinstance(value, str) else None
    return None


def imported_names(source: str, module: str, is_package: bool) -> Iterator[tuple[ast.AST, str]]:
    """(node, dotted name) for everything a module imports; ``from a import b`` gives ``a.b``, so
    that ``from curator import core`` is seen as ``curator.core``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, is_package)
            for alias in node.names:
                yield node, base if alias.name == "*" else f"{base}.{alias.name}"
        elif isinstance(node, ast.Call) and (name := _dynamic_name(node)) is not None:
            yield node, name


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def why_not_allowed(name: str, module: str, area: Area) -> str | None:
    """None when ``module`` may import ``name``, else the reason it may not."""
    if name.split(".")[0] not in CURATOR_PACKAGES:
        return None  # the standard library, torch, numpy, ...: not curator's boundary
    if name == "curator.__version__":
        return None  # a constant of the root package (the User-Agent carries it), no module behind it
    if any(part.startswith("_") and not part.startswith("__") for part in name.split(".")[1:]):
        return f"{name} is private to curator"
    if area.own_subpackages and _within(name, area.package):
        own = ".".join(module.split(".")[:2])
        return None if _within(name, own) else f"{name} is another plugin"
    if any(_within(name, prefix) for prefix in area.allowed):
        return None
    return f"{name} is outside {', '.join(area.allowed)}"


def violations(root: Path, area: Area, shown_from: Path = REPO) -> list[Violation]:
    found = []
    for path in sorted(root.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        module = module_name(path, root, area.package)
        for node, name in imported_names(source, module, path.name == "__init__.py"):
            reason = why_not_allowed(name, module, area)
            if reason is not None:
                statement = ast.unparse(node)
                found.append(Violation(str(path.relative_to(shown_from)), node.lineno, statement, reason))
    return found


@pytest.mark.parametrize("area", [PLUGINS, ENGINES, CORE], ids=lambda a: a.folder)
def test_no_module_imports_across_the_boundary(area):
    root = REPO / area.folder
    assert len(list(root.rglob("*.py"))) > 5, f"{root} holds no modules: the check would pass vacuously"
    found = violations(root, area)
    assert not found, "imports outside the plugin API:\n" + "\n".join(map(str, found))


PLANTED = {
    "good/__init__.py": (
        "import torch\n"
        "from curator.api import Verifier, hookimpl\n"
        "from curator.api.http import HttpClient\n"
        "from curator.engines.bounds.certify import certify_task\n"
        "from . import helpers\n"
        "from .helpers import helper\n"
        "from curator_plugins.good.helpers import helper as again\n"
    ),
    "good/helpers.py": "def helper():\n    from curator.api.nn import Normalize\n    return Normalize\n",
    "bad/__init__.py": (
        "from curator.core.errors import CuratorError\n"
        "import curator.verify.models\n"
        "from curator import board\n"
        "\n"
        "def load():\n"
        "    from curator.verify import datasets\n"
        "    import importlib\n"
        "    return importlib.import_module('curator.papers.http')\n"
        "from ..good import helpers\n"
        "from curator_plugins.good import helper\n"
        "from curator.api._lazy import lazy_names\n"
    ),
}


def test_the_check_names_every_kind_of_crossing(tmp_path):
    for name, text in PLANTED.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    found = {(v.file, v.line): v for v in violations(tmp_path, PLUGINS, shown_from=tmp_path)}
    bad = "bad/__init__.py"
    assert sorted(found) == [(bad, line) for line in (1, 2, 3, 6, 8, 9, 10, 11)]
    assert str(found[bad, 1]) == (f"{bad}:1: from curator.core.errors import CuratorError  "
                                  "(curator.core.errors.CuratorError is outside curator.api, curator.engines)")
    assert "curator.board is outside" in found[bad, 3].reason
    assert found[bad, 6].statement == "from curator.verify import datasets"  # inside a function
    assert "curator.papers.http is outside" in found[bad, 8].reason
    assert found[bad, 9].reason == "curator_plugins.good.helpers is another plugin"
    assert found[bad, 10].reason == "curator_plugins.good.helper is another plugin"
    assert found[bad, 11].reason == "curator.api._lazy.lazy_names is private to curator"


def test_engines_may_not_import_the_host(tmp_path):
    (tmp_path / "onnx.py").write_text("from curator.api import CuratorError\nfrom curator.verify.model_budget import X\n",
                                      encoding="utf-8")
    (found,) = violations(tmp_path, ENGINES, shown_from=tmp_path)
    assert (found.line, found.reason) == (2, "curator.verify.model_budget.X is outside curator.api, curator.engines")


def test_core_loads_without_torch_or_plugins():
    import subprocess
    import sys

    modules = sorted(module_name(p, REPO / "curator/core", "curator.core") for p in (REPO / "curator/core").rglob("*.py"))
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules)
            + "print(sorted(m for m in ('torch', 'scipy', 'curator.api', 'curator.verify', 'curator.board') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
