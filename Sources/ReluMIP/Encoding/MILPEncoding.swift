import GLPK

/// How one hidden neuron appears in the MILP.
enum NeuronEncoding: Sendable, Equatable {
  /// Provably off: its output is the constant 0 and it has no columns.
  case inactive
  /// Provably on: its output is its pre-activation column `z`.
  case active(z: Int)
  /// Either: pre-activation `z`, output `y`, and the binary `a` that says which phase.
  case unstable(z: Int, y: Int, a: Int)

  var outputColumn: Int? {
    switch self {
    case .inactive: return nil
    case .active(let z): return z
    case .unstable(_, let y, _): return y
    }
  }
}

/// Per-layer counts for the model table, in the spirit of Gurobi Machine Learning's.
public struct LayerStatistics: Sendable, Equatable, Codable {
  public var name: String
  public var outputSize: Int
  /// The layer's columns, rows and binaries in the MILP; nil in a table from bounds alone
  /// (`Verifier.layerStatistics(region:boundMethod:)`), for a run that built no MILP.
  public var variables: Int?
  public var constraints: Int?
  public var binaries: Int?
  public var stableActive: Int
  public var stableInactive: Int
  public var unstable: Int

  /// The JSON names every report and result file uses.
  private enum CodingKeys: String, CodingKey {
    case name
    case outputSize = "output_size"
    case variables, constraints, binaries
    case stableActive = "stable_active"
    case stableInactive = "stable_inactive"
    case unstable
  }

  /// The name of hidden layer `index` (from 0) in every table.
  static func hiddenLayerName(_ index: Int) -> String { "dense \(index + 1) + relu" }
}

/// An affine expression over MILP columns: `constant + Σ coefficient·column`.
struct AffineExpression {
  var constant: Double
  var terms: [(column: Int, coefficient: Double)]
  /// A bound on how far the computed expression can be from the exact one over the columns'
  /// bounds: the rounding of `constant` and of the coefficients, each by the standard bound for
  /// a sum of products (`roundingMargin`). A row built from the expression is widened by it.
  var error = 0.0

  init(constant: Double, terms: [(column: Int, coefficient: Double)], error: Double = 0) {
    self.constant = constant
    self.terms = terms
    self.error = error
  }
}

/// The big-M MILP of "maximise the goal's margin (e.g. output[target] − output[label]) over the
/// input region".
///
/// Inputs are substituted as x = x̄ + d (L∞) or x = x̄ + p − n with Σ(p + n) ≤ δ (L1), so the
/// center's contribution is a constant. Hidden neurons are encoded from their bounds: stable ones
/// without a binary, unstable ones with `y ≥ z, y ≥ 0, y ≤ z − l(1 − a), y ≤ u·a`.
///
/// Coefficients below `dropThreshold` in magnitude are left out of the LP (tiny weights wreck
/// GLPK's scaling), and each row that loses some is widened into a range by their worst-case
/// contribution over the column's bounds, so the MILP still contains every true behaviour.
final class MILPEncoding {
  struct Options {
    var dropThreshold = 1e-9
    /// Encode hidden layers `0..<encodedLayers` only (for bound tightening); nil for all.
    var encodedLayers: Int?
    /// Lower bound of the margin column (the "objective cut"); nil for none.
    var marginLowerBound: Double?
    /// Neurons (hidden layer, neuron) whose pre-activation gets a row `z ≤ upper` although
    /// they are inactive: a subproblem of the ReLU-phase search whose splits made them inactive
    /// holds only inputs with `z ≤ 0` there, which the LP must know to stay inside it.
    var constrainedInactive: Set<[Int]> = []
  }

  let network: Network
  let region: InputRegion
  let bounds: NetworkBounds
  let options: Options
  /// Private: every change to a bound goes through the encoding, which keeps the record of
  /// column and row bounds that `safeBound` trusts.
  private let problem = LinearProblem(name: "relumip")

  /// Columns of the input perturbation: `up[j]`/`down[j]` for L1 (x = x̄ + up − down), or `up[j]`
  /// alone for L∞ (x = x̄ + up, where `up` may be negative).
  private(set) var inputUp: [Int?] = []
  private(set) var inputDown: [Int?] = []
  private(set) var neurons: [[NeuronEncoding]] = []
  private(set) var marginColumn: Int?
  private(set) var marginRows: [Int] = []
  /// The goal the margin column stands for, once `setGoal` ran.
  private(set) var goal: OutputGoal?
  /// The margin's range from the output bounds alone, before any objective cut.
  private var marginRange: (lower: Double, upper: Double)?
  private(set) var statistics: [LayerStatistics] = []

  /// The L1 region's budget: every input perturbation column, the column `used` that the row
  /// `Σ (up + down) − used ∈ [usedRowLower, usedRowUpper]` ties to their sum (`used` ∈ [0, δ]),
  /// and the sum's largest value, `radius`; nil for an L∞ region.
  private var l1Budget: L1Budget?
  private struct L1Budget {
    var columns: [Int]
    var members: Set<Int>
    var used: Int
    var usedRowLower: Double
    var usedRowUpper: Double
    var radius: Double
  }
  /// Every unstable neuron's columns and the row that defines its pre-activation.
  private var unstableNeurons: [(z: Int, y: Int, a: Int, definitionRow: Int)] = []
  private var columnLower: [Double] = []
  private var columnUpper: [Double] = []
  /// The kept coefficients and the bounds of every row, as loaded into GLPK, for safe bounds.
  private var rowTerms: [[(column: Int, coefficient: Double)]] = []
  private var rowLower: [Double] = []
  private var rowUpper: [Double] = []

  init(network: Network, region: InputRegion, bounds: NetworkBounds, options: Options = Options())
    throws
  {
    self.network = network
    self.region = region
    self.bounds = bounds
    self.options = options
    try build()
  }

  /// Number of hidden (ReLU) layers in the encoding.
  var hiddenLayerCount: Int { neurons.count }

