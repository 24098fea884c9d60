import Checkpoints
import Datasets
import Foundation
import Models
import NN
import Tokenizers
import Training

/// Errors from opening a trained checkpoint for use. Every case names the path involved.
public enum CheckpointModelError: Error, Equatable, CustomStringConvertible {
    /// Nothing at `path`.
    case notFound(path: String)
    /// The checkpoint directory lacks a file it needs (`recipe.yaml`, `model.safetensors`).
    case missingFile(directory: String, file: String, hint: String)
    /// The stored recipe, tokenizer or weights could not be used.
    case unusable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .notFound(path):
            return "\(path): no such checkpoint. Pass a step-NNNNNNN directory, a run directory, or its `latest` file."
        case let .missingFile(directory, file, hint):
            return "\(directory)/\(file): missing; \(hint)"
        case let .unusable(path, reason):
            return "\(path): \(reason)"
        }
    }
}

/// A trained checkpoint opened for generation and evaluation: the resolved recipe it was
/// trained with, its tokenizer, the model built from the recipe's model section, the
/// weights (checked against the model's names and shapes) and the prompt encoder that
/// renders prompts exactly as the first dataset was trained.
public struct LoadedModel {
    /// The checkpoint directory (`step-NNNNNNN`) that was read.
    public var directory: URL
    /// Optimizer step of the checkpoint, when its manifest records one.
    public var step: Int?
    public var recipe: Recipe
    public var tokenizer: any TextTokenizer
    public var model: DecoderModel
    public var parameters: Parameters
    /// Renders prompts with the training template and system prompt (`promptTokens`).
    public var encoder: ExampleEncoder

