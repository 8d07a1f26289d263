"""No module of relu1d imports another module's ``_private`` names.

Shared private helpers live in private helper modules (``relu1d._common``,
``relu1d._validation``, ...) that every user imports. Allowed sources of a private name
(or of a private module):

* a top-level private helper module ``relu1d._name``;
* a private submodule of the importing module's own package or of one of its parents
  (``relu1d.train._api`` may be used from ``relu1d/train/_flow.py``, and
  ``relu1d.experiments._registry`` from ``relu1d/experiments/williams2019/``).

Anything else is a violation: importing ``_name`` from a public module
(``from .network import _resolve_alpha``), importing a private submodule of another package
(``from ..train import _reference``), importing from such a module
(``from ..train._reference import loss_and_grad``), or reading ``module._name`` through a
module imported from relu1d. The scan parses every file (imports inside functions
included). :data:`ALLOWED` lists the violations that remain today, so that new ones fail
and the list can only shrink.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "relu1d"

# (file relative to src/relu1d, "module:name") still to be moved to a private helper module
ALLOWED: frozenset[tuple[str, str]] = frozenset()


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package_of(path: Path) -> str:
    module = _module_of(path)
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _resolve(path: Path, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = _package_of(path).split(".")
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_module(name: str) -> bool:
    parts = name.split(".")
    return (SRC.parent.joinpath(*parts).with_suffix(".py").is_file()
            or SRC.parent.joinpath(*parts, "__init__.py").is_file())


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _allowed_source(module: str, package: str) -> bool:
    """Private things may come from a private module ``P._x`` where P is ``package`` or
    one of its parents (so relu1d._validation from anywhere, relu1d.train._api from
    relu1d.train, relu1d.experiments._registry from relu1d.experiments.williams2019)."""
    parent, _, last = module.rpartition(".")
    if not _private(last) or any(_private(p) for p in parent.split(".")):
        return False
    return package == parent or package.startswith(parent + ".")


def _has_private_part(module: str) -> bool:
    return any(_private(p) for p in module.split(".")[1:])


def violations() -> set[tuple[str, str]]:
    """Every (file, "module:name") import of another module's private name."""
    found = set()
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        package = _package_of(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = {}                                          # local name → relu1d module
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = _resolve(path, node)
                if not source.startswith("relu1d"):
                    continue
                for alias in node.names:
                    target = f"{source}.{alias.name}"
                    if _is_module(target):
                        modules[alias.asname or alias.name] = target
                        bad = _has_private_part(target) and not _allowed_source(target, package)
                    elif _private(alias.name) or _has_private_part(source):
                        bad = not _allowed_source(source, package)
                    else:
                        bad = False
                    if bad:
                        found.add((rel, f"{source}:{alias.name}"))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("relu1d"):
                        if alias.asname:
                            modules[alias.asname] = alias.name
                        if (_has_private_part(alias.name)
                                and not _allowed_source(alias.name, package)):
                            found.add((rel, f"{alias.name}:"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and _private(node.attr)
                    and isinstance(node.value, ast.Name)
                    and node.value.id in modules):
                module = modules[node.value.id]
                if not _allowed_source(f"{module}.{node.attr}", package) and not (
                        _has_private_part(module) and _allowed_source(module, package)):
                    found.add((rel, f"{module}:{node.attr}"))
    return found


def test_no_new_imports_of_private_names():
    new = violations() - ALLOWED
    assert not new, ("imports of another module's private names (move the helper to a private "
                     "helper module such as relu1d._common and import it from there): "
                     + ", ".join(f"{f} imports {n}" for f, n in sorted(new)))


def test_allow_list_has_no_stale_entries():
    stale = ALLOWED - violations()
    assert not stale, f"fixed, remove from ALLOWED: {sorted(stale)}"


@pytest.mark.parametrize("code, bad", [
    ("from .network import _resolve_alpha\n", True),
    ("from .network import Network\n", False),
    ("from ._validation import _short\n", False),
    ("from .train import _reference\n", True),
    ("from .train._reference import loss_and_grad\n", True),
    ("def f():\n    from .splines import _check_data\n", True),
    ("from . import kernel as _k\nx = _k._gram\n", True),
    ("from . import kernel as _k\nx = _k.gram\n", False),
])
def test_the_scan_catches_what_it_should(tmp_path, monkeypatch, code, bad):
    # a fake file at the top of the package, scanned alone
    pkg = tmp_path / "relu1d"
    pkg.mkdir()
    for name in ("__init__", "network", "_validation", "kernel", "splines"):
        (pkg / f"{name}.py").write_text("")
    (pkg / "train").mkdir()
    (pkg / "train" / "__init__.py").write_text("")
    (pkg / "train" / "_reference.py").write_text("")
    (pkg / "probe.py").write_text(code)
    monkeypatch.setattr(f"{__name__}.SRC", pkg)
    assert bool(violations()) is bad
