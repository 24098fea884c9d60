import Autograd
import NN

/// Hyper-parameters of a supervised fine-tuning run. Defaults are those of small-model
/// SFT recipes in torchtune / TRL, scaled to a CPU; each says why.
public struct TrainingOptions: Codable, Sendable, Equatable {
    /// Rows per micro-batch (B). Default 8: fills two cores at T = 256 without wasting memory.
    public var microBatchSize: Int = 8
    /// Micro-batches per optimizer step. Default 1. The loss is the sum over trained tokens
    /// of all micro-batches divided by their total count, so k micro-batches of B rows equal
    /// one batch of k*B rows.
    public var gradientAccumulation: Int = 1
    /// Optimizer steps to run; nil runs `epochs` full passes. Default nil.
    public var maxSteps: Int? = nil
    /// Passes over the training rows when `maxSteps` is nil. Default 1.
    public var epochs: Int = 1
    /// Peak learning rate. Default 3e-4: AdamW's usual choice for small decoders.
    public var lr: Double = 3e-4
    /// Learning rate at the end of the schedule, as a fraction of `lr`. Default 0.1.
    public var minLRRatio: Double = 0.1
    /// Schedule after warmup. Default cosine.
    public var schedule: ScheduleKind = .cosine
    /// Linear warmup steps. Default 10.
    public var warmupSteps: Int = 10
    /// AdamW decoupled weight decay (not on norms, biases, embeddings). Default 0.0: SFT
    /// runs are short, and decay mostly matters for long pre-training.
    public var weightDecay: Double = 0.0
    /// AdamW betas and epsilon. Defaults 0.9, 0.999, 1e-8 (torch.optim.AdamW).
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    public var adamEps: Double = 1e-8
    /// Global gradient-norm clip; 0 disables. Default 1.0.
    public var gradClip: Double = 1.0
    /// Evaluate on the validation split every this many steps; 0 only at the end. Default 0.
    public var evalEvery: Int = 0
    /// At most this many validation batches per evaluation; 0 means all. Default 0.
    public var evalBatches: Int = 0
    /// Log a metrics line every this many steps. Default 1.
    public var logEvery: Int = 1
    /// BLAS threads. Default 2 (the cores of the machines we target); the loss is
    /// bit-identical for the same thread count.
    public var threads: Int = 2
    /// Number format of the training step's large matrix products: float32, or bf16
    /// (operands rounded to bfloat16, float32 accumulation; weights, gradients and AdamW
    /// state stay float32; only on CPUs with AVX512_BF16, see `Precision`). Default float32:
    /// bf16 is opt-in until it shows both speed and an unchanged loss curve on a run
    /// (docs/performance.md, "Mixed precision (bf16)"). Validation loss is always float32.
    public var precision: Precision = .float32
    /// Keep only each transformer block's input in the forward pass and run the block again
    /// in the backward pass (activation checkpointing; DecoderModel+Checkpointing.swift).
    /// Default false: it saves most of the activations' memory but costs a second forward
    /// pass of the blocks; the losses and weights are the same bits either way.
    public var activationCheckpointing = false
    /// Seed of dropout draws and parameter initialisation.
    public var seed: UInt64 = 0
    /// Save a checkpoint every this many optimizer steps; 0 saves only at the end (and on
    /// Ctrl-C). Default 0: a checkpoint of a small model is cheap, but most quick runs
    /// finish in minutes and the end-of-run save is enough; long runs set it.
    public var saveEvery: Int = 0
    /// Keep only the newest this many checkpoints of the run; nil keeps all. Default nil:
    /// deleting a user's checkpoints is opt-in.
    public var keepLast: Int? = nil
    /// Keep the checkpoint with the lowest validation loss: a checkpoint is saved at every
    /// evaluation that improves on the best (beside `saveEvery`'s), `RUN/best` names it, and
    /// `keepLast` never prunes it. Default false: it costs a save per improvement.
    public var keepBest = false
    /// Stop when this many evaluations in a row (every `evalEvery` steps) have not lowered the
    /// best validation loss by more than `earlyStoppingMinDelta`; 0 never stops early.
    /// Default 0: a short SFT run is usually meant to run its steps.
    public var earlyStoppingPatience = 0
    /// The improvement in validation loss that counts for early stopping and `keepBest`.
    /// Default 0: any decrease counts (as Keras and Hugging Face).
    public var earlyStoppingMinDelta = 0.0
    /// Data parallel: compare a hash of every rank's weights every this many steps and stop
    /// with `TrainingError.replicasDiverged` when they differ; 0 checks only at the start and
    /// the end. Default 0: the check is a debugging aid (hashing reads every weight).
    public var syncCheckEvery: Int = 0
    /// Also write the metrics as a TensorBoard event file in `RUN/tensorboard/`
    /// (`tensorboard --logdir RUN`). Default false: metrics.jsonl and metrics.csv are there
    /// anyway, and most runs are read without TensorBoard.
    public var tensorBoard = false

    public init() {}

    /// Problems with these options, each naming the option (the recipe reports the same
    /// limits naming its keys when it is read; this guards library callers).
    public func problems() -> [String] {
        var p: [String] = []
        if microBatchSize < 1 { p.append("microBatchSize must be at least 1") }
        if gradientAccumulation < 1 { p.append("gradientAccumulation must be at least 1") }
        if let m = maxSteps, m < 1 { p.append("maxSteps must be at least 1") }
        if epochs < 1 { p.append("epochs must be at least 1") }
        if !(lr > 0) { p.append("lr must be positive") }
        if !(minLRRatio >= 0 && minLRRatio <= 1) { p.append("minLRRatio must be in [0, 1]") }
        if warmupSteps < 0 { p.append("warmupSteps must be >= 0") }
        if threads < 1 { p.append("threads must be at least 1") }
        if logEvery < 1 { p.append("logEvery must be at least 1") }
        if saveEvery < 0 { p.append("saveEvery must be >= 0") }
        if let k = keepLast, k < 1 { p.append("keepLast must be at least 1") }
        if syncCheckEvery < 0 { p.append("syncCheckEvery must be >= 0") }
        if earlyStoppingPatience < 0 { p.append("earlyStoppingPatience must be >= 0") }
        if !(earlyStoppingMinDelta >= 0 && earlyStoppingMinDelta.isFinite) { p.append("earlyStoppingMinDelta must be finite and >= 0") }
        return p
    }
}
