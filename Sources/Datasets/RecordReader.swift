import Foundation

/// What to do with a record that cannot be read (malformed JSON or CSV, missing or mistyped
/// field, empty response, invalid UTF-8).
public enum BadRecordPolicy: String, Codable, Sendable, CaseIterable {
    /// Stop with an error naming the file, line (and record) and field.
    case error
    /// Skip the record and count it, per reason, in the preflight report.
    case skip
}

/// The records of one file and what was skipped on the way.
public struct RecordFile: Sendable {
    /// The usable records, in file order.
    public var records: [Record]
    /// Records seen, usable or not (non-blank JSONL lines, JSON array elements, CSV rows).
    public var recordsRead: Int
    /// Skipped records counted by `DatasetError.reasonKey`.
    public var skipped: [String: Int]
    /// The format used (the detected one when `auto` was asked for).
    public var format: RecordFormat
}

/// What reading a file record by record (`RecordReader.stream`) saw.
public struct RecordCounts: Sendable, Equatable {
    /// Records seen, usable or not.
    public var recordsRead: Int
    /// Skipped records counted by `DatasetError.reasonKey`.
    public var skipped: [String: Int]
    /// The format used (the detected one when `auto` was asked for).
    public var format: RecordFormat
}

/// The layout of a data file, from its name and first byte.
enum FileLayout: String, Sendable {
    /// One JSON object per line.
    case jsonl
    /// One JSON array of objects (Stanford Alpaca's `alpaca_data.json`), on one line or many.
    case jsonArray = "json_array"
    /// Comma-separated values with a header row (RFC 4180 quoting).
    case csv

    /// `.csv` files are CSV; other files are a JSON array when their first non-blank byte is
    /// `[`, else JSONL.
    static func of(path: String, firstByte: UInt8) -> FileLayout {
        if (path as NSString).pathExtension.lowercased() == "csv" { return .csv }
        return firstByte == UInt8(ascii: "[") ? .jsonArray : .jsonl
    }
}

/// Reads Alpaca, Dolly, prompt/completion, plain text, chat `messages` and ShareGPT records
/// from JSONL, JSON array and CSV files.
///
/// Files are read a chunk at a time and records are handed out one by one (`stream`), so a
/// file larger than memory can be tokenized; only one record (at most `maxRecordBytes`) is
/// held at once. A record of a JSON array or CSV file is named by its number and the line it
/// starts on ("record 52 (line 1)"), a JSONL record by its line.
public enum RecordReader {
    /// The largest record read: a longer JSONL line, JSON array element or CSV row is a bad
    /// record (skipped or reported) instead of an allocation as large as the file.
    public static let maxRecordBytes = 64 << 20

    /// Every usable record of `path` in memory (for evaluation and prompts; training streams).
    /// Throws `DatasetError` for file-level problems, and for bad records unless `onBadRecord` is `.skip`.
    public static func read(
        path: String, format: RecordFormat = .auto, columns: ColumnMapping = ColumnMapping(),
        onBadRecord: BadRecordPolicy = .error
    ) throws -> RecordFile {
        var records: [Record] = []
        let counts = try stream(path: path, format: format, columns: columns, onBadRecord: onBadRecord) { r, _ in records.append(r) }
        return RecordFile(records: records, recordsRead: counts.recordsRead, skipped: counts.skipped, format: counts.format)
    }

    /// Parses file contents already in memory; `path` is used in errors and for the layout
    /// (a `.csv` name reads CSV).
    public static func parse(
        bytes: [UInt8], path: String, format: RecordFormat = .auto,
        columns: ColumnMapping = ColumnMapping(), onBadRecord: BadRecordPolicy = .error
    ) throws -> RecordFile {
        var records: [Record] = []
        var source: ArraySlice<UInt8>? = bytes[...]
        let counts = try scan(path: path, format: format, columns: columns, onBadRecord: onBadRecord,
                              next: { defer { source = nil }; return source }) { r, _ in records.append(r) }
        return RecordFile(records: records, recordsRead: counts.recordsRead, skipped: counts.skipped, format: counts.format)
    }

