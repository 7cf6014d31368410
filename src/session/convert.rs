//! ICD requirements → the file layer's domain types, with the `[limits]` checked before anything is allocated
//! for them. Pure functions (the fuzzer drives them with decoded frames); each refusal says what and why.

use crate::analysis::line_boxes::MAX_WIDTH as MAX_LINE_WIDTH;
use crate::analysis::stats::StatKind;
use crate::config::Limits;
use crate::file::{
    ComputedStokes, ContourSettings, Coordinate, HistogramConfig, LineConfig, ProfileAxis,
    Smoothing, SpatialConfig, SpectralConfig, StatsConfig, StokesChoice, TileBatch, VectorSettings,
};
use crate::protocol::pb;
use crate::tiles::encode::Compression;

/// Parses a coordinate: an optional Stokes prefix ("I", "Q", "U", "V", or a computed "Ptotal" …) and then one
/// of the axis letters `axes`.
pub fn coordinate(text: &str, axes: &[char]) -> Result<(Coordinate, char), String> {
    let axis = text
        .chars()
        .last()
        .filter(|c| axes.contains(c))
        .ok_or_else(|| {
            let names: Vec<String> = axes.iter().map(|a| format!("'{a}'")).collect();
            format!("coordinate '{text}' does not end in {}", names.join(" or "))
        })?;
    let prefix = &text[..text.len() - axis.len_utf8()];
    let stokes = match prefix {
        "" => StokesChoice::Current,
        "I" => StokesChoice::Stored(1),
        "Q" => StokesChoice::Stored(2),
        "U" => StokesChoice::Stored(3),
        "V" => StokesChoice::Stored(4),
        p => match ComputedStokes::from_name(p) {
            Some(c) => StokesChoice::Computed(c),
            None => return Err(format!("coordinate '{text}' names no Stokes parameter")),
        },
    };
    Ok((
        Coordinate {
            text: text.to_string(),
            stokes,
        },
        axis,
    ))
}

fn count_check(what: &str, n: usize, limits: &Limits) -> Result<(), String> {
    if n > limits.requirements_per_message {
        return Err(format!(
            "{n} {what} in one message; the limit is {}",
            limits.requirements_per_message
        ));
    }
    Ok(())
}

