"""Test certificates from trustme, written into DIRECTORY (ECDSA P-256, as the benchmarks use):

ca.pem              the test CA (clients trust it; ca_certs for client certificates)
server.pem/.key     localhost and 127.0.0.1, issued by the CA
renewed.pem/.key    the same names, a new key: what a renewal puts in place
client.pem/.key     a client certificate for client@example.com, issued by the CA
stranger.pem/.key   a client certificate from another CA, which verification must refuse
"""
import sys

import trustme


def write(cert, directory, name):
    cert.private_key_pem.write_to_path(f"{directory}/{name}.key")
    with open(f"{directory}/{name}.pem", "wb") as chain:
        for pem in cert.cert_chain_pems:
            chain.write(pem.bytes())


def main(directory):
    ca = trustme.CA(key_type=trustme.KeyType.ECDSA)
    ca.cert_pem.write_to_path(f"{directory}/ca.pem")
    write(ca.issue_cert("localhost", "127.0.0.1", key_type=trustme.KeyType.ECDSA), directory, "server")
    write(ca.issue_cert("localhost", "127.0.0.1", key_type=trustme.KeyType.ECDSA), directory, "renewed")
    write(ca.issue_cert("client@example.com", common_name="client", key_type=trustme.KeyType.ECDSA), directory, "client")
    other = trustme.CA(key_type=trustme.KeyType.ECDSA)
    write(other.issue_cert("stranger@example.com", common_name="stranger", key_type=trustme.KeyType.ECDSA), directory, "stranger")


if __name__ == "__main__":
    main(sys.argv[1])
