/// Linear bounds by back-substitution (DeepPoly / CROWN): each unstable ReLU is relaxed by the
/// chord above (`a ≤ s·(z − l)`, `s = u/(u − l)`) and by `a ≥ z` or `a ≥ 0` below (whichever
/// leaves the smaller area), a neuron's bound is written as a linear function of the inputs by
/// substituting these relaxations layer by layer down to the input, and that function is
/// maximised over the region exactly (a box: per coordinate; an L1 ball ∩ box: a fractional
/// knapsack).
///
/// Soundness in floating point: every slope and intercept of a relaxation is rounded outward, and
/// every bound is widened by 1e-9 of the magnitude of what was summed (`outputMagnitudes`: the
/// same computation on absolute values bounds the rounding error, which is below ~1e-11 of it for
/// sums of up to 10⁴ terms over 10 layers).
enum SymbolicBounds {
  /// A layer's ReLU relaxations: `lowerSlope·z ≤ a ≤ upperSlope·z + upperIntercept`.
  struct Relaxation {
    var upperSlope: [Double]
    var upperIntercept: [Double]
    var lowerSlope: [Double]

    init(_ bounds: LayerBounds) {
      let n = bounds.count
      upperSlope = [Double](repeating: 0, count: n)
      upperIntercept = [Double](repeating: 0, count: n)
      lowerSlope = [Double](repeating: 0, count: n)
      for i in 0..<n {
        let (l, u) = (bounds.lower[i], bounds.upper[i])
        if u <= 0 { continue }
        if l >= 0 {
          upperSlope[i] = 1
          lowerSlope[i] = 1
          continue
        }
        // Rounded up, so the chord stays above the ReLU at both ends of [l, u].
        let slope = min(1, (u / (u - l) * (1 + 1e-15)).nextUp)
        upperSlope[i] = slope
        upperIntercept[i] = (-slope * l * (1 + 1e-15)).nextUp
        lowerSlope[i] = u > -l ? 1 : 0
      }
    }
  }

  /// Bounds on every layer over the region: the first layer exact, each later neuron that
  /// interval arithmetic leaves unstable bounded by back-substitution (the tighter of the two is
  /// kept). The output layer is bounded the same way.
  ///
  /// Past `deadline`, the remaining layers get interval bounds only (still sound, looser).
  static func compute(
    network: Network, region: InputRegion, deadline: ContinuousClock.Instant? = nil
  ) -> (
    bounds: NetworkBounds, relaxations: [Relaxation], magnitudes: [[Double]]
  ) {
    var layers: [LayerBounds] = []
    var relaxations: [Relaxation] = []
    var magnitudes: [[Double]] = []
    let first = IntervalBounds.firstLayer(network.layers[0], region: region)
    layers.append(first)
    if network.layers[0].activation == .relu {
      relaxations.append(Relaxation(first))
      magnitudes.append(
        outputMagnitudes(
          network.layers[0], relaxation: relaxations[0], inputMagnitudes: inputReach(region)))
    }
    for k in 1..<network.layers.count {
      let layer = network.layers[k]
      let previous = layers[k - 1].outputBounds(network.layers[k - 1].activation)
      var bounds = IntervalBounds.propagate(
        layer, inputLower: previous.lower, inputUpper: previous.upper)
      let pastDeadline = deadline.map { ContinuousClock.now >= $0 } ?? false
      let rows = (0..<layer.outputSize).filter {
        !pastDeadline && (layer.activation == .identity || bounds.isUnstable($0))
      }
      tighten(
        &bounds, neurons: rows, ofLayer: k, network: network, relaxations: relaxations,
        magnitudes: magnitudes, region: region)
      layers.append(bounds)
      if layer.activation == .relu {
        relaxations.append(Relaxation(bounds))
        magnitudes.append(
          outputMagnitudes(layer, relaxation: relaxations[k], inputMagnitudes: magnitudes[k - 1]))
      }
    }
    return (NetworkBounds(layers: layers), relaxations, magnitudes)
  }

