"""Command-line speed: `netcanvas summary/validate` beside a bare `python -c pass`.

Run: python benchmarks/bench_cli.py [--runs N]
Each command is a fresh process (as a user runs it), timed wall clock, best and median of
N; the baseline is the interpreter starting and doing nothing, measured in the same run.
Then one `-X importtime` run lists what the summary imported that it should not need.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = "resources/templates/resnet50.json"
HEAVY = ("torch", "sympy", "numpy", "networkx", "PySide6", "onnx", "sklearn")


def env() -> dict[str, str]:
    # this checkout's app, whatever an editable install elsewhere points at
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def timed(cmd: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall times and CPU times (user + system) of `runs` fresh processes. On a busy
    machine the CPU time is the steadier figure: it leaves out waiting for a core."""
    wall, cpu = [], []
    for _ in range(runs):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env(), stdout=subprocess.DEVNULL, check=False)
        wall.append(time.perf_counter() - t)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    return wall, cpu


def heavy_imports(cmd: list[str]) -> list[str]:
    """Top-level packages from HEAVY that the command imports (from -X importtime)."""
    err = subprocess.run([sys.executable, "-X", "importtime", *cmd[1:]], cwd=ROOT, env=env(),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         check=False).stderr
    found = set()
    for line in err.splitlines():
        name = line.rsplit("|", 1)[-1].strip()
        if name.split(".")[0] in HEAVY:
            found.add(name.split(".")[0])
    return sorted(found)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    py = sys.executable
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; wall best / median "
          f"and CPU best of {args.runs} fresh processes")
    base = None
    for what, cmd, goal in (
            ("python -c pass (baseline)", [py, "-c", "pass"], ""),
            ("python -c 'import networkx' (for scale)", [py, "-c", "import networkx"], ""),
            ("netcanvas summary resnet50 --json", [py, "-m", "app", "summary", TEMPLATE, "--json"],
             "goal ≤ 300 ms"),
            ("netcanvas validate resnet50", [py, "-m", "app", "validate", TEMPLATE], "")):
        wall, cpu = timed(cmd, args.runs)
        base = base or (min(wall), min(cpu))
        line = (f"  {what:<42} {min(wall) * 1000:6.0f} / {statistics.median(wall) * 1000:6.0f} ms"
                f"  CPU {min(cpu) * 1000:5.0f} ms")
        if base != (min(wall), min(cpu)):
            line += (f"   {min(wall) / base[0]:4.1f}× the baseline, "
                     f"+{(min(wall) - base[0]) * 1000:.0f} ms (CPU +{(min(cpu) - base[1]) * 1000:.0f} ms)")
        print(line + (f"   {goal}" if goal else ""))
    cmd = [py, "-m", "app", "summary", TEMPLATE, "--json"]
    print(f"  heavy packages imported by the summary: {', '.join(heavy_imports(cmd)) or 'none'}")


if __name__ == "__main__":
    main()
