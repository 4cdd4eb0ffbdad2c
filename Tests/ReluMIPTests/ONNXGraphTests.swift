import Foundation
import TestSupport
import Testing

@testable import ReluMIP

/// Builds small ONNX graphs in memory, for reader cases the fixtures do not cover.
struct GraphBuilder {
  var graph = Onnx_GraphProto()
  var outputName = "y"

  /// One data input `x` of the given shape; nil entries are dynamic (`N`).
  init(input shape: [Int?]) {
    var input = Onnx_ValueInfoProto()
    input.name = "x"
    input.type.tensorType.elemType = 11
    input.type.tensorType.shape.dim = shape.map { size in
      var dim = Onnx_TensorShapeProto.Dimension()
      if let size { dim.dimValue = Int64(size) } else { dim.dimParam = "N" }
      return dim
    }
    graph.input = [input]
  }

  mutating func constant(_ name: String, shape: [Int], _ values: [Double]) {
    precondition(shape.reduce(1, *) == values.count)
    var tensor = Onnx_TensorProto()
    tensor.name = name
    tensor.dims = shape.map(Int64.init)
    tensor.dataType = 11
    tensor.doubleData = values
    graph.initializer.append(tensor)
  }

  mutating func node(
    _ op: String, _ inputs: [String], _ output: String, ints: [String: [Int]] = [:],
    int: [String: Int] = [:], floats: [String: [Float]] = [:]
  ) {
    var node = Onnx_NodeProto()
    node.opType = op
    node.name = "\(op.lowercased())_\(graph.node.count)"
    node.input = inputs
    node.output = [output]
    for (name, value) in int.sorted(by: { $0.key < $1.key }) {
      var attribute = Onnx_AttributeProto()
      attribute.name = name
      attribute.type = .int
      attribute.i = Int64(value)
      node.attribute.append(attribute)
    }
    for (name, values) in ints.sorted(by: { $0.key < $1.key }) {
      var attribute = Onnx_AttributeProto()
      attribute.name = name
      attribute.type = .ints
      attribute.ints = values.map(Int64.init)
      node.attribute.append(attribute)
    }
    for (name, values) in floats.sorted(by: { $0.key < $1.key }) {
      var attribute = Onnx_AttributeProto()
      attribute.name = name
      attribute.type = .floats
      attribute.floats = values
      node.attribute.append(attribute)
    }
    graph.node.append(node)
  }

  func data(output: String? = nil) throws -> Data {
    var graph = self.graph
    var value = Onnx_ValueInfoProto()
    value.name = output ?? outputName
    graph.output = [value]
    var model = Onnx_ModelProto()
    model.irVersion = 8
    model.graph = graph
    return try model.serializedBytes()
  }

  func network(output: String? = nil) throws -> Network {
    try ONNXReader.parse(data(output: output), file: "built.onnx")
  }

