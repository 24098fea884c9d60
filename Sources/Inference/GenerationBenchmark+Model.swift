import Autograd
import Dispatch
import Foundation
import Interop
import Models
import NN

/// Decoding speed of a real model at batch 1, greedy, against the memory-bandwidth bound.
///
/// Each repetition prefills the prompt in one call (timed: prompt tokens/s) and then runs
/// `newTokens` decoding steps of one token each, argmax included (timed: generated
/// tokens/s), always the full count (end-of-sequence ids are not stops here, as in
/// llama.cpp's `llama-bench`). One shorter repetition first is a warm-up and not counted;
/// the figures are the medians over the repetitions.
///
/// The bound is what the machine's memory allows: every weight is read once per generated
/// token, plus the keys and values cached so far, so tokens/s <= bandwidth / bytes per
/// token. The bandwidth is measured in the same process right before each repetition
/// (`MemoryBandwidth` on `threads` threads; the faster of the streaming read and half the
/// copy rate, i.e. the copy's read side), so a repetition's share of the bound compares two
/// figures taken under the same load; the share reported is the median of those.
extension GenerationBenchmark {
    /// One model's measurements.
    public struct ModelResult: Codable, Sendable {
        public var weights: WeightFormat
        public var promptTokens: Int
        public var newTokens: Int
        public var repetitions: Int
        /// Per repetition: prompt tokens / prefill seconds.
        public var prefillTokensPerSecond: [Double]
        /// Per repetition: new tokens / decoding seconds.
        public var decodeTokensPerSecond: [Double]
        /// Medians of the two lists above.
        public var prefillMedian: Double
        public var decodeMedian: Double
        /// Bytes of weights one generated token reads (`DecodingWeights.bytesReadPerToken`).
        public var weightBytesPerToken: Int
        /// Bytes of cached keys and values one generated token reads, averaged over the run.
        public var cacheBytesPerToken: Int
        /// The measurement before each repetition.
        public var bandwidths: [MemoryBandwidth.Result]
        /// Per repetition: the read rate the bound uses, max(read, copy / 2), bytes/s.
        public var boundBytesPerSecond: [Double]
        /// median(boundBytesPerSecond) / (weight + cache bytes per token).
        public var boundTokensPerSecond: Double
        /// Median over repetitions of decode tokens/s / that repetition's bound.
        public var shareOfBound: Double
        /// The ids generated in the last repetition (all repetitions generate the same).
        public var tokens: [Int32]
    }

    /// Runs the benchmark on `model` with `weights` (see the type's documentation).
    /// `threads` is the thread count of the bandwidth measurement (the decode kernels use
    /// every core of Dispatch's pool). Throws `GenerationError` for an empty prompt, a prompt
    /// with ids outside the vocabulary or a run that does not fit in the context.
    public static func run(model: DecoderModel, weights: DecodingWeights, prompt: [Int32], newTokens: Int,
                           repetitions: Int, threads: Int) throws -> ModelResult {
        let config = model.config
        if prompt.isEmpty { throw GenerationError.emptyPrompt(row: 0) }
        if let bad = prompt.first(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
            throw GenerationError.tokenOutOfVocabulary(row: 0, token: bad, vocabSize: config.vocabSize)
        }
        if prompt.count + newTokens > config.contextLength {
            throw GenerationError.promptTooLong(row: 0, length: prompt.count + newTokens, contextLength: config.contextLength)
        }
        if newTokens < 1 || repetitions < 1 {
            throw GenerationError.invalidOptions(["new tokens and repetitions must be at least 1 (got \(newTokens), \(repetitions))"])
        }

        func once(newTokens: Int) -> (prefill: Double, decode: Double, tokens: [Int32]) {
            var cache = model.makeCache(batch: 1, capacity: prompt.count + newTokens)
            let t0 = DispatchTime.now().uptimeNanoseconds
            var logits = model.logits(appending: prompt, positions: (0..<prompt.count).map { Int32($0) }, cache: &cache,
                                      weights: weights, lastOnly: true)
            let t1 = DispatchTime.now().uptimeNanoseconds
            var out: [Int32] = []
            for i in 0..<newTokens {
                let next = Sampler.argmax(logits.withUnsafeBufferPointer { Array($0) })
                out.append(next)
                logits = model.logits(appending: [next], positions: [Int32(prompt.count + i)], cache: &cache,
                                      weights: weights, lastOnly: true)
            }
            let t2 = DispatchTime.now().uptimeNanoseconds
            return (Double(t1 - t0) / 1e9, Double(t2 - t1) / 1e9, out)
        }
        _ = once(newTokens: Swift.min(newTokens, 8))   // warm-up: pages, pools, caches
        // Decoding step i reads the cache's prompt.count + i + 1 slots; averaged over the run.
        let meanSlots = prompt.count + (newTokens + 1) / 2
        let cacheBytes = KVCache.bytesRead(layers: config.layers, kvHeads: config.kvHeads, headDim: config.headDim, length: meanSlots)
        let bytesPerToken = Double(weights.bytesReadPerToken + cacheBytes)
        var prefill: [Double] = [], decode: [Double] = [], tokens: [Int32] = []
        var bandwidths: [MemoryBandwidth.Result] = [], rates: [Double] = [], shares: [Double] = []
        for _ in 0..<repetitions {
            let bw = MemoryBandwidth.measure(threads: threads, passes: 3)
            let rate = Swift.max(bw.readBytesPerSecond, bw.copyBytesPerSecond / 2)
            let r = once(newTokens: newTokens)
            prefill.append(Double(prompt.count) / r.prefill)
            decode.append(Double(newTokens) / r.decode)
            bandwidths.append(bw)
            rates.append(rate)
            shares.append(decode[decode.count - 1] / (rate / bytesPerToken))
            tokens = r.tokens
        }
        return ModelResult(weights: weights.format, promptTokens: prompt.count, newTokens: newTokens, repetitions: repetitions,
                           prefillTokensPerSecond: prefill, decodeTokensPerSecond: decode, prefillMedian: median(prefill),
                           decodeMedian: median(decode), weightBytesPerToken: weights.bytesReadPerToken,
                           cacheBytesPerToken: cacheBytes, bandwidths: bandwidths, boundBytesPerSecond: rates,
                           boundTokensPerSecond: median(rates) / bytesPerToken, shareOfBound: median(shares), tokens: tokens)
    }

    /// The middle value (mean of the two middle ones for an even count); 0 for none.
    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        if s.isEmpty { return 0 }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}

extension LoadedModel {
    /// Whether `path` is another tool's model (a `.gguf` file, or a Hugging Face directory:
    /// config.json and no model card) rather than an InstructKit checkpoint.
    public static func isForeignModel(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return false }
        if !isDirectory.boolValue { return path.lowercased().hasSuffix(".gguf") }
        let dir = URL(fileURLWithPath: path)
        let has = { FileManager.default.fileExists(atPath: dir.appendingPathComponent($0).path) }
        return has("config.json") && !has(ModelCard.fileName) && !has("latest")
    }

    /// Opens a GGUF file or a Hugging Face directory as `instruct import` would make it: the
    /// import is written to a temporary directory, loaded, and the directory removed. Throws
    /// what `ModelImport.read`, `ModelImport.save` and `load` throw.
    public static func importing(_ path: String) throws -> LoadedModel {
        let imported = try ModelImport.read(URL(fileURLWithPath: path))
        let run = FileManager.default.temporaryDirectory.appendingPathComponent("instruct-import-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: run) }
        let step = try ModelImport.save(imported, in: run)
        return try load(path: step.path, verify: false)
    }
}
