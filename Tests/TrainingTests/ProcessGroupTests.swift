import XCTest
import Autograd
import Training

/// The parts of data parallelism that need no second process: who is launched by mpirun,
/// how a batch's rows are shared, and the single-process group's collectives. Runs with
/// several ranks are tested through mpirun in instructTests/DistributedCommandLineTests.
final class ProcessGroupTests: XCTestCase {
    func test_shard_everyRowOnceInRankOrder_sizesDifferByAtMostOne() {
        for size in 1...4 {
            for rows in 0...9 {
                let parts = (0..<size).map { ProcessGroup.shard(rows: rows, rank: $0, size: size) }
                XCTAssertEqual(parts.flatMap { Array($0) }, Array(0..<rows), "rows \(rows), size \(size)")
                let counts = parts.map(\.count)
                XCTAssertLessThanOrEqual(counts.max()! - counts.min()!, 1, "rows \(rows), size \(size): \(counts)")
            }
        }
    }

    func test_launchedByMPI_onlyWithSeveralRanksOrPMIx() {
        XCTAssertFalse(ProcessGroup.launchedByMPI([:]))
        XCTAssertFalse(ProcessGroup.launchedByMPI(["OMPI_COMM_WORLD_SIZE": "1"]))
        XCTAssertTrue(ProcessGroup.launchedByMPI(["OMPI_COMM_WORLD_SIZE": "2"]))
        XCTAssertTrue(ProcessGroup.launchedByMPI(["PMIX_RANK": "0"]))
    }

    func test_fromEnvironment_withoutLauncher_isSingleAndLoadsNoMPI() throws {
        let g = try ProcessGroup.fromEnvironment([:])
        XCTAssertFalse(g.usesMPI)
        XCTAssertEqual(g.size, 1)
        XCTAssertTrue(g.isMain)
    }

    func test_fromEnvironment_missingLibrary_namesItAndSaysWhatToInstall() {
        let env = ["OMPI_COMM_WORLD_SIZE": "2", "INSTRUCTKIT_MPI_LIBRARY": "/nonexistent/libmpi.so.40"]
        XCTAssertThrowsError(try ProcessGroup.fromEnvironment(env)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("/nonexistent/libmpi.so.40") && text.contains("openmpi"), text)
        }
    }

    func test_single_collectivesReturnTheirInput() throws {
        let g = ProcessGroup.single
        var f: [Float] = [1, 2.5]
        try g.allreduceSum(&f)
        XCTAssertEqual(f, [1, 2.5])
        var d: [Double] = [3]
        try g.allreduceSum(&d)
        XCTAssertEqual(d, [3])
        XCTAssertTrue(try g.any(true))
        XCTAssertFalse(try g.any(false))
        XCTAssertEqual(try g.allgather([7, 8]), [[7, 8]])
    }

    func test_dropoutRNG_rankZeroIsTheSingleProcessStream_otherRanksDiffer() {
        var r0 = Trainer.dropoutRNG(seed: 5, rank: 0), r1 = Trainer.dropoutRNG(seed: 5, rank: 1)
        XCTAssertEqual(r0, RNG(seed: 5, stream: 0xD0), "rank 0 keeps the stream a single-process trainer has always used")
        XCTAssertNotEqual(r0.nextUInt64(), r1.nextUInt64())
    }
}
