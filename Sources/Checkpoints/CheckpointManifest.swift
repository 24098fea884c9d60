import Foundation
import Hashing

/// `manifest.json` of a checkpoint directory: the size and SHA-256 of every other file in it,
/// written last (after every listed file is on disk) and verified by `CheckpointReader.open`.
public struct CheckpointManifest: Codable, Equatable {
    /// One listed file.
    public struct Entry: Codable, Equatable {
        /// File name relative to the checkpoint directory.
        public var name: String
        /// Size in bytes.
        public var bytes: Int
        /// Lower-case hex SHA-256 of the contents.
        public var sha256: String
    }

    /// Always `instructkit-checkpoint`.
    public var format: String
    /// Layout version of the directory; 1 for this release.
    public var version: Int
    /// The training step, when the directory was saved for one.
    public var step: Int?
    /// Every file except `manifest.json` itself, sorted by name.
    public var files: [Entry]

    /// The format tag written into every manifest.
    public static let formatName = "instructkit-checkpoint"
    /// The manifest file name.
    public static let fileName = "manifest.json"

    /// A manifest for the given entries.
    public init(step: Int?, files: [Entry]) {
        self.format = Self.formatName
        self.version = 1
        self.step = step
        self.files = files.sorted { $0.name < $1.name }
    }

    /// The entry for `name`, if listed.
    public func entry(_ name: String) -> Entry? { files.first { $0.name == name } }

    /// Parses and sanity-checks manifest bytes read from `path`.
    static func decode(_ data: Data, path: String) throws -> CheckpointManifest {
        let m: CheckpointManifest
        do {
            m = try JSONDecoder().decode(CheckpointManifest.self, from: data)
        } catch {
            throw CheckpointError.invalidManifest(path: path, reason: "JSON does not decode (\(JSONFile.describe(error)))")
        }
        guard m.format == formatName else {
            throw CheckpointError.invalidManifest(path: path, reason: "format is '\(m.format)', expected '\(formatName)'")
        }
        guard m.version == 1 else {
            throw CheckpointError.invalidManifest(path: path, reason: "version \(m.version) is not supported (this build reads version 1)")
        }
        // Every checkpoint holds files, each listed once; a step is never negative.
        guard !m.files.isEmpty else {
            throw CheckpointError.invalidManifest(path: path, reason: "it lists no files (every checkpoint has some)")
        }
        if let step = m.step, step < 0 {
            throw CheckpointError.invalidManifest(path: path, reason: "step is \(step)")
        }
        if Set(m.files.map(\.name)).count != m.files.count {
            throw CheckpointError.invalidManifest(path: path, reason: "a file is listed twice")
        }
        for e in m.files {
            if let reason = CheckpointWriter.problemWithFileName(e.name) {
                throw CheckpointError.invalidManifest(path: path, reason: "file name '\(e.name)' \(reason)")
            }
            guard e.bytes >= 0, e.sha256.count == 64 else {
                throw CheckpointError.invalidManifest(path: path, reason: "entry for '\(e.name)' has a bad size or checksum field")
            }
        }
        return m
    }

    /// Pretty JSON with sorted keys (stable bytes for the same content).
    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }
}

/// Size and lower-case hex SHA-256 of the file at `path`, read through a memory mapping.
func fileDigest(path: String) throws -> (bytes: Int, sha256: String) {
    let file = try MappedFile(path: path)
    var hasher = SHA256()
    // Hash in 64 MiB slices so that pages are touched in order.
    var offset = 0
    let slice = 64 << 20
    while offset < file.bytes.count {
        let end = min(offset + slice, file.bytes.count)
        hasher.update(UnsafeRawBufferPointer(rebasing: file.bytes[offset..<end]))
        offset = end
    }
    let hex = SHA256.hex(hasher.finalize())
    return (file.bytes.count, hex)
}

/// Checksums of whole files, as the manifest records them.
public enum FileChecksum {
    /// Lower-case hex SHA-256 of the file at `path`. Throws `CheckpointError` naming the
    /// file when it cannot be read.
    public static func sha256(path: String) throws -> String { try fileDigest(path: path).sha256 }
}
