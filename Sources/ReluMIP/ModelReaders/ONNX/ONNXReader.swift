import Foundation
import SwiftProtobuf

/// A constant tensor from an initializer or a Constant node, in double precision.
struct ConstantTensor {
  var shape: [Int]
  var values: [Double]
}

/// An affine map `y = W x + b` from the output of the last ReLU (or the network input) to a
/// tensor on the data path. `W` is kept diagonal (`scale`) until a matrix op needs it, so input
/// normalisation costs nothing; after that it is a `WeightMatrix`, sparse where the ops were
/// (convolutions, pooling, reordering).
struct PendingAffine {
  var inputSize: Int
  var outputSize: Int
  /// `outputSize × inputSize`, or nil for the diagonal `scale`.
  var matrix: WeightMatrix?
  var scale: [Double]
  var bias: [Double]

  static func identity(_ size: Int) -> PendingAffine {
    PendingAffine(
      inputSize: size, outputSize: size, matrix: nil,
      scale: [Double](repeating: 1, count: size), bias: [Double](repeating: 0, count: size))
  }

  var isIdentity: Bool {
    matrix == nil && scale.allSatisfy { $0 == 1 } && bias.allSatisfy { $0 == 0 }
  }

  /// The values the map holds in its matrix.
  var storedCount: Int { matrix?.storedValues.count ?? 0 }

  /// `y ↦ s ⊙ y + t` after this map.
  func elementwise(scale s: [Double], shift t: [Double]) -> PendingAffine {
    var result = self
    for i in 0..<outputSize {
      result.bias[i] = s[i] * bias[i] + t[i]
    }
    if let matrix {
      result.matrix = WeightMatrix.build(rows: outputSize, columns: inputSize) { i, row in
        row.add(row: i, of: matrix, times: s[i])
      }
    } else {
      for i in 0..<outputSize { result.scale[i] = s[i] * scale[i] }
    }
    return result
  }

  /// `y ↦ M y + c` after this map, `M` having `outputSize` columns.
  func linear(_ m: WeightMatrix, shift c: [Double]) -> PendingAffine {
    precondition(m.columns == outputSize, "a linear op on data of another size")
    var b = c
    for r in 0..<m.rows {
      m.forEachEntry(inRow: r) { k, coefficient in b[r] += coefficient * bias[k] }
    }
    let composed: WeightMatrix
    if let matrix {
      composed = m.composed(after: matrix)
    } else {
      composed = WeightMatrix.build(rows: m.rows, columns: inputSize) { r, row in
        m.forEachEntry(inRow: r) { k, coefficient in row.add(k, coefficient * scale[k]) }
      }
    }
    return PendingAffine(
      inputSize: inputSize, outputSize: m.rows, matrix: composed, scale: [], bias: b)
  }

  /// The map as a layer, a diagonal map as a sparse matrix.
  func layer(_ activation: Activation) -> AffineLayer {
    AffineLayer(unchecked: matrix ?? .diagonal(scale), bias, activation)
  }
}

/// The product of `factors`; nil if it overflows `Int`.
func checkedProduct(_ factors: [Int]) -> Int? {
  var product = 1
  for factor in factors {
    let (next, overflow) = product.multipliedReportingOverflow(by: factor)
    guard !overflow else { return nil }
    product = next
  }
  return product
}

/// The state of the single data path through the graph.
struct DataPath {
  /// The tensor's full shape, the batch dimension counted as 1.
  var shape: [Int]
  var layers: [AffineLayer]
  var pending: PendingAffine
  /// Every operation so far as the file states it, unmerged: the reference model.
  var operations: [ReferenceModel.Operation] = []
  /// Whether every value is known to be ≥ 0 (after a ReLU, and ops that keep that), which
  /// spares MaxPool's tree the ReLU that passes negative values.
  var knownNonnegative = false
  /// One line per operation of the file, for `relumip info`.
  var structure: [String] = []
  var size: Int { shape.reduce(1, *) }
}

