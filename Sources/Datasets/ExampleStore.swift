/// Tokenized examples: for each, its tokens and one mask byte per token (1 where the token is
/// a training target).
///
/// Two storages behind one interface: arrays in memory (built with `append`, for tests and
/// small jobs), or a data-cache file mapped into memory (`DataCache`), of which the store
/// lists the examples it holds. A mapped store costs memory only for the pages the loader
/// touches, so a dataset larger than memory trains from its cache file.
public struct ExampleStore: Sendable {
    private enum Storage: Sendable {
        case memory(tokens: [Int32], trained: [UInt8], offsets: [Int])
        case mapped(ExampleFile, members: [UInt32])
    }
    private var storage: Storage

    /// An empty store in memory.
    public init() { storage = .memory(tokens: [], trained: [], offsets: [0]) }

    /// Examples `members` (example numbers, in this order) of a mapped cache file.
    init(file: ExampleFile, members: [UInt32]) { storage = .mapped(file, members: members) }

    /// The number of examples.
    public var count: Int {
        switch storage {
        case let .memory(_, _, offsets): return offsets.count - 1
        case let .mapped(_, members): return members.count
        }
    }

    /// Total tokens over all examples.
    public var tokenCount: Int { (0..<count).reduce(0) { $0 + length($1) } }

    /// Appends an example (a mapped store is first copied into memory).
    public mutating func append(_ example: TokenizedExample) {
        if case .mapped = storage {
            var copy = ExampleStore()
            for i in 0..<count { copy.append(self[i]) }
            self = copy
        }
        guard case .memory(var tokens, var trained, var offsets) = storage else { return }
        storage = .memory(tokens: [], trained: [], offsets: [])  // drop the references so the appends do not copy
        tokens += example.tokens
        trained += example.trained.map { $0 ? 1 : 0 }
        offsets.append(tokens.count)
        storage = .memory(tokens: tokens, trained: trained, offsets: offsets)
    }

    /// The length in tokens of example `i`.
    public func length(_ i: Int) -> Int {
        switch storage {
        case let .memory(_, _, offsets): return offsets[i + 1] - offsets[i]
        case let .mapped(file, members): return file.length(Int(members[i]))
        }
    }

    /// Calls `body` with example `i`'s tokens `[n]` and mask bytes `[n]` in place (no copy).
    public func withExample<R>(_ i: Int, _ body: (UnsafeBufferPointer<Int32>, UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        switch storage {
        case let .memory(tokens, trained, offsets):
            let r = offsets[i]..<offsets[i + 1]
            return try tokens.withUnsafeBufferPointer { t in
                try trained.withUnsafeBufferPointer { m in
                    try body(UnsafeBufferPointer(rebasing: t[r]), UnsafeBufferPointer(rebasing: m[r]))
                }
            }
        case let .mapped(file, members):
            return try file.withExample(Int(members[i]), body)
        }
    }

    /// Example `i`, copied out.
    public subscript(i: Int) -> TokenizedExample {
        withExample(i) { t, m in TokenizedExample(tokens: Array(t), trained: m.map { $0 != 0 }) }
    }
}

extension ExampleStore: Equatable {
    /// Stores are equal when they hold the same examples, whatever their storage.
    public static func == (a: ExampleStore, b: ExampleStore) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count {
            let same = a.withExample(i) { at, am in
                b.withExample(i) { bt, bm in at.elementsEqual(bt) && am.elementsEqual(bm) }
            }
            if !same { return false }
        }
        return true
    }
}
