#!/usr/bin/env python3
"""Check that `instruct export --format peft` writes LoRA adapters PEFT loads with matching logits.

For a Llama (grouped-query attention, untied head) and a GPT-2 (Conv1D layers, fan_in_fan_out)
built here at random with transformers, the script:

  1. saves the model and runs `instruct import` on it (the base checkpoint);
  2. trains LoRA adapters on every projection for a few steps with `instruct train`
     (a recipe with model.init = the base, finetune.method lora, a large learning rate so
     the adapters are far from their zero start);
  3. exports the base with `--format hf`, the adapters with `--format peft`, and the merged
     model with `--merge --format hf --dump-logits` (InstructKit's own forward pass of the
     adapted model, base + adapters unmerged as in training, on a fixed token row);
  4. loads base + adapters with peft.PeftModel.from_pretrained and the merged export with
     transformers, and prints the max abs logit difference of each against ours.

A third case trains adapters on the real stories260K (llama2.c import) when
../shared/datasets/models/stories260K exists, and a fourth on the real SmolLM2-135M-Instruct
imported from its GGUF (tied head, GQA 9/3, q/k rows un-permuted by the import) when
models/SmolLM2-135M-Instruct.Q4_1.gguf exists (scripts/fetch-smollm2.sh). pip-installs peft when it is missing.
Usage: swift build -c release && python3 scripts/check_peft_export.py [--instruct .build/release/instruct]
Exit status 1 when a difference exceeds --tolerance (default 1e-4).
"""
import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile

import torch
from transformers import AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM


def ensure_peft():
    try:
        return importlib.import_module("peft")
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "peft"], check=True)
        return importlib.import_module("peft")


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


MODEL_SECTIONS = {
    "llama": "model: {family: llama, vocab_size: 300, context_length: 64, dim: 32, layers: 2, heads: 4, kv_heads: 2, "
             "ffn_dim: 48, norm_eps: 1e-5, tied_embeddings: false, init: %s}\n"
             "finetune: {method: lora, rank: 4, alpha: 8, dropout: 0.1, targets: [q, k, v, o, gate, up, down]}\n",
    "stories260K": "model: {family: llama, context_length: 512, dim: 64, layers: 5, heads: 8, kv_heads: 4, ffn_dim: 172, "
                   "tied_embeddings: true, init: %s}\n"
                   "finetune: {method: lora, rank: 8, alpha: 16, dropout: 0.05, targets: [q, k, v, o, gate, up, down]}\n",
    "smollm2": "model: {init: %s}\n"
               "finetune: {method: lora, rank: 8, alpha: 16, dropout: 0.0, targets: [q, k, v, o, gate, up, down]}\n",
    "gpt2": "model: {family: gpt2, vocab_size: 300, context_length: 64, dim: 32, layers: 2, heads: 4, init: %s}\n"
            "finetune: {method: lora, rank: 4, alpha: 8, dropout: 0.1, targets: [qkv, o, up, down]}\n",
}


