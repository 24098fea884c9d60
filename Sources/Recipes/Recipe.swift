import Datasets
import Models
import Training

/// A training recipe: everything a run needs, read strictly from YAML.
///
/// Each section is its own type with its own `init(from:)`, listed once in `Recipe.sections`.
/// Adding `model`, `training`, `eval` or `output` later means a new section type, a new stored
/// property and one line in each of `sections` and `init(from:)`; existing sections are untouched.
public struct Recipe: Equatable, Sendable {
    /// Seed of every random draw in the run unless a section sets its own. Default 0: a recipe
    /// run twice gives the same result without anyone choosing a seed.
    public var seed: UInt64
    /// Which tokenizer to use.
    public var tokenizer: TokenizerSection
    /// Which data, templated, masked and packed how.
    public var data: DataSection
    /// The model's shape (or where its weights come from).
    public var model: ModelSection
    /// Full fine-tuning or LoRA adapters (Recipe+Finetune.swift).
    public var finetune: FinetuneSection
    /// Optimizer, schedule, batch and step counts.
    public var training: TrainingSection
    /// Validation and generation-based evaluation.
    public var eval: EvalSection
    /// Where the run writes.
    public var output: OutputSection
    /// The file the recipe came from (names the default output directory).
    public var file: String

    /// The top-level keys; a misspelt one is reported with the closest of these.
    public static let sections = ["seed", "tokenizer", "data", "model", "finetune", "training", "eval", "output"]

    init(from root: RecipeValue, file: String) throws {
        let f = try RecipeFields(root, path: "", known: Self.sections, parentSource: file)
        self.file = file
        seed = try f.uint64("seed", default: 0)
        tokenizer = try TokenizerSection(from: f.section("tokenizer", known: TokenizerSection.keys))
        data = try DataSection(from: f.section("data", known: DataSection.keys))
        model = try ModelSection(from: f.section("model", known: ModelSection.keys))
        finetune = try FinetuneSection(from: f.section("finetune", known: FinetuneSection.keys), model: model)
        training = try TrainingSection(from: f.section("training", known: TrainingSection.keys))
        eval = try EvalSection(from: f.section("eval", known: EvalSection.keys))
        output = try OutputSection(from: f.section("output", known: OutputSection.keys), recipeFile: file)
    }

    /// The data pipeline's configuration: `data.seed` if set, else the recipe's `seed`.
    public var dataConfig: DataConfig { data.config(recipeSeed: seed) }
}

/// `tokenizer:` — where the tokenizer lives, or how to train one from the data.
/// Exactly one of `path` and `train` is given: no default can match the data and model a
/// user has in mind.
public struct TokenizerSection: Equatable, Sendable {
    /// A HF `tokenizer.json`, a GPT-2 directory (vocab.json + merges.txt) or a llama2.c
    /// `tokenizer.bin`.
    public var path: String?
    /// Train a byte-level BPE on the training data's text instead (deterministic; the
    /// result is written to the run directory as `tokenizer.json`).
    public var train: TokenizerTraining?

    /// Keys of this section.
    public static let keys = ["path", "train"]

    init(from f: RecipeFields) throws {
        path = try f.optionalString("path")
        if f.value("train") != nil {
            train = try TokenizerTraining(from: f.section("train", known: TokenizerTraining.keys))
        }
        if path == nil && train == nil {
            // Named as the missing `path`: the common case is an existing tokenizer.
            throw RecipeError.missingKey(source: f.source, key: f.keyPath("path"))
        }
        if path != nil && train != nil {
            throw RecipeError.invalidValue(
                source: f.sourceOf("train"), key: f.keyPath("train"),
                reason: "give either tokenizer.path (an existing tokenizer) or tokenizer.train (train one from the data), not both")
        }
    }
}

/// `tokenizer.train:` — options for training a BPE vocabulary on the data.
public struct TokenizerTraining: Equatable, Sendable {
    /// Vocabulary size including specials and the 256 bytes. Default 1024: small models
    /// trained from scratch learn a small vocabulary faster.
    public var vocabSize: Int
    /// Special tokens, ids 0.. in order. Default `<|endoftext|>` (the EOS).
    public var specialTokens: [String]
    /// A pair must occur this often to be merged. Default 2: merges seen once are noise.
    public var minFrequency: Int

    public static let keys = ["vocab_size", "special_tokens", "min_frequency"]

    init(from f: RecipeFields) throws {
        vocabSize = try f.int("vocab_size", default: 1024, atLeast: 257)
        minFrequency = try f.int("min_frequency", default: 2, atLeast: 1)
        if f.value("special_tokens") != nil {
            specialTokens = try f.list("special_tokens").enumerated().map { i, v in
                guard case let .scalar(text, _, _) = v, !text.isEmpty else {
                    throw RecipeError.wrongType(source: v.source, key: f.keyPath("special_tokens") + "[\(i)]",
                                                expected: "a non-empty string", found: v.typeDescription)
                }
                return text
            }
        } else {
            specialTokens = ["<|endoftext|>"]
        }
    }
}

