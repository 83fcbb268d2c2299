import CorralHTTP
import Testing

@Suite struct ContentCodingTests {
    private func preferred(_ header: String?, _ available: [ContentCoding] = [.brotli, .gzip]) -> ContentCoding? {
        guard let header else { return ContentCoding.preferred(acceptEncoding: nil, available: available) }
        return Array(header.utf8).withUnsafeBytes { ContentCoding.preferred(acceptEncoding: $0, available: available) }
    }

    @Test func qValuesDecide() {
        #expect(preferred(nil) == nil, "no Accept-Encoding: identity")
        #expect(preferred("gzip, deflate, br") == .brotli, "equal weights: the server's order")
        #expect(preferred("gzip, deflate, br", [.gzip]) == .gzip)
        #expect(preferred("br;q=0.5, gzip;q=0.8") == .gzip)
        #expect(preferred("br;q=0, gzip") == .gzip, "q=0 refuses")
        #expect(preferred("GZIP ; Q=1.0") == .gzip, "case-insensitive, whitespace allowed")
        #expect(preferred("x-gzip", [.gzip]) == .gzip)
        #expect(preferred("gzip;q=0.5, identity") == nil, "identity weighs more")
        #expect(preferred("*") == .brotli, "the wildcard covers every coding")
        #expect(preferred("*;q=0, identity") == nil)
        #expect(preferred("gzip;q=0, *") == .brotli)
        #expect(preferred("deflate") == nil)
        #expect(preferred("gzip;q=2") == nil && preferred("gzip;q=0.1234") == nil && preferred("gzip;q=x") == nil,
                "a malformed q makes the element void")
        #expect(preferred("br;level=5;q=0.9, gzip;q=0.8") == .brotli, "other parameters are skipped")
        #expect(preferred(",, gzip ,") == .gzip)
        #expect(preferred("") == nil)
    }
}
