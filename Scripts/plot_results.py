#!/usr/bin/env python3
"""Plot verified robust accuracy against the radius from `relumip batch` result files.

Usage:
    python3 Scripts/plot_results.py results.jsonl [more.jsonl ...] --out robustness.png
        [--title TEXT] [--label NAME ...]

For each file (and each norm and target choice in it) one line: the verified robust accuracy
(robust / instances) at each radius, and, dashed, its upper bound from the counterexamples found
(1 - (counterexample + misclassified) / instances); the band between them is where the true
robust accuracy lies (unknown and error instances). The definitions are those of
`relumip summarize`. If a file records an instance more than once, the last line counts; a torn
last line (an interrupted run) is skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path


def read_records(path: Path) -> list[dict]:
    """The records of a result file, the last one of each key winning."""
    latest: dict[tuple, dict] = {}
    lines = path.read_text(encoding="utf-8").split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number >= len(lines) - 1:  # the last line: torn by an interrupted run
                print(f"{path}: line {number} is torn; skipped", file=sys.stderr)
                continue
            raise SystemExit(f"{path}: line {number} is not JSON")
        key = (record["example"], record["norm"], record["delta"], record["target_choice"])
        latest[key] = record
    return list(latest.values())


def accuracy_curves(records: list[dict]) -> dict[tuple[str, str], list[tuple[float, float, float, int]]]:
    """(norm, target) -> [(delta, verified accuracy, upper bound, instances)], by delta."""
    counts: dict[tuple[str, str, float], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for record in records:
        group = counts[(record["norm"], record["target_choice"], float(record["delta"]))]
        group["instances"] += 1
        group[record["result"]] += 1
    curves: dict[tuple[str, str], list[tuple[float, float, float, int]]] = defaultdict(list)
    for (norm, target, delta), group in sorted(counts.items()):
        n = group["instances"]
        verified = group["robust"] / n
        upper = 1 - (group["counterexample"] + group["misclassified"]) / n
        curves[(norm, target)].append((delta, verified, upper, n))
    return curves


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="result files of relumip batch")
    parser.add_argument("--out", type=Path, required=True, help="the PNG file to write")
    parser.add_argument("--title", default="Verified robust accuracy")
    parser.add_argument("--label", action="append", default=None,
                        help="a legend name per file (default: the file names)")
    args = parser.parse_args(argv)
    if args.label is not None and len(args.label) != len(args.files):
        parser.error("give one --label per file")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.ticker
    import matplotlib.pyplot as plt

    # One panel per norm: L1 and L∞ radii differ by orders of magnitude.
    series = []
    for index, path in enumerate(args.files):
        name = args.label[index] if args.label else path.stem
        curves = accuracy_curves(read_records(path))
        if not curves:
            print(f"{path}: no results", file=sys.stderr)
        for (norm, target), points in sorted(curves.items()):
            series.append((name, norm, target, points))
    norms = sorted({norm for _, norm, _, _ in series}) or ["?"]
    figure, panels = plt.subplots(1, len(norms), figsize=(6 * len(norms), 4.5), dpi=100,
                                  squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for column, norm in enumerate(norms):
        axes = panels[0][column]
        line = 0
        radii = []
        for name, series_norm, target, points in series:
            if series_norm != norm:
                continue
            color = colors[line % len(colors)]
            line += 1
            deltas = [p[0] for p in points]
            radii += deltas
            verified = [100 * p[1] for p in points]
            upper = [100 * p[2] for p in points]
            counts = [p[3] for p in points]
            count = max(counts)
            suffix = "" if target == "all" else f", target {target}"
            # Robust against one label is not verified robust accuracy: a third label may win.
            lower = "verified" if target == "all" else f"robust vs {target} only (not verified)"
            axes.plot(deltas, verified, "o-", color=color,
                      label=f"{name}{suffix}: {lower} ({count} instances per radius)")
            axes.plot(deltas, upper, "v--", color=color, alpha=0.8,
                      label=f"{name}{suffix}: upper bound (counterexamples found)")
            axes.fill_between(deltas, verified, upper, color=color, alpha=0.12)
            # A radius with fewer instances (a run still going) says how many it has.
            for delta, value, n in zip(deltas, verified, counts):
                if n < count:
                    axes.annotate(f"n={n}", (delta, value), textcoords="offset points",
                                  xytext=(4, 6), fontsize="x-small", color=color)
        positive = [r for r in radii if r > 0]
        if positive and max(positive) / min(positive) >= 10:
            axes.set_xscale("log")
            # Ticks at the radii run, written as given (log axes label powers of ten otherwise).
            axes.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            axes.set_xticks(sorted(set(positive)), [f"{r:g}" for r in sorted(set(positive))])
        axes.set_xlabel(f"radius δ ({'L∞' if norm == 'linf' else 'L1' if norm == 'l1' else norm})")
        axes.set_ylabel("robust accuracy (%)")
        axes.set_ylim(-2, 102)
        axes.grid(True, alpha=0.3)
        if line:
            axes.legend(fontsize="x-small")
    figure.suptitle(args.title)
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.out.with_name(f".{args.out.name}.tmp.png")
    figure.savefig(temporary)
    temporary.replace(args.out)  # never a partial picture
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
