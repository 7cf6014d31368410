// End-to-end test: images on screen in the real CARTA frontend 6.0.0 (headless Chromium) served by cartaflow.
//
// Test "images render" — what it checks, in order (machinery in harness.mjs):
//   1. gaussian_sources.fits is opened through the file browser (select, "Load"): OPEN_FILE_ACK succeeds with the
//      file id of the OPEN_FILE; the colour-scale REGION_HISTOGRAM_DATA (region -1, channel 0, no fixed bins or
//      bounds) arrives before the channel's first tile stream; every RASTER_TILE_SYNC start has its end, with
//      tile_count RASTER_TILE_DATA in between, ZFP as asked, each tile of the size its layer implies; every tile
//      request is answered. Then, with the tiles drawn:
//        - the image view is not blank: its centre has many distinct colours, no colour covering most of it, a
//          real luminance spread, some bright pixels, and is neither all black nor all white (page screenshot,
//          decoded here); the brightest pixel of the data is drawn bright where the cursor mapping puts it (tiles
//          in place and the right way up);
//        - the Render Configuration widget shows finite clip bounds min < max inside the histogram's range, and
//          its histogram plot has the blue histogram line drawn;
//        - moving the mouse over the image sends SET_CURSOR and gets SPATIAL_PROFILE_DATA for the pixel under
//          the cursor, with x/y profiles consistent with the value, and the value matches the file (astropy);
//          the cursor info bar shows that pixel and value;
//        - zooming in (mouse wheel) brings full-resolution tiles, checked like the first ones, and still an image.
//   2. idia_image.hdf5 (File → Open Image, "Load"): the same stream checks, non-blank, cursor value vs h5py; its
//      blanked (NaN) patch is drawn in the NaN colour where it belongs and the cursor there reads NaN.
//   3. spectral_cube.fits: the same at channel 0; then the Animator's "Next" button and then a click on its
//      channel slider each send SET_IMAGE_CHANNELS, answered by that channel's histogram and then its tiles;
//      non-blank at the new channel; the cursor value there matches the file.
//   Screenshots of the whole page go to tests/e2e/artifacts/image-fits.png, image-hdf5.png, image-cube.png.
//   Throughout: one WebSocket, no "disconnected" alert, no uncaught page error, no frontend complaint about a
//   server message, no ERROR line in the server log, no ERROR_DATA of severity ≥ ERROR.
// The server runs with --top-level-folder = the samples' parent folder and --starting-folder = the samples
// (a site layout like carta_backend's "top / , start in home"), so the file browser starts in a subfolder.
//
// Test "top-level folder": with the samples folder as both top-level and starting folder (what scripts/run.sh
// does), selecting gaussian_sources.fits and pressing "Load" opens it (OPEN_FILE, successful OPEN_FILE_ACK, tiles).
//
// Run:  cd tests/e2e && npm test        (or: node --test)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import {
  runE2E, EV, ARTIFACTS, SAMPLES, PYTHON, UI_TIMEOUT, sleep, protoFields, protoString, tileStreams,
  regionHistogram, setImageChannels, spatialProfile, setCursor, addRequiredTiles, openFile, openFileAck,
  expectedTileSize, decodePng, colourStats,
} from './harness.mjs';

const ZFP = 1;
// Console noise of an offline run that says nothing about the server.
const BENIGN_CONSOLE = /status of 404|AxiosError|ERR_INTERNET_DISCONNECTED|telemetry UUID|check new releases|GPU stall due to ReadPixels|<NumericInput> controlled value/;

// ---------------------------------------------------------------------------------------------------------
// Steps shared by the tests. `s` is the session object of runE2E.

const lastSeq = (s) => Math.max(s.sent.at(-1)?.seq ?? 0, s.received.at(-1)?.seq ?? 0);

/** Opens File → Open Image (when the file browser is not already open). */
async function openFileBrowser(s) {
  if (await s.fileBrowser.isVisible()) return;
  await s.page.locator('.root-menu-entry').getByText('File', { exact: true }).click();
  await s.page.getByRole('menuitem', { name: /^Open Image/ }).click({ timeout: UI_TIMEOUT });
  await s.fileBrowser.waitFor({ state: 'visible', timeout: UI_TIMEOUT });
}

