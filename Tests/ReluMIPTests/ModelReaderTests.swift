import Foundation
import Numerics
import TestSupport
import Testing

@testable import ReluMIP

/// One entry of `Fixtures/onnx/expected.json`: a valid model (inputs, outputs, tolerance) or an
/// invalid one (error_contains).
struct ONNXFixture: Decodable {
  var note: String?
  var inputs: [[Double]]?
  var outputs: [[Double]]?
  var tolerance: Double?
  var inputShape: [Int]?
  var errorContains: String?
  /// The input's element type, `float32` or `float64`.
  var dtype: String?
  /// onnxruntime's outputs of the whole graph (after a final Softmax), where they differ.
  var graphOutputs: [[Double]]?

  enum CodingKeys: String, CodingKey {
    case note, inputs, outputs, tolerance, dtype
    case graphOutputs = "graph_outputs"
    case inputShape = "input_shape"
    case errorContains = "error_contains"
  }

  static let folder = Fixtures.url("onnx")

  /// The table, read once. A broken file yields an empty table, which `tableCoversEveryFixture`
  /// reports.
  static let table: [String: ONNXFixture] = {
    guard
      let data = FileManager.default.contents(
        atPath: folder.appendingPathComponent("expected.json").path),
      let table = try? JSONDecoder().decode([String: ONNXFixture].self, from: data)
    else { return [:] }
    return table
  }()

  static var validNames: [String] { table.filter { $0.value.errorContains == nil }.keys.sorted() }
  static var invalidNames: [String] { table.filter { $0.value.errorContains != nil }.keys.sorted() }
}

@Suite("ONNX fixtures (expected.json)")
struct ONNXFixtureTests {
  @Test func tableCoversEveryFixture() throws {
    let files = try FileManager.default.contentsOfDirectory(atPath: ONNXFixture.folder.path)
      .filter { $0.hasSuffix(".onnx") }.sorted()
    #expect(!files.isEmpty)
    #expect(files == ONNXFixture.table.keys.sorted())
    #expect(ONNXFixture.validNames.count >= 8)
    #expect(ONNXFixture.invalidNames.count >= 4)
  }

