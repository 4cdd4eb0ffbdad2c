import Foundation
import ReluMIP

/// The machine-readable result of one verification, as `--json` prints it.
struct VerifyReport: Encodable {
  var model: String
  var images: String
  var example: Int
  var norm: PerturbationNorm
  var delta: Double
  var result: VerificationResult

  var exitCode: Int32 { VerificationExitCode.of(result.verdict) }

  private enum CodingKeys: String, CodingKey {
    case result, label, target
    case targetsSearched = "targets_searched"
    case predictedLabel = "predicted_label"
    case objective, bound, distance, counterexample
    case counterexampleOutputs = "counterexample_outputs"
    case timeS = "time_s"
    case boundsTimeS = "bounds_time_s"
    case solveTimeS = "solve_time_s"
    case nodes, binaries
    case settledBy = "settled_by"
    case layers, reason
    case model, images, example, norm, delta
  }

  func encode(to encoder: Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    func finite(_ value: Double?) -> Double? { value.flatMap { $0.isFinite ? $0 : nil } }
    try container.encode(result.verdict.rawValue, forKey: .result)
    try container.encode(result.label, forKey: .label)
    try container.encode(result.target, forKey: .target)
    try container.encode(result.targetsSearched, forKey: .targetsSearched)
    try container.encode(result.counterexample?.predictedLabel, forKey: .predictedLabel)
    try container.encode(finite(result.objective), forKey: .objective)
    try container.encode(finite(result.bound), forKey: .bound)
    try container.encode(result.counterexample?.distance, forKey: .distance)
    try container.encode(result.counterexample?.input, forKey: .counterexample)
    try container.encode(result.counterexample?.outputs, forKey: .counterexampleOutputs)
    try container.encode(result.timings.total, forKey: .timeS)
    try container.encode(result.timings.bounds, forKey: .boundsTimeS)
    try container.encode(result.timings.solve, forKey: .solveTimeS)
    try container.encode(result.nodes, forKey: .nodes)
    try container.encode(result.binaries, forKey: .binaries)
    try container.encode(result.settledBy.rawValue, forKey: .settledBy)
    try container.encode(result.statistics, forKey: .layers)
    try container.encode(result.reason, forKey: .reason)
    try container.encode(model, forKey: .model)
    try container.encode(images, forKey: .images)
    try container.encode(example, forKey: .example)
    try container.encode(norm.rawValue, forKey: .norm)
    try container.encode(delta, forKey: .delta)
  }

  func jsonString() throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: try encoder.encode(self), as: UTF8.self)
  }
}

/// The report a person reads.
enum HumanReport {
  /// `layersFromBounds`: the layer table from bounds alone (`Verifier.layerStatistics`) and the
  /// bound method, shown when the run built no MILP.
  static func render(
    report: VerifyReport, network: Network, center: [Double], imageShape: [Int],
    layersFromBounds: (rows: [LayerStatistics], method: BoundMethod)? = nil
  ) -> String {
    let result = report.result
    var lines: [String] = []
    lines.append("Model \(report.model), example \(report.example) of \(report.images)")
    lines.append(
      "Property: \(report.norm.symbol) ball of radius \(report.delta) ∩ box, "
        + "maximise output[target] − output[\(result.label)]")
    lines.append("")
    if result.statistics.isEmpty, let layersFromBounds {
      lines.append(layerTable(layersFromBounds.rows))
      lines.append(
        "No MILP over the whole region was built (settled by \(result.settledBy.rawValue)): "
          + "Active, Inactive and")
      lines.append(
        "Unstable count neurons by \(layersFromBounds.method.rawValue) bounds over the region.")
    } else {
      lines.append(layerTable(result.statistics))
    }
    lines.append("")
    let verdictLine: String
    switch result.verdict {
    case .counterexample: verdictLine = "Result: COUNTEREXAMPLE"
    case .robust: verdictLine = "Result: ROBUST (no input in the region reaches the target)"
    case .unknown: verdictLine = "Result: UNKNOWN (\(result.reason ?? "no answer"))"
    }
    lines.append(verdictLine)
    lines.append("  settled by:      \(result.settledBy.rawValue)")
    lines.append("  label at center: \(result.label)")
    lines.append(
      "  target:          \(result.target.map(String.init) ?? "any of \(result.targetsSearched)")")
    if let counterexample = result.counterexample {
      lines.append(
        "  new label:       \(counterexample.predictedLabel) (re-checked by an exact forward pass)")
      lines.append(
        "  distance:        \(format(counterexample.distance)) (\(report.norm.symbol), budget \(format(report.delta)))"
      )
      lines.append("  margin:          \(format(result.objective ?? .nan))")
    }
    if let bound = result.bound, bound.isFinite {
      lines.append("  bound on margin: \(format(bound))")
    }
    lines.append(
      "  time:            \(format(result.timings.total)) s (bounds \(format(result.timings.bounds)) s, "
        + "solve \(format(result.timings.solve)) s)")
    lines.append("  B&B nodes:       \(result.nodes), binaries: \(result.binaries)")
    if let counterexample = result.counterexample,
      let (height, width) = imageSize(imageShape, count: center.count)
    {
      lines.append("")
      lines.append(
        renderImages(
          [
            ("original", center),
            ("counterexample", counterexample.input),
            ("difference", zip(counterexample.input, center).map { $0 - $1 }),
          ], height: height, width: width))
    }
    return lines.joined(separator: "\n")
  }

