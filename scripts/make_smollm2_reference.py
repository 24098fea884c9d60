#!/usr/bin/env python3
"""Reference answers of SmolLM2-135M-Instruct from transformers, for InstructKit's tests.

Loads models/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/fetch-smollm2.sh) with transformers 5
(`from_pretrained(dir, gguf_file=...)`, de-quantized to float32), saves it as the Hugging Face
folder transformers 5 writes (models/SmolLM2-135M-Instruct-hf: config.json with
`rope_parameters`, model.safetensors, generation_config.json, tokenizer.json,
tokenizer_config.json, chat_template.jinja), and records for a few conversations: the chat
template's rendering (`apply_chat_template(..., add_generation_prompt=True)`), its token ids, and
the greedy answer's ids and text (`generate(do_sample=False)`), plus the first logits of one
prompt. Prompts have no digits: transformers' GGUF tokenizer conversion drops the `smollm`
pre-tokenizer's digit splitting, which llama.cpp and InstructKit keep.

Writes Tests/InteropTests/Fixtures/smollm2_reference.json and the folder's small files to
Tests/InteropTests/Fixtures/smollm2-hf/. Run in the reference venv:
    scripts/reference-venv.sh && .venv/bin/python scripts/make_smollm2_reference.py
"""
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MODELS = os.path.join(ROOT, "models")
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
HF_DIR = os.path.join(MODELS, "SmolLM2-135M-Instruct-hf")
OUT = os.path.join(ROOT, "Tests", "InteropTests", "Fixtures", "smollm2_reference.json")
# The small files of the saved folder, committed so tests can rebuild the folder around the
# GGUF's weights: transformers 5's config.json (rope_parameters), generation_config.json,
# tokenizer_config.json and chat_template.jinja.
HF_FIXTURE = os.path.join(ROOT, "Tests", "InteropTests", "Fixtures", "smollm2-hf")
HF_SMALL_FILES = ["config.json", "generation_config.json", "tokenizer_config.json", "chat_template.jinja"]

CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "user", "content": "Name a colour of the sky."}],
    [{"role": "system", "content": "You answer in one short sentence."},
     {"role": "user", "content": "Why do cats purr?"}],
    [{"role": "user", "content": "Hello!"},
     {"role": "assistant", "content": "Hello! How can I help you today?"},
     {"role": "user", "content": "Tell me a fact about the moon."}],
]
MAX_NEW_TOKENS = 24


def main():
    if not os.path.exists(os.path.join(MODELS, GGUF)):
        sys.exit(f"{MODELS}/{GGUF} is missing: run scripts/fetch-smollm2.sh first")
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(MODELS, gguf_file=GGUF)
    model = AutoModelForCausalLM.from_pretrained(MODELS, gguf_file=GGUF, torch_dtype=torch.float32)
    model.eval()

    # The folder transformers 5 saves (it needs the GGUF quantizer detached first).
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(HF_DIR)
    tokenizer.save_pretrained(HF_DIR)
    os.makedirs(HF_FIXTURE, exist_ok=True)
    for name in HF_SMALL_FILES:
        with open(os.path.join(HF_DIR, name), "rb") as src, open(os.path.join(HF_FIXTURE, name), "wb") as dst:
            dst.write(src.read())

    cases = []
    for messages in CONVERSATIONS:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            out = model.generate(torch.tensor([ids]), max_new_tokens=MAX_NEW_TOKENS, do_sample=False,
                                 eos_token_id=[tokenizer.eos_token_id], pad_token_id=tokenizer.eos_token_id)
        new = out[0][len(ids):].tolist()
        cases.append({"messages": messages, "rendered": text, "prompt_ids": ids, "answer_ids": new,
                      "answer": tokenizer.decode(new, skip_special_tokens=True)})
    with torch.no_grad():
        logits = model(torch.tensor([cases[0]["prompt_ids"]])).logits[0, -1]
    top = torch.topk(logits, 5)
    reference = {
        "source": "transformers %s, torch %s, from %s" % (__import__("transformers").__version__, torch.__version__, GGUF),
        "max_new_tokens": MAX_NEW_TOKENS,
        "eos_token_id": tokenizer.eos_token_id,
        "cases": cases,
        "last_logits_top5": [[int(i), float(v)] for v, i in zip(top.values, top.indices)],
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(reference, f, indent=1, ensure_ascii=False)
    print(f"wrote {OUT} and {HF_DIR}")
    for c in cases:
        print(repr(c["answer"]))


if __name__ == "__main__":
    main()
