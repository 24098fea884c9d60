import Foundation
import XCTest

@testable import Synth
import Datasets

final class SynthScoreTests: XCTestCase {
    private func rec(_ family: SynthFamily, _ answer: String) -> SynthRecord {
        SynthRecord(instruction: "i", input: "x", output: answer, family: family, check: .exact(answer: answer))
    }

    func test_score_mixedResponses_aggregatesOverallAndPerFamily() throws {
        let records = [rec(.add, "3"), rec(.add, "5"), rec(.add, "7"), rec(.sort, "1 2"), rec(.reverse, "b a")]
        let responses = ["3", "6", "7", "2 1", "b a"]
        let score = try SynthScore(records: records, responses: responses)
        XCTAssertEqual(score.overall, SynthTally(correct: 3, total: 5))
        XCTAssertEqual(score.overall.accuracy, 0.6, accuracy: 1e-12)
        XCTAssertEqual(score.families.map(\.family), [.add, .sort, .reverse])
        XCTAssertEqual(score.tally(.add), SynthTally(correct: 2, total: 3))
        XCTAssertEqual(score.tally(.sort), SynthTally(correct: 0, total: 1))
        XCTAssertEqual(score.tally(.reverse), SynthTally(correct: 1, total: 1))
        XCTAssertNil(score.tally(.count))
        XCTAssertEqual(score.families.map(\.tally.total).reduce(0, +), score.overall.total)
    }

    func test_score_familiesListed_inFamilyOrderWhateverTheRecordOrder() throws {
        let records = [rec(.endsWith, "a"), rec(.add, "1"), rec(.max, "2"), rec(.add, "3")]
        let score = try SynthScore(records: records, responses: ["a", "1", "2", "3"])
        XCTAssertEqual(score.families.map(\.family), [.add, .max, .endsWith])
        XCTAssertEqual(score.overall.accuracy, 1)
    }

    func test_score_ownOutputsOfGeneratedSet_scorePerfect() throws {
        let d = try SynthGenerator.generate(seed: 12, trainCount: 0, heldoutCount: 400)
        let score = try SynthScore(records: d.heldout, responses: d.heldout.map(\.output))
        XCTAssertEqual(score.overall, SynthTally(correct: 400, total: 400))
        XCTAssertEqual(score.families.count, SynthFamily.core.count)
        XCTAssertTrue(score.families.allSatisfy { $0.tally.total == 50 && $0.tally.correct == 50 })
    }

    func test_score_countMismatch_throws() {
        XCTAssertThrowsError(try SynthScore(records: [rec(.add, "1")], responses: [])) { error in
            XCTAssertEqual(error as? SynthError, .responseCountMismatch(records: 1, responses: 0))
        }
    }

    func test_score_empty_hasZeroAccuracy() throws {
        let score = try SynthScore(records: [], responses: [])
        XCTAssertEqual(score.overall.accuracy, 0)
        XCTAssertTrue(score.families.isEmpty)
    }

    func test_score_codable_roundTripsAndWritesAccuracy() throws {
        let score = try SynthScore(records: [rec(.add, "1"), rec(.jsonKey, "x")], responses: ["1", "y"])
        let data = try JSONEncoder().encode(score)
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let overall = object?["overall"] as? [String: Any]
        XCTAssertEqual(overall?["accuracy"] as? Double, 0.5)
        let families = object?["families"] as? [[String: Any]]
        XCTAssertEqual(families?.compactMap { $0["family"] as? String }, ["add", "json_key"])
        XCTAssertEqual(try JSONDecoder().decode(SynthScore.self, from: data), score)
    }

    func test_score_meets_checksOverallAndEveryFamily() throws {
        var score = SynthScore()
        for i in 0..<10 { score.add(family: .add, passed: i < 9) }     // 90%
        for i in 0..<10 { score.add(family: .sort, passed: i < 9) }    // 90%
        XCTAssertTrue(score.meets(overall: 0.85, everyFamily: 0.6))
        for i in 0..<2 { score.add(family: .count, passed: i < 1) }    // 50%, overall 19/22
        XCTAssertEqual(score.overall.accuracy, 19.0 / 22.0, accuracy: 1e-12)
        XCTAssertFalse(score.meets(overall: 0.85, everyFamily: 0.6))
        XCTAssertTrue(score.meets(overall: 0.85, everyFamily: 0.5))
    }
}
