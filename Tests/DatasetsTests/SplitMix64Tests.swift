import XCTest
@testable import Datasets

final class SplitMix64Tests: XCTestCase {
    func test_seedZero_matchesReferenceSequence() {
        // Reference values of Vigna's splitmix64.c seeded with 0.
        var g = SplitMix64(seed: 0)
        XCTAssertEqual(g.next(), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(g.next(), 0x6E78_9E6A_A1B9_65F4)
        XCTAssertEqual(g.next(), 0x06C4_5D18_8009_454F)
    }

    func test_nextBelow_staysInRange_andShuffleIsAPermutation() {
        var g = SplitMix64(mixing: [1, 2, 3])
        for bound in [1, 2, 7, 1000] {
            for _ in 0..<200 { XCTAssertTrue((0..<bound).contains(g.next(below: bound))) }
        }
        var a = Array(0..<100)
        var h = SplitMix64(mixing: [5])
        h.shuffle(&a)
        XCTAssertEqual(a.sorted(), Array(0..<100))
        var b = Array(0..<100)
        var h2 = SplitMix64(mixing: [5])
        h2.shuffle(&b)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, Array(0..<100))
    }

    func test_mixing_neighbouringInputs_giveDifferentStreams() {
        var a = SplitMix64(mixing: [7, 0]), b = SplitMix64(mixing: [7, 1]), c = SplitMix64(mixing: [0, 7])
        let x = a.next(), y = b.next(), z = c.next()
        XCTAssertNotEqual(x, y)
        XCTAssertNotEqual(x, z)
    }
}
