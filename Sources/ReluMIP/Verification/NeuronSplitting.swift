import Foundation

/// Branch and bound over ReLU phases for one goal (β-CROWN's road): a subproblem fixes the
/// phases of some neurons; its bound on each of the goal's conditions comes from optimised
/// back-substitution under those splits (`OptimizedBound`: lower slopes and split multipliers,
/// warm-started from the parent's); it is dropped once a bound is ≤ −tolerance, its bound's
/// maximiser is re-checked as a counterexample, and it is otherwise split on the unstable neuron
/// whose relaxation costs the bound most. A subproblem with every neuron's phase known is a
/// linear program, which GLPK solves exactly (`TargetSearch` on its encoding).
///
/// GLPK's own tree does badly when thousands of ReLUs are unstable (a convolution's first layer):
/// every node solves an LP over all of them with the root's big-M bounds. Here a node costs two
/// passes over the weights per optimisation step, and its bounds know its splits.
///
/// With `options.threads` above one, the threads take subproblems from one shared frontier; the
/// first re-checked counterexample (or the time limit) stops them all.
final class NeuronSplittingSearch: @unchecked Sendable {
  let network: Network
  let region: InputRegion
  let goal: OutputGoal
  let options: VerificationOptions
  let deadline: ContinuousClock.Instant?
  let rootBounds: NetworkBounds
  let magnitudes: [[Double]]
  /// One objective per condition of the goal (the margin is the smallest condition).
  private let objectives: [OptimizedBound]
  /// Whether a subproblem's later layers are bounded again under its splits (costs a
  /// back-substitution per unstable neuron; off for wide layers, where only the split neurons'
  /// own bounds change). Off too over an L1 ball on two hidden layers or fewer, where it cost
  /// more than the subproblems it saved: the seed network's examples 1, 9, 13 at δ 5 took 29,861,
  /// 13,447 and 17,399 subproblems in 3.5, 1.4 and 1.8 s without it against 20,155, 9,863 and
  /// 12,251 in 4.9, 2.9 and 3.3 s with it; the shipped Fashion-MNIST network's examples 0–59 at
  /// δ 2 and 4, 8.1 s against 10.1 s, same verdicts. (Over L∞ boxes it pays: MNIST-FC 256x2
  /// prop_1_0.03 took 103 s without it, 19 s with it.)
  private let recomputesLayers: Bool
  /// What an open subproblem holds, for the memory limit: its parameters and half its parent's
  /// layer bounds (siblings share them).
  private let subproblemBytes: Int
  /// Optimisation steps at the root and at each later subproblem.
  var rootIterations: Int { max(options.boundOptimizationSteps, nodeIterations) }
  /// Measured on MNIST-FC 256x4 (two threads): with 12 steps prop_0_0.03 took 46,744
  /// subproblems (26.5 s), and prop_5_0.03's hardest goal 76,795 (39 s); with 30, 7,141
  /// (11.9 s) and 829 (6.7 s). 20 steps did as well; 256x2 and verivital were unchanged.
  /// On two hidden layers or fewer the slopes settle sooner, and fewer steps are faster.
  /// With 15 instead of 30: the seed network's example 1 at L1 δ 5 took 20,155 subproblems
  /// (4.8 s) instead of 19,069 (6.4 s), example 13 12,251 (3.3 s) instead of 11,725 (4.1 s);
  /// MNIST-FC 256x2's 30 at 120 s took 34.4 s instead of 36.3 s (prop_1_0.03 19.4 s instead of
  /// 21.0 s), same verdicts. Over L1 balls, where the later layers are not bounded again
  /// (`recomputesLayers`), 6: the seed's examples 1, 9, 13 at δ 5 in 2.5, 1.1 and 1.3 s
  /// (36,239, 16,367 and 20,365 subproblems) against 3.8, 1.6 and 2.1 s with 15, 2.9, 1.3 and
  /// 1.7 s with 10; 3 was no faster with a third more subproblems, and 1 ran past 40 s on
  /// example 1. The shipped Fashion-MNIST network's examples 0–99 at L1 δ 2 and 4: 9.7 s
  /// against 11.2 s, same verdicts.
  var nodeIterations: Int
  /// How much more a split in one hidden layer counts than the same score one layer later. The
  /// score sees only the split neuron's own relaxation in the goal's bound, but a split also
  /// tightens the bounds of the layers after it, which each subproblem bounds again. Measured
  /// (subproblems, two threads):
  ///
  /// - MNIST-FC 256x4 (four fully connected hidden layers): with 1 (the score alone)
  ///   prop_0_0.03 took 7,141 and prop_5_0.03's hardest goal 829; with 2, 1,874 and 451; with
  ///   4, 1,118 and 215; with 8, 245 and 201; layer by layer (the earliest unstable layer
  ///   first), 245 and 757. prop_3_0.03's first goal was left open after 395,529 subproblems in
  ///   300 s with 1, and proven after 109,923 (169 s) with 4.
  /// - MNIST-FC 256x2 (two hidden layers): prop_1_0.03 took 22,004 with 1, 44,342 with 1.5 and
  ///   50,162 with 2.
  /// - oval21's cifar_base_kw (two convolutions, then a dense layer): img2908 took 184 with 1
  ///   and was open after 3,376 (30 s) with 4.
  ///
  /// So 4 on fully connected networks of three hidden layers or more whose later layers are
  /// bounded again; 1 otherwise.
  let earlierLayerWeight: Double
  /// Splits after which a subproblem goes whole to GLPK's branch-and-cut, whatever phases its
  /// bounds leave unknown; nil (the default) to split until every phase is known. Set by
  /// `Verifier` to share one goal's MILP among threads: each thread takes a subtree of GLPK's.
  var branchAndCutDepth: Int?
  /// Subproblems after which the search stops with `unknown` (`probeEnded` set), before a
  /// verdict; nil (the default) for no such limit. For a first short pass over every goal.
  var subproblemLimit: Int?
  /// Called with each subproblem's splits and the hidden layers' bounds it is bounded with, by
  /// the worker that bounds it; nil (the default) for none. For tests: what a subproblem learns
  /// under its splits must never reach a subproblem without them (its sibling, another subtree).
  var subproblemObserver: (@Sendable (_ splits: [NeuronSplit], _ bounds: [LayerBounds]) -> Void)?
  /// Whether the search stopped at `subproblemLimit`.
  var probeEnded: Bool { lock.withLock { stoppedAtLimit } }
  /// Statistics of the encoding the search replaces, for the result.
  let statistics: [LayerStatistics]
  let binaries: Int

