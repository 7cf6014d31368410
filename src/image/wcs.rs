//! TEMPORARY STUB (replaced by the real WCS module).
pub trait Keywords {
    fn number(&self, key: &str) -> Option<f64>;
    fn text(&self, key: &str) -> Option<String>;
}
