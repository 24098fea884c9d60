import Foundation

/// A new empty directory under the system's temporary directory, named `prefix-UUID`.
public func temporaryDirectory(_ prefix: String = "instructkit-test") throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}
