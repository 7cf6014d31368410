// End-to-end test: cube work in the real CARTA frontend 6.0.0 (headless Chromium) against cartaflow.
//
// Test "cubes": stokes_cube.fits (128x128x16x4, I Q U V) opened through the file browser, then
//   1. Animator → Play: START_ANIMATION, a successful START_ANIMATION_ACK with an animation id, frames (tile streams
//      tagged with that id) over several channels, acknowledged by the frontend with ANIMATION_FLOW_CONTROL, and the
//      Animator's channel slider moving; Stop: STOP_ANIMATION, and no new frame starts after it settles.
//   2. The Animator's polarization slider moved to Ptotal, then on to Pangle: SET_IMAGE_CHANNELS with Stokes 13
//      and 17, each answered by that plane's colour-scale histogram and its tiles; the image view is not blank.
//   3. Widgets → Channel Map Control → "Enable channel map mode": SET_IMAGE_CHANNELS with a channel range, then tile
//      streams for several channels of it and CHANNEL_MAP_FLOW_CONTROL from the frontend; several channels drawn.
//   Screenshots: artifacts/cube-ptotal.png, cube-pangle.png, cube-channel-map.png.
// Test "resume": spectral_cube.fits is open and drawn; the server is stopped; once the frontend shows its
//   "disconnected" alert, the server starts again on the same port and the alert's "Retry" is pressed: a new
//   WebSocket, RESUME_SESSION naming the image, a successful RESUME_SESSION_ACK, the image's histogram again, the
//   image on screen, and the Animator's "Next" answered by channel 1's tiles in the new session.
//   Screenshot: artifacts/resumed.png.
//
// Run:  cd tests/e2e && node --test cubes.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  runE2E, EV, EVENT_NAMES, ARTIFACTS, UI_TIMEOUT, sleep, protoFields, protoInt, protoBool, protoString, protoMessage,
  tileSync, regionHistogram, setImageChannels, openFile, openFileAck, startServer, stopServer, decodePng, colourStats,
  lastSeq, syncEnds, load,
} from './harness.mjs';

const START_ANIMATION = 15, START_ANIMATION_ACK = 16, STOP_ANIMATION = 17, ANIMATION_FLOW_CONTROL = 29;
const RESUME_SESSION = 47, RESUME_SESSION_ACK = 48;
Object.assign(EVENT_NAMES, { [START_ANIMATION]: 'START_ANIMATION', [START_ANIMATION_ACK]: 'START_ANIMATION_ACK',
  [STOP_ANIMATION]: 'STOP_ANIMATION', [ANIMATION_FLOW_CONTROL]: 'ANIMATION_FLOW_CONTROL',
  [RESUME_SESSION]: 'RESUME_SESSION', [RESUME_SESSION_ACK]: 'RESUME_SESSION_ACK' });

/** The image view's screenshot is an image: many colours, none covering most of it. */
async function assertNotBlank(s, what, shot) {
  const view = await s.page.locator('.image-view-div').first().boundingBox();
  await sleep(300); // the last tiles are drawn on the next animation frame
  const buf = await s.page.screenshot({ path: path.join(ARTIFACTS, shot) });
  const stats = colourStats(decodePng(buf), view);
  assert.ok(stats.distinct >= 20 && stats.modeShare < 0.9,
    `${what}: the image view looks blank (${stats.distinct} colours, the commonest on ${(stats.modeShare * 100).toFixed(0)}%)`);
}

async function showAnimator(s) {
  await s.page.locator('.flexlayout__tab_button').filter({ hasText: /^Animator$/, visible: true }).first().click({ timeout: UI_TIMEOUT });
  await s.page.getByTestId('animator-play-stop-button').waitFor({ timeout: UI_TIMEOUT });
}

const sliderValue = async (s, testId) =>
  Number(await s.page.getByTestId(testId).locator('[role="slider"]').first().getAttribute('aria-valuenow'));