    /// The checkpoint directory `path` names: a `step-NNNNNNN` directory, a run directory
    /// (its latest checkpoint) or a run's `latest` pointer file.
    public static func resolve(path: String) throws -> URL {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw CheckpointModelError.notFound(path: path)
        }
        if !isDir.boolValue {
            guard url.lastPathComponent == CheckpointDirectory.latestFileName else {
                throw CheckpointModelError.unusable(path: path, reason: "a file, not a checkpoint; pass a checkpoint or run directory")
            }
            return try CheckpointDirectory.latest(runDirectory: url.deletingLastPathComponent())
        }
        if FileManager.default.fileExists(atPath: url.appendingPathComponent(CheckpointManifest.fileName).path) {
            return url
        }
        return try CheckpointDirectory.latest(runDirectory: url)
    }

    /// Opens the checkpoint at `path` (see `resolve`). `verify` checks every file against the
    /// manifest's SHA-256 first. Throws `CheckpointModelError`, `CheckpointError`,
    /// `RecipeError` or `TokenizerError`, each naming the file that failed.
    public static func load(path: String, verify: Bool = true) throws -> LoadedModel {
        let dir = try resolve(path: path)
        let checkpoint = try CheckpointReader.open(dir, verify: verify)
        var recipeFile = dir.appendingPathComponent("recipe.yaml").path
        let recipe: Recipe
        if checkpoint.contains("recipe.yaml") {
            recipe = try Recipe.decode(yaml: String(decoding: try checkpoint.data("recipe.yaml"), as: UTF8.self), file: recipeFile)
        } else if checkpoint.contains("model.yaml") {
            recipeFile = dir.appendingPathComponent("model.yaml").path
            recipe = try importedRecipe(checkpoint, directory: dir)
        } else {
            throw CheckpointModelError.missingFile(directory: dir.path, file: "recipe.yaml",
                                                   hint: "checkpoints written by `instruct train` store the resolved recipe, and those written by `instruct import` a model.yaml; without either the model shape is unknown")
        }

        let tokenizer: any TextTokenizer
        if checkpoint.contains("tokenizer.json") {
            tokenizer = try loadTokenizer(from: try checkpoint.fileURL("tokenizer.json").path)
        } else if let path = recipe.tokenizer.path {
            tokenizer = try loadTokenizer(from: path)
        } else {
            throw CheckpointModelError.missingFile(directory: dir.path, file: "tokenizer.json",
                                                   hint: "the recipe trained its tokenizer, which the checkpoint should hold")
        }

        let config = recipe.model.config(vocabSize: tokenizer.vocabularySize, seqLen: recipe.data.seqLen)
        var model: DecoderModel
        do {
            model = try DecoderModel(config)
        } catch {
            throw CheckpointModelError.unusable(path: recipeFile, reason: "\(error)")
        }
        let parameters: Parameters
        if LoRABase.isLoRA(checkpoint) {
            // Adapters only: read the base (checked by SHA-256) and fold the adapters in, so
            // generation runs at the speed of a plain model.
            let full = try LoRABase.fullParameters(of: checkpoint)
            guard full.model.config == config else {
                throw CheckpointModelError.unusable(path: dir.appendingPathComponent(ModelExport.modelConfigFile).path,
                                                    reason: "differs from the recipe's model section")
            }
            model = full.model
            parameters = full.parameters
        } else {
            guard checkpoint.contains("model.safetensors") else {
                throw CheckpointModelError.missingFile(directory: dir.path, file: "model.safetensors", hint: "the weights are not in this checkpoint")
            }
            let tensors = try checkpoint.tensors("model.safetensors")
            parameters = Parameters(tensors.entries.map { ($0.name, $0.tensor) })
        }
        do {
            try model.validate(parameters)
        } catch {
            throw CheckpointModelError.unusable(path: dir.appendingPathComponent("model.safetensors").path, reason: "\(error)")
        }
        let spec = recipe.dataConfig.datasets[0]
        let encoder = try ExampleEncoder(tokenizer: tokenizer, template: trainingTemplate(spec),
                                         systemPrompt: spec.systemPrompt, trainOnInput: false,
                                         scope: recipe.dataConfig.chatScope)
        return LoadedModel(directory: dir, step: checkpoint.step, recipe: recipe, tokenizer: tokenizer, model: model,
                           parameters: parameters, encoder: encoder)
    }

    /// The recipe an imported checkpoint (`instruct import`: model.yaml, model_config.json,
    /// special_tokens.json, tokenizer.json or tokenizer.bin, no recipe.yaml) is used with:
    /// its `model:` section from model.yaml, the stored tokenizer, `seq_len` the model's
    /// context length and the `plain` template (an imported model was not instruction-tuned
    /// here, so no template is its own; `--raw` bypasses templates altogether).
    static func importedRecipe(_ checkpoint: Checkpoint, directory dir: URL) throws -> Recipe {
        let modelFile = dir.appendingPathComponent("model.yaml").path
        guard let tokenizerFile = ["tokenizer.json", "tokenizer.bin"].first(where: checkpoint.contains) else {
            throw CheckpointModelError.missingFile(directory: dir.path, file: "tokenizer.json",
                                                   hint: "this checkpoint was imported without a tokenizer; import again with `--tokenizer FILE` (a tokenizer.json or a llama2.c tokenizer.bin)")
        }
        let config = try ModelExport.modelConfig(of: checkpoint)
        let tokenizerPath = try checkpoint.fileURL(tokenizerFile).path
        let quoted = String(decoding: try JSONSerialization.data(withJSONObject: [tokenizerPath], options: [.withoutEscapingSlashes]), as: UTF8.self)
        let yaml = """
            # Used for a checkpoint written by `instruct import` (it has no recipe.yaml).
            tokenizer: {path: \(quoted.dropFirst().dropLast())}
            data: {datasets: [{path: imported, template: plain}], seq_len: \(config.contextLength)}

            """ + String(decoding: try checkpoint.data("model.yaml"), as: UTF8.self)
        return try Recipe.decode(yaml: yaml, file: modelFile)
    }

    /// The template the first dataset was trained with: the recipe's, else the default of its
    /// format; for `format: auto`, the format detected from the first line of the dataset
    /// file when that file is still there and is JSONL (training detects it the same way),
    /// else Alpaca.
    static func trainingTemplate(_ spec: DatasetSpec) -> TemplateKind {
        if let t = spec.template { return t }
        guard spec.format == .auto, let handle = FileHandle(forReadingAtPath: spec.path) else { return spec.format.defaultTemplate }
        defer { try? handle.close() }
        let head = handle.readData(ofLength: 1 << 20)
        guard let line = head.split(separator: 0x0A).first(where: { !$0.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D } }),
              let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
              let format = RecordFormat.detect(fields: Set(object.keys), columns: spec.columns)
        else { return spec.format.defaultTemplate }
        return format.defaultTemplate
    }

    /// End-of-sequence ids for generation (the tokenizer's EOS, when it has one).
    public var eosTokenIDs: Set<Int32> { tokenizer.eosTokenID.map { [$0] } ?? [] }

    /// Strings that end an assistant turn in the training template but are not the EOS id
    /// (ChatML's `<|im_end|>`, Llama 3's `<|eot_id|>`): generation should stop at them.
    public var templateStopStrings: [String] { Self.templateStopStrings(encoder.template) }

    /// The end-of-turn strings of `template` that are not the EOS id.
    public static func templateStopStrings(_ template: TemplateKind) -> [String] {
        switch template {
        case .chatml: return ["<|im_end|>"]
        case .llama3: return ["<|eot_id|>"]
        default: return []
        }
    }

    /// Generation options with this model's EOS, pad id and decoder filled in.
    public func generationOptions(sampling: SamplingOptions = .greedy, maxNewTokens: Int,
                                  stopStrings: [String] = []) -> GenerationOptions {
        let tokenizer = self.tokenizer
        return GenerationOptions(sampling: sampling, maxNewTokens: maxNewTokens, eosTokenIDs: eosTokenIDs,
                                 stopStrings: stopStrings, decode: { tokenizer.decode($0) },
                                 padTokenID: tokenizer.eosTokenID ?? 0)
    }
}
