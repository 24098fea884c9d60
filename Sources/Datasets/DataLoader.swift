/// Where a `DataLoader` is: saved in a checkpoint, it resumes the batch stream exactly.
///
/// Resuming costs one epoch-order computation (a seeded shuffle of row indices), never a
/// replay of earlier batches.
public struct DataCursor: Codable, Equatable, Sendable {
    /// The epoch of the next row, from 0.
    public var epoch: Int
    /// The index of the next row within that epoch's order.
    public var index: Int
    /// Batches served so far (informational; equals the training step when one batch is one step).
    public var batches: Int
    /// `PreparedData.fingerprint` of the data the cursor belongs to.
    public var dataFingerprint: String

    /// A cursor.
    public init(epoch: Int = 0, index: Int = 0, batches: Int = 0, dataFingerprint: String) {
        self.epoch = epoch
        self.index = index
        self.batches = batches
        self.dataFingerprint = dataFingerprint
    }
}

/// A batch of B rows of T tokens. Every buffer is `[B, T]`, row-major, Int32.
public struct Batch: Equatable, Sendable {
    /// Rows in the batch (the last batch of a run may be short).
    public var rowCount: Int
    /// Tokens per row.
    public var seqLen: Int
    /// Input ids, `[B, T]`.
    public var tokens: [Int32]
    /// Next-token targets, -100 where untrained, `[B, T]`.
    public var targets: [Int32]
    /// 1 where the target is trained, `[B, T]`.
    public var lossMask: [Int32]
    /// Example number within its row, 0 for padding, `[B, T]`.
    public var segmentIDs: [Int32]
    /// Position within the example, `[B, T]`.
    public var positions: [Int32]
    /// The epoch the first row comes from.
    public var epoch: Int
    /// Trained targets in the batch (the loss is averaged over these).
    public var trainedTokenCount: Int { lossMask.reduce(0) { $0 + Int($1) } }

    /// Rows `range` of this batch, same epoch (a data-parallel rank's share). An empty range
    /// gives a batch of 0 rows.
    public func rows(_ range: Range<Int>) -> Batch {
        precondition(range.lowerBound >= 0 && range.upperBound <= rowCount,
                     "Batch.rows: \(range) is outside a batch of \(rowCount) rows")
        let span = (range.lowerBound * seqLen)..<(range.upperBound * seqLen)
        return Batch(rowCount: range.count, seqLen: seqLen, tokens: Array(tokens[span]), targets: Array(targets[span]),
                     lossMask: Array(lossMask[span]), segmentIDs: Array(segmentIDs[span]),
                     positions: Array(positions[span]), epoch: epoch)
    }
}

/// Which rows a loader serves.
public enum DataSplit: String, Codable, Sendable {
    /// Training rows: weighted, shuffled by (seed, epoch), repeated for `epochs`.
    case train
    /// Held-out rows: every dataset once, in order, one pass.
    case validation
}

/// Serves batches of packed rows: shuffled by (seed, epoch), datasets mixed by weight,
/// resumable from a `DataCursor`.
///
/// Epoch e's order: each dataset d contributes round(weight_d x rows_d) rows, taken from
/// fresh seeded permutations of its rows (so weight 0.5 sees a different half each epoch and
/// weight 2 every row twice); the combined list is then shuffled with a generator seeded
/// by (seed, e). Batches run across epoch boundaries, so every batch but the last is full.
public struct DataLoader: Sendable {
    /// The data.
    public let data: PreparedData
    /// Rows per batch B.
    public let batchSize: Int
    /// Epochs to serve; nil serves forever.
    public let epochs: Int?
    /// Train or validation rows.
    public let split: DataSplit
    /// Where the next batch starts.
    public private(set) var cursor: DataCursor

    private var orderEpoch: Int = -1
    private var order: [(dataset: Int32, row: Int32)] = []