test('cubes: the Animator plays and stops, Ptotal and Pangle display, the channel-map view fills', { timeout: 150_000 }, async (t) => {
  await runE2E(t, { failureShot: 'failure-cubes.png' }, async (s) => {
    await s.connect();
    await s.initialFileBrowser('stokes_cube.fits');
    const img = await s.step('stokes_cube.fits: load', () => load(s, 'stokes_cube.fits'));
    assert.deepEqual([img.width, img.height, img.depth, img.stokes], [128, 128, 16, 4], 'stokes_cube.fits shape');

    // 1. Play, then stop -------------------------------------------------------------------------------------
    await s.step('Animator: play', async () => {
      await showAnimator(s);
      const before = await sliderValue(s, 'animator-slider');
      const mark = lastSeq(s);
      await s.page.getByTestId('animator-play-stop-button').click({ timeout: UI_TIMEOUT });
      const start = await s.waitFor(() => s.sent.find((f) => f.seq > mark && f.type === START_ANIMATION), 'START_ANIMATION');
      const ackFrame = await s.waitFor(() => s.responseTo(START_ANIMATION_ACK, start.requestId), 'START_ANIMATION_ACK');
      const ack = protoFields(ackFrame.body);
      assert.ok(protoBool(ack, 1), `START_ANIMATION_ACK success=false: ${protoString(ack, 2)[0] ?? ''}`);
      const id = protoInt(ack, 3);
      assert.ok(id > 0, 'START_ANIMATION_ACK carries an animation id');
      const frames = await s.waitFor(() => {
        const f = syncEnds(s, mark, (x) => x.animationId === id);
        return new Set(f.map((x) => x.channel)).size >= 4 && f;
      }, 'animation frames over four channels', 30_000);
      const acks = s.sent.filter((f) => f.seq > mark && f.type === ANIMATION_FLOW_CONTROL);
      assert.ok(acks.length >= 2, `the frontend acknowledged frames with ANIMATION_FLOW_CONTROL (${acks.length})`);
      const after = await sliderValue(s, 'animator-slider');
      assert.notEqual(after, before, `the Animator's channel slider moved (${before} → ${after}; frames ${frames.map((x) => x.channel)})`);
      s.animationId = id;
    });
    await s.step('Animator: stop', async () => {
      const mark = lastSeq(s);
      await s.page.getByTestId('animator-play-stop-button').click({ timeout: UI_TIMEOUT });
      await s.waitFor(() => s.sent.find((f) => f.seq > mark && f.type === STOP_ANIMATION), 'STOP_ANIMATION');
      await sleep(1000);
      const settled = lastSeq(s);
      await sleep(1500);
      const late = s.received.filter((f) => f.seq > settled && f.type === EV.RASTER_TILE_SYNC &&
        sync(f).animationId === s.animationId && !sync(f).endSync);
      assert.equal(late.length, 0, 'no animation frame starts after STOP_ANIMATION has settled');
    });

    // 2. Computed Stokes through the polarization slider -------------------------------------------------------
    const toStokes = async (stokes, presses, shot) => {
      const mark = lastSeq(s);
      const handle = s.page.getByTestId('animator-polarization-slider').locator('[role="slider"]').first();
      await handle.focus();
      for (let i = 0; i < presses; i++) await s.page.keyboard.press('ArrowRight');
      await s.waitFor(() => s.sent.some((f) => f.seq > mark && f.type === EV.SET_IMAGE_CHANNELS && setImageChannels(f).stokes === stokes),
        `SET_IMAGE_CHANNELS with Stokes ${stokes}`);
      await s.waitFor(() => s.received.some((f) => f.seq > mark && f.type === EV.REGION_HISTOGRAM_DATA &&
        regionHistogram(f).stokes === stokes && regionHistogram(f).numBins > 0), `the colour-scale histogram of Stokes ${stokes}`);
      await s.waitFor(() => syncEnds(s, mark, (x) => x.stokes === stokes).length, `tiles of Stokes ${stokes}`);
      await assertNotBlank(s, `Stokes ${stokes}`, shot);
    };
    await s.step('Ptotal', async () => {
      await showAnimator(s);
      await toStokes(13, 4, 'cube-ptotal.png'); // I → Q → U → V → Ptotal
    });
    await s.step('Pangle', () => toStokes(17, 4, 'cube-pangle.png')); // → Plinear → PFtotal → PFlinear → Pangle

    // 3. Channel-map view ---------------------------------------------------------------------------------------
    await s.step('channel map', async () => {
      await s.page.locator('.root-menu-entry').getByText('Widgets', { exact: true }).click();
      await s.page.locator('.widgets-menu').getByRole('menuitem', { name: 'Channel Map Control', exact: true }).click({ timeout: UI_TIMEOUT });
      const mark = lastSeq(s);
      // The switch beside the "Enable channel map mode" label (the label is not bound to it).
      await s.page.locator('.channel-map-control-label .bp6-control-indicator').first().click({ timeout: UI_TIMEOUT });
      const req = await s.waitFor(() => s.sent.find((f) => f.seq > mark && f.type === EV.SET_IMAGE_CHANNELS &&
        protoMessage(protoFields(f.body), 5)), 'SET_IMAGE_CHANNELS with a channel range');
      const range = protoMessage(protoFields(req.body), 5);
      const [lo, hi] = [protoInt(range, 1), protoInt(range, 2)];
      assert.ok(hi > lo, `a channel range of several channels (${lo}..${hi})`);
      const drawn = await s.waitFor(() => {
        const ch = new Set(syncEnds(s, mark).map((x) => x.channel));
        return ch.size >= Math.min(4, hi - lo + 1) && ch;
      }, 'tile streams for several channels of the range', 30_000);
      await s.waitFor(() => s.sent.some((f) => f.seq > mark && f.type === EV.CHANNEL_MAP_FLOW_CONTROL),
        'CHANNEL_MAP_FLOW_CONTROL from the frontend');
      t.diagnostic(`channel map: range ${lo}..${hi}, channels drawn ${[...drawn].sort((a, b) => a - b)}`);
      await assertNotBlank(s, 'the channel-map view', 'cube-channel-map.png');
    });
    await s.assertStillConnected('after the cube steps', { minErrorSeverity: s.ERROR_SEVERITY });
  });
});

