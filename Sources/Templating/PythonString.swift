/// Python's `str` methods on Swift strings, by Unicode scalar.
///
/// Swift compares and splits `String`s by grapheme cluster and canonical equivalence;
/// Python works on code points. Templates index, slice, strip and split message text, so
/// every operation here works on `unicodeScalars` to give Python's results.
enum PythonString {
    /// Python's `str.isspace` for one scalar: Unicode White_Space plus U+001C...U+001F.
    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// Python's line boundaries for `splitlines` (and so for jinja's `indent`).
    static func isLineBreak(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029: return true
        default: return false
        }
    }

    static func scalars(_ s: String) -> [Unicode.Scalar] { Array(s.unicodeScalars) }

    static func string<S: Sequence>(_ scalars: S) -> String where S.Element == Unicode.Scalar {
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars)
        return String(out)
    }

    /// `s.strip(chars)`, `lstrip`, `rstrip`; `chars == nil` strips whitespace.
    static func strip(_ s: String, chars: String?, leading: Bool = true, trailing: Bool = true) -> String {
        let set: Set<Unicode.Scalar>? = chars.map { Set($0.unicodeScalars) }
        func strippable(_ c: Unicode.Scalar) -> Bool { set.map { $0.contains(c) } ?? isSpace(c) }
        let view = s.unicodeScalars
        var start = view.startIndex
        var end = view.endIndex
        if leading { while start < end, strippable(view[start]) { start = view.index(after: start) } }
        if trailing {
            while end > start {
                let before = view.index(before: end)
                guard strippable(view[before]) else { break }
                end = before
            }
        }
        return String(view[start..<end])
    }

    /// `s.split(sep, maxsplit)`: with no separator, runs of whitespace separate and empty
    /// pieces are dropped; with one, every occurrence separates.
    static func split(_ s: String, separator: String?, maxSplit: Int) -> [String] {
        let text = scalars(s)
        var parts: [String] = []
        guard let separator else {
            var i = 0
            var splits = 0
            while i < text.count {
                while i < text.count, isSpace(text[i]) { i += 1 }
                if i == text.count { break }
                if maxSplit >= 0, splits == maxSplit {
                    parts.append(string(text[i...]))
                    return parts
                }
                let start = i
                while i < text.count, !isSpace(text[i]) { i += 1 }
                parts.append(string(text[start..<i]))
                splits += 1
            }
            return parts
        }
        let sep = scalars(separator)
        var start = 0
        var i = 0
        var splits = 0
        while i + sep.count <= text.count, maxSplit < 0 || splits < maxSplit {
            if text[i..<i + sep.count].elementsEqual(sep) {
                parts.append(string(text[start..<i]))
                i += sep.count
                start = i
                splits += 1
            } else {
                i += 1
            }
        }
        parts.append(string(text[start...]))
        return parts
    }

    /// `s.rsplit(sep, maxsplit)`.
    static func rsplit(_ s: String, separator: String?, maxSplit: Int) -> [String] {
        if maxSplit < 0 { return split(s, separator: separator, maxSplit: -1) }
        let reversedParts = split(string(scalars(s).reversed()), separator: separator.map { string(scalars($0).reversed()) }, maxSplit: maxSplit)
        return reversedParts.reversed().map { string(scalars($0).reversed()) }
    }

    /// `s.splitlines(keepends)`.
    static func splitLines(_ s: String, keepEnds: Bool = false) -> [String] {
        let text = scalars(s)
        var lines: [String] = []
        var start = 0
        var i = 0
        while i < text.count {
            if isLineBreak(text[i]) {
                var end = i + 1
                if text[i] == "\r", end < text.count, text[end] == "\n" { end += 1 }
                lines.append(string(text[start..<(keepEnds ? end : i)]))
                start = end
                i = end
            } else {
                i += 1
            }
        }
        if start < text.count { lines.append(string(text[start...])) }
        return lines
    }

    /// `s.find(sub, start, end)` in scalar indices, -1 when absent.
    static func find(_ s: String, _ sub: String, start: Int? = nil, end: Int? = nil, reverse: Bool = false) -> Int {
        let text = scalars(s)
        let needle = scalars(sub)
        let (lo, hi) = sliceBounds(count: text.count, start: start, end: end)
        guard hi - lo >= needle.count else { return -1 }
        let positions = Array(lo...(hi - needle.count))
        for i in reverse ? positions.reversed() : positions where text[i..<i + needle.count].elementsEqual(needle) {
            return i
        }
        return -1
    }

    /// `s.count(sub)`: non-overlapping occurrences.
    static func count(_ s: String, _ sub: String) -> Int {
        let text = scalars(s)
        let needle = scalars(sub)
        if needle.isEmpty { return text.count + 1 }
        var n = 0
        var i = 0
        while i + needle.count <= text.count {
            if text[i..<i + needle.count].elementsEqual(needle) {
                n += 1
                i += needle.count
            } else {
                i += 1
            }
        }
        return n
    }

    /// Python's clamping of `start`/`end` arguments (negative counts from the end).
    static func sliceBounds(count: Int, start: Int?, end: Int?) -> (Int, Int) {
        func clamp(_ v: Int?, _ def: Int) -> Int {
            guard var v else { return def }
            if v < 0 { v += count }
            return min(max(v, 0), count)
        }
        return (clamp(start, 0), clamp(end, count))
    }

    /// `s.replace(old, new, count)`; an empty `old` inserts `new` around every character.
    static func replace(_ s: String, _ old: String, _ new: String, count limit: Int = -1) -> String {
        let text = scalars(s)
        let needle = scalars(old)
        var out = String.UnicodeScalarView()
        var replaced = 0
        if needle.isEmpty {
            for c in text {
                if limit < 0 || replaced < limit {
                    out.append(contentsOf: new.unicodeScalars)
                    replaced += 1
                }
                out.append(c)
            }
            if limit < 0 || replaced < limit { out.append(contentsOf: new.unicodeScalars) }
            return String(out)
        }
        var i = 0
        while i < text.count {
            if (limit < 0 || replaced < limit), i + needle.count <= text.count, text[i..<i + needle.count].elementsEqual(needle) {
                out.append(contentsOf: new.unicodeScalars)
                i += needle.count
                replaced += 1
            } else {
                out.append(text[i])
                i += 1
            }
        }
        return String(out)
    }

    static func hasPrefix(_ s: String, _ p: String) -> Bool { s.utf8.starts(with: p.utf8) }
    static func hasSuffix(_ s: String, _ p: String) -> Bool { s.utf8.reversed().starts(with: p.utf8.reversed()) }

    /// Whether a scalar is "cased" (Unicode's Cased property), as Python's title() uses it.
    static func isCased(_ c: Unicode.Scalar) -> Bool { c.properties.isCased }

    static func upper(_ c: Unicode.Scalar) -> String { c.properties.uppercaseMapping }
    static func lower(_ c: Unicode.Scalar) -> String { c.properties.lowercaseMapping }
    static func titleCase(_ c: Unicode.Scalar) -> String { c.properties.titlecaseMapping }

    /// Python's `str.title()`: a cased character after a cased one is lowered, others title-cased.
    static func title(_ s: String) -> String {
        var out = ""
        var previousCased = false
        for c in s.unicodeScalars {
            if previousCased {
                out += lower(c)
            } else {
                out += titleCase(c)
            }
            previousCased = isCased(c)
        }
        return out
    }

    /// Python's `str.capitalize()`: the first character title-cased, the rest lowered.
    static func capitalize(_ s: String) -> String {
        var out = ""
        for (i, c) in s.unicodeScalars.enumerated() { out += i == 0 ? titleCase(c) : lower(c) }
        return out
    }

    /// jinja2's `title` filter: splits before runs of `-`, whitespace and `([{<`, and writes each
    /// piece as `piece[0].upper() + piece[1:].lower()`.
    static func jinjaTitle(_ s: String) -> String {
        func isBoundary(_ c: Unicode.Scalar) -> Bool { c == "-" || c == "(" || c == "{" || c == "[" || c == "<" || isSpace(c) }
        var out = ""
        var atPieceStart = true
        var inBoundaryRun = false
        for c in s.unicodeScalars {
            if isBoundary(c) {
                out.unicodeScalars.append(c)
                inBoundaryRun = true
                atPieceStart = true
                continue
            }
            if inBoundaryRun { inBoundaryRun = false }
            if atPieceStart {
                out += upper(c)
                atPieceStart = false
            } else {
                out += lower(c)
            }
        }
        return out
    }

    /// `len(s)` in Python: the number of Unicode scalars.
    static func length(_ s: String) -> Int { s.unicodeScalars.count }
}
