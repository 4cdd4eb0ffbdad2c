import Foundation

/// The table `relumip summarize` prints: one row per norm, target choice and radius.
///
/// Definitions, over the `instances` of a row (each key counted once, its last line winning):
/// - robust share = robust ÷ instances. Misclassified examples, counterexamples, unknowns and
///   errors all count as not (verified) robust. With target `all` it is the verified robust
///   accuracy; with `runner-up` or one label it is not (robust against one label says nothing
///   about a third), and the summary does not call it that.
/// - its upper bound = 1 − (counterexample + misclassified) ÷ instances: only those are known
///   not to be robust, so the true robust accuracy lies between the two.
/// - times are over the instances that were verified (robust, counterexample, unknown): the
///   median, the 90th percentile (nearest rank: the ⌈0.9·n⌉-th smallest) and the maximum.
public struct BatchSummary: Sendable {
  /// The counts, accuracies and times of one norm, target choice and radius.
  public struct Row: Sendable, Equatable {
    public var norm: String
    public var targetChoice: String
    public var delta: Double
    public var instances = 0
    public var robust = 0
    public var counterexample = 0
    public var unknown = 0
    public var error = 0
    public var misclassified = 0
    /// Times of the verified instances, ascending.
    public var times: [Double] = []

    /// robust ÷ instances, for any target.
    public var robustShare: Double {
      instances == 0 ? 0 : Double(robust) / Double(instances)
    }

    /// The robust share where it is verified robust accuracy (target `all`); nil otherwise.
    public var verifiedRobustAccuracy: Double? {
      targetChoice == TargetChoice.all.description ? robustShare : nil
    }

    public var robustAccuracyUpperBound: Double {
      instances == 0 ? 0 : 1 - Double(counterexample + misclassified) / Double(instances)
    }

    public var medianTime: Double? { BatchSummary.median(times) }
    public var p90Time: Double? { BatchSummary.percentile(times, 0.9) }
    public var maxTime: Double? { times.last }
  }

  public var rows: [Row]
  /// Lines whose key an earlier line already had (the last one counts).
  public var duplicates: Int
  /// The distinct model files named in the records.
  public var models: [String]

  public init(contents: ResultFileContents) {
    self.init(records: contents.latest)
    duplicates = contents.duplicateCount
  }

  /// Summarises records that have distinct keys (see `ResultFileContents.latest`).
  public init(records: [BatchRecord]) {
    var rowsByGroup: [String: Row] = [:]
    var models: [String] = []
    for record in records {
      if !models.contains(record.model) { models.append(record.model) }
      let group = "\(record.norm)|\(record.targetChoice)|\(record.delta)"
      var row =
        rowsByGroup[group]
        ?? Row(norm: record.norm, targetChoice: record.targetChoice, delta: record.delta)
      row.instances += 1
      switch record.result {
      case .robust: row.robust += 1
      case .counterexample: row.counterexample += 1
      case .unknown: row.unknown += 1
      case .error: row.error += 1
      case .misclassified: row.misclassified += 1
      }
      if [.robust, .counterexample, .unknown].contains(record.result), let time = record.timeS {
        row.times.append(time)
      }
      rowsByGroup[group] = row
    }
    rows = rowsByGroup.values.map { row in
      var row = row
      row.times.sort()
      return row
    }.sorted { ($0.norm, $0.targetChoice, $0.delta) < ($1.norm, $1.targetChoice, $1.delta) }
    duplicates = 0
    self.models = models
  }

  /// The middle value of ascending `values` (the mean of the two middle ones for an even count).
  package static func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let middle = values.count / 2
    return values.count % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2
  }

  /// The nearest-rank percentile of ascending `values`: the ⌈p·n⌉-th smallest.
  package static func percentile(_ values: [Double], _ p: Double) -> Double? {
    guard !values.isEmpty else { return nil }
    let rank = Int((p * Double(values.count)).rounded(.up))
    return values[min(max(rank, 1), values.count) - 1]
  }

  public static let columns = [
    "norm", "target", "delta", "instances", "robust", "counterexample", "unknown", "error",
    "misclassified", "robust_share", "verified_robust_accuracy", "upper_bound", "median_time_s",
    "p90_time_s",
    "max_time_s",
  ]

  /// The rows as text cells, with `columns` as the header.
  public func cells(
    accuracy: (Double) -> String = { String(format: "%.4f", $0) },
    time: (Double?) -> String = { $0.map { String(format: "%.3f", $0) } ?? "" }
  ) -> [[String]] {
    [Self.columns]
      + rows.map { row in
        [
          row.norm, row.targetChoice, "\(row.delta)", "\(row.instances)", "\(row.robust)",
          "\(row.counterexample)", "\(row.unknown)", "\(row.error)", "\(row.misclassified)",
          accuracy(row.robustShare), row.verifiedRobustAccuracy.map(accuracy) ?? "",
          accuracy(row.robustAccuracyUpperBound),
          time(row.medianTime), time(row.p90Time), time(row.maxTime),
        ]
      }
  }

  /// The table as CSV (RFC 4180 quoting where needed), header first.
  public func csv() -> String {
    func quote(_ cell: String) -> String {
      guard cell.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return cell }
      return "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
    let lines = cells(
      accuracy: { "\($0)" }, time: { $0.map { "\($0)" } ?? "" }
    ).map { $0.map(quote).joined(separator: ",") }
    return lines.joined(separator: "\n") + "\n"
  }
}
