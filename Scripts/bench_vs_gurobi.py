#!/usr/bin/env python3
"""Benchmark ReluMIP against the reference: Gurobi Machine Learning's adversarial MNIST example.

For every instance (example, delta) of the seed network the script solves, one after the
other on this machine, the same question twice:

* **ReluMIP**: a subprocess ``relumip verify MODEL.onnx --images IMAGES.npy --example N
  --norm l1 --delta D --json --time-limit S`` (runner-up target, box [0, 1]). Its time is the
  wall-clock time of the whole process (start to answer), and the ``time_s`` it reports.
* **the reference**: gurobipy + gurobi-machinelearning building the formulation of Gurobi ML's
  published ``adversarial_mnist`` example: variables ``x`` (1, 784) in [0, 1], ``y`` (1, 10)
  free, ``abs_diff`` (1, 784) in [0, 1] with ``abs_diff >= x - x̄``, ``abs_diff >= x̄ - x``,
  ``sum(abs_diff) <= delta``; the scikit-learn ``MLPClassifier`` with its output activation
  switched to ``identity`` (the logits: softmax dropped) inserted with
  ``add_mlp_regressor_constr``; objective ``max y[wrong] - y[right]`` where ``right`` / ``wrong``
  are the last two entries of ``argsort(predict_proba(x̄))``; ``BestObjStop = BestBdStop = 0``,
  ``Threads = 2``, ``TimeLimit`` = the same limit. (gurobi-machinelearning 1.7 does not register
  ``MLPClassifier`` with ``add_predictor_constr``, hence the example's own route.) Its times are
  Gurobi's ``Runtime`` and the wall-clock time of the ``optimize()`` call; model building is
  recorded apart (``build_s``), not counted.

Verdicts of the reference: ``counterexample`` if Gurobi holds an incumbent whose input, run
through an exact numpy forward pass of the network, has margin ``logit[wrong] - logit[right] > 0``
and lies in the ball ∩ box (to 1e-6); ``robust`` if the final bound ``ObjBound <= 0``; otherwise
``unknown`` (time limit, or an incumbent that does not re-check). ReluMIP's counterexamples are
re-checked the same way.

The per-instance ratio is ``ReluMIP process wall time / Gurobi Runtime``: ReluMIP pays for its
process start and model loading, the reference only for its solve (conservative for ReluMIP).

Printed: one table row per instance, then the disagreements (both decisive, different verdicts),
the undecided instances (unknown / error on either side, with ReluMIP's JSON), the verdict counts
per solver, total times and the total ratio, the median ratio; finally "the seed case end to end"
(example 26, delta 5 by default): N runs of the ReluMIP process versus N fresh solves of the
reference, medians and their ratio.

Requirements: numpy, scikit-learn 1.9 and joblib (``Scripts/requirements.txt``), gurobipy and
gurobi-machinelearning (``Scripts/requirements-bench.txt``); gurobipy's bundled size-limited
licence is enough (the reference model has 1679 rows and 1778 columns).

Examples::

    # smoke test: examples 0..4 at delta 1 and 5, and the seed case
    python3 Scripts/bench_vs_gurobi.py --quick

    # the full benchmark of issue 6 (examples 0..19, delta 0.5, 1, 2, 5), saving records
    python3 Scripts/bench_vs_gurobi.py --binary /tmp/relumip-bench --jsonl /tmp/bench.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
SEED_DIR = Path("/work/shared/seed")
DEFAULT_JOBLIB = SEED_DIR / "mnist__mlpclassifier.joblib"
DEFAULT_ONNX = SEED_DIR / "mnist_mlp_50x50.onnx"
DEFAULT_IMAGES = SEED_DIR / "mnist_first100_images.npy"
DEFAULT_BINARY = Path(".build/release/relumip")

QUICK_EXAMPLES = "0..4"
QUICK_DELTAS = "1,5"

#: Tolerance for re-checking that a point lies in the ball ∩ box.
FEAS_TOL = 1e-6

#: ReluMIP's exit status → verdict.
EXIT_VERDICTS = {0: "robust", 10: "counterexample", 20: "unknown"}

VERDICTS = ("robust", "counterexample", "unknown", "error")


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def parse_int_list(text: str) -> list[int]:
    """Parse ``"0..19"``, ``"0-4,7,9..11"`` or ``"3"`` into a list of ints (order kept)."""
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        for sep in ("..", "-"):
            if sep in part[1:]:
                lo, hi = part.split(sep, 1)
                out.extend(range(int(lo), int(hi) + 1))
                break
        else:
            out.append(int(part))
    if not out:
        raise argparse.ArgumentTypeError(f"no integers in {text!r}")
    return out


def parse_float_list(text: str) -> list[float]:
    """Parse ``"0.5,1,2,5"`` into a list of floats."""
    values = [float(p) for p in text.split(",") if p.strip()]
    if not values or any(v < 0 or not math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"need finite deltas >= 0, got {text!r}")
    return values


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(
        description="ReluMIP versus Gurobi ML's adversarial MNIST example, side by side.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--binary", type=Path, default=DEFAULT_BINARY,
                   help="the relumip executable (relative paths are taken from the repo root)")
    p.add_argument("--model", type=Path, default=DEFAULT_ONNX, help="ONNX network for ReluMIP")
    p.add_argument("--images", type=Path, default=DEFAULT_IMAGES, help=".npy images for ReluMIP")
    p.add_argument("--joblib", type=Path, default=DEFAULT_JOBLIB,
                   help="joblib dict with the scikit-learn MLPClassifier under 'predictor'")
    p.add_argument("--examples", type=parse_int_list, default=None,
                   help="example indices, e.g. 0..19 or 0,3,5..7 (default 0..19)")
    p.add_argument("--deltas", type=parse_float_list, default=None,
                   help="L1 radii, comma separated (default 0.5,1,2,5)")
    p.add_argument("--relumip-arg", action="append", default=[], metavar="ARG",
                   help="an extra argument for every relumip run (repeat it), e.g. "
                        "--relumip-arg=--bounds --relumip-arg=symbolic")
    p.add_argument("--time-limit", type=float, default=120.0, help="seconds per solve, both solvers")
    p.add_argument("--threads", type=int, default=2, help="Gurobi Threads")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke test: examples {QUICK_EXAMPLES} at deltas {QUICK_DELTAS} "
                        "(unless --examples/--deltas are given)")
    p.add_argument("--jsonl", type=Path, default=None, help="append one JSON record per solve here")
    p.add_argument("--seed-example", type=int, default=26, help="the seed case: example")
    p.add_argument("--seed-delta", type=float, default=5.0, help="the seed case: delta")
    p.add_argument("--seed-runs", type=int, default=5,
                   help="runs of the seed case end to end (0 to skip)")
    p.add_argument("--gurobi-log", action="store_true", help="show Gurobi's log")
    p.add_argument("--distortion", type=parse_int_list, default=None, metavar="EXAMPLES",
                   help="instead of the decision table: run relumip --minimize-distance on these "
                        "examples (up to --max-distance) and confirm each proven lower bound "
                        "with a reference decision run at it (it must be robust) and each "
                        "counterexample distance with one at it (it must find one)")
    p.add_argument("--max-distance", type=float, default=10.0,
                   help="the largest L1 distance --distortion searches")
    return p


# --------------------------------------------------------------------------------------------
# The network in numpy (re-checks)
# --------------------------------------------------------------------------------------------


@dataclass
class Network:
    """The scikit-learn MLP as plain weight matrices, for exact numpy forward passes."""

    coefs: list[np.ndarray]
    intercepts: list[np.ndarray]

    @classmethod
    def from_sklearn(cls, mlp: Any) -> "Network":
        if mlp.activation != "relu":
            raise SystemExit(f"hidden activation {mlp.activation!r} is not relu")
        return cls([np.asarray(w, dtype=np.float64) for w in mlp.coefs_],
                   [np.asarray(b, dtype=np.float64) for b in mlp.intercepts_])

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Logits of a flat input (hidden ReLUs, identity output)."""
        h = np.asarray(x, dtype=np.float64).reshape(-1)
        last = len(self.coefs) - 1
        for i, (w, b) in enumerate(zip(self.coefs, self.intercepts)):
            h = h @ w + b
            if i < last:
                h = np.maximum(h, 0.0)
        return h