  @Test(arguments: ONNXFixture.validNames)
  func validModelReproducesOutputs(name: String) throws {
    let fixture = try #require(ONNXFixture.table[name])
    let path = ONNXFixture.folder.appendingPathComponent(name).path
    let network = try ModelLoader.load(path: path)
    let inputs = try #require(fixture.inputs)
    let outputs = try #require(fixture.outputs)
    let tolerance = try #require(fixture.tolerance)
    try #require(inputs.count == outputs.count, "\(name): inputs and outputs differ in count")
    try #require(!inputs.isEmpty)
    if let shape = fixture.inputShape {
      #expect(network.inputSize == shape.reduce(1, *), "\(name): input size")
      #expect(network.inputShape.reduce(1, *) == shape.reduce(1, *), "\(name): input shape")
    }
    for (index, (input, expected)) in zip(inputs, outputs).enumerated() {
      try #require(input.count == network.inputSize, "\(name) input \(index) size")
      let actual = network.evaluate(input)
      try #require(actual.count == expected.count, "\(name) output \(index) size")
      for (k, (a, e)) in zip(actual, expected).enumerated() {
        #expect(
          a.isApproximatelyEqual(to: e, absoluteTolerance: tolerance, relativeTolerance: tolerance),
          "\(name) input \(index) output \(k): \(a) vs expected \(e) (tolerance \(tolerance))")
      }
      // The reference model (each operation as the file states it: MaxPool as a maximum, not
      // as the searches' ReLU tree) agrees too, in double and in the file's float32.
      let reference = network.reference.evaluate(input)
      let float32 = network.reference.evaluateFloat32(input)
      #expect((float32 == nil) == (fixture.dtype == "float64"), "\(name): precision")
      for (k, e) in expected.enumerated() {
        for (what, value) in [("reference", reference[k]), ("float32", float32?[k] ?? e)] {
          #expect(
            value.isApproximatelyEqual(
              to: e, absoluteTolerance: tolerance, relativeTolerance: tolerance),
            "\(name) input \(index) output \(k): \(what) \(value) vs expected \(e)")
        }
      }
      // The encoding's normal form computes the same function.
      let normalized = try Verifier(network: network).network
      let again = normalized.evaluate(input)
      for (a, b) in zip(actual, again) {
        #expect(a.isApproximatelyEqual(to: b, absoluteTolerance: 1e-9, relativeTolerance: 1e-9))
      }
    }
  }

  @Test(arguments: ONNXFixture.invalidNames)
  func invalidModelThrowsModelError(name: String) throws {
    let fixture = try #require(ONNXFixture.table[name])
    let words = try #require(fixture.errorContains)
    let path = ONNXFixture.folder.appendingPathComponent(name).path
    do {
      let network = try ModelLoader.load(path: path)
      Issue.record("\(name) loaded as a network with \(network.layers.count) layers")
    } catch let error as ModelError {
      // An empty string means any message will do (String.contains("") is false).
      #expect(words.isEmpty || error.description.contains(words), "'\(error)' lacks '\(words)'")
      #expect(error.description.contains(name), "'\(error)' does not name the file")
      #expect(error.file == path)
    }
  }

  @Test(arguments: ["reshape_identity.onnx", "logsoftmax_end.onnx"])
  func finalSoftmaxIsNotedAndKept(name: String) throws {
    let network = try ModelLoader.load(path: ONNXFixture.folder.appendingPathComponent(name).path)
    let op = name.hasPrefix("logsoftmax") ? "LogSoftmax" : "Softmax"
    #expect(
      network.notes.contains { $0.contains("left out of the search") && $0.contains(op) },
      "notes: \(network.notes)")
    // The reference model keeps it, so a counterexample's outputs are the model's.
    #expect(network.reference.outputTransform?.kind.rawValue == op)
  }

  @Test func modelsWithoutSoftmaxHaveNoDropNote() throws {
    for name in ONNXFixture.validNames
    where !name.contains("softmax") && name != "reshape_identity.onnx" {
      let network = try ModelLoader.load(path: ONNXFixture.folder.appendingPathComponent(name).path)
      #expect(!network.notes.contains { $0.contains("dropped") }, "\(name): \(network.notes)")
    }
  }

  @Test func consecutiveAffineLayersAreMergedForTheEncoding() throws {
    let network = try ModelLoader.load(
      path: ONNXFixture.folder.appendingPathComponent("consecutive_affine.onnx").path)
    let normalized = try Verifier(network: network).network
    #expect(normalized.layers.map(\.activation) == [.relu, .identity])
    #expect(normalized.layers.first?.inputSize == 4)
    #expect(normalized.outputSize == 3)
  }

  @Test func tinyMLPHasTheDocumentedLayers() throws {
    let network = try ModelLoader.load(
      path: ONNXFixture.folder.appendingPathComponent("tiny_mlp.onnx").path)
    #expect(network.inputSize == 2)
    #expect(network.outputSize == 2)
    #expect(network.hiddenLayerSizes == [4, 4])
  }
}

@Suite("Model loading errors")
struct ModelLoaderErrorTests {
  @Test func missingFileNamesTheFile() throws {
    let path = "/nonexistent/relumip-\(UUID().uuidString).onnx"
    do {
      _ = try ModelLoader.load(path: path)
      Issue.record("a missing file loaded")
    } catch let error as ModelError {
      #expect(error.description.contains(path))
    }
  }

  @Test func unknownExtensionIsRefused() throws {
    do {
      _ = try ModelLoader.load(path: "model.h5")
      Issue.record("an .h5 file loaded")
    } catch let error as ModelError {
      #expect(error.description.contains("model.h5"))
      #expect(error.description.contains(".onnx"))
    }
  }

