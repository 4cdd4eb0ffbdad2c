import Foundation

/// The network as its file describes it, operation by operation and in the file's own precision:
/// the model every counterexample is re-checked on before it is reported.
///
/// The `Network` the searches work on merges consecutive affine operations (a `Sub` and `Div` of
/// input normalisation into the first `MatMul`, for instance) and computes in double precision.
/// Merging changes the rounding, and a file with float32 weights is evaluated by its users (and by
/// the competitions' scorer, through onnxruntime) in float32. A witness whose margin holds only in
/// the merged double-precision network is not a counterexample of the model as read, so the
/// re-check runs every operation as read, in double and, for float32 models, in float32 too.
public struct ReferenceModel: Sendable, Equatable {
  /// The arithmetic the model's file computes in (its float type).
  public enum Precision: String, Sendable, Equatable, Codable {
    case float32
    case float64
  }

  /// A function a model may apply after its logits, which the searches leave out: properties on
  /// such a model must mean the same on the logits (comparisons between two outputs).
  public struct OutputTransform: Sendable, Equatable {
    /// Which function it is.
    public enum Kind: String, Sendable, Equatable {
      case softmax = "Softmax"
      case logSoftmax = "LogSoftmax"
    }
    public var kind: Kind
    /// Where it is: the file and the node, for error messages.
    public var file: String
    public var location: String
  }

  /// One step of the data path, on the flattened (C-order) tensor.
  public enum Operation: Sendable, Equatable {
    /// `y = W x + shift`: a dense matrix (Gemm, MatMul) or a sparse one (Conv, AveragePool,
    /// GlobalAveragePool), each row summed in column order.
    case linear(WeightMatrix, shift: [Double])
    /// `y[i] = x[source[i]]`, or 0 where `source[i]` is nil: a reordering (Transpose), a copy
    /// with zeros around it (Pad), a selection.
    case gather([Int?])
    /// `y[i]` = the largest `x[j]` over window `i` (MaxPool): `windows[i]` lists the inputs in
    /// the window, padding left out (it never wins a maximum).
    case maximum(windows: [[Int]])
    /// `y = x + c`.
    case add([Double])
    /// `y = x − c`.
    case subtract([Double])
    /// `y = c − x`.
    case subtractFrom([Double])
    /// `y = x · c`.
    case multiply([Double])
    /// `y = x / c` (a division, not a multiplication by 1/c: the two round differently).
    case divide([Double])
    case relu

    var outputSize: Int? {
      switch self {
      case .linear(let matrix, _): return matrix.rows
      case .add(let c), .subtract(let c), .subtractFrom(let c), .multiply(let c), .divide(let c):
        return c.count
      case .gather(let source): return source.count
      case .maximum(let windows): return windows.count
      case .relu: return nil
      }
    }
  }

  public var operations: [Operation]
  public var precision: Precision
  public var outputTransform: OutputTransform?

  /// A model from its operations, in the given precision.
  public init(
    operations: [Operation], precision: Precision, outputTransform: OutputTransform? = nil
  ) {
    self.operations = operations
    self.precision = precision
    self.outputTransform = outputTransform
  }

  /// The dense layers of a network built from layers (a `.nnet` file or code), in double.
  init(layers: [AffineLayer]) {
    var operations: [Operation] = []
    for layer in layers {
      operations.append(.linear(layer.matrix, shift: layer.bias))
      if layer.activation == .relu { operations.append(.relu) }
    }
    self.init(operations: operations, precision: .float64)
  }

  /// The logits (the values before `outputTransform`) at `input`, every operation in double.
  public func evaluate(_ input: [Double]) -> [Double] {
    Self.run(operations, on: input)
  }

  /// The logits at `input` computed in float32, as the model's own runtime computes them: the
  /// input and every constant rounded to float32, every product and sum in float32. Nil for a
  /// double-precision model.
  public func evaluateFloat32(_ input: [Double]) -> [Double]? {
    guard precision == .float32 else { return nil }
    return Self.run(operations, on: input.map { Float($0) }).map(Double.init)
  }

  /// What the model file outputs for `logits`: the logits themselves, or the transform after
  /// them.
  public func modelOutputs(logits: [Double]) -> [Double] {
    guard let outputTransform, let logProbabilities = Self.logSoftmax(logits) else {
      return logits
    }
    switch outputTransform.kind {
    case .softmax: return logProbabilities.map { $0.exponential }
    case .logSoftmax: return logProbabilities
    }
  }

  /// The probability of each label at `logits`, the usual reading of a classifier's outputs as
  /// confidences: the softmax of the logits, which is what a model ending in Softmax outputs
  /// (and what a final LogSoftmax's outputs are the logarithms of). NaN if the largest logit is
  /// not finite.
  public func probabilities(logits: [Double]) -> [Double] {
    guard let logProbabilities = Self.logSoftmax(logits) else {
      return logits.map { _ in .nan }
    }
    return logProbabilities.map { $0.exponential }
  }

  /// log softmax(`logits`), computed from the logits less their largest, so that no exponential
  /// overflows; nil if the largest logit is not finite.
  private static func logSoftmax(_ logits: [Double]) -> [Double]? {
    guard let largest = logits.max(), largest.isFinite else { return nil }
    let shifted = logits.map { $0 - largest }
    let logSum = shifted.map { $0.exponential }.reduce(0, +).logarithm
    return shifted.map { $0 - logSum }
  }

  private static func run<Value: BinaryFloatingPoint>(
    _ operations: [Operation], on input: [Value]
  ) -> [Value] {
    var x = input
    for operation in operations {
      switch operation {
      case .linear(let matrix, let shift):
        precondition(
          x.count == matrix.columns, "reference operation takes \(matrix.columns) values")
        var y = [Value](repeating: 0, count: matrix.rows)
        for i in 0..<matrix.rows {
          var sum: Value = 0
          matrix.forEachEntry(inRow: i) { j, w in sum += Value(w) * x[j] }
          y[i] = sum + Value(shift[i])
        }
        x = y
      case .gather(let source):
        x = source.map { $0.map { x[$0] } ?? 0 }
      case .maximum(let windows):
        x = windows.map { window in window.dropFirst().reduce(x[window[0]]) { max($0, x[$1]) } }
      case .add(let c): x = zip(x, c).map { $0 + Value($1) }
      case .subtract(let c): x = zip(x, c).map { $0 - Value($1) }
      case .subtractFrom(let c): x = zip(x, c).map { Value($1) - $0 }
      case .multiply(let c): x = zip(x, c).map { $0 * Value($1) }
      case .divide(let c): x = zip(x, c).map { $0 / Value($1) }
      case .relu: x = x.map { $0 > 0 ? $0 : 0 }
      }
    }
    return x
  }
}

extension Double {
  fileprivate var exponential: Double { Foundation.exp(self) }
  fileprivate var logarithm: Double { Foundation.log(self) }
}
