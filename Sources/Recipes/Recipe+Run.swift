import Autograd
import Checkpoints
import Datasets
import Evaluation
import Foundation
import Interop
import Models
import NN
import Synth
import Training

extension Recipe {
    /// A whole `instruct train` run, top to bottom like a torchtune recipe: set up (tokenizer,
    /// data, model), start or resume the trainer, measure held-out accuracy before, train
    /// (checkpoints and `eval.samples` at every save), measure after, and write the summary.
    /// `events` receives training progress; `report` one-line notes (data report, where files
    /// went). The command line only shows them.
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
    ///
    /// The run folder is this run's alone while it runs: rank 0 takes its `RunLock` first
    /// (another run on the same `output.dir` is refused, naming the holder) and then removes
    /// what an interrupted save left there (`CheckpointWriter.recoverInterruptedSaves`).
    public func run(resume: String? = nil, shouldStop: () -> Bool = { false }, group: ProcessGroup = .single,
                    events: (TrainingEvent) -> Void, report: (String) -> Void) throws -> RunSummary {
        // Take the run folder.
        let lock = group.isMain ? try RunLock.acquire(runDirectory: URL(fileURLWithPath: output.dir), command: "instruct train \(file)") : nil
        defer { lock?.release() }
        if let lock {
            let recovery = try CheckpointWriter.recoverInterruptedSaves(runDirectory: lock.directory)
            for name in recovery.restored { report("run folder: put back \(name), which an interrupted save had moved aside") }
            if !recovery.removed.isEmpty {
                report("run folder: removed \(recovery.removed.count) leftover(s) of an interrupted save: \(recovery.removed.joined(separator: ", "))")
            }
        }

        // Set up.
        let setup = try setUp()
        let dir = setup.outputDirectory
        report(setup.dataLine)
        report("model: \(setup.model.config.family.rawValue), \(setup.model.parameterCount) parameters, vocabulary \(setup.model.config.vocabSize)")
        if let line = setup.loraLine { report(line) }
        let plan = try setup.memoryPlan(ranks: group.size, rank: group.rank)
        report(setup.memoryLine(plan))
        try checkSameRunOnEveryRank(setup, group: group)
        if group.isMain { try setup.writeRunFiles() }
        let options = trainingOptions
        if setup.data.report.validationExamples == 0, options.keepBest || options.earlyStoppingPatience > 0 {
            let key = options.keepBest ? "training.keep_best" : "training.early_stopping_patience"
            throw RecipeError.invalidValue(
                source: file, key: key,
                reason: "it decides on validation loss and the data has no validation examples; hold some out with `split` on a dataset (data.datasets[i].split: 0.05)")
        }
        if let line = Self.dataParallelLine(group: group, options: options) { report(line) }

        // The trainer: resumed from a checkpoint, or at step 0 from the starting weights.
        var trainer: Trainer
        var resumedFrom: Int? = nil
        var resumedCheckpoint: Checkpoint? = nil
        if let resume {
            let checkpoint = try CheckpointReader.open(try CheckpointDirectory.resolve(resume, runDirectory: dir))
            resumedCheckpoint = checkpoint
            trainer = try resumedTrainer(checkpoint, setup: setup, options: options, group: group, report: report)
            resumedFrom = trainer.step
            report("resuming from \(checkpoint.directory.path) at step \(trainer.step) of \(trainer.totalSteps)")
        } else {
            if let from = model.initFrom { report("model: starting from the weights in \(from)") }
            trainer = try Trainer(model: setup.model, parameters: setup.startingParameters(seed: options.seed),
                                  data: setup.data, options: options, group: group)
        }

        // Held-out accuracy before training (rank 0; not on a resumed run).
        var heldOut: HeldOutEvaluation? = nil
        if let path = eval.synth, resumedFrom != nil {
            report("held-out accuracy is not measured on a resumed run (the starting weights are not the initial ones): \(path)")
        } else if let path = eval.synth, group.isMain {
            heldOut = try HeldOutEvaluation(path: path, limit: eval.synthLimit, maxNewTokens: eval.maxNewTokens, setup: setup,
                                            parameters: trainer.parameters)
            report(String(format: "held-out accuracy before training: %.1f%% of %d (%@)", heldOut!.before.overall.accuracy * 100,
                          heldOut!.records.count, path))
            // Generation's pooled buffers do not fit the training step's shapes: give them back
            // (kept, they would add to every step's resident memory).
            BufferPool.trim()
        }

        // Preference tuning: the reference log-probabilities (computed, cached or resumed) and
        // the held-out reward accuracy at the start.
        var files = try setup.checkpointFiles()
        var pairsBefore: EvalMetrics? = nil
        if let preference {
            files[ReferenceLogProbs.fileName] = try startPreference(preference, trainer: &trainer, setup: setup,
                                                                    resumedFrom: resumedCheckpoint, report: report)
            pairsBefore = try preferenceHeldOut(trainer, label: resumedFrom == nil ? "before training" : "at the resumed step", report: report)
        }

        // Train, saving checkpoints (and eval.samples answers) as the recipe asks.
        let samples = group.isMain ? try eval.samples.map { try CheckpointSamples($0, setup: setup) } : nil
        try samples?.truncate(afterStep: trainer.step)  // as metrics.jsonl: a rerun or resume rewrites later steps
        let keepLast = options.keepLast
        var lastEval: EvalMetrics? = nil  // the loop's last evaluation (a preference run's "after")
        var summary = try trainer.train(directory: dir, title: "\(dir.lastPathComponent): loss", shouldStop: shouldStop,
                                        save: { t in
                                            // The step's pooled buffers go back first: kept, the
                                            // save's read-back of the moments file stacked on them
                                            // (SmolLM2-135M full fine-tuning: +1 GiB at the peak).
                                            // The next step maps them again, once per save.
                                            BufferPool.trim()
                                            let url = try t.saveCheckpoint(in: dir, extraFiles: files, keepLast: keepLast)
                                            try samples?.append(step: t.step, parameters: t.parameters)
                                            return url
                                        },
                                        events: { event in
                                            if case let .eval(m) = event { lastEval = m }
                                            events(event)
                                        })
        // The planner's estimate beside the peak so far (the held-out evaluation after this
        // uses less: its buffers are smaller and the pool is emptied first).
        let peak = Double(MemoryStats.peakResidentBytes())
        summary.estimatedPeakMiB = plan.peak / 1_048_576
        summary.peakResidentMiB = peak / 1_048_576
        report(String(format: "memory: peak resident %@, estimated %@ (%+.1f%%)", MemoryStats.format(peak),
                      MemoryStats.format(plan.peak), (plan.peak / peak - 1) * 100))
        // The training step's pooled buffers do not fit the evaluation's shapes: give them back.
        BufferPool.trim()
        if let checkpoint = summary.checkpoint { report("checkpoint: \(checkpoint)") }
        summary.recipe = file
        summary.resumedFrom = resumedFrom
        if preference != nil, !summary.stopped,
           let after = try preferenceHeldOut(trainer, label: "after training", known: lastEval?.step == trainer.step && options.evalBatches == 0 ? lastEval : nil,
                                             report: report) {
            summary.rewardAccuracyBefore = pairsBefore?.preference?.rewardsAccuracies
            summary.rewardAccuracyAfter = after.preference?.rewardsAccuracies
        }
        if options.keepBest, summary.bestCheckpoint == nil {
            // Kept before a resume and not beaten since.
            summary.bestCheckpoint = (try? CheckpointDirectory.best(runDirectory: dir))?.path
        }

        // Held-out accuracy after training.
        if var heldOut, !summary.stopped {
            try heldOut.measureAfter(setup: setup, parameters: trainer.parameters,
                                     responsesFile: dir.appendingPathComponent("synth_responses.jsonl"))
            heldOut.fill(&summary)
            heldOut.report(report)
        }

        // The summary.
        guard group.isMain else { return summary }
        try RunFiles.writeJSON(summary, to: dir.appendingPathComponent(dir.lastPathComponent + ".json"))
        report("run folder: \(dir.path)")
        return summary
    }

