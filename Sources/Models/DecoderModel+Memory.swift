import Autograd

/// What a model costs in memory, from its shape alone: no tensor is built and no per-tensor
/// list is made, so a config with a billion layers or a width of a million is measured in
/// microseconds (as a huge number, in Double: nothing overflows). The memory planner
/// (`Training.MemoryPlan`) adds these up; importers use the counts to refuse absurd configs
/// before they allocate.
///
/// Legend: N tokens in a micro-batch (B x T), R of them with a trained target (the rows that
/// go through the last block's MLP and the head, `DecoderModel.loss`), C = dim, KV = kv_heads x
/// head size, F = ffn_dim, H = query heads, V = vocabulary, L = layers.
extension ModelConfig {
    /// Scalars of the weights. Equals `DecoderModel(self).parameterCount` for every valid
    /// config (tested), without listing the tensors.
    public var parameterScalars: Double {
        let c = Double(dim), f = Double(ffnDim), v = Double(vocabSize), l = Double(layers)
        switch family {
        case .gpt2:
            // wte, wpe; per block ln_1, c_attn (+bias), c_proj (+bias), ln_2, c_fc (+bias),
            // mlp.c_proj (+bias); ln_f.
            let block = 2 * c + (3 * c * c + 3 * c) + (c * c + c) + 2 * c + (c * f + f) + (f * c + c)
            return v * c + Double(contextLength) * c + l * block + 2 * c
        case .llama:
            let kv = Double(kvHeads * headDim)
            // Two norms, q, k, v, o, gate, up, down.
            let block = 2 * c + c * c + 2 * c * kv + c * c + 3 * c * f
            return v * c + l * block + c + (tiedEmbeddings ? 0 : v * c)
        }
    }

    /// Number of weight tensors (`DecoderModel.parameterShapes.count`), in Double.
    public var parameterTensorCount: Double {
        let l = Double(layers)
        switch family {
        case .gpt2: return 2 + 12 * l + 2
        case .llama: return 1 + 9 * l + 1 + (tiedEmbeddings ? 0 : 1)
        }
    }

