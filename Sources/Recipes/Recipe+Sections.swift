import Foundation
import Models
import NN
import Training
import Yams

/// `model:` — the decoder's shape. Defaults describe a small Llama that trains from scratch
/// on a CPU in minutes; each field's reason is beside it. Every key but `dropout` must match
/// when a run resumes: the weights are those of this shape.
public struct ModelSection: Equatable, Sendable, RecipeSection, CheckedSection {
    /// Default `llama`: RMSNorm, RoPE and SwiGLU train well at small sizes.
    public var family = ModelFamily.llama
    /// Default nil: the tokenizer's vocabulary size, so ids always fit.
    public var vocabSize: Int?
    /// Default nil: `data.seq_len`, the longest row the model will see.
    public var contextLength: Int?
    /// Default 128 (C).
    public var dim = 128
    /// Default 4.
    public var layers = 4
    /// Default 4 (head size 32).
    public var heads = 4
    /// Default nil: equal to `heads` (no grouped-query attention).
    public var kvHeads: Int?
    /// Default nil: 4 x dim for GPT-2, Llama's 8/3 x dim rounded up to 32.
    public var ffnDim: Int?
    /// Default 1e-5, as GPT-2 and Llama 2.
    public var normEps = 1e-5
    /// Default 10000, as Llama 2.
    public var ropeTheta = 10000.0
    /// Default true: a small model spends a large share of its weights on the embedding; tying halves it.
    public var tiedEmbeddings = true
    /// Default 0: short fine-tunes rarely overfit enough to need it, and it costs speed.
    public var dropout = 0.0
    /// Default none (fresh weights): a checkpoint (step directory, run directory or its
    /// `latest`, e.g. one written by `instruct import`) whose weights the run starts from.
    /// The shape (every key above but `dropout`) and the tokenizer come from its model card;
    /// a key the recipe also states must agree, or the run stops naming it.
    public var initFrom: String?
    /// The keys this section states (the others have their defaults); not part of its value.
    var stated = StatedKeys()

    static let keys: [RecipeKey<ModelSection>] = ([
        .choice("family", \.family, resume: .mustMatch),
        .int("vocab_size", \.vocabSize, atLeast: 1, resume: .mustMatch),
        .int("context_length", \.contextLength, atLeast: 1, resume: .mustMatch),
        .int("dim", \.dim, atLeast: 1, resume: .mustMatch),
        .int("layers", \.layers, atLeast: 1, resume: .mustMatch),
        .int("heads", \.heads, atLeast: 1, resume: .mustMatch),
        .int("kv_heads", \.kvHeads, atLeast: 1, resume: .mustMatch),
        .int("ffn_dim", \.ffnDim, atLeast: 1, resume: .mustMatch),
        .double("norm_eps", \.normEps, in: 0...1, below: 1, resume: .mustMatch),
        .double("rope_theta", \.ropeTheta, in: 1...1e9, resume: .mustMatch),
        .bool("tied_embeddings", \.tiedEmbeddings, resume: .mustMatch),
        .double("dropout", \.dropout, in: 0...1, below: 1),
        .string("init", \.initFrom, resume: .mustMatch),
    ] as [RecipeKey<ModelSection>]).map { key in
        RecipeKey(key.name, resume: key.resume, perRank: key.perRank, read: { s, f in
            try key.read(&s, f)
            if f.value(key.name) != nil { s.stated.keys.insert(key.name) }
        }, write: key.write)
    }

    /// The shape keys a model card fixes (all but `dropout` and `init`).
    static let shapeKeys = ["family", "vocab_size", "context_length", "dim", "layers", "heads", "kv_heads", "ffn_dim", "norm_eps",
                            "rope_theta", "tied_embeddings"]

    /// This section with the shape of `config` (the model card of `model.init`). A key this
    /// section states with another value throws naming the key, the two values and `path`.
    func taking(_ config: ModelConfig, from path: String, source: String) throws -> ModelSection {
        var s = self
        s.family = config.family
        s.vocabSize = config.vocabSize
        s.contextLength = config.contextLength
        s.dim = config.dim
        s.layers = config.layers
        s.heads = config.heads
        s.kvHeads = config.kvHeads
        s.ffnDim = config.ffnDim
        // Through the Float's shortest text, so 1e-5 reads 1e-05, not 9.999999747378752e-06.
        s.normEps = Double(config.normEps.description) ?? Double(config.normEps)
        s.ropeTheta = Double(config.ropeTheta.description) ?? Double(config.ropeTheta)
        s.tiedEmbeddings = config.tiedEmbeddings
        let mine = Dictionary(uniqueKeysWithValues: flattened(path: "").map { ($0.key, $0.value) })
        let theirs = Dictionary(uniqueKeysWithValues: s.flattened(path: "").map { ($0.key, $0.value) })
        for key in Self.shapeKeys where stated.keys.contains(key) {
            // Compared as the model uses them (Float), so 1e-5 written here equals the card's 1e-05.
            let same: Bool
            switch key {
            case "norm_eps": same = Float(normEps) == config.normEps
            case "rope_theta": same = Float(ropeTheta) == config.ropeTheta
            default: same = mine[key] == theirs[key]
            }
            if !same {
                throw RecipeError.invalidValue(
                    source: source, key: "model." + key,
                    reason: "\(mine[key] ?? "?") differs from \(theirs[key] ?? "?") in the model card of model.init (\(path)); remove the key (the shape comes from model.init) or make it agree")
            }
        }
        s.stated.keys.formUnion(Self.shapeKeys)
        return s
    }


