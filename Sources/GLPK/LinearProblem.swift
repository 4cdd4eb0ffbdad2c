internal import CGLPK

/// The bounds of a column (structural variable) or a row (auxiliary variable).
public enum VariableBounds: Equatable, Sendable {
  case free
  case lower(Double)
  case upper(Double)
  /// `lower ≤ value ≤ upper`; a range whose ends are equal is passed to GLPK as fixed.
  case range(Double, Double)
  case fixed(Double)

  /// The lower and upper ends, with ±∞ for an open side.
  public var interval: (lower: Double, upper: Double) {
    switch self {
    case .free: return (-.infinity, .infinity)
    case .lower(let lower): return (lower, .infinity)
    case .upper(let upper): return (-.infinity, upper)
    case .range(let lower, let upper): return (lower, upper)
    case .fixed(let value): return (value, value)
    }
  }

  /// The bounds of the interval `[lower, upper]`, where either end may be infinite.
  public static func between(_ lower: Double, _ upper: Double) -> VariableBounds {
    switch (lower.isFinite, upper.isFinite) {
    case (false, false): return .free
    case (true, false): return .lower(lower)
    case (false, true): return .upper(upper)
    case (true, true): return lower == upper ? .fixed(lower) : .range(lower, upper)
    }
  }
}

public enum VariableKind: Sendable {
  case continuous
  case integer
  case binary
}

public enum OptimizationDirection: Sendable {
  case minimize
  case maximize
}

/// GLPK's solution status (`GLP_UNDEF` … `GLP_UNBND`).
public enum SolutionStatus: Sendable, Equatable {
  case undefined
  case feasible
  case infeasible
  case noFeasibleSolution
  case optimal
  case unbounded

  init(glpk code: Int32) {
    switch code {
    case GLP_FEAS: self = .feasible
    case GLP_INFEAS: self = .infeasible
    case GLP_NOFEAS: self = .noFeasibleSolution
    case GLP_OPT: self = .optimal
    case GLP_UNBND: self = .unbounded
    default: self = .undefined
    }
  }

  /// Whether a primal solution is available that satisfies every constraint.
  public var hasFeasibleSolution: Bool { self == .feasible || self == .optimal }
}

/// One nonzero of the constraint matrix, with zero-based row and column indices.
public struct MatrixEntry: Sendable, Equatable {
  public var row: Int
  public var column: Int
  public var value: Double

  public init(row: Int, column: Int, value: Double) {
    self.row = row
    self.column = column
    self.value = value
  }
}

/// A linear or mixed-integer program owned by GLPK (`glp_prob`).
///
/// Indices are zero-based on the Swift side and translated to GLPK's one-based ones here. Every
/// argument is checked before it reaches GLPK, because GLPK aborts the process on bad input.
/// A problem belongs to the thread that uses it: GLPK keeps its environment per thread.
public final class LinearProblem {
  let pointer: OpaquePointer

  public init(name: String? = nil) {
    pointer = glp_create_prob()
    if let name { glp_set_prob_name(pointer, String(name.prefix(255))) }
  }

  deinit {
    glp_delete_prob(pointer)
  }

  public var numberOfRows: Int { Int(glp_get_num_rows(pointer)) }
  public var numberOfColumns: Int { Int(glp_get_num_cols(pointer)) }
  public var numberOfNonzeros: Int { Int(glp_get_num_nz(pointer)) }
  public var numberOfBinaries: Int { Int(glp_get_num_bin(pointer)) }
  public var numberOfIntegers: Int { Int(glp_get_num_int(pointer)) }

  public var direction: OptimizationDirection {
    get { glp_get_obj_dir(pointer) == GLP_MAX ? .maximize : .minimize }
    set { glp_set_obj_dir(pointer, newValue == .maximize ? GLP_MAX : GLP_MIN) }
  }

  // MARK: Columns and rows

  /// Appends `count` columns with the given bounds and kind; returns their indices.
  @discardableResult
  public func addColumns(
    _ count: Int, bounds: VariableBounds = .lower(0), kind: VariableKind = .continuous
  ) throws -> Range<Int> {
    guard count >= 0, count < Int(Int32.max) - numberOfColumns else {
      throw GLPKError.invalidArgument("cannot add \(count) columns")
    }
    // Check the bounds before adding anything, so a refused call leaves the problem as it was.
    _ = try Self.glpkBounds(bounds, what: "new columns")
    let first = numberOfColumns
    guard count > 0 else { return first..<first }
    glp_add_cols(pointer, Int32(count))
    for column in first..<(first + count) {
      try setColumnBounds(column, bounds)
      if kind != .continuous { try setColumnKind(column, kind) }
    }
    return first..<(first + count)
  }

  /// Appends `count` rows with the given bounds and no coefficients; returns their indices.
  @discardableResult
  public func addRows(_ count: Int, bounds: VariableBounds = .free) throws -> Range<Int> {
    guard count >= 0, count < Int(Int32.max) - numberOfRows else {
      throw GLPKError.invalidArgument("cannot add \(count) rows")
    }
    _ = try Self.glpkBounds(bounds, what: "new rows")
    let first = numberOfRows
    guard count > 0 else { return first..<first }
    glp_add_rows(pointer, Int32(count))
    for row in first..<(first + count) { try setRowBounds(row, bounds) }
    return first..<(first + count)
  }

