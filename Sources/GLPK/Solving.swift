internal import CGLPK

/// How a call to the simplex method ended.
public enum SimplexTermination: Sendable, Equatable {
  /// The method ran to its end; `LinearProblem.status` says whether it found an optimum.
  case solved
  case timeLimit
  case iterationLimit
  /// The presolver or the method proved that no primal feasible solution exists.
  case noPrimalFeasibleSolution
  /// The presolver proved that no dual feasible solution exists (the LP is unbounded or infeasible).
  case noDualFeasibleSolution
}

/// How a call to branch-and-cut ended.
public enum IntegerTermination: Sendable, Equatable {
  /// The search ran to its end; `LinearProblem.integerStatus` says what it found.
  case solved
  case timeLimit
  /// The callback asked the search to stop.
  case stoppedByCallback
  case relativeGapReached
  /// The LP relaxation is infeasible (found by the MIP presolver or at the root), by GLPK's
  /// tolerances: a claim to be checked, not a proof.
  case noPrimalFeasibleSolution
  case noDualFeasibleSolution
  /// The simplex method stopped on the LP relaxation without an optimum or a proof of
  /// infeasibility (a basis that is merely infeasible, GLP_INFEAS); nothing was searched.
  case relaxationUnsolved
}

extension LinearProblem {
  /// Solves the LP relaxation with the simplex method, warm-started from the current basis.
  public func simplex(_ options: SimplexOptions = SimplexOptions()) throws -> SimplexTermination {
    var parameters = options.glpk()
    let code = withTerminalOutput(options.output) { glp_simplex(pointer, &parameters) }
    switch code {
    case 0: return .solved
    case GLP_ETMLIM: return .timeLimit
    case GLP_EITLIM: return .iterationLimit
    case GLP_ENOPFS: return .noPrimalFeasibleSolution
    case GLP_ENODFS: return .noDualFeasibleSolution
    default:
      throw GLPKError.solverFailed(
        routine: "glp_simplex", code: code, meaning: describeReturnCode(code))
    }
  }

  /// Runs GLPK's branch-and-cut. Without the MIP presolver, an optimal basis of the LP relaxation
  /// must exist first (call `simplex()`); this method solves the relaxation itself if it has none.
  ///
  /// The callback, if given, is called at every point GLPK offers (`SearchTree.reason`); an error
  /// it throws stops the search and is rethrown here.
  public func branchAndCut(
    _ options: IntegerOptions = IntegerOptions(),
    callback: ((SearchTree) throws -> Void)? = nil
  ) throws -> IntegerTermination {
    if !options.presolve && status != .optimal {
      var lpOptions = SimplexOptions()
      lpOptions.method = .dualThenPrimal
      lpOptions.timeLimit = options.timeLimit
      lpOptions.output = options.output
      lpOptions.messageLevel = options.messageLevel
      switch try simplex(lpOptions) {
      case .solved: break
      case .timeLimit, .iterationLimit: return .timeLimit
      case .noPrimalFeasibleSolution: return .noPrimalFeasibleSolution
      case .noDualFeasibleSolution: return .noDualFeasibleSolution
      }
      switch status {
      case .optimal: break
      case .noFeasibleSolution: return .noPrimalFeasibleSolution
      case .unbounded: return .noDualFeasibleSolution
      // GLP_INFEAS says the final basis is infeasible, not that no feasible point exists.
      case .infeasible, .feasible, .undefined: return .relaxationUnsolved
      }
    }
    var parameters = options.glpk()
    let context = CallbackContext(callback: callback)
    let code: Int32 = withExtendedLifetime(context) {
      if callback != nil {
        parameters.cb_func = searchTreeTrampoline
        parameters.cb_info = Unmanaged.passUnretained(context).toOpaque()
      }
      return withTerminalOutput(options.output) { glp_intopt(pointer, &parameters) }
    }
    if let error = context.error { throw error }
    switch code {
    case 0: return .solved
    case GLP_ETMLIM: return .timeLimit
    case GLP_ESTOP: return .stoppedByCallback
    case GLP_EMIPGAP: return .relativeGapReached
    case GLP_ENOPFS: return .noPrimalFeasibleSolution
    case GLP_ENODFS: return .noDualFeasibleSolution
    default:
      throw GLPKError.solverFailed(
        routine: "glp_intopt", code: code, meaning: describeReturnCode(code))
    }
  }
}

/// The Swift state behind one `glp_intopt` call's callback.
private final class CallbackContext {
  let callback: ((SearchTree) throws -> Void)?
  var error: Error?

  init(callback: ((SearchTree) throws -> Void)?) {
    self.callback = callback
  }
}

/// The C entry point GLPK calls; it captures nothing and finds the Swift closure through `info`.
private let searchTreeTrampoline:
  @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void = {
    tree, info in
    guard let tree, let info else { return }
    let context = Unmanaged<CallbackContext>.fromOpaque(info).takeUnretainedValue()
    guard context.error == nil, let callback = context.callback else { return }
    do {
      try callback(SearchTree(tree: tree))
    } catch {
      context.error = error
      glp_ios_terminate(tree)
    }
  }

// MARK: Terminal output

/// Routes GLPK's terminal output to `handler` (or drops it) while `body` runs.
///
/// GLPK keeps its terminal hook per thread, like the rest of its environment. A silent hook stays
/// installed afterwards, so that output from later calls never reaches stdout uninvited.
func withTerminalOutput<Result>(_ handler: OutputHandler?, _ body: () -> Result) -> Result {
  guard let handler else {
    glp_term_hook(silentTerminalHook, nil)
    return body()
  }
  let box = OutputBox(handler: handler)
  return withExtendedLifetime(box) {
    glp_term_hook(forwardingTerminalHook, Unmanaged.passUnretained(box).toOpaque())
    defer { glp_term_hook(silentTerminalHook, nil) }
    return body()
  }
}

private final class OutputBox {
  let handler: OutputHandler
  init(handler: @escaping OutputHandler) { self.handler = handler }
}

/// Returning non-zero tells GLPK that the hook consumed the text.
private let silentTerminalHook:
  @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?)
    -> Int32 = { _, _ in 1 }

private let forwardingTerminalHook:
  @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?) -> Int32 = { info, text in
    guard let info, let text else { return 1 }
    let box = Unmanaged<OutputBox>.fromOpaque(info).takeUnretainedValue()
    box.handler(String(cString: text))
    return 1
  }
