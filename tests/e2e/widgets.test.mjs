// End-to-end test: the Statistics and Histogram widgets of the real CARTA frontend 6.0.0 against cartaflow.
//
// gaussian_sources.fits is opened through the file browser; then, from the Widgets menu:
//   1. Statistics: the frontend sends SET_STATS_REQUIREMENTS (region -1) and REGION_STATS_DATA for region -1,
//      channel 0 comes back. Its values are checked (1e-9 relative) against reference statistics computed here from
//      the FITS file itself (header parsed, BITPIX -32 big-endian floats after the 2880-byte padded header, NaN left
//      out, sample standard deviation with n - 1, flux density = sum / beam area in pixels), and the widget's table
//      (NumPixels, Sum, FluxDensity, Mean, StdDev, Min, Max, Extrema, RMS, SumSq, shown with toExponential(12))
//      shows those same numbers (1e-11 relative against the message, 1e-9 against the reference).
//   2. Histogram: the frontend sends SET_HISTOGRAM_REQUIREMENTS, a REGION_HISTOGRAM_DATA follows, and the widget's
//      plot has its (blue) histogram drawn.
//   3. A rectangle drawn on the image (toolbar rectangle button, drag): SET_REGION → successful SET_REGION_ACK with a
//      region id ≥ 1, then SET_STATS_REQUIREMENTS and REGION_STATS_DATA for that region; its values equal (1e-9
//      relative) the statistics, computed here, of the pixels whose centres lie inside the (unrotated) rectangle of
//      the last SET_REGION, and the Statistics widget (following the selected region) shows them (1e-11).
//   Screenshot: tests/e2e/artifacts/widgets.png (and widgets-region.png). Throughout: one WebSocket, no uncaught page
//   error, no frontend complaint, no ERROR in the server log, no ERROR_DATA of severity ≥ ERROR.
//
// Run:  cd tests/e2e && node --test widgets.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  runE2E, EV, EVENT_NAMES, ARTIFACTS, SAMPLES, UI_TIMEOUT, sleep, protoFields, protoString, protoInt, protoFloat, protoBool,
  protoMessage, openFile, openFileAck, decodePng, colourStats, lastSeq, readFits2d,
} from './harness.mjs';

const SET_STATS_REQUIREMENTS = 10, SET_REGION = 11, SET_REGION_ACK = 22, REGION_STATS_DATA = 27;
// StatsType (enums.proto) → the row name in the Statistics widget.
const STATS = { 0: 'NumPixels', 2: 'Sum', 3: 'FluxDensity', 4: 'Mean', 6: 'StdDev', 8: 'Min', 9: 'Max', 10: 'Extrema', 5: 'RMS', 7: 'SumSq' };

Object.assign(EVENT_NAMES, { [SET_STATS_REQUIREMENTS]: 'SET_STATS_REQUIREMENTS', [SET_REGION]: 'SET_REGION',
  [SET_REGION_ACK]: 'SET_REGION_ACK', [REGION_STATS_DATA]: 'REGION_STATS_DATA' }); // names in the trace


/** REGION_STATS_DATA {file_id 1, region_id 2, channel 3, stokes 4, statistics 5 [{stats_type 1, value 2 (double)}]}. */
function regionStats(frame) {
  const fl = protoFields(frame.body);
  const values = {};
  for (const f of fl.filter((x) => x.field === 5)) {
    const sf = protoFields(f.value);
    values[protoInt(sf, 1)] = protoFloat(sf, 2, 0); // proto3 leaves out 0.0
  }
  return { fileId: protoInt(fl, 1), regionId: protoInt(fl, 2), channel: protoInt(fl, 3), stokes: protoInt(fl, 4), values };
}
/** SET_STATS_REQUIREMENTS / SET_HISTOGRAM_REQUIREMENTS: {file_id 1, region_id 2, ...}. */
const requirement = (frame) => { const fl = protoFields(frame.body); return { fileId: protoInt(fl, 1), regionId: protoInt(fl, 2) }; };

