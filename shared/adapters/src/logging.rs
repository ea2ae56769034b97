//! JSON logs, one object per line, as CloudWatch Logs Insights expects.
//!
//! The Lambda runtime opens a span per invocation carrying `requestId`; handlers open a
//! span carrying `correlation_id`. Both appear on every line through the span list. The
//! level comes from `RUST_LOG` (default `info`).
//!
//! Never log a phone number or an email unmasked: the domain's contact types print
//! masked, errors from AWS keep only codes (`crate::error::AwsFailure`), and, as a second
//! line of defence, every line is redacted on its way out (`domain::contact::redact`).

use std::io::{self, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(Redacting)
        .with_current_span(false)
        .with_span_list(true)
        .flatten_event(true)
        .with_target(false)
        // CloudWatch stamps every line itself.
        .without_time()
        .init();
}

/// Writes log lines to stdout with contact details masked. The formatter hands over each
/// line in one write, so a number is never split between two writes.
#[derive(Debug, Clone, Copy)]
pub struct Redacting;

impl<'a> MakeWriter<'a> for Redacting {
    type Writer = RedactingWriter<io::StdoutLock<'a>>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter(io::stdout().lock())
    }
}

#[derive(Debug)]
pub struct RedactingWriter<W>(pub W);

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) => self.0.write_all(domain::contact::redact(text).as_bytes())?,
            // Lines are JSON, so UTF-8; anything else passes through as it came.
            Err(_) => self.0.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_reaches_the_output_is_redacted() {
        let mut writer = RedactingWriter(Vec::new());
        let line = b"{\"error\":\"Invalid parameter: PhoneNumber Reason: +14155552671 is not valid\",\"to\":\"ada@example.com\"}\n";
        assert_eq!(writer.write(line).unwrap(), line.len(), "the caller's bytes count as written");
        let written = String::from_utf8(writer.0).unwrap();
        assert!(!written.contains("4155552671") && !written.contains("ada@"), "{written}");
        assert!(written.contains("+141******71") && written.contains("a***@example.com"), "{written}");
    }

    #[test]
    fn lines_written_through_tracing_are_redacted() {
        use std::sync::{Arc, Mutex};

        #[derive(Clone, Default)]
        struct Captured(Arc<Mutex<Vec<u8>>>);
        impl Write for Captured {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::fmt().json().with_writer(move || RedactingWriter(sink.clone())).finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(detail = "provider said: +447911123456 unreachable", "text not sent");
        });
        let written = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(written.contains("text not sent") && written.contains("+447*******56"), "{written}");
        assert!(!written.contains("7911123"), "{written}");
    }
}
