"""The example web app: counts visits in SQLite; /healthz says whether it can reach its data."""
import http.server
import os
import sqlite3

DB = os.environ["APP_DB"]
PORT = int(os.environ["APP_PORT"])


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            try:
                sqlite3.connect(DB, timeout=1).execute("SELECT version FROM schema").fetchone()
                self.answer(200, "ok\n")
            except sqlite3.Error as e:
                self.answer(503, f"database: {e}\n")
            return
        db = sqlite3.connect(DB, timeout=5)
        with db:
            db.execute("INSERT INTO visits (at) VALUES (datetime('now'))")
            n = db.execute("SELECT count(*) FROM visits").fetchone()[0]
        self.answer(200, f"hello from app (pid {os.getpid()}), visit {n}\n")

    def answer(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        print(fmt % args, flush=True)


print(f"app listening on 127.0.0.1:{PORT}", flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
