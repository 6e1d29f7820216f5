// Shared by the Node client scripts: settings from the environment, the
// result line the Rust test parses, and a watchdog that bounds every run.
//
// Environment (set by tests/tests/client_compat.rs):
//   OPSLEDGER_URL          http://127.0.0.1:PORT of the server under test
//   OPSLEDGER_READ_TOKEN   a viewer token (queries and subscriptions)
//   OPSLEDGER_WRITE_TOKEN  a responder token (mutations)
//   OPSLEDGER_SERVICE_ID   the service the scripts declare incidents on
//   OPSLEDGER_STREAM       (keepalive) the stream the test appends to
//   OPSLEDGER_EXPECT       (keepalive) how many events of it to wait for
//   OPSLEDGER_KEEPALIVE_MS (keepalive) graphql-ws `keepAlive` (ping period)
//   OPSLEDGER_PONGS        (keepalive) pongs to wait for (default 2)
//   OPSLEDGER_STALL_MS     (keepalive) the client is busy this long across each
//                          ping's due time (see stallAcrossPings)

/** A required environment variable. */
export function env(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return value;
}

/** The server's base URL without a trailing slash. */
export const base = () => env('OPSLEDGER_URL').replace(/\/+$/, '');

/** The GraphQL-over-WebSocket endpoint of the server. */
export const wsUrl = () => `${base().replace(/^http/, 'ws')}/graphql/ws`;

/** Prints the one line the Rust test reads: `result: <JSON>`. */
export function report(result) {
  console.log(`result: ${JSON.stringify(result)}`);
}

/** Runs `main` under a watchdog; a failure is still a result line (with `error`). */
export function run(main, overallMs = 45_000) {
  const watchdog = setTimeout(() => {
    report({ error: `still running after ${overallMs} ms` });
    process.exit(1);
  }, overallMs);
  main().then(
    (result) => {
      clearTimeout(watchdog);
      report(result);
      process.exit(0);
    },
    (err) => {
      clearTimeout(watchdog);
      report({ error: String(err?.stack ?? err) });
      process.exit(1);
    },
  );
}

/** Resolves once `predicate()` holds (checked every 20 ms); rejects after `ms`. */
export function until(predicate, what, ms = 15_000) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      if (predicate()) return resolve();
      if (Date.now() - started > ms) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

/** A stable description of a close event (code and reason), or null. */
export function describeClose(event) {
  if (!event) return null;
  return { code: event.code ?? null, reason: String(event.reason ?? '') };
}

export const DECLARE = `
  mutation Declare($input: DeclareIncidentInput!) {
    declareIncident(input: $input) { id position incident { id status } }
  }`;

export const ACKNOWLEDGE = `
  mutation Ack($id: ID!) {
    acknowledgeIncident(id: $id) { id position incident { id status } }
  }`;

export const INCIDENT_UPDATED = `
  subscription Follow($id: ID!) {
    incidentUpdated(id: $id) { id status version }
  }`;

export const EVENTS = `
  subscription Events($from: Int!, $prefix: String!) {
    events(fromPosition: $from, filter: { streamPrefix: $prefix }) { position streamId streamVersion type }
  }`;

/** The declareIncident input the scripts send for `title`. */
export function declareInput(title) {
  return {
    input: {
      title,
      description: 'Declared by a client-compatibility script.',
      severity: 'SEV3',
      impacts: [{ service: env('OPSLEDGER_SERVICE_ID'), level: 'DEGRADED' }],
    },
  };
}

/** Summary of a list of events: count, first/last position, and whether positions strictly increase. */
export function summarizeEvents(events) {
  const positions = events.map((e) => e.position);
  return {
    received: events.length,
    first: positions[0] ?? null,
    last: positions.at(-1) ?? null,
    strictlyIncreasing: positions.every((p, i) => i === 0 || p > positions[i - 1]),
    versions: events.length ? [events[0].streamVersion, events.at(-1).streamVersion] : [],
  };
}

/**
 * A client that is busy (its event loop blocked, not reading) for `stallMs`
 * across each moment its keepAlive ping falls due, like a page rendering a
 * burst of events: the server's buffers fill up, and the ping goes out the
 * moment the client reads again. graphql-ws times a ping `keepAlive` ms after
 * the socket opened or the last pong arrived; `opened()` and `pong()` track that.
 */
export function stallAcrossPings(keepAliveMs, stallMs) {
  let due = Infinity;
  let stalls = 0;
  return {
    opened: () => { due = Date.now() + keepAliveMs; },
    pong: () => { due = Date.now() + keepAliveMs; },
    event: () => {
      if (stallMs > 0 && Date.now() >= due - stallMs / 2) {
        due = Infinity; // once per ping
        stalls += 1;
        const until = Date.now() + stallMs;
        while (Date.now() < until) { /* busy */ }
      }
    },
    count: () => stalls,
  };
}
