/// The decoder families InstructKit trains.
public enum ModelFamily: String, Codable, Sendable, CaseIterable {
    /// GPT-2: learned positions, pre-LayerNorm, GELU MLP, biases, tied head.
    case gpt2
    /// Llama: RMSNorm, rotary positions, SwiGLU MLP, grouped-query attention, no biases.
    case llama
}

/// The shape of a decoder-only transformer. Field names follow the usual meaning;
/// `config.json` names for each family are produced by the exporters.
public struct ModelConfig: Codable, Sendable, Equatable {
    public var family: ModelFamily
    /// V: vocabulary size (rows of the embedding).
    public var vocabSize: Int
    /// Longest sequence (GPT-2's learned position table has this many rows).
    public var contextLength: Int
    /// C: model width.
    public var dim: Int
    /// Number of transformer blocks.
    public var layers: Int
    /// Hq: query heads. Head size D = dim / heads.
    public var heads: Int
    /// Hkv: key/value heads (grouped-query attention when < heads). GPT-2: equal to heads.
    public var kvHeads: Int
    /// Hidden width of the MLP (GPT-2: 4 * dim).
    public var ffnDim: Int
    /// Epsilon of LayerNorm / RMSNorm.
    public var normEps: Float
    /// RoPE frequency base (Llama only).
    public var ropeTheta: Float
    /// Whether the output head reuses the token embedding (always for GPT-2).
    public var tiedEmbeddings: Bool
    /// Dropout on attention output and MLP output during training (0 disables).
    public var dropout: Float

    public init(family: ModelFamily, vocabSize: Int, contextLength: Int, dim: Int, layers: Int, heads: Int,
                kvHeads: Int? = nil, ffnDim: Int? = nil, normEps: Float = 1e-5, ropeTheta: Float = 10000,
                tiedEmbeddings: Bool = true, dropout: Float = 0) {
        self.family = family
        self.vocabSize = vocabSize
        self.contextLength = contextLength
        self.dim = dim
        self.layers = layers
        self.heads = heads
        self.kvHeads = kvHeads ?? heads
        self.ffnDim = ffnDim ?? (family == .gpt2 ? 4 * dim : ModelConfig.llamaFFN(dim))
        self.normEps = normEps
        self.ropeTheta = ropeTheta
        self.tiedEmbeddings = family == .gpt2 ? true : tiedEmbeddings
        self.dropout = dropout
    }

    /// Llama's default MLP width: 2/3 of 4*dim, rounded up to a multiple of 32.
    public static func llamaFFN(_ dim: Int) -> Int {
        let hidden = (2 * 4 * dim) / 3
        return ((hidden + 31) / 32) * 32
    }

    /// D: head size.
    public var headDim: Int { dim / heads }

    /// Problems with this config, each naming the field; empty when valid.
    public func problems() -> [String] {
        var out: [String] = []
        if vocabSize < 1 { out.append("vocab_size must be at least 1 (got \(vocabSize))") }
        if contextLength < 1 { out.append("context_length must be at least 1 (got \(contextLength))") }
        if dim < 1 || layers < 1 || heads < 1 { out.append("dim, layers and heads must be at least 1") }
        if heads >= 1 && dim % heads != 0 { out.append("dim (\(dim)) must be a multiple of heads (\(heads))") }
        if kvHeads < 1 || (kvHeads >= 1 && heads % kvHeads != 0) {
            out.append("heads (\(heads)) must be a multiple of kv_heads (\(kvHeads))")
        }
        if family == .gpt2 && kvHeads != heads { out.append("gpt2 has no grouped-query attention: kv_heads must equal heads") }
        if family == .llama && heads >= 1 && (dim / heads) % 2 != 0 { out.append("llama needs an even head size for RoPE (dim / heads = \(dim / Swift.max(heads, 1)))") }
        if ffnDim < 1 { out.append("ffn_dim must be at least 1") }
        if !(dropout >= 0 && dropout < 1) { out.append("dropout must be in [0, 1) (got \(dropout))") }
        return out
    }
}
