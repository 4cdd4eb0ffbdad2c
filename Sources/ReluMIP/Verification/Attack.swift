/// Projected gradient ascent on a goal's margin over the ball ∩ box: a cheap
/// search for counterexamples before any LP is built. It proves nothing; what it finds is
/// re-checked like every other candidate.
struct GradientAttack {
  let network: Network
  let region: InputRegion
  var steps = 40
  var restarts = 3

  /// The attack for a region: on few inputs (ACAS Xu has five) a forward pass costs almost
  /// nothing, so many restarts are affordable, and counterexample regions there are small.
  init(network: Network, region: InputRegion) {
    self.network = network
    self.region = region
    if region.dimension <= 16 { restarts = 40 }
  }

  init(network: Network, region: InputRegion, steps: Int, restarts: Int) {
    self.network = network
    self.region = region
    self.steps = steps
    self.restarts = restarts
  }
  var seed: UInt64 = 0x5EED
  /// The attack stops here with the best point so far.
  var deadline: ContinuousClock.Instant?

  /// The network's outputs from its pre-activations.
  private func outputs(_ preActivations: [[Double]]) -> [Double] {
    network.layers[network.layers.count - 1].activation.apply(
      preActivations[preActivations.count - 1])
  }

  /// The best point found and its margin; the first run starts at the center (on an L∞ ball the
  /// first two), the others at random points of the region.
  ///
  /// On an L∞ ball the runs alternate between short steps (a quarter of the radius, shrinking
  /// by a tenth each step) and long ones (twice the radius, so the first lands on the corner
  /// that the gradient's signs point to, shrinking by a twentieth). Either alone misses
  /// counterexamples the other finds: on MNIST-FC 256x4 property 1 at ε = 0.05 the long steps
  /// reach one in three steps where forty short ones do not; on ACAS Xu's five inputs the short
  /// ones follow narrow regions better.
  func run(goal: OutputGoal) -> (point: [Double], margin: Double) {
    var generator = AttackSeedGenerator(seed: seed ^ goal.stableSeed)
    var best = (point: region.center, margin: goal.margin(network.evaluate(region.center)))
    for restart in 0..<restarts {
      var point = region.center
      let longSteps = region.norm == .linf && restart % 2 == 1
      // The long steps' first run starts at the center too.
      if restart > 1 || (restart == 1 && !longSteps) {
        // A random start inside the region.
        let direction = region.center.indices.map { _ in generator.nextSigned() }
        point = project(zip(region.center, direction).map { $0 + region.radius * $1 })
      }
      var preActivations = network.preActivations(point)
      var stepSize =
        region.norm == .l1 ? region.radius : longSteps ? 2 * region.radius : region.radius / 4
      let shrink = longSteps ? 0.95 : 0.9
      for _ in 0..<steps {
        if let deadline, ContinuousClock.now >= deadline { return best }
        let gradient = self.gradient(preActivations, goal: goal)
        let candidate = project(ascend(point, gradient: gradient, stepSize: stepSize))
        preActivations = network.preActivations(candidate)
        let outputs = self.outputs(preActivations)
        let value = goal.margin(outputs)
        if value > best.margin { best = (candidate, value) }
        if goal.isReached(outputs) { return (candidate, value) }
        point = candidate
        stepSize *= shrink
      }
    }
    return best
  }

  /// The gradient of the margin (of its smallest condition), by back-propagation through the
  /// activation pattern of the pre-activations at a point.
  func gradient(_ preActivations: [[Double]], goal: OutputGoal) -> [Double] {
    let last = network.layers[network.layers.count - 1]
    var upstream = [Double](repeating: 0, count: last.outputSize)
    for term in goal.activeCondition(outputs(preActivations)).terms {
      upstream[term.output] += term.weight
    }
    for index in network.layers.indices.reversed() {
      let layer = network.layers[index]
      if layer.activation == .relu {
        for i in upstream.indices where preActivations[index][i] <= 0 { upstream[i] = 0 }
      }
      var next = [Double](repeating: 0, count: layer.inputSize)
      next.withUnsafeMutableBufferPointer { next in
        for i in 0..<layer.outputSize where upstream[i] != 0 {
          layer.matrix.addRow(i, times: upstream[i], into: next)
        }
      }
      upstream = next
    }
    return upstream
  }

  /// One ascent step: for L∞ the sign of the gradient; for L1 the whole step on the coordinates
  /// with the largest gradient that can still move that way (a sparse step, as L1 optima are
  /// sparse).
  func ascend(_ point: [Double], gradient: [Double], stepSize: Double) -> [Double] {
    var result = point
    switch region.norm {
    case .linf:
      for j in result.indices where gradient[j] != 0 {
        result[j] += gradient[j] > 0 ? stepSize : -stepSize
      }
    case .l1:
      let movable = result.indices.filter { j in
        gradient[j] > 0
          ? result[j] < region.highest(j) : gradient[j] < 0 && result[j] > region.lowest(j)
      }
      var budget = stepSize
      for j in movable.sorted(by: { abs(gradient[$0]) > abs(gradient[$1]) }) where budget > 0 {
        let room = gradient[j] > 0 ? region.highest(j) - result[j] : result[j] - region.lowest(j)
        let move = min(room, budget)
        result[j] += gradient[j] > 0 ? move : -move
        budget -= move
      }
    }
    return result
  }

  /// The Euclidean projection onto the ball ∩ box. For L∞ that is clipping; for L1 it is
  /// soft-thresholding the offsets from the center by the λ (found by bisection) that makes them
  /// fit the radius, then clipping, which is exact because the box constraints are separable.
  func project(_ point: [Double]) -> [Double] {
    let clipped = point.indices.map { min(max(point[$0], region.lowest($0)), region.highest($0)) }
    guard region.norm == .l1, region.distance(clipped) > region.radius else { return clipped }
    let offsets = clipped.indices.map { clipped[$0] - region.center[$0] }
    func shrunk(_ lambda: Double) -> [Double] {
      offsets.map { $0 > 0 ? max($0 - lambda, 0) : min($0 + lambda, 0) }
    }
    var low = 0.0
    var high = offsets.map(abs).max() ?? 0
    for _ in 0..<60 {
      let middle = (low + high) / 2
      if shrunk(middle).reduce(0, { $0 + abs($1) }) > region.radius {
        low = middle
      } else {
        high = middle
      }
    }
    let result = zip(region.center, shrunk(high)).map { $0 + $1 }
    return region.project(result)
  }
}

/// A small deterministic generator (Steele, Lea and Flood's AttackSeedGenerator), so attacks repeat.
struct AttackSeedGenerator: RandomNumberGenerator {
  private var state: UInt64

  init(seed: UInt64) {
    state = seed
  }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Uniform in [−1, 1].
  mutating func nextSigned() -> Double {
    Double(next() >> 11) / Double(1 << 52) - 1
  }
}
