import Autograd
import Checkpoints
import Datasets
import Foundation
import Interop
import Models
import NN
import Tokenizers
import Training

extension Recipe {
    /// Everything a recipe resolves to before the first step: the tokenizer (loaded, or
    /// trained from the data), the prepared data, the model, its card and the run directory.
    public struct Setup {
        public var recipe: Recipe
        public var tokenizer: any TextTokenizer
        /// `tokenizer.json` text to store with the run (nil for a llama2.c tokenizer, which is
        /// stored by path only).
        public var tokenizerJSON: String?
        public var data: PreparedData
        public var model: DecoderModel
        /// The model card every checkpoint of the run carries.
        public var card: ModelCard
        public var outputDirectory: URL

        /// The encoder that renders prompts exactly as the first dataset is trained.
        public var promptEncoder: ExampleEncoder
    }

    /// Resolves the recipe. With `model.init`, the shape and (unless the recipe names one) the
    /// tokenizer come from that checkpoint's model card, and what the recipe states must agree;
    /// the setup's `recipe` is then the recipe with them filled in (what is written to the run
    /// folder and compared on resume). Trains the tokenizer when asked (deterministic),
    /// prepares the data (using the cache), and checks the model against the tokenizer and data.
    public func setUp() throws -> Setup {
        let (recipe, initCard, initTokenizer) = try resolvingInit()
        return try recipe.setUpResolved(initCard: initCard, initTokenizer: initTokenizer)
    }

    /// This recipe with `model.init`'s shape and tokenizer filled in (see `setUp`), and the
    /// init checkpoint's tokenizer when it has one.
    func resolvingInit() throws -> (Recipe, ModelCard?, (any TextTokenizer)?) {
        guard let path = model.initFrom else { return (self, nil, nil) }
        let checkpoint = try CheckpointReader.open(try CheckpointDirectory.resolve(path), verify: false)
        let card = try ModelCard.read(from: checkpoint)
        var recipe = self
        recipe.model = try model.taking(card.config, from: path, source: file)
        recipe.finetune = try finetune.adapting(to: recipe.model.family, source: file)
        guard !card.tokenizer.isEmpty else { return (recipe, card, nil) }
        let initTokenizer = try card.loadTokenizer(in: checkpoint)
        if tokenizer.path == nil && tokenizer.train == nil {
            recipe.tokenizer.path = checkpoint.contains(card.tokenizer) ? try checkpoint.fileURL(card.tokenizer).path : card.tokenizer
        } else if let stated = tokenizer.path {
            // A stated tokenizer must be model.init's: set-up goes on with model.init's (whose
            // ids the weights know) but stores the stated file with the run, so another
            // tokenizer of the same size would train and generate with different ids.
            if try loadTokenizer(from: stated).fingerprintBytes() != initTokenizer.fingerprintBytes() {
                throw RecipeError.invalidValue(source: file, key: "tokenizer.path",
                                               reason: "gives another tokenizer than model.init's (\(path)), whose ids the weights were trained on; remove tokenizer.path to use model.init's")
            }
        }
        return (recipe, card, initTokenizer)
    }

    /// `setUp` once `model.init` is resolved.
    private func setUpResolved(initCard: ModelCard?, initTokenizer: (any TextTokenizer)?) throws -> Setup {
        var dataConfig = self.dataConfig
        // A model with its own chat template learns in it unless a dataset names another.
        if case .jinja? = initCard?.template { dataConfig.defaultTemplate = initCard?.template }
        var json: String? = nil
        let tokenizer: any TextTokenizer
        if let t = self.tokenizer.train {
            let corpus = try TrainingCorpus.text(dataConfig)
            let bpe = try BPETrainer.train(text: corpus, vocabularySize: t.vocabSize, specialTokens: t.specialTokens,
                                           minimumFrequency: t.minFrequency)
            tokenizer = bpe
            json = bpe.tokenizerJSON()
        } else {
            let path = self.tokenizer.path ?? ""
            tokenizer = try initTokenizer ?? loadTokenizer(from: path)
            // A tokenizer.json is stored as it is (its normalizer, pre-tokenizer and decoder
            // included); a GPT-2 directory is converted.
            if path.hasSuffix(".json"), let data = FileManager.default.contents(atPath: path) {
                json = String(decoding: data, as: UTF8.self)
            } else {
                json = (tokenizer as? BPETokenizer)?.tokenizerJSON()
            }
        }
        if let initTokenizer, tokenizer.fingerprintBytes() != initTokenizer.fingerprintBytes() {
            let key = self.tokenizer.train != nil ? "tokenizer.train" : "tokenizer.path"
            throw RecipeError.invalidValue(source: file, key: key,
                                           reason: "gives another tokenizer than model.init's (\(model.initFrom ?? "")), whose ids the weights were trained on; remove \(key) to use model.init's")
        }
        // The model and its memory are checked before the data is prepared: packing rows of
        // an absurd seq_len, or allocating for an absurd batch, would hang or abort.
        let config = model.config(vocabSize: tokenizer.vocabularySize, seqLen: dataConfig.seqLen)
        if config.vocabSize < tokenizer.vocabularySize {
            throw RecipeError.invalidValue(source: file, key: "model.vocab_size",
                                           reason: "\(config.vocabSize) is smaller than the tokenizer's \(tokenizer.vocabularySize) ids; remove it to use the tokenizer's size")
        }
        try checkContextLength(config, seqLen: dataConfig.seqLen)
        let decoder = try DecoderModel(config, lora: finetune.loraConfig)
        try checkFits(memoryPlan(config: config), config: config, machine: MemoryStats.machineMemory())
        let data = try DataPipeline.prepare(dataConfig, tokenizer: tokenizer)
        var card = modelCard(config: config, tokenizer: tokenizer, storesTokenizer: json != nil, data: dataConfig,
                             extraStops: initCard?.stopTokenIDs ?? [])
        // A GGUF import knows the BOS id from its metadata even when the tokenizer.json it
        // rebuilds does not add one; the tuned model keeps it for its own exports.
        if card.bosTokenID == nil, let bos = initCard?.bosTokenID, bos < config.vocabSize { card.bosTokenID = bos }
        let encoder = try ExampleEncoder(tokenizer: tokenizer, template: card.template, systemPrompt: card.systemPrompt,
                                         trainOnInput: false, scope: dataConfig.chatScope)
        return Setup(recipe: self, tokenizer: tokenizer, tokenizerJSON: json, data: data, model: decoder, card: card,
                     outputDirectory: URL(fileURLWithPath: output.dir), promptEncoder: encoder)
    }

