/// A ReLU's phase fixed on a branch of the neuron-split search: `active` means the subproblem
/// holds only inputs with `z ≥ 0` at that neuron, inactive only those with `z ≤ 0`.
struct NeuronSplit: Sendable, Equatable {
  var layer: Int
  var neuron: Int
  var active: Bool
}

/// Optimised linear bounds (α-CROWN with β-CROWN's split multipliers) on one linear function
/// `row·a_m + constant` of the last hidden layer's outputs, maximised over the region.
///
/// Back-substitution (`SymbolicBounds.bound`) relaxes each unstable ReLU from below by `a ≥ α·z`.
/// That holds for every `α ∈ [0, 1]`, so the bound is sound whatever α is, and `α` becomes a
/// parameter to choose: the bound is a piecewise-linear function of the α's whose gradient is
/// cheap (`∂U/∂α_j = g_j·ẑ_j`, the neuron's back-substituted coefficient times its value in the
/// relaxed network at the input that attains the bound), so projected gradient steps lower it.
/// A split neuron's constraint (`z ≥ 0` or `z ≤ 0`) enters by a Lagrange multiplier `β ≥ 0`:
/// `max f ≤ max (f ± β·z)` over the larger set, sound for every `β ≥ 0`, optimised the same way
/// (`∂U/∂β = ±ẑ`). Every evaluated bound is a true bound; the search keeps the smallest.
struct OptimizedBound {
  let network: Network
  let region: InputRegion
  /// `magnitudes[p]` bounds |a_p| (`SymbolicBounds.outputMagnitudes`) for every α and any
  /// tighter bounds than those it was computed from: the rounding margin's scale.
  let magnitudes: [[Double]]
  /// The objective: a row over the last hidden layer's outputs (over the inputs when there is
  /// no hidden layer) and a constant.
  let row: [Double]
  let constant: Double
  /// Per hidden layer, per neuron, the index of its lower slope in `Parameters.lowerSlopes`
  /// (-1 for neurons that are stable in every subproblem: stable at the root).
  let slopeIndex: [[Int32]]
  let slopeCount: Int
  private let relativeMargin: Double
  /// The first layer's pre-activations at the center of an L1 ball. The bound's maximiser there
  /// is the center moved along a few coordinates, so the forward pass adds their columns to
  /// these instead of multiplying the whole first layer: on the seed network that product was
  /// half of `evaluate`'s work.
  private let firstLayerAtCenter: [Double]?

  /// The free parameters: a lower slope per root-unstable neuron, a multiplier per split.
  struct Parameters: Sendable {
    var lowerSlopes: [Double]
    var multipliers: [Double]

    /// The parameters of a child subproblem: the parent's, and a zero multiplier for each split
    /// added since (splits only ever grow at the end of the list).
    func extended(toSplits count: Int) -> Parameters {
      Parameters(
        lowerSlopes: lowerSlopes,
        multipliers: multipliers + [Double](repeating: 0, count: count - multipliers.count))
    }
  }

  /// One evaluated bound, with what the optimiser and the branching need.
  struct Evaluation {
    var value: Double
    /// The input at which the bound's linear function is largest.
    var point: [Double]
    /// Per hidden layer, each neuron's coefficient on its output `a` before relaxation.
    var coefficients: [[Double]]
    var slopeGradient: [Double]
    var multiplierGradient: [Double]
  }

