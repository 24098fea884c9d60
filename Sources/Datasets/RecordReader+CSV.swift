/// CSV (RFC 4180): a header row names the columns, each further row is a record whose fields
/// are text. Fields may be quoted (`"a, b"`), with `""` for a quote inside and line breaks
/// allowed inside quotes; rows end with LF or CRLF; blank lines are skipped. As Python's `csv`
/// module, text after a closing quote and quotes inside an unquoted field are kept as text.
///
/// Columns are the record's fields, so the flat formats read from CSV (alpaca, dolly,
/// prompt_completion, text; `columns:` renames as for JSON); the chat formats need lists and
/// are refused. A row with another number of fields than the header is a bad record.
struct CSVScanner: RecordScanner {
    private enum Phase {
        /// At the start of a field.
        case fieldStart
        /// In a field that did not start with a quote.
        case unquoted
        /// In a quoted field.
        case quoted
        /// After a quote inside a quoted field: `"` (a literal quote), a separator or the row end.
        case quoteInQuoted
    }

    private var phase = Phase.fieldStart
    private var field: [UInt8] = []
    private var fields: [[UInt8]] = []
    private var rowBytes = 0
    private var quotedRow = false
    private var overlong = false
    /// The byte before was a CR that ended a row: a LF right after it belongs to the same break.
    private var afterCR = false
    private var line = 1
    private var rowLine = 1
    private var header: [String]?
    private var records = 0

    mutating func feed(_ chunk: ArraySlice<UInt8>, into state: inout ParseState) throws {
        for b in chunk {
            if afterCR {
                afterCR = false
                if b == 0x0A {
                    line += 1
                    continue
                }
            }
            if phase == .fieldStart && fields.isEmpty && field.isEmpty { rowLine = line }
            if b == 0x0A { line += 1 }
            switch phase {
            case .quoted:
                if b == UInt8(ascii: "\"") { phase = .quoteInQuoted } else { append(b, limit: state.maxRecordBytes) }
            case .quoteInQuoted:
                if b == UInt8(ascii: "\"") {
                    append(b, limit: state.maxRecordBytes)
                    phase = .quoted
                } else {
                    phase = .unquoted
                    try separatorOrText(b, into: &state)
                }
            case .fieldStart:
                if b == UInt8(ascii: "\"") {
                    phase = .quoted
                    quotedRow = true
                } else {
                    phase = .unquoted
                    try separatorOrText(b, into: &state)
                }
            case .unquoted:
                try separatorOrText(b, into: &state)
            }
        }
    }

    mutating func finish(into state: inout ParseState) throws {
        if phase == .quoted {
            throw DatasetError.malformedFile(path: state.path, line: rowLine, reason: "a quoted field is not closed before the end of the file",
                                             record: header == nil ? nil : records + 1)
        }
        if !(fields.isEmpty && field.isEmpty && phase == .fieldStart) { try endRow(into: &state) }
        if header == nil { throw DatasetError.emptyFile(path: state.path) }
    }

    /// A byte outside quotes: a comma ends the field, CR or LF the row, anything else is text.
    private mutating func separatorOrText(_ b: UInt8, into state: inout ParseState) throws {
        switch b {
        case UInt8(ascii: ","):
            endField()
        case 0x0A:
            try endRow(into: &state)
        case 0x0D:
            // CRLF (or a lone CR) ends the row; the LF, if any, is skipped in `feed`.
            try endRow(into: &state)
            afterCR = true
        default:
            append(b, limit: state.maxRecordBytes)
        }
    }

    private mutating func append(_ b: UInt8, limit: Int) {
        rowBytes += 1
        if rowBytes > limit {
            overlong = true
            field = []
            fields = []
        }
        if !overlong { field.append(b) }
    }

    private mutating func endField() {
        if !overlong { fields.append(field) }
        field.removeAll(keepingCapacity: true)
        phase = .fieldStart
    }

    private mutating func endRow(into state: inout ParseState) throws {
        endField()
        defer {
            fields.removeAll(keepingCapacity: true)
            rowBytes = 0
            quotedRow = false
            overlong = false
        }
        // A blank line (one empty, unquoted field) is no record.
        if !overlong && fields.count == 1 && fields[0].isEmpty && !quotedRow { return }
        guard let header else {
            try readHeader(state)
            return
        }
        records += 1
        let location = RecordLocation(line: rowLine, record: records)
        let row = fields
        let overlong = self.overlong
        try state.attempt { st in
            if overlong {
                throw DatasetError.malformedCSV(path: st.path, line: location.line, reason: "the row is \(st.overlongReason)",
                                                record: location.record)
            }
            guard row.count == header.count else {
                throw DatasetError.malformedCSV(path: st.path, line: location.line,
                                                reason: "the row has \(row.count) fields, the header \(header.count)", record: location.record)
            }
            var object: [String: Any] = [:]
            for (name, bytes) in zip(header, row) {
                guard let text = String(bytes: bytes, encoding: .utf8) else {
                    throw DatasetError.invalidUTF8(path: st.path, line: location.line, record: location.record)
                }
                object[name] = text
            }
            try st.add(object, at: location)
        }
    }

    /// The first row: column names, unique and non-empty; it fixes the format under `auto`.
    private mutating func readHeader(_ state: ParseState) throws {
        func refuse(_ reason: String) -> DatasetError { .malformedFile(path: state.path, line: rowLine, reason: reason, record: nil) }
        if overlong { throw refuse("the header row is \(state.overlongReason)") }
        var names: [String] = []
        for bytes in fields {
            guard let name = String(bytes: bytes, encoding: .utf8) else { throw DatasetError.invalidUTF8(path: state.path, line: rowLine) }
            if name.isEmpty { throw refuse("the header row has an empty column name (column \(names.count + 1))") }
            if names.contains(name) { throw refuse("the header row names column `\(name)` twice") }
            names.append(name)
        }
        header = names
        if state.format == .messages || state.format == .sharegpt {
            throw refuse("CSV columns hold text, and the \(state.format.rawValue) format needs a list of turns; use JSONL or JSON for chat data")
        }
    }
}
