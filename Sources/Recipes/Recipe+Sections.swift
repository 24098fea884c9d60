import Foundation
import Models
import NN
import Training

/// `model:` — the decoder's shape. Defaults describe a small Llama that trains from scratch
/// on a CPU in minutes; each field's reason is beside it.
public struct ModelSection: Equatable, Sendable {
    /// Default `llama`: RMSNorm, RoPE and SwiGLU train well at small sizes.
    public var family: ModelFamily
    /// Default nil: the tokenizer's vocabulary size, so ids always fit.
    public var vocabSize: Int?
    /// Default nil: `data.seq_len`, the longest row the model will see.
    public var contextLength: Int?
    /// Default 128 (C).
    public var dim: Int
    /// Default 4.
    public var layers: Int
    /// Default 4 (head size 32).
    public var heads: Int
    /// Default nil: equal to `heads` (no grouped-query attention).
    public var kvHeads: Int?
    /// Default nil: 4 x dim for GPT-2, Llama's 8/3 x dim rounded up to 32.
    public var ffnDim: Int?
    /// Default 1e-5, as GPT-2 and Llama 2.
    public var normEps: Double
    /// Default 10000, as Llama 2.
    public var ropeTheta: Double
    /// Default true: a small model spends a large share of its weights on the embedding; tying halves it.
    public var tiedEmbeddings: Bool
    /// Default 0: short fine-tunes rarely overfit enough to need it, and it costs speed.
    public var dropout: Double
    /// Default none (fresh weights): a checkpoint (step directory, run directory or its
    /// `latest`, e.g. one written by `instruct import`) whose weights the run starts from.
    /// They must match this section's shape; the error names each mismatching tensor.
    public var initFrom: String?

    public static let keys = ["family", "vocab_size", "context_length", "dim", "layers", "heads", "kv_heads",
                              "ffn_dim", "norm_eps", "rope_theta", "tied_embeddings", "dropout", "init"]