  /// Tightens `bounds` (layer `k`'s pre-activations) at `neurons` by back-substitution through
  /// the relaxations of the layers before it, keeping the tighter of old and new. In chunks, so
  /// that the back-substituted rows of a wide layer (a convolution's thousands of neurons over
  /// thousands of inputs) never all sit in memory at once.
  static func tighten(
    _ bounds: inout LayerBounds, neurons rows: [Int], ofLayer k: Int, network: Network,
    relaxations: [Relaxation], magnitudes: [[Double]], region: InputRegion
  ) {
    let layer = network.layers[k]
    let chunkSize = max(1, (1 << 22) / max(1, layer.inputSize))
    for start in stride(from: 0, to: rows.count, by: chunkSize) {
      let chunk = rows[start..<min(rows.count, start + chunkSize)]
      var coefficients = [Double](repeating: 0, count: chunk.count * layer.inputSize)
      coefficients.withUnsafeMutableBufferPointer { rows in
        for (r, i) in chunk.enumerated() {
          // 1·w is w exactly: a copy of the row.
          layer.matrix.addRow(
            i, times: 1, into: UnsafeMutableBufferPointer(rebasing: rows[(r * layer.inputSize)...]))
        }
      }
      let constants = chunk.map { layer.bias[$0] }
      let upper = bound(
        rows: coefficients, constants: constants, throughLayer: k - 1, network: network,
        relaxations: relaxations, magnitudes: magnitudes, region: region, maximize: true)
      let lower = bound(
        rows: coefficients, constants: constants, throughLayer: k - 1, network: network,
        relaxations: relaxations, magnitudes: magnitudes, region: region, maximize: false)
      for (r, i) in chunk.enumerated() {
        bounds.upper[i] = min(bounds.upper[i], upper.values[r])
        bounds.lower[i] = max(bounds.lower[i], lower.values[r])
      }
    }
  }

  /// Bounds of the hidden layers within a subproblem of the neuron-split search: `bounds` are
  /// the parent's (valid for the subproblem too), the split neurons are clamped to their phase
  /// (an active one has `z ≥ 0`, so its lower bound rises to 0), and every layer after the first
  /// split one is bounded again by back-substitution with the clamped relaxations, keeping the
  /// tighter of old and new. Nil when the bounds prove the subproblem empty (a split phase that
  /// no input of the region reaches).
  ///
  /// `newSplits`: how many of the last splits `parent` does not reflect yet (nil: all of them,
  /// `parent` being the root's bounds). Only the layers after the earliest of those are bounded
  /// again: the earlier layers' bounds came from the same splits already.
  static func refine(
    network: Network, region: InputRegion, bounds parent: [LayerBounds], splits: [NeuronSplit],
    newSplits: Int? = nil, magnitudes: [[Double]], recomputeLayers: Bool
  ) -> [LayerBounds]? {
    var bounds = parent
    func clamp(_ layer: Int) -> Bool {
      for split in splits where split.layer == layer {
        if split.active {
          bounds[layer].lower[split.neuron] = max(bounds[layer].lower[split.neuron], 0)
        } else {
          bounds[layer].upper[split.neuron] = min(bounds[layer].upper[split.neuron], 0)
        }
        if bounds[layer].lower[split.neuron] > bounds[layer].upper[split.neuron] { return false }
      }
      return true
    }
    for p in bounds.indices where !clamp(p) { return nil }
    guard recomputeLayers, let first = splits.suffix(newSplits ?? splits.count).map(\.layer).min()
    else { return bounds }
    var relaxations = (0...first).map { Relaxation(bounds[$0]) }
    for k in (first + 1)..<bounds.count {
      let layer = network.layers[k]
      let previous = bounds[k - 1].outputBounds(.relu)
      // A neuron the parent already knows to be off stays off: its interval row would only be
      // intersected away.
      let parentUpper = bounds[k].upper
      let interval = IntervalBounds.propagate(
        layer, inputLower: previous.lower, inputUpper: previous.upper,
        skipsRow: { parentUpper[$0] <= 0 })
      bounds[k] = bounds[k].intersected(with: interval)
      tighten(
        &bounds[k], neurons: (0..<layer.outputSize).filter { bounds[k].isUnstable($0) },
        ofLayer: k, network: network, relaxations: relaxations, magnitudes: magnitudes,
        region: region)
      if !clamp(k) { return nil }
      for i in 0..<bounds[k].count where bounds[k].lower[i] > bounds[k].upper[i] { return nil }
      relaxations.append(Relaxation(bounds[k]))
    }
    return bounds
  }

