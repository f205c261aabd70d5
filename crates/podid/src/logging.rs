//! Log set-up: human-readable lines on stderr.

use std::sync::OnceLock;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::log_writer::BatchedStderr;

/// The log's writer, once logging is set up.
static WRITER: OnceLock<BatchedStderr> = OnceLock::new();

/// Writes the log lines not yet written; called before the process exits or prints an error
/// of its own, so lines keep their order.
pub fn flush() {
    if let Some(writer) = WRITER.get() {
        writer.flush();
    }
}

/// Parses `-v/--verbosity`: a number as the AWS agent takes it, or a level name.
pub fn parse_level(verbosity: &str) -> Result<LevelFilter, String> {
    Ok(match verbosity.trim().to_ascii_lowercase().as_str() {
        "0" | "info" => LevelFilter::INFO,
        "1" | "debug" => LevelFilter::DEBUG,
        "2" | "3" | "4" | "5" | "trace" => LevelFilter::TRACE,
        "error" => LevelFilter::ERROR,
        "warn" | "warning" => LevelFilter::WARN,
        other => {
            return Err(format!(
                "invalid --verbosity {other:?}: use 0, 1, 2 or error, warn, info, debug, trace"
            ));
        }
    })
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One readable line per event, coloured at a terminal.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Parses `--log-format`.
pub fn parse_format(format: &str) -> Result<Format, String> {
    match format.trim().to_ascii_lowercase().as_str() {
        "text" => Ok(Format::Text),
        "json" => Ok(Format::Json),
        other => Err(format!("invalid --log-format {other:?}: use text or json")),
    }
}

/// Installs the subscriber. The AWS SDK's own logs stay at warn unless tracing is asked for,
/// since its debug output describes every retry and connection.
pub fn init(level: LevelFilter, format: Format) {
    let writer = WRITER.get_or_init(BatchedStderr::start).clone();
    let sdk_level = if level == LevelFilter::TRACE {
        LevelFilter::DEBUG
    } else {
        LevelFilter::WARN
    };
    let filter = Targets::new()
        .with_default(level)
        .with_target("aws_config", sdk_level.min(level))
        .with_target("aws_smithy_runtime", sdk_level.min(level))
        .with_target("aws_runtime", sdk_level.min(level))
        .with_target("hyper", LevelFilter::WARN)
        .with_target("hyper_util", LevelFilter::WARN)
        // s3s logs every refused request as an error; the client gets the answer, and the
        // sandbox's own lines say what matters.
        .with_target("s3s", LevelFilter::OFF)
        .with_target("rustls", LevelFilter::WARN);
    // Colours only for a person at a terminal; log collectors get plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let text = (format == Format::Text).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(writer.clone())
            .with_target(false)
            .with_ansi(colour)
    });
    let json = (format == Format::Json).then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(writer)
            .with_target(false)
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .init();
}
