import CorralFuzzing
import CorralHTTP
import Foundation
import Testing

/// corral's request parser against llhttp (node's, the parser of most proxies in front of a web
/// app) on thousands of risky streams. A disagreement on where a message ends could let a request
/// hide inside another between a proxy and corral: there must be none. Every other disagreement
/// must be one of the explained kinds below (the README lists them). The whole list, with each
/// stream, goes to .build/differential-report.txt.
@Suite struct DifferentialParserTests {
    static let report = LLHTTP.script.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/differential-report.txt")
    static let lenientReport = report.deletingLastPathComponent().appendingPathComponent("differential-report-lenient.txt")

    /// The disagreements that are expected, by key, and why each is not a risk.
    static let explained: [String: String] = [
        // corral refuses (400 and close) what llhttp accepts: never a risk, the request is not served.
        "corral refuses: 400 CONNECT needs an authority-form target": "RFC 9112 §3.2.3: CONNECT takes host:port only; llhttp takes any target",
        "corral refuses: 400 Transfer-Encoding in an HTTP/1.0 request": "RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing; llhttp reads it as chunked",
        "corral refuses: 400 asterisk-form is for OPTIONS only": "RFC 9112 §3.2.4; llhttp takes * with any method",
        "corral refuses: 400 chunk size too large": "more than 16 hex digits, even leading zeros: corral bounds the size line; llhttp skips leading zeros",
        "corral refuses: 400 empty element in Transfer-Encoding": "`, chunked` or an empty Transfer-Encoding: llhttp reads the first as chunked, the second as no body; a lenient llhttp reads `chunked,` as a body to the end of the connection",
        "corral refuses: 400 field not allowed in a trailer": "RFC 9110 §6.5.1: Host, Content-Length, Transfer-Encoding, Trailer… may not be trailers; llhttp drops them",
        "corral refuses: 400 invalid HTTP version": "two spaces before the version: corral takes exactly one SP (RFC 9112 §3); llhttp skips extra spaces",
        "corral refuses: 400 invalid chunk extension": "an extension without a name (`5;=v`); llhttp takes it",
        "corral refuses: 400 invalid method": "a bare CR before the request line; llhttp skips it as an empty line",
        "corral refuses: 400 invalid request target": "two spaces after the method, a request line without a version (HTTP/0.9), an http URI without a host",
        "corral refuses: 400 missing Host header field": "RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400; llhttp leaves that to node",
        "corral refuses: 400 more than one Content-Type": "WSGI's CONTENT_TYPE holds one value: a second would be ambiguous",
        "corral refuses: 400 more than one Host header field": "RFC 9112 §3.2: two Host fields are a 400; llhttp leaves that to node",
        "corral refuses: 400 too many empty lines before the request line": "more than 8 empty lines before a request; llhttp skips any number",
        "corral refuses: 414 request line too long": "gunicorn's limit_request_line (4094); llhttp's limit is the whole head (16 KiB in node)",
        "corral refuses: 431 header field too long": "gunicorn's limit_request_field_size (8190)",
        "corral refuses: 431 too many header fields": "gunicorn's limit_request_fields (100)",
        "corral refuses: 501 unsupported transfer coding": "gzip or identity before chunked: corral decodes chunked only, as gunicorn; llhttp passes the coded body on",
        "corral refuses: 505 HTTP version not supported": "HTTP/0.9 and HTTP/2.0 in an HTTP/1 request line",
        // llhttp refuses what corral accepts: a proxy built on llhttp would not forward it at all.
        "llhttp refuses: HPE_CR_EXPECTED": "a bare LF ending a field line: corral accepts it as picohttpparser does (RFC 9112 §2.2 allows it)",
        "llhttp refuses: HPE_INVALID_VERSION": "a bare LF ending the request line",
        "llhttp refuses: HPE_INVALID_HEADER_TOKEN": "a bare LF as the blank line that ends the head",
        "llhttp refuses: HPE_INVALID_CHUNK_SIZE": "whitespace between a chunk size and `;`: RFC 9112 §7.1.1 allows BWS there",
        "llhttp refuses: HPE_STRICT": "whitespace around `;` or `=` in a chunk extension: RFC 9112 §7.1.1 allows BWS there",
        "llhttp refuses: HPE_INVALID_CONTENT_LENGTH": "a tab around the Content-Length value: OWS is SP or HTAB (RFC 9110 §5.6.3)",
        "llhttp refuses: HPE_INVALID_METHOD": "a method llhttp does not know (FOO, get, PURGE…): RFC 9110 §9.1 makes any token a method; corral passes it to the app",
        "llhttp refuses: HPE_INVALID_URL": "obs-text (bytes ≥ 0x80) in the target: corral passes it to the app as sent",
        // Neither serves it.
        "ending: corral incomplete, llhttp refuses": "a partial line at the end of the stream: llhttp refuses at the bad byte, corral when the line ends",
        "ending: corral refuses, llhttp incomplete": "a partial line at the end of the stream that corral already refuses (a bare CR, a bad byte in chunk framing)",
        // corral never answers 101 or a 2xx to CONNECT (Connection.replacementForTunnel), so a proxy never starts a tunnel.
        "persistence: llhttp hands the connection over": "Upgrade or CONNECT: llhttp stops parsing; corral answers it as a plain request",
    ]

