import CorralTLS
import Testing

@Suite struct TLSSettingsTests {
    @Test func protocolVersionsInTheirUsualSpellings() {
        for name in ["TLSv1.2", "tls1.2", "1.2", "TLSv1_2"] { #expect(TLSSettings.ProtocolVersion(name: name) == .tls1_2) }
        for name in ["TLSv1.3", "tls1.3", "1.3"] { #expect(TLSSettings.ProtocolVersion(name: name) == .tls1_3) }
        for name in ["TLSv1.1", "SSLv3", "", "tls"] { #expect(TLSSettings.ProtocolVersion(name: name) == nil) }
    }

    @Test func clientCertificatesWithoutACAAreRefusedNotSilentlyUnverified() {
        var settings = TLSSettings(certfile: "/c.pem")
        #expect(settings.problem == nil)
        settings.clientCertificates = .required
        #expect(settings.problem?.contains("ca_certs is not set") == true)
        settings.caCerts = "/ca.pem"
        #expect(settings.problem == nil)
    }

    @Test func aMissingFileIsNamedWithTheSetting() {
        #expect(throws: TLSError.self) { try TLSContext(TLSSettings(certfile: "/nonexistent/cert.pem")) }
        do {
            _ = try TLSContext(TLSSettings(certfile: "/nonexistent/cert.pem"))
        } catch {
            #expect(error.description == "certfile /nonexistent/cert.pem: No such file or directory")
        }
    }
}