/// Reads ONNX graphs of feed-forward ReLU networks, as PyTorch, Keras (tf2onnx) and scikit-learn
/// exporters write them, into a `Network`.
public enum ONNXReader {
  /// Files larger than this (in bytes) are refused before they are read.
  public static let maximumFileSize = 1 << 31
  /// What a file claims (a declared input shape, a Reshape target, a dense op on wide data) is
  /// held to a budget of values that its weights pay for, so a small file cannot make the reader
  /// allocate gigabytes. Each tensor on the data path may hold the budget, and the matrices the
  /// reader builds (the layers, the pending affine map, the matrix of the op being read) may hold
  /// it together. A file holds at least one byte per weight value (a 1-byte varint; raw float32
  /// takes 4), so the budget is at most `valuesPerWeight` values per byte of the file.
  ///
  /// Any file may use this many values (128 MiB as Double), weights or none: room for the
  /// input and layers of a small model, little enough for a fuzzer's 2 GB limit.
  package static let valuesWithoutWeights = 1 << 24
  /// The budget grows by this many values per weight value in the file. Each dense layer holds
  /// as many values as the weights it came from; reading an op also holds the matrix it applies
  /// to the data and that matrix composed with the pending map, each again as large as the op's
  /// weights (for data with one row), so a plain chain of layers needs at most 3 per weight.
  /// The rest is room for a ReLU after a ReLU (a diagonal made dense) or two dense ops without
  /// a ReLU between them (composed into one matrix).
  package static let valuesPerWeight = 4
  /// The budget never passes this many values (16 GiB as Double), whatever the file holds: no
  /// model within `maximumFileSize` needs more.
  package static let maximumValues = 1 << 31
  /// The operators the reader accepts, for messages and `relumip info`.
  public static let supportedOps = [
    "Gemm", "MatMul", "Conv", "AveragePool", "MaxPool", "GlobalAveragePool", "BatchNormalization",
    "Pad", "Transpose", "Add", "Sub", "Mul", "Div", "Relu", "Flatten", "Reshape", "Identity",
    "Dropout", "Squeeze", "Unsqueeze", "Constant", "Softmax (final)", "LogSoftmax (final)",
  ]

  /// Reads the ONNX file at `path`, and the external data files its tensors name, which must be
  /// in the same folder or below it (see `ExternalTensorData`).
  public static func read(path: String) throws -> Network {
    let data: Data
    do {
      data = try ExampleReader.load(path)
    } catch let error as InputFileError {
      throw ModelError(file: path, reason: error.description)
    }
    return try parse(
      data, file: path, folder: URL(fileURLWithPath: path).deletingLastPathComponent())
  }

  /// Reads a network from the bytes of an ONNX file; `file` names it in errors. A model whose
  /// tensors are in external data files is refused: bytes have no folder to find them in.
  public static func parse(_ data: Data, file: String) throws -> Network {
    try parse(data, file: file, folder: nil)
  }

  /// Reads a network from the bytes of an ONNX file, with the external data files its tensors
  /// name read from `folder` (refused if it is nil).
  static func parse(_ data: Data, file: String, folder: URL?) throws -> Network {
    var model: Onnx_ModelProto
    do {
      model = try Onnx_ModelProto(serializedBytes: data)
    } catch {
      throw ModelError(
        file: file, reason: "not a valid ONNX file (the protobuf is truncated or corrupt: \(error))"
      )
    }
    guard model.hasGraph else { throw ModelError(file: file, reason: "the model has no graph") }
    var external = ExternalTensorData(file: file, folder: folder)
    try external.load(into: &model.graph)
    var interpreter = GraphInterpreter(file: file, graph: model.graph)
    return try interpreter.run()
  }

  /// The most values the reader holds for a file with `weightValues` weight values.
  package static func valueBudget(weightValues: Int) -> Int {
    let (scaled, overflow) = weightValues.multipliedReportingOverflow(by: valuesPerWeight)
    return overflow ? maximumValues : min(maximumValues, max(valuesWithoutWeights, scaled))
  }

  /// The values the file's constant tensors really hold: the entries of their typed lists or
  /// what their raw_data's bytes make, whatever their dims claim.
  static func weightValues(in graph: Onnx_GraphProto) -> Int {
    var count = graph.initializer.reduce(0) { $0 + (storedValues($1)?.count ?? 0) }
    for node in graph.node where node.opType == "Constant" {
      for attribute in node.attribute {
        count +=
          (storedValues(attribute.t)?.count ?? 0) + attribute.floats.count
          + attribute.ints.count
      }
    }
    return count
  }

  /// Why a tensor of `dataType` is refused.
  static func unsupportedType(_ dataType: Int32) -> String {
    "data type \(dataType) is not supported (float, double, int32, int64 are)"
  }

