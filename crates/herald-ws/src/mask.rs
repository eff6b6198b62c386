//! Payload masking (RFC 6455 section 5.3), eight bytes at a time.

/// XORs `buf` in place with the 4-byte masking key, starting at key offset 0.
///
/// The bulk is processed as `u64` words (the key repeated twice), which the
/// compiler vectorises; the tail of fewer than 8 bytes starts at a key
/// offset of 0 again because 8 is a multiple of 4.
pub(crate) fn apply_mask(buf: &mut [u8], key: [u8; 4]) {
    let [a, b, c, d] = key;
    let wide = u64::from_ne_bytes([a, b, c, d, a, b, c, d]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let masked = u64::from_ne_bytes(word) ^ wide;
        chunk.copy_from_slice(&masked.to_ne_bytes());
    }
    for (byte, k) in chunks.into_remainder().iter_mut().zip(key.iter().cycle()) {
        *byte ^= k;
    }
}

#[cfg(test)]
mod tests {
    use super::apply_mask;

    fn naive(buf: &mut [u8], key: [u8; 4]) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
    }

    #[test]
    fn matches_bytewise_masking_for_all_lengths() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in 0..70 {
            let data: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(31)).collect();
            let mut fast = data.clone();
            let mut slow = data.clone();
            apply_mask(&mut fast, key);
            naive(&mut slow, key);
            assert_eq!(fast, slow, "len {len}");
            apply_mask(&mut fast, key);
            assert_eq!(fast, data);
        }
    }

    #[test]
    fn rfc_example_hello() {
        // RFC 6455 5.7: masked "Hello".
        let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(&payload, b"Hello");
    }
}
