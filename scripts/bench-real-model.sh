#!/usr/bin/env bash
# Training throughput and memory on a real model: `instruct bench train --model` next to
# transformers + PEFT (scripts/bench_real_model_torch.py) on the same weights, shapes, loss mask
# (second half of every row), LoRA targets, optimizer and thread count, alternating ours and
# PyTorch's, each run a fresh process, ROUNDS times per mode.
#
#   scripts/bench-real-model.sh [--model PATH] [--modes "lora full"] [--rounds N] [--steps N]
#                               [--warmup N] [--threads N] [--batch B] [--seq T]
#                               [--lora-rank R] [--lora-targets q,k,v,o,gate,up,down]
#                               [--ours-args "ARGS"] [--torch-args "ARGS"]
#
# Model: models/SmolLM2-135M-Instruct-hf when present (float32 safetensors: both sides read the
# same numbers), else models/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/fetch-smollm2.sh); both
# sides load it themselves. Defaults: LoRA rank 8 on all seven projections and full
# fine-tuning, batch 4 x 512, 3 warm-up + 10 measured steps, 2 threads, 3 rounds.
# Prints per-run lines, then per mode: tokens/s of both, ours/torch three ways (ratio of the
# medians; median of the per-round ratios with their min..max; ratio of the fastest single
# steps over all rounds), the share of ours' measured 2048^3 sgemm rate, and each side's
# peak RSS (VmHWM, loading included). On a shared host the median per-round ratio and the
# best-step ratio are the steadier figures (see scripts/bench-vs-pytorch.sh).
# INSTRUCT_BASE=path/to/older/instruct adds a third binary to every round and a column "ours/base".
# --ours-args passes more options to ours' `bench train` only (e.g. "--activation-checkpointing"),
# --torch-args to the PyTorch script only (e.g. "--gradient-checkpointing"); split on spaces.
# Needs: a release build (.build/release/instruct); PYTHON (default .venv/bin/python) with
# torch, transformers, peft (and gguf for a .gguf model).
set -euo pipefail
cd "$(dirname "$0")/.."
INSTRUCT=${INSTRUCT:-.build/release/instruct}
BASE=${INSTRUCT_BASE:-}
PYTHON=${PYTHON:-.venv/bin/python}
MODEL=""; MODES="lora full"; ROUNDS=3; STEPS=10; WARMUP=3; THREADS=2; BATCH=4; SEQ=512; RANK=8; OURS_ARGS=""; TORCH_ARGS=""
TARGETS="q,k,v,o,gate,up,down"
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL="$2"; shift ;;
    --modes) MODES="$2"; shift ;;
    --rounds) ROUNDS="$2"; shift ;;
    --steps) STEPS="$2"; shift ;;
    --warmup) WARMUP="$2"; shift ;;
    --threads) THREADS="$2"; shift ;;
    --batch) BATCH="$2"; shift ;;
    --seq) SEQ="$2"; shift ;;
    --lora-rank) RANK="$2"; shift ;;
    --lora-targets) TARGETS="$2"; shift ;;
    --ours-args) OURS_ARGS="$2"; shift ;;
    --torch-args) TORCH_ARGS="$2"; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$MODEL" ]; then
  if [ -f models/SmolLM2-135M-Instruct-hf/config.json ]; then MODEL=models/SmolLM2-135M-Instruct-hf
  else MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf; fi
fi
[ -e "$MODEL" ] || { echo "no $MODEL: run scripts/fetch-smollm2.sh (or pass --model)" >&2; exit 1; }
[ -x "$INSTRUCT" ] || { echo "no $INSTRUCT: run swift build -c release --product instruct first" >&2; exit 1; }
[ -x "$PYTHON" ] || PYTHON=python3
"$PYTHON" -c "import torch, transformers, peft" 2>/dev/null || { echo "$PYTHON lacks torch/transformers/peft (scripts/reference-venv.sh)" >&2; exit 1; }
OUT=$(mktemp -d /tmp/bench-real-model-XXXXXX)
trap 'rm -rf "$OUT"' EXIT

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# model $MODEL; B $BATCH x T $SEQ; LoRA rank $RANK on $TARGETS; $THREADS threads; $WARMUP warm-up + $STEPS measured steps"
[ -z "$OURS_ARGS$TORCH_ARGS" ] || echo "# ours' extra options: ${OURS_ARGS:-none}; torch's: ${TORCH_ARGS:-none}"
echo "# load before: $(cat /proc/loadavg)"
for mode in $MODES; do
  for r in $(seq 1 "$ROUNDS"); do
    common=(--model "$MODEL" --finetune "$mode" --batch "$BATCH" --seq "$SEQ" --steps "$STEPS" --warmup "$WARMUP"
            --threads "$THREADS" --lora-rank "$RANK" --lora-targets "$TARGETS")
    # shellcheck disable=SC2086  # OURS_ARGS and TORCH_ARGS are split on spaces on purpose
    "$INSTRUCT" bench train "${common[@]}" $OURS_ARGS --json 2>/dev/null > "$OUT/ours-$mode-$r.json"
    if [ -n "$BASE" ]; then
      "$BASE" bench train "${common[@]}" --json 2>/dev/null > "$OUT/base-$mode-$r.json"
    fi
    peak=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['sgemmPeakGflops'])" "$OUT/ours-$mode-$r.json")
    # shellcheck disable=SC2086
    "$PYTHON" scripts/bench_real_model_torch.py "${common[@]}" $TORCH_ARGS --peak-gflops "$peak" 2>/dev/null \
      | sed -n 's/^RESULT //p' > "$OUT/torch-$mode-$r.json"
    python3 - "$mode" "$r" "$OUT" <<'PY'