  private func addColumn(_ lower: Double, _ upper: Double, kind: VariableKind = .continuous) throws
    -> Int
  {
    let column = try problem.addColumns(1, bounds: .between(lower, upper), kind: kind).lowerBound
    columnLower.append(lower)
    columnUpper.append(upper)
    return column
  }

  /// Adds a row `lower ≤ expression ≤ upper` (the expression's constant moved to the bounds),
  /// dropping tiny coefficients and widening the bounds by what they could contribute.
  @discardableResult
  private func addRow(_ expression: AffineExpression, lower: Double, upper: Double) throws -> Int {
    let (kept, slack) = split(expression)
    let row = try problem.addRows(1).lowerBound
    // Two subtractions on each finite end, each rounding by at most u of its result.
    func rounding(_ end: Double) -> Double {
      4 * 0x1p-53 * (abs(end) + abs(expression.constant) + slack)
    }
    let low = lower.isFinite ? lower - expression.constant - slack - rounding(lower) : lower
    let high = upper.isFinite ? upper - expression.constant + slack + rounding(upper) : upper
    try problem.setRowBounds(row, .between(low, high))
    rowTerms.append(kept)
    rowLower.append(low)
    rowUpper.append(high)
    return row
  }

  /// The kept terms (merged per column) and the worst-case size of the dropped ones, plus the
  /// expression's rounding error (`AffineExpression.error`) and that of merging terms.
  func split(_ expression: AffineExpression) -> (
    kept: [(column: Int, coefficient: Double)], slack: Double
  ) {
    var merged: [Int: (sum: Double, magnitude: Double, count: Int)] = [:]
    for term in expression.terms {
      merged[term.column, default: (0, 0, 0)].sum += term.coefficient
      merged[term.column, default: (0, 0, 0)].magnitude += abs(term.coefficient)
      merged[term.column, default: (0, 0, 0)].count += 1
    }
    var kept: [(column: Int, coefficient: Double)] = []
    var slack = expression.error
    var dropped = 0
    for (column, entry) in merged.sorted(by: { $0.key < $1.key }) {
      let reach = max(abs(columnLower[column]), abs(columnUpper[column]))
      // A coefficient summed from several terms is rounded (even to 0 when they cancel).
      if entry.count > 1 { slack += roundingMargin(entry.magnitude, terms: entry.count) * reach }
      if entry.sum == 0 { continue }
      if abs(entry.sum) < options.dropThreshold {
        slack += abs(entry.sum) * reach
        dropped += 1
      } else {
        kept.append((column, entry.sum))
      }
    }
    // The sums of the dropped parts and of the errors round too.
    return (kept, (slack * (1 + roundingGamma(terms: dropped + 4))).nextUp)
  }

  private func build() throws {
    problem.direction = .maximize
    let n = network.inputSize
    var previous: [AffineExpression] = []
    previous.reserveCapacity(n)
    inputUp = Array(repeating: nil, count: n)
    inputDown = Array(repeating: nil, count: n)
    var l1Terms: [(column: Int, coefficient: Double)] = []
    for j in 0..<n {
      var expression = AffineExpression(constant: region.center[j], terms: [])
      let up = region.upRoom(j)
      let down = region.downRoom(j)
      switch region.norm {
      case .linf:
        if up > 0 || down > 0 {
          let column = try addColumn(-down, up)
          inputUp[j] = column
          expression.terms.append((column, 1))
        }
      case .l1:
        if up > 0 {
          let column = try addColumn(0, up)
          inputUp[j] = column
          expression.terms.append((column, 1))
          l1Terms.append((column, 1))
        }
        if down > 0 {
          let column = try addColumn(0, down)
          inputDown[j] = column
          expression.terms.append((column, -1))
          l1Terms.append((column, 1))
        }
      }
      previous.append(expression)
    }
    var inputRows = 0
    if region.norm == .l1 && !l1Terms.isEmpty {
      // The budget used is a column of its own, so that a cut can name the sum of every
      // perturbation column in one coefficient (`sparsened`).
      let used = try addColumn(0, region.radius)
      let row = try addRow(
        AffineExpression(constant: 0, terms: l1Terms + [(used, -1)]), lower: 0, upper: 0)
      let columns = l1Terms.map(\.column)
      l1Budget = L1Budget(
        columns: columns, members: Set(columns), used: used, usedRowLower: rowLower[row],
        usedRowUpper: rowUpper[row], radius: (region.radius + rowUpper[row]).nextUp)
      inputRows = 1
    }
    statistics.append(
      LayerStatistics(
        name: "input", outputSize: n, variables: problem.numberOfColumns, constraints: inputRows,
        binaries: 0, stableActive: 0, stableInactive: 0, unstable: 0))

    let hidden = network.layers.indices.filter { network.layers[$0].activation == .relu }
    let encoded = min(options.encodedLayers ?? hidden.count, hidden.count)
    for k in 0..<encoded {
      let layer = network.layers[k]
      let layerBounds = bounds.layers[k]
      let columnsBefore = problem.numberOfColumns
      let rowsBefore = problem.numberOfRows
      var encodings: [NeuronEncoding] = []
      var outputs: [AffineExpression] = []
      for i in 0..<layer.outputSize {
        let (lower, upper) = (layerBounds.lower[i], layerBounds.upper[i])
        if upper <= 0 {
          if options.constrainedInactive.contains([k, i]) {
            try addRow(
              expression(layer: layer, neuron: i, inputs: previous), lower: -.infinity,
              upper: upper)
          }
          encodings.append(.inactive)
          outputs.append(AffineExpression(constant: 0, terms: []))
          continue
        }
        var definition = expression(layer: layer, neuron: i, inputs: previous)
        if lower >= 0 {
          let z = try addColumn(lower, upper)
          definition.terms.append((z, -1))
          try addRow(definition, lower: 0, upper: 0)
          encodings.append(.active(z: z))
          outputs.append(AffineExpression(constant: 0, terms: [(z, 1)]))
        } else {
          let z = try addColumn(lower, upper)
          let y = try addColumn(0, upper)
          let a = try addColumn(0, 1, kind: .binary)
          definition.terms.append((z, -1))
          let definitionRow = try addRow(definition, lower: 0, upper: 0)
          unstableNeurons.append((z, y, a, definitionRow))
          // y ≥ z
          try addRow(
            AffineExpression(constant: 0, terms: [(y, 1), (z, -1)]), lower: 0, upper: .infinity)
          // y ≤ z − l(1 − a)  ⇔  y − z − l·a ≤ −l
          try addRow(
            AffineExpression(constant: 0, terms: [(y, 1), (z, -1), (a, -lower)]),
            lower: -.infinity, upper: -lower)
          // y ≤ u·a
          try addRow(
            AffineExpression(constant: 0, terms: [(y, 1), (a, -upper)]), lower: -.infinity, upper: 0
          )
          encodings.append(.unstable(z: z, y: y, a: a))
          outputs.append(AffineExpression(constant: 0, terms: [(y, 1)]))
        }
      }
      neurons.append(encodings)
      previous = outputs
      statistics.append(
        LayerStatistics(
          name: LayerStatistics.hiddenLayerName(k), outputSize: layer.outputSize,
          variables: problem.numberOfColumns - columnsBefore,
          constraints: problem.numberOfRows - rowsBefore,
          binaries: encodings.filter { if case .unstable = $0 { true } else { false } }.count,
          stableActive: encodings.filter { if case .active = $0 { true } else { false } }.count,
          stableInactive: encodings.filter { $0 == .inactive }.count,
          unstable: encodings.filter { if case .unstable = $0 { true } else { false } }.count))
    }
    layerInputs = previous
    var entries: [MatrixEntry] = []
    for (row, terms) in rowTerms.enumerated() {
      for term in terms {
        entries.append(MatrixEntry(row: row, column: term.column, value: term.coefficient))
      }
    }
    try problem.loadMatrix(entries)
  }

