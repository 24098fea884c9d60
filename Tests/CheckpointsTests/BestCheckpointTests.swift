@testable import Checkpoints
import Foundation
import TestSupport
import XCTest

/// `RUN/best` (training.keep_best): written like `latest`, never pruned, resolved by every
/// command, and refused in plain words when it is not the file instruct writes.
final class BestCheckpointTests: XCTestCase {
    func save(_ step: Int, in run: URL, keepLast: Int? = nil) throws {
        try CheckpointWriter.save(step: step, in: run, files: ["a.bin": .bytes(Data([UInt8(step)]))], keepLast: keepLast)
    }

    func test_prune_neverDeletesTheBestCheckpoint() throws {
        let run = try makeTemporaryDirectory(self)
        try save(1, in: run, keepLast: 1)
        try CheckpointWriter.markBest(step: 1, in: run)
        for step in 2...4 { try save(step, in: run, keepLast: 1) }
        XCTAssertEqual(try CheckpointDirectory.list(runDirectory: run).map(\.step), [1, 4])
        XCTAssertEqual(try String(contentsOf: run.appendingPathComponent("best"), encoding: .utf8), "step-0000001\n")
        XCTAssertEqual(try CheckpointDirectory.best(runDirectory: run).lastPathComponent, "step-0000001")
        // latest stays the newest.
        XCTAssertEqual(try CheckpointDirectory.resolve(run.path).lastPathComponent, "step-0000004")
        XCTAssertEqual(try CheckpointDirectory.resolve(run.appendingPathComponent("best").path).lastPathComponent, "step-0000001")
        // Moving best lets the next prune remove the old one.
        try CheckpointWriter.markBest(step: 4, in: run)
        try save(5, in: run, keepLast: 1)
        XCTAssertEqual(try CheckpointDirectory.list(runDirectory: run).map(\.step), [4, 5])
    }

    func test_best_missingOrGone_isNoCheckpointNamingIt() throws {
        let run = try makeTemporaryDirectory(self)
        try save(1, in: run)
        guard case .noCheckpoint(_, let reason)? = expectCheckpointError({ _ = try CheckpointDirectory.best(runDirectory: run) }) else {
            return XCTFail("expected noCheckpoint")
        }
        XCTAssertTrue(reason.contains("no 'best' file"), reason)
        try CheckpointWriter.markBest(step: 7, in: run)
        guard case .noCheckpoint(let path, let gone)? = expectCheckpointError({ _ = try CheckpointDirectory.best(runDirectory: run) }) else {
            return XCTFail("expected noCheckpoint")
        }
        XCTAssertTrue(path.hasSuffix("/best") && gone.contains("step-0000007"), "\(path): \(gone)")
    }

    func test_best_aLinkOrAPath_isBadLatestNamingBest() throws {
        let run = try makeTemporaryDirectory(self)
        try save(1, in: run)
        let best = run.appendingPathComponent("best")
        try "../other/step-0000001\n".write(to: best, atomically: true, encoding: .utf8)
        let error = expectCheckpointError({ _ = try CheckpointDirectory.resolve(best.path) })
        guard case .badLatest? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue("\(error!)".contains("`best` is a one-line file"), "\(error!)")
        try FileManager.default.removeItem(at: best)
        try FileManager.default.createSymbolicLink(atPath: best.path, withDestinationPath: "step-0000001")
        guard case .badLatest? = expectCheckpointError({ _ = try CheckpointDirectory.best(runDirectory: run) }) else {
            return XCTFail("a link is refused")
        }
    }

    func test_interruptedBestWrite_isALeftoverTheNextRunRemoves() throws {
        let run = try makeTemporaryDirectory(self)
        try save(1, in: run)
        let leftover = run.appendingPathComponent(".best.tmp-123-456")
        try Data("step-0000001\n".utf8).write(to: leftover)
        let recovery = try CheckpointWriter.recoverInterruptedSaves(runDirectory: run)
        XCTAssertEqual(recovery.removed, [".best.tmp-123-456"])
    }
}
