import Foundation
import TestSupport
import Testing

@testable import ReluMIP

/// `external_data.onnx` with its weights in `external_data.onnx.data`, copied into a temporary
/// folder (`outer/model/`) where a test can edit the model's protobuf and the data file.
struct ExternalDataCopy {
  static let name = "external_data.onnx"
  static let dataName = "external_data.onnx.data"

  /// The temporary folder, holding `model/`; removed by `remove()`.
  let outer: URL
  /// The model's folder.
  let folder: URL
  var model: Onnx_ModelProto

  var modelURL: URL { folder.appendingPathComponent(Self.name) }
  var dataURL: URL { folder.appendingPathComponent(Self.dataName) }

  init() throws {
    outer = try TemporaryFiles.makeDirectory("relumip-external-data")
    folder = outer.appendingPathComponent("model", isDirectory: true)
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try FileManager.default.copyItem(
      at: ONNXFixture.folder.appendingPathComponent(Self.dataName),
      to: folder.appendingPathComponent(Self.dataName))
    model = try Onnx_ModelProto(
      serializedBytes: Data(contentsOf: ONNXFixture.folder.appendingPathComponent(Self.name)))
  }

  func remove() { try? FileManager.default.removeItem(at: outer) }

  /// Sets (or with nil removes) `key` in the external_data entries of initializer `tensor`.
  mutating func set(_ key: String, _ value: String?, of tensor: String = "W0") throws {
    let index = try #require(model.graph.initializer.firstIndex { $0.name == tensor })
    var entries = model.graph.initializer[index].externalData.filter { $0.key != key }
    if let value {
      var entry = Onnx_StringStringEntryProto()
      entry.key = key
      entry.value = value
      entries.append(entry)
    }
    model.graph.initializer[index].externalData = entries
  }

  /// Writes the model and reads it back with the reader, from its path.
  func read() throws -> Network {
    let bytes: Data = try model.serializedBytes()
    try bytes.write(to: modelURL)
    return try ONNXReader.read(path: modelURL.path)
  }
}

/// A model with its external data edited to be refused, and words the refusal must hold.
struct ExternalDataRefusal: Sendable, CustomTestStringConvertible {
  var testDescription: String
  /// Words of the reason, beside the model file and the initializer.
  var reason: String
  var edit: @Sendable (inout ExternalDataCopy) throws -> Void
}

@Suite("ONNX: external tensor data")
struct ONNXExternalDataTests {
  /// The fixture is in expected.json's valid models, so the fixture suites check its forward
  /// pass (`validModelReproducesOutputs`) and its reference model
  /// (`referenceModelReproducesOnnxruntime`) against onnxruntime.
  @Test func fixtureIsAValidModelOfExpectedJSON() throws {
    #expect(ONNXFixture.validNames.contains(ExternalDataCopy.name))
    let network = try ModelLoader.load(
      path: ONNXFixture.folder.appendingPathComponent(ExternalDataCopy.name).path)
    #expect(network.inputSize == 6)
    #expect(network.hiddenLayerSizes == [8, 5])
    #expect(network.outputSize == 3)
    #expect(network.reference.precision == .float32)
  }

  /// The same model with its data moved inline reads to the same network, bit for bit.
  @Test func readsAsTheSameModelWithItsDataInline() throws {
    var copy = try ExternalDataCopy()
    defer { copy.remove() }
    let data = try Data(contentsOf: copy.dataURL)
    for index in copy.model.graph.initializer.indices {
      var tensor = copy.model.graph.initializer[index]
      let entries = Dictionary(uniqueKeysWithValues: tensor.externalData.map { ($0.key, $0.value) })
      let offset = try #require(entries["offset"].flatMap { Int($0) })
      let length = try #require(entries["length"].flatMap { Int($0) })
      try #require(offset + length <= data.count)
      tensor.rawData = data.subdata(in: offset..<(offset + length))
      tensor.dataLocation = .default
      tensor.externalData = []
      copy.model.graph.initializer[index] = tensor
    }
    let inline = try ONNXReader.parse(copy.model.serializedBytes(), file: "inline.onnx")
    let external = try ModelLoader.load(
      path: ONNXFixture.folder.appendingPathComponent(ExternalDataCopy.name).path)
    #expect(inline.layers == external.layers)
  }

