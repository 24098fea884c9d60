/// A generated synthetic dataset: the two splits and what made them.
public struct SynthDataset: Equatable, Sendable {
    /// The seed given to `SynthGenerator.generate`.
    public var seed: UInt64
    /// The options the dataset was generated with.
    public var options: SynthOptions
    /// Training examples. May repeat an example when a family's space is small; never holds
    /// an (instruction, input) pair that is in `heldout`.
    public var train: [SynthRecord]
    /// Held-out examples: no (instruction, input) pair twice, none in `train`.
    public var heldout: [SynthRecord]
}

/// Generates the synthetic verifiable-instruction dataset, deterministically from a seed.
///
/// Each split is a shuffled, balanced mix of the families: the counts of any two families
/// differ by at most one. The held-out split is drawn first from its own generator stream, so
/// it depends only on the seed, its count and the options, not on the train count. The train
/// split comes from a second stream and rejects any example whose (instruction, input) pair
/// is held out.
public enum SynthGenerator {
    /// Bumped whenever the same seed and options would give different bytes (new phrasings,
    /// words, families, file layout). Written to `manifest.json`.
    public static let version = 1

    /// The name written to `manifest.json`.
    public static let name = "instructkit-synth"

    /// Bytes of memory one example takes at the peak of `generate` and `SynthFiles.write`,
    /// about: the record with its strings and the held-out key set (~430, measured over
    /// 200,000 examples) and its line of the encoded file (~170).
    public static let bytesPerExample = 600

    /// The memory `generate` and `SynthFiles.write` need for this many examples, about.
    public static func estimatedBytes(trainCount: Int, heldoutCount: Int) -> Double {
        (Double(trainCount) + Double(heldoutCount)) * Double(bytesPerExample)
    }

    /// Generates `trainCount` training and `heldoutCount` held-out examples.
    /// Throws `SynthError.invalidOptions` for bad options or counts (negative, or, with
    /// `memoryLimit`, more examples than `estimatedBytes` fits in that many bytes: checked
    /// before anything is allocated) and `SynthError.exhausted` when a family cannot produce
    /// enough distinct held-out examples (or train examples outside the held-out set) within
    /// `options.maxAttemptsPerExample` draws.
    public static func generate(
        seed: UInt64, trainCount: Int, heldoutCount: Int, options: SynthOptions = SynthOptions(), memoryLimit: Int? = nil
    ) throws -> SynthDataset {
        try options.validate()
        if trainCount < 0 { throw SynthError.invalidOptions(field: "trainCount", reason: "must not be negative, got \(trainCount)") }
        if heldoutCount < 0 { throw SynthError.invalidOptions(field: "heldoutCount", reason: "must not be negative, got \(heldoutCount)") }
        if let memoryLimit, estimatedBytes(trainCount: trainCount, heldoutCount: heldoutCount) > Double(memoryLimit) {
            let most = memoryLimit / bytesPerExample
            throw SynthError.invalidOptions(
                field: trainCount >= heldoutCount ? "trainCount" : "heldoutCount",
                reason: "\(trainCount) train and \(heldoutCount) held-out examples need about \(bytesPerExample) bytes each in memory, more than the \(memoryLimit) bytes allowed; ask for at most \(most) in all")
        }

        // Two independent streams derived from the seed (SplitMix64 outputs decorrelate them).
        var root = SynthRandom(seed: seed)
        var heldoutRNG = SynthRandom(seed: root.next())
        var trainRNG = SynthRandom(seed: root.next())

        var heldoutKeys = Set<String>()
        let heldout = try split(
            "heldout", count: heldoutCount, rng: &heldoutRNG, options: options,
            accept: { heldoutKeys.insert($0.promptKey).inserted })
        let train = try split(
            "train", count: trainCount, rng: &trainRNG, options: options,
            accept: { !heldoutKeys.contains($0.promptKey) })
        return SynthDataset(seed: seed, options: options, train: train, heldout: heldout)
    }

    /// `count` examples: a balanced, shuffled sequence of families, one accepted example each.
    private static func split(
        _ name: String, count: Int, rng: inout SynthRandom, options: SynthOptions,
        accept: (SynthRecord) -> Bool
    ) throws -> [SynthRecord] {
        let families = rng.shuffled((0..<count).map { options.families[$0 % options.families.count] })
        var produced: [SynthFamily: Int] = [:]
        var records: [SynthRecord] = []
        records.reserveCapacity(count)
        for family in families {
            var accepted: SynthRecord?
            for _ in 0..<options.maxAttemptsPerExample {
                let candidate = SynthTasks.example(family, rng: &rng, options: options)
                if accept(candidate) { accepted = candidate; break }
            }
            guard let record = accepted else {
                throw SynthError.exhausted(
                    family: family.rawValue, split: name,
                    requested: families.filter { $0 == family }.count, produced: produced[family, default: 0])
            }
            produced[family, default: 0] += 1
            records.append(record)
        }
        return records
    }
}
