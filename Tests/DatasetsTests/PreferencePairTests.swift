import Foundation
import Tokenizers
import XCTest
@testable import Datasets

/// Preference records: their shapes, the row layout (chosen segment 1, rejected segment 2,
/// answer tokens only), the row budget and bad input.
final class PreferencePairTests: XCTestCase {
    let tok = ByteTokenizer()

    func config(_ path: String, seqLen: Int = 256, overflow: PromptOverflow = .truncateLeft, split: Double = 0,
                template: TemplateKind? = .chatml, bad: BadRecordPolicy = .error) -> DataConfig {
        var c = DataConfig(datasets: [DatasetSpec(path: path, template: template, validationFraction: split)], seqLen: seqLen,
                           onBadRecord: bad)
        c.preference = PreferenceDataOptions(promptOverflow: overflow)
        return c
    }

    /// The text of the counted targets of segment `s` of a row.
    func answer(_ row: PackedRow, segment s: Int32) -> String {
        tok.decode(row.targets.indices.filter { row.segmentIDs[$0] == s && row.targets[$0] != PackedRow.ignoreIndex }.map { row.targets[$0] })
    }

    func test_stringPair_oneRowPerPair_onlyAnswersCounted() throws {
        let dir = TempDir()
        let p = dir.write("p.jsonl", #"{"prompt":"Hi?","chosen":"Yes.","rejected":"No way."}"#)
        let data = try DataPipeline.prepare(config(p), tokenizer: tok)
        XCTAssertEqual(data.report.examples, 1)
        XCTAssertEqual(data.report.rows, 1)
        let row = try XCTUnwrap(data.row(0))
        XCTAssertEqual(Set(row.segmentIDs), [0, 1, 2])
        // ChatML: the answer, then <|im_end|> (trained, as in SFT).
        XCTAssertEqual(answer(row, segment: 1), "Yes.<|im_end|>")
        XCTAssertEqual(answer(row, segment: 2), "No way.<|im_end|>")
        // Positions restart at the rejected side.
        let start = try XCTUnwrap(row.segmentIDs.firstIndex(of: 2))
        XCTAssertEqual(row.positions[start], 0)
    }

    func test_messagesPrompt_andConversationalSides_renderTheSameRows() throws {
        let dir = TempDir()
        let a = dir.write("a.jsonl", #"{"messages":[{"role":"user","content":"Q1"},{"role":"assistant","content":"A1"},{"role":"user","content":"Q2"}],"chosen":"good","rejected":"bad"}"#)
        let b = dir.write("b.jsonl", #"{"chosen":[{"role":"user","content":"Q1"},{"role":"assistant","content":"A1"},{"role":"user","content":"Q2"},{"role":"assistant","content":"good"}],"rejected":[{"role":"user","content":"Q1"},{"role":"assistant","content":"A1"},{"role":"user","content":"Q2"},{"role":"assistant","content":"bad"}]}"#)
        let c = dir.write("c.jsonl", #"{"prompt":[{"role":"user","content":"Q1"},{"role":"assistant","content":"A1"},{"role":"user","content":"Q2"}],"chosen":[{"role":"assistant","content":"good"}],"rejected":[{"role":"assistant","content":"bad"}]}"#)
        let rows = try [a, b, c].map { try XCTUnwrap(DataPipeline.prepare(config($0), tokenizer: tok).row(0)) }
        XCTAssertEqual(rows[0], rows[1])
        XCTAssertEqual(rows[0], rows[2])
        // The earlier assistant turn (A1) is prompt: not counted.
        XCTAssertEqual(answer(rows[0], segment: 1), "good<|im_end|>")
        XCTAssertEqual(answer(rows[0], segment: 2), "bad<|im_end|>")
    }

    func test_chosenEqualsRejected_isDroppedAndCounted() throws {
        let dir = TempDir()
        let p = dir.write("p.jsonl", #"{"prompt":"Q","chosen":"same","rejected":"same"}"# + "\n" + #"{"prompt":"Q","chosen":"a","rejected":"b"}"#)
        let data = try DataPipeline.prepare(config(p), tokenizer: tok)
        XCTAssertEqual(data.report.droppedByReason, ["chosen_equals_rejected": 1])
        XCTAssertEqual(data.report.examples, 1)
    }

    func test_emptySide_errorNamesFileLineAndField() throws {
        let dir = TempDir()
        let p = dir.write("p.jsonl", #"{"prompt":"Q","chosen":"a","rejected":"b"}"# + "\n" + #"{"prompt":"Q","chosen":"a","rejected":"  "}"#)
        XCTAssertThrowsError(try DataPipeline.prepare(config(p), tokenizer: tok)) { error in
            XCTAssertEqual(error as? DatasetError, .emptyField(path: p, line: 2, field: "rejected"))
        }
        // With on_bad_record: skip it is counted instead.
        let data = try DataPipeline.prepare(config(p, bad: .skip), tokenizer: tok)
        XCTAssertEqual(data.report.skippedByReason, ["empty_field": 1])
        XCTAssertEqual(data.report.examples, 1)
    }

    func test_missingRejected_errorNamesLine() {
        let dir = TempDir()
        let p = dir.write("p.jsonl", #"{"prompt":"Q","chosen":"a","rejected":"b"}"# + "\n" + #"{"prompt":"Q","chosen":"a"}"#)
        XCTAssertThrowsError(try DataPipeline.prepare(config(p), tokenizer: tok)) { error in
            XCTAssertEqual(error as? DatasetError, .missingField(path: p, line: 2, field: "rejected"))
        }
    }

    func test_longPrompt_truncatedFromLeftOrDropped_responsesNeverCut() throws {
        let dir = TempDir()
        let long = String(repeating: "x", count: 60)
        let lines = [#"{"prompt":"\#(long)","chosen":"aaaa","rejected":"bbbb"}"#,
                     #"{"prompt":"short","chosen":"\#(String(repeating: "c", count: 40))","rejected":"\#(String(repeating: "d", count: 40))"}"#,
                     #"{"prompt":"q","chosen":"ok","rejected":"no"}"#]
        let p = dir.write("p.jsonl", lines.joined(separator: "\n"))
        let cut = try DataPipeline.prepare(config(p, seqLen: 80, template: .plain), tokenizer: tok)
        XCTAssertEqual(cut.report.truncated, 1)
        XCTAssertEqual(cut.report.droppedByReason, ["response_too_long": 1])
        XCTAssertEqual(cut.report.examples, 2)
        for i in 0..<cut.rowCount(.train) {
            let row = try XCTUnwrap(cut.row(i))
            XCTAssertLessThanOrEqual(row.usedTokens, 80)
            XCTAssertFalse(answer(row, segment: 1).isEmpty)
        }
        let dropped = try DataPipeline.prepare(config(p, seqLen: 80, overflow: .drop, template: .plain), tokenizer: tok)
        XCTAssertEqual(dropped.report.droppedByReason, ["too_long": 2])
        XCTAssertEqual(dropped.report.examples, 1)
    }

    func test_validationSplit_keepsPairsWhole() throws {
        let dir = TempDir()
        let p = dir.write("p.jsonl", (0..<20).map { #"{"prompt":"Q\#($0)","chosen":"yes \#($0)","rejected":"no"}"# }.joined(separator: "\n"))
        let data = try DataPipeline.prepare(config(p, split: 0.2), tokenizer: tok)
        XCTAssertEqual(data.report.validationExamples, 4)
        XCTAssertEqual(data.rowCount(.validation), 4)
        XCTAssertEqual(data.rowCount(.train), 16)
        for i in 0..<4 {
            let row = try XCTUnwrap(data.row(i, split: .validation))
            XCTAssertTrue(answer(row, segment: 1).hasPrefix("yes"))
            XCTAssertTrue(answer(row, segment: 2).hasPrefix("no"))
        }
    }

    func test_preferenceRecords_inSupervisedRun_refusedNamingTheSection() {
        let dir = TempDir()
        let p = dir.write("p.jsonl", #"{"prompt":"Q","chosen":"a","rejected":"b"}"#)
        XCTAssertThrowsError(try DataPipeline.prepare(DataConfig(datasets: [DatasetSpec(path: p)], seqLen: 64), tokenizer: tok)) { error in
            XCTAssertTrue("\(error)".contains("preference:"), "\(error)")
        }
    }

    func test_fingerprint_differsFromSupervised() throws {
        let spec = DatasetSpec(path: "x")
        var c = DataConfig(datasets: [spec])
        let sft = DataFingerprint.make(dataDigest: [1, 2, 3], dataSize: 3, spec: spec, config: c, tokenizer: tok)
        c.preference = PreferenceDataOptions()
        let pref = DataFingerprint.make(dataDigest: [1, 2, 3], dataSize: 3, spec: spec, config: c, tokenizer: tok)
        c.preference = PreferenceDataOptions(promptOverflow: .drop)
        let drop = DataFingerprint.make(dataDigest: [1, 2, 3], dataSize: 3, spec: spec, config: c, tokenizer: tok)
        XCTAssertEqual(Set([sft, pref, drop]).count, 3)
    }
}
