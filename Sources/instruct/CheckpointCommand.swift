import ArgumentParser
import Checkpoints
import Foundation

/// `instruct checkpoint`: look inside checkpoints and tensor archives, convert between formats.
struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Inspect checkpoints and tensor archives; convert between formats.",
        subcommands: [CheckpointInspect.self, CheckpointConvert.self])
}

/// `instruct checkpoint inspect PATH`.
struct CheckpointInspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show the tensors, shapes, dtypes and parameter count of a checkpoint or archive.",
        discussion: """
            PATH may be a checkpoint directory (step-NNNNNNN; its manifest is verified), a run
            directory (its latest checkpoint), a .safetensors file, an .h5 file, or a llama2.c .bin.
            HDF5 datasets are shown as F32, the type they are read as.

            The exit status is 1 when a file fails verification or cannot be read (the report
            is printed first and names each such file), 0 otherwise. --json prints one JSON
            object: for a checkpoint, every listed file with `ok` and `problem`, `verified`, and
            `failed_files`; for an archive, its tensors; on failure, `error`.

            Examples:
              instruct checkpoint inspect checkpoints/my-run/step-0000200
              instruct checkpoint inspect checkpoints/my-run
              instruct checkpoint inspect model.safetensors
              instruct checkpoint inspect checkpoints/my-run --json
            """)

    @Argument(help: "A checkpoint or run directory, or a .safetensors, .h5 or llama2.c .bin file.")
    var path: String

    @Flag(help: "Skip checksum verification of a checkpoint directory.")
    var noVerify = false

    @Flag(help: "Print one JSON object instead of the text report.")
    var json = false

    func run() throws {
        do {
            try inspect()
        } catch let e as ExitCode {
            throw e
        } catch {
            // The report's JSON carries the error too, so a script reading stdout sees it.
            if json { printJSON(["path": path, "ok": false, "error": "\(error)"]) }
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    private func inspect() throws {
        let url = URL(fileURLWithPath: path)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw CommandFailure("\(path): no such file or directory")
        }
        if !isDir.boolValue && url.lastPathComponent != CheckpointDirectory.latestFileName {
            try inspectFile(url)
            return
        }
        // A checkpoint, a run directory or its `latest` pointer: inspect the checkpoint it names.
        let dir = try CheckpointDirectory.resolve(path)
        var runLine: String? = nil
        if isDir.boolValue && dir.standardizedFileURL.path != url.standardizedFileURL.path {
            let names = try CheckpointDirectory.list(runDirectory: url).map { $0.url.lastPathComponent }
            runLine = "run \(url.path): checkpoints \(names.joined(separator: ", ")); latest is \(dir.lastPathComponent)"
        }
        try inspectDirectory(dir, runLine: runLine)
    }

    /// Verifies and shows a checkpoint directory; exits with status 1 (after the report) when
    /// a file fails verification or a listed safetensors file cannot be read.
    private func inspectDirectory(_ dir: URL, runLine: String?) throws {
        let checkpoint = try CheckpointReader.open(dir, verify: false)
        let checks = noVerify ? checkpoint.manifest.files.map { ($0.name, String?.none) } : CheckpointReader.verifyEach(checkpoint)
        let failed = checks.filter { $0.1 != nil }
        var unreadable: [(String, String)] = []
        var archives: [(String, SafeTensors.Header)] = []
        for entry in checkpoint.manifest.files where entry.name.hasSuffix(".safetensors") {
            do {
                archives.append((entry.name, try SafeTensors.readHeader(contentsOf: try checkpoint.fileURL(entry.name))))
            } catch {
                unreadable.append((entry.name, "\(error)"))
            }
        }
        let ok = failed.isEmpty && unreadable.isEmpty
        if json {
            var files: [[String: Any]] = []
            for (entry, check) in zip(checkpoint.manifest.files, checks) {
                var f: [String: Any] = ["name": entry.name, "bytes": entry.bytes, "sha256": entry.sha256]
                if !noVerify { f["ok"] = check.1 == nil }
                if let problem = check.1 { f["problem"] = problem }
                if let u = unreadable.first(where: { $0.0 == entry.name }) { f["ok"] = false; f["problem"] = u.1 }
                files.append(f)
            }
            var object: [String: Any] = ["checkpoint": checkpoint.directory.path, "ok": ok, "verified": !noVerify && failed.isEmpty,
                                         "files": files, "failed_files": (failed.map(\.0) + unreadable.map(\.0))]
            if let step = checkpoint.step { object["step"] = step }
            object["tensors"] = Dictionary(uniqueKeysWithValues: archives.map { name, header in
                (name, header.tensors.map { ["name": $0.name, "dtype": $0.dtype.rawValue, "shape": $0.shape] as [String: Any] })
            })
            printJSON(object)
        } else {
            if let runLine { print(runLine) }
            printDirectoryReport(checkpoint, failed: failed, archives: archives, unreadable: unreadable)
        }
        if !ok {
            let names = (failed.map(\.0) + unreadable.map(\.0)).joined(separator: ", ")
            let first = failed.first.map { "file '\($0.0)' failed verification: \($0.1 ?? "")" } ?? unreadable.first.map { "\($0.1)" } ?? ""
            FileHandle.standardError.write(Data("error: \(checkpoint.directory.path): \(first) (damaged: \(names)). The checkpoint is corrupt; resume from an earlier checkpoint.\n".utf8))
            throw ExitCode.failure
        }
    }

    private func printDirectoryReport(_ checkpoint: Checkpoint, failed: [(String, String?)], archives: [(String, SafeTensors.Header)],
                                      unreadable: [(String, String)]) {
        let verification: String
        if noVerify {
            verification = "not verified (--no-verify)"
        } else if let first = failed.first {
            verification = "FAILED: \(CheckpointError.checksumMismatch(directory: checkpoint.directory.path, file: first.0, reason: first.1 ?? "").description)"
                + (failed.count > 1 ? " (also failed: \(failed.dropFirst().map(\.0).joined(separator: ", ")))" : "")
        } else {
            verification = "verified (every file's size and SHA-256 match)"
        }
        print("checkpoint \(checkpoint.directory.path)" + (checkpoint.step.map { "  (step \($0))" } ?? ""))
        print("manifest: \(verification)")
        print("files:")
        for entry in checkpoint.manifest.files {
            let mark = failed.contains(where: { $0.0 == entry.name }) ? "  FAILED" : ""
            print("  " + pad(entry.name, 24) + lpad(grouped(entry.bytes) + " bytes", 18) + "  sha256 " + entry.sha256.prefix(16) + "…" + mark)
        }
        for (name, header) in archives {
            print("")
            printHeader(header, title: name)
        }
        for (name, error) in unreadable {
            print("")
            print("\(name): cannot read: \(error)")
        }
        if checkpoint.contains("trainer_state.json"), let data = try? checkpoint.data("trainer_state.json") {
            print("\ntrainer_state.json:")
            if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
                if let step = object["step"] { print("  step: \(step)") }
                if let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]) {
                    printLines(String(decoding: pretty, as: UTF8.self), limit: 40)
                }
            } else {
                print("  (not a JSON object; raw:)")
                printLines(String(decoding: data.prefix(4000), as: UTF8.self), limit: 40)
            }
        }
        if checkpoint.contains("recipe.yaml"), let data = try? checkpoint.data("recipe.yaml") {
            print("\nrecipe.yaml:")
            printLines(String(decoding: data.prefix(1 << 20), as: UTF8.self), limit: 40)
        }
    }

    private func inspectFile(_ url: URL) throws {
        switch url.pathExtension.lowercased() {
        case "safetensors":
            let header = try SafeTensors.readHeader(contentsOf: url)
            if json {
                printJSON(["file": url.path, "ok": true, "format": "safetensors", "parameters": header.tensors.reduce(0) { $0 + $1.elementCount },
                           "tensors": header.tensors.map { ["name": $0.name, "dtype": $0.dtype.rawValue, "shape": $0.shape] as [String: Any] },
                           "metadata": header.metadata])
            } else {
                printHeader(header, title: url.path)
            }
        case "h5", "hdf5":
            let tensors = try HDF5Reader.read(contentsOf: url)
            if json {
                printJSON(["file": url.path, "ok": true, "format": "hdf5", "parameters": tensors.totalElements,
                           "tensors": tensors.entries.map { ["name": $0.name, "dtype": "F32", "shape": $0.tensor.shape] as [String: Any] },
                           "metadata": tensors.metadata])
                return
            }
            print("\(url.path): HDF5, \(tensors.count) tensors, \(grouped(tensors.totalElements)) parameters")
            printTable(tensors.entries.map { ($0.name, "F32", $0.tensor.shape) })
            printMetadata(tensors.metadata)
        case "bin":
            let model = try Llama2c.read(contentsOf: url)
            let c = model.config
            if json {
                printJSON(["file": url.path, "ok": true, "format": "llama2c", "parameters": model.tensors.totalElements,
                           "config": ["dim": c.dim, "hidden_dim": c.hiddenDim, "layers": c.layers, "heads": c.heads, "kv_heads": c.kvHeads,
                                      "vocab_size": c.vocabSize, "seq_len": c.seqLen, "tied_embeddings": c.tiedEmbeddings] as [String: Any],
                           "tensors": model.tensors.entries.map { ["name": $0.name, "dtype": "F32", "shape": $0.tensor.shape] as [String: Any] }])
                return
            }
            print("\(url.path): llama2.c checkpoint, \(model.tensors.count) tensors, \(grouped(model.tensors.totalElements)) parameters")
            print("config: dim \(c.dim), hidden \(c.hiddenDim), layers \(c.layers), heads \(c.heads), kv heads \(c.kvHeads), "
                  + "vocab \(c.vocabSize), seq_len \(c.seqLen), tied \(c.tiedEmbeddings)")
            printTable(model.tensors.entries.map { ($0.name, "F32", $0.tensor.shape) })
        default:
            throw CommandFailure("\(url.path): unknown file type; expected .safetensors, .h5 or .bin, or a checkpoint directory")
        }
    }

    private func printJSON(_ object: [String: Any]) {
        if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) {
            print(String(decoding: data, as: UTF8.self))
        }
    }

    private func printHeader(_ header: SafeTensors.Header, title: String) {
        let total = header.tensors.reduce(0) { $0 + $1.elementCount }
        print("\(title): safetensors, \(header.tensors.count) tensors, \(grouped(total)) parameters")
        printTable(header.tensors.map { ($0.name, $0.dtype.rawValue, $0.shape) })
        printMetadata(header.metadata)
    }

    private func printTable(_ rows: [(String, String, [Int])]) {
        let width = min(60, rows.map { $0.0.count }.max() ?? 4)
        print("  " + pad("name", width + 1) + pad("dtype", 6) + "shape")
        for (name, dtype, shape) in rows {
            print("  " + pad(name, width + 1) + pad(dtype, 6) + "[" + shape.map(String.init).joined(separator: ", ") + "]")
        }
    }

    private func printMetadata(_ metadata: [String: String]) {
        guard !metadata.isEmpty else { return }
        print("  metadata:")
        for key in metadata.keys.sorted() {
            let value = metadata[key] ?? ""
            let shown = value.count > 100 ? String(value.prefix(100)) + "… (\(grouped(value.utf8.count)) bytes)" : value
            print("    \(key): \(shown.replacingOccurrences(of: "\n", with: "\\n"))")
        }
    }

    private func printLines(_ text: String, limit: Int) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        while lines.last?.isEmpty == true { lines.removeLast() }
        for line in lines.prefix(limit) { print("  " + line) }
        if lines.count > limit { print("  … (\(lines.count - limit) more lines)") }
    }
}

