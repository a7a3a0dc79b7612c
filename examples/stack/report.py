"""The nightly report of the example app: one line with the day's visit count."""
import datetime
import sqlite3
import sys

db = sqlite3.connect(sys.argv[1], timeout=5)
n = db.execute("SELECT count(*) FROM visits").fetchone()[0]
line = f"{datetime.datetime.now().isoformat(timespec='seconds')} visits={n}"
with open(sys.argv[2], "a") as out:
    print(line, file=out)
print("report written:", line, flush=True)