/** Selects `name` in the file browser and presses "Load"; returns {fileId, width, height, depth, mark}. */
async function loadThroughFileBrowser(s, name) {
  await openFileBrowser(s);
  let mark = lastSeq(s);
  await s.fileList.getByText(name, { exact: true }).click({ timeout: UI_TIMEOUT });
  const infoReq = await s.waitFor(() => s.sent.find((f) => f.seq > mark && f.type === EV.FILE_INFO_REQUEST &&
    protoString(protoFields(f.body), 2)[0] === name), `FILE_INFO_REQUEST for ${name}`);
  await s.waitFor(() => s.responseTo(EV.FILE_INFO_RESPONSE, infoReq.requestId), `FILE_INFO_RESPONSE for ${name}`);
  mark = lastSeq(s);
  await s.fileBrowser.getByRole('button', { name: 'Load', exact: true }).click({ timeout: UI_TIMEOUT });
  const open = await s.waitFor(() => {
    if (s.pageErrors.length) throw new Error(`"Load" failed in the page: ${s.pageErrors.at(-1).split('\n')[0]}`);
    return s.sent.find((f) => f.seq > mark && f.type === EV.OPEN_FILE);
  }, `OPEN_FILE after "Load" of ${name}`);
  const req = openFile(open);
  assert.equal(req.file, name, 'OPEN_FILE file');
  const ackFrame = await s.waitFor(() => s.responseTo(EV.OPEN_FILE_ACK, open.requestId), `OPEN_FILE_ACK for ${name}`);
  const ack = openFileAck(ackFrame);
  assert.ok(ack.success, `OPEN_FILE_ACK for ${name}: success=false, message ${JSON.stringify(ack.message)}`);
  assert.equal(ack.fileId, req.fileId, 'OPEN_FILE_ACK echoes the file id');
  assert.ok(ack.width > 0 && ack.height > 0, `OPEN_FILE_ACK image size ${ack.width}x${ack.height}`);
  await s.fileBrowser.waitFor({ state: 'hidden', timeout: UI_TIMEOUT });
  return { name, fileId: ack.fileId, width: ack.width, height: ack.height, depth: ack.depth, mark: open.seq };
}

/** Tile requests (ADD_REQUIRED_TILES with tiles, SET_IMAGE_CHANNELS) for a file after `mark`. */
const tileRequests = (s, fileId, mark) => s.sent.filter((f) => f.seq > mark &&
  ((f.type === EV.ADD_REQUIRED_TILES && addRequiredTiles(f).fileId === fileId && addRequiredTiles(f).tiles.length > 0) ||
   (f.type === EV.SET_IMAGE_CHANNELS && setImageChannels(f).fileId === fileId)));

/**
 * Waits until channel `channel` of `img` is on screen: its colour-scale histogram has come (unless `histogram` is
 * false), and every tile request after `mark` is answered by a complete tile stream begun after it, with nothing new
 * asked for 400 ms. Checks the histogram and every tile stream of the file since `mark`. Returns {hist, streams}.
 */
