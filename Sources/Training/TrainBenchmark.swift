import Autograd
import Datasets
import Dispatch
import Models
import NN

/// Steady-state training throughput of a decoder on random tokens, with the same model
/// math, loss and optimizer as a PyTorch script so the two can be run side by side: the
/// GPT-2 presets as `bench/torch_reference.py`, a real model (any `ModelConfig` with its
/// weights, e.g. SmolLM2 imported from a GGUF file) as `scripts/bench_real_model_torch.py`
/// (transformers' `LlamaForCausalLM`, PEFT for LoRA):
///
/// - the presets: GPT-2 block (pre-LayerNorm, causal attention, tanh-GELU MLP 4C, biases),
///   learned positions, final LayerNorm, head tied to the token embedding, no dropout;
///   a real model: its own config and weights, dropout off;
/// - tokens and targets uniform in 0..<V from a fixed seed, drawn anew each step;
/// - loss = mean cross-entropy over the second half of every row (positions T/2..<T),
///   the first half ("prompt") ignored;
/// - AdamW(lr 3e-4, betas 0.9/0.999, eps 1e-8, weight decay 0.1 on every parameter, as
///   `torch.optim.AdamW(model.parameters(), ...)` does);
/// - one step = forward + loss + backward + optimizer update, wall clock; warm-up steps
///   are excluded and tokens/s is B*T over the median measured step.
///
/// FLOPs per token follow the usual estimate 6 N + 12 L C T (N parameters with the tied
/// head counted once; C is the attention width H x D); with LoRA, whose frozen base needs
/// no weight gradient, 4 N + 6 A + 12 L C T (A adapter scalars). Both sides of a comparison
/// use the same formula. The share of peak divides the achieved rate by a 2048³ sgemm
/// timed in the same process just before training, on the same thread count.
public enum TrainBenchmark {
    /// Model sizes matching torch_reference.py's CONFIGS.
    public enum Preset: String, CaseIterable, Codable, Sendable {
        /// 4 layers, C 256, 4 heads, V 4096, 8 x 256.
        case tiny
        /// 6 layers, C 384, 6 heads, V 8192, 8 x 256.
        case small
        /// GPT-2 124M: 12 layers, C 768, 12 heads, V 50257, context 1024, 4 x 256.
        case gpt2_124m = "gpt2-124m"

        /// The model config (context length = the reference's `block`).
        public var config: ModelConfig {
            switch self {
            case .tiny: return ModelConfig(family: .gpt2, vocabSize: 4096, contextLength: 256, dim: 256, layers: 4, heads: 4)
            case .small: return ModelConfig(family: .gpt2, vocabSize: 8192, contextLength: 256, dim: 384, layers: 6, heads: 6)
            case .gpt2_124m: return ModelConfig(family: .gpt2, vocabSize: 50257, contextLength: 1024, dim: 768, layers: 12, heads: 12)
            }
        }

        /// Default (batch B, sequence T).
        public var shape: (batch: Int, time: Int) {
            switch self {
            case .tiny, .small: return (8, 256)
            case .gpt2_124m: return (4, 256)
            }
        }
    }

    /// The measured figures of one run.
    public struct Result: Codable, Sendable {
        public var config: ModelConfig
        public var batch: Int
        public var time: Int
        public var threads: Int
        public var blasCore: String
        public var parameterCount: Int
        public var warmupSteps: Int
        public var measuredSteps: Int
        /// Wall-clock milliseconds of each measured step, in order.
        public var stepMs: [Double]
        public var msPerStepMedian: Double
        public var msPerStepMin: Double
        public var msPerStepMax: Double
        /// B*T / median step time.
        public var tokensPerSecond: Double
        /// 6 N + 12 L C T (4 N + 6 A + 12 L C T with LoRA; see the type's summary).
        public var flopsPerToken: Double
        public var achievedGflops: Double
        /// 2048³ sgemm (median of 5) measured just before training; nil when skipped.
        public var sgemmPeakGflops: Double?
        /// achievedGflops / sgemmPeakGflops.
        public var shareOfSgemmPeak: Double?
        /// getrusage peak of the whole process at the end, MiB.
        public var peakResidentMiB: Double
        /// Resident MiB before the model was built, after the first measured step and after the last.
        public var residentBeforeMiB: Double
        public var residentFirstMeasuredMiB: Double
        public var residentLastMeasuredMiB: Double
        /// (last - first measured) / (measured steps - 1), KiB per step; ~0 when memory is flat.
        public var residentGrowthPerStepKiB: Double
        public var lossFirst: Float
        public var lossLast: Float
        /// The adapters when LoRA was benchmarked (nil: full fine-tuning).
        public var lora: LoRAConfig?
        /// Scalars that received gradients and AdamW moments.
        public var trainableParameterCount: Int
        /// AdamW's moments (m and v) at the end, MiB.
        public var optimizerStateMiB: Double
        /// The number format of the forward and backward products (`Precision`).
        public var precision: Precision
        /// Whether each block was checkpointed (kept only its input, ran again in backward).
        public var activationCheckpointing: Bool
    }

