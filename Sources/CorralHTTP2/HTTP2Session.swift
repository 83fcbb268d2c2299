import CNGHTTP2

/// What a server session tells its owner, during `receive` (requests arriving) and `nextOutput`
/// (response bodies wanted). Stream ids are the client's.
public protocol HTTP2SessionDelegate: AnyObject {
    /// A request's HEADERS began on a new stream.
    func streamOpened(_ stream: Int32)
    /// One field of its head, pseudo-fields (":method"…) first, as nghttp2 validated them
    /// (RFC 9113 §8.2: lowercase names, no connection-specific fields, no CR, LF or NUL).
    /// False refuses the stream (the head is too large): it is reset.
    func field(_ stream: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Bool
    /// The head is complete; `endOfBody`: it has no body.
    func headEnded(_ stream: Int32, endOfBody: Bool)
    /// Body bytes (valid during the call); the window opens again only when `consumed` says so.
    func bodyData(_ stream: Int32, _ bytes: UnsafeRawBufferPointer)
    func bodyEnded(_ stream: Int32)
    /// The stream is gone (its response sent, or reset by either side).
    func streamClosed(_ stream: Int32, errorCode: UInt32)
    /// The next bytes of a response body into `buffer` (at most `room`): how many, and whether
    /// that is the end; nil when none are ready yet (`resume` is called when there are).
    func responseBody(_ stream: Int32, into buffer: UnsafeMutableRawPointer, room: Int) -> (count: Int, end: Bool)?
    /// Trailer fields for `stream`, asked for once its body has ended; none added: none sent.
    func trailers(_ stream: Int32, into fields: inout HTTP2ResponseFields)
}

/// The server side of one HTTP/2 connection, over libnghttp2: bytes in (`receive`), bytes out
/// (`nextOutput`), requests and their bodies reported to the delegate, responses submitted here.
/// No sockets: the engine moves the bytes, the tests feed frames.
public final class HTTP2Session {
    private var session: OpaquePointer?
    fileprivate unowned let delegate: HTTP2SessionDelegate
    public let settings: HTTP2Settings
    /// Why the session ended, once it did (a protocol error, a flood): for the log.
    public private(set) var failure: String?

