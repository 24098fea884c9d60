import Autograd
import Checkpoints
import Datasets
import Foundation
import Models
import NN
import Tokenizers
import Training

/// Everything a recipe resolves to before the first step: the tokenizer (loaded, or trained
/// from the data), the prepared data, the model and the run directory.
public struct RunPlan {
    public var recipe: Recipe
    public var tokenizer: any TextTokenizer
    /// `tokenizer.json` text to store with the run (nil for a llama2.c tokenizer, which is
    /// stored by path only).
    public var tokenizerJSON: String?
    public var data: PreparedData
    public var model: DecoderModel
    public var outputDirectory: URL

    /// Resolves `recipe`. Trains the tokenizer when asked (deterministic), prepares the
    /// data (using the cache), and checks the model against the tokenizer and data.
    public static func prepare(_ recipe: Recipe) throws -> RunPlan {
        let dataConfig = recipe.dataConfig
        var json: String? = nil
        let tokenizer: any TextTokenizer
        if let t = recipe.tokenizer.train {
            let corpus = try TrainingCorpus.text(dataConfig)
            let bpe = try BPETrainer.train(text: corpus, vocabularySize: t.vocabSize, specialTokens: t.specialTokens,
                                           minimumFrequency: t.minFrequency)
            tokenizer = bpe
            json = bpe.tokenizerJSON()
        } else {
            let path = recipe.tokenizer.path ?? ""
            tokenizer = try loadTokenizer(from: path)
            json = (tokenizer as? BPETokenizer)?.tokenizerJSON()
        }
        let data = try DataPipeline.prepare(dataConfig, tokenizer: tokenizer)
        let config = recipe.model.config(vocabSize: tokenizer.vocabularySize, seqLen: dataConfig.seqLen)
        if config.vocabSize < tokenizer.vocabularySize {
            throw RecipeError.invalidValue(source: recipe.file, key: "model.vocab_size",
                                           reason: "\(config.vocabSize) is smaller than the tokenizer's \(tokenizer.vocabularySize) ids; remove it to use the tokenizer's size")
        }
        if config.family == .gpt2 && config.contextLength < dataConfig.seqLen {
            throw RecipeError.invalidValue(source: recipe.file, key: "model.context_length",
                                           reason: "\(config.contextLength) is shorter than data.seq_len \(dataConfig.seqLen); GPT-2's learned positions need one row per position")
        }
        let model = try DecoderModel(config, lora: recipe.finetune.loraConfig)
        return RunPlan(recipe: recipe, tokenizer: tokenizer, tokenizerJSON: json, data: data, model: model,
                       outputDirectory: URL(fileURLWithPath: recipe.output.dir))
    }

    /// The weights the run starts from: `model.init`'s checkpoint when set (checked against
    /// the model), else fresh weights from the seed. With LoRA, the base's weights plus fresh
    /// adapters (PEFT's initialisation, stream 0x10A of `seed`).
    public func startingParameters(seed: UInt64) throws -> Parameters {
        guard let path = recipe.model.initFrom else { return Trainer.initialParameters(model, seed: seed) }
        let dir = try LoadedModel.resolve(path: path)
        let checkpoint = try CheckpointReader.open(dir)
        guard checkpoint.contains("model.safetensors") else {
            throw RecipeError.invalidValue(source: recipe.file, key: "model.init",
                                           reason: "\(dir.path) has no model.safetensors (a LoRA checkpoint holds only adapters); export it merged with `instruct export \(dir.path) --merge --format hf --out DIR`, import that, and start from the import")
        }
        let tensors = try checkpoint.tensors("model.safetensors")
        var p = Parameters(tensors.entries.map { ($0.name, $0.tensor) })
        if model.lora != nil {
            var rng = RNG(seed: seed, stream: 0x10A)
            for (n, t) in model.initialAdapters(rng: &rng).pairs { p[n] = t }
        }
        do {
            try model.validate(p)
        } catch {
            throw RecipeError.invalidValue(source: recipe.file, key: "model.init",
                                           reason: "\(dir.appendingPathComponent("model.safetensors").path) does not fit the model section (\(error)); make the model section match the checkpoint (an imported one has it in model.yaml)")
        }
        return p
    }

    /// With LoRA, the identity of the base weights file (`model.init`'s model.safetensors and
    /// its SHA-256), saved in every checkpoint as `base_model.json`; nil otherwise.
    public func baseIdentity() throws -> LoRABase.Identity? {
        guard model.lora != nil, let path = recipe.model.initFrom else { return nil }
        let dir = try LoadedModel.resolve(path: path)
        return try LoRABase.identify(weightsFile: dir.appendingPathComponent("model.safetensors"))
    }

    /// The encoder that renders prompts exactly as the first dataset is trained.
    public func promptEncoder() throws -> ExampleEncoder {
        let spec = recipe.dataConfig.datasets[0]
        return try ExampleEncoder(tokenizer: tokenizer, template: LoadedModel.trainingTemplate(spec), systemPrompt: spec.systemPrompt,
                                  trainOnInput: false, scope: recipe.dataConfig.chatScope)
    }
}
