/// The nonlinearity applied after an affine layer.
public enum Activation: String, Sendable, Equatable {
  case relu
  case identity

  /// The activation of each of a layer's pre-activations.
  func apply(_ preActivations: [Double]) -> [Double] {
    switch self {
    case .relu: return preActivations.map { max(0, $0) }
    case .identity: return preActivations
    }
  }
}

/// `y = activation(W x + b)`: a dense layer, or the sparse map of a convolution or pooling.
public struct AffineLayer: Sendable, Equatable {
  /// The number of inputs (columns of `W`).
  public var inputSize: Int { matrix.columns }
  /// The number of outputs (rows of `W`).
  public var outputSize: Int { matrix.rows }
  /// `W`, `outputSize × inputSize`.
  public let matrix: WeightMatrix
  /// `b`, one entry per output.
  public let bias: [Double]
  /// Applied to `W x + b`.
  public let activation: Activation

  /// A dense layer; checks the sizes and that every weight and bias is finite. `weights` is
  /// row-major: `weights[i * inputSize + j]` multiplies input `j` in output `i`.
  public init(
    inputSize: Int, outputSize: Int, weights: [Double], bias: [Double], activation: Activation
  ) throws {
    guard inputSize > 0, outputSize > 0 else {
      throw NetworkError.invalidLayer("a layer needs at least one input and one output")
    }
    guard weights.count == inputSize * outputSize else {
      throw NetworkError.invalidLayer(
        "weight count \(weights.count) is not \(outputSize) × \(inputSize)")
    }
    try self.init(
      matrix: WeightMatrix(rows: outputSize, columns: inputSize, denseValues: weights), bias: bias,
      activation: activation)
  }

  /// A layer with the given matrix; checks the bias's size and that every value is finite.
  public init(matrix: WeightMatrix, bias: [Double], activation: Activation) throws {
    guard matrix.rows > 0, matrix.columns > 0 else {
      throw NetworkError.invalidLayer("a layer needs at least one input and one output")
    }
    guard bias.count == matrix.rows else {
      throw NetworkError.invalidLayer("bias count \(bias.count) is not \(matrix.rows)")
    }
    if let bad = matrix.firstNonFinite() {
      throw NetworkError.invalidLayer("weight [\(bad.row), \(bad.column)] is \(bad.value)")
    }
    if let bad = bias.firstIndex(where: { !$0.isFinite }) {
      throw NetworkError.invalidLayer("bias [\(bad)] is \(bias[bad])")
    }
    self.matrix = matrix
    self.bias = bias
    self.activation = activation
  }

  /// A layer computed from checked ones, which needs no second check.
  init(unchecked matrix: WeightMatrix, _ bias: [Double], _ activation: Activation) {
    self.matrix = matrix
    self.bias = bias
    self.activation = activation
  }

  /// Every weight, row-major `outputSize × inputSize` (dense even where the layer is sparse:
  /// for small layers, tests and `.nnet` output).
  public var weights: [Double] { matrix.denseValues }

  /// The row of weights of output `index`, `inputSize` values.
  package func row(_ index: Int) -> [Double] { matrix.row(index) }

  /// `W x + b`, before the activation, in double precision.
  public func preActivation(_ input: [Double]) -> [Double] {
    precondition(input.count == inputSize, "layer input has the wrong size")
    return matrix.multiply(input, adding: bias)
  }

  /// `activation(W x + b)`, in double precision.
  public func apply(_ input: [Double]) -> [Double] {
    activation.apply(preActivation(input))
  }
}

/// Layers that do not make a network: a bad layer, sizes that do not chain, or no layer.
public enum NetworkError: Error, Equatable, CustomStringConvertible {
  case invalidLayer(String)
  case layerSizesDoNotChain(layer: Int, expected: Int, found: Int)
  case empty

  public var description: String {
    switch self {
    case .invalidLayer(let message): return "invalid layer: \(message)"
    case .layerSizesDoNotChain(let layer, let expected, let found):
      return "layer \(layer) takes \(found) inputs but the layer before gives \(expected)"
    case .empty: return "the network has no layers"
    }
  }
}