import json, os, sys
mode, r, out = sys.argv[1:4]
o = json.load(open(f"{out}/ours-{mode}-{r}.json")); t = json.load(open(f"{out}/torch-{mode}-{r}.json"))
if os.path.exists(f"{out}/base-{mode}-{r}.json"):
    b = json.load(open(f"{out}/base-{mode}-{r}.json"))
    print(f"{mode:5s} round {r}: base {b['tokensPerSecond']:7.0f} tok/s ({b['msPerStepMedian']:7.0f} ms, {b['peakResidentMiB']:6.0f} MiB)  ours/base {o['tokensPerSecond']/b['tokensPerSecond']:.2f}")
print(f"{mode:5s} round {r}: ours {o['tokensPerSecond']:7.0f} tok/s ({o['msPerStepMedian']:7.0f} ms, "
      f"{100*o['shareOfSgemmPeak']:4.1f}% of {o['sgemmPeakGflops']:.0f} GFLOP/s, {o['peakResidentMiB']:6.0f} MiB)  "
      f"torch {t['tokens_per_s_median']:7.0f} tok/s ({t['ms_step_median']:7.0f} ms, {100*t['mfu_vs_sgemm_peak']:4.1f}%, "
      f"{t['peak_rss_mib']:6.0f} MiB)  ratio {o['tokensPerSecond']/t['tokens_per_s_median']:.2f}  "
      f"load {open('/proc/loadavg').read().split()[0]}", flush=True)
PY
  done
done
echo "# load after: $(cat /proc/loadavg)"
python3 - "$OUT" "$ROUNDS" $MODES <<'PY'
import json, os, statistics, sys
out, rounds, modes = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
med = statistics.median
def load(side, mode):
    return [json.load(open(f"{out}/{side}-{mode}-{r}.json")) for r in range(1, rounds + 1)]
if os.path.exists(f"{out}/base-{modes[0]}-1.json"):
    print()
    print("| finetune | base tok/s | ours tok/s | ours/base (median of per-round ratios) | per-round ratios | base peak RSS MiB | ours peak RSS MiB |")
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: |")
    for mode in modes:
        o, b = load("ours", mode), load("base", mode)
        rs = sorted(x["tokensPerSecond"] / y["tokensPerSecond"] for x, y in zip(o, b))
        print(f"| {mode} | {med(y['tokensPerSecond'] for y in b):,.0f} | {med(x['tokensPerSecond'] for x in o):,.0f} | "
              f"{med(rs):.2f} | {rs[0]:.2f}..{rs[-1]:.2f} | {max(y['peakResidentMiB'] for y in b):,.0f} | {max(x['peakResidentMiB'] for x in o):,.0f} |")
print()
print("| finetune | B x T | ours tok/s | torch tok/s | ours/torch (medians) | median per-round ratio | per-round ratios | best-step ratio | ours % sgemm peak | torch % sgemm peak | ours peak RSS MiB | torch peak RSS MiB | RSS ours/torch |")
print("| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for mode in modes:
    o, t = load("ours", mode), load("torch", mode)
    ot, tt = med(x["tokensPerSecond"] for x in o), med(x["tokens_per_s_median"] for x in t)
    ratios = sorted(a["tokensPerSecond"] / b["tokens_per_s_median"] for a, b in zip(o, t))
    best = min(x["ms_step_min"] for x in t) / min(x["msPerStepMin"] for x in o)
    orss, trss = max(x["peakResidentMiB"] for x in o), max(x["peak_rss_mib"] for x in t)
    print(f"| {mode} | {o[0]['batch']} x {o[0]['time']} | {ot:,.0f} | {tt:,.0f} | {ot/tt:.2f} | {med(ratios):.2f} | "
          f"{ratios[0]:.2f}..{ratios[-1]:.2f} | {best:.2f} | "
          f"{100*med(x['shareOfSgemmPeak'] for x in o):.0f}% | {100*med(x['mfu_vs_sgemm_peak'] for x in t):.0f}% | "
          f"{orss:,.0f} | {trss:,.0f} | {orss/trss:.2f} |")
print(f"\nmedians over {rounds} alternating rounds; sgemm peak = 2048^3 cblas_sgemm measured by ours in each round "
      f"(median {med(json.load(open(f'{out}/ours-{m}-{r}.json'))['sgemmPeakGflops'] for m in modes for r in range(1, rounds+1)):.0f} GFLOP/s)")
PY
