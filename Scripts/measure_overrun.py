#!/usr/bin/env python3
"""Runs every instance of the MNIST-FC and ACAS Xu suites with a short `relumip vnnlib --timeout`,
measures each process's wall time, and reports how far past the limit the slowest ones ran.

    Scripts/measure_overrun.py --timeout 5 --jobs 2 --out overrun.jsonl
    Scripts/measure_overrun.py --suite mnistfc --match '256x[46].*_0.05' --timeout 60

Every command should return within about a second of its limit, whatever stage it is in. The
overrun of an instance is its wall time (process start to exit, as the caller sees it) minus the
limit. Instances and their runs are those of `run_suite.py` (paths relative to each CSV's folder),
with every limit replaced by `--timeout`. `--resume` skips instances already in `--out` at the
same limit; an existing `--out` is otherwise refused. Exit status: 0 when no overrun exceeds
`--slack`, 1 when one does, 64 on bad arguments.
"""
import argparse
import concurrent.futures
import json
import os
import re
import sys

from run_suite import HERE, read_instances, recorded, run_instance

SUITES = {
    "mnistfc": "mnistfc/mnistfc_instances.csv",
    "acasxu": "acasxu/acasxu_instances.csv",
}
DEFAULT_BENCH = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "bench"))


def key(record):
    return (record["suite"], record["onnx"], record["vnnlib"], record["timeout_s"])


def report(records, slack, worst):
    """Prints the worst overruns per suite; returns the largest overrun overall."""
    largest = float("-inf")
    for suite in sorted({r["suite"] for r in records}):
        ranked = sorted((r for r in records if r["suite"] == suite),
                        key=lambda r: r["overrun_s"], reverse=True)
        over = sum(1 for r in ranked if r["overrun_s"] > slack)
        print(f"\n{suite}: {len(ranked)} instances, largest overrun "
              f"{ranked[0]['overrun_s']:+.2f} s, {over} over the {slack:g} s slack")
        for record in ranked[:worst]:
            print(f"  {record['overrun_s']:+7.2f} s  {record['wall_s']:7.2f} s  "
                  f"{record['result']:8} {record['onnx']} {record['vnnlib']}")
        largest = max(largest, ranked[0]["overrun_s"])
    return largest


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=5.0, help="the limit for every run (s)")
    parser.add_argument("--slack", type=float, default=2.0,
                        help="the largest acceptable overrun (s); exit 1 past it")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--binary",
                        default=os.path.join(HERE, "..", ".build", "release", "relumip"))
    parser.add_argument("--suite", action="append", choices=sorted(SUITES),
                        help="run only this suite (repeatable; default: all)")
    parser.add_argument("--bench", default=DEFAULT_BENCH, help="the shared benchmark folder")
    parser.add_argument("--limit", type=int, help="only the first N instances of each suite")
    parser.add_argument("--match", type=re.compile, metavar="REGEX",
                        help="only instances where REGEX matches 'ONNX VNNLIB'")
    parser.add_argument("--out", help="append one JSON line per run here")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--worst", type=int, default=10, help="overruns listed per suite")
    args = parser.parse_args()
    if args.jobs < 1 or args.timeout <= 0 or (args.limit is not None and args.limit < 1):
        parser.exit(64, "error: --jobs, --timeout and --limit must be positive\n")
    if not os.access(args.binary, os.X_OK):
        parser.exit(64, f"error: {args.binary} is not an executable (swift build -c release)\n")

    instances = []
    for suite in args.suite or sorted(SUITES):
        csv_path = os.path.join(args.bench, SUITES[suite])
        if not os.path.exists(csv_path):
            parser.exit(64, f"error: {csv_path} is missing (--bench)\n")
        rows = read_instances(csv_path)
        if args.match:
            rows = [row for row in rows if args.match.search(f"{row[0]} {row[1]}")]
        instances += [(suite, row) for row in rows[:args.limit]]

    done = {}
    for record in recorded(args.out, args.resume, parser):
        try:
            done[key(record)] = record
        except KeyError:
            continue  # not a record of this script's
    todo = [(suite, row) for suite, row in instances
            if (suite, row[0], row[1], args.timeout) not in done]

    def run(item):
        suite, row = item
        record = run_instance(args.binary, row, args.timeout)
        record["suite"] = suite
        record["overrun_s"] = record["wall_s"] - args.timeout
        return record

    out = open(args.out, "a") if args.out else None
    try:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            futures = [pool.submit(run, item) for item in todo]
            for future in concurrent.futures.as_completed(futures):
                record = future.result()
                done[key(record)] = record
                if out:
                    out.write(json.dumps(record, sort_keys=True) + "\n")
                    out.flush()
                flag = "  OVER" if record["overrun_s"] > args.slack else ""
                print(f"{record['suite']} {record['onnx']} {record['vnnlib']}: "
                      f"{record['result']} in {record['wall_s']:.2f} s "
                      f"({record['overrun_s']:+.2f} s){flag}", flush=True)
    finally:
        if out:
            out.close()

    records = [done[(suite, row[0], row[1], args.timeout)] for suite, row in instances
               if (suite, row[0], row[1], args.timeout) in done]
    if not records:
        print("no instances run")
        return 0
    largest = report(records, args.slack, args.worst)
    print(f"\nlargest overrun {largest:+.2f} s at --timeout {args.timeout:g} "
          f"(slack {args.slack:g} s)")
    return 1 if largest > args.slack else 0


if __name__ == "__main__":
    sys.exit(main())
