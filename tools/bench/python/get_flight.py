"""The Python peer of the flights function's GET /flights/{flightId}, for the benchmark.

Idiomatic boto3, the client built at import as in any Python Lambda; it reads the same
table item the Rust function reads (see shared/adapters/src/flights_table.rs).
"""
import json
import os

import boto3

TABLE = boto3.resource("dynamodb").Table(os.environ["FLIGHTS_TABLE"])


def handler(event, context):
    flight_id = (event.get("pathParameters") or {}).get("flightId", "")
    item = TABLE.get_item(Key={"pk": f"FLIGHT#{flight_id}", "sk": "FLIGHT"}, ConsistentRead=True).get("Item")
    if item is None:
        problem = {"type": "/problems/not-found", "title": "Not found", "status": 404,
                   "detail": f"flight {flight_id} is not registered"}
        return {"statusCode": 404, "headers": {"content-type": "application/problem+json"}, "body": json.dumps(problem)}
    body = {
        "flightId": flight_id,
        "carrier": item["carrier"],
        "flightNumber": str(item["flightNumber"]),
        "date": item["date"],
        "origin": item["origin"],
        "destination": item["destination"],
        "scheduledDeparture": item["scheduledDeparture"],
        "passengerCount": int(item["passengerCount"]),
    }
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}
