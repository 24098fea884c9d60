#!/usr/bin/env python3
"""Check that `instruct export --format hf` writes models transformers loads with matching logits.

For each case the script makes or picks a model, runs `instruct import` (HF dir or llama2.c
.bin) and `instruct export --format hf` with the hidden `--dump-logits` option (InstructKit's
own forward pass on a fixed token row), loads the exported directory with
transformers.AutoModelForCausalLM and prints the max abs logit difference.

Cases: a random GPT-2 and a random Llama (grouped-query attention, untied head) built here with
transformers, and stories260K (llama2.c) when ../shared/datasets/models/stories260K exists.

Usage: swift build -c release && python3 scripts/check_hf_export.py [--instruct .build/release/instruct]
Exit status 1 when a difference exceeds --tolerance (default 1e-4).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch
from transformers import AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def compare(instruct, name, source, tokens, workdir, tokenizer=None, checkpoint=None):
    """Imports `source` (or uses `checkpoint`, a trained run), exports it and compares logits."""
    ckpt = checkpoint or os.path.join(workdir, name + "-ckpt")
    hf = os.path.join(workdir, name + "-hf")
    dump = os.path.join(workdir, name + "-logits.json")
    if checkpoint is None:
        cmd = [instruct, "import", source, "--out", ckpt]
        if tokenizer:
            cmd += ["--tokenizer", tokenizer]
        run(cmd)
    run([instruct, "export", ckpt, "--format", "hf", "--out", hf, "--dump-logits", dump,
         "--logit-tokens", ",".join(map(str, tokens))])
    model = AutoModelForCausalLM.from_pretrained(hf, torch_dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        theirs = model(torch.tensor([tokens])).logits[0].double()
    ours = torch.tensor(json.load(open(dump))["logits"], dtype=torch.float64)
    diff = (theirs - ours).abs().max().item()
    scale = theirs.abs().max().item()
    if os.path.exists(os.path.join(hf, "tokenizer.json")):
        from transformers import AutoTokenizer
        tok = AutoTokenizer.from_pretrained(hf)
        print(f"{name:12s} tokenizer loads: {type(tok).__name__}, {len(tok)} tokens, "
              f"'Reverse the words.' -> {tok('Reverse the words.')['input_ids']}")
    print(f"{name:12s} {type(model).__name__:18s} T={len(tokens)} V={theirs.shape[-1]}  "
          f"max|logit|={scale:.3f}  max abs diff={diff:.3e}")
    return diff


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--instruct", default=".build/release/instruct")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()
    instruct = os.path.abspath(args.instruct)
    torch.manual_seed(0)
    tokens = [1, 17, 5, 42, 99, 3, 64, 8, 23, 77, 2, 11]
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        gpt2 = GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=2, n_head=4, n_positions=64, vocab_size=100,
                                          initializer_range=0.2, layer_norm_epsilon=1e-5,
                                          bos_token_id=1, eos_token_id=2))
        gpt2.save_pretrained(os.path.join(tmp, "gpt2-src"), safe_serialization=True)
        worst = max(worst, compare(instruct, "gpt2-random", os.path.join(tmp, "gpt2-src"), tokens, tmp))

        llama = LlamaForCausalLM(LlamaConfig(hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                                             num_attention_heads=4, num_key_value_heads=2, vocab_size=100,
                                             max_position_embeddings=64, rms_norm_eps=1e-5, rope_theta=10000.0,
                                             tie_word_embeddings=False, initializer_range=0.2))
        llama.save_pretrained(os.path.join(tmp, "llama-src"), safe_serialization=True)
        worst = max(worst, compare(instruct, "llama-random", os.path.join(tmp, "llama-src"), tokens, tmp))

        # A GPT-2 trained for a few steps by `instruct train` (its own BPE tokenizer.json).
        run([instruct, "data", "synth", "--out", os.path.join(tmp, "synth"), "--seed", "3", "--train", "200",
             "--heldout", "8"])
        recipe = os.path.join(tmp, "gpt2.yaml")
        with open(recipe, "w") as f:
            f.write("# check_hf_export.py: a tiny GPT-2 trained for 3 steps\nseed: 1\n"
                    "tokenizer: {train: {vocab_size: 300}}\n"
                    f"data: {{datasets: [{{path: {tmp}/synth/train.jsonl, template: plain}}], seq_len: 64, cache_dir: null}}\n"
                    "model: {family: gpt2, dim: 32, layers: 2, heads: 4}\n"
                    "training: {batch_size: 4, max_steps: 3, threads: 1, warmup_steps: 0, lr: 0.01}\n"
                    f"output: {{dir: {tmp}/gpt2-run}}\n")
        run([instruct, "train", recipe])
        worst = max(worst, compare(instruct, "gpt2-trained", None, tokens, tmp, checkpoint=os.path.join(tmp, "gpt2-run")))

        here = os.path.dirname(os.path.abspath(__file__))
        stories = os.path.normpath(os.path.join(here, "..", "..", "shared", "datasets", "models", "stories260K"))
        bin_path = os.path.join(stories, "stories260K.bin")
        if os.path.exists(bin_path):
            worst = max(worst, compare(instruct, "stories260K", bin_path, [1, 403, 407, 261, 378, 432, 383, 286], tmp,
                                       tokenizer=os.path.join(stories, "tok512.bin")))
        else:
            print(f"stories260K absent ({bin_path}); skipped")
    print(f"worst max abs diff {worst:.3e} (tolerance {args.tolerance:g})")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