def recheck(net: Network, x: Any, x_bar: np.ndarray, delta: float,
            right: int, wrong: int) -> dict[str, Any]:
    """Re-check a claimed counterexample: margin, predicted label, L1 distance and box."""
    if x is None:
        return {"ok": False, "why": "no point"}
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if x.shape != x_bar.shape:
        return {"ok": False, "why": f"shape {x.shape} != {x_bar.shape}"}
    out = net.logits(x)
    margin = float(out[wrong] - out[right])
    dist = float(np.abs(x - x_bar).sum())
    box = float(max(0.0, -x.min(), x.max() - 1.0))
    in_ball = dist <= delta * (1 + FEAS_TOL) + FEAS_TOL
    ok = margin > 0 and in_ball and box <= FEAS_TOL
    why = None if ok else ("margin <= 0" if margin <= 0 else
                           "outside the ball" if not in_ball else "outside the box")
    return {"ok": ok, "why": why, "margin": margin, "distance": dist,
            "box_violation": box, "predicted": int(np.argmax(out))}


# --------------------------------------------------------------------------------------------
# ReluMIP
# --------------------------------------------------------------------------------------------


def run_relumip(binary: Path, model: Path, images: Path, example: int, delta: float,
                time_limit: float, extra: list[str]) -> dict[str, Any]:
    """Run one ``relumip verify`` process; return its verdict, wall time and parsed JSON."""
    cmd = [str(binary), "verify", str(model), "--images", str(images),
           "--example", str(example), "--norm", "l1", "--delta", repr(float(delta)),
           "--json", "--time-limit", repr(float(time_limit))] + extra
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=time_limit + 60.0, check=False)
    except subprocess.TimeoutExpired as exc:
        wall = time.perf_counter() - t0
        return {"verdict": "unknown", "wall_s": wall, "rc": None, "json": None,
                "error": f"killed after {exc.timeout:.0f} s (no answer)", "cmd": cmd}
    wall = time.perf_counter() - t0
    rec: dict[str, Any] = {"wall_s": wall, "rc": proc.returncode, "json": None,
                           "error": None, "cmd": cmd}
    try:
        rec["json"] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        rec["error"] = (proc.stderr.strip() or proc.stdout.strip() or "no output")[-2000:]
    verdict = EXIT_VERDICTS.get(proc.returncode, "error")
    if rec["json"] is not None and rec["json"].get("result") not in (None, verdict):
        rec["error"] = (f"exit status {proc.returncode} but result "
                        f"{rec['json'].get('result')!r}")
        verdict = "error"
    if verdict == "error" and rec["error"] is None:
        rec["error"] = (proc.stderr.strip() or f"exit status {proc.returncode}")[-2000:]
    rec["verdict"] = verdict
    return rec


