import Checkpoints
import Foundation
import XCTest

/// Runs the binary the way the hostile-input and fuzz tests need: under resource limits
/// (`ulimit -v` address space, `ulimit -f` file size), with a wall-clock limit after which the
/// process is killed and the run counts as a hang, and with its output in files (no pipe can
/// fill up and block it).
enum LimitedRun {
    struct Outcome {
        var status: Int32
        /// False when the process ended by a signal (a crash, or our kill after the time limit).
        var exited: Bool
        var timedOut: Bool
        var seconds: Double
        var out: String
        var err: String

        /// One line for a failure message.
        var summary: String {
            "rc \(status)\(exited ? "" : " (signal)")\(timedOut ? " (killed after the time limit)" : "") in \(String(format: "%.2f", seconds)) s; "
                + "stderr: \(err.prefix(600))"
        }
    }

    /// The binary under test: the one built with the tests, or `INSTRUCTKIT_TEST_BINARY` (to
    /// measure what the same cases do to another build, e.g. an older one for docs/robustness.md).
    static var binary: URL {
        ProcessInfo.processInfo.environment["INSTRUCTKIT_TEST_BINARY"].map { URL(fileURLWithPath: $0) } ?? CLI.binary
    }

    /// `instruct ARGS` in `dir` under `ulimit -v memoryKiB` (and `-f fileSizeKiB` when given),
    /// killed after `timeout` seconds. `stdin` is fed to it (empty by default).
    static func run(_ args: [String], in dir: URL, timeout: Double = 20, memoryKiB: Int = 2_000_000, fileSizeKiB: Int? = nil,
                    stdin: String = "") throws -> Outcome {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("instruct-limited-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("out"), errURL = scratch.appendingPathComponent("err")
        let inURL = scratch.appendingPathComponent("in")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        FileManager.default.createFile(atPath: inURL.path, contents: Data(stdin.utf8))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        var limits = "ulimit -v \(memoryKiB)"
        if let fileSizeKiB { limits += "; ulimit -f \(fileSizeKiB)" }
        p.arguments = ["-c", "\(limits); exec \"$0\" \"$@\"", binary.path] + args
        p.currentDirectoryURL = dir
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        p.standardOutput = out
        p.standardError = err
        p.standardInput = try FileHandle(forReadingFrom: inURL)
        let start = Date()
        try p.run()
        var timedOut = false
        while p.isRunning {
            if Date().timeIntervalSince(start) > timeout {
                timedOut = true
                kill(p.processIdentifier, SIGKILL)
                break
            }
            usleep(2000)
        }
        p.waitUntilExit()
        try? out.close()
        try? err.close()
        return Outcome(status: p.terminationStatus, exited: p.terminationReason == .exit, timedOut: timedOut,
                       seconds: Date().timeIntervalSince(start),
                       out: String(decoding: (try? Data(contentsOf: outURL)) ?? Data(), as: UTF8.self),
                       err: String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self))
    }

    /// Rewrites the checkpoint `directory` with `edit` applied to its files (name -> bytes) and
    /// a new manifest that matches them, as a careless user or a broken tool would leave it:
    /// the edit is then not caught by the checksums, only by the readers.
    static func rewriteCheckpoint(_ directory: URL, _ edit: (inout [String: Data]) throws -> Void) throws {
        let checkpoint = try CheckpointReader.open(directory, verify: false)
        var files: [String: Data] = [:]
        for name in checkpoint.fileNames { files[name] = try Data(contentsOf: directory.appendingPathComponent(name)) }
        try edit(&files)
        try CheckpointWriter.save(directory: directory, step: checkpoint.step, files: files.mapValues { .bytes($0) })
    }

    /// A JSON object file edited in place.
    static func editJSON(_ data: Data, _ edit: (inout [String: Any]) -> Void) throws -> Data {
        guard var object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw NSError(domain: "LimitedRun", code: 1, userInfo: [NSLocalizedDescriptionKey: "not a JSON object"])
        }
        edit(&object)
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }

    /// A copy of `source` in a new temporary directory.
    static func copy(_ source: URL, name: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("instruct-\(name)-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: source, to: dir)
        return dir
    }

    /// The names in `dir` that an unfinished save or a temporary write leaves.
    static func leftovers(in dir: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])
            .filter { $0.contains("tmp") || $0.hasPrefix(".trash") || $0.hasPrefix(".deleting") }
    }
}
