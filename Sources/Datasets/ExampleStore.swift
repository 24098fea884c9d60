/// Tokenized examples stored flat: all tokens end to end, one mask byte per token, and
/// offsets. Compact in memory and written as is to the cache file.
public struct ExampleStore: Equatable, Sendable {
    /// All tokens, `[total]`.
    public private(set) var tokens: [Int32] = []
    /// 1 where the token is a training target, `[total]`.
    public private(set) var trained: [UInt8] = []
    /// Example `i` is `tokens[offsets[i]..<offsets[i + 1]]`, `[count + 1]`.
    public private(set) var offsets: [Int] = [0]

    /// An empty store.
    public init() {}

    init(tokens: [Int32], trained: [UInt8], offsets: [Int]) {
        self.tokens = tokens
        self.trained = trained
        self.offsets = offsets
    }

    /// The number of examples.
    public var count: Int { offsets.count - 1 }

    /// Appends an example.
    public mutating func append(_ example: TokenizedExample) {
        tokens += example.tokens
        trained += example.trained.map { $0 ? 1 : 0 }
        offsets.append(tokens.count)
    }

    /// The length in tokens of example `i`.
    public func length(_ i: Int) -> Int { offsets[i + 1] - offsets[i] }

    /// Example `i`.
    public subscript(i: Int) -> TokenizedExample {
        let r = offsets[i]..<offsets[i + 1]
        return TokenizedExample(tokens: Array(tokens[r]), trained: trained[r].map { $0 != 0 })
    }
}
