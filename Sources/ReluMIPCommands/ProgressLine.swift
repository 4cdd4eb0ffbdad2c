import Foundation
import ReluMIP

/// The live progress line of a long search, on a terminal's standard error: one line, rewritten
/// in place, and cleared before the result is printed. Never shown off a terminal (a script's
/// log), under `--json`, or under `--verbose` (GLPK's own output would tear it).
final class ProgressLine: @unchecked Sendable {
  private let lock = NSLock()
  private var shown = false

  /// A line for this run, or nil where none should be shown.
  static func make(json: Bool, verbose: Bool) -> ProgressLine? {
    guard !json, !verbose, isatty(STDERR_FILENO) == 1 else { return nil }
    return ProgressLine()
  }

  func show(_ progress: SearchProgress) {
    var text = String(
      format: "%.1f s: %d %@ searched, %d open", progress.elapsed, progress.searched,
      progress.unit, progress.open)
    if let bound = progress.bestBound { text += String(format: ", bound %.4g", bound) }
    if let margin = progress.bestMargin { text += String(format: ", best margin %.4g", margin) }
    lock.withLock {
      shown = true
      FileHandle.standardError.write(Data("\r\u{1B}[2K\(text)".utf8))
    }
  }

  func clear() {
    lock.withLock {
      guard shown else { return }
      shown = false
      FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
    }
  }
}

extension VerificationOptions {
  /// Options that report to `line`, if there is one.
  func reporting(to line: ProgressLine?) -> VerificationOptions {
    guard let line else { return self }
    var options = self
    options.progress = { line.show($0) }
    return options
  }
}
