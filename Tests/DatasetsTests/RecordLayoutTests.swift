import Foundation
import XCTest
@testable import Datasets

/// JSON array and CSV files, the plain text format, and reading in chunks.
final class RecordLayoutTests: XCTestCase {
    func parse(_ text: String, path: String = "d.json", format: RecordFormat = .auto, skip: Bool = false) throws -> RecordFile {
        try RecordReader.parse(bytes: Array(text.utf8), path: path, format: format, onBadRecord: skip ? .skip : .error)
    }

    func error(_ text: String, path: String = "d.json", format: RecordFormat = .auto, skip: Bool = false) -> DatasetError? {
        do {
            _ = try parse(text, path: path, format: format, skip: skip)
            return nil
        } catch {
            return error as? DatasetError
        }
    }

    /// Reads `bytes` handed over `size` bytes at a time (the way a large file arrives).
    func chunked(_ bytes: [UInt8], size: Int, path: String, skip: Bool = false, limit: Int = RecordReader.maxRecordBytes) throws -> RecordFile {
        var at = 0
        var records: [Record] = []
        let counts = try RecordReader.scan(path: path, format: .auto, columns: ColumnMapping(), onBadRecord: skip ? .skip : .error,
                                           maxRecordBytes: limit, next: {
                                               guard at < bytes.count else { return nil }
                                               defer { at += size }
                                               return bytes[at..<min(at + size, bytes.count)]
                                           }) { r, _ in records.append(r) }
        return RecordFile(records: records, recordsRead: counts.recordsRead, skipped: counts.skipped, format: counts.format)
    }

    func fixture(_ name: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/" + name, withExtension: nil), "missing fixture \(name)")
    }

    // MARK: JSON arrays

