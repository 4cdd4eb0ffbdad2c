internal import CGLPK

/// How much GLPK writes to its terminal hook.
public enum MessageLevel: Sendable {
  case off
  case errorsOnly
  case normal
  case all

  var glpk: Int32 {
    switch self {
    case .off: return GLP_MSG_OFF
    case .errorsOnly: return GLP_MSG_ERR
    case .normal: return GLP_MSG_ON
    case .all: return GLP_MSG_ALL
    }
  }
}

/// Receives GLPK's terminal output, one chunk at a time. Without one, GLPK's output is dropped.
public typealias OutputHandler = @Sendable (String) -> Void

/// Options of `glp_simplex`.
public struct SimplexOptions: Sendable {
  public enum Method: Sendable {
    case primal
    case dual
    /// Dual simplex, falling back to the primal if the dual fails.
    case dualThenPrimal
  }

  public var method: Method = .primal
  public var presolve = false
  /// Wall-clock limit in seconds; nil for none.
  public var timeLimit: Double?
  public var iterationLimit: Int?
  public var messageLevel: MessageLevel = .off
  public var output: OutputHandler?

  public init() {}

  func glpk() -> glp_smcp {
    var parameters = glp_smcp()
    glp_init_smcp(&parameters)
    parameters.msg_lev = messageLevel.glpk
    switch method {
    case .primal: parameters.meth = GLP_PRIMAL
    case .dual: parameters.meth = GLP_DUAL
    case .dualThenPrimal: parameters.meth = GLP_DUALP
    }
    parameters.presolve = presolve ? GLP_ON : GLP_OFF
    if let timeLimit { parameters.tm_lim = milliseconds(timeLimit) }
    if let iterationLimit { parameters.it_lim = Int32(clamping: max(0, iterationLimit)) }
    return parameters
  }
}

/// Options of `glp_intopt`, GLPK's branch-and-cut.
public struct IntegerOptions: Sendable {
  public enum Branching: Sendable {
    case firstFractional
    case lastFractional
    case mostFractional
    case driebeckTomlin
    case pseudocost
  }

  public enum Backtracking: Sendable {
    case depthFirst
    case breadthFirst
    case bestLocalBound
    case bestProjection
  }

  public enum Preprocessing: Sendable {
    case none
    case root
    case all
  }

  public struct Cuts: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let mixedIntegerRounding = Cuts(rawValue: 1)
    public static let gomory = Cuts(rawValue: 2)
    public static let cover = Cuts(rawValue: 4)
    public static let clique = Cuts(rawValue: 8)
  }

  public var branching: Branching = .driebeckTomlin
  public var backtracking: Backtracking = .bestLocalBound
  public var preprocessing: Preprocessing = .all
  public var cuts: Cuts = []
  /// GLPK's MIP presolver. With it on, the callback sees a transformed problem whose columns do
  /// not match the original's, so heuristic solutions and LP points cannot be exchanged.
  public var presolve = false
  public var feasibilityPump = false
  public var proximitySearch = false
  public var proximitySearchTimeLimit: Double = 60
  public var simpleRounding = true
  public var integerTolerance = 1e-5
  public var objectiveTolerance = 1e-7
  public var relativeGap = 0.0
  /// Wall-clock limit in seconds; nil for none.
  public var timeLimit: Double?
  public var messageLevel: MessageLevel = .off
  public var output: OutputHandler?

  public init() {}

  func glpk() -> glp_iocp {
    var parameters = glp_iocp()
    glp_init_iocp(&parameters)
    parameters.msg_lev = messageLevel.glpk
    switch branching {
    case .firstFractional: parameters.br_tech = GLP_BR_FFV
    case .lastFractional: parameters.br_tech = GLP_BR_LFV
    case .mostFractional: parameters.br_tech = GLP_BR_MFV
    case .driebeckTomlin: parameters.br_tech = GLP_BR_DTH
    case .pseudocost: parameters.br_tech = GLP_BR_PCH
    }
    switch backtracking {
    case .depthFirst: parameters.bt_tech = GLP_BT_DFS
    case .breadthFirst: parameters.bt_tech = GLP_BT_BFS
    case .bestLocalBound: parameters.bt_tech = GLP_BT_BLB
    case .bestProjection: parameters.bt_tech = GLP_BT_BPH
    }
    switch preprocessing {
    case .none: parameters.pp_tech = GLP_PP_NONE
    case .root: parameters.pp_tech = GLP_PP_ROOT
    case .all: parameters.pp_tech = GLP_PP_ALL
    }
    parameters.mir_cuts = cuts.contains(.mixedIntegerRounding) ? GLP_ON : GLP_OFF
    parameters.gmi_cuts = cuts.contains(.gomory) ? GLP_ON : GLP_OFF
    parameters.cov_cuts = cuts.contains(.cover) ? GLP_ON : GLP_OFF
    parameters.clq_cuts = cuts.contains(.clique) ? GLP_ON : GLP_OFF
    parameters.presolve = presolve ? GLP_ON : GLP_OFF
    parameters.fp_heur = feasibilityPump ? GLP_ON : GLP_OFF
    parameters.ps_heur = proximitySearch ? GLP_ON : GLP_OFF
    parameters.ps_tm_lim = milliseconds(proximitySearchTimeLimit)
    parameters.sr_heur = simpleRounding ? GLP_ON : GLP_OFF
    parameters.tol_int = integerTolerance
    parameters.tol_obj = objectiveTolerance
    parameters.mip_gap = relativeGap
    // The tree stops once tm_lim − 1 ms have passed (`ios_driver`, glpios03.c), so up to 1 ms
    // before a caller's deadline, which then reads as not reached; one more keeps it honest.
    if let timeLimit { parameters.tm_lim = Int32(clamping: Int(milliseconds(timeLimit)) + 1) }
    return parameters
  }
}

/// Seconds to GLPK's millisecond limits, at least 1 ms (0 would mean "stop at once" to some
/// routines and "no limit" to none) and at most `Int32.max`.
func milliseconds(_ seconds: Double) -> Int32 {
  guard seconds.isFinite else { return Int32.max }
  return Int32(clamping: max(1, Int((seconds * 1000).rounded(.up))))
}
