import Datasets
import Models
import NN
import Training
import Yams

/// How the weights are trained: all of them, or LoRA adapters on a frozen base.
public enum FinetuneMethod: String, CaseIterable, Sendable {
    /// Every weight is trained (and saved, with its AdamW moments).
    case full
    /// Only low-rank adapters on some projections are trained; the base (`model.init`) is
    /// frozen and checkpoints hold the adapters and the base's identity (docs/lora.md).
    case lora
}

/// `finetune:` — full fine-tuning or LoRA. Every key must match when a run resumes.
///
///     finetune:
///       method: lora
///       rank: 8
///       alpha: 16
///       dropout: 0.05
///       targets: [q, v]
public struct FinetuneSection: Equatable, Sendable, RecipeSection, CheckedSection {
    /// Default `full`: the behaviour of every recipe written before LoRA existed.
    public var method = FinetuneMethod.full
    /// Default 8: PEFT's and torchtune's default; small enough to be cheap, large enough to learn a task.
    public var rank = 8
    /// Default 16 (scale alpha/rank = 2): torchtune's Llama LoRA recipes.
    public var alpha = 16.0
    /// Default 0: short CPU runs rarely overfit, and dropout on adapter inputs costs a mask per target.
    public var dropout = 0.0
    /// Default q and v for Llama, qkv for GPT-2: PEFT's defaults for these families
    /// (q_proj/v_proj, c_attn). Names: q, k, v, o, gate, up, down (Llama); qkv, o, up, down (GPT-2).
    public var targets: [LoRATarget]
    /// The model family the targets belong to (from `model.family`; not a key).
    private(set) var family: ModelFamily
    /// Whether `targets` was written (else it is the family's default).
    var stated = StatedKeys()

    /// The defaults for a model of `family`.
    init(family: ModelFamily) {
        self.family = family
        targets = Self.defaultTargets(family)
    }

    /// The default targets of `family`.
    public static func defaultTargets(_ family: ModelFamily) -> [LoRATarget] {
        family == .gpt2 ? [.qkv] : [.q, .v]
    }

    static let keys: [RecipeKey<FinetuneSection>] = [
        .choice("method", \.method, resume: .mustMatch),
        .int("rank", \.rank, atLeast: 1, resume: .mustMatch),
        .double("alpha", \.alpha, in: 1e-6...1e6, resume: .mustMatch),
        .double("dropout", \.dropout, in: 0...1, below: 1, resume: .mustMatch),
        RecipeKey("targets", resume: .mustMatch, read: { s, f in
            guard f.value("targets") != nil else { return }
            s.targets = try s.readTargets(f)
            s.stated.keys.insert("targets")
        }, write: { s in .flowList(s.targets.map { Node($0.rawValue) }) }),
    ]

    private func readTargets(_ f: RecipeFields) throws -> [LoRATarget] {
        let names = LoRATarget.available(in: family).map(\.rawValue)
        let targets = try f.list("targets").enumerated().map { i, v in
            let key = f.keyPath("targets") + "[\(i)]"
            guard case let .scalar(text, _, source) = v else {
                throw RecipeError.wrongType(source: v.source, key: key, expected: "a target name", found: v.typeDescription)
            }
            guard let t = LoRATarget(rawValue: text), t.moduleSuffix(in: family) != nil else {
                let reason = LoRATarget(rawValue: text)?.absenceReason(in: family)
                    ?? "\"\(text)\" is not a \(family.rawValue) projection; targets: \(names.joined(separator: ", "))"
                    + (closest(to: text, in: names).map { "; did you mean \($0)?" } ?? "")
                throw RecipeError.invalidValue(source: source, key: key, reason: reason)
            }
            return t
        }
        if targets.isEmpty {
            throw RecipeError.invalidValue(source: f.sourceOf("targets"), key: f.keyPath("targets"),
                                           reason: "is empty; name at least one of \(names.joined(separator: ", "))")
        }
        if Set(targets).count != targets.count {
            throw RecipeError.invalidValue(source: f.sourceOf("targets"), key: f.keyPath("targets"), reason: "names a target twice")
        }
        return targets
    }

    /// Checks that need the model section: LoRA's keys apply only to `method: lora`, which
    /// needs `model.init` (the frozen base) and a rank that fits the model.
    func check(model: ModelSection, _ f: RecipeFields) throws {
        if method == .full {
            for key in ["rank", "alpha", "dropout", "targets"] where f.value(key) != nil {
                throw RecipeError.invalidValue(source: f.sourceOf(key), key: f.keyPath(key),
                                               reason: "applies only to finetune.method lora; set method: lora or remove it")
            }
            return
        }
        if model.initFrom == nil {
            throw RecipeError.invalidValue(source: f.sourceOf("method"), key: "model.init",
                                           reason: "finetune.method lora trains adapters on frozen base weights: set model.init to the base checkpoint (for example one written by `instruct import`)")
        }
        guard let lora = loraConfig else { return }
        let config = model.config(vocabSize: model.vocabSize ?? 1, seqLen: model.contextLength ?? 1)
        for problem in DecoderModel.loraProblems(lora, config: config) {
            let key = problem.contains("rank") ? "rank" : "targets"
            throw RecipeError.invalidValue(source: f.sourceOf(key), key: f.keyPath(key), reason: problem)
        }
    }

    /// The section for a model of `family` (the family `model.init`'s card gives): targets
    /// left to their default become that family's; written ones must exist in it.
    func adapting(to family: ModelFamily, source: String) throws -> FinetuneSection {
        guard family != self.family else { return self }
        var s = self
        s.family = family
        if !stated.keys.contains("targets") {
            s.targets = Self.defaultTargets(family)
        } else if let bad = targets.first(where: { $0.moduleSuffix(in: family) == nil }) {
            throw RecipeError.invalidValue(source: source, key: "finetune.targets",
                                           reason: bad.absenceReason(in: family))
        }
        return s
    }

    /// The adapters' configuration (nil for full fine-tuning).
    public var loraConfig: LoRAConfig? {
        method == .lora ? LoRAConfig(rank: rank, alpha: Float(alpha), dropout: Float(dropout), targets: targets) : nil
    }
}
