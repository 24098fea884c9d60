#!/usr/bin/env python3
"""Checks InstructKit's llama2.c import end to end with Hugging Face transformers: loads the
safetensors written by `instruct checkpoint convert stories260K.bin --out X.safetensors` into
LlamaForCausalLM (config from the file's `config` metadata, tied embeddings), and compares the
first-step logits after BOS and 40 greedy tokens with the reference values in
../shared/datasets/models/stories260K/NOTES.md. A wrong q/k row permutation changes both.

    python3 scripts/check_llama2c_import.py stories260K.safetensors
Needs: pip install torch transformers safetensors
"""
import json
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file
from transformers import LlamaConfig, LlamaForCausalLM

TOP5 = [(403, 17.0235), (385, 15.4062), (410, 13.1083), (317, 12.7692), (407, 12.4181)]
GREEDY = [403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337,
          410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352]


def main(path):
    with safe_open(path, framework="pt") as f:
        config = LlamaConfig(**json.loads(f.metadata()["config"]))
    model = LlamaForCausalLM(config).eval()
    missing, unexpected = model.load_state_dict(load_file(path), strict=False)
    missing = [m for m in missing if m != "lm_head.weight"]  # tied to embed_tokens
    if missing or unexpected:
        print(f"FAIL: missing {missing}, unexpected {unexpected}")
        return 1
    model.tie_weights()
    ok = True
    with torch.no_grad():
        logits = model(torch.tensor([[1]])).logits[0, -1]
        top = torch.topk(logits, 5)
        got = [(int(i), float(v)) for v, i in zip(top.values, top.indices)]
        for (ri, rv), (gi, gv) in zip(TOP5, got):
            if ri != gi or abs(rv - gv) > 1e-3:
                ok = False
        print("top-5 after BOS:", ", ".join(f"{i} {v:.4f}" for i, v in got))
        ids = torch.tensor([[1]])
        for _ in range(40):
            nxt = model(ids).logits[0, -1].argmax()
            ids = torch.cat([ids, nxt.view(1, 1)], dim=1)
        greedy = ids[0, 1:].tolist()
        print("greedy ids match NOTES.md:", greedy == GREEDY)
        ok = ok and greedy == GREEDY
    print("OK" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
