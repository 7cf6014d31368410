// End-to-end tests: cuts through images and polarisation vectors in the real CARTA frontend 6.0.0 against cartaflow.
//
// Test "line profile": spectral_cube.fits (256x256x64) opened through the file browser; the toolbar's line-region
//   button and a drag on the image view draw a LINE (the frontend's default "centre" creation mode: the press is
//   the line's centre, the release one end). SET_REGION → successful SET_REGION_ACK with a region id; the open
//   spatial profilers follow the new region: SET_SPATIAL_REQUIREMENTS for that region with one config of coordinate
//   "" (or a Stokes name) and width 3, answered by SPATIAL_PROFILE_DATA for the region with one profile: a
//   line_axis (offset axis: a unit, the file's pixel size as increment, reference pixel at the line's centre),
//   non-empty raw_values_fp32 whose count is the line's length in pixels (±2, from the control points of the last
//   SET_REGION), finite and not constant inside the image. The profiler's title names the region and its plot is
//   drawn (blue pixels).
//   Screenshot: artifacts/line-profile.png.
// Test "PV image": the same line on spectral_cube.fits; the toolbar's "PV Generator" widget, the line chosen as the
//   PV cut, "Generate": PV_REQUEST for the region (width 3, the whole spectral range), PV_PROGRESS (non-decreasing,
//   up to 1), PV_RESPONSE success with a successful open_file_ack: a new file id, spectral_cube_pv.fits, as wide as
//   the line is long (±2) and as high as the cube is deep. The frontend shows the new frame: ADD_REQUIRED_TILES
//   for the new file id, RASTER_TILE_DATA with non-empty tiles for it, a complete tile stream, and a second image
//   panel that is not blank.
//   Screenshot: artifacts/pv.png.
// Test "vector overlay": stokes_cube.fits (128x128x16x4, I Q U V); the toolbar's vector overlay button opens its
//   dialog, "Apply" (the defaults: computed PI and PA, averaging width 4) sends SET_VECTOR_OVERLAY_PARAMETERS;
//   VECTOR_OVERLAY_TILE_DATA comes back with progress reaching 1, non-empty intensity and angle tiles covering the
//   image, and (uncompressed tiles) values equal to √(Q̄²+Ū²) and ½·atan2(Ū, Q̄) in degrees of the block means of
//   Q and U of channel 0, computed here from the FITS file itself (1e-4 relative). The image view gains pixels of
//   the vector colour (Blueprint GREEN3; none before), densest around the most polarised block.
//   Screenshots: artifacts/vectors-before.png, vectors.png.
// Throughout: one WebSocket, no uncaught page error, no frontend complaint, no ERROR in the server log, no
// ERROR_DATA of severity ≥ ERROR.
//
// Run:  cd tests/e2e && node --test cuts.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  runE2E, EV, EVENT_NAMES, ARTIFACTS, SAMPLES, UI_TIMEOUT, sleep, protoFields, protoInt, protoFloat, protoBool, protoString,
  protoMessage, spatialProfile, openFileAck, tileData, syncEnds, decodePng, colourStats, lastSeq, load,
} from './harness.mjs';

const SET_REGION = 11, SET_REGION_ACK = 22, PV_REQUEST = 75, PV_RESPONSE = 76, PV_PROGRESS = 77;
const SET_VECTOR_OVERLAY_PARAMETERS = 81, VECTOR_OVERLAY_TILE_DATA = 82;
Object.assign(EVENT_NAMES, { [SET_REGION]: 'SET_REGION', [SET_REGION_ACK]: 'SET_REGION_ACK', [PV_REQUEST]: 'PV_REQUEST',
  [PV_RESPONSE]: 'PV_RESPONSE', [PV_PROGRESS]: 'PV_PROGRESS', [SET_VECTOR_OVERLAY_PARAMETERS]: 'SET_VECTOR_OVERLAY_PARAMETERS',
  [VECTOR_OVERLAY_TILE_DATA]: 'VECTOR_OVERLAY_TILE_DATA' }); // names in the trace
const REGION_LINE = 1; // RegionType.LINE

// ---------------------------------------------------------------------------------------------------------
// Decoders (field numbers from the ICD protos).

