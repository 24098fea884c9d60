import Datasets
import Foundation
import Hashing
import Tokenizers

/// What `manifest.json` records about a generated dataset: generator and version, seed,
/// families, options, and for each split its file, record count per family and SHA-256.
public struct SynthManifest: Codable, Equatable, Sendable {
    /// One split's file.
    public struct Split: Codable, Equatable, Sendable {
        /// `train` or `heldout`.
        public var name: String
        /// File name inside the dataset directory (`train.jsonl`).
        public var file: String
        /// Number of records (lines) in the file.
        public var records: Int
        /// Records per family name.
        public var families: [String: Int]
        /// Lowercase hex SHA-256 of the file's bytes.
        public var sha256: String
    }

    /// Always `SynthGenerator.name`.
    public var generator: String
    /// `SynthGenerator.version` at generation time.
    public var version: Int
    /// The seed the dataset was generated from.
    public var seed: UInt64
    /// The families generated, in order.
    public var families: [SynthFamily]
    /// The train and held-out files.
    public var splits: [Split]
    /// The difficulty options used.
    public var options: SynthOptions
}

/// Reads and writes the synthetic dataset: `train.jsonl`, `heldout.jsonl` (one record per
/// line, fields in the order instruction, input, output, family, check) and `manifest.json`.
/// Serialization is byte-deterministic: the same dataset always gives the same bytes.
public enum SynthFiles {
    /// File names inside a dataset directory.
    public static let trainFile = "train.jsonl"
    /// The held-out split's file name.
    public static let heldoutFile = "heldout.jsonl"
    /// The manifest's file name.
    public static let manifestFile = "manifest.json"

    // MARK: Writing

    /// One record as a JSON object on one line (no trailing newline), fields in a fixed order.
    public static func encodeLine(_ record: SynthRecord) -> String {
        var fields: [(String, String)] = [
            ("instruction", JSONText.quoted(record.instruction)),
            ("input", JSONText.quoted(record.input)),
            ("output", JSONText.quoted(record.output)),
            ("family", JSONText.quoted(record.family.rawValue)),
        ]
        var check: [(String, String)] = [("kind", JSONText.quoted(record.check.kind))]
        switch record.check {
        case let .exact(answer):
            check.append(("answer", JSONText.quoted(answer)))
        case let .jsonKey(key, value):
            check.append(("key", JSONText.quoted(key)))
            if let value { check.append(("value", JSONText.quoted(value))) }
        case let .endsWith(phrase, body):
            check.append(("phrase", JSONText.quoted(phrase)))
            if let body { check.append(("body", JSONText.quoted(body))) }
        case let .allCaps(answer):
            if let answer { check.append(("answer", JSONText.quoted(answer))) }
        case let .bullets(items):
            check.append(("items", "[" + items.map(JSONText.quoted).joined(separator: ",") + "]"))
        case let .quoted(text):
            check.append(("text", JSONText.quoted(text)))
        }
        fields.append(("check", object(check)))
        return object(fields)
    }

    /// Records as JSONL bytes: one line each, every line ending in `\n`.
    public static func encodeJSONL(_ records: [SynthRecord]) -> Data {
        var text = ""
        for record in records {
            text += encodeLine(record)
            text += "\n"
        }
        return Data(text.utf8)
    }

    /// The three files of a dataset, name and bytes, in the order train, held-out, manifest.
    public static func encode(_ dataset: SynthDataset) throws -> [(name: String, bytes: Data)] {
        let train = encodeJSONL(dataset.train)
        let heldout = encodeJSONL(dataset.heldout)
        let manifest = SynthManifest(
            generator: SynthGenerator.name, version: SynthGenerator.version, seed: dataset.seed,
            families: dataset.options.families,
            splits: [
                split("train", trainFile, dataset.train, train),
                split("heldout", heldoutFile, dataset.heldout, heldout),
            ],
            options: dataset.options)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var manifestBytes = try encoder.encode(manifest)
        manifestBytes.append(0x0A)
        return [(trainFile, train), (heldoutFile, heldout), (manifestFile, manifestBytes)]
    }

