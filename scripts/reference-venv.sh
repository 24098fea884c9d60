#!/usr/bin/env bash
# Makes (or reuses) the Python environment the reference scripts run in: transformers 5,
# PyTorch (CPU), the `gguf` package, HF `tokenizers`, jinja2, PEFT, safetensors and the
# `openai` client (scripts/check_openai_server.py), all from
# PyPI. Python is never needed to build or run InstructKit; these packages only regenerate
# committed fixtures and run side-by-side checks (scripts/README.md).
#
#   scripts/reference-venv.sh            # creates .venv (or $INSTRUCTKIT_VENV) when missing
#   source "$(scripts/reference-venv.sh --print)"/bin/activate
#
# Safe to run twice: packages already installed are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${INSTRUCTKIT_VENV:-$PWD/.venv}"
if [ "${1:-}" = "--print" ]; then echo "$venv"; exit 0; fi
if ! command -v python3 >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "reference-venv: installing python3 (apt-get)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3 python3-venv python3-pip >/dev/null
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "reference-venv: creating $venv"
  python3 -m venv "$venv"
fi
py="$venv/bin/python"
if ! "$py" -c "import torch, transformers, gguf, tokenizers, jinja2, peft, safetensors, sentencepiece, openai" >/dev/null 2>&1; then
  echo "reference-venv: installing the reference packages into $venv (once; a few minutes)"
  "$py" -m pip install -q --upgrade pip
  # torch: the CPU build from PyPI (no CUDA libraries to download).
  "$py" -m pip install -q "torch==2.13.0+cpu" || "$py" -m pip install -q torch
  "$py" -m pip install -q "transformers>=5,<6" "gguf>=0.17" tokenizers jinja2 peft safetensors sentencepiece protobuf numpy openai
fi
echo "$venv"
