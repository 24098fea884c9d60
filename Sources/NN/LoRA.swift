import Autograd

/// Low-rank adaptation (Hu et al. 2021) of one linear layer, as Hugging Face PEFT does it.
///
/// The frozen base weight W stays as it is; two small trainable matrices are added:
///
///     A = NAME.lora_A.weight  [r, in]     (PEFT's lora_A: nn.Linear(in, r))
///     B = NAME.lora_B.weight  [out, r]    (PEFT's lora_B: nn.Linear(r, out))
///     y = base(x) + scale * (dropout(x) Aᵀ) Bᵀ,   scale = alpha / r
///
/// Both shapes are the same whatever the base layout (GPT-2's Conv1D [in, out] or Llama's
/// [out, in]), as in PEFT, so an adapter exports to PEFT by prefixing its names. Dropout
/// applies only to the adapter's input, only in training. Initialisation follows PEFT's
/// default: A ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming-uniform with a = sqrt(5)), B = 0, so a
/// fresh adapter leaves the model's output unchanged.
public struct LoRA: Sendable, Equatable, Codable {
    /// The rank r of the update (1 <= r <= min(in, out)).
    public var rank: Int
    /// The update is scaled by alpha / rank.
    public var alpha: Float
    /// Dropout probability on the adapter's input during training.
    public var dropout: Float

    public init(rank: Int, alpha: Float, dropout: Float = 0) {
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
    }

    /// alpha / rank.
    public var scale: Float { alpha / Float(rank) }

    /// `NAME.lora_A.weight` for the linear layer `NAME`.
    public static func aName(_ layer: String) -> String { layer + ".lora_A.weight" }
    /// `NAME.lora_B.weight` for the linear layer `NAME`.
    public static func bName(_ layer: String) -> String { layer + ".lora_B.weight" }

    /// True for the name of an adapter tensor (`*.lora_A.weight`, `*.lora_B.weight`).
    public static func isAdapterName(_ name: String) -> Bool {
        name.hasSuffix(".lora_A.weight") || name.hasSuffix(".lora_B.weight")
    }

    /// (name, shape) of the two adapter tensors of `linear`.
    public func adapterShapes(of linear: Linear) -> [(String, [Int])] {
        [(Self.aName(linear.name), [rank, linear.inFeatures]), (Self.bName(linear.name), [linear.outFeatures, rank])]
    }

    /// PEFT's initial adapter for `linear`: A uniform in ±1/sqrt(in), B zero.
    public func initialAdapter(of linear: Linear, rng: inout RNG) -> [(String, Tensor)] {
        let bound = 1 / Float(linear.inFeatures).squareRoot()
        return [(Self.aName(linear.name), Tensor.randomUniform([rank, linear.inFeatures], low: -bound, high: bound, rng: &rng)),
                (Self.bName(linear.name), Tensor.zeros([linear.outFeatures, rank]))]
    }

    /// `base` plus the adapter's update scale * (dropout(x) Aᵀ) Bᵀ, for x [.., in] and
    /// base [.., out] (the base layer's output). `dropoutRNG` enables dropout (training).
    /// The scale multiplies B ([out, r]), not the output: a scalar product keeps its input
    /// for the backward pass, and B is the smallest tensor on the path; the update is
    /// accumulated into a copy of `base` by one sgemm (`matmul(_:_:adding:)`), so it never
    /// exists as a [.., out] tensor of its own. The adapter keeps only [.., r] activations.
    public func adding(_ x: Tensor, a: Tensor, b: Tensor, to base: Tensor, dropoutRNG: UnsafeMutablePointer<RNG>?) -> Tensor {
        var input = x
        if let rng = dropoutRNG, dropout > 0 { input = x.dropout(dropout, rng: &rng.pointee) }
        let down = Tensor.matmul(input, a, transposeB: true)                    // [.., r]
        return Tensor.matmul(down, b * scale, transposeB: true, adding: base)   // [.., out]
    }

    /// The base weight with the adapter folded in, in the base's layout:
    /// W + scale * B A ([out, in]) or W + scale * Aᵀ Bᵀ ([in, out], Conv1D). The merged
    /// layer gives the same output as base + adapter up to float rounding (tested).
    public func merged(weight: Tensor, a: Tensor, b: Tensor, layout: LinearLayout) -> Tensor {
        let delta: Tensor
        switch layout {
        case .outIn: delta = Tensor.matmul(b, a)                                        // [out, in]
        case .inOut: delta = Tensor.matmul(a, b, transposeA: true, transposeB: true)     // [in, out]
        }
        precondition(delta.shape == weight.shape, "LoRA.merged: update \(delta.shape) vs weight \(weight.shape)")
        return weight + delta * scale
    }
}
