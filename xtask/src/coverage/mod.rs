//! Coverage grading: pure code that takes bytes and gives numbers. It knows nothing about
//! processes, colours or GitHub, so it can be tested, fuzzed and benchmarked on its own.

pub mod cobertura;
pub mod grade;
pub mod render;
pub mod summary;
