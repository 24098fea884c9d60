#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// An exclusive lock on a run directory: one process at a time writes its checkpoints,
/// `latest`, metrics and resolved recipe (two `instruct train` on one `output.dir` would
/// interleave them).
///
/// The lock is `flock(2)` on the hidden file `.lock` in the directory, which also records
/// who holds it (pid, host, start time, command) for the message another process gets. The
/// kernel drops a `flock` when its holder exits in any way (SIGKILL and crashes included), so
/// a `.lock` file left behind is never a stale lock: the next process simply takes it. Where
/// the file system does not support `flock` (some network mounts), the recorded pid decides:
/// a holder on this host that is no longer running is stale and replaced, any other holder
/// is respected.
///
/// `release()` (or deinit) removes the file, and the directory when acquiring created it and
/// it is still empty. Rank 0 alone takes it in a data-parallel run.
public final class RunLock {
    /// The lock file's name in the run directory (hidden: never taken for a checkpoint).
    public static let fileName = ".lock"

    /// The locked run directory.
    public let directory: URL
    private var fd: Int32
    private let createdDirectory: Bool

    private init(directory: URL, fd: Int32, createdDirectory: Bool) {
        self.directory = directory
        self.fd = fd
        self.createdDirectory = createdDirectory
    }

    deinit { release() }

    /// Takes the lock on `runDirectory`, creating the directory if needed. `command` is recorded
    /// for the message other processes get (`instruct train r.yaml`). Throws `runLocked`
    /// naming the holder when another live process has it, `io` when the directory or the file
    /// cannot be made.
    public static func acquire(runDirectory: URL, command: String) throws -> RunLock {
        let dir = URL(fileURLWithPath: runDirectory.standardizedFileURL.path, isDirectory: true)
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        let existed = fm.fileExists(atPath: dir.path, isDirectory: &isDirectory)
        if existed && !isDirectory.boolValue {
            throw CheckpointError.io(path: dir.path, operation: "use as a run directory", reason: "it is a file, not a directory")
        }
        if !existed {
            do {
                try fm.createDirectory(at: dir, withIntermediateDirectories: true)
            } catch {
                throw CheckpointError.io(path: dir.path, operation: "create run directory", reason: error.localizedDescription)
            }
        }
        let path = dir.appendingPathComponent(fileName).path
        // A holder that removed the file between our open and our flock leaves us a lock on an
        // unlinked file: check that the path is still our file, and try again if not.
        for _ in 0..<8 {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw CheckpointError.io(path: path, operation: "create the run lock", reason: errnoString()) }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let code = errno
                let holder = describeHolder(readRecord(fd))
                close(fd)
                if code == EWOULDBLOCK || code == EAGAIN {
                    throw CheckpointError.runLocked(path: dir.path, holder: holder)
                }
                // No flock here: decide by the recorded pid.
                if let record = readRecord(path: path), record.isAlive {
                    throw CheckpointError.runLocked(path: dir.path, holder: describeHolder(record))
                }
                let fd2 = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
                guard fd2 >= 0 else {
                    throw CheckpointError.io(path: path, operation: "create the run lock", reason: errnoString())
                }
                let lock = RunLock(directory: dir, fd: fd2, createdDirectory: !existed)
                try lock.record(command: command, path: path)
                return lock
            }
            var held = stat(), current = stat()
            guard fstat(fd, &held) == 0, stat(path, &current) == 0, held.st_ino == current.st_ino, held.st_dev == current.st_dev else {
                close(fd)
                continue
            }
            let lock = RunLock(directory: dir, fd: fd, createdDirectory: !existed)
            try lock.record(command: command, path: path)
            return lock
        }
        throw CheckpointError.io(path: path, operation: "take the run lock", reason: "the lock file kept being replaced by another process")
    }

    /// Drops the lock: removes the lock file (while still holding it, so no one else can have
    /// taken it), then closes it; removes the directory too when acquiring created it and
    /// nothing else was written. Called again, does nothing.
    public func release() {
        guard fd >= 0 else { return }
        let path = directory.appendingPathComponent(Self.fileName).path
        var held = stat(), current = stat()
        if fstat(fd, &held) == 0, stat(path, &current) == 0, held.st_ino == current.st_ino, held.st_dev == current.st_dev {
            unlink(path)
        }
        close(fd)
        fd = -1
        if createdDirectory { rmdir(directory.path) }
    }

    /// Removes `runDirectory`'s lock file when its record names `processID`: for a process
    /// about to `_exit` without unwinding (the kernel drops the `flock` itself; this only
    /// tidies the file). Never throws.
    public static func removeFile(runDirectory: URL, ifHeldBy processID: Int32) {
        let path = runDirectory.appendingPathComponent(fileName).path
        guard let record = readRecord(path: path), record.pid == processID, record.host == hostName else { return }
        unlink(path)
    }

    /// Who holds a lock, as recorded in its file.
    struct Record {
        var pid: Int32
        var host: String
        var started: String
        var command: String

        /// Whether the holder is a running process of this host (a holder on another host is
        /// assumed alive: it cannot be checked from here).
        var isAlive: Bool {
            guard host == RunLock.hostName else { return true }
            return kill(pid, 0) == 0 || errno == EPERM
        }
    }

    static var hostName: String {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count - 1)
        return String(cString: name)
    }

    /// Writes this process's record into the lock file.
    private func record(command: String, path: String) throws {
        let formatter = ISO8601DateFormatter()
        let object: [String: Any] = ["pid": Int(getpid()), "host": Self.hostName, "started": formatter.string(from: Date()),
                                     "command": String(command.prefix(500))]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        guard ftruncate(fd, 0) == 0 else { throw CheckpointError.io(path: path, operation: "write the run lock", reason: errnoString()) }
        let written = data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        guard written == data.count else { throw CheckpointError.io(path: path, operation: "write the run lock", reason: errnoString()) }
    }

    /// The record in an open lock file (at most 4 KiB read), nil when it holds none.
    static func readRecord(_ fd: Int32) -> Record? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        return parseRecord(Data(buffer[0..<n]))
    }

    static func readRecord(path: String) -> Record? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return readRecord(fd)
    }

    static func parseRecord(_ data: Data) -> Record? {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let pid = object["pid"] as? Int, let narrow = Int32(exactly: pid) else { return nil }
        return Record(pid: narrow, host: object["host"] as? String ?? "?", started: object["started"] as? String ?? "?",
                      command: object["command"] as? String ?? "?")
    }

    /// "pid 1234 on host h since 2025-01-01T10:00:00Z: instruct train r.yaml".
    static func describeHolder(_ record: Record?) -> String {
        guard let r = record else { return "its lock file does not say which process; it is being taken right now" }
        return "pid \(r.pid) on host \(r.host) since \(r.started): \(r.command)"
    }
}
