"""Application factories, as gunicorn loads them (MODULE:factory(args))."""
def create_app(greeting='hi', punctuation='!'):
    def app(environ, start_response):
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [(greeting + punctuation).encode()]
    return app

def failing_factory():
    raise RuntimeError('the factory failed')

not_callable = 42

def application(environ, start_response):
    start_response('200 OK', [])
    return [b'default name']
