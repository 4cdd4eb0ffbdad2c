import ArgumentParser
import ReluMIP

/// Exit statuses of `relumip verify` (and every command that answers a verification question).
public enum VerificationExitCode {
  public static let robust: Int32 = 0
  public static let counterexample: Int32 = 10
  public static let unknown: Int32 = 20
  public static let error: Int32 = 1
  public static let usage: Int32 = 64

  static func of(_ verdict: Verdict) -> Int32 {
    switch verdict {
    case .robust: return robust
    case .counterexample: return counterexample
    case .unknown: return unknown
    }
  }
}

public struct ReluMIPCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "relumip",
    abstract: "Find adversarial examples for ReLU networks, or prove none exist, by MILP on GLPK.",
    discussion: """
      Exit status of verify: 0 robust, 10 counterexample found, 20 unknown (time limit or \
      numerical trouble), 1 error (bad model or input file), 64 usage error. Exit status of \
      batch: 0 every instance has a result, 1 some instances errored, 64 usage error. Exit \
      status of merge: 0 every expected instance exactly once, 1 instances missing or \
      conflicting, 64 usage error.
      """,
    version: "0.1.0",
    subcommands: [
      VerifyCommand.self, VNNLibCommand.self, BatchCommand.self, MergeCommand.self,
      SummarizeCommand.self,
      InfoCommand.self,
    ]
  )

  public init() {}
}