  private struct Subproblem: FrontierNode {
    var splits: [NeuronSplit]
    var parameters: [OptimizedBound.Parameters]
    var parentBound: Double
    /// The parent's hidden-layer bounds, refined under every split but the last (nil at the
    /// root, and when later layers are not bounded again): the child then bounds again only the
    /// layers after its own split, starting from bounds at least as tight as the root's. The two
    /// children share one copy.
    var parentLayers: [LayerBounds]?

    static func < (a: Subproblem, b: Subproblem) -> Bool { a.parentBound < b.parentBound }
    static func == (a: Subproblem, b: Subproblem) -> Bool { a.parentBound == b.parentBound }
  }

  /// Guards every `var` below: the workers share them.
  private let lock = NSLock()
  private var subproblemCount = 0
  private var linearProgramCount = 0
  /// Nodes of GLPK's trees on the subproblems handed to it.
  private var branchAndCutNodes = 0
  private var largestPrunedBound = -Double.infinity
  private var bestMargin = -Double.infinity
  private var counterexample: Counterexample?
  private var unknownReason: String?
  private var unknownCause: UnknownCause?
  private var stoppedAtLimit = false
  /// The answer that ended the search early (a counterexample, a limit), the first one found.
  private var answer: TargetSearch.Outcome?
  private let progress: ProgressThrottle

  /// Subproblems bounded, and those of them decided by a linear program.
  var subproblems: Int { lock.withLock { subproblemCount } }
  var linearPrograms: Int { lock.withLock { linearProgramCount } }