    func test_oneLineJSONArray_badRecord_isNamedByNumber_notLineOne() {
        // Stanford Alpaca's alpaca_data.json layout, squeezed onto one line.
        let good = #"{"instruction":"a","input":"","output":"b"}"#
        let text = "[" + [good, good, #"{"instruction":"c","input":""}"#, good].joined(separator: ",") + "]"
        let e = error(text)
        XCTAssertEqual(e, .missingField(path: "d.json", line: 1, field: "output", record: 3))
        XCTAssertTrue(e.map { "\($0)" }?.hasPrefix("d.json: record 3 (line 1): field `output` is missing") ?? false, "\(String(describing: e))")
        let skipped = try? parse(text, skip: true)
        XCTAssertEqual(skipped?.records.map(\.record), [1, 2, 4])
        XCTAssertEqual(skipped?.skipped, ["missing_field": 1])
    }

    func test_jsonArray_elementThatIsNotAnObject_isABadRecord() throws {
        let f = try parse(#"[{"prompt":"a","completion":"b"}, 7, "x", [1, {"y": "]"}], null, {"prompt":"c","completion":"d"}]"#, skip: true)
        XCTAssertEqual(f.records.count, 2)
        XCTAssertEqual(f.recordsRead, 6)
        XCTAssertEqual(f.skipped, ["malformed_json": 4])
        XCTAssertEqual(error(#"[{"prompt":"a","completion":"b"}, 7]"#),
                       .malformedJSON(path: "d.json", line: 1, reason: "the record is not a JSON object", record: 2))
    }

    func test_jsonArray_brokenElement_isSkippable_andNamed() throws {
        let text = "[\n{\"prompt\":\"a\",\"completion\":\"b\"},\n{\"prompt\": nope},\n{\"prompt\":\"c\",\"completion\":\"d\"}\n]"
        guard case let .malformedJSON(_, line, _, record)? = error(text) else { return XCTFail("\(String(describing: error(text)))") }
        XCTAssertEqual(line, 3)
        XCTAssertEqual(record, 2)
        XCTAssertEqual(try parse(text, skip: true).records.map(\.line), [2, 4])
    }

    func test_jsonArray_brokenStructure_isAFileError_evenWhenSkipping() {
        let a = #"{"prompt":"a","completion":"b"}"#
        let cases: [(String, String, Int?)] = [
            ("[" + a + "," + a, "the file ends before the closing `]`", 2),
            ("[" + a + ",]", "a comma before `]`", 1),
            ("[" + a + " " + a + "]", "expected `,` or `]` after record 1", 1),
            ("[" + a + "] x", "text after the closing `]`", 1),
            ("[" + a + ",," + a + "]", "a comma where a record should start", 1),
            ("[" + #"{"prompt":"a""#, "the file ends inside record 1", 1),
        ]
        for (text, reason, record) in cases {
            guard case let .malformedFile(path, _, r, n)? = error(text, skip: true) else {
                XCTFail("\(text): \(String(describing: error(text, skip: true)))")
                continue
            }
            XCTAssertEqual(path, "d.json")
            XCTAssertTrue(r.contains(reason), "\(text): \(r)")
            XCTAssertEqual(n, record, text)
        }
    }

    func test_jsonArray_emptyArray_readsNoRecords() throws {
        XCTAssertEqual(try parse("[ ]").records.count, 0)
    }

    // MARK: Text

    func test_textFormat_detected_andKeptWhole() throws {
        let f = try parse("{\"text\": \"Once upon a time.\\nThe end.\"}\n{\"text\": \"<|im_start|>user\\nhi<|im_end|>\"}", path: "t.jsonl")
        XCTAssertEqual(f.format, .text)
        XCTAssertEqual(f.records.map(\.content), [.text("Once upon a time.\nThe end."), .text("<|im_start|>user\nhi<|im_end|>")])
    }

    func test_textFormat_loosesToInstructionFormats_andRefusesEmptyText() throws {
        // Alpaca dumps often carry the rendered prompt as `text` too: they stay Alpaca.
        XCTAssertEqual(try parse(#"{"instruction":"a","output":"b","text":"Instruction: a Response: b"}"#, path: "a.jsonl").format, .alpaca)
        XCTAssertEqual(error(#"{"text":"  "}"#, path: "t.jsonl"), .emptyField(path: "t.jsonl", line: 1, field: "text"))
        XCTAssertEqual(error(#"{"text":3}"#, path: "t.jsonl"), .wrongFieldType(path: "t.jsonl", line: 1, field: "text", expected: "a string"))
    }

    // MARK: CSV

    func test_csv_readsLikePythonsCSVModule() throws {
        let url = try fixture("alpaca.csv")
        let expected = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: try fixture("alpaca.csv.json"))) as? [[String: String]])
        let f = try RecordReader.read(path: url.path)
        XCTAssertEqual(f.format, .alpaca)
        XCTAssertEqual(f.records.count, expected.count)
        for (record, row) in zip(f.records, expected) {
            XCTAssertEqual(record.content, .instruction(instruction: row["instruction"]!, input: row["input"]!, response: row["output"]!))
        }
        XCTAssertEqual(f.records.map(\.record), Array(1...expected.count))
        XCTAssertEqual(f.records.map(\.line), [2, 5, 6, 7, 8, 9, 10], "rows with line breaks inside quotes span several lines")
    }

    func test_csv_quotingBlankLinesAndLineEnds() throws {
        let text = "prompt,completion\n\n\"a, \"\"b\"\"\",c\r\nx,\"multi\nline\"\n\nlast,row"
        let f = try parse(text, path: "p.csv")
        XCTAssertEqual(f.format, .promptCompletion)
        XCTAssertEqual(f.records.map(\.content), [
            .instruction(instruction: "a, \"b\"", input: "", response: "c"),
            .instruction(instruction: "x", input: "", response: "multi\nline"),
            .instruction(instruction: "last", input: "", response: "row"),
        ])
        XCTAssertEqual(f.records.map(\.line), [3, 4, 7])
        XCTAssertEqual(f.records.map(\.record), [1, 2, 3])
    }

    func test_csv_wrongFieldCount_isABadRecordNamedByNumber() throws {
        let text = "instruction,output\na,b\nc\nd,e,f\ng,h\n"
        XCTAssertEqual(error(text, path: "r.csv"),
                       .malformedCSV(path: "r.csv", line: 3, reason: "the row has 1 fields, the header 2", record: 2))
        let f = try parse(text, path: "r.csv", skip: true)
        XCTAssertEqual(f.records.map(\.record), [1, 4])
        XCTAssertEqual(f.skipped, ["malformed_csv": 2])
    }

    func test_csv_fileProblems_areNotSkippable() {
        XCTAssertEqual(error("instruction,output\na,\"open\n", path: "q.csv", skip: true),
                       .malformedFile(path: "q.csv", line: 2, reason: "a quoted field is not closed before the end of the file", record: 1))
        guard case let .malformedFile(_, _, reason, _)? = error("a,a\n1,2\n", path: "h.csv", skip: true) else { return XCTFail() }
        XCTAssertTrue(reason.contains("column `a` twice"), reason)
        guard case let .malformedFile(_, _, reason2, _)? = error("messages\nx\n", path: "m.csv", format: .messages) else { return XCTFail() }
        XCTAssertTrue(reason2.contains("use JSONL or JSON for chat data"), reason2)
        XCTAssertEqual(error("\n\n", path: "e.csv"), .emptyFile(path: "e.csv"))
        XCTAssertEqual(error("x,y\n1,2\n", path: "u.csv"), .unknownFormat(path: "u.csv", line: 2, fields: ["x", "y"], record: 1))
    }

    func test_csv_invalidUTF8_namesTheRecord() throws {
        let bytes = Array("prompt,completion\na,b\nc,".utf8) + [0xC3, 0x28] + Array("\n".utf8)
        XCTAssertThrowsError(try RecordReader.parse(bytes: bytes, path: "x.csv")) {
            XCTAssertEqual($0 as? DatasetError, .invalidUTF8(path: "x.csv", line: 3, record: 2))
        }
    }

    // MARK: Chunks

    func test_everyLayout_readInTinyChunks_equalsReadWhole() throws {
        let jsonl = (0..<12).map { #"{"prompt":"q\#($0) ✓","completion":"a,\"]}\#($0)"}"# }.joined(separator: "\r\n") + "\n"
        let array = "[\n" + (0..<12).map { #"  {"prompt":"q\#($0) ✓", "completion":"a,\"]}[\#($0)"}"# }.joined(separator: ",\n") + "\n]\n"
        let csv = "\u{FEFF}prompt,completion\r\n" + (0..<12).map { "\"q\($0)\r\n✓\",\"a,\"\"b\"\"\"" }.joined(separator: "\r\n")
        for (text, path) in [(jsonl, "c.jsonl"), (array, "c.json"), (csv, "c.csv")] {
            let bytes = Array(text.utf8)
            let whole = try RecordReader.parse(bytes: bytes, path: path)
            XCTAssertEqual(whole.records.count, 12, path)
            for size in [1, 2, 3, 5, 7, 64] {
                let parts = try chunked(bytes, size: size, path: path)
                XCTAssertEqual(parts.records, whole.records, "\(path) in chunks of \(size)")
                XCTAssertEqual(parts.recordsRead, 12)
            }
        }
    }

    func test_recordLongerThanTheLimit_isABadRecord_notAnAllocation() throws {
        let long = #"{"prompt":"\#(String(repeating: "x", count: 500))","completion":"b"}"#
        let short = #"{"prompt":"a","completion":"b"}"#
        for (text, path) in [([short, long, short].joined(separator: "\n"), "l.jsonl"),
                             ("[" + [short, long, short].joined(separator: ",") + "]", "l.json")] {
            let f = try chunked(Array(text.utf8), size: 7, path: path, skip: true, limit: 100)
            XCTAssertEqual(f.records.count, 2, path)
            XCTAssertEqual(f.skipped, ["malformed_json": 1], path)
            XCTAssertThrowsError(try chunked(Array(text.utf8), size: 7, path: path, limit: 100)) {
                XCTAssertTrue("\($0)".contains("longer than 100 bytes"), "\($0)")
            }
        }
        let csv = "prompt,completion\na,b\n\(String(repeating: "x", count: 500)),b\nc,d\n"
        let f = try chunked(Array(csv.utf8), size: 7, path: "l.csv", skip: true, limit: 100)
        XCTAssertEqual(f.records.map(\.record), [1, 3])
        XCTAssertEqual(f.skipped, ["malformed_csv": 1])
    }

    func test_stream_fileLargerThanAChunk_givesEveryRecordInOrder() throws {
        let dir = TempDir()
        let n = 40_000  // about 2.4 MB: more than two 1 MiB chunks
        let text = (0..<n).map { #"{"prompt":"question number \#($0)","completion":"answer \#($0)"}"# }.joined(separator: "\n")
        let path = dir.write("big.jsonl", text)
        var seen = 0
        let counts = try RecordReader.stream(path: path) { record, format in
            XCTAssertEqual(format, .promptCompletion)
            if record.line != seen + 1 { XCTFail("record \(seen + 1) has line \(record.line)") }
            seen += 1
        }
        XCTAssertEqual(seen, n)
        XCTAssertEqual(counts.recordsRead, n)
    }
}
