import XCTest
import Foundation
import Autograd
import TestSupport
import Inference

final class SamplingTests: XCTestCase {
    /// Softmax of logits / T in Double.
    func softmax(_ z: [Float], temperature t: Double) -> [Double] {
        let m = z.map { Double($0) / t }.max()!
        let e = z.map { Foundation.exp(Double($0) / t - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    func randomLogits(_ v: Int, seed: UInt64) -> [Float] {
        var rng = RNG(seed: seed)
        return (0..<v).map { _ in Float(rng.nextNormal()) * 2 }
    }

    func test_greedy_picksArgmaxAndLowestIdOnTies() {
        var rng = RNG(seed: 1)
        XCTAssertEqual(Sampler.next(logits: [0.1, 2.0, -1, 1.9], previous: [], options: .greedy, rng: &rng), 1)
        XCTAssertEqual(Sampler.next(logits: [0.5, 3, 3, -2], previous: [], options: .greedy, rng: &rng), 1)
        XCTAssertEqual(rng, RNG(seed: 1), "greedy decoding draws no random numbers")
    }

    func test_topK1_equalsGreedy() {
        var rng = RNG(seed: 2)
        for seed in 0..<50 as Range<UInt64> {
            let z = randomLogits(30, seed: seed)
            let token = Sampler.next(logits: z, previous: [], options: SamplingOptions(temperature: 1.5, topK: 1), rng: &rng)
            XCTAssertEqual(token, Sampler.argmax(z), "seed \(seed)")
        }
    }

    func test_tinyTopP_equalsGreedy() {
        var rng = RNG(seed: 3)
        for seed in 0..<50 as Range<UInt64> {
            let z = randomLogits(30, seed: 100 + seed)
            let token = Sampler.next(logits: z, previous: [], options: SamplingOptions(temperature: 1, topP: 1e-6), rng: &rng)
            XCTAssertEqual(token, Sampler.argmax(z), "seed \(seed)")
        }
    }

    func test_temperatureSampling_sameSeed_sameTokens_otherSeed_otherTokens() {
        let z = randomLogits(20, seed: 4)
        let options = SamplingOptions(temperature: 1)
        func draw(_ seed: UInt64) -> [Int32] {
            var rng = RNG(seed: seed)
            return (0..<200).map { _ in Sampler.next(logits: z, previous: [], options: options, rng: &rng) }
        }
        XCTAssertEqual(draw(7), draw(7))
        XCTAssertNotEqual(draw(7), draw(8))
    }

    /// 40,000 draws at T = 0.7 over 5 tokens: Pearson's chi-square against softmax(z / T) is
    /// below 18.47, the 99.9% point of chi-square with 4 degrees of freedom (the seed is fixed,
    /// so this is deterministic; a wrong temperature or an off-by-one in the cumulative sum
    /// gives statistics in the hundreds).
    func test_temperatureSampling_empiricalDistribution_matchesSoftmax() {
        let z: [Float] = [1.0, 0.5, -0.3, 2.0, 0.0]
        let t: Float = 0.7, n = 40_000
        var counts = [Int](repeating: 0, count: z.count)
        var rng = RNG(seed: 5)
        for _ in 0..<n {
            counts[Int(Sampler.next(logits: z, previous: [], options: SamplingOptions(temperature: t), rng: &rng))] += 1
        }
        let expected = softmax(z, temperature: Double(t)).map { $0 * Double(n) }
        var chi2 = 0.0
        for i in 0..<z.count { chi2 += (Double(counts[i]) - expected[i]) * (Double(counts[i]) - expected[i]) / expected[i] }
        XCTAssertLessThan(chi2, 18.47, "counts \(counts), expected \(expected)")
    }

    func test_distribution_topKAndTopP_keepTheHeadRenormalised() {
        // Probabilities at T = 1: log(0.5), log(0.3), log(0.2) -> 0.5, 0.3, 0.2.
        let z: [Float] = [Float(Foundation.log(0.3)), Float(Foundation.log(0.5)), Float(Foundation.log(0.2))]
        let k2 = Sampler.distribution(z, options: SamplingOptions(temperature: 1, topK: 2))
        XCTAssertEqual(k2.map(\.token), [1, 0])
        XCTAssertEqual(k2[0].probability, 0.5 / 0.8, accuracy: 1e-6)
        // top-p 0.7: 0.5 < 0.7 so the second token is kept; 0.8 >= 0.7 so the third is not.
        let p07 = Sampler.distribution(z, options: SamplingOptions(temperature: 1, topP: 0.7))
        XCTAssertEqual(p07.map(\.token), [1, 0])
        let p045 = Sampler.distribution(z, options: SamplingOptions(temperature: 1, topP: 0.45))
        XCTAssertEqual(p045.map(\.token), [1], "0.5 alone already reaches top-p 0.45")
        XCTAssertEqual(p045[0].probability, 1, accuracy: 1e-12)
        let all = Sampler.distribution(z, options: SamplingOptions(temperature: 1))
        XCTAssertEqual(all.map(\.probability).reduce(0, +), 1, accuracy: 1e-12)
    }

    func test_repetitionPenalty_changesTheGreedyChoice() {
        var rng = RNG(seed: 6)
        let z: [Float] = [2.0, 1.9, -1]
        XCTAssertEqual(Sampler.next(logits: z, previous: [], options: .greedy, rng: &rng), 0)
        // 2.0 / 1.2 = 1.67 < 1.9: the repeated token loses.
        let penalised = SamplingOptions(repetitionPenalty: 1.2)
        XCTAssertEqual(Sampler.next(logits: z, previous: [0, 0, 2], options: penalised, rng: &rng), 1)
        var w = z
        Sampler.applyRepetitionPenalty(&w, previous: [2, 0, 2], penalty: 2)
        XCTAssertEqual(w, [1.0, 1.9, -2], "positive divided, negative multiplied, each token once")
    }

    func test_invalidOptions_nameTheField() {
        XCTAssertTrue(SamplingOptions(temperature: -1).problems().first?.contains("temperature") ?? false)
        XCTAssertTrue(SamplingOptions(topP: 0).problems().first?.contains("top_p") ?? false)
        XCTAssertTrue(SamplingOptions(topK: -3).problems().first?.contains("top_k") ?? false)
        XCTAssertTrue(SamplingOptions().problems().isEmpty)
    }
}
