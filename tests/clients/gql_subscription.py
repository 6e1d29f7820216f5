"""The Python `gql` client (v4, websockets transport) against opsledger.

    python gql_subscription.py default   # gql's own subprotocol list
    python gql_subscription.py pinned    # only graphql-transport-ws

Connects to /graphql/ws with the viewer token in the init payload, runs a
query over the socket, follows `incidentUpdated` for an incident the script
declares over plain HTTP (standard library, responder token), acknowledges it
and waits for the change on the subscription. Settings come from the
environment (see common.mjs). Prints one line `result: <JSON>` that
tests/tests/client_compat.rs asserts on; bounded by a 45 s watchdog.
OPSLEDGER_CLIENT_DEBUG=1 logs gql's frames to stderr.
"""

import asyncio
import json
import logging
import os
import sys
import urllib.request

from gql import Client, gql
from gql.transport.websockets import WebsocketsTransport

OVERALL_S = 45
STEP_S = 15

DECLARE = """
mutation Declare($input: DeclareIncidentInput!) {
  declareIncident(input: $input) { id incident { status } }
}"""
ACKNOWLEDGE = """
mutation Ack($id: ID!) { acknowledgeIncident(id: $id) { id incident { status } } }"""
FOLLOW = """
subscription Follow($id: ID!) { incidentUpdated(id: $id) { id status version } }"""


def env(name):
    value = os.environ.get(name)
    if not value:
        print(f"missing environment variable {name}", file=sys.stderr)
        sys.exit(2)
    return value


def report(result):
    print("result: " + json.dumps(result), flush=True)


def http_graphql(query, variables):
    """A GraphQL request over HTTP with the responder token; returns `data`."""
    base = env("OPSLEDGER_URL").rstrip("/")
    request = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={
            "content-type": "application/json",
            "authorization": f"Bearer {env('OPSLEDGER_WRITE_TOKEN')}",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=STEP_S) as response:
        body = json.load(response)
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    return body["data"]


async def main(mode):
    url = env("OPSLEDGER_URL").replace("http", "ws", 1).rstrip("/") + "/graphql/ws"
    subprotocols = (
        None if mode == "default" else [WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL]
    )
    transport = WebsocketsTransport(
        url=url,
        init_payload={"authorization": f"Bearer {env('OPSLEDGER_READ_TOKEN')}"},
        subprotocols=subprotocols,
    )
    declared = await asyncio.to_thread(
        http_graphql,
        DECLARE,
        {
            "input": {
                "title": f"gql client test ({mode})",
                "severity": "SEV3",
                "impacts": [
                    {"service": env("OPSLEDGER_SERVICE_ID"), "level": "DEGRADED"}
                ],
            }
        },
    )
    incident = declared["declareIncident"]["id"]
    async with Client(transport=transport) as session:
        queried = await session.execute(gql("{ logHead }"))
        updates = []
        acknowledged = None
        subscription = session.subscribe(gql(FOLLOW), variable_values={"id": incident})
        async for result in subscription:
            updates.append(result["incidentUpdated"]["status"])
            if len(updates) == 1:
                data = await asyncio.to_thread(http_graphql, ACKNOWLEDGE, {"id": incident})
                acknowledged = data["acknowledgeIncident"]["incident"]["status"]
            if "ACKNOWLEDGED" in updates:
                break
        await subscription.aclose()
        return {
            "mode": mode,
            "offered": subprotocols,
            "subprotocol": transport.subprotocol,
            "logHead": queried["logHead"],
            "incident": incident,
            "acknowledged": acknowledged,
            "updates": updates,
        }


if __name__ == "__main__":
    if os.environ.get("OPSLEDGER_CLIENT_DEBUG"):
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    if len(sys.argv) != 2 or sys.argv[1] not in ("default", "pinned"):
        report({"error": "usage: python gql_subscription.py default|pinned"})
        sys.exit(2)
    try:
        result = asyncio.run(asyncio.wait_for(main(sys.argv[1]), OVERALL_S))
    except BaseException as err:  # a failure is still a result line
        report({"error": f"{type(err).__name__}: {err}"})
        sys.exit(1)
    report(result)