  public func setColumnBounds(_ column: Int, _ bounds: VariableBounds) throws {
    try checkColumn(column)
    let (type, lower, upper) = try Self.glpkBounds(bounds, what: "column \(column)")
    glp_set_col_bnds(pointer, Int32(column + 1), type, lower, upper)
  }

  public func setRowBounds(_ row: Int, _ bounds: VariableBounds) throws {
    try checkRow(row)
    let (type, lower, upper) = try Self.glpkBounds(bounds, what: "row \(row)")
    glp_set_row_bnds(pointer, Int32(row + 1), type, lower, upper)
  }

  public func columnBounds(_ column: Int) throws -> VariableBounds {
    try checkColumn(column)
    let index = Int32(column + 1)
    return Self.bounds(
      type: glp_get_col_type(pointer, index), lower: glp_get_col_lb(pointer, index),
      upper: glp_get_col_ub(pointer, index))
  }

  public func setColumnKind(_ column: Int, _ kind: VariableKind) throws {
    try checkColumn(column)
    let code: Int32
    switch kind {
    case .continuous: code = GLP_CV
    case .integer: code = GLP_IV
    case .binary: code = GLP_BV
    }
    glp_set_col_kind(pointer, Int32(column + 1), code)
  }

  public func setColumnName(_ column: Int, _ name: String) throws {
    try checkColumn(column)
    glp_set_col_name(pointer, Int32(column + 1), String(name.prefix(255)))
  }

  public func setRowName(_ row: Int, _ name: String) throws {
    try checkRow(row)
    glp_set_row_name(pointer, Int32(row + 1), String(name.prefix(255)))
  }

  /// Replaces the coefficients of one row. Column indices must be distinct and in range.
  public func setRow(_ row: Int, columns: [Int], values: [Double]) throws {
    try checkRow(row)
    guard columns.count == values.count else {
      throw GLPKError.invalidArgument(
        "row \(row): \(columns.count) column indices but \(values.count) values")
    }
    var seen = Set<Int>()
    for (column, value) in zip(columns, values) {
      try checkColumn(column)
      try checkFinite(value, what: "coefficient of column \(column) in row \(row)")
      guard seen.insert(column).inserted else {
        throw GLPKError.invalidArgument("row \(row) names column \(column) twice")
      }
    }
    // GLPK's arrays are one-based: element 0 is ignored.
    let indices = [Int32(0)] + columns.map { Int32($0 + 1) }
    let coefficients = [0.0] + values
    glp_set_mat_row(pointer, Int32(row + 1), Int32(columns.count), indices, coefficients)
  }

  /// Replaces the whole constraint matrix in one call. Each (row, column) pair may occur once.
  public func loadMatrix(_ entries: [MatrixEntry]) throws {
    let rows = numberOfRows
    let columns = numberOfColumns
    var seen = Set<Int>()
    seen.reserveCapacity(entries.count)
    var rowIndices = [Int32](repeating: 0, count: entries.count + 1)
    var columnIndices = [Int32](repeating: 0, count: entries.count + 1)
    var values = [Double](repeating: 0, count: entries.count + 1)
    for (position, entry) in entries.enumerated() {
      guard entry.row >= 0, entry.row < rows, entry.column >= 0, entry.column < columns else {
        throw GLPKError.invalidArgument(
          "matrix entry (\(entry.row), \(entry.column)) is outside \(rows) rows × \(columns) columns"
        )
      }
      try checkFinite(entry.value, what: "matrix entry (\(entry.row), \(entry.column))")
      guard seen.insert(entry.row * columns + entry.column).inserted else {
        throw GLPKError.invalidArgument("matrix entry (\(entry.row), \(entry.column)) given twice")
      }
      rowIndices[position + 1] = Int32(entry.row + 1)
      columnIndices[position + 1] = Int32(entry.column + 1)
      values[position + 1] = entry.value
    }
    glp_load_matrix(pointer, Int32(entries.count), rowIndices, columnIndices, values)
  }

  /// Deletes the given rows; the remaining rows are renumbered in order.
  public func deleteRows(_ rows: [Int]) throws {
    guard !rows.isEmpty else { return }
    guard Set(rows).count == rows.count else {
      throw GLPKError.invalidArgument("row list for deletion has duplicates")
    }
    for row in rows { try checkRow(row) }
    let indices = [Int32(0)] + rows.map { Int32($0 + 1) }
    glp_del_rows(pointer, Int32(rows.count), indices)
  }

  // MARK: Objective

  public func setObjectiveCoefficient(_ column: Int, _ value: Double) throws {
    try checkColumn(column)
    try checkFinite(value, what: "objective coefficient of column \(column)")
    glp_set_obj_coef(pointer, Int32(column + 1), value)
  }

