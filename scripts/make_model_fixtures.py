#!/usr/bin/env python3
"""Writes Tests/ModelsTests/Fixtures/{gpt2,llama}_tiny.json: small random GPT-2 and
Llama models from Hugging Face transformers, their weights under HF names, a batch of
token ids, the logits and the mean next-token loss. The Swift test
(Tests/ModelsTests/ReferenceTests.swift) loads the same weights and must match the
logits within 1e-4. Regenerate with:
    python3 -m pip install torch transformers
    python3 scripts/make_model_fixtures.py
"""
import json
import os

import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "ModelsTests", "Fixtures")


def dump(name, model, config, extra):
    torch.manual_seed(1)
    # Random weights larger than the default init so that every part of the model
    # (norm weights, biases, attention patterns) matters to the logits.
    with torch.no_grad():
        for _, p in model.named_parameters():
            p.copy_(torch.randn_like(p) * 0.2 + (1.0 if p.dim() == 1 and "bias" not in _ else 0.0))
    model.eval()
    tokens = torch.randint(0, config.vocab_size, (2, 9), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        logits = model(tokens).logits
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                                                 tokens[:, 1:].reshape(-1))
    state = {k: v for k, v in model.state_dict().items() if not k.endswith(".attn.bias") and not k.endswith(".attn.masked_bias")}
    if getattr(config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)
    doc = {
        "config": extra,
        "tokens": tokens.reshape(-1).tolist(),
        "batch": 2, "time": 9,
        "logits": [round(x, 7) for x in logits.reshape(-1).tolist()],
        "loss": loss.item(),
        "weights": {k: {"shape": list(v.shape), "data": [round(x, 8) for x in v.reshape(-1).tolist()]}
                    for k, v in state.items()},
    }
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(doc, f)
    print(name, "params", sum(v.numel() for v in state.values()), "loss", loss.item())


def main():
    os.makedirs(OUT, exist_ok=True)
    g = GPT2Config(vocab_size=61, n_positions=16, n_embd=24, n_layer=2, n_head=3,
                   activation_function="gelu_new", resid_pdrop=0, embd_pdrop=0, attn_pdrop=0,
                   layer_norm_epsilon=1e-5)
    dump("gpt2_tiny", GPT2LMHeadModel(g), g,
         {"family": "gpt2", "vocab_size": 61, "context_length": 16, "dim": 24, "layers": 2, "heads": 3,
          "kv_heads": 3, "ffn_dim": 96, "norm_eps": 1e-5})
    l = LlamaConfig(vocab_size=53, hidden_size=32, intermediate_size=40, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
                    rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False,
                    attention_bias=False, mlp_bias=False)
    dump("llama_tiny", LlamaForCausalLM(l), l,
         {"family": "llama", "vocab_size": 53, "context_length": 32, "dim": 32, "layers": 2, "heads": 4,
          "kv_heads": 2, "ffn_dim": 40, "norm_eps": 1e-5, "rope_theta": 10000.0, "tied": False})


if __name__ == "__main__":
    main()