    /// Refuses a `data.seq_len` longer than the model's context: GPT-2's learned positions have
    /// one row per position, and a Llama whose context is stated (or comes from `model.init`)
    /// was not trained for positions beyond it. A Llama without `model.context_length` takes
    /// `data.seq_len` as its context; the memory check bounds that.
    func checkContextLength(_ config: ModelConfig, seqLen: Int) throws {
        guard config.contextLength < seqLen else { return }
        switch config.family {
        case .gpt2:
            throw RecipeError.invalidValue(source: file, key: "model.context_length",
                                           reason: "\(config.contextLength) is shorter than data.seq_len \(seqLen); GPT-2's learned positions need one row per position")
        case .llama:
            let origin = model.initFrom.map { "the context of model.init (\($0))" } ?? "model.context_length"
            throw RecipeError.invalidValue(source: file, key: "data.seq_len",
                                           reason: "\(seqLen) is longer than \(origin), \(config.contextLength) tokens, which the model supports; set data.seq_len to at most \(config.contextLength) (longer examples are then truncated or dropped as data.length_policy says)")
        }
    }

    /// The card of a model trained by this recipe: `config`, the tokenizer (stored in the
    /// checkpoint as tokenizer.json, or the recipe's path), and the first dataset's template
    /// and system prompt, which generation uses to prompt the model as it was trained.
    func modelCard(config: ModelConfig, tokenizer: any TextTokenizer, storesTokenizer: Bool, data: DataConfig,
                   extraStops: [Int32] = []) -> ModelCard {
        let spec = data.datasets[0]
        let template = spec.template ?? data.defaultTemplate ?? Self.trainingTemplate(spec)
        let stops = ModelCard.stops(template: template, tokenizer: tokenizer, extra: extraStops)
        return ModelCard(config: config, tokenizer: storesTokenizer ? "tokenizer.json" : self.tokenizer.path ?? "",
                         template: template, systemPrompt: spec.systemPrompt, bosTokenID: tokenizer.bosTokenID,
                         stopTokenIDs: stops.ids, stopStrings: stops.strings, source: file)
    }

    /// The template the first dataset is trained with: the recipe's, else the default of its
    /// format; for `format: auto`, the format detected from the first line of the dataset
    /// file when that file is there and is JSONL (training detects it the same way), else
    /// Alpaca.
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
}

extension Recipe.Setup {
    /// The weights the run starts from: `model.init`'s checkpoint when set (checked against
    /// the model), else fresh weights from the seed. With LoRA, the base's weights plus fresh
    /// adapters (PEFT's initialisation, stream 0x10A of `seed`).
    public func startingParameters(seed: UInt64) throws -> Parameters {
        guard let path = recipe.model.initFrom else { return Trainer.initialParameters(model, seed: seed) }
        let checkpoint = try CheckpointReader.open(try CheckpointDirectory.resolve(path))
        let weights = checkpoint.directory.appendingPathComponent("model.safetensors")
        guard checkpoint.contains("model.safetensors") else {
            throw RecipeError.invalidValue(source: recipe.file, key: "model.init",
                                           reason: "\(checkpoint.directory.path) has no model.safetensors (a LoRA checkpoint holds only adapters); export it merged with `instruct export \(checkpoint.directory.path) --merge --format hf --out DIR`, import that, and start from the import")
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
                                           reason: "\(weights.path) does not fit the model section (\(error)); make the model section match the checkpoint (an imported one has it in model.yaml)")
        }
        return p
    }

    /// With LoRA, the identity of the base weights file (`model.init`'s model.safetensors and
    /// its SHA-256), saved in every checkpoint as `base_model.json`; nil otherwise.
    public func baseIdentity() throws -> LoRAFiles.Identity? {
        guard model.lora != nil, let path = recipe.model.initFrom else { return nil }
        let dir = try CheckpointDirectory.resolve(path)
        return try LoRAFiles.identify(weightsFile: dir.appendingPathComponent("model.safetensors"))
    }
}
