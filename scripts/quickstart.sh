#!/usr/bin/env bash
# The main job, on a fresh machine: install what is missing, build in release mode,
# generate the synthetic verifiable-instruction dataset, and fine-tune a small
# Llama-shaped model on it from scratch (recipes/quickstart.yaml). Prints held-out
# accuracy before and after training, per task family, scored by the dataset's own
# checker with greedy decoding, and writes checkpoints/quickstart/quickstart.json.
# Safe to run twice (the data and the build are reused; the run folder is rewritten).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
start=$(date +%s)
echo "== building (release)"
swift build -c release --product instruct
bin=.build/release/instruct
echo "== generating the synthetic dataset (datasets/synth, seed 1)"
"$bin" data synth --out datasets/synth --seed 1
echo "== training recipes/quickstart.yaml"
rm -rf checkpoints/quickstart
"$bin" train recipes/quickstart.yaml "$@"
echo "== summary: checkpoints/quickstart/quickstart.json (total $(( $(date +%s) - start )) s including the build)"
cat checkpoints/quickstart/quickstart.json
