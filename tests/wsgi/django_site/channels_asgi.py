"""The site under Django Channels, as its tutorial sets it up: HTTP goes to Django's own ASGI
application, WebSockets (which Django itself does not serve) to a Channels consumer."""
import os

os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'django_site.settings')

from django.core.asgi import get_asgi_application  # noqa: E402

django_application = get_asgi_application()        # (sets Django up before the consumers import models)

from channels.generic.websocket import WebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402


class Echo(WebsocketConsumer):
    """A synchronous consumer: Channels runs it in a thread of asyncio's executor."""

    def receive(self, text_data=None, bytes_data=None):
        if text_data == 'bye':
            self.close(code=4000)
        else:
            self.send(text_data='django channels: %s' % text_data)


application = ProtocolTypeRouter({
    'http': django_application,
    'websocket': URLRouter([path('ws/echo/', Echo.as_asgi())]),
})