    /// Reads `path` a chunk at a time and calls `body` with each usable record, in file order,
    /// and the format (detected from the first record, or from a CSV header, under `auto`).
    /// Errors `body` throws pass through unchanged.
    public static func stream(
        path: String, format: RecordFormat = .auto, columns: ColumnMapping = ColumnMapping(),
        onBadRecord: BadRecordPolicy = .error, _ body: (Record, RecordFormat) throws -> Void
    ) throws -> RecordCounts {
        var chunks = try FileChunks(path: path)
        defer { chunks.closeFile() }
        return try scan(path: path, format: format, columns: columns, onBadRecord: onBadRecord, next: { try chunks.next() }, body)
    }

    /// The reading loop over any source of chunks.
    /// `maxRecordBytes` is lowered by tests only.
    static func scan(
        path: String, format: RecordFormat, columns: ColumnMapping, onBadRecord: BadRecordPolicy,
        maxRecordBytes: Int = RecordReader.maxRecordBytes,
        next: () throws -> ArraySlice<UInt8>?,
        objects: (([String: Any], RecordLocation) throws -> Void)? = nil,
        _ body: (Record, RecordFormat) throws -> Void
    ) throws -> RecordCounts {
        var state = ParseState(path: path, format: format, columns: columns, policy: onBadRecord, maxRecordBytes: maxRecordBytes)
        state.keepsObjects = objects != nil
        // Chunks up to the first non-blank byte decide the layout; a UTF-8 byte-order mark
        // (files saved by some Windows editors) is not content.
        var head: [UInt8] = []
        var start = 0
        var first: UInt8? = nil
        while first == nil || head.count < 3, let chunk = try next() {
            head += chunk
            start = head.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
            first = head[start...].first(where: { !isSpace($0) })
        }
        guard let first else { throw DatasetError.emptyFile(path: path) }
        var scanner: any RecordScanner
        switch FileLayout.of(path: path, firstByte: first) {
        case .jsonl: scanner = LineScanner()
        case .jsonArray: scanner = JSONArrayScanner()
        case .csv: scanner = CSVScanner()
        }
        func deliver() throws {
            for r in state.ready { try body(r, state.format) }
            state.ready.removeAll(keepingCapacity: true)
            if let objects {
                for (fields, location) in state.readyObjects { try objects(fields, location) }
                state.readyObjects.removeAll(keepingCapacity: true)
            }
        }
        try scanner.feed(head[start...], into: &state)
        try deliver()
        while let chunk = try next() {
            try scanner.feed(chunk, into: &state)
            try deliver()
        }
        try scanner.finish(into: &state)
        try deliver()
        return RecordCounts(recordsRead: state.read, skipped: state.skipped, format: state.format)
    }

    static func isSpace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09
    }

    static func jsonReason(_ error: Error) -> String {
        let ns = error as NSError
        if let detail = ns.userInfo["NSDebugDescription"] as? String { return detail }
        return ns.localizedDescription
    }
}

/// A layout's reader: bytes in, records out through `ParseState`.
protocol RecordScanner {
    /// Reads the next bytes of the file; complete records go to `state.ready`.
    mutating func feed(_ chunk: ArraySlice<UInt8>, into state: inout ParseState) throws
    /// The end of the file: the last record, or an error when the file ends inside one.
    mutating func finish(into state: inout ParseState) throws
}

/// Where records go while a file is read: the format, the bad-record policy and its counts.
struct ParseState {
    let path: String
    var format: RecordFormat
    let columns: ColumnMapping
    let policy: BadRecordPolicy
    /// The largest record kept in memory (`RecordReader.maxRecordBytes`).
    let maxRecordBytes: Int
    /// Records read since the caller last took them.
    var ready: [Record] = []
    /// With `keepsObjects` (preference files, PreferencePair.swift): each record's fields,
    /// undecoded, instead of `ready`.
    var keepsObjects = false
    var readyObjects: [(fields: [String: Any], location: RecordLocation)] = []
    var read = 0
    var skipped: [String: Int] = [:]

