import Autograd
import NN

/// Llama (Touvron et al. 2023) with Hugging Face `LlamaForCausalLM` names; linear weights
/// are [out, in]; rotary embeddings use Hugging Face's rotate-half layout (importers of
/// llama2.c / Meta checkpoints permute q and k as Hugging Face's converter does).
///
///     x = embed_tokens[tokens]                                          [B, T, C]
///     per block: h = rmsnorm(x); q, k = rope(q_proj h, k_proj h)        q [B, T, Hq, D], k [B, T, Hkv, D]
///                x += o_proj(attn(q, k, v_proj h))
///                h = rmsnorm(x); x += down_proj(silu(gate_proj h) * up_proj h)
///     logits = norm(x) @ lm_headᵀ (or embed_tokensᵀ when tied)          [B*T, V]
extension DecoderModel {
    /// Block `i`'s layers; with `adapted`, the LoRA targets carry the adapter settings.
    func llamaBlock(_ i: Int, adapted: Bool = true) -> (inNorm: RMSNorm, q: Linear, k: Linear, v: Linear, o: Linear,
                                  postNorm: RMSNorm, gate: Linear, up: Linear, down: Linear) {
        let c = config.dim, d = config.headDim, pre = "model.layers.\(i)"
        return (RMSNorm("\(pre).input_layernorm", dim: c, eps: config.normEps),
                adapting(Linear("\(pre).self_attn.q_proj", c, config.heads * d, bias: false), .q, adapted),
                adapting(Linear("\(pre).self_attn.k_proj", c, config.kvHeads * d, bias: false), .k, adapted),
                adapting(Linear("\(pre).self_attn.v_proj", c, config.kvHeads * d, bias: false), .v, adapted),
                adapting(Linear("\(pre).self_attn.o_proj", config.heads * d, c, bias: false), .o, adapted),
                RMSNorm("\(pre).post_attention_layernorm", dim: c, eps: config.normEps),
                adapting(Linear("\(pre).mlp.gate_proj", c, config.ffnDim, bias: false), .gate, adapted),
                adapting(Linear("\(pre).mlp.up_proj", c, config.ffnDim, bias: false), .up, adapted),
                adapting(Linear("\(pre).mlp.down_proj", config.ffnDim, c, bias: false), .down, adapted))
    }

    func llamaParameterShapes() -> [(name: String, shape: [Int])] {
        let c = config.dim
        var out: [(name: String, shape: [Int])] = [("model.embed_tokens.weight", [config.vocabSize, c])]
        for i in 0..<config.layers {
            let b = llamaBlock(i)
            for (n, s) in b.inNorm.parameterShapes + b.q.parameterShapes + b.k.parameterShapes + b.v.parameterShapes
                + b.o.parameterShapes + b.postNorm.parameterShapes + b.gate.parameterShapes + b.up.parameterShapes
                + b.down.parameterShapes {
                out.append((n, s))
            }
        }
        out.append(("model.norm.weight", [c]))
        if !config.tiedEmbeddings { out.append(("lm_head.weight", [config.vocabSize, c])) }
        return out
    }

    func llamaLogits(tokens: [Int32], positions: [Int32], segmentIDs: [Int32], batch: Int, time: Int,
                     _ p: Parameters, _ rng: UnsafeMutablePointer<RNG>?, headRows: [Int32]? = nil,
                     checkpointing: Bool = false) -> Tensor {
        llamaForward(tokens: tokens, positions: positions, batch: batch, time: time, p, rng, headRows: headRows,
                     checkpointing: checkpointing ? segmentIDs : nil) { _, q, k, v in
            Tensor.causalAttention(q, k, v, segmentIDs: segmentIDs)
        }
    }

    /// The training forward pass up to the head (segment-causal attention), each block
    /// checkpointed when `checkpointing`: see `llamaHidden`.
    func llamaTrainingHidden(tokens: [Int32], positions: [Int32], segmentIDs: [Int32], batch: Int, time: Int,
                             _ p: Parameters, _ rng: UnsafeMutablePointer<RNG>?, headRows: [Int32]?,
                             checkpointing: Bool = false) -> (hidden: Tensor, head: Tensor) {
        llamaHidden(tokens: tokens, positions: positions, batch: batch, time: time, p, rng, headRows: headRows,
                    checkpointing: checkpointing ? segmentIDs : nil) { _, q, k, v in
            Tensor.causalAttention(q, k, v, segmentIDs: segmentIDs)
        }
    }

