import Checkpoints
import Datasets
import Foundation
import Inference
import Interop
import Tokenizers

extension Recipe {
    /// The resolved recipe a training checkpoint stores (`recipe.yaml`); nil for an imported
    /// checkpoint, which has none.
    public static func stored(in checkpoint: Checkpoint) throws -> Recipe? {
        guard checkpoint.contains("recipe.yaml") else { return nil }
        return try Recipe.decode(yaml: String(decoding: try checkpoint.data("recipe.yaml"), as: UTF8.self),
                                 file: checkpoint.directory.appendingPathComponent("recipe.yaml").path)
    }

    /// The settings `instruct eval` reads a data file with for a checkpoint trained by this
    /// recipe: its data section (format, columns, template, system prompt, seq_len, packing,
    /// masks, length policy), its micro-batch size and its answer length.
    public var evaluationSettings: EvaluationSettings {
        EvaluationSettings(data: dataConfig, batchSize: trainingOptions.microBatchSize, maxNewTokens: eval.maxNewTokens)
    }
}

/// How a checkpoint is evaluated on a data file: the training recipe's settings, or for an
/// imported model the defaults (the card's template, rows of its context length).
public struct EvaluationSettings: Sendable {
    public var data: DataConfig
    public var batchSize: Int
    public var maxNewTokens: Int

    /// The settings of `loaded`'s checkpoint: its recipe's when it was trained here, else
    /// defaults for its card.
    public static func of(_ loaded: LoadedModel) throws -> EvaluationSettings {
        if let recipe = try Recipe.stored(in: try CheckpointReader.open(loaded.directory, verify: false)) {
            return recipe.evaluationSettings
        }
        return EvaluationSettings(data: DataConfig(datasets: [], seqLen: loaded.model.config.contextLength), batchSize: 8,
                                  maxNewTokens: EvalSection().maxNewTokens)
    }
}

extension ModelCard {
    /// The card of `checkpoint`; for a checkpoint written before model cards existed, the
    /// card its stored recipe describes.
    public static func of(_ checkpoint: Checkpoint) throws -> ModelCard {
        guard !checkpoint.contains(ModelCard.fileName), let recipe = try Recipe.stored(in: checkpoint) else {
            return try ModelCard.read(from: checkpoint)
        }
        let tokenizerPath = checkpoint.contains("tokenizer.json") ? try checkpoint.fileURL("tokenizer.json").path : recipe.tokenizer.path ?? ""
        let tokenizer = try Tokenizers.loadTokenizer(from: tokenizerPath)
        let config = recipe.model.config(vocabSize: tokenizer.vocabularySize, seqLen: recipe.data.config.seqLen)
        var card = recipe.modelCard(config: config, tokenizer: tokenizer, storesTokenizer: checkpoint.contains("tokenizer.json"),
                                    data: recipe.dataConfig)
        card.tokenizer = checkpoint.contains("tokenizer.json") ? "tokenizer.json" : tokenizerPath
        return card
    }
}

extension LoadedModel {
    /// Opens a checkpoint for the command line (see `LoadedModel.load`), with `ModelCard.of`.
    public static func open(path: String, verify: Bool = true) throws -> LoadedModel {
        let checkpoint = try CheckpointReader.open(try CheckpointDirectory.resolve(path), verify: verify)
        return try load(path: checkpoint.directory.path, verify: false, card: try ModelCard.of(checkpoint))
    }
}