    public init(settings: HTTP2Settings, delegate: HTTP2SessionDelegate) {
        self.settings = settings
        self.delegate = delegate
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks, onBeginFrame)
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, onBeginHeaders)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeader)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, onFrameReceived)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onDataChunk)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamClose)
        var options: OpaquePointer?
        nghttp2_option_new(&options)
        // Flow control is the back-pressure: a stream's window opens as the app reads its body.
        nghttp2_option_set_no_auto_window_update(options, 1)
        nghttp2_session_server_new2(&session, callbacks, Unmanaged.passUnretained(self).toOpaque(), options)
        nghttp2_option_del(options)
        nghttp2_session_callbacks_del(callbacks)
        var entries = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: UInt32(settings.maxConcurrentStreams)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: UInt32(settings.initialWindowSize)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_FRAME_SIZE.rawValue), value: UInt32(settings.maxFrameSize)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: UInt32(settings.maxHeaderListSize)),
        ]
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &entries, entries.count)
    }

    deinit {
        nghttp2_session_del(session)
    }

    /// Feeds bytes from the client (`now`: the loop's clock, in ns); false when the connection
    /// must end, after `nextOutput` has given the GOAWAY that says why.
    public func receive(_ bytes: UnsafeRawBufferPointer, now: Int64) -> Bool {
        self.now = now
        let n = nghttp2_session_mem_recv(session, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
        if n < 0 {
            if failure == nil { failure = String(cString: nghttp2_strerror(Int32(n))) }
            nghttp2_session_terminate_session(session, UInt32(flooded ? NGHTTP2_ENHANCE_YOUR_CALM.rawValue : NGHTTP2_PROTOCOL_ERROR.rawValue))
            return false
        }
        return true
    }

    // Frames that cost the server and ask nothing of the app (PING, SETTINGS, empty DATA): a
    // budget of `glitchBurst`, refilled at `glitchRate` a second (nghttp2 1.52 counts resets
    // and CONTINUATIONs itself, not these; its limit of 1,000 unsent acknowledgements comes
    // later). Past it the connection ends with ENHANCE_YOUR_CALM.
    static let glitchBurst = 500.0
    static let glitchRate = 100.0
    private var glitchTokens = HTTP2Session.glitchBurst
    private var glitchesCountedAt: Int64 = 0
    private var now: Int64 = 0
    fileprivate private(set) var flooded = false

    /// One more glitch; false when the budget is spent.
    fileprivate func glitch(_ kind: StaticString) -> Bool {
        let elapsed = glitchesCountedAt == 0 ? 0 : Double(now - glitchesCountedAt) / 1e9
        glitchesCountedAt = now
        glitchTokens = min(Self.glitchBurst, glitchTokens + elapsed * Self.glitchRate) - 1
        if glitchTokens >= 0 { return true }
        flooded = true
        failure = "a flood of \(kind) frames (more than \(Int(Self.glitchBurst)) at once, or \(Int(Self.glitchRate)) a second)"
        return false
    }

    /// Whether `stream` (or the whole connection) may send nothing: the client's window is shut.
    public func windowClosed(_ stream: Int32) -> Bool {
        nghttp2_session_get_stream_remote_window_size(session, stream) <= 0 || nghttp2_session_get_remote_window_size(session) <= 0
    }

    /// How many body bytes `stream` may send now: the smaller of its window and the connection's.
    public func windowRoom(_ stream: Int32) -> Int {
        Int(min(nghttp2_session_get_stream_remote_window_size(session, stream), nghttp2_session_get_remote_window_size(session)))
    }

    /// The next bytes to send (valid until the next call), nil when there are none now.
    public func nextOutput() -> UnsafeRawBufferPointer? {
        var data: UnsafePointer<UInt8>?
        let n = nghttp2_session_mem_send(session, &data)
        if n < 0 {
            failure = String(cString: nghttp2_strerror(Int32(n)))
            return nil
        }
        guard n > 0, let data else { return nil }
        return UnsafeRawBufferPointer(start: data, count: n)
    }

    /// Neither side wants more: the connection can close.
    public var isFinished: Bool { nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0 }

    /// Streams open (requests in progress).
    public private(set) var openStreams = 0

    /// The response head being built (`respond`), reused for every response.
    private var responseFields = HTTP2ResponseFields()

    /// A response head: `fields` adds its fields (beside `:status`) and, with `hasBody`, a body
    /// the delegate's `responseBody` supplies follows.
    public func respond(_ stream: Int32, status: UInt16, hasBody: Bool, fields: (inout HTTP2ResponseFields) -> Void) {
        responseFields.start(status: status)
        fields(&responseFields)
        responseFields.withList { list, count in
            if hasBody {
                var provider = corral_nghttp2_provider(readResponseBody)
                nghttp2_submit_response(session, stream, list, count, &provider)
            } else {
                nghttp2_submit_response(session, stream, list, count, nil)
            }
        }
    }

    /// h2c by Upgrade (RFC 7540 §3.2): the client's settings from its `HTTP2-Settings` field,
    /// and stream 1 opened for the request that asked (`headRequest`: a HEAD). False when
    /// nghttp2 refuses the settings: the request is then answered over HTTP/1.1.
    public func upgrade(settings payload: [UInt8], headRequest: Bool) -> Bool {
        guard nghttp2_session_upgrade2(session, payload, payload.count, headRequest ? 1 : 0, nil) == 0 else { return false }
        openStreams += 1
        highestRequestStream = 1
        return true
    }

    /// An interim response (103 Early Hints) before the final one.
    public func inform(_ stream: Int32, status: UInt16, fields: (inout HTTP2ResponseFields) -> Void) {
        responseFields.start(status: status)
        fields(&responseFields)
        responseFields.withList { list, count in
            _ = nghttp2_submit_headers(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream, nil, list, count, nil)
        }
    }

    /// Submits the delegate's trailers for `stream`, whose body just ended; false when it has none.
    fileprivate func submitTrailers(_ stream: Int32) -> Bool {
        responseFields.start(status: nil)
        delegate.trailers(stream, into: &responseFields)
        guard !responseFields.isEmpty else { return false }
        return responseFields.withList { list, count in nghttp2_submit_trailer(session, stream, list, count) == 0 }
    }

    /// The delegate has more body for `stream` (it answered nil before).
    public func resume(_ stream: Int32) {
        nghttp2_session_resume_data(session, stream)
    }

    /// The app has taken `count` bytes of `stream`'s body: the client may send that many more.
    public func consumed(_ stream: Int32, _ count: Int) {
        nghttp2_session_consume(session, stream, count)
    }

    /// Ends a stream (its client is cut off): RST_STREAM with `code` (RFC 9113 §7).
    public func reset(_ stream: Int32, code: UInt32 = UInt32(NGHTTP2_INTERNAL_ERROR.rawValue)) {
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream, code)
    }

    /// Refuses a new stream (REFUSED_STREAM: nothing of it was processed, the client may retry).
    /// A refusal spends the glitch budget: a client that goes on opening streams it is refused
    /// (rapid reset with slow handlers) ends with ENHANCE_YOUR_CALM. Only from `headEnded`.
    public func refuse(_ stream: Int32) {
        reset(stream, code: UInt32(NGHTTP2_REFUSED_STREAM.rawValue))
        _ = glitch("refused HEADERS")
    }

    /// GOAWAY: no new streams; those open finish (a draining worker).
    public func goAway() {
        nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nghttp2_session_get_last_proc_stream_id(session),
                              UInt32(NGHTTP2_NO_ERROR.rawValue), nil, 0)
    }

    // MARK: nghttp2's callbacks, on the delegate

    fileprivate static func of(_ pointer: UnsafeMutableRawPointer?) -> HTTP2Session {
        Unmanaged<HTTP2Session>.fromOpaque(pointer!).takeUnretainedValue()
    }

    // Stream ids the client skipped (RFC 9113 §5.1.1: opening 5 closes an idle 3): HEADERS on
    // one of them is a connection error, which nghttp2 1.52 ignores on purpose. The most recent
    // gaps are remembered (a client skipping ids at all is rare), within a bounded set.
    private var highestRequestStream: Int32 = 0
    private var skipped: Set<Int32> = []
    static let skippedRemembered = 256

    /// Whether HEADERS on `stream` would reopen one the client skipped; the failure says so.
    fileprivate func reopensSkipped(_ stream: Int32) -> Bool {
        guard stream < highestRequestStream && skipped.contains(stream) else { return false }
        failure = "HEADERS on stream \(stream), which the client skipped when it opened stream \(highestRequestStream) (RFC 9113 §5.1.1)"
        return true
    }

    fileprivate func opened(_ stream: Int32) {
        let next = highestRequestStream == 0 ? 1 : highestRequestStream + 2
        if stream > next {
            if skipped.count >= Self.skippedRemembered { skipped.removeAll(keepingCapacity: true) }
            for id in stride(from: max(next, stream - Int32(2 * Self.skippedRemembered)), to: stream, by: 2) { skipped.insert(id) }
        }
        highestRequestStream = max(highestRequestStream, stream)
        openStreams += 1
        delegate.streamOpened(stream)
    }

    fileprivate func closed(_ stream: Int32, _ code: UInt32) {
        openStreams -= 1
        delegate.streamClosed(stream, errorCode: code)
    }
}

