import Foundation

/// The on-disk form of one prepared dataset, `<cache_dir>/<sha256>.ikds`, and what training
/// reads its tokens from: the file is mapped into memory, so a dataset larger than memory
/// trains with only the pages in use resident.
///
/// Layout (little-endian; the examples are written as they are tokenized, the tables once
/// the split and packing are known):
/// ```
/// header   64 bytes   magic "IKDSCACH", version u32, 0 u32, fingerprint (32 bytes, the
///                     SHA-256 the file was built for, checked on read), seq_len u64, 0 u64
/// examples            from byte 64, for each example: n x i32 tokens, n x u8 mask (1 = a
///                     training target), zero bytes to a multiple of 4
/// tables              from `tables` (a multiple of 8), each part padded to 8 bytes:
///   examples E u64, E x u64 byte offsets, E x u32 token counts
///   2 x split (train, then validation):
///     members M u64, M x u32 example numbers (the split's examples, in order)
///     rows R u64, R x u32 examples per row, then their indices into the members, u32 each
///   report   u64 n, then n bytes of PreflightReport JSON
/// footer   16 bytes   tables u64, "IKDSEND."
/// ```
/// It is written to a temporary file in the same directory and renamed into place, so a
/// reader sees either no file or a whole one. Reading checks every count and offset against
/// the file's size before use: a damaged or hostile file is refused naming what is wrong,
/// never read out of bounds.
public enum DataCache {
    /// The file format version; a file with another version is rebuilt.
    public static let version: UInt32 = 2
    static let magic = Array("IKDSCACH".utf8)
    static let endMagic = Array("IKDSEND.".utf8)
    static let headerSize = 64
    static let footerSize = 16

    /// What the cache holds for one dataset.
    struct Contents {
        var report: PreflightReport
        var train: ExampleStore
        var trainPlan: PackingPlan
        var validation: ExampleStore
        var validationPlan: PackingPlan
    }

    /// Maps the cache file at `path` and checks it against the fingerprint and row length it
    /// must have been built for; throws `DatasetError.corruptCache` naming the file and the problem.
    static func read(path: String, fingerprint: [UInt8], seqLen expectedSeqLen: Int) throws -> Contents {
        func corrupt(_ reason: String) -> DatasetError { .corruptCache(path: path, reason: reason) }
        let file = try ExampleFile(mapping: path)
        let size = file.size
        guard size >= headerSize + footerSize else { throw corrupt("file is truncated") }
        var header = BoundedReader(file, from: 0, to: headerSize, path: path)
        guard try header.bytes(8) == magic else { throw corrupt("not an InstructKit data cache (bad magic)") }
        let v = try header.u32()
        guard v == version else { throw corrupt("version \(v), expected \(version)") }
        _ = try header.u32()
        guard try header.bytes(32) == fingerprint else { throw corrupt("fingerprint mismatch") }
        let seqLen = try header.u64()
        guard seqLen == UInt64(expectedSeqLen) else { throw corrupt("seq_len \(seqLen), expected \(expectedSeqLen)") }

        var footer = BoundedReader(file, from: size - footerSize, to: size, path: path)
        let tables = try footer.u64()
        guard try footer.bytes(8) == endMagic else { throw corrupt("file is truncated") }
        guard tables % 8 == 0, tables >= UInt64(headerSize), tables <= UInt64(size - footerSize) else {
            throw corrupt("the table offset \(tables) lies outside the file")
        }
        var r = BoundedReader(file, from: Int(tables), to: size - footerSize, path: path)
        let examplesEnd = Int(tables)
        let e = try r.count(bytesEach: 12)
        let offsets = try r.array(UInt64.self, e)
        let lengths = try r.array(UInt32.self, e)
        try r.align8()
        try file.attach(offsets: offsets, lengths: lengths, count: e, examplesEnd: examplesEnd, headerSize: headerSize, path: path)

        var stores: [ExampleStore] = []
        var plans: [PackingPlan] = []
        for _ in 0..<2 {
            let m = try r.count(bytesEach: 4)
            let members = try r.copyArray(UInt32.self, m)
            try r.align8()
            guard members.allSatisfy({ Int($0) < e }) else { throw corrupt("a split refers to a missing example") }
            let rowCount = try r.count(bytesEach: 4)
            let sizes = try r.copyArray(UInt32.self, rowCount)
            var rows: [[Int32]] = []
            rows.reserveCapacity(rowCount)
            for s in sizes {
                let indices = try r.copyArray(UInt32.self, try r.checkedCount(Int(s), bytesEach: 4))
                guard indices.allSatisfy({ Int($0) < m }) else { throw corrupt("a row refers to a missing example") }
                let tokens = indices.reduce(0) { $0 + file.length(Int(members[Int($1)])) }
                guard tokens <= Int(seqLen) else { throw corrupt("a row holds \(tokens) tokens, more than seq_len \(seqLen)") }
                rows.append(indices.map { Int32($0) })
            }
            try r.align8()
            stores.append(ExampleStore(file: file, members: members))
            plans.append(PackingPlan(seqLen: Int(seqLen), rows: rows))
        }
        let reportBytes = try r.count(bytesEach: 1)
        let report: PreflightReport
        do {
            report = try JSONDecoder().decode(PreflightReport.self, from: Data(try r.bytes(reportBytes)))
        } catch let error as DatasetError {
            throw error
        } catch {
            throw corrupt("bad report: \(error)")
        }
        return Contents(report: report, train: stores[0], trainPlan: plans[0], validation: stores[1], validationPlan: plans[1])
    }
}

