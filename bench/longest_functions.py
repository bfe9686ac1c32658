"""The longest functions of the three packages, longest first: ``lines path:line name``.

    python bench/longest_functions.py [N]       # N = 15 by default

Lines are ``end_lineno - lineno + 1`` of each ``def`` (docstring, comments and inner functions included) in
``embeddings/``, ``cluster_toolkit/`` and ``playlists/``: the count of issue 13's one-liner, whose glob
``[ecp]*/**/*.py`` also took ``examples/`` (its longest function has 49 lines, below the top 20).
"""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("embeddings", "cluster_toolkit", "playlists")


def longest_functions(n: int = 15) -> list[tuple[int, str]]:
    found = [
        (node.end_lineno - node.lineno + 1, f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    return sorted(found, reverse=True)[:n]


if __name__ == "__main__":
    for lines, where in longest_functions(int(sys.argv[1]) if len(sys.argv) > 1 else 15):
        print(lines, where)
