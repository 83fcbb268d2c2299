/// What the Content-Length and Transfer-Encoding fields of one head say about its body (RFC 9112 §6).
struct FramingState {
    var contentLength: Int?
    var sawTransferEncoding = false
    /// Codings seen across all Transfer-Encoding fields, in order.
    var codingCount = 0
    var lastIsChunked = false
    var chunkedCount = 0
    var sawOtherCoding = false

    /// One Content-Length field: a single decimal value. A list, even of equal values (which RFC 9110
    /// §8.6 lets a recipient accept), and a second field are refused as gunicorn refuses them: a
    /// proxy in front may have read them differently.
    mutating func addContentLength(_ value: UnsafeRawBufferPointer) -> HTTPError? {
        if contentLength != nil { return HTTPError(400, "more than one Content-Length") }
        guard let n = HTTPGrammar.parseDecimal(value) else {
            return value.contains(UInt8(ascii: ",")) ? HTTPError(400, "Content-Length is a list")
                                                      : HTTPError(400, "invalid Content-Length")
        }
        contentLength = n
        return nil
    }

    /// One Transfer-Encoding field: a list of codings (RFC 9112 §6.1). Unlike other lists, an empty
    /// element is refused: a lenient proxy reads `chunked,` as not chunked and the body as running
    /// to the end of the connection, while corral would read chunks (request smuggling).
    mutating func addTransferEncoding(_ value: UnsafeRawBufferPointer) -> HTTPError? {
        sawTransferEncoding = true
        var error: HTTPError?
        var elements = 1
        for byte in value where byte == UInt8(ascii: ",") { elements += 1 }
        HTTPGrammar.forEachListElement(value) { coding in
            elements -= 1
            for i in 0..<coding.count where !HTTPGrammar.isTokenChar(coding[i]) {
                error = HTTPError(400, "invalid Transfer-Encoding")
                return false
            }
            codingCount += 1
            if coding.equalsLowercased("chunked") {
                chunkedCount += 1
                lastIsChunked = true
            } else {
                sawOtherCoding = true
                lastIsChunked = false
            }
            return true
        }
        if error == nil && elements != 0 { error = HTTPError(400, "empty element in Transfer-Encoding") }
        return error
    }

    func resolve(version: HTTPVersion, bodyLimit: Int) -> Result<BodyFraming, HTTPError> {
        if sawTransferEncoding {
            if version == .http1_0 { return .failure(HTTPError(400, "Transfer-Encoding in an HTTP/1.0 request")) }
            if contentLength != nil {
                return .failure(HTTPError(400, "both Content-Length and Transfer-Encoding"))
            }
            if !lastIsChunked { return .failure(HTTPError(400, "chunked is not the final transfer coding")) }
            if chunkedCount > 1 { return .failure(HTTPError(400, "chunked applied more than once")) }
            if sawOtherCoding { return .failure(HTTPError(501, "unsupported transfer coding")) }
            return .success(.chunked)
        }
        if let n = contentLength {
            if bodyLimit > 0 && n > bodyLimit { return .failure(HTTPError(413, "request body too large")) }
            return .success(.contentLength(n))
        }
        return .success(.none)
    }
}
