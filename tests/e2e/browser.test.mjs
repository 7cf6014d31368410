// End-to-end test: the real CARTA web frontend (npm carta-frontend 6.0.0, served by cartaflow itself)
// running in Debian's headless Chromium, talking to the cartaflow binary over the CARTA WebSocket protocol.
// The machinery (server, browser, WebSocket trace, failure report) is in harness.mjs.
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
//   4. Clicking spectral_cube.fits shows its file info: the "File Information" tab shows Name, HDU, Data type,
//      Shape = [256, 256, 64] (RA, DEC, FREQ) and Number of channels = 64; the "Header" tab shows
//      BUNIT = Jy/beam, CTYPE3 = FREQ and RESTFRQ ≈ 1.420405752e9.
//   5. A screenshot of the file browser showing that header goes to tests/e2e/artifacts/file-browser.png.
// Throughout, the server must never answer with ERROR_DATA and the page must throw no uncaught errors.
// Requests to other hosts (GitHub releases, telemetry, HiPS) are blocked so the run is offline and quiet.
// On failure the error carries the server log tail, browser console errors, the WebSocket message
// trace, and tests/e2e/artifacts/failure.png.
//
// Run:  cd tests/e2e && npm test        (or: node --test)
// Env:  see harness.mjs (CARTAFLOW_BIN, CARTAFLOW_SAMPLES, CARTAFLOW_PYTHON, CHROMIUM).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { runE2E, EV, ARTIFACTS, UI_TIMEOUT, protoFields, protoBool } from './harness.mjs';

test('CARTA frontend 6.0.0 connects to cartaflow, browses the samples and shows a FITS header', { timeout: 90_000 }, async (t) => {
  await runE2E(t, { failureShot: 'failure.png' }, async (s) => {
    const { page, step, sent, fileBrowser, fileList } = s;
    const sampleNames = ['gaussian_sources.fits', 'nan_regions.fits', 'spectral_cube.fits', 'stokes_cube.fits', 'idia_image.hdf5'];

    // 2. Page loads and registers -------------------------------------------------------------------------
    await s.connect();

    // 3. File browser lists the samples --------------------------------------------------------------------
    await s.initialFileBrowser('spectral_cube.fits');
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
      assert.deepEqual((await rowOf('more')).slice(0, 3).map((x) => x.trim()), ['more', '', '4 items'], '"more" folder row');
      assert.equal(await fileList.locator('.folder-cell', { hasText: 'more' }).count(), 1, '"more" is shown as a folder');
      assert.deepEqual((await rowOf('spectral_cube.fits')).slice(0, 2), ['spectral_cube.fits', 'FITS'], 'spectral_cube.fits row');
      assert.deepEqual((await rowOf('idia_image.hdf5')).slice(0, 2), ['idia_image.hdf5', 'HDF5'], 'idia_image.hdf5 row');
      const listed = sent.filter((f) => f.type === EV.FILE_LIST_REQUEST).map((f) => s.responseTo(EV.FILE_LIST_RESPONSE, f.requestId));
      assert.ok(listed.length >= 2 && listed.every((r) => r && protoBool(protoFields(r.body), 1)),
        'every FILE_LIST_REQUEST got a successful FILE_LIST_RESPONSE');
      await s.assertStillConnected('after listing');
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
      // Computed by the server from the header (carta_backend's wording).
      assert.equal(await entryValue('HDU'), '0', 'File Information tab: HDU');
      assert.equal(await entryValue('Data type'), 'float', 'File Information tab: Data type');
      assert.equal(await entryValue('Shape'), '[256, 256, 64] (RA, DEC, FREQ)', 'File Information tab: Shape');
      assert.equal(await entryValue('Number of channels'), '64', 'File Information tab: Number of channels');
      const req = sent.findLast((f) => f.type === EV.FILE_INFO_REQUEST);
      const resp = req && s.responseTo(EV.FILE_INFO_RESPONSE, req.requestId);
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
      await s.waitFor(() => s.pongs > 0, 'a PONG for the frontend\'s PING', 12_000);
      await s.assertStillConnected('at the end');
    });
  });
});
