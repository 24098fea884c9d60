import Datasets
import Models
import Training
import Yams

/// A training recipe: everything a run needs, read strictly from YAML.
///
/// Each section is its own type whose keys are one table (`RecipeKey`): decoding, defaults,
/// the resolved recipe, the resume comparison and the data-parallel ranks' hash all come
/// from those tables. A new key is one line in its section's table.
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
    /// Preference tuning (DPO, IPO; Recipe+Preference.swift); nil for supervised fine-tuning.
    public var preference: PreferenceSection?
    /// The file the recipe came from (names the default output directory).
    public var file: String

    /// The top-level keys; a misspelt one is reported with the closest of these.
    public static let sections = ["seed", "tokenizer", "data", "model", "finetune", "training", "eval", "output", "preference"]

    init(from root: RecipeValue, file: String) throws {
        let f = try RecipeFields(root, path: "", known: Self.sections, parentSource: file)
        self.file = file
        seed = try f.uint64("seed", default: 0)
        tokenizer = try Self.read(TokenizerSection(), "tokenizer", f)
        data = try Self.read(DataSection(), "data", f)
        model = try Self.read(ModelSection(), "model", f)
        if tokenizer.path == nil && tokenizer.train == nil && model.initFrom == nil {
            // Named as the missing `path`: the common case is an existing tokenizer.
            let t = try f.section("tokenizer", known: TokenizerSection.keyNames)
            throw RecipeError.missingKey(source: t.source, key: t.keyPath("path"))
        }
        finetune = try Self.read(FinetuneSection(family: model.family), "finetune", f)
        try finetune.check(model: model, f.section("finetune", known: FinetuneSection.keyNames))
        training = try Self.read(TrainingSection(), "training", f)
        eval = try Self.read(EvalSection(), "eval", f)
        try Self.checkValidationUse(training: training, eval: eval, f)
        output = try Self.read(OutputSection(recipeFile: file), "output", f)
        preference = f.value("preference") == nil ? nil : try Self.read(PreferenceSection(), "preference", f)
    }

    /// `training.keep_best` and `training.early_stopping_patience` compare evaluations of the
    /// validation loss, which only `eval.every` schedules during the run (with 0 there is one,
    /// after the last step): refused naming the key, rather than silently doing nothing.
    private static func checkValidationUse(training: TrainingSection, eval: EvalSection, _ f: RecipeFields) throws {
        guard eval.every == 0 else { return }
        let t = try f.section("training", known: TrainingSection.keyNames)
        if training.options.earlyStoppingPatience > 0 {
            throw RecipeError.invalidValue(
                source: t.sourceOf("early_stopping_patience"), key: t.keyPath("early_stopping_patience"),
                reason: "early stopping counts validation evaluations, and eval.every is 0 (one evaluation, after the last step); set eval.every to evaluate during the run")
        }
        if training.options.keepBest {
            throw RecipeError.invalidValue(
                source: t.sourceOf("keep_best"), key: t.keyPath("keep_best"),
                reason: "the best checkpoint is chosen among validation evaluations, and eval.every is 0 (one evaluation, after the last step); set eval.every to evaluate during the run")
        }
    }

    /// `defaults` with the keys of section `name` read into it, then its own checks.
    private static func read<S: RecipeSection & CheckedSection>(_ defaults: S, _ name: String, _ f: RecipeFields) throws -> S {
        var s = defaults
        let fields = try f.section(name, known: S.keyNames)
        try s.read(fields)
        try s.check(fields)
        return s
    }

    /// Every key of the recipe as `(dotted key, resolved text, resume rule, per rank)`, in
    /// resolved order: what the resume comparison and the ranks' hash compare.
    var flattened: [(key: String, value: String, resume: ResumeRule, perRank: Bool)] {
        [("seed", "\(seed)", .mayChange, false)] + tokenizer.flattened(path: "tokenizer") + data.flattened(path: "data")
            + model.flattened(path: "model") + finetune.flattened(path: "finetune") + training.flattened(path: "training")
            + eval.flattened(path: "eval") + output.flattened(path: "output")
            + (preference?.flattened(path: "preference") ?? [("preference", "(none)", .mustMatch, false)])
    }

    /// The data pipeline's configuration: `data.seed` if set, else the recipe's `seed`.
    public var dataConfig: DataConfig {
        var c = data.config
        c.seed = data.seed ?? seed
        c.preference = preference.map { PreferenceDataOptions(promptOverflow: $0.promptOverflow) }
        return c
    }

    /// The training options, with the recipe's top-level `seed` unless `training.seed` is set,
    /// and the validation cadence of `eval:`.
    public var trainingOptions: TrainingOptions {
        var o = training.options
        o.evalEvery = eval.every
        o.evalBatches = eval.batches
        o.tensorBoard = output.tensorboard
        o.seed = training.seed ?? seed
        return o
    }
}

