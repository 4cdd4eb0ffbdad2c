import Foundation
import Testing

@testable import ReluMIP

/// A float32 tensor stored as raw_data, as PyTorch writes weights.
func rawFloatTensor(_ name: String, dims: [Int], _ values: [Float]) -> Onnx_TensorProto {
  var tensor = Onnx_TensorProto()
  tensor.name = name
  tensor.dims = dims.map(Int64.init)
  tensor.dataType = 1
  tensor.rawData = values.withUnsafeBufferPointer { Data(buffer: $0) }
  return tensor
}

@Suite("ONNX: what a file claims is held to the weights it holds")
struct ONNXSizeLimitTests {
  @Test func denseLayerPastTwoToThe24WeightsLoadsWhenTheWeightsArePresent() throws {
    // 4,097 × 4,096 = 16,781,312 weights, the smallest square-ish layer past 2²⁴ (the old
    // limit, which refused a real network's 3,136 × 6,272 MatMul). Row k of W1 repeats row
    // k mod 9, so the file is built by copying rows and the expected outputs sum 9 rows; every
    // value is a small multiple of 1/64, so they are exact in double precision.
    let (inputs, hidden, period) = (4097, 4096, 9)
    let rows: [[Float]] = (0..<period).map { k in
      (0..<hidden).map { h in
        let step: Int = (k * 31 + h * 17) % 9 - 4
        return Float(step) / 8
      }
    }
    var w1: [Float] = []
    w1.reserveCapacity(inputs * hidden)
    for k in 0..<inputs { w1 += rows[k % period] }
    let b1 = (0..<hidden).map { Float($0 % 5 - 2) / 4 }
    let w2 = (0..<hidden * 2).map { Float($0 % 7 - 3) / 32 }
    var builder = GraphBuilder(input: [1, inputs])
    builder.graph.initializer += [
      rawFloatTensor("W1", dims: [inputs, hidden], w1), rawFloatTensor("b1", dims: [hidden], b1),
      rawFloatTensor("W2", dims: [hidden, 2], w2),
    ]
    w1 = []
    builder.node("MatMul", ["x", "W1"], "h")
    builder.node("Add", ["h", "b1"], "a")
    builder.node("Relu", ["a"], "r")
    builder.node("MatMul", ["r", "W2"], "y")
    let network = try builder.network()
    #expect(network.layers.map(\.inputSize) == [inputs, hidden])
    #expect(network.layers.map(\.outputSize) == [hidden, 2])

    let x = (0..<inputs).map { Double($0 % 7 - 3) / 2 }
    var xByRow = [Double](repeating: 0, count: period)
    for k in 0..<inputs { xByRow[k % period] += x[k] }
    let relu: [Double] = (0..<hidden).map { h in
      var sum = Double(b1[h])
      for r in 0..<period { sum += Double(rows[r][h]) * xByRow[r] }
      return max(0, sum)
    }
    var expected = [0.0, 0.0]
    for h in 0..<hidden {
      for o in 0..<2 { expected[o] += Double(w2[h * 2 + o]) * relu[h] }
    }
    #expect(network.evaluate(x) == expected)
  }

  /// A tensor whose dims claim far more values than its data holds, and where it was read.
  struct LyingTensor: CustomTestStringConvertible, Sendable {
    var name: String
    var tensor: Onnx_TensorProto
    /// The words the refusal must contain: what the data really holds.
    var reason: String
    var testDescription: String { name }
  }

  static let lyingTensors: [LyingTensor] = {
    var typed = Onnx_TensorProto()
    typed.name = "W"
    typed.dims = [1 << 20, 1 << 20]
    typed.dataType = 1
    typed.floatData = [1, 2, 3, 4]
    // (2³¹ − 1)³ overflows Int.
    let overflowing = rawFloatTensor(
      "W", dims: [Int(Int32.max), Int(Int32.max), Int(Int32.max)], [1, 2])
    return [
      LyingTensor(
        name: "raw_data: 2⁴⁰ values claimed, 4 held",
        tensor: rawFloatTensor("W", dims: [1 << 20, 1 << 20], [1, 2, 3, 4]),
        reason: "dims [1048576, 1048576] claim 1099511627776 values of 4 bytes, but its raw_data"
          + " holds 16 bytes"),
      LyingTensor(
        name: "float_data: 2⁴⁰ values claimed, 4 held", tensor: typed,
        reason: "claim 1099511627776 values, but its float_data holds 4"),
      LyingTensor(
        name: "raw_data: a claim that overflows Int", tensor: overflowing,
        reason: "claim more than \(Int.max) values of 4 bytes, but its raw_data holds 8 bytes"),
    ]
  }()

