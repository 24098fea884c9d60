#!/usr/bin/env bash
# Per-op profile of training steps: `perf record` on `instruct bench train` (no sgemm peak
# timing, so only model building and steps are sampled), then the self time of every symbol
# (demangled) summed into op families by name. The families are regexes below, checked in
# order; the first that matches a symbol takes its samples.
#
#   scripts/profile-train.sh [CONFIG] [STEPS]        # default: small 6 (plus 1 warm-up step)
#   scripts/profile-train.sh MODEL-PATH [STEPS]       # a real model (bench train --model), e.g.
#       FINETUNE=lora BATCH=4 SEQ=512 scripts/profile-train.sh models/SmolLM2-135M-Instruct-hf 3
#
# Self time, not inclusive: time in OpenBLAS counts as matmul wherever it was called from
# (attention's internal products call sgemm too, so "matmul" includes them), and malloc,
# page faults, memset and memcpy count as "allocation and copies" whoever called them.
# OpenBLAS's worker threads spin (sched_yield) while waiting for work; that and the kernel's
# scheduling show as "BLAS thread wait and scheduler" and grow with the machine's load.
# Model set-up (random init) is sampled too and listed on its own line.
# Needs: perf (kernel.perf_event_paranoid <= 2 is enough for user-space samples of
# this process), swift demangle, a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${1:-small}; STEPS=${2:-6}
INSTRUCT=${INSTRUCT:-.build/release/instruct}
[ -x "$INSTRUCT" ] || { echo "no $INSTRUCT: run swift build -c release --product instruct first" >&2; exit 1; }
OUT=$(mktemp -d /tmp/profile-train-XXXXXX)
trap 'rm -rf "$OUT"' EXIT
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'); load: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -e "$CONFIG" ]; then
  WHAT=(--model "$CONFIG" --finetune "${FINETUNE:-lora}" --batch "${BATCH:-4}" --seq "${SEQ:-512}")
else
  WHAT=(--config "$CONFIG")
fi
perf record -F 499 -g -o "$OUT/perf.data" -- "$INSTRUCT" bench train "${WHAT[@]}" --steps "$STEPS" --warmup 1 \
  --threads 2 --no-sgemm-peak 2>/dev/null | sed -n 's/^/# /p' | grep -E 'ms/step|tokens/s|config|instruct bench' || true
perf report -i "$OUT/perf.data" --no-children --sort symbol --stdio -g none --percent-limit 0 2>/dev/null \
  | grep -E '^ +[0-9.]+%' | swift demangle --simplified > "$OUT/symbols.txt"
python3 - "$OUT/symbols.txt" <<'PY'
import re, sys
groups = [
    ("setup (random init or loading of the weights; not part of a step)", r"randomNormal|DeterministicMath|initialParameters|nextNormal|SafeTensors|GGUF|ModelImport|Dequantiz"),
    ("optimizer (AdamW)", r"AdamW"),
    ("cross-entropy", r"crossEntropy|CrossEntropy"),
    ("attention (our code: softmax, masks, copies)", r"[Aa]ttention"),
    ("norms (LayerNorm, RMSNorm)", r"[Ll]ayer[Nn]orm|[Rr]ms[Nn]orm|Normalization"),
    ("rotary embeddings (RoPE)", r"[Rr]ope"),
    ("matmul (OpenBLAS sgemm)", r"sgemm|gemm_|_kernel_|[io]tcopy|oncopy|sgemv|inner_thread|blas_memory|exec_blas|gemm_thread"),
    ("BLAS thread wait and scheduler (sched_yield spinning, context switches)", r"blas_thread_server|sched_yield|__schedule|finish_task_switch|do_syscall_64|entry_SYSCALL|syscall_exit|pick_next|update_curr|_raw_spin|psi_"),
    ("elementwise (GELU, SiLU/SwiGLU, add, mul, broadcast sums)", r"gelu|GELU|Gelu|[Ss]ilu|SiLU|[Ss]wi[Gg][Ll][Uu]|binary|Kernel|[Ee]lementwise|unary|VectorExp|sumToShape|sum\(axis|reduce|addingSameShape"),
    ("shape (split, reshape, transpose, concat, gather)", r"split|reshap|transpos|concat|permut|gather|[Ee]mbedding|Shape"),
    ("allocation and copies (malloc, page faults, memset, memcpy)", r"malloc|free|memset|memcpy|memmove|clear_page|page_fault|do_anonymous|alloc|mmap|munmap|zeros|uninitialized|TensorStorage|folio|lru|zap_|rmqueue|__handle_mm|handle_mm"),
    ("autograd bookkeeping (graph, refcounts)", r"gradients\(|GradNode|recorded|swift_retain|swift_release|swift_bridgeObject|Dictionary|Hasher|_swift_|swift::"),
    ("threading (Parallel, dispatch, futex)", r"Parallel|dispatch|futex|pthread|_dispatch|schedule|worker"),
]
tot, acc, unk = 0.0, {g: 0.0 for g, _ in groups}, {}
for line in open(sys.argv[1]):
    m = re.match(r"\s*([0-9.]+)%\s+\S+\s+\[[.k]\]\s+(.*)", line) or re.match(r"\s*([0-9.]+)%\s+(.*)", line)
    if not m: continue
    pct, sym = float(m.group(1)), m.group(2).strip()
    tot += pct
    for g, rx in groups:
        if re.search(rx, sym):
            acc[g] += pct; break
    else:
        unk[sym] = unk.get(sym, 0) + pct
other = sum(unk.values())
print("| group | share of samples |")
print("| --- | ---: |")
for g, _ in groups:
    print(f"| {g} | {acc[g]:.1f}% |")
print(f"| other | {other:.1f}% |")
print(f"\n(sum {tot:.1f}%; top 'other' symbols: " +
      "; ".join(f"{s[:70]} {p:.1f}%" for s, p in sorted(unk.items(), key=lambda kv: -kv[1])[:6]) + ")")
print("\ntop 25 symbols (self time):")
for line in open(sys.argv[1]).readlines()[:25]:
    print("  " + line.rstrip()[:150])
PY