  /// The inputs of the first layer not encoded (the outputs of the last encoded one).
  private(set) var layerInputs: [AffineExpression] = []

  /// The pre-activation of neuron `i` of `layer` as an expression over the layer's inputs.
  func expression(layer: AffineLayer, neuron i: Int, inputs: [AffineExpression]) -> AffineExpression
  {
    var entries: [(column: Int, weight: Double)] = []
    entries.reserveCapacity(layer.matrix.entryCount(inRow: i))
    layer.matrix.forEachEntry(inRow: i) { j, w in entries.append((j, w)) }
    return expression(entries: entries, bias: layer.bias[i], inputs: inputs)
  }

  /// `expression(entries:…)` with a dense row of weights.
  func expression<Weights: Collection<Double>>(
    weights: Weights, bias: Double, inputs: [AffineExpression], biasError: Double = 0
  ) -> AffineExpression {
    let entries = zip(0..., weights).filter { $0.1 != 0 }.map { (column: $0.0, weight: $0.1) }
    return expression(entries: entries, bias: bias, inputs: inputs, biasError: biasError)
  }

  /// `bias + Σ w·inputs[j]` over the `entries` `(j, w)` as one expression over columns, with its rounding error:
  /// the constant is a sum of products (`roundingMargin`), each input's own error scaled by |w|,
  /// and each coefficient `w·c` one rounded product (error ≤ u·|w·c| times the column's reach).
  /// `biasError` bounds the error already in `bias`.
  func expression(
    entries: [(column: Int, weight: Double)], bias: Double, inputs: [AffineExpression],
    biasError: Double = 0
  ) -> AffineExpression {
    var result = AffineExpression(constant: bias, terms: [])
    var magnitude = abs(bias)
    var count = 1
    var inherited = biasError
    var productError = 0.0
    for (j, w) in entries where w != 0 {
      let input = inputs[j]
      let product = w * input.constant
      result.constant += product
      magnitude += abs(product)
      count += 1
      inherited += abs(w) * input.error
      for term in input.terms {
        let coefficient = w * term.coefficient
        result.terms.append((term.column, coefficient))
        // ±1 and powers of two times w are exact; any other product rounds.
        if abs(term.coefficient) != 1 {
          productError +=
            abs(coefficient) * 0x1p-52
            * max(abs(columnLower[term.column]), abs(columnUpper[term.column]))
        }
      }
    }
    result.error =
      ((roundingMargin(magnitude, terms: count) + inherited + productError)
      * (1 + roundingGamma(terms: count + 3))).nextUp
    return result
  }

  /// A condition's left side as an expression over the last hidden layer. Composing the
  /// condition with the output layer rounds its weights and constant; the error of each, times
  /// what its input can reach, widens the expression.
  func conditionExpression(_ condition: OutputCondition) -> AffineExpression {
    precondition(neurons.count == network.layers.count - 1, "the goal needs the whole network")
    let outputLayer = network.layers[network.layers.count - 1]
    let (weights, bias) = condition.composed(with: outputLayer)
    let terms = condition.terms.count
    var biasMagnitude = abs(condition.constant)
    for term in condition.terms {
      biasMagnitude += abs(term.weight * outputLayer.bias[term.output])
    }
    var weightError = 0.0
    var magnitudes = [Double](repeating: 0, count: outputLayer.inputSize)
    for term in condition.terms {
      outputLayer.matrix.forEachEntry(inRow: term.output) { j, w in
        magnitudes[j] += abs(term.weight * w)
      }
    }
    for (j, input) in layerInputs.enumerated() {
      let magnitude = magnitudes[j]
      if magnitude == 0 { continue }
      var reach = abs(input.constant) + input.error
      for term in input.terms {
        reach +=
          abs(term.coefficient) * max(abs(columnLower[term.column]), abs(columnUpper[term.column]))
      }
      weightError += roundingMargin(magnitude, terms: terms) * reach
    }
    return expression(
      weights: weights, bias: bias, inputs: layerInputs,
      biasError: roundingMargin(biasMagnitude, terms: terms + 1) + weightError)
  }

