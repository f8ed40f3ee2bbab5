"""Opens N keep-alive connections to 127.0.0.1:PORT, sends one GET on each
and reads its answer, then lets them idle: prints `open` once all are, and
on a line from stdin closes them all and prints `closed`.
Usage: python3 bench/idle.py PORT N [PATH] [--tls]
(--tls: over TLS, the certificate not checked: the proxy's is self-signed)

One client address has only the ephemeral port range (about 28,000 ports)
to one server port, so the connections come from 127.0.0.1, 127.0.0.2, ...
(IP_BIND_ADDRESS_NO_PORT lets the kernel pick the port per address at
connect). The caller raises the open-file limit (`ulimit -n`)."""
import socket, ssl, sys

IP_BIND_ADDRESS_NO_PORT = 24
PER_ADDRESS = 20_000
# Connects in flight before their answers are read: below every listen backlog.
BATCH = 256

tls = "--tls" in sys.argv
args = [arg for arg in sys.argv[1:] if arg != "--tls"]
port, count = int(args[0]), int(args[1])
path = args[2] if len(args) > 2 else "/healthz"
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()


def answered(sock):
    """Reads one whole response (framed by Content-Length) off `sock`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            sys.exit(f"connection closed before an answer; got {data[:200]!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 200"):
        sys.exit(f"not a 200: {head[:200]!r}")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            sys.exit("connection closed mid-body")
        body += chunk


sockets = []
while len(sockets) < count:
    batch = []
    for _ in range(min(BATCH, count - len(sockets))):
        index = len(sockets) + len(batch)
        sock = socket.socket()
        sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((f"127.0.0.{1 + index // PER_ADDRESS}", 0))
        sock.connect(("127.0.0.1", port))
        if tls:
            sock = context.wrap_socket(sock, server_hostname="localhost")
        sock.sendall(request)
        batch.append(sock)
    for sock in batch:
        answered(sock)
    sockets.extend(batch)
print("open", flush=True)
sys.stdin.readline()
for sock in sockets:
    sock.close()
print("closed", flush=True)