  /// How many values `tensor`'s data holds, and how: the bytes of one value in raw_data and the
  /// typed list used without it; nil for an element type the reader does not read.
  static func storedValues(_ tensor: Onnx_TensorProto) -> (count: Int, width: Int, list: String)? {
    let (width, list, listCount): (Int, String, Int)
    switch Onnx_TensorProto.DataType(rawValue: Int(tensor.dataType)) {
    case .float: (width, list, listCount) = (4, "float_data", tensor.floatData.count)
    case .double: (width, list, listCount) = (8, "double_data", tensor.doubleData.count)
    case .int64: (width, list, listCount) = (8, "int64_data", tensor.int64Data.count)
    case .int32: (width, list, listCount) = (4, "int32_data", tensor.int32Data.count)
    default: return nil
    }
    return (tensor.hasRawData ? tensor.rawData.count / width : listCount, width, list)
  }
}

struct GraphInterpreter {
  let file: String
  let graph: Onnx_GraphProto
  var constants: [String: ConstantTensor] = [:]
  var paths: [String: DataPath] = [:]
  var notes: [String] = []
  var outputTransform: ReferenceModel.OutputTransform?
  /// The values the file's constant tensors hold, which pay for the budget.
  let weightValues: Int
  /// `ONNXReader.valueBudget(weightValues:)` for this file.
  let budget: Int
  /// The values in the layers built so far, on every path.
  var layerValues = 0

  init(file: String, graph: Onnx_GraphProto) {
    self.file = file
    self.graph = graph
    weightValues = ONNXReader.weightValues(in: graph)
    budget = ONNXReader.valueBudget(weightValues: weightValues)
  }

  /// How the budget is made, for the messages that refuse a claim beyond it.
  var budgetDescription: String {
    "the \(budget) values allowed for a model with \(weightValues) weight values"
  }

  func error(_ reason: String, node: Onnx_NodeProto? = nil, index: Int? = nil) -> ModelError {
    guard let node else { return ModelError(file: file, reason: reason) }
    let name = node.name.isEmpty ? "#\(index ?? 0)" : "'\(node.name)'"
    return ModelError(file: file, location: "node \(name) (\(node.opType))", reason: reason)
  }

  mutating func run() throws -> Network {
    for tensor in graph.initializer {
      constants[tensor.name] = try decode(tensor, what: "initializer '\(tensor.name)'")
    }
    let dataInputs = graph.input.filter { constants[$0.name] == nil }
    guard dataInputs.count == 1, let input = dataInputs.first else {
      throw error(
        "the graph has \(dataInputs.count) data inputs (\(dataInputs.map(\.name))); exactly one is supported"
      )
    }
    let declared = input.type.tensorType.shape.dim
    guard !declared.isEmpty else {
      throw ModelError(file: file, location: "input '\(input.name)'", reason: "no shape declared")
    }
    var shape: [Int] = []
    for (axis, dim) in declared.enumerated() {
      switch dim.value {
      case .dimValue(let value) where value > 0:
        shape.append(Int(value))
      case .dimValue(0) where axis == 0, .dimParam where axis == 0, .none where axis == 0:
        shape.append(1)  // a dynamic batch dimension
      default:
        throw ModelError(
          file: file, location: "input '\(input.name)'",
          reason: "dimension \(axis) is dynamic; only the first (batch) dimension may be")
      }
    }
    guard let size = checkedProduct(shape), size <= budget else {
      throw ModelError(
        file: file, location: "input '\(input.name)'",
        reason: "shape \(shape) holds more than \(budgetDescription)")
    }
    paths[input.name] = DataPath(shape: shape, layers: [], pending: .identity(size))

    guard graph.output.count == 1, let output = graph.output.first else {
      throw error("the graph has \(graph.output.count) outputs; exactly one is supported")
    }
    // A path is dropped once no later node reads it: every elementwise op copies the pending
    // map, so keeping each node's path made a short chain of them hold a dense map many times
    // over (a 17 kB file with 20 Muls after a MatMul held 1.4 GB).
    var readsLeft = [output.name: 1]
    for node in graph.node {
      for name in Set(node.input) { readsLeft[name, default: 0] += 1 }
    }
    var finalName = output.name
    for (index, node) in graph.node.enumerated() {
      if let dropped = try interpret(node, index: index, graphOutput: output.name) {
        finalName = dropped
        readsLeft[dropped, default: 0] += 1
      }
      for name in Set(node.input) where paths[name] != nil {
        readsLeft[name, default: 1] -= 1
        if readsLeft[name] == 0 { paths[name] = nil }
      }
    }
    guard let path = paths[finalName] else {
      throw error("the graph output '\(output.name)' is not computed from the input")
    }
    var layers = path.layers
    if !(path.pending.isIdentity && !layers.isEmpty) {
      layers.append(try layer(path.pending, .identity, node: nil, index: nil))
    }
    for (index, layer) in layers.enumerated() {
      if let bad = (layer.matrix.storedValues + layer.bias).first(where: { !$0.isFinite }) {
        throw error("layer \(index) has a weight of \(bad) after merging affine operations")
      }
    }
    let exampleShape = shape.count > 1 && shape[0] == 1 ? Array(shape.dropFirst()) : shape
    // onnxruntime computes a float input's graph in float32, whatever the weights' type.
    let precision: ReferenceModel.Precision =
      input.type.tensorType.elemType == Int32(Onnx_TensorProto.DataType.double.rawValue)
      ? .float64 : .float32
    let reference = ReferenceModel(
      operations: path.operations, precision: precision, outputTransform: outputTransform)
    do {
      var network = try Network(
        layers: layers, inputShape: exampleShape, notes: notes, reference: reference)
      network.structure = path.structure
      return network
    } catch {
      throw ModelError(file: file, reason: "\(error)")
    }
  }