  /// - Parameters:
  ///   - rootBounds: the pre-activation bounds of the hidden layers at the root; the neurons
  ///     unstable there get a lower slope.
  init(
    network: Network, region: InputRegion, rootBounds: NetworkBounds, magnitudes: [[Double]],
    row: [Double], constant: Double
  ) {
    self.network = network
    self.region = region
    self.magnitudes = magnitudes
    self.row = row
    self.constant = constant
    var count: Int32 = 0
    var indices: [[Int32]] = []
    for p in 0..<(network.layers.count - 1) {
      let bounds = rootBounds.layers[p]
      indices.append(
        (0..<bounds.count).map { j in
          guard bounds.isUnstable(j) else { return -1 }
          count += 1
          return count - 1
        })
    }
    slopeIndex = indices
    slopeCount = Int(count)
    let m = network.layers.count - 2
    // As in `SymbolicBounds.bound`: sums expanded along paths of at most `depth` factors.
    let depth = (0..<(m + 1)).reduce(region.dimension + 4) { $0 + network.layers[$1].inputSize + 3 }
    relativeMargin = max(1e-9, 4 * roundingGamma(terms: depth))
    if region.norm == .l1, m >= 0, !network.layers[0].matrix.isSparse {
      firstLayerAtCenter = network.layers[0].matrix.multiply(
        region.center, adding: network.layers[0].bias)
    } else {
      firstLayerAtCenter = nil
    }
  }

  /// The slopes that `SymbolicBounds` uses (1 where `u > −l`, else 0), no multipliers.
  func initialParameters(rootBounds: NetworkBounds, splits: Int = 0) -> Parameters {
    var slopes = [Double](repeating: 0, count: slopeCount)
    for (p, indices) in slopeIndex.enumerated() {
      let bounds = rootBounds.layers[p]
      for (j, index) in indices.enumerated() where index >= 0 {
        slopes[Int(index)] = bounds.upper[j] > -bounds.lower[j] ? 1 : 0
      }
    }
    return Parameters(
      lowerSlopes: slopes, multipliers: [Double](repeating: 0, count: splits))
  }