  static func layerTable(_ statistics: [LayerStatistics]) -> String {
    let header = [
      "Layer", "Output", "Variables", "Constraints", "Binaries", "Active", "Inactive", "Unstable",
    ]
    var rows = [header]
    // "-" where no MILP was built to count.
    func count(_ value: Int?) -> String { value.map(String.init) ?? "-" }
    for row in statistics {
      rows.append([
        row.name, "(\(row.outputSize))", count(row.variables), count(row.constraints),
        count(row.binaries), "\(row.stableActive)", "\(row.stableInactive)", "\(row.unstable)",
      ])
    }
    return table(rows)
  }

  static func table(_ rows: [[String]]) -> String {
    let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
    func line(_ row: [String]) -> String {
      row.enumerated().map { index, cell in
        index == 0
          ? cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
          : String(repeating: " ", count: widths[index] - cell.count) + cell
      }.joined(separator: "  ")
    }
    let rule = String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1))
    return ([line(rows[0]), rule] + rows.dropFirst().map(line)).joined(separator: "\n")
  }

  static func format(_ value: Double) -> String {
    if value.isNaN { return "n/a" }
    if value == 0 { return "0" }
    if abs(value) >= 1e-3 && abs(value) < 1e6 { return String(format: "%.4f", value) }
    return String(format: "%.3e", value)
  }

  /// Height and width if the input looks like one grayscale image.
  static func imageSize(_ shape: [Int], count: Int) -> (Int, Int)? {
    imageGeometry(shape, count: count).flatMap { $0.channels == 1 ? ($0.height, $0.width) : nil }
  }

  /// Channels, height and width of an input that is an image: shape (H, W), (1, H, W) or
  /// (3, H, W) in C order (leading 1s aside), or a square of at least 8×8 values.
  static func imageGeometry(_ shape: [Int], count: Int) -> (channels: Int, height: Int, width: Int)?
  {
    var dims = Array(shape.drop { $0 == 1 })
    if dims.count == 3 && dims[0] == 3 { return (3, dims[1], dims[2]) }
    dims = dims.filter { $0 != 1 }
    if dims.count == 2 { return (1, dims[0], dims[1]) }
    let side = Int(Double(count).squareRoot().rounded())
    if side * side == count && side >= 8 { return (1, side, side) }
    return nil
  }

  /// Images side by side in shades of ASCII, each scaled to its own range.
  static func renderImages(_ panels: [(String, [Double])], height: Int, width: Int) -> String {
    let shades = Array(" .:-=+*#%@")
    var lines = [
      panels.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) }.joined(
        separator: "   ")
    ]
    let scales = panels.map { panel -> (Double, Double) in
      let (low, high) = (panel.1.min() ?? 0, panel.1.max() ?? 1)
      if panel.0 == "difference" {
        let extent = max(abs(low), abs(high))
        return (0, extent > 0 ? extent : 1)
      }
      return (min(low, 0), max(high, low + 1e-12))
    }
    for row in 0..<height {
      var parts: [String] = []
      for (index, panel) in panels.enumerated() {
        let (low, high) = scales[index]
        let text = (0..<width).map { column -> Character in
          var value = panel.1[row * width + column]
          if panel.0 == "difference" { value = abs(value) }
          let level = Int(((value - low) / (high - low) * Double(shades.count - 1)).rounded())
          return shades[min(max(level, 0), shades.count - 1)]
        }
        parts.append(String(text))
      }
      lines.append(parts.joined(separator: "   "))
    }
    return lines.joined(separator: "\n")
  }
}

