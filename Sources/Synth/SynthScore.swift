/// Correct and total counts for one family or for the whole set.
public struct SynthTally: Codable, Equatable, Sendable {
    /// Responses that passed their check.
    public var correct: Int
    /// Responses scored.
    public var total: Int

    /// `correct / total`, or 0 when nothing was scored.
    public var accuracy: Double { total == 0 ? 0 : Double(correct) / Double(total) }

    /// A tally with the given counts.
    public init(correct: Int = 0, total: Int = 0) {
        self.correct = correct
        self.total = total
    }

    private enum CodingKeys: String, CodingKey { case correct, total, accuracy }

    /// Reads `correct` and `total`; a stored `accuracy` is ignored (it is derived).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        correct = try c.decode(Int.self, forKey: .correct)
        total = try c.decode(Int.self, forKey: .total)
    }

    /// Writes `correct`, `total` and, for people reading the file, `accuracy`.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(correct, forKey: .correct)
        try c.encode(total, forKey: .total)
        try c.encode(accuracy, forKey: .accuracy)
    }
}

/// Accuracy of a set of responses on synthetic records: overall and per family.
/// Families appear in `SynthFamily` order, only those that were scored.
public struct SynthScore: Codable, Equatable, Sendable {
    /// One family's tally.
    public struct Family: Codable, Equatable, Sendable {
        /// The family (encoded by name: `add`, `json_key`, ...).
        public var family: SynthFamily
        /// Its counts.
        public var tally: SynthTally
    }

    /// All responses together.
    public var overall: SynthTally
    /// One entry per scored family, in `SynthFamily` order.
    public var families: [Family]

    /// An empty score.
    public init() {
        overall = SynthTally()
        families = []
    }

    /// Scores `responses[i]` against `records[i]` for every i.
    /// Throws `SynthError.responseCountMismatch` when the counts differ.
    public init(records: [SynthRecord], responses: [String], formats: any SynthFormats = NoSynthFormats()) throws {
        guard records.count == responses.count else {
            throw SynthError.responseCountMismatch(records: records.count, responses: responses.count)
        }
        self.init()
        for (record, response) in zip(records, responses) {
            add(family: record.family, passed: SynthChecker.score(record, response: response, formats: formats))
        }
    }

    /// Counts one scored response.
    public mutating func add(family: SynthFamily, passed: Bool) {
        let inc = passed ? 1 : 0
        overall.correct += inc
        overall.total += 1
        if let i = families.firstIndex(where: { $0.family == family }) {
            families[i].tally.correct += inc
            families[i].tally.total += 1
        } else {
            families.append(Family(family: family, tally: SynthTally(correct: inc, total: 1)))
            families.sort { $0.family < $1.family }
        }
    }

    /// The tally of one family, or nil when none of its records was scored.
    public func tally(_ family: SynthFamily) -> SynthTally? {
        families.first { $0.family == family }?.tally
    }

    /// True when overall accuracy is at least `overall` and every scored family's accuracy is
    /// at least `everyFamily` (the quickstart's goal is 0.85 and 0.60).
    public func meets(overall minOverall: Double, everyFamily minFamily: Double) -> Bool {
        overall.accuracy >= minOverall && families.allSatisfy { $0.tally.accuracy >= minFamily }
    }
}
