"""The house's layering, read from the code itself: which modules may import what.

Read from the source (ast), not by importing, so a module that would pull Django in through a
package __init__ is judged by its own imports.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("segcampaign", "segments", "campaigns")

# Pure modules: pandas, NumPy, scikit-learn, Jinja... and each other, never Django.
PURE = [
    "segcampaign/csvsafe.py",
    "segments/features.py",
    "segments/plots.py",
    "segments/playbook.py",
    "segments/labels.py",
    "segments/sampledata.py",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "segments/clustering").glob("*.py")),
    *(f"segments/importing/{name}.py" for name in (
        "report", "fields", "reading", "cleaning", "attributes", "keys", "preparing", "pipeline", "sniffing",
    )),
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "segments/importing/formats").glob("*.py")),
    "campaigns/planning.py",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "campaigns/rendering").glob("*.py")),
]


def _module_path(module: str) -> Path | None:
    base = ROOT / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imports(path: Path) -> list[tuple[str, ast.AST]]:
    """(module imported, node) for every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            found.append((base, node))
            # `from segments import clustering` imports the module segments.clustering.
            found.extend((f"{base}.{alias.name}", node) for alias in node.names if _module_path(f"{base}.{alias.name}"))
    return found


@pytest.mark.parametrize("path", PURE)
def test_pure_modules_import_nothing_from_django(path):
    offending = []
    seen, todo = set(), [ROOT / path]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for module, _ in _imports(current):
            if module.split(".")[0] == "django":
                offending.append(f"{current.relative_to(ROOT)} imports {module}")
            elif module.split(".")[0] in PROJECT:
                target = _module_path(module)
                if target is not None and target.name != "__init__.py":
                    todo.append(target)
    assert offending == []


def _project_files():
    for app in PROJECT:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def test_no_project_import_hides_inside_a_function():
    # An import inside a function to dodge a cycle means a piece sits in the wrong module.
    hidden = []
    for path in _project_files():
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                for node in ast.walk(function):
                    if isinstance(node, ast.ImportFrom) and (
                        node.level or (node.module or "").split(".")[0] in PROJECT
                    ):
                        hidden.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert hidden == []


def test_segments_never_imports_campaigns():
    # Dependencies run one way: campaigns reads segments through its selectors, never the reverse.
    reverse = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((ROOT / "segments").rglob("*.py"))
        for module, _ in _imports(path)
        if module.split(".")[0] == "campaigns"
    ]
    assert reverse == []
