// End-to-end test: the real CARTA web frontend (npm carta-frontend 6.0.0, served by cartaflow itself)
// running in Debian's headless Chromium, talking to the cartaflow binary over the CARTA WebSocket protocol.
//
// What it checks, in order:
//   1. The sample images are generated (scripts/gen_samples.py) and cartaflow starts on an OS-chosen port
//      with an access token; the URL it prints on stdout is the one the browser opens.
//   2. The page loads and connects: exactly one WebSocket, REGISTER_VIEWER answered by a successful
//      REGISTER_VIEWER_ACK with the same request id, the frontend logs "Connected with session ID", the
//      keep-alive PING gets a PONG, and the "You have been disconnected from the server" alert never shows.
//   3. The file browser (it opens by itself when no image is loaded; the first-run telemetry consent dialog
//      in front of it is dismissed) lists the samples and the `more` folder. It is then closed and opened
//      again through File → Open Image.
//   4. Clicking spectral_cube.fits shows its file info: the "File Information" tab names the file, the
//      "Header" tab shows BUNIT = Jy/beam, CTYPE3 = FREQ and RESTFRQ ≈ 1.420405752e9.
//   5. A screenshot of the file browser showing that header goes to tests/e2e/artifacts/file-browser.png.
// Throughout, the server must never answer with ERROR_DATA and the page must throw no uncaught errors.
// Requests to other hosts (GitHub releases, telemetry, HiPS) are blocked so the run is offline and quiet.
// On failure the error carries the server log tail, browser console errors, the WebSocket message
// trace, and tests/e2e/artifacts/failure.png.
//
// Run:  cd tests/e2e && npm test        (or: node --test)
// Env:  CARTAFLOW_BIN      server binary (default <repo>/target/release/cartaflow)
//       CARTAFLOW_SAMPLES  sample folder, generated if missing (default <tmp>/cartaflow-e2e-samples)
//       CARTAFLOW_PYTHON   python for the generator (default <repo>/.venv/bin/python, else python3)
//       CHROMIUM           browser executable (default /usr/bin/chromium)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const ARTIFACTS = path.join(HERE, 'artifacts');
const SERVER_BIN = process.env.CARTAFLOW_BIN || path.join(REPO, 'target/release/cartaflow');
const SAMPLES = process.env.CARTAFLOW_SAMPLES || path.join(os.tmpdir(), 'cartaflow-e2e-samples');
const PYTHON = process.env.CARTAFLOW_PYTHON ||
  (fs.existsSync(path.join(REPO, '.venv/bin/python')) ? path.join(REPO, '.venv/bin/python') : 'python3');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TOKEN = 'e2e-' + Math.random().toString(36).slice(2, 12);
const UI_TIMEOUT = 15_000; // per UI wait; a healthy run needs well under a second for each
const CONNECT_TIMEOUT = 40_000; // page scripts + WebAssembly start-up: 2-4 s when idle, ~10 s on a loaded machine

// CARTA ICD event types seen in this test (enums.proto); others are shown by number.
const EVENT_NAMES = {
  1: 'REGISTER_VIEWER', 2: 'FILE_LIST_REQUEST', 3: 'FILE_INFO_REQUEST', 4: 'OPEN_FILE', 13: 'CLOSE_FILE',
  18: 'REGISTER_VIEWER_ACK', 19: 'FILE_LIST_RESPONSE', 20: 'FILE_INFO_RESPONSE', 21: 'OPEN_FILE_ACK',
  28: 'ERROR_DATA', 71: 'FILE_LIST_PROGRESS', 72: 'STOP_FILE_LIST',
};
// What the frontend's message handler logs when it cannot use a server message (BackendService.messageHandler,
// onDeferredResponse, protobuf decode errors, tile decompression).
const PROTOCOL_COMPLAINTS = new RegExp(['differs from frontend version', 'Unsupported event response', 'no decoder',
  "Can't find deferred", 'invalid wire type', 'index out of range', 'illegal', 'Problem decompressing'].join('|'), 'i');
const REGISTER_VIEWER = 1, FILE_LIST_REQUEST = 2, FILE_INFO_REQUEST = 3;
const REGISTER_VIEWER_ACK = 18, FILE_LIST_RESPONSE = 19, FILE_INFO_RESPONSE = 20, ERROR_DATA = 28;

