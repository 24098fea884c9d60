import Foundation
import XCTest

@testable import Synth
import Datasets

final class SynthIOTests: XCTestCase {
    private func decode(_ lines: [String], path: String = "data/heldout.jsonl") throws -> [SynthRecord] {
        try SynthFiles.decodeJSONL(Data(lines.joined(separator: "\n").utf8), path: path)
    }

    private let good = #"{"instruction":"Add.","input":"2 + 3","output":"5","family":"add","check":{"kind":"exact","answer":"5"}}"#

    /// Asserts that the single bad line (after one good line) throws a `badRecord` naming the
    /// file, line 2 and `field`, and that the message mentions `mentions`.
    private func assertBad(_ line: String, field: String, mentions: String,
                           file: StaticString = #filePath, lineNo: UInt = #line) {
        XCTAssertThrowsError(try decode([good, line]), file: file, line: lineNo) { error in
            guard case let .badRecord(path, l, f, reason)? = error as? SynthError else {
                return XCTFail("unexpected \(error)", file: file, line: lineNo)
            }
            XCTAssertEqual(path, "data/heldout.jsonl", file: file, line: lineNo)
            XCTAssertEqual(l, 2, file: file, line: lineNo)
            XCTAssertEqual(f, field, file: file, line: lineNo)
            XCTAssertTrue(reason.contains(mentions), "reason: \(reason)", file: file, line: lineNo)
            XCTAssertTrue((error as! SynthError).description.hasPrefix("data/heldout.jsonl:2: field \(field): "),
                          file: file, line: lineNo)
        }
    }

    // MARK: Round trip

    func test_encodeLine_fieldsInAlpacaOrder() {
        let r = SynthRecord(instruction: "Add.", input: "2 + 3", output: "5", family: .add, check: .exact(answer: "5"))
        XCTAssertEqual(SynthFiles.encodeLine(r), good)
    }

    func test_roundTrip_generatedSet_loadsBackEqual() throws {
        let d = try SynthGenerator.generate(seed: 31, trainCount: 2000, heldoutCount: 200)
        XCTAssertEqual(try SynthFiles.decodeJSONL(SynthFiles.encodeJSONL(d.train), path: "t"), d.train)
        XCTAssertEqual(try SynthFiles.decodeJSONL(SynthFiles.encodeJSONL(d.heldout), path: "h"), d.heldout)
    }

