import Autograd
import Datasets
import Foundation
import Inference
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

    /// `config`'s data settings (format, columns, template, system prompt, seq_len,
    /// packing, masks, length policy: the training recipe's) applied to `path` alone, with no
    /// validation split and no cache. Without a template in `config`, the card's.
    public func dataConfig(evaluating path: String, like config: DataConfig) -> DataConfig {
        var config = config
        let first = config.datasets.first ?? DatasetSpec(path: path)
        config.datasets = [DatasetSpec(path: path, format: first.format, columns: first.columns, template: first.template ?? card.template,
                                       weight: 1, validationFraction: 0, systemPrompt: first.systemPrompt ?? card.systemPrompt)]
        config.cacheDirectory = nil
        return config
    }

    /// `path` prepared exactly as training prepares a dataset, with every row moved to the
    /// validation split (so a `Trainer` or `DataLoader(split: .validation)` reads them all).
    public func evaluationData(path: String, like config: DataConfig) throws -> PreparedData {
        var data = try DataPipeline.prepare(dataConfig(evaluating: path, like: config), tokenizer: tokenizer)
        for i in data.datasets.indices {
            data.datasets[i].validation = data.datasets[i].train
            data.datasets[i].validationPlan = data.datasets[i].trainPlan
        }
        return data
    }

    /// Mean loss over every trained target of `path`, in batches of `batchSize` rows. The same
    /// tokens, masks and packing as training, and the same sum (`DecoderModel.lossSum`) as
    /// `Trainer.evaluate`, so the two agree.
    public func evaluateLoss(path: String, like config: DataConfig, batchSize: Int) throws -> LossReport {
        let data = try evaluationData(path: path, like: config)
        var loader = try DataLoader(data: data, batchSize: batchSize, split: .validation)
        let (sum, count) = model.lossSum(over: IteratorSequence(AnyIterator { loader.next()?.modelInput }), parameters: parameters)
        let r = data.report
        guard count > 0 else {
            throw DatasetError.noExamples(path: path, reason: "no trained target tokens to score")
        }
        let mean = sum / Double(count)
        return LossReport(path: path, records: r.records, examples: r.examples, rows: data.rowCount(.validation),
                          skipped: r.skipped, dropped: r.dropped, truncated: r.truncated, tokens: count,
                          loss: mean, perplexity: exp(mean))
    }

    /// One record of a data file and the model's answer to its prompt.
    public struct Response: Sendable {
        public var record: Record
        public var response: String
        public var stopReason: StopReason
    }

    /// Greedy answers to every record of `path` (format, columns and template as `config`
    /// says, as in training; a chat is cut before its last assistant turn). `limit` answers
    /// only the first records. A prompt that leaves no room in the context throws naming the
    /// file and line.
    public func generateResponses(path: String, like config: DataConfig, maxNewTokens: Int, batchSize: Int = 16,
                                  limit: Int? = nil) throws -> [Response] {
        let spec = dataConfig(evaluating: path, like: config).datasets[0]
        let file = try RecordReader.read(path: path, format: spec.format, columns: spec.columns, onBadRecord: config.onBadRecord)
        let enc = try ExampleEncoder(tokenizer: tokenizer, template: spec.template ?? card.template, systemPrompt: spec.systemPrompt,
                                     trainOnInput: false, scope: .lastAssistant)
        let records = limit.map { Array(file.records.prefix($0)) } ?? file.records
        let prompts = try records.map { try enc.promptTokens($0.content) }
        let context = model.config.contextLength
        for (record, prompt) in zip(records, prompts) where prompt.count >= context {
            throw EvaluationError.promptTooLong(path: record.location.describe(in: record.path), tokens: prompt.count, context: context)
        }
        let answers = try self.answers(prompts: prompts, maxNewTokens: maxNewTokens, batchSize: batchSize)
        return zip(records, answers).map { Response(record: $0, response: $1.text, stopReason: $1.stopReason) }
    }
}
