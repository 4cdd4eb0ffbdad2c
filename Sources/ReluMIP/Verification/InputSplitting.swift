import HeapModule

/// Branch and bound over the input box, for networks with few inputs (ACAS Xu has five): each
/// sub-box gets symbolic bounds (`SymbolicBounds`), is dropped once they prove every goal's
/// margin ≤ −tolerance there, has its center and the maximiser of the bound's linear function
/// re-checked as counterexamples, is handed to the MILP once few ReLUs are left unstable, and is
/// otherwise bisected along the input whose width times influence on the bound is largest.
///
/// The MILP alone does badly on such networks: over a wide box most neurons are unstable and
/// GLPK's tree grows into the hundreds of thousands of nodes. Splitting the five inputs makes most
/// neurons stable within a few levels.
final class InputSplittingSearch {
  let network: Network
  /// The whole region; every candidate is re-checked against it.
  let region: InputRegion
  let goals: [OutputGoal]
  let options: VerificationOptions
  let deadline: ContinuousClock.Instant?

  /// A sub-box still to decide, with the goals not yet ruled out in it and its parent's bound.
  private struct Box: Comparable {
    var lower: [Double]
    var upper: [Double]
    var goals: [Int]
    var depth: Int
    var parentBound: Double

    static func < (a: Box, b: Box) -> Bool { a.parentBound < b.parentBound }
    static func == (a: Box, b: Box) -> Bool { a.parentBound == b.parentBound }
  }

  private(set) var boxes = 0
  private(set) var milpCalls = 0
  private var largestPrunedBound = -Double.infinity
  private var bestMargin = -Double.infinity
  private var milpBinaries = 0
  private var unknownReason: String?
  private var unknownCause: UnknownCause?

  init(
    network: Network, region: InputRegion, goals: [OutputGoal], options: VerificationOptions,
    deadline: ContinuousClock.Instant?
  ) {
    self.network = network
    self.region = region
    self.goals = goals
    self.options = options
    self.deadline = deadline
  }

  /// Whether splitting suits the region: an L∞ ball or box over few inputs.
  static func applies(to region: InputRegion, options: VerificationOptions) -> Bool {
    switch options.searchStrategy {
    case .milp, .reluSplit: return false
    case .split: return region.norm == .linf
    case .automatic: return region.norm == .linf && region.dimension <= 16
    }
  }

  private var tolerance: Double { options.robustTolerance }

  private func result(
    _ verdict: Verdict, counterexample: Counterexample? = nil, goal: Int? = nil,
    settledBy: SettledBy, reason: String? = nil, cause: UnknownCause? = nil
  ) -> GoalSearchResult {
    GoalSearchResult(
      verdict: verdict, reachedGoal: goal, goalsSearched: Array(goals.indices),
      counterexample: counterexample, objective: bestMargin > -.infinity ? bestMargin : nil,
      bound: verdict == .robust ? largestPrunedBound : nil, nodes: boxes, binaries: milpBinaries,
      settledBy: settledBy, timings: Timings(), statistics: [], reason: reason,
      cause: verdict == .unknown ? (cause ?? .solver) : nil)
  }