/// A section whose keys, once read, are checked together (a key that needs another).
protocol CheckedSection {
    /// Checks that span keys; `f` locates the keys in errors.
    func check(_ f: RecipeFields) throws
}

extension CheckedSection {
    func check(_ f: RecipeFields) throws {}
}

/// `tokenizer:` — where the tokenizer lives, or how to train one from the data.
/// At most one of `path` and `train` is given, and one of them unless `model.init` names a
/// checkpoint, whose tokenizer is then used: no default can match the data and model a user
/// has in mind.
public struct TokenizerSection: Equatable, Sendable, RecipeSection, CheckedSection {
    /// A HF `tokenizer.json`, a GPT-2 directory (vocab.json + merges.txt) or a llama2.c
    /// `tokenizer.bin`.
    public var path: String?
    /// Train a byte-level BPE on the training data's text instead (deterministic; the
    /// result is written to the run directory as `tokenizer.json`).
    public var train: TokenizerTraining?

    static let keys: [RecipeKey<TokenizerSection>] = [
        .string("path", \.path, resume: .mustMatch),
        .section("train", \.train, default: TokenizerTraining.init, resume: .mustMatch),
    ]

    func check(_ f: RecipeFields) throws {
        if path != nil && train != nil {
            throw RecipeError.invalidValue(
                source: f.sourceOf("train"), key: f.keyPath("train"),
                reason: "give either tokenizer.path (an existing tokenizer) or tokenizer.train (train one from the data), not both")
        }
    }
}

/// `tokenizer.train:` — options for training a BPE vocabulary on the data.
public struct TokenizerTraining: Equatable, Sendable, RecipeSection {
    /// Vocabulary size including specials and the 256 bytes. Default 1024: small models
    /// trained from scratch learn a small vocabulary faster.
    public var vocabSize = 1024
    /// Special tokens, ids 0.. in order. Default `<|endoftext|>` (the EOS).
    public var specialTokens = ["<|endoftext|>"]
    /// A pair must occur this often to be merged. Default 2: merges seen once are noise.
    public var minFrequency = 2

    static let keys: [RecipeKey<TokenizerTraining>] = [
        .int("vocab_size", \.vocabSize, atLeast: 257),
        .int("min_frequency", \.minFrequency, atLeast: 1),
        .textList("special_tokens", \.specialTokens),
    ]
}

/// `data:` — the datasets and how they become packed rows: the keys map onto
/// `Datasets.DataConfig` (whose doc comments say what each does).
public struct DataSection: Equatable, Sendable, RecipeSection {
    /// The pipeline's settings. Defaults, each with its reason: `datasets` required and
    /// non-empty (there is nothing to train on otherwise); `seq_len` 512 (the context of the
    /// small models InstructKit targets, long enough that most instruction examples fit
    /// whole); `packing: pack` (several examples per row wastes far less compute than
    /// padding); `length_policy: truncate` (long examples still teach their response's end;
    /// `drop` is stricter); `train_on_input: false` (instruction tuning trains on responses
    /// only); `train_on: all_assistant` (every assistant turn is a valid answer to learn
    /// from); `on_bad_record: error` (bad data should be seen and fixed, not silently
    /// thinned); `cache_dir: datasets/cache` (ignored by git: tokenizing once saves minutes
    /// on every rerun; `null` disables the cache).
    public var config = DataConfig(datasets: [], cacheDirectory: "datasets/cache")
    /// Default nil: use the recipe's top-level `seed`, so one number controls a run.
    public var seed: UInt64?

