import Checkpoints
import Datasets
import Foundation
import Models
import NN
import Training
import Yams

/// `preference:` — preference tuning (DPO, IPO) instead of supervised fine-tuning: the data
/// are `{prompt, chosen, rejected}` pairs, the reference is the starting weights (`model.init`;
/// with LoRA the base with adapters off), and each step lowers the preference loss.
///
///     preference:
///       loss: sigmoid          # DPO; or ipo
///       beta: 0.1
///       label_smoothing: 0     # cDPO, sigmoid only
///       rpo_alpha: 0           # + alpha x the chosen answer's mean NLL (RPO; 0 is off)
///       prompt_overflow: truncate_left   # or drop
///
/// A section of its own, not a `finetune` kind: it composes with `finetune: full|lora`
/// unchanged (what is trained and what the objective is are separate choices), and its
/// absence keeps every supervised recipe as it was.
public struct PreferenceSection: Equatable, Sendable, RecipeSection, CheckedSection {
    /// Loss, beta, label smoothing (defaults TRL's: sigmoid, 0.1, 0).
    public var options = PreferenceOptions()
    /// Pairs that do not fit a row (default truncate_left, TRL's keep_end).
    public var promptOverflow = PromptOverflow.truncateLeft

    /// The defaults.
    public init() {}

    static let keys: [RecipeKey<PreferenceSection>] = [
        // Another objective is another run; the reference table does not depend on it.
        .choice("loss", \.options.loss, resume: .mustMatch),
        // Hyper-parameters of the loss, like training.lr: may change on resume (reported).
        .double("beta", \.options.beta, in: 1e-6...1e6),
        .double("label_smoothing", \.options.labelSmoothing, in: 0...0.5, below: 0.5),
        .double("rpo_alpha", \.options.rpoAlpha, in: 0...1e6),
        // Changes the rows (and so the data fingerprint and the reference table).
        .choice("prompt_overflow", \.promptOverflow, resume: .mustMatch),
    ]

    func check(_ f: RecipeFields) throws {
        if options.loss == .ipo && options.labelSmoothing != 0 {
            throw RecipeError.invalidValue(source: f.sourceOf("label_smoothing"), key: f.keyPath("label_smoothing"),
                                           reason: "label smoothing applies to the sigmoid (DPO) loss only; remove it or set loss: sigmoid")
        }
    }
}

extension Recipe {
    /// Makes `trainer` a preference trainer: the reference log-probabilities of every pair come
    /// from the checkpoint it resumes (so a resume uses the values the run started with), else
    /// from the data cache (key: SHA-256 of the data fingerprint and the starting weights'
    /// identity), else are computed now from the starting weights (LoRA: the base, adapters
    /// off) and cached. Returns the table's JSON, which every checkpoint of the run carries.
    func startPreference(_ section: PreferenceSection, trainer: inout Trainer, setup: Setup, resumedFrom checkpoint: Checkpoint?,
                         report: (String) -> Void) throws -> Data {
        let table: ReferenceLogProbs
        if let checkpoint {
            let name = ReferenceLogProbs.fileName
            guard checkpoint.contains(name) else {
                throw TrainingError.resumeMismatch(["\(checkpoint.directory.path) has no \(name): it was not saved by a preference run"])
            }
            do {
                table = try JSONDecoder().decode(ReferenceLogProbs.self, from: try checkpoint.data(name))
            } catch let e as CheckpointError {
                throw e
            } catch {
                throw TrainingError.invalidState(path: checkpoint.directory.appendingPathComponent(name).path, reason: "\(error)")
            }
            if table.dataFingerprint != setup.data.fingerprint {
                throw TrainingError.resumeMismatch(["the checkpoint's reference log-probabilities belong to data \(table.dataFingerprint.prefix(12)), "
                    + "this run's data is \(setup.data.fingerprint.prefix(12))"])
            }
            report("preference: \(table.pairs.count) reference pairs from the checkpoint")
        } else {
            let adapters = Set(setup.model.adapterShapes.filter { trainer.parameters.contains($0.name) }.map(\.name))
            let identity = ReferenceLogProbs.weightsIdentity(trainer.parameters, excluding: adapters)
            let key = DataFingerprint.hex(DataFingerprint.sha256(Array("\(setup.data.fingerprint)\u{0}\(identity)".utf8)))
            let cacheFile = dataConfig.cacheDirectory.map { URL(fileURLWithPath: $0).appendingPathComponent(key + ".reflogps.json") }
            if let cacheFile, let data = try? Data(contentsOf: cacheFile),
               let cached = try? JSONDecoder().decode(ReferenceLogProbs.self, from: data),
               cached.dataFingerprint == setup.data.fingerprint, cached.weightsIdentity == identity {
                table = cached
                report("preference: \(table.pairs.count) reference pairs from the cache (\(cacheFile.lastPathComponent))")
            } else {
                let t0 = Date()
                let base = setup.model.withoutAdapters
                var p = trainer.parameters
                if !adapters.isEmpty { p = Parameters(p.pairs.filter { !adapters.contains($0.name) }.map { ($0.name, $0.tensor) }) }
                var computed = try ReferenceLogProbs.compute(model: base, parameters: p, data: setup.data,
                                                             batchSize: trainingOptions.microBatchSize)
                computed.weightsIdentity = identity
                table = computed
                report(String(format: "preference: reference log-probabilities of %d pairs computed in %.1f s (the starting weights%@)",
                              table.pairs.count, Date().timeIntervalSince(t0), adapters.isEmpty ? "" : ", adapters off"))
                if let cacheFile {
                    // A cache: a failure to write it costs the next run the same pass, nothing else.
                    try? FileManager.default.createDirectory(at: cacheFile.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try? JSONEncoder().encode(table).write(to: cacheFile, options: .atomic)
                }
            }
        }
        trainer.preference = PreferenceRun(options: section.options, reference: table)
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return try e.encode(table)
    }
}

extension Recipe {
    /// Preference runs: the validation pairs' loss and reward accuracy with the trainer's
    /// weights (`known` when the loop just measured them at this step), reported as `label`
    /// and returned; nil without validation pairs.
    func preferenceHeldOut(_ trainer: Trainer, label: String, known: EvalMetrics? = nil,
                           report: (String) -> Void) throws -> EvalMetrics? {
        guard let m = try known ?? trainer.evaluate(), let p = m.preference else { return nil }
        report(String(format: "held-out reward accuracy %@: %.1f%% of %d pairs (loss %.4f, margin %.4f)", label,
                      p.rewardsAccuracies * 100, p.pairs, m.evalLoss, p.rewardsMargins))
        return m
    }
}
