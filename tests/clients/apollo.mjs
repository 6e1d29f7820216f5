// Apollo Client 4 against opsledger: HttpLink for queries and mutations,
// GraphQLWsLink (graphql-ws under it) for subscriptions, split by operation type.
//
//   node apollo.mjs basic      query + mutation over HTTP, a live subscription over WebSocket
//   node apollo.mjs keepalive  a busy `events` subscription with keepAlive pings
//
// Settings come from the environment (see common.mjs). Prints one line
// `result: <JSON>` that tests/tests/client_compat.rs asserts on.

import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import {
  ACKNOWLEDGE, DECLARE, EVENTS, INCIDENT_UPDATED, base, declareInput, describeClose, env, report,
  run, stallAcrossPings, summarizeEvents, until, wsUrl,
} from './common.mjs';

/** An Apollo client reading with the viewer token; `log` records the socket's pings, pongs and closes. */
function apollo(log, keepAlive = 0) {
  const wsClient = createClient({
    url: wsUrl(),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${env('OPSLEDGER_READ_TOKEN')}` },
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
  const http = new HttpLink({
    uri: `${base()}/graphql`,
    headers: { authorization: `Bearer ${env('OPSLEDGER_READ_TOKEN')}` },
  });
  const link = ApolloLink.split(
    (operation) => operation.operationType === 'subscription',
    new GraphQLWsLink(wsClient),
    http,
  );
  return { client: new ApolloClient({ link, cache: new InMemoryCache() }), wsClient };
}

/** Per-operation context: mutations carry the responder token instead of the viewer one. */
const asWriter = () => ({ headers: { authorization: `Bearer ${env('OPSLEDGER_WRITE_TOKEN')}` } });

const newLog = () => ({ pingsSent: 0, pongsReceived: 0, closes: [] });

async function basic() {
  const log = newLog();
  const { client, wsClient } = apollo(log);
  try {
    const queried = await client.query({
      query: gql`query Catalogue { logHead services(first: 10) { edges { node { id name tier } } } }`,
    });
    const declared = await client.mutate({
      mutation: gql(DECLARE),
      variables: declareInput('Apollo client test'),
      context: asWriter(),
    });
    const id = declared.data.declareIncident.id;
    const updates = [];
    let subscriptionError = null;
    const subscription = client.subscribe({ query: gql(INCIDENT_UPDATED), variables: { id } }).subscribe({
      next: (result) => {
        if (result.error) subscriptionError = String(result.error);
        else updates.push(result.data.incidentUpdated.status);
      },
      error: (err) => { subscriptionError = describeClose(err) ?? String(err); },
    });
    await until(() => updates.length >= 1 || subscriptionError, 'the incident subscription\'s first message');
    const acknowledged = await client.mutate({ mutation: gql(ACKNOWLEDGE), variables: { id }, context: asWriter() });
    await until(() => updates.includes('ACKNOWLEDGED') || subscriptionError, 'the acknowledgement on the subscription');
    subscription.unsubscribe();
    // The normalised cache holds the incident under its typename and id.
    const cached = client.cache.extract()[`Incident:${id}`] ?? null;
    return {
      logHead: queried.data.logHead,
      services: queried.data.services.edges.map((e) => e.node.name),
      declared: { id, status: declared.data.declareIncident.incident.status },
      acknowledged: acknowledged.data.acknowledgeIncident.incident.status,
      updates,
      cachedStatus: cached?.status ?? null,
      subscriptionError,
      closesBeforeDispose: [...log.closes],
    };
  } finally {
    client.stop();
    await wsClient.dispose();
  }
}

async function keepalive() {
  const log = newLog();
  const keepAliveMs = Number(env('OPSLEDGER_KEEPALIVE_MS'));
  const expected = Number(env('OPSLEDGER_EXPECT'));
  const pongs = Number(process.env.OPSLEDGER_PONGS ?? 2);
  const staller = stallAcrossPings(keepAliveMs, Number(process.env.OPSLEDGER_STALL_MS ?? 0));
  log.staller = staller;
  const { client, wsClient } = apollo(log, keepAliveMs);
  const events = [];
  let subscriptionError = null;
  try {
    const subscription = client
      .subscribe({ query: gql(EVENTS), variables: { from: 0, prefix: env('OPSLEDGER_STREAM') }, fetchPolicy: 'no-cache' })
      .subscribe({
        next: (result) => {
          if (result.error) subscriptionError = String(result.error);
          else {
            events.push(result.data.events);
            staller.event();
          }
        },
        error: (err) => { subscriptionError = describeClose(err) ?? String(err); },
      });
    let timedOut = false;
    await until(
      () => (events.length >= expected && log.pongsReceived >= pongs) || subscriptionError || log.closes.length,
      `${expected} events and ${pongs} pongs`,
      40_000,
    ).catch(() => { timedOut = true; });
    subscription.unsubscribe();
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
    client.stop();
    await wsClient.dispose();
  }
}

const modes = { basic, keepalive };
const mode = process.argv[2];
if (!modes[mode]) {
  report({ error: `usage: node apollo.mjs ${Object.keys(modes).join('|')}` });
  process.exit(2);
}
run(modes[mode]);
