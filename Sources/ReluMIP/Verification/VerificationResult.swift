/// The answer to "is there an input in the region that the network labels differently?".
public enum Verdict: String, Sendable, Codable, Equatable {
  /// A re-checked input in the region whose label differs (the property is violated).
  case counterexample
  /// No input in the region reaches the target: proven.
  case robust
  /// Neither was established (time limit, numerical trouble); the reason says which.
  case unknown
}

/// Which step of the pipeline settled the case.
public enum SettledBy: String, Sendable, Codable, Equatable {
  case bounds
  case heuristic
  case branchAndCut = "branch-and-cut"
  case none
}

/// A re-checked counterexample.
public struct Counterexample: Sendable, Equatable, Codable {
  public var input: [Double]
  public var outputs: [Double]
  public var predictedLabel: Int
  public var distance: Double
}

public struct Timings: Sendable, Equatable, Codable {
  public var bounds: Double = 0
  public var solve: Double = 0
  public var total: Double = 0
}

public struct VerificationResult: Sendable, Codable, Equatable {
  public var verdict: Verdict
  /// The label at the center (the network's prediction).
  public var label: Int
  /// The target that was reached (for a counterexample) or the one searched (a single target);
  /// nil when every other label was searched and none was reached.
  public var target: Int?
  /// The targets searched, in order.
  public var targetsSearched: [Int]
  public var counterexample: Counterexample?
  /// The best margin `output[target] − output[label]` found at a re-checked point.
  public var objective: Double?
  /// A proven upper bound on that margin over the region (the largest over the targets searched).
  public var bound: Double?
  public var nodes: Int
  public var binaries: Int
  public var settledBy: SettledBy
  public var timings: Timings
  public var statistics: [LayerStatistics]
  /// Why the verdict is `unknown`, or notes on the run.
  public var reason: String?
}
