internal import CGLPK

/// GLPK's branch-and-cut tree as seen from the callback (`glp_tree`).
///
/// A value is valid only during the callback call that received it. Without the MIP presolver
/// the tree works on the caller's own problem, so column indices are the caller's.
public struct SearchTree {
  /// Why GLPK called (`glp_ios_reason`).
  public enum Reason: Sendable, Equatable {
    case rowGeneration
    case betterIntegerSolution
    case heuristic
    case cutGeneration
    case branching
    case nodeSelection
    case preprocessing
    case other(Int32)
  }

  public struct Size: Sendable, Equatable {
    /// Subproblems still waiting to be solved.
    public var active: Int
    /// Subproblems in the tree now.
    public var current: Int
    /// Subproblems created since the search began.
    public var total: Int
  }

  let tree: OpaquePointer

  init(tree: OpaquePointer) {
    self.tree = tree
  }

  public var reason: Reason {
    switch glp_ios_reason(tree) {
    case GLP_IROWGEN: return .rowGeneration
    case GLP_IBINGO: return .betterIntegerSolution
    case GLP_IHEUR: return .heuristic
    case GLP_ICUTGEN: return .cutGeneration
    case GLP_IBRANCH: return .branching
    case GLP_ISELECT: return .nodeSelection
    case GLP_IPREPRO: return .preprocessing
    case let code: return .other(code)
    }
  }

  private var problem: OpaquePointer { glp_ios_get_prob(tree) }

  public var size: Size {
    var active: Int32 = 0
    var current: Int32 = 0
    var total: Int32 = 0
    glp_ios_tree_size(tree, &active, &current, &total)
    return Size(active: Int(active), current: Int(current), total: Int(total))
  }

  /// The rows of the current subproblem, the cuts added so far included.
  public var numberOfRows: Int { Int(glp_get_num_rows(problem)) }

  /// The best integer solution so far, if any: its objective value (including the constant term).
  ///
  /// Solutions found by GLPK's own heuristics or offered through `offerSolution` do not always
  /// come with a `betterIntegerSolution` call, so callers should look here at every call.
  public var incumbentObjective: Double? {
    let status = glp_mip_status(problem)
    guard status == GLP_FEAS || status == GLP_OPT else { return nil }
    return glp_mip_obj_val(problem)
  }

  /// The column values of the best integer solution so far.
  public func incumbentColumnValues() -> [Double] {
    let problem = self.problem
    let count = Int(glp_get_num_cols(problem))
    return (0..<count).map { glp_mip_col_val(problem, Int32($0 + 1)) }
  }

  /// The best local bound over the active subproblems, or nil when none is left.
  ///
  /// For a maximisation no integer solution in the unexplored part of the tree can exceed it.
  public var bestActiveBound: Double? {
    let node = glp_ios_best_node(tree)
    guard node != 0 else { return nil }
    // A subproblem whose LP is not solved yet carries ±DBL_MAX: no bound.
    let bound = glp_ios_node_bound(tree, node)
    return abs(bound) >= .greatestFiniteMagnitude ? nil : bound
  }

  /// The reference number of the current subproblem, or nil outside a subproblem.
  public var currentNode: Int? {
    let node = glp_ios_curr_node(tree)
    return node == 0 ? nil : Int(node)
  }

  /// The level of the current subproblem (0 at the root), or nil outside a subproblem.
  public var currentLevel: Int? {
    let node = glp_ios_curr_node(tree)
    guard node != 0 else { return nil }
    return Int(glp_ios_node_level(tree, node))
  }

  /// Whether the current subproblem's LP relaxation was solved to optimality.
  public var currentLPIsOptimal: Bool { glp_get_status(problem) == GLP_OPT }

  /// The current subproblem's LP objective value.
  public var currentLPObjective: Double { glp_get_obj_val(problem) }

  /// Column values of the current subproblem's LP solution.
  public func currentLPColumnValues() -> [Double] {
    let problem = self.problem
    let count = Int(glp_get_num_cols(problem))
    return (0..<count).map { glp_get_col_prim(problem, Int32($0 + 1)) }
  }

