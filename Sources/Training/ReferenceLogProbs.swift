import Autograd
import Datasets
import Foundation
import Models
import NN

/// The reference model's log-probabilities of every pair of a preference run, computed once
/// from the starting weights before the first step (with LoRA: the base, adapters off) and
/// looked up by each row's content, so a step costs one policy forward and backward per pair.
///
/// Keyed by a hash of the row (its tokens, targets and segment ids: the pair as rendered), so
/// a lookup does not depend on where the loader's shuffle put the row. The whole table carries
/// the data fingerprint and the starting weights' identity it was computed for; it is stored
/// in the data cache (`DataCache` rules: the key is a SHA-256 of both) and in every checkpoint
/// (`reference_logps.json`), so a resumed run uses the very values the run started with.
public struct ReferenceLogProbs: Codable, Sendable, Equatable {
    /// The file name in a checkpoint.
    public static let fileName = "reference_logps.json"
    /// Format version of the file.
    public var version = 1
    /// `PreparedData.fingerprint` of the rows.
    public var dataFingerprint: String
    /// `ReferenceLogProbs.weightsIdentity` of the starting weights.
    public var weightsIdentity: String
    /// Row hash (16 hex digits) -> the pair's reference sums.
    public var pairs: [String: ReferencePair]

    /// A table.
    public init(dataFingerprint: String, weightsIdentity: String, pairs: [String: ReferencePair]) {
        self.dataFingerprint = dataFingerprint
        self.weightsIdentity = weightsIdentity
        self.pairs = pairs
    }

    /// The key of a row of `seqLen` tokens starting at `offset` in a batch's buffers.
    static func key(tokens: ArraySlice<Int32>, targets: ArraySlice<Int32>, segments: ArraySlice<Int32>) -> String {
        var h = FNV1a()
        for t in tokens { h.combine(UInt64(UInt32(bitPattern: t))) }
        for t in targets { h.combine(UInt64(UInt32(bitPattern: t))) }
        for s in segments { h.combine(UInt64(UInt32(bitPattern: s))) }
        let hex = String(h.value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The keys of every row of an input of B rows of T tokens, in row order.
    static func keys(_ x: ModelInput) -> [String] {
        (0..<x.batch).map { r in
            let span = (r * x.time)..<((r + 1) * x.time)
            return key(tokens: x.tokens[span], targets: x.targets[span], segments: x.segmentIDs[span])
        }
    }

    /// The reference pairs of `batch`'s rows; throws naming the first row that has none
    /// (the table belongs to other data).
    public func lookup(_ input: ModelInput) throws -> [ReferencePair] {
        try Self.keys(input).map { k in
            guard let p = pairs[k] else {
                throw TrainingError.resumeMismatch(["the reference log-probabilities have no entry for a row of this data (row hash \(k)); "
                    + "they were computed for data \(dataFingerprint.prefix(12))"])
            }
            return p
        }
    }

    /// An identity of the starting weights: FNV-1a over every tensor's name, shape and bits, in
    /// name order, as 16 hex digits. With LoRA pass the base only (the adapters start at zero).
    public static func weightsIdentity(_ p: Parameters, excluding: Set<String> = []) -> String {
        var h = FNV1a()
        for name in p.names.sorted() where !excluding.contains(name) {
            for b in name.utf8 { h.combine(UInt64(b)) }
            let t = p[name]
            for d in t.shape { h.combine(UInt64(d)) }
            t.withUnsafeBufferPointer { for x in $0 { h.combine(UInt64(x.bitPattern)) } }
        }
        let hex = String(h.value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Computes the table over every train and validation row of `data` with `model` (pass
    /// `model.withoutAdapters` for LoRA: the base alone) and untracked `parameters`, in
    /// batches of `batchSize` rows. Records no graph. Deterministic: the same weights and data
    /// give the same bits on any thread count.
    public static func compute(model: DecoderModel, parameters: Parameters, data: PreparedData, batchSize: Int,
                               progress: (Int, Int) -> Void = { _, _ in }) throws -> ReferenceLogProbs {
        precondition(batchSize >= 1, "ReferenceLogProbs.compute: batchSize must be >= 1")
        var pairs: [String: ReferencePair] = [:]
        let total = data.rowCount(.train) + data.rowCount(.validation)
        var done = 0
        // Rows in stored order (the loader's shuffle does not matter to a table keyed by content).
        for split in [DataSplit.train, .validation] {
            let n = data.rowCount(split)
            for start in stride(from: 0, to: n, by: batchSize) {
                let rows = (start..<min(start + batchSize, n)).compactMap { data.row($0, split: split) }
                let input = ModelInput(tokens: rows.flatMap(\.tokens), positions: rows.flatMap(\.positions),
                                       segmentIDs: rows.flatMap(\.segmentIDs), batch: rows.count, time: data.seqLen,
                                       targets: rows.flatMap(\.targets), ignoreIndex: PackedRow.ignoreIndex)
                let lp = model.segmentLogProbs(input, segmentsPerRow: 2, parameters: parameters)
                let sums = lp.sums.scalars
                for (r, k) in keys(input).enumerated() {
                    pairs[k] = ReferencePair(chosen: Double(sums[2 * r]), rejected: Double(sums[2 * r + 1]),
                                             chosenTokens: lp.counts[2 * r], rejectedTokens: lp.counts[2 * r + 1])
                }
                done += rows.count
                progress(done, total)
            }
        }
        return ReferenceLogProbs(dataFingerprint: data.fingerprint, weightsIdentity: weightsIdentity(parameters), pairs: pairs)
    }
}

/// A preference run's settings and reference table, handed to a `Trainer`
/// (`Trainer.preference`): its steps then optimise the preference loss over pair rows.
public struct PreferenceRun: Sendable {
    /// Loss, beta, label smoothing.
    public var options: PreferenceOptions
    /// The reference log-probabilities of every row.
    public var reference: ReferenceLogProbs

    /// A run.
    public init(options: PreferenceOptions, reference: ReferenceLogProbs) {
        self.options = options
        self.reference = reference
    }
}