# --------------------------------------------------------------------------------------------
# The reference: Gurobi ML
# --------------------------------------------------------------------------------------------


class Reference:
    """Builds and solves the formulation of Gurobi ML's adversarial MNIST example."""

    def __init__(self, joblib_path: Path, threads: int, time_limit: float, log: bool):
        import gurobipy as gp  # imported here so that --help works without gurobipy
        from joblib import load
        from gurobi_ml.sklearn import add_mlp_regressor_constr

        self.gp = gp
        self.add_mlp_regressor_constr = add_mlp_regressor_constr
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # InconsistentVersionWarning (sklearn 1.9.0 → 1.9.x)
            data = load(joblib_path)
        self.nn = data["predictor"]
        self.data = np.asarray(data["data"], dtype=np.float64)
        self.net = Network.from_sklearn(self.nn)
        self.threads = threads
        self.time_limit = time_limit
        self.log = log
        self.env = gp.Env(empty=True)
        self.env.setParam("OutputFlag", 1 if log else 0)
        self.env.start()
        self.version = ".".join(map(str, gp.gurobi.version()))

    def labels(self, example: int) -> tuple[int, int]:
        """(right, wrong): the last two entries of argsort(predict_proba), as the example does."""
        ex = self.data[example: example + 1, :]
        ranking = np.argsort(self.nn.predict_proba(ex))[0]
        return int(ranking[-1]), int(ranking[-2])

    def build(self, example: int, delta: float):
        """The model of the published example for one (example, delta)."""
        gp = self.gp
        ex = self.data[example: example + 1, :]
        right, wrong = self.labels(example)
        m = gp.Model(env=self.env)
        x = m.addMVar(ex.shape, lb=0.0, ub=1.0, name="x")
        y = m.addMVar((1, len(self.nn.classes_)), lb=-gp.GRB.INFINITY, name="y")
        abs_diff = m.addMVar(ex.shape, lb=0, ub=1, name="abs_diff")
        m.setObjective(y[0, wrong] - y[0, right], gp.GRB.MAXIMIZE)
        m.addConstr(abs_diff >= x - ex)
        m.addConstr(abs_diff >= -x + ex)
        m.addConstr(abs_diff.sum() <= delta)
        m.update()
        saved = self.nn.out_activation_
        self.nn.out_activation_ = "identity"  # the logits: the softmax is dropped
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.add_mlp_regressor_constr(m, self.nn, x, y)
        finally:
            self.nn.out_activation_ = saved
        m.Params.BestBdStop = 0.0
        m.Params.BestObjStop = 0.0
        m.Params.Threads = self.threads
        m.Params.TimeLimit = self.time_limit
        return m, x, right, wrong

    def solve(self, example: int, delta: float) -> dict[str, Any]:
        """Build, optimize, and derive the verdict (with a numpy re-check of any incumbent)."""
        gp = self.gp
        t0 = time.perf_counter()
        m, x, right, wrong = self.build(example, delta)
        build_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        m.optimize()
        opt_wall = time.perf_counter() - t1
        status = m.Status
        sol_count = m.SolCount
        obj = m.ObjVal if sol_count > 0 else None
        try:
            bound = m.ObjBound
        except gp.GurobiError:  # no bound available (e.g. infeasible model)
            bound = None
        check = None
        verdict = "unknown"
        reason = None
        if sol_count > 0 and obj is not None and obj > 0:
            check = recheck(self.net, x.X, self.data[example], delta, right, wrong)
            if check["ok"]:
                verdict = "counterexample"
            else:
                reason = f"incumbent {obj:.6g} does not re-check ({check['why']})"
        if verdict == "unknown" and bound is not None and bound <= 0:
            verdict = "robust"
            reason = None
        if verdict == "unknown" and reason is None:
            reason = f"status {status_name(gp, status)}"
        rec = {
            "verdict": verdict, "runtime_s": m.Runtime, "optimize_wall_s": opt_wall,
            "build_s": build_s, "status": status, "status_name": status_name(gp, status),
            "objective": obj, "bound": bound, "sol_count": sol_count,
            "work": _work_units(m), "load_avg": _load_avg(),
            "nodes": m.NodeCount, "rows": m.NumConstrs, "cols": m.NumVars,
            "genconstrs": m.NumGenConstrs, "right": right, "wrong": wrong,
            "recheck": check, "reason": reason,
        }
        m.dispose()
        return rec

    def close(self) -> None:
        self.env.dispose()


