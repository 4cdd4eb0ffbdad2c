#!/usr/bin/env python3
"""Where a batch run's time went: throughput, the share of each stage, the slowest instances.

Usage:
    python3 Scripts/batch_report.py results.jsonl [more.jsonl ...] [--slowest N]
        [--wall-times wall_times.tsv] [--markdown]

For each file, per norm and radius: the instances verified (misclassified examples are recorded,
not verified), their summed time, and the share of instances that each stage settled
(`settled_by`: bounds, attack, heuristic = the LP point or the linear-region walk,
branch-and-cut, relu-split, none = unknown), with the time those instances took. Then the N slowest
instances. Throughput per core is instances ÷ summed instance time: each worker thread runs one
instance at a time, so this is what one core does; with --wall-times (the log that
Scripts/fashion_test_set.sh writes: start, norm, seconds, instances, jobs) also instances ÷
(wall time × jobs), which includes reading the images and any idle worker at the end of a run.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plot_results import read_records  # noqa: E402

STAGES = ["bounds", "attack", "heuristic", "branch-and-cut", "relu-split", "none"]


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile, as `relumip summarize` computes it."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def report(path: Path, slowest: int) -> None:
    records = read_records(path)
    verified = [r for r in records if r["result"] not in ("misclassified", "error")]
    errors = [r for r in records if r["result"] == "error"]
    print(f"{path}: {len(records)} instances, {len(verified)} verified, {len(errors)} errors")
    groups: dict[tuple[str, float], list[dict]] = defaultdict(list)
    for record in verified:
        groups[(record["norm"], float(record["delta"]))].append(record)
    header = f"{'norm':>5} {'delta':>7} {'verified':>8} {'time s':>9} {'per core/s':>10}  " + "  ".join(
        f"{stage:>20}" for stage in STAGES)
    print(header)
    print("-" * len(header))
    total_time = 0.0
    for (norm, delta), group in sorted(groups.items()):
        times = [r["time_s"] or 0.0 for r in group]
        total = sum(times)
        total_time += total
        cells = []
        for stage in STAGES:
            members = [r for r in group if (r.get("settled_by") or "none") == stage]
            share = 100 * len(members) / len(group)
            stage_time = sum(r["time_s"] or 0.0 for r in members)
            cells.append(f"{share:5.1f}% {stage_time:9.1f} s")
        rate = len(group) / total if total > 0 else float("inf")
        print(f"{norm:>5} {delta:>7g} {len(group):>8} {total:>9.1f} {rate:>10.1f}  "
              + "  ".join(f"{cell:>20}" for cell in cells))
    if verified:
        rate = len(verified) / total_time if total_time > 0 else float("inf")
        times = [r["time_s"] or 0.0 for r in verified]
        print(f"all: {len(verified)} verified in {total_time:.1f} s of instance time: "
              f"{rate:.1f} instances per second per core; median {percentile(times, 0.5):.3f} s, "
              f"p90 {percentile(times, 0.9):.3f} s, p99 {percentile(times, 0.99):.3f} s, "
              f"max {max(times):.1f} s")
    if slowest > 0 and verified:
        print(f"slowest {min(slowest, len(verified))}:")
        for record in sorted(verified, key=lambda r: -(r["time_s"] or 0.0))[:slowest]:
            print(f"  example {record['example']:>5} {record['norm']} {record['delta']:<6g} "
                  f"{record['result']:<14} by {record.get('settled_by') or 'none':<15} "
                  f"{record['time_s'] or 0.0:7.2f} s, {record.get('binaries') or 0} binaries, "
                  f"{record.get('nodes') or 0} nodes")
    for record in errors[:10]:
        print(f"  error: example {record['example']} {record['norm']} {record['delta']}: "
              f"{record.get('reason')}")
    print()


def markdown_table(paths: list[Path]) -> None:
    """One Markdown row per norm and radius: the summary a README shows."""
    print("| norm | δ | instances | robust | counterexample | unknown | misclassified "
          "| verified robust accuracy | upper bound | median s | p90 s | max s "
          "| settled by bounds / attack / LP point or walk / branch-and-cut / relu-split |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for path in paths:
        groups: dict[tuple[str, float], list[dict]] = defaultdict(list)
        for record in read_records(path):
            groups[(record["norm"], float(record["delta"]))].append(record)
        for (norm, delta), group in sorted(groups.items()):
            count = defaultdict(int)
            for record in group:
                count[record["result"]] += 1
            n = len(group)
            verified = [r for r in group if r["result"] not in ("misclassified", "error")]
            times = [r["time_s"] or 0.0 for r in verified] or [0.0]
            stages = [sum(1 for r in verified if r.get("settled_by") == stage) for stage in STAGES[:5]]
            share = " / ".join(f"{100 * k / max(1, len(verified)):.1f}%" for k in stages)
            name = "L∞" if norm == "linf" else "L1" if norm == "l1" else norm
            print(f"| {name} | {delta:g} | {n} | {count['robust']} | {count['counterexample']} "
                  f"| {count['unknown']} | {count['misclassified']} "
                  f"| {100 * count['robust'] / n:.1f}% "
                  f"| {100 * (1 - (count['counterexample'] + count['misclassified']) / n):.1f}% "
                  f"| {percentile(times, 0.5):.3f} | {percentile(times, 0.9):.3f} "
                  f"| {max(times):.1f} | {share} |")


def wall_report(path: Path) -> None:
    """Instances per second per core from the wall-time log, per norm."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if len(fields) != 5:
            continue
        _, norm, seconds, instances, jobs = fields
        totals[norm][0] += float(seconds)
        totals[norm][1] += int(instances)
        totals[norm][2] += float(seconds) * int(jobs)
    for norm, (seconds, instances, core_seconds) in sorted(totals.items()):
        rate = instances / core_seconds if core_seconds > 0 else float("nan")
        print(f"wall time {norm}: {seconds:.0f} s for {instances:.0f} instances "
              f"(misclassified included): {rate:.1f} instances per second per core")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="result files of relumip batch")
    parser.add_argument("--slowest", type=int, default=10, help="how many slowest instances")
    parser.add_argument("--wall-times", type=Path, help="the wall-time log of a run")
    parser.add_argument("--markdown", action="store_true",
                        help="print only a Markdown table of the runs, one row per radius")
    args = parser.parse_args(argv)
    if args.markdown:
        markdown_table(args.files)
        return 0
    for path in args.files:
        report(path, args.slowest)
    if args.wall_times and args.wall_times.exists():
        wall_report(args.wall_times)
    return 0


if __name__ == "__main__":
    sys.exit(main())
