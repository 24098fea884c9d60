import XCTest

@testable import Synth
import Datasets

final class SynthCheckerTests: XCTestCase {
    private func record(_ family: SynthFamily, _ output: String, _ check: SynthCheck) -> SynthRecord {
        SynthRecord(instruction: "i", input: "x", output: output, family: family, check: check)
    }

    private func assertFails(_ check: SynthCheck, _ response: String, reason: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        let verdict = SynthChecker.verify(check, response: response)
        XCTAssertFalse(verdict.passed, "\"\(response)\" should fail", file: file, line: line)
        XCTAssertEqual(verdict.reason, reason, file: file, line: line)
    }

    // MARK: exact

    func test_exact_rightAnswerWithSurroundingWhitespace_passes() {
        let r = record(.add, "12", .exact(answer: "12"))
        XCTAssertTrue(SynthChecker.score(r, response: "12"))
        XCTAssertTrue(SynthChecker.score(r, response: "  12\n"))
    }

    func test_exact_offByOneSum_fails() {
        assertFails(.exact(answer: "12"), "11", reason: "expected \"12\"")
        assertFails(.exact(answer: "12"), "13", reason: "expected \"12\"")
        assertFails(.exact(answer: "12"), "12.", reason: "expected \"12\"")
        assertFails(.exact(answer: "12"), "The answer is 12", reason: "expected \"12\"")
    }

    func test_exact_unsortedOrBadlySpacedList_fails() {
        let check = SynthCheck.exact(answer: "1 2 2 7")
        XCTAssertTrue(SynthChecker.verify(check, response: "1 2 2 7").passed)
        for wrong in ["2 1 2 7", "1 2 7", "1 2 2 7 9", "1  2 2 7", "1,2,2,7", "7 2 2 1"] {
            XCTAssertFalse(SynthChecker.verify(check, response: wrong).passed, wrong)
        }
    }

    func test_exact_wrongCase_fails() {
        XCTAssertFalse(SynthChecker.verify(.exact(answer: "red sun cat"), response: "Red sun cat").passed)
    }

    // MARK: json_key

    func test_jsonKey_objectWithKeyAndValue_passes() {
        let check = SynthCheck.jsonKey(key: "name", value: "cat")
        XCTAssertTrue(SynthChecker.verify(check, response: "{\"name\": \"cat\"}").passed)
        XCTAssertTrue(SynthChecker.verify(check, response: " {\"name\":\"cat\",\"extra\":1}\n").passed)
    }

    func test_jsonKey_missingKey_fails() {
        assertFails(.jsonKey(key: "name", value: "cat"), "{\"word\": \"cat\"}", reason: "no key \"name\"")
        assertFails(.jsonKey(key: "name", value: "cat"), "{\"Name\": \"cat\"}", reason: "no key \"name\"")
    }

    func test_jsonKey_wrongOrNonStringValue_fails() {
        assertFails(.jsonKey(key: "name", value: "cat"), "{\"name\": \"dog\"}",
                    reason: "the value of \"name\" is \"dog\", expected \"cat\"")
        assertFails(.jsonKey(key: "n", value: "3"), "{\"n\": 3}", reason: "the value of \"n\" is not a JSON string")
        assertFails(.jsonKey(key: "n", value: "true"), "{\"n\": true}", reason: "the value of \"n\" is not a JSON string")
        assertFails(.jsonKey(key: "n", value: "cat"), "{\"n\": [\"cat\"]}", reason: "the value of \"n\" is not a JSON string")
    }

    func test_jsonKey_notAnObject_fails() {
        for wrong in ["cat", "name: cat", "{\"name\": \"cat\"", "[{\"name\": \"cat\"}]", "\"cat\"",
                      "Here you go: {\"name\": \"cat\"}", "{\"name\": \"cat\"} done", ""] {
            assertFails(.jsonKey(key: "name", value: "cat"), wrong, reason: "not a single JSON object")
        }
    }

    func test_jsonKey_withoutValue_onlyNeedsTheKey() {
        XCTAssertTrue(SynthChecker.verify(.jsonKey(key: "k", value: nil), response: "{\"k\": 5}").passed)
        XCTAssertFalse(SynthChecker.verify(.jsonKey(key: "k", value: nil), response: "{\"j\": 5}").passed)
    }

    // MARK: ends_with

    func test_endsWith_bodyThenPhrase_passes() {
        let check = SynthCheck.endsWith(phrase: "The end.", body: "cat sun")
        XCTAssertTrue(SynthChecker.verify(check, response: "cat sun The end.").passed)
        XCTAssertTrue(SynthChecker.verify(check, response: "cat sun\nThe end.\n").passed)
    }

    func test_endsWith_wrongOrMissingEnding_fails() {
        let check = SynthCheck.endsWith(phrase: "The end.", body: "cat sun")
        assertFails(check, "cat sun", reason: "does not end with \"The end.\"")
        assertFails(check, "cat sun The end", reason: "does not end with \"The end.\"")
        assertFails(check, "cat sun the end.", reason: "does not end with \"The end.\"")
        assertFails(check, "cat sun The end. Bye.", reason: "does not end with \"The end.\"")
        assertFails(check, "cat sun Good night.", reason: "does not end with \"The end.\"")
    }

    func test_endsWith_wrongBody_fails() {
        let check = SynthCheck.endsWith(phrase: "The end.", body: "cat sun")
        assertFails(check, "The end.", reason: "the text before \"The end.\" should be \"cat sun\"")
        assertFails(check, "sun cat The end.", reason: "the text before \"The end.\" should be \"cat sun\"")
    }

    func test_endsWith_withoutBody_onlyNeedsThePhrase() {
        XCTAssertTrue(SynthChecker.verify(.endsWith(phrase: "Bye.", body: nil), response: "anything at all Bye.").passed)
    }

    // MARK: all_caps

    func test_allCaps_upperCaseAnswer_passes() {
        let r = record(.uppercase, "THE RED CAT", .allCaps(answer: "THE RED CAT"))
        XCTAssertTrue(SynthChecker.score(r, response: "THE RED CAT\n"))
    }

    func test_allCaps_anyLowercaseLetter_fails() {
        let check = SynthCheck.allCaps(answer: "THE RED CAT")
        assertFails(check, "THE RED CAt", reason: "has lowercase letters")
        assertFails(check, "the red cat", reason: "has lowercase letters")
        assertFails(check, "The Red Cat", reason: "has lowercase letters")
    }

    func test_allCaps_wrongWordsOrNoLetters_fails() {
        assertFails(.allCaps(answer: "THE RED CAT"), "THE CAT", reason: "expected \"THE RED CAT\"")
        assertFails(.allCaps(answer: nil), "123 !", reason: "has no letters")
        assertFails(.allCaps(answer: nil), "", reason: "has no letters")
        XCTAssertTrue(SynthChecker.verify(.allCaps(answer: nil), response: "ANY WORDS 42").passed)
    }
}
