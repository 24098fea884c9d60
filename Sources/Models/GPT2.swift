import Autograd
import NN

/// GPT-2 (Radford et al. 2019) with Hugging Face `GPT2LMHeadModel` names and layouts:
/// Conv1D weights are [in, out]; the head is tied to `transformer.wte.weight`.
///
///     x = wte[tokens] + wpe[positions]                        [B, T, C]
///     per block: x += c_proj(attn(split(c_attn(ln_1(x)))))    q, k, v: [B, T, H, D]
///                x += mlp.c_proj(gelu(mlp.c_fc(ln_2(x))))     hidden [B, T, 4C]
///     logits = ln_f(x) @ wteᵀ                                  [B*T, V]
extension DecoderModel {
    /// Block `i`'s layers; with `adapted`, the LoRA targets carry the adapter settings.
    func gpt2Block(_ i: Int, adapted: Bool = true) -> (ln1: LayerNorm, attn: Linear, proj: Linear, ln2: LayerNorm, fc: Linear, fcProj: Linear) {
        let c = config.dim, pre = "transformer.h.\(i)"
        return (LayerNorm("\(pre).ln_1", dim: c, eps: config.normEps),
                adapting(Linear("\(pre).attn.c_attn", c, 3 * c, bias: true, layout: .inOut), .qkv, adapted),
                adapting(Linear("\(pre).attn.c_proj", c, c, bias: true, layout: .inOut), .o, adapted),
                LayerNorm("\(pre).ln_2", dim: c, eps: config.normEps),
                adapting(Linear("\(pre).mlp.c_fc", c, config.ffnDim, bias: true, layout: .inOut), .up, adapted),
                adapting(Linear("\(pre).mlp.c_proj", config.ffnDim, c, bias: true, layout: .inOut), .down, adapted))
    }

    func gpt2ParameterShapes() -> [(name: String, shape: [Int])] {
        let c = config.dim
        var out: [(name: String, shape: [Int])] = [("transformer.wte.weight", [config.vocabSize, c]),
                                                   ("transformer.wpe.weight", [config.contextLength, c])]
        for i in 0..<config.layers {
            let b = gpt2Block(i)
            for (n, s) in b.ln1.parameterShapes + b.attn.parameterShapes + b.proj.parameterShapes
                + b.ln2.parameterShapes + b.fc.parameterShapes + b.fcProj.parameterShapes {
                out.append((n, s))
            }
        }
        for (n, s) in LayerNorm("transformer.ln_f", dim: c).parameterShapes { out.append((n, s)) }
        return out
    }

    func gpt2Logits(tokens: [Int32], positions: [Int32], segmentIDs: [Int32], batch: Int, time: Int,
                    _ p: Parameters, _ rng: UnsafeMutablePointer<RNG>?, headRows: [Int32]? = nil,
                    checkpointing: Bool = false) -> Tensor {
        gpt2Forward(tokens: tokens, positions: positions, batch: batch, time: time, p, rng, headRows: headRows,
                    checkpointing: checkpointing ? segmentIDs : nil) { _, q, k, v in
            Tensor.causalAttention(q, k, v, segmentIDs: segmentIDs)
        } attendPacked: { qkv in
            Tensor.causalAttention(packedQKV: qkv, heads: config.heads, kvHeads: config.heads, segmentIDs: segmentIDs)
        }
    }

    /// The GPT-2 forward pass with the attention step supplied by the caller:
    /// `attend(layer, q, k, v)` gets q, k, v [B, T, H, D] of the new tokens and returns
    /// [B, T, H, D]. Training passes segment-causal attention; generation passes attention
    /// over a key/value cache (DecoderModel+KVCache.swift). Everything else is shared.
    /// When `attendPacked` is given it is used instead: it gets c_attn's output [B, T, 3C]
    /// unsplit and returns [B, T, H, D] (training: no split copies, one gradient tensor).
    /// `headRows` (token indices `b * T + t`) keeps only those rows for the last block's
    /// output projection and MLP, the final norm and the head: logits [headRows.count, V]
    /// instead of [B*T, V] (see `loss`). Every row still feeds the last block's keys and values.
    /// `checkpointing`: see `gpt2Hidden`.
    func gpt2Forward(tokens: [Int32], positions: [Int32], batch: Int, time: Int,
                     _ p: Parameters, _ rng: UnsafeMutablePointer<RNG>?, headRows: [Int32]? = nil,
                     checkpointing segmentIDs: [Int32]? = nil,
                     attend: (Int, Tensor, Tensor, Tensor) -> Tensor,
                     attendPacked: ((Tensor) -> Tensor)? = nil) -> Tensor {
        let (final, head) = gpt2Hidden(tokens: tokens, positions: positions, batch: batch, time: time, p, rng,
                                       headRows: headRows, checkpointing: segmentIDs, attend: attend, attendPacked: attendPacked)
        return Tensor.matmul(final, head, transposeB: true)   // [B*T or rows, V]
    }

