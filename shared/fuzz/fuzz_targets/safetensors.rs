#![no_main]
//! Any bytes and any claimed file size: the header parser never panics.
use libfuzzer_sys::fuzz_target;
use shared::import::safetensors::parse_header;

fuzz_target!(|data: &[u8]| {
    let _ = parse_header(data, data.len() as u64);
    if data.len() > 8 {
        let claimed = u64::from_le_bytes(data[..8].try_into().unwrap_or([0; 8]));
        let _ = parse_header(&data[8..], claimed);
    }
});