private func onBeginFrame(_ session: OpaquePointer?, _ header: UnsafePointer<nghttp2_frame_hd>?, _ user: UnsafeMutableRawPointer?) -> Int32 {
    guard let header, header.pointee.type == UInt8(NGHTTP2_HEADERS.rawValue),
          HTTP2Session.of(user).reopensSkipped(header.pointee.stream_id) else { return 0 }
    return NGHTTP2_ERR_CALLBACK_FAILURE.rawValue
}

private func onBeginHeaders(_ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ user: UnsafeMutableRawPointer?) -> Int32 {
    guard let frame, frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue),
          frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST else { return 0 }
    HTTP2Session.of(user).opened(frame.pointee.hd.stream_id)
    return 0
}

private func onHeader(_ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ name: UnsafePointer<UInt8>?, _ nameLength: Int,
                      _ value: UnsafePointer<UInt8>?, _ valueLength: Int, _ flags: UInt8, _ user: UnsafeMutableRawPointer?) -> Int32 {
    guard let frame, frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue) else { return 0 }
    let accepted = HTTP2Session.of(user).delegate.field(frame.pointee.hd.stream_id,
                                                                name: UnsafeRawBufferPointer(start: name, count: nameLength),
                                                                value: UnsafeRawBufferPointer(start: value, count: valueLength))
    return accepted ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue
}

