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

    /// A new temporary directory holding synthetic data in `synth/` (`data synth` with
    /// `synthSeed`, `train` and `heldout` records) and `r.yaml`: a tiny model (1 layer,
    /// width 32, 300-token BPE) trained on it, with `training` as the training mapping and
    /// `extra` as the last lines (eval, output).
    static func tinyProject(_ name: String, synthSeed: Int, train: Int, heldout: Int, recipeSeed: Int,
                            training: String, extra: String = "output: {dir: run}") throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("instruct-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let synth = try run(["data", "synth", "--out", "synth", "--seed", "\(synthSeed)", "--train", "\(train)",
                             "--heldout", "\(heldout)"], in: dir)
        guard synth.status == 0 else {
            throw NSError(domain: "CLI", code: Int(synth.status), userInfo: [NSLocalizedDescriptionKey: "data synth failed: \(synth.err)"])
        }
        try tinyRecipe(seed: recipeSeed, training: training, extra: extra)
            .write(to: dir.appendingPathComponent("r.yaml"), atomically: true, encoding: .utf8)
        return dir
    }

    /// The text of `tinyProject`'s recipe: the tiny model on `synth/train.jsonl`, with
    /// `training` as the training mapping and `extra` as the last lines.
    static func tinyRecipe(seed: Int, training: String, extra: String = "output: {dir: run}") -> String {
        """
        seed: \(seed)
        tokenizer: {train: {vocab_size: 300}}
        data:
          datasets: [{path: synth/train.jsonl, template: plain}]
          seq_len: 64
          cache_dir: null
        model: {dim: 32, layers: 1, heads: 2}
        training: \(training)
        \(extra)
        """
    }
}