def _work_units(m: Any) -> float | None:
    """Gurobi's deterministic work units (independent of the machine's load), if available."""
    try:
        return float(m.Work)
    except Exception:  # older Gurobi without the attribute
        return None


def _load_avg() -> float | None:
    """The 1-minute load average (the benchmark is only fair on an otherwise idle machine)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def status_name(gp: Any, status: int) -> str:
    """Gurobi status code → name (e.g. 15 → USER_OBJ_LIMIT)."""
    for name in dir(gp.GRB.Status):
        if not name.startswith("_") and getattr(gp.GRB.Status, name) == status:
            return name
    return str(status)


# --------------------------------------------------------------------------------------------
# One instance
# --------------------------------------------------------------------------------------------


@dataclass
class Instance:
    """Both answers for one (example, delta)."""

    example: int
    delta: float
    relumip: dict[str, Any]
    reference: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        ref = self.reference["runtime_s"]
        return self.relumip["wall_s"] / ref if ref > 0 else math.inf

    @property
    def disagree(self) -> bool:
        a, b = self.relumip["verdict"], self.reference["verdict"]
        decisive = ("robust", "counterexample")
        return a in decisive and b in decisive and a != b

    @property
    def undecided(self) -> bool:
        return (self.relumip["verdict"] not in ("robust", "counterexample")
                or self.reference["verdict"] not in ("robust", "counterexample"))


def solve_instance(args: argparse.Namespace, ref: Reference, example: int,
                   delta: float) -> Instance:
    """Solve one instance with ReluMIP, then with the reference; cross-check the answers."""
    rm = run_relumip(args.binary, args.model, args.images, example, delta, args.time_limit,
                     args.relumip_arg)
    gr = ref.solve(example, delta)
    inst = Instance(example, delta, rm, gr)
    js = rm.get("json") or {}
    if js:
        if js.get("label") is not None and js["label"] != gr["right"]:
            inst.notes.append(f"label: relumip {js['label']} vs reference {gr['right']}")
        if js.get("target") is not None and js["target"] != gr["wrong"]:
            inst.notes.append(f"target: relumip {js['target']} vs reference {gr['wrong']}")
    if rm["verdict"] == "counterexample":
        check = recheck(ref.net, js.get("counterexample"), ref.data[example], delta,
                        gr["right"], gr["wrong"])
        rm["recheck"] = check
        if not check["ok"]:
            inst.notes.append(f"relumip counterexample does not re-check: {check}")
    return inst


# --------------------------------------------------------------------------------------------
# Printing
# --------------------------------------------------------------------------------------------

HEADER = (f"{'ex':>3} {'delta':>5} | {'relumip':<14} {'wall s':>8} {'time_s':>8} "
          f"{'settled_by':<14} {'bin':>4} {'nodes':>6} | {'reference':<14} {'runtime':>8} "
          f"{'opt wall':>8} {'nodes':>7} | {'ratio':>7}  ")


def fmt_time(t: Any) -> str:
    return "-" if t is None else f"{t:8.3f}"


def table_row(inst: Instance) -> str:
    """One printed row (with a '!!' mark for disagreements and '??' for undecided)."""
    rm, gr = inst.relumip, inst.reference
    js = rm.get("json") or {}
    mark = "!!" if inst.disagree else ("??" if inst.undecided else ("*" if inst.notes else ""))
    nodes = js.get("nodes")
    binaries = js.get("binaries")
    return (f"{inst.example:>3} {inst.delta:>5g} | {rm['verdict']:<14} {fmt_time(rm['wall_s'])} "
            f"{fmt_time(js.get('time_s'))} {str(js.get('settled_by') or '-'):<14} "
            f"{'-' if binaries is None else binaries:>4} {'-' if nodes is None else nodes:>6} | "
            f"{gr['verdict']:<14} {fmt_time(gr['runtime_s'])} {fmt_time(gr['optimize_wall_s'])} "
            f"{int(gr['nodes']):>7} | {inst.ratio:7.3f}  {mark}")


def relumip_json_brief(rm: dict[str, Any]) -> str:
    """ReluMIP's JSON answer without the (784-number) counterexample vector."""
    js = dict(rm.get("json") or {})
    if js.get("counterexample") is not None:
        js["counterexample"] = f"<{len(js['counterexample'])} numbers>"
    return json.dumps(js, sort_keys=True) if js else f"(no JSON; error: {rm.get('error')})"


