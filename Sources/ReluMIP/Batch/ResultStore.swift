import Foundation
// POSIX calls (open, flock, ftruncate, write, fsync) for appends that reach the disk; the
// package targets Linux (GLPK and zlib from Debian packages).
import Glibc

/// A batch result file read back: its records in file order, and what was wrong with its end.
public struct ResultFileContents: Sendable {
  /// Every complete, valid line, in file order (duplicates included).
  public var records: [BatchRecord]
  /// The length in bytes of the part that holds them (the file less a torn last line).
  public var validLength: Int
  /// A torn last line (a crash in the middle of a write): its line number and why it is torn.
  public var tornLine: (number: Int, problem: String)?

  /// The last record of each key, in order of first appearance.
  public var latest: [BatchRecord] {
    var position: [BatchKey: Int] = [:]
    var result: [BatchRecord] = []
    for record in records {
      if let index = position[record.key] {
        result[index] = record
      } else {
        position[record.key] = result.count
        result.append(record)
      }
    }
    return result
  }

  /// How many lines repeat the key of an earlier line.
  public var duplicateCount: Int { records.count - Set(records.map(\.key)).count }
}

/// A batch result file that cannot be opened, read or written.
public enum ResultStoreError: Error, Equatable, CustomStringConvertible {
  /// Without `resume`, an existing non-empty file is never overwritten.
  case exists(String)
  /// A line other than the last is not a record: the file is not (only) ours.
  case malformedLine(path: String, line: Int, problem: String)
  case io(path: String, operation: String, errno: Int32)
  /// Another process holds the file (two runs appending to one file would interleave).
  case locked(String)
  /// A file to be created whole (`merge`'s output) exists already; it is never overwritten.
  case outputExists(String)

  public var description: String {
    switch self {
    case .exists(let path):
      return
        "\(path) exists and is not empty: pass --resume to continue the run it holds, or choose another output file"
    case .malformedLine(let path, let line, let problem):
      return "\(path): line \(line) is not a batch result record (\(problem))"
    case .io(let path, let operation, let errno):
      return "\(path): \(operation) failed: \(String(cString: strerror(errno)))"
    case .locked(let path):
      return "\(path) is being written by another relumip batch run"
    case .outputExists(let path):
      return "\(path) exists: it is never overwritten; choose another output file"
    }
  }
}

/// The result file of a batch run, in JSON Lines: one record per finished instance, each
/// appended as a whole line and flushed to disk (`fsync`) before the next, so a run killed at any
/// moment loses at most the instances in progress and can leave at most a torn last line, which
/// `open(resume: true)` detects and cuts off. Appends are serialised; any thread may call them.
public final class ResultStore: @unchecked Sendable {
  public let path: String
  /// What the file held when it was opened (nothing for a new file).
  public let existing: ResultFileContents
  private let descriptor: Int32
  private let lock = NSLock()
  private var closed = false

