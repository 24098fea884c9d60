#!/usr/bin/env bash
# Training throughput: `instruct bench train` next to PyTorch eager (../shared/bench/torch_reference.py)
# on the same GPT-2 configs, alternating ours and torch, ROUNDS times each.
#
#   scripts/bench-vs-pytorch.sh [--full] [--rounds N] [--steps N] [--warmup N] [--threads N]
#
# Configs: tiny and small; --full adds gpt2-124m (slow: ~7 s/step in torch). Both sides run
# 2 BLAS/intra-op threads by default, torch with --attn sdpa (its default). Ours passes its
# measured 2048^3 sgemm rate to torch as --peak-gflops so both shares use one denominator.
# Prints per-run lines, then one table of medians over rounds: tokens/s of both, ours/torch
# three ways (ratio of the medians; median of the per-round ratios, with their min..max;
# ratio of the fastest single steps over all rounds), peak RSS of both. On a shared host
# the median per-round ratio and the best-step ratio are the steadier figures: other
# tenants only ever slow a step down, and a round's two runs are seconds apart.
# INSTRUCT_BASE=path/to/older/instruct adds a third binary to every round (before/after a change),
# run right after ours, and a column "ours/base".
# Needs: a release build (.build/release/instruct), python3 with torch.
set -euo pipefail
cd "$(dirname "$0")/.."
INSTRUCT=${INSTRUCT:-.build/release/instruct}
BASE=${INSTRUCT_BASE:-}   # optional second binary (e.g. before a change), run in the same rounds
TORCH_REF=${TORCH_REF:-../shared/bench/torch_reference.py}
CONFIGS="tiny small"; ROUNDS=3; STEPS=10; WARMUP=3; THREADS=2
while [ $# -gt 0 ]; do
  case "$1" in
    --full) CONFIGS="tiny small gpt2-124m" ;;
    --configs) CONFIGS="$2"; shift ;;
    --rounds) ROUNDS="$2"; shift ;;
    --steps) STEPS="$2"; shift ;;
    --warmup) WARMUP="$2"; shift ;;
    --threads) THREADS="$2"; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$INSTRUCT" ] || { echo "no $INSTRUCT: run swift build -c release --product instruct first" >&2; exit 1; }
[ -f "$TORCH_REF" ] || { echo "no $TORCH_REF" >&2; exit 1; }
OUT=$(mktemp -d /tmp/bench-vs-pytorch-XXXXXX)
trap 'rm -rf "$OUT"' EXIT

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# load before: $(uptime | sed 's/.*load average/load average/')"
for cfg in $CONFIGS; do
  tcfg=$cfg; [ "$cfg" = gpt2-124m ] && tcfg=gpt2-124M
  for r in $(seq 1 "$ROUNDS"); do
    "$INSTRUCT" bench train --config "$cfg" --steps "$STEPS" --warmup "$WARMUP" --threads "$THREADS" --json \
      2>/dev/null > "$OUT/ours-$cfg-$r.json"
    if [ -n "$BASE" ]; then
      "$BASE" bench train --config "$cfg" --steps "$STEPS" --warmup "$WARMUP" --threads "$THREADS" --json \
        2>/dev/null > "$OUT/base-$cfg-$r.json"
    fi
    peak=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['sgemmPeakGflops'])" "$OUT/ours-$cfg-$r.json")
    python3 "$TORCH_REF" --config "$tcfg" --steps "$STEPS" --warmup "$WARMUP" --threads "$THREADS" \
      --peak-gflops "$peak" 2>/dev/null | sed -n 's/^RESULT //p' > "$OUT/torch-$cfg-$r.json"
    python3 - "$cfg" "$r" "$OUT" <<'PY'
import json, os, sys
cfg, r, out = sys.argv[1:4]
o = json.load(open(f"{out}/ours-{cfg}-{r}.json")); t = json.load(open(f"{out}/torch-{cfg}-{r}.json"))
if os.path.exists(f"{out}/base-{cfg}-{r}.json"):
    b = json.load(open(f"{out}/base-{cfg}-{r}.json"))
    print(f"{cfg:10s} round {r}: base {b['tokensPerSecond']:8.0f} tok/s ({b['msPerStepMedian']:7.1f} ms)  ours/base {o['tokensPerSecond']/b['tokensPerSecond']:.2f}")
