import Autograd
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
    /// Preference runs: TRL's per-pair means over the step's pairs (`rewards/chosen`, ...,
    /// `logps/rejected`, flat in metrics.jsonl); nil, and absent, otherwise.
    public var preference: PreferenceMetrics? = nil

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

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        step = try c.decode(Int.self, forKey: .step)
        epoch = try c.decode(Int.self, forKey: .epoch)
        loss = try c.decodeIfPresent(Double.self, forKey: .loss)
        lr = try c.decode(Double.self, forKey: .lr)
        gradNorm = try c.decodeIfPresent(Double.self, forKey: .gradNorm)
        tokens = try c.decode(Int.self, forKey: .tokens)
        trainedTokens = try c.decode(Int.self, forKey: .trainedTokens)
        tokensPerSecond = try c.decode(Double.self, forKey: .tokensPerSecond)
        trainedTokensPerSecond = try c.decode(Double.self, forKey: .trainedTokensPerSecond)
        elapsedSeconds = try c.decode(Double.self, forKey: .elapsedSeconds)
        allreduceSeconds = try c.decodeIfPresent(Double.self, forKey: .allreduceSeconds)
        rankWaitSeconds = try c.decodeIfPresent(Double.self, forKey: .rankWaitSeconds)
        preference = try PreferenceMetrics(from: decoder, prefix: "")
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(step, forKey: .step)
        try c.encode(epoch, forKey: .epoch)
        try c.encodeIfPresent(loss, forKey: .loss)
        try c.encode(lr, forKey: .lr)
        try c.encodeIfPresent(gradNorm, forKey: .gradNorm)
        try c.encode(tokens, forKey: .tokens)
        try c.encode(trainedTokens, forKey: .trainedTokens)
        try c.encode(tokensPerSecond, forKey: .tokensPerSecond)
        try c.encode(trainedTokensPerSecond, forKey: .trainedTokensPerSecond)
        try c.encode(elapsedSeconds, forKey: .elapsedSeconds)
        try c.encodeIfPresent(allreduceSeconds, forKey: .allreduceSeconds)
        try c.encodeIfPresent(rankWaitSeconds, forKey: .rankWaitSeconds)
        try preference?.encode(to: encoder, prefix: "")
    }
}

/// Validation metrics at one step: a line of metrics.jsonl.
public struct EvalMetrics: Codable, Sendable, Equatable {
    public var step: Int
    public var evalLoss: Double
    public var evalPerplexity: Double
    public var evalTokens: Int
    /// Preference runs: TRL's per-pair means over the validation pairs (`eval_rewards/chosen`,
    /// ..., flat in metrics.jsonl); nil, and absent, otherwise.
    public var preference: PreferenceMetrics? = nil

    public init(step: Int, evalLoss: Double, evalPerplexity: Double, evalTokens: Int) {
        self.step = step
        self.evalLoss = evalLoss
        self.evalPerplexity = evalPerplexity
        self.evalTokens = evalTokens
    }

    enum CodingKeys: String, CodingKey {
        case step, evalLoss = "eval_loss", evalPerplexity = "eval_ppl", evalTokens = "eval_tokens"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        step = try c.decode(Int.self, forKey: .step)
        evalLoss = try c.decode(Double.self, forKey: .evalLoss)
        evalPerplexity = try c.decode(Double.self, forKey: .evalPerplexity)
        evalTokens = try c.decode(Int.self, forKey: .evalTokens)
        preference = try PreferenceMetrics(from: decoder, prefix: "eval_")
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(step, forKey: .step)
        try c.encode(evalLoss, forKey: .evalLoss)
        try c.encode(evalPerplexity, forKey: .evalPerplexity)
        try c.encode(evalTokens, forKey: .evalTokens)
        try preference?.encode(to: encoder, prefix: "eval_")
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
    /// `keepBest`: the checkpoint at `step` has the lowest validation loss so far and is now
    /// the run's `best`.
    case best(step: Int, evalLoss: Double, directory: URL)
    /// Early stopping: `patience` evaluations in a row did not improve on the validation loss
    /// of `bestStep`, so the run stops after `step`.
    case earlyStop(step: Int, bestStep: Int, bestEvalLoss: Double, patience: Int)
    case finished(RunSummary)
}

/// The end of a run: what `Trainer.train` returns and what `instruct train` writes to
/// `RUN/NAME.json` (Recipes adds the recipe and the held-out accuracy).
public struct RunSummary: Codable, Sendable, Equatable {
    /// The InstructKit version that ran (`InstructKitVersion.current`; nil when read from a
    /// summary written before versions were recorded).
    public var instructkitVersion: String? = InstructKitVersion.current
    /// The recipe file (set by Recipes).
    public var recipe: String?
    /// Optimizer steps taken in all (a resumed run counts those before the resume).
    public var steps: Int
    public var tokens: Int
    public var trainedTokens: Int
    /// Seconds spent in steps (continued across resumes).
    public var trainSeconds: Double
    public var finalLoss: Double?
    public var finalEvalLoss: Double?
    /// Scalar parameters of the model (the base's with LoRA).
    public var parameters: Int
    /// Held-out accuracy on `eval.synth` before and after training (nil without it).
    public var accuracyBefore: Double?
    public var accuracyAfter: Double?
    /// Per family: accuracy before and after, and the number of examples.
    public var perFamily: [String: FamilyAccuracy]?
    public var evalSeconds: Double?
    /// The step this run resumed from (nil for a fresh run).
    public var resumedFrom: Int?
    /// Whether the run stopped early on request (Ctrl-C); resume it with `--resume`.
    public var stopped = false
    /// The last checkpoint directory written by this run, if any.
    public var checkpoint: String?
    /// The step and value of the lowest validation loss of the run (resumes included); nil
    /// without validation data.
    public var bestStep: Int?
    public var bestEvalLoss: Double?
    /// `keepBest`: the checkpoint `RUN/best` names (nil when none was kept).
    public var bestCheckpoint: String?
    /// Early stopping (`earlyStoppingPatience` > 0): whether it ended the run before its last
    /// step; nil when early stopping is off.
    public var stoppedEarly: Bool?
    /// Data-parallel ranks (nil for one process).
    public var ranks: Int?
    /// Data parallel: mean seconds per step of this process spent in the gradient
    /// all-reduce, and waiting for the slowest rank before it (nil for one process).
    public var allreduceSecondsPerStep: Double?
    public var rankWaitSecondsPerStep: Double?
    /// The memory planner's estimate of this process's peak resident memory, made before
    /// training (`MemoryPlan.peak`), and the peak measured at the end
    /// (`MemoryStats.peakResidentBytes`), in MiB.
    public var estimatedPeakMiB: Double?
    public var peakResidentMiB: Double?
    /// Preference runs: the share of held-out pairs whose chosen answer has the higher reward
    /// (TRL's `rewards/accuracies`), at the start of this run and after its last step.
    public var rewardAccuracyBefore: Double?
    public var rewardAccuracyAfter: Double?

