//! Pixel ⇄ world through an image's WCS, as the region set converts control points, against astropy's
//! `all_pix2world` for several projections, rotations (PC and CD matrices), units and a field near the pole.

mod common;

use cartaflow::image::header::{Card, Header, Value};
use cartaflow::image::wcs::Wcs;
use cartaflow::session::RegionSet;
use common::expected;

fn header(cards: &serde_json::Value) -> Header {
    Header::from_cards(cards.as_array().expect("cards").iter().map(|c| {
        let value = match &c[1] {
            serde_json::Value::String(s) => Value::Text(s.clone()),
            v => Value::Float(v.as_f64().expect("number")),
        };
        Card {
            keyword: c[0].as_str().expect("keyword").to_string(),
            value: Some(value),
            comment: String::new(),
            text: String::new(),
        }
    }))
}

/// Difference of two longitudes in degrees, across the 0/360 wrap.
fn dlon(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(360.0);
    d.min(360.0 - d)
}

#[test]
fn pixel_and_world_convert_both_ways_like_astropy() {
    let cases = expected()["wcs_cases"].as_array().expect("wcs_cases");
    assert!(cases.len() >= 5);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let wcs = Wcs::from_keywords(&header(&case["cards"]), 2);
        let points = case["points"].as_array().expect("points");
        assert!(points.len() >= 20, "{name}");
        for p in points {
            let (x, y) = (
                p["pixel"][0].as_f64().expect("x"),
                p["pixel"][1].as_f64().expect("y"),
            );
            let (lon, lat) = (
                p["world"][0].as_f64().expect("lon"),
                p["world"][1].as_f64().expect("lat"),
            );
            let (got_lon, got_lat) = wcs
                .celestial_at(x, y)
                .unwrap_or_else(|| panic!("{name}: pixel ({x}, {y}) has world coordinates"));
            assert!(
                dlon(got_lon, lon) * lat.to_radians().cos() < 1e-9 && (got_lat - lat).abs() < 1e-9,
                "{name} pixel ({x}, {y}): ({got_lon}, {got_lat}) vs astropy ({lon}, {lat})"
            );
            let (px, py) = wcs
                .celestial_to_pixel(lon, lat)
                .unwrap_or_else(|| panic!("{name}: ({lon}, {lat}) has a pixel"));
            assert!(
                (px - x).abs() < 1e-6 && (py - y).abs() < 1e-6,
                "{name} world ({lon}, {lat}): pixel ({px}, {py}) vs ({x}, {y})"
            );
            // The region set's 0-based control points (pixel centres at integers).
            let control = RegionSet::pixel_points(&[(lon, lat)], &wcs).expect("converts");
            assert!(
                (control[0].0 - (x - 1.0)).abs() < 1e-6 && (control[0].1 - (y - 1.0)).abs() < 1e-6
            );
        }
    }
}
