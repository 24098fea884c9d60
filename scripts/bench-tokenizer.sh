#!/usr/bin/env bash
# Tokenizer encoding speed: InstructKit's `instruct bench tokenizer` next to Hugging Face
# `tokenizers` (PyPI) on the same lines of text, as MB/s of UTF-8 input.
#
#   scripts/bench-tokenizer.sh [TOKENIZER] [TEXT_FILE]
#
# TOKENIZER defaults to ../shared/datasets/tokenizers/gpt2 (vocab.json + merges.txt).
# TEXT_FILE defaults to a corpus made from every text in ../shared/datasets/instruct, one line
# per input line, repeated to about 8 MB. Each line is one text for both tools. Both are timed
# on encoding only (loading excluded), best of 3 runs, each with a freshly loaded tokenizer.
# HF single thread = encode_batch with TOKENIZERS_PARALLELISM=false; HF batch = encode_batch
# on all cores. HF encodes without its post-processor (add_special_tokens=False), as `instruct`
# never adds BOS/EOS, so the token counts must agree.
# Needs: pip install tokenizers (or PATH=.venv/bin:$PATH); a release build (.build/release/instruct).
set -euo pipefail
cd "$(dirname "$0")/.."
TOK=${1:-../shared/datasets/tokenizers/gpt2}
TEXT=${2:-}
INSTRUCT=${INSTRUCT:-.build/release/instruct}
[ -x "$INSTRUCT" ] || { echo "no $INSTRUCT: run swift build -c release first" >&2; exit 1; }
if [ -z "$TEXT" ]; then
  TEXT=$(mktemp /tmp/bench-tokenizer-XXXXXX.txt)
  trap 'rm -f "$TEXT"' EXIT
  python3 - "$TEXT" <<'PY'
import json, sys, glob
lines = []
for path in sorted(glob.glob("../shared/datasets/instruct/*.jsonl")):
    for row in open(path, encoding="utf-8"):
        rec = json.loads(row)
        texts = [rec.get(k, "") for k in ("instruction", "context", "response")]
        texts += [m["content"] for m in rec.get("messages", [])]
        for t in texts:
            lines += [l for l in t.split("\n") if l.strip()]
base = "\n".join(lines) + "\n"
reps = max(1, 8_000_000 // len(base.encode()))
open(sys.argv[1], "w", encoding="utf-8").write(base * reps)
PY
fi

OURS=$("$INSTRUCT" bench tokenizer --tokenizer "$TOK" --file "$TEXT" --threads 2 --json)

python3 - "$TOK" "$TEXT" "$OURS" <<'PY'
import json, os, subprocess, sys, time
tok_path, text_path, ours = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])

HF = r'''
import json, os, sys, time
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
path, text_path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
def load():
    if os.path.isdir(path) and not os.path.exists(os.path.join(path, "tokenizer.json")):
        t = Tokenizer(models.BPE.from_file(os.path.join(path, "vocab.json"), os.path.join(path, "merges.txt")))
        t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        t.decoder = decoders.ByteLevel()
        t.add_special_tokens([AddedToken("<|endoftext|>", special=True)])
        return t
    return Tokenizer.from_file(os.path.join(path, "tokenizer.json") if os.path.isdir(path) else path)
lines = open(text_path, encoding="utf-8").read().split("\n")
if lines and lines[-1] == "": lines.pop()
best, tokens = float("inf"), 0
for _ in range(3):
    tok = load()
    t0 = time.perf_counter()
    if mode == "loop":
        enc = [tok.encode(l, add_special_tokens=False) for l in lines]
    else:
        enc = tok.encode_batch(lines, add_special_tokens=False)
    best = min(best, time.perf_counter() - t0)
    tokens = sum(len(e.ids) for e in enc)
print(json.dumps({"seconds": best, "tokens": tokens}))
'''

def hf(mode, parallel):
    env = dict(os.environ, TOKENIZERS_PARALLELISM="true" if parallel else "false")
    out = subprocess.run([sys.executable, "-c", HF, tok_path, text_path, mode], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)

mb = ours["bytes"] / 1e6
rows = [("InstructKit, 1 thread", ours["runs"][0]["seconds"], ours["runs"][0]["tokens"])]
if len(ours["runs"]) > 1:
    rows.append(("InstructKit, 2 threads", ours["runs"][1]["seconds"], ours["runs"][1]["tokens"]))
h1 = hf("batch", False); h2 = hf("batch", True); hl = hf("loop", False)
rows += [("HF tokenizers encode_batch, 1 thread", h1["seconds"], h1["tokens"]),
         ("HF tokenizers encode_batch, all cores (%d)" % os.cpu_count(), h2["seconds"], h2["tokens"]),
         ("HF tokenizers encode() per line, 1 thread", hl["seconds"], hl["tokens"])]
print("text: %s, %.2f MB, %d lines; tokenizer: %s" % (text_path, mb, ours["lines"], tok_path))
for name, sec, toks in rows:
    print("%-46s %8.2f MB/s  %9d tokens" % (name, mb / sec, toks))
ours1, ours2 = mb / rows[0][1], mb / rows[1][1] if len(rows) > 4 else None
print("ratio InstructKit 1 thread / HF 1 thread:     %.2fx" % (ours1 / (mb / h1["seconds"])))
if ours2:
    print("ratio InstructKit 2 threads / HF all cores:   %.2fx" % (ours2 / (mb / h2["seconds"])))
if len({r[2] for r in rows}) != 1:
    print("WARNING: token counts differ between tools")
PY