    func check(_ f: RecipeFields) throws {
        if let problem = config(vocabSize: vocabSize ?? 1, seqLen: contextLength ?? 1).problems().first {
            throw RecipeError.invalidValue(source: f.source, key: f.path.isEmpty ? "model" : f.path, reason: problem)
        }
    }

    /// The model config, with the tokenizer's vocabulary and the data's row length filling
    /// the fields left unset.
    public func config(vocabSize tokenizerVocab: Int, seqLen: Int) -> ModelConfig {
        ModelConfig(family: family, vocabSize: vocabSize ?? tokenizerVocab, contextLength: contextLength ?? seqLen,
                    dim: dim, layers: layers, heads: heads, kvHeads: kvHeads, ffnDim: ffnDim,
                    normEps: Float(normEps), ropeTheta: Float(ropeTheta), tiedEmbeddings: tiedEmbeddings,
                    dropout: Float(dropout))
    }
}

/// The keys a section states, recorded while it is read; two sections with the same values are
/// equal whichever keys they state.
struct StatedKeys: Equatable, Sendable {
    var keys: Set<String> = []
    static func == (a: StatedKeys, b: StatedKeys) -> Bool { true }
}

/// `training:` — the keys of `Training.TrainingOptions`, whose doc comments give each
/// default and its reason. `batch_size` and `grad_accum` must match when a run resumes
/// (they change what a step and the data cursor mean); `threads` may differ between
/// data-parallel ranks (it changes only how a rank computes its share). `keep_best` and
/// `early_stopping_patience` decide on validation loss, so they need `eval.every` (checked
/// by `Recipe`, which sees both sections).
public struct TrainingSection: Equatable, Sendable, RecipeSection, CheckedSection {
    /// The options, with `seed`, `evalEvery` and `evalBatches` filled by `Recipe.trainingOptions`.
    public var options = TrainingOptions()
    /// `training.seed`; default nil: the recipe's top-level seed.
    public var seed: UInt64?

    static let keys: [RecipeKey<TrainingSection>] = [
        .int("batch_size", \.options.microBatchSize, atLeast: 1, resume: .mustMatch),
        .int("grad_accum", \.options.gradientAccumulation, atLeast: 1, resume: .mustMatch),
        // Upper bounds: a billion steps is weeks of the fastest tiny run; the step count,
        // progress and schedule arithmetic stay far from overflow below them.
        .int("max_steps", \.options.maxSteps, atLeast: 1, atMost: 1_000_000_000),
        .int("epochs", \.options.epochs, atLeast: 1, atMost: 1_000_000),
        .double("lr", \.options.lr, in: 1e-12...10),
        .double("min_lr_ratio", \.options.minLRRatio, in: 0...1),
        .choice("schedule", \.options.schedule),
        .int("warmup_steps", \.options.warmupSteps, atLeast: 0),
        .double("weight_decay", \.options.weightDecay, in: 0...10),
        .double("beta1", \.options.beta1, in: 0...1, below: 1),
        .double("beta2", \.options.beta2, in: 0...1, below: 1),
        .double("eps", \.options.adamEps, in: 0...1),
        .double("grad_clip", \.options.gradClip, in: 0...1e9),
        // May change on resume: it trades memory for time and changes no number.
        .bool("activation_checkpointing", \.options.activationCheckpointing),
        .int("log_every", \.options.logEvery, atLeast: 1),
        .int("threads", \.options.threads, atLeast: 1, atMost: 1024, perRank: true),
        // May change on resume (reported): weights and moments are float32 either way.
        .choice("precision", \.options.precision),
        .uint64("seed", \.seed),
        .int("save_every", \.options.saveEvery, atLeast: 0),
        .int("keep_last", \.options.keepLast, atLeast: 1),
        // keep_best and early stopping may change on resume: the best loss and the count of
        // evaluations since are always saved in trainer_state.json, whatever these say.
        .bool("keep_best", \.options.keepBest),
        .int("early_stopping_patience", \.options.earlyStoppingPatience, atLeast: 0, atMost: 1_000_000),
        .double("early_stopping_min_delta", \.options.earlyStoppingMinDelta, in: 0...1e6),
        .int("sync_check_every", \.options.syncCheckEvery, atLeast: 0),
    ]
}