/// `instruct checkpoint convert SRC --out DST`.
struct CheckpointConvert: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert tensors between safetensors, HDF5 and llama2.c (import only).",
        discussion: """
            SRC may be a .safetensors, .h5 or llama2.c .bin file, or a checkpoint directory (its
            model.safetensors). DST's extension picks the format: .safetensors or .h5. Names are
            kept; llama2.c imports get Hugging Face Llama names and the config as metadata.

            Examples:
              instruct checkpoint convert stories260K.bin --out stories260K.safetensors
              instruct checkpoint convert checkpoints/run/step-0000200 --out model.h5
            """)

    @Argument(help: "Source: .safetensors, .h5, llama2.c .bin, or a checkpoint directory.")
    var source: String

    @Option(help: "Destination file: .safetensors or .h5.")
    var out: String

    func run() throws {
        let src = URL(fileURLWithPath: source)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: src.path, isDirectory: &isDir) else {
            throw ValidationError("\(source): no such file or directory")
        }
        let tensors: NamedTensors
        if isDir.boolValue {
            tensors = try CheckpointReader.open(src).tensors("model.safetensors")
        } else {
            switch src.pathExtension.lowercased() {
            case "safetensors": tensors = try SafeTensors.read(contentsOf: src)
            case "h5", "hdf5": tensors = try HDF5Reader.read(contentsOf: src)
            case "bin": tensors = try Llama2c.read(contentsOf: src).tensors
            default: throw ValidationError("\(source): unknown source type; expected .safetensors, .h5, .bin or a checkpoint directory")
            }
        }
        let dst = URL(fileURLWithPath: out)
        switch dst.pathExtension.lowercased() {
        case "safetensors": try SafeTensors.write(tensors, to: dst)
        case "h5", "hdf5": try HDF5Writer.write(tensors, to: dst)
        default: throw ValidationError("--out \(out): unknown format; use a .safetensors or .h5 file name")
        }
        print("wrote \(dst.path): \(tensors.count) tensors, \(grouped(tensors.totalElements)) parameters")
    }
}

/// 1234567 -> "1,234,567".
func grouped(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return (n < 0 ? "-" : "") + out
}
