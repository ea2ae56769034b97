"""moto's server, with DynamoDB's conditional writes atomic, as they are on AWS, and its
transactions fast enough for a table of thousands of items.

moto serves every request on a thread of its own, and evaluates a condition expression
and then writes the item as two steps: two conditional writes racing for one item can
both succeed, which DynamoDB never allows (leases, versions and idempotency records all
rely on it). One lock around every DynamoDB request restores it. Other services keep
serving concurrently: an SQS long poll must not hold anything else up.

moto backs up a table before a transaction, to roll back on failure, by deep-copying it
once for every item the transaction writes: a 99-item transaction on a table of 10,000
items copied a million items and took tens of seconds. Each table is now copied once per
transaction (the rollback is unchanged).

Run as moto's own `moto_server` is: `python serve.py -H 127.0.0.1 -p 5050`.
"""

import copy
import threading

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_dynamodb = threading.Lock()
_call_action = DynamoHandler.call_action


def _atomic_call_action(self):
    with _dynamodb:
        return _call_action(self)


DynamoHandler.call_action = _atomic_call_action


class _EachTableCopiedOnce:
    """Stands in for the `copy` module inside one transaction: a table is deep-copied
    the first time, and that copy is the backup for every later item of the transaction
    (the table cannot change in between: no other DynamoDB request runs meanwhile)."""

    def __init__(self):
        self._tables = {}

    def deepcopy(self, value, memo=None):
        if not isinstance(value, dynamodb_models.Table):
            return copy.deepcopy(value, memo)
        if id(value) not in self._tables:
            self._tables[id(value)] = (value, copy.deepcopy(value, memo))
        return self._tables[id(value)][1]


_transact_write_items = dynamodb_models.DynamoDBBackend.transact_write_items


def _transact_copying_each_table_once(self, transact_items):
    dynamodb_models.copy = _EachTableCopiedOnce()
    try:
        return _transact_write_items(self, transact_items)
    finally:
        dynamodb_models.copy = copy


dynamodb_models.DynamoDBBackend.transact_write_items = _transact_copying_each_table_once

if __name__ == "__main__":
    main()
