import CorralFuzzing
import Glibc

// corral-fuzz: one FuzzTarget, named by CORRAL_FUZZ_TARGET. Built for `make fuzz` (with
// -sanitize=fuzzer,address and CORRAL_FUZZ) it is libFuzzer, taking libFuzzer's flags; in a plain
// build it replays the input files it is given, to reproduce a crash without instrumentation.

private func complain(_ text: String) {
    let bytes = Array(text.utf8)
    _ = write(2, bytes, bytes.count)
}

private func chosenTarget() -> FuzzTarget {
    let name = getenv("CORRAL_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        complain("corral-fuzz: set CORRAL_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n")
        exit(2)
    }
    return target
}

#if CORRAL_FUZZ
nonisolated(unsafe) private var target = FuzzTarget.requestParser

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    target = chosenTarget()
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    target.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

/// The entry SwiftPM links an executable target to when built without --sanitize (the flags
/// then come with -Xswiftc): libFuzzer's driver, as its own main would run it.
@_cdecl("corral_fuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in testOneInput(data, size) }
}
#else
@main
struct CorralFuzz {
    static func main() {
        let target = chosenTarget()
        for path in CommandLine.arguments.dropFirst() {
            guard let file = fopen(path, "rb") else {
                complain("corral-fuzz: cannot open \(path)\n")
                exit(1)
            }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = fread(&buffer, 1, buffer.count, file)
                if n <= 0 { break }
                bytes += buffer[..<n]
            }
            fclose(file)
            bytes.withUnsafeBytes { target.run($0) }
            print("\(path): ok")
        }
    }
}
#endif