  /// Adds (or replaces) the margin column `m` and makes it the objective: `m` equals the goal's
  /// single condition, or lies below each of several (so maximising it maximises the smallest).
  /// Needs the whole network encoded.
  func setGoal(_ goal: OutputGoal) throws {
    let outputBounds = bounds.layers[network.layers.count - 1]
    let upperBound = goal.marginUpperBound(lower: outputBounds.lower, upper: outputBounds.upper)
    let lowerBound = max(
      goal.marginLowerBound(lower: outputBounds.lower, upper: outputBounds.upper),
      options.marginLowerBound ?? -.infinity)
    if !marginRows.isEmpty {
      // The margin rows are always the last ones, so deleting them renumbers nothing else.
      try problem.deleteRows(marginRows)
      rowTerms.removeLast(marginRows.count)
      rowLower.removeLast(marginRows.count)
      rowUpper.removeLast(marginRows.count)
      marginRows = []
    }
    let m: Int
    if let marginColumn {
      m = marginColumn
      try problem.setColumnBounds(m, .between(lowerBound, max(lowerBound, upperBound)))
      columnLower[m] = lowerBound
      columnUpper[m] = max(lowerBound, upperBound)
    } else {
      m = try addColumn(lowerBound, max(lowerBound, upperBound))
      marginColumn = m
    }
    marginRange = (
      goal.marginLowerBound(lower: outputBounds.lower, upper: outputBounds.upper),
      max(lowerBound, upperBound)
    )
    for condition in goal.conditions {
      var expression = conditionExpression(condition)
      expression.terms.append((m, -1))
      let single = goal.conditions.count == 1
      let row = try addRow(expression, lower: 0, upper: single ? 0 : .infinity)
      let kept = rowTerms[row]
      try problem.setRow(row, columns: kept.map(\.column), values: kept.map(\.coefficient))
      marginRows.append(row)
    }
    self.goal = goal
    try problem.setObjective(columns: [m], coefficients: [1])
    // The rows changed, so the last basis no longer fits: start the next solve from the
    // standard one.
    problem.resetBasis()
  }

  /// Puts the objective cut `margin ≥ lower` into the LP (with the margin at most `upper`), or
  /// with nil takes every cut out, giving the margin the range its output bounds allow. The
  /// record `safeBound` reads changes with it, so safe bounds hold over the LP as it stands.
  func setMarginCut(lower: Double?, upper: Double? = nil) throws {
    guard let m = marginColumn, let range = marginRange else {
      preconditionFailure("setMarginCut before setGoal")
    }
    let newLower = max(range.lower, lower ?? -.infinity)
    let newUpper = max(newLower, min(range.upper, upper ?? .infinity))
    try problem.setColumnBounds(m, .between(newLower, newUpper))
    columnLower[m] = newLower
    columnUpper[m] = newUpper
  }

  /// A proof that no point of the LP relaxation without the objective cut has a margin above the
  /// returned value: the cut is taken out, the margin maximised and the result made safe by weak
  /// duality (`safeBound`); nil if GLPK does not solve that LP to optimality. The cut stays out
  /// and the margin stays the objective.
  ///
  /// GLPK's word that the LP *with* the cut is infeasible is no proof: on a badly scaled big-M LP
  /// its tolerances can declare a feasible LP infeasible. This bound is one, whatever GLPK's
  /// accuracy, and ≤ −tolerance shows what the infeasibility claimed.
  func safeMarginBoundWithoutCut(timeLimit: Double?) throws -> Double? {
    guard let m = marginColumn else { preconditionFailure("a margin bound before setGoal") }
    try setMarginCut(lower: nil)
    try problem.setObjective(columns: [m], coefficients: [1])
    problem.direction = .maximize
    problem.resetBasis()
    var options = SimplexOptions()
    options.method = .dualThenPrimal
    options.timeLimit = timeLimit
    guard try problem.simplex(options) == .solved, problem.status == .optimal else { return nil }
    return safeBound(of: [(m, 1)], maximize: true)
  }

  /// An unstable neuron (`neuron` of hidden layer `layer`): its binary `a`, its pre-activation
  /// `z` and output `y` columns, and the bounds of `z` its big-M rows use.
  struct BinaryNeuron {
    var layer: Int
    var neuron: Int
    var a: Int
    var z: Int
    var y: Int
    var lower: Double
    var upper: Double
  }

  /// Every unstable neuron, in the order of the encoding: what a branching rule needs to judge
  /// how far the LP relaxation strays from each ReLU, and what the linear-region walk fixes.
  var binaryNeurons: [BinaryNeuron] {
    var result: [BinaryNeuron] = []
    for (k, layer) in neurons.enumerated() {
      for (i, neuron) in layer.enumerated() {
        guard case .unstable(let z, let y, let a) = neuron else { continue }
        result.append(
          BinaryNeuron(
            layer: k, neuron: i, a: a, z: z, y: y, lower: bounds.layers[k].lower[i],
            upper: bounds.layers[k].upper[i]))
      }
    }
    return result
  }

  /// Narrows a column's bounds in the LP (and in the record `safeBound` reads).
  func narrowColumn(_ column: Int, lower: Double, upper: Double) throws {
    let newLower = max(lower, columnLower[column])
    let newUpper = max(newLower, min(upper, columnUpper[column]))
    try problem.setColumnBounds(column, .between(newLower, newUpper))
    columnLower[column] = newLower
    columnUpper[column] = newUpper
  }

  // MARK: Cuts

  struct Cut {
    var columns: [Int]
    var coefficients: [Double]
    var upperBound: Double
    /// How far the LP point violates it.
    var violation: Double
    /// The unstable neuron it bounds (its place among them, in the encoding's order).
    var neuron: Int
  }