  /// Interprets one node; returns a new graph-output name when a final softmax is dropped.
  mutating func interpret(_ node: Onnx_NodeProto, index: Int, graphOutput: String) throws
    -> String?
  {
    let dataInputs = node.input.filter { paths[$0] != nil }
    if node.opType == "Constant" {
      guard let name = node.output.first else { throw error("no output", node: node, index: index) }
      constants[name] = try constantValue(node, index: index)
      return nil
    }
    guard dataInputs.count == 1, let dataName = dataInputs.first, var path = paths[dataName] else {
      if dataInputs.isEmpty && node.opType == "Identity", let source = node.input.first,
        let value = constants[source], let name = node.output.first
      {
        constants[name] = value
        return nil
      }
      throw error(
        dataInputs.isEmpty
          ? "computes on constants only; only the data path through the network is supported"
          : "takes the data path twice (a branching graph); only chains of layers are supported",
        node: node, index: index)
    }
    guard let outputName = node.output.first else {
      throw error("the node has no output", node: node, index: index)
    }
    func constant(_ position: Int) throws -> ConstantTensor {
      guard position < node.input.count, let value = constants[node.input[position]] else {
        throw error(
          "input \(position) must be a constant (an initializer or a Constant node)", node: node,
          index: index)
      }
      return value
    }
    let described = path.structure.count
    switch node.opType {
    case "Relu":
      path.layers.append(try layer(path.pending, .relu, node: node, index: index))
      path.pending = .identity(path.size)
      path.operations.append(.relu)
      path.knownNonnegative = true
      path.structure.append("Relu, \(path.size) neurons")
    case "Identity", "Dropout":
      break
    case "Softmax", "LogSoftmax":
      guard outputName == graphOutput else {
        throw error(
          "\(node.opType) is supported only as the last node (it is dropped: the property is on the logits)",
          node: node, index: index)
      }
      notes.append(
        "the final \(node.opType) is left out of the search: properties must compare two outputs"
          + " (which it does not change)")
      outputTransform = ReferenceModel.OutputTransform(
        kind: node.opType == "Softmax" ? .softmax : .logSoftmax, file: file,
        location: "node \(node.name.isEmpty ? "#\(index)" : "'\(node.name)'") (\(node.opType))")
      paths[outputName] = path
      return dataName
    case "Flatten":
      let rank = path.shape.count
      var axis = Int(attribute("axis", of: node)?.i ?? 1)
      if axis < 0 { axis += rank }
      guard axis >= 0, axis <= rank else {
        throw error("axis \(axis) is out of range for rank \(rank)", node: node, index: index)
      }
      path.shape = [path.shape[..<axis].reduce(1, *), path.shape[axis...].reduce(1, *)]
    case "Reshape":
      path.shape = try reshape(path.shape, to: try constant(1), node: node, index: index)
    case "Squeeze", "Unsqueeze":
      path.shape = try squeeze(path.shape, node: node, index: index)
    case "Add", "Sub", "Mul", "Div":
      path = try elementwise(path, node: node, index: index, dataName: dataName)
      path.knownNonnegative = false
      path.structure.append("\(node.opType) by a constant")
    case "Gemm":
      let inputs = path.size
      path = try gemm(path, node: node, index: index, dataName: dataName)
      path.knownNonnegative = false
      path.structure.append("Gemm \(inputs)→\(path.size)")
    case "MatMul":
      let inputs = path.size
      path = try matmul(path, node: node, index: index, dataName: dataName)
      path.knownNonnegative = false
      path.structure.append("MatMul \(inputs)→\(path.size)")
    case "Conv":
      path = try conv(path, node: node, index: index, dataName: dataName)
    case "AveragePool", "GlobalAveragePool":
      path = try averagePool(path, node: node, index: index)
    case "MaxPool":
      path = try maxPool(path, node: node, index: index)
    case "BatchNormalization":
      path = try batchNormalization(path, node: node, index: index, dataName: dataName)
    case "Pad":
      path = try pad(path, node: node, index: index)
    case "Transpose":
      path = try transpose(path, node: node, index: index)
    default:
      throw error(
        "unsupported operation; supported: \(ONNXReader.supportedOps.joined(separator: ", "))",
        node: node, index: index)
    }
    guard path.shape.allSatisfy({ $0 > 0 }) else {
      throw error("gives empty data of shape \(path.shape)", node: node, index: index)
    }
    guard let size = checkedProduct(path.shape), size <= budget else {
      throw error(
        "gives data of shape \(path.shape), more than \(budgetDescription)", node: node,
        index: index)
    }
    if path.structure.count > described, let last = path.structure.popLast() {
      path.structure.append("\(last) → \(path.shape)")
    }
    paths[outputName] = path
    return nil
  }

  // MARK: Operations

  func attribute(_ name: String, of node: Onnx_NodeProto) -> Onnx_AttributeProto? {
    node.attribute.first { $0.name == name }
  }

  func reshape(_ shape: [Int], to target: ConstantTensor, node: Onnx_NodeProto, index: Int) throws
    -> [Int]
  {
    let size = shape.reduce(1, *)
    let allowZero = attribute("allowzero", of: node)?.i ?? 0
    guard target.values.allSatisfy({ Int(exactly: $0) != nil }) else {
      throw error("invalid target shape \(target.values)", node: node, index: index)
    }
    var dims = target.values.map { Int($0) }
    for (axis, dim) in dims.enumerated() where dim == 0 && allowZero == 0 {
      guard axis < shape.count else {
        throw error(
          "shape entry 0 at axis \(axis) has no input dimension to copy", node: node, index: index)
      }
      dims[axis] = shape[axis]
    }
    let unknown = dims.indices.filter { dims[$0] == -1 }
    guard unknown.count <= 1, dims.allSatisfy({ $0 >= -1 }) else {
      throw error("invalid target shape \(dims)", node: node, index: index)
    }
    if let axis = unknown.first {
      let known = checkedProduct(dims.enumerated().filter { $0.offset != axis }.map(\.element))
      guard let known, known > 0, size % known == 0 else {
        throw error("cannot reshape shape \(shape) to \(dims)", node: node, index: index)
      }
      dims[axis] = size / known
    }
    guard checkedProduct(dims) == size else {
      throw error(
        "cannot reshape shape \(shape) (\(size) values) to \(dims)", node: node, index: index)
    }
    return dims
  }

  func squeeze(_ shape: [Int], node: Onnx_NodeProto, index: Int) throws -> [Int] {
    var axes = attribute("axes", of: node)?.ints.map { Int($0) }
    if axes == nil, node.input.count > 1, let tensor = constants[node.input[1]] {
      guard tensor.values.allSatisfy({ Int(exactly: $0) != nil }) else {
        throw error("axes \(tensor.values) are not whole numbers", node: node, index: index)
      }
      axes = tensor.values.map { Int($0) }
    }
    if node.opType == "Squeeze" {
      let rank = shape.count
      let chosen = Set(
        (axes ?? shape.indices.filter { shape[$0] == 1 }).map { $0 < 0 ? $0 + rank : $0 })
      guard chosen.allSatisfy({ $0 >= 0 && $0 < rank && shape[$0] == 1 }) else {
        throw error("cannot squeeze axes \(axes ?? []) of shape \(shape)", node: node, index: index)
      }
      return shape.indices.filter { !chosen.contains($0) }.map { shape[$0] }
    }
    guard let axes else { throw error("Unsqueeze needs axes", node: node, index: index) }
    let rank = shape.count + axes.count
    let chosen = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
    guard chosen.count == axes.count, chosen.allSatisfy({ $0 >= 0 && $0 < rank }) else {
      throw error("cannot unsqueeze axes \(axes) of shape \(shape)", node: node, index: index)
    }
    var rest = shape.makeIterator()
    return (0..<rank).map { chosen.contains($0) ? 1 : rest.next()! }
  }

  /// For each flattened position of `shape`, the position in `constant` that NumPy-style
  /// broadcasting pairs it with; nil if the constant does not broadcast to `shape`.
  func broadcastIndices(_ constant: [Int], to shape: [Int]) -> [Int]? {
    var constantShape = constant
    while constantShape.count > shape.count {
      guard constantShape.first == 1 else { return nil }
      constantShape.removeFirst()
    }
    constantShape = Array(repeating: 1, count: shape.count - constantShape.count) + constantShape
    for (c, s) in zip(constantShape, shape) where c != 1 && c != s { return nil }
    let size = shape.reduce(1, *)
    var strides = [Int](repeating: 0, count: shape.count)
    var stride = 1
    for axis in shape.indices.reversed() {
      strides[axis] = constantShape[axis] == 1 ? 0 : stride
      stride *= constantShape[axis]
    }
    return (0..<size).map { flat in
      var remainder = flat
      var position = 0
      for axis in shape.indices.reversed() {
        let coordinate = remainder % shape[axis]
        remainder /= shape[axis]
        position += coordinate * strides[axis]
      }
      return position
    }
  }

  func elementwise(_ path: DataPath, node: Onnx_NodeProto, index: Int, dataName: String) throws
    -> DataPath
  {
    guard node.input.count == 2 else {
      throw error("expects two inputs", node: node, index: index)
    }
    let dataFirst = node.input[0] == dataName
    guard let other = constants[node.input[dataFirst ? 1 : 0]] else {
      throw error("the second operand must be a constant", node: node, index: index)
    }
    guard let map = broadcastIndices(other.shape, to: path.shape) else {
      throw error(
        "constant of shape \(other.shape) does not broadcast to the data shape \(path.shape)",
        node: node, index: index)
    }
    let c = map.map { other.values[$0] }
    let n = path.size
    var scale = [Double](repeating: 1, count: n)
    var shift = [Double](repeating: 0, count: n)
    let operation: ReferenceModel.Operation
    switch (node.opType, dataFirst) {
    case ("Add", _):
      shift = c
      operation = .add(c)
    case ("Sub", true):
      shift = c.map { -$0 }
      operation = .subtract(c)
    case ("Sub", false):
      scale = [Double](repeating: -1, count: n)
      shift = c
      operation = .subtractFrom(c)
    case ("Mul", _):
      scale = c
      operation = .multiply(c)
    case ("Div", true):
      guard c.allSatisfy({ $0 != 0 }) else {
        throw error("divides by a constant that holds 0", node: node, index: index)
      }
      scale = c.map { 1 / $0 }
      operation = .divide(c)
    default:
      throw error("only data ÷ constant is affine", node: node, index: index)
    }
    var result = path
    result.pending = path.pending.elementwise(scale: scale, shift: shift)
    result.operations.append(operation)
    return result
  }

  func gemm(_ path: DataPath, node: Onnx_NodeProto, index: Int, dataName: String) throws
    -> DataPath
  {
    guard node.input.count >= 2, node.input[0] == dataName else {
      throw error("the data must be the first input (A)", node: node, index: index)
    }
    let b = try constantInput(node, 1, index: index)
    let alpha = Double(attribute("alpha", of: node)?.f ?? 1)
    let beta = Double(attribute("beta", of: node)?.f ?? 1)
    let transA = (attribute("transA", of: node)?.i ?? 0) != 0
    let transB = (attribute("transB", of: node)?.i ?? 0) != 0
    guard path.shape.count == 2 else {
      throw error("input A has shape \(path.shape); Gemm needs rank 2", node: node, index: index)
    }
    guard b.shape.count == 2 else {
      throw error("B has shape \(b.shape); Gemm needs rank 2", node: node, index: index)
    }
    let (rows, k) = transA ? (path.shape[1], path.shape[0]) : (path.shape[0], path.shape[1])
    let (bRows, bColumns) = (b.shape[0], b.shape[1])
    let (bk, n) = transB ? (bColumns, bRows) : (bRows, bColumns)
    guard bk == k else {
      throw error(
        "shape mismatch: A has \(k) columns (shape \(path.shape)\(transA ? ", transposed" : "")) but B has \(bk) rows (shape \(b.shape)\(transB ? ", transposed" : ""))",
        node: node, index: index)
    }
    try requireDense(rows: rows * n, path, node: node, index: index)
    var shift = [Double](repeating: 0, count: rows * n)
    if node.input.count > 2, !node.input[2].isEmpty {
      let c = try constantInput(node, 2, index: index)
      guard let map = broadcastIndices(c.shape, to: [rows, n]) else {
        throw error(
          "shape mismatch: C of shape \(c.shape) does not broadcast to (\(rows), \(n))", node: node,
          index: index)
      }
      shift = map.map { beta * c.values[$0] }
    }
    let inputSize = path.size
    var m = [Double](repeating: 0, count: rows * n * inputSize)
    for r in 0..<rows {
      for col in 0..<n {
        for kk in 0..<k {
          let bValue = transB ? b.values[col * bColumns + kk] : b.values[kk * bColumns + col]
          let source = transA ? kk * rows + r : r * k + kk
          m[(r * n + col) * inputSize + source] = alpha * bValue
        }
      }
    }
    var result = path
    let matrix = WeightMatrix(rows: rows * n, columns: inputSize, denseValues: m)
    result.pending = path.pending.linear(matrix, shift: shift)
    result.operations.append(.linear(matrix, shift: shift))
    result.shape = [rows, n]
    return result
  }

  func matmul(_ path: DataPath, node: Onnx_NodeProto, index: Int, dataName: String) throws
    -> DataPath
  {
    guard node.input.count == 2 else { throw error("expects two inputs", node: node, index: index) }
    let dataFirst = node.input[0] == dataName
    let weights = try constantInput(node, dataFirst ? 1 : 0, index: index)
    guard weights.shape.count == 2 else {
      throw error(
        "the constant operand has shape \(weights.shape); only matrices are supported", node: node,
        index: index)
    }
    guard !path.shape.isEmpty else {
      throw error("a scalar cannot be a MatMul operand", node: node, index: index)
    }
    let inputSize = path.size
    var result = path
    if dataFirst {
      // (…, K) @ (K, N): every leading row is mapped by the same matrix.
      let k = path.shape.last ?? 1
      guard weights.shape[0] == k else {
        throw error(
          "shape mismatch: data of shape \(path.shape) times a matrix of shape \(weights.shape)",
          node: node, index: index)
      }
      let n = weights.shape[1]
      let rows = inputSize / k
      try requireDense(rows: rows * n, path, node: node, index: index)
      var m = [Double](repeating: 0, count: rows * n * inputSize)
      for r in 0..<rows {
        for col in 0..<n {
          for kk in 0..<k {
            m[(r * n + col) * inputSize + r * k + kk] = weights.values[kk * n + col]
          }
        }
      }
      let matrix = WeightMatrix(rows: rows * n, columns: inputSize, denseValues: m)
      let shift = [Double](repeating: 0, count: rows * n)
      result.pending = path.pending.linear(matrix, shift: shift)
      result.operations.append(.linear(matrix, shift: shift))
      result.shape = Array(path.shape.dropLast()) + [n]
    } else {
      // (M, K) @ (…, K, C); a vector (K) counts as (K, 1) whose 1 is dropped again, as in NumPy.
      let isVector = path.shape.count == 1
      let dataShape = isVector ? path.shape + [1] : path.shape
      let k = dataShape[dataShape.count - 2]
      let columns = dataShape[dataShape.count - 1]
      guard weights.shape[1] == k, inputSize == k * columns else {
        throw error(
          "shape mismatch: a matrix of shape \(weights.shape) times data of shape \(path.shape)",
          node: node, index: index)
      }
      let rows = weights.shape[0]
      try requireDense(rows: rows * columns, path, node: node, index: index)
      var m = [Double](repeating: 0, count: rows * columns * inputSize)
      for r in 0..<rows {
        for c in 0..<columns {
          for kk in 0..<k {
            m[(r * columns + c) * inputSize + kk * columns + c] = weights.values[r * k + kk]
          }
        }
      }
      let matrix = WeightMatrix(rows: rows * columns, columns: inputSize, denseValues: m)
      let shift = [Double](repeating: 0, count: rows * columns)
      result.pending = path.pending.linear(matrix, shift: shift)
      result.operations.append(.linear(matrix, shift: shift))
      result.shape = isVector ? [rows] : Array(path.shape.dropLast(2)) + [rows, columns]
    }
    return result
  }

  /// Refuses a dense op with `rows` outputs whose matrices (on the data, and composed with the
  /// pending affine map) would pass the budget with the layers and the pending map held already.
  func requireDense(rows: Int, _ path: DataPath, node: Onnx_NodeProto, index: Int) throws {
    let held = layerValues + path.pending.storedCount
    let onData = rows.multipliedReportingOverflow(by: path.size)
    let composed = rows.multipliedReportingOverflow(by: path.pending.inputSize)
    guard !onData.overflow, !composed.overflow, onData.partialValue <= budget - held,
      composed.partialValue <= budget - held - onData.partialValue
    else {
      throw error(
        "\(rows) outputs from data of shape \(path.shape) would need more than"
          + " \(budgetDescription)", node: node, index: index)
    }
  }

  /// `pending` as a layer, if its matrix fits the budget with the layers built already.
  mutating func layer(
    _ pending: PendingAffine, _ activation: Activation, node: Onnx_NodeProto?, index: Int?
  ) throws -> AffineLayer {
    let size = pending.matrix?.storedValues.count ?? pending.outputSize
    guard size <= budget - layerValues else {
      throw error(
        "a layer holding \(size) weights would need more than"
          + " \(budgetDescription), with \(layerValues) in the layers before it", node: node,
        index: index)
    }
    layerValues += size
    return pending.layer(activation)
  }

  func constantInput(_ node: Onnx_NodeProto, _ position: Int, index: Int) throws -> ConstantTensor {
    guard position < node.input.count, let value = constants[node.input[position]] else {
      throw error(
        "input \(position) must be a constant (an initializer or a Constant node)", node: node,
        index: index)
    }
    return value
  }

  func constantValue(_ node: Onnx_NodeProto, index: Int) throws -> ConstantTensor {
    guard let attribute = node.attribute.first else {
      throw error("a Constant node needs a value attribute", node: node, index: index)
    }
    switch attribute.name {
    case "value": return try decode(attribute.t, what: "node '\(node.name)' value")
    case "value_float": return ConstantTensor(shape: [], values: [Double(attribute.f)])
    case "value_floats":
      return ConstantTensor(
        shape: [attribute.floats.count], values: attribute.floats.map(Double.init))
    case "value_int": return ConstantTensor(shape: [], values: [Double(attribute.i)])
    case "value_ints":
      return ConstantTensor(shape: [attribute.ints.count], values: attribute.ints.map(Double.init))
    default:
      throw error("unsupported Constant attribute '\(attribute.name)'", node: node, index: index)
    }
  }

  // MARK: Tensors

  func decode(_ tensor: Onnx_TensorProto, what: String) throws -> ConstantTensor {
    func fail(_ reason: String) -> ModelError {
      ModelError(file: file, location: what, reason: reason)
    }
    // `ExternalTensorData` has read every external tensor the reader decodes into raw_data.
    if ExternalTensorData.isExternal(tensor) {
      throw fail("its external data was not read")
    }
    guard tensor.dims.allSatisfy({ $0 >= 0 }) else {
      throw fail("invalid dimensions \(tensor.dims)")
    }
    let shape = tensor.dims.map { Int($0) }
    guard let stored = ONNXReader.storedValues(tensor) else {
      throw fail(ONNXReader.unsupportedType(tensor.dataType))
    }
    // The dims are only a claim: the values come from the data the tensor holds, and a claim
    // that differs from it is refused before anything is allocated from either.
    let claimed = checkedProduct(shape)
    let claim = "dims \(shape) claim \(claimed.map(String.init) ?? "more than \(Int.max)") values"
    if tensor.hasRawData {
      guard claimed == stored.count, tensor.rawData.count % stored.width == 0 else {
        throw fail(
          "\(claim) of \(stored.width) bytes, but its raw_data holds \(tensor.rawData.count) bytes")
      }
    } else {
      guard claimed == stored.count else {
        throw fail("\(claim), but its \(stored.list) holds \(stored.count)")
      }
    }
    /// raw_data's little-endian values of `Bits`, each converted to Double.
    func rawValues<Bits: FixedWidthInteger>(_: Bits.Type, _ convert: (Bits) -> Double) -> [Double] {
      tensor.rawData.withUnsafeBytes { bytes in
        (0..<stored.count).map { index in
          let offset = index * MemoryLayout<Bits>.size
          return convert(
            Bits(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: Bits.self)))
        }
      }
    }
    let raw = tensor.hasRawData
    let values: [Double]
    switch Onnx_TensorProto.DataType(rawValue: Int(tensor.dataType)) {
    case .float:
      values =
        raw
        ? rawValues(UInt32.self) { Double(Float(bitPattern: $0)) }
        : tensor.floatData.map(Double.init)
    case .double:
      values = raw ? rawValues(UInt64.self) { Double(bitPattern: $0) } : tensor.doubleData
    case .int64:
      values =
        raw
        ? rawValues(UInt64.self) { Double(Int64(bitPattern: $0)) }
        : tensor.int64Data.map(Double.init)
    default:  // int32: storedValues has refused the other types
      values =
        raw
        ? rawValues(UInt32.self) { Double(Int32(bitPattern: $0)) }
        : tensor.int32Data.map(Double.init)
    }
    if let bad = values.firstIndex(where: { !$0.isFinite }) {
      throw fail(
        "value \(bad) is \(values[bad].isNaN ? "NaN" : "\(values[bad])"): weights must be finite")
    }
    return ConstantTensor(shape: shape, values: values)
  }
}
