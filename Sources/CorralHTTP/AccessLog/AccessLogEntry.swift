/// What the formatter needs to know about one finished request. The server's per-request record
/// conforms; every byte view points into buffers the server owns (nothing is copied).
public protocol AccessLogEntry {
    var requestBuffer: UnsafeRawBufferPointer { get }
    var head: RequestHead { get }
    var fields: UnsafeBufferPointer<HeaderField> { get }
    /// "127.0.0.1", "::1", or empty for a unix socket.
    var remoteAddress: UnsafeRawBufferPointer { get }
    /// The client's port; -1 for a unix socket.
    var remotePort: Int32 { get }
    var status: UInt16 { get }
    var bodyBytesSent: Int { get }
    var durationMicroseconds: Int { get }
    var pid: Int32 { get }
    /// Whether the request came over https by a trusted proxy's headers (`{wsgi.url_scheme}e`);
    /// asked only when the format uses it.
    func isSecure() -> Bool
    /// A response header's value by lowercase name, or nil.
    func responseHeader(_ lowercasedName: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer?
}