  /// The most violated inequality of the ideal (convex hull) formulation of each unstable ReLU
  /// over the box of its inputs (Anderson, Huchette, Ma, Tjandraatmadja and Vielma, 2020), where
  /// the LP point violates it. For y = max(0, Σ wᵢxᵢ + b) with xᵢ ∈ [Lᵢ, Uᵢ] and any subset I:
  ///   y ≤ Σ_{i∈I} wᵢ(xᵢ − L̆ᵢ(1 − a)) + (b + Σ_{i∉I} wᵢŬᵢ)·a,
  /// with L̆ᵢ, Ŭᵢ the ends of [Lᵢ, Uᵢ] where wᵢxᵢ is smallest and largest. Column bounds are
  /// global here, and `b` is the definition row's upper end (constant plus dropped-coefficient
  /// slack), so every cut is valid for the whole MILP.
  func violatedIdealCuts(
    at values: [Double], minimumViolation: Double = 1e-6, usesL1Budget: Bool = true,
    sparsens: Bool = true
  ) -> [Cut] {
    var cuts: [Cut] = []
    for (index, neuron) in unstableNeurons.enumerated() {
      let aValue = values[neuron.a]
      guard aValue > 1e-6, aValue < 1 - 1e-6 else { continue }
      if usesL1Budget, let budget = l1Budget,
        let cut = l1HullCut(index, at: values, budget: budget)
      {
        if cut.violation > minimumViolation * max(1, abs(values[neuron.y])) {
          cuts.append(sparsens ? sparsened(cut) : cut)
        }
        continue
      }
      // The definition row reads Σ wᵢxᵢ − z ∈ [low, high], so z ≤ Σ wᵢxᵢ − low.
      let offset = -rowLower[neuron.definitionRow]
      var rightSide = 0.0
      var aCoefficient = offset
      var constant = 0.0
      var columns: [Int] = []
      var coefficients: [Double] = []
      // Σ |w·end| over the products summed into the a-coefficient and the constant.
      var products = abs(offset)
      for term in rowTerms[neuron.definitionRow] where term.column != neuron.z {
        let w = term.coefficient
        let low = w >= 0 ? columnLower[term.column] : columnUpper[term.column]
        let high = w >= 0 ? columnUpper[term.column] : columnLower[term.column]
        let x = values[term.column]
        let inside = w * (x - low * (1 - aValue))
        let outside = w * high * aValue
        if inside < outside {
          rightSide += inside
          columns.append(term.column)
          coefficients.append(-w)
          aCoefficient += w * low
          constant -= w * low
          products += abs(w * low)
        } else {
          rightSide += outside
          aCoefficient += w * high
          products += abs(w * high)
        }
      }
      rightSide += offset * aValue
      let violation = values[neuron.y] - rightSide
      guard violation > minimumViolation * max(1, abs(values[neuron.y])) else { continue }
      // y − Σ_{i∈I} wᵢxᵢ − (b + Σ_{i∈I} wᵢL̆ᵢ + Σ_{i∉I} wᵢŬᵢ)·a ≤ −Σ_{i∈I} wᵢL̆ᵢ
      columns.append(neuron.y)
      coefficients.append(1)
      columns.append(neuron.a)
      coefficients.append(-aCoefficient)
      // Widen by the rounding error of the sums, so the cut never cuts off a true point: the
      // a-coefficient (a ∈ [0, 1]) and the constant are each a sum of those products.
      let terms = rowTerms[neuron.definitionRow].count + 1
      let cut = Cut(
        columns: columns, coefficients: coefficients,
        upperBound: constant + 2 * roundingMargin(products, terms: terms),
        violation: violation, neuron: index)
      cuts.append(sparsens ? sparsened(cut) : cut)
    }
    return cuts
  }

  /// The same cut with fewest nonzeros, written with the neuron's definition row and the L1
  /// budget's column: a cut over a first-layer neuron names most of the inputs, with
  /// coefficients that mostly equal the weight times −λ plus a common μ, so
  ///   Σ gᵥvᵥ = Σ (gᵥ − λwᵥ − μ)vᵥ + λ(z + r) + μ(used + e)
  /// over the definition row Σ wᵥvᵥ − z = r ∈ [low, high] and the budget row Σ vᵥ − used = e.
  /// The row activities r and e are replaced by their worst ends, which at most adds the rows'
  /// rounding slack. Each LP GLPK solves in the tree costs in proportion to the matrix's nonzeros
  /// (it rebuilds its LP and prices branching candidates with `glp_eval_tab_row`), and the
  /// root's cuts held half of them on the seed network.
  func sparsened(_ cut: Cut) -> Cut {
    let row = unstableNeurons[cut.neuron].definitionRow
    var original: [Int: Double] = [:]
    for (column, coefficient) in zip(cut.columns, cut.coefficients) {
      original[column, default: 0] += coefficient
    }
    var weight: [Int: Double] = [:]
    for term in rowTerms[row] { weight[term.column, default: 0] += term.coefficient }
    let budget = l1Budget
    let budgetColumns = budget?.members ?? []
    var columns = Set(original.keys).union(weight.keys)
    if budget != nil { columns.formUnion(budgetColumns) }
    let ordered = columns.sorted()

    var best: (count: Int, lambda: Double, mu: Double)?
    for lambda in [0.0, -1, 1] {
      var mu = 0.0
      if budget != nil {
        // The most frequent value of g − λw over the budget's columns.
        var frequency: [Double: (count: Int, value: Double)] = [:]
        for column in budget!.columns {
          let value = (original[column] ?? 0) - lambda * (weight[column] ?? 0)
          frequency[Self.clusterKey(value), default: (0, value)].count += 1
        }
        if let mode = frequency.max(by: { ($0.value.count, $1.key) < ($1.value.count, $0.key) }) {
          mu = mode.value.value
        }
      }
      var count = mu != 0 ? 1 : 0
      for column in ordered {
        let g = original[column] ?? 0
        let w = weight[column] ?? 0
        let common = budgetColumns.contains(column) ? mu : 0
        let d = g - lambda * w - common
        if abs(d) > Self.cancellation(g, w, common) && abs(d) >= options.dropThreshold {
          count += 1
        }
      }
      if best == nil || count < best!.count { best = (count, lambda, mu) }
    }
    guard let best, best.lambda != 0 || best.mu != 0, best.count < cut.columns.count else {
      return cut
    }

    // Σ g'·col + μ·used ≤ β − λr − μe + (what the dropped terms and the roundings can add).
    var kept: [(column: Int, coefficient: Double)] = []
    var slack = 0.0
    var magnitude = abs(cut.upperBound)
    for column in ordered {
      let g = original[column] ?? 0
      let w = weight[column] ?? 0
      let common = budgetColumns.contains(column) ? best.mu : 0
      let d = g - best.lambda * w - common
      let reach = max(abs(columnLower[column]), abs(columnUpper[column]))
      // d is rounded twice: at most 2u·(|g| + |λw| + |μ|).
      slack += Self.cancellation(g, w, common) * reach
      if d == 0 { continue }
      if abs(d) <= Self.cancellation(g, w, common) || abs(d) < options.dropThreshold {
        // Dropping d·col from the left side adds at most its largest −d·col to the right.
        slack += max(-d * columnLower[column], -d * columnUpper[column], 0)
      } else {
        kept.append((column, d))
      }
    }
    var upperBound = cut.upperBound
    if best.lambda != 0 {
      let rowEnd = best.lambda > 0 ? rowLower[row] : rowUpper[row]
      upperBound -= best.lambda * rowEnd
      magnitude += abs(rowEnd)
    }
    if let budget, best.mu != 0 {
      let budgetEnd = best.mu > 0 ? budget.usedRowLower : budget.usedRowUpper
      upperBound -= best.mu * budgetEnd
      magnitude += abs(best.mu * budgetEnd)
      kept.append((budget.used, best.mu))
    }
    upperBound += (slack * (1 + roundingGamma(terms: ordered.count + 4))).nextUp
    upperBound += roundingMargin(magnitude + slack, terms: 4)
    guard upperBound.isFinite else { return cut }
    return Cut(
      columns: kept.map(\.column), coefficients: kept.map(\.coefficient),
      upperBound: upperBound.nextUp, violation: cut.violation, neuron: cut.neuron)
  }