// ---------------------------------------------------------------------------------------------------------
// Minimal protobuf reading: top-level fields of a message (enough for success flags and error text).
function protoFields(buf) {
  const fields = [];
  let i = 0;
  const varint = () => {
    let v = 0n, shift = 0n;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated varint');
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const field = key >> 3, wire = key & 7;
    if (wire === 0) fields.push({ field, value: varint() });
    else if (wire === 1) { fields.push({ field, value: buf.subarray(i, i + 8) }); i += 8; }
    else if (wire === 5) { fields.push({ field, value: buf.subarray(i, i + 4) }); i += 4; }
    else if (wire === 2) { const n = Number(varint()); fields.push({ field, value: buf.subarray(i, i + n) }); i += n; }
    else throw new Error(`unsupported wire type ${wire}`);
  }
  return fields;
}
const protoBool = (fields, n) => fields.some((f) => f.field === n && typeof f.value === 'bigint' && f.value !== 0n);
const protoString = (fields, n) => fields.filter((f) => f.field === n).map((f) => Buffer.from(f.value).toString('utf8'));

// A binary CARTA frame: 8-byte header (u16 event type, u16 ICD version, u32 request id) + protobuf.
function decodeFrame(payload) {
  if (typeof payload === 'string' || payload.length < 8) return null;
  const buf = Buffer.from(payload);
  return { type: buf.readUInt16LE(0), icd: buf.readUInt16LE(2), requestId: buf.readUInt32LE(4), body: buf.subarray(8) };
}

const stripAnsi = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------------
// Server process: start, wait for the printed URL, keep its output for diagnostics, stop.
async function startServer(workDir) {
  const args = ['--host', '127.0.0.1', '--port', '0', '--top-level-folder', SAMPLES, '--token', TOKEN,
    '--frontend-folder', path.join(REPO, 'frontend'), '--log-level', 'info'];
  // cwd = an empty temp dir, so no config/cartaflow.toml from wherever the test is run is picked up.
  // Own process group, so a wrapper script given as CARTAFLOW_BIN is stopped together with what it started.
  const child = spawn(SERVER_BIN, args, { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const killGroup = (sig) => { try { process.kill(-child.pid, sig); } catch { /* already gone */ } };
  process.once('exit', () => killGroup('SIGKILL')); // even if the test runner dies before clean-up
  child.killGroup = killGroup;
  const log = [];
  const onData = (chunk) => { for (const line of stripAnsi(chunk.toString()).split('\n')) if (line.trim()) log.push(line); };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  child.on('exit', (code, sig) => log.push(`[cartaflow exited: code ${code}, signal ${sig}]`));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('cartaflow printed no "listening on" line within 15 s')), 15_000);
    const check = () => {
      const m = log.map((l) => l.match(/cartaflow listening on (http:\/\/\S+)/)).find(Boolean);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    child.stdout.on('data', check);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('exit', (code, sig) => { clearTimeout(timer); reject(new Error(`cartaflow exited early (code ${code}, signal ${sig})`)); });
  }).catch((e) => { killGroup('SIGKILL'); e.message += `\n--- server output ---\n${log.join('\n')}`; throw e; });
  return { child, url, log };
}

async function stopServer(child) {
  const exited = child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve() : new Promise((r) => child.once('exit', r));
  child.killGroup('SIGTERM');
  let timer;
  const inTime = await Promise.race([exited.then(() => true), new Promise((r) => { timer = setTimeout(r, 5000, false); })]);
  clearTimeout(timer);
  if (!inTime) console.error('cartaflow did not exit within 5 s of SIGTERM; sending SIGKILL');
  child.killGroup('SIGKILL'); // also whatever is left of the group
  await exited;
  child.stdout.destroy();
  child.stderr.destroy();
}

