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
///
/// Data parallel (`group` of N ranks, docs/distributed.md): every micro-batch is a global
/// batch of N x `microBatchSize` rows, of which each rank trains its own contiguous share
/// (`ProcessGroup.shard`). After the micro-batches, the loss sums, trained-token counts and
/// token counts are summed over ranks, then the gradient sums (one MPI_Allreduce of all
/// gradients), and the sum is divided by the trained-token count of the whole global step.
/// Clipping and AdamW then run on every rank with the same inputs, so the weights stay
/// identical: N ranks of B rows follow one process of N x B rows to float tolerance (the
/// order of float sums differs). The data cursor is global, so every rank's is the same.
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
    /// The ranks of a data-parallel run (`.single` for one process).
    public let group: ProcessGroup
    /// Seconds spent in the gradient all-reduce so far, in this process (0 for one process).
    public private(set) var allreduceSeconds = 0.0
    /// Seconds spent waiting for the slowest rank before it (the counts' all-reduce) so far.
    public private(set) var rankWaitSeconds = 0.0
    /// The parameters that are trained: with LoRA (`model.lora`) only the adapter tensors
    /// (the base is frozen: no gradients, no optimizer state, not saved); nil trains all.
    public let trainableNames: Set<String>?
    /// The best validation loss so far and the evaluations since (saved with the state).
    public internal(set) var validation = ValidationProgress()
    /// Preference tuning (DPO, IPO): set before the first step, every step and evaluation
    /// then optimise and report the preference loss over pair rows (Trainer+Preference.swift);
    /// nil is supervised fine-tuning.
    public var preference: PreferenceRun? = nil

    /// A trainer at step 0 with the given weights (with LoRA: the base's and the adapters').
    /// Sets BLAS's thread count. Every rank of `group` must start from the same `parameters`.
    public init(model: DecoderModel, parameters: Parameters, data: PreparedData, options: TrainingOptions,
                group: ProcessGroup = .single) throws {
        try self.init(model: model, parameters: parameters, data: data, options: options, group: group, allocatingMoments: true)
    }

    /// The step-0 trainer; with `allocatingMoments`, AdamW's zero moments are made now, before
    /// the first step. Made at the first update instead, they took the buffers that step had
    /// just freed to the pool (which lends a buffer up to 4x a request) and the next step
    /// mapped its own again: SmolLM2-135M's full fine-tuning peaked 1.1 GiB above the
    /// planner's estimate (docs/performance.md, "Memory"). A resume restores them instead.
    private init(model: DecoderModel, parameters: Parameters, data: PreparedData, options: TrainingOptions,
                 group: ProcessGroup, allocatingMoments: Bool) throws {
        precondition(options.problems().isEmpty, "Trainer: invalid options: \(options.problems().joined(separator: "; "))")
        try model.validate(parameters)
        if model.lora != nil {
            let adapters = model.adapterShapes.map(\.name)
            if let missing = adapters.first(where: { !parameters.contains($0) }) { throw ModelError.missingTensor(name: missing) }
            trainableNames = Set(adapters)
        } else {
            trainableNames = nil
        }
        if options.precision == .bf16, let missing = BLAS.bf16MissingFeature {
            throw TrainingError.precisionUnsupported(precision: options.precision, missing: missing)
        }
        BLAS.setThreadCount(options.threads)
        self.model = model
        self.parameters = parameters
        self.options = options
        self.data = data
        self.group = group
        self.optimizer = AdamW(beta1: Float(options.beta1), beta2: Float(options.beta2), eps: Float(options.adamEps),
                               weightDecay: Float(options.weightDecay))
        self.loader = try DataLoader(data: data, batchSize: options.microBatchSize * group.size,
                                     epochs: options.maxSteps == nil ? options.epochs : nil)
        if loader.rowsPerEpoch == 0 { throw TrainingError.noTrainingData }
        self.totalSteps = Self.totalSteps(rowsPerEpoch: loader.rowsPerEpoch, options: options, ranks: group.size)
        self.schedule = LRSchedule(kind: options.schedule, lr: options.lr, minLR: options.lr * options.minLRRatio,
                                   warmupSteps: options.warmupSteps, totalSteps: totalSteps)
        self.dropoutRNG = Self.dropoutRNG(seed: options.seed, rank: group.rank)
        if allocatingMoments {
            optimizer.allocateMoments(for: parameters, names: parameters.names.filter { trainableNames?.contains($0) ?? true })
        }
    }

    /// Steps a run takes: `maxSteps`, or enough for `epochs` passes over `rowsPerEpoch` rows at
    /// `microBatchSize` x `ranks` x `gradientAccumulation` rows per step.
    public static func totalSteps(rowsPerEpoch: Int, options: TrainingOptions, ranks: Int) -> Int {
        let rowsPerStep = options.microBatchSize * ranks * options.gradientAccumulation
        let stepsPerEpoch = (rowsPerEpoch + rowsPerStep - 1) / rowsPerStep
        return options.maxSteps ?? stepsPerEpoch * options.epochs
    }

    /// Dropout's generator of `rank`: stream 0xD0 of the seed for rank 0 (the same as a
    /// single-process run), an independent stream per other rank.
    public static func dropoutRNG(seed: UInt64, rank: Int) -> RNG {
        RNG(seed: seed, stream: 0xD0 &+ (UInt64(rank) << 32))
    }

    /// A trainer continuing exactly where `state` was saved: the step, the data cursor
    /// (same batches next), dropout's generator, AdamW's step and moments, the token counters
    /// and the elapsed time. `parameters` and `optimizerMoments` are the checkpoint's
    /// tensors. The schedule is rebuilt from `options`, so it matches the saved one unless
    /// `training.max_steps` (or `epochs`) changed. Throws `TrainingError.resumeMismatch` when
    /// the state is of another format version or the cursor belongs to other data.
    public init(model: DecoderModel, parameters: Parameters, data: PreparedData, options: TrainingOptions,
                state: TrainerState, optimizerMoments: (m: Parameters, v: Parameters), group: ProcessGroup = .single) throws {
        try self.init(model: model, parameters: parameters, data: data, options: options, group: group, allocatingMoments: false)
        guard state.version == 1 else {
            throw TrainingError.resumeMismatch(["trainer_state.json has format version \(state.version), this build reads version 1"])
        }
        guard state.step <= totalSteps else {
            throw TrainingError.resumeMismatch([
                "the checkpoint is at step \(state.step), past the \(totalSteps) steps this run is set to train; "
                    + "set training.max_steps above \(state.step) to train further from it"])
        }
        let savedRanks = state.ranks ?? 1
        if savedRanks != group.size {
            throw TrainingError.resumeMismatch([
                "the checkpoint was trained with \(savedRanks) rank(s), this run has \(group.size) "
                    + "(the global batch and the per-rank dropout streams would differ); relaunch with `mpirun -np \(savedRanks)`"
                    + (savedRanks == 1 ? " or without mpirun" : "")])
        }
        do {
            self.loader = try DataLoader(data: data, batchSize: options.microBatchSize * group.size,
                                         epochs: options.maxSteps == nil ? options.epochs : nil, cursor: state.dataCursor)
        } catch {
            throw TrainingError.resumeMismatch(["data: \(error)"])
        }
        self.step = state.step
        if group.isDistributed {
            guard let rngs = state.rankDropoutRNGs, rngs.count == group.size else {
                throw TrainingError.resumeMismatch(["trainer_state.json has no dropout generator for each of the \(group.size) ranks"])
            }
            self.dropoutRNG = rngs[group.rank]
        } else {
            self.dropoutRNG = state.dropoutRNG
        }
        self.optimizer.restore(step: state.optimizerStep, m: optimizerMoments.m, v: optimizerMoments.v)
        self.tokensSeen = state.tokensSeen
        self.trainedTokensSeen = state.trainedTokensSeen
        self.elapsedSeconds = state.elapsedSeconds
        self.validation = state.validation ?? ValidationProgress()
    }

    /// Fresh weights for `model` from the run's seed (stream 0x1417 of `seed`).
    public static func initialParameters(_ model: DecoderModel, seed: UInt64) -> Parameters {
        var rng = RNG(seed: seed, stream: 0x1417)
        return model.initialParameters(rng: &rng)
    }

    /// Whether another step can run (steps left and data left).
    public var isFinished: Bool { step >= totalSteps }

    /// Runs one optimizer step. Returns nil when the data ran out before the step began.
    /// The forward and backward products run in `options.precision`; the gradient sums,
    /// clipping and AdamW are float32 whatever it is.
    public mutating func trainStep() throws -> StepMetrics? {
        try BLAS.withPrecision(options.precision) { try takeStep() }
    }

    private mutating func takeStep() throws -> StepMetrics? {
        guard step < totalSteps else { return nil }
        let t0 = DispatchTime.now().uptimeNanoseconds
        var gradSum: Parameters? = nil
        var lossSum = 0.0
        var count = 0, tokens = 0, micro = 0
        var pairTotals = PreferenceTotals(), pairTokens = 0
        var epoch = loader.cursor.epoch
        for _ in 0..<options.gradientAccumulation {
            guard let global = loader.next() else { break }
            if micro == 0 { epoch = global.epoch }
            micro += 1
            let batch = group.isDistributed
                ? global.rows(ProcessGroup.shard(rows: global.rowCount, rank: group.rank, size: group.size)) : global
            if batch.rowCount == 0 { continue }  // a short last batch left this rank no row
            tokens += batch.segmentIDs.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
            let tracked = parameters.tracked(only: trainableNames)
            let sum: Tensor, c: Int, value: Double
            if let preference {
                // The loss sums over the micro-batch's pairs; `count` counts pairs.
                let input = batch.modelInput
                let reference = try preference.reference.lookup(input)
                let r = withUnsafeMutablePointer(to: &dropoutRNG) { rng in
                    PreferenceObjective.evaluate(model: model, input: input, parameters: tracked, reference: reference,
                                                 options: preference.options, dropoutRNG: model.usesDropout ? rng : nil,
                                                 checkpointing: options.activationCheckpointing)
                }
                pairTotals.add(r.totals)
                pairTokens += batch.trainedTokenCount
                guard let surrogate = r.surrogate else { continue }
                (sum, c, value) = (surrogate, r.totals.pairs, r.totals.loss)
            } else {
                (sum, c) = withUnsafeMutablePointer(to: &dropoutRNG) { rng in
                    model.loss(batch.modelInput, parameters: tracked, dropoutRNG: model.usesDropout ? rng : nil,
                               checkpointing: options.activationCheckpointing)
                }
                value = Double(sum.scalar)
            }
            if !value.isFinite { throw TrainingError.nonFiniteLoss(step: step + 1, value: value) }
            guard c > 0 else { continue }
            lossSum += value
            count += c
            // Summed in place: gradient accumulation holds two sets of gradients, not three.
            let g = tracked.gradients(of: sum)
            if gradSum == nil { gradSum = g } else { gradSum!.add(g) }  // non-nil: just checked
        }
        if micro == 0 { return nil }
        var timing: (wait: Double, reduce: Double)? = nil
        if group.isDistributed {
            let t = try allreduce(lossSum: &lossSum, count: &count, tokens: &tokens, gradients: &gradSum)
            rankWaitSeconds += t.wait
            allreduceSeconds += t.reduce
            timing = t
            if preference != nil {
                var v = pairTotals.vector + [Double(pairTokens)]
                try group.allreduceSum(&v)
                pairTotals = PreferenceTotals(vector: Array(v[0..<7]))
                pairTokens = Int(v[7])
            }
        }
        let lr = schedule.rate(at: step)
        var gradNorm: Double? = nil
        if var grads = gradSum, count > 0 {
            // Scaled and clipped in place (the same products as `g * (1 / count)`), so the
            // step holds one set of gradients, not three (docs/performance.md, "Memory").
            gradSum = nil
            grads.scale(by: 1 / Float(count))
            gradNorm = GradientClipping.clip(&grads, maxNorm: options.gradClip)
            optimizer.update(&parameters, grads: grads, lr: Float(lr), decays: model.decays)
        }
        step += 1
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        elapsedSeconds += seconds
        tokensSeen += tokens
        let trained = preference == nil ? count : pairTokens
        trainedTokensSeen += trained
        var metrics = StepMetrics(step: step, epoch: epoch, loss: count > 0 ? lossSum / Double(count) : nil, lr: lr,
                                  gradNorm: gradNorm, tokens: tokens, trainedTokens: trained,
                                  tokensPerSecond: Double(tokens) / Swift.max(seconds, 1e-9),
                                  trainedTokensPerSecond: Double(trained) / Swift.max(seconds, 1e-9),
                                  elapsedSeconds: elapsedSeconds)
        metrics.preference = pairTotals.means
        metrics.allreduceSeconds = timing?.reduce
        metrics.rankWaitSeconds = timing?.wait
        return metrics
    }

    /// Sums this rank's loss, counts and gradients with every other rank's. The counts go
    /// first (as doubles, exact below 2^53): when the global step has no trained token, no
    /// rank sends gradients. A rank without gradients (no rows or no trained token) sends
    /// zeros for every trainable tensor, so all ranks pass buffers of the same length.
    /// Returns the seconds of the counts' all-reduce (which waits for the slowest rank to
    /// finish its micro-batches) and of the gradients' all-reduce (the transfer itself).
    private func allreduce(lossSum: inout Double, count: inout Int, tokens: inout Int,
                           gradients: inout Parameters?) throws -> (wait: Double, reduce: Double) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        func since(_ t: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - t) * 1e-9 }
        var totals = [lossSum, Double(count), Double(tokens)]
        try group.allreduceSum(&totals)
        let wait = since(t0)
        lossSum = totals[0]
        count = Int(totals[1])
        tokens = Int(totals[2])
        guard count > 0 else { gradients = nil; return (wait, 0) }
        let t1 = DispatchTime.now().uptimeNanoseconds
        let tracked = parameters.tracked(only: trainableNames)
        let names = tracked.names.filter { tracked[$0].isTracked }
        var flat = [Float](repeating: 0, count: names.reduce(0) { $0 + parameters[$1].count })
        flat.withUnsafeMutableBufferPointer { dst in
            var offset = 0
            for name in names {
                if let g = gradients?.tensor(named: name) {
                    g.withUnsafeBufferPointer { src in
                        _ = UnsafeMutableBufferPointer(rebasing: dst[offset..<(offset + src.count)]).initialize(from: src)
                    }
                }
                offset += parameters[name].count  // absent: stays zero
            }
        }
        try group.allreduceSum(&flat)
        let reduce = since(t1)
        var out: [(String, Tensor)] = []
        var offset = 0
        for name in names {
            let shape = parameters[name].shape
            let n = parameters[name].count
            out.append((name, Tensor(shape: shape, scalars: Array(flat[offset..<(offset + n)]))))
            offset += n
        }
        gradients = Parameters(out)
        return (wait, reduce)
    }

    /// A hash of every weight's bits (FNV-1a over the float bit patterns, in parameter order).
    public var weightHash: UInt64 {
        var h = FNV1a()
        for (_, t) in parameters.pairs {
            t.withUnsafeBufferPointer { buf in
                for x in buf { h.combine(UInt64(x.bitPattern)) }
            }
        }
        return h.value
    }

    /// Checks that every rank holds the same weights (their `weightHash`es agree). Collective:
    /// every rank must call it at the same step. Throws `TrainingError.replicasDiverged`.
    public func checkReplicasInSync() throws {
        guard group.isDistributed else { return }
        let hashes = try group.allgather([weightHash]).map { $0[0] }
        if Set(hashes).count > 1 { throw TrainingError.replicasDiverged(step: step, hashes: hashes) }
    }

    /// Mean loss and perplexity over the validation split (at most `maxBatches` batches when
    /// positive). Records no graph. Nil when there are no validation rows. Data parallel:
    /// collective; batches are global (N x `microBatchSize` rows) and sharded like training's.
    public func evaluate(maxBatches: Int = 0) throws -> EvalMetrics? {
        if let preference { return try evaluatePreference(preference, maxBatches: maxBatches) }
        var val = try DataLoader(data: data, batchSize: options.microBatchSize * group.size, split: .validation)
        var batches = 0
        let inputs = AnyIterator<ModelInput> {
            while true {
                guard let global = val.next() else { return nil }
                batches += 1
                if maxBatches > 0 && batches > maxBatches { return nil }
                let batch = self.group.isDistributed
                    ? global.rows(ProcessGroup.shard(rows: global.rowCount, rank: self.group.rank, size: self.group.size)) : global
                if batch.rowCount > 0 { return batch.modelInput }
            }
        }
        var (sum, count) = model.lossSum(over: IteratorSequence(inputs), parameters: parameters)
        if group.isDistributed {
            var totals = [sum, Double(count)]
            try group.allreduceSum(&totals)
            sum = totals[0]
            count = Int(totals[1])
        }
        guard count > 0 else { return nil }
        let mean = sum / Double(count)
        return EvalMetrics(step: step, evalLoss: mean, evalPerplexity: exp(mean), evalTokens: count)
    }
}

extension Batch {
    /// The batch as the model's input, with the data pipeline's ignore value for uncounted targets.
    public var modelInput: ModelInput {
        ModelInput(tokens: tokens, positions: positions, segmentIDs: segmentIDs, batch: rowCount, time: seqLen,
                   targets: targets, ignoreIndex: PackedRow.ignoreIndex)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