print(f"{cfg:10s} round {r}: ours {o['tokensPerSecond']:8.0f} tok/s ({o['msPerStepMedian']:7.1f} ms, "
      f"{100*o['shareOfSgemmPeak']:4.1f}% of {o['sgemmPeakGflops']:.0f} GFLOP/s)  torch {t['tokens_per_s_median']:8.0f} tok/s "
      f"({t['ms_step_median']:7.1f} ms, {100*t['mfu_vs_sgemm_peak']:4.1f}%)  ratio {o['tokensPerSecond']/t['tokens_per_s_median']:.2f}  "
      f"load {open('/proc/loadavg').read().split()[0]}", flush=True)
PY
  done
done
echo "# load after: $(uptime | sed 's/.*load average/load average/')"
python3 - "$OUT" "$ROUNDS" $CONFIGS <<'PY'
import json, os, statistics, sys
out, rounds, cfgs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
if os.path.exists(f"{out}/base-{cfgs[0]}-1.json"):
    print()
    print("| config | base tok/s | ours tok/s | ours/base (median of per-round ratios) | per-round ratios | base peak RSS MiB | ours peak RSS MiB |")
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: |")
    for cfg in cfgs:
        o = [json.load(open(f"{out}/ours-{cfg}-{r}.json")) for r in range(1, rounds + 1)]
        b = [json.load(open(f"{out}/base-{cfg}-{r}.json")) for r in range(1, rounds + 1)]
        rs = sorted(x["tokensPerSecond"] / y["tokensPerSecond"] for x, y in zip(o, b))
        print(f"| {cfg} | {statistics.median(y['tokensPerSecond'] for y in b):,.0f} | {statistics.median(x['tokensPerSecond'] for x in o):,.0f} | "
              f"{statistics.median(rs):.2f} | {rs[0]:.2f}..{rs[-1]:.2f} | {max(y['peakResidentMiB'] for y in b):,.0f} | {max(x['peakResidentMiB'] for x in o):,.0f} |")
print()
print("| config | B x T | ours tok/s | torch tok/s | ours/torch (medians) | median per-round ratio | per-round ratios | best-step ratio | ours % sgemm peak | torch % sgemm peak | ours peak RSS MiB | torch peak RSS MiB | ours RSS growth KiB/step |")
print("| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for cfg in cfgs:
    o = [json.load(open(f"{out}/ours-{cfg}-{r}.json")) for r in range(1, rounds + 1)]
    t = [json.load(open(f"{out}/torch-{cfg}-{r}.json")) for r in range(1, rounds + 1)]
    med = statistics.median
    ot, tt = med(x["tokensPerSecond"] for x in o), med(x["tokens_per_s_median"] for x in t)
    ratios = sorted(a["tokensPerSecond"] / b["tokens_per_s_median"] for a, b in zip(o, t))
    best = min(x["ms_step_min"] for x in t) / min(x["msPerStepMin"] for x in o)
    print(f"| {cfg} | {o[0]['batch']} x {o[0]['time']} | {ot:,.0f} | {tt:,.0f} | {ot/tt:.2f} | {med(ratios):.2f} | "
          f"{ratios[0]:.2f}..{ratios[-1]:.2f} | {best:.2f} | "
          f"{100*med(x['shareOfSgemmPeak'] for x in o):.0f}% | {100*med(x['mfu_vs_sgemm_peak'] for x in t):.0f}% | "
          f"{max(x['peakResidentMiB'] for x in o):,.0f} | {max(x['peak_rss_mib'] for x in t):,.0f} | "
          f"{med(x['residentGrowthPerStepKiB'] for x in o):.0f} |")
print(f"\nmedians over {rounds} alternating rounds; sgemm peak = 2048^3 cblas_sgemm measured by ours in each round "
      f"(median {statistics.median(json.load(open(f'{out}/ours-{c}-{r}.json'))['sgemmPeakGflops'] for c in cfgs for r in range(1, rounds+1)):.0f} GFLOP/s)")
PY
