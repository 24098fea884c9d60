import Autograd
import Checkpoints
import Datasets
import Foundation
import Interop
import Models
import NN
import Tokenizers

/// A checkpoint opened for generation and evaluation: its model card, its tokenizer, the model
/// and its weights (checked against the card's shape; a LoRA checkpoint's adapters folded
/// into its base), and the prompt encoder that renders prompts with the card's template and
/// system prompt.
public struct LoadedModel {
    /// The checkpoint directory (`step-NNNNNNN`) that was read.
    public var directory: URL
    /// Optimizer step of the checkpoint, when its manifest records one.
    public var step: Int?
    /// What the checkpoint is (shape, tokenizer, template, stops).
    public var card: ModelCard
    public var tokenizer: any TextTokenizer
    public var model: DecoderModel
    public var parameters: Parameters
    /// Renders prompts with the card's template and system prompt (`promptTokens`); a chat
    /// is cut before its last assistant turn.
    public var encoder: ExampleEncoder
    /// The weights generation computes with, when `useWeights` prepared them (for example
    /// Q8_0); nil decodes from `parameters` (float32).
    public var decodingWeights: DecodingWeights? = nil

    /// Opens the checkpoint at `path` (a step directory, a run directory or its `latest`
    /// file; `CheckpointDirectory.resolve`). `verify` checks every file against the manifest's
    /// SHA-256 first. `card` replaces the checkpoint's own (for checkpoints written before
    /// model cards, whose card Recipes derives from their recipe). Throws
    /// `CheckpointError`, `InteropError` or `TokenizerError`, each naming the file that failed.
    public static func load(path: String, verify: Bool = true, card given: ModelCard? = nil) throws -> LoadedModel {
        let dir = try CheckpointDirectory.resolve(path)
        let checkpoint = try CheckpointReader.open(dir, verify: verify)
        let card = try given ?? ModelCard.read(from: checkpoint)
        let tokenizer = try card.loadTokenizer(in: checkpoint)
        let (model, parameters) = try CheckpointWeights.load(checkpoint, card: card)
        let encoder = try ExampleEncoder(tokenizer: tokenizer, template: card.template, systemPrompt: card.systemPrompt,
                                         trainOnInput: false, scope: .lastAssistant)
        return LoadedModel(directory: dir, step: checkpoint.step, card: card, tokenizer: tokenizer, model: model,
                           parameters: parameters, encoder: encoder)
    }

    /// Prepares the weights generation computes with: `.q8_0` quantizes every linear layer,
    /// the embedding and the head (llama.cpp's Q8_0; about a second for SmolLM2-135M), `.f32`
    /// uses `parameters` as they are. Throws `ModelError.notSupported` for a GPT-2 model with
    /// `.q8_0` (GPT-2 decodes from float32 only) or a matrix whose input size is not a
    /// multiple of 32. The float32 `parameters` stay (evaluation of losses reads them).
    public mutating func useWeights(_ format: WeightFormat) throws {
        if format == .f32 && !model.hasDecodingPath {
            decodingWeights = nil
            return
        }
        decodingWeights = try model.decodingWeights(parameters, format: format)
    }

    /// Generation options that stop where the card says, with this model's decoder and pad id;
    /// `stopStrings` adds the caller's own.
    public func generationOptions(sampling: SamplingOptions = .greedy, maxNewTokens: Int,
                                  stopStrings: [String] = []) -> GenerationOptions {
        GenerationOptions(card: card, tokenizer: tokenizer, sampling: sampling, maxNewTokens: maxNewTokens, stopStrings: stopStrings)
    }

    /// Answers to prompt token lists (greedy unless `sampling` says otherwise), each cut at the
    /// card's stops; see `Generator.answers`.
    public func answers(prompts: [[Int32]], maxNewTokens: Int, batchSize: Int = 16) throws -> [Answer] {
        var rng = RNG(seed: 0)
        return try Generator.answers(model: model, parameters: parameters, prompts: prompts,
                                     options: generationOptions(maxNewTokens: maxNewTokens), batchSize: batchSize, rng: &rng,
                                     weights: decodingWeights)
    }
}

extension GenerationOptions {
    /// Options that stop at the card's stop ids and stop strings (plus `stopStrings`),
    /// decoding with `tokenizer`; the pad id is the tokenizer's EOS. Every generation path
    /// (generate, chat, eval, eval.synth, eval.samples, IFEval answers) builds its options
    /// here, so all stop by one rule. Special tokens are never shown as text (decoding skips
    /// them, as transformers' `skip_special_tokens=True`).
    public init(card: ModelCard, tokenizer: any TextTokenizer, sampling: SamplingOptions = .greedy, maxNewTokens: Int,
                stopStrings: [String] = []) {
        self.init(sampling: sampling, maxNewTokens: maxNewTokens, eosTokenIDs: Set(card.stopTokenIDs),
                  stopStrings: card.stopStrings + stopStrings, decode: { tokenizer.decode($0, skipSpecialTokens: true) },
                  padTokenID: tokenizer.eosTokenID ?? 0)
    }
}