  @Test func garbageBytesAreNotAModel() throws {
    let directory = try TemporaryFiles.makeDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let url = directory.appendingPathComponent("garbage.onnx")
    try Data("this is not a protobuf \u{1}\u{2}\u{3}".utf8).write(to: url)
    #expect(throws: ModelError.self) { try ModelLoader.load(path: url.path) }
    // Bytes that parse as an empty message give a model without a graph.
    let empty = directory.appendingPathComponent("empty.onnx")
    try Data().write(to: empty)
    do {
      _ = try ModelLoader.load(path: empty.path)
      Issue.record("an empty file loaded")
    } catch let error as ModelError {
      #expect(error.description.contains("empty.onnx"))
    }
  }
}

@Suite("Network")
struct NetworkTests {
  @Test func denseLayerValidatesItsArguments() {
    #expect(throws: NetworkError.self) {
      try AffineLayer(inputSize: 2, outputSize: 1, weights: [1], bias: [0], activation: .relu)
    }
    #expect(throws: NetworkError.self) {
      try AffineLayer(inputSize: 1, outputSize: 1, weights: [1], bias: [0, 1], activation: .relu)
    }
    #expect(throws: NetworkError.self) {
      try AffineLayer(inputSize: 1, outputSize: 1, weights: [.nan], bias: [0], activation: .relu)
    }
    #expect(throws: NetworkError.self) {
      try AffineLayer(
        inputSize: 1, outputSize: 1, weights: [1], bias: [.infinity], activation: .relu)
    }
    #expect(throws: NetworkError.self) {
      try AffineLayer(inputSize: 0, outputSize: 1, weights: [], bias: [0], activation: .relu)
    }
  }

  @Test func networkChecksThatLayersChain() throws {
    let a = try AffineLayer(
      inputSize: 2, outputSize: 3, weights: Array(repeating: 1, count: 6), bias: [0, 0, 0],
      activation: .relu)
    let b = try AffineLayer(
      inputSize: 2, outputSize: 1, weights: [1, 1], bias: [0], activation: .identity)
    #expect(throws: NetworkError.layerSizesDoNotChain(layer: 1, expected: 3, found: 2)) {
      try Network(layers: [a, b])
    }
    #expect(throws: NetworkError.empty) { try Network(layers: []) }
    #expect(throws: NetworkError.self) { try Network(layers: [a], inputShape: [3]) }
  }

  @Test func forwardPassByHand() throws {
    // y = relu([[1, -1], [2, 1]] x + [0, -1]); out = [1, -2] y + 0.5.
    let hidden = try AffineLayer(
      inputSize: 2, outputSize: 2, weights: [1, -1, 2, 1], bias: [0, -1], activation: .relu)
    let output = try AffineLayer(
      inputSize: 2, outputSize: 1, weights: [1, -2], bias: [0.5], activation: .identity)
    let network = try Network(layers: [hidden, output])
    // x = (1, 3): z = (-2, 4), y = (0, 4), out = -7.5.
    #expect(network.evaluate([1, 3]) == [-7.5])
    #expect(network.preActivations([1, 3]) == [[-2, 4], [-7.5]])
    #expect(network.hiddenLayerSizes == [2])
    #expect(hidden.row(1) == [2, 1])
  }

  @Test func predictedLabelTakesTheLowestIndexAmongTies() throws {
    let layer = try AffineLayer(
      inputSize: 1, outputSize: 3, weights: [0, 1, 1], bias: [0, 0, 0], activation: .identity)
    let network = try Network(layers: [layer])
    #expect(network.predictedLabel([2]) == 1)
    #expect(network.predictedLabel([-2]) == 0)
  }

  @Test func normalizedNetworkComputesTheSameFunction() throws {
    var generator = SplitMix64(seed: 99)
    // identity → relu → identity → identity: the affine layers are merged into their neighbours;
    // a network ending in a ReLU gets an identity output layer.
    func layer(_ input: Int, _ output: Int, _ activation: Activation) throws -> AffineLayer {
      try AffineLayer(
        inputSize: input, outputSize: output,
        weights: (0..<(input * output)).map { _ in generator.uniform(-1, 1) },
        bias: (0..<output).map { _ in generator.uniform(-1, 1) }, activation: activation)
    }
    let cases = [
      try Network(layers: [
        layer(3, 4, .identity), layer(4, 5, .relu), layer(5, 3, .identity), layer(3, 2, .identity),
      ]),
      try Network(layers: [layer(3, 4, .relu), layer(4, 2, .relu)]),
    ]
    for network in cases {
      let normalized = try network.normalizedForEncoding()
      #expect(normalized.layers.last?.activation == .identity)
      #expect(normalized.layers.dropLast().allSatisfy { $0.activation == .relu })
      for _ in 0..<50 {
        let x = (0..<3).map { _ in generator.uniform(-2, 2) }
        let difference = try #require(
          Compare.maxAbsoluteDifference(network.evaluate(x), normalized.evaluate(x)))
        #expect(difference < 1e-12)
      }
    }
  }
}