  /// The bound for these parameters, with the subproblem's bounds (`bounds[p]`, the hidden
  /// layers' pre-activation bounds, split neurons already clamped to their phase) and splits.
  func evaluate(bounds: [LayerBounds], splits: [NeuronSplit], parameters: Parameters)
    -> Evaluation
  {
    let layers = network.layers
    let m = layers.count - 2
    var lambda = row
    var constantTerm = constant
    var coefficients = [[Double]](repeating: [], count: m + 1)
    // Which relaxation each unstable neuron took: the upper chord (true) or α·z.
    var upperChosen = [[Bool]](repeating: [], count: m + 1)
    var splitsByLayer = [[(neuron: Int, sign: Double, index: Int)]](repeating: [], count: m + 1)
    for (index, split) in splits.enumerated() {
      splitsByLayer[split.layer].append((split.neuron, split.active ? 1 : -1, index))
    }
    // The multiplier terms' share of the rounding margin.
    var multiplierMagnitude = 0.0
    for p in stride(from: m, through: 0, by: -1) {
      coefficients[p] = lambda
      let (lower, upper) = (bounds[p].lower, bounds[p].upper)
      var chosen = [Bool](repeating: false, count: lambda.count)
      for j in lambda.indices {
        let g = lambda[j]
        if g == 0 { continue }
        let (l, u) = (lower[j], upper[j])
        if u <= 0 {
          lambda[j] = 0
        } else if l >= 0 {
          continue
        } else if g > 0 {
          let (slope, intercept) = Self.chord(lower: l, upper: u)
          lambda[j] = g * slope
          constantTerm += g * intercept
          chosen[j] = true
        } else {
          let index = slopeIndex[p][j]
          // A neuron stable at the root is stable in every subproblem; unstable here means
          // it has a slope.
          lambda[j] = index >= 0 ? g * parameters.lowerSlopes[Int(index)] : 0
        }
      }
      upperChosen[p] = chosen
      let layer = layers[p]
      let inputMagnitudes = p > 0 ? magnitudes[p - 1] : SymbolicBounds.inputReach(region)
      for split in splitsByLayer[p] {
        let beta = parameters.multipliers[split.index]
        if beta == 0 { continue }
        lambda[split.neuron] += beta * split.sign
        var reach = abs(layer.bias[split.neuron])
        layer.matrix.forEachEntry(inRow: split.neuron) { k, w in
          reach += abs(w) * inputMagnitudes[k]
        }
        multiplierMagnitude += beta * reach
      }
      var next = [Double](repeating: 0, count: layer.inputSize)
      next.withUnsafeMutableBufferPointer { target in
        for j in lambda.indices where lambda[j] != 0 {
          constantTerm += lambda[j] * layer.bias[j]
          layer.matrix.addRow(j, times: lambda[j], into: target)
        }
      }
      lambda = next
    }
    let (extreme, point) = Self.maximum(of: lambda, over: region)
    var total = abs(constant) + multiplierMagnitude
    let outputMagnitudes = m >= 0 ? magnitudes[m] : SymbolicBounds.inputReach(region)
    for j in row.indices { total += abs(row[j]) * outputMagnitudes[j] }
    let value = constantTerm + extreme + total * relativeMargin + Double.leastNormalMagnitude

    // The relaxed network, forward from the point: each neuron's value under the relaxation its
    // coefficient chose. The gradient of the bound is read off it.
    var slopeGradient = [Double](repeating: 0, count: slopeCount)
    var multiplierGradient = [Double](repeating: 0, count: splits.count)
    var activation = point
    for p in 0..<(m + 1) {
      let (lower, upper) = (bounds[p].lower, bounds[p].upper)
      // An off neuron's value is 0 whatever its pre-activation, which only a split's
      // multiplier gradient still reads.
      var needed = upper.map { $0 > 0 }
      for split in splitsByLayer[p] { needed[split.neuron] = true }
      let z =
        p == 0
        ? firstLayerAtCenter.flatMap {
          layers[0].matrix.multiply(activation, near: region.center, atBase: $0)
        }
          ?? layers[0].matrix.multiplyReordered(
            activation, adding: layers[0].bias, onlyRows: needed)
        : layers[p].matrix.multiplyReordered(activation, adding: layers[p].bias, onlyRows: needed)
      var next = z
      for j in z.indices {
        let (l, u) = (lower[j], upper[j])
        if u <= 0 {
          next[j] = 0
        } else if l < 0 {
          if upperChosen[p][j] {
            let (slope, intercept) = Self.chord(lower: l, upper: u)
            next[j] = slope * z[j] + intercept
          } else {
            let index = slopeIndex[p][j]
            let alpha = index >= 0 ? parameters.lowerSlopes[Int(index)] : 0
            next[j] = alpha * z[j]
            if index >= 0 { slopeGradient[Int(index)] = coefficients[p][j] * z[j] }
          }
        }
      }
      for split in splitsByLayer[p] {
        multiplierGradient[split.index] = split.sign * z[split.neuron]
      }
      activation = next
    }
    return Evaluation(
      value: value, point: point, coefficients: coefficients, slopeGradient: slopeGradient,
      multiplierGradient: multiplierGradient)
  }

  /// The upper chord of an unstable ReLU over `[l, u]`, rounded outward as in
  /// `SymbolicBounds.Relaxation`.
  static func chord(lower l: Double, upper u: Double) -> (slope: Double, intercept: Double) {
    let slope = min(1, (u / (u - l) * (1 + 1e-15)).nextUp)
    return (slope, (-slope * l * (1 + 1e-15)).nextUp)
  }

  /// `SymbolicBounds.maximum` of `Σ row[j]·x[j]` over the region, and a point where it is
  /// reached.
  static func maximum(of row: [Double], over region: InputRegion) -> (
    value: Double, point: [Double]
  ) {
    switch region.norm {
    case .linf:
      let point = row.indices.map { j in
        row[j] > 0 ? region.highest(j) : row[j] < 0 ? region.lowest(j) : region.center[j]
      }
      return (SymbolicBounds.maximum(of: row, over: region, maximize: true), point)
    case .l1:
      let moves = region.l1Moves(along: row, maximize: true)
      var point = region.center
      for move in moves {
        point[move.coordinate] += move.upwards ? move.distance : -move.distance
      }
      return (region.l1Value(of: row, after: moves, maximize: true), point)
    }
  }

