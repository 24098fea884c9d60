import Dispatch
import Foundation

/// A Ctrl-C turned into a flag: the first SIGINT asks training to stop after the current
/// step (the loop polls `isRequested` between steps and saves a checkpoint); a second one
/// exits at once with status 130.
final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var requested = false
    private var source: DispatchSourceSignal?

    var isRequested: Bool {
        lock.lock()
        defer { lock.unlock() }
        return requested
    }

    private var usr1Source: DispatchSourceSignal?

    /// Routes SIGINT to a dispatch source that sets the flag (instead of killing the process).
    /// SIGUSR1 sets it too, once: mpirun kills its ranks on Ctrl-C but forwards SIGUSR1 to
    /// them, so `kill -USR1 <mpirun's pid>` stops a data-parallel run with a checkpoint.
    static func installForSIGINT() -> StopRequest {
        let r = StopRequest()
        signal(SIGINT, SIG_IGN)
        let s = DispatchSource.makeSignalSource(signal: SIGINT, queue: DispatchQueue.global())
        s.setEventHandler { [weak r] in
            guard let r else { return }
            r.lock.lock()
            let again = r.requested
            r.requested = true
            r.lock.unlock()
            if again { exit(130) }
            FileHandle.standardError.write(Data("\ninterrupt: finishing the current step and saving a checkpoint (Ctrl-C again to quit now)\n".utf8))
        }
        s.resume()
        r.source = s
        signal(SIGUSR1, SIG_IGN)
        let u = DispatchSource.makeSignalSource(signal: SIGUSR1, queue: DispatchQueue.global())
        u.setEventHandler { [weak r] in
            guard let r else { return }
            r.lock.lock()
            r.requested = true
            r.lock.unlock()
        }
        u.resume()
        r.usr1Source = u
        return r
    }
}
