import Foundation
import Hashing

/// A file's bytes in order, a fixed-size chunk at a time, so reading a file of any size takes
/// the same memory. `next()` returns nil at the end of the file.
struct FileChunks {
    /// Bytes per chunk: large enough that system calls cost nothing, small enough to stay in cache.
    static let chunkSize = 1 << 20
    let path: String
    private let fd: Int32
    private var buffer: [UInt8]

    /// Opens `path`; throws `DatasetError.unreadableFile` naming it, in the plain words of
    /// `fileReadProblem`, when it cannot be read. Anything but a regular file (a directory, a
    /// pipe, a device) is refused before it is opened: opening a pipe would wait for a writer.
    init(path: String) throws {
        self.path = path
        var info = stat()
        guard !path.isEmpty else { throw DatasetError.unreadableFile(path: path, reason: "the path is empty") }
        guard stat(path, &info) == 0 else {
            throw DatasetError.unreadableFile(path: path, reason: String(cString: strerror(errno)))
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw DatasetError.unreadableFile(path: path, reason: "it is a directory, not a file")
        default: throw DatasetError.unreadableFile(path: path, reason: "it is not a regular file")
        }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw DatasetError.unreadableFile(path: path, reason: String(cString: strerror(errno)))
        }
        self.fd = fd
        buffer = [UInt8](repeating: 0, count: Self.chunkSize)
    }

    /// Closes the file (the reader may not be used afterwards).
    func closeFile() { close(fd) }

    /// The next chunk, or nil at the end of the file. Throws naming the file on a read error.
    mutating func next() throws -> ArraySlice<UInt8>? {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            throw DatasetError.unreadableFile(path: path, reason: String(cString: strerror(errno)))
        }
        return n == 0 ? nil : buffer[0..<n]
    }

    /// SHA-256 and size of the file at `path`, read a chunk at a time.
    static func digest(path: String) throws -> (sha256: [UInt8], bytes: Int) {
        var chunks = try FileChunks(path: path)
        defer { chunks.closeFile() }
        var hasher = SHA256()
        var total = 0
        while let chunk = try chunks.next() {
            hasher.update(chunk)
            total += chunk.count
        }
        return (hasher.finalize(), total)
    }
}
