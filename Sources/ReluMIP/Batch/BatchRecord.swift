import Foundation

/// What identifies one instance of a batch run: the example, the norm, the radius and the target
/// choice. A result file holds one line per key (a resumed run skips the keys it finds).
public struct BatchKey: Hashable, Sendable, Comparable, CustomStringConvertible {
  public var example: Int
  /// `l1` or `linf`.
  public var norm: String
  public var delta: Double
  /// `runner-up`, `all` or a label, as `--target` takes it.
  public var targetChoice: String

  public init(example: Int, norm: String, delta: Double, targetChoice: String) {
    self.example = example
    self.norm = norm
    self.delta = delta
    self.targetChoice = targetChoice
  }

  public static func < (a: BatchKey, b: BatchKey) -> Bool {
    (a.norm, a.targetChoice, a.delta, a.example) < (b.norm, b.targetChoice, b.delta, b.example)
  }

  public var description: String {
    "example \(example), \(norm) delta \(delta), target \(targetChoice)"
  }
}

/// The outcome of one instance as a result file records it: the three verdicts of `verify`, plus
/// `error` (the instance could not be run; `reason` holds the message) and `misclassified` (the
/// network gets the example's true label wrong, so it was not verified).
public enum BatchOutcome: String, Sendable, Codable, CaseIterable {
  case robust
  case counterexample
  case unknown
  case error
  case misclassified

  public init(_ verdict: Verdict) {
    switch verdict {
    case .robust: self = .robust
    case .counterexample: self = .counterexample
    case .unknown: self = .unknown
    }
  }
}

/// One line of a batch result file (JSON Lines): every field of `relumip verify --json`, the
/// instance's key, and the settings the instance ran with.
public struct BatchRecord: Sendable, Equatable, Codable {
  public var example: Int
  public var norm: String
  public var delta: Double
  public var targetChoice: String
  public var result: BatchOutcome

  /// The network's label at the example (nil only if the instance failed before computing it).
  public var label: Int?
  /// The true label from `--labels`, when given.
  public var trueLabel: Int?
  public var target: Int?
  public var targetsSearched: [Int]?
  public var predictedLabel: Int?
  public var objective: Double?
  public var bound: Double?
  public var distance: Double?
  public var counterexample: [Double]?
  public var counterexampleOutputs: [Double]?
  public var timeS: Double?
  public var boundsTimeS: Double?
  public var solveTimeS: Double?
  public var nodes: Int?
  public var binaries: Int?
  public var settledBy: String?
  public var layers: [LayerStatistics]?
  /// Why the result is unknown, the error message, or why the example was not verified.
  public var reason: String?

  public var model: String
  public var images: String
  /// `lo,hi` or `none`, as `--clip` takes it.
  public var clip: String?
  public var boundMethod: String?
  /// `--mean … --std …` as given, when the run put a normalisation in front of the model.
  public var normalization: String?
  public var timeLimitS: Double?
  /// The PNG picture of the counterexample, when one was written.
  public var image: String?
  /// Why the picture could not be written.
  public var imageError: String?
  /// The shard that ran the instance and the instance list of its run (`batch --shard`).
  public var shard: BatchShardSpec?

  public init(key: BatchKey, result: BatchOutcome, model: String, images: String) {
    example = key.example
    norm = key.norm
    delta = key.delta
    targetChoice = key.targetChoice
    self.result = result
    self.model = model
    self.images = images
  }

  public var key: BatchKey {
    BatchKey(example: example, norm: norm, delta: delta, targetChoice: targetChoice)
  }

  /// Fills the fields `verify --json` reports from a verification result.
  package mutating func fill(from verification: VerificationResult) {
    func finite(_ value: Double?) -> Double? { value.flatMap { $0.isFinite ? $0 : nil } }
    result = BatchOutcome(verification.verdict)
    label = verification.label
    target = verification.target
    targetsSearched = verification.targetsSearched
    predictedLabel = verification.counterexample?.predictedLabel
    objective = finite(verification.objective)
    bound = finite(verification.bound)
    distance = verification.counterexample?.distance
    counterexample = verification.counterexample?.input
    counterexampleOutputs = verification.counterexample?.outputs
    timeS = verification.timings.total
    boundsTimeS = verification.timings.bounds
    solveTimeS = verification.timings.solve
    nodes = verification.nodes
    binaries = verification.binaries
    settledBy = verification.settledBy.rawValue
    layers = verification.statistics
    reason = verification.reason
  }

  // The keys of `verify --json` (snake case), then the batch's own.
  enum CodingKeys: String, CodingKey {
    case example, norm, delta
    case targetChoice = "target_choice"
    case result, label
    case trueLabel = "true_label"
    case target
    case targetsSearched = "targets_searched"
    case predictedLabel = "predicted_label"
    case objective, bound, distance
    case timeS = "time_s"
    case boundsTimeS = "bounds_time_s"
    case solveTimeS = "solve_time_s"
    case nodes, binaries
    case settledBy = "settled_by"
    case reason, model, images, clip
    case boundMethod = "bound_method"
    case normalization
    case timeLimitS = "time_limit_s"
    case image
    case imageError = "image_error"
    case shard
    case layers
    case counterexampleOutputs = "counterexample_outputs"
    case counterexample
  }

