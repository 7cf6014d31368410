// End-to-end test: contours in the real CARTA frontend 6.0.0 against cartaflow.
//
// gaussian_sources.fits is opened through the file browser; the Contours button opens the contour dialog, whose
// "Generate" fills the levels and "Apply" sends SET_CONTOUR_PARAMETERS (the frontend's defaults: Gaussian smoothing
// of factor 4, decimation 4, zstd level 8). CONTOUR_IMAGE_DATA comes back until every level's progress is 1, and
// the image view gains pixels of the contour colour (Blueprint GREEN3). Each of those pixels, mapped back to image
// pixels through the frontend's fit-to-view zoom, lies where the image's own values (read here from the FITS file)
// cross one of the levels sent. Screenshots: artifacts/contours-before.png, contours.png.
//
// Run:  cd tests/e2e && node --test overlays.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  runE2E, EV, EVENT_NAMES, ARTIFACTS, SAMPLES, UI_TIMEOUT, sleep, protoFields, protoInt, protoFloat, decodePng, lastSeq, load,
  readFits2d,
} from './harness.mjs';

const SET_CONTOUR_PARAMETERS = 45, CONTOUR_IMAGE_DATA = 46;
Object.assign(EVENT_NAMES, { [SET_CONTOUR_PARAMETERS]: 'SET_CONTOUR_PARAMETERS', [CONTOUR_IMAGE_DATA]: 'CONTOUR_IMAGE_DATA' });

/** SET_CONTOUR_PARAMETERS {file_id 1, levels 4 (doubles, packed or not), smoothing_mode 5, smoothing_factor 6}. */
function contourParameters(frame) {
  const fl = protoFields(frame.body);
  const levels = [];
  for (const f of fl.filter((x) => x.field === 4)) {
    const b = Buffer.from(f.value);
    for (let i = 0; i + 8 <= b.length; i += 8) levels.push(b.readDoubleLE(i));
  }
  return { fileId: protoInt(fl, 1), levels, mode: protoInt(fl, 5), factor: protoInt(fl, 6) };
}

/** CONTOUR_IMAGE_DATA {file_id 1, contour_sets 6 [{level 1 (double)}], progress 7 (double)}. */
function contourData(frame) {
  const fl = protoFields(frame.body);
  return {
    fileId: protoInt(fl, 1),
    levels: fl.filter((x) => x.field === 6).map((x) => protoFloat(protoFields(x.value), 1)),
    progress: protoFloat(fl, 7),
  };
}

const isContourGreen = (r, g, b) => g > r + 50 && g > b + 25 && g > 90;

test('contours: the contour dialog draws contours where the image crosses its levels', { timeout: 90_000 }, async (t) => {
  await runE2E(t, { failureShot: 'failure-contours.png' }, async (s) => {
    const { page, step } = s;
    const ref = readFits2d(path.join(SAMPLES, 'gaussian_sources.fits'));
    await s.connect();
    await s.initialFileBrowser('gaussian_sources.fits');
    const img = await step('load gaussian_sources.fits', () => load(s, 'gaussian_sources.fits'));
    await sleep(500);
    const canvas = page.locator('canvas.contour-canvas').first();
    const before = decodePng(await page.screenshot({ path: path.join(ARTIFACTS, 'contours-before.png') }));

    const params = await step('contour dialog: Generate, Apply', async () => {
      await page.getByTestId('contour-dialog-button').click({ timeout: UI_TIMEOUT });
      const dialog = page.locator('.contour-dialog');
      await dialog.waitFor({ timeout: UI_TIMEOUT });
      await dialog.locator('.generate-button').click({ timeout: UI_TIMEOUT });
      const mark = lastSeq(s);
      await page.getByTestId('contour-config-apply-button').click({ timeout: UI_TIMEOUT });
      const sent = await s.waitFor(() => s.sent.find((f) => f.seq > mark && f.type === SET_CONTOUR_PARAMETERS),
        'SET_CONTOUR_PARAMETERS after Apply');
      const p = contourParameters(sent);
      assert.equal(p.fileId, img.fileId, 'SET_CONTOUR_PARAMETERS file id');
      assert.ok(p.levels.length >= 1, `levels: ${p.levels}`);
      const complete = () => {
        const done = new Set();
        for (const f of s.received.filter((x) => x.seq > sent.seq && x.type === CONTOUR_IMAGE_DATA)) {
          const d = contourData(f);
          if (d.progress >= 1) d.levels.forEach((l) => done.add(l));
        }
        return p.levels.every((l) => done.has(l));
      };
      await s.waitFor(complete, 'CONTOUR_IMAGE_DATA with progress 1 for every level');
      // Close the dialog so the view is visible.
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden', timeout: UI_TIMEOUT }).catch(() => {});
      return { ...p, seq: sent.seq };
    });

    await step('contour pixels lie on the levels', async () => {
      await sleep(800); // drawn on the next animation frames
      const after = decodePng(await page.screenshot({ path: path.join(ARTIFACTS, 'contours.png') }));
      const box = await canvas.boundingBox();
      assert.ok(box && box.width > 50 && box.height > 50, `contour canvas: ${JSON.stringify(box)}`);
      // The frontend's fit zoom and centre: zoom = min(renderWidth / W, renderHeight / H), centre ((W-1)/2, (H-1)/2).
      const zoom = Math.min(box.width / ref.width, box.height / ref.height);
      const cx = (ref.width - 1) / 2, cy = (ref.height - 1) / 2;
      const reach = Math.ceil(1.5 / zoom) + 3; // image pixels around a screen pixel (smoothing included)
      let green = 0, onLevel = 0, wasGreen = 0;
      const misses = [];
      for (let sy = Math.ceil(box.y); sy < box.y + box.height; sy++) {
        for (let sx = Math.ceil(box.x); sx < box.x + box.width; sx++) {
          const k = (sy * after.width + sx) * 4;
          if (!isContourGreen(after.data[k], after.data[k + 1], after.data[k + 2])) continue;
          green++;
          if (isContourGreen(before.data[k], before.data[k + 1], before.data[k + 2])) wasGreen++;
          const ix = Math.round(cx + (sx + 0.5 - box.x - box.width / 2) / zoom);
          const iy = Math.round(cy - (sy + 0.5 - box.y - box.height / 2) / zoom);
          let lo = Infinity, hi = -Infinity;
          for (let y = Math.max(0, iy - reach); y <= Math.min(ref.height - 1, iy + reach); y++) {
            for (let x = Math.max(0, ix - reach); x <= Math.min(ref.width - 1, ix + reach); x++) {
              const v = ref.plane[y * ref.width + x];
              if (Number.isNaN(v)) continue;
              lo = Math.min(lo, v); hi = Math.max(hi, v);
            }
          }
          if (params.levels.some((l) => lo <= l && l <= hi)) onLevel++;
          else if (misses.length < 5) misses.push({ sx, sy, ix, iy, lo, hi });
        }
      }
      t.diagnostic(`levels ${params.levels.map((l) => l.toPrecision(4)).join(', ')}; ${green} contour-coloured pixels, ` +
        `${onLevel} on a level; zoom ${zoom.toFixed(3)}`);
      assert.ok(green >= 200, `only ${green} pixels of the contour colour in the view (artifacts/contours.png)`);
      assert.ok(wasGreen <= green * 0.02, `${wasGreen} of them were that colour before contours were applied`);
      assert.ok(onLevel >= 0.95 * green,
        `${green - onLevel} of ${green} contour pixels are not where the image crosses a level: ${JSON.stringify(misses)}`);
    });
  });
});
