import Autograd
import Datasets
import Dispatch
import Models
import NN

/// Supervised fine-tuning: micro-batches, gradient accumulation, clipping, AdamW and a
/// schedule, over packed batches from a `DataLoader`.
///
/// One optimizer step: for each of `gradientAccumulation` micro-batches, the summed
/// cross-entropy over trained targets is differentiated (sums, not means, so every token
/// weighs the same); the gradients are added up and divided by the trained-token count of
/// the whole step; then clipped, and AdamW applies the scheduled rate. A step whose
/// micro-batches hold no trained token updates nothing (no division by zero) and is
/// reported with a nil loss. A non-finite loss throws before the weights are touched.
public struct Trainer {
    public let model: DecoderModel
    public private(set) var parameters: Parameters
    public private(set) var optimizer: AdamW
    public let options: TrainingOptions
    public let schedule: LRSchedule
    public let data: PreparedData
    /// Optimizer steps taken.
    public private(set) var step: Int = 0
    public private(set) var loader: DataLoader
    /// Dropout's generator (part of a checkpoint).
    public private(set) var dropoutRNG: RNG
    /// Non-padding and trained tokens processed so far.
    public private(set) var tokensSeen = 0
    public private(set) var trainedTokensSeen = 0
    /// Seconds spent in steps so far (continued across resumes).
    public private(set) var elapsedSeconds = 0.0
    /// Steps the run will take in all.
    public let totalSteps: Int
    /// The parameters that are trained: with LoRA (`model.lora`) only the adapter tensors
    /// (the base is frozen: no gradients, no optimizer state, not saved); nil trains all.
    public let trainableNames: Set<String>?

    /// A trainer at step 0 with the given weights (with LoRA: the base's and the adapters').
    /// Sets BLAS's thread count.
    public init(model: DecoderModel, parameters: Parameters, data: PreparedData, options: TrainingOptions) throws {
        let problems = options.problems()
        if !problems.isEmpty { throw TrainingError.invalidOptions(problems) }
        try model.validate(parameters)
        if model.lora != nil {
            let adapters = model.adapterShapes.map(\.name)
            if let missing = adapters.first(where: { !parameters.contains($0) }) { throw ModelError.missingTensor(name: missing) }
            trainableNames = Set(adapters)
        } else {
            trainableNames = nil
        }
        BLAS.setThreadCount(options.threads)
        self.model = model
        self.parameters = parameters
        self.options = options
        self.data = data
        self.optimizer = AdamW(beta1: Float(options.beta1), beta2: Float(options.beta2), eps: Float(options.adamEps),
                               weightDecay: Float(options.weightDecay))
        self.loader = try DataLoader(data: data, batchSize: options.microBatchSize,
                                     epochs: options.maxSteps == nil ? options.epochs : nil)
        if loader.rowsPerEpoch == 0 { throw TrainingError.noTrainingData }
        let rowsPerStep = options.microBatchSize * options.gradientAccumulation
        let stepsPerEpoch = (loader.rowsPerEpoch + rowsPerStep - 1) / rowsPerStep
        self.totalSteps = options.maxSteps ?? stepsPerEpoch * options.epochs
        self.schedule = LRSchedule(kind: options.schedule, lr: options.lr, minLR: options.lr * options.minLRRatio,
                                   warmupSteps: options.warmupSteps, totalSteps: totalSteps)
        self.dropoutRNG = RNG(seed: options.seed, stream: 0xD0)
    }

    /// A trainer continuing exactly where `state` was saved: the step, the data cursor
    /// (same batches next), dropout's generator, AdamW's step and moments, the token counters
    /// and the elapsed time. `parameters` and `optimizerMoments` are the checkpoint's
    /// tensors. The schedule is rebuilt from `options`, so it matches the saved one unless
    /// `training.max_steps` (or `epochs`) changed. Throws `TrainingError.resumeMismatch` when
    /// the state is of another format version or the cursor belongs to other data.
    public init(model: DecoderModel, parameters: Parameters, data: PreparedData, options: TrainingOptions,
                state: TrainerState, optimizerMoments: (m: Parameters, v: Parameters)) throws {
        try self.init(model: model, parameters: parameters, data: data, options: options)
        guard state.version == 1 else {
            throw TrainingError.resumeMismatch(["trainer_state.json has format version \(state.version), this build reads version 1"])
        }
        do {
            self.loader = try DataLoader(data: data, batchSize: options.microBatchSize,
                                         epochs: options.maxSteps == nil ? options.epochs : nil, cursor: state.dataCursor)
        } catch {
            throw TrainingError.resumeMismatch(["data: \(error)"])
        }
        self.step = state.step
        self.dropoutRNG = state.dropoutRNG
        self.optimizer.restore(step: state.optimizerStep, m: optimizerMoments.m, v: optimizerMoments.v)
        self.tokensSeen = state.tokensSeen
        self.trainedTokensSeen = state.trainedTokensSeen
        self.elapsedSeconds = state.elapsedSeconds
    }

