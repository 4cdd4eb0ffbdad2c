import ArgumentParser
import Foundation
import ReluMIP

extension PerturbationNorm: ExpressibleByArgument {}
extension BoundMethod: ExpressibleByArgument {}
extension SearchStrategy: ExpressibleByArgument {}

/// `--target runner-up|all|LABEL`.
struct TargetArgument: ExpressibleByArgument {
  var choice: TargetChoice

  init?(argument: String) {
    switch argument.lowercased() {
    case "runner-up", "runnerup": choice = .runnerUp
    case "all", "any": choice = .all
    default:
      guard let label = Int(argument) else { return nil }
      choice = .label(label)
    }
  }

  static var defaultCompletionKind: CompletionKind { .list(["runner-up", "all"]) }
}

/// `--clip lo,hi` or `--clip none`.
struct ClipArgument: ExpressibleByArgument {
  var box: (Double, Double)?

  init?(argument: String) {
    if argument.lowercased() == "none" {
      box = nil
      return
    }
    let parts = argument.split(separator: ",").map {
      Double($0.trimmingCharacters(in: .whitespaces))
    }
    guard parts.count == 2, let lower = parts[0], let upper = parts[1], !lower.isNaN, !upper.isNaN,
      lower <= upper
    else { return nil }
    box = (lower, upper)
  }
}

/// `--label-names a,b,c`: the name of each label, in label order.
struct LabelNamesArgument: ExpressibleByArgument {
  var names: [String]

  init?(argument: String) {
    names = argument.split(separator: ",", omittingEmptySubsequences: false).map {
      $0.trimmingCharacters(in: .whitespaces)
    }
    guard !names.contains(where: \.isEmpty) else { return nil }
  }

  /// The names, once their count is known to match the network's outputs (a usage error if not:
  /// a name given to the wrong label would mislead).
  func checked(outputs: Int) throws -> [String] {
    guard names.count == outputs else {
      throw ValidationError(
        "--label-names gives \(names.count) names, but the network has \(outputs) outputs (one name per label)"
      )
    }
    return names
  }

  static let help = ArgumentHelp(
    "The labels' names in label order, comma-separated (e.g. T-shirt/top,Trouser,…), written after the label numbers on counterexample pictures.",
    valueName: "name0,name1,…")
}

/// `--mean m1,m2,m3 --std s1,s2,s3`: per-channel input normalisation put in front of a model
/// trained on normalised inputs, so that the radius and the box are in pixel units.
struct NormalizationOptions: ParsableArguments {
  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "Per-channel means: the network is given (x − mean) / std, so --delta and --clip are in pixel units. Needs --std.",
      valueName: "m1,m2,…"))
  var mean: NumberListArgument?

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp("Per-channel standard deviations (> 0), with --mean.", valueName: "s1,s2,…"))
  var std: NumberListArgument?

  func validate() throws {
    guard (mean == nil) == (std == nil) else {
      throw ValidationError("--mean and --std go together: give both or neither")
    }
    if let std, !std.values.allSatisfy({ $0 > 0 }) {
      throw ValidationError("--std values must be > 0, not \(std.values)")
    }
    if let mean, let std, mean.values.count != std.values.count {
      throw ValidationError(
        "--mean has \(mean.values.count) values and --std \(std.values.count); give one per channel"
      )
    }
  }

  /// `--mean m1,m2 --std s1,s2` as given, nil without.
  var description: String? {
    guard let mean, let std else { return nil }
    func list(_ values: [Double]) -> String { values.map { "\($0)" }.joined(separator: ",") }
    return "--mean \(list(mean.values)) --std \(list(std.values))"
  }

  /// The network with the normalisation in front, or as it is.
  func apply(to network: Network) throws -> Network {
    guard let mean, let std else { return network }
    do {
      return try network.prependingNormalization(mean: mean.values, std: std.values)
    } catch let error as NetworkError {
      throw ValidationError("\(error)")
    }
  }
}

/// A comma-separated list of finite numbers.
struct NumberListArgument: ExpressibleByArgument {
  var values: [Double]

  init?(argument: String) {
    let parsed = argument.split(separator: ",").map {
      Double($0.trimmingCharacters(in: .whitespaces))
    }
    guard !parsed.isEmpty, parsed.allSatisfy({ $0?.isFinite == true }) else { return nil }
    values = parsed.map { $0! }
  }
}

