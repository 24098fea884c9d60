import Foundation

/// What to do with a record that cannot be read (malformed JSON, missing or mistyped
/// field, empty response, invalid UTF-8).
public enum BadRecordPolicy: String, Codable, Sendable, CaseIterable {
    /// Stop with an error naming the file, line and field.
    case error
    /// Skip the record and count it, per reason, in the preflight report.
    case skip
}

/// The records of one file and what was skipped on the way.
public struct RecordFile: Sendable {
    /// The usable records, in file order.
    public var records: [Record]
    /// Records seen, usable or not (non-blank JSONL lines, or JSON array elements).
    public var recordsRead: Int
    /// Skipped records counted by `DatasetError.reasonKey`.
    public var skipped: [String: Int]
    /// The format used (the detected one when `auto` was asked for).
    public var format: RecordFormat
}

/// Reads Alpaca, Dolly, prompt/completion, chat `messages` and ShareGPT records from JSONL
/// or JSON array files.
public enum RecordReader {
    /// Reads `path`. A file whose first non-blank byte is `[` is a JSON array, otherwise JSONL.
    /// Throws `DatasetError` for file-level problems, and for bad records unless `onBadRecord` is `.skip`.
    public static func read(
        path: String, format: RecordFormat = .auto, columns: ColumnMapping = ColumnMapping(),
        onBadRecord: BadRecordPolicy = .error
    ) throws -> RecordFile {
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw DatasetError.unreadableFile(path: path, reason: fileReadProblem(path, error))
        }
        return try parse(bytes: bytes, path: path, format: format, columns: columns, onBadRecord: onBadRecord)
    }

    /// Parses file contents already in memory; `path` is used in errors only.
    public static func parse(
        bytes: [UInt8], path: String, format: RecordFormat = .auto,
        columns: ColumnMapping = ColumnMapping(), onBadRecord: BadRecordPolicy = .error
    ) throws -> RecordFile {
        // A UTF-8 byte-order mark (files saved by some Windows editors) is not content.
        let bytes = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes
        guard let first = bytes.firstIndex(where: { !isSpace($0) }) else {
            throw DatasetError.emptyFile(path: path)
        }
        var state = ParseState(path: path, format: format, columns: columns, policy: onBadRecord)
        if bytes[first] == UInt8(ascii: "[") {
            try parseArray(bytes, into: &state)
        } else {
            try parseLines(bytes, into: &state)
        }
        return RecordFile(
            records: state.records, recordsRead: state.read, skipped: state.skipped,
            format: state.format)
    }

    private struct ParseState {
        let path: String
        var format: RecordFormat
        let columns: ColumnMapping
        let policy: BadRecordPolicy
        var records: [Record] = []
        var read = 0
        var skipped: [String: Int] = [:]

        init(path: String, format: RecordFormat, columns: ColumnMapping, policy: BadRecordPolicy) {
            self.path = path
            self.format = format
            self.columns = columns
            self.policy = policy
        }

        /// Runs `body` for one record; a record-level error is skipped or rethrown by policy.
        mutating func attempt(_ body: (inout ParseState) throws -> Void) throws {
            read += 1
            do {
                try body(&self)
            } catch let error as DatasetError where error.isRecordLevel && policy == .skip {
                skipped[error.reasonKey, default: 0] += 1
            }
        }

        mutating func add(_ object: Any, line: Int) throws {
            guard let dict = object as? [String: Any] else {
                throw DatasetError.malformedJSON(path: path, line: line, reason: "the record is not a JSON object")
            }
            if format == .auto {
                guard let detected = RecordFormat.detect(fields: Set(dict.keys), columns: columns) else {
                    throw DatasetError.unknownFormat(path: path, line: line, fields: dict.keys.sorted())
                }
                format = detected
            }
            let decoder = RecordDecoder(path: path, format: format, columns: columns)
            records.append(Record(content: try decoder.decode(dict, line: line), path: path, line: line))
        }
    }

    private static func isSpace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09
    }

    private static func parseLines(_ bytes: [UInt8], into state: inout ParseState) throws {
        var lineNumber = 0
        var start = 0
        while start <= bytes.count {
            let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
            lineNumber += 1
            let slice = bytes[start..<end]
            start = end + 1
            guard slice.contains(where: { !isSpace($0) }) else {
                if end == bytes.count { break }
                continue
            }
            let line = lineNumber
            try state.attempt { st in
                guard String(bytes: slice, encoding: .utf8) != nil else {
                    throw DatasetError.invalidUTF8(path: st.path, line: line)
                }
                let object: Any
                do {
                    object = try JSONSerialization.jsonObject(with: Data(slice), options: [])
                } catch {
                    throw DatasetError.malformedJSON(path: st.path, line: line, reason: jsonReason(error))
                }
                try st.add(object, line: line)
            }
            if end == bytes.count { break }
        }
    }

    private static func parseArray(_ bytes: [UInt8], into state: inout ParseState) throws {
        let path = state.path
        guard String(bytes: bytes, encoding: .utf8) != nil else {
            // Find the first line that is not UTF-8 to name it.
            var line = 1
            var start = 0
            while start < bytes.count {
                let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
                if String(bytes: bytes[start..<end], encoding: .utf8) == nil { break }
                line += 1
                start = end + 1
            }
            throw DatasetError.invalidUTF8(path: path, line: line)
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(bytes), options: [])
        } catch {
            throw DatasetError.malformedJSON(path: path, line: 1, reason: "the JSON array does not parse: \(jsonReason(error))")
        }
        guard let elements = parsed as? [Any] else {
            throw DatasetError.malformedJSON(path: path, line: 1, reason: "expected a JSON array of records")
        }
        let lines = elementStartLines(bytes)
        for (i, element) in elements.enumerated() {
            let line = i < lines.count ? lines[i] : 1
            try state.attempt { st in try st.add(element, line: line) }
        }
    }

    /// The 1-based line on which each top-level element of a JSON array starts.
    /// A small scanner over the bytes that skips strings and tracks nesting depth.
    static func elementStartLines(_ bytes: [UInt8]) -> [Int] {
        var lines: [Int] = []
        var line = 1
        var depth = 0
        var inString = false
        var escaped = false
        var expectingElement = false
        for b in bytes {
            if b == 0x0A { line += 1 }
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                continue
            }
            if expectingElement && depth == 1 && !isSpace(b) && b != UInt8(ascii: "]") {
                lines.append(line)
                expectingElement = false
            }
            switch b {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth == 1 { expectingElement = true }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            case UInt8(ascii: ","): if depth == 1 { expectingElement = true }
            default: break
            }
        }
        return lines
    }

    private static func jsonReason(_ error: Error) -> String {
        let ns = error as NSError
        if let detail = ns.userInfo["NSDebugDescription"] as? String { return detail }
        return ns.localizedDescription
    }
}
