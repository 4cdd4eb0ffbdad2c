import Foundation

/// Branch and bound over the input box, for networks with few inputs (ACAS Xu has five): each
/// sub-box gets symbolic bounds (`SymbolicBounds`), is dropped once they prove every goal's
/// margin ≤ −tolerance there, has its center and the maximiser of the bound's linear function
/// re-checked as counterexamples, is handed to the MILP once few ReLUs are left unstable (more for
/// a conjunction, whose conditions the MILP's LP holds together), and is
/// otherwise bisected along the input whose width times influence on the bound is largest.
///
/// The MILP alone does badly on such networks: over a wide box most neurons are unstable and
/// GLPK's tree grows into the hundreds of thousands of nodes. Splitting the five inputs makes most
/// neurons stable within a few levels.
///
/// With `options.threads` above one, the threads take boxes from one shared frontier; the first
/// re-checked counterexample (or the time limit) stops them all.
final class InputSplittingSearch: @unchecked Sendable {
  let network: Network
  /// The whole region; every candidate is re-checked against it.
  let region: InputRegion
  let goals: [OutputGoal]
  let options: VerificationOptions
  let deadline: ContinuousClock.Instant?

  /// A sub-box still to decide, with the goals not yet ruled out in it and its parent's bound.
  private struct Box: FrontierNode {
    var lower: [Double]
    var upper: [Double]
    var goals: [Int]
    var depth: Int
    var parentBound: Double

    static func < (a: Box, b: Box) -> Bool { a.parentBound < b.parentBound }
    static func == (a: Box, b: Box) -> Bool { a.parentBound == b.parentBound }
  }

  /// Guards every `var` below: the workers share them.
  private let lock = NSLock()
  private var boxes = 0
  private var milpCalls = 0
  private var largestPrunedBound = -Double.infinity
  private var bestMargin = -Double.infinity
  private var milpBinaries = 0
  private var unknownReason: String?
  private var unknownCause: UnknownCause?
  /// The answer that ended the search early (a counterexample, a limit), the first one found.
  private var answer: GoalSearchResult?
  private let progress: ProgressThrottle

  init(
    network: Network, region: InputRegion, goals: [OutputGoal], options: VerificationOptions,
    deadline: ContinuousClock.Instant?
  ) {
    self.network = network
    self.region = region
    self.goals = goals
    self.options = options
    progress = ProgressThrottle(options.progress)
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

  /// Called with `lock` held.
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
    let frontier = SharedFrontier([
      Box(
        lower: (0..<region.dimension).map(region.lowest),
        upper: (0..<region.dimension).map(region.highest), goals: Array(goals.indices), depth: 0,
        parentBound: .infinity)
    ])
    try frontier.search(
      threads: options.threads, name: "relumip-split",
      expand: { try self.children(of: $0, frontier: frontier) },
      afterEach: { self.reportProgress(frontier) })
    return lock.withLock {
      if let answer { return answer }
      if let unknownReason {
        return result(.unknown, settledBy: .none, reason: unknownReason, cause: unknownCause)
      }
      return result(.robust, settledBy: milpCalls > 0 ? .branchAndCut : .bounds)
    }
  }

  private func reportProgress(_ frontier: SharedFrontier<Box>) {
    progress.tick {
      let (searched, margin) = lock.withLock { (boxes, bestMargin) }
      return frontier.progress(unit: "boxes", searched: searched, bestMargin: margin)
    }
  }

  /// Records the search's answer, unless another worker's came first, and stops every worker.
  private func finish(
    _ frontier: SharedFrontier<Box>, _ verdict: Verdict, counterexample: Counterexample? = nil,
    goal: Int? = nil, settledBy: SettledBy, reason: String? = nil, cause: UnknownCause? = nil
  ) {
    lock.withLock {
      guard answer == nil else { return }
      answer = result(
        verdict, counterexample: counterexample, goal: goal, settledBy: settledBy, reason: reason,
        cause: cause)
    }
    frontier.stop()
  }

