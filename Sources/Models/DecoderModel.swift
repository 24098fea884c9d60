import Autograd
import NN

/// A decoder-only transformer (GPT-2 or Llama) described by its config.
///
/// The model holds no weights: `logits` reads them by Hugging Face name from a
/// `Parameters`, so the same model serves training (tracked parameters), inference
/// (untracked: nothing recorded) and LoRA (some tracked, most frozen).
///
/// Input layout for one call, B rows of T tokens, token-major (`b * T + t`):
/// token ids, positions (restart at 0 in each packed example), and segment ids (one per
/// example; attention never crosses them). Output: logits [B*T, V].
public struct DecoderModel: Sendable {
    public let config: ModelConfig
    /// LoRA adapters on some projections (DecoderModel+LoRA.swift); nil for a plain model.
    public let lora: LoRAConfig?

    /// Checks the config (and the adapters'); throws `ModelError.invalidConfig` naming each problem.
    public init(_ config: ModelConfig, lora: LoRAConfig? = nil) throws {
        var problems = config.problems()
        if problems.isEmpty, let lora { problems = Self.loraProblems(lora, config: config) }
        if !problems.isEmpty { throw ModelError.invalidConfig(problems) }
        self.config = config
        self.lora = lora
    }

    /// The same model without adapters (for merged weights).
    public var withoutAdapters: DecoderModel {
        guard lora != nil else { return self }
        return try! DecoderModel(config)  // the config passed init's checks already
    }

    /// Every parameter's name and shape, in a fixed order (embedding, blocks, final norm, head).
    public var parameterShapes: [(name: String, shape: [Int])] {
        switch config.family {
        case .gpt2: return gpt2ParameterShapes()
        case .llama: return llamaParameterShapes()
        }
    }

    /// Total number of scalar parameters.
    public var parameterCount: Int { parameterShapes.reduce(0) { $0 + Tensor.elementCount($1.shape) } }

    /// Fresh weights: normal(0, 0.02) for matrices and embeddings, with output
    /// projections of each block scaled by 1/sqrt(2 * layers) (GPT-2's residual scaling);
    /// biases 0, norm weights 1.
    public func initialParameters(rng: inout RNG) -> Parameters {
        var p = Parameters()
        let residualStd = 0.02 / Float(2 * config.layers).squareRoot()
        for (name, shape) in parameterShapes {
            if name.hasSuffix(".bias") {
                p[name] = Tensor.zeros(shape)
            } else if shape.count == 1 {
                p[name] = Tensor.ones(shape)
            } else {
                let isResidualOut = name.hasSuffix("c_proj.weight") || name.hasSuffix("o_proj.weight")
                    || name.hasSuffix("down_proj.weight")
                p[name] = Tensor.randomNormal(shape, std: isResidualOut ? residualStd : 0.02, rng: &rng)
            }
        }
        return p
    }

    /// Whether AdamW's weight decay applies: to matrices of the blocks and the head, not
    /// to norms, biases and embeddings (the usual choice in GPT-2 and Llama recipes).
    public func decays(_ name: String) -> Bool {
        if name.hasSuffix(".bias") { return false }
        if name.contains("wte") || name.contains("wpe") || name.contains("embed_tokens") { return false }
        if name.contains("ln_") || name.contains("norm") { return false }
        return true
    }

    /// Checks that `p` has exactly this model's tensors with the right shapes (with `lora`,
    /// its adapter tensors may be there too, each with its shape).
    public func validate(_ p: Parameters) throws {
        let shapes = parameterShapes + adapterShapes.filter { p.contains($0.name) }
        for (name, shape) in shapes {
            guard let t = p.tensor(named: name) else { throw ModelError.missingTensor(name: name) }
            if t.shape != shape { throw ModelError.wrongShape(name: name, expected: shape, found: t.shape) }
        }
        let known = Set(shapes.map(\.name))
        for name in p.names where !known.contains(name) { throw ModelError.unexpectedTensor(name: name) }
    }

    /// Logits [B*T, V] for the B rows of T tokens of `input`. `dropoutRNG` enables dropout (training).
    public func logits(_ input: ModelInput, parameters p: Parameters, dropoutRNG: UnsafeMutablePointer<RNG>? = nil) -> Tensor {
        let x = input
        switch config.family {
        case .gpt2:
            return gpt2Logits(tokens: x.tokens, positions: x.positions, segmentIDs: x.segmentIDs, batch: x.batch, time: x.time, p, dropoutRNG)
        case .llama:
            return llamaLogits(tokens: x.tokens, positions: x.positions, segmentIDs: x.segmentIDs, batch: x.batch, time: x.time, p, dropoutRNG)
        }
    }