/** Reference statistics of a 2-D BITPIX -32 FITS image, from the file itself. */
function fitsStats(file) {
  const { header, width: w, height: h, plane } = readFits2d(file);
  const vals = plane.filter((v) => !Number.isNaN(v));
  // Beam area in pixels: π·BMAJ·BMIN / (4 ln 2) / |CDELT1·CDELT2|.
  const beamPixels = Math.PI * Number(header.BMAJ) * Number(header.BMIN) / (4 * Math.LN2) /
    Math.abs(Number(header.CDELT1) * Number(header.CDELT2));
  return { width: w, height: h, unit: header.BUNIT, plane, beamPixels, values: statsOf(vals, beamPixels) };
}
/** NumPixels, Sum, FluxDensity, Mean, StdDev (n - 1), Min, Max, Extrema, RMS, SumSq of finite values, by StatsType. */
function statsOf(vals, beamPixels) {
  let n = 0, sum = 0, sumSq = 0, min = Infinity, max = -Infinity;
  for (const v of vals) {
    if (Number.isNaN(v)) continue;
    n++; sum += v; sumSq += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / n;
  let dev = 0;
  for (const v of vals) if (!Number.isNaN(v)) dev += (v - mean) ** 2;
  return { 0: n, 2: sum, 3: sum / beamPixels, 4: mean, 6: Math.sqrt(dev / (n - 1)), 8: min, 9: max,
    10: Math.abs(min) > Math.abs(max) ? min : max, 5: Math.sqrt(sumSq / n), 7: sumSq };
}
/** Reference statistics of an unrotated rectangle {center, size} (image pixels): pixels whose centre is inside. */
function rectStats(ref, center, size) {
  const vals = [];
  const x0 = Math.max(0, Math.ceil(center.x - size.x / 2)), x1 = Math.min(ref.width - 1, Math.floor(center.x + size.x / 2));
  const y0 = Math.max(0, Math.ceil(center.y - size.y / 2)), y1 = Math.min(ref.height - 1, Math.floor(center.y + size.y / 2));
  for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) vals.push(ref.plane[y * ref.width + x]);
  return { box: [x0, y0, x1, y1], values: statsOf(vals, ref.beamPixels) };
}
const relClose = (a, b, tol) => a === b || Math.abs(a - b) <= tol * Math.max(Math.abs(a), Math.abs(b));

/** Opens the named widget from the Widgets menu. */
async function openWidget(s, name) {
  await s.page.locator('.root-menu-entry').getByText('Widgets', { exact: true }).click();
  await s.page.locator('.widgets-menu').getByRole('menuitem', { name: `${name} Widget`, exact: true }).click({ timeout: UI_TIMEOUT });
}

/** The rows of the Statistics widget's table as {name: text}. */
async function statsTable(page) {
  return page.getByTestId('statistics-table').locator('tbody tr').evaluateAll((rows) =>
    Object.fromEntries(rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.innerText.replace(/\u00a0/g, ' ').trim()))));
}

