//! Keys and values. Keys: big-endian job id (8 bytes), then point index (4), then a sequence
//! number (4), so a prefix scan returns one job's or one point's entries in order. Values: a
//! version byte, then JSON (the result types use untagged enums, which a compact binary
//! format cannot carry).

use super::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Version byte of every value this build writes.
const VALUE_VERSION: u8 = 1;

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
    let mut out = vec![VALUE_VERSION];
    serde_json::to_writer(&mut out, v).map_err(|e| StoreError::Codec {
        tree,
        msg: e.to_string(),
    })?;
    Ok(out)
}

pub fn decode<T: DeserializeOwned>(tree: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&VALUE_VERSION, json)) => {
            serde_json::from_slice(json).map_err(|e| StoreError::Codec {
                tree,
                msg: e.to_string(),
            })
        }
        Some((v, _)) => Err(StoreError::Codec {
            tree,
            msg: format!("value version {v}, this llmsd reads {VALUE_VERSION}"),
        }),
        None => Err(StoreError::Codec {
            tree,
            msg: "empty value".into(),
        }),
    }
}
