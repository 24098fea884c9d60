#!/usr/bin/env python3
"""Check `instruct export --format gguf` with the tools users run.

For a checkpoint CKPT (a Llama with a byte-level BPE tokenizer, e.g. the imported or
fine-tuned SmolLM2):
1. exports it as F32 and as Q8_0 GGUF with the `instruct` binary;
2. reads both files with the `gguf` package: every tensor, the metadata InstructKit writes
   (architecture, shape, RoPE, tokenizer arrays, chat template);
3. Q8_0: gguf-py's de-quantization of every Q8_0 tensor equals InstructKit's own (the
   checkpoint `instruct import` makes of the Q8_0 file), bit for bit (q/k compared in
   llama.cpp's layout);
4. F32: transformers loads the GGUF (`from_pretrained(dir, gguf_file=...)`) and answers each
   prompt greedily with its chat template; the answers must equal `instruct generate CKPT`.

Usage (in the reference venv): .venv/bin/python scripts/check_gguf_export.py CKPT
    [--instruct .build/release/instruct] [--merge] [--prompt TEXT ...] [--max-new-tokens 24]
Exit status 1 on any difference.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--instruct", default=".build/release/instruct")
    ap.add_argument("--merge", action="store_true", help="CKPT is a LoRA run: export the base with the adapters merged")
    ap.add_argument("--prompt", action="append", default=None)
    ap.add_argument("--max-new-tokens", type=int, default=24)
    args = ap.parse_args()
    prompts = args.prompt or ["What is the capital of France?", "Name a colour of the sky.", "Hello! Who are you?"]
    import gguf
    from safetensors.numpy import load_file

    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for kind in ["f32", "q8_0"]:
            files[kind] = os.path.join(tmp, f"model-{kind}.gguf")
            run([args.instruct, "export", args.checkpoint, "--format", "gguf", "--gguf-type", kind, "--out", files[kind]] + (["--merge"] if args.merge else []))

        # 2. gguf-py reads every tensor and the metadata.
        for kind, path in files.items():
            reader = gguf.GGUFReader(path)
            fields = {f.name: f for f in reader.fields.values()}
            arch = bytes(fields["general.architecture"].parts[-1]).decode()
            n_tokens = len(fields["tokenizer.ggml.tokens"].data)
            template = "tokenizer.chat_template" in fields
            types = {}
            for t in reader.tensors:
                gguf.quants.dequantize(t.data, t.tensor_type)  # every tensor reads back
                types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
            print(f"{kind}: gguf-py read {len(reader.tensors)} tensors {types}, architecture {arch}, "
                  f"{n_tokens} tokens, chat template {'yes' if template else 'no'}")

        # 3. Q8_0 de-quantized by gguf-py equals InstructKit's import of the same file.
        imported = os.path.join(tmp, "imported-q8")
        run([args.instruct, "import", files["q8_0"], "--out", imported])
        step = open(os.path.join(imported, "latest")).read().strip()
        ours = load_file(os.path.join(imported, step, "model.safetensors"))
        reader = gguf.GGUFReader(files["q8_0"])
        names = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
                 "output.weight": "lm_head.weight"}
        sub = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
               "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
               "ffn_down": "mlp.down_proj", "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm"}
        meta = {f.name: f for f in reader.fields.values()}
        heads = int(meta["llama.attention.head_count"].parts[-1][0])
        kv_heads = int(meta["llama.attention.head_count_kv"].parts[-1][0])
        compared = mismatched = 0
        for t in reader.tensors:
            if t.tensor_type.name != "Q8_0":
                continue
            parts = t.name.split(".")
            hf = names.get(t.name) or f"model.layers.{parts[1]}.{sub[parts[2]]}.weight"
            theirs = gguf.quants.dequantize(t.data, t.tensor_type).reshape(ours[hf].shape)
            mine = ours[hf]
            if parts[-2] in ("attn_q", "attn_k"):  # compare in llama.cpp's pair layout
                h = heads if parts[-2] == "attn_q" else kv_heads
                mine = mine.reshape(h, 2, mine.shape[0] // h // 2, -1).swapaxes(1, 2).reshape(mine.shape)
            compared += 1
            if not np.array_equal(theirs.astype(np.float32).view(np.uint32), mine.astype(np.float32).view(np.uint32)):
                mismatched += 1
        print(f"q8_0: {compared} tensors de-quantized by gguf-py, {mismatched} differ from InstructKit's bit for bit")
        failures += mismatched

        # 4. transformers on the F32 GGUF answers as instruct generate does.
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        d, name = os.path.split(files["f32"])
        tok = AutoTokenizer.from_pretrained(d, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32).eval()
        for p in prompts:
            ids = tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=True, return_dict=False)
            if isinstance(ids, dict):
                ids = ids["input_ids"]
            with torch.no_grad():
                out = model.generate(torch.tensor([ids]), max_new_tokens=args.max_new_tokens, do_sample=False,
                                     pad_token_id=tok.eos_token_id)
            theirs = tok.decode(out[0][len(ids):], skip_special_tokens=True)
            mine = run([args.instruct, "generate", args.checkpoint, "--prompt", p, "--max-new-tokens", str(args.max_new_tokens)])
            mine = mine[:-1] if mine.endswith("\n") else mine
            same = theirs == mine
            failures += 0 if same else 1
            print(f"{'same' if same else 'DIFFERENT'}: {p!r}\n  transformers: {theirs!r}\n  instruct:     {mine!r}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