/// The options every verification command shares besides the norm and the radii: the target,
/// the box and the solver's limits.
///
/// Options whose value may start with a minus sign (a number, a box like -1,1) parse their next
/// argument unconditionally: by default `--delta -1` reads "-1" as an option and fails with
/// "missing value", and the user never sees what validation would say about a negative radius.
struct SearchOptions: ParsableArguments {
  // Optional, with the defaults in the help text: the argument types print themselves poorly as
  // default values.
  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "The wrong label to reach: runner-up (the second-highest output; verify's default), all (any other label; batch's default, since only it gives verified robust accuracy), or a label.",
      valueName: "runner-up|all|LABEL"))
  var target: TargetArgument?

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "The box intersected with the ball: lo,hi for every input (default 0,1), or none.",
      valueName: "lo,hi|none"))
  var clip: ClipArgument?

  @Option(
    parsing: .unconditional,
    help: "Wall-clock limit in seconds for each verification; past it the answer is unknown.")
  var timeLimit: Double?

  @OptionGroup var engine: EngineOptions

  /// The target given, or the command's default.
  func targetChoice(default choice: TargetChoice = .runnerUp) -> TargetChoice {
    target?.choice ?? choice
  }

  /// The box: [0, 1] unless `--clip` says otherwise; nil for `--clip none`.
  var box: (Double, Double)? {
    guard let clip else { return (0, 1) }
    return clip.box
  }

  func validate() throws {
    if let timeLimit, !(timeLimit.isFinite && timeLimit > 0) {
      throw ValidationError("--time-limit must be a positive number of seconds")
    }
  }

  func verificationOptions(verbose: Bool = false, defaultTarget: TargetChoice = .runnerUp)
    -> VerificationOptions
  {
    var options = engine.verificationOptions(verbose: verbose)
    options.target = targetChoice(default: defaultTarget)
    options.timeLimit = timeLimit
    return options
  }
}

/// How the search runs, shared by every command that verifies: the bounds, the memory limit and
/// the stages before branch-and-cut (which can be switched off to measure what each one gives).
struct EngineOptions: ParsableArguments {
  @Option(
    help:
      "How big-M bounds are computed: auto (the default: lp for a network with three or more fully connected hidden layers, unless --search milp leaves more than 300 ReLUs unstable; else symbolic), interval, symbolic (back-substitution) or lp (symbolic, then LP over the region and under each goal's objective cut; tighter, and slower on shallow networks)."
  )
  var bounds: BoundMethod = .automatic

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "The most memory GLPK's branch-and-cut tree may use per verification, in MiB; past it the answer is unknown.",
      valueName: "MiB"))
  var memoryLimit: Int = 4096

  @Flag(
    inversion: .prefixedNo,
    help: "Run the gradient attack before any LP.")
  var attack = true

  @Flag(
    inversion: .prefixedNo,
    help:
      "Walk the network's linear regions from the attack's best point and the root LP's point before tightening bounds."
  )
  var regionSearch = true

  @Option(
    name: .customLong("search"),
    help:
      "auto (input splitting for L∞ regions over at most 16 inputs; else the MILP, or relu-split once it has more than 300 binaries, or the network is fully connected with 512 hidden neurons or more, or fully connected over an L1 ball), milp (one MILP over the whole region, GLPK's branch-and-cut), split (branch and bound over the input box, L∞ only) or relu-split (branch and bound over ReLU phases with optimised bounds, an LP per fully split subproblem)."
  )
  var searchStrategy: SearchStrategy = .automatic

  @Option(
    parsing: .unconditional,
    help:
      "Threads sharing one verification's search (input boxes, ReLU-phase subproblems, the goals of a MILP, or one goal's MILP split into subtrees). Default: the active processors; in batch, the processors left to each of --jobs."
  )
  var threads: Int?

  func validate() throws {
    guard memoryLimit > 0, memoryLimit <= 1 << 30 else {
      throw ValidationError("--memory-limit must be a positive number of MiB")
    }
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
  }

  func verificationOptions(verbose: Bool) -> VerificationOptions {
    var options = VerificationOptions()
    options.boundMethod = bounds
    options.memoryLimit = memoryLimit << 20
    options.attack = attack
    options.linearRegionSearch = regionSearch
    options.searchStrategy = searchStrategy
    options.threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
    if verbose {
      options.solverOutput = { text in FileHandle.standardError.write(Data(text.utf8)) }
    }
    return options
  }
}

/// The property of `verify`: the norm and one radius, with the shared search options.
struct PropertyOptions: ParsableArguments {
  @Option(help: "The perturbation norm: l1 or linf.")
  var norm: PerturbationNorm

  @Option(parsing: .unconditional, help: "The radius of the ball around the example (≥ 0).")
  var delta: Double

  @OptionGroup var search: SearchOptions

  func validate() throws {
    guard delta.isFinite, delta >= 0 else {
      throw ValidationError("--delta must be a finite number ≥ 0, not \(delta)")
    }
  }
}