    /// Writes the dataset's three files into `directory` (created if missing), each atomically
    /// (written aside, then renamed). Returns the manifest written.
    @discardableResult
    public static func write(_ dataset: SynthDataset, to directory: String) throws -> SynthManifest {
        let files = try encode(dataset)
        let dir = URL(fileURLWithPath: directory, isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw SynthError.unwritableFile(path: directory, reason: error.localizedDescription)
        }
        for file in files {
            let url = dir.appendingPathComponent(file.name)
            do {
                try file.bytes.write(to: url, options: .atomic)
            } catch {
                throw SynthError.unwritableFile(path: url.path, reason: error.localizedDescription)
            }
        }
        return try loadManifest(path: dir.appendingPathComponent(manifestFile).path)
    }

    // MARK: Reading

    /// Loads a synth JSONL file. Blank lines are skipped. A bad line throws
    /// `SynthError.badRecord` naming the file, the 1-based line and the field.
    public static func load(path: String) throws -> [SynthRecord] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw SynthError.unreadableFile(path: path, reason: fileReadProblem(path, error))
        }
        return try decodeJSONL(data, path: path)
    }

    /// Decodes JSONL bytes; `path` is only used in error messages.
    public static func decodeJSONL(_ data: Data, path: String) throws -> [SynthRecord] {
        let decoder = JSONDecoder()
        var records: [SynthRecord] = []
        var lineNumber = 0
        for var line in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.last == 0x0D { line = line.dropLast() }  // CRLF files.
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            do {
                records.append(try decoder.decode(SynthRecord.self, from: Data(line)))
            } catch let error as DecodingError {
                let (field, reason) = describe(error)
                throw SynthError.badRecord(path: path, line: lineNumber, field: field, reason: reason)
            } catch {
                throw SynthError.badRecord(path: path, line: lineNumber, field: "(line)", reason: "\(error)")
            }
        }
        return records
    }

    /// Loads and decodes a `manifest.json`.
    public static func loadManifest(path: String) throws -> SynthManifest {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw SynthError.unreadableFile(path: path, reason: fileReadProblem(path, error))
        }
        do {
            return try JSONDecoder().decode(SynthManifest.self, from: data)
        } catch let error as DecodingError {
            let (field, reason) = describe(error)
            throw SynthError.badRecord(path: path, line: 1, field: field, reason: reason)
        }
    }

    // MARK: Helpers

    private static func split(_ name: String, _ file: String, _ records: [SynthRecord], _ bytes: Data) -> SynthManifest.Split {
        var families: [String: Int] = [:]
        for record in records { families[record.family.rawValue, default: 0] += 1 }
        let hex = SHA256.hex(SHA256.hash(bytes))
        return SynthManifest.Split(name: name, file: file, records: records.count, families: families, sha256: hex)
    }

    /// The dotted field path and a readable reason for a decoding error.
    static func describe(_ error: DecodingError) -> (field: String, reason: String) {
        func path(_ keys: [CodingKey]) -> String {
            let dotted = keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return dotted.isEmpty ? "(line)" : dotted
        }
        func name(_ type: Any.Type) -> String {
            if type == String.self { return "a string" }
            if "\(type)".hasPrefix("Dictionary") { return "a JSON object" }
            return "\(type)"
        }
        switch error {
        case let .keyNotFound(key, context):
            return (path(context.codingPath + [key]), "missing")
        case let .typeMismatch(type, context):
            return (path(context.codingPath), "expected \(name(type))")
        case let .valueNotFound(type, context):
            return (path(context.codingPath), "is null, expected \(name(type))")
        case let .dataCorrupted(context):
            if context.codingPath.isEmpty {
                return ("(line)", "not a JSON object")
            }
            return (path(context.codingPath), context.debugDescription)
        @unknown default:
            return ("(line)", "\(error)")
        }
    }

    private static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { JSONText.quoted($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }
}
