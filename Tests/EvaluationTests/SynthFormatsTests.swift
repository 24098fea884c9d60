import Foundation
import Synth
import XCTest
@testable import Evaluation

/// The `bullets` and `quoted` synthetic families, scored with IFEval's checkers.
final class SynthFormatsTests: XCTestCase {
    func verify(_ check: SynthCheck, _ response: String) -> SynthVerdict {
        SynthChecker.verify(check, response: response, formats: IFEvalFormats())
    }

    func test_everyFormatRecord_passesItsOwnCheck_andTheIFEvalInstruction() throws {
        let d = try SynthGenerator.generate(seed: 3, trainCount: 400, heldoutCount: 40, options: SynthOptions(families: SynthFamily.formats))
        for r in d.train + d.heldout {
            let verdict = verify(r.check, r.output)
            XCTAssertTrue(verdict.passed, "\(r.family): \(r.output): \(verdict.reason ?? "")")
        }
        XCTAssertEqual(Set(d.train.map(\.family)), Set(SynthFamily.formats))
    }

    func test_bullets_countItemsAndStyle() {
        let check = SynthCheck.bullets(items: ["cat", "sun", "red"])
        XCTAssertTrue(verify(check, "* cat\n* sun\n* red").passed)
        XCTAssertTrue(verify(check, "- cat\n- sun\n- red\n").passed, "IFEval counts dash bullets too")
        XCTAssertFalse(verify(check, "* cat\n* sun").passed, "two bullets, three asked")
        XCTAssertFalse(verify(check, "cat, sun, red").passed, "no bullets")
        XCTAssertFalse(verify(check, "* cat\n* red\n* sun").passed, "other order")
        XCTAssertEqual(verify(check, "* cat\n* sun").reason, "not exactly 3 bullet points (IFEval detectable_format:number_bullet_lists)")
        XCTAssertFalse(SynthChecker.verify(check, response: "* cat\n* sun\n* red").passed, "without IFEval's checkers it cannot pass")
    }

    func test_quoted_wrapAndText() {
        let check = SynthCheck.quoted(text: "the red cat")
        XCTAssertTrue(verify(check, "\"the red cat\"").passed)
        XCTAssertTrue(verify(check, "  \"the red cat\"\n").passed)
        XCTAssertFalse(verify(check, "the red cat").passed)
        XCTAssertFalse(verify(check, "\"the red dog\"").passed)
        XCTAssertFalse(verify(check, "'the red cat'").passed)
    }

    func test_formatChecks_roundTripThroughJSONL() throws {
        let d = try SynthGenerator.generate(seed: 5, trainCount: 20, heldoutCount: 0, options: SynthOptions(families: SynthFamily.formats))
        let back = try SynthFiles.decodeJSONL(SynthFiles.encodeJSONL(d.train), path: "mem")
        XCTAssertEqual(back, d.train)
        XCTAssertThrowsError(try SynthFiles.decodeJSONL(Data(#"{"instruction":"i","input":"a","output":"* a","family":"bullets","check":{"kind":"bullets","items":[]}}"#.utf8), path: "x.jsonl")) { error in
            XCTAssertTrue("\(error)".contains("x.jsonl:1"), "\(error)")
        }
    }
}
