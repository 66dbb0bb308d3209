"""The package's layering (docs/architecture.md): argparse only in the command line, and nothing
below the command line imports it; the task layer imports no front end."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "rnnkit"
FRONT_ENDS = ("rnnkit.cli", "rnnkit.commands")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def library_modules() -> list[Path]:
    return [
        path
        for path in PACKAGE.rglob("*.py")
        if path.name not in ("cli.py", "__main__.py")
        and "commands" not in path.relative_to(PACKAGE).parts
    ]


def test_argparse_lives_only_in_the_command_line():
    offenders = [str(p.relative_to(PACKAGE)) for p in library_modules()
                 if "argparse" in imported_modules(p)]  # fmt: skip
    assert offenders == []


def test_nothing_below_the_command_line_imports_it():
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in library_modules()
        if any(m == f or m.startswith(f + ".") for m in imported_modules(p) for f in FRONT_ENDS)
    ]
    assert offenders == []