  /// Bounds one box: its two halves if it stays open, none once its goals are ruled out in it,
  /// its MILP has decided it, or the search is over.
  private func children(of box: Box, frontier: SharedFrontier<Box>) throws -> [Box] {
    var box = box
    let hiddenLayers = network.layers.count - 1
    let searched = lock.withLock {
      boxes += 1
      return boxes
    }
    if let deadline, ContinuousClock.now >= deadline {
      finish(
        frontier, .unknown, settledBy: .none,
        reason: "time limit reached (\(searched) boxes searched, \(frontier.openCount) open)",
        cause: .timeLimit)
      return []
    }
    // Each open box holds two bounds per input and a few words besides.
    let open = frontier.openCount
    if let limit = options.memoryLimit, open * (16 * region.dimension + 96) > limit {
      finish(
        frontier, .unknown, settledBy: .none,
        reason: "memory limit reached (\(open) open boxes after \(searched) searched)",
        cause: .memoryLimit)
      return []
    }
    let part = try InputRegion(boxLower: box.lower, boxUpper: box.upper)
    let (bounds, relaxations, magnitudes) = SymbolicBounds.compute(network: network, region: part)
    let outputs = bounds.layers[hiddenLayers]
    var influence = [Double](repeating: 0, count: region.dimension)
    var openGoals: [Int] = []
    var boxBound = -Double.infinity
    for index in box.goals {
      let goal = goals[index]
      var (goalBound, linear, tightest) = SymbolicBounds.marginUpperBound(
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
        lock.withLock { largestPrunedBound = max(largestPrunedBound, goalBound) }
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
      }
      // The condition closest to being ruled out decides where to split: the box is pruned once
      // any one condition's bound falls below zero.
      let reach = gradientReach(
        of: tightest.map { [goal.conditions[$0]] } ?? goal.conditions, bounds: bounds)
      for j in reach.indices { influence[j] += reach[j] }
      for candidate in candidates {
        let (found, margin) = Counterexample.check(
          candidate, network: network, region: region, goal: goal)
        lock.withLock { bestMargin = max(bestMargin, margin) }
        if let found {
          finish(
            frontier, .counterexample, counterexample: found, goal: index, settledBy: .heuristic)
          return []
        }
      }
    }
    if openGoals.isEmpty { return [] }
    box.goals = openGoals
    box.parentBound = boxBound

    if bounds.unstableCount <= milpThreshold(for: box, searched: searched) {
      try solveByMILP(box, bounds: bounds, frontier: frontier)
      return []
    }
    // Bisect along the input whose width times the bound on the goal's gradient is largest
    // (ReluVal's smear). The bound's own linear coefficients mislead: on ACAS Xu 1_4 property 1
    // an input whose coefficient the chords cancel to 1e-10 kept 169 ReLUs unstable, and 30,000
    // boxes cut ever thinner along the other inputs never proved it.
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
      try solveByMILP(box, bounds: bounds, frontier: frontier)
      return []
    }
    var left = box
    left.upper[dimension] = middle
    left.depth += 1
    var right = box
    right.lower[dimension] = middle
    right.depth += 1
    return [left, right]
  }

  /// How many unstable ReLUs a box may have and still go to the MILP rather than be bisected.
  private func milpThreshold(for box: Box, searched: Int) -> Int {
    guard searched > options.splitMILPWarmUpBoxes,
      box.goals.contains(where: { goals[$0].conditions.count > 1 })
    else { return options.splitMILPThreshold }
    return max(options.splitMILPThreshold, options.splitConjunctionMILPThreshold)
  }

  /// A bound on |∂c/∂x_j| over the box for each input, summed over the conditions c: their rows in absolute
  /// value, carried back through |W|, with each ReLU's derivative at most 1 (0 where the bounds
  /// prove it off).
  private func gradientReach(of conditions: [OutputCondition], bounds: NetworkBounds)
    -> [Double]
  {
    let outputLayer = network.layers[network.layers.count - 1]
    var total = [Double](repeating: 0, count: region.dimension)
    for condition in conditions {
      var g = condition.composed(with: outputLayer).weights.map(abs)
      for p in stride(from: network.layers.count - 2, through: 0, by: -1) {
        let layerBounds = bounds.layers[p]
        let layer = network.layers[p]
        var next = [Double](repeating: 0, count: layer.inputSize)
        for j in g.indices where g[j] != 0 && layerBounds.upper[j] > 0 {
          layer.matrix.forEachEntry(inRow: j) { k, w in next[k] += abs(w) * g[j] }
        }
        g = next
      }
      for j in total.indices { total[j] += g[j] }
    }
    return total
  }

  /// The MILP on one box, for its open goals; a re-checked counterexample ends the search.
  private func solveByMILP(_ box: Box, bounds: NetworkBounds, frontier: SharedFrontier<Box>)
    throws
  {
    lock.withLock { milpCalls += 1 }
    let part = try InputRegion(boxLower: box.lower, boxUpper: box.upper)
    var milpOptions = options
    milpOptions.attack = false
    let encoding = try MILPEncoding(
      network: network, region: part, bounds: bounds,
      options: MILPEncoding.Options(dropThreshold: options.dropThreshold))
    lock.withLock { milpBinaries = max(milpBinaries, encoding.binaryCount) }
    for index in box.goals {
      let search = TargetSearch(
        encoding: encoding, network: network, region: part, goal: goals[index],
        options: milpOptions, deadline: deadline)
      let outcome = try search.run()
      if let objective = outcome.objective {
        lock.withLock { bestMargin = max(bestMargin, objective) }
      }
      switch outcome.verdict {
      case .counterexample:
        // Re-checked against the sub-box; the whole region contains it.
        guard let found = outcome.counterexample,
          let whole = Counterexample.check(
            found.input, network: network, region: region, goal: goals[index]
          ).counterexample
        else {
          // Not proven either way in this box: the answer can no longer be robust.
          lock.withLock {
            unknownReason = "\(goals[index].name): a sub-box's counterexample failed the re-check"
            unknownCause = .unconfirmedCounterexample
          }
          continue
        }
        finish(
          frontier, .counterexample, counterexample: whole, goal: index, settledBy: .branchAndCut)
        return
      case .robust:
        lock.withLock { largestPrunedBound = max(largestPrunedBound, outcome.bound ?? -tolerance) }
      case .unknown:
        // Other boxes may still hold a counterexample; the answer can no longer be robust.
        lock.withLock {
          unknownReason = "\(goals[index].name): \(outcome.reason ?? "no answer") (in a sub-box)"
          unknownCause = outcome.cause
        }
      }
    }
  }
}