    /// Scalars of the tensors one training forward pass keeps for its backward pass, at
    /// `tokens` N and `headRows` R (<= N), with `lora` adapters (their dropout adds a mask
    /// and a dropped copy of each adapted input) and the model's own dropout.
    ///
    /// Counted per token from the forward code (Llama.swift, GPT2.swift), where a tensor is
    /// kept when a backward rule captures it:
    ///
    ///     Llama block: x (C, by the input norm), h (C, by q/k/v), rotated q (C) and k (KV)
    ///                  and v (KV, by attention), the attention output (C) and its row
    ///                  logsumexp (H), x after attention (C), h2 (C), gate (F) and up (F,
    ///                  by the fused SwiGLU), silu(gate) * up (F, by down); two norms' 1/rms (2).
    ///     GPT-2 block: x (C), h (C), c_attn's output (3C), the attention output (C) and
    ///                  logsumexp (H), x after attention (C), h2 (C), c_fc's output (F),
    ///                  GELU's (F); two norms' mean and 1/std (4).
    ///     head:        the last block's output rows (C), the final norm's (C) and its
    ///                  1/rms (1), and the hidden rows' gradient that the fused head and loss
    ///                  make in the forward pass (C): R x (3C + 1); plus one chunk of logits,
    ///                  min(R, chunk) x V (`Tensor.linearCrossEntropy`; the pool keeps that
    ///                  buffer through the step). No [R, V] tensor exists.
    ///
    /// The last block's part after attention runs on R rows only, as the head does. Nothing
    /// grows with T squared: attention keeps its output and a logsumexp per head and token.
    ///
    /// With `checkpointing` (DecoderModel+Checkpointing.swift) the blocks keep only their
    /// inputs, L x N x C, and one block at a time holds the rest of its tensors while it runs
    /// again in the backward pass: the widest block, one on every row when there are two or
    /// more (its input is the kept one, not a copy). Measured runs with checkpointing peak
    /// 12-20% above the plan made from this count, for a reason not found yet
    /// (docs/performance.md, "Activation checkpointing").
    public func savedActivationScalars(tokens: Int, headRows: Int, lora: LoRAConfig? = nil,
                                       checkpointing: Bool = false) -> (blocks: Double, head: Double) {
        let n = Double(tokens), r = Double(min(headRows, tokens))
        let c = Double(dim), f = Double(ffnDim), h = Double(heads), kv = Double(kvHeads * headDim)
        let l = Double(layers)
        // Per token, before attention (every row) and after it (R rows in the last block).
        let before: Double, after: Double
        switch family {
        case .llama:
            before = c + 1 + c + c + kv + kv + c + h
            after = c + 1 + c + 3 * f
        case .gpt2:
            before = c + 2 + c + 3 * c + c + h
            after = c + 2 + c + 2 * f
        }
        var perTokenBefore = before, perTokenAfter = after
        if dropout > 0 {
            // Dropout on the two residual updates keeps each update and its mask.
            perTokenAfter += 4 * c
        }
        if let lora {
            let extra = lora.savedScalarsPerToken(config: self)
            perTokenBefore += extra.beforeAttention
            perTokenAfter += extra.afterAttention
        }
        var blocks = l * n * perTokenBefore + (l - 1) * n * perTokenAfter + r * perTokenAfter
        if checkpointing && layers > 0 {
            let widest = layers > 1 ? n * (perTokenBefore + perTokenAfter) : n * perTokenBefore + r * perTokenAfter
            blocks = l * n * c + widest - n * c
        }
        let chunk = Double(min(headRows, tokens, Tensor.linearCrossEntropyChunkRows(vocabulary: vocabSize)))
        let head = r * (3 * c + 1) + chunk * Double(vocabSize)
        return (blocks, head)
    }
}

extension LoRAConfig {
    /// Scalars of the adapters (A and B of every adapted projection in every block). Equals
    /// the sum of `DecoderModel(config, lora: self).adapterShapes` for a valid config.
    public func adapterScalars(for config: ModelConfig) -> Double {
        let r = Double(settings.rank)
        return Double(config.layers) * targets.reduce(0) { sum, t in
            guard let (i, o) = t.features(in: config) else { return sum }
            return sum + r * (Double(i) + Double(o))
        }
    }

    /// Scalars per token each block keeps for the adapters' backward pass: each adapted
    /// projection keeps its input's down-projection (rank r) and, with adapter dropout, the
    /// dropped input and its mask (2 x in); split at attention as the block's own tensors are.
    func savedScalarsPerToken(config: ModelConfig) -> (beforeAttention: Double, afterAttention: Double) {
        let r = Double(settings.rank), drop = settings.dropout > 0
        var before = 0.0, after = 0.0
        for t in targets {
            guard let (i, _) = t.features(in: config) else { continue }
            let s = r + (drop ? 2 * Double(i) : 0)
            switch t {
            case .q, .k, .v, .qkv: before += s
            case .o, .gate, .up, .down: after += s
            }
        }
        return (before, after)
    }
}

extension LoRATarget {
    /// (in, out) features of this projection in `config`'s blocks; nil when the family lacks it.
    func features(in config: ModelConfig) -> (Int, Int)? {
        let c = config.dim, kv = config.kvHeads * config.headDim, f = config.ffnDim
        switch (config.family, self) {
        case (.llama, .q), (.llama, .o): return (c, c)
        case (.llama, .k), (.llama, .v): return (c, kv)
        case (.llama, .gate), (.llama, .up): return (c, f)
        case (.llama, .down): return (f, c)
        case (.gpt2, .qkv): return (c, 3 * c)
        case (.gpt2, .o): return (c, c)
        case (.gpt2, .up): return (c, f)
        case (.gpt2, .down): return (f, c)
        default: return nil
        }
    }
}
