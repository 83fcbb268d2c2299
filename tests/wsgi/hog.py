"""A WSGI app that grows: /grow keeps 20 MB more (written, so resident); anything else answers
at once with what it holds. For max_worker_rss (WSGICorraldTests, and the e2e test under
MemoryMax=)."""
hoard = []

def app(environ, start_response):
    if environ['PATH_INFO'] == '/grow':
        hoard.append(b'x' * (20 << 20))
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'%d MB held\n' % (20 * len(hoard))]