    /// A loader at `cursor` (nil: the start). Throws `DatasetError.cursorMismatch` when the
    /// cursor belongs to other data or points past its epoch.
    public init(
        data: PreparedData, batchSize: Int, epochs: Int? = 1, split: DataSplit = .train, cursor: DataCursor? = nil
    ) throws {
        precondition(batchSize >= 1, "DataLoader: batchSize must be >= 1, got \(batchSize)")
        self.data = data
        self.batchSize = batchSize
        self.epochs = split == .validation ? 1 : epochs
        self.split = split
        let fp = data.fingerprint
        let c = cursor ?? DataCursor(dataFingerprint: fp)
        if c.dataFingerprint != fp {
            throw DatasetError.cursorMismatch(reason: "the cursor was saved for data \(c.dataFingerprint.prefix(12)), this data is \(fp.prefix(12))")
        }
        self.cursor = c
        computeOrder(epoch: c.epoch)
        if c.index < 0 || c.index > order.count || c.epoch < 0 {
            throw DatasetError.cursorMismatch(reason: "position (epoch \(c.epoch), index \(c.index)) is outside an epoch of \(order.count) rows")
        }
    }

    /// Rows in one epoch.
    public var rowsPerEpoch: Int { Self.epochOrder(data: data, split: split, epoch: 0).count }

    /// The next batch, or nil when the epochs are done. A final short batch is returned as is.
    public mutating func next() -> Batch? {
        let T = data.seqLen
        var batch = Batch(
            rowCount: 0, seqLen: T, tokens: [], targets: [], lossMask: [], segmentIDs: [], positions: [],
            epoch: cursor.epoch)
        while batch.rowCount < batchSize {
            if let epochs, cursor.epoch >= epochs { break }
            if orderEpoch != cursor.epoch { computeOrder(epoch: cursor.epoch) }
            if cursor.index >= order.count {
                if order.isEmpty { break }  // nothing to serve, ever
                cursor.epoch += 1
                cursor.index = 0
                continue
            }
            let (d, r) = order[cursor.index]
            let ds = data.datasets[Int(d)]
            let row = split == .train
                ? ds.trainPlan.row(Int(r), from: ds.train, padID: data.padID)
                : ds.validationPlan.row(Int(r), from: ds.validation, padID: data.padID)
            if batch.rowCount == 0 { batch.epoch = cursor.epoch }
            batch.tokens += row.tokens
            batch.targets += row.targets
            batch.lossMask += row.lossMask
            batch.segmentIDs += row.segmentIDs
            batch.positions += row.positions
            batch.rowCount += 1
            cursor.index += 1
        }
        guard batch.rowCount > 0 else { return nil }
        cursor.batches += 1
        return batch
    }

    private mutating func computeOrder(epoch: Int) {
        order = Self.epochOrder(data: data, split: split, epoch: epoch)
        orderEpoch = epoch
    }

    /// The (dataset, row) order of `epoch`.
    static func epochOrder(data: PreparedData, split: DataSplit, epoch: Int) -> [(dataset: Int32, row: Int32)] {
        var order: [(dataset: Int32, row: Int32)] = []
        for (d, ds) in data.datasets.enumerated() {
            if split == .validation {
                for r in 0..<ds.validationPlan.rows.count { order.append((Int32(d), Int32(r))) }
                continue
            }
            let n = ds.trainPlan.rows.count
            guard n > 0 else { continue }
            let want = Int((ds.spec.weight * Double(n)).rounded())
            var taken = 0
            var pass: UInt64 = 0
            while taken < want {
                var perm = Array(0..<Int32(n))
                if ds.spec.weight != 1 {
                    var rng = SplitMix64(mixing: [data.seed, 0xD47A_5E7, UInt64(epoch), UInt64(d), pass])
                    rng.shuffle(&perm)
                }
                for r in perm.prefix(want - taken) { order.append((Int32(d), r)) }
                taken += min(n, want - taken)
                pass += 1
            }
        }
        if split == .train {
            var rng = SplitMix64(mixing: [data.seed, 0xE90C_4, UInt64(epoch)])
            rng.shuffle(&order)
        }
        return order
    }
}
