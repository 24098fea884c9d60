import Foundation

/// A data-cache file mapped read-only into memory, with its example table checked: example
/// `i`'s tokens and mask bytes are read in place. The pages are the file's own (the kernel
/// reads them on first use and may drop them under memory pressure), so the file may be far
/// larger than memory.
///
/// Immutable once `DataCache.read` has attached the checked table, before the file is shared;
/// the mapping is removed when the last store using it goes.
final class ExampleFile: @unchecked Sendable {
    /// The file's size in bytes.
    let size: Int
    let base: UnsafeRawPointer
    private let path: String
    private var offsets: UnsafePointer<UInt64>?
    private var lengths: UnsafePointer<UInt32>?
    /// Examples in the table.
    private(set) var count = 0

    /// Maps `path` read-only. Throws `DatasetError.corruptCache` naming it when it cannot.
    init(mapping path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw DatasetError.corruptCache(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw DatasetError.corruptCache(path: path, reason: String(cString: strerror(errno))) }
        size = Int(info.st_size)
        guard size > 0 else { throw DatasetError.corruptCache(path: path, reason: "file is truncated") }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw DatasetError.corruptCache(path: path, reason: "cannot map the file (\(String(cString: strerror(errno))))")
        }
        base = UnsafeRawPointer(p)
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), size) }

    /// Takes the example table (`count` offsets and lengths in the mapping) after checking that
    /// every example lies inside the examples area `[headerSize, examplesEnd)`, 4-byte aligned.
    func attach(offsets: UnsafePointer<UInt64>, lengths: UnsafePointer<UInt32>, count: Int, examplesEnd: Int, headerSize: Int,
                path: String) throws {
        for i in 0..<count {
            let offset = UInt64(littleEndian: offsets[i]), n = UInt64(UInt32(littleEndian: lengths[i]))
            guard n >= 1, offset % 4 == 0, offset >= UInt64(headerSize), offset <= UInt64(examplesEnd),
                  n <= (UInt64(examplesEnd) - offset) / 5 else {
                throw DatasetError.corruptCache(path: path, reason: "example \(i) lies outside the file's examples")
            }
        }
        self.offsets = offsets
        self.lengths = lengths
        self.count = count
    }

    /// The length in tokens of example `i` (in `0..<count`).
    func length(_ i: Int) -> Int {
        precondition(i >= 0 && i < count, "ExampleFile: example \(i) of \(count)")
        // `attach` set the table before any store could use the file.
        return Int(UInt32(littleEndian: lengths![i]))
    }

    /// Calls `body` with example `i`'s tokens and mask bytes in place.
    func withExample<R>(_ i: Int, _ body: (UnsafeBufferPointer<Int32>, UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        let n = length(i)
        // Checked 4-byte aligned and inside the file by `attach`; tokens are little-endian
        // i32, as this (little-endian) machine reads them.
        let start = base + Int(UInt64(littleEndian: offsets![i]))
        let tokens = UnsafeBufferPointer(start: start.assumingMemoryBound(to: Int32.self), count: n)
        let mask = UnsafeBufferPointer(start: (start + 4 * n).assumingMemoryBound(to: UInt8.self), count: n)
        return try body(tokens, mask)
    }
}

/// Reads little-endian numbers and tables from a region `[from, to)` of a mapped file,
/// checking every read against the region's end.
struct BoundedReader {
    private let file: ExampleFile
    private var at: Int
    private let end: Int
    private let path: String

    init(_ file: ExampleFile, from: Int, to: Int, path: String) {
        self.file = file
        at = from
        end = to
        self.path = path
    }

    private func truncated() -> DatasetError { .corruptCache(path: path, reason: "file is truncated") }

    mutating func bytes(_ n: Int) throws -> [UInt8] {
        guard n >= 0, n <= end - at else { throw truncated() }
        defer { at += n }
        return Array(UnsafeRawBufferPointer(start: file.base + at, count: n))
    }

    mutating func u32() throws -> UInt32 {
        guard end - at >= 4 else { throw truncated() }
        defer { at += 4 }
        return UInt32(littleEndian: file.base.loadUnaligned(fromByteOffset: at, as: UInt32.self))
    }

    mutating func u64() throws -> UInt64 {
        guard end - at >= 8 else { throw truncated() }
        defer { at += 8 }
        return UInt64(littleEndian: file.base.loadUnaligned(fromByteOffset: at, as: UInt64.self))
    }

    /// A u64 count of items of `bytesEach` bytes that must fit in what is left of the region.
    mutating func count(bytesEach: Int) throws -> Int {
        let n = try u64()
        guard n <= UInt64(end - at) / UInt64(bytesEach) else {
            throw DatasetError.corruptCache(path: path, reason: "a count (\(n)) is larger than the file")
        }
        return Int(n)
    }

    /// `n` items of `bytesEach` bytes must fit in what is left of the region.
    func checkedCount(_ n: Int, bytesEach: Int) throws -> Int {
        guard n >= 0, n <= (end - at) / bytesEach else {
            throw DatasetError.corruptCache(path: path, reason: "a count (\(n)) is larger than the file")
        }
        return n
    }

    /// `n` values in place (the position must be aligned for `T`, as the writer pads tables).
    mutating func array<T: FixedWidthInteger>(_ type: T.Type, _ n: Int) throws -> UnsafePointer<T> {
        let bytes = try checkedCount(n, bytesEach: MemoryLayout<T>.size) * MemoryLayout<T>.size
        guard at % MemoryLayout<T>.alignment == 0 else {
            throw DatasetError.corruptCache(path: path, reason: "a table is not aligned")
        }
        defer { at += bytes }
        return (file.base + at).assumingMemoryBound(to: T.self)
    }

    /// `n` little-endian values, copied.
    mutating func copyArray<T: FixedWidthInteger>(_ type: T.Type, _ n: Int) throws -> [T] {
        let p = try array(type, n)
        return (0..<n).map { T(littleEndian: p[$0]) }
    }

    /// Skips to the next multiple of 8 (the writer pads each table).
    mutating func align8() throws {
        let pad = (8 - at % 8) % 8
        guard pad <= end - at else { throw truncated() }
        at += pad
    }
}
