#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The contents of one file in a checkpoint directory.
public enum CheckpointFile {
    /// Raw bytes (trainer_state.json, recipe.yaml, tokenizer.json, ...).
    case bytes(Data)
    /// Named tensors, stored as Float32 safetensors (model.safetensors, optimizer.safetensors).
    case tensors(NamedTensors)
    /// A closure that writes the file at the given URL itself (for streaming writers). The
    /// writer fsyncs the file afterwards and checksums what is on disk.
    case custom((URL) throws -> Void)
}

/// Saves checkpoint directories atomically.
///
/// A save writes every file into a hidden temporary sibling (`.tmp-step-NNNNNNN-...`),
/// fsyncs each file, writes `manifest.json` (sizes and SHA-256 of the files, as read back from
/// disk), fsyncs the temporary directory, renames it to `step-NNNNNNN` and fsyncs the run
/// directory; only then is `latest` replaced (temporary file + rename). So at every instant a
/// `step-NNNNNNN` directory is either absent or complete, and `latest` names a complete one.
/// A failure at any point removes the temporary directory and leaves earlier checkpoints and
/// `latest` untouched. One writer per run directory at a time (`RunLock`, which `instruct train`
/// and `instruct import` take).
public enum CheckpointWriter {
    /// The directory name for a step: `step-` and at least seven digits (`step-0000120`).
    public static func directoryName(step: Int) -> String {
        precondition(step >= 0, "CheckpointWriter.directoryName: negative step \(step)")
        let digits = String(step)
        return "step-" + String(repeating: "0", count: max(0, 7 - digits.count)) + digits
    }

    /// Saves `files` as checkpoint `runDirectory/step-NNNNNNN`, then points `latest` at it and,
    /// when `keepLast` is given, prunes older checkpoints (see `prune`). Creates `runDirectory`
    /// if needed. An existing directory for the same step is replaced. Returns the new
    /// checkpoint's URL. If only the pruning fails (it runs last), the error is thrown although
    /// the new checkpoint and `latest` are already complete on disk.
    ///
    /// File names must be plain names (no `/`, not `manifest.json`, not starting with `.`).
    @discardableResult
    public static func save(step: Int, in runDirectory: URL, files: [String: CheckpointFile],
                            keepLast: Int? = nil) throws -> URL {
        precondition(step >= 0, "CheckpointWriter.save: negative step \(step)")
        if let k = keepLast { precondition(k >= 1, "CheckpointWriter.save: keepLast must be at least 1, got \(k)") }
        let run = runDirectory.standardizedFileURL
        do {
            try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError.io(path: run.path, operation: "create run directory", reason: error.localizedDescription)
        }
        let name = directoryName(step: step)
        let url = try save(directory: run.appendingPathComponent(name, isDirectory: true), step: step, files: files)
        try replaceFileAtomically(path: run.appendingPathComponent(CheckpointDirectory.latestFileName).path,
                                  data: Data((name + "\n").utf8))
        if let k = keepLast {
            try prune(runDirectory: run, keepLast: k, knownValidStep: step)
        }
        return url
    }

    /// Saves `files` as the checkpoint directory `directory` (temporary sibling, fsync, rename,
    /// as described on the type) without touching `latest`. Replaces an existing directory.
    @discardableResult
    public static func save(directory: URL, step: Int? = nil, files: [String: CheckpointFile]) throws -> URL {
        for name in files.keys {
            if let reason = problemWithFileName(name) { throw CheckpointError.invalidFileName(name: name, reason: reason) }
        }
        let final = URL(fileURLWithPath: directory.standardizedFileURL.path, isDirectory: true)
        let parent = final.deletingLastPathComponent()
        let unique = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let tmp = parent.appendingPathComponent(".tmp-\(final.lastPathComponent)-\(unique)")
        let fm = FileManager.default
        do {
            try fm.createDirectory(at: tmp, withIntermediateDirectories: false)
        } catch {
            throw CheckpointError.io(path: tmp.path, operation: "create temporary directory", reason: error.localizedDescription)
        }
        do {
            var entries: [CheckpointManifest.Entry] = []
            for name in files.keys.sorted() {
                guard let file = files[name] else { continue }
                let path = tmp.appendingPathComponent(name)
                switch file {
                case .bytes(let data):
                    try writeFileDurably(path: path.path, data: data)
                case .tensors(let tensors):
                    try SafeTensors.write(tensors, to: path)
                case .custom(let write):
                    try write(path)
                    try fsyncFile(path.path)
                }
                let digest = try fileDigest(path: path.path)
                entries.append(.init(name: name, bytes: digest.bytes, sha256: digest.sha256))
            }
            let manifest = CheckpointManifest(step: step, files: entries)
            try writeFileDurably(path: tmp.appendingPathComponent(CheckpointManifest.fileName).path, data: try manifest.encoded())
            try fsyncDirectory(tmp.path)
            try moveIntoPlace(tmp, final, parent: parent, unique: unique)
        } catch {
            try? fm.removeItem(at: tmp)
            throw error
        }
        return final
    }

