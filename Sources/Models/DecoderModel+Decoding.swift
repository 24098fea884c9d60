import Autograd
import NN

/// How the weights of the linear layers are held for decoding.
public enum WeightFormat: String, CaseIterable, Codable, Sendable {
    /// Float32, as trained (4 bytes per weight).
    case f32
    /// llama.cpp's Q8_0: blocks of 32 int8 values with one half-precision scale (34 bytes per
    /// 32 weights, 3.76x fewer bytes to read per token). Norm weights stay float32.
    case q8_0
}

/// A Llama's weights laid out for generation (`DecoderModel.logits(appending:positions:cache:weights:lastOnly:)`):
/// each linear layer as an `InferenceWeight` (float32 sharing the `Parameters`' storage, or
/// quantized to Q8_0), the norms as float32.
///
/// With `.q8_0` every linear layer, the token embedding and the (tied or separate) output
/// head are quantized, as llama.cpp's Q8_0 files hold them; the embedding rows a token looks
/// up are the de-quantized ones. With `.f32` nothing is copied.
public struct DecodingWeights: Sendable {
    /// One transformer block's weights.
    struct Block: Sendable {
        var inNorm: Tensor, postNorm: Tensor
        var q: InferenceWeight, k: InferenceWeight, v: InferenceWeight, o: InferenceWeight
        var gate: InferenceWeight, up: InferenceWeight, down: InferenceWeight
    }

    /// The format of the linear layers.
    public let format: WeightFormat
    let blocks: [Block]
    /// [V, C]: looked up by token id.
    let embedding: InferenceWeight
    let finalNorm: Tensor
    /// [V, C]: the embedding again when tied.
    let head: InferenceWeight
    let tied: Bool

    /// Bytes of weights read to generate one token at batch 1: every linear layer and the
    /// head once, the norm weights, one embedding row. (The KV cache comes on top:
    /// `KVCache.bytesRead(perTokenAt:)`.)
    public var bytesReadPerToken: Int {
        var bytes = head.byteCount + finalNorm.count * 4 + embedding.byteCount / Swift.max(embedding.rows, 1)
        for b in blocks {
            bytes += [b.q, b.k, b.v, b.o, b.gate, b.up, b.down].reduce(0) { $0 + $1.byteCount }
            bytes += (b.inNorm.count + b.postNorm.count) * 4
        }
        return bytes
    }

    /// Bytes held by these weights (the tied head counted once).
    public var byteCount: Int {
        bytesReadPerToken - embedding.byteCount / Swift.max(embedding.rows, 1) + (tied ? 0 : embedding.byteCount)
    }
}

extension DecoderModel {
    /// Whether `decodingWeights` and the fast decoding path apply: a Llama without unmerged
    /// LoRA adapters (GPT-2 and adapted models decode through `logits(appending:positions:cache:parameters:)`).
    public var hasDecodingPath: Bool { config.family == .llama && lora == nil }

    /// The weights of `p` laid out for decoding in `format`. Throws `ModelError.notSupported`
    /// for a model without the decoding path (`hasDecodingPath`) and for `.q8_0` when a
    /// matrix's input size is not a multiple of 32 (naming the tensor); `ModelError` for a
    /// missing or misshapen tensor. Quantizing reads every weight once (about a second for
    /// SmolLM2-135M on two cores).
    public func decodingWeights(_ p: Parameters, format: WeightFormat) throws -> DecodingWeights {
        guard hasDecodingPath else {
            throw ModelError.notSupported(feature: "decoding weights", reason: lora != nil
                ? "the model has unmerged LoRA adapters; merge them first"
                : "only Llama models have the decoding path; GPT-2 decodes with its float32 parameters")
        }
        try validate(p)
        func weight(_ name: String) throws -> InferenceWeight {
            let t = p[name]
            switch format {
            case .f32: return .float32(t)
            case .q8_0:
                guard Q8_0Matrix.canQuantize(shape: t.shape) else {
                    throw ModelError.notSupported(feature: "Q8_0 weights",
                                                  reason: "tensor '\(name)' is \(t.shape); Q8_0 needs an input size that is a multiple of 32")
                }
                return .q8_0(Q8_0Matrix(quantizing: t))
            }
        }
        var blocks: [DecodingWeights.Block] = []
        for i in 0..<config.layers {
            let l = llamaBlock(i, adapted: false)
            blocks.append(DecodingWeights.Block(
                inNorm: p[l.inNorm.name + ".weight"], postNorm: p[l.postNorm.name + ".weight"],
                q: try weight(l.q.name + ".weight"), k: try weight(l.k.name + ".weight"), v: try weight(l.v.name + ".weight"),
                o: try weight(l.o.name + ".weight"), gate: try weight(l.gate.name + ".weight"),
                up: try weight(l.up.name + ".weight"), down: try weight(l.down.name + ".weight")))
        }
        let embedding = try weight("model.embed_tokens.weight")
        let head = config.tiedEmbeddings ? embedding : try weight("lm_head.weight")
        return DecodingWeights(format: format, blocks: blocks, embedding: embedding, finalNorm: p["model.norm.weight"],
                               head: head, tied: config.tiedEmbeddings)
    }