/// A feed-forward network of dense layers: ReLU hidden layers and an affine output (the logits).
public struct Network: Sendable, Equatable {
  /// The layers, input side first; the last one's outputs are the logits.
  public let layers: [AffineLayer]
  /// The shape of one input example (without a batch dimension), e.g. `[784]` or `[1, 28, 28]`.
  public let inputShape: [Int]
  /// Notes gathered while reading the model, e.g. a dropped final softmax.
  public var notes: [String]
  /// The model's operations as its file states them, one line each (kind, sizes, kernel), for
  /// `relumip info`; empty for a network built from layers.
  public var structure: [String] = []
  /// The model as its file describes it, in its own precision: counterexamples are re-checked
  /// on it (`Counterexample.check`). For a network built from layers, those layers in double.
  public let reference: ReferenceModel

  /// Checks that the layers chain; `reference` defaults to the layers themselves, in double.
  public init(
    layers: [AffineLayer], inputShape: [Int]? = nil, notes: [String] = [],
    reference: ReferenceModel? = nil
  ) throws {
    guard let first = layers.first else { throw NetworkError.empty }
    for index in layers.indices.dropFirst()
    where layers[index].inputSize != layers[index - 1].outputSize {
      throw NetworkError.layerSizesDoNotChain(
        layer: index, expected: layers[index - 1].outputSize, found: layers[index].inputSize)
    }
    let shape = inputShape ?? [first.inputSize]
    guard shape.reduce(1, *) == first.inputSize else {
      throw NetworkError.invalidLayer(
        "input shape \(shape) does not hold the first layer's \(first.inputSize) inputs")
    }
    self.layers = layers
    self.inputShape = shape
    self.notes = notes
    self.reference = reference ?? ReferenceModel(layers: layers)
  }

  /// The number of inputs of the first layer.
  public var inputSize: Int { layers[0].inputSize }
  /// The number of outputs (logits) of the last layer.
  public var outputSize: Int { layers[layers.count - 1].outputSize }

  /// The outputs (logits) at `input`, by an exact double-precision forward pass.
  public func evaluate(_ input: [Double]) -> [Double] {
    layers.reduce(input) { $1.apply($0) }
  }

  /// `evaluate` with each dense row's sum taken in the faster, differently rounded order of
  /// `WeightMatrix.multiplyReordered`: for screening candidates before an exact check, never
  /// for a bound or a verdict.
  func estimate(_ input: [Double]) -> [Double] {
    layers.reduce(input) { current, layer in
      layer.activation.apply(layer.matrix.multiplyReordered(current, adding: layer.bias))
    }
  }

  /// The pre-activation values of every layer at `input` (the last entry is the output).
  public func preActivations(_ input: [Double]) -> [[Double]] {
    var current = input
    var result: [[Double]] = []
    result.reserveCapacity(layers.count)
    for layer in layers {
      let z = layer.preActivation(current)
      result.append(z)
      current = layer.activation.apply(z)
    }
    return result
  }

  /// The index of the largest output; the lowest index among ties.
  public func predictedLabel(_ input: [Double]) -> Int {
    Self.argmax(evaluate(input))
  }

  static func argmax(_ values: [Double]) -> Int {
    var best = 0
    for index in values.indices where values[index] > values[best] { best = index }
    return best
  }

  /// Counts of hidden ReLU neurons, per layer.
  public var hiddenLayerSizes: [Int] {
    layers.filter { $0.activation == .relu }.map(\.outputSize)
  }

  /// Neurons in every layer but the output layer.
  var hiddenNeuronCount: Int { layers.dropLast().reduce(0) { $0 + $1.outputSize } }

  /// Every hidden layer's weights stored dense: fully connected, not a convolution.
  var hiddenLayersAreDense: Bool { layers.dropLast().allSatisfy { !$0.matrix.isSparse } }

  /// Fully connected with three hidden layers or more: where back-substitution's looseness
  /// compounds over the layers.
  var isDeepAndFullyConnected: Bool { layers.count - 1 >= 3 && hiddenLayersAreDense }
}