  /// The largest margin `goal` can have over the region: each condition's row composed with the
  /// output layer and bounded by back-substitution, the smallest of these (the margin is the
  /// smallest condition), and never above the interval bound from `outputBounds`. Also the linear
  /// function of the input whose maximum gave it (nil when the interval bound was the tighter),
  /// and the index of the condition it belongs to.
  static func marginUpperBound(
    of goal: OutputGoal, network: Network, outputBounds: LayerBounds, relaxations: [Relaxation],
    magnitudes: [[Double]], region: InputRegion
  ) -> (bound: Double, inputCoefficients: [Double]?, condition: Int?) {
    var best = goal.marginUpperBound(lower: outputBounds.lower, upper: outputBounds.upper)
    var linear: [Double]?
    var tightest: Int?
    let outputLayer = network.layers.count - 1
    for (index, condition) in goal.conditions.enumerated() {
      let (row, constant) = condition.composed(with: network.layers[outputLayer])
      let (values, coefficients) = bound(
        rows: row, constants: [constant], throughLayer: outputLayer - 1, network: network,
        relaxations: relaxations, magnitudes: magnitudes, region: region, maximize: true)
      if values[0] < best || linear == nil {
        best = min(best, values[0])
        linear = coefficients
        tightest = index
      }
    }
    return (best, linear, tightest)
  }

  static func inputReach(_ region: InputRegion) -> [Double] {
    (0..<region.dimension).map { max(abs(region.lowest($0)), abs(region.highest($0))) }
  }

  /// Bounds on |a| for a ReLU layer's outputs under its relaxation, on absolute values:
  /// |W|·|a_prev| + |b| plus the chord's intercept, 0 for neurons that are always off.
  static func outputMagnitudes(
    _ layer: AffineLayer, relaxation: Relaxation, inputMagnitudes: [Double]
  ) -> [Double] {
    (0..<layer.outputSize).map { i in
      guard relaxation.upperSlope[i] != 0 else { return 0 }
      var total = abs(layer.bias[i]) + relaxation.upperIntercept[i]
      layer.matrix.forEachEntry(inRow: i) { j, w in total += abs(w) * inputMagnitudes[j] }
      return total
    }
  }