test('resume: the server restarts, Retry reconnects and the image is back', { timeout: 150_000 }, async (t) => {
  await runE2E(t, { failureShot: 'failure-resume.png' }, async (s) => {
    await s.connect();
    await s.initialFileBrowser('spectral_cube.fits');
    const img = await s.step('spectral_cube.fits: load', () => load(s, 'spectral_cube.fits'));
    const port = new URL(s.server.url).port;
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cartaflow-e2e-resume-'));
    let second = null;
    try {
      await s.step('stop the server', async () => {
        await stopServer(s.server.child);
        await s.waitFor(() => s.sockets[0].closed, 'the WebSocket to close');
      });
      const alert = s.page.getByText('You have been disconnected from the server', { exact: false });
      await s.step('the disconnected alert', () => alert.first().waitFor({ timeout: 60_000 }));
      second = await s.step('start the server again', () => startServer(workDir, s.token, ['--port', port]));
      const mark = lastSeq(s);
      await s.step('Retry', async () => {
        await s.page.getByRole('button', { name: 'Retry', exact: true }).click({ timeout: UI_TIMEOUT });
        const resume = await s.waitFor(() => s.sent.find((f) => f.seq > mark && f.type === RESUME_SESSION), 'RESUME_SESSION', 30_000);
        const named = protoFields(resume.body).filter((f) => f.field === 1)
          .map((f) => protoString(protoMessage([f], 1) ?? [], 2)[0]);
        assert.ok(named.includes('spectral_cube.fits'), `RESUME_SESSION names the open image (${named})`);
        const ackFrame = await s.waitFor(() => s.responseTo(RESUME_SESSION_ACK, resume.requestId), 'RESUME_SESSION_ACK', 30_000);
        const ack = protoFields(ackFrame.body);
        assert.ok(protoBool(ack, 1), `RESUME_SESSION_ACK success=false: ${protoString(ack, 2)[0] ?? ''}`);
        // The frontend keeps its tiles; the server sends the plane's colour-scale histogram again.
        await s.waitFor(() => s.received.some((f) => f.seq > mark && f.type === EV.REGION_HISTOGRAM_DATA &&
          regionHistogram(f).fileId === img.fileId), 'the image\'s histogram after resuming', 30_000);
      });
      await s.step('the resumed image is live: Next channel', async () => {
        const next = lastSeq(s);
        await s.page.locator('.flexlayout__tab_button').filter({ hasText: /^Animator$/, visible: true }).first().click({ timeout: UI_TIMEOUT });
        await s.page.getByTestId('animator-next-button').click({ timeout: UI_TIMEOUT });
        await s.waitFor(() => syncEnds(s, next, (x) => x.fileId === img.fileId && x.channel === 1).length,
          'tiles of channel 1 in the resumed session', 30_000);
      });
      assert.equal(s.sockets.filter((x) => !x.closed).length, 1, 'one open WebSocket after Retry');
      await assertNotBlank(s, 'the resumed image', 'resumed.png');
    } finally {
      if (second) await stopServer(second.child);
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  });
});
