#!/usr/bin/env bash
# A real test of Scripts/slurm/: starts a one-node Slurm cluster on this machine (munged,
# slurmctld and slurmd on localhost, 2 CPUs, its own slurm.conf and munge key in a temporary
# folder), submits a sharded batch (the seed network, 20 examples, 2 radii, 4 array tasks) with
# Scripts/slurm/submit.sh, requeues one task while it runs, and checks that the merged results
# hold every instance exactly once with the verdicts of a local `relumip batch --jobs 1` run.
# Then it checks that merging without one shard file reports that shard's instances missing.
#
# Needs root (it installs slurm-wlm and munge with apt-get if they are missing, and slurmd runs
# as root) and the seed data in ../shared/seed. Without them it skips, except with CI=true,
# where it fails. It stops the daemons it started and removes its folder even when it fails
# (KEEP_SLURM_TEST=1 keeps the folder). Environment: SCRATCH_PATH (swift build's scratch path,
# default .build), SLURM_TEST_TIMEOUT (seconds for the cluster's jobs, default 600).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"

seed="../shared/seed"
scratch="${SCRATCH_PATH:-.build}"
timeout="${SLURM_TEST_TIMEOUT:-600}"
shards=4
examples="0..19"
deltas="1,2"
instances=40

step() { echo "== $*"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
skip() {
  if [ "${CI:-}" = "true" ]; then fail "$* (CI=true: this test must run)"; fi
  echo "skip: $*" >&2
  exit 0
}
started=$(date +%s)
elapsed() { echo "$(($(date +%s) - started))s"; }

# MARK: Prerequisites

[ -d "$seed" ] || skip "the seed data $seed is absent"
[ "$(id -u)" -eq 0 ] || skip "needs root (apt-get install slurm-wlm munge; slurmd runs as root)"
command -v python3 >/dev/null || skip "needs python3 for its checks"
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
  ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  step "installing slurm-wlm and munge with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi
echo "$(slurmctld -V), munge $(munged -V 2>&1 | awk '{print $2; exit}')"

step "building relumip (scratch path $scratch)"
swift build --scratch-path "$scratch" --product relumip 2>&1 | tail -1
relumip="$(swift build --scratch-path "$scratch" --show-bin-path)/relumip"
[ -x "$relumip" ] || fail "no relumip binary at $relumip"

# MARK: The cluster, torn down on any exit

work="$(mktemp -d /tmp/relumip-slurm.XXXXXX)"
chmod 755 "$work"
mkdir -p "$work/munge" "$work/state" "$work/spool" "$work/log"
chmod 700 "$work/munge"
export SLURM_CONF="$work/slurm.conf"
munged_pid=""
slurmctld_pid=""
slurmd_pid=""
local_pid=""
jobs_submitted=""

stop() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  kill -9 "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  if [ -n "$jobs_submitted" ] && [ -n "$slurmctld_pid" ]; then
    # shellcheck disable=SC2086
    scancel $jobs_submitted 2>/dev/null
    for _ in $(seq 60); do
      # shellcheck disable=SC2086
      [ -z "$(squeue -h -j "${jobs_submitted// /,}" 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi
  stop "$local_pid"
  stop "$slurmd_pid"
  stop "$slurmctld_pid"
  stop "$munged_pid"
  if [ "$status" -ne 0 ]; then
    echo "---- the last lines of the logs in $work (the test failed) ----" >&2
    for log in "$work"/log/* "$work"/results/logs/*; do
      [ -f "$log" ] || continue
      echo "-- $log" >&2
      tail -n 15 "$log" >&2
    done
  fi
  if [ "${KEEP_SLURM_TEST:-}" = "1" ]; then
    echo "kept $work" >&2
  else
    rm -rf "$work"
  fi
  echo "test_slurm.sh: $([ "$status" -eq 0 ] && echo passed || echo "FAILED ($status)") in $(elapsed)" >&2
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Polls a shell condition once a second until it holds; fails after $2 seconds.
wait_for() {
  local what=$1 seconds=$2
  shift 2
  local deadline=$(($(date +%s) + seconds))
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "timed out after ${seconds}s waiting for $what"
    sleep 1
  done
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

node="$(hostname -s)"
ctld_port=$(free_port)
slurmd_port=$(free_port)
while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done

step "starting munged, slurmctld and slurmd (node $node, ports $ctld_port/$slurmd_port, folder $work)"
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/munge.key"
munged --foreground --force --key-file="$work/munge/munge.key" \
  --socket="$work/munge/munge.socket" --pid-file="$work/munge/munged.pid" \
  --seed-file="$work/munge/munged.seed" --log-file="$work/log/munged.log" \
  >"$work/log/munged.out" 2>&1 &
munged_pid=$!
wait_for "munged's socket" 20 test -S "$work/munge/munge.socket"

# cred_expire is also how long a requeued job waits before it may start again (default 120 s).
cat >"$SLURM_CONF" <<EOF
ClusterName=relumiptest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge/munge.socket,cred_expire=20
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SlurmdParameters=config_overrides
MinJobAge=3600
KillWait=5
InactiveLimit=0
NodeName=$node NodeAddr=127.0.0.1 NodeHostname=$node CPUs=2 State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF

slurmctld -D -i -f "$SLURM_CONF" >"$work/log/slurmctld.out" 2>&1 &
slurmctld_pid=$!
slurmd -D -f "$SLURM_CONF" -N "$node" >"$work/log/slurmd.out" 2>&1 &
slurmd_pid=$!
node_idle() {
  kill -0 "$slurmctld_pid" 2>/dev/null || fail "slurmctld exited"
  kill -0 "$slurmd_pid" 2>/dev/null || fail "slurmd exited"
  [ "$(sinfo -h -n "$node" -o %T 2>/dev/null)" = "idle" ]
}
wait_for "node $node to be idle" 60 node_idle
sinfo

# MARK: The run: on the cluster, and locally for comparison

batch_arguments=("$seed/mnist_mlp_50x50.onnx" --images "$seed/mnist_first100_images.npy"
  --examples "$examples" --norm l1 --delta "$deltas")

step "submitting $shards shards of $instances instances ($(elapsed))"
results="$work/results"
Scripts/slurm/submit.sh --shards "$shards" --dir "$results" --relumip "$relumip" \
  -- "${batch_arguments[@]}"
# shellcheck source=/dev/null
. "$results/jobs.env"
jobs_submitted="$ARRAY_JOB_ID $MERGE_JOB_ID"

# The reference run on this machine, alongside (it also slows the tasks down, so that one is
# surely caught running).
"$relumip" batch "${batch_arguments[@]}" --jobs 1 --quiet --out "$work/local.jsonl" \
  >"$work/log/local.out" 2>&1 &
local_pid=$!

lines() { [ -f "$1" ] && grep -c '' "$1" || echo 0; }
task_state() { squeue -h -j "${ARRAY_JOB_ID}_$1" -o %T 2>/dev/null || true; }

step "waiting for a task with part of its instances done, to requeue it"
requeued=""
deadline=$(($(date +%s) + timeout))
while [ -z "$requeued" ]; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "timed out waiting for a task to requeue"
  for task in $(seq "$shards"); do
    file="$results/shard-$task-of-$shards.jsonl"
    done_lines=$(lines "$file")
    if [ "$(task_state "$task")" = "RUNNING" ] && [ "$done_lines" -ge 1 ] &&
      [ "$done_lines" -lt $((instances / shards)) ]; then
      scontrol requeue "${ARRAY_JOB_ID}_$task"
      requeued=$task
      break
    fi
  done
  if [ -z "$requeued" ] && [ -z "$(squeue -h -j "$ARRAY_JOB_ID" -t PENDING,RUNNING)" ]; then
    fail "every task finished before one could be requeued midway"
  fi
  sleep 0.2
done
requeued_file="$results/shard-$requeued-of-$shards.jsonl"
echo "requeued task $requeued with $done_lines of its $((instances / shards)) instances done ($(elapsed))"
# The lines the killed run left: the restarted run must keep them and add only the rest.
not_running() { [ "$(task_state "$requeued")" != "RUNNING" ]; }
wait_for "task $requeued to stop" 60 not_running
cp "$requeued_file" "$work/before-requeue.jsonl"

step "waiting for the array and the merge job (at most ${timeout}s)"
finished() { [ -z "$(squeue -h -j "$ARRAY_JOB_ID,$MERGE_JOB_ID" 2>/dev/null)" ]; }
wait_for "the jobs to finish" "$timeout" finished
echo "jobs finished ($(elapsed))"
job_field() { scontrol show job "$1" | tr ' ' '\n' | grep "^$2=" | head -1 | cut -d= -f2; }
merge_state="$(job_field "$MERGE_JOB_ID" JobState)"
merge_exit="$(job_field "$MERGE_JOB_ID" ExitCode)"
echo "merge job: $merge_state, exit $merge_exit"
echo "---- $results/logs/merge.out"
cat "$results/logs/merge.out"
echo "----"
[ "$merge_state" = "COMPLETED" ] && [ "$merge_exit" = "0:0" ] ||
  fail "the merge job ended $merge_state with exit $merge_exit"
restarts="$(job_field "${ARRAY_JOB_ID}_$requeued" Restarts)"
[ "${restarts:-0}" -ge 1 ] || fail "task $requeued was not restarted (Restarts=$restarts)"
for task in $(seq "$shards"); do
  state="$(job_field "${ARRAY_JOB_ID}_$task" JobState)"
  [ "$state" = "COMPLETED" ] || fail "task $task ended $state"
done
grep -q "already recorded" "$results/logs/shard-$requeued.out" ||
  fail "the restarted task $requeued did not resume its file"
grep "start 2\|already recorded\|DUE TO JOB REQUEUE" "$results/logs/shard-$requeued.out"

step "waiting for the local --jobs 1 run ($(elapsed))"
local_done() { ! kill -0 "$local_pid" 2>/dev/null; }
wait_for "the local run" "$timeout" local_done
wait "$local_pid" || fail "the local run failed: $(tail -3 "$work/log/local.out")"
local_pid=""

step "checking the merged results against the local run"
python3 - "$results/merged.jsonl" "$work/local.jsonl" "$requeued_file" \
  "$work/before-requeue.jsonl" "$instances" "$results" "$shards" <<'PY'
import json, sys
from pathlib import Path

merged_path, local_path, requeued_path, before_path, count, results, shards = sys.argv[1:]
count, shards = int(count), int(shards)

def records(path):
    out = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if line.strip():
            out.append(json.loads(line))
    return out

def key(r):
    return (r["example"], r["norm"], r["delta"], r["target_choice"])

def fail(message):
    sys.exit(f"FAIL: {message}")

merged, local = records(merged_path), records(local_path)
merged_keys = [key(r) for r in merged]
if len(set(merged_keys)) != len(merged_keys):
    fail("the merged file holds an instance twice")
if len(merged) != count:
    fail(f"the merged file holds {len(merged)} instances, not {count}")
reference = {key(r): r["result"] for r in local}
if len(reference) != count:
    fail(f"the local run holds {len(reference)} instances, not {count}")
if set(merged_keys) != set(reference):
    fail(f"different instances: {sorted(set(merged_keys) ^ set(reference))}")
differ = [(k, r["result"], reference[key(r)]) for r in merged for k in [key(r)]
          if r["result"] != reference[k]]
if differ:
    fail(f"verdicts differ from the local run: {differ}")

# Every shard file holds its instances once; together, every instance once.
seen = {}
for task in range(1, shards + 1):
    for r in records(f"{results}/shard-{task}-of-{shards}.jsonl"):
        if key(r) in seen:
            fail(f"{key(r)} is in shard files {seen[key(r)]} and {task}")
        if r["shard"]["index"] != task or r["shard"]["count"] != shards:
            fail(f"shard file {task} holds a record of shard {r['shard']}")
        seen[key(r)] = task
if len(seen) != count:
    fail(f"the shard files hold {len(seen)} instances, not {count}")

# The requeued task kept what its first run wrote and added only the rest.
before = Path(before_path).read_text()
after = Path(requeued_path).read_text()
complete = before[: before.rfind("\n") + 1]
if not after.startswith(complete):
    fail("the requeued task's file lost or rewrote lines of its first run")
kept = len(complete.splitlines())
total = len(after.splitlines())
if kept >= count // shards:
    fail(f"the requeued task had finished ({kept} lines) before the requeue stopped it")
counts = {}
for r in merged:
    counts[r["result"]] = counts.get(r["result"], 0) + 1
print(f"merged: {len(merged)} instances, each once, verdicts as the local run: {counts}")
print(f"requeued task: {kept} lines kept from its first run, {total - kept} added after the requeue")
PY

step "merging without one shard file reports its instances missing"
set +e
"$relumip" merge "$work/without-one.jsonl" $(for task in 1 2 4; do
  echo "$results/shard-$task-of-$shards.jsonl"
done) >"$work/without-one.out" 2>&1
status=$?
set -e
cat "$work/without-one.out"
[ "$status" -eq 1 ] || fail "merge without shard 3 exited $status, not 1"
grep -q "missing: 10 of 40 instances" "$work/without-one.out" || fail "merge did not count 10 missing"
grep -q "shard 3/4 .*is its result file missing?" "$work/without-one.out" ||
  fail "merge did not name shard 3 as missing"
[ ! -e "$work/without-one.jsonl" ] || fail "merge wrote an incomplete file"

step "summary of the merged results"
"$relumip" summarize "$results/merged.jsonl"
echo "all checks passed ($(elapsed))"
