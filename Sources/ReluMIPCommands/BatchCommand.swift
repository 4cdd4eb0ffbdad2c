import ArgumentParser
import Foundation
import ReluMIP

/// The property options of `batch`: those of `verify` with a list of radii instead of one.
struct BatchPropertyOptions: ParsableArguments {
  @Option(help: "The perturbation norm: l1 or linf.")
  var norm: PerturbationNorm

  // Unconditional: so that a negative radius reaches RadiusList's message (see SearchOptions).
  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "The radii, comma-separated (each finite and ≥ 0): every example is verified at each.",
      valueName: "d1,d2,…"),
    transform: { try RadiusList.parse($0) })
  var delta: [Double]

  @OptionGroup var search: SearchOptions
}

struct BatchCommand: ParsableCommand {
  /// `all`, unlike `verify`: only robustness against every other label is verified robust
  /// accuracy, which is what a batch over a test set reports. On the seed network's 80 benchmark
  /// instances it cost 3.4 times the runner-up's time (84 s against 25 s, same verdicts).
  static let defaultTarget = TargetChoice.all

  static let configuration = CommandConfiguration(
    commandName: "batch",
    abstract: "Verify many examples at several radii, in parallel, into a resumable result file.",
    discussion: """
      Every selected example is verified at every radius (an instance per example and radius). \
      Each finished instance is appended to the --out file as one line of JSON (JSON Lines) and \
      flushed to disk: the fields of `verify --json` plus example, norm, delta, target_choice, \
      model, images and the counterexample input. An instance that fails is recorded with result \
      "error" and its message in "reason", and the run goes on. With --labels, an example the \
      network misclassifies is recorded as "misclassified" and not verified.

      An existing non-empty --out file is never overwritten: --resume continues it, skipping the \
      instances it records (example, norm, delta, target) and redoing a torn last line left by a \
      crash; new radii can be added to a finished run the same way. `relumip summarize` tabulates \
      the file.

      --shard K/N runs only the K-th of N slices of the instances (K from 1 to N), so that N \
      processes, e.g. the tasks of a Slurm job array, share a run, each with its own --out file. \
      The instances, by radius and then by example, are dealt round-robin to the N shards, so \
      every instance is in exactly one shard and the shards differ in size by at most one \
      instance, also at each radius. Each line records its shard and the run's whole instance \
      list; `relumip merge` combines the shard files and reports missing and duplicate \
      instances. A shard's file is resumed with the same --shard, --examples and --delta.

      Exit status: 0 every instance has a result (robust, counterexample, unknown or \
      misclassified), 1 some instances errored (or the run could not start), 64 usage error.
      """
  )

  @Argument(help: "The network: an ONNX file.")
  var model: String

