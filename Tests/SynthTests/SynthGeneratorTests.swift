import Foundation
import XCTest

@testable import Synth
import Datasets

final class SynthGeneratorTests: XCTestCase {
    // MARK: The generator

    func test_splitMix64_seed1234567_matchesPublishedSequence() {
        // Reference outputs of SplitMix64 (Steele et al.) for seed 1234567, as in Java's
        // SplittableRandom and rand_xoshiro's tests.
        var rng = SynthRandom(seed: 1_234_567)
        XCTAssertEqual((0..<5).map { _ in rng.next() }, [
            6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423,
            4_593_380_528_125_082_431, 16_408_922_859_458_223_821,
        ])
    }

    func test_random_intInRange_staysInRangeAndHitsEveryValue() {
        var rng = SynthRandom(seed: 9)
        var seen = Set<Int>()
        for _ in 0..<2000 {
            let v = rng.int(in: 3...7)
            XCTAssertTrue((3...7).contains(v))
            seen.insert(v)
        }
        XCTAssertEqual(seen, Set(3...7))
    }

    func test_random_sample_givesDistinctElements() {
        var rng = SynthRandom(seed: 4)
        for _ in 0..<200 {
            let s = rng.sample(Array(0..<10), count: 6)
            XCTAssertEqual(Set(s).count, 6)
        }
    }

    // MARK: Determinism

    func test_generate_sameSeed_givesByteIdenticalFiles() throws {
        let a = try SynthFiles.encode(SynthGenerator.generate(seed: 42, trainCount: 3000, heldoutCount: 400))
        let b = try SynthFiles.encode(SynthGenerator.generate(seed: 42, trainCount: 3000, heldoutCount: 400))
        XCTAssertEqual(a.map(\.name), ["train.jsonl", "heldout.jsonl", "manifest.json"])
        XCTAssertEqual(a.map(\.bytes), b.map(\.bytes))
    }

