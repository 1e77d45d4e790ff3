"""`netcanvas runs PROJECT`: the project's training runs as a table (or --json).

Exit codes: 0 (also when there are no runs yet: that is not an error), 2 the project file
does not exist. No Qt, no torch is imported here.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .runs import find_runs, summarize, table


def add_arguments(p) -> None:
    p.add_argument("file", help="the project (.json) whose runs to list")
    p.add_argument("--dir", action="append", metavar="DIR",
                   help="look for run folders under DIR (repeatable; default: runs/ beside "
                        "the project and in the current directory)")
    p.add_argument("--json", action="store_true", help="one JSON list on stdout")


def run(args) -> int:
    if not Path(args.file).is_file():
        print(f"netcanvas runs: {args.file}: no such project file", file=sys.stderr)
        return 2
    rows = summarize(find_runs(args.file, args.dir))
    if args.json:
        print(json.dumps(rows))
    elif rows:
        print(table(rows))
    else:
        where = ", ".join(args.dir) if args.dir else "runs/ beside it or here"
        print(f"no runs of {args.file} yet (looked in {where}); start one with "
              f"`netcanvas train {args.file}`", file=sys.stderr)
    return 0
