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

    static func prepareOne(_ spec: DatasetSpec, config: DataConfig, tokenizer: any TextTokenizer) throws -> PreparedDataset {
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: spec.path)))
        } catch {
            throw DatasetError.unreadableFile(path: spec.path, reason: fileReadProblem(spec.path, error))
        }
        let fingerprint = DataFingerprint.make(dataBytes: bytes, spec: spec, config: config, tokenizer: tokenizer)
        let cacheFile = config.cacheDirectory.map { dir in
            (dir as NSString).appendingPathComponent(DataFingerprint.hex(fingerprint) + ".ikds")
        }
        if let cacheFile, FileManager.default.fileExists(atPath: cacheFile),
           let cached = try? DataCache.read(path: cacheFile, fingerprint: fingerprint) {
            return PreparedDataset(
                spec: spec, train: cached.train, trainPlan: cached.trainPlan, validation: cached.validation,
                validationPlan: cached.validationPlan, report: cached.report, fingerprint: fingerprint, cacheHit: true)
        }
        var d = try build(spec, bytes: bytes, config: config, tokenizer: tokenizer)
        d.fingerprint = fingerprint
        if let cacheFile {
            try DataCache.write(
                DataCache.Contents(
                    report: d.report, train: d.train, trainPlan: d.trainPlan,
                    validation: d.validation, validationPlan: d.validationPlan),
                path: cacheFile, fingerprint: fingerprint)
        }
        return d
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

    /// Reads, encodes, applies the length policy, splits and packs one dataset.
    static func build(_ spec: DatasetSpec, bytes: [UInt8], config: DataConfig, tokenizer: any TextTokenizer) throws -> PreparedDataset {
        let file = try RecordReader.parse(
            bytes: bytes, path: spec.path, format: spec.format, columns: spec.columns, onBadRecord: config.onBadRecord)
        let encoder = try ExampleEncoder(
            tokenizer: tokenizer, template: spec.template ?? config.defaultTemplate ?? file.format.defaultTemplate,
            systemPrompt: spec.systemPrompt, trainOnInput: config.trainOnInput, scope: config.chatScope)
        var report = PreflightReport()
        report.records = file.recordsRead
        report.skippedByReason = file.skipped
        report.skipped = file.skipped.values.reduce(0, +)

        var kept: [TokenizedExample] = []
        for record in file.records {
            let example: TokenizedExample
            do {
                example = try encoder.encode(record.content)
            } catch {
                let failure = DatasetError.templateFailed(path: record.path, line: record.line, template: encoder.template.name,
                                                          reason: "\(error)")
                guard config.onBadRecord == .skip else { throw failure }
                report.skippedByReason[failure.reasonKey, default: 0] += 1
                report.skipped += 1
                continue
            }
            switch fit(example, seqLen: config.seqLen, policy: config.lengthPolicy, bos: tokenizer.bosTokenID) {
            case let .kept(e): kept.append(e)
            case let .truncated(e):
                kept.append(e)
                report.truncated += 1
            case let .dropped(reason):
                report.droppedByReason[reason, default: 0] += 1
            }
        }
        report.dropped = report.droppedByReason.values.reduce(0, +)
        if kept.isEmpty {
            throw DatasetError.noExamples(
                path: spec.path,
                reason: "\(report.records) records read, \(report.skipped) skipped, \(report.dropped) dropped"
                    + report.droppedByReason.sorted { $0.key < $1.key }.map { " \($0.key): \($0.value)" }.joined(separator: ","))
        }

        // Validation split: a seeded permutation; its first k examples are held out.
        var order = Array(kept.indices)
        let dataHash = DataFingerprint.sha256(bytes)
        let hashWord = dataHash[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        var rng = SplitMix64(mixing: [config.seed, 0x5EED_5B17, hashWord])
        rng.shuffle(&order)
        let k = Int((Double(kept.count) * spec.validationFraction).rounded())
        let held = Set(order.prefix(k))
        var train = ExampleStore()
        var validation = ExampleStore()
        for (i, e) in kept.enumerated() {
            if held.contains(i) { validation.append(e) } else { train.append(e) }
            report.tokens += e.tokens.count
            report.trainedTokens += e.trainedTargetCount
        }
        report.examples = kept.count
        report.validationExamples = validation.count
        let trainPlan = PackingPlan.make(
            lengths: (0..<train.count).map(train.length), seqLen: config.seqLen, mode: config.packing)
        let validationPlan = PackingPlan.make(
            lengths: (0..<validation.count).map(validation.length), seqLen: config.seqLen, mode: config.packing)
        report.rows = trainPlan.rows.count + validationPlan.rows.count
        report.packingEfficiency = Double(report.tokens) / Double(max(1, report.rows * config.seqLen))
        report.lengthHistogram = PreflightReport.histogram(kept.map { $0.tokens.count }, seqLen: config.seqLen)
        return PreparedDataset(
            spec: spec, train: train, trainPlan: trainPlan, validation: validation, validationPlan: validationPlan,
            report: report, fingerprint: [], cacheHit: false)
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