  init(
    network: Network, region: InputRegion, goal: OutputGoal, rootBounds: NetworkBounds,
    magnitudes: [[Double]], options: VerificationOptions, deadline: ContinuousClock.Instant?,
    statistics: [LayerStatistics], binaries: Int
  ) {
    self.network = network
    self.region = region
    self.goal = goal
    self.rootBounds = rootBounds
    self.magnitudes = magnitudes
    self.options = options
    progress = ProgressThrottle(options.progress)
    self.deadline = deadline
    self.statistics = statistics
    self.binaries = binaries
    let outputLayer = network.layers[network.layers.count - 1]
    objectives = goal.conditions.map { condition in
      let (row, constant) = condition.composed(with: outputLayer)
      return OptimizedBound(
        network: network, region: region, rootBounds: rootBounds, magnitudes: magnitudes,
        row: row, constant: constant)
    }
    let hiddenNeurons = network.hiddenNeuronCount
    let shallow = network.layers.count - 1 <= 2
    nodeIterations = shallow ? (region.norm == .l1 ? 6 : 15) : 30
    recomputesLayers = hiddenNeurons <= 4096 && !(shallow && region.norm == .l1)
    earlierLayerWeight = recomputesLayers && network.isDeepAndFullyConnected ? 4 : 1
    subproblemBytes =
      objectives.reduce(0) { $0 + 8 * $1.slopeCount } + 64
      + (recomputesLayers ? 8 * hiddenNeurons : 0)
  }

  private var tolerance: Double { options.robustTolerance }

  /// Called with `lock` held.
  private func outcome(
    _ verdict: Verdict, _ settledBy: SettledBy, reason: String? = nil, cause: UnknownCause? = nil
  ) -> TargetSearch.Outcome {
    TargetSearch.Outcome(
      verdict: verdict, settledBy: settledBy, counterexample: counterexample,
      objective: bestMargin > -.infinity ? bestMargin : nil,
      bound: verdict == .robust ? max(largestPrunedBound, -.greatestFiniteMagnitude) : nil,
      nodes: subproblemCount + branchAndCutNodes, reason: reason,
      cause: verdict == .unknown ? (cause ?? .solver) : nil,
      statistics: statistics, binaries: binaries, boundsTime: 0)
  }

  func run() throws -> TargetSearch.Outcome {
    let frontier = SharedFrontier([
      Subproblem(
        splits: [],
        parameters: objectives.map { $0.initialParameters(rootBounds: rootBounds) },
        parentBound: .infinity, parentLayers: nil)
    ])
    try frontier.search(
      threads: options.threads, name: "relumip-phases",
      expand: { try self.children(of: $0, frontier: frontier) },
      afterEach: { self.reportProgress(frontier) })
    return lock.withLock {
      if let answer { return answer }
      if let unknownReason {
        return outcome(.unknown, .none, reason: unknownReason, cause: unknownCause)
      }
      if branchAndCutDepth != nil && linearProgramCount > 0 {
        return outcome(.robust, .branchAndCut)
      }
      return outcome(.robust, subproblemCount > 1 ? .reluSplit : .bounds)
    }
  }

  private func reportProgress(_ frontier: SharedFrontier<Subproblem>) {
    progress.tick {
      let (searched, margin) = lock.withLock { (subproblemCount, bestMargin) }
      return frontier.progress(unit: "subproblems", searched: searched, bestMargin: margin)
    }
  }

  /// Records the search's answer, unless another worker's came first, and stops every worker.
  private func finish(
    _ frontier: SharedFrontier<Subproblem>, _ verdict: Verdict, _ settledBy: SettledBy,
    counterexample found: Counterexample? = nil, reason: String? = nil, cause: UnknownCause? = nil
  ) {
    lock.withLock {
      guard answer == nil else { return }
      if let found { counterexample = found }
      answer = outcome(verdict, settledBy, reason: reason, cause: cause)
    }
    frontier.stop()
  }

