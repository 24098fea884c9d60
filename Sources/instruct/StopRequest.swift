import Checkpoints
import Dispatch
import Foundation
import Training

/// A Ctrl-C turned into a flag: the first SIGINT asks training to stop after the current
/// step (the loop polls `isRequested` between steps and saves a checkpoint); a second one
/// quits at once with status 130.
///
/// Quitting at once means `_exit`, not `exit`: `exit` runs atexit handlers and static
/// destructors on the signal thread while OpenBLAS and our kernels still run on the others,
/// which crashed (3 of 4 tries). Before `_exit`, the unfinished checkpoint save of this
/// process (if one is being written) is removed from the run folder, so nothing half-written
/// is left; `latest` and finished checkpoints are not touched.
final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var requested = false
    private var source: DispatchSourceSignal?
    private var usr1Source: DispatchSourceSignal?
    /// The run folder whose unfinished save a second Ctrl-C removes.
    private let runDirectory: URL?

    private init(runDirectory: URL?) {
        self.runDirectory = runDirectory
    }

    var isRequested: Bool {
        lock.lock()
        defer { lock.unlock() }
        return requested
    }

    /// Routes SIGINT to a dispatch source that sets the flag (instead of killing the process).
    /// SIGUSR1 sets it too, once: mpirun kills its ranks on Ctrl-C but forwards SIGUSR1 to
    /// them, so `kill -USR1 <mpirun's pid>` stops a data-parallel run with a checkpoint.
    /// `runDirectory` is the run folder being written (for the second Ctrl-C's clean-up).
    ///
    /// The handlers run on a queue of their own: its thread is not one of Dispatch's shared
    /// pool, which the kernels keep busy, so a second Ctrl-C is handled at once.
    static func installForSIGINT(runDirectory: URL?) -> StopRequest {
        let r = StopRequest(runDirectory: runDirectory)
        let queue = DispatchQueue(label: "instruct.signals")
        signal(SIGINT, SIG_IGN)
        let s = DispatchSource.makeSignalSource(signal: SIGINT, queue: queue)
        s.setEventHandler { [r] in
            r.lock.lock()
            let again = r.requested
            r.requested = true
            r.lock.unlock()
            if again { r.quitNow() }
            FileHandle.standardError.write(Data("\ninterrupt: finishing the current step and saving a checkpoint (Ctrl-C again to quit now)\n".utf8))
        }
        s.resume()
        r.source = s
        signal(SIGUSR1, SIG_IGN)
        let u = DispatchSource.makeSignalSource(signal: SIGUSR1, queue: queue)
        u.setEventHandler { [r] in
            r.lock.lock()
            r.requested = true
            r.lock.unlock()
        }
        u.resume()
        r.usr1Source = u
        return r
    }

    /// The second Ctrl-C: remove this process's unfinished save, then `_exit(130)` (no
    /// atexit handlers, no destructors, no other thread's state touched).
    private func quitNow() -> Never {
        let note = "\ninterrupted again: quitting now; the last finished checkpoint is intact (continue with --resume latest)\n"
        _ = note.withCString { write(STDERR_FILENO, $0, strlen($0)) }
        if let runDirectory {
            CheckpointWriter.removeUnfinishedSaves(runDirectory: runDirectory, processID: getpid())
            unlink(runDirectory.appendingPathComponent(MetricsLog.temporaryCurveName).path)
            RunLock.removeFile(runDirectory: runDirectory, ifHeldBy: getpid())
        }
        _exit(130)
    }
}