/// Statistics kinds, each once, in the order asked.
fn kinds(types: &[i32]) -> Result<Vec<StatKind>, String> {
    let mut out: Vec<StatKind> = Vec::new();
    for t in types {
        let kind = StatKind::from_code(*t).ok_or_else(|| format!("unknown statistic type {t}"))?;
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    Ok(out)
}

pub fn stats_configs(
    msg: &pb::SetStatsRequirements,
    limits: &Limits,
) -> Result<Vec<StatsConfig>, String> {
    count_check("statistics configurations", msg.stats_configs.len(), limits)?;
    msg.stats_configs
        .iter()
        .map(|c| {
            Ok(StatsConfig {
                coordinate: coordinate(&c.coordinate, &['z'])?.0,
                kinds: kinds(&c.stats_types)?,
            })
        })
        .collect()
}

pub fn histogram_configs(
    msg: &pb::SetHistogramRequirements,
    limits: &Limits,
) -> Result<Vec<HistogramConfig>, String> {
    count_check("histogram configurations", msg.histograms.len(), limits)?;
    // The limit bounds the bins of the whole message, so many configurations cannot add up past it.
    let total_bins: u64 = msg
        .histograms
        .iter()
        .filter(|c| c.fixed_num_bins && c.num_bins > 0)
        .map(|c| c.num_bins as u64)
        .sum();
    if total_bins > limits.histogram_bins as u64 {
        return Err(format!(
            "histograms of {total_bins} bins in all were asked for; the limit is {}",
            limits.histogram_bins
        ));
    }
    msg.histograms
        .iter()
        .map(|c| {
            if c.fixed_num_bins
                && c.num_bins > 0
                && c.num_bins as u64 > limits.histogram_bins as u64
            {
                return Err(format!(
                    "a histogram of {} bins was asked for; the limit is {}",
                    c.num_bins, limits.histogram_bins
                ));
            }
            if c.channel < -2 {
                return Err(format!("histogram channel {} is not valid", c.channel));
            }
            Ok(HistogramConfig {
                coordinate: coordinate(&c.coordinate, &['z'])?.0,
                channel: c.channel,
                fixed_num_bins: c.fixed_num_bins,
                num_bins: c.num_bins,
                fixed_bounds: c.fixed_bounds,
                bounds: c.bounds.map(|b| (b.min, b.max)),
            })
        })
        .collect()
}

pub fn spectral_configs(
    msg: &pb::SetSpectralRequirements,
    limits: &Limits,
) -> Result<Vec<SpectralConfig>, String> {
    count_check(
        "spectral profile configurations",
        msg.spectral_profiles.len(),
        limits,
    )?;
    msg.spectral_profiles
        .iter()
        .map(|c| {
            Ok(SpectralConfig {
                coordinate: coordinate(&c.coordinate, &['z'])?.0,
                kinds: kinds(&c.stats_types)?,
            })
        })
        .collect()
}

/// Cursor profiles ("x", "y", or qualified by a Stokes parameter: "Qx", "Ptotaly").
pub fn spatial_configs(
    msg: &pb::SetSpatialRequirements,
    limits: &Limits,
) -> Result<Vec<SpatialConfig>, String> {
    count_check(
        "spatial profile configurations",
        msg.spatial_profiles.len(),
        limits,
    )?;
    msg.spatial_profiles
        .iter()
        .map(|c| {
            // A Stokes-qualified coordinate ("Ptotalx") is how the frontend names the Stokes shown; the file
            // answers it for that Stokes (profiles of a Stokes not shown come with issue 15).
            let (coordinate, axis) = coordinate(&c.coordinate, &['x', 'y'])?;
            let number = |name: &str, v: i32| {
                usize::try_from(v).map_err(|_| format!("spatial profile {name} {v} is negative"))
            };
            Ok(SpatialConfig {
                coordinate,
                axis: if axis == 'x' {
                    ProfileAxis::X
                } else {
                    ProfileAxis::Y
                },
                start: number("start", c.start)?,
                end: number("end", c.end)?,
                mip: number("mip", c.mip)?,
            })
        })
        .collect()
}

/// SET_SPATIAL_REQUIREMENTS of a line or polyline region: the coordinate is "" (the shown Stokes) or a bare
/// Stokes name ("I", "Plinear", …), echoed in the reply; `width` is the averaging width across the line.
pub fn line_configs(
    msg: &pb::SetSpatialRequirements,
    limits: &Limits,
) -> Result<Vec<LineConfig>, String> {
    count_check(
        "spatial profile configurations",
        msg.spatial_profiles.len(),
        limits,
    )?;
    msg.spatial_profiles
        .iter()
        .map(|c| {
            // The same Stokes names as a point's coordinate, without the axis letter.
            let (coordinate, _) = coordinate(&format!("{}x", c.coordinate), &['x'])?;
            let width = usize::try_from(c.width)
                .ok()
                .filter(|w| (1..=MAX_LINE_WIDTH).contains(w))
                .ok_or_else(|| {
                    format!(
                        "averaging width {} is outside 1..={MAX_LINE_WIDTH}",
                        c.width
                    )
                })?;
            Ok(LineConfig {
                coordinate: Coordinate {
                    text: c.coordinate.clone(),
                    stokes: coordinate.stokes,
                },
                width,
            })
        })
        .collect()
}

/// Largest vector overlay block size accepted (pixels per block side).
pub const MAX_VECTOR_SMOOTHING: u32 = 1024;

/// SET_VECTOR_OVERLAY_PARAMETERS: sources −1, 0 or 1; a block size up to the limit (0 means 1, no
/// averaging); finite threshold and errors (a NaN threshold is "none", as the frontend sends it disabled);
/// NONE or ZFP compression.
pub fn vector_settings(msg: &pb::SetVectorOverlayParameters) -> Result<VectorSettings, String> {
    for (what, s) in [
        ("intensity", msg.stokes_intensity),
        ("angle", msg.stokes_angle),
    ] {
        if !(-1..=1).contains(&s) {
            return Err(format!(
                "{what} source {s} is not one of -1 (none), 0 (current) or 1 (computed)"
            ));
        }
    }
    if msg.smoothing_factor > MAX_VECTOR_SMOOTHING {
        return Err(format!(
            "pixel averaging {} is outside 0..={MAX_VECTOR_SMOOTHING}",
            msg.smoothing_factor
        ));
    }
    let threshold = match msg.threshold {
        t if t.is_nan() => None,
        t if t.is_finite() => Some(t as f32),
        t => return Err(format!("threshold {t} is not a finite number")),
    };
    let (q_error, u_error) = if msg.debiasing {
        if !(msg.q_error.is_finite() && msg.u_error.is_finite()) {
            return Err("the debiasing errors are not finite numbers".into());
        }
        (msg.q_error as f32, msg.u_error as f32)
    } else {
        (0.0, 0.0)
    };
    let compression = match pb::CompressionType::try_from(msg.compression_type) {
        Ok(pb::CompressionType::None) => Compression::None,
        Ok(pb::CompressionType::Zfp) => Compression::Zfp,
        _ => {
            return Err(format!(
                "compression type {} is not NONE or ZFP",
                msg.compression_type
            ))
        }
    };
    Ok(VectorSettings {
        stokes_intensity: msg.stokes_intensity,
        stokes_angle: msg.stokes_angle,
        mip: msg.smoothing_factor.max(1) as usize,
        fractional: msg.fractional,
        threshold,
        threshold_option: msg.threshold_option,
        q_error,
        u_error,
        compression,
        quality: msg.compression_quality,
    })
}

/// Largest contour smoothing factor accepted (a kernel of 2·(f−1)+1 pixels, or f×f blocks).
pub const MAX_CONTOUR_SMOOTHING: i32 = 64;

/// SET_CONTOUR_PARAMETERS: levels (finite, at most the requirements limit), smoothing mode and factor; the
/// decimation and compression level are clamped to what the frontend decodes, as carta_backend does.
pub fn contour_settings(
    msg: &pb::SetContourParameters,
    limits: &Limits,
) -> Result<ContourSettings, String> {
    count_check("contour levels", msg.levels.len(), limits)?;
    if let Some(bad) = msg.levels.iter().find(|l| !l.is_finite()) {
        return Err(format!("contour level {bad} is not a finite number"));
    }
    let factor = msg.smoothing_factor;
    if !(0..=MAX_CONTOUR_SMOOTHING).contains(&factor) {
        return Err(format!(
            "contour smoothing factor {factor} is outside 0..={MAX_CONTOUR_SMOOTHING}"
        ));
    }
    let f = factor.max(1) as usize;
    let smoothing = match pb::SmoothingMode::try_from(msg.smoothing_mode) {
        Ok(pb::SmoothingMode::NoSmoothing) => Smoothing::None,
        Ok(pb::SmoothingMode::BlockAverage) => Smoothing::Block(f),
        Ok(pb::SmoothingMode::GaussianBlur) => Smoothing::Gaussian(f),
        Err(_) => {
            return Err(format!(
                "unknown contour smoothing mode {}",
                msg.smoothing_mode
            ))
        }
    };
    Ok(ContourSettings {
        levels: msg.levels.clone(),
        smoothing,
        decimation: msg.decimation_factor,
        compression_level: msg.compression_level,
        chunk_size: usize::try_from(msg.contour_chunk_size).unwrap_or(0),
        reference_file_id: msg.reference_file_id,
        reproject: None,
        bounds: msg
            .image_bounds
            .as_ref()
            .map(|b| [b.x_min, b.x_max, b.y_min, b.y_max]),
    })
}

/// A tile request streaming under `sync_id`: ZFP when asked for, else raw.
pub fn tile_batch(sync_id: i32, tiles: &pb::AddRequiredTiles) -> TileBatch {
    TileBatch {
        sync_id,
        animation_id: 0,
        tiles: tiles.tiles.clone(),
        compression: if tiles.compression_type() == pb::CompressionType::Zfp {
            Compression::Zfp
        } else {
            Compression::None
        },
        quality: tiles.compression_quality,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_name_their_stokes() {
        let (c, axis) = coordinate("Qz", &['z']).expect("valid");
        assert_eq!((c.stokes, axis), (StokesChoice::Stored(2), 'z'));
        let (c, _) = coordinate("Ptotalz", &['z']).expect("valid");
        assert_eq!(c.stokes, StokesChoice::Computed(ComputedStokes::Ptotal));
        assert_eq!(
            coordinate("z", &['z']).expect("valid").0.stokes,
            StokesChoice::Current
        );
        assert!(coordinate("Xz", &['z']).is_err());
        assert!(coordinate("", &['z']).is_err());
        assert!(coordinate("zé", &['z']).is_err());
        assert_eq!(coordinate("Iy", &['x', 'y']).expect("valid").1, 'y');
    }

    #[test]
    fn histogram_bins_past_the_limit_are_refused() {
        let limits = Limits::default();
        let msg = pb::SetHistogramRequirements {
            file_id: 0,
            region_id: -1,
            histograms: vec![pb::HistogramConfig {
                coordinate: "z".into(),
                channel: -1,
                fixed_num_bins: true,
                num_bins: 2_000_000_000,
                fixed_bounds: false,
                bounds: None,
            }],
        };
        let err = histogram_configs(&msg, &limits).expect_err("refused");
        assert!(err.contains("2000000000"), "{err}");
    }
}
