/// The answer to "is there an input in the region that the network labels differently?".
public enum Verdict: String, Sendable, Codable, Equatable {
  /// A re-checked input in the region whose label differs (the property is violated).
  case counterexample
  /// No input in the region reaches the target: proven.
  case robust
  /// Neither was established (time limit, numerical trouble); the reason says which.
  case unknown
}

/// Why a verdict is `unknown`, for callers that act on it (`reason` says it to people).
public enum UnknownCause: String, Sendable, Codable, Equatable {
  /// The time limit ran out.
  case timeLimit = "time-limit"
  /// The memory limit on the search tree was reached.
  case memoryLimit = "memory-limit"
  /// The largest margin lies within the tolerance of zero: no bound reaches −tolerance and no
  /// point's margin is above 0, so neither answer can be given.
  case withinTolerance = "within-tolerance"
  /// A point the solver offered as a counterexample failed the re-check, which blocks a proof.
  case unconfirmedCounterexample = "unconfirmed-counterexample"
  /// The solver ended without an answer (a status or an infeasibility it could not back up).
  case solver
}

extension UnknownCause {
  /// The cause of several goals' unknowns: a limit if any goal hit one (the others may have had
  /// no time), else the first.
  static func combined(_ causes: [UnknownCause]) -> UnknownCause? {
    for limit in [UnknownCause.timeLimit, .memoryLimit] where causes.contains(limit) {
      return limit
    }
    return causes.first
  }
}

/// Which step of the pipeline settled the case.
public enum SettledBy: String, Sendable, Codable, Equatable {
  /// The gradient attack found a counterexample before any LP.
  case attack
  /// Bounds or the root LP proved the region robust, without branching.
  case bounds
  /// A linear-region walk, an LP's point or a box probe found the counterexample.
  case heuristic
  /// GLPK's branch-and-cut (a MILP solve) gave the answer.
  case branchAndCut = "branch-and-cut"
  /// The branch and bound over ReLU phases (`--search relu-split`) proved it past its root.
  case reluSplit = "relu-split"
  /// Nothing did: the verdict is `unknown`.
  case none
}

/// A re-checked counterexample.
public struct Counterexample: Sendable, Equatable, Codable {
  /// The input, in the region (projected into it and re-checked there).
  public var input: [Double]
  /// What the model file outputs at `input` (after a final Softmax, if it has one), by the exact
  /// double-precision pass of the model as read.
  public var outputs: [Double]
  /// The label the model as read gives `input` (the index of its largest logit).
  public var predictedLabel: Int
  /// The distance of `input` from the region's center, in the region's norm.
  public var distance: Double

  /// The re-check every reported counterexample passes: `candidate`, projected into the region
  /// (solver output carries tolerance-sized violations), lies in the box and within the radius
  /// (up to 1e-9), and the model as read (`Network.reference`, every operation of its file
  /// unmerged) reaches `goal` there in double precision and, for a float32 model, in float32
  /// too. Also returns the goal's margin there (the smaller of the two).
  public static func check(
    _ candidate: [Double], network: Network, region: InputRegion, goal: OutputGoal
  ) -> (counterexample: Counterexample?, margin: Double) {
    let point = region.project(candidate)
    guard region.contains(point, distanceTolerance: 1e-9) else { return (nil, -.infinity) }
    let reference = network.reference
    let logits = reference.evaluate(point)
    var margin = goal.margin(logits)
    guard goal.isReached(logits) else { return (nil, margin) }
    if let single = reference.evaluateFloat32(point) {
      margin = min(margin, goal.margin(single))
      // A witness that holds only in double is not one for the model's own runtime.
      guard goal.isReached(single) else { return (nil, margin) }
    }
    return (
      Counterexample(
        input: point, outputs: reference.modelOutputs(logits: logits),
        predictedLabel: Network.argmax(logits), distance: region.distance(point)),
      margin
    )
  }
}

/// Where the time of a run went, in seconds of wall-clock time.
public struct Timings: Sendable, Equatable, Codable {
  /// Computing the neurons' bounds (and tightening them, with LP bounds).
  public var bounds: Double = 0
  /// The search after the bounds (the LPs and branch-and-cut), or the step that settled the
  /// case (the attack, the linear-region walk, input splitting).
  public var solve: Double = 0
  /// The whole run: also the attack and the linear-region walk when they settle nothing,
  /// which neither `bounds` nor `solve` counts.
  public var total: Double = 0
}

/// The answer of ``Verifier/verify(region:options:)``: the verdict, with the counterexample or
/// the proven bound behind it, and what the search did.
public struct VerificationResult: Sendable, Codable, Equatable {
  /// Counterexample, robust or unknown.
  public var verdict: Verdict
  /// The label at the center (the network's prediction).
  public var label: Int
  /// The target that was reached (for a counterexample) or the one searched (a single target);
  /// nil when every other label was searched and none was reached.
  public var target: Int?
  /// The targets searched, in order.
  public var targetsSearched: [Int]
  /// The re-checked counterexample, when the verdict is `counterexample`.
  public var counterexample: Counterexample?
  /// The best margin `output[target] − output[label]` found at a re-checked point.
  public var objective: Double?
  /// A proven upper bound on that margin over the region (the largest over the targets searched).
  public var bound: Double?
  /// Branch-and-cut nodes explored.
  public var nodes: Int
  /// Binary variables of the MILP: the ReLUs the bounds left unstable.
  public var binaries: Int
  /// Which step of the pipeline gave the answer.
  public var settledBy: SettledBy
  /// Where the time went.
  public var timings: Timings
  /// The MILP's size, layer by layer.
  public var statistics: [LayerStatistics]
  /// Why the verdict is `unknown`, or notes on the run.
  public var reason: String?
  /// Why the verdict is `unknown`, as a value.
  public var cause: UnknownCause? = nil
}
