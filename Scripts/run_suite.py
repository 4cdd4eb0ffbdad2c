#!/usr/bin/env python3
"""Runs a VNN-COMP instances CSV (onnx,vnnlib,timeout) with `relumip vnnlib`, records one JSON
line per instance, and prints the tally against a ground-truth CSV.

    Scripts/run_suite.py ../shared/bench/acasxu/acasxu_instances.csv \
        --ground-truth ../shared/bench/ground_truth/acasxu.csv --out acasxu.jsonl --jobs 2

Paths in the instances CSV are relative to its folder. `--resume` skips instances already in
`--out`; an existing `--out` is otherwise refused. Exit status: 0 when no answer contradicts the
ground truth, 1 when one does (a wrong answer), 64 on bad arguments.
"""
import argparse
import concurrent.futures
import csv
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def read_instances(path):
    folder = os.path.dirname(os.path.abspath(path))
    instances = []
    with open(path, newline="") as handle:
        for row in csv.reader(handle):
            if not row or row[0].startswith("#") or row[0] == "onnx":
                continue
            if len(row) < 3:
                sys.exit(f"error: {path}: expected onnx,vnnlib,timeout, found {row}")
            instances.append((row[0].strip(), row[1].strip(), float(row[2]), folder))
    return instances


def read_ground_truth(path):
    truth = {}
    if not path:
        return truth
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            truth[(row["onnx"], row["vnnlib"])] = row["ground_truth"]
    return truth


def run_instance(binary, instance, timeout_override):
    onnx, vnnlib, timeout, folder = instance
    limit = timeout_override or timeout
    command = [binary, "vnnlib", os.path.join(folder, onnx), os.path.join(folder, vnnlib),
               "--timeout", str(limit), "--json"]
    start = time.monotonic()
    try:
        # The tool stops itself at the limit; the extra minute only catches a hang.
        done = subprocess.run(command, capture_output=True, text=True, timeout=limit + 60)
        record = json.loads(done.stdout) if done.stdout.strip() else {}
        if not record:
            record = {"result": "error", "reason": done.stderr.strip()[-500:]}
    except subprocess.TimeoutExpired:
        record = {"result": "timeout", "reason": "killed by the suite runner"}
    except json.JSONDecodeError:
        record = {"result": "error", "reason": "unreadable output"}
    record["wall_s"] = time.monotonic() - start
    record["onnx"], record["vnnlib"], record["timeout_s"] = onnx, vnnlib, limit
    record.pop("counterexample", None)
    return record


def recorded(path, resume, parser):
    """The records of an earlier run in `path` (none if it is missing). Without `resume` an
    existing file is an error (exit 64); a torn last line is skipped, so its instance runs again."""
    if not path or not os.path.exists(path):
        return []
    if not resume:
        parser.exit(64, f"error: {path} exists; use --resume to continue it\n")
    records = []
    with open(path) as handle:
        for line in handle:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def verdict_of(record, truth):
    expected = truth.get((record["onnx"], record["vnnlib"]))
    result = record["result"]
    if expected not in ("sat", "unsat") or result not in ("sat", "unsat"):
        return "unanswered" if result not in ("sat", "unsat") else "no ground truth"
    return "correct" if result == expected else "WRONG"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("instances")
    parser.add_argument("--ground-truth")
    parser.add_argument("--out", required=True)
    parser.add_argument("--binary", default=os.path.join(HERE, "..", ".build", "release", "relumip"))
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--timeout", type=float, help="override every instance's limit (s)")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--filter", help="only instances whose onnx or vnnlib name contains this")
    args = parser.parse_args()
    if args.jobs < 1 or (args.timeout is not None and args.timeout <= 0):
        parser.exit(64, "error: --jobs and --timeout must be positive\n")
    if not os.access(args.binary, os.X_OK):
        parser.exit(64, f"error: {args.binary} is not an executable (swift build -c release)\n")
    instances = read_instances(args.instances)
    if args.filter:
        instances = [i for i in instances if args.filter in i[0] or args.filter in i[1]]
    truth = read_ground_truth(args.ground_truth)

    done = {(r["onnx"], r["vnnlib"]): r for r in recorded(args.out, args.resume, parser)}
    todo = [i for i in instances if (i[0], i[1]) not in done]
    lock = threading.Lock()
    with open(args.out, "a") as out, concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run_instance, args.binary, i, args.timeout) for i in todo]
        for future in concurrent.futures.as_completed(futures):
            record = future.result()
            with lock:
                out.write(json.dumps(record, sort_keys=True) + "\n")
                out.flush()
                os.fsync(out.fileno())
                done[(record["onnx"], record["vnnlib"])] = record
                print(f"{record['onnx']} {record['vnnlib']}: {record['result']} in "
                      f"{record['wall_s']:.2f} s ({verdict_of(record, truth)})", flush=True)

    records = [done[(i[0], i[1])] for i in instances if (i[0], i[1]) in done]
    tally = {}
    for record in records:
        tally.setdefault(verdict_of(record, truth), []).append(record)
    results = {}
    for record in records:
        results[record["result"]] = results.get(record["result"], 0) + 1
    total_time = sum(r.get("wall_s", 0) for r in records)
    print(f"\n{len(records)} instances: " + ", ".join(f"{k} {v}" for k, v in sorted(results.items())))
    for key in ("correct", "WRONG", "unanswered", "no ground truth"):
        print(f"  {key:16} {len(tally.get(key, []))}")
    print(f"  total wall time {total_time:.1f} s")
    for record in tally.get("WRONG", []):
        print(f"WRONG: {record['onnx']} {record['vnnlib']}: {record['result']}, "
              f"ground truth {truth[(record['onnx'], record['vnnlib'])]}")
    return 1 if tally.get("WRONG") else 0


if __name__ == "__main__":
    sys.exit(main())
