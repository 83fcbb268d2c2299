"""Clients for tests/wsgi/websocket_app.py: `python ws_wsgi_client.py sock|socketio PORT [PAUSE]`
(PAUSE: seconds flask-sock's connection stays quiet between its two messages)."""
import asyncio
import sys
import threading

port = sys.argv[2]
pause = float(sys.argv[3]) if len(sys.argv) > 3 else 0


async def flask_sock():
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed
    async with connect('ws://127.0.0.1:%s/echo' % port) as ws:
        for word in ('one', 'two'):
            await ws.send(word)
            print(await ws.recv())
            await asyncio.sleep(pause)
        await ws.send('bye')
        try:
            await ws.recv()
        except ConnectionClosed:
            print('closed', ws.close_code, ws.close_reason)


def socketio():
    import socketio as client_library
    client = client_library.Client()
    heard = threading.Event()
    answer = []

    @client.on('shouted')
    def shouted(text):
        answer.append(text)
        heard.set()

    client.connect('http://127.0.0.1:%s' % port, transports=['websocket'], wait_timeout=10)
    print('transport', client.transport())
    client.emit('shout', 'hello socketio')
    print('heard', heard.wait(10) and answer[0])
    client.disconnect()


if sys.argv[1] == 'sock':
    asyncio.run(asyncio.wait_for(flask_sock(), 10 + 2 * pause))
else:
    socketio()
