#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Why the file at `path` could not be read, in plain words ("No such file or directory",
/// "it is a directory, not a file", "Permission denied"), for error messages. `error` is what
/// Foundation threw; its own text ("The operation could not be completed. (NSCocoaErrorDomain
/// error 256.)") says none of that, so the file is looked at again.
public func fileReadProblem(_ path: String, _ error: Error) -> String {
    if path.isEmpty { return "the path is empty" }
    var st = stat()
    if stat(path, &st) != 0 { return String(cString: strerror(errno)) }
    switch st.st_mode & S_IFMT {
    case S_IFDIR: return "it is a directory, not a file"
    case S_IFREG: break
    default: return "it is not a regular file"
    }
    if access(path, R_OK) != 0 { return String(cString: strerror(errno)) }
    let ns = error as NSError
    if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(underlying.code)))
    }
    if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
    return "the system could not read it"
}
