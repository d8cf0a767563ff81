"""The baseline: Close's official Python client (`closeio` on PyPI), one `api.put` per row.

Runs in its own venv (benchmarks/out/baseline-venv), never in the tool's:

    python baseline_client.py INPUT BASE_URL API_KEY

`closeio_api.API(base_url, api_key=...)` is the client's own way to aim at another server
(`Client` is API with api.close.com filled in); it authenticates with HTTP Basic, the key as
user name. Prints JSON: rows, errors, seconds (the loop only, not the imports).
"""

import csv
import json
import sys
import time

from closeio_api import API, APIError


def main() -> None:
    source, base_url, api_key = sys.argv[1:4]
    api = API(base_url, api_key=api_key)
    with open(source, newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    errors = 0
    started = time.perf_counter()
    for row in rows:
        try:
            api.put(f"activity/sms/{row['id']}", data={"text": row["text"]})
        except APIError:
            errors += 1
    seconds = time.perf_counter() - started
    print(json.dumps({"rows": len(rows), "errors": errors, "seconds": seconds}))


if __name__ == "__main__":
    main()
