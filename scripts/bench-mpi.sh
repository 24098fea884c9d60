#!/usr/bin/env bash
# Data-parallel throughput on this machine: the quickstart model (Llama, dim 128, 4 layers,
# seq_len 256) trained for STEPS steps on the same global batch of 16 rows, as
#   1 process,  batch 16, 2 BLAS threads
#   1 process,  batch 16, 1 BLAS thread
#   2 ranks (mpirun -np 2), batch 8 each, 1 BLAS thread each
# and prints, from each run's metrics.jsonl (step 1 left out as warm-up), non-padding
# tokens per second over the run and at the median step time (robust to bursts of load
# from other processes), and for 2 ranks rank 0's median gradient all-reduce time per step
# and its median wait for the slower rank before it. Also the largest loss difference between
# the 2-rank run and the 1-process runs.
#
#   scripts/bench-mpi.sh [STEPS]       (default 30)
#
# Needs: a release build (.build/release/instruct), mpirun (scripts/setup.sh), python3.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-30}
INSTRUCT=$(pwd)/${INSTRUCT:-.build/release/instruct}
[ -x "$INSTRUCT" ] || { echo "no $INSTRUCT: run swift build -c release first" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "no mpirun: run scripts/setup.sh" >&2; exit 1; }
WORK=$(mktemp -d /tmp/bench-mpi-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
"$INSTRUCT" data synth --out synth --seed 1 --train 2000 --heldout 10 >/dev/null
sed -e 's#datasets/synth/train.jsonl#synth/train.jsonl#' -e '/^eval:/,$d' "$OLDPWD/recipes/quickstart.yaml" > r.yaml
common=(training.max_steps="$STEPS" training.log_every=1 training.warmup_steps=5)
"$INSTRUCT" train r.yaml "${common[@]}" training.batch_size=16 training.threads=2 output.dir=one-t2 >/dev/null
"$INSTRUCT" train r.yaml "${common[@]}" training.batch_size=16 training.threads=1 output.dir=one-t1 >/dev/null
OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none} \
  mpirun --oversubscribe --allow-run-as-root -np 2 "$INSTRUCT" train r.yaml "${common[@]}" \
  training.batch_size=8 training.threads=1 output.dir=two-t1 >/dev/null
python3 - <<'PY'
import json, statistics
def load(d):
    return [json.loads(l) for l in open(f"{d}/metrics.jsonl") if '"loss"' in l]
runs = {"1 process, batch 16, 2 threads": "one-t2", "1 process, batch 16, 1 thread": "one-t1",
        "2 ranks, batch 8 each, 1 thread each": "two-t1"}
print(f"{'run':40} {'tok/s mean':>10} {'tok/s median':>12} {'median s/step':>13} {'all-reduce ms':>13} {'wait ms':>8}")
for name, d in runs.items():
    m = load(d)[1:]
    secs = [b["elapsed_s"] - a["elapsed_s"] for a, b in zip(m, m[1:])]
    toks = [x["tokens"] for x in m[1:]]
    med = statistics.median(secs)
    ar = [x["allreduce_s"] for x in m[1:] if "allreduce_s" in x]
    wt = [x["rank_wait_s"] for x in m[1:] if "rank_wait_s" in x]
    ar_text = f"{1000 * statistics.median(ar):.1f}" if ar else "-"
    wt_text = f"{1000 * statistics.median(wt):.1f}" if wt else "-"
    print(f"{name:40} {sum(toks) / sum(secs):10.0f} {statistics.mean(toks) / med:12.0f} {med:13.3f} {ar_text:>13} {wt_text:>8}")
print("(all-reduce and wait: medians per step, rank 0's)")
two = load("two-t1")
for ref in ("one-t1", "one-t2"):
    diff = max(abs(a["loss"] - b["loss"]) for a, b in zip(load(ref), two))
    same = all(a["tokens"] == b["tokens"] and a["trained_tokens"] == b["trained_tokens"] for a, b in zip(load(ref), two))
    print(f"2 ranks vs {ref}: max |loss difference| {diff:.2e}, same token counts: {same}")
PY