def case(instruct, peft, name, hf_model, tmp, tokens, llama2c=None, gguf=None, lr=0.05):
    """`hf_model` is saved and imported; or `llama2c` = (model .bin, tokenizer .bin) or a `gguf` file is imported."""
    base_ckpt = os.path.join(tmp, name + "-base")
    tokenizer = "tokenizer: {train: {vocab_size: 300}}\n"
    if gguf:
        run([instruct, "import", gguf, "--out", base_ckpt])
        tokenizer = ""  # model.init brings the GGUF's own tokenizer
    elif llama2c:
        run([instruct, "import", llama2c[0], "--tokenizer", llama2c[1], "--out", base_ckpt])
        tokenizer = f"tokenizer: {{path: {llama2c[1]}}}\n"
    else:
        src = os.path.join(tmp, name + "-src")
        hf_model.save_pretrained(src, safe_serialization=True)
        run([instruct, "import", src, "--out", base_ckpt])
    recipe = os.path.join(tmp, name + "-lora.yaml")
    with open(recipe, "w") as f:
        f.write(f"# check_peft_export.py: LoRA on {name}\nseed: 1\n"
                + tokenizer +
                f"data: {{datasets: [{{path: {tmp}/synth/train.jsonl, template: plain}}], seq_len: 64, cache_dir: null}}\n"
                + MODEL_SECTIONS[name] % (base_ckpt,)
                + f"training: {{batch_size: 4, max_steps: 6, threads: 1, warmup_steps: 0, lr: {lr}}}\n"
                f"output: {{dir: {tmp}/{name}-lora-run}}\n")
    run([instruct, "train", recipe])
    lora_ckpt = os.path.join(tmp, name + "-lora-run")
    base_hf, adapter, merged = (os.path.join(tmp, name + s) for s in ("-base-hf", "-peft", "-merged-hf"))
    dump = os.path.join(tmp, name + "-logits.json")
    run([instruct, "export", base_ckpt, "--format", "hf", "--out", base_hf])
    run([instruct, "export", lora_ckpt, "--format", "peft", "--out", adapter])
    run([instruct, "export", lora_ckpt, "--merge", "--format", "hf", "--out", merged, "--dump-logits", dump,
         "--logit-tokens", ",".join(map(str, tokens))])
    config = json.load(open(os.path.join(adapter, "adapter_config.json")))
    ours = torch.tensor(json.load(open(dump))["logits"], dtype=torch.float64)
    x = torch.tensor([tokens])
    with torch.no_grad():
        base = AutoModelForCausalLM.from_pretrained(base_hf, torch_dtype=torch.float32).eval()
        plain = base(x).logits[0].double()
        with_adapter = peft.PeftModel.from_pretrained(base, adapter).eval()
        theirs = with_adapter(x).logits[0].double()
        merged_logits = AutoModelForCausalLM.from_pretrained(merged, torch_dtype=torch.float32).eval()(x).logits[0].double()
    diff = (theirs - ours).abs().max().item()
    merged_diff = (merged_logits - ours).abs().max().item()
    moved = (plain - ours).abs().max().item()
    print(f"{name:6s} targets {config['target_modules']} fan_in_fan_out={config['fan_in_fan_out']} r={config['r']}")
    print(f"{name:6s} PEFT base+adapter vs ours: max abs diff {diff:.3e}; merged hf export vs ours: {merged_diff:.3e}; "
          f"(adapters move the logits by {moved:.3e}, max|logit| {ours.abs().max().item():.3f})")
    if moved < 1e-3:
        print(f"{name:6s} WARNING: the adapters barely changed the logits; the comparison proves little")
        return float("inf")
    return max(diff, merged_diff)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--instruct", default=".build/release/instruct")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()
    instruct = os.path.abspath(args.instruct)
    peft = ensure_peft()
    print(f"peft {peft.__version__}, torch {torch.__version__}")
    torch.manual_seed(0)
    tokens = [1, 17, 5, 42, 99, 3, 64, 8, 23, 77, 2, 11, 250, 299]
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        run([instruct, "data", "synth", "--out", os.path.join(tmp, "synth"), "--seed", "3", "--train", "200",
             "--heldout", "8"])
        llama = LlamaForCausalLM(LlamaConfig(hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                                             num_attention_heads=4, num_key_value_heads=2, vocab_size=300,
                                             max_position_embeddings=64, rms_norm_eps=1e-5, rope_theta=10000.0,
                                             tie_word_embeddings=False, initializer_range=0.2))
        worst = max(worst, case(instruct, peft, "llama", llama, tmp, tokens))
        gpt2 = GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=2, n_head=4, n_positions=64, vocab_size=300,
                                          initializer_range=0.2, layer_norm_epsilon=1e-5, bos_token_id=1, eos_token_id=2))
        worst = max(worst, case(instruct, peft, "gpt2", gpt2, tmp, tokens))
        here = os.path.dirname(os.path.abspath(__file__))
        stories = os.path.normpath(os.path.join(here, "..", "..", "shared", "datasets", "models", "stories260K"))
        if os.path.exists(os.path.join(stories, "stories260K.bin")):
            worst = max(worst, case(instruct, peft, "stories260K", None, tmp, [1, 403, 407, 261, 378, 432, 383, 286],
                                    llama2c=(os.path.join(stories, "stories260K.bin"), os.path.join(stories, "tok512.bin"))))
        else:
            print(f"stories260K absent ({stories}); skipped")
        smollm2 = os.path.normpath(os.path.join(here, "..", "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))
        if os.path.exists(smollm2):
            worst = max(worst, case(instruct, peft, "smollm2", None, tmp, [1, 9690, 198, 2683, 359, 253, 5356, 2, 198,
                                                                          1, 4093, 198, 1780, 314, 260, 3575, 282],
                                    gguf=smollm2, lr=0.01))
        else:
            print(f"SmolLM2 absent ({smollm2}; scripts/fetch-smollm2.sh fetches it); skipped")
    print(f"worst max abs diff {worst:.3e} (tolerance {args.tolerance:g})")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
