import Foundation
import TestSupport
import Testing

@testable import ReluMIP

@Suite("Captioned counterexample pictures and their font")
struct CounterexamplePictureTests {
  static let fashionNames = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
    "Ankle boot",
  ]

  /// A 28×28 "image" and a counterexample that raises one pixel by 0.25 and lowers another by
  /// 0.125, so the difference's extent is 0.25.
  static func images() -> (original: [Double], counterexample: [Double]) {
    let original = (0..<784).map { Double($0 % 28) / 27 }
    var counterexample = original
    counterexample[100] = min(1, original[100] + 0.25)
    counterexample[500] -= 0.125
    return (original, counterexample)
  }

  static let caption = CounterexamplePicture.Caption(
    originalLabel: 9, originalConfidence: 0.97, counterexampleLabel: 7,
    counterexampleConfidence: 0.61, normName: "L1", distance: 0.375, labelNames: fashionNames)

  /// Whether any pixel of the rectangle is the caption's ink.
  static func hasInk(_ image: PNGImage, x: Range<Int>, y: Range<Int>) -> Bool {
    y.contains { row in x.contains { image[$0, row] == CounterexamplePicture.ink } }
  }

  @Test func captionsSayWhatThePanelsShow() {
    #expect(
      Self.caption.texts == [
        "label 9 (Ankle boot) p=0.97", "label 7 (Sneaker) p=0.61", "diff, L1=0.375",
      ])
    var unnamed = Self.caption
    unnamed.labelNames = nil
    unnamed.normName = "Linf"
    unnamed.distance = 0.02
    unnamed.originalConfidence = 0.9999
    unnamed.counterexampleConfidence = 1
    #expect(unnamed.texts == ["label 9 p>0.99", "label 7 p=1.00", "diff, Linf=0.02"])
    #expect(CounterexamplePicture.Caption.probability(0.001) == "<0.01")
    #expect(CounterexamplePicture.Caption.probability(0) == "=0.00")
    #expect(CounterexamplePicture.scaleLabels(extent: 0.02) == ("-0.02", "0", "+0.02"))
  }

  @Test func captionedPictureDecodesWithTextAboveThePanels() throws {
    let (original, counterexample) = Self.images()
    let scale = 4
    let image = CounterexamplePicture.make(
      original: original, counterexample: counterexample, height: 28, width: 28,
      caption: Self.caption, scale: scale)
    let layout = CounterexamplePicture.Layout(
      height: 28, width: 28, scale: scale, caption: Self.caption, extent: 0.25)
    #expect(image.width == layout.imageWidth && image.height == layout.imageHeight)
    // Room above the panels for the captions and below them for the colour bar.
    #expect(image.height > 28 * scale + 4 * scale + 2 * BitmapFont.height(scale: 2))
    #expect(image.width >= 3 * 28 * scale + 4 * 2 * scale)

    // The file: its header gives the size, and its IDAT inflates to one filter byte and
    // width × 3 samples per row, which are the picture's pixels.
    let chunks = try PNGReader.chunks([UInt8](try image.encoded()))
    #expect(chunks.map(\.type) == ["IHDR", "IDAT", "IEND"])
    #expect(PNGReader.bigEndian(chunks[0].data[0..<4]) == UInt32(image.width))
    #expect(PNGReader.bigEndian(chunks[0].data[4..<8]) == UInt32(image.height))
    let rowLength = 1 + image.width * 3
    let raw = try PNGReader.inflate(chunks[1].data, expected: image.height * rowLength)
    try #require(raw.count == image.height * rowLength)
    var pixels: [UInt8] = []
    for row in 0..<image.height {
      #expect(raw[row * rowLength] == 0, "filter type of row \(row)")
      pixels += raw[(row * rowLength + 1)..<((row + 1) * rowLength)]
    }
    #expect(pixels == image.pixels)

    // Each panel's caption is above it, within its column; none is in the margin above.
    let captionRows = layout.gap..<(layout.panelTop - scale)
    for panel in 0..<3 {
      let column =
        layout.columnLeft(panel)..<(layout.columnLeft(panel) + layout.columnWidths[panel])
      #expect(Self.hasInk(image, x: column, y: captionRows), "caption of panel \(panel)")
    }
    #expect(!Self.hasInk(image, x: 0..<image.width, y: 0..<layout.gap))
    #expect(!Self.hasInk(image, x: 0..<layout.gap, y: 0..<image.height))
    // The bar: full blue at −extent, white at 0, full red at +extent; its labels below it.
    let barRow = layout.barTop + layout.barHeight / 2
    #expect(image[layout.barLeft, barRow] == [0, 0, 255])
    #expect(image[layout.barLeft + layout.barWidth / 2, barRow] == [255, 255, 255])
    #expect(image[layout.barLeft + layout.barWidth - 1, barRow] == [255, 0, 0])
    let tickRows = (layout.barTop + layout.barHeight)..<image.height
    let bar = layout.barLeft..<(layout.barLeft + layout.barWidth)
    #expect(Self.hasInk(image, x: bar, y: tickRows))
    #expect(!Self.hasInk(image, x: 0..<layout.columnLeft(2), y: tickRows))
  }

  @Test func aLongClassNameWidensItsColumnInsteadOfBreaking() {
    let layout = CounterexamplePicture.Layout(
      height: 28, width: 28, scale: 4, caption: Self.caption, extent: 0.25)
    #expect(layout.captionLines[0] == ["label 9", "(Ankle boot)", "p=0.97"])
    #expect(layout.columnWidths[0] == BitmapFont.width(of: "(Ankle boot)", scale: 2))
    #expect(layout.columnWidths[2] == 28 * 4)
    // Small panels: captions in the font's own size.
    let small = CounterexamplePicture.Layout(
      height: 28, width: 28, scale: 2, caption: Self.caption, extent: 0.25)
    #expect(small.textScale == 1)
  }

  @Test func theFontDrawsEveryCharacterTheCaptionsUse() {
    var texts: [String] = []
    for norm in PerturbationNorm.allCases {
      for (label, distance) in zip(0..<10, [0, 1e-5, 0.02, 0.375, 1, 2.5, 12, 123.4, 5e7, 0.1]) {
        let caption = CounterexamplePicture.Caption(
          originalLabel: label, originalConfidence: Double(label) / 9,
          counterexampleLabel: 9 - label, counterexampleConfidence: 1 - 1e-9 * Double(label),
          normName: norm.asciiName, distance: distance, labelNames: Self.fashionNames)
        texts += caption.texts
        let ticks = CounterexamplePicture.scaleLabels(extent: distance)
        texts += [ticks.low, ticks.zero, ticks.high]
      }
    }
    texts.append("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,-+=:/()|?<>")
    let missing = Set(texts.joined().filter { BitmapFont.glyphs[$0] == nil })
    #expect(missing.isEmpty, "no glyph for \(missing.sorted())")
    for (character, rows) in BitmapFont.glyphs {
      #expect(rows.count == BitmapFont.glyphHeight, "'\(character)'")
      #expect(rows.allSatisfy { $0 < 1 << BitmapFont.glyphWidth }, "'\(character)'")
    }
    // A character outside the font shows as the replacement, not as nothing.
    #expect(BitmapFont.glyph("é") == BitmapFont.glyphs["?"])
  }

  @Test func textLandsWhereItIsDrawn() {
    var image = PNGImage(width: 20, height: 12, colorType: .rgb, fill: [128, 128, 128])
    BitmapFont.draw("1", into: &image, x: 3, y: 2, scale: 2, color: [0, 0, 0])
    // '1' has ink in its top row at column 2 only: pixels (3 + 4, 2) to (3 + 5, 3).
    #expect(image[7, 2] == [0, 0, 0] && image[8, 3] == [0, 0, 0])
    #expect(image[5, 2] == [128, 128, 128] && image[9, 2] == [128, 128, 128])
    // Clipped at the edges, not trapped.
    BitmapFont.draw("|||||", into: &image, x: 15, y: 8, scale: 1, color: [0, 0, 0])
  }

  @Test func probabilitiesFollowTheModelsOutputFunction() throws {
    let logits = [2.0, -1.0, 0.5]
    var reference = ReferenceModel(operations: [], precision: .float64)
    let plain = reference.probabilities(logits: logits)
    #expect(abs(plain.reduce(0, +) - 1) < 1e-12)
    #expect(plain[0] > plain[2] && plain[2] > plain[1])
    #expect(abs(plain[0] - exp(2) / (exp(2) + exp(-1) + exp(0.5))) < 1e-12)
    for kind in [ReferenceModel.OutputTransform.Kind.softmax, .logSoftmax] {
      reference.outputTransform = .init(kind: kind, file: "m.onnx", location: "node")
      let probabilities = reference.probabilities(logits: logits)
      #expect(zip(probabilities, plain).allSatisfy { abs($0 - $1) < 1e-12 }, "\(kind)")
      #expect(reference.probabilities(logits: [.infinity, 0]).allSatisfy { $0.isNaN })
    }
    // A model ending in Softmax outputs these probabilities itself.
    reference.outputTransform = .init(kind: .softmax, file: "m.onnx", location: "node")
    #expect(
      zip(reference.modelOutputs(logits: logits), plain).allSatisfy { abs($0 - $1) < 1e-12 })
  }

  @Test func batchPicturesAreCaptioned() throws {
    let directory = try TemporaryFiles.makeDirectory("relumip-pictures")
    defer { try? FileManager.default.removeItem(at: directory) }
    let network = try ModelLoader.load(path: RepositoryFiles.model("fashion_mlp_50x50.onnx").path)
    let examples = try ExampleReader.read(
      path: RepositoryFiles.model("fashion_test100_images.npy").path)
    var configuration = BatchConfiguration(model: "m", images: "i", norm: .linf)
    configuration.pictureDirectory = directory.path
    configuration.imageSize = (28, 28)
    configuration.labelNames = Self.fashionNames
    let runner = try BatchRunner(
      network: network, examples: examples, configuration: configuration)
    // Example 4 at L∞ 0.02 falls to the attack at once.
    let record = runner.record(for: BatchInstance(example: 4, delta: 0.02))
    try #require(record.result == .counterexample, "\(record.reason ?? "")")
    let path = try #require(record.image, "\(record.imageError ?? "no picture")")
    let file = try #require(FileManager.default.contents(atPath: path))
    let header = try PNGReader.chunks([UInt8](file))[0].data
    // Taller than the panels and their margins alone: the captions and the colour bar.
    #expect(PNGReader.bigEndian(header[4..<8]) > UInt32(28 * 4 + 2 * 2 * 4))

    let center = try examples.example(4)
    let counterexample = try #require(record.counterexample)
    let label = try Verifier(network: network).labels(at: center).label
    let caption = CounterexamplePicture.Caption(
      center: center,
      counterexample: Counterexample(
        input: counterexample, outputs: [], predictedLabel: try #require(record.predictedLabel),
        distance: try #require(record.distance)),
      network: network, norm: .linf, labelNames: Self.fashionNames)
    #expect(caption.originalLabel == label)
    #expect(caption.texts[0].hasPrefix("label \(label) (\(Self.fashionNames[label]))"))
    #expect(caption.originalConfidence > 0.5 && caption.counterexampleConfidence > 0)
  }
}