// ---------------------------------------------------------------------------------------------------------
test('CARTA frontend 6.0.0 connects to cartaflow, browses the samples and shows a FITS header', { timeout: 90_000 }, async (t) => {
  const t0 = Date.now();
  const timings = [];
  const step = async (name, fn) => {
    const s = Date.now();
    await fn();
    timings.push(`${name}: ${Date.now() - s} ms`);
  };
  // Clean-up runs last-in first-out: browser, then server (a live WebSocket would delay its shutdown), then files.
  const cleanups = [];
  t.after(async () => { for (const fn of cleanups.reverse()) await fn().catch((e) => t.diagnostic(`cleanup: ${e}`)); });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  fs.rmSync(path.join(ARTIFACTS, 'failure.png'), { force: true });

  // 1. Samples and server -------------------------------------------------------------------------------
  assert.ok(fs.existsSync(SERVER_BIN), `server binary not found: ${SERVER_BIN} (set CARTAFLOW_BIN)`);
  await step('generate samples', async () => {
    // Keeps existing files, so a reused folder costs next to nothing.
    execFileSync(PYTHON, [path.join(REPO, 'scripts/gen_samples.py'), SAMPLES], { stdio: ['ignore', 'ignore', 'pipe'] });
  });
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cartaflow-e2e-'));
  cleanups.push(async () => fs.rmSync(workDir, { recursive: true, force: true }));
  let server;
  await step('start server', async () => { server = await startServer(workDir); });
  cleanups.push(() => stopServer(server.child));
  assert.match(server.url, new RegExp(`^http://127\\.0\\.0\\.1:\\d+/\\?token=${TOKEN}$`), 'printed URL');

  // Browser with a fresh, non-persistent profile; anything not on the server's host is refused.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  cleanups.push(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
  const serverHost = new URL(server.url).host;
  await context.route((u) => u.host !== serverHost, (route) => route.abort('internetdisconnected'));
  const page = await context.newPage();

  // Everything observed, for assertions and for the failure report.
  const consoleLines = [];  // all console messages
  const pageErrors = [];    // uncaught exceptions
  const sockets = [];       // [{url, closed}]
  const trace = [];         // "→ FILE_LIST_REQUEST #2" / "← FILE_LIST_RESPONSE #2"
  const received = [];      // decoded server frames
  const sent = [];          // decoded client frames
  let pongs = 0;
  page.on('console', (m) => consoleLines.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => pageErrors.push(e.stack || e.message));
  page.on('websocket', (ws) => {
    const rec = { url: ws.url(), closed: false };
    sockets.push(rec);
    ws.on('close', () => { rec.closed = true; trace.push('WebSocket closed'); });
    ws.on('framesent', ({ payload }) => {
      const f = decodeFrame(payload);
      if (f) { sent.push(f); trace.push(`→ ${EVENT_NAMES[f.type] ?? f.type} #${f.requestId}`); }
    });
    ws.on('framereceived', ({ payload }) => {
      if (payload === 'PONG') { pongs++; return; }
      const f = decodeFrame(payload);
      if (!f) return;
      received.push(f);
      let extra = '';
      if (f.type === ERROR_DATA) {
        try {
          const fl = protoFields(f.body);
          extra = ` severity=${fl.find((x) => x.field === 1)?.value ?? 0} tags=${JSON.stringify(protoString(fl, 2))} ` +
            `message=${JSON.stringify(protoString(fl, 3)[0] ?? '')}`;
        } catch (e) { extra = ` (undecodable: ${e.message})`; }
      }
      trace.push(`← ${EVENT_NAMES[f.type] ?? f.type} #${f.requestId}${extra}`);
    });
  });

  const diagnostics = () => {
    const consoleErrors = consoleLines.filter((l) => /^\[(error|warning)\]/.test(l));
    return [
      `--- timings ---`, ...timings,
      `--- server log (last 40 lines) ---`, ...server.log.slice(-40),
      `--- browser console errors/warnings (${consoleErrors.length}; requests to other hosts are blocked on purpose) ---`,
      ...consoleErrors.slice(-30).map((l) => l.slice(0, 400)),
      `--- uncaught page errors ---`, ...pageErrors,
      `--- WebSocket trace (${sockets.length} socket(s), ${sockets.filter((s) => s.closed).length} closed) ---`,
      ...[...new Set(sockets.map((s) => s.url))], ...trace.slice(-60),
    ].join('\n');
  };

  const disconnectedAlert = page.getByText('You have been disconnected from the server');
  const assertStillConnected = async (where) => {
    assert.equal(await disconnectedAlert.count(), 0, `"You have been disconnected" alert shown (${where})`);
    assert.equal(sockets.length, 1, `expected exactly one WebSocket (a second means a reconnect) (${where})`);
    assert.equal(sockets[0].closed, false, `WebSocket closed (${where})`);
    const errors = received.filter((f) => f.type === ERROR_DATA);
    assert.equal(errors.length, 0, `server sent ERROR_DATA (${where}):\n${trace.filter((l) => l.includes('ERROR_DATA')).join('\n')}`);
    assert.deepEqual(pageErrors, [], `uncaught errors in the page (${where})`);
    const complaints = consoleLines.filter((l) => PROTOCOL_COMPLAINTS.test(l));
    assert.deepEqual(complaints, [], `the frontend complained about server messages (${where})`);
    const serverErrors = server.log.filter((l) => /^\S+\s+ERROR\b/.test(l));
    assert.deepEqual(serverErrors, [], `the server logged errors (${where})`);
  };

  // The server frame of the given type answering the client request with the given id.
  const responseTo = (type, requestId) => received.find((f) => f.type === type && f.requestId === requestId);

  try {
    const fileBrowser = page.locator('.file-browser-dialog');
    const fileList = fileBrowser.getByTestId('file-list');
    const sampleNames = ['gaussian_sources.fits', 'nan_regions.fits', 'spectral_cube.fits', 'stokes_cube.fits', 'idia_image.hdf5'];

    // 2. Page loads and registers -------------------------------------------------------------------------
    await step('page load + register', async () => {
      await page.goto(server.url, { timeout: CONNECT_TIMEOUT });
      await page.waitForFunction(() => document.title.length > 0, null, { timeout: UI_TIMEOUT });
      // The frontend retries a refused connection every second (15 times, then the "disconnected" alert),
      // so wait for the ack rather than for a socket.
      const deadline = Date.now() + CONNECT_TIMEOUT;
      let reg, ack, i = 0;
      while (!ack && Date.now() < deadline) {
        reg = sent.find((f) => f.type === REGISTER_VIEWER);
        ack = reg && responseTo(REGISTER_VIEWER_ACK, reg.requestId);
        if (!ack && ++i % 10 === 0 && (await disconnectedAlert.count()) > 0) break;
        if (!ack) await sleep(50);
      }
      assert.ok(ack, `no REGISTER_VIEWER_ACK: ${sockets.length} WebSocket attempt(s), ` +
        `${sockets.filter((s) => s.closed).length} closed, REGISTER_VIEWER ${reg ? `sent as #${reg.requestId}` : 'never sent'}, ` +
        `disconnected alert ${(await disconnectedAlert.count()) > 0 ? 'shown' : 'not shown'}, after ${Date.now() - t0} ms`);
      assert.equal(sockets.length, 1, 'expected exactly one WebSocket');
      assert.equal(new URL(sockets[0].url).searchParams.get('token'), TOKEN, 'WebSocket carries the page token');
      assert.equal(ack.icd, 30, 'ICD version in the ack header');
      const fl = protoFields(ack.body);
      assert.ok(protoBool(fl, 2), `REGISTER_VIEWER_ACK success=false: ${protoString(fl, 3)[0] ?? ''}`);
      const connectedLog = () => consoleLines.some((l) => l.includes('Connected with session ID'));
      for (let i = 0; i < 100 && !connectedLog(); i++) await sleep(50);
      assert.ok(connectedLog(), 'frontend did not log "Connected with session ID"');
    });

    // 3. File browser lists the samples --------------------------------------------------------------------
    await step('file browser at start', async () => {
      // With a fresh profile the telemetry consent dialog sits in front of everything: decline it.
      await page.getByTestId('telemetry-opt-out-button').click({ timeout: UI_TIMEOUT });
      // No image loaded → the frontend opens the file browser by itself.
      await fileBrowser.waitFor({ state: 'visible', timeout: UI_TIMEOUT });
      await fileList.getByText('spectral_cube.fits', { exact: true }).waitFor({ timeout: UI_TIMEOUT });
    });
    await step('File → Open Image', async () => {
      await fileBrowser.getByTestId('file-browser-dialog-header-close-button').click();
      await fileBrowser.waitFor({ state: 'hidden', timeout: UI_TIMEOUT });
      await page.locator('.root-menu-entry').getByText('File', { exact: true }).click();
      await page.getByRole('menuitem', { name: /^Open Image/ }).click({ timeout: UI_TIMEOUT });
      await fileBrowser.waitFor({ state: 'visible', timeout: UI_TIMEOUT });
      await fileList.getByText('spectral_cube.fits', { exact: true }).waitFor({ timeout: UI_TIMEOUT });
      for (const name of sampleNames) {
        assert.equal(await fileList.getByText(name, { exact: true }).count(), 1, `file list shows ${name}`);
      }
      // The list is a Blueprint table: one cell per column, rows told apart by a bp6-table-cell-row-N class.
      const rowOf = async (name) => {
        const cell = fileList.locator('.bp6-table-cell', { has: page.getByText(name, { exact: true }) });
        const row = (await cell.getAttribute('class')).match(/bp6-table-cell-row-\d+/)[0];
        return fileList.locator(`.${row}`).allInnerTexts();
      };
      assert.deepEqual((await rowOf('more')).slice(0, 3).map((s) => s.trim()), ['more', '', '4 items'], '"more" folder row');
      assert.equal(await fileList.locator('.folder-cell', { hasText: 'more' }).count(), 1, '"more" is shown as a folder');
      assert.deepEqual((await rowOf('spectral_cube.fits')).slice(0, 2), ['spectral_cube.fits', 'FITS'], 'spectral_cube.fits row');
      assert.deepEqual((await rowOf('idia_image.hdf5')).slice(0, 2), ['idia_image.hdf5', 'HDF5'], 'idia_image.hdf5 row');
      const listed = sent.filter((f) => f.type === FILE_LIST_REQUEST).map((f) => responseTo(FILE_LIST_RESPONSE, f.requestId));
      assert.ok(listed.length >= 2 && listed.every((r) => r && protoBool(protoFields(r.body), 1)),
        'every FILE_LIST_REQUEST got a successful FILE_LIST_RESPONSE');
      await assertStillConnected('after listing');
    });

    // 4. File info of spectral_cube.fits -------------------------------------------------------------------
    const info = fileBrowser.getByTestId('file-info');
    const entry = (name) => info.locator('.header-entry').filter({ has: page.locator('.header-name', { hasText: new RegExp(`^${name}$`) }) });
    const entryValue = async (name) => (await entry(name).locator('.header-value').innerText()).replace(/^\s*=\s*/, '').trim();
    await step('file info', async () => {
      await fileList.getByText('spectral_cube.fits', { exact: true }).click();
      await entry('Name').waitFor({ timeout: UI_TIMEOUT });
      assert.equal(await info.getByRole('tab', { name: 'File Information' }).getAttribute('aria-selected'), 'true',
        'the "File Information" tab is the one shown');
      assert.equal(await entryValue('Name'), 'spectral_cube.fits', 'File Information tab: Name');
      const req = sent.findLast((f) => f.type === FILE_INFO_REQUEST);
      const resp = req && responseTo(FILE_INFO_RESPONSE, req.requestId);
      assert.ok(resp && protoBool(protoFields(resp.body), 1), 'FILE_INFO_RESPONSE success');
    });
    await step('header tab', async () => {
      await info.getByRole('tab', { name: 'Header' }).click();
      await entry('BUNIT').waitFor({ timeout: UI_TIMEOUT });
      assert.equal(await entryValue('BUNIT'), 'Jy/beam', 'Header: BUNIT');
      // The header list is virtualised (only visible rows exist): scroll to the end for the spectral cards.
      await info.locator('.header-list').evaluate((el) => { el.scrollTop = el.scrollHeight; });
      await entry('CTYPE3').waitFor({ timeout: UI_TIMEOUT });
      assert.equal(await entryValue('CTYPE3'), 'FREQ', 'Header: CTYPE3');
      const restfrq = await entryValue('RESTFRQ');
      assert.ok(Math.abs(parseFloat(restfrq) / 1.420405752e9 - 1) < 1e-9, `Header: RESTFRQ = ${restfrq}`);
      assert.match(await entry('RESTFRQ').innerText(), /\/ Rest Frequency \(Hz\)/, 'Header: RESTFRQ comment');
    });

    // 5. Screenshot ----------------------------------------------------------------------------------------
    await step('screenshot', async () => {
      await fileBrowser.screenshot({ path: path.join(ARTIFACTS, 'file-browser.png') });
    });

    // Still connected after a keep-alive round trip (the frontend pings every 5 s).
    await step('keep-alive', async () => {
      for (let i = 0; i < 240 && pongs === 0; i++) await sleep(50);
      assert.ok(pongs > 0, 'no PONG for the frontend\'s PING within 12 s');
      await assertStillConnected('at the end');
    });
    t.diagnostic(`timings: ${timings.join(', ')}; total ${Date.now() - t0} ms`);
    t.diagnostic(`WebSocket trace: ${trace.join(', ')}`);
    const serverWarnings = server.log.filter((l) => /^\S+\s+WARN\b/.test(l));
    if (serverWarnings.length) t.diagnostic(`server warnings:\n${serverWarnings.join('\n')}`);
  } catch (err) {
    await page.screenshot({ path: path.join(ARTIFACTS, 'failure.png') }).catch(() => {});
    err.message += `\n(page screenshot: ${path.join(ARTIFACTS, 'failure.png')})\n${diagnostics()}`;
    throw err;
  }
});