/// `data:` — the datasets and how they become packed rows. Maps onto `Datasets.DataConfig`.
public struct DataSection: Equatable, Sendable {
    /// The datasets, mixed by weight. Required and non-empty: there is nothing to train on otherwise.
    public var datasets: [DatasetSpec]
    /// Row length in tokens. Default 512: the context of the small models InstructKit targets,
    /// and long enough that most instruction examples fit whole.
    public var seqLen: Int
    /// Default `pack`: several examples per row wastes far less compute than padding.
    public var packing: PackingMode
    /// Default `truncate`: long examples still teach their response's end; `drop` is stricter.
    public var lengthPolicy: LengthPolicy
    /// Default false: instruction tuning trains on responses only, the standard SFT recipe.
    public var trainOnInput: Bool
    /// Default `all_assistant`: every assistant turn is a valid answer to learn from.
    public var trainOn: ChatTrainingScope
    /// Default `error`: bad data should be seen and fixed, not silently thinned.
    public var onBadRecord: BadRecordPolicy
    /// Default nil: use the recipe's top-level `seed`, so one number controls a run.
    public var seed: UInt64?
    /// Default `datasets/cache` (ignored by git): tokenizing once saves minutes on every rerun.
    /// `null` disables the cache.
    public var cacheDir: String?

    /// Keys of this section.
    public static let keys = [
        "datasets", "seq_len", "packing", "length_policy", "train_on_input", "train_on", "on_bad_record",
        "seed", "cache_dir",
    ]

    init(from f: RecipeFields) throws {
        let items = try f.list("datasets")
        if items.isEmpty { throw RecipeError.missingKey(source: f.sourceOf("datasets"), key: f.keyPath("datasets")) }
        datasets = try items.enumerated().map { i, item in
            try DataSection.dataset(
                from: RecipeFields(item, path: f.keyPath("datasets") + "[\(i)]", known: DataSection.datasetKeys, parentSource: item.source))
        }
        seqLen = try f.int("seq_len", default: 512, atLeast: 2)
        packing = try f.choice("packing", default: .pack)
        lengthPolicy = try f.choice("length_policy", default: .truncate)
        trainOnInput = try f.bool("train_on_input", default: false)
        trainOn = try f.choice("train_on", default: .allAssistant)
        onBadRecord = try f.choice("on_bad_record", default: .error)
        seed = try f.optionalUInt64("seed")
        // Present-and-null disables the cache; absent uses the default directory.
        if case .null? = f.rawValue("cache_dir") { cacheDir = nil } else { cacheDir = try f.string("cache_dir", default: "datasets/cache") }
    }

    /// Keys of one entry of `datasets:`.
    public static let datasetKeys = ["path", "format", "columns", "template", "weight", "split", "system"]

    /// Reads one dataset entry. Defaults: `format: auto` (the fields tell), no column renames,
    /// the format's template, `weight: 1` (each row once per epoch), `split: 0` (no held-out
    /// rows unless asked), no system prompt.
    static func dataset(from f: RecipeFields) throws -> DatasetSpec {
        DatasetSpec(
            path: try f.requiredString("path"),
            format: try f.choice("format", default: .auto),
            columns: try columns(f),
            template: try template(f),
            weight: try f.double("weight", default: 1, in: 0...1_000_000),
            validationFraction: try f.double("split", default: 0, in: 0...1, below: 1),
            systemPrompt: try f.optionalString("system"))
    }

    /// Every canonical field a column mapping may rename.
    static let canonicalFields = Array(Set(RecordFormat.allCases.flatMap(\.fields))).sorted()

    static func columns(_ f: RecipeFields) throws -> ColumnMapping {
        let c = try f.section("columns", known: canonicalFields)
        var renames: [String: String] = [:]
        for field in canonicalFields {
            if let name = try c.optionalString(field) { renames[field] = name }
        }
        return ColumnMapping(renames)
    }

    static func template(_ f: RecipeFields) throws -> TemplateKind? {
        guard let v = f.value("template") else { return nil }
        switch v {
        case let .scalar(name, _, source):
            if let t = TemplateKind(name: name) { return t }
            let hint = closest(to: name, in: TemplateKind.builtInNames).map { "; did you mean \($0)?" } ?? ""
            throw RecipeError.invalidValue(
                source: source, key: f.keyPath("template"),
                reason: "\"\(name)\" is not one of \(TemplateKind.builtInNames.joined(separator: ", ")) (or a mapping with system, user, assistant)\(hint)")
        case .mapping:
            let c = try f.section("template", known: ["system", "user", "assistant", "eos"])
            let t = CustomTemplate(
                system: try c.string("system", default: "{system}\n\n"),
                user: try c.requiredString("user"),
                assistant: try c.requiredString("assistant"),
                appendEOS: try c.bool("eos", default: true))
            do { try t.validate() } catch let DatasetError.invalidTemplate(field, reason) {
                throw RecipeError.invalidValue(source: c.sourceOf(field), key: c.keyPath(field), reason: reason)
            }
            return .custom(t)
        default:
            throw RecipeError.wrongType(
                source: v.source, key: f.keyPath("template"), expected: "a template name or a mapping", found: v.typeDescription)
        }
    }

    /// The pipeline configuration, with `recipeSeed` used when `data.seed` is unset.
    public func config(recipeSeed: UInt64) -> DataConfig {
        DataConfig(
            datasets: datasets, seqLen: seqLen, packing: packing, lengthPolicy: lengthPolicy,
            trainOnInput: trainOnInput, chatScope: trainOn, onBadRecord: onBadRecord,
            seed: seed ?? recipeSeed, cacheDirectory: cacheDir)
    }
}

extension RecipeFields {
    /// The value of `key` as written, null included.
    func rawValue(_ key: String) -> RecipeValue? { valueIncludingNull(key) }
}
