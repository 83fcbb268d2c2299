"""WebSocket client scenarios for corral's tests, on the `websockets` library (a real client):
`python ws_client.py SCENARIO URL [ARG]` prints what it saw, one fact per line, for the Swift test
to check. Every wait is bounded, so a server that misbehaves fails the test rather than hangs it."""
import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

TIMEOUT = 10


async def echo(url):
    async with connect(url, subprotocols=['first', 'second'], max_size=None) as ws:
        print('subprotocol', ws.subprotocol, 'x-accepted', ws.response.headers.get('x-accepted'))
        await ws.send('hello')
        print('text', await ws.recv())
        await ws.send(b'\x00\x01\xff')
        print('bytes', await ws.recv())
        await ws.send('scope')
        print('scope', await ws.recv())
        big = 'é' * 500000             # 1 MB of UTF-8, in frames the client fragments as it likes
        await ws.send(big)
        print('big echoed', await ws.recv() == big)
        await ws.send(['frag', 'mented'])  # a fragmented message
        print('fragmented', await ws.recv())
        await ws.ping(b'are you there')
        print('pong', 'ok')
        await ws.send('close')
        try:
            await ws.recv()
        except ConnectionClosed:
            print('closed by server', ws.close_code, ws.close_reason)


async def client_closes(url):
    async with connect(url) as ws:
        await ws.send('hello')
        await ws.recv()
        await ws.close(4100, 'bye now')
        print('closed', ws.close_code)


async def deny(url):
    for path in ['/close', '/custom', '/return', '/raise']:
        try:
            async with connect(url + path):
                print(path, 'accepted')
        except InvalidStatus as refused:
            response = refused.response
            print(path, response.status_code, response.headers.get('x-denied'), bytes(response.body).decode())


async def push(url):
    async with connect(url) as ws:
        ticks = echoes = 0
        for n in range(5):
            await ws.send('m%d' % n)
        while echoes < 5 or ticks < 20:
            message = await ws.recv()
            if message.startswith('tick'):
                ticks += 1
            else:
                echoes += 1
        print('ticks', ticks >= 20, 'echoes', echoes)


async def keepalive(url, seconds):
    async with connect(url, ping_interval=None) as ws:   # the server pings; the library answers
        await asyncio.sleep(float(seconds))
        await ws.send('still here')
        print('after', seconds, 's:', await ws.recv())


async def hold(url, again='again'):
    """Stays open until the server closes; says how; reconnects once and sends `again`."""
    async with connect(url) as ws:
        print('open', flush=True)
        try:
            await ws.recv()
        except ConnectionClosed:
            print('closed', ws.close_code, ws.close_reason, flush=True)
    async with connect(url) as ws:
        await ws.send(again)
        print('reconnected', await ws.recv(), flush=True)


async def chat(url):
    async with connect(url) as ws:
        await ws.send(json.dumps({'n': 1}))
        print(await ws.recv())


async def text(url, message, subprotocol=None):
    async with connect(url, subprotocols=[subprotocol] if subprotocol else None) as ws:
        await ws.send(message)
        print('reply', await ws.recv(), 'subprotocol', ws.subprotocol)


async def converse(url, *messages):
    """Sends each message and prints the reply; then 'bye', and how the server closed."""
    async with connect(url) as ws:
        for message in messages:
            await ws.send(message)
            print('reply', await ws.recv())
        await ws.send('bye')
        try:
            await ws.recv()
        except ConnectionClosed:
            print('closed by server', ws.close_code)


async def main():
    scenario, url, *rest = sys.argv[1:]
    await asyncio.wait_for(globals()[scenario](url, *rest), TIMEOUT + 30 if scenario == 'hold' else TIMEOUT)


if __name__ == '__main__':
    asyncio.run(main())
