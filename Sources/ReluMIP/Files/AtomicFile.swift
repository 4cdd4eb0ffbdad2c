import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A file that cannot be written whole: where and why.
public struct FileWriteError: Error, Equatable, CustomStringConvertible {
  public var path: String
  public var reason: String

  public var description: String { "cannot write \(path): \(reason)" }
}

/// Whole-file writes that never leave a partial file, the one way every result, picture and
/// summary file is written: the bytes go to a temporary file beside the destination, flushed to
/// disk, which then becomes the destination in one step. Any failure leaves neither a partial
/// destination nor the temporary file.
package enum AtomicFile {
  /// Whether an existing destination is replaced (`rename`) or refused (`link`, which fails if
  /// the destination exists, even when another process creates it meanwhile).
  package enum Existing {
    case replace
    case refuse
  }

  package static func write(_ data: Data, to path: String, existing: Existing = .replace) throws {
    let directory = (path as NSString).deletingLastPathComponent
    let folder = directory.isEmpty ? "." : directory
    let name = (path as NSString).lastPathComponent
    if existing == .refuse, FileManager.default.fileExists(atPath: path) {
      throw FileWriteError(path: path, reason: "it exists and is never overwritten")
    }
    let temporary = (folder as NSString).appendingPathComponent(
      ".\(name).\(getpid()).\(UUID().uuidString.prefix(8)).tmp")
    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { throw failure(path, "creating a file in \(folder)", errno) }
    defer { unlink(temporary) }
    do {
      defer { close(descriptor) }
      if let code = writeAll(data, to: descriptor) { throw failure(path, "writing", code) }
      guard fsync(descriptor) == 0 else { throw failure(path, "flushing to disk", errno) }
    }
    switch existing {
    case .replace:
      guard rename(temporary, path) == 0 else { throw failure(path, "renaming into place", errno) }
    case .refuse:
      if link(temporary, path) != 0 {
        let code = errno
        switch code {
        case EEXIST:
          throw FileWriteError(path: path, reason: "it exists and is never overwritten")
        case EPERM, EOPNOTSUPP, ENOSYS:
          // No hard links on this file system: an existence check and a rename instead.
          guard !FileManager.default.fileExists(atPath: path) else {
            throw FileWriteError(path: path, reason: "it exists and is never overwritten")
          }
          guard rename(temporary, path) == 0 else { throw failure(path, "creating", errno) }
        default:
          throw failure(path, "creating", code)
        }
      }
    }
    let directoryDescriptor = open(folder, O_RDONLY | O_CLOEXEC)
    if directoryDescriptor >= 0 {
      _ = fsync(directoryDescriptor)
      close(directoryDescriptor)
    }
  }

  /// Writes all of `data` to an open file, retrying short and interrupted writes; the errno of
  /// a failure, nil on success.
  package static func writeAll(_ data: Data, to descriptor: Int32) -> Int32? {
    data.withUnsafeBytes { buffer -> Int32? in
      var offset = 0
      while offset < buffer.count {
        let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
        if written < 0 {
          if errno == EINTR { continue }
          return errno
        }
        offset += written
      }
      return nil
    }
  }

  private static func failure(_ path: String, _ operation: String, _ code: Int32)
    -> FileWriteError
  {
    FileWriteError(path: path, reason: "\(operation) failed: \(String(cString: strerror(code)))")
  }
}
