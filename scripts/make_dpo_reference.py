#!/usr/bin/env python3
"""Writes Tests/TrainingTests/Fixtures/dpo_{llama,gpt2}.json: per-pair DPO (sigmoid, with and
without label smoothing) and IPO losses, rewards, and the gradient of the mean loss with
respect to a few weights, for a tiny random Llama and a tiny random GPT-2 from Hugging Face
transformers. The Swift tests (Tests/TrainingTests/PreferenceParityTests.swift) load the
same weights and must match within 1e-5.

How the expected values are computed:
- each side (prompt + chosen, prompt + rejected) is run through the transformers model on
  its own, in float64; the sequence log-probability is the sum of log_softmax(logits)[next
  token] over the response tokens only (TRL's `completion_mask`); for IPO TRL divides it by
  the number of response tokens (`loss_type == "ipo"`: mean log-probs), and so do we;
- the loss and rewards come from TRL's own `DPOTrainer.dpo_loss` when the installed TRL has that
  function (TRL < 1.0; called unbound with a stand-in `self`), otherwise from the formulas
  written out below, which are those of TRL 1.16's `DPOTrainer._compute_loss` (read from its
  source: `sigmoid` is `-logsigmoid(beta * delta)`; `ipo` squares the difference of the
  log-ratios averaged over each completion's tokens; `rewards/*` are `beta` times the summed
  log-ratios). Label smoothing is the cDPO form of TRL's sigmoid loss before 1.0 (TRL 1.16 has it
  only in its `robust`/`exo_pair` losses). The fixture records which one (`source`);
- the reference model is a second random model of the same shape (so policy != reference and
  the loss is not the trivial log 2); its log-probs are stored as numbers;
- the gradient is d(mean over pairs of the loss)/d(weight) through the policy only.

Regenerate (the venv of scripts/reference-venv.sh has torch, transformers and trl):
    /work/main/.venv/bin/python scripts/make_dpo_reference.py
"""
import json
import os
import types

import torch
import torch.nn.functional as F
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "TrainingTests", "Fixtures")

PAIRS = [  # (prompt, chosen, rejected) token ids, small vocabularies (< 53)
    ([1, 7, 12, 30], [5, 9, 2], [44, 3, 17, 8, 2]),
    ([1, 22, 4], [13, 13, 40, 2], [6, 2]),
    ([1, 50, 33, 9, 18], [21, 2], [21, 11, 2]),
]
SETTINGS = [  # (name, loss_type, beta, label_smoothing)
    ("sigmoid", "sigmoid", 0.1, 0.0),
    ("sigmoid_smoothed", "sigmoid", 0.5, 0.2),
    ("ipo", "ipo", 0.1, 0.0),
]


def randomize(model, seed):
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn_like(p) * 0.2 + (1.0 if p.dim() == 1 and "bias" not in name else 0.0))
    model.eval()


def seq_logp(model, prompt, response):
    ids = torch.tensor([prompt + response])
    logits = model(ids).logits[0].double()
    logp = F.log_softmax(logits[:-1], dim=-1).gather(-1, ids[0, 1:].unsqueeze(-1)).squeeze(-1)
    mask = torch.zeros_like(logp)
    mask[len(prompt) - 1:] = 1  # targets are tokens 1..n-1; the response starts at len(prompt)
    return (logp * mask).sum(), int(mask.sum().item())


def trl_loss():
    """TRL's own `DPOTrainer.dpo_loss` (TRL < 1.0), or None. TRL 1.x computes the loss inside
    `DPOTrainer._compute_loss` from a model forward (no standalone function to call), so with it
    the formulas below are those of its source (sigmoid; IPO on per-token means; rewards on the
    summed log-ratios), checked by reading it."""
    try:
        import trl
        from trl import DPOTrainer
    except Exception as e:  # noqa: BLE001 - any import failure means: use the formulas
        print("trl not importable (%s): using the formulas" % e)
        return None, None
    print("trl", trl.__version__)
    if not hasattr(DPOTrainer, "dpo_loss"):
        return None, "trl %s" % trl.__version__

    def compute(loss_type, beta, eps, pc, pr, rc, rr):
        stand_in = types.SimpleNamespace(beta=beta, label_smoothing=eps, loss_type=loss_type, reference_free=False,
                                         f_divergence_type="reverse_kl", f_divergence_params={}, use_weighting=False,
                                         accelerator=types.SimpleNamespace(device=pc.device))
        out = DPOTrainer.dpo_loss(stand_in, pc, pr, rc, rr)
        return out[0], out[1], out[2]

    return compute, "trl %s DPOTrainer.dpo_loss" % trl.__version__


def paper_loss(loss_type, beta, eps, pc, pr, rc, rr):
    h = (pc - rc) - (pr - rr)
    if loss_type == "sigmoid":
        losses = -F.logsigmoid(beta * h) * (1 - eps) - F.logsigmoid(-beta * h) * eps
    else:
        losses = (h - 1 / (2 * beta)) ** 2
    return losses, beta * (pc - rc).detach(), beta * (pr - rr).detach()