async function waitForChannel(s, img, channel, mark, { histogram = true } = {}) {
  const what = `${img.name} channel ${channel}`;
  const histFrame = histogram && await s.waitFor(() => s.received.find((f) => f.seq > mark && f.type === EV.REGION_HISTOGRAM_DATA &&
    regionHistogram(f).fileId === img.fileId && regionHistogram(f).regionId === -1 && regionHistogram(f).channel === channel),
  `REGION_HISTOGRAM_DATA (region -1) for ${what}`);
  const streamsOf = () => tileStreams(s.received.filter((f) => f.seq > mark)).filter((st) => st.fileId === img.fileId);
  const settled = () => {
    const streams = streamsOf();
    const last = tileRequests(s, img.fileId, mark).at(-1);
    return streams.some((st) => st.channel === channel) && streams.every((st) => st.complete) &&
      (!last || streams.some((st) => st.startSeq > last.seq));
  };
  for (let i = 0; ; i++) {
    await s.waitFor(settled, `every tile request for ${what} answered by a complete RASTER_TILE_SYNC stream`);
    await sleep(400);
    if (settled()) break;
    assert.ok(i < 20, `tile requests for ${what} never settled`);
  }

  const { check } = s;
  const streams = streamsOf();
  const hist = histogram && regionHistogram(histFrame);
  if (histogram) {
    check(!hist.fixedNumBins && !hist.fixedBounds, `${what}: colour-scale histogram has fixed_num_bins/fixed_bounds set in its config`);
    check(hist.numBins >= 2 && hist.bins.length === hist.numBins, `${what}: histogram num_bins ${hist.numBins} with ${hist.bins.length} bins`);
    check(hist.bins.reduce((a, b) => a + b, 0) > 0, `${what}: the colour-scale histogram is empty`);
    check(Number.isFinite(hist.binWidth) && hist.binWidth > 0 && Number.isFinite(hist.firstBinCenter),
      `${what}: histogram bin_width ${hist.binWidth}, first_bin_center ${hist.firstBinCenter}`);
    const first = streams.find((st) => st.channel === channel);
    check(histFrame.seq < first.startSeq, `${what}: the colour-scale REGION_HISTOGRAM_DATA came after the channel's first RASTER_TILE_SYNC`);
  }
  const askedQuality = tileRequests(s, img.fileId, mark).filter((f) => f.type === EV.ADD_REQUIRED_TILES)
    .map((f) => addRequiredTiles(f).quality)[0] ?? 11;
  for (const st of streams) {
    const label = `${what}: tile stream sync_id ${st.syncId} (channel ${st.channel})`;
    check(st.tiles.length === st.tileCount, `${label}: tile_count ${st.tileCount} but ${st.tiles.length} RASTER_TILE_DATA tiles`);
    check(st.tileCount > 0, `${label}: empty stream`);
    for (const tile of st.tiles) {
      const exp = expectedTileSize(img.width, img.height, tile);
      const id = `L${tile.layer}:${tile.x},${tile.y}`;
      check(tile.channel === st.channel, `${label}: tile ${id} has channel ${tile.channel}`);
      check(tile.compression === ZFP, `${what}: tiles with compression_type ${tile.compression}, the frontend asked for ZFP (${ZFP})`);
      // The frontend decodes with floor(compression_quality) as the ZFP precision; carta_backend sends the asked
      // quality, or a higher one when it recompressed a tile at high precision.
      check(tile.quality >= askedQuality && tile.quality <= 64,
        `${what}: tiles with compression_quality ${tile.quality}, the frontend asked for ${askedQuality}`);
      check(tile.width === exp.width && tile.height === exp.height,
        `${label}: tile ${id} of a ${img.width}x${img.height} image is ${tile.width}x${tile.height}, expected ${exp.width}x${exp.height}`);
      check(tile.bytes > 0, `${label}: tile ${id} has no image_data`);
    }
  }
  // Every tile asked for came (the frontend only asks for tiles it lacks).
  const delivered = new Set(streams.flatMap((st) => st.tiles.map((t) => `${st.channel}/L${t.layer}:${t.x},${t.y}`)));
  const currentChannel = (f) => (f.type === EV.SET_IMAGE_CHANNELS ? setImageChannels(f).channel : null);
  let ch = channel;
  for (const f of tileRequests(s, img.fileId, mark)) {
    ch = currentChannel(f) ?? ch;
    if (f.type !== EV.ADD_REQUIRED_TILES) continue;
    for (const t of addRequiredTiles(f).tiles) {
      check(delivered.has(`${ch}/L${t.layer}:${t.x},${t.y}`), `${what}: requested tile L${t.layer}:${t.x},${t.y} (channel ${ch}) never came`);
    }
  }
  return { hist, streams };
}

