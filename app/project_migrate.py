"""Bringing an older project up to date on load, before it is checked.

A project may define its own composite block under a name the catalogue has since taken
for a built-in block (a user's "Fire" or "Upsample" saved before NetCanvas had those).
Every "Fire" in such a file meant the user's block, so that definition is renamed to a
free name ("Fire (mine)") and every node that uses it, at the top and inside other
blocks, is rewritten with it; the file opens as it was drawn and saving writes the new name.

Only an unambiguous collision is renamed: a well-formed definition that is the only one of
its name. Anything else (two definitions of one name, a name that is not a string) is left
for project_check to refuse with its usual message. The walk looks at a value's type before
using it and is linear in the file, so a hostile file gets no further here than in the check.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from blocks import REGISTRY

from .project_check import MAX_DEFINITIONS


def rename_catalogue_collisions(data: Any) -> tuple[Any, list[str]]:
    """(data with each colliding definition renamed, a one-line note saying so or []).

    `data` itself is not changed: the dicts and lists that change are copies."""
    if not isinstance(data, dict):
        return data, []
    renamed = catalogue_renames(data.get("definitions"))
    if not renamed:
        return data, []
    said = ", ".join(f"{old} → “{new}”" for old, new in renamed.items())
    many = len(renamed) > 1
    note = (f"Renamed your block{'s' * many} {said}: NetCanvas now has a built-in block "
            f"of {'those names' if many else 'that name'}; saving keeps the new "
            f"name{'s' * many}")
    return with_renames(data, renamed), [note]


def catalogue_renames(defs: Any) -> dict[str, str]:
    """old name → new name, for each definition that is the only one of a catalogue name."""
    if not isinstance(defs, list) or len(defs) > MAX_DEFINITIONS:
        return {}
    names = Counter(d["name"] for d in defs if isinstance(d, dict)
                    and isinstance(d.get("name"), str))
    taken = set(names) | set(REGISTRY)
    renamed = {}
    for old in sorted(n for n, count in names.items() if n in REGISTRY and count == 1):
        renamed[old] = _free_name(old, taken)
        taken.add(renamed[old])
    return renamed


def with_renames(data: dict, renamed: dict[str, str]) -> dict:
    """A copy of a project (or library) dict with the definitions renamed and every node
    that uses one, at the top and inside definitions, pointing at the new name."""
    out = dict(data)
    if isinstance(data.get("nodes"), list):
        out["nodes"] = _renamed_nodes(data["nodes"], renamed)
    if isinstance(data.get("definitions"), list):
        out["definitions"] = [_renamed_definition(d, renamed) for d in data["definitions"]]
    return out


def _free_name(old: str, taken: set[str]) -> str:
    """'Fire (mine)', else 'Fire (mine 2)', … — readable, and clearly the user's own."""
    name, i = f"{old} (mine)", 2
    while name in taken:
        name, i = f"{old} (mine {i})", i + 1
    return name


def _renamed_definition(d: Any, renamed: dict[str, str]) -> Any:
    if not isinstance(d, dict):
        return d
    out = dict(d)
    if isinstance(d.get("name"), str) and d["name"] in renamed:
        out["name"] = renamed[d["name"]]
    if isinstance(d.get("nodes"), list):
        out["nodes"] = _renamed_nodes(d["nodes"], renamed)
    return out


def _renamed_nodes(nodes: list, renamed: dict[str, str]) -> list:
    return [dict(n, type=renamed[n["type"]])
            if isinstance(n, dict) and isinstance(n.get("type"), str) and n["type"] in renamed
            else n for n in nodes]
