// Shared machinery of the end-to-end tests (*.test.mjs): sample generation, the cartaflow process, a headless
// Chromium page running the real CARTA frontend, a decoded trace of the WebSocket traffic in both directions,
// event-driven waits on that traffic, the "still healthy" checks, and the failure report.
//
// Env:  CARTAFLOW_BIN      server binary (default <repo>/target/release/cartaflow)
//       CARTAFLOW_SAMPLES  sample folder, generated if missing (default <tmp>/cartaflow-e2e-samples)
//       CARTAFLOW_PYTHON   python for the generator (default <repo>/.venv/bin/python, else python3)
//       CHROMIUM           browser executable (default /usr/bin/chromium)

import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import zlib from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '../..');
export const ARTIFACTS = path.join(HERE, 'artifacts');
export const SERVER_BIN = process.env.CARTAFLOW_BIN || path.join(REPO, 'target/release/cartaflow');
export const SAMPLES = process.env.CARTAFLOW_SAMPLES || path.join(os.tmpdir(), 'cartaflow-e2e-samples');
export const PYTHON = process.env.CARTAFLOW_PYTHON ||
  (fs.existsSync(path.join(REPO, '.venv/bin/python')) ? path.join(REPO, '.venv/bin/python') : 'python3');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const UI_TIMEOUT = 15_000; // per UI wait; a healthy run needs well under a second for each
export const CONNECT_TIMEOUT = 40_000; // page scripts + WebAssembly start-up: 2-4 s when idle, ~10 s on a loaded machine

// CARTA ICD event types (enums.proto) used by the tests; others are shown by number.
export const EV = {
  REGISTER_VIEWER: 1, FILE_LIST_REQUEST: 2, FILE_INFO_REQUEST: 3, OPEN_FILE: 4, SET_IMAGE_CHANNELS: 6,
  SET_CURSOR: 7, SET_SPATIAL_REQUIREMENTS: 8, SET_HISTOGRAM_REQUIREMENTS: 9, CLOSE_FILE: 13,
  REGISTER_VIEWER_ACK: 18, FILE_LIST_RESPONSE: 19, FILE_INFO_RESPONSE: 20, OPEN_FILE_ACK: 21,
  REGION_HISTOGRAM_DATA: 23, SPATIAL_PROFILE_DATA: 25, ERROR_DATA: 28, ADD_REQUIRED_TILES: 30,
  REMOVE_REQUIRED_TILES: 31, RASTER_TILE_DATA: 32, RASTER_TILE_SYNC: 49,
  FILE_LIST_PROGRESS: 71, STOP_FILE_LIST: 72, CHANNEL_MAP_FLOW_CONTROL: 90,
};
export const EVENT_NAMES = Object.fromEntries(Object.entries(EV).map(([k, v]) => [v, k]));
// What the frontend's message handler logs when it cannot use a server message (BackendService.messageHandler,
// onDeferredResponse, protobuf decode errors, tile decompression).
const PROTOCOL_COMPLAINTS = new RegExp(['differs from frontend version', 'Unsupported event response', 'no decoder',
  "Can't find deferred", 'invalid wire type', 'index out of range', 'illegal', 'Problem decompressing'].join('|'), 'i');
const ERROR_SEVERITY = 3; // ErrorSeverity: DEBUG 0, INFO 1, WARNING 2, ERROR 3, CRITICAL 4