  /// Values of g − λw that differ by less than this are one cluster: the cut's coefficients
  /// equal λw + μ up to the rounding of the knapsack's arithmetic.
  private static func clusterKey(_ value: Double) -> Double {
    if value == 0 || !value.isFinite { return value }
    let scale = Double(sign: .plus, exponent: value.exponent - 30, significand: 1)
    return (value / scale).rounded() * scale
  }

  /// The largest rounding error of computing g − λw − μ (|λ| ≤ 1): two roundings, each at
  /// most a unit in the last place of the largest operand.
  private static func cancellation(_ g: Double, _ w: Double, _ mu: Double) -> Double {
    4 * 0x1p-53 * (abs(g) + abs(w) + abs(mu))
  }

  /// The most violated inequality of the convex hull of a first-layer ReLU over the L1 region
  /// itself (the ball's budget row and the columns' bounds), where the box's ideal cuts see only
  /// the box: with a radius far below the box's reach, the budget limits the neuron far more.
  ///
  /// For y = max(0, z), z ≤ Σ wᵥvᵥ + c over perturbation columns vᵥ ∈ [0, Uᵥ] with Σ vᵥ ≤ δ,
  /// the hull (Balas) splits each point as v = v¹ + v⁰ with v¹ ∈ a·P, v⁰ ∈ (1 − a)·P, and
  /// y ≤ w·v¹ + c·a. At the LP point (v*, a*) the largest w·v¹ is a fractional knapsack:
  /// v¹ᵥ ∈ [max(0, v*ᵥ − (1 − a)Uᵥ), min(a·Uᵥ, v*ᵥ)] with Σ v¹ ≤ a·δ and Σ v¹ ≥ Σ v* − (1 − a)δ.
  /// Its dual (a price π on the budget, and each column's reduced weight wᵥ − π on the bound
  /// it meets) gives, by weak duality for any such multipliers, an upper bound on y that is
  /// linear in (v, a) and holds at every point of the MILP: the cut, tight at the LP point.
  /// nil when the neuron's row holds a column outside the budget (not a first-layer neuron) or
  /// the knapsack has no solution at the point.
  ///
  /// Measured on the seed network (2 threads, examples 0–59 at δ 5 and 0–19 at δ 2): the eleven
  /// trees of 100 nodes or more held 12,057 nodes in all instead of 13,633 with the box's cuts;
  /// seven shrank (example 9 at δ 5: 1,063 instead of 1,399; example 13: 799 instead of 1,191),
  /// four grew (example 1: 2,133 instead of 1,715).
  private func l1HullCut(
    _ index: Int, at values: [Double], budget: L1Budget
  ) -> Cut? {
    let neuron = unstableNeurons[index]
    let a = values[neuron.a]
    var weight: [Int: Double] = [:]
    for term in rowTerms[neuron.definitionRow] where term.column != neuron.z {
      guard budget.members.contains(term.column) else { return nil }
      weight[term.column] = term.coefficient
    }
    // The row reads Σ wᵥvᵥ − z ∈ [low, high], so z ≤ Σ wᵥvᵥ − low.
    let offset = -rowLower[neuron.definitionRow]
    let radius = budget.radius
    struct Item {
      var column: Int
      var weight: Double
      var cap: Double
      var low: Double
      var high: Double
      /// Whether the knapsack's bound on v¹ᵥ is the column vᵥ itself (else a·Uᵥ above, 0 below).
      var highIsColumn: Bool
      var lowIsColumn: Bool
    }
    var items: [Item] = []
    items.reserveCapacity(budget.columns.count)
    var used = 0.0
    for column in budget.columns {
      let cap = columnUpper[column]
      guard columnLower[column] == 0, cap.isFinite, cap >= 0 else { return nil }
      let v = min(max(values[column], 0), cap)
      used += v
      let high = min(a * cap, v)
      let low = max(0, v - (1 - a) * cap)
      items.append(
        Item(
          column: column, weight: weight[column] ?? 0, cap: cap, low: low, high: max(low, high),
          highIsColumn: v <= a * cap, lowIsColumn: v - (1 - a) * cap > 0))
    }
    let most = a * radius
    let least = used - (1 - a) * radius
    // The budget's price: 0 if the unconstrained choice fits; else the weight of the column
    // the budget splits.
    var atZeroLow = 0.0
    var atZeroHigh = 0.0
    var allLow = 0.0
    var allHigh = 0.0
    for item in items {
      atZeroLow += item.weight > 0 ? item.high : item.low
      atZeroHigh += item.weight >= 0 ? item.high : item.low
      allLow += item.low
      allHigh += item.high
    }
    guard allLow <= most, allHigh >= least else { return nil }
    var price = 0.0
    if atZeroLow > most {
      var total = atZeroLow
      for item in items.filter({ $0.weight > 0 }).sorted(by: { $0.weight < $1.weight }) {
        let room = item.high - item.low
        if total - room <= most {
          price = item.weight
          break
        }
        total -= room
      }
    } else if atZeroHigh < least {
      var total = atZeroHigh
      for item in items.filter({ $0.weight < 0 }).sorted(by: { $0.weight > $1.weight }) {
        let room = item.high - item.low
        if total + room >= least {
          price = item.weight
          break
        }
        total += room
      }
    }
    let onMost = max(price, 0)
    let onLeast = max(-price, 0)
    // y ≤ Σ coefficient·column + aCoefficient·a + constant.
    var coefficient: [Int: Double] = [:]
    var aCoefficient = offset + onMost * radius - onLeast * radius
    var constant = onLeast * radius
    var products = abs(offset) + 2 * (onMost + onLeast) * radius
    for item in items {
      let reduced = item.weight - price
      products += (abs(item.weight) + abs(price)) * item.cap
      if onLeast > 0 { coefficient[item.column, default: 0] -= onLeast }
      if reduced > 0 {
        if item.highIsColumn {
          coefficient[item.column, default: 0] += reduced
        } else {
          aCoefficient += reduced * item.cap
        }
      } else if reduced < 0 && item.lowIsColumn {
        coefficient[item.column, default: 0] += reduced
        constant -= reduced * item.cap
        aCoefficient += reduced * item.cap
      }
    }
    // Coefficients that cancelled to rounding noise would wreck GLPK's scaling: each leaves the
    // cut with its largest contribution over the column's range [0, cap] moved to the constant.
    var kept: [(key: Int, value: Double)] = []
    for (column, value) in coefficient.sorted(by: { $0.key < $1.key }) where value != 0 {
      if abs(value) < options.dropThreshold {
        constant += max(value, 0) * columnUpper[column]
      } else {
        kept.append((column, value))
      }
    }
    var rightSide = aCoefficient * a + constant
    for (column, value) in kept { rightSide += value * values[column] }
    let violation = values[neuron.y] - rightSide
    guard violation > 0 else { return nil }
    // y − Σ coefficient·column − aCoefficient·a ≤ constant, widened by the rounding of every
    // sum and of each reduced weight (a few units in the last place of each product).
    let terms = items.count + 4
    return Cut(
      columns: kept.map(\.key) + [neuron.y, neuron.a],
      coefficients: kept.map { -$0.value } + [1, -aCoefficient],
      upperBound: constant + 4 * roundingMargin(products, terms: terms),
      violation: violation, neuron: index)
  }