  /// Reads a result file (for `summarize` and `resume`). A torn last line (no newline at the end,
  /// or a last line that is not a valid record) is reported in `tornLine`, not thrown; an invalid
  /// line before the last throws.
  public static func read(path: String) throws -> ResultFileContents {
    guard FileManager.default.fileExists(atPath: path) else {
      throw ResultStoreError.io(path: path, operation: "reading", errno: ENOENT)
    }
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ResultStoreError.io(path: path, operation: "reading", errno: EACCES)
    }
    return try parse(data, path: path)
  }

  static func parse(_ data: Data, path: String) throws -> ResultFileContents {
    let bytes = [UInt8](data)
    var records: [BatchRecord] = []
    var validLength = 0
    var lineStart = 0
    var lineNumber = 0
    let decoder = JSONDecoder()
    while lineStart < bytes.count {
      lineNumber += 1
      guard let newline = bytes[lineStart...].firstIndex(of: 0x0A) else {
        return ResultFileContents(
          records: records, validLength: validLength,
          tornLine: (lineNumber, "it has no newline at its end"))
      }
      let line = bytes[lineStart..<newline]
      let isLast = newline == bytes.count - 1
      defer { lineStart = newline + 1 }
      if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) {
        validLength = newline + 1
        continue
      }
      do {
        records.append(try decoder.decode(BatchRecord.self, from: Data(line)))
        validLength = newline + 1
      } catch {
        let problem = Self.describe(error)
        if isLast {
          return ResultFileContents(
            records: records, validLength: validLength, tornLine: (lineNumber, problem))
        }
        throw ResultStoreError.malformedLine(path: path, line: lineNumber, problem: problem)
      }
    }
    return ResultFileContents(records: records, validLength: validLength, tornLine: nil)
  }

  private static func describe(_ error: Error) -> String {
    switch error {
    case DecodingError.keyNotFound(let key, _): return "no field '\(key.stringValue)'"
    case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
      DecodingError.dataCorrupted(let context):
      let path = context.codingPath.map(\.stringValue).joined(separator: ".")
      return path.isEmpty ? "invalid JSON" : "bad field '\(path)': \(context.debugDescription)"
    default: return "invalid JSON"
    }
  }

  /// Opens `path` for appending. Without `resume` the file must not exist or be empty. With it,
  /// the records already there are read into `existing` and a torn last line is cut off.
  public init(path: String, resume: Bool) throws {
    self.path = path
    let fileManager = FileManager.default
    let existed = fileManager.fileExists(atPath: path)
    var contents = ResultFileContents(records: [], validLength: 0, tornLine: nil)
    if existed {
      let size = (try? fileManager.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
      if size > 0 {
        guard resume else { throw ResultStoreError.exists(path) }
        contents = try Self.read(path: path)
      }
    }
    let descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else {
      throw ResultStoreError.io(path: path, operation: "opening for writing", errno: errno)
    }
    guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
      Glibc.close(descriptor)
      throw ResultStoreError.locked(path)
    }
    self.descriptor = descriptor
    if contents.tornLine != nil {
      guard ftruncate(descriptor, off_t(contents.validLength)) == 0, fsync(descriptor) == 0 else {
        let code = errno
        Glibc.close(descriptor)
        throw ResultStoreError.io(
          path: path, operation: "cutting off the torn last line", errno: code)
      }
    }
    if !existed {
      // Make the new file's directory entry durable too.
      let directory = (path as NSString).deletingLastPathComponent
      let directoryDescriptor = Glibc.open(
        directory.isEmpty ? "." : directory, O_RDONLY | O_CLOEXEC)
      if directoryDescriptor >= 0 {
        _ = fsync(directoryDescriptor)
        Glibc.close(directoryDescriptor)
      }
    }
    existing = contents
  }

  deinit { close() }

  /// Appends one record as a line and flushes it to disk before returning.
  public func append(_ record: BatchRecord) throws {
    var line = try record.jsonLine()
    line.append(0x0A)
    try lock.withLock {
      precondition(!closed, "append after close")
      if let code = AtomicFile.writeAll(line, to: descriptor) {
        throw ResultStoreError.io(path: path, operation: "writing", errno: code)
      }
      guard fsync(descriptor) == 0 else {
        throw ResultStoreError.io(path: path, operation: "flushing to disk", errno: errno)
      }
    }
  }

  /// Creates the result file `path` holding `records`, all or nothing, never overwriting.
  ///
  /// The lines go to a temporary file beside `path`, flushed to disk, which is then hard-linked
  /// as `path` (which fails if `path` exists, even when another process creates it meanwhile)
  /// and unlinked. A failure at any point leaves no `path` and no temporary file. Where the file
  /// system has no hard links, an existence check and a rename take the link's place.
  public static func create(path: String, records: [BatchRecord]) throws {
    var data = Data()
    for record in records {
      data.append(try record.jsonLine())
      data.append(0x0A)
    }
    guard !FileManager.default.fileExists(atPath: path) else {
      throw ResultStoreError.outputExists(path)
    }
    try AtomicFile.write(data, to: path, existing: .refuse)
  }

  public func close() {
    lock.withLock {
      guard !closed else { return }
      closed = true
      Glibc.close(descriptor)
    }
  }
}
