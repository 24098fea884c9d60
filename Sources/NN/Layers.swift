import Autograd

/// How a linear layer's weight is stored.
public enum LinearLayout: Sendable {
    /// [out, in], as `torch.nn.Linear` (Llama): y = x Wᵀ + b.
    case outIn
    /// [in, out], as GPT-2's `Conv1D` in Hugging Face: y = x W + b.
    case inOut
}

/// A fully connected layer reading `NAME.weight` (and `NAME.bias`) from `Parameters`.
/// Either layout is a single sgemm with a transpose flag, never a copy. With `lora` set and
/// `NAME.lora_A.weight` / `NAME.lora_B.weight` present in the parameters, the adapter's
/// low-rank update is added (see `LoRA`).
public struct Linear: Sendable {
    public let name: String
    public let inFeatures: Int
    public let outFeatures: Int
    public let bias: Bool
    public let layout: LinearLayout
    /// The adapter's settings when this layer is a LoRA target; nil otherwise.
    public var lora: LoRA? = nil

    public init(_ name: String, _ inFeatures: Int, _ outFeatures: Int, bias: Bool, layout: LinearLayout = .outIn) {
        self.name = name
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.bias = bias
        self.layout = layout
    }

    public var weightName: String { name + ".weight" }
    public var biasName: String { name + ".bias" }

    /// Shape of the stored weight.
    public var weightShape: [Int] { layout == .outIn ? [outFeatures, inFeatures] : [inFeatures, outFeatures] }

    /// (name, shape) of each parameter.
    public var parameterShapes: [(String, [Int])] {
        bias ? [(weightName, weightShape), (biasName, [outFeatures])] : [(weightName, weightShape)]
    }

    /// x [.., in] -> [.., out]; with `residual` [.., out], `residual + layer(x)` in one
    /// product (see `Tensor.linear`). `dropoutRNG` enables the adapter's dropout (training).
    public func callAsFunction(_ x: Tensor, _ p: Parameters, dropoutRNG: UnsafeMutablePointer<RNG>? = nil,
                               adding residual: Tensor? = nil) -> Tensor {
        var y = Tensor.linear(x, p[weightName], bias: bias ? p[biasName] : nil, transposeWeight: layout == .outIn,
                              adding: residual)
        if let lora, let a = p.tensor(named: LoRA.aName(name)), let b = p.tensor(named: LoRA.bName(name)) {
            y = lora.adding(x, a: a, b: b, to: y, dropoutRNG: dropoutRNG)
        }
        return y
    }
}

/// A lookup table `NAME.weight` [count, dim].
public struct Embedding: Sendable {
    public let name: String
    public let count: Int
    public let dim: Int

    public init(_ name: String, count: Int, dim: Int) {
        self.name = name
        self.count = count
        self.dim = dim
    }

    public var weightName: String { name + ".weight" }

    /// ids (B*T, row-major over `shape`) -> [shape..., dim].
    public func callAsFunction(_ ids: [Int32], shape: [Int], _ p: Parameters) -> Tensor {
        Tensor.gatherRows(p[weightName], indices: ids, indexShape: shape)
    }
}

/// Layer normalisation with weight and bias, `NAME.weight`, `NAME.bias` [dim].
public struct LayerNorm: Sendable {
    public let name: String
    public let dim: Int
    public let eps: Float

    public init(_ name: String, dim: Int, eps: Float = 1e-5) {
        self.name = name
        self.dim = dim
        self.eps = eps
    }

    public var parameterShapes: [(String, [Int])] { [(name + ".weight", [dim]), (name + ".bias", [dim])] }

    public func callAsFunction(_ x: Tensor, _ p: Parameters) -> Tensor {
        Tensor.layerNorm(x, p[name + ".weight"], p[name + ".bias"], eps: eps)
    }
}

/// Root-mean-square normalisation with a weight, `NAME.weight` [dim] (Llama).
public struct RMSNorm: Sendable {
    public let name: String
    public let dim: Int
    public let eps: Float

    public init(_ name: String, dim: Int, eps: Float = 1e-5) {
        self.name = name
        self.dim = dim
        self.eps = eps
    }

    public var parameterShapes: [(String, [Int])] { [(name + ".weight", [dim])] }

    public func callAsFunction(_ x: Tensor, _ p: Parameters) -> Tensor {
        Tensor.rmsNorm(x, p[name + ".weight"], eps: eps)
    }
}
