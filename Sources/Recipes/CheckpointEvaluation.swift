import Autograd
import Datasets
import Foundation
import Models
import NN
import Tokenizers
import Training

/// Validation loss on a data file, and greedy responses to its prompts, for a loaded
/// checkpoint (`instruct eval`).
extension LoadedModel {
    /// Loss and perplexity over every example of one data file.
    public struct LossReport: Codable, Sendable, Equatable {
        public var path: String
        /// Records read, examples kept after the length policy, packed rows.
        public var records: Int
        public var examples: Int
        public var rows: Int
        public var skipped: Int
        public var dropped: Int
        public var truncated: Int
        /// Targets counted in the mean (the trained tokens, as in training).
        public var tokens: Int
        /// Mean cross-entropy in nats per counted target, and exp of it.
        public var loss: Double
        public var perplexity: Double
    }

    /// The recipe's data settings (template, system prompt, columns, format, seq_len,
    /// packing, masks, length policy) applied to `path` alone, with no validation split
    /// and no cache. Without a template in the recipe, the one training used (`encoder`).
    public func dataConfig(evaluating path: String) -> DataConfig {
        var config = recipe.dataConfig
        let first = config.datasets[0]
        config.datasets = [DatasetSpec(path: path, format: first.format, columns: first.columns, template: first.template ?? encoder.template,
                                       weight: 1, validationFraction: 0, systemPrompt: first.systemPrompt)]
        config.cacheDirectory = nil
        return config
    }

    /// `path` prepared exactly as training prepares a dataset, with every row moved to the
    /// validation split (so a `Trainer` or `DataLoader(split: .validation)` reads them all).
    public func evaluationData(path: String) throws -> PreparedData {
        var data = try DataPipeline.prepare(dataConfig(evaluating: path), tokenizer: tokenizer)
        for i in data.datasets.indices {
            data.datasets[i].validation = data.datasets[i].train
            data.datasets[i].validationPlan = data.datasets[i].trainPlan
        }
        return data
    }

    /// Mean loss over every trained target of `path`, in batches of `batchSize` rows
    /// (default: the recipe's micro-batch size). The same tokens, masks and packing as
    /// training; summed in Float per batch and in Double across batches, as
    /// `Trainer.evaluate` does, so the two agree to float rounding.
    public func evaluateLoss(path: String, batchSize: Int? = nil) throws -> LossReport {
        let data = try evaluationData(path: path)
        var loader = try DataLoader(data: data, batchSize: batchSize ?? recipe.trainingOptions.microBatchSize, split: .validation)
        var sum = 0.0, count = 0
        while let batch = loader.next() {
            let (s, c) = model.loss(tokens: batch.tokens, targets: batch.targets, positions: batch.positions,
                                    segmentIDs: batch.segmentIDs, batch: batch.rowCount, time: batch.seqLen,
                                    parameters: parameters)
            sum += Double(s.scalar)
            count += c
        }
        let r = data.report
        guard count > 0 else {
            throw DatasetError.noExamples(path: path, reason: "no trained target tokens to score")
        }
        let mean = sum / Double(count)
        return LossReport(path: path, records: r.records, examples: r.examples, rows: data.rowCount(.validation),
                          skipped: r.skipped, dropped: r.dropped, truncated: r.truncated, tokens: count,
                          loss: mean, perplexity: exp(mean))
    }

    /// An encoder for prompts in `template` that cuts a chat before its last assistant turn.
    public func promptEncoder(template: TemplateKind? = nil) throws -> ExampleEncoder {
        try ExampleEncoder(tokenizer: tokenizer, template: template ?? encoder.template, systemPrompt: encoder.systemPrompt,
                           trainOnInput: false, scope: .lastAssistant)
    }

    /// One record of a data file and the model's answer to its prompt.
    public struct Response: Sendable {
        public var record: Record
        public var response: String
        public var stopReason: StopReason
    }

    /// Greedy answers to every record of `path` (format, columns and template as in
    /// training; a chat is cut before its last assistant turn). Prompts run in batches of
    /// `batchSize`, sorted by length; greedy rows do not depend on their batch-mates.
    /// `limit` answers only the first records.
    /// Throws `GenerationError.promptTooLong`-like errors naming the file and line.
    public func generateResponses(path: String, maxNewTokens: Int, batchSize: Int = 16, limit: Int? = nil) throws -> [Response] {
        let first = recipe.dataConfig.datasets[0]
        let file = try RecordReader.read(path: path, format: first.format, columns: first.columns,
                                         onBadRecord: recipe.dataConfig.onBadRecord)
        let enc = try promptEncoder(template: first.template ?? encoder.template)
        let records = limit.map { Array(file.records.prefix($0)) } ?? file.records
        let prompts = records.map { enc.promptTokens($0.content) }
        let context = model.config.contextLength
        for (record, prompt) in zip(records, prompts) where prompt.count >= context {
            throw CheckpointModelError.unusable(path: "\(record.path):\(record.line)",
                                                reason: "the prompt has \(prompt.count) tokens but the model's context is \(context); no room to answer")
        }
        let answers = try answer(prompts: prompts, maxNewTokens: maxNewTokens, batchSize: batchSize)
        return zip(records, answers).map { Response(record: $0, response: $1.text, stopReason: $1.stop) }
    }

    /// Greedy answers to prompt token lists, in batches of `batchSize` sorted by length (greedy
    /// rows do not depend on their batch-mates), each cut at the template's end-of-turn
    /// marker. Every prompt must be shorter than the context (else `GenerationError`).
    public func answer(prompts: [[Int32]], maxNewTokens: Int, batchSize: Int = 16) throws -> [(text: String, stop: StopReason)] {
        let order = prompts.indices.sorted { (prompts[$0].count, $0) < (prompts[$1].count, $1) }
        var out = [(text: String, stop: StopReason)](repeating: ("", .maxNewTokens), count: prompts.count)
        let options = generationOptions(maxNewTokens: maxNewTokens, stopStrings: templateStopStrings)
        let step = Swift.max(1, batchSize)
        var rng = RNG(seed: 0)
        var start = 0
        while start < order.count {
            let idx = Array(order[start..<Swift.min(start + step, order.count)])
            let rows = try Generator.generateRows(model: model, parameters: parameters, prompts: idx.map { prompts[$0] },
                                                  options: options, rng: &rng)
            for (i, row) in zip(idx, rows) {
                var stream = TextStream(decode: { tokenizer.decode($0) }, stopStrings: options.stopStrings)
                for t in row.tokens { _ = stream.append(t) }
                out[i] = (stream.text, row.stopReason)
            }
            start += step
        }
        return out
    }
}
