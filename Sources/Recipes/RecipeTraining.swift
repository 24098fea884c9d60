import Autograd
import Checkpoints
import Datasets
import Foundation
import Models
import NN
import Training

/// A whole `instruct train` run, top to bottom: resolve the recipe, write the run folder's
/// fixed files, train, and summarise. The command line only shows events and lines.
public enum RecipeTraining {
    /// What a run leaves in `NAME.json` in its directory.
    public struct Summary: Codable, Sendable {
        public var recipe: String
        public var steps: Int
        public var tokens: Int
        public var trainedTokens: Int
        public var trainSeconds: Double
        public var finalLoss: Double?
        public var finalEvalLoss: Double?
        public var parameters: Int
        /// Held-out accuracy on `eval.synth` before and after training (nil without it).
        public var accuracyBefore: Double?
        public var accuracyAfter: Double?
        /// Per family: accuracy before and after, and the number of examples.
        public var perFamily: [String: FamilyAccuracy]?
        public var evalSeconds: Double?
        /// The step this run resumed from (nil for a fresh run).
        public var resumedFrom: Int?
        /// Whether the run stopped early on request (Ctrl-C); resume it with `--resume`.
        public var stopped: Bool?
        /// The last checkpoint directory written.
        public var checkpoint: String?
        /// Data-parallel ranks (nil for one process).
        public var ranks: Int?
        /// Data parallel: mean seconds per step spent in the gradient all-reduce, and waiting
        /// for the slowest rank before it (rank 0's).
        public var allreduceSecondsPerStep: Double?
        public var rankWaitSecondsPerStep: Double?

        enum CodingKeys: String, CodingKey {
            case recipe, steps, tokens, trainedTokens = "trained_tokens", trainSeconds = "train_seconds"
            case finalLoss = "final_loss", finalEvalLoss = "final_eval_loss", parameters
            case accuracyBefore = "accuracy_before", accuracyAfter = "accuracy_after", perFamily = "per_family"
            case evalSeconds = "eval_seconds", resumedFrom = "resumed_from", stopped, checkpoint
            case ranks, allreduceSecondsPerStep = "allreduce_s_per_step", rankWaitSecondsPerStep = "rank_wait_s_per_step"
        }
    }

    /// One task family's held-out accuracy.
    public struct FamilyAccuracy: Codable, Sendable {
        public var before: Double
        public var after: Double
        public var examples: Int
    }