def dump(name, make, config, grad_names):
    policy, reference = make(), make()
    randomize(policy, 1)
    randomize(reference, 7)
    policy.double()
    reference.double()
    trl_compute, trl_source = trl_loss()
    state = {k: v for k, v in policy.state_dict().items() if not k.endswith(".attn.bias") and not k.endswith(".attn.masked_bias")}
    if getattr(policy.config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)
    params = dict(policy.named_parameters())
    cases = []
    for setting, loss_type, beta, eps in SETTINGS:
        policy.zero_grad()
        pcs, prs, rcs, rrs, counts = [], [], [], [], []
        for prompt, chosen, rejected in PAIRS:
            c, nc = seq_logp(policy, prompt, chosen)
            r, nr = seq_logp(policy, prompt, rejected)
            with torch.no_grad():
                rc, _ = seq_logp(reference, prompt, chosen)
                rr, _ = seq_logp(reference, prompt, rejected)
            pcs.append(c); prs.append(r); rcs.append(rc); rrs.append(rr); counts.append((nc, nr))
        pc, pr, rc, rr = torch.stack(pcs), torch.stack(prs), torch.stack(rcs), torch.stack(rrs)
        n_c = torch.tensor([c for c, _ in counts], dtype=pc.dtype)
        n_r = torch.tensor([r for _, r in counts], dtype=pc.dtype)
        if loss_type == "ipo":
            # TRL 1.16 (`loss_type == "ipo"` in DPOTrainer._compute_loss): the loss on the log-ratios
            # averaged over each completion's tokens; rewards (logged) on the summed log-ratios.
            losses, _, _ = paper_loss(loss_type, beta, eps, pc / n_c, pr / n_r, rc / n_c, rr / n_r)
            cr, rj = beta * (pc - rc).detach(), beta * (pr - rr).detach()
        else:
            losses, cr, rj = paper_loss(loss_type, beta, eps, pc, pr, rc, rr)
        source = "formulas (DPO paper eq. 7 with cDPO label smoothing; IPO eq. 17 on per-token means)"
        if trl_source is not None and trl_compute is None:
            source += ", as %s's DPOTrainer._compute_loss writes them (read from its source)" % trl_source
        if trl_compute is not None and loss_type != "ipo":
            t_losses, t_cr, t_rj = trl_compute(loss_type, beta, eps, pc, pr, rc, rr)
            assert torch.allclose(t_losses, losses, atol=1e-12), (t_losses, losses)
            assert torch.allclose(t_cr, cr, atol=1e-12) and torch.allclose(t_rj, rj, atol=1e-12)
            losses, cr, rj = t_losses, t_cr, t_rj
            source = trl_source + " (checked equal to the paper formulas)"
        losses.mean().backward()
        cases.append({
            "name": setting, "loss_type": loss_type, "beta": beta, "label_smoothing": eps, "source": source,
            "policy_chosen": pc.tolist(), "policy_rejected": pr.tolist(),
            "reference_chosen": rc.tolist(), "reference_rejected": rr.tolist(),
            "losses": losses.tolist(), "rewards_chosen": cr.tolist(), "rewards_rejected": rj.tolist(),
            "counts": counts,
            "gradients": {n: params[n].grad.reshape(-1).tolist() for n in grad_names},
        })
    doc = {
        "config": config,
        "pairs": [{"prompt": p, "chosen": c, "rejected": r} for p, c, r in PAIRS],
        "cases": cases,
        "weights": {k: {"shape": list(v.shape), "data": [float("%.9g" % x) for x in v.float().reshape(-1).tolist()]}
                    for k, v in state.items()},
    }
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(doc, f)
    print(name, [c["source"] for c in cases][0], [round(sum(c["losses"]) / len(PAIRS), 6) for c in cases])


def main():
    os.makedirs(OUT, exist_ok=True)
    # Weights are drawn in float32 and widened to float64 exactly, so the float64 reference runs
    # on the very float32 values the fixture stores (printed with 9 significant digits: exact).
    g = GPT2Config(vocab_size=53, n_positions=32, n_embd=24, n_layer=2, n_head=3,
                   activation_function="gelu_new", resid_pdrop=0, embd_pdrop=0, attn_pdrop=0,
                   layer_norm_epsilon=1e-5)
    dump("dpo_gpt2", lambda: GPT2LMHeadModel(g),
         {"family": "gpt2", "vocab_size": 53, "context_length": 32, "dim": 24, "layers": 2, "heads": 3,
          "kv_heads": 3, "ffn_dim": 96, "norm_eps": 1e-5},
         ["transformer.ln_f.weight", "transformer.h.1.attn.c_attn.weight", "transformer.wte.weight"])
    l = LlamaConfig(vocab_size=53, hidden_size=32, intermediate_size=40, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
                    rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False,
                    attention_bias=False, mlp_bias=False)
    dump("dpo_llama", lambda: LlamaForCausalLM(l),
         {"family": "llama", "vocab_size": 53, "context_length": 32, "dim": 32, "layers": 2, "heads": 4,
          "kv_heads": 2, "ffn_dim": 40, "norm_eps": 1e-5, "rope_theta": 10000.0, "tied": False},
         ["model.norm.weight", "model.layers.1.self_attn.q_proj.weight", "lm_head.weight"])


if __name__ == "__main__":
    main()