struct VerifyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "verify",
    abstract: "Search the ball around one example for an input with another label.",
    discussion: """
      Maximises output[target] − output[label] over the ball ∩ box by MILP, stopping at the first \
      re-checked counterexample or once the bound proves the maximum ≤ 0.

      Exit status: 0 robust, 10 counterexample, 20 unknown, 1 error, 64 usage error.
      """
  )

  @Argument(help: "The network: an ONNX file.")
  var model: String

  @Option(help: "The examples: a .npy, IDX (.gz or not) or CSV file with one example per row.")
  var images: String

  @Option(parsing: .unconditional, help: "The index of the example in the images file.")
  var example: Int = 0

  @OptionGroup var property: PropertyOptions

  @Flag(help: "Print one JSON object instead of the report.")
  var json = false

  @Flag(
    help:
      "Show what each stage settled (bounds, attack, walk, each goal's search) and GLPK's output on stderr."
  )
  var verbose = false

  @Flag(
    help: """
      Find the smallest distance (in --norm, up to --delta) at which the label changes, with a       proven lower bound, instead of deciding the radius --delta.
      """)
  var minimizeDistance = false

  @Flag(
    help: """
      Maximise the margin output[target] − output[label] to optimality instead of stopping at \
      the first counterexample or proof.
      """)
  var maximize = false

  func options() -> VerificationOptions {
    var options = property.search.verificationOptions(verbose: verbose)
    options.maximize = maximize
    return options
  }

  @Option(
    help: ArgumentHelp(
      "Write original | counterexample | difference as a PNG picture (image-shaped inputs, when a counterexample is found).",
      valueName: "file.png"))
  var saveImage: String?

  @Option(help: LabelNamesArgument.help)
  var labelNames: LabelNamesArgument?

  @OptionGroup var normalization: NormalizationOptions

  @Flag(
    help:
      "The examples keep each pixel's channels together (N, H, W, C), also when flattened: move them to the network's (C, H, W) order. (N, H, W, C) arrays are recognised without it."
  )
  var channelsLast = false

  func validate() throws {
    guard example >= 0 else { throw ValidationError("--example must be ≥ 0") }
    guard !(maximize && minimizeDistance) else {
      throw ValidationError(
        "--maximize and --minimize-distance answer different questions; pick one")
    }
  }

  func run() throws {
    let network = try normalization.apply(to: ModelLoader.load(path: model))
    let (examples, arrangement) = try readExamples(
      images, for: network, channelsLast: channelsLast)
    if let arrangement, verbose {
      FileHandle.standardError.write(Data("\(images): \(arrangement)\n".utf8))
    }
    let center = try examples.example(example)
    let region = try InputRegion(
      center: center, norm: property.norm, radius: property.delta, box: property.search.box)
    let verifier = try Verifier(network: network)
    _ = try verifier.targets(for: region, choice: property.search.targetChoice())
    let names = try labelNames?.checked(outputs: network.outputSize)
    if verbose {
      FileHandle.standardError.write(Data("verifying example \(example) of \(images)\n".utf8))
    }
    if minimizeDistance {
      let result = try verifier.minimizeDistortion(
        region: region, options: property.search.verificationOptions(verbose: verbose))
      let report = DistortionReport(
        model: model, example: example, norm: property.norm, result: result)
      print(json ? try report.jsonString() : report.text())
      if let saveImage {
        // The closest counterexample found: the one at the distance reported.
        try CounterexamplePictureFile.save(
          to: saveImage, center: center, counterexample: result.counterexample,
          network: verifier.network, norm: property.norm, labelNames: names)
      }
      throw ExitCode(report.exitCode)
    }
    let line = ProgressLine.make(json: json, verbose: verbose)
    let result = try verifier.verify(region: region, options: options().reporting(to: line))
    line?.clear()
    let report = VerifyReport(
      model: model, images: images, example: example, norm: property.norm, delta: property.delta,
      result: result)
    if json {
      print(try report.jsonString())
    } else {
      // A run the attack or input splitting settled built no MILP, and its table would be
      // empty; the bounds a MILP would start from still show the layers and how many of their
      // neurons the region leaves unstable, i.e. how hard a proof would be. Interval or symbolic
      // bounds (never LP tightening, which costs seconds), for milliseconds after the verdict.
      var layersFromBounds: (rows: [LayerStatistics], method: BoundMethod)?
      if result.statistics.isEmpty {
        let method: BoundMethod = property.search.engine.bounds == .interval ? .interval : .symbolic
        layersFromBounds = (
          try verifier.layerStatistics(region: region, boundMethod: method), method
        )
      }
      print(
        HumanReport.render(
          report: report, network: verifier.network, center: center,
          imageShape: network.inputShape, layersFromBounds: layersFromBounds))
    }
    if let saveImage {
      try CounterexamplePictureFile.save(
        to: saveImage, center: center, counterexample: result.counterexample,
        network: verifier.network,
        norm: property.norm, labelNames: names)
    }
    throw ExitCode(report.exitCode)
  }
}
