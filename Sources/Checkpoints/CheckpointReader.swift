#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// An opened checkpoint directory whose manifest was read (and, by default, verified).
public struct Checkpoint {
    /// The `step-NNNNNNN` directory.
    public let directory: URL
    /// The parsed `manifest.json`.
    public let manifest: CheckpointManifest
    /// Whether every file's size and SHA-256 were checked when opening.
    public let verified: Bool

    /// The training step recorded in the manifest.
    public var step: Int? { manifest.step }
    /// The names of the files listed in the manifest, sorted.
    public var fileNames: [String] { manifest.files.map { $0.name } }

    /// Whether the manifest lists `name`.
    public func contains(_ name: String) -> Bool { manifest.entry(name) != nil }

    /// The bytes of a listed file (trainer_state.json, recipe.yaml, tokenizer.json, ...).
    public func data(_ name: String) throws -> Data {
        let url = try fileURL(name)
        do {
            return try Data(contentsOf: url)
        } catch {
            throw CheckpointError.io(path: url.path, operation: "read", reason: error.localizedDescription)
        }
    }

    /// The tensors of a listed safetensors file (model.safetensors, optimizer.safetensors).
    public func tensors(_ name: String) throws -> NamedTensors {
        try SafeTensors.read(contentsOf: try fileURL(name))
    }

    /// The URL of a listed file; throws when the manifest does not list it.
    public func fileURL(_ name: String) throws -> URL {
        guard manifest.entry(name) != nil else {
            throw CheckpointError.checksumMismatch(directory: directory.path, file: name, reason: "it is not listed in manifest.json")
        }
        return directory.appendingPathComponent(name)
    }
}

/// Opens checkpoint directories written by `CheckpointWriter`.
public enum CheckpointReader {
    /// Opens `directory`, reading `manifest.json` and, when `verify` is true, checking that every
    /// listed file exists with the listed size and SHA-256. Throws `checksumMismatch` naming the
    /// first file that fails, `invalidManifest` when the manifest is missing or malformed.
    public static func open(_ directory: URL, verify: Bool = true) throws -> Checkpoint {
        let dir = URL(fileURLWithPath: directory.standardizedFileURL.path, isDirectory: true)
        let manifestURL = dir.appendingPathComponent(CheckpointManifest.fileName)
        guard FileManager.default.fileExists(atPath: manifestURL.path) else {
            throw CheckpointError.invalidManifest(path: manifestURL.path, reason: "the file does not exist (an incomplete or foreign directory)")
        }
        let data: Data
        do {
            data = try Data(contentsOf: manifestURL)
        } catch {
            throw CheckpointError.io(path: manifestURL.path, operation: "read", reason: error.localizedDescription)
        }
        let manifest = try CheckpointManifest.decode(data, path: manifestURL.path)
        if verify {
            for entry in manifest.files {
                if let reason = try problem(with: entry, in: dir) {
                    throw CheckpointError.checksumMismatch(directory: dir.path, file: entry.name, reason: reason)
                }
            }
        }
        return Checkpoint(directory: dir, manifest: manifest, verified: verify)
    }

    /// Every file listed in `checkpoint`'s manifest with what failed its verification (nil when
    /// its size and SHA-256 match), in manifest order. Unlike `open` it does not stop at the
    /// first failure, so a report can name every damaged file.
    public static func verifyEach(_ checkpoint: Checkpoint) -> [(name: String, problem: String?)] {
        checkpoint.manifest.files.map { entry in
            do {
                return (entry.name, try problem(with: entry, in: checkpoint.directory))
            } catch {
                return (entry.name, "\(error)")
            }
        }
    }

