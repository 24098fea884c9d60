import Foundation

/// The on-disk cache of one prepared dataset, `<cache_dir>/<sha256>.ikds`.
///
/// Layout (little-endian):
/// ```
/// magic    8 bytes  "IKDSCACH"
/// version  u32      DataCache.version
/// sha256   32 bytes the fingerprint the file was built for (checked on read)
/// seq_len  u64      row length T
/// report   u64 n, then n bytes of PreflightReport JSON
/// 2 x split (train, then validation):
///   examples u64 E, tokens u64 N
///   offsets  (E + 1) x u64
///   tokens   N x i32
///   trained  N x u8
///   rows     u64 R, then R x u32 (examples per row), then sum of those x i32 (example indices)
/// end      4 bytes  "END."
/// ```
/// It is written to a temporary file in the same directory and renamed into place, so a
/// reader sees either no file or a whole one.
public enum DataCache {
    /// The file format version; a file with another version is rebuilt.
    public static let version: UInt32 = 1
    static let magic = Array("IKDSCACH".utf8)
    static let endMarker = Array("END.".utf8)

    /// What the cache holds for one dataset.
    struct Contents {
        var report: PreflightReport
        var train: ExampleStore
        var trainPlan: PackingPlan
        var validation: ExampleStore
        var validationPlan: PackingPlan
    }

    static func write(_ c: Contents, path: String, fingerprint: [UInt8]) throws {
        var out: [UInt8] = magic
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func i32(_ v: Int32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        u32(version)
        out += fingerprint
        u64(UInt64(c.trainPlan.seqLen))
        let json: [UInt8]
        do { json = [UInt8](try JSONEncoder().encode(c.report)) } catch {
            throw DatasetError.cacheWriteFailed(path: path, reason: "cannot encode the report: \(error)")
        }
        u64(UInt64(json.count))
        out += json
        for (store, plan) in [(c.train, c.trainPlan), (c.validation, c.validationPlan)] {
            u64(UInt64(store.count))
            u64(UInt64(store.tokens.count))
            for o in store.offsets { u64(UInt64(o)) }
            for t in store.tokens { i32(t) }
            out += store.trained
            u64(UInt64(plan.rows.count))
            for r in plan.rows { u32(UInt32(r.count)) }
            for r in plan.rows { for e in r { i32(e) } }
        }
        out += endMarker

        let dir = (path as NSString).deletingLastPathComponent
        let tmp = path + ".tmp-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try Data(out).write(to: URL(fileURLWithPath: tmp))
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw DatasetError.cacheWriteFailed(path: path, reason: error.localizedDescription)
        }
        if rename(tmp, path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: tmp)
            throw DatasetError.cacheWriteFailed(path: path, reason: reason)
        }
    }

    static func read(path: String, fingerprint: [UInt8]) throws -> Contents {
        let bytes: [UInt8]
        do { bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) } catch {
            throw DatasetError.corruptCache(path: path, reason: error.localizedDescription)
        }
        var r = ByteReader(bytes: bytes, path: path)
        guard try r.take(8) == magic else { throw DatasetError.corruptCache(path: path, reason: "not an InstructKit data cache (bad magic)") }
        let v = try r.u32()
        guard v == version else { throw DatasetError.corruptCache(path: path, reason: "version \(v), expected \(version)") }
        guard try r.take(32) == fingerprint else { throw DatasetError.corruptCache(path: path, reason: "fingerprint mismatch") }
        let seq = Int(try r.u64())
        let report: PreflightReport
        do { report = try JSONDecoder().decode(PreflightReport.self, from: Data(try r.take(Int(try r.u64())))) } catch let e as DatasetError {
            throw e
        } catch {
            throw DatasetError.corruptCache(path: path, reason: "bad report: \(error)")
        }
        var stores: [ExampleStore] = []
        var plans: [[[Int32]]] = []
        for _ in 0..<2 {
            let e = Int(try r.u64()), n = Int(try r.u64())
            guard e < bytes.count / 8, n <= bytes.count else { throw DatasetError.corruptCache(path: path, reason: "counts larger than the file") }
            var offsets: [Int] = []
            offsets.reserveCapacity(e + 1)
            for _ in 0...e { offsets.append(Int(try r.u64())) }
            var tokens: [Int32] = []
            tokens.reserveCapacity(n)
            for _ in 0..<n { tokens.append(try r.i32()) }
            let trained = try r.take(n)
            guard offsets.first == 0, offsets.last == n, zip(offsets, offsets.dropFirst()).allSatisfy({ $0 <= $1 }) else {
                throw DatasetError.corruptCache(path: path, reason: "inconsistent example offsets")
            }
            let rowCount = Int(try r.u64())
            guard rowCount <= bytes.count / 4 else { throw DatasetError.corruptCache(path: path, reason: "counts larger than the file") }
            var sizes: [Int] = []
            for _ in 0..<rowCount { sizes.append(Int(try r.u32())) }
            var rows: [[Int32]] = []
            for s in sizes {
                var row: [Int32] = []
                for _ in 0..<s {
                    let idx = try r.i32()
                    guard idx >= 0 && Int(idx) < e else { throw DatasetError.corruptCache(path: path, reason: "row refers to a missing example") }
                    row.append(idx)
                }
                rows.append(row)
            }
            stores.append(ExampleStore(tokens: tokens, trained: trained, offsets: offsets))
            plans.append(rows)
        }
        guard try r.take(4) == endMarker, r.atEnd else { throw DatasetError.corruptCache(path: path, reason: "missing end marker") }
        return Contents(
            report: report, train: stores[0], trainPlan: PackingPlan(seqLen: seq, rows: plans[0]),
            validation: stores[1], validationPlan: PackingPlan(seqLen: seq, rows: plans[1]))
    }

    private struct ByteReader {
        let bytes: [UInt8]
        let path: String
        var at = 0
        var atEnd: Bool { at == bytes.count }
        mutating func take(_ n: Int) throws -> [UInt8] {
            guard n >= 0, n <= bytes.count - at else { throw DatasetError.corruptCache(path: path, reason: "file is truncated") }
            defer { at += n }
            return Array(bytes[at..<at + n])
        }
        mutating func u32() throws -> UInt32 { try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        mutating func u64() throws -> UInt64 { try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) } }
        mutating func i32() throws -> Int32 { Int32(bitPattern: try u32()) }
    }
}