  @Option(help: "The examples: a .npy, IDX (.gz or not) or CSV file with one example per row.")
  var images: String

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "The examples to verify: indices and inclusive ranges, e.g. 0..99 (0 to 99, both included), 0,5,7 or 0..4,9; or all.",
      valueName: "spec"),
    transform: { try ExampleSelection(parsing: $0) })
  var examples: ExampleSelection

  @OptionGroup var property: BatchPropertyOptions

  @OptionGroup var normalization: NormalizationOptions

  @Flag(
    help:
      "The examples keep each pixel's channels together (N, H, W, C), also when flattened: move them to the network's (C, H, W) order. (N, H, W, C) arrays are recognised without it."
  )
  var channelsLast = false

  @Option(help: ArgumentHelp("The result file (JSON Lines).", valueName: "results.jsonl"))
  var out: String

  @Option(
    help: ArgumentHelp(
      "The examples' true labels (.npy, IDX or CSV, one per example): misclassified examples are recorded, not verified.",
      valueName: "file"))
  var labels: String?

  @Option(
    parsing: .unconditional,
    help:
      "Worker threads, each verifying one instance at a time (default: the active processors divided by --threads)."
  )
  var jobs: Int?

  @Flag(help: "Continue the run recorded in --out: skip its instances, redo a torn last line.")
  var resume = false

  @Option(
    help: ArgumentHelp(
      "Run only the K-th of N disjoint slices of the instances (1 ≤ K ≤ N), e.g. 2/8; see below.",
      valueName: "K/N"),
    transform: { try BatchShard(parsing: $0) })
  var shard: BatchShard?

  @Flag(help: "No progress output.")
  var quiet = false

  @Option(
    help: ArgumentHelp(
      "Write a PNG picture (original | counterexample | difference) of each counterexample into this folder.",
      valueName: "dir"))
  var imagesDir: String?

  @Option(help: LabelNamesArgument.help)
  var labelNames: LabelNamesArgument?

  func validate() throws {
    if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    let cores = ProcessInfo.processInfo.activeProcessorCount
    if let jobs, let threads = property.search.engine.threads, jobs * threads > cores {
      throw ValidationError(
        "--jobs \(jobs) × --threads \(threads) would run \(jobs * threads) threads on \(cores) processors: lower one of them"
      )
    }
    if !resume, let size = try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int,
      size > 0
    {
      throw ValidationError(
        "\(out) exists and is not empty: pass --resume to continue the run it holds, or choose another --out"
      )
    }
  }

  /// Jobs and threads per job: what was given, the rest from the active processors.
  private var jobCount: Int {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    return jobs ?? max(1, cores / (property.search.engine.threads ?? 1))
  }
  private var threadsPerJob: Int {
    property.search.engine.threads
      ?? max(1, ProcessInfo.processInfo.activeProcessorCount / jobCount)
  }

  func run() throws {
    let network = try normalization.apply(to: ModelLoader.load(path: model))
    let (exampleSet, arrangement) = try readExamples(
      images, for: network, channelsLast: channelsLast)
    if let arrangement, !quiet { note("\(images): \(arrangement)") }
    guard exampleSet.exampleSize == network.inputSize else {
      throw CommandError(
        "\(images): each example has \(exampleSet.exampleSize) values but the network takes \(network.inputSize) inputs"
      )
    }
    let selected = try examples.resolve(count: exampleSet.count)
    if case .label(let label) = property.search.targetChoice(default: Self.defaultTarget),
      !(0..<network.outputSize).contains(label)
    {
      throw PropertyError.unknownLabel(label, outputs: network.outputSize)
    }

    var configuration = BatchConfiguration(model: model, images: images, norm: property.norm)
    configuration.normalization = normalization.description
    configuration.labelNames = try labelNames?.checked(outputs: network.outputSize)
    configuration.box = property.search.box.map { (lower: $0.0, upper: $0.1) }
    configuration.options = property.search.verificationOptions(defaultTarget: Self.defaultTarget)
    // Every job's search gets its share of the processors, so that jobs × threads never exceeds
    // them.
    configuration.options.threads = threadsPerJob
    if let labels {
      let trueLabels = try ExampleReader.read(path: labels).labels()
      if let beyond = selected.first(where: { $0 >= trueLabels.count }) {
        throw CommandError(
          "\(labels) holds \(trueLabels.count) labels, none for example \(beyond)")
      }
      configuration.trueLabels = trueLabels
    }
    if let imagesDir {
      if let image = HumanReport.imageGeometry(network.inputShape, count: network.inputSize) {
        try FileManager.default.createDirectory(
          atPath: imagesDir, withIntermediateDirectories: true)
        configuration.pictureDirectory = imagesDir
        configuration.imageSize = (image.height, image.width)
        configuration.imageChannels = image.channels
      } else {
        warn("the inputs are not image-shaped (\(network.inputShape)): --images-dir is ignored")
      }
    }

    var plan = BatchRunner.plan(examples: selected, deltas: property.delta)
    if let shard {
      let whole = BatchPlan(examples: selected, deltas: property.delta)
      let mine = Set(whole.instances(in: shard))
      plan = plan.filter { mine.contains($0) }
      configuration.shard = BatchShardSpec(shard: shard, plan: whole)
      if plan.isEmpty {
        warn("shard \(shard) has no instances: the run has only \(whole.count)")
      }
    }

    // Before the result file is opened, so that a network that cannot be encoded leaves none.
    let runner = try BatchRunner(
      network: network, examples: exampleSet, configuration: configuration)
    let store = try ResultStore(path: out, resume: resume)
    defer { store.close() }
    try checkCompatible(store.existing.records, with: configuration)
    if let torn = store.existing.tornLine {
      warn(
        "\(out): line \(torn.number) was torn (\(torn.problem)); cut off, its instance is redone")
    }

    let recorded = Dictionary(
      store.existing.records.map { ($0.key, $0) }, uniquingKeysWith: { _, last in last })
    let todo = plan.filter { recorded[configuration.key($0)] == nil }
    let earlierErrors = plan.filter { recorded[configuration.key($0)]?.result == .error }.count
    if resume && !quiet {
      note(
        "\(out): \(plan.count - todo.count) of \(plan.count) instances already recorded, \(todo.count) to do"
      )
    }

    let workers = jobCount
    let progress = ProgressPrinter(total: todo.count, quiet: quiet)
    do {
      defer { progress.finish() }
      try runner.run(todo, jobs: workers, store: store) { record in
        progress.add(record)
      }
    }

    let failures = progress.errors + earlierErrors
    let imageFailures = progress.imageErrors
    if !quiet {
      note("results in \(out); tabulate them with: relumip summarize \(out)")
    }
    if imageFailures > 0 {
      warn(
        "\(imageFailures) counterexample pictures could not be written (see image_error in \(out))")
    }
    if failures > 0 {
      warn(
        "\(failures) of \(plan.count) instances failed (result \"error\", the message in \"reason\")"
      )
    }
    if failures > 0 || imageFailures > 0 { throw ExitCode.failure }
  }

  /// A resumed file must come from the same kind of run: the same model and images files (by
  /// name) and the same box and bound method, or its results would be mixed with others.
  private func checkCompatible(_ records: [BatchRecord], with configuration: BatchConfiguration)
    throws
  {
    func name(_ path: String) -> String { (path as NSString).lastPathComponent }
    for record in records {
      var differences: [String] = []
      if name(record.model) != name(model) { differences.append("model \(record.model)") }
      if name(record.images) != name(images) { differences.append("images \(record.images)") }
      if let clip = record.clip, clip != configuration.clipDescription {
        differences.append("--clip \(clip)")
      }
      if let method = record.boundMethod, method != configuration.options.boundMethod.rawValue {
        differences.append("--bounds \(method)")
      }
      if record.normalization != configuration.normalization {
        differences.append(record.normalization ?? "no --mean/--std")
      }
      if !differences.isEmpty {
        throw ValidationError(
          "\(out) holds results of another run (\(differences.joined(separator: ", "))): resume it with the same settings, or choose another --out"
        )
      }
    }
    try checkShard(records, with: configuration)
  }

  /// A shard's file holds that shard's instances only: it is resumed with the same --shard,
  /// --examples, --delta, --norm and --target (another slicing would run instances of other
  /// shards into it); and without --shard, a file of one shard of several is not resumed.
  private func checkShard(_ records: [BatchRecord], with configuration: BatchConfiguration)
    throws
  {
    if let spec = configuration.shard {
      let norm = configuration.norm.rawValue
      let target = configuration.options.target.description
      guard
        let other = records.first(where: {
          $0.shard != spec || $0.norm != norm || $0.targetChoice != target
        })
      else { return }
      let holds =
        other.shard.map { "\(other.norm), target \(other.targetChoice), \($0)" }
        ?? "results of a run without --shard (\(other.key))"
      throw ValidationError(
        "\(out) holds \(holds), but this run is \(norm), target \(target), \(spec): resume a shard's file with the same --shard, --examples, --delta, --norm and --target, or choose another --out"
      )
    }
    let specs = Set(records.map(\.shard))
    if specs.count == 1, let only = specs.first, let spec = only, spec.count > 1 {
      throw ValidationError(
        "\(out) holds \(spec): resume it with --shard \(spec.index)/\(spec.count) and the same --examples and --delta"
      )
    }
  }
}

