import Foundation

/// Runs the built `instruct` binary for the command-line tests.
enum CLI {
    /// The `instruct` executable next to this test bundle (SwiftPM builds it for these tests).
    static var binary: URL {
        let bundle = URL(fileURLWithPath: CommandLine.arguments.first { $0.hasSuffix(".xctest") } ?? CommandLine.arguments[0])
        return bundle.deletingLastPathComponent().appendingPathComponent("instruct")
    }

    struct Result { var status: Int32; var out: String; var err: String; var exited: Bool }

    /// Starts `instruct ARGS` in `dir` with the given standard streams, without waiting.
    static func start(_ args: [String], in dir: URL, stdout: Any? = nil, stderr: Any? = nil, stdin: Any? = nil) throws -> Process {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        p.currentDirectoryURL = dir
        p.standardOutput = stdout ?? FileHandle.nullDevice
        p.standardError = stderr ?? FileHandle.nullDevice
        if let stdin { p.standardInput = stdin }
        try p.run()
        return p
    }

    /// Runs `instruct ARGS` in `dir` to the end, feeding `stdin`, and returns what it printed.
    static func run(_ args: [String], in dir: URL, stdin: String? = nil) throws -> Result {
        let out = Pipe(), err = Pipe(), input = Pipe()
        let p = try start(args, in: dir, stdout: out, stderr: err, stdin: input)
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, out: String(decoding: o, as: UTF8.self),
                      err: String(decoding: e, as: UTF8.self), exited: p.terminationReason == .exit)
    }
}
