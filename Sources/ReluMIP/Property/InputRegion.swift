/// The norm of the perturbation ball.
public enum PerturbationNorm: String, Sendable, CaseIterable {
  case l1
  case linf

  /// `L1` or `L∞`, for reports.
  public var symbol: String { self == .l1 ? "L1" : "L∞" }
}

/// A region, target or option that does not fit the network or makes no sense, found before
/// any search starts.
public enum PropertyError: Error, Equatable, CustomStringConvertible {
  case invalidRadius(Double)
  case invalidBox(String)
  case centerSizeMismatch(expected: Int, found: Int)
  case nonFiniteCenter(index: Int)
  case centerOutsideBox(index: Int, value: Double, lower: Double, upper: Double)
  case unknownLabel(Int, outputs: Int)
  case targetEqualsLabel(Int)
  case tooFewOutputs(Int)
  case propertySizeMismatch(what: String, property: Int, network: Int)
  case invalidOption(name: String, reason: String)

  public var description: String {
    switch self {
    case .invalidRadius(let radius):
      return "the radius must be a finite number ≥ 0, not \(radius)"
    case .invalidBox(let message):
      return "invalid box: \(message)"
    case .centerSizeMismatch(let expected, let found):
      return "the example has \(found) values but the network takes \(expected) inputs"
    case .nonFiniteCenter(let index):
      return "the example holds a NaN or infinite value at input \(index)"
    case .centerOutsideBox(let index, let value, let lower, let upper):
      return "the example's input \(index) is \(value), outside the box [\(lower), \(upper)]"
    case .unknownLabel(let label, let outputs):
      return "label \(label) is not one of the network's outputs 0..<\(outputs)"
    case .targetEqualsLabel(let label):
      return "the target label \(label) is the predicted label itself"
    case .tooFewOutputs(let count):
      return "a network with \(count) output cannot be attacked: at least two labels are needed"
    case .propertySizeMismatch(let what, let property, let network):
      return "the property declares \(property) \(what) but the network has \(network)"
    case .invalidOption(let name, let reason):
      return "the option \(name) \(reason)"
    }
  }
}

/// The set of inputs searched: a ball of the given norm and radius around `center`, intersected
/// with the box `[lower, upper]` (per coordinate; either end may be infinite).
public struct InputRegion: Sendable, Equatable {
  /// The example the ball is centred on.
  public let center: [Double]
  /// The norm the radius is measured in.
  public let norm: PerturbationNorm
  /// The radius of the ball (≥ 0).
  public let radius: Double
  /// The box's lower end, per coordinate (may be −∞).
  public let boxLower: [Double]
  /// The box's upper end, per coordinate (may be +∞).
  public let boxUpper: [Double]
  /// Each coordinate's lowest and highest value in the region, worked out once: bounding reads
  /// them for every coordinate of every back-substituted row.
  package let lowestValues: [Double]
  package let highestValues: [Double]

  /// The ball of `norm` and `radius` around `center`, intersected with the same interval `box`
  /// for every coordinate (`(0, 1)` by default, the pixel range; nil for no box). Throws unless
  /// the radius is finite and ≥ 0 and the center lies in the box.
  public init(
    center: [Double], norm: PerturbationNorm, radius: Double, box: (Double, Double)? = (0, 1)
  ) throws {
    let (lower, upper) = box ?? (-Double.infinity, Double.infinity)
    try self.init(
      center: center, norm: norm, radius: radius,
      boxLower: Array(repeating: lower, count: center.count),
      boxUpper: Array(repeating: upper, count: center.count))
  }

  /// The ball around `center` intersected with the box `[boxLower, boxUpper]`. Throws unless
  /// the radius is finite and ≥ 0, the sizes match and the center lies in the box.
  public init(
    center: [Double], norm: PerturbationNorm, radius: Double, boxLower: [Double],
    boxUpper: [Double]
  ) throws {
    guard radius.isFinite, radius >= 0 else { throw PropertyError.invalidRadius(radius) }
    guard boxLower.count == center.count, boxUpper.count == center.count else {
      throw PropertyError.invalidBox("the box has a different size from the example")
    }
    for index in center.indices {
      guard center[index].isFinite else { throw PropertyError.nonFiniteCenter(index: index) }
      let (lower, upper) = (boxLower[index], boxUpper[index])
      guard !lower.isNaN, !upper.isNaN, lower <= upper, lower < .infinity, upper > -.infinity
      else {
        throw PropertyError.invalidBox("coordinate \(index) has bounds [\(lower), \(upper)]")
      }
      guard lower <= center[index], center[index] <= upper else {
        throw PropertyError.centerOutsideBox(
          index: index, value: center[index], lower: lower, upper: upper)
      }
    }
    self.center = center
    self.norm = norm
    self.radius = radius
    self.boxLower = boxLower
    self.boxUpper = boxUpper
    lowestValues = center.indices.map { max(boxLower[$0], center[$0] - radius) }
    highestValues = center.indices.map { min(boxUpper[$0], center[$0] + radius) }
  }