    func test_generate_sameSeedWrittenTwice_givesByteIdenticalFilesOnDisk() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("synth-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        for dir in ["a", "b"] {
            let dataset = try SynthGenerator.generate(seed: 7, trainCount: 500, heldoutCount: 80)
            try SynthFiles.write(dataset, to: root.appendingPathComponent(dir).path)
        }
        for file in [SynthFiles.trainFile, SynthFiles.heldoutFile, SynthFiles.manifestFile] {
            let a = try Data(contentsOf: root.appendingPathComponent("a").appendingPathComponent(file))
            let b = try Data(contentsOf: root.appendingPathComponent("b").appendingPathComponent(file))
            XCTAssertFalse(a.isEmpty, file)
            XCTAssertEqual(a, b, file)
        }
    }

    func test_generate_differentSeeds_giveDifferentFiles() throws {
        let a = try SynthFiles.encode(SynthGenerator.generate(seed: 1, trainCount: 500, heldoutCount: 100))
        let b = try SynthFiles.encode(SynthGenerator.generate(seed: 2, trainCount: 500, heldoutCount: 100))
        XCTAssertNotEqual(a[0].bytes, b[0].bytes)
        XCTAssertNotEqual(a[1].bytes, b[1].bytes)
    }

    func test_generate_heldout_doesNotDependOnTrainCount() throws {
        let small = try SynthGenerator.generate(seed: 5, trainCount: 10, heldoutCount: 200)
        let large = try SynthGenerator.generate(seed: 5, trainCount: 4000, heldoutCount: 200)
        XCTAssertEqual(small.heldout, large.heldout)
    }

    // MARK: Splits

    func test_generate_heldoutPrompts_neverAppearInTrain() throws {
        // The default add family has only 100 sums x 6 phrasings = 600 prompts, so with these
        // counts collisions would be certain without the rejection.
        let d = try SynthGenerator.generate(seed: 3, trainCount: 16_000, heldoutCount: 1600)
        let heldout = Set(d.heldout.map(\.promptKey))
        XCTAssertEqual(heldout.count, d.heldout.count, "held-out prompts repeat")
        let overlap = d.train.filter { heldout.contains($0.promptKey) }
        XCTAssertTrue(overlap.isEmpty, "first overlap: \(overlap.first.map(\.promptKey) ?? "")")
        XCTAssertTrue(d.train.contains { $0.family == .add }, "sanity: add is generated")
    }

    func test_generate_familiesAreBalancedWithinOne() throws {
        let d = try SynthGenerator.generate(seed: 11, trainCount: 1003, heldoutCount: 85)
        for split in [d.train, d.heldout] {
            var counts: [SynthFamily: Int] = [:]
            for r in split { counts[r.family, default: 0] += 1 }
            XCTAssertEqual(Set(counts.keys), Set(SynthFamily.core))
            XCTAssertLessThanOrEqual(counts.values.max()! - counts.values.min()!, 1)
        }
        XCTAssertEqual(d.train.count, 1003)
        XCTAssertEqual(d.heldout.count, 85)
    }

    func test_generate_familySubset_generatesOnlyThoseFamilies() throws {
        let options = SynthOptions(families: [.sort, .jsonKey])
        let d = try SynthGenerator.generate(seed: 1, trainCount: 100, heldoutCount: 10, options: options)
        XCTAssertEqual(Set(d.train.map(\.family)), [.sort, .jsonKey])
    }

    func test_generate_tooManyHeldoutForTinySpace_throwsExhausted() {
        // add with addends 0...1 has 4 inputs x 6 phrasings = 24 distinct prompts.
        let options = SynthOptions(families: [.add], addendRange: 0...1, maxAttemptsPerExample: 200)
        XCTAssertThrowsError(try SynthGenerator.generate(seed: 1, trainCount: 0, heldoutCount: 30, options: options)) { error in
            XCTAssertEqual(error as? SynthError, .exhausted(family: "add", split: "heldout", requested: 30, produced: 24))
        }
    }

    func test_generate_invalidOptions_throwNamingTheOption() {
        let cases: [(SynthOptions, String)] = [
            (SynthOptions(families: []), "families"),
            (SynthOptions(families: [.add, .add]), "families"),
            (SynthOptions(numberListLength: 0...3), "numberListLength"),
            (SynthOptions(wordListLength: 3...1000), "wordListLength"),
            (SynthOptions(addendRange: -5...5), "addendRange"),
            (SynthOptions(maxAttemptsPerExample: 0), "maxAttemptsPerExample"),
        ]
        for (options, field) in cases {
            XCTAssertThrowsError(try SynthGenerator.generate(seed: 1, trainCount: 1, heldoutCount: 1, options: options)) { error in
                guard case let .invalidOptions(f, _)? = error as? SynthError else { return XCTFail("\(error)") }
                XCTAssertEqual(f, field)
            }
        }
        XCTAssertThrowsError(try SynthGenerator.generate(seed: 1, trainCount: -1, heldoutCount: 1))
    }

    // MARK: Content

    func test_generate_everyOutput_passesItsOwnCheck() throws {
        let d = try SynthGenerator.generate(seed: 2024, trainCount: 8000, heldoutCount: 800)
        for r in d.train + d.heldout {
            let verdict = SynthChecker.verify(r.check, response: r.output)
            XCTAssertTrue(verdict.passed, "\(r.family): \(r.promptKey) -> \(r.output): \(verdict.reason ?? "")")
        }
    }

    func test_generate_outputs_matchAnIndependentSolution() throws {
        // Solves each example again from its input alone, so a wrong generator cannot pass by
        // writing its mistake into both output and check.
        let d = try SynthGenerator.generate(seed: 99, trainCount: 4000, heldoutCount: 0, options: SynthOptions(families: SynthFamily.allCases))
        for r in d.train {
            let tokens = r.input.split(separator: " ").map(String.init)
            let expected: String
            switch r.family {
            case .add:
                XCTAssertEqual(tokens.count, 3); XCTAssertEqual(tokens[1], "+")
                expected = String(Int(tokens[0])! + Int(tokens[2])!)
            case .sort:
                expected = tokens.compactMap { Int($0) }.sorted().map(String.init).joined(separator: " ")
            case .count:
                expected = String(tokens.count)
            case .max:
                expected = String(tokens.compactMap { Int($0) }.max()!)
            case .reverse:
                expected = tokens.reversed().joined(separator: " ")
            case .uppercase:
                expected = r.input.uppercased()
            case .jsonKey:
                guard case let .jsonKey(key, _) = r.check else { return XCTFail("json_key check expected") }
                XCTAssertTrue(r.instruction.contains("\"\(key)\""), r.instruction)
                let parsed = try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: String]
                XCTAssertEqual(parsed, [key: r.input])
                continue
            case .endsWith:
                guard case let .endsWith(phrase, _) = r.check else { return XCTFail("ends_with check expected") }
                XCTAssertTrue(r.instruction.contains("\"\(phrase)\""), r.instruction)
                expected = r.input + " " + phrase
            case .bullets:
                expected = tokens.map { "* " + $0 }.joined(separator: "\n")
            case .quoted:
                expected = "\"" + r.input + "\""
            }
            XCTAssertEqual(r.output, expected, "\(r.family): \(r.input)")
        }
    }

    func test_generate_defaults_keepInputsShortAndInRange() throws {
        let d = try SynthGenerator.generate(seed: 8, trainCount: 4000, heldoutCount: 0, options: SynthOptions(families: SynthFamily.allCases))
        let vocabulary = Set(SynthVocabulary.words)
        for r in d.train {
            let tokens = r.input.split(separator: " ").map(String.init)
            switch r.family {
            case .add:
                XCTAssertTrue([tokens[0], tokens[2]].allSatisfy { (0...9).contains(Int($0)!) })
            case .sort, .max:
                XCTAssertTrue((3...5).contains(tokens.count), r.input)
                XCTAssertTrue(tokens.allSatisfy { $0.count == 1 && Int($0) != nil }, r.input)
            case .count:
                XCTAssertTrue((2...6).contains(tokens.count), r.input)
            case .reverse, .endsWith, .bullets:
                XCTAssertTrue((3...5).contains(tokens.count), r.input)
            case .uppercase, .quoted:
                XCTAssertTrue((2...4).contains(tokens.count), r.input)
            case .jsonKey:
                XCTAssertEqual(tokens.count, 1)
            }
            if [.count, .reverse, .endsWith, .uppercase, .jsonKey, .bullets, .quoted].contains(r.family) {
                XCTAssertTrue(tokens.allSatisfy(vocabulary.contains), r.input)
            }
        }
    }

    func test_generate_everyPhrasingIsUsed() throws {
        let d = try SynthGenerator.generate(seed: 6, trainCount: 4000, heldoutCount: 0, options: SynthOptions(families: SynthFamily.allCases))
        for family in SynthFamily.allCases {
            let used = Set(d.train.filter { $0.family == family }.map(\.instruction))
            let templates = SynthVocabulary.phrasings(family)
            for template in templates {
                let prefix = String(template.prefix { $0 != "{" })
                XCTAssertTrue(used.contains { $0.hasPrefix(prefix) }, "\(family): unused phrasing \(template)")
            }
        }
    }

    func test_vocabulary_wordsAreDistinctShortLowercase() {
        let words = SynthVocabulary.words
        XCTAssertEqual(Set(words).count, words.count)
        XCTAssertGreaterThanOrEqual(words.count, 50)
        XCTAssertTrue(words.allSatisfy { $0.count <= 5 && $0.allSatisfy { $0.isASCII && $0.isLowercase } })
        XCTAssertEqual(Set(SynthVocabulary.endPhrases).count, SynthVocabulary.endPhrases.count)
        for family in SynthFamily.allCases {
            XCTAssertGreaterThanOrEqual(SynthVocabulary.phrasings(family).count, 5, "\(family)")
        }
    }
}
