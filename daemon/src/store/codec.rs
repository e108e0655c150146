//! Keys and values. Keys: big-endian job id (8 bytes), then point index (4), then a sequence
//! number (4), so a prefix scan returns one job's or one point's entries in order. Values: a
//! version byte, a CRC-32 of the JSON (big-endian; version 2 on), then JSON (the result types
//! use untagged enums, which a compact binary format cannot carry). Version 1 values, written
//! before checksums, are still read.

use super::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Version byte of every value this build writes.
pub const VALUE_VERSION: u8 = 2;
/// Values written before checksums.
const UNCHECKED: u8 = 1;

pub fn key_job(job: u64) -> [u8; 8] {
    job.to_be_bytes()
}

pub fn key_point(job: u64, index: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&job.to_be_bytes());
    k[8..].copy_from_slice(&index.to_be_bytes());
    k
}

pub fn key_sub(job: u64, index: u32, seq: u32) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..12].copy_from_slice(&key_point(job, index));
    k[12..].copy_from_slice(&seq.to_be_bytes());
    k
}

pub fn encode<T: Serialize>(tree: &'static str, v: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![VALUE_VERSION, 0, 0, 0, 0];
    serde_json::to_writer(&mut out, v).map_err(|e| StoreError::Codec {
        tree,
        msg: e.to_string(),
    })?;
    let crc = crc32fast::hash(&out[5..]);
    out[1..5].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}

/// The JSON of a value, its checksum checked.
pub fn json<'a>(tree: &'static str, bytes: &'a [u8]) -> Result<&'a [u8], StoreError> {
    let bad = |msg: String| StoreError::Codec { tree, msg };
    match bytes.split_first() {
        Some((&VALUE_VERSION, rest)) if rest.len() >= 4 => {
            let (sum, json) = rest.split_at(4);
            let want = u32::from_be_bytes([sum[0], sum[1], sum[2], sum[3]]);
            match crc32fast::hash(json) == want {
                true => Ok(json),
                false => Err(StoreError::Damaged(format!(
                    "a value in {tree} fails its checksum"
                ))),
            }
        }
        Some((&UNCHECKED, json)) => Ok(json),
        Some((v, _)) => Err(bad(format!(
            "value version {v}, this llmsd reads up to {VALUE_VERSION}"
        ))),
        None => Err(bad("empty value".into())),
    }
}

pub fn decode<T: DeserializeOwned>(tree: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(json(tree, bytes)?).map_err(|e| StoreError::Codec {
        tree,
        msg: e.to_string(),
    })
}
