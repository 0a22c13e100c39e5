"""What every test HTTP server here shares: listen on --listen, announce the port the kernel
picked in --port-file (atomically), stop cleanly on SIGTERM."""
import os
import signal
import sys
from http.server import ThreadingHTTPServer


def serve_http(handler, listen, port_file=None):
    host, port = listen.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), handler)
    if port_file:
        with open(port_file + ".tmp", "w") as f:
            f.write("%d\n" % server.server_address[1])
        os.replace(port_file + ".tmp", port_file)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