    /// Runs `recipe`. `events` receives training progress; `report` receives one-line notes
    /// (data report, where files went).
    ///
    /// `resume` (`latest`, a run directory or a checkpoint directory, resolved against the
    /// recipe's `output.dir`) continues a saved run exactly: the checkpoint is verified
    /// against its manifest, its recipe compared with this one (`RecipeResume`: unsafe
    /// differences throw `TrainingError.resumeMismatch`, allowed ones are reported), and
    /// metrics.jsonl is cut back to the checkpoint's step. `shouldStop` is polled between
    /// optimizer steps; when it returns true the run saves a checkpoint and returns with
    /// `stopped` set (no held-out evaluation then).
    ///
    /// Data parallel (`group` of several ranks, started by mpirun): every rank prepares the
    /// same data and model and trains its share of each batch; rank 0 alone writes the run
    /// folder, metrics, checkpoints and the summary, and alone runs the held-out `eval.synth`
    /// (the other ranks wait for it at their next step). Every rank resumes from the same
    /// checkpoint, so `output.dir` must be readable by all of them (docs/distributed.md).
    public static func run(_ recipe: Recipe, resume: String? = nil, shouldStop: () -> Bool = { false },
                           group: ProcessGroup = .single,
                           events: (TrainingEvent) -> Void, report: (String) -> Void) throws -> Summary {
        let plan = try RunPlan.prepare(recipe)
        let dir = plan.outputDirectory
        let r = plan.data.report
        report("data: \(r.records) records, \(r.examples) train / \(r.validationExamples) validation examples, "
               + "\(r.skipped) skipped, \(r.dropped) dropped, \(r.truncated) truncated; \(r.rows) rows of \(plan.data.seqLen), "
               + String(format: "packing %.1f%%", r.packingEfficiency * 100))
        report("model: \(plan.model.config.family.rawValue), \(plan.model.parameterCount) parameters, vocabulary \(plan.model.config.vocabSize)")
        if let lora = plan.model.lora {
            let n = plan.model.adapterShapes.reduce(0) { $0 + Tensor.elementCount($1.shape) }
            report("lora: rank \(lora.settings.rank), alpha \(lora.settings.alpha), targets \(lora.targets.map(\.rawValue).joined(separator: ", ")); "
                   + "\(n) trainable parameters (\(String(format: "%.2f", 100 * Double(n) / Double(plan.model.parameterCount)))% of the base, which is frozen)")
        }
        try checkSameRunOnEveryRank(plan, group: group)
        if group.isMain { try writeRunFiles(plan) }
        let options = recipe.trainingOptions
        if group.isDistributed {
            let cores = ProcessInfo.processInfo.activeProcessorCount
            report("data parallel: \(group.size) ranks, \(options.microBatchSize) rows each per micro-batch "
                   + "(global batch \(options.microBatchSize * group.size) rows), \(options.threads) BLAS thread(s) per rank")
            if group.localSize * options.threads > cores {
                report("warning: \(group.localSize) ranks x \(options.threads) threads on a machine with \(cores) cores; "
                       + "set training.threads=\(max(1, cores / group.localSize)) to avoid oversubscribing the cores")
            }
        }
        var trainer: Trainer
        var resumedFrom: Int? = nil
        if let resume {
            let url = try CheckpointDirectory.resolve(resume, runDirectory: dir)
            let checkpoint = try CheckpointReader.open(url)
            trainer = try resumedTrainer(checkpoint, plan: plan, options: options, group: group, report: report)
            resumedFrom = trainer.step
            report("resuming from \(url.path) at step \(trainer.step) of \(trainer.totalSteps)")
        } else {
            if let from = recipe.model.initFrom { report("model: starting from the weights in \(from)") }
            trainer = try Trainer(model: plan.model, parameters: plan.startingParameters(seed: options.seed),
                                  data: plan.data, options: options, group: group)
        }
        let name = dir.lastPathComponent
        var synthRecords: [SynthRecord] = []
        var before: SynthScore? = nil
        var evalSeconds = 0.0
        if let path = recipe.eval.synth, resumedFrom != nil {
            report("held-out accuracy is not measured on a resumed run (the starting weights are not the initial ones): \(path)")
        } else if let path = recipe.eval.synth, group.isMain {
            synthRecords = try SynthFiles.load(path: path)
            if recipe.eval.synthLimit > 0 { synthRecords = Array(synthRecords.prefix(recipe.eval.synthLimit)) }
            let t0 = Date()
            before = try SynthEvaluation.evaluate(model: plan.model, parameters: trainer.parameters, encoder: plan.promptEncoder(),
                                                  records: synthRecords, maxNewTokens: recipe.eval.maxNewTokens).score
            evalSeconds += Date().timeIntervalSince(t0)
            report(String(format: "held-out accuracy before training: %.1f%% of %d (%@)", before!.overall.accuracy * 100,
                          synthRecords.count, path))
        }
        var extra: [String: Data] = ["recipe.yaml": Data(recipe.resolvedYAML().utf8),
                                     ModelExport.modelConfigFile: try ModelExport.encode(plan.model.config)]
        if let json = plan.tokenizerJSON { extra["tokenizer.json"] = Data(json.utf8) }
        if let identity = try plan.baseIdentity() { extra[LoRABase.baseFile] = try LoRABase.encode(identity) }
        let keepLast = options.keepLast
        // eval.samples: answers to a fixed prompt set at every checkpoint (RUN/samples.jsonl).
        // Rank 0 alone writes them, as it alone writes the checkpoints.
        let samples = group.isMain ? try recipe.eval.samples.map { try CheckpointSamples($0, plan: plan) } : nil
        try samples?.truncate(afterStep: trainer.step)  // as metrics.jsonl: a rerun or resume rewrites later steps
        let result = try TrainingRun.run(&trainer, directory: dir, title: "\(name): loss", shouldStop: shouldStop,
                                         save: { t in
                                             let url = try t.saveCheckpoint(in: dir, extraFiles: extra, keepLast: keepLast)
                                             try samples?.append(step: t.step, parameters: t.parameters)
                                             return url
                                         },
                                         events: events)
        // The training step's pooled buffers do not fit the evaluation's shapes: give them back.
        BufferPool.trim()
        if let checkpoint = result.checkpoint { report("checkpoint: \(checkpoint.path)") }
        var summary = Summary(recipe: recipe.file, steps: result.steps, tokens: result.tokens, trainedTokens: result.trainedTokens,
                              trainSeconds: result.seconds, finalLoss: result.finalLoss, finalEvalLoss: result.finalEvalLoss,
                              parameters: plan.model.parameterCount)
        summary.resumedFrom = resumedFrom
        summary.stopped = result.stopped
        summary.checkpoint = result.checkpoint?.path
        if group.isDistributed {
            summary.ranks = group.size
            summary.allreduceSecondsPerStep = (result.allreduceSeconds ?? 0) / Double(max(result.stepsThisRun, 1))
            summary.rankWaitSecondsPerStep = (result.rankWaitSeconds ?? 0) / Double(max(result.stepsThisRun, 1))
        }
        if let before, !result.stopped {
            let t0 = Date()
            let (after, responses) = try SynthEvaluation.evaluate(model: plan.model, parameters: trainer.parameters,
                                                                  encoder: plan.promptEncoder(), records: synthRecords,
                                                                  maxNewTokens: recipe.eval.maxNewTokens)
            evalSeconds += Date().timeIntervalSince(t0)
            try writeResponses(synthRecords, responses, to: dir.appendingPathComponent("synth_responses.jsonl"))
            summary.accuracyBefore = before.overall.accuracy
            summary.accuracyAfter = after.overall.accuracy
            summary.evalSeconds = evalSeconds
            var per: [String: FamilyAccuracy] = [:]
            for f in after.families {
                per[f.family.rawValue] = FamilyAccuracy(before: before.tally(f.family)?.accuracy ?? 0,
                                                        after: f.tally.accuracy, examples: f.tally.total)
            }
            summary.perFamily = per
            report(String(format: "held-out accuracy after training: %.1f%% (before %.1f%%)", after.overall.accuracy * 100,
                          before.overall.accuracy * 100))
            for f in after.families {
                let name = f.family.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
                report("  " + name + String(format: " %5.1f%%  (before %5.1f%%, %d examples)",
                                            f.tally.accuracy * 100, (before.tally(f.family)?.accuracy ?? 0) * 100, f.tally.total))
            }
        }
        guard group.isMain else { return summary }
        try writeJSON(summary, to: dir.appendingPathComponent(name + ".json"))
        report("run folder: \(dir.path)")
        return summary
    }