    /// The trainer saved in `checkpoint`, after checking that the checkpoint's recipe and
    /// data are this run's (see `RecipeResume`).
    func resumedTrainer(_ checkpoint: Checkpoint, setup: Setup, options: TrainingOptions, group: ProcessGroup,
                        report: (String) -> Void) throws -> Trainer {
        let saved = try Recipe.decode(yaml: String(decoding: try checkpoint.data("recipe.yaml"), as: UTF8.self),
                                      file: checkpoint.directory.appendingPathComponent("recipe.yaml").path)
        let state = try TrainerState.read(from: checkpoint)
        // Both with model.init's shape and tokenizer filled in, as the checkpoint stores it.
        let check = RecipeResume.compare(saved: saved, current: setup.recipe, savedDataFingerprint: state.dataCursor.dataFingerprint,
                                         currentDataFingerprint: setup.data.fingerprint)
        if !check.refused.isEmpty { throw TrainingError.resumeMismatch(check.refused) }
        report(check.changes.isEmpty ? "resume: the recipe is unchanged since the checkpoint"
                                     : "resume: changed since the checkpoint (allowed): " + check.changes.joined(separator: "; "))
        var base: Parameters? = nil
        if setup.model.lora != nil {
            // The base the adapters were trained on, checked by SHA-256 (not the recipe's
            // model.init as it is now: that path could hold other weights by now).
            let tensors = try LoRAFiles.readBase(try LoRAFiles.identity(of: checkpoint), for: checkpoint.directory.path)
            base = Parameters(tensors.entries.map { ($0.name, $0.tensor) })
        }
        return try Trainer.resume(from: checkpoint, model: setup.model, data: setup.data, options: options, base: base, group: group)
    }