/** SET_SPATIAL_REQUIREMENTS {file_id 1, region_id 2, spatial_profiles 3 [{coordinate 1, start 2, end 3, mip 4, width 5}]}. */
function spatialRequirements(frame) {
  const fl = protoFields(frame.body);
  const configs = fl.filter((f) => f.field === 3).map((f) => {
    const c = protoFields(f.value);
    return { coordinate: protoString(c, 1)[0] ?? '', mip: protoInt(c, 4), width: protoInt(c, 5) };
  });
  return { fileId: protoInt(fl, 1), regionId: protoInt(fl, 2), configs };
}
/** The line_axis {axis_type 1, crpix 2, crval 3, cdelt 4 (floats), unit 5} of each profile of a SPATIAL_PROFILE_DATA. */
function lineAxes(frame) {
  return protoFields(frame.body).filter((f) => f.field === 8).map((f) => {
    const ax = protoMessage(protoFields(f.value), 6);
    return ax && { axisType: protoInt(ax, 1), crpix: protoFloat(ax, 2), crval: protoFloat(ax, 3), cdelt: protoFloat(ax, 4),
      unit: protoString(ax, 5)[0] ?? '' };
  });
}
/** SET_REGION {file_id 1, region_id 2, region_info 3 {region_type 1, control_points 2 [{x 1, y 2}], rotation 3}}. */
function setRegion(frame) {
  const fl = protoFields(frame.body);
  const info = protoMessage(fl, 3) ?? [];
  const points = info.filter((f) => f.field === 2).map((f) => protoFields(f.value)).map((p) => ({ x: protoFloat(p, 1), y: protoFloat(p, 2) }));
  return { fileId: protoInt(fl, 1), regionId: protoInt(fl, 2), type: protoInt(info, 1), points };
}
/** PV_REQUEST {file_id 1, region_id 2, width 3, spectral_range 4 {min 1, max 2}, reverse 5, keep 6}. */
function pvRequest(frame) {
  const fl = protoFields(frame.body);
  const range = protoMessage(fl, 4);
  return { fileId: protoInt(fl, 1), regionId: protoInt(fl, 2), width: protoInt(fl, 3),
    range: range && [protoInt(range, 1), protoInt(range, 2)], reverse: protoBool(fl, 5) };
}
/** PV_RESPONSE {success 1, message 2, open_file_ack 3, cancel 5}; the ack with its file_info {name 1}. */
function pvResponse(frame) {
  const fl = protoFields(frame.body);
  const ackField = fl.findLast((f) => f.field === 3);
  const ack = ackField ? openFileAck({ body: ackField.value }) : null;
  const info = ackField ? protoMessage(protoFields(ackField.value), 4) : null;
  return { success: protoBool(fl, 1), message: protoString(fl, 2)[0] ?? '', cancel: protoBool(fl, 5), ack,
    name: info ? protoString(info, 1)[0] ?? '' : '' };
}
/** SET_VECTOR_OVERLAY_PARAMETERS {file_id 1 (fixed32), smoothing_factor 4, fractional 5, threshold 6, debiasing 7,
 *  stokes_intensity 10, stokes_angle 11, compression_type 12, compression_quality 13}. */
function vectorParameters(frame) {
  const fl = protoFields(frame.body);
  return { fileId: protoInt(fl, 1), smoothing: protoInt(fl, 4), fractional: protoBool(fl, 5), threshold: protoFloat(fl, 6),
    debiasing: protoBool(fl, 7), stokesIntensity: protoInt(fl, 10), stokesAngle: protoInt(fl, 11),
    compression: protoInt(fl, 12), quality: protoFloat(fl, 13) };
}
/** VECTOR_OVERLAY_TILE_DATA {file_id 1, channel 2, stokes_intensity 3, stokes_angle 4, compression_type 5,
 *  compression_quality 6, intensity_tiles 7, angle_tiles 8 [TileData {layer 1, x 2, y 3, width 4, height 5,
 *  image_data 6, nan_encodings 7, mip 8}], progress 9 (double)}. */
function vectorTiles(frame) {
  const fl = protoFields(frame.body);
  const tiles = (n) => fl.filter((f) => f.field === n).map((f) => {
    const tf = protoFields(f.value);
    const data = Buffer.from(tf.find((x) => x.field === 6)?.value ?? []);
    return { layer: protoInt(tf, 1), x: protoInt(tf, 2), y: protoInt(tf, 3), width: protoInt(tf, 4), height: protoInt(tf, 5),
      mip: protoInt(tf, 8), data };
  });
  return { fileId: protoInt(fl, 1), channel: protoInt(fl, 2), compression: protoInt(fl, 5), progress: protoFloat(fl, 9),
    intensity: tiles(7), angle: tiles(8) };
}