/// A failure of a whole command (exit status 1), with its message.
struct CommandError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}

/// The examples of `path` in the network's order (`ExampleSet.channelsFirst`), errors naming
/// the file.
func readExamples(_ path: String, for network: Network, channelsLast: Bool) throws -> (
  ExampleSet, String?
) {
  let examples = try ExampleReader.read(path: path)
  do {
    return try examples.channelsFirst(for: network.inputShape, channelsLast: channelsLast)
  } catch let error as InputFileError {
    throw InputFileError.inFile(path, error)
  }
}

func warn(_ message: String) {
  FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
}

func note(_ message: String) {
  FileHandle.standardError.write(Data("\(message)\n".utf8))
}

/// Progress on stderr: a line rewritten in place when stderr is a terminal, plain lines every
/// 10 seconds or 10 % otherwise, nothing when quiet. Called from the worker threads.
final class ProgressPrinter: @unchecked Sendable {
  private let lock = NSLock()
  private var progress: BatchProgress
  private let quiet: Bool
  private let isTerminal = isatty(STDERR_FILENO) == 1
  private let start = ContinuousClock.now
  private var lastPrint = ContinuousClock.now
  private var lastTenth = 0
  private(set) var errors = 0
  private(set) var imageErrors = 0

  private var finished = false

