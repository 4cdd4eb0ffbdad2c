import Foundation
import GLPK
import TestSupport
import Testing

@testable import ReluMIP

@Suite("Cuts are sound")
struct CutTests {
  /// The root's cut rounds add `violatedIdealCuts` to every subproblem, so a cut that removed a
  /// true point could prove a reachable goal unreachable. On random networks over L1 balls
  /// smaller than the box (where the budget binds), at the LP optima of every output in both
  /// directions (points with fractional phases): every cut, the box's ideal ones and the
  /// budget-aware ones of first-layer neurons, holds at the MILP point of every sampled input
  /// (the exact pre-activations, outputs and phases), the ball's vertices included. And a
  /// first-layer neuron's budget-aware cut is at least as violated as the box's ideal cut at
  /// the same point: the budget only tightens the hull.
  @Test func cutsHoldAtEveryPointAndTheBudgetOnlyTightens() throws {
    var budgetCuts = 0
    var strictlyStronger = 0
    var checked = 0
    for seed in UInt64(0)..<UInt64(60) * PropertyTestScale.factor {
      var generator = SplitMix64(seed: 91_000 &+ seed)
      let inputs = 3 + Int(generator.next() % 8)
      let hidden = [Int(3 + generator.next() % 6), Int(2 + generator.next() % 5)]
      let network = RandomNetworks.make(
        inputs: inputs, hidden: hidden, outputs: 3, using: &generator)
      let region = try InputRegion(
        center: RandomNetworks.point(inputs, using: &generator), norm: .l1,
        radius: generator.uniform(0.2, 1.5))
      let bounds = IntervalBounds.compute(network: network, region: region)
      let encoding = try MILPEncoding(network: network, region: region, bounds: bounds)
      let output = network.layers[network.layers.count - 1]
      var cuts: [MILPEncoding.Cut] = []
      for k in 0..<output.outputSize {
        let (kept, _) = encoding.split(
          encoding.expression(layer: output, neuron: k, inputs: encoding.layerInputs))
        for maximize in [true, false] {
          guard try encoding.solvesRelaxation(of: kept, maximize: maximize) else { continue }
          let values = encoding.relaxationValues
          let box = encoding.violatedIdealCuts(at: values, usesL1Budget: false)
          let budget = encoding.violatedIdealCuts(at: values)
          for cut in budget {
            guard let boxCut = box.first(where: { $0.neuron == cut.neuron }) else { continue }
            #expect(
              cut.violation >= boxCut.violation - 1e-9,
              "seed \(seed): the budget-aware cut is weaker (\(cut.violation) < \(boxCut.violation))"
            )
            if cut.violation > boxCut.violation + 1e-6 { strictlyStronger += 1 }
          }
          budgetCuts +=
            budget.filter { cut in
              !box.contains {
                $0.neuron == cut.neuron && $0.columns == cut.columns
                  && $0.coefficients == cut.coefficients
              }
            }.count
          cuts += box + budget
        }
      }
      var points = (0..<200).map { _ in RegionSampling.sample(region, using: &generator) }
      for j in 0..<inputs {
        for step in [-region.radius, region.radius] {
          var vertex = region.center
          vertex[j] = min(max(vertex[j] + step, region.boxLower[j]), region.boxUpper[j])
          points.append(vertex)
        }
      }
      for point in points {
        guard let values = encoding.milpPoint(forInput: point) else { continue }
        for cut in cuts {
          var left = 0.0
          var size = abs(cut.upperBound)
          for (column, coefficient) in zip(cut.columns, cut.coefficients) {
            left += coefficient * values[column]
            size += abs(coefficient * values[column])
          }
          checked += 1
          #expect(
            left <= cut.upperBound + 1e-9 * (1 + size),
            "seed \(seed): a cut removes the true point \(point): \(left) > \(cut.upperBound)")
        }
      }
    }
    // The budget-aware cuts were made, and often cut deeper than the box's.
    #expect(budgetCuts >= 50, "\(budgetCuts) budget-aware cuts")
    #expect(strictlyStronger >= 20, "\(strictlyStronger) strictly deeper cuts")
    #expect(checked >= 10_000, "\(checked) checks")
  }

  /// `sparsened` rewrites a cut with the neuron's definition row and the L1 budget's column:
  /// the same inequality, up to the rows' rounding slack, with no more nonzeros. On random
  /// networks with more inputs (where a first-layer cut names most of them), at LP points with
  /// fractional phases: each cut's slack at the LP point and at sampled MILP points is the
  /// original's, within 1e-7 of their size, and many cuts shrink. (That the sparse cuts hold at
  /// true points is `cutsHoldAtEveryPointAndTheBudgetOnlyTightens`, which sees them.)
  @Test func sparsenedCutsAreTheSameInequalityWithFewerNonzeros() throws {
    var shrunk = 0
    var compared = 0
    for seed in UInt64(0)..<UInt64(30) * PropertyTestScale.factor {
      var generator = SplitMix64(seed: 93_000 &+ seed)
      let inputs = 12 + Int(generator.next() % 20)
      let hidden = [Int(3 + generator.next() % 6), Int(2 + generator.next() % 5)]
      let network = RandomNetworks.make(
        inputs: inputs, hidden: hidden, outputs: 3, using: &generator)
      let norm: PerturbationNorm = seed % 3 == 0 ? .linf : .l1
      let region = try InputRegion(
        center: RandomNetworks.point(inputs, using: &generator), norm: norm,
        radius: norm == .l1 ? generator.uniform(0.3, 3) : generator.uniform(0.05, 0.4))
      let bounds = IntervalBounds.compute(network: network, region: region)
      let encoding = try MILPEncoding(network: network, region: region, bounds: bounds)
      let output = network.layers[network.layers.count - 1]
      let points = (0..<100).compactMap {
        _ in encoding.milpPoint(forInput: RegionSampling.sample(region, using: &generator))
      }
      func slack(_ cut: MILPEncoding.Cut, at values: [Double]) -> (slack: Double, size: Double) {
        var left = 0.0
        var size = abs(cut.upperBound)
        for (column, coefficient) in zip(cut.columns, cut.coefficients) {
          left += coefficient * values[column]
          size += abs(coefficient * values[column])
        }
        return (cut.upperBound - left, size)
      }
      for k in 0..<output.outputSize {
        let (kept, _) = encoding.split(
          encoding.expression(layer: output, neuron: k, inputs: encoding.layerInputs))
        for maximize in [true, false] {
          guard try encoding.solvesRelaxation(of: kept, maximize: maximize) else { continue }
          let values = encoding.relaxationValues
          let originals = encoding.violatedIdealCuts(at: values, sparsens: false)
          let sparse = encoding.violatedIdealCuts(at: values)
          try #require(originals.map(\.neuron) == sparse.map(\.neuron), "seed \(seed)")
          for (original, cut) in zip(originals, sparse) {
            #expect(cut.columns.count <= original.columns.count, "seed \(seed)")
            if cut.columns.count < original.columns.count { shrunk += 1 }
            for point in [values] + points {
              let (a, aSize) = slack(original, at: point)
              let (b, bSize) = slack(cut, at: point)
              compared += 1
              #expect(
                abs(a - b) <= 1e-7 * (1 + aSize + bSize),
                "seed \(seed): slack \(b) instead of \(a) (\(original.columns.count) → \(cut.columns.count) nonzeros)"
              )
            }
          }
        }
      }
    }
    #expect(shrunk >= 30, "\(shrunk) cuts shrank")
    #expect(compared >= 5_000, "\(compared) comparisons")
  }
}

extension MILPEncoding {
  /// Makes `Σ terms` the objective and solves the LP relaxation from the current basis: whether
  /// it ended optimal (the LP point the bound and cut tests work from).
  func solvesRelaxation(
    of terms: [(column: Int, coefficient: Double)], maximize: Bool
  ) throws -> Bool {
    try setObjective(terms, maximize: maximize)
    var options = SimplexOptions()
    options.method = .dualThenPrimal
    return try solveRelaxation(options) == .solved && relaxationStatus == .optimal
  }
}
