import Foundation
import XCTest
@testable import Evaluation

/// Our 25 IFEval checkers against Google's reference (NLTK punkt, `word_tokenize`, langdetect
/// seeded 0) on a fixed response set that passes and fails every checker in awkward ways.
/// The set and the reference verdicts are made by `scripts/ifeval_agreement_set.py` and
/// `scripts/ifeval_reference.py` (see docs/evaluation.md); nothing here is hand-labelled.
final class IFEvalAgreementTests: XCTestCase {
    struct Row {
        var id: String
        var prompt: IFEvalPrompt
        var response: String
        var strict: [Bool]
        var loose: [Bool]
    }

    func fixture(_ name: String) throws -> [[String: Any]] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "jsonl"), "missing fixture \(name)")
        return try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    func rows() throws -> [Row] {
        let responses = try fixture("ifeval_agreement_responses")
        let reference = try fixture("ifeval_agreement_reference")
        XCTAssertEqual(responses.count, reference.count)
        return try zip(responses, reference).map { r, v in
            let id = try XCTUnwrap(r["id"] as? String)
            XCTAssertEqual(v["id"] as? String, id)
            let prompt = IFEvalPrompt(key: 0, prompt: try XCTUnwrap(r["prompt"] as? String),
                                      instructionIDs: try XCTUnwrap(r["instruction_id_list"] as? [String]),
                                      kwargs: try XCTUnwrap(r["kwargs"] as? [[String: Any]]))
            return Row(id: id, prompt: prompt, response: try XCTUnwrap(r["response"] as? String),
                       strict: try XCTUnwrap(v["strict"] as? [Bool]), loose: try XCTUnwrap(v["loose"] as? [Bool]))
        }
    }

    /// An instance agrees when both its strict and its loose verdict equal the reference's.
    func test_agreementWithReference_atLeast99PercentOfInstances() throws {
        var agree: [String: Int] = [:], total: [String: Int] = [:]
        var disagreements: [String] = []
        for row in try rows() {
            let ours = try IFEval.verdicts(row.prompt, response: row.response)
            for (i, id) in row.prompt.instructionIDs.enumerated() {
                total[id, default: 0] += 1
                if ours[i].strict == row.strict[i] && ours[i].loose == row.loose[i] {
                    agree[id, default: 0] += 1
                } else {
                    disagreements.append("  \(row.id) \(id) \(row.prompt.kwargs[i]): ours strict=\(ours[i].strict) loose=\(ours[i].loose), "
                                         + "reference strict=\(row.strict[i]) loose=\(row.loose[i]); response \(row.response.debugDescription)")
                }
            }
        }
        let n = total.values.reduce(0, +), a = agree.values.reduce(0, +)
        var report = String(format: "IFEval agreement with the reference: %d of %d instances (%.2f%%)\n", a, n, 100 * Double(a) / Double(n))
        for id in total.keys.sorted() {
            let t = total[id] ?? 0, g = agree[id] ?? 0
            report += "  " + id.padding(toLength: 46, withPad: " ", startingAt: 0) + String(format: " %3d/%3d  %6.2f%%\n", g, t, 100 * Double(g) / Double(t))
        }
        report += disagreements.isEmpty ? "no disagreements\n" : "disagreements:\n" + disagreements.joined(separator: "\n") + "\n"
        print(report)
        XCTAssertEqual(Set(total.keys), Set(IFEvalChecker.supportedIDs), "the set must exercise every checker")
        XCTAssertGreaterThanOrEqual(Double(a) / Double(n), 0.99, report)
    }
}
