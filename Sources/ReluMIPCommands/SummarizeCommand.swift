import ArgumentParser
import Foundation
import ReluMIP

struct SummarizeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "summarize",
    abstract: "Tabulate a batch result file: verdicts, robust accuracy and times per radius.",
    discussion: """
      One row per norm, target choice and radius; each instance counted once (if a file holds \
      several lines for one instance, the last counts).

      robust share = robust / instances: misclassified examples, counterexamples, unknowns and \
      errors all count as not robust. With target all it is the verified robust accuracy; with \
      runner-up or one label it is not (robust against one label says nothing about a third), \
      and the verified-accuracy column stays empty. upper bound = 1 - (counterexample + \
      misclassified) / instances: only those are known not to be robust, so the true robust \
      accuracy lies between the two. Times (seconds) are over the verified instances (robust, \
      counterexample, unknown): median, 90th percentile (nearest rank) and maximum.
      """
  )

  @Argument(help: ArgumentHelp("The result file of `relumip batch`.", valueName: "results.jsonl"))
  var file: String

  @Option(
    help: ArgumentHelp(
      "Also write the table as CSV to this file ('-' for stdout).", valueName: "file"))
  var csv: String?

  func run() throws {
    let contents = try ResultStore.read(path: file)
    let summary = BatchSummary(contents: contents)
    if let torn = contents.tornLine {
      warn("\(file): line \(torn.number) is torn (\(torn.problem)); ignored")
    }
    if summary.duplicates > 0 {
      warn(
        "\(file): \(summary.duplicates) lines repeat an earlier instance; the last of each counts")
    }
    if summary.models.count > 1 {
      warn("\(file) mixes results of several models: \(summary.models.joined(separator: ", "))")
    }
    print(Self.render(summary, file: file))
    if let csv {
      if csv == "-" {
        print(summary.csv(), terminator: "")
      } else {
        try AtomicFile.write(Data(summary.csv().utf8), to: csv)
      }
    }
  }

  static func render(_ summary: BatchSummary, file: String) -> String {
    let instances = summary.rows.reduce(0) { $0 + $1.instances }
    var lines = [
      "\(file): \(instances) instances"
        + (summary.models.count == 1 ? " of \(summary.models[0])" : ""),
      "",
    ]
    guard !summary.rows.isEmpty else { return (lines + ["No results."]).joined(separator: "\n") }
    let header = [
      "norm", "target", "delta", "instances", "robust", "cex", "unknown", "error", "misclass",
      "robust share", "verified acc", "upper bound", "median s", "p90 s", "max s",
    ]
    let cells = summary.cells(
      accuracy: { String(format: "%.1f%%", $0 * 100) },
      time: { $0.map(HumanReport.format) ?? "-" }
    ).map { row in row.map { $0.isEmpty ? "-" : $0 } }
    lines.append(HumanReport.table([header] + cells.dropFirst()))
    lines.append("")
    lines.append(
      "robust share = robust / instances, the verified robust accuracy (verified acc) only with"
        + " target all; upper bound = 1 - (cex + misclass) / instances; times over verified"
        + " instances")
    let partial = Set(summary.rows.filter { $0.verifiedRobustAccuracy == nil }.map(\.targetChoice))
    if !partial.isEmpty {
      lines.append(
        "target \(partial.sorted().joined(separator: ", ")): robust against that label only,"
          + " not verified robust accuracy (a third label may still win); run with --target all")
    }
    return lines.joined(separator: "\n")
  }
}
