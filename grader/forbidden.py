"""Forbidden library calls in a learner's definition of an exercise, found statically.

A forbidden name counts when the definition mentions it, with imports resolved
(``import torch.nn as nn`` ... ``nn.RNN`` is ``torch.nn.RNN``). The source is a list of
texts: one learner file for `course grade`, the cells a notebook's kernel has run (a
notebook has no file) for the nbgrader test cells. Imports count from every text; the
definition is the last one of that name, which is the one in use.

This module imports nothing from the grader: `course nbgrader` ships it, as it is, into
every assignment.
"""

from __future__ import annotations

import ast


def _parsed_cells(sources: list[str]) -> list[ast.Module]:
    trees = []
    for source in sources:
        try:
            trees.append(ast.parse(source))
        except (SyntaxError, ValueError):
            continue        # a broken cell defines nothing the kernel could have run
    return trees


def _import_aliases(trees: list[ast.Module]) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        aliases[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        aliases[top] = top
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def forbidden_in_sources(sources: list[str], definition: str, forbidden: tuple[str, ...] | list[str]) -> set[str]:
    """The entries of ``forbidden`` that the last top-level ``definition`` in ``sources``
    (texts in the order they ran) mentions."""
    if not forbidden:
        return set()
    trees = _parsed_cells(sources)
    targets = [node for tree in trees for node in tree.body if getattr(node, "name", None) == definition]
    if not targets:
        return set()
    aliases = _import_aliases(trees)
    found = set()
    for node in ast.walk(targets[-1]):
        if isinstance(node, (ast.Attribute, ast.Name)):
            name = _dotted(node)
            if name is None:
                continue
            head, _, rest = name.partition(".")
            full = aliases.get(head, head) + ("." + rest if rest else "")
            for banned in forbidden:
                if full == banned or full.startswith(banned + "."):
                    found.add(banned)
    return found
