#!/usr/bin/env python3
"""Batch-1 greedy decoding speed of llama.cpp (through llama-cpp-python) on a GGUF file,
measured the way `instruct bench generate --model GGUF --prompt-tokens N` measures ours:
the first N tokens of the same fixed text as the prompt, one prefill call (prompt tokens/s),
then --new-tokens single-token decoding calls with greedy argmax (generated tokens/s,
end-of-sequence ignored), a short warm-up run first, medians over --repetitions runs.

Prints one JSON object (--json) or a short table. Used by scripts/bench-decode.sh.
Needs: pip install llama-cpp-python numpy (into /work/main/.venv or any venv).
"""
import argparse
import json
import statistics
import sys
import time

import numpy as np

try:
    import llama_cpp
except ImportError:
    sys.exit("bench_llamacpp.py: llama-cpp-python is not installed; pip install llama-cpp-python")

# The same text as BenchGenerate.fixedText in Sources/instruct/BenchGenerateCommand.swift.
FIXED_TEXT = (
    "The river begins as snow on the northern slopes, where the first warm days of spring loosen it into "
    "thin streams that run between the stones. By the time it reaches the valley it has gathered the water "
    "of a hundred smaller brooks, and the farmers who live along its banks have learned to read its moods: "
    "the brown, hurried water of April, the slow green water of August, the clear and cold water of the "
    "first frosts. Mills were built wherever the current was strong enough to turn a wheel, and towns grew "
    "around the mills. Bridges followed, first of wood, then of stone, and every bridge became a market "
    "where people from both banks met to trade grain, wool, timber and news."
)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a GGUF file")
    ap.add_argument("--prompt-tokens", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.prompt_tokens < 1 or a.new_tokens < 1 or a.repetitions < 1:
        sys.exit("bench_llamacpp.py: --prompt-tokens, --new-tokens and --repetitions must be at least 1")

    llm = llama_cpp.Llama(model_path=a.model, n_ctx=a.prompt_tokens + a.new_tokens + 8,
                          n_batch=max(a.prompt_tokens, 8), n_threads=a.threads, n_threads_batch=a.threads,
                          logits_all=False, verbose=False)
    # As `instruct bench generate`: BOS only when the model's tokenizer adds it.
    ids = llm.tokenize(FIXED_TEXT.encode(), add_bos=llm._model.add_bos_token(), special=False)
    while len(ids) < a.prompt_tokens:
        ids = ids + ids
    prompt = ids[: a.prompt_tokens]
    n_vocab = llm.n_vocab()

    def once(new_tokens):
        llm.reset()
        llm._ctx.kv_cache_clear()
        t0 = time.perf_counter()
        llm.eval(prompt)
        t1 = time.perf_counter()
        out = []
        for _ in range(new_tokens):
            # The last evaluated token's logits (llama.cpp keeps only those without logits_all).
            tok = int(np.argmax(np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(n_vocab,))))
            out.append(tok)
            llm.eval([tok])
        t2 = time.perf_counter()
        return t1 - t0, t2 - t1, out

    once(min(8, a.new_tokens))  # warm-up
    prefill, decode, tokens = [], [], []
    for _ in range(a.repetitions):
        p, d, tokens = once(a.new_tokens)
        prefill.append(len(prompt) / p)
        decode.append(a.new_tokens / d)
    result = {
        "model": a.model, "threads": a.threads, "promptTokens": len(prompt), "newTokens": a.new_tokens,
        "prefillTokensPerSecond": prefill, "decodeTokensPerSecond": decode,
        "prefillMedian": statistics.median(prefill), "decodeMedian": statistics.median(decode),
        "tokens": tokens, "llamaCppPython": llama_cpp.__version__,
    }
    if a.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(f"llama.cpp (llama-cpp-python {llama_cpp.__version__}) on {a.model}, {a.threads} threads, "
              f"{len(prompt)}-token prompt, {a.new_tokens} new tokens")
        print(f"prompt (prefill) {result['prefillMedian']:.1f} tokens/s, generated {result['decodeMedian']:.1f} tokens/s (medians)")


if __name__ == "__main__":
    main()
