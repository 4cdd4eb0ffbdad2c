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

  /// A sub-box still to decide, with the goals not yet ruled out in it.
  private struct Box {
    var lower: [Double]
    var upper: [Double]
    var goals: [Int]
    var depth: Int
  }

  private(set) var boxes = 0
  private(set) var milpCalls = 0
  private var largestPrunedBound = -Double.infinity
  private var bestMargin = -Double.infinity
  private var milpBinaries = 0
  private var unknownReason: String?

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
    case .milp: return false
    case .split: return region.norm == .linf
    case .automatic: return region.norm == .linf && region.dimension <= 16
    }
  }

  private var tolerance: Double { options.robustTolerance }

  private func result(
    _ verdict: Verdict, counterexample: Counterexample? = nil, goal: Int? = nil,
    settledBy: SettledBy, reason: String? = nil
  ) -> GoalSearchResult {
    GoalSearchResult(
      verdict: verdict, reachedGoal: goal, goalsSearched: Array(goals.indices),
      counterexample: counterexample, objective: bestMargin > -.infinity ? bestMargin : nil,
      bound: verdict == .robust ? largestPrunedBound : nil, nodes: boxes, binaries: milpBinaries,
      settledBy: settledBy, timings: Timings(), statistics: [], reason: reason)
  }

  func run() throws -> GoalSearchResult {
    var stack = [
      Box(
        lower: (0..<region.dimension).map(region.lowest),
        upper: (0..<region.dimension).map(region.highest), goals: Array(goals.indices), depth: 0)
    ]
    let hiddenLayers = network.layers.count - 1
    while var box = stack.popLast() {
      if let deadline, ContinuousClock.now >= deadline {
        return result(
          .unknown, settledBy: .none,
          reason: "time limit reached (\(boxes) boxes searched, \(stack.count + 1) open)")
      }
      boxes += 1
      let part = try InputRegion(boxLower: box.lower, boxUpper: box.upper)
      let symbolic = ForwardSymbolicBounds(network: network, region: part)
      let bounds = symbolic.bounds
      let relaxations = (0..<hiddenLayers).map { SymbolicBounds.Relaxation(bounds.layers[$0]) }
      let outputs = bounds.layers[hiddenLayers]
      var influence = [Double](repeating: 0, count: region.dimension)
      var open: [Int] = []
      for index in box.goals {
        let goal = goals[index]
        var goalBound = goal.marginUpperBound(lower: outputs.lower, upper: outputs.upper)
        var linear: [Double]?
        for condition in goal.conditions {
          let (bound, coefficients) = conditionBound(
            condition, relaxations: relaxations, region: part)
          if bound < goalBound || linear == nil {
            goalBound = min(goalBound, bound)
            linear = coefficients
          }
        }
        if goalBound <= -tolerance {
          largestPrunedBound = max(largestPrunedBound, goalBound)
          continue
        }
        open.append(index)
        // Candidates: the center, and the corner that maximises the bound's linear function.
        var candidates = [part.center]
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
            return result(.counterexample, counterexample: found, goal: index, settledBy: .heuristic)
          }
        }
      }
      if open.isEmpty { continue }
      box.goals = open

      if bounds.unstableCount <= options.splitMILPThreshold {
        if let answer = try solveByMILP(box, bounds: bounds) { return answer }
        continue
      }
      // Bisect along the input whose width times influence on the bound is largest.
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
      stack.append(left)
      stack.append(right)
    }
    if let unknownReason { return result(.unknown, settledBy: .none, reason: unknownReason) }
    return result(.robust, settledBy: milpCalls > 0 ? .branchAndCut : .bounds)
  }

  /// The upper bound of a condition over the box by back-substitution from the output layer,
  /// and its linear function of the input.
  private func conditionBound(
    _ condition: OutputCondition, relaxations: [SymbolicBounds.Relaxation], region part: InputRegion
  ) -> (Double, [Double]) {
    let last = network.layers[network.layers.count - 1]
    var row = [Double](repeating: 0, count: last.inputSize)
    var constant = condition.constant
    for term in condition.terms {
      for (j, w) in last.row(term.output).enumerated() { row[j] += term.weight * w }
      constant += term.weight * last.bias[term.output]
    }
    let (values, coefficients) = SymbolicBounds.bound(
      rows: row, constants: [constant], throughLayer: network.layers.count - 2, network: network,
      relaxations: relaxations, region: part, maximize: true)
    return (values[0], coefficients)
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
    milpBinaries = max(milpBinaries, encoding.problem.numberOfBinaries)
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
        else { continue }
        return result(.counterexample, counterexample: whole, goal: index, settledBy: .branchAndCut)
      case .robust:
        largestPrunedBound = max(largestPrunedBound, outcome.bound ?? -tolerance)
      case .unknown:
        // Other boxes may still hold a counterexample; the answer can no longer be robust.
        unknownReason = "\(goals[index].name): \(outcome.reason ?? "no answer") (in a sub-box)"
      }
    }
    return nil
  }
}