test('widgets: Statistics and Histogram of gaussian_sources.fits, and a rectangle region', { timeout: 60_000 }, async (t) => {
  await runE2E(t, { failureShot: 'failure-widgets.png' }, async (s) => {
    const { page, step } = s;
    const notes = [];
    const ref = await step('reference statistics (node)', async () => fitsStats(path.join(SAMPLES, 'gaussian_sources.fits')));
    await s.connect();
    await s.initialFileBrowser('gaussian_sources.fits');

    const img = await step('load gaussian_sources.fits', async () => {
      await s.fileList.getByText('gaussian_sources.fits', { exact: true }).click({ timeout: UI_TIMEOUT });
      await s.waitFor(() => s.received.some((f) => f.type === EV.FILE_INFO_RESPONSE), 'FILE_INFO_RESPONSE');
      await s.fileBrowser.getByRole('button', { name: 'Load', exact: true }).click({ timeout: UI_TIMEOUT });
      const open = await s.waitFor(() => s.sent.find((f) => f.type === EV.OPEN_FILE), 'OPEN_FILE after "Load"');
      assert.equal(openFile(open).file, 'gaussian_sources.fits', 'OPEN_FILE file');
      const ack = openFileAck(await s.waitFor(() => s.responseTo(EV.OPEN_FILE_ACK, open.requestId), 'OPEN_FILE_ACK'));
      assert.ok(ack.success, `OPEN_FILE_ACK: ${ack.message}`);
      assert.deepEqual([ack.width, ack.height], [ref.width, ref.height], 'image size in OPEN_FILE_ACK vs the FITS header');
      await s.fileBrowser.waitFor({ state: 'hidden', timeout: UI_TIMEOUT });
      await s.waitFor(() => s.received.some((f) => f.type === EV.RASTER_TILE_SYNC && protoBool(protoFields(f.body), 7)),
        'a complete tile stream');
      return ack;
    });

    // 1. Statistics ------------------------------------------------------------------------------------------
    await step('Statistics widget', async () => {
      const mark = lastSeq(s);
      await openWidget(s, 'Statistics');
      const req = await s.waitFor(() => s.sent.find((f) => f.seq > mark && f.type === SET_STATS_REQUIREMENTS &&
        requirement(f).regionId === -1), 'SET_STATS_REQUIREMENTS for region -1 after opening the Statistics widget');
      assert.equal(requirement(req).fileId, img.fileId, 'SET_STATS_REQUIREMENTS file id');
      const frame = await s.waitFor(() => s.received.find((f) => f.seq > req.seq && f.type === REGION_STATS_DATA &&
        regionStats(f).regionId === -1), 'REGION_STATS_DATA for region -1');
      const st = regionStats(frame);
      assert.deepEqual([st.fileId, st.channel, st.stokes], [img.fileId, 0, 0], 'REGION_STATS_DATA file_id, channel, stokes');
      const problems = [];
      for (const [type, name] of Object.entries(STATS)) {
        if (!(type in st.values)) { problems.push(`REGION_STATS_DATA has no ${name} (stats_type ${type})`); continue; }
        if (!relClose(st.values[type], ref.values[type], 1e-9)) {
          problems.push(`REGION_STATS_DATA ${name} = ${st.values[type]}, from the file ${ref.values[type]}`);
        }
      }
      // The table: "<value.toExponential(12)> <unit>" per row.
      let rows = {};
      for (const end = Date.now() + UI_TIMEOUT; Date.now() < end; await sleep(100)) {
        rows = await statsTable(page);
        if (Object.values(STATS).every((n) => n in rows)) break;
      }
      for (const [type, name] of Object.entries(STATS)) {
        const text = rows[name];
        if (text === undefined) { problems.push(`the Statistics table has no ${name} row (rows: ${JSON.stringify(rows)})`); continue; }
        const shown = parseFloat(text);
        if (!relClose(shown, st.values[type] ?? 0, 1e-11)) problems.push(`the Statistics table shows ${name} "${text}", REGION_STATS_DATA has ${st.values[type]}`);
        if (!relClose(shown, ref.values[type], 1e-9)) problems.push(`the Statistics table shows ${name} "${text}", from the file ${ref.values[type]}`);
      }
      const unitOf = (name) => rows[name]?.split(' ').slice(1).join(' ');
      if (unitOf('Mean') !== ref.unit) problems.push(`the Statistics table shows the Mean in "${unitOf('Mean')}", BUNIT is "${ref.unit}"`);
      notes.push(`Statistics table: ${JSON.stringify(rows)}`);
      assert.deepEqual(problems, [], `Statistics of the whole image:\n${problems.join('\n')}`);
    });

    // 2. Histogram -------------------------------------------------------------------------------------------
    await step('Histogram widget', async () => {
      const mark = lastSeq(s);
      await openWidget(s, 'Histogram');
      const req = await s.waitFor(() => s.sent.find((f) => f.seq > mark && f.type === EV.SET_HISTOGRAM_REQUIREMENTS),
        'SET_HISTOGRAM_REQUIREMENTS after opening the Histogram widget');
      const r = requirement(req);
      assert.equal(r.fileId, img.fileId, 'SET_HISTOGRAM_REQUIREMENTS file id');
      await s.waitFor(() => s.received.find((f) => f.seq > req.seq && f.type === EV.REGION_HISTOGRAM_DATA &&
        protoInt(protoFields(f.body), 2) === r.regionId), `REGION_HISTOGRAM_DATA for region ${r.regionId}`);
      const canvas = page.locator('.histogram-widget .histogram-plot canvas').first();
      await canvas.waitFor({ timeout: UI_TIMEOUT });
      // Move it off the Statistics widget (over the profiles on the right), so the screenshot shows both.
      const title = await page.getByText(/^Histogram: /).first().boundingBox();
      await page.mouse.move(title.x + 20, title.y + title.height / 2);
      await page.mouse.down();
      await page.mouse.move(title.x + 420, title.y + 120, { steps: 5 });
      await page.mouse.move(title.x + 820, title.y + 240, { steps: 5 });
      await page.mouse.up();
      let blue = 0;
      for (const end = Date.now() + UI_TIMEOUT; Date.now() < end && blue < 200; await sleep(200)) {
        await page.mouse.move(1595, 5);
        const png = decodePng(await page.screenshot({ path: path.join(ARTIFACTS, 'widgets.png') }));
        blue = colourStats(png, await canvas.boundingBox()).count((r, g, b) => b > 120 && b > r + 60 && b > g + 20);
      }
      notes.push(`Histogram widget (region ${r.regionId}): ${blue} blue pixels in its plot`);
      assert.ok(blue >= 200, `the Histogram widget's plot is not drawn (${blue} blue pixels; artifacts/widgets.png)`);
      await s.assertStillConnected('after the widgets', { minErrorSeverity: s.ERROR_SEVERITY });
    });

    // 3. A rectangle region ----------------------------------------------------------------------------------
    await step('rectangle region', async () => {
      const mark = lastSeq(s);
      await page.locator('.bp6-icon-square').first().click({ timeout: UI_TIMEOUT }); // the toolbar's rectangle button
      const view = await page.locator('.image-view-div').boundingBox();
      const at = (fx, fy) => [Math.round(view.x + view.width * fx), Math.round(view.y + view.height * fy)];
      // Lower left of the image view: clear of the floating Statistics widget.
      await page.mouse.move(...at(0.3, 0.75));
      await page.mouse.down();
      for (const f of [0.03, 0.06, 0.1]) await page.mouse.move(...at(0.3 + f, 0.75 + f), { steps: 3 });
      await page.mouse.up();
      const set = await s.waitFor(() => s.sent.find((f) => f.seq > mark && f.type === SET_REGION), 'SET_REGION after drawing a rectangle');
      const ack = await s.waitFor(() => s.responseTo(SET_REGION_ACK, set.requestId), 'SET_REGION_ACK');
      const af = protoFields(ack.body);
      assert.ok(protoBool(af, 1), `SET_REGION_ACK success=false: ${protoString(af, 2)[0] ?? ''}`);
      const regionId = protoInt(af, 3);
      assert.ok(regionId >= 1, `SET_REGION_ACK region_id ${regionId}`);
      const req = await s.waitFor(() => s.sent.find((f) => f.seq > mark && f.type === SET_STATS_REQUIREMENTS &&
        requirement(f).regionId === regionId), `SET_STATS_REQUIREMENTS for region ${regionId}`);
      const frame = await s.waitFor(() => s.received.find((f) => f.seq > req.seq && f.type === REGION_STATS_DATA &&
        regionStats(f).regionId === regionId), `REGION_STATS_DATA for region ${regionId}`);
      const st = regionStats(frame);
      // The region as last set before those statistics.
      const lastSet = s.sent.findLast((f) => f.seq < frame.seq && f.type === SET_REGION);
      const info = protoMessage(protoFields(lastSet.body), 3) ?? [];
      const pts = info.filter((f) => f.field === 2).map((f) => protoFields(f.value)).map((p) => ({ x: protoFloat(p, 1), y: protoFloat(p, 2) }));
      const [center, size] = pts;
      const rotation = protoFloat(info, 3);
      assert.ok(protoInt(info, 1) === 3 && pts.length === 2 && rotation === 0,
        `SET_REGION region_info: type ${protoInt(info, 1)} (RECTANGLE is 3), control points ${JSON.stringify(pts)}, rotation ${rotation}`);
      const exp = rectStats(ref, center, size);
      notes.push(`rectangle region ${regionId}: centre (${center.x}, ${center.y}), size ${size.x} x ${size.y} → pixels ` +
        `${JSON.stringify(exp.box)}; REGION_STATS_DATA ${JSON.stringify(st.values)}`);
      assert.deepEqual([st.fileId, st.channel, st.stokes], [img.fileId, 0, 0], 'REGION_STATS_DATA file_id, channel, stokes (region)');
      const problems = [];
      for (const [type, name] of Object.entries(STATS)) {
        if (!relClose(st.values[type] ?? 0, exp.values[type], 1e-9)) {
          problems.push(`REGION_STATS_DATA ${name} = ${st.values[type]}, from the file ${exp.values[type]} (pixels with centres ` +
            `inside the rectangle: x ${exp.box[0]}..${exp.box[2]}, y ${exp.box[1]}..${exp.box[3]})`);
        }
      }
      assert.deepEqual(problems, [], `Statistics of rectangle region ${regionId}:\n${problems.join('\n')}`);
      // The widget follows the selected region: its table shows the region's statistics.
      let rows = {};
      for (const end = Date.now() + UI_TIMEOUT; Date.now() < end; await sleep(100)) {
        rows = await statsTable(page);
        if (parseFloat(rows.NumPixels) === st.values[0]) break;
      }
      for (const [type, name] of Object.entries(STATS)) {
        if (!relClose(parseFloat(rows[name]), st.values[type] ?? 0, 1e-11)) {
          problems.push(`the Statistics table shows ${name} "${rows[name]}" for region ${regionId}, REGION_STATS_DATA has ${st.values[type]}`);
        }
      }
      assert.deepEqual(problems, [], `the Statistics table for rectangle region ${regionId}:\n${problems.join('\n')}`);
      await page.mouse.move(1595, 5);
      await page.screenshot({ path: path.join(ARTIFACTS, 'widgets-region.png') });
      await s.assertStillConnected('after the region', { minErrorSeverity: s.ERROR_SEVERITY });
    });

    const reqs = s.sent.filter((f) => f.type === SET_STATS_REQUIREMENTS || f.type === EV.SET_HISTOGRAM_REQUIREMENTS).map((f) =>
      `${EVENT_NAMES[f.type]} #${f.requestId} region ${requirement(f).regionId}, ${protoFields(f.body).filter((x) => x.field === 3).length} config(s)`);
    notes.push(`requirements sent:\n${reqs.join('\n')}`);
    const warnings = s.trace.filter((l) => l.includes('ERROR_DATA'));
    if (warnings.length) notes.push(`ERROR_DATA below severity ERROR:\n${warnings.join('\n')}`);
    t.diagnostic(notes.join('\n'));
  });
});
