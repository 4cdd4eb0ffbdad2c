import Foundation
import TestSupport
import Testing

@testable import ReluMIP

/// Random networks with the values that break careless bounds: zero weights, weights of 1e-12
/// to 1e-9, repeated weights (ties), whole dead rows, and zero biases.
enum HostileNetworks {
  static func make(
    inputs: Int, hidden: [Int], outputs: Int, using generator: inout SplitMix64
  ) -> Network {
    let plain = RandomNetworks.make(
      inputs: inputs, hidden: hidden, outputs: outputs, using: &generator)
    let layers = plain.layers.map { layer -> AffineLayer in
      var weights = layer.weights
      var bias = layer.bias
      for index in weights.indices {
        switch generator.next() % 10 {
        case 0, 1: weights[index] = 0
        case 2:
          let tiny = generator.uniform(1e-12, 1e-9)
          weights[index] = generator.next() % 2 == 0 ? tiny : -tiny
        case 3: weights[index] = weights[Int(generator.next() % UInt64(weights.count))]
        default: break
        }
      }
      if generator.next() % 4 == 0 {
        // A dead row: the neuron is its bias alone.
        let row = Int(generator.next() % UInt64(layer.outputSize))
        for j in 0..<layer.inputSize { weights[row * layer.inputSize + j] = 0 }
      }
      for index in bias.indices where generator.next() % 4 == 0 { bias[index] = 0 }
      return try! AffineLayer(
        inputSize: layer.inputSize, outputSize: layer.outputSize, weights: weights, bias: bias,
        activation: layer.activation)
    }
    return try! Network(layers: layers)
  }
}

/// The kinds of input set the bounds must hold over.
enum RegionKind: String, CaseIterable, Sendable {
  /// A box of random widths (some zero) inside [−1, 1]ⁿ.
  case box
  /// An L∞ ball clipped to [0, 1]ⁿ.
  case linf
  /// An L1 ball clipped to [0, 1]ⁿ.
  case l1

  func region(dimension n: Int, using generator: inout SplitMix64) throws -> InputRegion {
    switch self {
    case .box:
      var lower: [Double] = []
      var upper: [Double] = []
      for _ in 0..<n {
        let a = generator.uniform(-1, 1)
        let width = generator.next() % 8 == 0 ? 0 : generator.uniform(0, 1)
        lower.append(a)
        upper.append(min(1, a + width))
      }
      return try InputRegion(boxLower: lower, boxUpper: upper)
    case .linf:
      let center = RandomNetworks.point(n, using: &generator)
      return try InputRegion(center: center, norm: .linf, radius: generator.uniform(0, 0.5))
    case .l1:
      let center = RandomNetworks.point(n, using: &generator)
      return try InputRegion(center: center, norm: .l1, radius: generator.uniform(0, 2))
    }
  }
}

/// Points of a region: its center, random samples (some on the edges), and for a box all
/// corners when there are at most 2⁶ of them.
func samplePoints(_ region: InputRegion, count: Int, using generator: inout SplitMix64)
  -> [[Double]]
{
  var points = [region.center]
  for _ in 0..<count { points.append(RegionSampling.sample(region, using: &generator)) }
  if region.norm == .linf && region.dimension <= 6 {
    for mask in 0..<(1 << region.dimension) {
      points.append(
        (0..<region.dimension).map {
          mask & (1 << $0) == 0 ? region.lowest($0) : region.highest($0)
        })
    }
  }
  return points
}