  /// Sets the whole objective: the listed coefficients, zero elsewhere, and the constant term.
  public func setObjective(columns: [Int], coefficients: [Double], constant: Double = 0) throws {
    guard columns.count == coefficients.count else {
      throw GLPKError.invalidArgument("objective: column and coefficient counts differ")
    }
    try checkFinite(constant, what: "objective constant")
    for column in 0..<numberOfColumns { glp_set_obj_coef(pointer, Int32(column + 1), 0) }
    for (column, value) in zip(columns, coefficients) {
      try setObjectiveCoefficient(column, value)
    }
    glp_set_obj_coef(pointer, 0, constant)
  }

  // MARK: Basic (LP) solution

  public var status: SolutionStatus { SolutionStatus(glpk: glp_get_status(pointer)) }
  public var objectiveValue: Double { glp_get_obj_val(pointer) }

  public func columnValue(_ column: Int) -> Double {
    precondition(column >= 0 && column < numberOfColumns, "column index out of range")
    return glp_get_col_prim(pointer, Int32(column + 1))
  }

  public func rowValue(_ row: Int) -> Double {
    precondition(row >= 0 && row < numberOfRows, "row index out of range")
    return glp_get_row_prim(pointer, Int32(row + 1))
  }

  public var columnValues: [Double] {
    (0..<numberOfColumns).map { glp_get_col_prim(pointer, Int32($0 + 1)) }
  }

  /// The dual value of a row in the basic solution (GLPK's `π_i`): for the objective `c`, the
  /// reduced cost of column `j` is `c_j − Σ_i a_ij π_i`.
  public func rowDual(_ row: Int) -> Double {
    precondition(row >= 0 && row < numberOfRows, "row index out of range")
    return glp_get_row_dual(pointer, Int32(row + 1))
  }

  public var rowDuals: [Double] {
    (0..<numberOfRows).map { glp_get_row_dual(pointer, Int32($0 + 1)) }
  }

  public func rowBounds(_ row: Int) throws -> VariableBounds {
    try checkRow(row)
    let index = Int32(row + 1)
    return Self.bounds(
      type: glp_get_row_type(pointer, index), lower: glp_get_row_lb(pointer, index),
      upper: glp_get_row_ub(pointer, index))
  }

  /// Resets the basis to the standard one (all structurals non-basic), for a cold start.
  public func resetBasis() {
    glp_std_basis(pointer)
  }

  // MARK: Integer solution

  public var integerStatus: SolutionStatus { SolutionStatus(glpk: glp_mip_status(pointer)) }
  public var integerObjectiveValue: Double { glp_mip_obj_val(pointer) }

  public func integerColumnValue(_ column: Int) -> Double {
    precondition(column >= 0 && column < numberOfColumns, "column index out of range")
    return glp_mip_col_val(pointer, Int32(column + 1))
  }

  public var integerColumnValues: [Double] {
    (0..<numberOfColumns).map { glp_mip_col_val(pointer, Int32($0 + 1)) }
  }

  // MARK: Files

  /// Writes the problem in CPLEX LP format, for inspection with other solvers.
  public func writeCPLEXLP(to path: String) throws {
    let code = glp_write_lp(pointer, nil, path)
    guard code == 0 else {
      throw GLPKError.solverFailed(
        routine: "glp_write_lp", code: code, meaning: "cannot write \(path)")
    }
  }

  // MARK: Checks

  func checkColumn(_ column: Int) throws {
    guard column >= 0, column < numberOfColumns else {
      throw GLPKError.invalidArgument(
        "column index \(column) out of range 0..<\(numberOfColumns)")
    }
  }

  func checkRow(_ row: Int) throws {
    guard row >= 0, row < numberOfRows else {
      throw GLPKError.invalidArgument("row index \(row) out of range 0..<\(numberOfRows)")
    }
  }

  private func checkFinite(_ value: Double, what: String) throws {
    guard value.isFinite else { throw GLPKError.invalidArgument("\(what) is \(value)") }
  }

  private static func glpkBounds(_ bounds: VariableBounds, what: String) throws -> (
    Int32, Double, Double
  ) {
    func finite(_ value: Double) throws -> Double {
      guard value.isFinite else {
        throw GLPKError.invalidArgument("\(what): bound \(value) must be finite")
      }
      return value
    }
    switch bounds {
    case .free: return (GLP_FR, 0, 0)
    case .lower(let lower): return (GLP_LO, try finite(lower), 0)
    case .upper(let upper): return (GLP_UP, 0, try finite(upper))
    case .fixed(let value): return (GLP_FX, try finite(value), try finite(value))
    case .range(let lower, let upper):
      let (lower, upper) = (try finite(lower), try finite(upper))
      guard lower <= upper else {
        throw GLPKError.invalidArgument(
          "\(what): lower bound \(lower) exceeds upper bound \(upper)")
      }
      return lower == upper ? (GLP_FX, lower, upper) : (GLP_DB, lower, upper)
    }
  }

  private static func bounds(type: Int32, lower: Double, upper: Double) -> VariableBounds {
    switch type {
    case GLP_LO: return .lower(lower)
    case GLP_UP: return .upper(upper)
    case GLP_DB: return .range(lower, upper)
    case GLP_FX: return .fixed(lower)
    default: return .free
    }
  }
}
