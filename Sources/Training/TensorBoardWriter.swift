import Foundation

/// A TensorBoard event file (`events.out.tfevents.TIME.HOST.PID`) of scalar summaries, written
/// without TensorFlow: TFRecord framing around `tensorflow.Event` protocol buffers, encoded
/// here by hand (the few fields scalars need).
///
/// Each record is `uint64 length`, `uint32 masked CRC-32C of the length bytes`, the bytes,
/// `uint32 masked CRC-32C of the bytes`, all little-endian. The first event carries
/// `file_version = "brain.Event:2"`; the second is a `SessionLog` START at the first step this
/// process will write, which makes TensorBoard drop points at that step and later from earlier
/// files of the same folder (a resumed run rewrites them, as metrics.jsonl is cut back). Every
/// event is written with one `write` call and not buffered, so a killed run leaves whole
/// records (a reader stops at a truncated last one).
public final class TensorBoardWriter {
    /// The event file.
    public let url: URL
    private let handle: FileHandle

    /// Creates a new event file in `directory` (created if missing) and writes the version
    /// and the session start at `firstStep`. `wallTime` is seconds since 1970.
    public init(directory: URL, firstStep: Int, wallTime: Double = Date().timeIntervalSince1970) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.io(path: directory.path, reason: "cannot create the TensorBoard folder (\(error.localizedDescription))")
        }
        var host = [CChar](repeating: 0, count: 256)
        let name = gethostname(&host, host.count) == 0 ? String(cString: host) : "localhost"
        // A second file of this process in the same second gets a counter (TensorBoard reads
        // every file whose name holds "tfevents").
        let stem = "events.out.tfevents.\(Int(wallTime)).\(name).\(getpid())"
        var candidate = directory.appendingPathComponent(stem)
        var n = 0
        while FileManager.default.fileExists(atPath: candidate.path) {
            n += 1
            candidate = directory.appendingPathComponent("\(stem).\(n)")
        }
        url = candidate
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw TrainingError.io(path: url.path, reason: "cannot create the TensorBoard event file; check permissions and free disk space")
        }
        do {
            handle = try FileHandle(forWritingTo: url)
        } catch {
            throw TrainingError.io(path: url.path, reason: "cannot open the TensorBoard event file (\(error.localizedDescription))")
        }
        try write(TensorBoardEvent.fileVersion(wallTime: wallTime))
        try write(TensorBoardEvent.sessionStart(step: firstStep, wallTime: wallTime))
    }

    deinit { try? handle.close() }

    /// Writes scalars (`tag`, value) at `step` as one event.
    public func add(_ scalars: [(tag: String, value: Double)], step: Int, wallTime: Double = Date().timeIntervalSince1970) throws {
        guard !scalars.isEmpty else { return }
        try write(TensorBoardEvent.scalars(scalars, step: step, wallTime: wallTime))
    }

    private func write(_ event: [UInt8]) throws {
        do {
            try handle.write(contentsOf: Data(TensorBoardEvent.record(event)))
        } catch {
            throw TrainingError.io(path: url.path, reason: "cannot append to the TensorBoard event file (\(error.localizedDescription)); is the disk full?")
        }
    }
}

/// The bytes of TensorBoard events and records (`tensorflow/core/util/event.proto`,
/// `summary.proto`, TFRecord's framing). Field numbers: Event.wall_time 1 (double), step 2
/// (int64), file_version 3 (string), summary 5, session_log 7; Summary.value 1;
/// Summary.Value.tag 1 (string), simple_value 2 (float); SessionLog.status 1 (START = 1).
public enum TensorBoardEvent {
    /// The first event of every file.
    public static func fileVersion(wallTime: Double) -> [UInt8] {
        var e = header(wallTime: wallTime, step: nil)
        bytes(field: 3, Array("brain.Event:2".utf8), into: &e)
        return e
    }

    /// A SessionLog START at `step`.
    public static func sessionStart(step: Int, wallTime: Double) -> [UInt8] {
        var e = header(wallTime: wallTime, step: step)
        var log: [UInt8] = []
        varint(field: 1, 1, into: &log)
        bytes(field: 7, log, into: &e)
        return e
    }

    /// One event holding a summary of scalar values (float32, as TensorBoard stores them).
    public static func scalars(_ scalars: [(tag: String, value: Double)], step: Int, wallTime: Double) -> [UInt8] {
        var summary: [UInt8] = []
        for (tag, value) in scalars {
            var v: [UInt8] = []
            bytes(field: 1, Array(tag.utf8), into: &v)
            v.append(2 << 3 | 5)  // field 2, fixed32
            withUnsafeBytes(of: Float(value).bitPattern.littleEndian) { v.append(contentsOf: $0) }
            bytes(field: 1, v, into: &summary)
        }
        var e = header(wallTime: wallTime, step: step)
        bytes(field: 5, summary, into: &e)
        return e
    }

    /// `data` framed as a TFRecord: length, its masked CRC, the data, its masked CRC.
    public static func record(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(data.count).littleEndian) { out.append(contentsOf: $0) }
        let lengthCRC = maskedCRC32C(out)
        withUnsafeBytes(of: lengthCRC.littleEndian) { out.append(contentsOf: $0) }
        out += data
        withUnsafeBytes(of: maskedCRC32C(data).littleEndian) { out.append(contentsOf: $0) }
        return out
    }

    /// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord uses.
    public static func crc32c(_ data: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// TFRecord's masked CRC: rotated right by 15 bits plus 0xa282ead8.
    public static func maskedCRC32C(_ data: some Sequence<UInt8>) -> UInt32 {
        let crc = crc32c(data)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    private static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    private static func header(wallTime: Double, step: Int?) -> [UInt8] {
        // proto3 leaves fields at their default value out (a zero time or step).
        var e: [UInt8] = []
        if wallTime.bitPattern != 0 {
            e.append(1 << 3 | 1)  // field 1, fixed64
            withUnsafeBytes(of: wallTime.bitPattern.littleEndian) { e.append(contentsOf: $0) }
        }
        if let step, step != 0 { varint(field: 2, UInt64(bitPattern: Int64(step)), into: &e) }
        return e
    }

    private static func varint(field: Int, _ value: UInt64, into out: inout [UInt8]) {
        rawVarint(UInt64(field << 3), into: &out)
        rawVarint(value, into: &out)
    }

    private static func bytes(field: Int, _ value: [UInt8], into out: inout [UInt8]) {
        rawVarint(UInt64(field << 3 | 2), into: &out)
        rawVarint(UInt64(value.count), into: &out)
        out += value
    }

    private static func rawVarint(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }
}
