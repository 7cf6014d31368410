//! A file's first bytes and FITS structure, as the file browser and OPEN_FILE read them: content sniffing,
//! the HDU walk with header parsing, and everything built from a header (shape and axes, WCS, the computed
//! file-info entries, beams). Nothing here may panic, whatever the bytes.

#![no_main]

use cartaflow::image::{self, beams, fits, ExtendedInfoInput, ImageShape};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = image::detect_bytes(data, "input.fits");
    let _ = image::detect_bytes(data, "input.fits.gz");
    let Ok(hdus) = fits::scan_bytes(data, 16) else {
        return;
    };
    for hdu in &hdus {
        let _ = beams::from_header(&hdu.header);
        let start = usize::try_from(hdu.data_offset).unwrap_or(usize::MAX);
        if let Some(table) = data.get(start..) {
            let _ = beams::from_table(&hdu.header, table);
        }
        if !hdu.is_image() {
            continue;
        }
        let _ = ImageShape::new(hdu.shape.clone(), &hdu.header);
        let key = hdu.index.to_string();
        let _ = image::extended_info(&ExtendedInfoInput {
            name: "input.fits",
            hdu: &key,
            extname: hdu.extname(),
            header: &hdu.header,
            shape: &hdu.shape,
            has_mipmaps: false,
        });
    }
});