    /// The training forward pass up to the head (segment-causal attention on the packed
    /// projection), each block checkpointed when `checkpointing`: see `gpt2Hidden`.
    func gpt2TrainingHidden(tokens: [Int32], positions: [Int32], segmentIDs: [Int32], batch: Int, time: Int,
                            _ p: Parameters, _ rng: UnsafeMutablePointer<RNG>?, headRows: [Int32]?,
                            checkpointing: Bool = false) -> (hidden: Tensor, head: Tensor) {
        gpt2Hidden(tokens: tokens, positions: positions, batch: batch, time: time, p, rng, headRows: headRows,
                   checkpointing: checkpointing ? segmentIDs : nil) { _, q, k, v in
            Tensor.causalAttention(q, k, v, segmentIDs: segmentIDs)
        } attendPacked: { qkv in
            Tensor.causalAttention(packedQKV: qkv, heads: config.heads, kvHeads: config.heads, segmentIDs: segmentIDs)
        }
    }

    /// `gpt2Forward` up to the head: `ln_f`'s output [B*T or rows, C] and the head's weight
    /// (`transformer.wte.weight`, [V, C]), for the fused head and loss (`loss`). With
    /// `checkpointing` (the rows' segment ids), every block is one checkpointed op
    /// (`checkpointedBlock`) with segment-causal attention on those ids; `attend` and
    /// `attendPacked` are then unused (a block run again in the backward pass cannot call
    /// the caller's closures, which may be gone by then).
    func gpt2Hidden(tokens: [Int32], positions: [Int32], batch: Int, time: Int,
                    _ p: Parameters, _ rng: UnsafeMutablePointer<RNG>?, headRows: [Int32]? = nil,
                    checkpointing segmentIDs: [Int32]? = nil,
                    attend: (Int, Tensor, Tensor, Tensor) -> Tensor,
                    attendPacked: ((Tensor) -> Tensor)? = nil) -> (hidden: Tensor, head: Tensor) {
        let c = config.dim
        for pos in positions {
            precondition(pos >= 0 && Int(pos) < config.contextLength,
                         "gpt2: position \(pos) is outside the learned table of \(config.contextLength) (context_length)")
        }
        var x = Embedding("transformer.wte", count: config.vocabSize, dim: c)(tokens, shape: [batch, time], p)
            + Embedding("transformer.wpe", count: config.contextLength, dim: c)(positions, shape: [batch, time], p)
        for i in 0..<config.layers {
            let rows = i == config.layers - 1 ? headRows : nil
            if let segmentIDs {
                let heads = config.heads
                x = checkpointedBlock(i, x, p, rng) { x, weights, rng in
                    gpt2BlockForward(i, x, weights, rng, batch: batch, time: time, headRows: rows) { _, q, k, v in
                        Tensor.causalAttention(q, k, v, segmentIDs: segmentIDs)
                    } attendPacked: { qkv in
                        Tensor.causalAttention(packedQKV: qkv, heads: heads, kvHeads: heads, segmentIDs: segmentIDs)
                    }
                }
            } else {
                x = gpt2BlockForward(i, x, p, rng, batch: batch, time: time, headRows: rows, attend: attend,
                                     attendPacked: attendPacked)
            }
        }
        // With no blocks, nothing has selected the head rows yet.
        let rows = config.layers == 0 ? selectingHeadRows(x.reshaped([batch * time, c]), headRows)
                                      : x.reshaped([-1, c])
        let final = LayerNorm("transformer.ln_f", dim: c, eps: config.normEps)(rows, p)
        return (final, p["transformer.wte.weight"])
    }

    /// Block `i`: x [B, T, C] -> [B, T, C], reading its weights from `p`. With `headRows`
    /// (the last block), only those token rows go on after attention: -> [rows, C].
    func gpt2BlockForward(_ i: Int, _ x: Tensor, _ p: Parameters, _ rng: UnsafeMutablePointer<RNG>?,
                          batch: Int, time: Int, headRows: [Int32]?,
                          attend: (Int, Tensor, Tensor, Tensor) -> Tensor,
                          attendPacked: ((Tensor) -> Tensor)?) -> Tensor {
        let c = config.dim, h = config.heads, d = config.headDim
        let b = gpt2Block(i)
        var x = x
        let qkv = b.attn(b.ln1(x, p), p, dropoutRNG: rng)                                  // [B, T, 3C]
        var a: Tensor
        if let attendPacked = attendPacked {
            a = attendPacked(qkv).reshaped([batch, time, c])
        } else {
            let parts = qkv.split(axis: 2, sizes: [c, c, c])
            let q = parts[0].reshaped([batch, time, h, d])
            let k = parts[1].reshaped([batch, time, h, d])
            let v = parts[2].reshaped([batch, time, h, d])
            a = attend(i, q, k, v).reshaped([batch, time, c])
        }
        if let headRows {
            (x, a) = (selectingHeadRows(x.reshaped([batch * time, c]), headRows),
                      selectingHeadRows(a.reshaped([batch * time, c]), headRows))
        }
        x = addingResidual(x, b.proj, a, p, rng)
        let hidden = b.fc(b.ln2(x, p), p, dropoutRNG: rng).gelu()                         // [B, T, 4C]
        return addingResidual(x, b.fcProj, hidden, p, rng)
    }
}
