@testable import Checkpoints
import Foundation
import TestSupport
import XCTest

/// The run lock, the clean-up after interrupted saves, `latest` that cannot be trusted, and
/// checks that make damaged manifests and truncated archives fail the same way every time.
final class RunFolderSafetyTests: XCTestCase {
    func files(_ step: Int) -> [String: CheckpointFile] {
        ["trainer_state.json": .bytes(Data(#"{"step":\#(step)}"#.utf8)), "model.safetensors": .tensors(sampleTensors(seed: UInt64(step)))]
    }

    // MARK: RunLock

    func test_runLock_secondAcquireRefusedNamingHolder_releaseLetsTheNextOneIn() throws {
        let run = try makeTemporaryDirectory(self).appendingPathComponent("run")
        let first = try RunLock.acquire(runDirectory: run, command: "instruct train a.yaml")
        guard case let .runLocked(path, holder)? = expectCheckpointError({ _ = try RunLock.acquire(runDirectory: run, command: "other") })
        else { return XCTFail() }
        XCTAssertEqual(path, run.path)
        XCTAssertTrue(holder.contains("pid \(getpid())") && holder.contains("instruct train a.yaml"), holder)
        first.release()
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.appendingPathComponent(RunLock.fileName).path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.path), "the empty directory the lock created is removed")
        let second = try RunLock.acquire(runDirectory: run, command: "again")
        second.release()
        second.release()  // twice is harmless
    }

    /// A lock file left by a process that died (SIGKILL leaves the file; the kernel dropped the
    /// flock) does not stop the next run, whatever pid it records.
    func test_runLock_leftoverFileOfADeadHolder_isTakenOver() throws {
        let run = try makeTemporaryDirectory(self)
        try Data(#"{"pid": 999999, "host": "elsewhere", "started": "x", "command": "instruct train old.yaml"}"#.utf8)
            .write(to: run.appendingPathComponent(RunLock.fileName))
        let lock = try RunLock.acquire(runDirectory: run, command: "new")
        let record = RunLock.readRecord(path: run.appendingPathComponent(RunLock.fileName).path)
        XCTAssertEqual(record?.pid, getpid())
        XCTAssertEqual(record?.command, "new")
        lock.release()
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.path), "a directory that existed before stays")
    }

    func test_runLock_onAFile_isAnIOError() throws {
        let file = try makeTemporaryDirectory(self).appendingPathComponent("plain")
        try Data("x".utf8).write(to: file)
        guard case .io? = expectCheckpointError({ _ = try RunLock.acquire(runDirectory: file, command: "x") }) else { return XCTFail() }
    }

    func test_runLock_recordOfALiveProcessOnThisHost_isAlive_ofAGoneOne_isNot() {
        XCTAssertTrue(RunLock.Record(pid: getpid(), host: RunLock.hostName, started: "", command: "").isAlive)
        XCTAssertFalse(RunLock.Record(pid: 999_999_9, host: RunLock.hostName, started: "", command: "").isAlive)
        XCTAssertTrue(RunLock.Record(pid: 1, host: "another-host", started: "", command: "").isAlive)
    }

    // MARK: Interrupted saves

