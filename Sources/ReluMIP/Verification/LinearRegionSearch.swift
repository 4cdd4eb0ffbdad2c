import GLPK

/// A local search over the network's linear regions, the second half of the LP-point heuristic.
///
/// With every unstable ReLU's binary fixed to its phase at a point, the MILP's relaxation is the
/// LP of that point's linear region (the network is affine there), so the simplex method finds
/// the region's best margin exactly. At that optimum some neurons sit on their boundary
/// (pre-activation 0). Their binaries are then released to [0, 1], and the relaxation shows which
/// way the margin pulls them: the exact phases at the relaxed optimum give the next region. The
/// walk stops at a re-checked counterexample, after `maximumSteps` regions, or when a few regions
/// in a row bring no better margin. Every LP starts from the previous basis.
///
/// The walk borrows the encoding's problem and gives every binary its [0, 1] bounds back at the
/// end; the basis it leaves is not the relaxation's, so the caller re-solves before relying on it.
struct LinearRegionSearch {
  struct Outcome {
    var counterexample: Counterexample?
    /// The best margin at a re-checked point of the walk, and the point.
    var bestMargin: Double
    var bestPoint: [Double]
    /// The number of regions whose LP was solved.
    var regions: Int
  }

  let encoding: MILPEncoding
  let network: Network
  let region: InputRegion
  let goal: OutputGoal
  var maximumSteps = 20
  /// Regions in a row that may bring no better margin before the walk gives up.
  var patience = 3
  var deadline: ContinuousClock.Instant?

  private var timeIsUp: Bool {
    deadline.map { ContinuousClock.now >= $0 } ?? false
  }

  /// Solves the LP as it stands: the dual simplex from the previous basis, capped at a quarter as
  /// many pivots as rows (enough when the region changed little), else GLPK's presolver and a
  /// fresh start. On MNIST-FC 256x4 (870 binaries) the warm start alone wandered through
  /// degenerate pivots for over 30 s where the presolved LP took under 1 s.
  private func solve() throws -> Bool {
    var options = SimplexOptions()
    options.method = .dualThenPrimal
    options.iterationLimit = max(200, encoding.rowCount / 4)
    options.timeLimit = timeLeft(deadline)
    let warm = try encoding.solveRelaxation(options)
    if warm == .solved { return encoding.relaxationStatus == .optimal }
    guard warm == .iterationLimit, !timeIsUp else { return false }
    options.iterationLimit = nil
    options.presolve = true
    // The warm start used some of the time left.
    options.timeLimit = timeLeft(deadline)
    return try encoding.solveRelaxation(options) == .solved
      && encoding.relaxationStatus == .optimal
  }

  /// Walks from `start` (any input; it is projected onto the region first).
  func run(from start: [Double]) throws -> Outcome {
    let neurons = encoding.binaryNeurons
    let point = region.project(start)
    let (startFound, startMargin) = Counterexample.check(
      point, network: network, region: region, goal: goal)
    var outcome = Outcome(
      counterexample: startFound, bestMargin: startMargin, bestPoint: point, regions: 0)
    if startFound != nil || neurons.isEmpty { return outcome }
    // Every binary gets [0, 1] back however the walk ends: a binary left fixed would make every
    // later LP and the tree search a region, not the whole relaxation.
    do {
      try walk(from: point, neurons: neurons, outcome: &outcome)
    } catch {
      try releasePhases(neurons)
      throw error
    }
    try releasePhases(neurons)
    return outcome
  }

  private func releasePhases(_ neurons: [MILPEncoding.BinaryNeuron]) throws {
    for neuron in neurons { try encoding.fixPhase(binary: neuron.a, active: nil) }
  }

  private func walk(
    from start: [Double], neurons: [MILPEncoding.BinaryNeuron],
    outcome: inout Outcome
  ) throws {
    var point = start
    var visited: Set<[Bool]> = []
    var stepsWithoutGain = 0
    for _ in 0..<maximumSteps {
      if timeIsUp { break }
      let preActivations = network.preActivations(point)
      let pattern = neurons.map { preActivations[$0.layer][$0.neuron] > 0 }
      // A region seen before has nothing new to give; the walk is going round.
      guard visited.insert(pattern).inserted else { break }
      for (neuron, active) in zip(neurons, pattern) {
        try encoding.fixPhase(binary: neuron.a, active: active)
      }
      guard try solve() else { break }
      outcome.regions += 1

      // The region's best point, re-checked exactly.
      let values = encoding.relaxationValues
      let best = region.project(encoding.inputPoint(from: values))
      let (found, margin) = Counterexample.check(
        best, network: network, region: region, goal: goal)
      if let found {
        outcome.counterexample = found
        outcome.bestMargin = margin
        outcome.bestPoint = best
        return
      }
      if margin > outcome.bestMargin + 1e-9 {
        outcome.bestMargin = margin
        outcome.bestPoint = best
        stepsWithoutGain = 0
      } else {
        stepsWithoutGain += 1
        if stepsWithoutGain >= patience { break }
      }

      // Release the neurons on their boundary (the others stay fixed) and let the relaxation
      // choose their phases.
      var released = 0
      for neuron in neurons {
        let scale = max(1, neuron.upper - neuron.lower)
        guard abs(values[neuron.z]) <= 1e-7 * scale else { continue }
        try encoding.fixPhase(binary: neuron.a, active: nil)
        released += 1
      }
      if released == 0 { break }
      guard try solve() else { break }
      point = region.project(encoding.inputPoint(from: encoding.relaxationValues))
    }
  }
}
