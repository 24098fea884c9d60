#!/usr/bin/env bash
# Batch-1 greedy decoding of SmolLM2-135M-Instruct: `instruct bench generate --model GGUF` next
# to llama.cpp (scripts/bench_llamacpp.py, llama-cpp-python) on the same GGUF files, alternating
# ours and llama.cpp in each round, same prompt (the first --prompt-tokens tokens of one fixed
# text), same number of new tokens, same threads.
#
#   scripts/bench-decode.sh [--rounds N] [--prompt-tokens N] [--new-tokens N] [--repetitions N] [--threads N]
#
# GGUFs: the shipped Q4_1 (models/, scripts/fetch-smollm2.sh), and Q8_0 and F32 exports of the
# imported checkpoint (`instruct export CKPT --format gguf --gguf-type q8_0|f32`, made once into
# $OUT_DIR). Pairs per round:
#   F32 file:  ours --weights f32   vs llama.cpp F32
#   Q8_0 file: ours --weights q8_0  vs llama.cpp Q8_0
#   Q4_1 file: ours --weights q8_0 and --weights f32 (we de-quantize Q4_1 at import) vs llama.cpp Q4_1
# Each side reports the median of --repetitions runs after a warm-up; the script prints per
# round tokens/s of both and ours/llama.cpp, then the median per-round ratio per pair.
# Needs: a release build, a checkpoint of SmolLM2 (CHECKPOINT, default checkpoints/smollm2, made
# by `instruct import models/SmolLM2-135M-Instruct.Q4_1.gguf --out checkpoints/smollm2`), and
# a Python with llama-cpp-python and numpy (PYTHON, default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
INSTRUCT=${INSTRUCT:-.build/release/instruct}
PYTHON=${PYTHON:-.venv/bin/python}
CHECKPOINT=${CHECKPOINT:-checkpoints/smollm2}
Q4=${Q4_GGUF:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
OUT_DIR=${OUT_DIR:-checkpoints/bench-decode}
ROUNDS=3; PROMPT=64; NEW=128; REPS=3; THREADS=2
# llama.cpp's OpenMP workers spin between operations (OMP_WAIT_POLICY=ACTIVE, its default and
# the fair setting on an idle machine: measured 2026-12-05 on a quiet 2-core EPYC, ACTIVE
# decoded Q8_0 at 142 t/s, PASSIVE at 30). On a shared machine with another process on one of
# the cores, spinning made it 2-10x slower (load average 5-7: Q8_0 25 t/s spinning, 47 t/s
# passive); LLAMA_OMP_WAIT_POLICY=PASSIVE is the fair setting there.
LLAMA_WAIT=${LLAMA_OMP_WAIT_POLICY:-ACTIVE}
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift ;;
    --prompt-tokens) PROMPT="$2"; shift ;;
    --new-tokens) NEW="$2"; shift ;;
    --repetitions) REPS="$2"; shift ;;
    --threads) THREADS="$2"; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$INSTRUCT" ] || { echo "no $INSTRUCT: run swift build -c release --product instruct first" >&2; exit 1; }
[ -f "$Q4" ] || { echo "no $Q4: run scripts/fetch-smollm2.sh" >&2; exit 1; }
"$PYTHON" -c "import llama_cpp, numpy" 2>/dev/null || { echo "$PYTHON has no llama_cpp/numpy: $PYTHON -m pip install llama-cpp-python numpy" >&2; exit 1; }
mkdir -p "$OUT_DIR"
for t in q8_0 f32; do
  f="$OUT_DIR/smollm2.$t.gguf"
  if [ ! -f "$f" ]; then
    [ -e "$CHECKPOINT" ] || { echo "no $CHECKPOINT: instruct import $Q4 --out $CHECKPOINT" >&2; exit 1; }
    echo "exporting $CHECKPOINT as $t GGUF: $f"
    "$INSTRUCT" export "$CHECKPOINT" --format gguf --gguf-type "$t" --out "$f" > /dev/null
  fi
done
TMP=$(mktemp -d /tmp/bench-decode-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
PAIRS="F32:$OUT_DIR/smollm2.f32.gguf:f32 Q8_0:$OUT_DIR/smollm2.q8_0.gguf:q8_0 Q4_1:$Q4:q8_0 Q4_1:$Q4:f32"
echo "load before: $(cat /proc/loadavg)"
echo "$ROUNDS rounds; $PROMPT-token prompt, $NEW new tokens, batch 1, greedy, $THREADS threads, median of $REPS runs per side; llama.cpp OMP_WAIT_POLICY=$LLAMA_WAIT"
printf '%-6s %-5s %-10s %10s %10s %8s   %12s %12s %8s\n' round file "ours" "ours t/s" "llama t/s" ratio "ours pp t/s" "llama pp t/s" ratio
for round in $(seq 1 "$ROUNDS"); do
  for pair in $PAIRS; do
    IFS=: read -r name file weights <<< "$pair"
    "$INSTRUCT" bench generate --model "$file" --weights "$weights" --prompt-tokens "$PROMPT" --new-tokens "$NEW" \
      --repetitions "$REPS" --threads "$THREADS" --json > "$TMP/ours.json"
    OMP_WAIT_POLICY="$LLAMA_WAIT" "$PYTHON" scripts/bench_llamacpp.py --model "$file" --prompt-tokens "$PROMPT" --new-tokens "$NEW" \
      --repetitions "$REPS" --threads "$THREADS" --json 2> /dev/null > "$TMP/llama.json"
    "$PYTHON" - "$TMP/ours.json" "$TMP/llama.json" "$round" "$name" "$weights" >> "$TMP/rows.tsv" <<'PY'
import json, sys
o, l = (json.load(open(p)) for p in sys.argv[1:3])
print("\t".join([sys.argv[3], sys.argv[4], sys.argv[5], str(o["decodeMedian"]), str(l["decodeMedian"]),
                 str(o["prefillMedian"]), str(l["prefillMedian"]), str(o["shareOfBound"]), str(o["boundTokensPerSecond"])]))
PY
    tail -1 "$TMP/rows.tsv" | awk -F'\t' '{ printf "%-6s %-5s %-10s %10.1f %10.1f %8.2f   %12.1f %12.1f %8.2f   (ours at %.0f%% of its bound %.1f t/s)\n", $1, $2, "ours " $3, $4, $5, $4/$5, $6, $7, $6/$7, 100*$8, $9 }'
  done
done
echo
echo "median per-round ratio ours/llama.cpp (generated tokens/s; prompt tokens/s):"
"$PYTHON" - "$TMP/rows.tsv" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
for key in dict.fromkeys((r[1], r[2]) for r in rows):
    rs = [r for r in rows if (r[1], r[2]) == key]
    g = [float(r[3]) / float(r[4]) for r in rs]
    p = [float(r[5]) / float(r[6]) for r in rs]
    print(f"  {key[0]:5} file, ours {key[1]:5}: generated {statistics.median(g):.2f}x ({min(g):.2f}..{max(g):.2f}), "
          f"ours {statistics.median(float(r[3]) for r in rs):.1f} vs llama.cpp {statistics.median(float(r[4]) for r in rs):.1f} t/s; "
          f"prompt {statistics.median(p):.2f}x")
PY
echo "load after: $(cat /proc/loadavg)"
