import Foundation
import XCTest

/// A checkpoint that cannot be written (here: a file-size limit, which fails `write` with
/// EFBIG the way a full disk fails it with ENOSPC) stops the run with an error naming the
/// file, and loses nothing already written: the previous checkpoint stays `latest` and
/// verifies, no half-written step directory is left, and resuming later works.
final class DiskFullCommandLineTests: XCTestCase {
    /// Runs `instruct ARGS` in `dir` under `ulimit -f KIB` (SIGXFSZ ignored, so writes past
    /// the limit fail with an error instead of killing the process).
    func runLimited(fileSizeKiB: Int, _ args: [String], in dir: URL) throws -> CLI.Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", "trap '' XFSZ; ulimit -f \(fileSizeKiB); exec \"$0\" \"$@\"", CLI.binary.path] + args
        p.currentDirectoryURL = dir
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return CLI.Result(status: p.terminationStatus, out: String(decoding: o, as: UTF8.self),
                          err: String(decoding: e, as: UTF8.self), exited: p.terminationReason == .exit)
    }

    func test_checkpointWriteFails_errorNamesFile_previousCheckpointIntact_resumeWorks() throws {
        let dir = try CLI.tinyProject("diskfull", synthSeed: 4, train: 200, heldout: 8, recipeSeed: 3,
                                      training: "{batch_size: 4, max_steps: 4, save_every: 2, log_every: 1, threads: 1, warmup_steps: 0}")
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try CLI.run(["train", "r.yaml"], in: dir)
        XCTAssertEqual(first.status, 0, first.err)

        // The weights files (over 100 KiB) cannot be written under a 64 KiB limit.
        let full = try runLimited(fileSizeKiB: 64, ["train", "r.yaml", "--resume", "latest", "training.max_steps=8"], in: dir)
        XCTAssertTrue(full.exited)
        XCTAssertEqual(full.status, 1, full.out + full.err)
        XCTAssertTrue(full.err.contains("error:") && full.err.contains(".safetensors") && full.err.contains("cannot write"), full.err)
        XCTAssertTrue(full.err.contains("free space"), "the message should say what to check: \(full.err)")

        let run = dir.appendingPathComponent("run")
        let names = try FileManager.default.contentsOfDirectory(atPath: run.path)
        XCTAssertFalse(names.contains { $0.contains("tmp") }, "a half-written step directory was left: \(names)")
        XCTAssertFalse(names.contains("step-0000006"), "\(names)")
        let inspect = try CLI.run(["checkpoint", "inspect", "run/latest"], in: dir)
        XCTAssertEqual(inspect.status, 0, inspect.err)
        XCTAssertTrue(inspect.out.contains("step 4") && inspect.out.contains("verified"), inspect.out)
        let metrics = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        XCTAssertTrue(metrics.contains("\"step\":4") || metrics.contains("\"step\" : 4"), "steps of the first run were lost: \(metrics)")

        // With room again, the run resumes from step 4 and finishes.
        let resumed = try CLI.run(["train", "r.yaml", "--resume", "latest", "training.max_steps=8"], in: dir)
        XCTAssertEqual(resumed.status, 0, resumed.err)
        XCTAssertTrue(resumed.out.contains("resuming from") && resumed.out.contains("done: 8 steps"), resumed.out)
    }
}
