/// One dataset file and how to read it. Built by `Recipes` from a recipe's `data.datasets`.
public struct DatasetSpec: Equatable, Sendable {
    /// Path to a JSONL or JSON array file.
    public var path: String
    /// Record format; `.auto` detects it from the first record's fields.
    public var format: RecordFormat
    /// Column renames (canonical name -> file field name).
    public var columns: ColumnMapping
    /// Template; nil uses the format's default (alpaca, plain or chatml).
    public var template: TemplateKind?
    /// Sampling weight: rows of this dataset per epoch = weight x its rows (0.5 = a fresh
    /// random half each epoch, 2 = every row twice).
    public var weight: Double
    /// Fraction of examples held out for validation, in 0..<1 (chosen by the seed).
    public var validationFraction: Double
    /// System prompt for records without a system turn; nil adds none.
    public var systemPrompt: String?

    /// A dataset spec with the recipe defaults.
    public init(
        path: String, format: RecordFormat = .auto, columns: ColumnMapping = ColumnMapping(),
        template: TemplateKind? = nil, weight: Double = 1, validationFraction: Double = 0,
        systemPrompt: String? = nil
    ) {
        self.path = path
        self.format = format
        self.columns = columns
        self.template = template
        self.weight = weight
        self.validationFraction = validationFraction
        self.systemPrompt = systemPrompt
    }
}

/// Everything that turns dataset files into packed rows. Built by `Recipes` from `data:`.
public struct DataConfig: Equatable, Sendable {
    /// The datasets, mixed by weight.
    public var datasets: [DatasetSpec]
    /// Row length T in tokens.
    public var seqLen: Int
    /// Packing or one example per row.
    public var packing: PackingMode
    /// What to do with examples longer than `seqLen`.
    public var lengthPolicy: LengthPolicy
    /// Train on prompt tokens too.
    public var trainOnInput: Bool
    /// Which assistant turns of a chat are trained.
    public var chatScope: ChatTrainingScope
    /// Stop on bad records, or skip and count them.
    public var onBadRecord: BadRecordPolicy
    /// Seed of the validation split and of the loader's shuffles.
    public var seed: UInt64
    /// Directory for cache files; nil disables the cache.
    public var cacheDirectory: String?
    /// The template of datasets that name none, instead of their format's default: the chat
    /// template of the model being fine-tuned (`model.init`'s), so it learns in its own format.
    public var defaultTemplate: TemplateKind? = nil
    /// Preference pairs instead of SFT examples (a recipe's `preference:` section): one row per
    /// pair, chosen side then rejected side (PreferencePair.swift). Nil for supervised data.
    public var preference: PreferenceDataOptions? = nil

    /// A configuration with the recipe defaults.
    public init(
        datasets: [DatasetSpec], seqLen: Int = 512, packing: PackingMode = .pack,
        lengthPolicy: LengthPolicy = .truncate, trainOnInput: Bool = false,
        chatScope: ChatTrainingScope = .allAssistant, onBadRecord: BadRecordPolicy = .error,
        seed: UInt64 = 0, cacheDirectory: String? = nil
    ) {
        self.datasets = datasets
        self.seqLen = seqLen
        self.packing = packing
        self.lengthPolicy = lengthPolicy
        self.trainOnInput = trainOnInput
        self.chatScope = chatScope
        self.onBadRecord = onBadRecord
        self.seed = seed
        self.cacheDirectory = cacheDirectory
    }

    /// Checks values the pipeline cannot use.
    public func validate() throws {
        if datasets.isEmpty { throw DatasetError.invalidOption(field: "datasets", reason: "at least one dataset is needed") }
        if seqLen < 2 { throw DatasetError.invalidOption(field: "seq_len", reason: "must be at least 2, got \(seqLen)") }
        for (i, d) in datasets.enumerated() {
            if !(d.weight >= 0 && d.weight.isFinite) {
                throw DatasetError.invalidOption(field: "datasets[\(i)].weight", reason: "must be a finite number >= 0, got \(d.weight)")
            }
            if !(d.validationFraction >= 0 && d.validationFraction < 1) {
                throw DatasetError.invalidOption(field: "datasets[\(i)].split", reason: "must be in [0, 1), got \(d.validationFraction)")
            }
            if case let .custom(t)? = d.template { try t.validate() }
        }
    }
}