    /// The trainer saved in `checkpoint`, after checking that the checkpoint's recipe and
    /// data are this run's (see `RecipeResume`).
    static func resumedTrainer(_ checkpoint: Checkpoint, plan: RunPlan, options: TrainingOptions,
                               group: ProcessGroup = .single, report: (String) -> Void) throws -> Trainer {
        let recipeURL = checkpoint.directory.appendingPathComponent("recipe.yaml")
        let saved = try Recipe.decode(yaml: String(decoding: try checkpoint.data("recipe.yaml"), as: UTF8.self),
                                      file: recipeURL.path)
        let state = try TrainerState.read(from: checkpoint)
        let check = RecipeResume.compare(saved: saved, current: plan.recipe, savedDataFingerprint: state.dataCursor.dataFingerprint,
                                         currentDataFingerprint: plan.data.fingerprint)
        if !check.refused.isEmpty { throw TrainingError.resumeMismatch(check.refused) }
        report(check.changes.isEmpty ? "resume: the recipe is unchanged since the checkpoint"
                                     : "resume: changed since the checkpoint (allowed): " + check.changes.joined(separator: "; "))
        var base: Parameters? = nil
        if plan.model.lora != nil {
            // The base the adapters were trained on, checked by SHA-256 (not the recipe's
            // model.init as it is now: that path could hold other weights by now).
            base = try LoRABase.loadBase(try LoRABase.identity(of: checkpoint), for: checkpoint.directory.path)
        }
        return try Trainer.resume(from: checkpoint, model: plan.model, data: plan.data, options: options, base: base, group: group)
    }