  /// Bounds of the rows `C·a_m + d` (row-major `C` over the outputs `a_m` of ReLU layer `m`)
  /// over the region, with the relaxations of layers `0…m`. Returns the bounds and, per row, the
  /// linear function of the input whose extreme gave it (for choosing where to split).
  ///
  /// `magnitudes[p]` bounds |a_p| computed on absolute values (`outputMagnitudes`); the
  /// back-substitution's rounding error is below 1e-11 of `|C|·magnitudes[m] + |d|`, since the same
  /// sums on absolute values, expanded, give exactly that.
  static func bound(
    rows: [Double], constants: [Double], throughLayer m: Int, network: Network,
    relaxations: [Relaxation], magnitudes: [[Double]], region: InputRegion, maximize: Bool
  ) -> (values: [Double], inputCoefficients: [Double]) {
    let rowCount = constants.count
    var lambda = rows
    var constant = constants
    // m = −1: no ReLU layer before the rows (a network without hidden layers), which are then
    // functions of the input already.
    var width = m >= 0 ? network.layers[m].outputSize : region.dimension
    for p in stride(from: m, through: 0, by: -1) {
      let relaxation = relaxations[p]
      // a_p relaxed in terms of z_p: the upper chord where the coefficient pushes the bound up.
      // (Through buffer pointers: an array's uniqueness check per element cost more than the
      // arithmetic.)
      constant.withUnsafeMutableBufferPointer { constant in
        lambda.withUnsafeMutableBufferPointer { lambda in
          relaxation.upperSlope.withUnsafeBufferPointer { upperSlope in
            relaxation.upperIntercept.withUnsafeBufferPointer { upperIntercept in
              relaxation.lowerSlope.withUnsafeBufferPointer { lowerSlope in
                for r in 0..<rowCount {
                  let base = r * width
                  for j in 0..<width {
                    let g = lambda[base + j]
                    if g == 0 { continue }
                    if (g > 0) == maximize {
                      lambda[base + j] = g * upperSlope[j]
                      constant[r] += g * upperIntercept[j]
                    } else {
                      lambda[base + j] = g * lowerSlope[j]
                    }
                  }
                }
              }
            }
          }
        }
      }
      // z_p = W_p a_{p−1} + b_p.
      let layer = network.layers[p]
      let inputWidth = layer.inputSize
      var nextLambda = [Double](repeating: 0, count: rowCount * inputWidth)
      // The weight rows that four rows at a time go through, and their four coefficients.
      var used: [Int] = []
      var factors: [SIMD4<Double>] = []
      used.reserveCapacity(width)
      factors.reserveCapacity(width)
      nextLambda.withUnsafeMutableBufferPointer { next in
        // Four rows at a time while four are left; the same sums as one row at a time.
        let blocked = inputWidth > 0 ? rowCount - rowCount % 4 : 0
        for r in stride(from: 0, to: blocked, by: 4) {
          let target = next.baseAddress! + r * inputWidth
          used.removeAll(keepingCapacity: true)
          factors.removeAll(keepingCapacity: true)
          for j in 0..<width {
            let g = SIMD4(
              lambda[r * width + j], lambda[(r + 1) * width + j], lambda[(r + 2) * width + j],
              lambda[(r + 3) * width + j])
            if g == .zero { continue }
            for q in 0..<4 where g[q] != 0 { constant[r + q] += g[q] * layer.bias[j] }
            used.append(j)
            factors.append(g)
          }
          let summed = used.withUnsafeBufferPointer { used in
            factors.withUnsafeBufferPointer { factors in
              layer.matrix.sumRows(used, times: factors, into: target, stride: inputWidth)
            }
          }
          if !summed {
            for (j, g) in zip(used, factors) {
              layer.matrix.addRow(j, times: g, into: target, stride: inputWidth)
            }
          }
        }
        for r in blocked..<rowCount {
          let base = r * width
          let target = UnsafeMutableBufferPointer(rebasing: next[(r * inputWidth)...])
          for j in 0..<width {
            let g = lambda[base + j]
            if g == 0 { continue }
            constant[r] += g * layer.bias[j]
            layer.matrix.addRow(j, times: g, into: target)
          }
        }
      }
      lambda = nextLambda
      width = inputWidth
    }
    // Every value is a sum, expanded, of products along paths of at most `depth` factors; the
    // standard bound γ for sums of that many terms, doubled, is far below 1e-9 for the networks
    // seen (10⁴ neurons over 10 layers: 2e-11), and is used where it is not.
    let depth = (0..<(m + 1)).reduce(region.dimension + 4) { $0 + network.layers[$1].inputSize + 3 }
    let relativeMargin = max(1e-9, 4 * roundingGamma(terms: depth))
    var values = [Double](repeating: 0, count: rowCount)
    let outputMagnitudes = m >= 0 ? magnitudes[m] : inputReach(region)
    let rowWidth = outputMagnitudes.count
    for r in 0..<rowCount {
      let row = Array(lambda[(r * width)..<((r + 1) * width)])
      var total = abs(constants[r])
      for j in 0..<rowWidth { total += abs(rows[r * rowWidth + j]) * outputMagnitudes[j] }
      let extreme = maximum(of: row, over: region, maximize: maximize)
      let margin = total * relativeMargin + Double.leastNormalMagnitude
      values[r] = maximize ? constant[r] + extreme + margin : constant[r] + extreme - margin
    }
    return (values, lambda)
  }

