//! The one wire setup both sides use: JSON in length-delimited frames of at most
//! [`MAX_FRAME_BYTES`](crate::MAX_FRAME_BYTES), on any byte stream (the Unix socket, TCP,
//! or an in-memory pipe in tests).

use crate::api::{LlmsdClient, MAX_FRAME_BYTES};
use serde::{Deserialize, Serialize};
use tarpc::serde_transport::Transport;
use tarpc::tokio_serde::formats::Json;
use tarpc::tokio_util::codec::LengthDelimitedCodec;
use tokio::io::{AsyncRead, AsyncWrite};

/// A transport of `Item`s in and `SinkItem`s out over `io`.
pub fn json<S, Item, SinkItem>(io: S) -> Transport<S, Item, SinkItem, Json<Item, SinkItem>>
where
    S: AsyncRead + AsyncWrite,
    Item: for<'de> Deserialize<'de>,
    SinkItem: Serialize,
{
    let framed = LengthDelimitedCodec::builder()
        .max_frame_length(MAX_FRAME_BYTES)
        .new_framed(io);
    tarpc::serde_transport::new(framed, Json::default())
}

/// A client of the daemon's API on `io` (spawns its dispatch task on the current runtime).
pub fn client<S>(io: S) -> LlmsdClient
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    LlmsdClient::new(tarpc::client::Config::default(), json(io)).spawn()
}