/// `bounds` lies within `outer`, neuron by neuron (no tolerance: the tighter bounds are built
/// from the same interval arithmetic and only ever intersected with it).
func checkWithin(
  _ bounds: NetworkBounds, _ outer: NetworkBounds, what: String,
  sourceLocation: SourceLocation = #_sourceLocation
) -> (strictlyTighter: Int, violations: Int) {
  guard bounds.layers.count == outer.layers.count else {
    Issue.record("\(what): layer counts differ", sourceLocation: sourceLocation)
    return (0, 1)
  }
  var tighter = 0
  var violations = 0
  for (k, (inner, wide)) in zip(bounds.layers, outer.layers).enumerated() {
    guard inner.count == wide.count else {
      Issue.record("\(what): layer \(k) sizes differ", sourceLocation: sourceLocation)
      return (tighter, violations + 1)
    }
    for i in 0..<inner.count {
      if inner.lower[i] < wide.lower[i] || inner.upper[i] > wide.upper[i] {
        violations += 1
        if violations <= 3 {
          Issue.record(
            "\(what): layer \(k) neuron \(i): [\(inner.lower[i]), \(inner.upper[i])] is not within the interval bounds [\(wide.lower[i]), \(wide.upper[i])]",
            sourceLocation: sourceLocation)
        }
      }
      if inner.lower[i] > wide.lower[i] || inner.upper[i] < wide.upper[i] { tighter += 1 }
    }
  }
  return (tighter, violations)
}