    public init(steps: Int, tokens: Int, trainedTokens: Int, trainSeconds: Double, parameters: Int) {
        self.steps = steps
        self.tokens = tokens
        self.trainedTokens = trainedTokens
        self.trainSeconds = trainSeconds
        self.parameters = parameters
    }

    /// One task family's held-out accuracy.
    public struct FamilyAccuracy: Codable, Sendable, Equatable {
        public var before: Double
        public var after: Double
        public var examples: Int

        public init(before: Double, after: Double, examples: Int) {
            self.before = before
            self.after = after
            self.examples = examples
        }
    }

    enum CodingKeys: String, CodingKey {
        case instructkitVersion = "instructkit_version"
        case recipe, steps, tokens, trainedTokens = "trained_tokens", trainSeconds = "train_seconds"
        case finalLoss = "final_loss", finalEvalLoss = "final_eval_loss", parameters
        case accuracyBefore = "accuracy_before", accuracyAfter = "accuracy_after", perFamily = "per_family"
        case evalSeconds = "eval_seconds", resumedFrom = "resumed_from", stopped, checkpoint
        case bestStep = "best_step", bestEvalLoss = "best_eval_loss", bestCheckpoint = "best_checkpoint", stoppedEarly = "stopped_early"
        case ranks, allreduceSecondsPerStep = "allreduce_s_per_step", rankWaitSecondsPerStep = "rank_wait_s_per_step"
        case estimatedPeakMiB = "estimated_peak_mib", peakResidentMiB = "peak_resident_mib"
        case rewardAccuracyBefore = "reward_accuracy_before", rewardAccuracyAfter = "reward_accuracy_after"
    }
}

/// Errors that stop training. Each says what to do next.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case nonFiniteLoss(step: Int, value: Double)
    case noTrainingData
    case io(path: String, reason: String)
    /// A checkpoint cannot be resumed with this run; each string names one difference.
    case resumeMismatch([String])
    /// A checkpoint's `trainer_state.json` (at `path`) holds values no run can have saved.
    case invalidState(path: String, reason: String)
    /// A data-parallel run cannot start or continue (MPI missing, an MPI call failed).
    case distributed(String)
    /// The ranks' weights differ (weight hashes by rank) at a step.
    case replicasDiverged(step: Int, hashes: [UInt64])
    /// `precision` needs a CPU feature this machine lacks (named by `missing`).
    case precisionUnsupported(precision: Precision, missing: String)

    public var description: String {
        switch self {
        case let .nonFiniteLoss(step, value):
            return "the loss became \(value) at step \(step); the weights were not updated with it. Lower training.lr or raise training.warmup_steps, and resume from the last checkpoint."
        case .noTrainingData:
            return "no training rows: every example was dropped or the datasets are empty. Run `instruct data inspect RECIPE` to see why."
        case let .io(path, reason):
            return "\(path): \(reason)"
        case let .resumeMismatch(p):
            return "cannot resume: " + p.joined(separator: "; ")
                + ". Resume with the recipe the checkpoint was trained with, or start a new run in another output.dir."
        case let .invalidState(path, reason):
            return "\(path): \(reason). The training state is damaged or was edited; resume from an earlier checkpoint (`instruct checkpoint inspect RUN` lists them)."
        case let .distributed(reason):
            return "data-parallel run: \(reason)"
        case let .replicasDiverged(step, hashes):
            let list = hashes.enumerated().map { "rank \($0.offset): \(String($0.element, radix: 16))" }.joined(separator: ", ")
            return "the ranks' weights differ at step \(step) (\(list)); the gradient all-reduce did not give every rank "
                + "the same result. Resume from the last checkpoint; if it happens again, report it with the recipe and mpirun command."
        case let .precisionUnsupported(precision, missing):
            return "training.precision \(precision.rawValue) needs a CPU with AVX512_BF16 (Intel Cooper Lake, Sapphire Rapids "
                + "or later; AMD Zen 4 or later); this CPU lacks \(missing). Use training.precision: float32."
        }
    }
}
