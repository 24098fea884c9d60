import Autograd
@testable import Checkpoints
import Foundation
import TestSupport
import XCTest

final class CheckpointDirectoryTests: XCTestCase {
    struct SimulatedCrash: Error {}

    private func files(step: Int) -> [String: CheckpointFile] {
        var optimizer = sampleTensors(seed: 11).prefixed("m.")
        optimizer.append(contentsOf: sampleTensors(seed: 12).prefixed("v."))
        return [
            "model.safetensors": .tensors(sampleTensors(seed: UInt64(step))),
            "optimizer.safetensors": .tensors(optimizer),
            "trainer_state.json": .bytes(Data(#"{"step":\#(step),"epoch":0}"#.utf8)),
            "recipe.yaml": .bytes(Data("model: tiny\nlr: 0.001\n".utf8)),
            "tokenizer.json": .bytes(Data(#"{"model":{"type":"BPE"}}"#.utf8)),
        ]
    }

    func test_directoryName_padsToSevenDigits() {
        XCTAssertEqual(CheckpointWriter.directoryName(step: 120), "step-0000120")
        XCTAssertEqual(CheckpointWriter.directoryName(step: 123456789), "step-123456789")
        XCTAssertEqual(CheckpointDirectory.step(fromDirectoryName: "step-0000120"), 120)
        XCTAssertNil(CheckpointDirectory.step(fromDirectoryName: ".tmp-step-0000120-1-2"))
        XCTAssertNil(CheckpointDirectory.step(fromDirectoryName: "step-12a"))
    }

    func test_saveThenOpen_allFilesVerifiedAndReadBack() throws {
        let run = try makeTemporaryDirectory(self)
        let url = try CheckpointWriter.save(step: 20, in: run, files: files(step: 20))
        XCTAssertEqual(url.lastPathComponent, "step-0000020")
        let ckpt = try CheckpointReader.open(url)
        XCTAssertTrue(ckpt.verified)
        XCTAssertEqual(ckpt.step, 20)
        XCTAssertEqual(ckpt.fileNames, ["model.safetensors", "optimizer.safetensors", "recipe.yaml", "tokenizer.json", "trainer_state.json"])
        assertSameTensors(try ckpt.tensors("model.safetensors"), sampleTensors(seed: 20))
        let opt = try ckpt.tensors("optimizer.safetensors")
        assertSameTensors(opt.stripping(prefix: "m."), sampleTensors(seed: 11))
        assertSameTensors(opt.stripping(prefix: "v."), sampleTensors(seed: 12))
        XCTAssertEqual(String(decoding: try ckpt.data("trainer_state.json"), as: UTF8.self), #"{"step":20,"epoch":0}"#)
        XCTAssertEqual(try CheckpointDirectory.latestPointer(runDirectory: run), "step-0000020")
        XCTAssertEqual(try CheckpointDirectory.latest(runDirectory: run), url)
        XCTAssertEqual(try CheckpointDirectory.resolve("latest", runDirectory: run), url)
        XCTAssertEqual(try CheckpointDirectory.resolve(url.path, runDirectory: run), url)
        // The manifest's checksums are those of the files on disk (checked independently here).
        let entry = try XCTUnwrap(ckpt.manifest.entry("recipe.yaml"))
        XCTAssertEqual(entry.bytes, "model: tiny\nlr: 0.001\n".utf8.count)
        XCTAssertEqual(entry.sha256, "9bd130fb31dc15ae24bfb3aa5f04a438e1d2700c0b2e7ab6c08f1f51194ac75e")  // printf 'model: tiny\\nlr: 0.001\\n' | sha256sum
    }

    func test_open_corruptedFile_throwsChecksumMismatchNamingTheFile() throws {
        let run = try makeTemporaryDirectory(self)
        let url = try CheckpointWriter.save(step: 1, in: run, files: files(step: 1))
        let model = url.appendingPathComponent("model.safetensors")
        var bytes = try Data(contentsOf: model)
        bytes[bytes.count - 1] ^= 0x01  // one bit of one weight
        try bytes.write(to: model)
        let error = expectCheckpointError { _ = try CheckpointReader.open(url) }
        guard case .checksumMismatch(_, let file, let reason)? = error else { return XCTFail("got \(String(describing: error))") }
        XCTAssertEqual(file, "model.safetensors")
        XCTAssertTrue(reason.contains("SHA-256"), reason)
        // Unverified open still works (for inspection).
        XCTAssertFalse(try CheckpointReader.open(url, verify: false).verified)
        // A deleted file and a truncated file are named too.
        try FileManager.default.removeItem(at: url.appendingPathComponent("recipe.yaml"))
        try Data("x".utf8).write(to: model)
        guard case .checksumMismatch(_, let file2, _)? = expectCheckpointError({ _ = try CheckpointReader.open(url) }) else { return XCTFail() }
        XCTAssertEqual(file2, "model.safetensors")
    }

    func test_open_missingOrGarbageManifest_throwsInvalidManifest() throws {
        let dir = try makeTemporaryDirectory(self)
        guard case .invalidManifest? = expectCheckpointError({ _ = try CheckpointReader.open(dir) }) else { return XCTFail() }
        try Data("{\"format\":\"x\"}".utf8).write(to: dir.appendingPathComponent("manifest.json"))
        guard case .invalidManifest? = expectCheckpointError({ _ = try CheckpointReader.open(dir) }) else { return XCTFail() }
        try Data(#"{"format":"instructkit-checkpoint","version":1,"files":[{"name":"../etc/passwd","bytes":1,"sha256":"\#(String(repeating: "0", count: 64))"}]}"#.utf8)
            .write(to: dir.appendingPathComponent("manifest.json"))
        guard case .invalidManifest? = expectCheckpointError({ _ = try CheckpointReader.open(dir) }) else { return XCTFail("path traversal must be rejected") }
    }

    func test_save_writerThrowsAfterFirstFile_previousCheckpointAndLatestIntact_noHalfDirectoryListed() throws {
        let run = try makeTemporaryDirectory(self)
        let good = try CheckpointWriter.save(step: 10, in: run, files: files(step: 10))
        let latestBefore = try Data(contentsOf: run.appendingPathComponent("latest"))

        var crashing = files(step: 20)
        // Sorted order: "model.safetensors" is written first, then this one throws mid-write.
        crashing["optimizer.safetensors"] = .custom { url in
            try Data("half of the optimizer".utf8).write(to: url)
            throw SimulatedCrash()
        }
        XCTAssertThrowsError(try CheckpointWriter.save(step: 20, in: run, files: crashing)) { error in
            XCTAssertTrue(error is SimulatedCrash)
        }
        XCTAssertEqual(try CheckpointDirectory.list(runDirectory: run).map { $0.step }, [10])
        XCTAssertEqual(try Data(contentsOf: run.appendingPathComponent("latest")), latestBefore)
        XCTAssertEqual(try CheckpointDirectory.latest(runDirectory: run), good)
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.appendingPathComponent("step-0000020").path))
        XCTAssertNoThrow(try CheckpointReader.open(good))
        // Nothing else is left in the run directory (the temporary directory was removed).
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: run.path).sorted(), ["latest", "step-0000010"])
    }

    func test_list_leftoverTemporaryDirectoryOfKilledSave_isNotListed_andPruneRemovesIt() throws {
        let run = try makeTemporaryDirectory(self)
        try CheckpointWriter.save(step: 1, in: run, files: files(step: 1))
        // What a process killed between writing files and renaming leaves behind.
        let tmp = run.appendingPathComponent(".tmp-step-0000002-999-1")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: false)
        try Data("partial".utf8).write(to: tmp.appendingPathComponent("model.safetensors"))
        // And a step directory without a manifest (e.g. copied by hand, incompletely).
        try FileManager.default.createDirectory(at: run.appendingPathComponent("step-0000003"), withIntermediateDirectories: false)
        XCTAssertEqual(try CheckpointDirectory.list(runDirectory: run).map { $0.step }, [1])
        XCTAssertEqual(try CheckpointDirectory.latest(runDirectory: run).lastPathComponent, "step-0000001")
        try CheckpointWriter.prune(runDirectory: run, keepLast: 3)
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.path))
    }

    func test_keepLast_prunesOldest_keepsNewestK() throws {
        let run = try makeTemporaryDirectory(self)
        for step in [5, 10, 15, 20] {
            try CheckpointWriter.save(step: step, in: run, files: files(step: step), keepLast: 2)
        }
        XCTAssertEqual(try CheckpointDirectory.list(runDirectory: run).map { $0.step }, [15, 20])
        XCTAssertEqual(try CheckpointDirectory.latestPointer(runDirectory: run), "step-0000020")
    }

    func test_prune_newestCorrupt_keepsNewestValidToo() throws {
        let run = try makeTemporaryDirectory(self)
        for step in [1, 2, 3] { try CheckpointWriter.save(step: step, in: run, files: files(step: step)) }
        // Corrupt the two newest.
        for step in [2, 3] {
            let f = run.appendingPathComponent(CheckpointWriter.directoryName(step: step)).appendingPathComponent("trainer_state.json")
            try Data("garbage".utf8).write(to: f)
        }
        try CheckpointWriter.prune(runDirectory: run, keepLast: 1)
        XCTAssertEqual(try CheckpointDirectory.list(runDirectory: run).map { $0.step }, [1, 3])
        XCTAssertNoThrow(try CheckpointReader.open(run.appendingPathComponent("step-0000001")))
    }

    func test_save_sameStepTwice_replacesDirectoryCompletely() throws {
        let run = try makeTemporaryDirectory(self)
        try CheckpointWriter.save(step: 7, in: run, files: ["a.txt": .bytes(Data("old".utf8)), "b.txt": .bytes(Data("old".utf8))])
        let url = try CheckpointWriter.save(step: 7, in: run, files: ["a.txt": .bytes(Data("new".utf8))])
        let ckpt = try CheckpointReader.open(url)
        XCTAssertEqual(ckpt.fileNames, ["a.txt"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.appendingPathComponent("b.txt").path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: run.path).sorted(), ["latest", "step-0000007"])
    }

    func test_save_badFileNames_throwBeforeWritingAnything() throws {
        let run = try makeTemporaryDirectory(self)
        for name in ["", "../x", "a/b", ".hidden", "manifest.json"] {
            guard case .invalidFileName? = expectCheckpointError({ try CheckpointWriter.save(step: 1, in: run, files: [name: .bytes(Data())]) })
            else { return XCTFail(name) }
        }
        XCTAssertEqual(try CheckpointDirectory.list(runDirectory: run), [])
    }

    func test_latest_emptyRunDirectory_throwsNoCheckpoint() throws {
        let run = try makeTemporaryDirectory(self)
        guard case .noCheckpoint? = expectCheckpointError({ _ = try CheckpointDirectory.latest(runDirectory: run) }) else { return XCTFail() }
    }
}