  /// max (or min) of `Σ row[j]·x[j]` over the region, exactly: per coordinate for a box or L∞
  /// ball, a fractional knapsack from the center for an L1 ball ∩ box. Rounding is covered by
  /// the caller's margin.
  static func maximum(of row: [Double], over region: InputRegion, maximize: Bool) -> Double {
    switch region.norm {
    case .linf:
      // Through buffer pointers: this runs once per back-substituted row, and per-element
      // bounds checks cost more than the arithmetic.
      var total = 0.0
      row.withUnsafeBufferPointer { row in
        region.lowestValues.withUnsafeBufferPointer { lowest in
          region.highestValues.withUnsafeBufferPointer { highest in
            for j in 0..<row.count where row[j] != 0 {
              let a = row[j] * lowest[j]
              let b = row[j] * highest[j]
              total += maximize ? max(a, b) : min(a, b)
            }
          }
        }
      }
      return total
    case .l1:
      return region.l1Value(
        of: row, after: region.l1Moves(along: row, maximize: maximize), maximize: maximize)
    }
  }
}

extension InputRegion {
  /// `Σ row[j]·x[j]` at the center moved by `l1Moves(along: row, maximize:)`: the L1 ball's
  /// extreme.
  func l1Value(
    of row: [Double], after moves: [(coordinate: Int, distance: Double, upwards: Bool)],
    maximize: Bool
  ) -> Double {
    let sign: Double = maximize ? 1 : -1
    var total = 0.0
    for j in row.indices where row[j] != 0 { total += row[j] * center[j] }
    for move in moves { total += sign * abs(row[move.coordinate]) * move.distance }
    return total
  }

  /// The fractional knapsack behind an L1 ball's extremes. From the center, `Σ row[j]·x[j]`
  /// changes fastest along the coordinate of largest |row[j]|, so the budget goes to the
  /// coordinates in that order, each as far as its room in the direction that raises the sum
  /// (lowers it, for `maximize: false`). The moves in that order: coordinate, distance (> 0)
  /// and direction.
  ///
  /// The budget reaches a few coordinates only (about radius / room: five or six on the seed
  /// network at δ 5), so one pass keeps them in a short list sorted by |row[j]|, dropping its
  /// tail whenever the coordinates before it hold the whole budget. Sorting all of them was
  /// most of the ReLU-phase search's time on L1 balls.
  func l1Moves(along row: [Double], maximize: Bool) -> [(
    coordinate: Int, distance: Double, upwards: Bool
  )] {
    guard radius > 0 else { return [] }
    // Rounding in the running sum of rooms must never drop a coordinate the budget reaches, so
    // the list keeps coordinates until a little more than the budget is held.
    let held = radius * (1 + 0x1p-40)
    var chosen: [(magnitude: Double, coordinate: Int, room: Double)] = []
    // Once the list holds the budget, the smallest |row[j]| it needs: nothing at or below it
    // can enter. Most coordinates stop at this one comparison.
    var threshold = -Double.infinity
    row.withUnsafeBufferPointer { row in
      lowestValues.withUnsafeBufferPointer { lowest in
        highestValues.withUnsafeBufferPointer { highest in
          center.withUnsafeBufferPointer { center in
            for j in 0..<row.count {
              let magnitude = abs(row[j])
              guard magnitude > threshold, magnitude != 0 else { continue }
              let upwards = (row[j] > 0) == maximize
              let room = upwards ? highest[j] - center[j] : center[j] - lowest[j]
              // On images most inputs sit at an end of the box, with no room one way.
              guard room > 0 else { continue }
              var place = chosen.count
              while place > 0 && chosen[place - 1].magnitude < magnitude { place -= 1 }
              chosen.insert((magnitude, j, room), at: place)
              var total = 0.0
              for index in chosen.indices {
                total += chosen[index].room
                if total >= held {
                  chosen.removeSubrange((index + 1)...)
                  threshold = chosen[index].magnitude
                  break
                }
              }
            }
          }
        }
      }
    }
    var budget = radius
    var moves: [(coordinate: Int, distance: Double, upwards: Bool)] = []
    for entry in chosen where budget > 0 {
      let distance = min(entry.room, budget)
      moves.append((entry.coordinate, distance, (row[entry.coordinate] > 0) == maximize))
      budget -= distance
    }
    return moves
  }
}