    /// Data parallel: every rank must train the same resolved recipe (overrides included) on
    /// the same prepared data, or their weights part at the first step. Compares a hash of
    /// both over all ranks (collective) and names the ranks that differ from rank 0.
    /// Per-rank keys (`training.threads`) may differ (machines with other core counts): they
    /// only change how a rank computes its own share, and every rank then applies the same
    /// summed gradient with kernels whose results do not depend on the thread count.
    func checkSameRunOnEveryRank(_ setup: Setup, group: ProcessGroup) throws {
        guard group.isDistributed else { return }
        let hashes = try group.allgather([setup.recipe.rankHash(dataFingerprint: setup.data.fingerprint)]).map { $0[0] }
        let differing = hashes.indices.filter { hashes[$0] != hashes[0] }
        if !differing.isEmpty {
            throw TrainingError.distributed(
                "rank(s) \(differing.map(String.init).joined(separator: ", ")) run another resolved recipe or other data than rank 0; "
                    + "launch every rank with the same recipe, overrides and data files (the same paths on every machine)")
        }
    }

    /// The data-parallel note: ranks, rows per rank, threads, and a warning when the ranks
    /// oversubscribe the cores. Nil for one process.
    static func dataParallelLine(group: ProcessGroup, options: TrainingOptions) -> String? {
        guard group.isDistributed else { return nil }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var line = "data parallel: \(group.size) ranks, \(options.microBatchSize) rows each per micro-batch "
            + "(global batch \(options.microBatchSize * group.size) rows), \(options.threads) BLAS thread(s) per rank"
        if group.localSize * options.threads > cores {
            line += "\nwarning: \(group.localSize) ranks x \(options.threads) threads on a machine with \(cores) cores; "
                + "set training.threads=\(max(1, cores / group.localSize)) to avoid oversubscribing the cores"
        }
        return line
    }
}

extension Recipe.Setup {
    /// The data report line: records, examples, rows and packing.
    var dataLine: String {
        let r = data.report
        return "data: \(r.records) records, \(r.examples - r.validationExamples) train / \(r.validationExamples) validation examples, "
            + "\(r.skipped) skipped, \(r.dropped) dropped, \(r.truncated) truncated; \(r.rows) rows of \(data.seqLen), "
            + String(format: "packing %.1f%%", r.packingEfficiency * 100)
    }

    /// The LoRA line (rank, alpha, targets, trainable share); nil for full fine-tuning.
    var loraLine: String? {
        guard let lora = model.lora else { return nil }
        let n = model.adapterShapes.reduce(0) { $0 + Tensor.elementCount($1.shape) }
        return "lora: rank \(lora.settings.rank), alpha \(lora.settings.alpha), targets \(lora.targets.map(\.rawValue).joined(separator: ", ")); "
            + "\(n) trainable parameters (\(String(format: "%.2f", 100 * Double(n) / Double(model.parameterCount)))% of the base, which is frozen)"
    }

