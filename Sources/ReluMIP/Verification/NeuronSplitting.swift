import HeapModule

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
final class NeuronSplittingSearch {
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
  /// own bounds change).
  private let recomputesLayers: Bool
  /// Optimisation steps at the root and at each later subproblem.
  var rootIterations: Int { max(options.boundOptimizationSteps, nodeIterations) }
  var nodeIterations = 12
  /// Statistics of the encoding the search replaces, for the result.
  let statistics: [LayerStatistics]
  let binaries: Int

  private struct Subproblem: Comparable {
    var splits: [NeuronSplit]
    var parameters: [OptimizedBound.Parameters]
    var parentBound: Double

    static func < (a: Subproblem, b: Subproblem) -> Bool { a.parentBound < b.parentBound }
    static func == (a: Subproblem, b: Subproblem) -> Bool { a.parentBound == b.parentBound }
  }

  private(set) var subproblems = 0
  private(set) var linearPrograms = 0
  private var largestPrunedBound = -Double.infinity
  private var bestMargin = -Double.infinity
  private var counterexample: Counterexample?
  private var unknownReason: String?
  private var unknownCause: UnknownCause?

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
    let hiddenNeurons = network.layers.dropLast().reduce(0) { $0 + $1.outputSize }
    recomputesLayers = hiddenNeurons <= 4096
  }

  private var tolerance: Double { options.robustTolerance }

  private func outcome(
    _ verdict: Verdict, _ settledBy: SettledBy, reason: String? = nil, cause: UnknownCause? = nil
  ) -> TargetSearch.Outcome {
    TargetSearch.Outcome(
      verdict: verdict, settledBy: settledBy, counterexample: counterexample,
      objective: bestMargin > -.infinity ? bestMargin : nil,
      bound: verdict == .robust ? max(largestPrunedBound, -.greatestFiniteMagnitude) : nil,
      nodes: subproblems, reason: reason, cause: verdict == .unknown ? (cause ?? .solver) : nil,
      statistics: statistics, binaries: binaries, boundsTime: 0)
  }

  func run() throws -> TargetSearch.Outcome {
    let hidden = network.layers.count - 1
    let rootLayers = Array(rootBounds.layers[0..<hidden])
    var open: Heap<Subproblem> = [
      Subproblem(
        splits: [],
        parameters: objectives.map { $0.initialParameters(rootBounds: rootBounds) },
        parentBound: .infinity)
    ]
    let parameterBytes = objectives.reduce(0) { $0 + 8 * $1.slopeCount } + 64
    while let subproblem = open.popMax() {
      if let deadline, ContinuousClock.now >= deadline {
        return outcome(
          .unknown, .none,
          reason:
            "time limit reached (\(subproblems) subproblems searched, \(open.count + 1) open)",
          cause: .timeLimit)
      }
      if let limit = options.memoryLimit, open.count * parameterBytes > limit {
        return outcome(
          .unknown, .none,
          reason: "memory limit reached (\(open.count + 1) open subproblems after \(subproblems))",
          cause: .memoryLimit)
      }
      subproblems += 1
      guard
        let bounds = SymbolicBounds.refine(
          network: network, region: region, bounds: rootLayers, splits: subproblem.splits,
          magnitudes: magnitudes, recomputeLayers: recomputesLayers)
      else { continue }  // No input of the region has these phases.

      var nodeBound = Double.infinity
      var branchingCoefficients: [[Double]]?
      var parameters = subproblem.parameters
      var pruned = false
      for (c, objective) in objectives.enumerated() {
        let start = parameters[c].extended(toSplits: subproblem.splits.count)
        let (best, evaluation) = objective.optimize(
          bounds: bounds, splits: subproblem.splits, start: start,
          iterations: subproblem.splits.isEmpty ? rootIterations : nodeIterations,
          target: -tolerance, deadline: deadline)
        parameters[c] = best
        if consider(evaluation.point) { return outcome(.counterexample, .heuristic) }
        if evaluation.value <= -tolerance {
          largestPrunedBound = max(largestPrunedBound, evaluation.value)
          pruned = true
          break
        }
        if evaluation.value < nodeBound {
          nodeBound = evaluation.value
          branchingCoefficients = evaluation.coefficients
        }
      }
      if pruned { continue }
      guard let coefficients = branchingCoefficients,
        let split = chooseSplit(bounds: bounds, coefficients: coefficients)
      else {
        // Every phase is known: a linear program decides the subproblem.
        if let answer = try solveLinearProgram(
          bounds: bounds, splits: subproblem.splits, parameters: parameters)
        {
          return answer
        }
        continue
      }
      for active in [true, false] {
        open.insert(
          Subproblem(
            splits: subproblem.splits + [
              NeuronSplit(layer: split.layer, neuron: split.neuron, active: active)
            ], parameters: parameters, parentBound: nodeBound))
      }
    }
    if let unknownReason {
      return outcome(.unknown, .none, reason: unknownReason, cause: unknownCause)
    }
    return outcome(.robust, subproblems > 1 ? .reluSplit : .bounds)
  }

  /// The unstable neuron whose relaxation costs the bound most, estimated from its coefficient
  /// (BaBSR's idea): the upper chord adds `g·intercept` where the coefficient `g` is positive; a
  /// negative coefficient's lower slope costs less, at most `|g|·min(u, −l)`.
  private func chooseSplit(bounds: [LayerBounds], coefficients: [[Double]]) -> (
    layer: Int, neuron: Int
  )? {
    var best: (layer: Int, neuron: Int)?
    var bestScore = -1.0
    for (p, layerBounds) in bounds.enumerated() {
      for j in 0..<layerBounds.count where layerBounds.isUnstable(j) {
        let (l, u) = (layerBounds.lower[j], layerBounds.upper[j])
        let g = coefficients[p][j]
        let score = g > 0 ? g * u * -l / (u - l) : 0.1 * -g * min(u, -l)
        if score > bestScore {
          bestScore = score
          best = (p, j)
        }
      }
    }
    return best
  }

  /// Re-checks a candidate; records and returns whether it is a counterexample.
  private func consider(_ candidate: [Double]) -> Bool {
    // The searched network first: the reference model's two passes only where it looks promising.
    guard goal.margin(network.evaluate(candidate)) > -tolerance else { return false }
    let (found, margin) = Counterexample.check(
      candidate, network: network, region: region, goal: goal)
    bestMargin = max(bestMargin, margin)
    guard let found else { return false }
    counterexample = found
    return true
  }

  /// GLPK on a subproblem whose phases are all known: nil when it proves the goal unreachable
  /// there. GLPK's word that the LP is infeasible (the splits' phases exclude each other) is no
  /// proof; long multiplier optimisation then has to show it (the Lagrangian bound of an empty
  /// subproblem falls without end).
  private func solveLinearProgram(
    bounds: [LayerBounds], splits: [NeuronSplit], parameters: [OptimizedBound.Parameters]
  ) throws -> TargetSearch.Outcome? {
    linearPrograms += 1
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
    let result = try search.run()
    if let objective = result.objective { bestMargin = max(bestMargin, objective) }
    switch result.verdict {
    case .counterexample:
      counterexample = result.counterexample
      return outcome(.counterexample, .branchAndCut)
    case .robust:
      largestPrunedBound = max(largestPrunedBound, result.bound ?? -tolerance)
    case .unknown:
      if result.cause != .timeLimit && result.cause != .memoryLimit {
        for (c, objective) in objectives.enumerated() {
          let start = parameters[c].extended(toSplits: splits.count)
          let (_, evaluation) = objective.optimize(
            bounds: bounds, splits: splits, start: start, iterations: 1000, target: -tolerance,
            deadline: deadline)
          if evaluation.value <= -tolerance {
            largestPrunedBound = max(largestPrunedBound, evaluation.value)
            return nil
          }
        }
      }
      // Other subproblems may still hold a counterexample; the answer can no longer be robust.
      unknownReason = "\(result.reason ?? "no answer") (in a subproblem)"
      unknownCause = result.cause
    }
    return nil
  }
}
