import Foundation
import XCTest
@testable import Synth

/// Near misses for `instruct data synth --preference`: wrong by the record's own checker, close
/// to the right answer, deterministic.
final class SynthNearMissTests: XCTestCase {
    func records() throws -> [SynthRecord] {
        try SynthGenerator.generate(seed: 4, trainCount: 400, heldoutCount: 0, options: SynthOptions(),
                                    memoryLimit: 1 << 30).train
    }

    func test_nearMiss_failsTheCheck_andDiffersFromTheAnswer() throws {
        var rng = SynthRandom(seed: 9)
        var made = 0
        for r in try records() {
            guard let miss = SynthNearMiss.rejected(for: r, rng: &rng) else { continue }
            made += 1
            XCTAssertNotEqual(miss, r.output)
            XCTAssertFalse(SynthChecker.score(r, response: miss), "\(r.family): \(miss) passes for \(r.output)")
            XCTAssertTrue(SynthChecker.score(r, response: r.output))
        }
        XCTAssertGreaterThan(made, 380, "almost every record has a near miss")
    }

    func test_nearMiss_isClose() throws {
        var rng = SynthRandom(seed: 2)
        for r in try records() where [.add, .count, .max].contains(r.family) {
            guard let miss = SynthNearMiss.rejected(for: r, rng: &rng), let a = Int(r.output), let b = Int(miss) else { continue }
            XCTAssertEqual(abs(a - b), 1, "off by one")
        }
        for r in try records() where r.family == .sort {
            guard let miss = SynthNearMiss.rejected(for: r, rng: &rng) else { continue }
            XCTAssertEqual(miss.split(separator: " ").sorted(), r.output.split(separator: " ").sorted(), "the same items, two swapped")
        }
    }

    func test_encodeJSONL_deterministicPreferenceLines() throws {
        let rs = try records()
        let a = SynthNearMiss.encodeJSONL(rs, seed: 1), b = SynthNearMiss.encodeJSONL(rs, seed: 1)
        XCTAssertEqual(a.data, b.data)
        let first = try XCTUnwrap(String(decoding: a.data, as: UTF8.self).split(separator: "\n").first)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: String])
        XCTAssertEqual(Set(object.keys), ["prompt", "input", "chosen", "rejected", "family"])
        XCTAssertEqual(object["chosen"], rs[0].output)
    }
}