    /// The files every checkpoint of the run carries besides the trainer's: the resolved
    /// recipe, the model card, the tokenizer and, with LoRA, the base's identity.
    func checkpointFiles() throws -> [String: Data] {
        var files: [String: Data] = ["recipe.yaml": Data(recipe.resolvedYAML().utf8), ModelCard.fileName: try card.encoded()]
        if let json = tokenizerJSON { files["tokenizer.json"] = Data(json.utf8) }
        if let identity = try baseIdentity() { files[LoRAFiles.base] = try JSONFile.encode(identity) }
        return files
    }

    /// Writes the resolved recipe and the tokenizer into the run directory.
    func writeRunFiles() throws {
        let dir = outputDirectory
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try Data(recipe.resolvedYAML().utf8).write(to: dir.appendingPathComponent("recipe.resolved.yaml"), options: .atomic)
            if let json = tokenizerJSON {
                try Data(json.utf8).write(to: dir.appendingPathComponent("tokenizer.json"), options: .atomic)
            }
        } catch {
            throw TrainingError.io(path: dir.path, reason: "cannot write the run folder (\(error.localizedDescription)); check output.dir and free disk space")
        }
    }
}

/// `eval.synth`: greedy answers to held-out verifiable records, scored before and after training.
struct HeldOutEvaluation {
    var records: [SynthRecord]
    let maxNewTokens: Int
    var before: SynthScore
    var after: SynthScore?
    var seconds: Double

    /// Reads the records (at most `limit` when positive) and scores the starting weights.
    init(path: String, limit: Int, maxNewTokens: Int, setup: Recipe.Setup, parameters: Parameters) throws {
        records = try SynthFiles.load(path: path)
        if limit > 0 { records = Array(records.prefix(limit)) }
        self.maxNewTokens = maxNewTokens
        let t0 = Date()
        before = try SynthEvaluation.evaluate(model: setup.model, parameters: parameters, encoder: setup.promptEncoder,
                                              card: setup.card, records: records, maxNewTokens: maxNewTokens).score
        seconds = Date().timeIntervalSince(t0)
    }

    /// Scores the trained weights and writes every answer and its verdict to `responsesFile`.
    mutating func measureAfter(setup: Recipe.Setup, parameters: Parameters, responsesFile: URL) throws {
        let t0 = Date()
        let (score, responses) = try SynthEvaluation.evaluate(model: setup.model, parameters: parameters, encoder: setup.promptEncoder,
                                                              card: setup.card, records: records, maxNewTokens: maxNewTokens)
        seconds += Date().timeIntervalSince(t0)
        after = score
        let lines = try zip(records, responses).map { r, answer in
            try RunFiles.jsonLine(["instruction": r.instruction, "input": r.input, "expected": r.output, "family": r.family.rawValue,
                                   "response": answer, "passed": SynthChecker.score(r, response: answer, formats: IFEvalFormats())])
        }
        try RunFiles.write(lines.joined(), to: responsesFile)
    }

    /// The accuracy fields of the run summary.
    func fill(_ summary: inout RunSummary) {
        guard let after else { return }
        summary.accuracyBefore = before.overall.accuracy
        summary.accuracyAfter = after.overall.accuracy
        summary.evalSeconds = seconds
        var per: [String: RunSummary.FamilyAccuracy] = [:]
        for f in after.families {
            per[f.family.rawValue] = .init(before: before.tally(f.family)?.accuracy ?? 0, after: f.tally.accuracy, examples: f.tally.total)
        }
        summary.perFamily = per
    }

    /// The after-training lines: overall, then one per family.
    func report(_ report: (String) -> Void) {
        guard let after else { return }
        report(String(format: "held-out accuracy after training: %.1f%% (before %.1f%%)", after.overall.accuracy * 100,
                      before.overall.accuracy * 100))
        for f in after.families {
            let name = f.family.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
            report("  " + name + String(format: " %5.1f%%  (before %5.1f%%, %d examples)",
                                        f.tally.accuracy * 100, (before.tally(f.family)?.accuracy ?? 0) * 100, f.tally.total))
        }
    }
}

/// Small files of a run folder: JSON lines and the summary, written atomically.
enum RunFiles {
    /// One JSON object as a line (keys sorted, slashes unescaped), newline included.
    static func jsonLine(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]),
               as: UTF8.self) + "\n"
    }

    static func write(_ text: String, to url: URL) throws {
        do {
            try Data(text.utf8).write(to: url, options: .atomic)
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
