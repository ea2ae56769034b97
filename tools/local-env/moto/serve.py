"""moto's server, with DynamoDB's conditional writes atomic and failed transactions
rolled back without a trace, as on AWS, and transactions fast on large tables.

moto serves every request on a thread of its own, and evaluates a condition expression
and then writes the item as two steps: two conditional writes racing for one item can
both succeed, which DynamoDB never allows (leases, versions and idempotency records all
rely on it). One lock around every DynamoDB request restores it. Other services keep
serving concurrently: an SQS long poll must not hold anything else up.

moto's transactions, two ways. It backed a table up by deep-copying it once for every item
the transaction writes (a 99-item transaction on a table of 10,000 items copied a million
items and took tens of seconds), and it rolled a failed transaction back by putting the
copy in the table's place, stream and all: every reader of the table's stream kept
reading the old stream, which no write reached again, so one failed transaction stopped
the stream for good. Now the table's items are copied once, and a rollback restores
them in place and drops the stream records the transaction wrote.

The streams API takes the same lock, so a reader never sees a transaction half done.

Run as moto's own `moto_server` is: `python serve.py -H 127.0.0.1 -p 5050`.
"""

import copy
import threading

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
from moto.server import main

_dynamodb = threading.Lock()
_call_action = DynamoHandler.call_action


def _atomic_call_action(self):
    with _dynamodb:
        return _call_action(self)


DynamoHandler.call_action = _atomic_call_action
_streams_call_action = DynamoDBStreamsHandler.call_action


def _streams_atomic_call_action(self):
    with _dynamodb:
        return _streams_call_action(self)


DynamoDBStreamsHandler.call_action = _streams_atomic_call_action


class _TablesNotCopied:
    """Stands in for the `copy` module inside a transaction: moto's own backup of each
    table is the table itself, and the rollback below does what restoring it would."""

    def deepcopy(self, value, memo=None):
        if isinstance(value, dynamodb_models.Table):
            return value
        return copy.deepcopy(value, memo)


_transact_write_items = dynamodb_models.DynamoDBBackend.transact_write_items


def _transact_rolling_back_in_place(self, transact_items):
    names = {op.get("TableName") for item in transact_items for op in item.values() if isinstance(op, dict)}
    saved = {}
    for name in names:
        table = self.tables.get(name)
        if table is not None:
            records = len(table.stream_shard.items) if table.stream_shard is not None else 0
            saved[name] = (table, copy.deepcopy(table.items), records)
    dynamodb_models.copy = _TablesNotCopied()
    try:
        return _transact_write_items(self, transact_items)
    except Exception:
        for name, (table, items, records) in saved.items():
            self.tables[name] = table
            table.items = items
            if table.stream_shard is not None:
                del table.stream_shard.items[records:]
        raise
    finally:
        dynamodb_models.copy = copy


dynamodb_models.DynamoDBBackend.transact_write_items = _transact_rolling_back_in_place

if __name__ == "__main__":
    main()
