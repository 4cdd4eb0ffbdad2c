import GLPK
import ReluMIP

/// The exact maxima of a small network's margins over a region, by enumerating its activation
/// regions: a depth-first split on every ReLU in order, each side kept only if the LP of the
/// region so far (the input region plus one half-space per fixed ReLU) is feasible, and at every
/// full pattern, where the network is affine, each margin maximised by LP.
///
/// A grid of points can miss a counterexample region narrower than its spacing; this cannot. It
/// costs two small LPs per node of the split tree, which is fine for the tests' networks of a
/// dozen ReLUs (their regions number in the tens).
public enum ActivationRegionOracle {
  /// For every output `t`, the maximum of `output[t] − output[label]` over the region (−∞ for
  /// none; 0 for `t == label`).
  public static func maximumMargins(network: Network, region: InputRegion, label: Int) throws
    -> [Double]
  {
    var goals = (0..<network.outputSize).map {
      OutputGoal(conditions: [.difference($0, minus: label)])
    }
    goals[label] = OutputGoal(conditions: [OutputCondition(terms: [], constant: 0)])
    return try maximumMargins(network: network, region: region, goals: goals)
  }

  /// For every goal, the maximum of its margin (its smallest condition) over the region; −∞
  /// where the region is empty.
  public static func maximumMargins(network: Network, region: InputRegion, goals: [OutputGoal])
    throws -> [Double]
  {
    let n = region.dimension
    let problem = LinearProblem(name: "oracle")
    problem.direction = .maximize
    // x_j = center_j + up_j − down_j for L1 (Σ up + down ≤ radius), x_j alone for L∞.
    let x = try problem.addColumns(n, bounds: .free)
    for j in 0..<n {
      try problem.setColumnBounds(x.lowerBound + j, .between(region.lowest(j), region.highest(j)))
    }
    if region.norm == .l1 {
      let up = try problem.addColumns(n, bounds: .lower(0))
      let down = try problem.addColumns(n, bounds: .lower(0))
      for j in 0..<n {
        let row = try problem.addRows(1, bounds: .fixed(region.center[j])).lowerBound
        try problem.setRow(
          row, columns: [x.lowerBound + j, up.lowerBound + j, down.lowerBound + j],
          values: [1, -1, 1])
      }
      let budget = try problem.addRows(1, bounds: .upper(region.radius)).lowerBound
      try problem.setRow(
        budget, columns: Array(up) + Array(down),
        values: [Double](repeating: 1, count: 2 * n))
    }
    // The margin of a goal of several conditions: m ≤ each, maximised.
    let margin = try problem.addColumns(1, bounds: .free).lowerBound
    var search = Search(
      network: network, problem: problem, inputs: Array(x), margin: margin, goals: goals,
      best: [Double](repeating: -.infinity, count: goals.count))
    // The input itself: x_j = 1·x_j + 0.
    let forms: [[Double]] = (0..<n).map { j in (0...n).map { $0 == j ? 1 : 0 } }
    try search.explore(layer: 0, neuron: 0, inputs: forms, pending: [])
    return search.best
  }

  private struct Search {
    let network: Network
    let problem: LinearProblem
    let inputs: [Int]
    let margin: Int
    let goals: [OutputGoal]
    var best: [Double]

    /// An affine form over the input: coefficients then the constant.
    typealias Form = [Double]

    func preActivation(_ layer: AffineLayer, _ i: Int, _ inputs: [Form]) -> Form {
      var form = [Double](repeating: 0, count: self.inputs.count + 1)
      form[self.inputs.count] = layer.bias[i]
      for (w, input) in zip(layer.row(i), inputs) where w != 0 {
        for k in form.indices { form[k] += w * input[k] }
      }
      return form
    }

    /// Whether the LP with one more row `form ≥ 0` (or `≤ 0`) is feasible; the row stays.
    func addSide(_ form: Form, active: Bool) throws -> Bool {
      let n = inputs.count
      let row = try problem.addRows(1).lowerBound
      let constant = form[n]
      try problem.setRowBounds(row, active ? .lower(-constant) : .upper(-constant))
      let used = (0..<n).filter { form[$0] != 0 }
      try problem.setRow(row, columns: used.map { inputs[$0] }, values: used.map { form[$0] })
      try problem.setObjective(columns: [], coefficients: [])
      problem.resetBasis()
      // No presolver: with it, GLPK returned points that break one of these rows by 1e-3 on a
      // random 2-6-3-3 network (case 19 of `phaseSearchMatchesExactMaxima`), and the "exact"
      // maximum came out 6e-4 too high.
      let options = SimplexOptions()
      return try problem.simplex(options) == .solved && problem.status == .optimal
    }

    /// Fixes neuron `neuron` of layer `layer` and everything after it, each way the LP allows.
    /// `pending` holds the layer's outputs fixed so far.
    mutating func explore(layer: Int, neuron: Int, inputs: [Form], pending: [Form]) throws {
      if layer == network.layers.count {
        try maximise(inputs)
        return
      }
      let dense = network.layers[layer]
      if neuron == dense.outputSize {
        try explore(layer: layer + 1, neuron: 0, inputs: pending, pending: [])
        return
      }
      let z = preActivation(dense, neuron, inputs)
      guard dense.activation == .relu else {
        try explore(layer: layer, neuron: neuron + 1, inputs: inputs, pending: pending + [z])
        return
      }
      for active in [true, false] {
        if try addSide(z, active: active) {
          let output = active ? z : [Double](repeating: 0, count: z.count)
          try explore(layer: layer, neuron: neuron + 1, inputs: inputs, pending: pending + [output])
        }
        try problem.deleteRows([problem.numberOfRows - 1])
      }
    }

    /// In a full region the outputs are affine: each goal's margin maximised there by LP, with
    /// rows `m ≤ condition` for a goal of several conditions.
    mutating func maximise(_ outputs: [Form]) throws {
      let n = inputs.count
      for (index, goal) in goals.enumerated() {
        let forms = goal.conditions.map { condition -> Form in
          var form = [Double](repeating: 0, count: n + 1)
          form[n] = condition.constant
          for term in condition.terms {
            for k in form.indices { form[k] += term.weight * outputs[term.output][k] }
          }
          return form
        }
        var rows: [Int] = []
        if forms.count == 1 {
          try problem.setObjective(
            columns: inputs, coefficients: Array(forms[0][0..<n]), constant: forms[0][n])
        } else {
          for form in forms {
            // m − Σ a·x ≤ constant
            let row = try problem.addRows(1, bounds: .upper(form[n])).lowerBound
            try problem.setRow(
              row, columns: [margin] + inputs, values: [1] + form[0..<n].map { -$0 })
            rows.append(row)
          }
          try problem.setObjective(columns: [margin], coefficients: [1])
        }
        problem.resetBasis()
        let options = SimplexOptions()
        if try problem.simplex(options) == .solved, problem.status == .optimal {
          best[index] = max(best[index], problem.objectiveValue)
        }
        try problem.deleteRows(rows)
      }
    }
  }
}
