import CCorral
import CorralHTTP
import Glibc

/// A regular file under the document root as opened for responses: its bytes when it is small
/// (sent with the head in one send), else its descriptor (sendfile), its validators and head
/// fields, and its precompressed siblings. The open-file cache keeps one between requests;
/// without the cache it lives for one response. The descriptor closes with the last response
/// that uses it, so a file evicted or replaced mid-send is still sent whole.
public final class OpenFile: @unchecked Sendable {
    /// Files up to this size are read into memory when opened.
    static let inMemoryLimit = 64 * 1024

    /// -1 when `contents` holds the file.
    let fd: Int32
    let contents: [UInt8]
    let size: Int
    let modified: Int
    let etag: [UInt8]
    /// Content-Type, ETag, Last-Modified, Accept-Ranges; Content-Encoding for a sibling, and
    /// Vary: Accept-Encoding when there are siblings; Cache-Control under a `static_map` mount.
    let fields: HTTPFields
    /// The precompressed siblings, br before gzip.
    let encoded: [(coding: ContentCoding, file: OpenFile)]
    /// The codings of `encoded`, for ContentCoding.preferred.
    let codings: [ContentCoding]

    /// Takes `fd` (an open regular file, `info` its fstat); nil when it cannot be read.
    init?(fd: Int32, info: stat, contentType: StaticString, coding: ContentCoding?,
          encoded: [(coding: ContentCoding, file: OpenFile)], cacheControl: String? = nil) {
        var size = Int(info.st_size)
        var contents: [UInt8] = []
        if size <= Self.inMemoryLimit {
            contents = [UInt8](repeating: 0, count: size)
            var offset = 0
            while offset < size {
                let n = contents.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + offset, size - offset, off_t(offset)) }
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else {
                    close(fd)
                    return nil
                }
                if n == 0 { break }   // it shrank meanwhile: what is there is what it is
                offset += n
            }
            contents.removeLast(size - offset)
            size = offset
            close(fd)
            self.fd = -1
        } else {
            self.fd = fd
        }
        self.contents = contents
        self.size = size
        modified = Int(info.st_mtim.tv_sec)
        var etag: [UInt8] = []
        EntityTag.append(modified: modified, size: Int(info.st_size), to: &etag)
        self.etag = etag
        var lastModified: [UInt8] = []
        HTTPDate.format(epochSeconds: modified, into: &lastModified)
        var fields = HTTPFields()
        fields.add("Content-Type", contentType.description)
        if let coding { fields.add("Content-Encoding", coding.token) }
        fields.add("ETag", String(decoding: etag, as: UTF8.self))
        fields.add("Last-Modified", String(decoding: lastModified, as: UTF8.self))
        fields.add("Accept-Ranges", "bytes")
        if let cacheControl { fields.add("Cache-Control", cacheControl) }
        if coding != nil || !encoded.isEmpty { fields.add("Vary", "Accept-Encoding") }
        self.fields = fields
        self.encoded = encoded
        codings = encoded.map(\.coding)
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// What the response holds: memory for a small file, the descriptor for a large one.
    var bytesHeld: Int { contents.count + encoded.reduce(0) { $0 + $1.file.contents.count } }
    var descriptorsHeld: Int { (fd >= 0 ? 1 : 0) + encoded.count { $0.file.fd >= 0 } }

    /// The variant a request gets: a precompressed sibling its Accept-Encoding allows, or itself.
    func variant(acceptEncoding: UnsafeRawBufferPointer?) -> OpenFile {
        guard !encoded.isEmpty, let coding = ContentCoding.preferred(acceptEncoding: acceptEncoding, available: codings),
              let sibling = encoded.first(where: { $0.coding == coding }) else { return self }
        return sibling.file
    }
}
