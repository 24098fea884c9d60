import Autograd
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

        enum CodingKeys: String, CodingKey {
            case recipe, steps, tokens, trainedTokens = "trained_tokens", trainSeconds = "train_seconds"
            case finalLoss = "final_loss", finalEvalLoss = "final_eval_loss", parameters
        }
    }

    /// Runs `recipe`. `events` receives training progress; `report` receives one-line notes
    /// (data report, where files went).
    public static func run(_ recipe: Recipe, events: (TrainingEvent) -> Void, report: (String) -> Void) throws -> Summary {
        let plan = try RunPlan.prepare(recipe)
        let dir = plan.outputDirectory
        let r = plan.data.report
        report("data: \(r.records) records, \(r.examples) train / \(r.validationExamples) validation examples, "
               + "\(r.skipped) skipped, \(r.dropped) dropped, \(r.truncated) truncated; \(r.rows) rows of \(plan.data.seqLen), "
               + String(format: "packing %.1f%%", r.packingEfficiency * 100))
        report("model: \(plan.model.config.family.rawValue), \(plan.model.parameterCount) parameters, vocabulary \(plan.model.config.vocabSize)")
        try writeRunFiles(plan)
        let options = recipe.trainingOptions
        var trainer = try Trainer(model: plan.model, parameters: Trainer.initialParameters(plan.model, seed: options.seed),
                                  data: plan.data, options: options)
        let name = dir.lastPathComponent
        let result = try TrainingRun.run(&trainer, directory: dir, title: "\(name): loss", events: events)
        let summary = Summary(recipe: recipe.file, steps: result.steps, tokens: result.tokens, trainedTokens: result.trainedTokens,
                              trainSeconds: result.seconds, finalLoss: result.finalLoss, finalEvalLoss: result.finalEvalLoss,
                              parameters: plan.model.parameterCount)
        try writeJSON(summary, to: dir.appendingPathComponent(name + ".json"))
        report("run folder: \(dir.path)")
        return summary
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