    struct Finding {
        let label: String
        let disagreement: TranscriptDisagreement
        let corral: RequestStreamTranscript
        let llhttp: RequestStreamTranscript
    }

    @Test(arguments: [false, true]) func corralFramesEveryStreamAsLLHTTPDoes(lenient: Bool) throws {
        let cases = RiskyRequests.all()
        let theirs = try LLHTTP.transcripts(of: cases.map(\.bytes), lenient: lenient)
        var findings: [Finding] = []
        for (index, request) in cases.enumerated() {
            let ours = RequestStreamTranscript.corral(request.bytes)
            if let disagreement = TranscriptDisagreement.first(corral: ours, llhttp: theirs[index]) {
                findings.append(Finding(label: request.label, disagreement: disagreement, corral: ours, llhttp: theirs[index]))
            }
        }
        try write(findings, streams: cases.count, llhttp: try LLHTTP.version() + (lenient ? " (lenient)" : ""),
                  to: lenient ? Self.lenientReport : Self.report)
        let smuggling = findings.filter(\.disagreement.isSmuggling)
        #expect(smuggling.count == 0, "streams framed differently, first: \(smuggling.prefix(3).map(describe))")
        // Against the lenient parser, who refuses what is not itemized: either way the request is
        // served by neither or refused by corral. Everything else must be explained.
        let unexplained = findings.filter {
            if $0.disagreement.isSmuggling { return false }
            if lenient, case .acceptance = $0.disagreement { return false }
            return Self.explained[$0.disagreement.key] == nil
        }
        let keys = Set(unexplained.map(\.disagreement.key)).sorted()
        #expect(unexplained.count == 0, "unexplained disagreements: \(keys), e.g. \(unexplained.prefix(3).map(describe))")
        // Most streams must be read alike, or the comparison itself is broken.
        let disagreeing = findings.count
        #expect(disagreeing * 2 < cases.count, "of \(cases.count) streams")
    }

    func describe(_ finding: Finding) -> String {
        "\(finding.label): \(finding.disagreement)\n  corral: \(summary(finding.corral))\n  llhttp: \(summary(finding.llhttp))"
    }

    func summary(_ transcript: RequestStreamTranscript) -> String {
        let messages = transcript.messages.map { "[\($0.headEnd)…\($0.end) body \($0.body.count / 2) B\($0.keepAlive ? "" : ", close")]" }
        return (messages + [transcript.end]).joined(separator: " ")
    }

    func write(_ findings: [Finding], streams: Int, llhttp: String, to report: URL) throws {
        var text = "corral's request parser vs llhttp \(llhttp): \(streams) streams, \(findings.count) disagree, "
            + "\(findings.filter(\.disagreement.isSmuggling).count) on framing\n\n"
        let byKey = Dictionary(grouping: findings, by: \.disagreement.key)
        for key in byKey.keys.sorted() {
            let group = byKey[key]!
            text += "## \(key): \(group.count)\n\(Self.explained[key] ?? "NOT EXPLAINED")\n"
            for finding in group { text += describe(finding) + "\n" }
            text += "\n"
        }
        try FileManager.default.createDirectory(at: report.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: report, atomically: true, encoding: .utf8)
    }
}
