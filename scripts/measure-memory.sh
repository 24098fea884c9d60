#!/usr/bin/env bash
# The memory planner's estimate against the measured peak resident memory (docs/performance.md,
# "Memory"): runs each recipe for a few steps as it is (plus the overrides below) and prints a
# Markdown table row per run from the run summary's `estimated_peak_mib` and
# `peak_resident_mib` (VmHWM in /proc/self/status, taken after the last step and its checkpoint).
#
#   scripts/measure-memory.sh                      # the shipped recipes that run here, 3 steps
#   scripts/measure-memory.sh --steps 60 dolly-gpt2
#   scripts/measure-memory.sh --smollm2            # also the SmolLM2-135M recipes (LoRA, full, oasst)
#   scripts/measure-memory.sh --set training.activation_checkpointing=true quickstart   # one more override on every run
#
# Needs the release binary (swift build -c release --product instruct, or INSTRUCT=path),
# datasets/synth (made here when missing), ../shared for the recipes that read it, and for
# --smollm2 models/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/fetch-smollm2.sh). Everything
# the runs write goes to a temporary folder, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${INSTRUCT:-.build/release/instruct}
STEPS=3
SMOL=0
RECIPES=()
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) STEPS=$2; shift 2 ;;
    --smollm2) SMOL=1; shift ;;
    --set) EXTRA+=("$2"); shift 2 ;;
    *) RECIPES+=("$1"); shift ;;
  esac
done
[ ${#RECIPES[@]} -gt 0 ] || RECIPES=(quickstart oasst-chat dolly-gpt2 gpt2-lora stories260k-sft stories260k-lora)
TMP=$(mktemp -d /tmp/instruct-memory-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
[ -f datasets/synth/train.jsonl ] || "$BIN" data synth --out datasets/synth --seed 1 > /dev/null

# Runs recipe file $1 named $2 with overrides $3...; prints its table row.
measure() {
  local file=$1 name=$2; shift 2
  local out="$TMP/runs/$name"
  if ! "$BIN" train "$file" "training.max_steps=$STEPS" "output.dir=$out" "$@" ${EXTRA[@]+"${EXTRA[@]}"} > "$TMP/$name.log" 2>&1; then
    echo "| $name | failed: $(tail -1 "$TMP/$name.log") |"
    return
  fi
  python3 - "$out/$(basename "$out").json" "$TMP/$name.log" "$name" "$STEPS" <<'PY'
import json, re, sys
summary = json.load(open(sys.argv[1]))
log = open(sys.argv[2]).read()
est, peak = summary["estimated_peak_mib"], summary["peak_resident_mib"]
line = next(l for l in log.splitlines() if l.startswith("memory: estimated peak"))
parts = re.search(r"\((.*)\) of", line).group(1)
print(f"| {sys.argv[3]} | {sys.argv[4]} | {est:,.0f} | {peak:,.0f} | {100 * (est / peak - 1):+.1f}% | {parts} |")
PY
}

echo "| run | steps | estimated MiB | measured peak MiB | error | estimate's parts |"
echo "| --- | ---: | ---: | ---: | ---: | --- |"
for r in "${RECIPES[@]}"; do
  case "$r" in
    quickstart) measure recipes/quickstart.yaml quickstart eval.synth=null ;;
    oasst-chat|dolly-gpt2) measure "recipes/$r.yaml" "$r" eval.every=0 ;;
    gpt2-lora)
      # Its base is dolly-gpt2's checkpoint: the one measured above, or a fresh short run.
      [ -d "$TMP/runs/dolly-gpt2" ] || "$BIN" train recipes/dolly-gpt2.yaml training.max_steps=2 "output.dir=$TMP/runs/dolly-gpt2" > /dev/null
      measure recipes/gpt2-lora.yaml gpt2-lora "model.init=$TMP/runs/dolly-gpt2" ;;
    stories260k-sft|stories260k-lora)
      [ -d "$TMP/stories260k-base" ] || "$BIN" import ../shared/datasets/models/stories260K/stories260K.bin \
        --tokenizer ../shared/datasets/models/stories260K/tok512.bin --out "$TMP/stories260k-base" > /dev/null
      measure "recipes/$r.yaml" "$r" "model.init=$TMP/stories260k-base" eval.synth=null ;;
    *) measure "recipes/$r.yaml" "$r" ;;
  esac
done

if [ "$SMOL" = 1 ]; then
  # SmolLM2-135M (30 layers, dim 576, vocabulary 49152) through the shipped recipes, on an
  # import of the GGUF and the synthetic data their headers make (evaluation off: it is not
  # what is measured).
  "$BIN" import models/SmolLM2-135M-Instruct.Q4_1.gguf --out "$TMP/smollm2" > /dev/null
  "$BIN" data synth --out "$TMP/synth-smollm2" --seed 2 --train 4000 --heldout 200 \
    --families add,sort,count,max,reverse,uppercase,json_key,ends_with,bullets,quoted > /dev/null
  for r in smollm2-lora smollm2-full; do
    measure "recipes/$r.yaml" "$r" "model.init=$TMP/smollm2" "data.datasets.0.path=$TMP/synth-smollm2/train.jsonl" eval.synth=null
  done
  measure recipes/smollm2-oasst.yaml smollm2-oasst "model.init=$TMP/smollm2" eval.every=0
fi
