import XCTest
@testable import Autograd

final class RNGTests: XCTestCase {
    func test_rng_sameSeed_sameSequence() {
        var a = RNG(seed: 42)
        var b = RNG(seed: 42)
        for _ in 0..<1000 { XCTAssertEqual(a.nextUInt64(), b.nextUInt64()) }
        var c = RNG(seed: 43)
        var d = RNG(seed: 42)
        XCTAssertNotEqual(c.nextUInt64(), d.nextUInt64())
    }

    /// Pins the first outputs so a change to the generator (which would break
    /// resuming old checkpoints and cross-platform reproducibility) fails loudly.
    func test_rng_seed0_firstOutputsArePinned() {
        var r = RNG(seed: 0)
        let first = (0..<3).map { _ in r.nextUInt64() }
        // xoshiro256** seeded by SplitMix64(0); values computed by an independent Python script
        // (scripts/reference_rng.py).
        XCTAssertEqual(first, RNGTests.pinnedSeed0)
    }
    static let pinnedSeed0: [UInt64] = [11091344671253066420, 13793997310169335082, 1900383378846508768]

    func test_rng_saveMidNormalPair_restoresSameSequence() throws {
        var r = RNG(seed: 7)
        _ = r.nextNormal()  // leaves a spare normal in the state
        let saved = try JSONEncoder().encode(r)
        let expected = (0..<10).map { _ in r.nextNormal() }
        var restored = try JSONDecoder().decode(RNG.self, from: saved)
        XCTAssertEqual((0..<10).map { _ in restored.nextNormal() }, expected)
    }

    func test_rng_normals_haveUnitMoments() {
        var r = RNG(seed: 1)
        let n = 200_000
        var sum = 0.0, sumSq = 0.0
        for _ in 0..<n { let x = r.nextNormal(); sum += x; sumSq += x * x }
        XCTAssertEqual(sum / Double(n), 0, accuracy: 0.01)
        XCTAssertEqual(sumSq / Double(n), 1, accuracy: 0.01)
    }

    func test_rng_nextIntBelow_isUniformAndInRange() {
        var r = RNG(seed: 3)
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<70_000 { counts[r.nextInt(below: 7)] += 1 }
        for c in counts { XCTAssertEqual(Double(c), 10_000, accuracy: 400) }
    }

    func test_rng_shuffle_isPermutationAndReproducible() {
        var a = Array(0..<100), b = Array(0..<100)
        var r1 = RNG(seed: 9), r2 = RNG(seed: 9)
        r1.shuffle(&a); r2.shuffle(&b)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, Array(0..<100))
        XCTAssertEqual(a.sorted(), Array(0..<100))
    }

    func test_deterministicLog_matchesLibmWithin1e15() {
        for x in [1e-300, 1e-10, 0.001, 0.5, 0.7071, 1.0, 1.5, 2.0, 10, 12345.678, 1e300] {
            XCTAssertEqual(DeterministicMath.log(x), Foundation.log(x), accuracy: 2e-15 * max(1, abs(Foundation.log(x))))
        }
    }
}