// ---------------------------------------------------------------------------------------------------------
// Helpers.

/** A plane (BITPIX -32) of an N-D FITS image, from the file itself: {header, width, height, plane(index)}. */
function fitsCube(file) {
  const buf = fs.readFileSync(file);
  const header = {};
  let off = 0;
  for (let done = false; !done; off += 2880) {
    for (let c = off; c < off + 2880; c += 80) {
      const card = buf.toString('latin1', c, c + 80);
      const key = card.slice(0, 8).trim();
      if (key === 'END') { done = true; break; }
      if (card[8] === '=') header[key] = card.slice(10).split('/')[0].trim().replace(/^'(.*)'$/, '$1').trim();
    }
  }
  assert.equal(Number(header.BITPIX), -32, `${file}: BITPIX`);
  const width = Number(header.NAXIS1), height = Number(header.NAXIS2);
  const plane = (index) => {
    const p = new Float32Array(width * height), base = off + 4 * index * width * height;
    for (let i = 0; i < width * height; i++) p[i] = buf.readFloatBE(base + 4 * i);
    return p;
  };
  return { header, width, height, plane };
}

/** Image pixel → page position, for an image shown fitted in the view (zoom min(w/W, h/H), centred). */
async function imageToScreen(page, W, H) {
  const box = await page.locator('canvas.contour-canvas').first().boundingBox();
  assert.ok(box && box.width > 50 && box.height > 50, `render canvas: ${JSON.stringify(box)}`);
  const zoom = Math.min(box.width / W, box.height / H);
  const at = (ix, iy) => [box.x + box.width / 2 + (ix - (W - 1) / 2) * zoom, box.y + box.height / 2 - (iy - (H - 1) / 2) * zoom];
  return { box, zoom, at };
}

/**
 * Draws a LINE with the toolbar's line-region button: press at image pixel `centre`, drag to `end`. Returns the
 * region id of its SET_REGION_ACK, the SET_REGION and the mark before it.
 */
async function drawLine(s, img, centre, end) {
  const { page } = s;
  await page.getByTestId('line-region-shortcut-button').click({ timeout: UI_TIMEOUT });
  const { at } = await imageToScreen(page, img.width, img.height);
  const mark = lastSeq(s);
  await page.mouse.move(...at(centre.x, centre.y));
  await page.mouse.down();
  for (const f of [0.33, 0.66, 1]) {
    await page.mouse.move(...at(centre.x + (end.x - centre.x) * f, centre.y + (end.y - centre.y) * f), { steps: 3 });
  }
  await page.mouse.up();
  const set = await s.waitFor(() => s.sent.find((f) => f.seq > mark && f.type === SET_REGION), 'SET_REGION after drawing a line');
  const ack = await s.waitFor(() => s.responseTo(SET_REGION_ACK, set.requestId), 'SET_REGION_ACK of the line');
  const af = protoFields(ack.body);
  assert.ok(protoBool(af, 1), `SET_REGION_ACK success=false: ${protoString(af, 2)[0] ?? ''}`);
  const regionId = protoInt(af, 3);
  assert.ok(regionId >= 1, `SET_REGION_ACK region_id ${regionId}`);
  const r = setRegion(set);
  assert.ok(r.type === REGION_LINE && r.points.length === 2 && r.fileId === img.fileId,
    `SET_REGION: file ${r.fileId}, type ${r.type} (LINE is ${REGION_LINE}), control points ${JSON.stringify(r.points)}`);
  return { regionId, set, mark };
}

/** The line as last sent (SET_REGION for the region, or its creation) before `seq`: its end points and length. */
function lineBefore(s, regionId, createSeq, seq) {
  const f = s.sent.findLast((x) => x.seq < seq && x.seq >= createSeq && x.type === SET_REGION &&
    [regionId, -1].includes(setRegion(x).regionId));
  const { points: [a, b] } = setRegion(f);
  return { a, b, length: Math.hypot(b.x - a.x, b.y - a.y) };
}
const inside = (p, W, H) => p.x >= 0 && p.y >= 0 && p.x <= W - 1 && p.y <= H - 1;
const fmt = (p) => `(${p.x.toFixed(1)}, ${p.y.toFixed(1)})`;
const isBlue = (r, g, b) => b > 120 && b > r + 60 && b > g + 20;
const isVectorGreen = (r, g, b) => g > r + 50 && g > b + 25 && g > 90; // Blueprint GREEN3, the default vector colour