  /// Bounds one subproblem: its two children if it stays open, none once it is ruled out, its
  /// linear program has decided it, or the search is over.
  private func children(of subproblem: Subproblem, frontier: SharedFrontier<Subproblem>) throws
    -> [Subproblem]
  {
    let hidden = network.layers.count - 1
    let rootLayers = Array(rootBounds.layers[0..<hidden])
    let searched = lock.withLock {
      subproblemCount += 1
      return subproblemCount
    }
    if let deadline, ContinuousClock.now >= deadline {
      finish(
        frontier, .unknown, .none,
        reason:
          "time limit reached (\(searched) subproblems searched, \(frontier.openCount) open)",
        cause: .timeLimit)
      return []
    }
    if let subproblemLimit, searched > subproblemLimit {
      lock.withLock { stoppedAtLimit = true }
      finish(
        frontier, .unknown, .none, reason: "probe ended after \(subproblemLimit) subproblems")
      return []
    }
    let open = frontier.openCount
    if let limit = options.memoryLimit, open * subproblemBytes > limit {
      finish(
        frontier, .unknown, .none,
        reason: "memory limit reached (\(open) open subproblems after \(searched))",
        cause: .memoryLimit)
      return []
    }
    guard
      let bounds = SymbolicBounds.refine(
        network: network, region: region, bounds: subproblem.parentLayers ?? rootLayers,
        splits: subproblem.splits, newSplits: subproblem.parentLayers == nil ? nil : 1,
        magnitudes: magnitudes, recomputeLayers: recomputesLayers)
    else { return [] }  // No input of the region has these phases.
    subproblemObserver?(subproblem.splits, bounds)

    var nodeBound = Double.infinity
    var branchingCoefficients: [[Double]]?
    var parameters = subproblem.parameters
    for (c, objective) in objectives.enumerated() {
      let start = parameters[c].extended(toSplits: subproblem.splits.count)
      let (best, evaluation) = objective.optimize(
        bounds: bounds, splits: subproblem.splits, start: start,
        iterations: subproblem.splits.isEmpty ? rootIterations : nodeIterations,
        target: -tolerance, deadline: deadline)
      parameters[c] = best
      if let found = consider(evaluation.point) {
        finish(frontier, .counterexample, .heuristic, counterexample: found)
        return []
      }
      if evaluation.value <= -tolerance {
        lock.withLock { largestPrunedBound = max(largestPrunedBound, evaluation.value) }
        return []
      }
      if evaluation.value < nodeBound {
        nodeBound = evaluation.value
        branchingCoefficients = evaluation.coefficients
      }
    }
    if let depth = branchAndCutDepth, subproblem.splits.count >= depth {
      try solveWithGLPK(
        bounds: bounds, splits: subproblem.splits, parameters: parameters, frontier: frontier)
      return []
    }
    guard let coefficients = branchingCoefficients,
      let split = chooseSplit(bounds: bounds, coefficients: coefficients)
    else {
      // Every phase is known: a linear program decides the subproblem.
      try solveWithGLPK(
        bounds: bounds, splits: subproblem.splits, parameters: parameters, frontier: frontier)
      return []
    }
    return [true, false].map { active in
      Subproblem(
        splits: subproblem.splits + [
          NeuronSplit(layer: split.layer, neuron: split.neuron, active: active)
        ], parameters: parameters, parentBound: nodeBound,
        parentLayers: recomputesLayers ? bounds : nil)
    }
  }

  /// The unstable neuron whose relaxation costs the bound most, estimated from its coefficient
  /// (BaBSR's idea): the upper chord adds `g·intercept` where the coefficient `g` is positive; a
  /// negative coefficient's lower slope costs less, at most `|g|·min(u, −l)`.
  private func chooseSplit(bounds: [LayerBounds], coefficients: [[Double]]) -> (
    layer: Int, neuron: Int
  )? {
    var best: (layer: Int, neuron: Int)?
    var bestScore = -1.0
    let layerWeights = bounds.indices.map {
      pow(earlierLayerWeight, Double(bounds.count - 1 - $0))
    }
    for (p, layerBounds) in bounds.enumerated() {
      for j in 0..<layerBounds.count where layerBounds.isUnstable(j) {
        let (l, u) = (layerBounds.lower[j], layerBounds.upper[j])
        let g = coefficients[p][j]
        let score =
          (g > 0 ? g * u * -l / (u - l) : 0.1 * -g * min(u, -l)) * layerWeights[p]
        if score > bestScore {
          bestScore = score
          best = (p, j)
        }
      }
    }
    return best
  }