  /// The smallest bound on `goal`'s margin that optimising each condition's slopes finds
  /// (the margin is the smallest condition, so any condition's bound bounds it), no splits.
  static func marginUpperBound(
    of goal: OutputGoal, network: Network, region: InputRegion, bounds: NetworkBounds,
    magnitudes: [[Double]], iterations: Int, target: Double, deadline: ContinuousClock.Instant?
  ) -> Double {
    let outputLayer = network.layers[network.layers.count - 1]
    let hidden = Array(bounds.layers.dropLast())
    var best = Double.infinity
    for condition in goal.conditions {
      let (row, constant) = condition.composed(with: outputLayer)
      let objective = OptimizedBound(
        network: network, region: region, rootBounds: bounds, magnitudes: magnitudes, row: row,
        constant: constant)
      let (_, evaluation) = objective.optimize(
        bounds: hidden, splits: [], start: objective.initialParameters(rootBounds: bounds),
        iterations: iterations, target: target, deadline: deadline)
      best = min(best, evaluation.value)
      if best <= target { break }
    }
    return best
  }

  /// Projected Adam steps from `start` that lower the bound; returns the best bound met (every
  /// one is sound) with its parameters and evaluation. Stops early past `deadline` or once the
  /// bound is at most `target`.
  func optimize(
    bounds: [LayerBounds], splits: [NeuronSplit], start: Parameters, iterations: Int,
    target: Double, deadline: ContinuousClock.Instant?
  ) -> (parameters: Parameters, evaluation: Evaluation) {
    var parameters = start
    var best = (
      parameters: start,
      evaluation: evaluate(
        bounds: bounds, splits: splits, parameters: start)
    )
    var current = best.evaluation
    var slopeMoments = AdamMoments(count: slopeCount)
    var multiplierMoments = AdamMoments(count: splits.count)
    var learningRate = 0.1
    for _ in 0..<iterations {
      if best.evaluation.value <= target { break }
      if let deadline, ContinuousClock.now >= deadline { break }
      slopeMoments.step(
        &parameters.lowerSlopes, gradient: current.slopeGradient, rate: learningRate, lower: 0,
        upper: 1)
      multiplierMoments.step(
        &parameters.multipliers, gradient: current.multiplierGradient, rate: learningRate,
        lower: 0, upper: .infinity)
      learningRate *= 0.98
      current = evaluate(bounds: bounds, splits: splits, parameters: parameters)
      if current.value < best.evaluation.value { best = (parameters, current) }
    }
    return best
  }
}

/// Adam's running moments for a projected descent (Kingma and Ba), over one parameter vector.
struct AdamMoments {
  private var first: [Double]
  private var second: [Double]
  /// β₁ᵗ and β₂ᵗ, for the bias correction.
  private var decay1 = 1.0
  private var decay2 = 1.0

  init(count: Int) {
    first = [Double](repeating: 0, count: count)
    second = [Double](repeating: 0, count: count)
  }

  /// One descent step on `values` along `gradient`, clipped to `[lower, upper]`.
  mutating func step(
    _ values: inout [Double], gradient: [Double], rate: Double, lower: Double, upper: Double
  ) {
    decay1 *= 0.9
    decay2 *= 0.999
    let (correction1, correction2) = (1 - decay1, 1 - decay2)
    for i in values.indices {
      let g = gradient[i]
      first[i] = 0.9 * first[i] + 0.1 * g
      second[i] = 0.999 * second[i] + 0.001 * g * g
      let update = rate * (first[i] / correction1) / ((second[i] / correction2).squareRoot() + 1e-8)
      values[i] = min(upper, max(lower, values[i] - update))
    }
  }
}