/// Writes a cache file as a dataset is tokenized: examples first, as they come, then the
/// tables. Memory holds 12 bytes per example (its offset and length), never its tokens.
final class DataCacheWriter {
    /// The file being written.
    let path: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    /// Bytes already written to the file (the buffer's bytes follow them).
    private var position = 0
    private var offsets: [UInt64] = []
    private var lengths: [UInt32] = []
    private static let flushSize = 4 << 20

    /// Creates `path` (and its directory) and writes the header.
    init(path: String, fingerprint: [UInt8], seqLen: Int) throws {
        self.path = path
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
        } catch {
            throw DatasetError.cacheWriteFailed(path: path, reason: error.localizedDescription)
        }
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw DatasetError.cacheWriteFailed(path: path, reason: String(cString: strerror(errno))) }
        buffer.reserveCapacity(Self.flushSize + (1 << 16))
        buffer += DataCache.magic
        u32(DataCache.version)
        u32(0)
        buffer += fingerprint
        u64(UInt64(seqLen))
        u64(0)
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Examples written so far.
    var count: Int { offsets.count }

    /// Appends one example's tokens and mask.
    func append(_ example: TokenizedExample) throws {
        offsets.append(UInt64(position + buffer.count))
        lengths.append(UInt32(example.tokens.count))
        for t in example.tokens { u32(UInt32(bitPattern: t)) }
        for m in example.trained { buffer.append(m ? 1 : 0) }
        let padding = (4 - example.tokens.count % 4) % 4
        buffer += repeatElement(0, count: padding)
        if buffer.count >= Self.flushSize { try flush() }
    }

    /// Writes the tables and the footer and closes the file.
    func finish(report: PreflightReport, splits: [(members: [UInt32], plan: PackingPlan)]) throws {
        pad8()
        let tables = position + buffer.count
        u64(UInt64(offsets.count))
        for o in offsets { u64(o) }
        for l in lengths { u32(l) }
        pad8()
        for split in splits {
            u64(UInt64(split.members.count))
            for m in split.members { u32(m) }
            pad8()
            u64(UInt64(split.plan.rows.count))
            for row in split.plan.rows { u32(UInt32(row.count)) }
            for row in split.plan.rows { for i in row { u32(UInt32(i)) } }
            pad8()
        }
        let json: [UInt8]
        do { json = [UInt8](try JSONEncoder().encode(report)) } catch {
            throw DatasetError.cacheWriteFailed(path: path, reason: "cannot encode the report: \(error)")
        }
        u64(UInt64(json.count))
        buffer += json
        pad8()
        u64(UInt64(tables))
        buffer += DataCache.endMagic
        try flush()
        close(fd)
        fd = -1
    }

    /// Removes the file (after a failure).
    func discard() {
        if fd >= 0 { close(fd) }
        fd = -1
        unlink(path)
    }

    private func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { buffer += $0 } }
    private func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { buffer += $0 } }
    private func pad8() {
        let written = position + buffer.count
        buffer += repeatElement(0, count: (8 - written % 8) % 8)
    }

    private func flush() throws {
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw DatasetError.cacheWriteFailed(path: path, reason: String(cString: strerror(errno)))
            }
            done += n
        }
        position += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }
}