  /// Re-checks a candidate: the counterexample, if it is one.
  private func consider(_ candidate: [Double]) -> Counterexample? {
    // A quick pass of the searched network first (one per subproblem and condition, where most
    // candidates are far from a counterexample); the exact passes and the reference model's
    // only where it looks promising.
    guard goal.margin(network.estimate(candidate)) > -tolerance else { return nil }
    let (found, margin) = Counterexample.check(
      candidate, network: network, region: region, goal: goal)
    lock.withLock { bestMargin = max(bestMargin, margin) }
    return found
  }

  /// GLPK on a subproblem: a linear program once its phases are all known, branch-and-cut over
  /// the phases still unknown past `branchAndCutDepth`; a counterexample ends the search. GLPK's
  /// word that the LP is infeasible (the splits' phases exclude each other) is no proof; long
  /// multiplier optimisation then has to show it (the Lagrangian bound of an empty subproblem
  /// falls without end).
  private func solveWithGLPK(
    bounds: [LayerBounds], splits: [NeuronSplit], parameters: [OptimizedBound.Parameters],
    frontier: SharedFrontier<Subproblem>
  ) throws {
    lock.withLock { linearProgramCount += 1 }
    let networkBounds = NetworkBounds(layers: bounds + [rootBounds.layers[bounds.count]])
    var searchOptions = options
    searchOptions.attack = false
    var encodingOptions = MILPEncoding.Options(dropThreshold: options.dropThreshold)
    encodingOptions.constrainedInactive = Set(
      splits.filter { !$0.active }.map { [$0.layer, $0.neuron] })
    let encoding = try MILPEncoding(
      network: network, region: region, bounds: networkBounds, options: encodingOptions)
    let search = TargetSearch(
      encoding: encoding, network: network, region: region, goal: goal, options: searchOptions,
      deadline: deadline)
    // Another thread's counterexample ends this tree too.
    search.shouldStop = { frontier.isStopped }
    let result = try search.run()
    lock.withLock {
      branchAndCutNodes += result.nodes
      if let objective = result.objective { bestMargin = max(bestMargin, objective) }
    }
    if search.stoppedByCaller { return }
    switch result.verdict {
    case .counterexample:
      finish(frontier, .counterexample, .branchAndCut, counterexample: result.counterexample)
    case .robust:
      lock.withLock { largestPrunedBound = max(largestPrunedBound, result.bound ?? -tolerance) }
    case .unknown:
      if result.cause != .timeLimit && result.cause != .memoryLimit {
        // Where the later layers were not bounded again under the splits, they are now: that
        // alone often shows the phases exclude each other, and it tightens what the
        // multipliers work with.
        var bounds = bounds
        if !recomputesLayers {
          guard
            let refined = SymbolicBounds.refine(
              network: network, region: region, bounds: Array(rootBounds.layers[0..<bounds.count]),
              splits: splits, newSplits: nil, magnitudes: magnitudes, recomputeLayers: true)
          else { return }  // No input of the region has these phases.
          bounds = refined
        }
        for (c, objective) in objectives.enumerated() {
          let start = parameters[c].extended(toSplits: splits.count)
          let (_, evaluation) = objective.optimize(
            bounds: bounds, splits: splits, start: start, iterations: 1000, target: -tolerance,
            deadline: deadline)
          if evaluation.value <= -tolerance {
            lock.withLock { largestPrunedBound = max(largestPrunedBound, evaluation.value) }
            return
          }
        }
      }
      // Other subproblems may still hold a counterexample; the answer can no longer be robust.
      lock.withLock {
        unknownReason = "\(result.reason ?? "no answer") (in a subproblem)"
        unknownCause = result.cause
      }
    }
  }
}
