"""The schema migration of the example app: creates the table and a first row once."""
import sqlite3
import sys

db = sqlite3.connect(sys.argv[1], timeout=5)
with db:
    db.execute("CREATE TABLE IF NOT EXISTS visits (id INTEGER PRIMARY KEY, at TEXT NOT NULL)")
    db.execute("CREATE TABLE IF NOT EXISTS schema (version INTEGER NOT NULL)")
    if db.execute("SELECT count(*) FROM schema").fetchone()[0] == 0:
        db.execute("INSERT INTO schema VALUES (1)")
print("migrated", sys.argv[1], "to schema 1", flush=True)
