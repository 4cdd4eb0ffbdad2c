import Foundation

/// One instance of a batch run: an example and a radius (the norm and target are the run's).
public struct BatchInstance: Sendable, Hashable {
  public var example: Int
  public var delta: Double

  public init(example: Int, delta: Double) {
    self.example = example
    self.delta = delta
  }
}

/// The settings shared by every instance of a batch run.
public struct BatchConfiguration: Sendable {
  /// The model and images files as the user named them (recorded in every line).
  public var model: String
  public var images: String
  public var norm: PerturbationNorm
  /// The box intersected with each ball, or nil for none.
  public var box: (lower: Double, upper: Double)? = (0, 1)
  /// The verification options (target choice, per-instance time limit, bound method).
  public var options = VerificationOptions()
  /// The true label of every example of the images file, if known: examples the network
  /// misclassifies are recorded as `misclassified` and not verified.
  public var trueLabels: [Int]?
  /// Where to write a PNG picture of each counterexample, and the examples' image size.
  public var pictureDirectory: String?
  public var imageSize: (height: Int, width: Int)?
  /// 1 for grey pictures, 3 for colour (the values in C, H, W order).
  public var imageChannels = 1
  /// The name of each label, for the pictures' captions.
  public var labelNames: [String]?
  /// The shard this run is, recorded on every line (`batch --shard`).
  public var shard: BatchShardSpec?

  /// `--mean … --std …` when a normalisation was put in front of the model, for the records.
  public var normalization: String?

  public init(model: String, images: String, norm: PerturbationNorm) {
    self.model = model
    self.images = images
    self.norm = norm
  }

  /// The `--clip` text of the box.
  package var clipDescription: String {
    box.map { "\($0.lower),\($0.upper)" } ?? "none"
  }

  public func key(_ instance: BatchInstance) -> BatchKey {
    BatchKey(
      example: instance.example, norm: norm.rawValue, delta: instance.delta,
      targetChoice: options.target.description)
  }
}

/// Runs batch instances on a fixed pool of worker threads.
///
/// GLPK keeps its state per thread, and `Verifier.verify` creates, solves and frees its problems
/// synchronously, so each instance runs from start to end on one worker thread (no Swift
/// concurrency suspension points in between). Each finished instance is appended to the store at
/// once; an instance that throws becomes an `error` record and the run goes on.
public final class BatchRunner: Sendable {
  public let verifier: Verifier
  public let examples: ExampleSet
  public let configuration: BatchConfiguration

  public init(network: Network, examples: ExampleSet, configuration: BatchConfiguration) throws {
    self.verifier = try Verifier(network: network)
    self.examples = examples
    self.configuration = configuration
  }

  /// The instances of a run: each example at each radius, example by example.
  public static func plan(examples: [Int], deltas: [Double]) -> [BatchInstance] {
    examples.flatMap { example in deltas.map { BatchInstance(example: example, delta: $0) } }
  }

  /// Runs one instance on the calling thread and returns its record; never throws (a failure is
  /// an `error` record).
  public func record(for instance: BatchInstance) -> BatchRecord {
    let key = configuration.key(instance)
    var record = BatchRecord(
      key: key, result: .error, model: configuration.model, images: configuration.images)
    record.clip = configuration.clipDescription
    record.boundMethod = configuration.options.boundMethod.rawValue
    record.normalization = configuration.normalization
    record.timeLimitS = configuration.options.timeLimit
    record.shard = configuration.shard
    let start = ContinuousClock.now
    do {
      let center = try examples.example(instance.example)
      let region: InputRegion
      if let box = configuration.box {
        region = try InputRegion(
          center: center, norm: configuration.norm, radius: instance.delta,
          box: (box.lower, box.upper))
      } else {
        region = try InputRegion(
          center: center, norm: configuration.norm, radius: instance.delta, box: nil)
      }
      if let trueLabels = configuration.trueLabels {
        guard instance.example < trueLabels.count else {
          throw BatchSpecError(
            "the labels file holds \(trueLabels.count) labels, none for example \(instance.example)"
          )
        }
        let trueLabel = trueLabels[instance.example]
        record.trueLabel = trueLabel
        let predicted = verifier.labels(at: center).label
        if predicted != trueLabel {
          record.result = .misclassified
          record.label = predicted
          record.reason =
            "the network labels the example \(predicted), its true label is \(trueLabel)"
          return record
        }
      }
      let result = try verifier.verify(region: region, options: configuration.options)
      record.fill(from: result)
      if let counterexample = result.counterexample, let directory = configuration.pictureDirectory,
        let size = configuration.imageSize
      {
        let path = (directory as NSString).appendingPathComponent(Self.pictureName(key))
        do {
          let caption = CounterexamplePicture.Caption(
            center: center, counterexample: counterexample, network: verifier.network,
            norm: configuration.norm, labelNames: configuration.labelNames)
          try CounterexamplePicture.make(
            original: center, counterexample: counterexample.input, height: size.height,
            width: size.width, channels: configuration.imageChannels, caption: caption
          ).write(to: path)
          record.image = path
        } catch {
          record.imageError = "\(error)"
        }
      }
    } catch {
      record.result = .error
      record.reason = "\(error)"
      record.timeS = seconds(ContinuousClock.now - start)
    }
    return record
  }

  /// The file name of an instance's counterexample picture, e.g. `example-26_l1_delta-5.0.png`
  /// for batch's default target `all`, `…_target-runner-up.png` for another.
  package static func pictureName(_ key: BatchKey) -> String {
    let target =
      key.targetChoice == TargetChoice.all.description ? "" : "_target-\(key.targetChoice)"
    return "example-\(key.example)_\(key.norm)_delta-\(key.delta)\(target).png"
  }

  /// Runs `instances` on `jobs` worker threads, appending each record to `store` as it finishes
  /// and then passing it to `onRecord` (called on the worker thread). Returns once all are done;
  /// throws if the store could not be written (the workers stop at their next instance).
  public func run(
    _ instances: [BatchInstance], jobs: Int, store: ResultStore,
    onRecord: @escaping @Sendable (BatchRecord) -> Void = { _ in }
  ) throws {
    let queue = WorkQueue(instances)
    let workers = max(1, min(jobs, instances.count))
    let finished = DispatchGroup()
    for index in 0..<workers {
      finished.enter()
      let thread = Thread { [self] in
        defer { finished.leave() }
        while let instance = queue.next() {
          let record = record(for: instance)
          do {
            try store.append(record)
          } catch {
            queue.fail(error)
            return
          }
          onRecord(record)
        }
      }
      thread.name = "relumip-batch-\(index)"
      // GLPK's branch-and-cut and the bound computations run here; give them the main thread's
      // usual stack.
      thread.stackSize = 8 << 20
      thread.start()
    }
    finished.wait()
    if let error = queue.failure { throw error }
  }
}

/// The instances not yet taken, handed out one at a time under a lock.
private final class WorkQueue: @unchecked Sendable {
  private let lock = NSLock()
  private let instances: [BatchInstance]
  private var nextIndex = 0
  private var error: Error?

  init(_ instances: [BatchInstance]) { self.instances = instances }

  func next() -> BatchInstance? {
    lock.withLock {
      guard error == nil, nextIndex < instances.count else { return nil }
      defer { nextIndex += 1 }
      return instances[nextIndex]
    }
  }

  func fail(_ error: Error) {
    lock.withLock { if self.error == nil { self.error = error } }
  }

  var failure: Error? { lock.withLock { error } }
}
