import XCTest
@testable import Datasets

final class PackingTests: XCTestCase {
    /// Example i has `lengths[i]` tokens 100*i+j; its second half is trained.
    func store(_ lengths: [Int]) -> ExampleStore {
        var s = ExampleStore()
        for (i, n) in lengths.enumerated() {
            s.append(TokenizedExample(tokens: (0..<n).map { Int32(100 * i + $0) }, trained: (0..<n).map { $0 >= n / 2 }))
        }
        return s
    }

    func test_packing_twoShortExamples_positionsRestartAtZero() {
        let s = store([5, 4])
        let plan = PackingPlan.make(lengths: [5, 4], seqLen: 12, mode: .pack)
        XCTAssertEqual(plan.rows, [[0, 1]])
        let row = plan.row(0, from: s, padID: 999)
        XCTAssertEqual(row.tokens, [0, 1, 2, 3, 4, 100, 101, 102, 103, 999, 999, 999])
        XCTAssertEqual(row.positions, [0, 1, 2, 3, 4, 0, 1, 2, 3, 0, 0, 0])
        XCTAssertEqual(row.segmentIDs, [1, 1, 1, 1, 1, 2, 2, 2, 2, 0, 0, 0])
        // Example 0 trains tokens 2,3,4; example 1 trains 102,103.
        XCTAssertEqual(row.targets, [-100, 2, 3, 4, -100, -100, 102, 103, -100, -100, -100, -100])
        XCTAssertEqual(row.lossMask, [0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0])
        XCTAssertEqual(row.usedTokens, 9)
    }

    func test_packing_targetsNeverCrossExamples_evenWhenNextIsTrained() {
        var s = ExampleStore()
        s.append(TokenizedExample(tokens: [1, 2], trained: [true, true]))
        s.append(TokenizedExample(tokens: [3, 4], trained: [true, true]))
        let row = PackingPlan(seqLen: 4, rows: [[0, 1]]).row(0, from: s, padID: 0)
        XCTAssertEqual(row.targets, [2, -100, 4, -100])
    }

    func test_packing_lossMaskMatchesTargets_everywhere() {
        let lengths = (0..<60).map { 3 + ($0 * 37) % 50 }
        let s = store(lengths)
        let plan = PackingPlan.make(lengths: lengths, seqLen: 64, mode: .pack)
        var seen: [Int32] = []
        for r in plan.rows.indices {
            let row = plan.row(r, from: s, padID: 0)
            for t in 0..<64 { XCTAssertEqual(row.lossMask[t] == 1, row.targets[t] != PackedRow.ignoreIndex) }
            seen += plan.rows[r]
        }
        XCTAssertEqual(seen.sorted(), (0..<60).map { Int32($0) }, "every example exactly once")
    }

    func test_bestFitDecreasing_isDeterministic_andTight() {
        let lengths = (0..<200).map { 10 + ($0 * 7919) % 200 }
        let a = PackingPlan.make(lengths: lengths, seqLen: 512, mode: .pack)
        let b = PackingPlan.make(lengths: lengths, seqLen: 512, mode: .pack)
        XCTAssertEqual(a, b)
        for row in a.rows { XCTAssertLessThanOrEqual(row.reduce(0) { $0 + lengths[Int($1)] }, 512) }
        let s = store(lengths)
        XCTAssertGreaterThan(a.efficiency(store: s), 0.95)
    }

    func test_padMode_oneExamplePerRow() {
        let plan = PackingPlan.make(lengths: [3, 2], seqLen: 4, mode: .pad)
        XCTAssertEqual(plan.rows, [[0], [1]])
        let row = plan.row(1, from: store([3, 2]), padID: 7)
        XCTAssertEqual(row.tokens, [100, 101, 7, 7])
        XCTAssertEqual(row.segmentIDs, [1, 1, 0, 0])
    }
}

extension PackingTests {
    /// Each example's slice of a packed row equals its own padded row: packing changes
    /// where an example sits, never its tokens, targets, mask or positions.
    func test_packedSlices_equalTheSameExamplesPaddedOneByOne() {
        let lengths = (0..<40).map { 2 + ($0 * 13) % 30 }
        let s = store(lengths)
        let packed = PackingPlan.make(lengths: lengths, seqLen: 48, mode: .pack)
        let single = PackingPlan.make(lengths: lengths, seqLen: 48, mode: .pad)
        for r in packed.rows.indices {
            let row = packed.row(r, from: s, padID: 0)
            var t = 0
            for e in packed.rows[r] {
                let n = lengths[Int(e)]
                let alone = single.row(Int(e), from: s, padID: 0)
                XCTAssertEqual(Array(row.tokens[t..<t + n]), Array(alone.tokens[0..<n]))
                XCTAssertEqual(Array(row.targets[t..<t + n]), Array(alone.targets[0..<n]))
                XCTAssertEqual(Array(row.lossMask[t..<t + n]), Array(alone.lossMask[0..<n]))
                XCTAssertEqual(Array(row.positions[t..<t + n]), Array(alone.positions[0..<n]))
                t += n
            }
        }
    }
}
