// Browser test of the public status page.
//
//   node tests/browser/status_page.mjs <base-url> <responder-token> [screenshot.png] [service-name]
//
// Opens <base-url>/status in headless Chromium (Debian's /usr/bin/chromium, or
// $CHROMIUM; driven by playwright-core, which never downloads a browser),
// waits until the page is live on the `statusPage` subscription, declares an
// incident through the GraphQL API with the responder token, and checks that
// the page shows it WITHOUT a reload (same document, no navigation). Saves a
// full-page screenshot (default: <repo>/target/status-page.png).
//
// Exit code 0 and a last line `status page: ok ...` on success; exit code 1
// and `status page: FAILED: <reason>` otherwise. Bounded: every wait has a
// timeout and the whole run is capped at 60 s.

import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const WAIT_MS = 15_000;
const OVERALL_MS = 60_000;
const here = dirname(fileURLToPath(import.meta.url));

const [baseArg, token, shotArg, serviceName] = process.argv.slice(2);
if (!baseArg || !token) {
  console.error('usage: node status_page.mjs <base-url> <responder-token> [screenshot.png] [service-name]');
  process.exit(2);
}
const base = baseArg.replace(/\/+$/, '');
const screenshot = resolve(shotArg ?? join(here, '..', '..', 'target', 'status-page.png'));
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** A GraphQL request over HTTP; throws on transport or GraphQL errors. */
async function graphql(query, variables = {}) {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(WAIT_MS),
  });
  const body = await response.json();
  if (body.errors?.length) {
    throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  }
  return body.data;
}

/** The service to declare the incident on (read from the public page): the one
 * named on the command line, else the first operational one. */
async function pickService() {
  const data = await graphql('query { statusPage { services { id name health } } }');
  const services = data.statusPage.services;
  const service = serviceName
    ? services.find((s) => s.name === serviceName)
    : services.find((s) => s.health === 'OPERATIONAL') ?? services[0];
  if (!service) throw new Error(`no service ${serviceName ?? ''} to declare an incident on`);
  return service;
}

/** Declares a SEV2 major-outage incident on `service`; returns its id. */
async function declareIncident(service, title) {
  const data = await graphql(
    `mutation Declare($input: DeclareIncidentInput!) {
       declareIncident(input: $input) { id position incident { id title } }
     }`,
    {
      input: {
        title,
        description: 'Declared by the browser test of the status page.',
        severity: 'SEV2',
        impacts: [{ service: service.id, level: 'MAJOR_OUTAGE' }],
      },
    },
  );
  return data.declareIncident.id;
}

const log = (...args) => console.log('[status-page]', ...args);

async function run() {
  const profile = mkdtempSync(join(tmpdir(), 'opsledger-chromium-'));
  const pageErrors = [];
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      viewport: { width: 1100, height: 900 },
      timeout: WAIT_MS,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(WAIT_MS);
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations += 1;
    });

    const response = await page.goto(`${base}/status`, { waitUntil: 'load' });
    if (!response || response.status() !== 200) {
      throw new Error(`GET /status answered ${response?.status()}`);
    }
    await page.waitForSelector('html[data-connection="live"]');
    await page.waitForFunction(() => Number(document.documentElement.dataset.renders || 0) >= 1);
    const before = {
      overall: await page.getAttribute('#banner', 'data-overall'),
      banner: (await page.textContent('#banner-title'))?.trim(),
      incidents: await page.locator('[data-testid="incident"]').count(),
      services: await page.locator('[data-testid="service"]').count(),
    };
    log('before:', JSON.stringify(before));
    // A marker that only survives if the document is never reloaded.
    await page.evaluate(() => { window.__statusPageMarker = 'same-document'; });
    const navigationsBefore = navigations;

    const service = await pickService();
    const title = `Browser test: ${service.name} unreachable (${Date.now()})`;
    const incidentId = await declareIncident(service, title);
    log('declared incident', incidentId, 'on', service.name);

    const card = page.locator(`[data-testid="incident"][data-incident-id="${incidentId}"]`);
    await card.waitFor({ state: 'visible' });
    const cardTitle = (await card.locator('h3').textContent())?.trim();
    if (cardTitle !== title) throw new Error(`incident card shows "${cardTitle}", wanted "${title}"`);
    await page.waitForFunction(
      (name) => [...document.querySelectorAll('[data-testid="service"]')].some(
        (li) => li.dataset.health === 'MAJOR_OUTAGE' && li.textContent.includes(name)),
      service.name,
    );
    await page.waitForSelector('#banner[data-overall="MAJOR_OUTAGE"]');
    const after = {
      overall: await page.getAttribute('#banner', 'data-overall'),
      banner: (await page.textContent('#banner-title'))?.trim(),
      incidents: await page.locator('[data-testid="incident"]').count(),
      connection: await page.getAttribute('html', 'data-connection'),
    };
    log('after:', JSON.stringify(after));
    if (after.banner !== 'Major outage') throw new Error(`banner says "${after.banner}"`);
    if (after.incidents !== before.incidents + 1) {
      throw new Error(`incident cards went from ${before.incidents} to ${after.incidents}`);
    }
    // The socket drops: the page reconnects by itself and keeps following.
    await page.evaluate(() => window.statusPage.dropConnection());
    await page.waitForSelector('html[data-connection="reconnecting"]');
    await page.waitForSelector('html[data-connection="live"]');
    const message = `${service.name} is failing over to the standby region; logins may be slow meanwhile.`;
    await graphql(
      `mutation Update($id: ID!, $message: String!) {
         acknowledgeIncident(id: $id) { id }
         postStatusUpdate(id: $id, visibility: PUBLIC, message: $message) { id }
       }`,
      { id: incidentId, message },
    );
    await card.locator('.updates li', { hasText: message }).waitFor({ state: 'visible' });
    log('public update shown after a reconnect');

    const marker = await page.evaluate(() => window.__statusPageMarker);
    if (marker !== 'same-document' || navigations !== navigationsBefore) {
      throw new Error('the page was reloaded to show the change');
    }
    if (pageErrors.length) throw new Error(`script errors on the page: ${pageErrors.join(' | ')}`);

    mkdirSync(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true, animations: 'disabled' });
    console.log(`status page: ok (incident ${incidentId} and its public update appeared live, across a reconnect; banner "${after.banner}"; screenshot ${screenshot})`);
  } finally {
    await context?.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
}

const watchdog = setTimeout(() => {
  console.log(`status page: FAILED: still running after ${OVERALL_MS / 1000} s`);
  process.exit(1);
}, OVERALL_MS);

run().then(
  () => { clearTimeout(watchdog); process.exit(0); },
  (err) => {
    clearTimeout(watchdog);
    console.log(`status page: FAILED: ${err?.message ?? err}`);
    process.exit(1);
  },
);