@Suite("Shipped Fashion-MNIST model (Models/)")
struct FashionModelTests {
  static let model = RepositoryFiles.model("fashion_mlp_50x50.onnx")

  @Test func layersAreAsDocumented() throws {
    let network = try ModelLoader.load(path: Self.model.path)
    #expect(network.inputSize == 784)
    #expect(network.outputSize == 10)
    #expect(network.hiddenLayerSizes == [50, 50])
    #expect(network.layers.map(\.activation) == [.relu, .relu, .identity])
  }

  @Test func logitsReproduceTheReference() throws {
    let network = try ModelLoader.load(path: Self.model.path)
    let images = try rows(
      of: readExamples(RepositoryFiles.model("fashion_test100_images.npy")), expectedCount: 100)
    let logits = try rows(
      of: readExamples(RepositoryFiles.model("fashion_test100_logits.npy")), expectedCount: 100)
    for (index, (image, expected)) in zip(images, logits).enumerated() {
      try #require(image.count == 784)
      #expect(image.allSatisfy { $0 >= 0 && $0 <= 1 }, "image \(index) outside [0, 1]")
      let difference = try #require(
        Compare.maxAbsoluteDifference(network.evaluate(image), expected))
      #expect(difference <= 1e-9, "image \(index): logits differ by \(difference)")
    }
  }

  @Test func predictionsAgreeWithTheLabels() throws {
    let network = try ModelLoader.load(path: Self.model.path)
    let images = try rows(
      of: readExamples(RepositoryFiles.model("fashion_test100_images.npy")), expectedCount: 100)
    let labels = try readExamples(RepositoryFiles.model("fashion_test100_labels.npy")).labels()
    try #require(labels.count == images.count)
    #expect(labels.allSatisfy { (0..<10).contains($0) })
    let correct = zip(images, labels).filter { network.predictedLabel($0.0) == $0.1 }.count
    // Models/README.md: 87 of the first 100 test images are classified correctly.
    #expect(correct >= 80, "\(correct) of 100 correct")
    #expect(correct == 87)
  }
}

@Suite("Seed network (../shared/seed)", .tags(.shared), .sharedData)
struct SeedNetworkTests {
  @Test func logitsAndLabelsReproduceTheReference() throws {
    let network = try ModelLoader.load(path: SharedData.url("seed/mnist_mlp_50x50.onnx").path)
    #expect(network.inputSize == 784)
    #expect(network.hiddenLayerSizes == [50, 50])
    let images = try rows(
      of: readExamples(SharedData.url("seed/mnist_first100_images.npy")), expectedCount: 100)
    let logits = try rows(
      of: readExamples(SharedData.url("seed/mnist_first100_logits.npy")), expectedCount: 100)
    let predicted = try readExamples(SharedData.url("seed/mnist_first100_predicted.npy")).labels()
    try #require(predicted.count == 100)
    for index in 0..<100 {
      let outputs = network.evaluate(images[index])
      let difference = try #require(Compare.maxAbsoluteDifference(outputs, logits[index]))
      #expect(difference <= 1e-9, "image \(index): logits differ by \(difference)")
      #expect(network.predictedLabel(images[index]) == predicted[index], "image \(index)")
    }
    // The reference case: example 26 is a 4 with runner-up 9.
    #expect(predicted[26] == 4)
    let (label, others) = try Verifier(network: network).labels(at: images[26])
    #expect(label == 4)
    #expect(others.first == 9)
  }
}