/// `eval:` — validation loss during training, and accuracy on verifiable prompts.
public struct EvalSection: Equatable, Sendable, RecipeSection, CheckedSection {
    /// Evaluate validation loss every this many steps (0: only at the end). Default 0.
    public var every = 0
    /// At most this many validation batches per evaluation (0: all). Default 0.
    public var batches = 0
    /// A held-out file from `instruct data synth`: greedy answers are scored with its
    /// checker before and after training. Default none.
    public var synth: String?
    /// Score at most this many synth records (0: all). Default 0.
    public var synthLimit = 0
    /// Longest generated answer in tokens. Default 48: synth answers are short.
    public var maxNewTokens = 48
    /// A fixed prompt set answered at every checkpoint into `RUN/samples.jsonl`. Default
    /// none: sampling costs generation time at every save.
    public var samples: SamplesSection?

    static let keys: [RecipeKey<EvalSection>] = [
        .int("every", \.every, atLeast: 0),
        .int("batches", \.batches, atLeast: 0),
        .string("synth", \.synth),
        .int("synth_limit", \.synthLimit, atLeast: 0),
        .int("max_new_tokens", \.maxNewTokens, atLeast: 1),
        .section("samples", \.samples, default: { SamplesSection(prompts: .inline([])) }),
    ]
}

/// `eval.samples:` — prompts answered with the weights of every checkpoint as it is saved;
/// one line `{step, prompt, response}` per prompt is appended to `RUN/samples.jsonl`, so a
/// run shows how its answers change.
public struct SamplesSection: Equatable, Sendable, RecipeSection {
    /// Where the prompts come from.
    public enum Prompts: Equatable, Sendable {
        /// Written in the recipe.
        case inline([String])
        /// A file: JSONL with a string `prompt` per line (and an optional `input`), or plain
        /// text with one prompt per non-blank line.
        case file(String)
    }
    /// Required: there is no sensible default prompt set.
    public var prompts: Prompts
    /// Longest answer in tokens. Default 32: samples are for reading, and each costs time at every save.
    public var maxNewTokens: Int
    /// Default 0 (greedy): the same weights always give the same sample, so lines of two
    /// checkpoints differ only because the weights did. Above 0, sampling is seeded with
    /// the recipe seed and the step.
    public var temperature: Double

    public init(prompts: Prompts, maxNewTokens: Int = 32, temperature: Double = 0) {
        self.prompts = prompts
        self.maxNewTokens = maxNewTokens
        self.temperature = temperature
    }

    static let keys: [RecipeKey<SamplesSection>] = [
        .int("max_new_tokens", \.maxNewTokens, atLeast: 1),
        .double("temperature", \.temperature, in: 0...10),
        RecipeKey("prompts", read: { s, f in
            switch f.value("prompts") {
            case nil:
                throw RecipeError.missingKey(source: f.source, key: f.keyPath("prompts"))
            case let .scalar(path, _, _)?:
                s.prompts = .file(path)
            case .sequence?:
                let list = try f.texts("prompts")
                if list.isEmpty {
                    throw RecipeError.invalidValue(source: f.sourceOf("prompts"), key: f.keyPath("prompts"), reason: "is empty; give at least one prompt")
                }
                s.prompts = .inline(list)
            case let v?:
                throw RecipeError.wrongType(source: v.source, key: f.keyPath("prompts"),
                                            expected: "a list of prompts or a file path", found: v.typeDescription)
            }
        }, write: { s in
            switch s.prompts {
            case let .inline(list): return .flowList(list.map(Node.quoted))
            case let .file(path): return .quoted(path)
            }
        }),
    ]
}

/// `output:` — where the run writes.
public struct OutputSection: Equatable, Sendable, RecipeSection, CheckedSection {
    /// Default `checkpoints/NAME`, NAME being the recipe file's name without extension.
    public var dir: String
    /// Also write TensorBoard event files into `DIR/tensorboard/` (`TrainingOptions.tensorBoard`).
    /// Default false.
    public var tensorboard = false

    init(recipeFile: String) {
        let stem = URL(fileURLWithPath: recipeFile).deletingPathExtension().lastPathComponent
        dir = "checkpoints/" + (stem.isEmpty || stem.hasPrefix("<") ? "run" : stem)
    }

    static let keys: [RecipeKey<OutputSection>] = [
        .string("dir", \.dir),
        .bool("tensorboard", \.tensorboard),
    ]

    /// A stated `dir` must name a folder: an empty or null one (`output.dir=`) is refused
    /// rather than read as "the default", which would write into another run's folder.
    func check(_ f: RecipeFields) throws {
        let stated = f.valueIncludingNull("dir")
        if case .null? = stated {
            throw RecipeError.invalidValue(source: f.sourceOf("dir"), key: f.keyPath("dir"),
                                           reason: "is empty; give the run folder to write, or remove the key for the default \(dir)")
        }
        if stated != nil && dir.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw RecipeError.invalidValue(source: f.sourceOf("dir"), key: f.keyPath("dir"),
                                           reason: "is empty; give the run folder to write, or remove the key for the default")
        }
    }
}
