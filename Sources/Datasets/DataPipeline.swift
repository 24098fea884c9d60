import Foundation
import Tokenizers

/// One dataset after reading, tokenizing, the length policy, the validation split and packing.
public struct PreparedDataset: Sendable {
    /// The spec it was built from.
    public var spec: DatasetSpec
    /// Training examples.
    public var train: ExampleStore
    /// Rows of the training examples.
    public var trainPlan: PackingPlan
    /// Held-out examples.
    public var validation: ExampleStore
    /// Rows of the held-out examples.
    public var validationPlan: PackingPlan
    /// This dataset's counts.
    public var report: PreflightReport
    /// SHA-256 of everything the rows depend on (data bytes, tokenizer, template, options).
    public var fingerprint: [UInt8]
    /// Whether the rows came from the cache file rather than from the data file.
    public var cacheHit: Bool
}

/// All datasets of a `DataConfig`, ready for `DataLoader`.
public struct PreparedData: Sendable {
    /// Datasets in recipe order.
    public var datasets: [PreparedDataset]
    /// Counts over all datasets.
    public var report: PreflightReport
    /// Row length T.
    public var seqLen: Int
    /// Token id used for padding (the tokenizer's EOS, else 0); padding is never a target.
    public var padID: Int32
    /// The seed for splits and shuffles.
    public var seed: UInt64

    /// Hex SHA-256 over the datasets' fingerprints and weights; a loader cursor records it.
    public var fingerprint: String {
        var bytes: [UInt8] = []
        for d in datasets { bytes += d.fingerprint + Array("\(d.spec.weight)".utf8) }
        return DataFingerprint.hex(DataFingerprint.sha256(bytes))
    }
}

/// Turns a `DataConfig` and a tokenizer into packed rows, through the cache when enabled.
public enum DataPipeline {
    /// Prepares every dataset of `config`. Reads the cache under `config.cacheDirectory` when
    /// its fingerprint matches, else builds from the files and writes the cache.
    /// Throws `DatasetError`: bad files, bad records (unless skipped), nothing left to train on.
    public static func prepare(_ config: DataConfig, tokenizer: any TextTokenizer) throws -> PreparedData {
        try config.validate()
        var prepared: [PreparedDataset] = []
        var report = PreflightReport()
        var histogram: [PreflightReport.LengthBucket] = []
        var used = 0
        for spec in config.datasets {
            let d = try prepareOne(spec, config: config, tokenizer: tokenizer)
            report.add(d.report)
            if histogram.isEmpty { histogram = d.report.lengthHistogram } else {
                for i in histogram.indices { histogram[i].count += d.report.lengthHistogram[i].count }
            }
            used += d.trainPlan.rows.reduce(0) { a, r in a + r.reduce(0) { $0 + d.train.length(Int($1)) } }
            used += d.validationPlan.rows.reduce(0) { a, r in a + r.reduce(0) { $0 + d.validation.length(Int($1)) } }
            prepared.append(d)
        }
        report.lengthHistogram = histogram
        report.packingEfficiency = report.rows == 0 ? 0 : Double(used) / Double(report.rows * config.seqLen)
        return PreparedData(
            datasets: prepared, report: report, seqLen: config.seqLen,
            padID: tokenizer.eosTokenID ?? 0, seed: config.seed)
    }

