/// Lower and upper bounds on the pre-activation values of one layer's neurons.
package struct LayerBounds: Sendable, Equatable {
  package var lower: [Double]
  package var upper: [Double]

  package init(lower: [Double], upper: [Double]) {
    precondition(lower.count == upper.count, "bound arrays differ in size")
    self.lower = lower
    self.upper = upper
  }

  package var count: Int { lower.count }

  /// Neurons whose ReLU is provably off (upper bound ≤ 0).
  package var inactiveCount: Int { upper.filter { $0 <= 0 }.count }
  /// Neurons whose ReLU is provably on (lower bound ≥ 0).
  package var activeCount: Int { zip(lower, upper).filter { $0.0 >= 0 && $0.1 > 0 }.count }
  package var unstableCount: Int { zip(lower, upper).filter { $0.0 < 0 && $0.1 > 0 }.count }

  package func isUnstable(_ index: Int) -> Bool { lower[index] < 0 && upper[index] > 0 }

  /// Bounds on the layer's output after `activation`.
  func outputBounds(_ activation: Activation) -> LayerBounds {
    switch activation {
    case .identity: return self
    case .relu: return LayerBounds(lower: lower.map { max(0, $0) }, upper: upper.map { max(0, $0) })
    }
  }

  /// The tighter of two sound bound sets, neuron by neuron.
  func intersected(with other: LayerBounds) -> LayerBounds {
    LayerBounds(
      lower: zip(lower, other.lower).map { max($0.0, $0.1) },
      upper: zip(upper, other.upper).map { min($0.0, $0.1) })
  }
}

/// Sound bounds on every layer's pre-activations over an input region.
package struct NetworkBounds: Sendable, Equatable {
  /// One entry per layer of the network, the last being the outputs.
  package var layers: [LayerBounds]

  package var unstableCount: Int { layers.dropLast().reduce(0) { $0 + $1.unstableCount } }
}

/// γₙ = n·u / (1 − n·u) with u = 2⁻⁵³, the standard bound on the relative error of a sum of n
/// products: |fl(Σ aᵢbᵢ) − Σ aᵢbᵢ| ≤ γₙ·Σ |aᵢbᵢ| in any order of summation (Higham, *Accuracy and
/// Stability of Numerical Algorithms*, 2nd ed., §3.1), barring underflow.
func roundingGamma(terms n: Int) -> Double {
  let nu = Double(max(n, 1)) * 0x1p-53
  return nu < 0.5 ? nu / (1 - nu) : .infinity
}

/// A bound on the rounding error of a computed sum of `terms` products whose absolute values
/// add up to `magnitude` (computed in floating point too): twice γₙ covers both the sum's error
/// and the magnitude's own rounding, and each product that underflows can add up to half the
/// smallest subnormal, covered many times over by n·(smallest normal). Every computed bound is
/// moved outward by it, so the bounds stay true bounds: a widening, never a tightening.
@inline(__always)
func roundingMargin(_ magnitude: Double, terms n: Int) -> Double {
  (2 * roundingGamma(terms: n) * magnitude).nextUp + Double(max(n, 1)) * .leastNormalMagnitude
}

enum IntervalBounds {
  /// Bounds by interval arithmetic, with the first layer bounded exactly over the region (ball ∩
  /// box): for L∞ that is interval arithmetic on the per-coordinate range; for L1 it is a
  /// fractional knapsack.
  static func compute(network: Network, region: InputRegion) -> NetworkBounds {
    var result: [LayerBounds] = []
    let first = firstLayer(network.layers[0], region: region)
    result.append(first)
    var previous = first.outputBounds(network.layers[0].activation)
    for layer in network.layers.dropFirst() {
      let bounds = propagate(layer, inputLower: previous.lower, inputUpper: previous.upper)
      result.append(bounds)
      previous = bounds.outputBounds(layer.activation)
    }
    return NetworkBounds(layers: result)
  }

  /// Interval arithmetic through one affine layer. A row for which `skipsRow` is true is not
  /// computed and gets (−∞, ∞): for a caller that intersects the result with bounds it already
  /// holds, and needs nothing new for that row.
  static func propagate(
    _ layer: AffineLayer, inputLower: [Double], inputUpper: [Double],
    skipsRow: ((Int) -> Bool)? = nil
  ) -> LayerBounds {
    var lower = [Double](repeating: 0, count: layer.outputSize)
    var upper = [Double](repeating: 0, count: layer.outputSize)
    for i in 0..<layer.outputSize {
      if let skipsRow, skipsRow(i) {
        (lower[i], upper[i]) = (-.infinity, .infinity)
        continue
      }
      // Each side is its own sum, with its own rounding error. A term whose input bound is 0
      // is an exact 0 and adds no error: the copy of a ReLU's output (MaxPool's tree passes
      // values on so) keeps its lower bound of exactly 0, and stays a stable neuron.
      let bias = layer.bias[i]
      var (low, high) = (bias, bias)
      var (lowMagnitude, highMagnitude) = (abs(bias), abs(bias))
      var (lowTerms, highTerms) = bias == 0 ? (0, 0) : (1, 1)
      layer.matrix.forEachEntry(inRow: i) { j, w in
        let (toLow, toHigh) =
          w > 0 ? (inputLower[j], inputUpper[j]) : (inputUpper[j], inputLower[j])
        if toLow != 0 {
          let a = w * toLow
          low += a
          lowMagnitude += abs(a)
          lowTerms += 1
        }
        if toHigh != 0 {
          let b = w * toHigh
          high += b
          highMagnitude += abs(b)
          highTerms += 1
        }
      }
      lower[i] = lowTerms == 0 ? low : low - roundingMargin(lowMagnitude, terms: lowTerms)
      upper[i] = highTerms == 0 ? high : high + roundingMargin(highMagnitude, terms: highTerms)
    }
    return LayerBounds(lower: lower, upper: upper)
  }

  /// Exact bounds of the first layer's pre-activations over the region.
  static func firstLayer(_ layer: AffineLayer, region: InputRegion) -> LayerBounds {
    let n = layer.inputSize
    let lowest = (0..<n).map(region.lowest)
    let highest = (0..<n).map(region.highest)
    guard region.norm == .l1 else {
      return propagate(layer, inputLower: lowest, inputUpper: highest)
    }
    var lower = [Double](repeating: 0, count: layer.outputSize)
    var upper = [Double](repeating: 0, count: layer.outputSize)
    for i in 0..<layer.outputSize {
      var centerValue = layer.bias[i]
      var magnitude = abs(layer.bias[i])
      layer.matrix.forEachEntry(inRow: i) { j, w in
        centerValue += w * region.center[j]
        magnitude += abs(w) * max(abs(lowest[j]), abs(highest[j]))
      }
      // Moving coordinate j by t changes the value by |w_j|·t in the chosen direction, up to its
      // room on that side; the budget is the radius, spent on the largest |w_j| first.
      let row = layer.matrix.row(i)
      func bestGain(increasing: Bool) -> Double {
        region.l1Moves(along: row, maximize: increasing).reduce(0) {
          $0 + abs(row[$1.coordinate]) * $1.distance
        }
      }
      // The center's value and the knapsack's gain: sums of at most n + 1 terms each, the gain's
      // terms |w_j|·step_j with steps up to 2·max|x_j| (and the budget's own subtractions
      // rounding by at most as much again).
      let margin = roundingMargin(4 * magnitude, terms: 2 * n + 2)
      upper[i] = centerValue + bestGain(increasing: true) + margin
      lower[i] = centerValue - bestGain(increasing: false) - margin
    }
    return LayerBounds(lower: lower, upper: upper)
  }
}
