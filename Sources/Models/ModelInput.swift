/// One forward pass's input: B rows of T tokens, token-major (`b * T + t`), with per-token
/// positions (restarting at 0 in each packed example) and segment ids (one per example;
/// attention never crosses them), and for a loss the next-token targets.
///
/// This is the data contract between the data pipeline and the model (docs/datasets.md):
/// `Training` and `Evaluation` build it from a packed `Datasets.Batch`, inference from
/// prompts.
public struct ModelInput: Sendable {
    /// Token ids, [B*T].
    public var tokens: [Int32]
    /// Position of each token in its example, [B*T].
    public var positions: [Int32]
    /// Example id of each token, [B*T]; attention stays within equal ids.
    public var segmentIDs: [Int32]
    /// B: rows.
    public var batch: Int
    /// T: tokens per row.
    public var time: Int
    /// Next-token targets, [B*T], or empty when only logits are wanted.
    public var targets: [Int32]
    /// The target value that is not counted (prompt tokens, padding).
    public var ignoreIndex: Int32

    /// An input for logits only (no targets).
    public init(tokens: [Int32], positions: [Int32], segmentIDs: [Int32], batch: Int, time: Int) {
        self.init(tokens: tokens, positions: positions, segmentIDs: segmentIDs, batch: batch, time: time, targets: [], ignoreIndex: 0)
    }

    /// An input for a loss: `targets` equal to `ignoreIndex` are not counted.
    public init(tokens: [Int32], positions: [Int32], segmentIDs: [Int32], batch: Int, time: Int, targets: [Int32],
                ignoreIndex: Int32) {
        precondition(tokens.count == batch * time && positions.count == tokens.count && segmentIDs.count == tokens.count,
                     "ModelInput: need B*T = \(batch * time) tokens, positions and segment ids; got \(tokens.count), \(positions.count), \(segmentIDs.count)")
        precondition(targets.isEmpty || targets.count == tokens.count,
                     "ModelInput: need B*T = \(batch * time) targets, got \(targets.count)")
        self.tokens = tokens
        self.positions = positions
        self.segmentIDs = segmentIDs
        self.batch = batch
        self.time = time
        self.targets = targets
        self.ignoreIndex = ignoreIndex
    }

    /// One row of `tokens` at positions 0..<n in one segment (a prompt, a plain sequence).
    public init(sequence tokens: [Int32]) {
        self.init(tokens: tokens, positions: tokens.indices.map { Int32($0) },
                  segmentIDs: [Int32](repeating: 0, count: tokens.count), batch: 1, time: tokens.count)
    }
}
