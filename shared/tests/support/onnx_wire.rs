//! Protobuf wire encoding for the tests that write ONNX models by hand.

pub fn varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A varint field.
pub fn vfield(f: u32, v: u64) -> Vec<u8> {
    let mut o = Vec::new();
    varint(u64::from(f) << 3, &mut o);
    varint(v, &mut o);
    o
}

/// A length-delimited field.
pub fn bfield(f: u32, b: &[u8]) -> Vec<u8> {
    let mut o = Vec::new();
    varint((u64::from(f) << 3) | 2, &mut o);
    varint(b.len() as u64, &mut o);
    o.extend_from_slice(b);
    o
}
