import Foundation

/// Resident memory of this process, for benchmarks and the memory-flatness test, and the
/// machine's memory, for the memory planner's refusals.
public enum MemoryStats {
    /// Current resident set size in bytes (Linux: /proc/self/statm; elsewhere the peak).
    public static func residentBytes() -> Int {
        #if os(Linux)
        if let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) {
            let fields = text.split(separator: " ")
            if fields.count > 1, let pages = Int(fields[1]) {
                return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
            }
        }
        #endif
        return peakResidentBytes()
    }

    /// Peak resident set size in bytes since the process started: Linux reads `VmHWM` from
    /// /proc/self/status, elsewhere getrusage. (Linux's getrusage keeps the largest peak
    /// across `execve`: a run started by a 1.6 GB test process reported 1.6 GB as its own
    /// peak. `VmHWM` belongs to this program's memory alone.)
    public static func peakResidentBytes() -> Int {
        var usage = rusage()
        #if os(Linux)
        if let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let kib = meminfoKiB(text, key: "VmHWM") {
            return kib * 1024
        }
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss) * 1024  // kilobytes on Linux
        #else
        getrusage(RUSAGE_SELF, &usage)
        return Int(usage.ru_maxrss)  // bytes on macOS
        #endif
    }

    /// How much memory the machine gives this process, and where that number came from.
    public struct MachineMemory: Sendable, Equatable, CustomStringConvertible {
        /// Bytes of physical memory (or the lower limit of this process's memory cgroup).
        public var bytes: Int
        /// Where `bytes` was read: `MemTotal in /proc/meminfo`, `the memory cgroup's memory.max`,
        /// or `sysconf(_SC_PHYS_PAGES)`.
        public var source: String

        /// Memory of `bytes` bytes, read from `source`.
        public init(bytes: Int, source: String) {
            self.bytes = bytes
            self.source = source
        }

        /// `23.5 GiB (MemTotal in /proc/meminfo)`.
        public var description: String { "\(MemoryStats.format(Double(bytes))) (\(source))" }
    }

    /// The machine's memory: Linux reads `MemTotal` from /proc/meminfo and lowers it to the
    /// memory cgroup's limit when one is set (cgroup v2 `memory.max`, v1
    /// `memory.limit_in_bytes`); elsewhere, or when /proc is unreadable,
    /// `sysconf(_SC_PHYS_PAGES) * _SC_PAGESIZE`. `source` names which.
    public static func machineMemory() -> MachineMemory {
        var best: MachineMemory? = nil
        #if os(Linux)
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let kib = meminfoKiB(text, key: "MemTotal") {
            best = MachineMemory(bytes: kib * 1024, source: "MemTotal in /proc/meminfo")
        }
        for (path, name) in [("/sys/fs/cgroup/memory.max", "the memory cgroup's memory.max"),
                             ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "the memory cgroup's memory.limit_in_bytes")] {
            // "max" (v2) or a huge number (v1) means no limit; only a lower limit counts.
            guard let text = try? String(contentsOfFile: path, encoding: .utf8),
                  let limit = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), limit > 0 else { continue }
            if limit < (best?.bytes ?? Int.max) { best = MachineMemory(bytes: limit, source: name) }
        }
        #endif
        if let best { return best }
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        return MachineMemory(bytes: Int(pages) * Int(size), source: "sysconf(_SC_PHYS_PAGES)")
    }

    /// The value in KiB of `key` in /proc/meminfo's or /proc/self/status's text
    /// (`MemTotal:  24683784 kB`, `VmHWM:\t  2200 kB`), or nil.
    static func meminfoKiB(_ text: String, key: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            let fields = line.dropFirst(key.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" })
            return fields.first.flatMap { Int($0) }
        }
        return nil
    }

    /// A byte count for people: `812 KiB`, `41.3 MiB`, `2.47 GiB`, `1.2e+06 GiB` for absurd ones.
    public static func format(_ bytes: Double) -> String {
        let kib = 1024.0, mib = kib * 1024, gib = mib * 1024
        if !bytes.isFinite { return "\(bytes) bytes" }
        if bytes >= 1e6 * gib { return String(format: "%.2g GiB", bytes / gib) }
        if bytes >= gib { return String(format: "%.2f GiB", bytes / gib) }
        if bytes >= mib { return String(format: "%.1f MiB", bytes / mib) }
        return String(format: "%.0f KiB", bytes / kib)
    }
}

/// Bytes held by live tensor storages, and their high-water mark since the last reset: what
/// ops keep and allocate, independent of the buffer pool and of the process's other memory.
/// Tests use it to show how an op's memory grows with its sizes (attention linear in T,
/// the fused head bounded by a chunk of logits). Counted by `TensorStorage`'s init and
/// deinit under a lock (a few nanoseconds per tensor, tensors are large and few).
public enum TensorBytes {
    nonisolated(unsafe) private static var live = 0
    nonisolated(unsafe) private static var high = 0
    private static let lock = NSLock()

    /// Bytes of the tensor storages alive now (requested sizes, before pool rounding).
    public static var liveBytes: Int {
        lock.lock(); defer { lock.unlock() }
        return live
    }

    /// The most bytes alive at once since the last `resetPeak()`.
    public static var peakBytes: Int {
        lock.lock(); defer { lock.unlock() }
        return high
    }

    /// Starts a new high-water mark at the bytes alive now.
    public static func resetPeak() {
        lock.lock(); defer { lock.unlock() }
        high = live
    }

    static func add(_ bytes: Int) {
        lock.lock(); defer { lock.unlock() }
        live += bytes
        if live > high { high = live }
    }

    static func remove(_ bytes: Int) {
        lock.lock(); defer { lock.unlock() }
        live -= bytes
    }
}
