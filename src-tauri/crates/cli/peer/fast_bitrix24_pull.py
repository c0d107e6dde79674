"""P10 peer: pulls every lead, deal, contact and company with fast_bitrix24 (an existing Bitrix24
client library from PyPI) through a webhook, writes them to a SQLite file, and prints one JSON
line: {"records": N, "seconds": S, "per_type": {...}}. Run by `kartoteka-cli bench peer`."""

import json
import sqlite3
import sys
import time

from fast_bitrix24 import Bitrix

TYPES = {"lead": 1, "deal": 2, "contact": 3, "company": 4}


def main() -> None:
    webhook, out = sys.argv[1], sys.argv[2]
    started = time.monotonic()
    # The sandbox runs with limits off, so the library's own request-rate bucket is opened wide
    # too (Kartoteka's bench turns its client bucket off). Its per-method time accounting stays
    # on: turned off, this version fails on the first answer that reports time.
    b24 = Bitrix(webhook, verbose=False, request_pool_size=10_000, requests_per_second=10_000.0)
    db = sqlite3.connect(out)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS records (type INTEGER, id INTEGER, fields TEXT, PRIMARY KEY (type, id))"
    )
    per_type = {}
    for slug, type_id in TYPES.items():
        items = b24.get_all(
            "crm.item.list",
            params={"entityTypeId": type_id, "select": ["*", "uf_*"], "useOriginalUfNames": "Y"},
        )
        with db:
            db.executemany(
                "INSERT OR REPLACE INTO records VALUES (?, ?, ?)",
                ((type_id, int(i["id"]), json.dumps(i, ensure_ascii=False)) for i in items),
            )
        per_type[slug] = len(items)
    db.close()
    print(
        json.dumps(
            {
                "records": sum(per_type.values()),
                "seconds": time.monotonic() - started,
                "per_type": per_type,
            }
        )
    )


if __name__ == "__main__":
    main()
