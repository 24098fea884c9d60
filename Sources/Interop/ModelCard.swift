import Checkpoints
import Datasets
import Foundation
import Models
import Tokenizers

/// What a checkpoint is, for anyone who uses it: the model's shape, its tokenizer, how
/// prompts are rendered (template and system prompt) and where generation stops. Every
/// checkpoint carries one (`model_card.json`), written by `instruct train` (from the recipe)
/// and `instruct import` (from the source's config); generation, chat, evaluation and export
/// read it and nothing else, so the shape is stored once and no training recipe is needed
/// to use a model.
public struct ModelCard: Codable, Equatable, Sendable {
    /// The file in a checkpoint.
    public static let fileName = "model_card.json"
    /// The format version this build writes and reads.
    public static let currentVersion = 1

    /// Format version of the file.
    public var version: Int
    /// The decoder's shape.
    public var config: ModelConfig
    /// The tokenizer: a file of the checkpoint (`tokenizer.json`, `tokenizer.bin`) or, when
    /// the checkpoint stores none, the path the run read it from.
    public var tokenizer: String
    /// How prompts are rendered: the template the model was trained (or made) with.
    public var template: TemplateKind
    /// The system prompt given when a conversation has none (nil: no system turn).
    public var systemPrompt: String?
    /// The beginning-of-sequence id, when the model was trained with one.
    public var bosTokenID: Int32?
    /// Ids that end an answer: the EOS and every end-of-turn id (`<|im_end|>`). Generation
    /// stops at the first of them and never shows it.
    public var stopTokenIDs: [Int32]
    /// Texts that end an answer when they are not single tokens (a ChatML template on a
    /// tokenizer that has no `<|im_end|>` token). Generation stops where one appears.
    public var stopStrings: [String]
    /// Where the weights came from (`instruct import` source, or the recipe).
    public var source: String?

    public init(config: ModelConfig, tokenizer: String, template: TemplateKind, systemPrompt: String? = nil,
                bosTokenID: Int32? = nil, stopTokenIDs: [Int32] = [], stopStrings: [String] = [], source: String? = nil) {
        self.version = Self.currentVersion
        self.config = config
        self.tokenizer = tokenizer
        self.template = template
        self.systemPrompt = systemPrompt
        self.bosTokenID = bosTokenID
        self.stopTokenIDs = stopTokenIDs
        self.stopStrings = stopStrings
        self.source = source
    }

    enum CodingKeys: String, CodingKey {
        case version, config, tokenizer, template, systemPrompt = "system_prompt", bosTokenID = "bos_token_id"
        case stopTokenIDs = "stop_token_ids", stopStrings = "stop_strings", source
    }

    /// The stop rule of `template` on `tokenizer`: the tokenizer's EOS, plus the template's
    /// end-of-turn marker as an id when the tokenizer has it as one special token, else as a
    /// stop string. `extra` adds ids a source declares (generation_config.json's EOS list).
    public static func stops(template: TemplateKind, tokenizer: any TextTokenizer,
                             extra: [Int32] = []) -> (ids: [Int32], strings: [String]) {
        var ids = tokenizer.eosTokenID.map { [$0] } ?? []
        var strings: [String] = []
        if let end = template.endOfTurn {
            if let id = tokenizer.specialTokenID(end) { ids.append(id) } else { strings.append(end) }
        }
        for id in extra where !ids.contains(id) { ids.append(id) }
        return (ids, strings)
    }

    /// The card's bytes.
    public func encoded() throws -> Data { try JSONFile.encode(self) }

    /// The card of `checkpoint`. Throws `InteropError.noModelCard` naming the file when it has
    /// none, `CheckpointError` when it is altered or undecodable.
    public static func read(from checkpoint: Checkpoint) throws -> ModelCard {
        guard checkpoint.contains(fileName) else {
            throw InteropError.noModelCard(directory: checkpoint.directory.path)
        }
        let card = try JSONFile.decode(ModelCard.self, fileName, in: checkpoint, hint: "every checkpoint has one")
        guard card.version == currentVersion else {
            throw InteropError.invalid(path: checkpoint.directory.appendingPathComponent(fileName).path,
                                       reason: "format version \(card.version); this build reads version \(currentVersion)")
        }
        return card
    }

    /// The tokenizer the card names, loaded (a file of `checkpoint`, else the stored path).
    public func loadTokenizer(in checkpoint: Checkpoint) throws -> any TextTokenizer {
        if tokenizer.isEmpty {
            throw InteropError.invalid(path: checkpoint.directory.path,
                                       reason: "this checkpoint was imported without a tokenizer; import again with `--tokenizer FILE` (a tokenizer.json or a llama2.c tokenizer.bin)")
        }
        let path = checkpoint.contains(tokenizer) ? try checkpoint.fileURL(tokenizer).path : tokenizer
        return try Tokenizers.loadTokenizer(from: path)
    }
}
