#!/usr/bin/env bash
# Submits a `relumip batch` run to Slurm as a job array of N shards plus a follow-up job that
# merges and summarizes the shard files once every task has ended.
#
#   Scripts/slurm/submit.sh --shards N --dir RESULTS_DIR [--relumip PATH] [--max-running M]
#       [--sbatch OPTION]... -- MODEL --images FILE --examples SPEC --norm l1|linf --delta LIST
#       [other batch options]
#
# Task K (1..N) runs `relumip batch ... --shard K/N --out RESULTS_DIR/shard-K-of-N.jsonl
# --resume --jobs <its CPUs>`; the merge job writes RESULTS_DIR/merged.jsonl and summary.csv.
# Logs go to RESULTS_DIR/logs/. The job ids are printed and written to RESULTS_DIR/jobs.env.
# Submitting again with the same arguments and RESULTS_DIR runs only the missing instances.
#
#   --shards N       number of array tasks (shards), N ≥ 1
#   --dir DIR        results folder (created); must be visible from the compute nodes
#   --relumip PATH   the relumip binary, visible from the compute nodes
#                    (default: .build/release/relumip of this repository, else relumip on PATH)
#   --max-running M  at most M tasks at once (--array=1-N%M)
#   --sbatch OPTION  passed to both sbatch calls, e.g. --sbatch --partition=long
#                    --sbatch --time=04:00:00 --sbatch --cpus-per-task=4 (repeatable)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit "${1:-64}"
}
die() {
  echo "error: $*" >&2
  exit 64
}

shards=""
dir=""
relumip=""
max_running=""
sbatch_options=()
while [ $# -gt 0 ]; do
  case "$1" in
    --shards) shards=${2:-}; shift 2 || usage ;;
    --dir) dir=${2:-}; shift 2 || usage ;;
    --relumip) relumip=${2:-}; shift 2 || usage ;;
    --max-running) max_running=${2:-}; shift 2 || usage ;;
    --sbatch) sbatch_options+=("${2:-}"); shift 2 || usage ;;
    --) shift; break ;;
    -h | --help) usage 0 ;;
    *) die "unknown option $1 (the batch arguments go after --)" ;;
  esac
done
batch_arguments=("$@")

[[ "$shards" =~ ^[1-9][0-9]*$ ]] || die "--shards must be a whole number ≥ 1, not '$shards'"
[ -n "$dir" ] || die "--dir RESULTS_DIR is required"
[ -z "$max_running" ] || [[ "$max_running" =~ ^[1-9][0-9]*$ ]] ||
  die "--max-running must be a whole number ≥ 1, not '$max_running'"
[ ${#batch_arguments[@]} -gt 0 ] || die "no batch arguments after -- (MODEL --images ...)"
for argument in "${batch_arguments[@]}"; do
  case "$argument" in
    --out | --out=* | --shard | --shard=* | --resume | --jobs | --jobs=*)
      die "$argument is set per task by the job script; leave it out of the batch arguments" ;;
  esac
done
command -v sbatch >/dev/null || die "sbatch not found: run this on a Slurm login node"

if [ -z "$relumip" ]; then
  if [ -x "$repo/.build/release/relumip" ]; then
    relumip="$repo/.build/release/relumip"
  else
    relumip="$(command -v relumip || true)"
  fi
  [ -n "$relumip" ] || die "no relumip binary: build one (swift build -c release) or pass --relumip"
fi
[ -x "$relumip" ] || die "$relumip is not an executable"
relumip="$(cd "$(dirname "$relumip")" && pwd)/$(basename "$relumip")"

mkdir -p "$dir/logs"
dir="$(cd "$dir" && pwd)"

"$relumip" --version >/dev/null || die "$relumip does not run here"

array_spec="1-$shards${max_running:+%$max_running}"
array_job=$(sbatch --parsable --array="$array_spec" --chdir="$PWD" \
  --output="$dir/logs/shard-%a.out" "${sbatch_options[@]}" \
  "$here/relumip_shard.sbatch" "$relumip" "$dir" "$shards" "${batch_arguments[@]}")
array_job=${array_job%%;*}
merge_job=$(sbatch --parsable --dependency="afterany:$array_job" --chdir="$PWD" \
  --output="$dir/logs/merge.out" "${sbatch_options[@]}" \
  "$here/relumip_merge.sbatch" "$relumip" "$dir" "$shards")
merge_job=${merge_job%%;*}

printf 'ARRAY_JOB_ID=%s\nMERGE_JOB_ID=%s\nSHARDS=%s\n' "$array_job" "$merge_job" "$shards" \
  >"$dir/jobs.env"
echo "submitted array job $array_job (tasks $array_spec) and merge job $merge_job"
echo "results: $dir/shard-K-of-$shards.jsonl, then $dir/merged.jsonl and $dir/summary.csv"
echo "logs:    $dir/logs/ (watch with: squeue -j $array_job,$merge_job)"