  /// Offset and length are optional (0 and the rest of the file); a location may name a file in
  /// a subfolder, through a symbolic link that stays inside the model's folder.
  @Test func offsetAndLengthDefaultAndSubfoldersAndInnerLinksAreRead() throws {
    var copy = try ExternalDataCopy()
    defer { copy.remove() }
    let data = try Data(contentsOf: copy.dataURL)
    let expected = try ModelLoader.load(
      path: ONNXFixture.folder.appendingPathComponent(ExternalDataCopy.name).path)
    // b2 (3 floats at offset 464) alone in weights/b2.bin, named through a link beside the model.
    let weights = copy.folder.appendingPathComponent("weights", isDirectory: true)
    try FileManager.default.createDirectory(at: weights, withIntermediateDirectories: true)
    try data.subdata(in: 464..<476).write(to: weights.appendingPathComponent("b2.bin"))
    try FileManager.default.createSymbolicLink(
      atPath: copy.folder.appendingPathComponent("b2.link").path,
      withDestinationPath: "weights/b2.bin")
    try copy.set("location", "./b2.link", of: "b2")
    try copy.set("offset", nil, of: "b2")
    try copy.set("length", nil, of: "b2")
    // W0 at offset 0 without an offset; b0 in the subfolder's copy of the whole file.
    try copy.set("offset", nil, of: "W0")
    try FileManager.default.copyItem(
      at: copy.dataURL, to: weights.appendingPathComponent("all.data"))
    try copy.set("location", "weights/all.data", of: "b0")
    #expect(try copy.read().layers == expected.layers)
  }

  /// A verification run on the model ends in a counterexample that the re-check confirms on the
  /// model as read from its data file (in float32 as well as in double).
  @Test func verifyFindsACounterexampleTheReferenceModelConfirms() throws {
    let network = try ModelLoader.load(
      path: ONNXFixture.folder.appendingPathComponent(ExternalDataCopy.name).path)
    let center = try #require(ONNXFixture.table[ExternalDataCopy.name]?.inputs?.first)
    let region = try InputRegion(center: center, norm: .linf, radius: 2, box: nil)
    let result = try Verifier(network: network).verify(region: region, options: .init())
    #expect(result.verdict == .counterexample, "\(result.reason ?? "")")
    let found = try #require(result.counterexample)
    #expect(found.predictedLabel != result.label)
    let goal = OutputGoal.labelChange(label: result.label, target: found.predictedLabel)
    let (again, margin) = Counterexample.check(
      found.input, network: network, region: region, goal: goal)
    #expect(again == found)
    #expect(margin > 0)
  }

  /// A model given as bytes has no folder to find its data in.
  @Test func modelGivenAsBytesIsRefused() throws {
    let data = try Data(
      contentsOf: ONNXFixture.folder.appendingPathComponent(ExternalDataCopy.name))
    do {
      _ = try ONNXReader.parse(data, file: "bytes.onnx")
      Issue.record("a model with external data was read from bytes")
    } catch let error as ModelError {
      #expect(error.file == "bytes.onnx")
      #expect(error.location == "initializer 'W0'")
      #expect(error.reason.contains("given as bytes"), "\(error)")
      #expect(error.reason.contains(ExternalDataCopy.dataName), "\(error)")
    }
  }

  static let refusals: [ExternalDataRefusal] = [
    ExternalDataRefusal(testDescription: "a '..' component", reason: "'..' component") { copy in
      // The file is there: the location is refused, not a missing file.
      try FileManager.default.copyItem(
        at: copy.dataURL, to: copy.outer.appendingPathComponent("outside.data"))
      try copy.set("location", "../outside.data")
    },
    ExternalDataRefusal(testDescription: "a '..' inside the path", reason: "'..' component") {
      copy in
      try copy.set("location", "sub/../\(ExternalDataCopy.dataName)")
    },
    ExternalDataRefusal(testDescription: "an absolute location", reason: "absolute path") { copy in
      try copy.set("location", copy.dataURL.path)
    },
    ExternalDataRefusal(
      testDescription: "a symbolic link out of the folder", reason: "outside the model's folder"
    ) { copy in
      let outside = copy.outer.appendingPathComponent("secret.data")
      try FileManager.default.copyItem(at: copy.dataURL, to: outside)
      try FileManager.default.createSymbolicLink(
        atPath: copy.folder.appendingPathComponent("link.data").path,
        withDestinationPath: outside.path)
      try copy.set("location", "link.data")
    },
    ExternalDataRefusal(testDescription: "a missing data file", reason: "does not exist") { copy in
      try copy.set("location", "absent.onnx.data")
    },
    ExternalDataRefusal(testDescription: "a folder", reason: "not a regular file") { copy in
      try FileManager.default.createDirectory(
        at: copy.folder.appendingPathComponent("sub"), withIntermediateDirectories: true)
      try copy.set("location", "sub")
    },
    ExternalDataRefusal(testDescription: "an offset past the end", reason: "past the end") {
      copy in
      try copy.set("offset", "100000")
    },
    ExternalDataRefusal(testDescription: "a negative offset", reason: "offset -4 is negative") {
      copy in
      try copy.set("offset", "-4")
    },
    ExternalDataRefusal(testDescription: "a non-numeric length", reason: "not a whole number") {
      copy in
      try copy.set("length", "192 bytes")
    },
    ExternalDataRefusal(testDescription: "a huge offset", reason: "too large") { copy in
      try copy.set("offset", "99999999999999999999999")
    },
    ExternalDataRefusal(
      testDescription: "a length that differs from the dims", reason: "length 188"
    ) { copy in
      try copy.set("length", "188")
    },
    ExternalDataRefusal(
      testDescription: "no length and the wrong bytes to the end", reason: "no length given"
    ) { copy in
      try copy.set("length", nil)
    },
    ExternalDataRefusal(testDescription: "a truncated data file", reason: "truncated") { copy in
      // 180 of the 192 bytes of W0, the first tensor.
      let data = try Data(contentsOf: copy.dataURL)
      try data.prefix(180).write(to: copy.dataURL)
    },
    ExternalDataRefusal(testDescription: "no location", reason: "no location") { copy in
      try copy.set("location", nil)
    },
    ExternalDataRefusal(testDescription: "a key given twice", reason: "'offset' twice") { copy in
      let index = try #require(copy.model.graph.initializer.firstIndex { $0.name == "W0" })
      var entry = Onnx_StringStringEntryProto()
      entry.key = "offset"
      entry.value = "0"
      copy.model.graph.initializer[index].externalData.append(entry)
    },
    ExternalDataRefusal(
      testDescription: "entries without data_location EXTERNAL", reason: "not EXTERNAL"
    ) { copy in
      let index = try #require(copy.model.graph.initializer.firstIndex { $0.name == "W0" })
      copy.model.graph.initializer[index].dataLocation = .default
    },
    ExternalDataRefusal(testDescription: "data inline as well", reason: "inline as well") { copy in
      let index = try #require(copy.model.graph.initializer.firstIndex { $0.name == "W0" })
      copy.model.graph.initializer[index].floatData = [Float](repeating: 0, count: 48)
    },
    ExternalDataRefusal(
      testDescription: "dims claiming more than a model may hold", reason: "need more than"
    ) { copy in
      let index = try #require(copy.model.graph.initializer.firstIndex { $0.name == "W0" })
      copy.model.graph.initializer[index].dims = [1 << 20, 1 << 20]
    },
  ]

