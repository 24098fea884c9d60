import Autograd
import Dispatch
import Models
import NN

/// Tokens per second of greedy generation with the key/value cache and without it
/// (recomputing the whole sequence for every new token), on a model with random weights.
public enum GenerationBenchmark {
    /// The measured figures of one run.
    public struct Result: Codable, Sendable {
        public var config: ModelConfig
        public var promptTokens: Int
        public var newTokens: Int
        /// Wall-clock seconds for prefill plus all new tokens.
        public var withCacheSeconds: Double
        public var withoutCacheSeconds: Double
        public var withCacheTokensPerSecond: Double
        public var withoutCacheTokensPerSecond: Double
        /// withCacheTokensPerSecond / withoutCacheTokensPerSecond.
        public var speedup: Double
        /// Whether both ways chose the same tokens (they should, up to float rounding in ties).
        public var sameTokens: Bool
    }

    /// A small random Llama: dim 128, 4 layers, 4 query heads over 2 kv heads, vocabulary 1024,
    /// context 512.
    public static let defaultConfig = ModelConfig(family: .llama, vocabSize: 1024, contextLength: 512, dim: 128,
                                                  layers: 4, heads: 4, kvHeads: 2)

    /// Generates `newTokens` greedily from a `promptLength`-token prompt, once with the cache
    /// and once by recomputing the full sequence each step, and times both. Each way runs
    /// once (no warm-up beyond a 4-token run of each), so expect a few percent of noise.
    public static func run(config: ModelConfig = defaultConfig, promptLength: Int = 8, newTokens: Int = 256,
                           seed: UInt64 = 0) throws -> Result {
        let model = try DecoderModel(config)
        var rng = RNG(seed: seed)
        let p = model.initialParameters(rng: &rng)
        let prompt = (0..<promptLength).map { _ in Int32(rng.nextInt(below: config.vocabSize)) }
        let options = GenerationOptions(maxNewTokens: newTokens)

        func withoutCache(_ count: Int) -> [Int32] {
            var seq = prompt
            for _ in 0..<count {
                let t = seq.count
                let z = model.logits(ModelInput(sequence: seq), parameters: p)
                let last = z.withUnsafeBufferPointer { Array($0[((t - 1) * config.vocabSize)...]) }
                seq.append(Sampler.argmax(last))
            }
            return Array(seq[prompt.count...])
        }
        // Warm-up: page in the weights and BLAS buffers for both ways.
        _ = try Generator.generate(model: model, parameters: p, prompts: [prompt], options: GenerationOptions(maxNewTokens: 4))
        _ = withoutCache(4)

        var start = DispatchTime.now().uptimeNanoseconds
        let cached = try Generator.generate(model: model, parameters: p, prompts: [prompt], options: options)[0]
        let cachedSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        start = DispatchTime.now().uptimeNanoseconds
        let recomputed = withoutCache(cached.count)
        let recomputedSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let withTPS = Double(cached.count) / cachedSeconds, withoutTPS = Double(recomputed.count) / recomputedSeconds
        return Result(config: config, promptTokens: promptLength, newTokens: cached.count,
                      withCacheSeconds: cachedSeconds, withoutCacheSeconds: recomputedSeconds,
                      withCacheTokensPerSecond: withTPS, withoutCacheTokensPerSecond: withoutTPS,
                      speedup: withTPS / withoutTPS, sameTokens: cached == recomputed)
    }
}
