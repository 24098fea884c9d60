import Foundation
import XCTest
@testable import Datasets

final class RowRenderingTests: XCTestCase {
    let tok = ByteTokenizer()

    func row() -> PackedRow {
        var s = ExampleStore()
        s.append(try! ExampleEncoder(tokenizer: tok, template: .plain).encode(.instruction(instruction: "Q", input: "", response: "AB")))
        s.append(try! ExampleEncoder(tokenizer: tok, template: .plain).encode(.instruction(instruction: "R", input: "", response: "C")))
        return PackingPlan(seqLen: 14, rows: [[0, 1]]).row(0, from: s, padID: 256)
    }

    func test_plain_marksTrainedSpans_segments_andPadding() {
        let text = RowRenderer.render(row(), tokenizer: tok, style: .plain)
        XCTAssertEqual(text, """
            legend: [[trained]] not trained <pad xN>
            ── example 1 · positions 0-5 · 6 tokens · 3 trained ──
            Q⏎
            [[AB<|endoftext|>]]⏎

            ── example 2 · positions 0-4 · 5 tokens · 2 trained ──
            R⏎
            [[C<|endoftext|>]]⏎

            <pad x3>

            """)
        XCTAssertFalse(text.contains("\u{1B}"))
    }

    func test_ansi_coloursTrainedGreen() {
        let text = RowRenderer.render(row(), tokenizer: tok, style: .ansi)
        XCTAssertTrue(text.contains("\u{1B}[32mA\u{1B}[0m"))
        XCTAssertTrue(text.contains("\u{1B}[90mQ\u{1B}[0m"))
    }

    func test_roles_followTheLossMask() {
        let roles = RowRenderer.roles(of: row())
        XCTAssertEqual(roles.filter { $0 == .trained }.count, 5)
        XCTAssertEqual(roles.filter { $0 == .padding }.count, 3)
    }

    func test_reportJSON_hasTheDocumentedKeys() throws {
        var r = PreflightReport()
        r.records = 3
        r.trainedTokens = 5
        let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as! [String: Any]
        for key in ["records", "skipped", "dropped", "truncated", "tokens", "trained_tokens", "rows", "packing_efficiency"] {
            XCTAssertNotNil(object[key], key)
        }
        XCTAssertEqual(object["trained_tokens"] as? Int, 5)
    }

    func test_reportText_listsCountsAndHistogram() {
        var r = PreflightReport()
        r.records = 4
        r.skippedByReason = ["missing_field": 1]
        r.skipped = 1
        r.lengthHistogram = PreflightReport.histogram([1, 2, 9], seqLen: 16, bucketCount: 2)
        let text = RowRenderer.render(r, seqLen: 16)
        XCTAssertTrue(text.contains("records read        4"))
        XCTAssertTrue(text.contains("skipped             1 (missing_field: 1)"))
        XCTAssertTrue(text.contains("  1-8         2      ########################################"), text)
    }
}