  init(total: Int, quiet: Bool) {
    progress = BatchProgress(total: total)
    self.quiet = quiet
    guard isTerminal && !quiet && total > 0 else { return }
    // Refresh the live line every second, so that a long instance does not look like a hang.
    Thread { [self] in
      while true {
        Thread.sleep(forTimeInterval: 1)
        let stop = lock.withLock { () -> Bool in
          guard !finished else { return true }
          write("\r\(progress.line(elapsed: elapsed))\u{1B}[K")
          return false
        }
        if stop { return }
      }
    }.start()
  }

  private var elapsed: Double {
    let (whole, fraction) = (ContinuousClock.now - start).components
    return Double(whole) + Double(fraction) * 1e-18
  }

  func add(_ record: BatchRecord) {
    lock.withLock {
      progress.add(record.result)
      if record.result == .error { errors += 1 }
      if record.imageError != nil { imageErrors += 1 }
      guard !quiet else { return }
      let now = ContinuousClock.now
      if isTerminal {
        // The final line is finish()'s.
        if now - lastPrint >= .milliseconds(200) && progress.done < progress.total {
          lastPrint = now
          write("\r\(progress.line(elapsed: elapsed))\u{1B}[K")
        }
      } else {
        let tenth = progress.total > 0 ? progress.done * 10 / progress.total : 10
        if tenth > lastTenth || now - lastPrint >= .seconds(10) {
          lastTenth = tenth
          lastPrint = now
          write("\(progress.line(elapsed: elapsed))\n")
        }
      }
    }
  }

  func finish() {
    lock.withLock {
      finished = true
      guard !quiet, progress.total > 0 else { return }
      if isTerminal {
        write("\r\(progress.line(elapsed: elapsed))\u{1B}[K\n")
      } else if progress.done == 0 || lastTenth < 10 {
        write("\(progress.line(elapsed: elapsed))\n")
      }
    }
  }

  private func write(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
  }
}

/// The picture file of `verify --save-image`.
enum CounterexamplePictureFile {
  /// Writes original | counterexample | difference, captioned, to `path`; without a
  /// counterexample, says so on stderr and writes nothing. Throws if the input is not
  /// image-shaped or the write fails.
  static func save(
    to path: String, center: [Double], counterexample: Counterexample?, network: Network,
    norm: PerturbationNorm, labelNames: [String]?
  ) throws {
    guard let counterexample else {
      note("no counterexample, so no picture: \(path) not written")
      return
    }
    guard
      let (channels, height, width) = HumanReport.imageGeometry(
        network.inputShape, count: center.count)
    else {
      throw PNGError.notImageShaped(count: center.count)
    }
    let caption = CounterexamplePicture.Caption(
      center: center, counterexample: counterexample, network: network, norm: norm,
      labelNames: labelNames)
    try CounterexamplePicture.make(
      original: center, counterexample: counterexample.input, height: height, width: width,
      channels: channels, caption: caption
    ).write(to: path)
  }
}
