import Testing
@testable import CorralWebSocket

/// permessage-deflate: which offers are taken and how the answer reads, RFC 7692's own bytes, and
/// messages through a compressor and back, with and without context takeover.
@Suite struct PerMessageDeflateTests {
    @Test func theFirstAcceptableOfferIsTaken() {
        #expect(PerMessageDeflate.negotiate(["permessage-deflate"])?.responseValue
                == "permessage-deflate; server_max_window_bits=12")
        #expect(PerMessageDeflate.negotiate(["permessage-deflate; client_max_window_bits"])?.responseValue
                == "permessage-deflate; server_max_window_bits=12; client_max_window_bits=15")
        let both = PerMessageDeflate.negotiate(["permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9"])
        #expect(both?.responseValue == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9")
        #expect(both?.serverMaxWindowBits == 10 && both?.clientMaxWindowBits == 9)
        // Declined: other extensions, unknown or repeated parameters, values out of range, and a
        // server window of 8 bits (zlib's smallest is 9); the next offer is taken instead.
        #expect(PerMessageDeflate.negotiate(["x-webkit-deflate-frame"]) == nil)
        #expect(PerMessageDeflate.negotiate(["permessage-deflate; mystery"]) == nil)
        #expect(PerMessageDeflate.negotiate(["permessage-deflate; server_no_context_takeover; server_no_context_takeover"]) == nil)
        #expect(PerMessageDeflate.negotiate(["permessage-deflate; server_max_window_bits=16"]) == nil)
        #expect(PerMessageDeflate.negotiate(["permessage-deflate; server_max_window_bits"]) == nil)
        #expect(PerMessageDeflate.negotiate(["permessage-deflate; server_no_context_takeover=yes"]) == nil)
        #expect(PerMessageDeflate.negotiate(["permessage-deflate; server_max_window_bits=8", "permessage-deflate"])?.responseValue
                == "permessage-deflate; server_max_window_bits=12")
    }

    @Test func theRFCsHello() throws {
        let deflate = PerMessageDeflate(PerMessageDeflate.negotiate(["permessage-deflate"])!)
        // RFC 7692 §7.2.3.1: "Hello" in one compressed message.
        #expect(try deflate.decompress([0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00], limit: 0) == Array("Hello".utf8))
        // §7.2.3.2: the same again, using the context of the first.
        #expect(try deflate.decompress([0xF2, 0x00, 0x11, 0x00, 0x00], limit: 0) == Array("Hello".utf8))
        var out: [UInt8] = []
        Array("Hello".utf8).withUnsafeBytes { deflate.compress($0, appendingTo: &out) }
        #expect(out == [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
    }

    @Test(arguments: [false, true])
    func messagesGoThroughAndBack(noContextTakeover: Bool) throws {
        let offer = "permessage-deflate" + (noContextTakeover ? "; server_no_context_takeover" : "")
        let sender = PerMessageDeflate(PerMessageDeflate.negotiate([offer])!)
        // The receiving end of such a sender: a client that promised no context takeover.
        let receiver = PerMessageDeflate(PerMessageDeflate.negotiate(["permessage-deflate" + (noContextTakeover ? "; client_no_context_takeover" : "")])!)
        var sizes: [Int] = []
        for message in [Array("corral ".utf8), Array("corral ".utf8), [UInt8](repeating: 0x61, count: 100_000), []] {
            var compressed: [UInt8] = []
            message.withUnsafeBytes { sender.compress($0, appendingTo: &compressed) }
            sizes.append(compressed.count)
            #expect(try receiver.decompress(compressed, limit: 0) == message)
        }
        // With context takeover the repeated message refers back to the first: it is shorter.
        #expect(noContextTakeover ? sizes[1] == sizes[0] : sizes[1] < sizes[0], "\(sizes)")
        #expect(sizes[2] < 1000)
    }

    @Test func aBombStopsAtTheLimitAndGarbageIsRefused() throws {
        let sender = PerMessageDeflate(PerMessageDeflate.negotiate(["permessage-deflate"])!)
        var compressed: [UInt8] = []
        [UInt8](repeating: 0, count: 10_000_000).withUnsafeBytes { sender.compress($0, appendingTo: &compressed) }
        #expect(compressed.count < 20_000)
        let receiver = PerMessageDeflate(PerMessageDeflate.negotiate(["permessage-deflate"])!)
        #expect(throws: PerMessageDeflate.InflateError.tooBig) { try receiver.decompress(compressed, limit: 1_000_000) }
        let other = PerMessageDeflate(PerMessageDeflate.negotiate(["permessage-deflate"])!)
        #expect(throws: PerMessageDeflate.InflateError.corrupt) { try other.decompress([0xFF, 0xFF, 0xFF, 0xFF, 0x00], limit: 0) }
    }
}
