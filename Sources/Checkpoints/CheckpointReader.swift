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
                let path = dir.appendingPathComponent(entry.name).path
                guard FileManager.default.fileExists(atPath: path) else {
                    throw CheckpointError.checksumMismatch(directory: dir.path, file: entry.name, reason: "the file is missing")
                }
                let digest = try fileDigest(path: path)
                guard digest.bytes == entry.bytes else {
                    throw CheckpointError.checksumMismatch(directory: dir.path, file: entry.name,
                        reason: "size is \(digest.bytes) bytes, the manifest says \(entry.bytes)")
                }
                guard digest.sha256 == entry.sha256.lowercased() else {
                    throw CheckpointError.checksumMismatch(directory: dir.path, file: entry.name,
                        reason: "SHA-256 is \(digest.sha256), the manifest says \(entry.sha256)")
                }
            }
        }
        return Checkpoint(directory: dir, manifest: manifest, verified: verify)
    }
}

/// Listing the checkpoints of a run directory and resolving `latest`.
public enum CheckpointDirectory {
    /// The pointer file in a run directory: one line naming the newest complete checkpoint.
    public static let latestFileName = "latest"

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

    /// The directory name stored in `runDirectory/latest`, without resolving it.
    public static func latestPointer(runDirectory: URL) throws -> String {
        let url = runDirectory.appendingPathComponent(latestFileName)
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw CheckpointError.noCheckpoint(path: runDirectory.path, reason: "there is no readable '\(latestFileName)' file")
        }
        let name = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard step(fromDirectoryName: name) != nil else {
            throw CheckpointError.noCheckpoint(path: url.path, reason: "it does not name a step-NNNNNNN directory")
        }
        return name
    }

    /// The checkpoint `latest` points to. If the pointer is missing or names a directory that is
    /// not complete (which `CheckpointWriter` never leaves, but a manual deletion can), falls
    /// back to the newest complete checkpoint listed. Throws `noCheckpoint` when there is none.
    public static func latest(runDirectory: URL) throws -> URL {
        let run = runDirectory.standardizedFileURL
        let listed = try list(runDirectory: run)
        if let name = try? latestPointer(runDirectory: run),
           let entry = listed.first(where: { $0.url.lastPathComponent == name }) {
            return entry.url
        }
        guard let newest = listed.last else {
            throw CheckpointError.noCheckpoint(path: run.path, reason: "no complete step-NNNNNNN directory")
        }
        return newest.url
    }

    /// The checkpoint directory a command-line argument names, in one place for every command:
    /// `latest` (the latest checkpoint of `runDirectory`, for `--resume latest`), a
    /// `step-NNNNNNN` directory, a run directory (its latest checkpoint) or a run's `latest`
    /// file. Throws `notFound` when nothing is at `argument`, `noCheckpoint` when a run
    /// directory holds no complete checkpoint.
    public static func resolve(_ argument: String, runDirectory: URL? = nil) throws -> URL {
        if argument == latestFileName, let runDirectory { return try latest(runDirectory: runDirectory) }
        let url = URL(fileURLWithPath: URL(fileURLWithPath: argument).standardizedFileURL.path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw CheckpointError.notFound(path: argument)
        }
        if !isDirectory.boolValue {
            guard url.lastPathComponent == latestFileName else {
                throw CheckpointError.noCheckpoint(path: argument, reason: "it is a file; pass a checkpoint directory, a run directory or its `latest` file")
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