  /// The box `[lower, upper]` alone, as an L∞ ball around its midpoint that the box confines.
  public init(boxLower: [Double], boxUpper: [Double]) throws {
    guard boxLower.count == boxUpper.count else {
      throw PropertyError.invalidBox("the lower and upper ends have different sizes")
    }
    var center: [Double] = []
    var radius = 0.0
    for (lower, upper) in zip(boxLower, boxUpper) {
      guard lower.isFinite, upper.isFinite, lower <= upper else {
        throw PropertyError.invalidBox("an interval [\(lower), \(upper)] is not a finite box")
      }
      let middle = min(max(lower + (upper - lower) / 2, lower), upper)
      center.append(middle)
      radius = max(radius, (upper - middle).nextUp, (middle - lower).nextUp)
    }
    try self.init(
      center: center, norm: .linf, radius: radius, boxLower: boxLower, boxUpper: boxUpper)
  }

  /// The number of inputs.
  public var dimension: Int { center.count }

  /// The lowest value coordinate `index` can take in the region.
  public func lowest(_ index: Int) -> Double { lowestValues[index] }
  /// The highest value coordinate `index` can take in the region.
  public func highest(_ index: Int) -> Double { highestValues[index] }

  /// How far below the center coordinate `index` can move (≥ 0).
  package func downRoom(_ index: Int) -> Double { center[index] - lowest(index) }
  /// How far above the center coordinate `index` can move (≥ 0).
  package func upRoom(_ index: Int) -> Double { highest(index) - center[index] }

  /// The distance of `point` from the center in this region's norm.
  public func distance(_ point: [Double]) -> Double {
    precondition(point.count == center.count, "point has the wrong size")
    switch norm {
    case .l1:
      return zip(point, center).reduce(0) { $0 + abs($1.0 - $1.1) }
    case .linf:
      return zip(point, center).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }
  }

  /// Whether `point` lies in the box and within `radius + tolerance` of the center.
  public func contains(_ point: [Double], distanceTolerance: Double = 1e-9) -> Bool {
    guard point.count == center.count else { return false }
    for index in point.indices {
      let value = point[index]
      guard value.isFinite, value >= boxLower[index], value <= boxUpper[index] else {
        return false
      }
    }
    return distance(point) <= radius + distanceTolerance
  }

  /// The point of the region nearest in spirit to `point`: clipped into the box and the
  /// per-coordinate range, then, for the L1 ball, pulled toward the center until the distance
  /// fits. Solver output carries tolerance-sized violations; this removes them exactly.
  public func project(_ point: [Double]) -> [Double] {
    precondition(point.count == center.count, "point has the wrong size")
    var result = point.indices.map { min(max(point[$0], lowest($0)), highest($0)) }
    if norm == .l1 {
      let distance = self.distance(result)
      if distance > radius {
        let scale = distance > 0 ? radius / distance : 0
        for index in result.indices {
          let moved = center[index] + (result[index] - center[index]) * scale
          result[index] = min(max(moved, lowest(index)), highest(index))
        }
        // Rounding can leave the scaled distance a hair above the radius; shave the largest
        // moves until it fits.
        var excess = self.distance(result) - radius
        if excess > 0 {
          for index in result.indices.sorted(by: {
            abs(result[$0] - center[$0]) > abs(result[$1] - center[$1])
          }) where excess > 0 {
            let move = result[index] - center[index]
            let cut = min(abs(move), excess * 2)
            result[index] -= move > 0 ? cut : -cut
            excess = self.distance(result) - radius
          }
        }
      }
    }
    return result
  }
}

/// Which wrong label the search tries to reach.
public enum TargetChoice: Sendable, Equatable, CustomStringConvertible {
  /// The label with the second-highest output at the center (the reference's choice).
  case runnerUp
  /// A given label.
  case label(Int)
  /// Any label other than the predicted one.
  case all

  public var description: String {
    switch self {
    case .runnerUp: return "runner-up"
    case .label(let label): return String(label)
    case .all: return "all"
    }
  }
}
