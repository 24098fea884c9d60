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

            Examples:
              instruct checkpoint inspect checkpoints/my-run/step-0000200
              instruct checkpoint inspect checkpoints/my-run
              instruct checkpoint inspect model.safetensors
            """)

    @Argument(help: "A checkpoint or run directory, or a .safetensors, .h5 or llama2.c .bin file.")
    var path: String

    @Flag(help: "Skip checksum verification of a checkpoint directory.")
    var noVerify = false

    func run() throws {
        let url = URL(fileURLWithPath: path)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw ValidationError("\(path): no such file or directory")
        }
        if !isDir.boolValue && url.lastPathComponent != CheckpointDirectory.latestFileName {
            try inspectFile(url)
            return
        }
        // A checkpoint, a run directory or its `latest` pointer: inspect the checkpoint it names.
        let dir = try CheckpointDirectory.resolve(path)
        if isDir.boolValue && dir.standardizedFileURL.path != url.standardizedFileURL.path {
            let names = try CheckpointDirectory.list(runDirectory: url).map { $0.url.lastPathComponent }
            print("run \(url.path): checkpoints \(names.joined(separator: ", ")); latest is \(dir.lastPathComponent)")
        }
        try inspectDirectory(dir)
    }

    private func inspectDirectory(_ dir: URL) throws {
        let checkpoint: Checkpoint
        var verification = "verified (every file's size and SHA-256 match)"
        if noVerify {
            checkpoint = try CheckpointReader.open(dir, verify: false)
            verification = "not verified (--no-verify)"
        } else {
            do {
                checkpoint = try CheckpointReader.open(dir)
            } catch let error as CheckpointError {
                checkpoint = try CheckpointReader.open(dir, verify: false)
                verification = "FAILED: \(error.description)"
            }
        }
        print("checkpoint \(checkpoint.directory.path)" + (checkpoint.step.map { "  (step \($0))" } ?? ""))
        print("manifest: \(verification)")
        print("files:")
        for entry in checkpoint.manifest.files {
            print("  " + pad(entry.name, 24) + lpad(grouped(entry.bytes) + " bytes", 18) + "  sha256 " + entry.sha256.prefix(16) + "…")
        }
        for entry in checkpoint.manifest.files where entry.name.hasSuffix(".safetensors") {
            print("")
            do {
                try printSafetensors(try checkpoint.fileURL(entry.name), title: entry.name)
            } catch {
                print("\(entry.name): cannot read: \(error)")
            }
        }
        if checkpoint.contains("trainer_state.json") {
            print("\ntrainer_state.json:")
            let data = try checkpoint.data("trainer_state.json")
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
        if checkpoint.contains("recipe.yaml") {
            print("\nrecipe.yaml:")
            printLines(String(decoding: try checkpoint.data("recipe.yaml"), as: UTF8.self), limit: 40)
        }
    }

    private func inspectFile(_ url: URL) throws {
        switch url.pathExtension.lowercased() {
        case "safetensors":
            try printSafetensors(url, title: url.path)
        case "h5", "hdf5":
            let tensors = try HDF5Reader.read(contentsOf: url)
            print("\(url.path): HDF5, \(tensors.count) tensors, \(grouped(tensors.totalElements)) parameters")
            printTable(tensors.entries.map { ($0.name, "F32", $0.tensor.shape) })
            printMetadata(tensors.metadata)
        case "bin":
            let model = try Llama2c.read(contentsOf: url)
            let c = model.config
            print("\(url.path): llama2.c checkpoint, \(model.tensors.count) tensors, \(grouped(model.tensors.totalElements)) parameters")
            print("config: dim \(c.dim), hidden \(c.hiddenDim), layers \(c.layers), heads \(c.heads), kv heads \(c.kvHeads), "
                  + "vocab \(c.vocabSize), seq_len \(c.seqLen), tied \(c.tiedEmbeddings)")
            printTable(model.tensors.entries.map { ($0.name, "F32", $0.tensor.shape) })
        default:
            throw ValidationError("\(url.path): unknown file type; expected .safetensors, .h5 or .bin, or a checkpoint directory")
        }
    }

    private func printSafetensors(_ url: URL, title: String) throws {
        let header = try SafeTensors.readHeader(contentsOf: url)
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