    static let keys: [RecipeKey<DataSection>] = [
        .datasets("datasets", \.config.datasets),
        .int("seq_len", \.config.seqLen, atLeast: 2),
        .choice("packing", \.config.packing),
        .choice("length_policy", \.config.lengthPolicy),
        .bool("train_on_input", \.config.trainOnInput),
        .choice("train_on", \.config.chatScope),
        .choice("on_bad_record", \.config.onBadRecord),
        .uint64("seed", \.seed),
        RecipeKey("cache_dir",
                  // Present-and-null disables the cache; absent uses the default directory.
                  read: { s, f in
                      if case .null? = f.valueIncludingNull("cache_dir") { s.config.cacheDirectory = nil } else {
                          s.config.cacheDirectory = try f.string("cache_dir", default: "datasets/cache")
                      }
                  },
                  write: { s in s.config.cacheDirectory.map(Node.quoted) ?? Node("null") }),
    ]
}

extension DataSection: CheckedSection {}

/// One entry of `data.datasets`: `Datasets.DatasetSpec`'s keys. Defaults: `format: auto`
/// (the fields tell), no column renames, the format's template, `weight: 1` (each row once
/// per epoch), `split: 0` (no held-out rows unless asked), no system prompt.
extension DatasetSpec: RecipeSection {
    static let keys: [RecipeKey<DatasetSpec>] = [
        .requiredString("path", \.path),
        .choice("format", \.format),
        RecipeKey("columns", read: { s, f in s.columns = try DataSection.columns(f) }, write: { s in
            s.columns.renames.isEmpty ? nil
                : .flowMapping(s.columns.renames.sorted { $0.key < $1.key }.map { ($0.key, Node.quoted($0.value)) })
        }),
        RecipeKey("template", read: { s, f in s.template = try DataSection.template(f) }, write: { s in
            switch s.template {
            case nil: return nil
            case let .custom(t)?:
                return .flowMapping([("system", .quoted(t.system)), ("user", .quoted(t.user)), ("assistant", .quoted(t.assistant)),
                                     ("eos", .plain(t.appendEOS))])
            case let t?: return Node(t.name)
            }
        }),
        .double("weight", \.weight, in: 0...1_000_000),
        .double("split", \.validationFraction, in: 0...1, below: 1),
        .string("system", \.systemPrompt),
    ]
}

extension DataSection {
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
}

extension RecipeKey {
    /// `data.datasets`: a required, non-empty list of dataset entries.
    static func datasets(_ name: String, _ path: WritableKeyPath<Section, [DatasetSpec]>) -> RecipeKey {
        RecipeKey(name, read: { s, f in
            let items = try f.list(name)
            if items.isEmpty { throw RecipeError.missingKey(source: f.sourceOf(name), key: f.keyPath(name)) }
            s[keyPath: path] = try items.enumerated().map { i, item in
                var spec = DatasetSpec(path: "")
                try spec.read(RecipeFields(item, path: f.keyPath(name) + "[\(i)]", known: DatasetSpec.keyNames,
                                           parentSource: item.source))
                return spec
            }
        }, write: { s in .sequence(.init(s[keyPath: path].map(\.resolved))) })
    }

    /// A list of non-empty texts, written in flow style.
    static func textList(_ name: String, _ path: WritableKeyPath<Section, [String]>, resume: ResumeRule = .mayChange) -> RecipeKey {
        RecipeKey(name, resume: resume, read: { s, f in
            guard f.value(name) != nil else { return }
            s[keyPath: path] = try f.texts(name)
        }, write: { s in .flowList(s[keyPath: path].map(Node.quoted)) })
    }
}
