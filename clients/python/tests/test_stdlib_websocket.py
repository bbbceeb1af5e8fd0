"""The stdlib websocket client against a real websocket server: the `ws` library the endpoint uses."""
from __future__ import annotations

import socket
import subprocess

import pytest

from conftest import REPO
from gradient_monitor.stdlib_websocket import HandshakeError, StdlibWebSocket, accept_key

# A `ws` server that pings first, sends a message in three fragments, echoes what it gets with its
# length, and on "bye" closes with code 1000; it prints its port, then each pong it got and the close code.
SERVER = r"""
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, verifyClient: (i) => i.req.headers.authorization === 'Bearer t' });
wss.on('listening', () => console.log(wss.address().port));
wss.on('connection', (ws) => {
  ws.on('pong', (data) => console.log('pong ' + data.toString()));
  ws.ping(Buffer.from('are-you-there'));
  ws.send('frag', { fin: false }); ws.send('ment', { fin: false }); ws.send('ed', { fin: true });
  ws.on('message', (data, binary) => {
    const text = data.toString();
    if (text === 'bye') ws.close(1000, 'done'); else ws.send(`${binary ? 'binary' : 'text'} ${data.length} ${text.slice(0, 20)}`);
  });
  ws.on('close', (code) => { console.log('closed ' + code); wss.close(); });
});
"""


@pytest.fixture
def ws_server():
    proc = subprocess.Popen(["node", "-e", SERVER], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    yield f"ws://127.0.0.1:{port}/v1/stream", proc
    proc.kill()
    proc.wait(10)


def test_handshake_fragments_ping_large_frames_and_close(ws_server):
    url, proc = ws_server
    ws = StdlibWebSocket.connect(url, ["Authorization: Bearer t"], timeout=5)
    ws.settimeout(5)
    assert ws.recv() == "fragmented"  # the ping before it was answered on the way
    ws.send("héllo")
    assert ws.recv() == "text 6 héllo"
    for size in (125, 126, 65535, 65536, 300_000):  # each payload-length encoding, masked
        ws.send("x" * size)
        assert ws.recv() == f"text {size} {'x' * 20}"
    ws.send("bye")
    assert ws.recv() == ""  # the server's close frame
    ws.abort()
    out, _ = proc.communicate(timeout=10)
    assert out.split("\n")[:2] == ["pong are-you-there", "closed 1000"]


def test_refused_handshake_names_the_status(ws_server):
    url, _ = ws_server
    with pytest.raises(HandshakeError, match="401"):
        StdlibWebSocket.connect(url, ["Authorization: Bearer wrong"], timeout=5)


def test_a_timeout_keeps_a_partial_frame_for_the_next_recv(ws_server):
    url, _ = ws_server
    ws = StdlibWebSocket.connect(url, ["Authorization: Bearer t"], timeout=5)
    ws.settimeout(5)
    assert ws.recv() == "fragmented"
    ws.settimeout(0.05)
    with pytest.raises(socket.timeout):
        ws.recv()  # nothing sent yet
    ws.settimeout(5)
    ws.send("again")
    assert ws.recv() == "text 5 again"
    ws.close()


def test_accept_key_matches_rfc_6455_example():
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