    /// Median GFLOP/s of an n x n x n sgemm on the current BLAS thread count.
    public static func sgemmGflops(size n: Int = 2048, reps: Int = 5) -> Double {
        let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        let seconds = a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    // One raw OpenBLAS call on its own threads: the library's peak, not our split.
                    BLAS.withLibraryThreads(BLAS.productThreads) {
                        OpsBenchmark.medianSeconds(reps: reps, warmup: 1) {
                            BLAS.sgemm(transposeA: false, transposeB: false, m: n, n: n, k: n,
                                       a: pa.baseAddress!, lda: n, b: pb.baseAddress!, ldb: n,  // non-empty arrays
                                       c: pc.baseAddress!, ldc: n)
                        }
                    }
                }
            }
        }
        return 2 * Double(n) * Double(n) * Double(n) / seconds / 1e9
    }

    /// Trains `warmup + steps` steps of `config` on B x T random tokens and times them.
    /// `weights` are the model's parameters (a real model's; `config`'s shapes, checked);
    /// nil draws fresh ones. Pass them with `consume`: AdamW writes the weights in place, and
    /// a caller's live copy would make it copy every tensor first (one more set of weights
    /// in the peak, which a training run does not have). `progress(step, ms, loss, measured)` is called after every step.
    /// `measurePeak: false` skips the sgemm timing (for profiling the steps alone).
    /// With `lora`, the same model trains only LoRA adapters (B drawn small and non-zero so
    /// every gradient is a real one); the base is frozen as in a LoRA run.
    /// `residentBefore` is the resident size before the weights were loaded (default: now).
    /// `precision` is that of the forward and backward products (bf16 throws
    /// `TrainingError.precisionUnsupported` on a CPU without AVX512_BF16); the sgemm peak is float32.
    /// `activationCheckpointing` checkpoints every block (`DecoderModel.loss`).
    public static func run(config: ModelConfig, weights: consuming Parameters? = nil, batch: Int, time: Int, warmup: Int = 3,
                           steps: Int = 10, threads: Int, seed: UInt64 = 0, measurePeak: Bool = true,
                           lora: LoRAConfig? = nil, precision: Precision = .float32, activationCheckpointing: Bool = false, residentBefore: Int? = nil,
                           progress: ((Int, Double, Float, Bool) -> Void)? = nil) throws -> Result {
        precondition(batch >= 1 && time >= 2 && time <= config.contextLength,
                     "TrainBenchmark: need B >= 1 and 2 <= T <= context \(config.contextLength), got B \(batch), T \(time)")
        precondition(warmup >= 0 && steps >= 2, "TrainBenchmark: need warmup >= 0 and steps >= 2")
        if precision == .bf16, let missing = BLAS.bf16MissingFeature {
            throw TrainingError.precisionUnsupported(precision: precision, missing: missing)
        }
        BLAS.setThreadCount(threads)
        let peak = measurePeak ? sgemmGflops() : nil
        let residentBefore = residentBefore ?? MemoryStats.residentBytes()

        let model = try DecoderModel(config, lora: lora)
        var rng = RNG(seed: seed)
        var params: Parameters
        if let given = weights.take() {
            try model.withoutAdapters.validate(given)
            params = given
        } else {
            params = model.initialParameters(rng: &rng)
        }
        for (name, shape) in model.adapterShapes { params[name] = Tensor.randomNormal(shape, std: 0.02, rng: &rng) }
        let trainable: Set<String>? = lora == nil ? nil : Set(model.adapterShapes.map(\.name))
        var optimizer = AdamW(beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1)
        // As the trainer does: the moments exist before the first step, so that step's freed
        // buffers (kept by the pool) are reused by the next step instead of by the moments.
        optimizer.allocateMoments(for: params, names: params.names.filter { trainable?.contains($0) ?? true })
        let n = batch * time, v = config.vocabSize
        let positions = (0..<n).map { Int32($0 % time) }
        let segments = [Int32](repeating: 1, count: n)

        var times: [Double] = [], losses: [Float] = []
        var residentFirst = 0, residentLast = 0
        for i in 0..<(warmup + steps) {
            let tokens = (0..<n).map { _ in Int32(rng.nextInt(below: v)) }
            var targets = (0..<n).map { _ in Int32(rng.nextInt(below: v)) }
            for r in 0..<n where r % time < time / 2 { targets[r] = PackedRow.ignoreIndex }
            let t0 = DispatchTime.now().uptimeNanoseconds
            let input = ModelInput(tokens: tokens, positions: positions, segmentIDs: segments, batch: batch, time: time,
                                   targets: targets, ignoreIndex: PackedRow.ignoreIndex)
            let (grads, loss) = BLAS.withPrecision(precision) {
                lossAndGradients(model, params, trainable: trainable, input, checkpointing: activationCheckpointing)
            }
            optimizer.update(&params, grads: grads, lr: 3e-4, decays: { _ in true })
            let ms = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-6
            losses.append(loss)
            let measured = i >= warmup
            if measured {
                times.append(ms)
                let rss = MemoryStats.residentBytes()
                if i == warmup { residentFirst = rss }
                residentLast = rss
            }
            progress?(i, ms, loss, measured)
        }

        let sorted = times.sorted()
        let median = sorted[sorted.count / 2]
        let count = model.parameterCount
        let adapters = lora?.adapterScalars(for: config) ?? 0
        let attention = 12 * Double(config.layers) * Double(config.heads * config.headDim) * Double(time)
        let flops = (lora == nil ? 6 * Double(count) : 4 * Double(count) + 6 * adapters) + attention
        let tps = Double(n) / (median * 1e-3)
        let achieved = flops * tps / 1e9
        let mib = 1.0 / (1024 * 1024)
        return Result(config: config, batch: batch, time: time, threads: threads, blasCore: BLAS.coreName,
                      parameterCount: count, warmupSteps: warmup, measuredSteps: steps, stepMs: times,
                      msPerStepMedian: median, msPerStepMin: sorted[0], msPerStepMax: sorted[sorted.count - 1],
                      tokensPerSecond: tps, flopsPerToken: flops, achievedGflops: achieved,
                      sgemmPeakGflops: peak, shareOfSgemmPeak: peak.map { achieved / $0 },
                      peakResidentMiB: Double(MemoryStats.peakResidentBytes()) * mib,
                      residentBeforeMiB: Double(residentBefore) * mib,
                      residentFirstMeasuredMiB: Double(residentFirst) * mib,
                      residentLastMeasuredMiB: Double(residentLast) * mib,
                      residentGrowthPerStepKiB: Double(residentLast - residentFirst) / 1024 / Double(steps - 1),
                      lossFirst: losses[0], lossLast: losses[losses.count - 1], lora: lora,
                      trainableParameterCount: trainable.map { names in params.pairs.filter { names.contains($0.name) }.reduce(0) { $0 + $1.tensor.count } } ?? count,
                      optimizerStateMiB: Double(optimizer.m.elementCount + optimizer.v.elementCount) * 4 * mib,
                      precision: precision, activationCheckpointing: activationCheckpointing)
    }

    /// Mean loss over counted targets and its gradients. A separate function so that the
    /// tracked copies of the weights and the graph are released before the optimizer
    /// writes the weights in place (a live tracked copy would force a copy of each).
    static func lossAndGradients(_ model: DecoderModel, _ params: Parameters, trainable: Set<String>?,
                                 _ input: ModelInput, checkpointing: Bool) -> (Parameters, Float) {
        let tracked = params.tracked(only: trainable)
        let (sum, count) = model.loss(input, parameters: tracked, checkpointing: checkpointing)
        let loss = sum * (1 / Float(Swift.max(count, 1)))
        let grads = tracked.gradients(of: loss)
        return (grads, loss.scalar)
    }
}