  // MARK: Safe bounds

  /// A bound on `Σ terms` over the LP relaxation that holds whatever the accuracy of the last
  /// simplex solve: weak duality with GLPK's row duals π as multipliers. For any π and any
  /// feasible x, c·x = π·(Ax) + (c − Aᵀπ)·x, and each part is bounded by the row and column bounds
  /// (Neumaier and Shcherbina's safe bound). Inaccurate duals only make the bound looser. A
  /// dual that points at a row's missing end counts as 0, so only a column's missing bound can
  /// make the result infinite: GLPK's duals often carry such signs, within its tolerance, on
  /// one-sided rows (big-M rows, cuts). Taken as they were, they made the bound infinite in
  /// 611 of 1,054 LPs of the bound tightening on MNIST-FC 256x4 `prop_10_0.05`, and that
  /// tightening left 270 ReLUs unstable instead of 182.
  func safeBound(of terms: [(column: Int, coefficient: Double)], maximize: Bool) -> Double {
    safeBound(of: terms, maximize: maximize, multipliers: problem.rowDuals)
  }

  /// `safeBound` with `multipliers` (one per recorded row; any beyond count as 0) in place of
  /// GLPK's duals: any values give a true bound, good ones a tight bound. Too few give ±∞.
  func safeBound(
    of terms: [(column: Int, coefficient: Double)], maximize: Bool, multipliers duals: [Double]
  ) -> Double {
    guard duals.count >= rowTerms.count else { return maximize ? .infinity : -.infinity }
    let columnCount = problem.numberOfColumns
    var reduced = [Double](repeating: 0, count: columnCount)
    // Per column: Σ |products| summed into its reduced cost, and their number, for its error.
    var reducedMagnitude = [Double](repeating: 0, count: columnCount)
    var reducedTerms = [Int](repeating: 0, count: columnCount)
    for term in terms {
      reduced[term.column] += term.coefficient
      reducedMagnitude[term.column] += abs(term.coefficient)
      reducedTerms[term.column] += 1
    }
    var magnitude = 0.0
    var parts = 0
    var bound = 0.0
    for (row, rowTerms) in rowTerms.enumerated() {
      let pi = duals[row]
      if pi == 0 { continue }
      let part = Self.extreme(pi, rowLower[row], rowUpper[row], maximize: maximize)
      // A dual whose sign points at a row's missing end (GLPK's dual feasibility holds only
      // within its tolerance) would make the bound infinite. Weak duality holds for any
      // multipliers, so such a row's is taken as 0 instead.
      if part.isInfinite { continue }
      for term in rowTerms {
        let product = term.coefficient * pi
        reduced[term.column] -= product
        reducedMagnitude[term.column] += abs(product)
        reducedTerms[term.column] += 1
      }
      bound += part
      magnitude += abs(part)
      parts += 1
    }
    // A reduced cost computed as 0 (or near it) from large cancelling products may truly be as
    // large as its rounding error: that error times the column's reach is added for every
    // column, whatever its computed reduced cost.
    var reducedError = 0.0
    for column in 0..<columnCount where reducedTerms[column] > 0 {
      let reach = max(abs(columnLower[column]), abs(columnUpper[column]))
      if reducedTerms[column] > 1 {
        reducedError +=
          roundingMargin(reducedMagnitude[column], terms: reducedTerms[column]) * reach
      }
      if reduced[column] == 0 { continue }
      let part = Self.extreme(
        reduced[column], columnLower[column], columnUpper[column], maximize: maximize)
      bound += part
      magnitude += abs(part)
      parts += 1
    }
    guard bound.isFinite, reducedError.isFinite else {
      return maximize ? .infinity : -.infinity
    }
    let margin = roundingMargin(magnitude, terms: parts) + reducedError * (1 + 1e-12)
    return maximize ? (bound + margin).nextUp : (bound - margin).nextDown
  }