/// The result of `verify --minimize-distance`.
struct DistortionReport: Encodable {
  var model: String
  var example: Int
  var norm: PerturbationNorm
  var result: DistortionResult

  /// Whether the search ran to the end and found no counterexample within the search radius.
  var isRobust: Bool { result.complete && result.counterexample == nil }

  var verdict: Verdict {
    if result.counterexample != nil { return .counterexample }
    return isRobust ? .robust : .unknown
  }

  var exitCode: Int32 { VerificationExitCode.of(verdict) }

  private enum CodingKeys: String, CodingKey {
    case result, label
    case targetsSearched = "targets_searched"
    case predictedLabel = "predicted_label"
    case distance
    case lowerBound = "lower_bound"
    case searchRadius = "search_radius"
    case complete
    case counterexample
    case timeS = "time_s"
    case nodes, reason, model, example, norm, steps
  }

  func encode(to encoder: Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(verdict.rawValue, forKey: .result)
    try container.encode(result.label, forKey: .label)
    try container.encode(result.targetsSearched, forKey: .targetsSearched)
    try container.encode(result.counterexample?.predictedLabel, forKey: .predictedLabel)
    try container.encode(result.distance, forKey: .distance)
    try container.encode(result.lowerBound, forKey: .lowerBound)
    try container.encode(result.searchRadius, forKey: .searchRadius)
    try container.encode(result.complete, forKey: .complete)
    try container.encode(result.counterexample?.input, forKey: .counterexample)
    try container.encode(result.timings.total, forKey: .timeS)
    try container.encode(result.nodes, forKey: .nodes)
    try container.encode(result.reason, forKey: .reason)
    try container.encode(model, forKey: .model)
    try container.encode(example, forKey: .example)
    try container.encode(norm.rawValue, forKey: .norm)
    try container.encode(
      result.steps.map { ["radius": $0.radius, "time_s": $0.time] }, forKey: .steps)
  }

  func jsonString() throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: try encoder.encode(self), as: UTF8.self)
  }

  func text() -> String {
    let format = HumanReport.format
    var lines = [
      "Model \(model), example \(example): smallest \(norm.symbol) distance that changes the label "
        + "(searched up to \(format(result.searchRadius)))"
    ]
    if let counterexample = result.counterexample {
      lines.append(
        "  counterexample at distance \(format(counterexample.distance)), new label "
          + "\(counterexample.predictedLabel) (re-checked)")
    } else {
      lines.append("  no counterexample found within \(format(result.searchRadius))")
    }
    lines.append("  proven lower bound: \(format(result.lowerBound)) (robust at that radius)")
    for step in result.steps {
      lines.append(
        "    radius \(format(step.radius)): \(step.verdict.rawValue) in \(format(step.time)) s")
    }
    if let reason = result.reason { lines.append("  incomplete: \(reason)") }
    lines.append(
      "  time: \(format(result.timings.total)) s, B&B nodes: \(result.nodes), label at center: "
        + "\(result.label)")
    return lines.joined(separator: "\n")
  }
}
