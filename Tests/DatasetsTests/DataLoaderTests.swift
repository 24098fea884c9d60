import XCTest
@testable import Datasets

final class DataLoaderTests: XCTestCase {
    let tok = ByteTokenizer()

    func prepared(_ dir: TempDir, counts: [Int] = [60], weights: [Double]? = nil, seqLen: Int = 32,
                  packing: PackingMode = .pad, split: Double = 0) throws -> PreparedData {
        var specs: [DatasetSpec] = []
        for (d, n) in counts.enumerated() {
            let text = (0..<n).map { #"{"prompt":"d\#(d)q\#($0)","completion":"\#(String(repeating: "r", count: 1 + $0 % 9))"}"# }
                .joined(separator: "\n")
            specs.append(DatasetSpec(path: dir.write("d\(d).jsonl", text), weight: weights?[d] ?? 1, validationFraction: split))
        }
        return try DataPipeline.prepare(DataConfig(datasets: specs, seqLen: seqLen, packing: packing, seed: 3), tokenizer: tok)
    }

    func test_resume_fromSavedCursor_givesTheSameNextBatches() throws {
        let dir = TempDir()
        let data = try prepared(dir, counts: [60, 25], weights: [1, 0.5])
        var a = try DataLoader(data: data, batchSize: 4, epochs: 3)
        for _ in 0..<17 { XCTAssertNotNil(a.next()) }  // crosses the first epoch boundary
        let saved = try JSONEncoder().encode(a.cursor)
        var b = try DataLoader(data: data, batchSize: 4, epochs: 3, cursor: try JSONDecoder().decode(DataCursor.self, from: saved))
        XCTAssertEqual(b.cursor, a.cursor)
        var count = 0
        while let x = a.next() {
            XCTAssertEqual(b.next(), x)
            count += 1
        }
        XCTAssertNil(b.next())
        XCTAssertGreaterThan(count, 10)
    }

    /// A data-parallel rank's share: rows of a batch of 2B rows are those of two batches of B.
    func test_batchRows_splitInTwo_equalsTwoHalfSizeBatches() throws {
        let dir = TempDir()
        let data = try prepared(dir)
        var big = try DataLoader(data: data, batchSize: 4, epochs: 1)
        var small = try DataLoader(data: data, batchSize: 2, epochs: 1)
        let b = try XCTUnwrap(big.next())
        XCTAssertEqual(b.rows(0..<2), small.next())
        XCTAssertEqual(b.rows(2..<4), small.next())
        XCTAssertEqual(b.rows(1..<1).rowCount, 0)
        XCTAssertEqual(b.rows(1..<1).tokens, [])
        XCTAssertEqual(b.rows(0..<4), b)
    }

    func test_epochs_areShuffledDifferently_butReproducibly() throws {
        let dir = TempDir()
        let data = try prepared(dir)
        func epochTokens(_ loader: inout DataLoader) -> [[Int32]] {
            (0..<data.datasets[0].trainPlan.rows.count).map { _ in loader.next()!.tokens }
        }
        var a = try DataLoader(data: data, batchSize: 1, epochs: 2)
        var b = try DataLoader(data: data, batchSize: 1, epochs: 2)
        let a0 = epochTokens(&a), a1 = epochTokens(&a)
        XCTAssertEqual(epochTokens(&b), a0)
        XCTAssertNotEqual(a0, a1)
        XCTAssertEqual(Set(a0.map { $0.description }), Set(a1.map { $0.description }), "each epoch holds every row once")
        XCTAssertNil(a.next())
    }

    func test_batches_areBxT_andCrossEpochs_lastOneShort() throws {
        let dir = TempDir()
        let data = try prepared(dir, counts: [10])
        var loader = try DataLoader(data: data, batchSize: 4, epochs: 2)
        var sizes: [Int] = []
        while let b = loader.next() {
            XCTAssertEqual(b.tokens.count, b.rowCount * 32)
            XCTAssertEqual(b.positions.count, b.rowCount * 32)
            sizes.append(b.rowCount)
        }
        XCTAssertEqual(sizes, [4, 4, 4, 4, 4])
        XCTAssertEqual(loader.cursor.batches, 5)
    }

    func test_weights_setRowsPerEpoch() throws {
        let dir = TempDir()
        let data = try prepared(dir, counts: [40, 20], weights: [0.5, 2])
        let loader = try DataLoader(data: data, batchSize: 1)
        XCTAssertEqual(loader.rowsPerEpoch, 20 + 40)
        let e0 = DataLoader.epochOrder(data: data, split: .train, epoch: 0)
        XCTAssertEqual(e0.filter { $0.dataset == 0 }.count, 20)
        XCTAssertEqual(e0.filter { $0.dataset == 1 }.count, 40)
        XCTAssertEqual(Set(e0.filter { $0.dataset == 1 }.map(\.row)).count, 20, "weight 2 serves every row twice")
        let e1 = DataLoader.epochOrder(data: data, split: .train, epoch: 1)
        XCTAssertNotEqual(Set(e0.filter { $0.dataset == 0 }.map(\.row)), Set(e1.filter { $0.dataset == 0 }.map(\.row)),
                          "weight 0.5 draws a fresh half each epoch")
    }

    func test_validationLoader_onePassInOrder() throws {
        let dir = TempDir()
        let data = try prepared(dir, counts: [50], split: 0.2)
        var v = try DataLoader(data: data, batchSize: 3, epochs: 5, split: .validation)
        var rows = 0
        while let b = v.next() { rows += b.rowCount }
        XCTAssertEqual(rows, 10)
    }

    func test_cursor_fromOtherData_isRejected() throws {
        let dir = TempDir()
        let data = try prepared(dir)
        let bad = DataCursor(epoch: 0, index: 0, dataFingerprint: "0000")
        XCTAssertThrowsError(try DataLoader(data: data, batchSize: 2, cursor: bad)) { error in
            guard case .cursorMismatch? = error as? DatasetError else { return XCTFail("\(error)") }
        }
        let outOfRange = DataCursor(epoch: 0, index: 10_000, dataFingerprint: data.fingerprint)
        XCTAssertThrowsError(try DataLoader(data: data, batchSize: 2, cursor: outOfRange))
    }
}
