#!/usr/bin/env bash
# Load test of `instruct serve` on loopback (`instruct bench serve`): the server runs in the
# bench process on 127.0.0.1 (a free port); 1,000 chat completions from 8 concurrent clients
# (each waits for its answer before sending the next); prints requests/s, generated tokens/s,
# latency percentiles, the mean batch size and the resident memory every 100 requests. It
# stops by itself (after --requests, or --max-seconds).
#
#   scripts/bench-serve.sh [quickstart|smollm2|CHECKPOINT] [instruct bench serve options]
#
#   quickstart (default): the quickstart model (Llama, dim 128, 4 layers) trained for 150
#                         steps on synthetic data (about a minute), answering its own kind
#                         of instruction.
#   smollm2:              SmolLM2-135M-Instruct imported from models/ (scripts/fetch-smollm2.sh).
#   CHECKPOINT:           any checkpoint directory.
# Options go to `instruct bench serve` (--requests 1000 --concurrency 8 --max-tokens 16
# --stream --max-batch 8 --json ...).
#
# Needs: a release build (.build/release/instruct, or $INSTRUCT).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
INSTRUCT=$ROOT/${INSTRUCT:-.build/release/instruct}
[ -x "$INSTRUCT" ] || { echo "no $INSTRUCT: run swift build -c release --product instruct first" >&2; exit 1; }
WHAT=${1:-quickstart}
[ $# -gt 0 ] && shift
WORK=$(mktemp -d /tmp/bench-serve-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
case "$WHAT" in
  quickstart)
    cd "$WORK"
    "$INSTRUCT" data synth --out synth --seed 1 --train 2000 --heldout 10 >/dev/null
    sed -e 's#datasets/synth/train.jsonl#synth/train.jsonl#' -e '/^eval:/,$d' "$ROOT/recipes/quickstart.yaml" > r.yaml
    "$INSTRUCT" train r.yaml training.max_steps=150 training.log_every=50 output.dir=quickstart >/dev/null
    CKPT=quickstart ;;
  smollm2)
    GGUF=$ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf
    [ -f "$GGUF" ] || { echo "no $GGUF: run scripts/fetch-smollm2.sh first" >&2; exit 1; }
    cd "$WORK"
    "$INSTRUCT" import "$GGUF" --out smollm2 >/dev/null
    CKPT=smollm2 ;;
  *)
    CKPT=$WHAT ;;
esac
"$INSTRUCT" bench serve "$CKPT" "$@"