def print_summary(results: list[Instance]) -> None:
    """Disagreements, undecided instances, counts, totals and ratios."""
    print()
    dis = [r for r in results if r.disagree]
    print(f"Disagreements: {len(dis)}")
    for r in dis:
        print(f"  example {r.example} delta {r.delta:g}: relumip {r.relumip['verdict']}, "
              f"reference {r.reference['verdict']}")
        print(f"    relumip JSON: {relumip_json_brief(r.relumip)}")
        print(f"    reference: {json.dumps(_ref_brief(r.reference))}")
    und = [r for r in results if r.undecided]
    print(f"Unknown / error on either side: {len(und)}")
    for r in und:
        print(f"  example {r.example} delta {r.delta:g}: relumip {r.relumip['verdict']}, "
              f"reference {r.reference['verdict']}"
              + (f" ({r.reference['reason']})" if r.reference.get("reason") else ""))
        print(f"    relumip JSON: {relumip_json_brief(r.relumip)}")
        if r.relumip.get("error"):
            print(f"    relumip error: {r.relumip['error']}")
    noted = [r for r in results if r.notes]
    if noted:
        print(f"Notes: {len(noted)}")
        for r in noted:
            for n in r.notes:
                print(f"  example {r.example} delta {r.delta:g}: {n}")

    print()
    print(f"{'counts':<10} " + " ".join(f"{v:>15}" for v in VERDICTS))
    for who in ("relumip", "reference"):
        counts = [sum(1 for r in results if getattr(r, who)["verdict"] == v) for v in VERDICTS]
        print(f"{who:<10} " + " ".join(f"{c:>15}" for c in counts))

    rm_wall = sum(r.relumip["wall_s"] for r in results)
    rm_own = sum((r.relumip.get("json") or {}).get("time_s") or 0.0 for r in results)
    gr_run = sum(r.reference["runtime_s"] for r in results)
    gr_wall = sum(r.reference["optimize_wall_s"] for r in results)
    gr_build = sum(r.reference["build_s"] for r in results)
    gr_work = sum(r.reference.get("work") or 0.0 for r in results)
    ratios = [r.ratio for r in results]
    print()
    print(f"instances: {len(results)}")
    print(f"total relumip:   wall {rm_wall:9.3f} s   (its own time_s {rm_own:9.3f} s)")
    print(f"total reference: runtime {gr_run:9.3f} s   (optimize wall {gr_wall:9.3f} s; "
          f"model building, not counted, {gr_build:.3f} s; "
          f"{gr_work:.2f} work units)")
    if gr_run > 0:
        print(f"total ratio relumip wall / reference runtime: {rm_wall / gr_run:.4f}")
    if ratios:
        print(f"median ratio: {statistics.median(ratios):.4f}   "
              f"(min {min(ratios):.4f}, max {max(ratios):.4f})")