    init(from f: RecipeFields) throws {
        family = try f.choice("family", default: .llama)
        vocabSize = try f.value("vocab_size") == nil ? nil : f.int("vocab_size", default: 0, atLeast: 1)
        contextLength = try f.value("context_length") == nil ? nil : f.int("context_length", default: 0, atLeast: 1)
        dim = try f.int("dim", default: 128, atLeast: 1)
        layers = try f.int("layers", default: 4, atLeast: 1)
        heads = try f.int("heads", default: 4, atLeast: 1)
        kvHeads = try f.value("kv_heads") == nil ? nil : f.int("kv_heads", default: 0, atLeast: 1)
        ffnDim = try f.value("ffn_dim") == nil ? nil : f.int("ffn_dim", default: 0, atLeast: 1)
        normEps = try f.double("norm_eps", default: 1e-5, in: 0...1, below: 1)
        ropeTheta = try f.double("rope_theta", default: 10000, in: 1...1e9)
        tiedEmbeddings = try f.bool("tied_embeddings", default: true)
        dropout = try f.double("dropout", default: 0, in: 0...1, below: 1)
        initFrom = try f.optionalString("init")
        let config = self.config(vocabSize: vocabSize ?? 1, seqLen: contextLength ?? 1)
        if let problem = config.problems().first {
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

/// `training:` — maps onto `Training.TrainingOptions`, whose doc comments give each
/// default and its reason.
public struct TrainingSection: Equatable, Sendable {
    public var options: TrainingOptions

    public static let keys = ["batch_size", "grad_accum", "max_steps", "epochs", "lr", "min_lr_ratio", "schedule",
                              "warmup_steps", "weight_decay", "beta1", "beta2", "eps", "grad_clip", "log_every",
                              "threads", "seed", "save_every", "keep_last", "sync_check_every"]

    init(from f: RecipeFields) throws {
        var o = TrainingOptions()
        o.microBatchSize = try f.int("batch_size", default: o.microBatchSize, atLeast: 1)
        o.gradientAccumulation = try f.int("grad_accum", default: o.gradientAccumulation, atLeast: 1)
        o.maxSteps = try f.value("max_steps") == nil ? nil : f.int("max_steps", default: 1, atLeast: 1)
        o.epochs = try f.int("epochs", default: o.epochs, atLeast: 1)
        o.lr = try f.double("lr", default: o.lr, in: 1e-12...10)
        o.minLRRatio = try f.double("min_lr_ratio", default: o.minLRRatio, in: 0...1)
        o.schedule = try f.choice("schedule", default: o.schedule)
        o.warmupSteps = try f.int("warmup_steps", default: o.warmupSteps, atLeast: 0)
        o.weightDecay = try f.double("weight_decay", default: o.weightDecay, in: 0...10)
        o.beta1 = try f.double("beta1", default: o.beta1, in: 0...1, below: 1)
        o.beta2 = try f.double("beta2", default: o.beta2, in: 0...1, below: 1)
        o.adamEps = try f.double("eps", default: o.adamEps, in: 0...1)
        o.gradClip = try f.double("grad_clip", default: o.gradClip, in: 0...1e9)
        o.logEvery = try f.int("log_every", default: o.logEvery, atLeast: 1)
        o.threads = try f.int("threads", default: o.threads, atLeast: 1)
        if f.value("seed") != nil { o.seed = try f.uint64("seed", default: 0) }
        o.saveEvery = try f.int("save_every", default: o.saveEvery, atLeast: 0)
        o.keepLast = try f.value("keep_last") == nil ? nil : f.int("keep_last", default: 1, atLeast: 1)
        o.syncCheckEvery = try f.int("sync_check_every", default: o.syncCheckEvery, atLeast: 0)
        options = o
        explicitSeed = f.value("seed") != nil
    }

    /// Whether `training.seed` was given (else the recipe's top-level seed is used).
    public var explicitSeed: Bool
}

/// `eval:` — validation loss during training, and accuracy on verifiable prompts.
public struct EvalSection: Equatable, Sendable {
    /// Evaluate validation loss every this many steps (0: only at the end). Default 0.
    public var every: Int
    /// At most this many validation batches per evaluation (0: all). Default 0.
    public var batches: Int
    /// A held-out file from `instruct data synth`: greedy answers are scored with its
    /// checker before and after training. Default none.
    public var synth: String?
    /// Score at most this many synth records (0: all). Default 0.
    public var synthLimit: Int
    /// Longest generated answer in tokens. Default 48: synth answers are short.
    public var maxNewTokens: Int
    /// A fixed prompt set answered at every checkpoint into `RUN/samples.jsonl`. Default
    /// none: sampling costs generation time at every save.
    public var samples: SamplesSection?

    public static let keys = ["every", "batches", "synth", "synth_limit", "max_new_tokens", "samples"]

    init(from f: RecipeFields) throws {
        every = try f.int("every", default: 0, atLeast: 0)
        batches = try f.int("batches", default: 0, atLeast: 0)
        synth = try f.optionalString("synth")
        synthLimit = try f.int("synth_limit", default: 0, atLeast: 0)
        maxNewTokens = try f.int("max_new_tokens", default: 48, atLeast: 1)
        if f.value("samples") != nil {
            samples = try SamplesSection(from: f.section("samples", known: SamplesSection.keys))
        }
    }
}

/// `eval.samples:` — prompts answered with the weights of every checkpoint as it is saved;
/// one line `{step, prompt, response}` per prompt is appended to `RUN/samples.jsonl`, so a
/// run shows how its answers change.
public struct SamplesSection: Equatable, Sendable {
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

    public static let keys = ["prompts", "max_new_tokens", "temperature"]

    public init(prompts: Prompts, maxNewTokens: Int = 32, temperature: Double = 0) {
        self.prompts = prompts
        self.maxNewTokens = maxNewTokens
        self.temperature = temperature
    }

    init(from f: RecipeFields) throws {
        maxNewTokens = try f.int("max_new_tokens", default: 32, atLeast: 1)
        temperature = try f.double("temperature", default: 0, in: 0...10)
        switch f.value("prompts") {
        case nil:
            throw RecipeError.missingKey(source: f.source, key: f.keyPath("prompts"))
        case let .scalar(path, _, _)?:
            prompts = .file(path)
        case .sequence?:
            prompts = .inline(try f.list("prompts").enumerated().map { i, v in
                guard case let .scalar(text, _, _) = v, !text.isEmpty else {
                    throw RecipeError.wrongType(source: v.source, key: f.keyPath("prompts") + "[\(i)]",
                                                expected: "a non-empty string", found: v.typeDescription)
                }
                return text
            })
            if case .inline([]) = prompts {
                throw RecipeError.invalidValue(source: f.sourceOf("prompts"), key: f.keyPath("prompts"), reason: "is empty; give at least one prompt")
            }
        case let v?:
            throw RecipeError.wrongType(source: v.source, key: f.keyPath("prompts"),
                                        expected: "a list of prompts or a file path", found: v.typeDescription)
        }
    }
}

/// `output:` — where the run writes.
public struct OutputSection: Equatable, Sendable {
    /// Default `checkpoints/NAME`, NAME being the recipe file's name without extension.
    public var dir: String

    public static let keys = ["dir"]

    init(from f: RecipeFields, recipeFile: String) throws {
        let stem = URL(fileURLWithPath: recipeFile).deletingPathExtension().lastPathComponent
        dir = try f.string("dir", default: "checkpoints/" + (stem.isEmpty || stem.hasPrefix("<") ? "run" : stem))
    }
}

extension Recipe {
    /// The training options, with the recipe's top-level `seed` unless `training.seed` is set.
    public var trainingOptions: TrainingOptions {
        var o = training.options
        o.evalEvery = eval.every
        o.evalBatches = eval.batches
        if !training.explicitSeed { o.seed = seed }
        return o
    }
}