/** Loads spectral_cube.fits and draws a line well inside it, from (78, 98) to (178, 158) through its centre. */
async function cubeWithLine(s) {
  await s.connect();
  await s.initialFileBrowser('spectral_cube.fits');
  const img = await s.step('load spectral_cube.fits', () => load(s, 'spectral_cube.fits'));
  assert.deepEqual([img.width, img.height, img.depth], [256, 256, 64], 'spectral_cube.fits shape');
  const line = await s.step('draw a line', () => drawLine(s, img, { x: 128, y: 128 }, { x: 178, y: 158 }));
  return { img, line };
}

// ---------------------------------------------------------------------------------------------------------

test('line profile: a line region drawn on the image gets its spatial profile in the Spatial Profiler', { timeout: 60_000 }, async (t) => {
  await runE2E(t, { failureShot: 'failure-line-profile.png' }, async (s) => {
    const { page, step } = s;
    const notes = [];
    const { img, line } = await cubeWithLine(s);
    const { regionId } = line;

    await step('SET_SPATIAL_REQUIREMENTS → SPATIAL_PROFILE_DATA for the line', async () => {
      const req = await s.waitFor(() => s.sent.find((f) => f.seq > line.mark && f.type === EV.SET_SPATIAL_REQUIREMENTS &&
        spatialRequirements(f).regionId === regionId && spatialRequirements(f).configs.length > 0),
      `SET_SPATIAL_REQUIREMENTS for region ${regionId} (the spatial profilers follow the new region)`);
      const r = spatialRequirements(req);
      notes.push(`SET_SPATIAL_REQUIREMENTS #${req.requestId}: ${JSON.stringify(r)}`);
      assert.equal(r.fileId, img.fileId, 'SET_SPATIAL_REQUIREMENTS file id');
      assert.equal(r.configs.length, 1, `one spatial config for a line: ${JSON.stringify(r.configs)}`);
      assert.match(r.configs[0].coordinate, /^(|I|Q|U|V)$/, 'line config coordinate: "" (the current Stokes) or a Stokes name');
      assert.equal(r.configs[0].width, 3, 'line config width (the profiler\'s default averaging width)');

      const frame = await s.waitFor(() => s.received.find((f) => f.seq > req.seq && f.type === EV.SPATIAL_PROFILE_DATA &&
        spatialProfile(f).regionId === regionId), `SPATIAL_PROFILE_DATA for region ${regionId}`);
      const p = spatialProfile(frame);
      const axes = lineAxes(frame);
      const ln = lineBefore(s, regionId, line.set.seq, frame.seq);
      notes.push(`line ${fmt(ln.a)} → ${fmt(ln.b)}, length ${ln.length.toFixed(2)} px; SPATIAL_PROFILE_DATA: file ${p.fileId}, ` +
        `channel ${p.channel}, stokes ${p.stokes}, profiles ${JSON.stringify(p.profiles.map((x) => ({ ...x, values: x.values.length })))}, ` +
        `line_axis ${JSON.stringify(axes)}`);
      assert.ok(inside(ln.a, img.width, img.height) && inside(ln.b, img.width, img.height),
        `the line lies inside the image: ${fmt(ln.a)} → ${fmt(ln.b)}`);
      assert.deepEqual([p.fileId, p.channel, p.stokes], [img.fileId, 0, 0], 'SPATIAL_PROFILE_DATA file_id, channel, stokes');
      assert.equal(p.profiles.length, 1, 'one profile for a line');
      const [prof] = p.profiles;
      const [axis] = axes;
      assert.ok(axis, 'the line profile has a line_axis');
      assert.ok(prof.rawBytes > 0 && prof.rawBytes % 4 === 0, `raw_values_fp32 of ${prof.rawBytes} bytes`);
      const n = prof.values.length;
      assert.ok(Math.abs(n - ln.length) <= 2, `${n} profile values for a line ${ln.length.toFixed(2)} pixels long`);
      assert.ok(axis.unit.length > 0 && axis.cdelt > 0, `line_axis unit "${axis.unit}", cdelt ${axis.cdelt}`);
      // One value per pixel step: the increment is the pixel size (|CDELT2| of the file, square pixels).
      const perUnit = { arcsec: 3600, arcmin: 60, deg: 1 }[axis.unit];
      const pixel = Math.abs(Number(fitsCube(path.join(SAMPLES, 'spectral_cube.fits')).header.CDELT2));
      assert.ok(perUnit && Math.abs(axis.cdelt / perUnit - pixel) <= 1e-3 * pixel,
        `line_axis cdelt ${axis.cdelt} ${axis.unit}: the pixel size is ${pixel} deg`);
      assert.ok(Math.abs(axis.crpix - (n - 1) / 2) <= 1, `line_axis crpix ${axis.crpix}: the offset axis is 0 at the line's centre (value ${(n - 1) / 2})`);
      const finite = prof.values.filter(Number.isFinite);
      assert.ok(finite.length >= 0.95 * n, `${n - finite.length} of ${n} profile values are not finite, on a line inside the image`);
      assert.ok(Math.max(...finite) > Math.min(...finite), 'the profile values are not all the same');
    });

    await step('the Spatial Profiler shows the line profile', async () => {
      const title = page.locator('.flexlayout__tab_button_content').filter({ hasText: new RegExp(`Profile:\\s*Region #${regionId}\\b`) }).first();
      await title.waitFor({ timeout: UI_TIMEOUT });
      const widget = page.locator('.spatial-profiler-widget').first();
      let blue = 0;
      for (const end = Date.now() + UI_TIMEOUT; Date.now() < end && blue < 100; await sleep(200)) {
        await page.mouse.move(1595, 5); // off the image: no cursor profile
        const png = decodePng(await page.screenshot({ path: path.join(ARTIFACTS, 'line-profile.png') }));
        blue = colourStats(png, await widget.boundingBox()).count(isBlue);
      }
      notes.push(`Spatial Profiler "${await title.innerText()}": ${blue} blue pixels`);
      assert.ok(blue >= 100, `the Spatial Profiler's plot is not drawn (${blue} blue pixels; artifacts/line-profile.png)`);
      await s.assertStillConnected('after the line profile', { minErrorSeverity: s.ERROR_SEVERITY });
    });
    t.diagnostic(notes.join('\n'));
  });
});

