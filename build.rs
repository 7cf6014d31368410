//! Compiles the project's ICD-30 protobuf definitions (proto/) into Rust types with prost-build.
//! Needs `protoc` on PATH (Debian: protobuf-compiler).

use std::io::Result;

fn main() -> Result<()> {
    let mut files: Vec<_> = std::fs::read_dir("proto")?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "proto"))
        .collect();
    files.sort();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    println!("cargo:rerun-if-changed=proto");
    prost_build::Config::new().compile_protos(&files, &["proto"])?;
    Ok(())
}
