#!/usr/bin/env python3
"""A loopback HTTP server that answers every request with a redirect
(tests/e2e/t0600-trust.sh): relative (Location: /elsewhere/...) or absolute
to another host. Usage: redirect-server.py PORTFILE relative|offsite"""
import http.server, socketserver, sys

MODE = sys.argv[2] if len(sys.argv) > 2 else "relative"

class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(302)
        if MODE == "relative":
            self.send_header("Location", "/elsewhere" + self.path)
        else:
            self.send_header("Location", "http://127.0.0.2:9" + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()
    do_HEAD = do_GET
    def log_message(self, *a):
        pass

with socketserver.TCPServer(("127.0.0.1", 0), H) as s:
    with open(sys.argv[1], "w") as f:
        f.write(str(s.server_address[1]))
    s.serve_forever()