  public func encode(to encoder: Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(example, forKey: .example)
    try container.encode(norm, forKey: .norm)
    try container.encode(delta, forKey: .delta)
    try container.encode(targetChoice, forKey: .targetChoice)
    try container.encode(result, forKey: .result)
    try container.encode(label, forKey: .label)
    try container.encodeIfPresent(trueLabel, forKey: .trueLabel)
    try container.encode(target, forKey: .target)
    try container.encode(targetsSearched, forKey: .targetsSearched)
    try container.encode(predictedLabel, forKey: .predictedLabel)
    try container.encode(objective, forKey: .objective)
    try container.encode(bound, forKey: .bound)
    try container.encode(distance, forKey: .distance)
    try container.encode(timeS, forKey: .timeS)
    try container.encode(boundsTimeS, forKey: .boundsTimeS)
    try container.encode(solveTimeS, forKey: .solveTimeS)
    try container.encode(nodes, forKey: .nodes)
    try container.encode(binaries, forKey: .binaries)
    try container.encode(settledBy, forKey: .settledBy)
    try container.encode(reason, forKey: .reason)
    try container.encode(model, forKey: .model)
    try container.encode(images, forKey: .images)
    try container.encodeIfPresent(clip, forKey: .clip)
    try container.encodeIfPresent(boundMethod, forKey: .boundMethod)
    try container.encodeIfPresent(normalization, forKey: .normalization)
    try container.encodeIfPresent(timeLimitS, forKey: .timeLimitS)
    try container.encodeIfPresent(image, forKey: .image)
    try container.encodeIfPresent(imageError, forKey: .imageError)
    try container.encodeIfPresent(shard, forKey: .shard)
    try container.encode(layers, forKey: .layers)
    try container.encode(counterexampleOutputs, forKey: .counterexampleOutputs)
    try container.encode(counterexample, forKey: .counterexample)
  }

  public init(from decoder: Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    example = try container.decode(Int.self, forKey: .example)
    norm = try container.decode(String.self, forKey: .norm)
    delta = try container.decode(Double.self, forKey: .delta)
    targetChoice = try container.decode(String.self, forKey: .targetChoice)
    result = try container.decode(BatchOutcome.self, forKey: .result)
    label = try container.decodeIfPresent(Int.self, forKey: .label)
    trueLabel = try container.decodeIfPresent(Int.self, forKey: .trueLabel)
    target = try container.decodeIfPresent(Int.self, forKey: .target)
    targetsSearched = try container.decodeIfPresent([Int].self, forKey: .targetsSearched)
    predictedLabel = try container.decodeIfPresent(Int.self, forKey: .predictedLabel)
    objective = try container.decodeIfPresent(Double.self, forKey: .objective)
    bound = try container.decodeIfPresent(Double.self, forKey: .bound)
    distance = try container.decodeIfPresent(Double.self, forKey: .distance)
    counterexample = try container.decodeIfPresent([Double].self, forKey: .counterexample)
    counterexampleOutputs = try container.decodeIfPresent(
      [Double].self, forKey: .counterexampleOutputs)
    timeS = try container.decodeIfPresent(Double.self, forKey: .timeS)
    boundsTimeS = try container.decodeIfPresent(Double.self, forKey: .boundsTimeS)
    solveTimeS = try container.decodeIfPresent(Double.self, forKey: .solveTimeS)
    nodes = try container.decodeIfPresent(Int.self, forKey: .nodes)
    binaries = try container.decodeIfPresent(Int.self, forKey: .binaries)
    settledBy = try container.decodeIfPresent(String.self, forKey: .settledBy)
    reason = try container.decodeIfPresent(String.self, forKey: .reason)
    model = try container.decodeIfPresent(String.self, forKey: .model) ?? ""
    images = try container.decodeIfPresent(String.self, forKey: .images) ?? ""
    clip = try container.decodeIfPresent(String.self, forKey: .clip)
    boundMethod = try container.decodeIfPresent(String.self, forKey: .boundMethod)
    normalization = try container.decodeIfPresent(String.self, forKey: .normalization)
    timeLimitS = try container.decodeIfPresent(Double.self, forKey: .timeLimitS)
    image = try container.decodeIfPresent(String.self, forKey: .image)
    imageError = try container.decodeIfPresent(String.self, forKey: .imageError)
    shard = try container.decodeIfPresent(BatchShardSpec.self, forKey: .shard)
    layers = try container.decodeIfPresent([LayerStatistics].self, forKey: .layers)
    guard PerturbationNorm(rawValue: norm) != nil else {
      throw DecodingError.dataCorruptedError(
        forKey: .norm, in: container, debugDescription: "unknown norm '\(norm)'")
    }
  }

  /// The record as one line of JSON, without the newline; keys sorted, so equal records give
  /// equal lines.
  package func jsonLine() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return try encoder.encode(self)
  }
}