test('PV image: the PV Generator makes a position-velocity image of a line and the frontend shows it', { timeout: 60_000 }, async (t) => {
  await runE2E(t, { failureShot: 'failure-pv.png' }, async (s) => {
    const { page, step } = s;
    const notes = [];
    const { img, line } = await cubeWithLine(s);
    const { regionId } = line;

    const pv = await step('PV Generator: the line, Generate', async () => {
      await page.locator('#PVGeneratorButton').click({ timeout: UI_TIMEOUT });
      const cut = page.getByTestId('pv-generator-pv-cut-region-dropdown');
      await cut.selectOption(String(regionId), { timeout: UI_TIMEOUT });
      const mark = lastSeq(s);
      await page.getByTestId('pv-generator-generate-button').click({ timeout: UI_TIMEOUT });
      const reqFrame = await s.waitFor(() => s.sent.find((f) => f.seq > mark && f.type === PV_REQUEST), 'PV_REQUEST after "Generate"');
      const req = pvRequest(reqFrame);
      notes.push(`PV_REQUEST #${reqFrame.requestId}: ${JSON.stringify(req)}`);
      assert.deepEqual([req.fileId, req.regionId, req.width], [img.fileId, regionId, 3], 'PV_REQUEST file id, region id, width');
      assert.deepEqual(req.range, [0, img.depth - 1], 'PV_REQUEST spectral range: the whole cube');
      const respFrame = await s.waitFor(() => s.responseTo(PV_RESPONSE, reqFrame.requestId), `PV_RESPONSE to #${reqFrame.requestId}`, 30_000);
      const resp = pvResponse(respFrame);
      const progress = s.received.filter((f) => f.seq > reqFrame.seq && f.seq < respFrame.seq && f.type === PV_PROGRESS)
        .map((f) => { const fl = protoFields(f.body); return { fileId: protoInt(fl, 1), progress: protoFloat(fl, 3) }; });
      notes.push(`PV_PROGRESS: ${progress.map((x) => x.progress.toFixed(3)).join(', ')}; PV_RESPONSE: ${JSON.stringify(resp)}`);
      assert.ok(resp.success && !resp.cancel, `PV_RESPONSE success=${resp.success} cancel=${resp.cancel}: ${resp.message}`);
      assert.ok(progress.length >= 1, 'PV_PROGRESS before PV_RESPONSE');
      assert.ok(progress.every((x) => x.fileId === img.fileId), `PV_PROGRESS file ids: ${progress.map((x) => x.fileId)}`);
      assert.ok(progress.every((x, i) => x.progress > 0 && x.progress <= 1 && (i === 0 || x.progress >= progress[i - 1].progress)),
        `PV_PROGRESS non-decreasing in (0, 1]: ${progress.map((x) => x.progress)}`);
      assert.equal(progress.at(-1).progress, 1, 'the last PV_PROGRESS is 1');
      assert.ok(resp.ack?.success, `PV_RESPONSE carries a successful open_file_ack: ${JSON.stringify(resp.ack)}`);
      assert.notEqual(resp.ack.fileId, img.fileId, 'the PV image has a file id of its own');
      assert.equal(resp.name, 'spectral_cube_pv.fits', 'the PV image\'s name');
      const ln = lineBefore(s, regionId, line.set.seq, reqFrame.seq);
      notes.push(`line ${fmt(ln.a)} → ${fmt(ln.b)}, length ${ln.length.toFixed(2)} px; PV image ${resp.ack.width} x ${resp.ack.height}`);
      assert.ok(Math.abs(resp.ack.width - ln.length) <= 2, `PV image width ${resp.ack.width} for a line ${ln.length.toFixed(2)} px long`);
      assert.equal(resp.ack.height, img.depth, 'PV image height: the channels of the spectral range');
      return { ...resp.ack, seq: respFrame.seq };
    });

    await step('the PV image is shown', async () => {
      const add = await s.waitFor(() => s.sent.find((f) => f.seq > pv.seq && f.type === EV.ADD_REQUIRED_TILES &&
        protoInt(protoFields(f.body), 1) === pv.fileId), `ADD_REQUIRED_TILES for the PV image (file ${pv.fileId})`);
      await s.waitFor(() => syncEnds(s, add.seq, (x) => x.fileId === pv.fileId).length, `a complete tile stream of file ${pv.fileId}`);
      const tiles = s.received.filter((f) => f.seq > add.seq && f.type === EV.RASTER_TILE_DATA)
        .map(tileData).filter((d) => d.fileId === pv.fileId).flatMap((d) => d.tiles);
      notes.push(`RASTER_TILE_DATA of file ${pv.fileId}: ${JSON.stringify(tiles)}`);
      assert.ok(tiles.length >= 1 && tiles.every((x) => x.bytes > 0 && x.width > 0 && x.height > 0),
        `non-empty tiles of the PV image: ${JSON.stringify(tiles)}`);
      await page.getByTestId('pv-generator-0-header-close-button').click({ timeout: UI_TIMEOUT });
      await page.mouse.move(1595, 5);
      await sleep(500); // the last tiles are drawn on the next animation frames
      const png = decodePng(await page.screenshot({ path: path.join(ARTIFACTS, 'pv.png') }));
      // The view now has a panel per image; the PV image (the second frame) is in the second.
      const panels = page.locator('.image-panel-div');
      assert.equal(await panels.count(), 2, 'image panels: the cube and its PV image');
      const st = colourStats(png, await panels.nth(1).boundingBox());
      notes.push(`PV image panel: ${st.distinct} colours, the commonest on ${(st.modeShare * 100).toFixed(0)}%`);
      assert.ok(st.distinct >= 20 && st.modeShare < 0.9,
        `the PV image's panel looks blank (${st.distinct} colours, the commonest on ${(st.modeShare * 100).toFixed(0)}%; artifacts/pv.png)`);
      await s.assertStillConnected('after the PV image', { minErrorSeverity: s.ERROR_SEVERITY });
    });
    t.diagnostic(notes.join('\n'));
  });
});

