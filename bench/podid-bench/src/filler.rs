//! Deterministic noise for fake signatures, keys and ids: random-looking so that they compress
//! and compare like real ones, yet the same on every run for the same seed.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A SplitMix64 generator; statistical quality is irrelevant here, only realistic bytes.
#[derive(Debug)]
pub struct Filler(u64);

impl Filler {
    /// A generator seeded from `label` (FNV-1a), so each pod gets its own bytes.
    pub fn seeded(label: &str) -> Self {
        let hash = label.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
        Self(hash)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(len);
        out
    }

    /// `len` characters of standard base64, the alphabet of AWS secrets and session tokens.
    pub fn base64(&mut self, len: usize) -> String {
        let mut text = STANDARD.encode(self.bytes(len * 3 / 4 + 3));
        text.truncate(len);
        text
    }

    /// `len` characters from `alphabet`.
    pub fn pick(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| char::from(alphabet[(self.next() % alphabet.len() as u64) as usize]))
            .collect()
    }

    /// A version-4-shaped UUID.
    pub fn uuid(&mut self) -> String {
        let hex = self.pick(b"0123456789abcdef", 32);
        format!(
            "{}-{}-4{}-a{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[13..16],
            &hex[17..20],
            &hex[20..32]
        )
    }
}
