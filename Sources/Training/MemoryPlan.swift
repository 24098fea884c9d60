import Autograd
import Datasets
import Models
import NN

/// The memory a training run will need at its peak, predicted before anything is allocated,
/// from the model's shape, the adapters, the micro-batch and what the process holds already.
/// Recipes refuse a run whose peak does not fit in the machine's memory and report the
/// estimate before training; the run summary sets it beside the measured peak.
///
/// Resident memory follows the step's buffers: `BufferPool` keeps every freed buffer of a
/// step for the next one, so what a step maps stays resident. A step needs its most at the
/// end of its backward pass, when every tensor the forward pass saved is still held, the
/// logits' gradient and a block's gradients are in flight, and the weights' gradients are
/// complete (the trainer then sums, scales and clips them in place). So the estimate is
/// baseline + weights + optimizer + max(activations + in flight + gradients, checkpoint), of
///
/// | part        | bytes (Float32)                                                          |
/// | ----------- | ------------------------------------------------------------------------ |
/// | baseline    | resident now (runtime, tokenizer, prepared data), measured               |
/// | weights     | every weight (the frozen base too) and the adapters                      |
/// | optimizer   | AdamW's m and v for every trained scalar                                 |
/// | activations | what the forward pass keeps (`ModelConfig.savedActivationScalars`), the head's one chunk of logits (min(R, chunk) x V) among them: the head and the loss are fused and chunked, so no R x V tensor exists; with activation checkpointing, the blocks' inputs and one block's tensors |
/// | in flight   | the larger of: a block's gradients at backward's widest moment, N x (3F + 3C) for Llama, N x (2F + 4C) for GPT-2; and, at the very end, a tied, trained embedding's two partial gradients (2 x V x C) before they are summed |
/// | gradients   | one per trained scalar (two with gradient accumulation: the sum so far and this micro-batch's) |
/// | checkpoint  | the largest checkpoint file (AdamW's moments), mapped while a save checksums it; the step's pooled buffers are given back before a save (`Recipe.run`), so this part and the step's are never resident together |
///
/// N = `batch` x `seqLen` tokens and R the most trained targets of a micro-batch
/// (`headRows`; `mostTrainedTargets` finds them in the run's batches). Pooled buffers are
/// rounded up by the pool's size classes, 6% on average. Measured on the shipped recipes the
/// estimate is within 15% of the peak resident set size (docs/performance.md, "Memory").
public struct MemoryPlan: Sendable, Equatable {
    /// Bytes resident when the plan was made (not predicted).
    public var baseline: Double
    /// Bytes of the weights (frozen base and adapters included).
    public var weights: Double
    /// Bytes of AdamW's two moments.
    public var optimizer: Double
    /// Bytes of the weights' gradients alive at the end of the backward pass.
    public var gradients: Double
    /// Bytes of the tensors the forward pass keeps for the backward pass, the head's included.
    public var activations: Double
    /// Of `activations`, the head's part (one chunk of logits and the rows before them).
    public var logits: Double
    /// Bytes of the backward pass's widest moment beyond the saved tensors and the weights'
    /// gradients (the larger of its middle and, with a tied trained embedding, its end).
    public var inFlight: Double
    /// Bytes of the largest file of a checkpoint (AdamW's moments), which the save reads back
    /// through a mapping to checksum it (after the step's pooled buffers were given back).
    public var checkpoint: Double
    /// The process's peak resident bytes so far (the estimate is never below it).
    public var peakSoFar: Double

    /// The pool's size classes round a buffer up by at most 12.5%, 6% on average.
    static let poolRounding = 1.06

