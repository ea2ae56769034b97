"""Runs the README's Athena example query with DuckDB over a local copy of the archive:
the same Hive-partitioned, gzip-compressed JSON Lines that Athena reads, so the layout is
checked by a SQL engine here, and an archive can be queried without Athena.

    .venv/bin/python tools/archive/query.py DIR DAY

DIR holds a copy of the archive bucket (`table=alerts/year=.../...jsonl.gz`, e.g. from
`aws s3 sync s3://<ArchiveBucket> DIR`); DAY is YYYY-MM-DD. Prints, as JSON, the alerts that
expired that day per carrier, route and kind: the figures of the day's roll-up report.
"""

import datetime
import json
import pathlib
import sys

import duckdb

# The README's query, in DuckDB's dialect: partitions are columns, `item` a struct.
QUERY = """
SELECT item.carrier AS carrier, item.origin AS origin, item.destination AS destination,
       item.type AS kind, count(*) AS alerts
FROM read_json(?, format = 'newline_delimited', hive_partitioning = true, union_by_name = true)
WHERE year = ? AND month = ? AND day = ? AND starts_with(item.sk, 'ALERT#')
GROUP BY ALL
ORDER BY carrier, origin, destination, kind
"""


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    root = pathlib.Path(sys.argv[1])
    day = datetime.date.fromisoformat(sys.argv[2])
    files = str(root / "table=alerts" / "*" / "*" / "*" / "*.jsonl.gz")
    rows = duckdb.execute(QUERY, [files, day.year, day.month, day.day]).fetchall()
    names = ["carrier", "origin", "destination", "kind", "alerts"]
    print(json.dumps([dict(zip(names, row)) for row in rows]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
