// What llhttp (node's HTTP/1.1 parser) makes of each byte stream it is given, for corral's
// differential parser test. Input on stdin: one stream per line, hex. Output on stdout: one JSON
// transcript per line. Each stream is fed one byte at a time, so every message's head end and end
// are known to the byte. Strict by default, as node serves; with the argument `lenient`, every
// lenient flag is set, as node's --insecure-http-parser does (and as lenient proxies read).
'use strict';
const { HTTPParser, methods } = require('_http_common');
const readline = require('readline');

const latin1Hex = (s) => Buffer.from(s, 'latin1').toString('hex');

const lenient = process.argv[2] === 'lenient';

function transcribe(bytes) {
  const messages = [];
  let current = null;
  let position = 0;
  let pendingHeaders = [];
  let pendingURL = '';
  let upgraded = false;
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.REQUEST, {}, 0, lenient ? (HTTPParser.kLenientAll ?? true) : (HTTPParser.kLenientNone ?? 0));
  // More than 32 fields, or a head split across reads, arrives in pieces before the head completes.
  parser[HTTPParser.kOnHeaders] = (headers, url) => {
    pendingHeaders = pendingHeaders.concat(headers);
    pendingURL += url;
  };
  parser[HTTPParser.kOnHeadersComplete] = (major, minor, headers, method, url, _s, _m, upgrade, keepAlive) => {
    const fields = pendingHeaders.concat(headers || []);
    const pairs = [];
    for (let i = 0; i < fields.length; i += 2) pairs.push([latin1Hex(fields[i]), latin1Hex(fields[i + 1])]);
    current = {
      method: latin1Hex(methods[method]),
      target: latin1Hex(url === undefined ? pendingURL : pendingURL + url),
      version: `${major}.${minor}`,
      fields: pairs,
      keepAlive: !!keepAlive,
      headEnd: position + 1,
      body: '',
    };
    pendingHeaders = [];
    pendingURL = '';
    upgraded = !!upgrade;
    return 0;
  };
  parser[HTTPParser.kOnBody] = (buffer, start, length) => {
    const piece = start === undefined ? buffer : buffer.subarray(start, start + length);
    current.body += piece.toString('hex');
  };
  parser[HTTPParser.kOnMessageComplete] = () => {
    // Trailer fields arrive through kOnHeaders too; corral skips them, and so does the comparison.
    pendingHeaders = [];
    pendingURL = '';
    current.end = position + 1;
    messages.push(current);
    current = null;
  };
  let end = 'incomplete';
  for (position = 0; position < bytes.length; position++) {
    const result = parser.execute(bytes.subarray(position, position + 1));
    if (result instanceof Error) {
      end = `error ${result.code}`;
      break;
    }
    if (upgraded && current === null) {
      end = 'upgrade';
      break;
    }
  }
  if (end === 'incomplete' && current === null && messages.length > 0 && messages.at(-1).end === bytes.length) {
    end = 'clean';
  }
  parser.close();
  return { messages, end };
}

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  process.stdout.write(JSON.stringify(transcribe(Buffer.from(line, 'hex'))) + '\n');
});