    /// Data parallel: every rank must train the same resolved recipe (overrides included) on
    /// the same prepared data, or their weights part at the first step. Compares a hash of
    /// both over all ranks (collective) and names the ranks that differ from rank 0.
    /// `training.threads` may differ (machines with other core counts): it only changes how
    /// a rank computes its own share, and every rank then applies the same summed gradient
    /// with kernels whose results do not depend on the thread count.
    static func checkSameRunOnEveryRank(_ plan: RunPlan, group: ProcessGroup) throws {
        guard group.isDistributed else { return }
        let recipe = plan.recipe.resolvedYAML().split(separator: "\n").filter { !$0.hasPrefix("  threads:") }
            .joined(separator: "\n")
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in (recipe + "\u{0}" + plan.data.fingerprint).utf8 {
            h = (h ^ UInt64(byte)) &* 0x100_0000_01B3
        }
        let hashes = try group.allgather([h]).map { $0[0] }
        let differing = hashes.indices.filter { hashes[$0] != hashes[0] }
        if !differing.isEmpty {
            throw TrainingError.distributed(
                "rank(s) \(differing.map(String.init).joined(separator: ", ")) run another resolved recipe or other data than rank 0; "
                    + "launch every rank with the same recipe, overrides and data files (the same paths on every machine)")
        }
    }

    /// Writes the resolved recipe and the tokenizer into the run directory.
    static func writeRunFiles(_ plan: RunPlan) throws {
        let dir = plan.outputDirectory
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try Data(plan.recipe.resolvedYAML().utf8).write(to: dir.appendingPathComponent("recipe.resolved.yaml"), options: .atomic)
            if let json = plan.tokenizerJSON {
                try Data(json.utf8).write(to: dir.appendingPathComponent("tokenizer.json"), options: .atomic)
            }
        } catch {
            throw TrainingError.io(path: dir.path, reason: "cannot write the run folder (\(error.localizedDescription)); check output.dir and free disk space")
        }
    }

    /// One line per held-out record: prompt parts, the model's answer and the verdict.
    static func writeResponses(_ records: [SynthRecord], _ responses: [String], to url: URL) throws {
        var out = ""
        for (r, answer) in zip(records, responses) {
            let line: [String: Any] = ["instruction": r.instruction, "input": r.input, "expected": r.output,
                                       "family": r.family.rawValue, "response": answer,
                                       "passed": SynthChecker.score(r, response: answer)]
            let data = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
            out += String(decoding: data, as: UTF8.self) + "\n"
        }
        do {
            try Data(out.utf8).write(to: url, options: .atomic)
        } catch {
            throw TrainingError.io(path: url.path, reason: "cannot write (\(error.localizedDescription))")
        }
    }

    static func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try e.encode(value).write(to: url, options: .atomic)
        } catch {
            throw TrainingError.io(path: url.path, reason: "cannot write (\(error.localizedDescription))")
        }
    }
}