@Suite("Symbolic bounds are sound", .tags(.property))
struct SymbolicBoundsTests {
  /// 100 seeded networks per kind of region: 2–7 inputs, 0–3 hidden layers of 1–8 ReLUs, 1–4
  /// outputs, half of them hostile.
  @Test(arguments: RegionKind.allCases)
  func containSamplesAndTightenIntervals(kind: RegionKind) throws {
    var tighter = 0
    for index in 0..<100 {
      let seed = UInt64(index) &* 0x9E37 &+ UInt64(kind.rawValue.count)
      var generator = SplitMix64(seed: seed)
      let inputs = Int(2 + generator.next() % 6)
      let hidden = (0..<Int(generator.next() % 4)).map { _ in Int(1 + generator.next() % 8) }
      let outputs = Int(1 + generator.next() % 4)
      let network =
        index % 2 == 0
        ? HostileNetworks.make(inputs: inputs, hidden: hidden, outputs: outputs, using: &generator)
        : RandomNetworks.make(inputs: inputs, hidden: hidden, outputs: outputs, using: &generator)
      let region = try kind.region(dimension: inputs, using: &generator)
      let what =
        "\(kind.rawValue) seed \(seed): layers \(network.layers.map { "\($0.inputSize)→\($0.outputSize)" }), radius \(region.radius)"

      let interval = IntervalBounds.compute(network: network, region: region)
      let symbolic = SymbolicBounds.compute(network: network, region: region)
      let inner = checkWithin(symbolic.bounds, interval, what: "back-substitution, \(what)")
      tighter += inner.strictlyTighter
      if inner.violations > 0 { continue }
      for layer in symbolic.bounds.layers {
        #expect(zip(layer.lower, layer.upper).allSatisfy { $0 <= $1 }, "empty interval, \(what)")
      }

      // Random output conditions, bounded both ways.
      let conditions = (0..<3).map { _ in
        OutputCondition(
          terms: (0..<outputs).compactMap { j in
            generator.next() % 3 == 0
              ? nil : OutputCondition.Term(output: j, weight: generator.uniform(-2, 2))
          }, constant: generator.uniform(-1, 1))
      }
      let backSubstituted = conditions.map {
        conditionBound($0, network: network, symbolic: symbolic, region: region)
      }
      // The goal "every condition holds" has margin min over the conditions: the verifier's
      // bounds-first check rules it out by this bound alone, so it must hold at every sample and
      // be no looser than the best of its conditions' bounds or the output intervals' bound.
      let goal = OutputGoal(conditions: conditions)
      let outputBounds = symbolic.bounds.layers[network.layers.count - 1]
      let goalBound = SymbolicBounds.marginUpperBound(
        of: goal, network: network, outputBounds: outputBounds,
        relaxations: symbolic.relaxations, magnitudes: symbolic.magnitudes, region: region
      ).bound
      #expect(goalBound <= backSubstituted.min()!, "goal bound looser, \(what)")
      #expect(
        goalBound <= goal.marginUpperBound(lower: outputBounds.lower, upper: outputBounds.upper),
        "goal bound looser than the output intervals', \(what)")

      var violations = 0
      for point in samplePoints(region, count: 200, using: &generator) {
        try #require(region.contains(point), "\(point) outside, \(what)")
        violations += checkContained(network, symbolic.bounds, at: point, what: "symbolic, \(what)")
        let outputs = network.evaluate(point)
        if goal.margin(outputs) > goalBound {
          violations += 1
          Issue.record("\(what): goal margin \(goal.margin(outputs)) at \(point) > \(goalBound)")
        }
        for (c, condition) in conditions.enumerated() {
          let value = condition.value(outputs)
          if value > backSubstituted[c] {
            violations += 1
            Issue.record(
              "\(what): condition \(condition) is \(value) at \(point), above its bound \(backSubstituted[c])"
            )
          }
        }
        if violations > 0 { break }
      }
    }
    // Neither tightness check is vacuous: the symbolic bounds beat interval arithmetic often.
    #expect(tighter > 20, "back-substitution tighter on \(tighter) neurons")
  }

  /// The upper bound of `condition` over the region by back-substitution from the output layer
  /// (as input splitting computes it).
  func conditionBound(
    _ condition: OutputCondition, network: Network,
    symbolic: (
      bounds: NetworkBounds, relaxations: [SymbolicBounds.Relaxation], magnitudes: [[Double]]
    ),
    region: InputRegion
  ) -> Double {
    let last = network.layers[network.layers.count - 1]
    guard network.layers.count > 1 else {
      // No hidden layer: the condition is affine in the input; the output bounds give it.
      return condition.extreme(
        lower: symbolic.bounds.layers[0].lower, upper: symbolic.bounds.layers[0].upper,
        maximize: true)
    }
    var row = [Double](repeating: 0, count: last.inputSize)
    var constant = condition.constant
    for term in condition.terms {
      for (j, w) in last.row(term.output).enumerated() { row[j] += term.weight * w }
      constant += term.weight * last.bias[term.output]
    }
    return SymbolicBounds.bound(
      rows: row, constants: [constant], throughLayer: network.layers.count - 2, network: network,
      relaxations: symbolic.relaxations, magnitudes: symbolic.magnitudes, region: region,
      maximize: true
    ).values[0]
  }

  @Test func backSubstitutionIsExactOnAStableNetwork() throws {
    // Every ReLU is active on the box, so the network is affine there and both symbolic bounds
    // are attained at corners: y = 2·(x₀ + x₁ + 1) − (x₀ − x₁ + 2) = x₀ + 3·x₁.
    let hidden = try AffineLayer(
      inputSize: 2, outputSize: 2, weights: [1, 1, 1, -1], bias: [1, 2], activation: .relu)
    let output = try AffineLayer(
      inputSize: 2, outputSize: 1, weights: [2, -1], bias: [0], activation: .identity)
    let network = try Network(layers: [hidden, output])
    let region = try InputRegion(boxLower: [0, 0], boxUpper: [1, 1])
    let symbolic = SymbolicBounds.compute(network: network, region: region).bounds
    let interval = IntervalBounds.compute(network: network, region: region)
    // Exact up to the rounding margin of 1e-9 of the magnitudes summed (about 10 here).
    for bounds in [symbolic] {
      #expect(bounds.layers[1].lower[0] <= 0 && bounds.layers[1].lower[0] > -1e-7)
      #expect(bounds.layers[1].upper[0] >= 4 && bounds.layers[1].upper[0] < 4 + 1e-7)
    }
    // Interval arithmetic forgets that both neurons move with x₀: [2·1 − 3, 2·3 − 1] = [−1, 5].
    #expect(abs(interval.layers[1].lower[0] + 1) < 1e-9)
    #expect(abs(interval.layers[1].upper[0] - 5) < 1e-9)
  }

  /// Back-substitution's kernels: four rows at once must give exactly the sums of one row at a
  /// time (its rounding is what the bounds' margin covers), on dense and sparse matrices whose
  /// widths leave a tail past the last group of four; the reordered product, used only for the
  /// optimiser's gradients, stays within rounding of the ordered one.
  @Test func weightKernelsAgree() {
    var generator = SplitMix64(seed: 0x5EED_4B)
    for columns in [1, 3, 4, 7, 13, 64] {
      let rows = 5
      var dense = (0..<(rows * columns)).map { _ in generator.uniform(-1, 1) }
      for index in dense.indices where generator.next() % 3 == 0 { dense[index] = 0 }
      var rowStarts = [0]
      var columnIndices: [Int] = []
      var values: [Double] = []
      for i in 0..<rows {
        for j in 0..<columns where dense[i * columns + j] != 0 {
          columnIndices.append(j)
          values.append(dense[i * columns + j])
        }
        rowStarts.append(columnIndices.count)
      }
      let matrices = [
        WeightMatrix(rows: rows, columns: columns, denseValues: dense),
        WeightMatrix(
          rows: rows, columns: columns, rowStarts: rowStarts, columnIndices: columnIndices,
          values: values),
      ]
      for matrix in matrices {
        let start = (0..<(4 * columns)).map { _ in generator.uniform(-3, 3) }
        var oneAtATime = start
        var fourAtOnce = start
        for i in 0..<rows {
          let g = SIMD4((0..<4).map { _ in generator.uniform(-2, 2) })
          oneAtATime.withUnsafeMutableBufferPointer { target in
            for r in 0..<4 {
              matrix.addRow(
                i, times: g[r],
                into: UnsafeMutableBufferPointer(rebasing: target[(r * columns)...]))
            }
          }
          fourAtOnce.withUnsafeMutableBufferPointer { target in
            matrix.addRow(i, times: g, into: target.baseAddress!, stride: columns)
          }
        }
        #expect(oneAtATime == fourAtOnce, "\(columns) columns, sparse: \(matrix.isSparse)")

        // Summed in registers over a subset of the rows: bit for bit the sums of `addRow` calls
        // on a zeroed target, in the same order (sparse storage declines and writes nothing).
        let used = (0..<rows).filter { _ in generator.next() % 4 != 0 }
        let factors = used.map { _ in SIMD4((0..<4).map { _ in generator.uniform(-2, 2) }) }
        var added = [Double](repeating: 0, count: 4 * columns)
        added.withUnsafeMutableBufferPointer { target in
          for (i, g) in zip(used, factors) {
            matrix.addRow(i, times: g, into: target.baseAddress!, stride: columns)
          }
        }
        let untouched = (0..<(4 * columns)).map { _ in generator.uniform(-3, 3) }
        var summed = untouched
        let wrote = summed.withUnsafeMutableBufferPointer { target in
          used.withUnsafeBufferPointer { used in
            factors.withUnsafeBufferPointer { factors in
              matrix.sumRows(used, times: factors, into: target.baseAddress!, stride: columns)
            }
          }
        }
        #expect(wrote == !matrix.isSparse)
        #expect(summed == (wrote ? added : untouched), "\(columns) columns, rows \(used)")

        let x = (0..<columns).map { _ in generator.uniform(-1, 1) }
        let shift = (0..<rows).map { _ in generator.uniform(-1, 1) }
        let ordered = matrix.multiply(x, adding: shift)
        let reordered = matrix.multiplyReordered(x, adding: shift)
        for i in 0..<rows {
          #expect(abs(ordered[i] - reordered[i]) <= 1e-12 * Double(columns + 1))
        }
        // A masked product computes the rows it keeps as the full one does (a dense matrix
        // leaves the others at the shift).
        let mask = (0..<rows).map { $0 % 2 == 0 }
        let masked = matrix.multiplyReordered(x, adding: shift, onlyRows: mask)
        for i in 0..<rows {
          if mask[i] {
            #expect(masked[i] == reordered[i])
          } else if !matrix.isSparse {
            #expect(masked[i] == shift[i])
          }
        }
        // Near a base point: the columns of the few coordinates that moved, added to the
        // product at the base (dense storage only; nil past a quarter of the coordinates).
        let near = x.indices.map { j in j % 5 == 2 ? x[j] + generator.uniform(-1, 1) : x[j] }
        let moved = matrix.multiply(near, near: x, atBase: ordered)
        if matrix.isSparse || 4 * x.indices.filter({ near[$0] != x[$0] }).count > columns {
          #expect(moved == nil, "\(columns) columns, sparse: \(matrix.isSparse)")
        } else if let moved {
          let full = matrix.multiply(near, adding: shift)
          for i in 0..<rows {
            #expect(abs(moved[i] - full[i]) <= 1e-12 * Double(columns + 1))
          }
        } else {
          Issue.record("no product near the base: \(columns) columns")
        }
      }
    }
  }

  /// The L1 ball's extreme (`SymbolicBounds.maximum`, `OptimizedBound.maximum`) keeps a short
  /// list of the coordinates the budget reaches instead of sorting them all: its value equals the
  /// greedy knapsack over every coordinate sorted by |row[j]|, its point lies in the region and
  /// attains it, for maximum and minimum, on rows with ties and zeros, centers at the box's ends
  /// (no room one way), radii beyond the whole box, and a ball without a box (infinite rooms).
  @Test func l1ExtremeEqualsTheSortedKnapsack() throws {
    var generator = SplitMix64(seed: 0x11_4A95)
    for trial in 0..<400 {
      let n = 1 + Int(generator.next() % 40)
      let center = (0..<n).map { _ -> Double in
        switch generator.next() % 4 {
        case 0: return 0
        case 1: return 1
        default: return generator.uniform(0, 1)
        }
      }
      let radius = trial % 10 == 0 ? generator.uniform(0, 60) : generator.uniform(0, 4)
      let box: (Double, Double)? = trial % 7 == 0 ? nil : (0, 1)
      let region = try InputRegion(center: center, norm: .l1, radius: radius, box: box)
      let levels = [-2.0, -0.5, 0, 0.5, 1, 2]
      let row = (0..<n).map { _ in
        generator.next() % 3 == 0
          ? levels[Int(generator.next() % 6)] : generator.uniform(-2, 2)
      }
      for maximize in [true, false] {
        let sign: Double = maximize ? 1 : -1
        var expected = zip(row, center).reduce(0) { $0 + $1.0 * $1.1 }
        var budget = radius
        for j in row.indices.sorted(by: { abs(row[$0]) > abs(row[$1]) }) where row[j] != 0 {
          let up = (row[j] * sign) > 0
          let step = min(up ? region.upRoom(j) : region.downRoom(j), budget)
          expected += sign * abs(row[j]) * step
          budget -= step
        }
        let value = SymbolicBounds.maximum(of: row, over: region, maximize: maximize)
        let scale = 1e-12 * (1 + abs(expected))
        #expect(abs(value - expected) <= scale, "trial \(trial): \(value) ≠ \(expected)")
        if maximize {
          let (optimum, point) = OptimizedBound.maximum(of: row, over: region)
          #expect(optimum == value, "trial \(trial)")
          #expect(region.contains(point), "trial \(trial): \(point) outside the region")
          let attained = zip(row, point).reduce(0) { $0 + $1.0 * $1.1 }
          #expect(abs(attained - value) <= scale, "trial \(trial): \(attained) ≠ \(value)")
        }
      }
    }
  }
}