test('vector overlay: the vector overlay dialog draws polarisation vectors of stokes_cube.fits', { timeout: 60_000 }, async (t) => {
  await runE2E(t, { failureShot: 'failure-vectors.png' }, async (s) => {
    const { page, step } = s;
    const notes = [];
    const cube = fitsCube(path.join(SAMPLES, 'stokes_cube.fits'));
    await s.connect();
    await s.initialFileBrowser('stokes_cube.fits');
    const img = await step('load stokes_cube.fits', () => load(s, 'stokes_cube.fits'));
    assert.deepEqual([img.width, img.height, img.depth, img.stokes], [128, 128, 16, 4], 'stokes_cube.fits shape');
    await page.mouse.move(1595, 5);
    await sleep(500);
    const before = decodePng(await page.screenshot({ path: path.join(ARTIFACTS, 'vectors-before.png') }));

    const vec = await step('vector overlay dialog: Apply', async () => {
      await page.getByTestId('vector-dialog-button').click({ timeout: UI_TIMEOUT });
      const dialog = page.locator('.vector-overlay-dialog');
      await dialog.waitFor({ timeout: UI_TIMEOUT });
      const mark = lastSeq(s);
      await page.getByTestId('vector-field-apply-button').click({ timeout: UI_TIMEOUT });
      const sent = await s.waitFor(() => s.sent.find((f) => f.seq > mark && f.type === SET_VECTOR_OVERLAY_PARAMETERS),
        'SET_VECTOR_OVERLAY_PARAMETERS after Apply');
      const p = vectorParameters(sent);
      notes.push(`SET_VECTOR_OVERLAY_PARAMETERS #${sent.requestId}: ${JSON.stringify(p)}`);
      assert.equal(p.fileId, img.fileId, 'SET_VECTOR_OVERLAY_PARAMETERS file id');
      assert.ok(p.smoothing >= 1, `smoothing factor ${p.smoothing}`);
      assert.ok(p.stokesIntensity >= 0 && p.stokesAngle >= 0, `intensity and angle sources ${p.stokesIntensity}, ${p.stokesAngle}`);
      const frames = await s.waitFor(() => {
        const fs_ = s.received.filter((f) => f.seq > sent.seq && f.type === VECTOR_OVERLAY_TILE_DATA).map(vectorTiles)
          .filter((d) => d.fileId === img.fileId);
        return fs_.some((d) => d.progress >= 1) && fs_;
      }, 'VECTOR_OVERLAY_TILE_DATA with progress 1', 30_000);
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden', timeout: UI_TIMEOUT }).catch(() => {});
      return { params: p, frames };
    });

    const strongest = await step('vector tiles: complete, and the block means of Q and U', async () => {
      const { params, frames } = vec;
      const intensity = frames.flatMap((d) => d.intensity), angle = frames.flatMap((d) => d.angle);
      notes.push(`VECTOR_OVERLAY_TILE_DATA: ${frames.length} message(s), progress ${frames.map((d) => d.progress).join(', ')}, ` +
        `compression ${frames.map((d) => d.compression)}; intensity tiles ${JSON.stringify(intensity.map(({ data, ...x }) => ({ ...x, bytes: data.length })))}, ` +
        `angle tiles ${JSON.stringify(angle.map(({ data, ...x }) => ({ ...x, bytes: data.length })))}`);
      assert.ok(frames.every((d) => d.channel === 0), 'VECTOR_OVERLAY_TILE_DATA channel 0');
      for (const [name, tiles] of [['intensity', intensity], ['angle', angle]]) {
        assert.ok(tiles.length >= 1 && tiles.every((x) => x.data.length > 0 && x.width > 0 && x.height > 0 && x.mip >= 1),
          `non-empty ${name} tiles`);
        const covered = tiles.reduce((a, x) => a + x.width * x.height * x.mip * x.mip, 0);
        assert.ok(covered >= img.width * img.height, `the ${name} tiles cover ${covered} image pixels of ${img.width * img.height}`);
      }
      if (frames.some((d) => d.compression !== 0)) {
        notes.push('compressed vector tiles: values not checked against the file');
        return null;
      }
      // Oracle: block means of Q (plane 1·depth) and U (plane 2·depth) of channel 0 over mip × mip blocks.
      const Q = cube.plane(1 * img.depth), U = cube.plane(2 * img.depth);
      const blockMean = (plane, bx, by, m) => {
        let sum = 0, n = 0;
        for (let y = by * m; y < Math.min(cube.height, (by + 1) * m); y++) {
          for (let x = bx * m; x < Math.min(cube.width, (bx + 1) * m); x++) {
            const v = plane[y * cube.width + x];
            if (!Number.isNaN(v)) { sum += v; n++; }
          }
        }
        return sum / n;
      };
      const problems = [];
      let best = { pi: -Infinity };
      const rel = (a, b, tol) => Math.abs(a - b) <= tol * Math.max(Math.abs(a), Math.abs(b), 1e-12);
      for (const [kind, tiles] of [['intensity', intensity], ['angle', angle]]) {
        for (const tile of tiles) {
          const m = tile.mip;
          assert.equal(tile.data.length, tile.width * tile.height * 4, `${kind} tile (${tile.x}, ${tile.y}): raw float32 data`);
          for (let j = 0; j < tile.height; j++) {
            for (let i = 0; i < tile.width; i++) {
              const bx = tile.x * 256 + i, by = tile.y * 256 + j;
              const q = blockMean(Q, bx, by, m), u = blockMean(U, bx, by, m);
              const got = tile.data.readFloatLE(4 * (j * tile.width + i));
              const want = kind === 'intensity' ? Math.hypot(q, u) : Math.atan2(u, q) * 90 / Math.PI;
              // Angles near ±90° may come out on either side.
              const ok = kind === 'intensity' ? rel(got, want, 1e-4)
                : Math.abs(got - want) <= 1e-3 || Math.abs(Math.abs(got - want) - 180) <= 1e-3;
              if (!ok && problems.length < 8) problems.push(`${kind} of block (${bx}, ${by}) [pixels ${bx * m}..${bx * m + m - 1}, ` +
                `${by * m}..${by * m + m - 1}]: ${got}, from the file ${want}`);
              if (kind === 'intensity' && want > best.pi) best = { pi: want, x: (bx + 0.5) * m - 0.5, y: (by + 0.5) * m - 0.5 };
            }
          }
        }
      }
      assert.deepEqual(problems, [], `vector tiles vs the file (${params.smoothing}-pixel block means of Q and U, channel 0):\n${problems.join('\n')}`);
      notes.push(`strongest polarised intensity ${best.pi.toExponential(3)} at image pixel (${best.x}, ${best.y})`);
      return best;
    });

    await step('vector pixels in the image view', async () => {
      await page.mouse.move(1595, 5);
      const { box, zoom, at } = await imageToScreen(page, img.width, img.height);
      const isIn = (png, x, y) => { const k = (y * png.width + x) * 4; return isVectorGreen(png.data[k], png.data[k + 1], png.data[k + 2]); };
      let after, green = 0, wasGreen = 0;
      for (const end = Date.now() + UI_TIMEOUT; Date.now() < end; await sleep(300)) {
        after = decodePng(await page.screenshot({ path: path.join(ARTIFACTS, 'vectors.png') }));
        green = 0; wasGreen = 0;
        for (let y = Math.ceil(box.y); y < box.y + box.height; y++) {
          for (let x = Math.ceil(box.x); x < box.x + box.width; x++) {
            if (!isIn(after, x, y)) continue;
            green++;
            if (isIn(before, x, y)) wasGreen++;
          }
        }
        if (green >= 200) break;
      }
      // Around the most polarised block (10 image pixels either way) the vectors are longer than on average.
      const imageArea = img.width * img.height * zoom * zoom;
      let near = 0, nearArea = 0;
      if (strongest) {
        const [sx, sy] = at(strongest.x, strongest.y);
        const st = colourStats(after, { x: sx - 10 * zoom, y: sy - 10 * zoom, width: 20 * zoom, height: 20 * zoom });
        near = st.count(isVectorGreen);
        nearArea = st.pixels;
      }
      notes.push(`${green} vector-coloured pixels in the view (${wasGreen} of them before); ${near} in the ${nearArea} pixels ` +
        `around the most polarised block, ${(green / imageArea * nearArea).toFixed(0)} expected there at the mean density`);
      assert.ok(green >= 200, `only ${green} pixels of the vector colour in the view (artifacts/vectors.png)`);
      assert.ok(wasGreen <= green * 0.02, `${wasGreen} of them were that colour before the overlay was applied`);
      if (strongest) {
        assert.ok(near >= 3 * green / imageArea * nearArea,
          `${near} vector pixels around the most polarised block, not denser than average (artifacts/vectors.png)`);
      }
      await s.assertStillConnected('after the vector overlay', { minErrorSeverity: s.ERROR_SEVERITY });
    });
    t.diagnostic(notes.join('\n'));
  });
});
