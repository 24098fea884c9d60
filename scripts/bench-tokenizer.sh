#!/usr/bin/env bash
# Tokenizer encoding speed: InstructKit next to Hugging Face `tokenizers` (PyPI) on the same
# lines of text, side by side in one run, as MB/s of UTF-8 input.
#
#   scripts/bench-tokenizer.sh [TOKENIZER] [TEXT_FILE]
#   ROUNDS=5 THREADS=2 scripts/bench-tokenizer.sh
#
# TOKENIZER defaults to ../shared/datasets/tokenizers/gpt2 (vocab.json + merges.txt).
# TEXT_FILE defaults to a corpus made from every text in ../shared/datasets/instruct, one line
# per input line, repeated to about 8 MB. Each line is one text for both tools, and HF encodes
# without its post-processor (add_special_tokens=False, as `instruct` never adds BOS/EOS), so
# the token counts must agree (checked).
#
# ROUNDS rounds (default 5) run the measurements one after the other, alternating the tools, so
# both see the same machine load; each row reports the median and the range over rounds.
#   encode only (tokenizer loaded, text in memory; each round loads a fresh tokenizer, so
#   word caches start cold):
#     InstructKit `instruct bench tokenizer --repeat 1` at 1 and THREADS threads;
#     HF `Tokenizer.encode_batch` at 1 thread (RAYON_NUM_THREADS=1) and THREADS threads
#     (RAYON_NUM_THREADS=THREADS): the same thread counts on both sides.
#   end to end (a whole process: start, load, read, encode, write the ids to /dev/null):
#     `instruct tokenizer encode --file TEXT --threads THREADS` and a Python process doing
#     the same with HF encode_batch on THREADS threads.
# Once, after the rounds: HF `encode()` called per line (what a plain Python loop does).
# Needs: pip install tokenizers (or PATH=.venv/bin:$PATH); a release build (.build/release/instruct).
set -euo pipefail
cd "$(dirname "$0")/.."
TOK=${1:-../shared/datasets/tokenizers/gpt2}
TEXT=${2:-}
INSTRUCT=${INSTRUCT:-.build/release/instruct}
ROUNDS=${ROUNDS:-5}
THREADS=${THREADS:-2}
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

python3 - "$TOK" "$TEXT" "$INSTRUCT" "$ROUNDS" "$THREADS" <<'PY'
import json, os, statistics, subprocess, sys, time
tok_path, text_path, instruct, rounds, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])

HF = r'''
import json, os, sys, time
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
path, text_path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
t_start = time.perf_counter()
def load():
    if os.path.isdir(path) and not os.path.exists(os.path.join(path, "tokenizer.json")):
        t = Tokenizer(models.BPE.from_file(os.path.join(path, "vocab.json"), os.path.join(path, "merges.txt")))
        t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        t.decoder = decoders.ByteLevel()
        t.add_special_tokens([AddedToken("<|endoftext|>", special=True)])
        return t
    return Tokenizer.from_file(os.path.join(path, "tokenizer.json") if os.path.isdir(path) else path)
tok = load()
lines = open(text_path, encoding="utf-8").read().split("\n")
if lines and lines[-1] == "": lines.pop()
t0 = time.perf_counter()
if mode == "loop":
    enc = [tok.encode(l, add_special_tokens=False) for l in lines]
else:
    enc = tok.encode_batch(lines, add_special_tokens=False)
seconds = time.perf_counter() - t0
if mode == "e2e":
    with open(os.devnull, "w") as out:
        out.write("".join(" ".join(map(str, e.ids)) + "\n" for e in enc))
print(json.dumps({"seconds": seconds, "tokens": sum(len(e.ids) for e in enc)}))
'''

def hf(mode, n):
    env = dict(os.environ, RAYON_NUM_THREADS=str(n), TOKENIZERS_PARALLELISM="true" if n > 1 else "false")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", HF, tok_path, text_path, mode], env=env, check=True,
                         capture_output=True, text=True).stdout
    wall = time.perf_counter() - t0
    r = json.loads(out)
    return r["seconds"], wall, r["tokens"]

def ours_encode():
    out = subprocess.run([instruct, "bench", "tokenizer", "--tokenizer", tok_path, "--file", text_path,
                          "--threads", str(threads), "--repeat", "1", "--json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)

def ours_e2e():
    t0 = time.perf_counter()
    with open(os.devnull, "w") as devnull:
        subprocess.run([instruct, "tokenizer", "encode", "--tokenizer", tok_path, "--file", text_path, "--threads", str(threads)],
                       check=True, stdout=devnull)
    return time.perf_counter() - t0

mb = os.path.getsize(text_path) / 1e6
rows = {}
tokens = {}
def add(name, seconds, count=None):
    rows.setdefault(name, []).append(mb / seconds)
    if count is not None:
        tokens.setdefault(name, set()).add(count)

T = threads
for r in range(rounds):
    o = ours_encode()
    for run in o["runs"]:
        add("encode: InstructKit, %d thread(s)" % run["threads"], run["seconds"], run["tokens"])
    for n in sorted({1, T}):
        s, _, c = hf("batch", n)
        add("encode: HF encode_batch, %d thread(s)" % n, s, c)
    add("end to end: instruct tokenizer encode --file, %d threads" % T, ours_e2e())
    _, wall, c = hf("e2e", T)
    add("end to end: python + HF encode_batch, %d threads" % T, wall, c)
    print("round %d/%d done" % (r + 1, rounds), file=sys.stderr)
s, _, c = hf("loop", 1)
add("encode: HF encode() per line, 1 thread (once)", s, c)

print("text: %s, %.2f MB; tokenizer: %s; %d rounds, threads 1 and %d; load average %s"
      % (text_path, mb, tok_path, rounds, T, " ".join("%.2f" % x for x in os.getloadavg())))
med = {}
for name, v in rows.items():
    med[name] = statistics.median(v)
    print("%-60s %7.2f MB/s  (%.2f-%.2f)" % (name, med[name], min(v), max(v)))
def ratio(a, b, label):
    print("%-60s %6.2fx" % (label, med[a] / med[b]))
ratio("encode: InstructKit, 1 thread(s)", "encode: HF encode_batch, 1 thread(s)", "ratio encode, 1 thread (InstructKit / HF batch)")
if T > 1:
    ratio("encode: InstructKit, %d thread(s)" % T, "encode: HF encode_batch, %d thread(s)" % T,
          "ratio encode, %d threads (InstructKit / HF batch)" % T)
ratio("end to end: instruct tokenizer encode --file, %d threads" % T, "end to end: python + HF encode_batch, %d threads" % T,
      "ratio end to end, %d threads" % T)
ratio("encode: InstructKit, 1 thread(s)", "encode: HF encode() per line, 1 thread (once)", "ratio encode, 1 thread (InstructKit / HF per-line loop)")
counts = set().union(*tokens.values())
print("tokens: %s" % ", ".join(str(c) for c in sorted(counts)))
if len(counts) != 1:
    print("WARNING: token counts differ between tools")
    sys.exit(1)
PY
