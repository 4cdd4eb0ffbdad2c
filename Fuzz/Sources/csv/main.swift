import CLibFuzzer
import Foundation
import ReluMIP

/// One libFuzzer input: CSV text, gzipped or not, read as a file named `fuzz.csv`. Examples
/// that read must also be usable: counted, taken out and read as labels.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
  let data = bytes.map { Data(bytes: $0, count: count) } ?? Data()
  if let examples = try? ExampleReader.parse(data, path: "fuzz.csv") {
    _ = try? examples.example(0)
    _ = try? examples.example(examples.count - 1)
    _ = try? examples.labels()
  }
  return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzCSV))