  /// The ModelError the graph gives, failing the test if it reads.
  func error(output: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws
    -> ModelError?
  {
    do {
      let network = try network(output: output)
      Issue.record(
        "the graph read as \(network.layers.count) layers", sourceLocation: sourceLocation)
      return nil
    } catch let error as ModelError {
      #expect(error.description.contains("built.onnx"), sourceLocation: sourceLocation)
      return error
    }
  }
}

func expectClose(
  _ actual: [Double], _ expected: [Double], _ what: String = "",
  sourceLocation: SourceLocation = #_sourceLocation
) {
  guard let difference = Compare.maxAbsoluteDifference(actual, expected) else {
    Issue.record(
      "\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
    return
  }
  #expect(difference < 1e-12, "\(what): \(actual) vs \(expected)", sourceLocation: sourceLocation)
}

@Suite("ONNX graphs built in memory")
struct ONNXGraphTests {
  static let w = [1.0, -2, 0.5, 3, 0, -1]  // 2 × 3

  /// relu(W x) for W = `w` (2 × 3).
  func reference(_ x: [Double]) -> [Double] {
    (0..<2).map { i in max(0, (0..<3).reduce(0) { $0 + Self.w[i * 3 + $1] * x[$1] }) }
  }

  @Test func networkEndingInReLU() throws {
    var builder = GraphBuilder(input: [nil, 3])
    builder.constant("W", shape: [2, 3], Self.w)
    builder.node("Gemm", ["x", "W"], "z", int: ["transB": 1])
    builder.node("Relu", ["z"], "y")
    let network = try builder.network()
    #expect(network.layers.count == 1)
    let x = [0.3, -0.2, 0.9]
    expectClose(network.evaluate(x), reference(x))
    // The encoding's form adds an identity output layer.
    let normalized = try Verifier(network: network).network
    #expect(normalized.layers.map(\.activation) == [.relu, .identity])
    expectClose(normalized.evaluate(x), reference(x))
  }

  @Test func matMulWithTheConstantOnTheLeft() throws {
    // x is a (3, 1) column; W @ x is (2, 1).
    var builder = GraphBuilder(input: [3, 1])
    builder.constant("W", shape: [2, 3], Self.w)
    builder.node("MatMul", ["W", "x"], "z")
    builder.node("Relu", ["z"], "r")
    builder.node("Flatten", ["r"], "y", int: ["axis": 0])
    let network = try builder.network()
    #expect(network.inputShape == [3, 1])
    let x = [1.0, 0.25, -0.5]
    expectClose(network.evaluate(x), reference(x))
  }

  @Test func constantMinusData() throws {
    // y = Gemm(c − x, W): the Sub has the data second.
    var builder = GraphBuilder(input: [1, 3])
    builder.constant("c", shape: [3], [1, 2, 3])
    builder.constant("W", shape: [3, 2], [1, 0, 0, 1, 1, 1])
    builder.node("Sub", ["c", "x"], "d")
    builder.node("Gemm", ["d", "W"], "y")
    let network = try builder.network()
    let x = [0.5, -1, 2]
    // d = (0.5, 3, 1); y = (d0 + d2, d1 + d2) = (1.5, 4).
    expectClose(network.evaluate(x), [1.5, 4])
  }

  @Test func normalisationWithBroadcastConstants() throws {
    // ((x · 2) + b) / s with b of shape (1,) and s of shape (2, 1) broadcast over (2, 2).
    var builder = GraphBuilder(input: [nil, 2, 2])
    builder.constant("two", shape: [], [2])
    builder.constant("b", shape: [1], [-1])
    builder.constant("s", shape: [2, 1], [4, 0.5])
    builder.constant("W", shape: [4, 1], [1, 1, 1, 1])
    builder.node("Mul", ["x", "two"], "m")
    builder.node("Add", ["b", "m"], "a")
    builder.node("Div", ["a", "s"], "d")
    builder.node("Reshape", ["d", "shape"], "f")
    builder.constant("shape", shape: [2], [0, -1])
    builder.node("MatMul", ["f", "W"], "y")
    let network = try builder.network()
    #expect(network.inputShape == [2, 2])
    let x = [1.0, 2, 3, 4]
    // (2x − 1) / s: row 0 divided by 4, row 1 by 0.5: (0.25, 0.75, 10, 14); sum 25.
    expectClose(network.evaluate(x), [25])
  }

  @Test func squeezeAndUnsqueezeWithAxesAsAttributeOrInput() throws {
    var builder = GraphBuilder(input: [1, 3])
    builder.constant("W", shape: [2, 3], Self.w)
    builder.constant("axes", shape: [1], [0])
    builder.node("Unsqueeze", ["x"], "u", ints: ["axes": [1]])  // (1, 1, 3)
    builder.node("Squeeze", ["u", "axes"], "s")  // (1, 3)
    builder.node("Gemm", ["s", "W"], "z", int: ["transB": 1])
    builder.node("Relu", ["z"], "y")
    let network = try builder.network()
    let x = [0.1, 0.2, 0.3]
    expectClose(network.evaluate(x), reference(x))
  }

  @Test func constantNodesAndIdentityOnConstants() throws {
    var builder = GraphBuilder(input: [1, 3])
    builder.constant("W", shape: [2, 3], Self.w)
    builder.node("Identity", ["W"], "W2")
    builder.node("Constant", [], "bias", floats: ["value_floats": [0.5, -0.5]])
    builder.node("Gemm", ["x", "W2"], "z", int: ["transB": 1])
    builder.node("Add", ["z", "bias"], "y")
    let network = try builder.network()
    let x = [1.0, 1, 1]
    // W x = (−0.5, 2); + (0.5, −0.5).
    expectClose(network.evaluate(x), [0, 1.5])
  }

  @Test func dropoutAndIdentityOnTheDataPathAreNoOps() throws {
    var builder = GraphBuilder(input: [1, 3])
    builder.constant("W", shape: [2, 3], Self.w)
    builder.node("Dropout", ["x"], "d")
    builder.node("Identity", ["d"], "i")
    builder.node("Gemm", ["i", "W"], "z", int: ["transB": 1])
    builder.node("Relu", ["z"], "y")
    let x = [0.4, 0.1, -0.3]
    expectClose(try builder.network().evaluate(x), reference(x))
  }

  @Test func unsupportedGraphsAreRefusedWithTheNode() throws {
    // Division by a constant that holds 0.
    var zero = GraphBuilder(input: [1, 2])
    zero.constant("s", shape: [2], [1, 0])
    zero.node("Div", ["x", "s"], "y")
    #expect(try zero.error()?.description.contains("divides by a constant that holds 0") == true)

    // Constant ÷ data is not affine.
    var inverse = GraphBuilder(input: [1, 2])
    inverse.constant("s", shape: [2], [1, 2])
    inverse.node("Div", ["s", "x"], "y")
    #expect(try inverse.error()?.description.contains("affine") == true)

    // x + x takes the data path twice.
    var twice = GraphBuilder(input: [1, 2])
    twice.node("Add", ["x", "x"], "y")
    let branching = try twice.error()
    #expect(branching?.description.contains("twice") == true)
    #expect(branching?.location?.contains("Add") == true)

    // A softmax in the middle.
    var softmax = GraphBuilder(input: [1, 3])
    softmax.constant("W", shape: [2, 3], Self.w)
    softmax.node("Softmax", ["x"], "p")
    softmax.node("Gemm", ["p", "W"], "y", int: ["transB": 1])
    #expect(try softmax.error()?.description.contains("last node") == true)

    // A dynamic dimension other than the batch.
    var dynamic = GraphBuilder(input: [1, nil])
    dynamic.node("Relu", ["x"], "y")
    #expect(try dynamic.error()?.description.contains("dimension 1 is dynamic") == true)

    // Two data inputs.
    var two = GraphBuilder(input: [1, 2])
    var second = two.graph.input[0]
    second.name = "x2"
    two.graph.input.append(second)
    two.node("Relu", ["x"], "y")
    #expect(try two.error()?.description.contains("2 data inputs") == true)

    // An output that is not computed from the input.
    var unrelated = GraphBuilder(input: [1, 2])
    unrelated.node("Relu", ["x"], "y")
    #expect(try unrelated.error(output: "nowhere")?.description.contains("nowhere") == true)

    // Gemm whose B does not match.
    var mismatch = GraphBuilder(input: [1, 4])
    mismatch.constant("W", shape: [2, 3], Self.w)
    mismatch.node("Gemm", ["x", "W"], "y", int: ["transB": 1])
    #expect(try mismatch.error()?.description.contains("shape mismatch") == true)

    // Weights that only become non-finite after merging (1e300 · 1e300).
    var overflow = GraphBuilder(input: [1, 1])
    overflow.constant("a", shape: [1, 1], [1e300])
    overflow.node("MatMul", ["x", "a"], "m")
    overflow.node("MatMul", ["m", "a"], "y")
    #expect(try overflow.error()?.description.contains("inf") == true)

    // A reshape to an impossible shape.
    var reshape = GraphBuilder(input: [1, 6])
    reshape.constant("shape", shape: [2], [4, -1])
    reshape.node("Reshape", ["x", "shape"], "y")
    #expect(try reshape.error()?.description.contains("reshape") == true)
  }
}
