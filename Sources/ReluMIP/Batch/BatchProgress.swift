import Foundation

/// The counts a batch run's progress line shows: instances done out of the total of this run,
/// how many of each outcome, the rate and the estimated time left.
package struct BatchProgress: Sendable {
  package var total: Int
  package private(set) var done = 0
  package private(set) var counts: [BatchOutcome: Int] = [:]

  package init(total: Int) { self.total = total }

  package mutating func add(_ outcome: BatchOutcome) {
    done += 1
    counts[outcome, default: 0] += 1
  }

  package func count(_ outcome: BatchOutcome) -> Int { counts[outcome] ?? 0 }

  /// E.g. `37/300 done · robust 20, counterexample 15, error 2 · 1.9/s · 2m 18s left`.
  package func line(elapsed: Double) -> String {
    var parts = ["\(done)/\(total) done"]
    let verdicts = BatchOutcome.allCases.compactMap { outcome -> String? in
      let count = count(outcome)
      return count > 0 || outcome == .robust || outcome == .counterexample
        ? "\(outcome.rawValue) \(count)" : nil
    }
    parts.append(verdicts.joined(separator: ", "))
    if done > 0, elapsed > 0 {
      let rate = Double(done) / elapsed
      parts.append(
        rate >= 1 ? String(format: "%.1f/s", rate) : String(format: "%.1f s each", 1 / rate))
      if done < total {
        parts.append("\(Self.duration(Double(total - done) / rate)) left")
      } else {
        parts.append("\(Self.duration(elapsed)) in all")
      }
    } else if elapsed >= 1 {
      parts.append("\(Self.duration(elapsed)) so far")
    }
    return parts.joined(separator: " · ")
  }

  /// `45s`, `2m 05s`, `1h 02m`.
  package static func duration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let whole = Int(seconds.rounded())
    if whole < 60 { return "\(whole)s" }
    if whole < 3600 { return String(format: "%dm %02ds", whole / 60, whole % 60) }
    return String(format: "%dh %02dm", whole / 3600, (whole % 3600) / 60)
  }
}