    func test_roundTrip_awkwardCharactersAndOptionalFields() throws {
        let records = [
            SynthRecord(instruction: "Say \"hi\"\\ now\n\ttab \u{01} é 🙂 </x>", input: "", output: "{\"k\": \"v\"}",
                        family: .jsonKey, check: .jsonKey(key: "k", value: nil)),
            SynthRecord(instruction: "i", input: "a", output: "a Bye.", family: .endsWith, check: .endsWith(phrase: "Bye.", body: nil)),
            SynthRecord(instruction: "i", input: "a", output: "A", family: .uppercase, check: .allCaps(answer: nil)),
        ]
        let data = SynthFiles.encodeJSONL(records)
        XCTAssertEqual(String(decoding: data, as: UTF8.self).filter { $0 == "\n" }.count, 3, "one line per record")
        XCTAssertEqual(try SynthFiles.decodeJSONL(data, path: "x"), records)
        // Foundation's own parser agrees with the hand-written escaping.
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(line.utf8)))
        }
    }

    func test_write_thenLoad_givesRecordsAndManifest() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("synth-\(UUID().uuidString)/nested")
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        let d = try SynthGenerator.generate(seed: 77, trainCount: 160, heldoutCount: 16)
        let manifest = try SynthFiles.write(d, to: dir.path)
        XCTAssertEqual(try SynthFiles.load(path: dir.appendingPathComponent("train.jsonl").path), d.train)
        XCTAssertEqual(try SynthFiles.load(path: dir.appendingPathComponent("heldout.jsonl").path), d.heldout)
        XCTAssertEqual(manifest.generator, "instructkit-synth")
        XCTAssertEqual(manifest.version, SynthGenerator.version)
        XCTAssertEqual(manifest.seed, 77)
        XCTAssertEqual(manifest.families, SynthFamily.core)
        XCTAssertEqual(manifest.options, SynthOptions())
        XCTAssertEqual(manifest.splits.map(\.records), [160, 16])
        XCTAssertEqual(manifest.splits[0].families["json_key"], 20)
        XCTAssertEqual(manifest.splits[1].families.values.reduce(0, +), 16)
        XCTAssertEqual(manifest.splits.map(\.sha256).map(\.count), [64, 64])
    }

    // MARK: Malformed input

    func test_load_missingFile_throwsUnreadableNamingThePath() {
        XCTAssertThrowsError(try SynthFiles.load(path: "/nonexistent/train.jsonl")) { error in
            guard case let .unreadableFile(path, _)? = error as? SynthError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "/nonexistent/train.jsonl")
        }
    }

    func test_load_blankLinesAndCRLF_areAccepted() throws {
        let data = Data((good + "\r\n\n   \n" + good + "\n").utf8)
        XCTAssertEqual(try SynthFiles.decodeJSONL(data, path: "x").count, 2)
    }

    func test_load_notJSON_namesLine() {
        assertBad("{\"instruction\": ", field: "(line)", mentions: "not a JSON object")
        assertBad("[1, 2]", field: "(line)", mentions: "expected a JSON object")
    }

    func test_load_missingOrMistypedRecordField_namesField() {
        assertBad(#"{"instruction":"i","input":"x","family":"add","check":{"kind":"exact","answer":"5"}}"#,
                  field: "output", mentions: "missing")
        assertBad(#"{"instruction":"i","input":3,"output":"5","family":"add","check":{"kind":"exact","answer":"5"}}"#,
                  field: "input", mentions: "expected a string")
        assertBad(#"{"instruction":"i","input":"x","output":"5","family":"add"}"#, field: "check", mentions: "missing")
        assertBad(#"{"instruction":"i","input":"x","output":"5","family":"add","check":{"kind":"exact","answer":"5"},"id":7}"#,
                  field: "id", mentions: "unknown field")
    }

    func test_load_unknownFamily_listsTheFamilies() {
        assertBad(#"{"instruction":"i","input":"x","output":"5","family":"addition","check":{"kind":"exact","answer":"5"}}"#,
                  field: "family", mentions: "unknown family \"addition\"; expected one of add, sort, count, max")
    }

    func test_load_malformedCheck_namesCheckField() {
        func line(_ check: String) -> String {
            #"{"instruction":"i","input":"x","output":"5","family":"add","check":"# + check + "}"
        }
        assertBad(line(#"{"answer":"5"}"#), field: "check.kind", mentions: "missing")
        assertBad(line(#"{"kind":"regex","pattern":"5"}"#), field: "check.kind",
                  mentions: "unknown check kind \"regex\"; expected one of exact, json_key, ends_with, all_caps")
        assertBad(line(#"{"kind":"exact"}"#), field: "check.answer", mentions: "missing")
        assertBad(line(#"{"kind":"exact","answer":5}"#), field: "check.answer", mentions: "expected a string")
        assertBad(line(#"{"kind":"json_key","value":"cat"}"#), field: "check.key", mentions: "missing")
        assertBad(line(#"{"kind":"json_key","key":"","value":"cat"}"#), field: "check.key", mentions: "must not be empty")
        assertBad(line(#"{"kind":"ends_with","phrase":""}"#), field: "check.phrase", mentions: "must not be empty")
        assertBad(line(#"{"kind":"ends_with","phrse":"The end."}"#), field: "check.phrse", mentions: "unknown field for a ends_with check")
        assertBad(line(#"{"kind":"all_caps","answer":"Red"}"#), field: "check.answer", mentions: "has lowercase letters")
        assertBad(line(#""exact""#), field: "check", mentions: "expected a JSON object")
    }

    func test_loadManifest_missingFile_throwsUnreadable() {
        XCTAssertThrowsError(try SynthFiles.loadManifest(path: "/nonexistent/manifest.json")) { error in
            guard case .unreadableFile? = error as? SynthError else { return XCTFail("\(error)") }
        }
    }
}
