#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A read-only memory mapping of a whole file. Large archives are read through this, so a
/// reader touches only the pages it converts and never holds two copies of the file.
/// An empty file maps to an empty buffer.
final class MappedFile {
    let path: String
    let bytes: UnsafeRawBufferPointer
    private let base: UnsafeMutableRawPointer?

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw CheckpointError.io(path: path, operation: "open for reading", reason: errnoString()) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw CheckpointError.io(path: path, operation: "stat", reason: errnoString()) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw CheckpointError.io(path: path, operation: "read", reason: "not a regular file")
        }
        let size = Int(st.st_size)
        if size == 0 {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw CheckpointError.io(path: path, operation: "memory-map", reason: errnoString())
        }
        base = p
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    deinit {
        if let base { munmap(base, bytes.count) }
    }
}

func errnoString() -> String { String(cString: strerror(errno)) }

/// Writes a file through POSIX calls so it can be fsync'ed: `body` receives a sink that
/// appends bytes; the file is flushed to disk (fsync) before this returns.
func writeFileDurably(path: String, _ body: (_ write: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw CheckpointError.io(path: path, operation: "create", reason: errnoString()) }
    var closed = false
    defer { if !closed { close(fd) } }
    try body { chunk in
        var offset = 0
        while offset < chunk.count {
            guard let base = chunk.baseAddress else { return }
            let n = Glibc_write(fd, base + offset, chunk.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw CheckpointError.io(path: path, operation: "write", reason: errnoString())
            }
            offset += n
        }
    }
    guard fsync(fd) == 0 else { throw CheckpointError.io(path: path, operation: "fsync", reason: errnoString()) }
    closed = true
    guard close(fd) == 0 else { throw CheckpointError.io(path: path, operation: "close", reason: errnoString()) }
}

/// Writes `data` to `path` and fsyncs it.
func writeFileDurably(path: String, data: Data) throws {
    try writeFileDurably(path: path) { write in
        try data.withUnsafeBytes { try write($0) }
    }
}

/// fsyncs a directory so that entries created, renamed or removed in it are on disk.
func fsyncDirectory(_ path: String) throws {
    let fd = open(path, O_RDONLY | O_DIRECTORY)
    guard fd >= 0 else { throw CheckpointError.io(path: path, operation: "open directory", reason: errnoString()) }
    defer { close(fd) }
    guard fsync(fd) == 0 else { throw CheckpointError.io(path: path, operation: "fsync directory", reason: errnoString()) }
}

/// Atomically replaces `path` by a file holding `data`: write a temporary sibling, fsync it,
/// rename over `path`, fsync the directory. Readers see the old or the new file, never a mix.
func replaceFileAtomically(path: String, data: Data) throws {
    try replaceFileAtomically(path: path) { tmp in try writeFileDurably(path: tmp, data: data) }
}

/// Atomically replaces `path` by whatever `write` puts at the temporary path it is given (a
/// hidden sibling). `write` must leave the file complete and fsync'ed. On any error the
/// temporary file is removed and `path` is untouched.
func replaceFileAtomically(path: String, _ write: (_ temporaryPath: String) throws -> Void) throws {
    let url = URL(fileURLWithPath: path)
    let directory = url.deletingLastPathComponent().path
    let tmp = url.deletingLastPathComponent()
        .appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
    do {
        try write(tmp)
    } catch {
        unlink(tmp)
        throw error
    }
    guard rename(tmp, path) == 0 else {
        let reason = errnoString()
        unlink(tmp)
        throw CheckpointError.io(path: path, operation: "rename \(tmp) to", reason: reason)
    }
    try fsyncDirectory(directory.isEmpty ? "." : directory)
}

/// fsyncs an existing file.
func fsyncFile(_ path: String) throws {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw CheckpointError.io(path: path, operation: "open to fsync", reason: errnoString()) }
    defer { close(fd) }
    guard fsync(fd) == 0 else { throw CheckpointError.io(path: path, operation: "fsync", reason: errnoString()) }
}

@inline(__always)
private func Glibc_write(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, p, n)
    #else
    return Darwin.write(fd, p, n)
    #endif
}
