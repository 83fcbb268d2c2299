"""HTTPS load for reload tests: `python https_load.py URL CAFILE STOPFILE` opens connection after
connection (three keep-alive requests on each, every one a full handshake) until STOPFILE exists
(at most 120 s), then prints `ok=N failed=M certificates=K` and the first failures. A request
fails when it raises or its status is not 200; the certificates seen are counted by serial.
After each connection STOPFILE.progress says `OK CERTIFICATES` so far, for the test to wait on."""
import http.client
import os
import ssl
import sys
import time
import urllib.parse


def main(url, cafile, stopfile):
    target = urllib.parse.urlsplit(url)
    context = ssl.create_default_context(cafile=cafile)
    ok = failed = 0
    failures = []
    serials = {}
    deadline = time.monotonic() + 120
    while not os.path.exists(stopfile) and time.monotonic() < deadline:
        connection = http.client.HTTPSConnection(target.hostname, target.port, context=context, timeout=10)
        try:
            for n in range(3):
                connection.request('GET', target.path)
                if n == 0:
                    # Read now: a draining worker's answer says Connection: close, and then
                    # http.client lets the socket go (the next request opens another).
                    serial = connection.sock.getpeercert()['serialNumber']
                    serials[serial] = serials.get(serial, 0) + 1
                response = connection.getresponse()
                response.read()
                if response.status == 200:
                    ok += 1
                else:
                    failed += 1
                    failures.append('status %d' % response.status)
        except Exception as error:  # every kind of failure is what the test counts
            failed += 1
            failures.append(repr(error))
        finally:
            connection.close()
        with open(stopfile + '.progress', 'w') as progress:
            progress.write('%d %d' % (ok, len(serials)))
    print('ok=%d failed=%d certificates=%d' % (ok, failed, len(serials)))
    for failure in failures[:5]:
        print('failure', failure)


if __name__ == '__main__':
    main(*sys.argv[1:])
