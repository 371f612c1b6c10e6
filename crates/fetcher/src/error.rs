//! Why a fetch failed.

/// A failed fetch: `Failed to fetch '<uri>': <why>`.
#[derive(Debug, thiserror::Error)]
#[error("Failed to fetch '{uri}': {why}")]
pub struct FetchError {
    /// The URI as given.
    pub uri: String,
    /// Why.
    pub why: Why,
}

impl FetchError {
    /// The error for `uri`.
    pub fn new(uri: &str, why: Why) -> FetchError {
        FetchError {
            uri: uri.to_string(),
            why,
        }
    }
}

/// The reason of a [`FetchError`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Why {
    /// A scheme the fetcher does not speak.
    #[error("unsupported URI scheme '{0}' (supported: http, https, file and absolute paths)")]
    UnsupportedScheme(String),
    /// Not a URI or absolute path.
    #[error("invalid URI: {0}")]
    InvalidUri(String),
    /// The server answered with a non-2xx status.
    #[error("HTTP {0}")]
    HttpStatus(String),
    /// The HTTP exchange failed (connect, read).
    #[error("{0}")]
    Http(String),
    /// The download made no progress for too long.
    #[error("no data received for {0:?}")]
    Stalled(std::time::Duration),
    /// A local file that is not there.
    #[error("'{0}' not found")]
    NotFound(String),
    /// The URI names no file (`http://host/`), and no `output_file` was given.
    #[error("cannot tell a file name from the URI; set 'output_file'")]
    NoFileName,
    /// `output_file` is not a name inside the sandbox.
    #[error("invalid output_file '{0}': {1}")]
    BadOutputFile(String, &'static str),
    /// The archive could not be read.
    #[error("bad archive: {0}")]
    BadArchive(String),
    /// An archive entry (or a directory on the way) would escape the sandbox.
    #[error("archive entry '{0}' escapes the sandbox")]
    Escapes(String),
    /// A file-system operation failed.
    #[error("{0}")]
    Io(String),
}
