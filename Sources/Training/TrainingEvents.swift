import Foundation

/// One optimizer step's metrics: a line of metrics.jsonl.
public struct StepMetrics: Codable, Sendable, Equatable {
    public var step: Int
    public var epoch: Int
    /// Mean loss over the step's trained tokens; nil when the step had none (skipped update).
    public var loss: Double?
    public var lr: Double
    public var gradNorm: Double?
    /// Non-padding tokens processed in this step.
    public var tokens: Int
    /// Tokens whose target was trained in this step.
    public var trainedTokens: Int
    /// Non-padding tokens per second of this step.
    public var tokensPerSecond: Double
    /// Trained tokens per second of this step.
    public var trainedTokensPerSecond: Double
    /// Seconds since the run started (resumed runs continue the count).
    public var elapsedSeconds: Double
    /// Data parallel: seconds of this step's gradient all-reduce (flattening the gradients
    /// and the MPI_Allreduce; included in the step's time). Nil, and absent from
    /// metrics.jsonl, for one process.
    public var allreduceSeconds: Double? = nil
    /// Data parallel: seconds this rank waited for the slowest rank before the gradient
    /// all-reduce (the counts' all-reduce). Nil for one process.
    public var rankWaitSeconds: Double? = nil

    public init(step: Int, epoch: Int, loss: Double?, lr: Double, gradNorm: Double?, tokens: Int, trainedTokens: Int,
                tokensPerSecond: Double, trainedTokensPerSecond: Double, elapsedSeconds: Double) {
        self.step = step
        self.epoch = epoch
        self.loss = loss
        self.lr = lr
        self.gradNorm = gradNorm
        self.tokens = tokens
        self.trainedTokens = trainedTokens
        self.tokensPerSecond = tokensPerSecond
        self.trainedTokensPerSecond = trainedTokensPerSecond
        self.elapsedSeconds = elapsedSeconds
    }

    enum CodingKeys: String, CodingKey {
        case step, epoch, loss, lr
        case gradNorm = "grad_norm", tokens, trainedTokens = "trained_tokens"
        case tokensPerSecond = "tokens_per_s", trainedTokensPerSecond = "trained_tokens_per_s"
        case elapsedSeconds = "elapsed_s", allreduceSeconds = "allreduce_s", rankWaitSeconds = "rank_wait_s"
    }
}

/// Validation metrics at one step: a line of metrics.jsonl.
public struct EvalMetrics: Codable, Sendable, Equatable {
    public var step: Int
    public var evalLoss: Double
    public var evalPerplexity: Double
    public var evalTokens: Int

    public init(step: Int, evalLoss: Double, evalPerplexity: Double, evalTokens: Int) {
        self.step = step
        self.evalLoss = evalLoss
        self.evalPerplexity = evalPerplexity
        self.evalTokens = evalTokens
    }

    enum CodingKeys: String, CodingKey {
        case step, evalLoss = "eval_loss", evalPerplexity = "eval_ppl", evalTokens = "eval_tokens"
    }
}

/// What a run reports as it goes. The command line turns these into a progress bar or
/// plain lines; libraries never print.
public enum TrainingEvent: Sendable {
    /// The run is about to take its first step (or first step after resuming).
    case started(totalSteps: Int, startStep: Int, parameterCount: Int, rowsPerEpoch: Int)
    case step(StepMetrics)
    case eval(EvalMetrics)
    /// Something the user should know that does not stop the run.
    case warning(String)
    /// A checkpoint was written (periodically, on a stop request, or at the end).
    case checkpoint(step: Int, directory: URL)
    case finished(TrainingSummary)
}

/// The end of a run.
public struct TrainingSummary: Codable, Sendable, Equatable {
    public var steps: Int
    public var tokens: Int
    public var trainedTokens: Int
    public var seconds: Double
    public var finalLoss: Double?
    public var finalEvalLoss: Double?
    /// Whether the run stopped early because `shouldStop` said so (Ctrl-C).
    public var stopped: Bool = false
    /// The last checkpoint written by this run, if any.
    public var checkpoint: URL? = nil
    /// Ranks of a data-parallel run (1 for one process).
    public var ranks: Int = 1
    /// Data parallel: seconds spent in the gradient all-reduce, and waiting for the slowest
    /// rank before it, over the steps of this process (nil for one process).
    public var allreduceSeconds: Double? = nil
    public var rankWaitSeconds: Double? = nil
    /// Steps taken by this process (not counting steps before a resume).
    public var stepsThisRun: Int = 0
}

/// Errors that stop training. Each says what to do next.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case invalidOptions([String])
    case nonFiniteLoss(step: Int, value: Double)
    case noTrainingData
    case io(path: String, reason: String)
    /// A checkpoint cannot be resumed with this run; each string names one difference.
    case resumeMismatch([String])
    /// A data-parallel run cannot start or continue (MPI missing, an MPI call failed).
    case distributed(String)
    /// The ranks' weights differ (weight hashes by rank) at a step.
    case replicasDiverged(step: Int, hashes: [UInt64])
    /// LoRA adapters were trained on a base whose weights file had another SHA-256.
    case baseMismatch(file: String, expected: String, found: String, checkpoint: String)

    public var description: String {
        switch self {
        case let .invalidOptions(p):
            return "invalid training options: " + p.joined(separator: "; ")
        case let .nonFiniteLoss(step, value):
            return "the loss became \(value) at step \(step); the weights were not updated with it. Lower training.lr or raise training.warmup_steps, and resume from the last checkpoint."
        case .noTrainingData:
            return "no training rows: every example was dropped or the datasets are empty. Run `instruct data inspect RECIPE` to see why."
        case let .io(path, reason):
            return "\(path): \(reason)"
        case let .baseMismatch(file, expected, found, checkpoint):
            return "\(file): this base weights file has SHA-256 \(found.prefix(16))..., but the LoRA adapters in \(checkpoint) were trained on one with \(expected.prefix(16))... (base_model.json). The adapters only fit the exact base they were trained on: restore that file (re-import the same model), or train new adapters on this base."
        case let .resumeMismatch(p):
            return "cannot resume: " + p.joined(separator: "; ")
                + ". Resume with the recipe the checkpoint was trained with, or start a new run in another output.dir."
        case let .distributed(reason):
            return "data-parallel run: \(reason)"
        case let .replicasDiverged(step, hashes):
            let list = hashes.enumerated().map { "rank \($0.offset): \(String($0.element, radix: 16))" }.joined(separator: ", ")
            return "the ranks' weights differ at step \(step) (\(list)); the gradient all-reduce did not give every rank "
                + "the same result. Resume from the last checkpoint; if it happens again, report it with the recipe and mpirun command."
        }
    }
}
