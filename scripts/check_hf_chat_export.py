#!/usr/bin/env python3
"""Check that `instruct export --format hf` is a folder transformers chats with as InstructKit does.

Exports CKPT with the `instruct` binary, loads the folder with transformers (AutoTokenizer with
its chat_template.jinja and generation_config.json), renders each prompt with
`apply_chat_template(add_generation_prompt=True)` and generates greedily (stopping at every EOS
id of generation_config.json); the answers must equal `instruct generate CKPT --prompt P`.
Also checks the files transformers needs are there.

Usage (in the reference venv): .venv/bin/python scripts/check_hf_chat_export.py CKPT
    [--instruct .build/release/instruct] [--merge] [--prompt TEXT ...] [--max-new-tokens 24]
Exit status 1 on any difference.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--instruct", default=".build/release/instruct")
    ap.add_argument("--merge", action="store_true", help="CKPT is a LoRA run: export the base with the adapters merged")
    ap.add_argument("--prompt", action="append", default=None)
    ap.add_argument("--max-new-tokens", type=int, default=24)
    args = ap.parse_args()
    prompts = args.prompt or ["What is the capital of France?", "Name a colour of the sky.", "Hello! Who are you?"]
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    failures = 0
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([args.instruct, "export", args.checkpoint, "--format", "hf", "--out", out] + (["--merge"] if args.merge else []), check=True, capture_output=True)
        files = sorted(os.listdir(out))
        print("exported:", ", ".join(files))
        for needed in ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                       "chat_template.jinja"]:
            if needed not in files:
                print("MISSING", needed)
                failures += 1
        gen = json.load(open(os.path.join(out, "generation_config.json")))
        tok = AutoTokenizer.from_pretrained(out)
        model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
        print("eos ids:", gen.get("eos_token_id"))
        for p in prompts:
            text = tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False)
            ids = tok(text, add_special_tokens=False)["input_ids"]
            with torch.no_grad():
                o = model.generate(torch.tensor([ids]), max_new_tokens=args.max_new_tokens, do_sample=False)
            theirs = tok.decode(o[0][len(ids):], skip_special_tokens=True)
            mine = subprocess.run([args.instruct, "generate", args.checkpoint, "--prompt", p, "--max-new-tokens",
                                   str(args.max_new_tokens)], check=True, capture_output=True, text=True).stdout
            mine = mine[:-1] if mine.endswith("\n") else mine
            same = theirs == mine
            failures += 0 if same else 1
            print(f"{'same' if same else 'DIFFERENT'}: {p!r}\n  transformers: {theirs!r}\n  instruct:     {mine!r}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