def _ref_brief(gr: dict[str, Any]) -> dict[str, Any]:
    keys = ("verdict", "status_name", "objective", "bound", "sol_count", "nodes",
            "runtime_s", "right", "wrong", "recheck", "reason")
    return {k: gr.get(k) for k in keys}


# --------------------------------------------------------------------------------------------
# The seed case end to end
# --------------------------------------------------------------------------------------------


def seed_case(args: argparse.Namespace, ref: Reference, jsonl: Any) -> None:
    """N ReluMIP processes versus N fresh reference solves of the seed case; medians, ratio."""
    ex, delta, n = args.seed_example, args.seed_delta, args.seed_runs
    print()
    print(f"The seed case end to end: example {ex}, delta {delta:g}, {n} runs each")
    rm_walls, rm_own, gr_runs, gr_walls = [], [], [], []
    for i in range(n):
        rm = run_relumip(args.binary, args.model, args.images, ex, delta, args.time_limit,
                         args.relumip_arg)
        gr = ref.solve(ex, delta)
        js = rm.get("json") or {}
        rm_walls.append(rm["wall_s"])
        rm_own.append(js.get("time_s") or 0.0)
        gr_runs.append(gr["runtime_s"])
        gr_walls.append(gr["optimize_wall_s"])
        print(f"  run {i + 1}: relumip {rm['verdict']:<14} process wall {rm['wall_s']:8.4f} s "
              f"(time_s {js.get('time_s') or 0.0:.4f}, settled_by {js.get('settled_by')})   "
              f"reference {gr['verdict']:<14} runtime {gr['runtime_s']:8.3f} s "
              f"(optimize wall {gr['optimize_wall_s']:.3f} s, {gr.get('work') or 0.0:.2f} work units)")
        write_record(jsonl, "seed", ex, delta, rm, gr)
    if n:
        med_rm, med_gr = statistics.median(rm_walls), statistics.median(gr_runs)
        print(f"  median relumip process wall {med_rm:.4f} s (own time_s "
              f"{statistics.median(rm_own):.4f} s); median reference runtime {med_gr:.3f} s "
              f"(optimize wall {statistics.median(gr_walls):.3f} s)")
        print(f"  seed ratio relumip end to end / reference solve: "
              f"{med_rm / med_gr if med_gr > 0 else math.inf:.4f}")


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def write_record(jsonl: Any, kind: str, example: int, delta: float,
                 rm: dict[str, Any], gr: dict[str, Any]) -> None:
    """Append one JSON line (if --jsonl was given)."""
    if jsonl is None:
        return
    ref_t = gr["runtime_s"]
    rec = {"kind": kind, "example": example, "delta": delta, "norm": "l1",
           "relumip": rm, "reference": gr,
           "ratio": rm["wall_s"] / ref_t if ref_t > 0 else None}
    jsonl.write(json.dumps(rec, default=_json_default) + "\n")
    jsonl.flush()


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.examples is None:
        args.examples = parse_int_list(QUICK_EXAMPLES if args.quick else "0..19")
    if args.deltas is None:
        args.deltas = parse_float_list(QUICK_DELTAS if args.quick else "0.5,1,2,5")
    if not args.binary.is_absolute():
        args.binary = REPO_ROOT / args.binary
    if not os.access(args.binary, os.X_OK):
        print(f"error: no executable relumip at {args.binary}", file=sys.stderr)
        return 1
    for path in (args.model, args.images, args.joblib):
        if not path.exists():
            print(f"error: missing {path}", file=sys.stderr)
            return 1

    ref = Reference(args.joblib, args.threads, args.time_limit, args.gurobi_log)
    images = np.load(args.images)
    if images.shape != ref.data.shape or np.abs(images - ref.data).max() > 1e-12:
        print("warning: the .npy images differ from the joblib's data", file=sys.stderr)
    version = subprocess.run([str(args.binary), "--version"], capture_output=True,
                             text=True, check=False).stdout.strip()

    print(f"relumip: {args.binary} ({version or 'version unknown'})"
          + (f" with {' '.join(args.relumip_arg)}" if args.relumip_arg else ""))
    print(f"reference: Gurobi {ref.version}, gurobi-machinelearning "
          f"{_pkg_version('gurobi-machinelearning')}, Threads={args.threads}")
    print(f"instances: examples {args.examples[0]}..{args.examples[-1]} "
          f"({len(args.examples)}), deltas {','.join(f'{d:g}' for d in args.deltas)}, L1, "
          f"runner-up target, time limit {args.time_limit:g} s")
    print("ratio = relumip process wall / reference Gurobi Runtime; "
          "!! disagreement, ?? unknown/error, * note")
    print()
    print(f"load average at start: {_load_avg_text()}")
    print()
    print(HEADER)
    print("-" * len(HEADER))

    if args.distortion is not None:
        try:
            return distortion_table(args, ref)
        finally:
            ref.close()

    jsonl = open(args.jsonl, "a", encoding="utf-8") if args.jsonl else None
    results: list[Instance] = []
    try:
        for delta in args.deltas:
            for example in args.examples:
                inst = solve_instance(args, ref, example, delta)
                results.append(inst)
                print(table_row(inst), flush=True)
                write_record(jsonl, "instance", example, delta, inst.relumip, inst.reference)
        print_summary(results)
        print(f"load average after the instances: {_load_avg_text()}")
        if args.seed_runs > 0:
            seed_case(args, ref, jsonl)
    finally:
        if jsonl is not None:
            jsonl.close()
        ref.close()
    return 0


