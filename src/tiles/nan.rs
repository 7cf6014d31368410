//! NaN handling for compressed tiles: the run lengths the frontend uses to restore NaNs (valid, NaN, valid, …,
//! starting with a possibly empty valid run), and NaN filling before ZFP so NaNs do not spoil their 4×4 block.

/// Run lengths of alternating finite/NaN values, starting with a finite run; they sum to `data.len()`.
pub fn run_lengths(data: &[f32]) -> Vec<i32> {
    let mut runs = Vec::new();
    let mut current_nan = false;
    let mut count: i32 = 0;
    for v in data {
        let is_nan = v.is_nan();
        if is_nan != current_nan {
            runs.push(count);
            count = 0;
            current_nan = is_nan;
        }
        count += 1;
    }
    runs.push(count);
    runs
}

/// Little-endian bytes of the run lengths, as `nan_encodings` carries them.
pub fn encode_runs(runs: &[i32]) -> Vec<u8> {
    runs.iter().flat_map(|r| r.to_le_bytes()).collect()
}

/// Replaces each NaN by the mean of the finite values of its 4×4 block (0 when the block has none), so ZFP's
/// block transform sees smooth data. The frontend puts the NaNs back from the run lengths.
pub fn fill_for_compression(data: &mut [f32], width: usize, height: usize) {
    for by in (0..height).step_by(4) {
        for bx in (0..width).step_by(4) {
            let (mut sum, mut n, mut has_nan) = (0.0f64, 0u32, false);
            for y in by..(by + 4).min(height) {
                for v in &data[y * width + bx..y * width + (bx + 4).min(width)] {
                    if v.is_finite() {
                        sum += f64::from(*v);
                        n += 1;
                    } else {
                        has_nan = true;
                    }
                }
            }
            if !has_nan {
                continue;
            }
            let fill = if n > 0 {
                (sum / f64::from(n)) as f32
            } else {
                0.0
            };
            for y in by..(by + 4).min(height) {
                for v in &mut data[y * width + bx..y * width + (bx + 4).min(width)] {
                    if !v.is_finite() {
                        *v = fill;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_start_with_valid_and_sum_to_length() {
        let n = f32::NAN;
        assert_eq!(run_lengths(&[1.0, 2.0, n, n, 3.0]), vec![2, 2, 1]);
        assert_eq!(run_lengths(&[n, 1.0]), vec![0, 1, 1]);
        assert_eq!(run_lengths(&[1.0, 2.0]), vec![2]);
        assert_eq!(run_lengths(&[n, n]), vec![0, 2]);
        assert_eq!(encode_runs(&[2, 1]), vec![2, 0, 0, 0, 1, 0, 0, 0]);
    }

    #[test]
    fn fill_uses_block_mean() {
        let n = f32::NAN;
        let mut d = vec![1.0, n, 3.0, 5.0, n, n];
        fill_for_compression(&mut d, 3, 2);
        assert_eq!(d, vec![1.0, 3.0, 3.0, 5.0, 3.0, 3.0]);
        let mut all_nan = vec![n; 4];
        fill_for_compression(&mut all_nan, 2, 2);
        assert_eq!(all_nan, vec![0.0; 4]);
    }
}