    /// The Llama forward pass with the attention step supplied by the caller:
    /// `attend(layer, q, k, v)` gets q [B, T, Hq, D] and k, v [B, T, Hkv, D] of the new
    /// tokens (q and k already rotated) and returns [B, T, Hq, D]. Training passes
    /// segment-causal attention; generation passes attention over a key/value cache
    /// (DecoderModel+KVCache.swift). Everything else is shared. `headRows` keeps only
    /// those token rows for the last block's output projection and MLP, the final norm and
    /// the head (see `loss`); every row still feeds the last block's keys and values.
    /// `checkpointing`: see `llamaHidden`.
    func llamaForward(tokens: [Int32], positions: [Int32], batch: Int, time: Int,
                      _ p: Parameters, _ rng: UnsafeMutablePointer<RNG>?, headRows: [Int32]? = nil,
                      checkpointing segmentIDs: [Int32]? = nil,
                      attend: (Int, Tensor, Tensor, Tensor) -> Tensor) -> Tensor {
        let (final, head) = llamaHidden(tokens: tokens, positions: positions, batch: batch, time: time, p, rng,
                                        headRows: headRows, checkpointing: segmentIDs, attend: attend)
        return Tensor.matmul(final, head, transposeB: true)   // [B*T or rows, V]
    }

    /// `llamaForward` up to the head: the final norm's output [B*T or rows, C] and the head's
    /// weight [V, C] (the token embedding when tied), for the fused head and loss (`loss`).
    /// With `checkpointing` (the rows' segment ids), every block is one checkpointed op
    /// (`checkpointedBlock`) with segment-causal attention on those ids; `attend` is then
    /// unused (a block run again in the backward pass cannot call the caller's closure).
    func llamaHidden(tokens: [Int32], positions: [Int32], batch: Int, time: Int,
                     _ p: Parameters, _ rng: UnsafeMutablePointer<RNG>?, headRows: [Int32]? = nil,
                     checkpointing segmentIDs: [Int32]? = nil,
                     attend: (Int, Tensor, Tensor, Tensor) -> Tensor) -> (hidden: Tensor, head: Tensor) {
        let c = config.dim
        var x = Embedding("model.embed_tokens", count: config.vocabSize, dim: c)(tokens, shape: [batch, time], p)
        for i in 0..<config.layers {
            let rows = i == config.layers - 1 ? headRows : nil
            if let segmentIDs {
                x = checkpointedBlock(i, x, p, rng) { x, weights, rng in
                    llamaBlockForward(i, x, weights, rng, positions: positions, batch: batch, time: time, headRows: rows) { _, q, k, v in
                        Tensor.causalAttention(q, k, v, segmentIDs: segmentIDs)
                    }
                }
            } else {
                x = llamaBlockForward(i, x, p, rng, positions: positions, batch: batch, time: time, headRows: rows, attend: attend)
            }
        }
        // With no blocks, nothing has selected the head rows yet.
        let rows = config.layers == 0 ? selectingHeadRows(x.reshaped([batch * time, c]), headRows)
                                      : x.reshaped([-1, c])
        let final = RMSNorm("model.norm", dim: c, eps: config.normEps)(rows, p)
        let head = config.tiedEmbeddings ? p["model.embed_tokens.weight"] : p["lm_head.weight"]
        return (final, head)
    }

    /// Block `i`: x [B, T, C] -> [B, T, C], reading its weights from `p`. With `headRows`
    /// (the last block), only those token rows go on after attention: -> [rows, C].
    func llamaBlockForward(_ i: Int, _ x: Tensor, _ p: Parameters, _ rng: UnsafeMutablePointer<RNG>?,
                           positions: [Int32], batch: Int, time: Int, headRows: [Int32]?,
                           attend: (Int, Tensor, Tensor, Tensor) -> Tensor) -> Tensor {
        let c = config.dim, d = config.headDim
        let b = llamaBlock(i)
        var x = x
        let h = b.inNorm(x, p)
        let q = Tensor.rope(b.q(h, p, dropoutRNG: rng).reshaped([batch, time, config.heads, d]), positions: positions,
                            theta: config.ropeTheta, layout: .halves)
        let k = Tensor.rope(b.k(h, p, dropoutRNG: rng).reshaped([batch, time, config.kvHeads, d]), positions: positions,
                            theta: config.ropeTheta, layout: .halves)
        let v = b.v(h, p, dropoutRNG: rng).reshaped([batch, time, config.kvHeads, d])
        var a = attend(i, q, k, v).reshaped([batch, time, config.heads * d])
        if let headRows {
            (x, a) = (selectingHeadRows(x.reshaped([batch * time, c]), headRows),
                      selectingHeadRows(a.reshaped([batch * time, config.heads * d]), headRows))
        }
        x = addingResidual(x, b.o, a, p, rng)
        let h2 = b.postNorm(x, p)
        return addingResidual(x, b.down, Tensor.swiglu(gate: b.gate(h2, p, dropoutRNG: rng), up: b.up(h2, p, dropoutRNG: rng)),
                              p, rng)
    }
}