private func onFrameReceived(_ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ user: UnsafeMutableRawPointer?) -> Int32 {
    guard let frame else { return 0 }
    let delegate = HTTP2Session.of(user).delegate
    let header = frame.pointee.hd
    let endOfStream = header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
    let session = HTTP2Session.of(user)
    let acknowledgement = header.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0
    switch UInt32(header.type) {
    case NGHTTP2_PING.rawValue where !acknowledgement:
        if !session.glitch("PING") { return NGHTTP2_ERR_CALLBACK_FAILURE.rawValue }
    case NGHTTP2_SETTINGS.rawValue where !acknowledgement:
        if !session.glitch("SETTINGS") { return NGHTTP2_ERR_CALLBACK_FAILURE.rawValue }
    case NGHTTP2_DATA.rawValue where header.length == 0 && !endOfStream:
        if !session.glitch("empty DATA") { return NGHTTP2_ERR_CALLBACK_FAILURE.rawValue }
    case NGHTTP2_HEADERS.rawValue where frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST:
        delegate.headEnded(header.stream_id, endOfBody: endOfStream)
        if session.flooded { return NGHTTP2_ERR_CALLBACK_FAILURE.rawValue }
    case NGHTTP2_HEADERS.rawValue, NGHTTP2_DATA.rawValue:
        if endOfStream { delegate.bodyEnded(header.stream_id) }   // trailers, or the last DATA
    default:
        break
    }
    return 0
}

private func onDataChunk(_ session: OpaquePointer?, _ flags: UInt8, _ stream: Int32, _ data: UnsafePointer<UInt8>?, _ length: Int,
                         _ user: UnsafeMutableRawPointer?) -> Int32 {
    HTTP2Session.of(user).delegate.bodyData(stream, UnsafeRawBufferPointer(start: data, count: length))
    return 0
}

private func onStreamClose(_ session: OpaquePointer?, _ stream: Int32, _ code: UInt32, _ user: UnsafeMutableRawPointer?) -> Int32 {
    HTTP2Session.of(user).closed(stream, code)
    return 0
}

private func readResponseBody(_ session: OpaquePointer?, _ stream: Int32, _ buffer: UnsafeMutablePointer<UInt8>?, _ length: Int,
                              _ flags: UnsafeMutablePointer<UInt32>?, _ source: UnsafeMutablePointer<nghttp2_data_source>?,
                              _ user: UnsafeMutableRawPointer?) -> Int {
    guard let buffer, let answer = HTTP2Session.of(user).delegate.responseBody(stream, into: buffer, room: length) else {
        return Int(NGHTTP2_ERR_DEFERRED.rawValue)
    }
    if answer.end {
        flags?.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
        // Trailers end the stream instead of this DATA frame (nghttp2 sends them after it).
        if HTTP2Session.of(user).submitTrailers(stream) { flags?.pointee |= NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue }
    }
    return answer.count
}
