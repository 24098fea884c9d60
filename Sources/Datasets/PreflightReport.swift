/// What the data pipeline did, for `instruct data inspect` and for the start of a run.
/// Encodes to JSON with snake_case keys (`trained_tokens`, `packing_efficiency`).
public struct PreflightReport: Codable, Equatable, Sendable {
    /// Records seen in the files (usable or not).
    public var records: Int = 0
    /// Records skipped under `on_bad_record: skip`.
    public var skipped: Int = 0
    /// Skipped records per reason (`malformed_json`, `missing_field`, ...).
    public var skippedByReason: [String: Int] = [:]
    /// Examples dropped after tokenization.
    public var dropped: Int = 0
    /// Dropped examples per reason (`too_long`, `no_trained_tokens`).
    public var droppedByReason: [String: Int] = [:]
    /// Examples cut to `seq_len` by the truncate policy.
    public var truncated: Int = 0
    /// Examples kept (train and validation).
    public var examples: Int = 0
    /// Examples held out for validation.
    public var validationExamples: Int = 0
    /// Tokens of the kept examples.
    public var tokens: Int = 0
    /// Trained targets of the kept examples.
    public var trainedTokens: Int = 0
    /// Rows after packing (train and validation).
    public var rows: Int = 0
    /// Non-padding tokens / (rows x seq_len), in 0...1.
    public var packingEfficiency: Double = 0
    /// Example lengths (after truncation) counted in buckets.
    public var lengthHistogram: [LengthBucket] = []

    /// One bucket of the length histogram: lengths in `lower...upper`.
    public struct LengthBucket: Codable, Equatable, Sendable {
        /// Smallest length in the bucket.
        public var lower: Int
        /// Largest length in the bucket.
        public var upper: Int
        /// Examples with a length in the bucket.
        public var count: Int
    }

    /// An empty report.
    public init() {}

    enum CodingKeys: String, CodingKey {
        case records, skipped, skippedByReason = "skipped_by_reason", dropped, droppedByReason = "dropped_by_reason"
        case truncated, examples, validationExamples = "validation_examples", tokens
        case trainedTokens = "trained_tokens", rows, packingEfficiency = "packing_efficiency"
        case lengthHistogram = "length_histogram"
    }

    /// A histogram of `lengths` in `bucketCount` equal buckets over 1...seqLen.
    static func histogram(_ lengths: [Int], seqLen: Int, bucketCount: Int = 8) -> [LengthBucket] {
        let width = max(1, (seqLen + bucketCount - 1) / bucketCount)
        var buckets: [LengthBucket] = []
        var lower = 1
        while lower <= seqLen {
            let upper = min(seqLen, lower + width - 1)
            buckets.append(LengthBucket(lower: lower, upper: upper, count: 0))
            lower = upper + 1
        }
        for n in lengths where n >= 1 && n <= seqLen {
            buckets[(n - 1) / width].count += 1
        }
        return buckets
    }

    /// Adds the counts of `other` (efficiency and histogram are recomputed by the caller).
    mutating func add(_ other: PreflightReport) {
        records += other.records
        skipped += other.skipped
        skippedByReason.merge(other.skippedByReason, uniquingKeysWith: +)
        dropped += other.dropped
        droppedByReason.merge(other.droppedByReason, uniquingKeysWith: +)
        truncated += other.truncated
        examples += other.examples
        validationExamples += other.validationExamples
        tokens += other.tokens
        trainedTokens += other.trainedTokens
        rows += other.rows
    }
}