    /// Renames `tmp` to `final`. An existing `final` is first renamed aside and removed after,
    /// so the directory under the final name is always complete.
    private static func moveIntoPlace(_ tmp: URL, _ final: URL, parent: URL, unique: String) throws {
        var aside: URL?
        if FileManager.default.fileExists(atPath: final.path) {
            let trash = parent.appendingPathComponent(".trash-\(final.lastPathComponent)-\(unique)")
            guard rename(final.path, trash.path) == 0 else {
                throw CheckpointError.io(path: final.path, operation: "move the previous checkpoint aside", reason: errnoString())
            }
            aside = trash
        }
        guard rename(tmp.path, final.path) == 0 else {
            let reason = errnoString()
            if let aside { _ = rename(aside.path, final.path) }
            throw CheckpointError.io(path: final.path, operation: "rename \(tmp.lastPathComponent) to", reason: reason)
        }
        try fsyncDirectory(parent.path)
        if let aside { try? FileManager.default.removeItem(at: aside) }
    }

    /// Deletes older checkpoints of `runDirectory` so that the newest `keepLast` remain (by
    /// step), and removes leftover temporary directories of interrupted saves. It never deletes
    /// the checkpoint `latest` points to, the one `best` points to (`markBest`), nor the newest
    /// checkpoint that verifies (checksums match): if the newest ones are corrupt, an older
    /// valid one is kept as well.
    /// `knownValidStep` skips verifying a checkpoint just written.
    public static func prune(runDirectory: URL, keepLast: Int, knownValidStep: Int? = nil) throws {
        precondition(keepLast >= 1, "CheckpointWriter.prune: keepLast must be at least 1, got \(keepLast)")
        let run = runDirectory.standardizedFileURL
        let all = try CheckpointDirectory.list(runDirectory: run)
        var keep = Set(all.suffix(keepLast).map { $0.step })
        if let pointed = try? CheckpointDirectory.latestPointer(runDirectory: run),
           let entry = all.first(where: { $0.url.lastPathComponent == pointed }) {
            keep.insert(entry.step)
        }
        if let pointed = try? CheckpointDirectory.pointer(CheckpointDirectory.bestFileName, runDirectory: run),
           let entry = all.first(where: { $0.url.lastPathComponent == pointed }) {
            keep.insert(entry.step)
        }
        for entry in all.reversed() {
            if entry.step == knownValidStep || (try? CheckpointReader.open(entry.url)) != nil {
                keep.insert(entry.step)
                break
            }
        }
        let fm = FileManager.default
        for entry in all where !keep.contains(entry.step) {
            do {
                try fm.removeItem(at: entry.url)
            } catch {
                throw CheckpointError.io(path: entry.url.path, operation: "delete old checkpoint", reason: error.localizedDescription)
            }
        }
        _ = try? recoverInterruptedSaves(runDirectory: run)
        try fsyncDirectory(run.path)
    }

    /// Points `runDirectory/best` at checkpoint `step` (atomically, like `latest`): the
    /// checkpoint `training.keep_best` keeps, which `prune` never deletes.
    public static func markBest(step: Int, in runDirectory: URL) throws {
        try replaceFileAtomically(path: runDirectory.standardizedFileURL.appendingPathComponent(CheckpointDirectory.bestFileName).path,
                                  data: Data((directoryName(step: step) + "\n").utf8))
    }

    /// Why `name` cannot be a checkpoint file name, or nil when it can.
    static func problemWithFileName(_ name: String) -> String? {
        if name.isEmpty { return "is empty" }
        if name.contains("/") || name.contains("\0") { return "contains '/' or NUL" }
        if name.hasPrefix(".") { return "starts with '.'" }
        if name == CheckpointManifest.fileName { return "is reserved for the manifest" }
        if name.utf8.count > 200 { return "is longer than 200 bytes" }
        return nil
    }
}
