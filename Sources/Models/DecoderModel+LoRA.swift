import Autograd
import NN

/// A projection of the decoder that LoRA can adapt, by a family-neutral name.
///
/// | name  | Llama (`model.layers.N.`) | GPT-2 (`transformer.h.N.`)          |
/// |-------|---------------------------|-------------------------------------|
/// | q     | self_attn.q_proj          | (fused: use qkv)                    |
/// | k     | self_attn.k_proj          | (fused: use qkv)                    |
/// | v     | self_attn.v_proj          | (fused: use qkv)                    |
/// | qkv   | (separate: use q, k, v)   | attn.c_attn                         |
/// | o     | self_attn.o_proj          | attn.c_proj                         |
/// | gate  | mlp.gate_proj             | (none: GPT-2's MLP has no gate)     |
/// | up    | mlp.up_proj               | mlp.c_fc                            |
/// | down  | mlp.down_proj             | mlp.c_proj                          |
public enum LoRATarget: String, CaseIterable, Codable, Sendable {
    case q, k, v, qkv, o, gate, up, down

    /// The targets a family has.
    public static func available(in family: ModelFamily) -> [LoRATarget] {
        switch family {
        case .llama: return [.q, .k, .v, .o, .gate, .up, .down]
        case .gpt2: return [.qkv, .o, .up, .down]
        }
    }

    /// The module's Hugging Face name below a block (PEFT's `target_modules` entry).
    public func moduleSuffix(in family: ModelFamily) -> String? {
        switch (family, self) {
        case (.llama, .q): return "self_attn.q_proj"
        case (.llama, .k): return "self_attn.k_proj"
        case (.llama, .v): return "self_attn.v_proj"
        case (.llama, .o): return "self_attn.o_proj"
        case (.llama, .gate): return "mlp.gate_proj"
        case (.llama, .up): return "mlp.up_proj"
        case (.llama, .down): return "mlp.down_proj"
        case (.gpt2, .qkv): return "attn.c_attn"
        case (.gpt2, .o): return "attn.c_proj"
        case (.gpt2, .up): return "mlp.c_fc"
        case (.gpt2, .down): return "mlp.c_proj"
        default: return nil
        }
    }

    /// Why this target does not exist in `family`, with what to use instead.
    public func absenceReason(in family: ModelFamily) -> String {
        let have = Self.available(in: family).map(\.rawValue).joined(separator: ", ")
        switch (family, self) {
        case (.gpt2, .q), (.gpt2, .k), (.gpt2, .v):
            return "GPT-2 computes q, k and v in one fused projection (attn.c_attn): use qkv. GPT-2 targets: \(have)"
        case (.llama, .qkv):
            return "Llama has separate q, k and v projections: use q, k, v. Llama targets: \(have)"
        default:
            return "\(family.rawValue) has no '\(rawValue)' projection. \(family.rawValue) targets: \(have)"
        }
    }
}

/// Which projections of a decoder get LoRA adapters, and the adapters' settings.
public struct LoRAConfig: Codable, Sendable, Equatable {
    /// Rank, alpha and dropout, the same for every adapted projection.
    public var settings: LoRA
    /// Adapted projections, in every block.
    public var targets: [LoRATarget]

    public init(rank: Int, alpha: Float, dropout: Float = 0, targets: [LoRATarget]) {
        settings = LoRA(rank: rank, alpha: alpha, dropout: dropout)
        self.targets = targets
    }
}

extension DecoderModel {
    /// Problems with `lora` for this config: a target the family lacks, a rank larger than an
    /// adapted layer, no targets, bad alpha or dropout. Each names what to change.
    public static func loraProblems(_ lora: LoRAConfig, config: ModelConfig) -> [String] {
        var p: [String] = []
        if lora.targets.isEmpty { p.append("no LoRA targets; name at least one of \(LoRATarget.available(in: config.family).map(\.rawValue).joined(separator: ", "))") }
        for t in lora.targets where t.moduleSuffix(in: config.family) == nil {
            p.append("LoRA target '\(t.rawValue)': \(t.absenceReason(in: config.family))")
        }
        if lora.settings.rank < 1 { p.append("LoRA rank must be at least 1, got \(lora.settings.rank)") }
        if !(lora.settings.alpha > 0) { p.append("LoRA alpha must be positive, got \(lora.settings.alpha)") }
        if !(lora.settings.dropout >= 0 && lora.settings.dropout < 1) { p.append("LoRA dropout must be in [0, 1), got \(lora.settings.dropout)") }
        if let model = try? DecoderModel(config) {
            for t in lora.targets {
                guard let layer = model.baseLinear(t, block: 0) else { continue }
                let limit = min(layer.inFeatures, layer.outFeatures)
                if lora.settings.rank > limit {
                    p.append("LoRA rank \(lora.settings.rank) is larger than target '\(t.rawValue)' (\(layer.name): \(layer.inFeatures) in, \(layer.outFeatures) out); use a rank of at most \(limit)")
                }
            }
        }
        return p
    }

