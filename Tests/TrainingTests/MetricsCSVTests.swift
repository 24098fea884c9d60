import Foundation
import XCTest
import TestSupport
import Training

/// metrics.csv: the same lines as metrics.jsonl, in fixed columns.
final class MetricsCSVTests: XCTestCase {
    func step(_ s: Int, loss: Double? = 2.5) -> StepMetrics {
        StepMetrics(step: s, epoch: 0, loss: loss, lr: 3e-4, gradNorm: 0.75, tokens: 120, trainedTokens: 60,
                    tokensPerSecond: 1000.5, trainedTokensPerSecond: 500.25, elapsedSeconds: Double(s) * 0.1)
    }

    func csvRows(_ dir: URL) throws -> [[String]] {
        try String(contentsOf: dir.appendingPathComponent("metrics.csv"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    }

    func test_rows_followTheHeader_emptyWhereAbsent_numbersRoundTrip() throws {
        XCTAssertEqual(MetricsCSV.header, "step,epoch,loss,lr,grad_norm,tokens,trained_tokens,tokens_per_s,trained_tokens_per_s,"
                                        + "elapsed_s,allreduce_s,rank_wait_s,eval_loss,eval_ppl,eval_tokens\n")
        XCTAssertEqual(MetricsCSV.row(step(3)), "3,0,2.5,0.0003,0.75,120,60,1000.5,500.25,0.30000000000000004,,,,,\n")
        XCTAssertEqual(MetricsCSV.row(step(4, loss: nil)).split(separator: ",", omittingEmptySubsequences: false)[2], "")
        let e = EvalMetrics(step: 4, evalLoss: 1e-05, evalPerplexity: 1.00001, evalTokens: 77)
        XCTAssertEqual(MetricsCSV.row(e), "4,,,,,,,,,,,,1e-05,1.00001,77\n")
        XCTAssertEqual(Double("1e-05"), 1e-05)
    }

    /// The CSV is appended with the JSONL and cut back with it on a resume.
    func test_metricsLog_writesCSVBesideJSONL_andTruncatesBoth() throws {
        let dir = try TrainingFixture.directory()
        let log = try MetricsLog(directory: dir)
        for s in 1...5 { try log.append(step(s)) }
        try log.append(EvalMetrics(step: 5, evalLoss: 1.5, evalPerplexity: 4.48, evalTokens: 10))
        var rows = try csvRows(dir)
        XCTAssertEqual(rows.count, 7)
        XCTAssertEqual(rows[0], MetricsCSV.columns)
        XCTAssertEqual(rows.dropFirst().map { $0[0] }, ["1", "2", "3", "4", "5", "5"])
        XCTAssertEqual(rows[6][12], "1.5")
        XCTAssertTrue(rows.allSatisfy { $0.count == MetricsCSV.columns.count })

        let resumed = try MetricsLog(directory: dir, truncateAfterStep: 3)
        try resumed.append(step(4, loss: 9))
        rows = try csvRows(dir)
        XCTAssertEqual(rows.dropFirst().map { $0[0] }, ["1", "2", "3", "4"])
        XCTAssertEqual(rows[4][2], "9.0")
        // Row for row the JSONL's steps.
        let jsonl = try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(jsonl.count, rows.count - 1)
    }

    /// A run folder written before metrics.csv existed gets the CSV of all its lines.
    func test_existingJSONLWithoutCSV_isConvertedWhole() throws {
        let dir = try TrainingFixture.directory()
        let lines = [#"{"elapsed_s":0.1,"epoch":0,"grad_norm":1,"loss":2,"lr":0.001,"step":1,"tokens":5,"tokens_per_s":50,"trained_tokens":2,"trained_tokens_per_s":20}"#,
                     #"{"eval_loss":1.25,"eval_ppl":3.49,"eval_tokens":9,"step":1}"#]
        try (lines.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("metrics.jsonl"), atomically: true, encoding: .utf8)
        _ = try MetricsLog(directory: dir, truncateAfterStep: 1)
        let rows = try csvRows(dir)
        XCTAssertEqual(rows.count, 3)
        XCTAssertEqual(rows[1][..<5], ["1", "0", "2.0", "0.001", "1.0"])
        XCTAssertEqual(rows[2][12...], ["1.25", "3.49", "9"])
    }
}
