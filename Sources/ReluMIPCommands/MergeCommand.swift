import ArgumentParser
import Foundation
import ReluMIP

struct MergeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "merge",
    abstract: "Combine the result files of a sharded batch run into one, checking every instance.",
    discussion: """
      Reads the result files of `relumip batch --shard K/N` (or any batch result files) and \
      writes every instance they record, once, to OUT. The expected instances are those of the \
      runs the records name (each line of a sharded run records the run's whole instance list \
      and its shard), or, with --examples and --delta, every example listed at every radius \
      (for each norm and target the files hold, or the --norm and --target given).

      The report names what is wrong, by shard, radius and example: instances that no file \
      holds (a shard with no records at all suggests its file is missing), instances that \
      several files hold (the first file's record is kept when the verdicts agree; when they \
      differ, the instance is a conflict and is left out), and instances outside the expected \
      list (kept). Within one file the last line of an instance counts, as for summarize.

      OUT is written only when every expected instance is there and no verdicts conflict \
      (with --partial, also otherwise). It is written whole or not at all, and an existing OUT \
      is never overwritten.

      Exit status: 0 every expected instance exactly once, 1 instances missing or conflicting \
      (or a file could not be read), 64 usage error.
      """
  )

  @Argument(help: ArgumentHelp("The merged result file to create.", valueName: "OUT.jsonl"))
  var out: String

  @Argument(help: ArgumentHelp("The shard result files.", valueName: "IN.jsonl"))
  var inputs: [String] = []

  // Unconditional, like batch's: a value starting with "-" reaches the message of its parser
  // (ExampleSelection, RadiusList) instead of reading as an option.
  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "The expected examples (indices and ranges, e.g. 0..99), instead of the lists the records carry.",
      valueName: "spec"),
    transform: { try ExampleSelection(parsing: $0) })
  var examples: ExampleSelection?

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "The expected radii, comma-separated (with --examples).", valueName: "d1,d2,…"),
    transform: { try RadiusList.parse($0) })
  var delta: [Double]?

  @Option(help: "The expected norm (with --examples; default: each norm the files hold).")
  var norm: PerturbationNorm?

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "The expected target choice (with --examples; default: each one the files hold).",
      valueName: "runner-up|all|LABEL"))
  var target: TargetArgument?

  @Flag(help: "Write OUT even if instances are missing or conflict (the exit status is still 1).")
  var partial = false

  func validate() throws {
    guard !inputs.isEmpty else {
      throw ValidationError("name the shard result files to merge after OUT.jsonl")
    }
    if FileManager.default.fileExists(atPath: out) {
      throw ValidationError(
        "\(out) exists: merge never overwrites a file; choose another OUT (the merged file comes first, the shard files after it)"
      )
    }
    var seen: [String: String] = [:]
    for input in inputs {
      let resolved = URL(fileURLWithPath: input).standardizedFileURL.resolvingSymlinksInPath().path
      if let earlier = seen[resolved] {
        throw ValidationError("\(input) is named twice (also as \(earlier))")
      }
      seen[resolved] = input
    }
    switch (examples, delta) {
    case (nil, nil):
      if norm != nil || target != nil {
        throw ValidationError("--norm and --target go with --examples and --delta")
      }
    case (.some(let examples), .some):
      if target != nil && norm == nil {
        throw ValidationError("--target goes with --norm (without both, those the files hold)")
      }
      if examples == .all {
        throw ValidationError(
          "--examples all cannot be resolved without the images file: list the indices, e.g. 0..9999"
        )
      }
    default:
      throw ValidationError("--examples and --delta go together: the expected instances need both")
    }
  }

  func run() throws {
    var contents: [MergeInput] = []
    for input in inputs {
      contents.append(MergeInput(path: input, contents: try ResultStore.read(path: input)))
    }
    let expectation: MergeExpectation
    if case .indices(let indices) = examples, let delta {
      let variants: [(norm: String, targetChoice: String)] =
        norm.map { [($0.rawValue, (target?.choice ?? BatchCommand.defaultTarget).description)] }
        ?? []
      expectation = .plan(BatchPlan(examples: indices, deltas: delta), variants: variants)
    } else {
      expectation = .recorded
    }
    let merge = try BatchMerge(inputs: contents, expecting: expectation)
    for line in merge.report() { print(line) }

    if merge.isComplete || partial {
      try ResultStore.create(path: out, records: merge.records)
      print(
        "wrote \(merge.records.count) instances to \(out)"
          + (merge.isComplete ? "" : " (incomplete: --partial)"))
    }
    guard merge.isComplete else {
      var problems: [String] = []
      if !merge.missing.isEmpty {
        problems.append("\(merge.missing.count) of \(merge.expectedCount) instances missing")
      }
      if !merge.conflicts.isEmpty {
        problems.append("\(merge.conflicts.count) with conflicting verdicts")
      }
      throw CommandError(
        problems.joined(separator: ", ")
          + (partial ? "" : ": \(out) not written (--partial writes what there is)"))
    }
  }
}
