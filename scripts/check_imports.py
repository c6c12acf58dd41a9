"""The package-level import graph, and the rules it must keep (make lint).

    python -m scripts.check_imports          # check; prints the graph
    python -m scripts.check_imports --mermaid

Rules: the domain core (`faq`) imports no other project package and no
adapter library (Rasa, the Rasa SDK, Sanic, aiohttp, spaCy); no package imports
`scripts` (command-line entry points); no cycle between packages.
"""

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Set

from faq.settings import PROJECT_ROOT

PACKAGES = ("faq", "nlu", "triage", "actions", "channels", "stores", "review", "scripts", "widget")
CORE = "faq"
ADAPTER_LIBRARIES = ("rasa", "rasa_sdk", "sanic", "aiohttp", "spacy", "medspacy")


def imported_modules(path: Path) -> Set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def package_graph(root: Path = PROJECT_ROOT) -> Dict[str, Dict[str, Set[str]]]:
    """package -> imported top-level name -> the files that import it."""
    graph: Dict[str, Dict[str, Set[str]]] = {p: defaultdict(set) for p in PACKAGES}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            for module in imported_modules(path):
                top = module.split(".")[0]
                if top != package:
                    graph[package][top].add(str(path.relative_to(root)))
    return graph


def cycles(edges: Dict[str, Set[str]]) -> List[List[str]]:
    found: List[List[str]] = []

    def visit(node: str, path: List[str]) -> None:
        for nxt in sorted(edges.get(node, ())):
            if nxt in path:
                cycle = path[path.index(nxt) :] + [nxt]
                if min(cycle[:-1]) == cycle[0]:  # report each cycle once
                    found.append(cycle)
            else:
                visit(nxt, path + [nxt])

    for start in sorted(edges):
        visit(start, [start])
    return found


def problems(graph: Dict[str, Dict[str, Set[str]]]) -> List[str]:
    found = []
    for name, files in graph[CORE].items():
        if name in PACKAGES or name in ADAPTER_LIBRARIES:
            found.append(f"the core imports {name}: {', '.join(sorted(files))}")
    for package, imports in graph.items():
        if "scripts" in imports and package != "scripts":
            found.append(f"{package} imports the command-line scripts: {', '.join(sorted(imports['scripts']))}")
    project_edges = {p: {i for i in imports if i in PACKAGES} for p, imports in graph.items()}
    for cycle in cycles(project_edges):
        found.append("import cycle: " + " -> ".join(cycle))
    return found


def describe(graph: Dict[str, Dict[str, Set[str]]], mermaid: bool = False) -> str:
    lines = ["graph TD"] if mermaid else []
    for package in PACKAGES:
        targets = sorted(i for i in graph[package] if i in PACKAGES)
        if mermaid:
            lines += [f"  {package} --> {target}" for target in targets]
        else:
            lines.append(f"{package:9} -> {', '.join(targets) or '(nothing of the project)'}")
    return "\n".join(lines)


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mermaid", action="store_true", help="print the graph as a Mermaid diagram")
    args = parser.parse_args(argv)
    graph = package_graph()
    print(describe(graph, mermaid=args.mermaid))
    found = problems(graph)
    for problem in found:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
