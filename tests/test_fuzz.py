"""10,000 generated hostile project files through load → validate → summary → (for a
sample of the valid ones) the Python export, in-process: each is a clean refusal or a
project, never an exception (issue 12). The generator is seeded, so a failure names a
case that can be replayed with `python tests/fuzz_projects.py N SEED`."""
import json
import time

from fuzz_projects import cases, run_case

CASES = 10_000
EXPORT_EVERY = 10  # the Python export for every 10th case (valid ones only): CI's time


def test_ten_thousand_hostile_files_never_crash():
    counts = {"refused": 0, "has errors": 0, "valid": 0, "exported": 0}
    crashes = []
    t = time.perf_counter()
    for i, case in enumerate(cases(CASES, seed=12)):
        try:
            counts[run_case(case, export_python=i % EXPORT_EVERY == 0)] += 1
        except Exception as exc:  # noqa: BLE001 - every escape is what this test looks for
            crashes.append((i, f"{type(exc).__name__}: {exc}", json.dumps(case)[:300]))
    seconds = time.perf_counter() - t
    accepted = counts["has errors"] + counts["valid"] + counts["exported"]
    print(f"\nfuzz: {CASES} cases, {counts['refused']} refused, {accepted} accepted "
          f"({counts['has errors']} with graph errors, {counts['valid'] + counts['exported']} "
          f"valid, {counts['exported']} exported to Python), {len(crashes)} crashes, "
          f"{seconds:.0f} s")
    assert not crashes, crashes[:5]
    # every outcome is exercised in bulk: the run is neither all refusals nor all valid
    assert counts["refused"] > 1000 and counts["has errors"] > 500
    assert counts["valid"] > 500 and counts["exported"] > 50
