import Foundation
import XCTest
import TestSupport
import Training

/// TensorBoard event files: the bytes against a file TensorBoard's own writer produced
/// (Fixtures/reference.tfevents, from `scripts/check_tensorboard.py --write-fixture`), and the
/// framing of what the writer and MetricsLog write, read back record by record.
final class TensorBoardWriterTests: XCTestCase {
    /// The events of the fixture script, in the same order.
    static let referenceEvents: [[UInt8]] = [
        TensorBoardEvent.fileVersion(wallTime: 1700000000.5),
        TensorBoardEvent.sessionStart(step: 1, wallTime: 1700000000.5),
        TensorBoardEvent.scalars([("train/loss", 2.5), ("train/lr", 3e-4)], step: 1, wallTime: 1700000001.25),
        TensorBoardEvent.scalars([("eval/loss", 0.0), ("eval/perplexité", -1.5e30)], step: 300000, wallTime: 1700000002.0),
    ]

    func test_crc32c_knownValues() {
        XCTAssertEqual(TensorBoardEvent.crc32c(Array("123456789".utf8)), 0xE306_9283)  // the CRC-32C check value
        XCTAssertEqual(TensorBoardEvent.crc32c([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)  // RFC 3720 B.4
    }

    func test_events_equalTensorBoardsOwnBytes() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "reference", withExtension: "tfevents", subdirectory: "Fixtures"))
        let reference = [UInt8](try Data(contentsOf: url))
        let ours = Self.referenceEvents.flatMap(TensorBoardEvent.record)
        XCTAssertEqual(ours.count, reference.count)
        XCTAssertEqual(ours, reference)
    }

    /// Splits an event file into its records, checking each length and CRC; fails on a torn record.
    func records(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> [[UInt8]] {
        func u32(_ at: Int) -> UInt32 { bytes[at..<at + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        var out: [[UInt8]] = []
        var i = 0
        while i < bytes.count {
            guard i + 12 <= bytes.count else { XCTFail("torn header at \(i)", file: file, line: line); break }
            let length = Int(bytes[i..<i + 8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
            XCTAssertEqual(u32(i + 8), TensorBoardEvent.maskedCRC32C(bytes[i..<i + 8]), "length CRC", file: file, line: line)
            guard i + 12 + length + 4 <= bytes.count else { XCTFail("torn record at \(i)", file: file, line: line); break }
            let data = Array(bytes[i + 12..<i + 12 + length])
            XCTAssertEqual(u32(i + 12 + length), TensorBoardEvent.maskedCRC32C(data), "data CRC", file: file, line: line)
            out.append(data)
            i += 16 + length
        }
        return out
    }

    func test_writer_versionThenSessionStartThenScalars_wholeRecords() throws {
        let dir = try TrainingFixture.directory()
        let w = try TensorBoardWriter(directory: dir.appendingPathComponent("tb"), firstStep: 7, wallTime: 1700000000.5)
        XCTAssertTrue(w.url.lastPathComponent.hasPrefix("events.out.tfevents.1700000000."))
        try w.add([("train/loss", 2.5), ("train/lr", 3e-4)], step: 7, wallTime: 1700000001.25)
        try w.add([], step: 8)
        let recs = records([UInt8](try Data(contentsOf: w.url)))
        XCTAssertEqual(recs.count, 3, "an empty add writes nothing")
        XCTAssertEqual(recs[0], TensorBoardEvent.fileVersion(wallTime: 1700000000.5))
        XCTAssertEqual(recs[1], TensorBoardEvent.sessionStart(step: 7, wallTime: 1700000000.5))
        XCTAssertEqual(recs[2], TensorBoardEvent.scalars([("train/loss", 2.5), ("train/lr", 3e-4)], step: 7, wallTime: 1700000001.25))
    }

    func test_metricsLog_withTensorBoard_writesAnEventPerLine_andANewFileOnResume() throws {
        let dir = try TrainingFixture.directory()
        let log = try MetricsLog(directory: dir, truncateAfterStep: 0, tensorBoard: true)
        try log.append(StepMetrics(step: 1, epoch: 0, loss: 2, lr: 1e-3, gradNorm: 0.5, tokens: 10, trainedTokens: 5,
                                   tokensPerSecond: 100, trainedTokensPerSecond: 50, elapsedSeconds: 0.1))
        try log.append(EvalMetrics(step: 1, evalLoss: 1.5, evalPerplexity: 4.48, evalTokens: 9))
        let first = try XCTUnwrap(log.tensorBoard?.url)
        let recs = records([UInt8](try Data(contentsOf: first)))
        XCTAssertEqual(recs.count, 4)
        // The tags, in the event's bytes.
        let text = String(decoding: recs[2] + recs[3], as: UTF8.self)
        for tag in ["train/loss", "train/lr", "train/grad_norm", "train/tokens_per_s", "eval/loss", "eval/perplexity"] {
            XCTAssertTrue(text.contains(tag), tag)
        }
        let resumed = try MetricsLog(directory: dir, truncateAfterStep: 1, tensorBoard: true)
        XCTAssertNotEqual(resumed.tensorBoard?.url, nil)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("tensorboard").path)
        XCTAssertEqual(files.count, 2, "\(files)")
        let second = records([UInt8](try Data(contentsOf: try XCTUnwrap(resumed.tensorBoard?.url))))
        XCTAssertEqual(Array(second[1].suffix(6)), [0x10, 0x02, 0x3A, 0x02, 0x08, 0x01], "step 2, session_log {status: START}")
        XCTAssertNil(try MetricsLog(directory: try TrainingFixture.directory()).tensorBoard)
    }
}
