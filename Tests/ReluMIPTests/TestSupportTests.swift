import Foundation
import ReluMIP
import TestSupport
import Testing

/// The helpers the other tests stand on.
@Suite("Test support")
struct TestSupportTests {
  @Test func splitMix64MatchesTheReferenceOutputs() {
    // The reference implementation's outputs (Vigna, splitmix64.c).
    var zero = SplitMix64(seed: 0)
    #expect(zero.next() == 0xE220_A839_7B1D_CDAF)
    #expect(zero.next() == 0x6E78_9E6A_A1B9_65F4)
    var generator = SplitMix64(seed: 1_234_567)
    let expected: [UInt64] = [
      6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423,
      4_593_380_528_125_082_431, 16_408_922_859_458_223_821,
    ]
    #expect((0..<5).map { _ in generator.next() } == expected)
  }

  @Test func uniformStaysInItsRange() {
    var generator = SplitMix64(seed: 8)
    for _ in 0..<1000 {
      let value = generator.uniform(-2, 3)
      #expect(value >= -2 && value < 3)
    }
  }

  @Test func randomNetworksHaveTheRequestedShape() {
    var generator = SplitMix64(seed: 4)
    let network = RandomNetworks.make(inputs: 3, hidden: [5, 2], outputs: 4, using: &generator)
    #expect(network.layers.map(\.inputSize) == [3, 5, 2])
    #expect(network.layers.map(\.outputSize) == [5, 2, 4])
    #expect(network.layers.map(\.activation) == [.relu, .relu, .identity])
    // The same seed gives the same network.
    var again = SplitMix64(seed: 4)
    #expect(RandomNetworks.make(inputs: 3, hidden: [5, 2], outputs: 4, using: &again) == network)
  }

  @Test(arguments: [PerturbationNorm.linf, .l1])
  func samplesLieInTheRegion(norm: PerturbationNorm) throws {
    var generator = SplitMix64(seed: 12)
    for _ in 0..<50 {
      let region = try InputRegion(
        center: RandomNetworks.point(6, using: &generator), norm: norm,
        radius: generator.uniform(0, 1.5))
      for _ in 0..<40 {
        let point = RegionSampling.sample(region, using: &generator)
        #expect(region.contains(point), "\(point) outside \(region)")
      }
    }
  }

  @Test func filesAreFoundRelativeToTheRepository() {
    #expect(
      FileManager.default.fileExists(
        atPath: RepositoryFiles.root.appendingPathComponent("Package.swift").path))
    #expect(
      FileManager.default.fileExists(atPath: RepositoryFiles.model("fashion_mlp_50x50.onnx").path))
    #expect(FileManager.default.fileExists(atPath: Fixtures.url("onnx/expected.json").path))
    #expect(SharedData.root.lastPathComponent == "shared")
    #expect(
      SharedData.root.deletingLastPathComponent().standardizedFileURL
        == RepositoryFiles.root.deletingLastPathComponent().standardizedFileURL)
  }

  @Test func missingSharedFilesAreNamed() {
    let name = "seed/no-such-file-\(UUID().uuidString).npy"
    do {
      _ = try SharedData.url(name)
      Issue.record("a missing shared file was found")
    } catch {
      #expect("\(error)".contains(name))
    }
  }

  @Test func maxAbsoluteDifferenceRefusesDifferentLengths() {
    #expect(Compare.maxAbsoluteDifference([1, 2], [1, 2.5]) == 0.5)
    #expect(Compare.maxAbsoluteDifference([1, 2], [1]) == nil)
  }
}
