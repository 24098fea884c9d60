import CMPI
import Foundation

/// The processes of a data-parallel run: this one's rank and how many there are, and the
/// few collective operations the trainer needs (sum, max, gather) over all of them.
///
/// `ProcessGroup.single` is a run of one process: every collective returns its input, and no
/// MPI library is touched. `fromEnvironment()` returns a group of several ranks only when the
/// process was started by Open MPI's `mpirun` (it sets `OMPI_COMM_WORLD_SIZE`) or by another
/// PMIx launcher (`PMIX_RANK`); only then is Open MPI's `libmpi.so.40` loaded, with dlopen,
/// so a single-process run needs no MPI installed (docs/distributed.md).
///
/// Every collective must be called by every rank, in the same order: the trainer only calls
/// them at points that all ranks reach with the same step and the same options.
public final class ProcessGroup: @unchecked Sendable {
    /// This process's rank, 0..<size. Rank 0 writes checkpoints, metrics and the run files.
    public let rank: Int
    /// The number of ranks.
    public let size: Int
    /// Ranks on this machine (Open MPI's `OMPI_COMM_WORLD_LOCAL_SIZE`; 1 when unknown).
    public let localSize: Int
    /// Whether collectives go through MPI (false for `single`).
    public let usesMPI: Bool
    private var finalized = false

    init(rank: Int, size: Int, localSize: Int, usesMPI: Bool) {
        self.rank = rank
        self.size = size
        self.localSize = localSize
        self.usesMPI = usesMPI
    }

    /// One process, no MPI.
    public static let single = ProcessGroup(rank: 0, size: 1, localSize: 1, usesMPI: false)

    /// True with more than one rank.
    public var isDistributed: Bool { size > 1 }
    /// True on rank 0, the rank that writes files and reports progress.
    public var isMain: Bool { rank == 0 }

    /// Whether `environment` says an MPI launcher started this process with more than one
    /// rank (`OMPI_COMM_WORLD_SIZE` > 1) or a PMIx launcher started it (`PMIX_RANK` set).
    public static func launchedByMPI(_ environment: [String: String]) -> Bool {
        if let s = environment["OMPI_COMM_WORLD_SIZE"], let n = Int(s) { return n > 1 }
        return environment["PMIX_RANK"] != nil
    }

    /// The group this process belongs to: `single` unless `launchedByMPI(environment)`; then
    /// Open MPI is loaded (`INSTRUCTKIT_MPI_LIBRARY` names another libmpi) and initialised.
    /// Throws `TrainingError.distributed` naming what is missing when it cannot be loaded.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ProcessGroup {
        guard launchedByMPI(environment) else { return .single }
        let launched = environment["OMPI_COMM_WORLD_SIZE"].map { "\($0) ranks" } ?? "a PMIx launcher"
        var message = [CChar](repeating: 0, count: 1024)
        let library = environment["INSTRUCTKIT_MPI_LIBRARY"]
        let loaded: Int32 = library.map { lib in lib.withCString { cmpi_load($0, &message, message.count) } }
            ?? cmpi_load(nil, &message, message.count)
        if loaded != 0 {
            throw TrainingError.distributed(
                "started by mpirun (\(launched)) but Open MPI cannot be used: \(String(cString: message)). "
                    + "Install it on every machine (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi3), "
                    + "or set INSTRUCTKIT_MPI_LIBRARY to the path of libmpi.so.40")
        }
        var rank: Int32 = 0, size: Int32 = 0
        guard cmpi_init(&rank, &size) == 0 else {
            throw TrainingError.distributed("MPI_Init failed (\(launched)); run `mpirun -np 2 hostname` to check the MPI installation")
        }
        let local = environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap { Int($0) } ?? 1
        return ProcessGroup(rank: Int(rank), size: Int(size), localSize: local, usesMPI: true)
    }

    /// Ends MPI (MPI_Finalize) at the end of a successful run; mpirun expects it of every rank.
    /// Does nothing for `single` or when already called.
    public func finalize() {
        guard usesMPI, !finalized else { return }
        finalized = true
        _ = cmpi_finalize()
    }

    private func check(_ code: Int32, _ call: String) throws {
        if code != 0 { throw TrainingError.distributed("\(call) failed with MPI error \(code) on rank \(rank) of \(size)") }
    }

    /// Replaces `values` by their element-wise sum over all ranks (MPI_Allreduce, in place).
    /// Every rank gets the same sums: with two ranks a + b == b + a exactly; with more,
    /// Open MPI's reduction order is fixed for a given size (checked by the weight hash).
    public func allreduceSum(_ values: inout [Float]) throws {
        guard usesMPI else { return }
        try values.withUnsafeMutableBufferPointer { buf in
            var start = 0
            while start < buf.count {
                let n = min(buf.count - start, Int(Int32.max))
                try check(cmpi_allreduce(buf.baseAddress! + start, Int32(n), CMPI_FLOAT, CMPI_SUM), "MPI_Allreduce")  // count > 0
                start += n
            }
        }
    }

    /// Replaces `values` by their element-wise sum over all ranks. Integers below 2^53 sum exactly.
    public func allreduceSum(_ values: inout [Double]) throws {
        guard usesMPI, !values.isEmpty else { return }
        try values.withUnsafeMutableBufferPointer { buf in
            try check(cmpi_allreduce(buf.baseAddress!, Int32(buf.count), CMPI_DOUBLE, CMPI_SUM), "MPI_Allreduce")  // non-empty
        }
    }

    /// True on every rank when `flag` is true on any rank.
    public func any(_ flag: Bool) throws -> Bool {
        guard usesMPI else { return flag }
        var v: [Double] = [flag ? 1 : 0]
        try v.withUnsafeMutableBufferPointer { buf in
            try check(cmpi_allreduce(buf.baseAddress!, 1, CMPI_DOUBLE, CMPI_MAX), "MPI_Allreduce")  // one element
        }
        return v[0] > 0
    }

    /// Every rank's `words`, indexed by rank (MPI_Allgather). All ranks pass the same count.
    public func allgather(_ words: [UInt64]) throws -> [[UInt64]] {
        guard usesMPI else { return [words] }
        var out = [UInt64](repeating: 0, count: words.count * size)
        let bytes = Int32(words.count * MemoryLayout<UInt64>.size)
        try words.withUnsafeBytes { src in
            try out.withUnsafeMutableBytes { dst in
                try check(cmpi_allgather_bytes(src.baseAddress, dst.baseAddress, bytes), "MPI_Allgather")
            }
        }
        return (0..<size).map { Array(out[($0 * words.count)..<(($0 + 1) * words.count)]) }
    }

    /// Waits until every rank has called it.
    public func barrier() throws {
        guard usesMPI else { return }
        try check(cmpi_barrier(), "MPI_Barrier")
    }

    /// The rows `[lower, upper)` of a batch of `rows` rows that `rank` trains on: contiguous
    /// shares whose sizes differ by at most one (a short last batch may leave a rank none).
    public static func shard(rows: Int, rank: Int, size: Int) -> Range<Int> {
        precondition(size >= 1 && rank >= 0 && rank < size, "ProcessGroup.shard: rank \(rank) of \(size)")
        return (rows * rank / size)..<(rows * (rank + 1) / size)
    }
}
