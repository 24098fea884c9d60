/// How examples are laid into rows of `seq_len` tokens.
public enum PackingMode: String, Codable, Sendable, CaseIterable {
    /// Several whole examples per row, best-fit decreasing; far less padding.
    case pack
    /// One example per row, the rest padding; simplest, and what unpacked training sees.
    case pad
}

/// One row of `seq_len` (T) tokens, ready for the model. All buffers are `[T]` Int32.
///
/// Layout of a packed row, T = 12, holding example A (5 tokens, its last two trained)
/// and example B (4 tokens, its last two trained), then 3 padding tokens:
///
/// ```
/// t             0   1   2   3   4 | 5   6   7   8 | 9  10  11
/// tokens        a0  a1  a2  a3  a4| b0  b1  b2  b3| P   P   P      P = pad id
/// trained       .   .   .   y   y | .   .   y   y | .   .   .      (a3, a4, b2, b3 are response/EOS)
/// targets       -   -   a3  a4  - | -   b2  b3  - | -   -   -      - = -100 (ignoreIndex)
/// loss_mask     0   0   1   1   0 | 0   1   1   0 | 0   0   0
/// segment_ids   1   1   1   1   1 | 2   2   2   2 | 0   0   0      0 = padding
/// positions     0   1   2   3   4 | 0   1   2   3 | 0   0   0      restart in every example
///
/// block-causal attention: query i sees key j iff segment_ids[i] == segment_ids[j] and j <= i
///
///        a0 a1 a2 a3 a4 b0 b1 b2 b3
///   a0   x
///   a1   x  x
///   a2   x  x  x
///   a3   x  x  x  x
///   a4   x  x  x  x  x
///   b0                  x
///   b1                  x  x
///   b2                  x  x  x
///   b3                  x  x  x  x
/// ```
///
/// `targets[t] = tokens[t + 1]` when token t + 1 is trained and in the same example, else
/// -100: targets never cross into the next example, and an example's last token has none.
/// `loss_mask[t]` is 1 exactly where `targets[t] != -100`.
public struct PackedRow: Equatable, Sendable {
    /// The ignore value in `targets`.
    public static let ignoreIndex: Int32 = -100

    /// Input token ids, `[T]`.
    public var tokens: [Int32]
    /// Next-token targets or -100, `[T]`.
    public var targets: [Int32]
    /// 1 where the target is trained, `[T]`.
    public var lossMask: [Int32]
    /// 1, 2, ... per example in the row; 0 for padding, `[T]`.
    public var segmentIDs: [Int32]
    /// Position within the example, restarting at 0; 0 for padding, `[T]`.
    public var positions: [Int32]

    /// The number of non-padding tokens.
    public var usedTokens: Int { segmentIDs.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } }
}

/// Which examples go in which row: `rows[r]` lists example indices in row order.
public struct PackingPlan: Equatable, Sendable {
    /// The row length T.
    public var seqLen: Int
    /// Example indices per row.
    public var rows: [[Int32]]

    /// Plans rows for examples of the given `lengths` (each at most `seqLen`).
    ///
    /// `.pack`: best-fit decreasing. Examples sorted longest first (ties by index) each go to
    /// the open row with the least room that still fits, else to a new row. Deterministic;
    /// O(n·T) through buckets of rows by free room.
    /// `.pad`: one example per row, in index order.
    public static func make(lengths: [Int], seqLen: Int, mode: PackingMode) -> PackingPlan {
        precondition(lengths.allSatisfy { $0 >= 1 && $0 <= seqLen }, "PackingPlan: example lengths must be in 1...\(seqLen)")
        switch mode {
        case .pad:
            return PackingPlan(seqLen: seqLen, rows: lengths.indices.map { [Int32($0)] })
        case .pack:
            let order = lengths.indices.sorted { lengths[$0] != lengths[$1] ? lengths[$0] > lengths[$1] : $0 < $1 }
            var rows: [[Int32]] = []
            var free: [Int] = []
            // byFree[k]: rows with exactly k free tokens (a stack, so the choice is deterministic).
            var byFree = Array(repeating: [Int](), count: seqLen + 1)
            for i in order {
                let n = lengths[i]
                var chosen: Int? = nil
                var k = n
                while k <= seqLen {
                    if let r = byFree[k].popLast() { chosen = r; break }
                    k += 1
                }
                let r: Int
                if let c = chosen {
                    r = c
                } else {
                    r = rows.count
                    rows.append([])
                    free.append(seqLen)
                }
                rows[r].append(Int32(i))
                free[r] -= n
                if free[r] > 0 { byFree[free[r]].append(r) }
            }
            return PackingPlan(seqLen: seqLen, rows: rows)
        }
    }

    /// Builds row `r` from `store`, padding with `padID`.
    public func row(_ r: Int, from store: ExampleStore, padID: Int32) -> PackedRow {
        let T = seqLen
        var row = PackedRow(
            tokens: Array(repeating: padID, count: T), targets: Array(repeating: PackedRow.ignoreIndex, count: T),
            lossMask: Array(repeating: 0, count: T), segmentIDs: Array(repeating: 0, count: T),
            positions: Array(repeating: 0, count: T))
        var t = 0
        for (s, e) in rows[r].enumerated() {
            store.withExample(Int(e)) { tokens, trained in
                let n = tokens.count
                for j in 0..<n {
                    row.tokens[t + j] = tokens[j]
                    row.segmentIDs[t + j] = Int32(s + 1)
                    row.positions[t + j] = Int32(j)
                    if j + 1 < n && trained[j + 1] != 0 {
                        row.targets[t + j] = tokens[j + 1]
                        row.lossMask[t + j] = 1
                    }
                }
                t += n
            }
        }
        return row
    }

    /// Non-padding tokens over all row slots, in 0...1.
    public func efficiency(store: ExampleStore) -> Double {
        guard !rows.isEmpty else { return 0 }
        let used = rows.reduce(0) { acc, r in acc + r.reduce(0) { $0 + store.length(Int($1)) } }
        return Double(used) / Double(rows.count * seqLen)
    }
}