  /// sup (or inf) of `coefficient · v` for v in [lower, upper].
  private static func extreme(
    _ coefficient: Double, _ lower: Double, _ upper: Double, maximize: Bool
  ) -> Double {
    let end = (coefficient > 0) == maximize ? upper : lower
    if end.isInfinite { return (coefficient > 0) == (end > 0) ? .infinity : -.infinity }
    return coefficient * end
  }

  // MARK: Points

  /// The input point a column vector stands for.
  func inputPoint(from values: [Double]) -> [Double] {
    (0..<network.inputSize).map { j in
      var x = region.center[j]
      if let up = inputUp[j] { x += values[up] }
      if let down = inputDown[j] { x -= values[down] }
      return x
    }
  }

  /// A full MILP point for an input inside the region: every column set from the exact forward
  /// pass (each binary to the neuron's phase there), and the margin to the true margin. Returns
  /// nil if the input falls outside the encoded bounds (it is then outside the region).
  func milpPoint(forInput input: [Double]) -> [Double]? {
    var values = [Double](repeating: 0, count: problem.numberOfColumns)
    for j in 0..<network.inputSize {
      let d = input[j] - region.center[j]
      if let up = inputUp[j] { values[up] = region.norm == .l1 ? max(d, 0) : d }
      if let down = inputDown[j] { values[down] = max(-d, 0) }
    }
    if let budget = l1Budget {
      let used = budget.columns.reduce(0) { $0 + values[$1] }
      values[budget.used] = min(used, columnUpper[budget.used])
    }
    let preActivations = network.preActivations(input)
    for (k, encodings) in neurons.enumerated() {
      for (i, encoding) in encodings.enumerated() {
        let z = preActivations[k][i]
        guard z >= bounds.layers[k].lower[i], z <= bounds.layers[k].upper[i] else { return nil }
        switch encoding {
        case .inactive: break
        case .active(let column): values[column] = z
        case .unstable(let zColumn, let y, let a):
          values[zColumn] = z
          values[y] = max(0, z)
          values[a] = z > 0 ? 1 : 0
        }
      }
    }
    if let marginColumn, let goal {
      let outputs = preActivations[preActivations.count - 1]
      values[marginColumn] = min(
        max(goal.margin(outputs), columnLower[marginColumn]), columnUpper[marginColumn])
    }
    return values
  }
}

// MARK: Solving

/// The LP and MILP of the encoding, solved in place. Nothing here widens a bound; fixing a phase
/// narrows one binary's, which leaves the record `safeBound` reads (the wider [0, 1]) valid.
extension MILPEncoding {
  var binaryCount: Int { problem.numberOfBinaries }
  var rowCount: Int { problem.numberOfRows }

  /// The simplex method on the LP relaxation, from the current basis.
  func solveRelaxation(_ options: SimplexOptions) throws -> SimplexTermination {
    try problem.simplex(options)
  }

  var relaxationStatus: SolutionStatus { problem.status }
  var relaxationObjective: Double { problem.objectiveValue }
  var relaxationValues: [Double] { problem.columnValues }

  /// Makes `Σ terms` the objective, maximised or minimised.
  func setObjective(_ terms: [(column: Int, coefficient: Double)], maximize: Bool) throws {
    try problem.setObjective(
      columns: terms.map(\.column), coefficients: terms.map(\.coefficient))
    problem.direction = maximize ? .maximize : .minimize
  }

  func resetBasis() { problem.resetBasis() }

  /// GLPK's row duals of the last LP solved, one per row.
  var rowDuals: [Double] { problem.rowDuals }

  /// Fixes a binary to one phase (`true`: on), or with nil gives it [0, 1] back.
  func fixPhase(binary column: Int, active: Bool?) throws {
    try problem.setColumnBounds(column, active.map { .fixed($0 ? 1 : 0) } ?? .range(0, 1))
  }

  func branchAndCut(
    _ options: IntegerOptions = IntegerOptions(),
    callback: ((SearchTree) throws -> Void)? = nil
  ) throws -> IntegerTermination {
    try problem.branchAndCut(options, callback: callback)
  }

  var integerStatus: SolutionStatus { problem.integerStatus }
  var integerObjective: Double { problem.integerObjectiveValue }
  var integerValues: [Double] { problem.integerColumnValues }

  /// A column's bounds as GLPK holds them now.
  func columnBoundsInLP(_ column: Int) throws -> VariableBounds {
    try problem.columnBounds(column)
  }

  /// A row's bounds as recorded (and loaded into GLPK): `lower ≤ Σ kept terms ≤ upper`.
  func recordedRowBounds(_ row: Int) -> (lower: Double, upper: Double) {
    (rowLower[row], rowUpper[row])
  }
}