    /// Logits of n new tokens per row appended to `cache`, computed from `weights` (see
    /// `logits(appending:positions:cache:parameters:)` for the layout of tokens, positions
    /// and the cache): [B*n, V], or with `lastOnly` [B, V] for each row's last new token
    /// only (prefill then skips the head for the other n-1 tokens).
    ///
    /// The same computation as the generic path, with each linear layer as one streaming
    /// product (`Tensor.inferenceProducts`: q, k, v in one dispatch, gate and up in one) for
    /// up to `Tensor.streamingRowLimit` rows and sgemm above. With `.f32` weights the logits
    /// agree with the generic path to float rounding (tested within 1e-4 relative); with
    /// `.q8_0` they are those of the de-quantized weights.
    public func logits(appending tokens: [Int32], positions: [Int32], cache: inout KVCache, weights w: DecodingWeights,
                       lastOnly: Bool = false) -> Tensor {
        let b = cache.batch, n = tokens.count / Swift.max(b, 1)
        precondition(hasDecodingPath && w.blocks.count == config.layers,
                     "DecoderModel.logits(appending:weights:): the weights were not made by this model's decodingWeights")
        precondition(n >= 1 && tokens.count == b * n && positions.count == tokens.count,
                     "DecoderModel.logits(appending:weights:): need B*n tokens and positions for B = \(b) rows; got \(tokens.count) tokens, \(positions.count) positions")
        precondition(cache.layers == config.layers && cache.kvHeads == config.kvHeads && cache.headDim == config.headDim,
                     "DecoderModel.logits(appending:weights:): the cache does not fit this model")
        precondition(cache.length + n <= cache.capacity,
                     "DecoderModel.logits(appending:weights:): \(n) new tokens do not fit: cache holds \(cache.length) of \(cache.capacity) slots")
        precondition(tokens.allSatisfy { $0 >= 0 && Int($0) < config.vocabSize },
                     "DecoderModel.logits(appending:weights:): a token id is outside the vocabulary of \(config.vocabSize)")
        let start = cache.length, d = config.headDim, eps = config.normEps, theta = config.ropeTheta
        var x = Self.embeddingRows(w.embedding, tokens)                                       // [B*n, C]
        for (i, l) in w.blocks.enumerated() {
            let h = Tensor.rmsNorm(x, l.inNorm, eps: eps)
            let qkv = Tensor.inferenceProducts(h, [l.q, l.k, l.v])
            let q = Tensor.rope(qkv[0].reshaped([b, n, config.heads, d]), positions: positions, theta: theta, layout: .halves)
            let k = Tensor.rope(qkv[1].reshaped([b, n, config.kvHeads, d]), positions: positions, theta: theta, layout: .halves)
            cache.store(layer: i, k, qkv[2].reshaped([b, n, config.kvHeads, d]), at: start)
            let a = cache.attention(layer: i, q, start: start).reshaped([b * n, config.heads * d])
            x = x + Tensor.inferenceProduct(a, l.o)
            let h2 = Tensor.rmsNorm(x, l.postNorm, eps: eps)
            let gu = Tensor.inferenceProducts(h2, [l.gate, l.up])
            x = x + Tensor.inferenceProduct(gu[0].silu() * gu[1], l.down)
        }
        cache.length = start + n
        if lastOnly && n > 1 {
            x = Tensor.gatherRows(x, indices: (0..<b).map { Int32($0 * n + n - 1) })
        }
        return Tensor.inferenceProduct(Tensor.rmsNorm(x, w.finalNorm, eps: eps), w.head)   // [B*n or B, V]
    }

    /// Rows `tokens` of an embedding table [V, C]: [tokens.count, C].
    static func embeddingRows(_ table: InferenceWeight, _ tokens: [Int32]) -> Tensor {
        switch table {
        case let .float32(t): return Tensor.gatherRows(t, indices: tokens)
        case let .q8_0(m): return m.dequantizedRows(tokens)
        }
    }
}

extension KVCache {
    /// Bytes of keys and values one decoding step reads per row when `length` slots are
    /// filled: every layer's keys and values of those slots.
    public static func bytesRead(layers: Int, kvHeads: Int, headDim: Int, length: Int) -> Int {
        2 * layers * length * kvHeads * headDim * MemoryLayout<Float>.size
    }
}
