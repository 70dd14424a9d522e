"""A small web app with live reload, run inside an AgentCore session by examples/preview.rs.

python3 preview_app.py PORT WATCHED_FILE SESSION_ID [BIND]

GET /            the page: the session id and the watched file's text, kept current
GET /message     the watched file's text
GET /livereload  WebSocket: "reload" each time the watched file changes
GET /echo        WebSocket: every message sent back
Python's standard library only.
"""
import base64
import hashlib
import html
import http.server
import os
import socketserver
import struct
import sys
import threading
import time

PORT = int(sys.argv[1])
WATCHED = sys.argv[2]
SESSION = sys.argv[3]
BIND = sys.argv[4] if len(sys.argv) > 4 else "0.0.0.0"
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>agentcore preview</title>
<style>
body { font-family: sans-serif; margin: 3em; background: #f4f7fb; color: #1b2733; }
.card { background: white; border-radius: 12px; padding: 2em; box-shadow: 0 2px 12px #0002; max-width: 46em; }
code { background: #e8eef6; padding: .15em .4em; border-radius: 4px; }
#message { font-size: 2em; color: #0b5fad; margin: .6em 0; }
#status { color: #4a8a2a; }
</style></head>
<body><div class="card">
<h1>Live preview from an AgentCore session</h1>
<p>Session <code id="session">%(session)s</code></p>
<div id="message">%(message)s</div>
<p id="status">live reload: connecting</p>
<p>reloads: <span id="reloads">0</span></p>
</div>
<script>
window.reloads = 0;
function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/livereload");
  ws.onopen = () => { document.getElementById("status").textContent = "live reload: connected"; window.liveReloadOpen = true; };
  ws.onmessage = async (e) => {
    if (e.data !== "reload") return;
    const text = await (await fetch("/message", {cache: "no-store"})).text();
    document.getElementById("message").textContent = text;
    window.reloads += 1;
    document.getElementById("reloads").textContent = String(window.reloads);
  };
  ws.onclose = () => { window.liveReloadOpen = false; document.getElementById("status").textContent = "live reload: reconnecting"; setTimeout(connect, 1000); };
}
connect();
</script>
</body></html>
"""


def read_message():
    try:
        with open(WATCHED, encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return "(no message yet)"


def mtime():
    try:
        st = os.stat(WATCHED)
        return (st.st_mtime_ns, st.st_size)
    except OSError:
        return None


def send_frame(sock, payload, opcode=1):
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack(">H", n)
    else:
        head += bytes([127]) + struct.pack(">Q", n)
    sock.sendall(head + payload)


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def recv_frame(sock):
    b1, b2 = recv_exact(sock, 2)
    opcode, n = b1 & 0x0F, b2 & 0x7F
    if n == 126:
        n = struct.unpack(">H", recv_exact(sock, 2))[0]
    elif n == 127:
        n = struct.unpack(">Q", recv_exact(sock, 8))[0]
    mask = recv_exact(sock, 4) if b2 & 0x80 else b"\0\0\0\0"
    data = bytes(c ^ mask[i % 4] for i, c in enumerate(recv_exact(sock, n)))
    return opcode, data


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("preview-app: " + (fmt % args) + "\n")

    def send_text(self, status, body, ctype):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def upgrade(self):
        key = self.headers.get("Sec-WebSocket-Key", "").encode()
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        return self.connection

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/":
            page = PAGE % {"session": html.escape(SESSION), "message": html.escape(read_message())}
            self.send_text(200, page, "text/html; charset=utf-8")
        elif path == "/message":
            self.send_text(200, read_message(), "text/plain; charset=utf-8")
        elif path == "/livereload" and self.headers.get("Upgrade", "").lower() == "websocket":
            sock = self.upgrade()
            last = mtime()
            try:
                while True:
                    time.sleep(0.2)
                    now = mtime()
                    if now != last:
                        last = now
                        send_frame(sock, b"reload")
            except OSError:
                pass
        elif path == "/echo" and self.headers.get("Upgrade", "").lower() == "websocket":
            sock = self.upgrade()
            try:
                while True:
                    opcode, data = recv_frame(sock)
                    if opcode == 8:
                        send_frame(sock, data[:2], 8)
                        break
                    if opcode == 9:
                        send_frame(sock, data, 10)
                    elif opcode in (1, 2):
                        send_frame(sock, data, opcode)
            except (OSError, ConnectionError):
                pass
        else:
            self.send_text(404, "not found\n", "text/plain")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        self.send_text(200, "posted %d bytes to %s: %s" % (n, self.path, hashlib.sha256(body).hexdigest()), "text/plain")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    server = Server((BIND, PORT), Handler)
    sys.stderr.write("preview-app: serving on %s:%d\n" % (BIND, PORT))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    while True:
        time.sleep(3600)
