#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Cleaning up after saves that never finished: a process killed (SIGKILL, power loss, a
/// second Ctrl-C) while `CheckpointWriter.save` ran leaves hidden siblings in the run
/// directory. None of them is ever where `latest` or `CheckpointDirectory.list` looks, so
/// they are only clutter, except in one case: a kill between moving an existing `step-N`
/// aside (`.trash-step-N-...`) and renaming the new one into place leaves `step-N` absent and
/// its only complete copy in the trash; it is renamed back.
extension CheckpointWriter {
    /// What `recoverInterruptedSaves` did, one line per leftover, for the run's report.
    public struct Recovery: Equatable, Sendable {
        /// Temporary directories and files of unfinished saves that were removed.
        public var removed: [String] = []
        /// Checkpoints moved aside by an interrupted replace and put back under their name.
        public var restored: [String] = []

        /// True when nothing was left over.
        public var isEmpty: Bool { removed.isEmpty && restored.isEmpty }
    }

    /// The hidden names a save creates in a run directory: `.tmp-step-...` (the checkpoint
    /// being written), `.trash-step-...` (the checkpoint it replaces), `.latest.tmp-...`, `.best.tmp-...`, and
    /// `.deleting-...` (one of those being removed by `removeUnfinishedSaves`).
    static func isSaveLeftover(_ name: String) -> Bool {
        name.hasPrefix(".tmp-step-") || name.hasPrefix(".trash-step-") || name.hasPrefix(".\(CheckpointDirectory.latestFileName).tmp-")
            || name.hasPrefix(".\(CheckpointDirectory.bestFileName).tmp-")
            || name.hasPrefix(".deleting-.")
    }

    /// Removes the leftovers of interrupted saves in `runDirectory`, and puts back a checkpoint
    /// an interrupted replace left only in the trash. Call it only while no other process saves
    /// into the directory (the run holds its `RunLock`). A missing directory is nothing to do.
    @discardableResult
    public static func recoverInterruptedSaves(runDirectory: URL) throws -> Recovery {
        let run = runDirectory.standardizedFileURL
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: run.path) else { return Recovery() }
        var recovery = Recovery()
        for name in names.sorted() where isSaveLeftover(name) {
            let url = run.appendingPathComponent(name)
            if name.hasPrefix(".trash-"), let original = originalName(ofTrash: name),
               !fm.fileExists(atPath: run.appendingPathComponent(original).path),
               fm.fileExists(atPath: url.appendingPathComponent(CheckpointManifest.fileName).path) {
                guard rename(url.path, run.appendingPathComponent(original).path) == 0 else {
                    throw CheckpointError.io(path: url.path, operation: "put back the checkpoint an interrupted save moved aside as",
                                             reason: errnoString())
                }
                recovery.restored.append(original)
                continue
            }
            do {
                try fm.removeItem(at: url)
            } catch {
                throw CheckpointError.io(path: url.path, operation: "remove the leftover of an interrupted save", reason: error.localizedDescription)
            }
            recovery.removed.append(name)
        }
        if !recovery.isEmpty { try fsyncDirectory(run.path) }
        return recovery
    }

    /// Removes the unfinished saves of process `processID` in `runDirectory` (their names carry
    /// the pid), as a process does just before it exits in the middle of one: the temporary
    /// checkpoint directory is first renamed (so a save that is finishing at that instant either
    /// completes its own rename first, and stays, or fails to find it) and then deleted; a
    /// checkpoint it had moved aside is put back. Never throws: it is the last thing an
    /// exiting process does, and anything it misses the next run removes
    /// (`recoverInterruptedSaves`).
    public static func removeUnfinishedSaves(runDirectory: URL, processID: Int32) {
        let run = runDirectory.standardizedFileURL
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: run.path) else { return }
        let mark = "-\(processID)-"
        for name in names where isSaveLeftover(name) && name.contains(mark) {
            let url = run.appendingPathComponent(name)
            if name.hasPrefix(".trash-"), let original = originalName(ofTrash: name),
               !fm.fileExists(atPath: run.appendingPathComponent(original).path) {
                _ = rename(url.path, run.appendingPathComponent(original).path)
                continue
            }
            let doomed = run.appendingPathComponent(".deleting-" + name)
            guard rename(url.path, doomed.path) == 0 else { continue }
            try? fm.removeItem(at: doomed)
        }
        _ = try? fsyncDirectory(run.path)
    }

    /// `step-0000010` for `.trash-step-0000010-PID-RANDOM`, nil for another name.
    static func originalName(ofTrash name: String) -> String? {
        guard name.hasPrefix(".trash-") else { return nil }
        let rest = name.dropFirst(".trash-".count)
        let parts = rest.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "step", CheckpointDirectory.step(fromDirectoryName: "step-" + parts[1]) != nil else { return nil }
        return "step-" + parts[1]
    }
}
