"""Domain packages never import the adapters (web, workers, CLI)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "newsletter"
ADAPTERS = ("workers", "newsletter.web", "newsletter.cli")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_domain_modules_do_not_import_adapters() -> None:
    offenders = []
    domain_files = [
        path
        for path in PACKAGE.rglob("*.py")
        if "web" not in path.relative_to(PACKAGE).parts and path.name != "cli.py"
    ]
    assert domain_files
    for path in domain_files:
        for module in imported_modules(path):
            if module.startswith(ADAPTERS):
                offenders.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert offenders == []