// ---------------------------------------------------------------------------------------------------------
// Minimal protobuf reading: the top-level fields of a message; nested messages are decoded by calling it again.
export function protoFields(buf) {
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
export const protoBool = (fields, n) => fields.some((f) => f.field === n && typeof f.value === 'bigint' && f.value !== 0n);
export const protoString = (fields, n) => fields.filter((f) => f.field === n).map((f) => Buffer.from(f.value).toString('utf8'));
/** An integer field as a Number: varint (int32 sign-extended, enums, bools) or sfixed32 (most ICD integers);
 *  `dflt` when absent (proto3 leaves out zero values). */
export const protoInt = (fields, n, dflt = 0) => {
  const f = fields.findLast((x) => x.field === n && (typeof x.value === 'bigint' || x.value.length === 4));
  if (!f) return dflt;
  return typeof f.value === 'bigint' ? Number(BigInt.asIntN(32, f.value)) : Buffer.from(f.value).readInt32LE(0);
};
/** A float (wire type 5) or double (wire type 1) field as a Number, `dflt` when absent. */
export const protoFloat = (fields, n, dflt = 0) => {
  const f = fields.findLast((x) => x.field === n && x.value instanceof Uint8Array);
  if (!f) return dflt;
  const b = Buffer.from(f.value);
  return b.length === 8 ? b.readDoubleLE(0) : b.readFloatLE(0);
};
export const protoMessage = (fields, n) => {
  const f = fields.findLast((x) => x.field === n && x.value instanceof Uint8Array);
  return f ? protoFields(f.value) : null;
};

// A binary CARTA frame: 8-byte header (u16 event type, u16 ICD version, u32 request id) + protobuf.
export function decodeFrame(payload) {
  if (typeof payload === 'string' || payload.length < 8) return null;
  const buf = Buffer.from(payload);
  return { type: buf.readUInt16LE(0), icd: buf.readUInt16LE(2), requestId: buf.readUInt32LE(4), body: buf.subarray(8) };
}
const fieldsOf = (frame) => frame.fields ??= protoFields(frame.body);

/** ERROR_DATA: {severity, tags, message}. */
export function errorData(frame) {
  const fl = fieldsOf(frame);
  return { severity: protoInt(fl, 1), tags: protoString(fl, 2), message: protoString(fl, 3)[0] ?? '' };
}

const stripAnsi = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------------
// Samples and the server process: start, wait for the printed URL, keep its output for diagnostics, stop.
export function generateSamples() {
  // Keeps existing files, so a reused folder costs next to nothing.
  execFileSync(PYTHON, [path.join(REPO, 'scripts/gen_samples.py'), SAMPLES], { stdio: ['ignore', 'ignore', 'pipe'] });
}

export async function startServer(workDir, token, extraArgs = [], topFolder = SAMPLES) {
  // A port given in extraArgs (a restart on the same port) replaces the OS-chosen one.
  const port = extraArgs.includes('--port') ? [] : ['--port', '0'];
  const args = ['--host', '127.0.0.1', ...port, '--top-level-folder', topFolder, '--token', token,
    '--frontend-folder', path.join(REPO, 'frontend'), '--log-level', 'info', ...extraArgs];
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

export async function stopServer(child) {
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
/**
 * Runs `body(s)` against a fresh server and browser page and cleans both up afterwards. `s` holds the page,
 * everything observed (console, page errors, sockets, decoded frames both ways, a readable trace), `step()` for
 * timings, frame waits, `connect()` (page load + REGISTER_VIEWER handshake), `assertStillConnected()` and
 * `diagnostics()`. On failure the error gets the diagnostics and a page screenshot artifacts/<failureShot>.
 * The server gets `--top-level-folder topFolder` (default: the samples) and `serverArgs`.
 */
export async function runE2E(t, { failureShot = 'failure.png', serverArgs = [], topFolder = SAMPLES } = {}, body) {
  const t0 = Date.now();
  const token = 'e2e-' + Math.random().toString(36).slice(2, 12);
  const timings = [];
  const step = async (name, fn) => {
    const s = Date.now();
    const r = await fn();
    timings.push(`${name}: ${Date.now() - s} ms`);
    return r;
  };
  // Clean-up runs last-in first-out: browser, then server (a live WebSocket would delay its shutdown), then files.
  const cleanups = [];
  t.after(async () => { for (const fn of cleanups.reverse()) await fn().catch((e) => t.diagnostic(`cleanup: ${e}`)); });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  fs.rmSync(path.join(ARTIFACTS, failureShot), { force: true });

  // Samples and server
  assert.ok(fs.existsSync(SERVER_BIN), `server binary not found: ${SERVER_BIN} (set CARTAFLOW_BIN)`);
  await step('generate samples', async () => generateSamples());
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cartaflow-e2e-'));
  cleanups.push(async () => fs.rmSync(workDir, { recursive: true, force: true }));
  const server = await step('start server', () => startServer(workDir, token, serverArgs, topFolder));
  cleanups.push(() => stopServer(server.child));
  assert.match(server.url, new RegExp(`^http://127\\.0\\.0\\.1:\\d+/\\?token=${token}$`), 'printed URL');

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
  const s = {
    page, server, token, step, timings,
    consoleLines: [], // all console messages
    pageErrors: [],   // uncaught exceptions
    sockets: [],      // [{url, closed}]
    trace: [],        // "→ FILE_LIST_REQUEST #2" / "← FILE_LIST_RESPONSE #2"
    received: [],     // decoded server frames {type, icd, requestId, body, at, seq}
    sent: [],         // decoded client frames
    pongs: 0,
  };
  let seq = 0; // one counter over both directions, to order sent and received frames
  const waiters = new Set(); // pending waitForFrame()s, re-checked on every frame
  const notify = () => { for (const w of waiters) w(); };
  // Repeated stream frames (tiles, profiles, cursor) are folded into "×N" in the trace.
  const traceLine = (line) => {
    const last = s.trace.length - 1;
    const m = last >= 0 && s.trace[last].match(/^(.*?)(?: ×(\d+))?$/);
    if (m && m[1] === line && /RASTER_TILE_DATA|SET_CURSOR|SPATIAL_PROFILE_DATA|CHANNEL_MAP_FLOW_CONTROL/.test(line)) {
      s.trace[last] = `${line} ×${Number(m[2] ?? 1) + 1}`;
    } else s.trace.push(line);
  };
  page.on('console', (m) => s.consoleLines.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => s.pageErrors.push(e.stack || e.message));
  page.on('websocket', (ws) => {
    const rec = { url: ws.url(), closed: false };
    s.sockets.push(rec);
    ws.on('close', () => { rec.closed = true; s.trace.push('WebSocket closed'); notify(); });
    ws.on('framesent', ({ payload }) => {
      const f = decodeFrame(payload);
      if (!f) return;
      f.at = Date.now();
      f.seq = ++seq;
      s.sent.push(f);
      traceLine(`→ ${EVENT_NAMES[f.type] ?? f.type} #${f.requestId}`);
      notify();
    });
    ws.on('framereceived', ({ payload }) => {
      if (payload === 'PONG') { s.pongs++; notify(); return; }
      const f = decodeFrame(payload);
      if (!f) return;
      f.at = Date.now();
      f.seq = ++seq;
      s.received.push(f);
      let extra = '';
      if (f.type === EV.ERROR_DATA) {
        try {
          const e = errorData(f);
          extra = ` severity=${e.severity} tags=${JSON.stringify(e.tags)} message=${JSON.stringify(e.message)}`;
        } catch (e) { extra = ` (undecodable: ${e.message})`; }
      } else if (f.type === EV.RASTER_TILE_SYNC) {
        try {
          const t = tileSync(f);
          extra = ` {file ${t.fileId} channel ${t.channel} stokes ${t.stokes} sync ${t.syncId}: ` +
            `${t.endSync ? 'end' : `start of ${t.tileCount} tiles`}}`;
        } catch (e) { extra = ` (undecodable: ${e.message})`; }
      }
      traceLine(`← ${EVENT_NAMES[f.type] ?? f.type} #${f.requestId}${extra}`);
      notify();
    });
  });

  /** The server frame of the given type answering the client request with the given id. */
  s.responseTo = (type, requestId) => s.received.find((f) => f.type === type && f.requestId === requestId);

  /**
   * Waits until `pred()` returns something truthy, re-evaluated on every WebSocket frame (either direction)
   * and on a timer (for conditions on the page); returns that value. `what` (a string, or a function giving one)
   * names the condition in the error.
   */
  s.waitFor = (pred, what, timeout = UI_TIMEOUT) => new Promise((resolve, reject) => {
    let timer, poll;
    const done = (fn, v) => { waiters.delete(check); clearTimeout(timer); clearInterval(poll); fn(v); };
    const check = () => {
      try {
        const v = pred();
        if (v) done(resolve, v);
      } catch (e) { done(reject, e); }
    };
    waiters.add(check);
    poll = setInterval(check, 250);
    timer = setTimeout(() => done(reject,
      new Error(`timed out after ${timeout} ms waiting for ${typeof what === 'function' ? what() : what}`)), timeout);
    check();
  });

  s.diagnostics = () => {
    const consoleErrors = s.consoleLines.filter((l) => /^\[(error|warning)\]/.test(l));
    return [
      ...(s.problems?.length ? [`--- conformance problems found before this failure ---`, ...s.problems] : []),
      `--- timings ---`, ...timings,
      `--- server log (last 40 lines) ---`, ...server.log.slice(-40),
      `--- browser console errors/warnings (${consoleErrors.length}; requests to other hosts are blocked on purpose) ---`,
      ...consoleErrors.slice(-30).map((l) => l.slice(0, 400)),
      `--- uncaught page errors ---`, ...s.pageErrors,
      `--- WebSocket trace (${s.sockets.length} socket(s), ${s.sockets.filter((x) => x.closed).length} closed) ---`,
      ...[...new Set(s.sockets.map((x) => x.url))], ...s.trace.slice(-80),
    ].join('\n');
  };

  const disconnectedAlert = page.getByText('You have been disconnected from the server');
  /**
   * One WebSocket, still open, no "disconnected" alert, no uncaught page errors, no frontend complaints about
   * server messages, no ERROR lines in the server log, and no ERROR_DATA of severity ≥ `minErrorSeverity`
   * (default: none at all).
   */
  s.assertStillConnected = async (where, { minErrorSeverity = 0 } = {}) => {
    assert.equal(await disconnectedAlert.count(), 0, `"You have been disconnected" alert shown (${where})`);
    assert.equal(s.sockets.length, 1, `expected exactly one WebSocket (a second means a reconnect) (${where})`);
    assert.equal(s.sockets[0].closed, false, `WebSocket closed (${where})`);
    const errors = s.received.filter((f) => f.type === EV.ERROR_DATA && errorData(f).severity >= minErrorSeverity);
    assert.equal(errors.length, 0, `server sent ERROR_DATA${minErrorSeverity ? ` of severity ≥ ${minErrorSeverity}` : ''} ` +
      `(${where}):\n${s.trace.filter((l) => l.includes('ERROR_DATA')).join('\n')}`);
    assert.deepEqual(s.pageErrors, [], `uncaught errors in the page (${where})`);
    const complaints = s.consoleLines.filter((l) => PROTOCOL_COMPLAINTS.test(l));
    assert.deepEqual(complaints, [], `the frontend complained about server messages (${where})`);
    const serverErrors = server.log.filter((l) => /^\S+\s+ERROR\b/.test(l));
    assert.deepEqual(serverErrors, [], `the server logged errors (${where})`);
  };
  s.ERROR_SEVERITY = ERROR_SEVERITY;

  /** Page load and the REGISTER_VIEWER handshake, checked in detail. */
  s.connect = () => step('page load + register', async () => {
    await page.goto(server.url, { timeout: CONNECT_TIMEOUT });
    await page.waitForFunction(() => document.title.length > 0, null, { timeout: UI_TIMEOUT });
    // The frontend retries a refused connection every second (15 times, then the "disconnected" alert),
    // so wait for the ack rather than for a socket.
    const deadline = Date.now() + CONNECT_TIMEOUT;
    let reg, ack, i = 0;
    while (!ack && Date.now() < deadline) {
      reg = s.sent.find((f) => f.type === EV.REGISTER_VIEWER);
      ack = reg && s.responseTo(EV.REGISTER_VIEWER_ACK, reg.requestId);
      if (!ack && ++i % 10 === 0 && (await disconnectedAlert.count()) > 0) break;
      if (!ack) await sleep(50);
    }
    assert.ok(ack, `no REGISTER_VIEWER_ACK: ${s.sockets.length} WebSocket attempt(s), ` +
      `${s.sockets.filter((x) => x.closed).length} closed, REGISTER_VIEWER ${reg ? `sent as #${reg.requestId}` : 'never sent'}, ` +
      `disconnected alert ${(await disconnectedAlert.count()) > 0 ? 'shown' : 'not shown'}, after ${Date.now() - t0} ms`);
    assert.equal(s.sockets.length, 1, 'expected exactly one WebSocket');
    assert.equal(new URL(s.sockets[0].url).searchParams.get('token'), token, 'WebSocket carries the page token');
    assert.equal(ack.icd, 30, 'ICD version in the ack header');
    const fl = protoFields(ack.body);
    assert.ok(protoBool(fl, 2), `REGISTER_VIEWER_ACK success=false: ${protoString(fl, 3)[0] ?? ''}`);
    await s.waitFor(() => s.consoleLines.some((l) => l.includes('Connected with session ID')),
      'the frontend to log "Connected with session ID"', 5000);
  });

  /** The file browser that opens by itself at start, after declining the first-run telemetry consent dialog. */
  s.fileBrowser = page.locator('.file-browser-dialog');
  s.fileList = s.fileBrowser.getByTestId('file-list');
  s.initialFileBrowser = (name = 'spectral_cube.fits') => step('file browser at start', async () => {
    await page.getByTestId('telemetry-opt-out-button').click({ timeout: UI_TIMEOUT });
    await s.fileBrowser.waitFor({ state: 'visible', timeout: UI_TIMEOUT });
    await s.fileList.getByText(name, { exact: true }).waitFor({ timeout: UI_TIMEOUT });
  });

  try {
    await body(s);
    t.diagnostic(`timings: ${timings.join(', ')}; total ${Date.now() - t0} ms`);
    t.diagnostic(`WebSocket trace: ${s.trace.join(', ')}`);
    const serverWarnings = server.log.filter((l) => /^\S+\s+WARN\b/.test(l));
    if (serverWarnings.length) t.diagnostic(`server warnings:\n${serverWarnings.join('\n')}`);
  } catch (err) {
    t.diagnostic(`WebSocket trace: ${s.trace.join(', ')}`);
    await page.screenshot({ path: path.join(ARTIFACTS, failureShot) }).catch(() => {});
    err.message += `\n(page screenshot: ${path.join(ARTIFACTS, failureShot)})\n${s.diagnostics()}`;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Decoders for the image streams (field numbers from the ICD protos).

/** RASTER_TILE_SYNC {file_id 1, channel 2, stokes 3, sync_id 4, animation_id 5, tile_count 6, end_sync 7}. */
export function tileSync(frame) {
  const fl = fieldsOf(frame);
  return { fileId: protoInt(fl, 1), channel: protoInt(fl, 2), stokes: protoInt(fl, 3), syncId: protoInt(fl, 4),
    tileCount: protoInt(fl, 6), endSync: protoBool(fl, 7) };
}
/** RASTER_TILE_DATA {file_id 1, channel 2, stokes 3, compression_type 4, compression_quality 5, sync_id 6,
 *  animation_id 7, tiles 8 [TileData {layer 1, x 2, y 3, width 4, height 5, image_data 6, nan_encodings 7, mip 8}]}. */
export function tileData(frame) {
  const fl = fieldsOf(frame);
  const tiles = fl.filter((f) => f.field === 8).map((f) => {
    const tf = protoFields(f.value);
    return { layer: protoInt(tf, 1), x: protoInt(tf, 2), y: protoInt(tf, 3), width: protoInt(tf, 4),
      height: protoInt(tf, 5), bytes: (tf.find((x) => x.field === 6)?.value ?? []).length, mip: protoInt(tf, 8) };
  });
  return { fileId: protoInt(fl, 1), channel: protoInt(fl, 2), stokes: protoInt(fl, 3), compression: protoInt(fl, 4),
    quality: protoFloat(fl, 5), syncId: protoInt(fl, 6), tiles };
}
/** REGION_HISTOGRAM_DATA {file_id 1, region_id 2, channel 3, stokes 4, histograms 5 {num_bins 1, bin_width 2,
 *  first_bin_center 3, bins 4, mean 5, std_dev 6}, progress 6, config 7 {coordinate 1, channel 2,
 *  fixed_num_bins 3, num_bins 4, fixed_bounds 5, bounds 6}}. */
export function regionHistogram(frame) {
  const fl = fieldsOf(frame);
  const h = protoMessage(fl, 5) ?? [];
  const c = protoMessage(fl, 7);
  const bins = [];
  for (const f of h.filter((x) => x.field === 4)) {
    const b = Buffer.from(f.value);
    for (let i = 0; i + 4 <= b.length; i += 4) bins.push(b.readInt32LE(i));
  }
  return { fileId: protoInt(fl, 1), regionId: protoInt(fl, 2), channel: protoInt(fl, 3), stokes: protoInt(fl, 4),
    progress: protoFloat(fl, 6), numBins: protoInt(h, 1), binWidth: protoFloat(h, 2, NaN),
    firstBinCenter: protoFloat(h, 3, NaN), bins, mean: protoFloat(h, 5, NaN), stdDev: protoFloat(h, 6, NaN),
    hasConfig: !!c, fixedNumBins: c ? protoBool(c, 3) : false, fixedBounds: c ? protoBool(c, 5) : false };
}
/** SET_IMAGE_CHANNELS {file_id 1, channel 2, stokes 3, required_tiles 4}. */
export function setImageChannels(frame) {
  const fl = fieldsOf(frame);
  return { fileId: protoInt(fl, 1), channel: protoInt(fl, 2), stokes: protoInt(fl, 3) };
}
/** SPATIAL_PROFILE_DATA {file_id 1, region_id 2, x 3, y 4, channel 5, stokes 6, value 7 (float),
 *  profiles 8 [SpatialProfile {start 1, end 2, raw_values_fp32 3, coordinate 4, mip 5}]}. */
export function spatialProfile(frame) {
  const fl = fieldsOf(frame);
  const profiles = fl.filter((f) => f.field === 8).map((f) => {
    const pf = protoFields(f.value);
    const raw = Buffer.from(pf.find((x) => x.field === 3)?.value ?? []);
    const values = [];
    for (let i = 0; i + 4 <= raw.length; i += 4) values.push(raw.readFloatLE(i));
    return { coordinate: protoString(pf, 4)[0] ?? '', start: protoInt(pf, 1), end: protoInt(pf, 2),
      mip: protoInt(pf, 5), rawBytes: raw.length, values };
  });
  return { fileId: protoInt(fl, 1), regionId: protoInt(fl, 2), x: protoInt(fl, 3), y: protoInt(fl, 4),
    channel: protoInt(fl, 5), stokes: protoInt(fl, 6), value: protoFloat(fl, 7, NaN), profiles };
}
/** SET_CURSOR {file_id 1, point 2 {x 1, y 2 (floats)}}. */
export function setCursor(frame) {
  const fl = fieldsOf(frame);
  const p = protoMessage(fl, 2) ?? [];
  return { fileId: protoInt(fl, 1), x: protoFloat(p, 1), y: protoFloat(p, 2) };
}
/** ADD_REQUIRED_TILES {file_id 1, tiles 2 (repeated sfixed32, packed or not), compression_type 3,
 *  compression_quality 4}. Tile ids are layer << 24 | y << 12 | x. */
export function addRequiredTiles(frame) {
  const fl = fieldsOf(frame);
  const ids = [];
  for (const f of fl.filter((x) => x.field === 2)) {
    const b = Buffer.from(f.value);
    for (let i = 0; i + 4 <= b.length; i += 4) ids.push(b.readInt32LE(i));
  }
  return { fileId: protoInt(fl, 1), compression: protoInt(fl, 3), quality: protoFloat(fl, 4),
    tiles: ids.map((id) => ({ layer: (id >> 24) & 127, y: (id >> 12) & 4095, x: id & 4095 })) };
}
/** OPEN_FILE_ACK {success 1, file_id 2, message 3, file_info 4, file_info_extended 5 {dimensions 1, width 2,
 *  height 3, depth 4, stokes 5, ...}, ...}. */
export function openFileAck(frame) {
  const fl = fieldsOf(frame);
  const ext = protoMessage(fl, 5) ?? [];
  return { success: protoBool(fl, 1), fileId: protoInt(fl, 2), message: protoString(fl, 3)[0] ?? '',
    width: protoInt(ext, 2), height: protoInt(ext, 3), depth: protoInt(ext, 4), stokes: protoInt(ext, 5) };
}
/** OPEN_FILE {directory 1, file 2, hdu 3, file_id 4, render_mode 5}. */
export function openFile(frame) {
  const fl = fieldsOf(frame);
  return { directory: protoString(fl, 1)[0] ?? '', file: protoString(fl, 2)[0] ?? '', hdu: protoString(fl, 3)[0] ?? '',
    fileId: protoInt(fl, 4) };
}

/**
 * The complete tile streams in `frames`: for every RASTER_TILE_SYNC start, its end (same sync id) and the
 * RASTER_TILE_DATA in between. Returns [{fileId, channel, stokes, syncId, tileCount, tiles: [...], complete,
 * startSeq, endSeq}]; a tile carries the channel, compression type and quality of its RASTER_TILE_DATA.
 */
export function tileStreams(frames) {
  const streams = new Map();
  for (const f of frames) {
    if (f.type === EV.RASTER_TILE_SYNC) {
      const sy = tileSync(f);
      if (!sy.endSync) streams.set(sy.syncId, { ...sy, tiles: [], complete: false, startAt: f.at, startSeq: f.seq });
      else if (streams.has(sy.syncId)) Object.assign(streams.get(sy.syncId), { complete: true, endAt: f.at, endSeq: f.seq });
    } else if (f.type === EV.RASTER_TILE_DATA) {
      const d = tileData(f);
      const st = streams.get(d.syncId);
      if (st && !st.complete) {
        st.tiles.push(...d.tiles.map((x) => ({ ...x, channel: d.channel, compression: d.compression, quality: d.quality })));
      }
    }
  }
  return [...streams.values()];
}

/** Expected size of tile (x, y, layer) of a W×H image (FRONTEND.md §6): mip = 2^(total_layers - layer). */
export function expectedTileSize(W, H, { x, y, layer }) {
  const totalLayers = Math.max(0, Math.ceil(Math.log2(Math.max(Math.ceil(W / 256), Math.ceil(H / 256)))));
  const mip = 2 ** (totalLayers - layer);
  const span = (i, n) => Math.ceil((Math.min(n, (i + 1) * 256 * mip) - i * 256 * mip) / mip);
  return { width: span(x, W), height: span(y, H), mip };
}

// ---------------------------------------------------------------------------------------------------------
// PNG screenshots: just enough of a decoder for what Chromium writes (8-bit RGB/RGBA, not interlaced).
export function decodePng(buf) {
  assert.equal(buf.subarray(0, 8).toString('latin1'), '\x89PNG\r\n\x1a\n', 'PNG signature');
  let i = 8, width, height, colorType, bitDepth, interlace;
  const idat = [];
  while (i < buf.length) {
    const len = buf.readUInt32BE(i), type = buf.toString('latin1', i + 4, i + 8), data = buf.subarray(i + 8, i + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0); height = data.readUInt32BE(4);
      bitDepth = data[8]; colorType = data[9]; interlace = data[12];
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    i += 12 + len;
  }
  assert.ok(bitDepth === 8 && (colorType === 2 || colorType === 6) && !interlace,
    `unsupported PNG: bit depth ${bitDepth}, colour type ${colorType}, interlace ${interlace}`);
  const bpp = colorType === 6 ? 4 : 3, stride = width * bpp;
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const out = Buffer.alloc(width * height * 4);
  let prev = Buffer.alloc(stride), cur = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? cur[x - bpp] : 0, b = prev[x], c = x >= bpp ? prev[x - bpp] : 0;
      let v = line[x];
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      cur[x] = v & 255;
    }
    for (let x = 0; x < width; x++) {
      out[(y * width + x) * 4] = cur[x * bpp];
      out[(y * width + x) * 4 + 1] = cur[x * bpp + 1];
      out[(y * width + x) * 4 + 2] = cur[x * bpp + 2];
      out[(y * width + x) * 4 + 3] = bpp === 4 ? cur[x * bpp + 3] : 255;
    }
    [prev, cur] = [cur, prev];
  }
  return { width, height, data: out };
}

/**
 * Colour statistics of a rectangle {x, y, width, height} (CSS pixels = PNG pixels at scale 1) of a decoded PNG:
 * distinct colours, the share of the most common colour, the luminance spread and maximum, the shares of near-black
 * (< 16), bright (> 100) and near-white (> 240) pixels, and `count(pred)` for counting pixels of a kind (pred gets
 * r, g, b).
 */
export function colourStats(png, rect) {
  const x0 = Math.max(0, Math.round(rect.x)), y0 = Math.max(0, Math.round(rect.y));
  const x1 = Math.min(png.width, Math.round(rect.x + rect.width)), y1 = Math.min(png.height, Math.round(rect.y + rect.height));
  const counts = new Map();
  let n = 0, sum = 0, sum2 = 0, black = 0, white = 0, bright = 0, maxLum = 0;
  const pixels = [];
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const k = (y * png.width + x) * 4;
      const r = png.data[k], g = png.data[k + 1], b = png.data[k + 2];
      const key = (r << 16) | (g << 8) | b;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      const lum = 0.2126 * r + 0.7152 * g + 0.0722 * b;
      sum += lum; sum2 += lum * lum; n++;
      if (lum < 16) black++;
      if (lum > 240) white++;
      if (lum > 100) bright++;
      maxLum = Math.max(maxLum, lum);
      pixels.push(key);
    }
  }
  const mode = Math.max(...counts.values());
  const mean = sum / n;
  return {
    pixels: n, distinct: counts.size, modeShare: mode / n, meanLum: mean, lumStd: Math.sqrt(Math.max(0, sum2 / n - mean * mean)),
    blackShare: black / n, whiteShare: white / n, brightShare: bright / n, maxLum,
    count: (pred) => pixels.reduce((c, key) => c + (pred(key >> 16, (key >> 8) & 255, key & 255) ? 1 : 0), 0),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Opening images through the file browser, as a user does.

export const lastSeq = (s) => Math.max(s.sent.at(-1)?.seq ?? 0, s.received.at(-1)?.seq ?? 0);
/** RASTER_TILE_SYNC with its animation id (field 5). */
export const sync = (f) => ({ ...tileSync(f), animationId: protoInt(protoFields(f.body), 5) });
export const syncEnds = (s, mark, pred = () => true) => s.received
  .filter((f) => f.seq > mark && f.type === EV.RASTER_TILE_SYNC).map((f) => ({ ...sync(f), seq: f.seq }))
  .filter((x) => x.endSync && pred(x));

/** Selects `name` in the (open) file browser and presses "Load"; returns the OPEN_FILE_ACK and the mark before. */
export async function load(s, name) {
  if (!(await s.fileBrowser.isVisible())) {
    await s.page.locator('.root-menu-entry').getByText('File', { exact: true }).click();
    await s.page.getByRole('menuitem', { name: /^Open Image/ }).click({ timeout: UI_TIMEOUT });
    await s.fileBrowser.waitFor({ state: 'visible', timeout: UI_TIMEOUT });
  }
  let mark = lastSeq(s);
  await s.fileList.getByText(name, { exact: true }).click({ timeout: UI_TIMEOUT });
  const info = await s.waitFor(() => s.sent.find((f) => f.seq > mark && f.type === EV.FILE_INFO_REQUEST),
    `FILE_INFO_REQUEST for ${name}`);
  await s.waitFor(() => s.responseTo(EV.FILE_INFO_RESPONSE, info.requestId), `FILE_INFO_RESPONSE for ${name}`);
  mark = lastSeq(s);
  await s.fileBrowser.getByRole('button', { name: 'Load', exact: true }).click({ timeout: UI_TIMEOUT });
  const open = await s.waitFor(() => s.sent.find((f) => f.seq > mark && f.type === EV.OPEN_FILE), `OPEN_FILE of ${name}`);
  assert.equal(openFile(open).file, name);
  const ack = openFileAck(await s.waitFor(() => s.responseTo(EV.OPEN_FILE_ACK, open.requestId), `OPEN_FILE_ACK of ${name}`));
  assert.ok(ack.success, `OPEN_FILE_ACK of ${name}: ${ack.message}`);
  await s.waitFor(() => syncEnds(s, mark, (x) => x.fileId === ack.fileId && x.channel === 0).length,
    `the first tile stream of ${name}`);
  return { ...ack, mark };
}

/** A 2-D BITPIX -32 FITS image read from the file itself: its header cards (strings) and pixels (NaN kept). */
export function readFits2d(file) {
  const buf = fs.readFileSync(file);
  const header = {};
  let off = 0;
  for (let done = false; !done; off += 2880) {
    for (let c = off; c < off + 2880; c += 80) {
      const card = buf.toString('latin1', c, c + 80);
      const key = card.slice(0, 8).trim();
      if (key === 'END') { done = true; break; }
      if (card[8] !== '=') continue;
      const v = card.slice(10).trim();
      header[key] = v.startsWith("'") ? v.slice(1, v.indexOf("'", 1)).trim() : v.split('/')[0].trim();
    }
  }
  assert.equal(Number(header.BITPIX), -32, `${file}: BITPIX`);
  assert.equal(Number(header.NAXIS), 2, `${file}: NAXIS`);
  const width = Number(header.NAXIS1), height = Number(header.NAXIS2);
  const bscale = Number(header.BSCALE ?? 1), bzero = Number(header.BZERO ?? 0);
  const plane = new Float32Array(width * height);
  for (let i = 0; i < width * height; i++) plane[i] = buf.readFloatBE(off + 4 * i) * bscale + bzero;
  return { header, width, height, plane };
}
