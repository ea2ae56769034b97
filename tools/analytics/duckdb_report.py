"""The reference answer: DuckDB's figures for the flights report over a CSV file, with one
SQL query, printed as JSON rows (the shape the reducer's result.json has).

    .venv/bin/python tools/analytics/duckdb_report.py FILE [--threads N] [--time]

--time prints the query's wall-clock seconds on stderr (the benchmark's yardstick).
"""

import argparse
import json
import sys
import time

import duckdb

# Per carrier x origin x month: flights, cancelled (no departure time), mean and maximum
# departure and arrival delay, and the share of departed flights more than 15 minutes late.
# Every column is read as text and cast here, so DuckDB's type sniffing cannot differ from
# the mappers' reading; 'NA' and empty fields are missing values.
QUERY = """
SELECT carrier, origin, CAST(year AS INTEGER) AS year, CAST(month AS INTEGER) AS month,
       count(*) AS flights,
       count(*) FILTER (WHERE dep_time IS NULL) AS cancelled,
       avg(CAST(dep_delay AS DOUBLE)) AS meanDepDelay,
       max(CAST(dep_delay AS DOUBLE)) AS maxDepDelay,
       avg(CAST(arr_delay AS DOUBLE)) AS meanArrDelay,
       max(CAST(arr_delay AS DOUBLE)) AS maxArrDelay,
       count(*) FILTER (WHERE CAST(dep_delay AS DOUBLE) > 15)
         / NULLIF(count(dep_delay), 0)::DOUBLE AS shareDepOver15
FROM read_csv(?, header = true, all_varchar = true, nullstr = ['NA', ''], quote = '"', escape = '"')
GROUP BY ALL
ORDER BY carrier, origin, year, month
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--time", action="store_true")
    args = parser.parse_args()
    con = duckdb.connect()
    if args.threads:
        con.execute(f"SET threads = {args.threads}")
    started = time.perf_counter()
    cursor = con.execute(QUERY, [args.file])
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row)) for row in cursor.fetchall()]
    elapsed = time.perf_counter() - started
    if args.time:
        print(f"{elapsed:.3f}", file=sys.stderr)
    json.dump(rows, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