  /// Offers an integer-feasible point (one value per column) as a heuristic solution; only valid
  /// when `reason == .heuristic`. Returns whether GLPK accepted it as a new incumbent.
  @discardableResult
  public func offerSolution(_ values: [Double]) throws -> Bool {
    guard reason == .heuristic else {
      throw GLPKError.invalidArgument("solutions can be offered only at the heuristic call")
    }
    let count = Int(glp_get_num_cols(problem))
    guard values.count == count else {
      throw GLPKError.invalidArgument(
        "offered solution has \(values.count) values for \(count) columns")
    }
    guard values.allSatisfy(\.isFinite) else {
      throw GLPKError.invalidArgument("offered solution has a non-finite value")
    }
    let oneBased = [0.0] + values
    return glp_ios_heur_sol(tree, oneBased) == 0
  }

  /// Whether the search may branch on `column` now (it is integer and fractional); only valid
  /// when `reason == .branching`.
  public func canBranch(on column: Int) -> Bool {
    guard reason == .branching, column >= 0, column < Int(glp_get_num_cols(problem)) else {
      return false
    }
    return glp_ios_can_branch(tree, Int32(column + 1)) != 0
  }

  /// Chooses the branching column; `upFirst` picks which child is solved next.
  public func branch(on column: Int, upFirst: Bool) throws {
    guard canBranch(on: column) else {
      throw GLPKError.invalidArgument("cannot branch on column \(column) now")
    }
    glp_ios_branch_upon(tree, Int32(column + 1), upFirst ? GLP_UP_BRNCH : GLP_DN_BRNCH)
  }

  /// The current subproblem's LP objective with `column` fixed at `value`, after at most
  /// `iterationLimit` dual simplex iterations on a copy of the problem that starts from the
  /// current basis; nil when the current LP is not optimal or the copy ends neither dual feasible
  /// nor infeasible, and the direction's worst value (−∞ when maximising) when it is infeasible.
  ///
  /// This is the work GLPK's pseudocost branching does, twice, for every candidate whose
  /// pseudocosts it does not know yet, without looking at the clock or calling back
  /// (`ios_pcost_branch` in glpios09.c: a copy, then at most 30 dual simplex iterations): timing
  /// one call tells how long that initialisation will take.
  public func trialObjective(fixing column: Int, at value: Double, iterationLimit: Int = 30)
    -> Double?
  {
    let problem = self.problem
    guard glp_get_status(problem) == GLP_OPT, column >= 0,
      column < Int(glp_get_num_cols(problem)), value.isFinite, iterationLimit > 0
    else { return nil }
    let copy = glp_create_prob()
    defer { glp_delete_prob(copy) }
    glp_copy_prob(copy, problem, GLP_OFF)
    glp_set_col_bnds(copy, Int32(column + 1), GLP_FX, value, value)
    var parameters = glp_smcp()
    glp_init_smcp(&parameters)
    parameters.msg_lev = GLP_MSG_OFF
    parameters.meth = GLP_DUAL
    parameters.it_lim = Int32(clamping: iterationLimit)
    let code = glp_simplex(copy, &parameters)
    guard code == 0 || code == GLP_EITLIM else { return nil }
    if glp_get_prim_stat(copy) == GLP_NOFEAS {
      return glp_get_obj_dir(copy) == GLP_MAX ? -.infinity : .infinity
    }
    guard glp_get_dual_stat(copy) == GLP_FEAS else { return nil }
    return glp_get_obj_val(copy)
  }

  /// Adds the globally valid cut `Σ coefficients·columns ≤ upperBound` to the cut pool; only
  /// valid when `reason == .cutGeneration`.
  public func addCut(columns: [Int], coefficients: [Double], upperBound: Double) throws {
    guard reason == .cutGeneration else {
      throw GLPKError.invalidArgument("cuts can be added only at the cut-generation call")
    }
    let count = Int(glp_get_num_cols(problem))
    guard columns.count == coefficients.count, !columns.isEmpty else {
      throw GLPKError.invalidArgument("a cut needs as many coefficients as columns, at least one")
    }
    guard Set(columns).count == columns.count, columns.allSatisfy({ $0 >= 0 && $0 < count }) else {
      throw GLPKError.invalidArgument("a cut names a column twice or out of range")
    }
    guard coefficients.allSatisfy(\.isFinite), upperBound.isFinite else {
      throw GLPKError.invalidArgument("a cut has a non-finite coefficient or bound")
    }
    let indices = [Int32(0)] + columns.map { Int32($0 + 1) }
    let values = [0.0] + coefficients
    _ = glp_ios_add_row(
      tree, nil, 0, 0, Int32(columns.count), indices, values, GLP_UP, upperBound)
  }

  /// Asks GLPK to stop the search as soon as the callback returns.
  public func terminate() {
    glp_ios_terminate(tree)
  }
}