    /// One dataset: its cache file when the fingerprint matches, else built from the file.
    /// The file is hashed, then read, a chunk at a time; the tokens go straight into a cache
    /// file (under `config.cacheDirectory`, or a temporary one that is deleted once mapped
    /// when the cache is off), which training then reads through a memory mapping. So a data
    /// file larger than memory prepares and trains; memory holds some bytes per example.
    static func prepareOne(_ spec: DatasetSpec, config: DataConfig, tokenizer: any TextTokenizer) throws -> PreparedDataset {
        let digest = try FileChunks.digest(path: spec.path)
        let fingerprint = DataFingerprint.make(dataDigest: digest.sha256, dataSize: digest.bytes, spec: spec, config: config,
                                               tokenizer: tokenizer)
        let name = DataFingerprint.hex(fingerprint) + ".ikds"
        let cacheFile = config.cacheDirectory.map { ($0 as NSString).appendingPathComponent(name) }
        if let cacheFile, FileManager.default.fileExists(atPath: cacheFile),
           let cached = try? DataCache.read(path: cacheFile, fingerprint: fingerprint, seqLen: config.seqLen) {
            return PreparedDataset(
                spec: spec, train: cached.train, trainPlan: cached.trainPlan, validation: cached.validation,
                validationPlan: cached.validationPlan, report: cached.report, fingerprint: fingerprint, cacheHit: true)
        }
        let directory = config.cacheDirectory ?? NSTemporaryDirectory()
        let temporary = (directory as NSString).appendingPathComponent(
            name + ".tmp-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))")
        let writer = try DataCacheWriter(path: temporary, fingerprint: fingerprint, seqLen: config.seqLen)
        do {
            let report = try config.preference.map {
                try buildPreference(spec, dataDigest: digest.sha256, config: config, options: $0, tokenizer: tokenizer, into: writer)
            } ?? build(spec, dataDigest: digest.sha256, config: config, tokenizer: tokenizer, into: writer)
            // Mapped before it is renamed (or deleted): the mapping keeps the file's contents.
            let built = try DataCache.read(path: temporary, fingerprint: fingerprint, seqLen: config.seqLen)
            if let cacheFile {
                if rename(temporary, cacheFile) != 0 {
                    throw DatasetError.cacheWriteFailed(path: cacheFile, reason: String(cString: strerror(errno)))
                }
            } else {
                unlink(temporary)
            }
            return PreparedDataset(
                spec: spec, train: built.train, trainPlan: built.trainPlan, validation: built.validation,
                validationPlan: built.validationPlan, report: report, fingerprint: fingerprint, cacheHit: false)
        } catch {
            writer.discard()
            throw error
        }
    }

    /// What the length policy does with one example.
    enum LengthOutcome: Equatable {
        case kept(TokenizedExample)
        case truncated(TokenizedExample)
        /// Dropped, with the report's reason key (`too_long`, `no_trained_tokens`).
        case dropped(String)
    }

    /// Applies the length policy, then drops an example left with no trained target.
    static func fit(_ example: TokenizedExample, seqLen: Int, policy: LengthPolicy, bos: Int32?) -> LengthOutcome {
        var e = example
        var cut = false
        if e.tokens.count > seqLen {
            if policy == .drop { return .dropped("too_long") }
            e = e.truncatedFromLeft(to: seqLen, bos: bos)
            cut = true
        }
        if e.trainedTargetCount == 0 { return .dropped("no_trained_tokens") }
        return cut ? .truncated(e) : .kept(e)
    }

