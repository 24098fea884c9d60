#!/usr/bin/env python3
"""PyTorch + PEFT side of `instruct bench train --model`: steady-state training throughput of a
real Llama-family model (SmolLM2-135M) on random tokens, the same step as ours.

Model: transformers' LlamaForCausalLM from a Hugging Face folder (config.json + safetensors) or
from a GGUF file (`gguf_file=`, dequantised to float32), float32, train mode, no dropout,
attention "sdpa" (transformers' default on CPU), no KV cache, no gradient checkpointing.
LoRA: PEFT LoraConfig(r, lora_alpha = 2 r, dropout 0, target_modules = the projections named),
the base frozen; full: every weight trained (the tied embedding once).
Data: B x T tokens and B x T targets uniform in 0..V from a fixed seed, drawn anew each step.
Loss: summed cross-entropy over positions T/2..T of every row (the first half ignored with
-100) divided by the count: the mean over the second half. The model computes the logits of
every position, as a plain `model(input_ids).logits` does.
Optimizer: torch.optim.AdamW(trainable parameters, lr 3e-4, betas (0.9, 0.999), eps 1e-8,
weight_decay 0.1).
Timing: each step = zero_grad + forward + loss + backward + optimizer.step, wall clock. The
first --warmup steps are excluded; tokens/s = B*T / median step over --steps. FLOPs per
token as ours: 6 N + 12 L (H D) T for full fine-tuning, 4 N + 6 A + 12 L (H D) T with LoRA
(A adapter scalars). Peak RSS = VmHWM of this process (loading included, as ours).

  .venv/bin/python scripts/bench_real_model_torch.py --model models/SmolLM2-135M-Instruct-hf --finetune lora
Prints one JSON line prefixed with RESULT.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

LLAMA_TARGETS = {"q": "q_proj", "k": "k_proj", "v": "v_proj", "o": "o_proj",
                 "gate": "gate_proj", "up": "up_proj", "down": "down_proj"}


def vm_hwm_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def load_model(path):
    from transformers import LlamaForCausalLM
    kwargs = dict(dtype=torch.float32, attn_implementation="sdpa")
    if os.path.isdir(path):
        return LlamaForCausalLM.from_pretrained(path, **kwargs)
    if path.lower().endswith(".gguf"):
        return LlamaForCausalLM.from_pretrained(os.path.dirname(os.path.abspath(path)),
                                                gguf_file=os.path.basename(path), **kwargs)
    sys.exit(f"bench_real_model_torch.py: {path} is neither a Hugging Face model folder nor a .gguf file")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="HF folder (config.json + safetensors) or a .gguf file")
    ap.add_argument("--finetune", choices=["full", "lora"], default="lora")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--lora-rank", type=int, default=8)
    ap.add_argument("--lora-targets", default="q,k,v,o,gate,up,down")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--peak-gflops", type=float, default=0.0, help="ours' measured sgemm rate, for the share of peak")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gradient-checkpointing", action="store_true",
                    help="transformers' gradient_checkpointing_enable (use_reentrant=False): each decoder layer recomputed in backward")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t_load = time.perf_counter()
    model = load_model(args.model)
    model.config.use_cache = False
    if args.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    cfg = model.config
    n_params = sum(p.numel() for p in model.parameters())  # the tied head counted once
    adapters = 0
    if args.finetune == "lora":
        from peft import LoraConfig, get_peft_model
        targets = [LLAMA_TARGETS[t.strip()] for t in args.lora_targets.split(",")]
        model = get_peft_model(model, LoraConfig(r=args.lora_rank, lora_alpha=2 * args.lora_rank, lora_dropout=0.0,
                                                 target_modules=targets, bias="none"))
        adapters = sum(p.numel() for n, p in model.named_parameters() if "lora_" in n)
    model.train()
    load_s = time.perf_counter() - t_load
    trainable = [p for p in model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in trainable)
    opt = torch.optim.AdamW(trainable, lr=3e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)

    B, T, V = args.batch, args.seq, cfg.vocab_size
    gen = torch.Generator().manual_seed(args.seed)
    rss_before = vm_hwm_mib()

    def step():
        x = torch.randint(0, V, (B, T), generator=gen)
        y = torch.randint(0, V, (B, T), generator=gen)
        y[:, : T // 2] = -100  # loss on the second half of every row only
        opt.zero_grad(set_to_none=True)
        logits = model(input_ids=x).logits
        ce = F.cross_entropy(logits.view(-1, V), y.view(-1), ignore_index=-100, reduction="sum")
        loss = ce / (y != -100).sum()
        loss.backward()
        opt.step()
        return loss.item()

    times, losses = [], []
    for i in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        losses.append(step())
        dt = time.perf_counter() - t0
        if i >= args.warmup:
            times.append(dt)
        print(f"step {i:3d} {'warm' if i < args.warmup else 'meas'} {dt*1e3:9.1f} ms loss {losses[-1]:.4f} "
              f"hwm {vm_hwm_mib():.0f} MiB", file=sys.stderr, flush=True)

    med = statistics.median(times)
    tok_s = B * T / med
    heads_width = cfg.num_attention_heads * getattr(cfg, "head_dim", cfg.hidden_size // cfg.num_attention_heads)
    attention = 12 * cfg.num_hidden_layers * heads_width * T
    flops = (6 * n_params if args.finetune == "full" else 4 * n_params + 6 * adapters) + attention
    achieved = flops * tok_s / 1e9
    res = dict(
        model=args.model, finetune=args.finetune, threads=args.threads, B=B, T=T, torch=torch.__version__,
        n_params=n_params, trainable=n_trainable, adapters=adapters, lora_rank=args.lora_rank if adapters else None,
        steps_measured=len(times), warmup=args.warmup, load_s=load_s, gradient_checkpointing=args.gradient_checkpointing,
        ms_step_median=med * 1e3, ms_step_min=min(times) * 1e3, ms_step_max=max(times) * 1e3,
        tokens_per_s_median=tok_s, tokens_per_s_best=B * T / min(times),
        flops_per_token=flops, achieved_gflops=achieved,
        mfu_vs_sgemm_peak=(achieved / args.peak_gflops) if args.peak_gflops else None,
        peak_rss_mib=vm_hwm_mib(), rss_before_train_mib=rss_before,
        loss_first=losses[0], loss_last=losses[-1],
    )
    print("RESULT " + json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