/** Waits for two animation frames, so what arrived is drawn. */
const painted = (page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

/**
 * Screenshot of the whole page to artifacts/<file>, with the mouse parked outside the image; asserts the centre of
 * the image view is a real image and returns its colour statistics.
 */
async function assertImageShown(s, what, file) {
  const { page } = s;
  await page.mouse.move(1595, 5); // top right corner, over nothing
  // The zoom-ratio popup shows in the middle of the view for a second after every resize.
  await page.waitForFunction(() => [...document.querySelectorAll('.image-ratio-popup')]
    .every((e) => getComputedStyle(e).opacity === '0'), null, { timeout: UI_TIMEOUT });
  await painted(page);
  const png = decodePng(await page.screenshot({ path: path.join(ARTIFACTS, file) }));
  const view = await page.locator('.image-view-div').boundingBox();
  // The middle 30% x 40% of the view lies inside the raster for every sample (the image is centred and fitted).
  const rect = { x: view.x + view.width * 0.35, y: view.y + view.height * 0.3, width: view.width * 0.3, height: view.height * 0.4 };
  const st = colourStats(png, rect);
  const summary = `${what}: ${st.distinct} colours, most common ${(100 * st.modeShare).toFixed(1)}%, luminance ` +
    `${st.meanLum.toFixed(1)} ± ${st.lumStd.toFixed(1)}, black ${(100 * st.blackShare).toFixed(1)}%, bright ` +
    `${(100 * st.brightShare).toFixed(2)}%, white ${(100 * st.whiteShare).toFixed(1)}%`;
  s.notes.push(summary);
  assert.ok(st.distinct >= 50, `image view is (nearly) flat — ${summary} (${file})`);
  assert.ok(st.modeShare < 0.5, `one colour covers most of the image view — ${summary} (${file})`);
  assert.ok(st.lumStd >= 3, `no luminance variation in the image view — ${summary} (${file})`);
  assert.ok(st.blackShare < 0.995 && st.brightShare > 0.001 && st.whiteShare < 0.5,
    `image view (nearly) all black or all white — ${summary} (${file})`);
  return { png, st, view };
}

/** The render configuration widget: clip bounds shown and inside the histogram, histogram line drawn. */
async function assertRenderConfig(s, what, hist, png) {
  const { page } = s;
  const widget = page.locator('.render-config-container');
  await widget.waitFor({ timeout: UI_TIMEOUT });
  const clipMin = parseFloat(await widget.getByTestId('clip-min-input').inputValue());
  const clipMax = parseFloat(await widget.getByTestId('clip-max-input').inputValue());
  assert.ok(Number.isFinite(clipMin) && Number.isFinite(clipMax) && clipMin < clipMax,
    `${what}: Render Configuration clip bounds ${clipMin} .. ${clipMax}`);
  const lo = hist.firstBinCenter - hist.binWidth, hi = hist.firstBinCenter + hist.binWidth * hist.numBins;
  s.check(clipMin >= lo && clipMax <= hi, `${what}: clip bounds ${clipMin} .. ${clipMax} outside the histogram ${lo} .. ${hi}`);
  const plot = await widget.locator('.histogram-plot canvas').first().boundingBox();
  const st = colourStats(png, plot);
  const blue = st.count((r, g, b) => b > 120 && b > r + 60 && b > g + 20);
  s.notes.push(`${what}: render config clip ${clipMin} .. ${clipMax}; histogram plot ${blue} blue pixels`);
  assert.ok(blue >= 200, `${what}: the Render Configuration histogram is not drawn (${blue} blue pixels in its plot)`);
  return { clipMin, clipMax };
}

/**
 * Moves the mouse to `fx`, `fy` (fractions of the image view; hoverAt: to a screen point) and waits until the
 * cursor info bar shows the pixel under it with a current value (no "*") and the SPATIAL_PROFILE_DATA for that pixel
 * has come; checks that reply against the last SET_CURSOR, its x/y profiles against its value, and the value shown.
 * Returns the sample for the check against the file, with the screen point and the SET_CURSOR point.
 */
async function hover(s, img, channel, fx, fy) {
  const view = await s.page.locator('.image-view-div').boundingBox();
  return hoverAt(s, img, channel, { x: Math.round(view.x + view.width * fx), y: Math.round(view.y + view.height * fy) });
}
async function hoverAt(s, img, channel, screen) {
  const { page, check } = s;
  const what = `${img.name} channel ${channel}: cursor`;
  const mark = lastSeq(s);
  // One mousemove event, so the frontend never shows an intermediate position.
  await page.mouse.move(screen.x, screen.y);
  // Settled when the info bar ("WCS: (…); Image: (x, y); Value: v unit", "*" after v while the value is for
  // another pixel) shows a current value for pixel P, the last SET_CURSOR sent is for P, and its answer has come.
  const bar = page.locator('.cursor-overlay-div');
  let text = '', shown, reply, cur;
  for (const end = Date.now() + UI_TIMEOUT; Date.now() < end && !reply; await sleep(50)) {
    text = (await bar.innerText({ timeout: UI_TIMEOUT })).replace(/\u00a0/g, ' ');
    const m = text.match(/Image: \((\d+), (\d+)\); (?:Value: ([-+\d.eE]+)|(NaN))[^*;]*?(\*?)(?:;|$)/);
    cur = s.sent.findLast((f) => f.seq > mark && f.type === EV.SET_CURSOR);
    if (!m || m[5] === '*' || !cur) continue;
    shown = { x: Number(m[1]), y: Number(m[2]), value: m[4] ? NaN : parseFloat(m[3]) };
    const c = setCursor(cur);
    if (Math.round(c.x) !== shown.x || Math.round(c.y) !== shown.y) continue;
    reply = s.received.findLast((f) => f.seq > cur.seq && f.type === EV.SPATIAL_PROFILE_DATA &&
      spatialProfile(f).x === shown.x && spatialProfile(f).y === shown.y);
  }
  assert.ok(reply, `${what}: no SPATIAL_PROFILE_DATA for the pixel of the last SET_CURSOR ` +
    `${cur ? JSON.stringify(setCursor(cur)) : '(none sent)'}, as the cursor info bar shows it; it shows ${JSON.stringify(text)}; ` +
    `replies since: ${JSON.stringify(s.received.filter((f) => f.seq > mark && f.type === EV.SPATIAL_PROFILE_DATA).map((f) => [spatialProfile(f).x, spatialProfile(f).y]))}`);
  const p = spatialProfile(reply);
  const c = setCursor(cur);
  s.notes.push(`${what} (${p.x}, ${p.y}) = ${p.value}; info bar: ${JSON.stringify(text)}`);
  assert.equal(c.fileId, img.fileId, `${what}: SET_CURSOR file id`);
  check(p.fileId === img.fileId && p.regionId === 0 && p.channel === channel && p.stokes === 0,
    `${what}: SPATIAL_PROFILE_DATA file_id ${p.fileId}, region_id ${p.regionId}, channel ${p.channel}, stokes ${p.stokes}; ` +
    `expected ${img.fileId}, 0, ${channel}, 0`);
  check(Number.isNaN(p.value) ? Number.isNaN(shown.value) : Math.abs(shown.value - p.value) <= 1e-4 * Math.abs(p.value),
    `${what}: the cursor info bar shows ${JSON.stringify(text)} for the value ${p.value}`);
  assert.ok(p.x >= 0 && p.x < img.width && p.y >= 0 && p.y < img.height, `${what}: cursor (${p.x}, ${p.y}) inside the image`);
  for (const axis of ['x', 'y']) {
    const prof = p.profiles.find((q) => q.coordinate === axis);
    check(prof, `${what}: no "${axis}" profile in SPATIAL_PROFILE_DATA (coordinates: ${JSON.stringify(p.profiles.map((q) => q.coordinate))})`);
    if (!prof) continue;
    const n = axis === 'x' ? img.width : img.height;
    const mip = Math.max(prof.mip, 1);
    check(prof.start >= 0 && prof.end <= n && prof.end > prof.start,
      `${img.name}: "${axis}" profile in SPATIAL_PROFILE_DATA has start ${prof.start}, end ${prof.end} (mip ${prof.mip}, ` +
      `${prof.values.length} values) for an image ${n} pixels ${axis === 'x' ? 'wide' : 'high'}; ` +
      `carta_backend sends the range covered, end = ${n} for a full profile`);
    const end = prof.end > prof.start ? prof.end : n;
    check(prof.values.length === Math.ceil((end - prof.start) / mip),
      `${what}: "${axis}" profile has ${prof.values.length} values for start ${prof.start}, end ${prof.end}, mip ${prof.mip}`);
    if (mip === 1) {
      const v = prof.values[(axis === 'x' ? p.x : p.y) - prof.start];
      check(Object.is(v, p.value) || Math.abs(v - p.value) <= 1e-6 * Math.abs(p.value),
        `${what}: "${axis}" profile at the cursor (${p.x}, ${p.y}) is ${v}, the cursor value ${p.value}`);
    }
  }
  return { file: img.name, channel, x: p.x, y: p.y, value: p.value, screen, cursor: { x: c.x, y: c.y } };
}

/** The screen point of image pixel `pt`, from two hovers (screen point ↔ SET_CURSOR image point, a linear map). */
function screenOf(what, h1, h2, pt) {
  const sx = (h2.screen.x - h1.screen.x) / (h2.cursor.x - h1.cursor.x), sy = (h2.screen.y - h1.screen.y) / (h2.cursor.y - h1.cursor.y);
  assert.ok(sx > 0 && sy < 0 && Math.abs(sx / sy + 1) < 0.05, `${what}: the screen ↔ image map from two hovers is not ` +
    `x right / y up with square pixels (${sx}, ${sy}): ${JSON.stringify([h1, h2])}`);
  return { x: h1.screen.x + (pt.x - h1.cursor.x) * sx, y: h1.screen.y + (pt.y - h1.cursor.y) * sy };
}

/** Tiles in the right place, the right way up: the brightest pixel of the channel (from the file) is drawn bright. */
function assertBrightestPixelBright(s, what, png, h1, h2, peak) {
  const at = screenOf(what, h1, h2, peak);
  const around = colourStats(png, { x: at.x - 3, y: at.y - 3, width: 7, height: 7 });
  s.notes.push(`${what}: brightest pixel (${peak.x}, ${peak.y}) = ${peak.value} drawn at screen (${at.x.toFixed(0)}, ${at.y.toFixed(0)}) ` +
    `with luminance up to ${around.maxLum.toFixed(0)}`);
  s.check(around.maxLum >= 150, `${what}: the brightest pixel (${peak.x}, ${peak.y}) of the data is drawn dark ` +
    `(luminance ≤ ${around.maxLum.toFixed(0)} around screen (${at.x.toFixed(0)}, ${at.y.toFixed(0)})): tiles misplaced or flipped?`);
}

/**
 * Asks the samples themselves (astropy / h5py, in one python run): `values` = [{file, channel, x, y}] → pixel
 * values (NaN as NaN); `peaks` = [{file, channel}] → the brightest pixel {x, y, value} of that channel.
 */
function fromFiles({ values = [], peaks = [] }) {
  const code = `
import json, math, os, sys
import numpy as np
req = json.load(sys.stdin)
def plane(name, channel):
    f = os.path.join(${JSON.stringify(SAMPLES)}, name)
    if f.endswith(".hdf5"):
        import h5py
        with h5py.File(f, "r") as h:
            d = h["0/DATA"]
            return np.asarray(d[channel] if d.ndim == 3 else d[()])
    from astropy.io import fits
    d = fits.getdata(f)
    while d.ndim > 3:
        d = d[0]
    return np.asarray(d[channel] if d.ndim == 3 else d)
vals = []
for p in req["values"]:
    v = float(plane(p["file"], p["channel"])[p["y"], p["x"]])
    vals.append(None if math.isnan(v) else v)
peaks = []
for p in req["peaks"]:
    d = plane(p["file"], p["channel"])
    y, x = np.unravel_index(np.nanargmax(d), d.shape)
    peaks.append({"x": int(x), "y": int(y), "value": float(d[y, x])})
print(json.dumps({"values": vals, "peaks": peaks}))
`;
  const out = JSON.parse(execFileSync(PYTHON, ['-c', code], { input: JSON.stringify({ values, peaks }) }).toString());
  return { values: out.values.map((v) => v ?? NaN), peaks: out.peaks };
}

/** The cursor values the server sent against the files' own pixels. */
function assertPixelsMatchFiles(check, samples) {
  const { values } = fromFiles({ values: samples });
  samples.forEach((smp, i) => {
    const exp = values[i];
    const ok = Number.isNaN(exp) ? Number.isNaN(smp.value) : Math.abs(smp.value - exp) <= 1e-6 * Math.abs(exp) + 1e-12;
    check(ok, `cursor value of ${smp.file} channel ${smp.channel} pixel (${smp.x}, ${smp.y}): server ${smp.value}, file ${exp}`);
  });
}

/** Clicks the Animator tab (it shares a tab set with Image List in the default layout). */
async function showAnimator(s) {
  await s.page.locator('.flexlayout__tab_button').filter({ hasText: /^Animator$/, visible: true }).first().click({ timeout: UI_TIMEOUT });
  await s.page.getByTestId('animator-next-button').waitFor({ timeout: UI_TIMEOUT });
}

/** Waits for the frontend's SET_IMAGE_CHANNELS to `channel` after `mark`, then for that channel on screen. */
async function expectChannelChange(s, img, channel, mark, how) {
  const all = () => s.sent.filter((f) => f.seq > mark && f.type === EV.SET_IMAGE_CHANNELS).map(setImageChannels);
  await s.waitFor(() => all().some((sc) => sc.channel === channel),
    () => `SET_IMAGE_CHANNELS to channel ${channel} after ${how} (sent: ${JSON.stringify(all())})`);
  const last = all().at(-1);
  assert.deepEqual([last.fileId, last.channel, last.stokes], [img.fileId, channel, 0],
    `the last SET_IMAGE_CHANNELS after ${how}: file_id, channel, stokes (sent by the frontend)`);
  return (await waitForChannel(s, img, channel, mark)).hist;
}

/**
 * Conformance problems are collected (once each) by `s.check(ok, message)` and reported together at the end, so
 * one wrong field does not hide the rest; anything that keeps the images from showing fails at once.
 */
function collectProblems(s) {
  s.notes = [];
  s.problems = [];
  s.check = (ok, msg) => { if (!ok && !s.problems.includes(msg)) s.problems.push(msg); };
}
const assertNoProblems = (s) =>
  assert.deepEqual(s.problems, [], `cartaflow got ${s.problems.length} thing(s) wrong:\n${s.problems.join('\n')}`);

function reportConsole(t, s) {
  const odd = s.consoleLines.filter((l) => /^\[(error|warning)\]/.test(l) && !BENIGN_CONSOLE.test(l));
  if (odd.length) t.diagnostic(`browser console errors/warnings:\n${odd.map((l) => l.slice(0, 300)).join('\n')}`);
  const minor = s.received.filter((f) => f.type === EV.ERROR_DATA);
  if (minor.length) t.diagnostic(`ERROR_DATA below severity ERROR:\n${s.trace.filter((l) => l.includes('ERROR_DATA')).join('\n')}`);
}

// ---------------------------------------------------------------------------------------------------------
test('images render: FITS, HDF5 and a cube — tiles, colour scale, channels, cursor', { timeout: 120_000 }, async (t) => {
  await runE2E(t, {
    failureShot: 'failure-images.png',
    topFolder: path.dirname(SAMPLES),
    serverArgs: ['--starting-folder', SAMPLES],
  }, async (s) => {
    collectProblems(s);
    const pixels = [];
    const healthy = (where) => s.assertStillConnected(where, { minErrorSeverity: s.ERROR_SEVERITY });
    await s.connect();
    await s.initialFileBrowser('gaussian_sources.fits');

    // The brightest pixels, to find on screen.
    const [fitsPeak, ...cubePeaks] = await s.step('brightest pixels (python)', async () => fromFiles({
      peaks: [{ file: 'gaussian_sources.fits', channel: 0 }, ...Array.from({ length: 64 }, (_, channel) => ({ file: 'spectral_cube.fits', channel }))],
    }).peaks);

    // 1. A 2-D FITS image ----------------------------------------------------------------------------------
    const fits = await s.step('gaussian_sources.fits: load + tiles', async () => {
      const img = await loadThroughFileBrowser(s, 'gaussian_sources.fits');
      assert.deepEqual([img.width, img.height], [1200, 1000], 'gaussian_sources.fits size in OPEN_FILE_ACK');
      img.hist = (await waitForChannel(s, img, 0, img.mark)).hist;
      return img;
    });
    const { png: fitsPng } = await s.step('gaussian_sources.fits: on screen', async () => {
      const shown = await assertImageShown(s, 'gaussian_sources.fits', 'image-fits.png');
      await assertRenderConfig(s, 'gaussian_sources.fits', fits.hist, shown.png);
      return shown;
    });
    await s.step('gaussian_sources.fits: cursor', async () => {
      const h = [await hover(s, fits, 0, 0.5, 0.5), await hover(s, fits, 0, 0.3, 0.7), await hover(s, fits, 0, 0.62, 0.41)];
      pixels.push(...h);
      assertBrightestPixelBright(s, 'gaussian_sources.fits', fitsPng, h[1], h[2], fitsPeak);
    });
    await s.step('gaussian_sources.fits: zoom in', async () => {
      // Zooming in past 1:1 makes the frontend ask for full-resolution tiles (the highest layer).
      const view = await s.page.locator('.image-view-div').boundingBox();
      const mark = lastSeq(s);
      await s.page.mouse.move(view.x + view.width / 2, view.y + view.height / 2);
      for (let i = 0; i < 6; i++) await s.page.mouse.wheel(0, -200);
      await s.waitFor(() => tileRequests(s, fits.fileId, mark).length, 'tile requests after zooming in');
      const { streams } = await waitForChannel(s, fits, 0, mark, { histogram: false });
      const layers = [...new Set(streams.flatMap((st) => st.tiles.map((t) => t.layer)))].sort();
      s.notes.push(`gaussian_sources.fits zoomed in: tiles of layer(s) ${layers} (${streams.reduce((n, st) => n + st.tiles.length, 0)} tiles)`);
      await assertImageShown(s, 'gaussian_sources.fits zoomed in', 'image-fits-zoom.png');
      await healthy('after the FITS image');
    });

    // 2. IDIA HDF5 -------------------------------------------------------------------------------------------
    await s.step('idia_image.hdf5', async () => {
      const img = await loadThroughFileBrowser(s, 'idia_image.hdf5');
      assert.deepEqual([img.width, img.height, img.depth], [600, 500, 10], 'idia_image.hdf5 size in OPEN_FILE_ACK');
      await waitForChannel(s, img, 0, img.mark);
      const { png } = await assertImageShown(s, 'idia_image.hdf5', 'image-hdf5.png');
      const h = [await hover(s, img, 0, 0.45, 0.55), await hover(s, img, 0, 0.6, 0.35)];
      pixels.push(...h);
      // The sample has a blanked (NaN) patch, x 300..339, y 200..229: drawn in the NaN colour (blue by default),
      // and the cursor over it reads NaN.
      const patch = screenOf('idia_image.hdf5', h[0], h[1], { x: 319.5, y: 214.5 });
      const blue = colourStats(png, { x: patch.x - 8, y: patch.y - 8, width: 17, height: 17 }).count((r, g, b) => b > r + 60 && b > g + 20);
      s.notes.push(`idia_image.hdf5: NaN patch at screen (${patch.x.toFixed(0)}, ${patch.y.toFixed(0)}): ${blue}/289 pixels in the NaN colour`);
      s.check(blue >= 250, `idia_image.hdf5: the blanked patch (x 300..339, y 200..229) is not drawn in the NaN colour ` +
        `(${blue} of 289 pixels around its centre): NaN run lengths (nan_encodings) wrong or tiles misplaced?`);
      const nan = await hoverAt(s, img, 0, { x: Math.round(patch.x), y: Math.round(patch.y) });
      s.check(Number.isNaN(nan.value), `idia_image.hdf5: the cursor value in the blanked patch (${nan.x}, ${nan.y}) is ${nan.value}, not NaN`);
      pixels.push(nan);
      await healthy('after the HDF5 image');
    });

    // 3. A spectral cube and its channels ----------------------------------------------------------------------
    await s.step('spectral_cube.fits', async () => {
      const img = await loadThroughFileBrowser(s, 'spectral_cube.fits');
      assert.deepEqual([img.width, img.height, img.depth], [256, 256, 64], 'spectral_cube.fits size in OPEN_FILE_ACK');
      await waitForChannel(s, img, 0, img.mark);
      await assertImageShown(s, 'spectral_cube.fits channel 0', 'image-cube-channel0.png');

      const before = await hover(s, img, 0, 0.55, 0.45);
      pixels.push(before);

      await showAnimator(s);
      let mark = lastSeq(s);
      await s.page.getByTestId('animator-next-button').click();
      await expectChannelChange(s, img, 1, mark, 'the Animator\'s "Next"');
      // carta_backend also sends the cursor's SPATIAL_PROFILE_DATA for the new channel (the mouse has not moved
      // over the image since), so the cursor value and profiles follow the channel.
      const followed = s.received.find((f) => f.seq > mark && f.type === EV.SPATIAL_PROFILE_DATA &&
        spatialProfile(f).fileId === img.fileId && spatialProfile(f).channel === 1);
      s.check(followed, `spectral_cube.fits: no SPATIAL_PROFILE_DATA for channel 1 at the cursor (${before.x}, ${before.y}) ` +
        'after SET_IMAGE_CHANNELS (carta_backend sends one when the channel changes; the cursor value stays at channel 0)');
      if (followed) {
        const p = spatialProfile(followed);
        s.check(p.x === before.x && p.y === before.y, `spectral_cube.fits: SPATIAL_PROFILE_DATA after the channel change is for ` +
          `(${p.x}, ${p.y}), the cursor is at (${before.x}, ${before.y})`);
        pixels.push({ file: img.name, channel: 1, x: p.x, y: p.y, value: p.value });
      }

      // A click on the channel slider halfway along: the galaxy's systemic velocity.
      const slider = s.page.locator('.channel-slider');
      const box = await slider.locator('.bp6-slider-track').boundingBox();
      mark = lastSeq(s);
      await s.page.mouse.click(box.x + box.width * (32 / 63), box.y + box.height / 2);
      const channel = Number(await slider.locator('.bp6-slider-handle').getAttribute('aria-valuenow'));
      assert.ok(channel > 1 && channel < 63, `the channel slider moved to channel ${channel}`);
      const hist = await expectChannelChange(s, img, channel, mark, `a click on the channel slider (channel ${channel})`);
      const { png } = await assertImageShown(s, `spectral_cube.fits channel ${channel}`, 'image-cube.png');
      await assertRenderConfig(s, `spectral_cube.fits channel ${channel}`, hist, png);
      const h = [await hover(s, img, channel, 0.5, 0.5), await hover(s, img, channel, 0.42, 0.35)];
      pixels.push(...h);
      assertBrightestPixelBright(s, `spectral_cube.fits channel ${channel}`, png, h[0], h[1], cubePeaks[channel]);
    });

    await s.step('cursor values vs files', async () => assertPixelsMatchFiles(s.check, pixels));
    await healthy('at the end');
    t.diagnostic(s.notes.join('\n'));
    reportConsole(t, s);
    assertNoProblems(s);
  });
});

// ---------------------------------------------------------------------------------------------------------
test('top-level folder: "Load" opens an image listed at the top of the file browser (scripts/run.sh layout)', { timeout: 60_000 }, async (t) => {
  await runE2E(t, { failureShot: 'failure-top-folder.png' }, async (s) => {
    collectProblems(s);
    await s.connect();
    await s.initialFileBrowser('gaussian_sources.fits');
    await s.step('load from the top-level folder', async () => {
      const list = s.received.findLast((f) => f.type === EV.FILE_LIST_RESPONSE);
      const directory = protoString(protoFields(list.body), 3)[0] ?? '';
      try {
        const img = await loadThroughFileBrowser(s, 'gaussian_sources.fits');
        await waitForChannel(s, img, 0, img.mark);
      } catch (e) {
        if (!directory) {
          e.message += '\n(the FILE_LIST_RESPONSE for the top-level folder has an empty directory; carta-frontend 6.0.0 ' +
            'refuses to load from a file list without a directory: "No directory selected")';
        }
        throw e;
      }
    });
    await s.assertStillConnected('at the end', { minErrorSeverity: s.ERROR_SEVERITY });
    reportConsole(t, s);
    assertNoProblems(s);
  });
});
