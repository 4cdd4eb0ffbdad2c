import GLPK
import TestSupport
import Testing

@testable import ReluMIP

/// Every bound method's bounds contain each neuron's exact range over the region: the MILP of
/// the layers before the neuron (encoded from interval bounds, which are sound and loosest),
/// maximised and minimised by GLPK's branch-and-cut.
@Suite("Bounds contain each neuron's MILP optimum", .tags(.property))
struct NeuronOptimumTests {
  @Test(arguments: [PerturbationNorm.linf, .l1])
  func boundsContainTheOptimum(norm: PerturbationNorm) throws {
    var compared = 0
    for seed in UInt64(1)...UInt64(60) {
      let random = try RandomCase.bounds(seed: seed &* 104_729 &+ (norm == .l1 ? 1 : 0), norm: norm)
      let network = try Verifier(network: random.network).network
      let region = random.region
      let interval = IntervalBounds.compute(network: network, region: region)
      let methods: [(String, NetworkBounds)] = [
        ("interval", interval),
        ("symbolic", SymbolicBounds.compute(network: network, region: region).bounds),
        (
          "lp",
          try LPBoundTightening.tighten(
            network: network, region: region,
            bounds: SymbolicBounds.compute(network: network, region: region).bounds,
            dropThreshold: 1e-9, deadline: nil)
        ),
      ]
      for k in 1..<network.layers.count {
        var options = MILPEncoding.Options()
        options.encodedLayers = k
        let encoding = try MILPEncoding(
          network: network, region: region, bounds: interval, options: options)
        for i in 0..<network.layers[k].outputSize {
          let expression = encoding.expression(
            layer: network.layers[k], neuron: i, inputs: encoding.layerInputs)
          let (kept, slack) = encoding.split(expression)
          for maximize in [true, false] {
            try encoding.setObjective(kept, maximize: maximize)
            encoding.resetBasis()
            guard try encoding.branchAndCut() == .solved, encoding.integerStatus == .optimal
            else { continue }
            let optimum = encoding.integerObjective + expression.constant
            compared += 1
            for (name, bounds) in methods {
              // GLPK's optimum carries its tolerances (1e-7 relative) and the dropped-term slack.
              let tolerance = 1e-6 * max(1, abs(optimum)) + slack
              let context = "\(name), \(random), layer \(k) neuron \(i)"
              if maximize {
                #expect(
                  optimum <= bounds.layers[k].upper[i] + tolerance, "max \(optimum): \(context)")
              } else {
                #expect(
                  optimum >= bounds.layers[k].lower[i] - tolerance, "min \(optimum): \(context)")
              }
            }
          }
        }
      }
    }
    #expect(compared > 100, "only \(compared) optima compared")
  }
}
