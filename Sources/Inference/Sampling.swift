import Autograd
import Foundation

/// How the next token is chosen from a row of logits.
///
/// The steps run in Hugging Face's order: repetition penalty, then temperature, then
/// top-k, then top-p; then one draw from the softmax of what is left. Temperature 0 is
/// greedy decoding (argmax after the repetition penalty; top-k and top-p cannot change an
/// argmax, so they are ignored). Ties go to the lowest token id.
public struct SamplingOptions: Sendable, Equatable {
    /// Divides the logits before the softmax; 0 means greedy (argmax). Must be >= 0.
    public var temperature: Float
    /// Keep only the k highest logits; 0 keeps all.
    public var topK: Int
    /// Nucleus sampling: keep the smallest set of most likely tokens whose probability
    /// sums to at least `topP` (always at least one token); 1 keeps all. In (0, 1].
    public var topP: Float
    /// Hugging Face's repetition penalty for tokens already in the row (prompt and output):
    /// positive logits are divided by it, negative ones multiplied. 1 disables; > 1 discourages.
    public var repetitionPenalty: Float

    /// Greedy decoding unless a temperature is given.
    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, repetitionPenalty: Float = 1) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.repetitionPenalty = repetitionPenalty
    }

    /// Greedy decoding: always the most likely token.
    public static let greedy = SamplingOptions()

    /// Whether this picks the argmax without drawing a random number.
    public var isGreedy: Bool { temperature == 0 }

    /// Problems with these options, each naming the field; empty when valid.
    public func problems() -> [String] {
        var out: [String] = []
        if !(temperature >= 0 && temperature.isFinite) { out.append("temperature must be >= 0 (got \(temperature))") }
        if topK < 0 { out.append("top_k must be >= 0 (got \(topK))") }
        if !(topP > 0 && topP <= 1) { out.append("top_p must be in (0, 1] (got \(topP))") }
        if !(repetitionPenalty > 0 && repetitionPenalty.isFinite) {
            out.append("repetition_penalty must be > 0 (got \(repetitionPenalty))")
        }
        return out
    }
}

/// Next-token selection from logits: the steps of `SamplingOptions`, usable one by one.
public enum Sampler {
    /// Applies Hugging Face's repetition penalty in place: for every distinct token of
    /// `previous`, a positive logit is divided by `penalty` and a negative one multiplied.
    public static func applyRepetitionPenalty(_ logits: inout [Float], previous: [Int32], penalty: Float) {
        guard penalty != 1 else { return }
        var seen = Set<Int32>()
        for token in previous where token >= 0 && Int(token) < logits.count && seen.insert(token).inserted {
            let z = logits[Int(token)]
            logits[Int(token)] = z > 0 ? z / penalty : z * penalty
        }
    }

    /// The index of the largest logit (the lowest index among equal maxima).
    public static func argmax(_ logits: [Float]) -> Int32 {
        precondition(!logits.isEmpty, "Sampler.argmax: empty logits")
        var best = 0
        for i in 1..<logits.count where logits[i] > logits[best] { best = i }
        return Int32(best)
    }

    /// The distribution a draw is made from, after temperature, top-k and top-p:
    /// (token, probability) pairs summing to 1 (in Double), most likely first when top-k or
    /// top-p cuts the tail, in id order otherwise (no sort over V then). Only for
    /// temperature > 0; apply the repetition penalty first.
    public static func distribution(_ logits: [Float], options: SamplingOptions) -> [(token: Int32, probability: Double)] {
        precondition(options.temperature > 0, "Sampler.distribution: needs temperature > 0 (0 is greedy)")
        precondition(!logits.isEmpty, "Sampler.distribution: empty logits")
        var order = Array(0..<logits.count)
        let truncates = (options.topK > 0 && options.topK < logits.count) || options.topP < 1
        if truncates {
            // Most likely first; equal logits keep id order, so ties go to the lower id.
            order.sort { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
            if options.topK > 0 && options.topK < order.count { order.removeLast(order.count - options.topK) }
        }
        let t = Double(options.temperature)
        let m = Double(logits[truncates ? order[0] : Int(argmax(logits))]) / t
        var weights = order.map { Foundation.exp(Double(logits[$0]) / t - m) }
        var total = weights.reduce(0, +)
        if options.topP < 1 {
            // Keep token i while the probability of the tokens before it is below top-p.
            var cumulative = 0.0, keep = 0
            while keep < weights.count && cumulative < Double(options.topP) * total {
                cumulative += weights[keep]
                keep += 1
            }
            keep = Swift.max(keep, 1)
            order.removeLast(order.count - keep)
            weights.removeLast(weights.count - keep)
            total = weights.reduce(0, +)
        }
        return zip(order, weights).map { (Int32($0.0), $0.1 / total) }
    }

    /// Chooses the next token from `logits` [V] of one row.
    ///
    /// - Parameters:
    ///   - previous: the row's tokens so far (prompt and output), for the repetition penalty.
    ///   - rng: used only when sampling (temperature > 0): exactly one `nextDouble()` per call,
    ///     so a seed gives the same tokens on every run.
    public static func next(logits: [Float], previous: [Int32], options: SamplingOptions, rng: inout RNG) -> Int32 {
        var z = logits
        applyRepetitionPenalty(&z, previous: previous, penalty: options.repetitionPenalty)
        if options.isGreedy { return argmax(z) }
        let dist = distribution(z, options: options)
        let u = rng.nextDouble()
        var cumulative = 0.0
        for (token, probability) in dist {
            cumulative += probability
            if u < cumulative { return token }
        }
        return dist[dist.count - 1].token   // u within rounding of 1: the last kept token
    }
}