    /// Plans a run of `config` (with `lora` adapters when given) at micro-batches of
    /// `batch` rows of `seqLen` tokens, of which at most `headRows` have a trained target
    /// (nil: all of them), accumulating `gradientAccumulation` micro-batches per step.
    /// `baseline` and `peakSoFar` are the process's resident and peak resident bytes now.
    /// With `activationCheckpointing` the blocks' activations are their inputs and one
    /// block's tensors (`ModelConfig.savedActivationScalars`); the rest is unchanged.
    public init(config: ModelConfig, lora: LoRAConfig?, batch: Int, seqLen: Int, headRows: Int? = nil,
                gradientAccumulation: Int = 1, activationCheckpointing: Bool = false, baseline: Int, peakSoFar: Int = 0) {
        let n = Double(batch) * Double(seqLen)
        // Token counts as Int for the activation count; an absurd product saturates, which
        // still gives an absurd estimate.
        let tokens = batch.multipliedReportingOverflow(by: seqLen)
        let nInt = tokens.overflow ? Int.max : tokens.partialValue
        let rInt = min(headRows ?? nInt, nInt)
        let base = config.parameterScalars
        let adapters = lora?.adapterScalars(for: config) ?? 0
        let trained = lora == nil ? base : adapters
        let saved = config.savedActivationScalars(tokens: nInt, headRows: rInt, lora: lora, checkpointing: activationCheckpointing)
        let c = Double(config.dim), f = Double(config.ffnDim), v = Double(config.vocabSize)
        let widest: Double
        switch config.family {
        case .llama: widest = n * (3 * f + 3 * c)
        case .gpt2: widest = n * (2 * f + 4 * c)
        }
        // A trained embedding that is also the head gets two gradients (the head's, early in
        // the backward pass, and the lookup's, last), summed into a third tensor while every
        // activation is still held; by then the logits' gradient and the blocks' in-flight
        // tensors are back in the pool and serve these two (measured: counting both
        // over-estimated dolly-gpt2 by 11%, the size of the two).
        let tiedEmbedding = lora == nil && config.tiedEmbeddings ? 2 * v * c : 0
        self.baseline = Double(baseline)
        weights = 4 * (base + adapters)
        optimizer = 4 * 2 * trained
        gradients = 4 * (gradientAccumulation > 1 ? 2 : 1) * trained
        activations = 4 * (saved.blocks + saved.head) * Self.poolRounding
        logits = 4 * saved.head * Self.poolRounding
        inFlight = max(4 * widest * Self.poolRounding, 4 * tiedEmbedding)
        checkpoint = 4 * 2 * trained
        self.peakSoFar = Double(peakSoFar)
    }

    /// The step's buffers at the end of its backward pass.
    public var stepBuffers: Double { activations + inFlight + gradients }

    /// What the run adds to the baseline: the weights and moments, and the larger of a step's
    /// buffers and a save's read-back (a save runs after the pool is emptied).
    public var training: Double { weights + optimizer + max(stepBuffers, checkpoint) }

    /// The predicted peak resident bytes of the process.
    public var peak: Double { max(peakSoFar, baseline + training) }

    /// Whether the peak fits in `memory`.
    public func fits(in memory: MemoryStats.MachineMemory) -> Bool { peak <= Double(memory.bytes) }

    /// The parts of the peak, largest first: they add up to `baseline + training` (the step's
    /// parts, or the save's read-back when that is larger).
    public var parts: [(name: String, bytes: Double)] {
        var list: [(name: String, bytes: Double)] = [("weights", weights), ("AdamW moments", optimizer),
                                                     ("resident before training", baseline)]
        if checkpoint > stepBuffers {
            list.append(("checkpoint read-back", checkpoint))
        } else {
            list += [("gradients", gradients), ("activations", activations - logits), ("logits", logits),
                     ("backward in flight", inFlight)]
        }
        return list.sorted { $0.bytes > $1.bytes }
    }

    /// `estimated peak 1.21 GiB (activations 650.2 MiB, weights ..., resident before training 80.1 MiB)`.
    public var summary: String {
        "estimated peak \(MemoryStats.format(peak)) ("
            + parts.filter { $0.bytes > 0 }.map { "\($0.name) \(MemoryStats.format($0.bytes))" }.joined(separator: ", ") + ")"
    }
}

extension MemoryPlan {
    /// The most trained targets one micro-batch of this process holds over a run of `options`
    /// on `data`: the data loader's micro-batches in the order the run takes them (this
    /// rank's share of each, with `ranks` processes), the first `limit` of them when the run
    /// has more. The head's buffers, which grow with this count, are largest at that batch.
    /// (Validation batches are not counted: evaluation keeps no graph, and its logits take
    /// the training step's freed buffers.)
    public static func mostTrainedTargets(data: PreparedData, options: TrainingOptions, ranks: Int = 1, rank: Int = 0,
                                          limit: Int = 20_000) throws -> Int {
        let epochs = options.maxSteps == nil ? options.epochs : nil
        var loader = try DataLoader(data: data, batchSize: options.microBatchSize * ranks, epochs: epochs)
        let steps = Trainer.totalSteps(rowsPerEpoch: loader.rowsPerEpoch, options: options, ranks: ranks)
        let microBatches = min(limit, steps.multipliedReportingOverflow(by: options.gradientAccumulation).partialValue)
        var most = 0
        func share(_ b: Batch) -> Int {
            ranks == 1 ? b.trainedTokenCount : b.rows(ProcessGroup.shard(rows: b.rowCount, rank: rank, size: ranks)).trainedTokenCount
        }
        for _ in 0..<max(0, microBatches) {
            guard let b = loader.next() else { break }
            most = max(most, share(b))
        }
        return most
    }
}
