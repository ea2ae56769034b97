"""moto's server, with DynamoDB's conditional writes atomic, as they are on AWS.

moto serves every request on a thread of its own, and evaluates a condition expression
and then writes the item as two steps: two conditional writes racing for one item can
both succeed, which DynamoDB never allows (leases, versions and idempotency records all
rely on it). One lock around every DynamoDB request restores it. Other services keep
serving concurrently: an SQS long poll must not hold anything else up.

Run as moto's own `moto_server` is: `python serve.py -H 127.0.0.1 -p 5050`.
"""

import threading

from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_dynamodb = threading.Lock()
_call_action = DynamoHandler.call_action


def _atomic_call_action(self):
    with _dynamodb:
        return _call_action(self)


DynamoHandler.call_action = _atomic_call_action

if __name__ == "__main__":
    main()