    /// Summed cross-entropy over the counted targets of `input` and their count (targets
    /// equal to `input.ignoreIndex` are not counted). Divide by the count of the whole
    /// optimizer step.
    ///
    /// Only counted rows go through the last block's output projection and MLP, the final
    /// norm and the head: with response-only loss (or the benchmark's loss on half of each
    /// row) those products, the [rows, V] logits and their softmax shrink by the ignored
    /// share, and the result is the same sum. Those steps work row by row, and an ignored
    /// row's last-block output reaches nothing that is counted (its keys and values, which
    /// later rows attend to, are still computed for every row). The head and the loss are one
    /// chunked op (`Tensor.linearCrossEntropy`): the [rows, V] logits never exist whole.
    ///
    /// With `checkpointing`, each block keeps only its input for the backward pass and runs
    /// again during it (DecoderModel+Checkpointing.swift): less memory, more time, the same
    /// loss and gradients bit for bit.
    public func loss(_ input: ModelInput, parameters p: Parameters,
                     dropoutRNG: UnsafeMutablePointer<RNG>? = nil, checkpointing: Bool = false) -> (sum: Tensor, count: Int) {
        let x = input
        precondition(x.targets.count == x.batch * x.time, "DecoderModel.loss: the input has no targets")
        var rows: [Int32] = []
        rows.reserveCapacity(x.targets.count)
        for (i, t) in x.targets.enumerated() where t != x.ignoreIndex { rows.append(Int32(i)) }
        // Every row counted, or none (then the full path gives the zero loss and gradients).
        let headRows: [Int32]? = rows.isEmpty || rows.count == x.targets.count ? nil : rows
        let final: (hidden: Tensor, head: Tensor)
        switch config.family {
        case .gpt2:
            final = gpt2TrainingHidden(tokens: x.tokens, positions: x.positions, segmentIDs: x.segmentIDs, batch: x.batch,
                                       time: x.time, p, dropoutRNG, headRows: headRows, checkpointing: checkpointing)
        case .llama:
            final = llamaTrainingHidden(tokens: x.tokens, positions: x.positions, segmentIDs: x.segmentIDs, batch: x.batch,
                                        time: x.time, p, dropoutRNG, headRows: headRows, checkpointing: checkpointing)
        }
        let kept = headRows.map { $0.map { x.targets[Int($0)] } } ?? x.targets
        // The head and the loss fused and chunked: at most a chunk of logits exists at once.
        return Tensor.linearCrossEntropy(hidden: final.hidden, weight: final.head, targets: kept, ignoreIndex: x.ignoreIndex)
    }

    /// The summed loss and target count over `inputs`, recording no graph: each batch's sum in
    /// Float, the batches' sums in Double. The one routine behind validation loss during
    /// training and `instruct eval` on a data file, so both report the same numbers.
    public func lossSum(over inputs: some Sequence<ModelInput>, parameters p: Parameters) -> (sum: Double, count: Int) {
        var sum = 0.0, count = 0
        for input in inputs {
            let (s, c) = loss(input, parameters: p)
            sum += Double(s.scalar)
            count += c
        }
        return (sum, count)
    }

    /// The rows of `x` [B*T, C] listed in `rows` (all of them when nil), differentiably.
    func selectingHeadRows(_ x: Tensor, _ rows: [Int32]?) -> Tensor {
        guard let rows = rows else { return x }
        return Tensor.gatherRows(x, indices: rows)
    }

    /// Whether a training forward pass draws dropout masks (model or adapter dropout).
    public var usesDropout: Bool { config.dropout > 0 || (lora?.settings.dropout ?? 0) > 0 }

    /// `x + dropout(layer(input))`, a block's residual update. Without model dropout the
    /// layer's product is added straight onto a copy of `x` (`Linear(adding:)`): one
    /// output-sized pass and buffer fewer than a separate add.
    func addingResidual(_ x: Tensor, _ layer: Linear, _ input: Tensor, _ p: Parameters,
                        _ rng: UnsafeMutablePointer<RNG>?) -> Tensor {
        if rng != nil && config.dropout > 0 {
            return x + maybeDropout(layer(input, p, dropoutRNG: rng), rng)
        }
        return layer(input, p, dropoutRNG: rng, adding: x)
    }

    @inline(__always)
    func maybeDropout(_ x: Tensor, _ rng: UnsafeMutablePointer<RNG>?) -> Tensor {
        guard let rng = rng, config.dropout > 0 else { return x }
        return x.dropout(config.dropout, rng: &rng.pointee)
    }
}
