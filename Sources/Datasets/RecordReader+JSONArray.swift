import Foundation

/// A JSON array of records, read element by element: a small scanner finds where each
/// top-level element starts and ends (skipping strings, tracking nesting), and each element
/// is parsed on its own. A bad element is record N of the file, on the line where it starts;
/// the array's own punctuation (a missing comma, no closing `]`, text after it) is a
/// file-level error naming the record and line where it goes wrong.
struct JSONArrayScanner: RecordScanner {
    private enum Phase {
        /// Before the opening `[`.
        case open
        /// After `[`: an element or `]`.
        case first
        /// After a comma: an element.
        case next
        /// Inside an element.
        case element
        /// After an element: a comma or `]`.
        case after
        /// After the closing `]`: only whitespace.
        case closed
    }
    private enum ElementKind {
        /// An object or array: ends when its brackets balance.
        case container
        /// A string: ends at its closing quote.
        case string
        /// A number or literal: ends before whitespace, a comma or `]`.
        case bare
    }

    private var phase = Phase.open
    private var kind = ElementKind.container
    private var depth = 0
    private var inString = false
    private var escaped = false
    private var line = 1
    private var element: [UInt8] = []
    private var overlong = false
    private var records = 0
    private var startLine = 1

    mutating func feed(_ chunk: ArraySlice<UInt8>, into state: inout ParseState) throws {
        var i = chunk.startIndex
        // Where the current element's bytes start in this chunk (they are copied at its end).
        var elementStart = phase == .element ? chunk.startIndex : -1
        while i < chunk.endIndex {
            let b = chunk[i]
            switch phase {
            case .element:
                var ends = false
                var consumed = true
                switch kind {
                case .container:
                    if inString {
                        if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                    } else if b == UInt8(ascii: "\"") {
                        inString = true
                    } else if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") {
                        depth += 1
                    } else if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
                        depth -= 1
                        ends = depth == 0
                    }
                case .string:
                    if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { ends = true }
                case .bare:
                    if RecordReader.isSpace(b) || b == UInt8(ascii: ",") || b == UInt8(ascii: "]") {
                        ends = true
                        consumed = false
                    }
                }
                if ends {
                    let end = consumed ? i + 1 : i
                    collect(chunk[elementStart..<end], limit: state.maxRecordBytes)
                    try endElement(into: &state)
                    phase = .after
                    if !consumed { continue }
                }
            case .open:
                if b == UInt8(ascii: "[") { phase = .first } else if !RecordReader.isSpace(b) {
                    throw structural(state, "expected `[` to open the array")
                }
            case .first, .next:
                if RecordReader.isSpace(b) { break }
                if b == UInt8(ascii: "]") {
                    if phase == .next { throw structural(state, "a comma before `]` (JSON allows no trailing comma)") }
                    phase = .closed
                    break
                }
                if b == UInt8(ascii: ",") { throw structural(state, "a comma where a record should start") }
                records += 1
                startLine = line
                phase = .element
                elementStart = i
                depth = 0
                inString = false
                escaped = false
                switch b {
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    kind = .container
                    depth = 1
                case UInt8(ascii: "\""):
                    kind = .string
                default:
                    kind = .bare
                }
            case .after:
                if RecordReader.isSpace(b) { break }
                if b == UInt8(ascii: ",") {
                    phase = .next
                } else if b == UInt8(ascii: "]") {
                    phase = .closed
                } else {
                    throw structural(state, "expected `,` or `]` after record \(records)")
                }
            case .closed:
                if !RecordReader.isSpace(b) { throw structural(state, "text after the closing `]`") }
            }
            if b == 0x0A { line += 1 }
            i += 1
        }
        if phase == .element { collect(chunk[elementStart..<chunk.endIndex], limit: state.maxRecordBytes) }
    }

    mutating func finish(into state: inout ParseState) throws {
        switch phase {
        case .closed:
            return
        case .element where kind == .bare:
            try endElement(into: &state)
            throw structural(state, "the file ends before the closing `]`")
        default:
            throw structural(state, phase == .element ? "the file ends inside record \(records)" : "the file ends before the closing `]`")
        }
    }

    private mutating func collect(_ bytes: ArraySlice<UInt8>, limit: Int) {
        guard !overlong else { return }
        if element.count + bytes.count > limit {
            overlong = true
            element = []
        } else {
            element += bytes
        }
    }

    private mutating func endElement(into state: inout ParseState) throws {
        let location = RecordLocation(line: startLine, record: records)
        defer {
            element.removeAll(keepingCapacity: element.count <= FileChunks.chunkSize)
            overlong = false
        }
        if overlong {
            try state.attempt { st in
                throw DatasetError.malformedJSON(path: st.path, line: location.line,
                                                 reason: "the record is \(st.overlongReason)",
                                                 record: location.record)
            }
            return
        }
        let bytes = element[...]
        try state.attempt { st in try st.addJSON(bytes, at: location) }
    }

    /// A file-level error: the array itself is not well formed here.
    private func structural(_ state: ParseState, _ reason: String) -> DatasetError {
        .malformedFile(path: state.path, line: line, reason: "the JSON array is malformed: \(reason)",
                       record: records == 0 ? nil : records)
    }
}