    /// Why the file of `entry` in `dir` does not match the manifest, or nil when it does.
    /// Throws when the file exists but cannot be read.
    static func problem(with entry: CheckpointManifest.Entry, in dir: URL) throws -> String? {
        let path = dir.appendingPathComponent(entry.name).path
        guard FileManager.default.fileExists(atPath: path) else { return "the file is missing" }
        let digest = try fileDigest(path: path)
        guard digest.bytes == entry.bytes else { return "size is \(digest.bytes) bytes, the manifest says \(entry.bytes)" }
        guard digest.sha256 == entry.sha256.lowercased() else {
            return "SHA-256 is \(digest.sha256), the manifest says \(entry.sha256)"
        }
        return nil
    }
}

/// Listing the checkpoints of a run directory and resolving `latest`.
public enum CheckpointDirectory {
    /// The pointer file in a run directory: one line naming the newest complete checkpoint.
    public static let latestFileName = "latest"
    /// The pointer file a run with `training.keep_best` writes: one line naming the checkpoint
    /// with the lowest validation loss so far.
    public static let bestFileName = "best"

    /// One complete checkpoint directory of a run.
    public struct Entry: Equatable {
        /// The step parsed from the directory name.
        public var step: Int
        /// The directory.
        public var url: URL
    }

    /// The complete checkpoints of `runDirectory` (directories named `step-` + digits that hold
    /// a `manifest.json`), sorted by step. Temporary directories of unfinished saves are hidden
    /// (their names start with `.`) and never listed. Checksums are not verified here.
    public static func list(runDirectory: URL) throws -> [Entry] {
        let run = runDirectory.standardizedFileURL
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: run.path)
        } catch {
            throw CheckpointError.io(path: run.path, operation: "list", reason: error.localizedDescription)
        }
        var out: [Entry] = []
        for name in names {
            guard let step = step(fromDirectoryName: name) else { continue }
            let url = run.appendingPathComponent(name, isDirectory: true)
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue,
                  FileManager.default.fileExists(atPath: url.appendingPathComponent(CheckpointManifest.fileName).path)
            else { continue }
            out.append(Entry(step: step, url: url))
        }
        return out.sorted { $0.step < $1.step }
    }

    /// The step of a `step-NNNNNNN` directory name, or nil for any other name.
    public static func step(fromDirectoryName name: String) -> Int? {
        guard name.hasPrefix("step-") else { return nil }
        let digits = name.dropFirst(5)
        guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    /// The directory name stored in `runDirectory/latest`, without resolving it. `latest` must
    /// be a small regular file (not a directory, a link or a pipe) holding one `step-NNNNNNN`
    /// name of this run: a path (`../other/step-0000010`, `/tmp/x`) is refused, since following
    /// it would resume or evaluate another run's weights. Throws `noCheckpoint` when there is no
    /// `latest`, `badLatest` when it is there but unusable.
    public static func latestPointer(runDirectory: URL) throws -> String {
        try pointer(latestFileName, runDirectory: runDirectory)
    }

    /// The directory name stored in the pointer file `file` (`latest` or `best`) of
    /// `runDirectory`, checked as `latestPointer` describes.
    public static func pointer(_ file: String, runDirectory: URL) throws -> String {
        let url = runDirectory.appendingPathComponent(file)
        var st = stat()
        guard lstat(url.path, &st) == 0 else {
            if errno == ENOENT {
                throw CheckpointError.noCheckpoint(path: runDirectory.path, reason: "there is no '\(file)' file")
            }
            throw CheckpointError.badLatest(path: url.path, reason: "cannot be read (\(errnoString()))")
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw CheckpointError.badLatest(path: url.path, reason: "is a directory, not the one-line file instruct writes")
        case S_IFLNK: throw CheckpointError.badLatest(path: url.path, reason: "is a symbolic link, not the one-line file instruct writes")
        default: throw CheckpointError.badLatest(path: url.path, reason: "is not a regular file")
        }
        guard st.st_size <= 4096 else {
            throw CheckpointError.badLatest(path: url.path, reason: "is \(st.st_size) bytes, not the one-line file instruct writes")
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw CheckpointError.badLatest(path: url.path, reason: "cannot be read (\(error.localizedDescription))")
        }
        let name = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if name.contains("/") || name == ".." || name == "." {
            throw CheckpointError.badLatest(path: url.path, reason: "names `\(name.prefix(200))`, a path; it must name a step-NNNNNNN directory of this run, not another place")
        }
        guard step(fromDirectoryName: name) != nil else {
            throw CheckpointError.badLatest(path: url.path, reason: "holds `\(name.prefix(200))`, which is not a step-NNNNNNN directory name")
        }
        return name
    }

    /// The checkpoint `latest` points to. If there is no `latest` file, or it names a
    /// directory that is not complete (which `CheckpointWriter` never leaves, but a manual
    /// deletion can), falls back to the newest complete checkpoint listed. A `latest` that is
    /// there but unusable (a directory, a link, a path outside the run) throws `badLatest`
    /// rather than being passed over. Throws `noCheckpoint` when there is no checkpoint.
    public static func latest(runDirectory: URL) throws -> URL {
        let run = runDirectory.standardizedFileURL
        let listed = try list(runDirectory: run)
        var pointed: String? = nil
        do {
            pointed = try latestPointer(runDirectory: run)
        } catch CheckpointError.noCheckpoint {
            pointed = nil
        }
        if let pointed, let entry = listed.first(where: { $0.url.lastPathComponent == pointed }) {
            return entry.url
        }
        guard let newest = listed.last else {
            throw CheckpointError.noCheckpoint(path: run.path, reason: "no complete step-NNNNNNN directory")
        }
        return newest.url
    }

    /// The checkpoint `best` points to (`training.keep_best`: the lowest validation loss so
    /// far). Unlike `latest` there is no fallback: throws `noCheckpoint` when the run has no
    /// `best` file or the checkpoint it names is gone, `badLatest` when the file is unusable.
    public static func best(runDirectory: URL) throws -> URL {
        let run = runDirectory.standardizedFileURL
        let name = try pointer(bestFileName, runDirectory: run)
        guard let entry = try list(runDirectory: run).first(where: { $0.url.lastPathComponent == name }) else {
            throw CheckpointError.noCheckpoint(path: run.appendingPathComponent(bestFileName).path,
                                               reason: "it names \(name), which is not a complete checkpoint of the run")
        }
        return entry.url
    }

    /// The checkpoint directory a command-line argument names, in one place for every command:
    /// `latest` (the latest checkpoint of `runDirectory`, for `--resume latest`), a
    /// `step-NNNNNNN` directory, a run directory (its latest checkpoint) or a run's `latest`
    /// file, or `best` / a run's `best` file (the checkpoint `training.keep_best` kept).
    /// Throws `notFound` when nothing is at `argument`, `noCheckpoint` when a run
    /// directory holds no complete checkpoint.
    public static func resolve(_ argument: String, runDirectory: URL? = nil) throws -> URL {
        if argument == latestFileName, let runDirectory { return try latest(runDirectory: runDirectory) }
        if argument == bestFileName, let runDirectory { return try best(runDirectory: runDirectory) }
        let url = URL(fileURLWithPath: URL(fileURLWithPath: argument).standardizedFileURL.path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw CheckpointError.notFound(path: argument)
        }
        if !isDirectory.boolValue {
            if url.lastPathComponent == bestFileName { return try best(runDirectory: url.deletingLastPathComponent()) }
            guard url.lastPathComponent == latestFileName else {
                throw CheckpointError.noCheckpoint(path: argument, reason: "it is a file; pass a checkpoint directory, a run directory or its `latest` or `best` file")
            }
            return try latest(runDirectory: url.deletingLastPathComponent())
        }
        let directory = URL(fileURLWithPath: url.path, isDirectory: true)
        if FileManager.default.fileExists(atPath: directory.appendingPathComponent(CheckpointManifest.fileName).path) {
            return directory
        }
        return try latest(runDirectory: directory)
    }
}
