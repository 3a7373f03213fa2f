//! A minimal, zero-copy protobuf wire-format reader.
//!
//! ONNX files are protobuf `ModelProto`s. Instead of generated (or hand-written
//! prost) message structs, which would copy every initializer's `raw_data`, the
//! importer walks the wire format directly over the input slice: length-delimited
//! fields are borrowed sub-slices, so skipping a 100 MB weight costs nothing and
//! nothing is ever allocated from a length read out of the file.

/// A field's value as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub String);

/// Iterates over the `(field number, value)` pairs of one message.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(WireError("truncated varint".into()));
            };
            self.pos += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(WireError("varint longer than 10 bytes".into()))
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], WireError> {
        let left = (self.buf.len() - self.pos) as u64;
        if n > left {
            return Err(WireError(format!(
                "field claims {n} bytes but only {left} remain (truncated or corrupt file)"
            )));
        }
        let n = n as usize;
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// The next field, `None` at the end of the message.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Result<(u32, Value<'a>), WireError>> {
        if self.pos >= self.buf.len() {
            return None;
        }
        Some(self.field())
    }

    fn field(&mut self) -> Result<(u32, Value<'a>), WireError> {
        let key = self.varint()?;
        let field = (key >> 3) as u32;
        if field == 0 || key >> 3 > u64::from(u32::MAX >> 3) {
            return Err(WireError(format!("invalid field number in key {key}")));
        }
        let v = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                let b = self.take(8)?;
                Value::Fixed64(u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
            }
            2 => {
                let n = self.varint()?;
                Value::Bytes(self.take(n)?)
            }
            5 => {
                let b = self.take(4)?;
                Value::Fixed32(u32::from_le_bytes(b.try_into().unwrap_or([0; 4])))
            }
            w => return Err(WireError(format!("unsupported wire type {w}"))),
        };
        Ok((field, v))
    }
}

/// Calls `f` for each field of `buf`, stopping at the first wire error.
pub fn for_each<'a>(
    buf: &'a [u8],
    mut f: impl FnMut(u32, Value<'a>) -> Result<(), WireError>,
) -> Result<(), WireError> {
    let mut r = Reader::new(buf);
    while let Some(x) = r.next() {
        let (n, v) = x?;
        f(n, v)?;
    }
    Ok(())
}

impl<'a> Value<'a> {
    pub fn as_u64(self) -> Result<u64, WireError> {
        match self {
            Value::Varint(v) | Value::Fixed64(v) => Ok(v),
            Value::Fixed32(v) => Ok(u64::from(v)),
            Value::Bytes(_) => Err(WireError("expected a number, found bytes".into())),
        }
    }
    pub fn as_i64(self) -> Result<i64, WireError> {
        self.as_u64().map(|v| v as i64)
    }
    pub fn as_bytes(self) -> Result<&'a [u8], WireError> {
        match self {
            Value::Bytes(b) => Ok(b),
            _ => Err(WireError("expected bytes, found a number".into())),
        }
    }
    pub fn as_str(self) -> Result<&'a str, WireError> {
        std::str::from_utf8(self.as_bytes()?).map_err(|_| WireError("string is not UTF-8".into()))
    }
    pub fn as_f32(self) -> Result<f32, WireError> {
        match self {
            Value::Fixed32(v) => Ok(f32::from_bits(v)),
            _ => Err(WireError("expected a float".into())),
        }
    }
}

/// Appends a repeated int64 field, packed (bytes) or not, to `out`, refusing more
/// than `limit` elements in total.
pub fn push_i64s(v: Value<'_>, out: &mut Vec<i64>, limit: usize) -> Result<(), WireError> {
    match v {
        Value::Bytes(b) => {
            let mut r = Reader::new(b);
            while r.pos < b.len() {
                if out.len() >= limit {
                    return Err(WireError(format!("more than {limit} repeated values")));
                }
                out.push(r.varint()? as i64);
            }
            Ok(())
        }
        other => {
            if out.len() >= limit {
                return Err(WireError(format!("more than {limit} repeated values")));
            }
            out.push(other.as_i64()?);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_refuses_lies() {
        // field 1 varint 150, field 2 bytes "hi"
        let buf = [0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i'];
        let mut r = Reader::new(&buf);
        assert_eq!(r.next(), Some(Ok((1, Value::Varint(150)))));
        assert_eq!(r.next(), Some(Ok((2, Value::Bytes(b"hi")))));
        assert_eq!(r.next(), None);
        // a length prefix claiming 2^60 bytes
        let lie = [0x12, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10];
        assert!(Reader::new(&lie).next().is_some_and(|r| r.is_err()));
        assert!(Reader::new(&[0x08]).next().is_some_and(|r| r.is_err()));
    }
}