    /// Fresh weights for `model` from the run's seed (stream 0x1417 of `seed`).
    public static func initialParameters(_ model: DecoderModel, seed: UInt64) -> Parameters {
        var rng = RNG(seed: seed, stream: 0x1417)
        return model.initialParameters(rng: &rng)
    }

    /// Whether another step can run (steps left and data left).
    public var isFinished: Bool { step >= totalSteps }

    /// Runs one optimizer step. Returns nil when the data ran out before the step began.
    public mutating func trainStep() throws -> StepMetrics? {
        guard step < totalSteps else { return nil }
        let t0 = DispatchTime.now().uptimeNanoseconds
        var gradSum: Parameters? = nil
        var lossSum = 0.0
        var count = 0, tokens = 0, micro = 0
        var epoch = loader.cursor.epoch
        for _ in 0..<options.gradientAccumulation {
            guard let batch = loader.next() else { break }
            if micro == 0 { epoch = batch.epoch }
            micro += 1
            tokens += batch.segmentIDs.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
            let tracked = parameters.tracked(only: trainableNames)
            let (sum, c) = withUnsafeMutablePointer(to: &dropoutRNG) { rng in
                model.loss(tokens: batch.tokens, targets: batch.targets, positions: batch.positions,
                           segmentIDs: batch.segmentIDs, batch: batch.rowCount, time: batch.seqLen,
                           parameters: tracked, dropoutRNG: model.usesDropout ? rng : nil)
            }
            let value = Double(sum.scalar)
            if !value.isFinite { throw TrainingError.nonFiniteLoss(step: step + 1, value: value) }
            guard c > 0 else { continue }
            lossSum += value
            count += c
            let g = tracked.gradients(of: sum)
            gradSum = gradSum.map { $0.adding(g) } ?? g
        }
        if micro == 0 { return nil }
        let lr = schedule.rate(at: step)
        var gradNorm: Double? = nil
        if var grads = gradSum, count > 0 {
            grads = grads.mapTensors { _, g in g * (1 / Float(count)) }
            gradNorm = GradientClipping.clip(&grads, maxNorm: options.gradClip)
            optimizer.update(&parameters, grads: grads, lr: Float(lr), decays: model.decays)
        }
        step += 1
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        elapsedSeconds += seconds
        tokensSeen += tokens
        trainedTokensSeen += count
        return StepMetrics(step: step, epoch: epoch, loss: count > 0 ? lossSum / Double(count) : nil, lr: lr,
                           gradNorm: gradNorm, tokens: tokens, trainedTokens: count,
                           tokensPerSecond: Double(tokens) / Swift.max(seconds, 1e-9),
                           trainedTokensPerSecond: Double(count) / Swift.max(seconds, 1e-9),
                           elapsedSeconds: elapsedSeconds)
    }

    /// Mean loss and perplexity over the validation split (at most `maxBatches` batches when
    /// positive). Records no graph. Nil when there are no validation rows.
    public func evaluate(maxBatches: Int = 0) throws -> EvalMetrics? {
        var val = try DataLoader(data: data, batchSize: options.microBatchSize, split: .validation)
        var sum = 0.0, count = 0, batches = 0
        while let batch = val.next() {
            let (s, c) = model.loss(tokens: batch.tokens, targets: batch.targets, positions: batch.positions,
                                    segmentIDs: batch.segmentIDs, batch: batch.rowCount, time: batch.seqLen,
                                    parameters: parameters)
            sum += Double(s.scalar)
            count += c
            batches += 1
            if maxBatches > 0 && batches >= maxBatches { break }
        }
        guard count > 0 else { return nil }
        let mean = sum / Double(count)
        return EvalMetrics(step: step, evalLoss: mean, evalPerplexity: exp(mean), evalTokens: count)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