  @Test(arguments: refusals)
  func refusalNamesTheFileTheTensorAndTheReason(_ refusal: ExternalDataRefusal) throws {
    var copy = try ExternalDataCopy()
    defer { copy.remove() }
    try refusal.edit(&copy)
    do {
      let network = try copy.read()
      Issue.record("read as a network with \(network.layers.count) layers")
    } catch let error as ModelError {
      #expect(error.file == copy.modelURL.path)
      #expect(error.description.contains(ExternalDataCopy.name), "\(error)")
      #expect(error.location == "initializer 'W0'", "\(error)")
      #expect(error.reason.contains(refusal.reason), "'\(error)' lacks '\(refusal.reason)'")
    }
  }

  /// A data file cut after its first tensors: the first tensor that runs past its end is named.
  @Test func aLaterTensorPastTheEndIsRefusedNamingIt() throws {
    var copy = try ExternalDataCopy()
    defer { copy.remove() }
    // W0 and b0 are whole (224 bytes); W1 (160 bytes at 224) is cut.
    try Data(contentsOf: copy.dataURL).prefix(300).write(to: copy.dataURL)
    do {
      _ = try copy.read()
      Issue.record("a truncated data file was read")
    } catch let error as ModelError {
      #expect(error.location == "initializer 'W1'", "\(error)")
      #expect(error.reason.contains("is 300 bytes"), "\(error)")
    }
  }

  /// A Constant node's tensor may be external too.
  @Test func aConstantNodeTensorIsReadFromTheDataFile() throws {
    let folder = try TemporaryFiles.makeDirectory("relumip-external-constant")
    defer { try? FileManager.default.removeItem(at: folder) }
    var builder = GraphBuilder(input: [1, 2])
    builder.node("Mul", ["x", "factor"], "y")
    var tensor = Onnx_TensorProto()
    tensor.name = "factor_value"
    tensor.dims = [2]
    tensor.dataType = 11  // double
    tensor.dataLocation = .external
    var entry = Onnx_StringStringEntryProto()
    entry.key = "location"
    entry.value = "factor.bin"
    tensor.externalData = [entry]
    var attribute = Onnx_AttributeProto()
    attribute.name = "value"
    attribute.type = .tensor
    attribute.t = tensor
    var constant = Onnx_NodeProto()
    constant.opType = "Constant"
    constant.name = "factor"
    constant.output = ["factor"]
    constant.attribute = [attribute]
    builder.graph.node.insert(constant, at: 0)
    let values: [Double] = [2, -3]
    var bytes = Data()
    for value in values {
      withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }
    try bytes.write(to: folder.appendingPathComponent("factor.bin"))
    let path = folder.appendingPathComponent("constant.onnx")
    try builder.data().write(to: path)
    let network = try ONNXReader.read(path: path.path)
    #expect(network.evaluate([1, 1]) == [2, -3])
  }
}
