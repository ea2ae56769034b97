"""Schemathesis hooks: what openapi.yaml states in words, because JSON Schema cannot.

The contract's descriptions say it and the functions enforce it; these hooks teach the
fuzzer the same rules, so that the data it calls valid is what the API accepts:

- `format: e164`: a mobile number valid in its country's numbering plan, shared by at most
  10 passengers of a flight;
- `format: date` (a departure date): within the window around today, the example's fixed
  date included;
- a registration's departure time falls on its date, and its origin is not its destination;
- `format: cursor`: the `nextCursor` of the same flight's listing (or of the jobs'
  listing: a creation time and a job key); a collection's cursor
  names the collection's generation, which only a previous page knows, so a valid listing
  of a collection starts from its first page (paging is tested in the collections
  function's tests);
- a collection names each product once; a change names each product once, in `upsert`
  or in `remove`, and at most 99 products in all.

Only parts generated as valid are adjusted: invalid ones are left for the fuzzer to send,
and the API must refuse them.
"""

import base64
import datetime
import uuid

import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode

# Numbers valid in their countries' numbering plans (libphonenumber), one per country.
MOBILES = [
    "+447911123456",
    "+14155552671",
    "+33612345678",
    "+4915123456789",
    "+61412345678",
    "+819012345678",
    "+34612345678",
    "+393123456789",
    "+5511912345678",
    "+919876543210",
]
schemathesis.openapi.format("e164", st.sampled_from(MOBILES))

# A day inside "yesterday to 366 days ahead" whatever the hour the run starts.
_today = datetime.datetime.now(datetime.timezone.utc).date()
schemathesis.openapi.format(
    "date",
    st.dates(min_value=_today, max_value=_today + datetime.timedelta(days=365)).map(datetime.date.isoformat),
)


def _cursor(flight_id):
    """A cursor of the flight's listing: a position after which nothing is found."""
    position = f"ALERT#{uuid.uuid4()}"
    return base64.urlsafe_b64encode(f"v1\n{flight_id}\n{position}".encode()).decode().rstrip("=")


def _jobs_cursor():
    """A cursor of the jobs' listing: a position after which nothing is found."""
    position = f"2000-01-01T00:00:00.000Z|JOB#{uuid.uuid4().hex[:24]}"
    return base64.urlsafe_b64encode(f"v1\njobs\n{position}".encode()).decode().rstrip("=")


schemathesis.openapi.format("cursor", st.just("placeholder"))


def _valid(case, location):
    components = case._meta.components if case._meta else {}
    info = components.get(location)
    return info is not None and info.mode == GenerationMode.POSITIVE


def _first_of_each(products, seen):
    """The products (or product ids) whose id is not in `seen`, each id once."""
    kept = []
    for product in products:
        product_id = product.get("productId") if isinstance(product, dict) else product
        if product_id not in seen:
            seen.add(product_id)
            kept.append(product)
    return kept


def _in_window(body):
    """Moves a registration's departure date into the window when it is a real date that
    has left it."""
    raw = body.get("date")
    try:
        date = datetime.date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else None
    except ValueError:
        return
    if date is None or _today - datetime.timedelta(days=1) <= date <= _today + datetime.timedelta(days=366):
        return
    body["date"] = (_today + datetime.timedelta(days=30)).isoformat()
    if isinstance(body.get("scheduledDeparture"), str) and body["scheduledDeparture"].startswith(raw):
        body["scheduledDeparture"] = body["date"] + body["scheduledDeparture"][10:]


@schemathesis.hook
def before_load_schema(context, raw_schema):
    # openapi.yaml's registration example names a fixed day, which leaves the window as the
    # calendar moves on; every phase that sends examples sends this one, moved into it.
    for path in (raw_schema.get("paths") or {}).values():
        for operation in path.values() if isinstance(path, dict) else ():
            if isinstance(operation, dict) and operation.get("operationId") == "registerFlight":
                for media in operation.get("requestBody", {}).get("content", {}).values():
                    if isinstance(media.get("example"), dict):
                        _in_window(media["example"])


@schemathesis.hook
def map_case(context, case):
    operation = case.operation.definition.raw.get("operationId")
    if operation == "registerFlight" and isinstance(case.body, dict) and _valid(case, "body"):
        body = case.body
        # Boundary values made from the E.164 pattern are rarely in any numbering plan, and
        # at most 10 passengers may share a number: each passenger gets a number of its own.
        for i, passenger in enumerate(body.get("passengers") or []):
            if isinstance(passenger, dict):
                passenger["mobile"] = MOBILES[i] if i < len(MOBILES) else f"+1415{2000000 + i:07d}"
        if isinstance(body.get("date"), str) and isinstance(body.get("scheduledDeparture"), str):
            body["scheduledDeparture"] = body["date"] + body["scheduledDeparture"][10:]
        origin, destination = body.get("origin"), body.get("destination")
        if isinstance(origin, str) and isinstance(destination, str) and origin.upper() == destination.upper():
            body["destination"] = "ZZZ" if origin.upper() != "ZZZ" else "YYY"
    if operation == "getCollection" and isinstance(case.query, dict) and _valid(case, "query"):
        case.query.pop("cursor", None)
    if operation == "replaceCollection" and isinstance(case.body, dict) and _valid(case, "body"):
        if isinstance(case.body.get("products"), list):
            case.body["products"] = _first_of_each(case.body["products"], set())
    if operation == "changeCollection" and isinstance(case.body, dict) and _valid(case, "body"):
        seen = set()
        for part in ("upsert", "remove"):
            if isinstance(case.body.get(part), list):
                case.body[part] = _first_of_each(case.body[part], seen)
        room = 99
        for part in ("upsert", "remove"):
            if isinstance(case.body.get(part), list):
                case.body[part] = case.body[part][:room]
                room -= len(case.body[part])
    if operation == "listAlerts" and isinstance(case.query, dict) and "cursor" in case.query and _valid(case, "query"):
        case.query["cursor"] = _cursor(case.query.get("flightId", ""))
    if operation == "listJobs" and isinstance(case.query, dict) and "cursor" in case.query and _valid(case, "query"):
        case.query["cursor"] = _jobs_cursor()
    return case
