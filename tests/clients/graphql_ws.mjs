// The npm `graphql-ws` client (v6, with the `ws` WebSocket) against opsledger.
//
//   node graphql_ws.mjs basic      query, mutation and subscription, all over /graphql/ws
//   node graphql_ws.mjs keepalive  a busy `events` subscription with keepAlive pings
//
// Settings come from the environment (see common.mjs). Prints one line
// `result: <JSON>` that tests/tests/client_compat.rs asserts on.

import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import {
  ACKNOWLEDGE, DECLARE, EVENTS, INCIDENT_UPDATED, declareInput, describeClose, env, report,
  run, stallAcrossPings, summarizeEvents, until, wsUrl,
} from './common.mjs';

/** A graphql-ws client for `token`, recording pings, pongs and closes in `log`. */
function connect(token, log, keepAlive = 0) {
  return createClient({
    url: wsUrl(),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    keepAlive,
    retryAttempts: 0,
    on: {
      opened: () => log.staller?.opened(),
      ping: (received) => { if (!received) log.pingsSent += 1; },
      pong: (received) => {
        if (!received) return;
        log.pongsReceived += 1;
        log.staller?.pong();
      },
      closed: (event) => { log.closes.push(describeClose(event)); },
    },
  });
}

/** Runs a query or mutation over the socket; resolves with its `data`. */
function execute(client, query, variables = {}) {
  return new Promise((resolve, reject) => {
    let data;
    client.subscribe({ query, variables }, {
      next: (result) => {
        if (result.errors?.length) reject(new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`));
        data = result.data;
      },
      error: (err) => reject(err instanceof Error ? err : new Error(JSON.stringify(describeClose(err) ?? err))),
      complete: () => resolve(data),
    });
  });
}

const newLog = () => ({ pingsSent: 0, pongsReceived: 0, closes: [] });

async function basic() {
  const readerLog = newLog();
  const writerLog = newLog();
  const reader = connect(env('OPSLEDGER_READ_TOKEN'), readerLog);
  const writer = connect(env('OPSLEDGER_WRITE_TOKEN'), writerLog);
  try {
    const queried = await execute(reader, '{ logHead services(first: 10) { edges { node { id name } } } }');
    const declared = await execute(writer, DECLARE, declareInput('graphql-ws client test'));
    const id = declared.declareIncident.id;
    const updates = [];
    let subscriptionError = null;
    const unsubscribe = reader.subscribe({ query: INCIDENT_UPDATED, variables: { id } }, {
      next: (result) => {
        if (result.errors?.length) subscriptionError = result.errors;
        else updates.push(result.data.incidentUpdated.status);
      },
      error: (err) => { subscriptionError = describeClose(err) ?? String(err); },
      complete: () => {},
    });
    await until(() => updates.length >= 1 || subscriptionError, 'the incident subscription\'s first message');
    const acknowledged = await execute(writer, ACKNOWLEDGE, { id });
    await until(() => updates.includes('ACKNOWLEDGED') || subscriptionError, 'the acknowledgement on the subscription');
    unsubscribe();
    const closesBeforeDispose = [...readerLog.closes, ...writerLog.closes];
    return {
      logHead: queried.logHead,
      services: queried.services.edges.map((e) => e.node.name),
      declared: { id, status: declared.declareIncident.incident.status, position: declared.declareIncident.position },
      acknowledged: acknowledged.acknowledgeIncident.incident.status,
      updates,
      subscriptionError,
      closesBeforeDispose,
    };
  } finally {
    await reader.dispose();
    await writer.dispose();
  }
}

async function keepalive() {
  const log = newLog();
  const keepAliveMs = Number(env('OPSLEDGER_KEEPALIVE_MS'));
  const expected = Number(env('OPSLEDGER_EXPECT'));
  const pongs = Number(process.env.OPSLEDGER_PONGS ?? 2);
  const staller = stallAcrossPings(keepAliveMs, Number(process.env.OPSLEDGER_STALL_MS ?? 0));
  log.staller = staller;
  const client = connect(env('OPSLEDGER_READ_TOKEN'), log, keepAliveMs);
  const events = [];
  let subscriptionError = null;
  try {
    client.subscribe({ query: EVENTS, variables: { from: 0, prefix: env('OPSLEDGER_STREAM') } }, {
      next: (result) => {
        if (result.errors?.length) subscriptionError = result.errors;
        else {
          events.push(result.data.events);
          staller.event();
        }
      },
      error: (err) => { subscriptionError = describeClose(err) ?? String(err); },
      complete: () => {},
    });
    // Every event, and `pongs` keep-alive round trips, or the connection ends.
    let timedOut = false;
    await until(
      () => (events.length >= expected && log.pongsReceived >= pongs) || subscriptionError || log.closes.length,
      `${expected} events and ${pongs} pongs`,
      40_000,
    ).catch(() => { timedOut = true; });
    return {
      timedOut,
      keepAliveMs,
      expected,
      ...summarizeEvents(events),
      pingsSent: log.pingsSent,
      pongsReceived: log.pongsReceived,
      stalls: staller.count(),
      subscriptionError,
      closesBeforeDispose: [...log.closes],
    };
  } finally {
    await client.dispose();
  }
}

const modes = { basic, keepalive };
const mode = process.argv[2];
if (!modes[mode]) {
  report({ error: `usage: node graphql_ws.mjs ${Object.keys(modes).join('|')}` });
  process.exit(2);
}
run(modes[mode]);