  func run() throws -> GoalSearchResult {
    // Best first: the box whose parent had the largest bound, where counterexamples most likely
    // are. A proof has to visit every box anyway, so the order costs it nothing but memory.
    var open: Heap<Box> = [
      Box(
        lower: (0..<region.dimension).map(region.lowest),
        upper: (0..<region.dimension).map(region.highest), goals: Array(goals.indices), depth: 0,
        parentBound: .infinity)
    ]
    let hiddenLayers = network.layers.count - 1
    while var box = open.popMax() {
      if let deadline, ContinuousClock.now >= deadline {
        return result(
          .unknown, settledBy: .none,
          reason: "time limit reached (\(boxes) boxes searched, \(open.count + 1) open)",
          cause: .timeLimit)
      }
      boxes += 1
      // Each open box holds two bounds per input and a few words besides.
      if let limit = options.memoryLimit, open.count * (16 * region.dimension + 96) > limit {
        return result(
          .unknown, settledBy: .none,
          reason: "memory limit reached (\(open.count + 1) open boxes after \(boxes) searched)",
          cause: .memoryLimit)
      }
      let part = try InputRegion(boxLower: box.lower, boxUpper: box.upper)
      let (bounds, relaxations, magnitudes) = SymbolicBounds.compute(network: network, region: part)
      let outputs = bounds.layers[hiddenLayers]
      var influence = [Double](repeating: 0, count: region.dimension)
      var openGoals: [Int] = []
      var boxBound = -Double.infinity
      for index in box.goals {
        let goal = goals[index]
        var (goalBound, linear) = SymbolicBounds.marginUpperBound(
          of: goal, network: network, outputBounds: outputs, relaxations: relaxations,
          magnitudes: magnitudes, region: part)
        if goalBound > -tolerance && options.splitBoundOptimizationSteps > 0 {
          // A few slope steps often prune a box that would otherwise be split again.
          goalBound = min(
            goalBound,
            OptimizedBound.marginUpperBound(
              of: goal, network: network, region: part, bounds: bounds, magnitudes: magnitudes,
              iterations: options.splitBoundOptimizationSteps, target: -tolerance,
              deadline: deadline))
        }
        if goalBound <= -tolerance {
          largestPrunedBound = max(largestPrunedBound, goalBound)
          continue
        }
        openGoals.append(index)
        boxBound = max(boxBound, goalBound)
        // Candidates: the center, the corner that maximises the bound's linear function, and a
        // short gradient ascent inside the box.
        var ascent = GradientAttack(network: network, region: part, steps: 8, restarts: 1)
        ascent.deadline = deadline
        var candidates = [part.center, ascent.run(goal: goal).point]
        if let linear {
          candidates.append(
            linear.indices.map { linear[$0] > 0 ? box.upper[$0] : box.lower[$0] })
          for j in linear.indices { influence[j] += abs(linear[j]) }
        }
        for candidate in candidates {
          let (found, margin) = Counterexample.check(
            candidate, network: network, region: region, goal: goal)
          bestMargin = max(bestMargin, margin)
          if let found {
            return result(
              .counterexample, counterexample: found, goal: index, settledBy: .heuristic)
          }
        }
      }
      if openGoals.isEmpty { continue }
      box.goals = openGoals
      box.parentBound = boxBound

      if bounds.unstableCount <= options.splitMILPThreshold {
        if let answer = try solveByMILP(box, bounds: bounds) { return answer }
        continue
      }
      // Bisect along the input whose width times influence on the bound is largest (on ACAS Xu
      // property 1 this needed 81–1,799 boxes where bisecting the relatively widest input needed
      // 14,000 or more).
      var dimension = 0
      var best = -1.0
      for j in 0..<region.dimension {
        let width = box.upper[j] - box.lower[j]
        let score = width * max(influence[j], 1e-12)
        if width > 0 && score > best {
          best = score
          dimension = j
        }
      }
      let middle = box.lower[dimension] + (box.upper[dimension] - box.lower[dimension]) / 2
      if best <= 0 || !(middle > box.lower[dimension] && middle < box.upper[dimension]) {
        // Nothing left to split: the MILP decides the box.
        if let answer = try solveByMILP(box, bounds: bounds) { return answer }
        continue
      }
      var left = box
      left.upper[dimension] = middle
      left.depth += 1
      var right = box
      right.lower[dimension] = middle
      right.depth += 1
      open.insert(left)
      open.insert(right)
    }
    if let unknownReason {
      return result(.unknown, settledBy: .none, reason: unknownReason, cause: unknownCause)
    }
    return result(.robust, settledBy: milpCalls > 0 ? .branchAndCut : .bounds)
  }

  /// The MILP on one box, for its open goals: nil when it proves them all unreachable there.
  private func solveByMILP(_ box: Box, bounds: NetworkBounds) throws -> GoalSearchResult? {
    milpCalls += 1
    let part = try InputRegion(boxLower: box.lower, boxUpper: box.upper)
    var milpOptions = options
    milpOptions.attack = false
    let encoding = try MILPEncoding(
      network: network, region: part, bounds: bounds,
      options: MILPEncoding.Options(dropThreshold: options.dropThreshold))
    milpBinaries = max(milpBinaries, encoding.binaryCount)
    for index in box.goals {
      let search = TargetSearch(
        encoding: encoding, network: network, region: part, goal: goals[index],
        options: milpOptions, deadline: deadline)
      let outcome = try search.run()
      if let objective = outcome.objective { bestMargin = max(bestMargin, objective) }
      switch outcome.verdict {
      case .counterexample:
        // Re-checked against the sub-box; the whole region contains it.
        guard let found = outcome.counterexample,
          let whole = Counterexample.check(
            found.input, network: network, region: region, goal: goals[index]
          ).counterexample
        else {
          // Not proven either way in this box: the answer can no longer be robust.
          unknownReason = "\(goals[index].name): a sub-box's counterexample failed the re-check"
          unknownCause = .unconfirmedCounterexample
          continue
        }
        return result(.counterexample, counterexample: whole, goal: index, settledBy: .branchAndCut)
      case .robust:
        largestPrunedBound = max(largestPrunedBound, outcome.bound ?? -tolerance)
      case .unknown:
        // Other boxes may still hold a counterexample; the answer can no longer be robust.
        unknownReason = "\(goals[index].name): \(outcome.reason ?? "no answer") (in a sub-box)"
        unknownCause = outcome.cause
      }
    }
    return nil
  }
}