    /// The base (unadapted) linear layer of `target` in block `i`, or nil when the family lacks it.
    func baseLinear(_ target: LoRATarget, block i: Int) -> Linear? {
        switch config.family {
        case .llama:
            let b = llamaBlock(i, adapted: false)
            switch target {
            case .q: return b.q
            case .k: return b.k
            case .v: return b.v
            case .o: return b.o
            case .gate: return b.gate
            case .up: return b.up
            case .down: return b.down
            case .qkv: return nil
            }
        case .gpt2:
            let b = gpt2Block(i, adapted: false)
            switch target {
            case .qkv: return b.attn
            case .o: return b.proj
            case .up: return b.fc
            case .down: return b.fcProj
            case .q, .k, .v, .gate: return nil
            }
        }
    }

    /// `layer` with this model's adapter settings when `target` is adapted.
    func adapting(_ layer: Linear, _ target: LoRATarget, _ adapted: Bool) -> Linear {
        guard adapted, let lora, lora.targets.contains(target) else { return layer }
        var l = layer
        l.lora = lora.settings
        return l
    }

    /// Every adapted linear layer, block by block in `LoRATarget` order.
    public var adaptedLayers: [Linear] {
        guard let lora else { return [] }
        var out: [Linear] = []
        for i in 0..<config.layers {
            for t in LoRATarget.allCases where lora.targets.contains(t) {
                if let l = baseLinear(t, block: i) { out.append(l) }
            }
        }
        return out
    }

    /// Name and shape of every adapter tensor (empty without `lora`), in a fixed order.
    public var adapterShapes: [(name: String, shape: [Int])] {
        guard let lora else { return [] }
        return adaptedLayers.flatMap { lora.settings.adapterShapes(of: $0).map { (name: $0.0, shape: $0.1) } }
    }

    /// Fresh adapters (PEFT's initialisation: A uniform, B zero).
    public func initialAdapters(rng: inout RNG) -> Parameters {
        guard let lora else { return Parameters() }
        var p = Parameters()
        for layer in adaptedLayers {
            for (n, t) in lora.settings.initialAdapter(of: layer, rng: &rng) { p[n] = t }
        }
        return p
    }

    /// The base weights with every adapter folded in and the adapter tensors removed: a
    /// plain model's parameters whose logits equal the adapted model's up to float rounding.
    public func merged(_ p: Parameters) -> Parameters {
        guard let lora else { return p }
        var out = Parameters(p.pairs.filter { !LoRA.isAdapterName($0.name) }.map { ($0.name, $0.tensor) })
        for layer in adaptedLayers {
            guard let a = p.tensor(named: LoRA.aName(layer.name)), let b = p.tensor(named: LoRA.bName(layer.name)) else { continue }
            out[layer.weightName] = lora.settings.merged(weight: p[layer.weightName], a: a, b: b, layout: layer.layout)
        }
        return out
    }

    /// Checks that `p` holds exactly this model's adapter tensors with the right shapes.
    public func validateAdapters(_ p: Parameters) throws {
        let shapes = adapterShapes
        for (name, shape) in shapes {
            guard let t = p.tensor(named: name) else { throw ModelError.missingTensor(name: name) }
            if t.shape != shape { throw ModelError.wrongShape(name: name, expected: shape, found: t.shape) }
        }
        let known = Set(shapes.map(\.name))
        for name in p.names where !known.contains(name) { throw ModelError.unexpectedTensor(name: name) }
    }
}