    /// Reads, encodes and applies the length policy to one dataset record by record, writing
    /// each kept example to `writer`; then splits (a seeded permutation of the kept examples,
    /// keyed by the file's SHA-256), packs, and writes the tables. Returns the report.
    static func build(_ spec: DatasetSpec, dataDigest: [UInt8], config: DataConfig, tokenizer: any TextTokenizer,
                      into writer: DataCacheWriter) throws -> PreflightReport {
        var report = PreflightReport()
        var encoder: ExampleEncoder? = nil
        var lengths: [Int32] = []
        let counts = try RecordReader.stream(path: spec.path, format: spec.format, columns: spec.columns,
                                             onBadRecord: config.onBadRecord) { record, format in
            if encoder == nil {
                encoder = try ExampleEncoder(
                    tokenizer: tokenizer, template: spec.template ?? config.defaultTemplate ?? format.defaultTemplate,
                    systemPrompt: spec.systemPrompt, trainOnInput: config.trainOnInput, scope: config.chatScope)
            }
            // Set just above for the first record.
            let enc = encoder!
            let example: TokenizedExample
            do {
                example = try enc.encode(record.content)
            } catch {
                let failure = DatasetError.templateFailed(path: record.path, line: record.line, template: enc.template.name,
                                                          reason: "\(error)", record: record.record)
                guard config.onBadRecord == .skip else { throw failure }
                report.skippedByReason[failure.reasonKey, default: 0] += 1
                report.skipped += 1
                return
            }
            let kept: TokenizedExample
            switch fit(example, seqLen: config.seqLen, policy: config.lengthPolicy, bos: tokenizer.bosTokenID) {
            case let .kept(e): kept = e
            case let .truncated(e):
                kept = e
                report.truncated += 1
            case let .dropped(reason):
                report.droppedByReason[reason, default: 0] += 1
                return
            }
            try writer.append(kept)
            lengths.append(Int32(kept.tokens.count))
            report.tokens += kept.tokens.count
            report.trainedTokens += kept.trainedTargetCount
        }
        try finishCounts(&report, counts, examples: lengths.count, what: "records", path: spec.path)
        let held = heldOut(count: lengths.count, fraction: spec.validationFraction, seed: config.seed, dataDigest: dataDigest)
        var train: [UInt32] = [], validation: [UInt32] = []
        for i in lengths.indices {
            if held[i] { validation.append(UInt32(i)) } else { train.append(UInt32(i)) }
        }
        report.examples = lengths.count
        report.validationExamples = validation.count
        let trainPlan = PackingPlan.make(lengths: train.map { Int(lengths[Int($0)]) }, seqLen: config.seqLen, mode: config.packing)
        let validationPlan = PackingPlan.make(lengths: validation.map { Int(lengths[Int($0)]) }, seqLen: config.seqLen,
                                              mode: config.packing)
        report.rows = trainPlan.rows.count + validationPlan.rows.count
        report.packingEfficiency = Double(report.tokens) / Double(max(1, report.rows * config.seqLen))
        report.lengthHistogram = PreflightReport.histogram(lengths.map { Int($0) }, seqLen: config.seqLen)
        try writer.finish(report: report, splits: [(train, trainPlan), (validation, validationPlan)])
        return report
    }
}

extension DataPipeline {
    /// Adds the reader's counts to `report` and totals the dropped examples; no example left
    /// is an error naming the file and every count (`what` names the records: "records",
    /// "preference records").
    static func finishCounts(_ report: inout PreflightReport, _ counts: RecordCounts, examples: Int, what: String,
                             path: String) throws {
        report.records = counts.recordsRead
        for (reason, n) in counts.skipped { report.skippedByReason[reason, default: 0] += n }
        report.skipped += counts.skipped.values.reduce(0, +)
        report.dropped = report.droppedByReason.values.reduce(0, +)
        if examples == 0 {
            throw DatasetError.noExamples(
                path: path,
                reason: "\(report.records) \(what) read, \(report.skipped) skipped, \(report.dropped) dropped"
                    + report.droppedByReason.sorted { $0.key < $1.key }.map { " \($0.key): \($0.value)" }.joined(separator: ","))
        }
    }

    /// The validation split: which of `count` examples are held out. A seeded permutation
    /// (the recipe's seed and the file's SHA-256) whose first `fraction` of the examples are.
    static func heldOut(count: Int, fraction: Double, seed: UInt64, dataDigest: [UInt8]) -> [Bool] {
        var order = Array(0..<count)
        let hashWord = dataDigest[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        var rng = SplitMix64(mixing: [seed, 0x5EED_5B17, hashWord])
        rng.shuffle(&order)
        let k = Int((Double(count) * fraction).rounded())
        var held = [Bool](repeating: false, count: count)
        for i in order.prefix(k) { held[i] = true }
        return held
    }
}

extension PreparedData {
    /// Rows of `split` over all datasets (before weighting).
    public func rowCount(_ split: DataSplit) -> Int {
        datasets.reduce(0) { $0 + (split == .train ? $1.trainPlan.rows.count : $1.validationPlan.rows.count) }
    }

    /// Row `index` of `split`, counting through the datasets in recipe order (before
    /// shuffling and weighting), or nil when out of range. For `instruct data inspect`.
    public func row(_ index: Int, split: DataSplit = .train) -> PackedRow? {
        guard index >= 0 else { return nil }
        var i = index
        for d in datasets {
            let (plan, store) = split == .train ? (d.trainPlan, d.train) : (d.validationPlan, d.validation)
            if i < plan.rows.count { return plan.row(i, from: store, padID: padID) }
            i -= plan.rows.count
        }
        return nil
    }
}