def distortion_table(args: argparse.Namespace, ref: "Reference") -> int:
    """Minimal distortion by relumip, each end confirmed by a reference decision run."""
    print(f"minimal L1 distortion up to {args.max_distance:g}, time limit {args.time_limit:g} s "
          "for relumip; reference decision runs at the lower bound and at the distance found")
    header = (f"{'ex':>3}  {'distance':>9}  {'lower':>9}  {'relumip s':>9}  "
              f"{'ref @ lower':>14}  {'ref @ distance':>14}  ok")
    print(header)
    print("-" * len(header))
    failures = 0
    for example in args.distortion:
        cmd = [str(args.binary), "verify", str(args.model), "--images", str(args.images),
               "--example", str(example), "--norm", "l1", "--delta", repr(args.max_distance),
               "--minimize-distance", "--json", "--time-limit", repr(args.time_limit)
               ] + args.relumip_arg
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        try:
            found = json.loads(proc.stdout)
        except json.JSONDecodeError:
            print(f"{example:>3}  relumip failed: {proc.stderr.strip()[-200:]}")
            failures += 1
            continue
        lower = found.get("lower_bound") or 0.0
        distance = found.get("distance")
        at_lower = ref.solve(example, lower)["verdict"] if lower > 0 else "-"
        at_distance = ref.solve(example, distance)["verdict"] if distance is not None else "-"
        ok = at_lower in ("robust", "-") and at_distance in ("counterexample", "-")
        failures += 0 if ok else 1
        print(f"{example:>3}  {distance if distance is not None else float('nan'):>9.5f}  "
              f"{lower:>9.5f}  {wall:>9.1f}  {at_lower:>14}  {at_distance:>14}  "
              f"{'yes' if ok else 'NO'}", flush=True)
    print(f"\n{len(args.distortion) - failures} of {len(args.distortion)} confirmed by the reference")
    return 0 if failures == 0 else 1


def _load_avg_text() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg()) + f" (cpus: {os.cpu_count()})"
    except OSError:
        return "unavailable"


def _pkg_version(name: str) -> str:
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:  # pragma: no cover - informational only
        return "?"


if __name__ == "__main__":
    sys.exit(main())