    init(path: String, format: RecordFormat, columns: ColumnMapping, policy: BadRecordPolicy, maxRecordBytes: Int) {
        self.path = path
        self.format = format
        self.columns = columns
        self.policy = policy
        self.maxRecordBytes = maxRecordBytes
    }

    /// The reason of a record longer than the limit.
    var overlongReason: String {
        maxRecordBytes >= 1 << 20 ? "longer than \(maxRecordBytes >> 20) MiB" : "longer than \(maxRecordBytes) bytes"
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

    /// Decodes one record's bytes as a JSON object and adds it.
    mutating func addJSON(_ bytes: ArraySlice<UInt8>, at location: RecordLocation) throws {
        guard String(bytes: bytes, encoding: .utf8) != nil else {
            throw DatasetError.invalidUTF8(path: path, line: location.line, record: location.record)
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            throw DatasetError.malformedJSON(path: path, line: location.line, reason: RecordReader.jsonReason(error), record: location.record)
        }
        guard let dict = object as? [String: Any] else {
            throw DatasetError.malformedJSON(path: path, line: location.line, reason: "the record is not a JSON object", record: location.record)
        }
        try add(dict, at: location)
    }

    /// Adds a record given as its fields, detecting the format from the first one under `auto`.
    mutating func add(_ fields: [String: Any], at location: RecordLocation) throws {
        if format == .auto {
            guard let detected = RecordFormat.detect(fields: Set(fields.keys), columns: columns) else {
                throw DatasetError.unknownFormat(path: path, line: location.line, fields: fields.keys.sorted(), record: location.record)
            }
            format = detected
        }
        if keepsObjects {
            readyObjects.append((fields, location))
            return
        }
        let decoder = RecordDecoder(path: path, format: format, columns: columns)
        ready.append(Record(content: try decoder.decode(fields, at: location), path: path, line: location.line,
                            record: location.record))
    }
}

/// JSONL: one record per line; blank lines are skipped (and counted for line numbers).
struct LineScanner: RecordScanner {
    private var pending: [UInt8] = []
    private var lineNumber = 0
    /// Inside a line longer than `maxRecordBytes`: its bytes are dropped until its end.
    private var overlong = false

    mutating func feed(_ chunk: ArraySlice<UInt8>, into state: inout ParseState) throws {
        var start = chunk.startIndex
        while let newline = chunk[start...].firstIndex(of: 0x0A) {
            try endLine(chunk[start..<newline], into: &state)
            start = newline + 1
        }
        keep(chunk[start...], limit: state.maxRecordBytes)
    }

    mutating func finish(into state: inout ParseState) throws {
        if !pending.isEmpty || overlong { try endLine([], into: &state) }
    }

    private mutating func keep(_ bytes: ArraySlice<UInt8>, limit: Int) {
        guard !overlong, !bytes.isEmpty else { return }
        if pending.count + bytes.count > limit {
            overlong = true
            pending = []
        } else {
            pending += bytes
        }
    }

    private mutating func endLine(_ tail: ArraySlice<UInt8>, into state: inout ParseState) throws {
        lineNumber += 1
        let location = RecordLocation(line: lineNumber)
        // A line inside one chunk is read where it lies; one split across chunks was collected.
        let direct = pending.isEmpty && !overlong
        if !direct { keep(tail, limit: state.maxRecordBytes) }
        defer {
            pending.removeAll(keepingCapacity: pending.count <= FileChunks.chunkSize)
            overlong = false
        }
        if overlong {
            try state.attempt { st in
                throw DatasetError.malformedJSON(path: st.path, line: location.line, reason: "the line is \(st.overlongReason)")
            }
            return
        }
        let line = direct ? tail : pending[...]
        guard line.contains(where: { !RecordReader.isSpace($0) }) else { return }
        try state.attempt { st in try st.addJSON(line, at: location) }
    }
}