  @Test(arguments: lyingTensors)
  func tensorClaimingMoreThanItHoldsIsRefusedNamingIt(_ lying: LyingTensor) throws {
    // Allocating what the dims claim (8 TiB as Double) would end the test process, so a
    // refusal shows the claim was checked first. As an initializer and as a Constant's value:
    var initializer = GraphBuilder(input: [1, 2])
    initializer.graph.initializer.append(lying.tensor)
    initializer.node("MatMul", ["x", "W"], "y")
    let fromInitializer = try #require(try initializer.error())
    #expect(fromInitializer.location == "initializer 'W'")
    #expect(fromInitializer.reason.contains(lying.reason), "\(fromInitializer)")

    var constant = GraphBuilder(input: [1, 2])
    var node = Onnx_NodeProto()
    node.opType = "Constant"
    node.name = "weights"
    node.output = ["W"]
    var value = Onnx_AttributeProto()
    value.name = "value"
    value.type = .tensor
    value.t = lying.tensor
    node.attribute = [value]
    constant.graph.node.append(node)
    constant.node("MatMul", ["x", "W"], "y")
    let fromConstant = try #require(try constant.error())
    #expect(fromConstant.location == "node 'weights' value")
    #expect(fromConstant.reason.contains(lying.reason), "\(fromConstant)")
  }

  @Test func tinyModelsClaimingHugeDataAreRefused() throws {
    // A declared input of 2⁴⁰ values with no weights to justify it.
    var input = GraphBuilder(input: [1, 1 << 40])
    input.node("Relu", ["x"], "y")
    let declared = try #require(try input.error())
    #expect(declared.location == "input 'x'")
    #expect(
      declared.reason.contains(
        "shape [1, 1099511627776] holds more than the 16777216 values allowed for a model with 0"
          + " weight values"), "\(declared)")

    // A Reshape cannot claim more than the data holds, nor can its shape tensor claim more
    // entries than it holds.
    var reshape = GraphBuilder(input: [1, 4])
    reshape.constant("shape", shape: [2], [Double(1 << 20), Double(1 << 20)])
    reshape.node("Reshape", ["x", "shape"], "y")
    #expect(try reshape.error()?.reason.contains("cannot reshape shape [1, 4] (4 values)") == true)
    var shape = Onnx_TensorProto()
    shape.name = "shape"
    shape.dims = [1 << 40]
    shape.dataType = 7
    shape.int64Data = [2, 2]
    var lyingShape = GraphBuilder(input: [1, 4])
    lyingShape.graph.initializer.append(shape)
    lyingShape.node("Reshape", ["x", "shape"], "y")
    let claim = try #require(try lyingShape.error())
    #expect(claim.location == "initializer 'shape'")
    #expect(claim.reason.contains("claim 1099511627776 values, but its int64_data holds 2"))
  }

  @Test func layersWithoutWeightsShareOneBudget() throws {
    // A ReLU straight after the input is a diagonal layer, held sparse: 2²² values each. A file
    // without weights may hold 2²⁴ in all, so four such layers fit and a fifth is refused
    // (each alone would fit, so a few dozen bytes of ReLUs could otherwise hold gigabytes).
    let width = 1 << 22
    var four = GraphBuilder(input: [1, width])
    var five = GraphBuilder(input: [1, width])
    for k in 1...5 {
      let from = k == 1 ? "x" : "r\(k - 1)"
      if k < 5 { four.node("Relu", [from], k == 4 ? "y" : "r\(k)") }
      five.node("Relu", [from], k == 5 ? "y" : "r\(k)")
    }
    #expect(try four.network().layers.count == 4)
    let error = try #require(try five.error())
    #expect(error.location == "node 'relu_4' (Relu)")
    #expect(
      error.reason.contains(
        "a layer holding 4194304 weights would need more than the 16777216 values allowed for a"
          + " model with 0 weight values, with 16777216 in the layers before it"), "\(error)")
  }
}

@Suite("ONNX: the reader holds only the paths later nodes read")
struct ONNXPathReleaseTests {
  @Test func aChainOfElementwiseOpsKeepsOnlyTheLastPath() throws {
    // Each Mul copies the pending dense map of the MatMul before it; when every node's path was
    // kept, a 17 kB file with 20 of them held the 2,880 × 2,880 map 20 times (1.4 GB).
    var builder = GraphBuilder(input: [4, 8])
    builder.constant("W", shape: [8, 8], (0..<64).map { Double($0 % 5) })
    builder.constant("s", shape: [], [2])
    builder.node("MatMul", ["x", "W"], "m0")
    for i in 0..<20 { builder.node("Mul", ["m\(i)", "s"], "m\(i + 1)") }
    let model = try Onnx_ModelProto(serializedBytes: builder.data(output: "m20"))
    var interpreter = GraphInterpreter(file: "chain.onnx", graph: model.graph)
    let network = try interpreter.run()
    #expect(Array(interpreter.paths.keys) == ["m20"])

    let x = (0..<32).map { Double($0 % 3) }
    var expected = [Double](repeating: 0, count: 32)
    for row in 0..<4 {
      for column in 0..<8 {
        for k in 0..<8 {
          let weight: Int = (k * 8 + column) % 5
          expected[row * 8 + column] += x[row * 8 + k] * Double(weight << 20)
        }
      }
    }
    #expect(network.evaluate(x) == expected)
  }
}