    func test_recover_removesTemporaryFiles_putsBackATrashedCheckpoint() throws {
        let run = try makeTemporaryDirectory(self)
        try CheckpointWriter.save(step: 1, in: run, files: files(1))
        try CheckpointWriter.save(step: 2, in: run, files: files(2))
        let fm = FileManager.default
        try fm.createDirectory(at: run.appendingPathComponent(".tmp-step-0000003-42-1"), withIntermediateDirectories: false)
        try Data("step-0000003".utf8).write(to: run.appendingPathComponent(".latest.tmp-42-2"))
        try fm.moveItem(at: run.appendingPathComponent("step-0000002"), to: run.appendingPathComponent(".trash-step-0000002-42-3"))
        // A trashed copy of a step that exists again is only clutter.
        try fm.copyItem(at: run.appendingPathComponent("step-0000001"), to: run.appendingPathComponent(".trash-step-0000001-42-4"))
        let recovery = try CheckpointWriter.recoverInterruptedSaves(runDirectory: run)
        XCTAssertEqual(recovery.restored, ["step-0000002"])
        XCTAssertEqual(recovery.removed.sorted(), [".latest.tmp-42-2", ".tmp-step-0000003-42-1", ".trash-step-0000001-42-4"])
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: run.path).sorted(), ["latest", "step-0000001", "step-0000002"])
        XCTAssertNoThrow(try CheckpointReader.open(run.appendingPathComponent("step-0000002")))
        XCTAssertTrue(try CheckpointWriter.recoverInterruptedSaves(runDirectory: run).isEmpty)
        XCTAssertTrue(try CheckpointWriter.recoverInterruptedSaves(runDirectory: run.appendingPathComponent("missing")).isEmpty)
    }

    func test_removeUnfinishedSaves_removesOnlyThisProcesssOwn() throws {
        let run = try makeTemporaryDirectory(self)
        let fm = FileManager.default
        try fm.createDirectory(at: run.appendingPathComponent(".tmp-step-0000005-\(getpid())-7"), withIntermediateDirectories: false)
        try Data("x".utf8).write(to: run.appendingPathComponent(".tmp-step-0000005-\(getpid())-7/model.safetensors"))
        try fm.createDirectory(at: run.appendingPathComponent(".tmp-step-0000005-1-7"), withIntermediateDirectories: false)
        CheckpointWriter.removeUnfinishedSaves(runDirectory: run, processID: getpid())
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: run.path), [".tmp-step-0000005-1-7"], "another process's save is not ours to remove")
    }

    func test_originalNameOfTrash() {
        XCTAssertEqual(CheckpointWriter.originalName(ofTrash: ".trash-step-0000010-12-34"), "step-0000010")
        XCTAssertNil(CheckpointWriter.originalName(ofTrash: ".trash-step-x-12-34"))
        XCTAssertNil(CheckpointWriter.originalName(ofTrash: ".tmp-step-0000010-12-34"))
    }

    // MARK: latest

    func test_latest_directoryLinkPipeOrPath_isBadLatest_missingFallsBack() throws {
        let run = try makeTemporaryDirectory(self)
        try CheckpointWriter.save(step: 3, in: run, files: files(3))
        let latest = run.appendingPathComponent("latest")
        let fm = FileManager.default
        func expectBad(_ what: String, file: StaticString = #filePath, line: UInt = #line) {
            guard case let .badLatest(_, reason)? = expectCheckpointError({ _ = try CheckpointDirectory.latest(runDirectory: run) }, file: file, line: line)
            else { return XCTFail(what, file: file, line: line) }
            XCTAssertTrue(reason.contains(what), reason, file: file, line: line)
        }
        try fm.removeItem(at: latest)
        try fm.createDirectory(at: latest, withIntermediateDirectories: false)
        expectBad("is a directory")
        try fm.removeItem(at: latest)
        try fm.createSymbolicLink(atPath: latest.path, withDestinationPath: run.appendingPathComponent("step-0000003").path)
        expectBad("symbolic link")
        try fm.removeItem(at: latest)
        for text in ["../other/step-0000003", "/tmp/step-0000003", ".."] {
            try Data(text.utf8).write(to: latest)
            expectBad("a path")
        }
        try Data("step-abc".utf8).write(to: latest)
        expectBad("not a step-NNNNNNN")
        try fm.removeItem(at: latest)
        XCTAssertEqual(mkfifo(latest.path, 0o644), 0)
        expectBad("not a regular file")
        try fm.removeItem(at: latest)
        XCTAssertEqual(try CheckpointDirectory.latest(runDirectory: run).lastPathComponent, "step-0000003", "no latest: the newest")
    }

    // MARK: Manifests and archives

    func test_manifest_noFilesDuplicateOrNegativeStep_isInvalid_withoutFoundationCodes() throws {
        let run = try makeTemporaryDirectory(self)
        let dir = try CheckpointWriter.save(step: 1, in: run, files: files(1))
        let manifestURL = dir.appendingPathComponent(CheckpointManifest.fileName)
        let original = try Data(contentsOf: manifestURL)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: original) as? [String: Any])
        let entries = try XCTUnwrap(object["files"] as? [[String: Any]])
        let edits: [(String, [String: Any])] = [
            ("lists no files", object.merging(["files": [Any]()]) { $1 }),
            ("listed twice", object.merging(["files": entries + [entries[0]]]) { $1 }),
            ("step is -4", object.merging(["step": -4]) { $1 }),
            ("`files`", object.merging(["files": NSNull()]) { $1 }),
        ]
        for (expected, edited) in edits {
            try JSONSerialization.data(withJSONObject: edited).write(to: manifestURL)
            guard case let .invalidManifest(_, reason)? = expectCheckpointError({ _ = try CheckpointReader.open(dir) }) else { return XCTFail(expected) }
            XCTAssertTrue(reason.contains(expected), reason)
            XCTAssertFalse(reason.contains("NSCocoaErrorDomain") || reason.contains("could not be completed"), reason)
        }
    }

    func test_verifyEach_namesEveryDamagedFile() throws {
        let run = try makeTemporaryDirectory(self)
        let dir = try CheckpointWriter.save(step: 1, in: run, files: files(1))
        try Data("{}".utf8).write(to: dir.appendingPathComponent("trainer_state.json"))
        try FileManager.default.removeItem(at: dir.appendingPathComponent("model.safetensors"))
        let checks = CheckpointReader.verifyEach(try CheckpointReader.open(dir, verify: false))
        XCTAssertEqual(checks.map(\.name), ["model.safetensors", "trainer_state.json"])
        XCTAssertEqual(checks[0].problem, "the file is missing")
        XCTAssertTrue(checks[1].problem?.contains("size is 2 bytes") ?? false, "\(String(describing: checks[1].problem))")
    }

    /// The tensor a truncated file's error names came from dictionary order, which Swift seeds
    /// per process; it is now the first tensor (by offset) the cut reaches.
    func test_truncatedSafetensors_namesTheFirstTensorItCuts() throws {
        let dir = try makeTemporaryDirectory(self)
        let url = dir.appendingPathComponent("m.safetensors")
        try SafeTensors.write(sampleTensors(seed: 3), to: url)
        let bytes = try Data(contentsOf: url)
        let header = try SafeTensors.readHeader(contentsOf: url)
        let cutTensor = header.tensors[header.tensors.count / 2]
        try bytes.prefix(header.dataStart + cutTensor.dataOffsets.lowerBound + 1).write(to: url)
        guard case let .invalidTensor(_, tensor, reason)? = expectCheckpointError({ _ = try SafeTensors.readHeader(contentsOf: url) })
        else { return XCTFail() }
        XCTAssertEqual(tensor, cutTensor.name)
        XCTAssertTrue(reason.contains("truncated"), reason)
    }
}
