/// An error from GLPK, or an input the wrapper refused because GLPK would abort the process on it.
///
/// GLPK reports invalid arguments through `glp_error`, which prints a message and calls `abort()`.
/// The wrapper therefore validates indices, bounds and coefficients in Swift before each call and
/// throws `invalidArgument` instead.
public enum GLPKError: Error, Equatable, CustomStringConvertible {
  /// An argument that GLPK would reject by aborting (an index out of range, a NaN coefficient …).
  case invalidArgument(String)
  /// A solver routine returned a non-zero code that is a failure rather than a normal stop.
  case solverFailed(routine: String, code: Int32, meaning: String)

  public var description: String {
    switch self {
    case .invalidArgument(let message):
      return "GLPK: invalid argument: \(message)"
    case .solverFailed(let routine, let code, let meaning):
      return "GLPK: \(routine) failed with code \(code) (\(meaning))"
    }
  }
}

/// The meanings of GLPK's return codes (`GLP_E*` in glpk.h), for error messages.
func describeReturnCode(_ code: Int32) -> String {
  switch code {
  case 0x01: return "invalid basis"
  case 0x02: return "singular matrix"
  case 0x03: return "ill-conditioned matrix"
  case 0x04: return "invalid bounds"
  case 0x05: return "solver failed"
  case 0x06: return "objective lower limit reached"
  case 0x07: return "objective upper limit reached"
  case 0x08: return "iteration limit exceeded"
  case 0x09: return "time limit exceeded"
  case 0x0A: return "no primal feasible solution"
  case 0x0B: return "no dual feasible solution"
  case 0x0C: return "root LP optimum not provided"
  case 0x0D: return "search terminated by application"
  case 0x0E: return "relative MIP gap tolerance reached"
  case 0x0F: return "no primal/dual feasible solution"
  case 0x10: return "no convergence"
  case 0x11: return "numerical instability"
  case 0x12: return "invalid data"
  case 0x13: return "result out of range"
  default: return "unknown code"
  }
}
